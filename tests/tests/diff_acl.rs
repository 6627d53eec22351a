//! ACL users against redis-server: ACL SETUSER (replies and errors), GETUSER, LIST,
//! DRYRUN and LOG replies, and the NOPERM texts of refused commands, keys and
//! channels (top level, in MULTI/EXEC, in scripts), for hand-written cases and for
//! proptest-generated rule sets.
//!
//! Redis emits the single-command part of a rules description in its command
//! table's hash order (random per process), so that part is compared as a set;
//! everything else in order. ACL LOG's age and client-info are masked.

use std::cell::RefCell;

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Diff};
use proptest::prelude::*;

/// A rules text with each run of single-command rules (`+get`, `-client|kill`,
/// `+select|0`) sorted: Redis's order for them is its dict's.
fn normalise_rules(text: &str) -> String {
    let spaced = text.replace('(', "( ").replace(')', " )");
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let single = |t: &str| (t.starts_with('+') || t.starts_with('-')) && !t.contains('@');
    for t in spaced.split(' ') {
        if single(t) {
            run.push(t.to_string());
        } else {
            run.sort();
            out.append(&mut run);
            out.push(t.to_string());
        }
    }
    run.sort();
    out.append(&mut run);
    out.join(" ")
}

/// Normalises every bulk string of a reply that holds rules.
fn normalise(f: Frame) -> Frame {
    match f {
        Frame::Bulk(b) => {
            let s = String::from_utf8_lossy(&b).into_owned();
            Frame::Bulk(normalise_rules(&s).into_bytes().into())
        }
        Frame::Array(items) => Frame::Array(items.into_iter().map(normalise).collect()),
        Frame::Set(items) => Frame::Set(items.into_iter().map(normalise).collect()),
        Frame::Map(items) => Frame::Map(
            items
                .into_iter()
                .map(|(k, v)| (normalise(k), normalise(v)))
                .collect(),
        ),
        other => other,
    }
}

/// ACL LOG with `age-seconds` and `client-info` masked.
fn masked_log(f: Frame) -> Frame {
    let Frame::Array(entries) = f else { return f };
    Frame::Array(
        entries
            .into_iter()
            .map(|e| match e {
                Frame::Array(kv) => {
                    let mut out = Vec::new();
                    for pair in kv.chunks(2) {
                        out.push(pair[0].clone());
                        let key = match &pair[0] {
                            Frame::Bulk(k) => k.to_vec(),
                            _ => Vec::new(),
                        };
                        let value = pair.get(1).cloned().unwrap_or(Frame::Null);
                        out.push(match (&key[..], value) {
                            (b"age-seconds", _) => Frame::Null,
                            // Of the client's line: its user and last command.
                            (b"client-info", Frame::Bulk(v)) => {
                                let line = String::from_utf8_lossy(&v).into_owned();
                                let kept: Vec<&str> = line
                                    .split(' ')
                                    .filter(|f| f.starts_with("cmd=") || f.starts_with("user="))
                                    .collect();
                                Frame::Bulk(kept.join(" ").into_bytes().into())
                            }
                            (_, v) => v,
                        });
                    }
                    Frame::Array(out)
                }
                other => other,
            })
            .collect(),
    )
}

fn check_normalised(d: &mut Diff, args: &[&str]) -> Frame {
    let a = normalise(d.ours.cmd(args));
    let b = normalise(d.theirs.cmd(args));
    assert_eq!(show(&a), show(&b), "normalised reply differs for {args:?}");
    a
}

fn check_log(d: &mut Diff, args: &[&str]) {
    let a = masked_log(d.ours.cmd(args));
    let b = masked_log(d.theirs.cmd(args));
    assert_eq!(show(&a), show(&b), "ACL LOG differs");
}

fn check_sorted(d: &mut Diff, args: &[&str]) {
    d.check_sorted(args);
}

