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

#[test]
fn retrieve_with_renewal_is_one_round_trip() {
    let server = RedisServer::start();
    let c = cache(&server);
    let m = manager(c.clone(), ManagerConfig::default());
    let s = m.create_session("carol", true).unwrap();
    let other = m.create_session("carol", true).unwrap();
    // Warm up: the first use of a script on a server costs EVALSHA -> NOSCRIPT -> load.
    m.retrieve_session(other.id()).unwrap().unwrap();
    let mut con = server.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let got = m.retrieve_session(s.id()).unwrap().unwrap();
    assert!(
        got.expires() >= s.expires(),
        "renewed (or equal within a millisecond)"
    );
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    // Commands a script runs are listed too (hmget, pexpiretime, ...). What must not
    // appear is any second top-level call: another script, a plain read or a write-back.
    assert_eq!(info_calls(&mut con, "evalsha"), 1, "{info}");
    for extra in [
        "eval", "script", "hget", "get", "hset", "set", "multi", "exec",
    ] {
        assert_eq!(info_calls(&mut con, extra), 0, "unexpected {extra}: {info}");
    }
    let ttl: i64 = redis::cmd("PTTL")
        .arg(c.session_key(s.id()))
        .query(&mut con)
        .unwrap();
    assert!(ttl > 364 * 86_400_000, "expiry slid forward: {ttl}");
}

#[test]
fn renewal_respects_windows_and_never_shortens() {
    let server = RedisServer::start();
    let c = cache(&server);
    c.store("u1", "dave", now() + 100.0, b"r", StoreMode::Upsert)
        .unwrap();
    c.store("a1", "", now() + 100.0, b"r", StoreMode::Upsert)
        .unwrap();
    let r = Renewal {
        user: now() + 500.0,
        anonymous: now() + 50.0,
        system_now: None,
    };
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
    // The data died with the server (no persistence); the handle works again.
    assert!(m.retrieve_session(s.id()).unwrap().is_none());
    let again = m.create_session("frank", true).unwrap();
    assert!(m.retrieve_session(again.id()).unwrap().is_some());
}
