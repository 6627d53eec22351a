//! DEBUG: the subcommands Redis's test suite and tooling use, with Redis 7.0's
//! replies (the digest itself is core's, `ferrokv_core::debug`).
//!
//! DEBUG takes its locks itself (`Locks::Own`), per subcommand: DIGEST every shard
//! of every db (a consistent cut), DIGEST-VALUE and OBJECT the shards of their
//! keys, POPULATE the selected db, SLEEP every shard (Redis's whole server stops
//! for the sleep; here every key stays untouched for its length, PING and INFO
//! still answer), RELOAD and LOADAOF what their save, flush and load take.
//! Refused unless `enable-debug-command` allows it, with Redis's text.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use ferrokv_core::args::{int_arg, is_kw};
use ferrokv_core::commands::{Admit, CommandDef, Locks};
use ferrokv_core::config::{parse_memory, P};
use ferrokv_core::ctx::{lru_clock, Ctx, Keys};
use ferrokv_core::debug::digest::{key_digest, xor_into};
use ferrokv_core::debug::{dataset_digest, hex, value_digest};
use ferrokv_core::keyspace::{hash_key, lock_id, LockId, LockSet, Lookup};
use ferrokv_core::types::string::StrValue;
use ferrokv_core::types::Value;
use ferrokv_core::{CmdError, CmdResult, Engine};
use ferrokv_persist::convert::{to_rdb, write_options};
use ferrokv_persist::encode_dump;
use ferrokv_resp::Protocol;

use crate::cmds::state;

/// The DEBUG command.
pub static COMMANDS: &[CommandDef] =
    &[CommandDef::with_locks("debug", debug, Locks::Own).admit(Admit::PROTECTED)];

/// Switches DEBUG flips (Redis keeps them in its `server` struct).
#[derive(Debug)]
pub struct DebugState {
    /// DEBUG SET-ACTIVE-EXPIRE: whether the active expiry cycle runs.
    pub active_expire: AtomicBool,
    /// DEBUG PAUSE-CRON: whether the periodic jobs (active expiry, save points,
    /// the AOF's timed work) are paused.
    pub pause_cron: AtomicBool,
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION.
    pub skip_checksum: AtomicBool,
    /// DEBUG QUICKLIST-PACKED-THRESHOLD (bytes; ferrokv keeps every element
    /// packed, so it is only remembered).
    pub packed_threshold: AtomicU64,
    /// DEBUG REPLYBUFFER PEAK-RESET-TIME (ms; -1 never).
    pub reply_peak_reset_ms: AtomicI64,
    /// DEBUG REPLYBUFFER RESIZING.
    pub reply_resizing: AtomicBool,
    /// DEBUG SLEEP's end (engine clock ms): the link to a master waits it out
    /// before reconnecting, as Redis's sleeping server would.
    pub asleep_until_ms: AtomicI64,
}

/// quicklist's default packed threshold (1 GiB).
const DEFAULT_PACKED_THRESHOLD: u64 = 1 << 30;
/// Redis's REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME (ms).
const DEFAULT_PEAK_RESET_MS: i64 = 5000;

impl Default for DebugState {
    fn default() -> Self {
        DebugState {
            active_expire: AtomicBool::new(true),
            pause_cron: AtomicBool::new(false),
            skip_checksum: AtomicBool::new(false),
            packed_threshold: AtomicU64::new(DEFAULT_PACKED_THRESHOLD),
            reply_peak_reset_ms: AtomicI64::new(DEFAULT_PEAK_RESET_MS),
            reply_resizing: AtomicBool::new(true),
            asleep_until_ms: AtomicI64::new(0),
        }
    }
}

impl DebugState {
    /// Whether the active expiry cycle may run now.
    pub fn active_expire_on(&self) -> bool {
        self.active_expire.load(Relaxed) && !self.pause_cron.load(Relaxed)
    }

    /// Whether the cron's other duties run now (DEBUG PAUSE-CRON 1 holds them).
    pub fn cron_on(&self) -> bool {
        !self.pause_cron.load(Relaxed)
    }
}

const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
    "HELP",
    "    Prints this help.",
];

