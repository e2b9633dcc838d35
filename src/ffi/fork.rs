//! Fork detection for the core's random generator ([`crate::core::rng`]): a
//! `pthread_atfork` child handler that bumps the core's fork counter, installed once
//! per process, when the library is loaded (an `.init_array` constructor) and, in case
//! a static link dropped the constructor, at the first call through the C boundary.
//! Until it is installed the generator checks the process id on every draw instead.

use std::sync::Once;

static INSTALL: Once = Once::new();

extern "C" fn child_after_fork() {
    crate::core::rng::note_fork();
}

/// Installs the atfork handler (once per process; later calls are one atomic load).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: pthread_atfork only records the three function pointers; the child
        // handler is a plain `extern "C" fn` with no unwinding that performs one atomic
        // increment (async-signal-safe, as code running right after fork must be).
        let rc = unsafe { libc::pthread_atfork(None, None, Some(child_after_fork)) };
        if rc == 0 {
            crate::core::rng::set_fork_hook_installed();
        }
    });
}

extern "C" fn install_at_load() {
    install();
}

/// Runs [`install`] when the library is loaded (shared library, or a binary that
/// links the crate), before any thread of the host can draw an id.
#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android"),
    link_section = ".init_array"
)]
#[cfg_attr(
    any(target_os = "macos", target_os = "ios"),
    link_section = "__DATA,__mod_init_func"
)]
static INSTALL_AT_LOAD: extern "C" fn() = install_at_load;

#[cfg(test)]
mod tests {
    #[test]
    fn the_handler_is_installed_at_load() {
        assert!(crate::core::rng::fork_hook_installed());
    }
}
