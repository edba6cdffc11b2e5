#!/bin/sh
# verify.sh -- siam train, eval and verify from the command line: a small
# model trained here on the mini MNIST fixture verifies digits drawn the
# way a person supplies them (large, dark on light, off-centre, PNG and
# JPEG); exit codes 0/1/2; JSON; errors that name the input; the same
# seed makes the same file; an interrupted run resumes to that file.
siam="$SIAM_BUILDDIR/siam"
# The same program with the test hooks compiled in (Makefile.am).
hooked="$SIAM_BUILDDIR/tests/siam-hooked"
fx="$SIAM_SRCDIR/tests/fixtures"
dg="$fx/digits"
tmp=$(mktemp -d /tmp/siam-verify.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
unset SIAM_MODEL
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }

arch="in=1x28x28 conv5x8 relu pool2 conv5x16 relu pool2 fc64 relu fc32"
train() { # train OUTPUT [extra options]
	train_with "$siam" "$@"
}
train_with() { # train_with PROGRAM OUTPUT [extra options]
	prog=$1 out=$2
	shift 2
	"$prog" train --data "mnist:$fx/mnist-mini" --arch "$arch" \
		--epochs 4 --pairs 1024 --batch 32 --val-split 0.2 --seed 3 \
		--threads 1 --quiet -o "$out" "$@"
}

train "$tmp/m.siam"; ok $? "siam train on the mini fixture"
[ -s "$tmp/m.siam" ]; ok $? "model file written"
m="$tmp/m.siam"

# Not quiet, not a terminal: one line per epoch on stdout.
"$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch" --epochs 2 \
	--pairs 256 --batch 32 --threads 1 -o "$tmp/p.siam" \
	>"$tmp/log" 2>"$tmp/err"
ok $? "siam train with progress"
[ "$(grep -c '^epoch [12]/2  loss [0-9.]*  val acc [0-9.]*%  auc ' "$tmp/log")" = 2 ]
ok $? "one line per epoch: $(head -1 "$tmp/log")"
grep -q "^saved $tmp/p.siam  threshold " "$tmp/log"; ok $? "final line"
cr=$(printf '\r')
grep -q "$cr" "$tmp/err"; [ $? != 0 ]; ok $? "no progress bar when not a terminal"

# Determinism: the same command line, the same bytes.  (With the test
# hook's variable set: the installed siam has no hook, it changes
# nothing.)
SIAM_TEST_STOP_AFTER=50 train "$tmp/m2.siam"
ok $? "siam train ignores SIAM_TEST_STOP_AFTER"
cmp -s "$m" "$tmp/m2.siam"; ok $? "same seed and threads: identical model files"
train "$tmp/m3.siam" --seed 4
cmp -s "$m" "$tmp/m3.siam"; [ $? != 0 ]; ok $? "another seed: another model"

# Interrupted (the test hook acts as Ctrl-C after 50 steps) and resumed.
SIAM_TEST_STOP_AFTER=50 train_with "$hooked" "$tmp/r.siam" 2>"$tmp/err"
[ $? = 130 ]; ok $? "interrupted run exits 130"
[ -f "$tmp/r.siam.ckpt" ] && [ ! -e "$tmp/r.siam" ]
ok $? "checkpoint written, no model yet"
grep -q "resume with: siam train --resume $tmp/r.siam.ckpt" "$tmp/err"
ok $? "says how to resume"
"$siam" train --resume "$tmp/r.siam.ckpt" --epochs 9 2>/dev/null
[ $? = 2 ]; ok $? "--resume refuses run options"
"$siam" train --resume "$tmp/r.siam.ckpt" --quiet
ok $? "resume"
cmp -s "$m" "$tmp/r.siam"; ok $? "resumed model = uninterrupted model"
[ ! -e "$tmp/r.siam.ckpt" ]; ok $? "spent checkpoint removed"

