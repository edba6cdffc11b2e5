/*
 * test_ring_plan.c -- the plan of 'mpirun siam dedup's all-pairs ring
 * (src/mpi/ring_plan.c), without MPI: the blocks cover the rows once,
 * in rank order, sizes within one of each other, the first the largest
 * (the ring's buffers are sized by it) -- fewer rows than ranks, rows
 * not divisible by the ranks, 0 and 1 row included; every pair of
 * blocks is searched by exactly one rank at one step; and the ring's
 * searches -- siam_mpi_ring_task, the very rows src/mpi/pairs_ring.c
 * searches, each within the blocks the rank has at that step -- run
 * here one after the other give the naive pairs_search_ref's list bit
 * for bit, for 1 to 6 ranks.
 */
#include "mpi/ring_plan.h"
#include "pairs.h"
#include "siam.h"
#include "siam_nn.h"

#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_split(void)
{
	static const int64_t ns[] = { 0, 1, 2, 3, 5, 7, 10, 100, 1001 };
	for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
		for (int P = 1; P <= 7; P++) {
			int64_t next = 0, lo, cnt, first = 0;
			int good = 1;
			for (int r = 0; r < P; r++) {
				siam_mpi_ring_block(ns[i], P, r, &lo, &cnt);
				if (r == 0)
					first = cnt;
				good &= lo == next && cnt >= 0 && cnt <= first &&
				        first - cnt <= 1;
				next = lo + cnt;
			}
			tap_ok(good && next == ns[i], "%lld rows on %d ranks: "
			       "consecutive blocks, all rows, sizes within one, "
			       "the first the largest", (long long)ns[i], P);
		}
	/* the cases by hand */
	int64_t lo, cnt, got[4];
	for (int r = 0; r < 3; r++) {
		siam_mpi_ring_block(2, 3, r, &lo, &cnt);
		got[r] = cnt;
	}
	tap_ok(got[0] == 1 && got[1] == 1 && got[2] == 0,
	       "2 rows on 3 ranks: 1, 1, 0 (got %lld %lld %lld)",
	       (long long)got[0], (long long)got[1], (long long)got[2]);
	for (int r = 0; r < 3; r++) {
		siam_mpi_ring_block(7, 3, r, &lo, &cnt);
		got[r] = cnt;
	}
	tap_ok(got[0] == 3 && got[1] == 2 && got[2] == 2 && lo == 5,
	       "7 rows on 3 ranks: 3, 2, 2, the last from row 5");
	siam_mpi_ring_block(1, 4, 0, &lo, &cnt);
	int64_t c3;
	siam_mpi_ring_block(1, 4, 3, &lo, &c3);
	tap_ok(cnt == 1 && c3 == 0, "1 row on 4 ranks: rank 0 has it, rank "
	       "3 none");
	siam_mpi_ring_block(0, 2, 1, &lo, &cnt);
	tap_ok(lo == 0 && cnt == 0, "0 rows: empty blocks");
}

static void test_schedule(void)
{
	for (int P = 1; P <= 9; P++) {
		/* in halves of the lower block: 2 for all of a pair */
		int seen[9][9], work[9];
		memset(seen, 0, sizeof seen);
		memset(work, 0, sizeof work);
		for (int r = 0; r < P; r++)
			for (int k = 0; k <= siam_mpi_ring_steps(P); k++) {
				int sh = siam_mpi_ring_searches(P, r, k);
				int b = siam_mpi_ring_holds(P, r, k);
				int i = r < b ? r : b, j = r < b ? b : r;
				int h = sh == RING_ALL ? 2 : sh == RING_NONE ? 0 : 1;
				seen[i][j] += h;
				work[r] += k == 0 ? h : 2 * h;
			}
		int once = 1, lo = work[0], hi = work[0];
		for (int i = 0; i < P; i++)
			for (int j = i; j < P; j++)
				once &= seen[i][j] == 2;
		for (int r = 0; r < P; r++) {
			lo = work[r] < lo ? work[r] : lo;
			hi = work[r] > hi ? work[r] : hi;
		}
		tap_ok(once, "%d rank%s, %d move%s: every pair of blocks (and "
		       "each block with itself) searched exactly once", P,
		       P > 1 ? "s" : "", siam_mpi_ring_steps(P),
		       siam_mpi_ring_steps(P) == 1 ? "" : "s");
		/* in quarters of a block pair: a block with itself is 2 */
		tap_ok(lo == hi, "%d rank%s: every rank the same share of "
		       "the pairs (%d to %d quarter block pairs)", P,
		       P > 1 ? "s" : "", lo, hi);
	}
	int64_t off, len;
	siam_mpi_ring_share(RING_FIRST, 7, &off, &len);
	int64_t off2, len2;
	siam_mpi_ring_share(RING_SECOND, 7, &off2, &len2);
	tap_ok(off == 0 && len == 3 && off2 == 3 && len2 == 4,
	       "the halves of 7 rows: 0+3 and 3+4");
}

static int cmp_pair(const void *pa, const void *pb)
{
	const siam_db_pair *p = pa, *q = pb;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return (p->b > q->b) - (p->b < q->b);
}

