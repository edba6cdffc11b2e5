/*
 * preprocess.c -- from a decoded image to the network's input tensor.
 *
 * Two conventions, chosen by the model (siam_preproc.digit):
 *
 *   digit = 0  the image as it is: channels converted, resized with area
 *              averaging to the input size (aspect ratio not kept: the
 *              model was trained on images resized the same way).
 *
 *   digit = 1  the MNIST convention, so that a photo or a scan of a
 *              handwritten digit reaches the network looking like the
 *              digits it was trained on: white ink on black, the ink
 *              cropped, fitted into the central 20x20 box (of 28x28;
 *              scaled alike for other sizes) keeping its aspect ratio,
 *              and shifted so that its centre of mass is the centre.
 *
 * The digit path does what LeCun et al. did to NIST's clean binary scans,
 * but our inputs are photos: paper is not white, light is uneven, JPEG
 * adds noise, ink may be dark on light or light on dark, thin or thick.
 * So before cropping it
 *   1. models the background as a smooth surface (a quadratic in x and
 *      y, fitted robustly: the ink is rejected as outliers), which
 *      absorbs uneven lighting and the grey of the paper;
 *   2. decides the ink's polarity from which side of the background the
 *      strong deviations lie on (not from "is the paper bright?": a dim
 *      photo of white paper is dark everywhere);
 *   3. maps the ink to 0..255: background and noise (a few sigma of the
 *      background's own scatter) to 0, the ink's typical peak to 255, as
 *      in MNIST, where stroke cores are saturated;
 *   4. drops specks (connected components much lighter than the digit)
 *      so that dust and noise do not stretch the bounding box;
 *   5. thickens strokes much thinner than MNIST's (a ballpoint on a big
 *      sheet would shrink to a faint hair in 20x20).
 * Images over WORK_MAX_PX are first reduced with area averaging, which
 * bounds time and memory whatever the photo's size.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Above this many pixels the digit path works on a reduced copy. */
#define WORK_MAX_PX 4000000LL
/* At most about this many pixels take part in the background fit. */
#define FIT_MAX_SAMPLES 32768LL
/* Ink starts NOISE_K background sigmas (plus one level) above the
 * background, and at least FLOOR_FRAC of the ink's peak above it. */
#define NOISE_K 4.0
#define FLOOR_FRAC 0.05
/* The ink's peak: this quantile of the pixels above the noise floor. */
#define PEAK_QUANTILE 0.95
/* Less contrast than this (in levels of 255) is a blank image. */
#define MIN_CONTRAST 10.0
/* Connected components lighter than this fraction of the heaviest
 * are specks. */
#define KEEP_FRAC 0.10
/* Stroke width relative to the digit's height (longest side) in MNIST,
 * measured on its test set (median 2A/P of the pixels >= 128, where A
 * is their area and P their perimeter; 10% of the digits are under
 * 0.073, 10% over 0.140); strokes thinner than DILATE_BELOW times this
 * are thickened to it. */
#define MNIST_STROKE_REL 0.100
#define DILATE_BELOW 0.5
/* The stroke width is measured at this size (long side, pixels). */
#define WIDTH_SIDE 80

/* ------------------------------------------------------------------ */
/* Area-averaging resize                                               */

static long long overlap(long long a0, long long a1, long long b0,
                         long long b1)
{
	long long lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
	return hi > lo ? hi - lo : 0;
}

/* The one resize: src is either 8-bit (s8) or float (sf), rows of
 * `stride` elements, pixels of c interleaved channels; dst is dh rows of
 * dw*c floats.  Exact in integer coordinates: along x, destination pixel
 * x covers [x*sw, (x+1)*sw) and source pixel i covers [i*dw, (i+1)*dw),
 * both in units of 1/dw source pixels, so each weight is an integer
 * overlap and every destination pixel's weights sum to sw*sh exactly.
 * Downscaling averages every source pixel it covers; upscaling takes
 * one source pixel, or blends the two (or four) it straddles. */
static void resize_core(float *dst, int dw, int dh, const unsigned char *s8,
                        const float *sf, size_t stride, int sw, int sh,
                        int c)
{
	const double norm = 1.0 / ((double)sw * (double)sh);
	int x, y, k0, k;

	for (y = 0; y < dh; y++) {
		long long ya = (long long)y * sh, yb = ya + sh;
		int sy0 = (int)(ya / dh), sy1 = (int)((yb + dh - 1) / dh);

		for (x = 0; x < dw; x++) {
			long long xa = (long long)x * sw, xb = xa + sw;
			int sx0 = (int)(xa / dw), sx1 = (int)((xb + dw - 1) / dw);
			float *d = dst + ((size_t)y * dw + x) * c;

			for (k0 = 0; k0 < c; k0 += 4) {
				int kn = SIAM_MIN(4, c - k0), sx, sy;
				double acc[4] = {0, 0, 0, 0};

				for (sy = sy0; sy < sy1; sy++) {
					double wy = (double)overlap(
						ya, yb, (long long)sy * dh,
						(long long)(sy + 1) * dh);
					size_t row = (size_t)sy * stride;

					for (sx = sx0; sx < sx1; sx++) {
						double wgt = wy * (double)overlap(
							xa, xb, (long long)sx * dw,
							(long long)(sx + 1) * dw);
						size_t i = row + (size_t)sx * c + k0;

						for (k = 0; k < kn; k++)
							acc[k] += wgt * (s8 ? (double)s8[i + k]
							                    : (double)sf[i + k]);
					}
				}
				for (k = 0; k < kn; k++)
					d[k0 + k] = (float)(acc[k] * norm);
			}
		}
	}
}

