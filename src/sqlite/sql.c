/*
 * sql.c -- siam's SQL functions and the siam_knn virtual table.
 *
 * The user manual is the header of siam_ext.c and siam-sql(7); this
 * comment explains how the one body of code serves two hosts.
 *
 * Compiled twice (db/sqlite_api.h says how):
 *   1. Into libsiam, with direct calls into the libsqlite3 the program
 *      links.  It exports siam_sql_register(), which siam_db_open()
 *      calls, so the CLI and any program linking libsiam get the
 *      functions without loading a module.
 *   2. Into the loadable module siam.so with -DSIAM_SQLITE_EXTENSION,
 *      where every sqlite3_* call goes through the host's
 *      sqlite3_api_routines table; sqlite3_siam_init (siam_ext.c) calls
 *      siam_sql_register.  src/db/ is compiled the same two ways, and
 *      the code both builds share (the kernels in knn.c, models, images)
 *      makes no SQLite call, so siam.so links no libsqlite3.
 *
 * No SQL against siam's tables is written here: the current model, the
 * embeddings, the change counter come from src/db/ (db/db.h).
 *
 * Per connection, one refcounted sql_conn is the user data of every
 * function and the client data of the module: it caches the database's
 * current model (for siam_match's default threshold and siam_embed) and
 * the loaded model itself.  siam_knn caches the embedding matrix in its
 * eponymous vtab object, which also lives once per connection.
 *
 * Layout: vectors and their one parse helper (sqlvec_parse); the
 * per-connection state; the scalar functions; siam_knn (plans above
 * knn_best_index; the kernels knn_scan and knn8_search are in knn.c);
 * registration.
 */
#include "db/sqlite_api.h"

#include "db/db.h"
#include "internal.h"
#include "knn.h"
#include "siam_nn.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef sqlite3_int64 i64;

/* ------------------------------------------------------------------ */
/* Numbers as text, independent of the host's locale.                  */
/* A host program may have called setlocale(LC_ALL, "") (GUI database  */
/* browsers do) and then "%g" writes "0,5" and strtof stops at the     */
/* '.'.  uselocale() switches the calling thread only, so it is safe   */
/* inside any host.                                                    */

static pthread_once_t sql_locale_once = PTHREAD_ONCE_INIT;
static locale_t sql_c_locale;

static void sql_locale_init(void)
{
	sql_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Switches this thread to the C locale; returns what to restore. */
static locale_t sql_locale_push(void)
{
	pthread_once(&sql_locale_once, sql_locale_init);
	return sql_c_locale ? uselocale(sql_c_locale) : (locale_t)0;
}

static void sql_locale_pop(locale_t old)
{
	if (old)
		uselocale(old);
}

/* ------------------------------------------------------------------ */
/* Vectors: float32 little-endian BLOBs, or JSON arrays of numbers.    */

/* Vectors this short live on the stack: siam_distance in an ORDER BY
 * runs once per row and should not malloc. */
#define SQLVEC_STACK 256

typedef struct sqlvec {
	float *v;    /* n floats: stack or heap */
	int n;
	float *heap; /* owned, or NULL */
	float stack[SQLVEC_STACK];
} sqlvec;

static void sqlvec_release(sqlvec *x)
{
	free(x->heap);
	x->heap = NULL;
	x->v = NULL;
	x->n = 0;
}

static int sqlvec_reserve(sqlvec *x, int n)
{
	if (n <= SQLVEC_STACK) {
		x->v = x->stack;
		return 0;
	}
	float *p = realloc(x->heap, (size_t)n * sizeof *p);
	if (!p)
		return -1;
	x->heap = x->v = p;
	return 0;
}

static int json_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Length of the JSON number at s (RFC 8259 grammar), 0 if none. */
static size_t json_number_len(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < len && s[i] == '.') {
		size_t j = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == j)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t j = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == j)
			return 0;
	}
	return i;
}

/* Parses "[1, 2.5, -3e-2]" into x.  A number is converted by strtof on a
 * NUL-terminated copy (correctly rounded to float32); one out of float32
 * range is an error, not infinity. */
static int sqlvec_from_json(sqlvec *x, const char *s, size_t len,
                            const char *fn, char **msg)
{
	size_t i = 0;
	int n = 0, cap = SQLVEC_STACK;
	char num[128];
	locale_t old = sql_locale_push();
	int rc = -1;

	while (i < len && json_is_space((unsigned char)s[i]))
		i++;
	if (i >= len || s[i] != '[')
		goto bad_json;
	i++;
	while (i < len && json_is_space((unsigned char)s[i]))
		i++;
	if (i < len && s[i] == ']') {
		i++;
		goto end;
	}
	for (;;) {
		size_t nl = json_number_len(s + i, len - i);
		if (nl == 0)
			goto bad_json;
		if (nl >= sizeof num) {
			*msg = sqlite3_mprintf("%s: number too long at offset %d",
			                       fn, (int)i);
			goto out;
		}
		memcpy(num, s + i, nl);
		num[nl] = '\0';
		errno = 0;
		float f = strtof(num, NULL);
		if (isinf(f)) {
			*msg = sqlite3_mprintf(
				"%s: number out of float32 range at offset %d",
				fn, (int)i);
			goto out;
		}
		if (n == cap) {
			/* grow: from the stack to the heap, then doubling */
			float *p = realloc(x->heap, 2 * (size_t)cap * sizeof *p);
			if (!p)
				goto nomem;
			if (!x->heap)
				memcpy(p, x->stack, (size_t)n * sizeof *p);
			x->heap = x->v = p;
			cap *= 2;
		}
		x->v[n++] = f;
		i += nl;
		while (i < len && json_is_space((unsigned char)s[i]))
			i++;
		if (i < len && s[i] == ',') {
			i++;
			while (i < len && json_is_space((unsigned char)s[i]))
				i++;
			continue;
		}
		if (i < len && s[i] == ']') {
			i++;
			break;
		}
		goto bad_json;
	}
end:
	while (i < len && json_is_space((unsigned char)s[i]))
		i++;
	if (i != len)
		goto bad_json;
	if (n == 0) {
		*msg = sqlite3_mprintf("%s: empty vector", fn);
		goto out;
	}
	x->n = n;
	rc = 0;
	goto out;
nomem:
	*msg = sqlite3_mprintf("%s: out of memory", fn);
	goto out;
bad_json:
	*msg = sqlite3_mprintf("%s: invalid JSON at offset %d", fn, (int)i);
out:
	sql_locale_pop(old);
	return rc;
}

