#!/bin/sh
# tests/index.sh -- siam index, query, sql and info from the outside:
# a tree full of traps, incremental runs, --prune, a second model,
# kill -9 and resume, URLs from a local HTTP server, output formats and
# exit statuses.  TAP.
#
# The model is a random one written by tests/mkmodel: these tests check
# the plumbing (what is stored, skipped, found), not the accuracy.
set -u
B=${SIAM_BUILDDIR:-.}
S=${SIAM_SRCDIR:-.}
SIAM="$B/siam"
SIAM_HOOKED="$B/tests/siam-hooked" # with the test hooks (Makefile.am)
T=$(mktemp -d /tmp/siam-index-XXXXXX)
HTTP_PID=
cleanup() {
	[ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

. "$S/tests/tap.sh"
# The value of "key":NUMBER in a one-line JSON object.
jnum() { sed -n "s/.*\"$1\":\\([-0-9.]*\\).*/\\1/p"; }
q() { "$SIAM" sql --db "$DB" --no-header "$1"; }

export SIAM_MODEL="$T/m.siam"
"$B/tests/mkmodel" "$T/m.siam" "in=1x28x28 conv5x4 relu pool2 fc16" 1 0.5
ok $? "a random model for the tests"
"$B/tests/mkmodel" "$T/m2.siam" "in=1x28x28 conv3x4 relu pool2 fc8" 2 0.5

# ---- the tree: the example digits and every trap -----------------------
D="$T/tree"
mkdir -p "$D"
cp -R "$S/examples/digits" "$D/digits"
nimg=$(find "$D/digits" -name '*.png' | wc -l)
mkdir "$D/traps"
mkfifo "$D/traps/fifo"
ln -s . "$D/traps/loop"                  # a link back to its folder
ln -s self "$D/traps/self"               # a link to itself: ELOOP
ln -s nowhere "$D/traps/dangling"        # a dangling link
drawn7=$(ls "$D"/digits/7/drawn-*.png)
head -c 120 "$drawn7" >"$D/traps/truncated.png"
mkdir "$D/traps/folder.png"              # a directory named like an image
echo "just text" >"$D/traps/notes.png"   # text named like an image
weird="$D/traps/it's a \"quoted\"
name	with tab.png"
cp "$D/digits/1/mnist-0002.png" "$weird"
cp "$D/digits/1/mnist-0002.png" "$D/traps/no-extension"
DB="$T/a.db"

out=$("$SIAM" index --db "$DB" --json "$D")
ok $(($? != 3)) "index over the traps finishes with status 3 (some errors)"
is "$(echo "$out" | jnum indexed)" $((nimg + 2)) \
	"every image indexed, by content (no extension, odd name)"
is "$(echo "$out" | jnum errors)" 3 \
	"three errors: truncated PNG, dangling link, link loop"
is "$(echo "$out" | jnum skipped)" 2 "FIFO and loop skipped"
is "$(echo "$out" | jnum not_images)" 1 "the text file is not an image"
is "$(q "SELECT count(*) FROM errors")" 3 "errors table has three rows"
msg=$(q "SELECT message FROM errors WHERE path LIKE '%truncated.png'")
case $msg in *truncated.png:*) r=0 ;; *) r=1 ;; esac
ok $r "the truncated PNG's error names it: $msg"
msg=$(q "SELECT message FROM errors WHERE path LIKE '%dangling'")
case $msg in *dangling*) r=0 ;; *) r=1 ;; esac
ok $r "the dangling link's error says so: $msg"
is "$(q "SELECT count(*) FROM images WHERE instr(path, char(10)) > 0
          AND instr(path, '\"quoted\"') > 0 AND instr(path, char(9)) > 0")" 1 \
	"the name with quotes, newline and tab is stored byte for byte"
is "$(q "SELECT label FROM images WHERE path LIKE '%/digits/4/mnist-0004.png'")" 4 \
	"the folder holding a file is its label"
is "$(q "SELECT count(*) FROM images WHERE length(content_hash) = 64
          AND phash IS NOT NULL AND width = 28 AND height = 28")" $((nimg + 2 - 10)) \
	"hashes and sizes stored (28x28 for all but the drawn ones)"
