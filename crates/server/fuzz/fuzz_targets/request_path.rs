//! The whole request path on arbitrary client bytes: the connection loop
//! (`conn::serve`) reads them, the request parser splits them, the command
//! table dispatches, commands run against a real keyspace (one engine for the
//! whole run, so state carries over between inputs as it does on a live
//! server), replies are encoded and written back. Errors are fine; a panic, a
//! hang past the idle timeout being the server's fault, or a sanitizer report
//! is a bug.
//!
//! Inputs that would stop the process or touch the machine (SHUTDOWN, DEBUG,
//! SAVE-like commands writing files, CONFIG SET, MONITOR floods) are skipped:
//! they are covered by integration tests, not by this target.
//!
//! `cargo xtask fuzz` runs it (`cargo fuzz run request_path` from crates/server).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ferrokv_core::config::Config;
use ferrokv_core::Engine;
use ferrokv_server::clients::ClientHandle;
use ferrokv_server::state::ServerState;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct World {
    rt: tokio::runtime::Runtime,
    state: Arc<ServerState>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        // No chdir to a scratch folder: libFuzzer reads the corpus by relative
        // paths after the first input ran. Nothing that writes files runs here
        // (SAVE, CONFIG SET dir, DEBUG... are skipped).
        // Bounded memory: strings and bitmaps stop at 1 MiB (SETRANGE and SETBIT
        // with huge offsets are legal and would allocate 512 MiB), and the
        // keyspace, which lives across inputs, evicts past 32 MiB.
        let config = Config::default();
        for (name, value) in [
            ("proto-max-bulk-len", "1mb"),
            ("maxmemory", "32mb"),
            ("maxmemory-policy", "allkeys-random"),
        ] {
            if config.set(name, value, true).is_err() {
                panic!("fuzz config {name} {value} refused");
            }
        }
        let engine = Arc::new(Engine::new(config, ferrokv_server::SERVER_COMMANDS));
        let state = Arc::new(ServerState::new(engine, None, 2));
        World { rt, state }
    })
}

/// Words that make a command leave the request path (stop the process, write
/// files, reconfigure the server) or wait without end by design.
const SKIPPED: &[&[u8]] = &[
    b"shutdown",
    b"debug",
    b"save",
    b"bgsave",
    b"bgrewriteaof",
    b"config",
    b"monitor",
    b"replicaof",
    b"slaveof",
    b"sync",
    b"psync",
    b"failover",
    b"migrate",
    b"acl",
];

fn skipped(data: &[u8]) -> bool {
    let lower = data.to_ascii_lowercase();
    SKIPPED
        .iter()
        .any(|w| lower.windows(w.len()).any(|x| x == *w))
}

fuzz_target!(|data: &[u8]| {
    if skipped(data) {
        return;
    }
    let w = world();
    let state = w.state.clone();
    let data = data.to_vec();
    w.rt.block_on(async move {
        let id = state.clients.next_id();
        let handle = Arc::new(ClientHandle::new(id, None, None, -1, None));
        state.clients.add(handle.clone());
        let (mut peer, server_side) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(ferrokv_server::conn::serve(
            server_side,
            state.clone(),
            handle.clone(),
        ));
        // Send everything, then end the stream: the server answers what it
        // parsed and closes on the end of input. Read its replies meanwhile (a
        // full duplex buffer would stall it). A command that blocks (BLPOP 0)
        // keeps it from reading the end: kill it then, as CLIENT KILL would.
        let (mut rd, mut wr) = tokio::io::split(peer);
        let writer = async move {
            let _ = wr.write_all(&data).await;
            let _ = wr.shutdown().await;
        };
        let reader = async move {
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        };
        let both = async { tokio::join!(writer, reader) };
        if tokio::time::timeout(Duration::from_millis(200), both)
            .await
            .is_err()
        {
            handle.kill();
        }
        // A kill is seen between two commands: one long command on the keyspace
        // grown over many inputs (XRANGE of a big stream under ASan, on a
        // starved machine) may take seconds before that. 5 s gave a false hang.
        match tokio::time::timeout(Duration::from_secs(60), task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Ok(Err(_)) => {}
            Err(_) => panic!("the connection task did not end after a kill"),
        }
        state.clients.remove(id);
    });
});
