//! The Prometheus endpoint: `GET /metrics` on `metrics-port` (off at 0, the
//! default) and `metrics-bind`, in the Prometheus text exposition format 0.0.4.
//!
//! The names are redis_exporter's (oliver006/redis_exporter), so dashboards and
//! alerts written for Redis read ferrokv unchanged: a scrape reads `INFO
//! everything` as that exporter does and maps each field the way it maps them
//! (`used_memory` -> `redis_memory_used_bytes`, `cmdstat_get` ->
//! `redis_commands_total{cmd="get"}`, `db0` -> `redis_db_keys{db="db0"}`, ...).
//! Then ferrokv's own: commands per thread stripe, shard lock contention, and
//! per-command latency histograms from the latencystats histograms.
//!
//! The endpoint is a tokio task beside the listeners; a scrape builds its text on
//! a blocking-pool thread (`spawn_blocking`), so neither the request workers nor
//! the command path do anything for it. INFO's own costs apply: each shard lock is
//! taken alone and briefly to count keys.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use ferrokv_core::config::P;

use crate::state::ServerState;

/// The accept loops of the endpoint (replaced when metrics-port/-bind change).
static ACCEPT: Mutex<Vec<tokio::task::AbortHandle>> = Mutex::new(Vec::new());

/// Largest request head read (a scrape's is a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;

