/*
 * cmd_selftest.c -- siam selftest: check the network core on this
 * machine.  Every fast kernel (OpenBLAS GEMM, im2col convolution, ...)
 * is run next to its naive reference on small random tensors, and the
 * gradients of a whole Siamese step through the default architecture
 * are compared with central finite differences.  It takes well under a
 * second and catches a broken BLAS, a miscompiled kernel or a bad build.
 */
#include "config.h"
#include "cli.h"

#include <math.h>
#define SIAM_MAX(a, b) ((a) > (b) ? (a) : (b))
#include <stdlib.h>
#include <string.h>

static int run(int argc, char **argv);

const struct cmd_entry cmd_selftest_entry = {
	"selftest", "check the network layers against references",
	"usage: siam selftest\n\n"
	"Runs each layer of the network core (convolution, max-pool, ReLU,\n"
	"dense, L2 normalisation, the losses) and the matrix product through\n"
	"its fast kernel and its naive reference, and checks the gradients of\n"
	"the default architecture against central finite differences.  Prints\n"
	"one line per check with the largest error found.\n\n"
	"Exit status: 0 if every check passed, 2 otherwise.\n",
	run
};

static int failures;
static siam_rng rng;

static void report(int ok, const char *what, const char *measure, double err)
{
	printf("%s  %s (%s %.2g)\n", ok ? "ok" : "FAIL", what, measure, err);
	if (!ok)
		failures++;
}

static float *randv(size_t n, float scale)
{
	float *x = malloc(sizeof(float) * (n ? n : 1));
	if (!x) {
		fprintf(stderr, "siam selftest: out of memory\n");
		exit(SIAM_EXIT_ERROR);
	}
	for (size_t i = 0; i < n; i++)
		x[i] = scale * (2.0f * siam_rng_uniform(&rng) - 1.0f);
	return x;
}

static double maxdiff(const float *a, const float *b, size_t n)
{
	double m = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (!(d <= m))
			m = d; /* NaN counts as the worst */
	}
	return m;
}

static void check_sgemm(void)
{
	int m = 37, n = 29, k = 53;
	float *a = randv((size_t)m * k, 1), *b = randv((size_t)k * n, 1);
	float *c1 = randv((size_t)m * n, 1), *c2 = malloc(sizeof(float) * m * n);
	double worst = 0.0;
	for (int t = 0; t < 4; t++) {
		int ta = t & 1, tb = t >> 1;
		memcpy(c2, c1, sizeof(float) * m * n);
		siam_sgemm(ta, tb, m, n, k, 0.7f, a, ta ? m : k, b, tb ? k : n,
		           0.5f, c1, n);
		siam_sgemm_ref(ta, tb, m, n, k, 0.7f, a, ta ? m : k, b,
		               tb ? k : n, 0.5f, c2, n);
		double e = maxdiff(c1, c2, (size_t)m * n);
		worst = e > worst || e != e ? e : worst;
		memcpy(c1, c2, sizeof(float) * m * n);
	}
	report(worst < 1e-4, "sgemm (BLAS) vs reference, 4 transposes",
	       "max err", worst);
	free(a), free(b), free(c1), free(c2);
}

