/*
 * test_sql_db.c -- the database: schema creation, the compiled-in schema
 * against sql/schema.sql, migration from an older version, refusal of a
 * newer one and of files that are not siam databases; models, images and
 * errors through the siam_db_* API; siam_db_neighbours against the
 * known nearest of points on a circle; siam_embed and siam_match with a
 * real model stored in the database.
 */
#include <sqlite3.h>

#include "db/db.h"
#include "siam_nn.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/siam-test-sql-db-XXXXXX";
static char result[4096];

static const char *q(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(result, sizeof result, "ERROR: %s", sqlite3_errmsg(db));
		return result;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		snprintf(result, sizeof result, "%s", t ? t : "NULL");
	} else if (rc == SQLITE_DONE) {
		result[0] = '\0';
	} else {
		snprintf(result, sizeof result, "ERROR: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return result;
}

static void is(sqlite3 *db, const char *sql, const char *want)
{
	const char *got = q(db, sql);
	if (!tap_ok(strcmp(got, want) == 0, "%s", sql))
		tap_diag("got  '%s'\n# want '%s'", got, want);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		tap_ok(0, "exec %.60s: %s", sql, msg);
		sqlite3_free(msg);
	}
}

static char *tmp(const char *name)
{
	static char paths[16][256];
	static int n;
	char *p = paths[n++ % 16];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

/* A plain sqlite3 connection, for building fixtures behind siam's back. */
static sqlite3 *raw(const char *path)
{
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		printf("Bail out! sqlite3_open %s\n", path);
		exit(1);
	}
	return db;
}

static sqlite3 *open_ok(const char *path, int flags, const char *what)
{
	sqlite3 *db = NULL;
	siam_error err = {0};
	int rc = siam_db_open(&db, path, flags, &err);
	if (!tap_ok(rc == 0 && db, "%s", what))
		tap_diag("%s", err.msg);
	return db;
}

static void open_fails(const char *path, int flags, int code,
                       const char *want, const char *what)
{
	sqlite3 *db = (sqlite3 *)1;
	siam_error err = {0};
	int rc = siam_db_open(&db, path, flags, &err);
	if (!tap_ok(rc == code && db == NULL && !strcmp(err.msg, want),
	            "%s", what))
		tap_diag("rc %d, want %d\n# got  '%s'\n# want '%s'", rc, code,
		         err.msg, want);
	if (rc == 0)
		siam_db_close(db);
}

/* ------------------------------------------------------------------ */

static void test_schema_text(void)
{
	const char *src = getenv("SIAM_SRCDIR");
	char path[1024];
	snprintf(path, sizeof path, "%s/sql/schema.sql", src ? src : ".");
	FILE *f = fopen(path, "rb");
	if (!f) {
		tap_ok(0, "open %s", path);
		return;
	}
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	tap_ok(strcmp(buf, siam_db_schema_sql) == 0,
	       "the compiled-in schema is sql/schema.sql byte for byte");
	char want[64];
	snprintf(want, sizeof want, "PRAGMA user_version = %d;\n",
	         SIAM_DB_VERSION);
	tap_ok(n > strlen(want) && !strcmp(buf + n - strlen(want), want),
	       "sql/schema.sql ends by setting version %d", SIAM_DB_VERSION);
}

/* Every object of the schema: name, type, and for tables their columns
 * (name, type, not null, default, pk), for the rest their SQL. */
static char *schema_summary(sqlite3 *db)
{
	return sqlite3_mprintf("%s", q(db,
		"SELECT group_concat(x, char(10)) FROM (SELECT type || ' ' ||"
		" name || ': ' || CASE type WHEN 'table' THEN (SELECT"
		" group_concat(c.name || ' ' || c.type || ' ' || c.\"notnull\""
		" || ' ' || ifnull(c.dflt_value, '-') || ' ' || c.pk, ', ')"
		" FROM pragma_table_info(m.name) AS c) ||"
		" CASE WHEN name = 'meta' THEN sql ELSE '' END"
		" ELSE ifnull(sql, '-') END AS x"
		" FROM sqlite_master AS m ORDER BY type, name)"));
}

