/*
 * test_dedup.c -- siam dedup's linkage and keeper rule (dedup_group.c):
 * a chain A-B-C with A-C over the threshold never makes one group, the
 * result does not depend on the order of the files, each --keep rule
 * picks its keeper, references stay keepers, --min-group drops; and
 * the phash pairs (dedup_phash.c): the multi-index returns exactly the
 * brute force's pairs, on random hashes, planted near pairs (every bit
 * count up to past the limit, flips bunched in one band, spread evenly
 * across the bands, on band edges) and crowded buckets; and the contact
 * sheet (dedup_sheet.c): its size from the layout, the keeper's frame in
 * the marking colour, thumbnails fitted and centred, an unreadable file
 * drawn crossed, the caps on columns and rows, the PNG read back, and a
 * path that cannot be written named in the error; and the crop check
 * (src/crop.c): an off-centre and a centre crop of a textured picture
 * score above CROP_MIN_SCORE, another picture, a mirror and a
 * flat picture do not, the score is symmetric and the fast score is the
 * reference's; the fine search finds a crop off the pixel grid and not
 * the others; siam_crop_check gives the verdicts at any thread count;
 * and a crop pair is labelled crop with its cnn distance.
 */
#include "crop.h"
#include "cli/dedup_group.h"
#include "cli/dedup_pairs.h"
#include "cli/dedup_sheet.h"

#include "siam_nn.h"
#include "tap.h"

#include <siam.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb_image_write.h>

static void img(dd_image *im, const char *path, int w, int h, int64_t size,
                int64_t mtime, const char *hash)
{
	memset(im, 0, sizeof *im);
	im->path = path;
	im->width = w;
	im->height = h;
	im->size = size;
	im->mtime_ns = mtime;
	snprintf(im->hash, sizeof im->hash, "%s", hash);
}

/* The groups as text, "keeper<member,member|keeper<member", members in
 * input order: comparable across permutations once sorted by path. */
static void groups_text(char *out, size_t len, const dd_image *im, int n,
                        int ngroups)
{
	out[0] = 0;
	for (int g = 0; g < ngroups; g++) {
		for (int i = 0; i < n; i++)
			if (im[i].group == g && im[i].keeper)
				snprintf(out + strlen(out), len - strlen(out),
				         "%s%s<", g ? "|" : "", im[i].path);
		/* members by path */
		const char *last = "";
		for (;;) {
			const char *best = NULL;
			for (int i = 0; i < n; i++)
				if (im[i].group == g && !im[i].keeper &&
				    strcmp(im[i].path, last) > 0 &&
				    (!best || strcmp(im[i].path, best) < 0))
					best = im[i].path;
			if (!best)
				break;
			snprintf(out + strlen(out), len - strlen(out), "%s%s",
			         *last ? "," : "", best);
			last = best;
		}
	}
}

static int same_edges(const dd_edge *p, size_t np, const dd_edge *q,
                      size_t nq)
{
	if (np != nq)
		return 0;
	for (size_t i = 0; i < np; i++)
		if (p[i].a != q[i].a || p[i].b != q[i].b ||
		    p[i].methods != q[i].methods || p[i].bits != q[i].bits)
			return 0;
	return 1;
}

/* The multi-index, the chooser and the brute force on the same hashes,
 * at each limit; returns the pairs the brute force found at the last
 * limit, or -1 (and a failed check). */
static long phash_agree(const char *what, const dd_image *im, int n)
{
	static const int limits[] = {0, 1, 3, 4, 7, 10, 14, 15, 16, 19, 24};
	long last = -1;
	int all = 1;
	char detail[512] = "";
	for (size_t l = 0; l < sizeof limits / sizeof *limits; l++) {
		int d = limits[l];
		dd_edge *a = NULL, *b = NULL, *c = NULL;
		size_t na = 0, nb = 0, nc = 0, ca = 0, cb = 0, cc = 0;
		int ra = dd_phash_pairs_mih(im, n, d, &a, &na, &ca);
		int rb = dd_phash_pairs_ref(im, n, d, &b, &nb, &cb);
		int rc = dd_phash_pairs(im, n, d, &c, &nc, &cc);
		int ok = !ra && !rb && !rc && same_edges(a, na, b, nb) &&
		         same_edges(c, nc, b, nb);
		for (size_t i = 0; ok && i < nb; i++)
			ok = b[i].a < b[i].b && b[i].bits <= d &&
			     b[i].bits == siam_hamming64(im[b[i].a].phash,
			                                 im[b[i].b].phash);
		snprintf(detail + strlen(detail), sizeof detail -
		         strlen(detail), " %d:%zu", d, nb);
		if (!ok)
			tap_diag("%s, d=%d: index %zu pairs, chooser %zu, brute "
			         "force %zu", what, d, na, nc, nb);
		all &= ok;
		last = (long)nb;
		free(a);
		free(b);
		free(c);
	}
	tap_ok(all, "phash pairs, %s (n=%d): multi-index = brute force at "
	       "every limit (bits:pairs%s)", what, n, detail);
	return all ? last : -1;
}

