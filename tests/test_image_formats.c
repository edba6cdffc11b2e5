/*
 * test_image_formats.c -- WebP, TIFF and HEIC/AVIF: a fixture written
 * here with each library's own encoder, decoded back (exactly where the
 * encoding is lossless), the orientation each format carries, and a
 * truncated and a hostile variant of each that must fail with a clear
 * message naming the file.  Also: the sniffing table and the decoders
 * agree, and siam_image_formats() says what is built in.
 */
#include "config.h"
#include "tap.h"
#include "siam.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>
#include <webp/decode.h>
#include <webp/encode.h>
#ifdef HAVE_LIBHEIF
#include <libheif/heif.h>
#endif

static int contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* Distinct bytes everywhere, so a pixel in the wrong place shows. */
static void pattern(unsigned char *p, int w, int h, int c)
{
	for (int i = 0; i < w * h * c; i++)
		p[i] = (unsigned char)(17 + 37 * i + i / 251);
}

/* The picture stored for orientation o of the upright up (uw x uh, c
 * channels): what a camera writes.  Same mapping as test_image_jpeg.c,
 * written out from the standard's pictures. */
static void stored_of(int o, int x, int y, int w, int h, int *sx, int *sy)
{
	switch (o) {
	case 1: *sx = x; *sy = y; break;
	case 2: *sx = w - 1 - x; *sy = y; break;
	case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;
	case 4: *sx = x; *sy = h - 1 - y; break;
	case 5: *sx = y; *sy = x; break;
	case 6: *sx = y; *sy = h - 1 - x; break;
	case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;
	default: *sx = w - 1 - y; *sy = x; break;
	}
}

static void make_stored(unsigned char *st, const unsigned char *up, int uw,
                        int uh, int c, int o)
{
	int w = o >= 5 ? uh : uw, h = o >= 5 ? uw : uh;
	for (int y = 0; y < uh; y++)
		for (int x = 0; x < uw; x++) {
			int sx, sy;
			stored_of(o, x, y, w, h, &sx, &sy);
			memcpy(st + ((size_t)sy * w + sx) * c,
			       up + ((size_t)y * uw + x) * c, (size_t)c);
		}
}

