/*
 * trainer.c -- Siamese training steps: the net, Adam and its moments.
 *
 * A Siamese network is one network applied twice.  Rather than two
 * passes, a step stacks both sides of its N pairs into one batch of 2N
 * (A on top, B below), runs one forward and one backward, and lets both
 * halves' gradients accumulate into the one gradient buffer: the shared
 * weights get the sum, exactly what two weight-tied towers would get,
 * with GEMMs twice as large.  Triplets stack into 3N the same way.
 */
#include "nn.h"

#include <math.h>
#include <string.h>

struct siam_trainer {
	siam_net *net;       /* borrowed */
	siam_adam adam;
	float *m, *v;        /* Adam moments: one block of 2 * nparams */
	float *dout;         /* (cap, embed_dim) loss gradient */
	int cap;
};

int siam_trainer_create(siam_trainer **out, siam_net *net, float lr,
                        float weight_decay, siam_error *err)
{
	*out = NULL;
	if (!(lr > 0.0f) || !isfinite(lr))
		return siam_errorf(err, SIAM_EINVAL, "learning rate must be a "
		                   "positive number, got %g", (double)lr);
	if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
		return siam_errorf(err, SIAM_EINVAL, "weight decay must be zero "
		                   "or positive, got %g", (double)weight_decay);
	siam_trainer *t = calloc(1, sizeof *t);
	size_t n = siam_net_num_params(net);
	if (!t || !(t->m = siam_xcalloc(2 * n, sizeof(float)))) {
		free(t);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory for the "
		                   "optimiser of %zu parameters", n);
	}
	t->v = t->m + n;
	t->net = net;
	siam_adam_defaults(&t->adam, lr);
	t->adam.weight_decay = weight_decay;
	*out = t;
	return SIAM_OK;
}

void siam_trainer_free(siam_trainer *t)
{
	if (!t)
		return;
	free(t->m);
	free(t->dout);
	free(t);
}

siam_adam *siam_trainer_adam(siam_trainer *t) { return &t->adam; }

/* Stacks k blocks of N inputs into the net's input buffer of k*N rows
 * and sizes the loss gradient.  Returns the buffer, NULL on error. */
static float *stack(siam_trainer *t, const float *const *parts, int k,
                    int N, siam_error *err)
{
	if (N <= 0) {
		siam_errorf(err, SIAM_EINVAL, "a training step needs at least "
		            "one example, got %d", N);
		return NULL;
	}
	if (N > (1 << 30) / k) {
		siam_errorf(err, SIAM_EINVAL, "batch of %d is too large", N);
		return NULL;
	}
	size_t D = (size_t)siam_net_embed_dim(t->net);
	size_t isz = siam_net_input_size(t->net);
	if (k * N > t->cap) {
		float *d = siam_xmalloc_n((size_t)k * N * D, sizeof(float));
		if (!d) {
			siam_errorf(err, SIAM_ENOMEM, "out of memory for a batch "
			            "of %d", N);
			return NULL;
		}
		free(t->dout);
		t->dout = d;
		t->cap = k * N;
	}
	float *in = nn_net_input(t->net, k * N, err);
	if (!in)
		return NULL;
	for (int i = 0; i < k; i++)
		memcpy(in + (size_t)i * N * isz, parts[i],
		       (size_t)N * isz * sizeof(float));
	return in;
}

/* Backward of the loss gradient in t->dout, then Adam.  A non-finite
 * loss means the run diverged: the parameters are left as they were so
 * the caller can stop with a model that is still usable. */
static float finish(siam_trainer *t, float loss, siam_error *err)
{
	if (!isfinite(loss)) {
		siam_errorf(err, SIAM_EINVAL, "the loss is not finite: training "
		            "diverged (try a smaller learning rate)");
		return -1.0f;
	}
	siam_net *net = t->net;
	siam_net_zero_grad(net);
	siam_net_backward(net, t->dout);
	siam_adam_step(&t->adam, siam_net_params(net), siam_net_grads(net),
	               t->m, t->v, siam_net_num_params(net));
	return loss;
}

float siam_trainer_pair_step(siam_trainer *t, const float *a, const float *b,
                             const float *y, int N, float margin,
                             siam_error *err)
{
	const float *parts[2] = { a, b };
	if (!stack(t, parts, 2, N, err))
		return -1.0f;
	size_t D = (size_t)siam_net_embed_dim(t->net);
	const float *e = nn_net_forward_input(t->net, 2 * N);
	float loss = siam_contrastive_loss(t->dout, t->dout + N * D, e,
	                                   e + N * D, y, N, (int)D, margin);
	return finish(t, loss, err);
}

float siam_trainer_triplet_step(siam_trainer *t, const float *a,
                                const float *p, const float *n, int N,
                                float margin, siam_error *err)
{
	const float *parts[3] = { a, p, n };
	if (!stack(t, parts, 3, N, err))
		return -1.0f;
	size_t D = (size_t)siam_net_embed_dim(t->net);
	const float *e = nn_net_forward_input(t->net, 3 * N);
	float loss = siam_triplet_loss(t->dout, t->dout + N * D,
	                               t->dout + 2 * N * D, e, e + N * D,
	                               e + 2 * N * D, N, (int)D, margin);
	return finish(t, loss, err);
}
