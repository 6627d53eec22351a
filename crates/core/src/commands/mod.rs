//! The command table: one [`CommandDef`] per command, next to the type it belongs
//! to, collected by [`Registry`]. Metadata (arity, flags, key specs, docs) comes from
//! [`meta`]; dispatch lives in [`crate::engine`].

pub mod cluster_disabled;
pub mod command_cmd;
pub mod config_cmd;
pub mod keys;
pub mod meta;
pub mod object;
pub mod server;
pub mod sort;
pub mod stats;

use std::collections::HashMap;

use crate::ctx::Ctx;
use crate::error::CmdResult;
use crate::keyspace::LockId;
use meta::CommandMeta;

/// A command implementation: gets the whole argv (name included).
pub type Handler = fn(&mut Ctx<'_, '_>, &[&[u8]]) -> CmdResult;

/// Which shards a command locks before it runs.
#[derive(Clone, Copy)]
pub enum Locks {
    /// The shards of the keys its key specs name, in the client's db (none if it has
    /// no key specs).
    Auto,
    /// Every shard of the client's db (RANDOMKEY, SORT).
    Db,
    /// Every shard of every db (SWAPDB).
    AllDbs,
    /// As `Db` when the client's db is live; an empty one is held shut instead of
    /// allocated ([`LockSet::lock_live_dbs`](crate::keyspace::LockSet::lock_live_dbs)),
    /// for commands that find nothing to read or change in it (FLUSHDB, DBSIZE,
    /// KEYS: they only go through [`LockSet::db_shards`](crate::keyspace::LockSet::db_shards)).
    LiveDb,
    /// As `AllDbs` for the dbs that hold keys, the empty ones held shut (FLUSHALL).
    AllLiveDbs,
    /// Computed from the arguments: `(args, client db, db count)`.
    Custom(fn(&[&[u8]], usize, usize) -> Vec<LockId>),
    /// None taken for it: the handler locks shards itself (one at a time, or all for
    /// a snapshot), so EXEC releases its own locks around it (SCAN, INFO, CONFIG SET,
    /// BGSAVE, ...).
    Own,
}

/// How the admission step treats a command beyond what its Redis flags say: the
/// few distinctions Redis makes by comparing command procedures, kept in the table
/// instead of by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admit(pub u8);

impl Admit {
    /// Nothing special.
    pub const NONE: Admit = Admit(0);
    /// Runs at once inside MULTI instead of being queued, and is not refused there
    /// under OOM (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const NOT_QUEUED: Admit = Admit(1);
    /// Allowed while a RESP2 client is in subscribed mode ((P|S)SUBSCRIBE,
    /// (P|S)UNSUBSCRIBE, PING, QUIT, RESET).
    pub const SUBSCRIBED: Admit = Admit(2);
    /// Refused like a write while writes are refused for a disk error (PING: a
    /// health check must see the error).
    pub const DISK_CHECK: Admit = Admit(4);
    /// Runs the queued commands (EXEC): admitted with their flags too.
    pub const RUNS_QUEUE: Admit = Admit(8);
    /// Runs a script (EVAL, EVALSHA, FCALL and their _RO forms): a script that
    /// declares flags is admitted with the flags they give (Redis's
    /// evalGetCommandFlags / fcallGetCommandFlags).
    pub const SCRIPT: Admit = Admit(16);
    /// A protected command (DEBUG): refused first, before authentication, unless
    /// enable-debug-command allows it for this client (Redis's CMD_PROTECTED).
    pub const PROTECTED: Admit = Admit(32);

    /// Both sets.
    pub const fn and(self, other: Admit) -> Admit {
        Admit(self.0 | other.0)
    }

    /// Whether every bit of `other` is set.
    pub fn has(self, other: Admit) -> bool {
        self.0 & other.0 == other.0
    }
}

/// One command's entry in a type module's table.
pub struct CommandDef {
    /// Full lower-case name; subcommands as `parent|sub`.
    pub name: &'static str,
    /// The implementation.
    pub handler: Handler,
    /// Locking.
    pub locks: Locks,
    /// Admission distinctions (see [`Admit`]).
    pub admit: Admit,
}

impl CommandDef {
    /// An entry with automatic (key-spec) locking.
    pub const fn new(name: &'static str, handler: Handler) -> CommandDef {
        CommandDef {
            name,
            handler,
            locks: Locks::Auto,
            admit: Admit::NONE,
        }
    }

    /// An entry with explicit locking.
    pub const fn with_locks(name: &'static str, handler: Handler, locks: Locks) -> CommandDef {
        CommandDef {
            name,
            handler,
            locks,
            admit: Admit::NONE,
        }
    }

    /// The same entry with admission distinctions.
    pub const fn admit(self, admit: Admit) -> CommandDef {
        CommandDef { admit, ..self }
    }
}

/// A command ready to dispatch.
pub struct Command {
    /// Its index among every command and subcommand (statistics).
    pub id: usize,
    /// Its bit in ACL command bitmaps ([`crate::acl::table`]).
    pub acl_id: usize,
    /// Redis's description of it.
    pub meta: &'static CommandMeta,
    /// Its implementation; `None` for container commands (CLIENT, CONFIG, ...).
    pub handler: Option<Handler>,
    /// Locking.
    pub locks: Locks,
    /// Admission distinctions.
    pub admit: Admit,
    /// Implemented subcommands.
    pub subcommands: Vec<Command>,
}

impl Command {
    /// The implemented subcommand named `sub`.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&Command> {
        self.subcommands.iter().find(|c| {
            c.meta
                .name
                .rsplit('|')
                .next()
                .is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(sub))
        })
    }
}

