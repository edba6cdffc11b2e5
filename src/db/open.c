/*
 * open.c -- opening a siam database: create, check, migrate.  The
 * schema is sql/schema.sql (compiled in as siam_db_schema_sql), its
 * history siam_db_migrations (schema.c).
 *
 * Versioning.  PRAGMA user_version is the schema version, PRAGMA
 * application_id says "this is siam's".  siam_db_open reads both without
 * writing anything, so that a file we must refuse (newer, or not ours) is
 * left untouched; then, only if the version is not current, it takes the
 * write lock (BEGIN IMMEDIATE), reads them again (another process may
 * have upgraded it meanwhile) and either applies the whole schema to an
 * empty database or runs siam_db_migrations[v] for v = version ..
 * SIAM_DB_VERSION-1, all in that one transaction: a crash leaves the old
 * version intact.  With SIAM_DB_BEGIN the transaction is taken in any
 * case and left open for the caller, who adds its first rows (siam
 * index: the model) and commits: a reader sees no schema, or the schema
 * with those rows, never the schema alone.
 *
 * A path that is not a regular file (a directory, a FIFO, a device) is
 * refused by name before SQLite opens it: SQLite would call a directory
 * "unable to open database file" or "disk I/O error", and a read-only
 * open of a FIFO nobody writes to blocks forever.
 */
#include "db/stmt.h"
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

/* Creates or migrates, inside the caller's write transaction. */
static int db_apply(sqlite3 *db, siam_error *err)
{
	int version, appid, nobj, rc;
	if ((rc = db_version(db, &version, &appid, &nobj, err)) < 0 ||
	    (rc = db_check(db, version, appid, nobj, 0, err)) < 0)
		return rc;
	if (version == SIAM_DB_VERSION)
		return 0; /* another process got there first */
	if (version == 0) {
		if ((rc = siam_db_exec(db, siam_db_schema_sql, err)) < 0)
			return rc;
	} else {
		for (; version < SIAM_DB_VERSION; version++) {
			char pragma[64];
			if ((rc = siam_db_exec(db, siam_db_migrations[version],
			                       err)) < 0)
				return rc;
			snprintf(pragma, sizeof pragma,
			         "PRAGMA user_version = %d", version + 1);
			if ((rc = siam_db_exec(db, pragma, err)) < 0)
				return rc;
		}
	}
	if ((rc = db_version(db, &version, &appid, &nobj, err)) < 0)
		return rc;
	if (version != SIAM_DB_VERSION) /* sql/schema.sql disagrees */
		return siam_errorf(err, SIAM_EDB, "%s: the schema set version "
		                   "%d, expected %d", db_name(db), version,
		                   SIAM_DB_VERSION);
	return 0;
}

/* Refuses a path that exists and is not a regular file, naming what it
 * is.  ":memory:", "" (a temporary database) and URIs go to SQLite. */
static int db_check_path(const char *path, siam_error *err)
{
	struct stat st;
	if (!*path || !strcmp(path, ":memory:") || !strncmp(path, "file:", 5))
		return 0;
	if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
		return 0; /* missing: created, or SQLite says why not */
	if (S_ISDIR(st.st_mode))
		return siam_errorf(err, SIAM_EIO, "%s: is a directory, not a "
		                   "database file", path);
	return siam_errorf(err, SIAM_EIO, "%s: not a regular file (%s)", path,
	                   siam_file_kind(st.st_mode));
}

int siam_db_open(sqlite3 **out, const char *path, int flags, siam_error *err)
{
	sqlite3 *db = NULL;
	int ro = (flags & SIAM_DB_READONLY) != 0;
	int begin = (flags & SIAM_DB_BEGIN) != 0, in_txn = 0;
	int oflags = ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	int version, appid, nobj, rc;

	*out = NULL;
	if (!path)
		return siam_errorf(err, SIAM_EINVAL, "no database file given");
	if (ro && begin)
		return siam_errorf(err, SIAM_EINVAL, "%s: a write transaction "
		                   "on a read-only database", path);
	if ((rc = db_check_path(path, err)) < 0)
		return rc;
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
	/* The version is read again inside the transaction: another
	 * process may have created or upgraded the file meanwhile. */
	if (begin || version != SIAM_DB_VERSION) {
		if ((rc = db_begin(db, err)) < 0)
			goto fail;
		in_txn = 1;
		if ((rc = db_apply(db, err)) < 0)
			goto fail;
		if (!begin) {
			in_txn = 0;
			if ((rc = db_commit(db, err)) < 0)
				goto fail;
		}
	}
	if ((rc = siam_sql_register(db, err)) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	if (in_txn || !sqlite3_get_autocommit(db))
		db_rollback(db);
	sqlite3_close_v2(db);
	return rc;
}
