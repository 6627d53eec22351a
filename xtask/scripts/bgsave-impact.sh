#!/usr/bin/env bash
# What a BGSAVE costs the clients of a busy server: p99 latency of redis-benchmark
# SET traffic without and during back-to-back BGSAVEs, and the peak extra RSS while
# saving, for ferrokv (fork-less snapshot) and redis-server (fork).
#
#   xtask/scripts/bgsave-impact.sh [keys] [seconds]
set -euo pipefail
keys=${1:-1000000}
secs=${2:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
ferrokv="$root/target/release/ferrokv-server"
[ -x "$ferrokv" ] || { echo "build first: cargo build --release -p ferrokv-server" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# Peak RSS of a process and its children (redis forks) while $2 exists.
peak_rss() {
  local p=$1 flag=$2 peak=0 now kids
  while [ -e "$flag" ]; do
    now=$(rss_kb "$p" 2>/dev/null || true); now=${now:-0}
    for k in $(pgrep -P "$p" 2>/dev/null); do
      local v; v=$(rss_kb "$k" 2>/dev/null || true); now=$((now + ${v:-0}))
    done
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.02
  done
  echo "$peak"
}

p99() { # port seconds
  local n
  n=$(( 40000 * $2 ))
  redis-benchmark -p "$1" -c 50 -n "$n" -r "$keys" -t set --csv 2>/dev/null |
    awk -F'","' 'NR==2 {gsub(/"/,"",$7); print $7}'
}

run() { # name command...
  local name=$1; shift
  local port=$((18000 + RANDOM % 1000))
  (cd "$tmp" && exec "$@" --port "$port" --dir "$tmp" --dbfilename "dump-$name.rdb" >/dev/null 2>&1) &
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" config set save "" >/dev/null
  awk -v n="$keys" 'BEGIN{for(i=0;i<n;i++) printf "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$16\r\n0123456789abcdef\r\n", length("key:" i), i}' |
    redis-cli -p "$port" --pipe >/dev/null
  local base quiet busy flag peak
  base=$(rss_kb "$pid")
  quiet=$(p99 "$port" "$secs")
  flag="$tmp/saving"; touch "$flag"
  peak_rss "$pid" "$flag" > "$tmp/peak" &
  local watcher=$!
  ( end=$((SECONDS + secs)); while [ $SECONDS -lt $end ]; do
      redis-cli -p "$port" bgsave >/dev/null 2>&1
      while redis-cli -p "$port" info persistence 2>/dev/null | grep -q 'rdb_bgsave_in_progress:1'; do sleep 0.05; done
    done ) &
  local saver=$!
  busy=$(p99 "$port" "$secs")
  wait "$saver"; rm -f "$flag"; wait "$watcher"
  peak=$(cat "$tmp/peak")
  echo "| $name | $quiet | $busy | $(awk -v a="$busy" -v b="$quiet" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') | $(( (peak - base) / 1024 )) | $(( base / 1024 )) |"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

echo "| server | p99 ms quiet | p99 ms during BGSAVE | ratio | extra RSS MiB while saving | RSS MiB before |"
echo "|---|---:|---:|---:|---:|---:|"
run redis redis-server --appendonly no
run ferrokv "$ferrokv"