/* 1 if rows a0 .. a0 + na - 1 are all in one of the blocks [lo, lo +
 * cnt) and [hlo, hlo + hcnt): where pairs_ring.c looks for them. */
static int held(int64_t a0, int64_t na, int64_t lo, int64_t cnt,
                int64_t hlo, int64_t hcnt)
{
	return (a0 >= lo && a0 + na <= lo + cnt) ||
	       (a0 >= hlo && a0 + na <= hlo + hcnt);
}

/* The ring of P ranks on x, one search after the other: each rank's
 * siam_mpi_ring_task at each step, searched as pairs_ring.c searches
 * it; the pairs sorted as rank 0 sorts them.  *where is cleared when a
 * task names a row the rank has not got at that step. */
static int ring_pairs(const float *x, int64_t n, int dim, double t, int P,
                      siam_db_pair **p, size_t *np, int *where)
{
	size_t cap = 0;
	siam_error err = { 0, "" };
	*p = NULL;
	*np = 0;
	for (int r = 0; r < P; r++) {
		int64_t lo, cnt;
		siam_mpi_ring_block(n, P, r, &lo, &cnt);
		for (int k = 0; k <= siam_mpi_ring_steps(P); k++) {
			int64_t hlo, hcnt, a0, na, b0, nb;
			int same, rc;
			siam_mpi_ring_block(n, P, siam_mpi_ring_holds(P, r, k),
			                    &hlo, &hcnt);
			siam_mpi_ring_task(n, P, r, k, &same, &a0, &na, &b0,
			                   &nb);
			if (!na || !nb)
				continue;
			*where &= held(a0, na, lo, cnt, hlo, hcnt) &&
			          held(b0, nb, lo, cnt, hlo, hcnt) &&
			          (same ? k == 0 && a0 == lo && na == cnt :
			                  a0 + na <= b0);
			rc = siam_pairs_between(x + (size_t)a0 * dim, a0, na,
			                        same ? NULL : x + (size_t)b0 * dim,
			                        same ? 0 : b0, same ? 0 : nb, dim,
			                        t, p, np, &cap, &err);
			if (rc) {
				tap_diag("%s", err.msg);
				return rc;
			}
		}
	}
	if (*np > 1)
		qsort(*p, *np, sizeof **p, cmp_pair);
	return 0;
}

static void test_ring(siam_rng *rng)
{
	static const int64_t ns[] = { 0, 1, 2, 5, 300, 700 };
	int dim = 16;
	for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
		int64_t n = ns[i];
		float *x = malloc((size_t)(n ? n : 1) * dim * sizeof *x);
		/* a quarter of originals, the rest near or exact copies of
		 * an earlier row, anywhere in the matrix (so across blocks);
		 * every odd row after the originals an exact copy, so that
		 * from 2 rows on there are pairs to find (with a copy only
		 * every 5th row, 2 and 5 rows had none: 0 == 0 at every
		 * rank count, where the blocks are smallest) */
		for (int64_t a = 0; a < n; a++) {
			float *r = x + (size_t)a * dim;
			if (a < n / 4 + 1)
				for (int j = 0; j < dim; j++)
					r[j] = siam_rng_normal(rng);
			else {
				const float *o = x + (size_t)siam_rng_below(
					rng, (uint32_t)a) * dim;
				float noise = a % 2 ? 0.0f : 0.05f;
				for (int j = 0; j < dim; j++)
					r[j] = o[j] + noise * siam_rng_normal(rng);
			}
		}
		double t = 0.2;
		pairs_list ref = {0};
		pairs_search_ref(&ref, x, n, dim, t);
		for (int P = 1; P <= 6; P++) {
			siam_db_pair *p = NULL;
			size_t np = 0;
			int where = 1;
			int same = ring_pairs(x, n, dim, t, P, &p, &np,
			                      &where) == 0 &&
			           np == (size_t)ref.n && (n < 2 || np > 0);
			for (size_t k = 0; same && k < np; k++) {
				double d = sqrt((double)ref.v[k].ssd);
				same = p[k].a == ref.v[k].a &&
				       p[k].b == ref.v[k].b &&
				       !memcmp(&p[k].distance, &d, sizeof d);
			}
			tap_ok(same && where, "%lld rows on %d rank%s: the "
			       "ring's %zu pairs are the reference's %lld, same "
			       "order and bits; each rank's rows in its own block "
			       "or the one it holds", (long long)n, P,
			       P > 1 ? "s" : "", np, (long long)ref.n);
			free(p);
		}
		pairs_list_free(&ref);
		free(x);
	}
	/* blocks out of order are refused, not searched */
	float x[4] = { 0, 0, 0, 0 };
	siam_db_pair *p = NULL;
	size_t np = 0, cap = 0;
	siam_error err = { 0, "" };
	int rc = siam_pairs_between(x, 1, 2, x, 0, 1, 1, 1.0, &p, &np, &cap,
	                            &err);
	tap_ok(rc == SIAM_EINVAL && np == 0, "rows 1+2 against row 0: "
	       "refused (%s)", err.msg);
	free(p);
}

int main(void)
{
	siam_rng rng;
	siam_rng_seed(&rng, 13);
	test_split();
	test_schedule();
	test_ring(&rng);
	return tap_done();
}
