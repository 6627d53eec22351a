//! One client connection: read what is available, parse every complete request,
//! execute them in order, write all replies with one write.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ferrokv_core::blocking::BlockRequest;
use ferrokv_core::config::P;
use ferrokv_core::Client;
use ferrokv_resp::{Protocol, ReplyBuf, RequestLimits, RequestParser};
use smallvec::SmallVec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::blocked::Parked;
use crate::clients::ClientHandle;
use crate::state::ServerState;

const READ_CHUNK: usize = 16 * 1024;
/// Replies a batch may pile up before they are written (the rest of the batch
/// runs after).
const REPLY_FLUSH: usize = 8 * READ_CHUNK;
/// The largest reply buffer a connection keeps once everything is written.
const REPLY_KEEP: usize = 4 * READ_CHUNK;

fn limits(state: &ServerState) -> RequestLimits {
    RequestLimits {
        max_bulk_len: state.engine.config.int(P::ProtoMaxBulkLen).max(0) as usize,
        ..RequestLimits::default()
    }
}

/// Serves one connection until it closes, is killed, or the server stops.
pub async fn serve<S>(mut stream: S, state: Arc<ServerState>, handle: Arc<ClientHandle>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The socket may be shut down by CLIENT KILL while this runs; the guard
    // (dropped before `stream`, a parameter) says it is closing first.
    struct SocketOpen<'h>(&'h ClientHandle);
    impl Drop for SocketOpen<'_> {
        fn drop(&mut self) {
            self.0.set_socket_open(false);
        }
    }
    handle.set_socket_open(true);
    let _socket = SocketOpen(&handle);
    // Declared before the buffers, so dropped after them: an evicted client's
    // memory is left out of key eviction's figure until it is really freed.
    struct BuffersFreed<'s>(&'s ServerState, &'s ClientHandle);
    impl Drop for BuffersFreed<'_> {
        fn drop(&mut self) {
            crate::client_mem::freed(self.0, self.1);
        }
    }
    let _freed = BuffersFreed(&state, &handle);
    let engine = state.engine.clone();
    let authenticated = engine.acl.starts_authenticated();
    let mut client = Client::new(handle.id, authenticated);
    let mut parser = RequestParser::new(limits(&state));
    // Before AUTH, Redis refuses requests of more than 10 arguments or 16 KiB ones
    // with its "unauthenticated multibulk/bulk length" errors.
    parser.set_auth_required(!authenticated);
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut out = ReplyBuf::with_capacity(Protocol::Resp2, READ_CHUNK);
    let mut was_authenticated = authenticated;
    // Set after a blocked command was answered: what is left in `input` is parsed
    // before reading again.
    let mut parse_first = false;
    // Whether the client WATCHes keys: they are forgotten when it goes.
    let mut watching = false;
    // Whether it is in MONITOR mode: it leaves the monitors when it goes.
    let mut monitoring = false;
    // The query buffer follows Redis's: freed after 2 s idle, trimmed when much
    // larger than its recent peak.
    let mut qbuf = QueryBufferSizing::default();
    crate::obuf::apply_class(&state, &handle);
    crate::client_mem::start(&state, &handle);
    loop {
        if !qbuf.freed {
            let need = parser.bytes_needed();
            if need > input.len() {
                // The rest of a bulk is awaited: room for exactly that request,
                // as Redis sizes its query buffer to a big argument (client
                // eviction and CLIENT LIST see what the client really costs).
                if input.capacity() < need {
                    let more = need - input.len();
                    room(&mut input, more);
                }
            } else if input.capacity() - input.len() < READ_CHUNK / 4 {
                room(&mut input, READ_CHUNK);
            }
        }
        if !std::mem::take(&mut parse_first) {
            let idle_timeout = engine.config.int(P::Timeout);
            let freed = qbuf.freed;
            let read = async {
                if idle_timeout > 0 {
                    match tokio::time::timeout(
                        Duration::from_secs(idle_timeout as u64),
                        read_some(&mut stream, &mut input, freed),
                    )
                    .await
                    {
                        Ok(r) => r,
                        Err(_) => Ok(0),
                    }
                } else {
                    read_some(&mut stream, &mut input, freed).await
                }
            };
            let n = tokio::select! {
                r = read => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                _ = handle.mailbox.wait() => 0,
            };
            // The cron found the connection idle (no timer per read here: arming
            // one for every batch cost pipelined clients ~10% of throughput).
            if n == 0 && handle.qbuf_idle.swap(false, Relaxed) && !qbuf.freed && input.is_empty() {
                input = BytesMut::new();
                qbuf.freed = true;
                handle.qbuf.store(0, Relaxed);
                handle.qbuf_free.store(0, Relaxed);
                continue;
            }
            if n > 0 {
                qbuf.freed = false;
                handle.qbuf_idle.store(false, Relaxed);
                handle.busy.store(true, Relaxed);
            }
            if n > 0 {
                state.net_input.fetch_add(n as u64, Relaxed);
                state.reads.fetch_add(1, Relaxed);
            }
        }
        if handle.mailbox.closing() {
            break;
        }
        // Letters posted before this batch go out before its replies.
        handle.mailbox.drain_into(out.buffer_mut());
        // What CLIENT LIST / INFO show for this client while its batch runs.
        handle.qbuf.store(input.len(), Relaxed);
        handle
            .qbuf_free
            .store(input.capacity() - input.len(), Relaxed);
        handle.omem.store(out.len(), Relaxed);
        qbuf.peak = qbuf.peak.max(input.len());
        if !client.authenticated {
            // Redis's authRequired() holds only while a password is set: clearing
            // requirepass lifts the limits of connections that never authenticated.
            parser.set_auth_required(engine.acl.auth_required());
        }

        // client-output-buffer-limit's hard limit of the client's class: a batch
        // whose replies reach it closes the client without them (Redis frees it
        // before writing), and nothing after that command runs.
        let reply_limit = handle.mailbox.hard_limit();
        client.reply_limit = reply_limit;
        let mut obuf_accounted = out.allocated();
        // Replies of earlier batches its full socket has not taken yet.
        let out_base = out.len();
        let mut off = 0;
        let mut executed = 0u64;
        let mut close = false;
        let mut block = None;
        let mut held = false;
        let mut paused = None;
        loop {
            match parser.parse(&input[off..]) {
                Ok(Some(len)) => {
                    {
                        let chunk = &input[off..off + len];
                        let args: SmallVec<[&[u8]; 8]> = parser.args(chunk).collect();
                        if !args.is_empty() {
                            let mark = out.len();
                            engine.execute(&mut client, &args, &mut out, &*state);
                            if let Some(generation) = client.paused.take() {
                                // CLIENT PAUSE holds it: it stays in the buffer
                                // and is submitted again (pause.rs).
                                paused = Some(generation);
                                break;
                            }
                            if client.reply.silenced() {
                                // CLIENT REPLY OFF / SKIP: the reply is dropped.
                                out.buffer_mut().truncate(mark);
                            }
                            client.reply.command_done();
                            if reply_limit > 0 && out.len() >= reply_limit {
                                crate::pubsub::log_overflow(&handle);
                                out.buffer_mut().clear();
                                off += len;
                                close = true;
                                break;
                            }
                            if state.client_mem.on()
                                && out.allocated() > obuf_accounted + READ_CHUNK
                            {
                                // Replies piling up within one batch count now, as
                                // Redis updates a client's memory after each
                                // command: else key eviction would see the memory
                                // before client eviction could. After the output
                                // limit, which takes precedence (as in Redis).
                                obuf_accounted = out.allocated();
                                handle.mem.obuf_cap.store(obuf_accounted, Relaxed);
                                crate::client_mem::account(&state, &handle);
                            }
                            // A command that allocated much besides its reply
                            // (SETBIT far out, a big SET): this client's next
                            // admission measures memory again, whichever thread
                            // runs it. Reply growth is left to client eviction
                            // and the output limits, which Redis applies before
                            // evicting keys.
                            if engine.evict.grew(engine.config.int(P::Maxmemory))
                                && out.len().saturating_sub(mark) < 64 << 10
                            {
                                client.memory_grew = true;
                            }
                            if client.held {
                                // A shutdown began: the command did not run. It
                                // stays in the buffer until the outcome is known.
                                client.held = false;
                                held = true;
                                break;
                            }
                            executed += 1;
                            if let Some(req) = client.block.take() {
                                let owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                                block = Some((req, owned));
                            }
                        }
                    }
                    off += len;
                    if block.is_some() {
                        break;
                    }
                    if client.authenticated != was_authenticated {
                        was_authenticated = client.authenticated;
                        parser.set_limits(limits(&state));
                        parser.set_auth_required(!client.authenticated);
                    }
                    if client.close_after_reply || handle.mailbox.closing() {
                        close = true;
                        break;
                    }
                    if out.len() - out_base >= REPLY_FLUSH {
                        // Big replies go out before the next requests run (then
                        // parsed without reading first): one buffer of them at a
                        // time, not one grown by doubling to hold them all.
                        // Counted from this batch's first reply: with replies
                        // a full socket holds back, a batch of one request
                        // each would read more than it runs, the query buffer
                        // growing with everything the client sends.
                        parse_first = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    out.error(&format!("ERR {e}"));
                    tracing::debug!("protocol error from client {}: {e}", handle.id);
                    close = true;
                    break;
                }
            }
        }
        input.advance(off);
        if input.is_empty() && off > 0 {
            // Take back the consumed front of the buffer (no copy, no allocation):
            // its capacity is what it was before this batch.
            input.reserve(READ_CHUNK);
        }
        let query_limit = engine.config.int(P::ClientQueryBufferLimit).max(0) as usize;
        if input.len() > query_limit {
            tracing::warn!(
                "closing client {} that reached max query buffer length",
                handle.id
            );
            close = true;
        }
        if out.proto() != client.proto {
            out.set_proto(client.proto);
        }
        state.commands_processed.fetch_add(executed, Relaxed);
        watching = !client.watch.is_empty();
        monitoring = client.monitor;
        publish(&handle, &client, (&input, parser.partial()), &out, &state);
        if close {
            crate::client_mem::release(&state, &handle);
        } else {
            crate::client_mem::account(&state, &handle);
        }
        handle.busy.store(false, Relaxed);
        if close {
            // Gone for others before its last reply is out (QUIT's OK): an
            // invalidation redirected to it now finds it missing, as in Redis,
            // where the client is freed right after that write.
            state.clients.remove(handle.id);
        }
        if !out.is_empty() {
            // The AOF holds this client's writes (fsynced with appendfsync always)
            // before it hears they were done.
            state.aof.before_reply(&engine, client.aof_offset).await;
            // The write waits until every connection with input ready on this
            // thread has run its batch (yield_now defers the task past the next
            // poll of the I/O driver), as Redis writes its replies in beforeSleep
            // after serving every readable client. Replies then leave in a burst:
            // a client program serving many connections is woken once for many
            // of them, not once per connection, and the sender pays for fewer
            // wake-ups (one-INCR FCALL at pipeline 16: +15%).
            tokio::task::yield_now().await;
            // While its socket is full, the client's next requests are still read
            // and run, their replies queued behind (as Redis keeps serving a
            // client that does not read); not while it is closing, held,
            // paused or blocked.
            let may_read = !close && !held && paused.is_none() && block.is_none();
            // A batch cut short by its replies (REPLY_FLUSH) may have left
            // requests already read: they run as soon as the socket is full, not
            // once the client sends more (it may be waiting for one of them:
            // CLIENT NO-EVICT off, sent after gets it never read, sat unrun).
            let queued = may_read && parse_first && !input.is_empty();
            // While its socket is full these bytes count toward its output limits,
            // and a close (a limit reached, CLIENT KILL) ends the wait.
            handle.mailbox.set_unsent(out.len());
            let flushed = write_or_read(
                &mut stream,
                out.buffer_mut(),
                &mut input,
                &handle,
                may_read,
                queued,
            )
            .await;
            match flushed {
                Flushed::All => handle.mailbox.set_unsent(0),
                Flushed::Closed => break,
                Flushed::Partly { written, read } => {
                    state.net_output.fetch_add(written as u64, Relaxed);
                    state.writes.fetch_add(1, Relaxed);
                    if read > 0 {
                        state.net_input.fetch_add(read as u64, Relaxed);
                        state.reads.fetch_add(1, Relaxed);
                    }
                    out.consume(written);
                    handle.mailbox.set_unsent(out.len());
                    handle.mem.obuf_pending.store(out.len(), Relaxed);
                    // The written front stays allocated until the next reply
                    // moves the data: the block counts, not what is left of it.
                    handle.mem.obuf_cap.store(out.allocated(), Relaxed);
                    qbuf.freed = false;
                    handle.busy.store(true, Relaxed);
                    parse_first = true;
                    continue;
                }
            }
            handle.mem.obuf_pending.store(0, Relaxed);
            state.net_output.fetch_add(out.len() as u64, Relaxed);
            state.writes.fetch_add(1, Relaxed);
            // Do not keep a big buffer around after a big reply: Redis frees its
            // reply blocks once written, and 20 idle clients each keeping a few
            // hundred KB would count against maxmemory (and maxmemory-clients).
            let big = out.allocated() > REPLY_KEEP;
            let bytes = out.buffer_mut();
            bytes.clear();
            if big {
                *bytes = BytesMut::with_capacity(READ_CHUNK);
                handle.mem.obuf_cap.store(READ_CHUNK, Relaxed);
                crate::client_mem::account(&state, &handle);
            }
            handle.omem.store(0, Relaxed);
        }
        if close {
            break;
        }
        if held {
            // Runs again if the shutdown is called off; closes if the server exits.
            if !crate::shutdown::wait_outcome(&state).await {
                break;
            }
            parse_first = true;
            continue;
        }
        if let Some(generation) = paused {
            if !crate::pause::wait(&mut stream, &state, &handle, &mut input, generation).await {
                break;
            }
            parse_first = true;
            continue;
        }
        if let Some((req, args)) = block {
            let Some((c, reply)) =
                wait_blocked(&mut stream, &state, &handle, &mut input, client, req, args).await
            else {
                // Gone with its wait; a blocked client never ran SYNC, so the
                // replica hand-off below finds nothing for this stand-in.
                client = Client::new(handle.id, false);
                break;
            };
            client = c;
            out.raw(&reply);
            // Requests that arrived while it was blocked are parsed before reading
            // again; the reply goes out with theirs.
            parse_first = true;
            continue;
        }
        if input.capacity() > QUERY_BUFFER_RESIZE_THRESHOLD {
            qbuf.trim(&mut input);
        }
    }
    crate::client_mem::release(&state, &handle);
    if watching {
        engine.watches.forget_client(handle.id);
    }
    // A connection that ran SYNC goes on as a replica.
    let unread = std::mem::take(&mut input);
    crate::replica::serve_if_replica(&mut stream, &state, &handle, &mut client, unread).await;
    if monitoring {
        state.monitors.remove(&engine, handle.id);
    }
    // Out of every subscription, and tracking off (read from the handle: the
    // client may have been lost in a blocked wait).
    state.pubsub.drop_client(&handle);
    crate::tracking::disable(&state, &handle);
    let _ = stream.shutdown().await;
    drop(input);
    drop(out);
    crate::alloc::flush_thread_cache();
}

