/*
 * sql.h -- private to src/sqlite/: what the SQL functions (sql.c), the
 * vector helpers (vec.c) and siam_knn (knn_vtab.c) share.  Include
 * after db/sqlite_api.h.
 */
#ifndef SIAM_SQLITE_SQL_H
#define SIAM_SQLITE_SQL_H

#include "internal.h"

typedef sqlite3_int64 i64;

/* ------------------------------------------------------------------ */
/* Vectors (vec.c)                                                     */

/* Vectors this short live on the stack: siam_distance in an ORDER BY
 * runs once per row and should not malloc. */
#define SQLVEC_STACK 256

typedef struct sqlvec {
	float *v;    /* n floats: stack or heap */
	int n;
	float *heap; /* owned, or NULL */
	float stack[SQLVEC_STACK];
} sqlvec;

SIAM_HIDDEN void sqlvec_init(sqlvec *x);
SIAM_HIDDEN void sqlvec_release(sqlvec *x);
/* The one parse helper: turns a SQL value into a vector.  Returns 0
 * with x filled, 1 for SQL NULL (x empty), or -1 with *msg set
 * (sqlite3_mprintf'ed, prefixed with fn) for anything that is not a
 * non-empty vector of finite float32 values.  Release x either way. */
SIAM_HIDDEN int sqlvec_parse(sqlvec *x, sqlite3_value *val, const char *fn,
                             char **msg);
/* n floats as the result: a float32 LE BLOB, or JSON text with each
 * value in the fewest digits that read back to the same float32. */
SIAM_HIDDEN void sqlvec_result_blob(sqlite3_context *ctx, const float *v,
                                    int n);
SIAM_HIDDEN void sqlvec_result_json(sqlite3_context *ctx, const float *v,
                                    int n);

/* ------------------------------------------------------------------ */
/* Per-connection state (sql.c)                                        */

/* One per connection, refcounted: the user data of every function and
 * the client data of siam_knn. */
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

/* Drops a reference (the destructor SQLite calls); frees at zero. */
SIAM_HIDDEN void sql_conn_unref(void *p);
/* Fills c->model_id (0 if none), threshold, embed_dim, models_gen with
 * the database's current model (db_model_current), read again only if
 * the database may have changed.  Returns 0, or -1 with *msg. */
SIAM_HIDDEN int sql_model_info(sql_conn *c, sqlite3 *db, const char *fn,
                               char **msg);

/* Reads an integer argument (k, LIMIT, model_id): 0 and *out, 1 for
 * NULL, -1 if it is not an integer. */
SIAM_HIDDEN int sql_int_arg(sqlite3_value *v, i64 *out);
/* The model a virtual table searches, and its dimensions: model_id vm
 * if given (may be NULL), else the database's current model.  Returns
 * 0, 1 if vm is SQL NULL (no rows), or -1 with *msg ("FN: ..."). */
SIAM_HIDDEN int sql_model_pick(sql_conn *c, sqlite3 *db, const char *fn,
                               sqlite3_value *vm, i64 *model_id, int *dim,
                               char **msg);

/* ------------------------------------------------------------------ */
/* siam_knn (knn_vtab.c) and siam_pairs (pairs_vtab.c)                 */

/* What both tables' objects start with (sql.c has their common
 * methods): the vtab, its connection, and a reference to the
 * connection's sql_conn. */
typedef struct sql_vtab {
	sqlite3_vtab base;
	sqlite3 *db;
	sql_conn *conn;
} sql_vtab;
/* xConnect: declares schema and allocates size bytes (a struct that
 * starts with sql_vtab) for the table; aux is the sql_conn. */
SIAM_HIDDEN int sql_vtab_connect(sqlite3 *db, void *aux, const char *schema,
                                 size_t size, sqlite3_vtab **out);
/* xOpen's allocation: a zeroed cursor of size bytes. */
SIAM_HIDDEN int sql_vtab_open(size_t size, sqlite3_vtab_cursor **out);
/* Sets the table's error message (sqlite3_mprintf'ed; NULL means out
 * of memory) and returns the code for it. */
SIAM_HIDDEN int sql_vtab_error(sqlite3_vtab *vt, char *msg);
/* xBestIndex's part both tables share.  For each hidden column cols[j]
 * (ncols <= 8), a usable equality constraint on it becomes the next
 * argument of xFilter (in the order of cols, numbered from *argi + 1)
 * and bit 1 << j of *idx.  Returns SQLITE_CONSTRAINT when a column has
 * unusable equalities only, so that SQLite tries another plan (an
 * unusable one followed by a usable one is fine), else SQLITE_OK. */
SIAM_HIDDEN int sql_vtab_take_eq(sqlite3_index_info *info, const int *cols,
                                 int ncols, int *idx, int *argi);
/* 1 if ORDER BY is c0, or c0 then c1, both ascending: the order xFilter
 * returns rows in, so SQLite need not sort them. */
SIAM_HIDDEN int sql_vtab_ordered_by(const sqlite3_index_info *info, int c0,
                                    int c1);

/* The module of an eponymous-only table (xCreate = 0: it exists in
 * every schema and cannot be created, like the pragma_* tables) whose
 * methods are P_connect, P_best_index, P_disconnect, P_open, P_close,
 * P_filter, P_next, P_eof, P_column and P_rowid. */
#define SQL_EPONYMOUS_MODULE(P) { \
	.iVersion = 0, .xCreate = 0, .xConnect = P##_connect, \
	.xBestIndex = P##_best_index, .xDisconnect = P##_disconnect, \
	.xDestroy = 0, .xOpen = P##_open, .xClose = P##_close, \
	.xFilter = P##_filter, .xNext = P##_next, .xEof = P##_eof, \
	.xColumn = P##_column, .xRowid = P##_rowid }

SIAM_HIDDEN extern const sqlite3_module sql_knn_module;
SIAM_HIDDEN extern const sqlite3_module sql_pairs_module;

#endif