#[test]
fn setuser_errors_and_descriptions() {
    let mut d = Diff::new();
    for line in [
        "ACL SETUSER u1 on >p1 >p2 <p1 ~k* %R~r* %W~w* %RW~b* &ch* +get +set -set +@hash",
        "ACL SETUSER u2 allcommands -@dangerous -debug +client|list allkeys",
        "ACL SETUSER u3 reset +@all -@write +set resetkeys ~x",
        "ACL SETUSER u4 on nopass +select|0 +select|1 -@all +select|2",
        "ACL SETUSER u5 on (+get ~a*) (+set %W~b*) +ping",
        "ACL SETUSER u6 on (+get ~a*) clearselectors +incr ~c",
        "ACL SETUSER u7 on #a94a8fe5ccb19ba61c4c0873d391e987982fbbd3a94a8fe5ccb19ba61c4c0873 !a94a8fe5ccb19ba61c4c0873d391e987982fbbd3a94a8fe5ccb19ba61c4c0873",
        "ACL SETUSER u8 +@all -client +client|id -config|set",
        "ACL SETUSER u9 skip-sanitize-payload sanitize-payload off on",
    ] {
        d.line(line);
    }
    for bad in [
        "ACL SETUSER e1 +nosuchcommand",
        "ACL SETUSER e1 +@nosuchcategory",
        "ACL SETUSER e1 allkeys ~foo",
        "ACL SETUSER e1 allchannels &foo",
        "ACL SETUSER e1 <notapass",
        "ACL SETUSER e1 #abc",
        "ACL SETUSER e1 +client|id|x",
        "ACL SETUSER e1 +select|",
        "ACL SETUSER e1 %X~foo",
        "ACL SETUSER e1 bogus",
        "ACL SETUSER e1 (+get ~x",
        "ACL SETUSER e1 (+get bogus)",
        "ACL SETUSER e1 -config|get|x",
    ] {
        d.line(bad);
    }
    d.check(&["ACL", "SETUSER", "has space", "on"]);
    // A selector key pattern ending in `)` (found by the acl_rules fuzz target):
    // its description cuts the selector there when read back, and both servers
    // refuse that description alike.
    d.check(&["ACL", "SETUSER", "paren", "(~a+set))"]);
    check_normalised(&mut d, &["ACL", "GETUSER", "paren"]);
    d.check(&[
        "ACL", "SETUSER", "paren2", "off", "(~a+set)", "&*", "-@all)",
    ]);
    d.check(&["ACL", "DELUSER", "paren", "paren2"]);
    for u in [
        "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "e1", "default", "nouser",
    ] {
        check_normalised(&mut d, &["ACL", "GETUSER", u]);
    }
    check_normalised(&mut d, &["ACL", "LIST"]);
    d.line("ACL USERS");
    d.line("ACL WHOAMI");
    d.line("ACL DELUSER u8 u9 nouser");
    d.line("ACL DELUSER default u1");
    d.line("ACL USERS");
    d.line("ACL CAT");
    check_sorted(&mut d, &["ACL", "CAT", "hash"]);
    check_sorted(&mut d, &["ACL", "CAT", "dangerous"]);
    d.line("ACL CAT nosuch");
    d.line("ACL GENPASS 0");
    d.line("ACL GENPASS 5000");
    d.line("ACL GENPASS x");
    d.line("ACL HELP");
    d.line("ACL LOAD");
    d.line("ACL SAVE");
    d.line("ACL LOG x");
    // RESP3: flags are a set, the user and its selectors maps.
    // (HELLO's own reply holds the client ids, which differ.)
    d.ours.cmd(&["HELLO", "3"]);
    d.theirs.cmd(&["HELLO", "3"]);
    for u in ["u2", "u5", "default", "nouser"] {
        check_normalised(&mut d, &["ACL", "GETUSER", u]);
    }
    d.line("ACL DRYRUN u2 DEBUG OBJECT k");
}

