//! Configuration parameters: one table of every parameter ferrokv implements (name,
//! alias, type, default, whether it can change at runtime), shared by the config
//! file parser, command-line options, CONFIG GET / SET / RESETSTAT and the code that
//! reads them. Numeric values live in atomics so hot paths read them without locks.

pub mod accepted;
pub mod file;
pub mod rewrite;

use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::RwLock;

use crate::glob::glob_match;

/// The type of a parameter's value, with its validation rule.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// An integer within bounds.
    Int(i64, i64),
    /// A byte count with optional unit (`1gb`, `100mb`, `1k`), within bounds.
    Memory(i64, i64),
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// Redis's multi-argument enum: words separated by spaces, each one of the
    /// listed names; the first name is 0 and names the empty set, the others are
    /// bits 1, 2, 4, ... in list order (the shutdown-on-sig* flags).
    Flags(&'static [&'static str]),
    /// Free text.
    Str,
    /// `save`: pairs of seconds and changes, or empty.
    Save,
    /// `bind`: one or more addresses.
    Bind,
    /// Free text of one or more words (multi-argument directives ferrokv only
    /// stores, such as `client-output-buffer-limit`).
    Words,
    /// `notify-keyspace-events`: class characters; the number is the flag set.
    KeyspaceEvents,
    /// `client-output-buffer-limit`: groups of `<class> <hard> <soft> <seconds>`;
    /// a set changes only the classes it names (see [`ObufLimits`]).
    ObufLimits,
}

/// One parameter.
#[derive(Debug)]
pub struct ParamDef {
    /// Canonical name.
    pub name: &'static str,
    /// Old name still accepted (Redis keeps the `ziplist` names as aliases).
    pub alias: Option<&'static str>,
    /// Type and bounds.
    pub kind: Kind,
    /// Default, as CONFIG GET shows it.
    pub default: &'static str,
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
}

macro_rules! params {
    ($($id:ident: $name:literal $(/ $alias:literal)?, $kind:expr, $default:literal, $mutable:expr;)*) => {
        /// Parameter handles, in table order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum P { $($id,)* }

        /// The parameter table.
        pub static PARAMS: &[ParamDef] = &[
            $(ParamDef { name: $name, alias: params!(@alias $($alias)?), kind: $kind, default: $default, mutable: $mutable },)*
        ];
    };
    (@alias $a:literal) => { Some($a) };
    (@alias) => { None };
}

const YES: bool = true;
const NO: bool = false;
/// SHUTDOWN's options as shutdown-on-sigint / -sigterm name them: bit values
/// save 1, nosave 2, now 4, force 8 (Redis's SHUTDOWN_* flags).
pub const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];
const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

