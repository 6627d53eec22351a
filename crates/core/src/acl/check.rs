//! The permission check (Redis's ACLCheckAllUserCommandPerm): a command is allowed
//! when one selector allows the command, every key it names with the access it
//! makes, and every channel it publishes or subscribes to.

use super::table::table;
use super::user::{Selector, User, ALLCHANNELS, ALLCOMMANDS, ALLKEYS, PERM_READ, PERM_WRITE};
use crate::commands::meta::{CommandMeta, Flags, KeyFlags, KeyRefs};
use crate::glob::glob_match;

/// Why a command was refused; the position is the argument (key or channel) that
/// no selector allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command or subcommand.
    Command,
    /// A key, at this argument position.
    Key(usize),
    /// A channel, at this argument position.
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (0, 0),
            Denied::Key(i) => (1, i),
            Denied::Channel(i) => (2, i),
        }
    }

    /// The argument position (0 for a command).
    pub fn pos(self) -> usize {
        self.rank().1
    }

    /// The NOPERM error of a refused top-level command (processCommand).
    pub fn error(self, cmd: &CommandMeta) -> String {
        match self {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                cmd.name
            ),
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }

    /// getAclErrorMessage (scripts: "The user executing the script ...").
    pub fn message(self) -> &'static str {
        match self {
            Denied::Command => "can't run this command or subcommand",
            Denied::Key(_) => {
                "can't access at least one of the keys mentioned in the command arguments"
            }
            Denied::Channel(_) => "can't publish to the channel mentioned in the command",
        }
    }

    /// The reason EXEC gives when the rules changed after queueing.
    pub fn exec_reason(self) -> &'static str {
        match self {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        }
    }
}

/// Channel arguments of the pub/sub commands (Redis's getChannelsFromCommand,
/// publish and subscribe only: unsubscribing is always allowed).
fn channels(cmd: &CommandMeta, args: &[&[u8]], mut f: impl FnMut(usize, bool) -> bool) -> bool {
    let (first, last, pattern) = match cmd.name.as_str() {
        "subscribe" | "ssubscribe" => (1, args.len(), false),
        "psubscribe" => (1, args.len(), true),
        "publish" | "spublish" => (1, 2.min(args.len()), false),
        _ => return true,
    };
    (first..last).all(|i| f(i, pattern))
}

fn has_channels(cmd: &CommandMeta) -> bool {
    // The flag first: a bit test for every other command instead of five
    // string comparisons.
    cmd.flags.has(Flags::PUBSUB)
        && matches!(
            cmd.name.as_str(),
            "subscribe" | "ssubscribe" | "psubscribe" | "publish" | "spublish"
        )
}

/// Whether one selector's channel list admits `channel` (a pattern from
/// PSUBSCRIBE only literally).
pub fn channel_in(list: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    list.iter().any(|p| {
        if is_pattern {
            p == channel
        } else {
            glob_match(p, channel, false)
        }
    })
}

fn key_perm(flags: KeyFlags) -> u8 {
    let mut p = 0;
    if flags.has(KeyFlags::ACCESS) {
        p |= PERM_READ;
    }
    if flags.intersects(KeyFlags::INSERT | KeyFlags::DELETE | KeyFlags::UPDATE) {
        p |= PERM_WRITE;
    }
    p
}

/// Whether the selector admits `key` for an access with these key-spec flags.
pub fn key_allowed(s: &Selector, key: &[u8], flags: KeyFlags) -> bool {
    if s.flags & ALLKEYS != 0 {
        return true;
    }
    let need = key_perm(flags);
    s.patterns
        .iter()
        .any(|p| p.perm & need == need && pattern_matches(p, key))
}

/// A key pattern against a key: `prefix*` (the usual form, `~app:*`) is a
/// prefix comparison, anything else the glob matcher.
#[inline]
fn pattern_matches(p: &super::user::KeyPattern, key: &[u8]) -> bool {
    match p.prefix {
        // As Redis's stringmatchlen, `*` does not match an empty key.
        Some(n) => !key.is_empty() && key.starts_with(&p.pattern[..n]),
        None => glob_match(&p.pattern, key, false),
    }
}

/// Whether every key pattern of the selector allows reads and writes: what a
/// command does with a key then does not matter, only where the key is.
fn flags_irrelevant(s: &Selector) -> bool {
    s.patterns.iter().all(|p| p.perm == PERM_READ | PERM_WRITE)
}