/// C's atoi: optional sign and leading digits, anything else stops it (0 if none).
fn atoi(arg: &[u8]) -> i64 {
    let s = std::str::from_utf8(arg).unwrap_or("").trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
    }
    if neg {
        n.wrapping_neg()
    } else {
        n
    }
}

/// C's strtod on the longest numeric prefix (0 if none), as DEBUG SLEEP reads it.
fn strtod(arg: &[u8]) -> f64 {
    let s = std::str::from_utf8(arg).unwrap_or("").trim_start();
    // The longest prefix that parses (arguments are short).
    (1..=s.len())
        .rev()
        .filter(|&i| s.is_char_boundary(i))
        .find_map(|i| s[..i].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Whether the peer of this connection is local (loopback or a Unix socket), for
/// `enable-debug-command local`.
pub(crate) fn is_local(addr: &str) -> bool {
    match addr.parse::<SocketAddr>() {
        Ok(a) => {
            a.ip().is_loopback()
                || matches!(a.ip(), std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
        }
        // Not ip:port: a Unix socket path.
        Err(_) => true,
    }
}

fn allowed(ctx: &Ctx<'_, '_>) -> CmdResult<bool> {
    // enable-debug-command: yes, no, local.
    Ok(match ctx.engine.config.int(P::EnableDebugCommand) {
        0 => true,
        2 => {
            let st = state(ctx)?;
            st.clients
                .get(ctx.client.id)
                .is_none_or(|h| is_local(&h.addr))
        }
        _ => false,
    })
}

fn syntax_error(args: &[&[u8]]) -> CmdError {
    let sub = args.get(1).map_or(&[][..], |a| &a[..a.len().min(128)]);
    CmdError::SubcommandSyntax {
        sub: String::from_utf8_lossy(sub).into_owned(),
        cmd: String::from_utf8_lossy(args[0]).to_ascii_uppercase(),
    }
}

fn debug(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if !allowed(ctx)? {
        return Err(CmdError::DebugNotAllowed);
    }
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    let n = args.len();
    match (sub.as_str(), n) {
        ("help", 2) => {
            ctx.out.array(HELP.len());
            for l in HELP {
                ctx.out.simple(l.as_bytes());
            }
        }
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(args[2]));
            ctx.out.ok();
        }
        ("leak", 3) => ctx.out.ok(),
        ("reload", _) => reload(ctx, args)?,
        ("loadaof", _) => {
            let st = state(ctx)?;
            if let Err(e) = crate::aof::debug_loadaof(st) {
                // Redis exits rather than serve a partial dataset.
                tracing::warn!("{e}");
                std::process::exit(1);
            }
            tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
            ctx.out.ok();
        }
        ("object", 3) => object(ctx, args[2])?,
        ("mallctl", 3 | 4) => {
            let new = match args.get(3) {
                Some(v) => Some(ferrokv_core::args::int_arg(v)?),
                None => None,
            };
            match crate::alloc::mallctl_int(args[2], new) {
                Ok(crate::alloc::Mallctl::Value(v)) => ctx.out.int(v),
                Ok(crate::alloc::Mallctl::Written) => ctx.out.ok(),
                Err(e) => return Err(CmdError::Other(e)),
            }
        }
        ("mallctl-str", 3 | 4) => match crate::alloc::mallctl_str(args[2], args.get(3).copied()) {
            Ok(crate::alloc::MallctlStr::Value(v)) => ctx.out.bulk(v.as_bytes()),
            Ok(crate::alloc::MallctlStr::Written) => ctx.out.ok(),
            Err(e) => return Err(CmdError::Other(e)),
        },
        ("sdslen", 3) => sdslen(ctx, args[2])?,
        ("listpack", 3) => {
            let enc = lookup_encoding(ctx, args[2])?;
            if enc != "listpack" {
                return Err(CmdError::NotListpack);
            }
            ctx.out.simple(b"Listpack structure printed on stdout");
        }
        ("quicklist", 3 | 4) => {
            let enc = lookup_encoding(ctx, args[2])?;
            if enc != "quicklist" {
                return Err(CmdError::NotQuicklist);
            }
            ctx.out.simple(b"Quicklist structure printed on stdout");
        }
        ("populate", 3..=5) => populate(ctx, args)?,
        ("digest", 2) => digest(ctx),
        ("digest-value", _) => digest_value(ctx, &args[2..]),
        ("protocol", 3) => protocol(ctx, args[2])?,
        ("sleep", 3) => sleep(ctx, strtod(args[2])),
        ("config-rewrite-force-all", 2) => {
            let st = state(ctx)?;
            let path = st.config_file.clone().unwrap_or_default();
            if let Err(e) = crate::rewrite::rewrite_file(&st.engine.config, &path, true) {
                return Err(CmdError::Other(format!(
                    "CONFIG-REWRITE-FORCE-ALL failed: {e}"
                )));
            }
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            let st = state(ctx)?;
            st.debug.active_expire.store(atoi(args[2]) != 0, Relaxed);
            ctx.out.ok();
        }
        ("quicklist-packed-threshold", 3) => {
            let sz = std::str::from_utf8(args[2]).ok().and_then(parse_memory);
            // quicklistisSetPackedThreshold: 0 restores the default, at most 4 GiB.
            let sz = match sz {
                Some(0) => DEFAULT_PACKED_THRESHOLD,
                Some(v) if v < (1u64 << 32) => v,
                _ => return Err(CmdError::PackedThreshold),
            };
            state(ctx)?.debug.packed_threshold.store(sz, Relaxed);
            ctx.out.ok();
        }
        ("set-disable-deny-scripts", 3) => {
            // Lets scripts call commands flagged noscript (Redis's test hook).
            ctx.engine
                .scripting
                .disable_deny
                .store(atoi(args[2]) != 0, Relaxed);
            ctx.out.ok();
        }
        ("set-skip-checksum-validation", 3) => {
            state(ctx)?
                .debug
                .skip_checksum
                .store(atoi(args[2]) != 0, Relaxed);
            ctx.out.ok();
        }
        ("segfault", 2) => {
            // As Redis: die by SIGSEGV, so the crash handler (`crash.rs`) logs its
            // report. Only an admin with enable-debug-command gets here.
            // SAFETY: raise only delivers a signal to the calling thread.
            unsafe {
                libc::raise(libc::SIGSEGV);
            }
            ctx.out.ok();
        }
        ("aof-flush-sleep", 3) => {
            state(ctx)?
                .aof
                .flush_sleep_us
                .store(atoi(args[2]).max(0) as u64, Relaxed);
            ctx.out.ok();
        }
        ("replicate", 3..) => {
            // Sent to the replicas as is (their error handling is what it tests).
            state(ctx)?.replicas.feed(&[(ctx.client.db, &args[2..])]);
            ctx.out.ok();
        }
        ("error", 3) => {
            let text: String = String::from_utf8_lossy(args[2])
                .chars()
                .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
                .collect();
            return Err(CmdError::DebugError(text));
        }
        ("structsize", 2) => {
            ctx.out.bulk(b"bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 sdshdr64:17 ");
        }
        ("htstats", 3) => htstats(ctx, args[2])?,
        ("htstats-key", 3) => {
            let enc = lookup_encoding(ctx, args[2])?;
            if !matches!(enc, "hashtable" | "skiplist") {
                return Err(CmdError::NotHashTable);
            }
            ctx.out.verbatim(b"txt", b"");
        }
        ("change-repl-id", 2) => {
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            ctx.out.ok();
        }
        ("stringmatch-test", 2) => {
            ctx.out
                .simple(b"Apparently Redis did not crash: test passed");
        }
        ("pause-cron", 3) => {
            state(ctx)?
                .debug
                .pause_cron
                .store(atoi(args[2]) != 0, Relaxed);
            ctx.out.ok();
        }
        ("replybuffer", 4) => {
            let st = state(ctx)?;
            if is_kw(args[2], "peak-reset-time") {
                let v = if is_kw(args[3], "never") {
                    -1
                } else if is_kw(args[3], "reset") {
                    DEFAULT_PEAK_RESET_MS
                } else {
                    int_arg(args[3])?
                };
                st.debug.reply_peak_reset_ms.store(v, Relaxed);
            } else if is_kw(args[2], "resizing") {
                st.debug.reply_resizing.store(atoi(args[3]) != 0, Relaxed);
            } else {
                return Err(syntax_error(args));
            }
            ctx.out.ok();
        }
        _ => return Err(syntax_error(args)),
    }
    Ok(())
}

/// The encoding of a live key for DEBUG LISTPACK / QUICKLIST / HTSTATS-KEY (a
/// missing key is Redis's "no such key").
fn lookup_encoding(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult<&'static str> {
    with_key_locks(ctx, &[key], |keys| {
        let db = keys.db;
        match keys.lookup_in(db, key, Lookup::ReadNoTouch)? {
            Some(e) => Ok(e.node.value().encoding()),
            None => Err(CmdError::NoSuchKey),
        }
    })
}

/// Runs `f` over a key view holding the shards of `keys` in the selected db.
fn with_key_locks<T>(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    f: impl FnOnce(&mut Keys<'_>) -> CmdResult<T>,
) -> CmdResult<T> {
    let db = ctx.client.db;
    let mut ids: Vec<LockId> = keys.iter().map(|k| lock_id(db, k)).collect();
    let locks = LockSet::lock(&ctx.engine.keyspace, &mut ids);
    let mut view = Keys::new(locks, db, ctx.engine.clock.now_ms());
    f(&mut view)
}

fn digest(ctx: &mut Ctx<'_, '_>) {
    let engine = ctx.engine;
    let dbs = engine.keyspace.db_count();
    let mut locks = LockSet::lock_dbs(&engine.keyspace, 0..dbs);
    let mut per_db = Vec::with_capacity(dbs);
    for db in 0..dbs {
        let mut acc = [0u8; 20];
        let mut any = false;
        for shard in locks.db_shards(db) {
            for node in shard.dict().iter() {
                any = true;
                xor_into(&mut acc, &key_digest(node));
            }
        }
        per_db.push((db, acc, any));
    }
    drop(locks);
    ctx.out.simple(hex(&dataset_digest(per_db)).as_bytes());
}

fn digest_value(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]]) {
    let db = ctx.client.db;
    let mut ids: Vec<LockId> = keys.iter().map(|k| lock_id(db, k)).collect();
    let mut locks = LockSet::lock(&ctx.engine.keyspace, &mut ids);
    ctx.out.array(keys.len());
    for key in keys {
        let mut d = [0u8; 20];
        // Logically expired keys count too, as Redis reads the table directly.
        let hash = hash_key(key);
        if let Some(shard) = locks.shard(lock_id(db, key)) {
            if let Some(node) = shard.dict().get(key, hash) {
                value_digest(&mut d, &node.value(), node.expire_at() != 0);
            }
        }
        ctx.out.simple(hex(&d).as_bytes());
    }
}