#[test]
fn dryrun_replies() {
    let mut d = Diff::new();
    d.line("ACL SETUSER r on nopass +get +set +publish +subscribe +psubscribe +select|1 ~rw* %R~ro* %W~wo* &news.* +client|id");
    for cmd in [
        "ACL DRYRUN r GET rw1",
        "ACL DRYRUN r GET ro1",
        "ACL DRYRUN r GET wo1",
        "ACL DRYRUN r SET wo1 v",
        "ACL DRYRUN r SET ro1 v",
        "ACL DRYRUN r SET other v",
        "ACL DRYRUN r INCR rw1",
        "ACL DRYRUN r PUBLISH news.x hi",
        "ACL DRYRUN r PUBLISH sport hi",
        "ACL DRYRUN r SUBSCRIBE news.a sport",
        "ACL DRYRUN r PSUBSCRIBE news.*",
        "ACL DRYRUN r PSUBSCRIBE news.a*",
        "ACL DRYRUN r SELECT 1",
        "ACL DRYRUN r SELECT 2",
        "ACL DRYRUN r CLIENT ID",
        "ACL DRYRUN r CLIENT KILL ID 1",
        "ACL DRYRUN r GET",
        "ACL DRYRUN r NOSUCH x",
        "ACL DRYRUN nouser GET x",
        "ACL DRYRUN r PING",
        "ACL DRYRUN r AUTH a b",
    ] {
        d.line(cmd);
    }
}

#[test]
fn noperm_texts_and_log() {
    let mut d = Diff::new();
    d.line("ACL SETUSER alice on >pw +get +set +multi +exec +eval +publish +subscribe +acl ~a* %R~r* &c*");
    d.line("ACL LOG RESET");
    let mut a = d.other();
    a.line("AUTH alice wrong");
    a.line("AUTH nosuch pw");
    a.line("AUTH alice pw");
    a.line("ACL WHOAMI");
    for line in [
        "GET a1",
        "GET b1",
        "SET r1 v",
        "SET a1 v",
        "INCR a1",
        "PUBLISH c1 m",
        "PUBLISH d1 m",
        "CLIENT ID",
        "MULTI",
        "GET b1",
        "GET a1",
        "EXEC",
        "MULTI",
        "GET a1",
    ] {
        a.line(line);
    }
    d.line("ACL SETUSER alice ~b*");
    d.line("ACL SETUSER alice -get");
    a.line("EXEC");
    for script in [
        "return redis.call('incr','a1')",
        "return redis.call('get','z')",
        "return redis.pcall('get','b1')",
        "return redis.acl_check_cmd('set','a1','v')",
        "return redis.acl_check_cmd('set','zz','v')",
        "return redis.acl_check_cmd('nosuch')",
    ] {
        a.check(&["EVAL", script, "0"]);
    }
    a.line("SUBSCRIBE c1 x1");
    drop(a);
    // EXEC itself refused: the transaction is discarded with the reason.
    d.line("ACL SETUSER bob on nopass +multi +get +discard ~*");
    let mut b = d.other();
    for line in [
        "AUTH bob x",
        "MULTI",
        "GET k",
        "EXEC",
        "GET k",
        "MULTI",
        "SET k v",
        "DISCARD",
    ] {
        b.line(line);
    }
    drop(b);
    check_log(&mut d, &["ACL", "LOG"]);
    check_log(&mut d, &["ACL", "LOG", "2"]);
    d.line("ACL LOG RESET");
    d.line("ACL LOG");
}

#[test]
fn default_user_and_requirepass() {
    let mut d = Diff::new();
    d.line("AUTH x");
    d.line("CONFIG SET requirepass secret");
    check_normalised(&mut d, &["ACL", "GETUSER", "default"]);
    let mut n = d.other();
    n.line("GET k");
    n.line("AUTH wrong");
    n.line("AUTH secret");
    n.line("GET k");
    n.line("HELLO 2 AUTH default wrong");
    n.line("ACL WHOAMI");
    d.check(&["CONFIG", "SET", "requirepass", ""]);
    d.line("ACL SETUSER default resetpass");
    let mut m = d.other();
    m.line("PING");
    m.line("HELLO 2 AUTH default x");
    d.line("ACL SETUSER default nopass -@all +ping");
    let mut o = d.other();
    o.line("PING");
    o.line("GET k");
    o.line("ACL WHOAMI");
    d.line("ACL SETUSER default +@all");
    check_log(&mut d, &["ACL", "LOG"]);
}