static void check_conv(int B, int C, int H, int W, int OC, int K, int pad)
{
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	size_t ni = (size_t)B * C * H * W, nw = (size_t)OC * C * K * K,
	       no = (size_t)B * OC * OH * OW;
	float *x = randv(ni, 1), *w = randv(nw, 1), *b = randv(OC, 1);
	float *o1 = randv(no, 1), *o2 = randv(no, 1), *dout = randv(no, 1);
	float *scr = randv(siam_conv2d_scratch_size(B, C, H, W, OC, K, pad), 1);
	float *dx1 = calloc(ni, sizeof(float)), *dx2 = calloc(ni, sizeof(float));
	float *dw1 = calloc(nw, sizeof(float)), *dw2 = calloc(nw, sizeof(float));
	float *db1 = calloc(OC, sizeof(float)), *db2 = calloc(OC, sizeof(float));
	char what[96];
	/* float rounding grows with the number of terms in each sum */
	double terms = SIAM_MAX((double)C * K * K, (double)B * OH * OW);
	terms = SIAM_MAX(terms, (double)OC * K * K);
	double tol = 1e-5 + 2e-6 * terms;

	siam_conv2d_forward(o1, scr, x, w, b, B, C, H, W, OC, K, pad);
	siam_conv2d_forward_ref(o2, x, w, b, B, C, H, W, OC, K, pad);
	double e = maxdiff(o1, o2, no);
	snprintf(what, sizeof what, "conv2d %dx%dx%dx%d %s, %dx%d forward vs "
	         "reference", B, C, H, W, pad ? "same" : "valid", K, OC);
	report(e < tol, what, "max err", e);

	siam_conv2d_backward(dx1, dw1, db1, scr, dout, x, w, B, C, H, W, OC,
	                     K, pad);
	siam_conv2d_backward_ref(dx2, dw2, db2, dout, x, w, B, C, H, W, OC, K,
	                         pad);
	e = fmax(maxdiff(dx1, dx2, ni),
	         fmax(maxdiff(dw1, dw2, nw), maxdiff(db1, db2, OC)));
	snprintf(what, sizeof what, "conv2d %dx%dx%dx%d %s, %dx%d backward vs "
	         "reference", B, C, H, W, pad ? "same" : "valid", K, OC);
	report(e < tol, what, "max err", e);
	free(x), free(w), free(b), free(o1), free(o2), free(dout), free(scr);
	free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
}

static void check_pool_relu(void)
{
	int B = 2, C = 3, H = 6, W = 7, P = 2, OH = H / P, OW = W / P;
	size_t ni = (size_t)B * C * H * W, no = (size_t)B * C * OH * OW;
	float *x = randv(ni, 1), *o = malloc(sizeof(float) * no);
	float *d = randv(no, 1), *dx = calloc(ni, sizeof(float));
	int *am = malloc(sizeof(int) * no);
	siam_maxpool_forward(o, am, x, B, C, H, W, P);
	siam_maxpool_backward(dx, d, am, B, C, H, W, P);
	/* the reference: each window's maximum, and its gradient goes to
	 * the one input that is that maximum */
	double e = 0.0;
	float *rdx = calloc(ni, sizeof(float));
	for (int p = 0; p < B * C; p++)
		for (int i = 0; i < OH; i++)
			for (int j = 0; j < OW; j++) {
				int best = -1;
				for (int u = 0; u < P; u++)
					for (int v = 0; v < P; v++) {
						int idx = (i * P + u) * W + j * P + v;
						if (best < 0 || x[p * H * W + idx] >
						                x[p * H * W + best])
							best = idx;
					}
				e = fmax(e, fabs(o[p * OH * OW + i * OW + j] -
				                 x[p * H * W + best]));
				rdx[p * H * W + best] += d[p * OH * OW + i * OW + j];
			}
	e = fmax(e, maxdiff(dx, rdx, ni));
	report(e == 0.0, "maxpool forward and backward vs reference",
	       "max err", e);

	float *r = malloc(sizeof(float) * ni), *rd = calloc(ni, sizeof(float));
	float *g = randv(ni, 1);
	siam_relu_forward(r, x, ni);
	siam_relu_backward(rd, g, r, ni);
	e = 0.0;
	for (size_t i = 0; i < ni; i++) {
		e = fmax(e, fabs(r[i] - (x[i] > 0 ? x[i] : 0.0f)));
		e = fmax(e, fabs(rd[i] - (x[i] > 0 ? g[i] : 0.0f)));
	}
	report(e == 0.0, "relu forward and backward vs reference", "max err", e);
	free(x), free(o), free(d), free(dx), free(am), free(rdx), free(r);
	free(rd), free(g);
}

