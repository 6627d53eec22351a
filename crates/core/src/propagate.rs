//! Command propagation (what the AOF logs).
//!
//! After a command that changed something (`keys.dirty > 0`), the engine hands
//! [`ServerHooks::propagate`](crate::hooks::ServerHooks::propagate) the command in
//! replayable form, while the command still holds its shard locks (so two writes to
//! one key are logged in execution order, even from different threads). Keys a
//! command found expired are logged first as `DEL key`, and active expiry logs a
//! `DEL` for every key it removes. While the AOF is off this costs one atomic load
//! per command ([`Engine::propagating`](crate::Engine::propagating)).
//!
//! A command logs itself as received unless it sets
//! [`Keys::propagate`](crate::ctx::Keys::propagate) (usually through
//! [`Keys::propagate_as`](crate::ctx::Keys::propagate_as)). Redis 7.0's rewrites, so a
//! replay gives the same data whenever it happens:
//!
//! - SET with EX/PX/EXAT, SETEX, PSETEX: `SET key value PXAT <ms>`.
//! - EXPIRE, PEXPIRE, EXPIREAT: `PEXPIREAT key <ms> [NX|XX|GT|LT]`; a time already
//!   past: `DEL key`.
//! - GETEX EX/PX/EXAT/PXAT: `PEXPIREAT key <ms>` (past: `DEL key`); GETEX PERSIST:
//!   `PERSIST key`.
//! - GETDEL: `DEL key`. GETSET: `SET key value`.
//! - INCRBYFLOAT: `SET key <new value> KEEPTTL`.
//!
//! - SPOP: `SREM key member`; SPOP with a count: `SREM key m1 m2 ...` (1024 members a
//!   command), or `DEL key` when it empties the set.
//! - HINCRBYFLOAT: `HSET key field <new value>`.
//! - BLPOP / BRPOP: `LPOP key` / `RPOP key`; LMPOP / BLMPOP: `LPOP|RPOP key <n>`;
//!   BLMOVE: `LMOVE src dst from to`; BRPOPLPUSH: `RPOPLPUSH src dst` (whether
//!   served at once or after blocking: a replay must never block).
//!
//! - ZPOPMIN / ZPOPMAX / ZMPOP / BZPOPMIN / BZPOPMAX / BZMPOP: `ZPOPMIN|ZPOPMAX key <n>`.
//!
//! - RESTORE with a relative TTL: the same RESTORE with the absolute time and
//!   `ABSTTL` appended; an already-expired TTL that replaced a key: `DEL key`.
//!
//! - XADD: the generated ID in place of `*` / `<ms>-*`; `MAXLEN|MINID ~ n` becomes
//!   `= <length after>` / `= <first ID left>` (tombstones included). XTRIM with `~`
//!   likewise when it removed something.
//! - XREADGROUP, XCLAIM, XAUTOCLAIM: never as received; each delivery or claim as
//!   `XCLAIM key group consumer 0 id TIME <ms> RETRYCOUNT <n> FORCE JUSTID LASTID
//!   <group last ID>`, a NOACK read that moved the group as `XGROUP SETID key group id
//!   ENTRIESREAD <n>`, a consumer created by a NOACK read as `XGROUP CREATECONSUMER`.
//!
//! SRANDMEMBER / HRANDFIELD / ZRANDMEMBER are read-only: nothing to log.

#[cfg(test)]
mod tests {
    use std::any::Any;

    use ferrokv_resp::Protocol;
    use parking_lot::Mutex;

    use crate::client::Client;
    use crate::config::Config;
    use crate::engine::Engine;
    use crate::hooks::ServerHooks;
    use crate::testkit::run_with;

    /// Records what is propagated, as `db: words`.
    #[derive(Default)]
    struct Rec(Mutex<Vec<String>>);

    impl ServerHooks for Rec {
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn propagate(&self, cmds: &[(usize, &[&[u8]])]) -> u64 {
            let mut v = self.0.lock();
            for (db, argv) in cmds {
                let words: Vec<String> = argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                v.push(format!("{db}: {}", words.join(" ")));
            }
            v.len() as u64
        }
    }

