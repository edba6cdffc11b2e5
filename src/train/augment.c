/*
 * augment.c -- random small distortions of one network input.
 *
 * A digit written again is the same digit shifted, turned and scaled a
 * little; showing the network such copies teaches it to ignore exactly
 * those changes, which is also what lets it place classes it never saw.
 * For unlabelled data (augment:DIR) two distortions of one image are the
 * only positive pairs there are.  For photos the distortions are the
 * edits people make to copies (photo_aug.c), named in the same list.
 */
#include "internal.h"
#include "siam_nn.h"
#include "train/photo_aug.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void siam_augment_default(siam_augment *a)
{
	memset(a, 0, sizeof *a);
	a->shift = 0.1f;
	a->rotate = 12.0f;
	a->scale = 0.1f;
	a->bright = 0;
	a->contrast = 0;
	a->elastic = 0;
	a->sigma = 4;
}

void siam_augment_photo(siam_augment *a)
{
	siam_augment_default(a);
	/* The crop moves and scales; the affine part only turns, a little,
	 * as a copy straightened by hand is. */
	a->shift = 0;
	a->scale = 0;
	a->rotate = 5;
	a->edge = 0.5f;
	a->flip = 0.5f;
	a->crop = 0.5f;
	a->brightness = 0.2f;
	a->contrast = 0.2f;
	a->saturation = 0.3f;
	a->gray = 0.1f;
	a->jpeg = 0.4f;
	a->blur = 1;
	a->downscale = 0.4f;
	a->overlay = 0.15f;
	a->pad = 0.12f;
}

/* The names of --augment=LIST, their fields and their largest value. */
static const struct {
	const char *name;
	size_t off;
	float max;
} fields[] = {
	{ "shift", offsetof(siam_augment, shift), 1000 },
	{ "rotate", offsetof(siam_augment, rotate), 1000 },
	{ "scale", offsetof(siam_augment, scale), 1000 },
	{ "bright", offsetof(siam_augment, bright), 1000 },
	{ "contrast", offsetof(siam_augment, contrast), 1000 },
	{ "elastic", offsetof(siam_augment, elastic), 1000 },
	{ "sigma", offsetof(siam_augment, sigma), 1000 },
	{ "flip", offsetof(siam_augment, flip), 1 },
	{ "crop", offsetof(siam_augment, crop), 1 },
	{ "brightness", offsetof(siam_augment, brightness), 1 },
	{ "saturation", offsetof(siam_augment, saturation), 1 },
	{ "gray", offsetof(siam_augment, gray), 1 },
	{ "jpeg", offsetof(siam_augment, jpeg), 1 },
	{ "blur", offsetof(siam_augment, blur), 1000 },
	{ "downscale", offsetof(siam_augment, downscale), 1 },
	{ "edge", offsetof(siam_augment, edge), 1 },
	{ "overlay", offsetof(siam_augment, overlay), 1 },
	{ "pad", offsetof(siam_augment, pad), 0.4f },
};

int siam_augment_parse(siam_augment *a, const char *list, siam_error *err)
{
	siam_augment_default(a);
	if (!list)
		return 0;
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	int rc = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		if (!eq) {
			if (!strcmp(tok, "photo"))
				siam_augment_photo(a);
			else
				rc = siam_errorf(err, SIAM_EINVAL,
				                 "augment: '%s' is neither "
				                 "NAME=VALUE nor a preset "
				                 "(photo)", tok);
			continue;
		}
		*eq = 0;
		size_t f = 0, nf = sizeof fields / sizeof fields[0];
		while (f < nf && strcmp(tok, fields[f].name))
			f++;
		if (f == nf) {
			rc = siam_errorf(err, SIAM_EINVAL,
			                 "augment: unknown name '%s'", tok);
			continue;
		}
		errno = 0;
		double v = strtod(eq + 1, &end);
		if (errno || end == eq + 1 || *end || !(v >= 0) ||
		    v > fields[f].max) {
			rc = siam_errorf(err, SIAM_EINVAL,
			                 "augment: %s=%s is not a number in "
			                 "[0, %g]", tok, eq + 1,
			                 (double)fields[f].max);
			continue;
		}
		*(float *)((char *)a + fields[f].off) = (float)v;
	}
	free(copy);
	return rc;
}

/* Smooths a field (h, w) with a normalised Gaussian of std sigma along
 * rows then columns; tmp is scratch of the same size. */
