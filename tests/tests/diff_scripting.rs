//! Differential tests: EVAL / EVALSHA / SCRIPT / FUNCTION / FCALL against a real
//! redis-server 7.0: a corpus of scripts (every reply conversion both ways, in
//! RESP2 and RESP3, errors and their texts, pcall, the sandbox, the bundled
//! libraries, scripts that build key names), generated scripts of random
//! commands, and FUNCTION DUMP / RESTORE between the two servers.

use ferrokv_resp::Frame;
use ferrokv_tests::{prop_runner, random_command, Diff};
use proptest::prelude::*;

/// `(script, keys, args)`.
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

const CORPUS: &[Case] = &[
    // Lua -> reply.
    ("return 1", &[], &[]),
    ("return -7", &[], &[]),
    ("return 3.99", &[], &[]),
    ("return -3.99", &[], &[]),
    ("return 1e100", &[], &[]),
    ("return 0/0", &[], &[]),
    ("return 'ciao'", &[], &[]),
    ("return ''", &[], &[]),
    ("return true", &[], &[]),
    ("return false", &[], &[]),
    ("return nil", &[], &[]),
    ("return {}", &[], &[]),
    ("return {1,2,3,'ciao',{1,2}}", &[], &[]),
    ("return {1,2,nil,4}", &[], &[]),
    ("return {1,{err='x'},3}", &[], &[]),
    ("return {1, true, false, 2.5, 'x'}", &[], &[]),
    ("return {a=1, b=2}", &[], &[]),
    ("return {err='My Error'}", &[], &[]),
    ("return {err='My Error\r\nsecond line'}", &[], &[]),
    ("return {ok='fine'}", &[], &[]),
    ("return {ok='two\r\nlines'}", &[], &[]),
    ("return redis.error_reply('My Error')", &[], &[]),
    ("return redis.error_reply('-MY Error')", &[], &[]),
    ("return redis.error_reply('')", &[], &[]),
    ("return redis.status_reply('xx')", &[], &[]),
    ("return redis.error_reply()", &[], &[]),
    ("return redis.status_reply(1)", &[], &[]),
    ("return {double=3.14}", &[], &[]),
    ("return {big_number='123456789012345678901234567890'}", &[], &[]),
    ("return {map={a=1}}", &[], &[]),
    ("return {set={a=true}}", &[], &[]),
    ("return {verbatim_string={format='txt', string='hello'}}", &[], &[]),
    ("redis.setresp(3); return true", &[], &[]),
    ("redis.setresp(3); return false", &[], &[]),
    ("redis.setresp(3); return {double=3.14}", &[], &[]),
    ("redis.setresp(3); return {map={x={1,2}}}", &[], &[]),
    // Reply -> Lua.
    ("return redis.call('set',KEYS[1],ARGV[1])", &["k"], &["v"]),
    ("return redis.call('get',KEYS[1])", &["k"], &[]),
    ("return redis.call('get','nokey')", &[], &[]),
    ("return type(redis.call('get','nokey'))", &[], &[]),
    ("return redis.call('incr','counter')", &[], &[]),
    ("return redis.call('ping')", &[], &[]),
    ("return redis.call('ping')['ok']", &[], &[]),
    ("redis.call('rpush','l','a','b','c'); return redis.call('lrange','l',0,-1)", &[], &[]),
    ("return redis.call('lpop','nolist')", &[], &[]),
    ("return redis.call('hgetall','nohash')", &[], &[]),
    ("redis.call('hset','h','a','1'); redis.setresp(3); return redis.call('hgetall','h')", &[], &[]),
    ("redis.call('hset','h','a','1'); redis.setresp(3); local r = redis.call('hgetall','h'); return r['map']['a']", &[], &[]),
    ("redis.call('sadd','s','m'); redis.setresp(3); local r = redis.call('smembers','s'); return tostring(r['set']['m'])", &[], &[]),
    ("redis.setresp(3); return redis.call('get','nokey') == nil", &[], &[]),
    ("redis.call('zadd','z',1.5,'a'); redis.setresp(3); return redis.call('zscore','z','a')['double']", &[], &[]),
    ("redis.call('zadd','z',1.5,'a'); redis.setresp(3); return redis.call('zscore','z','a')", &[], &[]),
    ("redis.setresp(3); return redis.call('exists','k') ", &[], &[]),
    ("return redis.call('set','n',1.5)", &[], &[]),
    ("redis.call('set','n',12345678901234567); return redis.call('get','n')", &[], &[]),
    ("redis.call('set','n',0.1); return redis.call('get','n')", &[], &[]),
    ("return redis.call('incrbyfloat','f', 1.5)", &[], &[]),
    // Errors.
    ("return a", &[], &[]),
    ("a=10", &[], &[]),
    ("return redis.call('nosuch')", &[], &[]),
    ("return redis.call()", &[], &[]),
    ("return redis.call('get',{})", &[], &[]),
    ("return redis.call('get',nil)", &[], &[]),
    ("return redis.call('set','a')", &[], &[]),
    ("return redis.call('get','a','b')", &[], &[]),
    ("return redis.call('subscribe','x')", &[], &[]),
    ("return redis.call('eval','return 1', 0)", &[], &[]),
    ("return redis.call('blpop','l', 0)", &[], &[]),
    ("return redis.call('cluster','reset')", &[], &[]),
    ("redis.call('set','s','x'); return redis.call('incr','s')", &[], &[]),
    ("redis.call('set','s','x'); return redis.pcall('incr','s')", &[], &[]),
    ("return redis.pcall('nosuch')", &[], &[]),
    ("local t = redis.pcall('nosuch'); return t['err']", &[], &[]),
    ("return pcall(function() error('x') end)", &[], &[]),
    ("return pcall(function() redis.call('nosuch') end)", &[], &[]),
    ("local ok, e = pcall(function() redis.call('incr', 's') end); return e", &[], &[]),
    ("return error('boom')", &[], &[]),
    ("error({err='CUSTOM my err'})", &[], &[]),
    ("error(nil)", &[], &[]),
    ("error(42)", &[], &[]),
    ("return {1,2,3,'x'", &[], &[]),
    ("return redis.setresp(4)", &[], &[]),
    ("return redis.setresp()", &[], &[]),
    ("return redis.set_repl(99)", &[], &[]),
    ("return redis.set_repl(redis.REPL_ALL)", &[], &[]),
    ("return redis.log(9, 'hello')", &[], &[]),
    ("return redis.log('x', 'hello')", &[], &[]),
    ("return redis.log(redis.LOG_WARNING)", &[], &[]),
    ("return redis.sha1hex()", &[], &[]),
    ("return redis.call('object','freq','k')", &[], &[]),
    ("return redis.acl_check_cmd('nosuch')", &[], &[]),
    ("return redis.acl_check_cmd('get', 'x')", &[], &[]),
    // The sandbox.
    ("setmetatable(_G, {})", &[], &[]),
    ("local g = getmetatable(_G) g.__index = {}", &[], &[]),
    ("_G = {}", &[], &[]),
    ("redis = function() return 1 end", &[], &[]),
    ("redis.call = function() return 1 end", &[], &[]),
    ("cjson.encode = function() return 1 end", &[], &[]),
    ("cmsgpack.pack = function() return 1 end", &[], &[]),
    ("bit.lshift = function() return 1 end", &[], &[]),
    ("string.len = function() return 1 end", &[], &[]),
    ("rawset(_G, 'x', 1)", &[], &[]),
    ("table.insert(redis, 1)", &[], &[]),
    ("return loadstring(string.dump(function() return 1 end))()", &[], &[]),
    ("return loadstring('return 7')()", &[], &[]),
    ("print('x')", &[], &[]),
    ("loadfile('/etc/passwd')", &[], &[]),
    ("dofile('/etc/passwd')", &[], &[]),
    ("os.exit()", &[], &[]),
    ("return io.open('/etc/passwd')", &[], &[]),
    ("return getfenv(0)", &[], &[]),
    ("setfenv(1, {})", &[], &[]),
    ("return require('os')", &[], &[]),
    ("return type(debug)", &[], &[]),
    ("return type(newproxy)", &[], &[]),
    ("local t = {} for k in pairs(_G) do t[#t+1] = k end table.sort(t) return t", &[], &[]),
    ("local t = {} for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t", &[], &[]),
    ("local t = {} for k in pairs(math) do t[#t+1] = k end table.sort(t) return t", &[], &[]),
    ("return coroutine.wrap(function() return 5 end)()", &[], &[]),
    ("return #KEYS + #ARGV", &["a", "b"], &["c", "d", "e"]),
    ("return {KEYS[1], ARGV[1], KEYS[3]}", &["a", "b"], &["c"]),
    ("return math.random(0)", &[], &[]),
    ("return math.random(5, 1)", &[], &[]),
    ("return math.random(1, 2, 3)", &[], &[]),
    ("math.randomseed(42); return {math.random(1000), math.random(), math.random(5,9)}", &[], &[]),
    ("return redis.REDIS_VERSION", &[], &[]),
    ("return redis.REDIS_VERSION_NUM", &[], &[]),
    ("return tostring(redis.breakpoint())", &[], &[]),
    ("return redis.debug('x')", &[], &[]),
    ("return redis.replicate_commands()", &[], &[]),
    ("return redis.sha1hex('Pizza & Mandolino')", &[], &[]),
    // Libraries.
    ("return cjson.encode({1,2,3,{a=1}})", &[], &[]),
    ("return cjson.encode({x='y', n=1.5, f=false})", &[], &[]),
    ("return cjson.decode('[1,2,{\"a\":[true,null]}]')[3]['a'][1]", &[], &[]),
    ("return cjson.decode('{')", &[], &[]),
    ("return cjson.encode(cjson.decode('{\"a\":0.1,\"b\":\"\\\\u00e9\"}'))", &[], &[]),
    ("return cmsgpack.unpack(cmsgpack.pack({1,2,'x',{a=1.5}}))", &[], &[]),
    ("return cmsgpack.pack(1, -1, 300, 'abc', true)", &[], &[]),
    ("return {struct.unpack('>I2i4', struct.pack('>I2i4', 258, -5))}", &[], &[]),
    ("return struct.pack('<d', 1.5)", &[], &[]),
    ("return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(3, 1), bit.lshift(1, 31), bit.tohex(-1)}", &[], &[]),
    ("return bit.tobit(2^32 + 1)", &[], &[]),
    // Scripts that build key names (job queues do).
    (
        "for i = 1, 20 do redis.call('rpush', 'queue:' .. i, 'job' .. i) end
         local n = 0
         for i = 1, 20 do n = n + redis.call('llen', 'queue:' .. i) end
         return n",
        &[],
        &[],
    ),
    (
        "local t = {} for i = 1, 10 do redis.call('set', ARGV[1] .. i, i) end
         for i = 1, 10 do t[i] = redis.call('get', ARGV[1] .. i) end
         redis.call('select', 2)
         redis.call('set', 'other-db', 1)
         return t",
        &[],
        &["prefix:"],
    ),
    ("return redis.call('get', 'other-db')", &[], &[]),
    ("redis.call('select', 2); return redis.call('get', 'other-db')", &[], &[]),
    // A large reply.
    ("local t = {} for i = 1, 5000 do t[i] = i end return t", &[], &[]),
    ("local t = {} for i = 1, 100 do t[i] = {i, tostring(i), {i}} end return t", &[], &[]),
    // SORT of a set by a constant: sorted inside scripts.
    ("redis.call('sadd','myset','c','a','b'); return redis.call('sort','myset','by','_')", &[], &[]),
];

