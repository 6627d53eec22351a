use proptest::prelude::*;

use super::*;
use crate::types::hash::{HashLimits, HashValue};
use crate::types::string::StrValue;
use crate::types::zset::{Limits, ZSetValue};

const HASH_LIM: HashLimits = HashLimits {
    entries: 128,
    value: 64,
};
const ZSET_LIM: Limits = Limits {
    entries: 128,
    value: 64,
};

/// What a reader can see of a value: its type, encoding and contents.
fn describe(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("str {} {:?}", s.encoding(), s.to_vec()),
        Value::Hash(h) => {
            let mut pairs: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            pairs.sort();
            format!("hash {} {pairs:?}", h.encoding())
        }
        Value::ZSet(z) => {
            let mut items = Vec::new();
            z.for_each(|m, s| items.push((m.to_vec(), s)));
            format!("zset {} {items:?}", z.encoding())
        }
        other => format!("{} {}", other.value_type().name(), other.encoding()),
    }
}

fn string(bytes: &[u8]) -> Value {
    Value::Str(StrValue::from_bytes(bytes))
}

fn hash(n: usize, len: usize) -> Value {
    let mut h = HashValue::default();
    for i in 0..n {
        h.insert(format!("field{i}").as_bytes(), &vec![b'v'; len], HASH_LIM);
    }
    Value::Hash(h)
}

fn zset(n: usize) -> Value {
    let mut z = ZSetValue::new();
    for i in 0..n {
        z.add(format!("member:{i}").as_bytes(), i as f64 * 1.5, ZSET_LIM);
    }
    Value::ZSet(z)
}

fn samples() -> Vec<Value> {
    vec![
        string(b""),
        string(b"12345"),
        string(b"v"),
        string(&[b'x'; 22]),
        string(&[b'y'; 23]),
        string(&[b'z'; 100]),
        string(&[b'w'; 3000]),
        Value::Str(StrValue::Raw(Box::new(b"raw".to_vec()))),
        hash(0, 1),
        hash(5, 9),
        hash(100, 60),
        zset(0),
        zset(5),
        zset(100),
        Value::List(Box::default()),
    ]
}

#[test]
fn layout_sizes() {
    assert_eq!(HEAD, 16);
    assert_eq!(std::mem::size_of::<Node>(), 8);
    assert_eq!(std::mem::size_of::<Option<Node>>(), 8);
    assert_eq!(std::mem::size_of::<Value>(), 24);
    // The datasets: a 100-byte string under a 10-byte key is one
    // 128-byte block; so is a 5-field hash of `field1 val:<i>` pairs.
    let n = Node::new(b"key:123456", 0, string(&[b'a'; 100]));
    assert!(!n.is_full());
    assert_eq!(size_class(n.alloc_size()), 128);
    let mut h = HashValue::default();
    for i in 1..=5 {
        h.insert(format!("field{i}").as_bytes(), b"val:99999", HASH_LIM);
    }
    let n = Node::new(b"hash:99999", 0, Value::Hash(h));
    assert!(!n.is_full());
    assert_eq!(size_class(n.alloc_size()), 128);
    // Integers and grown strings stay FULL: 64 bytes for keys up to 24 bytes.
    let n = Node::new(&[b'k'; 24], 0, string(b"42"));
    assert!(n.is_full());
    assert_eq!(n.alloc_size(), 64);
}

#[test]
fn size_classes_are_jemallocs() {
    let want = [
        (1, 8),
        (9, 16),
        (100, 112),
        (128, 128),
        (129, 160),
        (161, 192),
        (300, 320),
        (526, 640),
        (1025, 1280),
        (4097, 5120),
    ];
    for (n, class) in want {
        assert_eq!(size_class(n), class, "{n}");
    }
}

