//! Revocation that sticks and lost-update detection (issue 19), on every built-in
//! cache: the memory cache, its compact form and Redis (a private redis-server).
//!
//! For each way a session ends (logout, rotation, clear_sessions, password change,
//! password reset), a handle retrieved before it tries to save: the save is
//! `Error::Revoked` and the session stays gone. Two handles saving over each other:
//! the second is `Error::Conflict` (or wins, with `SavePolicy::LastWriterWins`).

mod support;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::redis_server::RedisServer;
use toto_session::backend::{Loaded, RedisCache, RedisOptions, Renewal};
use toto_session::password::PasswordPolicy;
use toto_session::{
    Error, Manager, ManagerConfig, ManualClock, MemoryAccountStore, MemoryCache, SavePolicy,
    Session, SessionCache, StoreMode, Value,
};

fn config(save_policy: SavePolicy) -> ManagerConfig {
    ManagerConfig {
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        save_policy,
        ..ManagerConfig::default()
    }
}

/// A cache of each built-in kind (the Redis server lives as long as the value).
struct Kind {
    name: &'static str,
    cache: Arc<dyn SessionCache>,
    _server: Option<RedisServer>,
}

fn kinds() -> Vec<Kind> {
    let server = RedisServer::start();
    let options = RedisOptions {
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(2),
        ..RedisOptions::default()
    };
    let redis = Arc::new(RedisCache::new(&server.url(), options).unwrap());
    vec![
        Kind {
            name: "memory",
            cache: Arc::new(MemoryCache::new()),
            _server: None,
        },
        Kind {
            name: "compact",
            cache: Arc::new(MemoryCache::compact()),
            _server: None,
        },
        Kind {
            name: "redis",
            cache: redis,
            _server: Some(server),
        },
    ]
}

fn manager(cache: Arc<dyn SessionCache>, policy: SavePolicy) -> Manager {
    Manager::new(cache, Arc::new(MemoryAccountStore::new()), config(policy)).unwrap()
}

/// Logs `user` in, returns the session's id and a handle retrieved from the cache.
fn logged_in(m: &Manager, user: &str) -> (String, Session) {
    match m.create_account(user, "pw", &[]) {
        Ok(()) | Err(Error::UserIdExists) => {}
        Err(e) => panic!("{e}"),
    }
    let s = m.login(user, "pw").unwrap();
    let handle = m.retrieve_session(s.id()).unwrap().unwrap();
    (s.id().to_owned(), handle)
}

/// Saving the stale handle is refused as revoked, writes nothing, and the id stays dead.
fn assert_revoked(kind: &str, how: &str, m: &Manager, id: &str, mut stale: Session) {
    stale
        .set("cart", Value::from(99i64))
        .expect("a change to save");
    assert_eq!(
        m.save_session(&mut stale),
        Err(Error::Revoked),
        "{kind}: save after {how}"
    );
    assert!(stale.is_dirty(), "{kind}: the refused change is kept");
    assert!(
        m.retrieve_session(id).unwrap().is_none(),
        "{kind}: {how} sticks"
    );
    assert_eq!(
        m.save_session(&mut stale),
        Err(Error::Revoked),
        "{kind}: a retry is refused too"
    );
    assert!(
        m.cache().load(id).unwrap().is_none(),
        "{kind}: nothing written"
    );
}

#[test]
fn every_way_a_session_ends_sticks_on_every_cache() {
    for kind in kinds() {
        for policy in [SavePolicy::DetectConflicts, SavePolicy::LastWriterWins] {
            let m = manager(kind.cache.clone(), policy);
            let k = kind.name;

            let (id, stale) = logged_in(&m, "alice");
            m.remove_session(&id).unwrap();
            assert_revoked(k, "logout", &m, &id, stale);

            let (id, stale) = logged_in(&m, "alice");
            let mut current = m.retrieve_session(&id).unwrap().unwrap();
            m.rotate_session(&mut current).unwrap();
            assert_ne!(current.id(), id);
            assert_revoked(k, "rotation", &m, &id, stale.clone());
            let mut rotated_stale = stale;
            assert_eq!(
                m.rotate_session(&mut rotated_stale),
                Err(Error::Revoked),
                "{k}: a stale handle cannot rotate itself back to life"
            );
            assert!(m.retrieve_session(current.id()).unwrap().is_some());

            let (id, stale) = logged_in(&m, "alice");
            assert!(m.clear_sessions("alice").unwrap() >= 1);
            assert_revoked(k, "clear_sessions", &m, &id, stale);

            let (id, stale) = logged_in(&m, "bob");
            let (kept_id, mut kept) = logged_in(&m, "bob");
            m.change_password("bob", "pw", "pw2", Some(&mut kept))
                .unwrap();
            assert_revoked(k, "password change", &m, &id, stale);
            assert!(m.retrieve_session(kept.id()).unwrap().is_some());
            assert!(m.retrieve_session(&kept_id).unwrap().is_none());
            m.change_password("bob", "pw2", "pw", None).unwrap();

            // A reset changes the password: a fresh user for each round.
            let user = format!("carol-{policy:?}").to_lowercase();
            let (id, stale) = logged_in(&m, &user);
            m.generate_password(&user).unwrap();
            assert_revoked(k, "password reset", &m, &id, stale);
        }
    }
}

