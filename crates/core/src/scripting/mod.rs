//! Lua scripting as Redis 7.0 runs it: EVAL / EVALSHA / SCRIPT (`eval.rs`),
//! FUNCTION / FCALL (`function.rs`).
//!
//! Map: `vm.rs` builds the sandboxed Lua states (one per worker thread and kind),
//! `api.rs` is the `redis.*` table, `convert.rs` the reply <-> Lua conversions,
//! `run.rs` one script run (its locks, the commands it calls), `exec.rs` what
//! EVAL and FCALL share (admission of the script, the gate, the Lua call, the
//! timeout hook, propagation), `shebang.rs` the `#!lua flags=...` line, `rand.rs`
//! `math.random`, `libs/` cjson, cmsgpack, bit and struct, `ldb.rs` the Lua
//! debugger (SCRIPT DEBUG).
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
pub mod ldb;
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

/// A script's SHA-1 in lower-case hex (the cache key: no allocation per lookup).
pub type Sha = [u8; 40];

/// `sha` (any case) as a cache key.
pub fn sha_key(sha: &[u8]) -> Option<Sha> {
    let mut k = [0u8; 40];
    if sha.len() != 40 {
        return None;
    }
    for (d, s) in k.iter_mut().zip(sha) {
        *d = s.to_ascii_lowercase();
    }
    Some(k)
}

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
    /// Once it is busy: when it started, its name (sha or function name) and the
    /// command that runs it (FUNCTION STATS). Kept off the fast path: only a
    /// busy script is observed by others.
    pub info: Mutex<Option<BusyInfo>>,
}

/// What others see of a busy script.
#[derive(Debug, Clone)]
pub struct BusyInfo {
    pub started: Instant,
    pub name: String,
    pub command: Vec<Vec<u8>>,
}

/// Scripting state of an engine.
pub struct Scripting {
    /// The EVAL script cache by lower-case sha1 hex.
    scripts: RwLock<HashMap<Sha, Arc<Script>>>,
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
    /// A shutdown stopped a busy script ([`Scripting::abort_for_shutdown`]).
    aborted: AtomicBool,
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
            aborted: AtomicBool::new(false),
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
        let key = sha_key(sha)?;
        self.scripts.read().get(&key).cloned()
    }

    /// Adds a script (already checked to compile) and returns its sha.
    pub(crate) fn insert(&self, sha: &str, body: Vec<u8>, flags: ScriptFlags) -> Arc<Script> {
        let Some(sha) = sha_key(sha.as_bytes()) else {
            return Arc::new(Script { body, flags });
        };
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

    /// Active defrag of the cached scripts' bodies (those no running script
    /// shares at this moment; the others wait for the next pass).
    pub fn defrag(&self, m: &mut crate::defrag::Mover<'_>) {
        let mut map = self.scripts.write();
        for s in map.values_mut() {
            if let Some(s) = Arc::get_mut(s) {
                m.vec(&mut s.body);
            }
        }
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

    /// The flags a script command runs with, for admission: those its script
    /// declares (`None` for a script without a shebang, an unknown one, or a
    /// command that is not a script's).
    pub fn command_script_flags(&self, args: &[&[u8]]) -> Option<ScriptFlags> {
        let name = args.first()?;
        let target = args.get(1)?;
        let flags = if name.len() >= 5 && name[..5].eq_ignore_ascii_case(b"fcall") {
            self.functions.flags_of(target)?
        } else if name.len() >= 7 && name[..7].eq_ignore_ascii_case(b"evalsha") {
            self.get(target)?.flags
        } else {
            match self.get(sha1_hex(target).as_bytes()) {
                Some(s) => s.flags,
                None => shebang::parse(target).ok()?.0,
            }
        };
        (!flags.has(ScriptFlags::EVAL_COMPAT)).then_some(flags)
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
        self.aborted.store(true, Ordering::Release);
    }

    /// Whether a shutdown stopped a busy script.
    pub fn aborted_for_shutdown(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }
}
