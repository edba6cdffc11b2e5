#!/bin/sh
# tests/sql_python.sh -- runs tests/sql_python.py: the built module in
# Python's sqlite3 (the system's /usr/bin/python3).  TAP.
set -u
b=${SIAM_BUILDDIR:-.}
s=${SIAM_SRCDIR:-.}
py=/usr/bin/python3
if [ ! -x "$py" ]; then
	echo "1..0 # SKIP no $py"
	exit 0
fi
# A sanitizer build's module needs the ASan runtime loaded first.
asan=$(ldd "$b/siam.so" 2>/dev/null | awk '/libasan/ { print $3; exit }')
if [ -n "$asan" ]; then
	# no leak report for the host's own allocations, and no OpenBLAS
	# thread pool racing the host's exit
	LD_PRELOAD=$asan
	ASAN_OPTIONS=detect_leaks=0
	OPENBLAS_NUM_THREADS=1
	export LD_PRELOAD ASAN_OPTIONS OPENBLAS_NUM_THREADS
fi
SIAM_BUILDDIR=$b SIAM_SRCDIR=$s exec "$py" "$s/tests/sql_python.py"