#[test]
fn a_second_save_over_a_newer_revision_is_a_conflict_on_every_cache() {
    for kind in kinds() {
        let k = kind.name;
        let m = manager(kind.cache.clone(), SavePolicy::DetectConflicts);
        let s = m.create_session("dave", false).unwrap();
        let mut a = m.retrieve_session(s.id()).unwrap().unwrap();
        let mut b = m.retrieve_session(s.id()).unwrap().unwrap();
        let r0 = a.revision();
        a.set("who", Value::from("a")).unwrap();
        assert_eq!(m.save_session(&mut a), Ok(true), "{k}");
        assert_eq!(a.revision(), r0 + 1, "{k}: a save raises the revision");
        b.set("who", Value::from("b")).unwrap();
        assert_eq!(m.save_session(&mut b), Err(Error::Conflict), "{k}");
        assert!(b.is_dirty(), "{k}: the refused change is kept");
        let now = m.retrieve_session(s.id()).unwrap().unwrap();
        assert_eq!(
            now.get("who"),
            Some(&Value::from("a")),
            "{k}: a's save stands"
        );
        assert_eq!(now.revision(), r0 + 1, "{k}");

        // Renewal is not a write that conflicts: retrieving (which renews) between a
        // load and its save changes nothing for the save.
        let mut c = m.retrieve_session(s.id()).unwrap().unwrap();
        for _ in 0..3 {
            m.retrieve_session(s.id()).unwrap().unwrap();
        }
        c.set("who", Value::from("c")).unwrap();
        assert_eq!(
            m.save_session(&mut c),
            Ok(true),
            "{k}: renewal is no conflict"
        );
        // A clean handle saves nothing, so it cannot conflict either.
        assert_eq!(m.save_session(&mut b.clone()), Err(Error::Conflict), "{k}");
        let mut clean = b;
        clean.mark_clean();
        assert_eq!(m.save_session(&mut clean), Ok(false), "{k}");

        // Last writer wins, when asked for.
        let lww = manager(kind.cache.clone(), SavePolicy::LastWriterWins);
        let mut x = lww.retrieve_session(s.id()).unwrap().unwrap();
        let mut y = lww.retrieve_session(s.id()).unwrap().unwrap();
        x.set("who", Value::from("x")).unwrap();
        y.set("who", Value::from("y")).unwrap();
        lww.save_session(&mut x).unwrap();
        lww.save_session(&mut y).unwrap();
        let now = lww.retrieve_session(s.id()).unwrap().unwrap();
        assert_eq!(
            now.get("who"),
            Some(&Value::from("y")),
            "{k}: last writer won"
        );
    }
}

#[test]
fn a_new_session_is_created_by_save_and_then_guarded() {
    for kind in kinds() {
        let k = kind.name;
        let m = manager(kind.cache.clone(), SavePolicy::DetectConflicts);
        let mut s = Session::new("erin", m.now() + 600.0).unwrap();
        assert!(!s.is_stored());
        assert_eq!(m.save_session(&mut s), Ok(true), "{k}");
        assert!(s.is_stored() && s.revision() == 1, "{k}");
        let mut twin = Session::with_id(s.id(), "erin", m.now() + 600.0).unwrap();
        assert_eq!(
            m.save_session(&mut twin),
            Err(Error::IdCollision),
            "{k}: a fresh session never overwrites a stored one"
        );
        m.remove_session(s.id()).unwrap();
        s.set("n", Value::from(1i64)).unwrap();
        assert_eq!(m.save_session(&mut s), Err(Error::Revoked), "{k}");
    }
}

