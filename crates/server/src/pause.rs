//! CLIENT PAUSE / UNPAUSE, and the wait of a connection whose command the pause
//! holds (the engine side is `ferrokv_core::pause`).
//!
//! A held command stays in the connection's query buffer (nothing of it ran). The
//! connection waits, counted in `blocked_clients`, until the pause changes (a
//! watch channel carries its generation: CLIENT PAUSE, UNPAUSE) or its end time
//! passes, then parses its buffer again: the command goes through admission anew
//! and may be held again (Redis re-processes its postponed clients the same way).
//! Meanwhile the connection keeps reading (into the buffer), delivers its letters
//! (pub/sub) and notices a close or a CLIENT KILL.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::BytesMut;
use ferrokv_core::args::{int_arg, is_kw};
use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::pause::{PauseKind, PausePurpose};
use ferrokv_core::{CmdError, CmdResult};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::clients::ClientHandle;
use crate::cmds::state;
use crate::state::ServerState;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("client|pause", client_pause),
    CommandDef::new("client|unpause", client_unpause),
];

/// Wakes the connections waiting out a pause when it changes.
pub struct PauseWake(tokio::sync::watch::Sender<u64>);

impl Default for PauseWake {
    fn default() -> Self {
        PauseWake(tokio::sync::watch::channel(0).0)
    }
}

impl PauseWake {
    /// The pause changed to `generation`.
    pub fn changed(&self, generation: u64) {
        self.0.send_replace(generation);
    }
}

fn client_pause(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::SubcommandSyntax {
            sub: String::from_utf8_lossy(args[1]).into_owned(),
            cmd: "CLIENT".into(),
        });
    }
    let kind = match args.get(3) {
        None => PauseKind::All,
        Some(m) if is_kw(m, "write") => PauseKind::Write,
        Some(m) if is_kw(m, "all") => PauseKind::All,
        Some(_) => {
            return Err(CmdError::Other(
                "CLIENT PAUSE mode must be WRITE or ALL".into(),
            ))
        }
    };
    // Redis's getTimeoutFromObjectOrReply in milliseconds.
    let ms = int_arg(args[2])
        .map_err(|_| CmdError::Other("timeout is not an integer or out of range".into()))?;
    if ms < 0 {
        return Err(CmdError::Other("timeout is negative".into()));
    }
    let st = state(ctx)?;
    let now = st.engine.clock.now_ms();
    // As in Redis a timeout that overflows the clock ends in the past.
    let end = if ms > 0 { now.wrapping_add(ms) } else { 0 };
    let pause = &st.engine.gates.pause;
    pause.pause(PausePurpose::Client, kind, end, now);
    st.pause_wake.changed(pause.generation());
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let pause = &st.engine.gates.pause;
    pause.unpause(PausePurpose::Client, st.engine.clock.now_ms());
    st.pause_wake.changed(pause.generation());
    ctx.out.ok();
    Ok(())
}

/// Waits until the pause the connection's command was held under (its
/// `generation`) changes or ends. `false`: the connection is to close (the peer
/// went, CLIENT KILL, the query buffer over its limit).
pub async fn wait<S>(
    stream: &mut S,
    state: &ServerState,
    handle: &ClientHandle,
    input: &mut BytesMut,
    generation: u64,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let engine = &state.engine;
    let mut rx = state.pause_wake.0.subscribe();
    engine.blocked_clients.fetch_add(1, Relaxed);
    handle.blocked.store(true, Relaxed);
    let query_limit = engine
        .config
        .int(ferrokv_core::config::P::ClientQueryBufferLimit)
        .max(0) as usize;
    let open = loop {
        let pause = &engine.gates.pause;
        if pause.generation() != generation {
            break true;
        }
        let now = engine.clock.now_ms();
        if !pause.active(now) {
            break true;
        }
        let left = pause.end_ms().saturating_sub(now).max(0) as u64 + 1;
        tokio::select! {
            _ = rx.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(left)) => {}
            r = stream.read_buf(input) => match r {
                Ok(n) if n > 0 && input.len() <= query_limit => {
                    state.net_input.fetch_add(n as u64, Relaxed);
                    state.reads.fetch_add(1, Relaxed);
                }
                _ => break false,
            },
            _ = handle.mailbox.wait() => {
                if handle.mailbox.closing() {
                    break false;
                }
                let mut letters = BytesMut::new();
                handle.mailbox.drain_into(&mut letters);
                if stream.write_all(&letters).await.is_err() {
                    break false;
                }
                state.net_output.fetch_add(letters.len() as u64, Relaxed);
            }
        }
    };
    handle.blocked.store(false, Relaxed);
    engine.blocked_clients.fetch_sub(1, Relaxed);
    open
}
