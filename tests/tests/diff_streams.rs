//! Streams against redis-server: hand-written scripts (replies and error texts,
//! argument-check order), DUMP payloads restored across the two servers, and
//! blocking group readers served one entry each.

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Diff, Server};

#[test]
fn stream_commands_match_redis() {
    let mut d = Diff::with_args(&["--enable-debug-command", "yes"]);
    d.script(
        "
        XADD s 1-1 a 1 b 2
        XADD s 1-1 a 1
        XADD s 0-0 a 1
        XADD s 1-* a 1
        XADD s 5 a 1 b 2 c 3
        XADD s 5-* a 1
        XADD s NOMKSTREAM 10-1 x y
        XADD nos NOMKSTREAM 10-1 x y
        XADD s MAXLEN ~ 2 LIMIT 5 20-1 x y
        XADD s MAXLEN 2 LIMIT 5 21-1 x y
        XADD s LIMIT 5 22-1 x y
        XADD s MINID 3 MAXLEN 4 23-1 x y
        XADD s MAXLEN -1 23-1 x y
        XADD s 24-1 x
        XADD s foo x y
        XADD s 18446744073709551615-18446744073709551615 a b
        XADD s 18446744073709551615-* a b
        XLEN s
        XRANGE s - +
        XREVRANGE s + - COUNT 2
        XRANGE s - + COUNT 0
        XRANGE s (21-1 +
        XRANGE s - (0-0
        XRANGE s (18446744073709551615-18446744073709551615 +
        XRANGE s - + FOO
        XRANGE s 21 21
        XDEL s 21-1 999-1
        XDEL s abc
        XDEL nokey 1-1
        XTRIM s MAXLEN 1
        XTRIM s MINID 0
        XTRIM s
        XTRIM s MAXLEN ~ 0 LIMIT 0
        XTRIM s MAXLEN 1 LIMIT 10
        XSETID s 1-1
        XSETID s 18446744073709551615-18446744073709551615 ENTRIESADDED 0
        XSETID s 99999-1 ENTRIESADDED 50 MAXDELETEDID 99999-2
        XSETID s 99999-1 ENTRIESADDED 50 MAXDELETEDID 100-0
        XSETID nokey 1-1
        XINFO STREAM s
        XREAD STREAMS s 0
        XREAD COUNT 1 STREAMS s nokey 0 0
        XREAD STREAMS s $
        XREAD STREAMS s
        XREAD GROUP g c STREAMS s 0
        XREAD NOACK STREAMS s 0
        XREAD STREAMS s >
        XREAD BLOCK abc STREAMS s $
        XREAD BLOCK -1 STREAMS s $
        TYPE s
        OBJECT ENCODING s
        SET str x
        XADD str 1-1 a b
        XRANGE str - +
        DEL s
        XGROUP CREATE s g $
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g2 0 ENTRIESREAD 5
        XGROUP CREATE s g3 0 ENTRIESREAD -5
        XGROUP CREATE s g3 0 FOO
        XGROUP SETID s nog 0
        XGROUP HELP
        XGROUP DESTROY s g2
        XGROUP DESTROY s g2
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XADD s 3-1 a 3 b 4
        XADD s 4-1 a 4
        XREADGROUP GROUP g c1 COUNT 1 STREAMS s >
        XREADGROUP GROUP g c2 STREAMS s >
        XREADGROUP GROUP g c2 STREAMS s >
        XREADGROUP GROUP g c1 STREAMS s 0
        XREADGROUP GROUP g c1 STREAMS s $
        XREADGROUP GROUP nog c1 STREAMS s >
        XREADGROUP STREAMS s >
        XPENDING s g
        XPENDING s g - + 0
        XPENDING s g - + 10 nobody
        XPENDING s nog
        XPENDING s g - + abc
        XPENDING s g IDLE 1 - +
        XACK s g 1-1 3-1 99-1
        XACK s g abc
        XACK s nog 1-1
        XDEL s 2-1
        XREADGROUP GROUP g c2 STREAMS s 0
        XCLAIM s g c3 0 2-1 4-1 JUSTID
        XCLAIM s g c3 0 1-1 FORCE JUSTID
        XCLAIM s g c3 abc 1-1
        XCLAIM s g c3 0 1-1 IDLE abc
        XCLAIM s g c3 0 1-1 FOO
        XCLAIM s nog c3 0 1-1
        XAUTOCLAIM s g c4 0 0 COUNT 1 JUSTID
        XAUTOCLAIM s g c4 0 0 COUNT 0
        XAUTOCLAIM s g c4 0 0
        XINFO GROUPS s
        XGROUP CREATECONSUMER s g c9
        XGROUP CREATECONSUMER s g c9
        XGROUP DELCONSUMER s g c4
        XGROUP DELCONSUMER s g c4
        XINFO STREAM s FOO
        XINFO STREAM nokey
        XINFO CONSUMERS s nog
        XINFO HELP
        XGROUP SETID s g $ ENTRIESREAD 3
        XREADGROUP GROUP g c1 NOACK STREAMS s 0
        XADD s 5-1 z z
        XREADGROUP GROUP g c1 NOACK STREAMS s >
        XINFO GROUPS s
        DEBUG DIGEST-VALUE s
        DEBUG DIGEST
        ",
    );
}

#[test]
fn trimming_follows_redis_node_boundaries() {
    let mut d = Diff::new();
    for cfg in [
        "CONFIG SET stream-node-max-entries 10",
        "CONFIG SET stream-node-max-bytes 200",
    ] {
        d.line(cfg);
        d.line("DEL s");
        for i in 1..=95 {
            d.line(&format!("XADD s {i}-0 field value{i} n {}", i * 37));
        }
        d.line("XINFO STREAM s");
        d.line("XTRIM s MAXLEN ~ 50");
        d.line("XTRIM s MINID ~ 70");
        d.line("XADD s MAXLEN ~ 5 LIMIT 10 100-0 f v");
        d.line("XDEL s 80-0 81-0 95-0");
        d.line("XTRIM s MINID 83");
        d.line("XINFO STREAM s");
        d.line("XRANGE s - +");
        d.line("XREVRANGE s + - COUNT 7");
    }
}

fn full_info(c: &mut ferrokv_tests::Conn, key: &str) -> String {
    show(&c.cmd(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"]))
}

fn bulk(f: Frame) -> Vec<u8> {
    match f {
        Frame::Bulk(b) => b.to_vec(),
        other => panic!("not a bulk: {}", show(&other)),
    }
}

#[test]
fn dump_payloads_restore_across_servers() {
    let mut d = Diff::new();
    d.line("CONFIG SET stream-node-max-entries 7");
    for i in 1..=40 {
        d.line(&format!("XADD s {i}-1 f {i} name v{}", i % 5));
    }
    d.script(
        "
        XADD s 41-1 other x
        XDEL s 5-1 20-1 41-1
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice COUNT 3 STREAMS s >
        XREADGROUP GROUP g bob COUNT 2 STREAMS s >
        XGROUP CREATECONSUMER s g carol
        XGROUP CREATE s g2 $
        XDEL s 2-1
        ",
    );
    for (from_ours, label) in [(true, "ferrokv -> redis"), (false, "redis -> ferrokv")] {
        let (src, dst) = if from_ours {
            (&mut d.ours, &mut d.theirs)
        } else {
            (&mut d.theirs, &mut d.ours)
        };
        let payload = bulk(src.cmd(&["DUMP", "s"]));
        dst.cmd(&["DEL", "r"]);
        let ok = dst.cmd(&[&b"RESTORE"[..], b"r", b"0", &payload]);
        assert_eq!(show(&ok), "+OK", "{label}");
        assert_eq!(full_info(src, "s"), full_info(dst, "r"), "{label}");
        assert_eq!(
            bulk(dst.cmd(&["DUMP", "r"])),
            payload,
            "{label}: re-dumped bytes"
        );
    }
}

#[test]
fn blocked_group_readers_each_get_one_entry() {
    let server = Server::ferrokv(&[]);
    let mut c = server.conn();
    c.run("XGROUP CREATE q g $ MKSTREAM");
    let mut readers: Vec<_> = (0..3).map(|_| server.conn()).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        r.send(&[
            "XREADGROUP",
            "GROUP",
            "g",
            &format!("c{i}"),
            "BLOCK",
            "0",
            "STREAMS",
            "q",
            ">",
        ]);
    }
    // Poll until all three are parked.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info = show(&c.run("INFO clients"));
        if info.contains("blocked_clients:3") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readers did not block"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for i in 1..=3 {
        c.run(&format!("XADD q {i}-0 job {i}"));
    }
    let mut got: Vec<String> = readers
        .iter_mut()
        .map(|r| show(&r.read().expect("a reply")))
        .collect();
    got.sort();
    for (i, g) in got.iter().enumerate() {
        assert!(g.contains(&format!("{}-0", i + 1)), "{got:?}");
    }
    assert!(show(&c.run("XPENDING q g")).contains('3'));
}
