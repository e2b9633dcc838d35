//! Typed values in and out of the boundary, shared by session state and account
//! properties.

use std::ffi::c_char;

use crate::codec;
use crate::error::Error;
use crate::ffi::args;
use crate::ffi::boundary::FfiResult;
use crate::ffi::bytes::TotoBytes;
use crate::limits::{MAX_DEPTH, MAX_NAME_LEN, MAX_VALUE_LEN};
use crate::value::{Value, ValueKind};
use crate::value_json;

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

/// Writes the scalar view of `value` to `out`.
pub(crate) fn write_scalar_view(out: *mut TotoScalar, value: Option<&Value>) -> FfiResult {
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
    args::write(out, view);
    Ok(())
}

/// A state key or property name argument.
pub(crate) fn name<'a>(ptr: *const c_char, len: usize) -> FfiResult<&'a str> {
    args::text(ptr, len, "name", MAX_NAME_LEN)
}

/// The value, or `TOTO_RESULT_NOT_FOUND`.
pub(crate) fn found(value: Option<&Value>) -> FfiResult<&Value> {
    value.ok_or(Error::NotFound.into())
}

pub(crate) fn text_value(ptr: *const c_char, len: usize) -> FfiResult<Value> {
    Ok(Value::Text(
        args::text(ptr, len, "text value", MAX_VALUE_LEN)?.to_owned(),
    ))
}

pub(crate) fn bytes_value(ptr: *const u8, len: usize) -> FfiResult<Value> {
    Ok(Value::Bytes(
        args::bytes(ptr, len, "bytes value", MAX_VALUE_LEN)?.to_vec(),
    ))
}

pub(crate) fn cbor_value(ptr: *const u8, len: usize) -> FfiResult<Value> {
    let raw = args::bytes(ptr, len, "CBOR value", MAX_VALUE_LEN)?;
    let value: Value = codec::from_slice(raw, MAX_VALUE_LEN, "CBOR value")?;
    if value.depth() > MAX_DEPTH {
        return Err(Error::Decode(format!("nested deeper than {MAX_DEPTH}")).into());
    }
    Ok(value)
}

pub(crate) fn json_value(ptr: *const c_char, len: usize) -> FfiResult<Value> {
    let raw = args::bytes(ptr.cast(), len, "JSON text", MAX_VALUE_LEN)?;
    Ok(value_json::from_json(raw)?)
}

/// Writes the CBOR encoding of `value` into a library-owned buffer.
pub(crate) fn write_cbor(out: *mut TotoBytes, value: &Value) -> FfiResult {
    let out = args::out(out, "out")?;
    let encoded = codec::to_vec(value)?;
    args::write(out, TotoBytes::from_vec(encoded));
    Ok(())
}

/// Writes the JSON text of `value` into a library-owned buffer.
pub(crate) fn write_json(out: *mut TotoBytes, value: &Value) -> FfiResult {
    let out = args::out(out, "out")?;
    let json = value_json::to_json(value)?;
    args::write(out, TotoBytes::from_vec(json.into_bytes()));
    Ok(())
}

/// Reads a scalar with `read` and writes it to `out`.
pub(crate) fn write_scalar<T>(
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
pub(crate) fn write_borrowed(
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

pub(crate) fn read_text(v: &Value) -> crate::Result<&[u8]> {
    v.as_text().map(str::as_bytes)
}

pub(crate) fn read_bytes(v: &Value) -> crate::Result<&[u8]> {
    v.as_bytes()
}

pub(crate) fn write_type(out: *mut TotoValueType, value: Option<&Value>) -> FfiResult {
    write_scalar(out, value, |v| Ok(v.kind().into()))
}
