#!/usr/bin/env bash
# Side-by-side redis-benchmark of commands compare.sh does not cover (ZRANGE of 100
# members, ZRANGEBYSCORE, HGETALL, SMEMBERS, ...): redis-server and ferrokv-server
# on the same pinned CPU, alternating runs, median rps ratio per command.
#
#   xtask/scripts/bench-commands.sh [rounds] [seconds-per-run]
#
# Prints a markdown table. Ratios only: absolute numbers vary with the machine.
set -euo pipefail
rounds=${1:-3}
secs=${2:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
ferrokv="$root/target/release/ferrokv-server"
[ -x "$ferrokv" ] || { echo "build first: cargo build --release -p ferrokv-server" >&2; exit 1; }
pin_srv=""; pin_cli=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin_srv="taskset -c 0"; pin_cli="taskset -c 1"; fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
port_r=$((17000 + RANDOM % 500)); port_f=$((port_r + 500))
(cd "$tmp" && exec $pin_srv redis-server --port "$port_r" --save '' --appendonly no >/dev/null) & pids+=($!)
(cd "$tmp" && exec $pin_srv "$ferrokv" --port "$port_f" --save '' >/dev/null 2>&1) & pids+=($!)
for p in $port_r $port_f; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
populate() {
  local p=$1
  redis-cli -p "$p" flushall >/dev/null
  for i in $(seq 0 99); do echo "ZADD z100 $i member:$i"; echo "HSET h100 field:$i value:$i"; echo "SADD s100 member:$i"; done | redis-cli -p "$p" >/dev/null
  for i in $(seq 0 999); do echo "ZADD z1000 $i member:$i"; done | redis-cli -p "$p" >/dev/null
}
populate $port_r; populate $port_f
cmds=(
  "ZRANGE z100 0 99"
  "ZRANGE z100 0 99 WITHSCORES"
  "ZRANGEBYSCORE z100 -inf +inf"
  "ZRANGE z1000 0 99"
  "ZRANGEBYSCORE z1000 100 199"
  "ZSCORE z1000 member:500"
  "ZRANK z1000 member:500"
  "HGETALL h100"
  "SMEMBERS s100"
)
rps() { # port pipeline command...
  local p=$1 pl=$2; shift 2
  $pin_cli redis-benchmark -p "$p" -c 50 -P "$pl" -n "$N" --csv "$@" 2>/dev/null | awk -F'","' 'NR==2 {print $2+0}'
}
echo "| command | pipeline | ref rps | ferrokv rps | ratio |"
echo "|---|---:|---:|---:|---:|"
for pl in 1 16; do
  for c in "${cmds[@]}"; do
    # Calibrate -n so one run lasts about $secs on redis.
    N=20000
    r0=$(rps $port_r $pl $c); N=$(awk -v r="$r0" -v s="$secs" 'BEGIN{n=int(r*s); if(n<5000)n=5000; print n}')
    rr=(); ff=()
    for _ in $(seq "$rounds"); do rr+=("$(rps $port_r $pl $c)"); ff+=("$(rps $port_f $pl $c)"); done
    mr=$(printf '%s\n' "${rr[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    mf=$(printf '%s\n' "${ff[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    echo "| $c | $pl | $mr | $mf | $(awk -v a="$mf" -v b="$mr" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') |"
  done
done
