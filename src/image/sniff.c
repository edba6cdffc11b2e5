/*
 * sniff.c -- what is an image, decided by its first bytes.
 *
 * One table of signatures serves both questions: siam_sniff_image
 * ("is this file an image?", asked by the indexer before it reads a
 * whole file) and img_sniff ("which decoder?", asked by
 * siam_image_decode), so a file the walk takes for an image always goes
 * to a decoder that knows it, and the other way round.  A format is
 * recognised even when its library was not built in (HEIF without
 * libheif): decoding it then fails with a message that says so, which
 * tells the user more than "not an image".
 *
 * TGA has no signature; stb_image's own probe (stbi_info) recognises it
 * by the plausibility of its header, from the same bytes.
 */
#include "image/image.h"

#include <string.h>

#include <stb_image.h>

static int has_prefix(const unsigned char *p, size_t n, const char *magic,
                      size_t m)
{
	return n >= m && !memcmp(p, magic, m);
}

/* ISO-BMFF brands that mean a HEIF still image (HEVC or AV1 coded). */
static int heif_brand(const unsigned char *b)
{
	static const char brands[][5] = {
		"heic", "heix", "heim", "heis", "hevc", "hevx", "mif1",
		"msf1", "avif", "avis",
	};
	for (size_t i = 0; i < sizeof brands / sizeof *brands; i++)
		if (!memcmp(b, brands[i], 4))
			return 1;
	return 0;
}

img_format img_sniff(const unsigned char *p, size_t n)
{
	if (has_prefix(p, n, "\xff\xd8\xff", 3))
		return IMG_JPEG;
	if (has_prefix(p, n, "\x89PNG\r\n\x1a\n", 8))
		return IMG_PNG;
	if (has_prefix(p, n, "GIF87a", 6) || has_prefix(p, n, "GIF89a", 6))
		return IMG_GIF;
	if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return IMG_WEBP;
	/* Classic TIFF (42) and BigTIFF (43), either byte order. */
	if (has_prefix(p, n, "II*\0", 4) || has_prefix(p, n, "MM\0*", 4) ||
	    has_prefix(p, n, "II+\0", 4) || has_prefix(p, n, "MM\0+", 4))
		return IMG_TIFF;
	/* HEIF: a 'ftyp' box first, with a still-image brand as the major
	 * brand or among the first compatible ones. */
	if (n >= 16 && !memcmp(p + 4, "ftyp", 4)) {
		size_t box = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
		             (size_t)p[2] << 8 | p[3];
		if (heif_brand(p + 8))
			return IMG_HEIF;
		for (size_t i = 16; i + 4 <= box && i + 4 <= n; i += 4)
			if (heif_brand(p + i))
				return IMG_HEIF;
		return IMG_NONE;
	}
	if (has_prefix(p, n, "8BPS", 4) || has_prefix(p, n, "#?RADIANCE", 10) ||
	    has_prefix(p, n, "#?RGBE", 6) ||
	    has_prefix(p, n, "\x53\x80\xf6\x34", 4))
		return IMG_STB;
	/* BMP: "BM" and a known DIB header size, so that text starting
	 * with "BM" is not taken for an image. */
	if (n >= 18 && p[0] == 'B' && p[1] == 'M') {
		uint32_t hs = p[14] | p[15] << 8 | (uint32_t)p[16] << 16 |
		              (uint32_t)p[17] << 24;
		if (hs == 12 || hs == 40 || hs == 56 || hs == 108 || hs == 124)
			return IMG_BMP;
		return IMG_NONE;
	}
	/* PNM: P5/P6 (stb decodes these) followed by white space. */
	if (n >= 3 && p[0] == 'P' && (p[1] == '5' || p[1] == '6') &&
	    (p[2] == ' ' || p[2] == '\n' || p[2] == '\r' || p[2] == '\t'))
		return IMG_STB;
	return IMG_NONE;
}

int siam_sniff_image(const void *head, size_t n)
{
	const unsigned char *p = head;
	int x, y, comp;

	if (img_sniff(p, n) != IMG_NONE)
		return 1;
	/* What is left that stb reads: TGA. */
	return n > 0 && n <= (size_t)1 << 30 &&
	       stbi_info_from_memory(p, (int)n, &x, &y, &comp);
}
