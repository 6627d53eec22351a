//! SCRIPT DEBUG: the Lua debugger (Redis's LDB). In a debugging client the next
//! EVAL runs as a session: a line hook stops the script, and the debugger reads the
//! client's commands and writes its answers (multi-bulks of status lines) straight
//! over the client's connection while the script is suspended inside the hook.
//!
//! The connection is reached through [`DebugChannel`], which the server provides
//! ([`crate::hooks::ServerHooks::debug_channel`]): core does no socket I/O. Redis
//! forks for `SCRIPT DEBUG YES` so that the changes are rolled back; ferrokv has no
//! fork, so both modes run as `SYNC` (changes are kept, other scripts wait), and the
//! connection is closed after the final reply in both, as Redis does.
//!
//! The session lives in a thread-local: the script and its hook run on the thread
//! that started it. A Lua error unwinds with a longjmp, so no borrow of it (or any
//! Rust value) is live when the hook raises one.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr};
use std::time::Instant;

use mlua::ffi;

use super::run::with_run;
use super::vm::{bytes_at, to_string_lossy};
pub use crate::hooks::DebugChannel;

type L = *mut ffi::lua_State;

/// SCRIPT DEBUG mode of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DebugMode {
    #[default]
    Off,
    /// `YES` (forked in Redis; run as SYNC here).
    Yes,
    Sync,
}

const MAX_LEN_DEFAULT: usize = 256;
const BREAKPOINTS_MAX: usize = 64;
const MAX_VALUES_DEPTH: usize = 10;
const MAX_BUFFER: usize = 1 << 20;

struct Session {
    chan: Box<dyn DebugChannel>,
    src: Vec<Vec<u8>>,
    logs: Vec<Vec<u8>>,
    cbuf: Vec<u8>,
    bp: Vec<i32>,
    step: bool,
    luabp: bool,
    maxlen: usize,
    maxlen_hint_sent: bool,
    currentline: i32,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    SESSION.with(|s| s.borrow_mut().as_mut().map(f))
}

/// Starts a session for a script with source `body` on `chan`.
pub(crate) fn start(chan: Box<dyn DebugChannel>, body: &[u8]) {
    let mut end = body.len();
    while end > 0 && (body[end - 1] == b'\n' || body[end - 1] == b'\r') {
        end -= 1;
    }
    let src = if end == 0 {
        Vec::new()
    } else {
        body[..end]
            .split(|&b| b == b'\n')
            .map(|l| l.to_vec())
            .collect()
    };
    let s = Session {
        chan,
        src,
        logs: Vec::new(),
        cbuf: Vec::new(),
        bp: Vec::new(),
        step: true,
        luabp: false,
        maxlen: MAX_LEN_DEFAULT,
        maxlen_hint_sent: false,
        currentline: 0,
    };
    SESSION.with(|c| *c.borrow_mut() = Some(s));
}

/// Ends the session: what is left of the log and `<endsession>` go out.
pub(crate) fn end() {
    let s = SESSION.with(|c| c.borrow_mut().take());
    if let Some(mut s) = s {
        s.log(b"<endsession>".to_vec());
        s.send_logs();
    }
}

/// Whether a session runs on this thread.
pub(crate) fn active() -> bool {
    SESSION.with(|c| c.borrow().is_some())
}

/// Whether the commands a script calls are logged (active and stepping).
pub(crate) fn logging() -> bool {
    with(|s| s.step).unwrap_or(false)
}

/// Logs a command a script calls (`<redis> ...`, ten arguments at most).
pub(crate) fn log_command(args: &[&[u8]]) {
    with(|s| {
        let mut e = b"<redis>".to_vec();
        for (j, a) in args.iter().enumerate() {
            if j == 10 {
                e.extend_from_slice(format!(" ... ({} more)", args.len() - j - 1).as_bytes());
                break;
            }
            e.push(b' ');
            e.extend_from_slice(cstr(a));
        }
        s.log(e);
    });
}

/// Logs an error raised to the script (`<error> ...`).
pub(crate) fn log_error(text: &str) {
    with(|s| s.log(format!("<error> {text}").into_bytes()));
}

/// Logs a command's reply in human form (`<reply> ...`).
pub(crate) fn log_reply(reply: &[u8]) {
    with(|s| s.log_reply(reply));
}

