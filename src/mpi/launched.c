/*
 * launched.c -- siam_mpi_launched: whether mpirun started this process,
 * from the variables launchers set.  Both builds use it: the MPI build
 * to decide whether to call MPI_Init at all (a plain 'siam query' of an
 * MPI build stays a plain process), the plain build to refuse a run of
 * N copies that would each write the same database.
 */
#include "config.h"
#include "mpi/world.h"

#include <stdlib.h>

int siam_mpi_launched(void)
{
	/* OpenMPI's mpirun, MPICH's Hydra (and Intel MPI), then PMIx. */
	static const char *const vars[] = {
		"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL
	};
	for (int i = 0; vars[i]; i++) {
		const char *v = getenv(vars[i]);
		if (v && *v) {
			int n = atoi(v);
			return n > 0 ? n : 1;
		}
	}
	/* A PMIx launcher that gives only the rank. */
	return getenv("PMIX_RANK") ? 1 : 0;
}
