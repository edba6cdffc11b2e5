/*
 * ring_plan.h -- who computes what in 'mpirun siam dedup's all-pairs
 * search (src/mpi/pairs_ring.c), as plain arithmetic without MPI so
 * that a test checks it for every row and rank count
 * (tests/test_ring_plan.c).
 *
 * The n rows are cut into one block per rank, in rank order, sizes
 * differing by at most one.  At step 0 a rank searches its own block;
 * then the blocks move one place around the ring (rank r sends what it
 * holds to r - 1 and receives from r + 1), so at step k rank r holds
 * block (r + k) mod N.  Each pair of blocks {r, s} meets twice, at
 * steps (s - r) mod N and (r - s) mod N; it is searched at the smaller.
 * For an even N both are N / 2: there the two ranks share the search,
 * each taking half of the lower block's rows against the whole upper
 * block (had one rank done all, the lower half of the ranks would do a
 * whole block pair more than the others: at 2 ranks, 3/4 of the work
 * on rank 0).  So N / 2 moves cover every pair of rows exactly once,
 * in equal shares to within a block's rounding.
 */
#ifndef SIAM_MPI_RING_PLAN_H
#define SIAM_MPI_RING_PLAN_H

#include <stdint.h>

/* Rank r's block of n rows among size ranks: rows *lo .. *lo + *cnt - 1
 * (*cnt may be 0 when n < size). */
void siam_mpi_ring_block(int64_t n, int size, int r, int64_t *lo,
                         int64_t *cnt);
/* The moves after step 0: size / 2. */
int siam_mpi_ring_steps(int size);
/* The block rank r holds at step k. */
int siam_mpi_ring_holds(int size, int r, int k);
/* What rank r searches at step k between its block and the one it
 * holds: RING_NONE, RING_ALL (every pair of the two, or within its own
 * at step 0), or for an even size at step size / 2 RING_FIRST or
 * RING_SECOND: the first or second half of the lower block's rows
 * against the whole upper block. */
enum { RING_NONE, RING_ALL, RING_FIRST, RING_SECOND };
int siam_mpi_ring_searches(int size, int r, int k);
/* The rows of a block of cnt rows that a RING_* share takes, from
 * *off, *len of them (RING_ALL: all; RING_FIRST: the first cnt / 2). */
void siam_mpi_ring_share(int share, int64_t cnt, int64_t *off,
                         int64_t *len);
/* All of the above as rows of the n-row matrix: what rank r searches
 * at step k.  *same = 1 (step 0): the pairs within rows *a0 .. *a0 +
 * *na - 1, its own block (*b0, *nb the same rows).  *same = 0: every
 * row *a0 .. *a0 + *na - 1 (its share of the lower block) against
 * every row *b0 .. *b0 + *nb - 1 (the upper block), *a0 + *na <= *b0.
 * *na or *nb 0: nothing.  Every row is in the rank's own block or the
 * one it holds at step k: pairs_ring.c finds it there, and
 * tests/test_ring_plan runs these same searches in one process. */
void siam_mpi_ring_task(int64_t n, int size, int r, int k, int *same,
                        int64_t *a0, int64_t *na, int64_t *b0,
                        int64_t *nb);

#endif
