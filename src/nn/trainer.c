/*
 * trainer.c -- the training step: the one place where a batch becomes
 * a weight update.  `siam train` (src/train/train.c), selftest, the
 * tests and the benchmarks all step through siam_trainer_step.
 *
 * A Siamese network is one network applied twice.  Rather than two
 * passes, a step stacks both sides of its N pairs into one batch of 2N
 * (A on top, B below), runs one forward and one backward, and lets both
 * halves' gradients accumulate into the one gradient buffer: the shared
 * weights get the sum, exactly what two weight-tied towers would get,
 * with GEMMs twice as large.  Triplets stack into 3N the same way.
 *
 * The order of a step: forward, loss, backward, and only if the loss
 * and every gradient are finite Adam and the moving average.  A diverged
 * step therefore changes nothing a caller keeps -- weights, moments,
 * Adam's step count, the average -- and the caller can stop with a
 * model that still works.
 * The floating-point operations (their order included) are what
 * siam_train has always done, so models trained before it are
 * reproduced bit for bit.
 */
#include "nn.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct siam_trainer {
	siam_net *net;       /* borrowed */
	siam_trainer_opts o;
	siam_adam adam;
	size_t np;           /* parameters */
	float *m, *v;        /* Adam moments: one block of 2 * np */
	float *ema;          /* o.ema > 0: moving average of the weights */
	int sides;           /* inputs per example: 2, or 3 for triplets */
	int n;               /* examples in the input; 0: none yet */
	float *dout;         /* (sides * cap, embed_dim) loss gradient */
	double *work;        /* supcon scratch: sides * cap */
	int cap;             /* examples dout and work have room for */
	const siam_train_comm *comm; /* data parallel, or NULL */
	int first, total;    /* with comm: this rank's examples start at
	                      * first of the global batch's total */
	float *gemb;         /* supcon with comm: the global batch's
	                      * embeddings and their gradient, 2 * 2 * gcap
	                      * rows, and gwork, 2 * gcap */
	double *gwork;
	int gcap;
};

void siam_trainer_opts_default(siam_trainer_opts *o)
{
	memset(o, 0, sizeof *o);
	o->loss = SIAM_LOSS_CONTRASTIVE;
	o->lr = 1e-3f;
	o->weight_decay = 0.0f;
	o->margin = 1.0f;
	o->temperature = 0.1f;
	o->instance_margin = 0.1f;
	o->ema = 0.0f;
}

static int check_opts(const siam_trainer_opts *o, siam_error *err)
{
	if (o->loss != SIAM_LOSS_CONTRASTIVE && o->loss != SIAM_LOSS_TRIPLET &&
	    o->loss != SIAM_LOSS_SUPCON)
		return siam_errorf(err, SIAM_EINVAL, "unknown loss %d", o->loss);
	if (!(o->lr > 0.0f) || !isfinite(o->lr))
		return siam_errorf(err, SIAM_EINVAL, "learning rate must be a "
		                   "positive number, got %g", (double)o->lr);
	if (!(o->weight_decay >= 0.0f) || !isfinite(o->weight_decay))
		return siam_errorf(err, SIAM_EINVAL, "weight decay must be zero "
		                   "or positive, got %g", (double)o->weight_decay);
	if (!(o->margin > 0.0f) || !isfinite(o->margin))
		return siam_errorf(err, SIAM_EINVAL, "margin must be positive, "
		                   "got %g", (double)o->margin);
	if (!(o->temperature > 0.0f) || !isfinite(o->temperature))
		return siam_errorf(err, SIAM_EINVAL, "temperature must be "
		                   "positive, got %g", (double)o->temperature);
	if (!(o->instance_margin >= 0.0f) || !isfinite(o->instance_margin))
		return siam_errorf(err, SIAM_EINVAL, "instance margin must be "
		                   "zero or positive, got %g",
		                   (double)o->instance_margin);
	if (!(o->ema >= 0.0f && o->ema < 1.0f))
		return siam_errorf(err, SIAM_EINVAL, "moving-average decay must "
		                   "be in [0, 1), got %g", (double)o->ema);
	return 0;
}

