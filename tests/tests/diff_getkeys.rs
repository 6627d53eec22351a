//! COMMAND GETKEYS and GETKEYSANDFLAGS against redis-server, for every command Redis
//! 7.0 knows: argument lists are generated from Redis's own COMMAND DOCS argument
//! trees (so every command and subcommand with key specs is covered, implemented in
//! ferrokv or not), then mangled by proptest (numkeys forms, keywords such as
//! STREAMS/STORE/BY/KEYS inserted, arguments dropped, lists cut short). Replies,
//! error texts included, must be identical in RESP2 and RESP3.

use std::cell::RefCell;

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Diff};
use proptest::prelude::*;

/// One argument of a command as COMMAND DOCS describes it.
#[derive(Debug, Clone)]
struct Arg {
    name: String,
    kind: Kind,
    token: Option<String>,
    optional: bool,
    multiple: bool,
    multiple_token: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Key,
    Integer,
    Double,
    Text,
    PureToken,
    OneOf(Vec<Arg>),
    Block(Vec<Arg>),
}

/// A command with key specs: its argv prefix (`["XINFO", "STREAM"]`) and arguments.
#[derive(Debug, Clone)]
struct Cmd {
    prefix: Vec<String>,
    args: Vec<Arg>,
}

fn text(f: &Frame) -> String {
    f.as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn get<'a>(pairs: &'a [(Frame, Frame)], key: &str) -> Option<&'a Frame> {
    pairs
        .iter()
        .find(|(k, _)| k.as_bytes() == Some(key.as_bytes()))
        .map(|(_, v)| v)
}

fn items(f: Option<&Frame>) -> &[Frame] {
    match f {
        Some(Frame::Array(v) | Frame::Set(v)) => v,
        _ => &[],
    }
}

fn parse_arg(f: &Frame) -> Option<Arg> {
    let Frame::Map(p) = f else { return None };
    let flags: Vec<String> = items(get(p, "flags")).iter().map(text).collect();
    let subs = || match get(p, "arguments") {
        Some(Frame::Array(v)) => v.iter().filter_map(parse_arg).collect(),
        _ => Vec::new(),
    };
    let kind = match text(get(p, "type")?).as_str() {
        "key" => Kind::Key,
        "integer" => Kind::Integer,
        "double" => Kind::Double,
        "pure-token" => Kind::PureToken,
        "oneof" => Kind::OneOf(subs()),
        "block" => Kind::Block(subs()),
        _ => Kind::Text,
    };
    Some(Arg {
        name: text(get(p, "name")?),
        kind,
        token: get(p, "token").map(text),
        optional: flags.iter().any(|f| f == "optional"),
        multiple: flags.iter().any(|f| f == "multiple"),
        multiple_token: flags.iter().any(|f| f == "multiple_token"),
    })
}

/// Names (`get`, `xinfo|stream`) of the commands whose COMMAND INFO has key specs.
fn names_with_key_specs(info: &Frame, out: &mut Vec<String>) {
    for entry in items(Some(info)) {
        let Frame::Array(fields) = entry else {
            continue;
        };
        if fields.len() < 10 {
            continue;
        }
        if !items(Some(&fields[8])).is_empty() {
            out.push(text(&fields[0]).to_ascii_lowercase());
        }
        names_with_key_specs(&fields[9], out);
    }
}

/// Every command and subcommand, from Redis's COMMAND INFO and COMMAND DOCS (RESP3).
fn redis_commands(redis: &mut Conn) -> (Vec<Cmd>, Vec<Vec<String>>) {
    redis.cmd(&["HELLO", "3"]);
    let info = redis.cmd(&["COMMAND"]);
    let mut keyed = Vec::new();
    names_with_key_specs(&info, &mut keyed);
    let Frame::Map(docs) = redis.cmd(&["COMMAND", "DOCS"]) else {
        panic!("COMMAND DOCS is not a map")
    };
    let mut with_keys = Vec::new();
    let mut all = Vec::new();
    let mut add = |name: &str, doc: &Frame, prefix: Vec<String>| {
        let Frame::Map(p) = doc else { return };
        let args: Vec<Arg> = match get(p, "arguments") {
            Some(Frame::Array(v)) => v.iter().filter_map(parse_arg).collect(),
            _ => Vec::new(),
        };
        all.push(prefix.clone());
        if keyed.iter().any(|k| k == name) {
            with_keys.push(Cmd { prefix, args });
        }
    };
    for (name, doc) in &docs {
        let name = text(name);
        add(&name, doc, vec![name.to_ascii_uppercase()]);
        if let Frame::Map(p) = doc {
            if let Some(Frame::Map(subs)) = get(p, "subcommands") {
                for (sub, sdoc) in subs {
                    let full = text(sub);
                    let short = full.rsplit('|').next().unwrap_or_default().to_string();
                    add(&full, sdoc, vec![name.to_ascii_uppercase(), short]);
                }
            }
        }
    }
    redis.cmd(&["HELLO", "2"]);
    with_keys.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    all.sort();
    (with_keys, all)
}

