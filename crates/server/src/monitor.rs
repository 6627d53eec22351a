//! MONITOR: every command the server runs, as Redis prints it
//! (`+<secs>.<usecs> [<db> <addr>] "arg" ...`), posted to the mailbox of each client
//! in MONITOR mode. While nobody monitors, commands pay one relaxed load
//! (`Engine::monitoring`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{Client, CmdError, CmdResult, Engine};
use parking_lot::Mutex;

use crate::clients::ClientHandle;
use crate::cmds::state;

/// The MONITOR command.
pub static COMMANDS: &[CommandDef] = &[CommandDef::new("monitor", monitor)];

/// The clients in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    list: Mutex<Vec<Arc<ClientHandle>>>,
}

impl Monitors {
    fn add(&self, engine: &Engine, h: Arc<ClientHandle>) {
        let mut list = self.list.lock();
        h.monitor.store(true, Relaxed);
        list.push(h);
        engine.monitoring.store(true, Relaxed);
    }

    /// Client `id` leaves MONITOR mode (RESET, or its connection closed).
    pub fn remove(&self, engine: &Engine, id: u64) {
        let mut list = self.list.lock();
        list.retain(|h| {
            let gone = h.id == id;
            if gone {
                h.monitor.store(false, Relaxed);
            }
            !gone
        });
        if list.is_empty() {
            engine.monitoring.store(false, Relaxed);
        }
    }

    /// Posts the line for a command `client` ran to every monitor.
    pub fn feed(&self, st: &crate::state::ServerState, client: &Client, db: usize, args: &[&[u8]]) {
        let list = self.list.lock();
        if list.is_empty() {
            return;
        }
        let line = Bytes::from(line(st, client, db, args));
        for m in list.iter() {
            m.mailbox.post(line.clone());
        }
    }
}

/// One MONITOR line (Redis's replicationFeedMonitors).
fn line(st: &crate::state::ServerState, client: &Client, db: usize, args: &[&[u8]]) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let who = match st.clients.get(client.id) {
        // Commands a script runs are shown as the script engine's (Redis's fake
        // Lua client).
        _ if client.in_script => "lua".to_string(),
        Some(h) if h.unix => format!("unix:{}", h.laddr),
        Some(h) => h.addr.clone(),
        None => String::new(),
    };
    let mut out = format!(
        "+{}.{:06} [{db} {who}] ",
        now.as_secs(),
        now.subsec_micros()
    )
    .into_bytes();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        if i < 64 && client.redact & (1 << i) != 0 {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            ferrokv_resp::push_repr(&mut out, a);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn monitor(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    // Inside EXEC (or a script) it cannot start streaming.
    if ctx.client.in_exec {
        return Err(CmdError::Other(
            "MONITOR isn't allowed for DENY BLOCKING client".into(),
        ));
    }
    // Already monitoring: nothing, not even a reply (as Redis).
    if ctx.client.monitor {
        return Ok(());
    }
    let st = state(ctx)?;
    let Some(h) = st.clients.get(ctx.client.id) else {
        return Err(CmdError::Other("client not registered".into()));
    };
    ctx.client.monitor = true;
    st.monitors.add(ctx.engine, h);
    ctx.out.ok();
    Ok(())
}
