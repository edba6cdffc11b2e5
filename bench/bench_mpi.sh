#!/bin/sh
# bench/bench_mpi.sh -- scaling of 'mpirun siam index' (./configure
# --with-mpi): images/s at 1 process and at 1, 2 and 4 worker ranks
# (mpirun -np 2, 3, 5: rank 0 walks and writes, the others read, decode
# and embed), one BLAS thread and one decoding thread per rank; the
# bytes rank 0 sends and receives per image; and rank 0's SQLite write
# rate (rows/s over its time inserting and committing, measured where
# rows come fastest), the ceiling of any rank count.  Then 'mpirun siam
# dedup's all-pairs ring: pairs/s at 1, 2 and 4 ranks, one BLAS thread
# each, and the bytes each rank sent.
#
#   sh bench/bench_mpi.sh [N [RUNS]]     (from a --with-mpi build directory)
#
# SIAM_BENCH_MPI_PARTS="index dedup" (the default) chooses the parts.
# The dedup part: SIAM_BENCH_MPI_DEDUP_ROWS (default 50000) 64-d
# embeddings of the digits model, a quarter of them random unit vectors
# and the rest near copies of earlier ones, written straight into a
# database (one real image indexed first for the schema and the model);
# siam dedup --method cnn --threshold 0.3 on all of them; pairs/s is
# the n(n-1)/2 pairs over the seconds of the search (the blocks sent,
# the ring, the pairs gathered and sorted: the "mpi" object of --json),
# median of RUNS.
#
# The pictures: N (default 400) synthetic JPEGs of 1024x768 (gradients
# and noise made by Pillow, python3-pil; no photo package is used),
# indexed with models/photo.siam.  Each figure is the median of RUNS
# (default 3) runs into a new database.  Run it under 'nice -n 19' on a
# shared machine; figures from a loaded machine are noisy: compare the
# ratios of one run.
set -eu
N=${1:-400}
RUNS=${2:-3}
B=$(pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIAM=${SIAM:-$B/siam}
T=$(mktemp -d /tmp/siam-bench-mpi-XXXXXX)
trap 'rm -rf "$T"' EXIT
[ -x "$SIAM" ] || { echo "no siam binary at $SIAM (run from the build directory)"; exit 2; }
grep -q '^#define SIAM_MPI 1' "$B/config.h" ||
	{ echo "not a --with-mpi build: ./configure --with-mpi"; exit 2; }
command -v mpirun >/dev/null || { echo "no mpirun: apt-get install openmpi-bin"; exit 2; }
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import PIL' 2>/dev/null || { echo "no Pillow: apt-get install python3-pil"; exit 2; }
MPIRUN="mpirun --oversubscribe --bind-to none"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
export OPENBLAS_NUM_THREADS=1
SIAM_MODEL=${SIAM_MODEL:-$SRC/models/photo.siam}
export SIAM_MODEL
PARTS=${SIAM_BENCH_MPI_PARTS:-index dedup}
num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;" \
	"OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load: $(cut -d' ' -f1-3 /proc/loadavg)"

bench_index() {

"$PY" - "$T/img" "$N" <<'PY'
import os, sys, random
from PIL import Image
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
random.seed(1)
noise = Image.effect_noise((1024, 768), 40).convert('RGB')
for i in range(n):
    g = Image.linear_gradient('L').resize((1024, 768)).rotate(random.uniform(0, 360))
    c = Image.merge('RGB', (g, g.rotate(90), Image.new('L', (1024, 768), random.randrange(256))))
    im = Image.blend(c, noise, 0.3)
    im.save(os.path.join(out, '%05d.jpg' % i), quality=90)
PY

echo "$N JPEGs of 1024x768, model $(basename "$SIAM_MODEL"), median of $RUNS runs"
num() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# run NP: one line "images/s bytes/image" per run
run() {
	rm -f "$T/db"*
	if [ "$1" = 0 ]; then
		"$SIAM" index --db "$T/db" --threads 1 --json "$T/img" >"$T/out"
	else
		$MPIRUN -np "$1" "$SIAM" index --db "$T/db" --threads 1 --json \
			"$T/img" >"$T/out" 2>"$T/err" </dev/null ||
			{ cat "$T/err" >&2; exit 1; }
	fi
	n=$(num indexed <"$T/out")
	s=$(num seconds <"$T/out")
	by=$(num bytes <"$T/out")
	echo "$n $s ${by:-0}" | awk '{ printf "%.1f %.0f\n", $1 / $2, $3 / $1 }'
}
printf "%-28s %10s %8s %14s\n" "" "images/s" "ratio" "bytes/image"
base=
for np in 0 2 3 5; do
	: >"$T/r"
	for i in $(seq "$RUNS"); do run "$np" >>"$T/r"; done
	ips=$(cut -d' ' -f1 "$T/r" | median)
	bpi=$(cut -d' ' -f2 "$T/r" | median)
	[ -z "$base" ] && base=$ips
	case $np in
	0) what="1 process (--threads 1)" ;;
	*) what="mpirun -np $np ($((np - 1)) worker(s))" ;;
	esac
	printf "%-28s %10s %8s %14s\n" "$what" "$ips" \
		"$(echo "$ips $base" | awk '{ printf "%.2fx", $1 / $2 }')" "$bpi"
