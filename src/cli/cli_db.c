/*
 * cli_db.c -- opening the database and choosing the model, for the
 * commands that work on a database, and cli_setup(), which opens what a
 * command's table entry asks for.
 */
#include "config.h"
#include "cli_db.h"

#include <stdio.h>
#include <sys/stat.h>

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

int cli_setup(cli_ctx *ctx)
{
	int flags = ctx->cmd->flags;
	const char *name = ctx->cmd->name;
	ctx->db_used = ctx->db_path ? ctx->db_path : CLI_DEFAULT_DB;
	if (flags & CLI_DB) {
		struct stat sb;
		int open = !(flags & CLI_DB_OPTIONAL) || ctx->db_path ||
		           stat(ctx->db_used, &sb) == 0;
		int mode = (flags & CLI_DB_CREATE ? SIAM_DB_CREATE : 0) |
		           (flags & CLI_DB_READONLY ? SIAM_DB_READONLY : 0);
		if (open && !(ctx->db = cli_db_open(name, ctx->db_used, mode)))
			return -1;
	}
	if (!(flags & CLI_MODEL))
		return 0;
	if (!ctx->db)
		return cli_load_model(name, ctx->model_arg, &ctx->model,
		                      ctx->model_name, sizeof ctx->model_name);
	int store = ctx->store_model >= 0 ? ctx->store_model
	                                  : !!(flags & CLI_MODEL_STORE);
	return cli_db_model(name, ctx->db, ctx->model_arg, store, &ctx->model,
	                    &ctx->model_id, ctx->model_name,
	                    sizeof ctx->model_name);
}

void cli_teardown(cli_ctx *ctx)
{
	siam_model_free(ctx->model);
	ctx->model = NULL;
	siam_db_close(ctx->db);
	ctx->db = NULL;
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