/// How a write of replies ended.
enum Flushed {
    /// Everything was written.
    All,
    /// The connection is to close (the peer went, a write failed, a kill).
    Closed,
    /// The socket is full and the client sent more: `written` bytes went out,
    /// `read` bytes were appended to the input.
    Partly { written: usize, read: usize },
}

/// Writes `bytes`; while the socket takes no more, reads what the client sends
/// (when `may_read`), returning as soon as something arrived, so that its
/// requests run while their replies queue up; with `queued` (requests already
/// in the input) it returns as soon as the socket is full. A close (an output
/// limit reached by letters, CLIENT KILL, client eviction) ends the wait.
async fn write_or_read<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    input: &mut BytesMut,
    handle: &ClientHandle,
    may_read: bool,
    queued: bool,
) -> Flushed {
    let mut written = 0usize;
    let mut reading = may_read;
    let io = std::future::poll_fn(|cx| {
        use std::pin::Pin;
        use std::task::Poll;
        while written < bytes.len() {
            match Pin::new(&mut *stream).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Flushed::Closed),
                Poll::Ready(Ok(n)) => written += n,
                Poll::Pending => break,
            }
        }
        if written == bytes.len() {
            return Poll::Ready(Flushed::All);
        }
        if queued {
            return Poll::Ready(Flushed::Partly { written, read: 0 });
        }
        if reading {
            // Rare (a client that does not read its replies): a copy through
            // the stack keeps this free of unsafe code.
            let mut chunk = [0u8; 4096];
            let mut rb = tokio::io::ReadBuf::new(&mut chunk);
            match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                // The peer stopped sending (or the read failed): the replies
                // still go out; the next read sees the end.
                Poll::Ready(Ok(())) if rb.filled().is_empty() => reading = false,
                Poll::Ready(Ok(())) => {
                    input.extend_from_slice(rb.filled());
                    return Poll::Ready(Flushed::Partly {
                        written,
                        read: rb.filled().len(),
                    });
                }
                Poll::Ready(Err(_)) => reading = false,
                Poll::Pending => {}
            }
        }
        Poll::Pending
    });
    // The write first: when the socket takes everything at once (the common
    // case) the close is never waited for.
    tokio::select! {
        biased;
        r = io => r,
        _ = handle.mailbox.wait_closed() => Flushed::Closed,
    }
}

