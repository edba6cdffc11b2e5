/*
 * db.c -- the siam database: open, create, migrate; models, images and
 * errors.  The schema is sql/schema.sql (compiled in as
 * siam_db_schema_sql); the SQL functions are src/sqlite/sql.c.
 *
 * Versioning.  PRAGMA user_version is the schema version, PRAGMA
 * application_id says "this is siam's".  siam_db_open reads both without
 * writing anything, so that a file we must refuse (newer, or not ours) is
 * left untouched; then, only if the version is not current, it takes the
 * write lock (BEGIN IMMEDIATE), reads them again (another process may
 * have upgraded it meanwhile) and either applies the whole schema to an
 * empty database or runs siam_db_migrations[v] for v = version ..
 * SIAM_DB_VERSION-1, all in that one transaction: a crash leaves the old
 * version intact.
 *
 * Statements are prepared per call: indexing spends milliseconds per
 * image on decoding and the network, microseconds here, and a stateless
 * API lets callers mix our calls with their own SQL freely.
 */
#include <sqlite3.h>

#include "db.h"
#include "siam_nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Migrations.  Each entry upgrades version v to v + 1 and must leave the
 * database equal to one made by sql/schema.sql, up to column order of
 * tables changed with ALTER TABLE (tests/test_sql_db.c compares them). */
const char *const siam_db_migrations[SIAM_DB_VERSION] = {
	NULL, /* 0: an empty database gets the whole schema instead */
	/* 1 -> 2: perceptual hash and label; meta and change triggers. */
	"ALTER TABLE images ADD COLUMN phash INTEGER;\n"
	"ALTER TABLE images ADD COLUMN label TEXT;\n"
	"CREATE TABLE meta (\n"
	"  key    TEXT PRIMARY KEY,\n"
	"  value\n"
	") WITHOUT ROWID;\n"
	"INSERT INTO meta(key, value) VALUES ('images_gen', 0), "
	"('models_gen', 0);\n"
	"CREATE TRIGGER images_gen_insert AFTER INSERT ON images BEGIN\n"
	"  UPDATE meta SET value = random() WHERE key = 'images_gen';\n"
	"END;\n"
	"CREATE TRIGGER images_gen_delete AFTER DELETE ON images BEGIN\n"
	"  UPDATE meta SET value = random() WHERE key = 'images_gen';\n"
	"END;\n"
	"CREATE TRIGGER images_gen_update AFTER UPDATE OF id, model_id, "
	"embedding ON images BEGIN\n"
	"  UPDATE meta SET value = random() WHERE key = 'images_gen';\n"
	"END;\n"
	"CREATE TRIGGER models_gen_insert AFTER INSERT ON models BEGIN\n"
	"  UPDATE meta SET value = random() WHERE key = 'models_gen';\n"
	"END;\n"
	"CREATE TRIGGER models_gen_delete AFTER DELETE ON models BEGIN\n"
	"  UPDATE meta SET value = random() WHERE key = 'models_gen';\n"
	"  DELETE FROM meta WHERE key = 'current_model' AND value = old.id;\n"
	"END;\n"
	"CREATE TRIGGER models_gen_update AFTER UPDATE ON models BEGIN\n"
	"  UPDATE meta SET value = random() WHERE key = 'models_gen';\n"
	"END;\n",
};

/* The name to put in messages: the file name, or ":memory:". */
static const char *db_name(sqlite3 *db)
{
	const char *f = sqlite3_db_filename(db, "main");
	return f && *f ? f : ":memory:";
}

static int db_fail(sqlite3 *db, siam_error *err)
{
	int rc = sqlite3_errcode(db) & 0xff;
	int code = rc == SQLITE_NOMEM ? SIAM_ENOMEM :
	           rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? SIAM_EFORMAT :
	           SIAM_EDB;
	return siam_errorf(err, code, "%s: %s", db_name(db), sqlite3_errmsg(db));
}

static int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                      siam_error *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return db_fail(db, err);
	}
	return 0;
}