static void gauss_blur(float *f, float *tmp, int h, int w, float sigma)
{
	int r = (int)ceilf(3 * sigma);
	if (r > 32)
		r = 32;
	float k[65], sum = 0;
	for (int i = -r; i <= r; i++)
		sum += k[i + r] = expf(-0.5f * i * i / (sigma * sigma));
	for (int i = 0; i <= 2 * r; i++)
		k[i] /= sum;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			float v = 0;
			for (int i = -r; i <= r; i++)
				if (x + i >= 0 && x + i < w)
					v += k[i + r] * f[y * w + x + i];
			tmp[y * w + x] = v;
		}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			float v = 0;
			for (int i = -r; i <= r; i++)
				if (y + i >= 0 && y + i < h)
					v += k[i + r] * tmp[(y + i) * w + x];
			f[y * w + x] = v;
		}
}

/* Uniform in [-1, 1). */
static float sym(siam_rng *rng)
{
	return 2.0f * siam_rng_uniform(rng) - 1.0f;
}

void siam_augment_apply(float *out, const float *inp, int c, int h, int w,
                        float fill, const siam_augment *a, siam_rng *rng)
{
	/* Draw every parameter, used or not, so that the stream of random
	 * numbers does not depend on which distortions are switched on. */
	float tx = sym(rng) * a->shift * w, ty = sym(rng) * a->shift * h;
	float th = sym(rng) * a->rotate * (float)(M_PI / 180.0);
	float s = 1.0f + sym(rng) * a->scale;
	float db = sym(rng) * a->bright, dc = 1.0f + sym(rng) * a->contrast;
	if (s < 0.05f)
		s = 0.05f;
	/* The elastic field is drawn last, so that switching it on leaves
	 * the affine parameters of a given seed as they were. */
	float *ex = NULL, *ey = NULL, *tmp = NULL;
	if (a->elastic > 0 && a->sigma > 0 && !out) {
		for (size_t i = 0; i < 2 * (size_t)h * w; i++)
			(void)sym(rng);
	} else if (a->elastic > 0 && a->sigma > 0) {
		size_t hw = (size_t)h * w;
		ex = malloc(3 * hw * sizeof(float));
		if (ex) {
			ey = ex + hw;
			tmp = ey + hw;
			for (size_t i = 0; i < 2 * hw; i++)
				ex[i] = sym(rng);
			gauss_blur(ex, tmp, h, w, a->sigma);
			gauss_blur(ey, tmp, h, w, a->sigma);
		}
	}
	/* The photo edits draw after everything above, and only when asked
	 * for, so that the older distortions keep their numbers. */
	aug_photo ph;
	int photo = aug_photo_on(a);
	if (photo)
		aug_photo_draw(&ph, a, rng, h, w);
	if (!out)
		return; /* only the draws: another rank's input (train.c) */
	int edge = photo && ph.edge;
	/* Output pixel p maps back to input R(-th) (p - centre - t) / s +
	 * centre, so the image turns by th, grows by s and moves by t. */
	float cs = cosf(th) / s, sn = sinf(th) / s;
	float cx = 0.5f * (w - 1), cy = 0.5f * (h - 1);
	size_t plane = (size_t)h * w;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			float px = x - cx - tx, py = y - cy - ty;
			if (ex) {
				px += a->elastic * ex[y * w + x];
				py += a->elastic * ey[y * w + x];
			}
			float sx = cs * px + sn * py + cx;
			float sy = -sn * px + cs * py + cy;
			if (edge) {
				sx = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
				sy = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
			}
			int x0 = (int)floorf(sx), y0 = (int)floorf(sy);
			float fx = sx - x0, fy = sy - y0;
			for (int ch = 0; ch < c; ch++) {
				const float *src = inp + ch * plane;
				float v00 = fill, v01 = fill, v10 = fill,
				      v11 = fill;
				if (y0 >= 0 && y0 < h) {
					if (x0 >= 0 && x0 < w)
						v00 = src[y0 * w + x0];
					if (x0 + 1 >= 0 && x0 + 1 < w)
						v01 = src[y0 * w + x0 + 1];
				}
				if (y0 + 1 >= 0 && y0 + 1 < h) {
					if (x0 >= 0 && x0 < w)
						v10 = src[(y0 + 1) * w + x0];
					if (x0 + 1 >= 0 && x0 + 1 < w)
						v11 = src[(y0 + 1) * w + x0 + 1];
				}
				out[ch * plane + (size_t)y * w + x] =
					(1 - fy) * ((1 - fx) * v00 + fx * v01) +
					fy * ((1 - fx) * v10 + fx * v11);
			}
		}
	}
	free(ex);
	if (a->bright != 0 || a->contrast != 0) {
		size_t n = plane * c;
		double mean = 0;
		for (size_t i = 0; i < n; i++)
			mean += out[i];
		float m = (float)(mean / n);
		for (size_t i = 0; i < n; i++)
			out[i] = (out[i] - m) * dc + m + db;
	}
	if (photo)
		(void)aug_photo_apply(out, c, h, w, fill, &ph);
}