params! {
    Port: "port", Kind::Int(0, 65535), "6379", YES;
    Bind: "bind", Kind::Bind, "* -::*", YES;
    ProtectedMode: "protected-mode", Kind::Bool, "yes", YES;
    TcpBacklog: "tcp-backlog", Kind::Int(0, i32::MAX as i64), "511", NO;
    Unixsocket: "unixsocket", Kind::Str, "", NO;
    Unixsocketperm: "unixsocketperm", Kind::Int(0, 0o777), "0", NO;
    Timeout: "timeout", Kind::Int(0, i32::MAX as i64), "0", YES;
    TcpKeepalive: "tcp-keepalive", Kind::Int(0, i32::MAX as i64), "300", YES;
    Databases: "databases", Kind::Int(1, i32::MAX as i64), "16", NO;
    Requirepass: "requirepass", Kind::Str, "", YES;
    Aclfile: "aclfile", Kind::Str, "", NO;
    AclPubsubDefault: "acl-pubsub-default", Kind::Enum(&["allchannels", "resetchannels"]), "resetchannels", YES;
    AcllogMaxLen: "acllog-max-len", Kind::Int(0, i64::MAX), "128", YES;
    Maxclients: "maxclients", Kind::Int(1, i32::MAX as i64), "10000", YES;
    Loglevel: "loglevel", Kind::Enum(&["debug", "verbose", "notice", "warning"]), "notice", YES;
    Logfile: "logfile", Kind::Str, "", NO;
    SyslogEnabled: "syslog-enabled", Kind::Bool, "no", NO;
    SyslogIdent: "syslog-ident", Kind::Str, "redis", NO;
    SyslogFacility: "syslog-facility", Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0", NO;
    // ferrokv's own: the Prometheus endpoint (`server/src/metrics.rs`), off at 0.
    MetricsPort: "metrics-port", Kind::Int(0, 65535), "0", YES;
    MetricsBind: "metrics-bind", Kind::Str, "127.0.0.1", YES;
    Daemonize: "daemonize", Kind::Bool, "no", NO;
    AlwaysShowLogo: "always-show-logo", Kind::Bool, "no", NO;
    CrashLogEnabled: "crash-log-enabled", Kind::Bool, "yes", YES;
    Pidfile: "pidfile", Kind::Str, "", NO;
    Dir: "dir", Kind::Str, "", YES;
    Dbfilename: "dbfilename", Kind::Str, "dump.rdb", YES;
    Save: "save", Kind::Save, "3600 1 300 100 60 10000", YES;
    Appendonly: "appendonly", Kind::Bool, "no", YES;
    Appendfilename: "appendfilename", Kind::Str, "appendonly.aof", NO;
    Appenddirname: "appenddirname", Kind::Str, "appendonlydir", NO;
    Appendfsync: "appendfsync", Kind::Enum(&["always", "everysec", "no"]), "everysec", YES;
    AofLoadTruncated: "aof-load-truncated", Kind::Bool, "yes", YES;
    AofUseRdbPreamble: "aof-use-rdb-preamble", Kind::Bool, "yes", YES;
    AofTimestampEnabled: "aof-timestamp-enabled", Kind::Bool, "no", YES;
    AofRewriteIncrementalFsync: "aof-rewrite-incremental-fsync", Kind::Bool, "yes", YES;
    AutoAofRewritePercentage: "auto-aof-rewrite-percentage", Kind::Int(0, i32::MAX as i64), "100", YES;
    AutoAofRewriteMinSize: "auto-aof-rewrite-min-size", Kind::Memory(0, i64::MAX), "67108864", YES;
    Rdbcompression: "rdbcompression", Kind::Bool, "yes", YES;
    Rdbchecksum: "rdbchecksum", Kind::Bool, "yes", YES;
    StopWritesOnBgsaveError: "stop-writes-on-bgsave-error", Kind::Bool, "yes", YES;
    ProtoMaxBulkLen: "proto-max-bulk-len", Kind::Memory(1024 * 1024, i64::MAX), "536870912", YES;
    ClientQueryBufferLimit: "client-query-buffer-limit", Kind::Memory(1024 * 1024, i64::MAX), "1073741824", YES;
    Hz: "hz", Kind::Int(0, i32::MAX as i64), "10", YES;
    Maxmemory: "maxmemory", Kind::Memory(0, i64::MAX), "0", YES;
    MaxmemoryPolicy: "maxmemory-policy", Kind::Enum(MAXMEMORY_POLICIES), "noeviction", YES;
    MaxmemorySamples: "maxmemory-samples", Kind::Int(1, i32::MAX as i64), "5", YES;
    MaxmemoryEvictionTenacity: "maxmemory-eviction-tenacity", Kind::Int(0, 100), "10", YES;
    LfuLogFactor: "lfu-log-factor", Kind::Int(0, i32::MAX as i64), "10", YES;
    LfuDecayTime: "lfu-decay-time", Kind::Int(0, i32::MAX as i64), "1", YES;
    ActiveExpireEffort: "active-expire-effort", Kind::Int(1, 10), "1", YES;
    LazyfreeLazyServerDel: "lazyfree-lazy-server-del", Kind::Bool, "no", YES;
    LazyfreeLazyUserDel: "lazyfree-lazy-user-del", Kind::Bool, "no", YES;
    LazyfreeLazyUserFlush: "lazyfree-lazy-user-flush", Kind::Bool, "no", YES;
    LazyfreeLazyExpire: "lazyfree-lazy-expire", Kind::Bool, "no", YES;
    LazyfreeLazyEviction: "lazyfree-lazy-eviction", Kind::Bool, "no", YES;
    ListMaxListpackSize: "list-max-listpack-size" / "list-max-ziplist-size", Kind::Int(i32::MIN as i64, i32::MAX as i64), "-2", YES;
    ListCompressDepth: "list-compress-depth", Kind::Int(0, i32::MAX as i64), "0", YES;
    HashMaxListpackEntries: "hash-max-listpack-entries" / "hash-max-ziplist-entries", Kind::Int(0, i64::MAX), "512", YES;
    HashMaxListpackValue: "hash-max-listpack-value" / "hash-max-ziplist-value", Kind::Memory(0, i64::MAX), "64", YES;
    SetMaxIntsetEntries: "set-max-intset-entries", Kind::Int(0, i64::MAX), "512", YES;
    ZsetMaxListpackEntries: "zset-max-listpack-entries" / "zset-max-ziplist-entries", Kind::Int(0, i64::MAX), "128", YES;
    ZsetMaxListpackValue: "zset-max-listpack-value" / "zset-max-ziplist-value", Kind::Memory(0, i64::MAX), "64", YES;
    HllSparseMaxBytes: "hll-sparse-max-bytes", Kind::Memory(0, i64::MAX), "3000", YES;
    StreamNodeMaxBytes: "stream-node-max-bytes", Kind::Memory(0, i64::MAX), "4096", YES;
    StreamNodeMaxEntries: "stream-node-max-entries", Kind::Int(0, i64::MAX), "100", YES;
    NotifyKeyspaceEvents: "notify-keyspace-events", Kind::KeyspaceEvents, "", YES;
    ClientOutputBufferLimit: "client-output-buffer-limit", Kind::ObufLimits, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", YES;
    TrackingTableMaxKeys: "tracking-table-max-keys", Kind::Int(0, i64::MAX), "1000000", YES;
    BusyReplyThreshold: "busy-reply-threshold" / "lua-time-limit", Kind::Int(0, i64::MAX), "5000", YES;
    LatencyTracking: "latency-tracking", Kind::Bool, "yes", YES;
    SlowlogLogSlowerThan: "slowlog-log-slower-than", Kind::Int(-1, i64::MAX), "10000", YES;
    SlowlogMaxLen: "slowlog-max-len", Kind::Int(0, i64::MAX), "128", YES;
    LatencyMonitorThreshold: "latency-monitor-threshold", Kind::Int(0, i64::MAX), "0", YES;
    LatencyTrackingInfoPercentiles: "latency-tracking-info-percentiles", Kind::Words, "50 99 99.9", YES;
    IoThreads: "io-threads", Kind::Int(1, 128), "1", NO;
    ShutdownOnSigint: "shutdown-on-sigint", Kind::Flags(SHUTDOWN_FLAGS), "default", YES;
    ShutdownOnSigterm: "shutdown-on-sigterm", Kind::Flags(SHUTDOWN_FLAGS), "default", YES;
    ShutdownTimeout: "shutdown-timeout", Kind::Int(0, i32::MAX as i64), "10", YES;
    EnableDebugCommand: "enable-debug-command", Kind::Enum(&["yes", "no", "local"]), "no", NO;
    EnableProtectedConfigs: "enable-protected-configs", Kind::Enum(&["yes", "no", "local"]), "no", NO;
    TlsPort: "tls-port", Kind::Int(0, 65535), "0", YES;
    TlsCertFile: "tls-cert-file", Kind::Str, "", YES;
    TlsKeyFile: "tls-key-file", Kind::Str, "", YES;
    TlsKeyFilePass: "tls-key-file-pass", Kind::Str, "", YES;
    TlsClientCertFile: "tls-client-cert-file", Kind::Str, "", YES;
    TlsClientKeyFile: "tls-client-key-file", Kind::Str, "", YES;
    TlsClientKeyFilePass: "tls-client-key-file-pass", Kind::Str, "", YES;
    TlsDhParamsFile: "tls-dh-params-file", Kind::Str, "", YES;
    TlsCaCertFile: "tls-ca-cert-file", Kind::Str, "", YES;
    TlsCaCertDir: "tls-ca-cert-dir", Kind::Str, "", YES;
    TlsAuthClients: "tls-auth-clients", Kind::Enum(&["no", "yes", "optional"]), "yes", YES;
    TlsProtocols: "tls-protocols", Kind::Str, "", YES;
    TlsCiphers: "tls-ciphers", Kind::Str, "", YES;
    TlsCiphersuites: "tls-ciphersuites", Kind::Str, "", YES;
    TlsPreferServerCiphers: "tls-prefer-server-ciphers", Kind::Bool, "no", YES;
    TlsSessionCaching: "tls-session-caching", Kind::Bool, "yes", YES;
    TlsSessionCacheSize: "tls-session-cache-size", Kind::Int(0, i32::MAX as i64), "20480", YES;
    TlsSessionCacheTimeout: "tls-session-cache-timeout", Kind::Int(0, i32::MAX as i64), "300", YES;
    TlsReplication: "tls-replication", Kind::Bool, "no", YES;
    TlsCluster: "tls-cluster", Kind::Bool, "no", YES;
}

