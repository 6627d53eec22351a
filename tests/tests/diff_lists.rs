//! Differential tests: list commands against a real redis-server 7.0.

use ferrokv_tests::Diff;

/// Runs `script` once with the default node size and once with tiny nodes, so both
/// single-node and multi-node lists are exercised.
fn both_fills(script: &str) {
    for fill in ["-2", "1", "4", "-1", "0"] {
        let mut d = Diff::new();
        d.line(&format!("CONFIG SET list-max-listpack-size {fill}"));
        d.script(script);
    }
}

#[test]
fn push_pop_and_len() {
    both_fills(
        "
        LPUSH l a b c
        RPUSH l d e 1 -5 12345 9223372036854775807
        LLEN l
        LRANGE l 0 -1
        OBJECT ENCODING l
        LPUSHX l x y
        RPUSHX l z
        LPUSHX nx x
        RPUSHX nx x
        EXISTS nx
        LRANGE l 0 -1
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 3
        LPOP l 0
        RPOP l 0
        LLEN l
        LRANGE l 0 -1
        LPOP l 100
        EXISTS l
        LPOP l
        RPOP l
        LPOP l 2
        RPOP l 0
        LLEN l
        LPOP l -1
        LPOP l abc
        RPOP l 1 2
        LPOP nx 0
        RPUSH one x
        RPOP one
        EXISTS one
        RPUSH one x y
        RPOP one 5
        EXISTS one
        ",
    );
}

#[test]
fn wrong_type_everywhere() {
    let mut d = Diff::new();
    d.script(
        "
        SET s v
        RPUSH l a
        LPUSH s a
        RPUSH s a
        LPUSHX s a
        RPUSHX s a
        LPOP s
        RPOP s 2
        LLEN s
        LRANGE s 0 -1
        LINDEX s 0
        LSET s 0 x
        LINSERT s BEFORE a b
        LREM s 0 a
        LTRIM s 0 1
        LPOS s a
        LMOVE s l LEFT RIGHT
        LMOVE l s LEFT RIGHT
        LRANGE l 0 -1
        RPOPLPUSH s l
        RPOPLPUSH l s
        LMPOP 2 s l LEFT
        LMPOP 2 l s LEFT
        LMPOP 2 nx s LEFT
        RPUSH l a b
        BLPOP s 0
        BLPOP l s 0
        BRPOP nx s 0.01
        BLMOVE s l LEFT LEFT 0
        BLMOVE l s LEFT LEFT 0
        BRPOPLPUSH s l 0
        BLMPOP 0 1 s LEFT
        GET s
        LRANGE l 0 -1
        ",
    );
}

#[test]
fn range_index_and_set() {
    both_fills(
        "
        RPUSH l a b c d e f g h i j 10 11 12
        LRANGE l 0 0
        LRANGE l 2 5
        LRANGE l -3 -1
        LRANGE l -100 100
        LRANGE l 5 2
        LRANGE l 20 30
        LRANGE l -1 -5
        LRANGE l 0 -14
        LRANGE l 0 -13
        LRANGE l -9223372036854775808 9223372036854775807
        LRANGE l a 1
        LRANGE l 1 b
        LRANGE nx 0 -1
        LRANGE nx a 1
        LINDEX l 0
        LINDEX l -1
        LINDEX l 12
        LINDEX l 13
        LINDEX l -13
        LINDEX l -14
        LINDEX l x
        LINDEX nx x
        LINDEX nx 0
        LSET l 0 A
        LSET l -1 Z
        LSET l 5 55
        LSET l 6 long-value-that-is-longer-than-sixty-four-bytes-for-sure-xxxxxxxxxxxxxxxxxxxxxxxx
        LSET l 13 x
        LSET l -14 x
        LSET l x y
        LSET nx 0 x
        LSET nx x x
        LRANGE l 0 -1
        ",
    );
}

#[test]
fn insert_rem_trim() {
    both_fills(
        "
        RPUSH l a b c a b c 1 2 1 2
        LINSERT l BEFORE a X
        LINSERT l AFTER c Y
        LINSERT l after 2 Z
        LINSERT l before 1 W
        LINSERT l BEFORE nope X
        LINSERT l MIDDLE a X
        LINSERT nx BEFORE a X
        LINSERT nx MIDDLE a X
        LRANGE l 0 -1
        LREM l 1 a
        LREM l -1 b
        LREM l 0 c
        LREM l 0 nope
        LREM l x a
        LREM nx 0 a
        LRANGE l 0 -1
        LREM l -9223372036854775808 1
        LRANGE l 0 -1
        RPUSH m x y x y x y x
        LREM m -2 x
        LRANGE m 0 -1
        LREM m 2 y
        LRANGE m 0 -1
        LREM m 0 x
        LREM m 0 y
        EXISTS m
        RPUSH t 0 1 2 3 4 5 6 7 8 9
        LTRIM t 1 -2
        LRANGE t 0 -1
        LTRIM t -3 100
        LRANGE t 0 -1
        LTRIM t a 1
        LTRIM nx 0 1
        LTRIM t 2 1
        EXISTS t
        RPUSH t 0 1 2 3
        LTRIM t 10 20
        EXISTS t
        RPUSH t 0 1 2 3
        LTRIM t -100 -3
        LRANGE t 0 -1
        LTRIM t 0 -9223372036854775808
        EXISTS t
        ",
    );
}

