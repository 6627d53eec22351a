//! Pub/Sub, keyspace notifications over the network, client-side caching
//! (CLIENT TRACKING) and client-output-buffer-limit, against redis-server 7.0:
//! multi-connection scenarios whose transcripts (every reply and every message
//! each connection reads, in order) must be identical, plus ferrokv-only tests of
//! fan-out to many subscribers and of a subscriber that never reads.

use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{prop_runner, random_command, show, Conn, Server};
use proptest::prelude::*;

/// A transcript: what each connection read, in order.
#[derive(Default)]
struct Log(Vec<String>);

impl Log {
    /// Sends a whitespace-separated command on `c` and records its reply.
    fn run(&mut self, who: &str, c: &mut Conn, line: &str) -> Frame {
        let f = c.run(line);
        self.0.push(format!("{who} {line} -> {}", render(&f)));
        f
    }

    /// Records the next frame `c` receives.
    fn read(&mut self, who: &str, c: &mut Conn) -> Frame {
        let f = c.read().expect("connection closed");
        self.0.push(format!("{who} <- {}", render(&f)));
        f
    }

    /// Sends without reading (the reply is read with [`Log::read`]).
    fn send(&mut self, who: &str, c: &mut Conn, line: &str) {
        let args: Vec<&str> = line.split_whitespace().collect();
        c.send(&args);
        self.0.push(format!("{who} {line}"));
    }
}

/// A frame shown with its RESP3 type (push vs array matters here).
fn render(f: &Frame) -> String {
    match f {
        Frame::Push(items) => format!(
            ">[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Frame::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Frame::Set(items) => {
            let mut v: Vec<String> = items.iter().map(render).collect();
            v.sort();
            format!("~[{}]", v.join(", "))
        }
        Frame::Map(pairs) => format!(
            "%{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", render(k), render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Frame::Null => "_".into(),
        Frame::NullBulk => "$-1".into(),
        Frame::NullArray => "*-1".into(),
        other => show(other),
    }
}

/// The same as [`render`] with an array's elements sorted (PUBSUB CHANNELS).
fn sorted(f: &Frame) -> String {
    match f {
        Frame::Array(items) => {
            let mut v: Vec<String> = items.iter().map(render).collect();
            v.sort();
            format!("[{}]", v.join(", "))
        }
        other => render(other),
    }
}

fn both(scenario: fn(u16) -> Vec<String>) {
    both_with(&[], scenario);
}

/// [`both`] with extra server arguments.
fn both_with(args: &[&str], scenario: fn(u16) -> Vec<String>) {
    let ours = Server::ferrokv(args);
    let theirs = Server::redis(args);
    let a = scenario(ours.port);
    let b = scenario(theirs.port);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "transcripts differ at line {i}");
    }
    assert_eq!(a.len(), b.len(), "transcript lengths differ");
}

