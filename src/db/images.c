/*
 * images.c -- the images table: put, find, touch and delete a row, read
 * a model's rows (the indexer's step 1) and embeddings (siam_knn), the
 * change counter, and the candidates of --prune.
 */
#include "db/stmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* embedding, phash, gray32, width and height describe the content:
 * given, they are written; not given, they stay only if the content
 * hash did not change.  (In an UPDATE every right-hand side sees the old
 * row.) */
static const char db_put_image_sql[] =
	"INSERT INTO images(path, is_url, content_hash, size, mtime_ns, width,"
	" height, model_id, embedding, phash, label, gray32)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
	" ON CONFLICT (path, model_id) DO UPDATE SET"
	"  is_url = excluded.is_url,"
	"  content_hash = excluded.content_hash,"
	"  size = excluded.size,"
	"  mtime_ns = excluded.mtime_ns,"
	"  embedding = CASE WHEN excluded.embedding IS NOT NULL"
	"   THEN excluded.embedding"
	"   WHEN excluded.content_hash IS content_hash THEN embedding END,"
	"  phash = CASE WHEN excluded.phash IS NOT NULL THEN excluded.phash"
	"   WHEN excluded.content_hash IS content_hash THEN phash END,"
	"  gray32 = CASE WHEN excluded.gray32 IS NOT NULL THEN excluded.gray32"
	"   WHEN excluded.content_hash IS content_hash THEN gray32 END,"
	"  width = CASE WHEN excluded.width IS NOT NULL THEN excluded.width"
	"   WHEN excluded.content_hash IS content_hash THEN width END,"
	"  height = CASE WHEN excluded.height IS NOT NULL THEN excluded.height"
	"   WHEN excluded.content_hash IS content_hash THEN height END,"
	"  label = coalesce(excluded.label, label),"
	"  indexed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

int siam_db_put_image(sqlite3 *db, const siam_db_image *img, int64_t *id,
                      siam_error *err)
{
	return db_put_image(db, img, NULL, id, err);
}

