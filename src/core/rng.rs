//! The one source of randomness in the library: session ids, per-session HMAC keys,
//! Argon2 salts and generated passwords all come from [`fill`].
//!
//! A thread-local ChaCha12 generator (`rand`'s `StdRng`) seeded from the operating
//! system (`getrandom`), so an id costs no system call. It is **fork-safe**: a child
//! created by `fork()` inherits its parent's memory, thread-locals included, so each
//! generator remembers which process it was seeded in and is reseeded from the OS in
//! any other process. "Which process" is told in one of two ways:
//!
//! - a fork counter, when a `pthread_atfork` child handler is installed (the `ffi`
//!   module installs it when the library is loaded and at the first C call; see
//!   [`note_fork`]): one atomic load per draw;
//! - otherwise the process id ([`std::process::id`], a system call per draw): slower,
//!   equally safe. A generator seeded before the handler was installed keeps using
//!   the process id until it has confirmed it is still in its own process.
//!
//! It is also reseeded from the OS after every [`RESEED_AFTER`] bytes, so a leaked
//! generator state exposes at most that much output.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::rngs::{StdRng, SysRng};
use rand::{Rng, SeedableRng};

/// Bytes drawn from one seed before the generator is reseeded from the OS.
pub const RESEED_AFTER: usize = 64 * 1024;

/// Incremented in a child process right after `fork()` (by the atfork handler).
static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);
/// True once an atfork child handler calls [`note_fork`] on every fork.
static FORK_HOOK: AtomicBool = AtomicBool::new(false);

/// Called in the child right after every `fork()` by a handler registered with
/// `pthread_atfork`: every generator seeded before it is then reseeded at its next
/// draw. Async-signal-safe (one atomic increment).
pub fn note_fork() {
    FORK_EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// Declares that a `pthread_atfork` child handler calling [`note_fork`] is installed,
/// so draws may check the fork counter instead of the process id. Declaring it
/// without such a handler would make forked children repeat their parent's draws.
pub fn set_fork_hook_installed() {
    FORK_HOOK.store(true, Ordering::Release);
}

/// True when draws rely on the fork counter (see the module doc).
pub fn fork_hook_installed() -> bool {
    FORK_HOOK.load(Ordering::Acquire)
}

struct Local {
    /// The fork counter at seeding (meaningful when `hooked`).
    epoch: u64,
    /// Seeded (or confirmed) while the fork hook was installed.
    hooked: bool,
    /// The process the generator was seeded in (checked when not `hooked`).
    pid: u32,
    drawn: usize,
    rng: StdRng,
}

impl Local {
    fn seeded() -> Local {
        // getrandom on Linux fails only before the kernel's pool is initialised at
        // boot or under a seccomp policy forbidding it; there is no safe fallback then.
        let rng = StdRng::try_from_rng(&mut SysRng).expect("the OS random generator failed");
        let hooked = fork_hook_installed();
        Local {
            epoch: FORK_EPOCH.load(Ordering::Acquire),
            hooked,
            pid: if hooked { 0 } else { std::process::id() },
            drawn: 0,
            rng,
        }
    }

    /// True when this generator may go on: same process, under its reseed budget.
    fn usable(&mut self) -> bool {
        if self.drawn >= RESEED_AFTER {
            return false;
        }
        if self.hooked {
            return self.epoch == FORK_EPOCH.load(Ordering::Acquire);
        }
        if self.pid != std::process::id() {
            return false;
        }
        // Still in the process it was seeded in: from now on the counter can tell.
        if fork_hook_installed() {
            self.hooked = true;
            self.epoch = FORK_EPOCH.load(Ordering::Acquire);
        }
        true
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Fills `dest` with cryptographically secure random bytes (see the module doc).
pub fn fill(dest: &mut [u8]) {
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        if !slot.as_mut().is_some_and(Local::usable) {
            *slot = None;
        }
        let local = slot.get_or_insert_with(Local::seeded);
        local.drawn += dest.len();
        local.rng.fill_bytes(dest);
    });
}

/// `N` random bytes (see [`fill`]).
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_survive_reseeding() {
        let mut seen = std::collections::HashSet::new();
        // Crosses the reseed threshold several times.
        for _ in 0..(4 * RESEED_AFTER / 16) {
            assert!(seen.insert(bytes::<16>()), "a 128-bit draw repeated");
        }
    }

    #[test]
    fn threads_draw_independently() {
        let a = std::thread::spawn(bytes::<32>).join().unwrap();
        let b = std::thread::spawn(bytes::<32>).join().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_fork_notice_reseeds_the_next_draw() {
        // Simulates what the child of a fork sees: the counter moves, and the
        // generator must not continue its old stream.
        std::thread::spawn(|| {
            fill(&mut [0u8; 1]);
            let before = LOCAL.with(|c| {
                let c = c.borrow();
                let l = c.as_ref().unwrap();
                (l.epoch, l.drawn)
            });
            assert_eq!(before.1, 1);
            note_fork();
            fill(&mut [0u8; 1]);
            LOCAL.with(|c| {
                let c = c.borrow();
                let l = c.as_ref().unwrap();
                if l.hooked {
                    assert_eq!(l.drawn, 1, "reseeded after the fork notice");
                    assert_ne!(l.epoch, before.0);
                }
            });
        })
        .join()
        .unwrap();
    }
}
