/*
 * test_verify.c -- siam_verify, the one call an application makes to
 * compare two images: on the shipped models and the fixture digits it
 * gives the same distance, to the bit, and the same verdict as the calls
 * it stands for (load each image, siam_model_embed_image, the distance,
 * the model's threshold), with a model of one view and one of nine; and
 * its errors name the image at fault.
 */
#include "tap.h"
#include "siam.h"

#include <string.h>

static char srcdir[4096];

static const char *path(const char *rel)
{
	static char buf[2][4400];
	static int which;
	which ^= 1;
	snprintf(buf[which], sizeof buf[which], "%s/%s", srcdir, rel);
	return buf[which];
}

/* The distance the long way, or -1 on an error. */
static float by_hand(siam_model *m, const char *a, const char *b)
{
	siam_image ia = { 0 }, ib = { 0 };
	siam_image_limits lim;
	int D = siam_model_embed_dim(m);
	float *ea = malloc(sizeof(float) * D), *eb = malloc(sizeof(float) * D);
	float d = -1;
	siam_image_limits_default(&lim);
	siam_image_limits_want(&lim, &m->pre);
	if (ea && eb && !siam_image_load(&ia, a, &lim, NULL) &&
	    !siam_image_load(&ib, b, &lim, NULL) &&
	    !siam_model_embed_image(m, &ia, ea, NULL) &&
	    !siam_model_embed_image(m, &ib, eb, NULL))
		d = siam_l2_distance(ea, eb, D);
	siam_image_release(&ia);
	siam_image_release(&ib);
	free(ea);
	free(eb);
	return d;
}

static void pair(siam_model *m, const char *name, const char *a,
                 const char *b, int want_same)
{
	float d = -1, h = by_hand(m, path(a), path(b));
	int same = -1;
	siam_error err = { 0, "" };
	int rc = siam_verify(m, path(a), path(b), &d, &same, &err);
	tap_ok(rc == 0, "%s: %s vs %s verified (%s)", name, a, b, err.msg);
	tap_ok(h >= 0 && !memcmp(&d, &h, sizeof d),
	       "%s: distance %.9g = the multi-call path's %.9g, bit for bit",
	       name, (double)d, (double)h);
	tap_ok(same == (h < m->threshold) && same == want_same,
	       "%s: verdict %d = (distance < threshold %.4f), want %d", name,
	       same, (double)m->threshold, want_same);
}

int main(void)
{
	const char *s = getenv("SIAM_SRCDIR");
	snprintf(srcdir, sizeof srcdir, "%s", s ? s : ".");
	siam_model *m = NULL, *m9 = NULL;
	siam_error err = { 0, "" };
	int rc = siam_model_load(&m, path("models/mnist.siam"), &err);
	tap_ok(rc == 0, "load models/mnist.siam (%s)", err.msg);
	rc = siam_model_load(&m9, path("models/mnist-0-4.siam"), &err);
	tap_ok(rc == 0, "load models/mnist-0-4.siam (%s)", err.msg);
	if (!m || !m9)
		return tap_done();
	tap_int(siam_model_embed_dim(m), 64, "embedding length of mnist.siam");
	tap_int(siam_model_embed_dim(NULL), 0, "embedding length of no model");
	tap_int(m9->views, 9, "mnist-0-4.siam embeds over nine views");

	pair(m, "mnist", "tests/fixtures/digits/seven_a.png",
	     "tests/fixtures/digits/seven_b.jpg", 1);
	pair(m, "mnist", "tests/fixtures/digits/seven_a.png",
	     "tests/fixtures/digits/one_a.png", 0);
	pair(m, "mnist", "examples/digits/3/drawn-0093.png",
	     "examples/digits/3/mnist-0018.png", 1);
	pair(m9, "mnist-0-4", "tests/fixtures/digits/one_a.png",
	     "tests/fixtures/digits/one_b.jpg", 1);
	pair(m9, "mnist-0-4", "tests/fixtures/digits/zero_a.png",
	     "tests/fixtures/digits/two_a.jpg", 0);

	/* distance and verdict may each be left out */
	float d = -1;
	rc = siam_verify(m, path("tests/fixtures/digits/seven_a.png"),
	                 path("tests/fixtures/digits/seven_a.png"), &d, NULL,
	                 NULL);
	tap_ok(rc == 0 && d == 0.0f, "an image against itself: distance %g",
	       (double)d);
	int same = -1;
	rc = siam_verify(m, path("tests/fixtures/digits/seven_a.png"),
	                 path("tests/fixtures/digits/one_a.png"), NULL, &same,
	                 NULL);
	tap_ok(rc == 0 && same == 0, "verdict without the distance");

	/* errors */
	const char *missing = path("tests/fixtures/digits/no-such.png");
	rc = siam_verify(m, path("tests/fixtures/digits/seven_a.png"), missing,
	                 &d, &same, &err);
	tap_int(rc, SIAM_EIO, "a missing second image: EIO");
	tap_ok(strstr(err.msg, "no-such.png") != NULL,
	       "the message names it: %s", err.msg);
	const char *notimg = path("tests/test_verify.c");
	rc = siam_verify(m, notimg, missing, &d, &same, &err);
	tap_int(rc, SIAM_EFORMAT, "a first image that is not one: EFORMAT");
	tap_ok(strstr(err.msg, "test_verify.c") != NULL,
	       "the message names it, not the second: %s", err.msg);
	rc = siam_verify(m, "-", "-", &d, &same, &err);
	tap_int(rc, SIAM_EINVAL, "both from standard input: EINVAL (%s)",
	        err.msg);
	rc = siam_verify(NULL, notimg, notimg, &d, &same, &err);
	tap_int(rc, SIAM_EINVAL, "no model: EINVAL (%s)", err.msg);
	rc = siam_verify(m, notimg, missing, NULL, NULL, NULL);
	tap_int(rc, SIAM_EFORMAT, "errors without an error struct");

	siam_model_free(m);
	siam_model_free(m9);
	return tap_done();
}
