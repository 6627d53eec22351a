#!/bin/bash
# GET/SET as the default user against a user holding key patterns, one ferrokv
# (--threads 1) pinned to core 0, redis-benchmark on core 1, the two users in
# alternating rounds. Prints medians and the ratio (pattern user / default user).
rounds=${ROUNDS:-7}
n=${N:-200000}
port=${PORT:-27201}
taskset -c 0 ${FERROKV:-target/release/ferrokv-server} --threads 1 --port $port --save '' --appendonly no --dir /tmp >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
sleep 0.8
redis-cli -p $port ACL SETUSER bench on '>pw' '~key:*' '~counter*' '+@all' >/dev/null
bench() { # pipeline test [user args]
  local P=$1 t=$2; shift 2
  taskset -c 1 redis-benchmark -p $port "$@" -c 50 -n $n -P $P -r 100000 -t $t --csv 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"'
}
for P in 1 16; do for t in set get; do
  d=(); u=()
  for i in $(seq $rounds); do
    d+=($(bench $P $t)); u+=($(bench $P $t --user bench -a pw))
  done
  dm=$(printf "%s\n" "${d[@]}" | sort -n | sed -n "$(( (rounds+1)/2 ))p")
  um=$(printf "%s\n" "${u[@]}" | sort -n | sed -n "$(( (rounds+1)/2 ))p")
  echo "$t P$P default=$dm patterns=$um ratio=$(python3 -c "print(round($um/$dm,3))") (default ${d[*]}; patterns ${u[*]})"
done; done
