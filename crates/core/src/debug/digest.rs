//! Redis's DEBUG DIGEST algorithm.
//!
//! Two operations on a 20-byte accumulator: *xor* (`d ^= SHA1(data)`), which is
//! commutative and so used for unordered things (keys of a db, set members, hash
//! pairs, zset pairs), and *mix* (`d = SHA1(d ^ SHA1(data))`), which is not and so
//! used where order matters (list elements, the parts of one pair).
//!
//! A value's digest mixes its type code (big-endian u32: string 0, list 1, set 2,
//! zset 3, hash 4, stream 6), then its content; a key with a TTL also xors in `!!expire!!`.
//! A key's digest starts with the key name mixed in. The dataset digest mixes each
//! non-empty db's index, then xors in every key's digest. Logically expired keys
//! still present count, as in Redis (nothing is looked up, the tables are walked).
//! The element bytes are the logical strings, whatever the encoding, and zset
//! scores are formatted with `%.17g`, so the digest does not depend on encodings.

use super::sha1::Sha1;
use crate::keyspace::Node;
use crate::types::Value;

/// A 20-byte digest accumulator.
pub type Digest = [u8; 20];

fn xor(d: &mut Digest, data: &[u8]) {
    let h = Sha1::digest(data);
    for (a, b) in d.iter_mut().zip(h.iter()) {
        *a ^= b;
    }
}

fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = Sha1::digest(&d[..]);
}

/// Redis's object type codes (OBJ_STRING ...).
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// Mixes the digest of `value` (with `has_expire` for its key) into `d`, as
/// Redis's xorObjectDigest.
pub fn value_digest(d: &mut Digest, value: &Value, has_expire: bool) {
    mix(d, &type_code(value).to_be_bytes());
    match value {
        Value::Str(s) => {
            let mut scratch = itoa::Buffer::new();
            mix(d, s.bytes(&mut scratch));
        }
        Value::List(l) => l.for_each(|e| mix(d, e)),
        Value::Set(s) => s.for_each(|m| xor(d, m)),
        Value::ZSet(z) => {
            let mut score_text = Vec::with_capacity(32);
            z.for_each(|m, score| {
                let mut ele = [0u8; 20];
                mix(&mut ele, m);
                score_text.clear();
                ferrokv_resp::format_double(score, &mut score_text);
                mix(&mut ele, &score_text);
                xor(d, &ele);
            });
        }
        Value::Hash(h) => h.for_each(|f, v| {
            let mut ele = [0u8; 20];
            mix(&mut ele, f);
            mix(&mut ele, v);
            xor(d, &ele);
        }),
        // Entries in order, each ID as `<ms>.<seq>` then its fields and values;
        // groups are not part of the digest (as in Redis).
        Value::Stream(s) => {
            use crate::types::stream::StreamId;
            s.visit(StreamId::ZERO, StreamId::MAX, false, false, |e| {
                mix(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                e.for_each(|f| mix(d, f));
                true
            });
        }
    }
    if has_expire {
        xor(d, b"!!expire!!");
    }
}

/// What one key adds to its db's part of the dataset digest: the SHA-1 of its
/// key-value digest (the key name mixed, then the value), as computeDatasetDigest
/// xors it in (`xorDigest(final, digest)`, which hashes what it is given).
pub fn key_digest(node: &Node) -> Digest {
    let mut d = [0u8; 20];
    mix(&mut d, node.key());
    value_digest(&mut d, &node.value(), node.expire_at() != 0);
    Sha1::digest(&d)
}

/// The dataset digest from each db's key digests, xored together per db (the
/// caller walks its shards): `dbs` yields `(db index, xor of its key digests,
/// whether it has any key)`, in db order.
pub fn dataset_digest(dbs: impl IntoIterator<Item = (usize, Digest, bool)>) -> Digest {
    let mut fin = [0u8; 20];
    for (db, keys, any) in dbs {
        if !any {
            continue;
        }
        mix(&mut fin, &(db as u32).to_be_bytes());
        for (a, b) in fin.iter_mut().zip(keys.iter()) {
            *a ^= b;
        }
    }
    fin
}

/// Lower-case hex, as DEBUG DIGEST replies.
pub fn hex(d: &Digest) -> String {
    let mut s = String::with_capacity(40);
    for b in d {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    s
}

/// Xors `b` into `a`.
pub fn xor_into(a: &mut Digest, b: &Digest) {
    for (x, y) in a.iter_mut().zip(b.iter()) {
        *x ^= y;
    }
}
