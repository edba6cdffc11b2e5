/*
 * test_net.c -- spec parsing (shapes, parameter counts, error messages),
 * initialisation, and a finite-difference check of whole Siamese steps
 * through a small network.
 */
#include "tap.h"
#include "siam_nn.h"

#include <string.h>

static siam_rng rng;

static float *randv(size_t n, float scale)
{
	float *x = malloc(sizeof(float) * n);
	for (size_t i = 0; i < n; i++)
		x[i] = scale * (2.0f * siam_rng_uniform(&rng) - 1.0f);
	return x;
}

static void test_default(void)
{
	siam_net *net = NULL;
	siam_error err = { 0, "" };
	int rc = siam_net_create(&net, SIAM_DEFAULT_ARCH, &err);
	tap_int(rc, 0, "default architecture builds (%s)", err.msg);
	if (rc)
		return;
	tap_ok(!strcmp(siam_net_spec(net), SIAM_DEFAULT_ARCH),
	       "canonical spec of the default is itself");
	tap_int(siam_net_num_layers(net), 9, "default has 9 layers");
	static const struct {
		siam_layer_kind kind;
		int c, h, w;
	} want[] = {
		{ SIAM_LAYER_CONV, 32, 24, 24 }, { SIAM_LAYER_RELU, 32, 24, 24 },
		{ SIAM_LAYER_POOL, 32, 12, 12 }, { SIAM_LAYER_CONV, 64, 8, 8 },
		{ SIAM_LAYER_RELU, 64, 8, 8 },   { SIAM_LAYER_POOL, 64, 4, 4 },
		{ SIAM_LAYER_FC, 256, 1, 1 },    { SIAM_LAYER_RELU, 256, 1, 1 },
		{ SIAM_LAYER_FC, 64, 1, 1 },
	};
	int ok = 1;
	for (int i = 0; i < 9; i++) {
		const siam_layer *l = siam_net_layer(net, i);
		ok &= l->kind == want[i].kind && l->out_c == want[i].c &&
		      l->out_h == want[i].h && l->out_w == want[i].w;
	}
	tap_ok(ok, "default layer shapes: 32x24x24 relu 32x12x12 64x8x8 relu "
	       "64x4x4 256 relu 64");
	tap_ok(siam_net_layer(net, 9) == NULL && siam_net_layer(net, -1) == NULL,
	       "siam_net_layer out of range is NULL");
	const siam_layer *fc = siam_net_layer(net, 6);
	tap_ok(fc->in_c * fc->in_h * fc->in_w == 1024 && fc->w_len == 262144,
	       "fc256 flattens its 64x4x4 input: 1024 x 256 weights");
	tap_int(siam_net_num_params(net), 32 * 25 + 32 + 64 * 32 * 25 + 64 +
	        1024 * 256 + 256 + 256 * 64 + 64, "default has 330,944 "
	        "parameters");
	tap_int(siam_net_input_size(net), 784, "input is 1x28x28");
	tap_ok(siam_net_input_c(net) == 1 && siam_net_input_h(net) == 28 &&
	       siam_net_input_w(net) == 28, "input c, h, w");
	tap_int(siam_net_embed_dim(net), 64, "embedding has 64 dimensions");
	tap_near(siam_net_forward_flops(net),
	         2.0 * (32 * 25 * 576 + 64 * 800 * 64 + 1024 * 256 + 256 * 64),
	         0.5, "forward FLOPs = 2 x multiply-adds");
	/* layout: contiguous, in order */
	const siam_layer *c2 = siam_net_layer(net, 3);
	tap_ok(siam_net_layer(net, 0)->w_off == 0 &&
	       siam_net_layer(net, 0)->b_off == 800 && c2->w_off == 832 &&
	       c2->b_off == 832 + 51200, "parameters laid out layer by layer, "
	       "weights then bias");

	/* He initialisation: std sqrt(2/fan_in), zero bias */
	siam_net_init(net, 1);
	float *p = siam_net_params(net);
	double s2 = 0.0, bias = 0.0;
	for (size_t i = 0; i < c2->w_len; i++)
		s2 += (double)p[c2->w_off + i] * p[c2->w_off + i];
	for (size_t i = 0; i < c2->b_len; i++)
		bias += fabs(p[c2->b_off + i]);
	tap_near(sqrt(s2 / c2->w_len), sqrt(2.0 / 800), 0.02 * sqrt(2.0 / 800),
	         "conv2 weights have He std sqrt(2/800)");
	tap_ok(bias == 0.0, "biases start at zero");

	/* same seed, same parameters; a different seed, different ones */
	siam_net *net2 = NULL;
	siam_net_create(&net2, SIAM_DEFAULT_ARCH, NULL);
	siam_net_init(net2, 1);
	size_t n = siam_net_num_params(net);
	tap_ok(!memcmp(p, siam_net_params(net2), n * sizeof(float)),
	       "same seed gives bit-identical parameters");
	siam_net_init(net2, 2);
	tap_ok(memcmp(p, siam_net_params(net2), n * sizeof(float)) != 0,
	       "another seed gives other parameters");

	/* a forward of the default: batch rows are independent (12 samples
	 * run the second conv in several chunks) */
	float *x = randv(12 * 784, 1.0f);
	float e5[12 * 64], e1[64];
	rc = siam_net_embed(net, x, 12, e5, &err);
	rc |= siam_net_embed(net, x + 11 * 784, 1, e1, &err);
	double d = 0.0, mag = 0.0;
	for (int j = 0; j < 64; j++) {
		d = fmax(d, fabs(e5[11 * 64 + j] - e1[j]));
		mag = fmax(mag, fabs(e1[j]));
	}
	tap_ok(rc == 0 && d < 1e-5 * (1 + mag) && mag > 0,
	       "a sample embeds alike alone and in a batch (diff %.2g)", d);
	free(x);
	siam_net_free(net);
	siam_net_free(net2);
}