fn pubsub_scenario(port: u16) -> Vec<String> {
    let conn = || Conn::connect(port).expect("connect");
    let (mut s, mut p, mut s3, mut q) = (conn(), conn(), conn(), conn());
    let mut t = Log::default();
    t.run("s3", &mut s3, "HELLO 3");
    t.0.pop(); // ids and versions differ
               // Confirmations, counts, duplicates, patterns.
    t.send("s", &mut s, "SUBSCRIBE news sport news");
    for _ in 0..3 {
        t.read("s", &mut s);
    }
    t.send("s", &mut s, "PSUBSCRIBE n* [ab]?c");
    t.read("s", &mut s);
    t.read("s", &mut s);
    t.run("s3", &mut s3, "SUBSCRIBE news");
    t.run("s3", &mut s3, "SSUBSCRIBE shard1 shard2");
    t.read("s3", &mut s3);
    // RESP2 subscribed mode: only the subscription commands, PING, QUIT, RESET.
    t.run("s", &mut s, "GET k");
    t.run("s", &mut s, "PING");
    t.run("s", &mut s, "PING hello");
    t.run("s", &mut s, "SSUBSCRIBE shard1");
    // RESP3: anything, with pushes interleaved.
    t.run("s3", &mut s3, "SET k v");
    t.run("s3", &mut s3, "PING");
    t.run("p", &mut p, "PUBLISH news hello");
    t.read("s", &mut s);
    t.read("s", &mut s);
    t.read("s3", &mut s3);
    t.run("p", &mut p, "PUBLISH abc x");
    t.read("s", &mut s);
    t.run("p", &mut p, "PUBLISH nothing y");
    t.read("s", &mut s);
    t.run("p", &mut p, "PUBLISH none z");
    t.read("s", &mut s);
    t.run("p", &mut p, "SPUBLISH shard2 s");
    t.read("s3", &mut s3);
    t.run("p", &mut p, "SPUBLISH news not-a-shard-message");
    t.run("p", &mut p, "PUBLISH shard1 not-a-channel-message");
    t.run("s3", &mut s3, "GET k");
    // Introspection.
    let f = p.run("PUBSUB CHANNELS");
    t.0.push(format!("p PUBSUB CHANNELS -> {}", sorted(&f)));
    let f = p.run("PUBSUB CHANNELS s*");
    t.0.push(format!("p PUBSUB CHANNELS s* -> {}", sorted(&f)));
    t.run("p", &mut p, "PUBSUB NUMSUB news sport none");
    t.run("p", &mut p, "PUBSUB NUMSUB");
    t.run("p", &mut p, "PUBSUB NUMPAT");
    let f = p.run("PUBSUB SHARDCHANNELS");
    t.0.push(format!("p PUBSUB SHARDCHANNELS -> {}", sorted(&f)));
    t.run("p", &mut p, "PUBSUB SHARDNUMSUB shard1 shard3");
    t.run("p", &mut p, "PUBSUB CHANNELS a b");
    t.run("p", &mut p, "PUBSUB NUMPAT x");
    t.run("p", &mut p, "PUBSUB NOSUCH");
    t.run("p", &mut p, "PUBSUB HELP");
    // Unsubscribing: named, unknown, all (one confirmation each), nothing left.
    t.send("s", &mut s, "UNSUBSCRIBE sport nope");
    t.read("s", &mut s);
    t.read("s", &mut s);
    t.send("s", &mut s, "PUNSUBSCRIBE [ab]?c");
    t.read("s", &mut s);
    t.send("s", &mut s, "UNSUBSCRIBE");
    t.read("s", &mut s);
    t.send("s", &mut s, "PUNSUBSCRIBE");
    t.read("s", &mut s);
    // Out of subscribed mode.
    t.run("s", &mut s, "PING");
    t.run("s", &mut s, "UNSUBSCRIBE");
    t.run("s", &mut s, "PUNSUBSCRIBE");
    t.run("s", &mut s, "SUNSUBSCRIBE");
    // (Redis confirms an UNSUBSCRIBE of everything in its hash order: one left.)
    t.run("s3", &mut s3, "SUNSUBSCRIBE shard2");
    t.run("s3", &mut s3, "SUNSUBSCRIBE");
    t.run("p", &mut p, "PUBLISH news last");
    t.read("s3", &mut s3);
    // RESET leaves every subscription without a word.
    t.run("s3", &mut s3, "PSUBSCRIBE *");
    t.run("s3", &mut s3, "RESET");
    t.run("p", &mut p, "PUBLISH news after-reset");
    t.run("p", &mut p, "PUBSUB NUMPAT");
    // Inside MULTI: SUBSCRIBE runs, SSUBSCRIBE cannot.
    t.run("q", &mut q, "MULTI");
    t.run("q", &mut q, "SUBSCRIBE inmulti");
    t.run("q", &mut q, "SSUBSCRIBE inmulti");
    t.run("q", &mut q, "EXEC");
    t.run("p", &mut p, "PUBLISH inmulti m");
    t.read("q", &mut q);
    // CLIENT REPLY OFF does not silence confirmations or messages.
    let mut r = conn();
    t.run("r", &mut r, "HELLO 3");
    t.0.pop();
    t.send("r", &mut r, "CLIENT REPLY OFF");
    t.send("r", &mut r, "SUBSCRIBE quiet");
    t.read("r", &mut r);
    t.run("p", &mut p, "PUBLISH quiet shh");
    t.read("r", &mut r);
    t.send("r", &mut r, "CLIENT REPLY ON");
    t.read("r", &mut r);
    // Arity and the type a subscriber has in CLIENT LIST.
    t.run("p", &mut p, "SUBSCRIBE");
    t.run("p", &mut p, "PUBLISH onlychannel");
    let list = show(&p.run("CLIENT LIST TYPE pubsub"));
    t.0.push(format!("pubsub clients: {}", list.matches("id=").count()));
    t.0.push(format!("flags P: {}", list.matches("flags=P").count()));
    t.0
}

