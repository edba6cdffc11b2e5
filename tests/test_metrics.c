/*
 * test_metrics.c -- verification, retrieval and one-shot figures against
 * hand computations and brute force, and the pair samplers' balance.
 */
#include "internal.h"
#include "siam_nn.h"
#include "tap.h"

#include <math.h>
#include <string.h>

/* The worked example of the tests below: six pairs with ties.
 *   sorted: 0.1 S | 0.2 S D D | 0.3 D | 0.4 S      (S same, D different)
 * AUC: same 0.1 beats all 3 different (3), same 0.2 ties two and beats
 * one (0.5 + 0.5 + 1 = 2), same 0.4 beats none: 5/9.
 * Accuracy of each cut: none 3/6, after 0.1 4/6, after 0.2 3/6, after
 * 0.3 2/6, all 3/6: best 4/6 at 0.15 (midway between 0.1 and 0.2).
 * FAR/FRR of each cut: 0/1, 0/(2/3), (2/3)/(1/3), 1/(1/3), 1/0: they are
 * closest after 0.2, so EER = (2/3 + 1/3)/2 = 0.5 at 0.25.
 * TAR at FAR <= 1e-3: no different pair may pass: after 0.1, 1/3. */
static const float ex_d[6] = { 0.1f, 0.2f, 0.2f, 0.3f, 0.4f, 0.2f };
static const unsigned char ex_s[6] = { 1, 1, 0, 0, 1, 0 };

static void test_hand(void)
{
	tap_near(siam_roc_auc(ex_d, ex_s, 6), 5.0 / 9, 1e-12,
	         "AUC with ties: 5/9");
	double acc;
	float t = siam_best_threshold(ex_d, ex_s, 6, &acc);
	tap_near(acc, 4.0 / 6, 1e-12, "best accuracy 4/6");
	tap_near(t, 0.15, 1e-6, "best threshold midway, 0.15");
	tap_near(siam_accuracy_at(ex_d, ex_s, 6, t), 4.0 / 6, 1e-12,
	         "accuracy at the best threshold agrees");
	tap_near(siam_accuracy_at(ex_d, ex_s, 6, 0.25f), 0.5, 1e-12,
	         "accuracy at 0.25: 3/6");
	/* strictly below: a distance equal to the threshold is "different" */
	tap_near(siam_accuracy_at(ex_d, ex_s, 6, 0.2f), 4.0 / 6, 1e-12,
	         "accuracy at 0.2 counts d == t as different");
	float et;
	tap_near(siam_eer(ex_d, ex_s, 6, &et), 0.5, 1e-12, "EER 0.5");
	tap_near(et, 0.25, 1e-6, "EER threshold 0.25");
	tap_near(siam_tar_at_far(ex_d, ex_s, 6, 1e-3), 1.0 / 3, 1e-12,
	         "TAR at FAR 1e-3: 1/3");
	tap_near(siam_tar_at_far(ex_d, ex_s, 6, 0.7), 2.0 / 3, 1e-12,
	         "TAR at FAR 0.7: 2/3");

	siam_verif v;
	siam_error err = { 0 };
	tap_int(siam_verif_compute(&v, ex_d, ex_s, 6, 0.25f, &err), 0,
	        "siam_verif_compute");
	tap_int(v.pairs, 6, "pairs");
	tap_int(v.positives, 3, "positives");
	tap_near(v.accuracy, 0.5, 1e-12, "accuracy at the given threshold");
	tap_near(v.auc, 5.0 / 9, 1e-12, "auc");
	tap_near(v.eer, 0.5, 1e-12, "eer");
	tap_near(v.tar_at_far, 1.0 / 3, 1e-12, "tar");
	tap_near(v.best_accuracy, 4.0 / 6, 1e-12, "best accuracy");
	tap_near(v.best_threshold, 0.15, 1e-6, "best threshold");

	/* Separable: every figure perfect, the threshold in the gap. */
	float sd[4] = { 0.5f, 0.1f, 2.0f, 3.0f };
	unsigned char ss[4] = { 1, 1, 0, 0 };
	t = siam_best_threshold(sd, ss, 4, &acc);
	tap_near(acc, 1, 0, "separable: accuracy 1");
	tap_near(t, 1.25, 1e-6, "separable: threshold midway in the gap");
	tap_near(siam_roc_auc(sd, ss, 4), 1, 0, "separable: AUC 1");
	tap_near(siam_eer(sd, ss, 4, NULL), 0, 0, "separable: EER 0");
	tap_near(siam_tar_at_far(sd, ss, 4, 1e-3), 1, 0, "separable: TAR 1");
	/* Inverted: AUC 0; the best a threshold can do is 1/2. */
	unsigned char inv[4] = { 0, 0, 1, 1 };
	tap_near(siam_roc_auc(sd, inv, 4), 0, 0, "inverted: AUC 0");
	t = siam_best_threshold(sd, inv, 4, &acc);
	tap_near(acc, 0.5, 1e-12, "inverted: best accuracy 1/2");
	tap_ok(siam_accuracy_at(sd, inv, 4, t) == 0.5,
	       "inverted: the threshold found gives that accuracy");
	/* All equal: AUC 1/2. */
	float eq[4] = { 1, 1, 1, 1 };
	tap_near(siam_roc_auc(eq, ss, 4), 0.5, 0, "all tied: AUC 1/2");
	/* Accept-everything cut lies above the largest distance. */
	float one[2] = { 0.3f, 0.7f };
	unsigned char both[2] = { 1, 1 };
	t = siam_best_threshold(one, both, 2, &acc);
	tap_ok(acc == 1 && t > 0.7f, "all same: threshold above all (%g)",
	       (double)t);
	/* Neighbouring floats: the threshold must still split them. */
	float nb[2] = { 1.0f, nextafterf(1.0f, 2.0f) };
	unsigned char nbs[2] = { 1, 0 };
	t = siam_best_threshold(nb, nbs, 2, &acc);
	tap_ok(acc == 1 && nb[0] < t && !(nb[1] < t),
	       "adjacent floats are split");
}