fn eval_args<'a>(cmd: &'a str, case: &'a Case) -> Vec<String> {
    let (script, keys, args) = case;
    let mut v = vec![cmd.to_string(), script.to_string(), keys.len().to_string()];
    v.extend(keys.iter().map(|s| s.to_string()));
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

#[test]
fn eval_corpus_matches_redis_in_resp2_and_resp3() {
    let mut d = Diff::new();
    for proto in ["2", "3"] {
        d.ours.run(&format!("HELLO {proto}"));
        d.theirs.run(&format!("HELLO {proto}"));
        d.check(&["FLUSHALL"]);
        d.check(&["SCRIPT", "FLUSH"]);
        for case in CORPUS {
            d.check(&eval_args("EVAL", case));
        }
        // Cached now: EVALSHA gives the same, in any case of the sha.
        for case in CORPUS.iter().take(40) {
            let sha = match d.check(&["SCRIPT", "LOAD", case.0]) {
                Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap_or_default(),
                _ => continue,
            };
            let mut args = eval_args("EVALSHA", case);
            args[1] = sha.to_uppercase();
            d.check(&args);
        }
    }
}

#[test]
fn eval_argument_errors_and_script_subcommands() {
    let mut d = Diff::new();
    d.script(
        "
        EVAL
        EVAL x
        EVALSHA ffffffffffffffffffffffffffffffffffffffff 0
        EVALSHA abc 0
        EVAL_RO x
        ",
    );
    for args in [
        &["EVAL", "return 'x'", "-1"][..],
        &["EVAL", "return 'x'", "2", "a"],
        &["EVAL", "return 'x'", "abc"],
        &["EVAL", "return 'x'", "99999999999999999999"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('set','x','y')",
            "0",
        ],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get','x')",
            "0",
        ],
        &["EVAL_RO", "return redis.call('set','x','y')", "0"],
        &["EVAL_RO", "return redis.call('get','x')", "0"],
        &["EVAL_RO", "return redis.call('publish','c','m')", "0"],
        &["EVAL", "#!lua\nreturn redis.call('get','x')", "0"],
        &["EVAL", "#!lua flags=bad\nreturn 1", "0"],
        &["EVAL", "#!lua flags=\nreturn 1", "0"],
        &["EVAL", "#!lua foo=bar\nreturn 1", "0"],
        &["EVAL", "#!luax\nreturn 1", "0"],
        &["EVAL", "#!lua", "0"],
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        &["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"],
        &["EVAL", "#!lua\n\n\nreturn a", "0"],
        &["SCRIPT", "LOAD", "return 'hello'"],
        &["SCRIPT", "LOAD", "return 'hello"],
        &[
            "SCRIPT",
            "EXISTS",
            "1b936e3fe509bcbc9cd0664897bbe8fd0cac101b",
            "abc",
        ],
        &["SCRIPT", "FLUSH", "foo"],
        &["SCRIPT", "FLUSH", "ASYNC"],
        &[
            "SCRIPT",
            "EXISTS",
            "1b936e3fe509bcbc9cd0664897bbe8fd0cac101b",
        ],
        &["SCRIPT", "KILL"],
        &["SCRIPT", "HELP"],
        &["SCRIPT", "FOO"],
        &["SCRIPT", "LOAD"],
        &["FUNCTION", "KILL"],
    ] {
        d.check(args);
    }
}

