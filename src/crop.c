/*
 * crop.c -- siam dedup's crop check: is one image a crop of the other?
 * Pixel by pixel, on the 32x32 grey pictures the index keeps
 * (images.gray32: the luma the perceptual hash is computed from), on
 * siam's thread pool (siam_crop_check).
 *
 * Why: a crop moves the embedding further than any other edit (an
 * off-centre crop of 75-90% a side moves it by a median 0.48 on the
 * photo model, where different photographs start to be linked), and a
 * hash of the whole picture changes completely.  But a crop is the same
 * pixels at another scale and place: scaled to the size it covers in
 * the original, it correlates with that window almost perfectly (NCC
 * above 0.95 for nearly every crop of the benchmark's TUNING-B split),
 * while two different photographs, even the nearest ones, stay below
 * 0.92 there.  So dedup takes each image's few nearest (the candidates
 * of siam_db_neighbours: a crop's original is still among them) and
 * keeps the pairs whose pictures say "crop".
 *
 * The score of (a, b): b scaled to s x s for every s from CROP_MIN_SIDE
 * to 32 (a crop keeping 70% to 100% of each side of a; both pictures
 * are squeezed to 32x32, so a crop that keeps the aspect ratio is a
 * square window; one that changes it much is not found) by a triangle
 * filter (PIL's antialiased bilinear: the
 * box filter was measured worse, it aliases), then its normalised
 * cross-correlation with every s x s window of a; the best over both
 * directions (a in b, b in a).  Windows and templates with almost no
 * texture (variance under one grey level squared) are skipped: a flat
 * picture correlates with noise.  crop_score computes the window
 * statistics from summed-area tables and the products in float;
 * crop_score_ref does each window from scratch in double, for the
 * tests.
 *
 * Whole pixels are coarse at 32x32: a crop of 77.3% a side lies between
 * two template sizes and half a pixel off the grid, which costs it a few
 * hundredths of correlation.  So a pair left in doubt (a score a little
 * under the bar) is asked again by crop_score_fine: the window's side
 * and place in half pixels, sampled bilinearly on a 24x24 grid, against
 * the other picture shrunk to 24x24.  It is some 30 times dearer, and
 * plain code in double (its own reference): only a few per cent of the
 * pairs get it.
 *
 * The same score also checks the model (crop_look_score, the look
 * check): a pair the model puts within the threshold but not well
 * within it must look alike too, as the picture or its mirror (the
 * model is blind to mirrors), at a bar far below a crop's.  Copies
 * pass it (a copy turned 2-5 degrees with black corners, the worst
 * edit, scored 0.75 and more on the benchmark, but 0.70-0.77 on the
 * tests' synthetic picture of sharp blobs: the margin is thin there,
 * which is why the pairs well within the threshold are not looked at);
 * the model's blunders (a sickle beside a jigsaw piece of a painting, a
 * dam beside a mountain) scored 0.58-0.65 (crop.h has the figures).
 */
#include "crop.h"
#include "nn/nn.h" /* nn_threads: siam_set_threads's count */
#include "threads.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N CROP_N

/* Least variance (grey levels squared, per pixel) of a window or
 * template that is scored. */
#define VAR_MIN 1.0

/* The triangle filter's taps for each output size s < N (the search's
 * sizes and the fine search's grid): output i of s takes w[s][i][j] of
 * input j for j in [lo[s][i], hi[s][i]), weights summing to 1 (support
 * = the scale, as PIL's BILINEAR when shrinking).  Made once: they
 * depend on s alone. */
static struct {
	double w[N + 1][N][N];
	int lo[N + 1][N], hi[N + 1][N];
} taps;
static pthread_once_t taps_once = PTHREAD_ONCE_INIT;

