#!/bin/sh
# tests/mpi_dedup.sh -- mpirun -np N siam dedup (./configure
# --with-mpi) against one process: the all-pairs search split over the
# ranks (src/mpi/pairs_ring.c) finds the same pairs, so the same groups
# and the same --json, --csv and text output, at -np 1, 2 and 3 (118
# rows: 59 + 59, 40 + 39 + 39) and with fewer rows than ranks; indexing
# under mpirun inside dedup gives the same output and embeddings, bit
# for bit; --method exact (no
# search: the ranks are let go); --move-to and --undo act once, on rank
# 0; a failure of rank 0 before the search ends the run with one
# message, and a failure or kill -9 of another rank inside the search
# ends it naming that rank: never a hang.  The block split itself is checked without MPI
# by tests/test_ring_plan.  Skips in a plain build.  TAP.
set -u
B=${SIAM_BUILDDIR:-.}
S=${SIAM_SRCDIR:-.}
SIAM="$B/siam"
if ! grep -q '^#define SIAM_MPI 1' "$B/config.h" 2>/dev/null ||
	! command -v mpirun >/dev/null 2>&1; then
	echo "1..0 # SKIP not an MPI build (./configure --with-mpi) or no mpirun"
	exit 0
fi
T=$(mktemp -d /tmp/siam-mpidedup-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$S/tests/tap.sh"
MPIRUN="mpirun"
if mpirun --version 2>&1 | grep -q "Open MPI"; then
	MPIRUN="$MPIRUN --oversubscribe"
	[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
fi
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS
run() { # run NP ARGS...: stdout to $T/out, stderr to $T/err
	_np=$1
	shift
	$MPIRUN -np "$_np" "$@" >"$T/out" 2>"$T/err" </dev/null
}
nompi() { sed 's/,"mpi":{[^}]*}//'; }

# The example digits, the planted near-duplicates of the fixtures (the
# same digit drawn twice, PNG and JPEG) and an identical copy: 118
# images.  A random model: its distances are arbitrary but fixed.
export SIAM_MODEL="$T/m.siam"
"$B/tests/mkmodel" "$T/m.siam" "in=1x28x28 conv5x4 relu pool2 fc16" 1 0.5
D="$T/p"
mkdir -p "$D"
cp -R "$S/examples/digits" "$D/d"
cp "$S/tests/fixtures/digits/"*.png "$S/tests/fixtures/digits/"*.jpg "$D/"
cp "$D/d/1/mnist-0002.png" "$D/copy.png"
"$SIAM" index -q --db "$T/one.db" "$D"
ok $? "one process indexes the reference database"
# A threshold in the middle of the widest gap between neighbouring
# pair distances around the 300th: some 300 pairs in large groups, and
# no distance near enough to it for float rounding to move a pair.
t=$("$SIAM" sql --db "$T/one.db" --no-header "SELECT (d + nd) / 2 FROM
  (SELECT distance d, lead(distance) OVER (ORDER BY distance) nd,
   row_number() OVER (ORDER BY distance) i FROM siam_pairs(100, 1))
  WHERE i BETWEEN 250 AND 350 ORDER BY nd - d DESC LIMIT 1")
[ -n "$t" ]
ok $? "a threshold between two pair distances: $t"
for f in json csv; do
	"$SIAM" dedup --db "$T/one.db" --$f --threshold "$t" "$D" >"$T/one.$f"
done
"$SIAM" dedup --db "$T/one.db" --threshold "$t" "$D" >"$T/one.txt" 2>/dev/null
grep -q '"groups":\[{"keeper"' "$T/one.json" &&
	[ "$(grep -c ',duplicate,cnn,' "$T/one.csv")" -gt 20 ]
ok $? "one process: groups, more than 20 cnn duplicates ($(grep -c ',duplicate,' "$T/one.csv") duplicates)"

# The same database (nothing to index: the same embeddings, bits and
# all) searched by 1, 2 and 3 ranks.
for np in 1 2 3; do
	cp "$T/one.db" "$T/np$np.db"
	run "$np" "$SIAM" dedup --db "$T/np$np.db" --json --threshold "$t" "$D"
	is $? 0 "-np $np: status 0"
	nompi <"$T/out" | cmp -s - "$T/one.json"
	ok $? "-np $np: the --json of one process (but the mpi figures)"
	grep -q '"mpi":{"ranks":'"$np"',"rows":118,"pairs":[0-9]*,"seconds":[0-9.]*,"sent":\[[0-9]*\(,[0-9]*\)\{'$((np - 1))'\}\],"cpu":\[[0-9.]*\(,[0-9.]*\)\{'$((np - 1))'\}\]}' "$T/out"
	ok $? "-np $np: mpi figures: $np ranks, 118 rows, bytes sent and CPU seconds of each"
	run "$np" "$SIAM" dedup --db "$T/np$np.db" --csv --threshold "$t" "$D"
	cmp -s "$T/out" "$T/one.csv"
	ok $? "-np $np: the same --csv"
	run "$np" "$SIAM" dedup --db "$T/np$np.db" --threshold "$t" "$D"
	cmp -s "$T/out" "$T/one.txt"
	ok $? "-np $np: the same text report, printed once"
done
# every rank holds its block and two in transit, not the matrix: at 3
# ranks rank 0 sends 2 of 3 blocks (and one around the ring)
run 3 "$SIAM" dedup --db "$T/np3.db" --json --threshold "$t" "$D"
sent=$(sed -n 's/.*"sent":\[\([0-9,]*\)\].*/\1/p' "$T/out")
r0=${sent%%,*}
# 118 rows of 16 floats: rank 0 scatters 78 rows (4992 bytes) and passes
# its own 40 on (2560), plus the headers
[ "$r0" -ge 7552 ] && [ "$r0" -lt 7700 ]
ok $? "-np 3: rank 0 sent its two blocks out and one around the ring ($sent bytes)"

# Fewer rows than ranks: 2 files (an identical pair), 3 ranks; 1 file.
mkdir -p "$T/small"
cp "$D/copy.png" "$T/small/a.png"
cp "$D/copy.png" "$T/small/b.png"
"$SIAM" dedup --db "$T/small1.db" --json --method cnn --threshold 0.001 "$T/small" >"$T/small1.json"
run 3 "$SIAM" dedup --db "$T/small3.db" --json --method cnn --threshold 0.001 "$T/small"
is $? 0 "2 images on 3 ranks: status 0"
nompi <"$T/out" | cmp -s - "$T/small1.json" &&
	grep -q '"rows":2,"pairs":1,' "$T/out"
ok $? "2 images on 3 ranks: their one pair, the output of one process"
rm "$T/small/b.png"
"$SIAM" dedup --db "$T/tiny1.db" --json --method cnn "$T/small" >"$T/tiny1.json"
run 2 "$SIAM" dedup --db "$T/tiny2.db" --json --method cnn "$T/small"
rc=$?
nompi <"$T/out" | cmp -s - "$T/tiny1.json"
ok $(($? || rc)) "1 image on 2 ranks: no pairs, the output of one process"

# Indexing and searching under mpirun: the embeddings come from the
# ranks, in other batches than one process's, and are the same bits
# (an embedding does not depend on its batch, tests/test_embed_batch),
# so the whole output is one process's, distances included.
embs() {
	"$SIAM" sql --db "$1" --no-header \
		"SELECT path, hex(embedding) FROM images ORDER BY path"
}
run 3 "$SIAM" dedup --db "$T/fresh.db" --json --threshold "$t" "$D"
is $? 0 "-np 3 on a new database: status 0"
nompi <"$T/out" | cmp -s - "$T/one.json"
ok $? "-np 3 on a new database (indexed by the ranks): the --json of one process, distances too"
embs "$T/one.db" >"$T/one.embs"
embs "$T/fresh.db" | cmp -s - "$T/one.embs" && [ -s "$T/one.embs" ]
ok $? "-np 3 on a new database: the embeddings of one process, byte for byte"
is "$("$SIAM" sql --db "$T/fresh.db" --no-header "SELECT count(*) FROM images")" 118 \
	"-np 3 on a new database: rank 0 wrote the 118 rows"

# --method exact: no search; the ranks are let go.
"$SIAM" dedup --db "$T/one.db" --json --method exact "$D" >"$T/exact1.json"
run 2 "$SIAM" dedup --db "$T/np2.db" --json --method exact "$D"
rc=$?
cmp -s "$T/out" "$T/exact1.json"
ok $(($? || rc)) "--method exact at -np 2: the output of one process, no mpi figures"

# --move-to then --undo: rank 0 alone moves and restores.
sums() { (cd "$D" && find . -type f | sort | xargs sha256sum); }
before=$(sums)
run 3 "$SIAM" dedup --db "$T/np3.db" --json --threshold "$t" --move-to "$T/moved" "$D"
is $? 0 "--move-to at -np 3: status 0"
moved=$(find "$T/moved" -type f ! -name '*.manifest' | wc -l)
is "$moved" "$(grep -c ',duplicate,' "$T/one.csv")" \
	"--move-to at -np 3: every duplicate moved once ($moved)"
is "$(ls "$T/moved"/*.manifest | wc -l)" 1 "--move-to at -np 3: one manifest"
run 2 "$SIAM" dedup --undo "$T/moved"/*.manifest
is $? 0 "--undo at -np 2: status 0"
is "$(sums)" "$before" "--undo at -np 2: every file back, byte for byte"

# Rank 0 fails before the search: one message, status 2, no hang.
run 3 "$SIAM" dedup --db "$T/none/x.db" --json
rc=$?
is "$rc" 2 "a database rank 0 cannot open (no indexing): status 2"
is "$(grep -c "none/x.db" "$T/err")" 1 "... and one message naming it"
run 2 "$SIAM" dedup --db "$T/bad.db" --model "$T/missing.siam" "$D"
rc=$?
is "$rc" 2 "a model rank 0 cannot load (indexing): status 2"
is "$(grep -c "missing.siam" "$T/err")" 1 "... and one message naming it"
run 2 "$SIAM" dedup --db "$T/np2.db" --threshold nope "$D"
is $? 2 "a bad --threshold: status 2 on every rank, nobody waits"
# A rank other than 0 fails, or is killed, inside the search: the whole
# run ends (never a hang), the message names the rank, nothing printed.
HOOKED="$B/tests/siam-hooked"
SIAM_TEST_MPI_PAIRS_FAIL_RANK=2 \
	run 3 "$HOOKED" dedup --db "$T/np3.db" --json --threshold "$t" "$D"
is $? 2 "rank 2's search fails: the run ends with status 2"
grep -q "siam: rank 2 of 3.*: dedup: a search that fails on purpose" "$T/err"
ok $? "... with its message, naming rank 2"
is "$(wc -c <"$T/out")" 0 "... and no report"
SIAM_TEST_MPI_PAIRS_KILL_RANK=1 \
	run 3 "$HOOKED" dedup --db "$T/np3.db" --json --threshold "$t" "$D"
rc=$?
ok $((rc == 0)) "kill -9 of rank 1 in the search: the run fails (status $rc)"
grep -q "rank 1 .*exited on signal 9" "$T/err"
ok $? "... and mpirun names rank 1"

tap_end
