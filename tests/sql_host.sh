#!/bin/sh
# tests/sql_host.sh -- siam.so in a host built from another SQLite than
# the system's: tests/sql_host.c compiled with the amalgamation that the
# npm package better-sqlite3 ships (deps/sqlite3/sqlite3.c), a SQLite of
# its own, statically linked.  The module must reach that SQLite through
# the host's sqlite3_api and give the same answers as in the system's
# sqlite3 shell: siam_distance, siam_embed on a fixture image with the
# database's model, siam_knn.  TAP.
#
# SIAM_SQLITE_AMALGAMATION names the directory holding sqlite3.c and
# sqlite3.h (.ci/run fetches the package; tests/run.sh passes it on).
# Without it the test is skipped, unless SIAM_REQUIRE_SQL_HOST=1 (CI)
# makes that a failure.
set -u
b=${SIAM_BUILDDIR:-.}
s=${SIAM_SRCDIR:-.}
amal=${SIAM_SQLITE_AMALGAMATION:-}
cc=${SIAM_CC:-cc}

skip() {
	if [ "${SIAM_REQUIRE_SQL_HOST:-0}" = 1 ]; then
		echo "1..1"
		echo "not ok 1 - $1 (SIAM_REQUIRE_SQL_HOST=1)"
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}
[ -n "$amal" ] || skip "SIAM_SQLITE_AMALGAMATION not set (.ci/run fetches better-sqlite3's amalgamation)"
[ -f "$amal/sqlite3.c" ] && [ -f "$amal/sqlite3.h" ] ||
	skip "no sqlite3.c and sqlite3.h in $amal"
command -v sqlite3 >/dev/null 2>&1 || skip "no sqlite3 shell to compare with"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/siam-sql-host.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# The host, built once per build tree and amalgamation (a large file:
# -O0 keeps it to seconds).
host=$b/tests/sql_host-amalgamation
if [ ! -x "$host" ] || [ "$amal/sqlite3.c" -nt "$host" ] ||
   [ "$s/tests/sql_host.c" -nt "$host" ]; then
	if ! $cc -O0 -w -I"$amal" -o "$host.tmp" "$s/tests/sql_host.c" \
		"$amal/sqlite3.c" -lpthread -ldl -lm >"$tmp/cc.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - build the host from $amal/sqlite3.c"
		sed 's/^/# /' "$tmp/cc.log" | head -20
		exit 1
	fi
	mv -f "$host.tmp" "$host"
fi

. "$s/tests/tap.sh"
tap_asan_host "$b/siam.so"
mod=$b/siam
inhost() { "$host" "$@" 2>&1; }
inshell() { db=$1; shift; sqlite3 -batch "$db" ".load $mod" "$@" 2>&1; }

# Two SQLites: the host's own and the system's.
hv=$(inhost :memory: "$mod" "SELECT sqlite_version()")
sv=$(sqlite3 -batch :memory: "SELECT sqlite_version()")
hs=$(sed -n 's/^#define SQLITE_VERSION  *"\(.*\)"/\1/p' "$amal/sqlite3.h")
is "$hv" "$hs" "the host runs its own SQLite ($hv)"
[ -n "$hv" ] && [ "$hv" != "$sv" ]
ok $? "another SQLite than the system's ($hv, system $sv)"
is "$(inhost :memory: "$mod" "SELECT siam_distance('[0,0]', '[3,4]')")" \
	5.0 "siam_distance in the host"
is "$(inhost :memory: "$mod" "SELECT siam_distance('[1]', x'00')")" \
	"Error: siam_distance: invalid float32 vector BLOB length: must be divisible by 4, found 1" \
	"an error message through the host's sqlite3_result_error"

# A database with a model and indexed images, made by siam itself.
db=$tmp/host.db
digits=$s/tests/fixtures/digits
"$b/siam" index --quiet --db "$db" --model "$s/models/mnist.siam" \
	"$digits" >"$tmp/index.log" 2>&1
ok $? "siam index the fixture digits"
dim=$(sqlite3 -batch "$db" "SELECT embed_dim FROM models")
q="SELECT length(siam_embed('$digits/seven_a.png')),
	hex(siam_embed('$digits/seven_a.png'))"
he=$(inhost "$db" "$mod" "$q")
se=$(inshell "$db" "$q")
is "${he%%|*}" "$((4 * dim))" "siam_embed in the host: $dim float32 values"
is "$he" "$se" "siam_embed: the same bits as in the system's shell"
q="SELECT group_concat(replace(k.path, '$digits/', '') || ':' ||
	printf('%.6f', k.distance), ' ') FROM siam_knn((SELECT embedding
	FROM images WHERE path LIKE '%/seven_a.png'), 3) AS k"
hk=$(inhost "$db" "$mod" "$q")
sk=$(inshell "$db" "$q")
case $hk in
seven_a.png:0.000000\ *) r=0 ;;
*) r=1 ;;
esac
ok $r "siam_knn in the host: seven_a.png first at distance 0 ($hk)"
is "$hk" "$sk" "siam_knn: the same rows and distances as in the shell"
is "$(inhost "$db" "$mod" "SELECT siam_match(embedding, embedding)
	FROM images LIMIT 1")" 1 "siam_match with the model's threshold"

tap_end