const LIBRARY: &str = "#!lua name=mylib
local function set(keys, args) return redis.call('set', keys[1], args[1]) end
redis.register_function('my_set', set)
redis.register_function{function_name='my_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads it'}
redis.register_function{function_name='my_oom', callback=function() return 1 end, flags={'allow-oom', 'allow-stale'}}
";

#[test]
fn functions_match_redis() {
    let mut d = Diff::new();
    d.check(&["FUNCTION", "LOAD", LIBRARY]);
    for args in [
        &["FCALL", "my_set", "1", "k", "v"][..],
        &["FCALL", "MY_GET", "1", "k"],
        &["FCALL_RO", "my_get", "1", "k"],
        &["FCALL_RO", "my_set", "1", "k", "v"],
        &["FCALL", "nosuch", "0"],
        &["FCALL", "my_get", "x"],
        &["FCALL", "my_get", "3", "a"],
        &["FCALL", "my_get", "-1"],
        &["FUNCTION", "LOAD", LIBRARY],
        &["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('my_set', function() end)"],
        &["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.call('ping')"],
        &["FUNCTION", "LOAD", "#!lua name=x\nmath.random()"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', 1)"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f'}"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{callback=function() end}"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, other=1}"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('F', function() end)"],
        &["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('bad-name', function() end)"],
        &["FUNCTION", "LOAD", "#!lua name=x\nlocal a = b"],
        &["FUNCTION", "LOAD", "#!lua name=x\nx = 1"],
        &["FUNCTION", "LOAD", "#!lua name=x\nreturn 'bad"],
        &["FUNCTION", "LOAD", "#!lua name=x y=z\n"],
        &["FUNCTION", "LOAD", "#!lua\n"],
        &["FUNCTION", "LOAD", "#!lua name=a name=b\n"],
        &["FUNCTION", "LOAD", "#!python name=a\n"],
        &["FUNCTION", "LOAD", "#!lua name=\"quoted\"\nredis.register_function('q', function() return 'q' end)"],
        &["FCALL", "q", "0"],
        &["FUNCTION", "LOAD", "no shebang"],
        &["FUNCTION", "LOAD", "#!lua name=bad-name\n"],
        &["FUNCTION", "LOAD", "REPLACE"],
        &["FUNCTION", "LOAD", "FOO", "x"],
        &["FUNCTION", "LOAD", "#!lua name=single\nredis.register_function{function_name='one', callback=function() return 1 end, flags={'no-writes', 'allow-oom'}, description='d'}"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "sing*"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"],
        &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "single"],
        &["FCALL", "ONE", "0"],
        &["FUNCTION", "DELETE", "single"],
        &["FUNCTION", "LIST", "LIBRARYNAME"],
        &["FUNCTION", "LIST", "FOO"],
        &["FUNCTION", "STATS"],
        &["FUNCTION", "DELETE", "nosuch"],
        &["FUNCTION", "DELETE", "quoted"],
        &["FUNCTION", "FLUSH", "FOO"],
        &["FUNCTION", "RESTORE", "garbage"],
        &["FUNCTION", "RESTORE", "garbage", "FOO"],
        &["FUNCTION", "HELP"],
    ] {
        d.check(args);
    }
    // Functions in a library come in hash order on Redis: compared as one
    // library with one function above.
    d.check(&["FUNCTION", "FLUSH"]);
    d.check(&["FUNCTION", "LIST"]);
    d.check(&["FCALL", "my_set", "1", "k", "v"]);
}

