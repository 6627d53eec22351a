//! `ferrokv-server`: the network server around the engine. Sockets, connections,
//! configuration loading, logging, signals, and the commands that concern
//! connections or the process.

pub mod acl;
pub mod active_defrag;
pub mod alloc;
pub mod aof;
pub mod blocked;
pub mod client_mem;
pub mod clients;
pub mod cmds;
pub mod compat;
pub mod conn;
pub mod crash;
pub mod debug;
pub mod dump;
pub mod failover;
pub mod info;
pub mod ldb_io;
pub mod listen;
pub mod log;
pub mod mailbox;
pub mod memory;
pub mod metrics;
pub mod migrate;
pub mod monitor;
pub mod obuf;
pub mod oom_score;
pub mod park;
pub mod pause;
pub mod persistence;
pub mod pubsub;
pub mod rdb_load;
pub mod rdb_stream;
pub mod repl_buf;
pub mod repl_rdb;
pub mod replica;
pub mod replica_link;
pub mod replication;
pub mod rewrite;
pub mod shutdown;
pub mod state;
pub mod tls;
pub mod tracking;

use std::sync::Arc;
use std::time::Duration;

use ferrokv_core::config::{file, Config, P};
use ferrokv_core::Engine;

use crate::state::ServerState;

/// Default of `--park-spin-us`: measured with redis-benchmark -c 50 at pipeline 1,
/// 20 µs gains 5-20% (the client no longer pays to wake a sleeping server thread for
/// most requests) and costs ~5% at pipeline 16; 100+ µs loses at both.
pub const DEFAULT_PARK_SPIN_US: u64 = 20;

/// The Redis version whose behaviour ferrokv implements (client libraries gate
/// features on it).
pub use ferrokv_core::REDIS_VERSION;

/// Options that are ferrokv's own, not Redis config directives.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (`--threads N`; default: number of cores).
    pub threads: usize,
    /// Microseconds a worker spins before sleeping in epoll (`--park-spin-us N`).
    pub park_spin_us: u64,
    /// Config file path, if given.
    pub config_file: Option<String>,
    /// Config text: the file, then the command-line `--name value` options.
    pub config_text: String,
}

const USAGE: &str = "Usage: ./ferrokv-server [/path/to/redis.conf] [options] [-]
       ./ferrokv-server - (read config from stdin)
       ./ferrokv-server -v or --version
       ./ferrokv-server -h or --help

Options are redis.conf directives given as --name value, plus:
       --threads N   worker threads (default: number of CPU cores)
       --park-spin-us N  microseconds an idle worker spins before it sleeps
                     (default 20; 0 never spins)

Examples:
       ./ferrokv-server (run the server with default config)
       ./ferrokv-server /etc/redis/6379.conf
       ./ferrokv-server --port 7777
       ./ferrokv-server /etc/myredis.conf --loglevel verbose";

/// Parses the command line. `Err` carries a message and an exit code.
/// The commands the server layer adds to the engine's table (persistence,
/// DUMP/RESTORE, AOF, connection and server commands). docs/compatibility.md is generated from these
/// plus the engine's own, so there is one list.
pub static SERVER_COMMANDS: &[&[ferrokv_core::commands::CommandDef]] = &[
    cmds::COMMANDS,
    persistence::COMMANDS,
    dump::COMMANDS,
    dump::FUNCTION_COMMANDS,
    aof::COMMANDS,
    debug::COMMANDS,
    replica::COMMANDS,
    replication::COMMANDS,
    replica_link::COMMANDS,
    failover::COMMANDS,
    monitor::COMMANDS,
    migrate::COMMANDS,
    pause::COMMANDS,
    rewrite::COMMANDS,
    pubsub::COMMANDS,
    memory::COMMANDS,
];