    fn setup() -> (Engine, Client, Rec) {
        let e = Engine::new(Config::default(), &[]);
        e.propagating
            .store(true, std::sync::atomic::Ordering::Release);
        (e, Client::new(1, true), Rec::default())
    }

    fn run(e: &Engine, c: &mut Client, h: &Rec, line: &str) -> String {
        run_with(e, c, h, Protocol::Resp2, line)
    }

    fn take(h: &Rec) -> Vec<String> {
        std::mem::take(&mut *h.0.lock())
    }

    #[test]
    fn writes_are_propagated_reads_and_noops_are_not() {
        let (e, mut c, h) = setup();
        run(&e, &mut c, &h, "SET a 1");
        run(&e, &mut c, &h, "GET a");
        run(&e, &mut c, &h, "INCR a");
        run(&e, &mut c, &h, "SETNX a 5");
        run(&e, &mut c, &h, "DEL nothing");
        run(&e, &mut c, &h, "SELECT 3");
        run(&e, &mut c, &h, "SET b 2");
        run(&e, &mut c, &h, "FLUSHDB");
        run(&e, &mut c, &h, "FLUSHALL");
        run(&e, &mut c, &h, "SWAPDB 0 1");
        assert_eq!(
            take(&h),
            [
                "0: SET a 1",
                "0: INCR a",
                "3: SET b 2",
                "3: FLUSHDB",
                "3: FLUSHALL",
                "3: SWAPDB 0 1"
            ]
        );
        assert_eq!(c.aof_offset, 6);
    }

    #[test]
    fn streams_log_concrete_ids_and_group_claims() {
        let (e, mut c, h) = setup();
        run(&e, &mut c, &h, "XADD s 5-* a 1");
        run(&e, &mut c, &h, "XADD s MAXLEN ~ 1 6-1 b 2");
        run(&e, &mut c, &h, "XGROUP CREATE s g 0");
        run(&e, &mut c, &h, "XREADGROUP GROUP g alice STREAMS s >");
        run(&e, &mut c, &h, "XREADGROUP GROUP g bob NOACK STREAMS s 0");
        let got = take(&h);
        assert_eq!(got[0], "0: XADD s 5-0 a 1");
        assert_eq!(got[1], "0: XADD s MAXLEN = 2 6-1 b 2");
        assert_eq!(got[2], "0: XGROUP CREATE s g 0");
        let claim: Vec<&str> = got[3].split(' ').collect();
        assert_eq!(
            &claim[1..7],
            ["XCLAIM", "s", "g", "alice", "0", "5-0"],
            "{got:?}"
        );
        // LASTID is the group's position as of that delivery.
        assert_eq!(
            &claim[9..],
            ["RETRYCOUNT", "1", "FORCE", "JUSTID", "LASTID", "5-0"]
        );
        assert!(
            got[4].starts_with("0: XCLAIM s g alice 0 6-1 TIME"),
            "{got:?}"
        );
        // A NOACK history read logs only the consumer it created.
        assert_eq!(got[5], "0: XGROUP CREATECONSUMER s g bob");
        assert_eq!(got.len(), 6, "{got:?}");
    }

    #[test]
    fn nothing_is_propagated_when_off() {
        let (e, mut c, h) = setup();
        e.propagating
            .store(false, std::sync::atomic::Ordering::Release);
        run(&e, &mut c, &h, "SET a 1");
        assert!(take(&h).is_empty());
        assert_eq!(c.aof_offset, 0);
    }