/// A query buffer that idled this long is freed (Redis's clientsCron: more than 2 s).
const QUERY_BUFFER_IDLE_FREE_MS: u64 = 2500;

/// The cron's part (Redis's clientsCronResizeQueryBuffer): connections that hold a
/// query buffer and have idled past [`QUERY_BUFFER_IDLE_FREE_MS`] are woken to
/// free it.
pub fn free_idle_query_buffers(st: &ServerState) {
    for h in st.clients.all() {
        let held = h.qbuf.load(Relaxed) + h.qbuf_free.load(Relaxed);
        if held == 0 || h.qbuf_idle.load(Relaxed) {
            continue;
        }
        let now = h.created.elapsed().as_millis() as u64;
        if now.saturating_sub(h.last_interaction_ms.load(Relaxed)) > QUERY_BUFFER_IDLE_FREE_MS {
            h.qbuf_idle.store(true, Relaxed);
            h.mailbox.nudge();
        }
    }
}
/// Above this capacity a query buffer is trimmed to its recent peak (Redis's
/// PROTO_RESIZE_THRESHOLD).
const QUERY_BUFFER_RESIZE_THRESHOLD: usize = 32 * 1024;

/// The query buffer's sizing state: Redis frees an idle client's buffer and trims
/// one much larger than what it recently held, so one big request does not pin its
/// memory for the life of the connection.
#[derive(Default)]
struct QueryBufferSizing {
    /// Freed while idle: the next read goes through a small stack buffer.
    freed: bool,
    /// The most it held since the last trim check.
    peak: usize,
    /// When the peak was last examined.
    checked: Option<std::time::Instant>,
}

