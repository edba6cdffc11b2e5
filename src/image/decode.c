/*
 * decode.c -- siam_image_decode: from encoded bytes to upright 8-bit
 * gray or RGB pixels, whatever the format.
 *
 * The checks every input needs happen here once (no data, empty, above
 * max_bytes); the format is recognised by content (sniff.c) and one
 * decoder of src/image/ does the rest (image.h states what each one
 * promises); then the EXIF orientation it found is applied, so every
 * caller (verify, index, query, siam_embed(), training data) sees the
 * picture the way a viewer shows it.
 */
#include "image/image.h"

#include <string.h>

/* What a digit model wants of each side (see siam_image_limits_want). */
#define DIGIT_WANT 1000

void siam_image_limits_default(siam_image_limits *lim)
{
	lim->max_pixels = SIAM_DEFAULT_MAX_PIXELS;
	lim->max_bytes = SIAM_DEFAULT_MAX_BYTES;
	lim->want_w = 0;
	lim->want_h = 0;
}

void siam_image_limits_want(siam_image_limits *lim, const siam_preproc *pre)
{
	int side;

	if (pre->digit) {
		/* The digit convention crops to the ink, which may be a
		 * small part of the picture, and measures its strokes:
		 * only a picture far larger than any digit needs is
		 * reduced, and it keeps DIGIT_WANT pixels a side: the
		 * digit path works on at most 2000x2000 anyway, and a digit
		 * a tenth of such a side still spans 100 pixels. */
		lim->want_w = lim->want_h = DIGIT_WANT;
		return;
	}
	/* The network's input, and the perceptual hash's 32x32. */
	side = 32;
	lim->want_w = SIAM_MAX(pre->w, side);
	lim->want_h = SIAM_MAX(pre->h, side);
}

void siam_image_release(siam_image *img)
{
	if (!img)
		return;
	free(img->px);
	memset(img, 0, sizeof *img);
}

/* v*a + 255*(1-a), rounded: the pixel seen on white paper. */
static unsigned char over_white(unsigned v, unsigned a)
{
	return (unsigned char)((v * a + 255u * (255u - a) + 127u) / 255u);
}

void img_rgba_over_white(unsigned char *dst, const unsigned char *src,
                         size_t npx)
{
	for (size_t i = 0; i < npx; i++) {
		unsigned a = src[4 * i + 3];
		dst[3 * i + 0] = over_white(src[4 * i + 0], a);
		dst[3 * i + 1] = over_white(src[4 * i + 1], a);
		dst[3 * i + 2] = over_white(src[4 * i + 2], a);
	}
}

void img_ga_over_white(unsigned char *dst, const unsigned char *src,
                       size_t npx)
{
	for (size_t i = 0; i < npx; i++)
		dst[i] = over_white(src[2 * i], src[2 * i + 1]);
}

int img_check_pixels(long long w, long long h, const char *name,
                     const siam_image_limits *lim, siam_error *err)
{
	if (w <= 0 || h <= 0)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: image of %lldx%lld pixels", name, w, h);
	/* In long double: two 32-bit sides overflow nothing there. */
	if ((long double)w * h > (long double)lim->max_pixels)
		return siam_errorf(err, SIAM_ETOOBIG,
		                   "%s: image of %lldx%lld pixels (%.1f Mpx), "
		                   "above the limit of %.1f Mpx", name, w, h,
		                   (double)w * (double)h / 1e6,
		                   lim->max_pixels / 1e6);
	return 0;
}

int img_alloc(siam_image *out, int w, int h, int c, const char *name,
              siam_error *err)
{
	out->px = siam_xmalloc_n((size_t)w * (size_t)h, (size_t)c);
	if (!out->px)
		return siam_errorf(err, SIAM_ENOMEM,
		                   "%s: out of memory for %dx%d pixels", name, w,
		                   h);
	out->w = out->full_w = w;
	out->h = out->full_h = h;
	out->c = c;
	return 0;
}

const char *siam_image_formats(void)
{
	/* Built once from constants: the same text on every call. */
	static const char text[] =
		"JPEG (libjpeg-turbo, DCT-scaled), PNG, GIF, BMP, TGA, PNM, "
		"PSD, HDR, PIC (stb_image), WebP (libwebp), TIFF (libtiff)"
#ifdef HAVE_LIBHEIF
		", HEIC, AVIF (libheif)"
#endif
		;
	return text;
}

int siam_image_decode(siam_image *out, const void *data, size_t len,
                      const char *name, const siam_image_limits *lim,
                      siam_error *err)
{
	siam_image_limits deflim;
	img_decoder *dec;
	int orient = 1, rc;

	if (!out)
		return siam_errorf(err, SIAM_EINVAL, "siam_image_decode: no output");
	memset(out, 0, sizeof *out);
	if (!name)
		name = "image";
	if (!lim) {
		siam_image_limits_default(&deflim);
		lim = &deflim;
	}
	if (!data && len)
		return siam_errorf(err, SIAM_EINVAL, "%s: no data", name);
	if (len == 0)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: empty file, not an image", name);
	if (len > lim->max_bytes)
		return siam_errorf(err, SIAM_ETOOBIG,
		                   "%s: %zu bytes, above the limit of %zu bytes",
		                   name, len, lim->max_bytes);

	switch (img_sniff(data, len)) {
	case IMG_JPEG: dec = img_decode_jpeg; break;
	case IMG_WEBP: dec = img_decode_webp; break;
	case IMG_TIFF: dec = img_decode_tiff; break;
	case IMG_HEIF:
#ifdef HAVE_LIBHEIF
		dec = img_decode_heif;
		break;
#else
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: HEIF/AVIF image, but this siam was "
		                   "built without libheif", name);
#endif
	default: dec = img_decode_stb; break;
	}
	if ((rc = dec(out, &orient, data, len, name, lim, err)))
		goto fail;
	if ((rc = img_orient(out, orient, name, err)))
		goto fail;
	return 0;

fail:
	siam_image_release(out);
	return rc;
}
