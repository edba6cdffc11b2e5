/*
 * tiff.c -- TIFF through libtiff: the first page (directory), any
 * photometric libtiff's RGBA interface reads (gray, RGB, palette, CMYK,
 * YCbCr, 8 or 16 bits, strips or tiles, LZW/Deflate/JPEG/PackBits...),
 * and the file's Orientation tag.
 *
 * libtiff reads from our buffer through client callbacks, so nothing
 * touches the file system; its errors and warnings go to per-handle
 * handlers (libtiff >= 4.5) that keep the first error for our message
 * and print nothing, which also keeps decoding thread-safe (the global
 * handlers are never touched).  Dimensions are checked before the
 * raster is allocated, and libtiff's own allocations are capped.
 */
#include "image/image.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tiffio.h>

typedef struct mem {
	const unsigned char *d;
	size_t len, pos;
	char msg[160]; /* libtiff's first error */
} mem;

static tmsize_t m_read(thandle_t h, void *buf, tmsize_t n)
{
	mem *m = (mem *)h;
	size_t k;
	if (n <= 0 || m->pos >= m->len)
		return 0;
	k = SIAM_MIN((size_t)n, m->len - m->pos);
	memcpy(buf, m->d + m->pos, k);
	m->pos += k;
	return (tmsize_t)k;
}

static tmsize_t m_write(thandle_t h, void *buf, tmsize_t n)
{
	(void)h, (void)buf, (void)n;
	return -1;
}

static toff_t m_seek(thandle_t h, toff_t off, int whence)
{
	mem *m = (mem *)h;
	uint64_t base = whence == SEEK_CUR ? m->pos
	                : whence == SEEK_END ? m->len : 0;
	/* Seeking past the end is allowed (reads there return nothing);
	 * wrapping around is not. */
	if (whence != SEEK_SET && off > UINT64_MAX - base)
		return (toff_t)-1;
	m->pos = whence == SEEK_SET ? (size_t)off : (size_t)(base + off);
	return (toff_t)m->pos;
}

static int m_close(thandle_t h)
{
	(void)h;
	return 0;
}

static toff_t m_size(thandle_t h)
{
	return (toff_t)((mem *)h)->len;
}

static int m_map(thandle_t h, void **base, toff_t *size)
{
	(void)h, (void)base, (void)size;
	return 0;
}

static void m_unmap(thandle_t h, void *base, toff_t size)
{
	(void)h, (void)base, (void)size;
}

/* Keeps the first error; returning 1 stops libtiff from also calling
 * its global handler (which prints to stderr). */
static int on_error(TIFF *tif, void *user, const char *module,
                    const char *fmt, va_list ap)
{
	mem *m = user;
	(void)tif, (void)module;
	if (!m->msg[0])
		vsnprintf(m->msg, sizeof m->msg, fmt, ap);
	return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module,
                      const char *fmt, va_list ap)
{
	(void)tif, (void)user, (void)module, (void)fmt, (void)ap;
	return 1;
}

int img_decode_tiff(siam_image *out, int *orient, const unsigned char *d,
                    size_t len, const char *name,
                    const siam_image_limits *lim, siam_error *err)
{
	mem m = { d, len, 0, "" };
	TIFFOpenOptions *opt = NULL;
	TIFF *tif = NULL;
	uint32_t w = 0, h = 0, *raster = NULL;
	uint16_t o = 1, spp = 1, photo = 0;
	char emsg[1024];
	size_t npx, i;
	int rc, c;

	*orient = 1;
	if (!(opt = TIFFOpenOptionsAlloc()))
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", name);
	TIFFOpenOptionsSetErrorHandlerExtR(opt, on_error, &m);
	TIFFOpenOptionsSetWarningHandlerExtR(opt, on_warning, &m);
	/* Strips and tiles: at most 8 bytes a pixel of the largest
	 * picture we accept (16-bit RGBA), plus room for headers. */
	TIFFOpenOptionsSetMaxSingleMemAlloc(
		opt, (tmsize_t)SIAM_MIN(lim->max_pixels, (1LL << 40)) * 8 +
		             (1 << 20));
	/* "m": no memory mapping, everything through m_read. */
	tif = TIFFClientOpenExt(name, "rm", (thandle_t)&m, m_read, m_write,
	                        m_seek, m_close, m_size, m_map, m_unmap, opt);
	if (!tif) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: not a readable TIFF "
		                 "(%s)", name, m.msg[0] ? m.msg : "bad header");
		goto fail;
	}
	if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) ||
	    !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h)) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: TIFF without "
		                 "dimensions", name);
		goto fail;
	}
	if ((rc = img_check_pixels(w, h, name, lim, err)))
		goto fail;
	TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &o);
	TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
	TIFFGetFieldDefaulted(tif, TIFFTAG_PHOTOMETRIC, &photo);
	if (!TIFFRGBAImageOK(tif, emsg)) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: unsupported TIFF (%s)",
		                 name, emsg);
		goto fail;
	}
	npx = (size_t)w * h;
	if (!(raster = siam_xmalloc_n(npx, sizeof *raster))) {
		rc = siam_errorf(err, SIAM_ENOMEM, "%s: out of memory for "
		                 "%ux%u pixels", name, w, h);
		goto fail;
	}
	/* Asking for the file's own orientation makes libtiff flip
	 * nothing: the raster is in stored order, and img_orient turns it
	 * (libtiff itself would ignore the transposing orientations 5..8). */
	if (o < 1 || o > 8)
		o = 1;
	if (!TIFFReadRGBAImageOriented(tif, w, h, raster, o, 1)) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: cannot decode TIFF "
		                 "(%s)", name, m.msg[0] ? m.msg : "corrupt data");
		goto fail;
	}
	c = (spp <= 2 && (photo == PHOTOMETRIC_MINISBLACK ||
	                  photo == PHOTOMETRIC_MINISWHITE)) ? 1 : 3;
	if ((rc = img_alloc(out, (int)w, (int)h, c, name, err)))
		goto fail;
	/* The raster's alpha is associated (premultiplied): over white
	 * paper, v + (255 - a). */
	for (i = 0; i < npx; i++) {
		uint32_t p = raster[i];
		unsigned a = TIFFGetA(p), wh = 255 - a;
		if (c == 1) {
			out->px[i] = (unsigned char)SIAM_MIN(TIFFGetR(p) + wh, 255u);
		} else {
			out->px[3 * i] = (unsigned char)SIAM_MIN(TIFFGetR(p) + wh, 255u);
			out->px[3 * i + 1] = (unsigned char)SIAM_MIN(TIFFGetG(p) + wh, 255u);
			out->px[3 * i + 2] = (unsigned char)SIAM_MIN(TIFFGetB(p) + wh, 255u);
		}
	}
	*orient = o;
	free(raster);
	TIFFClose(tif);
	TIFFOpenOptionsFree(opt);
	return 0;

fail:
	free(raster);
	siam_image_release(out);
	if (tif)
		TIFFClose(tif);
	TIFFOpenOptionsFree(opt);
	return rc;
}
