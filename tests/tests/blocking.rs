//! Blocking list commands with several clients, run against ferrokv and a real
//! redis-server 7.0: each scenario records a transcript of what every client
//! received, and the two transcripts must be identical.

use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Server};

/// Polls INFO until `n` clients are blocked (the order in which clients block is
/// the order in which they must be served, so scenarios wait for each one).
fn wait_blocked(c: &mut Conn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = c.run("INFO clients");
        let text = match &info {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("INFO replied {other:?}"),
        };
        let blocked = text
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        if blocked == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} blocked clients, INFO says {blocked:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Runs `scenario` against both servers and compares the transcripts.
fn differential(scenario: fn(u16) -> Vec<String>) {
    let redis = Server::redis(&[]);
    let ferrokv = Server::ferrokv(&[]);
    let want = scenario(redis.port);
    let got = scenario(ferrokv.port);
    assert_eq!(
        got, want,
        "ferrokv (left) differs from redis-server (right)"
    );
}

#[test]
fn waiters_are_served_in_fifo_order() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut waiters: Vec<Conn> = Vec::new();
        for i in 0..5 {
            let mut c = Conn::connect(port).unwrap();
            c.send(&args("BLPOP k 0"));
            wait_blocked(&mut c0, i + 1);
            waiters.push(c);
        }
        let mut t = vec![show(&c0.run("RPUSH k a b c"))];
        for c in waiters.iter_mut().take(3) {
            t.push(show(&c.read().unwrap()));
        }
        wait_blocked(&mut c0, 2);
        t.push(show(&c0.run("LRANGE k 0 -1")));
        t.push(show(&c0.run("RPUSH k d e f")));
        for c in waiters.iter_mut().skip(3) {
            t.push(show(&c.read().unwrap()));
        }
        t.push(show(&c0.run("LRANGE k 0 -1")));
        t
    });
}

#[test]
fn many_waiters_on_one_key() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut waiters: Vec<Conn> = Vec::new();
        for i in 0..40 {
            let mut c = Conn::connect(port).unwrap();
            c.send(&args(if i % 2 == 0 { "BRPOP q 0" } else { "BLPOP q 0" }));
            wait_blocked(&mut c0, i + 1);
            waiters.push(c);
        }
        let mut push = vec!["RPUSH".to_string(), "q".to_string()];
        push.extend((0..40).map(|i| format!("e{i}")));
        let mut t = vec![show(&c0.cmd(&push))];
        for c in &mut waiters {
            t.push(show(&c.read().unwrap()));
        }
        wait_blocked(&mut c0, 0);
        t.push(show(&c0.run("EXISTS q")));
        t
    });
}

#[test]
fn timeout_replies_null_with_subsecond_precision() {
    differential(|port| {
        let mut c = Conn::connect(port).unwrap();
        let started = Instant::now();
        let mut t = vec![format!("{:?}", c.run("BLPOP missing 0.2"))];
        let waited = started.elapsed();
        t.push(format!(
            "waited>=150ms:{}",
            waited >= Duration::from_millis(150)
        ));
        t.push(format!("{:?}", c.run("BRPOPLPUSH missing dst 0.05")));
        t.push(format!("{:?}", c.run("BLMOVE missing dst LEFT RIGHT 0.05")));
        t.push(format!("{:?}", c.run("BLMPOP 0.05 2 m1 m2 LEFT")));
        c.run("HELLO 3");
        t.push(format!("{:?}", c.run("BLPOP missing 0.05")));
        t.push(show(&c.run("BLPOP missing -1")));
        t.push(show(&c.run("BLPOP missing abc")));
        t
    });
}

