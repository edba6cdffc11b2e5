# tests/tap.sh -- sourced by the shell tests: TAP test points and the
# end of the plan, and what a sanitizer build's module needs in a host.
#   . "$SIAM_SRCDIR/tests/tap.sh"
#   ok STATUS WHAT      a point that passes when STATUS is 0
#   is GOT WANT WHAT    a point that passes when GOT = WANT (shows both)
#   tap_end             prints the plan "1..N", exits 1 if a point failed
#   tap_asan_host MODULE.so   before running a host that loads MODULE.so
n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}
is() {
	n=$((n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $n - $3"
	else
		echo "not ok $n - $3"
		echo "# got:  '$1'"
		echo "# want: '$2'"
		fails=$((fails + 1))
	fi
}
tap_end() {
	echo "1..$n"
	[ "$fails" -eq 0 ] && exit 0
	exit 1
}
# A sanitizer build's module needs the ASan runtime loaded first in a
# host that was not built with it: no leak report for the host's own
# allocations, and no OpenBLAS thread pool racing the host's exit.
tap_asan_host() {
	_asan=$(ldd "$1" 2>/dev/null | awk '/libasan/ { print $3; exit }')
	if [ -n "$_asan" ]; then
		LD_PRELOAD=$_asan
		ASAN_OPTIONS=detect_leaks=0
		OPENBLAS_NUM_THREADS=1
		export LD_PRELOAD ASAN_OPTIONS OPENBLAS_NUM_THREADS
	fi
}