/// Test-only parameters `CONFIG GET` lists only when named exactly.
const HIDDEN: &[&str] = &[
    "use-exit-on-panic",
    "rdb-key-save-delay",
    "key-load-delay",
    "watchdog-period",
    "loading-process-events-interval-bytes",
];

/// Parameters CONFIG SET refuses unless `enable-protected-configs` allows it (they
/// can make the server write files anywhere).
pub const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// The group a parameter is applied with after a CONFIG SET, once for all of its
/// parameters (Redis's shared apply function): `tls` rebuilds the TLS context from
/// every tls-* setting, so a certificate and its key can change together.
/// `tls-port` binds (its own step) and `tls-auth-clients` is read per connection.
pub fn apply_group(name: &str) -> Option<&'static str> {
    match name {
        "tls-port" | "tls-auth-clients" => None,
        n if n.starts_with("tls-") => Some("tls"),
        _ => None,
    }
}

/// Redis's VOLATILE_CONFIG: files whose content may change under the same name,
/// so CONFIG SET applies them even when the value is unchanged.
pub fn is_volatile(name: &str) -> bool {
    matches!(
        name,
        "tls-cert-file"
            | "tls-key-file"
            | "tls-client-cert-file"
            | "tls-client-key-file"
            | "tls-dh-params-file"
            | "tls-ca-cert-file"
            | "tls-ca-cert-dir"
    )
}

