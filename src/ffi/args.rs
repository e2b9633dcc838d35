//! Turning C arguments into Rust values, with every check the boundary promises.

use std::borrow::Cow;
use std::ffi::c_char;

use crate::core::error::Error;
use crate::ffi::boundary::{Failure, FfiResult};
use crate::ffi::result::TotoResult;

/// Borrows `len` bytes at `ptr`. NULL with length 0 is the empty slice; NULL with a
/// length is refused; lengths over `limit` are refused before anything is read.
pub(crate) fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: &'static str,
    limit: usize,
) -> FfiResult<&'a [u8]> {
    if len > limit {
        return Err(Error::TooLarge { what, limit }.into());
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: `ptr` is non-NULL and the C contract of every entry point is that it
    // points to `len` readable bytes that stay unchanged for the duration of the call.
    // `len <= limit` (at most 64 MiB) so it is within isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's output buffer of `capacity` bytes as a slice (empty for capacity 0,
/// where `ptr` may be NULL).
pub(crate) fn bytes_mut<'a>(
    ptr: *mut u8,
    capacity: usize,
    what: &'static str,
) -> FfiResult<&'a mut [u8]> {
    if capacity == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    if capacity > isize::MAX as usize {
        return Err(Failure::Code(
            TotoResult::InvalidArgument,
            Cow::Owned(format!("{what} capacity is over isize::MAX")),
        ));
    }
    // SAFETY: `ptr` is non-NULL and the C contract is that it points to `capacity`
    // writable bytes, not otherwise accessed during the call; `capacity <= isize::MAX`.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, capacity) })
}

/// The length of a NUL-terminated string argument (the `_z` entry points), without
/// its NUL: `TOTO_RESULT_NULL_ARGUMENT` for NULL. The scan stops after `limit` bytes
/// (the caller's own length limit), so an over-long argument is refused as one given
/// with a length would be, and no more of it is read.
pub(crate) fn z_len(ptr: *const c_char, what: &'static str, limit: usize) -> FfiResult<usize> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    let mut len = 0;
    loop {
        // SAFETY: `ptr` is non-NULL and the C contract of the `_z` entry points is that
        // it points to a NUL-terminated string that stays unchanged during the call;
        // bytes are read one at a time, up to the first NUL, so none past it is read.
        if unsafe { ptr.add(len).read() } == 0 {
            return Ok(len);
        }
        if len == limit {
            return Err(Error::TooLarge { what, limit }.into());
        }
        len += 1;
    }
}

/// Borrows UTF-8 text; see [`bytes`]. Invalid UTF-8 is `TOTO_RESULT_INVALID_UTF8`.
pub(crate) fn text<'a>(
    ptr: *const c_char,
    len: usize,
    what: &'static str,
    limit: usize,
) -> FfiResult<&'a str> {
    let raw = bytes(ptr.cast(), len, what, limit)?;
    // Keys and most text values are ASCII: `is_ascii` checks a word at a time, where
    // `from_utf8` goes byte by byte on short input (a 31-byte value: about 150
    // instructions, a quarter of a `set_text`).
    if raw.is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(raw) });
    }
    std::str::from_utf8(raw).map_err(|_| {
        Failure::Code(
            TotoResult::InvalidUtf8,
            Cow::Owned(format!("{what} is not valid UTF-8")),
        )
    })
}

/// Checks an output pointer up front (so nothing is done for a call that cannot
/// report its result) and returns it for a later [`write`].
pub(crate) fn out<T>(ptr: *mut T, what: &'static str) -> FfiResult<*mut T> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(Failure::Code(
            TotoResult::InvalidArgument,
            Cow::Owned(format!("{what} is misaligned")),
        ));
    }
    Ok(ptr)
}

/// Checks a caller's text buffer up front, before any work it would report: not NULL
/// (`what` names it), at least `min` bytes (`needs` says which constant).
pub(crate) fn out_buffer(
    buf: *mut c_char,
    capacity: usize,
    min: usize,
    what: &'static str,
    needs: &'static str,
) -> FfiResult {
    if buf.is_null() {
        return Err(Failure::null(what));
    }
    if capacity < min {
        return Err(Error::InvalidArgument(needs).into());
    }
    Ok(())
}

