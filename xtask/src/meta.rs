//! `cargo xtask gen-command-meta`: regenerates
//! `crates/core/data/redis-7.0.15-command-{info,docs}.resp3`, the RESP3 replies of
//! `COMMAND INFO` and `COMMAND DOCS` of a stock redis-server 7.0.15, from which
//! ferrokv derives its whole command table (`core/src/commands/meta.rs`).
//!
//! It starts `redis-server` (`$REDIS_SERVER` or the one on the PATH) on a free
//! loopback port with no persistence, or talks to one already running with
//! `--port N`, refuses any version but 7.0.15, and writes each reply's bytes as
//! they came. xtask depends on nothing of ours, so it reads RESP3 itself: just
//! enough to find where one reply ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{root, Result};

const VERSION: &str = "7.0.15";

/// A redis-server this command started, stopped when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn main(args: &[String]) -> Result {
    let port = match args {
        [] => None,
        [flag, n] if flag == "--port" => Some(
            n.parse::<u16>()
                .map_err(|_| format!("gen-command-meta: bad port {n:?}"))?,
        ),
        _ => return Err(format!("gen-command-meta: bad arguments {args:?}")),
    };
    let (_server, port) = match port {
        Some(p) => (None, p),
        None => {
            let (s, p) = start_redis()?;
            (Some(s), p)
        }
    };
    let mut conn = connect(port, Duration::from_secs(20))?;
    let hello = request(&mut conn, &["HELLO", "3"])?;
    let version = hello_version(&hello).unwrap_or_default();
    if version != VERSION {
        return Err(format!(
            "gen-command-meta: the server on port {port} is Redis {version:?}, not {VERSION}"
        ));
    }
    let data = root().join("crates/core/data");
    for (what, file) in [("INFO", "command-info"), ("DOCS", "command-docs")] {
        let reply = request(&mut conn, &["COMMAND", what])?;
        if !reply.starts_with(if what == "INFO" { b"*" } else { b"%" }) {
            return Err(format!(
                "gen-command-meta: unexpected COMMAND {what} reply: {}",
                String::from_utf8_lossy(&reply[..reply.len().min(200)])
            ));
        }
        // Redis lists its commands in dict order, which changes with its hash
        // seed from one start to the next: sorted by name, the files only change
        // when the descriptions do.
        let reply = sort_by_name(&reply, what == "DOCS")
            .map_err(|e| format!("gen-command-meta: COMMAND {what}: {e}"))?;
        let path = data.join(format!("redis-{VERSION}-{file}.resp3"));
        std::fs::write(&path, &reply)
            .map_err(|e| format!("gen-command-meta: writing {}: {e}", path.display()))?;
        eprintln!("wrote {} ({} bytes)", path.display(), reply.len());
    }
    Ok(())
}

fn start_redis() -> Result<(Started, u16)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("gen-command-meta: no free port: {e}"))?;
    let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let child = Command::new(&bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("gen-command-meta: cannot start {bin}: {e}"))?;
    Ok((Started(child), port))
}

/// Connects, retrying until the server listens or `timeout` passes.
fn connect(port: u16, timeout: Duration) -> Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(30)))
                    .map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "gen-command-meta: cannot connect to port {port}: {e}"
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Sends a command and returns the bytes of its one reply.
fn request(conn: &mut TcpStream, args: &[&str]) -> Result<Vec<u8>> {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    conn.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match value_end(&buf, 0) {
            Ok(Some(end)) if end == buf.len() => return Ok(buf),
            Ok(Some(_)) => return Err("gen-command-meta: more than one reply".into()),
            Ok(None) => {}
            Err(e) => return Err(format!("gen-command-meta: bad reply: {e}")),
        }
        let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("gen-command-meta: the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A parsed RESP3 value, borrowing the reply: a leaf's bytes whole, or an
/// aggregate's header line and its items (a map's keys and values alternate).
enum Node<'a> {
    Leaf(&'a [u8]),
    Agg(&'a [u8], Vec<Node<'a>>),
}

impl<'a> Node<'a> {
    fn parse(buf: &'a [u8], pos: usize) -> std::result::Result<(Node<'a>, usize), String> {
        let end = value_end(buf, pos)?.ok_or("cut")?;
        let kind = buf[pos];
        let (head, mut at) = line(buf, pos + 1).ok_or("cut")?;
        let n = match kind {
            b'*' | b'~' | b'>' => number(head)?,
            b'%' => number(head)?.saturating_mul(2),
            _ => return Ok((Node::Leaf(&buf[pos..end]), end)),
        };
        let mut kids = Vec::new();
        for _ in 0..n.max(0) {
            let (kid, next) = Node::parse(buf, at)?;
            kids.push(kid);
            at = next;
        }
        Ok((
            Node::Agg(&buf[pos..line(buf, pos + 1).ok_or("cut")?.1], kids),
            end,
        ))
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Leaf(b) => out.extend_from_slice(b),
            Node::Agg(head, kids) => {
                out.extend_from_slice(head);
                for k in kids {
                    k.write(out);
                }
            }
        }
    }

    /// A bulk or simple string's text.
    fn text(&self) -> &'a [u8] {
        match self {
            Node::Leaf(b) => line(b, 1).map_or(&b[..0], |(head, next)| match b.first() {
                Some(b'$') => b.get(next..b.len().saturating_sub(2)).unwrap_or_default(),
                _ => head,
            }),
            Node::Agg(..) => &[],
        }
    }
}

