//! INFO: Redis 7.0's sections and field names. Fields for features that do not
//! exist yet report the values Redis reports when they are idle.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use ferrokv_core::args::is_kw;
use ferrokv_core::config::P;
use ferrokv_core::ctx::{lru_clock, Ctx};
use ferrokv_core::CmdResult;

use crate::cmds::state;
use crate::state::ServerState;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

/// `INFO [section ...]`.
pub fn info(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let mut wanted: Vec<String> = Vec::new();
    for a in &args[1..] {
        if is_kw(a, "default") {
            wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
        } else if is_kw(a, "all") || is_kw(a, "everything") {
            wanted.extend(DEFAULT.iter().chain(ALL_EXTRA).map(|s| s.to_string()));
        } else {
            wanted.push(String::from_utf8_lossy(a).to_ascii_lowercase());
        }
    }
    if args.len() == 1 {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    let mut text = String::new();
    let order = DEFAULT.iter().chain(ALL_EXTRA);
    for section in order {
        if wanted.iter().any(|w| w == section) {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            write_section(st, section, &mut text);
        }
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// Every section of `INFO everything`, as one text (the metrics endpoint reads
/// INFO the way redis_exporter does).
pub(crate) fn everything(st: &ServerState) -> String {
    let mut text = String::new();
    for section in DEFAULT.iter().chain(ALL_EXTRA) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(st, section, &mut text);
    }
    text
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b < 1024.0f64.powi(4) {
        format!("{:.2}G", b / 1024.0f64.powi(3))
    } else {
        format!("{:.2}T", b / 1024.0f64.powi(4))
    }
}

/// The process's resident set size.
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<u64>().ok())
                })
        })
        .map_or(0, |kb| kb * 1024)
}

