//! The Redis cache's behaviour suite, run against a standalone redis-server
//! (`tests/redis.rs`) and against a Redis Cluster (`tests/redis_cluster.rs`). Each
//! function is one test body; the backend gives caches (with a key prefix of their own
//! on a shared cluster) and a direct connection for inspecting or planting data.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::ConnectionLike;
use toto_session::backend::{RedisCache, RedisOptions, Renewal};
use toto_session::password::PasswordPolicy;
use toto_session::{
    Error, Manager, ManagerConfig, MemoryAccountStore, Session, SessionCache, StoreMode, Value,
};

use crate::support::signals::{self, Signaller};

/// Calls `$m!` with the name of every test of the suite, so each topology
/// (tests/redis.rs, tests/redis_cluster.rs) runs all of it from this one list: a test
/// added here runs on both.
#[macro_export]
macro_rules! for_each_cache_suite_test {
    ($m:ident) => {
        $m!(
            store_load_remove,
            revoked_and_conflicts,
            short_ttl_expires_and_user_index_does_not_grow,
            clear_all_sessions_of_a_user,
            renewal_respects_windows_and_never_shortens,
            an_entry_written_before_the_stamp_is_read_and_stamped,
            rotation_and_logout_through_the_manager,
            garbage_under_a_key_is_a_result_code,
            a_record_carrying_another_id_is_refused,
            equal_records_from_one_revision_still_conflict,
            a_store_run_again_after_later_writes_is_not_a_conflict,
            sessions_per_user_are_capped,
        );
    };
}

