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
fn wall_clock_now() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Unix seconds from the system clock.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn wall_clock_now() -> f64 {
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
}