fn selector_check(
    s: &Selector,
    id: usize,
    cmd: &CommandMeta,
    args: &[&[u8]],
    keys: &mut Option<KeyRefs>,
) -> Result<(), Denied> {
    if s.flags & ALLCOMMANDS == 0 && !cmd.flags.has(Flags::NO_AUTH) && !s.bit(id) {
        let sub = table().parent.get(id).is_some_and(Option::is_some);
        let idx = if sub { 2 } else { 1 };
        let ok = args.len() >= 2
            && s.firstargs.iter().any(|(c, list)| {
                *c == id
                    && args
                        .get(idx)
                        .is_some_and(|a| list.iter().any(|x| x.eq_ignore_ascii_case(a)))
            });
        if !ok {
            return Err(Denied::Command);
        }
    }
    if s.flags & ALLKEYS == 0 {
        let single = if flags_irrelevant(s) {
            cmd.single_key_position(args)
        } else {
            cmd.single_key(args)
        };
        if let Some(single) = single {
            if let Some((pos, flags)) = single {
                if !key_allowed(s, args[pos], flags) {
                    return Err(Denied::Key(pos));
                }
            }
        } else if cmd.has_keys() {
            let keys = keys.get_or_insert_with(|| cmd.keys(args));
            for k in keys.iter() {
                if let Some(key) = args.get(k.pos) {
                    if !key_allowed(s, key, k.flags) {
                        return Err(Denied::Key(k.pos));
                    }
                }
            }
        }
    }
    if s.flags & ALLCHANNELS == 0 && has_channels(cmd) {
        let mut bad = None;
        channels(cmd, args, |i, pattern| {
            if channel_in(&s.channels, args[i], pattern) {
                true
            } else {
                bad = Some(i);
                false
            }
        });
        if let Some(i) = bad {
            return Err(Denied::Channel(i));
        }
    }
    Ok(())
}

/// Checks `cmd` with `args` (argv, name included) for `user`. The error is the one
/// Redis reports: the command when no selector allows it, else the last key or
/// channel that no selector could match.
pub fn check(user: &User, cmd: &CommandMeta, args: &[&[u8]]) -> Result<(), Denied> {
    check_id(user, table().id_of(cmd), cmd, args)
}

/// [`check`] with the command's ACL id known.
pub fn check_id(user: &User, id: usize, cmd: &CommandMeta, args: &[&[u8]]) -> Result<(), Denied> {
    let mut keys = None;
    let mut worst = Denied::Command;
    for s in &user.selectors {
        match selector_check(s, id, cmd, args, &mut keys) {
            Ok(()) => return Ok(()),
            Err(e) => {
                if e.rank() > worst.rank() {
                    worst = e;
                }
            }
        }
    }
    Err(worst)
}

/// Whether `user` may subscribe to / publish on `channel` (any selector).
pub fn channel_allowed(user: &User, channel: &[u8], is_pattern: bool) -> bool {
    user.selectors
        .iter()
        .any(|s| s.flags & ALLCHANNELS != 0 || channel_in(&s.channels, channel, is_pattern))
}

/// Whether some selector of `user` allows the command and an access with `flags`
/// to every key (`%R~*`, `~*` or allkeys): Redis's
/// ACLUserCheckCmdWithUnrestrictedKeyAccess (SORT BY/GET patterns).
pub fn unrestricted_key_access(
    user: &User,
    cmd: &CommandMeta,
    args: &[&[u8]],
    flags: KeyFlags,
) -> bool {
    let id = table().id_of(cmd);
    let mut keys = None;
    let need = key_perm(flags);
    user.selectors.iter().any(|s| {
        selector_check(s, id, cmd, args, &mut keys).is_ok()
            && (s.flags & ALLKEYS != 0
                || s.patterns
                    .iter()
                    .any(|p| p.perm & need == need && p.pattern == b"*"))
    })
}

/// The channels of `old` that `new` no longer grants, as Redis's
/// ACLKillPubsubClientsIfNeeded decides: `None` when subscribers keep everything
/// (some new selector has allchannels, or the new channel list contains every old
/// one), otherwise the new channel list to check each subscription against.
pub fn revoked_channels(old: &User, new: &User) -> Option<Vec<Vec<u8>>> {
    if new.selectors.iter().any(|s| s.flags & ALLCHANNELS != 0) {
        return None;
    }
    let upcoming: Vec<Vec<u8>> = new
        .selectors
        .iter()
        .flat_map(|s| s.channels.iter().cloned())
        .collect();
    let kept = old
        .selectors
        .iter()
        .all(|s| s.flags & ALLCHANNELS == 0 && s.channels.iter().all(|c| upcoming.contains(c)));
    if kept {
        None
    } else {
        Some(upcoming)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_patterns_match_as_the_glob_does() {
        let patterns: [&[u8]; 8] = [
            b"app:*", b"*", b"a\\*b*", b"a?*", b"[ab]*", b"x*y*", b"key", b"",
        ];
        let keys: [&[u8]; 8] = [
            b"app:1", b"app:", b"a*bc", b"ab", b"bx", b"xzy", b"key", b"",
        ];
        for p in patterns {
            let kp = super::super::user::KeyPattern::new_for_test(p);
            for k in keys {
                assert_eq!(
                    pattern_matches(&kp, k),
                    glob_match(p, k, false),
                    "{:?} ~ {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(k)
                );
            }
        }
    }
}
