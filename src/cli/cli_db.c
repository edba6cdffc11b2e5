/*
 * cli_db.c -- opening the database and choosing the model, for the
 * commands that work on a database (index, query, sql, info).
 */
#include "config.h"
#include "cli_db.h"

#include <stdlib.h>
#include <string.h>

sqlite3 *cli_db_open(const char *cmd, const char *path, int flags)
{
	sqlite3 *db = NULL;
	siam_error err = { 0, "" };
	if (siam_db_open(&db, path, flags, &err)) {
		cli_error(cmd, "%s", err.msg);
		return NULL;
	}
	return db;
}

/* The id of the stored model identical to m, 0 if none. */
static int find_model(const char *cmd, sqlite3 *db, const siam_model *m,
                      int64_t *id)
{
	void *blob = NULL;
	size_t len = 0;
	siam_error err = { 0, "" };
	char hex[65];
	*id = 0;
	if (siam_model_save_mem(m, &blob, &len, &err)) {
		cli_error(cmd, "%s", err.msg);
		return -1;
	}
	siam_sha256_hex(hex, blob, len);
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, blob FROM models WHERE sha256 = ?1"
	                       " ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		cli_error(cmd, "%s", sqlite3_errmsg(db));
		free(blob);
		return -1;
	}
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(st, 1) == len &&
		    !memcmp(sqlite3_column_blob(st, 1), blob, len)) {
			*id = sqlite3_column_int64(st, 0);
			break;
		}
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		cli_error(cmd, "%s", sqlite3_errmsg(db));
		rc = -1;
	}
	sqlite3_finalize(st);
	free(blob);
	return rc;
}

int cli_db_model(const char *cmd, sqlite3 *db, const char *given, int store,
                 siam_model **m, int64_t *id, char *name, size_t len)
{
	siam_error err = { 0, "" };
	char path[4096];
	*m = NULL;
	*id = 0;
	if (!given || !*given) {
		int64_t cur = 0;
		if (siam_db_current_model(db, &cur, &err)) {
			cli_error(cmd, "%s", err.msg);
			return -1;
		}
		if (cur) {
			if (siam_db_load_model(db, cur, m, id, &err)) {
				cli_error(cmd, "%s", err.msg);
				return -1;
			}
			if (name)
				snprintf(name, len, "model %lld stored in the "
				         "database", (long long)*id);
			return 0;
		}
	}
	if (cli_load_model(cmd, given, m, path, sizeof path))
		return -1;
	if (name)
		snprintf(name, len, "%s", path);
	if (!store) {
		if (!find_model(cmd, db, *m, id))
			return 0;
		siam_model_free(*m);
		*m = NULL;
		return -1;
	}
	if (siam_db_put_model(db, *m, path, id, &err) ||
	    siam_db_set_current_model(db, *id, &err)) {
		cli_error(cmd, "%s", err.msg);
		siam_model_free(*m);
		*m = NULL;
		return -1;
	}
	return 0;
}

void cli_text_path(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int plain = 1;
	for (; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			plain = 0;
	if (plain) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\%03o", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}
