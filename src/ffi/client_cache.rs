//! `toto_cache_new_client_side`: client-side sessions (the sealed session is the id).

use std::ffi::c_void;
use std::sync::Arc;

use crate::backend::{ClientCache, ClientKey, CLIENT_KEY_LEN, MAX_CLIENT_KEYS};
use crate::core::clock::Clock;
use crate::core::error::Error;
use crate::ffi::boundary::{run, Failure, TotoError};
use crate::ffi::cache::{new_cache, TotoCache};
use crate::ffi::clock::CClock;
use crate::ffi::result::TotoResult;

/// Length of a client-side session key, in bytes.
pub const TOTO_CLIENT_KEY_LEN: usize = 32;
/// Most keys toto_cache_new_client_side accepts.
pub const TOTO_MAX_CLIENT_KEYS: usize = 256;
/// Largest session record a client-side token carries, in bytes (a larger session is
/// TOTO_RESULT_TOO_LARGE when saved).
pub const TOTO_MAX_CLIENT_RECORD_LEN: usize = 2959;
/// Bytes a client-side token adds to the record before base64 (header, nonce, tag).
pub const TOTO_CLIENT_TOKEN_OVERHEAD: usize = 41;

const _: () = assert!(TOTO_CLIENT_KEY_LEN == CLIENT_KEY_LEN);
const _: () = assert!(TOTO_MAX_CLIENT_KEYS == MAX_CLIENT_KEYS);
const _: () = assert!(TOTO_MAX_CLIENT_RECORD_LEN == crate::backend::MAX_CLIENT_RECORD_LEN);
const _: () = assert!(TOTO_CLIENT_TOKEN_OVERHEAD == crate::backend::CLIENT_TOKEN_OVERHEAD);

/// One key of a client-side cache: the id written into the tokens it seals, and 32
/// secret bytes from a CSPRNG (e.g. `head -c 32 /dev/urandom`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoClientKey {
    /// The key id (any value; unique within one cache).
    pub id: u32,
    /// The secret.
    pub key: [u8; TOTO_CLIENT_KEY_LEN],
}

/// Creates a client-side session cache: no server-side storage; a session's id is its
/// record sealed with AES-256-GCM-SIV (URL-safe base64, no padding: a valid
/// x-toto-session-id, about 100 to 500 characters for a small session, at most
/// TOTO_MAX_SESSION_ID_LEN). Every key opens tokens; `keys[0]` seals new ones (rotate by
/// adding a key last, then moving it first, then dropping the old one after the longest
/// TTL).
///
/// Through a manager: every save, login, rotation or renewal gives the session a new id
/// (read it back with toto_session_id and send it in the response); a renewal reissues
/// the token only when the renewal target is ahead of its expiry by more than 1 % of the
/// renewal window. A malformed, tampered, expired or foreign-key token is not found
/// (TOTO_RESULT_NOT_FOUND from toto_cache_load, 1007 from toto_manager_verify_request).
/// toto_cache_remove (logout) succeeds but cannot revoke: the token stays valid until
/// its expiry. toto_cache_remove_user is TOTO_RESULT_UNSUPPORTED. A record larger than
/// TOTO_MAX_CLIENT_RECORD_LEN is TOTO_RESULT_TOO_LARGE when stored.
///
/// `clock` (NULL = the wall clock) judges expiry: give the manager the same one.
///
/// Ownership: `keys` (`n_keys` entries) is copied; `clock_data` is borrowed: it and
/// `clock` must stay valid, and be thread-safe, while the cache lives. On success `*out`
/// is a new handle released with toto_cache_free.
/// Thread safety: any thread; the cache is shareable by any number of threads.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (no key, more than TOTO_MAX_CLIENT_KEYS, two
/// keys with one id, an all-zero key), TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_new_client_side(
    keys: *const TotoClientKey,
    n_keys: usize,
    clock: Option<unsafe extern "C" fn(clock_data: *mut c_void) -> f64>,
    clock_data: *mut c_void,
    out: *mut *mut TotoCache,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        if n_keys == 0 {
            return Err(Error::InvalidArgument("client-side cache: no key").into());
        }
        if n_keys > TOTO_MAX_CLIENT_KEYS {
            return Err(Error::InvalidArgument("client-side cache: too many keys").into());
        }
        if keys.is_null() {
            return Err(Failure::null("keys"));
        }
        let keys: Vec<ClientKey> = (0..n_keys)
            .map(|i| {
                // SAFETY: non-NULL, and the contract is `n_keys` initialised entries of
                // plain data (n_keys <= 256); read unaligned, copied.
                let k = unsafe { keys.add(i).read_unaligned() };
                ClientKey {
                    id: k.id,
                    key: k.key,
                }
            })
            .collect();
        let clock: Arc<dyn Clock> = match clock {
            Some(f) => Arc::new(CClock::new(f, clock_data)),
            None => Arc::new(crate::core::clock::SystemClock),
        };
        new_cache(out, || Ok(Arc::new(ClientCache::with_clock(&keys, clock)?)))
    })
}