/*
 * The one parse helper: turns a SQL value into a vector.
 * Returns 0 with x filled, 1 for SQL NULL (x empty), or -1 with *msg set
 * (sqlite3_mprintf'ed, prefixed with fn) for anything that is not a
 * non-empty vector of finite float32 values.  Release x either way.
 */
static void sqlvec_init(sqlvec *x)
{
	x->v = x->stack;
	x->n = 0;
	x->heap = NULL;
}

static int sqlvec_parse(sqlvec *x, sqlite3_value *val, const char *fn,
                        char **msg)
{
	sqlvec_init(x);
	*msg = NULL;
	switch (sqlite3_value_type(val)) {
	case SQLITE_NULL:
		return 1;
	case SQLITE_INTEGER:
		*msg = sqlite3_mprintf("%s: expected a float32 vector BLOB or "
		                       "a JSON array, found an integer", fn);
		return -1;
	case SQLITE_FLOAT:
		*msg = sqlite3_mprintf("%s: expected a float32 vector BLOB or "
		                       "a JSON array, found a real number", fn);
		return -1;
	case SQLITE_TEXT: {
		const char *s = (const char *)sqlite3_value_text(val);
		int len = sqlite3_value_bytes(val);
		if (!s) {
			*msg = sqlite3_mprintf("%s: out of memory", fn);
			return -1;
		}
		if (sqlvec_from_json(x, s, (size_t)len, fn, msg) < 0)
			return -1;
		return 0;
	}
	default: { /* SQLITE_BLOB */
		const unsigned char *p = sqlite3_value_blob(val);
		int len = sqlite3_value_bytes(val);
		if (len % 4 != 0) {
			*msg = sqlite3_mprintf(
				"%s: invalid float32 vector BLOB length: must be "
				"divisible by 4, found %d", fn, len);
			return -1;
		}
		if (len == 0) {
			*msg = sqlite3_mprintf("%s: empty vector", fn);
			return -1;
		}
		if (sqlvec_reserve(x, len / 4) < 0) {
			*msg = sqlite3_mprintf("%s: out of memory", fn);
			return -1;
		}
		x->n = len / 4;
		for (int i = 0; i < x->n; i++) {
			x->v[i] = db_load_f32(p + 4 * (size_t)i);
			if (!isfinite(x->v[i])) {
				*msg = sqlite3_mprintf(
					"%s: element %d is NaN or infinite",
					fn, i);
				return -1;
			}
		}
		return 0;
	}
	}
}

/* Writes x as a float32 LE BLOB result. */
static void sqlvec_result_blob(sqlite3_context *ctx, const float *v, int n)
{
	unsigned char *p = sqlite3_malloc64((sqlite3_uint64)n * 4);
	if (!p) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	for (int i = 0; i < n; i++)
		db_store_f32(p + 4 * (size_t)i, v[i]);
	sqlite3_result_blob64(ctx, p, (sqlite3_uint64)n * 4, sqlite3_free);
}

/* The shortest of "%.6g" .. "%.9g" that reads back as the same float:
 * "0.1", not "0.100000001"; nine digits always suffice for float32. */
static int sql_format_float(char *buf, size_t size, float f)
{
	int len = 0;
	for (int prec = 6; prec <= 9; prec++) {
		len = snprintf(buf, size, "%.*g", prec, (double)f);
		if (strtof(buf, NULL) == f)
			break;
	}
	return len;
}


/* ------------------------------------------------------------------ */
/* Per-connection state                                                */

typedef struct sql_conn {
	int refs;
	/* The current model as last read, trusted while nothing changed:
	 * same data_version (no commit by another connection; see
	 * sql_txn_open), same total_changes (no change by this one), and
	 * read outside BEGIN ... (a rollback could undo what we saw).
	 * This spares siam_match(a, b) a query per row. */
	int info_valid;
	unsigned info_dv;
	int info_tc;
	i64 model_id; /* 0: the database has no model */
	double threshold;
	int embed_dim;
	i64 models_gen;
	/* siam_embed's loaded model and the (id, models_gen) it is of. */
	siam_model *model;
	i64 model_id_loaded, models_gen_loaded;
} sql_conn;

static void sql_conn_unref(void *p)
{
	sql_conn *c = p;
	if (c && --c->refs == 0) {
		siam_model_free(c->model);
		free(c);
	}
}

static unsigned sql_data_version(sqlite3 *db)
{
	unsigned v = 0;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_DATA_VERSION, &v) !=
	    SQLITE_OK)
		v = 0;
	return v;
}

