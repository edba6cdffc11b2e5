/*
 * dedup_phash.c -- siam dedup's phash pairs: every pair of images whose
 * 64-bit perceptual hashes differ in at most d bits, without comparing
 * every pair (dd_phash_pairs), and the brute-force twin it is tested
 * against (dd_phash_pairs_ref, tests/test_dedup.c).  No I/O.
 *
 * Why this shape: a multi-index.  The hash is cut into four bands of 16
 * bits.  If two hashes differ in at most d bits, at least one band
 * differs in at most r = floor(d / 4) bits: were every band more than r
 * apart, the hashes would be at least 4 (r + 1) > d apart (pigeonhole).
 * So for each band the images are bucketed by the band's value (a
 * counting sort: 2^16 buckets), and the candidates of image i are the
 * images in the buckets whose value is within r bits of i's band -- the
 * sum over k <= r of C(16, k) buckets per band (137 for d = 10, 697 for
 * d = 15).  That list holds every pair within d, so checking each
 * candidate's full Hamming distance gives exactly the brute-force
 * answer.  A pair near in several bands is met several times; it is
 * kept only in the first band where it is within r, so it comes once,
 * and sorting the pairs gives the brute force's (a, b) order.
 *
 * Past some d the bucket lists cost more than comparing every pair
 * (d = 16 already needs 2,517 buckets per band): dd_phash_pairs then
 * runs the brute force itself, which is exact too.  Memory: four
 * bucket tables (2^16 + 1 offsets and n indices each).
 */
#include "cli/dedup_group.h"
#include "internal.h"

#include <siam.h>

#include <stdlib.h>
#include <string.h>

#define BAND_BITS 16
#define BANDS (64 / BAND_BITS)
#define BUCKETS (1 << BAND_BITS)

static int push(dd_edge **e, size_t *ne, size_t *cap, int a, int b, int bits)
{
	if (*ne == *cap) {
		dd_edge *p = siam_grow(*e, cap, sizeof *p, 256);
		if (!p)
			return -1;
		*e = p;
	}
	(*e)[(*ne)++] = (dd_edge){ a, b, DD_PHASH, 0, bits };
	return 0;
}

int dd_phash_pairs_ref(const dd_image *im, int n, int maxbits, dd_edge **e,
                       size_t *ne, size_t *cap)
{
	for (int i = 0; i < n; i++) {
		if (!im[i].has_phash)
			continue;
		for (int j = i + 1; j < n; j++) {
			if (!im[j].has_phash)
				continue;
			int h = siam_hamming64(im[i].phash, im[j].phash);
			if (h <= maxbits && push(e, ne, cap, i, j, h) < 0)
				return -1;
		}
	}
	return 0;
}

static unsigned band(uint64_t h, int k)
{
	return (unsigned)(h >> (BAND_BITS * k)) & (BUCKETS - 1);
}

/* The masks of 16 bits with at most r bits set: how many. */
static int masks_within(int r)
{
	int nmask = 0;
	for (unsigned m = 0; m < BUCKETS; m++)
		nmask += __builtin_popcount(m) <= r;
	return nmask;
}

int dd_phash_pairs(const dd_image *im, int n, int maxbits, dd_edge **e,
                   size_t *ne, size_t *cap)
{
	if (maxbits < 0)
		return 0;
	/* Buckets to visit per image against images to compare per image
	 * in the brute force: take the cheaper. */
	if ((double)BANDS * masks_within(maxbits / BANDS) >= n / 2.0)
		return dd_phash_pairs_ref(im, n, maxbits, e, ne, cap);
	return dd_phash_pairs_mih(im, n, maxbits, e, ne, cap);
}

/* The four bucket tables: per band, the images with a hash in order of
 * the band's value then of index (start[v] .. start[v + 1] - 1 hold
 * value v), with their hashes beside them so that a bucket is read in
 * one sweep. */
typedef struct mih {
	int r, maxbits, nmask;
	const unsigned *mask; /* the 16-bit masks with at most r bits */
	int *start[BANDS];
	int *item[BANDS];
	uint64_t *hash[BANDS];
} mih;

/* Band k's pairs: for each image i, in the band's order, the images
 * j > i in the buckets within r bits of i's band value whose hashes
 * are within maxbits and whose first band within r is k (so that a
 * pair near in several bands is listed once), appended to *e.  Images
 * are taken in order of band value so that neighbouring images probe
 * neighbouring buckets (they stay in cache).  Inlined into each probe
 * below, so that the popcounts become one instruction where the CPU has
 * one.  Returns 0 or -1 (out of memory). */
