//! The Redis cache against a real redis-server started by the test. The behaviour
//! suite shared with the Redis Cluster tests (`tests/redis_cluster.rs`) lives in
//! `support/cache_suite.rs`; what only a standalone server shows (round trips counted
//! by INFO, a server killed, hung or loading) is here.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::cache_suite::{self as suite, manager, now, Backend};
use support::redis_server::RedisServer;
use toto_session::backend::{RedisCache, RedisOptions};
use toto_session::password::PasswordPolicy;
use toto_session::{Error, Manager, ManagerConfig, MemoryAccountStore, SessionCache, StoreMode};

impl Backend for RedisServer {
    fn cache_with(&self, options: RedisOptions) -> Arc<RedisCache> {
        Arc::new(RedisCache::new(&self.url(), options).unwrap())
    }

    fn connection(&self) -> Box<dyn redis::ConnectionLike> {
        Box::new(RedisServer::connection(self))
    }
}

fn cache(server: &RedisServer) -> Arc<RedisCache> {
    suite::cache(server)
}

fn info_calls(con: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map(|n| n.parse().unwrap())
        .unwrap_or(0)
}

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                suite::$name(&RedisServer::start());
            }
        )*
    };
}

crate::for_each_cache_suite_test!(suite_tests);

#[test]
fn hashed_keys() {
    let server = RedisServer::start();
    let c = cache(&server);
    let plain = RedisCache::new(
        &server.url(),
        RedisOptions {
            hash_ids: false,
            ..RedisOptions::default()
        },
    )
    .unwrap();
    assert!(!c.is_cluster());
    assert_eq!(plain.session_key("abc"), "toto:s:abc");
    // Hashed: the hex SHA-256 of the id (FIPS 180-2 test vector for "abc").
    assert_eq!(
        c.session_key("abc"),
        "toto:s:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

fn reset_stats(con: &mut redis::Connection) {
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(con).unwrap();
}

/// Top-level calls of anything but `allowed` (commands a script runs are listed too,
/// so `allowed` names those of the script that may run).
fn other_calls(con: &mut redis::Connection, allowed: &[&str]) -> Vec<String> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| l.split(':').next())
        .filter(|c| !allowed.contains(c) && !c.starts_with("info") && !c.starts_with("config"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn retrieve_is_one_read_and_writes_only_past_the_granularity() {
    let server = RedisServer::start();
    let c = cache(&server);
    // The manager's clock starts at the wall clock (Redis expires keys by its own).
    let clock = Arc::new(toto_session::ManualClock::new(now()));
    let config = ManagerConfig {
        session_ttl: 1000.0,
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..ManagerConfig::default()
    };
    let m = Manager::with_clock(
        c.clone(),
        Arc::new(MemoryAccountStore::new()),
        config,
        clock.clone(),
    )
    .unwrap();
    let s = m.create_session("carol", true).unwrap();
    let warm = m.create_session("carol", true).unwrap();
    let mut con = server.connection();
    let pttl = |con: &mut redis::Connection| -> i64 {
        redis::cmd("PTTL")
            .arg(c.session_key(s.id()))
            .query(con)
            .unwrap()
    };

    // Within 1 % of the 1000 s window (10 s): one HGET of one field, nothing written.
    clock.advance(9.0);
    reset_stats(&mut con);
    let got = m.retrieve_session(s.id()).unwrap().unwrap();
    assert!(
        (got.expires() - s.expires()).abs() < 0.002,
        "kept within the slack"
    );
    assert_eq!(info_calls(&mut con, "hget"), 1);
    assert_eq!(other_calls(&mut con, &["hget"]), Vec::<String>::new());
    // Not moved: the key still expires at creation + 1000 s. PTTL counts from the
    // server's millisecond and the expiry is rounded to one, so a test run within the
    // same millisecond reads 1,000,000 (or 1 ms more); a renewal would add 9,000.
    let ttl = pttl(&mut con);
    assert!(ttl <= 1_000_001, "not moved: {ttl} ms left");

    // Past it: the read, then one RENEW script; the expiry reaches the target.
    clock.advance(2.0);
    // (The first script run on a server costs EVALSHA -> NOSCRIPT -> load: done here.)
    m.retrieve_session(warm.id()).unwrap().unwrap();
    reset_stats(&mut con);
    let got = m.retrieve_session(s.id()).unwrap().unwrap();
    assert!(
        (got.expires() - (s.expires() + 11.0)).abs() < 0.002,
        "renewed to {} for a target of {}",
        got.expires(),
        s.expires() + 11.0
    );
    assert_eq!(info_calls(&mut con, "evalsha"), 1);
    // The read (hget), the script and what it runs (hmget, pexpireat, hset, zadd).
    let script = ["evalsha", "pexpireat", "hset", "hget", "hmget", "zadd"];
    assert_eq!(other_calls(&mut con, &script), Vec::<String>::new());
    assert!(pttl(&mut con) > 1_005_000, "moved: {}", pttl(&mut con));
    let stored: Vec<u8> = redis::cmd("HGET")
        .arg(c.session_key(s.id()))
        .arg("r")
        .query(&mut con)
        .unwrap();
    let stamp = format!("\0u{:015}", (got.expires() * 1000.0).round() as i64);
    assert_eq!(&stored[..17], stamp.as_bytes(), "the stamp follows");

    // Right after: a read again.
    reset_stats(&mut con);
    m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(other_calls(&mut con, &["hget"]), Vec::<String>::new());
}

#[test]
fn redis_down_then_back_without_recreating_the_cache() {
    let mut server = RedisServer::start();
    let c = cache(&server);
    let m = manager(c.clone(), ManagerConfig::default());
    let s = m.create_session("frank", true).unwrap();
    server.kill();
    let started = Instant::now();
    let err = m.retrieve_session(s.id()).unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(matches!(
        m.create_session("frank", false),
        Err(Error::Unavailable(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the timeouts, no hang"
    );
    server.restart();
    // Calls fail fast for the back-off after the failure; then the handle works again.
    std::thread::sleep(c.options().down_backoff);
    // The data died with the server (no persistence).
    assert!(m.retrieve_session(s.id()).unwrap().is_none());
    let again = m.create_session("frank", true).unwrap();
    assert!(m.retrieve_session(again.id()).unwrap().is_some());
}

/// Issue 15: connections Redis closed while they sat in the pool (its `timeout`
/// setting, CLIENT KILL, a proxy, a restart) are replaced transparently: the next call
/// succeeds, with no error and no back-off, and every save reported successful is
/// there afterwards.
/// Closes every client connection of the server but `admin`'s own.
fn kill_clients(admin: &mut redis::Connection) {
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(admin)
        .unwrap();
}

#[test]
fn connections_closed_by_redis_are_replaced_without_an_error() {
    let server = RedisServer::start();
    let c = cache(&server);
    let m = manager(c.clone(), ManagerConfig::default());
    let mut s = m.create_session("gil", false).unwrap();
    let mut admin = server.connection();
    for n in 0..20i64 {
        // Every connection but the admin's dropped by the server.
        kill_clients(&mut admin);
        s.set("n", toto_session::Value::Integer(n.into())).unwrap();
        m.save_session(&mut s)
            .unwrap_or_else(|e| panic!("save {n} after the server closed the pool: {e:?}"));
        kill_clients(&mut admin);
        let back = m
            .retrieve_session(s.id())
            .unwrap_or_else(|e| panic!("retrieve {n}: {e:?}"))
            .unwrap();
        assert_eq!(back.get("n"), Some(&toto_session::Value::Integer(n.into())));
    }
    // A connection-level failure still starts the back-off when Redis is really gone.
    drop(server);
    assert!(matches!(
        m.retrieve_session(s.id()),
        Err(Error::Unavailable(_))
    ));
}

/// Issue 19: with Redis hung (SIGSTOP: connections are accepted, nothing answers), the
/// first call waits its I/O timeout, and the calls after it fail fast during the
/// back-off instead of each waiting again. After the back-off the cache tries again.
#[test]
fn a_hung_redis_fails_fast_during_the_back_off() {
    let server = RedisServer::start();
    let timeout = Duration::from_millis(800);
    let backoff = Duration::from_millis(1500);
    let options = |down_backoff| RedisOptions {
        connect_timeout: timeout,
        io_timeout: timeout,
        down_backoff,
        ..RedisOptions::default()
    };
    let c = RedisCache::new(&server.url(), options(backoff)).unwrap();
    let no_backoff = RedisCache::new(&server.url(), options(Duration::ZERO)).unwrap();
    // Both pools hold a live connection.
    c.store("s", "u", now() + 60.0, b"r", StoreMode::Upsert)
        .unwrap();
    assert!(no_backoff.load("s").unwrap().is_some());
    server.signal("STOP");
    let started = Instant::now();
    assert!(matches!(c.load("s"), Err(Error::Unavailable(_))));
    assert!(
        started.elapsed() >= timeout / 2,
        "the first call waits for Redis"
    );
    for _ in 0..3 {
        let started = Instant::now();
        assert!(matches!(c.load("s"), Err(Error::Unavailable(_))));
        assert!(matches!(c.remove_user("u"), Err(Error::Unavailable(_))));
        assert!(
            started.elapsed() < timeout / 4,
            "during the back-off calls fail at once: {:?}",
            started.elapsed()
        );
    }
    // Without a back-off, every call waits for its own timeout.
    let started = Instant::now();
    assert!(matches!(no_backoff.load("s"), Err(Error::Unavailable(_))));
    assert!(matches!(no_backoff.load("s"), Err(Error::Unavailable(_))));
    assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
    server.signal("CONT");
    std::thread::sleep(backoff);
    assert_eq!(c.load("s").unwrap().as_deref(), Some(&b"r"[..]));
    assert_eq!(no_backoff.load("s").unwrap().as_deref(), Some(&b"r"[..]));
}

/// Issue 19: remove_user works in batches (one short script each), not one script
/// over every session of the user.
#[test]
fn remove_user_runs_in_batches() {
    use toto_session::backend::REMOVE_USER_BATCH;
    let server = RedisServer::start();
    let c = cache(&server);
    let n = 2 * REMOVE_USER_BATCH + 500;
    let exp = now() + 600.0;
    for i in 0..n {
        c.store(&format!("m{i}"), "many", exp, b"r", StoreMode::Upsert)
            .unwrap();
    }
    c.store("other", "someone", exp, b"r", StoreMode::Upsert)
        .unwrap();
    // Loads the script, so the count below has no EVALSHA-then-EVAL fallback in it.
    assert_eq!(c.remove_user("nobody").unwrap(), 0);
    let mut con = server.connection();
    let before = info_calls(&mut con, "evalsha") + info_calls(&mut con, "eval");
    assert_eq!(c.remove_user("many").unwrap(), n as u64);
    let scripts = info_calls(&mut con, "evalsha") + info_calls(&mut con, "eval") - before;
    assert_eq!(scripts, 3, "one script per batch of {REMOVE_USER_BATCH}");
    assert!(c.load("m0").unwrap().is_none());
    assert!(c.load(&format!("m{}", n - 1)).unwrap().is_none());
    assert!(c.load("other").unwrap().is_some());
    assert_eq!(c.remove_user("many").unwrap(), 0);
}

/// A fake Redis that answers every command with `-LOADING`, as a restarted Redis does
/// while it reads its dataset. Returns its URL.
fn loading_redis() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    // One reply per complete RESP command (an array of bulk strings).
                    while let Some(used) = resp_command_len(&pending) {
                        pending.drain(..used);
                        let reply = b"-LOADING Redis is loading the dataset in memory\r\n";
                        if stream.write_all(reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

/// The length of the complete RESP command at the start of `buf`, if there is one.
fn resp_command_len(buf: &[u8]) -> Option<usize> {
    fn line(buf: &[u8], at: usize) -> Option<(i64, usize)> {
        let end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
        let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
        Some((n, end + 2))
    }
    let (count, mut at) = line(buf, 0)?;
    for _ in 0..count {
        let (len, start) = line(buf, at)?;
        at = start + len as usize + 2;
        if at > buf.len() {
            return None;
        }
    }
    Some(at)
}

/// Issue 19: Redis answering LOADING (restarted, reading its dataset) is "unavailable,
/// retry later", not a backend failure.
#[test]
fn a_loading_redis_is_unavailable() {
    let c = RedisCache::new(
        &loading_redis(),
        RedisOptions {
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(2),
            down_backoff: Duration::ZERO,
            ..RedisOptions::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    let err = c.load("s").unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable(m) if m.contains("LOADING") || m.contains("loading")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered, not timed out"
    );
    assert!(matches!(
        c.store("s", "u", now() + 60.0, b"r", StoreMode::Upsert),
        Err(Error::Unavailable(_))
    ));
}

/// Issue 19: a host whose signals land on the thread calling Redis (a pre-forking
/// master's SIGCHLD, a Ruby or Go runtime's own) is not an outage (the body is shared
/// with the cluster tests). Here the server also shows that the signals did interrupt
/// socket calls: the interrupted calls ran again on fresh connections.
#[test]
fn signals_are_not_outages() {
    let server = RedisServer::start();
    let mut admin = server.connection();
    let connections_before = connections_received(&mut admin);
    suite::calls_under_signals(&cache(&server));
    assert!(connections_received(&mut admin) > connections_before + 2);
}

fn connections_received(con: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap()
}
