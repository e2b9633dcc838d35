//! The storage contracts: [`SessionCache`] (session records by id) and
//! [`AccountStore`] (account properties by user id). The core (the manager) is written
//! against these traits only; implementations live in `crate::backend` (memory, Redis)
//! or come from the host (C vtables in `crate::ffi`, Go and Ruby objects through them).

use std::sync::Arc;

use crate::core::clock;
use crate::core::error::{Error, Result};
use crate::core::session::Session;
use crate::core::value::Value;

/// How [`SessionCache::store`] treats an id that is already present (or absent).
///
/// Every store writes the record's revision (see [`crate::core::record`]) along with it; a
/// cache keeps it next to the entry to compare in the conditional modes. Each mode is
/// one atomic step: the check and the write cannot be separated by another store,
/// remove or remove_user of the same entry. An expired entry counts as absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// Insert or overwrite.
    Upsert,
    /// Insert only; an existing live entry is [`Error::IdCollision`] (new and rotated ids).
    CreateNew,
    /// Replace a live entry only if it holds this revision (a save of a session loaded
    /// at that revision). Absent: [`Error::Revoked`] (nothing written: a removed session
    /// stays removed); another revision: [`Error::Conflict`] (nothing written).
    IfRevision(u64),
    /// Replace a live entry whatever its revision (last writer wins). Absent:
    /// [`Error::Revoked`].
    IfExists,
}

/// Renewal targets for [`SessionCache::load_renew`] (Unix seconds), and the rule every
/// cache applies with them: a session's expiry moves to its target only when it lags
/// the target by more than the slack ([`Renewal::renewed_expiry`]). With the default
/// slack (1 % of the renewal window, see `ManagerConfig::renew_granularity`) a
/// retrieve writes nothing in the common case, and Toto's sliding expiry holds to
/// within that fraction. User and anonymous sessions have their own targets and slacks
/// (their renewal windows may differ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Renewal {
    /// Target for sessions with a user id.
    pub user: f64,
    /// Target for anonymous sessions.
    pub anonymous: f64,
    /// How far (seconds) a user session's expiry may lag `user` and stay as it is.
    pub user_slack: f64,
    /// How far (seconds) an anonymous session's expiry may lag `anonymous` and stay.
    pub anonymous_slack: f64,
    /// The system wall clock as the caller read it to compute the targets, when the
    /// caller's clock is the system clock (`None` otherwise). A cache on the system
    /// clock may judge expiry by it instead of reading the clock again a few
    /// microseconds later (a wall-clock read is a fair part of an in-memory retrieve).
    pub system_now: Option<f64>,
    /// How far `system_now` and the targets computed from it may lag the system wall
    /// clock, in seconds: 0 (as [`Renewal::new`] makes it) for a precise reading. A
    /// positive lag is given only to a cache whose
    /// [`SessionCache::settles_lagging_renewal`] says it settles a close call with a
    /// precise reading of its own.
    pub lag: f64,
}

impl Renewal {
    /// Targets with no slack (every retrieve that finds an expiry before its target
    /// moves it) and no clock reading.
    pub fn new(user: f64, anonymous: f64) -> Renewal {
        Renewal {
            user,
            anonymous,
            user_slack: 0.0,
            anonymous_slack: 0.0,
            system_now: None,
            lag: 0.0,
        }
    }

    /// The target for a session of `user_id`.
    pub fn target_for(&self, user_id: &str) -> f64 {
        if user_id.is_empty() {
            self.anonymous
        } else {
            self.user
        }
    }

    /// The slack for a session of `user_id`.
    pub fn slack_for(&self, user_id: &str) -> f64 {
        if user_id.is_empty() {
            self.anonymous_slack
        } else {
            self.user_slack
        }
    }