int siam_db_exec(sqlite3 *db, const char *sql, siam_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = db_fail(db, err);
		if (msg)
			siam_errorf(err, rc, "%s: %s", db_name(db), msg);
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

void siam_db_close(sqlite3 *db)
{
	sqlite3_close_v2(db);
}

/* Reads user_version, application_id and the number of schema objects. */
static int db_version(sqlite3 *db, int *version, int *appid, int *nobj,
                      siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db,
		"SELECT (SELECT user_version FROM pragma_user_version),"
		" (SELECT application_id FROM pragma_application_id),"
		" (SELECT count(*) FROM sqlite_master)", &st, err);
	if (rc < 0)
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = db_fail(db, err);
		sqlite3_finalize(st);
		return rc;
	}
	*version = sqlite3_column_int(st, 0);
	*appid = sqlite3_column_int(st, 1);
	*nobj = sqlite3_column_int(st, 2);
	sqlite3_finalize(st);
	return 0;
}

/* Refuses what we must not touch; 0 if version is ours or upgradable. */
static int db_check(sqlite3 *db, int version, int appid, int nobj, int ro,
                    siam_error *err)
{
	const char *name = db_name(db);
	if (version == 0 && nobj > 0)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a siam database (it has tables "
		                   "but no siam schema)", name);
	if (version > 0 && (uint32_t)appid != SIAM_DB_APPLICATION_ID)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a siam database (application_id "
		                   "0x%08x)", name, (unsigned)appid);
	if (version > SIAM_DB_VERSION)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: database schema version %d is newer "
		                   "than this siam supports (%d): upgrade siam",
		                   name, version, SIAM_DB_VERSION);
	if (ro && version == 0)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a siam database (it is empty)", name);
	if (ro && version < SIAM_DB_VERSION)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: database schema version %d is older "
		                   "than this siam's (%d): open it read-write "
		                   "once to upgrade it", name, version,
		                   SIAM_DB_VERSION);
	return 0;
}

