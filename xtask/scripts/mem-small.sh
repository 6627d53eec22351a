#!/usr/bin/env bash
# Bytes per item of small values in ferrokv-server against redis-server: each
# dataset is loaded with `redis-cli --pipe` into a fresh server of each kind, and
# the growth of INFO used_memory and of the process RSS (/proc/PID/status VmRSS),
# from just after start-up to just after the load, is divided by the item count.
#
#   xtask/scripts/mem-small.sh [--ferrokv PATH] [--datasets hash,zset,set,str100]
#                              [--scale F]
#
# Datasets (counts multiplied by --scale, default 1):
#   hash    100k  HSET hash:<i> field1 val:<i> ... field5 val:<i>   (listpack)
#   zset    100k  ZADD zset:<i> <(i*7+j)%10000> member:<j>, j=1..5  (listpack)
#   set     100k  SADD set:<i> member:1 ... member:5                (hashtable)
#   str100  1M    SET key:<i> <100 bytes>
# Prints a markdown table; ratios are ferrokv/redis (below 1 is smaller).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ferrokv="$root/target/release/ferrokv-server"
datasets="hash,zset,set,str100"
scale=1
while [ $# -gt 0 ]; do
  case $1 in
    --ferrokv) ferrokv=$2; shift 2 ;;
    --datasets) datasets=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -x "$ferrokv" ] || { echo "build first: cargo build --release -p ferrokv-server (or pass --ferrokv PATH)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Writes dataset $1's commands (RESP) to $tmp/$1.resp; prints its item count.
generate() {
  python3 - "$1" "$scale" "$tmp/$1.resp" <<'EOF'
import sys
name, scale, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def cmd(out, *args):
    out.append(b"*%d\r\n" % len(args))
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
n = int({"hash": 100_000, "zset": 100_000, "set": 100_000, "str100": 1_000_000}[name] * scale)
value = b"v" * 100
with open(path, "wb") as f:
    out = []
    for i in range(n):
        if name == "hash":
            args = [b"HSET", b"hash:%d" % i]
            for j in range(1, 6):
                args += [b"field%d" % j, b"val:%d" % i]
        elif name == "zset":
            args = [b"ZADD", b"zset:%d" % i]
            for j in range(1, 6):
                args += [b"%d" % ((i * 7 + j) % 10000), b"member:%d" % j]
        elif name == "set":
            args = [b"SADD", b"set:%d" % i] + [b"member:%d" % j for j in range(1, 6)]
        else:
            args = [b"SET", b"key:%d" % i, value]
        cmd(out, *args)
        if len(out) > 100_000:
            f.write(b"".join(out)); out = []
    f.write(b"".join(out))
print(n)
EOF
}

info_field() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: -v k="$2" '$1==k {print $2}'; }
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }

# Starts server $1 (ferrokv|redis) on a fresh port; sets $pid and $port.
start() {
  port=$(free_port)
  mkdir -p "$tmp/$1"
  if [ "$1" = ferrokv ]; then
    (cd "$tmp/$1" && exec "$ferrokv" --port "$port" --save '' --appendonly no >/dev/null 2>&1) &
  else
    (cd "$tmp/$1" && exec redis-server --port "$port" --save '' --appendonly no >/dev/null 2>&1) &
  fi
  pid=$!
  for _ in $(seq 1 200); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "$1 did not start" >&2; exit 1
}

stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }

# Loads dataset $2 into a fresh server $1; prints "rss_per_item used_per_item".
measure() {
  start "$1"
  local u0 r0 u1 r1
  u0=$(info_field "$port" used_memory); r0=$(rss "$pid")
  redis-cli -p "$port" --pipe <"$tmp/$2.resp" >/dev/null
  redis-cli -p "$port" ping >/dev/null
  u1=$(info_field "$port" used_memory); r1=$(rss "$pid")
  stop
  awk -v n="$3" -v u0="$u0" -v u1="$u1" -v r0="$r0" -v r1="$r1" \
    'BEGIN { printf "%.1f %.1f\n", (r1 - r0) / n, (u1 - u0) / n }'
}

echo "| dataset | ref RSS/item | cand RSS/item | ratio | ref used/item | cand used/item | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
IFS=, read -r -a list <<<"$datasets"
for d in "${list[@]}"; do
  n=$(generate "$d")
  read -r rr ru < <(measure redis "$d" "$n")
  read -r cr cu < <(measure ferrokv "$d" "$n")
  awk -v d="$d" -v n="$n" -v rr="$rr" -v ru="$ru" -v cr="$cr" -v cu="$cu" \
    'BEGIN { printf "| %s (%d) | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", d, n, rr, cr, cr / rr, ru, cu, cu / ru }'
  rm -f "$tmp/$d.resp"
done
