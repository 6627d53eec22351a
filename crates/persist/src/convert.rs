//! Conversion between core's values and the neutral RDB model, and the RDB
//! settings taken from the configuration.
//!
//! Each type provides a constructor from plain elements that picks the encoding from
//! the configured thresholds (as Redis does when loading) and an iterator over its
//! elements.

use ferrokv_core::config::{Config, P};
use ferrokv_core::keyspace::access::{lfu_decayed, lfu_minutes};
use ferrokv_core::keyspace::Node;
use ferrokv_core::types::hash::HashValue;
use ferrokv_core::types::list::ListValue;
use ferrokv_core::types::set::SetValue;
use ferrokv_core::types::string::StrValue;
use ferrokv_core::types::zset::ZSetValue;
use ferrokv_core::types::Value;

use crate::rdb::{KeyMeta, RdbValue, WriteOptions};

/// A value that cannot be converted yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The type's persistence hooks are not merged yet.
    #[error("type '{0}' is not yet supported by persistence")]
    NotYetSupported(&'static str),
}

/// Core value to RDB value.
pub fn to_rdb(v: &Value) -> Result<RdbValue, ConvertError> {
    match v {
        Value::Str(s) => Ok(RdbValue::String(s.to_vec())),
        Value::List(l) => {
            let mut items = Vec::with_capacity(l.len());
            l.for_each(|e| items.push(e.to_vec()));
            Ok(RdbValue::List(items))
        }
        Value::Hash(h) => {
            let mut pairs = Vec::with_capacity(h.len());
            h.for_each(|f, v| pairs.push((f.to_vec(), v.to_vec())));
            // Saved in its current encoding, as Redis does.
            Ok(match h {
                HashValue::Packed(_) => RdbValue::HashListpack(pairs),
                HashValue::Table(_) => RdbValue::Hash(pairs),
            })
        }
        Value::Set(s) => {
            let mut members = Vec::with_capacity(s.len());
            s.for_each(|m| members.push(m.to_vec()));
            Ok(RdbValue::Set(members))
        }
        Value::ZSet(z) => {
            let mut pairs = Vec::with_capacity(z.len());
            z.for_each(|m, score| pairs.push((m.to_vec(), score)));
            Ok(if z.encoding() == "listpack" {
                RdbValue::ZSetListpack(pairs)
            } else {
                RdbValue::ZSet(pairs)
            })
        }
        Value::Stream(st) => Ok(RdbValue::Stream(st.clone())),
    }
}

/// RDB value to core value, in the encoding the configuration picks (as Redis
/// does when loading).
pub fn from_rdb(v: RdbValue, config: &Config) -> Result<Value, ConvertError> {
    match v {
        // rdbLoadObject runs tryObjectEncoding on strings.
        RdbValue::String(s) => Ok(Value::Str(StrValue::from_bytes(&s))),
        RdbValue::List(items) => Ok(Value::List(Box::new(ListValue::from_items(items, config)))),
        RdbValue::Hash(pairs) => Ok(Value::Hash(HashValue::from_pairs(pairs, config))),
        RdbValue::Set(members) => Ok(Value::Set(Box::new(SetValue::from_members(
            members, config,
        )))),
        RdbValue::ZSet(pairs) => Ok(Value::ZSet(ZSetValue::from_pairs(pairs, config))),
        RdbValue::HashListpack(pairs) => {
            Ok(Value::Hash(HashValue::from_listpack_pairs(pairs, config)))
        }
        RdbValue::ZSetListpack(pairs) => {
            Ok(Value::ZSet(ZSetValue::from_listpack_pairs(pairs, config)))
        }
        RdbValue::Stream(st) => Ok(Value::Stream(st)),
    }
}

fn usize_of(config: &Config, p: P) -> usize {
    usize::try_from(config.int(p)).unwrap_or(0)
}

/// The writer's settings from the live configuration.
pub fn write_options(config: &Config) -> WriteOptions {
    WriteOptions {
        compression: config.bool(P::Rdbcompression),
        checksum: config.bool(P::Rdbchecksum),
        hash_max_listpack_entries: usize_of(config, P::HashMaxListpackEntries),
        hash_max_listpack_value: usize_of(config, P::HashMaxListpackValue),
        zset_max_listpack_entries: usize_of(config, P::ZsetMaxListpackEntries),
        zset_max_listpack_value: usize_of(config, P::ZsetMaxListpackValue),
        set_max_intset_entries: usize_of(config, P::SetMaxIntsetEntries),
        list_max_listpack_size: config.int(P::ListMaxListpackSize),
        ..WriteOptions::default()
    }
}

