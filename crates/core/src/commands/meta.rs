//! Command metadata: arity, flags, key specs, ACL categories, docs.
//!
//! Redis 7.0 describes each command declaratively, and clients read that description
//! back through COMMAND INFO / COMMAND DOCS. To answer exactly as Redis 7.0.15 does,
//! the description is taken from Redis itself: `data/redis-7.0.15-command-*.resp3`
//! are the RESP3 replies of `COMMAND INFO` and `COMMAND DOCS` of a stock redis-server
//! 7.0.15 (regenerate with `cargo xtask gen-command-meta`). This module parses them
//! once at startup; dispatch, arity checks, key extraction (locking, GETKEYS) and the
//! COMMAND replies all read the parsed form. Only commands that have a handler in the
//! registry are served.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::BytesMut;
use ferrokv_resp::{Frame, FrameDecoder};

const INFO_DATA: &[u8] = include_bytes!("../../data/redis-7.0.15-command-info.resp3");
const DOCS_DATA: &[u8] = include_bytes!("../../data/redis-7.0.15-command-docs.resp3");

/// Subcommands added after Redis 7.0 that ferrokv serves because clients send them
/// (redis-py sends CLIENT SETINFO on connect): their COMMAND INFO entries as Redis 7.2
/// describes them, in RESP3.
const LATER_SUBCOMMANDS: &[(&str, &str)] = &[
    (
        "client",
        "*10\r\n$15\r\nclient|no-touch\r\n:3\r\n~3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@slow\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n",
    ),
    (
        "client",
        "*10\r\n$14\r\nclient|setinfo\r\n:4\r\n~3\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@slow\r\n+@connection\r\n~1\r\n+request_policy:all_nodes\r\n~0\r\n~0\r\n",
    ),
];

/// COMMAND DOCS entries of [`LATER_SUBCOMMANDS`].
const LATER_DOCS: &[(&str, &str)] = &[
    (
        "client|no-touch",
        "%4\r\n$7\r\nsummary\r\n$93\r\nControls whether commands sent by the client affect the LRU/LFU of accessed keys (Redis 7.2).\r\n$5\r\nsince\r\n$5\r\n7.2.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n",
    ),
    (
        "client|setinfo",
        "%4\r\n$7\r\nsummary\r\n$54\r\nSets information specific to the client or connection.\r\n$5\r\nsince\r\n$5\r\n7.2.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n",
    ),
];

/// Command flags (COMMAND INFO's flags set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

macro_rules! flags {
    ($($name:ident = $bit:expr, $text:expr;)*) => {
        impl Flags {
            $(#[doc = $text] pub const $name: Flags = Flags(1 << $bit);)*
            fn from_name(name: &[u8]) -> Flags {
                match name {
                    $(n if n.eq_ignore_ascii_case($text.as_bytes()) => Flags::$name,)*
                    _ => Flags(0),
                }
            }
        }
    };
}

flags! {
    WRITE = 0, "write";
    READONLY = 1, "readonly";
    DENYOOM = 2, "denyoom";
    ADMIN = 3, "admin";
    PUBSUB = 4, "pubsub";
    NOSCRIPT = 5, "noscript";
    BLOCKING = 6, "blocking";
    LOADING = 7, "loading";
    STALE = 8, "stale";
    SKIP_MONITOR = 9, "skip_monitor";
    SKIP_SLOWLOG = 10, "skip_slowlog";
    ASKING = 11, "asking";
    FAST = 12, "fast";
    NO_AUTH = 13, "no_auth";
    MAY_REPLICATE = 14, "may_replicate";
    NO_MANDATORY_KEYS = 15, "no_mandatory_keys";
    NO_ASYNC_LOADING = 16, "no_async_loading";
    NO_MULTI = 17, "no_multi";
    MOVABLEKEYS = 18, "movablekeys";
    ALLOW_BUSY = 19, "allow_busy";
    SENTINEL = 20, "sentinel";
    ONLY_SENTINEL = 21, "only_sentinel";
    MODULE = 22, "module";
}

impl Flags {
    /// Whether all bits of `other` are set.
    pub fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Where a key spec starts looking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i64),
    /// After a keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword {
        /// The keyword (e.g. `STREAMS`).
        keyword: Vec<u8>,
        /// Where the search starts.
        startfrom: i64,
    },
    /// Not describable; the command finds its keys itself.
    Unknown,
}

