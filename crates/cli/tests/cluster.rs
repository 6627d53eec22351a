//! Cluster mode (-c): a three-node redis-server cluster built with CLUSTER MEET and
//! ADDSLOTSRANGE; ferrokv-cli must follow MOVED like redis-cli.

mod common;

use common::{cluster, same, with_port};

#[test]
fn follows_moved_like_redis_cli() {
    let nodes = cluster();
    let first = &nodes[0];
    // Keys spread over all three nodes: foo is on the third, a and b elsewhere.
    for key in ["a", "b", "c", "foo", "{user}1"] {
        same(&with_port(first, &["-c", "set", key, "v"]), b"");
        same(&with_port(first, &["-c", "--no-raw", "get", key]), b"");
        same(&with_port(first, &["get", key]), b"");
    }
    same(
        &with_port(first, &["-c", "--no-raw", "mget", "a", "b"]),
        b"",
    );
    same(&with_port(first, &["-c", "-r", "2", "get", "foo"]), b"");
}
