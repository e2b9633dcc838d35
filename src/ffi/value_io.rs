//! Typed values in and out of the boundary: one path for session state and account
//! properties. A handle type implements [`ValueRead`] and [`ValueWrite`] (how to reach
//! its values); the generic `get_*` and `set_*` functions here do the rest, so each
//! `toto_session_get_*` / `toto_account_get_*` entry point is one call.

use std::ffi::c_char;

use crate::core::codec;
use crate::core::error::Error;
use crate::core::limits::{MAX_DEPTH, MAX_NAME_LEN, MAX_VALUE_LEN};
use crate::core::value::{Value, ValueKind};
use crate::core::value_json;
use crate::ffi::args;
use crate::ffi::boundary::FfiResult;
use crate::ffi::bytes::TotoBytes;

/// The type of a stored value.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotoValueType {
    /// null (a stored null, not a missing key).
    Null = 0,
    /// true / false.
    Bool = 1,
    /// An integer (CBOR range: -2^64 .. 2^64-1; `_get_i64` reads those that fit).
    Integer = 2,
    /// A float.
    Float = 3,
    /// UTF-8 text.
    Text = 4,
    /// A byte string.
    Bytes = 5,
    /// An array (read with `_get_cbor` or `_get_json`).
    Array = 6,
    /// A map (read with `_get_cbor` or `_get_json`).
    Map = 7,
}

impl From<ValueKind> for TotoValueType {
    fn from(k: ValueKind) -> Self {
        match k {
            ValueKind::Null => TotoValueType::Null,
            ValueKind::Bool => TotoValueType::Bool,
            ValueKind::Integer => TotoValueType::Integer,
            ValueKind::Float => TotoValueType::Float,
            ValueKind::Text => TotoValueType::Text,
            ValueKind::Bytes => TotoValueType::Bytes,
            ValueKind::Array => TotoValueType::Array,
            ValueKind::Map => TotoValueType::Map,
        }
    }
}

/// A value's type and, for scalars, the value itself: what one getter call can hand
/// back, so a binding needs one call, not a type query and then a typed getter.
#[repr(C)]
pub struct TotoScalar {
    /// The value's type (for arrays and maps nothing else is filled in: read them with
    /// `_get_cbor` or `_get_json`).
    pub value_type: TotoValueType,
    /// The value when `value_type` is TOTO_VALUE_TYPE_BOOL.
    pub boolean: bool,
    /// True when `value_type` is TOTO_VALUE_TYPE_INTEGER and the value fits in `integer`
    /// (otherwise read it with `_get_cbor`).
    pub integer_fits: bool,
    /// The value when `integer_fits`.
    pub integer: i64,
    /// The value when `value_type` is TOTO_VALUE_TYPE_FLOAT.
    pub number: f64,
    /// Borrowed text (UTF-8) or bytes when `value_type` is TOTO_VALUE_TYPE_TEXT or
    /// TOTO_VALUE_TYPE_BYTES; NULL otherwise. Valid like the views of `_get_text`.
    pub data: *const u8,
    /// Length of `data` in bytes.
    pub len: usize,
}

/// A handle whose values the getters read: `*const TotoSession` (state) or
/// `*mut TotoAccount` (properties, loaded on first access).
pub(crate) trait ValueRead: Copy {
    /// Checks the handle, then the name (`key`, `key_len`), and returns the value under
    /// it (None when missing). The reference lives as long as the handle's value does.
    fn lookup<'a>(self, key: *const c_char, key_len: usize) -> FfiResult<Option<&'a Value>>;
}

/// A handle whose values the setters write: `*mut TotoSession` or `*mut TotoAccount`.
pub(crate) trait ValueWrite: Copy {
    /// Checks the handle, then the name, then makes the value with `value` and stores
    /// it under the name.
    fn store(
        self,
        key: *const c_char,
        key_len: usize,
        value: impl FnOnce() -> FfiResult<Value>,
    ) -> FfiResult;

    /// As `store` with text, which a handle may copy into the buffer of the value it
    /// replaces instead of allocating a `Value::Text` (the session state does).
    fn store_text<'t>(
        self,
        key: *const c_char,
        key_len: usize,
        text: impl FnOnce() -> FfiResult<&'t str>,
    ) -> FfiResult {
        self.store(key, key_len, || Ok(Value::Text(text()?.to_owned())))
    }

    /// As `store_text` with bytes.
    fn store_bytes<'b>(
        self,
        key: *const c_char,
        key_len: usize,
        bytes: impl FnOnce() -> FfiResult<&'b [u8]>,
    ) -> FfiResult {
        self.store(key, key_len, || Ok(Value::Bytes(bytes()?.to_vec())))
    }
}

