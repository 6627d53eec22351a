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

/// What a command does with one key (COMMAND INFO's key-spec flags, Redis's
/// `CMD_KEY_*`): one of RO/RW/OW/RM for the value as a whole, any of
/// access/update/insert/delete for the data in it, and three markers about the spec
/// itself. ACL checks read them (a `%R~` pattern admits keys without RW/OW/RM).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KeyFlags(u16);

macro_rules! key_flags {
    ($($name:ident = $bit:expr, $text:expr;)*) => {
        impl KeyFlags {
            $(#[doc = concat!("`", $text, "`")] pub const $name: KeyFlags = KeyFlags(1 << $bit);)*
            /// Every flag with its COMMAND INFO name, in the order Redis lists them.
            const NAMES: &'static [(KeyFlags, &'static str)] = &[$((KeyFlags::$name, $text),)*];
        }
    };
}

key_flags! {
    RO = 0, "RO";
    RW = 1, "RW";
    OW = 2, "OW";
    RM = 3, "RM";
    ACCESS = 4, "access";
    UPDATE = 5, "update";
    INSERT = 6, "insert";
    DELETE = 7, "delete";
    NOT_KEY = 8, "not_key";
    INCOMPLETE = 9, "incomplete";
    VARIABLE_FLAGS = 10, "variable_flags";
}

impl KeyFlags {
    /// No flag (what Redis's getkeys procedures report for most keys).
    pub const NONE: KeyFlags = KeyFlags(0);

    /// Whether every flag of `other` is set.
    pub const fn has(self, other: KeyFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    pub const fn intersects(self, other: KeyFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flag named `name` as COMMAND INFO spells it (case-insensitive).
    pub fn from_name(name: &[u8]) -> Option<KeyFlags> {
        KeyFlags::NAMES
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(f, _)| *f)
    }

    /// The names of the set flags, in Redis's order (`RW`, `access`, `delete`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        KeyFlags::NAMES
            .iter()
            .filter(move |(f, _)| self.has(*f))
            .map(|(_, n)| *n)
    }

    /// How many flags are set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }
}

impl std::ops::BitOr for KeyFlags {
    type Output = KeyFlags;
    fn bitor(self, rhs: KeyFlags) -> KeyFlags {
        KeyFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for KeyFlags {
    fn bitor_assign(&mut self, rhs: KeyFlags) {
        self.0 |= rhs.0;
    }
}

/// An ACL category (`@read`, `@write`, ...), as Redis 7.0 defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// `@keyspace`
    Keyspace,
    /// `@read`
    Read,
    /// `@write`
    Write,
    /// `@set`
    Set,
    /// `@sortedset`
    SortedSet,
    /// `@list`
    List,
    /// `@hash`
    Hash,
    /// `@string`
    String,
    /// `@bitmap`
    Bitmap,
    /// `@hyperloglog`
    HyperLogLog,
    /// `@geo`
    Geo,
    /// `@stream`
    Stream,
    /// `@pubsub`
    PubSub,
    /// `@admin`
    Admin,
    /// `@fast`
    Fast,
    /// `@slow`
    Slow,
    /// `@blocking`
    Blocking,
    /// `@dangerous`
    Dangerous,
    /// `@connection`
    Connection,
    /// `@transaction`
    Transaction,
    /// `@scripting`
    Scripting,
}

impl Category {
    /// Every category, in Redis's order (ACL CAT lists them so).
    pub const ALL: [Category; 21] = [
        Category::Keyspace,
        Category::Read,
        Category::Write,
        Category::Set,
        Category::SortedSet,
        Category::List,
        Category::Hash,
        Category::String,
        Category::Bitmap,
        Category::HyperLogLog,
        Category::Geo,
        Category::Stream,
        Category::PubSub,
        Category::Admin,
        Category::Fast,
        Category::Slow,
        Category::Blocking,
        Category::Dangerous,
        Category::Connection,
        Category::Transaction,
        Category::Scripting,
    ];

