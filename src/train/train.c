/*
 * train.c -- the training loop: pairs in, a calibrated model out.
 *
 * One epoch: draw this epoch's balanced pairs (or triplets), run them
 * through the network in steps of `batch`, each step one forward pass of
 * both sides as a single batch, the loss, one backward pass and an Adam
 * update; then embed the held-out validation images and measure
 * verification accuracy and ROC AUC on fixed validation pairs.  The
 * weights of the best epoch are kept, and at the end the match threshold
 * is the distance that best separates the validation pairs.
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
#include "utf8.h"
#include "siam_nn.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef INIT_SCALE
#define INIT_SCALE 0.5
#endif

/* Seed tags: one per random stream of a run. */
enum { TAG_SPLIT = 1, TAG_PAIRS, TAG_AUG, TAG_VAL, TAG_VALAUG, TAG_INIT };

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
	siam_augment_default(&o->aug);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int siam_embed_data(siam_net *net, const siam_data *d, const int *items,
                    int n, int views, float *out, siam_error *err)
{
	enum { B = 256 };
	size_t in = siam_net_input_size(net);
	int D = siam_net_embed_dim(net);
	if (in != (size_t)d->c * d->h * d->w)
		return siam_errorf(err, SIAM_EINVAL,
		                   "%s: items are %dx%dx%d but the network "
		                   "takes %dx%dx%d", d->source, d->c, d->h, d->w,
		                   siam_net_input_c(net), siam_net_input_h(net),
		                   siam_net_input_w(net));
	float *buf = siam_xmalloc_n((size_t)B * in, sizeof(float));
	if (!buf)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	int rc = 0;
	for (int i0 = 0; i0 < n && !rc; i0 += B) {
		int b = SIAM_MIN(B, n - i0);
		for (int i = 0; i < b && !rc; i++)
			rc = d->load(d, items ? items[i0 + i] : i0 + i,
			             buf + (size_t)i * in, err);
		if (!rc)
			rc = siam_net_embed_views(net, buf, b, views,
			                          out + (size_t)i0 * D, err);
	}
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The state of a run                                                  */

typedef struct epoch_rec {
	double loss, val_acc, val_auc;
	float val_thr;
} epoch_rec;

typedef struct run {
	const siam_train_opts *o;
	const siam_data *d;
	siam_net *net;
	siam_net *vnet;    /* a copy of net for validation, see siam_train */
	size_t np, in;     /* parameters, floats per input */
	int D;
	siam_adam adam;
	float *m, *v;      /* Adam's moments */
	float *best;       /* weights of the best epoch */
	float *ema;        /* o->ema > 0: the moving average of the weights */
	/* The images: a training pool and a validation pool. */
	int *train, ntrain, *val, nval;
	siam_sampler *sampler;
	/* Validation pairs and the row of each validation item. */
	int *va, *vb;
	unsigned char *vsame;
	size_t nvp;
	int *vrow;         /* d->n entries: row of an item in the val pool */
	float *vemb, *vemb2, *vdist;
	/* Position and history */
	int epoch;         /* 0-based epoch in progress */
	long step;         /* steps done in it */
	double loss_sum;   /* sum of this epoch's step losses */
	int best_epoch;    /* 1-based; 0: none yet */
	siam_verif best_val;
	epoch_rec *rec;    /* o->epochs records */
	/* Step buffers */
	float *x, *dout, *y, *tmp;
	int *ia, *ib, *ic; /* this epoch's pairs or triplets */
	long npairs, steps;
	int unlabelled;
	int ninst;         /* instance triplets at the end of each batch */
	siam_glyphs glyphs;  /* the epoch's glyphs when o->glyphs > 0 */
	float *tmp2;       /* a glyph's second half */
	int *ids;          /* supcon: what each of a step's 2N inputs shows */
	double *work;      /* supcon scratch */
} run;

static void run_free(run *r)
{
	siam_net_free(r->vnet);
	free(r->m);
	free(r->v);
	free(r->best);
	free(r->ema);
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
	free(r->x);
	free(r->dout);
	free(r->y);
	free(r->tmp);
	free(r->tmp2);
	free(r->ids);
	free(r->work);
	siam_glyphs_free(&r->glyphs);
	free(r->ia);
	free(r->ib);
	free(r->ic);
}

/* Loads item i (a glyph when negative, see siam_glyphs) into dst,
 * distorted when the run augments (always for unlabelled data: its
 * positive pairs exist only through distortion). */
static int load_input(run *r, int i, float *dst, siam_rng *rng,
                      siam_error *err)
{
	const siam_data *d = r->d;
	int distort = r->o->augment || r->unlabelled || r->ninst;
	float *raw = distort ? r->tmp : dst;
	int rc = i >= 0 ? d->load(d, i, raw, err)
	                : siam_glyph_render(d, &r->glyphs.g[-1 - i], raw,
	                                    r->tmp2, err);
	if (!rc && distort)
		siam_augment_apply(dst, r->tmp, d->c, d->h, d->w, d->fill,
		                   &r->o->aug, rng);
	return rc;
}

/* Splits the chosen classes' items into training and validation pools. */
static int split_pools(run *r, siam_error *err)
{
	const siam_data *d = r->d;
	const siam_train_opts *o = r->o;
	unsigned char *mask = NULL;
	int *pool = siam_xmalloc_n((size_t)d->n, sizeof(int)), n = 0, rc = 0;
	if (!pool)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	if (d->labels) {
		if (!(mask = malloc((size_t)d->num_classes))) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto done;
		}
		if ((rc = siam_data_parse_classes(d, o->classes, mask, err)))
			goto done;
		for (int i = 0; i < d->n; i++)
			if (mask[d->labels[i]])
				pool[n++] = i;
	} else {
		if (o->classes && *o->classes) {
			rc = siam_errorf(err, SIAM_EINVAL,
			                 "%s is unlabelled: it has no classes "
			                 "to choose", d->source);
			goto done;
		}
		for (int i = 0; i < d->n; i++)
			pool[n++] = i;
	}
	if (n < 4) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: %d images of the chosen classes; "
		                 "training needs more", d->source, n);
		goto done;
	}
	/* A seeded shuffle; the first nval images are held out. */
	siam_rng rng;
	siam_rng_seed(&rng, siam_train_seed(o->seed, TAG_SPLIT, 0, 0));
	for (int i = n - 1; i > 0; i--) {
		int j = (int)siam_rng_below(&rng, (uint32_t)i + 1);
		int t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
	int nval = (int)lround((double)o->val_split * n);
	if (o->val_split > 0 && nval < 2)
		nval = 2;
	if (nval > n - 2) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "--val-split %g leaves too few training images",
		                 (double)o->val_split);
		goto done;
	}
	r->nval = nval;
	r->ntrain = n - nval;
	r->val = siam_xmalloc_n((size_t)(nval ? nval : 1), sizeof(int));
	r->train = siam_xmalloc_n((size_t)r->ntrain, sizeof(int));
	if (!r->val || !r->train) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(r->val, pool, (size_t)nval * sizeof(int));
	memcpy(r->train, pool + nval, (size_t)r->ntrain * sizeof(int));