/* h with exactly k distinct bits flipped, chosen by style: 0 anywhere,
 * 1 all in one band (as far as they fit), 2 spread evenly over the four
 * bands, 3 on the bands' edges first (bits 0, 15, 16, 31, ...). */
static uint64_t flip_bits(uint64_t h, int k, int style, siam_rng *rng)
{
	static const int edges[] = {0, 15, 16, 31, 32, 47, 48, 63};
	uint64_t done = 0;
	int band0 = (int)siam_rng_below(rng, 4);
	for (int f = 0; f < k; f++) {
		int bit;
		do {
			if (style == 1)
				bit = (band0 * 16 + (int)siam_rng_below(rng, 16) +
				       (f >= 16 ? 16 : 0)) % 64;
			else if (style == 2)
				bit = (f % 4) * 16 + (int)siam_rng_below(rng, 16);
			else if (style == 3 && f < 8)
				bit = edges[f];
			else
				bit = (int)siam_rng_below(rng, 64);
		} while (done >> bit & 1);
		done |= 1ULL << bit;
	}
	return h ^ done;
}

/* A textured "photograph" of side PIC: a sum of random blobs, grey
 * values 0..255 as doubles, by seed. */
#define PIC 256
static void picture(double *p, unsigned seed)
{
	siam_rng r;
	siam_rng_seed(&r, seed);
	for (int i = 0; i < PIC * PIC; i++)
		p[i] = 60;
	for (int k = 0; k < 40; k++) {
		double cx = siam_rng_uniform(&r) * PIC;
		double cy = siam_rng_uniform(&r) * PIC;
		double rad = 6 + siam_rng_uniform(&r) * 40;
		double v = siam_rng_uniform(&r) * 120;
		for (int y = 0; y < PIC; y++)
			for (int x = 0; x < PIC; x++) {
				double d2 = ((x - cx) * (x - cx) +
				             (y - cy) * (y - cy)) / (rad * rad);
				if (d2 < 1)
					p[y * PIC + x] += v * (1 - d2);
			}
	}
}

/* The side x side window of p at (x0, y0), area-averaged to 32x32 and
 * rounded, as the index keeps images.gray32 (side a multiple of 32). */
static void gray_of(unsigned char *g, const double *p, int x0, int y0,
                    int side)
{
	int f = side / DD_GRAY_N;
	for (int y = 0; y < DD_GRAY_N; y++)
		for (int x = 0; x < DD_GRAY_N; x++) {
			double s = 0;
			for (int v = 0; v < f; v++)
				for (int u = 0; u < f; u++)
					s += p[(y0 + y * f + v) * PIC + x0 +
					       x * f + u];
			s /= f * f;
			g[y * DD_GRAY_N + x] =
				(unsigned char)(s > 255 ? 255 : s + 0.5);
		}
}

/* The window of side `side` at (x0, y0) of p, area-averaged to 32x32
 * (fractional pixels weighted by how much of them a cell covers) and
 * rounded, as the index's resize makes images.gray32. */
static void area_gray(unsigned char *g, const double *p, double x0,
                      double y0, double side)
{
	double cell = side / DD_GRAY_N;
	for (int y = 0; y < DD_GRAY_N; y++)
		for (int x = 0; x < DD_GRAY_N; x++) {
			double ya = y0 + y * cell, yb = ya + cell;
			double xa = x0 + x * cell, xb = xa + cell, s = 0;
			for (int v = (int)ya; v < yb && v < PIC; v++)
				for (int u = (int)xa; u < xb && u < PIC; u++) {
					double wy = (v + 1 < yb ? v + 1 : yb) -
					            (v > ya ? v : ya);
					double wx = (u + 1 < xb ? u + 1 : xb) -
					            (u > xa ? u : xa);
					s += wx * wy * p[v * PIC + u];
				}
			s /= cell * cell;
			g[y * DD_GRAY_N + x] =
				(unsigned char)(s > 255 ? 255 : s + 0.5);
		}
}

/* The verdicts check(pa, pb) gives five pairs on the pool are want[],
 * the same at 1 and 3 threads. */
static void verdicts_1_3(void (*check)(const unsigned char *const *,
                                       const unsigned char *const *,
                                       size_t, unsigned char *),
                         const unsigned char **pa, const unsigned char **pb,
                         const char *want, const char *what)
{
	unsigned char v1[5], v3[5];
	siam_set_threads(1);
	check(pa, pb, 5, v1);
	siam_set_threads(3);
	check(pa, pb, 5, v3);
	tap_ok(!memcmp(v1, want, 5) && !memcmp(v1, v3, 5),
	       "%s, at 1 and 3 threads (%d%d%d%d%d)", what, v1[0], v1[1],
	       v1[2], v1[3], v1[4]);
}

