//! The Redis cache on a real Redis Cluster (3 masters + 3 replicas), started once per
//! run by `make test-cluster` through `scripts/with-redis-cluster.sh`, which exports
//! TOTO_REDIS_CLUSTER_URL, TOTO_REDIS_CLUSTER_PORTS and TOTO_REDIS_CLUSTER_DIR.
//!
//! The tests that need the cluster are `#[ignore]`d, so a plain `cargo test` (which has
//! no cluster) lists them as ignored instead of starting six servers; the make step
//! runs them with `--ignored`, and there a missing TOTO_REDIS_CLUSTER_URL is a failure,
//! never a skip. (A cargo feature would rebuild the crate for one test file.)
//!
//! The cluster is shared by the tests of a run: every cache gets a key prefix of its
//! own, the behaviour suite (`support/cache_suite.rs`, the same bodies as
//! `tests/redis.rs`) runs in parallel under a shared lock, and the tests that migrate a
//! slot, kill or stop a master take the lock alone and leave the cluster healthy (all
//! slots served, three masters each with a replica in sync) before releasing it.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use redis::ConnectionLike;
use support::cache_suite::{self as suite, manager, now, Backend};
use toto_session::backend::{
    RedisAccountStore, RedisAccountStoreOptions, RedisCache, RedisOptions, TotoCompat,
};
use toto_session::{AccountStore, Error, ManagerConfig, SessionCache, StoreMode, Value};

/// The cluster of this run, from the environment `scripts/with-redis-cluster.sh` sets.
struct Cluster {
    url: String,
    ports: Vec<u16>,
    dir: PathBuf,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the cluster `make test-cluster` starts \
             (scripts/with-redis-cluster.sh cargo test --test redis_cluster -- --ignored)"
        )
    })
}

fn cluster() -> Cluster {
    Cluster {
        url: env("TOTO_REDIS_CLUSTER_URL"),
        ports: env("TOTO_REDIS_CLUSTER_PORTS")
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect(),
        dir: env("TOTO_REDIS_CLUSTER_DIR").into(),
    }
}

/// A node as `CLUSTER NODES` lists it.
struct Node {
    id: String,
    port: u16,
    master: bool,
    ranges: Vec<(u16, u16)>,
}

/// Suite tests share the cluster; destructive tests hold it alone.
static LOCK: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    LOCK.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    LOCK.write().unwrap_or_else(|e| e.into_inner())
}

static PREFIXES: AtomicU32 = AtomicU32::new(0);

impl Backend for Cluster {
    fn cache_with(&self, options: RedisOptions) -> Arc<RedisCache> {
        let n = PREFIXES.fetch_add(1, Ordering::Relaxed);
        let options = RedisOptions {
            key_prefix: format!("t{}-{n}:", std::process::id()),
            ..options
        };
        let cache = RedisCache::new(&self.url, options).unwrap();
        assert!(cache.is_cluster());
        Arc::new(cache)
    }

    fn connection(&self) -> Box<dyn ConnectionLike> {
        Box::new(self.client().get_connection().unwrap())
    }
}

impl Cluster {
    fn client(&self) -> redis::cluster::ClusterClient {
        redis::cluster::ClusterClient::new(
            self.ports
                .iter()
                .map(|p| format!("redis://127.0.0.1:{p}/"))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    /// A plain connection to one node.
    fn node(&self, port: u16) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap()
    }

    fn slot(&self, key: &str) -> u16 {
        let mut con = self.node(self.live_port());
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut con)
            .unwrap()
    }

