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
ferrokv="${FERROKV_BIN:-$root/target/release/ferrokv-server}"
[ -x "$ferrokv" ] || { echo "build first: cargo build --release -p ferrokv-server" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# Proportional set size: pages a forked child still shares with its parent are
# counted once between them (summing RSS would count them twice).
rss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }

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
  # Same key names and value size as the loaded dataset: the writes overwrite it
  # rather than grow it, so the extra memory is the save's own.
  redis-benchmark -p "$1" -c 50 -n "$n" -r "$keys" -d 16 -t set --csv 2>/dev/null |
    awk -F'","' 'NR==2 {gsub(/"/,"",$7); print $7}'
}

run() { # name command...
  local name=$1; shift
  local port=$((18000 + RANDOM % 1000))
  (cd "$tmp" && exec "$@" --port "$port" --dir "$tmp" --dbfilename "dump-$name.rdb" >/dev/null 2>&1) &
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" config set save "" >/dev/null
  local empty; empty=$(rss_kb "$pid")
  # redis-benchmark's names for -r: key:%012d.
  awk -v n="$keys" 'BEGIN{for(i=0;i<n;i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nxxxxxxxxxxxxxxxx\r\n", i}' |
    redis-cli -p "$port" --pipe >/dev/null
  local base quiet busy flag peak
  quiet=$(p99 "$port" "$secs")
  base=$(rss_kb "$pid")
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
  echo "| $name | $quiet | $busy | $(awk -v a="$busy" -v b="$quiet" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') | $(( (peak - base) / 1024 )) | $(( (base - empty) / 1024 )) | $(awk -v a="$((peak - base))" -v b="$((base - empty))" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') |"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

echo "| server | p99 ms quiet | p99 ms during BGSAVE | p99 ratio | extra memory MiB while saving (Pss) | dataset MiB (Pss growth of the load) | extra / dataset |"
echo "|---|---:|---:|---:|---:|---:|---:|"
run redis redis-server --appendonly no
run ferrokv "$ferrokv"
