//! A host-supplied clock (for tests and simulations).

use std::ffi::c_void;

use crate::core::clock::Clock;

/// A host clock: returns the current time in Unix seconds; `clock_data` is the pointer
/// given with it. Called from any thread, possibly at the same time: it must be
/// thread-safe. (Spelled out inline in the C signatures that take one.)
pub(crate) type TotoClockFn = unsafe extern "C" fn(clock_data: *mut c_void) -> f64;

pub(crate) struct CClock {
    now: TotoClockFn,
    data: *mut c_void,
}

// SAFETY: the documented contract of TotoClockFn is that it and its data are
// thread-safe and outlive every object they are given to.
unsafe impl Send for CClock {}
// SAFETY: as above.
unsafe impl Sync for CClock {}

impl CClock {
    pub(crate) fn new(now: TotoClockFn, data: *mut c_void) -> CClock {
        CClock { now, data }
    }
}

impl Clock for CClock {
    fn now(&self) -> f64 {
        // SAFETY: the host's function with its own data, per the contract above.
        unsafe { (self.now)(self.data) }
    }
}
