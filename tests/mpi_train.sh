#!/bin/sh
# mpi_train.sh -- mpirun -np N siam train (data parallel) against one
# process: the same global batch gives the same model up to the order
# of float sums, at 2 and at 3 ranks (an uneven split of the batch),
# for the contrastive loss with augmentation (the ranks keep the
# augmentation stream of the inputs they skip), for triplets with
# instance triplets and for supcon (the ranks gather the batch's
# embeddings); rank 0 alone speaks and saves; a batch smaller than the
# rank count is refused with one clear message; a run
# interrupted on 2 ranks resumes on 3 and on 1 to the uninterrupted
# model.  Skips in a build without MPI (./configure --with-mpi).
siam="$SIAM_BUILDDIR/siam"
hooked="$SIAM_BUILDDIR/tests/siam-hooked"
diff="$SIAM_BUILDDIR/tests/modeldiff"
fx="$SIAM_SRCDIR/tests/fixtures"
if ! grep -q '^#define SIAM_MPI 1' "$SIAM_BUILDDIR/config.h" 2>/dev/null ||
	! command -v mpirun >/dev/null; then
	echo "1..0 # SKIP not an MPI build (./configure --with-mpi)"
	exit 0
fi
tmp=$(mktemp -d /tmp/siam-mpitrain.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
unset SIAM_MODEL
export OPENBLAS_NUM_THREADS=1
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }

# More ranks than cores, and root in CI's container.
run() { # run NP PROGRAM ARGS...
	np=$1
	shift
	root=
	[ "$(id -u)" = 0 ] && root=--allow-run-as-root
	mpirun $root --oversubscribe -np "$np" "$@"
}
arch="in=1x28x28 conv5x8 relu pool2 conv5x16 relu pool2 fc64 relu fc32"
train() { # train PROGRAM OUTPUT [extra options]
	prog=$1 out=$2
	shift 2
	"$prog" train --data "mnist:$fx/mnist-mini" --arch "$arch" \
		--epochs 1 --pairs 512 --batch 32 --val-split 0.2 --seed 3 \
		--threads 1 -o "$out" "$@"
}
# close A B: the weights agree to float summation: |a - b| / |a| below
# 1e-2 over all the weights.  One process and N ranks add a batch's
# gradients in another order, and Adam's first steps turn a gradient
# that nearly cancels into a step of either sign, so an epoch ends some
# 1e-3 apart (measured: 6e-4 at 2 ranks, 1e-3 at 3 with triplets); two
# seeds end 1.3 apart.
close() {
	d=$("$diff" "$1" "$2" | sed -n 's/^rel //p')
	echo "# $(basename "$1") against $(basename "$2"): relative difference $d"
	[ -n "$d" ] && awk -v d="$d" 'BEGIN { exit !(d < 1e-2) }'
}

# Contrastive, augmented: 2 ranks (16 + 16) and 3 (10 + 11 + 11).
train "$siam" "$tmp/c1.siam" --augment --quiet; ok $? "one process"
run 2 "$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch" \
	--epochs 1 --pairs 512 --batch 32 --val-split 0.2 --seed 3 \
	--threads 1 --augment -o "$tmp/c2.siam" >"$tmp/out2" 2>"$tmp/err2"
ok $? "mpirun -np 2 siam train"
close "$tmp/c1.siam" "$tmp/c2.siam"; ok $? "2 ranks: the one-process model"
[ "$(grep -c '^epoch 1/1  loss ' "$tmp/out2")" = 1 ] &&
	[ "$(grep -c "^saved $tmp/c2.siam " "$tmp/out2")" = 1 ]
ok $? "rank 0 alone reports and saves: $(tr '\n' '|' <"$tmp/out2")"
grep -q '^2 ranks: 16 steps, [0-9]* bytes summed per step$' "$tmp/out2"
ok $? "bytes summed per step: $(grep ranks: "$tmp/out2")"
run 3 sh -c 'exec "$0" train "$@" --quiet' "$siam" --data "mnist:$fx/mnist-mini" \
	--arch "$arch" --epochs 1 --pairs 512 --batch 32 --val-split 0.2 \
	--seed 3 --threads 1 --augment -o "$tmp/c3.siam"
ok $? "mpirun -np 3 siam train"
close "$tmp/c1.siam" "$tmp/c3.siam"; ok $? "3 ranks: the one-process model"
train "$siam" "$tmp/c1b.siam" --augment --quiet --seed 4
close "$tmp/c1.siam" "$tmp/c1b.siam"; [ $? != 0 ]
ok $? "(another seed is not close: the comparison can fail)"

