#!/bin/bash
# TLS GET/SET side by side: redis-server vs ferrokv (--threads 1), each pinned to core 0,
# redis-benchmark on core 1, alternating rounds. Prints medians and ratios.
C=${TLS_DIR:?set TLS_DIR to a folder made by Redis utils/gen-test-certs.sh}
rounds=${ROUNDS:-3}
n=${N:-100000}
start() { # kind port
  if [ $1 = redis ]; then taskset -c 0 redis-server --port 0 --tls-port $2 --tls-cert-file $C/server.crt --tls-key-file $C/server.key --tls-ca-cert-file $C/ca.crt --tls-auth-clients no --save '' --appendonly no >/dev/null 2>&1 &
  else taskset -c 0 ${FERROKV:-target/release/ferrokv-server} --threads 1 --port 0 --tls-port $2 --tls-cert-file $C/server.crt --tls-key-file $C/server.key --tls-ca-cert-file $C/ca.crt --tls-auth-clients no --save '' --appendonly no >/dev/null 2>&1 & fi
  echo $!
}
bench() { # port pipeline test
  taskset -c 1 redis-benchmark -p $1 --tls --cacert $C/ca.crt -c 50 -n $n -P $2 -r 100000 -t $3 --csv 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"'
}
for P in 1 16; do for t in set get; do
  r=(); f=()
  for i in $(seq $rounds); do
    pid=$(start redis 27101); sleep 0.5; r+=($(bench 27101 $P $t)); kill $pid; wait $pid 2>/dev/null
    pid=$(start ferrokv 27102); sleep 0.8; f+=($(bench 27102 $P $t)); kill $pid; wait $pid 2>/dev/null
  done
  rm=$(printf "%s\n" "${r[@]}" | sort -n | sed -n "$(( (rounds+1)/2 ))p")
  fm=$(printf "%s\n" "${f[@]}" | sort -n | sed -n "$(( (rounds+1)/2 ))p")
  echo "$t P$P redis=$rm ferrokv=$fm ratio=$(python3 -c "print(round($fm/$rm,2))") (redis ${r[*]}; ferrokv ${f[*]})"
done; done
