/*
 * stb.c -- the formats stb_image decodes: PNG, GIF (first frame), BMP,
 * TGA, PNM, PSD, HDR, PIC.
 *
 * Decoding is stb_image's (the Debian libstb build, which carries the
 * implementation; we only include the header).  What this file adds:
 *   - the pixel count read from the header (stbi_info_from_memory) is
 *     checked before any pixel is decoded, so a 100000x100000 header is
 *     refused without stb allocating 40 GB;
 *   - truncated raw layouts are refused (below: stb would read past
 *     what it was given into uninitialised memory);
 *   - stb's 1..4 channels become our 1 or 3, alpha over white paper.
 * JPEG no longer comes here: jpeg.c decodes it with libjpeg-turbo.
 *
 * Thread safety: stbi_failure_reason() is thread-local in stb >= 2.24
 * (Debian ships 2.27), and we never touch stb's other globals (flip,
 * unpremultiply, iphone), so decoding may run on many threads at once.
 */
#include "image/image.h"

#include <limits.h>
#include <string.h>

#include <stb_image.h>

static const char *stb_reason(void)
{
	const char *r = stbi_failure_reason();
	return r ? r : "unknown error";
}

/* ------------------------------------------------------------------ */
/* Truncated raw data                                                  */
/*                                                                     */
/* stb_image 2.27 reads the pixels of three uncompressed layouts with  */
/* stbi__getn() and ignores its result: PNM (P5/P6), uncompressed TGA  */
/* and flat HDR.  A truncated file then "decodes" into whatever the     */
/* heap held, an uninitialised read that would make embeddings depend  */
/* on the allocator.  For these layouts the size is known from the     */
/* header, so we check it before decoding.                             */

static unsigned long be32(const unsigned char *p)
{
	return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
	       (unsigned long)p[2] << 8 | p[3];
}

/* Skips PNM whitespace and comments from *i, as stb does. */
static void pnm_skip(const unsigned char *d, size_t len, size_t *i)
{
	for (;;) {
		while (*i < len && (d[*i] == ' ' || d[*i] == '\t' ||
		                    d[*i] == '\n' || d[*i] == '\v' ||
		                    d[*i] == '\f' || d[*i] == '\r'))
			(*i)++;
		if (*i >= len || d[*i] != '#')
			return;
		while (*i < len && d[*i] != '\n' && d[*i] != '\r')
			(*i)++;
	}
}

static unsigned long long pnm_int(const unsigned char *d, size_t len,
                                  size_t *i)
{
	unsigned long long v = 0;
	while (*i < len && d[*i] >= '0' && d[*i] <= '9' && v < (1ULL << 40))
		v = v * 10 + (unsigned)(d[(*i)++] - '0');
	return v;
}

/* 1 if the bytes start like one of the formats that carry a magic
 * number: what is left, if stb accepts it, is TGA, which has none. */
static int has_magic(const unsigned char *d, size_t len)
{
	static const struct {
		const char *m;
		size_t n;
	} magics[] = {
		{"\x89PNG", 4}, {"\xff\xd8", 2}, {"GIF8", 4}, {"BM", 2},
		{"8BPS", 4}, {"\x53\x80\xf6\x34", 4}, {"P5", 2}, {"P6", 2},
		{"#?RADIANCE", 10}, {"#?RGBE", 6},
	};
	for (size_t k = 0; k < sizeof magics / sizeof *magics; k++)
		if (len >= magics[k].n && memcmp(d, magics[k].m, magics[k].n) == 0)
			return 1;
	return 0;
}

/* If data is one of the raw layouts and shorter than its header says,
 * returns 1 and the sizes; else 0.  w, h come from stbi_info. */