/* 1 if main has a read (or write) transaction open.  Only then is the
 * data version current: the pager learns of other connections' commits
 * when a transaction starts, and "SELECT siam_match(?, ?)" alone starts
 * none.  sqlite3_txn_state is 3.34; a module may run in an older host. */
static int sql_txn_open(sqlite3 *db)
{
#ifdef SQLITE_TXN_NONE
	if (sqlite3_libversion_number() >= 3034000)
		return sqlite3_txn_state(db, "main") != SQLITE_TXN_NONE;
#endif
	(void)db;
	return 0;
}

/* Fills c->model_id (0 if none), threshold, embed_dim, models_gen.
 * Returns 0, or -1 with *msg. */
static int sql_model_info(sql_conn *c, sqlite3 *db, const char *fn,
                          char **msg)
{
	int autocommit = sqlite3_get_autocommit(db);
	if (c->info_valid && autocommit && sql_txn_open(db) &&
	    sql_data_version(db) == c->info_dv &&
	    sqlite3_total_changes(db) == c->info_tc)
		return 0;
	c->info_valid = 0;
	db_model_info mi;
	siam_error err = {0};
	if (db_model_current(db, &mi, &err) < 0) {
		*msg = sqlite3_mprintf("%s: %s", fn, err.msg);
		return -1;
	}
	c->model_id = mi.id;
	c->threshold = mi.threshold;
	c->embed_dim = mi.embed_dim;
	/* no models_gen row: a value never equal to the last one, so that
	 * siam_embed reloads the model every time */
	c->models_gen = mi.has_gen ? mi.models_gen : c->models_gen + 1;
	/* read right after a statement's read transaction: current */
	c->info_dv = sql_data_version(db);
	c->info_tc = sqlite3_total_changes(db);
	c->info_valid = autocommit;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Scalar functions.  Each reports errors with sqlite3_result_error;  */
/* the helpers above only build the message.                          */

static void sql_result_msg(sqlite3_context *ctx, char *msg)
{
	if (msg)
		sqlite3_result_error(ctx, msg, -1);
	else
		sqlite3_result_error_nomem(ctx);
	sqlite3_free(msg);
}

/* Parses argv[0] and argv[1] and checks they have the same size.
 * Returns 0, 1 (a NULL: result NULL, already set) or -1 (error set). */
static int sql_two_vectors(sqlite3_context *ctx, sqlite3_value **argv,
                           const char *fn, sqlvec *a, sqlvec *b)
{
	char *msg = NULL;
	sqlvec_init(b); /* released by the caller even if a fails */
	int ra = sqlvec_parse(a, argv[0], fn, &msg);
	if (ra < 0) {
		sql_result_msg(ctx, msg);
		return -1;
	}
	int rb = sqlvec_parse(b, argv[1], fn, &msg);
	if (rb < 0) {
		sql_result_msg(ctx, msg);
		return -1;
	}
	if (ra == 1 || rb == 1) {
		sqlite3_result_null(ctx);
		return 1;
	}
	if (a->n != b->n) {
		msg = sqlite3_mprintf("%s: vectors differ in size: %d and %d "
		                      "dimensions", fn, a->n, b->n);
		sql_result_msg(ctx, msg);
		return -1;
	}
	return 0;
}

/* siam_distance(a, b): Euclidean distance, REAL. */
static void sqlfn_distance(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv)
{
	sqlvec a, b;
	(void)argc;
	if (sql_two_vectors(ctx, argv, "siam_distance", &a, &b) == 0)
		sqlite3_result_double(ctx, sqrt((double)knn_ssd(a.v, b.v, a.n)));
	sqlvec_release(&a);
	sqlvec_release(&b);
}

/* siam_match(a, b [, threshold]): 1 if distance < threshold, else 0. */
static void sqlfn_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlvec a, b;
	char *msg = NULL;
	double thr;
	if (sql_two_vectors(ctx, argv, "siam_match", &a, &b) != 0)
		goto out;
	if (argc == 3) {
		int t = sqlite3_value_numeric_type(argv[2]);
		if (t == SQLITE_NULL) {
			sqlite3_result_null(ctx);
			goto out;
		}
		if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
			sqlite3_result_error(ctx, "siam_match: threshold must "
			                     "be a number", -1);
			goto out;
		}
		thr = sqlite3_value_double(argv[2]);
	} else {
		sql_conn *c = sqlite3_user_data(ctx);
		if (sql_model_info(c, sqlite3_context_db_handle(ctx),
		                   "siam_match", &msg) < 0) {
			sql_result_msg(ctx, msg);
			goto out;
		}
		if (c->model_id == 0) {
			sqlite3_result_error(ctx, "siam_match: no threshold "
			                     "given and the database has no "
			                     "model", -1);
			goto out;
		}
		thr = c->threshold;
	}
	sqlite3_result_int(ctx, sqrt((double)knn_ssd(a.v, b.v, a.n)) < thr);
out:
	sqlvec_release(&a);
	sqlvec_release(&b);
}

/* siam_vector(v): the float32 BLOB of a JSON array (or a BLOB, checked). */
static void sqlfn_vector(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlvec x;
	char *msg = NULL;
	(void)argc;
	int r = sqlvec_parse(&x, argv[0], "siam_vector", &msg);
	if (r < 0)
		sql_result_msg(ctx, msg);
	else if (r == 1)
		sqlite3_result_null(ctx);
	else
		sqlvec_result_blob(ctx, x.v, x.n);
	sqlvec_release(&x);
}

/* siam_json(v): "[0.1,-2,3.5e-08]", each float in the fewest digits
 * that read back to the same float32. */
