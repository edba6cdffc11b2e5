/*
 * train.c -- the training loop: pairs in, a calibrated model out.
 *
 * One epoch: draw this epoch's balanced pairs (or triplets), and run
 * them in steps of `batch` through the one training step
 * (siam_trainer_step: a forward pass of all sides as a single batch,
 * the loss, one backward pass and an Adam update); then validate and
 * keep the best epoch (validate.c).  At the end the match threshold is
 * the distance that best separates the validation pairs.  This file
 * owns the order of things; what a step computes is the trainer's, how
 * a run is saved is ckpt.c's, what the model records of it is meta.c's.
 *
 * Reproducibility: every random stream (the split, each epoch's pairs,
 * each step's augmentations) is seeded from the run's seed and its
 * position (siam_train_seed), not drawn from one long-lived generator.
 * A checkpoint therefore only needs the position, the weights and Adam's
 * moments, and a resumed run makes the same model, byte for byte, as one
 * that was never interrupted.
 */
#include "internal.h"
#include "train/train_internal.h"
#include "siam_nn.h"
#include "train/run.h"

#include <math.h>
#include <string.h>
#include <time.h>

#ifndef INIT_SCALE
#define INIT_SCALE 0.5
#endif

void siam_train_opts_default(siam_train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->epochs = 10;
	o->batch = 64;
	o->pairs = 0;
	o->lr = 1e-3f;
	o->margin = 1.0f;
	o->temperature = 0.1f;
	o->weight_decay = 0;
	o->loss = SIAM_LOSS_CONTRASTIVE;
	o->seed = 1;
	o->threads = 0;
	o->val_split = 0.1f;
	o->instance_margin = 0.1f;
	o->views = 1;
	o->copies = SIAM_COPIES_DEFAULT;
	siam_augment_default(&o->aug);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run_free(train_run *r)
{
	siam_net_free(r->vnet);
	siam_trainer_free(r->trainer);
	free(r->best);
	free(r->train);
	free(r->val);
	siam_sampler_free(r->sampler);
	free(r->va);
	free(r->vb);
	free(r->vsame);
	free(r->vrow);
	free(r->vemb);
	free(r->vemb2);
	free(r->vdist);
	free(r->rec);
	free(r->y);
	free(r->tmp);
	free(r->tmp2);
	free(r->ids);
	free(r->groups);
	glyph_set_free(&r->glyphs);
	free(r->ia);
	free(r->ib);
	free(r->ic);
}

/* Loads item i (an image, or a glyph: see glyph.h) into dst, distorted
 * when the run augments (always for unlabelled data: its positive pairs
 * exist only through distortion).  dst NULL: another rank's input
 * (par.c), of which only the random numbers are drawn. */
static int load_input(train_run *r, int i, float *dst, siam_rng *rng,
                      siam_error *err)
{
	const siam_data *d = r->d;
	int distort = r->o->augment || r->unlabelled || r->ninst;
	if (!dst) {
		if (distort)
			siam_augment_apply(NULL, NULL, d->c, d->h, d->w,
			                   d->fill, &r->o->aug, rng);
		return 0;
	}
	float *raw = distort ? r->tmp : dst;
	int rc = glyph_load(&r->glyphs, d, i, raw, r->tmp2, err);
	if (!rc && distort)
		siam_augment_apply(dst, r->tmp, d->c, d->h, d->w, d->fill,
		                   &r->o->aug, rng);
	return rc;
}

/* Scales the last weighted layer of a freshly initialised net so that
 * two random training images start about half a margin apart.  He
 * initialisation keeps activations at the scale of the input through
 * every layer, which leaves unnormalised embeddings several margins
 * apart: the first thousand steps would then only shrink the whole
 * embedding before any pair could be told apart.  (PyTorch's default
 * init is some 30 times smaller at the output of this architecture.) */
static int scale_init(train_run *r, siam_error *err)
{
	int L = siam_net_num_layers(r->net), last = -1;
	for (int i = 0; i < L; i++) {
		const siam_layer *l = siam_net_layer(r->net, i);
		if (l->w_len)
			last = i;
		if (l->kind == SIAM_LAYER_L2NORM)
			return 0; /* normalised: the scale is fixed */
	}
	if (last < 0)
		return 0;
	int n = SIAM_MIN(r->ntrain, 256) & ~1;
	float *e = siam_xmalloc_n((size_t)n, (size_t)r->D * sizeof(float));
	if (!e)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	/* The fresh weights: the moving average does not exist yet. */
	memcpy(siam_net_params(r->vnet), siam_net_params(r->net),
	       r->np * sizeof(float));
	int rc = siam_embed_data(r->vnet, r->d, r->train, n, 1, e, err);
	double sum = 0;
	for (int i = 0; !rc && i < n; i += 2)
		sum += siam_l2_distance(e + (size_t)i * r->D,
		                        e + (size_t)(i + 1) * r->D, r->D);
	free(e);
	if (rc)
		return rc;
	double mean = sum / (n / 2);
	if (mean > 0 && isfinite(mean)) {
		const siam_layer *l = siam_net_layer(r->net, last);
		float f = (float)(INIT_SCALE * r->o->margin / mean);
		float *p = siam_net_params(r->net);
		for (size_t k = 0; k < l->w_len; k++)
			p[l->w_off + k] *= f;
		for (size_t k = 0; k < l->b_len; k++)
			p[l->b_off + k] *= f;
	}
	return 0;
}

/* Draws epoch e's pairs (or triplets): even indices same, odd
 * different, so every batch is balanced too. */
static int draw_epoch(train_run *r, int e, siam_error *err)
{
	siam_rng rng;
	siam_rng_seed(&rng, siam_train_seed(r->o->seed, TAG_PAIRS,
	                                    (uint64_t)e, 0));
	/* supcon needs no negative pairs: every other input of the batch
	 * is one unless it shows the same class. */
	int supcon = r->o->loss == SIAM_LOSS_SUPCON, rc = 0;
	glyph_set_clear(&r->glyphs);
	for (long k = 0; k < r->npairs && !rc; k++) {
		if (r->o->glyphs > 0 && r->o->loss == SIAM_LOSS_TRIPLET)
			rc = glyph_triplet(&r->glyphs, &rng, &r->ia[k],
			                   &r->ib[k], &r->ic[k], err);
		else if (r->o->glyphs > 0)
			rc = glyph_pair(&r->glyphs, &rng,
			                supcon || (k & 1) == 0, &r->ia[k],
			                &r->ib[k], err);
		else if (r->o->loss == SIAM_LOSS_TRIPLET &&
		         k % r->o->batch >= r->o->batch - r->ninst)
			siam_sampler_instance(r->sampler, &rng, &r->ia[k],
			                      &r->ib[k], &r->ic[k]);
		else if (r->o->loss == SIAM_LOSS_TRIPLET)
			siam_sampler_triplet(r->sampler, &rng, &r->ia[k],
			                     &r->ib[k], &r->ic[k]);
		else
			siam_sampler_pair(r->sampler, &rng,
			                  supcon || (k & 1) == 0, &r->ia[k],
			                  &r->ib[k]);
	}
	return rc;
}

/* One step on pairs [k0, k0 + N): their inputs, loaded (and distorted)
 * into the trainer's input, and what the loss needs to know of them.
 * Data parallel, this rank's slice [lo, hi) of them (par.c). */
static int train_step(train_run *r, long k0, int N, double *lossp,
                      siam_error *err)
{
	int sides = r->o->loss == SIAM_LOSS_TRIPLET ? 3 : 2, rc = 0;
	int lo, hi;
	train_par_slice(r, N, &lo, &hi);
	int n = hi - lo;
	float *x;
	if ((rc = siam_trainer_input(r->trainer, n, &x, err)))
		return rc;
	siam_rng rng;
	siam_rng_seed(&rng, siam_train_seed(r->o->seed, TAG_AUG,
	                                    (uint64_t)r->epoch,
	                                    (uint64_t)r->step));
	const int *idx[3] = { r->ia, r->ib, r->ic };
	for (int s = 0; s < sides && !rc; s++)
		for (int k = 0; k < N && !rc; k++)
			rc = load_input(r, idx[s][k0 + k],
			                k < lo || k >= hi ? NULL :
			                x + ((size_t)s * n + k - lo) * r->in,
			                &rng, err);
	if (rc)
		return rc;
	/* The instance triplets end the batch: those of them in the slice
	 * end the slice. */
	int ninst = hi - SIAM_MAX(lo, N - r->ninst);
	siam_batch b = { .y = r->y, .ids = r->ids,
	                 .ninst = SIAM_MAX(ninst, 0) };
	k0 += lo;
	for (int k = 0; k < n; k++)
		r->y[k] = (k0 + k) % 2 == 0 ? 1.0f : 0.0f;
	/* supcon's ids: the whole batch's, split or not. */
	if (r->o->loss == SIAM_LOSS_SUPCON)
		for (int s = 0; s < 2; s++)
			for (int k = 0; k < N; k++)
				r->ids[s * N + k] =
					r->groups ? r->groups[idx[s][k0 - lo + k]]
					          : glyph_id(&r->glyphs, r->d,
					                     idx[s][k0 - lo + k]);
	if (r->o->lr_decay) {
		/* Cosine decay over the whole run, a function of the
		 * position only, like everything else a resume rebuilds. */
		double pos = ((double)r->epoch * r->steps + r->step) /
		             ((double)r->o->epochs * r->steps);
		siam_trainer_adam(r->trainer)->lr =
			(float)(r->o->lr * 0.5 * (1 + cos(M_PI * pos)));
	}
	float loss;
	siam_error e = { 0 };
	rc = siam_trainer_step(r->trainer, &b, &loss, &e);
	if (rc == SIAM_EDIVERGED)
		return siam_errorf(err, rc, "training diverged at epoch %d "
		                   "step %ld: %s; lower the learning rate",
		                   r->epoch + 1, r->step + 1, e.msg);
	if (rc)
		return siam_errorf(err, rc, "%s", e.msg);
	*lossp = loss;
	return 0;
}

/* ------------------------------------------------------------------ */

static int check_opts(const siam_train_opts *o, siam_error *err)
{
	if (o->copies < -1 || o->copies > 64)
		return siam_errorf(err, SIAM_EINVAL,
		                   "copies must be -1 (off) or 0 to 64 bits");
	if (o->epochs < 1 || o->epochs > 100000)
		return siam_errorf(err, SIAM_EINVAL, "epochs must be 1 or more");
	if (o->batch < 1 || o->batch > 65536)
		return siam_errorf(err, SIAM_EINVAL,
		                   "batch must be in [1, 65536]");
	if (o->pairs < 0 || o->pairs > 100000000L)
		return siam_errorf(err, SIAM_EINVAL,
		                   "pairs per epoch must be in [0, 1e8]");
	if (!(o->lr > 0) || !isfinite(o->lr))
		return siam_errorf(err, SIAM_EINVAL, "lr must be positive");
	if (!(o->margin > 0) || !isfinite(o->margin))
		return siam_errorf(err, SIAM_EINVAL, "margin must be positive");
	if (!(o->weight_decay >= 0))
		return siam_errorf(err, SIAM_EINVAL,
		                   "weight decay must be 0 or more");
	if (!(o->instance >= 0 && o->instance <= 1) ||
	    !(o->instance_margin >= 0))
		return siam_errorf(err, SIAM_EINVAL,
		                   "instance fraction must be in [0, 1]");
	if (!siam_views_valid(o->views))
		return siam_errorf(err, SIAM_EINVAL,
		                   "views must be 1, 5 or 9");
	if (!(o->near_threshold >= 0 && o->near_threshold < 1e6))
		return siam_errorf(err, SIAM_EINVAL,
		                   "near-duplicate threshold must be 0 or more");
	if (!(o->ema >= 0 && o->ema < 1))
		return siam_errorf(err, SIAM_EINVAL,
		                   "ema decay must be in [0, 1)");
	if (!(o->glyphs >= 0 && o->glyphs <= 1))
		return siam_errorf(err, SIAM_EINVAL,
		                   "glyph fraction must be in [0, 1]");
	if (o->glyphs > 0 && o->instance > 0)
		return siam_errorf(err, SIAM_EINVAL,
		                   "glyphs and instance triplets do not mix");
	if (!(o->val_split >= 0 && o->val_split < 1))
		return siam_errorf(err, SIAM_EINVAL,
		                   "val split must be in [0, 1)");
	if (o->loss != SIAM_LOSS_CONTRASTIVE && o->loss != SIAM_LOSS_TRIPLET &&
	    o->loss != SIAM_LOSS_SUPCON)
		return siam_errorf(err, SIAM_EINVAL, "unknown loss");
	if (!(o->temperature > 0) || !isfinite(o->temperature))
		return siam_errorf(err, SIAM_EINVAL,
		                   "temperature must be positive");
	return 0;
}

/* Tells the caller; non-zero means stop. */
static int report(train_run *r, int event, double t0, double val_acc,
                  double val_auc, float val_thr)
{
	const siam_train_opts *o = r->o;
	if (!o->progress)
		return 0;
	siam_train_status st = {
		.event = event,
		.epoch = r->epoch + 1,
		.epochs = o->epochs,
		.step = r->step,
		.steps = r->steps,
		.pairs = SIAM_MIN(r->step * (long)o->batch, r->npairs),
		.loss = r->step ? r->loss_sum / r->step : 0,
		.seconds = now_seconds() - t0,
		.val_accuracy = val_acc,
		.val_auc = val_auc,
		.val_threshold = val_thr,
		.best_epoch = r->best_epoch,
	};
	if (event == SIAM_TRAIN_STEP) {
		st.weights = siam_net_params(r->net);
		st.nweights = r->np;
	}
	return o->progress(o->progress_arg, &st);
}

static int interrupted(train_run *r, siam_model *m, siam_error *err)
{
	if (r->o->checkpoint && train_par_rank0(r)) {
		int rc = train_ckpt_write(r, m, err);
		if (rc)
			return rc;
		return siam_errorf(err, SIAM_EINTR,
		                   "interrupted at epoch %d step %ld; "
		                   "checkpoint saved to %s", r->epoch + 1,
		                   r->step, r->o->checkpoint);
	}
	return siam_errorf(err, SIAM_EINTR, "interrupted at epoch %d step %ld",
	                   r->epoch + 1, r->step);
}

int siam_train(siam_model *m, const siam_data *d, const siam_train_opts *o,
               siam_error *err)
{
	train_run r = { 0 };
	int rc = check_opts(o, err);
	if (!rc)
		rc = train_par_check(o, err);
	if (rc)
		return rc;
	r.o = o;
	r.d = d;
	r.net = m->net;
	r.np = siam_net_num_params(r.net);
	r.in = siam_net_input_size(r.net);
	r.D = siam_net_embed_dim(r.net);
	r.unlabelled = d->labels == NULL;
	if (r.in != (size_t)d->c * d->h * d->w)
		return siam_errorf(err, SIAM_EINVAL,
		                   "%s: items are %dx%dx%d but the network "
		                   "takes %dx%dx%d", d->source, d->c, d->h, d->w,
		                   siam_net_input_c(r.net),
		                   siam_net_input_h(r.net),
		                   siam_net_input_w(r.net));
	/* The step's part of the options; the rest is the loop's. */
	siam_trainer_opts to = {
		.loss = o->loss, .lr = o->lr, .weight_decay = o->weight_decay,
		.margin = o->margin, .temperature = o->temperature,
		.instance_margin = o->instance_margin, .ema = o->ema,
	};
	if ((rc = siam_trainer_create(&r.trainer, r.net, &to, err)))
		return rc;
	siam_trainer_state(r.trainer, &r.m, &r.v, &r.ema);
	if (o->threads > 0)
		siam_set_threads(o->threads);
	if ((rc = train_split_pools(&r, err)))
		goto done;
	/* (asked here: the groups below make the sampler look labelled) */
	if (r.unlabelled && o->glyphs > 0) {
		rc = siam_errorf(err, SIAM_EINVAL, "glyphs need labelled data "
		                 "with at least two classes");
		goto done;
	}
	if (r.unlabelled && o->copies >= 0) {
		r.groups = siam_xmalloc_n((size_t)d->n, sizeof(int));
		if (!r.groups) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto done;
		}
		if ((rc = train_copy_groups(d, o->copies, r.groups,
		                            &r.nmerged, err)))
			goto done;
	}
	/* Copies found above sample as one class: a "same" pair may be
	 * two of them, a "different" one never is. */
	if ((rc = siam_sampler_create(&r.sampler,
	                              r.groups ? r.groups : d->labels,
	                              r.train, r.ntrain, err)))
		goto done;
	/* Whole batches only: the pairs of an epoch are rounded up to a
	 * multiple of the batch, so every step runs the same batch size.
	 * Validation runs on a copy of the network: the training net then
	 * only ever sees that one batch size, and its buffers are sized
	 * once (and net.c's backward assumes the batch fills them). */
	r.npairs = o->pairs ? o->pairs : r.ntrain;
	r.steps = (r.npairs + o->batch - 1) / o->batch;
	r.npairs = r.steps * o->batch;
	if (o->loss == SIAM_LOSS_TRIPLET && o->instance > 0)
		r.ninst = (int)lround((double)o->instance * o->batch);
	/* Every pair or triplet makes at most three glyphs. */
	if (o->glyphs > 0 &&
	    (rc = glyph_set_init(&r.glyphs, r.sampler, o->glyphs,
	                         3 * r.npairs, err)))
		goto done;
	if ((rc = siam_net_create(&r.vnet, siam_net_spec(r.net), err)))
		goto done;
	r.best = siam_xmalloc_n(r.np, sizeof(float));
	r.rec = calloc((size_t)o->epochs, sizeof *r.rec);
	r.y = siam_xmalloc_n((size_t)o->batch, sizeof(float));
	r.tmp = siam_xmalloc_n(r.in, sizeof(float));
	r.tmp2 = siam_xmalloc_n(r.in, sizeof(float));
	r.ids = siam_xmalloc_n(2 * (size_t)o->batch, sizeof(int));
	r.ia = siam_xmalloc_n((size_t)r.npairs, sizeof(int));
	r.ib = siam_xmalloc_n((size_t)r.npairs, sizeof(int));
	r.ic = siam_xmalloc_n((size_t)r.npairs, sizeof(int));
	if (!r.best || !r.rec || !r.y || !r.tmp || !r.tmp2 || !r.ids ||
	    !r.ia || !r.ib || !r.ic) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = train_make_val_pairs(&r, err)))
		goto done;
	if (o->resume) {
		if ((rc = train_ckpt_read(&r, m, err)))
			goto done;
	} else {
		siam_net_init(r.net, siam_train_seed(o->seed, TAG_INIT, 0, 0));
		if ((rc = scale_init(&r, err)))
			goto done;
		memcpy(r.best, siam_net_params(r.net), r.np * sizeof(float));
		if (r.ema)
			memcpy(r.ema, r.best, r.np * sizeof(float));
	}
	if ((rc = train_par_start(&r, err)))
		goto done;

	for (; r.epoch < o->epochs; r.epoch++, r.step = 0, r.loss_sum = 0) {
		double t0 = now_seconds();
		if ((rc = draw_epoch(&r, r.epoch, err)))
			goto done;
		for (; r.step < r.steps;) {
			long k0 = r.step * o->batch;
			int N = o->batch;
			double loss = 0;
			if ((rc = train_step(&r, k0, N, &loss, err)))
				goto done;
			r.loss_sum += loss;
			r.step++;
			int stop = report(&r, SIAM_TRAIN_STEP, t0, -1, -1, 0);
			if ((rc = train_par_stop(&r, stop, &stop, err)))
				goto done;
			if (stop) {
				rc = interrupted(&r, m, err);
				goto done;
			}
		}
		epoch_rec *rec = &r.rec[r.epoch];
		rec->loss = r.loss_sum / r.steps;
		rec->val_acc = rec->val_auc = -1;
		if (r.nval && train_par_rank0(&r)) {
			report(&r, SIAM_TRAIN_VALIDATE, t0, -1, -1, 0);
			if ((rc = train_validate_epoch(&r, err)))
				goto done;
		}
		int stop = report(&r, SIAM_TRAIN_EPOCH, t0, rec->val_acc,
		                  rec->val_auc, rec->val_thr);
		if ((rc = train_par_stop(&r, stop, &stop, err)))
			goto done;
		if (r.epoch + 1 < o->epochs && (stop || o->comm)) {
			/* Saved as "the next epoch, step 0".  Data parallel,
			 * after every epoch: mpirun meets a Ctrl-C by killing
			 * the ranks, which leaves no time to save then. */
			r.epoch++;
			r.step = 0;
			r.loss_sum = 0;
			if (stop) {
				rc = interrupted(&r, m, err);
				goto done;
			}
			if (o->checkpoint && train_par_rank0(&r) &&
			    (rc = train_ckpt_write(&r, m, err)))
				goto done;
			r.epoch--;
		}
	}
	if (!train_par_rank0(&r))
		goto done; /* rank 0 keeps the model */

	if (r.nval) {
		memcpy(siam_net_params(r.net), r.best, r.np * sizeof(float));
	} else {
		/* No held-out images: the last epoch, calibrated on training
		 * pairs. */
		r.best_epoch = o->epochs;
		if (r.ema)
			memcpy(siam_net_params(r.net), r.ema,
			       r.np * sizeof(float));
		if ((rc = train_validate(&r, &r.best_val, err)))
			goto done;
	}
	m->threshold = r.best_val.best_threshold;
	m->margin = o->margin;
	m->views = o->views;
	char *meta = train_meta_json(&r, r.nval > 0);
	if (!meta) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	free(m->meta);
	m->meta = meta;
done:
	run_free(&r);
	return rc;
}

