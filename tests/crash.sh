#!/bin/sh
# tests/crash.sh -- siam index against crashes, full disks, odd --db
# paths and readers in other processes.  TAP.
#
#   - --db naming a directory or a FIFO: refused by name, never a hang;
#   - readers during the first moments of a new index: siam index is
#     frozen (SIGSTOP) before each of its writes to the database in turn,
#     and 'siam query' (siam_knn) reads it meanwhile: it finds no
#     database yet or a database with its model, never "the database
#     has no model", and "database is locked" only while the frozen
#     writer closes (folding its WAL into the file: a real reader waits
#     that moment out with its busy timeout);
#   - SIGKILL before a chosen write (after the schema, between the pages
#     of one commit, before the frame that commits), again and again on
#     one database: integrity_check ok, the row count never goes down,
#     and the last run completes to exactly the number of images;
#   - a full filesystem (a small tmpfs; root only, skipped otherwise):
#     the message says the disk is full, the summary counts what was
#     committed, the database is intact and a run with room completes.
# tests/siam-hooked raises the signal: tests/hook_vfs.c
# (SIAM_TEST_KILL_WRITE=N, SIAM_TEST_KILL_SIGNAL).
set -u
B=${SIAM_BUILDDIR:-.}
S=${SIAM_SRCDIR:-.}
SIAM="$B/siam"
HOOKED="$B/tests/siam-hooked"
T=$(mktemp -d /tmp/siam-crash-XXXXXX)
MNT=
WRITER=
cleanup() {
	[ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
. "$S/tests/tap.sh"
jnum() { sed -n "s/.*\"$1\":\\([-0-9.]*\\).*/\\1/p"; }
q() { "$SIAM" sql --db "$1" --no-header "$2"; }

export SIAM_MODEL="$T/m.siam"
"$B/tests/mkmodel" "$T/m.siam" "in=1x28x28 conv5x4 relu pool2 fc16" 1 0.5
ok $? "a random model for the tests"
D="$T/tree"
mkdir -p "$D"
cp -R "$S/examples/digits" "$D/a"
cp -R "$S/examples/digits" "$D/b"
nimg=$(find "$D" -type f | wc -l)
IMG=$(ls "$S"/examples/digits/3/*.png | head -1)

# ---- --db that is not a file --------------------------------------------
mkdir "$T/dir.db"
for cmd in index query; do
	if [ $cmd = index ]; then set -- "$D/a/1"; else set -- "$IMG"; fi
	"$SIAM" $cmd --db "$T/dir.db" "$@" >/dev/null 2>"$T/err"
	r=$?
	grep -q "dir.db: is a directory" "$T/err"
	ok $(($? + r - 2)) "$cmd --db DIR: exit $r, $(cat "$T/err")"
done
# A FIFO: a writer at its other end keeps a siam that wrongly opens it
# from blocking the test; killed afterwards.
mkfifo "$T/fifo.db"
(sleep 30 >"$T/fifo.db") 2>/dev/null &
WRITER=$!
for cmd in index query; do
	if [ $cmd = index ]; then set -- "$D/a/1"; else set -- "$IMG"; fi
	"$SIAM" $cmd --db "$T/fifo.db" "$@" >/dev/null 2>"$T/err"
	r=$?
	grep -q "fifo.db: not a regular file (a FIFO)" "$T/err"
	ok $(($? + r - 2)) "$cmd --db FIFO: exit $r, $(cat "$T/err")"
done
kill $WRITER 2>/dev/null
wait $WRITER 2>/dev/null
WRITER=

# ---- readers while a new index is being created -------------------------
# Waits until process $1 is stopped (0) or gone (1).
wait_stopped() {
	_i=0
	while [ $_i -lt 2000 ]; do
		_s=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/$1/status \
			2>/dev/null)
		case $_s in T|t) return 0 ;; ''|Z) return 1 ;; esac
		sleep 0.01
		_i=$((_i + 1))
	done
	return 1
}
if [ -d /proc/$$ ]; then
	bad=0 stops=0 answered=0 w=1 last_ok=0 first_locked=0
	while [ $w -le 400 ]; do
		rm -f "$T/r.db" "$T/r.db-wal" "$T/r.db-shm"
		SIAM_TEST_KILL_WRITE=$w SIAM_TEST_KILL_SIGNAL=19 \
			"$HOOKED" index --db "$T/r.db" --quiet --batch 4 "$D/a/1" &
		pid=$!
		if ! wait_stopped $pid; then
			wait $pid
			break # the run ended before write w
		fi
		stops=$((stops + 1))
		out=$("$SIAM" query --db "$T/r.db" "$IMG" 2>&1)
		r=$?
		case $r:$out in
		0:*) answered=$((answered + 1)); last_ok=$w ;;
		*"unable to open database file"*|*"no indexed image"*)
			last_ok=$w ;; # no database yet; a model, no image yet
		*locked*)
			[ $first_locked = 0 ] && first_locked=$w
			echo "# stopped before write $w: $out" ;;
		*)
			bad=$((bad + 1))
			echo "# stopped before write $w: exit $r: $out" ;;
		esac
		kill -CONT $pid
		wait $pid
		[ $? = 0 ] || { bad=$((bad + 1)); echo "# write $w: index failed"; }
		# Every write of the first moments (creating the database,
		# the model, the first batches), then a sample of the rest.
		if [ $w -lt 40 ]; then w=$((w + 1)); else w=$((w + 5)); fi
	done
	ok $([ $stops -gt 20 ] && [ $bad = 0 ]; echo $?) \
		"siam query during $stops writes of a new index: no database yet, or its model and images ($answered answers), never 'no model' nor another error"
	# The moments a reader waits: SQLite folding the WAL into the
	# database (at siam index's close, and at the automatic checkpoint
	# of a long run; how many batches, and so writes, come before one
	# depends on the build's speed: the ASan build reached one at write
	# 105).  Readers wait out their busy timeout there; here the writer
	# is frozen in it.  The first moments (every write up to 40: the
	# database, its model, the first batches) must never be locked.
	ok $([ $first_locked = 0 ] || [ $first_locked -ge 40 ]; echo $?) \
		"never 'database is locked' in the first moments of a new index (first at write $first_locked, last answer at $last_ok)"
	is "$(q "$T/r.db" "SELECT count(*) FROM images")" \
		"$(find "$D/a/1" -type f | wc -l)" "and the index completes"
else
	echo "ok $((n += 1)) # SKIP no /proc to see a stopped process"
	echo "ok $((n += 1)) # SKIP no /proc"
	echo "ok $((n += 1)) # SKIP no /proc"
fi

# ---- SIGKILL before chosen writes, resumed each time --------------------
# The write numbers grow faster than one commit's writes, so the kills
# land after the schema and model (the first commit), between the
# pages of later commits and before their commit frames.
DB="$T/k.db"
prev=0 fails=0 kills=0 runs=0
for w in 1 2 3 4 6 9 13 19 28 41 60 88 129 189; do
	SIAM_TEST_KILL_WRITE=$w "$HOOKED" index --db "$DB" --quiet --batch 16 \
		"$D" >/dev/null 2>&1
	r=$?
	runs=$((runs + 1))
	[ $r = 137 ] && kills=$((kills + 1))
	[ -s "$DB" ] || continue
	ic=$(q "$DB" "PRAGMA integrity_check" 2>&1)
	got=$(q "$DB" "SELECT count(*) FROM images" 2>&1)
	if [ "$ic" != ok ] || [ "$got" -lt "$prev" ] 2>/dev/null ||
	   ! [ "$got" -ge 0 ] 2>/dev/null; then
		fails=$((fails + 1))
		echo "# kill before write $w: integrity '$ic', rows '$got' (before: $prev)"
	fi
	[ "$got" -ge 0 ] 2>/dev/null && prev=$got
done
ok $([ $kills -ge 8 ] && [ $fails = 0 ]; echo $?) \
	"$kills kill -9 of $runs runs: integrity_check ok and the row count never went down ($prev)"
out=$("$SIAM" index --db "$DB" --json --batch 16 "$D")
is $? 0 "the last run completes"
is "$(q "$DB" "SELECT count(*) FROM images")" "$nimg" "to exactly the number of images"
is "$(q "$DB" "SELECT count(DISTINCT path) FROM images")" "$nimg" "no duplicates"
is "$(q "$DB" "SELECT count(*) FROM models")" 1 "one model"
is "$(echo "$out" | jnum indexed)" "$((nimg - prev))" \
	"it indexed what the killed runs had not committed"

# ---- a full filesystem ----------------------------------------------------
MNT="$T/mnt"
mkdir -p "$MNT"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=256k tmpfs "$MNT" 2>/dev/null; then
	MNT=
	for i in 1 2 3 4 5 6 7 8; do
		echo "ok $((n += 1)) # SKIP full-disk tests need root (mount -t tmpfs)"
	done
	tap_end
fi
# Room for the schema, not for the model (a 1.2 MB blob).
"$B/tests/mkmodel" "$T/big.siam" "in=1x28x28 conv5x4 relu pool2 fc512" 3 0.5
"$SIAM" index --db "$MNT/x.db" --model "$T/big.siam" "$D/a" >/dev/null \
	2>"$T/err"
r=$?
grep -Eq "x\.db(\.new-[0-9]+)?: disk full \(no space left on device\)" "$T/err"
ok $(($? + r - 2)) "no room for the model: exit $r, $(cat "$T/err")"
cp "$MNT"/x.db* "$T/" 2>/dev/null
if [ -s "$T/x.db" ]; then
	is "$(q "$T/x.db" "PRAGMA integrity_check")" ok "the database is intact"
else
	ok 0 "the database is intact (still empty: nothing was committed)"
fi
umount "$MNT"

# Room for some images: the rest of a 1 MiB tmpfs filled up to $room.
mount -t tmpfs -o size=1m tmpfs "$MNT"
rm -f "$T"/x.db*
part=0
for room in 160 96 224 64 320; do
	rm -f "$MNT"/*
	avail=$(df -k --output=avail "$MNT" | tail -1)
	dd if=/dev/zero of="$MNT/fill" bs=1k count=$((avail - room)) 2>/dev/null
	out=$("$SIAM" index --db "$MNT/x.db" --json --batch 16 "$D" 2>"$T/err")
	r=$?
	rm -f "$T"/x.db*
	cp "$MNT"/x.db* "$T/" 2>/dev/null
	got=$(q "$T/x.db" "SELECT count(*) FROM images" 2>/dev/null)
	if [ $r = 2 ] && [ "${got:-0}" -gt 0 ] && [ "$got" -lt "$nimg" ]; then
		part=1
		break
	fi
done
ok $((1 - part)) "a disk that fills in the middle ($room KiB free): $got of $nimg images committed"
grep -Eq "x\.db(\.new-[0-9]+)?: disk full \(no space left on device\)" "$T/err"
ok $(($? + r - 2)) "exit $r, $(cat "$T/err")"
is "$(echo "$out" | jnum indexed)" "$got" "the summary counts what was committed"
is "$(q "$T/x.db" "PRAGMA integrity_check")" ok "the database is intact"
rm "$MNT/fill"
"$SIAM" index --db "$MNT/x.db" --quiet --batch 16 "$D"
is $? 0 "with room again, the next run completes"
is "$(q "$MNT/x.db" "SELECT count(*) FROM images")" "$nimg" "to every image"
umount "$MNT"
MNT=
tap_end
