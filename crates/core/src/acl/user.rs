//! ACL users and selectors: the rules of ACL SETUSER (Redis 7.0's ACLSetUser and
//! ACLSetSelector) and their description back as rules (ACL LIST, GETUSER, SAVE).

use sha2::{Digest, Sha256};

use super::table::{table, FUTURE_BIT, WORDS};
use crate::commands::meta::Category;

/// User flag: `on`.
pub const ENABLED: u8 = 1;
/// User flag: `off`.
pub const DISABLED: u8 = 2;
/// User flag: `nopass`.
pub const NOPASS: u8 = 4;
/// User flag: `skip-sanitize-payload`.
pub const SKIP_SANITIZE: u8 = 8;
/// User flag: `sanitize-payload`.
pub const SANITIZE: u8 = 16;
/// The user flags in the order Redis describes them.
const USER_FLAGS: [(u8, &str); 5] = [
    (ENABLED, "on"),
    (DISABLED, "off"),
    (NOPASS, "nopass"),
    (SKIP_SANITIZE, "skip-sanitize-payload"),
    (SANITIZE, "sanitize-payload"),
];

/// Selector flag: every key.
pub const ALLKEYS: u8 = 1;
/// Selector flag: every channel.
pub const ALLCHANNELS: u8 = 2;
/// Selector flag: every command (no bit test needed).
pub const ALLCOMMANDS: u8 = 4;
/// Selector flag: the user's root selector.
pub const ROOT: u8 = 8;

/// Key permission: read.
pub const PERM_READ: u8 = 1;
/// Key permission: write.
pub const PERM_WRITE: u8 = 2;
/// Key permission: both (`~pattern`).
pub const PERM_ALL: u8 = 3;

/// Why a rule was refused (Redis's errno values of ACLSetUser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT: unknown command or category.
    UnknownCommand,
    /// EINVAL: not a rule, or a pattern with spaces.
    Syntax,
    /// EEXIST: a key pattern after `allkeys`.
    AfterAllKeys,
    /// EISDIR: a channel pattern after `allchannels`.
    AfterAllChannels,
    /// ENODEV: removing a password the user does not have.
    NoSuchPassword,
    /// EBADMSG: a malformed hash.
    BadHash,
    /// ECHILD: `+container|sub|arg`.
    SubcommandFirstArg,
}

impl RuleError {
    /// Redis's ACLSetUserStringError text.
    pub fn text(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::AfterAllKeys => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::AfterAllChannels => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

/// One key pattern with its permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// [`PERM_READ`] | [`PERM_WRITE`].
    pub perm: u8,
    /// Glob pattern.
    pub pattern: Vec<u8>,
    /// For a pattern that is a literal followed by one `*` (`app:*`): the
    /// literal's length, so that matching is a prefix comparison.
    pub prefix: Option<usize>,
}

impl KeyPattern {
    #[cfg(test)]
    pub(crate) fn new_for_test(pattern: &[u8]) -> KeyPattern {
        KeyPattern::new(PERM_ALL, pattern)
    }

    fn new(perm: u8, pattern: &[u8]) -> KeyPattern {
        let prefix = match pattern.split_last() {
            Some((&b'*', lit)) if !lit.iter().any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\')) => {
                Some(lit.len())
            }
            _ => None,
        };
        KeyPattern {
            perm,
            pattern: pattern.to_vec(),
            prefix,
        }
    }
}

