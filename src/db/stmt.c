/*
 * stmt.c -- what every file of src/db/ shares: error messages that name
 * the database, prepare, exec, transactions and savepoints.
 *
 * Statements are prepared per call: indexing spends milliseconds per
 * image on decoding and the network, microseconds here, and a stateless
 * API lets callers mix our calls with their own SQL freely.
 */
#include "db/stmt.h"

#include <errno.h>
#include <stdio.h>

const char *db_name(sqlite3 *db)
{
	const char *f = sqlite3_db_filename(db, "main");
	return f && *f ? f : ":memory:";
}

/* A full disk shows up as SQLITE_FULL when SQLite itself saw ENOSPC on
 * a write, but as a generic SQLITE_IOERR when the write that failed was
 * the -shm file's or the extension of the file (a tmpfs or a quota):
 * the errno of the failed system call tells both apart. */
static int db_disk_full(sqlite3 *db, int rc)
{
	if (rc == SQLITE_FULL)
		return 1;
	if (rc != SQLITE_IOERR && rc != SQLITE_CANTOPEN)
		return 0;
	int e = sqlite3_system_errno(db);
	return e == ENOSPC || e == EDQUOT;
}

int db_fail(sqlite3 *db, siam_error *err)
{
	int rc = sqlite3_errcode(db) & 0xff;
	if (db_disk_full(db, rc))
		return siam_errorf(err, SIAM_EIO, "%s: disk full (no space "
		                   "left on device)", db_name(db));
	int code = rc == SQLITE_NOMEM ? SIAM_ENOMEM :
	           rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT ? SIAM_EFORMAT :
	           SIAM_EDB;
	return siam_errorf(err, code, "%s: %s", db_name(db), sqlite3_errmsg(db));
}

int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st,
               siam_error *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return db_fail(db, err);
	}
	return 0;
}

int db_step_done(sqlite3 *db, sqlite3_stmt *st, siam_error *err)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

int db_rows(sqlite3 *db, sqlite3_stmt *st,
            int (*row)(void *arg, sqlite3_stmt *st), void *arg,
            siam_error *err)
{
	int rc = 0, r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = row(arg, st)) != 0)
			break;
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

void db_bind_i64_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v == SIAM_DB_UNKNOWN)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

int64_t db_column_i64_or_unknown(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ?
	       SIAM_DB_UNKNOWN : sqlite3_column_int64(st, i);
}

int siam_db_exec(sqlite3 *db, const char *sql, siam_error *err)
{
	/* sqlite3_errmsg tells what sqlite3_exec's message would. */
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err);
	return 0;
}

int db_begin(sqlite3 *db, siam_error *err)
{
	return siam_db_exec(db, "BEGIN IMMEDIATE", err);
}

int db_commit(sqlite3 *db, siam_error *err)
{
	return siam_db_exec(db, "COMMIT", err);
}

void db_rollback(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_savepoint_end(sqlite3 *db, const char *name, int rc,
                     siam_error *err)
{
	char back[64], release[64];
	snprintf(back, sizeof back, "ROLLBACK TO %s", name);
	snprintf(release, sizeof release, "RELEASE %s", name);
	if (rc >= 0) {
		/* Outside a transaction, RELEASE is the COMMIT: on a full
		 * disk it fails, and the rows were never saved. */
		if (sqlite3_exec(db, release, NULL, NULL, NULL) == SQLITE_OK)
			return rc;
		rc = db_fail(db, err);
	}
	sqlite3_exec(db, back, NULL, NULL, NULL);
	sqlite3_exec(db, release, NULL, NULL, NULL);
	return rc;
}