static void taps_init(void)
{
	for (int s = 1; s < N; s++) {
		double scale = (double)N / s;
		for (int i = 0; i < s; i++) {
			double c = (i + 0.5) * scale, sum = 0;
			double *w = taps.w[s][i];
			taps.lo[s][i] = N;
			taps.hi[s][i] = 0;
			for (int j = 0; j < N; j++) {
				double x = fabs((j + 0.5 - c) / scale);
				w[j] = x < 1 ? 1 - x : 0;
				if (w[j] > 0) {
					if (j < taps.lo[s][i])
						taps.lo[s][i] = j;
					taps.hi[s][i] = j + 1;
				}
				sum += w[j];
			}
			for (int j = 0; j < N; j++)
				w[j] /= sum;
		}
	}
}

/* src (N x N) scaled to s x s (s <= N) into dst by the triangle filter,
 * rows then columns. */
static void shrink(double *dst, const double *src, int s)
{
	double tmp[N * N];
	if (s == N) {
		memcpy(dst, src, sizeof(double) * N * N);
		return;
	}
	pthread_once(&taps_once, taps_init);
	const int *lo = taps.lo[s], *hi = taps.hi[s];
	for (int y = 0; y < N; y++) /* rows: N x s */
		for (int i = 0; i < s; i++) {
			const double *w = taps.w[s][i];
			double a = 0;
			for (int j = lo[i]; j < hi[i]; j++)
				a += w[j] * src[y * N + j];
			tmp[y * s + i] = a;
		}
	for (int i = 0; i < s; i++) /* columns: s x s */
		for (int x = 0; x < s; x++) {
			const double *w = taps.w[s][i];
			double a = 0;
			for (int j = lo[i]; j < hi[i]; j++)
				a += w[j] * tmp[j * s + x];
			dst[i * s + x] = a;
		}
}

/* The template of scale s: b shrunk, its mean taken out; returns its
 * norm (0 when it has no texture). */
static double template_of(double *t, const double *b, int s)
{
	shrink(t, b, s);
	double m = 0, q = 0;
	for (int i = 0; i < s * s; i++)
		m += t[i];
	m /= s * s;
	for (int i = 0; i < s * s; i++) {
		t[i] -= m;
		q += t[i] * t[i];
	}
	return q < VAR_MIN * s * s ? 0 : sqrt(q);
}

static void to_double(double *d, const unsigned char *g)
{
	for (int i = 0; i < N * N; i++)
		d[i] = g[i];
}

/* The better of b in a and a in b, by the search in(windows, template). */
static double both_ways(double (*in)(const double *, const double *),
                        const unsigned char *a, const unsigned char *b)
{
	double da[N * N], db[N * N];
	to_double(da, a);
	to_double(db, b);
	double x = in(da, db), y = in(db, da);
	return x > y ? x : y;
}

/* Sum of x[i] y[i], eight lanes at a time (GCC/clang vector extension,
 * two 4-float vectors: SSE on any x86-64, NEON on arm64): the products
 * are nearly all the work, and a plain loop is not vectorised (float
 * sums do not reassociate).  Loads through memcpy: the rows are not
 * aligned. */
typedef float v4f __attribute__((vector_size(16)));
static inline float dot_f(const float *x, const float *y, int n)
{
	v4f a0 = { 0 }, a1 = { 0 };
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		v4f x0, x1, y0, y1;
		memcpy(&x0, x + i, sizeof x0);
		memcpy(&x1, x + i + 4, sizeof x1);
		memcpy(&y0, y + i, sizeof y0);
		memcpy(&y1, y + i + 4, sizeof y1);
		a0 += x0 * y0;
		a1 += x1 * y1;
	}
	a0 += a1;
	float s = (a0[0] + a0[1]) + (a0[2] + a0[3]);
	for (; i < n; i++)
		s += x[i] * y[i];
	return s;
}

/* Best NCC of b's templates in a's windows, window statistics from
 * summed-area tables, products in float. */