int db_put_image(sqlite3 *db, const siam_db_image *img,
                 const unsigned char *gray32, int64_t *id, siam_error *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char *emb = NULL;
	int rc, in_sp = 0;

	if (id)
		*id = 0;
	if (!img->path)
		return siam_errorf(err, SIAM_EINVAL, "no image path given");
	/* The model must exist and agree on the embedding size. */
	int dim;
	if ((rc = db_model_dim(db, img->model_id, &dim, err)) < 0)
		return rc;
	if (rc == 1)
		return siam_errorf(err, SIAM_EINVAL, "%s: no model with id "
		                   "%lld", db_name(db), (long long)img->model_id);
	if (img->embedding && img->dim != dim)
		return siam_errorf(err, SIAM_EINVAL, "%s: embedding of %d "
		                   "dimensions for model %lld, which makes %d",
		                   img->path, img->dim,
		                   (long long)img->model_id, dim);
	if (img->embedding) {
		emb = malloc((size_t)dim * 4);
		if (!emb)
			return siam_errorf(err, SIAM_ENOMEM, "out of memory");
		for (int i = 0; i < dim; i++)
			db_store_f32(emb + 4 * i, img->embedding[i]);
	}

	if ((rc = siam_db_exec(db, "SAVEPOINT siam_put_image", err)) < 0)
		goto out;
	in_sp = 1;
	if ((rc = db_prepare(db, db_put_image_sql, &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, img->path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, img->is_url != 0);
	if (img->content_hash)
		sqlite3_bind_text(st, 3, img->content_hash, -1, SQLITE_STATIC);
	db_bind_i64_or_null(st, 4, img->size);
	db_bind_i64_or_null(st, 5, img->mtime_ns);
	if (img->width > 0)
		sqlite3_bind_int(st, 6, img->width);
	if (img->height > 0)
		sqlite3_bind_int(st, 7, img->height);
	sqlite3_bind_int64(st, 8, img->model_id);
	if (emb)
		sqlite3_bind_blob(st, 9, emb, dim * 4, SQLITE_STATIC);
	if (img->has_phash)
		sqlite3_bind_int64(st, 10, (int64_t)img->phash);
	if (img->label)
		sqlite3_bind_text(st, 11, img->label, -1, SQLITE_STATIC);
	if (gray32)
		sqlite3_bind_blob(st, 12, gray32, DB_GRAY32_BYTES, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(db, err);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = db_prepare(db, "DELETE FROM errors WHERE path = ?1", &st,
	                     err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, img->path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_fail(db, err);
		goto out;
	}
	if (id) {
		sqlite3_finalize(st);
		st = NULL;
		if ((rc = db_prepare(db, "SELECT id FROM images WHERE path = ?1"
		                     " AND model_id = ?2", &st, err)) < 0)
			goto out;
		sqlite3_bind_text(st, 1, img->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, img->model_id);
		if (sqlite3_step(st) != SQLITE_ROW) {
			rc = db_fail(db, err);
			goto out;
		}
		*id = sqlite3_column_int64(st, 0);
	}
out:
	sqlite3_finalize(st);
	if (in_sp)
		rc = db_savepoint_end(db, "siam_put_image", rc, err);
	free(emb);
	if (rc < 0 && id)
		*id = 0;
	return rc;
}

int siam_db_find_image(sqlite3 *db, const char *path, int64_t model_id,
                       siam_db_image_info *info, int *found,
                       siam_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	memset(info, 0, sizeof *info);
	if ((rc = db_prepare(db, "SELECT id, size, mtime_ns, content_hash,"
	                     " embedding IS NOT NULL FROM images"
	                     " WHERE path = ?1 AND model_id = ?2", &st,
	                     err)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, model_id);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*found = 1;
		info->id = sqlite3_column_int64(st, 0);
		info->size = db_column_i64_or_unknown(st, 1);
		info->mtime_ns = db_column_i64_or_unknown(st, 2);
		const char *h = (const char *)sqlite3_column_text(st, 3);
		if (h)
			snprintf(info->content_hash, sizeof info->content_hash,
			         "%s", h);
		info->has_embedding = sqlite3_column_int(st, 4);
	} else if (r != SQLITE_DONE) {
		rc = db_fail(db, err);
	}
	sqlite3_finalize(st);
	return rc;
}

int siam_db_delete_image(sqlite3 *db, int64_t id, siam_error *err)
{
	return db_delete_rows(db, 0, &id, 1, err);
}

int db_image_touch(sqlite3 *db, int64_t id, int64_t size, int64_t mtime_ns,
                   siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, "UPDATE images SET size = ?1, mtime_ns = ?2,"
	                    " indexed_at = strftime('%Y-%m-%dT%H:%M:%SZ',"
	                    " 'now') WHERE id = ?3", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, size);
	sqlite3_bind_int64(st, 2, mtime_ns);
	sqlite3_bind_int64(st, 3, id);
	return db_step_done(db, st, err);
}

int db_image_touch_gray(sqlite3 *db, int64_t id, int64_t size,
                        int64_t mtime_ns, uint64_t phash,
                        const unsigned char *gray32, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, "UPDATE images SET size = ?1, mtime_ns = ?2,"
	                    " phash = ?3, gray32 = ?4,"
	                    " indexed_at = strftime('%Y-%m-%dT%H:%M:%SZ',"
	                    " 'now') WHERE id = ?5", &st, err);
	if (rc < 0)
		return rc;
	db_bind_i64_or_null(st, 1, size);
	db_bind_i64_or_null(st, 2, mtime_ns); /* a URL's is unknown */
	sqlite3_bind_int64(st, 3, (int64_t)phash);
	sqlite3_bind_blob(st, 4, gray32, DB_GRAY32_BYTES, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, id);
	return db_step_done(db, st, err);
}

/* A statement of one model's rows: ?1 is the model id. */
static int model_rows(sqlite3 *db, const char *sql, int64_t model_id,
                      int (*row)(void *arg, sqlite3_stmt *st), void *arg,
                      siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, sql, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, model_id);
	return db_rows(db, st, row, arg, err);
}

static int image_row(void *arg, sqlite3_stmt *st)
{
	db_cb *c = arg;
	db_image_row row;
	row.path = (const char *)sqlite3_column_text(st, 0);
	if (!row.path)
		return 0;
	row.id = sqlite3_column_int64(st, 1);
	row.size = db_column_i64_or_unknown(st, 2);
	row.mtime_ns = db_column_i64_or_unknown(st, 3);
	row.content_hash = (const char *)sqlite3_column_text(st, 4);
	row.has_embedding = sqlite3_column_int(st, 5);
	row.has_gray32 = sqlite3_column_int(st, 6);
	return c->fn.image(c->arg, &row);
}

int db_images_each(sqlite3 *db, int64_t model_id,
                   int (*cb)(void *arg, const db_image_row *r), void *arg,
                   siam_error *err)
{
	db_cb c = { .fn.image = cb, .arg = arg };
	return model_rows(db, "SELECT path, id, size, mtime_ns, content_hash,"
	                  " embedding IS NOT NULL, gray32 IS NOT NULL"
	                  " FROM images WHERE model_id = ?1", model_id,
	                  image_row, &c, err);
}

