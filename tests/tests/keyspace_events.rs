//! Keyspace events from the write funnel, against Redis 7.0's own.
//!
//! ferrokv's events are read in process here: the engine runs each command and
//! hands the events to `ServerHooks::keyspace_events`, which this test records (the
//! same comparison over the network, as subscribers receive them, is in
//! `pubsub.rs`). Redis's are read from a `__keyevent@*__:*` subscriber, with a
//! PUBLISH on a marker channel after every command to know where one command's
//! events end. Both run with `notify-keyspace-events KEAn` (every class plus `new`)
//! and active expiry off, so every event comes from the command itself; the events
//! of each command (db, event name, key, in order) must be identical.

use std::sync::Arc;

use ferrokv_core::config::Config;
use ferrokv_core::notify::KeyEvent;
use ferrokv_core::{Client, Engine, ServerHooks};
use ferrokv_resp::{Frame, Protocol, ReplyBuf};
use ferrokv_tests::{prop_runner, random_command, Conn, Server};
use parking_lot::Mutex;
use proptest::prelude::*;

const FLAGS: &str = "KEAn";

/// Records what the engine reports.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<KeyEvent>>,
}

impl ServerHooks for Recorder {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn keyspace_events(&self, events: &[KeyEvent]) {
        self.events.lock().extend_from_slice(events);
    }
}

/// One event as both sides are compared: `db event key`.
fn show(db: usize, event: &str, key: &[u8]) -> String {
    format!("{db} {event} {}", String::from_utf8_lossy(key))
}

struct Ours {
    engine: Engine,
    client: Client,
    hooks: Arc<Recorder>,
}

impl Ours {
    fn new() -> Ours {
        let config = Config::default();
        config
            .set("notify-keyspace-events", FLAGS, false)
            .expect("valid flags");
        Ours {
            engine: Engine::new(config, &[]),
            client: Client::new(1, true),
            hooks: Arc::new(Recorder::default()),
        }
    }

    /// Runs one command; returns its reply bytes and its events.
    fn run(&mut self, args: &[Vec<u8>]) -> (Vec<u8>, Vec<String>) {
        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut out = ReplyBuf::new(Protocol::Resp2);
        self.engine
            .execute(&mut self.client, &argv, &mut out, &*self.hooks);
        let events = std::mem::take(&mut *self.hooks.events.lock())
            .into_iter()
            .map(|(db, key, ev)| show(db, ev.name, &key))
            .collect();
        (out.as_bytes().to_vec(), events)
    }
}

struct Theirs {
    _server: Server,
    conn: Conn,
    sub: Conn,
    seq: u64,
}

impl Theirs {
    fn new() -> Theirs {
        let server = Server::redis(&[
            "--notify-keyspace-events",
            FLAGS,
            "--enable-debug-command",
            "yes",
        ]);
        let mut conn = server.conn();
        conn.run("DEBUG SET-ACTIVE-EXPIRE 0");
        let mut sub = server.conn();
        sub.send(&["PSUBSCRIBE", "__keyevent@*__:*"]);
        sub.read();
        sub.send(&["SUBSCRIBE", "marker"]);
        sub.read();
        Theirs {
            _server: server,
            conn,
            sub,
            seq: 0,
        }
    }

    fn run(&mut self, args: &[Vec<u8>]) -> (Frame, Vec<String>) {
        let reply = self.conn.cmd(args);
        self.seq += 1;
        let mark = self.seq.to_string();
        self.conn.cmd(&["PUBLISH", "marker", mark.as_str()]);
        let mut events = Vec::new();
        loop {
            let Some(Frame::Array(parts)) = self.sub.read() else {
                panic!("subscriber connection closed");
            };
            let text: Vec<Vec<u8>> = parts
                .iter()
                .map(|p| match p {
                    Frame::Bulk(b) => b.to_vec(),
                    _ => Vec::new(),
                })
                .collect();
            if text.first().map(Vec::as_slice) == Some(b"message") {
                assert_eq!(text[2], mark.as_bytes(), "markers arrive in order");
                return (reply, events);
            }
            // pmessage, pattern, "__keyevent@<db>__:<event>", key
            let channel = String::from_utf8_lossy(&text[2]).into_owned();
            let rest = channel.trim_start_matches("__keyevent@");
            let (db, event) = rest.split_once("__:").unwrap_or(("?", "?"));
            events.push(show(db.parse().unwrap_or(usize::MAX), event, &text[3]));
        }
    }
}

/// Runs `lines` on both sides and requires the same events for every command;
/// returns how many events there were.
fn compare(ours: &mut Ours, theirs: &mut Theirs, lines: &[Vec<Vec<u8>>]) -> usize {
    let mut seen = 0;
    for args in lines {
        let (_, a) = ours.run(args);
        let (reply, b) = theirs.run(args);
        let cmd: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(a, b, "events differ for {cmd:?} (Redis replied {reply:?})");
        seen += a.len();
    }
    seen
}

fn words(script: &str) -> Vec<Vec<Vec<u8>>> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_whitespace()
                .map(|w| w.as_bytes().to_vec())
                .collect()
        })
        .collect()
}

