//! Time as Toto sees it: float seconds since the Unix epoch. Injectable for tests.

use std::sync::atomic::{AtomicU64, Ordering};

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> f64;

    /// True for the system wall clock ([`SystemClock`]): two such clocks read the same
    /// time, so a reading from one may stand for a reading from the other a moment
    /// later (see [`crate::core::store::Renewal::system_now`]).
    fn is_system(&self) -> bool {
        false
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        wall_clock_now()
    }

    fn is_system(&self) -> bool {
        true
    }
}

/// Unix seconds from the system's realtime clock: one `clock_gettime` (a vDSO read),
/// converted straight to seconds. `SystemTime::now` reads the same clock but its
/// checks and `Duration` arithmetic cost as much again, a tenth of a retrieve.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn wall_clock_now() -> f64 {
    unix_seconds(rustix::time::ClockId::Realtime)
}

/// Unix seconds from one of the system's realtime clocks, read with `clock_gettime`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn unix_seconds(clock: rustix::time::ClockId) -> f64 {
    let t = rustix::time::clock_gettime(clock);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// How far a rough reading of the wall clock ([`rough_wall_clock_now`]) may lag it, in
/// seconds. The kernel's coarse clock is the wall clock as of its last tick: a few
/// milliseconds behind (5.8 ms the most seen on a tickless VM, against a 4 ms tick);
/// a second is a wide margin, and costs only a precise reading now and then.
#[cfg(any(target_os = "linux", target_os = "android"))]
const ROUGH_LAG: f64 = 1.0;

/// [`ROUGH_LAG`] where the rough reading is the precise one.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const ROUGH_LAG: f64 = 0.0;

/// Unix seconds from the system's realtime clock as of the kernel's last tick
/// (`CLOCK_REALTIME_COARSE`, a vDSO read that takes no clock source read): never
/// ahead of [`SystemClock`], behind it by less than [`ROUGH_LAG`], and a third of the
/// cost of a precise reading. Decisions taken from it go through [`reached`].
#[cfg(any(target_os = "linux", target_os = "android"))]
fn rough_wall_clock_now() -> f64 {
    unix_seconds(rustix::time::ClockId::RealtimeCoarse)
}

/// The precise reading, where there is no cheaper one.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn rough_wall_clock_now() -> f64 {
    wall_clock_now()
}

/// A reading of `clock` and how far it may lag it, in seconds: the system clock read
/// roughly ([`rough_wall_clock_now`], up to [`ROUGH_LAG`] behind), any other clock's
/// own reading (no lag). Every decision taken from it goes through [`reached`].
pub(crate) fn reading(clock: &dyn Clock) -> (f64, f64) {
    if clock.is_system() {
        (rough_wall_clock_now(), ROUGH_LAG)
    } else {
        (clock.now(), 0.0)
    }
}

/// Whether the system wall clock has reached `t`, given a reading `now` of it that
/// may lag it by up to `lag` seconds (0: a precise reading): from `now` when that
/// settles it, otherwise from a precise reading taken here. The answer is the one a
/// precise reading would give.
pub(crate) fn reached(t: f64, now: f64, lag: f64) -> bool {
    if t <= now {
        true
    } else if t > now + lag {
        false
    } else {
        t <= wall_clock_now()
    }
}

/// Unix seconds from the system clock.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn wall_clock_now() -> f64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock reading `now`.
    pub fn new(now: f64) -> Self {
        ManualClock(AtomicU64::new(now.to_bits()))
    }
    /// Sets the time.
    pub fn set(&self, now: f64) {
        self.0.store(now.to_bits(), Ordering::SeqCst);
    }
    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: f64) {
        self.set(self.now() + seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn precise_now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    }

    /// The clock is the wall clock `SystemTime` reads: a reading lies between one taken
    /// before and one taken after (to a microsecond: f64 seconds), and callers may rely
    /// on that (expiry >= their own `now` before the call + TTL).
    #[test]
    fn system_clock_reads_the_wall_clock() {
        for _ in 0..1000 {
            let before = precise_now();
            let now = SystemClock.now();
            let after = precise_now();
            assert!(
                now >= before - 1e-6,
                "behind the wall clock: {now} < {before}"
            );
            assert!(
                now <= after + 1e-6,
                "ahead of the wall clock: {now} > {after}"
            );
        }
        assert!(SystemClock.is_system());
    }

    /// The rough reading is never ahead of the precise one and lags it by less than
    /// its bound; `reached` answers as a precise reading would, the ambiguous band
    /// included.
    #[test]
    fn a_rough_reading_lags_within_its_bound_and_decides_as_a_precise_one() {
        for _ in 0..100_000 {
            let rough = rough_wall_clock_now();
            let precise = SystemClock.now();
            assert!(rough <= precise + 1e-6, "rough ahead: {rough} > {precise}");
            assert!(
                precise - rough < ROUGH_LAG.max(1e-3),
                "lag {}",
                precise - rough
            );
        }
        let now = rough_wall_clock_now();
        // Settled by the reading itself.
        assert!(reached(now - 10.0, now, ROUGH_LAG));
        assert!(!reached(now + ROUGH_LAG + 10.0, now, ROUGH_LAG));
        // In the band: by the precise clock (which has passed `now`, not `now + 60`).
        assert!(reached(now, now - ROUGH_LAG / 2.0, ROUGH_LAG));
        assert!(!reached(now + 60.0, now + 59.9, ROUGH_LAG.max(0.2)));
        // A precise reading (no lag) is taken at its word.
        assert!(reached(now, now, 0.0));
        assert!(!reached(now + 1e-3, now, 0.0));
    }
}
