/*
 * test_augment.c -- the photo edits of --augment (src/train/photo_aug.c,
 * font.c) against small hand-made expectations, the LIST parser and
 * its preset, and the promise that the older distortions draw and give
 * what they did before the photo edits existed.
 */
#include "internal.h"
#include "train/photo_aug.h"
#include "tap.h"

#include <math.h>
#include <string.h>

static float maxdiff(const float *a, const float *b, size_t n)
{
	float m = 0;
	for (size_t i = 0; i < n; i++)
		if (fabsf(a[i] - b[i]) > m || a[i] != a[i] || b[i] != b[i])
			m = a[i] == b[i] ? m : fabsf(a[i] - b[i]) + (a[i] != a[i]);
	return m;
}

static void test_flip(void)
{
	/* one channel, 2 rows of 3; then RGB, each plane its own rows */
	float img[6] = { 1, 2, 3, 4, 5, 6 }, want[6] = { 3, 2, 1, 6, 5, 4 };
	aug_flip(img, 1, 2, 3);
	tap_ok(!memcmp(img, want, sizeof img), "flip of a 3x2 image: "
	       "%g %g %g / %g %g %g", img[0], img[1], img[2], img[3], img[4],
	       img[5]);
	float rgb[12], wrgb[12];
	for (int i = 0; i < 12; i++)
		rgb[i] = (float)i;
	for (int r = 0; r < 6; r++)
		for (int x = 0; x < 2; x++)
			wrgb[r * 2 + x] = (float)(r * 2 + 1 - x);
	aug_flip(rgb, 3, 2, 2);
	tap_ok(!memcmp(rgb, wrgb, sizeof rgb), "flip of each RGB plane");
}

static void test_crop(void)
{
	siam_rng a, b;
	siam_rng_seed(&a, 7);
	siam_rng_seed(&b, 7);
	float x, y, cw, ch;
	aug_crop_box(&a, 40, 60, 0.5f, &x, &y, &cw, &ch);
	/* by hand from the same four numbers */
	double u[4];
	for (int i = 0; i < 4; i++)
		u[i] = siam_rng_uniform(&b);
	double area = 0.5 + u[0] * 0.5;
	double ar = exp(log(0.75) + u[1] * 2 * log(4.0 / 3.0));
	double ww = fmin(60 * sqrt(area * ar), 60),
	       wh = fmin(40 * sqrt(area / ar), 40);
	tap_near(cw, ww, 1e-3, "crop width of the seed-7 draw");
	tap_near(ch, wh, 1e-3, "crop height of the seed-7 draw");
	tap_near(x, u[2] * (60 - ww), 1e-3, "crop left of the seed-7 draw");
	tap_near(y, u[3] * (40 - wh), 1e-3, "crop top of the seed-7 draw");
	tap_int(siam_rng_u64(&a) == siam_rng_u64(&b), 1,
	        "a crop box takes four numbers");
	/* every draw: inside, area 50-100% (less only when clipped),
	 * aspect 3:4 to 4:3 relative to the image's */
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		aug_crop_box(&a, 40, 60, 0.5f, &x, &y, &cw, &ch);
		double fa = (double)cw * ch / (60 * 40),
		       r = (cw / 60.0) / (ch / 40.0);
		if (x < 0 || y < 0 || x + cw > 60 + 1e-3 ||
		    y + ch > 40 + 1e-3 || fa > 1 + 1e-6 ||
		    (cw < 60 && ch < 40 &&
		     (fa < 0.5 - 1e-4 || r < 0.75 - 1e-4 || r > 4 / 3.0 + 1e-4)))
			bad++;
	}
	tap_int(bad, 0, "2000 crop boxes inside, area >= 50%%, aspect 3:4-4:3");
	/* the crop (1, 0, 2, 2) of a 4x2 image stretched over 2x2 is
	 * exactly its middle two columns */
	float src[8] = { 0, 1, 2, 3, 10, 11, 12, 13 }, out[4];
	aug_resample(out, 2, 2, src, 1, 2, 4, 1, 0, 2, 2);
	float want[4] = { 1, 2, 11, 12 };
	tap_ok(!memcmp(out, want, sizeof out), "crop (1,0,2,2) of 4x2 = "
	       "%g %g / %g %g", out[0], out[1], out[2], out[3]);
}

static void test_gray(void)
{
	float px[3] = { 1.0f, 0.5f, 0.0f }; /* 1x1 RGB */
	aug_gray(px, 3, 1, 1);
	float g = 0.299f + 0.587f * 0.5f;
	tap_near(px[0], g, 1e-6, "gray of (1, .5, 0): red = luma");
	tap_near(px[1], g, 1e-6, "green = luma");
	tap_near(px[2], g, 1e-6, "blue = luma");
	float one[1] = { 0.25f };
	aug_gray(one, 1, 1, 1);
	tap_near(one[0], 0.25, 0, "gray leaves one channel alone");
}

