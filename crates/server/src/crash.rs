//! A crash report in the log, as Redis writes one (`crash-log-enabled`): when the
//! process gets SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT, the log gets the
//! report's start line, `crashed by signal`, a `STACK TRACE` section (the thread
//! that took the signal) and the end line; then the signal's default action
//! ends the process (core dump included). Scripts and Redis's tests look for
//! these lines.
//!
//! Formatting a backtrace inside a signal handler is not async-signal-safe; like
//! Redis's, this is a best effort on a process that is going down anyway.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static IN_CRASH: AtomicBool = AtomicBool::new(false);

const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

extern "C" fn on_fatal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // A second fault while reporting ends it.
    if !IN_CRASH.swap(true, Relaxed) {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let code = if info.is_null() {
            0
        } else {
            unsafe { (*info).si_code }
        };
        crate::log::raw("\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n");
        tracing::warn!(
            "ferrokv (Redis {} compatible) crashed by signal: {sig}, si_code: {code}",
            crate::REDIS_VERSION
        );
        let trace = std::backtrace::Backtrace::force_capture();
        crate::log::raw(&format!("\n------ STACK TRACE ------\n{trace}\n"));
        crate::log::raw(
            "\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n",
        );
    }
    // SA_RESETHAND put the default action back: raising again ends the process.
    // SAFETY: raise is async-signal-safe.
    unsafe {
        libc::raise(sig);
    }
}

/// Installs the handlers (`crash-log-enabled yes`), or puts the default actions
/// back (`no`): at start-up and on CONFIG SET.
pub fn set_enabled(on: bool) {
    for sig in SIGNALS {
        // SAFETY: a zeroed sigaction is valid; the handler has the SA_SIGINFO
        // signature and only touches statics and the log.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            if on {
                act.sa_sigaction = on_fatal as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND | libc::SA_NODEFER;
            } else {
                act.sa_sigaction = libc::SIG_DFL;
            }
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}
