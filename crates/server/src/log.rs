//! The server log, in Redis's format, fed by `tracing`.
//!
//! Every `tracing` event the server (or core) emits becomes one line
//! `pid:role dd Mon yyyy hh:mm:ss.mmm <c> message`, written to stdout or appended to
//! `logfile`, exactly as redis-server writes it: scripts and Redis's own test
//! harness wait for these lines (`Ready to accept connections`, `DB saved on disk`,
//! ...). Levels map onto Redis's `loglevel` names and marker characters:
//!
//! | tracing | loglevel | marker |
//! |---|---|---|
//! | TRACE | debug | `.` |
//! | DEBUG | verbose | `-` |
//! | INFO | notice | `*` |
//! | WARN, ERROR | warning | `#` |
//!
//! So the API is plain `tracing`: `tracing::info!("DB saved on disk")` logs a
//! notice line, `tracing::warn!` a warning; a `role` field gives one line another
//! role character (`tracing::info!(role = "C", "DB saved on disk")`: what Redis's
//! forked child would log, here from the saving thread). [`raw`] writes text with
//! no prefix (the start-up banner), [`set_role`] changes the role character of
//! every line (`M` master, `S` replica). `FERROKV_LOG` (an `EnvFilter` directive) adds
//! a second filter for debugging ferrokv itself.
//!
//! With `syslog-enabled yes` every line's message also goes to syslog, as
//! Redis's serverLogRaw sends it: an RFC 3164 datagram `<PRI>Mmm dd hh:mm:ss
//! ident[pid]: message` to `/dev/log` (what glibc's syslog(3) writes), with
//! `syslog-ident` and `syslog-facility`, and Redis's severities (debug: LOG_DEBUG,
//! verbose: LOG_INFO, notice: LOG_NOTICE, warning: LOG_WARNING). The
//! `FERROKV_SYSLOG_SOCKET` environment variable names another socket (tests).

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::OnceLock;

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::{filter::LevelFilter, reload, EnvFilter, Layer, Registry};

type Handle = reload::Handle<LevelFilter, Registry>;
static HANDLE: OnceLock<Handle> = OnceLock::new();
static SINK: OnceLock<Sink> = OnceLock::new();
static ROLE: AtomicU8 = AtomicU8::new(b'M');
static SYSLOG: OnceLock<Syslog> = OnceLock::new();

/// The syslog destination (syslog-enabled yes).
struct Syslog {
    sock: std::os::unix::net::UnixDatagram,
    path: std::path::PathBuf,
    ident: String,
    facility: u8,
}

impl Syslog {
    fn send(&self, severity: u8, msg: &str) {
        let mut line = String::with_capacity(32 + self.ident.len() + msg.len());
        let _ = write!(
            line,
            "<{}>",
            u16::from(self.facility) * 8 + u16::from(severity)
        );
        match local_time() {
            Some((tm, _)) => {
                let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
                let _ = write!(
                    line,
                    "{month} {:>2} {:02}:{:02}:{:02} ",
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
                );
            }
            None => line.push_str("Jan  1 00:00:00 "),
        }
        let _ = write!(line, "{}[{}]: {msg}", self.ident, std::process::id());
        // Like syslog(3): a full or missing log socket loses the line, never
        // blocks the server.
        let _ = self.sock.send_to(line.as_bytes(), &self.path);
    }
}

/// syslog-facility's number (LOG_USER, LOG_LOCAL0..7 divided by 8).
fn facility_code(name: &str) -> u8 {
    match name {
        "user" => 1,
        n => n
            .strip_prefix("local")
            .and_then(|d| d.parse::<u8>().ok())
            .filter(|d| *d <= 7)
            .map_or(16, |d| 16 + d),
    }
}

/// Sends every following line's message to syslog too (syslog-enabled yes).
pub fn init_syslog(ident: &str, facility: &str) -> std::io::Result<()> {
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    let path = std::env::var_os("FERROKV_SYSLOG_SOCKET")
        .map_or_else(|| "/dev/log".into(), std::path::PathBuf::from);
    let _ = SYSLOG.set(Syslog {
        sock,
        path,
        ident: ident.to_string(),
        facility: facility_code(facility),
    });
    Ok(())
}

/// Redis's syslog severities per tracing level.
fn severity(level: &Level) -> u8 {
    match *level {
        Level::TRACE => 7,
        Level::DEBUG => 6,
        Level::INFO => 5,
        _ => 4,
    }
}

fn level(name: &str) -> LevelFilter {
    match name {
        "debug" => LevelFilter::TRACE,
        "verbose" => LevelFilter::DEBUG,
        "warning" => LevelFilter::WARN,
        _ => LevelFilter::INFO,
    }
}

/// Where lines go. A log file is opened for each line, as Redis does, so a file
/// moved or deleted under the server (log rotation, a test) is simply recreated.
enum Sink {
    Stdout(Mutex<()>),
    File(String, Mutex<()>),
}

impl Sink {
    fn write(&self, bytes: &[u8]) {
        match self {
            Sink::Stdout(lock) => {
                let _g = lock.lock();
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes);
                let _ = out.flush();
            }
            Sink::File(path, lock) => {
                let _g = lock.lock();
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = f.write_all(bytes);
                }
            }
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The local time now, and the time since the epoch.
fn local_time() -> Option<(libc::tm, std::time::Duration)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes the tm we pass; a zeroed tm is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    ok.then_some((tm, now))
}