# verify: the same digit as MNIST stores it and as a person draws it.
out=$("$siam" verify --model "$m" "$dg/mnist7.png" "$dg/seven_a.png")
ok $? "MNIST 7 vs the same 7 drawn large, dark on light: exit 0"
case "$out" in "same: distance "*" < threshold "*) r=0 ;; *) r=1 ;; esac
ok $r "text output: $out"
"$siam" verify -m "$m" "$dg/seven_a.png" "$dg/seven_a.png" >/dev/null
ok $? "an image against itself: same"
d=$("$siam" verify -m "$m" --json "$dg/seven_a.png" "$dg/seven_a.png" |
	sed 's/.*"distance":\([^,]*\),.*/\1/')
[ "$d" = 0 ]; ok $? "an image against itself: distance 0 ($d)"
"$siam" verify -m "$m" "$dg/one_a.png" "$dg/zero_a.png" >/dev/null
[ $? = 1 ]; ok $? "a 1 and a 0: different, exit 1"
out=$("$siam" verify -m "$m" --json "$dg/one_a.png" "$dg/zero_a.png")
case "$out" in
'{"a":"'*'one_a.png","b":"'*'zero_a.png","model":"'*'","distance":'*',"threshold":'*',"same":false,"verdict":"different"}')
	r=0 ;;
*) r=1 ;;
esac
ok $r "JSON: $out"
"$siam" verify -m "$m" -q "$dg/one_a.png" "$dg/one_b.jpg" </dev/null >"$tmp/q"
r=$?
[ $r -le 1 ] && [ ! -s "$tmp/q" ]; ok $? "--quiet prints nothing (exit $r)"
# distances order: same digit closer than different digits
dist() { "$siam" verify -m "$m" --json "$1" "$2" |
	sed 's/.*"distance":\([^,]*\),.*/\1/'; }
d77=$(dist "$dg/mnist7.png" "$dg/seven_a.png")
d70=$(dist "$dg/seven_a.png" "$dg/zero_a.png")
awk "BEGIN { exit !($d77 < $d70) }"; ok $? "d(7, 7 drawn) $d77 < d(7, 0) $d70"
"$siam" verify -m "$m" --threshold 0 "$dg/seven_a.png" "$dg/seven_a.png" \
	>/dev/null
[ $? = 1 ]; ok $? "--threshold 0: nothing is the same"
"$siam" verify -m "$m" --threshold 1e9 "$dg/one_a.png" "$dg/zero_a.png" \
	>/dev/null
ok $? "--threshold 1e9: everything is the same"
"$siam" verify -m "$m" - "$dg/seven_a.png" <"$dg/mnist7.png" >/dev/null
ok $? "standard input as A"
SIAM_MODEL="$m" "$siam" verify "$dg/mnist7.png" "$dg/seven_a.png" >/dev/null
ok $? "SIAM_MODEL names the default model"

# errors: exit 2, and the message names the input at fault
"$siam" verify -m "$m" "$dg/seven_a.png" "$tmp/nope.png" 2>"$tmp/err"
[ $? = 2 ]; ok $? "missing file: exit 2"
grep -q "nope.png" "$tmp/err"; ok $? "message names it: $(cat "$tmp/err")"
"$siam" verify -m "$m" "$dg/make_digits.c" "$dg/seven_a.png" 2>"$tmp/err"
[ $? = 2 ]; ok $? "not an image: exit 2"
grep -q "make_digits.c" "$tmp/err"; ok $? "message names it: $(cat "$tmp/err")"
"$siam" verify -m "$m" - - </dev/null 2>/dev/null
[ $? = 2 ]; ok $? "both from standard input: exit 2"
"$siam" verify -m "$m" "$dg/seven_a.png" 2>/dev/null
[ $? = 2 ]; ok $? "one image: exit 2"
"$siam" verify -m "$tmp/none.siam" "$dg/seven_a.png" "$dg/one_a.png" \
	2>"$tmp/err"
