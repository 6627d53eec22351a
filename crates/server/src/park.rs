//! What a worker thread does just before it sleeps in epoll.
//!
//! At pipeline 1 every request is a round trip: a worker that has answered and
//! finds nothing to do goes to sleep, and the next request then pays for waking it
//! (an interrupt, a scheduler wake-up and a context switch on the server's core).
//! Spinning a few microseconds first catches most of those requests awake. Before
//! spinning, the worker checks the runtime's epoll descriptors (an epoll fd is itself
//! pollable: readable while it has ready events): when work is already waiting, as
//! under load, it does not spin at all.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Most epoll descriptors watched (tokio's runtime opens two).
const MAX_WATCHED: usize = 4;

/// The runtime's epoll descriptors (-1 = unused slot); none when they could not be
/// identified (the spin then runs its full length).
static RUNTIME_EPOLLS: [AtomicI32; MAX_WATCHED] = [const { AtomicI32::new(-1) }; MAX_WATCHED];

/// The descriptors to poll, built once from [`RUNTIME_EPOLLS`].
fn watched() -> &'static [libc::pollfd] {
    static FDS: OnceLock<Vec<libc::pollfd>> = OnceLock::new();
    FDS.get_or_init(|| {
        RUNTIME_EPOLLS
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .filter(|fd| *fd >= 0)
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect()
    })
}

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

/// Called right after the runtime is built: the epoll descriptors that were not
/// there before are the runtime's (tokio opens two; the I/O driver's is one of
/// them, and polling both costs one system call all the same). None, or more than
/// [`MAX_WATCHED`], leaves the spin blind, which is correct, only slower. Returns
/// how many are watched.
pub fn watch_runtime_epoll(before: &HashSet<i32>) -> usize {
    let mut new: Vec<i32> = epoll_fds().difference(before).copied().collect();
    if new.is_empty() || new.len() > MAX_WATCHED {
        return 0;
    }
    new.sort_unstable();
    for (slot, fd) in RUNTIME_EPOLLS.iter().zip(&new) {
        slot.store(*fd, Ordering::Relaxed);
    }
    new.len()
}

/// Whether any of `fds` (epoll descriptors) has ready events (never blocks).
fn work_ready(fds: &[libc::pollfd]) -> bool {
    let mut set = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; MAX_WATCHED];
    let n = fds.len().min(MAX_WATCHED);
    set[..n].copy_from_slice(&fds[..n]);
    // SAFETY: `n` valid pollfds in a local array, zero timeout.
    unsafe { libc::poll(set.as_mut_ptr(), n as libc::nfds_t, 0) > 0 }
}

/// Spins up to `us` microseconds before the worker sleeps, unless the runtime
/// already has I/O to handle (then tokio's epoll_wait returns at once).
///
/// Measured both ways with redis-benchmark -c 50 on one core: ending the spin the
/// moment any request arrives lost ~5% at pipeline 1 against spinning the full
/// length (the full spin lets requests of several clients gather, handled by one
/// epoll_wait), while spinning when work was already waiting lost ~5% at pipeline
/// 16. So: one check up front, then the full spin.
pub fn spin_before_park(us: u64) {
    if us == 0 {
        return;
    }
    let fds = watched();
    if !fds.is_empty() && work_ready(fds) {
        return;
    }
    let start = Instant::now();
    let limit = Duration::from_micros(us);
    while start.elapsed() < limit {
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
        let polled: Vec<libc::pollfd> = new
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        assert!(
            polled.iter().any(|p| !work_ready(std::slice::from_ref(p))),
            "a fresh runtime has nothing ready"
        );
        drop(rt);
    }
}
