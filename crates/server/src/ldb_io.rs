//! The client connection as the Lua debugger uses it (SCRIPT DEBUG): while the
//! debugged script is suspended in its line hook, on the worker thread that runs
//! the EVAL, the debugger reads the client's next request and writes its replies
//! straight on the socket, as Redis does with its connection set to blocking.
//!
//! The socket stays non-blocking (tokio owns it): reads and writes wait with
//! poll(2). A read wakes every 100 ms to see whether the client was killed or SHUTDOWN
//! NOSAVE stopped the script, and then reports the connection as closed (the script
//! runs on to its end without stopping). A write gives up after 5 s of a full
//! socket (Redis's send timeout for the session). The session ends with the
//! connection closed, so tokio's readiness state for it no longer matters then.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokv_core::hooks::DebugChannel;
use ferrokv_core::Engine;

use crate::clients::ClientHandle;
use crate::state::ServerState;

const WAKE_MS: i32 = 100;
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

struct SocketChannel {
    fd: RawFd,
    handle: Arc<ClientHandle>,
    engine: Arc<Engine>,
}

/// The debugging channel of client `id` (none for a TLS connection).
pub fn channel(st: &ServerState, id: u64) -> Option<Box<dyn DebugChannel>> {
    let handle = st.clients.get(id)?;
    if handle.tls.load(Relaxed) || handle.fd < 0 {
        return None;
    }
    let fd = RawFd::try_from(handle.fd).ok()?;
    Some(Box::new(SocketChannel {
        fd,
        handle,
        engine: st.engine.clone(),
    }))
}

impl SocketChannel {
    fn stopping(&self) -> bool {
        self.handle.mailbox.closing() || self.engine.scripting.aborted_for_shutdown()
    }

    /// Waits up to `ms` for `events`; whether they came.
    fn wait(&self, events: i16, ms: i32) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(r > 0)
    }
}

impl DebugChannel for SocketChannel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stopping() {
                return Ok(0);
            }
            if !self.wait(libc::POLLIN, WAKE_MS)? {
                continue;
            }
            // SAFETY: `buf` is valid for its length; the fd is the client's socket,
            // open while its connection task waits for this command.
            let n =
                unsafe { libc::read(self.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                return Err(e);
            }
        }
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + SEND_TIMEOUT;
        while !data.is_empty() {
            // SAFETY: `data` is valid for its length; the fd is the client's socket.
            let n = unsafe {
                libc::send(
                    self.fd,
                    data.as_ptr() as *const libc::c_void,
                    data.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n > 0 {
                data = &data[n as usize..];
                continue;
            }
            let e = io::Error::last_os_error();
            if !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                return Err(e);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stopping() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.wait(libc::POLLOUT, (left.as_millis() as i32).min(WAKE_MS))?;
        }
        Ok(())
    }
}