impl QueryBufferSizing {
    /// Every 100 ms at most (Redis's cron): a buffer more than twice its recent
    /// peak shrinks to it.
    fn trim(&mut self, input: &mut BytesMut) {
        let now = std::time::Instant::now();
        let due = self
            .checked
            .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        if !due {
            return;
        }
        self.checked = Some(now);
        let peak = std::mem::take(&mut self.peak).max(input.len());
        if input.capacity() / 2 > peak {
            let mut smaller = BytesMut::with_capacity(peak.max(READ_CHUNK));
            smaller.extend_from_slice(input);
            *input = smaller;
        }
    }
}

/// Makes room for `additional` more bytes in the query buffer. BytesMut's own
/// reserve keeps the consumed front whenever the data left is larger than it,
/// and then grows the whole allocation by doubling: a pipelining client whose
/// batches stop early (at [`REPLY_FLUSH`] of replies it does not read) saw its
/// buffer double again and again, the front hidden from `capacity()` and so from
/// INFO and CLIENT LIST (27 MB unaccounted after 1M pipelined SETRANGEs).
/// Reclaimed in place when that is possible, else a buffer of what is needed.
fn room(input: &mut BytesMut, additional: usize) {
    if input.capacity() - input.len() >= additional || input.try_reclaim(additional) {
        return;
    }
    let mut fresh = BytesMut::with_capacity(input.len() + additional);
    fresh.extend_from_slice(input);
    *input = fresh;
}

