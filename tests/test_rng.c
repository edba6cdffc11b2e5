/*
 * test_rng.c -- the PRNG is deterministic, and its distributions have
 * the moments they claim.
 */
#include "tap.h"
#include "siam_nn.h"

#include <string.h>

#define NS 200000

int main(void)
{
	siam_rng a, b, c;
	siam_rng_seed(&a, 42);
	siam_rng_seed(&b, 42);
	siam_rng_seed(&c, 43);
	int same = 1, differ = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = siam_rng_u64(&a), y = siam_rng_u64(&b),
		         z = siam_rng_u64(&c);
		same &= x == y;
		differ += x != z;
	}
	tap_ok(same, "same seed gives the same 1000 numbers");
	tap_ok(differ > 990, "seeds 42 and 43 give different streams (%d/1000)",
	       differ);
	siam_rng_seed(&a, 0);
	tap_ok(a.s[0] | a.s[1] | a.s[2] | a.s[3], "seed 0 gives a non-zero state");
	/* splitmix64's first output from seed 0, a published constant */
	tap_ok(a.s[0] == 0xe220a8397b1dcdafULL, "splitmix64(0) is 0xe220a8397b1dcdaf");

	/* uniform: range, mean, extremes reached */
	siam_rng_seed(&a, 1);
	double sum = 0.0;
	float lo = 1.0f, hi = 0.0f;
	int inrange = 1;
	for (int i = 0; i < NS; i++) {
		float u = siam_rng_uniform(&a);
		inrange &= u >= 0.0f && u < 1.0f;
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
		sum += u;
	}
	tap_ok(inrange, "uniform stays in [0, 1)");
	tap_near(sum / NS, 0.5, 0.005, "uniform mean is 0.5");
	tap_ok(lo < 1e-4f && hi > 1.0f - 1e-4f, "uniform reaches both ends "
	       "(min %g, max %g)", lo, hi);

	/* below: range and flat histogram */
	int counts[7] = { 0 }, ok = 1;
	for (int i = 0; i < NS; i++) {
		uint32_t r = siam_rng_below(&a, 7);
		if (r >= 7) {
			ok = 0;
			break;
		}
		counts[r]++;
	}
	tap_ok(ok, "below(7) stays in [0, 7)");
	double chi2 = 0.0, expect = NS / 7.0;
	for (int i = 0; i < 7; i++)
		chi2 += (counts[i] - expect) * (counts[i] - expect) / expect;
	/* 6 degrees of freedom: P(chi2 > 22.5) < 0.001 */
	tap_ok(chi2 < 22.5, "below(7) is flat (chi2 %.2f)", chi2);
	int one = 1;
	for (int i = 0; i < 1000; i++)
		one &= siam_rng_below(&a, 1) == 0;
	tap_ok(one, "below(1) is always 0");
	ok = 1;
	uint32_t big = 3000000019u, top = 0;
	for (int i = 0; i < 10000; i++) {
		uint32_t r = siam_rng_below(&a, big);
		ok &= r < big;
		top = r > top ? r : top;
	}
	tap_ok(ok && top > big / 2, "below(3000000019) stays in range and "
	       "covers it (max %u)", top);

	/* normal: mean 0, variance 1, 68% within one sigma */
	siam_rng_seed(&a, 7);
	double s1 = 0.0, s2 = 0.0;
	int within = 0, finite = 1;
	for (int i = 0; i < NS; i++) {
		double x = siam_rng_normal(&a);
		finite &= isfinite(x);
		s1 += x;
		s2 += x * x;
		within += fabs(x) < 1.0;
	}
	double mean = s1 / NS, var = s2 / NS - mean * mean;
	tap_ok(finite, "normal is always finite");
	tap_near(mean, 0.0, 0.01, "normal mean is 0");
	tap_near(var, 1.0, 0.02, "normal variance is 1");
	tap_near((double)within / NS, 0.6827, 0.005,
	         "68.27%% of normals are within one sigma");
	return tap_done();
}
