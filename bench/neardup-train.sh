#!/bin/sh
# bench/neardup-train.sh -- the photo model's larger training folder:
# TUNING's photographs (bench/neardup.sh's train/) plus real photographs
# from Debian packages that are not in the benchmark.
#
#   sh bench/neardup-train.sh          (after bench/neardup.sh has built
#                                       the benchmark; prints the folder)
#
# Packages (apt-get download + dpkg -x into $NEARDUP_CACHE/extra; nothing
# is installed): stellarium-data (nebulae/: telescope photographs;
# landscapes/: panoramic photographs of real places) and hugin-data (the
# photographs of its manual, *.jpg; its *.png are screenshots).  Not
# their drawings, sky-culture art, planet maps or textures.  Never a
# wallpaper package, scratch, palapeli-data, opencv-doc or
# python3-skimage, and none of the benchmark's four packages, so TUNING
# and REPORT are exactly what bench/neardup.sh builds.
# bench/neardup.py carves them like the benchmark's (photo-like, at least
# 160 pixels a side, scaled to at most 800) and drops any picture that is
# near-identical to one of the benchmark's photographs (either split),
# so no REPORT photograph is trained on through another package.
#
# A second set, endless-sky-data (images/land/: 273 landscape, city and
# sky photographs of 720x360, carved like the others into
# $NEARDUP_CACHE/extra-es), goes only into the held-out folders.
#
# Output, deterministic for the same package versions:
#   $NEARDUP_CACHE/bench-$SEED/train-extra    train/'s files plus the
#       stellarium/hugin photographs named x00000.png...
#   $NEARDUP_CACHE/bench-$SEED/tuning-b       about half of TUNING (its
#       families in odd blocks of 25), with its truth.csv
#   $NEARDUP_CACHE/bench-$SEED/train-heldout  train/'s photographs of the
#       other TUNING families, the x photographs and the endless-sky ones
#       (e00000.png...): a model trained there has never seen TUNING-B,
#       so thresholds and recipes chosen on TUNING-B are chosen on
#       photographs it does not know (bench/neardup.py, "TUNING-B").
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
CACHE=${NEARDUP_CACHE:-/tmp/siam-neardup}
SEED=${SEED:-1}
X=$CACHE/extra
OUT=$CACHE/bench-$SEED/train-extra

if [ ! -f "$CACHE/src/sources.csv" ] || [ ! -d "$CACHE/bench-$SEED/train" ]; then
	echo "no benchmark in $CACHE: run bench/neardup.sh first"
	exit 2
fi
if [ ! -f "$X/src/sources.csv" ]; then
	rm -rf "$X/x" "$X/src"
	mkdir -p "$X/debs" "$X/x"
	(cd "$X/debs" && apt-get download stellarium-data hugin-data >/dev/null 2>&1)
	for n in stellarium-data hugin-data; do
		mkdir -p "$X/x/$n" && dpkg -x "$X"/debs/"$n"_*.deb "$X/x/$n"
	done
	"$PY" "$SRC/bench/neardup.py" carve "$X/x" "$X/src" "$CACHE/src" \
		'stellarium-data/usr/share/stellarium/nebulae/*' \
		'stellarium-data/usr/share/stellarium/landscapes/*' \
		'hugin-data/*.jpg'
fi
ES=$CACHE/extra-es
if [ ! -f "$ES/src/sources.csv" ]; then
	rm -rf "$ES/x" "$ES/src"
	mkdir -p "$ES/debs" "$ES/x/endless-sky-data"
	(cd "$ES/debs" && apt-get download endless-sky-data >/dev/null 2>&1)
	dpkg -x "$ES"/debs/endless-sky-data_*.deb "$ES/x/endless-sky-data"
	"$PY" "$SRC/bench/neardup.py" carve "$ES/x" "$ES/src" "$CACHE/src" \
		'endless-sky-data/usr/share/games/endless-sky/images/land/*'
fi
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$CACHE/bench-$SEED/train/"* "$OUT/"
for f in "$X"/src/*.png; do
	cp "$f" "$OUT/x$(basename "$f")"
done
echo "$OUT: $(find "$OUT" -type f | wc -l) photographs" \
	"($(find "$X/src" -name '*.png' | wc -l) extra)"
"$PY" "$SRC/bench/neardup.py" holdout "$CACHE/bench-$SEED" x="$X/src" e="$ES/src"
