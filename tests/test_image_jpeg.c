/*
 * test_image_jpeg.c -- JPEG through libjpeg-turbo: the DCT scale picked
 * for what the caller wants, how close a scaled decode embeds to a full
 * one (the bound README states), all eight EXIF orientations,
 * truncated and hostile files, and the coefficient budget and scan
 * limit of progressive JPEGs (their DC-only decoding at 1/8 has its own
 * test, test_image_jpeg_dc).
 *
 * Every JPEG is made here with libjpeg itself: "photos" are synthetic
 * scenes (gradients, discs, texture, noise: the mix of smooth areas and
 * edges a camera picture has), digits are the committed MNIST fixture
 * and examples/digits, enlarged; the EXIF segment is written by hand
 * (a few dozen bytes), in both byte orders.
 */
#include "tap.h"
#include "siam.h"
#include "siam_nn.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#include "photo.h"

/* Bilinear enlargement of a gray image by an integer-free factor. */
static unsigned char *enlarge(const unsigned char *s, int sw, int sh, int dw,
                              int dh)
{
	unsigned char *d = malloc((size_t)dw * dh);
	for (int y = 0; y < dh; y++)
		for (int x = 0; x < dw; x++) {
			double fx = (x + 0.5) * sw / dw - 0.5,
			       fy = (y + 0.5) * sh / dh - 0.5;
			int x0 = fx < 0 ? 0 : (int)fx, y0 = fy < 0 ? 0 : (int)fy;
			int x1 = x0 + 1 < sw ? x0 + 1 : x0,
			    y1 = y0 + 1 < sh ? y0 + 1 : y0;
			double ax = fx - x0, ay = fy - y0;
			if (ax < 0) ax = 0;
			if (ay < 0) ay = 0;
			double v = (1 - ay) * ((1 - ax) * s[y0 * sw + x0] +
			                       ax * s[y0 * sw + x1]) +
			           ay * ((1 - ax) * s[y1 * sw + x0] +
			                 ax * s[y1 * sw + x1]);
			d[(size_t)y * dw + x] = (unsigned char)(v + 0.5);
		}
	return d;
}

static int contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* Distance between the embeddings of one JPEG decoded whole and decoded
 * with what m asks for (siam_image_limits_want); -1 on failure.  *scaled
 * receives the scaled decode's width. */
static double full_vs_scaled(siam_model *m, const unsigned char *jpg,
                             size_t len, int *scaled_w)
{
	siam_image_limits lim;
	siam_image a = { 0 }, b = { 0 };
	siam_error err = { 0, "" };
	int dim = siam_net_embed_dim(m->net);
	float ea[256], eb[256];
	double d = -1;

	siam_image_limits_default(&lim);
	if (siam_image_decode(&a, jpg, len, "full", &lim, &err))
		goto out;
	siam_image_limits_want(&lim, &m->pre);
	if (siam_image_decode(&b, jpg, len, "scaled", &lim, &err))
		goto out;
	*scaled_w = b.w;
	if (dim > 256 || siam_model_embed_image(m, &a, ea, &err) ||
	    siam_model_embed_image(m, &b, eb, &err))
		goto out;
	d = l2(ea, eb, dim);
out:
	if (d < 0)
		tap_diag("full_vs_scaled: %s", err.msg);
	siam_image_release(&a);
	siam_image_release(&b);
	return d;
}

/* ------------------------------------------------------------------ */
/* The DCT scale                                                       */

