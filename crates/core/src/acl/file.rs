//! The ACL file (aclfile: ACL LOAD / ACL SAVE, loaded at startup) and the `user`
//! lines of the config file, with Redis's validation and error texts.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::user::{merge_selector_args, RuleError, User};
use super::Acl;

fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

/// Parses an ACL file's text into a full user set (Redis's ACLLoadFromFile). `Err`
/// is the one-line description of every problem; nothing is to be applied then.
/// `filename` is the aclfile setting, as the messages quote it.
pub fn parse(
    text: &[u8],
    filename: &str,
    pubsub_all: bool,
) -> Result<BTreeMap<Vec<u8>, Arc<User>>, String> {
    let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(raw, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{filename}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(name, pubsub_all);
        let ops = match merge_selector_args(&argv[2..]) {
            Ok(ops) => ops,
            Err(_) => {
                errors.push_str(&format!(
                    "{filename}:{linenum}: Unmatched parenthesis in selector definition."
                ));
                Vec::new()
            }
        };
        let mut syntax_error = false;
        for op in &ops {
            let op = trim(op, b"\t\r\n");
            if let Err(e) = u.apply(op, pubsub_all) {
                if e == RuleError::UnknownCommand {
                    errors.push_str(&format!(
                        "{filename}:{linenum}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(op),
                        e.text()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{filename}:{linenum}: {}. ", e.text()));
                    syntax_error = true;
                }
            }
        }
        users.insert(name.to_vec(), u);
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(b"default".to_vec())
        .or_insert_with(User::new_default);
    Ok(users.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = s {
        if set.contains(first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if set.contains(last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Reads `path` and parses it; the error texts are Redis's.
pub fn load(path: &str, pubsub_all: bool) -> Result<BTreeMap<Vec<u8>, Arc<User>>, String> {
    let text = std::fs::read(path).map_err(|e| {
        let why = e.to_string();
        let why = why.split(" (os error").next().unwrap_or(&why).to_string();
        format!("Error loading ACLs, opening file '{path}': {why}")
    })?;
    parse(&text, path, pubsub_all)
}

/// The file ACL SAVE writes: one `user <name> <rules>` line per user, by name.
pub fn render(acl: &Acl) -> Vec<u8> {
    let mut out = Vec::new();
    for u in acl.users() {
        out.extend_from_slice(b"user ");
        out.extend_from_slice(&u.name);
        out.push(b' ');
        out.extend_from_slice(&u.describe());
        out.push(b'\n');
    }
    out
}

/// What CONFIG REWRITE writes for the users (Redis's rewriteConfigUserOption):
/// nothing when an aclfile holds them, else one `user <name> <rules>` line each.
pub fn config_lines(acl: &Acl, aclfile: &str) -> Vec<String> {
    if !aclfile.is_empty() {
        return Vec::new();
    }
    acl.users()
        .iter()
        .map(|u| {
            format!(
                "user {} {}",
                String::from_utf8_lossy(&u.name),
                String::from_utf8_lossy(&u.describe())
            )
        })
        .collect()
}

/// Writes the users to `path` through a temporary file and a rename.
pub fn save(acl: &Acl, path: &str) -> std::io::Result<()> {
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let r = std::fs::write(&tmp, render(acl)).and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// Validates one `user` line of the config file (Redis's
/// ACLAppendUserForLoading): `Err` is the reason to print. Unknown commands are
/// only reported when the users are created.
/// `Err((i, why))`: `i` is the index in the whole line (`user` is 0) that Redis
/// quotes (for a rule, the index of the rule among the rules, as Redis does).
pub fn check_config_user(
    args: &[String],
    seen: &[Vec<String>],
    pubsub_all: bool,
) -> Result<(), (usize, String)> {
    let Some(name) = args.first() else {
        return Err((0, RuleError::Syntax.text().into()));
    };
    if seen.iter().any(|s| s.first() == Some(name)) {
        return Err((
            1,
            "Duplicate user found. A user can only be defined once in config files".into(),
        ));
    }
    let rules: Vec<&[u8]> = args[1..].iter().map(|s| s.as_bytes()).collect();
    let ops = merge_selector_args(&rules).map_err(|i| (i + 2, "Syntax error".to_string()))?;
    let mut u = User::new(name.as_bytes(), pubsub_all);
    for (j, op) in ops.iter().enumerate() {
        if let Err(e) = u.apply(op, pubsub_all) {
            if e != RuleError::UnknownCommand {
                return Err((j, e.text().into()));
            }
        }
    }
    Ok(())
}

/// Creates the users of the config file's `user` lines (Redis's
/// ACLLoadConfiguredUsers), then loads the aclfile if one is set. Using both is
/// refused, as Redis does.
pub fn load_at_startup(
    acl: &Acl,
    lines: &[Vec<String>],
    aclfile: &str,
    pubsub_all: bool,
) -> Result<(), String> {
    if !aclfile.is_empty() && !lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    for line in lines {
        let Some(name) = line.first() else { continue };
        if has_spaces(name.as_bytes()) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let rules: Vec<&[u8]> = line[1..].iter().map(|s| s.as_bytes()).collect();
        let ops = merge_selector_args(&rules).map_err(|_| "Syntax error".to_string())?;
        let mut u = match acl.get(name.as_bytes()) {
            Some(existing) => {
                let mut u = (*existing).clone();
                let _ = u.apply(b"reset", pubsub_all);
                u
            }
            None => User::new(name.as_bytes(), pubsub_all),
        };
        for op in &ops {
            u.apply(op, pubsub_all).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{name}': {}",
                    String::from_utf8_lossy(op),
                    e.text()
                )
            })?;
        }
        let mut all: BTreeMap<Vec<u8>, Arc<User>> = acl
            .users()
            .into_iter()
            .map(|u| (u.name.clone(), u))
            .collect();
        all.insert(name.as_bytes().to_vec(), Arc::new(u));
        acl.replace_all(all);
    }
    if !aclfile.is_empty() {
        let users = load(aclfile, pubsub_all)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        acl.replace_all(users);
    }
    Ok(())
}