/// Reads what is available into `input`; after the buffer was freed for idling,
/// through a stack buffer first so that an idle client holds no query buffer.
async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    input: &mut BytesMut,
    freed: bool,
) -> std::io::Result<usize> {
    if !freed {
        return stream.read_buf(input).await;
    }
    let mut first = [0u8; 1024];
    let n = stream.read(&mut first).await?;
    input.reserve(READ_CHUNK.max(n));
    input.extend_from_slice(&first[..n]);
    Ok(n)
}

/// Parks the client of a blocking command until it is served, times out, is
/// unblocked, or the connection closes (`None`). Returns the client and its reply.
async fn wait_blocked<S>(
    stream: &mut S,
    state: &Arc<ServerState>,
    handle: &ClientHandle,
    input: &mut BytesMut,
    client: Client,
    req: BlockRequest,
    args: Vec<Vec<u8>>,
) -> Option<(Client, Vec<u8>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let engine = &state.engine;
    let keys = req.keys();
    let timeout_ms = req.timeout_ms;
    handle
        .mem
        .argv
        .store(args.iter().map(|a| a.len()).sum(), Relaxed);
    let parked = Parked::new(client, args, req);
    state.blocked.park(engine, &parked);
    handle.blocked.store(true, Relaxed);
    // A push that landed between the command's look at its keys and the parking
    // found nobody to wake: look again now that the client is queued.
    let waits_for_acks = keys.is_empty();
    state.blocked.serve(engine, &**state, keys);
    if waits_for_acks {
        // WAIT: acks that arrived before the parking.
        crate::replication::acks_arrived(state);
    }
    // A deadline beyond what the clock can represent is forever.
    let mut deadline = timeout_ms
        .and_then(|ms| tokio::time::Instant::now().checked_add(Duration::from_millis(ms)));
    let query_limit = engine.config.int(P::ClientQueryBufferLimit).max(0) as usize;
    let result = loop {
        let timeout = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = parked.served() => {
                if let Some(done) = parked.take_done() {
                    break Some(done);
                }
            }
            _ = timeout => {
                deadline = None;
                if let Some(c) = state.blocked.time_out(engine, &**state, &parked) {
                    let mut out = ReplyBuf::new(c.proto);
                    parked.timeout_reply(&mut out, |o| state.replicas.acked(o));
                    break Some((c, out.as_bytes().to_vec()));
                }
                // Served meanwhile: its reply is on the way.
            }
            r = stream.read_buf(input) => match r {
                Ok(n) if n > 0 && input.len() <= query_limit => {
                    state.net_input.fetch_add(n as u64, Relaxed);
                    state.reads.fetch_add(1, Relaxed);
                }
                _ => {
                    state.blocked.cancel(engine, &parked);
                    break None;
                }
            },
            _ = handle.mailbox.wait() => {
                if handle.mailbox.closing() {
                    state.blocked.cancel(engine, &parked);
                    break None;
                }
                if parked.is_done() {
                    // Served meanwhile: its reply goes first, then what its
                    // command posted (an invalidation of a key it tracks).
                    continue;
                }
                // Letters reach a blocked client at once.
                let mut letters = bytes::BytesMut::new();
                handle.mailbox.drain_into(&mut letters);
                if stream.write_all(&letters).await.is_err() {
                    state.blocked.cancel(engine, &parked);
                    break None;
                }
                state.net_output.fetch_add(letters.len() as u64, Relaxed);
            }
        }
    };
    handle.blocked.store(false, Relaxed);
    handle.mem.argv.store(0, Relaxed);
    result
}