/// `redis.breakpoint()`: whether a session runs (then the script stops at its next line).
pub(crate) fn breakpoint() -> bool {
    with(|s| s.luabp = true).is_some()
}

/// `redis.debug(...)`: logs its arguments.
pub(crate) unsafe fn debug(l: L) {
    let Some(line) = with(|s| s.currentline) else {
        return;
    };
    // SAFETY: valid state.
    unsafe {
        let argc = ffi::lua_gettop(l);
        let mut e = format!("<debug> line {line}: ").into_bytes();
        for i in 1..=argc {
            cat_value(&mut e, l, i, 0);
            if i != argc {
                e.extend_from_slice(b", ");
            }
        }
        with(|s| s.log(e));
    }
}

/// The part of `a` a C string would see.
fn cstr(a: &[u8]) -> &[u8] {
    match a.iter().position(|&b| b == 0) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// C's atoi: leading blanks, a sign, digits (saturating).
fn atoi(a: &[u8]) -> i64 {
    let a = cstr(a);
    let mut i = 0;
    while i < a.len() && matches!(a[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < a.len() && (a[i] == b'+' || a[i] == b'-') {
        neg = a[i] == b'-';
        i += 1;
    }
    let mut n: i64 = 0;
    while i < a.len() && a[i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add((a[i] - b'0') as i64);
        i += 1;
    }
    let n = if neg { -n } else { n };
    n.clamp(i32::MIN as i64, i32::MAX as i64)
}

/// Redis's strict string2l.
fn strict_int(a: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(a).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') || s == "-0" {
        return None;
    }
    s.parse().ok()
}

/// sdscatrepr: quoted, with C escapes.
fn cat_repr(o: &mut Vec<u8>, s: &[u8]) {
    o.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => {
                o.push(b'\\');
                o.push(c);
            }
            b'\n' => o.extend_from_slice(b"\\n"),
            b'\r' => o.extend_from_slice(b"\\r"),
            b'\t' => o.extend_from_slice(b"\\t"),
            7 => o.extend_from_slice(b"\\a"),
            8 => o.extend_from_slice(b"\\b"),
            0x20..=0x7e => o.push(c),
            _ => o.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    o.push(b'"');
}

/// A Lua value in the debugger's notation (ldbCatStackValue).
unsafe fn cat_value(o: &mut Vec<u8>, l: L, idx: c_int, level: usize) {
    if level == MAX_VALUES_DEPTH {
        o.extend_from_slice(b"<max recursion level reached! Nested table?>");
        return;
    }
    // SAFETY: valid state and index.
    unsafe {
        let idx = if idx < 0 && idx > ffi::LUA_REGISTRYINDEX {
            ffi::lua_gettop(l) + idx + 1
        } else {
            idx
        };
        match ffi::lua_type(l, idx) {
            ffi::LUA_TSTRING => cat_repr(o, bytes_at(l, idx).unwrap_or_default()),
            ffi::LUA_TBOOLEAN => o.extend_from_slice(if ffi::lua_toboolean(l, idx) != 0 {
                b"true"
            } else {
                b"false"
            }),
            ffi::LUA_TNUMBER => o.extend_from_slice(
                super::libs::numfmt::fmt_g(ffi::lua_tonumber(l, idx), 6).as_bytes(),
            ),
            ffi::LUA_TNIL => o.extend_from_slice(b"nil"),
            ffi::LUA_TTABLE => {
                if ffi::lua_checkstack(l, 4) == 0 {
                    o.extend_from_slice(b"{}");
                    return;
                }
                let mut expected = 1.0;
                let mut is_array = true;
                let mut arr = Vec::new();
                let mut full = Vec::new();
                ffi::lua_pushnil(l);
                while ffi::lua_next(l, idx) != 0 {
                    if is_array
                        && (ffi::lua_type(l, -2) != ffi::LUA_TNUMBER
                            || ffi::lua_tonumber(l, -2) != expected)
                    {
                        is_array = false;
                    }
                    let top = ffi::lua_gettop(l);
                    cat_value(&mut arr, l, top, level + 1);
                    arr.extend_from_slice(b"; ");
                    full.push(b'[');
                    cat_value(&mut full, l, top - 1, level + 1);
                    full.extend_from_slice(b"]=");
                    cat_value(&mut full, l, top, level + 1);
                    full.extend_from_slice(b"; ");
                    ffi::lua_pop(l, 1);
                    expected += 1.0;
                }
                let mut r = if is_array { arr } else { full };
                r.truncate(r.len().saturating_sub(2));
                o.push(b'{');
                o.extend_from_slice(&r);
                o.push(b'}');
            }
            t => {
                let name = match t {
                    ffi::LUA_TFUNCTION => "function",
                    ffi::LUA_TUSERDATA => "userdata",
                    ffi::LUA_TTHREAD => "thread",
                    ffi::LUA_TLIGHTUSERDATA => "light-userdata",
                    _ => {
                        o.extend_from_slice(b"\"<unknown-lua-type>\"");
                        return;
                    }
                };
                let p = ffi::lua_topointer(l, idx);
                o.extend_from_slice(format!("\"{name}@{p:p}\"").as_bytes());
            }
        }
    }
}

/// One RESP reply in the debugger's notation (ldbRedisProtocolToHuman); returns
/// the bytes left after it, `None` when it is cut short.
fn human<'a>(o: &mut Vec<u8>, r: &'a [u8]) -> Option<&'a [u8]> {
    let head_end = r.windows(2).position(|w| w == b"\r\n")?;
    let head = r.get(1..head_end)?;
    let rest = &r[head_end + 2..];
    let num = || std::str::from_utf8(head).ok()?.parse::<i64>().ok();
    match *r.first()? {
        b':' => {
            o.extend_from_slice(head);
            Some(rest)
        }
        b'$' => {
            let n = num()?;
            if n < 0 {
                o.extend_from_slice(b"NULL");
                return Some(rest);
            }
            let n = n as usize;
            cat_repr(o, rest.get(..n)?);
            rest.get(n + 2..)
        }
        b'+' | b'-' => {
            cat_repr(o, &r[..head_end]);
            Some(rest)
        }
        t @ (b'*' | b'~' | b'%') => {
            let n = num()?;
            if t == b'*' && n < 0 {
                o.extend_from_slice(b"NULL");
                return Some(rest);
            }
            let (open, close): (&[u8], &[u8]) = match t {
                b'*' => (b"[", b"]"),
                b'~' => (b"~(", b")"),
                _ => (b"{", b"}"),
            };
            o.extend_from_slice(open);
            let mut p = rest;
            for j in 0..n {
                p = human(o, p)?;
                if t == b'%' {
                    o.extend_from_slice(b" => ");
                    p = human(o, p)?;
                }
                if j != n - 1 {
                    o.push(b',');
                }
            }
            o.extend_from_slice(close);
            Some(p)
        }
        b'_' => {
            o.extend_from_slice(b"(null)");
            Some(rest)
        }
        b'#' => {
            o.extend_from_slice(if head.first() == Some(&b't') {
                b"#true"
            } else {
                b"#false"
            });
            Some(rest)
        }
        b',' => {
            o.extend_from_slice(b"(double) ");
            o.extend_from_slice(head);
            Some(rest)
        }
        _ => None,
    }
}