fn object(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult {
    let engine = ctx.engine;
    let opts = write_options(&engine.config);
    let lru_policy = matches!(engine.config.int(P::MaxmemoryPolicy), 0 | 1 | 4 | 5);
    let compress = engine.config.int(P::ListCompressDepth) != 0;
    let now = lru_clock(engine.clock.now_ms());
    let db = ctx.client.db;
    let mut ids = [lock_id(db, key)];
    let mut locks = LockSet::lock(&engine.keyspace, &mut ids);
    let Some(shard) = locks.shard(ids[0]) else {
        return Err(CmdError::NoSuchKey);
    };
    // dictFind, not a lookup: an expired key not yet removed is still shown.
    let Some(node) = shard.dict().get(key, hash_key(key)) else {
        return Err(CmdError::NoSuchKey);
    };
    let value_ref = node.value();
    let value: &Value = &value_ref;
    let shared_int =
        matches!(value, Value::Str(StrValue::Int(i)) if !lru_policy && (0..10000).contains(i));
    let refcount: i64 = if shared_int { i32::MAX as i64 } else { 1 };
    let serialized = to_rdb(value)
        .map(|v| encode_dump(&v, &opts).len().saturating_sub(11))
        .unwrap_or(0);
    let lru = node.lru();
    let idle = if now >= lru {
        now - lru
    } else {
        now + (0xFF_FFFF - lru)
    };
    let mut extra = String::new();
    if let Value::List(l) = value {
        let (nodes, fill, bytes) = l.node_stats();
        let avg = if nodes == 0 {
            0.0
        } else {
            l.len() as f64 / nodes as f64
        };
        extra = format!(
            " ql_nodes:{nodes} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:{} ql_uncompressed_size:{bytes}",
            u8::from(compress)
        );
    }
    let text = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{serialized} lru:{lru} lru_seconds_idle:{idle}{extra}",
        &**node as *const _,
        value.encoding()
    );
    drop(locks);
    ctx.out.simple(text.as_bytes());
    Ok(())
}

