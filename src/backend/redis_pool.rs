//! Connections to one Redis server or one Redis Cluster, shared by the Redis backends
//! (the session cache and the account store), so that every one of them gets the same
//! behaviour:
//!
//! - **two kinds, one URL**: `redis://[:password@]host:port[/db]` is a standalone
//!   Redis; `redis+cluster://[:password@]host:port[,host:port...]` is a Redis Cluster
//!   given by seed nodes (the password applies to every node). A pooled cluster
//!   connection is the `redis` crate's `ClusterConnection` (its `cluster` feature): it
//!   learns the slot map from a seed, routes each command by its key, follows `MOVED`
//!   and `ASK`, and retries `TRYAGAIN`/`CLUSTERDOWN` a bounded number of times
//!   ([`CLUSTER_RETRIES`], short waits). No routing is written here;
//! - **a small pool**: connections are opened on demand with a connect timeout, given
//!   read/write timeouts, returned after success and dropped after an I/O error, so a
//!   restarted Redis is picked up without recreating the backend; a pooled connection
//!   that Redis closed while idle (its `timeout` setting, CLIENT KILL, a proxy, a
//!   restart) is replaced and the operation runs on a fresh one, with no error and no
//!   back-off;
//! - **errors as codes**: Redis down, slow, or still loading its dataset (`LOADING`) is
//!   [`Error::Unavailable`] within the timeouts; anything else is [`Error::Backend`];
//! - **fail fast while Redis is down**: after a connection-level failure (connect
//!   refused or timed out, a reply timed out, the connection dropped) every call fails
//!   at once with [`Error::Unavailable`] for the back-off instead of each waiting the
//!   full timeouts; the first call after it tries Redis again;
//! - **fork safety**: each pooled connection remembers the process that opened it; a
//!   child after `fork()` drops the inherited ones (closing only its copy of the
//!   socket) and opens its own, so two processes never read each other's replies;
//! - **signals**: a socket call interrupted by a signal (EINTR: reads and writes with a
//!   timeout are not restarted, and a Go or Ruby host, or a child's SIGCHLD, delivers
//!   signals to any thread) is not an outage: the connection, whose state is then
//!   unknown, is dropped and the operation runs again on a fresh one
//!   ([`RedisPool::run`]), unless the caller says it must not run twice
//!   ([`RedisPool::run_once`]); an interrupted connect is tried again in both, and
//!   neither starts the back-off. A call keeps trying for at least
//!   [`INTERRUPTED_RETRIES`] interruptions and for as long as it is within one I/O
//!   timeout.
//!
//! In cluster mode the same holds per pooled cluster connection (which holds one
//! socket per node, all with the timeouts): a connection-level failure on any node
//! drops the whole cluster connection, so the next one reads the slot map afresh
//! (how a failover is picked up), and starts the back-off for the whole cache. A
//! timed-out reply is read again by the crate before it gives up, so a hung node costs
//! up to `(1 + CLUSTER_RETRIES) x io_timeout` per call, then the back-off applies.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use redis::{Cmd, Connection, ConnectionLike, ErrorKind, RedisError, ServerErrorKind, Value};

use crate::core::error::{Error, Result};

/// How many times an operation interrupted by a signal is at least run again by
/// [`RedisPool::run`] (more while the call is within its I/O timeout).
const INTERRUPTED_RETRIES: u32 = 3;

/// The URL scheme that selects Redis Cluster (seed nodes, comma separated).
pub(crate) const CLUSTER_SCHEME: &str = "redis+cluster://";

/// How many times the cluster client retries one command (a `MOVED` then an `ASK`
/// redirection take two; `TRYAGAIN`/`CLUSTERDOWN` are retried after 10-100 ms).
pub(crate) const CLUSTER_RETRIES: u32 = 2;

/// Timeouts and sizes of a [`RedisPool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PoolOptions {
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    pub pool_size: usize,
    /// Zero turns the fail-fast back-off off.
    pub down_backoff: Duration,
}

/// A connection to a standalone Redis or to a Redis Cluster. Commands, scripts and
/// (standalone only) pipelines run on it as on any `redis::ConnectionLike`; a cluster
/// pipeline needs [`RedisConnection::cluster`].
pub(crate) enum RedisConnection {
    Single(Connection),
    Cluster(Box<ClusterConnection>),
}