[ $? = 2 ]; ok $? "missing model: exit 2"
grep -q "none.siam" "$tmp/err"; ok $? "message names the model"
head -c 300 "$m" >"$tmp/cut.siam"
"$siam" verify -m "$tmp/cut.siam" "$dg/seven_a.png" "$dg/one_a.png" \
	2>/dev/null
[ $? = 2 ]; ok $? "truncated model: exit 2"
# A FIFO as the model or the checkpoint is refused at once.  A writer at
# its other end keeps a siam that wrongly opens it from hanging the test
# (it would read "garbage" and fail another way); killed afterwards.
for f in model.siam run.ckpt; do
	mkfifo "$tmp/$f" || continue
	(echo garbage >"$tmp/$f") 2>/dev/null &
	w=$!
	if [ $f = model.siam ]; then
		"$siam" verify -m "$tmp/$f" "$dg/seven_a.png" "$dg/one_a.png"
	else
		"$siam" train --resume "$tmp/$f" -q
	fi 2>"$tmp/err" >/dev/null
	r=$?
	kill $w 2>/dev/null
	wait $w 2>/dev/null
	[ $r = 2 ] && grep -q "$f: not a regular file (a FIFO)" "$tmp/err"
	ok $? "a FIFO as the $f: exit 2, $(cat "$tmp/err")"
done
"$siam" verify -m "$m" --threshold abc a b 2>/dev/null
[ $? = 2 ]; ok $? "bad --threshold: exit 2"

# eval on the fixture's test split
"$siam" eval -m "$m" --data "mnist:$fx/mnist-mini" --json -q -j 1 \
	>"$tmp/ev" 2>"$tmp/err"
ok $? "siam eval --json"
grep -q '"images":200,"seed":1,"verification":{"pairs":400,' "$tmp/ev"
ok $? "200 test images, 400 pairs"
acc=$(sed 's/.*"verification":{[^}]*"accuracy":\([^,]*\),.*/\1/' "$tmp/ev")
awk "BEGIN { exit !($acc > 0.8) }"; ok $? "verification accuracy $acc > 0.8"
grep -q '"nn1":{"accuracy":[0-9.e-]*,"queries":200,"gallery":600,' "$tmp/ev"
ok $? "1-NN against the 600 training images"
grep -q '"oneshot":{"way":5,"trials":2000,"accuracy":' "$tmp/ev"
ok $? "5-way one-shot"
"$siam" eval -m "$m" --data "mnist:$fx/mnist-mini" --classes 5-9 -q \
	--trials 300 -j 1 >"$tmp/ev2"
ok $? "siam eval --classes 5-9"
grep -q "classes 5-9" "$tmp/ev2" && grep -q "^one-shot       5-way" "$tmp/ev2"
ok $? "text output names the classes and the one-shot"
"$siam" eval -m "$m" --data "mnist:$fx/mnist-mini" --classes 5-9 \
	--way 6 -q 2>/dev/null >/dev/null
[ $? = 2 ]; ok $? "6-way over 5 classes: exit 2"
"$siam" eval -m "$m" --data "mnist:$tmp/none" -q 2>"$tmp/err"
[ $? = 2 ]; ok $? "missing data: exit 2"
grep -q "$tmp/none" "$tmp/err"; ok $? "message names the data"

# folder: data, from the drawn digits (one sub-folder per class)
mkdir -p "$tmp/f/seven" "$tmp/f/one" "$tmp/f/zero" "$tmp/f/two"
cp "$dg/mnist7.png" "$dg/seven_a.png" "$dg/seven_b.jpg" "$tmp/f/seven/"
cp "$dg/one_a.png" "$dg/one_b.jpg" "$tmp/f/one/"
cp "$dg/zero_a.png" "$tmp/f/zero/"
cp "$dg/two_a.jpg" "$tmp/f/two/"
echo "not an image" >"$tmp/f/two/broken.png"
"$siam" eval -m "$m" --data "folder:$tmp/f" --json -q -j 1 >"$tmp/ev3" \
	2>"$tmp/err"
