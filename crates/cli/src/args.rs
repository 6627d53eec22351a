//! Command-line options, parsed the way redis-cli parses them: options come first, an
//! option that takes a value is unknown when it is the last argument, and the first
//! argument that does not start with `-` begins the command.

use std::time::Duration;

/// Everything the command line sets.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub socket: Option<String>,
    pub password: Option<Vec<u8>>,
    pub user: Option<Vec<u8>>,
    pub askpass: bool,
    pub repeat: i64,
    pub interval: Duration,
    pub dbnum: i64,
    /// 2 or 3; `None` until -2/-3 or a mode that implies one.
    pub resp: Option<u8>,
    pub stdin_last_arg: bool,
    pub stdin_tag: Option<Vec<u8>>,
    pub bulk_delim: Vec<u8>,
    pub cmd_delim: Vec<u8>,
    pub cluster_mode: bool,
    pub exit_on_error: bool,
    pub tls: TlsOptions,
    pub raw: Option<bool>,
    pub csv: bool,
    pub json: bool,
    pub quoted_json: bool,
    pub quoted_input: bool,
    pub show_pushes: Option<bool>,
    pub mode: Mode,
    pub pattern: Option<Vec<u8>>,
    pub pipe_timeout: u64,
    pub memkeys_samples: u64,
    pub eval_file: Option<String>,
    pub no_auth_warning: bool,
    /// Set when the password came from -a or -u: redis-cli then warns.
    pub password_on_cmdline: bool,
    pub verbose: bool,
    /// The command and its arguments, when one is given.
    pub command: Vec<Vec<u8>>,
}

/// TLS settings (`--tls` and friends, or a `rediss://` URI).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub enabled: bool,
    pub sni: Option<String>,
    pub cacert: Option<String>,
    pub cacertdir: Option<String>,
    pub insecure: bool,
    pub cert: Option<String>,
    pub key: Option<String>,
}

/// What ferrokv-cli does after connecting.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// A command from the command line, or the REPL / stdin script when there is none.
    Normal,
    Stat,
    Latency,
    LatencyHistory,
    LatencyDist,
    Rdb(String),
    FunctionsRdb(String),
    Pipe,
    BigKeys,
    MemKeys,
    HotKeys,
    Scan,
    IntrinsicLatency(i64),
    LruTest(i64),
    Replica,
    Cluster(Vec<String>),
}

/// Why the command line was rejected, or what it asked for instead of running.
#[derive(Debug, PartialEq)]
pub enum ArgsOutcome {
    /// Print this to stderr and exit 1.
    Error(String),
    Help,
    Version,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 6379,
            socket: None,
            password: None,
            user: None,
            askpass: false,
            repeat: 1,
            interval: Duration::ZERO,
            dbnum: 0,
            resp: None,
            stdin_last_arg: false,
            stdin_tag: None,
            bulk_delim: b"\n".to_vec(),
            cmd_delim: b"\n".to_vec(),
            cluster_mode: false,
            exit_on_error: false,
            tls: TlsOptions::default(),
            raw: None,
            csv: false,
            json: false,
            quoted_json: false,
            quoted_input: false,
            show_pushes: None,
            mode: Mode::Normal,
            pattern: None,
            pipe_timeout: 30,
            memkeys_samples: 0,
            eval_file: None,
            no_auth_warning: false,
            password_on_cmdline: false,
            verbose: false,
            command: Vec::new(),
        }
    }
}