/// How a key spec finds keys from where it begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKeys {
    /// A range: up to `lastkey` (negative: from the end), every `step`.
    Range {
        /// Last key, relative to the begin index (negative: from the end).
        lastkey: i64,
        /// Distance between keys.
        step: i64,
        /// With `lastkey = -1`, divides the remaining args (e.g. 2 for key/value pairs).
        limit: i64,
    },
    /// The number of keys is given by an argument.
    Keynum {
        /// Index of the count, relative to the begin index.
        keynumidx: i64,
        /// First key, relative to the begin index.
        firstkey: i64,
        /// Distance between keys.
        step: i64,
    },
    /// Not describable.
    Unknown,
}

/// One key spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// Where the search begins.
    pub begin: BeginSearch,
    /// How keys are found.
    pub find: FindKeys,
}

/// Everything Redis says about one command (or subcommand).
#[derive(Debug, Clone)]
pub struct CommandMeta {
    /// Full lower-case name: `get`, `client|list`.
    pub name: String,
    /// Redis arity: positive exact, negative minimum (counting the name).
    pub arity: i64,
    /// Flags.
    pub flags: Flags,
    /// Legacy first/last/step key positions.
    pub first_key: i64,
    /// Legacy last key position.
    pub last_key: i64,
    /// Legacy key step.
    pub step: i64,
    /// Key specs.
    pub key_specs: Vec<KeySpec>,
    /// Subcommands by lower-case name (without the `parent|` prefix).
    pub subcommands: Vec<CommandMeta>,
    /// The COMMAND INFO entry as Redis sends it.
    pub info: Frame,
    /// The COMMAND DOCS entry (the value of the name → docs map).
    pub docs: Option<Frame>,
    /// The `group` from the docs (string, list, server, ...).
    pub group: String,
}

impl CommandMeta {
    /// Positions of the keys in `args` (argv including the name), from the key specs,
    /// as Redis's getKeysUsingKeySpecs. Positions past `args` are skipped (the
    /// command will report the arity or syntax error itself).
    pub fn key_positions(&self, args: &[&[u8]]) -> Vec<usize> {
        let mut out = Vec::new();
        self.for_each_key(args, |i| out.push(i));
        out
    }

    /// Calls `f` with each key position of `args` (no allocation; the dispatch path).
    #[inline]
    pub fn for_each_key(&self, args: &[&[u8]], mut f: impl FnMut(usize)) {
        self.for_each_spec_key(args, |_, i| f(i));
    }

    /// Calls `f` with the index of the key spec and the position of each key of
    /// `args` it finds (COMMAND GETKEYSANDFLAGS reports each key's spec flags).
    #[inline]
    pub fn for_each_spec_key(&self, args: &[&[u8]], mut f: impl FnMut(usize, usize)) {
        let argc = args.len() as i64;
        for (spec_idx, spec) in self.key_specs.iter().enumerate() {
            let first = match &spec.begin {
                BeginSearch::Index(i) => *i,
                BeginSearch::Keyword { keyword, startfrom } => {
                    let (start, end) = if *startfrom > 0 {
                        (*startfrom, argc - 1)
                    } else {
                        (argc + startfrom, 0)
                    };
                    let mut found = 0;
                    let mut i = start;
                    loop {
                        if i >= argc || i < 1 {
                            break;
                        }
                        if args[i as usize].eq_ignore_ascii_case(keyword) {
                            found = i + 1;
                            break;
                        }
                        if i == end {
                            break;
                        }
                        i = if start <= end { i + 1 } else { i - 1 };
                    }
                    if found == 0 {
                        continue;
                    }
                    found
                }
                BeginSearch::Unknown => continue,
            };
            let (first, last, step) = match &spec.find {
                FindKeys::Range {
                    lastkey,
                    step,
                    limit,
                } => {
                    let last = if *lastkey >= 0 {
                        first + lastkey
                    } else if *limit <= 1 {
                        argc + lastkey
                    } else {
                        first + ((argc - first) / limit + lastkey)
                    };
                    (first, last, *step)
                }
                FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    step,
                } => {
                    let idx = first + keynumidx;
                    if idx >= argc || idx < 0 {
                        continue;
                    }
                    let Some(n) = crate::args::parse_i64(args[idx as usize]) else {
                        continue;
                    };
                    if n < 0 {
                        continue;
                    }
                    let f = first + firstkey;
                    // A huge numkeys (LMPOP 9223372036854775807 ...) must not
                    // overflow; the loop below stops at argc anyway.
                    (f, f.saturating_add(n - 1), *step)
                }
                FindKeys::Unknown => continue,
            };
            if step <= 0 {
                continue;
            }
            let mut i = first;
            while i <= last {
                if i >= argc || i < 1 {
                    break;
                }
                f(spec_idx, i as usize);
                i += step;
            }
        }
    }

    /// Whether `argc` (including the name) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc as i64 == a) || (a < 0 && argc as i64 >= -a)
    }

    /// The subcommand named `sub` (case-insensitive).
    pub fn subcommand(&self, sub: &[u8]) -> Option<&CommandMeta> {
        self.subcommands.iter().find(|m| {
            m.name
                .rsplit('|')
                .next()
                .is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(sub))
        })
    }
}

