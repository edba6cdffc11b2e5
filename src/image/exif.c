/*
 * exif.c -- camera orientation: the EXIF Orientation tag, read and
 * applied.
 *
 * A phone held upright stores the sensor's landscape pixels and a tag
 * (0x0112 in IFD0) saying how to turn them: 1 upright, 2 mirrored, 3
 * upside down, 4 flipped, 5 transposed, 6 turned 90 degrees clockwise,
 * 7 transversed, 8 turned 90 degrees anticlockwise (the TIFF 6.0
 * values, which TIFF files use for their own Orientation tag too).
 * Every viewer applies it, so siam does, on load: a phone picture and
 * its upright copy must embed alike.
 *
 * The block is untrusted: every offset is checked against its length,
 * and anything malformed means "no orientation" (1), never an error, as
 * viewers do; the pixels are still good.
 */
#include "image/image.h"

#include <string.h>

static unsigned rd16(const unsigned char *p, int le)
{
	return le ? (unsigned)p[0] | (unsigned)p[1] << 8
	          : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static unsigned long rd32(const unsigned char *p, int le)
{
	return le ? (unsigned long)rd16(p, 1) | (unsigned long)rd16(p + 2, 1) << 16
	          : (unsigned long)rd16(p, 0) << 16 | (unsigned long)rd16(p + 2, 0);
}

int img_exif_orientation(const unsigned char *d, size_t n)
{
	unsigned long ifd;
	unsigned count, i;
	int le;

	if (n >= 6 && !memcmp(d, "Exif\0\0", 6)) {
		d += 6;
		n -= 6;
	}
	if (n < 8)
		return 1;
	if (!memcmp(d, "II*\0", 4))
		le = 1;
	else if (!memcmp(d, "MM\0*", 4))
		le = 0;
	else
		return 1;
	ifd = rd32(d + 4, le);
	if (ifd < 8 || ifd > n - 2)
		return 1;
	count = rd16(d + ifd, le);
	for (i = 0; i < count; i++) {
		size_t e = (size_t)ifd + 2 + (size_t)i * 12;
		unsigned v;
		if (e + 12 > n)
			return 1;
		if (rd16(d + e, le) != 0x0112)
			continue;
		/* SHORT, count 1: the value sits in the entry itself. */
		if (rd16(d + e + 2, le) != 3 || rd32(d + e + 4, le) != 1)
			return 1;
		v = rd16(d + e + 8, le);
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

int img_orient(siam_image *img, int o, const char *name, siam_error *err)
{
	const int w = img->w, h = img->h, c = img->c;
	const int swap = o >= 5;
	const int ow = swap ? h : w, oh = swap ? w : h;
	unsigned char *dst;
	int x, y, k;

	if (o < 2 || o > 8 || !img->px)
		return 0;
	dst = siam_xmalloc_n((size_t)w * (size_t)h, (size_t)c);
	if (!dst)
		return siam_errorf(err, SIAM_ENOMEM,
		                   "%s: out of memory turning %dx%d pixels "
		                   "upright", name, w, h);
	/* Upright pixel (x, y) is stored pixel (sx, sy). */
	for (y = 0; y < oh; y++)
		for (x = 0; x < ow; x++) {
			int sx, sy;
			switch (o) {
			case 2: sx = w - 1 - x; sy = y; break;
			case 3: sx = w - 1 - x; sy = h - 1 - y; break;
			case 4: sx = x; sy = h - 1 - y; break;
			case 5: sx = y; sy = x; break;
			case 6: sx = y; sy = h - 1 - x; break;
			case 7: sx = w - 1 - y; sy = h - 1 - x; break;
			default: sx = w - 1 - y; sy = x; break; /* 8 */
			}
			const unsigned char *s =
				img->px + ((size_t)sy * w + sx) * c;
			unsigned char *t = dst + ((size_t)y * ow + x) * c;
			for (k = 0; k < c; k++)
				t[k] = s[k];
		}
	free(img->px);
	img->px = dst;
	img->w = ow;
	img->h = oh;
	if (swap) {
		int t = img->full_w;
		img->full_w = img->full_h;
		img->full_h = t;
	}
	return 0;
}