impl RedisConnection {
    /// The cluster connection, in cluster mode.
    pub(crate) fn cluster(&mut self) -> Option<&mut ClusterConnection> {
        match self {
            RedisConnection::Single(_) => None,
            RedisConnection::Cluster(c) => Some(c),
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<Value> {
        match self {
            RedisConnection::Single(c) => c.req_packed_command(cmd),
            RedisConnection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<Value>> {
        match self {
            RedisConnection::Single(c) => c.req_packed_commands(cmd, offset, count),
            RedisConnection::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn req_command(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        match self {
            RedisConnection::Single(c) => c.req_command(cmd),
            RedisConnection::Cluster(c) => c.req_command(cmd),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(c) => c.get_db(),
            RedisConnection::Cluster(c) => c.get_db(),
        }
    }

    fn supports_pipelining(&self) -> bool {
        match self {
            RedisConnection::Single(c) => c.supports_pipelining(),
            RedisConnection::Cluster(c) => c.supports_pipelining(),
        }
    }

    fn check_connection(&mut self) -> bool {
        match self {
            RedisConnection::Single(c) => c.check_connection(),
            RedisConnection::Cluster(c) => c.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            RedisConnection::Single(c) => c.is_open(),
            RedisConnection::Cluster(c) => c.is_open(),
        }
    }
}

/// Where connections go.
enum Target {
    Single(redis::Client),
    Cluster(ClusterClient),
}

/// A pooled connection and the process that opened it.
struct Pooled {
    pid: u32,
    con: RedisConnection,
}

/// Idle connections and the fail-fast state, under one lock.
#[derive(Default)]
struct Pool {
    idle: Vec<Pooled>,
    /// Until when calls fail fast after a connection-level failure.
    down_until: Option<Instant>,
}

/// Connections to one Redis server or cluster (see the module doc). Thread-safe.
pub(crate) struct RedisPool {
    target: Target,
    options: PoolOptions,
    pool: Mutex<Pool>,
}

/// True for a socket call interrupted by a signal (EINTR). The crate keeps the
/// `io::Error` private, so it is told by the OS error number in its text.
fn is_interrupted(e: &RedisError) -> bool {
    e.is_io_error()
        && e.to_string()
            .contains(&format!("(os error {})", libc::EINTR))
}

/// True for failures of the connection itself (as opposed to an error reply): the
/// connection is dropped and the back-off starts.
fn is_connection_failure(e: &RedisError) -> bool {
    e.is_io_error()
        || e.kind() == ErrorKind::ClusterConnectionNotFound
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
}

/// A Redis error as the library's error: unavailable (retry later) or failed.
pub(crate) fn classify(e: RedisError) -> Error {
    // LOADING: a restarted Redis is reading its dataset; CLUSTERDOWN, TRYAGAIN and
    // MASTERDOWN: a cluster in the middle of a failover or a resharding. Retrying later
    // succeeds.
    let transient = matches!(
        e.kind(),
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
        ) | ErrorKind::ClusterConnectionNotFound
    );
    if transient
        || e.is_io_error()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
    {
        Error::Unavailable(format!("redis: {e}"))
    } else {
        Error::Backend(format!("redis: {e}"))
    }
}

/// The cluster client for the part of a `redis+cluster://` URL after the scheme:
/// `[user:password@]host:port[,host:port...]`, each seed becoming
/// `redis://[user:password@]host:port`.
fn cluster_client(rest: &str, options: &PoolOptions) -> Result<ClusterClient> {
    const BAD: Error = Error::InvalidArgument(
        "not a valid redis+cluster://[:password@]host:port[,host:port...] URL",
    );
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((auth, hosts)) => (format!("{auth}@"), hosts),
        None => (String::new(), rest),
    };
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    let mut seeds = Vec::new();
    for host in hosts.split(',') {
        // host:port only: no database (a cluster has one), no path, no empty seed.
        if host.is_empty() || host.contains(['/', '?', '#', '@']) || !host.contains(':') {
            return Err(BAD);
        }
        let seed = format!("redis://{auth}{host}/");
        redis::Client::open(seed.as_str()).map_err(|_| BAD)?;
        seeds.push(seed);
    }
    ClusterClientBuilder::new(seeds)
        .connection_timeout(options.connect_timeout)
        .response_timeout(options.io_timeout)
        .retries(CLUSTER_RETRIES)
        .min_retry_wait(10)
        .max_retry_wait(100)
        .build()
        .map_err(|_| BAD)
}

impl RedisPool {
    /// A pool for `url` (`redis://[:password@]host:port[/db]`, or
    /// `redis+cluster://[:password@]host:port[,host:port...]` for a cluster). Nothing
    /// is connected until the first operation; a malformed URL or a zero timeout is
    /// refused here.
    pub(crate) fn new(url: &str, options: PoolOptions) -> Result<RedisPool> {
        if options.connect_timeout.is_zero() || options.io_timeout.is_zero() {
            return Err(Error::InvalidArgument(
                "redis timeouts must be greater than zero",
            ));
        }
        let target = match url.strip_prefix(CLUSTER_SCHEME) {
            Some(rest) => Target::Cluster(cluster_client(rest, &options)?),
            None => Target::Single(
                redis::Client::open(url)
                    .map_err(|_| Error::InvalidArgument("not a valid redis:// URL"))?,
            ),
        };
        Ok(RedisPool {
            target,
            options,
            pool: Mutex::new(Pool::default()),
        })
    }

    /// True for a Redis Cluster (`redis+cluster://`).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    fn connect(&self) -> redis::RedisResult<RedisConnection> {
        let io = Some(self.options.io_timeout);
        match &self.target {
            Target::Single(client) => {
                let con = client.get_connection_with_timeout(self.options.connect_timeout)?;
                con.set_read_timeout(io)?;
                con.set_write_timeout(io)?;
                Ok(RedisConnection::Single(con))
            }
            Target::Cluster(client) => {
                // Connects to a seed, reads the slot map, connects to the nodes (each
                // with the connect timeout, replies with the I/O timeout).
                let con = client.get_connection()?;
                // The crate leaves writes without a timeout: set it on every node's
                // socket, present and future.
                con.set_write_timeout(io)?;
                con.set_read_timeout(io)?;
                Ok(RedisConnection::Cluster(Box::new(con)))
            }
        }
    }

    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the fail-fast back-off.
    fn mark_down(&self) {
        if !self.options.down_backoff.is_zero() {
            self.pool().down_until = Some(Instant::now() + self.options.down_backoff);
        }
    }

    /// An idle connection opened by this process, if any; fails fast while backing
    /// off. Connections opened by another process (inherited through `fork()`) are
    /// dropped here, never used.
    fn checkout(&self, pid: u32) -> Result<Option<RedisConnection>> {
        let mut pool = self.pool();
        if let Some(until) = pool.down_until {
            if Instant::now() < until {
                return Err(Error::Unavailable(
                    "redis: unreachable at the last attempt; failing fast until the back-off ends"
                        .into(),
                ));
            }
            pool.down_until = None;
        }
        // Dropping an inherited connection closes this process's copy of the socket
        // only; the process that opened it keeps using its own.
        pool.idle.retain(|p| p.pid == pid);
        Ok(pool.idle.pop().map(|p| p.con))
    }

    fn checkin(&self, pid: u32, con: RedisConnection) {
        let mut pool = self.pool();
        if pool.idle.len() < self.options.pool_size {
            pool.idle.push(Pooled { pid, con });
        }
    }

    /// Runs `op` on a pooled connection of this process, and again on a fresh one if a
    /// signal interrupted it: `op` must be safe to run twice (idempotent, or able to
    /// recognise its own earlier run). The connection goes back to the pool unless the
    /// operation failed at the connection level, which also starts the back-off.
    pub(crate) fn run<T>(
        &self,
        op: impl Fn(&mut RedisConnection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.run_with(true, op)
    }

    /// [`RedisPool::run`] for an operation that must not run twice (its outcome after
    /// an interruption is unknown, and reported as [`Error::Unavailable`]; an
    /// interrupted connect, before the operation ran, is still tried again).
    pub(crate) fn run_once<T>(
        &self,
        op: impl Fn(&mut RedisConnection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.run_with(false, op)
    }

    fn run_with<T>(
        &self,
        may_repeat: bool,
        op: impl Fn(&mut RedisConnection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let pid = std::process::id();
        let started = Instant::now();
        let mut interruptions = 0;
        let mut replaced_stale = false;
        loop {
            let (mut con, pooled) = match self.checkout(pid)? {
                Some(con) => (con, true),
                None => match self.connect() {
                    Ok(con) => (con, false),
                    // A signal is not an outage: no back-off, connect again.
                    Err(e) if is_interrupted(&e) => {
                        if self.interrupted_again(started, &mut interruptions) {
                            continue;
                        }
                        return Err(classify(e));
                    }
                    Err(e) => {
                        let e = classify(e);
                        if matches!(e, Error::Unavailable(_)) {
                            self.mark_down();
                        }
                        return Err(e);
                    }
                },
            };
            match op(&mut con) {
                Ok(value) => {
                    self.checkin(pid, con);
                    return Ok(value);
                }
                Err(e) if is_interrupted(&e) => {
                    drop(con);
                    if !may_repeat || !self.interrupted_again(started, &mut interruptions) {
                        return Err(classify(e));
                    }
                }
                // A pooled connection that Redis closed while it sat idle (its
                // `timeout`, CLIENT KILL, a proxy, a restart): not a sign that Redis is
                // down. The other idle ones are likely closed too; drop them, and run
                // the operation once more on a fresh connection (when it may run
                // twice), without the back-off.
                Err(e) if pooled && !replaced_stale && is_closed_by_peer(&e) => {
                    drop(con);
                    self.pool().idle.clear();
                    replaced_stale = true;
                    if !may_repeat {
                        return Err(classify(e));
                    }
                }
                Err(e) => {
                    if is_connection_failure(&e) {
                        drop(con);
                        self.mark_down();
                    } else {
                        self.checkin(pid, con);
                    }
                    return Err(classify(e));
                }
            }
        }
    }

    /// Counts one more interruption of a call that started at `started`; true while it
    /// may try again: [`INTERRUPTED_RETRIES`] times, and beyond them for as long as the
    /// call has not taken one I/O timeout (so a storm of signals ends the call in about
    /// that time, as a hung server would, rather than never).
    fn interrupted_again(&self, started: Instant, interruptions: &mut u32) -> bool {
        *interruptions += 1;
        *interruptions <= INTERRUPTED_RETRIES || started.elapsed() < self.options.io_timeout
    }
}

/// True for a connection the other end closed (end of file, reset, broken pipe), as
/// opposed to one that timed out or was refused.
fn is_closed_by_peer(e: &RedisError) -> bool {
    e.is_connection_dropped() && !e.is_timeout() && !e.is_connection_refusal()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call interrupted again and again tries at least INTERRUPTED_RETRIES more
    /// times, then on while within one I/O timeout, and then gives up: a storm of
    /// signals ends the call in about that time instead of never.
    #[test]
    fn interruptions_are_retried_within_the_io_timeout_only() {
        let io_timeout = Duration::from_millis(100);
        let pool = RedisPool::new(
            "redis://127.0.0.1:1/",
            PoolOptions {
                connect_timeout: io_timeout,
                io_timeout,
                pool_size: 1,
                down_backoff: Duration::ZERO,
            },
        )
        .unwrap();
        // Long ago: only the minimum number of retries is left.
        let long_ago = Instant::now() - io_timeout * 2;
        let mut n = 0;
        for _ in 0..INTERRUPTED_RETRIES {
            assert!(pool.interrupted_again(long_ago, &mut n));
        }
        assert!(!pool.interrupted_again(long_ago, &mut n));
        // Just started: any number of retries while within the timeout.
        let started = Instant::now();
        let mut n = 0;
        for _ in 0..100 {
            assert!(pool.interrupted_again(started, &mut n));
        }
        while started.elapsed() < io_timeout {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!pool.interrupted_again(started, &mut n));
    }
}
