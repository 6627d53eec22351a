//! redis.conf parsing: the config file, then `--name value` command-line options
//! (which Redis treats as extra lines appended to the file).

use super::{Config, P};

/// A fatal problem in the configuration: where and why, printed as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line number in the combined text.
    pub line: usize,
    /// The offending line.
    pub text: String,
    /// Why it was refused.
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (ferrokv, Redis 7.0.15 compatible) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}",
            self.line, self.text, self.reason
        )
    }
}

/// What applying a configuration produced besides the values.
#[derive(Debug, Default)]
pub struct Applied {
    /// Directives Redis knows that ferrokv does not implement (skipped).
    pub ignored: Vec<String>,
    /// The `user` lines (name and rules), validated, to create once the engine
    /// exists (Redis's UsersToLoad).
    pub users: Vec<Vec<String>>,
    /// `rename-command old new` lines, in order (an empty new name removes the
    /// command), for [`crate::commands::Registry::rename`].
    pub renames: Vec<(String, String)>,
}

/// Splits a line like Redis's `sdssplitargs` (quotes and escapes).
pub fn split_line(line: &str) -> Option<Vec<String>> {
    let mut p = ferrokv_resp::RequestParser::default();
    let mut buf = line.as_bytes().to_vec();
    buf.push(b'\n');
    match p.parse(&buf) {
        Ok(Some(_)) => Some(
            p.args(&buf)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// Turns `--port 7000 --save "" --loglevel verbose` into config lines as
/// redis-server's main() does: `--name` starts a line, every other argument is
/// appended quoted (so `--port 6379 6380` reads `port "6379" "6380"`); an
/// argument holding a name and its value (`"--port 7000"`) is a whole line, after
/// which a `--word` may be a value (`--proc-title-template --my--title`); `--save`
/// followed by another option or last means `save ""`.
pub fn options_to_lines(args: &[String]) -> String {
    let mut out = String::new();
    // Whether the last option got a value: only then does `--x` start an option.
    let mut handled_last = true;
    for (j, a) in args.iter().enumerate() {
        if handled_last && a.starts_with("--") {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&a[2..]);
            out.push(' ');
            let parts = split_line(a).map_or(1, |v| v.len());
            if parts == 1 {
                handled_last = false;
                let last = j + 1 == args.len();
                let next_is_option = !last && args[j + 1].starts_with("--");
                if a.eq_ignore_ascii_case("--save") && (next_is_option || last) {
                    out.push_str("\"\"");
                    handled_last = next_is_option;
                } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
        } else {
            out.push_str(&super::rewrite::repr(a));
            out.push(' ');
            handled_last = true;
        }
    }
    out.push('\n');
    out
}

/// Applies config text to `cfg` (startup: immutable parameters allowed).
pub fn apply(cfg: &Config, text: &str) -> Result<Applied, ConfigError> {
    let mut applied = Applied::default();
    let mut save_seen = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: &str| ConfigError {
            line: i + 1,
            text: line.to_string(),
            reason: reason.to_string(),
        };
        let Some(args) = split_line(line) else {
            return Err(err("Unbalanced quotes in configuration line"));
        };
        let Some(name) = args.first() else { continue };
        let name = name.to_ascii_lowercase();
        let values = &args[1..];
        if name == "user" && !values.is_empty() {
            let pubsub_all = cfg.string(P::AclPubsubDefault) == "allchannels";
            if let Err((idx, why)) =
                crate::acl::file::check_config_user(values, &applied.users, pubsub_all)
            {
                let at = args.get(idx).map(String::as_str).unwrap_or_default();
                return Err(err(&format!("Error in user declaration '{at}': {why}")));
            }
            applied.users.push(values.to_vec());
            continue;
        }
        if name == "rename-command" && values.len() == 2 {
            let from = values[0].to_ascii_lowercase();
            let known = crate::commands::meta::redis_commands().contains_key(&from)
                && !applied.renames.iter().any(|(f, _)| *f == from);
            if !known {
                return Err(err("No such command in rename-command"));
            }
            let to = values[1].to_ascii_lowercase();
            if !to.is_empty()
                && (crate::commands::meta::redis_commands().contains_key(&to)
                    || applied.renames.iter().any(|(_, t)| *t == to))
            {
                return Err(err("Target command name already exists"));
            }
            applied.renames.push((from, to));
            continue;
        }
        if matches!(name.as_str(), "replicaof" | "slaveof") {
            // Checked as Redis's loadServerConfigFromString does; a multi-argument
            // config given as one argument (`--replicaof "host port"`) is split
            // on spaces first, as there.
            let split: Vec<&str> = match values {
                [one] => one.split(' ').collect(),
                many => many.iter().map(String::as_str).collect(),
            };
            if split.len() != 2 {
                return Err(err("Bad directive or wrong number of arguments"));
            }
            if !split[1]
                .parse::<i64>()
                .is_ok_and(|p| (0..=65535).contains(&p))
            {
                return Err(err("Invalid master port"));
            }
        }
        match Config::find(&name) {
            Some((_, p)) => {
                let value = if name == "save" {
                    // Each `save` line adds a point; the first one replaces the default.
                    let mut v = if save_seen {
                        cfg.string(P::Save)
                    } else {
                        String::new()
                    };
                    save_seen = true;
                    let add = values.join(" ");
                    if add.is_empty() {
                        // `save ""` clears every save point (later lines add again).
                        v.clear();
                    } else {
                        if !v.is_empty() {
                            v.push(' ');
                        }
                        v.push_str(&add);
                    }
                    v
                } else if matches!(
                    p.kind,
                    super::Kind::Bind
                        | super::Kind::Words
                        | super::Kind::ObufLimits
                        | super::Kind::Flags(_)
                ) {
                    values.join(" ")
                } else {
                    if values.len() != 1 {
                        return Err(err("wrong number of arguments"));
                    }
                    values[0].clone()
                };
                cfg.set(p.name, &value, true)
                    .map_err(|reason| err(&reason))?;
                if Config::is_accepted_only(p.name) {
                    applied.ignored.push(p.name.to_string());
                }
            }
            None if Config::is_redis_directive(&name) => applied.ignored.push(name),
            None => return Err(err("Bad directive or wrong number of arguments")),
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_options() {
        let cfg = Config::default();
        let text =
            "# comment\nport 7000\nsave 900 1\nsave 300 10\nbind 127.0.0.1 ::1\nactiverehashing yes\n";
        let a = apply(&cfg, text).unwrap();
        assert_eq!(cfg.int(P::Port), 7000);
        assert_eq!(cfg.string(P::Save), "900 1 300 10");
        assert_eq!(cfg.string(P::Bind), "127.0.0.1 ::1");
        assert_eq!(a.ignored, vec!["activerehashing".to_string()]);
        let opts = options_to_lines(&["--port".into(), "7001".into(), "--save".into(), "".into()]);
        apply(&cfg, &opts).unwrap();
        assert_eq!(cfg.int(P::Port), 7001);
        assert_eq!(cfg.string(P::Save), "");
        assert!(apply(&cfg, "nosuchthing 1\n").is_err());
    }
}
