//! The session lifecycle around a cache and an account store: Toto's `DBConnection`.
//!
//! A [`Manager`] is shared by any number of threads (it is `Send + Sync`; wrap it in an
//! `Arc`). Rules kept from Toto 1.0 (see TOTO.md) unless noted:
//! - TTLs: user sessions `session_ttl` (365 days), anonymous `anon_session_ttl` (1 day;
//!   0 means `session_ttl`). Renewal on retrieve: `target = now + renew`, and when the
//!   stored expiry is before `target` it becomes `target` and is written back; `renew`
//!   0 means the TTL, so by default expiry slides to now + TTL on every request.
//!   Better than Toto: the write is skipped while the stored expiry lags the target by
//!   no more than `renew_granularity` (default 1 %) of the window, so a retrieve
//!   usually writes nothing and the expiry still slides to within that fraction.
//! - Expired sessions are never returned, and are removed from the cache when met.
//! - User ids are lowercased; empty is anonymous (sessions) or Toto's 1010 (accounts).
//! - Login: unknown user and wrong password are the same 1005 and both run one password
//!   hash check (same timing class). A legacy `$p5k2$` hash is upgraded to Argon2id on
//!   the next successful login.
//! - Better than Toto: new and rotated ids are stored create-only (collision-safe); a
//!   password change or reset logs the user out everywhere (the current session, when
//!   given, survives under a fresh id).
//! - Better than Toto: revocation sticks. A save replaces the stored record only while
//!   it exists, so a session removed (logout), rotated away, cleared or expired is never
//!   brought back by a handle loaded before: that save is [`Error::Revoked`]. The
//!   renewal write-back obeys the same rule.
//! - Better than Toto: lost updates are detected. Each record carries a revision; with
//!   the default [`SavePolicy::DetectConflicts`] a save over a newer revision than the
//!   one loaded is [`Error::Conflict`] ([`Manager::update_session`] retries).
//!   Renewal does not change the revision, so it never causes a conflict.

use std::sync::Arc;

use crate::core::account::Account;
use crate::core::clock::{self, Clock, SystemClock};
use crate::core::error::{Error, Result};
use crate::core::id::{generate_id, validate_session_id};
use crate::core::password::{generate_password, PasswordPolicy, Passwords, Verdict};
use crate::core::session::{normalize_user_id, Session};
use crate::core::session_io::{load_session, store_session, store_session_as, LoadedSession};
use crate::core::sign::MacText;
use crate::core::store::{AccountStore, Renewal, SessionCache, StoreMode};
use crate::core::value::Value;

pub use crate::core::account::PASSWORD_PROPERTY;
/// How many fresh ids are tried when a create-only store collides.
const MAX_ID_ATTEMPTS: usize = 4;
const DAY: f64 = 24.0 * 60.0 * 60.0;

/// What a save does when another save landed since the session was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SavePolicy {
    /// Refuse it with [`Error::Conflict`], writing nothing (the default: two requests
    /// changing one session at once would otherwise silently lose one's changes).
    #[default]
    DetectConflicts,
    /// Overwrite it (Toto's behaviour). A removed session still stays removed.
    LastWriterWins,
}

/// Lifetimes, password costs and the save policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManagerConfig {
    /// Lifetime of a user session, seconds (default 365 days).
    pub session_ttl: f64,
    /// Lifetime of an anonymous session, seconds (default 1 day; 0 = `session_ttl`).
    pub anon_session_ttl: f64,
    /// Renewal window of a user session, seconds (0 = its TTL).
    pub session_renew: f64,
    /// Renewal window of an anonymous session, seconds (0 = its TTL).
    pub anon_session_renew: f64,
    /// Argon2id costs for new password hashes.
    pub passwords: PasswordPolicy,
    /// Conflict detection on save (default [`SavePolicy::DetectConflicts`]).
    pub save_policy: SavePolicy,
    /// Most live sessions one user may have (default 0: no cap, as Toto). Creating one
    /// more (a login) first removes that user's sessions that expire soonest. Needs a
    /// cache that implements [`SessionCache::trim_user`] (memory, Redis); with any
    /// other, creating a user's session fails with [`Error::Unsupported`].
    pub max_sessions_per_user: usize,
    /// How far a session's expiry may lag its renewal target before a retrieve moves
    /// it, as a fraction (0 to 1) of the renewal window (default 0.01: with a 365-day
    /// window, an expiry is rewritten at most every 3.65 days per session). 0 renews on
    /// every retrieve that finds the expiry before its target, as Toto. Every cache
    /// applies the same rule ([`Renewal::renewed_expiry`]).
    pub renew_granularity: f64,
}