static void test_blur(void)
{
	/* big enough that no tap reaching the impulse leaves the image */
	enum { S = 15 };
	float img[S * S] = { 0 }, tmp[S * S];
	img[7 * S + 7] = 1;
	aug_blur(img, tmp, 1, S, S, 1.0f);
	double sum = 0, asym = 0;
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++) {
			float v = img[y * S + x];
			sum += v;
			asym = fmax(asym, fabs(v - img[x * S + y]));
			asym = fmax(asym, fabs(v - img[y * S + S - 1 - x]));
			asym = fmax(asym, fabs(v - img[(S - 1 - y) * S + x]));
		}
	tap_near(sum, 1.0, 1e-5, "blur of an impulse sums to 1");
	tap_near(asym, 0, 1e-7, "and is symmetric (transpose, mirrors)");
	double k0 = 1, k1 = exp(-0.5);
	double ks = k0 + 2 * (k1 + exp(-2.0) + exp(-4.5));
	tap_near(img[7 * S + 7], (k0 / ks) * (k0 / ks), 1e-6,
	         "centre = (1/sum of the 7 taps)^2");
	tap_near(img[7 * S + 8], (k0 / ks) * (k1 / ks), 1e-6,
	         "neighbour = centre * exp(-1/2)");
	/* a flat image stays flat up to the border: the kernel is
	 * renormalised where it leaves the image */
	for (int i = 0; i < S * S; i++)
		img[i] = 0.6f;
	aug_blur(img, tmp, 1, S, S, 2.0f);
	float flat[S * S];
	for (int i = 0; i < S * S; i++)
		flat[i] = 0.6f;
	tap_near(maxdiff(img, flat, S * S), 0, 1e-6,
	         "blur keeps a flat image flat, border too");
}

static void test_jpeg(void)
{
	enum { H = 16, W = 24, C = 3, N = C * H * W };
	float img[N], orig[N];
	for (int k = 0; k < C; k++)
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				img[(k * H + y) * W + x] =
					-0.5f + (float)(x * 5 + y * 4 + k * 30) / 255.0f;
	memcpy(orig, img, sizeof img);
	tap_int(aug_jpeg(img, C, H, W, -0.5f, 90), 0, "JPEG q90 round trip");
	float d90 = maxdiff(img, orig, N);
	tap_ok(d90 > 0 && d90 < 0.08f, "q90 changes the pixels, by at most "
	       "0.08 (got %g)", d90);
	double m90 = 0, m20 = 0;
	for (int i = 0; i < N; i++)
		m90 += fabsf(img[i] - orig[i]);
	memcpy(img, orig, sizeof img);
	tap_int(aug_jpeg(img, C, H, W, -0.5f, 20), 0, "JPEG q20 round trip");
	for (int i = 0; i < N; i++)
		m20 += fabsf(img[i] - orig[i]);
	tap_ok(m20 > m90, "q20 errs more than q90 (%g > %g)", m20 / N,
	       m90 / N);
	tap_ok(maxdiff(img, orig, N) < 0.25f, "q20 stays within 0.25 (%g)",
	       maxdiff(img, orig, N));
	float g[H * W];
	for (int i = 0; i < H * W; i++)
		g[i] = (float)(i % 17) / 16.0f;
	tap_int(aug_jpeg(g, 1, H, W, 0, 50), 0, "grey JPEG round trip");
	int inrange = 1;
	for (int i = 0; i < H * W; i++)
		inrange &= g[i] >= 0 && g[i] <= 1;
	tap_ok(inrange, "decoded values lie in [black, black + 1]");
}

