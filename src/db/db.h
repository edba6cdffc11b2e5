/*
 * db.h -- src/db/, the one owner of siam's tables: the calls that the
 * indexer, the SQL functions (src/sqlite/) and the tests use
 * beside the public siam_db_* API of siam.h.  No other file writes SQL
 * against images, models, meta or errors.
 *
 *   open.c     open, create, migrate (siam_db_open, siam_db_close)
 *   schema.c   the migrations; schema_sql.c (generated) sql/schema.sql
 *   stmt.c     what every db file shares (stmt.h): messages,
 *              prepare, exec, transactions, savepoints
 *   models.c   the models table and the current-model rule
 *   images.c   the images table: put, find, touch, delete, iterate,
 *              the embeddings for siam_knn, prune candidates
 *   errors.c   the errors table
 *   pairs.c    every pair within a distance (siam_db_pairs; libsiam only)
 *   query.c    k nearest stored images (siam_db_knn) and the counts of
 *              siam info (siam_db_stats)
 *
 * Conventions: functions return 0 or a negative SIAM_E* code with err
 * filled (message naming the database), unless stated otherwise.  No
 * SQLite type appears here, so that the indexer needs no SQLite header.
 */
#ifndef SIAM_DB_H
#define SIAM_DB_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sqlite3;

/* The text of sql/schema.sql, byte for byte: src/db/schema_sql.c is
 * generated from it by the Makefile, so the two cannot drift. */
SIAM_HIDDEN extern const char siam_db_schema_sql[];

/* migrations[v] upgrades a database of version v to v + 1 (v >= 1). */
SIAM_HIDDEN extern const char *const siam_db_migrations[SIAM_DB_VERSION];