    #[test]
    fn relative_expiries_become_absolute() {
        let (e, mut c, h) = setup();
        let now = e.clock.now_ms();
        run(&e, &mut c, &h, "SET a v EX 100");
        run(&e, &mut c, &h, "SETEX b 100 v");
        run(&e, &mut c, &h, "PSETEX c 100000 v");
        run(&e, &mut c, &h, "SET d v PXAT 99999999999999");
        run(&e, &mut c, &h, "SET e v EXAT 99999999999 GET");
        let got = take(&h);
        assert_eq!(got.len(), 5);
        for (i, key) in ["a", "b", "c"].iter().enumerate() {
            let words: Vec<&str> = got[i].split(' ').collect();
            assert_eq!(&words[1..5], ["SET", key, "v", "PXAT"], "{got:?}");
            let at: i64 = words[5].parse().unwrap();
            assert!((at - now - 100_000).abs() < 5_000, "{at} {now}");
        }
        assert_eq!(got[3], "0: SET d v PXAT 99999999999999");
        assert_eq!(got[4], "0: SET e v PXAT 99999999999000");
    }

    #[test]
    fn expire_family_becomes_pexpireat_or_del() {
        let (e, mut c, h) = setup();
        run(&e, &mut c, &h, "SET a v");
        take(&h);
        run(&e, &mut c, &h, "EXPIRE a 100 NX");
        run(&e, &mut c, &h, "EXPIREAT a 99999999999 GT");
        run(&e, &mut c, &h, "PEXPIREAT a 99999999999999");
        run(&e, &mut c, &h, "EXPIRE nothere 10");
        run(&e, &mut c, &h, "PERSIST a");
        run(&e, &mut c, &h, "PERSIST a");
        run(&e, &mut c, &h, "EXPIRE a -1");
        let got = take(&h);
        assert!(got[0].starts_with("0: PEXPIREAT a ") && got[0].ends_with(" NX"));
        assert_eq!(got[1], "0: PEXPIREAT a 99999999999000 GT");
        assert_eq!(got[2], "0: PEXPIREAT a 99999999999999");
        assert_eq!(got[3], "0: PERSIST a");
        assert_eq!(got[4], "0: DEL a");
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn getex_getdel_incrbyfloat() {
        let (e, mut c, h) = setup();
        run(&e, &mut c, &h, "SET a 1.5");
        take(&h);
        run(&e, &mut c, &h, "GETEX a EXAT 99999999999");
        run(&e, &mut c, &h, "GETEX a");
        run(&e, &mut c, &h, "GETEX a PERSIST");
        run(&e, &mut c, &h, "GETEX a PERSIST");
        assert_eq!(run(&e, &mut c, &h, "INCRBYFLOAT a 2"), "$3\r\n3.5\r\n");
        run(&e, &mut c, &h, "GETEX a PXAT 1");
        run(&e, &mut c, &h, "SET b x");
        run(&e, &mut c, &h, "GETDEL b");
        run(&e, &mut c, &h, "GETDEL b");
        assert_eq!(
            take(&h),
            [
                "0: PEXPIREAT a 99999999999000",
                "0: PERSIST a",
                "0: SET a 3.5 KEEPTTL",
                "0: DEL a",
                "0: SET b x",
                "0: DEL b",
            ]
        );
    }

    #[test]
    fn random_and_blocking_commands_log_their_effect() {
        let (e, mut c, h) = setup();
        run(&e, &mut c, &h, "SADD s a");
        run(&e, &mut c, &h, "SPOP s");
        run(&e, &mut c, &h, "SADD s a b c");
        run(&e, &mut c, &h, "SPOP s 3");
        assert_eq!(
            take(&h),
            ["0: SADD s a", "0: SREM s a", "0: SADD s a b c", "0: DEL s"]
        );
        run(&e, &mut c, &h, "SADD s a b c");
        take(&h);
        run(&e, &mut c, &h, "SPOP s 2");
        let got = take(&h);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("0: SREM s "), "{got:?}");
        assert_eq!(got[0].split(' ').count(), 5);
        run(&e, &mut c, &h, "HSET h f 1");
        run(&e, &mut c, &h, "HINCRBYFLOAT h f 0.5");
        run(&e, &mut c, &h, "RPUSH l a b c d e f");
        run(&e, &mut c, &h, "BLPOP l 0");
        run(&e, &mut c, &h, "BRPOP nothing l 0");
        run(&e, &mut c, &h, "LMPOP 1 l LEFT COUNT 2");
        run(&e, &mut c, &h, "BLMPOP 0 1 l RIGHT COUNT 10");
        run(&e, &mut c, &h, "RPUSH l a b");
        run(&e, &mut c, &h, "BLMOVE l m LEFT RIGHT 0");
        run(&e, &mut c, &h, "BRPOPLPUSH l m 0");
        run(&e, &mut c, &h, "BRPOPLPUSH empty m 0");
        run(&e, &mut c, &h, "ZADD z 1 a 2 b 3 c 4 d");
        run(&e, &mut c, &h, "BZPOPMIN z 0");
        run(&e, &mut c, &h, "BZMPOP 0 1 z MAX COUNT 2");
        run(&e, &mut c, &h, "ZMPOP 1 z MIN");
        run(&e, &mut c, &h, "BZPOPMAX z 0");
        assert_eq!(
            take(&h),
            [
                "0: HSET h f 1",
                "0: HSET h f 1.5",
                "0: RPUSH l a b c d e f",
                "0: LPOP l",
                "0: RPOP l",
                "0: LPOP l 2",
                "0: RPOP l 2",
                "0: RPUSH l a b",
                "0: LMOVE l m LEFT RIGHT",
                "0: RPOPLPUSH l m",
                "0: ZADD z 1 a 2 b 3 c 4 d",
                "0: ZPOPMIN z 1",
                "0: ZPOPMAX z 2",
                "0: ZPOPMIN z 1",
            ]
        );
    }