pub fn parse_args(args: &[String]) -> Result<Options, (String, i32)> {
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut park_spin_us = DEFAULT_PARK_SPIN_US;
    let mut config_file = None;
    let mut rest: Vec<String> = Vec::new();
    let mut i = 0;
    let mut config_text = String::new();
    while i < args.len() {
        let a = &args[i];
        match a.as_str() {
            "-v" | "--version" => {
                return Err((
                    format!(
                        "ferrokv-server v={} (Redis {REDIS_VERSION} compatible) bits=64",
                        env!("CARGO_PKG_VERSION")
                    ),
                    0,
                ))
            }
            "-h" | "--help" => return Err((USAGE.to_string(), 0)),
            "--threads" => {
                let n = args
                    .get(i + 1)
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|&n| n > 0);
                match n {
                    Some(n) => threads = n,
                    None => return Err(("--threads needs a positive number".into(), 1)),
                }
                i += 2;
                continue;
            }
            "--park-spin-us" => {
                match args.get(i + 1).and_then(|v| v.parse::<u64>().ok()) {
                    Some(n) if n <= 10_000 => park_spin_us = n,
                    _ => {
                        return Err((
                            "--park-spin-us needs a number of microseconds (0-10000)".into(),
                            1,
                        ))
                    }
                }
                i += 2;
                continue;
            }
            "-" if i == 0 || config_file.is_some() => {
                let mut s = String::new();
                use std::io::Read;
                let _ = std::io::stdin().read_to_string(&mut s);
                config_text.push_str(&s);
                config_text.push('\n');
            }
            _ if i == 0 && !a.starts_with("--") => {
                match std::fs::read_to_string(a) {
                    Ok(s) => {
                        config_text.push_str(&s);
                        config_text.push('\n');
                    }
                    Err(e) => {
                        return Err((format!("Fatal error, can't open config file '{a}': {e}"), 1))
                    }
                }
                config_file = Some(
                    std::fs::canonicalize(a)
                        .map_or(a.clone(), |p| p.to_string_lossy().into_owned()),
                );
            }
            _ => rest.push(a.clone()),
        }
        i += 1;
    }
    config_text.push_str(&file::options_to_lines(&rest));
    Ok(Options {
        threads,
        park_spin_us,
        config_file,
        config_text,
    })
}