static void test_create(void)
{
	const char *path = tmp("new.db");
	sqlite3 *db = open_ok(path, SIAM_DB_CREATE, "create a new database");
	if (!db)
		return;
	is(db, "PRAGMA user_version", "3");
	is(db, "PRAGMA application_id", "1397309773");
	is(db, "PRAGMA journal_mode", "wal");
	is(db, "PRAGMA foreign_keys", "1");
	is(db, "PRAGMA synchronous", "1");
	is(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM"
	       " sqlite_master WHERE type = 'table' ORDER BY name)",
	   "errors images meta models");
	is(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
	   "6");
	is(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM"
	       " pragma_table_info('images'))",
	   "id path is_url content_hash size mtime_ns width height model_id "
	   "embedding indexed_at phash label gray32");
	char *before = schema_summary(db);
	siam_db_close(db);
	db = open_ok(path, 0, "reopen an existing database");
	char *after = schema_summary(db);
	tap_ok(!strcmp(before, after), "reopening changes nothing");
	sqlite3_free(before);
	sqlite3_free(after);
	siam_db_close(db);

	db = open_ok(path, SIAM_DB_READONLY, "open read-only");
	is(db, "INSERT INTO errors(path, message) VALUES ('x', 'y')",
	   "ERROR: attempt to write a readonly database");
	is(db, "SELECT siam_distance('[0]', '[2]')", "2.0");
	siam_db_close(db);

	db = open_ok(":memory:", SIAM_DB_CREATE, "open :memory:");
	is(db, "PRAGMA user_version", "3");
	siam_db_close(db);

	char want[512];
	snprintf(want, sizeof want, "%s: cannot open database: unable to "
	         "open database file", tmp("missing.db"));
	open_fails(tmp("missing.db"), 0, SIAM_EIO, want,
	           "a missing file without SIAM_DB_CREATE");
	tap_ok(access(tmp("missing.db"), F_OK) != 0, "and it is not created");
	open_fails(tmp("missing.db"), SIAM_DB_READONLY | SIAM_DB_CREATE,
	           SIAM_EIO, want, "read-only never creates");
	siam_error err = {0};
	sqlite3 *out = (sqlite3 *)1;
	tap_int(siam_db_open(&out, NULL, 0, &err), SIAM_EINVAL,
	        "a NULL path is SIAM_EINVAL");
}

/* The first layout, as sql/schema.sql had it before version 2. */
static const char schema_v1[] =
	"PRAGMA application_id = 1397309773;\n"
	"CREATE TABLE models (\n"
	"  id         INTEGER PRIMARY KEY,\n"
	"  name       TEXT NOT NULL,\n"
	"  blob       BLOB NOT NULL,\n"
	"  spec       TEXT NOT NULL,\n"
	"  embed_dim  INTEGER NOT NULL CHECK (embed_dim > 0),\n"
	"  threshold  REAL NOT NULL,\n"
	"  sha256     TEXT NOT NULL,\n"
	"  created    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ',"
	" 'now'))\n"
	");\n"
	"CREATE INDEX models_sha256 ON models(sha256);\n"
	"CREATE TABLE images (\n"
	"  id           INTEGER PRIMARY KEY,\n"
	"  path         TEXT NOT NULL,\n"
	"  is_url       INTEGER NOT NULL DEFAULT 0 CHECK (is_url IN (0, 1)),\n"
	"  content_hash TEXT,\n"
	"  size         INTEGER,\n"
	"  mtime_ns     INTEGER,\n"
	"  width        INTEGER,\n"
	"  height       INTEGER,\n"
	"  model_id     INTEGER NOT NULL REFERENCES models(id) ON DELETE "
	"CASCADE,\n"
	"  embedding    BLOB CHECK (embedding IS NULL OR length(embedding) % 4"
	" = 0),\n"
	"  indexed_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ',"
	" 'now')),\n"
	"  UNIQUE (path, model_id)\n"
	");\n"
	"CREATE INDEX images_model ON images(model_id);\n"
	"CREATE INDEX images_content_hash ON images(content_hash);\n"
	"CREATE TABLE errors (\n"
	"  id       INTEGER PRIMARY KEY,\n"
	"  path     TEXT NOT NULL UNIQUE,\n"
	"  code     INTEGER,\n"
	"  message  TEXT NOT NULL,\n"
	"  time     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', "
	"'now'))\n"
	");\n"
	"PRAGMA user_version = 1;\n";

static void make_v1(const char *path, const char *extra)
{
	sqlite3 *db = raw(path);
	exec(db, schema_v1);
	exec(db, "INSERT INTO models(name, blob, spec, embed_dim, threshold,"
	         " sha256) VALUES ('old', x'00', 'spec', 2, 0.75, 'h');"
	         " INSERT INTO images(path, model_id, embedding, content_hash)"
	         " VALUES ('a.png', 1, x'0000803f00000040', 'ab');"
	         " INSERT INTO errors(path, message) VALUES ('bad.png', 'no')");
	if (extra)
		exec(db, extra);
	sqlite3_close(db);
}