/// Every configuration directive Redis 7.0 accepts. A config file may use any of them;
/// those not in [`PARAMS`] are reported and skipped instead of aborting startup.
pub const REDIS_DIRECTIVES: &str = include_str!("../../data/redis-7.0.15-config-names.txt");

/// The live configuration.
pub struct Config {
    strings: Vec<RwLock<String>>,
    numbers: Vec<AtomicI64>,
}

/// Why a value was refused: the text after `... - ` in Redis's CONFIG SET error.
pub type Refusal = String;

/// Every parameter: the implemented ones ([`PARAMS`], indexed by [`P`]), then the
/// accepted-only ones ([`accepted::ACCEPTED`]).
fn all_params() -> impl Iterator<Item = &'static ParamDef> {
    PARAMS.iter().chain(accepted::ACCEPTED.iter())
}

/// The parameter at `index` of [`Config::find`].
pub fn param(index: usize) -> &'static ParamDef {
    match PARAMS.get(index) {
        Some(p) => p,
        None => &accepted::ACCEPTED[index - PARAMS.len()],
    }
}

impl Default for Config {
    fn default() -> Self {
        let cfg = Config {
            strings: all_params()
                .map(|p| RwLock::new(p.default.to_string()))
                .collect(),
            numbers: all_params().map(|_| AtomicI64::new(0)).collect(),
        };
        for (i, p) in all_params().enumerate() {
            if let Ok((_, n)) = normalize(p, p.default) {
                cfg.numbers[i].store(n, Ordering::Relaxed);
            }
        }
        cfg
    }
}

