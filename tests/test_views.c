/*
 * test_views.c -- embedding over shifted views (src/nn/views.c): the
 * shift moves pixels where it says and repeats the edge, the mean over
 * views equals one computed by hand from single-view embeddings (back
 * on the unit sphere only for nets ending in l2), one view is the plain
 * embedding, and a model keeps its views through a file and uses them
 * for images.  With SIAM_VIEWS_FLIP (tta=flip): the mirror is the
 * hand-made one, an input and its mirror embed the same (bit for bit
 * one at a time, within rounding in a batch),
 * the embedding is the normalised sum by hand, and a model keeps the
 * flag through a file (an unknown tta is refused).
 */
#include "internal.h"
#include "siam_nn.h"
#include "tap.h"

#include <math.h>
#include <string.h>

#define L2ARCH "in=1x12x10 conv3x4 relu pool2 fc16 relu fc6 l2"
#define RAWARCH "in=1x12x10 conv3x4 relu pool2 fc16 relu fc6"

static const int dx[9] = { 0, 1, -1, 0, 0, 1, -1, 1, -1 };
static const int dy[9] = { 0, 0, 0, 1, -1, 1, -1, -1, 1 };

/* The mean over views by hand: every shifted copy through the plain
 * embedding, one at a time, summed in double. */
static void by_hand(siam_net *net, const float *x, int B, int views,
                    int unit, double *want)
{
	size_t in = siam_net_input_size(net);
	int D = siam_net_embed_dim(net);
	float *s = malloc(in * sizeof(float)), *e = malloc(D * sizeof(float));
	siam_error err;
	for (int i = 0; i < B; i++) {
		double *w = want + (size_t)i * D, n = 0;
		for (int k = 0; k < D; k++)
			w[k] = 0;
		for (int v = 0; v < views; v++) {
			siam_shift_input(s, x + i * in, 1, 12, 10, dx[v], dy[v]);
			siam_net_embed(net, s, 1, e, &err);
			for (int k = 0; k < D; k++)
				w[k] += e[k] / (double)views;
		}
		for (int k = 0; k < D; k++)
			n += w[k] * w[k];
		for (int k = 0; unit && k < D; k++)
			w[k] /= sqrt(n);
	}
	free(s);
	free(e);
}

/* Whether the n bytes of s occur in buf (memmem is a GNU extension). */
static int contains(const void *buf, size_t len, const char *s, size_t n)
{
	for (size_t i = 0; buf && i + n <= len; i++)
		if (!memcmp((const char *)buf + i, s, n))
			return 1;
	return 0;
}

static double max_diff(const float *got, const double *want, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(got[i] - want[i]));
	return m;
}

#define RGBARCH "in=3x8x6 conv3x4 relu pool2 fc16 relu fc6 l2"

/* Replaces the n bytes of from (the first occurrence) by to in a saved
 * model and puts the CRC-32 right again. */
static void patch(unsigned char *buf, size_t len, const char *from,
                  const char *to, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(buf + i, from, n)) {
			memcpy(buf + i, to, n);
			break;
		}
	uint32_t c = siam_crc32(0, buf, len - 4);
	for (int k = 0; k < 4; k++)
		buf[len - 4 + k] = (unsigned char)(c >> (8 * k));
}

