/*
 * knn_vtab.c -- siam_knn, the eponymous virtual table of exact k nearest
 * neighbours over images.embedding (the user manual is siam_ext.c's
 * header and siam-sql(7)).  The query plans and what xFilter receives
 * are documented above knn_best_index; the matrix comes from src/db/
 * (db_embeddings_each), the search from knn.c.  Compiled twice, like
 * sql.c (see db/sqlite_api.h).
 *
 * The sidecar (knn_sidecar.c): loading the matrix costs a read of every
 * embedding (1.2 s at a million rows), and a 'siam query' process pays
 * it on its only query.  So the first connection that loads a matrix of
 * at least KNN8_MIN_ROWS rows from a database file also codes it at
 * once and writes both to "DB-knn-MODEL"; later connections whose
 * images_gen, model and dim match map that file instead of loading.
 * The images_gen they compare is read inside the statement's read
 * transaction, the same snapshot the fallback load would read, so a
 * writer committing meanwhile can only make the file stale (not used),
 * never wrong.  Where the file cannot be written (read-only directory,
 * disk full) or SIAM_KNN_SIDECAR=0 is set, queries work as before;
 * SIAM_KNN_SIDECAR=read maps a fresh file but never writes one (siam
 * serve, which writes nothing; siam index writes it instead, see
 * cli_knn_refresh).
 */
#include "db/sqlite_api.h"

#include "db/db.h"
#include "knn.h"
#include "knn_sidecar.h"
#include "sqlite/sql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	sql_vtab sv; /* first: base, db, conn */
	/* The matrix: n rows of dim floats, the embeddings of model_id
	 * in image_id order, as of images_gen = gen.  x and ids are
	 * malloc'ed (from the database), or point into side (mapped). */
	int loaded;
	i64 model_id, gen;
	int dim;
	i64 n, cap;
	float *x;
	int64_t *ids;
	struct knn8 *q8; /* the int8 copy for the first pass, or NULL */
	int scans;       /* queries since the matrix was loaded */
	knn_side side;   /* the mapped sidecar, or zeroed */
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
	return sql_vtab_connect(db, aux,
		"CREATE TABLE x(image_id INTEGER, distance REAL, path TEXT,"
		" query HIDDEN, k HIDDEN, model_id HIDDEN)",
		sizeof(knn_vtab), out);
}

static void knn8_release(knn_vtab *vt);

/* Drops the mapped sidecar, if the matrix is one; the buffers are then
 * empty, to be filled from the database. */
static void knn_unmap(knn_vtab *vt)
{
	if (!vt->side.map)
		return;
	knn_side_close(&vt->side);
	vt->x = NULL;
	vt->ids = NULL;
	vt->n = vt->cap = 0;
	vt->loaded = 0;
}

static int knn_disconnect(sqlite3_vtab *base)
{
	knn_vtab *vt = (knn_vtab *)base;
	sql_conn_unref(vt->sv.conn);
	knn8_release(vt);
	knn_unmap(vt);
	free(vt->x);
	free(vt->ids);
	free(vt);
	return SQLITE_OK;
}

static int knn_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
	(void)base;
	return sql_vtab_open(sizeof(knn_cursor), out);
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
	/* in the order of the KNN_ARG_ bits */
	static const int hidden[] = { KNN_COL_QUERY, KNN_COL_K, KNN_COL_MODEL };
	int il = -1, io = -1, argi = 0, idx = 0;
	(void)base;
	if (sql_vtab_take_eq(info, hidden, 3, &idx, &argi))
		return SQLITE_CONSTRAINT;
#ifdef SQLITE_INDEX_CONSTRAINT_LIMIT
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];
		if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT && c->usable)
			il = i;
		if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET && c->usable)
			io = i;
	}