fn text(f: &Frame) -> String {
    f.as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(i) => *i,
        _ => 0,
    }
}

fn map_get<'a>(pairs: &'a [(Frame, Frame)], key: &str) -> Option<&'a Frame> {
    pairs
        .iter()
        .find(|(k, _)| k.as_bytes() == Some(key.as_bytes()))
        .map(|(_, v)| v)
}

fn parse_key_spec(f: &Frame) -> Option<KeySpec> {
    let Frame::Map(pairs) = f else { return None };
    let begin = match map_get(pairs, "begin_search")? {
        Frame::Map(bs) => {
            let kind = text(map_get(bs, "type")?);
            let spec = match map_get(bs, "spec") {
                Some(Frame::Map(s)) => s.as_slice(),
                _ => &[],
            };
            match kind.as_str() {
                "index" => BeginSearch::Index(map_get(spec, "index").map_or(0, int)),
                "keyword" => BeginSearch::Keyword {
                    keyword: map_get(spec, "keyword")
                        .and_then(Frame::as_bytes)
                        .unwrap_or_default()
                        .to_vec(),
                    startfrom: map_get(spec, "startfrom").map_or(0, int),
                },
                _ => BeginSearch::Unknown,
            }
        }
        _ => BeginSearch::Unknown,
    };
    let find = match map_get(pairs, "find_keys")? {
        Frame::Map(fk) => {
            let kind = text(map_get(fk, "type")?);
            let spec = match map_get(fk, "spec") {
                Some(Frame::Map(s)) => s.as_slice(),
                _ => &[],
            };
            match kind.as_str() {
                "range" => FindKeys::Range {
                    lastkey: map_get(spec, "lastkey").map_or(0, int),
                    step: map_get(spec, "keystep").map_or(1, int),
                    limit: map_get(spec, "limit").map_or(0, int),
                },
                "keynum" => FindKeys::Keynum {
                    keynumidx: map_get(spec, "keynumidx").map_or(0, int),
                    firstkey: map_get(spec, "firstkey").map_or(1, int),
                    step: map_get(spec, "keystep").map_or(1, int),
                },
                _ => FindKeys::Unknown,
            }
        }
        _ => FindKeys::Unknown,
    };
    Some(KeySpec { begin, find })
}

