#!/usr/bin/env bash
# Side-by-side redis-benchmark of the bitmap and HyperLogLog commands (redis-benchmark
# has no tests of its own for them): redis-server and ferrokv-server on the same
# pinned CPU, alternating runs, median rps ratio per command. The bitmaps are 1 MB
# strings (random bytes, or zeros ending in a set bit so BITPOS scans all of them);
# h1..h3 are dense HyperLogLogs of 20,000 elements each.
#
#   xtask/scripts/bench-bits.sh [rounds] [seconds-per-run]
#
# BENCH_PORT picks the two ports (BENCH_PORT and BENCH_PORT+1); default random.
# Prints a markdown table: median rps and median server CPU time per command (all
# threads, from /proc/PID/task/*/schedstat), each with its ferrokv/redis ratio (cpu
# ratio = redis ns / ferrokv ns, > 1 = ferrokv cheaper). Ratios only: absolute
# numbers vary with the machine. At pipeline 1 ferrokv's CPU includes its park spin.
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
port_r=${BENCH_PORT:-$((17000 + RANDOM % 500))}; port_f=$((port_r + 1))
(cd "$tmp" && exec $pin_srv redis-server --port "$port_r" --save '' --appendonly no >/dev/null) & pids+=($!)
(cd "$tmp" && exec $pin_srv "$ferrokv" --port "$port_f" --save '' >/dev/null 2>&1) & pids+=($!)
for p in $port_r $port_f; do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
for i in 1 2 3 4; do head -c 1048576 /dev/urandom > "$tmp/r$i"; done
populate() {
  local p=$1
  redis-cli -p "$p" flushall >/dev/null
  for i in 1 2 3 4; do redis-cli -p "$p" -x set "r$i" < "$tmp/r$i" >/dev/null; done
  redis-cli -p "$p" setbit zeros 8388607 1 >/dev/null
  redis-cli -p "$p" bitop not ones zeros >/dev/null
  redis-cli -p "$p" setbit big 8388607 0 >/dev/null
  for h in 1 2 3; do
    for c in $(seq 0 19); do
      echo "PFADD h$h $(seq -f "h$h-$c-%g" 0 999 | tr '\n' ' ')"
    done
  done | redis-cli -p "$p" >/dev/null
}
populate $port_r; populate $port_f
# command | -r range. Bit offsets are fixed: redis-benchmark's __rand_int__ is
# zero-padded, which an offset may not be.
cmds=(
  "SETBIT big 4194303 1|"
  "GETBIT r1 4194303|"
  "BITCOUNT r1|"
  "BITCOUNT r1 1000 -1000 BIT|"
  "BITPOS zeros 1|"
  "BITPOS ones 0|"
  "BITOP AND dest r1 r2 r3 r4|"
  "BITOP XOR dest r1 r2 r3 r4|"
  "PFADD hll __rand_int__|100000000"
  "PFCOUNT hll|"
  "PFCOUNT h1 h2 h3|"
)
# CPU time of a server so far, all its threads, in ns (a noisy machine slows both
# servers' throughput, much less their CPU time per command).
cpu_ns() { local s=0 a; for t in /proc/"$1"/task/*/schedstat; do read -r a _ < "$t"; s=$((s + a)); done; echo "$s"; }
rps() { # port pipeline range command... -> "rps ns-per-command"
  local p=$1 pl=$2 r=$3; shift 3
  local pid=${pids[0]}; [ "$p" = "$port_f" ] && pid=${pids[1]}
  local c0 out c1
  c0=$(cpu_ns "$pid")
  out=$($pin_cli redis-benchmark -p "$p" -c 50 -P "$pl" -n "$N" ${r:+-r "$r"} --csv "$@" 2>/dev/null | awk -F'","' 'NR==2 {print $2+0}')
  c1=$(cpu_ns "$pid")
  echo "$out $(( (c1 - c0) / N ))"
}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
echo "| command | pipeline | ref rps | ferrokv rps | ratio | ref cpu ns/cmd | ferrokv cpu ns/cmd | cpu ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for pl in 1 16; do
  for entry in "${cmds[@]}"; do
    c=${entry%|*}; r=${entry#*|}
    # Calibrate -n so one run lasts about $secs on redis.
    N=2000
    r0=$(rps $port_r $pl "$r" $c | cut -d' ' -f1)
    N=$(awk -v r="$r0" -v s="$secs" 'BEGIN{n=int(r*s); if(n<1000)n=1000; print n}')
    rr=(); ff=()
    for _ in $(seq "$rounds"); do rr+=("$(rps $port_r $pl "$r" $c)"); ff+=("$(rps $port_f $pl "$r" $c)"); done
    mr=$(printf '%s\n' "${rr[@]}" | cut -d' ' -f1 | median)
    mf=$(printf '%s\n' "${ff[@]}" | cut -d' ' -f1 | median)
    cr=$(printf '%s\n' "${rr[@]}" | cut -d' ' -f2 | median)
    cf=$(printf '%s\n' "${ff[@]}" | cut -d' ' -f2 | median)
    echo "| $c | $pl | $mr | $mf | $(awk -v a="$mf" -v b="$mr" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') | $cr | $cf | $(awk -v a="$cr" -v b="$cf" 'BEGIN{printf "%.2f", (b>0)?a/b:0}') |"
  done
done
