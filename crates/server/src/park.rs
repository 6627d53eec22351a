//! What a worker thread does just before it sleeps in epoll.
//!
//! At pipeline 1 every request is a round trip: a worker that has answered and
//! finds nothing to do goes to sleep, and the next request then pays for waking it
//! (an interrupt, a scheduler wake-up and a context switch on the server's core).
//! Spinning a few microseconds first catches most of those requests awake. The spin
//! watches the runtime's epoll descriptor (an epoll fd is itself pollable: readable
//! while it has ready events), so it ends the moment there is something to do; a
//! blind spin would sit out its whole length even when work had already arrived,
//! which costs throughput under load.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The runtime's epoll descriptor, or -1 when it could not be identified (the spin
/// then runs its full length).
static RUNTIME_EPOLL: AtomicI32 = AtomicI32::new(-1);

/// The epoll descriptors this process has open.
pub fn epoll_fds() -> HashSet<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return HashSet::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let fd: i32 = e.file_name().to_str()?.parse().ok()?;
        let target = std::fs::read_link(e.path()).ok()?;
        (target.as_os_str() == "anon_inode:[eventpoll]").then_some(fd)
    })
    .collect()
}

/// Called right after the runtime is built: the one epoll descriptor that was not
/// there before is the runtime's I/O driver. Anything else (none, or several) leaves
/// the spin blind, which is correct, only slower.
pub fn watch_runtime_epoll(before: &HashSet<i32>) {
    let new: Vec<i32> = epoll_fds().difference(before).copied().collect();
    if let [fd] = new[..] {
        RUNTIME_EPOLL.store(fd, Ordering::Relaxed);
    }
}

/// Whether the runtime's epoll has ready events (never blocks).
fn work_ready(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) > 0 }
}

/// Spins up to `us` microseconds, until the runtime has I/O to handle.
pub fn spin_before_park(us: u64) {
    if us == 0 {
        return;
    }
    let fd = RUNTIME_EPOLL.load(Ordering::Relaxed);
    let start = Instant::now();
    let limit = Duration::from_micros(us);
    loop {
        if fd >= 0 && work_ready(fd) {
            return;
        }
        if start.elapsed() >= limit {
            return;
        }
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_runtime_epoll_is_found() {
        let before = epoll_fds();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let new: Vec<i32> = epoll_fds().difference(&before).copied().collect();
        // Other tests of this process may build runtimes meanwhile: at least ours.
        assert!(!new.is_empty());
        assert!(
            new.iter().any(|fd| !work_ready(*fd)),
            "a fresh runtime has nothing ready"
        );
        drop(rt);
    }
}
