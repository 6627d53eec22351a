#!/usr/bin/env bash
# How fast ferrokv-server saves and loads an RDB file compared with redis-server,
# on the same files: (a) many small string keys, (b) a thousand large hashes.
# redis-server builds each dataset once (redis-cli --pipe) and saves it; both
# servers then load that very dump.rdb at startup and SAVE it again, in
# alternating rounds, pinned to the same CPU.
#
#   xtask/scripts/rdb-speed.sh [--keys N] [--hashes N] [--fields N] [--rounds N]
#                              [--ferrokv PATH]
#
# Defaults: 1,000,000 keys, 1,000 hashes of 1,000 fields, 3 rounds,
# ./target/release/ferrokv-server. A quick check of the script itself:
#   xtask/scripts/rdb-speed.sh --keys 20000 --hashes 20 --fields 1000 --rounds 1 \
#     --ferrokv target/debug/ferrokv-server
#
# Load time is what each server logs ("DB loaded from disk: X seconds", the same
# line in both); "ready" is from process start to the first PING answered, which
# adds process start-up. SAVE time is the SAVE command's round trip. Medians over
# the rounds; ratios are ferrokv/redis (below 1 is faster). Prints a markdown table.
set -euo pipefail
keys=1000000 hashes=1000 fields=1000 rounds=3
root=$(cd "$(dirname "$0")/../.." && pwd)
ferrokv="$root/target/release/ferrokv-server"
while [ $# -gt 0 ]; do
  case $1 in
    --keys) keys=$2; shift 2 ;;
    --hashes) hashes=$2; shift 2 ;;
    --fields) fields=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --ferrokv) ferrokv=$2; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
ferrokv=$(realpath "$ferrokv" 2>/dev/null || echo "$ferrokv")
[ -x "$ferrokv" ] || { echo "build first: cargo build --release -p ferrokv-server (or pass --ferrokv PATH)" >&2; exit 1; }
pin=""
# Pinned to one CPU by default (one core each, as compare.sh); RDB_SPEED_CPUS=0,1
# lets both use more (ferrokv loads with one inserter thread per core).
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin="taskset -c ${RDB_SPEED_CPUS:-0}"; fi
tmp=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT

now_ns() { date +%s%N; }
port=$((19000 + RANDOM % 1000))

# start NAME DIR COMMAND...: starts a server on $port in DIR, waits for PING;
# prints the seconds from start to the first PONG.
start() {
  local name=$1 dir=$2; shift 2
  local t0; t0=$(now_ns)
  (cd "$dir" && exec $pin "$@" --port "$port" --bind 127.0.0.1 --dir "$dir" \
     --dbfilename dump.rdb --save '' --appendonly no >"$dir/$name.log" 2>&1) &
  pid=$!
  until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
    kill -0 "$pid" 2>/dev/null || { echo "$name exited; log:" >&2; cat "$dir/$name.log" >&2; exit 1; }
    sleep 0.005
  done
  awk -v a="$t0" -v b="$(now_ns)" 'BEGIN{printf "%.3f", (b-a)/1e9}'
}

stop() {
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

# The load time the server logged (seconds).
logged_load() {
  local t
  t=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$1" | tail -1)
  [ -n "$t" ] || { echo "no 'DB loaded from disk' line in $1:" >&2; cat "$1" >&2; exit 1; }
  echo "$t"
}

timed_save() {
  local t0 r; t0=$(now_ns)
  r=$(redis-cli -p "$port" save)
  [ "$r" = OK ] || { echo "SAVE: $r" >&2; exit 1; }
  awk -v a="$t0" -v b="$(now_ns)" 'BEGIN{printf "%.3f", (b-a)/1e9}'
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b>0)?a/b:0}'; }

# make_dataset NAME AWK-PROGRAM: redis-server loads the generated RESP and saves
# $tmp/NAME/dump.rdb; prints the DBSIZE.
make_dataset() {
  local name=$1 prog=$2 dir="$tmp/$1"
  mkdir -p "$dir"
  start "build-$name" "$dir" redis-server >/dev/null
  awk -v keys="$keys" -v hashes="$hashes" -v fields="$fields" "$prog" |
    redis-cli -p "$port" --pipe >"$dir/pipe.log" 2>&1 || { cat "$dir/pipe.log" >&2; exit 1; }
  redis-cli -p "$port" save >/dev/null
  redis-cli -p "$port" dbsize
  stop
  cp "$dir/dump.rdb" "$dir/original.rdb"
}

small='BEGIN{for(i=0;i<keys;i++){k="key:" i; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n0123456789abcdef\r\n", length(k), k}}'
# HSET hash:i field:0 value:0:i ... : one command per hash, values that differ.
large='BEGIN{for(h=0;h<hashes;h++){k="hash:" h; printf "*%d\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", 2+2*fields, length(k), k;
  for(f=0;f<fields;f++){a="field:" f; b="value:" f ":" h; printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(a), a, length(b), b}}}'

echo "building datasets with redis-server ..." >&2
n_small=$(make_dataset small "$small")
n_large=$(make_dataset large "$large")
[ "$n_small" = "$keys" ] && [ "$n_large" = "$hashes" ] || { echo "datasets: $n_small keys, $n_large hashes" >&2; exit 1; }

declare -A load ready save
for name in small large; do
  dir="$tmp/$name"
  for round in $(seq "$rounds"); do
    # Which server goes first alternates, so neither always finds a warmer cache.
    order="redis ferrokv"; [ $((round % 2)) = 0 ] && order="ferrokv redis"
    for server in $order; do
      # Every round loads the file redis-server wrote, not the previous SAVE.
      cp "$dir/original.rdb" "$dir/dump.rdb"
      rm -f "$dir/$server.log"
      if [ "$server" = redis ]; then r=$(start redis "$dir" redis-server); else r=$(start ferrokv "$dir" "$ferrokv"); fi
      l=$(logged_load "$dir/$server.log")
      n=$(redis-cli -p "$port" dbsize)
      want=$([ "$name" = small ] && echo "$keys" || echo "$hashes")
      [ "$n" = "$want" ] || { echo "$server loaded $n keys of $name, expected $want" >&2; exit 1; }
      s=$(timed_save)
      stop
      load[$name,$server]+="$l " ready[$name,$server]+="$r " save[$name,$server]+="$s "
      echo "$name $server: load ${l}s, ready ${r}s, save ${s}s" >&2
    done
  done
done

size() { awk -v b="$(stat -c %s "$tmp/$1/original.rdb")" 'BEGIN{printf "%.1f", b/1048576}'; }
echo "| dataset | RDB MiB | op | redis s | ferrokv s | ferrokv/redis |"
echo "|---|---:|---|---:|---:|---:|"
for name in small large; do
  case $name in
    small) label="$keys strings" ;;
    large) label="$hashes hashes x $fields fields" ;;
  esac
  for op in load ready save; do
    declare -n m=$op
    r=$(echo "${m[$name,redis]}" | median); f=$(echo "${m[$name,ferrokv]}" | median)
    echo "| $label | $(size $name) | $op | $r | $f | $(ratio "$f" "$r") |"
    unset -n m
  done
done
echo
echo "medians of $rounds alternating rounds; server pinned with '${pin:-no pinning}'; load = the server's own 'DB loaded from disk' time, ready = start to first PONG, save = SAVE round trip"