    /// The rule: `Some(target)` when a session of `user_id` stored until `expires`
    /// must be renewed (its expiry lags the target by more than the slack), `None`
    /// when it stays as it is (never shortened, never written within the slack).
    ///
    /// With a lag, a session that may be due is decided, and its target taken, from a
    /// precise reading of the wall clock: the answer is the one a precise reading would
    /// give.
    pub fn renewed_expiry(&self, user_id: &str, expires: f64) -> Option<f64> {
        let target = self.target_for(user_id);
        let slack = self.slack_for(user_id);
        if self.lag > 0.0 && expires < target + self.lag - slack {
            return self.settled().renewed_expiry(user_id, expires);
        }
        (expires < target - slack).then_some(target)
    }

    /// The same targets from a precise reading of the wall clock.
    fn settled(&self) -> Renewal {
        let now = clock::wall_clock_now();
        let shift = self.system_now.map_or(0.0, |at| now - at);
        Renewal {
            user: self.user + shift,
            anonymous: self.anonymous + shift,
            system_now: self.system_now.map(|_| now),
            lag: 0.0,
            ..*self
        }
    }
}

/// What [`SessionCache::load_renew`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The record blob as stored (shared, so a cache that keeps the blob as it is can
    /// hand it out without copying).
    pub record: Arc<[u8]>,
    /// The expiry the cache holds now (after any renewal), when it tracks one; it
    /// overrides the (possibly older) expiry inside the record. `None`: use the record's.
    pub expires: Option<f64>,
}

/// A session cache: record blobs by session id, each with an absolute expiry.
///
/// Implementations are shared between threads. A record must not be returned by
/// `load` once its expiry has passed (a cache may also reclaim it lazily).
///
/// Revocation and lost-update detection rest on [`StoreMode`]: a cache must implement
/// every mode, each check-and-write atomically (under its lock, in one server-side
/// script or transaction). The revision to keep is the one inside the record
/// ([`crate::core::record::peek_revision`]; [`SessionCache::store_session`] gives
/// [`Session::revision`] without decoding).
pub trait SessionCache: Send + Sync {
    /// True for a cache that may be given a renewal whose reading lags the wall clock
    /// ([`Renewal::lag`]): it renews only through [`Renewal::renewed_expiry`], and
    /// judges expiry by `system_now` only where the lag cannot change the answer,
    /// reading the wall clock itself otherwise. The manager then reads the cheaper rough
    /// clock for it. False (the default): the manager's reading is precise.
    fn settles_lagging_renewal(&self) -> bool {
        false
    }

    /// Stores `record` under `id` until `expires` (Unix seconds) for `user_id` (empty =
    /// anonymous), as `mode` says. Returns `Some(new_id)` when the cache chose another
    /// id.
    fn store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>>;

    /// The record under `id`, or `None` when missing or expired.
    fn load(&self, id: &str) -> Result<Option<Vec<u8>>>;

    /// Loads `id` and, when `renew` is given, applies [`Renewal::renewed_expiry`] to it
    /// in the same operation (one round trip for a networked cache in the common case,
    /// where nothing is written). An
    /// expired entry is `None` and is never renewed. The default calls
    /// [`SessionCache::load`] and leaves renewal to the caller (`expires: None`).
    fn load_renew(&self, id: &str, renew: Option<Renewal>) -> Result<Option<Loaded>> {
        let _ = renew;
        Ok(self.load(id)?.map(|record| Loaded {
            record: record.into(),
            expires: None,
        }))
    }

    /// [`SessionCache::store`] when the caller already knows the record's `revision`
    /// (the one [`crate::core::record::peek_revision`] would read from it), so a cache
    /// that keeps the revision beside the entry need not decode the record to find it.
    /// The default ignores it and calls `store`.
    fn store_revision(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        revision: u64,
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let _ = revision;
        self.store(id, user_id, expires, record, mode)
    }

    /// Stores a whole session under its id until its expiry, like
    /// [`SessionCache::store`]. The default encodes it ([`Session::export`], which
    /// refuses a record over the size limit) and calls `store_revision` with the
    /// session's revision; an in-process cache may keep the session itself instead of
    /// its bytes.
    fn store_session(&self, session: &Session, mode: StoreMode) -> Result<Option<String>> {
        let record = session.export()?;
        self.store_revision(
            session.id(),
            session.user_id(),
            session.expires(),
            &record,
            session.revision(),
            mode,
        )
    }

