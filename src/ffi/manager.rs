//! `toto_manager`: the session lifecycle and accounts (Toto's DBConnection).
//!
//! Thread safety of the type: a manager may be used by any number of threads at once.
//! The session and account handles it returns follow their own rules (one thread at a
//! time each).

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use crate::core::clock::{Clock, SystemClock};
use crate::core::error::Error;
use crate::core::limits::{MAX_MESSAGE_LEN, MAX_USER_ID_LEN, MAX_VALUE_LEN};
use crate::core::manager::{Manager, ManagerConfig, SavePolicy};
use crate::core::password::{PasswordPolicy, GENERATED_PASSWORD_LEN, MAX_PASSWORD_LEN};
use crate::core::value::Value;
use crate::ffi::account::TotoAccount;
use crate::ffi::account_store::{store_ref, TotoAccountStore};
use crate::ffi::args;
use crate::ffi::args::session_id_arg;
use crate::ffi::boundary::{run, run_plain, FfiResult, TotoError};
use crate::ffi::cache::{cache_ref, TotoCache};
use crate::ffi::clock::CClock;
use crate::ffi::handle::{self, handle};
use crate::ffi::result::TotoResult;
use crate::ffi::session::{session_mut, session_ref, TotoSession};
use crate::ffi::sign::TOTO_MAC_BUFFER_LEN;

/// The options version this header describes: 4 (version 1 ends before
/// `save_policy`, version 2 before `max_sessions_per_user`, version 3 before
/// `renew_granularity`; the library reads only the fields of the version a caller
/// declares, the later ones keep their defaults).
pub const TOTO_MANAGER_OPTIONS_VERSION: u32 = 4;
/// `save_policy`: a save over a revision newer than the one the session was loaded at
/// is refused with TOTO_RESULT_CONFLICT (the default).
pub const TOTO_SAVE_DETECT_CONFLICTS: u32 = 0;
/// `save_policy`: the last save wins, as in Toto (lost updates go unnoticed). A removed
/// session is still never brought back (TOTO_RESULT_SESSION_REVOKED).
pub const TOTO_SAVE_LAST_WRITER_WINS: u32 = 1;
/// Bytes needed for a generated password plus its NUL (10 + 1).
pub const TOTO_GENERATED_PASSWORD_BUFFER_LEN: usize = 11;
const _: () = assert!(TOTO_GENERATED_PASSWORD_BUFFER_LEN == GENERATED_PASSWORD_LEN + 1);
/// Longest password accepted, in bytes.
pub const TOTO_MAX_PASSWORD_LEN: usize = 4096;
const _: () = assert!(TOTO_MAX_PASSWORD_LEN == MAX_PASSWORD_LEN);

/// Manager settings. Fill with toto_manager_options_default, then change fields.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoManagerOptions {
    /// Set to TOTO_MANAGER_OPTIONS_VERSION (toto_manager_options_default does).
    pub version: u32,
    /// Lifetime of a user session in seconds (default 365 days; must be > 0).
    pub session_ttl: f64,
    /// Lifetime of an anonymous session in seconds (default 1 day; 0 = session_ttl).
    pub anon_session_ttl: f64,
    /// Renewal window of user sessions in seconds (0 = session_ttl). On retrieve, when
    /// expiry lags now + window by more than renew_granularity of the window, it
    /// becomes now + window and is written back.
    pub session_renew: f64,
    /// Renewal window of anonymous sessions in seconds (0 = their TTL).
    pub anon_session_renew: f64,
    /// Argon2id memory cost in KiB for new password hashes (default 19456; at least
    /// 8 x password_parallelism, at most 1048576 = 1 GiB).
    pub password_memory_kib: u32,
    /// Argon2id passes (default 2; 1 to 64).
    pub password_iterations: u32,
    /// Argon2id lanes (default 1; 1 to 16).
    pub password_parallelism: u32,
    /// Optional clock (NULL: the wall clock). Borrowed: it and `clock_data` must stay
    /// valid while the manager lives, and be thread-safe.
    pub clock: Option<unsafe extern "C" fn(clock_data: *mut c_void) -> f64>,
    /// Passed to `clock`.
    pub clock_data: *mut c_void,
    /// Version 2. TOTO_SAVE_DETECT_CONFLICTS (default) or TOTO_SAVE_LAST_WRITER_WINS;
    /// see toto_manager_save_session.
    pub save_policy: u32,
    /// Version 3. Most live sessions one user may have (default 0: no cap, as Toto).
    /// Creating one more (a login) first removes that user's sessions that expire
    /// soonest. Needs a cache that can trim a user's sessions (the memory and Redis
    /// caches); with any other, creating a user's session fails with
    /// TOTO_RESULT_UNSUPPORTED.
    pub max_sessions_per_user: u32,
    /// Version 4. How far a session's expiry may lag its renewal target before a
    /// retrieve moves it, as a fraction (0 to 1) of the renewal window (default 0.01:
    /// a retrieve usually writes nothing, and expiry still slides to within 1 % of the
    /// window). 0 renews whenever the expiry is before the target, as Toto. The same
    /// rule holds for every cache, including caches implemented by the application.
    pub renew_granularity: f64,
}

