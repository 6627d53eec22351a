//! The interactive mode: a rustyline prompt like redis-cli's, with its history file,
//! quoting rules, hints, help and reconnection.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::rc::Rc;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::docs::Docs;
use crate::session::{Fatal, Session};

/// Hints and completion from the command docs.
struct ReplHelper {
    docs: Rc<Docs>,
    hints: Rc<RefCell<bool>>,
}

impl Helper for ReplHelper {}
impl Validator for ReplHelper {}

impl Hinter for ReplHelper {
    type Hint = String;
    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if !*self.hints.borrow() || pos < line.len() {
            return None;
        }
        self.docs.hint(line)
    }
}

impl Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        // Dark grey, as redis-cli shows its hints.
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }
}

impl Completer for ReplHelper {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = &line[..pos];
        if before.contains(' ') {
            return Ok((pos, Vec::new()));
        }
        let lower = before.to_lowercase();
        let upper = before
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase());
        let found = self
            .docs
            .commands
            .keys()
            .filter(|k| !k.contains(' ') && k.starts_with(&lower))
            .map(|k| if upper { k.to_uppercase() } else { k.clone() })
            .collect();
        Ok((0, found))
    }
}

fn history_path() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("REDISCLI_HISTFILE") {
        return if p.is_empty() { None } else { Some(p.into()) };
    }
    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".ferrokvcli_history"))
}

/// Lines that carry passwords stay out of the history file.
fn is_sensitive(args: &[Vec<u8>]) -> bool {
    let lc = |i: usize| {
        args.get(i)
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default()
    };
    match lc(0).as_slice() {
        b"auth" => true,
        b"hello" => args.iter().any(|a| a.eq_ignore_ascii_case(b"auth")),
        b"migrate" => args
            .iter()
            .any(|a| a.eq_ignore_ascii_case(b"auth") || a.eq_ignore_ascii_case(b"auth2")),
        b"acl" => lc(1) == b"setuser",
        b"config" => lc(1) == b"set" && (lc(2) == b"masterauth" || lc(2) == b"requirepass"),
        _ => false,
    }
}

fn prompt(s: &Session) -> String {
    if s.conn.is_none() {
        return "not connected> ".into();
    }
    let mut p = match &s.config.socket {
        Some(path) => format!("redis {path}"),
        None => format!("{}:{}", s.config.host, s.config.port),
    };
    if s.dbnum != 0 {
        p.push_str(&format!("[{}]", s.dbnum));
    }
    if s.in_multi {
        p.push_str("(TX)");
    }
    p.push_str("> ");
    p
}

fn load_docs(s: &mut Session) -> Docs {
    let reply = match s.conn.as_mut() {
        Some(c) => c.call(&[b"COMMAND".to_vec(), b"DOCS".to_vec()]).ok(),
        None => None,
    };
    match reply {
        Some(r) if !r.is_error() => {
            let docs = Docs::from_reply(&r);
            if docs.commands.is_empty() {
                Docs::builtin()
            } else {
                docs
            }
        }
        _ => Docs::builtin(),
    }
}

fn print_help_intro() {
    println!("{}", crate::usage::version());
    println!("To get help about Redis commands type:");
    println!("      \"help @<group>\" to get a list of commands in <group>");
    println!("      \"help <command>\" for help on <command>");
    println!("      \"help <tab>\" to get a list of possible help topics");
    println!("      \"quit\" to exit");
    println!();
    println!("To set ferrokv-cli preferences:");
    println!("      \":set hints\" enable online hints");
    println!("      \":set nohints\" disable online hints");
}

/// Ctrl-C while a command runs (a blocking BLPOP, SUBSCRIBE) ends the session with
/// status 1, as redis-cli does. At the prompt the terminal is raw and Ctrl-C is a key.
extern "C" fn on_sigint(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe and takes no locks.
    unsafe { libc::_exit(1) }
}

