/*
 * pairs_ring.h -- 'mpirun -np N siam dedup': the all-pairs search of
 * siam_db_pairs split over the ranks (src/mpi/pairs_ring.c; the split
 * and the schedule in ring_plan.h).  Rank 0 owns the database: it
 * loads the matrix (siam_db_embeddings), sends each rank its block of
 * rows, the blocks go around the ring, each rank searches its share
 * of the block pairs with siam_pairs_between, and rank 0 gathers the
 * pairs in siam_db_pairs's order -- the same list, bit for bit.  No
 * <mpi.h> here; a build without MPI has stubs (none.c) that are never
 * reached, since there is one rank.
 */
#ifndef SIAM_MPI_PAIRS_RING_H
#define SIAM_MPI_PAIRS_RING_H

#include "siam.h"

#include <stddef.h>
#include <stdint.h>

typedef struct siam_mpi_pairs_stats {
	int ranks;
	int64_t rows;
	double seconds;   /* rank 0, from the header sent to the pairs sorted */
	uint64_t *sent;   /* per rank: bytes it handed MPI to send (its block
	                   * from rank 0, the blocks around the ring, its
	                   * pairs back); malloc'ed, siam_mpi_pairs_stats_free */
	double *cpu;      /* per rank: its CPU seconds in the search (a
	                   * loaded machine's ranks wait for a core: this is
	                   * what they would take alone); likewise */
} siam_mpi_pairs_stats;
void siam_mpi_pairs_stats_free(siam_mpi_pairs_stats *st);

/* Rank 0, while every other rank waits in siam_mpi_pairs_worker: the
 * pairs within threshold of the n rows of x (dim floats each), as
 * siam_db_pairs gives them but with a and b row numbers, into *pairs
 * (malloc'ed, the caller frees it; *np of them); st (may be NULL) gets
 * the figures.  Returns 0, or 1 when a search failed on some rank:
 * that rank said why (naming itself) and every rank returns.  Running
 * out of memory or an MPI failure still ends the run (siam_mpi_abort). */
int siam_mpi_pairs(const float *x, int64_t n, int dim, double threshold,
                   siam_db_pair **pairs, size_t *np,
                   siam_mpi_pairs_stats *st);
/* Rank 0 instead, when it will not search (no cnn pairs asked for, or
 * it failed before: failed = 1): lets the waiting ranks go. */
void siam_mpi_pairs_stop(int failed);
/* Ranks 1..N-1: wait for rank 0's siam_mpi_pairs (and take part) or
 * siam_mpi_pairs_stop.  Returns 0, or 1 when rank 0 stopped because it
 * failed or a search failed on some rank (the failing rank said why). */
int siam_mpi_pairs_worker(void);

#endif