static void check_dense(void)
{
	int B = 5, IN = 67, OUT = 13;
	float *x = randv((size_t)B * IN, 1), *w = randv((size_t)OUT * IN, 1);
	float *b = randv(OUT, 1), *o1 = malloc(sizeof(float) * B * OUT);
	float *o2 = malloc(sizeof(float) * B * OUT), *d = randv((size_t)B * OUT, 1);
	float *dx = calloc((size_t)B * IN, sizeof(float));
	float *dw = calloc((size_t)OUT * IN, sizeof(float));
	float *db = calloc(OUT, sizeof(float));
	siam_dense_forward(o1, x, w, b, B, IN, OUT);
	siam_dense_forward_ref(o2, x, w, b, B, IN, OUT);
	double e = maxdiff(o1, o2, (size_t)B * OUT);
	report(e < 1e-4, "dense forward vs reference", "max err", e);
	siam_dense_backward(dx, dw, db, d, x, w, B, IN, OUT);
	e = 0.0;
	for (int i = 0; i < B; i++)
		for (int k = 0; k < IN; k++) {
			double s = 0;
			for (int o = 0; o < OUT; o++)
				s += (double)d[i * OUT + o] * w[o * IN + k];
			e = fmax(e, fabs(s - dx[i * IN + k]));
		}
	for (int o = 0; o < OUT; o++) {
		double sb = 0;
		for (int k = 0; k < IN; k++) {
			double s = 0;
			for (int i = 0; i < B; i++)
				s += (double)d[i * OUT + o] * x[i * IN + k];
			e = fmax(e, fabs(s - dw[o * IN + k]));
		}
		for (int i = 0; i < B; i++)
			sb += d[i * OUT + o];
		e = fmax(e, fabs(sb - db[o]));
	}
	report(e < 1e-4, "dense backward vs reference", "max err", e);
	free(x), free(w), free(b), free(o1), free(o2), free(d), free(dx);
	free(dw), free(db);
}

static double l2_loss(float *o, float *nrm, const float *x, const float *r,
                      int B, int D)
{
	siam_l2norm_forward(o, nrm, x, B, D);
	double s = 0.0;
	for (int i = 0; i < B * D; i++)
		s += (double)o[i] * r[i];
	return s;
}

static void check_l2norm_and_loss(void)
{
	int B = 3, D = 6;
	float *x = randv((size_t)B * D, 1), *r = randv((size_t)B * D, 1);
	float *o = malloc(sizeof(float) * B * D), nrm[3];
	float *dx = calloc((size_t)B * D, sizeof(float));
	l2_loss(o, nrm, x, r, B, D);
	siam_l2norm_backward(dx, r, o, nrm, B, D);
	double e = 0.0;
	const float h = 1e-3f;
	for (int i = 0; i < B * D; i++) {
		float keep = x[i];
		x[i] = keep + h;
		double lp = l2_loss(o, nrm, x, r, B, D);
		x[i] = keep - h;
		double lm = l2_loss(o, nrm, x, r, B, D);
		x[i] = keep;
		e = fmax(e, fabs((lp - lm) / (2 * h) - dx[i]));
	}
	report(e < 1e-3, "l2norm backward vs finite differences", "max err", e);

	/* contrastive loss: gradient vs finite differences, d = 0 safe */
	float y[3] = { 1, 0, 0 }, *a = randv((size_t)B * D, 1);
	float *bb = randv((size_t)B * D, 1), *ga = malloc(sizeof(float) * B * D);
	float *gb = malloc(sizeof(float) * B * D);
	siam_contrastive_loss(ga, gb, a, bb, y, B, D, 2.0f);
	e = 0.0;
	for (int i = 0; i < B * D; i++) {
		float keep = a[i];
		a[i] = keep + 1e-2f;
		double lp = siam_contrastive_loss(NULL, NULL, a, bb, y, B, D, 2.0f);
		a[i] = keep - 1e-2f;
		double lm = siam_contrastive_loss(NULL, NULL, a, bb, y, B, D, 2.0f);
		a[i] = keep;
		e = fmax(e, fabs((lp - lm) / 2e-2 - ga[i]));
	}
	float L = siam_contrastive_loss(ga, gb, a, a, y, B, D, 2.0f);
	int finite = isfinite(L);
	for (int i = 0; i < B * D; i++)
		finite &= isfinite(ga[i]) && isfinite(gb[i]);
	report(e < 1e-3 && finite, "contrastive loss gradient vs finite "
	       "differences, finite at d = 0", "max err", e);
	free(x), free(r), free(o), free(dx), free(a), free(bb), free(ga), free(gb);
}

static double pair_loss(siam_net *net, const float *x, const float *y, int N,
                        float *dout)
{
	const float *e = siam_net_forward(net, x, 2 * N, NULL);
	int D = siam_net_embed_dim(net);
	if (!e)
		return NAN;
	return siam_contrastive_loss(dout, dout ? dout + N * D : NULL, e,
	                             e + N * D, y, N, D, 2.0f);
}

/* dLoss/dparam of a Siamese step through the default architecture, for
 * a few parameters of every layer, against central differences. */