static void sqlfn_json(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlvec x;
	char *msg = NULL;
	(void)argc;
	int r = sqlvec_parse(&x, argv[0], "siam_json", &msg);
	if (r < 0) {
		sql_result_msg(ctx, msg);
	} else if (r == 1) {
		sqlite3_result_null(ctx);
	} else {
		/* "%.9g" of a float is at most 15 characters ("-1.17549435e-38"),
		 * plus a comma each, plus the brackets. */
		size_t cap = (size_t)x.n * 16 + 3, len = 0;
		char *out = sqlite3_malloc64(cap);
		if (!out) {
			sqlite3_result_error_nomem(ctx);
		} else {
			locale_t old = sql_locale_push();
			out[len++] = '[';
			for (int i = 0; i < x.n; i++) {
				if (i)
					out[len++] = ',';
				len += (size_t)sql_format_float(
					out + len, cap - len, x.v[i]);
			}
			out[len++] = ']';
			out[len] = '\0';
			sql_locale_pop(old);
			sqlite3_result_text64(ctx, out, len, sqlite3_free,
			                      SQLITE_UTF8);
		}
	}
	sqlvec_release(&x);
}

/* Makes c->model the current model of db, loading it if it changed. */
static int sql_conn_model(sql_conn *c, sqlite3 *db, const char *fn,
                          char **msg)
{
	if (sql_model_info(c, db, fn, msg) < 0)
		return -1;
	if (c->model_id == 0) {
		*msg = sqlite3_mprintf("%s: the database has no model", fn);
		return -1;
	}
	if (c->model && c->model_id_loaded == c->model_id &&
	    c->models_gen_loaded == c->models_gen)
		return 0;
	siam_model_free(c->model);
	c->model = NULL;

	char name[64];
	siam_error err = {0};
	snprintf(name, sizeof name, "model %lld", (long long)c->model_id);
	if (db_model_load(db, c->model_id, name, &c->model, &err) < 0) {
		*msg = sqlite3_mprintf("%s: %s", fn, err.msg);
		return -1;
	}
	c->model_id_loaded = c->model_id;
	c->models_gen_loaded = c->models_gen;
	return 0;
}

/* siam_embed(image): the embedding of an image file (TEXT path) or of
 * encoded image bytes (BLOB) with the database's current model. */
static void sqlfn_embed(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sql_conn *c = sqlite3_user_data(ctx);
	sqlite3 *db = sqlite3_context_db_handle(ctx);
	siam_image img = {0};
	siam_error err = {0};
	char *msg = NULL;
	float *out = NULL;
	int type = sqlite3_value_type(argv[0]);
	(void)argc;

	if (type == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	if (type != SQLITE_TEXT && type != SQLITE_BLOB) {
		sqlite3_result_error(ctx, "siam_embed: expected a file name "
		                     "(TEXT) or image bytes (BLOB)", -1);
		return;
	}
	if (sql_conn_model(c, db, "siam_embed", &msg) < 0) {
		sql_result_msg(ctx, msg);
		return;
	}
	int rc;
	if (type == SQLITE_TEXT) {
		const char *path = (const char *)sqlite3_value_text(argv[0]);
		if (!path) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		rc = siam_image_load(&img, path, NULL, &err);
	} else {
		const void *p = sqlite3_value_blob(argv[0]);
		int len = sqlite3_value_bytes(argv[0]);
		rc = siam_image_decode(&img, p ? p : "", (size_t)len,
		                       "image BLOB", NULL, &err);
	}
	if (rc < 0)
		goto fail;
	int dim = siam_net_embed_dim(c->model->net);
	out = malloc((size_t)dim * sizeof *out);
	if (!out) {
		siam_errorf(&err, SIAM_ENOMEM, "out of memory");
		goto fail;
	}
	if (siam_model_embed_image(c->model, &img, out, &err) < 0)
		goto fail;
	sqlvec_result_blob(ctx, out, dim);
	free(out);
	siam_image_release(&img);
	return;
fail:
	msg = sqlite3_mprintf("siam_embed: %s", err.msg);
	sql_result_msg(ctx, msg);
	free(out);
	siam_image_release(&img);
}

/* ------------------------------------------------------------------ */
/* siam_knn: exact k nearest neighbours over images.embedding          */

enum {
	KNN_COL_IMAGE_ID,
	KNN_COL_DISTANCE,
	KNN_COL_PATH,
	KNN_COL_QUERY, /* hidden: the query vector */
	KNN_COL_K,     /* hidden: how many */
	KNN_COL_MODEL  /* hidden: which model's embeddings; default current */
};

typedef struct knn_vtab {
	sqlite3_vtab base;
	sqlite3 *db;
	sql_conn *conn;
	/* The matrix: n rows of dim floats, the embeddings of model_id
	 * in image_id order, as of images_gen = gen. */
	int loaded;
	i64 model_id, gen;
	int dim;
	i64 n, cap;
	float *x;
	i64 *ids;
	struct knn8 *q8; /* the int8 copy for the first pass, or NULL */
	int scans;       /* queries since the matrix was loaded */
} knn_vtab;

typedef struct knn_cursor {
	sqlite3_vtab_cursor base;
	knn_hit *hits; /* nhits, ascending (ssd, row) */
	int nhits, i;
	i64 k, model_id;
	sqlite3_value *query;  /* the query as given, for the query column */
	sqlite3_stmt *path_st; /* prepared on the first path asked for */
} knn_cursor;

static int knn_connect(sqlite3 *db, void *aux, int argc,
                       const char *const *argv, sqlite3_vtab **out,
                       char **pzErr)
{
	(void)argc;
	(void)argv;
	(void)pzErr;
	int rc = sqlite3_declare_vtab(db,
		"CREATE TABLE x(image_id INTEGER, distance REAL, path TEXT,"
		" query HIDDEN, k HIDDEN, model_id HIDDEN)");
	if (rc != SQLITE_OK)
		return rc;
	knn_vtab *vt = calloc(1, sizeof *vt);
	if (!vt)
		return SQLITE_NOMEM;
	vt->db = db;
	vt->conn = aux;
	vt->conn->refs++;
	/* It only reads the database it is attached to: safe in triggers
	 * and views of an untrusted schema. */
	sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
	*out = &vt->base;
	return SQLITE_OK;
}

static void knn8_release(knn_vtab *vt);

static int knn_disconnect(sqlite3_vtab *base)
{
	knn_vtab *vt = (knn_vtab *)base;
	sql_conn_unref(vt->conn);
	knn8_release(vt);
	free(vt->x);
	free(vt->ids);
	free(vt);
	return SQLITE_OK;
}

static int knn_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
	(void)base;
	knn_cursor *cur = calloc(1, sizeof *cur);
	if (!cur)
		return SQLITE_NOMEM;
	*out = &cur->base;
	return SQLITE_OK;
}