/* The same resize of 8-bit pixels, fast: the reference above adds, for
 * each destination pixel, integer weights times integer pixel values in
 * a double, every partial sum an integer far below 2^53 (at most
 * 255 * sw * sh), so it is exact and its order does not matter.  Here
 * the same integers are summed in 64-bit integers: the x weights are
 * worked out once, each source row is visited once per destination row
 * it overlaps (not once per destination pixel), and one conversion
 * per output gives the same double, hence the same float, bit for bit
 * (tests/test_image_paths.c compares the two on odd sizes, up and
 * down).  It was 2 ms of the 3.5 ms a camera JPEG costs besides its
 * decoding at 1/8.  Returns -1 when out of memory (nothing written). */
typedef struct xtap {
	int first, n; /* source pixels first .. first+n-1 */
	size_t w;     /* offset of their weights in the weight array */
} xtap;

static int resize_u8_fast(float *dst, int dw, int dh,
                          const unsigned char *s8, size_t stride, int sw,
                          int sh, int c)
{
	const double norm = 1.0 / ((double)sw * (double)sh);
	/* Each destination pixel covers at most ceil(sw/dw) + 1 source
	 * pixels, so the weights number at most dw + sw + dw. */
	size_t nw = (size_t)2 * dw + (size_t)sw;
	xtap *tap = siam_xmalloc_n((size_t)dw, sizeof *tap);
	uint32_t *wx = siam_xmalloc_n(nw, sizeof *wx);
	uint64_t *acc = siam_xmalloc_n((size_t)dw * c, sizeof *acc);
	size_t used = 0;
	int x, y, k;

	if (!tap || !wx || !acc) {
		free(tap);
		free(wx);
		free(acc);
		return -1;
	}
	for (x = 0; x < dw; x++) {
		long long xa = (long long)x * sw, xb = xa + sw;
		int sx0 = (int)(xa / dw), sx1 = (int)((xb + dw - 1) / dw);
		tap[x].first = sx0;
		tap[x].n = sx1 - sx0;
		tap[x].w = used;
		for (int sx = sx0; sx < sx1; sx++)
			wx[used++] = (uint32_t)overlap(xa, xb, (long long)sx * dw,
			                               (long long)(sx + 1) * dw);
	}
	for (y = 0; y < dh; y++) {
		long long ya = (long long)y * sh, yb = ya + sh;
		int sy0 = (int)(ya / dh), sy1 = (int)((yb + dh - 1) / dh);

		memset(acc, 0, (size_t)dw * c * sizeof *acc);
		for (int sy = sy0; sy < sy1; sy++) {
			uint64_t wy = (uint64_t)overlap(ya, yb, (long long)sy * dh,
			                                (long long)(sy + 1) * dh);
			const unsigned char *row = s8 + (size_t)sy * stride;
			uint64_t *a = acc;

			if (!wy)
				continue;
			for (x = 0; x < dw; x++, a += c) {
				const unsigned char *p = row + (size_t)tap[x].first * c;
				const uint32_t *w = wx + tap[x].w;
				int n = tap[x].n, i;

				if (c == 3) {
					uint64_t r = 0, g = 0, b = 0;
					for (i = 0; i < n; i++, p += 3) {
						r += (uint64_t)w[i] * p[0];
						g += (uint64_t)w[i] * p[1];
						b += (uint64_t)w[i] * p[2];
					}
					a[0] += wy * r;
					a[1] += wy * g;
					a[2] += wy * b;
				} else if (c == 1) {
					uint64_t v = 0;
					for (i = 0; i < n; i++)
						v += (uint64_t)w[i] * p[i];
					a[0] += wy * v;
				} else {
					for (k = 0; k < c; k++) {
						uint64_t v = 0;
						for (i = 0; i < n; i++)
							v += (uint64_t)w[i] * p[(size_t)i * c + k];
						a[k] += wy * v;
					}
				}
			}
		}
		float *d = dst + (size_t)y * dw * c;
		for (size_t i = 0; i < (size_t)dw * c; i++)
			d[i] = (float)((double)acc[i] * norm);
	}
	free(tap);
	free(wx);
	free(acc);
	return 0;
}

/* 8-bit pixels: the fast resize, or the reference when memory for its
 * few tables is short. */
static void resize_u8(float *dst, int dw, int dh, const unsigned char *s8,
                      size_t stride, int sw, int sh, int c)
{
	if (resize_u8_fast(dst, dw, dh, s8, stride, sw, sh, c))
		resize_core(dst, dw, dh, s8, NULL, stride, sw, sh, c);
}

void pre_resize_u8(float *dst, int dw, int dh, const unsigned char *src,
                   size_t stride, int sw, int sh, int c, int reference)
{
	if (reference)
		resize_core(dst, dw, dh, src, NULL, stride, sw, sh, c);
	else
		resize_u8(dst, dw, dh, src, stride, sw, sh, c);
}