/// Parses a memory value as Redis's `memtoull`: digits with optional k, kb, m, mb,
/// g, gb (k = 1000, kb = 1024), any case. No sign; no digits at all reads as 0
/// (strtoull of an empty string), so "" and "kb" are 0; too many digits saturate
/// (strtoull's ERANGE is not an error there) and the unit multiplies with
/// wrap-around, as in Redis: the caller's range check then refuses the value.
pub fn parse_memory(s: &str) -> Option<u64> {
    if s.starts_with('-') {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    // Redis copies the digits into a 128-byte buffer first.
    if num.len() >= 128 {
        return None;
    }
    let n: u64 = if num.is_empty() {
        0
    } else {
        num.parse().unwrap_or(u64::MAX)
    };
    Some(n.wrapping_mul(mul))
}

/// Validates `value` for `p`; returns the canonical text and the numeric form.
fn normalize(p: &ParamDef, value: &str) -> Result<(String, i64), Refusal> {
    match p.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok(("yes".into(), 1)),
            "no" => Ok(("no".into(), 0)),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let n: i64 = crate::args::parse_i64(value.as_bytes())
                .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok((n.to_string(), n))
        }
        Kind::Memory(min, max) => {
            let n =
                parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
            // The bounds of memory parameters are never negative.
            if n < min.max(0) as u64 || n > max.max(0) as u64 {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok((n.to_string(), n as i64))
        }
        Kind::Enum(words) => {
            let lower = value.to_ascii_lowercase();
            match words.iter().position(|w| *w == lower) {
                Some(i) => Ok((lower, i as i64)),
                None => Err(format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                )),
            }
        }
        Kind::Flags(words) => {
            let refuse = || {
                format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                )
            };
            // Split on single spaces, as Redis does: an empty word is refused.
            let mut bits = 0i64;
            for word in value.split(' ') {
                let lower = word.to_ascii_lowercase();
                let i = words.iter().position(|w| *w == lower).ok_or_else(refuse)?;
                if i > 0 {
                    bits |= 1 << (i - 1);
                }
            }
            if words == SHUTDOWN_FLAGS && bits & 3 == 3 {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            // Shown as Redis shows it: the names of the set bits in list order.
            let names: Vec<&str> = (1..words.len())
                .filter(|i| bits & (1 << (i - 1)) != 0)
                .map(|i| words[i])
                .collect();
            let text = if names.is_empty() {
                words[0].to_string()
            } else {
                names.join(" ")
            };
            Ok((text, bits))
        }
        Kind::Str => Ok((value.to_string(), 0)),
        Kind::Save => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) {
                return Err("Invalid save parameters".into());
            }
            for part in &parts {
                if part.parse::<u64>().is_err() {
                    return Err("Invalid save parameters".into());
                }
            }
            Ok((parts.join(" "), 0))
        }
        Kind::KeyspaceEvents => match crate::notify::parse_flags(value) {
            Some(flags) => Ok((crate::notify::format_flags(flags), i64::from(flags))),
            None => Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        },
        Kind::ObufLimits => {
            let limits = ObufLimits::parse(p.default).unwrap_or_default();
            Ok((limits.updated(value)?.to_string(), 0))
        }
        Kind::Bind => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            // No address at all is allowed: nothing listens on TCP.
            if parts.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            Ok((parts.join(" "), 0))
        }
        // One score per process class (master, replica, background child).
        Kind::Words if p.name == "oom-score-adj-values" => {
            let words: Vec<&str> = value.split_whitespace().collect();
            if words.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut shown = Vec::with_capacity(3);
            for w in words {
                // strtoll's syntax: an optional sign, digits.
                let v = w
                    .parse::<i64>()
                    .ok()
                    .filter(|v| (-2000..=2000).contains(v))
                    .ok_or_else(|| {
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .to_string()
                    })?;
                shown.push(v.to_string());
            }
            Ok((shown.join(" "), 0))
        }
        // Percentiles between 0 and 100, shown as `%f` without trailing zeros.
        Kind::Words if p.name == "latency-tracking-info-percentiles" => {
            let words: Vec<&str> = value.split_whitespace().collect();
            let mut shown = Vec::with_capacity(words.len());
            for w in words {
                let v = crate::args::parse_f64(w.as_bytes()).ok_or_else(|| {
                    "Invalid latency-tracking-info-percentiles parameters".to_string()
                })?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(
                        "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                            .into(),
                    );
                }
                let s = format!("{v:.6}");
                shown.push(s.trim_end_matches('0').trim_end_matches('.').to_string());
            }
            Ok((shown.join(" "), 0))
        }
        // A memory value or a percentage of maxmemory (Redis's PERCENT_CONFIG).
        Kind::Words if p.name == "maxmemory-clients" => match value.strip_suffix('%') {
            Some(pct) => match pct.parse::<i64>() {
                Ok(n) if n > 100 => Err("percentage argument must be less or equal to 100".into()),
                Ok(n) if n >= 0 => Ok((format!("{n}%"), -n)),
                _ => Err("argument must be a memory or percent value".into()),
            },
            None => parse_memory(value)
                .map(|n| (n.to_string(), n as i64))
                .ok_or_else(|| "argument must be a memory or percent value".to_string()),
        },
        Kind::Words => Ok((value.split_whitespace().collect::<Vec<_>>().join(" "), 0)),
    }
}