/* The grey pictures the crop and look tests compare: a picture p, an
 * off-centre and a centre crop of it, another picture, p's mirror and
 * a flat one.  Made once (p is kept for crops off the pixel grid and
 * turned copies). */
static struct {
	double p[PIC * PIC], q[PIC * PIC];
	unsigned char a[1024], off[1024], centre[1024], other[1024],
	              mirror[1024], flat[1024];
} fx;

static void make_fixture(void)
{
	picture(fx.p, 7);
	picture(fx.q, 8);
	gray_of(fx.a, fx.p, 0, 0, PIC);
	gray_of(fx.off, fx.p, 40, 24, 192);    /* 75% a side, off centre */
	gray_of(fx.centre, fx.p, 16, 16, 224); /* 87.5% a side, centred */
	gray_of(fx.other, fx.q, 0, 0, PIC);
	for (int y = 0; y < 32; y++)
		for (int x = 0; x < 32; x++)
			fx.mirror[y * 32 + x] = fx.a[y * 32 + 31 - x];
	memset(fx.flat, 128, sizeof fx.flat);
}

static void test_crop(void)
{
	const double *p = fx.p;
	const unsigned char *a = fx.a, *off = fx.off, *centre = fx.centre,
	                    *other = fx.other, *mirror = fx.mirror,
	                    *flat = fx.flat;

	double s_off = crop_score(a, off), s_centre = crop_score(a, centre);
	double s_other = crop_score(a, other);
	double s_mirror = crop_score(a, mirror);
	tap_ok(s_off >= CROP_MIN_SCORE, "crop: an off-centre crop (75%% a "
	       "side) scores %.4f >= %.2f", s_off, CROP_MIN_SCORE);
	tap_ok(s_centre >= CROP_MIN_SCORE, "crop: a centre crop (87.5%%) "
	       "scores %.4f", s_centre);
	tap_ok(s_other < CROP_MIN_SCORE, "crop: another picture scores "
	       "%.4f < %.2f", s_other, CROP_MIN_SCORE);
	tap_ok(s_mirror < CROP_MIN_SCORE, "crop: the mirror image is no "
	       "crop (%.4f)", s_mirror);
	tap_ok(crop_score(a, a) > 0.9999, "crop: a picture with itself "
	       "scores 1 (%.6f)", crop_score(a, a));
	tap_ok(crop_score(a, flat) == -1 && crop_score(flat, flat) == -1,
	       "crop: a flat picture is never scored (-1)");
	tap_ok(crop_score(off, a) == s_off,
	       "crop: the score is symmetric");
	/* the fast score against the reference, on these and on noise */
	double worst = 0;
	const unsigned char *set[] = { a, off, centre, other, mirror };
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 5; j++) {
			double d = crop_score(set[i], set[j]) -
			           crop_score_ref(set[i], set[j]);
			worst = d < 0 ? -d > worst ? -d : worst
			              : d > worst ? d : worst;
		}
	siam_rng r;
	siam_rng_seed(&r, 3);
	for (int t = 0; t < 4; t++) {
		unsigned char x[1024], y[1024];
		for (int i = 0; i < 1024; i++) {
			x[i] = (unsigned char)(siam_rng_uniform(&r) * 256);
			y[i] = (unsigned char)(i % 32 * 8 ^ (unsigned)x[i] / 4);
		}
		double d = crop_score(x, y) - crop_score_ref(x, y);
		worst = d < 0 ? -d > worst ? -d : worst : d > worst ? d : worst;
	}
	tap_ok(worst < 1e-5, "crop: the fast score is the reference's "
	       "(largest difference %.2g)", worst);

	/* the fine search: a crop at a side and place off the whole-pixel
	 * grid (77.3% a side at (41.7, 13.1) of the picture, area-averaged
	 * as the index does) scores at least CROP_FINE_MIN; another
	 * picture and the mirror do not; symmetric; itself 1 */
	unsigned char frac[1024];
	area_gray(frac, p, 41.7, 13.1, 0.773 * PIC);
	double f_frac = crop_score_fine(a, frac);
	tap_ok(f_frac >= CROP_FINE_MIN, "crop, fine: a crop off the grid "
	       "scores %.4f >= %.2f (the whole-pixel search: %.4f)", f_frac,
	       CROP_FINE_MIN, crop_score(a, frac));
	double f_other = crop_score_fine(a, other);
	double f_mirror = crop_score_fine(a, mirror);
	tap_ok(f_other < CROP_FINE_MIN && f_mirror < CROP_FINE_MIN,
	       "crop, fine: another picture (%.4f) and the mirror (%.4f) "
	       "score under %.2f", f_other, f_mirror, CROP_FINE_MIN);
	/* with itself: not exactly 1, the window is sampled and the other
	 * shrunk by a filter */
	double f_self = crop_score_fine(a, a);
	tap_ok(crop_score_fine(frac, a) == f_frac &&
	       f_self >= CROP_FINE_MIN && crop_score_fine(a, flat) == -1,
	       "crop, fine: symmetric, itself %.4f, -1 with a flat picture",
	       f_self);

	/* siam_crop_check, the verdicts on the pool: crops 1, the others 0,
	 * the same at 1 and 3 threads */
	{
		const unsigned char *pa[5] = { a, off, frac, a, a };
		const unsigned char *pb[5] = { centre, a, a, other, mirror };
		verdicts_1_3(siam_crop_check, pa, pb, "\1\1\1\0\0",
		             "siam_crop_check: the three crops 1, another "
		             "picture and the mirror 0");
	}

	/* a crop pair is labelled crop and shows its cnn distance */
	dd_image im[2];
	img(&im[0], "a.jpg", 64, 64, 9, 0, "x");
	img(&im[1], "a-crop.jpg", 48, 48, 5, 0, "y");
	dd_edge e[1] = {{0, 1, DD_CROP, 0.71, 0}};
	tap_int(dd_group(im, 2, e, 1, DD_KEEP_LARGEST, 2), 1,
	        "crop: a crop pair is a group");
	tap_ok(im[1].method == DD_CROP && im[1].distance == 0.71 &&
	       !strcmp(dd_method_name(im[1].method), "crop"),
	       "crop: its member says crop and its cnn distance (%s %g)",
	       dd_method_name(im[1].method), im[1].distance);
}