static void test_migrate(void)
{
	const char *path = tmp("v1.db");
	make_v1(path, NULL);
	char want[512];
	snprintf(want, sizeof want, "%s: database schema version 1 is older "
	         "than this siam's (3): open it read-write once to upgrade it",
	         path);
	open_fails(path, SIAM_DB_READONLY, SIAM_EFORMAT, want,
	           "read-only refuses to migrate");
	sqlite3 *db = open_ok(path, 0, "a version 1 database opens");
	if (!db)
		return;
	is(db, "PRAGMA user_version", "3");
	is(db, "SELECT path || ' ' || hex(embedding) || ' ' || content_hash ||"
	       " ' ' || ifnull(phash, 'null') || ' ' || ifnull(label, 'null')"
	       " || ' ' || ifnull(gray32, 'null') FROM images",
	   "a.png 0000803F00000040 ab null null null");
	is(db, "SELECT name || threshold FROM models", "old0.75");
	is(db, "SELECT path || message FROM errors", "bad.pngno");
	/* the migrated schema is the one sql/schema.sql makes */
	sqlite3 *fresh = open_ok(":memory:", SIAM_DB_CREATE, "a fresh one");
	char *a = schema_summary(db), *b = schema_summary(fresh);
	if (!tap_ok(!strcmp(a, b), "migrated schema = fresh schema"))
		tap_diag("migrated:\n%s\n# fresh:\n%s", a, b);
	sqlite3_free(a);
	sqlite3_free(b);
	siam_db_close(fresh);
	/* and its triggers work: siam_knn sees the old rows and new ones */
	is(db, "SELECT group_concat(image_id) FROM siam_knn('[1,2]', 5)", "1");
	exec(db, "INSERT INTO images(path, model_id, embedding) VALUES"
	         " ('b.png', 1, siam_vector('[1,2]'))");
	is(db, "SELECT group_concat(image_id) FROM siam_knn('[1,2]', 5)",
	   "1,2");
	is(db, "SELECT siam_match('[0]', '[0.7]')", "1");
	siam_db_close(db);

	/* A migration that fails leaves the database as it was. */
	path = tmp("v1bad.db");
	make_v1(path, "ALTER TABLE images ADD COLUMN label TEXT");
	snprintf(want, sizeof want, "%s: duplicate column name: label", path);
	open_fails(path, 0, SIAM_EDB, want, "a failing migration is reported");
	db = raw(path);
	is(db, "PRAGMA user_version", "1");
	is(db, "SELECT count(*) FROM pragma_table_info('images')"
	       " WHERE name = 'phash'", "0");
	sqlite3_close(db);
}

/* Version 2, as siam made it before images.gray32: version 1 and its
 * migration, which test_migrate shows equal to sql/schema.sql then. */
static void test_migrate_v2(void)
{
	const char *path = tmp("v2.db");
	make_v1(path, NULL);
	sqlite3 *db = raw(path);
	exec(db, siam_db_migrations[1]);
	exec(db, "PRAGMA user_version = 2;"
	         " UPDATE images SET phash = -5, label = 'x'");
	is(db, "SELECT count(*) FROM pragma_table_info('images')"
	       " WHERE name = 'gray32'", "0");
	sqlite3_close(db);

	char want[512];
	snprintf(want, sizeof want, "%s: database schema version 2 is older "
	         "than this siam's (3): open it read-write once to upgrade it",
	         path);
	open_fails(path, SIAM_DB_READONLY, SIAM_EFORMAT, want,
	           "read-only refuses to migrate version 2");
	db = open_ok(path, 0, "a version 2 database opens");
	if (!db)
		return;
	is(db, "PRAGMA user_version", "3");
	is(db, "SELECT path || ' ' || hex(embedding) || ' ' || phash || ' ' ||"
	       " label || ' ' || ifnull(gray32, 'null') FROM images",
	   "a.png 0000803F00000040 -5 x null");
	sqlite3 *fresh = open_ok(":memory:", SIAM_DB_CREATE, "a fresh one");
	char *a = schema_summary(db), *b = schema_summary(fresh);
	if (!tap_ok(!strcmp(a, b), "migrated from 2: schema = fresh schema"))
		tap_diag("migrated:\n%s\n# fresh:\n%s", a, b);
	sqlite3_free(a);
	sqlite3_free(b);
	/* the CHECK came with the column, in both (schema_summary does not
	 * show constraints) */
	static const char *const bad =
		"UPDATE images SET gray32 = x'000102' WHERE path = 'a.png'";
	static const char *const check = "ERROR: CHECK constraint failed: "
		"gray32 IS NULL OR length(gray32) = 1024";
	is(db, bad, check);
	exec(fresh, "INSERT INTO models(name, blob, spec, embed_dim,"
	            " threshold, sha256) VALUES ('m', x'00', 's', 2, 1, 'h');"
	            " INSERT INTO images(path, model_id) VALUES ('a.png', 1)");
	is(fresh, bad, check);
	is(db, "UPDATE images SET gray32 = zeroblob(1024) WHERE path = 'a.png'"
	       " RETURNING length(gray32)", "1024");
	siam_db_close(fresh);
	siam_db_close(db);
}

