/*
 * test_train_step.c -- the one training step (src/nn/trainer.c): a
 * non-finite loss leaves every bit a run keeps as it was (weights,
 * Adam's moments and step count, the moving average) for every loss,
 * and siam_train stops on it with an error naming the epoch and step;
 * a finite step moves all of them; the instance share of a triplet
 * step is the weighted mean of its two parts.
 */
#include "tap.h"
#include "siam_nn.h"

#include <string.h>

#define ARCH "in=1x8x8 conv3x4 relu pool2 fc8 relu fc4"
#define ISZ 64

typedef struct snap {
	float *w, *m, *v, *ema;
	long t;
	size_t n;
} snap;

static void take(snap *s, siam_trainer *t, siam_net *net)
{
	float *m, *v, *ema;
	siam_trainer_state(t, &m, &v, &ema);
	s->n = siam_net_num_params(net);
	s->w = malloc(s->n * sizeof(float));
	s->m = malloc(s->n * sizeof(float));
	s->v = malloc(s->n * sizeof(float));
	s->ema = malloc(s->n * sizeof(float));
	memcpy(s->w, siam_net_params(net), s->n * sizeof(float));
	memcpy(s->m, m, s->n * sizeof(float));
	memcpy(s->v, v, s->n * sizeof(float));
	memcpy(s->ema, ema, s->n * sizeof(float));
	s->t = siam_trainer_adam(t)->t;
}

/* Which of weights, m, v, ema (bits 0-3) and t (bit 4) differ from s. */
static int changed(const snap *s, siam_trainer *t, siam_net *net)
{
	float *m, *v, *ema;
	siam_trainer_state(t, &m, &v, &ema);
	size_t b = s->n * sizeof(float);
	return (memcmp(s->w, siam_net_params(net), b) != 0) |
	       (memcmp(s->m, m, b) != 0) << 1 | (memcmp(s->v, v, b) != 0) << 2 |
	       (memcmp(s->ema, ema, b) != 0) << 3 |
	       (s->t != siam_trainer_adam(t)->t) << 4;
}

static void drop(snap *s)
{
	free(s->w), free(s->m), free(s->v), free(s->ema);
}

static const char *loss_name(int loss)
{
	return loss == SIAM_LOSS_TRIPLET ? "triplet"
	       : loss == SIAM_LOSS_SUPCON ? "supcon" : "contrastive";
}

/* Fills the input of a step on N examples (k inputs each) with a
 * seeded pattern; the buffer, NULL on error. */
static float *fill(siam_trainer *t, int N, int k, uint64_t seed,
                   siam_error *err)
{
	float *in;
	if (siam_trainer_input(t, N, &in, err))
		return NULL;
	siam_rng r;
	siam_rng_seed(&r, seed);
	for (int i = 0; i < k * N * ISZ; i++)
		in[i] = siam_rng_normal(&r);
	return in;
}

/* A trainer of net: this loss and margin, an instance margin of 0.25,
 * a moving average of this decay (0: none).  NULL on error. */
static siam_trainer *trainer(siam_net *net, int loss, float margin,
                             float ema, siam_error *err)
{
	siam_trainer_opts o;
	siam_trainer_opts_default(&o);
	o.loss = loss;
	o.margin = margin;
	o.instance_margin = 0.25f;
	o.ema = ema;
	siam_trainer *t = NULL;
	siam_trainer_create(&t, net, &o, err);
	return t;
}

/* For each loss: a good step moves everything; then a NaN input, and
 * then a poisoned weight, are refused without touching anything. */