#[test]
fn records_without_a_revision_read_as_zero_and_are_guarded() {
    for kind in kinds() {
        let k = kind.name;
        let m = manager(kind.cache.clone(), SavePolicy::DetectConflicts);
        // A record as written before revisions existed: no "rev" entry.
        let old = Session::with_id("legacyLegacyLegacy0001", "frank", m.now() + 600.0).unwrap();
        let bytes = old.export().unwrap();
        assert!(!bytes.windows(3).any(|w| w == b"rev"), "{k}");
        kind.cache
            .store(old.id(), "frank", old.expires(), &bytes, StoreMode::Upsert)
            .unwrap();
        let mut a = m.retrieve_session(old.id()).unwrap().unwrap();
        let mut b = m.retrieve_session(old.id()).unwrap().unwrap();
        assert_eq!(a.revision(), 0, "{k}");
        a.set("n", Value::from(1i64)).unwrap();
        b.set("n", Value::from(2i64)).unwrap();
        assert_eq!(m.save_session(&mut a), Ok(true), "{k}");
        assert_eq!(m.save_session(&mut b), Err(Error::Conflict), "{k}");
        m.remove_session(old.id()).unwrap();
        assert_eq!(m.save_session(&mut a.clone()), Ok(false), "{k}: clean");
        a.set("n", Value::from(3i64)).unwrap();
        assert_eq!(m.save_session(&mut a), Err(Error::Revoked), "{k}");
    }
}

#[test]
fn raw_stores_keep_the_records_revision_and_conditional_modes_check_it() {
    for kind in kinds() {
        let k = kind.name;
        let c = &kind.cache;
        let exp = toto_session::Clock::now(&toto_session::SystemClock) + 600.0;
        let mut s = Session::with_id("rawRawRawRawRawRawRaw1", "gina", exp).unwrap();
        assert_eq!(
            c.store_session(&s, StoreMode::IfExists),
            Err(Error::Revoked),
            "{k}"
        );
        assert_eq!(
            c.store_session(&s, StoreMode::IfRevision(0)),
            Err(Error::Revoked),
            "{k}"
        );
        c.store_session(&s, StoreMode::CreateNew).unwrap();
        s.set("n", Value::from(1i64)).unwrap();
        assert_eq!(
            c.store_session(&s, StoreMode::IfRevision(4)),
            Err(Error::Conflict),
            "{k}"
        );
        c.store_session(&s, StoreMode::IfRevision(0)).unwrap();
        assert_eq!(
            c.load_session_renew(s.id(), None)
                .unwrap()
                .unwrap()
                .0
                .get("n"),
            Some(&Value::from(1i64)),
            "{k}"
        );
        c.store_session(&s, StoreMode::IfExists).unwrap();
        c.remove(s.id()).unwrap();
        assert_eq!(
            c.store_session(&s, StoreMode::IfExists),
            Err(Error::Revoked),
            "{k}"
        );
    }
}

