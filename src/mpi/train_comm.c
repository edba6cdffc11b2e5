/*
 * train_comm.c -- the ranks of `mpirun siam train` as siam_train sees
 * them (siam_train_comm, include/siam_nn.h): MPI_Allreduce sums the
 * gradients, MPI_Bcast hands out rank 0's weights, a logical-or
 * MPI_Allreduce agrees on stopping.  libsiam itself links no MPI; this
 * file is compiled into the siam program of a --with-mpi build only.
 */
#include "config.h"
#include "mpi/train_comm.h"
#include "mpi/world.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>

/* MPI's error text for rc, into err. */
static int mpi_fail(siam_error *err, int rc, const char *what)
{
	char s[MPI_MAX_ERROR_STRING] = "";
	int len = 0;
	if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS)
		snprintf(s, sizeof s, "error %d", rc);
	return siam_errorf(err, SIAM_EIO, "%s: %s failed: %s",
	                   siam_mpi_where(), what, s);
}

/* MPI counts are ints: a larger buffer goes in pieces. */
static int sum(void *arg, float *x, size_t n, siam_error *err)
{
	siam_mpi_train_stats *st = arg;
	for (size_t i = 0; i < n;) {
		int k = n - i > INT_MAX ? INT_MAX : (int)(n - i);
		int rc = MPI_Allreduce(MPI_IN_PLACE, x + i, k, MPI_FLOAT,
		                       MPI_SUM, MPI_COMM_WORLD);
		if (rc != MPI_SUCCESS)
			return mpi_fail(err, rc, "MPI_Allreduce");
		i += (size_t)k;
	}
	if (st) {
		st->summed += n * sizeof(float);
		st->steps += n > 1; /* the loss is the other sum of a step */
	}
	return 0;
}

static int bcast(void *arg, void *x, size_t bytes, siam_error *err)
{
	(void)arg;
	for (size_t i = 0; i < bytes;) {
		int k = bytes - i > INT_MAX ? INT_MAX : (int)(bytes - i);
		int rc = MPI_Bcast((char *)x + i, k, MPI_BYTE, 0,
		                   MPI_COMM_WORLD);
		if (rc != MPI_SUCCESS)
			return mpi_fail(err, rc, "MPI_Bcast");
		i += (size_t)k;
	}
	return 0;
}

static int any(void *arg, int flag, int *out, siam_error *err)
{
	siam_mpi_train_stats *st = arg;
	int in = flag != 0;
	int rc = MPI_Allreduce(&in, out, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
	if (rc != MPI_SUCCESS)
		return mpi_fail(err, rc, "MPI_Allreduce");
	if (st)
		st->summed += sizeof(int);
	return 0;
}

void siam_mpi_train_comm(siam_train_comm *c, siam_mpi_train_stats *st)
{
	c->rank = siam_mpi_rank();
	c->size = siam_mpi_size();
	c->sum = sum;
	c->bcast = bcast;
	c->any = any;
	c->arg = st;
}
