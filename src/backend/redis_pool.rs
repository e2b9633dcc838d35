//! Connections to one Redis server, shared by the Redis backends (the session cache
//! and the account store), so that every one of them gets the same behaviour:
//!
//! - **a small pool**: connections are opened on demand with a connect timeout, given
//!   read/write timeouts, returned after success and dropped after an I/O error, so a
//!   restarted Redis is picked up without recreating the backend;
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
//!   ([`RedisPool::run_once`]).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::{Connection, ErrorKind, RedisError, ServerErrorKind};

use crate::core::error::{Error, Result};

/// How many times an operation interrupted by a signal is run again by
/// [`RedisPool::run`].
const INTERRUPTED_RETRIES: u32 = 3;

/// Timeouts and sizes of a [`RedisPool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PoolOptions {
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    pub pool_size: usize,
    /// Zero turns the fail-fast back-off off.
    pub down_backoff: Duration,
}

/// A pooled connection and the process that opened it.
struct Pooled {
    pid: u32,
    con: Connection,
}

/// Idle connections and the fail-fast state, under one lock.
#[derive(Default)]
struct Pool {
    idle: Vec<Pooled>,
    /// Until when calls fail fast after a connection-level failure.
    down_until: Option<Instant>,
}

/// Connections to one Redis server (see the module doc). Thread-safe.
pub(crate) struct RedisPool {
    client: redis::Client,
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
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_unrecoverable_error()
}

/// A Redis error as the library's error: unavailable (retry later) or failed.
pub(crate) fn classify(e: RedisError) -> Error {
    // LOADING: a restarted Redis is reading its dataset; retrying later succeeds.
    let loading = e.kind() == ErrorKind::Server(ServerErrorKind::BusyLoading);
    if loading
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

impl RedisPool {
    /// A pool for `url` (`redis://[:password@]host:port[/db]`). Nothing is connected
    /// until the first operation; a malformed URL or a zero timeout is refused here.
    pub(crate) fn new(url: &str, options: PoolOptions) -> Result<RedisPool> {
        if options.connect_timeout.is_zero() || options.io_timeout.is_zero() {
            return Err(Error::InvalidArgument(
                "redis timeouts must be greater than zero",
            ));
        }
        let client = redis::Client::open(url)
            .map_err(|_| Error::InvalidArgument("not a valid redis:// URL"))?;
        Ok(RedisPool {
            client,
            options,
            pool: Mutex::new(Pool::default()),
        })
    }

    fn connect(&self) -> Result<Connection> {
        let con = self
            .client
            .get_connection_with_timeout(self.options.connect_timeout)
            .map_err(classify)?;
        con.set_read_timeout(Some(self.options.io_timeout))
            .map_err(classify)?;
        con.set_write_timeout(Some(self.options.io_timeout))
            .map_err(classify)?;
        Ok(con)
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
    fn checkout(&self, pid: u32) -> Result<Option<Connection>> {
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

    fn checkin(&self, pid: u32, con: Connection) {
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
        op: impl Fn(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.run_with(INTERRUPTED_RETRIES, op)
    }

    /// [`RedisPool::run`] for an operation that must not run twice (its outcome after
    /// an interruption is unknown, and reported as [`Error::Unavailable`]).
    pub(crate) fn run_once<T>(
        &self,
        op: impl Fn(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        self.run_with(0, op)
    }

    fn run_with<T>(
        &self,
        retries: u32,
        op: impl Fn(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let pid = std::process::id();
        let mut attempt = 0;
        loop {
            let mut con = match self.checkout(pid)? {
                Some(con) => con,
                None => match self.connect() {
                    Ok(con) => con,
                    Err(e) => {
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
                    attempt += 1;
                    if attempt > retries {
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
}
