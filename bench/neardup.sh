#!/bin/sh
# bench/neardup.sh -- near-duplicate quality: siam dedup's methods
# (exact, phash, cnn, all) and a dHash stand-in for imagededup, on a
# benchmark of real photographs with edited copies.
#
#   sh bench/neardup.sh [MODEL]        (from the build directory;
#                                       `make bench-neardup`)
#
# The photographs come from Debian data packages (gcompris-qt-data,
# tuxpaint-stamps-default, kstars-data, marble-data), fetched with
# `apt-get download` and unpacked with `dpkg -x` into $NEARDUP_CACHE
# (default /tmp/siam-neardup); nothing is installed.  Never a wallpaper
# package, scratch, palapeli-data, opencv-doc or python3-skimage.
# bench/neardup.py carves them (photo-like pictures of at least 160
# pixels a side, exact and near-identical sources kept once) and builds,
# deterministically from $SEED (default 1), two splits by a hash of each
# photograph's source path:
#   TUNING  used to choose thresholds, recipes and architectures
#   REPORT  only reported on
# Each original gets 1-3 copies, each with one edit (resize 50% and 25%,
# JPEG q30, centre and off-centre crops, brightness, contrast, rotation
# 2-5 degrees, horizontal flip, text watermark, grayscale, Gaussian blur,
# lossless PNG), every edit equally often; about a fifth of the
# photographs are distractors without copies.  The training folder
# ($NEARDUP_CACHE/bench-$SEED/train) holds TUNING's photographs only;
# bench/neardup-train.sh makes a larger one (train-extra) with
# photographs from packages outside the benchmark.
#
# For each split: `siam dedup --method M --json` with MODEL (default:
# siam's default model) and its defaults; the pairs of each group are
# the method's claims.  Pair precision, recall and F1 over all true
# pairs (original-copy and copy-copy), and per edit the recall of the
# original-copy pair.  dHash (64 bits, 9x8 gradient) is computed by the
# helper with the same linkage at $DHASH_BITS (default 10, the best F1 on
# TUNING).  With SWEEP=1 the helper also sweeps the thresholds on
# TUNING; SPLITS=tuning leaves REPORT alone (while choosing);
# SPLITS=tuning-b scores (and sweeps) TUNING-B, the part of TUNING that
# bench/neardup-train.sh holds out of train-heldout.
#
# The numbers are quality figures, not timings: the machine's load does
# not change them.
set -eu
B=$(pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIAM=${SIAM:-$B/siam}
PY=${PYTHON:-/usr/bin/python3}
CACHE=${NEARDUP_CACHE:-/tmp/siam-neardup}
SEED=${SEED:-1}
MODEL=${1:-}
export DHASH_BITS=${DHASH_BITS:-10}

[ -x "$SIAM" ] || { echo "no siam binary at $SIAM (run from the build directory)"; exit 2; }
"$PY" -c 'import PIL, numpy' 2>/dev/null ||
	{ echo "no Pillow/NumPy for $PY: apt-get install python3-pil python3-numpy"; exit 2; }

if [ ! -f "$CACHE/src/sources.csv" ]; then
	mkdir -p "$CACHE/debs" "$CACHE/x"
	(cd "$CACHE/debs" && apt-get download gcompris-qt-data \
		tuxpaint-stamps-default kstars-data marble-data >/dev/null 2>&1)
	for d in "$CACHE"/debs/*.deb; do
		n=$(basename "$d" | cut -d_ -f1)
		mkdir -p "$CACHE/x/$n" && dpkg -x "$d" "$CACHE/x/$n"
	done
	"$PY" "$SRC/bench/neardup.py" carve "$CACHE/x" "$CACHE/src"
fi
if [ ! -f "$CACHE/bench-$SEED/report/truth.csv" ]; then
	rm -rf "$CACHE/bench-$SEED"
	"$PY" "$SRC/bench/neardup.py" build "$CACHE/src" "$CACHE/bench-$SEED" "$SEED"
fi

T=$(mktemp -d /tmp/siam-bench-neardup-XXXXXX)
trap 'rm -rf "$T"' EXIT
MOPT=
[ -n "$MODEL" ] && MOPT="--model $MODEL"
echo "siam: $("$SIAM" version 2>/dev/null | head -1); model: ${MODEL:-default}; seed $SEED"
for split in ${SPLITS:-tuning report}; do
	D=$CACHE/bench-$SEED/$split
	# shellcheck disable=SC2086
	"$SIAM" index -q --db "$T/$split.db" $MOPT "$D" || [ $? -eq 3 ]
	"$SIAM" info --db "$T/$split.db" | grep -i '^model' | head -2 || true
	set --
	for m in exact phash cnn all; do
		# shellcheck disable=SC2086
		"$SIAM" dedup -q --db "$T/$split.db" $MOPT --method $m --json \
			"$D" >"$T/$split-$m.json" || [ $? -eq 3 ]
		set -- "$@" "$m=$T/$split-$m.json"
	done
	"$PY" "$SRC/bench/neardup.py" score "$D" "$T/$split.db" "$@"
	case $split in
	tuning*) [ -z "${SWEEP:-}" ] ||
		SIAM=$SIAM "$PY" "$SRC/bench/neardup.py" sweep "$D" "$T/$split.db" ;;
	esac
done