static int raw_truncated(const unsigned char *d, size_t len, int w, int h,
                         unsigned long long *need, unsigned long long *have)
{
	unsigned long long px = (unsigned long long)w * (unsigned long long)h;
	size_t i;

	if (len >= 2 && d[0] == 'P' && (d[1] == '5' || d[1] == '6')) {
		unsigned long long maxv;
		i = 2;
		pnm_skip(d, len, &i);
		pnm_int(d, len, &i);
		pnm_skip(d, len, &i);
		pnm_int(d, len, &i);
		pnm_skip(d, len, &i);
		maxv = pnm_int(d, len, &i);
		i++; /* the one whitespace character before the raster */
		*need = px * (d[1] == '6' ? 3 : 1) * (maxv > 255 ? 2 : 1);
		*have = len > i ? len - i : 0;
		return *have < *need;
	}
	if ((len >= 10 && memcmp(d, "#?RADIANCE", 10) == 0) ||
	    (len >= 6 && memcmp(d, "#?RGBE", 6) == 0)) {
		/* The header ends with an empty line, then the resolution
		 * line; an old-style RLE scanline starts 2 2, anything else
		 * is read flat, 4 bytes a pixel. */
		const unsigned char *e = NULL;
		for (i = 0; i + 1 < len; i++)
			if (d[i] == '\n' && d[i + 1] == '\n') {
				e = memchr(d + i + 2, '\n', len - i - 2);
				break;
			}
		if (!e)
			return 0;
		i = (size_t)(e - d) + 1;
		if (w >= 8 && w < 32768 && len - i >= 2 && d[i] == 2 &&
		    d[i + 1] == 2)
			return 0;
		*need = px * 4;
		*have = len - i;
		return *have < *need;
	}
	if (!has_magic(d, len) && len >= 18 && d[1] == 0 &&
	    (d[2] == 2 || d[2] == 3) && (d[16] == 8 || d[16] == 24 ||
	                                 d[16] == 32)) {
		/* Uncompressed true-colour or grey TGA. */
		i = 18 + (size_t)d[0];
		*need = px * (d[16] / 8);
		*have = len > i ? len - i : 0;
		return *have < *need;
	}
	return 0;
}

int img_decode_stb(siam_image *out, int *orient, const unsigned char *d,
                   size_t len, const char *name, const siam_image_limits *lim,
                   siam_error *err)
{
	unsigned char *dec = NULL;
	int w, h, n, c, rc;
	size_t npx;

	*orient = 1;
	/* stb takes an int length. */
	if (len > INT_MAX)
		return siam_errorf(err, SIAM_ETOOBIG,
		                   "%s: %zu bytes, too large to decode", name,
		                   len);

	/* The header alone: dimensions before any allocation. */
	if (!stbi_info_from_memory(d, (int)len, &w, &h, &n)) {
		/* stb refuses a PNG of more than 2^30 bytes already in its
		 * header scan, and then reports "unknown image type" (the
		 * other formats' verdict): say what is really wrong. */
		if (len >= 24 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 &&
		    memcmp(d + 12, "IHDR", 4) == 0 &&
		    (rc = img_check_pixels((long long)be32(d + 16),
		                           (long long)be32(d + 20), name, lim,
		                           err)))
			return rc;
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a readable image (%s)", name,
		                   stb_reason());
	}
	if ((rc = img_check_pixels(w, h, name, lim, err)))
		return rc;

	{
		unsigned long long need, have;
		if (raw_truncated(d, len, w, h, &need, &have))
			return siam_errorf(err, SIAM_EFORMAT,
			                   "%s: truncated image: %dx%d pixels need "
			                   "%llu bytes, found %llu", name, w, h,
			                   need, have);
	}

	/* Native channel count (req_comp = 0): stb expands a PNG palette
	 * or tRNS key to the alpha it really has, which the header scan of
	 * stbi_info does not always report. */
	dec = stbi_load_from_memory(d, (int)len, &w, &h, &n, 0);
	if (!dec) {
		/* stb says "outofmem" when a corrupt stream asks for more
		 * than it can get: still the file's fault, not ours. */
		return siam_errorf(err, SIAM_EFORMAT, "%s: cannot decode (%s)",
		                   name, stb_reason());
	}
	if (n < 1 || n > 4 || img_check_pixels(w, h, name, lim, NULL)) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: decoder returned %dx%d pixels of %d "
		                 "channels, not what the header said",
		                 name, w, h, n);
		goto fail;
	}
	c = (n >= 3) ? 3 : 1;
	if ((rc = img_alloc(out, w, h, c, name, err)))
		goto fail;
	npx = (size_t)w * (size_t)h;
	switch (n) {
	case 1:
	case 3:
		memcpy(out->px, dec, npx * (size_t)n);
		break;
	case 2:
		img_ga_over_white(out->px, dec, npx);
		break;
	default:
		img_rgba_over_white(out->px, dec, npx);
		break;
	}
	stbi_image_free(dec);
	return 0;

fail:
	stbi_image_free(dec);
	return rc;
}