done:
	free(pool);
	free(mask);
	return rc;
}

/* The pairs the threshold is calibrated on (and, with a validation set,
 * the pairs measured every epoch).  Without a validation set they are
 * drawn from up to 5000 training images: a biased but usable figure. */
static int make_val_pairs(run *r, siam_error *err)
{
	const siam_data *d = r->d;
	int *pool = r->val, n = r->nval;
	if (n == 0) {
		pool = r->train;
		n = SIAM_MIN(r->ntrain, 5000);
	}
	int rc = siam_eval_pairs(&r->va, &r->vb, &r->vsame, &r->nvp,
	                         d->labels, pool, n,
	                         siam_train_seed(r->o->seed, TAG_VAL, 0, 0),
	                         err);
	if (rc) {
		if (rc == SIAM_EINVAL)
			return siam_errorf(err, rc,
			                   "the validation images hold only one "
			                   "class; raise --val-split");
		return rc;
	}
	r->vrow = siam_xmalloc_n((size_t)d->n, sizeof(int));
	r->vemb = siam_xmalloc_n((size_t)n * r->D, sizeof(float));
	r->vdist = siam_xmalloc_n(r->nvp, sizeof(float));
	if (r->unlabelled)
		r->vemb2 = siam_xmalloc_n((size_t)n * r->D, sizeof(float));
	if (!r->vrow || !r->vemb || !r->vdist ||
	    (r->unlabelled && !r->vemb2))
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	for (int i = 0; i < d->n; i++)
		r->vrow[i] = -1;
	for (int k = 0; k < n; k++)
		r->vrow[pool[k]] = k;
	return 0;
}

/* The weights validation measures and the model keeps: the moving
 * average when the run keeps one. */
static const float *kept_weights(run *r)
{
	return r->ema ? r->ema : siam_net_params(r->net);
}

