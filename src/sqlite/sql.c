/*
 * sql.c -- siam's SQL functions (siam_distance, siam_match, siam_vector,
 * siam_json, siam_embed, siam_hamming), the per-connection state they and siam_knn
 * share, and the registration of all of it (siam_sql_register).
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
 * Beside it: vec.c (vectors and their one parse helper, sqlvec_parse),
 * knn_vtab.c (siam_knn; its plans are documented above knn_best_index),
 * knn.c (the distance kernel and the searches, no SQLite), sql.h.
 */
#include "db/sqlite_api.h"

#include "db/db.h"
#include "internal.h"
#include "knn.h"
#include "siam_nn.h"
#include "sqlite/sql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ */
/* Per-connection state                                                */


void sql_conn_unref(void *p)
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
int sql_model_info(sql_conn *c, sqlite3 *db, const char *fn, char **msg)
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
		sqlvec_result_json(ctx, x.v, x.n);
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
	/* Decoded no larger than the model needs, as siam index does (a
	 * camera JPEG at a reduced DCT scale): the same embedding. */
	siam_image_limits lim;
	siam_image_limits_default(&lim);
	siam_image_limits_want(&lim, &c->model->pre);
	if (type == SQLITE_TEXT) {
		const char *path = (const char *)sqlite3_value_text(argv[0]);
		if (!path) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		rc = siam_image_load(&img, path, &lim, &err);
	} else {
		const void *p = sqlite3_value_blob(argv[0]);
		int len = sqlite3_value_bytes(argv[0]);
		rc = siam_image_decode(&img, p ? p : "", (size_t)len,
		                       "image BLOB", &lim, &err);
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

/* siam_hamming(a, b): the number of bits in which two 64-bit perceptual
 * hashes (images.phash) differ.  NULL in, NULL out; anything but an
 * integer is an error rather than 0, so that a hash stored as text is
 * noticed instead of matching everything. */
static void sqlfn_hamming(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    sqlite3_value_type(argv[1]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	for (int i = 0; i < 2; i++)
		if (sqlite3_value_type(argv[i]) != SQLITE_INTEGER) {
			char *msg = sqlite3_mprintf(
				"siam_hamming: argument %d must be an integer "
				"64-bit hash (images.phash)", i + 1);
			sql_result_msg(ctx, msg);
			return;
		}
	uint64_t x = (uint64_t)sqlite3_value_int64(argv[0]) ^
	             (uint64_t)sqlite3_value_int64(argv[1]);
	sqlite3_result_int(ctx, __builtin_popcountll(x));
}

/* Reads an integer argument (k, LIMIT, model_id): 0 and *v, 1 for NULL,
 * -1 if it is not an integer. */
int sql_int_arg(sqlite3_value *v, i64 *out)
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

int sql_model_pick(sql_conn *c, sqlite3 *db, const char *fn,
                   sqlite3_value *vm, i64 *model_id, int *dim, char **msg)
{
	if (vm) {
		int r = sql_int_arg(vm, model_id);
		if (r != 0) {
			if (r < 0)
				*msg = sqlite3_mprintf("%s: model_id must be an "
				                       "integer", fn);
			return r;
		}
		siam_error err = {0};
		r = db_model_dim(db, *model_id, dim, &err);
		if (r < 0)
			*msg = sqlite3_mprintf("%s: %s", fn, err.msg);
		else if (r == 1)
			*msg = sqlite3_mprintf("%s: no model with id %lld", fn,
			                       (long long)*model_id);
		return r != 0 ? -1 : 0;
	}
	if (sql_model_info(c, db, fn, msg) < 0)
		return -1;
	if (c->model_id == 0) {
		*msg = sqlite3_mprintf("%s: the database has no model", fn);
		return -1;
	}
	*model_id = c->model_id;
	*dim = c->embed_dim;
	return 0;
}

int sql_vtab_connect(sqlite3 *db, void *aux, const char *schema,
                     size_t size, sqlite3_vtab **out)
{
	int rc = sqlite3_declare_vtab(db, schema);
	if (rc != SQLITE_OK)
		return rc;
	sql_vtab *vt = calloc(1, size);
	if (!vt)
		return SQLITE_NOMEM;
	vt->db = db;
	vt->conn = aux;
	vt->conn->refs++;
	/* Both tables only read the database they are attached to: safe
	 * in triggers and views of an untrusted schema. */
	sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
	*out = &vt->base;
	return SQLITE_OK;
}

int sql_vtab_open(size_t size, sqlite3_vtab_cursor **out)
{
	sqlite3_vtab_cursor *cur = calloc(1, size);
	if (!cur)
		return SQLITE_NOMEM;
	*out = cur;
	return SQLITE_OK;
}

int sql_vtab_error(sqlite3_vtab *vt, char *msg)
{
	sqlite3_free(vt->zErrMsg);
	vt->zErrMsg = msg;
	return msg ? SQLITE_ERROR : SQLITE_NOMEM;
}

int sql_vtab_take_eq(sqlite3_index_info *info, const int *cols, int ncols,
                     int *idx, int *argi)
{
	int use[8], unusable = 0;
	for (int j = 0; j < ncols; j++)
		use[j] = -1;
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];
		if (c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		for (int j = 0; j < ncols; j++) {
			if (c->iColumn != cols[j])
				continue;
			if (c->usable)
				use[j] = i;
			else /* not yet: a usable one may follow */
				unusable |= 1 << j;
		}
	}
	for (int j = 0; j < ncols; j++)
		if ((unusable >> j & 1) && use[j] < 0)
			return SQLITE_CONSTRAINT;
	for (int j = 0; j < ncols; j++) {
		if (use[j] < 0)
			continue;
		*idx |= 1 << j;
		info->aConstraintUsage[use[j]].argvIndex = ++*argi;
		info->aConstraintUsage[use[j]].omit = 1;
	}
	return SQLITE_OK;
}

int sql_vtab_ordered_by(const sqlite3_index_info *info, int c0, int c1)
{
	return info->nOrderBy >= 1 && info->nOrderBy <= 2 &&
	       info->aOrderBy[0].iColumn == c0 && !info->aOrderBy[0].desc &&
	       (info->nOrderBy == 1 || (info->aOrderBy[1].iColumn == c1 &&
	                                !info->aOrderBy[1].desc));
}

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
	{"siam_hamming", sqlfn_hamming, 2, SQL_PURE},
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
	rc = sqlite3_create_module_v2(db, "siam_knn", &sql_knn_module, c,
	                              sql_conn_unref);
	if (rc != SQLITE_OK) {
		if (msg)
			*msg = sqlite3_mprintf("cannot register siam_knn: %s",
			                       sqlite3_errmsg(db));
		goto out;
	}
	c->refs++;
	rc = sqlite3_create_module_v2(db, "siam_pairs", &sql_pairs_module, c,
	                              sql_conn_unref);
	if (rc != SQLITE_OK && msg)
		*msg = sqlite3_mprintf("cannot register siam_pairs: %s",
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
