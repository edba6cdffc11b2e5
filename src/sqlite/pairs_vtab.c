/*
 * pairs_vtab.c -- siam_pairs, the eponymous virtual table of every pair
 * of indexed images within a distance:
 *
 *   SELECT a, b, distance FROM siam_pairs WHERE threshold = 0.5;
 *   SELECT a, b, distance FROM siam_pairs(0.5);          -- the same
 *   SELECT a, b, distance FROM siam_pairs(0.5, 2);       -- model 2
 *
 * a < b are images.id of one model's embeddings (the current model
 * unless model_id is given); distance is the Euclidean distance, the
 * same float as siam_distance(a.embedding, b.embedding) and siam_knn,
 * and a pair is returned when distance <= threshold.  Rows come out by
 * ascending (a, b).  The search is pairs.c's blocked GEMM with an exact
 * re-check -- never n^2 calls of siam_distance, never an n by n matrix;
 * the matrix comes from src/db/ (db_embeddings_matrix), read anew for
 * each query (the search itself is O(n^2) and dwarfs the read).  The
 * plans and what xFilter receives are documented above
 * pairs_best_index.  Compiled twice, like sql.c (see db/sqlite_api.h).
 */
#include "db/sqlite_api.h"

#include "db/db.h"
#include "nn/nn.h" /* nn_threads: siam_set_threads's count */
#include "pairs.h"
#include "sqlite/sql.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	PAIRS_COL_A,
	PAIRS_COL_B,
	PAIRS_COL_DISTANCE,
	PAIRS_COL_THRESHOLD, /* hidden: the largest distance returned */
	PAIRS_COL_MODEL      /* hidden: whose embeddings; default current */
};

typedef struct pairs_vtab {
	sql_vtab sv; /* first: base, db, conn */
} pairs_vtab;

typedef struct pairs_cursor {
	sqlite3_vtab_cursor base;
	db_matrix m;     /* for m.ids: rows to image ids */
	pairs_list hits; /* by (a, b) */
	int64_t i;
	double threshold;
	i64 model_id;
} pairs_cursor;

static int pairs_connect(sqlite3 *db, void *aux, int argc,
                         const char *const *argv, sqlite3_vtab **out,
                         char **pzErr)
{
	(void)argc;
	(void)argv;
	(void)pzErr;
	return sql_vtab_connect(db, aux,
		"CREATE TABLE x(a INTEGER, b INTEGER, distance REAL,"
		" threshold HIDDEN, model_id HIDDEN)",
		sizeof(pairs_vtab), out);
}

static int pairs_disconnect(sqlite3_vtab *base)
{
	pairs_vtab *vt = (pairs_vtab *)base;
	sql_conn_unref(vt->sv.conn);
	free(vt);
	return SQLITE_OK;
}

static int pairs_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
	(void)base;
	return sql_vtab_open(sizeof(pairs_cursor), out);
}

static int pairs_close(sqlite3_vtab_cursor *base)
{
	pairs_cursor *cur = (pairs_cursor *)base;
	db_matrix_free(&cur->m);
	pairs_list_free(&cur->hits);
	free(cur);
	return SQLITE_OK;
}

/* idxNum bits: which arguments xFilter receives, in this order. */
#define PAIRS_ARG_THRESHOLD 1
#define PAIRS_ARG_MODEL 2

/*
 * Query plans.  siam_pairs answers one question: the pairs of rows of
 * images whose distance is at most a threshold.  It consumes:
 *   threshold = ?  required.  Without it the plan still succeeds (so
 *                  that the user gets our message instead of "no query
 *                  solution") but at a huge cost, and xFilter errors.
 *   model_id = ?   optional: whose embeddings; default the current one.
 * As in siam_knn, a hidden column whose equalities are all unusable
 * (their values come from a table joined later) makes the plan
 * SQLITE_CONSTRAINT, so that SQLite picks a join order that supplies
 * one; one usable equality on a column is enough, and SQLite checks any
 * other against the row (xColumn returns threshold and model_id).
 * Rows come out by ascending (a, b): "ORDER BY a" and "ORDER BY a, b"
 * are consumed.
 *
 * xFilter receives, in this order, only those present (bits of idxNum):
 *   argv[.] threshold  if PAIRS_ARG_THRESHOLD
 *   argv[.] model_id   if PAIRS_ARG_MODEL
 */
