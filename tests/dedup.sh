#!/bin/sh
# tests/dedup.sh -- siam dedup from the outside, each action on a
# temporary folder: groups of identical copies, broken files, the
# dry run changes nothing, --move-to and --undo (also after a kill -9
# in the middle of the moves) restore every file byte for byte,
# --reference files are never touched, --hardlink, --delete --yes,
# --json and --csv, --method phash, --sheet, the crop check.  TAP.
#
# The model is a random one (tests/mkmodel), so the tests use exact
# groups (--method exact), whose answer does not depend on the model.
set -u
B=${SIAM_BUILDDIR:-.}
S=${SIAM_SRCDIR:-.}
SIAM="$B/siam"
SIAM_HOOKED="$B/tests/siam-hooked"
T=$(mktemp -d /tmp/siam-dedup-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$S/tests/tap.sh"
export SIAM_MODEL="$T/m.siam"
"$B/tests/mkmodel" "$T/m.siam" "in=1x28x28 conv5x4 relu pool2 fc16" 1 0.5
ok $? "a random model for the tests"

# A folder: three digits, two copies of one (one in a sub-folder), a copy
# of another, and broken files named like images.
make_tree() {
	rm -rf "$T/p" "$T/ref" "$T/db" "$T/moved"
	mkdir -p "$T/p/sub" "$T/ref"
	cp "$S/examples/digits/1/mnist-0002.png" "$T/p/one.png"
	cp "$S/examples/digits/1/mnist-0002.png" "$T/p/sub/one-copy.png"
	cp "$S/examples/digits/1/mnist-0002.png" "$T/p/one-again.png"
	cp "$S/examples/digits/2/$(ls "$S/examples/digits/2" | head -1)" "$T/p/two.png"
	cp "$T/p/two.png" "$T/p/sub/two-copy.png"
	cp "$S/examples/digits/3/$(ls "$S/examples/digits/3" | head -1)" "$T/p/three.png"
	: >"$T/p/empty.jpg"
	echo "not a picture" >"$T/p/text.png"
	head -c 100 "$T/p/three.png" >"$T/p/truncated.png"
}
sums() { (cd "$T" && find p ref -type f | sort | xargs sha256sum); }

make_tree
before=$(sums)
out=$("$SIAM" dedup --db "$T/db" --method exact --csv "$T/p" 2>/dev/null)
is $? 3 "dry run: exit 3 (broken files listed)"
is "$(echo "$out" | grep -c ',duplicate,identical,')" 3 \
	"three identical duplicates"
is "$(echo "$out" | grep -c ',keep,')" 2 "in two groups"
is "$(echo "$out" | grep ',broken,' | sed 's/.*,"//; s/"$//' | sort | tr '\n' ' ')" \
	"$T/p/empty.jpg $T/p/text.png $T/p/truncated.png " \
	"empty, text and truncated files named as images are broken"
is "$(echo "$out" | grep "empty.jpg" | cut -d, -f3)" '"empty file"' \
	"the reason of the empty one"
is "$(echo "$out" | grep ',keep,' | sed 's/.*,"//; s/"$//' | sort | tr '\n' ' ')" \
	"$T/p/one-again.png $T/p/sub/two-copy.png " \
	"--keep largest: same pixels and bytes, the first path (bytes) wins"
is "$(sums)" "$before" "the dry run changed nothing"
out=$("$SIAM" dedup --db "$T/db" --method exact --keep shortest-path --json "$T/p" 2>/dev/null)
case $out in *'"keeper":{"path":"'"$T"'/p/one.png"'*) r=0 ;; *) r=1 ;; esac
ok $r "--json, --keep shortest-path: one.png keeps"
case $out in *'"duplicates":3,'*'"action":"none"'*) r=0 ;; *) r=1 ;; esac
ok $r "--json counts three duplicates, no action"

# --move-to, then --undo: byte-identical
"$SIAM" dedup --db "$T/db" --method exact --keep shortest-path -q \
	--move-to "$T/moved" "$T/p"
is $? 3 "--move-to finishes (3: broken files)"
is "$(find "$T/p" -name '*.png' | wc -l | tr -d ' ')" 5 \
	"three copies moved away (8 .png files before)"
is "$(ls "$T/moved$T/p/sub" | tr '\n' ' ')" "one-copy.png two-copy.png " \
	"they keep their paths under the destination"
