//! list commands.

use crate::commands::CommandDef;

/// The table.
pub static COMMANDS: &[CommandDef] = &[];