static void test_scale(void)
{
	const int W = 1600, H = 1200;
	unsigned char *px = scene(W, H, 7);
	size_t len;
	unsigned char *jpg = jpeg_encode(px, W, H, 3, 90, 0, 1, &len);
	static const struct {
		int want_w, want_h, w, h;
	} cases[] = {
		{ 0, 0, 1600, 1200 },    /* nobody asks: full size */
		{ 64, 64, 200, 150 },    /* 1/8 covers a 64x64 model */
		{ 32, 32, 200, 150 },    /* never below 1/8 */
		{ 201, 10, 400, 300 },   /* 1/8 is 1 pixel short: 2/8 */
		{ 300, 300, 400, 300 },  /* height decides */
		{ 401, 300, 600, 450 },  /* 3/8 */
		{ 1000, 1000, 1600, 1200 }, /* 7/8 is 1050 high; 6/8 900 */
		{ 5000, 5000, 1600, 1200 }, /* more than there is: whole */
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		siam_image_limits lim;
		siam_image img = { 0 };
		siam_error err = { 0, "" };
		siam_image_limits_default(&lim);
		lim.want_w = cases[i].want_w;
		lim.want_h = cases[i].want_h;
		int rc = siam_image_decode(&img, jpg, len, "scene.jpg", &lim,
		                           &err);
		int ew = cases[i].w, eh = cases[i].h;
		/* 7/8 of 1200 is 1050 >= 1000, and 7/8 of 1600 1400. */
		if (cases[i].want_w == 1000)
			ew = 1400, eh = 1050;
		tap_ok(rc == 0 && img.w == ew && img.h == eh && img.c == 3 &&
		       img.full_w == W && img.full_h == H,
		       "want %dx%d of 1600x1200: decoded %dx%d (expected "
		       "%dx%d), full %dx%d", cases[i].want_w, cases[i].want_h,
		       img.w, img.h, ew, eh, img.full_w, img.full_h);
		siam_image_release(&img);
	}

	/* The 1/8 decode is the 8x8 block means of the full decode, to
	 * within the rounding of two different IDCT paths. */
	{
		siam_image_limits lim;
		siam_image a = { 0 }, b = { 0 };
		siam_error err = { 0, "" };
		double worst = 0, sum = 0;
		siam_image_limits_default(&lim);
		int rc = siam_image_decode(&a, jpg, len, "full", &lim, &err);
		lim.want_w = lim.want_h = 1;
		rc |= siam_image_decode(&b, jpg, len, "eighth", &lim, &err);
		if (!rc)
			for (int y = 0; y < b.h; y++)
				for (int x = 0; x < b.w; x++)
					for (int k = 0; k < 3; k++) {
						double m = 0;
						for (int j = 0; j < 64; j++)
							m += a.px[((size_t)(8 * y + j / 8) * a.w + 8 * x + j % 8) * 3 + k];
						double d = fabs(m / 64 - b.px[((size_t)y * b.w + x) * 3 + k]);
						sum += d;
						if (d > worst)
							worst = d;
					}
		double mean = sum / (b.w * b.h * 3.0);
		tap_ok(rc == 0 && b.w == 200 && mean < 2.0,
		       "1/8 decode = 8x8 block means of the full decode: mean "
		       "|diff| %.3f levels (< 2), worst %.0f", mean, worst);
		siam_image_release(&a);
		siam_image_release(&b);
	}
	free(jpg);
	free(px);
}

/* ------------------------------------------------------------------ */
/* The bound: embeddings of a full and a scaled decode                 */