    /// The name without `@` (`sortedset`).
    pub const fn name(self) -> &'static str {
        match self {
            Category::Keyspace => "keyspace",
            Category::Read => "read",
            Category::Write => "write",
            Category::Set => "set",
            Category::SortedSet => "sortedset",
            Category::List => "list",
            Category::Hash => "hash",
            Category::String => "string",
            Category::Bitmap => "bitmap",
            Category::HyperLogLog => "hyperloglog",
            Category::Geo => "geo",
            Category::Stream => "stream",
            Category::PubSub => "pubsub",
            Category::Admin => "admin",
            Category::Fast => "fast",
            Category::Slow => "slow",
            Category::Blocking => "blocking",
            Category::Dangerous => "dangerous",
            Category::Connection => "connection",
            Category::Transaction => "transaction",
            Category::Scripting => "scripting",
        }
    }

    /// The category named `name` (without `@`, case-insensitive, as Redis's
    /// ACLGetCommandCategoryFlagByName).
    pub fn from_name(name: &[u8]) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.name().as_bytes().eq_ignore_ascii_case(name))
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// A command's ACL categories.
///
/// ```
/// use ferrokv_core::commands::meta::{redis_commands, Category};
/// let get = &redis_commands()["get"];
/// assert!(get.acl_categories.has(Category::Read));
/// assert!(!get.acl_categories.has(Category::Write));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AclCategories(u32);

impl AclCategories {
    /// No category.
    pub const EMPTY: AclCategories = AclCategories(0);

    /// Whether `cat` is one of them.
    pub const fn has(self, cat: Category) -> bool {
        self.0 & cat.bit() != 0
    }

    /// Adds `cat`.
    pub fn insert(&mut self, cat: Category) {
        self.0 |= cat.bit();
    }

    /// Whether there are none.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The categories, in Redis's order.
    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.has(*c))
    }

    /// Adds the categories Redis derives from command flags (setImplicitACLCategories):
    /// write → @write, readonly → @read unless @scripting, admin → @admin @dangerous,
    /// pubsub → @pubsub, fast → @fast, blocking → @blocking, and @slow when not @fast.
    pub fn with_implicit(mut self, flags: Flags) -> AclCategories {
        if flags.has(Flags::WRITE) {
            self.insert(Category::Write);
        }
        if flags.has(Flags::READONLY) && !self.has(Category::Scripting) {
            self.insert(Category::Read);
        }
        if flags.has(Flags::ADMIN) {
            self.insert(Category::Admin);
            self.insert(Category::Dangerous);
        }
        if flags.has(Flags::PUBSUB) {
            self.insert(Category::PubSub);
        }
        if flags.has(Flags::FAST) {
            self.insert(Category::Fast);
        }
        if flags.has(Flags::BLOCKING) {
            self.insert(Category::Blocking);
        }
        if !self.has(Category::Fast) {
            self.insert(Category::Slow);
        }
        self
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
    /// What the command does with the keys this spec finds.
    pub flags: KeyFlags,
    /// Where the search begins.
    pub begin: BeginSearch,
    /// How keys are found.
    pub find: FindKeys,
}

/// One key of a command's arguments: its index in argv (the name is 0) and what the
/// command does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    /// Index in argv.
    pub pos: usize,
    /// Its flags (empty where Redis's getkeys procedure reports none).
    pub flags: KeyFlags,
}

/// The keys of one command, inline up to 8.
pub type KeyRefs = smallvec::SmallVec<[KeyRef; 8]>;

/// Redis's own key-finding procedure of a command whose key specs cannot describe
/// all of its keys or their flags (src/db.c `*GetKeys`). It is used when the specs
/// fail on the arguments (incomplete or unknown specs, bad numkeys) or carry
/// `variable_flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetKeysProc {
    /// genericGetKeys: `num = atoi(argv[count])` keys from `first` every `step`, then
    /// the destination at `store` (0: none); nothing when `num` is out of range.
    /// ZUNIONSTORE, ZUNION, EVAL, FCALL, LMPOP, BLMPOP, SINTERCARD, ...
    Generic {
        /// Index of the destination key, 0 for none.
        store: usize,
        /// Index of the key count.
        count: usize,
        /// Index of the first key.
        first: usize,
        /// Distance between keys.
        step: usize,
    },
    /// SORT: the sorted key, and the last STORE's key.
    Sort,
    /// SORT_RO: the sorted key.
    SortRo,
    /// MIGRATE: the key, or those after KEYS.
    Migrate,
    /// GEORADIUS(BYMEMBER): the key and a STORE/STOREDIST key.
    Georadius,
    /// XREAD/XREADGROUP: the first half of what follows STREAMS.
    Xread,
    /// SET: read as well as written with GET.
    Set,
    /// BITFIELD: read-only with GET and OVERFLOW only.
    Bitfield,
}