static void check_default_net(void)
{
	siam_net *net = NULL;
	siam_error err;
	if (siam_net_create(&net, SIAM_DEFAULT_ARCH, &err)) {
		report(0, "default architecture builds", "error", 1);
		return;
	}
	siam_net_init(net, 1);
	int N = 2, D = siam_net_embed_dim(net);
	size_t isz = siam_net_input_size(net);
	float *x = randv(2 * N * isz, 1), y[2] = { 1, 0 };
	float *dout = malloc(sizeof(float) * 2 * N * D);
	float *p = siam_net_params(net), *g = siam_net_grads(net);
	double L = pair_loss(net, x, y, N, dout);
	siam_net_zero_grad(net);
	siam_net_backward(net, dout);
	double worst = 0.0;
	int checked = 0;
	/* ReLU and max-pool kinks spoil some central differences: each
	 * parameter gets four step sizes, central and one-sided, and passes
	 * if one agrees within 2% plus the float noise of the step (a
	 * wrong backward agrees with none) */
	static const float hs[4] = { 2e-3f, 1e-3f, 5e-4f, 2.5e-4f };
	for (int li = 0; li < siam_net_num_layers(net); li++) {
		const siam_layer *l = siam_net_layer(net, li);
		if (!l->w_len)
			continue;
		/* four weights and two biases of each layer, at random */
		for (int s = 0; s < 6; s++) {
			size_t i = s < 4 ? l->w_off + siam_rng_below(&rng, (uint32_t)l->w_len)
			                 : l->b_off + siam_rng_below(&rng, (uint32_t)l->b_len);
			float keep = p[i];
			double best = INFINITY, bnum = 0.0;
			for (int k = 0; k < 4; k++) {
				float h = hs[k];
				p[i] = keep + h;
				double lp = pair_loss(net, x, y, N, NULL);
				p[i] = keep - h;
				double lm = pair_loss(net, x, y, N, NULL);
				p[i] = keep;
				double noise = 8.0 * 1.2e-7 * fmax(1.0, L) / h;
				double d[3] = { (lp - lm) / (2 * h), (lp - L) / h,
				                (L - lm) / h };
				for (int q = 0; q < 3; q++) {
					double e = fabs(d[q] - g[i]) /
					           (2e-2 * (fabs(d[q]) + fabs(g[i])) + noise);
					if (e < best || e != e)
						best = e, bnum = d[q];
				}
			}
			if (getenv("SIAM_SELFTEST_VERBOSE"))
				printf("    layer %d param %zu: backward %g, "
				       "difference %g\n", li, i, g[i], bnum);
			worst = best > worst || best != best ? best : worst;
			checked++;
		}
	}
	char what[128];
	snprintf(what, sizeof what, "default architecture Siamese gradient vs "
	         "finite differences (%d parameters)", checked);
	report(worst < 1.0 && checked == 24 && isfinite(L), what,
	       "error/tolerance", worst);

	/* one trainer step on the same batch lowers its loss */
	siam_trainer *t = NULL;
	if (siam_trainer_create(&t, net, 1e-4f, 0.0f, &err) == 0) {
		float L0 = siam_trainer_pair_step(t, x, x + N * isz, y, N, 2.0f,
		                                  &err);
		double L1 = pair_loss(net, x, y, N, NULL);
		report(L0 > 0 && L1 < L0, "a training step lowers the loss",
		       "loss after/before", L1 / L0);
	}
	siam_trainer_free(t);
	free(x), free(dout);
	siam_net_free(net);
}

static int run(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(&cmd_selftest_entry);
	if (argc > 1)
		return cli_usage_error(&cmd_selftest_entry,
		                       "unexpected argument '%s'", argv[1]);
	siam_rng_seed(&rng, 20240601);
	failures = 0;
	check_sgemm();
	check_conv(3, 4, 9, 8, 5, 3, 0);
	check_conv(3, 4, 9, 8, 5, 3, 1);
	/* the default net's second conv, 8 samples: im2col in chunks */
	check_conv(8, 32, 12, 12, 64, 5, 0);
	check_pool_relu();
	check_dense();
	check_l2norm_and_loss();
	check_default_net();
	if (failures) {
		printf("%d check%s FAILED\n", failures, failures > 1 ? "s" : "");
		return SIAM_EXIT_ERROR;
	}
	printf("all checks passed\n");
	return SIAM_EXIT_OK;
}