impl KeyPattern {
    fn describe(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.perm {
            PERM_READ => b"%R~",
            PERM_WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

/// A set of permissions: the user's root one and any `(...)` selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// [`ALLKEYS`], [`ALLCHANNELS`], [`ALLCOMMANDS`], [`ROOT`].
    pub flags: u8,
    /// Allowed command ids (see [`super::table`]).
    pub allowed: [u64; WORDS],
    /// First arguments allowed for otherwise blocked commands (`+select|0`).
    pub firstargs: Vec<(usize, Vec<Vec<u8>>)>,
    /// Key patterns, in the order added.
    pub patterns: Vec<KeyPattern>,
    /// Channel patterns, in the order added.
    pub channels: Vec<Vec<u8>>,
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

impl Selector {
    /// A selector with no permissions (`pubsub_all`: acl-pubsub-default is
    /// allchannels).
    pub fn new(root: bool, pubsub_all: bool) -> Selector {
        Selector {
            flags: if root { ROOT } else { 0 } | if pubsub_all { ALLCHANNELS } else { 0 },
            allowed: [0; WORDS],
            firstargs: Vec::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// Whether command `id`'s bit is set.
    #[inline]
    pub fn bit(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.flags &= !ALLCOMMANDS;
        }
    }

    /// Allows or blocks a command, and with a container all its subcommands.
    fn change(&mut self, id: usize, on: bool) {
        self.set_bit(id, on);
        self.firstargs.retain(|(c, _)| *c != id);
        for &sub in &table().children[id] {
            self.set_bit(sub, on);
        }
    }

    fn category(&mut self, cat: Category, on: bool) {
        let t = table();
        for &top in &t.top {
            if t.cmds[top].acl_categories.has(cat) {
                self.change(top, on);
            }
            for &sub in &t.children[top] {
                if t.cmds[sub].acl_categories.has(cat) {
                    self.change(sub, on);
                }
            }
        }
    }

    fn all_commands(&mut self, on: bool) {
        self.allowed = [if on { u64::MAX } else { 0 }; WORDS];
        if on {
            self.flags |= ALLCOMMANDS;
        } else {
            self.flags &= !ALLCOMMANDS;
        }
        self.firstargs.clear();
    }

    fn add_firstarg(&mut self, id: usize, arg: &[u8]) {
        match self.firstargs.iter_mut().find(|(c, _)| *c == id) {
            Some((_, list)) => {
                if !list.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                    list.push(arg.to_vec());
                }
            }
            None => self.firstargs.push((id, vec![arg.to_vec()])),
        }
    }

    /// Applies one selector rule (Redis's ACLSetSelector).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            // `("")`: Redis reads the terminating NUL as an unknown rule.
            return Err(RuleError::Syntax);
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("allkeys") || is("~*") {
            self.flags |= ALLKEYS;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.flags &= !ALLKEYS;
            self.patterns.clear();
        } else if is("allchannels") || is("&*") {
            self.flags |= ALLCHANNELS;
            self.channels.clear();
        } else if is("resetchannels") {
            self.flags &= !ALLCHANNELS;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.all_commands(true);
        } else if is("nocommands") || is("-@all") {
            self.all_commands(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            if self.flags & ALLKEYS != 0 {
                return Err(RuleError::AfterAllKeys);
            }
            let mut perm = 0;
            let mut offset = 1;
            if op[0] == b'%' {
                while offset < op.len() {
                    let c = op[offset];
                    if c.eq_ignore_ascii_case(&b'r') && perm & PERM_READ == 0 {
                        perm |= PERM_READ;
                    } else if c.eq_ignore_ascii_case(&b'w') && perm & PERM_WRITE == 0 {
                        perm |= PERM_WRITE;
                    } else if c == b'~' {
                        offset += 1;
                        break;
                    } else {
                        return Err(RuleError::Syntax);
                    }
                    offset += 1;
                }
                // `%~pattern` grants nothing: refused (Redis 7.0.15 as Debian
                // ships it; a pattern without permissions has no description).
                if perm == 0 {
                    return Err(RuleError::Syntax);
                }
            } else {
                perm = PERM_ALL;
            }
            let pat = op.get(offset..).unwrap_or_default();
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            match self.patterns.iter_mut().find(|p| p.pattern == pat) {
                Some(p) => p.perm |= perm,
                None => self.patterns.push(KeyPattern::new(perm, pat)),
            }
            self.flags &= !ALLKEYS;
        } else if op[0] == b'&' {
            if self.flags & ALLCHANNELS != 0 {
                return Err(RuleError::AfterAllChannels);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pat) {
                self.channels.push(pat.to_vec());
            }
            self.flags &= !ALLCHANNELS;
        } else if op[0] == b'+' && op.get(1) != Some(&b'@') {
            let name = String::from_utf8_lossy(&op[1..]);
            let t = table();
            match name.rfind('|') {
                None => {
                    let id = t.id(&name).ok_or(RuleError::UnknownCommand)?;
                    self.change(id, true);
                }
                Some(bar) => {
                    let (base, sub) = (&name[..bar], &name[bar + 1..]);
                    let id = t.id(base).ok_or(RuleError::UnknownCommand)?;
                    if t.parent[id].is_some() {
                        return Err(RuleError::SubcommandFirstArg);
                    }
                    if sub.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !t.children[id].is_empty() {
                        let sid = t.id(&name).ok_or(RuleError::UnknownCommand)?;
                        self.change(sid, true);
                    } else {
                        tracing::warn!(
                            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{name})"
                        );
                        self.add_firstarg(id, &op[1 + bar + 1..]);
                    }
                }
            }
        } else if op[0] == b'-' && op.get(1) != Some(&b'@') {
            let name = String::from_utf8_lossy(&op[1..]);
            let id = table().id(&name).ok_or(RuleError::UnknownCommand)?;
            self.change(id, false);
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let cat = Category::from_name(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.category(cat, op[0] == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// Whether the selector was built from `+@all` (may run future commands).
    pub fn future_commands(&self) -> bool {
        self.bit(FUTURE_BIT)
    }

    /// The command rules that rebuild this selector's bitmap (Redis 7.0's
    /// ACLDescribeSelectorCommandRules): `+@all` or `-@all`, then the categories
    /// that fit best, then single commands.
    pub fn describe_commands(&self) -> Vec<u8> {
        let t = table();
        let additive = !self.future_commands();
        let mut fake = Selector::new(false, false);
        let mut rules = Vec::new();
        if additive {
            rules.extend_from_slice(b"-@all ");
        } else {
            rules.extend_from_slice(b"+@all ");
            fake.all_commands(true);
        }
        let mut temp = Selector::new(false, false);
        temp.allowed = self.allowed;
        let mut applied = [false; Category::ALL.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, cat) in Category::ALL.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0, 0);
                for id in t.in_category(*cat) {
                    if temp.bit(id) {
                        on += 1;
                    } else {
                        off += 1;
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let cat = Category::ALL[j];
            fake.category(cat, additive);
            temp.category(cat, !additive);
            rules.extend_from_slice(if additive { b"+@" } else { b"-@" });
            rules.extend_from_slice(cat.name().as_bytes());
            rules.push(b' ');
            applied[j] = true;
        }
        for &top in &t.top {
            self.describe_single(&mut fake, top, &mut rules);
            for &sub in &t.children[top] {
                self.describe_single(&mut fake, sub, &mut rules);
            }
            if !self.bit(top) {
                if let Some((_, args)) = self.firstargs.iter().find(|(c, _)| *c == top) {
                    for a in args {
                        rules.push(b'+');
                        rules.extend_from_slice(t.cmds[top].name.as_bytes());
                        rules.push(b'|');
                        // The argument's own bytes, as Redis writes its sds.
                        rules.extend_from_slice(a);
                        rules.push(b' ');
                    }
                }
            }
        }
        rules.pop();
        rules
    }

    fn describe_single(&self, fake: &mut Selector, id: usize, rules: &mut Vec<u8>) {
        let user = self.bit(id);
        if user != fake.bit(id) {
            rules.push(if user { b'+' } else { b'-' });
            rules.extend_from_slice(table().cmds[id].name.as_bytes());
            rules.push(b' ');
            fake.change(id, user);
        }
    }

    /// The key patterns as GETUSER shows them.
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.flags & ALLKEYS != 0 {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            p.describe(&mut out);
        }
        out
    }

    /// The channel patterns as GETUSER shows them.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.flags & ALLCHANNELS != 0 {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(c);
        }
        out
    }

    /// The whole selector as rules (Redis's ACLDescribeSelector).
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.flags & ALLKEYS != 0 {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                p.describe(&mut out);
                out.push(b' ');
            }
        }
        if self.flags & ALLCHANNELS != 0 {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(&self.describe_commands());
        out
    }
}

/// One ACL user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its name.
    pub name: Vec<u8>,
    /// [`ENABLED`], [`DISABLED`], [`NOPASS`], ...
    pub flags: u8,
    /// SHA-256 hashes of its passwords, as 64 lowercase hex characters.
    pub passwords: Vec<[u8; 64]>,
    /// The root selector first, then the `(...)` ones.
    pub selectors: Vec<Selector>,
    /// Whether its root selector allows everything (every command, key and
    /// channel): the admission's fast path skips the check.
    pub unrestricted: bool,
}

/// The SHA-256 of `pass` as 64 lowercase hex characters.
pub fn hash_password(pass: &[u8]) -> [u8; 64] {
    let digest = Sha256::digest(pass);
    let mut out = [0u8; 64];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[i * 2] = HEX[(b >> 4) as usize];
        out[i * 2 + 1] = HEX[(b & 15) as usize];
    }
    out
}