static double best_in(const double *a, const double *b)
{
	double sum[N + 1][N + 1] = { { 0 } }, sq[N + 1][N + 1] = { { 0 } };
	double t[N * N];
	float af[N * N], tf[N * N];
	double best = -1;
	for (int y = 0; y < N; y++)
		for (int x = 0; x < N; x++) {
			double v = a[y * N + x];
			af[y * N + x] = (float)v;
			sum[y + 1][x + 1] = v + sum[y][x + 1] + sum[y + 1][x] -
			                    sum[y][x];
			sq[y + 1][x + 1] = v * v + sq[y][x + 1] + sq[y + 1][x] -
			                   sq[y][x];
		}
	for (int s = CROP_MIN_SIDE; s <= N; s++) {
		double tn = template_of(t, b, s);
		if (tn == 0)
			continue;
		for (int i = 0; i < s * s; i++)
			tf[i] = (float)t[i];
		for (int y = 0; y + s <= N; y++)
			for (int x = 0; x + s <= N; x++) {
				double ws = sum[y + s][x + s] - sum[y][x + s] -
				            sum[y + s][x] + sum[y][x];
				double wq = sq[y + s][x + s] - sq[y][x + s] -
				            sq[y + s][x] + sq[y][x];
				double var = wq - ws * ws / (s * s);
				if (var < VAR_MIN * s * s)
					continue;
				/* the template's mean is 0, so the window's
				 * mean drops out of the product */
				float dot = 0;
				for (int r = 0; r < s; r++)
					dot += dot_f(af + (y + r) * N + x,
					             tf + r * s, s);
				double ncc = dot / (sqrt(var) * tn);
				if (ncc > best)
					best = ncc;
			}
	}
	return best;
}

/* The NCC of the s x s window w (rows stride apart) with the template
 * t (s x s, mean 0, norm tn), from scratch in double; -2 when the
 * window has no texture. */
static double window_ncc(const double *w, int stride, int s,
                         const double *t, double tn)
{
	double m = 0, q = 0, dot = 0;
	for (int r = 0; r < s; r++)
		for (int c = 0; c < s; c++)
			m += w[r * stride + c];
	m /= s * s;
	for (int r = 0; r < s; r++)
		for (int c = 0; c < s; c++) {
			double v = w[r * stride + c] - m;
			q += v * v;
			dot += v * t[r * s + c];
		}
	return q < VAR_MIN * s * s ? -2 : dot / (sqrt(q) * tn);
}

/* The same as best_in, every window from scratch in double. */
static double best_in_ref(const double *a, const double *b)
{
	double t[N * N], best = -1;
	for (int s = CROP_MIN_SIDE; s <= N; s++) {
		double tn = template_of(t, b, s);
		if (tn == 0)
			continue;
		for (int y = 0; y + s <= N; y++)
			for (int x = 0; x + s <= N; x++) {
				double ncc = window_ncc(a + y * N + x, N, s, t, tn);
				if (ncc > best)
					best = ncc;
			}
	}
	return best;
}

double crop_score(const unsigned char *a, const unsigned char *b)
{
	return both_ways(best_in, a, b);
}

double crop_score_ref(const unsigned char *a, const unsigned char *b)
{
	return both_ways(best_in_ref, a, b);
}

/* ------------------------------------------------------------------ */
/* The fine search (crop_score_fine).                                  */

#define FG 24            /* the grid both are compared on */
#define FINE_MIN_HALVES 45 /* the smallest window side, in half pixels:
                          * 22.5, 70% of 32 as CROP_MIN_SIDE */

/* The best NCC of b, shrunk to FG x FG, with a window of a of side f
 * (half a pixel apart, 22.5 to 32) at every offset half a pixel apart,
 * sampled bilinearly on the FG x FG grid.  For a fixed f and column
 * offset the columns are sampled once for all 32 rows, then each row
 * offset only mixes two rows of that. */
