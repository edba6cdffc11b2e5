/*
 * index.h -- 'mpirun -np N siam index' (src/mpi/index.c): rank 0 walks
 * and writes, as siam_index_run always does, and hands the files out in
 * batches, on request, to ranks 1..N-1 through a siam_index_farm; they
 * read, decode and embed them (siam_index_process) and send back what a
 * local run would have computed.  No <mpi.h> here: cmd_index.c includes
 * it in MPI builds only (#ifdef SIAM_MPI).
 */
#ifndef SIAM_MPI_INDEX_H
#define SIAM_MPI_INDEX_H

#include "siam.h"

#include <stddef.h>
#include <stdint.h>

/* The model every rank embeds with, rank 0's: on rank 0 *m is the
 * model (NULL when its setup failed: every rank then returns -1); on
 * the others it receives a copy (siam_model_free it).  Returns 0 or
 * -1 (a message printed by rank 0 alone, or an abort). */
int siam_mpi_share_model(siam_model **m);

typedef struct siam_mpi_farm siam_mpi_farm;
/* Rank 0: a farm over ranks 1..N-1 handing out batches of `batch`
 * files; put it in opts->farm (*f is filled).  NULL when out of
 * memory. */
siam_mpi_farm *siam_mpi_farm_new(siam_index_farm *f, int batch);
/* Rank 0, after siam_index_run returns, whatever it returned: tells
 * every worker to stop (receiving what they still send), frees the
 * farm.  *bytes (may be NULL) gets the bytes rank 0 sent and received. */
void siam_mpi_farm_end(siam_mpi_farm *farm, uint64_t *bytes);

/* Ranks 1..N-1: ask rank 0 for batches, process them with
 * siam_index_process, send the results, until rank 0 says stop.
 * Returns 0; a failure aborts the run with a message naming the
 * rank. */
int siam_mpi_index_worker(siam_model *m, const siam_index_opts *opts);

#endif
