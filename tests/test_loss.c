/*
 * test_loss.c -- the contrastive and triplet losses against hand
 * computations, their gradients against finite differences, and the
 * contrastive loss at d = 0 (identical embeddings) without NaN; Adam
 * against a hand computation and its vector loop against the scalar
 * definition, and the trainer's finiteness check.
 */
#include "tap.h"
#include "siam_nn.h"
#include "nn/nn.h" /* nn_adam_step_ref, nn_all_finite_ref */

#include <math.h>
#include <stdlib.h>
#include <string.h>

static siam_rng rng;

static float *randv(size_t n, float scale)
{
	float *x = malloc(sizeof(float) * n);
	for (size_t i = 0; i < n; i++)
		x[i] = scale * (2.0f * siam_rng_uniform(&rng) - 1.0f);
	return x;
}

/* max relative error of g against central differences of loss(x) */
static double fd_contrastive(float *x, const float *g, size_t n,
                             const float *a, const float *b, const float *y,
                             int N, int D, float m)
{
	double worst = 0.0;
	const float h = 1e-2f;
	for (size_t i = 0; i < n; i++) {
		float keep = x[i];
		x[i] = keep + h;
		double lp = siam_contrastive_loss(NULL, NULL, a, b, y, N, D, m);
		x[i] = keep - h;
		double lm = siam_contrastive_loss(NULL, NULL, a, b, y, N, D, m);
		x[i] = keep;
		double num = (lp - lm) / (2.0 * h);
		double den = fmax(fabs(num) + fabs(g[i]), 1e-2);
		worst = fmax(worst, fabs(num - g[i]) / den);
	}
	return worst;
}

static double fd_triplet(float *x, const float *g, size_t n, const float *a,
                         const float *p, const float *ng, int N, int D,
                         float m)
{
	double worst = 0.0;
	const float h = 1e-2f;
	for (size_t i = 0; i < n; i++) {
		float keep = x[i];
		x[i] = keep + h;
		double lp = siam_triplet_loss(NULL, NULL, NULL, a, p, ng, N, D, m);
		x[i] = keep - h;
		double lm = siam_triplet_loss(NULL, NULL, NULL, a, p, ng, N, D, m);
		x[i] = keep;
		double num = (lp - lm) / (2.0 * h);
		double den = fmax(fabs(num) + fabs(g[i]), 1e-2);
		worst = fmax(worst, fabs(num - g[i]) / den);
	}
	return worst;
}

