//! Command errors. Each variant's `Display` is the exact text Redis 7.0 replies with
//! (the reply encoder adds the leading `-`). Commands return these; they never format
//! an error string themselves.

use thiserror::Error;

/// The result of running a command.
pub type CmdResult<T = ()> = Result<T, CmdError>;

/// An error reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CmdError {
    /// Arity check failed; carries the command's full name (`get`, `client|kill`).
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// No such command; `args` is the prebuilt `'a' 'b' ` list of the first arguments.
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand {
        /// The command name as sent (at most 128 bytes).
        name: String,
        /// The quoted first arguments.
        args: String,
    },
    /// No such subcommand of a container command.
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand {
        /// The subcommand as sent (at most 128 bytes).
        sub: String,
        /// The container command, upper case.
        cmd: String,
    },
    /// COMMAND GETKEYS[ANDFLAGS] of a name Redis does not know.
    #[error("ERR Invalid command specified")]
    GetKeysInvalidCommand,
    /// COMMAND GETKEYS[ANDFLAGS] of a command that never takes keys.
    #[error("ERR The command has no key arguments")]
    GetKeysNoKeyArguments,
    /// COMMAND GETKEYS[ANDFLAGS] with a wrong number of arguments for the command.
    #[error("ERR Invalid number of arguments specified for command")]
    GetKeysInvalidArgumentCount,
    /// COMMAND GETKEYS[ANDFLAGS] whose arguments name no key (bad numkeys, ...).
    #[error("ERR Invalid arguments specified for command")]
    GetKeysInvalidArguments,
    /// A subcommand given a number of arguments it does not take, where the table's
    /// arity let it through (Redis's addReplySubcommandSyntaxError).
    #[error("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP.")]
    SubcommandSyntax {
        /// The subcommand as sent (at most 128 bytes).
        sub: String,
        /// The container command, upper case.
        cmd: String,
    },
    /// The key holds a value of another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// An argument (or stored value) is not an integer in range.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument (or stored value) is not a valid float.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// Generic option parsing failure.
    #[error("ERR syntax error")]
    Syntax,
    /// INCR family overflow.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// DECRBY with the smallest integer.
    #[error("ERR decrement would overflow")]
    DecrementOverflow,
    /// INCRBYFLOAT produced NaN or an infinity.
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// RENAME and friends on a missing key.
    #[error("ERR no such key")]
    NoSuchKey,
    /// SELECT / MOVE / COPY with a bad db index.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// A relative or absolute expire that is not positive / overflows.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(String),
    /// SETRANGE / APPEND beyond proto-max-bulk-len.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    /// SETRANGE / GETRANGE offsets.
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    /// COPY / SMOVE / MOVE onto itself.
    #[error("ERR source and destination objects are the same")]
    SameObject,
    /// Mutually exclusive EXPIRE options.
    #[error("ERR NX and XX, GT or LT options at the same time are not compatible")]
    ExpireNxXxGtLt,
    /// GT and LT together.
    #[error("ERR GT and LT options at the same time are not compatible")]
    ExpireGtLt,
    /// SCAN cursor not a number.
    #[error("ERR invalid cursor")]
    InvalidCursor,
    /// SWAPDB's first index.
    #[error("ERR invalid first DB index")]
    InvalidFirstDb,
    /// SWAPDB's second index.
    #[error("ERR invalid second DB index")]
    InvalidSecondDb,
    /// OBJECT FREQ without an LFU policy.
    #[error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")]
    NoLfuPolicy,
    /// OBJECT IDLETIME with an LFU policy.
    #[error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")]
    LfuPolicy,
    /// A command needs authentication first.
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// Bad credentials.
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    /// AUTH with a password while none is configured.
    #[error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")]
    AuthNotConfigured,
    /// HELLO with an unsupported version.
    #[error("NOPROTO unsupported protocol version")]
    NoProto,
    /// HELLO with a non-numeric version.
    #[error("ERR Protocol version is not an integer or out of range")]
    ProtoNotInteger,
    /// CLIENT KILL found nobody.
    #[error("ERR No such client")]
    NoSuchClient,
    /// CLIENT KILL ID with a bad id.
    #[error("ERR client-id should be greater than 0")]
    BadClientId,
    /// CLIENT SETNAME with spaces or newlines.
    #[error("ERR Client names cannot contain spaces, newlines or special characters.")]
    BadClientName,
    /// CONFIG SET of an unknown parameter.
    #[error("ERR Unknown option or number of arguments for CONFIG SET - '{0}'")]
    ConfigUnknown(String),
    /// CONFIG SET with a bad value; carries the parameter and the reason.
    #[error("ERR CONFIG SET failed (possibly related to argument '{0}') - {1}")]
    ConfigBadValue(String, String),
    /// An integer past what the command accepts (Redis's getLongFromObject past
    /// `long`, or a count too large to honour).
    #[error("ERR value is out of range")]
    OutOfRange,
    /// An integer outside `min..=max` (Redis's getRangeLongFromObjectOrReply).
    #[error("ERR value is out of range, value must between {0} and {1}")]
    OutOfRangeBetween(i64, i64),
    /// A positive integer was required (e.g. COUNT).
    #[error("ERR value is out of range, must be positive")]
    NotPositive,
    /// The server is shutting down / not allowed.
    #[error("ERR Errors trying to SHUTDOWN. Check logs.")]
    ShutdownFailed,
    /// DEBUG refused by enable-debug-command.
    #[error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")]
    DebugNotAllowed,
    /// DEBUG RELOAD with an option it does not know.
    #[error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")]
    DebugReloadOption,
    /// DEBUG RELOAD could not load the file it saved.
    #[error("ERR Error trying to load the RDB dump")]
    DebugReloadFailed,
    /// DEBUG LISTPACK on a value of another encoding.
    #[error("ERR Not a listpack encoded object.")]
    NotListpack,
    /// DEBUG QUICKLIST on a value of another encoding.
    #[error("ERR Not a quicklist encoded object.")]
    NotQuicklist,
    /// DEBUG SDSLEN on a value that is not an sds string.
    #[error("ERR Not an sds encoded string.")]
    NotSds,
    /// DEBUG PROTOCOL with an unknown type name.
    #[error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")]
    DebugProtocolType,
    /// DEBUG PROTOCOL PUSH over RESP2.
    #[error("ERR RESP2 is not supported by this command")]
    Resp2NotSupported,
    /// DEBUG QUICKLIST-PACKED-THRESHOLD out of range.
    #[error("ERR argument must be a memory value bigger than 1 and smaller than 4gb")]
    PackedThreshold,
    /// DEBUG HTSTATS with a db index out of range.
    #[error("ERR Out of range database")]
    OutOfRangeDb,
    /// DEBUG HTSTATS-KEY on a value without a hash table.
    #[error("ERR The value stored at the specified key is not represented using an hash table")]
    NotHashTable,
    /// DEBUG ERROR: the text as given, newlines made spaces.
    #[error("{0}")]
    DebugError(String),
    /// CLIENT LIST ID with an id that is not an integer.
    #[error("ERR Invalid client ID")]
    InvalidClientId,
    /// SETBIT / GETBIT / BITFIELD offset not an integer, negative or past
    /// proto-max-bulk-len.
    #[error("ERR bit offset is not an integer or out of range")]
    BitOffset,
    /// SETBIT's value is not 0 or 1.
    #[error("ERR bit is not an integer or out of range")]
    BitValue,
    /// BITPOS's bit is not 0 or 1.
    #[error("ERR The bit argument must be 1 or 0.")]
    BitposBit,
    /// BITOP NOT with more than one source.
    #[error("ERR BITOP NOT must be called with a single source key.")]
    BitopNotSingleKey,
    /// BITFIELD type other than i1..i64, u1..u63.
    #[error("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")]
    BitfieldType,
    /// BITFIELD OVERFLOW other than WRAP, SAT, FAIL.
    #[error("ERR Invalid OVERFLOW type specified")]
    BitfieldOverflowType,
    /// BITFIELD_RO given SET or INCRBY.
    #[error("ERR BITFIELD_RO only supports the GET subcommand")]
    BitfieldReadOnly,
    /// A string that is not a HyperLogLog (bad header or dense length).
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    /// A HyperLogLog whose sparse encoding does not decode.
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    CorruptHll,
    /// PFDEBUG of a missing key.
    #[error("ERR The specified key does not exist")]
    PfdebugNoKey,
    /// PFDEBUG DECODE of a dense HyperLogLog.
    #[error("ERR HLL encoding is not sparse")]
    HllNotSparse,
    /// PFDEBUG with an unknown subcommand (as sent).
    #[error("ERR Unknown PFDEBUG subcommand '{0}'")]
    PfdebugUnknown(String),
    /// PFDEBUG subcommand with extra arguments (the subcommand as sent).
    #[error("ERR Wrong number of arguments for the '{0}' subcommand")]
    PfdebugArity(String),
    /// PFSELFTEST found a fault; the text says which.
    #[error("ERR TESTFAILED {0}")]
    HllSelfTest(String),
    /// A stream ID argument that does not parse.
    #[error("ERR Invalid stream ID specified as stream command argument")]
    InvalidStreamId,
    /// An exclusive range start at the largest ID.
    #[error("ERR invalid start ID for the interval")]
    InvalidStartId,
    /// An exclusive range end at 0-0.
    #[error("ERR invalid end ID for the interval")]
    InvalidEndId,
    /// XADD with ID 0-0.
    #[error("ERR The ID specified in XADD must be greater than 0-0")]
    XaddIdZero,
    /// XADD with an ID not above the stream's last.
    #[error("ERR The ID specified in XADD is equal or smaller than the target stream top item")]
    XaddIdTooSmall,
    /// XADD to a stream whose last ID is the largest.
    #[error("ERR The stream has exhausted the last possible ID, unable to add more items")]
    StreamExhausted,
    /// XADD fields past a listpack's size.
    #[error("ERR Elements are too large to be stored")]
    StreamElementsTooLarge,
    /// MAXLEN and MINID together.
    #[error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")]
    MaxlenMinid,
    /// A negative MAXLEN.
    #[error("ERR The MAXLEN argument must be >= 0.")]
    MaxlenNegative,
    /// A negative LIMIT.
    #[error("ERR The LIMIT argument must be >= 0.")]
    LimitNegative,
    /// LIMIT without MAXLEN or MINID.
    #[error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")]
    LimitWithoutStrategy,
    /// XTRIM without MAXLEN or MINID.
    #[error("ERR syntax error, XTRIM must be called with a trimming strategy")]
    XtrimWithoutStrategy,
    /// LIMIT with exact trimming.
    #[error("ERR syntax error, LIMIT cannot be used without the special ~ option")]
    LimitWithoutApprox,
    /// XREAD's STREAMS with an odd number of arguments.
    #[error(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    )]
    XreadUnbalanced,
    /// XREAD with GROUP.
    #[error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")]
    XreadGroupOption,
    /// XREAD with NOACK.
    #[error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")]
    XreadNoackOption,
    /// XREADGROUP without GROUP.
    #[error("ERR Missing GROUP option for XREADGROUP")]
    XreadgroupMissingGroup,
    /// XREADGROUP with `$`.
    #[error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")]
    XreadgroupDollar,
    /// XREAD with `>`.
    #[error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")]
    XreadGreater,
    /// XREADGROUP on a missing key or group.
    #[error("NOGROUP No such key '{0}' or consumer group '{1}' in XREADGROUP with GROUP option")]
    XreadgroupNoGroup(String, String),
    /// XPENDING, XCLAIM, XAUTOCLAIM on a missing key or group.
    #[error("NOGROUP No such key '{0}' or consumer group '{1}'")]
    NoKeyOrGroup(String, String),
    /// XGROUP / XINFO CONSUMERS on a missing group.
    #[error("NOGROUP No such consumer group '{0}' for key name '{1}'")]
    NoGroupForKey(String, String),
    /// A blocked XREADGROUP whose group was destroyed.
    #[error("NOGROUP the consumer group this client was blocked on no longer exists")]
    BlockedGroupGone,
    /// A blocked XREADGROUP whose key was deleted.
    #[error("UNBLOCKED the stream key no longer exists")]
    BlockedStreamGone,
    /// XGROUP on a missing key without MKSTREAM.
    #[error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")]
    XgroupNoKey,
    /// XGROUP CREATE of an existing group.
    #[error("BUSYGROUP Consumer Group name already exists")]
    BusyGroup,
    /// ENTRIESREAD below -1.
    #[error("ERR value for ENTRIESREAD must be positive or -1")]
    EntriesReadNegative,
    /// XSETID ENTRIESADDED below 0.
    #[error("ERR entries_added must be positive")]
    EntriesAddedNegative,
    /// XSETID with MAXDELETEDID above the ID.
    #[error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")]
    XsetidBelowMaxDeleted,
    /// XSETID below the last entry.
    #[error("ERR The ID specified in XSETID is smaller than the target stream top item")]
    XsetidTooSmall,
    /// XSETID ENTRIESADDED below the length.
    #[error("ERR The entries_added specified in XSETID is smaller than the target stream length")]
    XsetidEntriesAddedTooSmall,
    /// An integer option of XCLAIM / XAUTOCLAIM that does not parse (the text
    /// names the option).
    #[error("ERR Invalid {0} argument for {1}")]
    XclaimInvalid(&'static str, &'static str),
    /// An XCLAIM option it does not know (as sent).
    #[error("ERR Unrecognized XCLAIM option '{0}'")]
    XclaimUnknownOption(String),
    /// XAUTOCLAIM COUNT out of range.
    #[error("ERR COUNT must be > 0")]
    XautoclaimCount,
    /// XREAD BLOCK from a script.
    #[error("ERR {0} command is not allowed with BLOCK option from scripts")]
    BlockFromScript(String),
    /// A cluster command on a server without cluster mode.
    #[error("ERR This instance has cluster support disabled")]
    ClusterDisabled,
    /// An error text built from the command's own data (rare; prefer a variant).
    #[error("ERR {0}")]
    Other(String),
    /// An error reply whose full text (with code) is given.
    #[error("{0}")]
    Raw(String),
    /// An error reply already counted in the error statistics (a script's error
    /// that a command inside it raised and counted).
    #[error("{0}")]
    Counted(String),
}

impl CmdError {
    /// Redis's addReplySubcommandSyntaxError for `args` (container command, then
    /// the subcommand as sent).
    pub fn subcommand_syntax(args: &[&[u8]]) -> CmdError {
        let text = |i: usize| {
            let b = args.get(i).copied().unwrap_or_default();
            String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned()
        };
        CmdError::SubcommandSyntax {
            sub: text(1),
            cmd: text(0).to_ascii_uppercase(),
        }
    }
}