#[test]
fn pubsub_commands_and_messages_match_redis() {
    both(pubsub_scenario);
}

fn tracking_scenario(port: u16) -> Vec<String> {
    let conn = || Conn::connect(port).expect("connect");
    let (mut c, mut w, mut redir) = (conn(), conn(), conn());
    let mut t = Log::default();
    t.run("c", &mut c, "HELLO 3");
    t.0.pop();
    // Errors first, in Redis's order.
    for line in [
        "CLIENT TRACKING maybe",
        "CLIENT TRACKING on PREFIX a",
        "CLIENT TRACKING on BCAST OPTIN",
        "CLIENT TRACKING on OPTIN OPTOUT",
        "CLIENT TRACKING on REDIRECT 999999",
        "CLIENT TRACKING on REDIRECT x",
        "CLIENT TRACKING on BOGUS",
        "CLIENT TRACKING on BCAST PREFIX ab PREFIX a",
        "CLIENT CACHING yes",
        "CLIENT GETREDIR",
        "CLIENT TRACKINGINFO",
    ] {
        t.run("c", &mut c, line);
    }
    // Default mode: keys read are invalidated once when changed.
    t.run("c", &mut c, "CLIENT TRACKING on");
    t.run("c", &mut c, "CLIENT TRACKING on BCAST");
    t.run("c", &mut c, "CLIENT TRACKING on OPTIN");
    t.run("c", &mut c, "CLIENT TRACKING on OPTOUT");
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run("c", &mut c, "CLIENT TRACKING on");
    t.run("w", &mut w, "MSET a 1 b 2");
    t.run("c", &mut c, "MGET a b nokey");
    t.run("w", &mut w, "SET a 10");
    t.read("c", &mut c);
    t.run("w", &mut w, "SET a 11");
    t.run("w", &mut w, "DEL b nokey");
    t.read("c", &mut c);
    // Its own write: invalidation after its reply.
    t.run("c", &mut c, "GET a");
    t.run("c", &mut c, "INCR a");
    t.read("c", &mut c);
    // A flush tells everything is invalid.
    t.run("c", &mut c, "GET a");
    t.run("w", &mut w, "FLUSHALL");
    t.read("c", &mut c);
    t.run("c", &mut c, "CLIENT TRACKINGINFO");
    t.run("c", &mut c, "CLIENT GETREDIR");
    // NOLOOP.
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run("c", &mut c, "CLIENT TRACKING on NOLOOP");
    t.run("c", &mut c, "GET x");
    t.run("c", &mut c, "SET x 1");
    t.run("c", &mut c, "GET y");
    t.run("w", &mut w, "SET y 1");
    t.read("c", &mut c);
    // OPTIN: only after CLIENT CACHING yes, for one command.
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run("c", &mut c, "CLIENT TRACKING on OPTIN");
    t.run("c", &mut c, "CLIENT CACHING no");
    t.run("c", &mut c, "GET o1");
    t.run("c", &mut c, "CLIENT CACHING yes");
    t.run("c", &mut c, "CLIENT TRACKINGINFO");
    t.run("c", &mut c, "GET o2");
    t.run("c", &mut c, "GET o3");
    t.run("w", &mut w, "MSET o1 1 o2 2 o3 3");
    t.read("c", &mut c);
    t.run("c", &mut c, "PING");
    // OPTOUT.
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run("c", &mut c, "CLIENT TRACKING on OPTOUT");
    t.run("c", &mut c, "CLIENT CACHING no");
    t.run("c", &mut c, "GET p1");
    t.run("c", &mut c, "GET p2");
    t.run("w", &mut w, "MSET p1 1 p2 2");
    t.read("c", &mut c);
    t.run("c", &mut c, "PING");
    // BCAST with prefixes, collisions, NOLOOP, and its own writes.
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run(
        "c",
        &mut c,
        "CLIENT TRACKING on BCAST PREFIX user: PREFIX job:",
    );
    t.run("c", &mut c, "CLIENT TRACKING on BCAST PREFIX us");
    t.run(
        "c",
        &mut c,
        "CLIENT TRACKING on BCAST PREFIX user:1 PREFIX x:",
    );
    t.run("c", &mut c, "CLIENT TRACKING on BCAST PREFIX z:");
    t.run("c", &mut c, "CLIENT TRACKINGINFO");
    t.run("w", &mut w, "MSET user:1 a user:2 b other c");
    t.read("c", &mut c);
    t.run("w", &mut w, "SET job:9 x");
    t.read("c", &mut c);
    t.run("c", &mut c, "SET z:1 mine");
    t.read("c", &mut c);
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run("c", &mut c, "CLIENT TRACKING on BCAST NOLOOP");
    t.run("c", &mut c, "SET mine 1");
    t.run("w", &mut w, "SET theirs 1");
    t.read("c", &mut c);
    // Redirection to a RESP2 subscriber of __redis__:invalidate.
    t.run("c", &mut c, "CLIENT TRACKING off");
    let id = match redir.run("CLIENT ID") {
        Frame::Integer(i) => i,
        other => panic!("CLIENT ID replied {other:?}"),
    };
    t.run("redir", &mut redir, "SUBSCRIBE __redis__:invalidate");
    t.run("c", &mut c, &format!("CLIENT TRACKING on REDIRECT {id}"));
    t.0.pop();
    t.run("c", &mut c, "GET r1");
    t.run("w", &mut w, "SET r1 x");
    t.read("redir", &mut redir);
    t.run("w", &mut w, "FLUSHDB");
    t.read("redir", &mut redir);
    let redirect = show(&c.run("CLIENT GETREDIR"));
    t.0.push(format!(
        "redirect is the subscriber: {}",
        redirect == format!(":{id}")
    ));
    // The redirection goes away: the client hears it is broken.
    t.run("c", &mut c, "GET r2");
    t.run("redir", &mut redir, "QUIT");
    t.run("w", &mut w, "SET r2 x");
    let broken = c.read().expect("a push");
    t.0.push(format!(
        "broken: {}",
        render(&broken) == format!(">[\"tracking-redir-broken\", :{id}]")
    ));
    let info = c.run("CLIENT TRACKINGINFO");
    let flags = match &info {
        Frame::Map(pairs) => render(&pairs[0].1),
        other => render(other),
    };
    t.0.push(format!("flags after the redirection left: {flags}"));
    // RESP2 without redirection: nothing can be sent (the next reply is PONG).
    t.run("c", &mut c, "CLIENT TRACKING off");
    t.run("c", &mut c, "HELLO 2");
    t.0.pop();
    t.run("c", &mut c, "CLIENT TRACKING on");
    t.run("c", &mut c, "GET s1");
    t.run("w", &mut w, "SET s1 x");
    t.run("c", &mut c, "PING");
    t.0
}