static void test_refuse(void)
{
	char want[512];
	const char *path = tmp("v4.db");
	sqlite3 *db = open_ok(path, SIAM_DB_CREATE, "create, to fake v4");
	siam_db_close(db);
	db = raw(path);
	exec(db, "PRAGMA user_version = 4");
	sqlite3_close(db);
	snprintf(want, sizeof want, "%s: database schema version 4 is newer "
	         "than this siam supports (3): upgrade siam", path);
	open_fails(path, 0, SIAM_EFORMAT, want, "a newer version is refused");
	open_fails(path, SIAM_DB_READONLY, SIAM_EFORMAT, want,
	           "also read-only");
	db = raw(path);
	is(db, "PRAGMA user_version", "4");
	sqlite3_close(db);

	path = tmp("other.db");
	db = raw(path);
	exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)");
	sqlite3_close(db);
	snprintf(want, sizeof want, "%s: not a siam database (it has tables "
	         "but no siam schema)", path);
	open_fails(path, SIAM_DB_CREATE, SIAM_EFORMAT, want,
	           "another application's database is refused");
	db = raw(path);
	is(db, "PRAGMA journal_mode", "delete"); /* untouched */
	is(db, "SELECT count(*) FROM sqlite_master", "1");
	exec(db, "PRAGMA user_version = 2");
	sqlite3_close(db);
	snprintf(want, sizeof want, "%s: not a siam database (application_id "
	         "0x00000000)", path);
	open_fails(path, 0, SIAM_EFORMAT, want,
	           "a foreign application_id is refused");

	path = tmp("empty.db");
	FILE *f = fopen(path, "w");
	fclose(f);
	snprintf(want, sizeof want, "%s: not a siam database (it is empty)",
	         path);
	open_fails(path, SIAM_DB_READONLY, SIAM_EFORMAT, want,
	           "read-only refuses an empty file");
	db = open_ok(path, 0, "read-write makes an empty file a database");
	siam_db_close(db);

	path = tmp("garbage.db");
	f = fopen(path, "w");
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database. ", f);
	fclose(f);
	snprintf(want, sizeof want, "%s: file is not a database", path);
	open_fails(path, SIAM_DB_CREATE, SIAM_EFORMAT, want,
	           "a file that is not SQLite");
}

/* ------------------------------------------------------------------ */

static siam_model *make_model(uint64_t seed, float threshold)
{
	siam_model *m = NULL;
	siam_error err = {0};
	if (siam_model_create(&m, "in=1x8x8 fc16 relu fc4", &err) < 0) {
		printf("Bail out! siam_model_create: %s\n", err.msg);
		exit(1);
	}
	siam_net_init(m->net, seed);
	m->threshold = threshold;
	/* metadata, as a trained model has (and model.c, as of this
	 * writing, passes NULL to memcpy for a model without any) */
	m->meta = strdup("{\"test\": true}");
	return m;
}

static void test_models(sqlite3 *db)
{
	siam_error err = {0};
	int64_t id = -1, cur = -1;
	tap_ok(siam_db_current_model(db, &cur, &err) == 0 && cur == 0,
	       "no model: current is 0");
	siam_model *got = (siam_model *)1;
	tap_int(siam_db_load_model(db, 0, &got, NULL, &err), SIAM_EINVAL,
	        "loading the current model of an empty database fails");
	tap_ok(got == NULL && strstr(err.msg, "the database has no model"),
	       "with a message: %s", err.msg);

	siam_model *m1 = make_model(1, 0.75f), *m2 = make_model(2, 1.25f);
	tap_ok(siam_db_put_model(db, m1, "one.siam", &id, &err) == 0 &&
	       id == 1, "put a model: id 1");
	tap_ok(siam_db_put_model(db, m1, "again", &id, &err) == 0 && id == 1,
	       "the same blob again: the same id");
	is(db, "SELECT count(*) || name FROM models", "1one.siam");
	tap_ok(siam_db_put_model(db, m2, NULL, &id, &err) == 0 && id == 2,
	       "another model: id 2");
	is(db, "SELECT embed_dim || ' ' || threshold || ' ' || spec || ' ' ||"
	       " length(sha256) || ' ' || (created LIKE '____-__-__T__:__:__Z')"
	       " FROM models WHERE id = 2",
	   "4 1.25 in=1x8x8 fc16 relu fc4 64 1");
	{
		void *blob;
		size_t len;
		char hex[65];
		siam_model_save_mem(m1, &blob, &len, &err);
		siam_sha256_hex(hex, blob, len);
		char sql[300];
		snprintf(sql, sizeof sql, "SELECT sha256 = '%s' AND length(blob)"
		         " = %zu FROM models WHERE id = 1", hex, len);
		is(db, sql, "1");
		free(blob);
	}
	siam_db_current_model(db, &cur, &err);
	tap_int(cur, 2, "the newest model is current");
	tap_ok(siam_db_set_current_model(db, 1, &err) == 0, "set current 1");
	siam_db_current_model(db, &cur, &err);
	tap_int(cur, 1, "current is 1");
	tap_int(siam_db_set_current_model(db, 9, &err), SIAM_EINVAL,
	        "a missing model cannot be current");
	tap_ok(strstr(err.msg, "no model with id 9") != NULL, "%s", err.msg);

	int64_t lid = 0;
	tap_ok(siam_db_load_model(db, 0, &got, &lid, &err) == 0 && lid == 1,
	       "load the current model");
	if (got) {
		size_t n = siam_net_num_params(m1->net);
		tap_ok(n == siam_net_num_params(got->net) &&
		       !memcmp(siam_net_params(m1->net),
		               siam_net_params(got->net), n * sizeof(float)) &&
		       got->threshold == 0.75f &&
		       !strcmp(siam_net_spec(got->net), siam_net_spec(m1->net)),
		       "it is the model that was stored");
		siam_model_free(got);
	}
	tap_int(siam_db_load_model(db, 7, &got, &lid, &err), SIAM_EINVAL,
	        "load a missing model");
	tap_ok(lid == 0 && got == NULL, "nothing loaded");
	/* a corrupt blob gives the model loader's message */
	exec(db, "INSERT INTO models(id, name, blob, spec, embed_dim,"
	         " threshold, sha256) VALUES (3, 'bad', x'00112233', 's', 4,"
	         " 1, '')");
	tap_int(siam_db_load_model(db, 3, &got, NULL, &err), SIAM_EFORMAT,
	        "a corrupt model blob");
	tap_ok(strstr(err.msg, "model 3") != NULL, "names it: %s", err.msg);
	exec(db, "DELETE FROM models WHERE id = 3");
	siam_model_free(m1);
	siam_model_free(m2);
}