fn parse_hash(h: &[u8]) -> Result<[u8; 64], RuleError> {
    let ok = h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    let mut out = [0u8; 64];
    if !ok {
        return Err(RuleError::BadHash);
    }
    out.copy_from_slice(h);
    Ok(out)
}

/// Compares two hashes without an early exit (the time does not tell how much of
/// a guess was right).
pub fn same_hash(a: &[u8; 64], b: &[u8; 64]) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl User {
    /// A new user: disabled, no password, no permissions.
    pub fn new(name: &[u8], pubsub_all: bool) -> User {
        let mut u = User {
            name: name.to_vec(),
            flags: DISABLED,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, pubsub_all)],
            unrestricted: false,
        };
        u.refresh();
        u
    }

    /// The default user of a fresh server: on, nopass, everything allowed.
    pub fn new_default() -> User {
        let mut u = User::new(b"default", false);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = u.apply(op.as_bytes(), false);
        }
        u
    }

    /// Recomputes the fast-path flag after a change.
    pub fn refresh(&mut self) {
        let root = &self.selectors[0];
        self.unrestricted = root.flags & (ALLKEYS | ALLCHANNELS | ALLCOMMANDS)
            == ALLKEYS | ALLCHANNELS | ALLCOMMANDS;
    }

    /// Whether the user can log in.
    pub fn enabled(&self) -> bool {
        self.flags & DISABLED == 0
    }

    /// Whether any password works.
    pub fn nopass(&self) -> bool {
        self.flags & NOPASS != 0
    }

    /// Whether `pass` is one of its passwords (or it is nopass).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if self.nopass() {
            return true;
        }
        let h = hash_password(pass);
        // Every stored hash is compared (no early exit).
        self.passwords
            .iter()
            .fold(false, |ok, p| same_hash(p, &h) | ok)
    }

    /// Applies one rule (Redis's ACLSetUser).
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        let r = self.apply_inner(op, pubsub_all);
        self.refresh();
        r
    }

    fn apply_inner(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("on") {
            self.flags = (self.flags | ENABLED) & !DISABLED;
        } else if is("off") {
            self.flags = (self.flags | DISABLED) & !ENABLED;
        } else if is("skip-sanitize-payload") {
            self.flags = (self.flags | SKIP_SANITIZE) & !SANITIZE;
        } else if is("sanitize-payload") {
            self.flags = (self.flags | SANITIZE) & !SKIP_SANITIZE;
        } else if is("nopass") {
            self.flags |= NOPASS;
            self.passwords.clear();
        } else if is("resetpass") {
            self.flags &= !NOPASS;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let h = if op[0] == b'>' {
                hash_password(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            if !self.passwords.contains(&h) {
                self.passwords.push(h);
            }
            self.flags &= !NOPASS;
        } else if op[0] == b'<' || op[0] == b'!' {
            let h = if op[0] == b'<' {
                hash_password(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            let before = self.passwords.len();
            self.passwords.retain(|p| *p != h);
            if self.passwords.len() == before {
                return Err(RuleError::NoSuchPassword);
            }
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::new(false, pubsub_all);
            let inner = &op[1..op.len() - 1];
            let words = split_args(inner).ok_or(RuleError::Syntax)?;
            for w in words {
                s.apply(&w)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in ["resetpass", "resetkeys", "resetchannels"] {
                let _ = self.apply_inner(op.as_bytes(), pubsub_all);
            }
            if pubsub_all {
                let _ = self.apply_inner(b"allchannels", pubsub_all);
            }
            for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                let _ = self.apply_inner(op.as_bytes(), pubsub_all);
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The user as rules (Redis's ACLDescribeUser), without `user <name>`.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (f, name) in USER_FLAGS {
            if self.flags & f != 0 {
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
            }
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p);
            out.push(b' ');
        }
        for (i, s) in self.selectors.iter().enumerate() {
            if i == 0 {
                out.extend_from_slice(&s.describe());
            } else {
                out.extend_from_slice(b" (");
                out.extend_from_slice(&s.describe());
                out.push(b')');
            }
        }
        out
    }

    /// The names of its flags, in Redis's order (GETUSER).
    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        USER_FLAGS
            .iter()
            .filter(move |(f, _)| self.flags & f != 0)
            .map(|(_, n)| *n)
    }
}

/// Splits like Redis's sdssplitargs (quotes and escapes); `None` for unbalanced
/// quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    if line.contains(&0) {
        // sdssplitargs stops at a NUL; such bytes make no valid rule anyway.
        return None;
    }
    let mut p = ferrokv_resp::RequestParser::default();
    let mut buf = line.to_vec();
    buf.push(b'\n');
    if buf
        .iter()
        .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Some(Vec::new());
    }
    match p.parse(&buf) {
        Ok(Some(_)) => Some(p.args(&buf).map(<[u8]>::to_vec).collect()),
        _ => None,
    }
}

/// Merges selector rules spread over several arguments (`(~x` `+get)`) into one,
/// as Redis's ACLMergeSelectorArguments. `Err(i)`: an unmatched `(` at argument i.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, &op) in args.iter().enumerate() {
        if let Some((_, sel)) = &mut open {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                if let Some((_, s)) = open.take() {
                    out.push(s);
                }
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((j, _)) => Err(j),
        None => Ok(out),
    }
}