man=$(ls "$T"/moved/siam-dedup-*.manifest)
is "$(head -1 "$man")" "# siam dedup manifest 1" "the manifest is written"
is "$(grep -c '^move	' "$man")" 3 "one line per move"
"$SIAM" dedup --undo "$man" >/dev/null
is $? 0 "--undo succeeds"
is "$(sums)" "$before" "--undo restores every file byte for byte"
"$SIAM" dedup --undo "$man" >"$T/again"
is "$(cat "$T/again")" "0 restored, 3 already in place, 0 failed" \
	"--undo again: nothing to do"

# kill -9 after the first move, then --undo
rm -rf "$T/moved"
SIAM_TEST_KILL_AFTER=1 "$SIAM_HOOKED" dedup --db "$T/db" --method exact \
	-q --move-to "$T/moved" "$T/p" 2>/dev/null
is $? 137 "killed (SIGKILL) in the middle of the moves"
is "$(find "$T/p" -name '*.png' | wc -l | tr -d ' ')" 7 \
	"one file moved before the kill"
"$SIAM" dedup --undo "$(ls "$T"/moved/siam-dedup-*.manifest)" >"$T/undo"
is "$(cat "$T/undo")" "1 restored, 2 already in place, 0 failed" \
	"--undo after kill -9"
is "$(sums)" "$before" "and every file is back, byte for byte"

# --reference: never touched, always the keeper
cp "$T/p/two.png" "$T/ref/two-master.png"
before=$(sums)
out=$("$SIAM" dedup --db "$T/db" --method exact --csv --reference "$T/ref" "$T/p" 2>/dev/null)
is "$(echo "$out" | grep ',keep,' | grep -c "two-master.png")" 1 \
	"the reference file keeps its group"
rm -rf "$T/moved"
"$SIAM" dedup --db "$T/db" --method exact -q --reference "$T/ref" \
	--move-to "$T/moved" "$T/p" 2>/dev/null
is "$(cd "$T" && find ref -type f | sort | xargs sha256sum)" \
	"$(echo "$before" | grep ' ref/')" "the reference folder is untouched"
[ ! -e "$T/p/two.png" ] && [ -e "$T/moved$T/p/two.png" ]
ok $? "a copy of a reference file is moved, even the largest"
"$SIAM" dedup --undo "$(ls "$T"/moved/siam-dedup-*.manifest)" >/dev/null
is "$(sums)" "$before" "undone"

# --hardlink: identical copies become links to the keeper
"$SIAM" dedup --db "$T/db" --method exact -q --keep shortest-path --hardlink "$T/p" 2>/dev/null
is "$(stat -c %i "$T/p/sub/one-copy.png")" "$(stat -c %i "$T/p/one.png")" \
	"--hardlink: a copy is the keeper's inode"
is "$(stat -c %h "$T/p/one.png")" 3 "three names for it"
is "$(sums)" "$before" "the bytes are the same"

# --delete needs --yes
"$SIAM" dedup --db "$T/db" --method exact --delete "$T/p" 2>/dev/null
is $? 2 "--delete without --yes is refused"
is "$(sums)" "$before" "nothing deleted"
"$SIAM" dedup --db "$T/db" --method exact -q --keep shortest-path --delete --yes "$T/p" 2>/dev/null
is "$(find "$T/p" -name '*.png' | sort | sed "s|$T/||" | tr '\n' ' ')" \
	"p/one.png p/text.png p/three.png p/truncated.png p/two.png " \
	"--delete --yes: only the keepers (and broken files) are left"

# --method phash: a copy with other bytes but the same pixels (a byte
# after the PNG's end) is a phash pair (0 bits), not an exact one
rm -rf "$T/ph" && mkdir -p "$T/ph"
cp "$S/examples/digits/4/$(ls "$S/examples/digits/4" | head -1)" "$T/ph/four.png"
{ cat "$T/ph/four.png"; printf x; } >"$T/ph/four-padded.png"
cp "$S/examples/digits/7/$(ls "$S/examples/digits/7" | head -1)" "$T/ph/seven.png"
out=$("$SIAM" dedup --db "$T/db" --method phash --csv "$T/ph" 2>/dev/null)
is "$(echo "$out" | grep ',duplicate,' | cut -d, -f2-4)" "duplicate,phash,0" \
	"--method phash: the padded copy, 0 bits from its keeper"
