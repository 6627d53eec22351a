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

fn limits(state: &ServerState, authenticated: bool) -> RequestLimits {
    let l = RequestLimits {
        max_bulk_len: state.engine.config.int(P::ProtoMaxBulkLen).max(0) as usize,
        ..RequestLimits::default()
    };
    if authenticated {
        l
    } else {
        l.unauthenticated()
    }
}

/// Serves one connection until it closes, is killed, or the server stops.
pub async fn serve<S>(mut stream: S, state: Arc<ServerState>, handle: Arc<ClientHandle>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let engine = state.engine.clone();
    let authenticated = engine.config.string(P::Requirepass).is_empty();
    let mut client = Client::new(handle.id, authenticated);
    let mut parser = RequestParser::new(limits(&state, authenticated));
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut out = ReplyBuf::with_capacity(Protocol::Resp2, READ_CHUNK);
    let mut was_authenticated = authenticated;
    // Set after a blocked command was answered: what is left in `input` is parsed
    // before reading again.
    let mut parse_first = false;
    // Whether the client WATCHes keys: they are forgotten when it goes.
    let mut watching = false;
    loop {
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            let want = parser
                .bytes_needed()
                .saturating_sub(input.len())
                .max(READ_CHUNK);
            input.reserve(want);
        }
        if !std::mem::take(&mut parse_first) {
            let idle_timeout = engine.config.int(P::Timeout);
            let read = async {
                if idle_timeout > 0 {
                    match tokio::time::timeout(
                        Duration::from_secs(idle_timeout as u64),
                        stream.read_buf(&mut input),
                    )
                    .await
                    {
                        Ok(r) => r,
                        Err(_) => Ok(0),
                    }
                } else {
                    stream.read_buf(&mut input).await
                }
            };
            let n = tokio::select! {
                r = read => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                _ = handle.kill.notified() => break,
            };
            state.net_input.fetch_add(n as u64, Relaxed);
            state.reads.fetch_add(1, Relaxed);
        }
        if handle.killed.load(Relaxed) {
            break;
        }

        let mut off = 0;
        let mut executed = 0u64;
        let mut close = false;
        let mut block = None;
        loop {
            match parser.parse(&input[off..]) {
                Ok(Some(len)) => {
                    {
                        let chunk = &input[off..off + len];
                        let args: SmallVec<[&[u8]; 8]> = parser.args(chunk).collect();
                        if !args.is_empty() {
                            engine.execute(&mut client, &args, &mut out, &*state);
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
                        parser.set_limits(limits(&state, client.authenticated));
                    }
                    if client.close_after_reply || handle.killed.load(Relaxed) {
                        close = true;
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
        publish(&handle, &client, &input, &out, &state);
        if !out.is_empty() {
            // The AOF holds this client's writes (fsynced with appendfsync always)
            // before it hears they were done.
            state.aof.before_reply(&engine, client.aof_offset).await;
            let bytes = out.buffer_mut();
            if stream.write_all(bytes).await.is_err() {
                break;
            }
            state.net_output.fetch_add(bytes.len() as u64, Relaxed);
            state.writes.fetch_add(1, Relaxed);
            bytes.clear();
            // Do not keep a huge buffer around after one big reply.
            if bytes.capacity() > 1024 * 1024 {
                *bytes = BytesMut::with_capacity(READ_CHUNK);
            }
        }
        if close {
            break;
        }
        if let Some((req, args)) = block {
            let Some((c, reply)) =
                wait_blocked(&mut stream, &state, &handle, &mut input, client, req, args).await
            else {
                break;
            };
            client = c;
            out.raw(&reply);
            // Requests that arrived while it was blocked are parsed before reading
            // again; the reply goes out with theirs.
            parse_first = true;
            continue;
        }
        if input.is_empty() && input.capacity() > 1024 * 1024 {
            input = BytesMut::with_capacity(READ_CHUNK);
        }
    }
    if watching {
        engine.watches.forget_client(handle.id);
    }
    // A connection that ran SYNC goes on as a replica.
    crate::replica::serve_if_replica(&mut stream, &state, &handle).await;
    let _ = stream.shutdown().await;
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
    let keys: Vec<(usize, Vec<u8>)> = req.keys.iter().map(|k| (req.db, k.clone())).collect();
    let parked = Parked::new(client, args, keys.clone(), req.timeout_ms.is_some());
    state.blocked.park(engine, &parked);
    handle.blocked.store(true, Relaxed);
    // A push that landed between the command's look at its keys and the parking
    // found nobody to wake: look again now that the client is queued.
    state.blocked.serve(engine, &**state, keys);
    // A deadline beyond what the clock can represent is forever.
    let mut deadline = req
        .timeout_ms
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
                if let Some(c) = state.blocked.cancel(engine, &parked) {
                    let mut out = ReplyBuf::new(c.proto);
                    out.null_array();
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
            _ = handle.kill.notified() => {
                state.blocked.cancel(engine, &parked);
                break None;
            }
        }
    };
    handle.blocked.store(false, Relaxed);
    result
}

/// Copies what other clients may ask about this one into its shared handle.
fn publish(
    handle: &ClientHandle,
    client: &Client,
    input: &BytesMut,
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
    handle.qbuf.store(input.len(), Relaxed);
    handle
        .qbuf_free
        .store(input.capacity() - input.len(), Relaxed);
    handle.omem.store(out.len(), Relaxed);
    handle.no_evict.store(client.no_evict, Relaxed);
    handle.multi.store(
        client.multi.as_ref().map_or(-1, |m| m.queued.len() as i64),
        Relaxed,
    );
    state
        .max_input_buffer
        .fetch_max(input.capacity() as u64, Relaxed);
    let mut info = handle.info.lock();
    if info.cmd != client.last_cmd {
        info.cmd = client.last_cmd.to_string();
    }
}
