//! The manager's rules (issue: session lifecycle and accounts), with an injected clock.

use std::sync::Arc;

use toto_session::password::{hash_legacy, PasswordPolicy};
use toto_session::{
    AccountStore, Error, Manager, ManagerConfig, ManualClock, MemoryAccountStore, MemoryCache,
    Session, SessionCache, Value,
};

const DAY: f64 = 86_400.0;
const T0: f64 = 1_700_000_000.0;

struct Fixture {
    clock: Arc<ManualClock>,
    cache: Arc<MemoryCache>,
    store: Arc<MemoryAccountStore>,
    manager: Manager,
}

fn fast_config() -> ManagerConfig {
    ManagerConfig {
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..ManagerConfig::default()
    }
}

fn fixture(config: ManagerConfig) -> Fixture {
    let clock = Arc::new(ManualClock::new(T0));
    let cache = Arc::new(MemoryCache::with_clock(clock.clone()));
    let store = Arc::new(MemoryAccountStore::new());
    let manager = Manager::with_clock(cache.clone(), store.clone(), config, clock.clone()).unwrap();
    Fixture {
        clock,
        cache,
        store,
        manager,
    }
}

#[test]
fn defaults_are_totos() {
    let c = ManagerConfig::default();
    assert_eq!(c.session_ttl, 365.0 * DAY);
    assert_eq!(c.anon_session_ttl, DAY);
    assert_eq!(c.renew(false), 365.0 * DAY);
    assert_eq!(c.renew(true), DAY);
    let fallback = ManagerConfig {
        anon_session_ttl: 0.0,
        ..c
    };
    assert_eq!(
        fallback.ttl(true),
        365.0 * DAY,
        "anonymous TTL 0 falls back to the user TTL"
    );
    assert_eq!(fallback.renew(true), 365.0 * DAY);
}