/// `_get_type`.
pub(crate) fn get_type(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoValueType,
) -> FfiResult {
    write_scalar(out, h.lookup(key, key_len)?, |v| Ok(v.kind().into()))
}

/// `_get_scalar`.
pub(crate) fn get_scalar(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoScalar,
) -> FfiResult {
    write_scalar_view(out, h.lookup(key, key_len)?).map(|_| ())
}

/// `_get_bool`.
pub(crate) fn get_bool(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut bool,
) -> FfiResult {
    write_scalar(out, h.lookup(key, key_len)?, Value::as_bool)
}

/// `_get_i64`.
pub(crate) fn get_i64(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut i64,
) -> FfiResult {
    write_scalar(out, h.lookup(key, key_len)?, Value::as_i64)
}

/// `_get_f64`.
pub(crate) fn get_f64(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut f64,
) -> FfiResult {
    write_scalar(out, h.lookup(key, key_len)?, Value::as_f64)
}

/// `_get_text`: a borrowed view.
pub(crate) fn get_text(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> FfiResult {
    write_borrowed(out_ptr.cast(), out_len, h.lookup(key, key_len)?, |v| {
        v.as_text().map(str::as_bytes)
    })
}

/// `_get_bytes`: a borrowed view.
pub(crate) fn get_bytes(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const u8,
    out_len: *mut usize,
) -> FfiResult {
    write_borrowed(out_ptr, out_len, h.lookup(key, key_len)?, Value::as_bytes)
}

/// `_get_cbor`: a library-owned buffer.
pub(crate) fn get_cbor(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoBytes,
) -> FfiResult {
    write_cbor(out, found(h.lookup(key, key_len)?)?)
}

/// `_get_json`: a library-owned buffer.
pub(crate) fn get_json(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoBytes,
) -> FfiResult {
    let value = found(h.lookup(key, key_len)?)?;
    let out = args::out(out, "out")?;
    let json = value_json::to_json_vec(value)?;
    args::write(out, TotoBytes::from_vec(json));
    Ok(())
}

/// `_get_json_into`: into the caller's buffer; TooLarge (with the length written)
/// when it does not fit.
pub(crate) fn get_json_into(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
) -> FfiResult {
    let value = found(h.lookup(key, key_len)?)?;
    let len_out = args::out(out_len, "out_len")?;
    let buf = args::bytes_mut(out, capacity, "out")?;
    let len = value_json::write_json_into(value, buf)?;
    args::write(len_out, len);
    if len > capacity {
        return Err(Error::TooLarge {
            what: "the JSON text (*out_len is its length)",
            limit: capacity,
        }
        .into());
    }
    Ok(())
}

/// `_set_null`.
pub(crate) fn set_null(h: impl ValueWrite, key: *const c_char, key_len: usize) -> FfiResult {
    h.store(key, key_len, || Ok(Value::Null))
}

/// `_set_bool`.
pub(crate) fn set_bool(
    h: impl ValueWrite,
    key: *const c_char,
    key_len: usize,
    value: bool,
) -> FfiResult {
    h.store(key, key_len, || Ok(Value::Bool(value)))
}

/// `_set_i64`.
pub(crate) fn set_i64(
    h: impl ValueWrite,
    key: *const c_char,
    key_len: usize,
    value: i64,
) -> FfiResult {
    h.store(key, key_len, || Ok(Value::from(value)))
}

/// `_set_f64`.
pub(crate) fn set_f64(
    h: impl ValueWrite,
    key: *const c_char,
    key_len: usize,
    value: f64,
) -> FfiResult {
    h.store(key, key_len, || Ok(Value::Float(value)))
}

/// `_set_text`: UTF-8 of at most the value size limit, copied.
pub(crate) fn set_text(
    h: impl ValueWrite,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> FfiResult {
    h.store_text(key, key_len, || {
        args::text(value, value_len, "text value", MAX_VALUE_LEN)
    })
}

/// `_set_bytes`: at most the value size limit, copied.
pub(crate) fn set_bytes(
    h: impl ValueWrite,
    key: *const c_char,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> FfiResult {
    h.store_bytes(key, key_len, || {
        args::bytes(value, value_len, "bytes value", MAX_VALUE_LEN)
    })
}

/// `_set_cbor`: one CBOR item.
pub(crate) fn set_cbor(
    h: impl ValueWrite,
    key: *const c_char,
    key_len: usize,
    cbor: *const u8,
    cbor_len: usize,
) -> FfiResult {
    h.store(key, key_len, || cbor_value(cbor, cbor_len))
}

/// `_set_json`: plain JSON text (the JSON bridge).
pub(crate) fn set_json(
    h: impl ValueWrite,
    key: *const c_char,
    key_len: usize,
    json: *const c_char,
    json_len: usize,
) -> FfiResult {
    h.store(key, key_len, || {
        let raw = args::bytes(json.cast(), json_len, "JSON text", MAX_VALUE_LEN)?;
        Ok(value_json::from_json(raw)?)
    })
}

/// Writes the scalar view of `value` to `out`.
/// What `toto_session_get_scalar_z` returns besides `out`: the value's type in bits
/// 0-7, the bool in bit 8, "the integer fits" in bit 9, the text or bytes length from
/// bit 16 (values are at most 1 MiB, so this stays far below 2^62).
fn packed_head(view: &TotoScalar) -> i64 {
    (view.value_type as i64)
        | (i64::from(view.boolean) << 8)
        | (i64::from(view.integer_fits) << 9)
        | ((view.len as i64) << 16)
}

/// `_get_scalar_z`: as [`get_scalar`], returning [`packed_head`].
pub(crate) fn get_scalar_packed(
    h: impl ValueRead,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoScalar,
) -> FfiResult<i64> {
    write_scalar_view(out, h.lookup(key, key_len)?)
}

fn write_scalar_view(out: *mut TotoScalar, value: Option<&Value>) -> FfiResult<i64> {
    let out = args::out(out, "out")?;
    let v = found(value)?;
    let mut view = TotoScalar {
        value_type: v.kind().into(),
        boolean: false,
        integer_fits: false,
        integer: 0,
        number: 0.0,
        data: std::ptr::null(),
        len: 0,
    };
    match v {
        Value::Bool(b) => view.boolean = *b,
        Value::Integer(i) => {
            if let Ok(small) = i64::try_from(*i) {
                view.integer = small;
                view.integer_fits = true;
            }
        }
        Value::Float(f) => view.number = *f,
        Value::Text(t) => (view.data, view.len) = (t.as_ptr(), t.len()),
        Value::Bytes(b) => (view.data, view.len) = (b.as_ptr(), b.len()),
        Value::Null | Value::Array(_) | Value::Map(_) => {}
    }
    let head = packed_head(&view);
    args::write(out, view);
    Ok(head)
}

/// A state key or property name argument.
pub(crate) fn name<'a>(ptr: *const c_char, len: usize) -> FfiResult<&'a str> {
    args::text(ptr, len, "name", MAX_NAME_LEN)
}

/// The value, or `TOTO_RESULT_NOT_FOUND`.
fn found(value: Option<&Value>) -> FfiResult<&Value> {
    value.ok_or(Error::NotFound.into())
}

/// One CBOR item (at most the value size limit, nested at most the depth limit).
pub(crate) fn cbor_value(ptr: *const u8, len: usize) -> FfiResult<Value> {
    let raw = args::bytes(ptr, len, "CBOR value", MAX_VALUE_LEN)?;
    let value: Value = codec::from_slice(raw, MAX_VALUE_LEN, "CBOR value")?;
    if value.depth() > MAX_DEPTH {
        return Err(Error::Decode(format!("nested deeper than {MAX_DEPTH}")).into());
    }
    Ok(value)
}

/// Writes the CBOR encoding of `value` into a library-owned buffer.
pub(crate) fn write_cbor(out: *mut TotoBytes, value: &Value) -> FfiResult {
    let out = args::out(out, "out")?;
    let encoded = codec::to_vec(value)?;
    args::write(out, TotoBytes::from_vec(encoded));
    Ok(())
}

/// Reads a scalar with `read` and writes it to `out`.
fn write_scalar<T>(
    out: *mut T,
    value: Option<&Value>,
    read: impl FnOnce(&Value) -> crate::Result<T>,
) -> FfiResult {
    let out = args::out(out, "out")?;
    let v = read(found(value)?)?;
    args::write(out, v);
    Ok(())
}

/// Writes a borrowed view of text or bytes held by a handle.
fn write_borrowed(
    ptr_out: *mut *const u8,
    len_out: *mut usize,
    value: Option<&Value>,
    read: impl FnOnce(&Value) -> crate::Result<&[u8]>,
) -> FfiResult {
    args::out(ptr_out, "out pointer")?;
    args::out(len_out, "out length")?;
    let view = read(found(value)?)?;
    args::write_view(ptr_out, len_out, view)
}