    /// A node that answers.
    fn live_port(&self) -> u16 {
        *self
            .ports
            .iter()
            .find(|p| {
                redis::Client::open(format!("redis://127.0.0.1:{p}/"))
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(300)))
                    .and_then(|mut c| {
                        c.set_read_timeout(Some(Duration::from_millis(300)))?;
                        redis::cmd("PING").query::<String>(&mut c)
                    })
                    .is_ok()
            })
            .expect("a live node")
    }

    /// The nodes as `CLUSTER NODES` lists them.
    fn nodes(&self) -> Vec<Node> {
        let mut con = self.node(self.live_port());
        let text: String = redis::cmd("CLUSTER").arg("NODES").query(&mut con).unwrap();
        text.lines()
            .map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                let port = f[1]
                    .split('@')
                    .next()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                let ranges = f[8..]
                    .iter()
                    .filter(|r| !r.starts_with('['))
                    .map(|r| match r.split_once('-') {
                        Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                        None => (r.parse().unwrap(), r.parse().unwrap()),
                    })
                    .collect();
                Node {
                    id: f[0].into(),
                    port,
                    master: f[2].contains("master"),
                    ranges,
                }
            })
            .collect()
    }

    /// The id and port of the master serving `slot`.
    fn master_of(&self, slot: u16) -> (String, u16) {
        self.nodes()
            .into_iter()
            .find(|n| n.master && n.ranges.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
            .map(|n| (n.id, n.port))
            .expect("a master for the slot")
    }

    fn pid(&self, port: u16) -> String {
        std::fs::read_to_string(self.dir.join(port.to_string()).join("redis.pid"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn signal(&self, port: u16, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.pid(port)])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} node {port}");
    }

    /// Kills a node as a crash would, and waits until it is gone.
    fn kill(&self, port: u16) {
        let pid = self.pid(port);
        self.signal(port, "KILL");
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a killed node again with its own config (it rejoins the cluster).
    fn restart(&self, port: u16) {
        let conf = self.dir.join(port.to_string()).join("redis.conf");
        let ok = Command::new("redis-server")
            .arg(conf)
            .status()
            .expect("redis-server must be installed (scripts/install-deps.sh redis)")
            .success();
        assert!(ok, "restart node {port}");
    }

    /// Makes sure the writes before it on `key`'s master reached a replica: a write of
    /// our own in the same slot (hash tag), then WAIT for one replica.
    fn wait_replicated(&self, key: &str) {
        let (_, port) = self.master_of(self.slot(key));
        let mut con = self.node(port);
        let marker = format!("{{{key}}}:replicated");
        let _: () = redis::cmd("SET")
            .arg(&marker)
            .arg(1)
            .query(&mut con)
            .unwrap();
        let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut con).unwrap();
        assert_eq!(acked, 1, "a replica acknowledged the writes");
    }

    /// Waits until every node is up, the cluster is ok everywhere, and there are three
    /// masters serving all slots, each with a replica whose link is up.
    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.health() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the cluster did not become healthy again: {last}");
    }

    fn health(&self) -> Result<(), String> {
        for &port in &self.ports {
            let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
                .map_err(|e| format!("{port}: {e}"))?;
            con.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut con)
                .map_err(|e| format!("{port}: {e}"))?;
            for want in [
                "cluster_state:ok",
                "cluster_slots_ok:16384",
                "cluster_known_nodes:6",
            ] {
                if !info.contains(want) {
                    return Err(format!("{port}: no {want}"));
                }
            }
            let nodes: String = redis::cmd("CLUSTER")
                .arg("NODES")
                .query(&mut con)
                .map_err(|e| format!("{port}: {e}"))?;
            if nodes.contains("fail") {
                return Err(format!("{port} sees a failed node"));
            }
            let repl: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut con)
                .map_err(|e| format!("{port}: {e}"))?;
            if repl.contains("role:slave") && !repl.contains("master_link_status:up") {
                return Err(format!("{port}: replica link down"));
            }
            if repl.contains("role:master") && !repl.contains("connected_slaves:1") {
                return Err(format!("{port}: master without its replica"));
            }
        }
        Ok(())
    }
}

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            #[ignore = "needs the Redis Cluster of `make test-cluster`"]
            fn $name() {
                let _shared = shared();
                suite::$name(&cluster());
            }
        )*
    };
}

crate::for_each_cache_suite_test!(suite_tests);

/// Issue 19: signals landing on the calling thread are not an outage on a cluster
/// either (the body is shared with tests/redis.rs). The crate's cluster client
/// reconnects on an I/O error by itself; this holds it, and the pool, to that.
#[test]
#[ignore = "needs the Redis Cluster of `make test-cluster`"]
fn signals_are_not_outages() {
    let _shared = shared();
    suite::calls_under_signals(&suite::cache(&cluster()));
}