static void put32le(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t rng = 1;
static unsigned char rnd8(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (unsigned char)(rng >> 24);
}

/* ------------------------------------------------------------------ */
/* WebP                                                                */

/* Wraps a simple (RIFF/WEBP/VP8L) file into an extended one (VP8X)
 * with an EXIF chunk carrying orientation o. */
static unsigned char *webp_with_exif(const unsigned char *simple, size_t n,
                                     int w, int h, int o, size_t *len)
{
	static const unsigned char tiff[] = {
		'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
		0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0
	};
	size_t img = n - 12, total = 12 + 18 + img + 8 + sizeof tiff;
	unsigned char *b = calloc(1, total);
	memcpy(b, "RIFF", 4);
	put32le(b + 4, (uint32_t)(total - 8));
	memcpy(b + 8, "WEBPVP8X", 8);
	put32le(b + 16, 10);
	b[20] = 0x08; /* EXIF present */
	put32le(b + 24, (uint32_t)(w - 1)); /* 24 bits each, little endian */
	put32le(b + 27, (uint32_t)(h - 1));
	memcpy(b + 30, simple + 12, img);
	memcpy(b + 30 + img, "EXIF", 4);
	put32le(b + 34 + img, sizeof tiff);
	memcpy(b + 38 + img, tiff, sizeof tiff);
	b[38 + img + 18] = (unsigned char)o;
	*len = total;
	return b;
}

static void test_webp(void)
{
	enum { W = 30, H = 20 };
	unsigned char px[W * H * 4], *enc = NULL;
	siam_image img = { 0 };
	siam_error err = { 0, "" };
	siam_image_limits lim;
	size_t n;
	int rc;

	pattern(px, W, H, 3);
	n = WebPEncodeLosslessRGB(px, W, H, W * 3, &enc);
	rc = siam_image_decode(&img, enc, n, "a.webp", NULL, &err);
	tap_ok(rc == 0 && img.w == W && img.h == H && img.c == 3 &&
	       !memcmp(img.px, px, sizeof px * 3 / 4),
	       "WebP lossless: %dx%dx%d, every pixel back (%s)", img.w,
	       img.h, img.c, rc ? err.msg : "ok");
	tap_ok(siam_sniff_image(enc, n) == 1, "WebP is sniffed as an image");
	siam_image_release(&img);

	/* Lossy, close. */
	{
		unsigned char *lossy = NULL;
		size_t ln = WebPEncodeRGB(px, W, H, W * 3, 95, &lossy);
		rc = siam_image_decode(&img, lossy, ln, "lossy.webp", NULL, &err);
		tap_ok(rc == 0 && img.w == W && img.h == H && img.c == 3,
		       "WebP lossy: %dx%d (%s)", img.w, img.h,
		       rc ? err.msg : "ok");
		siam_image_release(&img);
		WebPFree(lossy);
	}

	/* Alpha over white: a transparent pixel is paper. */
	{
		unsigned char rgba[W * H * 4], *a = NULL;
		pattern(rgba, W, H, 4);
		rgba[3] = 0;
		rgba[7] = 255;
		size_t an = WebPEncodeLosslessRGBA(rgba, W, H, W * 4, &a);
		rc = siam_image_decode(&img, a, an, "alpha.webp", NULL, &err);
		tap_ok(rc == 0 && img.c == 3 && img.px[0] == 255 &&
		       img.px[1] == 255 && img.px[2] == 255 &&
		       img.px[3] == rgba[4] && img.px[5] == rgba[6],
		       "WebP alpha: transparent is white, opaque is itself");
		siam_image_release(&img);
		WebPFree(a);
	}

	/* EXIF orientation in a VP8X container: exact, since lossless. */
	for (int o = 2; o <= 8; o += 2) {
		unsigned char st[W * H * 3], *s = NULL, *x;
		int sw = o >= 5 ? H : W, sh = o >= 5 ? W : H;
		size_t sn, xn;
		make_stored(st, px, W, H, 3, o);
		sn = WebPEncodeLosslessRGB(st, sw, sh, sw * 3, &s);
		x = webp_with_exif(s, sn, sw, sh, o, &xn);
		rc = siam_image_decode(&img, x, xn, "turned.webp", NULL, &err);
		tap_ok(rc == 0 && img.w == W && img.h == H &&
		       !memcmp(img.px, px, (size_t)W * H * 3),
		       "WebP with EXIF orientation %d: stored %dx%d, upright "
		       "%dx%d equal to the original (%s)", o, sw, sh, img.w,
		       img.h, rc ? err.msg : "ok");
		siam_image_release(&img);
		WebPFree(s);
		free(x);
	}

	rc = siam_image_decode(&img, enc, n / 2, "half.webp", NULL, &err);
	tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "half.webp") && !img.px,
	       "truncated WebP: %s", err.msg);

	/* Garbage after a valid header: the chunk header kept, the
	 * bitstream random. */
	{
		unsigned char *g = malloc(n);
		memcpy(g, enc, 21);
		for (size_t i = 21; i < n; i++)
			g[i] = rnd8();
		rc = siam_image_decode(&img, g, n, "garbage.webp", NULL, &err);
		tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "garbage.webp"),
		       "garbage after a WebP header: %s", err.msg);
		free(g);
	}

	/* Huge declared canvas (VP8X: 16777216 x 16777216). */
	{
		unsigned char *s = NULL, *x;
		size_t sn = WebPEncodeLosslessRGB(px, W, H, W * 3, &s), xn;
		x = webp_with_exif(s, sn, W, H, 1, &xn);
		x[24] = x[25] = x[26] = x[27] = x[28] = x[29] = 0xff;
		rc = siam_image_decode(&img, x, xn, "huge.webp", NULL, &err);
		tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "huge.webp") &&
		       contains(err.msg, "16777216x16777216") && !img.px,
		       "WebP declaring a 16777216-pixel-wide canvas: %s",
		       err.msg);
		/* A canvas libwebp itself would take (10000x10000, under
		 * 2^32 pixels) but above max_pixels, over a small frame. */
		x[24] = x[27] = 9999 & 0xff; /* 24 bits each, LE */
		x[25] = x[28] = 9999 >> 8;
		x[26] = x[29] = 0;
		rc = siam_image_decode(&img, x, xn, "canvas.webp", NULL, &err);
		tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "canvas.webp") &&
		       contains(err.msg, "10000x10000") && !img.px,
		       "WebP declaring a 10000x10000 canvas: %s", err.msg);
		WebPFree(s);
		free(x);
	}
	/* The simple formats' own headers: VP8L at its largest,
	 * 16384x16384, and a lossy "VP8 " of 16383x16383. */
	{
		unsigned char *g = malloc(n);
		memcpy(g, enc, n);
		uint32_t b = g[21] | g[22] << 8 | g[23] << 16 |
		             (uint32_t)g[24] << 24;
		put32le(g + 21, (b & 0xf0000000u) | 0x3fffu | 0x3fffu << 14);
		rc = siam_image_decode(&img, g, n, "huge-vp8l.webp", NULL, &err);
		tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "huge-vp8l.webp") &&
		       contains(err.msg, "16384x16384") && !img.px,
		       "VP8L declaring 16384x16384: %s", err.msg);
		free(g);
		unsigned char *lossy = NULL;
		size_t ln = WebPEncodeRGB(px, W, H, W * 3, 95, &lossy);
		tap_ok(ln > 30 && !memcmp(lossy + 12, "VP8 ", 4),
		       "a lossy WebP is a VP8 chunk");
		if (ln > 30) {
			lossy[26] = lossy[28] = 0xff;
			lossy[27] = lossy[29] = 0x3f;
			rc = siam_image_decode(&img, lossy, ln, "huge-vp8.webp",
			                       NULL, &err);
			tap_ok(rc == SIAM_ETOOBIG &&
			       contains(err.msg, "huge-vp8.webp") &&
			       contains(err.msg, "16383x16383") && !img.px,
			       "VP8 declaring 16383x16383: %s", err.msg);
		}
		WebPFree(lossy);
	}

	/* The limit applies before decoding. */
	siam_image_limits_default(&lim);
	lim.max_pixels = 500;
	rc = siam_image_decode(&img, enc, n, "big.webp", &lim, &err);
	tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "big.webp") &&
	       contains(err.msg, "30x20"), "WebP above max_pixels: %s",
	       err.msg);
	WebPFree(enc);
}

