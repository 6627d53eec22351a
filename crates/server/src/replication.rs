//! Replication, as far as it exists: WAIT. No replica connects yet, so no write is
//! ever acknowledged; WAIT blocks (a non-key block reason, served by the same
//! parking as blocking pops) until its timeout, CLIENT UNBLOCK or a disconnect, and
//! then reports the replicas that acknowledged: none.

use ferrokv_core::args::int_arg;
use ferrokv_core::blocking::{BlockReason, BlockRequest};
use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};

/// The replication commands.
pub static COMMANDS: &[CommandDef] = &[CommandDef::new("wait", wait)];

/// Replicas that acknowledged replication offset `offset` (none connect yet).
pub fn acked_replicas(_offset: u64) -> u64 {
    0
}

/// WAIT numreplicas timeout (Redis's waitCommand, checks in its order).
fn wait(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let replicas = int_arg(args[1])?;
    let timeout = ferrokv_core::args::parse_i64(args[2])
        .ok_or_else(|| CmdError::Other("timeout is not an integer or out of range".into()))?;
    if timeout < 0 {
        return Err(CmdError::Other("timeout is negative".into()));
    }
    let offset = ctx.client.aof_offset;
    let acked = acked_replicas(offset);
    // Inside MULTI it never blocks.
    if acked as i64 >= replicas || ctx.client.in_exec {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    ctx.client.block = Some(BlockRequest {
        reason: BlockReason::Replicas {
            offset,
            replicas: replicas as u64,
        },
        timeout_ms: (timeout > 0).then_some(timeout as u64),
    });
    Ok(())
}
