/*
 * init.c -- starting and stopping MPI (--with-mpi builds): MPI_Init
 * only when mpirun started the process, errors returned to siam (not
 * MPI's default of aborting without a word) so siam_mpi_check can say
 * which rank failed and at what.
 */
#include "config.h"
#include "mpi/world.h"
#include "mpi/mpi_internal.h"

#include <mpi.h>
#include <stdio.h>

static int started;

int siam_mpi_start(int *argc, char ***argv, char *err, size_t errlen)
{
	if (!siam_mpi_launched())
		return 0;
	int rc = MPI_Init(argc, argv);
	if (rc != MPI_SUCCESS) {
		snprintf(err, errlen, "MPI_Init failed (%d)", rc);
		return -1;
	}
	started = 1;
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	siam_mpi_world_init();
	return 0;
}

void siam_mpi_stop(void)
{
	if (!started)
		return;
	started = 0;
	MPI_Finalize();
}