is "$("$SIAM" dedup --db "$T/db" --method exact --csv "$T/ph" 2>/dev/null | grep -c ',duplicate,')" 0 \
	"--method exact: not a pair (other bytes)"

# --method all (the default): identical files, cnn pairs, and phash
# pairs within 6 bits.  Two gray pictures that differ in one pixel have
# the same phash but not the same embedding: with a cnn threshold too
# small to link them, all links them by phash (0 bits) and cnn does
# not.
pgm() { # FILE BUMP LO HI: a 28x28 gradient, the square LO <= x, y < HI
	# raised by BUMP
	LC_ALL=C awk -v bump="$2" -v lo="$3" -v hi="$4" 'BEGIN {
		printf "P5\n28 28\n255\n"
		for (y = 0; y < 28; y++)
			for (x = 0; x < 28; x++)
				printf "%c", (x * 3 + y * 2) % 100 + 20 + \
				       (x >= lo && x < hi && y >= lo && y < hi ? bump : 0)
	}' >"$1"
}
rm -rf "$T/all" && mkdir -p "$T/all"
pgm "$T/all/a.pgm" 0 0 0
pgm "$T/all/b.pgm" 6 10 11
out=$("$SIAM" dedup --db "$T/dball" --threshold 1e-9 --csv "$T/all" 2>/dev/null)
is "$(echo "$out" | grep ',duplicate,' | cut -d, -f2-4)" "duplicate,phash,0" \
	"--method all by default: the one-pixel copy is a phash pair (0 bits)"
"$SIAM" dedup --db "$T/dball" --threshold 1e-9 "$T/all" >/dev/null 2>"$T/err"
grep -q "method all, threshold 1e-09 (--threshold), phash at most 6 bits" "$T/err"
ok $? "the summary line names phash's 6 bits"
is "$("$SIAM" dedup --db "$T/dball" --method cnn --threshold 1e-9 --csv "$T/all" 2>/dev/null | grep -c ',duplicate,')" 0 \
	"--method cnn at the same threshold: no pair"
out=$("$SIAM" dedup --db "$T/dball" --threshold 1e-9 --json "$T/all" 2>/dev/null)
case $out in *'"phash_bits":6,"method":"all"'*) r=0 ;; *) r=1 ;; esac
ok $r "--json says phash_bits 6 for all"
case $("$SIAM" dedup --db "$T/dball" --method cnn --json "$T/all" 2>/dev/null) in
*phash_bits*) r=1 ;; *) r=0 ;; esac
ok $r "and no phash_bits for cnn, which does not use it"
# --phash-bits sets all's bits too: a copy whose top-left quarter is
# brighter is D bits away (D from --method phash); all links it at
# --phash-bits D, not at D - 1 nor at its default 6
rm -rf "$T/all2" && mkdir -p "$T/all2"
pgm "$T/all2/a.pgm" 0 0 0
pgm "$T/all2/c.pgm" 60 0 14
d=$("$SIAM" dedup --db "$T/dball" --method phash --phash-bits 64 --csv "$T/all2" 2>/dev/null |
	grep ',duplicate,' | cut -d, -f4)
[ "${d:-0}" -gt 6 ]; ok $? "the brighter copy is more than 6 bits away ($d)"
pairs() { "$SIAM" dedup --db "$T/dball" --threshold 1e-9 --csv "$@" "$T/all2" 2>/dev/null | grep ',duplicate,' | cut -d, -f2-4; }
is "$(pairs)" "" "all at its default 6 bits: no pair"
is "$(pairs --phash-bits $((d - 1)))" "" "all --phash-bits $((d - 1)): no pair"
is "$(pairs --phash-bits "$d")" "duplicate,phash,$d" "all --phash-bits $d: the phash pair"