int siam_trainer_create(siam_trainer **out, siam_net *net,
                        const siam_trainer_opts *o, siam_error *err)
{
	*out = NULL;
	int rc = check_opts(o, err);
	if (rc)
		return rc;
	if (o->loss == SIAM_LOSS_SUPCON &&
	    siam_net_layer(net, siam_net_num_layers(net) - 1)->kind !=
	            SIAM_LAYER_L2NORM)
		return siam_errorf(err, SIAM_EINVAL,
		                   "the supcon loss compares unit-length "
		                   "embeddings: end the architecture with l2");
	siam_trainer *t = calloc(1, sizeof *t);
	size_t n = siam_net_num_params(net);
	if (!t || !(t->m = siam_xcalloc(2 * n, sizeof(float))) ||
	    (o->ema > 0 && !(t->ema = siam_xmalloc_n(n, sizeof(float))))) {
		siam_trainer_free(t);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory for the "
		                   "optimiser of %zu parameters", n);
	}
	t->v = t->m + n;
	t->np = n;
	t->net = net;
	t->o = *o;
	t->sides = o->loss == SIAM_LOSS_TRIPLET ? 3 : 2;
	/* The average starts at the weights as they are; a caller that
	 * initialises the net afterwards copies them in again. */
	if (t->ema)
		memcpy(t->ema, siam_net_params(net), n * sizeof(float));
	siam_adam_defaults(&t->adam, o->lr);
	t->adam.weight_decay = o->weight_decay;
	*out = t;
	return SIAM_OK;
}

void siam_trainer_free(siam_trainer *t)
{
	if (!t)
		return;
	free(t->m);
	free(t->ema);
	free(t->dout);
	free(t->work);
	free(t->gemb);
	free(t->gwork);
	free(t);
}

siam_adam *siam_trainer_adam(siam_trainer *t) { return &t->adam; }

void siam_trainer_set_comm(siam_trainer *t, const siam_train_comm *c,
                           int first, int total)
{
	t->comm = c;
	t->first = first;
	t->total = total;
}

void siam_trainer_state(siam_trainer *t, float **m, float **v, float **ema)
{
	if (m)
		*m = t->m;
	if (v)
		*v = t->v;
	if (ema)
		*ema = t->ema;
}

int siam_trainer_input(siam_trainer *t, int n, float **in, siam_error *err)
{
	int k = t->sides;
	*in = NULL;
	t->n = 0;
	if (n <= 0)
		return siam_errorf(err, SIAM_EINVAL, "a training step needs at "
		                   "least one example, got %d", n);
	if (n > (1 << 30) / k)
		return siam_errorf(err, SIAM_EINVAL, "batch of %d is too large",
		                   n);
	if (k * n > t->cap) {
		size_t D = (size_t)siam_net_embed_dim(t->net);
		float *d = siam_xmalloc_n((size_t)k * n * D, sizeof(float));
		double *w = siam_xmalloc_n((size_t)k * n, sizeof(double));
		if (!d || !w) {
			free(d);
			free(w);
			return siam_errorf(err, SIAM_ENOMEM, "out of memory for "
			                   "a batch of %d", n);
		}
		free(t->dout);
		free(t->work);
		t->dout = d;
		t->work = w;
		t->cap = k * n;
	}
	/* The net's own input buffer: the batch is written once, where
	 * the forward reads it, instead of being copied there. */
	siam_error e = { SIAM_ENOMEM, "out of memory" };
	if (!(*in = nn_net_input(t->net, k * n, &e)))
		return siam_errorf(err, e.code, "%s", e.msg);
	t->n = n;
	return SIAM_OK;
}

