//! `toto_callback_ctx`: how a C backend callback hands results back.
//!
//! A callback never returns memory for Rust to free. It calls
//! `toto_callback_set_result` / `toto_callback_add_property` / `toto_callback_set_error`
//! on the context it was given; the library copies what it needs. The context is valid
//! only during the callback. A callback that breaks the rules (a result where none is
//! expected, a result twice, an oversized one) makes the whole operation fail with a
//! clear code even when it then returns TOTO_RESULT_OK.

use std::borrow::Cow;
use std::ffi::c_char;

use crate::core::codec;
use crate::core::error::Error;
use crate::core::limits::{
    MAX_DEPTH, MAX_NAME_LEN, MAX_RECORD_LEN, MAX_SESSION_ID_LEN, MAX_VALUE_LEN,
};
use crate::core::value::Value;
use crate::ffi::args;
use crate::ffi::boundary::{run_plain, Failure};
use crate::ffi::handle::{self, handle};
use crate::ffi::result::TotoResult;

/// Longest error message kept from a callback.
const MAX_CALLBACK_MESSAGE: usize = 1024;
/// Most property bytes (names + CBOR) one load may hand back.
const MAX_PROPERTIES_BYTES: usize = 16 * MAX_RECORD_LEN;

/// What an operation accepts from its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A session record (cache load).
    Record,
    /// Optionally a new session id (cache store).
    SessionId,
    /// Properties (account store load).
    Properties,
    /// Nothing but an optional error message.
    Nothing,
}

/// The context passed to every backend callback. Opaque; valid only during the call.
// The tag must be the first field at offset 0 so a handle of the wrong type is told
// apart by reading 8 bytes every handle has. `cfg_attr` keeps cbindgen from seeing the
// repr, so the type stays opaque in the header.
#[cfg_attr(all(), repr(C))]
pub struct TotoCallbackCtx {
    tag: u64,
    expect: Expect,
    result: Option<Vec<u8>>,
    properties: Vec<(String, Value)>,
    properties_bytes: usize,
    message: Option<String>,
    expires: Option<f64>,
    violation: Option<Error>,
}
handle!(TotoCallbackCtx, 0x746f_746f_4354_5854, "toto_callback_ctx");

/// What a callback produced, once it returned.
pub(crate) struct CallbackOutput {
    pub result: Option<Vec<u8>>,
    pub properties: Vec<(String, Value)>,
    pub expires: Option<f64>,
}

impl TotoCallbackCtx {
    /// Runs `call` with a fresh context and interprets its return code. `op` names the
    /// operation in messages. A `TOTO_RESULT_NOT_FOUND` return gives `Ok(None)`.
    /// `domain` lists the domain codes this operation may answer with
    /// (TOTO_RESULT_ID_COLLISION for a create-only store, TOTO_RESULT_USER_ID_EXISTS
    /// for an account create); any other domain code (1005, 1006, 13... returned to an
    /// unrelated call) is a failure of the backend, TOTO_RESULT_BACKEND_FAILED, as the
    /// vtables document: a callback cannot make, say, a session load answer "wrong
    /// password".
    pub(crate) fn call(
        expect: Expect,
        op: &'static str,
        domain: &'static [TotoResult],
        call: impl FnOnce(*mut TotoCallbackCtx) -> u32,
    ) -> crate::Result<Option<CallbackOutput>> {
        let mut ctx = TotoCallbackCtx {
            tag: <TotoCallbackCtx as handle::Handle>::TAG,
            expect,
            result: None,
            properties: Vec::new(),
            properties_bytes: 0,
            message: None,
            expires: None,
            violation: None,
        };
        let code = call(&mut ctx);
        <TotoCallbackCtx as handle::Handle>::kill(&mut ctx);
        if let Some(violation) = ctx.violation {
            return Err(violation);
        }
        match TotoResult::from_u32(code) {
            Some(TotoResult::Ok) => Ok(Some(CallbackOutput {
                result: ctx.result,
                properties: ctx.properties,
                expires: ctx.expires,
            })),
            Some(TotoResult::NotFound) => Ok(None),
            Some(TotoResult::IdCollision) if domain.contains(&TotoResult::IdCollision) => {
                Err(Error::IdCollision)
            }
            Some(TotoResult::UserIdExists) if domain.contains(&TotoResult::UserIdExists) => {
                Err(Error::UserIdExists)
            }
            Some(TotoResult::Unsupported) => Err(Error::Unsupported(op)),
            Some(TotoResult::BackendUnavailable) => Err(Error::Unavailable(match ctx.message {
                Some(msg) => format!("{op}: {msg}"),
                None => op.to_owned(),
            })),
            known => {
                let what = known
                    .map(|r| r.message().trim_end_matches('\0'))
                    .unwrap_or("unknown code");
                Err(Error::Backend(match ctx.message {
                    Some(msg) => format!("{op}: {msg}"),
                    None => format!("{op}: callback returned {code} ({what})"),
                }))
            }
        }
    }

