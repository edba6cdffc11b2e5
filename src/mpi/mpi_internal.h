/*
 * mpi_internal.h -- what the files of src/mpi/ share in an MPI build
 * (never included by the commands: they use world.h).
 */
#ifndef SIAM_MPI_INTERNAL_H
#define SIAM_MPI_INTERNAL_H

/* Reads rank, size and host from MPI_COMM_WORLD once, after MPI_Init
 * (rank.c). */
void siam_mpi_world_init(void);

#endif
