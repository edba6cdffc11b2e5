#!/bin/sh
# cli.sh -- the command table: every command answers --help with exit 0,
# has a man page and is listed in siam(1); usage errors exit 2; output
# that cannot be written exits 2.
siam="$SIAM_BUILDDIR/siam"
man="$SIAM_SRCDIR/man"
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }

out=$("$siam" --help); ok $? "siam --help exits 0"
cmds=$(printf '%s\n' "$out" | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
[ -n "$cmds" ]; ok $? "siam --help lists commands: $(echo $cmds)"
for c in $cmds; do
	"$siam" "$c" --help >/dev/null; ok $? "siam $c --help exits 0"
	h=$("$siam" "$c" --help | head -1)
	case "$h" in "usage: siam $c"*) r=0 ;; *) r=1 ;; esac
	ok $r "siam $c --help starts with its usage line"
	if [ "$c" != version ]; then
		[ -f "$man/siam-$c.1" ]; ok $? "man page siam-$c.1 exists"
	fi
	grep -q "^\.B $c\$" "$man/siam.1"; ok $? "siam(1) lists $c"
done
"$siam" no-such-command 2>/dev/null; [ $? = 2 ]; ok $? "unknown command exits 2"
"$siam" 2>/dev/null; [ $? = 2 ]; ok $? "no command exits 2"
v=$("$siam" --version); [ "$v" = "siam 0.1.0" ]; ok $? "siam --version prints 'siam 0.1.0' ($v)"
"$siam" version --bogus 2>/dev/null; [ $? = 2 ]; ok $? "bad option exits 2"
# Output that cannot be written is an error, for every command: main.c
# checks standard output after the command ran.
if [ -w /dev/full ]; then
	for args in "--help" "version" "selftest" "verify --help"; do
		err=$("$siam" $args 2>&1 >/dev/full)
		st=$?
		case "$err" in
		*"cannot write to standard output: No space left on device") r=0 ;;
		*) r=1 ;;
		esac
		[ $st = 2 ] && [ $r = 0 ]
		ok $? "siam $args >/dev/full: exit 2 ($st), says so: $err"
	done
else
	echo "ok $((n + 1)) # SKIP no /dev/full"
	n=$((n + 1))
fi
echo "1..$n"
[ $failed = 0 ]