#[test]
fn client_tracking_matches_redis() {
    both(tracking_scenario);
}

/// tracking-table-max-keys lowered under a tracking client: before its next
/// command runs (here one queued in MULTI, Redis's #11715) keys are taken out of
/// the table and it hears of them ahead of that command's reply, unless it is in
/// NOLOOP mode. The cron is paused so that only the command does it.
fn tracking_limit_scenario(port: u16) -> Vec<String> {
    let conn = || Conn::connect(port).expect("connect");
    let (mut c, mut w) = (conn(), conn());
    let mut t = Log::default();
    t.run("w", &mut w, "DEBUG PAUSE-CRON 1");
    t.run("w", &mut w, "CONFIG SET tracking-table-max-keys 2");
    for mode in ["", " NOLOOP"] {
        t.run("c", &mut c, "HELLO 3");
        t.0.pop();
        t.run("c", &mut c, &format!("CLIENT TRACKING on{mode}"));
        t.run("c", &mut c, "MGET 1{tag} 2{tag}");
        t.run("c", &mut c, "MULTI");
        t.run("w", &mut w, "CONFIG SET tracking-table-max-keys 1");
        t.send("c", &mut c, "PING");
        // Frames up to the reply; which of the two keys goes is random, so
        // its shape is compared.
        loop {
            let f = render(&c.read().expect("a frame"));
            t.0.push(format!(
                "c <- {}",
                f.replace("1{tag}", "K").replace("2{tag}", "K")
            ));
            if !f.starts_with('>') {
                break;
            }
        }
        t.run("c", &mut c, "EXEC");
        t.run("c", &mut c, "CLIENT TRACKING off");
        t.run("w", &mut w, "CONFIG SET tracking-table-max-keys 2");
    }
    t.run("w", &mut w, "DEBUG PAUSE-CRON 0");
    t.0
}

