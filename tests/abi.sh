#!/bin/sh
# abi.sh -- libsiam exports exactly its two installed headers: every
# dynamic symbol of libsiam.so is a siam_ name declared in include/siam.h
# or include/siam_nn.h, every function they declare is exported, and
# the test hooks (the naive *_ref kernels) are not.
lib="$SIAM_BUILDDIR/.libs/libsiam.so"
inc="$SIAM_SRCDIR/include"
tmp=$(mktemp -d /tmp/siam-abi.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }

if [ ! -f "$lib" ] || ! command -v nm >/dev/null; then
	echo "1..0 # SKIP no shared libsiam or no nm"
	exit 0
fi
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ { print $3 }' |
	sort -u >"$tmp/exported"
# A declared function: "siam_name(" at the start of a line or after a
# return type, in the headers without their comments.
cat "$inc/siam.h" "$inc/siam_nn.h" | sed -e 's,/\*.*\*/,,' |
	awk '/\/\*/ { c = 1 } !c { print } /\*\// { c = 0 }' |
	grep -o '\bsiam_[a-z0-9_]*(' | tr -d '(' | sort -u >"$tmp/declared"

[ -s "$tmp/exported" ] && [ "$(wc -l <"$tmp/declared")" -gt 100 ]
ok $? "$(wc -l <"$tmp/exported") symbols exported, $(wc -l <"$tmp/declared") functions declared"
grep -v '^siam_' "$tmp/exported" >"$tmp/bad"
[ ! -s "$tmp/bad" ]; ok $? "only siam_ names exported: $(tr '\n' ' ' <"$tmp/bad")"
comm -23 "$tmp/exported" "$tmp/declared" >"$tmp/undeclared"
[ ! -s "$tmp/undeclared" ]
ok $? "every exported symbol is declared in a header: $(tr '\n' ' ' <"$tmp/undeclared")"
comm -13 "$tmp/exported" "$tmp/declared" >"$tmp/missing"
[ ! -s "$tmp/missing" ]
ok $? "every declared function is exported: $(tr '\n' ' ' <"$tmp/missing")"
grep '_ref$' "$tmp/exported" >"$tmp/refs"
[ ! -s "$tmp/refs" ]; ok $? "no test hook (*_ref) exported: $(tr '\n' ' ' <"$tmp/refs")"
grep -q '^siam_selftest$' "$tmp/exported"; ok $? "siam_selftest is exported"
grep -n '_ref\b' "$inc/siam.h" "$inc/siam_nn.h" >"$tmp/hrefs"
[ ! -s "$tmp/hrefs" ]; ok $? "no *_ref in the installed headers"

echo "1..$n"
[ "$failed" = 0 ]
