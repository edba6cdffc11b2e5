#!/bin/bash
# tests/serve_browser.sh -- siam serve's pages in a real browser: Debian's
# headless chromium driven by npm's playwright-core (tests/serve_browser.js).
# Drops two digits of one class on the Compare page and reads "Similar" and
# the distance siam verify gives; two different digits read "Not similar";
# the same with the keyboard only; a search shows k thumbnails; choosing one
# compares it; a result indexed by URL shows a placeholder and asks for no
# thumbnail; the Duplicates page lists the groups; a bad upload shows its
# error.  Screenshots go to tests/serve-screenshots/ of the build.  TAP.
#
# SIAM_PLAYWRIGHT names the node_modules holding playwright-core (.ci/run
# installs it with .ci/fetch-playwright; tests/run.sh finds it in the
# cache).  Without it or without chromium the test is skipped, unless
# SIAM_REQUIRE_BROWSER=1 (CI) makes that a failure.
set -u
b=${SIAM_BUILDDIR:-.}
s=${SIAM_SRCDIR:-.}
siam="$b/siam"
model="$s/models/mnist.siam"
dg="$s/examples/digits"
skip() {
	if [ "${SIAM_REQUIRE_BROWSER:-0}" = 1 ]; then
		echo "1..1"
		echo "not ok 1 - $1 (SIAM_REQUIRE_BROWSER=1)"
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}
chromium=$(command -v chromium || command -v chromium-browser) ||
	skip "no chromium (apt-get install chromium)"
command -v node >/dev/null 2>&1 || skip "no node"
pw=${SIAM_PLAYWRIGHT:-}
[ -n "$pw" ] && [ -f "$pw/playwright-core/package.json" ] ||
	skip "SIAM_PLAYWRIGHT does not hold playwright-core (.ci/fetch-playwright DIR installs it)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/siam-browser.XXXXXX") || exit 1
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
unset SIAM_MODEL
fail() { echo "1..1"; echo "not ok 1 - $1"; sed 's/^/# /' "$tmp/err" 2>/dev/null | head -20; exit 1; }

"$siam" index --db "$tmp/db" --model "$model" --quiet "$dg" >/dev/null 2>"$tmp/err" ||
	fail "siam index the example digits"
. "$s/tests/serve_start.sh"
serve_start "$siam" "$tmp" --db "$tmp/db" --model "$model" --listen 127.0.0.1:0 --threads 2
[ -n "$port" ] || fail "siam serve started"
dist() { "$siam" verify --json --model "$model" "$1" "$2" | sed 's/.*"distance":\([^,]*\),.*/\1/'; }
same=$(dist "$dg/3/drawn-0093.png" "$dg/3/mnist-0018.png")
diff=$(dist "$dg/3/drawn-0093.png" "$dg/7/drawn-0079.png")
kbd=$(dist "$dg/1/drawn-0074.png" "$dg/1/mnist-0005.png")
shots="$b/tests/serve-screenshots"
mkdir -p "$shots"
printf 'hello\n' >"$tmp/not-an-image.png"
NODE_PATH=$pw node "$s/tests/serve_browser.js" "http://127.0.0.1:$port" "$dg" \
	"$shots" "$chromium" "$same" "$diff" "$kbd" "$tmp/not-an-image.png"
rc=$?
kill -TERM "$pid"
wait "$pid"
pid=
exit $rc
