//! Lua scripting as Redis 7.0 runs it: EVAL / EVALSHA / SCRIPT (`eval.rs`),
//! FUNCTION / FCALL (`function.rs`).
//!
//! Map: `vm.rs` builds the sandboxed Lua states (one per worker thread and kind),
//! `api.rs` is the `redis.*` table, `convert.rs` the reply <-> Lua conversions,
//! `run.rs` one script run (its locks, the commands it calls), `exec.rs` what
//! EVAL and FCALL share (admission of the script, the gate, the Lua call, the
//! timeout hook, propagation), `shebang.rs` the `#!lua flags=...` line, `rand.rs`
//! `math.random`, `libs/` cjson, cmsgpack, bit and struct.
//!
//! Atomicity: one script runs at a time in the whole server (the gate, as Redis's
//! single thread gives), holding the shards of its declared keys and taking any
//! other key's shard when a command reaches it; other commands on other shards run
//! on, in parallel. See `run.rs` and `keyspace::LockSet::acquire`.

mod api;
mod convert;
pub mod eval;
mod exec;
pub mod function;
pub mod libs;
mod rand;
mod run;
mod shebang;
mod vm;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

pub use shebang::ScriptFlags;

/// A script in the EVAL cache.
#[derive(Debug)]
pub struct Script {
    /// Its source, shebang included.
    pub body: Vec<u8>,
    /// Its shebang flags (`EVAL_COMPAT` without a shebang).
    pub flags: ScriptFlags,
}

/// The state of the script running now, read by other clients (BUSY, SCRIPT
/// KILL) while it runs.
#[derive(Default)]
pub struct Running {
    /// A script is running.
    pub active: AtomicBool,
    /// It ran past busy-reply-threshold: others get BUSY.
    pub busy: AtomicBool,
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    pub kill: AtomicBool,
    /// It has written: it cannot be killed.
    pub wrote: AtomicBool,
    /// It is an EVAL script (not a function).
    pub eval: AtomicBool,
    /// The id of the client running it.
    pub client: AtomicU64,
    /// When it started, and its name (sha or function name).
    pub started: Mutex<Option<(Instant, String)>>,
    /// The command that runs it (FUNCTION STATS).
    pub command: Mutex<Vec<Vec<u8>>>,
}

/// Scripting state of an engine.
pub struct Scripting {
    /// The EVAL script cache by lower-case sha1 hex.
    scripts: RwLock<HashMap<String, Arc<Script>>>,
    /// Bumped by SCRIPT FLUSH: each thread's EVAL interpreter starts anew.
    pub(crate) flushes: AtomicU64,
    /// One script at a time.
    pub(crate) gate: Mutex<()>,
    /// The running script.
    pub running: Running,
    /// math.random's generator (used under the gate).
    rand: Mutex<rand::Rand48>,
    /// FUNCTION libraries.
    pub functions: function::Libraries,
    /// Bytes of script bodies in the cache (INFO used_memory_scripts_eval).
    cache_bytes: AtomicU64,
    /// Memory of the EVAL and function interpreters after the last run of each
    /// (INFO used_memory_lua / used_memory_vm_functions).
    pub(crate) vm_bytes: [AtomicU64; 2],
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call `noscript` commands.
    pub disable_deny: AtomicBool,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            scripts: RwLock::new(HashMap::new()),
            flushes: AtomicU64::new(0),
            gate: Mutex::new(()),
            running: Running::default(),
            rand: Mutex::new(rand::Rand48::default()),
            functions: function::Libraries::default(),
            cache_bytes: AtomicU64::new(0),
            vm_bytes: [AtomicU64::new(0), AtomicU64::new(0)],
            disable_deny: AtomicBool::new(false),
        }
    }
}

