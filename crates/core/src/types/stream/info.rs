//! XINFO STREAM / GROUPS / CONSUMERS / HELP, with Redis 7.0's fields in its order.

use super::commands::{emit_entry, read_stream, reply_range, text};
use super::id::StreamId;
use super::StreamValue;
use crate::args::{int_arg, is_c_kw};
use crate::commands::reply_help;
use crate::ctx::{Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use ferrokv_resp::ReplyBuf;

fn stream_or_error<'a>(keys: &'a mut Keys<'_>, key: &[u8]) -> CmdResult<&'a mut StreamValue> {
    read_stream(keys, key)?.ok_or(CmdError::NoSuchKey)
}

fn lag(out: &mut ReplyBuf, s: &StreamValue, g: &super::Group) {
    match s.lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn entries_read(out: &mut ReplyBuf, g: &super::Group) {
    if g.entries_read != super::INVALID_ENTRIES_READ {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

pub(crate) fn xinfo_stream(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[2];
    let opts = &args[3..];
    let out = &mut *ctx.out;
    // The key is looked up before the options are read.
    let s = stream_or_error(&mut ctx.keys, key)?;
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !is_c_kw(opts[0], "full") {
            return Err(CmdError::subcommand_syntax(args));
        }
        full = true;
        if opts.len() == 3 {
            if !is_c_kw(opts[1], "count") {
                return Err(CmdError::subcommand_syntax(args));
            }
            count = int_arg(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.radix_nodes() as i64);
    out.bulk(b"last-generated-id");
    out.bulk(&s.last_id.to_bytes());
    out.bulk(b"max-deleted-entry-id");
    out.bulk(&s.max_deleted_id.to_bytes());
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    out.bulk(&s.first_id.to_bytes());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (label, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(label);
            let mut found = false;
            s.visit(StreamId::ZERO, StreamId::MAX, rev, false, |e| {
                emit_entry(out, e);
                found = true;
                false
            });
            if !found {
                out.null();
            }
        }
        return Ok(());
    }
    let count = count as usize;
    let limit = |n: usize| count == 0 || n < count;
    out.bulk(b"entries");
    reply_range(out, s, StreamId::ZERO, StreamId::MAX, count, false);
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        out.bulk(&g.last_id.to_bytes());
        out.bulk(b"entries-read");
        entries_read(out, g);
        out.bulk(b"lag");
        lag(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let shown: Vec<_> = g
            .pel
            .iter()
            .enumerate()
            .take_while(|(i, _)| limit(*i))
            .collect();
        out.array(shown.len());
        for (_, (id, nack)) in shown {
            out.array(4);
            out.bulk(&id.to_bytes());
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let shown: Vec<_> = c
                .pel
                .iter()
                .enumerate()
                .take_while(|(i, _)| limit(*i))
                .collect();
            out.array(shown.len());
            for (_, id) in shown {
                let (time, n) = g
                    .pel
                    .get(id)
                    .map_or((0, 0), |x| (x.delivery_time, x.delivery_count));
                out.array(3);
                out.bulk(&id.to_bytes());
                out.int(time);
                out.int(n as i64);
            }
        }
    }
    Ok(())
}

pub(crate) fn xinfo_groups(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let out = &mut *ctx.out;
    let s = read_stream(&mut ctx.keys, args[2])?.ok_or(CmdError::NoSuchKey)?;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        out.bulk(&g.last_id.to_bytes());
        out.bulk(b"entries-read");
        entries_read(out, g);
        out.bulk(b"lag");
        lag(out, s, g);
    }
    Ok(())
}

pub(crate) fn xinfo_consumers(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (key, group) = (args[2], args[3]);
    let now = ctx.now_ms();
    let out = &mut *ctx.out;
    let s = read_stream(&mut ctx.keys, key)?.ok_or(CmdError::NoSuchKey)?;
    let Some(g) = s.groups.get(group) else {
        return Err(CmdError::NoGroupForKey(text(group), text(key)));
    };
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int(now.wrapping_sub(c.seen_time).max(0));
    }
    Ok(())
}

pub(crate) fn xinfo_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx,
        &[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
