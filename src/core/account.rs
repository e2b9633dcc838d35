//! An account: named properties of one user, loaded from an [`AccountStore`] lazily (on
//! first access) or in bulk, with modified names tracked so `save` writes only those.
//!
//! `save` forgets the modified set only after the store said yes: on error every
//! change is kept and a retry writes it again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::core::error::{Error, Result};
use crate::core::limits::MAX_NAME_LEN;
use crate::core::password::check_hash;
use crate::core::session::normalize_user_id;
use crate::core::store::AccountStore;
use crate::core::value::Value;

/// The account property that holds the password hash. The generic setters refuse it:
/// it is written by the manager's password calls, or by
/// [`Account::set_password_hash`] when importing hashes.
pub const PASSWORD_PROPERTY: &str = "password";

/// One user's properties, as far as they have been loaded or changed.
pub struct Account {
    store: Arc<dyn AccountStore>,
    user_id: String,
    /// Loaded or set properties; `None` = the store has no such property.
    props: HashMap<String, Option<Value>>,
    modified: BTreeSet<String>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be password hashes or personal data: only names are shown.
        f.debug_struct("Account")
            .field("user_id", &self.user_id)
            .field("loaded", &self.props.keys().collect::<BTreeSet<_>>())
            .field("modified", &self.modified)
            .finish()
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        return Err(Error::TooLarge {
            what: "property name",
            limit: MAX_NAME_LEN,
        });
    }
    Ok(())
}

impl Account {
    /// A handle on `user_id`'s account (lowercased; empty is Toto's 1010). Nothing is
    /// loaded yet.
    pub fn new(store: Arc<dyn AccountStore>, user_id: &str) -> Result<Account> {
        let user_id = normalize_user_id(user_id)?;
        if user_id.is_empty() {
            return Err(Error::InvalidUserId);
        }
        Ok(Account {
            store,
            user_id,
            props: HashMap::new(),
            modified: BTreeSet::new(),
        })
    }