void siam_resize_area(float *dst, int dw, int dh, const float *src, int sw,
                      int sh, int c)
{
	if (!dst || !src || dw <= 0 || dh <= 0 || sw <= 0 || sh <= 0 ||
	    c <= 0)
		return;
	resize_core(dst, dw, dh, NULL, src, (size_t)sw * c, sw, sh, c);
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

void siam_preproc_default(siam_preproc *pre, int c, int h, int w)
{
	pre->c = c;
	pre->h = h;
	pre->w = w;
	pre->digit = 0;
	pre->mean = 0.0f;
	pre->std = 1.0f;
}

static float luma(float r, float g, float b)
{
	return 0.299f * r + 0.587f * g + 0.114f * b;
}

/* Writes the (h,w) plane v (values 0..255) as c identical normalised
 * channels of out. */
static void write_planes(float *out, const float *v, const siam_preproc *pre)
{
	size_t n = (size_t)pre->h * pre->w, i;
	int k;

	for (k = 0; k < pre->c; k++)
		for (i = 0; i < n; i++)
			out[k * n + i] = (v[i] / 255.0f - pre->mean) / pre->std;
}

/* A histogram-based quantile: `bins` bins of width `step` from 0.
 * Adding a value multiplies by 1/step when that is exact (step a power
 * of two: the same bin as dividing, without a division per pixel), and
 * clearing clears up to the highest bin used. */
typedef struct hist {
	unsigned *n;
	int bins, top; /* top: one past the highest bin used */
	double step, inv; /* inv: 1/step if exact, else 0 */
	size_t total;
} hist;

static int hist_init(hist *h, int bins, double step)
{
	int e;
	h->n = calloc((size_t)bins, sizeof *h->n);
	h->bins = bins;
	h->top = 0;
	h->step = step;
	h->inv = frexp(step, &e) == 0.5 ? 1.0 / step : 0;
	h->total = 0;
	return h->n ? 0 : -1;
}

static void hist_clear(hist *h)
{
	memset(h->n, 0, (size_t)h->top * sizeof *h->n);
	h->top = 0;
	h->total = 0;
}

static void hist_add(hist *h, double v)
{
	long b = v <= 0 ? 0 : (long)(h->inv ? v * h->inv : v / h->step);
	if (b >= h->bins)
		b = h->bins - 1;
	h->n[b]++;
	if (b >= h->top)
		h->top = (int)b + 1;
	h->total++;
}

/* The q-quantile (0..1), at the centre of its bin. */
static double hist_quantile(const hist *h, double q)
{
	size_t want = (size_t)(q * (double)h->total), seen = 0;
	int b;

	for (b = 0; b < h->bins; b++) {
		seen += h->n[b];
		if (seen > want)
			return (b + 0.5) * h->step;
	}
	return (h->bins - 0.5) * h->step;
}

/* ------------------------------------------------------------------ */
/* The background surface: a0 + a1 u + a2 v + a3 u^2 + a4 uv + a5 v^2,  */
/* u and v in [-1, 1] across the image.                                 */

typedef struct bgfit {
	double a[6];
	double sigma; /* scatter of the background around the surface */
} bgfit;

static void bg_terms(double t[6], double u, double v)
{
	t[0] = 1.0;
	t[1] = u;
	t[2] = v;
	t[3] = u * u;
	t[4] = u * v;
	t[5] = v * v;
}

static double bg_eval(const bgfit *f, double u, double v)
{
	return f->a[0] + f->a[1] * u + f->a[2] * v + f->a[3] * u * u +
	       f->a[4] * u * v + f->a[5] * v * v;
}

/* Solves the 6x6 system m a = r (Gaussian elimination, partial
 * pivoting).  Returns -1 if singular; the caller regularises. */
static int solve6(double m[6][6], double r[6], double a[6])
{
	int i, j, k;

	for (i = 0; i < 6; i++) {
		int p = i;
		for (j = i + 1; j < 6; j++)
			if (fabs(m[j][i]) > fabs(m[p][i]))
				p = j;
		if (fabs(m[p][i]) < 1e-12)
			return -1;
		if (p != i) {
			for (k = 0; k < 6; k++) {
				double t = m[i][k];
				m[i][k] = m[p][k];
				m[p][k] = t;
			}
			double t = r[i];
			r[i] = r[p];
			r[p] = t;
		}
		for (j = i + 1; j < 6; j++) {
			double f = m[j][i] / m[i][i];
			for (k = i; k < 6; k++)
				m[j][k] -= f * m[i][k];
			r[j] -= f * r[i];
		}
	}
	for (i = 5; i >= 0; i--) {
		double s = r[i];
		for (k = i + 1; k < 6; k++)
			s -= m[i][k] * a[k];
		a[i] = s / m[i][i];
	}
	return 0;
}

/* Pixel (x,y) of a w x h image in the surface's coordinates. */
#define U_OF(x, w) ((2.0 * (x) + 1.0) / (w) - 1.0)

/* Robust fit of the background surface to g (w x h, 0..255) on a grid
 * of samples: start from the median level, then refit on the pixels
 * within 3 sigma of the current surface, a few times.  Ink is a
 * minority of the pixels, so the median starts on the background and
 * the trimming keeps the ink out.  The samples' coordinates and their
 * residuals to the current surface are computed once per pass (the
 * same doubles as computing them where used).  Returns 0, or -1 if out
 * of memory. */
static int fit_background(bgfit *f, const float *g, int w, int h, hist *hs)
{
	int step, x, y, it, nx, ny;
	double thr = 0, *su, *sv, *res;

	step = 1;
	while ((long long)((w + step - 1) / step) * ((h + step - 1) / step) >
	       FIT_MAX_SAMPLES)
		step++;
	nx = (w + step - 1) / step;
	ny = (h + step - 1) / step;
	su = siam_xmalloc_n((size_t)nx, sizeof *su);
	sv = siam_xmalloc_n((size_t)ny, sizeof *sv);
	res = siam_xmalloc_n((size_t)nx * ny, sizeof *res);
	if (!su || !sv || !res) {
		free(su);
		free(sv);
		free(res);
		return -1;
	}
	for (x = 0; x < nx; x++)
		su[x] = U_OF(x * step, w);
	for (y = 0; y < ny; y++)
		sv[y] = U_OF(y * step, h);

	memset(f, 0, sizeof *f);
	hist_clear(hs);
	for (y = 0; y < h; y += step)
		for (x = 0; x < w; x += step)
			hist_add(hs, g[(size_t)y * w + x]);
	f->a[0] = hist_quantile(hs, 0.5);

	for (it = 0; it < 5; it++) {
		double m[6][6] = {{0}}, r[6] = {0}, a[6], t[6];
		/* m's upper triangle and r as scalars while they add up:
		 * the same operations as m[i][j] += t[i] t[j], r[i] +=
		 * t[i] gv, with the sums in registers */
		double m00 = 0, m01 = 0, m02 = 0, m03 = 0, m04 = 0, m05 = 0,
		       m11 = 0, m12 = 0, m13 = 0, m14 = 0, m15 = 0,
		       m22 = 0, m23 = 0, m24 = 0, m25 = 0,
		       m33 = 0, m34 = 0, m35 = 0, m44 = 0, m45 = 0, m55 = 0,
		       r0 = 0, r1 = 0, r2 = 0, r3 = 0, r4 = 0, r5 = 0;
		long long kept = 0;
		int i, j;

		/* The scatter: the median absolute residual of the pixels
		 * the last fit used (all of them the first time). */
		hist_clear(hs);
		for (y = 0; y < ny; y++) {
			const float *row = g + (size_t)y * step * w;
			double *rr = res + (size_t)y * nx;
			for (x = 0; x < nx; x++) {
				rr[x] = fabs(row[(size_t)x * step] -
				             bg_eval(f, su[x], sv[y]));
				if (it == 0 || rr[x] <= thr)
					hist_add(hs, rr[x]);
			}
		}
		f->sigma = SIAM_MAX(1.4826 * hist_quantile(hs, 0.5), 0.5);
		thr = SIAM_MAX(3.0 * f->sigma, 1.5);
		if (it == 4)
			break;

		for (y = 0; y < ny; y++) {
			const float *row = g + (size_t)y * step * w;
			const double *rr = res + (size_t)y * nx;
			for (x = 0; x < nx; x++) {
				double u = su[x], v = sv[y];
				double gv = row[(size_t)x * step];
				if (rr[x] > thr)
					continue;
				bg_terms(t, u, v);
				m00 += t[0] * t[0]; m01 += t[0] * t[1];
				m02 += t[0] * t[2]; m03 += t[0] * t[3];
				m04 += t[0] * t[4]; m05 += t[0] * t[5];
				m11 += t[1] * t[1]; m12 += t[1] * t[2];
				m13 += t[1] * t[3]; m14 += t[1] * t[4];
				m15 += t[1] * t[5]; m22 += t[2] * t[2];
				m23 += t[2] * t[3]; m24 += t[2] * t[4];
				m25 += t[2] * t[5]; m33 += t[3] * t[3];
				m34 += t[3] * t[4]; m35 += t[3] * t[5];
				m44 += t[4] * t[4]; m45 += t[4] * t[5];
				m55 += t[5] * t[5]; r0 += t[0] * gv;
				r1 += t[1] * gv; r2 += t[2] * gv;
				r3 += t[3] * gv; r4 += t[4] * gv;
				r5 += t[5] * gv;
				kept++;
			}
		}
		m[0][0] = m00; m[0][1] = m01; m[0][2] = m02;
		m[0][3] = m03; m[0][4] = m04; m[0][5] = m05;
		m[1][1] = m11; m[1][2] = m12; m[1][3] = m13;
		m[1][4] = m14; m[1][5] = m15; m[2][2] = m22;
		m[2][3] = m23; m[2][4] = m24; m[2][5] = m25;
		m[3][3] = m33; m[3][4] = m34; m[3][5] = m35;
		m[4][4] = m44; m[4][5] = m45; m[5][5] = m55; r[0] = r0;
		r[1] = r1; r[2] = r2; r[3] = r3; r[4] = r4; r[5] = r5;
		for (i = 0; i < 6; i++)
			for (j = 0; j < i; j++)
				m[i][j] = m[j][i];
		if (kept < 12)
			break;
		/* A little ridge on the non-constant terms: a one-pixel-wide
		 * image, or a fit on one row, is then still solvable (those
		 * terms go to ~0) and barely changed otherwise. */
		for (i = 1; i < 6; i++)
			m[i][i] += 1e-6 * (double)kept;
		if (solve6(m, r, a) != 0)
			break;
		memcpy(f->a, a, sizeof a);
	}
	free(su);
	free(sv);
	free(res);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Connected components: keep the digit, drop the specks               */

/* Zeroes every 8-connected component of m (w x h, > 0 is ink) whose
 * mass is under KEEP_FRAC of the heaviest, and returns the bounding
 * box of what is left in *bx0.. (exclusive ends).  Returns 1 if any ink
 * is left, 0 if none, -1 on ENOMEM. */
static int keep_digit(float *m, int w, int h, int *bx0, int *by0, int *bx1,
                      int *by1)
{
	size_t n = (size_t)w * h, i, ncomp = 0, cap = 64;
	int *label = NULL, *stack = NULL, rc = -1;
	double *mass = NULL, maxmass = 0;

	label = calloc(n, sizeof *label);
	stack = siam_xmalloc_n(n, sizeof *stack);
	mass = malloc(cap * sizeof *mass);
	if (!label || !stack || !mass)
		goto done;

	for (i = 0; i < n; i++) {
		size_t sp = 0;
		double sum = 0;

		if (m[i] <= 0 || label[i])
			continue;
		if (ncomp + 1 >= cap) {
			double *nm = realloc(mass, 2 * cap * sizeof *mass);
			if (!nm)
				goto done;
			mass = nm;
			cap *= 2;
		}
		ncomp++;
		label[i] = (int)ncomp;
		stack[sp++] = (int)i;
		while (sp) {
			int p = stack[--sp], px = p % w, py = p / w, dx, dy;
			sum += m[p];
			for (dy = -1; dy <= 1; dy++)
				for (dx = -1; dx <= 1; dx++) {
					int qx = px + dx, qy = py + dy;
					size_t q;
					if (qx < 0 || qy < 0 || qx >= w || qy >= h)
						continue;
					q = (size_t)qy * w + qx;
					if (m[q] > 0 && !label[q]) {
						label[q] = (int)ncomp;
						stack[sp++] = (int)q;
					}
				}
		}
		mass[ncomp] = sum;
		if (sum > maxmass)
			maxmass = sum;
	}

	*bx0 = w;
	*by0 = h;
	*bx1 = *by1 = 0;
	for (i = 0; i < n; i++) {
		int x = (int)(i % w), y = (int)(i / w);
		if (!label[i])
			continue;
		if (mass[label[i]] < KEEP_FRAC * maxmass) {
			m[i] = 0;
			continue;
		}
		if (x < *bx0) *bx0 = x;
		if (y < *by0) *by0 = y;
		if (x + 1 > *bx1) *bx1 = x + 1;
		if (y + 1 > *by1) *by1 = y + 1;
	}
	rc = *bx1 > 0;
done:
	free(label);
	free(stack);
	free(mass);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Stroke width and dilation                                           */

/* Stroke width of the ink in the w x h block of m (row stride s):
 * 2 * area / perimeter of the pixels >= 128, which for a long stroke of
 * width t is t.  0 if there are no such pixels. */
static double stroke_width(const float *m, int w, int h, size_t s)
{
	long long area = 0, perim = 0;
	int x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			int in = m[(size_t)y * s + x] >= 128.0f;
			if (!in)
				continue;
			area++;
			perim += (x == 0 || m[(size_t)y * s + x - 1] < 128.0f);
			perim += (x == w - 1 || m[(size_t)y * s + x + 1] < 128.0f);
			perim += (y == 0 || m[(size_t)(y - 1) * s + x] < 128.0f);
			perim += (y == h - 1 || m[(size_t)(y + 1) * s + x] < 128.0f);
		}
	return perim ? 2.0 * (double)area / (double)perim : 0.0;
}

/* How much thicker the strokes of the w x h crop m (row stride s)
 * should be, in its pixels, to be about as thick relative to its size
 * as MNIST's: 0 if they already are (within DILATE_BELOW), -1 on
 * ENOMEM.  The width is measured on a copy reduced to WIDTH_SIDE
 * pixels on its long side: the averaging removes the noise that would
 * make the outline ragged and the perimeter too long. */
static double thicken_by(const float *m, int w, int h, size_t s)
{
	double f = SIAM_MIN(1.0, (double)WIDTH_SIDE / SIAM_MAX(w, h));
	int rw = SIAM_MAX(1, (int)lround(w * f));
	int rh = SIAM_MAX(1, (int)lround(h * f));
	float *r = siam_xmalloc_n((size_t)rw * rh, sizeof *r);
	double sw, target;

	if (!r)
		return -1;
	resize_core(r, rw, rh, NULL, m, s, w, h, 1);
	sw = stroke_width(r, rw, rh, (size_t)rw);
	free(r);
	target = MNIST_STROKE_REL * SIAM_MAX(rw, rh);
	if (sw <= 0 || sw >= DILATE_BELOW * target)
		return 0;
	return (target - sw) / f;
}

/* Sliding maximum over a window of 2r+1 along a line of n values with
 * spacing `inc` (van Herk / Gil-Werman: O(n) whatever r).  fwd and bwd
 * are scratch of n + 2r floats. */
static void max_line(float *v, size_t inc, int n, int r, float *fwd,
                     float *bwd)
{
	int k = 2 * r + 1, len = n + 2 * r, i;

	/* The padded line: r zeros, the values, r zeros. */
	for (i = 0; i < len; i++) {
		int j = i - r;
		fwd[i] = (j >= 0 && j < n) ? v[(size_t)j * inc] : 0.0f;
		bwd[i] = fwd[i];
	}
	for (i = 1; i < len; i++)
		if (i % k)
			fwd[i] = SIAM_MAX(fwd[i], fwd[i - 1]);
	for (i = len - 2; i >= 0; i--)
		if ((i + 1) % k)
			bwd[i] = SIAM_MAX(bwd[i], bwd[i + 1]);
	/* Window of output j is padded [j, j+2r]. */
	for (i = 0; i < n; i++)
		v[(size_t)i * inc] = SIAM_MAX(bwd[i], fwd[i + 2 * r]);
}

/* Square dilation of radius r of the w x h image m, in place. */
static int dilate(float *m, int w, int h, int r)
{
	int len = SIAM_MAX(w, h) + 2 * r, x, y;
	float *fwd = siam_xmalloc_n((size_t)len, sizeof *fwd);
	float *bwd = siam_xmalloc_n((size_t)len, sizeof *bwd);

	if (!fwd || !bwd) {
		free(fwd);
		free(bwd);
		return -1;
	}
	for (y = 0; y < h; y++)
		max_line(m + (size_t)y * w, 1, w, r, fwd, bwd);
	for (x = 0; x < w; x++)
		max_line(m + x, (size_t)w, h, r, fwd, bwd);
	free(fwd);
	free(bwd);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Fitting the digit into its box                                     */

/* The extent [*lo, *hi) of a profile p[0..n) (values 0..255): where it
 * first and last reaches half of 255, interpolated linearly between
 * pixel centres (pixel i is centred on i + 0.5; outside is 0).  For a
 * sharp edge this is where the edge is: a border pixel 30% covered
 * puts it 0.79 px in (truth: 0.7).  Without any such pixel, [0, n). */
static void halfmax_extent(const float *p, int n, double *lo, double *hi)
{
	const double half = 127.5;
	int i;

	*lo = 0;
	*hi = n;
	for (i = 0; i < n && p[i] < half; i++)
		;
	if (i == n)
		return;
	{
		double a = i ? p[i - 1] : 0.0, b = p[i];
		*lo = (i - 0.5) + (half - a) / (b - a);
	}
	for (i = n - 1; p[i] < half; i--)
		;
	{
		double a = i < n - 1 ? p[i + 1] : 0.0, b = p[i];
		*hi = (i + 1.5) - (half - a) / (b - a);
	}
}

/* Area-averaging resample of src (sw x sh) into dst (dw x dh):
 * destination pixel (x,y) covers [ox + x*inv, ox + (x+1)*inv) x
 * [oy + y*inv, ...) of the source, whatever lies outside the source is
 * background (0).  A scale and a sub-pixel shift in one step. */
static void resample_area(float *dst, int dw, int dh, const float *src,
                          int sw, int sh, double inv, double ox, double oy)
{
	int x, y, sx, sy;

	for (y = 0; y < dh; y++) {
		double ya = oy + y * inv, yb = ya + inv;
		int sy0 = SIAM_MAX(0, (int)floor(ya));
		int sy1 = SIAM_MIN(sh, (int)ceil(yb));

		for (x = 0; x < dw; x++) {
			double xa = ox + x * inv, xb = xa + inv, acc = 0;
			int sx0 = SIAM_MAX(0, (int)floor(xa));
			int sx1 = SIAM_MIN(sw, (int)ceil(xb));

			for (sy = sy0; sy < sy1; sy++) {
				double wy = SIAM_MIN(yb, sy + 1.0) -
				            SIAM_MAX(ya, (double)sy);
				for (sx = sx0; sx < sx1; sx++) {
					double wx = SIAM_MIN(xb, sx + 1.0) -
					            SIAM_MAX(xa, (double)sx);
					acc += wx * wy * src[(size_t)sy * sw + sx];
				}
			}
			dst[(size_t)y * dw + x] = (float)(acc / (inv * inv));
		}
	}
}

/* ------------------------------------------------------------------ */
/* The two conventions                                                 */

static int preprocess_plain(float *out, const siam_image *img,
                            const siam_preproc *pre, siam_error *err)
{
	size_t n = (size_t)pre->h * pre->w, i;
	float *tmp = NULL, *v = NULL;
	int k;

	tmp = siam_xmalloc_n(n, (size_t)img->c * sizeof *tmp);
	if (!tmp)
		goto nomem;
	resize_u8(tmp, pre->w, pre->h, img->px,
	          (size_t)img->w * img->c, img->w, img->h, img->c);
	if (img->c == pre->c) {
		/* Interleaved HWC to planar CHW. */
		for (k = 0; k < pre->c; k++)
			for (i = 0; i < n; i++)
				out[k * n + i] = (tmp[i * img->c + k] / 255.0f -
				                  pre->mean) / pre->std;
	} else if (img->c == 3) {
		/* RGB to one gray channel; luma after the resize is the
		 * same as before it (both are linear) and cheaper. */
		v = siam_xmalloc_n(n, sizeof *v);
		if (!v)
			goto nomem;
		for (i = 0; i < n; i++)
			v[i] = luma(tmp[3 * i], tmp[3 * i + 1], tmp[3 * i + 2]);
		write_planes(out, v, pre);
	} else {
		/* Gray to RGB: the same plane three times. */
		write_planes(out, tmp, pre);
	}
	free(tmp);
	free(v);
	return 0;
nomem:
	free(tmp);
	free(v);
	return siam_errorf(err, SIAM_ENOMEM, "preprocess: out of memory");
}

/* The gray working image: img reduced to ww x wh (area averaging) and
 * converted to luma. */
static float *work_gray(const siam_image *img, int ww, int wh)
{
	size_t n = (size_t)ww * wh, i;
	float *g = siam_xmalloc_n(n, sizeof *g), *tmp;

	if (!g)
		return NULL;
	if (ww == img->w && wh == img->h) {
		const unsigned char *p = img->px;
		if (img->c == 1)
			for (i = 0; i < n; i++)
				g[i] = p[i];
		else
			for (i = 0; i < n; i++)
				g[i] = luma(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
		return g;
	}
	if (img->c == 1) {
		resize_u8(g, ww, wh, img->px, (size_t)img->w, img->w, img->h,
		          1);
		return g;
	}
	tmp = siam_xmalloc_n(n, 3 * sizeof *tmp);
	if (!tmp) {
		free(g);
		return NULL;
	}
	resize_u8(tmp, ww, wh, img->px, (size_t)img->w * 3, img->w,
	          img->h, 3);
	for (i = 0; i < n; i++)
		g[i] = luma(tmp[3 * i], tmp[3 * i + 1], tmp[3 * i + 2]);
	free(tmp);
	return g;
}

static int preprocess_digit(float *out, const siam_image *img,
                            const siam_preproc *pre, siam_error *err)
{
	size_t n = (size_t)pre->h * pre->w, i;
	float *g = NULL, *crop = NULL, *frame = NULL, *prof = NULL;
	double *ux = NULL;
	int ww = img->w, wh = img->h, x, y, rc = 0, found;
	int bx0, by0, bx1, by1, cw, ch, pad = 0, up = 1;
	double sigma, floor0, floor, peak, dark = 0, bright = 0, s, sx, sy,
	       sm;
	double box_w = 20.0 * pre->w / 28.0, box_h = 20.0 * pre->h / 28.0;
	bgfit bg;
	hist hs = {0};

	frame = calloc(n, sizeof *frame);
	if (!frame || hist_init(&hs, 4096, 0.125) != 0)
		goto nomem;

	if ((long long)ww * wh > WORK_MAX_PX) {
		double f = sqrt((double)WORK_MAX_PX / ((double)ww * wh));
		ww = SIAM_MAX(1, (int)(ww * f));
		wh = SIAM_MAX(1, (int)(wh * f));
		/* A sliver (1 x 50M) cannot shrink along its thin side. */
		if ((long long)ww * wh > WORK_MAX_PX) {
			if (ww == 1)
				wh = (int)WORK_MAX_PX;
			else
				ww = (int)WORK_MAX_PX;
		}
	}
	g = work_gray(img, ww, wh);
	if (!g)
		goto nomem;

	/* 1. Background surface and its noise. */
	if (fit_background(&bg, g, ww, wh, &hs) != 0)
		goto nomem;
	sigma = bg.sigma;
	floor0 = NOISE_K * sigma + 1.0;

	/* 2. Residuals; the ink is on the side with the strong deviations.
	 * (ux: the columns' coordinates, computed once.) */
	ux = siam_xmalloc_n((size_t)ww, sizeof *ux);
	if (!ux)
		goto nomem;
	for (x = 0; x < ww; x++)
		ux[x] = U_OF(x, ww);
	for (y = 0; y < wh; y++) {
		double vy = U_OF(y, wh);
		for (x = 0; x < ww; x++) {
			size_t p = (size_t)y * ww + x;
			double r = g[p] - bg_eval(&bg, ux[x], vy);
			g[p] = (float)r;
			if (r > floor0)
				bright += r - floor0;
			else if (-r > floor0)
				dark += -r - floor0;
		}
	}
	if (dark > bright)
		for (i = 0; i < (size_t)ww * wh; i++)
			g[i] = -g[i];

	/* 3. The ink's peak, then background -> 0 and peak -> 255. */
	hist_clear(&hs);
	for (i = 0; i < (size_t)ww * wh; i++)
		if (g[i] > floor0)
			hist_add(&hs, g[i]);
	if (hs.total == 0)
		goto blank;
	peak = hist_quantile(&hs, PEAK_QUANTILE);
	if (peak - floor0 < MIN_CONTRAST)
		goto blank;
	floor = SIAM_MAX(floor0, FLOOR_FRAC * peak);
	for (i = 0; i < (size_t)ww * wh; i++) {
		double v = (g[i] - floor) / (peak - floor);
		g[i] = (float)(255.0 * (v < 0 ? 0 : v > 1 ? 1 : v));
	}

	/* 4. The digit's bounding box, specks removed. */
	found = keep_digit(g, ww, wh, &bx0, &by0, &bx1, &by1);
	if (found < 0)
		goto nomem;
	if (!found)
		goto blank;
	cw = bx1 - bx0;
	ch = by1 - by0;

	/* 5. Strokes much thinner than MNIST's are thickened: a square
	 * dilation of radius r widens them by 2r.  A small crop is first
	 * enlarged (each pixel to an up x up block) so that the radius can
	 * be fine enough: the same digit then comes out the same whether it
	 * was photographed large or small. */
	{
		double more = thicken_by(g + (size_t)by0 * ww + bx0, cw, ch,
		                         (size_t)ww);
		if (more < 0)
			goto nomem;
		if (more > 0) {
			int L = SIAM_MAX(cw, ch);
			up = L < WIDTH_SIDE ? (WIDTH_SIDE + L - 1) / L : 1;
			pad = (int)lround(more * up / 2.0);
			if (pad < 1)
				up = 1;
		}
	}
	{
		int cw2 = cw * up + 2 * pad, ch2 = ch * up + 2 * pad;

		crop = calloc((size_t)cw2 * ch2, sizeof *crop);
		if (!crop)
			goto nomem;
		for (y = 0; y < ch * up; y++)
			for (x = 0; x < cw * up; x++)
				crop[(size_t)(y + pad) * cw2 + x + pad] =
					g[(size_t)(by0 + y / up) * ww + bx0 + x / up];
		cw = cw2;
		ch = ch2;
	}
	if (pad > 0 && dilate(crop, cw, ch, pad) != 0)
		goto nomem;

	/* 6. Fit into the box keeping the aspect ratio.  The size that
	 * fits is the digit's outline, where the ink reaches half its peak:
	 * MNIST fitted the outline of binary NIST scans, and the faint
	 * fringe a blurry photo (or an anti-aliased drawing) adds around
	 * it would otherwise make the digit smaller the blurrier it is. */
	{
		double lo, hi, ext_w, ext_h;

		prof = siam_xmalloc_n((size_t)SIAM_MAX(cw, ch), sizeof *prof);
		if (!prof)
			goto nomem;
		for (x = 0; x < cw; x++) {
			float m = 0;
			for (y = 0; y < ch; y++)
				m = SIAM_MAX(m, crop[(size_t)y * cw + x]);
			prof[x] = m;
		}
		halfmax_extent(prof, cw, &lo, &hi);
		ext_w = SIAM_MAX(hi - lo, 0.5);
		for (y = 0; y < ch; y++) {
			float m = 0;
			for (x = 0; x < cw; x++)
				m = SIAM_MAX(m, crop[(size_t)y * cw + x]);
			prof[y] = m;
		}
		halfmax_extent(prof, ch, &lo, &hi);
		ext_h = SIAM_MAX(hi - lo, 0.5);
		s = SIAM_MIN(box_w / ext_w, box_h / ext_h);
	}
	/* 7. Centre of mass to the centre of the frame, pixel (w/2, h/2)
	 * ((14,14) for 28x28, as in MNIST, whose test digits have a mean
	 * centre of mass of 14.01, 13.99).  MNIST shifted by whole pixels;
	 * we place the digit exactly, by choosing where the frame's pixel
	 * grid falls on the crop, so that a one-pixel jump never depends on
	 * a rounding. */
	sx = sy = sm = 0;
	for (y = 0; y < ch; y++)
		for (x = 0; x < cw; x++) {
			double v = crop[(size_t)y * cw + x];
			sx += v * (x + 0.5);
			sy += v * (y + 0.5);
			sm += v;
		}
	if (sm <= 0)
		goto blank;
	resample_area(frame, pre->w, pre->h, crop, cw, ch, 1.0 / s,
	              sx / sm - (pre->w / 2 + 0.5) / s,
	              sy / sm - (pre->h / 2 + 0.5) / s);

blank: /* also the normal end: the frame holds the digit */
	write_planes(out, frame, pre);
	goto out;
nomem:
	rc = siam_errorf(err, SIAM_ENOMEM, "preprocess: out of memory");
out:
	free(hs.n);
	free(g);
	free(ux);
	free(crop);
	free(prof);
	free(frame);
	return rc;
}

int siam_preprocess(float *out, const siam_image *img,
                    const siam_preproc *pre, siam_error *err)
{
	if (!out || !img || !pre)
		return siam_errorf(err, SIAM_EINVAL, "preprocess: no %s",
		                   !out ? "output" : !img ? "image"
		                                          : "preprocessing");
	if (img->w <= 0 || img->h <= 0 || !img->px)
		return siam_errorf(err, SIAM_EINVAL,
		                   "preprocess: empty image (%dx%d)", img->w,
		                   img->h);
	if (img->c != 1 && img->c != 3)
		return siam_errorf(err, SIAM_EINVAL,
		                   "preprocess: image has %d channels, not 1 "
		                   "or 3", img->c);
	if ((pre->c != 1 && pre->c != 3) || pre->h <= 0 || pre->w <= 0 ||
	    pre->h > 4096 || pre->w > 4096)
		return siam_errorf(err, SIAM_EINVAL,
		                   "preprocess: bad input shape %dx%dx%d",
		                   pre->c, pre->h, pre->w);
	if (!(pre->std != 0.0f) || !isfinite(pre->std) ||
	    !isfinite(pre->mean))
		return siam_errorf(err, SIAM_EINVAL,
		                   "preprocess: bad normalisation mean %g std %g",
		                   (double)pre->mean, (double)pre->std);
	return pre->digit ? preprocess_digit(out, img, pre, err)
	                  : preprocess_plain(out, img, pre, err);
}