static void test_images(sqlite3 *db)
{
	siam_error err = {0};
	/* quotes, a newline, a control byte and bytes that are not UTF-8 */
	static const char odd[] = "dir/it's \"odd\"\nname\x01\xff\xfe.png";
	float e[4] = {1, 2, 3, 4};
	siam_db_image im = {
		.path = odd, .content_hash = "aa", .size = 123,
		.mtime_ns = 1700000000123456789LL, .width = 8, .height = 9,
		.model_id = 1, .embedding = e, .dim = 4, .has_phash = 1,
		.phash = 0xfedcba9876543210ULL, .label = "seven"};
	int64_t id = 0;
	siam_db_put_error(db, odd, SIAM_EFORMAT, "earlier failure", &err);
	is(db, "SELECT count(*) FROM errors", "1");
	tap_ok(siam_db_put_image(db, &im, &id, &err) == 0 && id > 0,
	       "put an image");
	is(db, "SELECT count(*) FROM errors", "0"); /* cleared */
	{
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, "SELECT CAST(path AS BLOB) = ?1, size,"
		                   " mtime_ns, width, height, hex(embedding),"
		                   " phash, label, is_url FROM images WHERE"
		                   " id = ?2", -1, &st, NULL);
		sqlite3_bind_blob(st, 1, odd, (int)strlen(odd), SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		int ok = sqlite3_step(st) == SQLITE_ROW &&
		         sqlite3_column_int(st, 0) == 1 &&
		         sqlite3_column_int64(st, 1) == 123 &&
		         sqlite3_column_int64(st, 2) == 1700000000123456789LL &&
		         sqlite3_column_int(st, 3) == 8 &&
		         sqlite3_column_int(st, 4) == 9 &&
		         !strcmp((const char *)sqlite3_column_text(st, 5),
		                 "0000803F000000400000404000008040") &&
		         (uint64_t)sqlite3_column_int64(st, 6) ==
		                 0xfedcba9876543210ULL &&
		         !strcmp((const char *)sqlite3_column_text(st, 7),
		                 "seven") &&
		         sqlite3_column_int(st, 8) == 0;
		tap_ok(ok, "every field is stored exactly, the path byte for "
		       "byte");
		sqlite3_finalize(st);
	}
	siam_db_image_info info;
	int found = -1;
	tap_ok(siam_db_find_image(db, odd, 1, &info, &found, &err) == 0 &&
	       found == 1 && info.id == id && info.size == 123 &&
	       info.mtime_ns == 1700000000123456789LL &&
	       !strcmp(info.content_hash, "aa") && info.has_embedding == 1,
	       "find it again by path and model");
	tap_ok(siam_db_find_image(db, odd, 2, &info, &found, &err) == 0 &&
	       found == 0, "not under another model");
	tap_ok(siam_db_find_image(db, "dir/it's", 1, &info, &found, &err) ==
	       0 && found == 0, "nor under a prefix of its path");

	/* unchanged content: a NULL embedding keeps the stored one */
	siam_db_image touch = {.path = odd, .content_hash = "aa", .size = 123,
	                       .mtime_ns = 5, .model_id = 1};
	int64_t id2 = 0;
	if (!tap_ok(siam_db_put_image(db, &touch, &id2, &err) == 0 &&
	            id2 == id, "update in place: same id"))
		tap_diag("%s", err.msg);
	is(db, "SELECT mtime_ns || ' ' || hex(embedding) || ' ' || label ||"
	       " ' ' || width || ' ' || (phash IS NOT NULL) FROM images",
	   "5 0000803F000000400000404000008040 seven 8 1");
	/* changed content without a new embedding: derived data is gone */
	touch.content_hash = "bb";
	if (siam_db_put_image(db, &touch, NULL, &err) < 0)
		tap_diag("%s", err.msg);
	is(db, "SELECT content_hash || ' ' || ifnull(length(embedding), 'null') ||"
	       " ' ' || ifnull(phash, 'null') || ' ' || ifnull(width, 'null')"
	       " || ' ' || label FROM images", "bb null null null seven");
	is(db, "SELECT count(*) FROM siam_knn('[1,2,3,4]', 5, 1)", "0");
	touch.embedding = e;
	touch.dim = 4;
	siam_db_put_image(db, &touch, NULL, &err);
	is(db, "SELECT image_id = (SELECT id FROM images) FROM"
	       " siam_knn('[1,2,3,4]', 5, 1)", "1");

	/* a URL, unknown size and time */
	siam_db_image url = {.path = "https://example.com/a.png?x=1&y='2'",
	                     .is_url = 1, .size = SIAM_DB_UNKNOWN,
	                     .mtime_ns = SIAM_DB_UNKNOWN, .model_id = 1,
	                     .embedding = e, .dim = 4};
	tap_ok(siam_db_put_image(db, &url, &id, &err) == 0, "put a URL");
	is(db, "SELECT is_url || ifnull(size, 'N') || ifnull(mtime_ns, 'N')"
	       " FROM images WHERE is_url", "1NN");
	tap_ok(siam_db_find_image(db, url.path, 1, &info, &found, &err) == 0 &&
	       found && info.size == SIAM_DB_UNKNOWN &&
	       info.mtime_ns == SIAM_DB_UNKNOWN && info.content_hash[0] == 0,
	       "unknown size and time read back as SIAM_DB_UNKNOWN");
	tap_ok(siam_db_delete_image(db, id, &err) == 0, "delete it");
	is(db, "SELECT count(*) FROM images WHERE is_url", "0");

	/* refusals */
	url.dim = 3;
	tap_int(siam_db_put_image(db, &url, NULL, &err), SIAM_EINVAL,
	        "an embedding of the wrong size");
	tap_ok(!strcmp(err.msg, "https://example.com/a.png?x=1&y='2': "
	               "embedding of 3 dimensions for model 1, which makes 4"),
	       "%s", err.msg);
	url.model_id = 42;
	tap_int(siam_db_put_image(db, &url, NULL, &err), SIAM_EINVAL,
	        "a missing model");
	tap_ok(strstr(err.msg, "no model with id 42") != NULL, "%s", err.msg);

	/* errors: one row per path, the latest message */
	siam_db_put_error(db, "x.png", SIAM_EIO, "first", &err);
	siam_db_put_error(db, "x.png", SIAM_EFORMAT, "second", &err);
	is(db, "SELECT count(*) || code || message FROM errors", "1-4second");

	/* siam_db_exec reports SQL errors with the database name */
	tap_int(siam_db_exec(db, "SELECT nonsense FROM nowhere", &err),
	        SIAM_EDB, "siam_db_exec fails on bad SQL");
	tap_ok(strstr(err.msg, "no such table: nowhere") != NULL, "%s",
	       err.msg);
}

