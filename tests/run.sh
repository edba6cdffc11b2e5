#!/bin/bash
# tests/run.sh -- the test command: builds siam four times out of tree,
# once with -Werror, once with AddressSanitizer + UndefinedBehavior-
# Sanitizer, once with ThreadSanitizer and once with MPI, runs 'make
# check' in the first two, the tests that run threads in the third and
# the MPI test in the fourth, then 'make distcheck',
# and prints one line 'N passed, N failed' covering every TAP test point
# of all of them.  Exit 0 iff nothing failed.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
jobs=$(nproc 2>/dev/null || echo 2)
warn="-Wall -Wextra -Werror"
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

if [ -e "$src/config.status" ]; then
	# Configured in place (the README's first command does that): an
	# out-of-tree build would be refused, so test a clean copy of the
	# sources instead, leaving the user's build alone.
	copy=${TMPDIR:-/tmp}/siam-test-src
	echo "== $src is configured in place: testing a copy in $copy"
	rm -rf "$copy" && mkdir -p "$copy" || exit 1
	(cd "$src" && git ls-files -co --exclude-standard -z |
		xargs -0 cp --parents -t "$copy") || exit 1
	src=$copy
	cd "$src"
fi
# tests/sql_host.sh loads siam.so into a host built from another SQLite
# amalgamation: .ci/run fetches it (.ci/fetch-sqlite) into this cache.
if [ -z "${SIAM_SQLITE_AMALGAMATION:-}" ]; then
	amal=${SIAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/siam}/better-sqlite3/package/deps/sqlite3
	if [ -f "$amal/sqlite3.c" ]; then
		SIAM_SQLITE_AMALGAMATION=$amal
		export SIAM_SQLITE_AMALGAMATION
	fi
fi
echo "== SQLite amalgamation for tests/sql_host.sh: ${SIAM_SQLITE_AMALGAMATION:-none (skipped)}"
# tests/serve_browser.sh drives chromium with npm's playwright-core, which
# .ci/run installs (.ci/fetch-playwright) into this cache.
if [ -z "${SIAM_PLAYWRIGHT:-}" ]; then
	pw=${SIAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/siam}/playwright/node_modules
	if [ -f "$pw/playwright-core/package.json" ]; then
		SIAM_PLAYWRIGHT=$pw
		export SIAM_PLAYWRIGHT
	fi
fi
echo "== playwright-core for tests/serve_browser.sh: ${SIAM_PLAYWRIGHT:-none (skipped)}"
if ! autoreconf -fi >/tmp/siam-autoreconf.log 2>&1; then
	cat /tmp/siam-autoreconf.log
	echo "0 passed, 1 failed"
	exit 1
fi

status=0
build() { # build DIR CFLAGS LDFLAGS [TESTS [CONFIGURE-ARG [CHECK-ARG]]]
	local dir=$1 cflags=$2 ldflags=$3 tests=${4:-} conf=${5:-} chk=${6:-}
	rm -rf "$src/$dir" && mkdir -p "$src/$dir" && cd "$src/$dir" || return 1
	echo "== $dir: configure, make, make check${tests:+ of $tests}"
	"$src/configure" -q $conf CFLAGS="$cflags" LDFLAGS="$ldflags" || return 1
	make -j"$jobs" >make.log 2>&1 || { tail -40 make.log; return 1; }
	if [ -n "$tests" ]; then
		make -j"$jobs" check TESTS="$tests" $chk >check.log 2>&1
	else
		make -j"$jobs" check >check.log 2>&1
	fi
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.log | grep -v '^PASS' || true
	grep -E '^# (TOTAL|PASS|FAIL|ERROR)' check.log
	cd "$src"
}

build build "-O2 -g $warn" "" || status=1
# The sanitizer run: leaks are checked too, except in OpenBLAS's
# thread pool, which keeps per-thread buffers alive until exit.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
build build-asan "-O1 -g $san $warn" "$san" || status=1

# ThreadSanitizer, on the tests that run threads: the pool itself, one
# model embedded from several threads at once, the folder: decoders,
# the indexer's, the all-pairs search's stripes, siam dedup's crop
# scoring, and siam serve's (parallel requests on one shared model).  OpenBLAS is not
# instrumented, but siam keeps it at one
# thread (src/nn/blas.c), so no GEMM runs on a thread TSan cannot see
# and no suppressions are needed.  A report makes its test exit with 66:
# an ERROR in the count.
export TSAN_OPTIONS=halt_on_error=0:exitcode=66:second_deadlock_stack=1
build build-tsan "-O1 -g -fsanitize=thread $warn" "-fsanitize=thread" \
	"tests/test_threads tests/test_embed_threads tests/test_data
	tests/test_pairs tests/index.sh tests/dedup.sh tests/serve.sh" ||
	status=1

# MPI (./configure --with-mpi; OpenMPI is in .ci/deps): siam index,
# dedup and train under mpirun -np 2 and -np 3 against one process
# (tests/mpi.sh, tests/mpi_train.sh, tests/mpi_dedup.sh).  Only those:
# 'check_PROGRAMS=' leaves the unit tests unbuilt (they link no MPI and
# ran above, tests/test_ring_plan among them), to keep CI short.
build build-mpi "-O2 -g $warn" "" \
	"tests/mpi.sh tests/mpi_train.sh tests/mpi_dedup.sh" --with-mpi \
	check_PROGRAMS= || status=1

# The release tarball must build and pass its tests too.
echo "== make distcheck"
dist_pass=0 dist_fail=0
if (cd "$src/build" && make distcheck >distcheck.log 2>&1); then
	dist_pass=1
else
	tail -30 "$src/build/distcheck.log"
	dist_fail=1
fi

# libFuzzer smoke: every target of tests/fuzz/ a few seconds on its
# corpus and its committed regression inputs (make fuzz; one TAP point
# per target; clang is in .ci/deps).
echo "== make fuzz FUZZ_TIME=3"
(cd "$src/build" && make fuzz FUZZ_TIME=3 >fuzz.log 2>&1)
fuzz_pass=$(grep -c '^ok ' "$src/build/fuzz.log")
fuzz_fail=$(grep -c '^not ok ' "$src/build/fuzz.log")
grep -E '^(not ok|1\.\.0|make fuzz:)' "$src/build/fuzz.log"
[ "$fuzz_pass" -eq 0 ] && [ "$fuzz_fail" -eq 0 ] && fuzz_fail=1

# Count every test point of both runs from automake's .trs files.
passed=$((dist_pass + fuzz_pass)) failed=$((dist_fail + fuzz_fail)) skipped=0
for trs in "$src"/build/tests/*.trs "$src"/build-asan/tests/*.trs \
	"$src"/build-tsan/tests/*.trs "$src"/build-mpi/tests/*.trs; do
	[ -e "$trs" ] || continue
	p=$(grep -c '^:test-result: PASS' "$trs")
	f=$(grep -cE '^:test-result: (FAIL|ERROR|XPASS)' "$trs")
	s=$(grep -cE '^:test-result: (SKIP|XFAIL)' "$trs")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		echo "--- failures in $trs:"
		grep -E '^(not ok|#)' "${trs%.trs}.log" | head -40
	fi
done
[ "$status" -ne 0 ] && failed=$((failed + 1))
[ "$passed" -eq 0 ] && failed=$((failed + 1))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