want=$(sha256sum "$D/digits/5/mnist-0008.png" | cut -c1-64)
is "$(q "SELECT content_hash FROM images WHERE path LIKE '%/5/mnist-0008.png'")" "$want" \
	"content_hash is what sha256sum prints"
is "$(q "PRAGMA journal_mode")" wal "the database is in WAL mode"

# ---- incremental --------------------------------------------------------
out=$("$SIAM" index --db "$DB" --json "$D")
is "$(echo "$out" | jnum indexed)" 0 "second run: nothing embedded again"
is "$(echo "$out" | jnum unchanged)" $((nimg + 2)) "second run: all unchanged"
touch -d '2001-02-03 04:05:06' "$D/digits/0/mnist-0010.png"
out=$("$SIAM" index --db "$DB" --json "$D")
is "$(echo "$out" | jnum indexed)/$(echo "$out" | jnum touched)" 0/1 \
	"a touched file with the same content is not embedded again"
is "$(q "SELECT mtime_ns FROM images WHERE path LIKE '%/0/mnist-0010.png'")" \
	"$(stat -c %Y "$D/digits/0/mnist-0010.png")000000000" "its new mtime is stored"
before=$(q "SELECT hex(embedding) FROM images WHERE path LIKE '%/6/mnist-0011.png'")
cp "$D/digits/9/mnist-0007.png" "$D/digits/6/mnist-0011.png"
touch -d '2002-01-01' "$D/digits/6/mnist-0011.png"
out=$("$SIAM" index --db "$DB" --json "$D")
is "$(echo "$out" | jnum indexed)" 1 "a changed file is embedded again"
after=$(q "SELECT hex(embedding) FROM images WHERE path LIKE '%/6/mnist-0011.png'")
ok $([ -n "$after" ] && [ "$before" != "$after" ]; echo $?) "with a new embedding"
is "$(q "SELECT count(*) FROM images WHERE path LIKE '%/6/mnist-0011.png'")" 1 \
	"still one row for it"