# The crop check (all): a picture and an off-centre crop of it (80% of
# each side), with the photo model at a threshold too small for the cnn
# pair: all finds the crop pair, shown with its cnn distance; cnn alone
# and phash do not; another picture is no crop.  The pictures are blobs
# on a gradient (awk), the crop the same formula on a window.
blobs() { # FILE SEED X0 Y0 W H: the W x H window at (X0, Y0) of a 320x240
	LC_ALL=C awk -v seed="$2" -v x0="$3" -v y0="$4" -v w="$5" -v h="$6" 'BEGIN {
		srand(seed)
		for (k = 0; k < 24; k++) {
			cx[k] = rand() * 320; cy[k] = rand() * 240
			r2[k] = (8 + rand() * 50) ^ 2; v[k] = rand() * 140 - 40
		}
		printf "P5\n%d %d\n255\n", w, h
		for (y = y0; y < y0 + h; y++)
			for (x = x0; x < x0 + w; x++) {
				p = 40 + x * 0.2 + y * 0.1
				for (k = 0; k < 24; k++) {
					d = ((x - cx[k]) ^ 2 + (y - cy[k]) ^ 2) / r2[k]
					if (d < 1) p += v[k] * (1 - d)
				}
				q = p < 1 ? 1 : (p > 255 ? 255 : int(p))
				printf "%c", q
			}
	}' >"$1"
}
rm -rf "$T/crop" && mkdir -p "$T/crop"
blobs "$T/crop/photo.pgm" 11 0 0 320 240
blobs "$T/crop/photo-crop.pgm" 11 48 20 256 192
blobs "$T/crop/other.pgm" 12 0 0 320 240
PM="$S/models/photo.siam"
out=$("$SIAM" dedup --db "$T/dbcrop" --model "$PM" --threshold 1e-9 --csv "$T/crop" 2>/dev/null)
is "$(echo "$out" | grep ',duplicate,' | cut -d, -f3 | sed 's/^"//; s/"$//')" crop \
	"all: the off-centre crop is a crop pair"
is "$(echo "$out" | grep ',duplicate,' | sed 's/.*,"//; s/"$//')" "$T/crop/photo-crop.pgm" \
	"the crop is the member, the whole picture (more pixels) the keeper"
dist=$(echo "$out" | grep ',duplicate,' | cut -d, -f4)
pdist=$("$SIAM" query --db "$T/dbcrop" -k 2 "$T/crop/photo-crop.pgm" 2>/dev/null |
	grep "/photo.pgm$" | awk '{ print $2 }')
LC_ALL=C awk -v a="$dist" -v b="$pdist" 'BEGIN { exit !(a > 0 && (a - b) ^ 2 < 1e-8) }'
ok $? "its distance is the cnn distance ($dist; siam query: $pdist)"
"$SIAM" dedup --db "$T/dbcrop" --model "$PM" --threshold 1e-9 "$T/crop" >/dev/null 2>"$T/err"
grep -q ", crops checked on [1-9][0-9]* pairs*, keep largest$" "$T/err"
ok $? "the summary line says how many pairs the crop check scored"
# rows without their grey picture (a database of an older siam): no crop
# pair, and the summary says why; dedup of the folder fills them in
"$SIAM" sql --db "$T/dbcrop" "UPDATE images SET gray32 = NULL" >/dev/null
"$SIAM" dedup --db "$T/dbcrop" --model "$PM" --threshold 1e-9 --csv >"$T/out" 2>/dev/null
is "$(grep -c ',duplicate,' "$T/out")" 0 "pictures gone: no crop pair"
"$SIAM" dedup --db "$T/dbcrop" --model "$PM" --threshold 1e-9 >/dev/null 2>"$T/err"
grep -q "crops checked on 0 pairs (3 images without a grey picture: siam index their folders)" "$T/err"
ok $? "and the summary line says which images were not checked, and what to do"
is "$("$SIAM" dedup --db "$T/dbcrop" --model "$PM" --threshold 1e-9 --csv "$T/crop" 2>/dev/null | grep ',duplicate,' | cut -d, -f3)" crop \
	"siam dedup of the folder draws them again: the crop pair is back"
is "$("$SIAM" dedup --db "$T/dbcrop" --model "$PM" --method cnn --threshold 1e-9 --csv "$T/crop" 2>/dev/null | grep -c ',duplicate,')" 0 \
	"--method cnn at the same threshold: no pair"
is "$("$SIAM" dedup --db "$T/dbcrop" --model "$PM" --method phash --phash-bits 6 --csv "$T/crop" 2>/dev/null | grep -c ',duplicate,')" 0 \
	"phash within all's 6 bits: no pair"

# The look check (all): at a threshold past the other picture's cnn
# distance D but under twice it, the model links it to the photograph
# and its crop (--method cnn), but it does not look like them, so all
# leaves it out and says so; at a threshold over twice D the pairs are
# within half the threshold, where the model is trusted alone.
D=$("$SIAM" query --db "$T/dbcrop" -k 3 "$T/crop/other.pgm" 2>/dev/null |
	grep "/photo.pgm$" | awk '{ print $2 }')