static double fine_in(const double *a, const double *b)
{
	double t[N * N], best = -1;
	double tn = template_of(t, b, FG);
	if (tn == 0)
		return -1;
	for (int f2 = FINE_MIN_HALVES; f2 <= 2 * N; f2++) {
		double f = f2 / 2.0, step = f / FG;
		for (int x2 = 0; x2 <= 2 * N - f2; x2++) {
			double cols[N][FG]; /* a's rows sampled at the columns */
			for (int j = 0; j < FG; j++) {
				double c = x2 / 2.0 + (j + 0.5) * step - 0.5;
				int c0 = (int)floor(c);
				c0 = c0 < 0 ? 0 : c0 > N - 2 ? N - 2 : c0;
				double fc = c - c0;
				fc = fc < 0 ? 0 : fc > 1 ? 1 : fc;
				for (int r = 0; r < N; r++)
					cols[r][j] = a[r * N + c0] * (1 - fc) +
					             a[r * N + c0 + 1] * fc;
			}
			for (int y2 = 0; y2 <= 2 * N - f2; y2++) {
				double w[FG * FG];
				for (int i = 0; i < FG; i++) {
					double r = y2 / 2.0 + (i + 0.5) * step - 0.5;
					int r0 = (int)floor(r);
					r0 = r0 < 0 ? 0 : r0 > N - 2 ? N - 2 : r0;
					double fr = r - r0;
					fr = fr < 0 ? 0 : fr > 1 ? 1 : fr;
					for (int j = 0; j < FG; j++)
						w[i * FG + j] =
							cols[r0][j] * (1 - fr) +
							cols[r0 + 1][j] * fr;
				}
				double ncc = window_ncc(w, FG, FG, t, tn);
				if (ncc > best)
					best = ncc;
			}
		}
	}
	return best;
}

double crop_score_fine(const unsigned char *a, const unsigned char *b)
{
	return both_ways(fine_in, a, b);
}

int crop_is_crop(const unsigned char *a, const unsigned char *b)
{
	double s = crop_score(a, b);
	return s >= CROP_MIN_SCORE ||
	       (s >= CROP_FINE_FROM && crop_score_fine(a, b) >= CROP_FINE_MIN);
}

/* ------------------------------------------------------------------ */
/* The look check (crop_look_score).                                   */

double crop_look_score(const unsigned char *a, const unsigned char *b)
{
	unsigned char m[N * N];
	for (int r = 0; r < N; r++)
		for (int c = 0; c < N; c++)
			m[r * N + c] = b[r * N + N - 1 - c];
	double s = crop_score(a, b), t = crop_score(a, m);
	return s > t ? s : t;
}

int crop_looks_alike(const unsigned char *a, const unsigned char *b)
{
	double s = crop_look_score(a, b);
	return s == -1 || s >= CROP_LOOK_MIN;
}

/* ------------------------------------------------------------------ */
/* siam_crop_check and siam_look_check: many verdicts on the pool.     */

typedef struct verdict_job {
	int (*is)(const unsigned char *, const unsigned char *);
	const unsigned char *const *a, *const *b;
	unsigned char *out;
} verdict_job;

static void verdict_one(void *arg, size_t k, int t)
{
	(void)t;
	const verdict_job *j = arg;
	j->out[k] = (unsigned char)j->is(j->a[k], j->b[k]);
}

static void verdicts(int (*is)(const unsigned char *, const unsigned char *),
                     const unsigned char *const *a,
                     const unsigned char *const *b, size_t n,
                     unsigned char *out)
{
	verdict_job j = { is, a, b, out };
	int T = nn_threads();
	thr_pool *pool = T > 1 && n > 1 ? thr_pool_new(T) : NULL;
	thr_pool_for(pool, n, verdict_one, &j); /* NULL: here alone */
	thr_pool_free(pool);
}

void siam_crop_check(const unsigned char *const *a,
                     const unsigned char *const *b, size_t n,
                     unsigned char *crop)
{
	verdicts(crop_is_crop, a, b, n, crop);
}

void siam_look_check(const unsigned char *const *a,
                     const unsigned char *const *b, size_t n,
                     unsigned char *alike)
{
	verdicts(crop_looks_alike, a, b, n, alike);
}
