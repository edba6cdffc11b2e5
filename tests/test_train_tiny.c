/*
 * test_train_tiny.c -- end to end: a small Siamese net learns, from
 * pairs alone, to tell three kinds of noisy synthetic 12x12 patterns
 * apart (a horizontal bar, a vertical bar, a diagonal, each at a random
 * place), and then verifies held-out pairs it never saw.
 */
#include "tap.h"
#include "siam_nn.h"

#include <string.h>

#define S 12
#define ARCH "in=1x12x12 conv3x8 relu pool2 conv3x16 relu pool2 fc32 relu fc8"

static void pattern(float *x, int cls, siam_rng *r)
{
	int pos = 2 + (int)siam_rng_below(r, S - 4); /* where the stroke is */
	int off = (int)siam_rng_below(r, 5) - 2;     /* diagonal shift */
	for (int i = 0; i < S; i++)
		for (int j = 0; j < S; j++) {
			int on = cls == 0 ? i == pos || i == pos + 1
			       : cls == 1 ? j == pos || j == pos + 1
			                  : j - i == off || j - i == off + 1;
			x[i * S + j] = (on ? 1.0f : 0.0f) +
			               0.3f * siam_rng_normal(r);
		}
}

/* N pairs, half same-class, half different */
static void make_pairs(float *a, float *b, float *y, int N, siam_rng *r)
{
	for (int i = 0; i < N; i++) {
		int ca = (int)siam_rng_below(r, 3), cb = ca;
		if (i % 2)
			cb = (ca + 1 + (int)siam_rng_below(r, 2)) % 3;
		pattern(a + i * S * S, ca, r);
		pattern(b + i * S * S, cb, r);
		y[i] = ca == cb;
	}
}

/* A trainer of net with this loss and learning rate 3e-3. */
static siam_trainer *trainer(siam_net *net, int loss, float margin,
                             siam_error *err)
{
	siam_trainer_opts o;
	siam_trainer_opts_default(&o);
	o.loss = loss;
	o.margin = margin;
	o.lr = 3e-3f;
	siam_trainer *t = NULL;
	siam_trainer_create(&t, net, &o, err);
	return t;
}

/* One step on N pairs a, b (y: their labels) or triplets a, b, n (y
 * NULL); the loss, or -1 on error. */
static float train_step(siam_trainer *t, const float *a, const float *b,
                        const float *n, const float *y, int N, siam_error *err)
{
	const float *part[3] = { a, b, n };
	float *in, loss = -1.0f;
	if (siam_trainer_input(t, N, &in, err))
		return -1.0f;
	for (int k = 0; k < (y ? 2 : 3); k++)
		memcpy(in + (size_t)k * N * S * S, part[k],
		       sizeof(float) * N * S * S);
	siam_batch bt = { .y = y };
	return siam_trainer_step(t, &bt, &loss, err) ? -1.0f : loss;
}

int main(void)
{
	siam_net *net = NULL;
	siam_trainer *t = NULL;
	siam_error err = { 0, "" };
	siam_rng r;
	siam_rng_seed(&r, 12345);
	int rc = siam_net_create(&net, ARCH, &err);
	tap_int(rc, 0, "tiny net builds (%s)", err.msg);
	if (rc)
		return tap_done();
	siam_net_init(net, 1);
	const float margin = 1.0f;
	t = trainer(net, SIAM_LOSS_CONTRASTIVE, margin, &err);
	tap_ok(t != NULL, "trainer builds");

	enum { N = 32, STEPS = 400, TEST = 400 };
	float *a = malloc(sizeof(float) * N * S * S);
	float *b = malloc(sizeof(float) * N * S * S);
	float y[N];
	double first = 0.0, last = 0.0;
	int ok = 1;
	for (int step = 0; step < STEPS; step++) {
		make_pairs(a, b, y, N, &r);
		float L = train_step(t, a, b, NULL, y, N, &err);
		ok &= L >= 0.0f;
		if (step < 10)
			first += L / 10.0;
		if (step >= STEPS - 30)
			last += L / 30.0;
	}
	tap_ok(ok, "every step succeeded (%s)", ok ? "" : err.msg);
	tap_diag("mean loss: first 10 steps %.4f, last 30 steps %.4f", first,
	         last);
	tap_ok(last < 0.1, "loss falls below 0.1 (%.4f)", last);
	tap_ok(last < first / 4, "loss falls to under a quarter (%.4f -> %.4f)",
	       first, last);

	/* held-out pairs, verified at half the margin */
	float *ea = malloc(sizeof(float) * TEST * 8), *eb = malloc(sizeof(float) * TEST * 8);
	float *ta = malloc(sizeof(float) * TEST * S * S);
	float *tb = malloc(sizeof(float) * TEST * S * S), ty[TEST];
	siam_rng_seed(&r, 999);
	make_pairs(ta, tb, ty, TEST, &r);
	rc = siam_net_embed(net, ta, TEST, ea, &err);
	rc |= siam_net_embed(net, tb, TEST, eb, &err);
	int correct = 0;
	for (int i = 0; i < TEST; i++) {
		float d = siam_l2_distance(ea + i * 8, eb + i * 8, 8);
		correct += (d < margin / 2) == (ty[i] == 1.0f);
	}
	double acc = (double)correct / TEST;
	tap_ok(rc == 0 && acc > 0.93, "held-out verification accuracy above "
	       "93%% (%.1f%% of %d pairs)", 100 * acc, TEST);

	/* Triplets train too, on unit-length embeddings as in FaceNet: on
	 * raw embeddings a hinge on squared distances can also be lowered
	 * by shrinking every distance, and this toy run stalls. */
	siam_trainer_free(t);
	siam_net_free(net);
	net = NULL;
	rc = siam_net_create(&net, ARCH " l2", &err);
	siam_net_init(net, 2);
	t = trainer(net, SIAM_LOSS_TRIPLET, 0.5f, &err);
	tap_ok(rc == 0 && t, "tiny net with l2 and its trainer build");
	float *n = malloc(sizeof(float) * N * S * S);
	first = last = 0.0;
	for (int step = 0; step < 150; step++) {
		for (int i = 0; i < N; i++) {
			int ca = (int)siam_rng_below(&r, 3);
			int cn = (ca + 1 + (int)siam_rng_below(&r, 2)) % 3;
			pattern(a + i * S * S, ca, &r);
			pattern(b + i * S * S, ca, &r);
			pattern(n + i * S * S, cn, &r);
		}
		float L = train_step(t, a, b, n, NULL, N, &err);
		if (step < 10)
			first += L / 10.0;
		if (step >= 120)
			last += L / 30.0;
	}
	tap_ok(last < first / 4 && last < 0.1, "triplet loss (margin 0.5) falls (%.4f -> "
	       "%.4f)", first, last);
	free(a), free(b), free(n), free(ea), free(eb), free(ta), free(tb);
	siam_trainer_free(t);
	siam_net_free(net);
	return tap_done();
}