/// Which access data RDB files carry, from maxmemory-policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessPolicy {
    /// LRU policies: IDLE opcodes.
    Lru,
    /// LFU policies: FREQ opcodes, with lfu-decay-time.
    Lfu {
        /// lfu-decay-time in minutes.
        decay: u32,
    },
    /// Neither.
    None,
}

impl AccessPolicy {
    /// The policy in force.
    pub fn of(config: &Config) -> AccessPolicy {
        // Indexes in core's maxmemory-policy enum: volatile-lru, volatile-lfu,
        // volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, ...
        match config.int(P::MaxmemoryPolicy) {
            0 | 4 => AccessPolicy::Lru,
            1 | 5 => AccessPolicy::Lfu {
                decay: u32::try_from(config.int(P::LfuDecayTime)).unwrap_or(u32::MAX),
            },
            _ => AccessPolicy::None,
        }
    }
}

/// Redis's 24-bit LRU clock (seconds).
const LRU_CLOCK_MAX: u32 = 0xFF_FFFF;

fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u64 & u64::from(LRU_CLOCK_MAX)) as u32
}

/// The access field of a new key under `policy` (what createObject sets).
pub fn initial_access_field(policy: AccessPolicy, now_ms: i64) -> u32 {
    match policy {
        AccessPolicy::Lfu { .. } => {
            (lfu_minutes(now_ms) << 8) | ferrokv_core::keyspace::access::LFU_INIT
        }
        AccessPolicy::Lru | AccessPolicy::None => lru_clock(now_ms),
    }
}

/// Expire and access data of an entry as rdbSaveKeyValuePair writes them.
pub fn key_meta(node: &Node, policy: AccessPolicy, now_ms: i64) -> KeyMeta {
    let mut meta = KeyMeta {
        expire_ms: node.expire(),
        ..KeyMeta::default()
    };
    match policy {
        AccessPolicy::Lru => {
            let (now, then) = (lru_clock(now_ms), node.lru() & LRU_CLOCK_MAX);
            let idle = if now >= then {
                now - then
            } else {
                now + (LRU_CLOCK_MAX - then)
            };
            meta.idle_secs = Some(u64::from(idle));
        }
        AccessPolicy::Lfu { decay } => {
            let counter = lfu_decayed(node.lru(), lfu_minutes(now_ms), decay);
            meta.freq = Some(counter.min(255) as u8);
        }
        AccessPolicy::None => {}
    }
    meta
}

/// The access field for a key loaded with `idle_secs` / `freq` (objectSetLRUOrLFU):
/// `None` keeps the field of a new key. Only the kind matching the policy applies.
pub fn access_field(
    policy: AccessPolicy,
    idle_secs: Option<u64>,
    freq: Option<u8>,
    now_ms: i64,
) -> Option<u32> {
    match (policy, idle_secs, freq) {
        (AccessPolicy::Lfu { .. }, _, Some(f)) => Some((lfu_minutes(now_ms) << 8) | u32::from(f)),
        (AccessPolicy::Lru, Some(idle), _) => {
            let now = lru_clock(now_ms);
            let idle = (idle.min(u64::from(LRU_CLOCK_MAX))) as u32;
            Some(if idle <= now {
                now - idle
            } else {
                LRU_CLOCK_MAX - (idle - now)
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_convert_both_ways() {
        let cfg = Config::default();
        for s in [&b""[..], b"123", b"-5", b"hello", &[b'x'; 100]] {
            let v = from_rdb(RdbValue::String(s.to_vec()), &cfg).expect("string");
            assert_eq!(to_rdb(&v), Ok(RdbValue::String(s.to_vec())));
        }
    }

    #[test]
    fn collections_convert_both_ways() {
        let cfg = Config::default();
        let b = |x: &str| x.as_bytes().to_vec();
        for v in [
            RdbValue::List(vec![b("a"), b("1"), b("")]),
            RdbValue::Hash(vec![(b("f"), b("v"))]),
            RdbValue::Set(vec![b("1"), b("2"), b("3")]),
            RdbValue::ZSet(vec![(b("a"), 1.0), (b("b"), 2.5)]),
        ] {
            let core = from_rdb(v.clone(), &cfg).expect("converts");
            assert_eq!(to_rdb(&core), Ok(v));
        }
    }

    #[test]
    fn lru_idle_round_trips_through_the_clock() {
        let now = 1_700_000_000_000;
        let field = access_field(AccessPolicy::Lru, Some(500), None, now).expect("lru");
        let node = Node::new(b"k", field, Value::empty());
        assert_eq!(key_meta(&node, AccessPolicy::Lru, now).idle_secs, Some(500));
        let lfu = AccessPolicy::Lfu { decay: 1 };
        let field = access_field(lfu, None, Some(42), now).expect("lfu");
        let node = Node::new(b"k", field, Value::empty());
        assert_eq!(key_meta(&node, lfu, now).freq, Some(42));
    }
}