    /// Hooks whose log cannot be written.
    struct Failing;

    impl ServerHooks for Failing {
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn deny_writes(&self) -> Option<String> {
            Some("MISCONF Errors writing to the AOF file: No space left on device".into())
        }
    }

    #[test]
    fn a_failing_log_refuses_writes_and_ping() {
        let (e, mut c, _) = setup();
        let run = |c: &mut Client, line: &str| run_with(&e, c, &Failing, Protocol::Resp2, line);
        let misconf = "-MISCONF Errors writing to the AOF file: No space left on device\r\n";
        assert_eq!(run(&mut c, "SET a 1"), misconf);
        assert_eq!(run(&mut c, "PING"), misconf);
        assert_eq!(run(&mut c, "GET a"), "$-1\r\n");
        e.propagating
            .store(false, std::sync::atomic::Ordering::Release);
        assert_eq!(run(&mut c, "SET a 1"), "+OK\r\n");
    }

    #[test]
    fn lazily_expired_keys_are_deleted_first() {
        let (e, mut c, h) = setup();
        run(&e, &mut c, &h, "SET a 1 PX 10");
        take(&h);
        e.clock.advance(1000);
        run(&e, &mut c, &h, "GET a");
        run(&e, &mut c, &h, "SET b 1 PX 10");
        e.clock.advance(1000);
        run(&e, &mut c, &h, "INCR b");
        let got = take(&h);
        assert_eq!(got[0], "0: DEL a");
        assert!(got[1].starts_with("0: SET b 1 PXAT "));
        assert_eq!(&got[2..], ["0: DEL b", "0: INCR b"]);
    }

    #[test]
    fn loading_client_never_expires_and_sets_past_ttls() {
        let (e, mut c, h) = setup();
        c.loading = true;
        // As logged: b was alive (TTL in the future) when INCR ran.
        run(&e, &mut c, &h, "SET b 1 PXAT 1000");
        run(&e, &mut c, &h, "INCR b");
        run(&e, &mut c, &h, "SET c 1");
        run(&e, &mut c, &h, "PEXPIREAT c 1000");
        assert_eq!(run(&e, &mut c, &h, "EXISTS c"), ":1\r\n");
        assert!(take(&h).is_empty(), "the loader propagates nothing");
        c.loading = false;
        assert_eq!(run(&e, &mut c, &h, "EXISTS b c"), ":0\r\n");
    }
}