ok $? "siam eval on a folder"
grep -q '"images":7,' "$tmp/ev3" && grep -q '"gallery_source":"test images, leave-one-out"' "$tmp/ev3"
ok $? "7 images, leave-one-out 1-NN"
grep -q '"oneshot":{"way":2,' "$tmp/ev3"
ok $? "one-shot over the 2 classes with two or more images"
grep -q "broken.png" "$tmp/err"; ok $? "the bad file is reported"
"$siam" train --data "folder:$tmp/f" --digit yes --arch "$arch" --epochs 2 \
	--pairs 64 --batch 16 --val-split 0 -q -j 1 -o "$tmp/f.siam" 2>/dev/null
ok $? "siam train on a folder (bad file skipped)"
"$siam" train --data "augment:$tmp/f" --digit yes --arch "$arch" \
	--epochs 1 --pairs 64 --batch 16 --val-split 0.3 -q -j 1 \
	-o "$tmp/a.siam" 2>/dev/null
ok $? "siam train on unlabelled images (augment:)"
"$siam" train --data "augment:$tmp/f" --classes 1 -q -o "$tmp/x.siam" \
	2>"$tmp/err"
[ $? = 2 ]; ok $? "augment: has no classes to choose: exit 2"
"$siam" train --data "mnist:$fx/mnist-mini" --loss hinge 2>/dev/null
[ $? = 2 ]; ok $? "unknown loss: exit 2"
"$siam" train --data "mnist:$fx/mnist-mini" --arch "in=1x28x28 bogus" -q \
	-o "$tmp/x.siam" 2>"$tmp/err"
[ $? = 2 ] && grep -q bogus "$tmp/err"; ok $? "bad --arch: exit 2, names the token"
"$siam" train --data "mnist:$fx/mnist-mini" --loss supcon --arch "$arch" -q \
	-o "$tmp/x.siam" 2>"$tmp/err"
[ $? = 2 ] && grep -q "end the architecture with l2" "$tmp/err"
ok $? "supcon without l2: exit 2, says to end the architecture with l2"
"$siam" train --data "mnist:$fx/mnist-mini" --glyphs 1.5 -q -o "$tmp/x.siam" \
	2>"$tmp/err"
[ $? = 2 ] && grep -q -- "--glyphs" "$tmp/err"; ok $? "--glyphs 1.5: exit 2"
"$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch l2" --loss supcon \
	--temperature 0.2 --glyphs 0.5 --epochs 1 --pairs 64 --batch 16 -q -j 1 \
	-o "$tmp/g.siam" 2>/dev/null
ok $? "siam train --loss supcon --glyphs 0.5"
"$siam" info --model "$tmp/g.siam" --json >"$tmp/gi" 2>/dev/null
grep -q '"supcon"' "$tmp/gi" && grep -q 'glyphs' "$tmp/gi"
ok $? "siam info shows the loss and the glyph fraction"
# Views and a moving average: stored in the model and used by verify.
"$siam" train --data "mnist:$fx/mnist-mini" --views 3 -q -o "$tmp/x.siam" \
	2>"$tmp/err"
[ $? = 2 ] && grep -q -- "--views" "$tmp/err"; ok $? "--views 3: exit 2"
"$siam" train --data "mnist:$fx/mnist-mini" --ema 1 -q -o "$tmp/x.siam" \
	2>"$tmp/err"
[ $? = 2 ] && grep -q -- "--ema" "$tmp/err"; ok $? "--ema 1: exit 2"
"$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch" --views 5 \
	--ema 0.9 --epochs 1 --pairs 64 --batch 16 -q -j 1 -o "$tmp/v.siam" \
	2>/dev/null
ok $? "siam train --views 5 --ema 0.9"
"$siam" info --model "$tmp/v.siam" --json >"$tmp/vi" 2>/dev/null
grep -q '"views":5,' "$tmp/vi" && grep -q '"ema":0.8999999' "$tmp/vi"
ok $? "siam info shows 5 views and the average's decay"
out=$("$siam" verify -m "$tmp/v.siam" --json "$dg/seven_a.png" \
	"$dg/seven_a.png" 2>/dev/null)
