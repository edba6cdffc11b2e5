/*
 * test_layers.c -- every layer's fast kernel against its naive
 * reference, and every backward against central finite differences of
 * its forward.  The scalar loss for the finite differences is a fixed
 * random projection of the output, L = sum(out * R), so dL/dout = R.
 */
#include "tap.h"
#include "siam_nn.h"
#include "nn/nn.h" /* the fused kernels net.c uses; the naive references */

#include <string.h>

static siam_rng rng;

static float *randv(size_t n, float scale)
{
	float *x = malloc(sizeof(float) * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		x[i] = scale * (2.0f * siam_rng_uniform(&rng) - 1.0f);
	return x;
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* The layer under test as a scalar function of its inputs. */
typedef double (*loss_fn)(void *ctx);

/* Largest relative error between the analytic gradient g of x and the
 * central difference of f; the error is relative to max(1e-2, |g|+|num|)
 * so that tiny components are judged on an absolute scale. */
static double fd_check(loss_fn f, void *ctx, float *x, const float *g,
                       size_t n, float h)
{
	double worst = 0.0;
	for (size_t i = 0; i < n; i++) {
		float keep = x[i];
		x[i] = keep + h;
		double lp = f(ctx);
		x[i] = keep - h;
		double lm = f(ctx);
		x[i] = keep;
		double num = (lp - lm) / (2.0 * h);
		double den = fabs(num) + fabs(g[i]);
		double e = fabs(num - g[i]) / (den > 1e-2 ? den : 1e-2);
		if (!(e <= worst))
			worst = e;
	}
	return worst;
}

/* ---------------------------------------------------------------- conv */

struct conv_ctx {
	int B, C, H, W, OC, K, pad, OH, OW;
	float *inp, *w, *b, *out, *scratch, *R;
};

static double conv_loss(void *p)
{
	struct conv_ctx *c = p;
	siam_conv2d_forward(c->out, c->scratch, c->inp, c->w, c->b, c->B, c->C,
	                    c->H, c->W, c->OC, c->K, c->pad);
	return dot(c->out, c->R, (size_t)c->B * c->OC * c->OH * c->OW);
}

static void test_conv(int B, int C, int H, int W, int OC, int K, int pad)
{
	struct conv_ctx c = { B, C, H, W, OC, K, pad, H + 2 * pad - K + 1,
	                      W + 2 * pad - K + 1, 0, 0, 0, 0, 0, 0 };
	size_t ni = (size_t)B * C * H * W, nw = (size_t)OC * C * K * K;
	size_t no = (size_t)B * OC * c.OH * c.OW;
	c.inp = randv(ni, 1.0f);
	c.w = randv(nw, 0.5f);
	c.b = randv(OC, 0.5f);
	c.R = randv(no, 1.0f);
	c.out = randv(no, 1.0f);
	float *ref = randv(no, 1.0f);
	c.scratch = randv(siam_conv2d_scratch_size(B, C, H, W, OC, K, pad), 1.0f);

	siam_conv2d_forward(c.out, c.scratch, c.inp, c.w, c.b, B, C, H, W, OC,
	                    K, pad);
	nn_conv2d_forward_ref(ref, c.inp, c.w, c.b, B, C, H, W, OC, K, pad);
	double e = nn_maxdiff(c.out, ref, no);
	tap_ok(e < 1e-5, "conv2d %dx%dx%dx%d -> %dx%d pad %d forward vs "
	       "reference (max err %.2g)", B, C, H, W, OC, K, pad, e);

	/* backward accumulates: start every gradient from the same junk */
	float *dinp = randv(ni, 1.0f), *dw = randv(nw, 1.0f), *db = randv(OC, 1.0f);
	float *dinp2 = malloc(sizeof(float) * ni), *dw2 = malloc(sizeof(float) * nw);
	float *db2 = malloc(sizeof(float) * OC);
	memcpy(dinp2, dinp, sizeof(float) * ni);
	memcpy(dw2, dw, sizeof(float) * nw);
	memcpy(db2, db, sizeof(float) * OC);
	siam_conv2d_backward(dinp, dw, db, c.scratch, c.R, c.inp, c.w, B, C, H,
	                     W, OC, K, pad);
	nn_conv2d_backward_ref(dinp2, dw2, db2, c.R, c.inp, c.w, B, C, H, W,
	                       OC, K, pad);
	double e1 = nn_maxdiff(dinp, dinp2, ni), e2 = nn_maxdiff(dw, dw2, nw),
	       e3 = nn_maxdiff(db, db2, OC);
	tap_ok(e1 < 1e-4 && e2 < 1e-4 && e3 < 1e-4, "conv2d %dx%dx%dx%d -> "
	       "%dx%d pad %d backward vs reference (dinp %.2g, dw %.2g, db %.2g)",
	       B, C, H, W, OC, K, pad, e1, e2, e3);

	/* dinp may be NULL */
	memcpy(dw2, dw, sizeof(float) * nw);
	conv_loss(&c);
	siam_conv2d_backward(NULL, dw, db, c.scratch, c.R, c.inp, c.w, B, C, H,
	                     W, OC, K, pad);
	nn_conv2d_backward_ref(NULL, dw2, db2, c.R, c.inp, c.w, B, C, H, W,
	                       OC, K, pad);
	e2 = nn_maxdiff(dw, dw2, nw);
	tap_ok(e2 < 1e-4, "conv2d backward without dinp (dw %.2g)", e2);

	/* finite differences of the fast forward; gradients from zero.
	 * conv is linear in each of inp, w, b, so a large step is exact
	 * and keeps float rounding out of the difference. */
	memset(dinp, 0, sizeof(float) * ni);
	memset(dw, 0, sizeof(float) * nw);
	memset(db, 0, sizeof(float) * OC);
	conv_loss(&c);
	siam_conv2d_backward(dinp, dw, db, c.scratch, c.R, c.inp, c.w, B, C, H,
	                     W, OC, K, pad);
	e1 = fd_check(conv_loss, &c, c.inp, dinp, ni, 0.1f);
	e2 = fd_check(conv_loss, &c, c.w, dw, nw, 0.1f);
	e3 = fd_check(conv_loss, &c, c.b, db, OC, 0.1f);
	tap_ok(e1 < 1e-3, "conv2d pad %d dinp vs finite differences (rel err "
	       "%.2g)", pad, e1);
	tap_ok(e2 < 1e-3, "conv2d pad %d dw vs finite differences (rel err "
	       "%.2g)", pad, e2);
	tap_ok(e3 < 1e-3, "conv2d pad %d db vs finite differences (rel err "
	       "%.2g)", pad, e3);
	free(c.inp), free(c.w), free(c.b), free(c.R), free(c.out), free(ref);
	free(c.scratch), free(dinp), free(dw), free(db), free(dinp2), free(dw2);
	free(db2);
}

/* A layer whose im2col of one sample is larger than conv.c's chunk, so
 * that forward and backward run sample by sample (the default net's
 * layers take 5 and 18 samples per chunk); and the fused kernel the
 * same way. */
static void test_conv_chunks(void)
{
	int B = 3, C = 16, H = 22, W = 21, OC = 3, K = 5, pad = 2;
	int OH = H, OW = W;
	size_t ni = (size_t)B * C * H * W, nw = (size_t)OC * C * K * K;
	size_t no = (size_t)B * OC * OH * OW;
	size_t ns = siam_conv2d_scratch_size(B, C, H, W, OC, K, pad);
	tap_ok(ns < (size_t)(C * K * K + OC) * B * OH * OW,
	       "a %dx%dx%d input with K=%d is run in chunks (scratch %zu floats)",
	       C, H, W, K, ns);
	float *x = randv(ni, 1.0f), *w = randv(nw, 0.5f), *b = randv(OC, 0.5f);
	float *scr = randv(ns, 1.0f), *o1 = randv(no, 1.0f), *o2 = randv(no, 1.0f);
	float *d = randv(no, 1.0f);
	siam_conv2d_forward(o1, scr, x, w, b, B, C, H, W, OC, K, pad);
	nn_conv2d_forward_ref(o2, x, w, b, B, C, H, W, OC, K, pad);
	double e = nn_maxdiff(o1, o2, no);
	tap_ok(e < 1e-4, "chunked conv2d forward vs reference (max err %.2g)", e);
	float *dx1 = calloc(ni, sizeof(float)), *dx2 = calloc(ni, sizeof(float));
	float *dw1 = calloc(nw, sizeof(float)), *dw2 = calloc(nw, sizeof(float));
	float *db1 = calloc(OC, sizeof(float)), *db2 = calloc(OC, sizeof(float));
	siam_conv2d_backward(dx1, dw1, db1, scr, d, x, w, B, C, H, W, OC, K, pad);
	nn_conv2d_backward_ref(dx2, dw2, db2, d, x, w, B, C, H, W, OC, K, pad);
	double e1 = nn_maxdiff(dx1, dx2, ni), e2 = nn_maxdiff(dw1, dw2, nw),
	       e3 = nn_maxdiff(db1, db2, OC);
	tap_ok(e1 < 1e-4 && e2 < 1e-3 && e3 < 1e-3, "chunked conv2d backward vs "
	       "reference (dinp %.2g, dw %.2g, db %.2g)", e1, e2, e3);
	/* fused with relu and pool, against the layers one by one */
	size_t np = (size_t)B * OC * (OH / 2) * (OW / 2);
	float *r = malloc(sizeof(float) * no), *p1 = malloc(sizeof(float) * np);
	float *p2 = malloc(sizeof(float) * np);
	int *a1 = malloc(sizeof(int) * np), *a2 = malloc(sizeof(int) * np);
	siam_relu_forward(r, o1, no);
	siam_maxpool_forward(p2, a2, r, B, OC, OH, OW, 2);
	nn_conv2d_forward(p1, a1, scr, x, w, b, B, C, H, W, OC, K, pad, 1, 2, 0,
	                  1, 0);
	e = nn_maxdiff(p1, p2, np);
	/* where the window is all negative the rectified values tie at 0
	 * and the argmax may differ; no gradient flows there */
	int same = 1;
	for (size_t i = 0; i < np; i++)
		same &= p1[i] <= 0.0f || a1[i] == a2[i];
	tap_ok(e < 1e-5 && same, "chunked fused conv+relu+pool forward vs "
	       "layer by layer (max err %.2g)", e);
	/* and its backward: pool, relu, conv backward one by one */
	float *dp = randv(np, 1.0f), *dr = calloc(no, sizeof(float));
	float *dc = calloc(no, sizeof(float));
	memset(dx1, 0, sizeof(float) * ni), memset(dx2, 0, sizeof(float) * ni);
	memset(dw1, 0, sizeof(float) * nw), memset(dw2, 0, sizeof(float) * nw);
	memset(db1, 0, sizeof(float) * OC), memset(db2, 0, sizeof(float) * OC);
	siam_maxpool_backward(dr, dp, a2, B, OC, OH, OW, 2);
	siam_relu_backward(dc, dr, r, no);
	siam_conv2d_backward(dx2, dw2, db2, scr, dc, x, w, B, C, H, W, OC, K, pad);
	nn_conv2d_backward(dx1, dw1, db1, scr, dp, x, p1, a1, w, B, C, H, W, OC,
	                   K, pad, 1, 2, 0, 1);
	e1 = nn_maxdiff(dx1, dx2, ni), e2 = nn_maxdiff(dw1, dw2, nw),
	e3 = nn_maxdiff(db1, db2, OC);
	tap_ok(e1 < 1e-5 && e2 < 1e-4 && e3 < 1e-4, "chunked fused conv+relu+"
	       "pool backward vs layer by layer (dinp %.2g, dw %.2g, db %.2g)",
	       e1, e2, e3);
	free(x), free(w), free(b), free(scr), free(o1), free(o2), free(d);
	free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
	free(r), free(p1), free(p2), free(a1), free(a2), free(dp), free(dr);
	free(dc);
}

/* ---------------------------------------------------------------- pool */

struct pool_ctx {
	int B, C, H, W, P;
	float *inp, *out, *R;
	int *am;
};

static double pool_loss(void *p)
{
	struct pool_ctx *c = p;
	siam_maxpool_forward(c->out, c->am, c->inp, c->B, c->C, c->H, c->W,
	                     c->P);
	return dot(c->out, c->R,
	           (size_t)c->B * c->C * (c->H / c->P) * (c->W / c->P));
}

static void test_pool(void)
{
	struct pool_ctx c = { 2, 3, 7, 6, 2, 0, 0, 0, 0 };
	size_t ni = 2 * 3 * 7 * 6, no = 2 * 3 * 3 * 3;
	/* distinct values 0.1 apart, shuffled: no tie is within reach of
	 * the finite-difference step */
	c.inp = malloc(sizeof(float) * ni);
	for (size_t i = 0; i < ni; i++)
		c.inp[i] = 0.1f * (float)i - 12.0f;
	for (size_t i = ni - 1; i > 0; i--) {
		size_t j = siam_rng_below(&rng, (uint32_t)i + 1);
		float t = c.inp[i];
		c.inp[i] = c.inp[j];
		c.inp[j] = t;
	}
	c.out = malloc(sizeof(float) * no);
	c.am = malloc(sizeof(int) * no);
	c.R = randv(no, 1.0f);
	pool_loss(&c);
	/* the reference: max of each window, by definition */
	int ok = 1;
	for (int p = 0; p < 6; p++)
		for (int oh = 0; oh < 3; oh++)
			for (int ow = 0; ow < 3; ow++) {
				float m = -1e30f;
				for (int i = 0; i < 2; i++)
					for (int j = 0; j < 2; j++) {
						float v = c.inp[p * 42 + (oh * 2 + i) * 6 + ow * 2 + j];
						m = v > m ? v : m;
					}
				ok &= c.out[p * 9 + oh * 3 + ow] == m;
				ok &= c.inp[p * 42 + c.am[p * 9 + oh * 3 + ow]] == m;
			}
	tap_ok(ok, "maxpool 2x2 forward vs window maxima (7x6 drops the odd row)");
	float *dinp = calloc(ni, sizeof(float));
	siam_maxpool_backward(dinp, c.R, c.am, 2, 3, 7, 6, 2);
	double e = fd_check(pool_loss, &c, c.inp, dinp, ni, 0.02f);
	tap_ok(e < 1e-3, "maxpool dinp vs finite differences (rel err %.2g)", e);
	/* accumulation */
	siam_maxpool_backward(dinp, c.R, c.am, 2, 3, 7, 6, 2);
	double s = 0.0, r = 0.0;
	for (size_t i = 0; i < ni; i++)
		s += dinp[i];
	for (size_t i = 0; i < no; i++)
		r += c.R[i];
	tap_near(s, 2.0 * r, 1e-4, "maxpool backward accumulates");
	free(c.inp), free(c.out), free(c.am), free(c.R), free(dinp);
}

/* ---------------------------------------------------------------- relu */

struct relu_ctx {
	size_t n;
	float *inp, *out, *R;
};

static double relu_loss(void *p)
{
	struct relu_ctx *c = p;
	siam_relu_forward(c->out, c->inp, c->n);
	return dot(c->out, c->R, c->n);
}

static void test_relu(void)
{
	struct relu_ctx c = { 50, 0, 0, 0 };
	c.inp = randv(c.n, 1.0f);
	for (size_t i = 0; i < c.n; i++) /* stay clear of the kink */
		c.inp[i] += c.inp[i] < 0 ? -0.05f : 0.05f;
	c.out = malloc(sizeof(float) * c.n);
	c.R = randv(c.n, 1.0f);
	relu_loss(&c);
	int ok = 1;
	for (size_t i = 0; i < c.n; i++)
		ok &= c.out[i] == (c.inp[i] > 0 ? c.inp[i] : 0.0f);
	tap_ok(ok, "relu forward is max(0, x)");
	float *dinp = calloc(c.n, sizeof(float));
	siam_relu_backward(dinp, c.R, c.out, c.n);
	double e = fd_check(relu_loss, &c, c.inp, dinp, c.n, 1e-2f);
	tap_ok(e < 1e-3, "relu dinp vs finite differences (rel err %.2g)", e);
	free(c.inp), free(c.out), free(c.R), free(dinp);
}

/* --------------------------------------------------------------- dense */

struct dense_ctx {
	int B, IN, OUT;
	float *inp, *w, *b, *out, *R;
};

static double dense_loss(void *p)
{
	struct dense_ctx *c = p;
	siam_dense_forward(c->out, c->inp, c->w, c->b, c->B, c->IN, c->OUT);
	return dot(c->out, c->R, (size_t)c->B * c->OUT);
}

static void test_dense(int B, int IN, int OUT)
{
	struct dense_ctx c = { B, IN, OUT, 0, 0, 0, 0, 0 };
	size_t ni = (size_t)B * IN, nw = (size_t)IN * OUT, no = (size_t)B * OUT;
	c.inp = randv(ni, 1.0f);
	c.w = randv(nw, 0.5f);
	c.b = randv(OUT, 0.5f);
	c.R = randv(no, 1.0f);
	c.out = randv(no, 1.0f);
	float *ref = malloc(sizeof(float) * no);
	dense_loss(&c);
	nn_dense_forward_ref(ref, c.inp, c.w, c.b, B, IN, OUT);
	double e = nn_maxdiff(c.out, ref, no);
	tap_ok(e < 1e-5, "dense %dx%d -> %d forward vs reference (max err %.2g)",
	       B, IN, OUT, e);
	/* row by row (the embedding's): near the reference, and each row
	 * the bits of that row alone, copied one float off its alignment */
	float *each = randv(no, 1.0f), *alone = randv(no, 1.0f);
	float *row = malloc(sizeof(float) * (IN + 1));
	nn_dense_forward_each(each, c.inp, c.w, c.b, B, IN, OUT);
	for (int i = 0; i < B; i++) {
		memcpy(row + 1, c.inp + (size_t)i * IN, sizeof(float) * IN);
		nn_dense_forward_each(alone + (size_t)i * OUT, row + 1, c.w, c.b,
		                      1, IN, OUT);
	}
	free(row);
	e = nn_maxdiff(each, ref, no);
	tap_ok(e < 1e-5 && !memcmp(each, alone, sizeof(float) * no),
	       "dense %dx%d -> %d forward row by row vs reference (max err "
	       "%.2g), the bits of each row alone", B, IN, OUT, e);
	free(each), free(alone);

	/* backward vs the definitions, from junk (accumulation) */
	float *dinp = randv(ni, 1.0f), *dw = randv(nw, 1.0f), *db = randv(OUT, 1.0f);
	float *dinp0 = malloc(sizeof(float) * ni), *dw0 = malloc(sizeof(float) * nw);
	float *db0 = malloc(sizeof(float) * OUT);
	memcpy(dinp0, dinp, sizeof(float) * ni);
	memcpy(dw0, dw, sizeof(float) * nw);
	memcpy(db0, db, sizeof(float) * OUT);
	siam_dense_backward(dinp, dw, db, c.R, c.inp, c.w, B, IN, OUT);
	double e1 = 0, e2 = 0, e3 = 0;
	for (int i = 0; i < B; i++)
		for (int k = 0; k < IN; k++) {
			double s = dinp0[i * IN + k];
			for (int o = 0; o < OUT; o++)
				s += (double)c.R[i * OUT + o] * c.w[o * IN + k];
			e1 = fmax(e1, fabs(s - dinp[i * IN + k]));
		}
	for (int o = 0; o < OUT; o++) {
		double sb = db0[o];
		for (int k = 0; k < IN; k++) {
			double s = dw0[o * IN + k];
			for (int i = 0; i < B; i++)
				s += (double)c.R[i * OUT + o] * c.inp[i * IN + k];
			e2 = fmax(e2, fabs(s - dw[o * IN + k]));
		}
		for (int i = 0; i < B; i++)
			sb += c.R[i * OUT + o];
		e3 = fmax(e3, fabs(sb - db[o]));
	}
	tap_ok(e1 < 1e-4 && e2 < 1e-4 && e3 < 1e-4, "dense backward vs reference "
	       "(dinp %.2g, dw %.2g, db %.2g)", e1, e2, e3);

	memset(dinp, 0, sizeof(float) * ni);
	memset(dw, 0, sizeof(float) * nw);
	memset(db, 0, sizeof(float) * OUT);
	siam_dense_backward(dinp, dw, db, c.R, c.inp, c.w, B, IN, OUT);
	e1 = fd_check(dense_loss, &c, c.inp, dinp, ni, 0.1f);
	e2 = fd_check(dense_loss, &c, c.w, dw, nw, 0.1f);
	e3 = fd_check(dense_loss, &c, c.b, db, OUT, 0.1f);
	tap_ok(e1 < 1e-3, "dense dinp vs finite differences (rel err %.2g)", e1);
	tap_ok(e2 < 1e-3, "dense dw vs finite differences (rel err %.2g)", e2);
	tap_ok(e3 < 1e-3, "dense db vs finite differences (rel err %.2g)", e3);
	free(c.inp), free(c.w), free(c.b), free(c.R), free(c.out), free(ref);
	free(dinp), free(dw), free(db), free(dinp0), free(dw0), free(db0);
}

/* -------------------------------------------------------------- l2norm */

struct l2_ctx {
	int B, D;
	float *inp, *out, *norm, *R;
};

static double l2_loss(void *p)
{
	struct l2_ctx *c = p;
	siam_l2norm_forward(c->out, c->norm, c->inp, c->B, c->D);
	return dot(c->out, c->R, (size_t)c->B * c->D);
}

static void test_l2norm(void)
{
	struct l2_ctx c = { 3, 5, 0, 0, 0, 0 };
	size_t n = 15;
	c.inp = randv(n, 1.0f);
	c.out = malloc(sizeof(float) * n);
	c.norm = malloc(sizeof(float) * 3);
	c.R = randv(n, 1.0f);
	l2_loss(&c);
	int ok = 1;
	for (int i = 0; i < 3; i++) {
		double s = 0;
		for (int j = 0; j < 5; j++)
			s += (double)c.out[i * 5 + j] * c.out[i * 5 + j];
		ok &= fabs(s - 1.0) < 1e-6;
	}
	tap_ok(ok, "l2norm rows have unit length");
	float *dinp = calloc(n, sizeof(float));
	siam_l2norm_backward(dinp, c.R, c.out, c.norm, 3, 5);
	double e = fd_check(l2_loss, &c, c.inp, dinp, n, 1e-3f);
	tap_ok(e < 2e-3, "l2norm dinp vs finite differences (rel err %.2g)", e);
	/* a zero row stays finite */
	float z[4] = { 0 }, zo[4], zn[1], zd[4] = { 0 }, one[4] = { 1, 1, 1, 1 };
	siam_l2norm_forward(zo, zn, z, 1, 4);
	siam_l2norm_backward(zd, one, zo, zn, 1, 4);
	tap_ok(zo[0] == 0 && isfinite(zd[0]), "l2norm of a zero row is zero, "
	       "not NaN");
	free(c.inp), free(c.out), free(c.norm), free(c.R), free(dinp);
}


/* --------------------------------------------------- fused conv kernels */

/* nn_conv2d_forward/backward with relu (and pool) against the plain
 * layers run one after the other. */
static void test_fused(int relu, int P, int pad)
{
	int B = 2, C = 3, H = 9, W = 8, OC = 4, K = 3;
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	int PH = P ? OH / P : OH, PW = P ? OW / P : OW;
	size_t ni = (size_t)B * C * H * W, nw = (size_t)OC * C * K * K;
	size_t nc = (size_t)B * OC * OH * OW, no = (size_t)B * OC * PH * PW;
	size_t ns = siam_conv2d_scratch_size(B, C, H, W, OC, K, pad);
	float *x = randv(ni, 1.0f), *w = randv(nw, 0.5f), *b = randv(OC, 0.5f);
	float *s1 = randv(ns, 1.0f), *s2 = randv(ns, 1.0f);
	float *c = randv(nc, 1.0f), *r = randv(nc, 1.0f), *o2 = randv(no, 1.0f);
	float *o1 = randv(no, 1.0f), *dout = randv(no, 1.0f);
	int *am1 = calloc(no, sizeof(int)), *am2 = calloc(no, sizeof(int));
	/* reference: conv, then relu, then pool, as separate layers */
	siam_conv2d_forward(c, s2, x, w, b, B, C, H, W, OC, K, pad);
	const float *last = c;
	if (relu) {
		siam_relu_forward(r, c, nc);
		last = r;
	}
	if (P)
		siam_maxpool_forward(o2, am2, last, B, OC, OH, OW, P);
	else
		memcpy(o2, last, sizeof(float) * no);
	nn_conv2d_forward(o1, am1, s1, x, w, b, B, C, H, W, OC, K, pad, relu, P,
	                  0, 1, 0);
	double e = nn_maxdiff(o1, o2, no);
	tap_ok(e < 1e-6, "fused conv%s%s pad %d forward vs layer by layer "
	       "(max err %.2g)", relu ? "+relu" : "", P ? "+pool" : "", pad, e);
	/* one GEMM per sample (the embedding's): near the same, and each
	 * sample's bits those of the sample alone */
	float *o3 = randv(no, 1.0f), *o4 = randv(no, 1.0f);
	int *am3 = calloc(no, sizeof(int)), *am4 = calloc(no, sizeof(int));
	nn_conv2d_forward(o3, am3, s1, x, w, b, B, C, H, W, OC, K, pad, relu,
	                  P, 0, 1, 1);
	size_t si = ni / B, so = no / B;
	for (int i = 0; i < B; i++)
		nn_conv2d_forward(o4 + i * so, am4 + i * so, s1, x + i * si, w, b,
		                  1, C, H, W, OC, K, pad, relu, P, 0, 1, 1);
	e = nn_maxdiff(o3, o2, no);
	tap_ok(e < 1e-6 && !memcmp(o3, o4, sizeof(float) * no) &&
	       !memcmp(am3, am4, sizeof(int) * no), "fused conv%s%s pad %d "
	       "forward sample by sample: vs layer by layer (max err %.2g), "
	       "the bits of each sample alone", relu ? "+relu" : "",
	       P ? "+pool" : "", pad, e);
	free(o3), free(o4), free(am3), free(am4);

	float *dx1 = randv(ni, 1.0f), *dx2 = malloc(sizeof(float) * ni);
	float *dw1 = randv(nw, 1.0f), *dw2 = malloc(sizeof(float) * nw);
	float *db1 = randv(OC, 1.0f), *db2 = malloc(sizeof(float) * OC);
	memcpy(dx2, dx1, sizeof(float) * ni);
	memcpy(dw2, dw1, sizeof(float) * nw);
	memcpy(db2, db1, sizeof(float) * OC);
	float *dc = calloc(nc, sizeof(float)), *dr = calloc(nc, sizeof(float));
	if (P)
		siam_maxpool_backward(relu ? dr : dc, dout, am2, B, OC, OH, OW, P);
	else
		memcpy(relu ? dr : dc, dout, sizeof(float) * no);
	if (relu)
		siam_relu_backward(dc, dr, r, nc);
	siam_conv2d_backward(dx2, dw2, db2, s2, dc, x, w, B, C, H, W, OC, K, pad);
	nn_conv2d_backward(dx1, dw1, db1, s1, dout, x, o1, am1, w, B, C, H, W,
	                   OC, K, pad, relu, P, 0, 1);
	double e1 = nn_maxdiff(dx1, dx2, ni), e2 = nn_maxdiff(dw1, dw2, nw),
	       e3 = nn_maxdiff(db1, db2, OC);
	tap_ok(e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-5, "fused conv%s%s pad %d "
	       "backward vs layer by layer (dinp %.2g, dw %.2g, db %.2g)",
	       relu ? "+relu" : "", P ? "+pool" : "", pad, e1, e2, e3);
	free(x), free(w), free(b), free(s1), free(s2), free(c), free(r);
	free(o1), free(o2), free(dout), free(am1), free(am2), free(dx1);
	free(dx2), free(dw1), free(dw2), free(db1), free(db2), free(dc), free(dr);
}

int main(void)
{
	siam_rng_seed(&rng, 2024);
	test_conv(2, 3, 7, 6, 4, 3, 0);  /* valid */
	test_conv(2, 3, 7, 6, 4, 3, 1);  /* same */
	test_conv(1, 2, 6, 6, 3, 5, 2);  /* same, K=5 */
	test_conv(3, 1, 5, 5, 2, 1, 0);  /* 1x1 */
	test_conv(2, 2, 9, 8, 3, 5, 0);  /* valid, K=5 */
	test_conv(2, 2, 10, 12, 3, 5, 0); /* valid, 8 wide: im2col's fast path */
	test_conv_chunks();
	test_pool();
	test_relu();
	test_dense(4, 7, 5);
	test_dense(1, 20, 3);
	test_l2norm();
	test_fused(1, 2, 0);
	test_fused(1, 2, 1);
	test_fused(1, 3, 0);
	test_fused(1, 0, 0);
	test_fused(0, 2, 1);
	/* a relu longer than one 16-float chunk, with a tail */
	size_t n = 37;
	float *x = randv(n, 1.0f), *y = malloc(sizeof(float) * n);
	float *d = randv(n, 1.0f), *dx = calloc(n, sizeof(float));
	siam_relu_forward(y, x, n);
	siam_relu_backward(dx, d, y, n);
	int ok = 1;
	for (size_t i = 0; i < n; i++)
		ok &= y[i] == (x[i] > 0 ? x[i] : 0.0f) &&
		      dx[i] == (x[i] > 0 ? d[i] : 0.0f);
	tap_ok(ok, "relu over 37 floats (two chunks and a tail)");
	free(x), free(y), free(d), free(dx);
	return tap_done();
}