/// The output-buffer limit of one client class: a client whose pending output
/// reaches `hard` bytes, or stays at or above `soft` bytes for more than
/// `soft_seconds`, is closed (0: no such limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObufLimit {
    /// Hard limit in bytes.
    pub hard: u64,
    /// Soft limit in bytes.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit`: one [`ObufLimit`] per class, indexed as
/// Redis's CLIENT_TYPE_* (normal 0, slave/replica 1, pubsub 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObufLimits(pub [ObufLimit; 3]);

impl ObufLimits {
    /// The normal class.
    pub const NORMAL: usize = 0;
    /// The replica class (`slave` in CONFIG GET).
    pub const REPLICA: usize = 1;
    /// The pubsub class.
    pub const PUBSUB: usize = 2;

    /// Parses the full text CONFIG GET shows.
    pub fn parse(text: &str) -> Option<ObufLimits> {
        ObufLimits::default().updated(text).ok()
    }

    /// These limits with the classes `value` names replaced, validated as Redis's
    /// updateClientOutputBufferLimit: a multiple of four words, known classes
    /// (not master), memory values, non-negative seconds; all or nothing.
    pub fn updated(mut self, value: &str) -> Result<ObufLimits, Refusal> {
        let words: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = self.0;
        for group in words.chunks(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => Self::NORMAL,
                "slave" | "replica" => Self::REPLICA,
                "pubsub" => Self::PUBSUB,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad = || {
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    .to_string()
            };
            let hard = parse_memory(group[1]).ok_or_else(bad)?;
            let soft = parse_memory(group[2]).ok_or_else(bad)?;
            // strtoll with nothing left over, into an int.
            let secs = group[3];
            let digits = secs.strip_prefix(['-', '+']).unwrap_or(secs);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let seconds = secs.parse::<i64>().map_err(|_| bad())? as i32;
            if seconds < 0 {
                return Err(bad());
            }
            next[class] = ObufLimit {
                hard,
                soft,
                soft_seconds: seconds as u64,
            };
        }
        self.0 = next;
        Ok(self)
    }
}

impl std::fmt::Display for ObufLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, l)) in ["normal", "slave", "pubsub"]
            .iter()
            .zip(&self.0)
            .enumerate()
        {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name} {} {} {}", l.hard, l.soft, l.soft_seconds)?;
        }
        Ok(())
    }
}

/// A parameter read by name on a hot path: its index is looked up once.
pub struct Named {
    name: &'static str,
    index: std::sync::OnceLock<Option<usize>>,
}

impl Named {
    pub const fn new(name: &'static str) -> Named {
        Named {
            name,
            index: std::sync::OnceLock::new(),
        }
    }
}

impl Config {
    /// Finds a parameter by name or alias (any case); the index is the one
    /// [`param`] takes.
    pub fn find(name: &str) -> Option<(usize, &'static ParamDef)> {
        // A map of the lower-case names and aliases, built once: lookups by name
        // run on hot paths (min-replicas-to-write at every write while replicas
        // are attached), where scanning the table cost 15% of a master's CPU.
        static INDEX: std::sync::OnceLock<std::collections::HashMap<String, usize>> =
            std::sync::OnceLock::new();
        let index = INDEX.get_or_init(|| {
            let mut m = std::collections::HashMap::new();
            for (i, p) in all_params().enumerate() {
                for n in std::iter::once(p.name).chain(p.alias) {
                    m.entry(n.to_ascii_lowercase()).or_insert(i);
                }
            }
            m
        });
        let i = match index.get(name) {
            Some(&i) => i,
            None if name.bytes().any(|b| b.is_ascii_uppercase()) => {
                *index.get(&name.to_ascii_lowercase())?
            }
            None => return None,
        };
        Some((i, param(i)))
    }

    /// The numeric value (ints, memory, bools as 0/1, enums as index).
    #[inline]
    pub fn int(&self, p: P) -> i64 {
        self.numbers[p as usize].load(Ordering::Relaxed)
    }

    /// Boolean value.
    #[inline]
    pub fn bool(&self, p: P) -> bool {
        self.int(p) != 0
    }

    /// The text value.
    pub fn string(&self, p: P) -> String {
        self.strings[p as usize].read().clone()
    }