static int embedding_row(void *arg, sqlite3_stmt *st)
{
	db_cb *c = arg;
	return c->fn.embedding(c->arg, sqlite3_column_int64(st, 0),
	                       sqlite3_column_blob(st, 1),
	                       sqlite3_column_bytes(st, 1));
}

int db_embeddings_each(sqlite3 *db, int64_t model_id,
                       int (*cb)(void *arg, int64_t id, const void *blob,
                                 int len),
                       void *arg, siam_error *err)
{
	db_cb c = { .fn.embedding = cb, .arg = arg };
	/* one pass over the table beats an index lookup per row, even
	 * with several models */
	return model_rows(db, "SELECT id, embedding FROM images NOT INDEXED"
	                  " WHERE model_id = ?1 AND embedding IS NOT NULL"
	                  " ORDER BY id", model_id, embedding_row, &c, err);
}

typedef struct matrix_loader {
	db_matrix *m;
	int64_t model_id;
	siam_error *err;
} matrix_loader;

/* One row for db_embeddings_matrix: appended, the buffers doubled as
 * needed. */
static int matrix_row(void *arg, int64_t id, const void *blob, int len)
{
	matrix_loader *ld = arg;
	db_matrix *m = ld->m;
	int dim = m->dim;
	if (len != 4 * dim || !blob)
		return siam_errorf(ld->err, SIAM_EFORMAT,
		                   "image %lld has an embedding of %d bytes, "
		                   "but model %lld makes %d dimensions "
		                   "(%d bytes)", (long long)id, len,
		                   (long long)ld->model_id, dim, 4 * dim);
	if (m->n == m->cap) {
		int64_t cap = m->cap ? 2 * m->cap : 1024;
		float *x = realloc(m->x, (size_t)cap * (size_t)dim * sizeof *x);
		if (x)
			m->x = x;
		int64_t *ids = x ? realloc(m->ids, (size_t)cap * sizeof *ids) :
		                   NULL;
		if (!ids)
			return siam_errorf(ld->err, SIAM_ENOMEM,
			                   "out of memory loading %lld "
			                   "embeddings", (long long)m->n);
		m->ids = ids;
		m->cap = cap;
	}
	float *row = m->x + (size_t)m->n * (size_t)dim;
	const unsigned char *p = blob;
	for (int j = 0; j < dim; j++)
		row[j] = db_load_f32(p + 4 * j);
	m->ids[m->n++] = id;
	return 0;
}

int db_embeddings_matrix(sqlite3 *db, int64_t model_id, int dim,
                         db_matrix *m, siam_error *err)
{
	matrix_loader ld = { m, model_id, err };
	if (m->dim != dim) {
		/* the buffers were sized for rows of another length */
		m->cap = 0;
		m->dim = dim;
	}
	m->n = 0;
	int rc = db_embeddings_each(db, model_id, matrix_row, &ld, err);
	if (rc != 0)
		m->n = 0;
	return rc;
}

void db_matrix_free(db_matrix *m)
{
	if (!m)
		return;
	free(m->x);
	free(m->ids);
	memset(m, 0, sizeof *m);
}

static int listing_row(void *arg, sqlite3_stmt *st)
{
	db_cb *c = arg;
	siam_db_image_row r;
	memset(&r, 0, sizeof r);
	r.path = (const char *)sqlite3_column_text(st, 1);
	if (!r.path)
		return 0;
	r.id = sqlite3_column_int64(st, 0);
	r.is_url = sqlite3_column_int(st, 2);
	r.content_hash = (const char *)sqlite3_column_text(st, 3);
	r.size = db_column_i64_or_unknown(st, 4);
	r.mtime_ns = db_column_i64_or_unknown(st, 5);
	r.width = sqlite3_column_int(st, 6);
	r.height = sqlite3_column_int(st, 7);
	r.has_phash = sqlite3_column_type(st, 8) != SQLITE_NULL;
	r.phash = (uint64_t)sqlite3_column_int64(st, 8);
	r.has_embedding = sqlite3_column_int(st, 9);
	/* The CHECK of sql/schema.sql keeps other lengths out, but a
	 * hand-made table may not have it. */
	if (sqlite3_column_type(st, 10) == SQLITE_BLOB &&
	    sqlite3_column_bytes(st, 10) == DB_GRAY32_BYTES)
		r.gray32 = sqlite3_column_blob(st, 10);
	return c->fn.listing(c->arg, &r);
}