/// Why the REPL gave the script back.
enum Back {
    /// A command resumed the script.
    Resume,
    /// The client is gone: the script runs on without stopping.
    Gone,
}

/// What a parsed request is (ldbReplParseCommand).
enum Parsed {
    Command(Vec<Vec<u8>>),
    More,
    Error,
}

/// Redis's forgiving parser of one multi-bulk request (at most 1024 arguments of
/// 1..=1024 bytes each).
fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::More;
    }
    let find = |from: usize| -> Option<usize> {
        buf.get(from..)?
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| i + from)
    };
    let Some(star) = buf.iter().position(|&b| b == b'*') else {
        return Parsed::Error;
    };
    let Some(eol) = find(star) else {
        return Parsed::More;
    };
    let argc = atoi(&buf[star + 1..eol]);
    if argc <= 0 || argc > 1024 {
        return Parsed::Error;
    }
    let mut p = eol + 2;
    let mut argv = Vec::with_capacity(argc as usize);
    while argv.len() < argc as usize {
        let Some(&c) = buf.get(p) else {
            return Parsed::More;
        };
        if c != b'$' {
            return Parsed::Error;
        }
        let Some(eol) = find(p) else {
            return Parsed::More;
        };
        let len = atoi(&buf[p + 1..eol]);
        if len <= 0 || len > 1024 {
            return Parsed::Error;
        }
        let start = eol + 2;
        let len = len as usize;
        if start + len + 2 > buf.len() {
            return Parsed::More;
        }
        argv.push(buf[start..start + len].to_vec());
        p = start + len;
        if &buf[p..p + 2] != b"\r\n" {
            return Parsed::Error;
        }
        p += 2;
    }
    Parsed::Command(argv)
}