# ---- images.gray32: the 32x32 grey picture of the phash ----------------
# A 64x64 PPM of 2x2 blocks, one colour each (as tests/test_hash.c): block
# i's byte is its luma 0.299 R + 0.587 G + 0.114 B rounded, halves up,
# i.e. (299 R + 587 G + 114 B + 500) / 1000 in integers (colours on a tie
# nudged off it).  blocks PIXELS|GRAY prints the PPM's pixels as printf
# escapes, or the hex gray32 should be.
G="$T/gray"
mkdir "$G"
blocks() {
	awk -v what="$1" 'BEGIN {
		for (i = 0; i < 1024; i++) {
			R = (i * 37 + 5) % 256; Gr = (i * 91 + 17) % 256
			B = (i * 53 + 101) % 256
			if ((299 * R + 587 * Gr + 114 * B) % 1000 == 500)
				B = B % 2 ? B - 1 : B + 1
			r[i] = R; g[i] = Gr; b[i] = B
			y[i] = int((299 * R + 587 * Gr + 114 * B + 500) / 1000)
		}
		if (what == "GRAY") {
			for (i = 0; i < 1024; i++)
				printf "%02X", y[i]
			exit
		}
		for (py = 0; py < 64; py++)
			for (px = 0; px < 64; px++) {
				i = int(py / 2) * 32 + int(px / 2)
				printf "\\%03o\\%03o\\%03o", r[i], g[i], b[i]
			}
	}'
}
{ printf 'P6\n64 64\n255\n'; printf "$(blocks PIXELS)"; } >"$G/blocks.ppm"
{ printf 'P5\n64 64\n255\n'; head -c 4096 /dev/zero | tr '\0' '\310'; } >"$G/grey200.pgm"
cp "$D"/digits/3/*.png "$G/"
ngray=$(ls "$G" | wc -l)
GDB="$T/gray.db"
gq() { "$SIAM" sql --db "$GDB" --no-header "$1"; }
"$SIAM" index --db "$GDB" --json "$G" >/dev/null
is "$(gq "SELECT hex(gray32) FROM images WHERE path LIKE '%/blocks.ppm'")" \
	"$(blocks GRAY)" "gray32 of 2x2 blocks: each block's rounded luma"
is "$(gq "SELECT hex(gray32) = replace(hex(zeroblob(1024)), '00', 'C8')
          FROM images WHERE path LIKE '%/grey200.pgm'")" 1 \
	"gray32 of solid grey 200: 1024 bytes of 200"
is "$(gq "SELECT count(*) FROM images WHERE length(gray32) = 1024")" "$ngray" \
	"every indexed image has its gray32"
# A version 2 database: what siam made before gray32 (the column
# dropped, the version set back; tests/test_sql_db.c migrates the exact
# version 2 schema).  The next open migrates it to 3 with gray32 NULL,
# and siam index fills gray32 in for the unchanged files without
# embedding them again.
rows() { gq "SELECT path || ' ' || hex(embedding) || ' ' || phash || ' ' ||
             ifnull(hex(gray32), 'null') FROM images ORDER BY path"; }
before=$(rows)
gq "ALTER TABLE images DROP COLUMN gray32; PRAGMA user_version = 2" >/dev/null
ok $? "a version 2 database made by hand"
is "$(gq "SELECT (SELECT user_version FROM pragma_user_version) || ' ' ||
          count(gray32) || ' ' || count(embedding) FROM images")" "3 0 $ngray" \
	"opened: migrated to version 3, every gray32 NULL, embeddings kept"
out=$("$SIAM" index --db "$GDB" --json "$G")
is "$(echo "$out" | jnum indexed)/$(echo "$out" | jnum touched)/$(echo "$out" | jnum unchanged)" \
	"0/$ngray/0" "siam index decodes the unchanged files again, embeds none"
is "$(rows)" "$before" "gray32 filled in; embeddings and phash unchanged"
out=$("$SIAM" index --db "$GDB" --json "$G")
is "$(echo "$out" | jnum unchanged)/$(echo "$out" | jnum touched)" "$ngray/0" \
	"then the files are unchanged again: nothing decoded"

# ---- --prune ------------------------------------------------------------
rm "$D/digits/8/mnist-0061.png" "$D/traps/truncated.png"
out=$("$SIAM" index --db "$DB" --json --prune "$D")
st=$?
is "$(echo "$out" | jnum pruned)" 1 "--prune deletes the row of the removed file"
is "$(q "SELECT count(*) FROM images")" $((nimg + 1)) "one row fewer"
is "$(q "SELECT count(*) FROM errors WHERE path LIKE '%truncated.png'")" 0 \
	"--prune also forgets the error of a file that is gone"
is $st 3 "still status 3: the links are still broken"
rm "$D/traps/dangling" "$D/traps/self"
out=$("$SIAM" index --db "$DB" --json --prune "$D")
is $? 0 "status 0 when nothing fails"

# ---- query --------------------------------------------------------------
f="$D/digits/2/mnist-0001.png"
out=$("$SIAM" query --db "$DB" --json -k 3 "$f")
is $? 0 "query exits 0"
first=$(echo "$out" | sed -n 's/.*"results":\[{\([^}]*\)}.*/\1/p')
is "$(echo "$first" | jnum distance) $(echo "$first" | sed 's/.*"path":"//; s/"$//')" \
	"0 $f" "the image itself comes first at distance 0"
is "$(echo "$out" | grep -o '"rank"' | wc -l)" 3 "-k 3 gives three results"
out=$("$SIAM" query --db "$DB" --json -k 3 "$weird")
case $out in *'"path":"'"$D"'/traps/it'"'"'s a \"quoted\"\nname\twith tab.png"'*) r=0 ;; *) r=1 ;; esac
ok $r "a path with quotes, newline and tab is JSON-escaped"
latin1=$(printf '%s/caf\351 \342\202\254.png' "$T")  # Latin-1 e-acute, then a UTF-8 euro sign
cp "$f" "$latin1"
out=$("$SIAM" query --db "$DB" --json -k 1 "$latin1")
want=$(printf '"query":"%s/caf\\ufffd \342\202\254.png"' "$T")
case $out in *"$want"*) r=0 ;; *) r=1 ;; esac
ok $r "a name that is not UTF-8 gets U+FFFD in JSON, valid UTF-8 is kept"
if command -v python3 >/dev/null; then
	echo "$out" | python3 -c 'import json, sys; json.loads(sys.stdin.buffer.read().decode("utf-8"))'
	ok $? "that output parses as JSON"
