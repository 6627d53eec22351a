//! Build automation for ferrokv, in Rust rather than shell (the cargo-xtask
//! convention): `cargo xtask <command>`, see `usage()`.

mod bench;
mod fuzz;
mod lint;
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
  fuzz [--seconds N]           every cargo-fuzz target of crates/*/fuzz, N seconds each
                               (default 60)
  gen-docs                     regenerate docs/compatibility.md from the command table
  redis-suite [--spawn] [--only unit/a,integration/b] [--json FILE]
                               Redis 7.0.15's own Tcl tests against the release build
                               with ../shared/redis-suite/run.sh, scored against
                               redis-server's results (--spawn: the harness starts
                               ferrokv-server itself; needs the Redis source, it says
                               how to get it when missing)
  crash [--cycles N]           appendfsync always crash test: N (default 100) cycles of
                               writers + kill -9 + restart; prints the number of
                               acknowledged writes lost (must be 0)"
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
        "crash" => {
            let cycles = match rest {
                [flag, n] if flag == "--cycles" => n.clone(),
                _ => "100".to_string(),
            };
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
            )
        }
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
