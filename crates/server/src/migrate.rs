//! MIGRATE: moves keys to another Redis-compatible server as RESTORE commands
//! carrying DUMP payloads, over a blocking connection with the given timeout (as
//! Redis does, the calling command waits for the target; here only its worker
//! and the keys' shards wait). Without COPY the keys moved are deleted and the
//! command is logged as a DEL of them. Connections are cached per target for
//! 10 s with the db last selected, as Redis does (INFO migrate_cached_sockets).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use ferrokv_core::args::{int_arg, is_kw};
use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};
use ferrokv_persist::convert::{to_rdb, write_options};
use ferrokv_persist::encode_dump;

/// The table.
pub static COMMANDS: &[CommandDef] = &[CommandDef::new("migrate", migrate)];

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        bulk(out, a);
    }
}

fn io_error(writing: bool) -> CmdError {
    CmdError::Raw(format!(
        "IOERR error or timeout {} to target instance",
        if writing { "writing" } else { "reading" }
    ))
}

fn migrate(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<&[u8]>, &[u8])> = None;
    let mut keys: &[&[u8]] = &args[3..4];
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is_kw(args[j], "copy") {
            copy = true;
        } else if is_kw(args[j], "replace") {
            replace = true;
        } else if is_kw(args[j], "auth") {
            if more == 0 {
                return Err(CmdError::Syntax);
            }
            j += 1;
            auth = Some((None, args[j]));
            redact(ctx, j);
        } else if is_kw(args[j], "auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            auth = Some((Some(args[j + 1]), args[j + 2]));
            redact(ctx, j + 1);
            redact(ctx, j + 2);
            j += 2;
        } else if is_kw(args[j], "keys") {
            if !args[3].is_empty() {
                return Err(CmdError::Other(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string"
                        .into(),
                ));
            }
            keys = &args[j + 1..];
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let mut timeout = int_arg(args[5])?;
    let dbid = int_arg(args[4])?;
    if timeout <= 0 {
        timeout = 1000;
    }
    let timeout = Duration::from_millis(timeout as u64);
    // The keys that exist, with their payload and TTL.
    let opts = write_options(&ctx.engine.config);
    let now = ctx.now_ms();
    let db = ctx.keys.db;
    let mut found: Vec<(&[u8], Vec<u8>, i64)> = Vec::new();
    for key in keys {
        let expire_at = match ctx.keys.live_expire_at(db, key)? {
            Some(at) => at,
            None => continue,
        };
        let payload = match ctx.keys.read(key)? {
            Some(e) => {
                let v = to_rdb(&e.node.value()).map_err(|e| CmdError::Other(e.to_string()))?;
                encode_dump(&v, &opts)
            }
            None => continue,
        };
        let ttl = if expire_at == 0 {
            0
        } else {
            (expire_at - now).max(1)
        };
        found.push((key, payload, ttl));
    }
    if found.is_empty() {
        ctx.out.simple(b"NOKEY");
        return Ok(());
    }
    let host = String::from_utf8_lossy(args[1]).into_owned();
    let port = String::from_utf8_lossy(args[2]).into_owned();
    let target = format!("{host}:{port}");
    // A cached connection that fails before anything was acknowledged is retried
    // once on a fresh one (it was likely closed by the peer), not after a timeout.
    let mut may_retry = true;
    let outcome = loop {
        let (mut stream, last_db) = get_socket(&target, timeout, ctx)?;
        let select = last_db != Some(dbid);
        let mut request = Vec::new();
        if let Some((user, pass)) = auth {
            match user {
                Some(u) => command(&mut request, &[b"AUTH", u, pass]),
                None => command(&mut request, &[b"AUTH", pass]),
            }
        }
        let db_text = dbid.to_string();
        if select {
            command(&mut request, &[b"SELECT", db_text.as_bytes()]);
        }
        for (key, payload, ttl) in &found {
            let ttl = ttl.to_string();
            let mut argv: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
            if replace {
                argv.push(b"REPLACE");
            }
            command(&mut request, &argv);
        }
        match exchange(&mut stream, &request, auth.is_some(), select, found.len()) {
            Ok(replies) => break Ok((stream, replies)),
            Err((writing, timed_out)) => {
                if may_retry && !timed_out {
                    may_retry = false;
                    continue;
                }
                break Err(io_error(writing));
            }
        }
    };
    let (stream, replies) = outcome?;
    let mut moved: Vec<Vec<u8>> = Vec::new();
    for ((key, _, _), ok) in found.iter().zip(&replies.restored) {
        if *ok && !copy {
            moved.push(key.to_vec());
        }
    }
    if !copy && !moved.is_empty() {
        for key in &moved {
            if ctx.keys.delete(key)? {
                ctx.keys.changed(key, ferrokv_core::notify::events::DEL);
            }
        }
        let mut argv = vec![b"DEL".to_vec()];
        argv.extend(moved.iter().cloned());
        ctx.keys.propagate_as(argv);
    }
    if replies.restored.len() < found.len() {
        // The connection broke midway: closed, not cached.
        drop(stream);
        if let Some(e) = replies.error {
            return Err(target_error(&e));
        }
        return Err(io_error(false));
    }
    let last = if replies.error.is_none() {
        Some(dbid)
    } else {
        None
    };
    put_socket(target, stream, last);
    if let Some(e) = replies.error {
        return Err(target_error(&e));
    }
    ctx.out.ok();
    Ok(())
}