/* images.gray32: written by db_put_image (the indexer's call), kept or
 * dropped with the content hash like phash, read back by
 * siam_db_list_images and siam_db_get_image (NULL when NULL or not
 * 1024 bytes). */
typedef struct gray_seen {
	int n, with, right;
	unsigned char first[3];
} gray_seen;

static int gray_row(void *arg, const siam_db_image_row *r)
{
	gray_seen *g = arg;
	g->n++;
	if (r->gray32) {
		int right = 1;
		for (int i = 0; i < 1024; i++)
			right &= r->gray32[i] == (unsigned char)(i * 7 + r->id);
		g->with++;
		g->right += right;
		memcpy(g->first, r->gray32, 3);
	}
	return 0;
}

static void test_gray32(void)
{
	siam_error err = {0};
	float e[4] = {1, 2, 3, 4};
	unsigned char gray[1024];
	int64_t id = 0;
	sqlite3 *db = open_ok(":memory:", SIAM_DB_CREATE, "a database for gray32");
	if (!db)
		return;
	exec(db, "INSERT INTO models(name, blob, spec, embed_dim, threshold,"
	         " sha256) VALUES ('m', x'00', 's', 4, 1, 'h')");
	siam_db_image im = {.path = "g.png", .content_hash = "cc",
	                    .size = 1, .mtime_ns = 1, .model_id = 1,
	                    .embedding = e, .dim = 4, .has_phash = 1,
	                    .phash = 7};
	/* the pattern is i * 7 + id, so the id must be known first */
	tap_ok(siam_db_put_image(db, &im, &id, &err) == 0 && id > 0,
	       "put an image without gray32");
	is(db, "SELECT ifnull(gray32, 'null') FROM images", "null");
	for (int i = 0; i < 1024; i++)
		gray[i] = (unsigned char)(i * 7 + id);
	if (!tap_ok(db_put_image(db, &im, gray, NULL, &err) == 0,
	            "db_put_image with gray32"))
		tap_diag("%s", err.msg);
	char want[64];
	snprintf(want, sizeof want, "1024 %02X%02X%02X", gray[0], gray[1],
	         gray[2]);
	is(db, "SELECT length(gray32) || ' ' || hex(substr(gray32, 1, 3))"
	       " FROM images", want);
	/* same content hash, no gray32 given: kept, as phash is */
	siam_db_image touch = {.path = "g.png", .content_hash = "cc",
	                       .size = 1, .mtime_ns = 2, .model_id = 1};
	siam_db_put_image(db, &touch, NULL, &err);
	is(db, "SELECT length(gray32) FROM images", "1024");

	gray_seen g = {0};
	tap_ok(siam_db_list_images(db, 1, gray_row, &g, &err) == 0 &&
	       g.n == 1 && g.with == 1 && g.right == 1,
	       "siam_db_list_images gives gray32, byte for byte");
	memset(&g, 0, sizeof g);
	int found = 0;
	tap_ok(siam_db_get_image(db, id, gray_row, &g, &found, &err) == 0 &&
	       found && g.with == 1 && g.right == 1,
	       "siam_db_get_image too");

	/* a value of another length (a hand-made table without the CHECK)
	 * reads as NULL; ignore_check_constraints lets the test store one */
	exec(db, "PRAGMA ignore_check_constraints = 1;"
	         " UPDATE images SET gray32 = x'0102';"
	         " PRAGMA ignore_check_constraints = 0");
	memset(&g, 0, sizeof g);
	siam_db_list_images(db, 1, gray_row, &g, &err);
	tap_ok(g.n == 1 && g.with == 0, "gray32 of 2 bytes reads as NULL");
	if (db_put_image(db, &im, gray, NULL, &err) < 0)
		tap_diag("%s", err.msg);

	/* other content, no gray32 given: gone, as phash is */
	touch.content_hash = "dd";
	siam_db_put_image(db, &touch, NULL, &err);
	is(db, "SELECT ifnull(gray32, 'null') || ' ' || ifnull(phash, 'null')"
	       " FROM images", "null null");
	memset(&g, 0, sizeof g);
	siam_db_list_images(db, 1, gray_row, &g, &err);
	tap_ok(g.n == 1 && g.with == 0, "a NULL gray32 reads as NULL");
	siam_db_close(db);
}

