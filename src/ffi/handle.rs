//! Opaque handles: boxed Rust values with a type tag checked on every use, so a NULL,
//! misaligned, wrong-type or (often) already-freed pointer gives a result code instead
//! of undefined behaviour. The tag check is a cheap guard, not a guarantee: a freed
//! pointer whose memory was reused can still slip through.

use std::borrow::Cow;

use crate::ffi::boundary::{Failure, FfiResult};
use crate::ffi::result::TotoResult;

/// Written over a handle's tag just before it is freed.
const DEAD: u64 = 0xdead_dead_dead_dead;

/// A Rust type handed to C behind an opaque pointer.
/// Implementors must be `repr(C)` with `tag: u64` as their first field.
pub(crate) trait Handle: Sized {
    /// A value unique to the type.
    const TAG: u64;
    /// A name for messages.
    const NAME: &'static str;
    fn kill(&mut self);
}

macro_rules! handle {
    ($ty:ident, $tag:expr, $name:expr) => {
        impl $crate::ffi::handle::Handle for $ty {
            const TAG: u64 = $tag;
            const NAME: &'static str = $name;
            fn kill(&mut self) {
                self.tag = $crate::ffi::handle::dead_tag();
            }
        }
    };
}
pub(crate) use handle;

pub(crate) const fn dead_tag() -> u64 {
    DEAD
}

fn invalid<H: Handle>() -> Failure {
    Failure::Code(
        TotoResult::InvalidHandle,
        Cow::Owned(format!("not a live {} handle", H::NAME)),
    )
}

fn check<H: Handle>(ptr: *const H) -> FfiResult {
    if ptr.is_null() {
        return Err(Failure::null(H::NAME));
    }
    if !(ptr as usize).is_multiple_of(std::mem::align_of::<H>()) {
        return Err(invalid::<H>());
    }
    // SAFETY: non-NULL and aligned; the C contract is that handle arguments come from
    // this library's constructors. Every handle type is repr(C) with its u64 tag first,
    // so these 8 bytes exist and are initialised in any of our handles, whatever its
    // type; reading them through a u64 pointer (not a reference to H) is how a handle of
    // the wrong type, or a freed one, is caught where cheap (see the module note).
    let tag = unsafe { ptr.cast::<u64>().read() };
    if tag == H::TAG {
        Ok(())
    } else {
        Err(invalid::<H>())
    }
}

/// Moves a value to the heap and writes its pointer to `out`.
pub(crate) fn into_raw<H: Handle>(value: H) -> *mut H {
    Box::into_raw(Box::new(value))
}

/// Borrows a handle shared (for types documented as usable from many threads, or for
/// read-only calls).
pub(crate) fn borrow<'a, H: Handle>(ptr: *const H) -> FfiResult<&'a H> {
    check(ptr)?;
    // SAFETY: `check` verified non-NULL, alignment and the live tag; the handle stays
    // alive for the call because freeing it concurrently is a documented contract
    // violation.
    Ok(unsafe { &*ptr })
}

/// Borrows a handle exclusively (single-thread handle types: session, account).
pub(crate) fn borrow_mut<'a, H: Handle>(ptr: *mut H) -> FfiResult<&'a mut H> {
    check(ptr)?;
    // SAFETY: as in `borrow`; exclusivity is the documented contract of the
    // single-thread handle types ("used by one thread at a time").
    Ok(unsafe { &mut *ptr })
}

/// Frees a handle. NULL does nothing; a pointer that fails the tag check is left alone
/// (a leak is better than freeing memory that is not ours).
pub(crate) fn free<H: Handle>(ptr: *mut H) {
    if check(ptr).is_err() {
        return;
    }
    // SAFETY: `check` passed, so `ptr` came from `into_raw` for this type and has not
    // been freed through this function (which kills the tag first).
    let mut boxed = unsafe { Box::from_raw(ptr) };
    boxed.kill();
    drop(boxed);
}
