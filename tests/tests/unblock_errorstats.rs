//! CLIENT UNBLOCK ... ERROR counts as Redis counts it (unit/info's "errorstats:
//! blocking commands"): the UNBLOCKED error in errorstats and
//! total_error_replies, the blocked call as one failed call.

use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Server};

#[test]
fn unblock_error_is_counted() {
    let s = Server::ferrokv(&[]);
    let mut c = s.conn();
    let mut blocked = s.conn();
    let Frame::Integer(id) = blocked.run("CLIENT ID") else {
        panic!("CLIENT ID");
    };
    c.run("CONFIG RESETSTAT");
    blocked.send(&["BLPOP", "list1", "0"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !show(&c.run("INFO clients")).contains("blocked_clients:1") {
        assert!(Instant::now() < deadline, "never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        c.cmd(&["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]),
        Frame::Integer(1)
    );
    let reply = blocked.read().expect("the unblocked reply");
    assert!(show(&reply).contains("UNBLOCKED"), "{}", show(&reply));
    let errors = show(&c.run("INFO errorstats"));
    assert!(errors.contains("errorstat_UNBLOCKED:count=1"), "{errors}");
    let stats = show(&c.run("INFO commandstats"));
    assert!(
        stats.contains("cmdstat_blpop:calls=1,")
            && stats.contains("rejected_calls=0,failed_calls=1"),
        "{stats}"
    );
    assert!(show(&c.run("INFO stats")).contains("total_error_replies:1"));
}