#endif
	if (!(idx & KNN_ARG_K) && il >= 0) {
		idx |= KNN_ARG_LIMIT;
		info->aConstraintUsage[il].argvIndex = ++argi;
		if (io >= 0) {
			idx |= KNN_ARG_OFFSET;
			info->aConstraintUsage[io].argvIndex = ++argi;
		}
	}
	info->idxNum = idx;
	if (sql_vtab_ordered_by(info, KNN_COL_DISTANCE, KNN_COL_IMAGE_ID))
		info->orderByConsumed = 1;
	if (idx & KNN_ARG_QUERY) {
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
	return sql_vtab_error(&vt->sv.base, msg);
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

/* Loads the embeddings of model_id (dim floats each) into the matrix,
 * through src/db/'s loader (the one siam_pairs uses), in vt's buffers. */
static int knn_load(knn_vtab *vt, i64 model_id, int dim, char **msg)
{
	db_matrix m = { vt->x, vt->ids, 0, vt->cap, vt->dim };
	siam_error err = {0};
	vt->loaded = 0;
	int rc = db_embeddings_matrix(vt->sv.db, model_id, dim, &m, &err);
	vt->x = m.x;
	vt->ids = m.ids;
	vt->cap = m.cap;
	vt->n = m.n;
	vt->dim = dim;
	if (rc != 0) {
		*msg = sqlite3_mprintf("siam_knn: %s", err.msg);
		return -1;
	}
	vt->model_id = model_id;
	vt->loaded = 1;
	return 0;
}

static void knn8_release(knn_vtab *vt)
{
	if (vt->q8 == &vt->side.q8) { /* the mapping's: knn_unmap frees */
		vt->q8 = NULL;
	} else if (vt->q8) {
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

/* The sidecar of model_id for this connection's main database: its
 * path (sqlite3_free it), or NULL if there is none to use (an in-memory
 * or temporary database, SIAM_KNN_SIDECAR=0, out of memory). */
static char *knn_side_name(knn_vtab *vt, i64 model_id)
{
	const char *off = getenv("SIAM_KNN_SIDECAR");
	if (off && !strcmp(off, "0"))
		return NULL;
	char *p = knn_side_path(sqlite3_db_filename(vt->sv.db, "main"),
	                        model_id);
	char *q = p ? sqlite3_mprintf("%s", p) : NULL;
	free(p);
	return q;
}

/* Maps the sidecar of (model_id, dim, gen) as the matrix: 1 if done
 * (vt->q8 then its int8 copy), 0 if there is none to use. */
static int knn_side_load(knn_vtab *vt, const char *path, i64 model_id,
                         int dim, i64 gen)
{
	knn_side_tag tag = { model_id, gen, dim };
	if (!path || knn_side_open(&vt->side, path, &tag) < 0)
		return 0;
	free(vt->x);
	free(vt->ids);
	vt->x = (float *)vt->side.x;
	vt->ids = (int64_t *)vt->side.ids;
	vt->n = vt->side.n;
	vt->cap = 0;
	vt->dim = dim;
	vt->model_id = model_id;
	vt->q8 = &vt->side.q8;
	vt->loaded = 1;
	return 1;
}

/* After a load from the database: codes the matrix now (not on the
 * second query, see knn_filter) and writes the sidecar, if it is big
 * enough to be worth it and the directory is writable.  Any failure
 * leaves things as a plain load would. */
static void knn_side_save(knn_vtab *vt, const char *path, i64 gen)
{
	struct stat st;
	const char *db = sqlite3_db_filename(vt->sv.db, "main");
	const char *env = getenv("SIAM_KNN_SIDECAR");
	if (!path || vt->n < KNN8_MIN_ROWS || !db || stat(db, &st) != 0 ||
	    (env && !strcmp(env, "read")))
		return;
	/* the directory: no sense coding what we cannot keep */
	const char *slash = strrchr(path, '/');
	char *dir = slash ? sqlite3_mprintf("%.*s", (int)(slash - path + 1), path)
	                  : sqlite3_mprintf(".");
	int writable = dir && access(dir, W_OK) == 0;
	sqlite3_free(dir);
	if (!writable)
		return;
	if (!vt->q8)
		knn8_attach(vt);
	if (vt->q8) {
		knn_side_tag tag = { vt->model_id, gen, vt->dim };
		knn_side_write(path, (int)(st.st_mode & 0666), &tag, vt->ids,
		               vt->x, vt->q8);
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
		r = sql_int_arg(vk, &k);
		if (r == 1)
			return SQLITE_OK; /* k = NULL: no rows */
		if (r < 0)
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: k must be an integer"));
	} else if (vl) {
		if (sql_int_arg(vl, &lim) != 0 ||
		    (vo && sql_int_arg(vo, &off) != 0))
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
	r = sql_model_pick(vt->sv.conn, vt->sv.db, "siam_knn", vm, &model_id, &dim,
	                   &msg);
	if (r < 0)
		return knn_error(vt, msg);
	if (r == 1)
		return SQLITE_OK; /* model_id = NULL: no rows */

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
	r = knn_images_gen(vt->sv.db, &gen, &msg);
	if (r < 0)
		goto fail;
	if (r == 1 || !vt->loaded || vt->model_id != model_id ||
	    vt->gen != gen || vt->dim != dim) {
		/* Without a counter there is nothing to tag a sidecar with. */
		char *side = r == 0 ? knn_side_name(vt, model_id) : NULL;
		knn8_release(vt);
		knn_unmap(vt);
		if (!knn_side_load(vt, side, model_id, dim, gen)) {
			if (knn_load(vt, model_id, dim, &msg) < 0) {
				sqlite3_free(side);
				goto fail;
			}
			knn_side_save(vt, side, gen);
		}
		sqlite3_free(side);
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
		    sqlite3_prepare_v2(vt->sv.db, db_sql_image_path, -1,
		                       &cur->path_st, NULL) !=
		            SQLITE_OK) {
			cur->path_st = NULL;
			return knn_error(vt, sqlite3_mprintf(
				"siam_knn: %s", sqlite3_errmsg(vt->sv.db)));
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

/* "siam_knn" exists in every schema and cannot be created. */
const sqlite3_module sql_knn_module = SQL_EPONYMOUS_MODULE(knn);