#[test]
fn function_dump_restores_across_servers_both_ways() {
    let mut d = Diff::new();
    d.check(&["FUNCTION", "LOAD", LIBRARY]);
    let theirs = d.theirs.cmd(&["FUNCTION", "DUMP"]);
    let ours = d.ours.cmd(&["FUNCTION", "DUMP"]);
    let (Frame::Bulk(theirs), Frame::Bulk(ours)) = (theirs, ours) else {
        panic!("FUNCTION DUMP must reply a bulk string");
    };
    for policy in [None, Some("APPEND"), Some("REPLACE"), Some("FLUSH")] {
        let mut a: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &theirs];
        let mut b: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &ours];
        if let Some(p) = policy {
            a.push(p.as_bytes());
            b.push(p.as_bytes());
        }
        // Each server restores the other's payload.
        let from_redis = d.ours.cmd(&a);
        let from_us = d.theirs.cmd(&b);
        assert_eq!(
            ferrokv_tests::show(&from_redis),
            ferrokv_tests::show(&from_us),
            "{policy:?}"
        );
    }
    d.check(&["FCALL", "my_set", "1", "k", "v"]);
    d.check(&["FCALL", "my_get", "1", "k"]);
}

thread_local! {
    /// One pair of servers for every generated case (flushed in between).
    static SHARED: std::cell::RefCell<Option<Diff>> = const { std::cell::RefCell::new(None) };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: prop_cases(), ..ProptestConfig::default() })]
    #[test]
    fn generated_scripts_of_random_commands_match_redis(
        cmds in proptest::collection::vec(random_command(), 1..12),
        use_pcall in any::<bool>(),
        resp3 in any::<bool>(),
    ) {
        let call = if use_pcall { "redis.pcall" } else { "redis.call" };
        let mut body = String::new();
        if resp3 {
            body.push_str("redis.setresp(3)\n");
        }
        body.push_str("local r = {}\n");
        for (i, cmd) in cmds.iter().enumerate() {
            let args: Vec<String> = cmd.iter().map(|a| format!("'{}'", lua_escape(a))).collect();
            // A failing redis.call ends the script with its error: compared too.
            body.push_str(&format!("r[{}] = {call}({})\n", i + 1, args.join(", ")));
        }
        body.push_str("return r\n");
        SHARED.with(|cell| {
            let mut slot = cell.borrow_mut();
            let d = slot.get_or_insert_with(|| Diff::with_args(&["--enable-debug-command", "yes"]));
            d.check(&["FLUSHALL"]);
            d.check(&["EVAL", body.as_str(), "0"]);
            // What the script left behind, key by key (the digest of a set does
            // not depend on its members' order).
            for key in ["k1", "k2", "k3", "{t}a", "{t}b"] {
                d.check(&["DEBUG", "DIGEST-VALUE", key]);
            }
        });
    }
}

