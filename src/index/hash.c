/*
 * hash.c -- the two hashes the index keeps for every image.
 *
 * Content hash: SHA-256 of the file's bytes (FIPS 180-4).  Why SHA-256
 * and not a faster 64-bit hash: the index uses it to decide that a file
 * whose mtime changed is still the same file (and so is not embedded
 * again) and `siam dedup` uses it for exact duplicates, so a collision
 * would silently drop an image; SHA-256 makes that impossible in
 * practice, costs far less than decoding, and its hex form is what
 * `sha256sum` prints, so a user can check it.
 *
 * Perceptual hash: the 64-bit DCT hash ("pHash" as in the imagehash
 * library's phash()):
 *   1. grayscale, luma Y = 0.299 R + 0.587 G + 0.114 B;
 *   2. resize to 32x32 by area averaging;
 *   3. 2-D DCT-II of the 32x32 block;
 *   4. keep the 8x8 lowest frequencies (DC included), row-major;
 *   5. bit i (i = 8u + v, the most significant bit first) is 1 when
 *      coefficient (u, v) is greater than the median of those 64.
 * Similar-looking images (rescaled, recompressed, slightly blurred) get
 * hashes a few bits apart; siam_hamming64() counts the bits.  It is the
 * classical baseline that `siam dedup` compares the network against.
 * The indexer also keeps the picture of step 2, rounded to bytes
 * (index_phash_gray, images.gray32), for comparisons the 64 bits cannot
 * make, such as whether one image is a crop of another.
 */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* SHA-256                                                             */

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
		              (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
		              (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5],
	         g = h[6], k = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = k + S1 + ch + sha_k[i] + w[i];
		uint32_t S0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

static void sha256_portable(uint32_t h[8], const unsigned char *p,
                            size_t n)
{
	for (; n; n--, p += 64)
		sha256_block(h, p);
}

#if defined(__x86_64__) || defined(__i386__)
/* The same compression with the x86 SHA extensions (SHA-NI: Intel
 * since Goldmont/Ice Lake, every AMD Zen): 5 to 10 times faster than
 * the portable code, which is the difference between hashing a camera
 * JPEG in less time than decoding it at 1/8 scale and in more.  The
 * portable sha256_block above stays the reference: tests/test_hash.c
 * compares the two (index_sha256_ref) besides the FIPS vectors and
 * sha256sum comparisons that run through whichever the machine picks.  The state is kept
 * as ABEF/CDGH, the order the sha256rnds2 instruction wants. */
#include <cpuid.h>
#include <immintrin.h>

__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks_ni(uint32_t h[8], const unsigned char *p,
                             size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	                                     0x0405060700010203ULL);
	__m128i t = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]);
	t = _mm_shuffle_epi32(t, 0xb1);            /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);          /* EFGH */
	__m128i s0 = _mm_alignr_epi8(t, s1, 8);    /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xf0);         /* CDGH */

	for (; n; n--, p += 64) {
		__m128i abef = s0, cdgh = s1, m[4], x;
		for (int i = 0; i < 4; i++)
			m[i] = _mm_shuffle_epi8(
				_mm_loadu_si128((const __m128i *)(p + 16 * i)),
				bswap);
		/* Rounds 4g..4g+3 use message words W[4g..4g+3] = m[g % 4];
		 * W for group g+1 is made during group g (msg2), from the
		 * msg1 of group g-3 made during group g-2. */
#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			x = _mm_add_epi32(m[g & 3], _mm_loadu_si128(
				(const __m128i *)&sha_k[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, x);
			if (g >= 3 && g <= 14) {
				__m128i w = _mm_alignr_epi8(m[g & 3],
				                            m[(g + 3) & 3], 4);
				m[(g + 1) & 3] = _mm_sha256msg2_epu32(
					_mm_add_epi32(m[(g + 1) & 3], w), m[g & 3]);
			}
			s0 = _mm_sha256rnds2_epu32(s0, s1,
			                           _mm_shuffle_epi32(x, 0x0e));
			if (g >= 1 && g <= 12)
				m[(g + 3) & 3] = _mm_sha256msg1_epu32(
					m[(g + 3) & 3], m[g & 3]);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}

	t = _mm_shuffle_epi32(s0, 0x1b);           /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);          /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xf0);         /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);            /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], s0);
	_mm_storeu_si128((__m128i *)&h[4], s1);
}