#[test]
fn every_command_emits_redis_events() {
    let (mut ours, mut theirs) = (Ours::new(), Theirs::new());
    let script = "
        # strings
        SET s 1
        SET s 2 EX 100
        SET s 3 KEEPTTL
        SET s x XX GET
        SET nx v NX
        SET nx w NX
        SETNX s2 a
        SETNX s2 b
        SETEX s3 100 v
        PSETEX s4 100000 v
        MSET m1 a m2 b
        MSETNX m1 a m3 c
        MSETNX m4 a m5 c
        GETSET m1 z
        GETDEL m2
        GETDEL m2
        GETEX m1 EX 100
        GETEX m1 PERSIST
        GETEX m1 PERSIST
        GETEX m1 PXAT 1
        APPEND ap x
        APPEND ap y
        INCR i
        INCRBY i 5
        DECR i
        DECRBY i 2
        INCRBYFLOAT f 1.5
        SETRANGE sr 3 abc
        SETRANGE sr 0 z
        SETRANGE sr 0 \"\"
        SETRANGE nosr 0 \"\"
        INCR s
        # bitmaps
        SETBIT bits 7 1
        SETBIT bits 7 1
        SETBIT bits 100 0
        SETBIT bits 7 0
        SETBIT bits 9999999999 1
        GETBIT bits 7
        BITOP OR bdest bits sr
        BITOP AND bdest bits nobits
        BITOP AND nobdest nobits nobits2
        BITOP NOT bdest nobits
        BITFIELD bf SET u8 0 1 INCRBY u8 0 1
        BITFIELD bf SET u8 0 2
        BITFIELD bf GET u8 0
        BITFIELD bf OVERFLOW FAIL INCRBY u8 0 300
        BITFIELD bf2 OVERFLOW FAIL INCRBY u2 0 300
        BITFIELD bf2 OVERFLOW FAIL INCRBY u2 100 300
        BITFIELD_RO bf GET u8 0
        # hyperloglogs
        PFADD hll
        PFADD hll a b c
        PFADD hll a b c
        PFCOUNT hll
        PFCOUNT hll
        PFCOUNT hll nohll
        PFMERGE hll2 hll
        PFMERGE hll2 hll
        PFMERGE hll3
        PFDEBUG TODENSE hll
        PFDEBUG TODENSE hll
        PFADD sr x
        # lists
        LPUSH l a b c d e
        RPUSH l f
        LPUSHX l g
        RPUSHX nol g
        LPOP l
        RPOP l 2
        LPOP l 0
        LSET l 0 q
        LINSERT l BEFORE q p
        LINSERT l BEFORE nope p
        LREM l 1 p
        LREM l 1 nope
        LTRIM l 0 1
        LTRIM l 0 100
        LMOVE l l2 LEFT RIGHT
        RPOPLPUSH l2 l
        LMOVE l l RIGHT LEFT
        LMPOP 2 nol l LEFT COUNT 10
        RPUSH bl x y
        BLPOP nol bl 0
        BRPOP bl 0
        RPUSH bm x
        BLMOVE bm bm2 LEFT LEFT 0
        BLMPOP 0 1 bm2 RIGHT
        # hashes
        HSET h a 1 b 2
        HSET h a 1
        HMSET h c 3
        HSETNX h a 9
        HSETNX h z 9
        HINCRBY h n 3
        HINCRBYFLOAT h f 1.5
        HDEL h a nope
        HDEL h nope
        HDEL h b c n f z
        # sets
        SADD st a b c
        SADD st a
        SREM st a nope
        SREM st nope
        SPOP st
        SADD st2 x y z w
        SPOP st2 2
        SPOP st2 5
        SADD sa 1 2 3
        SADD sb 2 3 4
        SMOVE sa sb 1
        SMOVE sa sb 2
        SMOVE sa sb 9
        SMOVE sa sa 3
        SINTERSTORE si sa sb
        SUNIONSTORE su sa sb
        SDIFFSTORE sd sa sb
        SDIFFSTORE su sa sa
        SINTERSTORE none nox sa
        # sorted sets
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZADD z 1 a
        ZADD z XX 9 nope
        ZADD z INCR 1 a
        ZINCRBY z 1 b
        ZREM z a nope
        ZREMRANGEBYRANK z 0 0
        ZREMRANGEBYSCORE z 4 4
        ZREMRANGEBYLEX z - +
        ZADD z2 1 a 2 b 3 c
        ZPOPMIN z2
        ZPOPMAX z2 5
        ZADD z3 1 a 2 b
        ZMPOP 1 z3 MIN
        BZPOPMAX z3 0
        ZADD z4 1 a 2 b
        ZADD z5 2 b 3 c
        ZUNIONSTORE zu 2 z4 z5
        ZINTERSTORE zi 2 z4 z5
        ZDIFFSTORE zd 2 z4 z5
        ZRANGESTORE zr z4 0 -1
        ZRANGESTORE zr nozset 0 -1
        ZINTERSTORE zu 2 z4 nozset
        GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km
        GEORADIUS g 15 37 200 km STORE gr
        GEORADIUS g 15 37 1 km STORE gr
        # generic
        DEL s s2 nosuch
        UNLINK s3
        EXPIRE s4 100
        EXPIRE s4 100 NX
        PEXPIREAT s4 1
        SET e v
        PERSIST e
        EXPIRE e 100
        PERSIST e
        RENAME e e2
        SET e3 v
        RENAME e2 e3
        RENAMENX e3 e4
        RENAMENX e4 i
        COPY e4 e5
        COPY e4 e5 REPLACE
        COPY e4 e6 DB 1
        MOVE e6 2
        MOVE e5 1
        SELECT 1
        MOVE e5 0
        SET other v
        SELECT 0
        RPUSH sortme 3 1 2
        SORT sortme STORE sorted
        SORT nosuch STORE sorted
        FLUSHDB
        FLUSHALL
        SWAPDB 0 1
    ";
    let seen = compare(&mut ours, &mut theirs, &words(script));
    assert!(seen > 150, "only {seen} events compared");
}

