/*
 * sql_host.c -- a minimal SQLite host for tests/sql_host.sh: built by
 * that script against another SQLite amalgamation than the system's
 * (better-sqlite3's), it loads a module into its own, statically linked
 * SQLite and prints what SQL returns, the way 'sqlite3 -batch' does:
 * one line per row, columns joined by '|', NULL as nothing, errors as
 * "Error: MESSAGE" (and exit status 1).
 *
 *   sql_host DATABASE MODULE SQL...
 *
 * Each SQL argument may hold several statements.  Not part of siam: it
 * includes the amalgamation's <sqlite3.h>, never the system's.
 */
#include "sqlite3.h"

#include <stdio.h>

static int run(sqlite3 *db, const char *sql)
{
	const char *tail = sql;
	while (tail && *tail) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
			printf("Error: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		if (!st)
			continue; /* whitespace or a comment */
		int r, n = sqlite3_column_count(st);
		while ((r = sqlite3_step(st)) == SQLITE_ROW)
			for (int i = 0; i < n; i++) {
				const unsigned char *t = sqlite3_column_text(st, i);
				printf("%s%s", t ? (const char *)t : "",
				       i + 1 < n ? "|" : "\n");
			}
		sqlite3_finalize(st);
		if (r != SQLITE_DONE) {
			printf("Error: %s\n", sqlite3_errmsg(db));
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int status = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: sql_host DATABASE MODULE SQL...\n");
		return 2;
	}
	if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
		printf("Error: %s: %s\n", argv[1], sqlite3_errmsg(db));
		goto out;
	}
	/* the C API only, as a host program does; SQL's load_extension()
	 * stays off */
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
	if (sqlite3_load_extension(db, argv[2], NULL, &msg) != SQLITE_OK) {
		printf("Error: %s\n", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		goto out;
	}
	status = 0;
	for (int i = 3; i < argc && !status; i++)
		status = run(db, argv[i]);
out:
	sqlite3_close(db);
	return status;
}