static void test_specs(void)
{
	static const struct {
		const char *spec, *canon;
		int embed;
		size_t params;
	} good[] = {
		{ "  in=3x9x9\tconv3x8:same  relu pool2 flatten fc10 l2 ",
		  "in=3x9x9 conv3x8:same relu pool2 fc10 l2", 10,
		  8 * 27 + 8 + 8 * 16 * 10 + 10 },
		{ "in=1x8x8 fc5", "in=1x8x8 fc5", 5, 64 * 5 + 5 },
		{ "in=01x8x8 conv01x2", "in=1x8x8 conv1x2", 128, 2 + 2 },
		{ "in=2x5x7 pool3", "in=2x5x7 pool3", 4, 0 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		siam_net *net = NULL;
		siam_error err = { 0, "" };
		int rc = siam_net_create(&net, good[i].spec, &err);
		tap_ok(rc == 0 && !strcmp(siam_net_spec(net), good[i].canon) &&
		       siam_net_embed_dim(net) == good[i].embed &&
		       siam_net_num_params(net) == good[i].params,
		       "'%s' builds as '%s' (%s)", good[i].spec, good[i].canon,
		       rc ? err.msg : net ? siam_net_spec(net) : "");
		siam_net_free(net);
	}
	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{ "", "empty architecture" },
		{ "   ", "empty architecture" },
		{ "conv5x32", "must start with in=CxHxW" },
		{ "in=1x28x28", "no layers" },
		{ "in=1x28x28 conv5", "bad layer 'conv5' in architecture: "
		  "expected convKxC" },
		{ "in=1x28x28 conv5x", "bad layer 'conv5x'" },
		{ "in=1x28x28 conv5x32:valid", "bad layer 'conv5x32:valid'" },
		{ "in=1x28x28 conv4x8:same", "odd kernel" },
		{ "in=1x28x28 conv0x8", "bad layer 'conv0x8'" },
		{ "in=1x28x28 conv-5x8", "bad layer 'conv-5x8'" },
		{ "in=1x28x28 fc", "bad layer 'fc'" },
		{ "in=1x28x28 fc99999999999", "bad layer 'fc99999999999'" },
		{ "in=1x28x28 pool", "bad layer 'pool'" },
		{ "in=1x28x28 relu2", "bad layer 'relu2'" },
		{ "in=1x28x28 dropout", "bad layer 'dropout' in architecture: "
		  "expected in=CxHxW, convKxC" },
		{ "in=1x28 fc4", "bad input 'in=1x28'" },
		{ "in=0x28x28 fc4", "bad input 'in=0x28x28'" },
		{ "in=1x28x28 fc4 in=1x28x28", "in= may appear only once" },
		{ "in=1x28x28 l2 fc4", "l2 must be the last layer" },
		{ "in=1x2x2 pool2 pool2", "'pool2' would make a 0x0 map" },
		{ "in=1x4x4 conv5x8", "'conv5x8' needs an input of at least 5x5 "
		  "but gets 4x4" },
		{ "in=1x28x28 conv5x32 relu pool2 conv5x64 relu pool2 pool2 "
		  "pool2 pool2", "'pool2' would make a 0x0 map from a 1x1 input" },
		{ "in=4096x4096x4096 fc1", "too large" },
		{ "in=1x4096x4096 fc65536 fc65536", "too many parameters" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		siam_net *net = (siam_net *)&rng; /* must be reset to NULL */
		siam_error err = { 0, "" };
		int rc = siam_net_create(&net, bad[i].spec, &err);
		tap_ok(rc == SIAM_EINVAL && err.code == SIAM_EINVAL && !net &&
		       strstr(err.msg, bad[i].msg), "'%s' is refused: %s",
		       bad[i].spec, err.msg);
	}
	siam_net_free(NULL);
	tap_ok(1, "siam_net_free(NULL) is a no-op");
}

/* --- Siamese steps through a small net, against finite differences --- */

#define SMALL "in=1x8x8 conv3x4 relu pool2 fc8 relu fc4"

static double pair_loss(siam_net *net, const float *ab, const float *y, int N,
                        float margin, float *dout)
{
	const float *e = siam_net_forward(net, ab, 2 * N, NULL);
	int D = siam_net_embed_dim(net);
	return siam_contrastive_loss(dout, dout ? dout + N * D : NULL, e,
	                             e + N * D, y, N, D, margin);
}

static double triplet_loss(siam_net *net, const float *apn, int N,
                           float margin, float *dout)
{
	const float *e = siam_net_forward(net, apn, 3 * N, NULL);
	int D = siam_net_embed_dim(net);
	return siam_triplet_loss(dout, dout ? dout + N * D : NULL,
	                         dout ? dout + 2 * N * D : NULL, e, e + N * D,
	                         e + 2 * N * D, N, D, margin);
}

/* A trainer of net: loss contrastive (y != NULL at the steps) or
 * triplet, this margin, learning rate and weight decay. */
static siam_trainer *trainer(siam_net *net, int triplet, float margin,
                             float lr, float wd, siam_error *err)
{
	siam_trainer_opts o;
	siam_trainer_opts_default(&o);
	o.loss = triplet ? SIAM_LOSS_TRIPLET : SIAM_LOSS_CONTRASTIVE;
	o.margin = margin;
	o.lr = lr;
	o.weight_decay = wd;
	siam_trainer *t = NULL;
	siam_trainer_create(&t, net, &o, err);
	return t;
}

/* One step on the N pairs (y: their labels) or triplets (y NULL)
 * stacked in x; the loss, or -1 on error. */
static float step(siam_trainer *t, siam_net *net, const float *x,
                  const float *y, int N, siam_error *err)
{
	float *in, loss = -1.0f;
	size_t k = y ? 2 : 3;
	if (siam_trainer_input(t, N, &in, err))
		return -1.0f;
	memcpy(in, x, k * N * siam_net_input_size(net) * sizeof(float));
	siam_batch b = { .y = y };
	return siam_trainer_step(t, &b, &loss, err) ? -1.0f : loss;
}

static void test_siamese_grad(int triplet, const char *spec)
{
	siam_net *net = NULL;
	siam_error err;
	if (siam_net_create(&net, spec, &err)) {
		tap_ok(0, "%s: %s", spec, err.msg);
		return;
	}
	siam_net_init(net, 5);
	int N = 4, k = triplet ? 3 : 2, D = siam_net_embed_dim(net);
	size_t isz = siam_net_input_size(net), np = siam_net_num_params(net);
	float *x = randv(k * N * isz, 1.0f);
	float y[4] = { 1, 0, 0, 1 };
	float *dout = malloc(sizeof(float) * k * N * D);
	float margin = triplet ? 0.5f : 3.0f;
	float *p = siam_net_params(net), *g = siam_net_grads(net);
	/* biases start at zero; give them values so every path is live */
	for (size_t i = 0; i < np; i++)
		if (p[i] == 0.0f)
			p[i] = 0.05f * (2.0f * siam_rng_uniform(&rng) - 1.0f);

	double L = triplet ? triplet_loss(net, x, N, margin, dout)
	                   : pair_loss(net, x, y, N, margin, dout);
	siam_net_zero_grad(net);
	siam_net_backward(net, dout);
	/* Every parameter of the small nets is checked.  ReLU, max-pool and
	 * the losses' hinges are piecewise smooth: a step that crosses a
	 * kink spoils a central difference, and at a random point some
	 * parameters always have a kink within a step.  So each parameter
	 * gets differences at four step sizes and passes if one agrees
	 * with the backward within 1% plus the float noise of that step:
	 * preferably a central difference, else a one-sided one (the side
	 * without the kink).  A wrong backward agrees with none (errors of
	 * a few percent are left to test_layers, which compares each layer
	 * with its reference to 1e-4). */
	size_t stride = np > 400 ? np / 397 : 1;
	double worst = 0.0;
	int checked = 0, nonzero = 0, onesided = 0;
	static const float hs[4] = { 2e-3f, 1e-3f, 5e-4f, 2.5e-4f };
	for (size_t i = 0; i < np; i += stride) {
		float keep = p[i];
		double best = INFINITY, bnum = 0.0, best1 = INFINITY;
		for (int k = 0; k < 4; k++) {
			float h = hs[k];
			p[i] = keep + h;
			double lp = triplet ? triplet_loss(net, x, N, margin, NULL)
			                    : pair_loss(net, x, y, N, margin, NULL);
			p[i] = keep - h;
			double lm = triplet ? triplet_loss(net, x, N, margin, NULL)
			                    : pair_loss(net, x, y, N, margin, NULL);
			p[i] = keep;
			/* four float ulps of the loss, over the step */
			double noise = 4.0 * 1.2e-7 * fmax(1.0, L) / h;
			double num = (lp - lm) / (2.0 * h);
			double e = fabs(num - g[i]) /
			           (1e-2 * (fabs(num) + fabs(g[i])) + noise);
			if (e < best)
				best = e, bnum = num;
			double side[2] = { (lp - L) / h, (L - lm) / h };
			for (int q = 0; q < 2; q++) {
				e = fabs(side[q] - g[i]) /
				    (1e-2 * (fabs(side[q]) + fabs(g[i])) + 2 * noise);
				best1 = e < best1 ? e : best1;
			}
		}
		if (best >= 1.0 && best1 < 1.0) {
			onesided++;
			best = best1;
		}
		if (best > worst && getenv("SIAM_TEST_VERBOSE"))
			tap_diag("param %zu: backward %g, finite difference %g", i,
			         g[i], bnum);
		worst = fmax(worst, best);
		checked++;
		nonzero += fabs(g[i]) > 1e-4;
	}
	tap_ok(L > 0 && worst < 1.0 && nonzero > checked / 2 &&
	       onesided <= checked / 20,
	       "%s step through '%s': dL/dparam vs finite differences on %d "
	       "parameters (worst error %.2g of tolerance, %d by a one-sided "
	       "difference, %d non-zero, loss %.3g)",
	       triplet ? "triplet" : "pair", spec, checked, worst, onesided,
	       nonzero, L);

	/* The trainer does the same step: its gradient is this one, and
	 * Adam's first step moves each parameter by lr against its sign. */
	siam_net_zero_grad(net);
	triplet ? triplet_loss(net, x, N, margin, dout)
	        : pair_loss(net, x, y, N, margin, dout);
	siam_net_backward(net, dout);
	float *g0 = malloc(sizeof(float) * np), *p0 = malloc(sizeof(float) * np);
	memcpy(g0, g, sizeof(float) * np);
	memcpy(p0, p, sizeof(float) * np);
	siam_trainer *t = trainer(net, triplet, margin, 1e-3f, 0.0f, &err);
	float Lt = step(t, net, x, triplet ? NULL : y, N, &err);
	tap_near(Lt, L, 1e-6 * (1 + L), "trainer %s step returns the same loss",
	         triplet ? "triplet" : "pair");
	int same = 1, moved = 1;
	for (size_t i = 0; i < np; i++) {
		same &= g[i] == g0[i];
		if (fabs(g0[i]) > 1e-3)
			moved &= fabs((p[i] - p0[i]) + 1e-3 * (g0[i] > 0 ? 1 : -1)) <
			         1e-6;
	}
	tap_ok(same, "trainer %s step accumulates the same gradient as the "
	       "manual step", triplet ? "triplet" : "pair");
	tap_ok(moved, "trainer %s step: Adam moved each parameter by lr "
	       "against its gradient", triplet ? "triplet" : "pair");
	tap_int(siam_trainer_adam(t)->t, 1, "Adam took one step");
	siam_trainer_free(t);
	free(g0), free(p0), free(x), free(dout);
	siam_net_free(net);
}

/* a pair where both sides are the same image: gradient is finite */
static void test_errors(void)
{
	siam_net *net = NULL;
	siam_error err = { 0, "" };
	siam_net_create(&net, SMALL, NULL);
	siam_net_init(net, 9);
	siam_trainer *t = trainer(net, 0, 1.0f, -1.0f, 0.0f, &err);
	tap_ok(t == NULL && err.code == SIAM_EINVAL,
	       "a negative learning rate is refused: %s", err.msg);
	t = trainer(net, 0, 1.0f, 1e-3f, 0.0f, &err);
	float x[128], y0 = 0.0f;
	for (int i = 0; i < 64; i++)
		x[i] = x[64 + i] = (float)i / 64;
	float L = step(t, net, x, &y0, 1, &err);
	int finite = 1;
	for (size_t i = 0; i < siam_net_num_params(net); i++)
		finite &= isfinite(siam_net_params(net)[i]);
	tap_ok(isfinite(L) && finite, "a pair of identical images trains "
	       "without NaN (loss %g)", L);
	L = step(t, net, x, &y0, 0, &err);
	tap_ok(L < 0 && err.code == SIAM_EINVAL, "a step of 0 pairs is an "
	       "error: %s", err.msg);
	tap_ok(siam_net_forward(net, x, 0, &err) == NULL &&
	       err.code == SIAM_EINVAL, "a forward of 0 samples is an error");

	/* embed in chunks larger than its internal chunk agrees */
	int B = 600;
	float *xs = randv((size_t)B * 64, 1.0f), *e = malloc(sizeof(float) * B * 4);
	siam_net *fresh = NULL;
	siam_net_create(&fresh, SMALL, NULL);
	siam_net_init(fresh, 9);
	int rc = siam_net_embed(fresh, xs, B, e, &err);
	float one[4];
	siam_net_embed(fresh, xs + 599 * 64, 1, one, &err);
	tap_ok(rc == 0 && fabs(one[0] - e[599 * 4]) < 1e-5 &&
	       fabs(one[3] - e[599 * 4 + 3]) < 1e-5,
	       "embedding 600 inputs in chunks gives each its own embedding");
	free(xs), free(e);
	siam_net_free(fresh);
	siam_trainer_free(t);
	siam_net_free(net);
	siam_trainer_free(NULL);
}

/* Two runs from the same seed on the same data: bit-identical. */
static void test_determinism(void)
{
	siam_net *n1 = NULL, *n2 = NULL;
	siam_trainer *t1 = NULL, *t2 = NULL;
	siam_net_create(&n1, "in=1x12x12 conv3x4:same relu pool2 conv3x8 relu "
	                "pool2 fc16 relu fc4", NULL);
	siam_net_create(&n2, siam_net_spec(n1), NULL);
	siam_net_init(n1, 42);
	siam_net_init(n2, 42);
	t1 = trainer(n1, 0, 1.0f, 1e-3f, 1e-4f, NULL);
	t2 = trainer(n2, 0, 1.0f, 1e-3f, 1e-4f, NULL);
	int N = 20;
	float *x = randv((size_t)2 * N * 144, 1.0f), y[20];
	for (int i = 0; i < N; i++)
		y[i] = (float)(i % 2);
	float l1 = 0, l2 = 0;
	for (int s = 0; s < 5; s++) {
		l1 = step(t1, n1, x, y, N, NULL);
		l2 = step(t2, n2, x, y, N, NULL);
	}
	size_t np = siam_net_num_params(n1);
	tap_ok(l1 == l2 && !memcmp(siam_net_params(n1), siam_net_params(n2),
	                           np * sizeof(float)),
	       "same seed, same data, 5 steps: bit-identical parameters and "
	       "loss (%g)", l1);
	free(x);
	siam_trainer_free(t1), siam_trainer_free(t2);
	siam_net_free(n1), siam_net_free(n2);
}

/* The conv layers share a batch's chunks among the threads: one thread
 * or two give the same embeddings and, up to the order of a sum, the
 * same gradients; two runs with two threads are bit-identical. */
static void test_threads(void)
{
	siam_net *net = NULL;
	siam_net_create(&net, SIAM_DEFAULT_ARCH, NULL);
	siam_net_init(net, 3);
	int B = 40; /* conv1: 3 chunks, conv2: 8 */
	size_t np = siam_net_num_params(net);
	float *x = randv((size_t)B * 784, 1.0f), *d = randv((size_t)B * 64, 1.0f);
	float *e[3], *g[3];
	for (int r = 0; r < 3; r++) {
		siam_set_threads(r == 0 ? 1 : 2);
		const float *emb = siam_net_forward(net, x, B, NULL);
		e[r] = malloc(sizeof(float) * B * 64);
		g[r] = malloc(sizeof(float) * np);
		memcpy(e[r], emb, sizeof(float) * B * 64);
		siam_net_zero_grad(net);
		siam_net_backward(net, d);
		memcpy(g[r], siam_net_grads(net), sizeof(float) * np);
	}
	double de = 0.0, dg = 0.0, mg = 0.0;
	for (int i = 0; i < B * 64; i++)
		de = fmax(de, fabs(e[0][i] - e[1][i]));
	for (size_t i = 0; i < np; i++) {
		dg = fmax(dg, fabs(g[0][i] - g[1][i]));
		mg = fmax(mg, fabs(g[0][i]));
	}
	tap_ok(de < 1e-5 && dg < 1e-5 * mg, "1 and 2 threads: same embeddings "
	       "(diff %.2g) and gradients (diff %.2g of %.2g)", de, dg, mg);
	tap_ok(!memcmp(e[1], e[2], sizeof(float) * B * 64) &&
	       !memcmp(g[1], g[2], sizeof(float) * np),
	       "2 threads, twice: bit-identical embeddings and gradients");
	for (int r = 0; r < 3; r++)
		free(e[r]), free(g[r]);
	free(x), free(d);
	siam_net_free(net);
}

/* A backward pass on a smaller batch after a larger one must give the
 * same gradients as on a fresh net: buffers are spaced for the largest
 * batch, and stale values from it must not leak in. */
static void test_shrinking_batch(const char *spec)
{
	siam_net *a = NULL, *b = NULL;
	siam_error err;
	if (!tap_ok(!siam_net_create(&a, spec, &err) &&
	            !siam_net_create(&b, spec, &err),
	            "create two nets: %s", spec))
		goto done;
	siam_net_init(a, 5);
	siam_net_init(b, 5);
	size_t in = siam_net_input_size(a), D = siam_net_embed_dim(a);
	size_t np = siam_net_num_params(a);
	float *big = randv(8 * in, 1), *dbig = randv(8 * D, 1);
	float *small = randv(3 * in, 1), *dsmall = randv(3 * D, 1);
	siam_net_forward(a, big, 8, &err);
	siam_net_zero_grad(a);
	siam_net_backward(a, dbig);
	siam_net_forward(a, small, 3, &err);
	siam_net_zero_grad(a);
	siam_net_backward(a, dsmall);
	siam_net_forward(b, small, 3, &err);
	siam_net_zero_grad(b);
	siam_net_backward(b, dsmall);
	tap_ok(!memcmp(siam_net_grads(a), siam_net_grads(b), np * sizeof(float)),
	       "batch 3 after batch 8 gives a fresh net's gradients (%s)", spec);
	free(big);
	free(dbig);
	free(small);
	free(dsmall);
done:
	siam_net_free(a);
	siam_net_free(b);
}

int main(void)
{
	siam_rng_seed(&rng, 77);
	test_default();
	test_specs();
	test_siamese_grad(0, SMALL);
	test_siamese_grad(1, SMALL);
	test_siamese_grad(0, "in=2x7x7 conv3x3:same relu pool2 conv3x4 relu "
	                     "fc6 l2");
	test_errors();
	test_determinism();
	test_threads();
	test_shrinking_batch(SMALL);
	test_shrinking_batch("in=2x7x7 conv3x3:same relu pool2 conv3x4 relu fc6 l2");
	return tap_done();
}
