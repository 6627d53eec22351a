//! Builds the Lua 5.1.5 interpreter that scripting runs on (`lua/lua-5.1.5`, kept as
//! released) with the one change Redis 7.0 makes to it: read-only tables. Redis
//! locks the globals and every library table of its scripting VMs, so that a script
//! (or a function library) cannot replace `redis.call`, create globals or swap the
//! globals' metatable; the error is `Attempt to modify a readonly table`, raised by
//! the VM itself so that `rawset` and `setmetatable` cannot get around it. And, as
//! in Redis, binary chunks are not loaded.
//!
//! The change is applied here, to a copy in OUT_DIR, as a list of edits anchored on
//! exact lines of the release: an anchor that is not found fails the build rather
//! than compiling something else.

use std::path::{Path, PathBuf};

const SRC: &str = "lua/lua-5.1.5";

/// Every C file of the library (not the stand-alone interpreter or compiler).
const FILES: &[&str] = &[
    "lapi.c",
    "lcode.c",
    "ldebug.c",
    "ldo.c",
    "ldump.c",
    "lfunc.c",
    "lgc.c",
    "llex.c",
    "lmem.c",
    "lobject.c",
    "lopcodes.c",
    "lparser.c",
    "lstate.c",
    "lstring.c",
    "ltable.c",
    "ltm.c",
    "lundump.c",
    "lvm.c",
    "lzio.c",
    "lauxlib.c",
    "lbaselib.c",
    "ldblib.c",
    "liolib.c",
    "lmathlib.c",
    "loslib.c",
    "ltablib.c",
    "lstrlib.c",
    "loadlib.c",
    "linit.c",
];

const READONLY_ERROR: &str = "\"Attempt to modify a readonly table\"";

/// `(file, anchor, replacement)`: the anchor must occur exactly once.
fn edits() -> Vec<(&'static str, &'static str, String)> {
    let check_h = format!("if (h->readonly)\n        luaG_runerror(L, {READONLY_ERROR});\n      ");
    vec![
        // A flag per table, cleared when the table is made.
        (
            "lobject.h",
            "  lu_byte lsizenode;  /* log2 of size of `node' array */\n",
            "  lu_byte lsizenode;  /* log2 of size of `node' array */\n  lu_byte readonly;  /* ferrokv: writes raise an error */\n".into(),
        ),
        (
            "ltable.c",
            "  t->flags = cast_byte(~0);\n",
            "  t->flags = cast_byte(~0);\n  t->readonly = 0;\n".into(),
        ),
        // `t[k] = v` (and global assignment), before the raw set.
        (
            "lvm.c",
            "      TValue *oldval = luaH_set(L, h, key); /* do a primitive set */\n",
            format!("{check_h}TValue *oldval = luaH_set(L, h, key); /* do a primitive set */\n"),
        ),
        // rawset / rawseti (table.insert, table.sort, ...) and setmetatable.
        (
            "lapi.c",
            "  api_check(L, ttistable(t));\n  setobj2t(L, luaH_set(L, hvalue(t), L->top-2), L->top-1);\n",
            format!("  api_check(L, ttistable(t));\n  if (hvalue(t)->readonly)\n    luaG_runerror(L, {READONLY_ERROR});\n  setobj2t(L, luaH_set(L, hvalue(t), L->top-2), L->top-1);\n"),
        ),
        (
            "lapi.c",
            "  api_check(L, ttistable(o));\n  setobj2t(L, luaH_setnum(L, hvalue(o), n), L->top-1);\n",
            format!("  api_check(L, ttistable(o));\n  if (hvalue(o)->readonly)\n    luaG_runerror(L, {READONLY_ERROR});\n  setobj2t(L, luaH_setnum(L, hvalue(o), n), L->top-1);\n"),
        ),
        (
            "lapi.c",
            "  switch (ttype(obj)) {\n    case LUA_TTABLE: {\n      hvalue(obj)->metatable = mt;\n",
            format!("  switch (ttype(obj)) {{\n    case LUA_TTABLE: {{\n      if (hvalue(obj)->readonly)\n        luaG_runerror(L, {READONLY_ERROR});\n      hvalue(obj)->metatable = mt;\n"),
        ),
        // Precompiled (binary) chunks are never loaded: `loadstring` of
        // `string.dump` output is parsed as source and fails, as in Redis (a
        // crafted bytecode chunk is a known way out of a Lua sandbox).
        (
            "ldo.c",
            "  tf = ((c == LUA_SIGNATURE[0]) ? luaU_undump : luaY_parser)(L, p->z,\n",
            "  (void)c;\n  tf = luaY_parser(L, p->z,\n".into(),
        ),
        // The two API functions (declared in lua.h, defined at the end of lapi.c).
        (
            "lua.h",
            "LUA_API void lua_setallocf (lua_State *L, lua_Alloc f, void *ud);\n",
            "LUA_API void lua_setallocf (lua_State *L, lua_Alloc f, void *ud);\nLUA_API void (lua_enablereadonlytable) (lua_State *L, int idx, int enabled);\nLUA_API int (lua_isreadonlytable) (lua_State *L, int idx);\n".into(),
        ),
    ]
}

const API: &str = r#"

/* ferrokv: read-only tables (see crates/core/build.rs). */
LUA_API void lua_enablereadonlytable (lua_State *L, int idx, int enabled) {
  const TValue *o = index2adr(L, idx);
  api_check(L, ttistable(o));
  hvalue(o)->readonly = enabled ? 1 : 0;
}

LUA_API int lua_isreadonlytable (lua_State *L, int idx) {
  const TValue *o = index2adr(L, idx);
  api_check(L, ttistable(o));
  return hvalue(o)->readonly;
}
"#;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dir = out.join("lua");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/lua");
    let src = Path::new(SRC);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={SRC}");
    for entry in std::fs::read_dir(src).expect("lua sources") {
        let path = entry.expect("dir entry").path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, dir.join(name)).expect("copy lua source");
        }
    }
    for (file, anchor, replacement) in edits() {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).expect("read lua source");
        assert_eq!(
            text.matches(anchor).count(),
            1,
            "{file}: the read-only table edit's anchor must occur once"
        );
        std::fs::write(&path, text.replacen(anchor, &replacement, 1)).expect("write");
    }
    let lapi = dir.join("lapi.c");
    let mut text = std::fs::read_to_string(&lapi).expect("read lapi.c");
    text.push_str(API);
    std::fs::write(&lapi, text).expect("write lapi.c");

    let mut build = cc::Build::new();
    build
        .warnings(false)
        .include(&dir)
        .define("LUA_USE_LINUX", None);
    for f in FILES {
        build.file(dir.join(f));
    }
    build.compile("lua5.1");
}