/* siam_embed and siam_match with the model stored in the database. */
static void test_embed(sqlite3 *db)
{
	siam_error err = {0};
	/* an 8x9 binary PGM (P5): a gradient */
	unsigned char pgm[64];
	int hl = snprintf((char *)pgm, sizeof pgm, "P5\n8 6\n255\n");
	for (int i = 0; i < 48 && hl + i < 64; i++)
		pgm[hl + i] = (unsigned char)(i * 5);
	size_t len = (size_t)hl + 48;
	const char *path = tmp("img.pgm");
	FILE *f = fopen(path, "wb");
	fwrite(pgm, 1, len, f);
	fclose(f);

	siam_model *m = NULL;
	siam_image img = {0};
	float want[4];
	int64_t cur;
	siam_db_current_model(db, &cur, &err);
	siam_db_load_model(db, cur, &m, NULL, &err);
	siam_image_decode(&img, pgm, len, "pgm", NULL, &err);
	int rc = m ? siam_model_embed_image(m, &img, want, &err) : -1;
	tap_ok(rc == 0, "embed with the library: %s", rc ? err.msg : "ok");

	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT siam_embed(?1), siam_embed(?2)", -1,
	                   &st, NULL);
	sqlite3_bind_blob(st, 1, pgm, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	tap_ok(rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16 &&
	       !memcmp(sqlite3_column_blob(st, 0), want, 16),
	       "siam_embed(BLOB) is the library's embedding");
	if (rc != SQLITE_ROW)
		tap_diag("%s", sqlite3_errmsg(db));
	tap_ok(rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 16 &&
	       !memcmp(sqlite3_column_blob(st, 1), want, 16),
	       "siam_embed(path) too");
	sqlite3_finalize(st);

	/* a different current model: the cached model is replaced */
	siam_model *m2 = NULL;
	int64_t other = cur == 1 ? 2 : 1;
	siam_db_set_current_model(db, other, &err);
	siam_db_load_model(db, other, &m2, NULL, &err);
	float want2[4];
	siam_model_embed_image(m2, &img, want2, &err);
	sqlite3_prepare_v2(db, "SELECT siam_embed(?1)", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, pgm, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	tap_ok(rc == SQLITE_ROW && memcmp(want, want2, 16) != 0 &&
	       !memcmp(sqlite3_column_blob(st, 0), want2, 16),
	       "after changing the current model siam_embed uses the new one");
	sqlite3_finalize(st);
	siam_db_set_current_model(db, cur, &err);

	char sql[512];
	is(db, "SELECT substr(siam_embed(x'00010203'), 1, 0)",
	   "ERROR: siam_embed: image BLOB: not a readable image (unknown image "
	   "type)");
	snprintf(sql, sizeof sql, "SELECT siam_embed('%s')",
	         tmp("nonexistent.png"));
	char want_msg[512];
	snprintf(want_msg, sizeof want_msg,
	         "ERROR: siam_embed: %s: No such file or directory",
	         tmp("nonexistent.png"));
	is(db, sql, want_msg);
	snprintf(sql, sizeof sql, "SELECT siam_embed('%s')", dir);
	const char *got = q(db, sql);
	tap_ok(!strncmp(got, "ERROR: siam_embed: ", 19),
	       "a directory is an error: %s", got);
	/* DIRECTONLY: not from a view */
	exec(db, "CREATE VIEW v AS SELECT siam_embed('x.png') AS e");
	is(db, "SELECT * FROM v",
	   "ERROR: unsafe use of siam_embed()");
	exec(db, "DROP VIEW v");

	/* siam_match without a threshold uses the current model's */
	snprintf(sql, sizeof sql, "SELECT threshold FROM models WHERE id ="
	         " %lld", (long long)cur);
	double thr = strtod(q(db, sql), NULL);
	snprintf(sql, sizeof sql, "SELECT siam_match('[0]', '[%.6f]') ||"
	         " siam_match('[0]', '[%.6f]')", thr - 0.001, thr + 0.001);
	is(db, sql, "10");
	/* a query for the nearest of an image by content */
	sqlite3_prepare_v2(db, "INSERT INTO images(path, model_id, embedding)"
	                   " VALUES (?2, ?3, siam_embed(?1))", -1, &st, NULL);
	sqlite3_bind_blob(st, 1, pgm, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, "gradient", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, cur);
	tap_int(sqlite3_step(st), SQLITE_DONE, "insert siam_embed()");
	sqlite3_finalize(st);
	snprintf(sql, sizeof sql, "SELECT path || ' ' || distance FROM"
	         " siam_knn(siam_embed('%s'), 1)", path);
	is(db, sql, "gradient 0.0");

	siam_image_release(&img);
	siam_model_free(m);
	siam_model_free(m2);
}

/* siam_db_neighbours on a database: each image's k nearest within a
 * distance, by id, against a brute force over the same vectors (points
 * on a circle, so the nearest are known: i's neighbours are i +- 1,
 * i +- 2, ...); a bad k or distance is SIAM_EINVAL. */
static void test_neighbours(void)
{
	siam_error err = {0};
	enum { NI = 24 };
	float e[NI][2];
	sqlite3 *db = open_ok(":memory:", SIAM_DB_CREATE,
	                      "a database for siam_db_neighbours");
	if (!db)
		return;
	exec(db, "INSERT INTO models(name, blob, spec, embed_dim, threshold,"
	         " sha256) VALUES ('m', x'00', 's', 2, 1, 'h')");
	for (int i = 0; i < NI; i++) {
		char path[32];
		double a = 2 * M_PI * i / NI;
		e[i][0] = (float)cos(a);
		e[i][1] = (float)sin(a);
		snprintf(path, sizeof path, "p%02d.png", i);
		siam_db_image im = {.path = path, .model_id = 1,
		                    .embedding = e[i], .dim = 2};
		siam_db_put_image(db, &im, NULL, &err);
	}
	/* neighbours on a circle of 24: 0.261 apart, the second 0.518 */
	siam_db_pair *p = NULL;
	size_t n = 0;
	int rc = siam_db_neighbours(db, 1, 2, 0.4, &p, &n, &err);
	int ok = rc == 0 && n == NI;
	for (size_t k = 0; ok && k < n; k++) {
		int64_t a = p[k].a - 1, b = p[k].b - 1; /* ids from 1 */
		double d = hypot((double)e[a][0] - e[b][0],
		                 (double)e[a][1] - e[b][1]);
		ok = (b - a == 1 || (a == 0 && b == NI - 1)) &&
		     fabs(p[k].distance - d) < 1e-6 &&
		     (k == 0 || p[k - 1].a < p[k].a ||
		      (p[k - 1].a == p[k].a && p[k - 1].b < p[k].b));
	}
	tap_ok(ok, "siam_db_neighbours k 2 within 0.4 on a circle: the %d "
	       "pairs of next images, in (a, b) order (%zu)", NI, n);
	free(p);
	rc = siam_db_neighbours(db, 1, 4, 1.0, &p, &n, &err);
	tap_ok(rc == 0 && n == 2 * NI, "k 4 within 1.0: each image with "
	       "the two on either side, %d pairs (%zu)", 2 * NI, n);
	free(p);
	tap_int(siam_db_neighbours(db, 1, 0, 1.0, &p, &n, &err), SIAM_EINVAL,
	        "k 0: SIAM_EINVAL");
	tap_int(siam_db_neighbours(db, 1, 3, NAN, &p, &n, &err), SIAM_EINVAL,
	        "a distance that is not a number: SIAM_EINVAL (%s)", err.msg);
	tap_ok(p == NULL && n == 0, "and no pairs");
	siam_db_close(db);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_schema_text();
	test_create();
	test_migrate();
	test_migrate_v2();
	test_refuse();
	test_gray32();
	test_neighbours();
	sqlite3 *db = open_ok(tmp("api.db"), SIAM_DB_CREATE, "open api.db");
	if (db) {
		test_models(db);
		test_images(db);
		test_embed(db);
		siam_db_close(db);
	}
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("cannot remove %s", dir);
	return tap_done();
}
