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

tap_end
