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
# Output: $NEARDUP_CACHE/bench-$SEED/train-extra, train/'s files plus
# the extra photographs named x00000.png...  Deterministic for the same
# package versions.
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
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$CACHE/bench-$SEED/train/"* "$OUT/"
for f in "$X"/src/*.png; do
	cp "$f" "$OUT/x$(basename "$f")"
done
echo "$OUT: $(find "$OUT" -type f | wc -l) photographs" \
	"($(find "$X/src" -name '*.png' | wc -l) extra)"