/// Where the suite runs.
pub trait Backend {
    /// A cache with `options` (a cluster backend gives each cache a fresh key prefix,
    /// so tests sharing one cluster never see each other's keys).
    fn cache_with(&self, options: RedisOptions) -> Arc<RedisCache>;
    /// A direct connection (a cluster connection on a cluster).
    fn connection(&self) -> Box<dyn ConnectionLike>;
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The suite's options: short timeouts and back-off.
pub fn test_options() -> RedisOptions {
    RedisOptions {
        connect_timeout: Duration::from_millis(500),
        io_timeout: Duration::from_millis(500),
        down_backoff: Duration::from_millis(300),
        ..RedisOptions::default()
    }
}

pub fn cache(b: &dyn Backend) -> Arc<RedisCache> {
    b.cache_with(test_options())
}

pub fn manager(cache: Arc<RedisCache>, config: ManagerConfig) -> Manager {
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

/// The key of `user`'s index in `c`.
pub fn index_key(c: &RedisCache, user: &str) -> String {
    format!("{}u:{user}", c.options().key_prefix)
}

fn query<T: redis::FromRedisValue>(con: &mut Box<dyn ConnectionLike>, cmd: &redis::Cmd) -> T {
    cmd.query(con.as_mut()).unwrap()
}

pub fn store_load_remove(b: &dyn Backend) {
    let c = cache(b);
    assert_eq!(
        c.store("sid-1", "alice", now() + 60.0, b"rec", StoreMode::Upsert)
            .unwrap(),
        None
    );
    assert_eq!(c.load("sid-1").unwrap().as_deref(), Some(&b"rec"[..]));
    let mut con = b.connection();
    let prefix = &c.options().key_prefix;
    let keys: Vec<String> = query(&mut con, redis::cmd("KEYS").arg(format!("{prefix}*")));
    assert!(
        keys.iter().all(|k| !k.contains("sid-1")),
        "raw ids never appear in keys: {keys:?}"
    );
    assert!(keys.contains(&c.session_key("sid-1")), "{keys:?}");
    let ttl: i64 = query(&mut con, redis::cmd("TTL").arg(c.session_key("sid-1")));
    assert!(
        (55..=60).contains(&ttl),
        "Redis expiry follows the session's: {ttl}"
    );
    assert_eq!(
        c.store("sid-1", "alice", now() + 60.0, b"x", StoreMode::CreateNew),
        Err(Error::IdCollision)
    );
    assert_eq!(c.load("sid-1").unwrap().as_deref(), Some(&b"rec"[..]));
    c.remove("sid-1").unwrap();
    assert_eq!(c.load("sid-1").unwrap(), None);
    c.remove("sid-1").unwrap();
    let members: u64 = query(&mut con, redis::cmd("ZCARD").arg(index_key(&c, "alice")));
    assert_eq!(members, 0, "a removed session leaves its user's index");
}

pub fn revoked_and_conflicts(b: &dyn Backend) {
    let c = cache(b);
    assert_eq!(
        c.store("gone", "kim", now() + 60.0, b"r", StoreMode::IfExists),
        Err(Error::Revoked),
        "an absent session is not brought back"
    );
    assert_eq!(c.load("gone").unwrap(), None);
    let m = manager(c.clone(), ManagerConfig::default());
    let mut s = m.create_session("kim", false).unwrap();
    let mut other = m.retrieve_session(s.id()).unwrap().unwrap();
    s.set("a", Value::from(1i64)).unwrap();
    assert_eq!(m.save_session(&mut s), Ok(true));
    other.set("a", Value::from(2i64)).unwrap();
    assert_eq!(
        c.store_session(&other, StoreMode::IfRevision(other.revision())),
        Err(Error::Conflict),
        "a save from an older revision"
    );
    m.remove_session(s.id()).unwrap();
    assert_eq!(
        c.store_session(&s, StoreMode::IfRevision(s.revision())),
        Err(Error::Revoked),
        "a removed session stays removed"
    );
    assert!(m.retrieve_session(s.id()).unwrap().is_none());
}

pub fn short_ttl_expires_and_user_index_does_not_grow(b: &dyn Backend) {
    let c = cache(b);
    c.store("short", "bob", now() + 0.3, b"r", StoreMode::Upsert)
        .unwrap();
    c.store("long", "bob", now() + 60.0, b"r", StoreMode::Upsert)
        .unwrap();
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(c.load("short").unwrap(), None);
    assert_eq!(c.load_renew("short", None).unwrap(), None);
    c.store("next", "bob", now() + 60.0, b"r", StoreMode::Upsert)
        .unwrap();
    let mut con = b.connection();
    let members: u64 = query(&mut con, redis::cmd("ZCARD").arg(index_key(&c, "bob")));
    assert_eq!(members, 2, "the expired member was pruned");
    let index_ttl: i64 = query(&mut con, redis::cmd("TTL").arg(index_key(&c, "bob")));
    assert!(
        index_ttl > 0 && index_ttl <= 60,
        "the index expires with its sessions: {index_ttl}"
    );
}

pub fn clear_all_sessions_of_a_user(b: &dyn Backend) {
    let c = cache(b);
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
    assert!(c.load("a1").unwrap().is_none());
    assert_eq!(c.remove_user("bob").unwrap(), 2);
    assert!(c.load("a0").unwrap().is_none());
}

pub fn renewal_respects_windows_and_never_shortens(b: &dyn Backend) {
    let c = cache(b);
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
    let longer = Renewal {
        anonymous: now() + 200.0,
        ..r
    };
    let anon = c.load_renew("a1", Some(longer)).unwrap().unwrap();
    assert!(
        (anon.expires.unwrap() - longer.anonymous).abs() < 0.01,
        "an anonymous session renews"
    );
    let mut con = b.connection();
    let pttl: i64 = query(&mut con, redis::cmd("PTTL").arg(c.session_key("u1")));
    assert!(
        (pttl as f64 / 1000.0 - (r.user - now())).abs() < 1.0,
        "Redis's expiry follows the renewal: {pttl}"
    );
    let score: f64 = query(
        &mut con,
        redis::cmd("ZSCORE")
            .arg(index_key(&c, "dave"))
            .arg(c.session_key("u1")),
    );
    assert!(
        (score / 1000.0 - r.user).abs() < 0.01,
        "the index follows the renewal"
    );
    let index_expiry_ms: i64 = query(
        &mut con,
        redis::cmd("PEXPIRETIME").arg(index_key(&c, "dave")),
    );
    assert!(
        (index_expiry_ms as f64 / 1000.0 - r.user).abs() < 0.01,
        "the index lives as long as its longest session: {index_expiry_ms}"
    );
}

/// An entry written before the stamp in `r` (its record alone, as earlier versions
/// wrote it) is read (its expiry from the key) and stamped; a removed key is never
/// revived by a renewal.
pub fn an_entry_written_before_the_stamp_is_read_and_stamped(b: &dyn Backend) {
    let c = cache(b);
    c.store("old", "erin", now() + 100.0, b"rec", StoreMode::Upsert)
        .unwrap();
    let mut con = b.connection();
    let key = c.session_key("old");
    let _: i64 = query(&mut con, redis::cmd("HSET").arg(&key).arg("r").arg("rec"));
    let got = c.load_renew("old", None).unwrap().unwrap();
    assert_eq!(&got.record[..], b"rec");
    assert!((got.expires.unwrap() - (now() + 100.0)).abs() < 1.0);
    let stored: Vec<u8> = query(&mut con, redis::cmd("HGET").arg(&key).arg("r"));
    let ms = (got.expires.unwrap() * 1000.0).round() as i64;
    assert_eq!(stored, format!("\0u{ms:015}rec").into_bytes(), "stamped");
    assert_eq!(c.load("old").unwrap().as_deref(), Some(&b"rec"[..]));
    // With a renewal target: the legacy entry is renewed and stamped in one go.
    let _: i64 = query(&mut con, redis::cmd("HSET").arg(&key).arg("r").arg("rec"));
    let target = now() + 500.0;
    let got = c
        .load_renew("old", Some(Renewal::new(target, now() + 50.0)))
        .unwrap()
        .unwrap();
    assert!(
        (got.expires.unwrap() - target).abs() < 0.002,
        "the user's target"
    );
    c.remove("old").unwrap();
    assert_eq!(
        c.load_renew("old", Some(Renewal::new(now() + 500.0, now() + 500.0)))
            .unwrap(),
        None
    );
}

pub fn rotation_and_logout_through_the_manager(b: &dyn Backend) {
    let m = manager(cache(b), ManagerConfig::default());
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

pub fn garbage_under_a_key_is_a_result_code(b: &dyn Backend) {
    let c = cache(b);
    let m = manager(c.clone(), ManagerConfig::default());
    let mut con = b.connection();
    let _: () = query(
        &mut con,
        redis::cmd("HSET")
            .arg(c.session_key("junk"))
            .arg("r")
            .arg(&b"\xff\xfe garbage"[..])
            .arg("u")
            .arg(""),
    );
    assert!(matches!(m.retrieve_session("junk"), Err(Error::Decode(_))));
    let _: () = query(
        &mut con,
        redis::cmd("SET")
            .arg(c.session_key("str"))
            .arg("not a hash"),
    );
    assert!(matches!(m.retrieve_session("str"), Err(Error::Backend(_))));
    // Storing over a key of the wrong type replaces it.
    c.store("str", "", now() + 60.0, b"ok", StoreMode::Upsert)
        .unwrap();
    assert_eq!(c.load("str").unwrap().as_deref(), Some(&b"ok"[..]));
}

/// A record stored under one id but carrying another session's id (a reply meant for
/// another request, a record copied to the wrong key) is never handed out.
pub fn a_record_carrying_another_id_is_refused(b: &dyn Backend) {
    let c = cache(b);
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

/// Two saves from the same loaded revision that write identical bytes (two requests
/// incrementing one counter) are still a conflict for the second: a repeated script
/// run is told apart by its own call token, never by equal records.
pub fn equal_records_from_one_revision_still_conflict(b: &dyn Backend) {
    let c = cache(b);
    let m = manager(c.clone(), ManagerConfig::default());
    let created = m.create_session("hana", false).unwrap();
    let mut s = m.retrieve_session(created.id()).unwrap().unwrap();
    let loaded = s.revision();
    s.set("n", Value::from(1i64)).unwrap();
    assert_eq!(m.save_session(&mut s), Ok(true));
    assert_eq!(s.revision(), loaded + 1);
    assert_eq!(
        c.store_session(&s, StoreMode::IfRevision(loaded)),
        Err(Error::Conflict)
    );
    let back = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(back.get("n"), Some(&Value::from(1i64)));
}

/// A store run again after its reply was lost (what the pool does after a signal or a
/// dropped connection) finds its own earlier write among the key's last 8, even when
/// other writes came after it: success, and nothing written over them. Before, it read
/// the later revision as a conflict, and `update_session` made its change twice.
pub fn a_store_run_again_after_later_writes_is_not_a_conflict(b: &dyn Backend) {
    let c = cache(b);
    let m = manager(c.clone(), ManagerConfig::default());
    let id = m.create_session("kai", false).unwrap().id().to_owned();
    let mut mine = m.retrieve_session(&id).unwrap().unwrap();
    let loaded = mine.revision();
    mine.set("n", Value::from(1i64)).unwrap();
    let store =
        |call: u64| c.store_session_as_call(&mine, StoreMode::IfRevision(loaded), loaded + 1, call);
    let save_other = |n: i64| {
        let mut other = m.retrieve_session(&id).unwrap().unwrap();
        other.set("n", Value::from(n)).unwrap();
        m.save_session(&mut other).unwrap();
    };
    assert_eq!(store(0x5eed), Ok(None), "the first run");
    for n in 2..=8 {
        save_other(n); // while the first run's reply is lost
    }
    assert_eq!(store(0x5eed), Ok(None), "the run again: already written");
    let back = m.retrieve_session(&id).unwrap().unwrap();
    assert_eq!(
        back.get("n"),
        Some(&Value::from(8i64)),
        "nothing written again"
    );
    assert_eq!(back.revision(), loaded + 8);
    // Another call from the same revision never ran: a conflict.
    assert_eq!(store(0xd1ff), Err(Error::Conflict));
    // A write more than 8 writes back is no longer known: a conflict, as before.
    save_other(9);
    assert_eq!(store(0x5eed), Err(Error::Conflict));

    // Create-only, run again after a later write: not a taken id.
    let fresh = Session::new("lee", back.expires()).unwrap();
    let create = |call: u64| c.store_session_as_call(&fresh, StoreMode::CreateNew, 1, call);
    assert_eq!(create(0xc0de), Ok(None));
    let mut later = m.retrieve_session(fresh.id()).unwrap().unwrap();
    later.set("n", Value::from(2i64)).unwrap();
    m.save_session(&mut later).unwrap();
    assert_eq!(create(0xc0de), Ok(None), "the run again");
    assert_eq!(create(0xbeef), Err(Error::IdCollision), "another call");
    let back = m.retrieve_session(fresh.id()).unwrap().unwrap();
    assert_eq!(back.get("n"), Some(&Value::from(2i64)));

    // If-exists and upsert, run again after a later write: nothing written over it.
    for (mode, call) in [(StoreMode::IfExists, 0xfeed), (StoreMode::Upsert, 0xface)] {
        let mut stale = m.retrieve_session(fresh.id()).unwrap().unwrap();
        stale.set("n", Value::from(3i64)).unwrap();
        let rev = stale.revision() + 1;
        assert_eq!(c.store_session_as_call(&stale, mode, rev, call), Ok(None));
        let written = m.retrieve_session(fresh.id()).unwrap().unwrap();
        assert_eq!(
            written.get("n"),
            Some(&Value::from(3i64)),
            "{mode:?}: the first run"
        );
        let mut later = m.retrieve_session(fresh.id()).unwrap().unwrap();
        later.set("n", Value::from(4i64)).unwrap();
        m.save_session(&mut later).unwrap();
        assert_eq!(c.store_session_as_call(&stale, mode, rev, call), Ok(None));
        let back = m.retrieve_session(fresh.id()).unwrap().unwrap();
        assert_eq!(back.get("n"), Some(&Value::from(4i64)), "{mode:?}");
    }
}

/// The cap on sessions per user: creating one more removes the user's sessions that
/// expire soonest, on the memory cache and on Redis; other users are untouched.
pub fn sessions_per_user_are_capped(b: &dyn Backend) {
    let caches: Vec<(&str, Arc<dyn SessionCache>)> = vec![
        ("memory", Arc::new(toto_session::MemoryCache::new())),
        ("redis", cache(b)),
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

/// Stores and loads on `c` while the calling thread is signalled every 300 us
/// ([`Signaller`]): socket calls fail with EINTR, on open connections and on ones
/// being opened, and every call must still succeed, none backing off as if Redis were
/// down.
pub fn calls_under_signals(c: &RedisCache) {
    let seen_before = signals::seen();
    let signaller = Signaller::start(Duration::from_micros(300));
    let mut failures = Vec::new();
    for i in 0..2000 {
        let id = format!("sig{i}");
        if let Err(e) = c.store(&id, "u", now() + 60.0, b"record", StoreMode::Upsert) {
            failures.push(format!("store {i}: {e}"));
        }
        match c.load(&id) {
            Ok(Some(_)) => {}
            other => failures.push(format!("load {i}: {other:?}")),
        }
    }
    signaller.stop();
    assert!(
        failures.is_empty(),
        "{} failed, the first: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(signals::seen() - seen_before > 100);
}
