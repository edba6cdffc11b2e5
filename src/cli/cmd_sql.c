/*
 * cmd_sql.c -- siam sql "SELECT ...": SQL on the database with siam's
 * functions (siam_distance, siam_embed, siam_match, siam_vector,
 * siam_json) and the siam_knn table registered, as siam-sql(7) tells.
 *
 * Output, one line per row:
 *   default  tab-separated, a header line of column names first; NULL
 *            is empty; tab, newline, CR and backslash in values are
 *            written \t \n \r \\ so that a row stays one line; a BLOB is
 *            X'hex', as SQL would write it.
 *   --csv    RFC 4180: quoted when needed, header first.
 *   --json   one JSON array of row objects per statement that returns
 *            rows; BLOBs as "X'hex'" strings, NaN and infinities as null.
 * Errors are SQLite's own message; exit status 2.
 */
#include "config.h"
#include "cli_db.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_sql_entry = {
	"sql", "run SQL on the database, with siam's functions",
	"usage: siam sql [OPTIONS] [SQL]\n"
	"\n"
	"Runs the SQL statements (from the argument, else from standard\n"
	"input) on the database, with siam's SQL functions and the siam_knn\n"
	"table available (see siam-sql(7)), and prints the rows.\n"
	"\n"
	"  -d, --db FILE    the database (default siam.db; must exist)\n"
	"      --csv        CSV output (RFC 4180)\n"
	"  -j, --json       JSON output: an array of objects per statement\n"
	"  -H, --no-header  no header line (text and CSV)\n"
	"  -h, --help       this help\n"
	"\n"
	"Text output is tab-separated with a header line; NULL is empty;\n"
	"tabs, newlines and backslashes inside values are written \\t, \\n,\n"
	"\\\\; BLOBs as X'hex'.\n"
	"\n"
	"Exit status: 0 done, 2 error (SQLite's message on stderr).\n", run,
	CLI_DB
};

enum { OUT_TEXT, OUT_CSV, OUT_JSON };

static void put_hex(const unsigned char *p, int n)
{
	static const char hex[] = "0123456789ABCDEF";
	fputs("X'", stdout);
	for (int i = 0; i < n; i++) {
		putchar(hex[p[i] >> 4]);
		putchar(hex[p[i] & 15]);
	}
	putchar('\'');
}

static void put_text(const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\t': fputs("\\t", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		default: putchar(*s);
		}
	}
}

static void put_csv(const char *s)
{
	if (!strpbrk(s, ",\"\r\n") && *s != ' ' &&
	    (!*s || s[strlen(s) - 1] != ' ')) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void put_value(sqlite3_stmt *st, int i, int mode)
{
	int type = sqlite3_column_type(st, i);
	if (type == SQLITE_NULL) {
		if (mode == OUT_JSON)
			fputs("null", stdout);
		return;
	}
	if (type == SQLITE_BLOB) {
		const unsigned char *p = sqlite3_column_blob(st, i);
		int n = sqlite3_column_bytes(st, i);
		if (mode == OUT_JSON)
			putchar('"');
		put_hex(p, n);
		if (mode == OUT_JSON)
			putchar('"');
		return;
	}
	if (type == SQLITE_FLOAT && mode == OUT_JSON &&
	    !isfinite(sqlite3_column_double(st, i))) {
		fputs("null", stdout);
		return;
	}
	const char *s = (const char *)sqlite3_column_text(st, i);
	if (!s)
		s = "";
	if (mode == OUT_JSON) {
		if (type == SQLITE_TEXT)
			cli_json_string(stdout, s);
		else
			fputs(s, stdout);
	} else if (mode == OUT_CSV) {
		put_csv(s);
	} else {
		put_text(s);
	}
}

/* Runs one prepared statement, printing its rows; 0 or -1. */
static int run_stmt(sqlite3 *db, sqlite3_stmt *st, int mode, int header)
{
	int ncol = sqlite3_column_count(st), r, nrows = 0;
	if (ncol > 0 && header && mode != OUT_JSON) {
		for (int i = 0; i < ncol; i++) {
			if (i)
				putchar(mode == OUT_CSV ? ',' : '\t');
			const char *name = sqlite3_column_name(st, i);
			if (mode == OUT_CSV)
				put_csv(name ? name : "");
			else
				put_text(name ? name : "");
		}
		putchar('\n');
	}
	if (ncol > 0 && mode == OUT_JSON)
		putchar('[');
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (mode == OUT_JSON) {
			fputs(nrows ? ",\n{" : "{", stdout);
			for (int i = 0; i < ncol; i++) {
				if (i)
					putchar(',');
				const char *name = sqlite3_column_name(st, i);
				cli_json_string(stdout, name ? name : "");
				putchar(':');
				put_value(st, i, mode);
			}
			putchar('}');
		} else {
			for (int i = 0; i < ncol; i++) {
				if (i)
					putchar(mode == OUT_CSV ? ',' : '\t');
				put_value(st, i, mode);
			}
			putchar('\n');
		}
		nrows++;
	}
	if (ncol > 0 && mode == OUT_JSON)
		puts("]");
	if (r != SQLITE_DONE) {
		fflush(stdout);
		cli_error("sql", "%s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static char *read_stdin(void)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, stdin);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(stdin)) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "csv", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-header", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *me = &cmd_sql_entry;
	const char *dbpath = CLI_DEFAULT_DB;
	int mode = OUT_TEXT, header = 1, c;
	while ((c = getopt_long(argc, argv, "d:jHh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dbpath = optarg; break;
		case 'C': mode = OUT_CSV; break;
		case 'j': mode = OUT_JSON; break;
		case 'H': header = 0; break;
		case 'h': return cli_help(me);
		default:
			return cli_usage_error(me, "unknown or incomplete option "
			                       "'%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(me, "want one SQL argument (quote it), "
		                       "got %d", argc - optind);
	char *owned = NULL;
	const char *sql;
	if (argc - optind == 1 && strcmp(argv[optind], "-")) {
		sql = argv[optind];
	} else {
		if (!(owned = read_stdin())) {
			cli_error("sql", "cannot read standard input: %s",
			          strerror(errno));
			return SIAM_EXIT_ERROR;
		}
		sql = owned;
	}

	int status = SIAM_EXIT_ERROR;
	ctx->db_path = dbpath;
	if (cli_setup(ctx))
		goto done;
	sqlite3 *db = ctx->db;
	const char *tail = sql;
	while (tail && *tail) {
		sqlite3_stmt *st = NULL;
		const char *next = NULL;
		if (sqlite3_prepare_v2(db, tail, -1, &st, &next) != SQLITE_OK) {
			cli_error("sql", "%s", sqlite3_errmsg(db));
			goto done;
		}
		tail = next;
		if (!st) /* white space or a comment */
			continue;
		int rc = run_stmt(db, st, mode, header);
		sqlite3_finalize(st);
		if (rc)
			goto done;
	}
	status = SIAM_EXIT_OK;
done:
	free(owned);
	return status;
}