/// Runs the server until it is shut down; returns the process exit code.
///
/// The start-up follows redis-server's order and log lines, which scripts and
/// Redis's test harness wait for: the "is starting" lines, the listening sockets
/// (a port in use logs `Failed listening on port N (TCP), aborting.` before any
/// banner), the banner with `PID: <pid>`, `Server initialized`, the data load,
/// then `Ready to accept connections`.
pub fn run(opts: Options) -> i32 {
    let config = Config::default();
    let applied = match file::apply(&config, &opts.config_text) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if let Err(e) = log::init(&config.string(P::Loglevel), &config.string(P::Logfile)) {
        eprintln!("Can't open the log file: {e}");
        return 1;
    }
    if config.bool(P::SyslogEnabled) {
        if let Err(e) = log::init_syslog(
            &config.string(P::SyslogIdent),
            &config.string(P::SyslogFacility),
        ) {
            eprintln!("Can't open syslog: {e}");
        }
    }
    if config.bool(P::Daemonize) {
        if let Err(e) = daemonize() {
            tracing::error!("daemonize failed: {e}");
            return 1;
        }
    }
    crash::set_enabled(config.bool(P::CrashLogEnabled));
    tracing::warn!("oO0OoO0OoO0Oo ferrokv is starting oO0OoO0OoO0Oo");
    tracing::warn!(
        "Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={}, just started",
        std::process::id()
    );
    if opts.config_file.is_none() && opts.config_text.trim().is_empty() {
        tracing::warn!("Warning: no config file specified, using the default config. In order to specify a config file use ferrokv-server /path/to/redis.conf");
    } else {
        tracing::warn!("Configuration loaded");
    }
    for name in &applied.ignored {
        tracing::warn!("config directive '{name}' is accepted but not implemented by ferrokv yet: it has no effect");
    }
    let dir = config.string(P::Dir);
    if !dir.is_empty() {
        if let Err(e) = std::env::set_current_dir(&dir) {
            tracing::error!("Can't chdir to '{dir}': {e}");
            return 1;
        }
    }
    let pidfile = config.string(P::Pidfile);
    let always_show_logo = config.bool(P::AlwaysShowLogo);
    let mut engine = Engine::new(config, SERVER_COMMANDS);
    for (from, to) in &applied.renames {
        engine.registry.rename(from, to);
    }
    let engine = Arc::new(engine);
    if let Err(e) = ferrokv_core::acl::file::load_at_startup(
        &engine.acl,
        &applied.users,
        &engine.config.string(P::Aclfile),
        ferrokv_core::acl::pubsub_all(&engine.config),
    ) {
        tracing::warn!("{e}");
        return 1;
    }
    engine
        .evict
        .set_thread_allocated(crate::alloc::thread_allocated);
    let state = Arc::new(ServerState::new(
        engine.clone(),
        opts.config_file.clone(),
        opts.threads,
    ));
    // What maxmemory is compared with: INFO's used_memory less the replicas'
    // output (INFO mem_not_counted_for_evict), as Redis's
    // freeMemoryGetNotCountedMemory: a replica that falls behind must not make
    // the master evict its data; nor do clients that client eviction closed
    // and whose connections have not freed their buffers yet (Redis frees an
    // evicted client at once, before it evicts keys).
    let weak = Arc::downgrade(&state);
    engine.evict.set_probe(Box::new(move || {
        let used = crate::alloc::used_memory();
        match weak.upgrade() {
            Some(st) => used
                .saturating_sub(st.replicas.output_memory() as u64)
                .saturating_sub(st.client_mem.dying()),
            None => used,
        }
    }));
    let spin_us = opts.park_spin_us;
    let spin = move || {
        park::spin_before_park(spin_us);
        crate::alloc::flush_idle_thread_cache();
    };
    let epolls_before = park::epoll_fds();
    let claim = {
        let engine = engine.clone();
        move || engine.cmdstats.claim()
    };
    let rt = if opts.threads == 1 {
        claim();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(spin)
            .on_thread_start(claim)
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.threads)
            .enable_all()
            .on_thread_park(spin)
            .on_thread_start(claim)
            .build()
    };
    let watched = park::watch_runtime_epoll(&epolls_before);
    tracing::debug!("idle spin watches {watched} epoll descriptor(s)");
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("can't start the runtime: {e}");
            return 1;
        }
    };
    // The sockets are bound first (so a busy port fails the start-up here); the
    // dataset then loads while clients are served, as Redis's loading processes
    // events: commands flagged `loading` (INFO, CONFIG, ...) run, the rest get
    // -LOADING, and SIGTERM exits without saving a half-loaded dataset.
    let listeners = {
        let _in_runtime = rt.enter();
        match listen::bind(&state) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("{e}");
                return 1;
            }
        }
    };
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    let port = state.port.load(std::sync::atomic::Ordering::Relaxed);
    if always_show_logo || (engine.config.string(P::Logfile).is_empty() && stdout_is_tty()) {
        log::raw(&log::banner(env!("CARGO_PKG_VERSION"), REDIS_VERSION, port));
    } else {
        tracing::info!("Running mode=standalone, port={port}.");
    }
    tracing::warn!("Server initialized");
    let _ = oom_score::apply(
        &engine.config,
        !engine.config.string_named("replicaof").trim().is_empty(),
    );
    // The AOF, when on, is the dataset: the RDB file is not read (as Redis).
    if aof::init(&state).is_err() {
        return 1;
    }
    let exit_state = state.clone();
    let code = rt.block_on(async move {
        // LOADING before the first client can be served: with several worker
        // threads a connection accepted at once could otherwise run a command
        // (PING answered +PONG) before the load begins, and the next get -LOADING.
        engine
            .gates
            .loading
            .store(true, std::sync::atomic::Ordering::Relaxed);
        listen::start(state.clone(), listeners);
        // Before the load: a dataset loading while fragmented is defragmented
        // as it loads, as Redis's cron does while it loads.
        alloc::install_defrag_hooks();
        alloc::set_background_thread(engine.config.int_named("jemalloc-bg-thread") != 0);
        active_defrag::start(engine.clone(), state.clone());
        if !load_dataset(&state).await {
            return 1;
        }
        start_active_expiry(engine.clone(), state.clone());
        start_evictor(engine.clone(), state.clone());
        crate::memory::record_startup();
        persistence::start_save_points(state.clone());
        aof::start_cron(state.clone());
        if let Err(e) = metrics::start(&state) {
            tracing::warn!("{e}");
            return 1;
        }
        replication::start(&state);
        if port != 0 {
            tracing::info!("Ready to accept connections");
        }
        let unixsocket = state.engine.config.string(P::Unixsocket);
        if !unixsocket.is_empty() {
            tracing::info!("The server is now ready to accept connections at {unixsocket}");
        }
        tracing::debug!(
            "ferrokv {} (Redis {REDIS_VERSION} compatible), {} thread(s)",
            env!("CARGO_PKG_VERSION"),
            opts.threads
        );
        shutdown::run_until_exit(&state).await;
        0
    });
    // The shutdown (`shutdown::prepare`) has flushed, saved and said bye bye.
    crate::persistence::remove_temp_files(&exit_state.engine);
    aof::remove_temp_files(&exit_state);
    rt.shutdown_timeout(Duration::from_millis(200));
    code
}