fn parse_info(f: &Frame, docs: &HashMap<String, Frame>) -> Option<CommandMeta> {
    let Frame::Array(items) = f else { return None };
    if items.len() < 10 {
        return None;
    }
    let name = text(&items[0]).to_ascii_lowercase();
    let mut flags = Flags(0);
    if let Frame::Set(fs) | Frame::Array(fs) = &items[2] {
        for fl in fs {
            flags.0 |= Flags::from_name(fl.as_bytes().unwrap_or_default()).0;
        }
    }
    let key_specs = match &items[8] {
        Frame::Array(specs) | Frame::Set(specs) => {
            specs.iter().filter_map(parse_key_spec).collect()
        }
        _ => Vec::new(),
    };
    let subcommands = match &items[9] {
        Frame::Array(subs) | Frame::Set(subs) => {
            subs.iter().filter_map(|s| parse_info(s, docs)).collect()
        }
        _ => Vec::new(),
    };
    let doc = docs.get(&name).cloned();
    let group = match &doc {
        Some(Frame::Map(pairs)) => map_get(pairs, "group").map(text).unwrap_or_default(),
        _ => String::new(),
    };
    Some(CommandMeta {
        arity: int(&items[1]),
        flags,
        first_key: int(&items[3]),
        last_key: int(&items[4]),
        step: int(&items[5]),
        key_specs,
        subcommands,
        info: f.clone(),
        docs: doc,
        group,
        name,
    })
}

fn decode(data: &[u8]) -> Frame {
    let mut buf = BytesMut::from(data);
    match FrameDecoder::default().decode(&mut buf) {
        Ok(Some(f)) => f,
        other => panic!("embedded command metadata is corrupt: {other:?}"),
    }
}

/// Docs of every command and subcommand by full name (`client|list`).
fn flatten_docs(map: &[(Frame, Frame)], prefix: &str, out: &mut HashMap<String, Frame>) {
    for (k, v) in map {
        let name = format!("{prefix}{}", text(k).to_ascii_lowercase());
        if let Frame::Map(pairs) = v {
            if let Some(Frame::Map(subs)) = map_get(pairs, "subcommands") {
                flatten_docs(subs, "", out);
            }
        }
        out.insert(name, v.clone());
    }
}

/// Every Redis 7.0.15 command's metadata, by lower-case name.
pub fn redis_commands() -> &'static HashMap<String, CommandMeta> {
    static ALL: OnceLock<HashMap<String, CommandMeta>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut docs = HashMap::new();
        if let Frame::Map(pairs) = decode(DOCS_DATA) {
            flatten_docs(&pairs, "", &mut docs);
        }
        for (name, doc) in LATER_DOCS {
            docs.insert(name.to_string(), decode(doc.as_bytes()));
        }
        let mut out = HashMap::new();
        if let Frame::Array(items) = decode(INFO_DATA) {
            for item in &items {
                if let Some(m) = parse_info(item, &docs) {
                    out.insert(m.name.clone(), m);
                }
            }
        }
        for (parent, info) in LATER_SUBCOMMANDS {
            let frame = decode(info.as_bytes());
            if let (Some(sub), Some(p)) = (parse_info(&frame, &docs), out.get_mut(*parent)) {
                if let Frame::Array(items) = &mut p.info {
                    if let Some(Frame::Set(subs) | Frame::Array(subs)) = items.get_mut(9) {
                        subs.push(frame.clone());
                    }
                }
                p.subcommands.push(sub);
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(cmd: &str, args: &[&str]) -> Vec<usize> {
        let m = &redis_commands()[cmd];
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        m.key_positions(&a)
    }

    #[test]
    fn metadata_loads() {
        let all = redis_commands();
        assert_eq!(all.len(), 240);
        let get = &all["get"];
        assert_eq!(get.arity, 2);
        assert!(get.flags.has(Flags::READONLY) && get.flags.has(Flags::FAST));
        assert_eq!(get.group, "string");
        assert!(all["client"].subcommand(b"LIST").is_some());
    }

    #[test]
    fn key_specs_find_keys() {
        assert_eq!(keys("get", &["get", "k"]), vec![1]);
        assert_eq!(keys("mset", &["mset", "a", "1", "b", "2"]), vec![1, 3]);
        assert_eq!(keys("del", &["del", "a", "b", "c"]), vec![1, 2, 3]);
        assert_eq!(
            keys(
                "zunionstore",
                &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"]
            ),
            vec![1, 3, 4]
        );
        assert_eq!(
            keys(
                "xread",
                &["xread", "count", "1", "streams", "a", "b", "0", "0"]
            ),
            vec![4, 5]
        );
        assert_eq!(keys("eval", &["eval", "s", "1", "k", "arg"]), vec![3]);
        assert_eq!(keys("ping", &["ping"]), Vec::<usize>::new());
    }
}
