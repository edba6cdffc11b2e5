/*
 * ring_plan.c -- the block split and the schedule of the all-pairs
 * ring (ring_plan.h says what and why); no MPI here.
 */
#include "config.h"
#include "mpi/ring_plan.h"

void siam_mpi_ring_block(int64_t n, int size, int r, int64_t *lo,
                         int64_t *cnt)
{
	int64_t base = n / size, rem = n % size;
	*cnt = base + (r < rem);
	*lo = r * base + (r < rem ? r : rem);
}

int siam_mpi_ring_steps(int size)
{
	return size / 2;
}

int siam_mpi_ring_holds(int size, int r, int k)
{
	return (r + k) % size;
}

int siam_mpi_ring_searches(int size, int r, int k)
{
	if (2 * k < size)
		return RING_ALL;
	if (2 * k > size)
		return RING_NONE;
	/* blocks r and r + size / 2 meet at both ranks: the lower block
	 * is the own one of the lower rank, the one the upper rank holds */
	return r < size / 2 ? RING_FIRST : RING_SECOND;
}

void siam_mpi_ring_share(int share, int64_t cnt, int64_t *off,
                         int64_t *len)
{
	*off = share == RING_SECOND ? cnt / 2 : 0;
	*len = share == RING_FIRST ? cnt / 2 :
	       share == RING_SECOND ? cnt - cnt / 2 :
	       share == RING_ALL ? cnt : 0;
}

void siam_mpi_ring_task(int64_t n, int size, int r, int k, int *same,
                        int64_t *a0, int64_t *na, int64_t *b0,
                        int64_t *nb)
{
	int64_t lo, cnt, hlo, hcnt, off, len;
	int share = siam_mpi_ring_searches(size, r, k);
	siam_mpi_ring_block(n, size, r, &lo, &cnt);
	siam_mpi_ring_block(n, size, siam_mpi_ring_holds(size, r, k), &hlo,
	                    &hcnt);
	*same = k == 0;
	*a0 = *b0 = lo;
	*na = *nb = 0;
	if (share == RING_NONE || !cnt || !hcnt)
		return;
	if (k == 0) {
		*na = *nb = cnt;
		return;
	}
	/* the lower block's share (its rows) against the whole upper */
	siam_mpi_ring_share(share, lo < hlo ? cnt : hcnt, &off, &len);
	*a0 = (lo < hlo ? lo : hlo) + off;
	*na = len;
	*b0 = lo < hlo ? hlo : lo;
	*nb = lo < hlo ? hcnt : cnt;
}
