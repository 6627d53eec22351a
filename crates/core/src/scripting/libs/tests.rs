//! Runs each line of `testdata/corpus.lua` through a fresh Lua with the libraries and
//! compares with `testdata/corpus.expected`, which holds what Redis 7.0.15 answered
//! to the same line (regenerate with `testdata/gen_expected.sh`).

use mlua::Lua;

const PRELUDE: &str = include_str!("testdata/prelude.lua");
const CORPUS: &str = include_str!("testdata/corpus.lua");
const EXPECTED: &str = include_str!("testdata/corpus.expected");

fn run(lua: &Lua, line: &str) -> String {
    let src = format!("{PRELUDE}\nreturn {line}");
    match lua
        .load(src)
        .set_name("@user_script")
        .eval::<mlua::LuaString>()
    {
        // Latin-1, as the generator decodes Redis's bytes.
        Ok(s) => s.as_bytes().iter().map(|&b| b as char).collect(),
        Err(e) => format!("RUST ERROR: {e}"),
    }
}

#[test]
fn corpus_matches_redis() {
    let lua = Lua::new();
    super::register(&lua).expect("register");
    let lines: Vec<&str> = CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("--"))
        .collect();
    let expected: Vec<&str> = EXPECTED.lines().collect();
    assert_eq!(
        lines.len(),
        expected.len(),
        "corpus and expected answers differ in length"
    );
    let mut failures = Vec::new();
    for (line, want) in lines.iter().zip(&expected) {
        // Each line gets a fresh state so configuration changes do not leak.
        let lua = Lua::new();
        super::register(&lua).expect("register");
        let got = run(&lua, line);
        if got != *want {
            failures.push(format!("{line}\n   want: {want}\n    got: {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Deep nesting at the default limits must fit comfortably in a small thread stack.
#[test]
fn default_depth_fits_small_stack() {
    let run = || {
        let lua = Lua::new();
        super::register(&lua).expect("register");
        let src = r#"
            local t = {} local c = t
            for i = 1, 999 do c[1] = {} c = c[1] end
            local a = cjson.encode(t)
            local o = {} c = o
            for i = 1, 999 do c.x = {} c = c.x end
            local b = cjson.encode(o)
            cjson.decode(a) cjson.decode(b)
            local n = string.rep('[', 1001) .. string.rep(']', 1001)
            return select(2, pcall(cjson.decode, n))
        "#;
        lua.load(src).eval::<String>().expect("eval")
    };
    let got = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(run)
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(got.starts_with("Found too many nested"), "{got}");
}
const STACK: usize = 128 * 1024;
