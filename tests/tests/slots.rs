//! Hash slots: ferrokv's `key_slot` against the CLUSTER KEYSLOT replies of a real
//! redis-server started with `--cluster-enabled yes`.

use ferrokv_core::keyspace::key_slot;
use ferrokv_resp::Frame;
use ferrokv_tests::Server;

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Keys that exercise the hash-tag rules: braces anywhere, empty tags, nested and
/// unbalanced braces, several tags, binary bytes, long keys.
fn random_key(r: &mut Rng) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"{", b"}", b"{}", b"}{", b"{{", b"}}", b"user", b"1000", b":", b".", b"key", b"", b"\x00",
        b"\xff", b"tag", b" ",
    ];
    let mut k = Vec::new();
    for _ in 0..r.below(8) {
        match r.below(3) {
            0 => k.extend_from_slice(PIECES[r.below(PIECES.len() as u64) as usize]),
            1 => k.push(r.below(256) as u8),
            _ => k.extend_from_slice(r.below(1_000_000).to_string().as_bytes()),
        }
    }
    if r.below(20) == 0 {
        // Long keys take the sliced CRC path for many blocks.
        for _ in 0..r.below(300) {
            k.push(r.below(256) as u8);
        }
    }
    k
}

#[test]
fn key_slots_match_cluster_keyslot() {
    let redis = Server::redis(&["--cluster-enabled", "yes"]);
    let mut c = redis.conn();
    let mut r = Rng(0x5107_5EED);
    let mut keys: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{}".to_vec(),
        b"{}{x}".to_vec(),
        b"{{x}}".to_vec(),
        b"{x".to_vec(),
        b"x}".to_vec(),
        b"{user1000}.following".to_vec(),
        b"foo{}{bar}".to_vec(),
        b"foo{{bar}}zap".to_vec(),
        b"foo{bar}{zap}".to_vec(),
    ];
    keys.extend((0..1000).map(|i| format!("key:{i}").into_bytes()));
    keys.extend((0..4000).map(|_| random_key(&mut r)));
    // Pipelined in chunks: one round trip per chunk.
    for chunk in keys.chunks(500) {
        for k in chunk {
            c.send(&[&b"CLUSTER"[..], b"KEYSLOT", k]);
        }
        for k in chunk {
            let want = match c.read() {
                Some(Frame::Integer(n)) => n,
                other => panic!("CLUSTER KEYSLOT {k:?}: {other:?}"),
            };
            assert_eq!(i64::from(key_slot(k)), want, "key {k:?}");
        }
    }
}
