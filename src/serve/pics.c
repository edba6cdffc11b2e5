/*
 * pics.c -- pictures siam serve sends: a thumbnail of an indexed image
 * and the network's input (the picture after the model's preprocessing,
 * so a surprising verdict explains itself), both as PNG made in memory
 * with stb_image_write.
 */
#include "config.h"
#include "serve/serve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

typedef struct png_out {
	unsigned char *p;
	size_t n, cap;
	int fail;
} png_out;

static void png_write(void *arg, void *data, int size)
{
	png_out *o = arg;
	if (o->fail || size <= 0)
		return;
	if (o->n + (size_t)size > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->n + (size_t)size)
			cap *= 2;
		unsigned char *p = realloc(o->p, cap);
		if (!p) {
			o->fail = 1;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->n, data, (size_t)size);
	o->n += (size_t)size;
}

/* px: h rows of w*c bytes (c 1 or 3). */
static int encode(const unsigned char *px, int w, int h, int c,
                  unsigned char **png, size_t *len, siam_error *err)
{
	png_out o = { 0 };
	if (!stbi_write_png_to_func(png_write, &o, w, h, c, px, w * c) ||
	    o.fail) {
		free(o.p);
		return siam_errorf(err, SIAM_ENOMEM, "cannot encode PNG: out "
		                   "of memory");
	}
	*png = o.p;
	*len = o.n;
	return 0;
}

static unsigned char to_byte(float v)
{
	v = v < 0 ? 0 : v > 255 ? 255 : v;
	return (unsigned char)lrintf(v);
}

int serve_png_thumb(const siam_image *img, int max, unsigned char **png,
                    size_t *len, siam_error *err)
{
	int w = img->w, h = img->h, c = img->c;
	if (w <= 0 || h <= 0 || (c != 1 && c != 3))
		return siam_errorf(err, SIAM_EINVAL, "empty image");
	if (w <= max && h <= max)
		return encode(img->px, w, h, c, png, len, err);
	/* fit into max x max, keeping the aspect ratio */
	int tw = w >= h ? max : (int)lround((double)w * max / h);
	int th = h > w ? max : (int)lround((double)h * max / w);
	tw = tw < 1 ? 1 : tw;
	th = th < 1 ? 1 : th;
	size_t ns = (size_t)w * h * c, nt = (size_t)tw * th * c;
	float *src = malloc(ns * sizeof *src), *dst = malloc(nt * sizeof *dst);
	unsigned char *px = malloc(nt);
	int rc = SIAM_ENOMEM;
	if (!src || !dst || !px) {
		siam_errorf(err, rc, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < ns; i++)
		src[i] = img->px[i];
	siam_resize_area(dst, tw, th, src, w, h, c);
	for (size_t i = 0; i < nt; i++)
		px[i] = to_byte(dst[i]);
	rc = encode(px, tw, th, c, png, len, err);
done:
	free(src);
	free(dst);
	free(px);
	return rc;
}

int serve_png_input(const siam_model *m, const siam_image *img,
                    unsigned char **png, size_t *len, siam_error *err)
{
	const siam_preproc *pre = &m->pre;
	int c = pre->c, h = pre->h, w = pre->w;
	size_t plane = (size_t)h * w;
	float *x = malloc(plane * c * sizeof *x);
	unsigned char *px = malloc(plane * c);
	int rc = SIAM_ENOMEM;
	if (!x || !px) {
		siam_errorf(err, rc, "out of memory");
		goto done;
	}
	if ((rc = siam_preprocess(x, img, pre, err)))
		goto done;
	/* back from (pixel/255 - mean) / std, planes to interleaved */
	for (int k = 0; k < c; k++)
		for (size_t i = 0; i < plane; i++)
			px[i * c + k] = to_byte(
				(x[k * plane + i] * pre->std + pre->mean) * 255.0f);
	rc = (c == 1 || c == 3) ? encode(px, w, h, c, png, len, err)
	     : siam_errorf(err, SIAM_EINVAL, "a %d-channel input has no "
	                   "picture", c);
done:
	free(x);
	free(px);
	return rc;
}