/* Embeds the validation images and measures the validation pairs. */
static int validate(run *r, siam_verif *out, siam_error *err)
{
	const siam_data *d = r->d;
	int *pool = r->nval ? r->val : r->train;
	int n = r->nval ? r->nval : SIAM_MIN(r->ntrain, 5000);
	memcpy(siam_net_params(r->vnet), kept_weights(r),
	       r->np * sizeof(float));
	int rc = siam_embed_data(r->vnet, d, pool, n, r->o->views, r->vemb,
	                         err);
	if (rc)
		return rc;
	const float *e2 = r->vemb;
	if (r->unlabelled) {
		/* Unlabelled: "same" is an image against a fixed distortion
		 * of itself, "different" against a distortion of another. */
		enum { B = 256 };
		float *in = siam_xmalloc_n((size_t)B, r->in * sizeof(float));
		if (!in)
			return siam_errorf(err, SIAM_ENOMEM, "out of memory");
		for (int k0 = 0; k0 < n && !rc; k0 += B) {
			int b = SIAM_MIN(B, n - k0);
			for (int k = k0; k < k0 + b && !rc; k++) {
				siam_rng rng;
				siam_rng_seed(&rng, siam_train_seed(
					r->o->seed, TAG_VALAUG, 0, (uint64_t)k));
				rc = d->load(d, pool[k], r->tmp, err);
				if (!rc)
					siam_augment_apply(
						in + (size_t)(k - k0) * r->in,
						r->tmp, d->c, d->h, d->w, d->fill,
						&r->o->aug, &rng);
			}
			if (!rc)
				rc = siam_net_embed_views(
					r->vnet, in, b, r->o->views,
					r->vemb2 + (size_t)k0 * r->D, err);
		}
		free(in);
		if (rc)
			return rc;
		e2 = r->vemb2;
	}
	for (size_t p = 0; p < r->nvp; p++)
		r->vdist[p] = siam_l2_distance(
			r->vemb + (size_t)r->vrow[r->va[p]] * r->D,
			e2 + (size_t)r->vrow[r->vb[p]] * r->D, r->D);
	return siam_verif_compute(out, r->vdist, r->vsame, r->nvp, 0, err);
}

/* Scales the last weighted layer of a freshly initialised net so that
 * two random training images start about half a margin apart.  He
 * initialisation keeps activations at the scale of the input through
 * every layer, which leaves unnormalised embeddings several margins
 * apart: the first thousand steps would then only shrink the whole
 * embedding before any pair could be told apart.  (PyTorch's default
 * init is some 30 times smaller at the output of this architecture.) */