/* AUC by brute force over all (same, different) pairs. */
static double auc_brute(const float *d, const unsigned char *s, size_t n)
{
	double u = 0;
	size_t P = 0, N = 0;
	for (size_t i = 0; i < n; i++) {
		if (!s[i])
			continue;
		P++;
		for (size_t j = 0; j < n; j++) {
			if (s[j])
				continue;
			u += d[i] < d[j] ? 1 : d[i] == d[j] ? 0.5 : 0;
		}
	}
	for (size_t j = 0; j < n; j++)
		N += !s[j];
	return u / ((double)P * N);
}

static void test_random(void)
{
	siam_rng rng;
	siam_rng_seed(&rng, 7);
	enum { N = 500 };
	float d[N];
	unsigned char s[N];
	int all_ok = 1, acc_ok = 1;
	for (int trial = 0; trial < 20; trial++) {
		for (int i = 0; i < N; i++) {
			s[i] = siam_rng_below(&rng, 2);
			/* Integers: plenty of ties; same pairs a bit lower. */
			d[i] = (float)siam_rng_below(&rng, 20) +
			       (s[i] ? 0 : (float)siam_rng_below(&rng, 6));
		}
		double a = siam_roc_auc(d, s, N), b = auc_brute(d, s, N);
		if (fabs(a - b) > 1e-12)
			all_ok = 0;
		/* The best threshold beats every integer and half-integer
		 * threshold. */
		double best;
		siam_best_threshold(d, s, N, &best);
		for (float t = -0.5f; t < 27; t += 0.5f)
			if (siam_accuracy_at(d, s, N, t) > best + 1e-12)
				acc_ok = 0;
	}
	tap_ok(all_ok, "AUC equals brute force on 20 random tied sets");
	tap_ok(acc_ok, "best threshold beats every grid threshold");
}