static void test_nan(int loss)
{
	enum { N = 6 };
	const char *name = loss_name(loss);
	int k = loss == SIAM_LOSS_TRIPLET ? 3 : 2;
	siam_net *net = NULL;
	siam_error err = { 0 };
	siam_net_create(&net, loss == SIAM_LOSS_SUPCON ? ARCH " l2" : ARCH,
	                &err);
	siam_net_init(net, 4);
	siam_trainer *t = trainer(net, loss, 2.0f, 0.9f, &err);
	if (!tap_ok(t != NULL, "%s: trainer with a moving average (%s)", name,
	            err.msg))
		return;
	float y[N];
	int ids[2 * N];
	for (int i = 0; i < N; i++) {
		y[i] = (float)(i % 2 == 0);
		ids[i] = ids[N + i] = i / 2;
	}
	siam_batch b = { .y = y, .ids = ids, .ninst = loss ==
	                 SIAM_LOSS_TRIPLET ? 2 : 0 };

	snap s;
	take(&s, t, net);
	float L = -1;
	fill(t, N, k, 1, &err);
	int rc = siam_trainer_step(t, &b, &L, &err);
	tap_ok(rc == 0 && isfinite(L) && L > 0, "%s: a good step (loss %g)",
	       name, (double)L);
	tap_int(changed(&s, t, net), 31, "%s: it moves weights, moments, "
	        "average and step count", name);
	drop(&s);

	/* A NaN in one input. */
	take(&s, t, net);
	float *in = fill(t, N, k, 2, &err);
	in[ISZ + 5] = NAN;
	rc = siam_trainer_step(t, &b, &L, &err);
	tap_int(rc, SIAM_EDIVERGED, "%s: a NaN input: SIAM_EDIVERGED", name);
	tap_ok(strstr(err.msg, "gradient is not finite") != NULL,
	       "%s: reported (the ReLUs hide it from the loss, %g): %s",
	       name, (double)L, err.msg);
	tap_int(changed(&s, t, net), 0, "%s: weights, m, v, average and step "
	        "count are the same bits", name);
	drop(&s);

	/* A poisoned weight of the last layer: the output goes NaN (one of
	 * the first layer would not: a ReLU maps NaN to 0), the step is
	 * refused. */
	siam_net_params(net)[siam_net_num_params(net) - 6] = NAN;
	take(&s, t, net);
	fill(t, N, k, 3, &err);
	rc = siam_trainer_step(t, &b, &L, &err);
	tap_int(rc, SIAM_EDIVERGED, "%s: a NaN weight: SIAM_EDIVERGED", name);
	/* (the triplet hinge maps a NaN distance to a loss of 0) */
	tap_ok(strstr(err.msg, "not finite") != NULL &&
	       (!isfinite(L) || loss == SIAM_LOSS_TRIPLET),
	       "%s: reported (loss %g): %s", name, (double)L, err.msg);
	tap_int(changed(&s, t, net), 0, "%s: nothing else changed", name);
	drop(&s);
	siam_trainer_free(t);
	siam_net_free(net);
}

/* siam_train stops at the first non-finite step with the position. */
static void test_train_nan(void)
{
	enum { NI = 40 };
	float *x = malloc(NI * ISZ * sizeof(float));
	int labels[NI];
	for (int i = 0; i < NI; i++) {
		labels[i] = i % 4;
		for (int j = 0; j < ISZ; j++)
			x[i * ISZ + j] = (float)((i * 7 + j) % 5) / 5;
	}
	/* one image of every other is NaN: the first batch holds one */
	for (int i = 0; i < NI; i += 2)
		x[i * ISZ + 10] = NAN;
	siam_data *d = NULL;
	siam_error err = { 0 };
	siam_data_from_memory(&d, x, labels, NI, 4, 1, 8, 8, &err);
	free(x);
	siam_model *m = NULL;
	siam_model_create(&m, ARCH, &err);
	siam_train_opts o;
	siam_train_opts_default(&o);
	o.epochs = 2;
	o.batch = 8;
	o.val_split = 0.2f;
	o.threads = 1;
	o.ema = 0.5f;
	int rc = siam_train(m, d, &o, &err);
	tap_int(rc, SIAM_EDIVERGED, "siam_train on NaN images: SIAM_EDIVERGED");
	tap_ok(strstr(err.msg, "diverged at epoch 1 step 1: a gradient is "
	              "not finite") != NULL,
	       "the message names the position: %s", err.msg);
	size_t n = siam_net_num_params(m->net), bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += !isfinite(siam_net_params(m->net)[i]);
	tap_int(bad, 0, "the model's weights are all finite");
	siam_model_free(m);
	siam_data_free(d);
}