/// Default [`ManagerConfig::renew_granularity`].
pub const DEFAULT_RENEW_GRANULARITY: f64 = 0.01;

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            session_ttl: 365.0 * DAY,
            anon_session_ttl: DAY,
            session_renew: 0.0,
            anon_session_renew: 0.0,
            passwords: PasswordPolicy::default(),
            save_policy: SavePolicy::default(),
            max_sessions_per_user: 0,
            renew_granularity: DEFAULT_RENEW_GRANULARITY,
        }
    }
}

impl ManagerConfig {
    fn validate(&self) -> Result<()> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !(self.session_ttl.is_finite() && self.session_ttl > 0.0) {
            return Err(Error::InvalidArgument(
                "session_ttl must be a positive number of seconds",
            ));
        }
        if !(ok(self.anon_session_ttl) && ok(self.session_renew) && ok(self.anon_session_renew)) {
            return Err(Error::InvalidArgument(
                "TTLs and renew windows must be finite and not negative",
            ));
        }
        if !(0.0..=1.0).contains(&self.renew_granularity) {
            return Err(Error::InvalidArgument(
                "renew_granularity must be a fraction between 0 and 1",
            ));
        }
        Ok(())
    }

    /// The TTL that applies to a session (Toto: anonymous 0 falls back to the user TTL).
    pub fn ttl(&self, anonymous: bool) -> f64 {
        if anonymous && self.anon_session_ttl > 0.0 {
            self.anon_session_ttl
        } else {
            self.session_ttl
        }
    }

    /// The renewal window that applies to a session (0 falls back to its TTL).
    pub fn renew(&self, anonymous: bool) -> f64 {
        let renew = if anonymous {
            self.anon_session_renew
        } else {
            self.session_renew
        };
        if renew > 0.0 {
            renew
        } else {
            self.ttl(anonymous)
        }
    }
}

/// Sessions and accounts over a cache and an account store.
pub struct Manager {
    cache: Arc<dyn SessionCache>,
    store: Arc<dyn AccountStore>,
    clock: Arc<dyn Clock>,
    /// Whether retrieves may read the clock roughly (`clock::reading`): the cache
    /// settles a lagging reading's close calls
    /// ([`SessionCache::settles_lagging_renewal`]).
    rough_clock: bool,
    config: ManagerConfig,
    passwords: Passwords,
    /// A hash checked when the user is unknown, so that answer takes as long as a
    /// wrong password.
    decoy_hash: String,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager on the wall clock.
    pub fn new(
        cache: Arc<dyn SessionCache>,
        store: Arc<dyn AccountStore>,
        config: ManagerConfig,
    ) -> Result<Manager> {
        Manager::with_clock(cache, store, config, Arc::new(SystemClock))
    }