/// Writes an output checked by [`out`].
pub(crate) fn write<T>(ptr: *mut T, value: T) {
    // SAFETY: `ptr` passed `out` (non-NULL, aligned) and the C contract is that output
    // arguments point to writable storage for a T. `write` does not read or drop the
    // old (possibly uninitialised) contents.
    unsafe { ptr.write(value) }
}

/// Writes a borrowed string/byte view (pointer + length) into two outputs.
pub(crate) fn write_view(ptr_out: *mut *const u8, len_out: *mut usize, view: &[u8]) -> FfiResult {
    let p = out(ptr_out, "output pointer")?;
    let l = out(len_out, "output length")?;
    write(p, view.as_ptr());
    write(l, view.len());
    Ok(())
}

/// Copies `text` plus a NUL into a caller buffer of `capacity` bytes.
pub(crate) fn write_c_string(buf: *mut c_char, capacity: usize, text: &str) -> FfiResult {
    write_c_bytes(buf, capacity, text.as_bytes())
}

/// Copies `text` (without NULs of its own) plus a NUL into a caller buffer of
/// `capacity` bytes.
pub(crate) fn write_c_bytes(buf: *mut c_char, capacity: usize, text: &[u8]) -> FfiResult {
    if buf.is_null() {
        return Err(Failure::null("output buffer"));
    }
    if capacity < text.len() + 1 {
        return Err(Failure::Code(
            TotoResult::InvalidArgument,
            Cow::Owned(format!("output buffer needs {} bytes", text.len() + 1)),
        ));
    }
    // SAFETY: `buf` is non-NULL and the caller promised `capacity` writable bytes;
    // `text.len() + 1 <= capacity`; the source is a distinct Rust buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

/// A session id argument: NULL with a length is TOTO_RESULT_NULL_ARGUMENT; anything
/// else that is not a well-formed id (too long, not UTF-8, bad characters) is Toto's
/// 1007.
pub(crate) fn session_id_arg<'a>(id: *const c_char, len: usize) -> FfiResult<&'a str> {
    let id = text(
        id,
        len,
        "session id",
        crate::core::limits::MAX_SESSION_ID_LEN,
    )
    .map_err(|f| match f.code() {
        TotoResult::NullArgument => f,
        _ => Error::InvalidSessionId.into(),
    })?;
    crate::core::id::validate_session_id(id)?;
    Ok(id)
}

/// Copies a caller's versioned options struct over `defaults`: `lens[v - 1]` is how
/// many leading bytes version `v` has (the last entry, the current version, is the
/// whole struct), so an older caller's shorter struct is read as itself and the fields
/// it lacks keep their defaults. An unknown version is INVALID_ARGUMENT (`what`).
///
/// # Safety
/// `src` is non-NULL and points to readable options whose first field is a `u32`
/// version, at least as long as that version implies; `T` is plain data.
pub(crate) unsafe fn copy_versioned<T: Copy>(
    src: *const T,
    mut defaults: T,
    lens: &[usize],
    what: &'static str,
) -> FfiResult<T> {
    // SAFETY: every version of the struct starts with its u32 version field.
    let version = unsafe { src.cast::<u32>().read_unaligned() } as usize;
    let Some(&len) = version.checked_sub(1).and_then(|i| lens.get(i)) else {
        return Err(Error::InvalidArgument(what).into());
    };
    debug_assert!(len <= std::mem::size_of::<T>());
    // SAFETY: the caller guarantees `len` readable bytes at `src`; they are the leading
    // fields of a valid options struct, copied over a valid one (plain data).
    unsafe {
        std::ptr::copy_nonoverlapping(
            src.cast::<u8>(),
            std::ptr::addr_of_mut!(defaults).cast::<u8>(),
            len,
        );
    }
    Ok(defaults)
}
