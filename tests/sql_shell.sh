#!/bin/sh
# tests/sql_shell.sh -- the built module (siam.so) in the stock sqlite3
# shell: '.load', the registered functions, exact error texts, siam_knn
# on a database made from sql/schema.sql by the shell itself.  TAP.
set -u
b=${SIAM_BUILDDIR:-.}
s=${SIAM_SRCDIR:-.}
mod=$b/siam
tmp=$(mktemp -d "${TMPDIR:-/tmp}/siam-sql-shell.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "1..0 # SKIP no sqlite3 shell (apt-get install sqlite3)"
	exit 0
fi
. "$s/tests/tap.sh"
tap_asan_host "$mod.so"
sq() { sqlite3 -batch "$@" 2>&1; }
# the message of an SQL error, without the shell's own prefix
err() { sq "$@" | sed -n 's/.*\(siam_[a-z]*: \)/\1/p'; }

is "$(sq :memory: ".load $mod" "SELECT 'loaded'")" loaded ".load $mod"
is "$(sq :memory: "SELECT load_extension('$mod') IS NULL" \
	"SELECT siam_distance('[1]', '[3]')" | tr '\n' ' ')" "1 2.0 " \
	"SELECT load_extension()"
is "$(sq :memory: ".load $mod" "SELECT group_concat(name || '/' || narg, ' ')
	FROM (SELECT name, narg FROM pragma_function_list
	WHERE name LIKE 'siam%' ORDER BY name, narg)")" \
	"siam_distance/2 siam_embed/1 siam_hamming/2 siam_json/1 siam_match/2 siam_match/3 siam_vector/1" \
	"the registered functions"
is "$(sq :memory: ".load $mod" "SELECT name FROM pragma_module_list
	WHERE name LIKE 'siam%' ORDER BY name")" "siam_knn
siam_pairs" "the siam_knn and siam_pairs modules"
is "$(sq :memory: ".load $mod" "SELECT siam_distance('[0,0]', '[3,4]')")" \
	5.0 "siam_distance 3-4-5"
is "$(err :memory: ".load $mod" \
	"SELECT siam_distance(siam_vector('[1,2,3]'), x'000080400000c0400000404000')")" \
	"siam_distance: invalid float32 vector BLOB length: must be divisible by 4, found 13" \
	"error text: a 13-byte BLOB"
is "$(err :memory: ".load $mod" \
	"SELECT siam_distance('[1]', x'00000000000000')")" \
	"siam_distance: invalid float32 vector BLOB length: must be divisible by 4, found 7" \
	"error text: BLOB length"
is "$(err :memory: ".load $mod" \
	"SELECT siam_distance(zeroblob(256), zeroblob(128))")" \
	"siam_distance: vectors differ in size: 64 and 32 dimensions" \
	"error text: sizes differ"
is "$(err :memory: ".load $mod" "SELECT siam_vector('[1,2,x]')")" \
	"siam_vector: invalid JSON at offset 5" "error text: JSON"
is "$(sq :memory: ".load $mod" "SELECT hex(siam_vector('[1, -2]')),
	siam_json(x'0000803f000000c0'), siam_distance(NULL, '[1]') IS NULL")" \
	"0000803F000000C0|[1,-2]|1" "siam_vector, siam_json, NULL"
is "$(sq :memory: ".load $mod" "SELECT siam_match('[0]', '[1]', 1.5),
	siam_match('[0]', '[2]', 1.5)")" "1|0" "siam_match with a threshold"

db=$tmp/shell.db
sq "$db" ".read $s/sql/schema.sql" >/dev/null
is "$(sq "$db" "PRAGMA user_version")" 3 "sql/schema.sql makes version 3"
is "$(sq "$db" ".load $mod" "
	INSERT INTO models(name, blob, spec, embed_dim, threshold, sha256)
	VALUES ('m', x'', 's', 2, 1.5, '');
	INSERT INTO images(path, model_id, embedding) VALUES
	  ('a.png', 1, siam_vector('[0,0]')), ('b.png', 1, siam_vector('[3,4]')),
	  ('c.png', 1, siam_vector('[1,1]')), ('it''s.png', 1, siam_vector('[1,1]'));
	SELECT group_concat(image_id || ':' || path || ':' || distance, ' ')
	FROM siam_knn WHERE query = '[0.5,0.5]' AND k = 3;")" \
	"1:a.png:0.707106781186548 3:c.png:0.707106781186548 4:it's.png:0.707106781186548" \
	"siam_knn in the shell, ties by image_id"
is "$(sq "$db" ".load $mod" "SELECT image_id FROM siam_knn('[3,4]', 1)")" \
	2 "table-valued siam_knn"
is "$(sq "$db" ".load $mod" "SELECT siam_match('[0]', '[1.4]'),
	siam_match('[0]', '[1.6]')")" "1|0" "siam_match uses the model's threshold"
is "$(err "$db" ".load $mod" "SELECT * FROM siam_knn('[1,2,3]', 3)")" \
	"siam_knn: the query vector has 3 dimensions, the embeddings of model 1 have 2" \
	"siam_knn: wrong query size"
is "$(err "$db" ".load $mod" "SELECT * FROM siam_knn('[1,2]', 10001)")" \
	"siam_knn: k must be between 1 and 10000, found 10001" "siam_knn: k cap"
is "$(err "$db" ".load $mod" "SELECT siam_embed(x'0102')")" \
	"siam_embed: model 1: not a siam model file" \
	"siam_embed names a broken model"

tap_end