/* Creates or migrates, in one write transaction. */
static int db_upgrade(sqlite3 *db, siam_error *err)
{
	int version, appid, nobj, rc;
	if ((rc = siam_db_exec(db, "BEGIN IMMEDIATE", err)) < 0)
		return rc;
	if ((rc = db_version(db, &version, &appid, &nobj, err)) < 0 ||
	    (rc = db_check(db, version, appid, nobj, 0, err)) < 0)
		goto fail;
	if (version == 0) {
		if ((rc = siam_db_exec(db, siam_db_schema_sql, err)) < 0)
			goto fail;
	} else {
		for (; version < SIAM_DB_VERSION; version++) {
			char pragma[64];
			if ((rc = siam_db_exec(db, siam_db_migrations[version],
			                       err)) < 0)
				goto fail;
			snprintf(pragma, sizeof pragma,
			         "PRAGMA user_version = %d", version + 1);
			if ((rc = siam_db_exec(db, pragma, err)) < 0)
				goto fail;
		}
	}
	if ((rc = db_version(db, &version, &appid, &nobj, err)) < 0)
		goto fail;
	if (version != SIAM_DB_VERSION) { /* sql/schema.sql disagrees */
		rc = siam_errorf(err, SIAM_EDB, "%s: the schema set version "
		                 "%d, expected %d", db_name(db), version,
		                 SIAM_DB_VERSION);
		goto fail;
	}
	if ((rc = siam_db_exec(db, "COMMIT", err)) < 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int siam_db_open(sqlite3 **out, const char *path, int flags, siam_error *err)
{
	sqlite3 *db = NULL;
	int ro = (flags & SIAM_DB_READONLY) != 0;
	int oflags = ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	int version, appid, nobj, rc;

	*out = NULL;
	if (!path)
		return siam_errorf(err, SIAM_EINVAL, "no database file given");
	if (!ro && (flags & SIAM_DB_CREATE))
		oflags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &db, oflags, NULL) != SQLITE_OK) {
		rc = siam_errorf(err, db ? SIAM_EIO : SIAM_ENOMEM,
		                 "%s: cannot open database: %s", path,
		                 db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, SIAM_DB_BUSY_MS);
	if ((rc = db_version(db, &version, &appid, &nobj, err)) < 0 ||
	    (rc = db_check(db, version, appid, nobj, ro, err)) < 0)
		goto fail;
	/* WAL: readers never block the writer nor the reverse, so queries
	 * run while 'siam index' writes; NORMAL sync is durable against a
	 * crash of the process (kill -9), which is what resuming needs. */
	if (!ro && (rc = siam_db_exec(db, "PRAGMA journal_mode = WAL;"
	                              "PRAGMA synchronous = NORMAL", err)) < 0)
		goto fail;
	if ((rc = siam_db_exec(db, "PRAGMA foreign_keys = ON", err)) < 0)
		goto fail;
	if (version != SIAM_DB_VERSION && (rc = db_upgrade(db, err)) < 0)
		goto fail;
	if ((rc = siam_sql_register(db, err)) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	sqlite3_close_v2(db);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Ends savepoint name: rolled back first if rc reports a failure, so a
 * failed put leaves the database as it was. */
static void savepoint_end(sqlite3 *db, const char *name, int rc)
{
	char sql[64];
	if (rc < 0) {
		snprintf(sql, sizeof sql, "ROLLBACK TO %s", name);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	snprintf(sql, sizeof sql, "RELEASE %s", name);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Models                                                              */

static const char db_current_model_sql[] =
	"SELECT coalesce((SELECT value FROM meta WHERE key = 'current_model'"
	" AND value IN (SELECT id FROM models)), (SELECT max(id) FROM models),"
	" 0)";

int siam_db_current_model(sqlite3 *db, int64_t *id, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, db_current_model_sql, &st, err);
	*id = 0;
	if (rc < 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

int siam_db_set_current_model(sqlite3 *db, int64_t id, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db,
		"INSERT OR REPLACE INTO meta(key, value)"
		" SELECT 'current_model', id FROM models WHERE id = ?1", &st,
		err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err);
	else if (sqlite3_changes(db) == 0)
		rc = siam_errorf(err, SIAM_EINVAL, "%s: no model with id %lld",
		                 db_name(db), (long long)id);
	sqlite3_finalize(st);
	return rc;
}

int siam_db_put_model(sqlite3 *db, const siam_model *m, const char *name,
                      int64_t *id, siam_error *err)
{
	void *blob = NULL;
	size_t len = 0;
	char hex[65];
	sqlite3_stmt *st = NULL;
	int rc, in_sp = 0;

	*id = 0;
	if ((rc = siam_model_save_mem(m, &blob, &len, err)) < 0)
		return rc;
	siam_sha256_hex(hex, blob, len);
	if ((rc = siam_db_exec(db, "SAVEPOINT siam_put_model", err)) < 0)
		goto out;
	in_sp = 1;
	if ((rc = db_prepare(db, "SELECT id FROM models WHERE sha256 = ?1"
	                     " AND blob = ?2", &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, blob, len, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		goto out;
	}
	if (r != SQLITE_DONE) {
		rc = db_fail(db, err);
		goto out;
	}
	sqlite3_finalize(st);
	if ((rc = db_prepare(db, "INSERT INTO models(name, blob, spec, "
	                     "embed_dim, threshold, sha256) VALUES (?1, ?2,"
	                     " ?3, ?4, ?5, ?6)", &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, blob, len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, siam_net_spec(m->net), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, siam_net_embed_dim(m->net));
	sqlite3_bind_double(st, 5, m->threshold);
	sqlite3_bind_text(st, 6, hex, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(db, err);
		goto out;
	}
	*id = sqlite3_last_insert_rowid(db);
out:
	sqlite3_finalize(st);
	if (in_sp)
		savepoint_end(db, "siam_put_model", rc);
	free(blob);
	if (rc < 0)
		*id = 0;
	return rc;
}

int siam_db_load_model(sqlite3 *db, int64_t id, siam_model **out,
                       int64_t *loaded_id, siam_error *err)
{
	sqlite3_stmt *st = NULL;
	char name[96];
	int rc;

	*out = NULL;
	if (loaded_id)
		*loaded_id = 0;
	if (id == 0) {
		if ((rc = siam_db_current_model(db, &id, err)) < 0)
			return rc;
		if (id == 0)
			return siam_errorf(err, SIAM_EINVAL,
			                   "%s: the database has no model",
			                   db_name(db));
	}
	if ((rc = db_prepare(db, "SELECT blob FROM models WHERE id = ?1",
	                     &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(name, sizeof name, "%s: model %lld", db_name(db),
		         (long long)id);
		rc = siam_model_load_mem(out, sqlite3_column_blob(st, 0),
		                         (size_t)sqlite3_column_bytes(st, 0),
		                         name, err);
		if (rc == 0 && loaded_id)
			*loaded_id = id;
	} else if (r == SQLITE_DONE) {
		rc = siam_errorf(err, SIAM_EINVAL, "%s: no model with id %lld",
		                 db_name(db), (long long)id);
	} else {
		rc = db_fail(db, err);
	}
	sqlite3_finalize(st);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Images and errors                                                   */

/* embedding, phash, width and height describe the content: given, they
 * are written; not given, they stay only if the content hash did not
 * change.  (In an UPDATE every right-hand side sees the old row.) */
static const char db_put_image_sql[] =
	"INSERT INTO images(path, is_url, content_hash, size, mtime_ns, width,"
	" height, model_id, embedding, phash, label)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
	" ON CONFLICT (path, model_id) DO UPDATE SET"
	"  is_url = excluded.is_url,"
	"  content_hash = excluded.content_hash,"
	"  size = excluded.size,"
	"  mtime_ns = excluded.mtime_ns,"
	"  embedding = CASE WHEN excluded.embedding IS NOT NULL"
	"   THEN excluded.embedding"
	"   WHEN excluded.content_hash IS content_hash THEN embedding END,"
	"  phash = CASE WHEN excluded.phash IS NOT NULL THEN excluded.phash"
	"   WHEN excluded.content_hash IS content_hash THEN phash END,"
	"  width = CASE WHEN excluded.width IS NOT NULL THEN excluded.width"
	"   WHEN excluded.content_hash IS content_hash THEN width END,"
	"  height = CASE WHEN excluded.height IS NOT NULL THEN excluded.height"
	"   WHEN excluded.content_hash IS content_hash THEN height END,"
	"  label = coalesce(excluded.label, label),"
	"  indexed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

static void db_bind_i64_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == SIAM_DB_UNKNOWN)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

int siam_db_put_image(sqlite3 *db, const siam_db_image *img, int64_t *id,
                      siam_error *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char *emb = NULL;
	int rc, in_sp = 0;

	if (id)
		*id = 0;
	if (!img->path)
		return siam_errorf(err, SIAM_EINVAL, "no image path given");
	/* The model must exist and agree on the embedding size. */
	if ((rc = db_prepare(db, "SELECT embed_dim FROM models WHERE id = ?1",
	                     &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, img->model_id);
	int r = sqlite3_step(st);
	int dim = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (r != SQLITE_ROW)
		return r == SQLITE_DONE ?
		       siam_errorf(err, SIAM_EINVAL, "%s: no model with id "
		                   "%lld", db_name(db),
		                   (long long)img->model_id) :
		       db_fail(db, err);
	if (img->embedding && img->dim != dim)
		return siam_errorf(err, SIAM_EINVAL, "%s: embedding of %d "
		                   "dimensions for model %lld, which makes %d",
		                   img->path, img->dim,
		                   (long long)img->model_id, dim);
	if (img->embedding) {
		emb = malloc((size_t)dim * 4);
		if (!emb)
			return siam_errorf(err, SIAM_ENOMEM, "out of memory");
		for (int i = 0; i < dim; i++) { /* float32 little-endian */
			uint32_t u;
			memcpy(&u, &img->embedding[i], 4);
			emb[4 * i] = (unsigned char)u;
			emb[4 * i + 1] = (unsigned char)(u >> 8);
			emb[4 * i + 2] = (unsigned char)(u >> 16);
			emb[4 * i + 3] = (unsigned char)(u >> 24);
		}
	}

	if ((rc = siam_db_exec(db, "SAVEPOINT siam_put_image", err)) < 0)
		goto out;
	in_sp = 1;
	if ((rc = db_prepare(db, db_put_image_sql, &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, img->path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, img->is_url != 0);
	if (img->content_hash)
		sqlite3_bind_text(st, 3, img->content_hash, -1, SQLITE_STATIC);
	db_bind_i64_or_null(st, 4, img->size);
	db_bind_i64_or_null(st, 5, img->mtime_ns);
	if (img->width > 0)
		sqlite3_bind_int(st, 6, img->width);
	if (img->height > 0)
		sqlite3_bind_int(st, 7, img->height);
	sqlite3_bind_int64(st, 8, img->model_id);
	if (emb)
		sqlite3_bind_blob(st, 9, emb, dim * 4, SQLITE_STATIC);
	if (img->has_phash)
		sqlite3_bind_int64(st, 10, (int64_t)img->phash);
	if (img->label)
		sqlite3_bind_text(st, 11, img->label, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(db, err);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = db_prepare(db, "DELETE FROM errors WHERE path = ?1", &st,
	                     err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, img->path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(db, err);
		goto out;
	}
	if (id) {
		sqlite3_finalize(st);
		st = NULL;
		if ((rc = db_prepare(db, "SELECT id FROM images WHERE path = ?1"
		                     " AND model_id = ?2", &st, err)) < 0)
			goto out;
		sqlite3_bind_text(st, 1, img->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, img->model_id);
		if (sqlite3_step(st) != SQLITE_ROW) {
			rc = db_fail(db, err);
			goto out;
		}
		*id = sqlite3_column_int64(st, 0);
	}
out:
	sqlite3_finalize(st);
	if (in_sp)
		savepoint_end(db, "siam_put_image", rc);
	free(emb);
	if (rc < 0 && id)
		*id = 0;
	return rc;
}

int siam_db_find_image(sqlite3 *db, const char *path, int64_t model_id,
                       siam_db_image_info *info, int *found,
                       siam_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	memset(info, 0, sizeof *info);
	if ((rc = db_prepare(db, "SELECT id, size, mtime_ns, content_hash,"
	                     " embedding IS NOT NULL FROM images"
	                     " WHERE path = ?1 AND model_id = ?2", &st,
	                     err)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, model_id);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*found = 1;
		info->id = sqlite3_column_int64(st, 0);
		info->size = sqlite3_column_type(st, 1) == SQLITE_NULL ?
		             SIAM_DB_UNKNOWN : sqlite3_column_int64(st, 1);
		info->mtime_ns = sqlite3_column_type(st, 2) == SQLITE_NULL ?
		                 SIAM_DB_UNKNOWN : sqlite3_column_int64(st, 2);
		const char *h = (const char *)sqlite3_column_text(st, 3);
		if (h)
			snprintf(info->content_hash, sizeof info->content_hash,
			         "%s", h);
		info->has_embedding = sqlite3_column_int(st, 4);
	} else if (r != SQLITE_DONE) {
		rc = db_fail(db, err);
	}
	sqlite3_finalize(st);
	return rc;
}

int siam_db_delete_image(sqlite3 *db, int64_t id, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, "DELETE FROM images WHERE id = ?1", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

int siam_db_put_error(sqlite3 *db, const char *path, int code,
                      const char *message, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db,
		"INSERT INTO errors(path, code, message) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (path) DO UPDATE SET code = excluded.code,"
		" message = excluded.message,"
		" time = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if (code)
		sqlite3_bind_int(st, 2, code);
	sqlite3_bind_text(st, 3, message ? message : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}
