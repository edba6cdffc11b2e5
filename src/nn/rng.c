/*
 * rng.c -- siam's own deterministic random numbers.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, so that a
 * run is reproducible from its seed on any platform and any libc: the C
 * library's rand() differs between systems and is not thread-safe.
 */
#include "internal.h"
#include "siam_nn.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void siam_rng_seed(siam_rng *rng, uint64_t seed)
{
	uint64_t x = seed;
	/* splitmix64 never yields four zero words in a row, and the all-zero
	 * state is the only one xoshiro cannot leave. */
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

uint64_t siam_rng_u64(siam_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Lemire's multiply-and-reject: unbiased, and almost never loops. */
uint32_t siam_rng_below(siam_rng *rng, uint32_t n)
{
	uint64_t m = (uint64_t)(uint32_t)(siam_rng_u64(rng) >> 32) * n;
	uint32_t low = (uint32_t)m;
	if (low < n) {
		uint32_t threshold = (uint32_t)-n % n;
		while (low < threshold) {
			m = (uint64_t)(uint32_t)(siam_rng_u64(rng) >> 32) * n;
			low = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

/* The top 24 bits: every value is exactly representable and < 1. */
float siam_rng_uniform(siam_rng *rng)
{
	return (float)(siam_rng_u64(rng) >> 40) * (1.0f / 16777216.0f);
}

/* Box-Muller on doubles; the second value is dropped so that the state
 * stays the four words of siam_rng and a stream is easy to reason about. */
float siam_rng_normal(siam_rng *rng)
{
	/* u1 in (0, 1], so log(u1) is finite. */
	double u1 = ((double)(siam_rng_u64(rng) >> 11) + 1.0) *
	            (1.0 / 9007199254740992.0);
	double u2 = (double)(siam_rng_u64(rng) >> 11) *
	            (1.0 / 9007199254740992.0);
	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