static void test_nn1(void)
{
	/* 1-D points: gallery 0 (class 0), 10 (1), 20 (2);
	 * queries 1 -> 0 right, 14 -> 10 right, 16 -> 20 wrong (class 1). */
	float g[3] = { 0, 10, 20 }, q[3] = { 1, 14, 16 };
	int gl[3] = { 0, 1, 2 }, ql[3] = { 0, 1, 1 };
	double acc;
	siam_error err = { 0 };
	tap_int(siam_nn1_accuracy(&acc, q, ql, 3, g, gl, 3, 1, 0, &err), 0,
	        "nn1 runs");
	tap_near(acc, 2.0 / 3, 1e-12, "1-NN: 2 of 3 by hand");
	/* Leave-one-out on the gallery itself: 0 <-> 1 and 10 <-> 11 are
	 * each other's neighbours. */
	float g2[4] = { 0, 1, 10, 11 };
	int l2[4] = { 0, 0, 1, 1 };
	siam_nn1_accuracy(&acc, g2, l2, 4, g2, l2, 4, 1, 1, &err);
	tap_near(acc, 1, 0, "self 1-NN never matches itself: 4 of 4");
	siam_nn1_accuracy(&acc, g2, l2, 4, g2, l2, 4, 1, 0, &err);
	tap_near(acc, 1, 0, "without self-exclusion: matches itself");
	int l3[4] = { 0, 1, 0, 1 };
	siam_nn1_accuracy(&acc, g2, l3, 4, g2, l3, 4, 1, 1, &err);
	tap_near(acc, 0, 0, "self 1-NN: neighbours of other classes, 0");

	/* Random vectors against a brute-force search (more than one
	 * block of queries). */
	enum { NQ = 150, NG = 97, D = 7 };
	static float qv[NQ * D], gv[NG * D];
	static int qlab[NQ], glab[NG];
	siam_rng rng;
	siam_rng_seed(&rng, 3);
	for (int i = 0; i < NQ * D; i++)
		qv[i] = siam_rng_normal(&rng);
	for (int i = 0; i < NG * D; i++)
		gv[i] = siam_rng_normal(&rng);
	for (int i = 0; i < NG; i++)
		glab[i] = (int)siam_rng_below(&rng, 4);
	for (int i = 0; i < NQ; i++)
		qlab[i] = (int)siam_rng_below(&rng, 4);
	long correct = 0;
	for (int i = 0; i < NQ; i++) {
		int best = 0;
		float bd = INFINITY;
		for (int j = 0; j < NG; j++) {
			float dd = siam_l2_distance(qv + i * D, gv + j * D, D);
			if (dd < bd) {
				bd = dd;
				best = j;
			}
		}
		correct += glab[best] == qlab[i];
	}
	siam_nn1_accuracy(&acc, qv, qlab, NQ, gv, glab, NG, D, 0, &err);
	tap_near(acc, (double)correct / NQ, 1e-12,
	         "1-NN equals brute force (%ld of %d)", correct, NQ);
}