pub fn run(mut s: Session) -> Result<ExitCode, Fatal> {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: installs a handler that only calls an async-signal-safe function.
    unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
    if let Err(m) = s.ensure_connected() {
        eprintln!("{m}");
    }
    let docs = Rc::new(load_docs(&mut s));
    let hints = Rc::new(RefCell::new(true));
    let mut rl: Editor<ReplHelper, DefaultHistory> = match Editor::new() {
        Ok(e) => e,
        Err(e) => return Err(Fatal::Message(format!("Cannot start the line editor: {e}"))),
    };
    rl.set_helper(Some(ReplHelper {
        docs: Rc::clone(&docs),
        hints: Rc::clone(&hints),
    }));
    let hist = history_path();
    if let Some(h) = &hist {
        let _ = rl.load_history(h);
    }
    loop {
        let line = match rl.readline(&prompt(&s)) {
            Ok(l) => l,
            // Ctrl-C and Ctrl-D at the prompt leave, as in redis-cli.
            Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Fatal::Message(format!("Error reading input: {e}"))),
        };
        let Some(mut args) = crate::split::split_args(line.as_bytes()) else {
            println!("Invalid argument(s)");
            continue;
        };
        if args.is_empty() {
            continue;
        }
        if !is_sensitive(&args) {
            let _ = rl.add_history_entry(line.as_str());
            if let Some(h) = &hist {
                let _ = rl.save_history(h);
            }
        }
        let name = args[0].to_ascii_lowercase();
        match name.as_slice() {
            b"quit" | b"exit" => break,
            b"help" | b"?" => {
                let words: Vec<String> = args[1..]
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                if words.is_empty() {
                    print_help_intro();
                } else {
                    print!("{}", docs.help(&words));
                }
                continue;
            }
            b"clear" => {
                print!("\x1b[H\x1b[2J");
                let _ = std::io::stdout().flush();
                continue;
            }
            b":set" if args.len() == 2 => {
                match args[1].to_ascii_lowercase().as_slice() {
                    b"hints" => *hints.borrow_mut() = true,
                    b"nohints" => *hints.borrow_mut() = false,
                    _ => {}
                }
                continue;
            }
            b"connect" if args.len() >= 2 => {
                s.config.host = String::from_utf8_lossy(&args[1]).into_owned();
                if let Some(p) = args.get(2) {
                    s.config.port = crate::args::atoi(&String::from_utf8_lossy(p)) as u16;
                }
                s.config.socket = None;
                s.conn = None;
                if let Err(m) = s.ensure_connected() {
                    eprintln!("{m}");
                }
                continue;
            }
            _ => {}
        }
        // A leading number repeats the command: `3 incr x`.
        let mut repeat = 1;
        if args.len() > 1 {
            if let Ok(n) = String::from_utf8_lossy(&args[0]).parse::<i64>() {
                repeat = n;
                args.remove(0);
            }
        }
        if s.conn.is_none() {
            if let Err(m) = s.ensure_connected() {
                eprintln!("{m}");
                continue;
            }
        }
        match s.run_command(&args, repeat) {
            Ok(()) => {}
            Err(Fatal::Message(m)) => eprintln!("{m}"),
            Err(Fatal::Silent) => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a password from the terminal with each typed character shown as `*`.
pub fn ask_password(prompt: &str) -> Vec<u8> {
    use std::io::IsTerminal;
    // Without a terminal the password is just the first line of stdin.
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        print!("{prompt}");
        let _ = std::io::stdout().flush();
    }
    let mut stdin = std::io::stdin();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it or fails, checked below.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is stdin and `saved` is a valid termios to fill.
    let is_tty = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if is_tty {
        let mut raw = saved;
        raw.c_lflag &= !(libc::ECHO | libc::ICANON);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: `raw` is a valid termios derived from the current settings.
        unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &raw) };
    }
    let mut pass = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = stdin.read(&mut byte) {
        match byte[0] {
            b'\n' | b'\r' => break,
            0x7f | 0x08 => {
                if pass.pop().is_some() && is_tty {
                    print!("\x08 \x08");
                }
            }
            c => {
                pass.push(c);
                if is_tty {
                    print!("*");
                }
            }
        }
        let _ = std::io::stdout().flush();
    }
    if is_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &saved) };
    }
    if interactive {
        println!();
    }
    pass
}