/* The loss of the batch in the net's input, its gradient in t->dout. */
static float batch_loss(siam_trainer *t, const siam_batch *b)
{
	int N = t->n, D = siam_net_embed_dim(t->net);
	size_t nd = (size_t)N * D;
	const float *e = nn_net_forward_input(t->net, t->sides * N);
	float *dout = t->dout;
	if (t->o.loss == SIAM_LOSS_SUPCON)
		return siam_supcon_loss(dout, e, b->ids, 2 * N, D,
		                        t->o.temperature, t->work);
	if (t->o.loss == SIAM_LOSS_CONTRASTIVE)
		return siam_contrastive_loss(dout, dout + nd, e, e + nd, b->y,
		                             N, D, t->o.margin);
	/* Class triplets first, instance triplets last; each loss is a mean
	 * over its part, reweighted to a mean over the batch. */
	int nc = N - b->ninst, ni = b->ninst;
	size_t oi = (size_t)nc * D;
	float loss = 0;
	if (nc > 0)
		loss += (float)nc / N *
		        siam_triplet_loss(dout, dout + nd, dout + 2 * nd, e,
		                          e + nd, e + 2 * nd, nc, D,
		                          t->o.margin);
	if (ni > 0)
		loss += (float)ni / N *
		        siam_triplet_loss(dout + oi, dout + nd + oi,
		                          dout + 2 * nd + oi, e + oi,
		                          e + nd + oi, e + 2 * nd + oi, ni, D,
		                          t->o.instance_margin);
	if (nc > 0 && ni > 0)
		for (int s = 0; s < 3; s++) {
			float *g = dout + s * nd;
			for (size_t k = 0; k < oi; k++)
				g[k] *= (float)nc / N;
			for (size_t k = oi; k < nd; k++)
				g[k] *= (float)ni / N;
		}
	return loss;
}

/* The supcon loss over ranks.  It compares every input of the global
 * batch with every other, so it is no sum of the ranks' parts: each
 * rank puts its embeddings e (its 2N: A rows then B rows) into their
 * rows of the global (2T, D) matrix, zeros elsewhere, and a sum over
 * the ranks (exact: one rank adds a value, the rest zeros) gives every
 * rank the whole matrix.  Every rank then computes the whole loss and
 * its gradient and keeps the rows of its own inputs in t->dout: the sum
 * over ranks of their backward passes is the global batch's gradient.
 * b->ids are the global batch's 2T. */
static int supcon_ranks(siam_trainer *t, const siam_batch *b,
                        const float *e, float *lossp, siam_error *err)
{
	int N = t->n, T = t->total, lo = t->first;
	size_t D = (size_t)siam_net_embed_dim(t->net), rows = 2 * (size_t)T;
	if (N > T || lo < 0 || lo > T - N)
		return siam_errorf(err, SIAM_EINVAL, "examples %d to %d of a "
		                   "batch of %d", lo, lo + N, T);
	if (T > t->gcap) {
		float *g = siam_xmalloc_n(2 * rows, D * sizeof(float));
		double *w = siam_xmalloc_n(rows, sizeof(double));
		if (!g || !w) {
			free(g);
			free(w);
			return siam_errorf(err, SIAM_ENOMEM, "out of memory for "
			                   "a batch of %d", T);
		}
		free(t->gemb);
		free(t->gwork);
		t->gemb = g;
		t->gwork = w;
		t->gcap = T;
	}
	float *all = t->gemb, *dall = all + rows * D;
	size_t nd = (size_t)N * D;
	memset(all, 0, rows * D * sizeof(float));
	memcpy(all + lo * D, e, nd * sizeof(float));
	memcpy(all + (T + lo) * D, e + nd, nd * sizeof(float));
	int rc = t->comm->sum(t->comm->arg, all, rows * D, err);
	if (rc)
		return rc;
	*lossp = siam_supcon_loss(dall, all, b->ids, 2 * T, (int)D,
	                          t->o.temperature, t->gwork);
	memcpy(t->dout, dall + lo * D, nd * sizeof(float));
	memcpy(t->dout + nd, dall + (T + lo) * D, nd * sizeof(float));
	return 0;
}

/* Whether none of x[0..n) is an infinity or a NaN.  The loss alone
 * does not tell: a ReLU maps NaN to 0, so a NaN input can leave the
 * loss finite and still poison every gradient of the first layer.  A
 * test of the exponent bits (all ones: infinity or NaN). */
int nn_all_finite_ref(const float *x, size_t n)
{
	uint32_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &x[i], 4);
		bad |= (u & 0x7f800000u) == 0x7f800000u;
	}
	return !bad;
}