static int sha_ni;
static pthread_once_t sha_ni_once = PTHREAD_ONCE_INIT;

static void sha_ni_probe(void)
{
	unsigned a, b, c, d;
	int ssse3_sse41 = __get_cpuid(1, &a, &b, &c, &d) &&
	                  (c & (1u << 9)) && (c & (1u << 19));
	sha_ni = ssse3_sse41 && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
	         (b & (1u << 29));
}

static void sha256_blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
	pthread_once(&sha_ni_once, sha_ni_probe);
	if (sha_ni)
		sha256_blocks_ni(h, p, n);
	else
		sha256_portable(h, p, n);
}
#else
#define sha256_blocks sha256_portable
#endif

/* The padding and the digest around a block function: the one body both
 * the dispatching siam_sha256 and the portable reference run. */
static void sha256_with(void (*blocks)(uint32_t *, const unsigned char *,
                                       size_t),
                        unsigned char out[32], const void *data, size_t len)
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	const unsigned char *p = data;
	size_t left = len % 64;
	blocks(h, p, len / 64);
	p += len - left;
	/* The tail, the 0x80 marker and the bit length: one or two blocks. */
	unsigned char tail[128];
	memset(tail, 0, sizeof tail);
	if (left)
		memcpy(tail, p, left);
	tail[left] = 0x80;
	size_t nt = left + 1 + 8 <= 64 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++)
		tail[nt - 1 - i] = (unsigned char)(bits >> (8 * i));
	blocks(h, tail, nt / 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
}

void siam_sha256(unsigned char out[32], const void *data, size_t len)
{
	sha256_with(sha256_blocks, out, data, len);
}

/* The portable code alone, whatever the CPU has: the reference the tests
 * compare the SHA-NI path against (src/index/index.h). */
void index_sha256_ref(unsigned char out[32], const void *data, size_t len)
{
	sha256_with(sha256_portable, out, data, len);
}

void siam_sha256_hex(char out[65], const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	siam_sha256(d, data, len);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = 0;
}

/* ------------------------------------------------------------------ */
/* Perceptual hash                                                     */

#define PH_N 32 /* the DCT block */
#define PH_K 8  /* the kept low frequencies */

/* Area-averaging resize of one float channel, src (sh, sw) to
 * dst (PH_N, PH_N): every destination pixel is the mean of the source
 * area it covers, partial pixels weighted by their overlap. */
static void area_resize(float *dst, const float *src, int sw, int sh)
{
	double sx = (double)sw / PH_N, sy = (double)sh / PH_N;
	for (int oy = 0; oy < PH_N; oy++) {
		double y0 = oy * sy, y1 = y0 + sy;
		for (int ox = 0; ox < PH_N; ox++) {
			double x0 = ox * sx, x1 = x0 + sx, acc = 0;
			for (int y = (int)y0; y < sh && y < y1; y++) {
				double wy = SIAM_MIN(y + 1.0, y1) -
				            SIAM_MAX((double)y, y0);
				if (wy <= 0)
					continue;
				const float *row = src + (size_t)y * sw;
				for (int x = (int)x0; x < sw && x < x1; x++) {
					double wx = SIAM_MIN(x + 1.0, x1) -
					            SIAM_MAX((double)x, x0);
					if (wx > 0)
						acc += wx * wy * row[x];
				}
			}
			dst[oy * PH_N + ox] = (float)(acc / (sx * sy));
		}
	}
}

/* cos(pi (n + 1/2) u / N) for the kept frequencies, computed once:
 * 256 calls of cos() would cost more than the whole transform. */