static void test_overlay(void)
{
	enum { H = 9, W = 14 };
	float img[H * W] = { 0 };
	int text[2] = { AUG_COPYRIGHT, 'A' };
	aug_text_draw(img, 1, H, W, 1, 1, text, 2, 1.0f);
	int wrong = 0, set = 0;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int want = 0, gx = x - 1, gy = y - 1;
			if (gy >= 0 && gy < AUG_FONT_H && gx >= 0) {
				int i = gx / (AUG_FONT_W + 1),
				    col = gx % (AUG_FONT_W + 1);
				if (i < 2 && col < AUG_FONT_W)
					want = aug_font_glyph(text[i])[gy] >>
					       (AUG_FONT_W - 1 - col) & 1;
			}
			wrong += (img[y * W + x] == 1.0f) != want ||
			         (img[y * W + x] != 0 && img[y * W + x] != 1);
			set += img[y * W + x] == 1.0f;
		}
	tap_int(wrong, 0, "overlay '\xc2\xa9" "A' sets exactly the font's pixels");
	tap_int(set, 23 + 18, "the two glyphs have 23 + 18 pixels");
	/* 'A' top row is .###. */
	tap_ok(img[1 * W + 7] == 0 && img[1 * W + 8] == 1 &&
	       img[1 * W + 10] == 1 && img[1 * W + 11] == 0,
	       "'A' row 0 is .###.");
	int known = 0;
	const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                  "0123456789 ";
	for (const char *p = all; *p; p++)
		known += aug_font_glyph(*p) != NULL;
	tap_int(known, 63, "the font has A-Z a-z 0-9 and space");
	tap_ok(aug_font_glyph('#') == NULL, "and not '#'");
	/* through the drawn edit: bottom-right corner, white on black */
	aug_photo p;
	memset(&p, 0, sizeof p);
	p.bright = p.sat = p.down = 1;
	p.ntext = 1;
	p.text[0] = 'L';
	p.corner = 3;
	p.ink = 1;
	float im2[H * W] = { 0 };
	tap_int(aug_photo_apply(im2, 1, H, W, 0, &p), 0, "overlay edit");
	/* 'L' is column 0 all down, row 6 full: at x = 14-1-5 = 8, y = 1 */
	int n = 0;
	for (int i = 0; i < H * W; i++)
		n += im2[i] == 1.0f;
	tap_ok(n == 11 && im2[1 * W + 8] == 1 && im2[7 * W + 12] == 1 &&
	       im2[7 * W + 13] == 0, "'L' in the bottom-right corner, one "
	       "pixel in (%d pixels)", n);
}

/* The older distortions: rotation 0 is the identity, they draw six
 * numbers, and photo edits left off change nothing. */
static void test_affine(void)
{
	enum { C = 3, H = 8, W = 10, N = C * H * W };
	float inp[N], out[N];
	siam_rng r;
	siam_rng_seed(&r, 3);
	for (int i = 0; i < N; i++)
		inp[i] = siam_rng_uniform(&r);
	siam_augment a;
	siam_augment_default(&a);
	a.shift = a.rotate = a.scale = 0;
	siam_rng_seed(&r, 5);
	siam_augment_apply(out, inp, C, H, W, 0, &a, &r);
	tap_ok(!memcmp(out, inp, sizeof out), "rotation by 0 is the identity");
	siam_rng ref;
	siam_rng_seed(&ref, 5);
	for (int i = 0; i < 6; i++)
		siam_rng_uniform(&ref);
	tap_ok(siam_rng_u64(&r) == siam_rng_u64(&ref),
	       "the default distortion draws six numbers, no more");
	a.edge = 1; /* a photo edit that changes nothing at rotation 0 */
	siam_rng_seed(&r, 5);
	siam_augment_apply(out, inp, C, H, W, 0, &a, &r);
	tap_ok(!memcmp(out, inp, sizeof out),
	       "rotation by 0 with edge fill is the identity too");

	/* a flat image turned 20 degrees: black corners, or none with
	 * edge fill */
	for (int i = 0; i < N; i++)
		inp[i] = 0.7f;
	siam_augment_default(&a);
	a.shift = a.scale = 0;
	a.rotate = 20;
	siam_rng_seed(&r, 9);
	siam_augment_apply(out, inp, C, H, W, 0, &a, &r);
	int black = 0;
	for (int i = 0; i < N; i++)
		black += out[i] < 0.69f;
	a.edge = 1;
	siam_rng_seed(&r, 9);
	siam_augment_apply(out, inp, C, H, W, 0, &a, &r);
	float flat[N];
	for (int i = 0; i < N; i++)
		flat[i] = 0.7f;
	tap_ok(black > 0 && maxdiff(out, flat, N) < 1e-6f,
	       "rotation: %d darkened values with black fill, none with edge "
	       "fill", black);
}

