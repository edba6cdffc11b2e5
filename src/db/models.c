/*
 * models.c -- the models table: store, find and load models, and the
 * one rule for the database's current model (db_model_current), which
 * siam_db_current_model, the SQL functions and siam_knn all use.
 */
#include "db/stmt.h"
#include "siam_nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* meta.current_model if it names a model, else the newest model. */
static const char model_current_sql[] =
	"SELECT m.id, m.threshold, m.embed_dim,"
	" (SELECT value FROM meta WHERE key = 'models_gen')"
	" FROM models AS m WHERE m.id = coalesce("
	"  (SELECT value FROM meta WHERE key = 'current_model'"
	"   AND value IN (SELECT id FROM models)),"
	"  (SELECT max(id) FROM models))";

/* Prepares sql; a failure here means the tables are missing (a plain
 * SQLite file with the module loaded), so the message says so. */
static int model_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                         siam_error *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return siam_errorf(err, SIAM_EDB, "no siam schema in this "
		                   "database: %s", sqlite3_errmsg(db));
	}
	return 0;
}

int db_model_current(sqlite3 *db, db_model_info *info, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = model_prepare(db, model_current_sql, &st, err);
	memset(info, 0, sizeof *info);
	if (rc < 0)
		return rc;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		info->id = sqlite3_column_int64(st, 0);
		info->threshold = sqlite3_column_double(st, 1);
		info->embed_dim = sqlite3_column_int(st, 2);
		info->has_gen = sqlite3_column_type(st, 3) != SQLITE_NULL;
		info->models_gen = sqlite3_column_int64(st, 3);
	} else if (r != SQLITE_DONE) {
		rc = db_fail(db, err);
	}
	sqlite3_finalize(st);
	return rc;
}

int db_model_dim(sqlite3 *db, int64_t id, int *dim, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = model_prepare(db, "SELECT embed_dim FROM models WHERE id = ?1",
	                       &st, err);
	*dim = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*dim = sqlite3_column_int(st, 0);
	else
		rc = r == SQLITE_DONE ? 1 : db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

int siam_db_current_model(sqlite3 *db, int64_t *id, siam_error *err)
{
	db_model_info info;
	int rc = db_model_current(db, &info, err);
	*id = info.id;
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
	if ((rc = db_step_done(db, st, err)) < 0)
		return rc;
	if (sqlite3_changes(db) == 0)
		return siam_errorf(err, SIAM_EINVAL, "%s: no model with id %lld",
		                   db_name(db), (long long)id);
	return 0;
}

/* The id of the stored model with this blob (hex: its SHA-256), 0 if
 * none; the lowest id if it was stored twice by hand. */
static int model_find_blob(sqlite3 *db, const char *hex, const void *blob,
                           size_t len, int64_t *id, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, "SELECT id FROM models WHERE sha256 = ?1"
	                    " AND blob = ?2 ORDER BY id LIMIT 1", &st, err);
	*id = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 2, blob, len, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (r != SQLITE_DONE)
		rc = db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

int siam_db_find_model(sqlite3 *db, const siam_model *m, int64_t *id,
                       siam_error *err)
{
	void *blob = NULL;
	size_t len = 0;
	char hex[65];
	int rc;

	*id = 0;
	if ((rc = siam_model_save_mem(m, &blob, &len, err)) < 0)
		return rc;
	siam_sha256_hex(hex, blob, len);
	rc = model_find_blob(db, hex, blob, len, id, err);
	free(blob);
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
	if ((rc = model_find_blob(db, hex, blob, len, id, err)) < 0 || *id)
		goto out;
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
		rc = db_savepoint_end(db, "siam_put_model", rc, err);
	free(blob);
	if (rc < 0)
		*id = 0;
	return rc;
}

int db_model_load(sqlite3 *db, int64_t id, const char *name,
                  siam_model **out, siam_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if ((rc = db_prepare(db, "SELECT blob FROM models WHERE id = ?1",
	                     &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		rc = siam_model_load_mem(out, sqlite3_column_blob(st, 0),
		                         (size_t)sqlite3_column_bytes(st, 0),
		                         name, err);
	else if (r == SQLITE_DONE)
		rc = siam_errorf(err, SIAM_EINVAL, "%s: no model with id %lld",
		                 db_name(db), (long long)id);
	else
		rc = db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

int siam_db_load_model(sqlite3 *db, int64_t id, siam_model **out,
                       int64_t *loaded_id, siam_error *err)
{
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
	snprintf(name, sizeof name, "%s: model %lld", db_name(db),
	         (long long)id);
	if ((rc = db_model_load(db, id, name, out, err)) == 0 && loaded_id)
		*loaded_id = id;
	return rc;
}

static int model_row(void *arg, sqlite3_stmt *st)
{
	db_cb *c = arg;
	const char *name = (const char *)sqlite3_column_text(st, 1);
	siam_db_model_row row = {
		sqlite3_column_int64(st, 0), name ? name : "",
		sqlite3_column_int64(st, 2), sqlite3_column_int(st, 3),
		sqlite3_column_double(st, 4)
	};
	return c->fn.model(c->arg, &row);
}

/* Every model with its number of images, by id. */
int siam_db_list_models(sqlite3 *db,
                        int (*cb)(void *arg, const siam_db_model_row *r),
                        void *arg, siam_error *err)
{
	db_cb c = { .fn.model = cb, .arg = arg };
	sqlite3_stmt *st;
	int rc = db_prepare(db,
		"SELECT m.id, m.name, count(i.id), m.embed_dim, m.threshold"
		" FROM models m LEFT JOIN images i ON i.model_id = m.id"
		" GROUP BY m.id ORDER BY m.id", &st, err);
	if (rc < 0)
		return rc;
	return db_rows(db, st, model_row, &c, err);
}