/// The getkeys procedure Redis 7.0.15 registers for `name` (src/commands.c).
fn getkeys_proc(name: &str) -> Option<GetKeysProc> {
    let generic = |store, count, first| GetKeysProc::Generic {
        store,
        count,
        first,
        step: 1,
    };
    Some(match name {
        "zunionstore" | "zinterstore" | "zdiffstore" => generic(1, 2, 3),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            generic(0, 1, 2)
        }
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "blmpop"
        | "bzmpop" => generic(0, 2, 3),
        "sort" => GetKeysProc::Sort,
        "sort_ro" => GetKeysProc::SortRo,
        "migrate" => GetKeysProc::Migrate,
        "georadius" | "georadiusbymember" => GetKeysProc::Georadius,
        "xread" | "xreadgroup" => GetKeysProc::Xread,
        "set" => GetKeysProc::Set,
        "bitfield" => GetKeysProc::Bitfield,
        _ => return None,
    })
}

/// C's `strcasecmp(arg, word) == 0` on an sds argument: the argument ends at its
/// first NUL, case is ASCII-folded.
fn c_eq(arg: &[u8], word: &str) -> bool {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    arg[..end].eq_ignore_ascii_case(word.as_bytes())
}

/// glibc `atoi`: `(int) strtol(s, NULL, 10)`: leading white space, an optional sign,
/// digits up to the first other byte; saturates at the `long` range, then keeps the
/// low 32 bits.
fn c_atoi(s: &[u8]) -> i32 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    let mut saturated = false;
    while let Some(d) = s.get(i).filter(|d| d.is_ascii_digit()) {
        let digit = i64::from(d - b'0');
        match v.checked_mul(10).and_then(|x| {
            if neg {
                x.checked_sub(digit)
            } else {
                x.checked_add(digit)
            }
        }) {
            Some(x) => v = x,
            None => {
                saturated = true;
                break;
            }
        }
        i += 1;
    }
    if saturated {
        v = if neg { i64::MIN } else { i64::MAX };
    }
    v as i32
}

