/*
 * selftest.c -- siam_selftest: check the network core on this machine.
 * Every fast kernel (OpenBLAS GEMM, im2col convolution, ...) is run next
 * to its naive reference on small random tensors, and the gradients of a
 * whole Siamese step through the default architecture are compared with
 * central finite differences.  It takes well under a second and catches
 * a broken BLAS, a miscompiled kernel or a bad build.  It lives in the
 * library (not in the siam command) because the naive references are
 * not exported: each check goes to the caller's callback, which prints.
 */
#include "internal.h"
#include "siam_nn.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A check allocates its buffers through st_alloc, which remembers them,
 * and frees them all at its end with st_release: one cleanup path for
 * checks that each need a dozen buffers. */
enum { ST_MAX_BUFFERS = 16 };

struct st {
	siam_rng rng;
	int flags;
	siam_selftest_callback cb;
	void *arg;
	int failures;
	void *mem[ST_MAX_BUFFERS];
	int nmem;
	int oom; /* an allocation failed: the check stops, the run fails */
};

static void report(struct st *s, int ok, const char *what,
                   const char *measure, double value)
{
	siam_selftest_check c = { ok, what, measure, value, 0 };
	if (!ok)
		s->failures++;
	if (s->cb)
		s->cb(s->arg, &c);
}

/* A line about one parameter's gradient check, for SIAM_SELFTEST_DETAIL. */
static void detail(struct st *s, int layer, size_t param, double backward,
                   double difference)
{
	char line[128];
	snprintf(line, sizeof line, "layer %d param %zu: backward %g, "
	         "difference %g", layer, param, backward, difference);
	siam_selftest_check c = { 1, line, "", 0.0, 1 };
	s->cb(s->arg, &c);
}

static void *st_alloc(struct st *s, size_t n, size_t size)
{
	void *p = s->nmem < ST_MAX_BUFFERS ? siam_xcalloc(n, size) : NULL;
	if (!p) {
		s->oom = 1;
		return NULL;
	}
	s->mem[s->nmem++] = p;
	return p;
}

static void st_release(struct st *s)
{
	while (s->nmem > 0)
		free(s->mem[--s->nmem]);
}

static float *randv(struct st *s, size_t n, float scale)
{
	float *x = st_alloc(s, n, sizeof(float));
	if (!x)
		return NULL;
	for (size_t i = 0; i < n; i++)
		x[i] = scale * (2.0f * siam_rng_uniform(&s->rng) - 1.0f);
	return x;
}

double nn_maxdiff(const float *a, const float *b, size_t n)
{
	double m = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (!(d <= m))
			m = d; /* NaN counts as the worst */
	}
	return m;
}

static void check_sgemm(struct st *s)
{
	int m = 37, n = 29, k = 53;
	float *a = randv(s, (size_t)m * k, 1), *b = randv(s, (size_t)k * n, 1);
	float *c1 = randv(s, (size_t)m * n, 1);
	float *c2 = st_alloc(s, (size_t)m * n, sizeof(float));
	double worst = 0.0;
	if (s->oom)
		goto out;
	for (int t = 0; t < 4; t++) {
		int ta = t & 1, tb = t >> 1;
		memcpy(c2, c1, sizeof(float) * m * n);
		siam_sgemm(ta, tb, m, n, k, 0.7f, a, ta ? m : k, b, tb ? k : n,
		           0.5f, c1, n);
		nn_sgemm_ref(ta, tb, m, n, k, 0.7f, a, ta ? m : k, b,
		             tb ? k : n, 0.5f, c2, n);
		double e = nn_maxdiff(c1, c2, (size_t)m * n);
		worst = e > worst || e != e ? e : worst;
		memcpy(c1, c2, sizeof(float) * m * n);
	}
	report(s, worst < 1e-4, "sgemm (BLAS) vs reference, 4 transposes",
	       "max err", worst);
out:
	st_release(s);
}

