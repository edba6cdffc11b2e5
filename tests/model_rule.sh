#!/bin/sh
# tests/model_rule.sh -- which model a command uses with no --model
# (src/cli/model_path.c, README "The default model"): the shipped models
# by name, $SIAM_MODEL, a database keeps the model it was indexed with,
# else digits for images without colour of at most 512 pixels a side and
# photo for any other.  TAP.
set -u
B=$(cd "${SIAM_BUILDDIR:-.}" && pwd)
S=$(cd "${SIAM_SRCDIR:-.}" && pwd)
SIAM="$B/siam"
T=$(mktemp -d /tmp/siam-model-rule-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$S/tests/tap.sh"
unset SIAM_MODEL
cd "$T" || exit 1
D="$S/examples/digits"
F="$S/tests/fixtures/digits"

# ppm FILE W H R G B: a colour picture, a gradient over (R, G, B)
ppm() {
	LC_ALL=C awk -v w="$2" -v h="$3" -v r="$4" -v g="$5" -v b="$6" 'BEGIN {
		printf "P6\n%d %d\n255\n", w, h
		for (y = 0; y < h; y++) for (x = 0; x < w; x++)
			printf "%c%c%c", (r + x * 3) % 256, (g + y * 2) % 256,
			       (b + x + y) % 256
	}' >"$1"
}
mkdir colour
ppm colour/a.ppm 96 64 200 30 60
ppm colour/b.ppm 96 64 20 180 90
# A gray picture larger than 512 a side: a photograph, not a digit.
LC_ALL=C awk 'BEGIN { printf "P5\n600 20\n255\n";
	for (i = 0; i < 12000; i++) printf "%c", 32 + i % 150 }' >big.pgm

model_of() { # the "model" of siam verify --json A B [options]
	"$SIAM" verify --json "$@" | sed 's/.*"model":"\([^"]*\)".*/\1/'
}
name_of() { basename "$1"; }

is "$(name_of "$(model_of "$D/3/drawn-0093.png" "$D/3/mnist-0018.png")")" \
	mnist.siam "verify of two digits: the digit model"
"$SIAM" verify -q "$D/3/drawn-0093.png" "$D/3/mnist-0018.png"
is $? 0 "... which finds them the same (the README's first command)"
is "$(name_of "$(model_of "$F/seven_a.png" "$F/seven_b.jpg")")" \
	mnist.siam "a digit scanned as an RGB JPEG has no colour: digits"
is "$(name_of "$(model_of colour/a.ppm colour/b.ppm)")" photo.siam \
	"verify of colour pictures: the photo model"
is "$(name_of "$(model_of "$D/3/mnist-0018.png" colour/a.ppm)")" \
	photo.siam "one colour picture is enough for the photo model"
is "$(name_of "$(model_of "$D/3/mnist-0018.png" big.pgm)")" photo.siam \
	"a gray picture over 512 pixels a side: the photo model"

# Names and $SIAM_MODEL.
is "$(name_of "$(model_of --model digits colour/a.ppm colour/b.ppm)")" \
	mnist.siam "--model digits"
is "$(name_of "$(model_of --model photo "$D/3/mnist-0018.png" \
	"$D/3/drawn-0093.png")")" photo.siam "--model photo"
is "$(name_of "$(model_of --model fashion colour/a.ppm colour/b.ppm)")" \
	fashion.siam "--model fashion"
is "$(name_of "$(model_of --model digits-0-4 colour/a.ppm colour/b.ppm)")" \
	mnist-0-4.siam "--model digits-0-4"
is "$(SIAM_MODEL=digits model_of colour/a.ppm colour/b.ppm | xargs basename)" \
	mnist.siam "SIAM_MODEL=digits"
cp "$S/models/mnist.siam" photo
is "$(model_of --model photo colour/a.ppm colour/b.ppm)" photo \
	"a file named like a shipped model is that file"
rm photo
err=$("$SIAM" verify --model nosuch colour/a.ppm colour/b.ppm 2>&1 >/dev/null)
is $? 2 "--model nosuch: exit 2"
case $err in *nosuch*) r=0 ;; *) r=1 ;; esac
ok $r "... naming it: $err"

# A database keeps the model it was indexed with.
"$SIAM" index -q --db c.db colour
is $? 0 "index a colour folder into a new database"
is "$("$SIAM" sql --db c.db --no-header "SELECT name FROM models" | xargs basename)" \
	photo.siam "... with the photo model"
"$SIAM" index -q --db c.db "$D/1"
is "$("$SIAM" sql --db c.db --no-header "SELECT count(*) || ' ' || count(DISTINCT model_id) FROM images")" \
	"$(( $(ls "$D/1" | wc -l) + 2 )) 1" \
	"digits indexed into it later: the database's photo model"
"$SIAM" index -q --db d.db "$S/examples"
is "$("$SIAM" sql --db d.db --no-header "SELECT name FROM models" | xargs basename)" \
	mnist.siam "index of examples/ (the README): the digit model"
"$SIAM" dedup -q --db e.db colour >/dev/null
is "$("$SIAM" sql --db e.db --no-header "SELECT name FROM models" | xargs basename)" \
	photo.siam "dedup of a colour folder: the photo model"
out=$("$SIAM" query --db d.db --json -k 1 "$D/7/drawn-0079.png")
case $out in *'"label":"7"'*|*'/7/'*) r=0 ;; *) r=1 ;; esac
ok $r "query of a drawn 7 in examples' database finds a 7"

# siam info states the rule and, with no database, shows the photo model.
out=$("$SIAM" info)
case $out in *"default:     --model, else the model the database was indexed with, else \$SIAM_MODEL, else 'digits' for images without colour"*) r=0 ;; *) r=1 ;; esac
ok $r "siam info states the rule"
echo "$out" | grep -q '^model: .*photo.siam$'
ok $? "siam info with no database: the photo model"
"$SIAM" info --json | grep -q '"default_model":"--model, else'
ok $? "siam info --json: default_model"

# eval of mnist: data takes the digit model.
out=$("$SIAM" eval --json --data "mnist:$S/tests/fixtures/mnist-mini" 2>/dev/null | head -c 2000)
case $out in *mnist.siam*) r=0 ;; *) r=1 ;; esac
ok $r "eval of mnist: data: the digit model"

tap_end
