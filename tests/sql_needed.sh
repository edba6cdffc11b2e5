#!/bin/sh
# tests/sql_needed.sh -- siam.so is only an extension: it links no
# libsqlite3 (readelf -d: no NEEDED entry), calls no sqlite3_* function
# directly (nm -D: nothing undefined but through the host's sqlite3_api),
# exports nothing but its entry point; and the code it shares with
# libsiam (libsiamcore) makes no SQLite call.  TAP.
set -u
b=${SIAM_BUILDDIR:-.}
so=$b/siam.so
core=$b/.libs/libsiamcore.a

for tool in readelf nm; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "1..0 # SKIP no $tool (apt-get install binutils)"
		exit 0
	fi
done

. "${SIAM_SRCDIR:-.}/tests/tap.sh"

needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "# NEEDED: $needed"
is "$(echo "$needed" | grep -c sqlite)" 0 "readelf -d siam.so: no libsqlite3"
is "$(echo "$needed" | grep -c libsiam)" 0 "siam.so carries its code, no libsiam"
is "$(nm -D --undefined-only "$so" | grep -c 'sqlite3')" 0 \
	"nm -D siam.so: no sqlite3_* symbol taken from a library"
is "$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
	grep -v '^_' | tr '\n' ' ')" "sqlite3_siam_init " \
	"siam.so exports only sqlite3_siam_init"
if [ -f "$core" ]; then
	is "$(nm "$core" 2>/dev/null | grep -c ' U sqlite3_')" 0 \
		"libsiamcore, shared by libsiam and siam.so, calls no sqlite3_*"
fi
# And libsiam does link it: the library, unlike the module, opens
# databases itself.
if [ -f "$b/.libs/libsiam.so" ]; then
	is "$(readelf -d "$b/.libs/libsiam.so" | grep -c 'libsqlite3')" 1 \
		"libsiam links libsqlite3"
fi

tap_end