/// Copies what other clients may ask about this one into its shared handle.
fn publish(
    handle: &ClientHandle,
    client: &Client,
    (input, (pending, argv)): (&BytesMut, (usize, usize)),
    out: &ReplyBuf,
    state: &ServerState,
) {
    handle
        .last_interaction_ms
        .store(handle.created.elapsed().as_millis() as u64, Relaxed);
    handle.db.store(client.db, Relaxed);
    handle.resp.store(
        if client.proto == Protocol::Resp3 {
            3
        } else {
            2
        },
        Relaxed,
    );
    // Complete arguments of a request still arriving count as `argv-mem`, the
    // rest as `qbuf` (Redis moves each argument out of its query buffer).
    let pending = pending.min(input.len());
    handle.qbuf.store(input.len() - pending, Relaxed);
    handle
        .qbuf_free
        .store(input.capacity() - input.len(), Relaxed);
    handle.mem.argv.store(argv, Relaxed);
    handle.omem.store(out.len(), Relaxed);
    handle.no_evict.store(client.no_evict, Relaxed);
    handle.multi.store(
        client.multi.as_ref().map_or(-1, |m| m.queued.len() as i64),
        Relaxed,
    );
    let mem = &handle.mem;
    mem.obuf_cap.store(out.allocated(), Relaxed);
    mem.obuf_pending.store(out.len(), Relaxed);
    let (multi_mem, multi_cmds) = client
        .multi
        .as_ref()
        .map_or((0, 0), |m| (m.argv_mem, m.queued.len()));
    mem.multi.store(multi_mem, Relaxed);
    mem.multi_cmds.store(multi_cmds, Relaxed);
    mem.watched.store(client.watch.len(), Relaxed);
    state
        .max_input_buffer
        .fetch_max(input.capacity() as u64, Relaxed);
    let mut info = handle.info.lock();
    if info.cmd != client.last_cmd {
        info.cmd = client.last_cmd.to_string();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use ferrokv_core::config::Config;
    use ferrokv_core::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use crate::clients::ClientHandle;
    use crate::state::ServerState;

    /// Reads until `want` bytes arrived (or a second passed).
    async fn read_exactly(s: &mut DuplexStream, want: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while got.len() < want {
            match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        got
    }

    #[tokio::test]
    async fn letters_reach_the_client_in_order_with_its_replies() {
        let engine = Arc::new(Engine::new(Config::default(), crate::SERVER_COMMANDS));
        let state = Arc::new(ServerState::new(engine, None, 1));
        let handle = Arc::new(ClientHandle::new(1, None, None, -1, None));
        let (mut peer, server_side) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(super::serve(server_side, state.clone(), handle.clone()));
        // Idle: delivered at once.
        handle.mailbox.post(Bytes::from_static(b">1\r\n+one\r\n"));
        assert_eq!(read_exactly(&mut peer, 11).await, b">1\r\n+one\r\n");
        // Posted before a request: ahead of its reply.
        handle.mailbox.post(Bytes::from_static(b"+two\r\n"));
        peer.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(read_exactly(&mut peer, 13).await, b"+two\r\n+PONG\r\n");
        // Blocked: delivered while it waits, then the timeout reply.
        peer.write_all(b"BLPOP nokey 0.3\r\n").await.unwrap();
        while !handle.blocked.load(std::sync::atomic::Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        handle.mailbox.post(Bytes::from_static(b"+three\r\n"));
        assert_eq!(read_exactly(&mut peer, 13).await, b"+three\r\n*-1\r\n");
        // A kill closes the connection.
        handle.kill();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(1), peer.read_to_end(&mut rest)).await;
        assert!(matches!(n, Ok(Ok(0))), "connection closed");
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("the connection task ends")
            .expect("no panic");
    }
}
