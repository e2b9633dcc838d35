//! `toto_value_*`: a value's CBOR item to and from its tagged JSON form, so a binding
//! converts values (a property from an account store callback, an integer beyond
//! int64, a map with non-text keys) through the library rather than carrying a codec.

use std::ffi::c_char;

use crate::core::limits::MAX_VALUE_LEN;
use crate::core::value_json;
use crate::ffi::args;
use crate::ffi::boundary::{run, TotoError};
use crate::ffi::bytes::TotoBytes;
use crate::ffi::result::TotoResult;
use crate::ffi::value_io;

/// Converts one CBOR item (a value as `_get_cbor` returns it or an account store
/// receives it) into its tagged JSON form: lossless JSON text for any value.
///
/// Tagged JSON writes null, booleans, text, arrays, integers in int64 and finite floats
/// as plain JSON (a float always has a fraction or an exponent: `1.0`, `-0.0`, `1e+300`;
/// an integer never does); the rest as a one-member object named with a `$`:
/// `{"$int":"18446744073709551615"}` (an integer outside int64, as decimal text),
/// `{"$float":"NaN"}` (or `"Infinity"`, `"-Infinity"`), `{"$bytes":"AP8="}` (standard
/// base64). A map whose keys are all text is a JSON object with its members in the
/// map's order; any other map (a non-text key, or a single text key starting with `$`)
/// is `{"$map":[key1,value1,key2,value2,...]}`.
///
/// Ownership: `cbor` is borrowed for the call; on success `*out` is a library-owned
/// buffer (UTF-8, not NUL-terminated) the caller releases with toto_bytes_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_CBOR (garbage, trailing bytes, nested deeper than
/// TOTO_MAX_DEPTH), TOTO_RESULT_TOO_LARGE (over TOTO_MAX_RECORD_LEN),
/// TOTO_RESULT_NULL_ARGUMENT; details in `error` when not NULL.
#[no_mangle]
pub extern "C" fn toto_value_cbor_to_tagged_json(
    cbor: *const u8,
    cbor_len: usize,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let value = value_io::cbor_value(cbor, cbor_len)?;
        let json = value_json::to_tagged_json(&value)?;
        args::write(out, TotoBytes::from_vec(json.into_bytes()));
        Ok(())
    })
}

/// Converts tagged JSON text (see toto_value_cbor_to_tagged_json) into one CBOR item,
/// the form `_set_cbor` takes and an account store callback hands back. Plain JSON is
/// read the same way (an integer without fraction or exponent is an integer, up to
/// 2^64-1; other numbers are floats), except that an object of exactly one member
/// whose name starts with `$` must be one of the tags.
///
/// Ownership: `json` is borrowed for the call; on success `*out` is a library-owned
/// buffer the caller releases with toto_bytes_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_JSON (malformed JSON, an unknown or malformed tag, a
/// `$int` outside -2^64 .. 2^64-1, nested deeper than TOTO_MAX_DEPTH),
/// TOTO_RESULT_TOO_LARGE (over TOTO_MAX_RECORD_LEN), TOTO_RESULT_NULL_ARGUMENT; details
/// in `error` when not NULL.
#[no_mangle]
pub extern "C" fn toto_value_tagged_json_to_cbor(
    json: *const c_char,
    json_len: usize,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let raw = args::bytes(json.cast(), json_len, "JSON text", MAX_VALUE_LEN)?;
        let value = value_json::from_tagged_json(raw)?;
        args::write(
            out,
            TotoBytes::from_vec(crate::core::codec::to_vec(&value)?),
        );
        Ok(())
    })
}