static int knn_close(sqlite3_vtab_cursor *base)
{
	knn_cursor *cur = (knn_cursor *)base;
	sqlite3_finalize(cur->path_st);
	sqlite3_value_free(cur->query);
	free(cur->hits);
	free(cur);
	return SQLITE_OK;
}

/* idxNum bits: which arguments xFilter receives, in this order. */
#define KNN_ARG_QUERY 1
#define KNN_ARG_K 2
#define KNN_ARG_MODEL 4
#define KNN_ARG_LIMIT 8
#define KNN_ARG_OFFSET 16

/*
 * Query plans.  siam_knn answers one question: the k rows of images with
 * the smallest distance to a query vector.  It consumes:
 *   query = ?     required.  Without it the plan still succeeds (so that
 *                 the user gets our message instead of "no query
 *                 solution") but at a huge cost, and xFilter errors.
 *   k = ?         how many rows; 1..SIAM_KNN_MAX_K.
 *   model_id = ?  optional: whose embeddings; default the current model.
 *   LIMIT n [OFFSET m]  (SQLite >= 3.38) stand in for k when k is absent:
 *                 k = n + m, as SQLite skips the OFFSET rows itself.
 * A hidden column with equalities that are all unusable (their values
 * come from a table joined later) makes the plan SQLITE_CONSTRAINT, so
 * that SQLite picks a join order that can supply one.  One usable
 * equality on a column is enough, wherever it stands among the
 * constraints: the plan consumes it, and SQLite checks the others
 * against the row (xColumn returns k, model_id and the query value
 * itself, so "query = t.v" compares as written).
 * Rows come out by ascending distance, ties by ascending image_id, so
 * "ORDER BY distance" and "ORDER BY distance, image_id" are consumed.
 *
 * xFilter receives, in this order, only those present (bits of idxNum):
 *   argv[.] query   if KNN_ARG_QUERY
 *   argv[.] k       if KNN_ARG_K
 *   argv[.] model_id if KNN_ARG_MODEL
 *   argv[.] LIMIT   if KNN_ARG_LIMIT (only when KNN_ARG_K is absent)
 *   argv[.] OFFSET  if KNN_ARG_OFFSET (only with KNN_ARG_LIMIT)
 */
static int knn_best_index(sqlite3_vtab *base, sqlite3_index_info *info)
{
	int iq = -1, ik = -1, im = -1, il = -1, io = -1;
	int unusable = 0; /* bit (1 << column - KNN_COL_QUERY) */
	(void)base;
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];
#ifdef SQLITE_INDEX_CONSTRAINT_LIMIT
		if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT && c->usable) {
			il = i;
			continue;
		}
		if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET && c->usable) {
			io = i;
			continue;
		}
#endif
		if (c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		if (c->iColumn != KNN_COL_QUERY && c->iColumn != KNN_COL_K &&
		    c->iColumn != KNN_COL_MODEL)
			continue;
		if (!c->usable) {
			/* not yet: a usable one may follow */
			unusable |= 1 << (c->iColumn - KNN_COL_QUERY);
			continue;
		}
		if (c->iColumn == KNN_COL_QUERY)
			iq = i;
		else if (c->iColumn == KNN_COL_K)
			ik = i;
		else
			im = i;
	}
	if (((unusable & 1) && iq < 0) || ((unusable & 2) && ik < 0) ||
	    ((unusable & 4) && im < 0))
		return SQLITE_CONSTRAINT;
	int argi = 0, idx = 0;
	if (iq >= 0) {
		idx |= KNN_ARG_QUERY;
		info->aConstraintUsage[iq].argvIndex = ++argi;
		info->aConstraintUsage[iq].omit = 1;
	}
	if (ik >= 0) {
		idx |= KNN_ARG_K;
		info->aConstraintUsage[ik].argvIndex = ++argi;
		info->aConstraintUsage[ik].omit = 1;
	}
	if (im >= 0) {
		idx |= KNN_ARG_MODEL;
		info->aConstraintUsage[im].argvIndex = ++argi;
		info->aConstraintUsage[im].omit = 1;
	}
	if (ik < 0 && il >= 0) {
		idx |= KNN_ARG_LIMIT;
		info->aConstraintUsage[il].argvIndex = ++argi;
		if (io >= 0) {
			idx |= KNN_ARG_OFFSET;
			info->aConstraintUsage[io].argvIndex = ++argi;
		}
	}
	info->idxNum = idx;
	if (info->nOrderBy >= 1 && info->nOrderBy <= 2 &&
	    info->aOrderBy[0].iColumn == KNN_COL_DISTANCE &&
	    !info->aOrderBy[0].desc &&
	    (info->nOrderBy == 1 ||
	     (info->aOrderBy[1].iColumn == KNN_COL_IMAGE_ID &&
	      !info->aOrderBy[1].desc)))
		info->orderByConsumed = 1;
	if (iq >= 0) {
		info->estimatedCost = 1000;
		info->estimatedRows = 10;
	} else {
		info->estimatedCost = 1e30;
		info->estimatedRows = 1000000;
	}
	return SQLITE_OK;
}

