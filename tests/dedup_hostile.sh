#!/bin/sh
# tests/dedup_hostile.sh -- siam dedup against odd files and kills:
# a duplicate that became a FIFO after it was indexed is refused by
# name by --delete and --hardlink (never opened and waited on), a FIFO
# or a directory as --undo MANIFEST is a clear error, and a kill -9
# after each move of --move-to in turn leaves every file moved and
# journalled or untouched, which --undo restores byte for byte.  TAP.
#
# A writer holds each FIFO's other end: a siam that wrongly opens it
# reads "garbage" instead of hanging, and fails on the message.
set -u
B=${SIAM_BUILDDIR:-.}
S=${SIAM_SRCDIR:-.}
SIAM="$B/siam"
SIAM_HOOKED="$B/tests/siam-hooked"
T=$(mktemp -d /tmp/siam-dedup-hostile-XXXXXX)
w=
trap '[ -n "$w" ] && kill $w 2>/dev/null; rm -rf "$T"' EXIT
. "$S/tests/tap.sh"
export SIAM_MODEL="$T/m.siam"
"$B/tests/mkmodel" "$T/m.siam" "in=1x28x28 conv5x4 relu pool2 fc16" 1 0.5
ok $? "a random model for the tests"

# Six files: one digit and three copies, another and one copy (four
# duplicates, exact groups: the answer does not depend on the model).
make_tree() {
	rm -rf "$T/p" "$T/db" "$T/moved"
	mkdir -p "$T/p/a" "$T/p/b"
	one="$S/examples/digits/1/mnist-0002.png"
	two="$S/examples/digits/2/$(ls "$S/examples/digits/2" | head -1)"
	cp "$one" "$T/p/one.png"
	cp "$one" "$T/p/a/one-1.png"
	cp "$one" "$T/p/b/one-2.png"
	cp "$one" "$T/p/one-3.png"
	cp "$two" "$T/p/two.png"
	cp "$two" "$T/p/a/two-copy.png"
}
sums() { (cd "$T" && find p -type f | sort | xargs sha256sum); }
# fifo PATH: a FIFO at PATH with a writer at its other end ($w).
fifo() {
	mkfifo "$1" || return 1
	(echo garbage >"$1") 2>/dev/null &
	w=$!
}
unfifo() { kill $w 2>/dev/null; wait $w 2>/dev/null; w=; }

make_tree
before=$(sums)
"$SIAM" dedup --db "$T/db" --method exact -q "$T/p" >/dev/null 2>&1
is $? 0 "indexed, dry run"

# A duplicate becomes a FIFO after it was indexed: --delete and
# --hardlink check its bytes first, through the safe reader.
for act in "--delete --yes" --hardlink; do
	make_tree
	"$SIAM" dedup --db "$T/db" --method exact -q "$T/p" >/dev/null 2>&1
	rm "$T/p/one-3.png"
	fifo "$T/p/one-3.png"
	# no PATH: the database's images as indexed, no new walk
	"$SIAM" dedup --db "$T/db" --method exact -q $act \
		>/dev/null 2>"$T/err"
	r=$?
	unfifo
	is $r 3 "$act, a duplicate now a FIFO: exit 3 (partial)"
	grep -q "one-3.png: left alone: .*not a regular file (a FIFO)" \
		"$T/err"
	ok $? "$act: the FIFO is named and left alone"
	[ -p "$T/p/one-3.png" ]
	ok $? "$act: the FIFO is still there"
done

# --undo MANIFEST: a FIFO, a directory
fifo "$T/man.fifo"
"$SIAM" dedup --undo "$T/man.fifo" >/dev/null 2>"$T/err"
r=$?
unfifo
is $r 2 "--undo FIFO: exit 2"
grep -q "man.fifo: not a regular file (a FIFO)" "$T/err"
ok $? "--undo FIFO: says so"
mkdir "$T/man.dir"
"$SIAM" dedup --undo "$T/man.dir" >/dev/null 2>"$T/err"
is $? 2 "--undo DIRECTORY: exit 2"
grep -q "man.dir: not a regular file (a directory)" "$T/err"
ok $? "--undo DIRECTORY: says so"

# kill -9 after each of the four moves in turn
for k in 1 2 3 4; do
	make_tree
	"$SIAM" dedup --db "$T/db" --method exact -q "$T/p" >/dev/null 2>&1
	SIAM_TEST_KILL_AFTER=$k "$SIAM_HOOKED" dedup --db "$T/db" \
		--method exact -q --move-to "$T/moved" "$T/p" 2>/dev/null
	is $? 137 "kill -9 after move $k"
	man=$(ls "$T"/moved/siam-dedup-*.manifest)
	is "$(grep -c '^move	' "$man")" 4 "after move $k: all four journalled"
	is "$(find "$T/moved" -name '*.png' | wc -l | tr -d ' ')" $k \
		"after move $k: $k moved"
	is "$(find "$T/p" -name '*.png' | wc -l | tr -d ' ')" $((6 - k)) \
		"after move $k: the others untouched"
	# every moved file is a "to" of the manifest, with its sha256
	bad=0
	for f in $(find "$T/moved" -name '*.png'); do
		h=$(sha256sum "$f" | cut -d' ' -f1)
		grep -q "	$f	$h\$" "$man" || bad=1
	done
	ok $bad "after move $k: each moved file is journalled with its bytes"
	"$SIAM" dedup --undo "$man" >"$T/undo"
	is "$(cat "$T/undo")" "$k restored, $((4 - k)) already in place, 0 failed" \
		"after move $k: --undo"
	is "$(sums)" "$before" "after move $k: every file back, byte for byte"
done
tap_end
