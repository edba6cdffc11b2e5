/*
 * pairs.c (src/db/) -- siam_db_pairs: every pair of a model's images
 * within a distance, for siam dedup and any program linking libsiam.
 * The matrix comes from db_embeddings_matrix, the search from
 * src/pairs.c, the same two steps as the siam_pairs table
 * (src/sqlite/pairs_vtab.c), so the two return the same pairs.
 */
#include "db/stmt.h"
#include "nn/nn.h" /* nn_threads: siam_set_threads's count */
#include "pairs.h"

#include <math.h>
#include <stdlib.h>

int siam_db_pairs(sqlite3 *db, int64_t model_id, double threshold,
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
	if (pairs_search(&l, m.x, m.n, dim, threshold, nn_threads()) < 0) {
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
