#!/bin/sh
# tests/knn_sidecar_index.sh -- siam index and siam dedup leave
# siam_knn's sidecar (DB-knn-MODEL, src/knn_sidecar.c) up to date when
# they finish, so the first siam query after them maps it instead of
# reading and coding every embedding; under the query path's rules (at
# least 4096 images, SIAM_KNN_SIDECAR=0 or read: none), and answers stay
# exactly the reference's (ORDER BY siam_distance, id), ties included
# (the images are 38 copies of the same 110 digits).  Whether a file was
# used or rewritten is seen from its mtime, set to an old time first.
# TAP.
set -u
B=${SIAM_BUILDDIR:-.}
S=${SIAM_SRCDIR:-.}
SIAM="$B/siam"
T=$(mktemp -d /tmp/siam-knnside-index-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$S/tests/tap.sh"

export SIAM_MODEL="$T/m.siam"
unset SIAM_KNN_SIDECAR
"$B/tests/mkmodel" "$T/m.siam" "in=1x28x28 conv5x4 relu pool2 fc16" 1 0.5
ok $? "a random model for the tests"
DB="$T/a.db"
SIDE="$DB-knn-1"
mtime() { stat -c %Y "$1" 2>/dev/null || echo none; }
mark() { touch -d @1000000 "$1"; }

# The first copy alone: 110 images, too few for a sidecar.
mkdir "$T/img"
cp -R "$S/examples/digits" "$T/img/d00"
"$SIAM" index --db "$DB" --quiet "$T/img"
ok $? "index 110 images"
ok $([ ! -e "$SIDE" ]; echo $?) "no sidecar below 4096 images"

i=1
while [ $i -lt 38 ]; do
	cp -R "$S/examples/digits" "$T/img/d$(printf %02d $i)"
	i=$((i + 1))
done
"$SIAM" index --db "$DB" --quiet "$T/img"
ok $? "index 4180 images"
is "$("$SIAM" sql --db "$DB" --no-header "SELECT count(*) FROM images")" \
	4180 "4180 images in the database"
ok $([ -f "$SIDE" ]; echo $?) "siam index wrote $SIDE"
ls "$T" | grep -q '\.db-knn-1\.' && fails_tmp=1 || fails_tmp=0
ok $fails_tmp "no temporary left beside it"

# Exact answers, through the mapped file: the k nearest of a stored
# embedding (ties: its 37 copies at distance 0, and more) equal the
# reference, and the file is used, not rewritten (mtime kept).
exact() {
	for id in 1 1000 4180; do
		for k in 10 500; do
			a=$("$SIAM" sql --db "$DB" --no-header "SELECT image_id,
			  distance FROM siam_knn WHERE query = (SELECT embedding
			  FROM images WHERE id = $id) AND k = $k")
			b=$("$SIAM" sql --db "$DB" --no-header "SELECT id,
			  siam_distance(embedding, (SELECT embedding FROM images
			  WHERE id = $id)) AS d FROM images ORDER BY d, id
			  LIMIT $k")
			if [ "$a" != "$b" ] || [ -z "$a" ]; then
				echo "# id $id, k $k differs"
				return 1
			fi
		done
	done
}
mark "$SIDE"
exact
ok $? "siam_knn equals ORDER BY siam_distance after siam index"
is "$(mtime "$SIDE")" 1000000 "the queries used the sidecar siam index left"
f=$(ls "$T"/img/d05/3/*.png | head -1)
"$SIAM" query --db "$DB" -k 5 "$f" >/dev/null
ok $? "siam query answers"
is "$(mtime "$SIDE")" 1000000 "siam query used it too"

# Nothing new: the file is found up to date, not rewritten.
"$SIAM" index --db "$DB" --quiet "$T/img"
ok $? "index again, nothing new"
is "$(mtime "$SIDE")" 1000000 "an unchanged index keeps the sidecar"

# New images: the run brings the sidecar up to date.
cp "$S"/examples/digits/7/*.png "$T/img/d00/" 2>/dev/null
mkdir "$T/img/new" && cp "$S"/examples/digits/7/*.png "$T/img/new/"
"$SIAM" index --db "$DB" --quiet "$T/img"
ok $? "index new images"
ok $([ "$(mtime "$SIDE")" != 1000000 ]; echo $?) \
	"siam index rewrote the stale sidecar"
mark "$SIDE"
exact
ok $? "exact after the second index"
is "$(mtime "$SIDE")" 1000000 "and the rewritten sidecar is used"

# siam dedup indexes too, and leaves it up to date.
mkdir "$T/img/new2" && cp "$S"/examples/digits/1/*.png "$T/img/new2/"
"$SIAM" dedup --db "$DB" "$T/img" >/dev/null 2>&1
ok $([ "$(mtime "$SIDE")" != 1000000 ]; echo $?) \
	"siam dedup rewrote the stale sidecar"
mark "$SIDE"
exact
ok $? "exact after siam dedup"
is "$(mtime "$SIDE")" 1000000 "and siam dedup's sidecar is used"

# SIAM_KNN_SIDECAR=0 and =read: siam index writes none.
for v in 0 read; do
	rm -f "$SIDE"
	mkdir "$T/img/env$v" && cp "$S"/examples/digits/2/*.png "$T/img/env$v/"
	SIAM_KNN_SIDECAR=$v "$SIAM" index --db "$DB" --quiet "$T/img"
	ok $? "index with SIAM_KNN_SIDECAR=$v"
	ok $([ ! -e "$SIDE" ]; echo $?) "SIAM_KNN_SIDECAR=$v: no sidecar"
done
SIAM_KNN_SIDECAR=0 exact
ok $? "exact without a sidecar"
tap_end