fi
out=$("$SIAM" query --db "$DB" "$f")
is "$(echo "$out" | wc -l)" 10 "text output: ten lines by default"
case $(echo "$out" | head -1) in *"0.0000  match"*"$f") r=0 ;; *) r=1 ;; esac
ok $r "text output: rank, distance, match, ..., path"
"$SIAM" query --db "$DB" --max-distance 0 "$drawn7" >/dev/null
is $? 0 "--max-distance 0 still finds the image itself"
{ printf 'P5\n28 28\n255\n'; head -c 784 /dev/urandom; } >"$T/noise.pgm"
out=$("$SIAM" query --db "$DB" --json -k 2 "$T/noise.pgm")
d1=$(echo "$out" | sed -n 's/.*"rank":1,[^}]*"distance":\([^,]*\),.*/\1/p')
ok $(awk -v d="$d1" 'BEGIN { exit !(d > 0) }'; echo $?) \
	"an image that is not indexed is embedded and searched (nearest at $d1)"
cat "$f" | "$SIAM" query --db "$DB" -k 1 - | grep -q "mnist-0001.png"
ok $? "the query image can come from standard input"
"$SIAM" query --db "$DB" "$T/nonexistent.png" 2>/dev/null
is $? 2 "query of a missing file: status 2"
"$SIAM" query --db "$T/none.db" "$f" 2>/dev/null
is $? 2 "query of a missing database: status 2"

# ---- another model re-embeds; queries do not mix models -----------------
out=$("$SIAM" index --db "$DB" --json --model "$T/m2.siam" "$D")
is "$(echo "$out" | jnum indexed)" $((nimg + 1)) "a new model embeds everything again"
is "$(q "SELECT count(*) FROM models")" 2 "both models are stored"
is "$(q "SELECT count(DISTINCT length(embedding)) FROM images")" 2 \
	"rows of both models, each with its own embedding size"
out=$("$SIAM" query --db "$DB" --json -k 10000 "$f")
is "$(echo "$out" | grep -o '"rank"' | wc -l)" $((nimg + 1)) \
	"a query searches the current model's rows only"
is "$(echo "$out" | jnum model_id)" 2 "... of the new, current model"
out=$("$SIAM" query --db "$DB" --json -k 10000 --model "$T/m.siam" "$f")
is "$(echo "$out" | jnum model_id)" 1 "--model picks the older model's rows"
unset SIAM_MODEL
out=$("$SIAM" index --db "$DB" --json "$D")
is "$(echo "$out" | jnum indexed)/$(echo "$out" | jnum model_id)" 0/2 \
	"without --model the database's model is used"
export SIAM_MODEL="$T/m.siam"

# ---- siam sql -----------------------------------------------------------
is "$("$SIAM" sql --db "$DB" "SELECT 1 AS one, 'a' || char(9) || 'b\c' AS two, NULL AS three")" \
"one	two	three
1	a\\tb\\\\c	" "sql: tab-separated with a header, escapes, NULL empty"
is "$("$SIAM" sql --db "$DB" --csv "SELECT 1 AS a, 'x,y' AS b, 'q\"q' AS c")" \
'a,b,c
1,"x,y","q""q"' "sql --csv quotes as RFC 4180"
is "$("$SIAM" sql --db "$DB" --json "SELECT 1 AS a, 'x' AS b, NULL AS c, X'0aff' AS d")" \
'[{"a":1,"b":"x","c":null,"d":"X'"'"'0AFF'"'"'"}]' "sql --json rows"
is "$("$SIAM" sql --db "$DB" --no-header "SELECT siam_distance(siam_vector('[0,3]'), siam_vector('[4,0]'))")" \
	5.0 "sql has siam's functions"
is "$(echo "SELECT 2; SELECT 3;" | "$SIAM" sql --db "$DB" --no-header)" "2
3" "sql reads statements from standard input"
err=$("$SIAM" sql --db "$DB" "SELECT * FROM nosuch" 2>&1 >/dev/null)
st=$?
is "$st" 2 "sql error: status 2"
is "$err" "siam sql: no such table: nosuch" "sql error: SQLite's message"
"$SIAM" sql --db "$T/none.db" "SELECT 1" 2>/dev/null
is $? 2 "sql on a missing database: status 2, not created"
ok $([ ! -e "$T/none.db" ]; echo $?) "... and the file is not created"