static int pairs_best_index(sqlite3_vtab *base, sqlite3_index_info *info)
{
	/* in the order of the PAIRS_ARG_ bits */
	static const int hidden[] = { PAIRS_COL_THRESHOLD, PAIRS_COL_MODEL };
	int argi = 0, idx = 0;
	(void)base;
	if (sql_vtab_take_eq(info, hidden, 2, &idx, &argi))
		return SQLITE_CONSTRAINT;
	info->idxNum = idx;
	if (sql_vtab_ordered_by(info, PAIRS_COL_A, PAIRS_COL_B))
		info->orderByConsumed = 1;
	info->estimatedCost = idx & PAIRS_ARG_THRESHOLD ? 1e6 : 1e30;
	info->estimatedRows = 1000;
	return SQLITE_OK;
}

static int pairs_error(pairs_vtab *vt, char *msg)
{
	return sql_vtab_error(&vt->sv.base, msg);
}

static int pairs_filter(sqlite3_vtab_cursor *base, int idxNum,
                        const char *idxStr, int argc, sqlite3_value **argv)
{
	pairs_cursor *cur = (pairs_cursor *)base;
	pairs_vtab *vt = (pairs_vtab *)base->pVtab;
	sqlite3_value *vt_arg = NULL, *vm = NULL;
	char *msg = NULL;
	siam_error err = {0};
	i64 model_id = 0;
	int a = 0, dim = 0, r;
	(void)idxStr;
	(void)argc;

	pairs_list_free(&cur->hits);
	cur->i = 0;
	if (idxNum & PAIRS_ARG_THRESHOLD)
		vt_arg = argv[a++];
	if (idxNum & PAIRS_ARG_MODEL)
		vm = argv[a++];
	if (!vt_arg)
		return pairs_error(vt, sqlite3_mprintf(
			"siam_pairs: a threshold is required: WHERE threshold"
			" = 0.5, or siam_pairs(0.5)"));
	switch (sqlite3_value_numeric_type(vt_arg)) {
	case SQLITE_NULL:
		return SQLITE_OK; /* threshold = NULL: no rows */
	case SQLITE_INTEGER:
	case SQLITE_FLOAT:
		break;
	default:
		return pairs_error(vt, sqlite3_mprintf(
			"siam_pairs: threshold must be a number"));
	}
	double t = sqlite3_value_double(vt_arg);
	if (!(t >= 0) || isinf(t))
		return pairs_error(vt, sqlite3_mprintf(
			"siam_pairs: threshold must be a finite number >= 0, "
			"found %g", t));
	r = sql_model_pick(vt->sv.conn, vt->sv.db, "siam_pairs", vm, &model_id,
	                   &dim, &msg);
	if (r < 0)
		return pairs_error(vt, msg);
	if (r == 1)
		return SQLITE_OK; /* model_id = NULL: no rows */
	if (db_embeddings_matrix(vt->sv.db, model_id, dim, &cur->m, &err) != 0)
		return pairs_error(vt, sqlite3_mprintf("siam_pairs: %s",
		                                       err.msg));
	if (pairs_search(&cur->hits, cur->m.x, cur->m.n, dim, t,
	                 nn_threads()) < 0) {
		pairs_list_free(&cur->hits);
		return pairs_error(vt, sqlite3_mprintf(
			"siam_pairs: out of memory listing the pairs of %lld "
			"images", (long long)cur->m.n));
	}
	cur->threshold = t;
	cur->model_id = model_id;
	return SQLITE_OK;
}

static int pairs_next(sqlite3_vtab_cursor *base)
{
	((pairs_cursor *)base)->i++;
	return SQLITE_OK;
}

static int pairs_eof(sqlite3_vtab_cursor *base)
{
	pairs_cursor *cur = (pairs_cursor *)base;
	return cur->i >= cur->hits.n;
}

static int pairs_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx,
                        int col)
{
	pairs_cursor *cur = (pairs_cursor *)base;
	const pairs_hit *h = &cur->hits.v[cur->i];
	switch (col) {
	case PAIRS_COL_A:
		sqlite3_result_int64(ctx, cur->m.ids[h->a]);
		break;
	case PAIRS_COL_B:
		sqlite3_result_int64(ctx, cur->m.ids[h->b]);
		break;
	case PAIRS_COL_DISTANCE:
		sqlite3_result_double(ctx, sqrt((double)h->ssd));
		break;
	case PAIRS_COL_THRESHOLD:
		sqlite3_result_double(ctx, cur->threshold);
		break;
	default: /* model_id */
		sqlite3_result_int64(ctx, cur->model_id);
		break;
	}
	return SQLITE_OK;
}

static int pairs_rowid(sqlite3_vtab_cursor *base, sqlite_int64 *rowid)
{
	*rowid = ((pairs_cursor *)base)->i + 1;
	return SQLITE_OK;
}

/* Eponymous only, like siam_knn. */
const sqlite3_module sql_pairs_module = SQL_EPONYMOUS_MODULE(pairs);