/// Bytes of a version-1 options struct (everything before `save_policy`).
const OPTIONS_V1_LEN: usize = std::mem::offset_of!(TotoManagerOptions, save_policy);
/// Bytes of a version-2 options struct (everything before `max_sessions_per_user`).
const OPTIONS_V2_LEN: usize = std::mem::offset_of!(TotoManagerOptions, max_sessions_per_user);
/// Bytes of a version-3 options struct (everything before `renew_granularity`).
const OPTIONS_V3_LEN: usize = std::mem::offset_of!(TotoManagerOptions, renew_granularity);

fn default_options() -> TotoManagerOptions {
    let c = ManagerConfig::default();
    TotoManagerOptions {
        version: TOTO_MANAGER_OPTIONS_VERSION,
        session_ttl: c.session_ttl,
        anon_session_ttl: c.anon_session_ttl,
        session_renew: c.session_renew,
        anon_session_renew: c.anon_session_renew,
        password_memory_kib: c.passwords.memory_kib,
        password_iterations: c.passwords.iterations,
        password_parallelism: c.passwords.parallelism,
        clock: None,
        clock_data: std::ptr::null_mut(),
        save_policy: TOTO_SAVE_DETECT_CONFLICTS,
        max_sessions_per_user: 0,
        renew_granularity: c.renew_granularity,
    }
}

/// The lifecycle manager. Opaque. Thread safety: shareable by any number of threads.
// The tag must be the first field at offset 0 so a handle of the wrong type is told
// apart by reading 8 bytes every handle has. `cfg_attr` keeps cbindgen from seeing the
// repr, so the type stays opaque in the header.
#[cfg_attr(all(), repr(C))]
pub struct TotoManager {
    tag: u64,
    inner: Manager,
}
handle!(TotoManager, 0x746f_746f_4d41_4e47, "toto_manager");

fn manager<'a>(m: *const TotoManager) -> FfiResult<&'a Manager> {
    Ok(&handle::borrow(m)?.inner)
}

fn text<'a>(
    ptr: *const c_char,
    len: usize,
    what: &'static str,
    limit: usize,
) -> FfiResult<&'a str> {
    args::text(ptr, len, what, limit)
}

fn password<'a>(ptr: *const c_char, len: usize) -> FfiResult<&'a str> {
    text(ptr, len, "password", MAX_PASSWORD_LEN)
}

fn user_id<'a>(ptr: *const c_char, len: usize) -> FfiResult<&'a str> {
    text(ptr, len, "user id", MAX_USER_ID_LEN)
}

fn write_session(out: *mut *mut TotoSession, session: crate::Session) {
    args::write(out, TotoSession::boxed(session));
}

/// Fills `out` with the defaults (Toto's TTLs, OWASP's Argon2id costs, wall clock).
///
/// Thread safety: any thread. Errors: TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_manager_options_default(out: *mut TotoManagerOptions) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        args::write(out, default_options());
        Ok(())
    })
}