/* Embeddings are stored as float32 little-endian, whatever the host. */
static inline float db_load_f32(const unsigned char *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	             (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline void db_store_f32(unsigned char *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	p[0] = (unsigned char)u;
	p[1] = (unsigned char)(u >> 8);
	p[2] = (unsigned char)(u >> 16);
	p[3] = (unsigned char)(u >> 24);
}

/* ------------------------------------------------------------------ */
/* Transactions (stmt.c)                                               */

/* BEGIN IMMEDIATE: the write lock now (waiting up to the busy timeout),
 * rather than a failure when a read transaction has to be upgraded. */
SIAM_HIDDEN int db_begin(struct sqlite3 *db, siam_error *err);
SIAM_HIDDEN int db_commit(struct sqlite3 *db, siam_error *err);
/* ROLLBACK, ignoring errors (there may be no transaction left). */
SIAM_HIDDEN void db_rollback(struct sqlite3 *db);

/* ------------------------------------------------------------------ */
/* Models (models.c)                                                   */

/* The current model as the SQL functions need it. */
typedef struct db_model_info {
	int64_t id;         /* 0: the database has no model */
	double threshold;
	int embed_dim;
	int64_t models_gen; /* meta.models_gen: changes with models */
	int has_gen;        /* 0: no models_gen row (a hand-made schema) */
} db_model_info;

/* The one current-model rule: meta.current_model if it names a model,
 * else the newest model.  siam_db_current_model and the SQL functions
 * both call this.  When the tables are missing the message says "no
 * siam schema in this database: ..." without the database's name. */
SIAM_HIDDEN int db_model_current(struct sqlite3 *db, db_model_info *info,
                                 siam_error *err);
/* models.embed_dim of model id: 0 and *dim, 1 if there is no such
 * model, or an error (message as db_model_current). */
SIAM_HIDDEN int db_model_dim(struct sqlite3 *db, int64_t id, int *dim,
                             siam_error *err);
/* Loads model id into *out; name is what load errors call it
 * (siam_model_load_mem).  SIAM_EINVAL if there is no such model. */
SIAM_HIDDEN int db_model_load(struct sqlite3 *db, int64_t id,
                              const char *name, siam_model **out,
                              siam_error *err);

/* ------------------------------------------------------------------ */
/* Images (images.c)                                                   */

/* Bytes of images.gray32: the 32x32 picture of the perceptual hash. */
#define DB_GRAY32_BYTES 1024

/* siam_db_put_image with the row's gray32 (DB_GRAY32_BYTES, or NULL:
 * kept if the content hash is unchanged, else NULL), which the public
 * siam_db_image does not carry: only the indexer computes it. */
SIAM_HIDDEN int db_put_image(struct sqlite3 *db, const siam_db_image *img,
                             const unsigned char *gray32, int64_t *id,
                             siam_error *err);

/* One stored row, as the indexer's step 1 reads it. */
typedef struct db_image_row {
	const char *path;  /* valid during the callback only */
	int64_t id;
	int64_t size, mtime_ns; /* SIAM_DB_UNKNOWN if NULL */
	const char *content_hash; /* or NULL; valid during the callback */
	int has_embedding;
	int has_gray32;    /* images.gray32 is not NULL */
} db_image_row;
/* Calls cb for every row of model_id; cb returns non-zero to stop, and
 * then that value is returned. */
SIAM_HIDDEN int db_images_each(struct sqlite3 *db, int64_t model_id,
                               int (*cb)(void *arg, const db_image_row *r),
                               void *arg, siam_error *err);

/* Same bytes, new mtime: size, mtime_ns and indexed_at of row id. */
SIAM_HIDDEN int db_image_touch(struct sqlite3 *db, int64_t id, int64_t size,
                               int64_t mtime_ns, siam_error *err);
/* The same, and the perceptual hash and gray32 (DB_GRAY32_BYTES) that
 * a row indexed before schema version 3 lacks: its bytes are unchanged,
 * so its embedding stays as it is. */
SIAM_HIDDEN int db_image_touch_gray(struct sqlite3 *db, int64_t id,
                                    int64_t size, int64_t mtime_ns,
                                    uint64_t phash,
                                    const unsigned char *gray32,
                                    siam_error *err);

/* The embeddings of model_id, by ascending image id: cb gets the id and
 * the raw float32 LE bytes (len of them); it returns non-zero to stop,
 * and then that value is returned. */
SIAM_HIDDEN int db_embeddings_each(struct sqlite3 *db, int64_t model_id,
                                   int (*cb)(void *arg, int64_t id,
                                             const void *blob, int len),
                                   void *arg, siam_error *err);
/* The embeddings of model_id as one matrix, by ascending image id:
 * m->x (m->n rows of dim floats, row-major) and m->ids.  m's buffers
 * (m->cap rows) are reused and grown; m->n is set.  An embedding that
 * is not dim floats is an error (SIAM_EFORMAT, "image ID has an
 * embedding of ..."); then m->n is 0.  siam_knn keeps its matrix
 * across queries, siam_pairs and dedup load it once. */
typedef struct db_matrix {
	float *x;
	int64_t *ids;
	int64_t n, cap;
	int dim;
} db_matrix;
SIAM_HIDDEN int db_embeddings_matrix(struct sqlite3 *db, int64_t model_id,
                                     int dim, db_matrix *m,
                                     siam_error *err);
/* Frees m's buffers (not m) and zeroes it; NULL is a no-op. */
SIAM_HIDDEN void db_matrix_free(db_matrix *m);
/* meta.images_gen, which the schema's triggers replace on every change
 * of images: 0 and *gen, 1 if there is no such row (every caller must
 * then assume a change), or an error. */
SIAM_HIDDEN int db_images_gen(struct sqlite3 *db, int64_t *gen,
                              siam_error *err);
/* The SQL that siam_knn prepares once per cursor: ?1 image id -> path. */
SIAM_HIDDEN extern const char db_sql_image_path[];

/* --prune, step 1: the rows of images that are files (not URLs) or,
 * with errors set, of errors.  cb gets each row's id and path and
 * returns 1 to delete it, 0 to keep it; the ids to delete come back in
 * *ids (*n of them, the caller frees *ids).  Writes nothing. */
SIAM_HIDDEN int db_prune_candidates(struct sqlite3 *db, int errors,
                                    int (*cb)(void *arg, const char *path),
                                    void *arg, int64_t **ids, size_t *n,
                                    siam_error *err);
/* Step 2, in the caller's transaction: deletes those rows. */
SIAM_HIDDEN int db_delete_rows(struct sqlite3 *db, int errors,
                               const int64_t *ids, size_t n,
                               siam_error *err);

#endif
