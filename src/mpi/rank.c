/*
 * rank.c -- this process's place in the MPI run: rank, number of
 * ranks, and a "rank R of N on HOST" label for messages, read once
 * after MPI_Init (the commands ask often, MPI need not be asked).
 */
#include "config.h"
#include "mpi/world.h"
#include "mpi/mpi_internal.h"

#include <mpi.h>
#include <stdio.h>

static int world_rank, world_size = 1;
static char where[64 + MPI_MAX_PROCESSOR_NAME];

void siam_mpi_world_init(void)
{
	char host[MPI_MAX_PROCESSOR_NAME] = "";
	int len = 0;
	MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
	MPI_Comm_size(MPI_COMM_WORLD, &world_size);
	if (MPI_Get_processor_name(host, &len) != MPI_SUCCESS)
		host[0] = '\0';
	snprintf(where, sizeof where, "rank %d of %d%s%s", world_rank,
	         world_size, host[0] ? " on " : "", host);
}

int siam_mpi_rank(void) { return world_rank; }
int siam_mpi_size(void) { return world_size; }
const char *siam_mpi_where(void) { return where; }