static void test_flip(void)
{
	/* The mirror of a 2-channel 2x3 input, by hand. */
	static const float src[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const float want_m[12] = { 3, 2, 1, 6, 5, 4,
	                                  9, 8, 7, 12, 11, 10 };
	float dst[12];
	siam_mirror_input(dst, src, 2, 2, 3);
	tap_ok(!memcmp(dst, want_m, sizeof dst),
	       "mirror: each row reversed, in each channel");
	tap_ok(siam_views_valid(1 | SIAM_VIEWS_FLIP) &&
	       siam_views_valid(9 | SIAM_VIEWS_FLIP) &&
	       !siam_views_valid(3 | SIAM_VIEWS_FLIP) &&
	       siam_views_count(5 | SIAM_VIEWS_FLIP) == 5,
	       "views with FLIP: valid counts and the count");

	siam_error err = { 0 };
	siam_net *net = NULL;
	tap_int(siam_net_create(&net, RGBARCH, &err), 0, "an RGB net");
	if (!net)
		return;
	siam_net_init(net, 7);
	enum { B = 70 };
	size_t in = siam_net_input_size(net);
	int D = siam_net_embed_dim(net);
	float *x = malloc(B * in * sizeof(float));
	float *mx = malloc(B * in * sizeof(float));
	float *a = malloc(B * D * sizeof(float));
	float *b = malloc(B * D * sizeof(float));
	float *p = malloc(2 * D * sizeof(float));
	siam_rng rng;
	siam_rng_seed(&rng, 11);
	for (size_t i = 0; i < B * in; i++)
		x[i] = siam_rng_uniform(&rng) * 2 - 1;
	for (int i = 0; i < B; i++)
		siam_mirror_input(mx + i * in, x + i * in, 3, 8, 6);

	int v1 = 1 | SIAM_VIEWS_FLIP;
	tap_int(siam_net_embed_views(net, x, B, v1, a, &err), 0, "tta=flip");
	tap_int(siam_net_embed_views(net, mx, B, v1, b, &err), 0,
	        "tta=flip, the mirrors");
	/* In a batch an input and its mirror sit at other rows of the
	 * GEMMs, whose kernels may round a row differently by position: the
	 * same within rounding.  One input at a time (siam query, verify,
	 * siam_embed) the two sums add the same two floats: bit for bit. */
	double dm = 0;
	for (size_t i = 0; i < (size_t)B * D; i++)
		dm = fmax(dm, fabs(a[i] - b[i]));
	tap_ok(dm < 1e-6, "a batch and its mirrors embed the same within "
	       "rounding (max |diff| %.2g)", dm);
	int same = 1;
	for (int i = 0; i < B; i++) {
		siam_net_embed_views(net, x + i * in, 1, v1, a, &err);
		siam_net_embed_views(net, mx + i * in, 1, v1, b, &err);
		same &= !memcmp(a, b, D * sizeof(float));
	}
	tap_ok(same, "one at a time: each input and its mirror, bit for bit");
	siam_net_embed_views(net, x, B, v1, a, &err);
	double worst = 0, unit = 0, moved = 0;
	for (int i = 0; i < B; i++) {
		float two[2 * 8 * 6 * 3];
		memcpy(two, x + i * in, in * sizeof(float));
		memcpy(two + in, mx + i * in, in * sizeof(float));
		siam_net_embed(net, two, 2, p, &err);
		double s[8], n = 0, un = 0;
		for (int k = 0; k < D; k++) {
			s[k] = (double)p[k] + p[D + k];
			n += s[k] * s[k];
			un += (double)a[i * D + k] * a[i * D + k];
		}
		for (int k = 0; k < D; k++) {
			worst = fmax(worst, fabs(a[i * D + k] - s[k] / sqrt(n)));
			moved = fmax(moved, fabs(a[i * D + k] - p[k]));
		}
		unit = fmax(unit, fabs(un - 1));
	}
	tap_ok(worst < 1e-6, "tta=flip = the sum of both by hand, "
	       "normalised (max |diff| %.2g)", worst);
	tap_ok(unit < 1e-5, "unit length (%.2g)", unit);
	tap_ok(moved > 1e-3, "and not the plain embedding (%.2g)", moved);
	int v5 = 5 | SIAM_VIEWS_FLIP;
	siam_net_embed_views(net, x, B, v5, a, &err);
	siam_net_embed_views(net, mx, B, v5, b, &err);
	double d5 = 0;
	for (size_t i = 0; i < (size_t)B * D; i++)
		d5 = fmax(d5, fabs(a[i] - b[i]));
	tap_ok(d5 < 1e-6, "5 views with tta=flip: the mirror within "
	       "rounding (the same sums in another order; %.2g)", d5);

	/* The model file. */
	siam_model *m = NULL, *back = NULL;
	siam_model_create(&m, RGBARCH, &err);
	siam_net_init(m->net, 7);
	m->views = 1 | SIAM_VIEWS_FLIP;
	void *buf = NULL;
	size_t len = 0;
	tap_int(siam_model_save_mem(m, &buf, &len, &err), 0, "save, tta=flip");
	tap_ok(contains(buf, len, "tta=flip\n", 9) &&
	       !contains(buf, len, "views=", 6),
	       "header says tta=flip (and no views=)");
	tap_int(siam_model_load_mem(&back, buf, len, "mem", &err), 0, "load");
	tap_int(back ? back->views : 0, 1 | SIAM_VIEWS_FLIP,
	        "tta=flip loaded");
	patch(buf, len, "tta=flip", "tta=blur", 8);
	siam_model *bad = NULL;
	tap_int(siam_model_load_mem(&bad, buf, len, "mem", &err),
	        SIAM_EFORMAT, "tta=blur: refused");
	tap_ok(strstr(err.msg, "tta") != NULL, "message: %s", err.msg);
	free(buf);

	/* An RGB image of the input's size and its mirror: the same. */
	siam_image img = { .w = 6, .h = 8, .c = 3 }, mir = img;
	img.px = malloc(6 * 8 * 3);
	mir.px = malloc(6 * 8 * 3);
	for (int i = 0; i < 6 * 8 * 3; i++)
		img.px[i] = (unsigned char)(i * 53 % 256);
	for (int y = 0; y < 8; y++)
		for (int xx = 0; xx < 6; xx++)
			for (int c = 0; c < 3; c++)
				mir.px[(y * 6 + xx) * 3 + c] =
					img.px[(y * 6 + 5 - xx) * 3 + c];
	float ea[8], eb[8];
	tap_int(back ? siam_model_embed_image(back, &img, ea, &err) : -1, 0,
	        "embed an image");
	tap_int(back ? siam_model_embed_image(back, &mir, eb, &err) : -1, 0,
	        "embed its mirror");
	tap_ok(!memcmp(ea, eb, D * sizeof(float)),
	       "an image and its mirror: the same embedding, bit for bit");
	free(img.px);
	free(mir.px);
	siam_model_free(m);
	siam_model_free(back);
	siam_net_free(net);
	free(x);
	free(mx);
	free(a);
	free(b);
	free(p);
}

int main(void)
{
	/* 1. The shift, on a 2-channel 3x4 input with values 100c + 10y + x. */
	float src[24], dst[24];
	for (int c = 0; c < 2; c++)
		for (int y = 0; y < 3; y++)
			for (int x = 0; x < 4; x++)
				src[c * 12 + y * 4 + x] = 100 * c + 10 * y + x;
	siam_shift_input(dst, src, 2, 3, 4, 1, 0);
	static const float right[12] = { 0, 0, 1, 2, 10, 10, 11, 12,
	                                 20, 20, 21, 22 };
	int ok = 1;
	for (int i = 0; i < 12; i++)
		ok &= dst[i] == right[i] && dst[12 + i] == right[i] + 100;
	tap_ok(ok, "one pixel right: columns move, the left edge repeats");
	siam_shift_input(dst, src, 2, 3, 4, -1, -1);
	static const float upleft[12] = { 11, 12, 13, 13, 21, 22, 23, 23,
	                                  21, 22, 23, 23 };
	ok = 1;
	for (int i = 0; i < 12; i++)
		ok &= dst[i] == upleft[i] && dst[12 + i] == upleft[i] + 100;
	tap_ok(ok, "one pixel up and left: the bottom and right edges repeat");
	siam_shift_input(dst, src, 2, 3, 4, 0, 0);
	tap_ok(!memcmp(dst, src, sizeof src), "no shift: a copy");

	/* 2. The mean over views against the hand computation, over more
	 * inputs than one chunk (64) holds. */
	siam_error err = { 0 };
	siam_net *net = NULL, *raw = NULL;
	tap_int(siam_net_create(&net, L2ARCH, &err), 0, "net ending in l2");
	tap_int(siam_net_create(&raw, RAWARCH, &err), 0, "net without l2");
	if (!net || !raw)
		return tap_done();
	siam_net_init(net, 5);
	siam_net_init(raw, 5);
	enum { B = 70 };
	size_t in = siam_net_input_size(net);
	int D = siam_net_embed_dim(net);
	float *x = malloc(B * in * sizeof(float));
	float *got = malloc(B * D * sizeof(float));
	float *plain = malloc(B * D * sizeof(float));
	double *want = malloc(B * D * sizeof(double));
	siam_rng rng;
	siam_rng_seed(&rng, 9);
	for (size_t i = 0; i < B * in; i++)
		x[i] = siam_rng_uniform(&rng) < 0.3f ? 1.0f : -0.4f;

	tap_int(siam_net_embed_views(net, x, B, 1, got, &err), 0, "1 view");
	siam_net_embed(net, x, B, plain, &err);
	tap_ok(!memcmp(got, plain, B * D * sizeof(float)),
	       "1 view is the plain embedding, bit for bit");
	for (int views = 5; views <= 9; views += 4) {
		tap_int(siam_net_embed_views(net, x, B, views, got, &err), 0,
		        "%d views", views);
		by_hand(net, x, B, views, 1, want);
		tap_ok(max_diff(got, want, B * D) < 1e-5,
		       "%d views = the mean by hand, unit length (max |diff| "
		       "%.2g)", views, max_diff(got, want, B * D));
		double n = 0;
		for (int k = 0; k < D; k++)
			n += (double)got[k] * got[k];
		tap_near(n, 1.0, 1e-5, "%d views: unit length", views);
		double moved = 0;
		for (size_t i = 0; i < (size_t)B * D; i++)
			moved = fmax(moved, fabs(got[i] - plain[i]));
		tap_ok(moved > 1e-3, "%d views differ from one (%.2g)", views,
		       moved);
	}
	tap_int(siam_net_embed_views(raw, x, B, 5, got, &err), 0,
	        "5 views, no l2");
	by_hand(raw, x, B, 5, 0, want);
	tap_ok(max_diff(got, want, B * D) < 1e-5,
	       "no l2: the plain mean, not rescaled (max |diff| %.2g)",
	       max_diff(got, want, B * D));
	tap_int(siam_net_embed_views(net, x, B, 3, got, &err), SIAM_EINVAL,
	        "3 views: EINVAL");
	tap_ok(strstr(err.msg, "1, 5 or 9") != NULL, "message: %s", err.msg);

	/* 3. A model keeps its views through a file and embeds images over
	 * them. */
	siam_model *m = NULL, *back = NULL;
	siam_model_create(&m, L2ARCH, &err);
	tap_int(m->views, 1, "a new model has 1 view");
	void *buf = NULL;
	size_t len = 0;
	siam_model_save_mem(m, &buf, &len, &err);
	tap_ok(buf && !contains(buf, len, "views=", 6),
	       "1 view is not written: old model files keep their bytes");
	free(buf);
	siam_net_init(m->net, 5);
	m->views = 9;
	tap_int(siam_model_save_mem(m, &buf, &len, &err), 0, "save, 9 views");
	tap_ok(contains(buf, len, "views=9\n", 8), "header says views=9");
	tap_int(siam_model_load_mem(&back, buf, len, "mem", &err), 0, "load");
	tap_int(back ? back->views : 0, 9, "9 views loaded");
	free(buf);
	m->views = 4;
	tap_int(siam_model_save_mem(m, &buf, &len, &err), SIAM_EINVAL,
	        "4 views are not saved");
	m->views = 9;

	siam_image img = { .w = 10, .h = 12, .c = 1 };
	img.px = malloc(120);
	for (int i = 0; i < 120; i++)
		img.px[i] = (unsigned char)(i * 37 % 256);
	float *pre = malloc(in * sizeof(float));
	siam_preprocess(pre, &img, &back->pre, &err);
	tap_int(siam_model_embed_image(back, &img, got, &err), 0,
	        "embed an image over 9 views");
	by_hand(back->net, pre, 1, 9, 1, want);
	tap_ok(max_diff(got, want, D) < 1e-5,
	       "the image's embedding is its mean over 9 views");
	free(img.px);
	free(pre);
	siam_model_free(m);
	siam_model_free(back);
	siam_net_free(net);
	siam_net_free(raw);
	free(x);
	free(got);
	free(plain);
	free(want);
	test_flip();
	return tap_done();
}