static int knn_error(knn_vtab *vt, char *msg)
{
	sqlite3_free(vt->base.zErrMsg);
	vt->base.zErrMsg = msg;
	return msg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Reads images_gen: 0 and *gen, 1 if there is no counter (every query
 * then reloads, see knn_filter), -1 and *msg on failure. */
static int knn_images_gen(sqlite3 *db, i64 *gen, char **msg)
{
	siam_error err = {0};
	int64_t g = 0;
	int rc = db_images_gen(db, &g, &err);
	*gen = g;
	if (rc < 0) {
		*msg = sqlite3_mprintf("siam_knn: %s", err.msg);
		return -1;
	}
	return rc;
}

typedef struct knn_loader {
	knn_vtab *vt;
	i64 model_id;
	int dim;
	char *msg;
} knn_loader;

/* One row for knn_load: appended to the matrix. */
static int knn_load_row(void *arg, int64_t id, const void *blob, int len)
{
	knn_loader *ld = arg;
	knn_vtab *vt = ld->vt;
	int dim = ld->dim;
	if (len != 4 * dim || !blob) {
		ld->msg = sqlite3_mprintf(
			"siam_knn: image %lld has an embedding of %d "
			"bytes, but model %lld makes %d dimensions "
			"(%d bytes)", (long long)id, len,
			(long long)ld->model_id, dim, 4 * dim);
		return 1;
	}
	if (vt->n == vt->cap) {
		i64 cap = vt->cap ? 2 * vt->cap : 1024;
		float *x = realloc(vt->x, (size_t)cap * (size_t)dim * sizeof *x);
		if (x)
			vt->x = x;
		i64 *ids = x ? realloc(vt->ids, (size_t)cap * sizeof *ids) :
		               NULL;
		if (!ids) {
			ld->msg = sqlite3_mprintf("siam_knn: out of memory "
			                          "loading %lld embeddings",
			                          (long long)vt->n);
			return 1;
		}
		vt->ids = ids;
		vt->cap = cap;
	}
	float *row = vt->x + (size_t)vt->n * (size_t)dim;
	const unsigned char *p = blob;
	for (int j = 0; j < dim; j++)
		row[j] = db_load_f32(p + 4 * j);
	vt->ids[vt->n++] = id;
	return 0;
}

/* Loads the embeddings of model_id (dim floats each) into the matrix. */
static int knn_load(knn_vtab *vt, i64 model_id, int dim, char **msg)
{
	knn_loader ld = {vt, model_id, dim, NULL};
	siam_error err = {0};
	vt->loaded = 0;
	vt->n = 0;
	int rc = db_embeddings_each(vt->db, model_id, knn_load_row, &ld, &err);
	if (rc != 0) {
		*msg = ld.msg ? ld.msg :
		       sqlite3_mprintf("siam_knn: %s", err.msg);
		vt->n = 0;
		return -1;
	}
	vt->model_id = model_id;
	vt->dim = dim;
	vt->loaded = 1;
	return 0;
}

static void knn8_release(knn_vtab *vt)
{
	if (vt->q8) {
		knn8_free(vt->q8);
		free(vt->q8);
		vt->q8 = NULL;
	}
}

/* Below this many rows the plain scan is as fast and the copy not worth
 * its memory. */
#define KNN8_MIN_ROWS 4096

/* Makes vt->q8 for the matrix just loaded; without it (too small, out
 * of memory) queries use the plain scan. */
static void knn8_attach(knn_vtab *vt)
{
	knn8_release(vt);
	if (vt->n < KNN8_MIN_ROWS)
		return;
	vt->q8 = malloc(sizeof *vt->q8);
	if (vt->q8 && knn8_build(vt->q8, vt->x, vt->n, vt->dim) < 0) {
		free(vt->q8);
		vt->q8 = NULL;
	}
}

/* Reads an integer argument (k, LIMIT, model_id): 0 and *v, 1 for NULL,
 * -1 if it is not an integer. */
static int knn_int_arg(sqlite3_value *v, i64 *out)
{
	switch (sqlite3_value_numeric_type(v)) {
	case SQLITE_NULL:
		return 1;
	case SQLITE_INTEGER:
		*out = sqlite3_value_int64(v);
		return 0;
	case SQLITE_FLOAT: {
		double d = sqlite3_value_double(v);
		if (d == floor(d) && fabs(d) < 9e18) {
			*out = (i64)d;
			return 0;
		}
		return -1;
	}
	default:
		return -1;
	}
}

static int knn_filter(sqlite3_vtab_cursor *base, int idxNum,
                      const char *idxStr, int argc, sqlite3_value **argv)
{
	knn_cursor *cur = (knn_cursor *)base;
	knn_vtab *vt = (knn_vtab *)base->pVtab;
	sqlite3_value *vq = NULL, *vk = NULL, *vm = NULL, *vl = NULL,
	              *vo = NULL;
	char *msg = NULL;
	sqlvec q;
	i64 k = 0, model_id = 0, lim = 0, off = 0, gen = 0;
	int a = 0, dim, r;
	(void)idxStr;
	(void)argc;

	sqlvec_init(&q);
	free(cur->hits);
	cur->hits = NULL;
	cur->nhits = cur->i = 0;
	if (idxNum & KNN_ARG_QUERY)
		vq = argv[a++];
	if (idxNum & KNN_ARG_K)
		vk = argv[a++];
	if (idxNum & KNN_ARG_MODEL)
		vm = argv[a++];
	if (idxNum & KNN_ARG_LIMIT)
		vl = argv[a++];
	if (idxNum & KNN_ARG_OFFSET)
		vo = argv[a++];

	if (!vq)
		return knn_error(vt, sqlite3_mprintf(
			"siam_knn: a query vector is required: WHERE query = ?"
			" AND k = 10, or siam_knn(?, 10)"));
	sqlite3_value_free(cur->query);
	if (!(cur->query = sqlite3_value_dup(vq)))
		return SQLITE_NOMEM;
	if (vk) {
		r = knn_int_arg(vk, &k);
		if (r == 1)
			return SQLITE_OK; /* k = NULL: no rows */
		if (r < 0)
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: k must be an integer"));
	} else if (vl) {
		if (knn_int_arg(vl, &lim) != 0 ||
		    (vo && knn_int_arg(vo, &off) != 0))
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: LIMIT must be an integer"));
		k = lim + (off > 0 ? off : 0);
	} else {
		return knn_error(vt, sqlite3_mprintf(
			"siam_knn: k is required: WHERE query = ? AND k = 10, "
			"or LIMIT 10"));
	}
	if (k < 1 || k > SIAM_KNN_MAX_K)
		return knn_error(vt, sqlite3_mprintf(
			"siam_knn: k must be between 1 and %d, found %lld",
			SIAM_KNN_MAX_K, (long long)k));

	/* Which model, and how many dimensions its embeddings have. */
	if (vm) {
		r = knn_int_arg(vm, &model_id);
		if (r == 1)
			return SQLITE_OK;
		if (r < 0)
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: model_id must be an integer"));
		siam_error err = {0};
		r = db_model_dim(vt->db, model_id, &dim, &err);
		if (r < 0)
			return knn_error(vt, sqlite3_mprintf("siam_knn: %s",
			                                     err.msg));
		if (r == 1)
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: no model with id %lld",
				(long long)model_id));
	} else {
		if (sql_model_info(vt->conn, vt->db, "siam_knn", &msg) < 0)
			return knn_error(vt, msg);
		if (vt->conn->model_id == 0)
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: the database has no model"));
		model_id = vt->conn->model_id;
		dim = vt->conn->embed_dim;
	}

	r = sqlvec_parse(&q, vq, "siam_knn", &msg);
	if (r < 0)
		return knn_error(vt, msg);
	if (r == 1)
		return SQLITE_OK; /* query = NULL: no rows */
	if (q.n != dim) {
		msg = sqlite3_mprintf("siam_knn: the query vector has %d "
		                      "dimensions, the embeddings of model %lld"
		                      " have %d", q.n, (long long)model_id, dim);
		goto fail;
	}

	/* Reload the matrix if the images changed since it was read. */
	r = knn_images_gen(vt->db, &gen, &msg);
	if (r < 0)
		goto fail;
	if (r == 1 || !vt->loaded || vt->model_id != model_id ||
	    vt->gen != gen || vt->dim != dim) {
		knn8_release(vt);
		if (knn_load(vt, model_id, dim, &msg) < 0)
			goto fail;
		vt->scans = 0;
		vt->gen = gen;
		if (r == 1)
			vt->loaded = 0; /* no counter to check next time */
	}

	i64 nk = k < vt->n ? k : vt->n;
	cur->hits = malloc((size_t)(nk ? nk : 1) * sizeof *cur->hits);
	if (!cur->hits) {
		msg = sqlite3_mprintf("siam_knn: out of memory");
		goto fail;
	}
	/* The int8 pass pays off while k is small against n; its answer
	 * is the plain scan's in any case.  Its copy is made for the second
	 * query on the same matrix, not the first: a one-shot query (a
	 * 'siam query' process) would spend more on coding than it saves. */
	cur->nhits = -1;
	if (!vt->q8 && vt->scans++ == 1)
		knn8_attach(vt);
	if (vt->q8 && nk * 8 <= vt->n)
		cur->nhits = knn8_search(cur->hits, (int)nk, vt->q8, vt->x, q.v,
		                         knn8_rows_best());
	if (cur->nhits < 0)
		cur->nhits = knn_scan(cur->hits, (int)nk, vt->x, vt->n, dim,
		                      q.v);
	cur->k = k;
	cur->model_id = model_id;
	sqlvec_release(&q);
	return SQLITE_OK;
