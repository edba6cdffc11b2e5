/*
 * stmt.h -- private to the files of src/db/: the helpers every db file uses to
 * prepare, step and report (stmt.c).  Include after sqlite_api.h.
 */
#ifndef SIAM_DB_STMT_H
#define SIAM_DB_STMT_H

#include "db/sqlite_api.h"
#include "db/db.h"

/* The name to put in messages: the file name, or ":memory:". */
SIAM_HIDDEN const char *db_name(sqlite3 *db);
/* Fills err from the connection's last error, "NAME: message", and
 * returns the SIAM_E* code (SIAM_EFORMAT for a file that is not a
 * database, SIAM_ENOMEM, SIAM_EIO with "NAME: disk full (no space left
 * on device)..." when a write found no room, else SIAM_EDB). */
SIAM_HIDDEN int db_fail(sqlite3 *db, siam_error *err);
/* sqlite3_prepare_v2; *st is NULL on failure (reported by db_fail). */
SIAM_HIDDEN int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                           siam_error *err);
/* Steps a statement that returns no rows and finalizes it. */
SIAM_HIDDEN int db_step_done(sqlite3 *db, sqlite3_stmt *st, siam_error *err);
/* The caller's callback of a listing and its argument, as the row
 * functions given to db_rows receive them. */
typedef struct db_cb {
	union {
		int (*error)(void *arg, const char *message);
		int (*model)(void *arg, const siam_db_model_row *r);
		int (*image)(void *arg, const db_image_row *r);
		int (*embedding)(void *arg, int64_t id, const void *blob,
		                 int len);
		int (*path)(void *arg, const char *path);
		int (*listing)(void *arg, const siam_db_image_row *r);
	} fn;
	void *arg;
} db_cb;

/* Steps st to its end, calling row(arg, st) for each row, and
 * finalizes it.  row returns 0 to go on, anything else to stop: that
 * value is returned (with err filled by row, if it is an error). */
SIAM_HIDDEN int db_rows(sqlite3 *db, sqlite3_stmt *st,
                        int (*row)(void *arg, sqlite3_stmt *st), void *arg,
                        siam_error *err);
/* Binds v, or NULL if v is SIAM_DB_UNKNOWN. */
SIAM_HIDDEN void db_bind_i64_or_null(sqlite3_stmt *st, int i, int64_t v);
/* Column i as an int64, SIAM_DB_UNKNOWN if NULL. */
SIAM_HIDDEN int64_t db_column_i64_or_unknown(sqlite3_stmt *st, int i);
/* Ends savepoint name and returns rc: rolled back first if rc reports a
 * failure, so a failed call leaves the database as it was.  When RELEASE
 * itself fails (it commits when the savepoint is the outermost
 * transaction: a full disk), the savepoint is rolled back and the error
 * is returned with err filled. */
SIAM_HIDDEN int db_savepoint_end(sqlite3 *db, const char *name, int rc,
                                 siam_error *err);

#endif