# Triplets with instance triplets at the end of each batch: 3 ranks
# hold 0, 3 and 8 of the batch's 8.
train "$siam" "$tmp/t1.siam" --loss triplet --instance 0.25 --quiet
ok $? "triplets, one process"
run 3 "$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch" \
	--epochs 1 --pairs 512 --batch 32 --val-split 0.2 --seed 3 \
	--threads 1 --loss triplet --instance 0.25 --quiet -o "$tmp/t3.siam"
ok $? "triplets, 3 ranks"
close "$tmp/t1.siam" "$tmp/t3.siam"; ok $? "triplets, 3 ranks: the one-process model"

# supcon couples the whole batch: the ranks gather its embeddings.
train "$siam" "$tmp/s1.siam" --loss supcon --arch "$arch l2" --quiet
ok $? "supcon, one process"
run 2 "$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch l2" \
	--epochs 1 --pairs 512 --batch 32 --val-split 0.2 --seed 3 \
	--threads 1 --loss supcon --quiet -o "$tmp/s2.siam"
ok $? "supcon, 2 ranks"
close "$tmp/s1.siam" "$tmp/s2.siam"; ok $? "supcon, 2 ranks: the one-process model"

# Refused: a batch smaller than the rank count.  Every rank agrees,
# rank 0 says it once, no MPI_Abort.
run 3 "$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch" \
	--batch 2 --epochs 1 --quiet -o "$tmp/b.siam" 2>"$tmp/err"
r=$?
[ $r != 0 ] && [ ! -e "$tmp/b.siam" ] && ! grep -q MPI_ABORT "$tmp/err" &&
	[ "$(grep -c 'batch of 2 cannot be split over 3 ranks' "$tmp/err")" = 1 ]
ok $? "a batch of 2 on 3 ranks refused (exit $r): $(head -1 "$tmp/err")"

# Resume across rank counts: 2 epochs; stopped after 20 steps on 2
# ranks (the test hook, as a Ctrl-C on every rank), resumed on 3 ranks
# and, from the same checkpoint, in one process.
train "$siam" "$tmp/u.siam" --epochs 2 --quiet
SIAM_TEST_STOP_AFTER=20 run 2 "$hooked" train --data "mnist:$fx/mnist-mini" \
	--arch "$arch" --epochs 2 --pairs 512 --batch 32 --val-split 0.2 \
	--seed 3 --threads 1 --quiet -o "$tmp/r.siam" 2>"$tmp/err"
r=$?
[ $r != 0 ] && [ -f "$tmp/r.siam.ckpt" ] && [ ! -e "$tmp/r.siam" ]
ok $? "interrupted on 2 ranks (exit $r): checkpoint, no model"
[ "$(grep -c 'resume with: siam train --resume' "$tmp/err")" = 1 ]
ok $? "rank 0 alone says how to resume"
cp "$tmp/r.siam.ckpt" "$tmp/r1.ckpt"
run 3 "$siam" train --resume "$tmp/r.siam.ckpt" --quiet
ok $? "resumed on 3 ranks"
close "$tmp/u.siam" "$tmp/r.siam"; ok $? "= the uninterrupted one-process model"
[ ! -e "$tmp/r.siam.ckpt" ]; ok $? "spent checkpoint removed"
"$siam" train --resume "$tmp/r1.ckpt" -o "$tmp/r1.siam" --quiet
ok $? "the same checkpoint resumed in one process"
close "$tmp/u.siam" "$tmp/r1.siam"; ok $? "= the uninterrupted model"

# Data parallel, rank 0 writes the checkpoint after every epoch but the
# last too (mpirun meets a Ctrl-C by killing the ranks): a run whose
# model cannot be saved leaves it, at the start of epoch 2.
run 2 "$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch" \
	--epochs 2 --pairs 512 --batch 32 --val-split 0.2 --seed 3 \
	--threads 1 --quiet -o "$tmp/no/e.siam" --checkpoint "$tmp/e.ckpt" \
	2>"$tmp/err"
r=$?
[ $r != 0 ] && [ -f "$tmp/e.ckpt" ]
ok $? "the model cannot be saved (exit $r): the epoch's checkpoint is left"
"$siam" train --resume "$tmp/e.ckpt" -o "$tmp/e.siam" --quiet
ok $? "resumed in one process"
close "$tmp/u.siam" "$tmp/e.siam"; ok $? "= the uninterrupted model"

# One rank under mpirun is the plain process, bit for bit.
run 1 "$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch" \
	--epochs 1 --pairs 512 --batch 32 --val-split 0.2 --seed 3 \
	--threads 1 --augment --quiet -o "$tmp/c1m.siam"
cmp -s "$tmp/c1.siam" "$tmp/c1m.siam"; ok $? "mpirun -np 1: the same file"

echo "1..$n"
[ "$failed" = 0 ]
