//! An RDB sent to replicas while it is being produced (repl-diskless-sync).
//!
//! Redis's forked child writes the RDB into a pipe that the parent copies to every
//! replica socket. Here the saver thread appends the snapshot's bytes to an
//! [`RdbStream`] as it serializes (64 KiB at a time), and each replica's
//! connection sends them at its own pace, waiting for more until the stream
//! ends. The bytes stay until the last replica has them (the job is dropped).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// How far the production is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produced {
    /// `n` chunks so far, more to come.
    Running(usize),
    /// Complete: `n` chunks in all.
    Done(usize),
    /// The save failed or was cancelled.
    Failed,
}

/// The chunks produced so far, and a signal for each new one.
pub struct RdbStream {
    chunks: Mutex<Vec<Bytes>>,
    state: tokio::sync::watch::Sender<Produced>,
    /// Set when no replica is left to send to: the saver stops.
    cancelled: Arc<AtomicBool>,
}

impl RdbStream {
    pub fn new() -> Arc<RdbStream> {
        Arc::new(RdbStream {
            chunks: Mutex::new(Vec::new()),
            state: tokio::sync::watch::channel(Produced::Running(0)).0,
            cancelled: Arc::default(),
        })
    }

    fn push(&self, bytes: &[u8]) {
        let mut chunks = self.chunks.lock();
        chunks.push(Bytes::copy_from_slice(bytes));
        let n = chunks.len();
        drop(chunks);
        self.state.send_replace(Produced::Running(n));
    }

    /// The end of the production (`ok`: complete).
    pub fn finish(&self, ok: bool) {
        let n = self.chunks.lock().len();
        self.state.send_replace(if ok {
            Produced::Done(n)
        } else {
            Produced::Failed
        });
    }

    /// Frees the chunks once no reader needs them (every replica has the RDB).
    pub fn release(&self) {
        self.chunks.lock().clear();
    }

    /// Stops the production (the last replica went).
    pub fn cancel(&self) {
        self.cancelled.store(true, Relaxed);
    }

    /// The flag [`RdbStream::cancel`] sets, for the saver to watch.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancelled.clone()
    }

    /// A reader, from the first chunk.
    pub fn reader(self: &Arc<Self>) -> StreamReader {
        StreamReader {
            stream: self.clone(),
            rx: self.state.subscribe(),
            next: 0,
        }
    }
}

/// The saver's side: what it writes goes to the stream.
pub struct StreamSink(pub Arc<RdbStream>);

impl Write for StreamSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.cancelled.load(Relaxed) {
            return Err(std::io::Error::other("no replica left to send to"));
        }
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One replica's position in the stream.
pub struct StreamReader {
    stream: Arc<RdbStream>,
    rx: tokio::sync::watch::Receiver<Produced>,
    next: usize,
}

impl StreamReader {
    /// The next chunk: `Ok(None)` at the end, `Err` when the production failed.
    pub async fn next(&mut self) -> Result<Option<Bytes>, ()> {
        loop {
            let state = *self.rx.borrow_and_update();
            let available = match state {
                Produced::Running(n) | Produced::Done(n) => n,
                Produced::Failed => return Err(()),
            };
            if self.next < available {
                // None once released (no reader was left to need it).
                let chunk = self
                    .stream
                    .chunks
                    .lock()
                    .get(self.next)
                    .cloned()
                    .ok_or(())?;
                self.next += 1;
                return Ok(Some(chunk));
            }
            if let Produced::Done(_) = state {
                return Ok(None);
            }
            if self.rx.changed().await.is_err() {
                return Err(());
            }
        }
    }
}
