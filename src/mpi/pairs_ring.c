/*
 * pairs_ring.c -- 'mpirun -np N siam dedup's all-pairs search (see
 * pairs_ring.h, and ring_plan.h for who searches what).
 *
 *   rank 0                               every rank r
 *   ------                               ------------
 *   header: go, n, dim, threshold  ->    (Bcast)
 *   rows of block r                ->    (Scatterv; rank 0 keeps its
 *                                        own in place)
 *                                        step 0: own block's pairs;
 *                                        steps 1 .. N/2: send the held
 *                                        block to r - 1, receive from
 *                                        r + 1, search own x held (or
 *                                        a half) when the plan says so
 *   counts, then pairs             <-    (Gather, Send)
 *   sort by (a, b)
 *
 * Each rank holds its block and two in transit: 3/N of the matrix
 * (rank 0 also the whole, which it loaded).  The next block is on its
 * way while a rank searches the one it holds (Isend/Irecv), so on a
 * network the ring costs little more than its slowest link.  The search
 * itself is siam_pairs_between, whose verdict and distance per pair do
 * not depend on the blocking: N ranks give one process's pairs bit for
 * bit.  A search that fails on a rank is said by that rank; it keeps
 * passing blocks, and the ranks agree on the failure before gathering
 * the pairs, so every rank returns (search_failed).  Running out of
 * memory or an MPI error still ends every rank with its message
 * (siam_mpi_abort): the others are inside collectives and would wait
 * forever.
 */
#include "config.h"
#include "mpi/pairs_ring.h"
#include "mpi/ring_plan.h"
#include "mpi/world.h"

#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_BLOCK = 81, TAG_PAIRS = 82 };

typedef struct ring_header {
	int64_t go, failed, n, dim;
	double threshold;
} ring_header;

static void *ring_alloc(size_t n, const char *what)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		siam_mpi_abort(2, "dedup: out of memory for %s",
		               what);
	return p;
}

void siam_mpi_pairs_stats_free(siam_mpi_pairs_stats *st)
{
	if (!st)
		return;
	free(st->sent);
	free(st->cpu);
	st->sent = NULL;
	st->cpu = NULL;
}

static void send_header(ring_header *h)
{
	siam_mpi_check(MPI_Bcast(h, (int)sizeof *h, MPI_BYTE, 0,
	                         MPI_COMM_WORLD), "sending the pair search");
}

/* Where row `row` of the matrix is on this rank: in its own block
 * (rows lo .. lo + cnt - 1) or the one it holds (from hlo); ring_plan.c
 * only hands out rows of those two. */
static const float *row_at(int64_t row, const float *own, int64_t lo,
                           int64_t cnt, const float *hold, int64_t hlo,
                           int dim)
{
	return row >= lo && row < lo + cnt ? own + (size_t)(row - lo) * dim :
	       hold + (size_t)(row - hlo) * dim;
}

/* A search that failed on this rank: its message, named by rank as
 * siam_mpi_abort's are, and 1.  The rank goes on passing blocks, and
 * the ranks agree on the failure before the gather, so the run ends
 * with every rank returning rather than through MPI_Abort (OpenMPI
 * 4.1's mpirun sometimes crashed or hung after one: tests/mpi_dedup.sh
 * saw both). */
static int search_failed(const char *msg)
{
	fprintf(stderr, "siam: %s: dedup: %s\n", siam_mpi_where(), msg);
	fflush(stderr);
	return 1;
}

/* What rank r searches at step k (siam_mpi_ring_task) between its own
 * block (own: rows lo .. lo + cnt - 1) and the block it holds (hold:
 * rows from hlo), appended to *p. */
static int search(int64_t n, int P, int r, int k, const float *own,
                  int64_t lo, int64_t cnt, const float *hold, int64_t hlo,
                  int dim, double t, siam_db_pair **p, size_t *np,
                  size_t *cap)
{
	siam_error err = { 0, "" };
	int64_t a0, na, b0, nb;
	int same, rc;
	siam_mpi_ring_task(n, P, r, k, &same, &a0, &na, &b0, &nb);
	if (!na || !nb)
		return 0;
#ifdef SIAM_TEST_HOOKS /* tests/siam-hooked: a rank fails, or dies */
	const char *fr = getenv("SIAM_TEST_MPI_PAIRS_FAIL_RANK");
	const char *kr = getenv("SIAM_TEST_MPI_PAIRS_KILL_RANK");
	if (fr && atoi(fr) == siam_mpi_rank())
		return search_failed("a search that fails on purpose "
		                     "(SIAM_TEST_MPI_PAIRS_FAIL_RANK)");
	if (kr && atoi(kr) == siam_mpi_rank())
		raise(SIGKILL);
#endif
	rc = siam_pairs_between(row_at(a0, own, lo, cnt, hold, hlo, dim), a0,
	                        na, same ? NULL :
	                        row_at(b0, own, lo, cnt, hold, hlo, dim),
	                        same ? 0 : b0, same ? 0 : nb, dim, t, p, np,
	                        cap, &err);
	return rc ? search_failed(err.msg) : 0;
}

