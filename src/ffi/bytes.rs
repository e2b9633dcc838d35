//! Byte buffers that cross the boundary.

use crate::ffi::boundary::run_plain;

/// A library-owned byte buffer (records, CBOR, JSON text, ids from a cache).
///
/// Ownership: filled in by the library, owned by the caller until passed to
/// `toto_bytes_free`. `data` is not NUL-terminated. Do not change `data` or `len`.
/// An empty buffer may have a non-NULL `data`; free it all the same.
#[repr(C)]
pub struct TotoBytes {
    /// The bytes.
    pub data: *mut u8,
    /// How many.
    pub len: usize,
}

impl TotoBytes {
    pub(crate) fn from_vec(v: Vec<u8>) -> TotoBytes {
        let boxed = v.into_boxed_slice();
        let len = boxed.len();
        TotoBytes {
            data: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }
}

/// A borrowed text (name, id) passed in an array: pointer + length, not NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoStr {
    /// UTF-8 bytes (may be NULL when `len` is 0).
    pub ptr: *const std::ffi::c_char,
    /// Length in bytes.
    pub len: usize,
}

/// Frees a buffer filled in by the library and resets it to {NULL, 0}.
///
/// Ownership: releases `bytes->data`; `bytes` itself stays the caller's.
/// Thread safety: any thread, one call per buffer.
/// Errors: none. NULL `bytes` or a buffer already freed (data NULL) does nothing.
#[no_mangle]
pub extern "C" fn toto_bytes_free(bytes: *mut TotoBytes) {
    run_plain(|| {
        if bytes.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL; the contract is that it points to a toto_bytes the library
        // filled in (data from `from_vec`, len unchanged) or to a zeroed one.
        unsafe {
            let b = &mut *bytes;
            if !b.data.is_null() {
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    b.data, b.len,
                )));
            }
            b.data = std::ptr::null_mut();
            b.len = 0;
        }
        Ok(())
    });
}