static inline __attribute__((always_inline)) int
probe_core(const mih *t, int k, dd_edge **e, size_t *ne, size_t *cap)
{
	const int *start = t->start[k], *item = t->item[k];
	const uint64_t *hash = t->hash[k];
	for (int q = 0; q < start[BUCKETS]; q++) {
		int i = item[q];
		uint64_t hi = hash[q];
		unsigned v = band(hi, k);
		for (int m = 0; m < t->nmask; m++) {
			unsigned w = v ^ t->mask[m];
			/* indices ascend within a bucket: from the top
			 * down to the first j <= i */
			for (int p = start[w + 1] - 1; p >= start[w]; p--) {
				int j = item[p];
				if (j <= i)
					break;
				uint64_t x = hi ^ hash[p];
				int bits = __builtin_popcountll(x);
				if (bits > t->maxbits)
					continue;
				int first = 0;
				while (__builtin_popcount(band(x, first)) >
				       t->r)
					first++;
				if (first == k && push(e, ne, cap, i, j, bits))
					return -1;
			}
		}
	}
	return 0;
}

static int probe_plain(const mih *t, int k, dd_edge **e, size_t *ne,
                       size_t *cap)
{
	return probe_core(t, k, e, ne, cap);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt")))
static int probe_popcnt(const mih *t, int k, dd_edge **e, size_t *ne,
                        size_t *cap)
{
	return probe_core(t, k, e, ne, cap);
}
#endif

static int edge_cmp(const void *pa, const void *pb)
{
	const dd_edge *p = pa, *q = pb;
	if (p->a != q->a)
		return (p->a > q->a) - (p->a < q->a);
	return (p->b > q->b) - (p->b < q->b);
}

int dd_phash_pairs_mih(const dd_image *im, int n, int maxbits, dd_edge **e,
                       size_t *ne, size_t *cap)
{
	if (maxbits < 0)
		return 0;
	mih t = { .r = maxbits / BANDS, .maxbits = maxbits };
	t.nmask = masks_within(t.r);
	int (*probe)(const mih *, int, dd_edge **, size_t *, size_t *) =
		probe_plain;
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("popcnt"))
		probe = probe_popcnt;
#endif
	int rc = -1;
	unsigned *mask = malloc((size_t)t.nmask * sizeof *mask);
	int *pos = malloc(BUCKETS * sizeof *pos);
	size_t first = *ne;
	if (!mask || !pos)
		goto out;
	t.nmask = 0;
	for (unsigned m = 0; m < BUCKETS; m++)
		if (__builtin_popcount(m) <= t.r)
			mask[t.nmask++] = m;
	t.mask = mask;
	for (int k = 0; k < BANDS; k++) {
		t.start[k] = calloc(BUCKETS + 1, sizeof *t.start[k]);
		t.item[k] = malloc((size_t)(n ? n : 1) * sizeof *t.item[k]);
		t.hash[k] = malloc((size_t)(n ? n : 1) * sizeof *t.hash[k]);
		if (!t.start[k] || !t.item[k] || !t.hash[k])
			goto out;
		/* counting sort: images by band value, ascending index */
		for (int i = 0; i < n; i++)
			if (im[i].has_phash)
				t.start[k][band(im[i].phash, k) + 1]++;
		for (int v = 0; v < BUCKETS; v++)
			t.start[k][v + 1] += t.start[k][v];
		memcpy(pos, t.start[k], BUCKETS * sizeof *pos);
		for (int i = 0; i < n; i++)
			if (im[i].has_phash) {
				int p = pos[band(im[i].phash, k)]++;
				t.item[k][p] = i;
				t.hash[k][p] = im[i].phash;
			}
	}
	for (int k = 0; k < BANDS; k++)
		if (probe(&t, k, e, ne, cap) < 0)
			goto out;
	/* each pair once: sorting gives the brute force's order */
	if (*ne - first > 1)
		qsort(*e + first, *ne - first, sizeof **e, edge_cmp);
	rc = 0;
out:
	free(mask);
	free(pos);
	for (int k = 0; k < BANDS; k++) {
		free(t.start[k]);
		free(t.item[k]);
		free(t.hash[k]);
	}
	return rc;
}
