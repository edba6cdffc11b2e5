/*
 * world.h -- siam's MPI layer as the commands see it: start and stop,
 * this process's rank and the number of ranks, and a clean abort that
 * names the failing rank.  Nothing here includes <mpi.h>, so a command
 * calls these the same in a plain build (src/mpi/none.c: one rank,
 * and a clear refusal when started by mpirun) and in a --with-mpi
 * build (src/mpi/init.c, rank.c, abort.c).
 */
#ifndef SIAM_MPI_WORLD_H
#define SIAM_MPI_WORLD_H

#include <stddef.h>

/* The number of processes mpirun (OpenMPI, MPICH's Hydra, or any PMIx
 * launcher) started, read from the environment it sets; 0 when this
 * process was not started by one.  Needs no MPI library. */
int siam_mpi_launched(void);

/* Starts MPI when mpirun started this process (MPI_Init, errors
 * returned rather than fatal), else does nothing: a plain 'siam'
 * invocation of an MPI build never touches MPI.  Returns 0, or -1 with
 * a message in err (a plain build started by mpirun with more than one
 * process). */
int siam_mpi_start(int *argc, char ***argv, char *err, size_t errlen);
/* MPI_Finalize if siam_mpi_start started MPI; else nothing. */
void siam_mpi_stop(void);

/* This process's rank (0 without MPI) and the number of ranks (1). */
int siam_mpi_rank(void);
int siam_mpi_size(void);
/* "rank R of N on HOST", for messages ("" without MPI).  Static
 * storage, valid until siam_mpi_stop. */
const char *siam_mpi_where(void);

/* Prints "siam: rank R of N on HOST: MESSAGE" to stderr and ends every
 * rank of the run with status (MPI_Abort), so no rank waits forever on
 * one that failed.  Without MPI: prints "siam: MESSAGE" and exits. */
void siam_mpi_abort(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* For an MPI call's return code: nothing when rc is MPI_SUCCESS (0),
 * else siam_mpi_abort with what failed and MPI's error string. */
void siam_mpi_check(int rc, const char *what);

#endif