/// INFO fields exported as gauges, with redis_exporter's metric names (without
/// the `redis_` prefix).
const GAUGES: &[(&str, &str)] = &[
    ("uptime_in_seconds", "uptime_in_seconds"),
    ("process_id", "process_id"),
    ("connected_clients", "connected_clients"),
    ("blocked_clients", "blocked_clients"),
    ("tracking_clients", "tracking_clients"),
    (
        "client_recent_max_output_buffer",
        "client_recent_max_output_buffer_bytes",
    ),
    (
        "client_recent_max_input_buffer",
        "client_recent_max_input_buffer_bytes",
    ),
    ("allocator_active", "allocator_active_bytes"),
    ("allocator_allocated", "allocator_allocated_bytes"),
    ("allocator_resident", "allocator_resident_bytes"),
    ("allocator_frag_ratio", "allocator_frag_ratio"),
    ("allocator_frag_bytes", "allocator_frag_bytes"),
    ("allocator_rss_ratio", "allocator_rss_ratio"),
    ("allocator_rss_bytes", "allocator_rss_bytes"),
    ("used_memory", "memory_used_bytes"),
    ("used_memory_rss", "memory_used_rss_bytes"),
    ("used_memory_peak", "memory_used_peak_bytes"),
    ("used_memory_lua", "memory_used_lua_bytes"),
    ("used_memory_overhead", "memory_used_overhead_bytes"),
    ("used_memory_startup", "memory_used_startup_bytes"),
    ("used_memory_dataset", "memory_used_dataset_bytes"),
    ("used_memory_scripts", "memory_used_scripts_bytes"),
    ("maxmemory", "memory_max_bytes"),
    ("mem_fragmentation_ratio", "mem_fragmentation_ratio"),
    ("mem_fragmentation_bytes", "mem_fragmentation_bytes"),
    ("mem_clients_slaves", "mem_clients_slaves"),
    ("mem_clients_normal", "mem_clients_normal"),
    ("expired_stale_perc", "expired_stale_percentage"),
    (
        "mem_not_counted_for_evict",
        "mem_not_counted_for_eviction_bytes",
    ),
    ("lazyfree_pending_objects", "lazyfree_pending_objects"),
    ("active_defrag_running", "active_defrag_running"),
    ("migrate_cached_sockets", "migrate_cached_sockets_total"),
    ("active_defrag_hits", "defrag_hits"),
    ("active_defrag_misses", "defrag_misses"),
    ("active_defrag_key_hits", "defrag_key_hits"),
    ("active_defrag_key_misses", "defrag_key_misses"),
    (
        "expired_time_cap_reached_count",
        "expired_time_cap_reached_total",
    ),
    ("loading", "loading_dump_file"),
    ("rdb_changes_since_last_save", "rdb_changes_since_last_save"),
    ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress"),
    ("rdb_last_save_time", "rdb_last_save_timestamp_seconds"),
    ("rdb_last_bgsave_status", "rdb_last_bgsave_status"),
    ("rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_sec"),
    (
        "rdb_current_bgsave_time_sec",
        "rdb_current_bgsave_duration_sec",
    ),
    ("rdb_last_cow_size", "rdb_last_cow_size_bytes"),
    ("aof_enabled", "aof_enabled"),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress"),
    ("aof_rewrite_scheduled", "aof_rewrite_scheduled"),
    ("aof_last_rewrite_time_sec", "aof_last_rewrite_duration_sec"),
    (
        "aof_current_rewrite_time_sec",
        "aof_current_rewrite_duration_sec",
    ),
    ("aof_last_cow_size", "aof_last_cow_size_bytes"),
    ("aof_current_size", "aof_current_size_bytes"),
    ("aof_base_size", "aof_base_size_bytes"),
    ("aof_pending_rewrite", "aof_pending_rewrite"),
    ("aof_buffer_length", "aof_buffer_length"),
    ("aof_rewrite_buffer_length", "aof_rewrite_buffer_length"),
    ("aof_pending_bio_fsync", "aof_pending_bio_fsync"),
    ("aof_delayed_fsync", "aof_delayed_fsync"),
    ("aof_last_bgrewrite_status", "aof_last_bgrewrite_status"),
    ("aof_last_write_status", "aof_last_write_status"),
    ("module_fork_in_progress", "module_fork_in_progress"),
    ("module_fork_last_cow_size", "module_fork_last_cow_size"),
    ("pubsub_channels", "pubsub_channels"),
    ("pubsub_patterns", "pubsub_patterns"),
    ("latest_fork_usec", "latest_fork_usec"),
    ("connected_slaves", "connected_slaves"),
    ("repl_backlog_size", "replication_backlog_bytes"),
    ("repl_backlog_active", "repl_backlog_is_active"),
    (
        "repl_backlog_first_byte_offset",
        "repl_backlog_first_byte_offset",
    ),
    ("repl_backlog_histlen", "repl_backlog_history_bytes"),
    ("master_repl_offset", "master_repl_offset"),
    ("second_repl_offset", "second_repl_offset"),
    ("slave_expires_tracked_keys", "slave_expires_tracked_keys"),
    ("slave_priority", "slave_priority"),
    ("sync_full", "replica_resyncs_full"),
    ("sync_partial_ok", "replica_partial_resync_accepted"),
    ("sync_partial_err", "replica_partial_resync_denied"),
    // Counters that redis_exporter names without `_total`: a Prometheus counter
    // here would get the suffix, so they stay gauges to keep the names.
    ("unexpected_error_replies", "unexpected_error_replies"),
    ("total_error_replies", "total_error_replies"),
    ("total_reads_processed", "total_reads_processed"),
    ("total_writes_processed", "total_writes_processed"),
    ("io_threaded_reads_processed", "io_threaded_reads_processed"),
    (
        "io_threaded_writes_processed",
        "io_threaded_writes_processed",
    ),
    ("dump_payload_sanitizations", "dump_payload_sanitizations"),
];

/// INFO fields exported as counters (names without `redis_` and `_total`).
const COUNTERS: &[(&str, &str)] = &[
    ("total_connections_received", "connections_received"),
    ("total_commands_processed", "commands_processed"),
    ("rejected_connections", "rejected_connections"),
    ("total_net_input_bytes", "net_input_bytes"),
    ("total_net_output_bytes", "net_output_bytes"),
    ("expired_keys", "expired_keys"),
    ("evicted_keys", "evicted_keys"),
    ("keyspace_hits", "keyspace_hits"),
    ("keyspace_misses", "keyspace_misses"),
    ("used_cpu_sys", "cpu_sys_seconds"),
    ("used_cpu_user", "cpu_user_seconds"),
    ("used_cpu_sys_children", "cpu_sys_children_seconds"),
    ("used_cpu_user_children", "cpu_user_children_seconds"),
    ("used_cpu_sys_main_thread", "cpu_sys_main_thread_seconds"),
    ("used_cpu_user_main_thread", "cpu_user_main_thread_seconds"),
];