int main(void)
{
	siam_rng_seed(&rng, 11);

	/* hand computations: a = (0,0), b = (3,4), d = 5 */
	float a[2] = { 0, 0 }, b[2] = { 3, 4 }, y1 = 1, y0 = 0;
	float da[2], db[2];
	tap_near(siam_l2_distance(a, b, 2), 5.0, 1e-6, "distance (0,0)-(3,4) is 5");
	tap_near(siam_contrastive_loss(da, db, a, b, &y1, 1, 2, 1.0f), 25.0,
	         1e-4, "same pair at d=5: L = d^2 = 25");
	tap_ok(fabs(da[0] + 6) < 1e-4 && fabs(da[1] + 8) < 1e-4 &&
	       fabs(db[0] - 6) < 1e-4 && fabs(db[1] - 8) < 1e-4,
	       "same pair: dL/da = 2(a-b) = (-6,-8), dL/db = (6,8)");
	tap_near(siam_contrastive_loss(da, db, a, b, &y0, 1, 2, 6.0f), 1.0,
	         1e-5, "different pair at d=5, margin 6: L = (6-5)^2 = 1");
	/* dL/da = -2 (m-d) (a-b)/d = -2 * 1 * (-3,-4)/5 = (1.2, 1.6) */
	tap_ok(fabs(da[0] - 1.2) < 1e-5 && fabs(da[1] - 1.6) < 1e-5,
	       "different pair: dL/da = (1.2, 1.6) (got %g, %g)", da[0], da[1]);
	tap_near(siam_contrastive_loss(da, db, a, b, &y0, 1, 2, 4.0f), 0.0,
	         1e-7, "different pair beyond the margin: L = 0");
	tap_ok(da[0] == 0 && da[1] == 0, "beyond the margin: zero gradient");
	/* a batch of two: the mean */
	float A2[4] = { 0, 0, 1, 1 }, B2[4] = { 3, 4, 1, 2 }, Y2[2] = { 1, 0 };
	/* (25 + (2-1)^2) / 2 = 13 */
	tap_near(siam_contrastive_loss(NULL, NULL, A2, B2, Y2, 2, 2, 2.0f), 13.0,
	         1e-4, "batch of two: mean of 25 and 1 is 13");

	/* d = 0: identical embeddings, both labels */
	float z[3] = { 0.5f, -1.0f, 2.0f }, gz[3], gz2[3];
	float L = siam_contrastive_loss(gz, gz2, z, z, &y0, 1, 3, 1.0f);
	tap_ok(isfinite(L) && isfinite(gz[0]) && isfinite(gz[1]) &&
	       isfinite(gz[2]) && isfinite(gz2[0]),
	       "d = 0, different pair: finite loss and gradient");
	tap_near(L, 1.0, 1e-5, "d = 0, different pair: L = margin^2");
	L = siam_contrastive_loss(gz, gz2, z, z, &y1, 1, 3, 1.0f);
	tap_ok(L == 0 && gz[0] == 0 && gz2[2] == 0, "d = 0, same pair: zero "
	       "loss and gradient");

	/* finite differences on a random batch, mixed labels, some pairs
	 * inside and some outside the margin */
	int N = 6, D = 4;
	float *ra = randv(N * D, 1.0f), *rb = randv(N * D, 1.0f);
	float y[6] = { 1, 0, 1, 0, 0, 1 };
	float *ga = malloc(sizeof(float) * N * D), *gb = malloc(sizeof(float) * N * D);
	float margin = 2.0f;
	int inside = 0;
	for (int i = 0; i < N; i++)
		inside += siam_l2_distance(ra + i * D, rb + i * D, D) < margin;
	siam_contrastive_loss(ga, gb, ra, rb, y, N, D, margin);
	double e1 = fd_contrastive(ra, ga, N * D, ra, rb, y, N, D, margin);
	double e2 = fd_contrastive(rb, gb, N * D, ra, rb, y, N, D, margin);
	tap_ok(e1 < 1e-3, "contrastive dL/da vs finite differences (rel err %.2g)", e1);
	tap_ok(e2 < 1e-3, "contrastive dL/db vs finite differences (rel err %.2g)", e2);
	tap_ok(inside > 0 && inside < N, "the batch has pairs on both sides of "
	       "the margin (%d of %d inside)", inside, N);

	/* triplet: hand values.  a=(0,0) p=(1,0) n=(0,2): |a-p|^2=1, |a-n|^2=4 */
	float ta[2] = { 0, 0 }, tp[2] = { 1, 0 }, tn[2] = { 0, 2 };
	float gta[2], gtp[2], gtn[2];
	tap_near(siam_triplet_loss(gta, gtp, gtn, ta, tp, tn, 1, 2, 1.0f), 0.0,
	         1e-7, "triplet 1 - 4 + 1 < 0: L = 0");
	tap_ok(gta[0] == 0 && gtp[0] == 0 && gtn[1] == 0, "inactive triplet: "
	       "zero gradient");
	tap_near(siam_triplet_loss(gta, gtp, gtn, ta, tp, tn, 1, 2, 5.0f), 2.0,
	         1e-6, "triplet 1 - 4 + 5: L = 2");
	/* da = 2(n-p) = (-2, 4), dp = -2(a-p) = (2, 0), dn = 2(a-n) = (0,-4) */
	tap_ok(gta[0] == -2 && gta[1] == 4 && gtp[0] == 2 && gtp[1] == 0 &&
	       gtn[0] == 0 && gtn[1] == -4, "active triplet: da=(-2,4) "
	       "dp=(2,0) dn=(0,-4)");

	float *rp = randv(N * D, 1.0f), *rn = randv(N * D, 1.0f);
	float *gp = malloc(sizeof(float) * N * D), *gn = malloc(sizeof(float) * N * D);
	siam_triplet_loss(ga, gp, gn, ra, rp, rn, N, D, 0.5f);
	e1 = fd_triplet(ra, ga, N * D, ra, rp, rn, N, D, 0.5f);
	e2 = fd_triplet(rp, gp, N * D, ra, rp, rn, N, D, 0.5f);
	double e3 = fd_triplet(rn, gn, N * D, ra, rp, rn, N, D, 0.5f);
	tap_ok(e1 < 1e-3 && e2 < 1e-3 && e3 < 1e-3, "triplet gradients vs "
	       "finite differences (rel err %.2g %.2g %.2g)", e1, e2, e3);
	free(ra), free(rb), free(ga), free(gb), free(rp), free(rn), free(gp), free(gn);

	/* supcon: hand values.  z0 = z1 = (1,0), z2 = (0,1), ids 0 0 1,
	 * tau 1: anchors 0 and 1 each have s = 1 to the positive and 0 to
	 * the negative, L = log(e + 1) - 1; item 2 has no positive and is
	 * not an anchor. */
	float sz[6] = { 1, 0, 1, 0, 0, 1 }, sg[6];
	int sid[3] = { 0, 0, 1 };
	double work[8];
	tap_near(siam_supcon_loss(sg, sz, sid, 3, 2, 1.0f, work),
	         log(exp(1.0) + 1.0) - 1.0, 1e-6, "supcon by hand");
	/* dL/dz2 = 1/2 sum over anchors i of softmax_i2 z_i
	 *        = softmax(0 | 1, 0) (1,0) = (1/(e+1), 0) */
	tap_near(sg[4], 1.0 / (exp(1.0) + 1.0), 1e-6,
	         "supcon: the negative is pushed along the anchors");
	tap_near(sg[5], 0.0, 1e-7, "supcon: and not across");

	int SN = 8, SD = 4;
	int ids[8] = { 0, 0, 1, 1, 2, 2, 3, 0 }; /* 3: no positive */
	float *sv = randv((size_t)SN * SD, 1.0f);
	float *svg = malloc(sizeof(float) * SN * SD);
	siam_supcon_loss(svg, sv, ids, SN, SD, 0.5f, work);
	double se = 0.0;
	for (int i = 0; i < SN * SD; i++) {
		float keep = sv[i];
		const float h = 1e-2f;
		sv[i] = keep + h;
		double lp = siam_supcon_loss(NULL, sv, ids, SN, SD, 0.5f, work);
		sv[i] = keep - h;
		double lm = siam_supcon_loss(NULL, sv, ids, SN, SD, 0.5f, work);
		sv[i] = keep;
		double num = (lp - lm) / (2.0 * h);
		double den = fmax(fabs(num) + fabs(svg[i]), 1e-2);
		se = fmax(se, fabs(num - svg[i]) / den);
	}
	tap_ok(se < 1e-3, "supcon gradient vs finite differences (rel err "
	       "%.2g)", se);
	free(sv), free(svg);

	/* Adam: the first step moves each parameter by lr against the sign
	 * of its gradient (bias correction makes m/sqrt(v) = g/|g|); with
	 * weight decay p is first scaled by 1 - lr*wd. */
	siam_adam opt;
	siam_adam_defaults(&opt, 0.1f);
	opt.weight_decay = 0.5f;
	float p[3] = { 1.0f, -2.0f, 0.5f }, g[3] = { 3.0f, -0.01f, 0.0f };
	float m[3] = { 0 }, v[3] = { 0 };
	siam_adam_step(&opt, p, g, m, v, 3);
	tap_ok(opt.t == 1, "adam counts its steps");
	tap_near(p[0], 1.0 * 0.95 - 0.1, 1e-6, "adam step 1, g > 0");
	tap_near(p[1], -2.0 * 0.95 + 0.1, 1e-5, "adam step 1, g < 0");
	tap_near(p[2], 0.5 * 0.95, 1e-6, "adam step 1, g = 0: decay only");
	/* second step by hand: m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g^2 */
	float g2[3] = { 1.0f, 0.0f, 0.0f };
	double m1 = 0.1 * 3.0, v1 = 0.001 * 9.0;
	double m2 = 0.9 * m1 + 0.1 * 1.0, v2 = 0.999 * v1 + 0.001 * 1.0;
	double mh = m2 / (1 - 0.81), vh = v2 / (1 - 0.999 * 0.999);
	double want = (double)p[0] * 0.95 - 0.1 * mh / (sqrt(vh) + 1e-8);
	siam_adam_step(&opt, p, g2, m, v, 3);
	tap_near(p[0], want, 1e-5, "adam step 2 matches the formula");

	/* The vector loop against the scalar definition, bit for bit, over
	 * lengths that leave every remainder, for several steps (v, the
	 * bias corrections and weight decay all in play). */
	for (size_t n = 1; n <= 11; n += 5) {
		size_t len = 1000 + n;
		float *pa = malloc(4 * len * sizeof *pa), *pb = malloc(4 * len *
		                                                     sizeof *pb);
		siam_rng ar;
		siam_rng_seed(&ar, n);
		for (size_t i = 0; i < 4 * len; i++)
			pa[i] = pb[i] = i < 3 * len ? 2 * siam_rng_uniform(&ar) - 1
			                            : 0.0f;
		siam_adam oa, ob;
		siam_adam_defaults(&oa, 0.01f);
		oa.weight_decay = 0.1f;
		ob = oa;
		int same = 1;
		for (int s = 0; s < 5; s++) {
			for (size_t i = 0; i < len; i++) /* new gradients */
				pa[len + i] = pb[len + i] =
					(float)(s + 1) * (2 * siam_rng_uniform(&ar) - 1);
			siam_adam_step(&oa, pa, pa + len, pa + 2 * len,
			               pa + 3 * len, len);
			nn_adam_step_ref(&ob, pb, pb + len, pb + 2 * len,
			                 pb + 3 * len, len);
			same &= !memcmp(pa, pb, 4 * len * sizeof *pa);
		}
		tap_ok(same && oa.t == ob.t, "adam of %zu parameters: the same bits "
		       "as the scalar reference over 5 steps", len);
		free(pa), free(pb);
	}

	/* The gradient check: every position and both kinds of non-finite
	 * value, found by the vector loop and its reference alike. */
	{
		float x[19];
		int agree = 1, found = 1;
		for (int i = 0; i < 19; i++)
			x[i] = (float)i - 9.5f;
		agree &= nn_all_finite(x, 19) == 1 && nn_all_finite_ref(x, 19) == 1;
		for (int pos = 0; pos < 19; pos++)
			for (int kind = 0; kind < 3; kind++) {
				float keep = x[pos];
				x[pos] = kind == 0 ? NAN : kind == 1 ? INFINITY
				                                    : -INFINITY;
				found &= !nn_all_finite(x, 19);
				agree &= nn_all_finite(x, 19) ==
				         nn_all_finite_ref(x, 19);
				x[pos] = keep;
			}
		x[3] = 3.4e38f; /* the largest floats are finite */
		x[4] = -1e-45f; /* and so are denormals */
		agree &= nn_all_finite(x, 19) == 1;
		tap_ok(found && agree, "a NaN or an infinity anywhere in the "
		       "gradients is found, by the vector loop and its reference");
	}
	return tap_done();
}
