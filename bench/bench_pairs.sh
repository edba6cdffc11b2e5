#!/bin/sh
# bench_pairs.sh -- all pairs under a threshold among 100,000 64-d unit
# vectors, three ways on the same vectors, in one run:
#   siam        bench/bench_pairs: pairs_search (tiled GEMM filter + exact
#               re-check on siam's thread pool), median of SIAM_PAIRS_RUNS
#               runs (default 5) at SIAM_PAIRS_THREADS threads (default:
#               the CPUs); and pairs_knn, each vector's 12 nearest within
#               1.0 (the candidates of siam dedup's crop check; no peer);
#   NumPy       a brute-force self-join (blocked matrix products, so it
#               fits in memory), float32, no exact re-check;
#   sqlite-vec  a self-join on vec_distance_l2 (npm sqlite-vec-linux-x64,
#               fetched as bench_knn.sh does) in the sqlite3 shell.  Its
#               join calls the distance once per pair, so it runs on the
#               last SIAM_VEC_ROWS rows (default 5000) and its time is
#               scaled by (N / rows)^2.
# Each with its peak resident memory (its own process).  Run from the
# build directory: make bench-pairs.  PYTHON: an interpreter with NumPy
# (Debian's /usr/bin/python3 with python3-numpy; a pyenv python3 first in
# PATH may lack it).
set -u
N=${SIAM_PAIRS_N:-100000}
T=${SIAM_PAIRS_T:-0.5}
RUNS=${SIAM_PAIRS_RUNS:-5}
THREADS=${SIAM_PAIRS_THREADS:-$(getconf _NPROCESSORS_ONLN)}
R=${SIAM_VEC_ROWS:-5000}
PY=${PYTHON:-python3}
tmp=$(mktemp -d /tmp/siam-bench-pairs.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
echo "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p'), $(getconf _NPROCESSORS_ONLN) online;" \
	"OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(not set)}; load average" \
	"$(cut -d' ' -f1-3 /proc/loadavg) (a shared, noisy machine: compare" \
	"CPU seconds too)"
./bench/bench_pairs --n "$N" --dim 64 --threshold "$T" --out "$tmp/x.f32" \
	--threads "$THREADS" --runs "$RUNS" --check 40000 --knn 12 >"$tmp/siam.txt"
rc=$?
cat "$tmp/siam.txt"
[ $rc = 0 ] || exit 1
cache=${SIAM_VEC_DIR:-/tmp/siam-sqlite-vec}
so=$cache/package/vec0.so
if [ ! -f "$so" ] && command -v npm >/dev/null 2>&1; then
	mkdir -p "$cache"
	(cd "$cache" && npm pack --silent sqlite-vec-linux-x64 >/dev/null &&
	 tar xzf sqlite-vec-linux-x64-*.tgz) ||
	echo "bench_pairs.sh: could not fetch sqlite-vec; running without it" >&2
fi
command -v sqlite3 >/dev/null 2>&1 || so=
"$PY" - "$tmp" "$N" "$T" "$R" "$so" <<'PY'
import os, re, resource, subprocess, sys, time
tmp, n, t, r, so = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5]
path = os.path.join(tmp, "x.f32")
m = re.search(r"in ([0-9.]+) s \(median.*CPU ([0-9.]+) s\), peak RSS ([0-9]+) MB",
              open(os.path.join(tmp, "siam.txt")).read())
rows = [("siam pairs_search", float(m.group(1)), float(m.group(2)),
         float(m.group(3)), "")] if m else []
# sqlite-vec first, while this process is small (see del d)
vec = None
if so:
    d = open(path, "rb").read()
    with open(os.path.join(tmp, "v.sql"), "w") as f:
        f.write("CREATE TABLE v(id INTEGER PRIMARY KEY, e BLOB);\nBEGIN;\n")
        for i in range(n - r, n):
            f.write("INSERT INTO v VALUES (%d, x'%s');\n"
                    % (i, d[i * 256:(i + 1) * 256].hex()))
        f.write("COMMIT;\n")
    del d  # the child's peak RSS counts what this process held at fork
    t0 = time.time()
    k = subprocess.run(["sqlite3", ":memory:", ".load " + so[:-3],
                        ".read " + os.path.join(tmp, "v.sql"),
                        "SELECT count(*) FROM v a JOIN v b ON a.id < b.id "
                        "WHERE vec_distance_l2(a.e, b.e) <= %r" % t],
                       capture_output=True, text=True).stdout.strip()
    el = time.time() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    scaled = el * (n / r) ** 2
    print("sqlite-vec self-join on the last %d rows: %s pairs in %.2f s "
          "(CPU %.2f s), peak RSS %.0f MB; scaled to %d rows: %.0f s"
          % (r, k, el, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, n,
             scaled))
    vec = ("sqlite-vec self-join", scaled,
           (ru.ru_utime + ru.ru_stime) * (n / r) ** 2,
           ru.ru_maxrss / 1024, " (scaled from %d rows)" % r)
else:
    print("sqlite-vec: not available (npm or sqlite3 missing)")
try:
    import numpy as np
except ImportError:
    print("numpy: not installed (python3-numpy; set PYTHON=/usr/bin/python3)")
    np = None
if np is not None:
    x = np.fromfile(path, dtype=np.float32).reshape(n, 64)
    c0, t0 = time.process_time(), time.time()
    sq = (x * x).sum(1)
    found = 0
    B = 2048
    for i in range(0, n, B):
        g = x[i:i + B] @ x[i:].T
        d2 = sq[i:i + B, None] + sq[None, i:] - 2 * g
        m = d2 <= t * t
        m &= np.arange(i, n)[None, :] > np.arange(i, min(i + B, n))[:, None]
        found += int(m.sum())
    el, cpu = time.time() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("numpy brute-force self-join: %d pairs in %.2f s (CPU %.2f s), "
          "peak RSS %.0f MB (|a|^2+|b|^2-2ab in float32, no exact "
          "re-check; NumPy %s)" % (found, el, cpu, rss, np.__version__))
    rows.append(("NumPy brute force", el, cpu, rss, ""))
if vec:
    rows.append(vec)
if rows:
    base = rows[0][1]
    print("\n%-22s %10s %10s %10s %8s" % ("all pairs <= %g, n=%d" % (t, n),
          "wall s", "CPU s", "peak MB", "vs siam"))
    for name, w, c, mb, note in rows:
        print("%-22s %10.2f %10.2f %10.0f %7.1fx%s"
              % (name, w, c, mb, w / base, note))
PY
