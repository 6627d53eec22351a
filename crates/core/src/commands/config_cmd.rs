//! CONFIG GET / SET / RESETSTAT / HELP.

use std::sync::atomic::Ordering::Relaxed;

use crate::commands::{reply_help, CommandDef, Locks};
use crate::config::Config;
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("config|get", get),
    CommandDef::with_locks("config|set", set, Locks::Own),
    CommandDef::with_locks("config|resetstat", resetstat, Locks::Own),
    CommandDef::new("config|help", help),
];

fn get(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pat in &args[2..] {
        ctx.engine
            .config
            .get(&String::from_utf8_lossy(pat), &mut pairs);
    }
    // A parameter matched by several patterns is listed once.
    let mut seen = std::collections::HashSet::new();
    pairs.retain(|(k, _)| seen.insert(k.clone()));
    // `dir` reports the working directory, as Redis does.
    for (k, v) in pairs.iter_mut() {
        if k == "dir" {
            if let Ok(cwd) = std::env::current_dir() {
                *v = cwd.to_string_lossy().into_owned();
            }
        }
    }
    ctx.out.map(pairs.len());
    for (k, v) in &pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

fn set(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let r = set_pairs(ctx, args);
    // Whatever was applied (or put back), the thresholds' gate follows.
    ctx.engine.refresh_ops_gate();
    r
}

fn set_pairs(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    // An odd number of arguments (a parameter without its value) is Redis's
    // syntax error; the table's arity (-4) only ensures one pair.
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    // Validate everything first so that a bad pair changes nothing (Redis 7 applies
    // CONFIG SET of several parameters atomically).
    // Secrets are hidden from MONITOR and SLOWLOG whether or not the command
    // succeeds (Redis redacts them before any check).
    for (i, pair) in args[2..].chunks(2).enumerate() {
        let name = String::from_utf8_lossy(pair[0]);
        if Config::find(&name)
            .is_some_and(|(_, p)| matches!(p.name, "masterauth" | "masteruser" | "requirepass"))
        {
            let at = 3 + 2 * i;
            if at < 64 {
                ctx.client.redact |= 1 << at;
            }
        }
    }
    let mut todo = Vec::new();
    for pair in args[2..].chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).into_owned();
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        let Some((_, p)) = Config::find(&name) else {
            return Err(CmdError::ConfigUnknown(name));
        };
        if !p.mutable {
            return Err(CmdError::ConfigBadValue(
                name,
                "can't set immutable config".into(),
            ));
        }
        // "local": loopback and Unix-socket clients only.
        let protected_ok = match ctx
            .engine
            .config
            .string(crate::config::P::EnableProtectedConfigs)
            .as_str()
        {
            "no" => false,
            "local" => ctx.hooks.client_is_local(ctx.client.id),
            _ => true,
        };
        if crate::config::PROTECTED.contains(&p.name) && !protected_ok {
            return Err(CmdError::ConfigBadValue(
                name,
                "can't set protected config".into(),
            ));
        }
        // While the dataset loads, the parameters Redis marks DENY_LOADING_CONFIG
        // are refused with LOADING (after the checks above, as Redis).
        if matches!(p.name, "appendonly" | "repl-diskless-load" | "dir")
            && (ctx.engine.gates.loading.load(Relaxed)
                || ctx.engine.gates.async_loading.load(Relaxed))
        {
            return Err(CmdError::Raw(
                "LOADING Redis is loading the dataset in memory".into(),
            ));
        }
        if todo.iter().any(|(n, _): &(String, String)| {
            Config::find(n).map(|x| x.0) == Config::find(&name).map(|x| x.0)
        }) {
            return Err(CmdError::ConfigBadValue(name, "duplicate parameter".into()));
        }
        todo.push((name, value));
    }
    let check = Config::default();
    for (name, value) in &todo {
        check
            .set(name, value, false)
            .map_err(|why| CmdError::ConfigBadValue(name.clone(), why))?;
    }
    let cfg = &ctx.engine.config;
    let mut applied: Vec<(String, String)> = Vec::new();
    // Parameters applied together after the others, each group once (the first
    // of its parameters names it in an error), as Redis runs each apply function.
    let mut groups: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in &todo {
        let old = Config::find(name)
            .map(|(i, _)| crate::config::param(i).name)
            .map(|n| {
                let mut v = Vec::new();
                cfg.get(n, &mut v);
                (n.to_string(), v.pop().map(|p| p.1).unwrap_or_default())
            });
        let canonical = cfg
            .set(name, value, false)
            .map_err(|why| CmdError::ConfigBadValue(name.clone(), why))?;
        if canonical == "requirepass" {
            // The default user's password follows it (set even when unchanged, as
            // ACL SETUSER may have changed the user since).
            ctx.engine.acl.set_requirepass(value);
        }
        let mut now = Vec::new();
        cfg.get(canonical, &mut now);
        let unchanged = old
            .as_ref()
            .is_some_and(|(_, v)| now.first().is_some_and(|(_, n)| n == v));
        if let Some(o) = old {
            applied.push(o);
        }
        // Like Redis, a value that did not change is not applied again, except a
        // volatile one (a certificate file rewritten in place is reloaded).
        if unchanged && !crate::config::is_volatile(canonical) {
            continue;
        }
        if let Some(group) = crate::config::apply_group(canonical) {
            if !groups.iter().any(|(g, _)| *g == group) {
                groups.push((group, name.clone()));
            }
            continue;
        }
        if let Err(why) = ctx.hooks.config_changed(canonical) {
            // Put back everything this command changed, in reverse order.
            for (n, v) in applied.iter().rev() {
                let _ = cfg.set(n, v, true);
                let _ = ctx.hooks.config_changed(n);
            }
            return Err(CmdError::ConfigBadValue(name.clone(), why));
        }
    }
    for (group, first) in &groups {
        if let Err(why) = ctx.hooks.config_changed(group) {
            // A failed group keeps what it had: only the values are put back.
            for (n, v) in applied.iter().rev() {
                let _ = cfg.set(n, v, true);
                if crate::config::apply_group(n).is_none() {
                    let _ = ctx.hooks.config_changed(n);
                }
            }
            return Err(CmdError::ConfigBadValue(first.clone(), why));
        }
    }
    let limits = todo.iter().any(|(n, _)| {
        Config::find(n).is_some_and(|(_, p)| matches!(p.name, "maxmemory" | "maxmemory-policy"))
    });
    if limits {
        if cfg.int(crate::config::P::Maxmemory) <= 0 {
            ctx.engine
                .gates
                .out_of_memory
                .store(false, std::sync::atomic::Ordering::Relaxed);
        } else if ctx.client.in_exec {
            // EXEC holds its transaction's shards: the background evictor does it.
            ctx.engine.evict.wake();
        } else {
            // A lowered limit evicts down now (Redis starts its eviction time
            // proc, which runs before the next client is served); what the time
            // budget leaves goes on in the background.
            crate::evict::before_command(ctx.engine, ctx.hooks);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn resetstat(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let e = ctx.engine;
    // Shard counters are not reset in place (that would need every shard lock at
    // once); the current totals become the new zero.
    let t = e.shard_totals();
    let s = &e.stats;
    s.baseline_hits.fetch_add(t.hits, Relaxed);
    s.baseline_misses.fetch_add(t.misses, Relaxed);
    s.baseline_expired.fetch_add(t.expired, Relaxed);
    s.error_replies.store(0, Relaxed);
    s.error_codes.lock().clear();
    ctx.engine.cmdstats.reset();
    s.rejected_calls.store(0, Relaxed);
    e.evict.reset_stats();
    e.defrag.reset_stats();
    // Redis's resetServerStats zeroes lazyfreed_objects too.
    crate::lazyfree::reset_freed();
    let _ = ctx.hooks.config_changed("resetstat");
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}
