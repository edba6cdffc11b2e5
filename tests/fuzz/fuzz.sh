#!/bin/sh
# tests/fuzz/fuzz.sh -- 'make fuzz': builds siam's libFuzzer targets with
# clang (-fsanitize=fuzzer,address,undefined, the library compiled again
# with coverage) in BUILDDIR/fuzz/, then runs each target for FUZZ_TIME
# seconds (default 60) on its corpus.  Prints TAP: one point per target,
# "not ok" when it found a crash (the input is saved in
# BUILDDIR/fuzz/crashes/), so tests/run.sh counts a short smoke of each.
#
# Environment (Makefile.am sets them): CLANG, SIAM_SRCDIR, SIAM_BUILDDIR,
# FUZZ_SOURCES (the library's sources), FUZZ_CPPFLAGS, FUZZ_LIBS,
# FUZZ_TIME, FUZZ_TARGETS (default: all), FUZZ_JOBS (compile jobs, 2).
# The corpus: tests/fuzz/corpus/TARGET/ (small, committed) plus the
# files the tests' fixtures give (fuzz_seeds below), merged into
# BUILDDIR/fuzz/corpus/TARGET/, which keeps what the fuzzer learns.
set -u
S=${SIAM_SRCDIR:?}
B=${SIAM_BUILDDIR:?}
F="$B/fuzz"
time=${FUZZ_TIME:-60}
jobs=${FUZZ_JOBS:-2}
all="fuzz_image fuzz_model fuzz_idx fuzz_ckpt fuzz_ckpt_body fuzz_json fuzz_sql
	fuzz_serve"
targets=${FUZZ_TARGETS:-$all}
san="-fsanitize=address,undefined -fno-sanitize-recover=all"

if [ -z "${CLANG:-}" ]; then
	echo "make fuzz: no clang found by configure: install it with" \
		"'apt-get install clang' and run configure again" >&2
	echo "1..0 # SKIP no clang"
	exit 0
fi
mkdir -p "$F/obj" "$F/crashes" || exit 1
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' >"$F/probe.c"
if ! "$CLANG" -fsanitize=fuzzer $san "$F/probe.c" -o "$F/probe" \
	>"$F/probe.log" 2>&1; then
	cat "$F/probe.log" >&2
	echo "make fuzz: $CLANG cannot build libFuzzer targets" \
		"(-fsanitize=fuzzer): install clang's runtime" \
		"(apt-get install libclang-rt-dev)" >&2
	echo "1..0 # SKIP clang without libFuzzer"
	exit 0
fi

# The library, once, with coverage for the fuzzer (no main of its own).
cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $san"
objs=
for src in $FUZZ_SOURCES; do
	case $src in *.c) ;; *) continue ;; esac
	if [ -f "$B/$src" ]; then path="$B/$src"; else path="$S/$src"; fi
	obj="$F/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	objs="$objs $obj"
	[ "$obj" -nt "$path" ] && continue
	echo "$CLANG $cflags $FUZZ_CPPFLAGS -c $path -o $obj"
done >"$F/compile.cmds"
if [ -s "$F/compile.cmds" ]; then
	echo "== make fuzz: compiling the library with $CLANG" >&2
	tr '\n' '\0' <"$F/compile.cmds" |
		xargs -0 -n1 -P"$jobs" sh -c 'eval "$0" || exit 255' ||
		{ echo "make fuzz: compiling failed" >&2; exit 1; }
fi
rm -f "$F/libfuzzsiam.a"
ar rcs "$F/libfuzzsiam.a" $objs || exit 1

# Seeds that the test fixtures give, beside the committed corpus.
fuzz_seeds() {
	case $1 in
	fuzz_image)
		find "$S/tests/fixtures" "$S/examples" -type f \
			-size -64k 2>/dev/null | head -200 ;;
	fuzz_model)
		find "$S/tests/fixtures" -name '*.siam' -size -256k ;;
	fuzz_idx)
		find "$S/tests/fixtures" -name '*ubyte*' -size -64k ;;
	esac
}

n=0 fails=0
for t in $targets; do
	n=$((n + 1))
	exe="$F/$t"
	if ! "$CLANG" $cflags -fsanitize=fuzzer $FUZZ_CPPFLAGS -I"$S/tests/fuzz" \
		"$S/tests/fuzz/$t.c" "$F/libfuzzsiam.a" $FUZZ_LIBS -o "$exe" \
		>"$F/$t.build.log" 2>&1; then
		cat "$F/$t.build.log" >&2
		echo "not ok $n - $t: does not build"
		fails=$((fails + 1))
		continue
	fi
	corpus="$F/corpus/$t"
	mkdir -p "$corpus"
	[ -d "$S/tests/fuzz/corpus/$t" ] &&
		cp "$S/tests/fuzz/corpus/$t"/* "$corpus/" 2>/dev/null
	for f in $(fuzz_seeds $t); do
		cp "$f" "$corpus/seed-$(basename "$f")" 2>/dev/null
	done
	# Every committed regression input first: each once, no crash.
	regress=ok
	if [ -d "$S/tests/fuzz/corpus/$t" ] &&
	   ! ASAN_OPTIONS=detect_leaks=1 "$exe" -runs=0 \
		"$S/tests/fuzz/corpus/$t" >"$F/$t.regress.log" 2>&1; then
		regress=failed
	fi
	ASAN_OPTIONS=detect_leaks=1 "$exe" -max_total_time="$time" \
		-max_len=65536 -rss_limit_mb=2048 -timeout=20 \
		-artifact_prefix="$F/crashes/$t-" -print_final_stats=1 \
		"$corpus" >"$F/$t.log" 2>&1
	r=$?
	stats=$(sed -n 's/^stat::number_of_executed_units: *//p' "$F/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$F/$t.log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$F/$t.log")
	if [ $r = 0 ] && [ $regress = ok ]; then
		echo "ok $n - $t: ${stats:-0} execs in ${time}s (${rate:-0}/s), ${cov:-cov: ?}"
	else
		echo "not ok $n - $t: exit $r, regression inputs $regress (log: $F/$t.log)"
		grep -m5 -E '^(==|SUMMARY|artifact)' "$F/$t.log" | sed 's/^/# /'
		fails=$((fails + 1))
	fi
done
echo "1..$n"
[ $fails = 0 ]