/// Every implemented command, by name.
pub struct Registry {
    commands: Vec<Command>,
    /// Full names (`get`, `client|list`) by [`Command::id`].
    names: Vec<&'static str>,
    by_name: HashMap<Vec<u8>, usize, foldhash::fast::RandomState>,
    /// Names rename-command took away (lower case).
    renamed_away: Vec<Vec<u8>>,
}

/// The data commands `ferrokv-core` implements itself.
pub fn core_commands() -> Vec<&'static [CommandDef]> {
    vec![
        crate::types::string::commands::COMMANDS,
        crate::types::bitmap::commands::COMMANDS,
        crate::types::hll::commands::COMMANDS,
        crate::types::list::commands::COMMANDS,
        crate::types::hash::commands::COMMANDS,
        crate::types::set::commands::COMMANDS,
        crate::types::zset::commands::COMMANDS,
        crate::types::geo::commands::COMMANDS,
        crate::types::stream::commands::COMMANDS,
        sort::COMMANDS,
        keys::COMMANDS,
        object::COMMANDS,
        server::COMMANDS,
        crate::transaction::COMMANDS,
        command_cmd::COMMANDS,
        config_cmd::COMMANDS,
        crate::slowlog::COMMANDS,
        crate::latency::COMMANDS,
        crate::scripting::eval::COMMANDS,
        crate::scripting::function::COMMANDS,
        crate::acl::cmds::COMMANDS,
        cluster_disabled::COMMANDS,
    ]
}

impl Registry {
    /// Builds the table from the given definition lists. Panics on a definition
    /// that names no Redis command: that is a programming error caught by tests.
    pub fn build(defs: &[&[CommandDef]]) -> Registry {
        let all = meta::redis_commands();
        let mut top: Vec<(&CommandDef, &'static CommandMeta)> = Vec::new();
        let mut subs: HashMap<&str, Vec<(&CommandDef, &'static CommandMeta)>> = HashMap::new();
        for def in defs.iter().flat_map(|d| d.iter()) {
            match def.name.split_once('|') {
                None => {
                    let m = all
                        .get(def.name)
                        .unwrap_or_else(|| panic!("no metadata for {}", def.name));
                    top.push((def, m));
                }
                Some((parent, sub)) => {
                    let m = all
                        .get(parent)
                        .and_then(|p| p.subcommand(sub.as_bytes()))
                        .unwrap_or_else(|| panic!("no metadata for {}", def.name));
                    subs.entry(parent).or_default().push((def, m));
                }
            }
        }
        let acl_table = crate::acl::table::table();
        let mut commands = Vec::new();
        let mut names: Vec<&'static str> = Vec::new();
        let mut next_id = |m: &'static CommandMeta| {
            names.push(m.name.as_str());
            names.len() - 1
        };
        let mut by_name = HashMap::with_hasher(foldhash::fast::RandomState::default());
        for (def, m) in &top {
            commands.push(Command {
                id: next_id(m),
                acl_id: acl_table.id_of(m),
                meta: m,
                handler: Some(def.handler),
                locks: def.locks,
                admit: def.admit,
                subcommands: Vec::new(),
            });
            by_name.insert(def.name.as_bytes().to_vec(), commands.len() - 1);
        }
        for (parent, list) in subs {
            let idx = match by_name.get(parent.as_bytes()) {
                Some(&i) => i,
                None => {
                    let m = &all[parent];
                    commands.push(Command {
                        id: next_id(m),
                        acl_id: acl_table.id_of(m),
                        meta: m,
                        handler: None,
                        locks: Locks::Auto,
                        admit: Admit::NONE,
                        subcommands: Vec::new(),
                    });
                    by_name.insert(parent.as_bytes().to_vec(), commands.len() - 1);
                    commands.len() - 1
                }
            };
            for (def, m) in list {
                commands[idx].subcommands.push(Command {
                    id: next_id(m),
                    acl_id: acl_table.id_of(m),
                    meta: m,
                    handler: Some(def.handler),
                    locks: def.locks,
                    admit: def.admit,
                    subcommands: Vec::new(),
                });
            }
        }
        Registry {
            commands,
            names,
            by_name,
            renamed_away: Vec::new(),
        }
    }

    /// The command named `name` (any case).
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&Command> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.by_name.get(&lower[..]).map(|&i| &self.commands[i])
    }

    /// rename-command: the command named `from` answers to `to` instead (to
    /// nothing when `to` is empty). ACL rules still use the original names.
    pub fn rename(&mut self, from: &str, to: &str) {
        self.renamed_away
            .push(from.to_ascii_lowercase().into_bytes());
        if let Some(i) = self.by_name.remove(from.as_bytes()) {
            if !to.is_empty() {
                self.by_name.insert(to.to_ascii_lowercase().into_bytes(), i);
            }
        }
    }

    /// Whether rename-command took the name `name` away.
    pub fn renamed_away(&self, name: &[u8]) -> bool {
        self.renamed_away
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
            && !self.by_name.keys().any(|k| k.eq_ignore_ascii_case(name))
    }

    /// Every top-level command.
    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.commands.iter()
    }

    /// Every command and subcommand's full name, by [`Command::id`].
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Number of top-level commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

pub mod reply_frame;

/// Writes a HELP reply: one simple string per line, as Redis's addReplyHelp.
pub fn reply_help(ctx: &mut Ctx<'_, '_>, lines: &[&str]) {
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
}
