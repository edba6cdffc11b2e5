/*
 * errors.c -- the errors table: the files and URLs that could not be
 * indexed, one row per path, and the listing 'siam index' shows.
 */
#include "db/stmt.h"

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

static int error_row(void *arg, sqlite3_stmt *st)
{
	db_cb *c = arg;
	const char *m = (const char *)sqlite3_column_text(st, 0);
	return c->fn.error(c->arg, m ? m : "");
}

int siam_db_list_errors(sqlite3 *db, const char *since, int limit,
                        int (*cb)(void *arg, const char *message), void *arg,
                        siam_error *err)
{
	db_cb c = { .fn.error = cb, .arg = arg };
	sqlite3_stmt *st;
	int rc = db_prepare(db, "SELECT message FROM errors WHERE time >= ?1"
	                    " ORDER BY id LIMIT ?2", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, since ? since : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit);
	return db_rows(db, st, error_row, &c, err);
}