impl Session {
    fn log(&mut self, e: Vec<u8>) {
        self.logs.push(e);
    }

    fn log_max(&mut self, mut e: Vec<u8>) {
        let mut trimmed = false;
        if self.maxlen > 0 && e.len() > self.maxlen {
            e.truncate(self.maxlen);
            e.extend_from_slice(b" ...");
            trimmed = true;
        }
        self.log(e);
        if trimmed && !self.maxlen_hint_sent {
            self.maxlen_hint_sent = true;
            self.log(
                b"<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.".to_vec(),
            );
        }
    }

    fn log_reply(&mut self, reply: &[u8]) {
        let mut e = b"<reply> ".to_vec();
        human(&mut e, reply);
        self.log_max(e);
    }

    fn send_logs(&mut self) {
        let mut out = format!("*{}\r\n", self.logs.len()).into_bytes();
        for e in self.logs.drain(..) {
            out.push(b'+');
            out.extend(
                e.iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            out.extend_from_slice(b"\r\n");
        }
        // A write error shows at the next read, which ends the session.
        let _ = self.chan.write_all(&out);
    }

    fn source_line(&self, line: i32) -> &[u8] {
        match usize::try_from(line - 1).ok().and_then(|i| self.src.get(i)) {
            Some(l) => l,
            None => b"<out of range source code line>",
        }
    }

    fn log_source_line(&mut self, line: i32) {
        let bp = self.bp.contains(&line);
        let current = self.currentline == line;
        let prefix = match (current, bp) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut e = format!("{prefix}{line:<3} ").into_bytes();
        e.extend_from_slice(self.source_line(line));
        self.log(e);
    }

    fn list(&mut self, around: i64, context: i64) {
        for j in 1..=self.src.len() as i64 {
            if around != 0 && (around - j).abs() > context {
                continue;
            }
            self.log_source_line(j as i32);
        }
    }

    fn breakpoints(&mut self, argv: &[Vec<u8>]) {
        if argv.len() == 1 {
            if self.bp.is_empty() {
                self.log(b"No breakpoints set. Use 'b <line>' to add one.".to_vec());
            } else {
                self.log(format!("{} breakpoints set:", self.bp.len()).into_bytes());
                for line in self.bp.clone() {
                    self.log_source_line(line);
                }
            }
            return;
        }
        for arg in &argv[1..] {
            let Some(line) = strict_int(arg) else {
                let mut e = b"Invalid argument:'".to_vec();
                e.extend_from_slice(cstr(arg));
                e.push(b'\'');
                self.log(e);
                continue;
            };
            if line == 0 {
                self.bp.clear();
                self.log(b"All breakpoints removed.".to_vec());
            } else if line > 0 {
                if self.bp.len() == BREAKPOINTS_MAX {
                    self.log(b"Too many breakpoints set.".to_vec());
                } else if line <= self.src.len() as i64 && !self.bp.contains(&(line as i32)) {
                    self.bp.push(line as i32);
                    self.list(line, 1);
                } else {
                    self.log(b"Wrong line number.".to_vec());
                }
            } else {
                let line = line.checked_neg().unwrap_or(0);
                match self.bp.iter().position(|&b| b as i64 == line) {
                    Some(i) => {
                        self.bp.remove(i);
                        self.log(b"Breakpoint removed.".to_vec());
                    }
                    None => self.log(b"No breakpoint in the specified line.".to_vec()),
                }
            }
        }
    }

    fn maxlen(&mut self, argv: &[Vec<u8>]) {
        if argv.len() == 2 {
            let mut v = atoi(&argv[1]);
            self.maxlen_hint_sent = true;
            if v != 0 && v <= 60 {
                v = 60;
            }
            self.maxlen = v as usize;
        }
        if self.maxlen > 0 {
            self.log(
                format!("<value> replies are truncated at {} bytes.", self.maxlen).into_bytes(),
            );
        } else {
            self.log(b"<value> replies are unlimited.".to_vec());
        }
    }

    /// Reads until one request is complete. Err: the text of the error to raise.
    fn read_command(&mut self) -> Result<Option<Vec<Vec<u8>>>, &'static str> {
        loop {
            match parse(&self.cbuf) {
                Parsed::Command(argv) => {
                    self.cbuf.clear();
                    return Ok(Some(argv));
                }
                Parsed::Error => return Err("protocol error"),
                Parsed::More => {}
            }
            let mut buf = [0u8; 1024];
            match self.chan.read(&mut buf) {
                Ok(n) if n > 0 => self.cbuf.extend_from_slice(&buf[..n]),
                _ => {
                    self.step = false;
                    self.bp.clear();
                    return Ok(None);
                }
            }
            if self.cbuf.len() > MAX_BUFFER {
                self.cbuf = Vec::new();
                return Err("max client buffer reached");
            }
        }
    }
}