static void check_conv(struct st *s, int B, int C, int H, int W, int OC,
                       int K, int pad)
{
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	size_t ni = (size_t)B * C * H * W, nw = (size_t)OC * C * K * K,
	       no = (size_t)B * OC * OH * OW;
	float *x = randv(s, ni, 1), *w = randv(s, nw, 1), *b = randv(s, OC, 1);
	float *o1 = randv(s, no, 1), *o2 = randv(s, no, 1);
	float *dout = randv(s, no, 1);
	float *scr = randv(s, siam_conv2d_scratch_size(B, C, H, W, OC, K, pad),
	                   1);
	float *dx1 = st_alloc(s, ni, sizeof(float));
	float *dx2 = st_alloc(s, ni, sizeof(float));
	float *dw1 = st_alloc(s, nw, sizeof(float));
	float *dw2 = st_alloc(s, nw, sizeof(float));
	float *db1 = st_alloc(s, OC, sizeof(float));
	float *db2 = st_alloc(s, OC, sizeof(float));
	char what[96];
	/* float rounding grows with the number of terms in each sum */
	double terms = SIAM_MAX((double)C * K * K, (double)B * OH * OW);
	terms = SIAM_MAX(terms, (double)OC * K * K);
	double tol = 1e-5 + 2e-6 * terms;
	if (s->oom)
		goto out;

	siam_conv2d_forward(o1, scr, x, w, b, B, C, H, W, OC, K, pad);
	nn_conv2d_forward_ref(o2, x, w, b, B, C, H, W, OC, K, pad);
	double e = nn_maxdiff(o1, o2, no);
	snprintf(what, sizeof what, "conv2d %dx%dx%dx%d %s, %dx%d forward vs "
	         "reference", B, C, H, W, pad ? "same" : "valid", K, OC);
	report(s, e < tol, what, "max err", e);

	siam_conv2d_backward(dx1, dw1, db1, scr, dout, x, w, B, C, H, W, OC,
	                     K, pad);
	nn_conv2d_backward_ref(dx2, dw2, db2, dout, x, w, B, C, H, W, OC, K,
	                       pad);
	e = fmax(nn_maxdiff(dx1, dx2, ni),
	         fmax(nn_maxdiff(dw1, dw2, nw), nn_maxdiff(db1, db2, OC)));
	snprintf(what, sizeof what, "conv2d %dx%dx%dx%d %s, %dx%d backward vs "
	         "reference", B, C, H, W, pad ? "same" : "valid", K, OC);
	report(s, e < tol, what, "max err", e);
out:
	st_release(s);
}

static void check_pool_relu(struct st *s)
{
	int B = 2, C = 3, H = 6, W = 7, P = 2, OH = H / P, OW = W / P;
	size_t ni = (size_t)B * C * H * W, no = (size_t)B * C * OH * OW;
	float *x = randv(s, ni, 1), *o = st_alloc(s, no, sizeof(float));
	float *d = randv(s, no, 1), *dx = st_alloc(s, ni, sizeof(float));
	int *am = st_alloc(s, no, sizeof(int));
	float *rdx = st_alloc(s, ni, sizeof(float));
	float *r = st_alloc(s, ni, sizeof(float));
	float *rd = st_alloc(s, ni, sizeof(float));
	if (s->oom)
		goto out;
	siam_maxpool_forward(o, am, x, B, C, H, W, P);
	siam_maxpool_backward(dx, d, am, B, C, H, W, P);
	/* the reference: each window's maximum, and its gradient goes to
	 * the one input that is that maximum */
	double e = 0.0;
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
	e = fmax(e, nn_maxdiff(dx, rdx, ni));
	report(s, e == 0.0, "maxpool forward and backward vs reference",
	       "max err", e);

	float *g = randv(s, ni, 1);
	if (s->oom)
		goto out;
	siam_relu_forward(r, x, ni);
	siam_relu_backward(rd, g, r, ni);
	e = 0.0;
	for (size_t i = 0; i < ni; i++) {
		e = fmax(e, fabs(r[i] - (x[i] > 0 ? x[i] : 0.0f)));
		e = fmax(e, fabs(rd[i] - (x[i] > 0 ? g[i] : 0.0f)));
	}
	report(s, e == 0.0, "relu forward and backward vs reference", "max err",
	       e);
out:
	st_release(s);
}