/* p turned by deg degrees about its centre (black where nothing was),
 * area-averaged to 32x32 from 8x8 samples a cell, as a rotated copy
 * with black corners is indexed. */
static void rotated_gray(unsigned char *g, const double *p, double deg)
{
	double c = cos(deg * M_PI / 180), s = sin(deg * M_PI / 180);
	double h = PIC / 2.0, f = (double)PIC / DD_GRAY_N;
	for (int y = 0; y < DD_GRAY_N; y++)
		for (int x = 0; x < DD_GRAY_N; x++) {
			double sum = 0;
			for (int v = 0; v < 8; v++)
				for (int u = 0; u < 8; u++) {
					double px = (x + (u + 0.5) / 8) * f - h;
					double py = (y + (v + 0.5) / 8) * f - h;
					int sx = (int)floor(c * px + s * py + h);
					int sy = (int)floor(-s * px + c * py + h);
					if (sx >= 0 && sx < PIC && sy >= 0 &&
					    sy < PIC)
						sum += p[sy * PIC + sx];
				}
			g[y * DD_GRAY_N + x] = (unsigned char)(sum / 64 + 0.5);
		}
}

/* The look check (crop_look_score, siam_look_check, dd_look_pairs):
 * copies look alike, mirrors included; another picture does not; a
 * picture without texture is not judged; the model's pairs within
 * DD_LOOK_FREE of the threshold, pairs without pictures and other
 * methods' pairs are left alone. */