/// The `instance_info` labels, in redis_exporter's order.
const INSTANCE_LABELS: &[&str] = &[
    "role",
    "redis_version",
    "redis_build_id",
    "redis_mode",
    "os",
    "maxmemory_policy",
    "tcp_port",
    "run_id",
    "process_id",
];

/// A numeric INFO value as redis_exporter reads it: numbers, and the status
/// words (`ok`/`err`, `up`/`down`) as 1 and 0.
fn value(v: &str) -> Option<f64> {
    match v {
        "ok" | "true" | "up" => Some(1.0),
        "err" | "fail" | "false" | "down" => Some(0.0),
        _ => v.parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

/// `a=1,b=2` into pairs.
fn fields(v: &str) -> impl Iterator<Item = (&str, &str)> {
    v.split(',').filter_map(|kv| kv.split_once('='))
}

type Labels = Vec<(&'static str, String)>;

/// One metric family: name, help, type, and its samples.
struct Family {
    name: String,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, f64)>,
}

/// One histogram: labels, (upper bound, count in that bucket), sum, count.
type Histo = (Labels, Vec<(f64, u64)>, f64, u64);

/// What one scrape reports, gathered from the server before encoding.
struct Scrape {
    families: Vec<Family>,
    histograms: Vec<(String, &'static str, Vec<Histo>)>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape")
            .field("families", &self.families.len())
            .finish()
    }
}

impl Scrape {
    fn family(&mut self, name: &str, help: &'static str, kind: MetricType) -> &mut Family {
        let name = format!("redis_{name}");
        let pos = match self.families.iter().position(|f| f.name == name) {
            Some(p) => p,
            None => {
                self.families.push(Family {
                    name,
                    help,
                    kind,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[pos]
    }

    fn add(&mut self, name: &str, help: &'static str, kind: MetricType, labels: Labels, v: f64) {
        self.family(name, help, kind).samples.push((labels, v));
    }

    fn gauge(&mut self, name: &str, help: &'static str, v: f64) {
        self.add(name, help, MetricType::Gauge, Vec::new(), v);
    }

    /// Reads the server: INFO, then ferrokv's own counters.
    fn take(st: &ServerState) -> Scrape {
        let mut s = Scrape {
            families: Vec::new(),
            histograms: Vec::new(),
        };
        let info = crate::info::everything(st);
        s.gauge("up", "Information about the Redis instance", 1.0);
        let mut all: BTreeMap<&str, &str> = BTreeMap::new();
        let mut section = "";
        let mut dbs_seen = Vec::new();
        for line in info.split("\r\n") {
            if let Some(name) = line.strip_prefix("# ") {
                section = name;
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            all.insert(k, v);
            match section {
                "Keyspace" => {
                    s.keyspace(k, v);
                    dbs_seen.push(k.to_string());
                    continue;
                }
                "Commandstats" => {
                    s.commandstat(k, v);
                    continue;
                }
                "Latencystats" => {
                    s.latencystat(k, v);
                    continue;
                }
                "Errorstats" => {
                    if let (Some(err), Some(n)) = (
                        k.strip_prefix("errorstat_"),
                        fields(v)
                            .find(|(f, _)| *f == "count")
                            .and_then(|(_, n)| value(n)),
                    ) {
                        s.add(
                            "errors",
                            "Total number of errors per error type",
                            MetricType::Counter,
                            vec![("err", err.to_string())],
                            n,
                        );
                    }
                    continue;
                }
                // Labelled replication fields are done; the others are plain gauges.
                "Replication" if s.replication(k, v, &all) => continue,
                _ => {}
            }
            if k == "uptime_in_seconds" {
                if let Some(up) = value(v) {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    s.gauge(
                        "start_time_seconds",
                        "Start time of the Redis instance since unix epoch in seconds.",
                        now as f64 - up,
                    );
                }
            }
            if let Some(&(_, name)) = GAUGES.iter().find(|(f, _)| *f == k) {
                if let Some(x) = value(v) {
                    s.gauge(name, "INFO field", x);
                }
            } else if let Some(&(_, name)) = COUNTERS.iter().find(|(f, _)| *f == k) {
                if let Some(x) = value(v) {
                    s.add(name, "INFO field", MetricType::Counter, Vec::new(), x);
                }
            }
        }
        // Every db up to `databases`, empty ones at 0, as redis_exporter does.
        for db in 0..st.engine.keyspace.db_count() {
            let name = format!("db{db}");
            if !dbs_seen.contains(&name) {
                s.db_keys(&name, 0.0, 0.0, None);
            }
        }
        let labels = INSTANCE_LABELS
            .iter()
            .map(|l| (*l, all.get(l).copied().unwrap_or("").to_string()))
            .collect();
        s.add(
            "instance_info",
            "Information about the Redis instance",
            MetricType::Gauge,
            labels,
            1.0,
        );
        if all.get("role") == Some(&"slave") {
            let labels = ["master_host", "master_port", "slave_read_only"]
                .iter()
                .map(|l| {
                    let key = if *l == "slave_read_only" {
                        "read_only"
                    } else {
                        l
                    };
                    (key, all.get(l).copied().unwrap_or("").to_string())
                })
                .collect();
            s.add(
                "slave_info",
                "Information about the Redis slave",
                MetricType::Gauge,
                labels,
                1.0,
            );
        }
        s.config_and_logs(st);
        s.ferrokv(st);
        s
    }

    fn db_keys(&mut self, db: &str, keys: f64, expires: f64, avg_ttl_ms: Option<f64>) {
        let l = || vec![("db", db.to_string())];
        self.add(
            "db_keys",
            "Total number of keys by DB",
            MetricType::Gauge,
            l(),
            keys,
        );
        self.add(
            "db_keys_expiring",
            "Total number of expiring keys by DB",
            MetricType::Gauge,
            l(),
            expires,
        );
        if let Some(ttl) = avg_ttl_ms {
            self.add(
                "db_avg_ttl_seconds",
                "Avg TTL in seconds",
                MetricType::Gauge,
                l(),
                ttl / 1000.0,
            );
        }
    }

    /// `db0:keys=1,expires=0,avg_ttl=0`.
    fn keyspace(&mut self, k: &str, v: &str) {
        let f: BTreeMap<&str, &str> = fields(v).collect();
        let num = |n: &str| f.get(n).and_then(|x| value(x));
        if let Some(keys) = num("keys") {
            self.db_keys(k, keys, num("expires").unwrap_or(0.0), num("avg_ttl"));
        }
    }

    /// `cmdstat_get:calls=2,usec=5,usec_per_call=2.50,rejected_calls=0,failed_calls=0`.
    fn commandstat(&mut self, k: &str, v: &str) {
        let Some(cmd) = k.strip_prefix("cmdstat_") else {
            return;
        };
        let f: BTreeMap<&str, &str> = fields(v).collect();
        let num = |n: &str| f.get(n).and_then(|x| value(x)).unwrap_or(0.0);
        let l = || vec![("cmd", cmd.to_string())];
        self.add(
            "commands",
            "Total number of calls per command",
            MetricType::Counter,
            l(),
            num("calls"),
        );
        self.add(
            "commands_duration_seconds",
            "Total amount of time in seconds spent per command",
            MetricType::Counter,
            l(),
            num("usec") / 1e6,
        );
        self.add(
            "commands_rejected_calls",
            "Total number of errors prior command execution per command",
            MetricType::Counter,
            l(),
            num("rejected_calls"),
        );
        self.add(
            "commands_failed_calls",
            "Total number of errors within command execution per command",
            MetricType::Counter,
            l(),
            num("failed_calls"),
        );
    }

    /// `latency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=5.023`:
    /// redis_exporter's summary, here as a gauge per quantile (the crate encodes
    /// no summaries; the series and labels are the same).
    fn latencystat(&mut self, k: &str, v: &str) {
        let Some(cmd) = k.strip_prefix("latency_percentiles_usec_") else {
            return;
        };
        for (p, x) in fields(v) {
            let (Some(q), Some(x)) = (p.strip_prefix('p'), value(x)) else {
                continue;
            };
            self.add(
                "latency_percentiles_usec",
                "A summary of latency percentile distribution per command",
                MetricType::Gauge,
                vec![("cmd", cmd.to_string()), ("quantile", q.to_string())],
                x,
            );
        }
    }

    /// The replication fields redis_exporter labels; true when handled.
    fn replication(&mut self, k: &str, v: &str, all: &BTreeMap<&str, &str>) -> bool {
        let master = || {
            vec![
                (
                    "master_host",
                    all.get("master_host").unwrap_or(&"").to_string(),
                ),
                (
                    "master_port",
                    all.get("master_port").unwrap_or(&"").to_string(),
                ),
            ]
        };
        match k {
            "master_link_status" => {
                let up = if v == "up" { 1.0 } else { 0.0 };
                self.add(
                    "master_link_up",
                    "Master link status on Redis slave",
                    MetricType::Gauge,
                    master(),
                    up,
                );
                return true;
            }
            "master_last_io_seconds_ago" | "slave_repl_offset" | "master_sync_in_progress" => {
                if let Some(x) = value(v) {
                    self.add(k, "Replica link field", MetricType::Gauge, master(), x);
                }
                return true;
            }
            _ => {}
        }
        // slave0:ip=...,port=...,state=online,offset=...,lag=0
        if k.starts_with("slave") && k[5..].bytes().all(|b| b.is_ascii_digit()) && k.len() > 5 {
            let f: BTreeMap<&str, &str> = fields(v).collect();
            let l = || {
                ["ip", "port", "state"]
                    .iter()
                    .zip(["slave_ip", "slave_port", "slave_state"])
                    .map(|(f_, name)| (name, f.get(f_).copied().unwrap_or("").to_string()))
                    .collect::<Labels>()
            };
            if let Some(off) = f.get("offset").and_then(|x| value(x)) {
                self.add(
                    "connected_slave_offset_bytes",
                    "Offset of connected slave",
                    MetricType::Gauge,
                    l(),
                    off,
                );
            }
            if let Some(lag) = f.get("lag").and_then(|x| value(x)) {
                self.add(
                    "connected_slave_lag_seconds",
                    "Lag of connected slave",
                    MetricType::Gauge,
                    l(),
                    lag,
                );
            }
            return true;
        }
        false
    }

    /// redis_exporter's CONFIG, SLOWLOG and LATENCY metrics.
    fn config_and_logs(&mut self, st: &ServerState) {
        let e = &st.engine;
        self.gauge(
            "config_maxclients",
            "config_maxclients",
            e.config.int(P::Maxclients) as f64,
        );
        self.gauge(
            "config_maxmemory",
            "config_maxmemory",
            e.config.int_named("maxmemory") as f64,
        );
        self.gauge("slowlog_length", "Total slowlog", e.slowlog.len() as f64);
        let last = e.slowlog.newest(1);
        let last_id = last.first().map_or(0, |en| en.id);
        self.gauge("slowlog_last_id", "Last id of slowlog", last_id as f64);
        for (event, time, ms, _max) in e.latency.latest_samples() {
            let l = || vec![("event_name", event.clone())];
            self.add(
                "latency_spike_last",
                "When the latency spike last occurred",
                MetricType::Gauge,
                l(),
                time as f64,
            );
            self.add(
                "latency_spike_duration_seconds",
                "Length of the last latency spike in seconds",
                MetricType::Gauge,
                l(),
                f64::from(ms) / 1000.0,
            );
        }
    }

    /// ferrokv's own: load per thread, shard lock contention, latency histograms.
    fn ferrokv(&mut self, st: &ServerState) {
        let e = &st.engine;
        let stripes = e.cmdstats.calls_per_stripe();
        let last = stripes.len().saturating_sub(1);
        let mut per_thread = Vec::new();
        for (i, n) in stripes.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let label = if i == last {
                "shared".to_string()
            } else {
                i.to_string()
            };
            per_thread.push((vec![("thread", label)], *n as f64));
        }
        self.families.push(Family {
            name: "ferrokv_thread_commands".into(),
            help: "Commands run per thread (stripe of the command statistics; 'shared' is the overflow stripe)",
            kind: MetricType::Counter,
            samples: per_thread,
        });
        self.families.push(Family {
            name: "ferrokv_worker_threads".into(),
            help: "Worker threads of the runtime",
            kind: MetricType::Gauge,
            samples: vec![(Vec::new(), st.threads as f64)],
        });
        self.families.push(Family {
            name: "ferrokv_shard_lock_contended".into(),
            help: "Shard lock acquisitions that found the lock held and waited",
            kind: MetricType::Counter,
            samples: vec![(Vec::new(), e.keyspace.contended() as f64)],
        });
        // LATENCY HISTOGRAM's buckets (powers of two from 1 µs, as Redis reports
        // them), every bucket present so that series stay stable between scrapes.
        let tops: Vec<u64> = (0..21u32)
            .map(|k| {
                let v = 1024u64 << k;
                (v + v / 128 - 1) / 1000
            })
            .collect();
        let mut histos = Vec::new();
        for (id, name) in crate::info::sorted_commands(e) {
            let Some((total, cdf)) = e.cmdstats.cdf(id) else {
                continue;
            };
            let mut buckets = Vec::with_capacity(tops.len());
            let mut prev = 0;
            for &top in &tops {
                let cum = cdf
                    .iter()
                    .take_while(|(t, _)| *t <= top)
                    .last()
                    .map_or(0, |(_, c)| *c)
                    .max(prev);
                buckets.push((top as f64, cum - prev));
                prev = cum;
            }
            let sum = e.cmdstats.totals(id).usec as f64;
            histos.push((vec![("cmd", name.to_string())], buckets, sum, total));
        }
        self.histograms.push((
            "redis_commands_latencies_usec".into(),
            "A histogram of latencies per command",
            histos,
        ));
    }
}

fn encode_value(
    mut enc: prometheus_client::encoding::MetricEncoder<'_>,
    kind: MetricType,
    v: f64,
) -> Result<(), std::fmt::Error> {
    match kind {
        MetricType::Counter => ConstCounter::new(v).encode(enc),
        _ => enc.encode_gauge(&v),
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let mut m = encoder.encode_descriptor(&f.name, f.help, None, f.kind)?;
            match f.samples.as_slice() {
                [(labels, v)] if labels.is_empty() => encode_value(m, f.kind, *v)?,
                samples => {
                    for (labels, v) in samples {
                        let fam = m.encode_family(labels)?;
                        encode_value(fam, f.kind, *v)?;
                    }
                }
            }
        }
        for (name, help, histos) in &self.histograms {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            for (labels, buckets, sum, count) in histos {
                let mut fam = m.encode_family(labels)?;
                fam.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    *sum, *count, buckets, None,
                )?;
            }
        }
        Ok(())
    }
}

/// The text of one scrape.
pub fn render(st: &ServerState) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape::take(st)));
    let mut out = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// Starts the endpoint when metrics-port is set (at startup, in the runtime).
pub fn start(st: &Arc<ServerState>) -> Result<(), String> {
    rebind(st)
}

/// Binds metrics-bind:metrics-port and serves there, replacing what served
/// before (CONFIG SET); port 0 turns the endpoint off.
pub fn rebind(st: &Arc<ServerState>) -> Result<(), String> {
    let port = st.engine.config.int(P::MetricsPort);
    // CONFIG SET runs on a worker; anything else has no runtime to serve from.
    let rt = tokio::runtime::Handle::try_current()
        .map_err(|_| "the metrics endpoint needs the server's runtime".to_string())?;
    let _in_runtime = rt.enter();
    let mut fresh = Vec::new();
    if port != 0 {
        let bind = st.engine.config.string(P::MetricsBind);
        let addrs: Vec<&str> = bind.split_whitespace().collect();
        let addrs = if addrs.is_empty() {
            vec!["127.0.0.1"]
        } else {
            addrs
        };
        for a in addrs {
            let addr = if a.contains(':') {
                format!("[{a}]:{port}")
            } else {
                format!("{a}:{port}")
            };
            let l = std::net::TcpListener::bind(&addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(TcpListener::from_std)
                .map_err(|e| format!("Failed listening on metrics port {port} ({a}): {e}"))?;
            fresh.push(l);
        }
    }
    let mut tasks = ACCEPT.lock();
    for t in tasks.drain(..) {
        t.abort();
    }
    for l in fresh {
        tracing::info!(
            "Prometheus metrics at http://{}/metrics",
            l.local_addr().map(|a| a.to_string()).unwrap_or_default()
        );
        tasks.push(rt.spawn(accept(l, st.clone())).abort_handle());
    }
    Ok(())
}

async fn accept(l: TcpListener, st: Arc<ServerState>) {
    loop {
        match l.accept().await {
            Ok((sock, _)) => {
                tokio::spawn(serve(sock, st.clone()));
            }
            Err(e) => {
                tracing::debug!("metrics accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One HTTP/1.x request, then the connection closes.
async fn serve(mut sock: TcpStream, st: Arc<ServerState>) {
    let mut head = Vec::with_capacity(512);
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            let n = sock.read(&mut buf).await?;
            if n == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
            head.extend_from_slice(&buf[..n]);
            if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
                return Ok(true);
            }
            if head.len() > MAX_HEAD {
                return Ok(false);
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), read).await {
        Ok(Ok(true)) => {}
        _ => return,
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let st2 = st.clone();
            let body = tokio::task::spawn_blocking(move || render(&st2))
                .await
                .unwrap_or_default();
            (
                "200 OK",
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                body,
            )
        }
        ("GET" | "HEAD", "/") => (
            "200 OK",
            "text/html; charset=utf-8",
            "<html><head><title>ferrokv</title></head><body><a href=\"/metrics\">Metrics</a></body></html>\n".to_string(),
        ),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "Not Found\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "Method Not Allowed\n".to_string(),
        ),
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        resp.extend_from_slice(body.as_bytes());
    }
    let _ = sock.write_all(&resp).await;
    let _ = sock.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_and_numbers() {
        assert_eq!(value("ok"), Some(1.0));
        assert_eq!(value("err"), Some(0.0));
        assert_eq!(value("12"), Some(12.0));
        assert_eq!(value("1.5"), Some(1.5));
        assert_eq!(value("abc"), None);
        assert_eq!(value("nan"), None);
    }

    #[test]
    fn commandstat_maps_to_exporter_names() {
        let mut s = Scrape {
            families: Vec::new(),
            histograms: Vec::new(),
        };
        s.commandstat(
            "cmdstat_get",
            "calls=3,usec=2000000,usec_per_call=1.00,rejected_calls=1,failed_calls=2",
        );
        s.keyspace("db0", "keys=5,expires=2,avg_ttl=3000");
        let mut reg = Registry::default();
        reg.register_collector(Box::new(s));
        let mut out = String::new();
        assert!(prometheus_client::encoding::prometheus_text::encode(&mut out, &reg).is_ok());
        assert!(out.contains("redis_commands_total{cmd=\"get\"} 3"), "{out}");
        assert!(out.contains("redis_commands_duration_seconds_total{cmd=\"get\"} 2"));
        assert!(out.contains("redis_commands_rejected_calls_total{cmd=\"get\"} 1"));
        assert!(out.contains("redis_commands_failed_calls_total{cmd=\"get\"} 2"));
        assert!(out.contains("redis_db_keys{db=\"db0\"} 5"));
        assert!(out.contains("redis_db_keys_expiring{db=\"db0\"} 2"));
        assert!(out.contains("redis_db_avg_ttl_seconds{db=\"db0\"} 3"));
    }
}
