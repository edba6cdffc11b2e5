/*
 * none.c -- src/mpi/world.h in a build without MPI (configure without
 * --with-mpi): one rank; started by mpirun with more than one process,
 * the command refuses, since N independent copies would each walk the
 * same folders and write the same database.
 */
#include "config.h"
#include "mpi/world.h"
#include "mpi/pairs_ring.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int siam_mpi_start(int *argc, char ***argv, char *err, size_t errlen)
{
	(void)argc;
	(void)argv;
	int n = siam_mpi_launched();
	if (n > 1) {
		snprintf(err, errlen, "started by mpirun with %d processes, "
		         "but this siam was built without MPI "
		         "(./configure --with-mpi)", n);
		return -1;
	}
	return 0;
}

void siam_mpi_stop(void) {}
int siam_mpi_rank(void) { return 0; }
int siam_mpi_size(void) { return 1; }
const char *siam_mpi_where(void) { return ""; }

void siam_mpi_abort(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("siam: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

void siam_mpi_check(int rc, const char *what)
{
	if (rc != 0)
		siam_mpi_abort(2, "%s failed (%d)", what, rc);
}

/* src/mpi/pairs_ring.h: never reached with one rank (cmd_dedup.c takes
 * its local path), but linked, so that the command needs no #ifdef. */
void siam_mpi_pairs_stats_free(siam_mpi_pairs_stats *st)
{
	(void)st;
}

int siam_mpi_pairs(const float *x, int64_t n, int dim, double threshold,
                   siam_db_pair **pairs, size_t *np,
                   siam_mpi_pairs_stats *st)
{
	(void)x;
	(void)n;
	(void)dim;
	(void)threshold;
	(void)st;
	*pairs = NULL;
	*np = 0;
	siam_mpi_abort(2, "dedup: this siam was built without MPI");
}

void siam_mpi_pairs_stop(int failed)
{
	(void)failed;
}

int siam_mpi_pairs_worker(void)
{
	return 0;
}
