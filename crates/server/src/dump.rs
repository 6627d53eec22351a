//! DUMP and RESTORE (and RESTORE-ASKING): a key's value as Redis's DUMP payload
//! (RDB encoding + version + CRC-64, `ferrokv_persist::dump`) and back.

use ferrokv_core::args::{int_arg, is_kw};
use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};
use ferrokv_persist::convert::{access_field, from_rdb, to_rdb, write_options, AccessPolicy};
use ferrokv_persist::{decode_dump, encode_dump, DumpError};

/// DUMP, RESTORE, RESTORE-ASKING.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("dump", dump),
    CommandDef::new("restore", restore),
    // The same outside cluster mode (its ASKING flag matters only to redirects).
    CommandDef::new("restore-asking", restore),
];

fn dump(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let opts = write_options(&ctx.engine.config);
    let value = match ctx.keys.read(args[1])? {
        None => None,
        Some(e) => Some(to_rdb(&e.node.value()).map_err(|e| CmdError::Other(e.to_string()))?),
    };
    match value {
        None => ctx.out.null(),
        Some(v) => ctx.out.bulk(&encode_dump(&v, &opts)),
    }
    Ok(())
}

fn restore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is_kw(args[j], "replace") {
            replace = true;
        } else if is_kw(args[j], "absttl") {
            absttl = true;
        } else if is_kw(args[j], "idletime") && more && freq.is_none() {
            let v = int_arg(args[j + 1])?;
            if v < 0 {
                return Err(CmdError::Other(
                    "Invalid IDLETIME value, must be >= 0".into(),
                ));
            }
            idle = Some(v);
            j += 1;
        } else if is_kw(args[j], "freq") && more && idle.is_none() {
            let v = int_arg(args[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::Other(
                    "Invalid FREQ value, must be >= 0 and <= 255".into(),
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if !replace && ctx.keys.write(key)?.is_some() {
        return Err(CmdError::Raw(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = int_arg(args[2])?;
    if ttl < 0 {
        return Err(CmdError::Other("Invalid TTL value, must be >= 0".into()));
    }
    let value = decode_dump(args[3]).map_err(|e| match e {
        DumpError::VersionOrChecksum => {
            CmdError::Other("DUMP payload version or checksum are wrong".into())
        }
        DumpError::BadData(_) => CmdError::Other("Bad data format".into()),
    })?;
    let value = from_rdb(value, &ctx.engine.config).map_err(|e| CmdError::Other(e.to_string()))?;
    let deleted = replace && ctx.keys.delete(key)?;
    let now = ctx.now_ms();
    let when = if ttl != 0 && !absttl {
        ttl.saturating_add(now)
    } else {
        ttl
    };
    if ttl != 0 && ctx.keys.already_expired(when) {
        // Already expired: the key is not created; an old one that REPLACE
        // deleted is logged as a DEL (Redis's restoreCommand).
        if deleted {
            ctx.keys.changed(key, ferrokv_core::notify::events::DEL);
            ctx.keys.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
        }
        ctx.out.ok();
        return Ok(());
    }
    if ttl != 0 && !absttl {
        // A relative TTL is logged as the absolute time it became, so a replay
        // later gives the same expiry.
        let mut argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        argv[2] = when.to_string().into_bytes();
        argv.push(b"ABSTTL".to_vec());
        ctx.keys.propagate_as(argv);
    }
    let policy = AccessPolicy::of(&ctx.engine.config);
    let field = access_field(policy, idle.map(|v| v as u64), freq.map(|v| v as u8), now);
    let db = ctx.keys.db;
    let entry = ctx
        .keys
        .insert_new(key, value, (ttl != 0).then_some(when))?;
    if let Some(f) = field {
        entry.node.set_lru(f);
    }
    ctx.keys.signal_ready(db, key);
    ctx.keys.changed(key, ferrokv_core::notify::events::RESTORE);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION DUMP and FUNCTION RESTORE: the libraries as a DUMP-style payload.
pub static FUNCTION_COMMANDS: &[CommandDef] = &[
    CommandDef::new("function|dump", function_dump),
    CommandDef::new("function|restore", function_restore),
];

fn function_dump(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let opts = write_options(&ctx.engine.config);
    let codes = ctx.engine.scripting.functions.codes();
    ctx.out
        .bulk(&ferrokv_persist::encode_functions_dump(&codes, &opts));
    Ok(())
}

fn function_restore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    use ferrokv_core::scripting::function::Policy;
    if args.len() > 4 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let policy = match args.get(3) {
        None => Policy::Append,
        Some(p) if is_kw(p, "append") => Policy::Append,
        Some(p) if is_kw(p, "replace") => Policy::Replace,
        Some(p) if is_kw(p, "flush") => Policy::Flush,
        Some(_) => {
            return Err(CmdError::Other(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
                    .into(),
            ))
        }
    };
    let codes = ferrokv_persist::decode_functions_dump(args[2]).map_err(CmdError::Other)?;
    ctx.engine
        .scripting
        .functions
        .restore(&codes, policy)
        .map_err(CmdError::Other)?;
    // A change of the dataset: propagated and counted for save points.
    ctx.keys.dirty += 1;
    ctx.keys.signalled += 1;
    ctx.out.ok();
    Ok(())
}