const HELP: &[&str] = &[
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

fn is(cmd: &[u8], short: &str, long: &str) -> bool {
    let c = cstr(cmd);
    c.eq_ignore_ascii_case(short.as_bytes()) || c.eq_ignore_ascii_case(long.as_bytes())
}

fn log(e: Vec<u8>) {
    with(|s| s.log(e));
}

fn log_value(l: L, prefix: &[u8]) {
    let mut e = prefix.to_vec();
    // SAFETY: valid state; the value is on top.
    unsafe { cat_value(&mut e, l, -1, 0) };
    with(|s| s.log_max(e));
}

fn send() {
    with(|s| s.send_logs());
}

/// A fresh activation record.
fn debug_record() -> ffi::lua_Debug {
    // SAFETY: lua_Debug is plain C data; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

fn short_src(ar: &ffi::lua_Debug) -> &[u8] {
    // SAFETY: short_src is a NUL-terminated buffer filled by lua_getinfo.
    unsafe { CStr::from_ptr(ar.short_src.as_ptr()).to_bytes() }
}

unsafe fn print(l: L, name: &[u8]) {
    let name = cstr(name);
    let mut ar = debug_record();
    let mut level = 0;
    // SAFETY: valid state; each lua_getlocal value is popped.
    unsafe {
        while ffi::lua_getstack(l, level, &mut ar) != 0 {
            level += 1;
            let mut i = 1;
            loop {
                let p = ffi::lua_getlocal(l, &ar, i);
                if p.is_null() {
                    break;
                }
                i += 1;
                if CStr::from_ptr(p).to_bytes() == name {
                    log_value(l, b"<value> ");
                    ffi::lua_pop(l, 1);
                    return;
                }
                ffi::lua_pop(l, 1);
            }
        }
        if name == b"ARGV" || name == b"KEYS" {
            let g = if name == b"ARGV" { c"ARGV" } else { c"KEYS" };
            ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, g.as_ptr());
            log_value(l, b"<value> ");
            ffi::lua_pop(l, 1);
        } else {
            log(b"No such variable.".to_vec());
        }
    }
}

unsafe fn print_all(l: L) {
    let mut ar = debug_record();
    let mut vars = 0;
    // SAFETY: valid state; each lua_getlocal value is popped.
    unsafe {
        if ffi::lua_getstack(l, 0, &mut ar) != 0 {
            let mut i = 1;
            loop {
                let p = ffi::lua_getlocal(l, &ar, i);
                if p.is_null() {
                    break;
                }
                i += 1;
                let name = CStr::from_ptr(p).to_bytes();
                if !name.windows(12).any(|w| w == b"(*temporary)") {
                    let mut prefix = b"<value> ".to_vec();
                    prefix.extend_from_slice(name);
                    prefix.extend_from_slice(b" = ");
                    log_value(l, &prefix);
                    vars += 1;
                }
                ffi::lua_pop(l, 1);
            }
        }
    }
    if vars == 0 {
        log(b"No local variables in the current context.".to_vec());
    }
}

unsafe fn trace(l: L) {
    let mut ar = debug_record();
    let mut level = 0;
    // SAFETY: valid state.
    unsafe {
        while ffi::lua_getstack(l, level, &mut ar) != 0 {
            ffi::lua_getinfo(l, c"Snl".as_ptr(), &mut ar);
            if short_src(&ar).windows(11).any(|w| w == b"user_script") {
                let name = if ar.name.is_null() {
                    "top level".to_string()
                } else {
                    CStr::from_ptr(ar.name).to_string_lossy().into_owned()
                };
                let line = ar.currentline;
                log(format!("{} {name}:", if level == 0 { "In" } else { "From" }).into_bytes());
                with(|s| s.log_source_line(line));
            }
            level += 1;
        }
    }
    if level == 0 {
        log(b"<error> Can't retrieve Lua stack.".to_vec());
    }
}

unsafe fn eval(l: L, argv: &[Vec<u8>]) {
    let code = argv[1..].join(&b' ');
    let mut expr = b"return ".to_vec();
    expr.extend_from_slice(&code);
    // SAFETY: valid state; the stack is balanced.
    unsafe {
        if super::vm::compile(l, &expr, c"@ldb_eval").is_err() {
            if let Err(e) = super::vm::compile(l, &code, c"@ldb_eval") {
                log(format!("<error> {e}").into_bytes());
                return;
            }
        }
        if ffi::lua_pcall(l, 0, 1, 0) != 0 {
            let e = to_string_lossy(l, -1);
            log(format!("<error> {e}").into_bytes());
            ffi::lua_pop(l, 1);
            return;
        }
        log_value(l, b"<retval> ");
        ffi::lua_pop(l, 1);
    }
}

unsafe fn redis(l: L, argv: &[Vec<u8>]) {
    // SAFETY: valid state; the stack is balanced.
    unsafe {
        if ffi::lua_checkstack(l, argv.len() as c_int + 1) == 0 {
            log(b"<reply> ".to_vec());
            return;
        }
        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());
        ffi::lua_getfield(l, -1, c"call".as_ptr());
        for a in &argv[1..] {
            ffi::lua_pushlstring(l, a.as_ptr() as *const c_char, a.len());
        }
        with(|s| s.step = true);
        ffi::lua_pcall(l, argv.len() as c_int - 1, 1, 0);
        with(|s| s.step = false);
        ffi::lua_pop(l, 2);
    }
}

