/*
 * model.c -- siam_mpi_share_model: rank 0's model to every rank, as the
 * bytes of its model file (siam_model_save_mem), so all ranks embed
 * with the same weights whatever the database or path said on rank 0.
 */
#include "config.h"
#include "mpi/index.h"
#include "mpi/world.h"

#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>

int siam_mpi_share_model(siam_model **m)
{
	void *buf = NULL;
	size_t len = 0;
	uint64_t n = 0;
	siam_error err = { 0, "" };
	if (siam_mpi_rank() == 0 && *m) {
		if (siam_model_save_mem(*m, &buf, &len, &err))
			siam_mpi_abort(2, "%s", err.msg);
		if (len > INT_MAX)
			siam_mpi_abort(2, "the model is over 2 GB: too big to "
			               "send to the other ranks");
		n = len;
	}
	siam_mpi_check(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD),
	               "sending the model's size");
	if (n == 0) /* rank 0 could not set up: it said why */
		return -1;
	if (siam_mpi_rank() != 0 && !(buf = malloc(n)))
		siam_mpi_abort(2, "out of memory for the model");
	siam_mpi_check(MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD),
	               "sending the model");
	if (siam_mpi_rank() != 0 && siam_model_load_mem(m, buf, n, "rank 0's model", &err))
		siam_mpi_abort(2, "the model rank 0 sent: %s", err.msg);
	free(buf);
	return 0;
}