/* ------------------------------------------------------------------ */
/* TIFF                                                                */

static char tmpdir[64];

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long sz;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)sz + 1);
	*n = fread(b, 1, (size_t)sz, f);
	fclose(f);
	return b;
}

/* Writes pages (each w x h x c, 8 bits) to a TIFF with orientation o
 * and compression comp; returns its bytes. */
static unsigned char *tiff_write(const unsigned char *const *pages,
                                 int npages, int w, int h, int c, int o,
                                 int comp, size_t *n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/t.tif", tmpdir);
	TIFF *t = TIFFOpen(path, "w");
	if (!t)
		return NULL;
	for (int p = 0; p < npages; p++) {
		TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
		TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h);
		TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)c);
		TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)8);
		TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
		             c >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
		TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
		TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)comp);
		TIFFSetField(t, TIFFTAG_ORIENTATION, (uint16_t)o);
		TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)8);
		if (c == 4) {
			uint16_t ex = EXTRASAMPLE_UNASSALPHA;
			TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &ex);
		}
		for (int y = 0; y < h; y++)
			TIFFWriteScanline(t, (void *)(pages[p] + (size_t)y * w * c),
			                  (uint32_t)y, 0);
		TIFFWriteDirectory(t);
	}
	TIFFClose(t);
	unsigned char *b = slurp(path, n);
	unlink(path);
	return b;
}