static void check_dense(struct st *s)
{
	int B = 5, IN = 67, OUT = 13;
	float *x = randv(s, (size_t)B * IN, 1);
	float *w = randv(s, (size_t)OUT * IN, 1);
	float *b = randv(s, OUT, 1);
	float *o1 = st_alloc(s, (size_t)B * OUT, sizeof(float));
	float *o2 = st_alloc(s, (size_t)B * OUT, sizeof(float));
	float *d = randv(s, (size_t)B * OUT, 1);
	float *dx = st_alloc(s, (size_t)B * IN, sizeof(float));
	float *dw = st_alloc(s, (size_t)OUT * IN, sizeof(float));
	float *db = st_alloc(s, OUT, sizeof(float));
	if (s->oom)
		goto out;
	siam_dense_forward(o1, x, w, b, B, IN, OUT);
	nn_dense_forward_ref(o2, x, w, b, B, IN, OUT);
	double e = nn_maxdiff(o1, o2, (size_t)B * OUT);
	report(s, e < 1e-4, "dense forward vs reference", "max err", e);
	siam_dense_backward(dx, dw, db, d, x, w, B, IN, OUT);
	e = 0.0;
	for (int i = 0; i < B; i++)
		for (int k = 0; k < IN; k++) {
			double sum = 0;
			for (int o = 0; o < OUT; o++)
				sum += (double)d[i * OUT + o] * w[o * IN + k];
			e = fmax(e, fabs(sum - dx[i * IN + k]));
		}
	for (int o = 0; o < OUT; o++) {
		double sb = 0;
		for (int k = 0; k < IN; k++) {
			double sum = 0;
			for (int i = 0; i < B; i++)
				sum += (double)d[i * OUT + o] * x[i * IN + k];
			e = fmax(e, fabs(sum - dw[o * IN + k]));
		}
		for (int i = 0; i < B; i++)
			sb += d[i * OUT + o];
		e = fmax(e, fabs(sb - db[o]));
	}
	report(s, e < 1e-4, "dense backward vs reference", "max err", e);
out:
	st_release(s);
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

static void check_l2norm_and_loss(struct st *s)
{
	int B = 3, D = 6;
	float *x = randv(s, (size_t)B * D, 1), *r = randv(s, (size_t)B * D, 1);
	float *o = st_alloc(s, (size_t)B * D, sizeof(float)), nrm[3];
	float *dx = st_alloc(s, (size_t)B * D, sizeof(float));
	if (s->oom)
		goto out;
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
	report(s, e < 1e-3, "l2norm backward vs finite differences", "max err",
	       e);

	/* contrastive loss: gradient vs finite differences, d = 0 safe */
	float y[3] = { 1, 0, 0 }, *a = randv(s, (size_t)B * D, 1);
	float *bb = randv(s, (size_t)B * D, 1);
	float *ga = st_alloc(s, (size_t)B * D, sizeof(float));
	float *gb = st_alloc(s, (size_t)B * D, sizeof(float));
	if (s->oom)
		goto out;
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
	report(s, e < 1e-3 && finite, "contrastive loss gradient vs finite "
	       "differences, finite at d = 0", "max err", e);
out:
	st_release(s);
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
static void check_default_net(struct st *s, siam_error *err)
{
	siam_net *net = NULL;
	siam_trainer *t = NULL;
	if (siam_net_create(&net, SIAM_DEFAULT_ARCH, err)) {
		report(s, 0, "default architecture builds", "error", 1);
		return;
	}
	siam_net_init(net, 1);
	int N = 2, D = siam_net_embed_dim(net);
	size_t isz = siam_net_input_size(net);
	float *x = randv(s, 2 * N * isz, 1), y[2] = { 1, 0 };
	float *dout = st_alloc(s, (size_t)2 * N * D, sizeof(float));
	if (s->oom)
		goto out;
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
		for (int k6 = 0; k6 < 6; k6++) {
			uint32_t span = (uint32_t)(k6 < 4 ? l->w_len : l->b_len);
			size_t i = (k6 < 4 ? l->w_off : l->b_off) +
			           siam_rng_below(&s->rng, span);
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
			if ((s->flags & SIAM_SELFTEST_DETAIL) && s->cb)
				detail(s, li, i, g[i], bnum);
			worst = best > worst || best != best ? best : worst;
			checked++;
		}
	}
	char what[128];
	snprintf(what, sizeof what, "default architecture Siamese gradient vs "
	         "finite differences (%d parameters)", checked);
	report(s, worst < 1.0 && checked == 24 && isfinite(L), what,
	       "error/tolerance", worst);

	/* one trainer step on the same batch lowers its loss */
	siam_trainer_opts to;
	siam_trainer_opts_default(&to);
	to.lr = 1e-4f;
	to.margin = 2.0f;
	float *in, L0 = -1.0f;
	siam_batch b = { .y = y };
	if (siam_trainer_create(&t, net, &to, err) == 0 &&
	    siam_trainer_input(t, N, &in, err) == 0) {
		memcpy(in, x, 2 * (size_t)N * isz * sizeof(float));
		int rc = siam_trainer_step(t, &b, &L0, err);
		double L1 = pair_loss(net, x, y, N, NULL);
		report(s, rc == 0 && L0 > 0 && L1 < L0,
		       "a training step lowers the loss", "loss after/before",
		       L1 / L0);
	}
out:
	siam_trainer_free(t);
	siam_net_free(net);
	st_release(s);
}

int siam_selftest(int flags, siam_selftest_callback cb, void *arg,
                  siam_error *err)
{
	struct st s;
	memset(&s, 0, sizeof s);
	s.flags = flags;
	s.cb = cb;
	s.arg = arg;
	siam_rng_seed(&s.rng, 20240601);
	check_sgemm(&s);
	if (!s.oom)
		check_conv(&s, 3, 4, 9, 8, 5, 3, 0);
	if (!s.oom)
		check_conv(&s, 3, 4, 9, 8, 5, 3, 1);
	/* the default net's second conv, 8 samples: im2col in chunks */
	if (!s.oom)
		check_conv(&s, 8, 32, 12, 12, 64, 5, 0);
	if (!s.oom)
		check_pool_relu(&s);
	if (!s.oom)
		check_dense(&s);
	if (!s.oom)
		check_l2norm_and_loss(&s);
	if (!s.oom)
		check_default_net(&s, err);
	if (s.oom)
		return siam_errorf(err, SIAM_ENOMEM, "selftest: out of memory");
	return s.failures;
}