#[test]
fn pipelined_push_then_pop_serves_the_blocked_client_first() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        c1.send(&args("BLPOP k 0"));
        wait_blocked(&mut c0, 1);
        // One write: the blocked client is served between the two commands.
        let mut batch = Frame::array_of_bulks(args("LPUSH k x").iter().map(|a| a.as_bytes()))
            .to_bytes()
            .to_vec();
        batch.extend_from_slice(
            &Frame::array_of_bulks(args("LPOP k").iter().map(|a| a.as_bytes())).to_bytes(),
        );
        c0.send_raw(&batch);
        vec![
            show(&c0.read().unwrap()),
            format!("{:?}", c0.read().unwrap()),
            show(&c1.read().unwrap()),
        ]
    });
}

#[test]
fn requests_pipelined_behind_a_blocked_one_wait_for_it() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let mut batch = Vec::new();
        for line in ["BLPOP k 0", "PING", "LLEN k"] {
            batch.extend_from_slice(
                &Frame::array_of_bulks(args(line).iter().map(|a| a.as_bytes())).to_bytes(),
            );
        }
        c1.send_raw(&batch);
        wait_blocked(&mut c0, 1);
        let mut t = vec![show(&c0.run("RPUSH k a b"))];
        for _ in 0..3 {
            t.push(show(&c1.read().unwrap()));
        }
        t
    });
}

#[test]
fn client_unblock_timeout_and_error() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let id = match c1.run("CLIENT ID") {
            Frame::Integer(i) => i.to_string(),
            other => panic!("{other:?}"),
        };
        let mut t = vec![];
        t.push(show(&c0.cmd(&["CLIENT", "UNBLOCK", &id])));
        c1.send(&args("BLPOP k 0"));
        wait_blocked(&mut c0, 1);
        let list = show(&c0.run("CLIENT LIST"));
        t.push(format!("flag b:{}", list.contains("flags=b")));
        t.push(show(&c0.cmd(&["CLIENT", "UNBLOCK", &id, "BOGUS"])));
        t.push(show(&c0.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"])));
        t.push(format!("{:?}", c1.read().unwrap()));
        c1.send(&args("BRPOP k 0"));
        wait_blocked(&mut c0, 1);
        t.push(show(&c0.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"])));
        t.push(show(&c1.read().unwrap()));
        t.push(show(&c0.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"])));
        t.push(show(&c0.run("CLIENT UNBLOCK notanumber")));
        wait_blocked(&mut c0, 0);
        t
    });
}

#[test]
fn disconnected_waiters_are_forgotten() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        {
            let mut c1 = Conn::connect(port).unwrap();
            c1.send(&args("BLPOP k 0"));
            wait_blocked(&mut c0, 1);
        }
        wait_blocked(&mut c0, 0);
        let mut c2 = Conn::connect(port).unwrap();
        c2.send(&args("BLPOP k 0"));
        wait_blocked(&mut c0, 1);
        vec![
            show(&c0.run("RPUSH k a b")),
            show(&c2.read().unwrap()),
            show(&c0.run("LRANGE k 0 -1")),
        ]
    });
}

#[test]
fn blmove_chains_serve_the_next_waiter() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let mut c2 = Conn::connect(port).unwrap();
        let mut c3 = Conn::connect(port).unwrap();
        c1.send(&args("BLMOVE a b LEFT RIGHT 0"));
        wait_blocked(&mut c0, 1);
        c2.send(&args("BRPOPLPUSH b c 0"));
        wait_blocked(&mut c0, 2);
        c3.send(&args("BLMPOP 0 2 x c RIGHT COUNT 5"));
        wait_blocked(&mut c0, 3);
        vec![
            show(&c0.run("RPUSH a v1 v2")),
            show(&c1.read().unwrap()),
            show(&c2.read().unwrap()),
            show(&c3.read().unwrap()),
            show(&c0.run("LRANGE a 0 -1")),
            show(&c0.run("EXISTS b c")),
        ]
    });
}