#[test]
fn invalid_config_is_refused() {
    let f = fixture(fast_config());
    let bad = ManagerConfig {
        session_ttl: 0.0,
        ..fast_config()
    };
    let r = Manager::new(f.cache.clone(), f.store.clone(), bad);
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    let bad = ManagerConfig {
        session_renew: -1.0,
        ..fast_config()
    };
    assert!(matches!(
        Manager::new(f.cache.clone(), f.store.clone(), bad),
        Err(Error::InvalidArgument(_))
    ));
    for granularity in [-0.1, 1.5, f64::NAN] {
        let bad = ManagerConfig {
            renew_granularity: granularity,
            ..fast_config()
        };
        assert!(matches!(
            Manager::new(f.cache.clone(), f.store.clone(), bad),
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn user_and_anonymous_ttls() {
    let f = fixture(fast_config());
    let user = f.manager.create_session("Alice", false).unwrap();
    assert_eq!(user.user_id(), "alice");
    assert_eq!(user.expires(), T0 + 365.0 * DAY);
    assert!(user.key().is_none() && !user.is_dirty());
    let anon = f.manager.create_session("", false).unwrap();
    assert_eq!(anon.expires(), T0 + DAY);
    let keyed = f.manager.create_session("alice", true).unwrap();
    assert_eq!(keyed.key().map(str::len), Some(22));
    // Anonymous TTL 0 falls back to the user TTL.
    let f = fixture(ManagerConfig {
        anon_session_ttl: 0.0,
        ..fast_config()
    });
    assert_eq!(
        f.manager.create_session("", false).unwrap().expires(),
        T0 + 365.0 * DAY
    );
}

#[test]
fn expired_sessions_are_never_returned_and_are_reclaimed() {
    let f = fixture(ManagerConfig {
        anon_session_ttl: 100.0,
        ..fast_config()
    });
    let s = f.manager.create_session("", false).unwrap();
    f.clock.set(T0 + 99.0);
    assert!(f.manager.retrieve_session(s.id()).unwrap().is_some());
    // Renewed to T0 + 99 + 100.
    f.clock.set(T0 + 199.0);
    assert!(
        f.manager.retrieve_session(s.id()).unwrap().is_none(),
        "expiry is exclusive"
    );
    assert!(f.cache.is_empty(), "expired session reclaimed");
    assert!(f
        .manager
        .retrieve_session("never-existed")
        .unwrap()
        .is_none());
}

#[test]
fn default_renewal_slides_expiry_to_now_plus_ttl() {
    let f = fixture(fast_config());
    let s = f.manager.create_session("bob", false).unwrap();
    // Within the default granularity (1 % of 365 days: 3.65 days) nothing moves.
    f.clock.advance(3.0 * DAY);
    let r = f.manager.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(r.expires(), T0 + 365.0 * DAY);
    f.clock.advance(DAY);
    let r = f.manager.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(r.expires(), T0 + 4.0 * DAY + 365.0 * DAY);
    assert!(!r.is_dirty(), "renewal was written back");
    // The memory cache renews in place: its expiry is the truth, the record's own
    // `exp` may be older.
    let held = f.cache.load_renew(s.id(), None).unwrap().unwrap();
    assert_eq!(held.expires, Some(r.expires()));
    f.clock.set(T0 + 369.0 * DAY - 5.0);
    assert!(
        f.manager.retrieve_session(s.id()).unwrap().is_some(),
        "alive past its first expiry"
    );
}

/// Counts stores, to see when retrieve writes.
struct CountingCache {
    inner: MemoryCache,
    stores: std::sync::atomic::AtomicUsize,
}

impl SessionCache for CountingCache {
    fn store(
        &self,
        id: &str,
        user: &str,
        exp: f64,
        rec: &[u8],
        mode: toto_session::StoreMode,
    ) -> toto_session::Result<Option<String>> {
        self.stores
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.store(id, user, exp, rec, mode)
    }
    fn load(&self, id: &str) -> toto_session::Result<Option<Vec<u8>>> {
        self.inner.load(id)
    }
    fn remove(&self, id: &str) -> toto_session::Result<()> {
        self.inner.remove(id)
    }
    fn remove_user(&self, user: &str) -> toto_session::Result<u64> {
        self.inner.remove_user(user)
    }
}

#[test]
fn short_renew_windows_write_back_only_when_expiry_moves() {
    let clock = Arc::new(ManualClock::new(T0));
    let cache = Arc::new(CountingCache {
        inner: MemoryCache::with_clock(clock.clone()),
        stores: Default::default(),
    });
    let config = ManagerConfig {
        session_ttl: 1000.0,
        session_renew: 100.0,
        anon_session_ttl: 500.0,
        anon_session_renew: 50.0,
        ..fast_config()
    };
    let m = Manager::with_clock(
        cache.clone(),
        Arc::new(MemoryAccountStore::new()),
        config,
        clock.clone(),
    )
    .unwrap();
    let stores = || cache.stores.load(std::sync::atomic::Ordering::SeqCst);
    let user = m.create_session("u", false).unwrap();
    let anon = m.create_session("", false).unwrap();
    assert_eq!(stores(), 2);
    clock.set(T0 + 800.0); // user: expires T0+1000 >= now+100: no renewal
    assert_eq!(
        m.retrieve_session(user.id()).unwrap().unwrap().expires(),
        T0 + 1000.0
    );
    assert_eq!(stores(), 2, "no write when expiry does not move");
    clock.set(T0 + 950.0); // target T0+1050 > T0+1000: renewed
    assert_eq!(
        m.retrieve_session(user.id()).unwrap().unwrap().expires(),
        T0 + 1050.0
    );
    assert_eq!(stores(), 3);
    clock.set(T0 + 440.0); // anon: expires T0+500 >= T0+490: no renewal
    assert_eq!(
        m.retrieve_session(anon.id()).unwrap().unwrap().expires(),
        T0 + 500.0
    );
    clock.set(T0 + 460.0); // anon renew window 50: target T0+510
    assert_eq!(
        m.retrieve_session(anon.id()).unwrap().unwrap().expires(),
        T0 + 510.0
    );
    assert_eq!(stores(), 4);
    // Granularity (1 % of the 50 s window: 0.5 s): a lag of 0.4 s is not written.
    clock.set(T0 + 460.4);
    assert_eq!(
        m.retrieve_session(anon.id()).unwrap().unwrap().expires(),
        T0 + 510.0
    );
    assert_eq!(stores(), 4, "within the granularity: no write");
}

#[test]
fn save_writes_only_dirty_sessions_and_refresh_reloads() {
    let f = fixture(fast_config());
    let mut s = f.manager.create_session("u", false).unwrap();
    assert!(
        !f.manager.save_session(&mut s).unwrap(),
        "clean session: no write"
    );
    s.set("cart", Value::Array(vec![Value::from(1i64)]))
        .unwrap();
    assert!(f.manager.save_session(&mut s).unwrap());
    let mut other = f.manager.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(other.get("cart"), s.get("cart"));
    s.set("x", Value::Bool(false)).unwrap();
    f.manager.save_session(&mut s).unwrap();
    f.manager.refresh_session(&mut other).unwrap();
    assert_eq!(other.get("x"), Some(&Value::Bool(false)));
    f.manager.remove_session(s.id()).unwrap();
    assert_eq!(
        f.manager.refresh_session(&mut other),
        Err(Error::InvalidSessionId)
    );
    assert_eq!(
        other.get("x"),
        Some(&Value::Bool(false)),
        "refresh failure keeps the session"
    );
}

#[test]
fn finish_response_saves_a_changed_session_then_signs() {
    let f = fixture(fast_config());
    let body = br#"{"result":1}"#;
    let mut s = f.manager.create_session("u", true).unwrap();
    let want = s.sign_response(body).unwrap();
    assert_eq!(f.manager.finish_response(&mut s, body).unwrap(), Some(want));
    s.set("n", Value::from(7i64)).unwrap();
    assert_eq!(f.manager.finish_response(&mut s, body).unwrap(), Some(want));
    assert!(!s.is_dirty(), "saved");
    let stored = f.manager.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(stored.get("n"), Some(&Value::from(7i64)));

    let mut plain = f.manager.create_session("u", false).unwrap();
    plain.set("n", Value::from(1i64)).unwrap();
    assert_eq!(
        f.manager.finish_response(&mut plain, body).unwrap(),
        None,
        "no key: unsigned"
    );
    assert!(!plain.is_dirty(), "saved all the same");

    f.manager.remove_session(s.id()).unwrap();
    s.set("n", Value::from(8i64)).unwrap();
    assert_eq!(
        f.manager.finish_response(&mut s, body),
        Err(Error::Revoked),
        "a failed save signs nothing"
    );
}

#[test]
fn rotation_moves_the_session_and_kills_the_old_id() {
    let f = fixture(fast_config());
    let mut s = f.manager.create_session("u", true).unwrap();
    s.set("n", Value::from(7i64)).unwrap();
    let old = s.id().to_owned();
    f.manager.rotate_session(&mut s).unwrap();
    assert_ne!(s.id(), old);
    assert!(f.manager.retrieve_session(&old).unwrap().is_none());
    let moved = f.manager.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(moved.get("n"), Some(&Value::from(7i64)));
    assert_eq!(moved.key(), s.key());
}

/// A cache that renames every stored id (as Toto's store_session may).
struct RenamingCache(MemoryCache);

impl SessionCache for RenamingCache {
    fn store(
        &self,
        id: &str,
        user: &str,
        exp: f64,
        rec: &[u8],
        mode: toto_session::StoreMode,
    ) -> toto_session::Result<Option<String>> {
        let new_id = if id.starts_with("r-") {
            id.to_owned()
        } else {
            format!("r-{id}")
        };
        self.0.store(&new_id, user, exp, rec, mode)?;
        Ok(Some(new_id))
    }
    fn load(&self, id: &str) -> toto_session::Result<Option<Vec<u8>>> {
        self.0.load(id)
    }
    fn remove(&self, id: &str) -> toto_session::Result<()> {
        self.0.remove(id)
    }
}

#[test]
fn a_renaming_cache_is_honoured() {
    let clock = Arc::new(ManualClock::new(T0));
    let cache = Arc::new(RenamingCache(MemoryCache::with_clock(clock.clone())));
    let m = Manager::with_clock(
        cache,
        Arc::new(MemoryAccountStore::new()),
        fast_config(),
        clock,
    )
    .unwrap();
    let s = m.create_session("u", false).unwrap();
    assert!(s.id().starts_with("r-"));
    let back = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(back.id(), s.id());
}

/// A cache whose create-only stores collide a given number of times.
struct CollidingCache {
    inner: MemoryCache,
    collisions: std::sync::atomic::AtomicUsize,
}

impl SessionCache for CollidingCache {
    fn store(
        &self,
        id: &str,
        user: &str,
        exp: f64,
        rec: &[u8],
        mode: toto_session::StoreMode,
    ) -> toto_session::Result<Option<String>> {
        use std::sync::atomic::Ordering::SeqCst;
        if mode == toto_session::StoreMode::CreateNew && self.collisions.load(SeqCst) > 0 {
            self.collisions.fetch_sub(1, SeqCst);
            return Err(Error::IdCollision);
        }
        self.inner.store(id, user, exp, rec, mode)
    }
    fn load(&self, id: &str) -> toto_session::Result<Option<Vec<u8>>> {
        self.inner.load(id)
    }
    fn remove(&self, id: &str) -> toto_session::Result<()> {
        self.inner.remove(id)
    }
}

#[test]
fn id_collisions_get_a_fresh_id_then_give_up() {
    let clock = Arc::new(ManualClock::new(T0));
    let cache = Arc::new(CollidingCache {
        inner: MemoryCache::with_clock(clock.clone()),
        collisions: 2.into(),
    });
    let m = Manager::with_clock(
        cache.clone(),
        Arc::new(MemoryAccountStore::new()),
        fast_config(),
        clock,
    )
    .unwrap();
    let s = m.create_session("u", false).unwrap();
    assert!(m.retrieve_session(s.id()).unwrap().is_some());
    cache
        .collisions
        .store(100, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(m.create_session("u", false).err(), Some(Error::IdCollision));
    let mut s = s;
    let old = s.id().to_owned();
    assert_eq!(m.rotate_session(&mut s), Err(Error::IdCollision));
    assert_eq!(s.id(), old, "failed rotation keeps the old id");
    assert!(m.retrieve_session(&old).unwrap().is_some());
}

#[test]
fn logout_and_clear_all() {
    let f = fixture(fast_config());
    let a1 = f.manager.create_session("alice", false).unwrap();
    let a2 = f.manager.create_session("ALICE", false).unwrap();
    let b = f.manager.create_session("bob", false).unwrap();
    f.manager.remove_session(a1.id()).unwrap();
    assert!(f.manager.retrieve_session(a1.id()).unwrap().is_none());
    f.manager.remove_session(a1.id()).unwrap();
    assert_eq!(
        f.manager.remove_session("bad id"),
        Err(Error::InvalidSessionId)
    );
    assert_eq!(f.manager.clear_sessions("Alice").unwrap(), 1);
    assert!(f.manager.retrieve_session(a2.id()).unwrap().is_none());
    assert!(f.manager.retrieve_session(b.id()).unwrap().is_some());
}

#[test]
fn accounts_create_login_and_error_codes() {
    let f = fixture(fast_config());
    let email = Value::from("a@x");
    f.manager
        .create_account("Alice", "pw", &[("email", &email)])
        .unwrap();
    assert_eq!(
        f.manager.create_account("alice", "pw", &[]),
        Err(Error::UserIdExists)
    ); // 1006
    assert_eq!(
        f.manager.create_account("", "pw", &[]),
        Err(Error::InvalidUserId)
    ); // 1010
    assert!(matches!(
        f.manager.create_account("c", "pw", &[("password", &email)]),
        Err(Error::InvalidArgument(_))
    ));
    let stored = f.store.load("alice", None).unwrap().unwrap();
    let hash = stored
        .iter()
        .find(|(k, _)| k == "password")
        .unwrap()
        .1
        .as_text()
        .unwrap()
        .to_owned();
    // No field of the PHC string is the password itself (a substring test such as
    // "pw$" also matched a random salt ending in "pw", about once in 4,000 runs).
    assert!(hash.starts_with("$argon2id$") && !hash.split('$').any(|field| field == "pw"));

    let s = f.manager.login("ALICE", "pw").unwrap();
    assert_eq!(s.user_id(), "alice");
    assert_eq!(
        s.key().map(str::len),
        Some(22),
        "login sessions carry an HMAC key"
    );
    assert_eq!(s.expires(), T0 + 365.0 * DAY);
    assert_eq!(
        f.manager.login("alice", "wrong").err(),
        Some(Error::InvalidCredentials)
    ); // 1005
    assert_eq!(
        f.manager.login("nobody", "pw").err(),
        Some(Error::InvalidCredentials)
    );
    assert_eq!(
        f.manager.login("", "pw").err(),
        Some(Error::InvalidCredentials)
    );

    let mut account = f.manager.session_account(&s).unwrap();
    assert_eq!(account.get("email").unwrap(), Some(&email));
    let anon = f.manager.create_session("", false).unwrap();
    assert_eq!(
        f.manager
            .session_account(&anon)
            .err()
            .map(|e| e.to_string()),
        Some("Not authorized".into())
    ); // 1004
    assert_eq!(f.manager.account("").err(), Some(Error::InvalidUserId));
}

#[test]
fn legacy_hashes_log_in_and_are_upgraded() {
    let f = fixture(fast_config());
    let legacy = Value::Text(hash_legacy("secret", "KAfyo/pi", 400).unwrap());
    f.store.create("old", &[("password", &legacy)]).unwrap();
    assert_eq!(
        f.manager.login("old", "secret!").err(),
        Some(Error::InvalidCredentials)
    );
    let stored = |f: &Fixture| {
        f.store.load("old", Some(&["password"])).unwrap().unwrap()[0]
            .1
            .clone()
    };
    assert_eq!(stored(&f), legacy, "a failed login changes nothing");
    f.manager.login("old", "secret").unwrap();
    let upgraded = stored(&f);
    assert!(upgraded.as_text().unwrap().starts_with("$argon2id$"));
    f.manager.login("old", "secret").unwrap();
    assert_eq!(stored(&f), upgraded, "a current hash is not rewritten");
}

#[test]
fn change_and_generate_password_log_out_everywhere() {
    let f = fixture(fast_config());
    f.manager.create_account("u", "old", &[]).unwrap();
    let other = f.manager.login("u", "old").unwrap();
    let mut current = f.manager.login("u", "old").unwrap();
    let current_id = current.id().to_owned();
    assert_eq!(
        f.manager.change_password("u", "bad", "new", None),
        Err(Error::InvalidCredentials)
    );
    assert!(
        f.manager.retrieve_session(other.id()).unwrap().is_some(),
        "failed change logs no one out"
    );
    f.manager
        .change_password("U", "old", "new", Some(&mut current))
        .unwrap();
    assert!(f.manager.retrieve_session(other.id()).unwrap().is_none());
    assert!(f.manager.retrieve_session(&current_id).unwrap().is_none());
    assert_ne!(
        current.id(),
        current_id,
        "the current session moved to a fresh id"
    );
    assert!(f.manager.retrieve_session(current.id()).unwrap().is_some());
    assert_eq!(
        f.manager.login("u", "old").err(),
        Some(Error::InvalidCredentials)
    );
    f.manager.login("u", "new").unwrap();

    let generated = f.manager.generate_password("u").unwrap();
    assert_eq!(generated.len(), 10);
    assert!(f.manager.retrieve_session(current.id()).unwrap().is_none());
    f.manager.login("u", &generated).unwrap();
    assert_eq!(
        f.manager.generate_password("ghost").err(),
        Some(Error::InvalidCredentials)
    );
}

#[test]
fn verify_request_codes() {
    let f = fixture(fast_config());
    f.manager.create_account("u", "pw", &[]).unwrap();
    let s = f.manager.login("u", "pw").unwrap();
    let mac = s.sign_request(b"POST", b"/api?x=1", b"{}").unwrap();
    f.clock.advance(5.0 * DAY);
    let verified = f
        .manager
        .verify_request(s.id(), mac.as_bytes(), b"POST", b"/api?x=1", b"{}")
        .unwrap();
    assert_eq!(
        verified.expires(),
        T0 + 5.0 * DAY + 365.0 * DAY,
        "a verified request renews"
    );
    f.clock.advance(5.0 * DAY);
    let bad = f
        .manager
        .verify_request(s.id(), mac.as_bytes(), b"POST", b"/api?x=1", b"{ }");
    assert_eq!(bad.err(), Some(Error::InvalidHmac)); // 1008
                                                     // As in Toto's handler, the session is retrieved (and renewed) before the check.
    let after = f.manager.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(after.expires(), T0 + 10.0 * DAY + 365.0 * DAY);
    let e = f
        .manager
        .verify_request("unknown", mac.as_bytes(), b"POST", b"/", b"")
        .err();
    assert_eq!(e, Some(Error::InvalidSessionId)); // 1007
    assert_eq!(
        f.manager.verify_request("", b"m", b"POST", b"/", b"").err(),
        Some(Error::InvalidSessionId)
    );
    let unkeyed = f.manager.create_session("u", false).unwrap();
    let e = f
        .manager
        .verify_request(unkeyed.id(), mac.as_bytes(), b"POST", b"/api?x=1", b"{}")
        .err();
    assert_eq!(e, Some(Error::InvalidHmac));
    let body = b"{\"result\":1}";
    assert_eq!(
        verified.sign_response(body).unwrap(),
        toto_session::sign::hmac(
            s.key().unwrap().as_bytes(),
            &[s.id().as_bytes(), body].concat()
        )
        .unwrap()
    );
}

#[test]
fn garbage_in_the_cache_is_an_error_not_a_missing_session() {
    let f = fixture(fast_config());
    f.cache
        .store(
            "garbage",
            "",
            T0 + 100.0,
            b"\xff\x00junk",
            toto_session::StoreMode::Upsert,
        )
        .unwrap();
    assert!(matches!(
        f.manager.retrieve_session("garbage"),
        Err(Error::Decode(_))
    ));
    assert!(
        f.cache.load("garbage").unwrap().is_some(),
        "the record is left in place"
    );
}

#[test]
fn many_threads_share_one_manager_without_losing_sessions() {
    let f = Arc::new(fixture(fast_config()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..200i64 {
                    let mut s = f
                        .manager
                        .create_session(&format!("user{}", t % 3), i % 2 == 0)
                        .unwrap();
                    s.set("owner", Value::from(t as i64)).unwrap();
                    s.set("i", Value::from(i)).unwrap();
                    f.manager.save_session(&mut s).unwrap();
                    let mut again = f
                        .manager
                        .retrieve_session(s.id())
                        .unwrap()
                        .expect("just saved");
                    assert_eq!(again.get("i"), Some(&Value::from(i)));
                    again.set("seen", Value::Bool(true)).unwrap();
                    f.manager.save_session(&mut again).unwrap();
                    if i % 3 == 0 {
                        f.manager.remove_session(again.id()).unwrap();
                    } else {
                        kept.push((again.id().to_owned(), i));
                    }
                }
                kept
            })
        })
        .collect();
    let mut total = 0;
    for (t, handle) in threads.into_iter().enumerate() {
        for (id, i) in handle.join().expect("no thread panicked") {
            let s = f
                .manager
                .retrieve_session(&id)
                .unwrap()
                .expect("kept session present");
            assert_eq!(s.get("owner"), Some(&Value::from(t as i64)));
            assert_eq!(s.get("i"), Some(&Value::from(i)));
            assert_eq!(s.get("seen"), Some(&Value::Bool(true)));
            total += 1;
        }
    }
    assert_eq!(total, 8 * (200 - 67));
    assert_eq!(f.cache.len(), total);
}

/// Counts account creations reaching the store.
struct CountingStore {
    inner: MemoryAccountStore,
    creates: std::sync::atomic::AtomicUsize,
}

impl AccountStore for CountingStore {
    fn load(
        &self,
        u: &str,
        n: Option<&[&str]>,
    ) -> toto_session::Result<Option<Vec<toto_session::backend::Property>>> {
        self.inner.load(u, n)
    }
    fn save(&self, u: &str, p: &[(&str, &Value)]) -> toto_session::Result<()> {
        self.inner.save(u, p)
    }
    fn create(&self, u: &str, p: &[(&str, &Value)]) -> toto_session::Result<()> {
        self.creates
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.create(u, p)
    }
}

#[test]
fn duplicate_sign_up_is_refused_before_any_password_work() {
    let store = Arc::new(CountingStore {
        inner: MemoryAccountStore::new(),
        creates: Default::default(),
    });
    let m = Manager::new(Arc::new(MemoryCache::new()), store.clone(), fast_config()).unwrap();
    m.create_account("dup", "pw", &[]).unwrap();
    assert_eq!(
        m.create_account("DUP", "other", &[]),
        Err(Error::UserIdExists)
    );
    assert_eq!(
        store.creates.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "refused up front, not by the store after hashing"
    );
}

/// On the wall clock, over the memory cache, a retrieve reads the cheaper rough clock
/// (which lags by up to a second) and settles close calls with a precise reading:
/// a session that expires within that second is live just before its expiry and gone
/// just after it, and renewal slides its expiry from the precise time.
#[test]
fn the_rough_clock_decides_as_the_wall_clock() {
    let config = ManagerConfig {
        anon_session_ttl: 0.3,
        anon_session_renew: 0.3,
        renew_granularity: 0.0,
        ..fast_config()
    };
    let cache = Arc::new(MemoryCache::new());
    let manager = Manager::new(cache, Arc::new(MemoryAccountStore::new()), config).unwrap();
    let wall = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let s = manager.create_session("", false).unwrap();
    let before = wall();
    let r = manager.retrieve_session(s.id()).unwrap().expect("live");
    assert!(r.expires() >= before + 0.3, "renewed from the precise time");
    assert!(r.expires() <= wall() + 0.3);
    let expires = r.expires();
    std::thread::sleep(std::time::Duration::from_secs_f64(expires - wall() + 0.05));
    assert!(
        manager.retrieve_session(s.id()).unwrap().is_none(),
        "expired"
    );
}

/// Saves hand what they replace to the thread's next copy-on-write (the memory cache
/// reuses a previous copy nothing else holds): sessions still held anywhere, and the
/// ones saved, must all keep exactly their own state.
#[test]
fn reused_copies_never_show_in_sessions_still_held() {
    let f = fixture(fast_config());
    let ids: Vec<String> = (0..20)
        .map(|i| {
            let mut s = f
                .manager
                .create_session(&format!("user{i}"), false)
                .unwrap();
            s.set("n", Value::from(-1i64)).unwrap();
            f.manager.save_session(&mut s).unwrap();
            s.id().to_owned()
        })
        .collect();
    let mut model: Vec<(i64, String)> = vec![(-1, String::new()); ids.len()];
    let mut kept: Vec<(Session, usize, i64, String)> = Vec::new();
    // Each session its own key names, so a reused copy has other keys to replace.
    let text_key = |i: usize| format!("{}{i}", "t".repeat(i % 4 + 1));
    for round in 0..400i64 {
        let i = (round as usize * 7) % ids.len();
        let mut s = f.manager.retrieve_session(&ids[i]).unwrap().unwrap();
        if round % 5 == 0 {
            // A reader keeps the state it loaded while the session changes.
            let (n, t) = model[i].clone();
            kept.push((s.clone(), i, n, t));
        }
        let text = "x".repeat((round as usize * 13) % 90);
        s.set("n", Value::from(round)).unwrap();
        if round % 3 == 0 {
            s.remove(&text_key(i));
            model[i] = (round, String::new());
        } else {
            s.set(&text_key(i), Value::Text(text.clone())).unwrap();
            model[i] = (round, text);
        }
        f.manager.save_session(&mut s).unwrap();
        for (held, j, n, t) in &kept {
            assert_eq!(held.get("n"), Some(&Value::from(*n)), "round {round}");
            let want = (!t.is_empty()).then(|| Value::Text(t.clone()));
            assert_eq!(held.get(&text_key(*j)), want.as_ref(), "round {round}");
            assert_eq!(held.len(), 1 + usize::from(want.is_some()), "round {round}");
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let s = f.manager.retrieve_session(id).unwrap().unwrap();
        assert_eq!(s.user_id(), format!("user{i}"));
        assert_eq!(s.get("n"), Some(&Value::from(model[i].0)));
        let want = (!model[i].1.is_empty()).then(|| Value::Text(model[i].1.clone()));
        assert_eq!(s.get(&text_key(i)), want.as_ref());
        assert_eq!(s.len(), 1 + usize::from(want.is_some()));
    }
}

/// The same with random changes: sessions of varied state (texts and bytes of any
/// length, up to past the spare's 16 KiB, arrays, maps, removals), readers kept at
/// random, each checked after every step against the state it loaded, and every
/// session at the end against a model of what was saved.
#[test]
fn random_changes_and_saves_keep_every_copy_its_own() {
    use std::collections::BTreeMap;
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }
    for seed in [1u64, 7, 2026] {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let f = fixture(fast_config());
        // Each session's id and key, as made (every other one has a key).
        let made: Vec<(String, Option<String>)> = (0..6)
            .map(|i| {
                let s = f
                    .manager
                    .create_session(&format!("u{i}"), i % 2 == 0)
                    .unwrap();
                (s.id().to_owned(), s.key().map(str::to_owned))
            })
            .collect();
        let ids: Vec<&str> = made.iter().map(|(id, _)| id.as_str()).collect();
        let who = |s: &Session| (s.id().to_owned(), s.key().map(str::to_owned));
        let mut model: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new(); ids.len()];
        let mut readers: Vec<(Session, usize, BTreeMap<String, Value>)> = Vec::new();
        let names = ["a", "bb", "a much longer key name", "d", "e_e", "f"];
        for step in 0..1500 {
            let i = rng.below(ids.len() as u64) as usize;
            let mut s = f.manager.retrieve_session(ids[i]).unwrap().unwrap();
            if rng.below(4) == 0 {
                readers.push((s.clone(), i, model[i].clone()));
            }
            for _ in 0..=rng.below(3) {
                let name = names[rng.below(names.len() as u64) as usize];
                let len = match rng.below(10) {
                    0 => 17_000 + rng.below(4_000) as usize,
                    1..=5 => 8 * rng.below(3) as usize,
                    _ => rng.below(300) as usize,
                };
                let value = match rng.below(8) {
                    0 => Value::from(step as i64),
                    // The setters that write into a text's or bytes' own buffer.
                    6 => {
                        let text = "s".repeat(len);
                        s.set_text(name, &text).unwrap();
                        model[i].insert(name.to_owned(), Value::Text(text));
                        continue;
                    }
                    7 => {
                        let bytes = vec![(step % 251) as u8; len];
                        s.set_bytes(name, &bytes).unwrap();
                        model[i].insert(name.to_owned(), Value::Bytes(bytes));
                        continue;
                    }
                    1 => Value::Text("t".repeat(len)),
                    2 => Value::Bytes(vec![step as u8; len]),
                    3 => Value::Array(vec![Value::Text("x".repeat(len / 4)); len % 5]),
                    4 => Value::Map(vec![(Value::from("k"), Value::Bytes(vec![1; len / 8]))]),
                    _ => {
                        s.remove(name);
                        model[i].remove(name);
                        continue;
                    }
                };
                s.set(name, value.clone()).unwrap();
                model[i].insert(name.to_owned(), value);
            }
            f.manager.save_session(&mut s).unwrap();
            if rng.below(8) == 0 && !readers.is_empty() {
                readers.swap_remove(rng.below(readers.len() as u64) as usize);
            }
            for (reader, j, want) in &readers {
                let got: BTreeMap<String, Value> = reader
                    .keys()
                    .map(|k| (k.to_owned(), reader.get(k).unwrap().clone()))
                    .collect();
                assert_eq!(&got, want, "seed {seed}, step {step}");
                assert_eq!(who(reader), made[*j], "seed {seed}, step {step}");
            }
        }
        for (i, id) in ids.iter().enumerate() {
            let s = f.manager.retrieve_session(id).unwrap().unwrap();
            let got: BTreeMap<String, Value> = s
                .keys()
                .map(|k| (k.to_owned(), s.get(k).unwrap().clone()))
                .collect();
            assert_eq!(got, model[i], "seed {seed}, session {i}");
            assert_eq!(s.user_id(), format!("u{i}"));
            assert_eq!(who(&s), made[i]);
            assert_eq!(s.key().is_some(), i % 2 == 0);
        }
    }
}