static void test_oneshot(void)
{
	/* Three classes, tight far-apart clusters: always right. */
	enum { n = 30, D = 2 };
	float e[n * D];
	int lab[n];
	siam_rng rng;
	siam_rng_seed(&rng, 5);
	for (int i = 0; i < n; i++) {
		lab[i] = i % 3;
		e[i * D] = 100.0f * lab[i] + siam_rng_uniform(&rng);
		e[i * D + 1] = siam_rng_uniform(&rng);
	}
	int cls[3] = { 0, 1, 2 };
	double acc;
	siam_error err = { 0 };
	tap_int(siam_oneshot_accuracy(&acc, e, lab, n, D, cls, 3, 3, 500, 1,
	                              &err), 0, "one-shot runs");
	tap_near(acc, 1, 0, "separable clusters: one-shot 100%%");
	/* Everything at one point: the nearest support is always the first
	 * drawn, right only when the query's class came first: 1/way. */
	float z[n * D];
	memset(z, 0, sizeof z);
	siam_oneshot_accuracy(&acc, z, lab, n, D, cls, 3, 3, 3000, 1, &err);
	tap_near(acc, 1.0 / 3, 0.04, "collapsed embedding: about 1/3");
	siam_oneshot_accuracy(&acc, z, lab, n, D, cls, 3, 2, 3000, 1, &err);
	tap_near(acc, 0.5, 0.04, "collapsed, 2-way: about 1/2");
	/* Only classes 1 and 2 asked for, 2-way: class 1 and 2 are
	 * separable, class 0 (mixed into 1 below) must not matter. */
	float e2[n * D];
	memcpy(e2, e, sizeof e2);
	for (int i = 0; i < n; i++)
		if (lab[i] == 0) /* on top of class 1 */
			e2[i * D] = 100.0f;
	int c12[2] = { 1, 2 };
	siam_oneshot_accuracy(&acc, e2, lab, n, D, c12, 2, 2, 500, 9, &err);
	tap_near(acc, 1, 0, "classes outside the list are never drawn");
	double a1, a2;
	siam_oneshot_accuracy(&a1, z, lab, n, D, cls, 3, 3, 200, 42, &err);
	siam_oneshot_accuracy(&a2, z, lab, n, D, cls, 3, 3, 200, 42, &err);
	tap_ok(a1 == a2, "same seed, same one-shot figure");
	tap_int(siam_oneshot_accuracy(&acc, e, lab, n, D, cls, 3, 4, 10, 1,
	                              &err), SIAM_EINVAL,
	        "4-way over 3 classes: EINVAL");
	tap_ok(strstr(err.msg, "4-way") != NULL, "message: %s", err.msg);
}

static void test_sampler(void)
{
	/* 4 classes of sizes 1, 2, 3, 50: uniform class choice for the
	 * different partner despite the sizes. */
	enum { n = 56 };
	int labels[n], pool[n];
	for (int i = 0; i < n; i++) {
		labels[i] = i < 1 ? 0 : i < 3 ? 1 : i < 6 ? 2 : 3;
		pool[i] = i;
	}
	siam_sampler *s;
	siam_error err = { 0 };
	tap_int(siam_sampler_create(&s, labels, pool, n, &err), 0,
	        "sampler create");
	siam_rng rng;
	siam_rng_seed(&rng, 11);
	int bad_same = 0, bad_diff = 0, self = 0, cnt[4][4] = { { 0 } };
	for (int k = 0; k < 20000; k++) {
		int a, b;
		siam_sampler_pair(s, &rng, 1, &a, &b);
		if (labels[a] != labels[b])
			bad_same++;
		if (a == b && labels[a] != 0)
			self++;
		siam_sampler_pair(s, &rng, 0, &a, &b);
		if (labels[a] == labels[b])
			bad_diff++;
		cnt[labels[a]][labels[b]]++;
	}
	tap_int(bad_same, 0, "same pairs share a class");
	tap_int(self, 0, "same pairs are two images when the class has two");
	tap_int(bad_diff, 0, "different pairs differ in class");
	/* Anchors of class 3 (50/56 of them): their partner class is
	 * uniform over 0, 1, 2. */
	int tot = cnt[3][0] + cnt[3][1] + cnt[3][2], ok = 1;
	for (int c = 0; c < 3; c++)
		if (fabs(cnt[3][c] / (double)tot - 1.0 / 3) > 0.03)
			ok = 0;
	tap_ok(ok, "other class uniform: %d %d %d", cnt[3][0], cnt[3][1],
	       cnt[3][2]);
	int a1, b1, a2, b2;
	siam_rng_seed(&rng, 99);
	siam_sampler_pair(s, &rng, 0, &a1, &b1);
	siam_rng_seed(&rng, 99);
	siam_sampler_pair(s, &rng, 0, &a2, &b2);
	tap_ok(a1 == a2 && b1 == b2, "same seed, same pair");
	int ta, tp, tn, tb = 0;
	for (int k = 0; k < 1000; k++) {
		siam_sampler_triplet(s, &rng, &ta, &tp, &tn);
		tb += labels[ta] != labels[tp] || labels[ta] == labels[tn];
	}
	tap_int(tb, 0, "triplets: positive same, negative other class");
	siam_sampler_free(s);

	int one[3] = { 5, 5, 5 }, p3[3] = { 0, 1, 2 };
	tap_int(siam_sampler_create(&s, one, p3, 3, &err), SIAM_EINVAL,
	        "one class: EINVAL");
	/* Unlabelled: same is self, different is another item. */
	tap_int(siam_sampler_create(&s, NULL, p3, 3, &err), 0,
	        "unlabelled sampler");
	int sa, sb, okself = 1, okdiff = 1;
	for (int k = 0; k < 100; k++) {
		siam_sampler_pair(s, &rng, 1, &sa, &sb);
		okself &= sa == sb;
		siam_sampler_pair(s, &rng, 0, &sa, &sb);
		okdiff &= sa != sb;
	}
	tap_ok(okself && okdiff, "unlabelled: same = self, different = other");
	siam_sampler_free(s);
}