/* This process's CPU seconds: what a rank spent, whatever share of a
 * core a loaded machine gave it (and with OpenMPI's spinning waits). */
static double cpu_now(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		return 0;
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_pair(const void *pa, const void *pb)
{
	const siam_db_pair *p = pa, *q = pb;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return (p->b > q->b) - (p->b < q->b);
}

/* Every rank, after the header: x is the matrix on rank 0, NULL
 * elsewhere; rank 0 gets every pair in *all (*nall), sorted, and the
 * bytes each rank sent and its CPU seconds in *sent_all and *cpu_all
 * (size entries each). */
static int ring(const float *x, const ring_header *h, siam_db_pair **all,
                size_t *nall, uint64_t *sent_all, double *cpu_all)
{
	double cpu0 = cpu_now();
	int P = siam_mpi_size(), r = siam_mpi_rank();
	int64_t n = h->n, lo, cnt, lo0, big;
	int dim = (int)h->dim;
	double t = h->threshold;
	uint64_t sent = 0;
	int failed = 0;
	size_t rowb = (size_t)dim * sizeof(float);
	MPI_Datatype row, pair;
	siam_mpi_check(MPI_Type_contiguous(dim, MPI_FLOAT, &row),
	               "making the row type");
	siam_mpi_check(MPI_Type_commit(&row), "making the row type");
	siam_mpi_check(MPI_Type_contiguous((int)sizeof(siam_db_pair), MPI_BYTE,
	                                   &pair), "making the pair type");
	siam_mpi_check(MPI_Type_commit(&pair), "making the pair type");
	siam_mpi_ring_block(n, P, r, &lo, &cnt);
	siam_mpi_ring_block(n, P, 0, &lo0, &big); /* block 0 is the largest */

	/* Scatter: counts and offsets in rows (rank 0 checked n fits) */
	int *counts = NULL, *offs = NULL;
	if (r == 0) {
		counts = ring_alloc((size_t)P * sizeof *counts, "the blocks");
		offs = ring_alloc((size_t)P * sizeof *offs, "the blocks");
		for (int q = 0; q < P; q++) {
			int64_t l, c;
			siam_mpi_ring_block(n, P, q, &l, &c);
			counts[q] = (int)c;
			offs[q] = (int)l;
			if (q)
				sent += (uint64_t)c * rowb;
		}
	}
	float *own = r == 0 ? (float *)x :
	             ring_alloc((size_t)cnt * rowb, "this rank's block");
	siam_mpi_check(MPI_Scatterv(x, counts, offs, row,
	                            r == 0 ? MPI_IN_PLACE : own, (int)cnt, row,
	                            0, MPI_COMM_WORLD),
	               "sending the blocks of rows");
	free(counts);
	free(offs);

	int steps = siam_mpi_ring_steps(P);
	float *vis[2] = { NULL, NULL };
	if (steps > 0) {
		vis[0] = ring_alloc((size_t)big * rowb, "a visiting block");
		vis[1] = ring_alloc((size_t)big * rowb, "a visiting block");
	}
	siam_db_pair *p = NULL;
	size_t np = 0, cap = 0;
	const float *hold = own;
	int64_t hlo = lo, hcnt = cnt;
	int left = (r + P - 1) % P, right = (r + 1) % P;
	for (int k = 0; k <= steps; k++) {
		/* the next block on its way while this one is searched */
		MPI_Request rq[2];
		int64_t nlo = 0, ncnt = 0;
		if (k < steps) {
			int nb = siam_mpi_ring_holds(P, r, k + 1);
			siam_mpi_ring_block(n, P, nb, &nlo, &ncnt);
			siam_mpi_check(MPI_Irecv(vis[(k + 1) & 1], (int)ncnt, row,
			                         right, TAG_BLOCK, MPI_COMM_WORLD,
			                         &rq[0]), "receiving a block");
			siam_mpi_check(MPI_Isend(hold, (int)hcnt, row, left,
			                         TAG_BLOCK, MPI_COMM_WORLD, &rq[1]),
			               "sending a block");
			sent += (uint64_t)hcnt * rowb;
		}
		if (!failed)
			failed = search(n, P, r, k, own, lo, cnt, hold, hlo,
			                dim, t, &p, &np, &cap);
		if (k < steps) {
			siam_mpi_check(MPI_Waitall(2, rq, MPI_STATUSES_IGNORE),
			               "passing a block around the ring");
			hold = vis[(k + 1) & 1];
			hlo = nlo;
			hcnt = ncnt;
		}
	}
	free(vis[0]);
	free(vis[1]);
	if (r != 0)
		free(own);
	int any_failed = 0;
	siam_mpi_check(MPI_Allreduce(&failed, &any_failed, 1, MPI_INT,
	                             MPI_MAX, MPI_COMM_WORLD),
	               "agreeing on the searches");
	if (any_failed) {
		free(p);
		MPI_Type_free(&row);
		MPI_Type_free(&pair);
		return 1;
	}

	/* Gather: the counts, then each rank's pairs in rank order */
	uint64_t mine = np, *each = NULL;
	if (r == 0)
		each = ring_alloc((size_t)P * sizeof *each, "the pair counts");
	siam_mpi_check(MPI_Gather(&mine, 1, MPI_UINT64_T, each, 1,
	                          MPI_UINT64_T, 0, MPI_COMM_WORLD),
	               "gathering the pair counts");
	if (r != 0) {
		sent += sizeof mine;
		if (np > INT_MAX)
			siam_mpi_abort(2, "dedup: %zu pairs on one "
			               "rank, more than MPI sends at once: "
			               "lower --threshold", np);
		if (np)
			siam_mpi_check(MPI_Send(p, (int)np, pair, 0, TAG_PAIRS,
			                        MPI_COMM_WORLD),
			               "sending the pairs to rank 0");
		sent += (uint64_t)np * sizeof *p;
		free(p);
	} else {
		size_t total = 0;
		for (int q = 0; q < P; q++)
			total += (size_t)each[q];
		siam_db_pair *v = ring_alloc(total * sizeof *v, "the pairs");
		if (np)
			memcpy(v, p, np * sizeof *p);
		free(p);
		size_t off = np;
		for (int q = 1; q < P; q++) {
			if (each[q] > INT_MAX)
				siam_mpi_abort(2, "dedup: %llu pairs "
				               "on rank %d, more than MPI sends "
				               "at once: lower --threshold",
				               (unsigned long long)each[q], q);
			if (each[q])
				siam_mpi_check(MPI_Recv(v + off, (int)each[q],
				                        pair, q, TAG_PAIRS,
				                        MPI_COMM_WORLD,
				                        MPI_STATUS_IGNORE),
				               "receiving the pairs");
			off += (size_t)each[q];
		}
		/* siam_db_pairs's order; each pair came from one rank */
		if (total > 1)
			qsort(v, total, sizeof *v, cmp_pair);
		*all = v;
		*nall = total;
		free(each);
	}
	double cpu = cpu_now() - cpu0;
	siam_mpi_check(MPI_Gather(&sent, 1, MPI_UINT64_T, sent_all, 1,
	                          MPI_UINT64_T, 0, MPI_COMM_WORLD),
	               "gathering the byte counts");
	siam_mpi_check(MPI_Gather(&cpu, 1, MPI_DOUBLE, cpu_all, 1, MPI_DOUBLE,
	                          0, MPI_COMM_WORLD),
	               "gathering the CPU times");
	MPI_Type_free(&row);
	MPI_Type_free(&pair);
	return 0;
}

int siam_mpi_pairs(const float *x, int64_t n, int dim, double threshold,
                   siam_db_pair **pairs, size_t *np,
                   siam_mpi_pairs_stats *st)
{
	int P = siam_mpi_size();
	double t0 = MPI_Wtime();
	ring_header h = { 1, 0, n, dim, threshold };
	*pairs = NULL;
	*np = 0;
	/* Scatterv counts and offsets are ints of rows */
	if (n > INT_MAX)
		siam_mpi_abort(2, "dedup: %lld images, more than "
		               "the %d rows MPI can address", (long long)n,
		               INT_MAX);
	send_header(&h);
	uint64_t *sent = ring_alloc((size_t)P * sizeof *sent, "the byte counts");
	double *cpu = ring_alloc((size_t)P * sizeof *cpu, "the CPU times");
	if (ring(x, &h, pairs, np, sent, cpu)) {
		free(sent);
		free(cpu);
		return 1;
	}
	sent[0] += (uint64_t)(P - 1) * sizeof h;
	if (st) {
		st->ranks = P;
		st->rows = n;
		st->seconds = MPI_Wtime() - t0;
		st->sent = sent;
		st->cpu = cpu;
	} else {
		free(sent);
		free(cpu);
	}
	return 0;
}

void siam_mpi_pairs_stop(int failed)
{
	ring_header h = { 0, failed, 0, 0, 0 };
	send_header(&h);
}

int siam_mpi_pairs_worker(void)
{
	ring_header h;
	send_header(&h);
	if (!h.go)
		return h.failed ? 1 : 0;
	return ring(NULL, &h, NULL, NULL, NULL, NULL);
}