#[test]
fn several_keys_and_databases() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let mut c2 = Conn::connect(port).unwrap();
        c1.run("SELECT 3");
        c1.send(&args("BRPOP k1 k2 k3 0"));
        wait_blocked(&mut c0, 1);
        c2.send(&args("BLPOP k2 0"));
        wait_blocked(&mut c0, 2);
        let mut t = vec![show(&c0.run("RPUSH k2 in-db0"))];
        t.push(show(&c2.read().unwrap()));
        c0.run("SELECT 3");
        t.push(show(&c0.run("RPUSH k3 x")));
        t.push(show(&c1.read().unwrap()));
        // A key created by another command than a push also wakes waiters.
        c1.send(&args("BLPOP dst 0"));
        wait_blocked(&mut c0, 1);
        t.push(show(&c0.run("RPUSH src s1")));
        t.push(show(&c0.run("RENAME src dst")));
        t.push(show(&c1.read().unwrap()));
        t
    });
}

#[test]
fn wrong_type_and_blocked_count_in_info() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let mut t = vec![show(&c0.run("SET s v"))];
        t.push(show(&c1.run("BLPOP s 0")));
        c1.send(&args("BLPOP k 0"));
        wait_blocked(&mut c0, 1);
        // A string under the awaited key does not serve it.
        t.push(show(&c0.run("SET k str")));
        t.push(show(&c0.run("DEL k")));
        t.push(show(&c0.run("LPUSH k v")));
        t.push(show(&c1.read().unwrap()));
        t
    });
}

#[test]
fn concurrent_pushers_and_waiters_lose_and_duplicate_nothing() {
    let server = Server::ferrokv(&[]);
    // Many short rounds: the races (a client served by one thread while another
    // looks at it) need repetitions to show.
    for _ in 0..300 {
        concurrent_round(server.port);
    }
}

#[allow(clippy::unwrap_used)]
fn concurrent_round(port: u16) {
    let waiters: Vec<_> = (0..24)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(port).unwrap();
                let key = format!("q{}", i % 3);
                // Twice on one connection: the same client blocks again right after
                // being served.
                (0..2)
                    .map(|_| match c.cmd(&["BLPOP", key.as_str(), "0"]) {
                        Frame::Array(kv) => show(&kv[1]),
                        other => panic!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let pushers: Vec<_> = (0..4)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(port).unwrap();
                for j in 0..12 {
                    let key = format!("q{}", j % 3);
                    c.cmd(&["RPUSH", key.as_str(), &format!("p{p}-{j}")]);
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    let mut got: Vec<String> = waiters
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..4)
        .flat_map(|p| (0..12).map(move |j| format!("{:?}", format!("p{p}-{j}"))))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let mut c = Conn::connect(port).unwrap();
    wait_blocked(&mut c, 0);
    assert_eq!(show(&c.run("EXISTS q0 q1 q2")), ":0");
}

#[test]
fn clients_with_a_timeout_are_counted() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let mut c2 = Conn::connect(port).unwrap();
        c1.send(&args("BLPOP k 100"));
        wait_blocked(&mut c0, 1);
        c2.send(&args("BRPOP k 0"));
        wait_blocked(&mut c0, 2);
        let field = |c: &mut Conn| {
            let info = show(&c.run("INFO clients"));
            info.split("\\r\\n")
                .find(|l| l.starts_with("clients_in_timeout_table:"))
                .map(str::to_string)
        };
        let first = field(&mut c0);
        assert!(first.is_some(), "INFO has clients_in_timeout_table");
        let mut t = vec![format!("{first:?}")];
        t.push(show(&c0.run("RPUSH k a b")));
        t.push(show(&c1.read().unwrap()));
        t.push(show(&c2.read().unwrap()));
        wait_blocked(&mut c0, 0);
        t.push(format!("{:?}", field(&mut c0)));
        t
    });
}

#[test]
fn swapdb_serves_clients_blocked_in_either_db() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        c1.run("SELECT 1");
        c1.send(&args("BLPOP k 0"));
        wait_blocked(&mut c0, 1);
        let mut t = vec![show(&c0.run("RPUSH k from-db0"))];
        t.push(show(&c0.run("SWAPDB 0 1")));
        t.push(show(&c1.read().unwrap()));
        t.push(show(&c0.run("DBSIZE")));
        t
    });
}