static void test_bound(void)
{
	siam_model *rgb = NULL, *fashion = load_model("fashion.siam"),
	           *mnist = load_model("mnist.siam");
	siam_error err = { 0, "" };
	double worst = 0, worst_rel = 0;

	/* A 3x64x64 photo model (random weights: the bound is about the
	 * input, which any model sees), and the shipped gray model. */
	if (siam_model_create(&rgb, "in=3x64x64 conv5x8 relu pool2 conv5x16 "
	                      "relu pool2 fc32", &err) == 0)
		siam_net_init(rgb->net, 3);
	tap_ok(rgb && fashion && mnist, "models: 3x64x64, fashion, mnist");
	if (!rgb || !fashion || !mnist)
		goto out;

	/* Camera-sized scenes: 4000x3000 (12 Mpx), 1600x1200, and a
	 * portrait 1200x1600. */
	static const int sizes[][2] = { { 4000, 3000 }, { 1600, 1200 },
	                                { 1200, 1600 } };
	for (int s = 0; s < 3; s++) {
		int W = sizes[s][0], H = sizes[s][1], sw = 0;
		unsigned char *px = scene(W, H, 100 + (uint32_t)s);
		size_t len;
		unsigned char *jpg = jpeg_encode(px, W, H, 3, 90, 0, 1, &len);
		double d_rgb = full_vs_scaled(rgb, jpg, len, &sw);
		int sw_rgb = sw;
		double d_fa = full_vs_scaled(fashion, jpg, len, &sw);
		/* The random model's scale: the distance between two
		 * different scenes. */
		unsigned char *px2 = scene(W, H, 200 + (uint32_t)s);
		size_t len2;
		unsigned char *jpg2 = jpeg_encode(px2, W, H, 3, 90, 0, 1, &len2);
		siam_image a = { 0 }, b = { 0 };
		float ea[64], eb[64];
		double apart = -1;
		if (!siam_image_decode(&a, jpg, len, "a", NULL, &err) &&
		    !siam_image_decode(&b, jpg2, len2, "b", NULL, &err) &&
		    !siam_model_embed_image(rgb, &a, ea, &err) &&
		    !siam_model_embed_image(rgb, &b, eb, &err))
			apart = l2(ea, eb, siam_net_embed_dim(rgb->net));
		siam_image_release(&a);
		siam_image_release(&b);
		tap_ok(d_rgb >= 0 && apart > 0 && d_rgb < 0.05 * apart,
		       "%dx%d scene, 3x64x64 model (decoded %d wide): full vs "
		       "scaled %.5f, under 5%% of two different scenes' %.4f",
		       W, H, sw_rgb, d_rgb, apart);
		tap_ok(d_fa >= 0 && d_fa < 0.05 * fashion->threshold,
		       "%dx%d scene, fashion model (decoded %d wide): full vs "
		       "scaled %.5f, under 5%% of its threshold %.4f", W, H,
		       sw, d_fa, (double)fashion->threshold);
		if (d_fa / fashion->threshold > worst_rel)
			worst_rel = d_fa / fashion->threshold;
		if (d_rgb / apart > worst)
			worst = d_rgb / apart;
		free(jpg);
		free(jpg2);
		free(px);
		free(px2);
	}
	tap_diag("bound: full vs scaled <= %.2f%% of the fashion threshold, "
	         "<= %.2f%% of two scenes' distance (3x64x64)",
	         100 * worst_rel, 100 * worst);

	/* Digits: MNIST digits enlarged to 3000x3000 and 600x600 (dark
	 * ink on light paper, as a scan would be), JPEG q90: the digit
	 * model's want (1000 a side) scales the first to 3/8 and leaves
	 * the second whole. */
	{
		siam_idx idx = { 0 };
		char path[4096];
		const char *src = getenv("SIAM_SRCDIR");
		snprintf(path, sizeof path,
		         "%s/tests/fixtures/mnist-t10k-50-images-idx3-ubyte",
		         src ? src : "..");
		int rc = siam_idx_load(&idx, path, &err);
		double dworst = 0;
		int scaled = 0, same = 1;
		for (int i = 0; !rc && i < 5; i++) {
			unsigned char ink[28 * 28];
			for (int j = 0; j < 28 * 28; j++)
				ink[j] = (unsigned char)(255 - idx.data[i * 784 + j] * 0.8);
			int side = i < 3 ? 3000 : 600, sw = 0;
			unsigned char *big = enlarge(ink, 28, 28, side, side);
			size_t len;
			unsigned char *jpg = jpeg_encode(big, side, side, 1, 90,
			                                 0, 1, &len);
			double d = full_vs_scaled(mnist, jpg, len, &sw);
			if (d < 0)
				same = 0;
			if (side == 3000 && sw == 1125)
				scaled++;
			if (side == 600 && (sw != 600 || d != 0))
				same = 0;
			if (d > dworst)
				dworst = d;
			free(jpg);
			free(big);
		}
		tap_ok(rc == 0 && scaled == 3 && same &&
		       dworst < 0.05 * mnist->threshold,
		       "digits 3000x3000 decoded 1125 wide (%d of 3), 600x600 "
		       "whole and identical: full vs scaled <= %.5f, under 5%% "
		       "of the threshold %.4f", scaled, dworst,
		       (double)mnist->threshold);
		siam_idx_release(&idx);
	}
out:
	siam_model_free(rgb);
	siam_model_free(fashion);
	siam_model_free(mnist);
}

/* ------------------------------------------------------------------ */
/* EXIF orientation                                                    */

/* Upright pixel (x, y) of an ow x oh picture, for orientation o, is
 * stored pixel (sx, sy) of the stored w x h one: written out from the
 * standard's pictures, independently of src/image/exif.c. */
