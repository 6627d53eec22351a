//! Build automation for ferrokv, in Rust rather than shell (the cargo-xtask
//! convention): `cargo xtask <command>`, see `usage()`.

mod bench;
mod fuzz;
mod lint;
mod meta;
mod pubsub_bench;
mod script_bench;
mod sentinel_suite;
mod streams_bench;
mod suite;
mod test;
mod util;

use std::process::ExitCode;

fn usage() -> &'static str {
    "usage: cargo xtask <command> [args]

commands:
  test [cargo test args]       what CI runs: installs redis-server/redis-cli and the
                               python redis package if missing, builds every binary,
                               runs cargo test --workspace
  lint                         cargo fmt --check and clippy -D warnings
  bench [cargo bench args]     the criterion benches of every crate
  bench compare [--quick] [compare.sh args]
                               release build of ferrokv-server against redis-server
                               with ../shared/bench/compare.sh (report in
                               target/bench-compare.md)
  bench pubsub [--seconds S] [--rounds N] [--threads-scaling] [--only a,b] [--out FILE]
                               Pub/Sub fan-out (1 and 100 subscribers, 100 patterns),
                               PUBLISH alone, GET/SET with 1000 idle subscribers:
                               ferrokv --threads 1 against redis-server, one core each
  bench scripting [--seconds S] [--rounds N] [--out FILE]
                               EVALSHA (return 1, one INCR, ten commands) and FCALL at
                               pipeline 1 and 16, ferrokv --threads 1 against
                               redis-server, one core each
  bench streams [--seconds S] [--rounds N] [--only a,b] [--out FILE]
                               XADD (with and without MAXLEN ~), XRANGE of 10 and 100,
                               XREADGROUP + XACK at pipeline 1 and 16: ferrokv
                               --threads 1 against redis-server, one core each
  fuzz [--seconds N]           every cargo-fuzz target of crates/*/fuzz, N seconds each
                               (default 60)
  gen-docs                     regenerate docs/compatibility.md from the command table
  redis-suite [--spawn] [--only unit/a,integration/b] [--json FILE]
                               Redis 7.0.15's own Tcl tests against the release build
                               with ../shared/redis-suite/run.sh, scored against
                               redis-server's results (--spawn: the harness starts
                               ferrokv-server itself; needs the Redis source, it says
                               how to get it when missing)
  redis-suite --sentinel       Redis 7.0.15's Sentinel suite (runtest-sentinel): Debian's
                               redis-sentinel managing ferrokv-server instances
  gen-command-meta [--port N]  regenerate crates/core/data/redis-7.0.15-command-{info,docs}.resp3
                               (the command table's source) from COMMAND INFO / COMMAND
                               DOCS in RESP3 of a redis-server 7.0.15: one it starts, or
                               the one running on port N
  crash [--cycles N] [--shutdown-cycles M]
                               appendfsync always crash test: N (default 100) cycles of
                               writers + kill -9 + restart; then the graceful shutdown
                               test: M (default 30) cycles per appendfsync policy of
                               writers + SIGTERM / SIGINT / SHUTDOWN + restart. The
                               first prints the acknowledged writes lost (must be 0),
                               the second fails on the first one lost"
}

/// `cargo xtask crash`: the kill -9 test, then the graceful shutdown test, with
/// many cycles.
fn crash(rest: &[String]) -> util::Result {
    let (mut cycles, mut shutdown_cycles) = ("100".to_string(), "30".to_string());
    let mut args = rest.iter();
    while let Some(flag) = args.next() {
        let value = args.next().filter(|v| v.parse::<usize>().is_ok());
        match (flag.as_str(), value) {
            ("--cycles", Some(v)) => cycles = v.clone(),
            ("--shutdown-cycles", Some(v)) => shutdown_cycles = v.clone(),
            _ => return Err(format!("crash: bad arguments {rest:?}\n\n{}", usage())),
        }
    }
    util::run(
        util::cargo()
            .args([
                "test",
                "-p",
                "ferrokv-tests",
                "--test",
                "aof",
                "appendfsync_always_survives_kill_9",
                "--",
                "--nocapture",
            ])
            .env("FERROKV_CRASH_CYCLES", cycles),
    )?;
    util::run(
        util::cargo()
            .args([
                "test",
                "-p",
                "ferrokv-tests",
                "--test",
                "shutdown",
                "shutdown_under_load",
                "--",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("FERROKV_SHUTDOWN_CYCLES", shutdown_cycles),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{}", usage());
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "test" => test::main(rest),
        "lint" => lint::main(rest),
        "bench" => bench::main(rest),
        "fuzz" => fuzz::main(rest),
        "redis-suite" => suite::main(rest),
        "gen-docs" => util::run(
            util::cargo()
                .args(["test", "-p", "ferrokv-server", "--test", "compat_doc"])
                .env("FERROKV_BLESS", "1"),
        ),
        "gen-command-meta" => meta::main(rest),
        "crash" => crash(rest),
        "help" | "-h" | "--help" => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("xtask: unknown command {other:?}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