fail:
	sqlvec_release(&q);
	return knn_error(vt, msg);
}

static int knn_next(sqlite3_vtab_cursor *base)
{
	((knn_cursor *)base)->i++;
	return SQLITE_OK;
}

static int knn_eof(sqlite3_vtab_cursor *base)
{
	knn_cursor *cur = (knn_cursor *)base;
	return cur->i >= cur->nhits;
}

static int knn_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx,
                      int col)
{
	knn_cursor *cur = (knn_cursor *)base;
	knn_vtab *vt = (knn_vtab *)base->pVtab;
	const knn_hit *h = &cur->hits[cur->i];
	i64 id = vt->ids[h->row];
	switch (col) {
	case KNN_COL_IMAGE_ID:
		sqlite3_result_int64(ctx, id);
		break;
	case KNN_COL_DISTANCE:
		sqlite3_result_double(ctx, sqrt((double)h->ssd));
		break;
	case KNN_COL_PATH:
		if (!cur->path_st &&
		    sqlite3_prepare_v2(vt->db, db_sql_image_path, -1,
		                       &cur->path_st, NULL) !=
		            SQLITE_OK) {
			cur->path_st = NULL;
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: %s", sqlite3_errmsg(vt->db)));
		}
		sqlite3_bind_int64(cur->path_st, 1, id);
		if (sqlite3_step(cur->path_st) == SQLITE_ROW)
			sqlite3_result_value(ctx,
			                     sqlite3_column_value(cur->path_st, 0));
		else
			sqlite3_result_null(ctx);
		sqlite3_reset(cur->path_st);
		break;
	case KNN_COL_K:
		sqlite3_result_int64(ctx, cur->k);
		break;
	case KNN_COL_MODEL:
		sqlite3_result_int64(ctx, cur->model_id);
		break;
	default: /* query */
		sqlite3_result_value(ctx, cur->query);
		break;
	}
	return SQLITE_OK;
}