#[test]
fn lpos_options_and_errors() {
    both_fills(
        "
        RPUSH l a b c 1 2 3 c c a 1
        LPOS l c
        LPOS l 1
        LPOS l nope
        LPOS l c RANK 2
        LPOS l c RANK -1
        LPOS l c RANK -2
        LPOS l c RANK 10
        LPOS l c COUNT 0
        LPOS l c COUNT 2
        LPOS l c COUNT 1 RANK 2
        LPOS l c COUNT 0 RANK -1
        LPOS l c COUNT 0 MAXLEN 4
        LPOS l c MAXLEN 3
        LPOS l c MAXLEN 2
        LPOS l c RANK -1 MAXLEN 2
        LPOS l c RANK -1 MAXLEN 3
        LPOS l c COUNT 0 RANK -9223372036854775808
        LPOS l c RANK -9223372036854775808
        LPOS l c COUNT 2 RANK -9223372036854775808
        LPOS l c RANK 9223372036854775807
        LPOS l c RANK 0
        LPOS l c RANK x
        LPOS l c COUNT -1
        LPOS l c COUNT x
        LPOS l c MAXLEN -1
        LPOS l c MAXLEN x
        LPOS l c FOO 1
        LPOS l c RANK
        LPOS l c COUNT
        LPOS nx c
        LPOS nx c COUNT 1
        LPOS nx c RANK 0
        LPOS l c rank 1 count 3 maxlen 0
        ",
    );
}

#[test]
fn lmove_and_rpoplpush() {
    both_fills(
        "
        RPUSH s a b c d
        LMOVE s d LEFT RIGHT
        LMOVE s d RIGHT LEFT
        LMOVE s d left left
        LMOVE s d right right
        LRANGE d 0 -1
        EXISTS s
        LMOVE s d LEFT RIGHT
        LMOVE s d UP RIGHT
        LMOVE s d LEFT DOWN
        RPOPLPUSH d s
        RPOPLPUSH d s
        LRANGE s 0 -1
        LRANGE d 0 -1
        RPOPLPUSH nx s
        RPUSH r 1 2 3
        LMOVE r r LEFT RIGHT
        LRANGE r 0 -1
        LMOVE r r RIGHT LEFT
        LRANGE r 0 -1
        RPOPLPUSH r r
        LRANGE r 0 -1
        RPUSH one x
        EXPIRE one 1000
        LMOVE one one LEFT LEFT
        TTL one
        LRANGE one 0 -1
        ",
    );
}

#[test]
fn lmpop_forms_and_errors() {
    both_fills(
        "
        RPUSH a 1 2 3
        RPUSH b x y z w
        LMPOP 2 nx a LEFT
        LMPOP 2 nx a RIGHT COUNT 2
        LMPOP 2 a b LEFT COUNT 10
        EXISTS a
        LMPOP 1 b right count 1
        LMPOP 1 nx LEFT
        LMPOP 1 nx LEFT COUNT 3
        LMPOP 0 a LEFT
        LMPOP -1 a LEFT
        LMPOP x a LEFT
        LMPOP 3 a b LEFT
        LMPOP 9223372036854775807 a LEFT
        LMPOP 9223372036854775807 a b c LEFT
        BLMPOP 0 9223372036854775807 a LEFT
        BLMPOP 0 3 a b LEFT
        LMPOP 1 a MIDDLE
        LMPOP 1 b LEFT COUNT 0
        LMPOP 1 b LEFT COUNT -1
        LMPOP 1 b LEFT COUNT x
        LMPOP 1 b LEFT COUNT 1 COUNT 1
        LMPOP 1 b LEFT COUNT
        LMPOP 1 b LEFT FOO
        LMPOP 2 b
        LRANGE b 0 -1
        ",
    );
}

