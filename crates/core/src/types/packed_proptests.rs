//! Property tests of the packed encodings (hash, zset, set) against plain models:
//! the same operations give the same results, contents and order.

use proptest::prelude::*;

use crate::types::hash::packed::Packed as HashPacked;
use crate::types::set::packed::Packed as SetPacked;
use crate::types::zset::{AddOutcome, Limits, ZSetValue};

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(b'a'..=b'd', 0..3),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (bytes(), bytes()).prop_map(|(f, v)| Op::Insert(f, v)),
            1 => bytes().prop_map(Op::Remove),
        ],
        0..60,
    )
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (-100i64..100).prop_map(|i| i as f64),
        1 => any::<i64>().prop_map(|i| i as f64),
        1 => prop::sample::select(vec![
            0.5, -0.0, 1e300, -1e-300, f64::INFINITY, f64::NEG_INFINITY,
            9_007_199_254_740_992.0, -9_007_199_254_740_991.0, 4.5e15,
        ]),
        1 => any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
    ]
}

proptest! {
    #[test]
    fn hash_packed_matches_model(ops in ops()) {
        let mut p = HashPacked::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(f, v) => {
                    let pos = model.iter().position(|(k, _)| *k == f);
                    let new = p.insert(&f, &v);
                    prop_assert_eq!(new, pos.is_none());
                    match pos {
                        Some(i) => model[i].1 = v,
                        None => model.push((f, v)),
                    }
                }
                Op::Remove(f) => {
                    let pos = model.iter().position(|(k, _)| *k == f);
                    prop_assert_eq!(p.remove(&f), pos.is_some());
                    if let Some(i) = pos {
                        model.remove(i);
                    }
                }
            }
            prop_assert_eq!(p.len(), model.len());
            // Insertion order, as a listpack hash's HGETALL.
            let got: Vec<(Vec<u8>, Vec<u8>)> =
                p.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(&got, &model);
            for (f, v) in &model {
                prop_assert_eq!(p.get(f), Some(&v[..]));
            }
            let expected = if model.is_empty() { 0 } else { 8 + p.bytes() };
            prop_assert_eq!(p.heap_size(), expected);
        }
    }

    #[test]
    fn set_packed_matches_model(ops in ops()) {
        let mut p = SetPacked::default();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(m, _) => {
                    let new = !model.contains(&m);
                    prop_assert_eq!(p.insert(&m), new);
                    if new {
                        model.push(m);
                    }
                }
                Op::Remove(m) => {
                    let pos = model.iter().position(|k| *k == m);
                    prop_assert_eq!(p.remove(&m), pos.is_some());
                    if let Some(i) = pos {
                        model.remove(i);
                    }
                }
            }
            let got: Vec<Vec<u8>> = p.iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(&got, &model);
            for m in &model {
                prop_assert!(p.contains(m));
            }
        }
        while !model.is_empty() {
            let i = model.len() / 2;
            prop_assert_eq!(p.remove_at(i), Some(model.remove(i)));
        }
        prop_assert!(p.is_empty());
    }

    #[test]
    fn zset_packed_matches_model(
        ops in proptest::collection::vec((bytes(), score(), any::<bool>()), 0..60)
    ) {
        let mut z = ZSetValue::new();
        let lim = Limits { entries: 1000, value: 1000 };
        let mut model: Vec<(Vec<u8>, f64)> = Vec::new();
        for (m, s, remove) in ops {
            let pos = model.iter().position(|(k, _)| *k == m);
            if remove {
                prop_assert_eq!(z.remove(&m), pos.map(|i| model[i].1));
                if let Some(i) = pos {
                    model.remove(i);
                }
            } else {
                // The packed form stores -0 as 0, as a listpack does.
                let s = if s == 0.0 { 0.0 } else { s };
                let expect = match pos {
                    None => AddOutcome::Added,
                    Some(i) if model[i].1 == s => AddOutcome::Unchanged,
                    Some(i) => AddOutcome::Updated(model[i].1),
                };
                prop_assert_eq!(z.add(&m, s, lim), expect);
                match pos {
                    Some(i) => model[i].1 = s,
                    None => model.push((m, s)),
                }
            }
            prop_assert_eq!(z.encoding(), "listpack");
            let mut sorted = model.clone();
            sorted.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
            let mut got = Vec::new();
            z.for_each(|m, s| got.push((m.to_vec(), s)));
            prop_assert_eq!(got.len(), sorted.len());
            for (g, e) in got.iter().zip(&sorted) {
                prop_assert_eq!(&g.0, &e.0);
                prop_assert_eq!(g.1.to_bits(), e.1.to_bits());
            }
            for (rank, (m, s)) in sorted.iter().enumerate() {
                prop_assert_eq!(z.score(m).map(f64::to_bits), Some(s.to_bits()));
                prop_assert_eq!(z.rank(m).map(|(r, _)| r), Some(rank));
            }
        }
    }
}