fn cpu_times() -> (f64, f64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
    if !ok {
        return (0.0, 0.0);
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { usage.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(u.ru_stime), t(u.ru_utime))
}

fn write_section(st: &ServerState, section: &str, t: &mut String) {
    let e = &st.engine;
    let cfg = &e.config;
    match section {
        "server" => {
            let uptime = st.started.elapsed().as_secs();
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            let uname = uname();
            let exe = std::env::current_exe()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = write!(
                t,
                "# Server\r\nredis_version:{}\r\nferrokv_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nferrokv_threads:{}\r\n",
                crate::REDIS_VERSION,
                env!("CARGO_PKG_VERSION"),
                uname,
                std::process::id(),
                st.run_id,
                st.port.load(Relaxed),
                now_us,
                uptime,
                uptime / 86400,
                cfg.int(P::Hz),
                cfg.int(P::Hz),
                lru_clock(e.clock.now_ms()),
                exe,
                st.config_file.clone().unwrap_or_default(),
                st.threads,
            );
            if let Some(ms) = st.shutdown_state.remaining_ms(e.clock.now_ms()) {
                let _ = write!(t, "shutdown_in_milliseconds:{ms}\r\n");
            }
        }
        "clients" => {
            let _ = write!(
                t,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\n",
                st.clients.len() - st.clients.replication_links().min(st.clients.len()),
                cfg.int(P::Maxclients),
                st.max_input_buffer.load(Relaxed),
                e.blocked_clients.load(Relaxed),
                e.tracking.clients(),
                st.blocked.with_timeout(),
            );
        }
        "memory" => {
            let o = crate::memory::overview(st);
            let m = &o.mem;
            let rss = o.rss;
            let maxmemory = cfg.int(P::Maxmemory).max(0) as u64;
            let frag = if m.allocated > 0 {
                rss as f64 / m.allocated as f64
            } else {
                0.0
            };
            let total = total_memory();
            let sc = &e.scripting;
            let lua = sc.vm_memory();
            let (nlibs, nfuncs) = sc.functions.counts();
            let sfunc: u64 = sc.functions.codes().iter().map(|c| c.len() as u64).sum();
            let _ = write!(
                t,
                "# Memory\r\nused_memory:{a}\r\nused_memory_human:{ah}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{rssh}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{peakh}\r\nused_memory_peak_perc:{peakp:.2}%\r\nused_memory_overhead:{ovh}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{ds}\r\nused_memory_dataset_perc:{dsp:.2}%\r\nallocator_allocated:{aa}\r\nallocator_active:{act}\r\nallocator_resident:{res}\r\ntotal_system_memory:{total}\r\ntotal_system_memory_human:{totalh}\r\nused_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_lua_human:{luah}\r\nused_memory_scripts_eval:{seval}\r\nnumber_of_cached_scripts:{nscripts}\r\nnumber_of_functions:{nfuncs}\r\nnumber_of_libraries:{nlibs}\r\nused_memory_vm_functions:{luaf}\r\nused_memory_vm_total:{luat}\r\nused_memory_vm_total_human:{luath}\r\nused_memory_functions:{sfunc}\r\nused_memory_scripts:{sall}\r\nused_memory_scripts_human:{sallh}\r\nmaxmemory:{mm}\r\nmaxmemory_human:{mmh}\r\nmaxmemory_policy:{pol}\r\nallocator_frag_ratio:{afr:.2}\r\nallocator_frag_bytes:{afb}\r\nallocator_rss_ratio:{arr:.2}\r\nallocator_rss_bytes:{arb}\r\nrss_overhead_ratio:{ror:.2}\r\nrss_overhead_bytes:{rob}\r\nmem_fragmentation_ratio:{frag:.2}\r\nmem_fragmentation_bytes:{fb}\r\nmem_not_counted_for_evict:{nce}\r\nmem_replication_backlog:{rbl}\r\nmem_total_replication_buffers:{rbuf}\r\nmem_clients_slaves:{cslaves}\r\nmem_clients_normal:{cn}\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:jemalloc-5.3.0\r\nactive_defrag_running:{adr}\r\nlazyfree_pending_objects:{lp}\r\nlazyfreed_objects:{lf}\r\n",
                a = m.allocated,
                ah = human(m.allocated),
                ovh = o.overhead(),
                startup = o.startup,
                ds = o.dataset(),
                dsp = o.dataset_perc(),
                cn = o.clients_normal,
                rbuf = st.replicas.buffer_bytes(),
                rbl = o.repl_backlog,
                nce = st.replicas.output_memory(),
                cslaves = o.clients_slaves,
                rss = rss,
                rssh = human(rss),
                peak = m.peak,
                peakh = human(m.peak),
                peakp = if m.peak > 0 { m.allocated as f64 * 100.0 / m.peak as f64 } else { 100.0 },
                act = m.active,
                res = m.resident,
                total = total,
                totalh = human(total),
                mm = maxmemory,
                mmh = human(maxmemory),
                pol = cfg.string(P::MaxmemoryPolicy),
                aa = m.allocator_allocated,
                afr = ratio(m.active, m.allocator_allocated),
                afb = m.active.saturating_sub(m.allocator_allocated),
                arr = ratio(m.resident, m.active),
                arb = m.resident.saturating_sub(m.active),
                ror = ratio(rss, m.resident),
                rob = rss.saturating_sub(m.resident),
                frag = frag,
                fb = rss.saturating_sub(m.allocated),
                lp = ferrokv_core::lazyfree::pending(),
                lf = ferrokv_core::lazyfree::freed(),
                lua = lua.0,
                luah = human(lua.0),
                luaf = lua.1,
                luat = lua.0 + lua.1,
                luath = human(lua.0 + lua.1),
                seval = sc.cache_bytes(),
                nscripts = sc.cached(),
                nfuncs = nfuncs,
                nlibs = nlibs,
                sfunc = sfunc,
                sall = sc.cache_bytes() + sfunc,
                sallh = human(sc.cache_bytes() + sfunc),
                adr = e.defrag.running.load(Relaxed),
            );
        }
        "persistence" => {
            let totals = e.shard_totals();
            let changes = totals
                .dirty
                .saturating_sub(e.stats.dirty_at_save.load(Relaxed));
            let p = crate::persistence::InfoFields::of(st);
            let loading = e.gates.loading.load(Relaxed);
            let async_loading = e.gates.async_loading.load(Relaxed);
            let _ = write!(
                t,
                "# Persistence\r\nloading:{}\r\nasync_loading:{}\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{changes}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n{}{}",
                u8::from(loading),
                u8::from(async_loading),
                u8::from(p.bgsave_in_progress),
                p.lastsave,
                if p.last_bgsave_ok { "ok" } else { "err" },
                p.last_bgsave_secs,
                p.current_bgsave_secs,
                p.saves,
                p.load_expired,
                p.load_loaded,
                crate::aof::info_fields(st),
                if loading || async_loading {
                    crate::rdb_load::PROGRESS.info_lines()
                } else {
                    String::new()
                },
            );
        }
        "stats" => {
            let totals = e.shard_totals();
            let _ = write!(
                t,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:{}\r\ntotal_eviction_exceeded_time:{}\r\ncurrent_eviction_exceeded_time:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:{}\r\nslave_expires_tracked_keys:{}\r\nactive_defrag_hits:{}\r\nactive_defrag_misses:{}\r\nactive_defrag_key_hits:{}\r\nactive_defrag_key_misses:{}\r\ntotal_active_defrag_time:{}\r\ncurrent_active_defrag_time:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
                st.clients.total_received.load(Relaxed),
                st.commands_processed.load(Relaxed),
                st.net_input.load(Relaxed),
                st.net_output.load(Relaxed),
                st.clients.rejected.load(Relaxed),
                st.replicas.sync_full.load(Relaxed),
                st.replicas.sync_partial_ok.load(Relaxed),
                st.replicas.sync_partial_err.load(Relaxed),
                totals.expired,
                e.evict.evicted_keys.load(Relaxed),
                st.client_mem.evicted.load(Relaxed),
                (e.evict.exceeded_total_us.load(Relaxed) + e.evict.exceeded_now_us()) / 1000,
                e.evict.exceeded_now_us() / 1000,
                totals.hits,
                totals.misses,
                st.pubsub.count(crate::pubsub::Kind::Channel),
                st.pubsub.count(crate::pubsub::Kind::Pattern),
                st.pubsub.count(crate::pubsub::Kind::Shard),
                crate::migrate::cached_sockets(),
                e.replica_keys.len(),
                e.defrag.hits.load(Relaxed),
                e.defrag.misses.load(Relaxed),
                e.defrag.key_hits.load(Relaxed),
                e.defrag.key_misses.load(Relaxed),
                e.defrag.times_ms().0,
                e.defrag.times_ms().1,
                e.tracking.total_keys(),
                e.tracking.total_items(),
                e.tracking.total_prefixes(),
                st.unexpected_error_replies.load(Relaxed),
                e.stats.error_replies.load(Relaxed),
                st.reads.load(Relaxed),
                st.writes.load(Relaxed),
            );
        }
        "replication" => t.push_str(&crate::replication::info(st)),
        "cpu" => {
            let (sys, user) = cpu_times();
            let _ = write!(
                t,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
            );
        }
        "modules" => t.push_str("# Modules\r\n"),
        "errorstats" => {
            t.push_str("# Errorstats\r\n");
            for (code, n) in e.stats.error_codes.lock().iter() {
                let _ = write!(t, "errorstat_{code}:count={n}\r\n");
            }
        }
        "cluster" => t.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "commandstats" => {
            t.push_str("# Commandstats\r\n");
            for (id, name) in sorted_commands(e) {
                let s = e.cmdstats.totals(id);
                if s.calls == 0 && s.failed == 0 && s.rejected == 0 {
                    continue;
                }
                let per_call = if s.calls == 0 {
                    0.0
                } else {
                    s.usec as f64 / s.calls as f64
                };
                let _ = write!(
                    t,
                    "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                    s.calls, s.usec, s.rejected, s.failed
                );
            }
        }
        "latencystats" => {
            t.push_str("# Latencystats\r\n");
            let wanted = latency_percentiles(e);
            for (id, name) in sorted_commands(e) {
                let Some(values) = e.cmdstats.percentiles(id, &wanted) else {
                    continue;
                };
                let fields: Vec<String> = wanted
                    .iter()
                    .zip(values)
                    .map(|(p, v)| format!("p{}={v:.3}", trim_double(*p)))
                    .collect();
                let _ = write!(
                    t,
                    "latency_percentiles_usec_{name}:{}\r\n",
                    fields.join(",")
                );
            }
        }
        "keyspace" => {
            t.push_str("# Keyspace\r\n");
            for db in 0..e.keyspace.db_count() {
                let (keys, expires) = e.db_sizes(db);
                if keys > 0 {
                    let avg = e.stats.avg_ttl[db].load(Relaxed);
                    let _ = write!(t, "db{db}:keys={keys},expires={expires},avg_ttl={avg}\r\n");
                }
            }
        }
        _ => {}
    }
}

/// Every command and subcommand as `(id, full name)`, by name.
pub(crate) fn sorted_commands(e: &ferrokv_core::Engine) -> Vec<(usize, &'static str)> {
    let mut v: Vec<(usize, &'static str)> =
        e.registry.names().iter().copied().enumerate().collect();
    v.sort_by_key(|&(_, n)| n);
    v
}

/// The percentiles INFO latencystats reports (latency-tracking-info-percentiles).
fn latency_percentiles(e: &ferrokv_core::Engine) -> Vec<f64> {
    e.config
        .string(ferrokv_core::config::P::LatencyTrackingInfoPercentiles)
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok())
        .collect()
}

/// A percentile as Redis prints it in a field name: `%f` without trailing zeros
/// (`50`, `99.9`).
fn trim_double(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// `a / b`, 0 when `b` is 0.
pub(crate) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn uname() -> String {
    let mut u = std::mem::MaybeUninit::<libc::utsname>::zeroed();
    // SAFETY: uname fills the struct it is given.
    if unsafe { libc::uname(u.as_mut_ptr()) } != 0 {
        return "Linux".into();
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { u.assume_init() };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}