static void stored_of(int o, int x, int y, int w, int h, int *sx, int *sy)
{
	switch (o) {
	case 1: *sx = x; *sy = y; break;
	case 2: *sx = w - 1 - x; *sy = y; break;         /* mirrored */
	case 3: *sx = w - 1 - x; *sy = h - 1 - y; break; /* upside down */
	case 4: *sx = x; *sy = h - 1 - y; break;         /* flipped */
	case 5: *sx = y; *sy = x; break;                 /* transposed */
	case 6: *sx = y; *sy = h - 1 - x; break;         /* needs 90 cw */
	case 7: *sx = w - 1 - y; *sy = h - 1 - x; break; /* transversed */
	default: *sx = w - 1 - y; *sy = x; break;        /* needs 90 ccw */
	}
}

static void test_orientation(void)
{
	/* Upright: 48x32, four quadrants of distinct colours in 8x8
	 * blocks (which JPEG keeps nearly exactly), so a wrong turn shows
	 * as whole quadrants in the wrong place. */
	const int UW = 48, UH = 32;
	static const unsigned char q[4][3] = {
		{ 250, 20, 20 }, { 20, 250, 20 }, { 20, 20, 250 }, { 240, 240, 30 }
	};
	unsigned char up[48 * 32 * 3];
	for (int y = 0; y < UH; y++)
		for (int x = 0; x < UW; x++)
			memcpy(up + (y * UW + x) * 3,
			       q[(y >= UH / 2) * 2 + (x >= UW / 2)], 3);

	for (int le = 1; le >= 0; le--)
		for (int o = 1; o <= 8; o++) {
			int w = o >= 5 ? UH : UW, h = o >= 5 ? UW : UH;
			unsigned char st[48 * 32 * 3];
			/* The stored picture a camera would write. */
			for (int y = 0; y < UH; y++)
				for (int x = 0; x < UW; x++) {
					int sx, sy;
					stored_of(o, x, y, w, h, &sx, &sy);
					memcpy(st + (sy * w + sx) * 3,
					       up + (y * UW + x) * 3, 3);
				}
			size_t len, len0;
			unsigned char *jpg = jpeg_encode(st, w, h, 3, 100, o, le,
			                                 &len);
			unsigned char *raw = jpeg_encode(st, w, h, 3, 100, 0, le,
			                                 &len0);
			siam_image a = { 0 }, r = { 0 };
			siam_error err = { 0, "" };
			int rc = siam_image_decode(&a, jpg, len, "o.jpg", NULL,
			                           &err);
			rc |= siam_image_decode(&r, raw, len0, "raw.jpg", NULL,
			                        &err);
			/* Exactly the tag-less decode, turned by hand. */
			int exact = rc == 0 && a.w == UW && a.h == UH &&
			            a.full_w == UW && a.full_h == UH;
			double diff = 0;
			for (int y = 0; exact && y < UH; y++)
				for (int x = 0; x < UW; x++) {
					int sx, sy;
					stored_of(o, x, y, w, h, &sx, &sy);
					if (memcmp(a.px + (y * UW + x) * 3,
					           r.px + (sy * w + sx) * 3, 3))
						exact = 0;
					for (int k = 0; k < 3; k++)
						diff += fabs((double)a.px[(y * UW + x) * 3 + k] -
						             up[(y * UW + x) * 3 + k]);
				}
			diff /= UW * UH * 3;
			tap_ok(exact && diff < 4,
			       "EXIF orientation %d (%s): %dx%d stored, decoded "
			       "%dx%d upright, equal to the hand-turned pixels, "
			       "mean |diff| to the original %.2f", o,
			       le ? "II" : "MM", w, h, a.w, a.h, diff);
			siam_image_release(&a);
			siam_image_release(&r);
			free(jpg);
			free(raw);
		}

	/* Scaling with a turn: stored 800x400 tagged 6 is 400x800 upright;
	 * wanting 100x50 of the upright picture means 50x100 of the stored
	 * one: 2/8 (200x100), then turned to 100x200. */
	{
		unsigned char *px = scene(800, 400, 11);
		size_t len;
		unsigned char *jpg = jpeg_encode(px, 800, 400, 3, 90, 6, 1, &len);
		siam_image_limits lim;
		siam_image img = { 0 };
		siam_error err = { 0, "" };
		siam_image_limits_default(&lim);
		lim.want_w = 100;
		lim.want_h = 50;
		int rc = siam_image_decode(&img, jpg, len, "turned.jpg", &lim,
		                           &err);
		tap_ok(rc == 0 && img.w == 100 && img.h == 200 &&
		       img.full_w == 400 && img.full_h == 800,
		       "orientation 6 with want 100x50: decoded %dx%d of %dx%d",
		       img.w, img.h, img.full_w, img.full_h);
		siam_image_release(&img);
		free(jpg);
		free(px);
	}

	/* A phone picture and its upright copy: the same embedding, near
	 * enough to verify as the same (fashion model's threshold). */
	{
		siam_model *m = load_model("fashion.siam");
		const int W = 1200, H = 900;
		unsigned char *px = scene(W, H, 21), *st = malloc((size_t)W * H * 3);
		/* Stored sideways (tag 8: the phone turned the other way). */
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				int sx, sy;
				stored_of(8, x, y, H, W, &sx, &sy);
				memcpy(st + ((size_t)sy * H + sx) * 3,
				       px + ((size_t)y * W + x) * 3, 3);
			}
		size_t n1, n2;
		unsigned char *j1 = jpeg_encode(px, W, H, 3, 90, 0, 1, &n1);
		unsigned char *j2 = jpeg_encode(st, H, W, 3, 90, 8, 1, &n2);
		siam_image_limits lim;
		siam_image a = { 0 }, b = { 0 };
		siam_error err = { 0, "" };
		float ea[64], eb[64];
		double d = -1;
		siam_image_limits_default(&lim);
		if (m) {
			siam_image_limits_want(&lim, &m->pre);
			if (!siam_image_decode(&a, j1, n1, "upright.jpg", &lim, &err) &&
			    !siam_image_decode(&b, j2, n2, "phone.jpg", &lim, &err) &&
			    !siam_model_embed_image(m, &a, ea, &err) &&
			    !siam_model_embed_image(m, &b, eb, &err))
				d = l2(ea, eb, siam_net_embed_dim(m->net));
		}
		tap_ok(m && d >= 0 && d < 0.1 * m->threshold && b.w == a.w &&
		       b.h == a.h,
		       "phone picture (tag 8) and its upright copy: %dx%d and "
		       "%dx%d, distance %.5f, under a tenth of the threshold",
		       a.w, a.h, b.w, b.h, d);
		siam_image_release(&a);
		siam_image_release(&b);
		siam_model_free(m);
		free(j1);
		free(j2);
		free(px);
		free(st);
	}
}

