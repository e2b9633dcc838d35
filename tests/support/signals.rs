//! Signals aimed at a test's own thread, as a host delivers them to whichever thread is
//! in a library call (a pre-forking master's SIGCHLD, a Ruby or Go runtime's own):
//! SIGUSR2 through a handler installed without SA_RESTART, as Ruby and many C servers
//! install theirs. Socket calls with a timeout fail with EINTR on them whatever
//! SA_RESTART.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Signals delivered so far (the handler counts them).
static SEEN: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SEEN.fetch_add(1, Ordering::Relaxed);
}

/// Signals delivered to any test thread so far.
pub fn seen() -> u64 {
    SEEN.load(Ordering::Relaxed)
}

/// A thread signalling the thread that started it until stopped.
pub struct Signaller {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Signaller {
    /// Starts signalling the calling thread every `period` (at least; sleeps are
    /// coarser than a few tens of microseconds).
    pub fn start(period: Duration) -> Signaller {
        // SAFETY (test): the handler only bumps an atomic (async-signal-safe).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0;
            assert_eq!(
                libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()),
                0
            );
        }
        // SAFETY (test): the calling thread's own id.
        let target = unsafe { libc::pthread_self() } as usize;
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    // SAFETY (test): the target thread stops and joins this one (in
                    // `stop` or on drop) before it can end.
                    unsafe { libc::pthread_kill(target as libc::pthread_t, libc::SIGUSR2) };
                    std::thread::sleep(period);
                }
            })
        };
        Signaller {
            done,
            thread: Some(thread),
        }
    }

    /// Stops signalling (and waits until no signal is on its way).
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Signaller {
    fn drop(&mut self) {
        self.join();
    }
}