fn sdslen(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult {
    let db = ctx.client.db;
    let mut ids = [lock_id(db, key)];
    let mut locks = LockSet::lock(&ctx.engine.keyspace, &mut ids);
    let Some(shard) = locks.shard(ids[0]) else {
        return Err(CmdError::NoSuchKey);
    };
    let Some(node) = shard.dict().get(key, hash_key(key)) else {
        return Err(CmdError::NoSuchKey);
    };
    let value = node.value();
    let Value::Str(s) = &*value else {
        return Err(CmdError::NotSds);
    };
    if matches!(s, StrValue::Int(_)) {
        return Err(CmdError::NotSds);
    }
    let (klen, vlen) = (key.len(), s.len());
    let text = format!(
        "key_sds_len:{klen}, key_sds_avail:0, key_zmalloc: {}, val_sds_len:{vlen}, val_sds_avail:0, val_zmalloc: {}",
        klen + 4,
        vlen + 4
    );
    drop(locks);
    ctx.out.simple(text.as_bytes());
    Ok(())
}

fn htstats(ctx: &mut Ctx<'_, '_>, db: &[u8]) -> CmdResult {
    let db = int_arg(db)?;
    let dbs = ctx.engine.keyspace.db_count();
    let Some(db) = usize::try_from(db).ok().filter(|d| *d < dbs) else {
        return Err(CmdError::OutOfRangeDb);
    };
    let (keys, expires) = ctx.engine.db_sizes(db);
    let text = if keys == 0 {
        "[Dictionary HT]\nNo stats available for empty dictionaries\n[Expires HT]\nNo stats available for empty dictionaries\n".to_string()
    } else {
        format!(
            "[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: {keys}\n number of elements: {keys}\n[Expires HT]\nHash table 0 stats (main hash table):\n table size: {expires}\n number of elements: {expires}\n"
        )
    };
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn populate(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let count = positive(args[2])?;
    let size = match args.get(4) {
        Some(a) => positive(a)? as usize,
        None => 0,
    };
    let prefix: &[u8] = args.get(3).copied().unwrap_or(b"key");
    let engine = ctx.engine;
    let db = ctx.client.db;
    let locks = LockSet::lock_dbs(&engine.keyspace, [db]);
    let mut keys = Keys::new(locks, db, engine.clock.now_ms());
    if engine.snapshot.active() {
        keys.cow = Some(&engine.snapshot);
    }
    let mut key = Vec::with_capacity(prefix.len() + 21);
    let mut val = Vec::with_capacity(size.max(32));
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(j.to_string().as_bytes());
        if keys.write(&key)?.is_some() {
            continue;
        }
        val.clear();
        val.extend_from_slice(b"value:");
        val.extend_from_slice(j.to_string().as_bytes());
        if size > 0 {
            val.resize(size, 0);
        }
        // createStringObject: not int-encoded, unlike SET's values.
        keys.insert_new(&key, Value::Str(StrValue::from_bytes_no_int(&val)), None)?;
    }
    drop(keys);
    ctx.out.ok();
    Ok(())
}

/// getPositiveLongFromObjectOrReply: not a number and negative get one error.
fn positive(arg: &[u8]) -> CmdResult<i64> {
    match int_arg(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::NotPositive),
    }
}