static void test_look(void)
{
	const unsigned char *a = fx.a, *off = fx.off, *other = fx.other,
	                    *mirror = fx.mirror, *flat = fx.flat;
	unsigned char rot[1024];
	rotated_gray(rot, fx.p, 4);

	double s_mirror = crop_look_score(a, mirror);
	tap_ok(s_mirror > 0.9999 && crop_score(a, mirror) < CROP_LOOK_MIN,
	       "look: the mirror image looks alike (%.6f; not as a crop: "
	       "%.4f)", s_mirror, crop_score(a, mirror));
	double s_rot = crop_look_score(a, rot), s_off = crop_look_score(a, off);
	tap_ok(s_rot >= CROP_LOOK_MIN && s_off >= CROP_LOOK_MIN,
	       "look: a copy turned 4 degrees with black corners (%.4f) and "
	       "an off-centre crop (%.4f) look alike (>= %.2f)", s_rot, s_off,
	       CROP_LOOK_MIN);
	double s_other = crop_look_score(a, other);
	tap_ok(s_other < CROP_LOOK_MIN && !crop_looks_alike(a, other),
	       "look: another picture does not (%.4f)", s_other);
	tap_ok(crop_look_score(a, flat) == -1 && crop_looks_alike(a, flat) &&
	       crop_looks_alike(flat, flat),
	       "look: a picture without texture is not judged (alike)");
	tap_ok(crop_look_score(mirror, a) == s_mirror &&
	       crop_look_score(other, a) == s_other,
	       "look: the score is symmetric");
	{
		const unsigned char *pa[5] = { a, a, rot, a, off };
		const unsigned char *pb[5] = { mirror, other, a, flat, a };
		verdicts_1_3(siam_look_check, pa, pb, "\1\0\1\1\1",
		             "siam_look_check: another picture 0, the rest 1");
	}

	/* dd_look_pairs at threshold 0.4: only cnn pairs farther than
	 * 0.2 between images with pictures are looked at */
	dd_image im[4];
	img(&im[0], "a.jpg", 64, 64, 9, 0, "a");
	img(&im[1], "other.jpg", 64, 64, 9, 0, "b");
	img(&im[2], "mirror.jpg", 64, 64, 9, 0, "c");
	img(&im[3], "old.jpg", 64, 64, 9, 0, "d");
	const unsigned char *g[3] = { a, other, mirror };
	for (int i = 0; i < 3; i++) {
		im[i].has_gray = 1;
		memcpy(im[i].gray32, g[i], 1024);
	}
	dd_edge e[6] = {
		{ 0, 1, DD_CNN, 0.35, 0 },   /* unlike: out */
		{ 1, 2, DD_CNN, 0.19, 0 },   /* unlike, within 0.2: kept */
		{ 0, 2, DD_CNN, 0.39, 0 },   /* alike: kept */
		{ 1, 3, DD_CNN, 0.39, 0 },   /* no picture: kept */
		{ 0, 1, DD_PHASH, 0, 5 },    /* another method: kept */
		{ 1, 2, DD_CNN, 0.21, 0 },   /* unlike: out */
	};
	size_t ne = 6, looked = 9, unlike = 9;
	tap_int(dd_look_pairs(im, 0.4, e, &ne, &looked, &unlike), 0,
	        "dd_look_pairs: 0");
	tap_ok(ne == 4 && looked == 3 && unlike == 2 &&
	       e[0].cnn == 0.19 && e[1].cnn == 0.39 && e[1].b == 2 &&
	       e[2].b == 3 && e[3].methods == DD_PHASH,
	       "dd_look_pairs: the two unlike pairs beyond half the threshold "
	       "are out, the rest in order (%zu left, %zu looked at, %zu "
	       "unlike)", ne, looked, unlike);
	ne = 0;
	tap_ok(!dd_look_pairs(im, 0.4, e, &ne, &looked, &unlike) && ne == 0 &&
	       looked == 0 && unlike == 0, "dd_look_pairs: no edges");
}

static void test_phash(void)
{
	siam_rng rng;
	siam_rng_seed(&rng, 20261202);
	int n = 3000;
	dd_image *im = calloc((size_t)n, sizeof *im);
	/* random hashes; every 37th has none */
	for (int i = 0; i < n; i++) {
		im[i].has_phash = i % 37 != 5;
		im[i].phash = siam_rng_u64(&rng);
	}
	phash_agree("random hashes", im, n);
	/* planted: 500 originals, each followed by copies k bits away, k
	 * from 0 to 26, in the four flip styles */
	for (int i = 0; i < n; i++) {
		im[i].has_phash = i % 41 != 7;
		if (i % 6 == 0)
			im[i].phash = siam_rng_u64(&rng);
		else
			im[i].phash = flip_bits(im[i - i % 6].phash,
			                        (int)siam_rng_below(&rng, 27),
			                        (int)siam_rng_below(&rng, 4),
			                        &rng);
	}
	long planted = phash_agree("planted near copies", im, n);
	tap_ok(planted > 1000, "planted: near pairs found (%ld within 24 "
	       "bits)", planted);
	/* crowded buckets: one band the same for all, another from four
	 * values, near copies among them */
	for (int i = 0; i < n; i++) {
		uint64_t h = siam_rng_u64(&rng) & 0xffffffff0000ffffULL;
		h |= (uint64_t)siam_rng_below(&rng, 4) << 16;
		im[i].phash = i % 3 ? flip_bits(im[i - 1].phash,
		                                (int)siam_rng_below(&rng, 17),
		                                2, &rng) : h;
		im[i].has_phash = 1;
	}
	phash_agree("crowded buckets", im, n);
	/* the pigeonhole edge: 15 bits as 4 + 4 + 4 + 3 across the bands
	 * (r = 3 leaves one band in reach), 16 as 4 x 4 */
	im[0].phash = 0x0123456789abcdefULL;
	im[1].phash = im[0].phash ^ 0x000f000f000f0007ULL;
	im[2].phash = im[0].phash ^ 0x000f000f000f000fULL;
	for (int i = 0; i < 3; i++)
		im[i].has_phash = 1;
	dd_edge *e = NULL;
	size_t ne = 0, cap = 0;
	dd_phash_pairs_mih(im, 3, 15, &e, &ne, &cap);
	tap_ok(ne == 2 && e[0].a == 0 && e[0].b == 1 && e[0].bits == 15 &&
	       e[1].a == 1 && e[1].b == 2 && e[1].bits == 1,
	       "15 bits spread 4+4+4+3: found at limit 15; 16 bits (4x4) "
	       "is not");
	free(e);
	free(im);
}