#[test]
fn tracking_table_limit_invalidates_ahead_of_the_next_reply() {
    both_with(&["--enable-debug-command", "yes"], tracking_limit_scenario);
}

fn obuf_config_scenario(port: u16) -> Vec<String> {
    let mut c = Conn::connect(port).expect("connect");
    let mut t = Log::default();
    for line in [
        "CONFIG GET client-output-buffer-limit",
        "CONFIG SET client-output-buffer-limit wrong",
        "CONFIG SET client-output-buffer-limit master 1 1 1",
        "CONFIG SET client-output-buffer-limit normal 10mbs 1 1",
        "CONFIG SET client-output-buffer-limit normal 1 1 1s",
        "CONFIG SET client-output-buffer-limit normal 1 1 -1",
        "CONFIG GET tracking-table-max-keys",
        "CONFIG SET tracking-table-max-keys -1",
        "CONFIG GET latency-tracking",
    ] {
        t.run("c", &mut c, line);
    }
    for value in [
        "normal 1mb 2mb 60 replica 3mb 4mb 70 pubsub 5mb 6mb 80",
        "pubsub 1kb 1k 0",
        "NORMAL 0 0 0 slave 1 2 3",
        "",
    ] {
        c.cmd(&["CONFIG", "SET", "client-output-buffer-limit", value]);
        t.run("c", &mut c, "CONFIG GET client-output-buffer-limit");
    }
    t.0
}

#[test]
fn output_buffer_limit_configuration_matches_redis() {
    both(obuf_config_scenario);
}

/// Keyspace notifications as a subscriber receives them: every message of a
/// `__key*@*__:*` pattern subscriber (keyspace and keyevent, in order) for each
/// command, delimited by a marker PUBLISH.
struct Notified {
    conn: Conn,
    sub: Conn,
    seq: u64,
    _server: Server,
}

impl Notified {
    fn new(server: Server) -> Notified {
        let mut conn = server.conn();
        conn.run("CONFIG SET notify-keyspace-events KEAn");
        let mut sub = server.conn();
        sub.send(&["PSUBSCRIBE", "__key*@*__:*"]);
        sub.read();
        sub.send(&["SUBSCRIBE", "marker"]);
        sub.read();
        Notified {
            conn,
            sub,
            seq: 0,
            _server: server,
        }
    }

    fn run(&mut self, args: &[Vec<u8>]) -> (String, Vec<String>) {
        let reply = show(&self.conn.cmd(args));
        self.seq += 1;
        let mark = self.seq.to_string();
        self.conn.cmd(&["PUBLISH", "marker", mark.as_str()]);
        let mut got = Vec::new();
        loop {
            let Some(Frame::Array(parts)) = self.sub.read() else {
                panic!("subscriber closed");
            };
            let text: Vec<String> = parts.iter().map(show).collect();
            if text.first().map(String::as_str) == Some("\"message\"") {
                assert_eq!(text[2], format!("{mark:?}"), "markers in order");
                return (reply, got);
            }
            got.push(text.join(" "));
        }
    }
}

#[test]
fn keyspace_notifications_over_the_network_match_redis() {
    let ours = std::cell::RefCell::new(Notified::new(Server::ferrokv(&["--hz", "1"])));
    // Active expiry off on both sides: every event comes from a command.
    let redis = Server::redis(&["--enable-debug-command", "yes"]);
    redis.conn().run("DEBUG SET-ACTIVE-EXPIRE 0");
    let theirs = std::cell::RefCell::new(Notified::new(redis));
    prop_runner(48)
        .run(
            &prop::collection::vec(
                // SPOP's random pick would make the two datasets differ.
                random_command().prop_filter("deterministic", |c| c[0] != b"SPOP"),
                1..40,
            ),
            |lines| {
                let (mut o, mut t) = (ours.borrow_mut(), theirs.borrow_mut());
                o.run(&[b"FLUSHALL".to_vec()]);
                t.run(&[b"FLUSHALL".to_vec()]);
                for args in &lines {
                    // (Replies may differ: SMEMBERS orders, SPOP picks.)
                    let (_, a) = o.run(args);
                    let (reply, b) = t.run(args);
                    let cmd: Vec<String> = args
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect();
                    assert_eq!(a, b, "notifications differ for {cmd:?} (Redis: {reply})");
                }
                Ok(())
            },
        )
        .expect("notifications match Redis");
}

