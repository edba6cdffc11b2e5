/*
 * train_comm.h -- `mpirun siam train`: the siam_train_comm of an MPI
 * run (train_comm.c, --with-mpi builds only).
 */
#ifndef SIAM_MPI_TRAIN_COMM_H
#define SIAM_MPI_TRAIN_COMM_H

#include "siam_nn.h"

typedef struct siam_mpi_train_stats {
	/* Bytes every rank contributed to the run's sums (gradients, the
	 * loss, the stop flags), for the bytes sent per step. */
	unsigned long long summed;
	unsigned long long steps;   /* gradient sums: training steps */
} siam_mpi_train_stats;

/* Fills c with MPI_COMM_WORLD's rank, size and collectives; st (may be
 * NULL) counts what they carried and must outlive the run. */
void siam_mpi_train_comm(siam_train_comm *c, siam_mpi_train_stats *st);

#endif
