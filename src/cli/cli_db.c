/*
 * cli_db.c -- opening the database and choosing the model, for the
 * commands that work on a database, and cli_setup(), which opens what a
 * command's table entry asks for.
 */
#include "config.h"
#include "cli_db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void remove_db_files(const char *path)
{
	char p[4300]; /* path is shorter than 4200 (create_db) */
	unlink(path);
	if (snprintf(p, sizeof p, "%s-wal", path) < (int)sizeof p)
		unlink(p);
	if (snprintf(p, sizeof p, "%s-shm", path) < (int)sizeof p)
		unlink(p);
}

/* A new database for a command that stores its model is made under a
 * temporary name, its schema and model committed and its WAL folded
 * in, then linked into place.  A reader in another process finds no
 * file, or a whole database with its model: never the moments of its
 * creation, when SQLite holds the locks of turning a new file into a
 * WAL database (a reader without a busy timeout, like the sqlite3
 * shell, would get "database is locked").  If another process creates
 * the file first, its database is used and ours is dropped. */
static int create_db(cli_ctx *ctx, int store)
{
	const char *name = ctx->cmd->name, *path = ctx->db_used;
	char tmp[4200];
	struct stat sb;
	siam_model *m = NULL;
	int64_t id;
	int rc = -1;
	if (stat(path, &sb) == 0 || errno != ENOENT ||
	    strlen(path) + 32 > sizeof tmp)
		return 0; /* there already, or siam_db_open will say why */
	snprintf(tmp, sizeof tmp, "%s.new-%ld", path, (long)getpid());
	remove_db_files(tmp);
	sqlite3 *db = cli_db_open(name, tmp, SIAM_DB_CREATE | SIAM_DB_BEGIN);
	if (!db)
		goto out;
	siam_error err = { 0, "" };
	if (cli_db_model(name, db, ctx->model_arg, ctx->images, ctx->nimages,
	                 store, &m, &id, NULL, 0))
		goto out;
	if (siam_db_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)",
	                 &err)) {
		cli_error(name, "%s", err.msg);
		goto out;
	}
	siam_db_close(db);
	db = NULL;
	if (link(tmp, path) != 0 && errno != EEXIST &&
	    rename(tmp, path) != 0) { /* no hard links here (vfat) */
		cli_error(name, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	siam_db_close(db);
	siam_model_free(m);
	remove_db_files(tmp);
	return rc;
}

int cli_setup(cli_ctx *ctx)
{
	int flags = ctx->cmd->flags;
	const char *name = ctx->cmd->name;
	int store = ctx->store_model >= 0 ? ctx->store_model
	                                  : !!(flags & CLI_MODEL_STORE);
	/* A command that stores its model (siam index) creates the schema
	 * and stores the model in one short transaction: a reader of a new
	 * database sees neither or both, never a schema without a model
	 * ("the database has no model"). */
	int txn = store && (flags & CLI_MODEL) && (flags & CLI_DB_CREATE);
	ctx->db_used = ctx->db_path ? ctx->db_path : CLI_DEFAULT_DB;
	if (txn && (flags & CLI_DB) && create_db(ctx, store))
		return -1;
	if (flags & CLI_DB) {
		struct stat sb;
		int open = !(flags & CLI_DB_OPTIONAL) || ctx->db_path ||
		           stat(ctx->db_used, &sb) == 0;
		int mode = (flags & CLI_DB_CREATE ? SIAM_DB_CREATE : 0) |
		           (flags & CLI_DB_READONLY ? SIAM_DB_READONLY : 0) |
		           (txn ? SIAM_DB_BEGIN : 0);
		if (open && !(ctx->db = cli_db_open(name, ctx->db_used, mode)))
			return -1;
	}
	if (!(flags & CLI_MODEL))
		return 0;
	if (!ctx->db)
		return cli_load_model(name, ctx->model_arg, ctx->images,
		                      ctx->nimages, &ctx->model,
		                      ctx->model_name, sizeof ctx->model_name);
	if (cli_db_model(name, ctx->db, ctx->model_arg, ctx->images,
	                 ctx->nimages, store, &ctx->model, &ctx->model_id,
	                 ctx->model_name, sizeof ctx->model_name))
		return -1; /* closing the database rolls back */
	siam_error err = { 0, "" };
	if (txn && siam_db_exec(ctx->db, "COMMIT", &err)) {
		cli_error(name, "%s", err.msg);
		return -1;
	}
	return 0;
}

void cli_teardown(cli_ctx *ctx)
{
	siam_model_free(ctx->model);
	ctx->model = NULL;
	siam_db_close(ctx->db);
	ctx->db = NULL;
}

int cli_db_model(const char *cmd, sqlite3 *db, const char *given,
                 const char *const *images, int nimages, int store,
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
	if (cli_load_model(cmd, given, images, nimages, m, path,
	                   sizeof path))
		return -1;
	if (name)
		snprintf(name, len, "%s", path);
	if (!store) {
		if (!siam_db_find_model(db, *m, id, &err))
			return 0;
		cli_error(cmd, "%s", err.msg);
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

void cli_knn_refresh(sqlite3 *db, int64_t model_id)
{
	/* The query is one of the images' own embeddings: any vector of
	 * the right length would do, and there is none without images. */
	static const char sql[] =
		"SELECT count(*) FROM siam_knn WHERE query = (SELECT embedding"
		" FROM images WHERE model_id = ?1 AND embedding IS NOT NULL"
		" LIMIT 1) AND k = 1 AND model_id = ?1";
	sqlite3_stmt *st = NULL;
	if (model_id <= 0 ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, model_id);
	sqlite3_step(st);
	sqlite3_finalize(st);
}