/// Choices drawn from proptest's numbers, zero when they run out.
struct Src<'a> {
    n: &'a [u16],
    i: usize,
}

impl Src<'_> {
    fn below(&mut self, n: usize) -> usize {
        let v = self.n.get(self.i).copied().unwrap_or(0) as usize;
        self.i += 1;
        if n == 0 {
            0
        } else {
            v % n
        }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Keywords that getkeys procedures and keyword key specs look for, and the
/// options around them.
const KEYWORDS: &[&str] = &[
    "STREAMS",
    "streams",
    "STORE",
    "STOREDIST",
    "BY",
    "GET",
    "get",
    "LIMIT",
    "KEYS",
    "AUTH",
    "AUTH2",
    "COPY",
    "REPLACE",
    "BLOCK",
    "COUNT",
    "GROUP",
    "NOACK",
    "SET",
    "INCRBY",
    "OVERFLOW",
    "WEIGHTS",
    "get\0x",
    "Store\0",
    "",
    "0",
    "1",
    "2",
];

/// numkeys forms: string2ll and atoi disagree on several of them.
const NUMKEYS: &[&str] = &[
    "-1",
    "0",
    "1",
    "2",
    "3",
    "5",
    "abc",
    "1abc",
    " 2",
    "+1",
    "01",
    "-0",
    "4294967297",
    "4294967296",
    "2\0",
];

struct Gen<'a, 'b> {
    src: &'a mut Src<'b>,
    out: Vec<Vec<u8>>,
    next_key: usize,
    /// Where a numkeys value waits for the count of the keys that follow it.
    numkeys_at: Option<usize>,
    /// Where the numkeys argument is.
    numkeys_pos: Option<usize>,
}

impl Gen<'_, '_> {
    fn value(&mut self, arg: &Arg) -> Vec<u8> {
        match &arg.kind {
            Kind::Key => {
                self.next_key += 1;
                format!("k{}", self.next_key).into_bytes()
            }
            Kind::Integer => {
                if arg.name == "numkeys" {
                    self.numkeys_at = Some(self.out.len());
                    self.numkeys_pos = Some(self.out.len());
                    b"0".to_vec()
                } else {
                    ["0", "1", "2", "10", "-1"][self.src.below(5)]
                        .as_bytes()
                        .to_vec()
                }
            }
            Kind::Double => b"1.5".to_vec(),
            Kind::PureToken => arg.token.clone().unwrap_or_default().into_bytes(),
            _ => {
                // ids, patterns, members, ...: plain words, sometimes "" or "$".
                match self.src.below(6) {
                    0 => Vec::new(),
                    1 => b"$".to_vec(),
                    _ => format!("{}{}", arg.name, self.src.below(3)).into_bytes(),
                }
            }
        }
    }

    /// Appends one occurrence of `arg` (token included); `reps` is the count shared
    /// by the multiple arguments of an enclosing block (XREAD's keys and ids).
    fn one(&mut self, arg: &Arg, reps: usize) {
        if let Some(t) = &arg.token {
            if !matches!(arg.kind, Kind::PureToken) {
                self.out.push(t.clone().into_bytes());
            }
        }
        match &arg.kind {
            Kind::OneOf(subs) if !subs.is_empty() => {
                let i = self.src.below(subs.len());
                self.arg(&subs[i], reps);
            }
            Kind::Block(subs) => {
                let inner = 1 + self.src.below(3);
                for s in subs {
                    self.arg(s, inner);
                }
            }
            _ => {
                let v = self.value(arg);
                self.out.push(v);
            }
        }
    }

    fn arg(&mut self, arg: &Arg, shared: usize) {
        if arg.optional && self.src.chance(2) {
            if matches!(arg.kind, Kind::Key) {
                self.fill_numkeys(0);
            }
            return;
        }
        let reps = if arg.multiple {
            if shared > 0 {
                shared
            } else {
                1 + self.src.below(3)
            }
        } else {
            1
        };
        let is_key = matches!(arg.kind, Kind::Key);
        for i in 0..reps {
            if i > 0 && arg.multiple_token {
                if let Some(t) = &arg.token {
                    self.out.push(t.clone().into_bytes());
                }
                let mut plain = arg.clone();
                plain.token = None;
                self.one(&plain, shared);
            } else {
                self.one(arg, shared);
            }
        }
        if is_key {
            self.fill_numkeys(reps);
        }
    }

    fn fill_numkeys(&mut self, n: usize) {
        if let Some(at) = self.numkeys_at.take() {
            self.out[at] = n.to_string().into_bytes();
        }
    }
}

/// A valid argv for `cmd` from its docs, then `mutations` mangled.
fn argv(cmd: &Cmd, src: &mut Src<'_>) -> Vec<Vec<u8>> {
    let mut g = Gen {
        src,
        out: cmd.prefix.iter().map(|p| p.clone().into_bytes()).collect(),
        next_key: 0,
        numkeys_at: None,
        numkeys_pos: None,
    };
    for a in &cmd.args {
        g.arg(a, 0);
    }
    let mut out = g.out;
    let numkeys_pos = g.numkeys_pos;
    let src = g.src;
    let fixed = cmd.prefix.len();
    let mutations = [0, 0, 1, 1, 2, 3][src.below(6)];
    for _ in 0..mutations {
        // Mutations keep the command name (and the subcommand, unless cut short).
        let fixed = fixed.min(out.len());
        match src.below(6) {
            // Cut short.
            0 => {
                let keep = fixed + src.below(out.len() - fixed + 1);
                out.truncate(keep.max(1));
            }
            // A numkeys-like value, mostly in place of the numkeys argument.
            1 => {
                let at = match numkeys_pos {
                    Some(p) if p < out.len() && !src.chance(3) => p,
                    _ => fixed + src.below(out.len() - fixed + 1),
                };
                let v = NUMKEYS[src.below(NUMKEYS.len())].as_bytes().to_vec();
                if at < out.len() && (Some(at) == numkeys_pos || src.chance(2)) {
                    out[at] = v;
                } else {
                    out.insert(at.min(out.len()), v);
                }
            }
            // A keyword somewhere, maybe with an argument after it.
            2 | 3 => {
                let at = 1 + src.below(out.len());
                let kw = KEYWORDS[src.below(KEYWORDS.len())].as_bytes().to_vec();
                out.insert(at, kw);
                if src.chance(2) {
                    out.insert(at + 1, format!("x{}", src.below(3)).into_bytes());
                }
            }
            // One argument dropped.
            4 if out.len() > 1 => {
                let at = 1 + src.below(out.len() - 1);
                out.remove(at);
            }
            // More arguments at the end.
            _ => {
                for _ in 0..1 + src.below(3) {
                    out.push(format!("e{}", src.below(4)).into_bytes());
                }
            }
        }
    }
    out
}

fn request(sub: &str, args: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut r = vec![b"COMMAND".to_vec(), sub.as_bytes().to_vec()];
    r.extend(args.iter().cloned());
    r
}

fn shown(args: &[Vec<u8>]) -> Vec<String> {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// GETKEYS and GETKEYSANDFLAGS of `args` on both servers; the replies, or a message.
fn compare(d: &mut Diff, args: &[Vec<u8>]) -> Result<(), String> {
    for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
        let req = request(sub, args);
        let (a, b) = (d.ours.cmd(&req), d.theirs.cmd(&req));
        if a != b {
            return Err(format!(
                "COMMAND {sub} {:?}: ferrokv {} redis {}",
                shown(args),
                show(&a),
                show(&b)
            ));
        }
    }
    Ok(())
}

#[test]
fn getkeys_hand_picked_forms_match_redis() {
    let mut d = Diff::new();
    // Redis's own tests (unit/introspection-2.tcl) and the cases issue 12 names.
    d.script(
        "
        COMMAND GETKEYS GET key
        COMMAND GETKEYSANDFLAGS SET k1 v1
        COMMAND GETKEYSANDFLAGS MSET k1 v1 k2 v2
        COMMAND GETKEYSANDFLAGS LMOVE k1 k2 left right
        COMMAND GETKEYSANDFLAGS sort k1 store k2
        COMMAND GETKEYS memory usage key
        COMMAND GETKEYS xgroup create key groupname $
        COMMAND GETKEYS eval return 1 key
        COMMAND GETKEYS eval return 0
        COMMAND GETKEYS lcs key1 key2
        COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 2 a b WEIGHTS 1 2
        COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 2x a b
        COMMAND GETKEYSANDFLAGS ZINTER 2 a b
        COMMAND GETKEYSANDFLAGS ZDIFFSTORE d 1 a
        COMMAND GETKEYSANDFLAGS SORT k BY w GET # LIMIT 0 1 STORE d STORE e
        COMMAND GETKEYSANDFLAGS SORT k STORE
        COMMAND GETKEYSANDFLAGS SORT_RO k BY x
        COMMAND GETKEYSANDFLAGS SET k v NX GET EX 10
        COMMAND GETKEYSANDFLAGS SET k v get
        COMMAND GETKEYSANDFLAGS BITFIELD k GET u8 0 OVERFLOW SAT
        COMMAND GETKEYSANDFLAGS BITFIELD k GET u8 0 SET u8 0 1
        COMMAND GETKEYSANDFLAGS BITFIELD k GET u8
        COMMAND GETKEYSANDFLAGS BITFIELD_RO k GET u8 0
        COMMAND GETKEYSANDFLAGS MIGRATE h 1 k 0 5
        COMMAND GETKEYSANDFLAGS MIGRATE h 1 k 0 5 COPY REPLACE KEYS a b
        COMMAND GETKEYSANDFLAGS GEORADIUS k 1 2 3 m STORE d
        COMMAND GETKEYSANDFLAGS GEORADIUS k 1 2 3 m STORE d STOREDIST e COUNT 1
        COMMAND GETKEYSANDFLAGS GEORADIUSBYMEMBER k m 3 km STOREDIST d
        COMMAND GETKEYSANDFLAGS GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 m
        COMMAND GETKEYSANDFLAGS XREAD COUNT 1 STREAMS a b 0 0
        COMMAND GETKEYSANDFLAGS XREAD STREAMS a b 0
        COMMAND GETKEYSANDFLAGS XREADGROUP GROUP g c STREAMS a 0
        COMMAND GETKEYSANDFLAGS XREADGROUP GROUP g c NOACK BLOCK 0 STREAMS a b > >
        COMMAND GETKEYSANDFLAGS LMPOP 2 a b LEFT
        COMMAND GETKEYSANDFLAGS LMPOP 3 a b LEFT
        COMMAND GETKEYSANDFLAGS BLMPOP 0 1 a LEFT
        COMMAND GETKEYSANDFLAGS BZMPOP 0 2 a b MIN COUNT 1
        COMMAND GETKEYSANDFLAGS ZMPOP 1 a MAX
        COMMAND GETKEYSANDFLAGS SINTERCARD 2 a b LIMIT 1
        COMMAND GETKEYSANDFLAGS ZINTERCARD 0 a
        COMMAND GETKEYSANDFLAGS EVAL s 2 a b c
        COMMAND GETKEYSANDFLAGS EVAL_RO s 1 a
        COMMAND GETKEYSANDFLAGS EVALSHA x 1abc a
        COMMAND GETKEYSANDFLAGS FCALL f 1 a
        COMMAND GETKEYSANDFLAGS FCALL_RO f -1 a
        COMMAND GETKEYSANDFLAGS RENAME a b
        COMMAND GETKEYSANDFLAGS COPY a b DB 1
        COMMAND GETKEYSANDFLAGS SMOVE a b m
        COMMAND GETKEYSANDFLAGS DEL a b c
        COMMAND GETKEYSANDFLAGS OBJECT ENCODING k
        COMMAND GETKEYSANDFLAGS XINFO STREAM k FULL
        COMMAND GETKEYSANDFLAGS PFMERGE d a b
        COMMAND GETKEYSANDFLAGS SPUBLISH ch msg
        COMMAND GETKEYSANDFLAGS SSUBSCRIBE a b
        COMMAND GETKEYSANDFLAGS PUBLISH ch msg
        COMMAND GETKEYS GET
        COMMAND GETKEYS GET a b
        COMMAND GETKEYS PING
        COMMAND GETKEYS PING x
        COMMAND GETKEYS NOSUCH a
        COMMAND GETKEYS CONFIG GET x
        COMMAND GETKEYS CONFIG NOSUCH x
        COMMAND GETKEYS MEMORY NOSUCH x
        COMMAND GETKEYS MEMORY usage
        COMMAND GETKEYS get|x a
        COMMAND GETKEYS
        COMMAND GETKEYS GET
        COMMAND GETKEYSANDFLAGS
        ",
    );
    // MIGRATE's KEYS form needs an empty key.
    d.check(&[
        "COMMAND",
        "GETKEYSANDFLAGS",
        "MIGRATE",
        "h",
        "1",
        "",
        "0",
        "5",
        "COPY",
        "AUTH",
        "keys",
        "KEYS",
        "a",
        "b",
    ]);
    d.check(&[
        "COMMAND",
        "GETKEYSANDFLAGS",
        "MIGRATE",
        "h",
        "1",
        "",
        "0",
        "5",
        "AUTH2",
        "u",
        "p",
        "KEYS",
    ]);
    // NUL bytes: Redis compares keywords as C strings.
    d.check(&["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "get\0x"]);
    d.check(&["COMMAND", "GETKEYSANDFLAGS", "XREAD", "streams\0", "a", "0"]);
    d.check(&["COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "STORE\0", "d"]);
    d.check(&["COMMAND", "GETKEYSANDFLAGS", "ZUNION", "2\0", "a", "b"]);
    // More than 256 keys (Redis's buffer growth test), and RESP3 flag sets.
    let mut req: Vec<String> = ["COMMAND", "GETKEYS", "ZUNIONSTORE", "target", "260"]
        .map(String::from)
        .to_vec();
    req.extend((1..=260).map(|i| format!("key{i}")));
    d.check(&req);
    d.ours.cmd(&["HELLO", "3"]);
    d.theirs.cmd(&["HELLO", "3"]);
    d.script(
        "
        COMMAND GETKEYSANDFLAGS LMOVE k1 k2 left right
        COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 1abc a
        COMMAND GETKEYSANDFLAGS EVAL s 0
        COMMAND GETKEYS NOSUCH
        ",
    );
}

#[test]
fn getkeys_of_every_command_name_matches_redis() {
    let mut d = Diff::new();
    let (_, all) = redis_commands(&mut d.theirs);
    assert!(all.len() > 300, "only {} commands", all.len());
    for prefix in &all {
        let mut args: Vec<Vec<u8>> = prefix.iter().map(|p| p.clone().into_bytes()).collect();
        for extra in 0..3 {
            if let Err(e) = compare(&mut d, &args) {
                panic!("{e}");
            }
            args.push(format!("a{extra}").into_bytes());
        }
    }
}

#[test]
fn getkeys_of_generated_argument_lists_match_redis() {
    let diff = RefCell::new(Diff::new());
    let (cmds, _) = redis_commands(&mut diff.borrow_mut().theirs);
    assert!(cmds.len() > 150, "only {} commands with keys", cmds.len());
    // Every command with key specs, a few times each, before the random choice.
    {
        let mut d = diff.borrow_mut();
        for cmd in &cmds {
            for seed in 0..16u16 {
                let numbers: Vec<u16> = (0..64u16)
                    .map(|i| i.wrapping_mul(7919).wrapping_add(seed.wrapping_mul(10007)) ^ seed)
                    .collect();
                let args = argv(cmd, &mut Src { n: &numbers, i: 0 });
                if let Err(e) = compare(&mut d, &args) {
                    panic!("{e}");
                }
            }
        }
    }
    let mut runner = ferrokv_tests::prop_runner(4000);
    let strategy = (
        0..cmds.len(),
        prop::collection::vec(any::<u16>(), 0..64),
        any::<bool>(),
    );
    let result = runner.run(&strategy, |(i, numbers, resp3)| {
        let mut d = diff.borrow_mut();
        let proto = if resp3 { "3" } else { "2" };
        d.ours.cmd(&["HELLO", proto]);
        d.theirs.cmd(&["HELLO", proto]);
        let args = argv(&cmds[i], &mut Src { n: &numbers, i: 0 });
        if let Err(e) = compare(&mut d, &args) {
            prop_assert!(false, "{}", e);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
