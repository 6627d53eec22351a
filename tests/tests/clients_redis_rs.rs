//! redis-rs, the Rust client library, against ferrokv.

use ferrokv_tests::Server;
use redis::Commands;

#[test]
fn redis_rs_basic_usage() {
    let server = Server::ferrokv(&[]);
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).expect("client");
    let mut con = client.get_connection().expect("connect");
    let _: () = con.set("k", "v").expect("set");
    let v: String = con.get("k").expect("get");
    assert_eq!(v, "v");
    let n: i64 = con.incr("n", 5).expect("incr");
    assert_eq!(n, 5);
    let _: () = con.set_ex("t", "x", 100).expect("setex");
    let ttl: i64 = con.ttl("t").expect("ttl");
    assert!((1..=100).contains(&ttl));
    let missing: Option<String> = con.get("nope").expect("get missing");
    assert_eq!(missing, None);
    let (a, b): (String, i64) = redis::pipe()
        .get("k")
        .get("n")
        .query(&mut con)
        .expect("pipeline");
    assert_eq!((a.as_str(), b), ("v", 5));
    let err = redis::cmd("INCR")
        .arg("k")
        .query::<i64>(&mut con)
        .expect_err("WRONGTYPE-like error");
    assert!(err.to_string().contains("not an integer"), "{err}");
    let keys: Vec<String> = con.scan_match("*").expect("scan").collect();
    assert_eq!(keys.len(), 3);
}
