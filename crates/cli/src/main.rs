//! ferrokv-cli: a drop-in replacement for redis-cli 7.0. Same flags, same output,
//! same exit codes, against any Redis-compatible server.

mod args;
mod connection;
mod docs;
mod output;
mod repl;
mod session;
mod split;
mod tls;
mod tools;
mod usage;

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use args::{ArgsOutcome, Config, Mode};
use output::format::OutputMode;
use session::{Fatal, Session};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut config = match args::parse(&argv) {
        Ok(c) => c,
        Err(ArgsOutcome::Help) => {
            usage::print();
            return ExitCode::SUCCESS;
        }
        Err(ArgsOutcome::Version) => {
            println!("{}", usage::version());
            return ExitCode::SUCCESS;
        }
        Err(ArgsOutcome::Error(m)) => {
            eprintln!("{m}");
            return ExitCode::FAILURE;
        }
    };
    if config.askpass {
        config.password = Some(repl::ask_password("Please input password: "));
        config.password_on_cmdline = false;
    } else if config.password.is_none() {
        if let Ok(p) = std::env::var("REDISCLI_AUTH") {
            config.password = Some(p.into_bytes());
        }
    }
    if config.password_on_cmdline && !config.no_auth_warning {
        eprintln!("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.");
    }
    let stdout_tty = std::io::stdout().is_terminal();
    let output = if config.csv {
        OutputMode::Csv
    } else if config.quoted_json {
        OutputMode::QuotedJson
    } else if config.json {
        OutputMode::Json
    } else {
        match config.raw {
            Some(true) => OutputMode::Raw,
            Some(false) => OutputMode::Tty,
            None if stdout_tty => OutputMode::Tty,
            None => OutputMode::Raw,
        }
    };
    let show_pushes = config.show_pushes.unwrap_or(stdout_tty);
    match run(config, output, show_pushes) {
        Ok(code) => code,
        Err(Fatal::Message(m)) => {
            eprintln!("{m}");
            ExitCode::FAILURE
        }
        Err(Fatal::Silent) => ExitCode::FAILURE,
    }
}

fn run(mut config: Config, output: OutputMode, show_pushes: bool) -> Result<ExitCode, Fatal> {
    match config.mode.clone() {
        Mode::Normal => {}
        Mode::Pipe => return tools::pipe::run(&config),
        Mode::Scan => return tools::scan::run(&config, output),
        Mode::BigKeys => return tools::keys::run(&config, false),
        Mode::MemKeys => return tools::keys::run(&config, true),
        Mode::Stat => return tools::stat::run(&config, ()),
        Mode::Latency | Mode::LatencyHistory | Mode::LatencyDist => {
            return tools::latency::run(&config, output)
        }
        Mode::Rdb(file) => return tools::rdb::run(&config, (&file, false)),
        Mode::FunctionsRdb(file) => return tools::rdb::run(&config, (&file, true)),
        Mode::Replica => return tools::rdb::replica(&config),
        Mode::HotKeys => return tools::keys::hot(&config),
        Mode::IntrinsicLatency(secs) => return tools::intrinsic::run(secs),
        Mode::LruTest(_) | Mode::Cluster(_) => {
            return Err(Fatal::Message(
                "This mode is not supported by ferrokv-cli yet.".into(),
            ))
        }
    }
    if let Some(file) = config.eval_file.clone() {
        config.command = tools::eval::command(&file, &config.command)?;
    }
    if config.quoted_input {
        config.command = unquote_args(&config.command)?;
    }
    let interactive_input = config.command.is_empty();
    if !interactive_input && (config.stdin_last_arg || config.stdin_tag.is_some()) {
        let mut input = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut input) {
            return Err(Fatal::Message(format!("Reading from stdin: {e}")));
        }
        match config.stdin_tag.clone() {
            Some(tag) => {
                if let Some(slot) = config.command.iter_mut().find(|a| **a == tag) {
                    *slot = input;
                }
            }
            None => config.command.push(input),
        }
    }
    if interactive_input && std::io::stdin().is_terminal() {
        return repl::run(Session::new(config, output, show_pushes, true));
    }
    let command = std::mem::take(&mut config.command);
    let repeat = config.repeat;
    let mut session = Session::new(config, output, show_pushes, false);
    session.ensure_connected().map_err(Fatal::Message)?;
    if interactive_input {
        run_stdin_script(&mut session)?;
    } else {
        session.run_command(&command, repeat)?;
    }
    if session.had_error && session.config.exit_on_error {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--quoted-input`: every argument is a quoted string to unescape. redis-cli says
/// what is wrong on stdout.
fn unquote_args(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Fatal> {
    args.iter()
        .map(|a| match split::split_args(a) {
            Some(mut p) if p.len() == 1 => Ok(p.pop().unwrap_or_default()),
            _ => {
                println!("Invalid quoted string");
                Err(Fatal::Silent)
            }
        })
        .collect()
}

/// No command and stdin is not a terminal: each line of stdin is a command.
fn run_stdin_script(session: &mut Session) -> Result<(), Fatal> {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        return Err(Fatal::Message(format!("Reading from stdin: {e}")));
    }
    // Lines from stdin run once each, and an error is just printed (no -r, no -e).
    session.config.exit_on_error = false;
    for line in input.split(|&b| b == b'\n') {
        match split::split_args(line) {
            None => println!("Invalid argument(s)"),
            Some(args) if args.is_empty() => {}
            // The session ends here, as it would at the prompt.
            Some(args)
                if args[0].eq_ignore_ascii_case(b"quit")
                    || args[0].eq_ignore_ascii_case(b"exit") =>
            {
                break
            }
            Some(args) => session.run_command(&args, 1)?,
        }
    }
    Ok(())
}