int siam_db_list_images(sqlite3 *db, int64_t model_id,
                        int (*cb)(void *arg, const siam_db_image_row *r),
                        void *arg, siam_error *err)
{
	db_cb c = { .fn.listing = cb, .arg = arg };
	return model_rows(db, "SELECT id, path, is_url, content_hash, size,"
	                  " mtime_ns, width, height, phash,"
	                  " embedding IS NOT NULL, gray32 FROM images"
	                  " WHERE model_id = ?1 ORDER BY id", model_id,
	                  listing_row, &c, err);
}

typedef struct one_row {
	db_cb c;
	int *found;
} one_row;

static int one_listing_row(void *arg, sqlite3_stmt *st)
{
	one_row *o = arg;
	*o->found = 1;
	return listing_row(&o->c, st);
}

int siam_db_get_image(sqlite3 *db, int64_t id,
                      int (*cb)(void *arg, const siam_db_image_row *r),
                      void *arg, int *found, siam_error *err)
{
	sqlite3_stmt *st;
	one_row o = { { .fn.listing = cb, .arg = arg }, found };
	*found = 0;
	int rc = db_prepare(db, "SELECT id, path, is_url, content_hash, size,"
	                    " mtime_ns, width, height, phash,"
	                    " embedding IS NOT NULL, gray32 FROM images"
	                    " WHERE id = ?1", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return db_rows(db, st, one_listing_row, &o, err);
}

int db_images_gen(sqlite3 *db, int64_t *gen, siam_error *err)
{
	sqlite3_stmt *st;
	*gen = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = "
	                       "'images_gen'", -1, &st, NULL) != SQLITE_OK)
		return siam_errorf(err, SIAM_EDB, "no siam schema in this "
		                   "database: %s", sqlite3_errmsg(db));
	int rc = 0, r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*gen = sqlite3_column_int64(st, 0);
	else
		rc = r == SQLITE_DONE ? 1 : db_fail(db, err);
	sqlite3_finalize(st);
	return rc;
}

const char db_sql_image_path[] = "SELECT path FROM images WHERE id = ?1";

int siam_db_find_embedding(sqlite3 *db, const char *content_hash,
                           int64_t model_id, float *out, int dim,
                           int *found, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, "SELECT embedding FROM images WHERE"
	                    " content_hash = ?1 AND model_id = ?2 AND"
	                    " length(embedding) = ?3 LIMIT 1", &st, err);
	*found = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, content_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, model_id);
	sqlite3_bind_int(st, 3, dim * 4);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 0);
		for (int i = 0; i < dim; i++)
			out[i] = db_load_f32(p + 4 * i);
		*found = 1;
	} else if (r != SQLITE_DONE) {
		rc = db_fail(db, err);
	}
	sqlite3_finalize(st);
	return rc;
}

typedef struct prune_list {
	db_cb c;
	int64_t *ids;
	size_t n, cap;
} prune_list;

static int prune_row(void *arg, sqlite3_stmt *st)
{
	prune_list *pl = arg;
	const char *path = (const char *)sqlite3_column_text(st, 1);
	if (!path || !pl->c.fn.path(pl->c.arg, path))
		return 0;
	if (pl->n == pl->cap) {
		int64_t *ids = siam_grow(pl->ids, &pl->cap, sizeof *ids, 256);
		if (!ids)
			return SIAM_ENOMEM;
		pl->ids = ids;
	}
	pl->ids[pl->n++] = sqlite3_column_int64(st, 0);
	return 0;
}

int db_prune_candidates(sqlite3 *db, int errors,
                        int (*cb)(void *arg, const char *path), void *arg,
                        int64_t **ids, size_t *n, siam_error *err)
{
	prune_list pl = { { .fn.path = cb, .arg = arg }, NULL, 0, 0 };
	sqlite3_stmt *st;
	int rc = db_prepare(db, errors ? "SELECT id, path FROM errors" :
	                    "SELECT id, path FROM images WHERE is_url = 0",
	                    &st, err);
	*ids = NULL;
	*n = 0;
	if (rc == 0 && (rc = db_rows(db, st, prune_row, &pl, err)) ==
	                   SIAM_ENOMEM)
		siam_errorf(err, rc, "out of memory");
	if (rc < 0) {
		free(pl.ids);
		return rc;
	}
	*ids = pl.ids;
	*n = pl.n;
	return 0;
}

int db_delete_rows(sqlite3 *db, int errors, const int64_t *ids, size_t n,
                   siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db, errors ? "DELETE FROM errors WHERE id = ?1" :
	                    "DELETE FROM images WHERE id = ?1", &st, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(db, err);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}