echo "$out" | grep -q '"distance":0[,.]' && echo "$out" | grep -q '"same":true'
ok $? "a 5-view model: an image against itself is the same ($out)"
# --tta flip and --near-threshold: the header and the metadata only;
# training itself (the weights) is the same as without them.
"$siam" train --data "mnist:$fx/mnist-mini" --tta blur -q -o "$tmp/x.siam" \
	2>"$tmp/err"
[ $? = 2 ] && grep -q -- "--tta" "$tmp/err"; ok $? "--tta blur: exit 2"
"$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch l2" --tta flip \
	--near-threshold 0.3 --epochs 1 --pairs 64 --batch 16 -q -j 1 \
	-o "$tmp/f.siam" 2>/dev/null
ok $? "siam train --tta flip --near-threshold 0.3"
"$siam" train --data "mnist:$fx/mnist-mini" --arch "$arch l2" \
	--epochs 1 --pairs 64 --batch 16 -q -j 1 -o "$tmp/nf.siam" 2>/dev/null
"$siam" info --model "$tmp/f.siam" --json >"$tmp/fi" 2>/dev/null
grep -q '"tta":"flip","meta"' "$tmp/fi" && grep -q '"tta":"flip",' "$tmp/fi" &&
	grep -q ',"near_threshold":0.3}' "$tmp/fi"
ok $? "siam info: tta flip, and near_threshold last in the metadata"
np=$(sed 's/.*"parameters":\([0-9]*\).*/\1/' "$tmp/fi")
tail -c $((4 * np + 4)) "$tmp/f.siam" | head -c $((4 * np)) >"$tmp/fw"
tail -c $((4 * np + 4)) "$tmp/nf.siam" | head -c $((4 * np)) >"$tmp/nfw"
[ "$(wc -c <"$tmp/fw")" -eq $((4 * np)) ] && cmp -s "$tmp/fw" "$tmp/nfw"
ok $? "the same weights with and without them ($np parameters)"
"$siam" dedup --db "$tmp/fd.db" -m "$tmp/f.siam" "$dg" 2>"$tmp/err" >/dev/null
grep -q "threshold 0.3 (the model's near-duplicate threshold)" "$tmp/err"
ok $? "siam dedup uses the stored near-duplicate threshold"

# The shipped unseen-class model: trained on 0-4 only, it must still tell
# the shipped example digits 5-9 apart (chance: 50% AUC, 20% one-shot).
"$siam" eval --model "$SIAM_SRCDIR/models/mnist-0-4.siam" \
	--data "folder:$SIAM_SRCDIR/examples/digits" --classes 5-9 --way 5 \
	--trials 500 --json >"$tmp/u" 2>/dev/null
ok $? "siam eval of models/mnist-0-4.siam on the example digits 5-9"
num() { sed -n "s/.*\"$1\":{[^}]*\"$2\":\([0-9.]*\).*/\1/p" "$tmp/u"; }
auc=$(num verification auc) nn=$(num nn1 accuracy) os=$(num oneshot accuracy)
awk -v a="$auc" -v n="$nn" -v o="$os" 'BEGIN { exit !(a >= 0.90 && n >= 0.85 && o >= 0.75) }'
ok $? "unseen digits 5-9: AUC $auc >= 0.90, 1-NN $nn >= 0.85, one-shot $os >= 0.75"
"$siam" info --model "$SIAM_SRCDIR/models/mnist-0-4.siam" --json 2>/dev/null |
	grep -q '"views":9,'
ok $? "models/mnist-0-4.siam embeds over 9 views"
"$siam" info --model "$SIAM_SRCDIR/models/mnist-0-4.siam" 2>/dev/null >"$tmp/ui"
grep -q '^margin: *none (supcon loss)' "$tmp/ui" && grep -q '^views: *9 ' "$tmp/ui"
ok $? "siam info: a supcon model has no margin, and 9 views"

echo "1..$n"
[ $failed = 0 ]