/// A blocked client is served only by the type it waits for, as that key holds it
/// when it is served (Redis's "Blocking command accounted only once..." and
/// "BLPOP with same key multiple times should work" family in list.tcl).
#[test]
fn a_key_of_another_type_when_served_leaves_the_client_waiting() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let mut t = vec![];
        // list.tcl: the key is created as a list and replaced by a string within one
        // transaction; the client waits on and gets the next real push.
        c1.send(&args("BLPOP list 0"));
        wait_blocked(&mut c0, 1);
        for line in [
            "MULTI",
            "LPUSH list a",
            "DEL list",
            "SET list foo",
            "EXEC",
            "DEL list",
            "LPUSH list b",
        ] {
            t.push(show(&c0.run(line)));
        }
        t.push(show(&c1.read().unwrap()));
        // Waiting on two keys, the first of which becomes a string meanwhile: the
        // ready key serves it, the string is not looked at.
        c1.send(&args("BLPOP s l2 0"));
        wait_blocked(&mut c0, 1);
        t.push(show(&c0.run("SET s str")));
        t.push(show(&c0.run("RPUSH l2 x")));
        t.push(show(&c1.read().unwrap()));
        // A zset popper and a list popper on one key: only the matching one is
        // served, whatever their order.
        let mut c2 = Conn::connect(port).unwrap();
        c1.send(&args("BZPOPMIN k 0"));
        wait_blocked(&mut c0, 1);
        c2.send(&args("BLPOP k 0"));
        wait_blocked(&mut c0, 2);
        t.push(show(&c0.run("RPUSH k v")));
        t.push(show(&c2.read().unwrap()));
        wait_blocked(&mut c0, 1);
        t.push(show(&c0.run("ZADD k 1 m")));
        t.push(show(&c1.read().unwrap()));
        wait_blocked(&mut c0, 0);
        // BLMOVE whose destination holds another type: the client gets the error
        // and the element stays.
        t.push(show(&c0.run("SET dst str")));
        c1.send(&args("BLMOVE src dst LEFT LEFT 0"));
        wait_blocked(&mut c0, 1);
        t.push(show(&c0.run("RPUSH src e")));
        t.push(show(&c1.read().unwrap()));
        t.push(show(&c0.run("LRANGE src 0 -1")));
        t
    });
}

/// WAIT with no replica: an immediate answer when nothing is asked for, otherwise
/// blocked until the timeout (or CLIENT UNBLOCK), then the number of replicas that
/// acknowledged: none.
#[test]
fn wait_blocks_until_its_timeout_without_replicas() {
    differential(|port| {
        let mut c0 = Conn::connect(port).unwrap();
        let mut c1 = Conn::connect(port).unwrap();
        let mut t = vec![];
        for line in [
            "WAIT 0 0",
            "WAIT 0 100",
            "WAIT x 0",
            "WAIT 1 x",
            "WAIT 1 -1",
            "WAIT 1 1.5",
            "SET k v",
            "WAIT 1 20",
        ] {
            t.push(show(&c0.run(line)));
        }
        t.push(show(&c0.run("MULTI")));
        t.push(show(&c0.run("WAIT 1 0")));
        t.push(show(&c0.run("EXEC")));
        let id = show(&c1.run("CLIENT ID"))
            .trim_start_matches(':')
            .to_string();
        c1.send(&args("WAIT 1 0"));
        wait_blocked(&mut c0, 1);
        t.push(show(&c0.cmd(&["CLIENT", "UNBLOCK", &id])));
        t.push(show(&c1.read().unwrap()));
        c1.send(&args("WAIT 2 0"));
        wait_blocked(&mut c0, 1);
        t.push(show(&c0.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"])));
        t.push(show(&c1.read().unwrap()));
        t
    });
}