/* A triplet step with instance triplets: the loss is each part's mean
 * weighted by its share, each with its own margin. */
static void test_instance_share(void)
{
	enum { N = 8, NI = 3 };
	siam_net *net = NULL;
	siam_error err = { 0 };
	siam_net_create(&net, ARCH, &err);
	siam_net_init(net, 6);
	siam_trainer *t = trainer(net, SIAM_LOSS_TRIPLET, 1.5f, 0, &err);
	float x[3 * N * ISZ];
	memcpy(x, fill(t, N, 3, 9, &err), sizeof x);
	/* Reference: the embeddings before the step, by hand (a forward
	 * through the net's input buffer: the step's input is refilled). */
	const float *e0 = siam_net_forward(net, x, 3 * N, &err);
	int D = siam_net_embed_dim(net), nc = N - NI;
	float e[3 * N * 4];
	memcpy(e, e0, sizeof e);
	float *a = e, *p = e + N * D, *n = e + 2 * N * D;
	double want = (double)nc / N * siam_triplet_loss(NULL, NULL, NULL, a,
	                                                  p, n, nc, D, 1.5f) +
	              (double)NI / N *
	                      siam_triplet_loss(NULL, NULL, NULL, a + nc * D,
	                                        p + nc * D, n + nc * D, NI, D,
	                                        0.25f);
	fill(t, N, 3, 9, &err);
	siam_batch b = { .ninst = NI };
	float L = -1;
	tap_int(siam_trainer_step(t, &b, &L, &err), 0, "instance step runs");
	tap_near(L, want, 1e-6 * (1 + want), "loss = 5/8 class part (margin "
	         "1.5) + 3/8 instance part (margin 0.25)");
	b.ninst = N + 1;
	fill(t, N, 3, 9, &err);
	tap_int(siam_trainer_step(t, &b, &L, &err), SIAM_EINVAL,
	        "more instance triplets than triplets: EINVAL");
	siam_trainer_free(t);
	siam_net_free(net);
}

static void test_errors(void)
{
	siam_net *net = NULL;
	siam_error err = { 0 };
	siam_net_create(&net, ARCH, &err);
	siam_trainer_opts o;
	siam_trainer_opts_default(&o);
	o.loss = SIAM_LOSS_SUPCON;
	siam_trainer *t = NULL;
	tap_int(siam_trainer_create(&t, net, &o, &err), SIAM_EINVAL,
	        "supcon without l2 at the end: EINVAL");
	tap_ok(t == NULL && strstr(err.msg, "l2") != NULL, "message: %s",
	       err.msg);
	o.loss = SIAM_LOSS_CONTRASTIVE;
	o.ema = 1.0f;
	tap_int(siam_trainer_create(&t, net, &o, &err), SIAM_EINVAL,
	        "moving-average decay 1: EINVAL");
	o.ema = 0;
	siam_trainer_create(&t, net, &o, &err);
	float L;
	tap_int(siam_trainer_step(t, NULL, &L, &err), SIAM_EINVAL,
	        "a step before any input: EINVAL (%s)", err.msg);
	fill(t, 2, 2, 1, &err);
	tap_int(siam_trainer_step(t, NULL, &L, &err), SIAM_EINVAL,
	        "a contrastive step without labels: EINVAL (%s)", err.msg);
	float *in;
	tap_int(siam_trainer_input(t, 0, &in, &err), SIAM_EINVAL,
	        "an input of 0 pairs: EINVAL");
	tap_ok(in == NULL, "and no buffer");
	float *ema = &L;
	siam_trainer_state(t, NULL, NULL, &ema);
	tap_ok(ema == NULL, "no moving average unless asked for");
	siam_trainer_free(t);
	siam_trainer_free(NULL);
	siam_net_free(net);
}

int main(void)
{
	siam_set_threads(1);
	test_nan(SIAM_LOSS_CONTRASTIVE);
	test_nan(SIAM_LOSS_TRIPLET);
	test_nan(SIAM_LOSS_SUPCON);
	test_train_nan();
	test_instance_share();
	test_errors();
	return tap_done();
}
