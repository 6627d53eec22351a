//! ACL command ids: every command and subcommand Redis 7.0 knows (implemented here or
//! not) gets one bit position in a selector's bitmap, like Redis's `cmd->id`. Rules
//! are resolved against this table (Redis's `orig_commands`, unaffected by
//! rename-command), so `+somecommand` means the same as on Redis.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::commands::meta::{redis_commands, Category, CommandMeta};

/// Number of bits in a command bitmap. The last one is never a command: it is set by
/// `+@all` / `allcommands` only and says the selector may run commands added later
/// (Redis's "future commands" bit).
pub const BITS: usize = 1024;
/// Words of a command bitmap.
pub const WORDS: usize = BITS / 64;
/// The "future commands" bit.
pub const FUTURE_BIT: usize = BITS - 1;

/// The command universe of ACL rules.
pub struct CmdTable {
    /// Metadata by id.
    pub cmds: Vec<&'static CommandMeta>,
    /// The container of each subcommand.
    pub parent: Vec<Option<usize>>,
    /// The subcommands of each container.
    pub children: Vec<Vec<usize>>,
    /// Top-level commands, by name.
    pub top: Vec<usize>,
    by_name: HashMap<&'static str, usize>,
}

impl CmdTable {
    /// The id of the command or subcommand named `name` (`get`, `client|list`),
    /// case-insensitive.
    pub fn id(&self, name: &str) -> Option<usize> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_name
                .get(name.to_ascii_lowercase().as_str())
                .copied()
        } else {
            self.by_name.get(name).copied()
        }
    }

    /// The id of `meta` (every command Redis knows has one).
    pub fn id_of(&self, meta: &CommandMeta) -> usize {
        self.by_name
            .get(meta.name.as_str())
            .copied()
            .unwrap_or(FUTURE_BIT)
    }

    /// The ids of the commands (containers and subcommands alike) in `cat`, in
    /// table order.
    pub fn in_category(&self, cat: Category) -> impl Iterator<Item = usize> + '_ {
        self.walk()
            .filter(move |&id| self.cmds[id].acl_categories.has(cat))
    }

    /// Every id, each container followed by its subcommands (the order ACL CAT and
    /// the single-command part of a rules description use).
    pub fn walk(&self) -> impl Iterator<Item = usize> + '_ {
        self.top
            .iter()
            .flat_map(move |&t| std::iter::once(t).chain(self.children[t].iter().copied()))
    }
}

/// The table, built once from the embedded COMMAND INFO.
pub fn table() -> &'static CmdTable {
    static T: OnceLock<CmdTable> = OnceLock::new();
    T.get_or_init(|| {
        let all = redis_commands();
        let mut names: Vec<&'static String> = all.keys().collect();
        names.sort();
        let mut t = CmdTable {
            cmds: Vec::new(),
            parent: Vec::new(),
            children: Vec::new(),
            top: Vec::new(),
            by_name: HashMap::new(),
        };
        for name in names {
            let m = &all[name.as_str()];
            let id = t.cmds.len();
            t.cmds.push(m);
            t.parent.push(None);
            t.children.push(Vec::new());
            t.top.push(id);
            t.by_name.insert(m.name.as_str(), id);
            let mut subs: Vec<&'static CommandMeta> = m.subcommands.iter().collect();
            subs.sort_by(|a, b| a.name.cmp(&b.name));
            for s in subs {
                let sid = t.cmds.len();
                t.cmds.push(s);
                t.parent.push(Some(id));
                t.children.push(Vec::new());
                t.children[id].push(sid);
                t.by_name.insert(s.name.as_str(), sid);
            }
        }
        assert!(
            t.cmds.len() < FUTURE_BIT,
            "too many commands for the ACL bitmap"
        );
        t
    })
}
