//! MEMORY STATS / DOCTOR / MALLOC-STATS / PURGE / HELP (MEMORY USAGE is core's),
//! and the overhead figures INFO memory shares with them (Redis's
//! getMemoryOverheadData).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use ferrokv_core::commands::{reply_help, CommandDef, Locks};
use ferrokv_core::ctx::Ctx;
use ferrokv_core::keyspace::{LockId, ShardLock, SHARDS};
use ferrokv_core::{CmdError, CmdResult};

use crate::cmds::state;
use crate::state::ServerState;

/// The commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::with_locks("memory|stats", memory_stats, Locks::Own),
    CommandDef::with_locks("memory|doctor", memory_doctor, Locks::Own),
    CommandDef::new("memory|malloc-stats", memory_malloc_stats),
    CommandDef::new("memory|purge", memory_purge),
    CommandDef::new("memory|help", memory_help),
];

/// used_memory once the server was ready (INFO used_memory_startup).
static STARTUP: AtomicU64 = AtomicU64::new(0);

/// Records used_memory at start-up, before any client.
pub fn record_startup() {
    STARTUP.store(crate::alloc::stats().allocated, Relaxed);
}

/// Where used memory goes, as Redis's redisMemOverhead.
pub struct Overview {
    /// Allocator figures.
    pub mem: crate::alloc::MemStats,
    /// Process RSS.
    pub rss: u64,
    /// used_memory_startup.
    pub startup: u64,
    /// Client buffers (query, output, mailbox).
    pub clients_normal: u64,
    /// The replication buffer's backlog part (mem_replication_backlog).
    pub repl_backlog: u64,
    /// The replicas' part of it and their connections (mem_clients_slaves).
    pub clients_slaves: u64,
    /// Script and function caches.
    pub lua_caches: u64,
    /// FUNCTION libraries' code.
    pub functions_caches: u64,
    /// Per db with keys: (db, main table overhead).
    pub dbs: Vec<(usize, u64)>,
    /// Keys in all dbs.
    pub keys: u64,
}

impl Overview {
    /// Everything that is not data.
    pub fn overhead(&self) -> u64 {
        self.startup
            + self.repl_backlog
            + self.clients_slaves
            + self.clients_normal
            + self.lua_caches
            + self.functions_caches
            + self.dbs.iter().map(|d| d.1).sum::<u64>()
    }

    /// used_memory_dataset.
    pub fn dataset(&self) -> u64 {
        self.mem.allocated.saturating_sub(self.overhead())
    }

    /// used_memory_dataset_perc: of what was allocated after start-up.
    pub fn dataset_perc(&self) -> f64 {
        let net = self.mem.allocated.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset() as f64 * 100.0 / net as f64
        }
    }
}

/// Measures the overview: locks each shard briefly, one at a time (the table
/// overhead per db), so call it from a command that holds no shard lock.
pub fn overview(st: &ServerState) -> Overview {
    let mem = crate::alloc::stats();
    let e = &st.engine;
    let mut dbs = Vec::new();
    let mut keys = 0u64;
    for db in 0..e.keyspace.db_count() {
        if !e.keyspace.is_live(db) {
            continue;
        }
        let (mut n, mut buckets) = (0u64, 0u64);
        for s in 0..SHARDS {
            let shard = e.keyspace.lock_one((db * SHARDS + s) as LockId);
            n += shard.len() as u64;
            buckets += shard.dict().buckets() as u64;
        }
        if n > 0 {
            keys += n;
            // Bucket arrays (one pointer each) and the shards themselves.
            let overhead = buckets * 8 + (SHARDS * std::mem::size_of::<ShardLock>()) as u64;
            dbs.push((db, overhead));
        }
    }
    let clients_normal = st
        .clients
        .all()
        .iter()
        .filter(|c| c.kind.load(Relaxed) == crate::clients::KIND_NORMAL)
        .map(|c| c.total_mem() as u64)
        .sum();
    let sc = &e.scripting;
    let functions_caches: u64 = sc.functions.codes().iter().map(|c| c.len() as u64).sum();
    Overview {
        mem,
        rss: crate::info::rss_bytes(),
        startup: STARTUP.load(Relaxed),
        clients_normal,
        repl_backlog: st.replicas.backlog_memory() as u64,
        clients_slaves: st.replicas.clients_memory() as u64,
        lua_caches: sc.cache_bytes(),
        functions_caches,
        dbs,
        keys,
    }
}