static void test_tiff(void)
{
	enum { W = 36, H = 20 };
	unsigned char px[W * H * 4], st[W * H * 4];
	siam_image img = { 0 };
	siam_error err = { 0, "" };
	const unsigned char *pages[2];
	unsigned char *t;
	size_t n;
	int rc;

	pattern(px, W, H, 3);
	for (int o = 1; o <= 8; o++) {
		int sw = o >= 5 ? H : W, sh = o >= 5 ? W : H;
		make_stored(st, px, W, H, 3, o);
		pages[0] = st;
		t = tiff_write(pages, 1, sw, sh, 3, o, COMPRESSION_LZW, &n);
		rc = t ? siam_image_decode(&img, t, n, "o.tif", NULL, &err) : -1;
		tap_ok(rc == 0 && img.w == W && img.h == H && img.c == 3 &&
		       !memcmp(img.px, px, (size_t)W * H * 3),
		       "TIFF (LZW) orientation %d: stored %dx%d, upright %dx%d "
		       "equal to the original (%s)", o, sw, sh, img.w, img.h,
		       rc ? err.msg : "ok");
		if (o == 1)
			tap_ok(t && siam_sniff_image(t, n) == 1,
			       "TIFF is sniffed as an image");
		siam_image_release(&img);
		free(t);
	}

	/* Gray, two pages: the first one is read, in one channel. */
	{
		unsigned char g1[W * H], g2[W * H];
		pattern(g1, W, H, 1);
		memset(g2, 9, sizeof g2);
		pages[0] = g1;
		pages[1] = g2;
		t = tiff_write(pages, 2, W, H, 1, 1, COMPRESSION_ADOBE_DEFLATE, &n);
		rc = t ? siam_image_decode(&img, t, n, "gray.tif", NULL, &err) : -1;
		tap_ok(rc == 0 && img.c == 1 && img.w == W &&
		       !memcmp(img.px, g1, sizeof g1),
		       "TIFF gray, 2 pages: the first page, 1 channel (%s)",
		       rc ? err.msg : "ok");
		siam_image_release(&img);

		/* Truncated: the directory (written last) is cut off. */
		rc = siam_image_decode(&img, t, n / 2, "half.tif", NULL, &err);
		tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "half.tif") &&
		       !img.px, "truncated TIFF: %s", err.msg);
		free(t);
	}

	/* Alpha over white. */
	{
		pattern(st, W, H, 4);
		st[3] = 0;
		pages[0] = st;
		t = tiff_write(pages, 1, W, H, 4, 1, COMPRESSION_NONE, &n);
		rc = t ? siam_image_decode(&img, t, n, "alpha.tif", NULL, &err) : -1;
		tap_ok(rc == 0 && img.c == 3 && img.px[0] == 255 &&
		       img.px[1] == 255 && img.px[2] == 255,
		       "TIFF alpha: a transparent pixel is white (%s)",
		       rc ? err.msg : "ok");
		siam_image_release(&img);
		free(t);
	}

	/* Hostile: huge declared dimensions (the IFD's ImageWidth and
	 * ImageLength set to 100000), and garbage after a valid header. */
	pages[0] = px;
	t = tiff_write(pages, 1, W, H, 3, 1, COMPRESSION_NONE, &n);
	if (t) {
		uint32_t ifd = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
		int cnt = t[ifd] | t[ifd + 1] << 8;
		for (int i = 0; i < cnt; i++) {
			unsigned char *e = t + ifd + 2 + 12 * i;
			int tag = e[0] | e[1] << 8;
			if (tag == 256 || tag == 257) {
				e[2] = 4; /* LONG */
				e[3] = 0;
				put32le(e + 8, 100000);
			}
		}
		rc = siam_image_decode(&img, t, n, "huge.tif", NULL, &err);
		tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "huge.tif") &&
		       contains(err.msg, "100000x100000") && !img.px,
		       "TIFF declaring 100000x100000: %s", err.msg);
		for (size_t i = 8; i < n; i++)
			t[i] = rnd8();
		rc = siam_image_decode(&img, t, n, "garbage.tif", NULL, &err);
		tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "garbage.tif") &&
		       !img.px, "garbage after a TIFF header: %s", err.msg);
		free(t);
	}
}

/* ------------------------------------------------------------------ */
/* HEIC and AVIF                                                       */

#ifdef HAVE_LIBHEIF
/* x265 (libheif's HEVC encoder, used here only to make the fixture)
 * keeps one allocation for the life of the process; LeakSanitizer,
 * in the ASan build, reads this hook and lets that one go. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void)
{
	return "leak:libx265.so\n";
}

typedef struct hbuf {
	unsigned char *p;
	size_t n;
} hbuf;

static struct heif_error hwrite(struct heif_context *ctx, const void *data,
                                size_t size, void *user)
{
	hbuf *b = user;
	struct heif_error ok = { heif_error_Ok, heif_suberror_Unspecified, "" };
	(void)ctx;
	b->p = realloc(b->p, b->n + size);
	memcpy(b->p + b->n, data, size);
	b->n += size;
	return ok;
}

/* Encodes w x h RGB with codec; NULL if this libheif cannot. */
static unsigned char *heif_encode(const unsigned char *px, int w, int h,
                                  enum heif_compression_format codec,
                                  size_t *n)
{
	struct heif_context *ctx = heif_context_alloc();
	struct heif_encoder *enc = NULL;
	struct heif_image *im = NULL;
	struct heif_writer wr = { 1, hwrite };
	hbuf b = { NULL, 0 };
	int stride;

	if (heif_context_get_encoder_for_format(ctx, codec, &enc).code)
		goto out;
	heif_encoder_set_lossy_quality(enc, 90);
	if (heif_image_create(w, h, heif_colorspace_RGB,
	                      heif_chroma_interleaved_RGB, &im).code ||
	    heif_image_add_plane(im, heif_channel_interleaved, w, h, 8).code)
		goto out;
	uint8_t *pl = heif_image_get_plane(im, heif_channel_interleaved,
	                                   &stride);
	for (int y = 0; y < h; y++)
		memcpy(pl + (size_t)y * stride, px + (size_t)y * w * 3,
		       (size_t)w * 3);
	if (heif_context_encode_image(ctx, im, enc, NULL, NULL).code ||
	    heif_context_write(ctx, &wr, &b).code) {
		free(b.p);
		b.p = NULL;
	}
out:
	heif_image_release(im);
	if (enc)
		heif_encoder_release(enc);
	heif_context_free(ctx);
	*n = b.n;
	return b.p;
}

