#!/bin/sh
# bench/soak.sh -- a soak: `siam index` of N small generated images
# while another process queries siam_knn on the same database in a
# loop.  Prints the indexing throughput, the queries done and how many
# failed (there must be none: a reader waits out a writer's commit
# within SQLite's busy timeout, SIAM_DB_BUSY_MS = 10 s, and is never
# refused), and the indexer's RSS sampled over the run (it must stay
# flat: in each run, after a first quarter of warm-up, the second and
# last quarters of its samples are compared).
#
#   sh bench/soak.sh [N [BATCHES]]        (from the build directory)
#
# N defaults to 100000 images (28x28 grey PNGs: random strokes, made by
# Python's zlib, stdlib only), indexed in BATCHES runs of siam index
# (default 1: one run over the whole folder; more runs also soak the
# incremental path, each adding a folder).  The model is a random one
# of the default digit architecture (the speed is the same as a
# trained one's).  Exit 1 if a query failed or the RSS grew by more
# than 20% from the second quarter to the last.
set -eu
N=${1:-100000}
BATCHES=${2:-1}
B=$(pwd)
SIAM=${SIAM:-$B/siam}
T=$(mktemp -d /tmp/siam-soak-XXXXXX)
qpid=
trap 'if [ -n "$qpid" ]; then kill $qpid 2>/dev/null; fi; rm -rf "$T"' EXIT

[ -x "$SIAM" ] || { echo "no siam binary at $SIAM (run from the build directory)"; exit 2; }
[ -x "$B/tests/mkmodel" ] || make -s tests/mkmodel >/dev/null
"$B/tests/mkmodel" "$T/m.siam" \
	"in=1x28x28 conv5x32 relu pool2 conv5x64 relu pool2 fc256 relu fc64" 7 0.5
export SIAM_MODEL="$T/m.siam"

# N PNGs in BATCHES folders of 1000-file directories.
/usr/bin/env python3 - "$T/png" "$N" "$BATCHES" <<'PY'
import os, random, struct, sys, zlib
out, n, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chunk(t, b):
    return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
rnd = random.Random(1)
per = (n + batches - 1) // batches
for i in range(n):
    px = bytearray(784)
    x, y = rnd.randrange(4, 24), rnd.randrange(4, 24)
    for _ in range(rnd.randrange(20, 60)):  # a random walk of a stroke
        x = min(26, max(1, x + rnd.choice((-1, 0, 1))))
        y = min(26, max(1, y + rnd.choice((-1, 0, 1))))
        for dx in (0, 1):
            for dy in (0, 1):
                px[(y + dy) * 28 + x + dx] = 255
    raw = b''.join(b'\0' + bytes(px[r * 28:(r + 1) * 28]) for r in range(28))
    d = os.path.join(out, 'b%d' % (i // per), '%03d' % (i % per // 1000))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, '%06d.png' % i), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 28, 28, 8, 0, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY

# The reader: siam_knn on the newest image's embedding, a process per
# query (a new connection each time, as a web app's worker would do),
# until the indexer is done.  Before the first commit the database does
# not exist yet: those tries are not counted.
cat >"$T/query.sh" <<EOF
#!/bin/sh
q=0 fail=0
while [ ! -f "$T/done" ]; do
	if [ ! -f "$T/db" ]; then sleep 0.1; continue; fi
	if "$SIAM" sql --db "$T/db" -H "SELECT count(*) FROM siam_knn((SELECT embedding FROM images ORDER BY id DESC LIMIT 1), 10)" >"$T/q.out" 2>"$T/q.err"; then
		q=\$((q + 1))
	else
		fail=\$((fail + 1))
		cat "$T/q.err" >>"$T/q.errors"
	fi
done
echo "\$q \$fail" >"$T/q.result"
EOF
sh "$T/query.sh" &
qpid=$!

echo "soak: siam index of $N generated 28x28 PNGs in $BATCHES run(s), siam_knn queried meanwhile"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
start=$(date +%s.%N)
: >"$T/rss"
i=0
while [ $i -lt "$BATCHES" ]; do
	"$SIAM" index --db "$T/db" -q --json "$T/png/b$i" >"$T/index$i.json" &
	ipid=$!
	while kill -0 $ipid 2>/dev/null; do
		r=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$ipid/status 2>/dev/null || true)
		[ -n "$r" ] && echo "$(date +%s) $r $i" >>"$T/rss"
		sleep 0.5
	done
	wait $ipid || echo "siam index (run $i) exited $?"
	i=$((i + 1))
done
end=$(date +%s.%N)
touch "$T/done"
wait $qpid
qpid=

rows=$("$SIAM" sql --db "$T/db" -H "SELECT count(*) FROM images")
read q fail <"$T/q.result"
secs=$(echo "$end - $start" | bc)
echo "indexed: $rows rows of $N in $(printf %.1f "$secs") s: $(echo "$rows / $secs" | bc) images/s"
echo "siam_knn queries during the run: $q done, $fail failed"
[ -s "$T/q.errors" ] && sort "$T/q.errors" | uniq -c | head -5
# RSS: the samples in ten slices over time; then, in each run (a process
# of its own, which starts from the database the runs before it left,
# so a later run needs more: the incremental check's table of the rows
# already there, SQLite's cache, the kNN sidecar written at the end),
# the second quarter of its samples against its last quarter.
awk -v t0="$(head -1 "$T/rss" | cut -d' ' -f1)" '
	{ t[NR] = $1 - t0; r[NR] = $2; run[NR] = $3
	  if (!($3 in first)) first[$3] = NR; last[$3] = NR
	  if ($2 > peak) peak = $2 }
	END {
		if (NR == 0) { print "no RSS samples"; exit }
		printf "indexer RSS (MB) over time:"
		for (s = 0; s < 10; s++) {
			i = int(s * NR / 10) + 1
			printf " %ds:%.0f", t[i], r[i] / 1024
		}
		printf "\n"
		grew = 0
		for (k = 0; k in first; k++) {
			n = last[k] - first[k] + 1
			if (n < 8) {
				printf "run %d: %d samples, too few to compare\n", k + 1, n
				continue
			}
			# the first quarter is the warm-up (model, the SQLite
			# cache filling to its cap)
			q = int(n / 4); if (q < 1) q = 1
			a = b = 0
			for (i = first[k] + q; i < first[k] + 2 * q; i++) a += r[i]
			for (i = last[k] - q + 1; i <= last[k]; i++) b += r[i]
			a /= q; b /= q
			printf "run %d (%d samples): RSS mean, second quarter %.1f MB, last quarter %.1f MB (%+.1f%%)\n", k + 1, n, a / 1024, b / 1024, 100 * (b - a) / a
			if (b > 1.2 * a) grew = 1
		}
		printf "peak %.1f MB\n", peak / 1024
		exit grew
	}' "$T/rss" || {
	echo "soak: RSS grew"; exit 1; }
[ "$fail" = 0 ] && [ "$rows" = "$N" ] || { echo "soak: FAILED"; exit 1; }
echo "soak: ok"