t1=$(LC_ALL=C awk -v d="$D" 'BEGIN { printf "%.4f", d * 1.2 }')
t2=$(LC_ALL=C awk -v d="$D" 'BEGIN { printf "%.4f", d * 2.1 }')
members() { "$SIAM" dedup --db "$T/dbcrop" --model "$PM" --csv "$@" "$T/crop" 2>/dev/null |
	grep ',duplicate,' | sed 's/.*,"//; s/"$//' | sed 's|.*/||' | sort | tr '\n' ' '; }
is "$(members --method cnn --threshold "$t1")" "photo-crop.pgm photo.pgm " \
	"cnn at $t1 (D $D): the other picture's group holds the photograph and its crop"
is "$(members --threshold "$t1")" "photo-crop.pgm " \
	"all at $t1: the other picture looks unlike them, only the crop pair is left"
"$SIAM" dedup --db "$T/dbcrop" --model "$PM" --threshold "$t1" "$T/crop" >/dev/null 2>"$T/err"
# (the crop's own pair, 0.57, is within half of the threshold: not looked at)
grep -q ", 2 cnn pairs looked at (2 unlike, left out), " "$T/err"
ok $? "the summary line counts the pairs looked at and left out ($(grep -o '[0-9]* cnn pairs* looked at ([0-9]* unlike' "$T/err"))"
is "$(members --threshold "$t2")" "$(members --method cnn --threshold "$t2")" \
	"all at $t2, D within half of it: the model alone decides, as cnn"

# --method cnn: byte-identical copies are labelled identical (distance
# 0), not "cnn 0"; a tiny threshold keeps the random model's other
# pairs out
make_tree
out=$("$SIAM" dedup --db "$T/db3" --method cnn --threshold 1e-9 --csv "$T/p" 2>/dev/null)
is "$(echo "$out" | grep ',duplicate,' | cut -d, -f2-4 | sort | uniq -c | tr -s ' ')" \
	" 3 duplicate,identical,0" "--method cnn: the three identical copies, labelled identical"

# --sheet: two groups of at most three files (the tree after --delete
# has none, so a fresh one): 8 + 3 * 144 by 8 + 2 * 176 pixels
make_tree
"$SIAM" dedup --db "$T/db2" --method exact -q --sheet "$T/sheet.png" "$T/p" >/dev/null 2>&1
is "$(od -An -tu1 -j16 -N8 "$T/sheet.png" | tr -s ' ' | sed 's/^ //')" \
	"0 0 1 184 0 0 1 104" "--sheet: a PNG of 440 x 360 pixels (IHDR)"
out=$("$SIAM" dedup --db "$T/db2" --method exact --sheet "$T/no/such/dir/s.png" "$T/p" 2>"$T/err")
is $? 3 "--sheet to a path that cannot be written: exit 3"
grep -q "^siam dedup: --sheet $T/no/such/dir/s.png: No such file or directory" "$T/err"
ok $? "and a clear error naming it"
is "$(echo "$out" | grep -c '^group ')" 2 "the report is still printed"
# a FIFO (no reader) or a directory as the sheet: refused at once, not
# waited on; the report goes on
# (with a reader, so that without the check the sheet would go into the
# FIFO and the exit code say so, rather than the test hang)
mkfifo "$T/fifo.png"
(cat "$T/fifo.png" >/dev/null) 2>/dev/null &
reader=$!
out=$("$SIAM" dedup --db "$T/db2" --method exact --sheet "$T/fifo.png" "$T/p" 2>"$T/err")
is $? 3 "--sheet naming a FIFO: exit 3"
kill $reader 2>/dev/null; wait $reader 2>/dev/null
grep -q "^siam dedup: --sheet $T/fifo.png: cannot write a sheet there (a FIFO)" "$T/err"
ok $? "and the error says it is a FIFO"
is "$(echo "$out" | grep -c '^group ')" 2 "the report is still printed"
out=$("$SIAM" dedup --db "$T/db2" --method exact --sheet "$T/p" "$T/p" 2>"$T/err")
is $? 3 "--sheet naming a directory: exit 3"
grep -q "^siam dedup: --sheet $T/p: cannot write a sheet there (a directory)" "$T/err"
ok $? "and the error says it is a directory"
"$SIAM" dedup --method nope 2>/dev/null
is $? 2 "a bad --method is a usage error"
tap_end
