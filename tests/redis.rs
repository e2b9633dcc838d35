//! The Redis cache against a real redis-server started by the test.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::redis_server::RedisServer;
use toto_session::backend::{RedisCache, RedisOptions, Renewal};
use toto_session::password::PasswordPolicy;
use toto_session::{
    Error, Manager, ManagerConfig, MemoryAccountStore, SessionCache, StoreMode, Value,
};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn cache(server: &RedisServer) -> Arc<RedisCache> {
    let options = RedisOptions {
        connect_timeout: Duration::from_millis(500),
        io_timeout: Duration::from_millis(500),
        down_backoff: Duration::from_millis(300),
        ..RedisOptions::default()
    };
    Arc::new(RedisCache::new(&server.url(), options).unwrap())
}

fn manager(cache: Arc<RedisCache>, config: ManagerConfig) -> Manager {
    let config = ManagerConfig {
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..config
    };
    Manager::new(cache, Arc::new(MemoryAccountStore::new()), config).unwrap()
}

fn info_calls(con: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map(|n| n.parse().unwrap())
        .unwrap_or(0)
}

#[test]
fn store_load_remove_and_hashed_keys() {
    let server = RedisServer::start();
    let c = cache(&server);
    assert_eq!(
        c.store("sid-1", "alice", now() + 60.0, b"rec", StoreMode::Upsert)
            .unwrap(),
        None
    );
    assert_eq!(c.load("sid-1").unwrap().as_deref(), Some(&b"rec"[..]));
    let mut con = server.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert!(
        keys.iter().all(|k| !k.contains("sid-1")),
        "raw ids never appear in keys: {keys:?}"
    );
    assert!(keys.contains(&c.session_key("sid-1")));
    let ttl: i64 = redis::cmd("TTL")
        .arg(c.session_key("sid-1"))
        .query(&mut con)
        .unwrap();
    assert!(
        (55..=60).contains(&ttl),
        "Redis expiry follows the session's: {ttl}"
    );
    assert_eq!(
        c.store("sid-1", "alice", now() + 60.0, b"x", StoreMode::CreateNew),
        Err(Error::IdCollision)
    );
    c.remove("sid-1").unwrap();
    assert_eq!(c.load("sid-1").unwrap(), None);
    c.remove("sid-1").unwrap();
    let plain = RedisCache::new(
        &server.url(),
        RedisOptions {
            hash_ids: false,
            ..RedisOptions::default()
        },
    )
    .unwrap();
    assert_eq!(plain.session_key("abc"), "toto:s:abc");
    // Hashed: the hex SHA-256 of the id (FIPS 180-2 test vector for "abc").
    assert_eq!(
        c.session_key("abc"),
        "toto:s:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn short_ttl_expires_and_user_index_does_not_grow() {
    let server = RedisServer::start();
    let c = cache(&server);
    c.store("short", "bob", now() + 0.3, b"r", StoreMode::Upsert)
        .unwrap();
    c.store("long", "bob", now() + 60.0, b"r", StoreMode::Upsert)
        .unwrap();
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(c.load("short").unwrap(), None);
    assert_eq!(c.load_renew("short", None).unwrap(), None);
    c.store("next", "bob", now() + 60.0, b"r", StoreMode::Upsert)
        .unwrap();
    let mut con = server.connection();
    let members: u64 = redis::cmd("ZCARD")
        .arg("toto:u:bob")
        .query(&mut con)
        .unwrap();
    assert_eq!(members, 2, "the expired member was pruned");
    let index_ttl: i64 = redis::cmd("TTL").arg("toto:u:bob").query(&mut con).unwrap();
    assert!(
        index_ttl > 0 && index_ttl <= 60,
        "the index expires with its sessions: {index_ttl}"
    );
}

#[test]
fn clear_all_sessions_of_a_user() {
    let server = RedisServer::start();
    let c = cache(&server);
    for i in 0..5 {
        c.store(
            &format!("a{i}"),
            "alice",
            now() + 60.0,
            b"r",
            StoreMode::Upsert,
        )
        .unwrap();
    }
    c.store("b0", "bob", now() + 60.0, b"r", StoreMode::Upsert)
        .unwrap();
    c.store("a0", "bob", now() + 60.0, b"r", StoreMode::Upsert)
        .unwrap(); // a0 changes owner
    assert_eq!(c.remove_user("alice").unwrap(), 4);
    assert_eq!(c.remove_user("alice").unwrap(), 0);
    assert!(c.load("a0").unwrap().is_some());
    assert_eq!(c.remove_user("bob").unwrap(), 2);
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

    // Within 1 % of the 1000 s window (10 s): one HMGET, nothing written.
    clock.advance(9.0);
    reset_stats(&mut con);
    let got = m.retrieve_session(s.id()).unwrap().unwrap();
    assert!(
        (got.expires() - s.expires()).abs() < 0.002,
        "kept within the slack"
    );
    assert_eq!(info_calls(&mut con, "hmget"), 1);
    assert_eq!(other_calls(&mut con, &["hmget"]), Vec::<String>::new());
    assert!(pttl(&mut con) < 1_000_000, "not moved");

    // Past it: the read, then one RENEW script; the expiry reaches the target.
    clock.advance(2.0);
    // (The first script run on a server costs EVALSHA -> NOSCRIPT -> load: done here.)
    m.retrieve_session(warm.id()).unwrap().unwrap();
    reset_stats(&mut con);
    let got = m.retrieve_session(s.id()).unwrap().unwrap();
    assert!((got.expires() - (s.expires() + 11.0)).abs() < 0.002);
    assert_eq!(info_calls(&mut con, "hmget"), 1);
    assert_eq!(info_calls(&mut con, "evalsha"), 1);
    let script = ["hmget", "evalsha", "pexpireat", "hset", "hget", "zadd"];
    assert_eq!(other_calls(&mut con, &script), Vec::<String>::new());
    assert!(pttl(&mut con) > 1_005_000, "moved: {}", pttl(&mut con));
    let field: i64 = redis::cmd("HGET")
        .arg(c.session_key(s.id()))
        .arg("e")
        .query(&mut con)
        .unwrap();
    assert!(
        (field as f64 / 1000.0 - got.expires()).abs() < 0.002,
        "the mirrored expiry follows"
    );

    // Right after: a read again.
    reset_stats(&mut con);
    m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(other_calls(&mut con, &["hmget"]), Vec::<String>::new());
}

#[test]
fn an_entry_without_the_expiry_field_is_read_and_completed() {
    let server = RedisServer::start();
    let c = cache(&server);
    c.store("old", "erin", now() + 100.0, b"r", StoreMode::Upsert)
        .unwrap();
    let mut con = server.connection();
    let key = c.session_key("old");
    let _: i64 = redis::cmd("HDEL")
        .arg(&key)
        .arg("e")
        .query(&mut con)
        .unwrap();
    let got = c.load_renew("old", None).unwrap().unwrap();
    assert!((got.expires.unwrap() - (now() + 100.0)).abs() < 1.0);
    let field: i64 = redis::cmd("HGET")
        .arg(&key)
        .arg("e")
        .query(&mut con)
        .unwrap();
    assert!((field as f64 / 1000.0 - got.expires.unwrap()).abs() < 0.002);
    // A removed key is never revived by a renewal.
    c.remove("old").unwrap();
    assert_eq!(
        c.load_renew("old", Some(Renewal::new(now() + 500.0, now() + 500.0)))
            .unwrap(),
        None
    );
}

#[test]
fn renewal_respects_windows_and_never_shortens() {
    let server = RedisServer::start();
    let c = cache(&server);
    c.store("u1", "dave", now() + 100.0, b"r", StoreMode::Upsert)
        .unwrap();
    c.store("a1", "", now() + 100.0, b"r", StoreMode::Upsert)
        .unwrap();
    let r = Renewal::new(now() + 500.0, now() + 50.0);
    let user = c.load_renew("u1", Some(r)).unwrap().unwrap();
    assert!((user.expires.unwrap() - r.user).abs() < 0.01);
    let anon = c.load_renew("a1", Some(r)).unwrap().unwrap();
    assert!(
        (anon.expires.unwrap() - (now() + 100.0)).abs() < 1.0,
        "not shortened"
    );
    let mut con = server.connection();
    let score: f64 = redis::cmd("ZSCORE")
        .arg("toto:u:dave")
        .arg(c.session_key("u1"))
        .query(&mut con)
        .unwrap();
    assert!(
        (score / 1000.0 - r.user).abs() < 0.01,
        "the index follows the renewal"
    );
    let index_expiry_ms: i64 = redis::cmd("PEXPIRETIME")
        .arg("toto:u:dave")
        .query(&mut con)
        .unwrap();
    assert!(
        (index_expiry_ms as f64 / 1000.0 - r.user).abs() < 0.01,
        "the index lives as long as its longest session: {index_expiry_ms}"
    );
}

#[test]
fn rotation_and_logout_through_the_manager() {
    let server = RedisServer::start();
    let m = manager(cache(&server), ManagerConfig::default());
    let mut s = m.create_session("erin", true).unwrap();
    s.set("cart", Value::Array(vec![Value::from("book")]))
        .unwrap();
    m.save_session(&mut s).unwrap();
    let old = s.id().to_owned();
    m.rotate_session(&mut s).unwrap();
    assert!(m.retrieve_session(&old).unwrap().is_none());
    let moved = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(moved.get("cart"), s.get("cart"));
    assert_eq!(
        m.clear_sessions("erin").unwrap(),
        1,
        "the rotated session is indexed under its new id"
    );
    assert!(m.retrieve_session(s.id()).unwrap().is_none());
}

#[test]
fn garbage_under_a_key_is_a_result_code() {
    let server = RedisServer::start();
    let c = cache(&server);
    let m = manager(c.clone(), ManagerConfig::default());
    let mut con = server.connection();
    let _: () = redis::cmd("HSET")
        .arg(c.session_key("junk"))
        .arg("r")
        .arg(&b"\xff\xfe garbage"[..])
        .arg("u")
        .arg("")
        .query(&mut con)
        .unwrap();
    assert!(matches!(m.retrieve_session("junk"), Err(Error::Decode(_))));
    let _: () = redis::cmd("SET")
        .arg(c.session_key("str"))
        .arg("not a hash")
        .query(&mut con)
        .unwrap();
    assert!(matches!(m.retrieve_session("str"), Err(Error::Backend(_))));
    // Storing over a key of the wrong type replaces it.
    c.store("str", "", now() + 60.0, b"ok", StoreMode::Upsert)
        .unwrap();
    assert_eq!(c.load("str").unwrap().as_deref(), Some(&b"ok"[..]));
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

/// Issue 19: a record stored under one id but carrying another session's id (a reply
/// meant for another request, a record copied to the wrong key) is never handed out.
#[test]
fn a_record_carrying_another_id_is_refused() {
    let server = RedisServer::start();
    let c = cache(&server);
    let m = manager(c.clone(), ManagerConfig::default());
    let alice = m.create_session("alice", true).unwrap();
    let record = alice.export().unwrap();
    c.store(
        "someone-else",
        "bob",
        now() + 60.0,
        &record,
        StoreMode::Upsert,
    )
    .unwrap();
    assert!(matches!(
        m.retrieve_session("someone-else"),
        Err(Error::BackendMisbehaved(_))
    ));
    assert!(m.retrieve_session(alice.id()).unwrap().is_some());
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

/// Two saves from the same loaded revision that write identical bytes (two requests
/// incrementing one counter) are still a conflict for the second: a repeated script
/// run is told apart by its own call token, never by equal records.
#[test]
fn equal_records_from_one_revision_still_conflict() {
    let server = RedisServer::start();
    let c = cache(&server);
    let m = manager(c.clone(), ManagerConfig::default());
    let created = m.create_session("hana", false).unwrap();
    let mut s = m.retrieve_session(created.id()).unwrap().unwrap();
    let loaded = s.revision();
    s.set("n", Value::from(1i64)).unwrap();
    assert_eq!(m.save_session(&mut s), Ok(true));
    assert_eq!(s.revision(), loaded + 1);
    // The same bytes again from the same loaded revision, as a second request that
    // computed the same state would send them: a conflict, not a silent success.
    assert_eq!(
        c.store_session(&s, StoreMode::IfRevision(loaded)),
        Err(Error::Conflict)
    );
    let back = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(back.get("n"), Some(&Value::from(1i64)));
}

/// The cap on sessions per user: creating one more removes the user's sessions that
/// expire soonest, on the memory cache and on Redis; other users are untouched.
#[test]
fn sessions_per_user_are_capped() {
    let server = RedisServer::start();
    let caches: Vec<(&str, Arc<dyn SessionCache>)> = vec![
        ("memory", Arc::new(toto_session::MemoryCache::new())),
        ("redis", cache(&server)),
    ];
    for (name, c) in caches {
        let config = ManagerConfig {
            max_sessions_per_user: 3,
            passwords: PasswordPolicy {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            ..ManagerConfig::default()
        };
        let m = Manager::new(c, Arc::new(MemoryAccountStore::new()), config).unwrap();
        m.create_account("ivy", "pw", &[]).unwrap();
        let other = m.login("ivy", "pw").unwrap().id().to_owned();
        m.create_account("jo", "pw", &[]).unwrap();
        let jo = m.login("jo", "pw").unwrap().id().to_owned();
        let mut ids = vec![other];
        for _ in 0..4 {
            // Redis scores expiry in milliseconds: keep the logins apart.
            std::thread::sleep(Duration::from_millis(3));
            ids.push(m.login("ivy", "pw").unwrap().id().to_owned());
        }
        for (i, id) in ids.iter().enumerate() {
            let live = m.retrieve_session(id).unwrap().is_some();
            assert_eq!(live, i >= 2, "{name}: session {i} of 5 (the newest 3 stay)");
        }
        assert!(
            m.retrieve_session(&jo).unwrap().is_some(),
            "{name}: another user's"
        );
    }
}