static void test_photo(void)
{
	enum { C = 3, H = 32, W = 32, N = C * H * W };
	static float inp[N], o1[N], o2[N], o3[N];
	siam_rng r;
	siam_rng_seed(&r, 11);
	for (int i = 0; i < N; i++)
		inp[i] = siam_rng_uniform(&r);
	siam_augment a;
	siam_augment_photo(&a);
	siam_rng_seed(&r, 21);
	siam_augment_apply(o1, inp, C, H, W, 0, &a, &r);
	siam_rng_seed(&r, 21);
	siam_augment_apply(o2, inp, C, H, W, 0, &a, &r);
	siam_rng_seed(&r, 22);
	siam_augment_apply(o3, inp, C, H, W, 0, &a, &r);
	tap_ok(!memcmp(o1, o2, sizeof o1), "photo edits: same seed, same "
	       "output");
	tap_ok(memcmp(o1, o3, sizeof o1), "another seed, another output");
	/* the draw count does not depend on the strengths */
	siam_augment b;
	memset(&b, 0, sizeof b);
	b.flip = 1;
	siam_rng x, y;
	siam_rng_seed(&x, 4);
	siam_rng_seed(&y, 4);
	aug_photo pa, pb;
	aug_photo_draw(&pa, &a, &x, H, W);
	aug_photo_draw(&pb, &b, &y, H, W);
	tap_ok(siam_rng_u64(&x) == siam_rng_u64(&y) && pa.flip == pb.flip,
	       "photo draws take the same numbers whatever is on");
	/* a border: the frame is its value, the inside the shrunk image */
	aug_photo p;
	memset(&p, 0, sizeof p);
	p.bright = p.sat = p.down = 1;
	p.pad[0] = 2;
	p.pad[1] = 1;
	p.pad[2] = 3;
	p.pad[3] = 0;
	p.padv = 1;
	memcpy(o1, inp, sizeof o1);
	tap_int(aug_photo_apply(o1, C, H, W, -0.25f, &p), 0, "border edit");
	int frame = 0, inside = 0;
	for (int k = 0; k < C; k++)
		for (int yy = 0; yy < H; yy++)
			for (int xx = 0; xx < W; xx++) {
				float v = o1[(k * H + yy) * W + xx];
				int in = yy >= 2 && yy < H - 1 && xx >= 3;
				if (!in)
					frame += v == 0.75f;
				else
					inside += v >= 0 && v <= 1;
			}
	tap_int(frame, C * (H * W - (H - 3) * (W - 3)),
	        "every frame pixel is white (black + 1)");
	tap_int(inside, C * (H - 3) * (W - 3), "the picture inside");
	/* downscale 1/2 then up: a 2x2-block image comes back exactly in
	 * the middle of the blocks' rows */
	memset(&p, 0, sizeof p);
	p.bright = p.sat = 1;
	p.down = 0.5f;
	float blk[4 * 4];
	for (int yy = 0; yy < 4; yy++)
		for (int xx = 0; xx < 4; xx++)
			blk[yy * 4 + xx] = (float)((yy / 2) * 2 + xx / 2);
	float keep[16];
	memcpy(keep, blk, sizeof blk);
	tap_int(aug_photo_apply(blk, 1, 4, 4, 0, &p), 0, "rescale edit");
	tap_ok(blk[0] == 0 && blk[3] == 1 && blk[12] == 2 && blk[15] == 3 &&
	       blk[1] > 0 && blk[1] < 1, "downscale 1/2 keeps the corners, "
	       "blurs the inside (%g)", blk[1]);
}

static void test_parse(void)
{
	siam_augment a, d;
	siam_error err = { 0 };
	siam_augment_default(&d);
	tap_int(siam_augment_parse(&a, NULL, &err), 0, "no list: default");
	tap_ok(!memcmp(&a, &d, sizeof a), "default fields");
	tap_int(siam_augment_parse(&a, "shift=0.15,rotate=20,sigma=3", &err),
	        0, "older names");
	tap_ok(a.shift == 0.15f && a.rotate == 20 && a.scale == 0.1f &&
	       a.sigma == 3 && !aug_photo_on(&a), "older names set, no photo "
	       "edit");
	tap_int(siam_augment_parse(&a, "photo,jpeg=0,flip=1", &err), 0,
	        "preset then items");
	siam_augment p;
	siam_augment_photo(&p);
	p.jpeg = 0;
	p.flip = 1;
	tap_ok(!memcmp(&a, &p, sizeof a), "photo with jpeg off, flip always");
	tap_int(siam_augment_parse(&a, "flip=2", &err), SIAM_EINVAL,
	        "flip=2 refused");
	tap_ok(!strcmp(err.msg, "augment: flip=2 is not a number in [0, 1]"),
	       "message: %s", err.msg);
	tap_int(siam_augment_parse(&a, "blurr=1", &err), SIAM_EINVAL,
	        "unknown name refused");
	tap_ok(!strcmp(err.msg, "augment: unknown name 'blurr'"), "message: %s",
	       err.msg);
	tap_int(siam_augment_parse(&a, "photos", &err), SIAM_EINVAL,
	        "unknown preset refused");
	tap_int(siam_augment_parse(&a, "shift=nan", &err), SIAM_EINVAL,
	        "nan refused");
}

int main(void)
{
	test_flip();
	test_crop();
	test_gray();
	test_blur();
	test_jpeg();
	test_overlay();
	test_affine();
	test_photo();
	test_parse();
	return tap_done();
}