fn memory_stats(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let o = overview(st);
    let m = &o.mem;
    let out = &mut *ctx.out;
    out.map(27 + o.dbs.len());
    let int = |out: &mut ferrokv_resp::ReplyBuf, name: &str, v: u64| {
        out.bulk(name.as_bytes());
        out.int(v.min(i64::MAX as u64) as i64);
    };
    int(out, "peak.allocated", m.peak);
    int(out, "total.allocated", m.allocated);
    int(out, "startup.allocated", o.startup);
    int(out, "replication.backlog", o.repl_backlog);
    int(out, "clients.slaves", o.clients_slaves);
    int(out, "clients.normal", o.clients_normal);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", o.lua_caches);
    int(out, "functions.caches", o.functions_caches);
    for (db, overhead) in &o.dbs {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", *overhead);
        // TTLs live in the entries: there is no expires table.
        int(out, "overhead.hashtable.expires", 0);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", o.overhead());
    int(out, "keys.count", o.keys);
    let net = m.allocated.saturating_sub(o.startup);
    int(
        out,
        "keys.bytes-per-key",
        net.checked_div(o.keys).unwrap_or(0),
    );
    int(out, "dataset.bytes", o.dataset());
    out.bulk(b"dataset.percentage");
    out.double(o.dataset_perc());
    out.bulk(b"peak.percentage");
    out.double(if m.peak > 0 {
        m.allocated as f64 * 100.0 / m.peak as f64
    } else {
        0.0
    });
    int(out, "allocator.allocated", m.allocated);
    int(out, "allocator.active", m.active);
    int(out, "allocator.resident", m.resident);
    out.bulk(b"allocator-fragmentation.ratio");
    out.double(crate::info::ratio(m.active, m.allocated));
    int(
        out,
        "allocator-fragmentation.bytes",
        m.active.saturating_sub(m.allocated),
    );
    out.bulk(b"allocator-rss.ratio");
    out.double(crate::info::ratio(m.resident, m.active));
    int(
        out,
        "allocator-rss.bytes",
        m.resident.saturating_sub(m.active),
    );
    out.bulk(b"rss-overhead.ratio");
    out.double(crate::info::ratio(o.rss, m.resident));
    int(out, "rss-overhead.bytes", o.rss.saturating_sub(m.resident));
    out.bulk(b"fragmentation");
    out.double(crate::info::ratio(o.rss, m.allocated));
    int(
        out,
        "fragmentation.bytes",
        o.rss.saturating_sub(m.allocated),
    );
    Ok(())
}

/// Redis's getMemoryDoctorReport, with its thresholds and texts.
fn doctor_report(st: &ServerState) -> String {
    let o = overview(st);
    let m = &o.mem;
    let mut reports: Vec<&str> = Vec::new();
    if m.allocated < 5 * 1024 * 1024 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    let ten_mb = 10u64 << 20;
    let total_frag = crate::info::ratio(o.rss, m.allocated);
    let alloc_frag = crate::info::ratio(m.active, m.allocated);
    let alloc_rss = crate::info::ratio(m.resident, m.active);
    let rss_extra = crate::info::ratio(o.rss, m.resident);
    if m.peak as f64 / m.allocated as f64 > 1.5 {
        reports.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
    }
    if total_frag > 1.4 && o.rss.saturating_sub(m.allocated) > ten_mb {
        reports.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".\n\n");
    }
    if alloc_frag > 1.1 && m.active.saturating_sub(m.allocated) > ten_mb {
        reports.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
    }
    if alloc_rss > 1.1 && m.resident.saturating_sub(m.active) > ten_mb {
        reports.push(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n");
    }
    if rss_extra > 1.1 && o.rss.saturating_sub(m.resident) > ten_mb {
        reports.push(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n");
    }
    let clients = st.clients.len().max(1) as u64;
    if o.clients_normal / clients > 1024 * 200 {
        reports.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
    }
    if st.engine.scripting.cached() > 1000 {
        reports.push(" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n");
    }
    if reports.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into();
    }
    let mut s =
        String::from("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    for r in reports {
        s.push_str(r);
    }
    s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    s
}

fn memory_doctor(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let report = doctor_report(st);
    ctx.out.verbatim(b"txt", report.as_bytes());
    Ok(())
}

fn memory_malloc_stats(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.out
        .verbatim(b"txt", crate::alloc::malloc_stats().as_bytes());
    Ok(())
}

fn memory_purge(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    if crate::alloc::purge() {
        ctx.out.ok();
        Ok(())
    } else {
        Err(CmdError::Other("Error purging dirty pages".into()))
    }
}

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

fn memory_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}
