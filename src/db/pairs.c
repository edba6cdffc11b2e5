/*
 * pairs.c (src/db/) -- siam_db_pairs: every pair of a model's images
 * within a distance, for siam dedup and any program linking libsiam.
 * The matrix comes from db_embeddings_matrix, the search from
 * src/pairs.c, the same two steps as the siam_pairs table
 * (src/sqlite/pairs_vtab.c), so the two return the same pairs; and
 * the two halves of it apart, for mpirun siam dedup (src/mpi/
 * pairs_ring.c): siam_db_embeddings gives the matrix, siam_pairs_between
 * searches a block of it against another.  siam_db_neighbours is the
 * same with each image's k nearest (src/pairs_knn.c) for the crop check
 * of siam dedup.
 */
#include "db/stmt.h"
#include "nn/nn.h" /* nn_threads: siam_set_threads's count */
#include "pairs.h"

#include <math.h>
#include <stdlib.h>

/* siam_db_pairs (k 0) and siam_db_neighbours (k > 0): the matrix of
 * model_id searched by pairs_search or pairs_knn, rows turned into ids. */
static int db_search(sqlite3 *db, int64_t model_id, int k, double threshold,
                     siam_db_pair **pairs, size_t *n, siam_error *err)
{
	db_matrix m = {0};
	pairs_list l = {0};
	int dim = 0, rc;
	*pairs = NULL;
	*n = 0;
	if (!(threshold >= 0) || isinf(threshold))
		return siam_errorf(err, SIAM_EINVAL, "threshold must be a "
		                   "finite number >= 0, found %g", threshold);
	rc = db_model_dim(db, model_id, &dim, err);
	if (rc == 1)
		rc = siam_errorf(err, SIAM_EINVAL, "%s: no model with id %lld",
		                 db_name(db), (long long)model_id);
	if (rc != 0)
		goto out;
	if ((rc = db_embeddings_matrix(db, model_id, dim, &m, err)) != 0) {
		rc = rc < 0 ? rc : SIAM_EDB;
		goto out;
	}
	if ((k ? pairs_knn(&l, m.x, m.n, dim, k, threshold, nn_threads())
	       : pairs_search(&l, m.x, m.n, dim, threshold, nn_threads())) < 0) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory listing the "
		                 "pairs of %lld images", (long long)m.n);
		goto out;
	}
	if (l.n) {
		siam_db_pair *p = malloc((size_t)l.n * sizeof *p);
		if (!p) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory "
			                 "listing %lld pairs", (long long)l.n);
			goto out;
		}
		for (int64_t i = 0; i < l.n; i++) {
			p[i].a = m.ids[l.v[i].a];
			p[i].b = m.ids[l.v[i].b];
			p[i].distance = sqrt((double)l.v[i].ssd);
		}
		*pairs = p;
		*n = (size_t)l.n;
	}
out:
	db_matrix_free(&m);
	pairs_list_free(&l);
	return rc;
}

int siam_db_pairs(sqlite3 *db, int64_t model_id, double threshold,
                  siam_db_pair **pairs, size_t *n, siam_error *err)
{
	return db_search(db, model_id, 0, threshold, pairs, n, err);
}

int siam_db_neighbours(sqlite3 *db, int64_t model_id, int k,
                       double maxdist, siam_db_pair **pairs, size_t *n,
                       siam_error *err)
{
	*pairs = NULL;
	*n = 0;
	if (k < 1)
		return siam_errorf(err, SIAM_EINVAL, "neighbours: k must be at "
		                   "least 1, found %d", k);
	return db_search(db, model_id, k, maxdist, pairs, n, err);
}

int siam_db_embeddings(sqlite3 *db, int64_t model_id, float **x,
                       int64_t **ids, int64_t *n, int *dim, siam_error *err)
{
	db_matrix m = {0};
	int rc;
	*x = NULL;
	*ids = NULL;
	*n = 0;
	*dim = 0;
	rc = db_model_dim(db, model_id, dim, err);
	if (rc == 1)
		rc = siam_errorf(err, SIAM_EINVAL, "%s: no model with id %lld",
		                 db_name(db), (long long)model_id);
	if (rc != 0)
		return rc;
	if ((rc = db_embeddings_matrix(db, model_id, *dim, &m, err)) != 0) {
		db_matrix_free(&m);
		return rc < 0 ? rc : SIAM_EDB;
	}
	if (m.n) {
		*x = m.x;
		*ids = m.ids;
		*n = m.n;
	} else
		db_matrix_free(&m);
	return 0;
}

int siam_pairs_between(const float *xa, int64_t a0, int64_t na,
                       const float *xb, int64_t b0, int64_t nb, int dim,
                       double threshold, siam_db_pair **pairs, size_t *n,
                       size_t *cap, siam_error *err)
{
	pairs_list l = {0};
	if (!(threshold >= 0) || isinf(threshold))
		return siam_errorf(err, SIAM_EINVAL, "threshold must be a "
		                   "finite number >= 0, found %g", threshold);
	if (dim < 1 || a0 < 0 || na < 0 || b0 < 0 || nb < 0 ||
	    (xb && a0 + na > b0))
		return siam_errorf(err, SIAM_EINVAL, "pairs between rows "
		                   "%lld+%lld and %lld+%lld (dim %d): not one "
		                   "block nor two in order", (long long)a0,
		                   (long long)na, (long long)b0, (long long)nb,
		                   dim);
	if (pairs_search_between(&l, xa, na, xb, xb ? nb : 0, dim, threshold,
	                         nn_threads()) < 0)
		goto oom;
	if (*n + (size_t)l.n > *cap) {
		size_t c = *cap ? *cap : 256;
		while (c < *n + (size_t)l.n)
			c *= 2;
		siam_db_pair *p = realloc(*pairs, c * sizeof *p);
		if (!p)
			goto oom;
		*pairs = p;
		*cap = c;
	}
	if (!xb)
		b0 = a0;
	for (int64_t i = 0; i < l.n; i++) {
		siam_db_pair *p = &(*pairs)[(*n)++];
		p->a = a0 + l.v[i].a;
		p->b = b0 + l.v[i].b;
		p->distance = sqrt((double)l.v[i].ssd);
	}
	pairs_list_free(&l);
	return 0;
oom:
	pairs_list_free(&l);
	return siam_errorf(err, SIAM_ENOMEM, "out of memory listing the "
	                   "pairs of %lld by %lld rows", (long long)na,
	                   (long long)(xb ? nb : na));
}