#[test]
fn every_form_reads_back_and_survives_every_change() {
    for key_len in [0usize, 1, 10, 24, 25, 254, 255, 300] {
        let key: Vec<u8> = (0..key_len).map(|i| (i % 251) as u8).collect();
        for v in samples() {
            let want = describe(&v);
            let mut n = Node::new(&key, 0xABCDEF, v);
            assert_eq!(n.key(), &key[..]);
            assert_eq!(n.lru(), 0xABCDEF);
            assert_eq!(describe(&n.value()), want);
            // TTL on, changed, off: the block grows and shrinks around the body.
            n.set_expire_at(99);
            assert_eq!((n.expire(), n.key()), (Some(99), &key[..]));
            assert_eq!(describe(&n.value()), want);
            n.set_expire_at(100);
            assert_eq!(n.expire_at(), 100);
            let copy = n.duplicate();
            assert_eq!((copy.key(), copy.expire_at()), (&key[..], 100));
            assert_eq!(describe(&copy.value()), want);
            n.set_lru(7);
            // A write makes it FULL; compacting makes it inline again when it can be.
            let was_full = n.is_full();
            let _ = n.value_mut();
            assert!(n.is_full());
            assert_eq!(describe(&n.value()), want);
            n.compact();
            assert_eq!(n.is_full(), was_full, "{want}");
            assert_eq!((n.key(), n.lru(), n.expire_at()), (&key[..], 7, 100));
            let m = n.rekey(b"other");
            assert_eq!((m.key(), m.lru(), m.expire_at()), (&b"other"[..], 7, 100));
            assert_eq!(describe(&m.value()), want);
            let mut m = m;
            m.set_expire_at(0);
            assert_eq!(m.expire(), None);
            assert_eq!(describe(&m.value()), want);
            assert_eq!(describe(&m.take_value()), want);
        }
    }
}

#[test]
fn a_clone_of_a_view_owns_its_bytes() {
    let n = Node::new(b"k", 0, string(&[b'q'; 50]));
    let owned = n.value().clone();
    drop(n);
    assert_eq!(describe(&owned), describe(&string(&[b'q'; 50])));
    let n = Node::new(b"k", 0, hash(3, 4));
    let owned = n.value().clone();
    drop(n);
    assert_eq!(describe(&owned), describe(&hash(3, 4)));
}

#[test]
fn replacing_a_value_keeps_the_entry_and_chain() {
    let mut a = Node::new(b"a", 1, string(b"first"));
    *a.next_mut() = Some(Node::new(b"b", 2, string(&[b'b'; 40])));
    a.set_expire_at(5);
    for v in samples() {
        let want = describe(&v);
        a.replace_value(v);
        assert_eq!((a.key(), a.lru(), a.expire_at()), (&b"a"[..], 1, 5));
        assert_eq!(describe(&a.value()), want);
        assert_eq!(a.next.as_ref().map(|n| n.key()), Some(&b"b"[..]));
    }
}

#[test]
fn writing_through_value_mut_changes_what_readers_see() {
    let mut n = Node::new(b"h", 0, hash(2, 3));
    assert!(!n.is_full());
    if let Value::Hash(h) = n.value_mut() {
        h.insert(b"new", b"x", HASH_LIM);
    }
    n.compact();
    assert!(!n.is_full());
    let mut want = hash(2, 3);
    if let Value::Hash(h) = &mut want {
        h.insert(b"new", b"x", HASH_LIM);
    }
    assert_eq!(describe(&n.value()), describe(&want));
}

#[derive(Debug, Clone)]
enum Op {
    Ttl(i64),
    Write(u8),
    Replace(u8),
    Rekey(Vec<u8>),
    Duplicate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        prop_oneof![Just(0i64), 1..1000i64].prop_map(Op::Ttl),
        any::<u8>().prop_map(Op::Write),
        any::<u8>().prop_map(Op::Replace),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Rekey),
        Just(Op::Duplicate),
    ]
}

fn sample(i: u8) -> Value {
    let s = samples();
    let n = s.len();
    s.into_iter().nth(i as usize % n).expect("in range")
}

proptest! {
    /// Any sequence of changes leaves the entry equal to a plain model of it.
    #[test]
    fn entries_follow_a_model(key in proptest::collection::vec(any::<u8>(), 0..300), ops in proptest::collection::vec(op(), 1..40)) {
        let mut n = Node::new(&key, 3, sample(0));
        let (mut m_key, mut m_ttl, mut m_val) = (key.clone(), 0i64, describe(&sample(0)));
        for o in ops {
            match o {
                Op::Ttl(t) => { n.set_expire_at(t); m_ttl = t; }
                Op::Write(i) => {
                    // A write that replaces the value through `&mut`, then compaction.
                    *n.value_mut() = sample(i);
                    n.compact();
                    m_val = describe(&sample(i));
                }
                Op::Replace(i) => { n.replace_value(sample(i)); m_val = describe(&sample(i)); }
                Op::Rekey(k) => { n = n.rekey(&k); m_key = k; }
                Op::Duplicate => { n = n.duplicate(); }
            }
            prop_assert_eq!(n.key(), &m_key[..]);
            prop_assert_eq!(n.expire_at(), m_ttl);
            prop_assert_eq!(n.lru(), 3);
            prop_assert_eq!(describe(&n.value()), m_val.clone());
        }
    }
}