/// The debugger's prompt: runs commands until one resumes the script.
unsafe fn repl(l: L) -> Result<Back, &'static str> {
    loop {
        let argv = match with(|s| s.read_command()) {
            None => return Ok(Back::Gone),
            Some(r) => match r? {
                None => return Ok(Back::Gone),
                Some(argv) => argv,
            },
        };
        let c = &argv[0];
        let n = argv.len();
        // SAFETY: valid state throughout.
        unsafe {
            if is(c, "h", "help") {
                with(|s| HELP.iter().for_each(|h| s.log(h.as_bytes().to_vec())));
            } else if is(c, "s", "step") || is(c, "n", "next") {
                with(|s| s.step = true);
                return Ok(Back::Resume);
            } else if is(c, "c", "continue") {
                return Ok(Back::Resume);
            } else if is(c, "t", "trace") {
                trace(l);
            } else if is(c, "m", "maxlen") {
                with(|s| s.maxlen(&argv));
            } else if is(c, "b", "break") {
                with(|s| s.breakpoints(&argv));
            } else if is(c, "e", "eval") {
                eval(l, &argv);
            } else if is(c, "a", "abort") {
                return Err("script aborted for user request");
            } else if n > 1 && is(c, "r", "redis") {
                redis(l, &argv);
            } else if is(c, "p", "print") {
                if n == 2 {
                    print(l, &argv[1]);
                } else {
                    print_all(l);
                }
            } else if is(c, "l", "list") {
                with(|s| {
                    let mut around = s.currentline as i64;
                    let mut ctx = 5;
                    if n > 1 {
                        let num = atoi(&argv[1]);
                        if num > 0 {
                            around = num;
                        }
                    }
                    if n > 2 {
                        ctx = atoi(&argv[2]);
                    }
                    s.list(around, ctx);
                });
            } else if is(c, "w", "whole") {
                with(|s| s.list(1, 1_000_000));
            } else {
                log(
                    b"<error> Unknown Redis Lua debugger command or wrong number of arguments."
                        .to_vec(),
                );
            }
        }
        send();
    }
}