/// Creates a manager over a cache and an account store.
///
/// Ownership: the manager keeps its own references to the cache and the store (their
/// handles may be freed afterwards); `options` is copied (NULL = defaults); on success
/// `*out` is a new handle released with toto_manager_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (unknown options version or save_policy, a TTL <= 0 or NaN,
/// renew_granularity outside 0 to 1,
/// Argon2 costs out of range: memory above 1048576 KiB, more than 64 iterations or 16
/// lanes, or below Argon2's minimums; checked here against the verifier's own limits,
/// so accepted costs always work and no cost can abort or hang the process),
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_new(
    cache: *const TotoCache,
    store: *const TotoAccountStore,
    options: *const TotoManagerOptions,
    out: *mut *mut TotoManager,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let cache = cache_ref(cache)?.clone();
        let store = store_ref(store)?.clone();
        let mut config = ManagerConfig::default();
        let mut clock: Arc<dyn Clock> = Arc::new(SystemClock);
        if !options.is_null() {
            let lens = [
                OPTIONS_V1_LEN,
                OPTIONS_V2_LEN,
                OPTIONS_V3_LEN,
                std::mem::size_of::<TotoManagerOptions>(),
            ];
            // SAFETY: non-NULL; the contract is an initialised toto_manager_options of
            // the version it declares (plain data), copied here.
            let o = unsafe {
                args::copy_versioned(
                    options,
                    default_options(),
                    &lens,
                    "manager options: unknown version",
                )
            }?;
            let save_policy = match o.save_policy {
                TOTO_SAVE_DETECT_CONFLICTS => SavePolicy::DetectConflicts,
                TOTO_SAVE_LAST_WRITER_WINS => SavePolicy::LastWriterWins,
                _ => {
                    return Err(
                        Error::InvalidArgument("manager options: unknown save_policy").into(),
                    )
                }
            };
            config = ManagerConfig {
                session_ttl: o.session_ttl,
                anon_session_ttl: o.anon_session_ttl,
                session_renew: o.session_renew,
                anon_session_renew: o.anon_session_renew,
                passwords: PasswordPolicy {
                    memory_kib: o.password_memory_kib,
                    iterations: o.password_iterations,
                    parallelism: o.password_parallelism,
                },
                save_policy,
                max_sessions_per_user: o.max_sessions_per_user as usize,
                renew_granularity: o.renew_granularity,
            };
            if let Some(now) = o.clock {
                clock = Arc::new(CClock::new(now, o.clock_data));
            }
        }
        let inner = Manager::with_clock(cache, store, config, clock)?;
        args::write(
            out,
            handle::into_raw(TotoManager {
                tag: <TotoManager as handle::Handle>::TAG,
                inner,
            }),
        );
        Ok(())
    })
}

/// Releases a manager. NULL does nothing. Sessions and accounts made by it stay valid.
///
/// Thread safety: not concurrently with other calls on this manager.
#[no_mangle]
pub extern "C" fn toto_manager_free(manager_: *mut TotoManager) {
    run_plain(|| {
        handle::free(manager_);
        Ok(())
    });
}

/// Creates and stores a session for `user_id` (lowercased; empty = anonymous, with the
/// anonymous TTL). With `with_key`, the session gets a fresh HMAC key (as at login).
///
/// Ownership: on success `*out` is a new session handle the caller owns.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_ID_COLLISION (the cache refused 4 fresh ids),
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_TOO_LARGE, TOTO_RESULT_INVALID_UTF8,
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_create_session(
    manager_: *const TotoManager,
    user_id_: *const c_char,
    user_id_len: usize,
    with_key: bool,
    out: *mut *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let session =
            manager(manager_)?.create_session(user_id(user_id_, user_id_len)?, with_key)?;
        write_session(out, session);
        Ok(())
    })
}

/// Toto's retrieve_session: loads the live session `id`, applies the renewal rule
/// (written back only when expiry moves) and returns it in a new handle.
///
/// Ownership: on success `*out` is a new session handle the caller owns.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID (1007: unknown, expired or malformed id),
/// TOTO_RESULT_INVALID_CBOR / TOTO_RESULT_UNSUPPORTED_VERSION (the cache holds a bad
/// record; it is left in place), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_retrieve_session(
    manager_: *const TotoManager,
    id: *const c_char,
    id_len: usize,
    out: *mut *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let session = manager(manager_)?
            .retrieve_session(session_id_arg(id, id_len)?)?
            .ok_or(Error::InvalidSessionId)?;
        write_session(out, session);
        Ok(())
    })
}