/* ------------------------------------------------------------------ */
/* Truncated and hostile files                                         */

static void test_hostile(void)
{
	unsigned char *px = scene(256, 192, 5);
	size_t len;
	unsigned char *jpg = jpeg_encode(px, 256, 192, 3, 90, 3, 1, &len);
	siam_image img = { 0 };
	siam_error err = { 0, "" };
	int rc;

	rc = siam_image_decode(&img, jpg, len / 2, "half.jpg", NULL, &err);
	tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "half.jpg") &&
	       contains(err.msg, "truncated JPEG") && !img.px,
	       "truncated JPEG: %s", err.msg);

	/* The header alone, up to the start of scan. */
	size_t sos = 0;
	for (size_t i = 2; i + 1 < len; i++)
		if (jpg[i] == 0xff && jpg[i + 1] == 0xda) {
			sos = i;
			break;
		}
	rc = siam_image_decode(&img, jpg, sos + 14, "header.jpg", NULL, &err);
	tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "header.jpg") && !img.px,
	       "JPEG header without data: %s", err.msg);

	/* Garbage after a valid header: random entropy-coded data and no
	 * end marker. */
	{
		unsigned char *g = malloc(len);
		memcpy(g, jpg, sos + 14);
		rng_state = 99;
		for (size_t i = sos + 14; i < len; i++)
			g[i] = (unsigned char)rnd();
		rc = siam_image_decode(&img, g, len, "garbage.jpg", NULL, &err);
		tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "garbage.jpg") &&
		       !img.px, "garbage after a valid JPEG header: %s",
		       err.msg);
		siam_image_release(&img);
		free(g);
	}

	/* Huge declared dimensions: 65000x65000 in the frame header, refused
	 * before anything is allocated. */
	{
		unsigned char *g = malloc(len);
		memcpy(g, jpg, len);
		for (size_t i = 2; i + 8 < len; i++)
			if (g[i] == 0xff && g[i + 1] == 0xc0) {
				g[i + 5] = g[i + 7] = 0xfd;
				g[i + 6] = g[i + 8] = 0xe8;
				break;
			}
		rc = siam_image_decode(&img, g, len, "huge.jpg", NULL, &err);
		tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "huge.jpg") &&
		       contains(err.msg, "65000x65000"),
		       "JPEG declaring 65000x65000: %s", err.msg);
		free(g);
	}

	/* Not a JPEG past its signature. */
	rc = siam_image_decode(&img, "\xff\xd8\xff\xe0 not really", 15,
	                       "fake.jpg", NULL, &err);
	tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "fake.jpg"),
	       "JPEG signature and nothing else: %s", err.msg);

	/* A gray JPEG stays gray. */
	{
		unsigned char g[64 * 48];
		for (int i = 0; i < 64 * 48; i++)
			g[i] = (unsigned char)(i % 64 * 4);
		size_t gl;
		unsigned char *gj = jpeg_encode(g, 64, 48, 1, 95, 0, 1, &gl);
		rc = siam_image_decode(&img, gj, gl, "gray.jpg", NULL, &err);
		tap_ok(rc == 0 && img.c == 1 && img.w == 64 && img.h == 48 &&
		       abs(img.px[10] - 40) <= 3,
		       "gray JPEG: 1 channel, 64x48, px[10] %d (40)",
		       img.px ? img.px[10] : -1);
		siam_image_release(&img);
		free(gj);
	}
	free(jpg);
	free(px);
}

