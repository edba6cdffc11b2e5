/*
 * query.c -- reading a database as 'siam query' and 'siam info' do:
 * the k stored images nearest to a vector (through siam_knn), and the
 * counts of a database.
 */
#include "db/stmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void siam_db_hits_free(siam_db_hit *hits, int n)
{
	for (int i = 0; hits && i < n; i++) {
		free(hits[i].path);
		free(hits[i].label);
	}
	free(hits);
}

static int hit_cmp(const void *pa, const void *pb)
{
	const siam_db_hit *a = pa, *b = pb;
	if (a->distance != b->distance)
		return a->distance < b->distance ? -1 : 1;
	return (a->image_id > b->image_id) - (a->image_id < b->image_id);
}

int siam_db_knn(sqlite3 *db, int64_t model_id, const float *q, int dim,
                int k, siam_db_hit **out, int *nout, siam_error *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char *blob = NULL;
	siam_db_hit *hits = NULL;
	int n = 0, rc;

	*out = NULL;
	*nout = 0;
	if (dim < 1 || k < 1 || k > SIAM_KNN_MAX_K)
		return siam_errorf(err, SIAM_EINVAL, "siam_db_knn: dim %d, k %d",
		                   dim, k);
	blob = malloc((size_t)dim * 4);
	hits = calloc((size_t)k, sizeof *hits);
	if (!blob || !hits) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < dim; i++)
		db_store_f32(blob + 4 * i, q[i]);
	if ((rc = db_prepare(db,
		"SELECT k.image_id, i.embedding, i.path, i.label"
		" FROM siam_knn(?1, ?2, ?3) AS k"
		" JOIN images AS i ON i.id = k.image_id"
		" ORDER BY k.distance, k.image_id", &st, err)) < 0)
		goto fail;
	sqlite3_bind_blob(st, 1, blob, dim * 4, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, k);
	sqlite3_bind_int64(st, 3, model_id);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW && n < k) {
		const unsigned char *e = sqlite3_column_blob(st, 1);
		if (sqlite3_column_bytes(st, 1) != dim * 4 || !e)
			continue;
		/* The distance again, in double from the stored vector: the
		 * image itself comes out at 0 exactly, and the order is by
		 * this distance (ties by image id). */
		double ss = 0;
		for (int i = 0; i < dim; i++) {
			double d = (double)db_load_f32(e + 4 * i) - q[i];
			ss += d * d;
		}
		siam_db_hit *h = &hits[n];
		h->distance = sqrt(ss);
		h->image_id = sqlite3_column_int64(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 2);
		const char *l = (const char *)sqlite3_column_text(st, 3);
		h->path = strdup(p ? p : "");
		h->label = l ? strdup(l) : NULL;
		if (!h->path || (l && !h->label)) {
			free(h->path);
			free(h->label);
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto fail;
		}
		n++;
	}
	if (r != SQLITE_DONE && r != SQLITE_ROW) {
		rc = db_fail(db, err);
		goto fail;
	}
	sqlite3_finalize(st);
	free(blob);
	qsort(hits, (size_t)n, sizeof *hits, hit_cmp);
	*out = hits;
	*nout = n;
	return 0;
fail:
	sqlite3_finalize(st);
	free(blob);
	siam_db_hits_free(hits, n);
	return rc;
}

int siam_db_get_stats(sqlite3 *db, siam_db_stats *s, siam_error *err)
{
	sqlite3_stmt *st;
	int rc = db_prepare(db,
		"SELECT (SELECT count(*) FROM images),"
		" (SELECT count(*) FROM images WHERE embedding IS NOT NULL),"
		" (SELECT count(*) FROM images WHERE is_url),"
		" (SELECT count(DISTINCT label) FROM images),"
		" (SELECT count(*) FROM errors),"
		" (SELECT count(*) FROM models)", &st, err);
	memset(s, 0, sizeof *s);
	if (rc < 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->images = sqlite3_column_int64(st, 0);
		s->embedded = sqlite3_column_int64(st, 1);
		s->urls = sqlite3_column_int64(st, 2);
		s->labels = sqlite3_column_int64(st, 3);
		s->errors = sqlite3_column_int64(st, 4);
		s->models = sqlite3_column_int64(st, 5);
	} else {
		rc = db_fail(db, err);
	}
	sqlite3_finalize(st);
	return rc;
}