# ---- siam info ----------------------------------------------------------
out=$("$SIAM" info --db "$DB" --json)
is $? 0 "info exits 0"
is "$(echo "$out" | sed -n 's/.*"database":{[^{]*"images":\([0-9]*\).*/\1/p')" \
	$((2 * nimg + 2)) "info counts the images"
case $out in *'"spec":"in=1x28x28 conv3x4 relu pool2 fc8"'*'"embed_dim":8'*) r=0 ;; *) r=1 ;; esac
ok $r "info shows the current model's spec and size"
"$SIAM" info --db "$DB" | grep -q "^images: *$((2 * nimg + 2)) "
ok $? "info text output"

# ---- kill -9 in the middle, then resume ---------------------------------
BIG="$T/big"
mkdir -p "$BIG"
for i in 1 2 3 4 5 6 7 8; do cp -R "$D/digits" "$BIG/copy$i"; done
nbig=$(find "$BIG" -type f | wc -l)
DB2="$T/b.db"
SIAM_TEST_KILL_AFTER=200 "$SIAM_HOOKED" index --db "$DB2" --quiet --batch 64 "$BIG"
is $? 137 "killed with SIGKILL in the middle of a run"
DB=$DB2
got=$(q "SELECT count(*) FROM images")
ok $([ "$got" -ge 192 ] && [ "$got" -lt "$nbig" ]; echo $?) \
	"what was committed before the kill is there ($got of $nbig)"
is "$(q "PRAGMA integrity_check")" ok "integrity_check ok after kill -9"
out=$("$SIAM" index --db "$DB2" --json --batch 64 "$BIG")
is "$(echo "$out" | jnum unchanged)" "$got" "the resumed run skips what was committed"
is "$(q "SELECT count(*) FROM images")" "$nbig" "and completes the index"

# Ctrl-C: a clean stop that keeps what is done.
DB4="$T/d.db"
err=$(SIAM_TEST_KILL_AFTER=128 SIAM_TEST_KILL_SIGNAL=2 \
	"$SIAM_HOOKED" index --db "$DB4" --batch 64 "$BIG" 2>&1 >/dev/null)
is $? 2 "Ctrl-C stops the run with status 2"
case $err in *interrupted*"run the same command again"*) r=0 ;; *) r=1 ;; esac
ok $r "and says how to continue: $err"
DB=$DB4
got=$(q "SELECT count(*) FROM images")
ok $([ "$got" -ge 128 ] && [ "$got" -lt "$nbig" ]; echo $?) \
	"the images done before the stop are saved ($got)"
"$SIAM" index --db "$DB4" --quiet "$BIG"
is "$(q "SELECT count(*) FROM images")" "$nbig" "the next run completes the index"

# An outside kill -9 at an arbitrary moment.
DB3="$T/c.db"
"$SIAM" index --db "$DB3" --quiet --batch 32 "$BIG" &
pid=$!
sleep 0.4
# Queries run while the index is being written (WAL).
"$SIAM" sql --db "$DB3" "SELECT count(*) FROM images" >/dev/null 2>&1
r1=$?
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
ok $r1 "siam sql reads the database while it is being indexed"
DB=$DB3
is "$(q "PRAGMA integrity_check")" ok "integrity_check ok after an outside kill -9"
"$SIAM" index --db "$DB3" --quiet "$BIG"
is $? 0 "the next run completes"
is "$(q "SELECT count(*) FROM images")" "$nbig" "with every image"