/* ------------------------------------------------------------------ */
/* Multi-scan (progressive) JPEGs: libjpeg's coefficient buffer         */

/* A progressive JPEG of w x h RGB, chroma subsampled 2x2 (sub = 1) or
 * not (4:4:4). */
static unsigned char *jpeg_progressive(const unsigned char *px, int w, int h,
                                       int sub, size_t *len)
{
	jpeg_opts o = { .quality = 90, .hs = sub ? 2 : 1, .vs = sub ? 2 : 1,
	                .progressive = 1 };
	return jpeg_write(px, w, h, 3, &o, len);
}

static void test_progressive(void)
{
	enum { PW = 640, PH = 480 };
	unsigned char *px = scene(PW, PH, 31);
	size_t l420, l444;
	unsigned char *p420 = jpeg_progressive(px, PW, PH, 1, &l420),
	              *p444 = jpeg_progressive(px, PW, PH, 0, &l444);
	siam_image_limits lim;
	siam_image ref = { 0 }, img = { 0 };
	siam_error err = { 0, "" };
	int rc;

	/* Coefficients, 128 bytes a block: 4:2:0 at 640x480 is 80x60 luma
	 * and 2 x 40x30 chroma blocks, 921600 bytes = 3 x 640 x 480, the
	 * budget of max_pixels = 640 x 480 exactly; 4:4:4 is twice that. */
	siam_image_limits_default(&lim);
	rc = siam_image_decode(&ref, p420, l420, "p420.jpg", &lim, &err);
	tap_ok(rc == 0 && ref.w == PW && ref.h == PH,
	       "progressive 4:2:0 decodes (%s)", rc ? err.msg : "ok");
	lim.max_pixels = PW * PH;
	rc = siam_image_decode(&img, p420, l420, "p420.jpg", &lim, &err);
	tap_ok(rc == 0 && ref.px && img.px &&
	       !memcmp(img.px, ref.px, (size_t)PW * PH * 3),
	       "progressive 4:2:0 with its coefficients exactly at the "
	       "budget: decoded, the same pixels (%s)", rc ? err.msg : "ok");
	siam_image_release(&img);
	siam_image_release(&ref);

	siam_image_limits_default(&lim);
	rc = siam_image_decode(&ref, p444, l444, "p444.jpg", &lim, &err);
	tap_ok(rc == 0, "progressive 4:4:4 decodes (%s)",
	       rc ? err.msg : "ok");
	lim.max_pixels = PW * PH;
	rc = siam_image_decode(&img, p444, l444, "p444.jpg", &lim, &err);
	tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "p444.jpg") &&
	       contains(err.msg, "progressive JPEG of 640x480") &&
	       contains(err.msg, "needs 2 MB") && !img.px,
	       "progressive 4:4:4 over the coefficient budget: %s", err.msg);
	/* libjpeg's scaled decoding does not shrink its coefficient
	 * buffer, so 1/4 gets the same answer; at 1/8 the DC
	 * coefficients are all it takes (jpeg_dc.c, 2 bytes a block):
	 * decoded within the same budget, libjpeg's own 1/8 pixels
	 * (4:4:4 is exact, tests/test_image_jpeg_dc). */
	lim.want_w = lim.want_h = 100;
	rc = siam_image_decode(&img, p444, l444, "p444.jpg", &lim, &err);
	tap_ok(rc == SIAM_ETOOBIG && !img.px,
	       "also when decoded at 1/4: %s", err.msg);
	lim.want_w = lim.want_h = 32;
	rc = siam_image_decode(&img, p444, l444, "p444.jpg", &lim, &err);
	{
		siam_image e = { 0 };
		siam_image_limits big;
		siam_image_limits_default(&big);
		big.want_w = big.want_h = 32;
		int rc2 = siam_image_decode(&e, p444, l444, "p444.jpg", &big,
		                            &err);
		tap_ok(rc == 0 && rc2 == 0 && img.w == PW / 8 &&
		       img.h == PH / 8 && e.px &&
		       !memcmp(img.px, e.px, (size_t)PW / 8 * PH / 8 * 3),
		       "at 1/8 it decodes within that budget: %dx%d, the "
		       "pixels of a decode without limit (%s)", img.w, img.h,
		       rc ? err.msg : "ok");
		siam_image_release(&e);
	}
	siam_image_release(&img);
	/* Just above it: libjpeg's own ceiling (max_memory_to_use, set
	 * from the same budget) lets it through. */
	siam_image_limits_default(&lim);
	lim.max_pixels = 2 * PW * PH;
	rc = siam_image_decode(&img, p444, l444, "p444.jpg", &lim, &err);
	tap_ok(rc == 0 && ref.px && img.px &&
	       !memcmp(img.px, ref.px, (size_t)PW * PH * 3),
	       "progressive 4:4:4 within a budget twice as large: decoded, "
	       "the same pixels (%s)", rc ? err.msg : "ok");
	siam_image_release(&img);
	siam_image_release(&ref);

	/* Thousands of scans (each a pass over every coefficient): the
	 * last scan repeated 1000 times before the end marker. */
	{
		size_t last = 0;
		for (size_t i = 2; i + 1 < l420; i++)
			if (p420[i] == 0xff && p420[i + 1] == 0xda)
				last = i;
		size_t sl = l420 - 2 - last, n = last + 1000 * sl + 2;
		unsigned char *g = malloc(n), *q = g;
		memcpy(q, p420, last);
		q += last;
		for (int k = 0; k < 1000; k++, q += sl)
			memcpy(q, p420 + last, sl);
		q[0] = 0xff;
		q[1] = 0xd9;
		rc = siam_image_decode(&img, g, n, "scans.jpg", NULL, &err);
		tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "scans.jpg") &&
		       contains(err.msg, "more than 500 scans") && !img.px,
		       "a JPEG of 1000 scans: %s", err.msg);
		/* 400 scans: still decoded (libjpeg warns, as viewers do). */
		n = last + 400 * sl + 2;
		q = g + last;
		for (int k = 0; k < 400; k++, q += sl)
			memcpy(q, p420 + last, sl);
		q[0] = 0xff;
		q[1] = 0xd9;
		rc = siam_image_decode(&img, g, n, "scans.jpg", NULL, &err);
		tap_ok(rc == 0, "400 scans are decoded (%s)",
		       rc ? err.msg : "ok");
		siam_image_release(&img);
		free(g);
	}
	free(p420);
	free(p444);
	free(px);
}

int main(void)
{
	test_scale();
	test_bound();
	test_orientation();
	test_hostile();
	test_progressive();
	return tap_done();
}
