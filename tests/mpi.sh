#!/bin/sh
# tests/mpi.sh -- siam under mpirun (./configure --with-mpi): src/mpi/
# on its own (tests/mpi_probe: ranks, a collective, an abort naming its
# rank), the refusal of commands not written for MPI, and the MPI
# commands at -np 2 and -np 3 against one process.  In a plain build
# only the refusal is checked (when mpirun is installed); the rest is
# skipped with the reason.  TAP.
set -u
B=${SIAM_BUILDDIR:-.}
S=${SIAM_SRCDIR:-.}
SIAM="$B/siam"
T=$(mktemp -d /tmp/siam-mpi-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$S/tests/tap.sh"

if ! command -v mpirun >/dev/null 2>&1; then
	echo "1..0 # SKIP no mpirun (apt-get install openmpi-bin)"
	exit 0
fi
# OpenMPI refuses more ranks than cores, and root, unless told.
MPIRUN="mpirun"
if mpirun --version 2>&1 | grep -q "Open MPI"; then
	MPIRUN="$MPIRUN --oversubscribe"
	[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
fi
# The tests check results, not speed: one BLAS thread per rank.
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS
run() { # run NP ARGS...: mpirun -np NP ARGS, stdout and stderr to $T/out
	_np=$1
	shift
	$MPIRUN -np "$_np" "$@" >"$T/out" 2>&1
}

if ! grep -q '^#define SIAM_MPI 1' "$B/config.h"; then
	run 2 "$SIAM" version
	rc=$?
	grep -q "built without MPI (./configure --with-mpi)" "$T/out"
	ok $(($? || rc != 2)) "a plain build under mpirun -np 2 refuses, naming --with-mpi"
	echo "ok $((n += 1)) # SKIP the MPI commands: built without --with-mpi"
	tap_end
fi

# ---- src/mpi/ on its own --------------------------------------------------
for np in 2 3; do
	run "$np" "$B/tests/mpi_probe"
	ok $? "mpi_probe runs at -np $np"
	want=$((np * (np - 1) / 2))
	is "$(grep -c "^rank [0-9] of $np sum $want\$" "$T/out")" "$np" \
		"-np $np: every rank knows its rank and size, and the allreduce sums"
done
run 3 "$B/tests/mpi_probe" abort 1
rc=$?
is "$rc" 3 "an abort on rank 1 ends the whole run with its status"
grep -q "siam: rank 1 of 3.*: the probe fails on purpose" "$T/out"
ok $? "the abort message names the failing rank"
"$B/tests/mpi_probe" >"$T/out" 2>&1
is "$(cat "$T/out")" "rank 0 of 1 sum 0" "without mpirun: one rank, no MPI"

# ---- the CLI -----------------------------------------------------------------
run 2 "$SIAM" query --db "$T/none.db" x.png
rc=$?
grep -q "siam query: does not run under mpirun" "$T/out"
ok $(($? || rc != 2)) "a command not written for MPI refuses under -np 2"
"$SIAM" version >"$T/out" 2>&1
ok $? "an MPI build without mpirun runs as a plain process"

# ---- mpirun siam index --------------------------------------------------
# The example digits, a text file named like an image and a truncated
# PNG (an error row); the database of one process is the reference.
export SIAM_MODEL="$T/m.siam"
"$B/tests/mkmodel" "$T/m.siam" "in=1x28x28 conv5x4 relu pool2 fc16" 1 0.5
D="$T/tree"
mkdir -p "$D/odd"
cp -R "$S/examples/digits" "$D/digits"
echo "just text" >"$D/odd/notes.png"
head -c 120 "$D/digits/7/drawn-0079.png" >"$D/odd/truncated.png"
"$SIAM" index -q --db "$T/one.db" "$D"
is $? 3 "one process: the reference database (one error: status 3)"
# Everything a row holds but its time; the embedding apart (below).
rows() {
	"$SIAM" sql --db "$1" --no-header "SELECT id, path, is_url,
	  content_hash, size, mtime_ns, width, height, model_id,
	  length(embedding), phash, label, hex(gray32) FROM images ORDER BY id;
	  SELECT path, code, message FROM errors ORDER BY path"
}
# Each path's embedding, its bytes in hex: cmp'd, not compared to a
# tolerance, since an embedding is the same bits in any batch
# (src/nn/net.c), and the ranks batch differently from one process.
embs() {
	"$SIAM" sql --db "$1" --no-header \
		"SELECT path, hex(embedding) FROM images ORDER BY path"
}
rows "$T/one.db" >"$T/one.rows"
embs "$T/one.db" >"$T/one.embs"
# One process at --batch 1 and 7: the batch changes no bit either.
for bs in 1 7; do
	"$SIAM" index -q --db "$T/b$bs.db" --batch "$bs" "$D"
	embs "$T/b$bs.db" >"$T/b$bs.embs"
	cmp -s "$T/one.embs" "$T/b$bs.embs"
	ok $? "one process at --batch $bs: the embeddings of the default batch, bit for bit"
done
for np in 2 3; do
	db="$T/np$np.db"
	run "$np" "$SIAM" index --db "$db" --batch 8 --json "$D"
	is $? 3 "index at -np $np: status 3 (the truncated file)"
	grep -q '"indexed":110,.*"not_images":1,.*"errors":1,.*"mpi":{"ranks":'"$np" "$T/out"
	ok $? "-np $np: 110 indexed, 1 not an image, 1 error, $np ranks"
	rows "$db" >"$T/np$np.rows"
	cmp -s "$T/one.rows" "$T/np$np.rows"
	ok $? "-np $np: the same rows as one process (ids, paths, hashes, sizes, phash, labels, gray32, errors)"
	embs "$db" >"$T/np$np.embs"
	cmp -s "$T/one.embs" "$T/np$np.embs"
	ok $? "-np $np: the same embeddings as one process, bit for bit"
	run "$np" "$SIAM" index --db "$db" --json "$D"
	grep -q '"indexed":0,"unchanged":110,.*"errors":1,' "$T/out"
	ok $? "-np $np again: everything unchanged (incremental)"
done

# A version 2 database (gray32 dropped, the version set back): the farm
# cannot "decode but not embed", so the ranks embed the files again,
# once, and the rows come out as one process writes them, gray32 too.
db="$T/np2.db"
"$SIAM" sql --db "$db" "ALTER TABLE images DROP COLUMN gray32;
	PRAGMA user_version = 2" >/dev/null
run 2 "$SIAM" index --db "$db" --json "$D"
grep -q '"indexed":110,.*"errors":1,' "$T/out"
ok $? "-np 2 on a version 2 database: the 110 rows without gray32 redone"
rows "$db" >"$T/v2.rows"
cmp -s "$T/one.rows" "$T/v2.rows"
ok $? "-np 2 on a version 2 database: gray32 filled, the rows of one process"
embs "$db" >"$T/v2.embs"
cmp -s "$T/one.embs" "$T/v2.embs"
ok $? "-np 2 on a version 2 database: the same embeddings, bit for bit"
run 2 "$SIAM" index --db "$db" --json "$D"
grep -q '"indexed":0,"unchanged":110,' "$T/out"
ok $? "-np 2 on it again: everything unchanged"

# kill -9 of a worker, then of rank 0, mid-run: the run stops, mpirun
# names the rank, what was committed stays and a rerun completes it.
SIAM_HOOKED="$B/tests/siam-hooked"
for victim in 1 0; do
	db="$T/kill$victim.db"
	if [ "$victim" = 1 ]; then
		SIAM_TEST_MPI_KILL_RANK=1 SIAM_TEST_MPI_KILL_BATCHES=3 \
			run 3 "$SIAM_HOOKED" index --db "$db" --batch 4 "$D"
	else
		SIAM_TEST_KILL_AFTER=20 \
			run 3 "$SIAM_HOOKED" index --db "$db" --batch 4 "$D"
	fi
	rc=$?
	ok $((rc == 0)) "kill -9 of rank $victim: the run fails (status $rc)"
	grep -q "rank $victim .*exited on signal 9" "$T/out"
	ok $? "kill -9 of rank $victim: the message names rank $victim"
	got=$("$SIAM" sql --db "$db" --no-header "SELECT count(*) FROM images")
	[ "$got" -gt 0 ] && [ "$got" -lt 110 ]
	ok $? "kill -9 of rank $victim: committed batches kept ($got rows)"
	run 3 "$SIAM" index --db "$db" --json "$D"
	grep -q '"indexed":'$((110 - got))',"unchanged":'"$got"',' "$T/out"
	ok $? "kill -9 of rank $victim: the rerun indexes only the rest"
	rows "$db" >"$T/kill.rows"
	cmp -s "$T/one.rows" "$T/kill.rows"
	ok $? "kill -9 of rank $victim: after the rerun, the rows of one process"
	embs "$db" >"$T/kill.embs"
	cmp -s "$T/one.embs" "$T/kill.embs"
	ok $? "kill -9 of rank $victim: after the rerun, the embeddings of one process, bit for bit"
done
run 2 "$SIAM" index --db "$T/bad.db" --model "$T/missing.siam" "$D"
rc=$?
grep -q "missing.siam" "$T/out"
ok $(($? || rc != 2)) "a model rank 0 cannot load: one error naming it, no hang"

tap_end