static double cosv[PH_K][PH_N];
static pthread_once_t cos_once = PTHREAD_ONCE_INIT;

static void cos_init(void)
{
	for (int u = 0; u < PH_K; u++)
		for (int n = 0; n < PH_N; n++)
			cosv[u][n] = cos(M_PI * (n + 0.5) * u / PH_N);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The same 32x32 picture as gray + area_resize above, bit for bit, a
 * row at a time: each source row is made gray once (into a row buffer,
 * not a float copy of the whole picture, whose pages were a fresh
 * mmap and page faults for every file) and added to the outputs it
 * covers.  Every output still sums the same products (wx * wy) * gray
 * in the same order (rows down, then pixels across), so the doubles
 * and the hash are the ones of the reference.  Returns -1 when out of
 * memory. */
static int area_resize_rows(float *dst, const siam_image *img)
{
	const int sw = img->w, sh = img->h, c = img->c;
	double sx = (double)sw / PH_N, sy = (double)sh / PH_N;
	/* Each output column covers at most ceil(sx) + 1 source pixels. */
	size_t cap = (size_t)sw + 2 * PH_N, nt = 0;
	int tfirst[PH_N], tn[PH_N];
	size_t toff[PH_N];
	double *wx = siam_xmalloc_n(cap, sizeof *wx);
	float *row = siam_xmalloc_n((size_t)sw, sizeof *row);
	int have = -1; /* the source row in row[] */

	if (!wx || !row) {
		free(wx);
		free(row);
		return -1;
	}
	for (int ox = 0; ox < PH_N; ox++) {
		double x0 = ox * sx, x1 = x0 + sx;
		tfirst[ox] = 0;
		tn[ox] = 0;
		toff[ox] = nt;
		for (int x = (int)x0; x < sw && x < x1; x++) {
			double w = SIAM_MIN(x + 1.0, x1) - SIAM_MAX((double)x, x0);
			/* The reference skips w <= 0; adding 0 * wy * gray
			 * (gray >= 0) to a sum leaves it as it is. */
			if (!tn[ox])
				tfirst[ox] = x;
			wx[nt++] = w > 0 ? w : 0.0;
			tn[ox]++;
		}
	}
	for (int oy = 0; oy < PH_N; oy++) {
		double y0 = oy * sy, y1 = y0 + sy, acc[PH_N] = { 0 };
		for (int y = (int)y0; y < sh && y < y1; y++) {
			double wy = SIAM_MIN(y + 1.0, y1) - SIAM_MAX((double)y, y0);
			if (wy <= 0)
				continue;
			if (have != y) {
				const unsigned char *p = img->px + (size_t)y * sw * c;
				if (c == 1)
					for (int x = 0; x < sw; x++)
						row[x] = p[x];
				else
					for (int x = 0; x < sw; x++)
						row[x] = 0.299f * p[3 * x] +
						         0.587f * p[3 * x + 1] +
						         0.114f * p[3 * x + 2];
				have = y;
			}
			for (int ox = 0; ox < PH_N; ox++) {
				const double *w = wx + toff[ox];
				const float *r = row + tfirst[ox];
				double a = acc[ox];
				for (int i = 0; i < tn[ox]; i++)
					a += w[i] * wy * r[i];
				acc[ox] = a;
			}
		}
		for (int ox = 0; ox < PH_N; ox++)
			dst[oy * PH_N + ox] = (float)(acc[ox] / (sx * sy));
	}
	free(wx);
	free(row);
	return 0;
}

/* The reference: the picture made gray whole, then area_resize. */
static int phash_small_ref(float *small, const siam_image *img)
{
	size_t npx = (size_t)img->w * img->h;
	float *gray = siam_xmalloc_n(npx, sizeof *gray);
	if (!gray)
		return -1;
	const unsigned char *p = img->px;
	if (img->c == 1) {
		for (size_t i = 0; i < npx; i++)
			gray[i] = p[i];
	} else {
		for (size_t i = 0; i < npx; i++)
			gray[i] = 0.299f * p[3 * i] + 0.587f * p[3 * i + 1] +
			          0.114f * p[3 * i + 2];
	}
	area_resize(small, gray, img->w, img->h);
	free(gray);
	return 0;
}

/* The 32x32 grey picture of img into small, by the fast code or
 * (reference) the whole-picture one. */
static int phash_small(float *small, const siam_image *img, int reference,
                       siam_error *err)
{
	if (!img || !img->px || img->w <= 0 || img->h <= 0 ||
	    (img->c != 1 && img->c != 3))
		return siam_errorf(err, SIAM_EINVAL,
		                   "perceptual hash: empty or malformed image");
	if (reference ? phash_small_ref(small, img)
	              : area_resize_rows(small, img))
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	return 0;
}

/* The hash of a 32x32 grey picture (steps 3 to 5). */
static uint64_t phash_of_small(const float *small)
{
	/* DCT-II, unnormalised: X(u) = sum_n x(n) cos(pi (n + 1/2) u / N).
	 * A constant factor per coefficient would not change a comparison
	 * with the median, and only the 8 lowest frequencies are needed,
	 * so rows and then columns cost 2 * 32 * 32 * 8 multiplies. */
	pthread_once(&cos_once, cos_init);
	double rows[PH_N][PH_K]; /* DCT along x of each row */
	for (int y = 0; y < PH_N; y++)
		for (int v = 0; v < PH_K; v++) {
			double s = 0;
			for (int x = 0; x < PH_N; x++)
				s += small[y * PH_N + x] * cosv[v][x];
			rows[y][v] = s;
		}
	double coef[PH_K * PH_K], sorted[PH_K * PH_K];
	for (int u = 0; u < PH_K; u++)
		for (int v = 0; v < PH_K; v++) {
			double s = 0;
			for (int y = 0; y < PH_N; y++)
				s += rows[y][v] * cosv[u][y];
			coef[u * PH_K + v] = s;
		}
	memcpy(sorted, coef, sizeof sorted);
	qsort(sorted, PH_K * PH_K, sizeof *sorted, cmp_double);
	double median = 0.5 * (sorted[31] + sorted[32]);
	uint64_t h = 0;
	for (int i = 0; i < PH_K * PH_K; i++)
		if (coef[i] > median)
			h |= 1ull << (63 - i);
	return h;
}

/* The hash of img into *out (0 on failure), its picture left in small. */
static int phash_with(uint64_t *out, float *small, const siam_image *img,
                      int reference, siam_error *err)
{
	int rc;
	*out = 0;
	if ((rc = phash_small(small, img, reference, err)))
		return rc;
	*out = phash_of_small(small);
	return 0;
}

int siam_phash(uint64_t *out, const siam_image *img, siam_error *err)
{
	float small[PH_N * PH_N];
	return phash_with(out, small, img, 0, err);
}

int index_phash_ref(uint64_t *out, const siam_image *img, siam_error *err)
{
	float small[PH_N * PH_N];
	return phash_with(out, small, img, 1, err);
}

/* One picture for both, so that the stored gray32 is exactly what the
 * hash saw (images.gray32, sql/schema.sql).  Rounding is (int)(v +
 * 0.5f), halves up, rather than lrintf: lrintf follows the FPU's
 * rounding mode (halves to even by default), a process-wide setting a
 * caller may change; v + 0.5f does not.  The clamp guards a white
 * pixel, whose float luma may come out a rounding error above 255. */
int index_phash_gray(uint64_t *phash, unsigned char gray[1024],
                     const siam_image *img, siam_error *err)
{
	float small[PH_N * PH_N];
	int rc = phash_with(phash, small, img, 0, err);
	if (rc)
		return rc;
	for (int i = 0; i < PH_N * PH_N; i++) {
		int v = (int)(small[i] + 0.5f);
		gray[i] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
	return 0;
}

int siam_hamming64(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}