/// Logout-everywhere fans out over slots: many users' sessions spread over every
/// master, each user's removal takes exactly its sessions (one user beyond a batch).
#[test]
#[ignore = "needs the Redis Cluster of `make test-cluster`"]
fn remove_user_across_slots() {
    use toto_session::backend::REMOVE_USER_BATCH;
    let _shared = shared();
    let cl = cluster();
    let c = suite::cache(&cl);
    let exp = now() + 600.0;
    let users: Vec<String> = (0..20).map(|u| format!("user{u}")).collect();
    for (u, user) in users.iter().enumerate() {
        for i in 0..5 {
            c.store(&format!("s{u}-{i}"), user, exp, b"r", StoreMode::Upsert)
                .unwrap();
        }
    }
    let many = REMOVE_USER_BATCH + 200;
    for i in 0..many {
        c.store(&format!("m{i}"), "many", exp, b"r", StoreMode::Upsert)
            .unwrap();
    }
    let masters: std::collections::HashSet<u16> = (0..5)
        .map(|i| cl.master_of(cl.slot(&c.session_key(&format!("s0-{i}")))).1)
        .chain((0..30).map(|i| cl.master_of(cl.slot(&c.session_key(&format!("m{i}")))).1))
        .collect();
    assert!(masters.len() > 1, "sessions land on more than one master");
    assert_eq!(c.remove_user("many").unwrap(), many as u64);
    assert!(c.load("m0").unwrap().is_none());
    assert!(c.load(&format!("m{}", many - 1)).unwrap().is_none());
    assert_eq!(c.remove_user("many").unwrap(), 0);
    for (u, user) in users.iter().enumerate() {
        assert_eq!(c.remove_user(user).unwrap(), 5, "{user}");
        assert!(c.load(&format!("s{u}-0")).unwrap().is_none());
        if let Some(next) = users.get(u + 1) {
            assert!(
                c.load(&format!("s{}-4", u + 1)).unwrap().is_some(),
                "{next} untouched"
            );
        }
    }
}

/// A cache given one seed node learns the slot map and serves keys of every slot.
#[test]
#[ignore = "needs the Redis Cluster of `make test-cluster`"]
fn one_seed_serves_every_slot() {
    let _shared = shared();
    let cl = cluster();
    let seed = Cluster {
        url: format!("redis+cluster://127.0.0.1:{}", cl.ports[1]),
        ports: cl.ports.clone(),
        dir: cl.dir.clone(),
    };
    let c = suite::cache(&seed);
    let mut masters = std::collections::HashSet::new();
    for i in 0..30 {
        let id = format!("one-seed-{i}");
        c.store(
            &id,
            "sam",
            now() + 60.0,
            id.as_bytes(),
            StoreMode::CreateNew,
        )
        .unwrap();
        masters.insert(cl.master_of(cl.slot(&c.session_key(&id))).1);
    }
    assert_eq!(masters.len(), 3, "keys of every master's slots");
    for i in 0..30 {
        let id = format!("one-seed-{i}");
        assert_eq!(c.load(&id).unwrap().as_deref(), Some(id.as_bytes()));
    }
    assert_eq!(c.remove_user("sam").unwrap(), 30);
}

/// A slot migrated while the cache is in use: ASK while the slot is half-moved (the
/// key already on the new node), MOVED once it is, and the same cache keeps working.
#[test]
#[ignore = "needs the Redis Cluster of `make test-cluster`"]
fn a_slot_migrated_while_in_use() {
    let _exclusive = exclusive();
    let cl = cluster();
    let c = suite::cache(&cl);
    let m = manager(c.clone(), ManagerConfig::default());
    let mut s = m.create_session("mia", true).unwrap();
    let key = c.session_key(s.id());
    let slot = cl.slot(&key);
    let (src_id, src) = cl.master_of(slot);
    let (dst_id, dst) = cl
        .nodes()
        .into_iter()
        .find(|n| n.master && !n.ranges.is_empty() && n.id != src_id)
        .map(|n| (n.id, n.port))
        .unwrap();
    let setslot = |port: u16, args: &[&str]| {
        let mut con = cl.node(port);
        let _: () = redis::cmd("CLUSTER")
            .arg("SETSLOT")
            .arg(slot)
            .arg(args)
            .query(&mut con)
            .unwrap();
    };
    setslot(dst, &["IMPORTING", &src_id]);
    setslot(src, &["MIGRATING", &dst_id]);
    // Still on the source: served as before.
    assert!(m.retrieve_session(s.id()).unwrap().is_some());
    // The key moves; the source now answers ASK for it.
    let mut con = cl.node(src);
    let moved: String = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(dst)
        .arg(&key)
        .arg(0)
        .arg(5000)
        .query(&mut con)
        .unwrap();
    assert_eq!(moved, "OK");
    let mut direct = cl.node(src);
    let ask = redis::cmd("HGET")
        .arg(&key)
        .arg("r")
        .query::<Option<Vec<u8>>>(&mut direct);
    assert!(
        ask.as_ref()
            .is_err_and(|e| e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::Ask)),
        "the source redirects with ASK: {ask:?}"
    );
    assert!(m.retrieve_session(s.id()).unwrap().is_some(), "through ASK");
    s.set("step", Value::from("asking")).unwrap();
    m.save_session(&mut s).unwrap();
    // The slot is the destination's everywhere: MOVED from the source.
    for node in cl.nodes() {
        if node.master {
            setslot(node.port, &["NODE", &dst_id]);
        }
    }
    let back = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(back.get("step"), Some(&Value::from("asking")));
    assert_eq!(cl.master_of(slot).1, dst);
    s.set("step", Value::from("moved")).unwrap();
    m.save_session(&mut s).unwrap();
    assert_eq!(m.clear_sessions("mia").unwrap(), 1);
    assert!(m.retrieve_session(s.id()).unwrap().is_none());
    cl.wait_healthy();
}