#[test]
fn blocking_commands_with_data_and_errors() {
    both_fills(
        "
        RPUSH a 1 2 3
        RPUSH b x y z
        BLPOP nx a b 0
        BRPOP nx b a 1
        BLPOP a 0.5
        BLMOVE b d LEFT RIGHT 0
        BRPOPLPUSH b d 0
        EXISTS b
        LRANGE d 0 -1
        RPUSH c p q r s
        BLMPOP 0 2 nx c LEFT COUNT 2
        BLMPOP 0.1 1 c RIGHT
        BLMPOP 0 1 c RIGHT COUNT 5
        EXISTS c
        BLPOP a -1
        BLPOP a abc
        BLMOVE a d LEFT RIGHT -1
        BLMOVE a d LEFT MIDDLE x
        BLMOVE a d MIDDLE LEFT -1
        BRPOPLPUSH a d x
        BLMPOP x 1 a LEFT
        BLMPOP 0 0 a LEFT
        BLMPOP -1 1 a MIDDLE
        BLMPOP -1 1 a LEFT
        BLMPOP 0 1 a LEFT COUNT 0
        ",
    );
}

#[test]
fn resp3_nil_shapes() {
    let mut d = Diff::new();
    d.ours.run("HELLO 3");
    d.theirs.run("HELLO 3");
    d.script(
        "
        LPOP nx
        LPOP nx 2
        RPOP nx 0
        LINDEX nx 0
        LPOS nx a
        LPOS nx a COUNT 0
        LMPOP 1 nx LEFT
        RPOPLPUSH nx d
        LMOVE nx d LEFT LEFT
        RPUSH l a b c d e f g
        LPOP l 5
        LPOS l z
        LINDEX l 9
        BLMPOP 0 1 nx l RIGHT COUNT 1
        BLPOP l 0
        ",
    );
}

/// Blocking commands inside MULTI behave like their non-blocking forms and reply
/// nil in the shape Redis uses (null array, null bulk for the move forms).
#[test]
fn blocking_commands_in_multi() {
    let mut d = Diff::new();
    for proto in ["2", "3"] {
        d.ours.run(&format!("HELLO {proto}"));
        d.theirs.run(&format!("HELLO {proto}"));
        d.script(
            "
            MULTI
            BLPOP nx 0
            BRPOP nx nx2 1
            BLMOVE nx d LEFT RIGHT 0
            BRPOPLPUSH nx d 0
            BLMPOP 0 2 nx nx2 LEFT
            RPUSH q 1
            BLPOP q 0
            BLPOP q 0
            EXEC
            ",
        );
    }
}

#[test]
fn arity_errors() {
    let mut d = Diff::new();
    d.script(
        "
        LPUSH l
        RPUSH
        LPOP
        LRANGE l 0
        LINDEX l
        LSET l 0
        LINSERT l BEFORE a
        LREM l 0
        LTRIM l 0
        LPOS l
        LMOVE a b LEFT
        RPOPLPUSH a
        LMPOP 1 a
        BLPOP a
        BRPOP
        BLMOVE a b LEFT RIGHT
        BRPOPLPUSH a b
        BLMPOP 0 1 a
        ",
    );
}

#[test]
fn large_lists_and_big_elements() {
    let mut d = Diff::new();
    d.line("CONFIG SET list-max-listpack-size -1");
    let big = "v".repeat(5000);
    for i in 0..300 {
        let v = if i % 50 == 0 {
            big.clone()
        } else {
            format!("item-{i}")
        };
        d.check(&["RPUSH", "l", &v]);
        d.check(&["LPUSH", "l", &i.to_string()]);
    }
    d.script(
        "
        LLEN l
        OBJECT ENCODING l
        LRANGE l 250 350
        LINDEX l 300
        LINDEX l -300
        LINSERT l AFTER item-101 inserted
        LSET l 400 replaced
        LREM l 0 inserted
        LPOS l item-150
        LPOS l 7 RANK -1
        LTRIM l 100 -100
        LLEN l
        LRANGE l 0 -1
        ",
    );
    for _ in 0..50 {
        d.line("LMOVE l l LEFT RIGHT");
        d.line("RPOP l 3");
    }
    d.line("LRANGE l 0 -1");
    d.line("CONFIG SET list-max-listpack-size 2");
    d.line("RPUSH new a b c d e");
    d.line("OBJECT ENCODING new");
    d.line("LINSERT new BEFORE c x");
    d.line("LRANGE new 0 -1");
}

/// Integer-looking elements are stored packed; comparisons and replies must still
/// treat them as their exact text.
#[test]
fn integer_text_is_preserved_and_compared_exactly() {
    both_fills(
        "
        RPUSH l 1 01 -0 0 -1 +1 1.0 1e3 9223372036854775807 9223372036854775808 -9223372036854775808 -9223372036854775809 8182 8183 -8183 1099511627776
        LRANGE l 0 -1
        LPOS l 1
        LPOS l 01
        LPOS l 0
        LPOS l -0
        LPOS l 9223372036854775808
        LREM l 0 1
        LREM l 0 -0
        LINSERT l BEFORE 0 00
        LINSERT l AFTER 8183 x
        LRANGE l 0 -1
        LSET l 0 123456789012
        LSET l 1 -42
        LINDEX l 0
        LINDEX l 1
        LPOP l 3
        RPOP l 3
        LRANGE l 0 -1
        ",
    );
}