impl GetKeysProc {
    /// Appends the keys of `args` (argv with the name) to `out`, as the Redis
    /// procedure does; nothing when the arguments are malformed.
    fn run(self, args: &[&[u8]], out: &mut KeyRefs) {
        let argc = args.len();
        let mut push = |pos: usize, flags: KeyFlags| out.push(KeyRef { pos, flags });
        match self {
            GetKeysProc::Generic {
                store,
                count,
                first,
                step,
            } => {
                let Some(n) = args.get(count).map(|a| c_atoi(a)) else {
                    return;
                };
                let room = (argc as i64 - first as i64) / step as i64;
                if n < 1 || i64::from(n) > room {
                    return;
                }
                for i in 0..n as usize {
                    push(first + i * step, KeyFlags::NONE);
                }
                if store != 0 {
                    push(store, KeyFlags::NONE);
                }
            }
            GetKeysProc::SortRo => push(1, KeyFlags::RO | KeyFlags::ACCESS),
            GetKeysProc::Sort => {
                push(1, KeyFlags::RO | KeyFlags::ACCESS);
                // Options are taken to have no argument except these; the last STORE
                // wins, as in SORT itself.
                let mut store = None;
                let mut i = 2;
                while i < argc {
                    let a = args[i];
                    if c_eq(a, "limit") {
                        i += 2;
                    } else if c_eq(a, "store") && i + 1 < argc {
                        store = Some(i + 1);
                    } else if c_eq(a, "get") || c_eq(a, "by") {
                        i += 1;
                    }
                    i += 1;
                }
                if let Some(pos) = store {
                    push(pos, KeyFlags::OW | KeyFlags::UPDATE);
                }
            }
            GetKeysProc::Migrate => {
                let (mut first, mut num) = (3, 1);
                if argc > 6 {
                    let mut i = 6;
                    while i < argc {
                        let a = args[i];
                        if c_eq(a, "keys") {
                            if args[3].is_empty() {
                                first = i + 1;
                                num = argc - first;
                            } else {
                                // A syntax error MIGRATE itself reports.
                                num = 0;
                            }
                            break;
                        }
                        if c_eq(a, "auth") {
                            i += 1;
                        } else if c_eq(a, "auth2") {
                            i += 2;
                        }
                        i += 1;
                    }
                }
                for pos in first..first + num {
                    push(pos, KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::DELETE);
                }
            }
            GetKeysProc::Georadius => {
                let mut stored = None;
                let mut i = 5;
                while i < argc {
                    if (c_eq(args[i], "store") || c_eq(args[i], "storedist")) && i + 1 < argc {
                        stored = Some(i + 1);
                        i += 1;
                    }
                    i += 1;
                }
                push(1, KeyFlags::NONE);
                if let Some(pos) = stored {
                    push(pos, KeyFlags::NONE);
                }
            }
            GetKeysProc::Xread => {
                let mut streams = None;
                let mut i = 1;
                while i < argc {
                    let a = args[i];
                    if c_eq(a, "block") || c_eq(a, "count") {
                        i += 1;
                    } else if c_eq(a, "group") {
                        i += 2;
                    } else if c_eq(a, "streams") {
                        streams = Some(i);
                        break;
                    } else if !c_eq(a, "noack") {
                        break;
                    }
                    i += 1;
                }
                let Some(s) = streams else { return };
                let num = argc - s - 1;
                if num == 0 || !num.is_multiple_of(2) {
                    return;
                }
                for pos in s + 1..s + 1 + num / 2 {
                    push(pos, KeyFlags::NONE);
                }
            }
            GetKeysProc::Set => {
                // Redis compares the first four bytes of the C string with "get\0".
                let is_get = |a: &[u8]| {
                    a.len() >= 3
                        && a[..3].eq_ignore_ascii_case(b"get")
                        && a.get(3).is_none_or(|&b| b == 0)
                };
                let flags = if args.iter().skip(3).any(|a| is_get(a)) {
                    KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::UPDATE
                } else {
                    KeyFlags::OW | KeyFlags::UPDATE
                };
                push(1, flags);
            }
            GetKeysProc::Bitfield => {
                let mut readonly = true;
                let mut i = 2;
                while i < argc {
                    let rem = argc - i - 1;
                    let a = args[i];
                    if c_eq(a, "get") && rem >= 2 {
                        i += 2;
                    } else if (c_eq(a, "set") || c_eq(a, "incrby")) && rem >= 3 {
                        readonly = false;
                        break;
                    } else if c_eq(a, "overflow") && rem >= 1 {
                        i += 1;
                    } else {
                        // A syntax error: safer taken as a write.
                        readonly = false;
                        break;
                    }
                    i += 1;
                }
                let flags = if readonly {
                    KeyFlags::RO | KeyFlags::ACCESS
                } else {
                    KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::UPDATE
                };
                push(1, flags);
            }
        }
    }
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
    /// ACL categories, including those Redis derives from the flags.
    pub acl_categories: AclCategories,
    /// Redis's own key-finding procedure, for commands whose specs are not enough.
    pub getkeys_proc: Option<GetKeysProc>,
    /// Subcommands by lower-case name (without the `parent|` prefix).
    pub subcommands: Vec<CommandMeta>,
    /// The COMMAND INFO entry as Redis sends it, RESP3-encoded, its subcommands
    /// left out (COMMAND lists the implemented ones): decoded when a client asks.
    /// Kept encoded because the decoded trees of every command cost about 2 MB
    /// that a server would hold from start-up for a rarely sent command.
    info: Box<[u8]>,
    /// The COMMAND DOCS entry (the value of the name → docs map), encoded the same
    /// way, its `subcommands` value emptied.
    docs: Option<Box<[u8]>>,
    /// The `group` from the docs (string, list, server, ...).
    pub group: String,
}

impl CommandMeta {
    /// The COMMAND INFO entry (its subcommand list empty).
    pub fn info(&self) -> Frame {
        decode(&self.info)
    }

    /// The COMMAND DOCS entry (its `subcommands` map empty), if Redis documents it.
    pub fn docs(&self) -> Option<Frame> {
        self.docs.as_deref().map(decode)
    }

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