fn prop_cases() -> u32 {
    let _ = prop_runner;
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

fn lua_escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\'' => s.push_str("\\'"),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\{c}")),
        }
    }
    s
}

/// On a replica whose link is down with replica-serve-stale-data no: scripts
/// without a shebang are refused, shebang scripts need allow-stale, and such a
/// script may call only commands flagged stale (Redis's scriptPrepareForRun and
/// scriptVerifyAllowStale).
#[test]
fn scripts_on_a_stale_replica_follow_their_flags() {
    let mut d = Diff::new();
    d.check(&["SET", "x", "v"]);
    d.check(&["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    d.check(&["REPLICAOF", "127.0.0.1", "1"]);
    for args in [
        &["EVAL", "return redis.call('get','x')", "1", "x"][..],
        &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        &["EVAL", "#!lua\nreturn 1", "0"],
        &["EVAL", "#!lua flags=allow-stale,no-writes\nreturn 1", "0"],
        &[
            "EVAL",
            "#!lua flags=allow-stale,no-writes\nreturn redis.call('get','x')",
            "1",
            "x",
        ],
        &[
            "EVAL",
            "#!lua flags=allow-stale,no-writes\nreturn redis.pcall('get','x')",
            "1",
            "x",
        ],
        &[
            "EVAL",
            "#!lua flags=allow-stale,no-writes\nreturn redis.call('echo','foobar')",
            "0",
        ],
        &["EVAL", "#!lua flags=allow-stale\nreturn 1", "0"],
        &[
            "EVAL_RO",
            "#!lua flags=allow-stale,no-writes\nreturn redis.call('ping')",
            "0",
        ],
    ] {
        d.check(args);
    }
    d.check(&["REPLICAOF", "NO", "ONE"]);
}

/// min-replicas-to-write unmet: writes and write scripts get NOREPLICAS, PING and
/// reads (scripts with no-writes or without a shebang that only read) still run.
#[test]
fn scripts_and_ping_without_enough_good_replicas() {
    let mut d = Diff::new();
    d.check(&["SET", "x", "some value"]);
    d.check(&["CONFIG", "SET", "min-replicas-to-write", "1"]);
    for args in [
        &["PING"][..],
        &["SET", "x", "1"],
        &["GET", "x"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get','x')",
            "1",
            "x",
        ],
        &["EVAL", "return redis.call('get','x')", "1", "x"],
        &["EVAL", "#!lua\nreturn redis.call('get','x')", "1", "x"],
        &["EVAL", "return redis.call('set','x', 1)", "1", "x"],
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
    ] {
        d.check(args);
    }
    d.check(&["CONFIG", "SET", "min-replicas-to-write", "0"]);
}