/// SHA-1 of `data` in lower-case hex (script names, redis.sha1hex).
pub fn sha1_hex(data: &[u8]) -> String {
    let d = crate::debug::sha1::Sha1::digest(data);
    let mut s = String::with_capacity(40);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Scripting {
    /// The cached script `sha` (any case).
    pub fn get(&self, sha: &[u8]) -> Option<Arc<Script>> {
        if sha.len() != 40 {
            return None;
        }
        let key = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.scripts.read().get(&key).cloned()
    }

    /// Adds a script (already checked to compile) and returns its sha.
    pub(crate) fn insert(&self, sha: String, body: Vec<u8>, flags: ScriptFlags) -> Arc<Script> {
        let mut map = self.scripts.write();
        if let Some(s) = map.get(&sha) {
            return s.clone();
        }
        self.cache_bytes
            .fetch_add(body.len() as u64 + 40, Ordering::Relaxed);
        let s = Arc::new(Script { body, flags });
        map.insert(sha, s.clone());
        s
    }

    /// Empties the cache (SCRIPT FLUSH).
    pub fn flush(&self) {
        let old = std::mem::take(&mut *self.scripts.write());
        self.cache_bytes.store(0, Ordering::Relaxed);
        self.flushes.fetch_add(1, Ordering::AcqRel);
        drop(old);
    }

    /// Number of cached scripts (INFO number_of_cached_scripts).
    pub fn cached(&self) -> usize {
        self.scripts.read().len()
    }

    /// Memory of the EVAL and function interpreters (as of their last runs).
    pub fn vm_memory(&self) -> (u64, u64) {
        (
            self.vm_bytes[0].load(Ordering::Relaxed),
            self.vm_bytes[1].load(Ordering::Relaxed),
        )
    }

    /// Bytes held by the cache.
    pub fn cache_bytes(&self) -> u64 {
        self.cache_bytes.load(Ordering::Relaxed)
    }

    /// Whether others must be told BUSY now.
    #[inline]
    pub fn busy(&self) -> bool {
        self.running.busy.load(Ordering::Acquire)
    }

    /// The BUSY error for the running script's kind.
    pub fn busy_error(&self) -> String {
        if self.running.eval.load(Ordering::Acquire) {
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
                .into()
        } else {
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.".into()
        }
    }

    /// Past busy-reply-threshold: marks the running script busy (others get
    /// BUSY from now on) and logs it once. Called by the Lua hook and before each
    /// command the script calls (a loop of commands runs few Lua instructions).
    pub(crate) fn check_busy(&self, threshold_ms: i64, hooks: &dyn crate::hooks::ServerHooks) {
        if self.busy() || threshold_ms <= 0 {
            return;
        }
        let started = self.running.started.lock().clone();
        let Some((t, name)) = started else {
            return;
        };
        let elapsed = t.elapsed().as_millis();
        if elapsed < threshold_ms as u128 {
            return;
        }
        let kill_cmd = if self.running.eval.load(Ordering::Acquire) {
            "SCRIPT KILL"
        } else {
            "FUNCTION KILL"
        };
        tracing::warn!("Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {kill_cmd} command. Script name is: {name}.");
        self.running.busy.store(true, Ordering::Release);
        hooks.long_running();
    }

    pub(crate) fn mark_wrote(&self) {
        self.running.wrote.store(true, Ordering::Release);
    }

    pub(crate) fn random(&self) -> i32 {
        self.rand.lock().next()
    }

    pub(crate) fn seed(&self, seed: i32) {
        self.rand.lock().seed(seed);
    }

    /// SCRIPT KILL (`eval`) / FUNCTION KILL: Redis's scriptKill.
    pub fn kill(&self, eval: bool) -> Result<(), String> {
        let r = &self.running;
        if !r.active.load(Ordering::Acquire) {
            return Err("NOTBUSY No scripts in execution right now.".into());
        }
        if r.wrote.load(Ordering::Acquire) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into());
        }
        let running_eval = r.eval.load(Ordering::Acquire);
        if eval && !running_eval {
            return Err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.".into());
        }
        if !eval && running_eval {
            return Err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.".into());
        }
        r.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// Stops the running script at its next check whatever it did (SHUTDOWN
    /// NOSAVE while a script is busy: Redis exits without waiting for it).
    pub fn abort_for_shutdown(&self) {
        self.running.kill.store(true, Ordering::Release);
        self.running.wrote.store(false, Ordering::Release);
    }
}