static void test_heif_one(const char *what,
                          enum heif_compression_format codec)
{
	enum { W = 64, H = 48 };
	unsigned char px[W * H * 3];
	siam_image img = { 0 };
	siam_error err = { 0, "" };
	char name[32];
	size_t n;
	int rc;

	/* Smooth, so a lossy codec gives it back closely. */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			px[(y * W + x) * 3] = (unsigned char)(x * 4);
			px[(y * W + x) * 3 + 1] = (unsigned char)(y * 5);
			px[(y * W + x) * 3 + 2] = (unsigned char)(x < W / 2 ? 40 : 220);
		}
	unsigned char *h = heif_encode(px, W, H, codec, &n);
	if (!tap_ok(h != NULL, "%s: encoded with libheif (%zu bytes)", what, n))
		return;
	snprintf(name, sizeof name, "a.%s", what);
	rc = siam_image_decode(&img, h, n, name, NULL, &err);
	double d = 0;
	for (int i = 0; rc == 0 && i < W * H * 3; i++)
		d += abs(img.px[i] - px[i]);
	d /= W * H * 3;
	tap_ok(rc == 0 && img.w == W && img.h == H && img.c == 3 && d < 6,
	       "%s: %dx%dx%d, mean |diff| %.2f levels (%s)", what, img.w,
	       img.h, img.c, d, rc ? err.msg : "ok");
	tap_ok(siam_sniff_image(h, n) == 1, "%s is sniffed as an image", what);
	siam_image_release(&img);

	snprintf(name, sizeof name, "half.%s", what);
	rc = siam_image_decode(&img, h, n * 2 / 3, name, NULL, &err);
	tap_ok(rc == SIAM_EFORMAT && contains(err.msg, name) && !img.px,
	       "truncated %s: %s", what, err.msg);

	/* Huge declared size: the 'ispe' box says 100000x100000. */
	{
		unsigned char *g = malloc(n);
		int found = 0;
		memcpy(g, h, n);
		for (size_t i = 0; i + 16 < n; i++)
			if (!memcmp(g + i, "ispe", 4)) {
				put32le(g + i + 8, 0xa0860100u); /* BE 100000 */
				put32le(g + i + 12, 0xa0860100u);
				found = 1;
			}
		snprintf(name, sizeof name, "huge.%s", what);
		rc = siam_image_decode(&img, g, n, name, NULL, &err);
		tap_ok(found && rc == SIAM_ETOOBIG && contains(err.msg, name) &&
		       contains(err.msg, "100000x100000") && !img.px,
		       "%s declaring 100000x100000: %s", what, err.msg);
		/* Garbage after the file type box. */
		memcpy(g, h, n);
		for (size_t i = 32; i < n; i++)
			g[i] = rnd8();
		snprintf(name, sizeof name, "garbage.%s", what);
		rc = siam_image_decode(&img, g, n, name, NULL, &err);
		tap_ok(rc == SIAM_EFORMAT && contains(err.msg, name) && !img.px,
		       "garbage after a %s header: %s", what, err.msg);
		free(g);
	}
	free(h);
}
#endif

static void test_heif(void)
{
	const char *f = siam_image_formats();
#ifdef HAVE_LIBHEIF
	tap_ok(contains(f, "HEIC") && contains(f, "AVIF"),
	       "built with libheif: formats say so: %s", f);
	test_heif_one("heic", heif_compression_HEVC);
	test_heif_one("avif", heif_compression_AV1);
#else
	/* A HEIC file still sniffs as an image and fails clearly. */
	static const unsigned char ftyp[32] = {
		0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0,
		'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'
	};
	siam_image img = { 0 };
	siam_error err = { 0, "" };
	tap_ok(!contains(f, "HEIC"), "built without libheif: %s", f);
	tap_ok(siam_sniff_image(ftyp, sizeof ftyp) == 1,
	       "a HEIC file is still an image");
	int rc = siam_image_decode(&img, ftyp, sizeof ftyp, "x.heic", NULL,
	                           &err);
	tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "x.heic") &&
	       contains(err.msg, "without libheif"), "HEIC: %s", err.msg);
#endif
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/siam-fmt-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_webp();
	test_tiff();
	test_heif();
	rmdir(tmpdir);
	return tap_done();
}