/// `dd Mon yyyy hh:mm:ss.mmm` in local time, as Redis's log prefix.
fn timestamp(out: &mut String) {
    let Some((tm, now)) = local_time() else {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let _ = write!(out, "{}.{:03}", now.as_secs(), now.subsec_millis());
        return;
    };
    let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
    let _ = write!(
        out,
        "{:02} {month} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    );
}

/// One log line as Redis formats it (without the newline), with the current
/// role or `role`.
pub fn format_line(marker: char, msg: &str, role: Option<u8>) -> String {
    let mut line = String::with_capacity(48 + msg.len());
    let role = role.unwrap_or_else(|| ROLE.load(Relaxed));
    let _ = write!(line, "{}:{} ", std::process::id(), role as char);
    timestamp(&mut line);
    let _ = write!(line, " {marker} {msg}");
    line
}

fn marker(level: &Level) -> char {
    match *level {
        Level::TRACE => '.',
        Level::DEBUG => '-',
        Level::INFO => '*',
        _ => '#',
    }
}

/// Collects an event's message (and any other fields, as `name=value`); a
/// `role` field sets the line's role character instead.
#[derive(Default)]
struct Message {
    text: String,
    role: Option<u8>,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.text.push_str(value),
            "role" => self.role = value.bytes().next(),
            name => {
                let _ = write!(self.text, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }
}

/// The tracing layer that writes Redis-format lines.
struct RedisFormat;

impl<S: Subscriber> Layer<S> for RedisFormat {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(sink) = SINK.get() else { return };
        let mut msg = Message::default();
        event.record(&mut msg);
        let level = event.metadata().level();
        let mut line = format_line(marker(level), &msg.text, msg.role);
        line.push('\n');
        sink.write(line.as_bytes());
        if let Some(s) = SYSLOG.get() {
            s.send(severity(level), &msg.text);
        }
    }
}

/// Starts logging at `loglevel` to stdout, or appending to `logfile` if not empty.
pub fn init(loglevel: &str, logfile: &str) -> std::io::Result<()> {
    use tracing_subscriber::prelude::*;
    let sink = if logfile.is_empty() {
        Sink::Stdout(Mutex::new(()))
    } else {
        // Fail at start-up, not silently at the first line, when it cannot be opened.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)?;
        Sink::File(logfile.to_string(), Mutex::new(()))
    };
    let _ = SINK.set(sink);
    let (filter, handle) = reload::Layer::new(level(loglevel));
    let _ = HANDLE.set(handle);
    let env = EnvFilter::try_from_env("FERROKV_LOG").ok();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(env)
        .with(RedisFormat)
        .try_init();
    Ok(())
}

/// Writes `text` as it is, with no prefix (Redis's LL_RAW), if logging is started.
pub fn raw(text: &str) {
    if let Some(sink) = SINK.get() {
        sink.write(text.as_bytes());
    }
}

/// The role character of every following line: `M` (master, the default), `S`
/// (replica), `X` (sentinel).
pub fn set_role(role: u8) {
    ROLE.store(role, Relaxed);
}

/// The start-up banner (shown with `always-show-logo yes`, or on a terminal). Its
/// lines carry what Redis's logo carries, which scripts and Redis's test harness
/// read: the version, the mode, `Port: N` and `PID: N`.
pub fn banner(version: &str, redis_version: &str, port: u64) -> String {
    let pid = std::process::id();
    let side = [
        String::new(),
        format!("ferrokv {version} (Redis {redis_version} compatible) 64 bit"),
        String::new(),
        "Running in standalone mode".to_string(),
        format!("Port: {port}"),
        format!("PID: {pid}"),
        String::new(),
    ];
    let art = [
        "     .-------------------.",
        "     |  f e r r o k v    |",
        "     |  .-------------.  |",
        "     |  | key -> val  |  |",
        "     |  | key -> val  |  |",
        "     |  '-------------'  |",
        "     '-------------------'",
    ];
    let mut out = String::new();
    for (a, s) in art.iter().zip(side.iter()) {
        let _ = writeln!(out, "{a:<32}{s}");
    }
    out.push('\n');
    out
}

/// Changes the level (CONFIG SET loglevel).
pub fn set_level(loglevel: &str) {
    if let Some(h) = HANDLE.get() {
        let _ = h.modify(|f| *f = level(loglevel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_redis_shape() {
        let line = format_line('*', "Ready to accept connections", None);
        // pid:M dd Mon yyyy hh:mm:ss.mmm * msg
        let (pid, rest) = line.split_once(':').unwrap_or_default();
        assert_eq!(pid, std::process::id().to_string());
        let parts: Vec<&str> = rest.splitn(7, ' ').collect();
        assert_eq!(parts[0], "M");
        assert_eq!(parts[1].len(), 2);
        assert_eq!(parts[2].len(), 3);
        assert_eq!(parts[3].len(), 4);
        assert_eq!(parts[4].len(), "hh:mm:ss.mmm".len());
        assert_eq!(parts[5], "*");
        assert_eq!(parts[6], "Ready to accept connections");
    }
}
