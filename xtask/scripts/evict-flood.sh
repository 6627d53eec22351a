#!/usr/bin/env bash
# A write flood against a full cache: redis-benchmark SETs of new keys into a
# server with maxmemory and allkeys-lru, so that nearly every SET evicts a key.
# Servers are pinned to core 0 and the benchmark to core 1; each round runs
# redis-server and then each ferrokv binary given, one fresh process each.
# Prints SET/s, the server's CPU time per SET (from /proc/PID/stat) and its peak
# RSS (VmHWM) as a multiple of maxmemory.
#
#   xtask/scripts/evict-flood.sh [--size BYTES] [--maxmemory 50mb] [--rounds N]
#                                [--requests N] FERROKV_BINARY...
set -euo pipefail
size=1000 maxmemory=50mb rounds=3 requests=500000 bins=()
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=$2; shift 2 ;;
    --maxmemory) maxmemory=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || bins=("$(cd "$(dirname "$0")/../.." && pwd)/target/release/ferrokv-server")
limit_kb=$(python3 -c "import re;m=re.fullmatch(r'(\d+)(mb|gb)','$maxmemory');print(int(m[1])*(1024 if m[2]=='mb' else 1048576))")
tick=$(getconf CLK_TCK)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT

run() { # label port command...
  local label=$1 port=$2; shift 2
  taskset -c 0 "$@" --port "$port" --save '' --appendonly no --maxmemory "$maxmemory" \
    --maxmemory-policy allkeys-lru >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local c0 c1 rps hwm
  c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  rps=$(taskset -c 1 redis-benchmark -p "$port" -q -t set -d "$size" -n "$requests" \
    -r 100000000 -P 16 -c 50 --csv 2>&1 | tail -1 | cut -d, -f2 | tr -d '"')
  c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  printf '%-40s SET/s %9.0f  CPU µs/SET %5.2f  peak RSS %.3fx maxmemory\n' "$label" "$rps" \
    "$(python3 -c "print(($c1-$c0)/$tick*1e6/$requests)")" \
    "$(python3 -c "print($hwm/$limit_kb)")"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

echo "SET of $size-byte values, new keys, maxmemory $maxmemory allkeys-lru, $requests requests"
for r in $(seq "$rounds"); do
  echo "round $r"
  run redis-server 7851 redis-server
  i=0
  for b in "${bins[@]}"; do
    i=$((i + 1))
    run "$b" $((7851 + i)) "$b" --threads 1
  done
done