/// Reads frames until `n` messages arrived; returns their payloads.
fn messages(c: &mut Conn, n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|_| match c.read() {
            Some(Frame::Array(parts)) | Some(Frame::Push(parts)) => {
                parts.iter().map(show).collect()
            }
            other => panic!("not a message: {other:?}"),
        })
        .collect()
}

#[test]
fn many_subscribers_and_patterns_get_every_message_in_publish_order() {
    let server = Server::ferrokv(&["--threads", "4"]);
    const SUBS: usize = 24;
    const PATTERNS: usize = 8;
    const PUBLISHERS: usize = 4;
    const EACH: usize = 200;
    let mut subs: Vec<Conn> = (0..SUBS)
        .map(|i| {
            let mut c = server.conn();
            if i % 2 == 1 {
                c.run("HELLO 3");
            }
            c.send(&["SUBSCRIBE", "fan", &format!("own{i}")]);
            messages(&mut c, 2);
            c
        })
        .collect();
    let mut pats: Vec<Conn> = (0..PATTERNS)
        .map(|i| {
            let mut c = server.conn();
            c.send(&["PSUBSCRIBE", "f*", "nomatch*", &format!("[f]a?{i}")]);
            messages(&mut c, 3);
            c
        })
        .collect();
    assert_eq!(
        server.conn().run("PUBSUB NUMSUB fan"),
        Frame::Array(vec![Frame::Bulk("fan".into()), Frame::Integer(SUBS as i64)])
    );
    // Several publishers at once, each numbering its messages.
    let port = server.port;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(port).expect("connect");
                for i in 0..EACH {
                    let n = c.cmd(&["PUBLISH", "fan", &format!("{p}:{i}")]);
                    assert_eq!(n, Frame::Integer((SUBS + PATTERNS) as i64));
                }
            })
        })
        .collect();
    for h in publishers {
        h.join().expect("publisher");
    }
    let check = |got: Vec<Vec<String>>, kind: &str| {
        let mut next = [0usize; PUBLISHERS];
        for m in got {
            assert_eq!(m[0], format!("{kind:?}"));
            let payload = m.last().expect("payload").trim_matches('"').to_string();
            let (p, i) = payload.split_once(':').expect("p:i");
            let (p, i): (usize, usize) = (p.parse().expect("p"), i.parse().expect("i"));
            assert_eq!(i, next[p], "publisher {p}'s messages out of order");
            next[p] += 1;
        }
        assert_eq!(next, [EACH; PUBLISHERS]);
    };
    for c in &mut subs {
        check(messages(c, PUBLISHERS * EACH), "message");
    }
    for c in &mut pats {
        check(messages(c, PUBLISHERS * EACH), "pmessage");
    }
    // Each subscriber's own channel reaches it alone.
    let mut p = server.conn();
    for (i, c) in subs.iter_mut().enumerate() {
        assert_eq!(
            p.run(&format!("PUBLISH own{i} hi")),
            Frame::Integer(1),
            "own{i}"
        );
        assert_eq!(messages(c, 1)[0][1], format!("\"own{i}\""));
    }
}

/// Polls `cond` until it holds or `secs` pass.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn used_memory(c: &mut Conn) -> u64 {
    let info = show(&c.run("INFO memory"));
    info.split("\\r\\n")
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.parse().ok())
        .expect("used_memory")
}