    /// The numeric value of a parameter without a [`P`] variant, its index found
    /// by name the first time only (for hot paths; 0 for an unknown name).
    pub fn int_of(&self, p: &Named) -> i64 {
        p.index
            .get_or_init(|| Self::find(p.name).map(|(i, _)| i))
            .map_or(0, |i| self.numbers[i].load(Ordering::Relaxed))
    }

    /// The numeric value of a parameter by name (accepted-only ones included; 0
    /// for an unknown name). A hash of the name each time: see [`Config::int_of`]
    /// for hot paths.
    pub fn int_named(&self, name: &str) -> i64 {
        Self::find(name).map_or(0, |(i, _)| self.numbers[i].load(Ordering::Relaxed))
    }

    /// The text value of a parameter by name ("" for an unknown name).
    pub fn string_named(&self, name: &str) -> String {
        Self::find(name).map_or_else(String::new, |(i, _)| self.strings[i].read().clone())
    }

    /// Sets a value from text after validating it; `startup` allows immutable ones.
    pub fn set(&self, name: &str, value: &str, startup: bool) -> Result<&'static str, Refusal> {
        let (i, p) = Self::find(name).ok_or_else(|| "unknown".to_string())?;
        if !p.mutable && !startup {
            return Err("can't set immutable config".into());
        }
        let n = if matches!(p.kind, Kind::ObufLimits) {
            // Only the classes named change (Redis's updateClientOutputBufferLimit).
            let mut current = self.strings[i].write();
            let merged = ObufLimits::parse(&current)
                .unwrap_or_default()
                .updated(value)?;
            *current = merged.to_string();
            0
        } else {
            let (text, n) = normalize(p, value)?;
            *self.strings[i].write() = text;
            n
        };
        self.numbers[i].store(n, Ordering::Relaxed);
        Ok(p.name)
    }

    /// `CONFIG GET` for one pattern: (name, value) pairs. An exact name or alias is
    /// answered under the name asked for; a glob matches names and aliases.
    pub fn get(&self, pattern: &str, out: &mut Vec<(String, String)>) {
        let is_glob = pattern.contains(['*', '?', '[']);
        for (i, p) in all_params().enumerate() {
            let value = || self.strings[i].read().clone();
            if is_glob && HIDDEN.contains(&p.name) {
                // Hidden from patterns, as Redis's HIDDEN_CONFIG.
                continue;
            }
            if is_glob {
                if glob_match(pattern.as_bytes(), p.name.as_bytes(), true) {
                    out.push((p.name.to_string(), value()));
                }
                if let Some(a) = p.alias {
                    if glob_match(pattern.as_bytes(), a.as_bytes(), true) {
                        out.push((a.to_string(), value()));
                    }
                }
            } else if p.name.eq_ignore_ascii_case(pattern) {
                out.push((p.name.to_string(), value()));
            } else if p.alias.is_some_and(|a| a.eq_ignore_ascii_case(pattern)) {
                out.push((p.alias.unwrap_or(p.name).to_string(), value()));
            }
        }
    }

    /// Whether `name` is a parameter ferrokv accepts but does not implement yet.
    pub fn is_accepted_only(name: &str) -> bool {
        Self::find(name)
            .is_some_and(|(i, p)| i >= PARAMS.len() && accepted::INERT.contains(&p.name))
    }

    /// Whether Redis 7.0 knows `name` as a directive.
    pub fn is_redis_directive(name: &str) -> bool {
        REDIS_DIRECTIVES
            .split_whitespace()
            .any(|d| d.eq_ignore_ascii_case(name))
            || [
                "include",
                "rename-command",
                "user",
                "loadmodule",
                "sentinel",
            ]
            .iter()
            .any(|d| d.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_set() {
        let c = Config::default();
        assert_eq!(c.int(P::Port), 6379);
        assert_eq!(c.int(P::ProtoMaxBulkLen), 512 * 1024 * 1024);
        assert!(c.bool(P::ProtectedMode));
        assert_eq!(c.set("hz", "100", false), Ok("hz"));
        assert_eq!(c.int(P::Hz), 100);
        assert_eq!(
            c.set("databases", "3", false),
            Err("can't set immutable config".into())
        );
        assert_eq!(c.set("maxmemory", "1gb", false), Ok("maxmemory"));
        assert_eq!(c.string(P::Maxmemory), "1073741824");
        assert!(c.set("loglevel", "loud", false).is_err());
        let mut out = Vec::new();
        c.get("hash-max-ziplist-entries", &mut out);
        assert_eq!(
            out,
            vec![("hash-max-ziplist-entries".to_string(), "512".to_string())]
        );
    }

    #[test]
    fn accepted_only_parameters() {
        // No parameter is in both tables (one moving to PARAMS leaves ACCEPTED).
        for a in accepted::ACCEPTED {
            assert!(
                !PARAMS
                    .iter()
                    .any(|p| p.name == a.name || Some(p.name) == a.alias),
                "{} is in both tables",
                a.name
            );
        }
        let c = Config::default();
        // Only the inert ones are reported as having no effect.
        assert!(Config::is_accepted_only("cluster-node-timeout"));
        assert!(!Config::is_accepted_only("repl-ping-slave-period"));
        assert!(!Config::is_accepted_only("replicaof"));
        assert!(!Config::is_accepted_only("hz"));
        for n in accepted::INERT {
            assert!(accepted::ACCEPTED.iter().any(|a| a.name == *n), "{n}");
        }
        assert_eq!(
            c.set("repl-ping-replica-period", "0", false),
            Err("argument must be between 1 and 2147483647 inclusive".into())
        );
        assert_eq!(c.set("activerehashing", "no", false), Ok("activerehashing"));
        let mut out = Vec::new();
        c.get("activerehashing", &mut out);
        assert_eq!(out, vec![("activerehashing".to_string(), "no".to_string())]);
        assert_eq!(
            c.set("oom-score-adj-values", "0 100  800", false),
            Ok("oom-score-adj-values")
        );
        out.clear();
        c.get("oom-score-adj-values", &mut out);
        assert_eq!(out[0].1, "0 100 800");
    }

    #[test]
    fn shutdown_flags_as_redis_shows_them() {
        let c = Config::default();
        assert_eq!(c.string(P::ShutdownOnSigterm), "default");
        assert_eq!(c.int(P::ShutdownOnSigterm), 0);
        for (set, shown, bits) in [
            ("nosave now", "nosave now", 6),
            ("force now save", "save now force", 13),
            ("SAVE NOW", "save now", 5),
            ("save save", "save", 1),
            ("default force", "force", 8),
            ("default default", "default", 0),
        ] {
            assert_eq!(
                c.set("shutdown-on-sigterm", set, false),
                Ok("shutdown-on-sigterm")
            );
            assert_eq!(c.string(P::ShutdownOnSigterm), shown, "{set}");
            assert_eq!(c.int(P::ShutdownOnSigterm), bits, "{set}");
        }
        let words = "argument(s) must be one of the following: default, save, nosave, now, force";
        for bad in ["", " save", "save  save", "bogus"] {
            assert_eq!(
                c.set("shutdown-on-sigint", bad, false),
                Err(words.into()),
                "{bad:?}"
            );
        }
        assert_eq!(
            c.set("shutdown-on-sigint", "save nosave", false),
            Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into())
        );
    }

    #[test]
    fn a_parameter_is_found_by_any_case_of_its_name_or_alias_as_by_a_scan() {
        for (i, p) in all_params().enumerate() {
            for n in std::iter::once(p.name).chain(p.alias) {
                // The first parameter that answers to the name, as a scan finds it.
                let first = all_params()
                    .position(|q| {
                        q.name.eq_ignore_ascii_case(n)
                            || q.alias.is_some_and(|a| a.eq_ignore_ascii_case(n))
                    })
                    .unwrap();
                assert!(first <= i);
                for name in [n.to_string(), n.to_ascii_uppercase()] {
                    assert_eq!(Config::find(&name).map(|(j, _)| j), Some(first), "{name}");
                }
            }
        }
        assert!(Config::find("no-such-parameter").is_none());
        assert_eq!(
            Config::find("Repl-Ping-Slave-Period").map(|(_, p)| p.name),
            Config::find("repl-ping-replica-period").map(|(_, p)| p.name)
        );
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("x"), None);
        // memtoull: no sign, and no digits read as 0.
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("+1"), None);
        assert_eq!(parse_memory(""), Some(0));
        assert_eq!(parse_memory("kb"), Some(0));
        assert_eq!(parse_memory("99999999999999999999"), Some(u64::MAX));
        assert_eq!(
            parse_memory("18446744073709551615kb"),
            Some(u64::MAX.wrapping_mul(1024))
        );
    }
}
