#!/usr/bin/env bash
# Write throughput of a master with two replicas attached, ferrokv against
# redis-server, and the replication lag during and right after the load.
# For each kind: a master and two replicas of the same kind on loopback (each
# process pinned to CPU 0 with the benchmark on CPU 1 where there are two), then
# redis-benchmark SET against the master; the replicas' lag is the master's
# master_repl_offset minus the smallest replica offset (INFO replication),
# sampled in the middle of the load and when it ends.
#
#   xtask/scripts/repl-bench.sh [--requests N] [--pipeline P] [--ferrokv PATH]
#
# Defaults: 1,000,000 requests, pipeline 16, 50 clients, 3 bytes values,
# ./target/release/ferrokv-server (--threads 1, one core as compare.sh). Prints a
# markdown table; ratios are ferrokv/redis (throughput: above 1 is faster).
set -euo pipefail
requests=1000000 pipeline=16
root=$(cd "$(dirname "$0")/../.." && pwd)
ferrokv="$root/target/release/ferrokv-server"
while [ $# -gt 0 ]; do
  case $1 in
    --requests) requests=$2; shift 2 ;;
    --pipeline) pipeline=$2; shift 2 ;;
    --ferrokv) ferrokv=$2; shift 2 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
work=$(mktemp -d /tmp/repl-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
server_cpu=0 bench_cpu=0
[ "$(nproc)" -ge 2 ] && bench_cpu=1

start() { # kind port [replicaof-port]
  local kind=$1 port=$2 dir="$work/$1-$2"
  mkdir -p "$dir"
  local args=(--port "$port" --save "" --appendonly no --dir "$dir" --repl-diskless-sync-delay 0)
  [ $# -ge 3 ] && args+=(--replicaof "127.0.0.1 $3")
  if [ "$kind" = ferrokv ]; then
    taskset -c $server_cpu "$ferrokv" "${args[@]}" --threads 1 >"$dir/log" 2>&1 &
  else
    taskset -c $server_cpu redis-server "${args[@]}" >"$dir/log" 2>&1 &
  fi
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "$kind on $port did not start"; exit 1
}

field() { redis-cli -p "$1" info replication | tr -d '\r' | sed -n "s/^$2://p"; }

lag() { # master port, replica ports...
  local m=$1; shift
  local off; off=$(field "$m" master_repl_offset)
  local min=$off
  for r in "$@"; do
    local o; o=$(field "$r" slave_repl_offset)
    [ -n "$o" ] && [ "$o" -lt "$min" ] && min=$o
  done
  echo $((off - min))
}

run() { # kind base-port
  local kind=$1 m=$2 r1=$(($2 + 1)) r2=$(($2 + 2))
  start "$kind" "$m"
  start "$kind" "$r1" "$m"
  start "$kind" "$r2" "$m"
  for _ in $(seq 200); do
    [ "$(field "$m" connected_slaves)" = 2 ] && [ "$(field "$r1" master_link_status)" = up ] &&
      [ "$(field "$r2" master_link_status)" = up ] && break
    sleep 0.05
  done
  taskset -c $bench_cpu redis-benchmark -p "$m" -t set -n "$requests" -P "$pipeline" -c 50 -r 100000 -q --csv \
    >"$work/$kind.csv" 2>/dev/null &
  local b=$!
  sleep 1
  local mid; mid=$(lag "$m" "$r1" "$r2")
  wait $b
  local end; end=$(lag "$m" "$r1" "$r2")
  local rps; rps=$(grep '"SET"' "$work/$kind.csv" | cut -d, -f2 | tr -d '"')
  echo "$kind $rps $mid $end"
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pids=()
}

read -r _ f_rps f_mid f_end < <(run ferrokv 17100)
read -r _ r_rps r_mid r_end < <(run redis 17200)
ratio=$(awk -v a="$f_rps" -v b="$r_rps" 'BEGIN { printf "%.2f", a / b }')
echo "| master with 2 replicas, SET P$pipeline, $requests requests | ferrokv | redis-server | ratio |"
echo "|---|---:|---:|---:|"
echo "| throughput (requests/s) | $f_rps | $r_rps | $ratio |"
echo "| lag 1 s into the load (bytes) | $f_mid | $r_mid | |"
echo "| lag when the load ends (bytes) | $f_end | $r_end | |"