#[test]
fn stream_commands_emit_redis_events() {
    let (mut ours, mut theirs) = (Ours::new(), Theirs::new());
    let script = "
        XADD x 1-1 f v
        XADD x 1-2 f v g w
        XADD x NOMKSTREAM 1-3 f v
        XADD nox NOMKSTREAM 1-1 f v
        XADD x 1-1 f v
        XADD x MAXLEN 2 2-1 f v
        XADD x MAXLEN ~ 1 2-2 f v
        XADD x MINID 2-2 2-3 f v
        XLEN x
        XRANGE x - +
        XDEL x 2-2 9-9
        XDEL x 9-9
        XTRIM x MAXLEN 1
        XTRIM x MAXLEN 1
        XTRIM x MINID = 3-0
        XADD y 1-1 a 1
        XADD y 1-2 a 2
        XADD y 1-3 a 3
        XADD y 1-4 a 4
        XSETID y 5-0
        XSETID y 5-0 ENTRIESADDED 10 MAXDELETEDID 0-1
        XGROUP CREATE y g 0
        XGROUP CREATE y g 0
        XGROUP CREATE newy g $ MKSTREAM
        XGROUP CREATECONSUMER y g alice
        XGROUP CREATECONSUMER y g alice
        XREADGROUP GROUP g bob COUNT 2 STREAMS y >
        XREADGROUP GROUP g carol COUNT 1 NOACK STREAMS y >
        XREADGROUP GROUP g bob STREAMS y 0
        XACK y g 1-1 9-9
        XACK y g 9-9
        XPENDING y g
        XCLAIM y g alice 0 1-2
        XCLAIM y g alice 0 9-9
        XCLAIM y g dave 0 1-2 FORCE JUSTID
        XAUTOCLAIM y g erin 0 0 COUNT 10
        XAUTOCLAIM y g erin 0 0 COUNT 10 JUSTID
        XDEL y 1-4
        XGROUP SETID y g 1-1
        XGROUP SETID y g $ ENTRIESREAD 3
        XGROUP DELCONSUMER y g alice
        XGROUP DELCONSUMER y g nobody
        XGROUP DESTROY y g
        XGROUP DESTROY y g
        XINFO STREAM y
        DEL y
    ";
    let seen = compare(&mut ours, &mut theirs, &words(script));
    assert!(seen > 20, "only {seen} events compared");
}

#[test]
fn expired_keys_emit_expired_once() {
    let (mut ours, mut theirs) = (Ours::new(), Theirs::new());
    compare(
        &mut ours,
        &mut theirs,
        &words(
            "
            SET a 1 PX 1
            SET b 1 PX 1
            RPUSH c x
            PEXPIRE c 1
            HSET d f v
            PEXPIRE d 1
            ",
        ),
    );
    std::thread::sleep(std::time::Duration::from_millis(10));
    // Reads and writes that find the keys expired delete them: `expired` first, then
    // whatever the command did.
    let seen = compare(
        &mut ours,
        &mut theirs,
        &words(
            "
            GET a
            SET b 2
            LPUSH c y
            HGET d f
            GET a
            ",
        ),
    );
    // expired a; expired b, new b, set b; expired c, new c, lpush c; expired d
    // (the second GET a finds nothing to expire).
    assert_eq!(seen, 8);
}

#[test]
fn random_sequences_emit_redis_events() {
    let (mut ours, mut theirs) = (Ours::new(), Theirs::new());
    let ours = std::cell::RefCell::new(&mut ours);
    let theirs = std::cell::RefCell::new(&mut theirs);
    prop_runner(64)
        .run(&prop::collection::vec(random_command(), 1..40), |lines| {
            let (mut o, mut t) = (ours.borrow_mut(), theirs.borrow_mut());
            let flush = words("FLUSHALL");
            o.run(&flush[0]);
            t.run(&flush[0]);
            compare(&mut o, &mut t, &lines);
            Ok(())
        })
        .expect("events match Redis");
}
