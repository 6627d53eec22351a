//! Differential tests: string commands against a real redis-server 7.0.

use ferrokv_tests::Diff;

#[test]
fn set_get_and_options() {
    let mut d = Diff::new();
    d.script(
        "
        SET a 1
        GET a
        SET a 2 NX
        SET a 2 XX
        GET a
        SET b 1 XX
        GET b
        SET b 1 NX
        SET b x GET
        SET c x GET
        SET c y NX GET
        SET a v EX 0
        SET a v EX -1
        SET a v PX abc
        SET a v EX 10 PX 10
        SET a v KEEPTTL EX 10
        SET a v EX 10 KEEPTTL
        SET a v EX 100
        TTL a
        SET a w KEEPTTL
        TTL a
        SET a w
        TTL a
        SET a v NX XX
        SET a v FOO
        SET a v EX
        SET a v EX 9223372036854775807
        SET a v PX 9223372036854775807
        SET a v EXAT 1
        GET a
        SET a v PXAT 99999999999999
        PEXPIRETIME a
        SETNX n 1
        SETNX n 2
        GET n
        SETEX e 0 v
        SETEX e 10 v
        TTL e
        PSETEX e 100000 v
        PTTL e
        SETEX e x v
        GETSET n 5
        GETSET nokey 5
        GETDEL n
        GETDEL n
        ",
    );
}

#[test]
fn multi_key_strings() {
    let mut d = Diff::new();
    d.script(
        "
        MSET a 1 b 2 c 3
        MGET a b c d
        MSET a
        MSET a 1 b
        MSETNX a 1 x 2
        MSETNX x 1 y 2
        MGET x y
        STRLEN a
        STRLEN nokey
        APPEND s hello
        APPEND s world
        GET s
        OBJECT ENCODING s
        STRLEN s
        GETRANGE s 0 4
        GETRANGE s -5 -1
        GETRANGE s 5 2
        GETRANGE s -1 -5
        GETRANGE s 0 100
        GETRANGE s -100 100
        GETRANGE nokey 0 1
        SUBSTR s 1 3
        SETRANGE s 5 XYZ
        GET s
        SETRANGE s 20 end
        GET s
        SETRANGE s -1 x
        SETRANGE new 3 abc
        GET new
        SETRANGE empty 5 \"\"
        EXISTS empty
        LCS s new
        LCS s new LEN
        LCS s new IDX
        LCS s new IDX MINMATCHLEN 2 WITHMATCHLEN
        LCS s new IDX LEN
        ",
    );
}

#[test]
fn counters_and_encodings() {
    let mut d = Diff::new();
    d.script(
        "
        INCR i
        INCRBY i 10
        DECR i
        DECRBY i 5
        INCRBY i abc
        DECRBY i -9223372036854775808
        SET big 9223372036854775807
        INCR big
        SET small -9223372036854775808
        DECR small
        SET s abc
        INCR s
        SET f 1.5
        INCR f
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f -1.6
        INCRBYFLOAT f 1e10
        INCRBYFLOAT f abc
        INCRBYFLOAT f inf
        INCRBYFLOAT nf 3.0e3
        INCRBYFLOAT nf 0.00001
        INCRBYFLOAT nf -0.00001
        OBJECT ENCODING nf
        SET x 10
        OBJECT ENCODING x
        INCRBYFLOAT x 1
        OBJECT ENCODING x
        SET e 0123
        OBJECT ENCODING e
        SET e 12345678901234567890
        OBJECT ENCODING e
        SET e 1234567890123456789012345678901234567890123
        OBJECT ENCODING e
        SET e 123456789012345678901234567890123456789012345
        OBJECT ENCODING e
        OBJECT REFCOUNT x
        SET r 100
        OBJECT REFCOUNT r
        SET r 10000
        OBJECT REFCOUNT r
        OBJECT ENCODING nokey
        OBJECT FREQ r
        OBJECT HELP
        OBJECT FOO r
        ",
    );
}

#[test]
fn getex() {
    let mut d = Diff::new();
    d.script(
        "
        SET k v
        GETEX k
        GETEX k EX 100
        TTL k
        GETEX k PERSIST
        TTL k
        GETEX k PX 100000
        PTTL k
        GETEX k EXAT 1
        EXISTS k
        GETEX nokey EX 10
        SET k v
        GETEX k EX 10 PERSIST
        GETEX k NX
        GETEX k EX -1
        GETEX k FOO
        ",
    );
}

/// Where one command has several faults, the reply is the one Redis checks first:
/// SET's whole syntax before any value (and only the last EX/PX value), GETEX's
/// key lookup before its time, LCS's key types before its options.
#[test]
fn faults_are_reported_in_redis_order() {
    let mut d = Diff::new();
    d.script(
        "
        SET s v EX 1.5 NX XX
        SET s v PX -1 KEEPTTL
        SET s v EX abc PX 10
        SET s v EX 0 GET
        SET s v EXAT abc XX NX
        SET s v PXAT -1 FOO
        SET s v EX abc EX 100
        TTL s
        SET s v EX 0 EX 100 GET
        GETEX missing EX abc
        GETEX missing EXAT -1
        GETEX missing PX 9223372036854775807
        GETEX missing PERSIST EX 10
        GETEX missing EX 10 FOO
        SADD set x
        GETEX set EX abc
        GETEX set PXAT -1
        GETEX set PERSIST PX 1
        GETEX s EX abc
        GETEX s EXAT 0
        GETEX s PX 9223372036854775807
        LCS set s FOO
        LCS s set MINMATCHLEN abc
        LCS missing set IDX LEN
        LCS s missing FOO
        LCS s missing MINMATCHLEN abc
        LCS s missing MINMATCHLEN
        LCS s missing IDX LEN MINMATCHLEN abc
        LCS s missing IDX LEN
        ",
    );
}

/// SETRANGE's length check must not overflow: an offset near 2^63 is refused,
/// not allocated (it aborted the server).
#[test]
fn setrange_offsets_past_the_limit() {
    let mut d = Diff::new();
    d.script(
        "
        SET s hello
        SETRANGE s 9223372036854775807 x
        SETRANGE s 9223372036854775800 xxxxxxxxxx
        SETRANGE fresh 9223372036854775807 x
        SETRANGE fresh 9223372036854775807
        SETRANGE s 536870912 x
        SETRANGE s -1 x
        SETRANGE s abc x
        SADD set x
        SETRANGE set abc x
        SETRANGE set -1 x
        SETRANGE set 9223372036854775807 x
        GET s
        EXISTS fresh
        ",
    );
    d.check(&["SETRANGE", "fresh", "9223372036854775807", ""]);
}