static int scale_init(run *r, siam_error *err)
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
static void draw_epoch(run *r, int e)
{
	siam_rng rng;
	siam_rng_seed(&rng, siam_train_seed(r->o->seed, TAG_PAIRS,
	                                    (uint64_t)e, 0));
	/* supcon needs no negative pairs: every other input of the batch
	 * is one unless it shows the same class. */
	int supcon = r->o->loss == SIAM_LOSS_SUPCON;
	r->glyphs.n = 0;
	for (long k = 0; k < r->npairs; k++) {
		if (r->o->glyphs > 0 && r->o->loss == SIAM_LOSS_TRIPLET)
			siam_glyphs_triplet(&r->glyphs, &rng, &r->ia[k],
			                    &r->ib[k], &r->ic[k]);
		else if (r->o->glyphs > 0)
			siam_glyphs_pair(&r->glyphs, &rng,
			                 supcon || (k & 1) == 0, &r->ia[k],
			                 &r->ib[k]);
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
}

/* What input i (an item, or a glyph when negative) shows, for supcon:
 * its label, the glyph's class after the labels, or for unlabelled
 * data the item itself. */
static int input_id(const run *r, int i)
{
	if (i < 0)
		return r->d->num_classes + r->glyphs.g[-1 - i].cls;
	return r->d->labels ? r->d->labels[i] : i;
}

/* One step on pairs [k0, k0 + N): both sides (all three for triplets)
 * go through the network as one batch, so the shared weights see one
 * forward and one backward pass. */
static int train_step(run *r, long k0, int N, double *lossp,
                      siam_error *err)
{
	int sides = r->o->loss == SIAM_LOSS_TRIPLET ? 3 : 2, rc = 0;
	siam_rng rng;
	siam_rng_seed(&rng, siam_train_seed(r->o->seed, TAG_AUG,
	                                    (uint64_t)r->epoch,
	                                    (uint64_t)r->step));
	const int *idx[3] = { r->ia, r->ib, r->ic };
	for (int s = 0; s < sides && !rc; s++)
		for (int k = 0; k < N && !rc; k++)
			rc = load_input(r, idx[s][k0 + k],
			                r->x + ((size_t)s * N + k) * r->in, &rng,
			                err);
	if (rc)
		return rc;
	for (int k = 0; k < N; k++)
		r->y[k] = (k0 + k) % 2 == 0 ? 1.0f : 0.0f;
	siam_net_zero_grad(r->net);
	const float *e = siam_net_forward(r->net, r->x, sides * N, err);
	if (!e)
		return SIAM_ENOMEM;
	size_t nd = (size_t)N * r->D;
	float loss;
	if (sides == 3) {
		/* Class triplets first, instance triplets last; each loss is
		 * a mean over its part, reweighted to a mean over the batch. */
		int nc = N - r->ninst, ni = r->ninst;
		size_t D = (size_t)r->D, oi = (size_t)nc * D;
		loss = 0;
		if (nc > 0)
			loss += (float)nc / N *
			        siam_triplet_loss(r->dout, r->dout + nd,
			                          r->dout + 2 * nd, e, e + nd,
			                          e + 2 * nd, nc, r->D,
			                          r->o->margin);
		if (ni > 0)
			loss += (float)ni / N *
			        siam_triplet_loss(r->dout + oi, r->dout + nd + oi,
			                          r->dout + 2 * nd + oi, e + oi,
			                          e + nd + oi, e + 2 * nd + oi, ni,
			                          r->D, r->o->instance_margin);
		if (nc > 0 && ni > 0)
			for (int s = 0; s < 3; s++) {
				float *g = r->dout + s * nd;
				for (size_t k = 0; k < oi; k++)
					g[k] *= (float)nc / N;
				for (size_t k = oi; k < nd; k++)
					g[k] *= (float)ni / N;
			}
	} else if (r->o->loss == SIAM_LOSS_SUPCON) {
		for (int s = 0; s < 2; s++)
			for (int k = 0; k < N; k++)
				r->ids[s * N + k] = input_id(r, idx[s][k0 + k]);
		loss = siam_supcon_loss(r->dout, e, r->ids, 2 * N, r->D,
		                        r->o->temperature, r->work);
	} else
		loss = siam_contrastive_loss(r->dout, r->dout + nd, e, e + nd,
		                             r->y, N, r->D, r->o->margin);
	siam_net_backward(r->net, r->dout);
	if (r->o->lr_decay) {
		/* Cosine decay over the whole run, a function of the
		 * position only, like everything else a resume rebuilds. */
		double pos = ((double)r->epoch * r->steps + r->step) /
		             ((double)r->o->epochs * r->steps);
		r->adam.lr = (float)(r->o->lr * 0.5 * (1 + cos(M_PI * pos)));
	}
	siam_adam_step(&r->adam, siam_net_params(r->net),
	               siam_net_grads(r->net), r->m, r->v, r->np);
	if (r->ema) {
		const float *w = siam_net_params(r->net);
		float a = r->o->ema;
		for (size_t i = 0; i < r->np; i++)
			r->ema[i] = a * r->ema[i] + (1 - a) * w[i];
	}
	if (!isfinite(loss))
		return siam_errorf(err, SIAM_EINVAL,
		                   "the loss diverged at epoch %d step %ld; "
		                   "lower the learning rate", r->epoch + 1,
		                   r->step + 1);
	*lossp = loss;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Checkpoints                                                         */
/*
 * "SIAMCKPT", u32 version, then little-endian fields: u32 config length
 * and text; i32 epoch, i64 step, f64 loss_sum, i64 adam.t; i32
 * best_epoch and the best epoch's validation figures (f64 accuracy,
 * auc, eer, tar, f32 threshold); i32 records and per record f64 loss,
 * accuracy, auc, f32 threshold; i32 item count of the data; u64 model
 * length and the model file (current weights); u64 parameter count and
 * Adam's m, v and the best weights as f32; (version 2) f32 the decay of
 * the moving average of the weights and, when it is not 0, the average
 * as f32; u32 CRC-32 of all before.  A version 1 checkpoint is of a run
 * without an average.
 */

#define CKPT_MAGIC "SIAMCKPT"
#define CKPT_VERSION 2

typedef struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int fail;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
	if (b->fail)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *np = realloc(b->p, cap);
		if (!np) {
			b->fail = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put_u64(wbuf *b, uint64_t v)
{
	unsigned char c[8];
	for (int i = 0; i < 8; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	put(b, c, 8);
}

static void put_u32(wbuf *b, uint32_t v)
{
	unsigned char c[4];
	for (int i = 0; i < 4; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	put(b, c, 4);
}

static void put_f64(wbuf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	put_u64(b, u);
}

static void put_f32(wbuf *b, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	put_u32(b, u);
}

static void put_f32s(wbuf *b, const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_f32(b, v[i]);
}

typedef struct rbuf {
	const unsigned char *p;
	size_t len, pos;
	int fail;
} rbuf;

static const void *get(rbuf *b, size_t n)
{
	if (b->fail || n > b->len - b->pos) {
		b->fail = 1;
		return NULL;
	}
	const void *p = b->p + b->pos;
	b->pos += n;
	return p;
}

static uint64_t get_u64(rbuf *b)
{
	const unsigned char *c = get(b, 8);
	uint64_t v = 0;
	for (int i = 0; c && i < 8; i++)
		v |= (uint64_t)c[i] << (8 * i);
	return v;
}

static uint32_t get_u32(rbuf *b)
{
	const unsigned char *c = get(b, 4);
	uint32_t v = 0;
	for (int i = 0; c && i < 4; i++)
		v |= (uint32_t)c[i] << (8 * i);
	return v;
}

static double get_f64(rbuf *b)
{
	uint64_t u = get_u64(b);
	double v;
	memcpy(&v, &u, 8);
	return v;
}

static float get_f32(rbuf *b)
{
	uint32_t u = get_u32(b);
	float v;
	memcpy(&v, &u, 4);
	return v;
}

static void get_f32s(rbuf *b, float *v, size_t n)
{
	for (size_t i = 0; i < n && !b->fail; i++)
		v[i] = get_f32(b);
}

static int write_checkpoint(run *r, siam_model *m, siam_error *err)
{
	const char *path = r->o->checkpoint;
	wbuf b = { 0 };
	void *blob = NULL;
	size_t bloblen = 0;
	/* The checkpoint's model needs no metadata; an empty object keeps
	 * the saver away from a NULL meta. */
	char *meta = m->meta;
	if (!meta)
		m->meta = "{}";
	int rc = siam_model_save_mem(m, &blob, &bloblen, err);
	m->meta = meta;
	if (rc)
		return rc;
	const char *cfg = r->o->config ? r->o->config : "";
	put(&b, CKPT_MAGIC, 8);
	put_u32(&b, CKPT_VERSION);
	put_u32(&b, (uint32_t)strlen(cfg));
	put(&b, cfg, strlen(cfg));
	put_u32(&b, (uint32_t)r->epoch);
	put_u64(&b, (uint64_t)r->step);
	put_f64(&b, r->loss_sum);
	put_u64(&b, (uint64_t)r->adam.t);
	put_u32(&b, (uint32_t)r->best_epoch);
	put_f64(&b, r->best_val.best_accuracy);
	put_f64(&b, r->best_val.auc);
	put_f64(&b, r->best_val.eer);
	put_f64(&b, r->best_val.tar_at_far);
	put_f32(&b, r->best_val.best_threshold);
	put_u32(&b, (uint32_t)r->o->epochs);
	for (int e = 0; e < r->o->epochs; e++) {
		put_f64(&b, r->rec[e].loss);
		put_f64(&b, r->rec[e].val_acc);
		put_f64(&b, r->rec[e].val_auc);
		put_f32(&b, r->rec[e].val_thr);
	}
	put_u32(&b, (uint32_t)r->d->n);
	put_u64(&b, bloblen);
	put(&b, blob, bloblen);
	put_u64(&b, r->np);
	put_f32s(&b, r->m, r->np);
	put_f32s(&b, r->v, r->np);
	put_f32s(&b, r->best, r->np);
	put_f32(&b, r->ema ? r->o->ema : 0.0f);
	if (r->ema)
		put_f32s(&b, r->ema, r->np);
	put_u32(&b, siam_crc32(0, b.p, b.len));
	free(blob);
	if (b.fail) {
		free(b.p);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	}
	/* Write beside it and rename: a checkpoint is whole or absent. */
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		rc = siam_errorf(err, SIAM_EIO, "%s: %s", tmp, strerror(errno));
		free(b.p);
		return rc;
	}
	size_t wrote = fwrite(b.p, 1, b.len, f);
	int bad = wrote != b.len || fflush(f) != 0;
	bad |= fclose(f) != 0;
	free(b.p);
	if (bad || rename(tmp, path) != 0) {
		rc = siam_errorf(err, SIAM_EIO, "%s: cannot write the "
		                 "checkpoint: %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

/* Reads the whole checkpoint and checks magic, version and CRC. */
static int read_ckpt_file(const char *path, unsigned char **data,
                          size_t *len, uint32_t *version, siam_error *err)
{
	*data = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return siam_errorf(err, SIAM_EIO, "%s: %s", path,
		                   strerror(errno));
	size_t cap = 1 << 16, n = 0;
	unsigned char *p = malloc(cap);
	while (p) {
		if (n == cap) {
			unsigned char *np = cap < ((size_t)1 << 34) ?
			                    realloc(p, cap * 2) : NULL;
			if (!np) {
				free(p);
				p = NULL;
				break;
			}
			p = np;
			cap *= 2;
		}
		size_t got = fread(p + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int rerr = ferror(f);
	fclose(f);
	if (!p)
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", path);
	if (rerr) {
		free(p);
		return siam_errorf(err, SIAM_EIO, "%s: read error", path);
	}
	if (n < 16 || memcmp(p, CKPT_MAGIC, 8)) {
		free(p);
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a siam training checkpoint", path);
	}
	uint32_t want = (uint32_t)p[n - 4] | (uint32_t)p[n - 3] << 8 |
	                (uint32_t)p[n - 2] << 16 | (uint32_t)p[n - 1] << 24;
	if (siam_crc32(0, p, n - 4) != want) {
		free(p);
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: checkpoint is corrupt or truncated "
		                   "(checksum mismatch)", path);
	}
	uint32_t ver = (uint32_t)p[8] | (uint32_t)p[9] << 8 |
	               (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
	if (ver < 1 || ver > CKPT_VERSION) {
		free(p);
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: checkpoint version %u, this siam reads "
		                   "%u", path, ver, CKPT_VERSION);
	}
	*data = p;
	*len = n - 4;
	*version = ver;
	return 0;
}

int siam_checkpoint_config(const char *path, char **config,
                           siam_error *err)
{
	*config = NULL;
	unsigned char *data;
	size_t len;
	uint32_t ver;
	int rc = read_ckpt_file(path, &data, &len, &ver, err);
	if (rc)
		return rc;
	rbuf b = { data, len, 12, 0 };
	uint32_t n = get_u32(&b);
	const char *s = get(&b, n);
	if (!s) {
		free(data);
		return siam_errorf(err, SIAM_EFORMAT, "%s: bad checkpoint",
		                   path);
	}
	*config = malloc((size_t)n + 1);
	if (!*config) {
		free(data);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	}
	memcpy(*config, s, n);
	(*config)[n] = 0;
	free(data);
	return 0;
}

static int read_checkpoint(run *r, siam_model *m, siam_error *err)
{
	const char *path = r->o->resume;
	unsigned char *data;
	size_t len;
	siam_model *saved = NULL;
	uint32_t ver;
	int rc = read_ckpt_file(path, &data, &len, &ver, err);
	if (rc)
		return rc;
	rbuf b = { data, len, 12, 0 };
	uint32_t cl = get_u32(&b);
	get(&b, cl);
	r->epoch = (int)get_u32(&b);
	r->step = (long)get_u64(&b);
	r->loss_sum = get_f64(&b);
	r->adam.t = (long)get_u64(&b);
	r->best_epoch = (int)get_u32(&b);
	r->best_val.best_accuracy = get_f64(&b);
	r->best_val.auc = get_f64(&b);
	r->best_val.eer = get_f64(&b);
	r->best_val.tar_at_far = get_f64(&b);
	r->best_val.best_threshold = get_f32(&b);
	uint32_t ne = get_u32(&b);
	if (!b.fail && (int)ne != r->o->epochs) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: the checkpoint is of a run of %u epochs, "
		                 "not %d", path, ne, r->o->epochs);
		goto done;
	}
	for (uint32_t e = 0; e < ne && !b.fail; e++) {
		r->rec[e].loss = get_f64(&b);
		r->rec[e].val_acc = get_f64(&b);
		r->rec[e].val_auc = get_f64(&b);
		r->rec[e].val_thr = get_f32(&b);
	}
	uint32_t nitems = get_u32(&b);
	uint64_t bl = get_u64(&b);
	const void *blob = b.fail || bl > len ? NULL : get(&b, (size_t)bl);
	if (!blob)
		goto corrupt;
	if (nitems != (uint32_t)r->d->n) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: the checkpoint was made on %u images, "
		                 "%s has %d", path, nitems, r->d->source,
		                 r->d->n);
		goto done;
	}
	if ((rc = siam_model_load_mem(&saved, blob, (size_t)bl, path, err)))
		goto done;
	if (strcmp(siam_net_spec(saved->net), siam_net_spec(r->net)) ||
	    siam_net_num_params(saved->net) != r->np) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: the checkpoint's network (%s) is not "
		                 "this run's (%s)", path,
		                 siam_net_spec(saved->net),
		                 siam_net_spec(r->net));
		goto done;
	}
	if (get_u64(&b) != r->np)
		goto corrupt;
	get_f32s(&b, r->m, r->np);
	get_f32s(&b, r->v, r->np);
	get_f32s(&b, r->best, r->np);
	float decay = ver >= 2 ? get_f32(&b) : 0.0f;
	if (!b.fail && decay != (r->ema ? r->o->ema : 0.0f)) {
		rc = siam_errorf(err, SIAM_EINVAL, "%s: the checkpoint is of a "
		                 "run with --ema %g, not %g", path,
		                 (double)decay,
		                 (double)(r->ema ? r->o->ema : 0.0f));
		goto done;
	}
	if (r->ema)
		get_f32s(&b, r->ema, r->np);
	if (b.fail || r->epoch < 0 || r->epoch > r->o->epochs ||
	    r->step < 0 || r->best_epoch < 0 || r->best_epoch > r->o->epochs)
		goto corrupt;
	memcpy(siam_net_params(r->net), siam_net_params(saved->net),
	       r->np * sizeof(float));
	m->pre = saved->pre;
	goto done;
corrupt:
	rc = siam_errorf(err, SIAM_EFORMAT, "%s: bad checkpoint", path);
done:
	siam_model_free(saved);
	free(data);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Metadata                                                            */

static void put_str(wbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_fmt(wbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put_fmt(wbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)SIAM_MIN(n, (int)sizeof tmp - 1));
}

static void put_json_str(wbuf *b, const char *s)
{
	put_str(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; p && *p;
	     p++) {
		if (*p == '"' || *p == '\\')
			put_fmt(b, "\\%c", *p);
		else if (*p < 0x20)
			put_fmt(b, "\\u%04x", *p);
		else if (siam_utf8_len(p) == 0)
			put_str(b, "\\ufffd"); /* not UTF-8: see utf8.h */
		else {
			size_t len = siam_utf8_len(p);
			put(b, p, len);
			p += len - 1;
		}
	}
	put_str(b, "\"");
}

static const char *loss_name(int loss)
{
	return loss == SIAM_LOSS_TRIPLET ? "triplet"
	       : loss == SIAM_LOSS_SUPCON ? "supcon"
	                                  : "contrastive";
}

/* JSON for m->meta: how the model was made and what validation
 * measured.  Nothing time-dependent goes in, so a rerun writes the same
 * bytes. */
static char *make_meta(const run *r, int nvalidated)
{
	const siam_train_opts *o = r->o;
	wbuf b = { 0 };
	put_str(&b, "{\"trainer\":\"siam train\",\"data\":");
	put_json_str(&b, r->d->source);
	put_str(&b, ",\"classes\":");
	if (o->classes && *o->classes)
		put_json_str(&b, o->classes);
	else
		put_str(&b, "null");
	put_str(&b, ",\"arch\":");
	put_json_str(&b, siam_net_spec(r->net));
	put_fmt(&b, ",\"loss\":\"%s\",\"epochs\":%d,\"batch\":%d,"
	        "\"pairs_per_epoch\":%ld,\"lr\":%.9g,\"lr_decay\":%s,"
	        "\"margin\":%.9g,\"weight_decay\":%.9g,\"seed\":%llu,"
	        "\"threads\":%d,\"val_split\":%.9g,",
	        loss_name(o->loss),
	        o->epochs, o->batch, r->npairs, (double)o->lr,
	        o->lr_decay ? "true" : "false", (double)o->margin,
	        (double)o->weight_decay, (unsigned long long)o->seed,
	        o->threads, (double)o->val_split);
	if (o->loss == SIAM_LOSS_SUPCON)
		put_fmt(&b, "\"temperature\":%.9g,", (double)o->temperature);
	if (r->ninst)
		put_fmt(&b, "\"instance\":%.9g,\"instance_margin\":%.9g,",
		        (double)o->instance, (double)o->instance_margin);
	if (o->glyphs > 0)
		put_fmt(&b, "\"glyphs\":%.9g,", (double)o->glyphs);
	if (o->ema > 0)
		put_fmt(&b, "\"ema\":%.9g,", (double)o->ema);
	if (o->views != 1)
		put_fmt(&b, "\"views\":%d,", o->views);
	if (o->augment || r->unlabelled || r->ninst)
		put_fmt(&b, "\"augment\":{\"shift\":%.9g,\"rotate\":%.9g,"
		        "\"scale\":%.9g,\"bright\":%.9g,\"contrast\":%.9g,"
		        "\"elastic\":%.9g,\"sigma\":%.9g},",
		        (double)o->aug.shift, (double)o->aug.rotate,
		        (double)o->aug.scale, (double)o->aug.bright,
		        (double)o->aug.contrast, (double)o->aug.elastic,
		        (double)o->aug.sigma);
	else
		put_str(&b, "\"augment\":null,");
	put_fmt(&b, "\"train_images\":%d,\"val_images\":%d,", r->ntrain,
	        r->nval);
	put_fmt(&b, "\"validation\":{\"pairs\":%zu,\"best_epoch\":%d,"
	        "\"accuracy\":%.9g,\"auc\":%.9g,\"eer\":%.9g,"
	        "\"tar_at_far_1e-3\":%.9g,\"threshold\":%.9g,"
	        "\"held_out\":%s},",
	        r->nvp, r->best_epoch, r->best_val.best_accuracy,
	        r->best_val.auc, r->best_val.eer, r->best_val.tar_at_far,
	        (double)r->best_val.best_threshold,
	        r->nval ? "true" : "false");
	put_str(&b, "\"history\":[");
	for (int e = 0; e < o->epochs; e++) {
		put_fmt(&b, "%s{\"epoch\":%d,\"loss\":%.9g", e ? "," : "",
		        e + 1, r->rec[e].loss);
		if (nvalidated)
			put_fmt(&b, ",\"val_accuracy\":%.9g,\"val_auc\":%.9g",
			        r->rec[e].val_acc, r->rec[e].val_auc);
		put_str(&b, "}");
	}
	put_str(&b, "]}");
	put(&b, "", 1);
	if (b.fail) {
		free(b.p);
		return NULL;
	}
	return (char *)b.p;
}

/* ------------------------------------------------------------------ */

static int check_opts(const siam_train_opts *o, siam_error *err)
{
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
static int report(run *r, int event, double t0, double val_acc,
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

static int interrupted(run *r, siam_model *m, siam_error *err)
{
	if (r->o->checkpoint) {
		int rc = write_checkpoint(r, m, err);
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
	run r = { 0 };
	int rc = check_opts(o, err);
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
	if (o->loss == SIAM_LOSS_SUPCON &&
	    siam_net_layer(r.net, siam_net_num_layers(r.net) - 1)->kind !=
	            SIAM_LAYER_L2NORM)
		return siam_errorf(err, SIAM_EINVAL,
		                   "the supcon loss compares unit-length "
		                   "embeddings: end the architecture with l2");
	if (o->threads > 0)
		siam_set_threads(o->threads);
	if ((rc = split_pools(&r, err)))
		goto done;
	if ((rc = siam_sampler_create(&r.sampler, d->labels, r.train, r.ntrain,
	                              err)))
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
	    (rc = siam_glyphs_init(&r.glyphs, r.sampler, o->glyphs,
	                           3 * r.npairs, err)))
		goto done;
	if ((rc = siam_net_create(&r.vnet, siam_net_spec(r.net), err)))
		goto done;
	int sides = o->loss == SIAM_LOSS_TRIPLET ? 3 : 2;
	r.m = calloc(r.np, sizeof(float));
	r.v = calloc(r.np, sizeof(float));
	r.best = siam_xmalloc_n(r.np, sizeof(float));
	if (o->ema > 0 && !(r.ema = siam_xmalloc_n(r.np, sizeof(float)))) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	r.rec = calloc((size_t)o->epochs, sizeof *r.rec);
	r.x = siam_xmalloc_n((size_t)sides * o->batch, r.in * sizeof(float));
	r.dout = siam_xmalloc_n((size_t)sides * o->batch,
	                        (size_t)r.D * sizeof(float));
	r.y = siam_xmalloc_n((size_t)o->batch, sizeof(float));
	r.tmp = siam_xmalloc_n(r.in, sizeof(float));
	r.tmp2 = siam_xmalloc_n(r.in, sizeof(float));
	r.ids = siam_xmalloc_n(2 * (size_t)o->batch, sizeof(int));
	r.work = siam_xmalloc_n(2 * (size_t)o->batch, sizeof(double));
	r.ia = siam_xmalloc_n((size_t)r.npairs, sizeof(int));
	r.ib = siam_xmalloc_n((size_t)r.npairs, sizeof(int));
	r.ic = siam_xmalloc_n((size_t)r.npairs, sizeof(int));
	if (!r.m || !r.v || !r.best || !r.rec || !r.x || !r.dout || !r.y ||
	    !r.tmp || !r.tmp2 || !r.ids || !r.work || !r.ia || !r.ib || !r.ic) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = make_val_pairs(&r, err)))
		goto done;
	siam_adam_defaults(&r.adam, o->lr);
	r.adam.weight_decay = o->weight_decay;
	if (o->resume) {
		if ((rc = read_checkpoint(&r, m, err)))
			goto done;
	} else {
		siam_net_init(r.net, siam_train_seed(o->seed, TAG_INIT, 0, 0));
		if ((rc = scale_init(&r, err)))
			goto done;
		memcpy(r.best, siam_net_params(r.net), r.np * sizeof(float));
		if (r.ema)
			memcpy(r.ema, r.best, r.np * sizeof(float));
	}

	for (; r.epoch < o->epochs; r.epoch++, r.step = 0, r.loss_sum = 0) {
		double t0 = now_seconds();
		draw_epoch(&r, r.epoch);
		for (; r.step < r.steps;) {
			long k0 = r.step * o->batch;
			int N = o->batch;
			double loss = 0;
			if ((rc = train_step(&r, k0, N, &loss, err)))
				goto done;
			r.loss_sum += loss;
			r.step++;
			if (report(&r, SIAM_TRAIN_STEP, t0, -1, -1, 0)) {
				rc = interrupted(&r, m, err);
				goto done;
			}
		}
		epoch_rec *rec = &r.rec[r.epoch];
		rec->loss = r.loss_sum / r.steps;
		rec->val_acc = rec->val_auc = -1;
		if (r.nval) {
			siam_verif v;
			report(&r, SIAM_TRAIN_VALIDATE, t0, -1, -1, 0);
			if ((rc = validate(&r, &v, err)))
				goto done;
			rec->val_acc = v.best_accuracy;
			rec->val_auc = v.auc;
			rec->val_thr = v.best_threshold;
			if (!r.best_epoch ||
			    v.best_accuracy > r.best_val.best_accuracy ||
			    (v.best_accuracy == r.best_val.best_accuracy &&
			     v.auc > r.best_val.auc)) {
				r.best_epoch = r.epoch + 1;
				r.best_val = v;
				memcpy(r.best, kept_weights(&r),
				       r.np * sizeof(float));
			}
		}
		if (report(&r, SIAM_TRAIN_EPOCH, t0, rec->val_acc, rec->val_auc,
		           rec->val_thr) &&
		    r.epoch + 1 < o->epochs) {
			/* Saved as "the next epoch, step 0". */
			r.epoch++;
			r.step = 0;
			r.loss_sum = 0;
			rc = interrupted(&r, m, err);
			goto done;
		}
	}

	if (r.nval) {
		memcpy(siam_net_params(r.net), r.best, r.np * sizeof(float));
	} else {
		/* No held-out images: the last epoch, calibrated on training
		 * pairs. */
		r.best_epoch = o->epochs;
		if (r.ema)
			memcpy(siam_net_params(r.net), r.ema,
			       r.np * sizeof(float));
		if ((rc = validate(&r, &r.best_val, err)))
			goto done;
	}
	m->threshold = r.best_val.best_threshold;
	m->margin = o->margin;
	m->views = o->views;
	char *meta = make_meta(&r, r.nval > 0);
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