/// Classifies one call during an outage: it may succeed through the new master or be
/// unavailable, never anything else, and never hang beyond the timeouts.
fn during_outage<T: std::fmt::Debug>(
    what: &str,
    call: impl FnOnce() -> Result<T, Error>,
) -> Option<T> {
    let started = Instant::now();
    let result = call();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{what}: bounded by the timeouts, no hang ({:?})",
        started.elapsed()
    );
    match result {
        Ok(v) => Some(v),
        Err(Error::Unavailable(_)) => None,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// A master holding a session dies (kill -9): calls are unavailable (or succeed through
/// the new master) during the outage, then the same cache handle serves the session
/// from the promoted replica; the killed node restarts as a replica and the handle
/// keeps working.
#[test]
#[ignore = "needs the Redis Cluster of `make test-cluster`"]
fn failover_after_a_master_dies() {
    let _exclusive = exclusive();
    let cl = cluster();
    cl.wait_healthy();
    let c = suite::cache(&cl);
    let m = manager(c.clone(), ManagerConfig::default());
    let mut s = m.create_session("nora", true).unwrap();
    s.set("before", Value::from(1i64)).unwrap();
    m.save_session(&mut s).unwrap();
    let key = c.session_key(s.id());
    // Replication is asynchronous: only what reached the replica survives the kill.
    cl.wait_replicated(&key);
    let (_, port) = cl.master_of(cl.slot(&key));
    cl.kill(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let back = loop {
        assert!(Instant::now() < deadline, "the replica was never promoted");
        if let Some(found) = during_outage("retrieve", || m.retrieve_session(s.id())) {
            break found.expect("the replicated session survives the failover");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(back.get("before"), Some(&Value::from(1i64)));
    assert_ne!(cl.master_of(cl.slot(&key)).1, port, "a replica took over");
    let mut s = back;
    s.set("after", Value::from(2i64)).unwrap();
    m.save_session(&mut s).unwrap();
    cl.restart(port);
    cl.wait_healthy();
    let again = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(again.get("after"), Some(&Value::from(2i64)));
    // A node without the scripts (a fresh one after a failover, or a restart): EVALSHA
    // answers NOSCRIPT, the crate loads the script on every node and runs it again.
    for &p in &cl.ports {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query(&mut cl.node(p))
            .unwrap();
    }
    let mut again = m.retrieve_session(s.id()).unwrap().unwrap();
    again.set("flushed", Value::from(3i64)).unwrap();
    m.save_session(&mut again).unwrap();
    assert!(m.create_session("nora", true).is_ok());
    assert_eq!(m.clear_sessions("nora").unwrap(), 2);
    assert!(m.retrieve_session(again.id()).unwrap().is_none());
}

/// A master frozen (SIGSTOP: connections accepted, nothing answers): a call returns
/// Unavailable within the timeouts instead of hanging; after SIGCONT the same handle
/// serves the session again.
#[test]
#[ignore = "needs the Redis Cluster of `make test-cluster`"]
fn a_stopped_master_is_unavailable_not_a_hang() {
    let _exclusive = exclusive();
    let cl = cluster();
    cl.wait_healthy();
    let io_timeout = Duration::from_millis(300);
    let c = cl.cache_with(RedisOptions {
        connect_timeout: io_timeout,
        io_timeout,
        down_backoff: Duration::from_millis(300),
        ..RedisOptions::default()
    });
    let m = manager(c.clone(), ManagerConfig::default());
    let s = m.create_session("olga", true).unwrap();
    let key = c.session_key(s.id());
    cl.wait_replicated(&key);
    let (_, port) = cl.master_of(cl.slot(&key));
    cl.signal(port, "STOP");
    let started = Instant::now();
    let result = m.retrieve_session(s.id());
    let elapsed = started.elapsed();
    cl.signal(port, "CONT");
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    // A hang guard, not a timing claim: the crate reads a timed-out reply again up to
    // twice (its retries), so up to 3 x io_timeout, well under this bound.
    assert!(
        elapsed < io_timeout + Duration::from_secs(2),
        "returned within the timeouts: {elapsed:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the session never came back");
        if let Some(found) = during_outage("retrieve", || m.retrieve_session(s.id())) {
            assert!(found.is_some(), "the session survives");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cl.wait_healthy();
    assert!(m.retrieve_session(s.id()).unwrap().is_some());
}

/// The account store's operations are one key each: they run on the cluster as well.
#[test]
#[ignore = "needs the Redis Cluster of `make test-cluster`"]
fn account_store_on_the_cluster() {
    let _shared = shared();
    let cl = cluster();
    let store = RedisAccountStore::new(
        &cl.url,
        RedisAccountStoreOptions {
            key_prefix: format!("t{}-account:", std::process::id()),
            ..RedisAccountStoreOptions::default()
        },
    )
    .unwrap();
    for i in 0..10 {
        let user = format!("acc{i}");
        store
            .create(
                &user,
                &[
                    ("email", &Value::from("a@b")),
                    ("n", &Value::from(i as i64)),
                ],
            )
            .unwrap();
        assert_eq!(
            store.create(&user, &[]),
            Err(Error::UserIdExists),
            "never overwritten"
        );
        let loaded = store.load(&user, Some(&["n", "missing"])).unwrap().unwrap();
        assert_eq!(loaded, vec![("n".to_owned(), Value::from(i as i64))]);
        store.save(&user, &[("n", &Value::from(-1i64))]).unwrap();
        assert_eq!(
            store.load(&user, Some(&["n"])).unwrap().unwrap()[0].1,
            Value::from(-1i64)
        );
        store.remove(&user).unwrap();
        assert_eq!(store.load(&user, Some(&["n"])).unwrap(), None);
        assert_eq!(
            store.save(&user, &[("n", &Value::from(1i64))]),
            Err(Error::InvalidCredentials),
            "a save never brings a removed account back"
        );
    }
}

/// What cluster mode refuses, and malformed cluster URLs: no server needed.
#[test]
fn cluster_urls_and_refused_options() {
    let url = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001";
    assert!(RedisCache::new(url, RedisOptions::default())
        .unwrap()
        .is_cluster());
    assert!(RedisCache::new(
        "redis+cluster://:secret@127.0.0.1:7000",
        RedisOptions::default()
    )
    .unwrap()
    .is_cluster());
    for bad in [
        "redis+cluster://",
        "redis+cluster://127.0.0.1",
        "redis+cluster://127.0.0.1:7000,",
        "redis+cluster://127.0.0.1:7000/2",
        "redis+cluster://127.0.0.1:notaport",
    ] {
        assert!(
            matches!(
                RedisCache::new(bad, RedisOptions::default()),
                Err(Error::InvalidArgument(_))
            ),
            "{bad}"
        );
    }
    for toto in [
        TotoCompat {
            read: true,
            ..TotoCompat::default()
        },
        TotoCompat {
            write: true,
            ..TotoCompat::default()
        },
        TotoCompat {
            keep_toto_key: true,
            ..TotoCompat::default()
        },
    ] {
        let options = RedisOptions {
            toto,
            ..RedisOptions::default()
        };
        assert!(
            matches!(
                RedisCache::new(url, options),
                Err(Error::InvalidArgument(_))
            ),
            "Toto's layout needs multi-key scripts"
        );
    }
    assert!(RedisAccountStore::new(url, RedisAccountStoreOptions::default()).is_ok());
}
