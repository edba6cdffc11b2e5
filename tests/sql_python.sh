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
. "$s/tests/tap.sh"
tap_asan_host "$b/siam.so"
SIAM_BUILDDIR=$b SIAM_SRCDIR=$s exec "$py" "$s/tests/sql_python.py"
