#!/bin/sh
# bench/bench_serve.sh -- siam serve under load, beside the Python peer:
# wrk (Debian) posts the same two example digits to POST /api/verify
# (bench/bench_serve.lua) against
#   - siam serve --threads T (the default model), and
#   - bench/serve_peer.py: Flask with PyTorch, the same architecture and
#     weights, served by gunicorn with T worker processes (as such apps are
#     deployed: one process per core; torch on one thread in each).
# Prints requests/s, median and p99 latency and the errors (non-200 answers
# and socket errors, must be 0) of RUNS runs of SECONDS each (medians), the
# ratio, and the server's RSS before and after REQUESTS more requests (it
# must not grow), with the CPU and OPENBLAS_CORETYPE.
#
#   make bench-serve            (from the build directory)
#   THREADS=2 CONNS=16 SECONDS_=10 RUNS=3 REQUESTS=100000 sh bench/bench_serve.sh
#
# Needs: wrk, python3-flask, python3-torch, gunicorn (apt-get install wrk
# python3-flask python3-torch gunicorn).  wrk runs on the same machine and
# takes CPU from both servers alike.
set -u
b=${SIAM_BUILDDIR:-$(pwd)}
s=${SIAM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
siam=$b/siam
model=$s/models/mnist.siam
T=${THREADS:-2}
C=${CONNS:-16}
D=${SECONDS_:-10}
RUNS=${RUNS:-3}
REQUESTS=${REQUESTS:-100000}
PY=${PYTHON:-/usr/bin/python3}
A=$s/examples/digits/3/mnist-0018.png
B=$s/examples/digits/3/mnist-0030.png
for t in wrk gunicorn; do
	command -v $t >/dev/null 2>&1 || { echo "bench_serve: no $t (apt-get install wrk gunicorn)"; exit 1; }
done
$PY -c 'import flask, torch' 2>/dev/null ||
	{ echo "bench_serve: $PY lacks flask or torch (apt-get install python3-flask python3-torch)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/siam-bench-serve.XXXXXX") || exit 1
spid= ppid_=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; [ -n "$ppid_" ] && kill $ppid_ 2>/dev/null; rm -rf "$tmp"' EXIT
export SIAM_BENCH_A=$A SIAM_BENCH_B=$B

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # wait_up URL
	for _ in $(seq 1 300); do
		curl -s -o /dev/null -F "a=@$A" -F "b=@$B" "$1/api/verify" && return 0
		sleep 0.2
	done
	echo "bench_serve: $1 did not come up"; exit 1
}
# rss PID...: the resident memory of the processes, in MB.
rss() {
	kb=0
	for p in "$@"; do
		k=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		kb=$((kb + ${k:-0}))
	done
	echo $((kb / 1024))
}
# one URL: one wrk run; prints "req/s p50_ms p99_ms errors"
one() {
	wrk -t2 -c"$C" -d"${D}s" --latency -s "$s/bench/bench_serve.lua" "$1" >"$tmp/wrk" 2>&1
	awk '
	function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
	/Requests\/sec/ { rps = $2 }
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/Non-2xx/ { err += $NF }
	/Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, err }' "$tmp/wrk"
}
# runs URL NAME: RUNS runs, each line kept; prints the medians
runs() {
	: >"$tmp/$2"
	for r in $(seq 1 "$RUNS"); do
		one "$1" | tee -a "$tmp/$2" | sed "s/^/  $2 run $r: req\/s p50_ms p99_ms errors = /" >&2
	done
	for col in 1 2 3; do
		cut -d' ' -f$col "$tmp/$2" | sort -n | awk '{ v[NR] = $1 } END { printf "%s ", v[int((NR + 1) / 2)] }'
	done
	awk '{ e += $4 } END { print e }' "$tmp/$2"
}
# total URL N: about N requests (wrk runs until the count is reached)
total() {
	done_=0
	while [ "$done_" -lt "$2" ]; do
		wrk -t2 -c"$C" -d10s -s "$s/bench/bench_serve.lua" "$1" >"$tmp/wrk" 2>&1
		n=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
		done_=$((done_ + ${n:-0}))
	done
	echo "$done_"
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: read the ratios)"
echo "wrk: $C connections, 2 threads, ${D}s per run, median of $RUNS; server threads/workers: $T"

# ---- siam serve
port=$(free_port)
"$siam" serve --model "$model" --listen "127.0.0.1:$port" --threads "$T" \
	--max-requests $((C * 2)) --quiet >"$tmp/siam.out" 2>&1 &
spid=$!
wait_up "http://127.0.0.1:$port"
d_siam=$(curl -s -F "a=@$A" -F "b=@$B" "http://127.0.0.1:$port/api/verify" | sed 's/.*"distance":\([^,]*\),.*/\1/')
one "http://127.0.0.1:$port" >/dev/null # warm-up
rss0=$(rss $spid)
set -- $(runs "http://127.0.0.1:$port" siam)
s_rps=$1 s_p50=$2 s_p99=$3 s_err=$4
n=$(total "http://127.0.0.1:$port" "$REQUESTS")
rss1=$(rss $spid)
kill $spid; wait $spid 2>/dev/null; spid=

# ---- the Python peer
port=$(free_port)
SIAM_PEER_MODEL=$model OMP_NUM_THREADS=1 gunicorn -w "$T" -b "127.0.0.1:$port" \
	--chdir "$s/bench" --log-level warning serve_peer:app >"$tmp/peer.out" 2>&1 &
ppid_=$!
wait_up "http://127.0.0.1:$port"
d_peer=$(curl -s -F "a=@$A" -F "b=@$B" "http://127.0.0.1:$port/api/verify" | sed 's/.*"distance":\([^,]*\),.*/\1/')
one "http://127.0.0.1:$port" >/dev/null
pids() { echo $ppid_ $(pgrep -P $ppid_); }
prss0=$(rss $(pids))
set -- $(runs "http://127.0.0.1:$port" peer)
p_rps=$1 p_p50=$2 p_p99=$3 p_err=$4
pn=$(total "http://127.0.0.1:$port" $((REQUESTS / 20)))
prss1=$(rss $(pids))
kill $ppid_; wait $ppid_ 2>/dev/null; ppid_=

echo
echo "distance of the pair: siam $d_siam, peer $d_peer (the peer's preprocessing is simpler)"
printf '| server | requests/s | p50 ms | p99 ms | errors | RSS before | RSS after (requests) |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
printf '| siam serve, %s threads | %s | %s | %s | %s | %s MB | %s MB (%s) |\n' "$T" "$s_rps" "$s_p50" "$s_p99" "$s_err" "$rss0" "$rss1" "$n"
printf '| Flask + PyTorch, gunicorn %s workers | %s | %s | %s | %s | %s MB | %s MB (%s) |\n' "$T" "$p_rps" "$p_p50" "$p_p99" "$p_err" "$prss0" "$prss1" "$pn"
echo "siam / peer requests/s: $(awk -v a="$s_rps" -v b="$p_rps" 'BEGIN { printf "%.1fx", a / b }')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
