//! Fault injection: backends that fail, time out, hand back truncated or garbage
//! records, or rename ids unexpectedly. Every call gives a documented error, the
//! in-memory session/account keeps its unsaved changes, and a retry after the fault
//! clears succeeds.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use toto_session::backend::{Loaded, Property, Renewal};
use toto_session::password::PasswordPolicy;
use toto_session::{
    Account, AccountStore, Error, Manager, ManagerConfig, ManualClock, MemoryAccountStore,
    MemoryCache, Result, SessionCache, StoreMode, Value,
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Fault {
    None = 0,
    Fail,
    Unavailable,
    Slow,
    Truncated,
    Garbage,
    Rename,
    BadRename,
}

impl Fault {
    fn from_u8(v: u8) -> Fault {
        [
            Fault::None,
            Fault::Fail,
            Fault::Unavailable,
            Fault::Slow,
            Fault::Truncated,
            Fault::Garbage,
            Fault::Rename,
            Fault::BadRename,
        ][v as usize]
    }
}

/// A memory cache with a fault switch.
struct FaultyCache {
    inner: MemoryCache,
    fault: AtomicU8,
}

impl FaultyCache {
    fn set(&self, f: Fault) {
        self.fault.store(f as u8, Ordering::SeqCst);
    }
    fn fault(&self) -> Fault {
        Fault::from_u8(self.fault.load(Ordering::SeqCst))
    }
    fn check(&self) -> Result<()> {
        match self.fault() {
            Fault::Fail => Err(Error::Backend("injected failure".into())),
            Fault::Unavailable => Err(Error::Unavailable("injected outage".into())),
            Fault::Slow => {
                std::thread::sleep(Duration::from_millis(20));
                Err(Error::Unavailable("injected timeout".into()))
            }
            _ => Ok(()),
        }
    }
    fn mangle(&self, record: Vec<u8>) -> Vec<u8> {
        match self.fault() {
            Fault::Truncated => record[..record.len() / 2].to_vec(),
            Fault::Garbage => b"\xff\xfe\xfd not cbor".to_vec(),
            _ => record,
        }
    }
}

impl SessionCache for FaultyCache {
    fn store(
        &self,
        id: &str,
        user: &str,
        exp: f64,
        rec: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>> {
        self.check()?;
        match self.fault() {
            Fault::Rename => {
                let new_id = format!("moved-{id}");
                self.inner.store(&new_id, user, exp, rec, mode)?;
                Ok(Some(new_id))
            }
            Fault::BadRename => Err(Error::BackendMisbehaved("renamed to an invalid id".into())),
            _ => self.inner.store(id, user, exp, rec, mode),
        }
    }
    fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.check()?;
        Ok(self.inner.load(id)?.map(|r| self.mangle(r)))
    }
    fn load_renew(&self, id: &str, renew: Option<Renewal>) -> Result<Option<Loaded>> {
        self.check()?;
        Ok(self.inner.load_renew(id, renew)?.map(|l| Loaded {
            record: self.mangle(l.record.to_vec()).into(),
            expires: l.expires,
        }))
    }
    fn remove(&self, id: &str) -> Result<()> {
        self.check()?;
        self.inner.remove(id)
    }
    fn remove_user(&self, user: &str) -> Result<u64> {
        self.check()?;
        self.inner.remove_user(user)
    }
}

/// A memory account store with a fault switch.
struct FaultyStore {
    inner: MemoryAccountStore,
    fault: AtomicU8,
}

impl FaultyStore {
    fn check(&self) -> Result<()> {
        match Fault::from_u8(self.fault.load(Ordering::SeqCst)) {
            Fault::None => Ok(()),
            Fault::Unavailable | Fault::Slow => Err(Error::Unavailable("db down".into())),
            _ => Err(Error::Backend("db error".into())),
        }
    }
}

impl AccountStore for FaultyStore {
    fn load(&self, u: &str, n: Option<&[&str]>) -> Result<Option<Vec<Property>>> {
        self.check()?;
        self.inner.load(u, n)
    }
    fn save(&self, u: &str, p: &[(&str, &Value)]) -> Result<()> {
        self.check()?;
        self.inner.save(u, p)
    }
    fn create(&self, u: &str, p: &[(&str, &Value)]) -> Result<()> {
        self.check()?;
        self.inner.create(u, p)
    }
}

fn setup() -> (Arc<FaultyCache>, Arc<FaultyStore>, Manager) {
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let cache = Arc::new(FaultyCache {
        inner: MemoryCache::with_clock(clock.clone()),
        fault: AtomicU8::new(0),
    });
    let store = Arc::new(FaultyStore {
        inner: MemoryAccountStore::new(),
        fault: AtomicU8::new(0),
    });
    let config = ManagerConfig {
        passwords: PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..ManagerConfig::default()
    };
    let manager = Manager::with_clock(cache.clone(), store.clone(), config, clock).unwrap();
    (cache, store, manager)
}

#[test]
fn failed_saves_keep_changes_and_retry_succeeds() {
    let (cache, _, m) = setup();
    let mut s = m.create_session("u", true).unwrap();
    for fault in [Fault::Fail, Fault::Unavailable, Fault::Slow] {
        s.set("cart", Value::from(format!("{fault:?}"))).unwrap();
        cache.set(fault);
        let err = m.save_session(&mut s).unwrap_err();
        assert!(
            matches!(err, Error::Backend(_) | Error::Unavailable(_)),
            "{fault:?}: {err:?}"
        );
        assert!(s.is_dirty(), "{fault:?}: still dirty");
        assert_eq!(s.get("cart"), Some(&Value::from(format!("{fault:?}"))));
        cache.set(Fault::None);
        assert!(m.save_session(&mut s).unwrap(), "retry writes");
        let back = m.retrieve_session(s.id()).unwrap().unwrap();
        assert_eq!(back.get("cart"), Some(&Value::from(format!("{fault:?}"))));
    }
}

#[test]
fn bad_records_are_errors_and_leave_the_cache_intact() {
    let (cache, _, m) = setup();
    let mut s = m.create_session("u", false).unwrap();
    s.set("n", Value::from(1i64)).unwrap();
    m.save_session(&mut s).unwrap();
    for fault in [Fault::Truncated, Fault::Garbage] {
        cache.set(fault);
        assert!(
            matches!(m.retrieve_session(s.id()), Err(Error::Decode(_))),
            "{fault:?}"
        );
        let mut copy = s.clone();
        assert!(matches!(
            m.refresh_session(&mut copy),
            Err(Error::Decode(_))
        ));
        assert_eq!(copy, s, "a failed refresh leaves the session as it was");
        cache.set(Fault::None);
        assert_eq!(
            m.retrieve_session(s.id()).unwrap().unwrap().get("n"),
            Some(&Value::from(1i64))
        );
    }
}

#[test]
fn renames_are_followed_and_bad_renames_reported() {
    let (cache, _, m) = setup();
    cache.set(Fault::Rename);
    let s = m.create_session("u", false).unwrap();
    assert!(s.id().starts_with("moved-"));
    cache.set(Fault::None);
    assert!(m.retrieve_session(s.id()).unwrap().is_some());
    let mut s2 = m.create_session("u", false).unwrap();
    s2.set("k", Value::Bool(true)).unwrap();
    cache.set(Fault::BadRename);
    assert!(matches!(
        m.save_session(&mut s2),
        Err(Error::BackendMisbehaved(_))
    ));
    assert!(s2.is_dirty());
    cache.set(Fault::None);
    m.save_session(&mut s2).unwrap();
}

#[test]
fn failed_rotation_keeps_the_old_id_and_retry_works() {
    let (cache, _, m) = setup();
    let mut s = m.create_session("u", true).unwrap();
    let old = s.id().to_owned();
    cache.set(Fault::Unavailable);
    assert!(matches!(
        m.rotate_session(&mut s),
        Err(Error::Unavailable(_))
    ));
    assert_eq!(s.id(), old);
    cache.set(Fault::None);
    m.rotate_session(&mut s).unwrap();
    assert_ne!(s.id(), old);
    assert!(m.retrieve_session(&old).unwrap().is_none());
}

#[test]
fn account_faults_keep_modifications_and_login_reports_outages() {
    let (_, store, m) = setup();
    m.create_account("acc", "pw", &[("email", &Value::from("a@x"))])
        .unwrap();
    let mut account: Account = m.account("acc").unwrap();
    store.fault.store(Fault::Fail as u8, Ordering::SeqCst);
    assert!(
        matches!(account.get("email"), Err(Error::Backend(_))),
        "lazy load reports the failure"
    );
    account.set("email", Value::from("b@x")).unwrap();
    assert!(matches!(account.save(), Err(Error::Backend(_))));
    assert!(account.is_modified("email"));
    assert!(
        matches!(m.login("acc", "pw"), Err(Error::Backend(_))),
        "an outage is not 'wrong password'"
    );
    store
        .fault
        .store(Fault::Unavailable as u8, Ordering::SeqCst);
    assert!(matches!(m.login("acc", "pw"), Err(Error::Unavailable(_))));
    store.fault.store(Fault::None as u8, Ordering::SeqCst);
    account.save().unwrap();
    assert_eq!(
        m.account("acc").unwrap().get("email").unwrap(),
        Some(&Value::from("b@x"))
    );
    m.login("acc", "pw").unwrap();
}

#[test]
fn password_change_during_an_outage_changes_nothing() {
    let (cache, store, m) = setup();
    m.create_account("p", "old", &[]).unwrap();
    let s = m.login("p", "old").unwrap();
    store.fault.store(Fault::Fail as u8, Ordering::SeqCst);
    assert!(m.change_password("p", "old", "new", None).is_err());
    store.fault.store(Fault::None as u8, Ordering::SeqCst);
    assert!(
        m.retrieve_session(s.id()).unwrap().is_some(),
        "nobody logged out"
    );
    m.login("p", "old").unwrap();
    // Store succeeds but the cache cannot clear sessions: reported, password changed.
    cache.set(Fault::Fail);
    assert!(matches!(
        m.change_password("p", "old", "new", None),
        Err(Error::Backend(_))
    ));
    cache.set(Fault::None);
    m.login("p", "new").unwrap();
}
