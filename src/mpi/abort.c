/*
 * abort.c -- ending an MPI run cleanly when one rank fails: the message
 * names the rank and host, then MPI_Abort takes every rank down with
 * the status, so no rank is left blocked on a message that will never
 * come (the alternative is a hung job on every node).
 */
#include "config.h"
#include "mpi/world.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void siam_mpi_abort(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int inited = 0, finalized = 0;
	MPI_Initialized(&inited);
	MPI_Finalized(&finalized);
	if (!inited || finalized) {
		fprintf(stderr, "siam: %s\n", msg);
		exit(status);
	}
	/* One write, so lines of several ranks do not interleave. */
	fprintf(stderr, "siam: %s: %s\n", siam_mpi_where(), msg);
	fflush(stderr);
	MPI_Abort(MPI_COMM_WORLD, status);
	exit(status); /* MPI_Abort does not return; the compiler needs to know */
}

void siam_mpi_check(int rc, const char *what)
{
	if (rc == MPI_SUCCESS)
		return;
	char s[MPI_MAX_ERROR_STRING] = "";
	int len = 0;
	if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS)
		snprintf(s, sizeof s, "error %d", rc);
	siam_mpi_abort(2, "%s failed: %s", what, s);
}