/// Loads the AOF (when on) or the RDB file on a blocking thread while the
/// runtime serves clients LOADING; false when the server must exit. A SIGTERM
/// or SIGINT during the load exits at once without saving (Redis's
/// whileBlockedCron: prepareForShutdown(SHUTDOWN_NOSAVE)).
async fn load_dataset(state: &Arc<ServerState>) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let engine = &state.engine;
    rdb_load::PROGRESS.begin(0);
    engine.gates.loading.store(true, Relaxed);
    let st = state.clone();
    let load = tokio::task::spawn_blocking(move || {
        if st.engine.config.bool(P::Appendonly) {
            aof::load_at_startup(&st).map(|_| ())
        } else {
            persistence::load_at_startup(&st.engine).map(|_| ())
        }
    });
    tokio::pin!(load);
    let result = loop {
        tokio::select! {
            r = &mut load => break r,
            _ = recv_signal(&mut term) => {}
            _ = recv_signal(&mut int) => {}
        }
        tracing::warn!("Received shutdown signal during loading, scheduling shutdown.");
        if shutdown::prepare(state, shutdown::NOSAVE) {
            std::process::exit(0);
        }
        tracing::warn!("SIGTERM received but errors trying to shut down the server, check the logs for more information");
    };
    // A failed load leaves the gate set: the process exits, and until it does a
    // client must not see an empty dataset served (PING answered +PONG).
    if matches!(result, Ok(Ok(()))) {
        engine.gates.loading.store(false, Relaxed);
    }
    match result {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!("{e}");
            false
        }
        Err(e) => {
            tracing::error!("the load failed: {e}");
            false
        }
    }
}

async fn recv_signal(s: &mut Option<tokio::signal::unix::Signal>) {
    match s.as_mut() {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

fn stdout_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(1) == 1 }
}

/// The background evictor (Redis's evictionTimeProc): when an eviction ran out of
/// its time budget, or a lowered maxmemory could not be applied at once (CONFIG
/// SET inside EXEC), it goes on evicting here, holding no lock in between.
fn start_evictor(engine: Arc<Engine>, state: Arc<ServerState>) {
    let spawned = std::thread::Builder::new()
        .name("evictor".into())
        .spawn(move || {
            while !state
                .shutting_down
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                engine.evict.wait(Duration::from_millis(100));
                ferrokv_core::evict::background(&engine, &*state);
                crate::alloc::flush_idle_thread_cache();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the evictor thread: {e}");
    }
}

/// Active expiry runs on its own thread, `hz` times a second, spending at most a
/// quarter of each period (Redis's ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC).
fn start_active_expiry(engine: Arc<Engine>, state: Arc<ServerState>) {
    let spawned = std::thread::Builder::new()
        .name("active-expire".into())
        .spawn(move || {
            let mut resume = 0usize;
            while !state
                .shutting_down
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                // Commands derive their wall time from the monotonic clock; keep
                // the two measured against each other.
                engine.clock.reanchor();
                let hz = engine.config.int(P::Hz).clamp(1, 500) as u64;
                let period = Duration::from_micros(1_000_000 / hz);
                let effort = engine.config.int(P::ActiveExpireEffort).clamp(1, 10) as u32;
                let budget = period * (25 + 2 * (effort - 1)) / 100;
                // Nothing changes the data while a shutdown runs, nor while DEBUG
                // SET-ACTIVE-EXPIRE 0 / PAUSE-CRON 1 hold it.
                // A replica expires nothing itself: its master sends the DELs.
                if state.debug.active_expire_on()
                    && !engine.halted.load(std::sync::atomic::Ordering::Relaxed)
                {
                    if !replica_link::is_replica(&state) {
                        if engine.active_expire_cycle_with(budget, &mut resume, &*state) > 0 {
                            // What it freed sits in this thread's cache until
                            // flushed (see alloc::flush_idle_thread_cache).
                            crate::alloc::flush_idle_thread_cache();
                        }
                    } else if !engine.replica_keys.is_empty() {
                        // Only what its own clients gave a TTL (writable replica).
                        engine.expire_replica_keys(&*state);
                    }
                }
                // Redis's clientsCron / serverCron parts: soft output-buffer limits
                // of clients nothing is posted to, the tracking table's size.
                if state.debug.cron_on() {
                    obuf::cron(&state);
                    conn::free_idle_query_buffers(&state);
                    client_mem::cron(&state);
                    if engine.tracking.active() {
                        // No client's command runs: nothing is written here.
                        let mut none = ferrokv_resp::ReplyBuf::new(ferrokv_resp::Protocol::Resp2);
                        engine.tracking_limit(0, &*state, &mut none);
                        engine.tracking_broadcast(&*state);
                    }
                }
                std::thread::sleep(period);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start active expiry: {e}");
    }
}

fn daemonize() -> std::io::Result<()> {
    // SAFETY: called before any runtime or worker thread exists; the parent exits
    // immediately and the child continues single-threaded.
    unsafe {
        match libc::fork() {
            -1 => return Err(std::io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let devnull = std::ffi::CString::new("/dev/null").map_err(std::io::Error::other)?;
        let fd = libc::open(devnull.as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    Ok(())
}