    /// Whether Redis considers the command to take keys (doesCommandHaveKeys): it has
    /// a getkeys procedure or a spec not marked `not_key`.
    pub fn has_keys(&self) -> bool {
        self.getkeys_proc.is_some()
            || self
                .key_specs
                .iter()
                .any(|s| !s.flags.has(KeyFlags::NOT_KEY))
    }

    /// The keys of `args` (argv including the name) with what the command does with
    /// each, exactly as Redis 7.0's getKeysFromCommandWithSpecs: from the key specs
    /// when they describe the command fully, otherwise from the command's getkeys
    /// procedure. Empty when the arguments are malformed (and for commands without
    /// keys). This is what COMMAND GETKEYS[ANDFLAGS] reports and what ACL key checks
    /// and cluster slot checks must look at.
    ///
    /// ```
    /// use ferrokv_core::commands::meta::{redis_commands, KeyFlags};
    /// let lmove = &redis_commands()["lmove"];
    /// let args: [&[u8]; 5] = [b"LMOVE", b"src", b"dst", b"LEFT", b"RIGHT"];
    /// let keys = lmove.keys(&args);
    /// assert_eq!((keys[0].pos, keys[1].pos), (1, 2));
    /// assert!(keys[0].flags.has(KeyFlags::RW | KeyFlags::DELETE));
    /// assert!(keys[1].flags.has(KeyFlags::RW | KeyFlags::INSERT));
    /// ```
    pub fn keys(&self, args: &[&[u8]]) -> KeyRefs {
        let mut out = KeyRefs::new();
        let mut usable = false;
        let mut variable = false;
        for s in &self.key_specs {
            usable |= !s.flags.has(KeyFlags::NOT_KEY);
            variable |= s.flags.has(KeyFlags::VARIABLE_FLAGS);
        }
        if usable && !variable && self.keys_from_specs(args, &mut out) {
            return out;
        }
        out.clear();
        if let Some(proc) = self.getkeys_proc {
            proc.run(args, &mut out);
        }
        out
    }

    /// For a command whose only key spec is one key at a fixed index (GET, SET,
    /// INCR, HSET, ...): that key's position and flags, `Some(None)` when `args`
    /// is too short to hold it; `None` for every other command (use
    /// [`keys`](Self::keys)). Lets the per-command ACL check skip building a list.
    #[inline]
    pub fn single_key(&self, args: &[&[u8]]) -> Option<Option<(usize, KeyFlags)>> {
        if self.getkeys_proc.is_some() {
            return None;
        }
        self.single_key_position(args)
    }

    /// [`single_key`](Self::single_key) for a caller that needs the position only:
    /// also for commands whose flags vary with the arguments (SET with GET), whose
    /// flags here are the spec's, not the call's.
    #[inline]
    pub fn single_key_position(&self, args: &[&[u8]]) -> Option<Option<(usize, KeyFlags)>> {
        let [spec] = &self.key_specs[..] else {
            return None;
        };
        if spec.flags.has(KeyFlags::NOT_KEY)
            || (spec.flags.has(KeyFlags::VARIABLE_FLAGS) && self.getkeys_proc.is_none())
        {
            return None;
        }
        match (&spec.begin, &spec.find) {
            (
                BeginSearch::Index(i),
                FindKeys::Range {
                    lastkey: 0,
                    step: 1,
                    limit: 0,
                },
            ) if *i >= 1 => {
                let i = *i as usize;
                Some((i < args.len()).then_some((i, spec.flags)))
            }
            _ => None,
        }
    }

    /// Calls `f(position, flags)` for each key of [`keys`](Self::keys).
    pub fn for_each_key_with_flags(&self, args: &[&[u8]], mut f: impl FnMut(usize, KeyFlags)) {
        for k in self.keys(args) {
            f(k.pos, k.flags);
        }
    }