static int knn_rowid(sqlite3_vtab_cursor *base, sqlite_int64 *rowid)
{
	knn_cursor *cur = (knn_cursor *)base;
	knn_vtab *vt = (knn_vtab *)base->pVtab;
	*rowid = vt->ids[cur->hits[cur->i].row];
	return SQLITE_OK;
}

/* Eponymous only (xCreate = 0): "siam_knn" exists in every schema and
 * cannot be created, like the pragma_* tables. */
static const sqlite3_module knn_module = {
	.iVersion = 0,
	.xCreate = 0,
	.xConnect = knn_connect,
	.xBestIndex = knn_best_index,
	.xDisconnect = knn_disconnect,
	.xDestroy = 0,
	.xOpen = knn_open,
	.xClose = knn_close,
	.xFilter = knn_filter,
	.xNext = knn_next,
	.xEof = knn_eof,
	.xColumn = knn_column,
	.xRowid = knn_rowid,
};

/* ------------------------------------------------------------------ */
/* Registration                                                        */

/* Pure functions of their arguments are DETERMINISTIC (usable in
 * indexes and generated columns) and INNOCUOUS (usable in triggers and
 * views of a database we did not write).  siam_match without a
 * threshold reads the database's model, so it is not deterministic, but
 * still innocuous: reading the database it runs in is harmless.
 * siam_embed reads any file it is given: DIRECTONLY, so that a hostile
 * database cannot make a view or trigger read files behind the user's
 * back (the reason fileio.c's readfile() is DIRECTONLY too). */
#define SQL_PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)

static const struct {
	const char *name;
	void (*fn)(sqlite3_context *, int, sqlite3_value **);
	int nargs;
	int flags;
} sql_functions[] = {
	{"siam_distance", sqlfn_distance, 2, SQL_PURE},
	{"siam_vector", sqlfn_vector, 1, SQL_PURE},
	{"siam_json", sqlfn_json, 1, SQL_PURE},
	{"siam_match", sqlfn_match, 3, SQL_PURE},
	{"siam_match", sqlfn_match, 2, SQLITE_UTF8 | SQLITE_INNOCUOUS},
	{"siam_embed", sqlfn_embed, 1, SQLITE_UTF8 | SQLITE_DIRECTONLY},
};

/* Registers everything on db.  Returns an SQLite code; *msg (may be
 * NULL) gets a sqlite3_mprintf'ed message on failure. */
static int sql_register(sqlite3 *db, char **msg)
{
	sql_conn *c = calloc(1, sizeof *c);
	int rc = SQLITE_OK;
	if (!c)
		return SQLITE_NOMEM;
	c->refs = 1; /* this function's own reference, dropped at the end */
	for (size_t i = 0; i < sizeof sql_functions / sizeof *sql_functions;
	     i++) {
		c->refs++; /* dropped by SQLite, even if registration fails */
		rc = sqlite3_create_function_v2(
			db, sql_functions[i].name, sql_functions[i].nargs,
			sql_functions[i].flags, c, sql_functions[i].fn, NULL,
			NULL, sql_conn_unref);
		if (rc != SQLITE_OK) {
			if (msg)
				*msg = sqlite3_mprintf(
					"cannot register %s: %s",
					sql_functions[i].name,
					sqlite3_errmsg(db));
			goto out;
		}
	}
	c->refs++;
	rc = sqlite3_create_module_v2(db, "siam_knn", &knn_module, c,
	                              sql_conn_unref);
	if (rc != SQLITE_OK && msg)
		*msg = sqlite3_mprintf("cannot register siam_knn: %s",
		                       sqlite3_errmsg(db));
out:
	sql_conn_unref(c);
	return rc;
}

int siam_sql_register(sqlite3 *db, siam_error *err)
{
	char *msg = NULL;
	int rc = sql_register(db, &msg);
	if (rc != SQLITE_OK) {
		int code = rc == SQLITE_NOMEM ? SIAM_ENOMEM : SIAM_EDB;
		siam_errorf(err, code, "%s", msg ? msg : "out of memory");
		sqlite3_free(msg);
		return code;
	}
	return 0;
}
