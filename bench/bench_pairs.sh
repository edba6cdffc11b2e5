#!/bin/sh
# bench_pairs.sh -- all pairs under a threshold among 100,000 64-d unit
# vectors: siam's kernel (bench/bench_pairs: blocked GEMM + exact
# re-check), a NumPy brute-force self-join (blocked matrix products, so
# it fits in memory) and a sqlite-vec self-join (vec_distance_l2 over a
# join, npm sqlite-vec-linux-x64, fetched as bench_knn.sh does), on the
# same vectors.  sqlite-vec's join calls the distance once per pair, so
# it runs on the last SIAM_VEC_ROWS rows (default 5000) and its time is
# scaled by (N / rows)^2.  Run from the build directory: make bench-pairs.
set -u
N=${SIAM_PAIRS_N:-100000}
T=${SIAM_PAIRS_T:-0.5}
tmp=$(mktemp -d /tmp/siam-bench-pairs.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
./bench/bench_pairs --n "$N" --dim 64 --threshold "$T" --out "$tmp/x.f32" \
	--check 40000 || exit 1
cache=${SIAM_VEC_DIR:-/tmp/siam-sqlite-vec}
so=$cache/package/vec0.so
if [ ! -f "$so" ] && command -v npm >/dev/null 2>&1; then
	mkdir -p "$cache"
	(cd "$cache" && npm pack --silent sqlite-vec-linux-x64 >/dev/null &&
	 tar xzf sqlite-vec-linux-x64-*.tgz) ||
	echo "bench_pairs.sh: could not fetch sqlite-vec; running without it" >&2
fi
# PYTHON: an interpreter with NumPy (Debian's /usr/bin/python3 with
# python3-numpy; a pyenv python3 first in PATH may lack it).
${PYTHON:-python3} - "$tmp/x.f32" "$N" "$T" <<'PY'
import sys, time, resource
path, n, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    import numpy as np
except ImportError:
    print("numpy: not installed (python3-numpy)"); np = None
if np is not None:
    x = np.fromfile(path, dtype=np.float32).reshape(n, 64)
    t0 = time.time()
    sq = (x * x).sum(1)
    found = 0
    B = 2048
    for i in range(0, n, B):
        g = x[i:i + B] @ x[i:].T
        d2 = sq[i:i + B, None] + sq[None, i:] - 2 * g
        m = d2 <= t * t
        # only j > i
        m &= np.arange(i, n)[None, :] > np.arange(i, min(i + B, n))[:, None]
        found += int(m.sum())
    el = time.time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("numpy brute-force self-join: %d pairs in %.2f s, peak RSS %.0f MB"
          " (|a|^2+|b|^2-2ab in float32, no exact re-check)" % (found, el, rss))
PY
# sqlite-vec through the sqlite3 shell (Debian's Python sqlite3 cannot
# load extensions): the last SIAM_VEC_ROWS rows (copies among them).
R=${SIAM_VEC_ROWS:-5000}
if [ -f "$so" ] && command -v sqlite3 >/dev/null 2>&1; then
	${PYTHON:-python3} - "$tmp/x.f32" "$N" "$R" >"$tmp/v.sql" <<'PY'
import sys
path, n, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = open(path, "rb").read()
print("CREATE TABLE v(id INTEGER PRIMARY KEY, e BLOB);\nBEGIN;")
for i in range(n - r, n):
    print("INSERT INTO v VALUES (%d, x'%s');" % (i, d[i * 256:(i + 1) * 256].hex()))
print("COMMIT;")
PY
	t0=$(date +%s.%N)
	k=$(sqlite3 :memory: ".load ${so%.so}" ".read $tmp/v.sql" \
		"SELECT count(*) FROM v a JOIN v b ON a.id < b.id
		 WHERE vec_distance_l2(a.e, b.e) <= $T")
	t1=$(date +%s.%N)
	awk -v k="$k" -v r="$R" -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {
		printf "sqlite-vec self-join on the last %d rows: %d pairs in " \
		       "%.2f s; scaled to %d rows: %.0f s\n", r, k, b - a, n,
		       (b - a) * (n / r) ^ 2 }'
else
	echo "sqlite-vec: not available (npm or sqlite3 missing)"
fi