    /// Redis's getKeysUsingKeySpecs: false when a spec cannot be applied to `args`
    /// (an unknown or incomplete spec, a bad numkeys, a range out of bounds), in
    /// which case the caller falls back to the getkeys procedure.
    fn keys_from_specs(&self, args: &[&[u8]], out: &mut KeyRefs) -> bool {
        let argc = args.len() as i64;
        for spec in &self.key_specs {
            if spec.flags.has(KeyFlags::NOT_KEY) {
                continue;
            }
            let mut first = match &spec.begin {
                BeginSearch::Index(i) => *i,
                BeginSearch::Keyword { keyword, startfrom } => {
                    // As Redis: from `startfrom` up to (not including) the last
                    // argument, or from the end down to (not including) argv[1].
                    let (start, end) = if *startfrom > 0 {
                        (*startfrom, argc - 1)
                    } else {
                        (argc + startfrom, 1)
                    };
                    let mut found = 0;
                    let mut i = start;
                    while i != end {
                        if i >= argc || i < 1 {
                            break;
                        }
                        let arg = args[i as usize];
                        let end_c = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
                        if arg[..end_c].eq_ignore_ascii_case(keyword) {
                            found = i + 1;
                            break;
                        }
                        i += if start <= end { 1 } else { -1 };
                    }
                    if found == 0 {
                        continue;
                    }
                    found
                }
                BeginSearch::Unknown => return false,
            };
            let (last, step) = match &spec.find {
                FindKeys::Range {
                    lastkey,
                    step,
                    limit,
                } => {
                    let last = if *lastkey >= 0 {
                        first + lastkey
                    } else if *limit == 0 {
                        argc + lastkey
                    } else {
                        first + ((argc - first) / limit + lastkey)
                    };
                    (last, *step)
                }
                FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    step,
                } => {
                    let idx = first + keynumidx;
                    if *keynumidx >= argc || idx >= argc || idx < 0 {
                        return false;
                    }
                    let n = match crate::args::parse_i64(args[idx as usize]) {
                        Some(n) if n >= 0 => n,
                        _ => return false,
                    };
                    first += firstkey;
                    // Redis keeps the count in an int.
                    (first + i64::from(n as i32) - 1, *step)
                }
                FindKeys::Unknown => return false,
            };
            if last >= argc || last < first || first >= argc || first < 0 || step <= 0 {
                return false;
            }
            let mut i = first;
            while i <= last {
                out.push(KeyRef {
                    pos: i as usize,
                    flags: spec.flags,
                });
                i += step;
            }
            if spec.flags.has(KeyFlags::INCOMPLETE) {
                return false;
            }
        }
        true
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
    let mut flags = KeyFlags::NONE;
    if let Some(Frame::Set(fs) | Frame::Array(fs)) = map_get(pairs, "flags") {
        for name in fs.iter().filter_map(Frame::as_bytes) {
            flags |= KeyFlags::from_name(name).unwrap_or_default();
        }
    }
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
    Some(KeySpec { flags, begin, find })
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
    let mut acl_categories = AclCategories::EMPTY;
    if let Frame::Set(cats) | Frame::Array(cats) = &items[6] {
        for c in cats.iter().filter_map(Frame::as_bytes) {
            if let Some(cat) = c.strip_prefix(b"@").and_then(Category::from_name) {
                acl_categories.insert(cat);
            }
        }
    }
    let acl_categories = acl_categories.with_implicit(flags);
    let getkeys_proc = getkeys_proc(&name);
    let doc = docs.get(&name);
    let group = match doc {
        Some(Frame::Map(pairs)) => map_get(pairs, "group").map(text).unwrap_or_default(),
        _ => String::new(),
    };
    let docs_packed = doc.map(|d| {
        let mut d = d.clone();
        if let Frame::Map(pairs) = &mut d {
            if let Some(slot) = pairs
                .iter_mut()
                .find(|(k, _)| k.as_bytes() == Some(b"subcommands"))
            {
                slot.1 = Frame::Map(Vec::new());
            }
        }
        Box::from(&d.to_bytes()[..])
    });
    let mut own = items.clone();
    own[9] = Frame::Set(Vec::new());
    let info_packed = Box::from(&Frame::Array(own).to_bytes()[..]);
    Some(CommandMeta {
        arity: int(&items[1]),
        flags,
        first_key: int(&items[3]),
        last_key: int(&items[4]),
        step: int(&items[5]),
        key_specs,
        acl_categories,
        getkeys_proc,
        subcommands,
        info: info_packed,
        docs: docs_packed,
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

/// The command or subcommand `args` (argv starting at the name) names, among every
/// command Redis 7.0.15 knows, as Redis's lookupCommand: the container itself when
/// there is no second argument, `None` for an unknown name or subcommand.
pub fn lookup(args: &[&[u8]]) -> Option<&'static CommandMeta> {
    let name = std::str::from_utf8(args.first()?)
        .ok()?
        .to_ascii_lowercase();
    let base = redis_commands().get(&name)?;
    match args.get(1) {
        Some(sub) if !base.subcommands.is_empty() => base.subcommand(sub),
        _ => Some(base),
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
        // Flags Redis keeps internal (COMMAND INFO does not show them), from its
        // commands.c: scripts treat may_replicate commands as writes.
        for name in ["pfcount", "publish", "spublish", "eval", "evalsha", "fcall"] {
            if let Some(m) = out.get_mut(name) {
                m.flags = Flags(m.flags.0 | Flags::MAY_REPLICATE.0);
            }
        }
        for (parent, info) in LATER_SUBCOMMANDS {
            let frame = decode(info.as_bytes());
            if let (Some(sub), Some(p)) = (parse_info(&frame, &docs), out.get_mut(*parent)) {
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
    fn single_key_agrees_with_the_key_specs() {
        let argv = ["x", "k1", "k2", "k3", "k4", "k5"];
        let mut fast = 0;
        for m in redis_commands().values() {
            for cmd in std::iter::once(m).chain(m.subcommands.iter()) {
                // Arity is checked before anything reads keys.
                for n in (1..=argv.len()).filter(|&n| cmd.arity_ok(n)) {
                    let a: Vec<&[u8]> = argv[..n].iter().map(|s| s.as_bytes()).collect();
                    if let Some(single) = cmd.single_key(&a) {
                        fast += 1;
                        let general: Vec<(usize, KeyFlags)> =
                            cmd.keys(&a).iter().map(|k| (k.pos, k.flags)).collect();
                        assert_eq!(
                            single.into_iter().collect::<Vec<_>>(),
                            general,
                            "{}",
                            cmd.name
                        );
                    }
                    if let Some(single) = cmd.single_key_position(&a) {
                        let general: Vec<usize> = cmd.keys(&a).iter().map(|k| k.pos).collect();
                        let pos: Vec<usize> = single.into_iter().map(|(p, _)| p).collect();
                        assert_eq!(pos, general, "{} positions", cmd.name);
                    }
                }
            }
        }
        assert!(fast > 100, "most commands have one fixed key: {fast}");
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

    /// `(key, flag names)` of `args` as COMMAND GETKEYSANDFLAGS reports them.
    fn keys_flags(args: &[&str]) -> Vec<(String, String)> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let m = lookup(&a).expect("known command");
        m.keys(&a)
            .iter()
            .map(|k| {
                let names: Vec<&str> = k.flags.names().collect();
                (args[k.pos].to_string(), names.join(" "))
            })
            .collect()
    }

    fn kf(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, f)| (k.to_string(), f.to_string()))
            .collect()
    }

    #[test]
    fn key_spec_flags_and_acl_categories() {
        let all = redis_commands();
        let lmove = &all["lmove"];
        assert_eq!(
            lmove.key_specs[0].flags,
            KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::DELETE
        );
        assert_eq!(lmove.key_specs[1].flags, KeyFlags::RW | KeyFlags::INSERT);
        assert!(all["set"].key_specs[0].flags.has(KeyFlags::VARIABLE_FLAGS));
        assert_eq!(all["sort"].key_specs[1].begin, BeginSearch::Unknown);
        assert!(all["migrate"].key_specs[1].flags.has(KeyFlags::INCOMPLETE));
        assert_eq!(KeyFlags::from_name(b"not_key"), Some(KeyFlags::NOT_KEY));
        assert_eq!(
            (KeyFlags::OW | KeyFlags::UPDATE)
                .names()
                .collect::<Vec<_>>(),
            ["OW", "update"]
        );
        let get = &all["get"];
        let cats: Vec<&str> = get.acl_categories.iter().map(Category::name).collect();
        assert_eq!(cats, ["read", "string", "fast"]);
        assert!(all["flushall"].acl_categories.has(Category::Dangerous));
        assert!(all["blpop"].acl_categories.has(Category::Blocking));
        assert!(all["eval"].acl_categories.has(Category::Scripting));
        assert!(!all["eval_ro"].acl_categories.has(Category::Read));
        assert_eq!(Category::from_name(b"SortedSet"), Some(Category::SortedSet));
        assert_eq!(Category::from_name(b"@read"), None);
        // COMMAND INFO already lists the categories Redis derives from the flags.
        fn check(m: &CommandMeta) {
            assert_eq!(
                m.acl_categories.with_implicit(m.flags),
                m.acl_categories,
                "{}",
                m.name
            );
            assert!(!m.acl_categories.is_empty(), "{}", m.name);
            m.subcommands.iter().for_each(check);
        }
        all.values().for_each(check);
    }

    #[test]
    fn c_atoi_is_glibc() {
        for (s, n) in [
            ("12", 12),
            ("  -3x", -3),
            ("+4", 4),
            ("1abc", 1),
            ("abc", 0),
            ("", 0),
            ("\t\n7", 7),
            ("4294967297", 1),
            ("99999999999999999999", -1),
            ("-99999999999999999999", 0),
            ("2147483648", i32::MIN),
            ("1\0\x32", 1),
        ] {
            assert_eq!(c_atoi(s.as_bytes()), n, "{s:?}");
        }
    }

    #[test]
    fn keys_as_redis_getkeys() {
        assert_eq!(
            keys_flags(&["lmove", "a", "b", "left", "right"]),
            kf(&[("a", "RW access delete"), ("b", "RW insert")])
        );
        assert_eq!(
            keys_flags(&["zunionstore", "d", "2", "a", "b"]),
            kf(&[("d", "OW update"), ("a", "RO access"), ("b", "RO access")])
        );
        // A numkeys string2ll refuses: the procedure's atoi reads it, flags are lost
        // and the destination comes last.
        assert_eq!(
            keys_flags(&["zunionstore", "d", "1abc", "a", "b"]),
            kf(&[("a", ""), ("d", "")])
        );
        assert_eq!(
            keys_flags(&["zunionstore", "d", "4294967297", "a"]),
            kf(&[("d", "OW update"), ("a", "RO access")])
        );
        assert!(keys_flags(&["zunionstore", "d", "0", "a"]).is_empty());
        assert_eq!(
            keys_flags(&["sort", "k", "by", "store", "store", "d", "limit", "0", "1"]),
            kf(&[("k", "RO access"), ("d", "OW update")])
        );
        assert_eq!(
            keys_flags(&["sort_ro", "k", "store", "d"]),
            kf(&[("k", "RO access")])
        );
        assert_eq!(
            keys_flags(&["set", "k", "v", "GET"]),
            kf(&[("k", "RW access update")])
        );
        assert_eq!(keys_flags(&["set", "k", "v"]), kf(&[("k", "OW update")]));
        assert_eq!(
            keys_flags(&["bitfield", "k", "get", "u8", "0"]),
            kf(&[("k", "RO access")])
        );
        assert_eq!(
            keys_flags(&["bitfield", "k", "get", "u8"]),
            kf(&[("k", "RW access update")])
        );
        assert_eq!(
            keys_flags(&["migrate", "h", "1", "", "0", "5", "auth", "keys", "keys", "a", "b"]),
            kf(&[("a", "RW access delete"), ("b", "RW access delete")])
        );
        assert!(keys_flags(&["migrate", "h", "1", "k", "0", "5", "keys", "a"]).is_empty());
        assert_eq!(
            keys_flags(&["xread", "count", "1", "streams", "a", "b", "0", "0"]),
            kf(&[("a", "RO access"), ("b", "RO access")])
        );
        // STREAMS' range is half of what follows, rounded down.
        assert_eq!(
            keys_flags(&["xread", "streams", "a", "b", "0"]),
            kf(&[("a", "RO access")])
        );
        assert!(keys_flags(&["xread", "streams", "a"]).is_empty());
        assert_eq!(
            keys_flags(&["georadius", "k", "1", "2", "3", "m", "store", "d"]),
            kf(&[("k", "RO access"), ("d", "OW update")])
        );
        assert_eq!(keys_flags(&["memory", "usage", "k"]), kf(&[("k", "RO")]));
        assert!(keys_flags(&["eval", "s", "0"]).is_empty());
        let a: Vec<&[u8]> = vec![b"CONFIG"];
        assert!(lookup(&a).is_some_and(|m| !m.has_keys()));
        let a: Vec<&[u8]> = vec![b"config", b"nosuch"];
        assert!(lookup(&a).is_none());
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