static void test_eval_pairs(void)
{
	/* Pool: a subset of items, labels 0..2, in a scrambled order. */
	enum { n = 30 };
	int labels[40], pool[n];
	for (int i = 0; i < 40; i++)
		labels[i] = (i * 7) % 3;
	for (int k = 0; k < n; k++)
		pool[k] = (k * 13) % 40;
	int *a, *b;
	unsigned char *same;
	size_t np;
	siam_error err = { 0 };
	tap_int(siam_eval_pairs(&a, &b, &same, &np, labels, pool, n, 5, &err),
	        0, "eval pairs");
	tap_int(np, 2 * n, "two pairs per image");
	int ok = 1, nsame = 0;
	for (int k = 0; k < n; k++) {
		/* pair 2k: pool[k] with a same partner, 2k+1: different */
		ok &= a[2 * k] == pool[k] && a[2 * k + 1] == pool[k];
		ok &= same[2 * k] == 1 && same[2 * k + 1] == 0;
		ok &= labels[b[2 * k]] == labels[pool[k]] &&
		      b[2 * k] != pool[k];
		ok &= labels[b[2 * k + 1]] != labels[pool[k]];
		/* partners come from the pool */
		int in1 = 0, in2 = 0;
		for (int j = 0; j < n; j++) {
			in1 |= pool[j] == b[2 * k];
			in2 |= pool[j] == b[2 * k + 1];
		}
		ok &= in1 && in2;
		nsame += same[2 * k];
	}
	tap_ok(ok, "each image: one same partner, one different, in pool");
	tap_int(nsame, n, "half of the pairs are same");
	int *a2, *b2;
	unsigned char *s2;
	size_t np2;
	siam_eval_pairs(&a2, &b2, &s2, &np2, labels, pool, n, 5, &err);
	tap_ok(np2 == np && !memcmp(b, b2, np * sizeof *b),
	       "same seed, same pairs");
	free(a2);
	free(b2);
	free(s2);
	siam_eval_pairs(&a2, &b2, &s2, &np2, labels, pool, n, 6, &err);
	tap_ok(memcmp(b, b2, np * sizeof *b) != 0,
	       "another seed, other pairs");
	free(a2);
	free(b2);
	free(s2);
	free(a);
	free(b);
	free(same);
	/* A singleton class: no same pair for it. */
	int l4[4] = { 0, 0, 1, 2 }, p4[4] = { 0, 1, 2, 3 };
	siam_eval_pairs(&a, &b, &same, &np, l4, p4, 4, 1, &err);
	tap_int(np, 6, "singletons get only a different pair");
	free(a);
	free(b);
	free(same);
}

int main(void)
{
	test_hand();
	test_random();
	test_nn1();
	test_oneshot();
	test_sampler();
	test_eval_pairs();
	return tap_done();
}