fn target_error(e: &[u8]) -> CmdError {
    CmdError::Other(format!(
        "Target instance replied with error: {}",
        String::from_utf8_lossy(e)
    ))
}

/// What the target answered.
struct Replies {
    /// Per key sent, whether its RESTORE succeeded (shorter when the
    /// connection broke).
    restored: Vec<bool>,
    /// The first error (AUTH's, SELECT's, then the RESTOREs' in order).
    error: Option<Vec<u8>>,
}

/// Sends `request` and reads the replies. `Err((writing, timed_out))` when the
/// connection failed before any RESTORE reply.
fn exchange(
    stream: &mut Link,
    request: &[u8],
    auth: bool,
    select: bool,
    keys: usize,
) -> Result<Replies, (bool, bool)> {
    let timed_out = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };
    stream
        .write_all(request)
        .and_then(|_| stream.flush())
        .map_err(|e| (true, timed_out(&e)))?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut read_line = |line: &mut Vec<u8>| -> Result<(), bool> {
        line.clear();
        match reader.read_until(b'\n', line) {
            Ok(n) if n > 0 => Ok(()),
            Ok(_) => Err(false),
            Err(e) => Err(timed_out(&e)),
        }
    };
    let error_of = |line: &[u8]| -> Option<Vec<u8>> {
        (line.first() == Some(&b'-')).then(|| {
            let text = &line[1..];
            text.strip_suffix(b"\r\n").unwrap_or(text).to_vec()
        })
    };
    let mut error = None;
    for wanted in [auth, select] {
        if wanted {
            read_line(&mut line).map_err(|t| (false, t))?;
            if error.is_none() {
                error = error_of(&line);
            }
        }
    }
    let setup_failed = error.is_some();
    let mut restored = Vec::with_capacity(keys);
    for _ in 0..keys {
        if read_line(&mut line).is_err() {
            break;
        }
        let e = error_of(&line);
        restored.push(e.is_none() && !setup_failed);
        if error.is_none() {
            error = e;
        }
    }
    Ok(Replies { restored, error })
}

/// Idle connections kept for the next MIGRATE to the same target (Redis's
/// migrate socket cache: 10 s idle at most, 64 targets).
struct Cached {
    stream: Link,
    last_db: Option<i64>,
    used: Instant,
}

const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 64;

fn cache() -> &'static Mutex<HashMap<String, Cached>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Cached>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// INFO migrate_cached_sockets (closes the ones idle too long first).
pub fn cached_sockets() -> usize {
    let mut c = cache().lock();
    c.retain(|_, s| s.used.elapsed() < CACHE_TTL);
    c.len()
}

fn get_socket(
    target: &str,
    timeout: Duration,
    ctx: &Ctx<'_, '_>,
) -> Result<(Link, Option<i64>), CmdError> {
    if let Some(c) = cache().lock().remove(target) {
        if c.used.elapsed() < CACHE_TTL {
            let _ = c.stream.tcp().set_read_timeout(Some(timeout));
            let _ = c.stream.tcp().set_write_timeout(Some(timeout));
            return Ok((c.stream, c.last_db));
        }
    }
    let connect_error = || CmdError::Raw("IOERR error or timeout connecting to the client".into());
    let addr = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(connect_error)?;
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|_| connect_error())?;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    // tls-cluster: MIGRATE speaks TLS to its target, as Redis's migrateGetSocket.
    let st = crate::cmds::state(ctx)?;
    if st.engine.config.bool(ferrokv_core::config::P::TlsCluster) {
        let conf = st.tls.client_config().ok_or_else(connect_error)?;
        let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
        let conn = rustls::ClientConnection::new(conf, crate::tls::peer_name(host))
            .map_err(|_| connect_error())?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        // The handshake now, bounded by the socket timeouts, so that a failure is
        // a connection error as in Redis.
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|_| connect_error())?;
        }
        return Ok((Link::Tls(Box::new(tls)), None));
    }
    Ok((Link::Plain(stream), None))
}

/// A connection to a MIGRATE target: plain, or TLS under tls-cluster.
enum Link {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Link {
    fn tcp(&self) -> &TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(t) => &t.sock,
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Link::Plain(s) => s.read(buf),
            Link::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Link::Plain(s) => s.write(buf),
            Link::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Link::Plain(s) => s.flush(),
            Link::Tls(t) => t.flush(),
        }
    }
}

fn put_socket(target: String, stream: Link, last_db: Option<i64>) {
    let mut c = cache().lock();
    c.retain(|_, s| s.used.elapsed() < CACHE_TTL);
    if c.len() >= CACHE_MAX {
        if let Some(k) = c.keys().next().cloned() {
            c.remove(&k);
        }
    }
    c.insert(
        target,
        Cached {
            stream,
            last_db,
            used: Instant::now(),
        },
    );
}

/// Hides argument `i` from MONITOR and SLOWLOG.
fn redact(ctx: &mut Ctx<'_, '_>, i: usize) {
    if i < 64 {
        ctx.client.redact |= 1 << i;
    }
}