/// COMMAND INFO: an array of entries whose first item is the name and whose
/// tenth is the array of subcommand entries.
fn sort_info(node: &mut Node<'_>) {
    if let Node::Agg(_, entries) = node {
        for e in entries.iter_mut() {
            if let Node::Agg(_, items) = e {
                if let Some(subs) = items.get_mut(9) {
                    sort_info(subs);
                }
            }
        }
        entries.sort_by(|a, b| name_of_entry(a).cmp(name_of_entry(b)));
    }
}

fn name_of_entry<'a>(e: &Node<'a>) -> &'a [u8] {
    match e {
        Node::Agg(_, items) => items.first().map_or(&[][..], Node::text),
        Node::Leaf(_) => &[],
    }
}

/// COMMAND DOCS: a map from name to a docs map, which may hold `subcommands`,
/// a map of the same shape.
fn sort_docs(node: &mut Node<'_>) {
    let Node::Agg(_, kids) = node else { return };
    let mut pairs: Vec<(Node<'_>, Node<'_>)> = Vec::with_capacity(kids.len() / 2);
    let mut it = std::mem::take(kids).into_iter();
    while let (Some(k), Some(mut v)) = (it.next(), it.next()) {
        if let Node::Agg(_, fields) = &mut v {
            let mut i = 0;
            while i + 1 < fields.len() {
                if fields[i].text() == b"subcommands" {
                    sort_docs(&mut fields[i + 1]);
                }
                i += 2;
            }
        }
        pairs.push((k, v));
    }
    pairs.sort_by(|a, b| a.0.text().cmp(b.0.text()));
    for (k, v) in pairs {
        kids.push(k);
        kids.push(v);
    }
}

/// Reorders a COMMAND INFO or COMMAND DOCS reply, and its subcommands, by name.
fn sort_by_name(reply: &[u8], docs: bool) -> std::result::Result<Vec<u8>, String> {
    let (mut tree, end) = Node::parse(reply, 0)?;
    if end != reply.len() {
        return Err("bytes after the reply".into());
    }
    if docs {
        sort_docs(&mut tree);
    } else {
        sort_info(&mut tree);
    }
    let mut out = Vec::with_capacity(reply.len());
    tree.write(&mut out);
    Ok(out)
}

/// The `version` field of a HELLO 3 reply (a map of bulk strings and others).
fn hello_version(reply: &[u8]) -> Option<String> {
    let key = b"$7\r\nversion\r\n$";
    let at = reply.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &reply[at..];
    let nl = rest.windows(2).position(|w| w == b"\r\n")?;
    let len: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    let v = rest.get(nl + 2..nl + 2 + len)?;
    Some(String::from_utf8_lossy(v).into_owned())
}

/// Where the line starting at `pos` ends (`\r\n` excluded) and the next begins.
fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let nl = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..nl], pos + nl + 2))
}

fn number(text: &[u8]) -> std::result::Result<i64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad length {:?}", String::from_utf8_lossy(text)))
}

/// The end of the RESP3 value starting at `pos`: `Ok(None)` while incomplete.
fn value_end(buf: &[u8], pos: usize) -> std::result::Result<Option<usize>, String> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((head, next)) = line(buf, pos + 1) else {
        return Ok(None);
    };
    let items = match kind {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => return Ok(Some(next)),
        b'$' | b'!' | b'=' => {
            let len = number(head)?;
            if len < 0 {
                return Ok(Some(next));
            }
            let end = next + len as usize + 2;
            return Ok((buf.len() >= end).then_some(end));
        }
        b'*' | b'~' | b'>' => number(head)?,
        b'%' => number(head)?.saturating_mul(2),
        b'|' => {
            // An attribute map, then the value it annotates.
            let n = number(head)?.saturating_mul(2);
            let mut at = next;
            for _ in 0..n.max(0) {
                match value_end(buf, at)? {
                    Some(e) => at = e,
                    None => return Ok(None),
                }
            }
            return value_end(buf, at);
        }
        other => return Err(format!("unknown RESP3 type byte {:?}", other as char)),
    };
    let mut at = next;
    for _ in 0..items.max(0) {
        match value_end(buf, at)? {
            Some(e) => at = e,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}
