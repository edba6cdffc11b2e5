/*
 * mpi_probe.c -- src/mpi/ on its own, for tests/mpi.sh: run under
 * mpirun, each rank prints "rank R of N sum S" (S: the sum of every
 * rank's rank, by MPI_Allreduce, so the ranks really talk); with
 * "abort R" rank R ends the run through siam_mpi_abort while the other
 * ranks wait in a barrier that never completes, so the test sees both
 * the message naming the rank and that nobody hangs.
 */
#include "config.h"
#include "mpi/world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef SIAM_MPI
#include <mpi.h>
#endif

int main(int argc, char **argv)
{
	char err[256];
	if (siam_mpi_start(&argc, &argv, err, sizeof err) != 0) {
		fprintf(stderr, "mpi_probe: %s\n", err);
		return 2;
	}
	int rank = siam_mpi_rank(), size = siam_mpi_size();
	long sum = rank;
#ifdef SIAM_MPI
	if (size > 1)
		siam_mpi_check(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_LONG,
		                             MPI_SUM, MPI_COMM_WORLD),
		               "MPI_Allreduce");
#endif
	if (argc == 3 && !strcmp(argv[1], "abort")) {
		if (rank == atoi(argv[2]))
			siam_mpi_abort(3, "the probe fails on purpose");
#ifdef SIAM_MPI
		MPI_Barrier(MPI_COMM_WORLD);
#endif
	}
	printf("rank %d of %d sum %ld\n", rank, size, sum);
	fflush(stdout);
	siam_mpi_stop();
	return 0;
}