/// Writes the session if it is dirty (otherwise nothing is written); honours a cache
/// that renames it. On failure the session keeps its changes and stays dirty.
///
/// A session that came from the cache (retrieved, created, rotated, imported) replaces
/// its stored record only while that record exists: once the session was removed
/// (toto_manager_remove_session), rotated away, cleared (toto_manager_clear_sessions,
/// a password change) or has expired, every save through any handle loaded before is
/// TOTO_RESULT_SESSION_REVOKED and writes nothing (treat it as logged out). With the
/// default save policy (TOTO_SAVE_DETECT_CONFLICTS) a save is also refused with
/// TOTO_RESULT_CONFLICT when another handle saved the session since this one was
/// loaded (renewal does not count). The usual loop, for a change that can be applied
/// again to fresh state:
///
/// ```c
/// for (int attempt = 0; attempt < 16; attempt++) {
///     toto_session *s = NULL;
///     rc = toto_manager_retrieve_session(m, id, id_len, &s, NULL);
///     if (rc != TOTO_RESULT_OK) break;          // 1007: gone
///     apply_change(s);                           // e.g. read, add one, set
///     rc = toto_manager_save_session(m, s, NULL);
///     toto_session_free(s);
///     if (rc != TOTO_RESULT_CONFLICT) break;     // OK, revoked or a failure
/// }
/// ```
///
/// A session never stored (toto_session_new) is created, create-only.
///
/// Thread safety: the manager from any thread; the session one thread at a time.
/// Errors: TOTO_RESULT_SESSION_REVOKED, TOTO_RESULT_CONFLICT, TOTO_RESULT_ID_COLLISION
/// (a new session whose id is taken), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_BACKEND_UNAVAILABLE, TOTO_RESULT_TOO_LARGE (record over 1 MiB),
/// TOTO_RESULT_BACKEND_MISBEHAVED, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_save_session(
    manager_: *const TotoManager,
    session: *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        manager(manager_)?.save_session(session_mut(session)?)?;
        Ok(())
    })
}

/// Replaces the session's contents with what the cache holds now.
///
/// Ownership: on success every earlier view of the session (its id, user id, key and
/// state) becomes invalid.
/// Thread safety: as toto_manager_save_session.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID (gone or expired; the session is left as
/// it was), TOTO_RESULT_INVALID_CBOR, TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_refresh_session(
    manager_: *const TotoManager,
    session: *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        Ok(manager(manager_)?.refresh_session(session_mut(session)?)?)
    })
}

/// Moves the session to a fresh id (session-fixation protection): stored create-only
/// under the new id, then the old id removed. Views from toto_session_id and views of
/// the state (toto_session_get_text and the like) become invalid.
/// If storing fails the session keeps its old id; if only removing the old id fails,
/// the session has its new id and the error is returned.
///
/// Thread safety: as toto_manager_save_session.
/// A session that came from the cache is first saved under its old id with the rules
/// of toto_manager_save_session, so a removed session is not revived under a new id.
///
/// Errors: TOTO_RESULT_SESSION_REVOKED, TOTO_RESULT_CONFLICT, TOTO_RESULT_ID_COLLISION,
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_rotate_session(
    manager_: *const TotoManager,
    session: *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        Ok(manager(manager_)?.rotate_session(session_mut(session)?)?)
    })
}

/// Removes session `id` (logout). A missing id is success.
///
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID (malformed id), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_remove_session(
    manager_: *const TotoManager,
    id: *const c_char,
    id_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        Ok(manager(manager_)?.remove_session(session_id_arg(id, id_len)?)?)
    })
}

/// Removes every session of `user_id` ("log out everywhere"); writes the count to
/// `*out_removed` when it is not NULL.
///
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_UNSUPPORTED (a cache vtable without remove_user),
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE,
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_clear_sessions(
    manager_: *const TotoManager,
    user_id_: *const c_char,
    user_id_len: usize,
    out_removed: *mut u64,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let removed = manager(manager_)?.clear_sessions(user_id(user_id_, user_id_len)?)?;
        if !out_removed.is_null() {
            args::write(args::out(out_removed, "out_removed")?, removed);
        }
        Ok(())
    })
}