/* A w x h PNG of one colour at path. */
static void solid_png(const char *path, int w, int h, unsigned char r,
                      unsigned char g, unsigned char b)
{
	unsigned char *px = malloc((size_t)w * h * 3);
	for (int i = 0; i < w * h; i++) {
		px[3 * i] = r;
		px[3 * i + 1] = g;
		px[3 * i + 2] = b;
	}
	stbi_write_png(path, w, h, 3, px, w * 3);
	free(px);
}

static int rgb_at(const unsigned char *px, int w, int x, int y,
                  const unsigned char *want)
{
	return !memcmp(px + ((size_t)y * w + x) * 3, want, 3);
}

static void test_sheet(void)
{
	static const unsigned char keep[3] = { DD_SHEET_KEEP_RGB };
	static const unsigned char member[3] = { DD_SHEET_MEMBER_RGB };
	static const unsigned char red[3] = { 200, 10, 10 };
	static const unsigned char blue[3] = { 10, 10, 200 };
	enum { CELL = DD_SHEET_THUMB + 2 * DD_SHEET_FRAME,
	       PITCH = CELL + DD_SHEET_GAP,
	       ROW = DD_SHEET_TITLE + CELL + DD_SHEET_TEXT + DD_SHEET_GAP };
	char dir[] = "/tmp/siam-sheet-XXXXXX", a[64], b[64], c[64], out[64];
	if (!mkdtemp(dir)) {
		tap_ok(0, "a temporary folder for the sheet");
		return;
	}
	snprintf(a, sizeof a, "%s/wide-red.png", dir);
	snprintf(b, sizeof b, "%s/tall-blue.png", dir);
	snprintf(c, sizeof c, "%s/gone.png", dir);
	snprintf(out, sizeof out, "%s/sheet.png", dir);
	solid_png(a, 40, 20, red[0], red[1], red[2]);
	solid_png(b, 20, 40, blue[0], blue[1], blue[2]);

	/* group 1: red keeps, blue (cnn) and a vanished file (phash);
	 * group 2: blue keeps, red identical */
	dd_image im[5];
	memset(im, 0, sizeof im);
	const char *paths[5] = { a, b, c, b, a };
	const int group[5] = { 0, 0, 0, 1, 1 };
	for (int i = 0; i < 5; i++) {
		im[i].path = paths[i];
		im[i].group = group[i];
		im[i].keeper = i == 0 || i == 3;
	}
	im[1].method = DD_CNN;
	im[1].distance = 0.25;
	im[2].method = DD_PHASH;
	im[2].distance = 3;
	im[4].method = DD_IDENTICAL;
	int ord[5];
	int m = dd_order(im, 5, ord);
	tap_ok(m == 5 && ord[0] == 0 && im[ord[3]].keeper,
	       "dd_order: by group, the keeper first");
	dd_sheet s;
	char msg[256] = "";
	int rc = dd_sheet_render(&s, im, ord, m, msg, sizeof msg);
	int w = DD_SHEET_GAP + 3 * PITCH, h = DD_SHEET_GAP + 2 * ROW;
	tap_ok(rc == 0 && s.w == w && s.h == h && s.rows == 2 &&
	       s.left_out == 0, "two groups, three files at most: %d x %d "
	       "pixels (got %d x %d)", w, h, s.w, s.h);
	int fy = DD_SHEET_GAP + DD_SHEET_TITLE; /* the first row's frames */
	/* cells: the keeper, then the members by path: gone, tall-blue */
	int x0 = DD_SHEET_GAP, x1 = x0 + PITCH, x2 = x1 + PITCH;
	int mid = DD_SHEET_FRAME + DD_SHEET_THUMB / 2;
	tap_ok(rc == 0 && rgb_at(s.px, s.w, x0, fy, keep) &&
	       rgb_at(s.px, s.w, x0 + CELL - 1, fy + CELL - 1, keep) &&
	       rgb_at(s.px, s.w, x0 + 2, fy + mid, keep) &&
	       rgb_at(s.px, s.w, x0, fy + ROW + 1, keep),
	       "the keepers' frames are the marking colour");
	tap_ok(rc == 0 && rgb_at(s.px, s.w, x1, fy, member) &&
	       rgb_at(s.px, s.w, x2 + CELL - 1, fy + CELL - 1, member),
	       "the members' frames are grey");
	/* red 40x20 fits as 128x64, centred: red at the centre, the box's
	 * background above it; blue 20x40 as 64x128 */
	tap_ok(rc == 0 && rgb_at(s.px, s.w, x0 + mid, fy + mid, red) &&
	       !rgb_at(s.px, s.w, x0 + mid, fy + DD_SHEET_FRAME + 10, red) &&
	       rgb_at(s.px, s.w, x2 + mid, fy + DD_SHEET_FRAME + 10, blue) &&
	       !rgb_at(s.px, s.w, x2 + DD_SHEET_FRAME + 10, fy + mid, blue),
	       "thumbnails fitted and centred, aspect kept");
	tap_int(s.unreadable, 1, "the vanished file is drawn crossed, "
	        "counted, not an error");
	int dark = 0; /* caption ink under the first cell */
	for (int y = fy + CELL; y < fy + CELL + DD_SHEET_TEXT; y++)
		for (int x = x0; x < x0 + CELL; x++)
			dark += s.px[((size_t)y * s.w + x) * 3] == 0;
	tap_ok(dark > 20, "captions are written under the cells (%d dark "
	       "pixels)", dark);

	/* the file, read back */
	tap_int(dd_sheet_write(&s, out, msg, sizeof msg), 0, "written");
	siam_image back = { 0 };
	siam_error err = { 0, "" };
	rc = siam_image_load(&back, out, NULL, &err);
	tap_ok(rc == 0 && back.w == w && back.h == h && back.c == 3 &&
	       rgb_at(back.px, back.w, x0, fy, keep) &&
	       rgb_at(back.px, back.w, x0 + mid, fy + mid, red),
	       "the PNG reads back: size and keeper frame (%s)", err.msg);
	siam_image_release(&back);
	char bad[128];
	snprintf(bad, sizeof bad, "%s/no-such-folder/sheet.png", dir);
	rc = dd_sheet_write(&s, bad, msg, sizeof msg);
	tap_ok(rc == -1 && strstr(msg, bad) &&
	       strstr(msg, "No such file or directory"),
	       "a path that cannot be written: an error naming it (%s)", msg);
	dd_sheet_free(&s);
	dd_sheet_free(&s); /* twice: a no-op */

	/* caps: a group of 11 shows 7 and "+4 more" in 8 columns; 103
	 * groups draw 100 */
	dd_image *many = calloc(2 * 103 + 11, sizeof *many);
	int *o = malloc((2 * 103 + 11) * sizeof *o);
	for (int i = 0; i < 11; i++) {
		many[i].path = a;
		many[i].group = 0;
		many[i].keeper = i == 0;
		many[i].method = DD_IDENTICAL;
	}
	m = dd_order(many, 11, o);
	rc = dd_sheet_render(&s, many, o, m, msg, sizeof msg);
	tap_ok(rc == 0 && s.w == DD_SHEET_GAP + DD_SHEET_COLS * PITCH &&
	       s.rows == 1, "a group of 11: %d columns", DD_SHEET_COLS);
	dd_sheet_free(&s);
	for (int i = 0; i < 2 * 103; i++) {
		many[i].path = b;
		many[i].group = i / 2;
		many[i].keeper = i % 2 == 0;
		many[i].method = DD_IDENTICAL;
	}
	m = dd_order(many, 2 * 103, o);
	rc = dd_sheet_render(&s, many, o, m, msg, sizeof msg);
	tap_ok(rc == 0 && s.rows == DD_SHEET_GROUPS && s.left_out == 3 &&
	       s.h == DD_SHEET_GAP + DD_SHEET_GROUPS * ROW,
	       "103 groups: %d drawn, 3 counted as left out",
	       DD_SHEET_GROUPS);
	dd_sheet_free(&s);
	m = dd_order(many, 0, o);
	rc = dd_sheet_render(&s, many, o, m, msg, sizeof msg);
	tap_ok(rc == 0 && s.rows == 0 &&
	       s.h == 2 * DD_SHEET_GAP + DD_SHEET_TITLE,
	       "no groups: a one-line sheet");
	dd_sheet_free(&s);
	free(many);
	free(o);
	unlink(a);
	unlink(b);
	unlink(out);
	rmdir(dir);
}