done
# The ceiling: rank 0 writes every row, so no rank count indexes faster
# than it inserts and commits.  Measured where rows come fastest: M
# 28x28 PNGs through the digits model in one process (the same writer
# code, batches of 128 rows a transaction); rows / seconds writing.
M=${SIAM_BENCH_MPI_ROWS:-5000}
"$PY" - "$T/tiny" "$M" <<'PY'
import os, sys, random
from PIL import Image
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
random.seed(2)
for i in range(n):
    Image.frombytes('L', (28, 28), bytes(random.randrange(256) for _ in range(784))).save(
        os.path.join(out, '%05d.png' % i))
PY
: >"$T/r"
for i in $(seq "$RUNS"); do
	rm -f "$T/db"*
	SIAM_MODEL=$SRC/models/mnist.siam "$SIAM" index --db "$T/db" --json \
		"$T/tiny" >"$T/out"
	echo "$(num indexed <"$T/out") $(num write <"$T/out")" |
		awk '{ printf "%.0f\n", $1 / $2 }' >>"$T/r"
done
echo "rank 0's SQLite write rate (the ceiling): $(median <"$T/r") rows/s" \
	"($M rows of $(basename "$SRC/models/mnist.siam"), median of $RUNS)"
}

bench_dedup() {
DN=${SIAM_BENCH_MPI_DEDUP_ROWS:-50000}
mkdir -p "$T/one"
cp "$SRC/examples/digits/3/mnist-0018.png" "$T/one/"
rm -f "$T/dd.db"*
SIAM_MODEL=$SRC/models/mnist.siam "$SIAM" index -q --db "$T/dd.db" "$T/one"
"$PY" - "$T/dd.db" "$DN" <<'PY'
import random, sqlite3, struct, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
mid, dim = c.execute("SELECT model_id, length(embedding) / 4 FROM images").fetchone()
c.execute("DELETE FROM images")
random.seed(3)
rows = []
for i in range(n):
    if i < n // 4 + 1:
        v = [random.gauss(0, 1) for _ in range(dim)]
    else:
        o = rows[random.randrange(i)]
        v = [x + random.gauss(0, 0.01) for x in o]
    s = sum(x * x for x in v) ** 0.5
    rows.append([x / s for x in v])
c.executemany("INSERT INTO images (path, model_id, embedding) VALUES (?, ?, ?)",
              (("/bench/%06d.png" % i, mid, struct.pack("<%df" % dim, *v))
               for i, v in enumerate(rows)))
c.commit()
PY
echo "mpirun siam dedup: $DN rows of 64 floats, --method cnn --threshold 0.3," \
	"one BLAS thread a rank, median of $RUNS (by wall time)"
echo "  wall: the search's seconds (blocks out, ring, pairs back and sorted);" \
	"cpu: the busiest rank's CPU seconds, the wall time it would take with a core of its own"
printf "%-16s %8s %8s %9s %7s %8s %9s  %s\n" "" "pairs" "wall s" "Mpairs/s" \
	"ratio" "cpu s" "Mpairs/s" "MB sent by each rank"
base=
for np in 1 2 4; do
	: >"$T/r"
	for i in $(seq "$RUNS"); do
		$MPIRUN -np "$np" "$SIAM" dedup --db "$T/dd.db" --method cnn \
			--threshold 0.3 --json -q >"$T/out" 2>"$T/err" </dev/null ||
			{ cat "$T/err" >&2; exit 1; }
		sent=$(sed -n 's/.*"sent":\[\([0-9,]*\)\].*/\1/p' "$T/out" |
			tr , '\n' | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 / 1e6 }')
		cpu=$(sed -n 's/.*"cpu":\[\([0-9.,]*\)\].*/\1/p' "$T/out" |
			tr , '\n' | sort -n | tail -1)
		echo "$(num seconds <"$T/out") $(num pairs <"$T/out") $cpu $sent" >>"$T/r"
	done
	line=$(sort -n "$T/r" | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }')
	set -- $line
	s=$1 found=$2 cpu=$3
	shift 3
	pps=$(echo "$DN $s" | awk '{ printf "%.1f", $1 * ($1 - 1) / 2 / $2 / 1e6 }')
	cps=$(echo "$DN $cpu" | awk '{ printf "%.1f", $1 * ($1 - 1) / 2 / $2 / 1e6 }')
	[ -z "$base" ] && base=$pps
	printf "%-16s %8s %8.3f %9s %7s %8.3f %9s  %s\n" "mpirun -np $np" "$found" \
		"$s" "$pps" "$(echo "$pps $base" | awk '{ printf "%.2fx", $1 / $2 }')" \
		"$cpu" "$cps" "$*"
done
}

for part in $PARTS; do
	case $part in
	index) bench_index ;;
	dedup) bench_dedup ;;
	*) echo "SIAM_BENCH_MPI_PARTS: index or dedup, not $part"; exit 2 ;;
	esac
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