    fn violate(&mut self, code: TotoResult, error: Error) -> Failure {
        let failure = Failure::Code(code, Cow::Owned(error.to_string()));
        self.violation.get_or_insert(error);
        failure
    }
}

fn misbehaved(ctx: &mut TotoCallbackCtx, what: &str) -> Failure {
    ctx.violate(
        TotoResult::BackendMisbehaved,
        Error::BackendMisbehaved(what.to_owned()),
    )
}

/// Hands the operation's result to the library: the record blob from a cache `load`,
/// or a new session id from a cache `store` (when the cache renamed the session).
/// Call at most once per callback.
///
/// Ownership: `data` is copied before this returns.
/// Thread safety: only from within the callback that received `ctx`.
/// Errors (returned to the callback): TOTO_RESULT_TOO_LARGE (record over 1 MiB, id over
/// 128 bytes), TOTO_RESULT_BACKEND_MISBEHAVED (called twice, or for an operation that
/// takes no result), TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE. The whole
/// operation then fails whatever the callback returns: with TOTO_RESULT_TOO_LARGE for
/// an oversized result, TOTO_RESULT_BACKEND_MISBEHAVED for anything else.
#[no_mangle]
pub extern "C" fn toto_callback_set_result(
    ctx: *mut TotoCallbackCtx,
    data: *const u8,
    len: usize,
) -> TotoResult {
    run_plain(|| {
        let ctx = handle::borrow_mut(ctx)?;
        let (limit, what) = match ctx.expect {
            Expect::Record => (MAX_RECORD_LEN, "session record"),
            Expect::SessionId => (MAX_SESSION_ID_LEN, "session id"),
            Expect::Properties | Expect::Nothing => {
                return Err(misbehaved(
                    ctx,
                    "a result was set for an operation that takes none",
                ));
            }
        };
        if ctx.result.is_some() {
            return Err(misbehaved(ctx, "the result was set twice"));
        }
        let bytes = match args::bytes(data, len, what, limit) {
            Ok(b) => b,
            Err(Failure::Core(e)) => return Err(ctx.violate(TotoResult::TooLarge, e)),
            Err(other) => {
                let code = other.code();
                return Err(ctx.violate(
                    code,
                    Error::BackendMisbehaved(format!("{what} argument was invalid")),
                ));
            }
        };
        ctx.result = Some(bytes.to_vec());
        Ok(())
    })
}