/// Toto's create_account: stores the account with an Argon2id hash of `password` and,
/// when `values_json` is not NULL, the properties of that JSON object (e.g.
/// `{"email":"a@example.com"}`; the name "password" is reserved).
///
/// Ownership: inputs copied for the call.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_USER_ID (1010, empty), TOTO_RESULT_USER_ID_EXISTS (1006),
/// TOTO_RESULT_INVALID_JSON (not a JSON object), TOTO_RESULT_INVALID_ARGUMENT (a
/// "password" property), TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_TOO_LARGE,
/// TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_create_account(
    manager_: *const TotoManager,
    user_id_: *const c_char,
    user_id_len: usize,
    password_: *const c_char,
    password_len: usize,
    values_json: *const c_char,
    values_json_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let m = manager(manager_)?;
        let user = user_id(user_id_, user_id_len)?;
        let pw = password(password_, password_len)?;
        let values = if values_json.is_null() && values_json_len == 0 {
            Vec::new()
        } else {
            let raw = args::bytes(
                values_json.cast(),
                values_json_len,
                "values JSON",
                MAX_VALUE_LEN,
            )?;
            match crate::core::value_json::from_json(raw)? {
                Value::Map(entries) => entries,
                _ => return Err(Error::Json("account values must be a JSON object".into()).into()),
            }
        };
        let props: Vec<(&str, &Value)> = values
            .iter()
            .filter_map(|(k, v)| k.as_text().ok().map(|k| (k, v)))
            .collect();
        Ok(m.create_account(user, pw, &props)?)
    })
}

/// Toto's login: checks the password and creates a session with a fresh HMAC key
/// (return its id, expiry and key to the client). A legacy $p5k2$ hash is upgraded to
/// Argon2id on success.
///
/// Ownership: on success `*out` is a new session handle the caller owns.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_CREDENTIALS (1005: unknown user, empty id or wrong
/// password, indistinguishable), TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_TOO_LARGE,
/// TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_login(
    manager_: *const TotoManager,
    user_id_: *const c_char,
    user_id_len: usize,
    password_: *const c_char,
    password_len: usize,
    out: *mut *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let m = manager(manager_)?;
        let session = m.login(
            user_id(user_id_, user_id_len)?,
            password(password_, password_len)?,
        )?;
        write_session(out, session);
        Ok(())
    })
}

/// Toto's change_password. On success every session of the user is removed; when
/// `current` is not NULL and belongs to the user, it is stored again under a fresh id
/// (read it with toto_session_id) so the caller stays logged in; views of its id and
/// of its state (toto_session_get_text and the like) then become invalid.
///
/// Thread safety: the manager from any thread; `current` one thread at a time.
/// Errors: TOTO_RESULT_INVALID_CREDENTIALS (1005: wrong old password or unknown user),
/// TOTO_RESULT_INVALID_USER_ID (1010), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_TOO_LARGE, TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_change_password(
    manager_: *const TotoManager,
    user_id_: *const c_char,
    user_id_len: usize,
    old_password: *const c_char,
    old_password_len: usize,
    new_password: *const c_char,
    new_password_len: usize,
    current: *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let m = manager(manager_)?;
        let user = user_id(user_id_, user_id_len)?;
        let old = password(old_password, old_password_len)?;
        let new = password(new_password, new_password_len)?;
        let current = if current.is_null() {
            None
        } else {
            Some(session_mut(current)?)
        };
        Ok(m.change_password(user, old, new, current)?)
    })
}

/// Toto's generate_password: sets a random 10-character password (letters and digits
/// from the OS CSPRNG), removes every session of the user, and writes the password
/// plus a NUL into `out` (capacity at least TOTO_GENERATED_PASSWORD_BUFFER_LEN).
///
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_CREDENTIALS (unknown user), TOTO_RESULT_INVALID_USER_ID,
/// TOTO_RESULT_INVALID_ARGUMENT (capacity), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_generate_password(
    manager_: *const TotoManager,
    user_id_: *const c_char,
    user_id_len: usize,
    out: *mut c_char,
    capacity: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let m = manager(manager_)?;
        let user = user_id(user_id_, user_id_len)?;
        args::out_buffer(
            out,
            capacity,
            TOTO_GENERATED_PASSWORD_BUFFER_LEN,
            "out",
            "output buffer needs TOTO_GENERATED_PASSWORD_BUFFER_LEN bytes",
        )?;
        let generated = m.generate_password(user)?;
        args::write_c_string(out, capacity, &generated)
    })
}

/// An account handle for `user_id` on the manager's store (nothing loaded yet).
///
/// Ownership: on success `*out` is a new account handle the caller owns.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_USER_ID (1010, empty), TOTO_RESULT_INVALID_UTF8,
/// TOTO_RESULT_TOO_LARGE, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_account(
    manager_: *const TotoManager,
    user_id_: *const c_char,
    user_id_len: usize,
    out: *mut *mut TotoAccount,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let account = manager(manager_)?.account(user_id(user_id_, user_id_len)?)?;
        args::write(out, TotoAccount::boxed(account));
        Ok(())
    })
}