int nn_all_finite(const float *x, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	/* Four at a time: GCC -O2 keeps the loop above scalar, and over
	 * every gradient it cost a tenth of a one-pair step. */
	const __m128i ones = _mm_set1_epi32(0x7f800000);
	__m128i bad = _mm_setzero_si128();
	for (; i + 4 <= n; i += 4) {
		__m128i u = _mm_loadu_si128((const __m128i *)(x + i));
		bad = _mm_or_si128(bad, _mm_cmpeq_epi32(_mm_and_si128(u, ones),
		                                        ones));
	}
	if (_mm_movemask_epi8(bad))
		return 0;
#endif
	return nn_all_finite_ref(x + i, n - i);
}

int siam_trainer_step(siam_trainer *t, const siam_batch *b, float *lossp,
                      siam_error *err)
{
	static const siam_batch none = { 0 };
	int N = t->n;
	if (!b)
		b = &none;
	if (N <= 0)
		return siam_errorf(err, SIAM_EINVAL, "a training step needs "
		                   "its input: call siam_trainer_input first");
	if (t->o.loss == SIAM_LOSS_CONTRASTIVE && !b->y)
		return siam_errorf(err, SIAM_EINVAL, "a contrastive step needs "
		                   "the pairs' labels (y)");
	if (t->o.loss == SIAM_LOSS_SUPCON && !b->ids)
		return siam_errorf(err, SIAM_EINVAL, "a supcon step needs the "
		                   "inputs' ids");
	if (b->ninst < 0 || b->ninst > N ||
	    (b->ninst && t->o.loss != SIAM_LOSS_TRIPLET))
		return siam_errorf(err, SIAM_EINVAL, "%d instance triplets in "
		                   "a step of %d %s", b->ninst, N,
		                   t->o.loss == SIAM_LOSS_TRIPLET ? "triplets"
		                                                  : "pairs");
	float loss;
	if (t->comm && t->o.loss == SIAM_LOSS_SUPCON) {
		const float *e = nn_net_forward_input(t->net, 2 * N);
		int rc = supcon_ranks(t, b, e, &loss, err);
		if (rc)
			return rc;
	} else {
		loss = batch_loss(t, b);
	}
	if (lossp)
		*lossp = loss;
	/* Split over ranks, a rank stops only when all do: after the sum. */
	if (!t->comm && !isfinite(loss))
		return siam_errorf(err, SIAM_EDIVERGED, "the loss is not finite "
		                   "(%g)", (double)loss);
	siam_net *net = t->net;
	float *w = siam_net_params(net), *g = siam_net_grads(net);
	siam_net_zero_grad(net);
	if (t->comm) {
		/* This rank's mean, weighted to its part of the global one
		 * (supcon's gradient is the global one already; each rank
		 * has the whole loss). */
		float share = (float)N / t->total;
		size_t nd = (size_t)t->sides * N * siam_net_embed_dim(net);
		if (t->o.loss != SIAM_LOSS_SUPCON)
			for (size_t k = 0; k < nd; k++)
				t->dout[k] *= share;
		loss *= share;
	}
	siam_net_backward(net, t->dout);
	if (t->comm) {
		int rc = t->comm->sum(t->comm->arg, g, t->np, err);
		if (!rc)
			rc = t->comm->sum(t->comm->arg, &loss, 1, err);
		if (rc)
			return rc;
		if (lossp)
			*lossp = loss;
		if (!isfinite(loss))
			return siam_errorf(err, SIAM_EDIVERGED, "the loss is not "
			                   "finite (%g)", (double)loss);
	}
	if (!nn_all_finite(g, t->np))
		return siam_errorf(err, SIAM_EDIVERGED, "a gradient is not "
		                   "finite (the loss is %g)", (double)loss);
	siam_adam_step(&t->adam, w, g, t->m, t->v, t->np);
	if (t->ema) {
		float a = t->o.ema;
		for (size_t i = 0; i < t->np; i++)
			t->ema[i] = a * t->ema[i] + (1 - a) * w[i];
	}
	return SIAM_OK;
}
