#!/bin/sh
# bench/bench_knn.sh -- 'make bench' runs this from the build directory:
# fetch sqlite-vec (npm package sqlite-vec-linux-x64) into a cache once,
# then run bench/bench_knn with its vec0.so loaded into the same SQLite.
# Without npm or network the benchmark still runs, without the vec0 rows.
# Environment: SIAM_VEC_DIR (cache, default /tmp/siam-sqlite-vec),
# SIAM_BENCH_KNN_ARGS (extra arguments, e.g. "--n 100000 --runs 5").
set -u
cache=${SIAM_VEC_DIR:-/tmp/siam-sqlite-vec}
so=$cache/package/vec0.so
if [ ! -f "$so" ] && command -v npm >/dev/null 2>&1; then
	mkdir -p "$cache" &&
	(cd "$cache" && npm pack --silent sqlite-vec-linux-x64 >/dev/null &&
	 tar xzf sqlite-vec-linux-x64-*.tgz) ||
	echo "bench_knn.sh: could not fetch sqlite-vec; running without it" >&2
fi
if [ -f "$so" ]; then
	ver=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
		"$cache/package/package.json" 2>/dev/null)
	echo "sqlite-vec ${ver:-?} from npm: $so"
	# shellcheck disable=SC2086
	exec ./bench/bench_knn --vec0 "$so" ${SIAM_BENCH_KNN_ARGS:-}
fi
# shellcheck disable=SC2086
exec ./bench/bench_knn ${SIAM_BENCH_KNN_ARGS:-}
