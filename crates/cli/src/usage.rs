//! `--help` and `--version`.

/// The version line.
pub fn version() -> String {
    format!(
        "ferrokv-cli {} (redis-cli 7.0 compatible)",
        env!("CARGO_PKG_VERSION")
    )
}

const USAGE: &str = "
Usage: ferrokv-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Unix socket path (overrides hostname and port).
  -a <password>      Password (REDISCLI_AUTH in the environment is safer).
  --user <username>  ACL user name for AUTH; needs -a.
  --pass <password>  Same as -a.
  --askpass          Read the password from the terminal, masked.
  -u <uri>           redis://[[user]:password@]host[:port][/db] (rediss:// for TLS).
  -r <repeat>        Run the command N times (negative: forever).
  -i <interval>      Seconds to wait between repeats (and --scan/--stat cycles).
  -n <db>            Database number.
  -2 / -3            Talk RESP2 / RESP3.
  -x                 Read the last argument from stdin.
  -X <tag>           Read the argument equal to <tag> from stdin.
  -d <delimiter>     Separator between bulks in raw output (default: \\n).
  -D <delimiter>     Separator between replies in raw output (default: \\n).
  -c                 Cluster mode: follow -MOVED and -ASK redirections.
  -e                 Exit with status 1 when a command fails.
  --tls, --sni <host>, --cacert <file>, --cacertdir <dir>, --insecure,
  --cert <file>, --key <file>
                     TLS connection settings.
  --raw / --no-raw   Raw output (the default when stdout is not a terminal) / formatted.
  --quoted-input     Arguments are quoted strings.
  --csv, --json, --quoted-json
                     Output as CSV, JSON, or ASCII-only JSON.
  --show-pushes <yn> Print RESP3 push messages (default: when stdout is a terminal).
  --stat             Rolling server stats.
  --latency, --latency-history, --latency-dist
                     Sample the server's latency.
  --rdb <filename>   Save an RDB from the server (\"-\" for stdout).
  --functions-rdb <filename>  Same, functions only.
  --pipe             Send raw RESP from stdin to the server.
  --pipe-timeout <n> Seconds to wait for the last --pipe reply (0: forever; default 30).
  --bigkeys          Find the keys with the most elements.
  --memkeys          Find the keys using the most memory.
  --memkeys-samples <n>  Elements to sample per key for --memkeys.
  --scan             List keys with SCAN.
  --pattern <pat>    Key pattern for --scan, --bigkeys, --memkeys (default: *).
  --quoted-pattern <pat>  Same, as a quoted string.
  --eval <file>      EVAL the Lua script in <file>: keys , args.
  --verbose          Verbose mode.
  --no-auth-warning  No warning about passwords on the command line.
  --help             This help.
  --version          The version.

Examples:
  cat /etc/passwd | ferrokv-cli -x set mypasswd
  ferrokv-cli -r 100 lpush mylist x
  ferrokv-cli --eval myscript.lua key1 key2 , arg1 arg2
  ferrokv-cli --scan --pattern '*:12345*'

Without a command, ferrokv-cli starts an interactive session; type \"help\" there.
";

/// Prints the usage text to stdout, as redis-cli does.
pub fn print() {
    print!("{}\n{}", version(), USAGE);
}
