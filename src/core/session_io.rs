//! Sessions in and out of any [`SessionCache`]: the one place that turns a session into
//! a stored record and back, shared by the manager and the C entry points.

use crate::core::error::Result;
use crate::core::session::Session;
use crate::core::store::{Renewal, SessionCache, StoreMode};

/// A session read from a cache.
#[derive(Debug)]
pub struct LoadedSession {
    /// The session, clean, with the id it was loaded under.
    pub session: Session,
    /// True when the cache reported the expiry it holds (and so applied any renewal
    /// itself); the session carries that expiry.
    pub expiry_from_cache: bool,
}

/// Stores `session` under its id until its expiry, as its next revision (its
/// [`Session::revision`] + 1), with `mode`'s check. A cache that chose another id gives
/// the session that id. On success the session is clean and at the new revision; on
/// failure it keeps its changes, dirty flag and revision, so a retry stores it again.
pub fn store_session(
    cache: &dyn SessionCache,
    session: &mut Session,
    mode: StoreMode,
) -> Result<()> {
    let next = session.revision().wrapping_add(1);
    store_session_as(cache, session, mode, next)
}

/// [`store_session`] writing a given revision: the session's own one for a write that
/// changes only the expiry (renewal is not a conflicting write).
pub(crate) fn store_session_as(
    cache: &dyn SessionCache,
    session: &mut Session,
    mode: StoreMode,
    revision: u64,
) -> Result<()> {
    let previous = session.is_stored().then(|| session.revision());
    session.set_revision(Some(revision));
    match cache.store_session(session, mode) {
        Ok(new_id) => {
            if let Some(new_id) = new_id {
                session.set_id(&new_id)?;
            }
            session.mark_clean();
            Ok(())
        }
        Err(e) => {
            session.set_revision(previous);
            Err(e)
        }
    }
}

/// Loads the session stored under `id` (renewing it in the same call when the cache
/// can, see [`SessionCache::load_renew`]). The session's id is the one it was loaded
/// under (a cache that renamed it is honoured) and its expiry the one the cache holds,
/// when the cache reports one. No expiry check here: that is the caller's rule.
pub fn load_session(
    cache: &dyn SessionCache,
    id: &str,
    renew: Option<Renewal>,
) -> Result<Option<LoadedSession>> {
    let Some((mut session, expires)) = cache.load_session_renew(id, renew)? else {
        return Ok(None);
    };
    if session.id() != id {
        session.set_id(id)?;
    }
    if let Some(expires) = expires {
        session.set_expires(expires)?;
    }
    session.mark_clean();
    Ok(Some(LoadedSession {
        session,
        expiry_from_cache: expires.is_some(),
    }))
}