/// The account bound to a session (Toto's get_account).
///
/// Ownership: on success `*out` is a new account handle the caller owns.
/// Thread safety: the manager from any thread; the session one thread at a time.
/// Errors: TOTO_RESULT_NOT_AUTHORIZED (1004: anonymous session),
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_session_account(
    manager_: *const TotoManager,
    session: *const TotoSession,
    out: *mut *mut TotoAccount,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let account = manager(manager_)?.session_account(session_ref(session)?)?;
        args::write(out, TotoAccount::boxed(account));
        Ok(())
    })
}

/// The end of a request in one call, as an HTTP layer finishes it: saves `session` when
/// it changed (as toto_manager_save_session: an unchanged session is not written), then
/// writes its response x-toto-hmac for `body` (as toto_session_sign_response) with a NUL
/// into `mac_out`, or an empty string when the session has no key (the answer goes
/// unsigned). Two calls in one for the per-request path of bindings, where each call
/// across the boundary costs.
///
/// Ownership: inputs borrowed for the call; `mac_out` is the caller's buffer of
/// `mac_capacity` bytes, at least TOTO_MAC_BUFFER_LEN (checked before anything is
/// saved).
/// Thread safety: the manager from any thread; the session one thread at a time.
/// Errors: those of toto_manager_save_session (then nothing is signed and `mac_out`
/// holds an empty string), TOTO_RESULT_INVALID_ARGUMENT (`mac_capacity` under
/// TOTO_MAC_BUFFER_LEN), TOTO_RESULT_TOO_LARGE (`body` over TOTO_MAX_MESSAGE_LEN),
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_finish_response(
    manager_: *const TotoManager,
    session: *mut TotoSession,
    body: *const u8,
    body_len: usize,
    mac_out: *mut c_char,
    mac_capacity: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let m = manager(manager_)?;
        let s = session_mut(session)?;
        let body = args::bytes(body, body_len, "body", MAX_MESSAGE_LEN)?;
        args::out_buffer(
            mac_out,
            mac_capacity,
            TOTO_MAC_BUFFER_LEN,
            "mac_out",
            "mac_out needs TOTO_MAC_BUFFER_LEN bytes",
        )?;
        args::write_c_string(mac_out, mac_capacity, "")?; // what a failed save leaves
        if let Some(mac) = m.finish_response(s, body)? {
            args::write_c_string(mac_out, mac_capacity, &mac)?;
        }
        Ok(())
    })
}

/// Checks a Toto request in one call: retrieves session `session_id` (the
/// x-toto-session-id header) with the renewal rule applied, as Toto's handler does (one
/// cache operation), then verifies `mac` (the x-toto-hmac header) over METHOD + URI +
/// BODY in constant time. When `out` is not NULL the session is returned in a new
/// handle (use it to answer, and to sign the response with toto_session_sign_response).
///
/// Ownership: inputs borrowed for the call; `*out`, when written, is owned by the
/// caller.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID (1007: unknown, expired or malformed id),
/// TOTO_RESULT_INVALID_HMAC (1008: wrong mac, or a session without a key; the session
/// has been renewed all the same, as in Toto), TOTO_RESULT_INVALID_CBOR,
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_BACKEND_UNAVAILABLE, TOTO_RESULT_TOO_LARGE,
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_manager_verify_request(
    manager_: *const TotoManager,
    session_id: *const c_char,
    session_id_len: usize,
    mac: *const c_char,
    mac_len: usize,
    method: *const c_char,
    method_len: usize,
    uri: *const c_char,
    uri_len: usize,
    body: *const u8,
    body_len: usize,
    out: *mut *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let m = manager(manager_)?;
        let id = session_id_arg(session_id, session_id_len)?;
        let msg = |p: *const u8, l: usize, what| args::bytes(p, l, what, MAX_MESSAGE_LEN);
        let session = m.verify_request(
            id,
            msg(mac.cast(), mac_len, "mac")?,
            msg(method.cast(), method_len, "method")?,
            msg(uri.cast(), uri_len, "uri")?,
            msg(body, body_len, "body")?,
        )?;
        if !out.is_null() {
            write_session(args::out(out, "out")?, session);
        }
        Ok(())
    })
}
