//! Differential tests: SORT and SORT_RO against a real redis-server 7.0.

use ferrokv_tests::Diff;

#[test]
fn sort_lists_sets_and_zsets() {
    let mut d = Diff::new();
    d.script(
        "
        RPUSH l 3 1 2 10 -5 2.5 1e2
        SORT l
        SORT l DESC
        SORT l LIMIT 1 3
        SORT l LIMIT 1 -1
        SORT l LIMIT -5 2
        SORT l LIMIT 10 5
        SORT l LIMIT 0 0
        SORT l LIMIT 6 100
        SORT l DESC LIMIT 2 2
        SORT l ALPHA
        SORT l ALPHA DESC
        SORT_RO l
        SORT_RO l DESC LIMIT 0 2
        SORT_RO l STORE dst
        RPUSH words banana apple cherry Apple 10 9
        SORT words
        SORT words ALPHA
        SORT words ALPHA DESC LIMIT 0 3
        SADD s 5 3 9 1
        SORT s
        SORT s DESC
        SADD sw b a c
        SORT sw ALPHA
        SORT sw
        ZADD z 1 c 2 b 3 a
        OBJECT ENCODING z
        SORT z ALPHA
        OBJECT ENCODING z
        SORT z BY nosort
        SORT z BY nosort DESC
        SORT z BY nosort LIMIT 1 1
        SORT z BY nosort DESC LIMIT 0 2
        SORT l BY nosort
        SORT l BY nosort DESC
        SORT l BY nosort LIMIT 2 3
        SORT l BY nosort DESC LIMIT 2 3
        SORT missing
        SORT missing STORE dst
        EXISTS dst
        SET str x
        SORT str
        HSET h a 1
        SORT h
        SORT l LIMIT 1
        SORT l LIMIT a b
        SORT l FOO
        SORT l STORE
        SORT l BY
        SORT l GET
        SORT_RO l STORE dst
        ",
    );
}

#[test]
fn sort_by_and_get_patterns() {
    let mut d = Diff::new();
    d.script(
        "
        RPUSH ids 1 2 3 4
        SET weight_1 40
        SET weight_2 10
        SET weight_3 30
        SET weight_4 20
        SET name_1 one
        SET name_2 two
        SET name_4 four
        HSET user_1 age 31 name alice
        HSET user_2 age 22 name bob
        HSET user_3 age 45
        HSET user_4 age 28 name dan
        SORT ids BY weight_*
        SORT ids BY weight_* DESC
        SORT ids BY weight_* GET #
        SORT ids BY weight_* GET name_*
        SORT ids BY weight_* GET # GET name_* GET weight_*
        SORT ids BY user_*->age
        SORT ids BY user_*->age GET user_*->name
        SORT ids BY user_*->age GET user_*->name GET user_*->missing GET #
        SORT ids BY user_*->name ALPHA GET user_*->name
        SORT ids BY nosort GET name_*
        SORT ids GET nostar
        SORT ids GET user_*->
        SORT ids BY weight_* LIMIT 1 2 GET name_*
        SORT ids BY missing_*
        SORT ids BY name_* ALPHA
        SORT ids BY name_*
        SORT ids BY weight_* STORE out
        LRANGE out 0 -1
        SORT ids BY weight_* GET name_* STORE out
        LRANGE out 0 -1
        OBJECT ENCODING out
        TYPE out
        SORT ids BY weight_* GET name_* LIMIT 5 5 STORE out
        EXISTS out
        SET wstr abc
        SORT ids BY wstr
        SADD ss c a b
        SORT ss BY nosort STORE sorted
        LRANGE sorted 0 -1
        SORT ss BY nosort ALPHA DESC STORE sorted
        LRANGE sorted 0 -1
        ",
    );
}

/// Random lists and sets sorted with random options.
#[test]
fn random_sorts_match_redis() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let d = std::cell::RefCell::new(Diff::new());
    let mut runner = TestRunner::new(Config {
        cases: 80,
        ..Config::default()
    });
    let elem = prop_oneof![
        (-50i64..50).prop_map(|i| i.to_string()),
        (-5.0f64..5.0).prop_map(|f| format!("{f:.3}")),
        prop::sample::select(vec!["1e3", "-inf", "inf", "007", " 5", ""]).prop_map(String::from),
        "[a-c]{1,3}",
    ];
    let opts = prop::sample::select(vec![
        "",
        "DESC",
        "ALPHA",
        "ALPHA DESC",
        "LIMIT 1 3",
        "DESC LIMIT 0 2",
        "ALPHA LIMIT 2 -1",
        "BY nosort",
        "BY nosort DESC LIMIT 1 2",
        "BY w_* ",
        "BY w_* DESC GET # GET w_*",
        "BY w_* ALPHA GET w_*",
        "GET w_* ALPHA",
    ]);
    let counter = std::cell::Cell::new(0u32);
    runner
        .run(
            &(prop::collection::vec(elem, 0..12), opts, any::<bool>()),
            |(elems, opts, as_set)| {
                let n = counter.get();
                counter.set(n + 1);
                let mut d = d.borrow_mut();
                let key = format!("k{n}");
                let mut cmd = vec![
                    if as_set { "SADD" } else { "RPUSH" }.to_string(),
                    key.clone(),
                ];
                cmd.extend(elems.iter().cloned());
                if elems.is_empty() {
                    return Ok(());
                }
                d.check(&cmd);
                for (i, e) in elems.iter().enumerate() {
                    d.check(&[
                        "SET".to_string(),
                        format!("w_{e}"),
                        format!("{}", (i * 7) % 5),
                    ]);
                }
                // A set in BY nosort order is unordered: only STORE sorts it.
                if as_set && opts.contains("nosort") {
                    let mut c: Vec<String> = vec!["SORT".into(), key.clone()];
                    c.extend(opts.split_whitespace().map(String::from));
                    c.extend(["STORE".to_string(), "dst".to_string()]);
                    d.check(&c);
                    d.check(&["LRANGE", "dst", "0", "-1"]);
                    return Ok(());
                }
                let mut c: Vec<String> = vec!["SORT".into(), key];
                c.extend(opts.split_whitespace().map(String::from));
                d.check(&c);
                Ok(())
            },
        )
        .unwrap();
}
