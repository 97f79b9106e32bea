//! Ctrl-C, SIGTERM and SIGHUP (a closed terminal): the first one sets a flag that
//! measurement loops check, so they stop with an error and every cleanup guard (temp
//! files, run keys, schemas, managed servers) runs on the way out; the run then exits
//! 130 and writes no results folder. A second one exits at once (managed servers still
//! die with us: they have a parent-death signal; `ladder clean` finds the rest).

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP.
pub fn install() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only touches an atomic and calls _exit, both
        // async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Whether a signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// An error if a signal arrived: call it in measurement loops.
pub fn check() -> crate::Result<()> {
    if interrupted() {
        Err(crate::Error::Interrupted)
    } else {
        Ok(())
    }
}
