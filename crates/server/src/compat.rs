//! docs/compatibility.md, generated from the command table: every Redis 7.0 command
//! and subcommand, and whether ferrokv implements it.

use std::collections::BTreeMap;
use std::fmt::Write;

use ferrokv_core::commands::meta::redis_commands;
use ferrokv_core::commands::{core_commands, Registry};

/// A command's status: cluster commands exist only as Redis answers them with
/// `cluster-enabled no`.
fn status(group: &str, ok: bool) -> String {
    match (ok, group) {
        (false, _) => "not yet".into(),
        (true, "cluster") => "as Redis with cluster-enabled no (cluster mode: not yet)".into(),
        (true, _) => "yes".into(),
    }
}

/// The markdown text of docs/compatibility.md.
pub fn markdown() -> String {
    let mut defs = core_commands();
    defs.extend_from_slice(crate::SERVER_COMMANDS);
    let reg = Registry::build(&defs);
    let mut by_group: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let (mut done, mut total) = (0, 0);
    for (name, meta) in redis_commands() {
        let cmd = reg.get(name.as_bytes());
        let group = if meta.group.is_empty() {
            "other".to_string()
        } else {
            meta.group.clone()
        };
        if meta.subcommands.is_empty() {
            total += 1;
            let ok = cmd.is_some_and(|c| c.handler.is_some());
            done += usize::from(ok && group != "cluster");
            let st = status(&group, ok);
            by_group
                .entry(group)
                .or_default()
                .push((name.to_uppercase(), st));
        } else {
            for sub in &meta.subcommands {
                total += 1;
                let sub_name = sub.name.rsplit('|').next().unwrap_or("");
                let ok = cmd
                    .and_then(|c| c.subcommand(sub_name.as_bytes()))
                    .is_some();
                done += usize::from(ok && group != "cluster");
                by_group.entry(group.clone()).or_default().push((
                    sub.name.replace('|', " ").to_uppercase(),
                    status(&group, ok),
                ));
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Redis 7.0 command compatibility\n");
    let _ = writeln!(
        out,
        "Generated from the command table by `cargo xtask gen-docs` (checked by the test\n`crates/server/tests/compat_doc.rs`). \"yes\" means implemented with Redis 7.0.15's\nreplies and errors; \"not yet\" commands answer `ERR unknown command`.\n"
    );
    let _ = writeln!(
        out,
        "Implemented: {done} of {total} commands and subcommands.\n"
    );
    for (group, mut rows) in by_group {
        rows.sort();
        let _ = writeln!(out, "## {group}\n\n| command | status |\n|---|---|");
        for (name, status) in rows {
            let _ = writeln!(out, "| {name} | {status} |");
        }
        out.push('\n');
    }
    // Hand-kept: Redis's own test suite, per file (see the section's text).
    out.push_str(REDIS_SUITE);
    out
}

/// The Redis test suite section of docs/compatibility.md.
const REDIS_SUITE: &str = include_str!("../data/redis-suite.md");