    /// Loads (and with `renew`, renews) like [`SessionCache::load_renew`], decoded: the
    /// session as stored and the expiry the cache holds, when it tracks one. The
    /// default decodes the record `load_renew` returns.
    fn load_session_renew(
        &self,
        id: &str,
        renew: Option<Renewal>,
    ) -> Result<Option<(Session, Option<f64>)>> {
        let Some(loaded) = self.load_renew(id, renew)? else {
            return Ok(None);
        };
        Ok(Some((Session::import(&loaded.record)?, loaded.expires)))
    }

    /// Removes `id` (logout). Removing a missing id succeeds.
    fn remove(&self, id: &str) -> Result<()>;

    /// Removes the sessions of `user_id` beyond the `keep` that expire last (the most
    /// recently created or renewed), and returns how many went: the manager's cap on
    /// sessions per user. Optional.
    fn trim_user(&self, user_id: &str, keep: usize) -> Result<u64> {
        let _ = (user_id, keep);
        Err(Error::Unsupported("trim_user"))
    }

    /// Removes every session of `user_id` and returns how many went ("log out
    /// everywhere"). Optional.
    fn remove_user(&self, user_id: &str) -> Result<u64> {
        let _ = user_id;
        Err(Error::Unsupported("remove_user"))
    }
}

/// One account property: a name and its value.
pub type Property = (String, Value);

/// An account store: per-user named properties.
///
/// Implementations are shared between threads.
pub trait AccountStore: Send + Sync {
    /// The properties named in `names` (all of them when `None`) of `user_id`; names
    /// that are absent are left out of the answer. `Ok(None)` when the account does not
    /// exist.
    fn load(&self, user_id: &str, names: Option<&[&str]>) -> Result<Option<Vec<Property>>>;

    /// Writes `properties` (only those) to an existing account. A missing account is
    /// [`Error::InvalidCredentials`] (Toto's 1005, "user not found").
    fn save(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()>;

    /// Creates an account with `properties`; an existing one is [`Error::UserIdExists`].
    fn create(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()>;

    /// Deletes an account. Optional.
    fn remove(&self, user_id: &str) -> Result<()> {
        let _ = user_id;
        Err(Error::Unsupported("remove"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::wall_clock_now;

    /// Targets from a reading that lags the wall clock by half a second, with that lag
    /// declared: every expiry gets the answer, and a renewed one the target, that a
    /// precise reading gives.
    #[test]
    fn a_lagging_reading_renews_as_a_precise_one() {
        let window = 100.0;
        let slack = 10.0;
        let lagging = |lag: f64| {
            let at = wall_clock_now() - 0.5;
            Renewal {
                user: at + window,
                anonymous: at + window,
                user_slack: slack,
                anonymous_slack: slack,
                system_now: Some(at),
                lag,
            }
        };
        let now = wall_clock_now();
        // Due by the precise clock, not by the lagging one: renewed, to a target from
        // a precise reading (at least the wall clock before the call + the window).
        let between = now + window - slack - 0.25;
        assert!(
            lagging(0.0).renewed_expiry("u", between).is_none(),
            "the premise"
        );
        let target = lagging(1.0).renewed_expiry("u", between).expect("due");
        assert!(target >= now + window, "{target} < {}", now + window);
        assert!(target <= wall_clock_now() + window);
        // Well before the band: renewed, also to a precise target.
        let target = lagging(1.0).renewed_expiry("", now).expect("due");
        assert!(target >= now + window);
        // Past the band: left as it is, as by a precise reading.
        assert!(lagging(1.0).renewed_expiry("u", now + window).is_none());
        assert!(lagging(1.0)
            .renewed_expiry("u", now + window - slack + 0.75)
            .is_none());
    }
}
