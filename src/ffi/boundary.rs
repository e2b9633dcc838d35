//! The panic boundary and failure reporting shared by every entry point.

use std::borrow::Cow;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::core::error::Error;
use crate::ffi::result::TotoResult;

/// Capacity of `toto_error.message`, NUL included.
pub const TOTO_ERROR_MESSAGE_CAPACITY: usize = 256;

/// Details of a failure, filled in by functions that take a `toto_error *error`
/// argument (those that parse input or reach a backend).
///
/// Ownership: allocated by the caller (on the stack is fine: `toto_error err = {0};`),
/// passed by pointer, never retained by the library. Pass NULL when the code is enough.
/// Written only when the call fails; after success it holds whatever it held before.
/// Thread safety: one toto_error per concurrent call (e.g. one per thread or goroutine).
#[repr(C)]
pub struct TotoError {
    /// The toto_result the call returned.
    pub code: u32,
    /// A NUL-terminated UTF-8 description (a backend's own message where there is one),
    /// truncated to fit. It never contains keys, passwords or hashes.
    pub message: [c_char; TOTO_ERROR_MESSAGE_CAPACITY],
}

/// Why an entry point failed: a core error, or something only the boundary can see.
#[derive(Debug)]
pub(crate) enum Failure {
    Core(Error),
    Code(TotoResult, Cow<'static, str>),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    pub(crate) fn null(what: &'static str) -> Failure {
        Failure::Code(
            TotoResult::NullArgument,
            Cow::Owned(format!("{what} is NULL")),
        )
    }
    pub(crate) fn code(&self) -> TotoResult {
        match self {
            Failure::Core(e) => e.into(),
            Failure::Code(code, _) => *code,
        }
    }
    fn message(&self) -> Cow<'_, str> {
        match self {
            Failure::Core(e) => Cow::Owned(e.to_string()),
            Failure::Code(_, msg) => Cow::Borrowed(msg),
        }
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

/// Runs an entry point's body: catches panics, reports failures into `error` (when not
/// NULL), and returns the code.
pub(crate) fn run(error: *mut TotoError, body: impl FnOnce() -> FfiResult) -> TotoResult {
    crate::ffi::fork::install();
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or(Err(Failure::Code(
        TotoResult::Panic,
        Cow::Borrowed("internal error: a panic was caught at the C boundary"),
    )));
    match outcome {
        Ok(()) => TotoResult::Ok,
        Err(failure) => {
            let code = failure.code();
            if !error.is_null() {
                // SAFETY: `error` is non-NULL and, per the documented contract, points to
                // a caller-owned toto_error that nothing else uses during this call. It
                // is written through a raw pointer, never read.
                unsafe { write_error(error, code, &failure.message()) };
            }
            code
        }
    }
}

/// Same as [`run`] without details (for functions that have no `toto_error` argument).
pub(crate) fn run_plain(body: impl FnOnce() -> FfiResult) -> TotoResult {
    run(std::ptr::null_mut(), body)
}

/// As [`run_plain`] for an entry point that returns a value (at least 0) directly:
/// a failure is its result code negated, a panic `-TOTO_RESULT_PANIC`.
pub(crate) fn run_value(body: impl FnOnce() -> FfiResult<i64>) -> i64 {
    crate::ffi::fork::install();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => -i64::from(failure.code() as u32),
        Err(_) => -i64::from(TotoResult::Panic as u32),
    }
}

/// Writes `code` and a truncated, NUL-terminated copy of `message`.
///
/// # Safety
/// `error` must be valid for writes of a `TotoError`.
unsafe fn write_error(error: *mut TotoError, code: TotoResult, message: &str) {
    let mut end = message.len().min(TOTO_ERROR_MESSAGE_CAPACITY - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let mut buf = [0 as c_char; TOTO_ERROR_MESSAGE_CAPACITY];
    for (dst, src) in buf.iter_mut().zip(&message.as_bytes()[..end]) {
        *dst = *src as c_char;
    }
    // SAFETY: the caller guarantees `error` is writable; whole-field writes through the
    // raw pointer never read the (possibly uninitialised) old contents.
    unsafe {
        std::ptr::addr_of_mut!((*error).code).write(code as u32);
        std::ptr::addr_of_mut!((*error).message).write(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_codes_and_messages_are_truncated_on_char_boundaries() {
        let mut err = TotoError {
            code: 0,
            message: [0; TOTO_ERROR_MESSAGE_CAPACITY],
        };
        let code = run(&mut err, || panic!("boom"));
        assert_eq!(code, TotoResult::Panic);
        assert_eq!(err.code, TotoResult::Panic as u32);
        let long = "é".repeat(300);
        let code = run(&mut err, || Err(Error::Backend(long.clone()).into()));
        assert_eq!(code, TotoResult::BackendFailed);
        let bytes: Vec<u8> = err
            .message
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        let text = String::from_utf8(bytes).expect("valid UTF-8 after truncation");
        assert!(text.starts_with("backend failed: é") && text.len() <= 255);
        assert_eq!(run(std::ptr::null_mut(), || Ok(())), TotoResult::Ok);
    }
}
