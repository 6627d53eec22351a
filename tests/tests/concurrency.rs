//! Multi-key commands are atomic when many clients run in parallel on a
//! multi-threaded ferrokv: no reader ever sees half of an MSET, a RENAME or a SWAPDB.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use ferrokv_resp::Frame;
use ferrokv_tests::Server;

#[test]
fn mset_is_atomic_for_parallel_readers() {
    let server = Server::ferrokv(&["--threads", "4"]);
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    let keys = ["{x}a", "b", "c:long-key-name-to-spread-shards", "d"];
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut c = ferrokv_tests::Conn::connect(port).expect("connect");
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = format!("{w}-{i}");
                    let mut args = vec!["MSET".to_string()];
                    for k in keys {
                        args.push(k.into());
                        args.push(v.clone());
                    }
                    assert_eq!(c.cmd(&args), Frame::simple("OK"));
                    i += 1;
                }
            })
        })
        .collect();
    let mut readers = Vec::new();
    for _ in 0..3 {
        let stop = stop.clone();
        readers.push(thread::spawn(move || {
            let mut c = ferrokv_tests::Conn::connect(port).expect("connect");
            let mut checked = 0;
            while !stop.load(Ordering::Relaxed) {
                let Frame::Array(vals) = c.cmd(&["MGET", keys[0], keys[1], keys[2], keys[3]])
                else {
                    panic!()
                };
                assert!(
                    vals.windows(2).all(|w| w[0] == w[1]),
                    "torn MSET seen: {vals:?}"
                );
                checked += 1;
            }
            checked
        }));
    }
    thread::sleep(std::time::Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let total: i32 = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(total > 100, "readers made too little progress: {total}");
}

#[test]
fn incr_from_many_clients_loses_nothing() {
    let server = Server::ferrokv(&["--threads", "4"]);
    let port = server.port;
    let handles: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                let mut c = ferrokv_tests::Conn::connect(port).expect("connect");
                for _ in 0..500 {
                    c.send(&["INCR", "counter"]);
                }
                for _ in 0..500 {
                    assert!(matches!(c.read(), Some(Frame::Integer(_))));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client");
    }
    assert_eq!(server.conn().run("GET counter"), Frame::bulk("4000"));
}

#[test]
fn rename_and_swapdb_never_lose_or_duplicate_a_key() {
    let server = Server::ferrokv(&["--threads", "4"]);
    let port = server.port;
    let mut setup = server.conn();
    setup.run("SET k0 v");
    setup.run("SELECT 1");
    setup.run("SET other v");
    let stop = Arc::new(AtomicBool::new(false));
    let renamer = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut c = ferrokv_tests::Conn::connect(port).expect("connect");
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = c.cmd(&["RENAME", &format!("k{i}"), &format!("k{}", i + 1)]);
                if r == Frame::simple("OK") {
                    i += 1;
                } else {
                    // The key is in the other db right now (SWAPDB); try the other name.
                    c.cmd(&["SWAPDB", "0", "1"]);
                }
            }
        })
    };
    let swapper = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut c = ferrokv_tests::Conn::connect(port).expect("connect");
            while !stop.load(Ordering::Relaxed) {
                c.cmd(&["SWAPDB", "0", "1"]);
            }
        })
    };
    let mut c = server.conn();
    for _ in 0..300 {
        let Frame::Integer(a) = c.run("DBSIZE") else {
            panic!()
        };
        assert!(a == 1, "db size {a} mid-rename");
        let keys = c.run("KEYS k*");
        let keys1 = {
            c.run("SELECT 1");
            let k = c.run("KEYS k*");
            c.run("SELECT 0");
            k
        };
        let n = |f: &Frame| if let Frame::Array(v) = f { v.len() } else { 0 };
        assert!(n(&keys) + n(&keys1) <= 2);
    }
    stop.store(true, Ordering::Relaxed);
    renamer.join().expect("renamer");
    swapper.join().expect("swapper");
    // Exactly one k* key exists across both dbs.
    let mut c = server.conn();
    let Frame::Array(a) = c.run("KEYS k*") else {
        panic!()
    };
    c.run("SELECT 1");
    let Frame::Array(b) = c.run("KEYS k*") else {
        panic!()
    };
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
}