# ---- URLs from a local HTTP server --------------------------------------
W="$T/www"
mkdir -p "$W"
cp "$D/digits/3/mnist-0018.png" "$W/three.png"
echo "not an image" >"$W/text.png"
port=
if command -v python3 >/dev/null 2>&1; then
	python3 - "$W" >"$T/http.port" 2>/dev/null <<'EOF' &
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
	HTTP_PID=$!
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		port=$(cat "$T/http.port" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.25
	done
fi
if [ -n "$port" ]; then
	U="http://127.0.0.1:$port"
	printf '%s\n' "# a comment" "$U/three.png" "" "$U/missing.png" \
		"$U/text.png" "file:///etc/passwd" >"$T/urls"
	DB="$T/u.db"
	out=$("$SIAM" index --db "$DB" --json --urls "$T/urls")
	is $? 3 "URL indexing with bad URLs: status 3"
	is "$(echo "$out" | jnum indexed)/$(echo "$out" | jnum errors)" 1/3 \
		"one URL indexed, three errors"
	is "$(q "SELECT is_url || ' ' || path FROM images")" "1 $U/three.png" \
		"the URL is stored as given, marked is_url"
	msg=$(q "SELECT message FROM errors WHERE path LIKE '%missing.png'")
	case $msg in *404*) r=0 ;; *) r=1 ;; esac
	ok $r "the 404 is recorded: $msg"
	msg=$(q "SELECT message FROM errors WHERE path LIKE 'file:%'")
	ok $([ -n "$msg" ]; echo $?) "file:// is refused: $msg"
	out=$("$SIAM" query --db "$DB" --json -k 1 "$U/three.png")
	is "$(echo "$out" | jnum distance)" 0 "query by URL finds the same image"
	out=$("$SIAM" index --db "$DB" --json --urls "$T/urls")
	is "$(echo "$out" | jnum unchanged)" 1 "an indexed URL is not fetched again"
	"$SIAM" verify -q "$U/three.png" "$D/digits/3/mnist-0018.png"
	is $? 0 "verify: a URL and the same image on disk are the same"
	"$SIAM" verify "$U/missing.png" "$W/three.png" 2>"$T/verr"
	is $? 2 "verify: a 404 URL is an error (exit 2)"
	case $(cat "$T/verr") in *missing.png*404*) r=0 ;; *) r=1 ;; esac
	ok $r "verify names the URL and the status: $(cat "$T/verr")"
else
	for i in 1 2 3 4 5 6 7 8 9 10; do
		n=$((n + 1))
		echo "ok $n # SKIP no python3 for a local HTTP server"
	done
fi

# ---- the examples: queries.sql and the Python script ---------------------
DB="$T/ex.db"
(cd "$S" && "$SIAM" index --db "$DB" --quiet examples/)
is $? 0 "siam index examples/"
out=$(cd "$S" && "$SIAM" sql --db "$DB" <examples/queries.sql)
is $? 0 "examples/queries.sql runs"
is "$(echo "$out" | grep -c '^[0-9]	11	1$')" 10 \
	"queries.sql: 10 labels of 11 images, one of them large"
case $out in *"image_id	distance	label	path
"*"	0.0	3	examples/digits/3/drawn-0093.png"*) r=0 ;; *) r=1 ;; esac
ok $r "queries.sql: the drawn 3 is its own nearest neighbour"
if /usr/bin/python3 -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension' 2>/dev/null &&
   ! ldd "$B/siam.so" 2>/dev/null | grep -qE "libasan|libtsan"; then
	out=$(cd "$S" && /usr/bin/python3 examples/python_sqlite3.py "$DB" "$B/siam")
	case $out in *"nearest to"*"0.0000  match  3  examples/digits/3/drawn-0093.png"*) r=0 ;; *) r=1 ;; esac
	ok $r "examples/python_sqlite3.py loads the extension and queries"
else
	n=$((n + 1))
	echo "ok $n # SKIP no Python able to load extensions (or a sanitizer build)"
fi

# ---- usage and exit statuses --------------------------------------------
"$SIAM" index --db "$T/x.db" 2>/dev/null
is $? 2 "index without paths: status 2"
"$SIAM" index --db "$T/x.db" --bogus "$D" 2>/dev/null
is $? 2 "unknown option: status 2"
"$SIAM" index --db "$T/x.db" --threads 0 "$D" 2>/dev/null
is $? 2 "--threads 0: status 2"
"$SIAM" query --db "$DB" 2>/dev/null
is $? 2 "query without an image: status 2"
"$SIAM" index --db "$T/x.db" --quiet "$D/digits/0"
is $? 0 "a clean folder: status 0"
"$SIAM" index --help | grep -q "usage: siam index"
ok $? "index --help"

echo "1..$n"
[ $fails -eq 0 ]