/// Hands one account property (name + value as one CBOR item) to the library from an
/// account store `load`. Call once per property found; leave out properties the
/// account does not have.
///
/// Ownership: both inputs are copied (the CBOR is decoded) before this returns.
/// Thread safety: only from within the callback that received `ctx`.
/// Errors (returned to the callback): TOTO_RESULT_INVALID_CBOR (value is not one
/// well-formed CBOR item, or nests deeper than TOTO_MAX_DEPTH), TOTO_RESULT_INVALID_UTF8
/// (name), TOTO_RESULT_TOO_LARGE (name over 1024 bytes, value over 1 MiB, or more than
/// 16 MiB in one load), TOTO_RESULT_BACKEND_MISBEHAVED (not a load),
/// TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE. The whole load then fails
/// whatever the callback returns: with TOTO_RESULT_INVALID_CBOR or
/// TOTO_RESULT_TOO_LARGE for those, TOTO_RESULT_BACKEND_MISBEHAVED for anything else.
#[no_mangle]
pub extern "C" fn toto_callback_add_property(
    ctx: *mut TotoCallbackCtx,
    name: *const c_char,
    name_len: usize,
    cbor: *const u8,
    cbor_len: usize,
) -> TotoResult {
    run_plain(|| {
        let ctx = handle::borrow_mut(ctx)?;
        if ctx.expect != Expect::Properties {
            return Err(misbehaved(
                ctx,
                "a property was added outside an account load",
            ));
        }
        let parsed = args::text(name, name_len, "property name", MAX_NAME_LEN).and_then(|n| {
            let raw = args::bytes(cbor, cbor_len, "property value", MAX_VALUE_LEN)?;
            let value: Value = codec::from_slice(raw, MAX_VALUE_LEN, "property value")?;
            if value.depth() > MAX_DEPTH {
                return Err(Error::Decode(format!(
                    "property value nested deeper than {MAX_DEPTH}"
                ))
                .into());
            }
            Ok((n.to_owned(), value, name_len + cbor_len))
        });
        match parsed {
            Ok((name, value, size)) => {
                ctx.properties_bytes += size;
                if ctx.properties_bytes > MAX_PROPERTIES_BYTES {
                    let e = Error::TooLarge {
                        what: "account properties",
                        limit: MAX_PROPERTIES_BYTES,
                    };
                    return Err(ctx.violate(TotoResult::TooLarge, e));
                }
                ctx.properties.push((name, value));
                Ok(())
            }
            Err(failure) => {
                let code = failure.code();
                let e = match failure {
                    Failure::Core(e) => e,
                    Failure::Code(_, msg) => Error::BackendMisbehaved(msg.into_owned()),
                };
                Err(ctx.violate(code, e))
            }
        }
    })
}

/// Reports the expiry (Unix seconds) the cache holds for the record handed over with
/// toto_callback_set_result, after applying the renewal asked of a `load_renew`
/// callback. It overrides the older expiry inside the record.
///
/// Thread safety: only from within the callback that received `ctx`.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (NaN or infinite), TOTO_RESULT_BACKEND_MISBEHAVED (not a
/// load), TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE; the load then fails
/// with the same code.
#[no_mangle]
pub extern "C" fn toto_callback_set_expires(ctx: *mut TotoCallbackCtx, expires: f64) -> TotoResult {
    run_plain(|| {
        let ctx = handle::borrow_mut(ctx)?;
        if ctx.expect != Expect::Record {
            return Err(misbehaved(ctx, "an expiry was set outside a cache load"));
        }
        if !expires.is_finite() {
            let e = Error::InvalidArgument("expiry must be a finite number");
            return Err(ctx.violate(TotoResult::InvalidArgument, e));
        }
        ctx.expires = Some(expires);
        Ok(())
    })
}

/// Attaches a message to the failure the callback is about to return (e.g. the
/// database's own error text). It reaches the caller through `toto_error.message`.
/// Invalid UTF-8 is replaced; the message is cut at 1024 bytes.
///
/// Ownership: `message` is copied. Never put secrets in it.
/// Thread safety: only from within the callback that received `ctx`.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_callback_set_error(
    ctx: *mut TotoCallbackCtx,
    message: *const c_char,
    message_len: usize,
) -> TotoResult {
    run_plain(|| {
        let ctx = handle::borrow_mut(ctx)?;
        let shown = message_len.min(MAX_CALLBACK_MESSAGE);
        let raw = args::bytes(message.cast(), shown, "message", MAX_CALLBACK_MESSAGE)?;
        ctx.message = Some(String::from_utf8_lossy(raw).into_owned());
        Ok(())
    })
}
