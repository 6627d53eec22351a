//! CLUSTER, READONLY, READWRITE and ASKING as Redis answers them with
//! `cluster-enabled no`: the commands exist (COMMAND, ACL categories and
//! GETKEYS know them, arity is checked) and each replies that cluster support
//! is disabled. ferrokv has no cluster mode yet; when it comes, these entries
//! move to the cluster crate's handlers.

use crate::commands::CommandDef;
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("asking", disabled),
    CommandDef::new("readonly", disabled),
    CommandDef::new("readwrite", disabled),
    CommandDef::new("cluster|addslots", disabled),
    CommandDef::new("cluster|addslotsrange", disabled),
    CommandDef::new("cluster|bumpepoch", disabled),
    CommandDef::new("cluster|count-failure-reports", disabled),
    CommandDef::new("cluster|countkeysinslot", disabled),
    CommandDef::new("cluster|delslots", disabled),
    CommandDef::new("cluster|delslotsrange", disabled),
    CommandDef::new("cluster|failover", disabled),
    CommandDef::new("cluster|flushslots", disabled),
    CommandDef::new("cluster|forget", disabled),
    CommandDef::new("cluster|getkeysinslot", disabled),
    CommandDef::new("cluster|help", disabled),
    CommandDef::new("cluster|info", disabled),
    CommandDef::new("cluster|keyslot", disabled),
    CommandDef::new("cluster|links", disabled),
    CommandDef::new("cluster|meet", disabled),
    CommandDef::new("cluster|myid", disabled),
    CommandDef::new("cluster|nodes", disabled),
    CommandDef::new("cluster|replicas", disabled),
    CommandDef::new("cluster|replicate", disabled),
    CommandDef::new("cluster|reset", disabled),
    CommandDef::new("cluster|saveconfig", disabled),
    CommandDef::new("cluster|set-config-epoch", disabled),
    CommandDef::new("cluster|setslot", disabled),
    CommandDef::new("cluster|shards", disabled),
    CommandDef::new("cluster|slaves", disabled),
    CommandDef::new("cluster|slots", disabled),
];

/// Redis checks `server.cluster_enabled` first in clusterCommand,
/// readonlyCommand, readwriteCommand and askingCommand (after arity).
fn disabled(_ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::ClusterDisabled)
}
