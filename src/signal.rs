//! Ctrl-C and SIGTERM: the first one sets a flag that measurement loops check, so they
//! stop with an error and every cleanup guard (temp files, run keys, schemas, managed
//! servers) runs on the way out. A second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit, both
        // async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// An error if a signal arrived: call it in measurement loops.
pub fn check() -> crate::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(crate::Error::Interrupted)
    } else {
        Ok(())
    }
}