int main(void)
{
	char got[256];
	dd_image im[4];
	/* the chain: A-B 0.4, B-C 0.4, A-C over the threshold (no edge);
	 * B is the largest */
	const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
	                         {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	const char *names[3] = {"A", "B", "C"};
	const int sizes[3] = {10, 30, 20};
	for (int keepb = 0; keepb < 2; keepb++) {
		const char *want = keepb ? "B<A,C" : "C<B";
		int same = 1;
		for (int p = 0; p < 6; p++) {
			int pos[3];
			for (int i = 0; i < 3; i++) {
				int k = perms[p][i];
				pos[k] = i;
				/* keepb: B largest; else C largest, A next */
				int px = keepb ? sizes[k] :
				         (int[]){20, 10, 30}[k];
				img(&im[i], names[k], px, 1, 100, 0, names[k]);
			}
			dd_edge e[2] = {
				{pos[0], pos[1], DD_CNN, 0.4, 0},
				{pos[2], pos[1], DD_CNN, 0.4, 0},
			};
			int ng = dd_group(im, 3, e, 2, DD_KEEP_LARGEST, 2);
			groups_text(got, sizeof got, im, 3, ng);
			if (strcmp(got, want)) {
				same = 0;
				tap_diag("order %d%d%d: got %s", perms[p][0],
				         perms[p][1], perms[p][2], got);
			}
		}
		tap_ok(same, "chain A-B-C (A-C over the threshold), %s: %s in "
		       "all 6 file orders", keepb ? "B largest" :
		       "C largest", want);
	}
	/* keeper rules on one group of three, all linked */
	static const struct { int rule; const char *want; } rules[] = {
		{DD_KEEP_LARGEST, "big.png<a/old.png,newer.png"},
		{DD_KEEP_OLDEST, "a/old.png<big.png,newer.png"},
		{DD_KEEP_NEWEST, "newer.png<a/old.png,big.png"},
		{DD_KEEP_SHORTEST, "big.png<a/old.png,newer.png"},
	};
	for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
		img(&im[0], "a/old.png", 10, 10, 500, 1, "h1");
		img(&im[1], "newer.png", 10, 10, 900, 3, "h2");
		img(&im[2], "big.png", 20, 10, 100, 2, "h3");
		dd_edge e[3] = {{0, 1, DD_CNN, 0.1, 0}, {1, 2, DD_CNN, 0.2, 0},
		                {0, 2, DD_PHASH, 0, 4}};
		int ng = dd_group(im, 3, e, 3, rules[r].rule, 2);
		groups_text(got, sizeof got, im, 3, ng);
		if (!tap_ok(!strcmp(got, rules[r].want), "--keep rule %d: %s",
		            rules[r].rule, rules[r].want))
			tap_diag("got %s", got);
	}
	/* largest: same pixels, more bytes wins; methods and distances */
	img(&im[0], "x.jpg", 10, 10, 500, 0, "same");
	img(&im[1], "y.jpg", 10, 10, 900, 0, "other");
	img(&im[2], "z.jpg", 10, 10, 500, 0, "same");
	{
		dd_edge e[4] = {{0, 2, DD_IDENTICAL, 0, 0},
		                {0, 1, DD_CNN, 0.25, 0},
		                {1, 2, DD_CNN, 0.25, 0},
		                {2, 0, DD_CNN, 0, 0}};
		int ng = dd_group(im, 3, e, 4, DD_KEEP_LARGEST, 2);
		groups_text(got, sizeof got, im, 3, ng);
		tap_ok(!strcmp(got, "y.jpg<x.jpg,z.jpg"),
		       "same pixels: more bytes keeps (%s)", got);
		tap_ok(im[0].method == DD_CNN && im[0].distance == 0.25,
		       "a member's method and distance to the keeper");
		ng = dd_group(im, 3, e, 4, DD_KEEP_SHORTEST, 2);
		tap_ok(ng == 1 && im[0].keeper && im[2].method == DD_IDENTICAL &&
		       im[2].distance == 0,
		       "an identical copy of the keeper is labelled identical");
	}
	/* a reference is a keeper, even against a larger file, and never
	 * a member */
	img(&im[0], "ref/a.png", 1, 1, 1, 0, "r");
	im[0].reference = 1;
	img(&im[1], "big.png", 99, 99, 1, 0, "b");
	img(&im[2], "ref/b.png", 1, 1, 1, 0, "r2");
	im[2].reference = 1;
	{
		dd_edge e[3] = {{0, 1, DD_CNN, 0.1, 0}, {1, 2, DD_CNN, 0.1, 0},
		                {0, 2, DD_CNN, 0.1, 0}};
		int ng = dd_group(im, 3, e, 3, DD_KEEP_LARGEST, 2);
		groups_text(got, sizeof got, im, 3, ng);
		tap_ok(!strcmp(got, "ref/a.png<big.png"),
		       "references: keepers, never members (%s)", got);
	}
	/* --min-group 3 drops a pair */
	img(&im[0], "p", 1, 1, 1, 0, "1");
	img(&im[1], "q", 1, 1, 1, 0, "2");
	img(&im[2], "r", 1, 1, 1, 0, "3");
	{
		dd_edge e[1] = {{0, 1, DD_CNN, 0.1, 0}};
		tap_int(dd_group(im, 3, e, 1, DD_KEEP_LARGEST, 3), 0,
		        "--min-group 3: a pair is no group");
		tap_ok(im[0].group < 0 && im[1].group < 0,
		       "and its files are ungrouped");
	}
	test_phash();
	test_sheet();
	make_fixture();
	test_crop();
	test_look();
	return tap_done();
}