/// Rules from a pool that covers every kind of rule (some invalid, which must be
/// refused alike).
fn rule() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "on",
        "off",
        "nopass",
        "resetpass",
        ">pw1",
        ">pw2",
        "<pw1",
        "reset",
        "allkeys",
        "resetkeys",
        "~k*",
        "~k1",
        "%R~r*",
        "%W~w*",
        "%RW~b?",
        "%~*",
        "%~k",
        "%R",
        "allchannels",
        "resetchannels",
        "&c*",
        "&news",
        "allcommands",
        "nocommands",
        "+@all",
        "-@all",
        "+@read",
        "-@read",
        "+@write",
        "-@write",
        "+@string",
        "-@hash",
        "+@dangerous",
        "-@dangerous",
        "+@admin",
        "+@pubsub",
        "-@slow",
        "+@fast",
        "+get",
        "-get",
        "+set",
        "-set",
        "+client",
        "-client",
        "+client|id",
        "-client|kill",
        "+config|get",
        "-config",
        "+select|0",
        "+select|2",
        "+debug|object",
        "(+get ~k*)",
        "(+set %W~w* &c*)",
        "(-@all +@hash ~h*)",
        "clearselectors",
        "+nosuch",
        "+@nosuch",
        "%Q~x",
        "sanitize-payload",
        "skip-sanitize-payload",
    ])
    .prop_map(String::from)
}

fn probe() -> impl Strategy<Value = Vec<String>> {
    prop::sample::select(vec![
        "GET k1",
        "GET r1",
        "GET w1",
        "SET w1 v",
        "SET r1 v",
        "SET bx v",
        "HSET h1 f v",
        "HGET h1 f",
        "CLIENT ID",
        "CLIENT KILL ID 1",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 0",
        "SELECT 0",
        "SELECT 1",
        "SELECT 2",
        "DEBUG OBJECT k1",
        "PUBLISH news m",
        "PUBLISH c1 m",
        "SUBSCRIBE c1 news x",
        "PSUBSCRIBE c*",
        "LMOVE k1 w1 LEFT RIGHT",
        "COPY r1 w1",
        "PING",
        "FLUSHALL",
    ])
    .prop_map(|s| s.split(' ').map(String::from).collect())
}

#[test]
fn generated_rule_sets() {
    let d = RefCell::new(Diff::new());
    let mut runner = ferrokv_tests::prop_runner(64);
    runner
        .run(
            &(
                prop::collection::vec(prop::collection::vec(rule(), 1..6), 1..4),
                prop::collection::vec(probe(), 1..6),
            ),
            |(setusers, probes)| {
                let mut d = d.borrow_mut();
                d.check(&["ACL", "DELUSER", "gen"]);
                for rules in &setusers {
                    let mut args = vec!["ACL".to_string(), "SETUSER".into(), "gen".into()];
                    args.extend(rules.iter().cloned());
                    d.check(&args);
                }
                check_normalised(&mut d, &["ACL", "GETUSER", "gen"]);
                check_normalised(&mut d, &["ACL", "LIST"]);
                for p in &probes {
                    let mut args = vec!["ACL".to_string(), "DRYRUN".into(), "gen".into()];
                    args.extend(p.iter().cloned());
                    d.check(&args);
                }
                // The same rules on a user that can log in: the probes run for
                // real (replies and NOPERM texts), then the ACL LOG they left.
                d.check(&["ACL", "DELUSER", "live"]);
                d.check(&["ACL", "LOG", "RESET"]);
                for rules in &setusers {
                    let mut args = vec!["ACL".to_string(), "SETUSER".into(), "live".into()];
                    args.extend(rules.iter().cloned());
                    d.ours.cmd(&args);
                    d.theirs.cmd(&args);
                }
                d.check(&["ACL", "SETUSER", "live", "on", "nopass"]);
                let mut c = d.other();
                c.check(&["AUTH", "live", "x"]);
                for p in probes
                    .iter()
                    .filter(|p| p[0] != "SUBSCRIBE" && p[0] != "CLIENT")
                {
                    c.check(p);
                }
                c.check(&["MULTI"]);
                for p in probes
                    .iter()
                    .filter(|p| p[0] != "SUBSCRIBE" && p[0] != "CLIENT")
                {
                    c.check(p);
                }
                d.check(&["ACL", "SETUSER", "live", "-get"]);
                c.check(&["EXEC"]);
                drop(c);
                check_log(&mut d, &["ACL", "LOG"]);
                Ok(())
            },
        )
        .unwrap();
}