/// What the line hook decided, computed with nothing borrowed across a Lua error.
unsafe fn on_line(l: L, ar: *mut ffi::lua_Debug) -> Result<(), &'static str> {
    // SAFETY: valid state and record (given by Lua).
    unsafe {
        let event = (*ar).event;
        let mut rec = debug_record();
        if ffi::lua_getstack(l, 0, &mut rec) == 0 {
            return Ok(());
        }
        ffi::lua_getinfo(l, c"Sl".as_ptr(), &mut rec);
        let line = rec.currentline;
        let Some((step, bp)) = with(|s| {
            s.currentline = line;
            (s.step, s.bp.contains(&line) || s.luabp)
        }) else {
            return Ok(());
        };
        if !short_src(&rec).windows(11).any(|w| w == b"user_script") {
            return Ok(());
        }
        let mut timeout = false;
        if event == ffi::LUA_HOOKCOUNT && !step && !bp {
            let elapsed = with_run(|r| r.started.elapsed().as_millis()).unwrap_or(0);
            let limit = with_run(|r| r.threshold_ms).unwrap_or(0);
            let limit = if limit > 0 { limit as u128 } else { 5000 };
            if elapsed < limit {
                return Ok(());
            }
            timeout = true;
        }
        if !(step || bp || timeout) {
            return Ok(());
        }
        with(|s| {
            let reason = if bp {
                if s.luabp {
                    "redis.breakpoint() called"
                } else {
                    "break point"
                }
            } else if timeout {
                "timeout reached, infinite loop?"
            } else {
                "step over"
            };
            s.step = false;
            s.luabp = false;
            s.log(format!("* Stopped at {line}, stop reason = {reason}").into_bytes());
            s.log_source_line(line);
            s.send_logs();
        });
        let back = repl(l)?;
        if matches!(back, Back::Gone) && timeout {
            return Err("timeout during Lua debugging with client closing connection");
        }
        with_run(|r| r.started = Instant::now());
        Ok(())
    }
}

/// The line (and count) hook of a debugging session (luaLdbLineHook).
pub(crate) unsafe extern "C-unwind" fn hook(l: L, ar: *mut ffi::lua_Debug) {
    // SAFETY: called by Lua with a valid state; the error is raised with nothing
    // Rust-owned live.
    unsafe {
        if let Err(e) = on_line(l, ar) {
            super::api::push_error(l, e);
            ffi::lua_error(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests_and_refuses_bad_ones() {
        assert!(matches!(parse(b""), Parsed::More));
        assert!(matches!(parse(b"*1\r\n$4\r\nst"), Parsed::More));
        match parse(b"*2\r\n$1\r\ns\r\n$3\r\na\0b\r\n") {
            Parsed::Command(a) => assert_eq!(a, vec![b"s".to_vec(), b"a\0b".to_vec()]),
            _ => panic!("not parsed"),
        }
        assert!(matches!(parse(b"hello"), Parsed::Error));
        assert!(matches!(parse(b"*0\r\n"), Parsed::Error));
        assert!(matches!(parse(b"*1025\r\n"), Parsed::Error));
        assert!(matches!(parse(b"*1\r\n$0\r\n\r\n"), Parsed::Error));
        assert!(matches!(parse(b"*1\r\n$2\r\nabcd"), Parsed::Error));
        assert!(matches!(parse(b"*1\r\n:1\r\n"), Parsed::Error));
        assert!(matches!(parse(b"*99999999999999999999\r\n"), Parsed::Error));
    }

    #[test]
    fn replies_in_human_form() {
        let mut o = Vec::new();
        human(&mut o, b"*3\r\n:1\r\n$2\r\nab\r\n$-1\r\n");
        assert_eq!(o, b"[1,\"ab\",NULL]");
        let mut o = Vec::new();
        human(&mut o, b"+OK\r\n");
        assert_eq!(o, b"\"+OK\"");
        let mut o = Vec::new();
        human(&mut o, b"%1\r\n+a\r\n,1.5\r\n");
        assert_eq!(o, b"{\"+a\" => (double) 1.5}");
        let mut o = Vec::new();
        assert!(human(&mut o, b"*5\r\n:1\r\n").is_none());
    }
}