/// N threads add one to one counter M times each through `update_session`: no
/// increment is lost.
fn count_with_threads(cache: Arc<dyn SessionCache>, threads: usize, each: usize) {
    let m = Arc::new(manager(cache, SavePolicy::DetectConflicts));
    let mut s = m.create_session("", false).unwrap();
    s.set("n", Value::from(0i64)).unwrap();
    m.save_session(&mut s).unwrap();
    let id = s.id().to_owned();
    let conflicts = Arc::new(Mutex::new(0u64));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (m, id, conflicts) = (m.clone(), id.clone(), conflicts.clone());
            std::thread::spawn(move || {
                for _ in 0..each {
                    let mut tries = 0;
                    m.update_session(&id, 1000, |s| {
                        tries += 1;
                        let n = s.get("n").unwrap().as_i64().unwrap();
                        s.set("n", Value::from(n + 1))
                    })
                    .unwrap();
                    *conflicts.lock().unwrap() += tries - 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let n = m.retrieve_session(&id).unwrap().unwrap();
    assert_eq!(
        n.get("n"),
        Some(&Value::from((threads * each) as i64)),
        "no increment lost ({} conflicts retried)",
        conflicts.lock().unwrap()
    );
}

#[test]
fn threads_incrementing_one_counter_lose_nothing_on_the_memory_cache() {
    count_with_threads(Arc::new(MemoryCache::new()), 8, 250);
    count_with_threads(Arc::new(MemoryCache::compact()), 8, 250);
}

#[test]
fn threads_incrementing_one_counter_lose_nothing_on_redis() {
    let server = RedisServer::start();
    let cache = RedisCache::new(&server.url(), RedisOptions::default()).unwrap();
    count_with_threads(Arc::new(cache), 4, 100);
}

#[test]
fn update_session_gives_up_after_its_attempts_and_reports_the_end() {
    let m = manager(Arc::new(MemoryCache::new()), SavePolicy::DetectConflicts);
    let s = m.create_session("", false).unwrap();
    // Every attempt loses the race: another save lands inside the change.
    let mut calls = 0;
    let got = m.update_session(s.id(), 3, |mine| {
        calls += 1;
        let mut other = m.retrieve_session(mine.id()).unwrap().unwrap();
        other.set("other", Value::from(calls)).unwrap();
        m.save_session(&mut other).unwrap();
        mine.set("mine", Value::Null)
    });
    assert_eq!((got, calls), (Err(Error::Conflict), 3));
    let got = m.update_session(s.id(), 0, |_| Err(Error::NotAuthorized));
    assert_eq!(got, Err(Error::NotAuthorized), "the change's error ends it");
    m.remove_session(s.id()).unwrap();
    assert_eq!(
        m.update_session(s.id(), 3, |_| Ok(())),
        Err(Error::InvalidSessionId)
    );
}

/// Something to run inside a cache call.
type Between = Box<dyn FnOnce(&MemoryCache) + Send>;

/// A cache without `load_renew` (the manager writes renewals back itself) whose load
/// lets something happen between the load and the write-back.
struct InterleavingCache {
    inner: MemoryCache,
    between: Mutex<Option<Between>>,
    armed: AtomicBool,
}

impl SessionCache for InterleavingCache {
    fn store(
        &self,
        id: &str,
        user: &str,
        exp: f64,
        rec: &[u8],
        mode: StoreMode,
    ) -> toto_session::Result<Option<String>> {
        self.inner.store(id, user, exp, rec, mode)
    }
    fn load(&self, id: &str) -> toto_session::Result<Option<Vec<u8>>> {
        let record = self.inner.load(id)?;
        if self.armed.swap(false, SeqCst) {
            if let Some(f) = self.between.lock().unwrap().take() {
                f(&self.inner);
            }
        }
        Ok(record)
    }
    fn load_renew(
        &self,
        id: &str,
        _renew: Option<Renewal>,
    ) -> toto_session::Result<Option<Loaded>> {
        Ok(self.load(id)?.map(|record| Loaded {
            record: record.into(),
            expires: None,
        }))
    }
    fn remove(&self, id: &str) -> toto_session::Result<()> {
        self.inner.remove(id)
    }
}

#[test]
fn the_renewal_write_back_neither_revives_nor_overwrites() {
    const T0: f64 = 1_700_000_000.0;
    let clock = Arc::new(ManualClock::new(T0));
    let cache = Arc::new(InterleavingCache {
        inner: MemoryCache::with_clock(clock.clone()),
        between: Mutex::new(None),
        armed: AtomicBool::new(false),
    });
    let m = Manager::with_clock(
        cache.clone(),
        Arc::new(MemoryAccountStore::new()),
        // Every retrieve an hour later writes back (no granularity).
        ManagerConfig {
            renew_granularity: 0.0,
            ..config(SavePolicy::DetectConflicts)
        },
        clock.clone(),
    )
    .unwrap();
    let arm = |f: Between| {
        *cache.between.lock().unwrap() = Some(f);
        cache.armed.store(true, SeqCst);
    };

    // A logout between the load and the write-back: the session stays gone.
    let s = m.create_session("hal", false).unwrap();
    clock.advance(3600.0);
    let id = s.id().to_owned();
    arm(Box::new(move |c| c.remove(&id).unwrap()));
    assert!(m.retrieve_session(s.id()).unwrap().is_none());
    assert!(cache.inner.load(s.id()).unwrap().is_none(), "not revived");

    // Another request's save between the load and the write-back: it stands.
    let s = m.create_session("hal", false).unwrap();
    clock.advance(3600.0);
    let mut record = m.retrieve_session(s.id()).unwrap().unwrap();
    record.set("by", Value::from("other")).unwrap();
    clock.advance(3600.0);
    arm(Box::new(move |c| {
        let mut r = record;
        let revision = r.revision();
        toto_session::backend::store_session(c, &mut r, StoreMode::IfRevision(revision)).unwrap();
    }));
    let mut loaded = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(loaded.get("by"), None, "handed out as loaded");
    let stored = m.retrieve_session(s.id()).unwrap().unwrap();
    assert_eq!(
        stored.get("by"),
        Some(&Value::from("other")),
        "not overwritten"
    );
    loaded.set("by", Value::from("late")).unwrap();
    assert_eq!(m.save_session(&mut loaded), Err(Error::Conflict));
}