#[test]
fn a_subscriber_that_never_reads_is_dropped_while_others_keep_receiving() {
    let server = Server::ferrokv(&["--client-output-buffer-limit", "pubsub 1mb 0 0"]);
    let mut admin = server.conn();
    // Never reads, with a small socket buffer so that the server's side fills.
    let slow = {
        let s = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        socket2::SockRef::from(&s)
            .set_recv_buffer_size(4096)
            .expect("SO_RCVBUF");
        let mut s = s;
        std::io::Write::write_all(&mut s, b"CLIENT SETNAME slow\r\nSUBSCRIBE flood\r\n")
            .expect("subscribe");
        s
    };
    let mut fast = server.conn();
    fast.send(&["SUBSCRIBE", "flood"]);
    messages(&mut fast, 1);
    wait_for(10, "the slow subscriber", || {
        show(&admin.run("PUBSUB NUMSUB flood")).contains(":2")
    });
    let before = used_memory(&mut admin);
    // A reader drains the fast subscriber while the flood goes on.
    let reader = std::thread::spawn(move || {
        let mut n = 0usize;
        loop {
            match fast.read() {
                Some(Frame::Array(m)) => {
                    let payload = show(&m[2]);
                    if payload == "\"end\"" {
                        return n;
                    }
                    assert_eq!(payload, format!("\"{n} {}\"", "x".repeat(1000)));
                    n += 1;
                }
                other => panic!("fast subscriber got {other:?}"),
            }
        }
    });
    let mut publisher = server.conn();
    let mut sent = 0usize;
    let mut dropped = false;
    let mut peak = 0;
    while sent < 200_000 {
        let msg = format!("{sent} {}", "x".repeat(1000));
        publisher.cmd(&["PUBLISH", "flood", msg.as_str()]);
        sent += 1;
        if sent.is_multiple_of(500) {
            peak = peak.max(used_memory(&mut admin));
            if !show(&admin.run("CLIENT LIST")).contains("name=slow") {
                dropped = true;
                break;
            }
        }
    }
    assert!(dropped, "the slow subscriber was not disconnected");
    // Its output never grew much past its limit.
    assert!(
        peak < before + 8 * 1024 * 1024,
        "memory grew from {before} to {peak}"
    );
    publisher.cmd(&["PUBLISH", "flood", "end"]);
    assert_eq!(reader.join().expect("reader"), sent, "the fast one got all");
    assert!(server
        .log()
        .contains("scheduled to be closed ASAP for overcoming of output buffer limits"));
    drop(slow);
}

#[test]
fn a_reply_over_the_normal_hard_limit_closes_the_client_without_it() {
    both(|port| {
        let mut admin = Conn::connect(port).expect("connect");
        let mut t = Log::default();
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100000 0 0",
        ]);
        for _ in 0..150 {
            admin.cmd(&["RPUSH", "big", &"x".repeat(1000)]);
        }
        let mut c = Conn::connect(port).expect("connect");
        t.run("c", &mut c, "CLIENT SETNAME big");
        c.send(&["LRANGE", "big", "0", "-1"]);
        c.send(&["SET", "after", "1"]);
        t.0.push(format!("closed without a reply: {:?}", c.read().is_none()));
        wait_for(10, "the client to go", || {
            !show(&admin.run("CLIENT LIST")).contains("name=big")
        });
        t.run("admin", &mut admin, "EXISTS after");
        // Random picks with repetitions stop at the limit (the count alone would
        // size the reply), and the client goes.
        admin.cmd(&["HSET", "h", "a", "b"]);
        admin.cmd(&["SADD", "s", "a"]);
        admin.cmd(&["ZADD", "z", "1", "a"]);
        for line in [
            "HRANDFIELD h -999999999",
            "SRANDMEMBER s -999999999",
            "ZRANDMEMBER z -999999999",
        ] {
            let mut c = Conn::connect(port).expect("connect");
            t.0.push(format!(
                "{line}: closed {:?}",
                c.try_send(&line.split(' ').collect::<Vec<_>>()).is_ok() && c.read().is_none()
            ));
        }
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 0 0",
        ]);
        t.0
    });
}

#[test]
fn redis_rs_pubsub_works() {
    let server = Server::ferrokv(&[]);
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).expect("client");
    let mut sub_conn = client.get_connection().expect("connect");
    let mut pubsub = sub_conn.as_pubsub();
    pubsub.subscribe("notifications").expect("subscribe");
    pubsub.psubscribe("orders.*").expect("psubscribe");
    let mut con = client.get_connection().expect("connect");
    let n: i64 = redis::cmd("PUBLISH")
        .arg("notifications")
        .arg("New order received")
        .query(&mut con)
        .expect("publish");
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("PUBLISH")
        .arg("orders.eu")
        .arg("42")
        .query(&mut con)
        .expect("publish");
    assert_eq!(n, 1);
    let m = pubsub.get_message().expect("message");
    assert_eq!(m.get_channel_name(), "notifications");
    assert_eq!(
        m.get_payload::<String>().expect("payload"),
        "New order received"
    );
    let m = pubsub.get_message().expect("message");
    assert_eq!(m.get_pattern::<String>().expect("pattern"), "orders.*");
    assert_eq!(m.get_payload::<String>().expect("payload"), "42");
}