/// C's `atoi`: leading spaces, an optional sign, digits; anything else stops it, and
/// no digits at all is 0. redis-cli reads its numeric options this way.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// C's `strtod` on the longest numeric prefix (0 when there is none).
fn strtod(s: &str) -> f64 {
    let t = s.trim_start();
    (1..=t.len())
        .rev()
        .filter(|&n| t.is_char_boundary(n))
        .find_map(|n| t[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Config, ArgsOutcome> {
    let mut c = Config::default();
    let mut i = 0;
    let n = args.len();
    let mut want_resp2 = false;
    let mut want_resp3 = false;
    while i < n {
        let a = args[i].as_str();
        let has_value = i + 1 < n;
        // The value of an option that takes one; only valid when it is not last.
        let take = |i: &mut usize| -> String {
            *i += 1;
            args[*i].clone()
        };
        match a {
            "-h" if !has_value => return Err(ArgsOutcome::Help),
            "--help" => return Err(ArgsOutcome::Help),
            "-v" | "--version" => return Err(ArgsOutcome::Version),
            "-h" => c.host = take(&mut i),
            "-p" if has_value => c.port = atoi(&take(&mut i)) as u16,
            "-s" if has_value => c.socket = Some(take(&mut i)),
            "-a" | "--pass" if has_value => {
                c.password = Some(take(&mut i).into_bytes());
                c.password_on_cmdline = true;
            }
            "--user" if has_value => c.user = Some(take(&mut i).into_bytes()),
            "--askpass" => c.askpass = true,
            "-u" if has_value => parse_uri(&take(&mut i), &mut c)?,
            "-r" if has_value => c.repeat = atoi(&take(&mut i)),
            "-i" if has_value => {
                let secs = strtod(&take(&mut i));
                c.interval = Duration::from_micros((secs * 1_000_000.0).max(0.0) as u64);
            }
            "-n" if has_value => c.dbnum = atoi(&take(&mut i)),
            "-2" => want_resp2 = true,
            "-3" => want_resp3 = true,
            "-x" => c.stdin_last_arg = true,
            "-X" if has_value => c.stdin_tag = Some(take(&mut i).into_bytes()),
            "-d" if has_value => c.bulk_delim = take(&mut i).into_bytes(),
            "-D" if has_value => c.cmd_delim = take(&mut i).into_bytes(),
            "-c" => c.cluster_mode = true,
            "-e" => c.exit_on_error = true,
            "--tls" => c.tls.enabled = true,
            "--sni" if has_value => c.tls.sni = Some(take(&mut i)),
            "--cacert" if has_value => c.tls.cacert = Some(take(&mut i)),
            "--cacertdir" if has_value => c.tls.cacertdir = Some(take(&mut i)),
            "--insecure" => c.tls.insecure = true,
            "--cert" if has_value => c.tls.cert = Some(take(&mut i)),
            "--key" if has_value => c.tls.key = Some(take(&mut i)),
            "--tls-ciphers" | "--tls-ciphersuites" if has_value => {
                // rustls picks its own safe cipher list; the value is accepted and unused.
                take(&mut i);
            }
            "--raw" => c.raw = Some(true),
            "--no-raw" => c.raw = Some(false),
            "--quoted-input" => c.quoted_input = true,
            "--csv" => c.csv = true,
            "--json" => c.json = true,
            "--quoted-json" => {
                c.json = true;
                c.quoted_json = true;
            }
            "--show-pushes" if has_value => {
                let v = take(&mut i);
                match v.to_ascii_lowercase().as_str() {
                    "yes" | "y" | "1" | "true" => c.show_pushes = Some(true),
                    "no" | "n" | "0" | "false" => c.show_pushes = Some(false),
                    // redis-cli complains and goes on.
                    _ => eprintln!("Unknown --show-pushes value '{v}' (valid: '[y]es', '[n]o')"),
                }
            }
            "--stat" => c.mode = Mode::Stat,
            "--latency" => c.mode = Mode::Latency,
            "--latency-history" => c.mode = Mode::LatencyHistory,
            "--latency-dist" => c.mode = Mode::LatencyDist,
            "--lru-test" if has_value => c.mode = Mode::LruTest(atoi(&take(&mut i))),
            "--replica" | "--slave" => c.mode = Mode::Replica,
            "--rdb" if has_value => c.mode = Mode::Rdb(take(&mut i)),
            "--functions-rdb" if has_value => c.mode = Mode::FunctionsRdb(take(&mut i)),
            "--pipe" => c.mode = Mode::Pipe,
            "--pipe-timeout" if has_value => c.pipe_timeout = atoi(&take(&mut i)).max(0) as u64,
            "--bigkeys" => c.mode = Mode::BigKeys,
            "--memkeys" => c.mode = Mode::MemKeys,
            "--memkeys-samples" if has_value => {
                c.mode = Mode::MemKeys;
                c.memkeys_samples = atoi(&take(&mut i)).max(0) as u64;
            }
            "--hotkeys" => c.mode = Mode::HotKeys,
            "--scan" => c.mode = Mode::Scan,
            "--pattern" if has_value => c.pattern = Some(take(&mut i).into_bytes()),
            "--quoted-pattern" if has_value => {
                let v = take(&mut i);
                match crate::split::split_args(v.as_bytes()) {
                    Some(mut parts) if parts.len() == 1 => c.pattern = parts.pop(),
                    _ => {
                        return Err(ArgsOutcome::Error(
                            "Invalid quoted string specified for --quoted-pattern.".into(),
                        ))
                    }
                }
            }
            "--intrinsic-latency" if has_value => {
                c.mode = Mode::IntrinsicLatency(atoi(&take(&mut i)))
            }
            "--eval" if has_value => c.eval_file = Some(take(&mut i)),
            "--ldb" | "--ldb-sync-mode" => {
                return Err(ArgsOutcome::Error(
                    "The Lua debugger (--ldb) is not supported by ferrokv-cli".into(),
                ))
            }
            "--cluster" if has_value => {
                c.mode = Mode::Cluster(args[i + 1..].to_vec());
                break;
            }
            "--verbose" => c.verbose = true,
            "--no-auth-warning" => c.no_auth_warning = true,
            _ if a.starts_with('-') => {
                return Err(ArgsOutcome::Error(format!(
                    "Unrecognized option or bad number of args for: '{a}'"
                )))
            }
            _ => {
                c.command = args[i..].iter().map(|s| s.clone().into_bytes()).collect();
                break;
            }
        }
        i += 1;
    }
    if want_resp2 && want_resp3 {
        return Err(ArgsOutcome::Error(
            "Options -2 and -3 are mutually exclusive.".into(),
        ));
    }
    if want_resp2 {
        c.resp = Some(2);
    } else if want_resp3 || c.json {
        // --json prints maps as objects, so it asks for RESP3 unless told -2.
        c.resp = Some(3);
    }
    Ok(c)
}

/// `redis://[[user]:password@]host[:port][/db]`; `rediss://` also turns TLS on.
fn parse_uri(uri: &str, c: &mut Config) -> Result<(), ArgsOutcome> {
    let rest = if let Some(r) = uri.strip_prefix("redis://") {
        r
    } else if let Some(r) = uri.strip_prefix("rediss://") {
        c.tls.enabled = true;
        r
    } else {
        return Err(ArgsOutcome::Error("Invalid URI scheme".into()));
    };
    let (userinfo, hostpart) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    if let Some(ui) = userinfo {
        match ui.split_once(':') {
            Some((user, pass)) => {
                // An empty user before the colon is still sent (redis-cli does so too).
                c.user = Some(percent_decode(user));
                c.password = Some(percent_decode(pass));
            }
            // `redis://secret@host`: a lone userinfo is the password.
            None => c.password = Some(percent_decode(ui)),
        }
        c.password_on_cmdline = true;
    }
    let (hostport, path) = match hostpart.find('/') {
        Some(s) => (&hostpart[..s], &hostpart[s + 1..]),
        None => (hostpart, ""),
    };
    let (host, port) = match hostport.rfind(':') {
        Some(p) if !hostport.ends_with(']') => (&hostport[..p], Some(&hostport[p + 1..])),
        _ => (hostport, None),
    };
    if !host.is_empty() {
        c.host = percent_decode_str(host.trim_start_matches('[').trim_end_matches(']'));
    }
    if let Some(p) = port {
        c.port = atoi(p) as u16;
    }
    if !path.is_empty() {
        c.dbnum = atoi(path);
    }
    Ok(())
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn percent_decode_str(s: &str) -> String {
    String::from_utf8_lossy(&percent_decode(s)).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Config, ArgsOutcome> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_and_command() {
        let c = p(&["-p", "7000", "-n", "2", "-3", "set", "-x", "y"]).unwrap();
        assert_eq!((c.port, c.dbnum, c.resp), (7000, 2, Some(3)));
        assert_eq!(
            c.command,
            vec![b"set".to_vec(), b"-x".to_vec(), b"y".to_vec()]
        );
        assert_eq!(
            p(&["-p"]).unwrap_err(),
            ArgsOutcome::Error("Unrecognized option or bad number of args for: '-p'".into())
        );
        assert_eq!(p(&["-h"]).unwrap_err(), ArgsOutcome::Help);
        assert_eq!(p(&["-p", "abc", "ping"]).unwrap().port, 0);
        assert!(matches!(p(&["-2", "-3"]), Err(ArgsOutcome::Error(_))));
    }

    #[test]
    fn uri() {
        let c = p(&["-u", "rediss://bob:p%40ss@example.com:7001/3"]).unwrap();
        assert_eq!(c.host, "example.com");
        assert_eq!((c.port, c.dbnum, c.tls.enabled), (7001, 3, true));
        assert_eq!(c.password.as_deref(), Some(&b"p@ss"[..]));
        assert_eq!(c.user.as_deref(), Some(&b"bob"[..]));
        assert_eq!(
            p(&["-u", "http://x"]).unwrap_err(),
            ArgsOutcome::Error("Invalid URI scheme".into())
        );
    }

    #[test]
    fn c_number_parsing() {
        assert_eq!(atoi(" 12abc"), 12);
        assert_eq!(atoi("x"), 0);
        assert_eq!(strtod("0.5s"), 0.5);
    }
}