    /// A manager on a given clock (tests, simulations).
    pub fn with_clock(
        cache: Arc<dyn SessionCache>,
        store: Arc<dyn AccountStore>,
        config: ManagerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Manager> {
        config.validate()?;
        let passwords = Passwords::new(config.passwords)?;
        let decoy_hash = passwords.hash(&generate_id())?;
        Ok(Manager {
            rough_clock: cache.settles_lagging_renewal(),
            cache,
            store,
            clock,
            config,
            passwords,
            decoy_hash,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }

    /// The manager's current time.
    pub fn now(&self) -> f64 {
        self.clock.now()
    }

    /// The cache sessions live in.
    pub fn cache(&self) -> &Arc<dyn SessionCache> {
        &self.cache
    }

    /// The store accounts live in.
    pub fn store(&self) -> &Arc<dyn AccountStore> {
        &self.store
    }

    // ---- sessions ----

    /// Creates and stores a session for `user_id` (empty = anonymous), with a fresh
    /// per-session HMAC key when `with_key` (as Toto's login does).
    pub fn create_session(&self, user_id: &str, with_key: bool) -> Result<Session> {
        let user_id = normalize_user_id(user_id)?;
        let expires = self.now() + self.config.ttl(user_id.is_empty());
        let mut session = Session::new(&user_id, expires)?;
        if with_key {
            session.generate_key();
        }
        let cap = self.config.max_sessions_per_user;
        if cap > 0 && !user_id.is_empty() {
            // Room for the new one: the user keeps the cap - 1 that expire last.
            self.cache.trim_user(&user_id, cap - 1)?;
        }
        self.store_new(&mut session)?;
        Ok(session)
    }

    /// Stores a session under its id create-only, moving to a fresh id on collision.
    fn store_new(&self, session: &mut Session) -> Result<()> {
        for _ in 0..MAX_ID_ATTEMPTS {
            match store_session(self.cache.as_ref(), session, StoreMode::CreateNew) {
                Err(Error::IdCollision) => session.set_id(&generate_id())?,
                done => return done,
            }
        }
        Err(Error::IdCollision)
    }

    /// Writes a session's changes, honouring a rename, and marks it clean. A stored
    /// session replaces its record only while that exists (and, detecting conflicts,
    /// only at the revision it was loaded at); one never stored is created.
    fn write(&self, session: &mut Session) -> Result<()> {
        if !session.is_stored() {
            return store_session(self.cache.as_ref(), session, StoreMode::CreateNew);
        }
        let mode = match self.config.save_policy {
            SavePolicy::DetectConflicts => StoreMode::IfRevision(session.revision()),
            SavePolicy::LastWriterWins => StoreMode::IfExists,
        };
        store_session(self.cache.as_ref(), session, mode)
    }

    /// Loads a live session: `None` when missing or expired (an expired one is removed).
    ///
    /// With `renew`, Toto's rule is applied with one target computed here: a cache
    /// that reports its expiry has renewed in the same call (one round trip, nothing
    /// written back); otherwise the session is written back only when the rule moves
    /// its expiry.
    fn load_live(&self, id: &str, renew: bool) -> Result<Option<Session>> {
        validate_session_id(id)?;
        // A cache that settles close calls itself is given the cheaper rough reading.
        let (now, lag) = if self.rough_clock {
            clock::reading(&*self.clock)
        } else {
            (self.now(), 0.0)
        };
        let renewal = renew.then(|| {
            let (user, anonymous) = (self.config.renew(false), self.config.renew(true));
            Renewal {
                system_now: self.clock.is_system().then_some(now),
                lag,
                user: now + user,
                anonymous: now + anonymous,
                user_slack: user * self.config.renew_granularity,
                anonymous_slack: anonymous * self.config.renew_granularity,
            }
        });
        let Some(LoadedSession {
            mut session,
            expiry_from_cache,
        }) = load_session(self.cache.as_ref(), id, renewal)?
        else {
            return Ok(None);
        };
        if clock::reached(session.expires(), now, lag) {
            // Reclaiming is best effort: the session is gone for the caller either way.
            let _ = self.cache.remove(id);
            return Ok(None);
        }
        if let (Some(r), false) = (renewal, expiry_from_cache) {
            if let Some(target) = r.renewed_expiry(session.user_id(), session.expires()) {
                // Only over the revision just loaded, keeping it: renewal is not a
                // change of contents, and must neither revive nor overwrite.
                let loaded = session.clone();
                session.set_expires(target)?;
                let revision = session.revision();
                match store_session_as(
                    self.cache.as_ref(),
                    &mut session,
                    StoreMode::IfRevision(revision),
                    revision,
                ) {
                    Ok(()) => {}
                    // Removed in between: gone for the caller too.
                    Err(Error::Revoked) => return Ok(None),
                    // Saved in between (and so renewed by that save): hand out what was
                    // loaded; saving it will report the conflict.
                    Err(Error::Conflict) => session = loaded,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Some(session))
    }

    /// Toto's `retrieve_session(id)`: the live session, renewed, or `None` when it is
    /// missing or expired. A malformed id is Toto's 1007; a record the cache holds but
    /// that does not decode is an error (the record is left in place).
    pub fn retrieve_session(&self, id: &str) -> Result<Option<Session>> {
        self.load_live(id, true)
    }

    /// Writes the session if it changed; returns whether a write happened. On failure
    /// the session keeps its changes (and stays dirty) for a retry.
    ///
    /// A session that was stored is saved only over its stored record: when that is
    /// gone (logout, rotation, clear_sessions, password change, expiry) the save is
    /// [`Error::Revoked`] and writes nothing. With [`SavePolicy::DetectConflicts`] a
    /// record saved by someone else since this session was loaded is
    /// [`Error::Conflict`] (nothing written): retrieve again, reapply the change, save
    /// ([`Manager::update_session`] does that).
    pub fn save_session(&self, session: &mut Session) -> Result<bool> {
        if !session.is_dirty() {
            return Ok(false);
        }
        self.write(session)?;
        Ok(true)
    }

    /// The end of a request, as an HTTP layer finishes it: saves the session when it
    /// changed ([`Manager::save_session`]), then signs the response body
    /// ([`Session::sign_response`]). `None` when the session has no key (the answer goes
    /// unsigned); when the save fails nothing is signed.
    pub fn finish_response(&self, session: &mut Session, body: &[u8]) -> Result<Option<MacText>> {
        self.save_session(session)?;
        if session.key().is_none() {
            return Ok(None);
        }
        session.sign_response(body).map(Some)
    }

    /// Retrieves session `id`, applies `change` and saves it; on [`Error::Conflict`]
    /// does it all again, up to `attempts` times in all (at least once). The change must
    /// be safe to run more than once (it sees fresh state each time). Returns the
    /// session as saved. Missing or expired: Toto's 1007; removed while updating:
    /// [`Error::Revoked`]; still conflicting after the last attempt: [`Error::Conflict`].
    /// An error from `change` ends the loop and is returned (nothing saved).
    pub fn update_session(
        &self,
        id: &str,
        attempts: u32,
        mut change: impl FnMut(&mut Session) -> Result<()>,
    ) -> Result<Session> {
        let mut left = attempts.max(1);
        loop {
            let mut session = self.retrieve_session(id)?.ok_or(Error::InvalidSessionId)?;
            change(&mut session)?;
            match self.save_session(&mut session) {
                Ok(_) => return Ok(session),
                Err(Error::Conflict) if left > 1 => left -= 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Replaces the session with what the cache holds now (Toto's `refresh`). Gone or
    /// expired: Toto's 1007, and the session is left as it was.
    pub fn refresh_session(&self, session: &mut Session) -> Result<()> {
        let fresh = self
            .load_live(session.id(), false)?
            .ok_or(Error::InvalidSessionId)?;
        *session = fresh;
        Ok(())
    }

    /// Moves the session to a fresh id (fixation protection): stored create-only under
    /// the new id, then the old id removed. If storing fails the session keeps its old
    /// id; if only the removal fails, the session has its new id and the error is
    /// returned (the old record then lives until its expiry).
    ///
    /// A stored session is first saved under its old id with the save rules (so a
    /// session already removed is [`Error::Revoked`] and is not revived under a new id,
    /// and a conflicting one is [`Error::Conflict`]).
    pub fn rotate_session(&self, session: &mut Session) -> Result<()> {
        if session.is_stored() {
            // Confirms the old record is still there (and at this revision), in one
            // atomic step; also writes any pending change.
            self.write(session)?;
        }
        let old_id = session.id().to_owned();
        let was_dirty = session.is_dirty();
        session.set_id(&generate_id())?;
        if let Err(e) = self.store_new(session) {
            session.set_id(&old_id)?;
            if !was_dirty {
                session.mark_clean();
            }
            return Err(e);
        }
        self.cache.remove(&old_id)
    }

    /// Removes a session (logout). A missing id is fine.
    pub fn remove_session(&self, id: &str) -> Result<()> {
        validate_session_id(id)?;
        self.cache.remove(id)
    }

    /// Removes every session of a user; returns how many.
    pub fn clear_sessions(&self, user_id: &str) -> Result<u64> {
        self.cache.remove_user(&normalize_user_id(user_id)?)
    }

    /// Retrieves (and so renews, as Toto's handler does: one cache round trip) session
    /// `session_id`, then checks a request's `x-toto-hmac` over METHOD + URI + BODY.
    /// Unknown, expired or malformed id: 1007. Bad HMAC, or a session without a key:
    /// 1008.
    pub fn verify_request(
        &self,
        session_id: &str,
        mac: &[u8],
        method: &[u8],
        uri: &[u8],
        body: &[u8],
    ) -> Result<Session> {
        let session = match self.retrieve_session(session_id) {
            Ok(Some(s)) => s,
            Ok(None) | Err(Error::InvalidSessionId) => return Err(Error::InvalidSessionId),
            Err(e) => return Err(e),
        };
        session.verify_request(mac, method, uri, body)?;
        Ok(session)
    }

    // ---- accounts ----

    fn account_id(user_id: &str) -> Result<String> {
        let user_id = normalize_user_id(user_id)?;
        if user_id.is_empty() {
            return Err(Error::InvalidUserId);
        }
        Ok(user_id)
    }

    /// Toto's `create_account`: empty id 1010, existing id 1006; stores `properties`
    /// plus the password's Argon2id hash (the `password` property is reserved).
    pub fn create_account(
        &self,
        user_id: &str,
        password: &str,
        properties: &[(&str, &Value)],
    ) -> Result<()> {
        let user_id = Manager::account_id(user_id)?;
        if properties.iter().any(|(k, _)| *k == PASSWORD_PROPERTY) {
            return Err(Error::InvalidArgument(
                "the password property is set from the password argument",
            ));
        }
        // Toto answers 1006 before any password work; the store's create still refuses
        // an id taken in between.
        if self.store.load(&user_id, Some(&[]))?.is_some() {
            return Err(Error::UserIdExists);
        }
        let hash = Value::Text(self.passwords.hash(password)?);
        let mut all: Vec<(&str, &Value)> = properties.to_vec();
        all.push((PASSWORD_PROPERTY, &hash));
        self.store.create(&user_id, &all)
    }

    /// Checks a user's password. Unknown user and wrong password are both 1005 and
    /// both cost one hash check. A legacy hash is upgraded when it matches (an upgrade
    /// that cannot be written is retried at the next login).
    fn check_password(&self, user_id: &str, password: &str) -> Result<()> {
        let stored = self
            .store
            .load(user_id, Some(&[PASSWORD_PROPERTY]))?
            .and_then(|props| props.into_iter().find(|(k, _)| k == PASSWORD_PROPERTY))
            .and_then(|(_, v)| match v {
                Value::Text(h) => Some(h),
                _ => None,
            });
        let Some(hash) = stored else {
            let _ = self.passwords.verify(password, &self.decoy_hash);
            return Err(Error::InvalidCredentials);
        };
        match self.passwords.verify(password, &hash)? {
            Verdict::Mismatch => Err(Error::InvalidCredentials),
            Verdict::Match => Ok(()),
            Verdict::MatchNeedsRehash => {
                if let Ok(new_hash) = self.passwords.hash(password) {
                    let _ = self
                        .store
                        .save(user_id, &[(PASSWORD_PROPERTY, &Value::Text(new_hash))]);
                }
                Ok(())
            }
        }
    }

    /// Toto's login: verifies the password and creates a session with a fresh HMAC key.
    /// Unknown user, empty user id or wrong password: 1005.
    pub fn login(&self, user_id: &str, password: &str) -> Result<Session> {
        let user_id = normalize_user_id(user_id)?;
        if user_id.is_empty() {
            let _ = self.passwords.verify(password, &self.decoy_hash);
            return Err(Error::InvalidCredentials);
        }
        self.check_password(&user_id, password)?;
        self.create_session(&user_id, true)
    }

    fn set_password_and_log_out(
        &self,
        user_id: &str,
        password: &str,
        current: Option<&mut Session>,
    ) -> Result<()> {
        let hash = Value::Text(self.passwords.hash(password)?);
        self.store.save(user_id, &[(PASSWORD_PROPERTY, &hash)])?;
        match self.cache.remove_user(user_id) {
            Ok(_) | Err(Error::Unsupported(_)) => {}
            Err(e) => return Err(e),
        }
        if let Some(session) = current.filter(|s| s.user_id() == user_id) {
            session.set_id(&generate_id())?;
            self.store_new(session)?;
        }
        Ok(())
    }

    /// Toto's `change_password`: wrong old password (or unknown user) is 1005. On
    /// success every session of the user is removed; `current`, when it is the user's,
    /// is stored again under a fresh id so the caller stays logged in.
    pub fn change_password(
        &self,
        user_id: &str,
        old: &str,
        new: &str,
        current: Option<&mut Session>,
    ) -> Result<()> {
        let user_id = Manager::account_id(user_id)?;
        self.check_password(&user_id, old)?;
        self.set_password_and_log_out(&user_id, new, current)
    }

    /// Toto's `generate_password`: sets a random 10-character password (OS CSPRNG) and
    /// returns it; every session of the user is removed. Unknown user: 1005.
    pub fn generate_password(&self, user_id: &str) -> Result<String> {
        let user_id = Manager::account_id(user_id)?;
        let password = generate_password();
        self.set_password_and_log_out(&user_id, &password, None)?;
        Ok(password)
    }

    /// The account of `user_id` (nothing loaded yet). Empty id: 1010.
    pub fn account(&self, user_id: &str) -> Result<Account> {
        Account::new(self.store.clone(), &Manager::account_id(user_id)?)
    }

    /// Toto's `get_account` for a session: 1004 for an anonymous session.
    pub fn session_account(&self, session: &Session) -> Result<Account> {
        if session.is_anonymous() {
            return Err(Error::NotAuthorized);
        }
        self.account(session.user_id())
    }
}