    /// The (lowercased) user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Loads `names` that are neither loaded nor modified, in one store call.
    pub fn load(&mut self, names: &[&str]) -> Result<()> {
        for n in names {
            check_name(n)?;
        }
        let wanted: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !self.props.contains_key(*n))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let found = self.fetch(Some(&wanted))?;
        let mut found: HashMap<String, Value> = found.into_iter().collect();
        for n in wanted {
            let value = found.remove(n);
            self.props.insert(n.to_owned(), value);
        }
        Ok(())
    }

    /// Loads every property of the account in one store call. Properties already
    /// loaded or modified keep their current values (so views of them stay valid);
    /// names the store does not return are remembered as absent.
    pub fn load_all(&mut self) -> Result<()> {
        for (name, value) in self.fetch(None)? {
            self.props.entry(name).or_insert(Some(value));
        }
        Ok(())
    }

    fn fetch(&self, names: Option<&[&str]>) -> Result<Vec<(String, Value)>> {
        self.store
            .load(&self.user_id, names)?
            .ok_or(Error::InvalidCredentials)
    }

    /// The property `name`, loading it on first access; `None` when the account has no
    /// such property.
    pub fn get(&mut self, name: &str) -> Result<Option<&Value>> {
        if !self.props.contains_key(name) {
            self.load(&[name])?;
        }
        Ok(self.props.get(name).and_then(Option::as_ref))
    }

    /// Sets a property (not written until [`Account::save`]). The password hash
    /// property ([`PASSWORD_PROPERTY`]) is refused with [`Error::InvalidArgument`]:
    /// a generic write could store a value no login can match, or replace a hash
    /// behind the password calls' back; see [`Account::set_password_hash`].
    pub fn set(&mut self, name: &str, value: Value) -> Result<()> {
        check_name(name)?;
        if name == PASSWORD_PROPERTY {
            return Err(Error::InvalidArgument(
                "the password property is set with set_password_hash or the password calls",
            ));
        }
        self.set_unchecked(name, value);
        Ok(())
    }

    fn set_unchecked(&mut self, name: &str, value: Value) {
        self.props.insert(name.to_owned(), Some(value));
        self.modified.insert(name.to_owned());
    }

    /// Sets the account's password hash as it is, for migrating accounts from
    /// another system (not written until [`Account::save`]). The hash must be one the
    /// library can verify: an Argon2 PHC string or a Toto `$p5k2$` hash (see
    /// [`crate::core::password::check_hash`]); anything else is [`Error::InvalidArgument`]
    /// (over 512 bytes: [`Error::TooLarge`]). A legacy hash is upgraded to Argon2id at
    /// the next successful login.
    pub fn set_password_hash(&mut self, hash: &str) -> Result<()> {
        check_hash(hash)?;
        self.set_unchecked(PASSWORD_PROPERTY, Value::Text(hash.to_owned()));
        Ok(())
    }

    /// True when `name` has been loaded (or set).
    pub fn is_loaded(&self, name: &str) -> bool {
        self.props.contains_key(name)
    }

    /// True when `name` was set since the last successful save.
    pub fn is_modified(&self, name: &str) -> bool {
        self.modified.contains(name)
    }

    /// Names set since the last successful save, sorted.
    pub fn modified(&self) -> impl Iterator<Item = &str> {
        self.modified.iter().map(String::as_str)
    }

    /// Writes the modified properties (only those). The modified set is cleared only
    /// when the store succeeded.
    pub fn save(&mut self) -> Result<()> {
        if self.modified.is_empty() {
            return Ok(());
        }
        let changes: Vec<(&str, &Value)> = self
            .modified
            .iter()
            .filter_map(|n| {
                self.props
                    .get(n)
                    .and_then(Option::as_ref)
                    .map(|v| (n.as_str(), v))
            })
            .collect();
        self.store.save(&self.user_id, &changes)?;
        self.modified.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{MemoryAccountStore, Property};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Counts loads and fails saves on demand.
    struct Probe {
        inner: MemoryAccountStore,
        loads: AtomicUsize,
        fail_saves: AtomicBool,
        saved: std::sync::Mutex<Vec<Vec<String>>>,
    }

    impl AccountStore for Probe {
        fn load(&self, u: &str, n: Option<&[&str]>) -> Result<Option<Vec<Property>>> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            self.inner.load(u, n)
        }
        fn save(&self, u: &str, p: &[(&str, &Value)]) -> Result<()> {
            if self.fail_saves.load(Ordering::SeqCst) {
                return Err(Error::Backend("disk full".into()));
            }
            self.saved
                .lock()
                .unwrap()
                .push(p.iter().map(|(k, _)| k.to_string()).collect());
            self.inner.save(u, p)
        }
        fn create(&self, u: &str, p: &[(&str, &Value)]) -> Result<()> {
            self.inner.create(u, p)
        }
    }

    fn probe() -> Arc<Probe> {
        let inner = MemoryAccountStore::new();
        let email = Value::from("a@x");
        let age = Value::from(30i64);
        inner
            .create("alice", &[("email", &email), ("age", &age)])
            .unwrap();
        Arc::new(Probe {
            inner,
            loads: AtomicUsize::new(0),
            fail_saves: AtomicBool::new(false),
            saved: Default::default(),
        })
    }

    #[test]
    fn lazy_load_once_per_property() {
        let p = probe();
        let mut a = Account::new(p.clone(), "ALICE").unwrap();
        assert_eq!(a.user_id(), "alice");
        assert_eq!(p.loads.load(Ordering::SeqCst), 0, "nothing loaded up front");
        assert_eq!(a.get("email").unwrap(), Some(&Value::from("a@x")));
        assert_eq!(a.get("email").unwrap(), Some(&Value::from("a@x")));
        assert_eq!(p.loads.load(Ordering::SeqCst), 1);
        assert_eq!(a.get("missing").unwrap(), None);
        assert_eq!(a.get("missing").unwrap(), None);
        assert_eq!(
            p.loads.load(Ordering::SeqCst),
            2,
            "absence is remembered too"
        );
    }

    #[test]
    fn bulk_load_is_one_call_and_skips_known() {
        let p = probe();
        let mut a = Account::new(p.clone(), "alice").unwrap();
        a.set("age", 31i64.into()).unwrap();
        a.load(&["email", "age", "nope"]).unwrap();
        assert_eq!(p.loads.load(Ordering::SeqCst), 1);
        assert!(a.is_loaded("email") && a.is_loaded("nope"));
        assert_eq!(
            a.get("age").unwrap(),
            Some(&Value::from(31i64)),
            "modified value kept"
        );
        a.load_all().unwrap();
        assert_eq!(
            a.get("age").unwrap(),
            Some(&Value::from(31i64)),
            "modified value kept"
        );
    }

    #[test]
    fn save_writes_only_modified_and_keeps_them_on_error() {
        let p = probe();
        let mut a = Account::new(p.clone(), "alice").unwrap();
        a.get("email").unwrap();
        a.set("age", 31i64.into()).unwrap();
        p.fail_saves.store(true, Ordering::SeqCst);
        assert_eq!(a.save(), Err(Error::Backend("disk full".into())));
        assert!(a.is_modified("age"), "nothing forgotten on error");
        p.fail_saves.store(false, Ordering::SeqCst);
        a.save().unwrap();
        assert!(!a.is_modified("age"));
        assert_eq!(*p.saved.lock().unwrap(), vec![vec!["age".to_owned()]]);
        a.save().unwrap();
        assert_eq!(
            p.saved.lock().unwrap().len(),
            1,
            "nothing to write, no store call"
        );
        let mut fresh = Account::new(p.clone(), "alice").unwrap();
        assert_eq!(fresh.get("age").unwrap(), Some(&Value::from(31i64)));
    }

    #[test]
    fn the_password_is_set_only_as_a_checked_hash() {
        let p = probe();
        let mut a = Account::new(p.clone(), "alice").unwrap();
        assert!(matches!(
            a.set(PASSWORD_PROPERTY, Value::from("plaintext")),
            Err(Error::InvalidArgument(_))
        ));
        assert!(!a.is_modified(PASSWORD_PROPERTY));
        assert!(matches!(
            a.set_password_hash("plaintext"),
            Err(Error::InvalidArgument(_))
        ));
        let legacy = crate::core::password::hash_legacy("pw", "abcdEFGH", 400).unwrap();
        a.set_password_hash(&legacy).unwrap();
        assert!(a.is_modified(PASSWORD_PROPERTY));
        a.save().unwrap();
        let mut fresh = Account::new(p, "alice").unwrap();
        assert_eq!(
            fresh.get(PASSWORD_PROPERTY).unwrap(),
            Some(&Value::Text(legacy))
        );
    }

    #[test]
    fn missing_account_and_empty_id() {
        let p = probe();
        assert_eq!(
            Account::new(p.clone(), "").err(),
            Some(Error::InvalidUserId)
        );
        let mut ghost = Account::new(p, "ghost").unwrap();
        assert_eq!(ghost.get("x").err(), Some(Error::InvalidCredentials));
    }
}