fn protocol(ctx: &mut Ctx<'_, '_>, name: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    let resp3 = out.proto() == Protocol::Resp3;
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    match name.as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's literal, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => out.big_number(b"1234567999999999999999999999999999999"),
        "null" => out.null(),
        "array" | "set" => {
            if name == "set" {
                out.set(3);
            } else {
                out.array(3);
            }
            for j in 0..3 {
                out.int(j);
            }
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            if resp3 {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !resp3 {
                return Err(CmdError::Resp2NotSupported);
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim(b"txt", b"This is a verbatim\nstring"),
        _ => return Err(CmdError::DebugProtocolType),
    }
    Ok(())
}

/// DEBUG SLEEP: holds every shard for the time given, so no command touches a
/// key meanwhile (Redis's whole server sleeps).
fn sleep(ctx: &mut Ctx<'_, '_>, secs: f64) {
    let engine = ctx.engine;
    let micros = (secs * 1_000_000.0) as i64;
    if micros > 0 {
        if let Ok(st) = state(ctx) {
            let end = engine.clock.now_ms().saturating_add(micros / 1000);
            st.debug.asleep_until_ms.store(end, Relaxed);
        }
        // Work queued on this thread (a link woken by a CLIENT KILL in the same
        // EXEC) goes on elsewhere while it sleeps.
        ctx.hooks.long_running();
        let locks = LockSet::lock_dbs(&engine.keyspace, 0..engine.keyspace.db_count());
        std::thread::sleep(Duration::from_micros(micros as u64));
        drop(locks);
    }
    ctx.out.ok();
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save (unless NOSAVE), empty every db
/// (unless NOFLUSH), load the RDB file back (MERGE: its keys replace existing
/// ones; without it a key already present fails the load).
fn reload(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in &args[2..] {
        if is_kw(opt, "merge") {
            merge = true;
        } else if is_kw(opt, "noflush") {
            flush = false;
        } else if is_kw(opt, "nosave") {
            save = false;
        } else {
            return Err(CmdError::DebugReloadOption);
        }
    }
    let st = state(ctx)?;
    if save {
        // Redis replies a bare "-ERR" when the save fails (the reason is logged).
        crate::persistence::save_blocking(&st.engine, &st.persistence.0)
            .map_err(|_| CmdError::Raw("ERR".into()))?;
    }
    // Loading changes nothing a save would miss: the changes since the last save
    // stay what they were (Redis's rdbLoad leaves server.dirty alone).
    let engine = &st.engine;
    let unsaved = engine
        .shard_totals()
        .dirty
        .saturating_sub(engine.stats.dirty_at_save.load(Relaxed));
    if flush {
        empty_all(engine);
        // Redis's emptyData drops the function libraries too (FLUSHALL does not).
        engine.scripting.functions.flush();
    }
    let loaded = crate::rdb_load::reload(engine, merge, st.debug.skip_checksum.load(Relaxed));
    engine
        .stats
        .dirty_at_save
        .store(engine.shard_totals().dirty.saturating_sub(unsaved), Relaxed);
    loaded.map_err(|e| {
        tracing::warn!("{e}");
        CmdError::DebugReloadFailed
    })?;
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}

/// Empties every db (emptyData), freeing large values in the background.
pub fn empty_all(engine: &Engine) {
    let dbs = engine.keyspace.db_count();
    let mut locks = LockSet::lock_dbs(&engine.keyspace, 0..dbs);
    for db in 0..dbs {
        for shard in locks.db_shards(db) {
            if shard.is_empty() {
                continue;
            }
            let old = shard.clear();
            ferrokv_core::lazyfree::free_dict(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_parsing() {
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b"0"), 0);
        assert_eq!(atoi(b"12abc"), 12);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(strtod(b"0.5"), 0.5);
        assert_eq!(strtod(b"2"), 2.0);
        assert_eq!(strtod(b"1.5s"), 1.5);
        assert_eq!(strtod(b"abc"), 0.0);
    }

    #[test]
    fn local_peers() {
        assert!(is_local("127.0.0.1:5000"));
        assert!(is_local("[::1]:5000"));
        assert!(is_local("/tmp/redis.sock"));
        assert!(!is_local("10.0.0.1:5000"));
    }
}
