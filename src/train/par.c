/*
 * par.c -- data-parallel training (mpirun siam train): what the loop
 * in train.c does differently when opts->comm names the ranks of a run.
 *
 * Every rank runs the whole loop on the same data with the same seed,
 * so every rank draws the same pairs and the same augmentation stream;
 * each takes a contiguous slice of every batch (the stream of the
 * inputs it skips is drawn and dropped, see load_input), and the
 * trainer sums the ranks' weighted gradients before Adam
 * (siam_trainer_set_comm; supcon, whose loss couples the whole batch,
 * gathers the batch's embeddings first).  Ranks therefore hold the same weights after
 * every step: the model of one process with the same global batch, up
 * to the order of the float sums.  Rank 0 alone validates, writes
 * checkpoints and keeps the model.  A checkpoint does not depend on the
 * rank count, so a run resumes on any number of ranks.
 */
#include "internal.h"
#include "train/run.h"

#include <string.h>

int train_par_check(const siam_train_opts *o, siam_error *err)
{
	const siam_train_comm *c = o->comm;
	if (!c)
		return 0;
	if (c->size < 1 || c->rank < 0 || c->rank >= c->size || !c->sum ||
	    !c->bcast || !c->any)
		return siam_errorf(err, SIAM_EINVAL, "rank %d of %d: not a "
		                   "usable set of ranks", c->rank, c->size);
	if (o->batch < c->size)
		return siam_errorf(err, SIAM_EINVAL, "a batch of %d cannot be "
		                   "split over %d ranks: --batch must be at "
		                   "least the rank count", o->batch, c->size);
	return 0;
}

void train_par_slice(const train_run *r, int n, int *lo, int *hi)
{
	const siam_train_comm *c = r->o->comm;
	if (!c) {
		*lo = 0;
		*hi = n;
		return;
	}
	*lo = (int)((long)n * c->rank / c->size);
	*hi = (int)((long)n * (c->rank + 1) / c->size);
}

int train_par_rank0(const train_run *r)
{
	return !r->o->comm || r->o->comm->rank == 0;
}

int train_par_start(train_run *r, siam_error *err)
{
	const siam_train_comm *c = r->o->comm;
	if (!c)
		return 0;
	int lo, hi;
	train_par_slice(r, r->o->batch, &lo, &hi);
	siam_trainer_set_comm(r->trainer, c, lo, r->o->batch);
	/* Every rank built the same weights from the same seed (or read
	 * the same checkpoint); rank 0's are sent anyway, so that nothing
	 * (a BLAS of another build on another node) can set them apart. */
	int rc = c->bcast(c->arg, siam_net_params(r->net),
	                  r->np * sizeof(float), err);
	if (!rc && r->ema)
		rc = c->bcast(c->arg, r->ema, r->np * sizeof(float), err);
	if (!rc) {
		rc = c->bcast(c->arg, r->m, r->np * sizeof(float), err);
		if (!rc)
			rc = c->bcast(c->arg, r->v, r->np * sizeof(float), err);
	}
	return rc;
}

int train_par_stop(const train_run *r, int stop, int *out, siam_error *err)
{
	const siam_train_comm *c = r->o->comm;
	*out = stop != 0;
	if (!c)
		return 0;
	return c->any(c->arg, stop, out, err);
}
