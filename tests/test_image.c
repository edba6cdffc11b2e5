/*
 * test_image.c -- decoding every format, refusing what must be refused,
 * the area resize against hand computations, and the MNIST convention
 * against real MNIST digits photographed (synthetically) on paper.
 *
 * The "photographs" are made here: an MNIST test digit (50 are committed
 * in tests/fixtures/mnist-t10k-50-images-idx3-ubyte) is enlarged with
 * bilinear interpolation, drawn dark on light paper somewhere on a larger
 * canvas, with noise, sometimes a lighting gradient, colour, alpha, and
 * encoded as PNG or JPEG with stb_image_write.  Preprocessing the photo
 * must give back what preprocessing the original 28x28 digit gives.
 */
#include "tap.h"
#include "siam_nn.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <stb_image_write.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

typedef struct mbuf {
	unsigned char *p;
	size_t n, cap;
	int oom;
} mbuf;

static void mbuf_put(void *ctx, void *data, int size)
{
	mbuf *b = ctx;
	if (b->oom || size <= 0)
		return;
	if (b->n + (size_t)size > b->cap) {
		size_t cap = (b->n + (size_t)size) * 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, (size_t)size);
	b->n += (size_t)size;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static double corr(const float *a, const float *b, int n)
{
	double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
	for (int i = 0; i < n; i++) {
		ma += a[i];
		mb += b[i];
	}
	ma /= n;
	mb /= n;
	for (int i = 0; i < n; i++) {
		sab += (a[i] - ma) * (b[i] - mb);
		saa += (a[i] - ma) * (a[i] - ma);
		sbb += (b[i] - mb) * (b[i] - mb);
	}
	return sab / sqrt(saa * sbb + 1e-30);
}

static double mad(const float *a, const float *b, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += fabs(a[i] - b[i]);
	return s / n;
}

static int contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

static char tmpdir[64];

static const char *tmppath(const char *name)
{
	static char buf[4][128];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
	return buf[k];
}

/* The test pattern: w x h pixels of c channels, every byte distinct. */
static void pattern(unsigned char *p, int w, int h, int c)
{
	for (int i = 0; i < w * h * c; i++)
		p[i] = (unsigned char)(17 + 37 * i);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

typedef int (*writer_fn)(mbuf *b, int w, int h, int c,
                         const unsigned char *px);

static int w_png(mbuf *b, int w, int h, int c, const unsigned char *px)
{
	return stbi_write_png_to_func(mbuf_put, b, w, h, c, px, w * c);
}
static int w_bmp(mbuf *b, int w, int h, int c, const unsigned char *px)
{
	return stbi_write_bmp_to_func(mbuf_put, b, w, h, c, px);
}
static int w_tga(mbuf *b, int w, int h, int c, const unsigned char *px)
{
	return stbi_write_tga_to_func(mbuf_put, b, w, h, c, px);
}

/* A lossless format round trip: expect c_out channels with the alpha
 * (if any) composited over white. */
static void check_lossless(const char *what, writer_fn fn, int c_in)
{
	enum { W = 5, H = 4 };
	unsigned char px[W * H * 4], want[W * H * 3];
	mbuf b = {0};
	siam_image img;
	siam_error err = {0};
	int c_out = c_in >= 3 ? 3 : 1, rc;

	pattern(px, W, H, c_in);
	if (c_in == 2 || c_in == 4) {
		/* Alpha: fully transparent, opaque, and in between. */
		for (int i = 0; i < W * H; i++)
			px[i * c_in + c_in - 1] =
				(unsigned char)(i == 0 ? 0 : i == 1 ? 255 : 7 * i + 40);
	}
	for (int i = 0; i < W * H; i++)
		for (int k = 0; k < c_out; k++) {
			unsigned v = px[i * c_in + k];
			if (c_in == 2 || c_in == 4) {
				unsigned a = px[i * c_in + c_in - 1];
				v = (v * a + 255 * (255 - a) + 127) / 255;
			}
			want[i * c_out + k] = (unsigned char)v;
		}
	if (!tap_ok(fn(&b, W, H, c_in, px) && !b.oom, "%s: encoded", what)) {
		free(b.p);
		return;
	}
	rc = siam_image_decode(&img, b.p, b.n, what, NULL, &err);
	tap_int(rc, 0, "%s: decodes (%s)", what, rc ? err.msg : "ok");
	if (rc == 0) {
		tap_ok(img.w == W && img.h == H && img.c == c_out,
		       "%s: %dx%d, %d channel(s) (got %dx%d, %d)", what, W, H,
		       c_out, img.w, img.h, img.c);
		tap_ok(img.c == c_out &&
		               memcmp(img.px, want, (size_t)W * H * c_out) == 0,
		       "%s: every pixel exact%s", what,
		       c_in == 2 || c_in == 4 ? " (alpha over white)" : "");
	}
	siam_image_release(&img);
	free(b.p);
}

/* A minimal GIF, written by hand: a 4-colour palette, LZW codes of 3
 * bits, a clear code before every two pixels so that the code size never
 * grows (the decoder resets its table at each clear). */
static size_t make_gif(unsigned char *out, int w, int h,
                       const unsigned char pal[4][3], const unsigned char *idx)
{
	size_t n = 0, lenpos;
	uint32_t acc = 0;
	int nbits = 0;
	unsigned char data[256];
	size_t nd = 0;

	memcpy(out + n, "GIF89a", 6);
	n += 6;
	out[n++] = (unsigned char)w;
	out[n++] = 0;
	out[n++] = (unsigned char)h;
	out[n++] = 0;
	out[n++] = 0x81; /* global colour table of 2^(1+1) = 4 entries */
	out[n++] = 0;    /* background */
	out[n++] = 0;    /* aspect */
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 3; k++)
			out[n++] = pal[i][k];
	out[n++] = 0x2c; /* image descriptor */
	memset(out + n, 0, 4);
	n += 4;
	out[n++] = (unsigned char)w;
	out[n++] = 0;
	out[n++] = (unsigned char)h;
	out[n++] = 0;
	out[n++] = 0;    /* no local table, not interlaced */
	out[n++] = 2;    /* LZW minimum code size */
#define EMIT(code)                                                 \
	do {                                                       \
		acc |= (uint32_t)(code) << nbits;                  \
		nbits += 3;                                        \
		while (nbits >= 8) {                               \
			data[nd++] = (unsigned char)(acc & 0xff);  \
			acc >>= 8;                                 \
			nbits -= 8;                                \
		}                                                  \
	} while (0)
	for (int i = 0; i < w * h; i++) {
		if (i % 2 == 0)
			EMIT(4); /* clear */
		EMIT(idx[i]);
	}
	EMIT(5); /* end of information */
	if (nbits)
		data[nd++] = (unsigned char)(acc & 0xff);
#undef EMIT
	lenpos = n++;
	out[lenpos] = (unsigned char)nd;
	memcpy(out + n, data, nd);
	n += nd;
	out[n++] = 0;    /* block terminator */
	out[n++] = 0x3b; /* trailer */
	return n;
}

static void test_formats(void)
{
	siam_image img;
	siam_error err = {0};
	int rc;

	check_lossless("PNG gray", w_png, 1);
	check_lossless("PNG gray+alpha", w_png, 2);
	check_lossless("PNG RGB", w_png, 3);
	check_lossless("PNG RGBA", w_png, 4);
	check_lossless("BMP RGB", w_bmp, 3);
	check_lossless("TGA gray", w_tga, 1);
	check_lossless("TGA RGB", w_tga, 3);
	check_lossless("TGA RGBA", w_tga, 4);

	/* The compositing rule itself, by hand: value 100 at alpha 128 over
	 * white is (100*128 + 255*127 + 127) / 255 = 177. */
	{
		unsigned char ga[4] = {100, 128, 0, 0};
		mbuf b = {0};
		stbi_write_png_to_func(mbuf_put, &b, 2, 1, 2, ga, 4);
		rc = siam_image_decode(&img, b.p, b.n, "ga", NULL, &err);
		tap_ok(rc == 0 && img.c == 1 && img.px[0] == 177 &&
		               img.px[1] == 255,
		       "gray 100 at alpha 128 -> 177, transparent -> white 255");
		siam_image_release(&img);
		free(b.p);
	}

	/* JPEG is lossy: dimensions, channels, pixels close. */
	{
		enum { W = 32, H = 24 };
		static unsigned char rgb[W * H * 3], gray[W * H];
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				rgb[(y * W + x) * 3 + 0] = (unsigned char)(8 * x);
				rgb[(y * W + x) * 3 + 1] = (unsigned char)(10 * y);
				rgb[(y * W + x) * 3 + 2] = 128;
				gray[y * W + x] = (unsigned char)(4 * x + 5 * y);
			}
		mbuf b = {0};
		stbi_write_jpg_to_func(mbuf_put, &b, W, H, 3, rgb, 95);
		rc = siam_image_decode(&img, b.p, b.n, "rgb.jpg", NULL, &err);
		double d = 0;
		if (rc == 0 && img.c == 3 && img.w == W && img.h == H)
			for (int i = 0; i < W * H * 3; i++)
				d += fabs((double)img.px[i] - rgb[i]);
		tap_ok(rc == 0 && img.w == W && img.h == H && img.c == 3,
		       "JPEG RGB: 32x24, 3 channels");
		tap_ok(rc == 0 && d / (W * H * 3) < 3.0,
		       "JPEG RGB q95: mean |error| %.2f < 3 levels",
		       d / (W * H * 3));
		siam_image_release(&img);
		/* stb_image_write stores even a gray picture as YCbCr, so
		 * it comes back as RGB with three equal channels. */
		b.n = 0;
		stbi_write_jpg_to_func(mbuf_put, &b, W, H, 1, gray, 95);
		rc = siam_image_decode(&img, b.p, b.n, "gray.jpg", NULL, &err);
		d = 0;
		double spread = 0;
		if (rc == 0 && img.c == 3 && img.w == W && img.h == H)
			for (int i = 0; i < W * H; i++) {
				unsigned char *q = img.px + 3 * i;
				d += fabs((double)q[1] - gray[i]);
				spread = fmax(spread, fabs((double)q[0] - q[2]));
			}
		tap_ok(rc == 0 && img.c == 3 && d / (W * H) < 3.0 && spread <= 2,
		       "JPEG of a gray picture: R=G=B within %g, mean |error| "
		       "%.2f < 3", spread, d / (W * H));
		siam_image_release(&img);
		free(b.p);
	}

	/* PNM, written by hand. */
	{
		unsigned char pgm[64], ppm[64];
		int n = snprintf((char *)pgm, sizeof pgm, "P5\n# c\n3 2\n255\n");
		for (int i = 0; i < 6; i++)
			pgm[n + i] = (unsigned char)(40 * i + 3);
		rc = siam_image_decode(&img, pgm, (size_t)n + 6, "x.pgm", NULL,
		                       &err);
		tap_ok(rc == 0 && img.w == 3 && img.h == 2 && img.c == 1 &&
		               img.px[0] == 3 && img.px[5] == 203,
		       "PGM (P5) 3x2 gray, exact");
		siam_image_release(&img);
		n = snprintf((char *)ppm, sizeof ppm, "P6 2 1 255\n");
		for (int i = 0; i < 6; i++)
			ppm[n + i] = (unsigned char)(i * 50);
		rc = siam_image_decode(&img, ppm, (size_t)n + 6, "x.ppm", NULL,
		                       &err);
		tap_ok(rc == 0 && img.w == 2 && img.h == 1 && img.c == 3 &&
		               memcmp(img.px, ppm + n, 6) == 0,
		       "PPM (P6) 2x1 RGB, exact");
		siam_image_release(&img);
	}

	/* GIF, written by hand. */
	{
		static const unsigned char pal[4][3] = {
			{0, 0, 0}, {255, 0, 0}, {0, 200, 0}, {10, 20, 250}};
		const unsigned char idx[6] = {0, 1, 2, 3, 2, 1};
		unsigned char gif[128];
		size_t n = make_gif(gif, 3, 2, pal, idx);
		int exact = 1;
		rc = siam_image_decode(&img, gif, n, "x.gif", NULL, &err);
		tap_int(rc, 0, "GIF decodes (%s)", rc ? err.msg : "ok");
		tap_ok(rc == 0 && img.w == 3 && img.h == 2 && img.c == 3,
		       "GIF: 3x2, 3 channels");
		for (int i = 0; rc == 0 && img.c == 3 && i < 6; i++)
			exact &= memcmp(img.px + 3 * i, pal[idx[i]], 3) == 0;
		tap_ok(rc == 0 && exact, "GIF: every pixel its palette colour");
		siam_image_release(&img);
	}
}

/* ------------------------------------------------------------------ */
/* Refusals                                                            */

/* A PNG signature and an IHDR chunk (with its CRC) claiming w x h. */
static size_t png_header(unsigned char *p, uint32_t w, uint32_t h)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r',
	                                     '\n', 0x1a, '\n'};
	unsigned char *c = p + 8;
	memcpy(p, sig, 8);
	c[0] = c[1] = c[2] = 0;
	c[3] = 13;
	memcpy(c + 4, "IHDR", 4);
	for (int i = 0; i < 4; i++) {
		c[8 + i] = (unsigned char)(w >> (24 - 8 * i));
		c[12 + i] = (unsigned char)(h >> (24 - 8 * i));
	}
	c[16] = 8; /* bit depth */
	c[17] = 2; /* RGB */
	c[18] = c[19] = c[20] = 0;
	uLong crc = crc32(0, c + 4, 17);
	for (int i = 0; i < 4; i++)
		c[21 + i] = (unsigned char)(crc >> (24 - 8 * i));
	return 8 + 25;
}

static void test_refusals(void)
{
	siam_image img;
	siam_error err = {0};
	siam_image_limits lim;
	unsigned char px[12 * 10 * 3], junk[4096];
	mbuf b = {0};
	int rc;

	siam_image_limits_default(&lim);
	tap_ok(lim.max_pixels == SIAM_DEFAULT_MAX_PIXELS &&
	               lim.max_bytes == SIAM_DEFAULT_MAX_BYTES,
	       "default limits: 64 Mpx, 256 MiB");

	pattern(px, 12, 10, 3);
	stbi_write_png_to_func(mbuf_put, &b, 12, 10, 3, px, 36);

	rc = siam_image_decode(&img, b.p, b.n / 2, "half.png", NULL, &err);
	tap_int(rc, SIAM_EFORMAT, "truncated PNG -> SIAM_EFORMAT");
	tap_ok(contains(err.msg, "half.png"), "... message names it: %s",
	       err.msg);
	tap_ok(img.px == NULL && img.w == 0, "... and leaves no image");

	siam_rng rng;
	siam_rng_seed(&rng, 7);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)siam_rng_u64(&rng);
	rc = siam_image_decode(&img, junk, sizeof junk, "junk.bin", NULL, &err);
	tap_int(rc, SIAM_EFORMAT, "random bytes -> SIAM_EFORMAT (%s)", err.msg);
	rc = siam_image_decode(&img, "", 0, "empty", NULL, &err);
	tap_int(rc, SIAM_EFORMAT, "zero bytes -> SIAM_EFORMAT (%s)", err.msg);
	rc = siam_image_decode(&img, NULL, 10, "null", NULL, &err);
	tap_int(rc, SIAM_EINVAL, "NULL data -> SIAM_EINVAL");
	/* Raw layouts that stb 2.27 would "decode" from uninitialised
	 * memory when truncated: refused from their header. */
	rc = siam_image_decode(&img, "P5\n3 2\n255\n", 11, "noraster.pgm",
	                       NULL, &err);
	tap_int(rc, SIAM_EFORMAT, "PGM header without pixels -> EFORMAT (%s)",
	        err.msg);
	rc = siam_image_decode(&img, "P6 2 2 255\nabcdefghijk", 22, "short.ppm",
	                       NULL, &err);
	tap_int(rc, SIAM_EFORMAT, "PPM 2x2 with 11 of 12 bytes -> EFORMAT (%s)",
	        err.msg);
	rc = siam_image_decode(&img, "P6 2 2 255\nabcdefghijkl", 23, "ok.ppm",
	                       NULL, &err);
	tap_ok(rc == 0 && img.w == 2 && img.px[11] == 'l',
	       "... and with all 12 bytes it decodes");
	siam_image_release(&img);
	{
		mbuf t = {0};
		stbi_write_tga_with_rle = 0;
		stbi_write_tga_to_func(mbuf_put, &t, 12, 10, 3, px);
		rc = siam_image_decode(&img, t.p, t.n - 30, "short.tga", NULL,
		                       &err);
		tap_int(rc, SIAM_EFORMAT, "uncompressed TGA missing 30 bytes -> "
		        "EFORMAT (%s)", err.msg);
		free(t.p);
		stbi_write_tga_with_rle = 1;
	}
	{
		static const char hdrh[] =
			"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 3\n";
		unsigned char hdr[sizeof hdrh + 24];
		size_t hn = sizeof hdrh - 1;
		memcpy(hdr, hdrh, hn);
		for (int i = 0; i < 6; i++) {
			hdr[hn + 4 * i + 0] = 128;
			hdr[hn + 4 * i + 1] = 64;
			hdr[hn + 4 * i + 2] = 32;
			hdr[hn + 4 * i + 3] = 128; /* exponent: value/256 */
		}
		rc = siam_image_decode(&img, hdr, hn + 24, "flat.hdr", NULL,
		                       &err);
		tap_ok(rc == 0 && img.w == 3 && img.h == 2 && img.c == 3,
		       "flat HDR 3x2 decodes (%s)", rc ? err.msg : "ok");
		siam_image_release(&img);
		rc = siam_image_decode(&img, hdr, hn + 20, "short.hdr", NULL,
		                       &err);
		tap_int(rc, SIAM_EFORMAT, "flat HDR missing a pixel -> EFORMAT (%s)",
		        err.msg);
	}

	/* Headers claiming 100000 x 100000 (10 gigapixels): refused from
	 * the header, before stb allocates 30 GB (which would fail or take
	 * far longer than this test). */
	{
		unsigned char hdr[64];
		size_t n = png_header(hdr, 100000, 100000);
		rc = siam_image_decode(&img, hdr, n, "huge.png", NULL, &err);
		tap_int(rc, SIAM_ETOOBIG, "PNG header of 100000x100000 -> ETOOBIG");
		tap_ok(contains(err.msg, "huge.png") &&
		               contains(err.msg, "100000x100000"),
		       "... message names the input and its size: %s", err.msg);
		n = (size_t)snprintf((char *)hdr, sizeof hdr,
		                     "P6\n100000 100000\n255\n");
		memset(hdr + n, 0, 16);
		rc = siam_image_decode(&img, hdr, n + 16, "huge.ppm", NULL, &err);
		tap_int(rc, SIAM_ETOOBIG, "PPM header of 100000x100000 -> ETOOBIG");
		/* 8000 x 8000 = 64 Mpx is allowed, 8001 x 8000 is not. */
		n = png_header(hdr, 8001, 8000);
		rc = siam_image_decode(&img, hdr, n, "over.png", NULL, &err);
		tap_int(rc, SIAM_ETOOBIG, "8001x8000 is over the 64 Mpx default");
	}

	lim.max_pixels = 119;
	rc = siam_image_decode(&img, b.p, b.n, "small.png", &lim, &err);
	tap_int(rc, SIAM_ETOOBIG, "12x10 image with max_pixels 119 -> ETOOBIG");
	lim.max_pixels = 120;
	rc = siam_image_decode(&img, b.p, b.n, "small.png", &lim, &err);
	tap_int(rc, 0, "... and with max_pixels 120 it decodes");
	siam_image_release(&img);
	siam_image_limits_default(&lim);
	lim.max_bytes = b.n - 1;
	rc = siam_image_decode(&img, b.p, b.n, "small.png", &lim, &err);
	tap_int(rc, SIAM_ETOOBIG, "encoded size over max_bytes -> ETOOBIG");

	siam_image_release(NULL);
	memset(&img, 0, sizeof img);
	siam_image_release(&img);
	tap_ok(1, "siam_image_release(NULL) and of an empty image are no-ops");
	free(b.p);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static void test_files(void)
{
	siam_image img;
	siam_error err = {0};
	siam_image_limits lim;
	unsigned char px[6 * 4 * 3];
	mbuf b = {0};
	int rc;

	pattern(px, 6, 4, 3);
	stbi_write_png_to_func(mbuf_put, &b, 6, 4, 3, px, 18);
	write_file(tmppath("a.png"), b.p, b.n);
	rc = siam_image_load(&img, tmppath("a.png"), NULL, &err);
	tap_ok(rc == 0 && img.w == 6 && img.h == 4 && img.c == 3 &&
	               memcmp(img.px, px, sizeof px) == 0,
	       "load a PNG file: exact");
	siam_image_release(&img);

	rc = siam_image_load(&img, tmppath("nope.png"), NULL, &err);
	tap_int(rc, SIAM_EIO, "nonexistent path -> SIAM_EIO");
	tap_ok(contains(err.msg, tmppath("nope.png")) &&
	               contains(err.msg, strerror(ENOENT)),
	       "... naming it and the reason: %s", err.msg);

	rc = siam_image_load(&img, tmpdir, NULL, &err);
	tap_int(rc, SIAM_EIO, "a directory -> SIAM_EIO");
	tap_ok(contains(err.msg, "not a regular file") &&
	               contains(err.msg, "directory"),
	       "... message: %s", err.msg);

	/* Nobody ever writes to this FIFO: reading it would hang. */
	if (mkfifo(tmppath("fifo"), 0600) == 0) {
		rc = siam_image_load(&img, tmppath("fifo"), NULL, &err);
		tap_int(rc, SIAM_EIO, "a FIFO -> SIAM_EIO, at once");
		tap_ok(contains(err.msg, "FIFO"), "... message: %s", err.msg);
	} else {
		tap_ok(1, "# SKIP mkfifo failed: %s", strerror(errno));
		tap_ok(1, "# SKIP no FIFO");
	}

	rc = siam_image_load(&img, "/dev/null", NULL, &err);
	tap_int(rc, SIAM_EIO, "a device (/dev/null) -> SIAM_EIO (%s)", err.msg);

	if (symlink("loop", tmppath("loop")) == 0) {
		rc = siam_image_load(&img, tmppath("loop"), NULL, &err);
		tap_int(rc, SIAM_EIO, "a symlink loop -> SIAM_EIO (%s)", err.msg);
	} else {
		tap_ok(1, "# SKIP symlink failed");
	}

	write_file(tmppath("empty.png"), "", 0);
	rc = siam_image_load(&img, tmppath("empty.png"), NULL, &err);
	tap_int(rc, SIAM_EFORMAT, "an empty file -> SIAM_EFORMAT (%s)", err.msg);

	siam_image_limits_default(&lim);
	lim.max_bytes = 20;
	rc = siam_image_load(&img, tmppath("a.png"), &lim, &err);
	tap_int(rc, SIAM_ETOOBIG, "file over max_bytes -> ETOOBIG before "
	        "reading (%s)", err.msg);

	if (geteuid() != 0) {
		write_file(tmppath("secret.png"), b.p, b.n);
		chmod(tmppath("secret.png"), 0);
		rc = siam_image_load(&img, tmppath("secret.png"), NULL, &err);
		tap_ok(rc == SIAM_EIO && contains(err.msg, strerror(EACCES)),
		       "unreadable file -> SIAM_EIO, %s", err.msg);
	} else {
		tap_ok(1, "# SKIP running as root: permissions do not apply");
	}

	/* Standard input: a regular file, then a pipe. */
	{
		int saved = dup(0), fd, p[2];
		fd = open(tmppath("a.png"), O_RDONLY);
		dup2(fd, 0);
		close(fd);
		rc = siam_image_load(&img, "-", NULL, &err);
		tap_ok(rc == 0 && img.w == 6 && img.c == 3,
		       "\"-\" reads standard input (a file)");
		siam_image_release(&img);
		if (pipe(p) == 0) {
			/* Small enough for the pipe buffer: no writer thread. */
			ssize_t wn = write(p[1], b.p, b.n);
			close(p[1]);
			dup2(p[0], 0);
			close(p[0]);
			rc = siam_image_load(&img, "-", NULL, &err);
			tap_ok(wn == (ssize_t)b.n && rc == 0 && img.w == 6 &&
			               memcmp(img.px, px, sizeof px) == 0,
			       "\"-\" reads standard input (a pipe)");
			siam_image_release(&img);
			if (pipe(p) == 0) {
				wn = write(p[1], "junk", 4);
				close(p[1]);
				dup2(p[0], 0);
				close(p[0]);
				rc = siam_image_load(&img, "-", NULL, &err);
				tap_ok(rc == SIAM_EFORMAT &&
				               contains(err.msg, "standard input"),
				       "junk on standard input -> EFORMAT: %s",
				       err.msg);
			}
		}
		dup2(saved, 0);
		close(saved);
	}
	free(b.p);
}

/* ------------------------------------------------------------------ */
/* Area resize                                                         */

static void test_resize(void)
{
	float dst[256], src[256];
	int ok;

	/* 4x4 -> 2x2: each output is the mean of a 2x2 block. */
	for (int i = 0; i < 16; i++)
		src[i] = (float)i;
	siam_resize_area(dst, 2, 2, src, 4, 4, 1);
	tap_ok(fabsf(dst[0] - 2.5f) < 1e-5 && fabsf(dst[1] - 4.5f) < 1e-5 &&
	               fabsf(dst[2] - 10.5f) < 1e-5 &&
	               fabsf(dst[3] - 12.5f) < 1e-5,
	       "4x4 -> 2x2: block means 2.5 4.5 10.5 12.5 (got %g %g %g %g)",
	       dst[0], dst[1], dst[2], dst[3]);

	/* 3x3 -> 2x2: each output covers 1.5 x 1.5 source pixels; the top
	 * left one takes s00 whole, half of s01 and s10, a quarter of s11:
	 * (0 + 0.5*1 + 0.5*3 + 0.25*4) / 2.25 = 3/2.25 = 1.3333. */
	for (int i = 0; i < 9; i++)
		src[i] = (float)i;
	siam_resize_area(dst, 2, 2, src, 3, 3, 1);
	tap_near(dst[0], 3.0 / 2.25, 1e-5, "3x3 -> 2x2: top left = 4/3");
	/* top right: 0.5*1 + 2 + 0.25*4 + 0.5*5 = 6 / 2.25 */
	tap_near(dst[1], 6.0 / 2.25, 1e-5, "3x3 -> 2x2: top right = 8/3");
	tap_near(dst[3], (0.25 * 4 + 0.5 * 5 + 0.5 * 7 + 8) / 2.25, 1e-5,
	         "3x3 -> 2x2: bottom right = 20/3");

	/* 2x1 -> 3x1 upscale: [a, (a+b)/2, b]. */
	src[0] = 10;
	src[1] = 40;
	siam_resize_area(dst, 3, 1, src, 2, 1, 1);
	tap_ok(fabsf(dst[0] - 10) < 1e-5 && fabsf(dst[1] - 25) < 1e-5 &&
	               fabsf(dst[2] - 40) < 1e-5,
	       "2x1 -> 3x1: 10 25 40 (got %g %g %g)", dst[0], dst[1], dst[2]);

	/* A constant image stays constant, up or down, any ratio. */
	for (int i = 0; i < 6; i++)
		src[i] = 77.0f;
	siam_resize_area(dst, 7, 5, src, 3, 2, 1);
	ok = 1;
	for (int i = 0; i < 35; i++)
		ok &= fabsf(dst[i] - 77.0f) < 1e-4;
	tap_ok(ok, "3x2 -> 7x5 of a constant is constant");

	/* The mean is preserved for any ratio, down and up. */
	{
		siam_rng rng;
		double ms = 0, md = 0;
		siam_rng_seed(&rng, 3);
		for (int i = 0; i < 35; i++)
			ms += src[i] = 255 * siam_rng_uniform(&rng);
		siam_resize_area(dst, 3, 4, src, 7, 5, 1);
		for (int i = 0; i < 12; i++)
			md += dst[i];
		tap_near(md / 12, ms / 35, 1e-3, "7x5 -> 3x4 preserves the mean");
		md = 0;
		siam_resize_area(dst, 11, 9, src, 7, 5, 1);
		for (int i = 0; i < 99; i++)
			md += dst[i];
		tap_near(md / 99, ms / 35, 1e-3, "7x5 -> 11x9 preserves the mean");
		siam_resize_area(dst, 7, 5, src, 7, 5, 1);
		tap_ok(memcmp(dst, src, 35 * sizeof *dst) == 0,
		       "same size is the identity");
	}

	/* Interleaved channels are resized independently. */
	for (int i = 0; i < 16; i++) {
		src[3 * i + 0] = (float)i;
		src[3 * i + 1] = 100.0f;
		src[3 * i + 2] = (float)(2 * i);
	}
	siam_resize_area(dst, 2, 2, src, 4, 4, 3);
	tap_ok(fabsf(dst[0] - 2.5f) < 1e-5 && fabsf(dst[1] - 100) < 1e-5 &&
	               fabsf(dst[2] - 5.0f) < 1e-5 &&
	               fabsf(dst[9] - 12.5f) < 1e-5,
	       "3 interleaved channels: each resized on its own");
}

/* ------------------------------------------------------------------ */
/* Plain preprocessing                                                 */

static void test_plain(void)
{
	siam_preproc pre;
	siam_error err = {0};
	float out[3 * 4];
	unsigned char rgb[2 * 2 * 3] = {255, 0, 0, 0, 255, 0,
	                                0, 0, 255, 255, 255, 255};
	siam_image img = { .w = 2, .h = 2, .c = 3, .px = rgb };
	int rc;

	siam_preproc_default(&pre, 1, 1, 1);
	tap_ok(pre.c == 1 && pre.h == 1 && pre.w == 1 && pre.digit == 0 &&
	               pre.mean == 0.0f && pre.std == 1.0f,
	       "siam_preproc_default: plain, mean 0, std 1");
	rc = siam_preprocess(out, &img, &pre, &err);
	/* mean colour (127.5, 127.5, 127.5) -> luma 127.5 -> 0.5 */
	tap_ok(rc == 0 && fabsf(out[0] - 0.5f) < 1e-5,
	       "2x2 RGB -> 1x1 gray: luma of the mean, 0.5 (got %g)", out[0]);

	/* Pure red is 0.299 after luma. */
	siam_preproc_default(&pre, 1, 2, 2);
	rc = siam_preprocess(out, &img, &pre, &err);
	tap_ok(rc == 0 && fabsf(out[0] - 0.299f) < 1e-5 &&
	               fabsf(out[1] - 0.587f) < 1e-5 &&
	               fabsf(out[2] - 0.114f) < 1e-5 &&
	               fabsf(out[3] - 1.0f) < 1e-5,
	       "RGB -> gray uses luma 0.299 0.587 0.114");

	/* RGB stays RGB, laid out as planes (C,H,W). */
	siam_preproc_default(&pre, 3, 2, 2);
	pre.mean = 0.5f;
	pre.std = 0.25f;
	rc = siam_preprocess(out, &img, &pre, &err);
	tap_ok(rc == 0 && out[0] == 2.0f && out[1] == -2.0f &&
	               out[4 + 1] == 2.0f && out[8 + 2] == 2.0f &&
	               out[8 + 0] == -2.0f,
	       "RGB -> (3,2,2) planes, (v/255 - 0.5)/0.25");

	/* Gray to RGB: the same plane three times. */
	{
		unsigned char g[2] = {0, 255};
		siam_image gi = { .w = 2, .h = 1, .c = 1, .px = g };
		siam_preproc_default(&pre, 3, 1, 2);
		rc = siam_preprocess(out, &gi, &pre, &err);
		tap_ok(rc == 0 && out[0] == 0 && out[1] == 1 && out[2] == 0 &&
		               out[3] == 1 && out[4] == 0 && out[5] == 1,
		       "gray -> 3 identical planes");
	}

	siam_image empty = { .w = 0, .h = 0, .c = 1, .px = NULL };
	siam_preproc_default(&pre, 1, 28, 28);
	rc = siam_preprocess(out, &empty, &pre, &err);
	tap_int(rc, SIAM_EINVAL, "an image of 0x0 -> SIAM_EINVAL (%s)", err.msg);
	pre.digit = 1;
	rc = siam_preprocess(out, &empty, &pre, &err);
	tap_int(rc, SIAM_EINVAL, "... also for the digit convention");
	siam_preproc_default(&pre, 2, 28, 28);
	rc = siam_preprocess(out, &img, &pre, &err);
	tap_int(rc, SIAM_EINVAL, "2 input channels -> SIAM_EINVAL");
	siam_preproc_default(&pre, 1, 2, 2);
	pre.std = 0;
	rc = siam_preprocess(out, &img, &pre, &err);
	tap_int(rc, SIAM_EINVAL, "std 0 -> SIAM_EINVAL");
}

/* ------------------------------------------------------------------ */
/* The MNIST convention                                                */

#define NDIG 50

static siam_idx mnist;

/* What a digit's picture on paper looks like.  The pixel at (X,Y) of
 * the canvas gets ink t in [0,1] from the digit enlarged S times
 * (bilinear), placed at (ox,oy). */
typedef struct scene {
	int W, H, S, ox, oy;
	double noise;        /* Gaussian, in levels */
	double paper, ink;   /* gray levels */
	double grad;         /* paper darkens by this much left to right */
	int c;               /* 1, 2 (gray+alpha), 3, 4 (RGBA) */
	int light_on_dark;
	int specks;          /* number of 3x3 dust specks */
} scene;

static double ink_at(const unsigned char *d, const scene *sc, int X, int Y)
{
	double sx = (X - sc->ox + 0.5) / sc->S - 0.5;
	double sy = (Y - sc->oy + 0.5) / sc->S - 0.5;
	int x0 = (int)floor(sx), y0 = (int)floor(sy);
	double fx = sx - x0, fy = sy - y0, v = 0;
	for (int j = 0; j < 2; j++)
		for (int i = 0; i < 2; i++) {
			int x = x0 + i, y = y0 + j;
			if (x < 0 || y < 0 || x > 27 || y > 27)
				continue;
			v += (i ? fx : 1 - fx) * (j ? fy : 1 - fy) * d[y * 28 + x];
		}
	return v / 255.0;
}

static unsigned char clamp8(double v)
{
	return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
}

/* Renders the scene into a new image buffer (c channels). */
static unsigned char *render(const unsigned char *d, const scene *sc,
                             siam_rng *rng)
{
	unsigned char *p = malloc((size_t)sc->W * sc->H * sc->c);
	if (!p)
		return NULL;
	for (int Y = 0; Y < sc->H; Y++)
		for (int X = 0; X < sc->W; X++) {
			double t = ink_at(d, sc, X, Y);
			double paper = sc->paper - sc->grad * X / sc->W;
			double n = sc->noise * siam_rng_normal(rng);
			unsigned char *q = p + ((size_t)Y * sc->W + X) * sc->c;
			if (sc->light_on_dark)
				t = 1 - t;
			switch (sc->c) {
			case 1:
				q[0] = clamp8(paper + (sc->ink - paper) * t + n);
				break;
			case 2: /* dark ink in the alpha; the gray is black */
				q[0] = clamp8(sc->ink);
				q[1] = clamp8(255 * t + n);
				break;
			case 3: /* blue ink on cream paper */
				q[0] = clamp8(paper + (30 - paper) * t + n);
				q[1] = clamp8(0.95 * paper + (40 - 0.95 * paper) * t + n);
				q[2] = clamp8(0.8 * paper + (140 - 0.8 * paper) * t + n);
				break;
			case 4: /* transparent background of black pixels */
				q[0] = q[1] = q[2] = t > 0 ? clamp8(sc->ink) : 0;
				q[3] = clamp8(255 * t);
				break;
			}
		}
	for (int s = 0; s < sc->specks; s++) {
		/* In the left or right margin, never on the digit. */
		int x = s % 2 ? (int)siam_rng_below(rng, (uint32_t)(sc->ox - 4))
		              : sc->ox + 28 * sc->S + 1 +
		                        (int)siam_rng_below(rng, (uint32_t)(sc->W - sc->ox - 28 * sc->S - 4));
		int y = (int)siam_rng_below(rng, (uint32_t)(sc->H - 3));
		for (int j = 0; j < 3; j++)
			for (int i = 0; i < 3; i++)
				for (int k = 0; k < sc->c; k++)
					p[((size_t)(y + j) * sc->W + x + i) * sc->c + k] = 20;
	}
	return p;
}

/* Encodes (PNG, or JPEG of the given quality, or nothing if jpeg_q < 0),
 * decodes with siam, and preprocesses.  Returns 0 on success. */
static int photo(float *out, const unsigned char *px, const scene *sc,
                 int jpeg_q, const siam_preproc *pre)
{
	mbuf b = {0};
	siam_image img;
	siam_error err = {0};
	int rc;

	if (jpeg_q < 0) {
		/* No file format: the pixels as they are (c = 1 or 3). */
		siam_image raw = { .w = sc->W, .h = sc->H, .c = sc->c, .px = (unsigned char *)px };
		rc = siam_preprocess(out, &raw, pre, &err);
		if (rc)
			tap_diag("preprocess: %s", err.msg);
		return rc;
	}
	if (jpeg_q)
		stbi_write_jpg_to_func(mbuf_put, &b, sc->W, sc->H, sc->c, px,
		                       jpeg_q);
	else
		stbi_write_png_to_func(mbuf_put, &b, sc->W, sc->H, sc->c, px,
		                       sc->W * sc->c);
	if (b.oom || !b.n) {
		free(b.p);
		return -1;
	}
	rc = siam_image_decode(&img, b.p, b.n, "photo", NULL, &err);
	free(b.p);
	if (rc) {
		tap_diag("decode: %s", err.msg);
		return rc;
	}
	rc = siam_preprocess(out, &img, pre, &err);
	if (rc)
		tap_diag("preprocess: %s", err.msg);
	siam_image_release(&img);
	return rc;
}

/* Centre of mass and the bounding box (of pixels >= 0.5) of a 28x28. */
static void moments(const float *v, int w, int h, double *cx, double *cy,
                    int *bw, int *bh)
{
	double sx = 0, sy = 0, sm = 0;
	int x0 = w, x1 = -1, y0 = h, y1 = -1;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double t = v[y * w + x];
			sx += t * x;
			sy += t * y;
			sm += t;
			if (t >= 0.5) {
				x0 = x < x0 ? x : x0;
				x1 = x > x1 ? x : x1;
				y0 = y < y0 ? y : y0;
				y1 = y > y1 ? y : y1;
			}
		}
	*cx = sm > 0 ? sx / sm : -1;
	*cy = sm > 0 ? sy / sm : -1;
	*bw = x1 - x0 + 1;
	*bh = y1 - y0 + 1;
}

/* Runs a scene over digits [0, nd) and reports how close the photos
 * come to the preprocessed originals. */
static void scene_vs_ref(const char *what, scene sc, int jpeg_q, int nd,
                         const float *ref, double min_corr_bound,
                         double mean_corr_bound, double mad_bound)
{
	siam_preproc pre;
	siam_rng rng;
	double sc_min = 1, sc_sum = 0, mad_sum = 0;
	int fails = 0;

	siam_preproc_default(&pre, 1, 28, 28);
	pre.digit = 1;
	siam_rng_seed(&rng, 1234);
	for (int k = 0; k < nd; k++) {
		float got[784];
		scene s = sc;
		unsigned char *px;
		/* Jiggle the placement: the digit is anywhere. */
		s.ox += (int)siam_rng_below(&rng, 21) - 10;
		s.oy += (int)siam_rng_below(&rng, 21) - 10;
		px = render(mnist.data + (size_t)k * 784, &s, &rng);
		if (!px || photo(got, px, &s, jpeg_q, &pre) != 0) {
			fails++;
			free(px);
			continue;
		}
		free(px);
		double c = corr(got, ref + k * 784, 784);
		sc_min = c < sc_min ? c : sc_min;
		sc_sum += c;
		mad_sum += mad(got, ref + k * 784, 784);
	}
	tap_ok(fails == 0, "%s: %d photos decoded and preprocessed", what, nd);
	tap_ok(sc_sum / nd > mean_corr_bound,
	       "%s: mean correlation with the original %.4f > %.2f", what,
	       sc_sum / nd, mean_corr_bound);
	tap_ok(sc_min > min_corr_bound,
	       "%s: every digit's correlation > %.2f (min %.4f)", what,
	       min_corr_bound, sc_min);
	tap_ok(mad_sum / nd < mad_bound,
	       "%s: mean |difference| %.4f < %.3f (of 1)", what, mad_sum / nd,
	       mad_bound);
}

static void test_digits(void)
{
	static float ref[NDIG * 784];
	siam_preproc pre;
	siam_error err = {0};
	char path[1024];
	const char *src = getenv("SIAM_SRCDIR");
	int rc, ok;

	snprintf(path, sizeof path, "%s/tests/fixtures/mnist-t10k-50-images-idx3-ubyte",
	         src ? src : ".");
	rc = siam_idx_load(&mnist, path, &err);
	if (!tap_ok(rc == 0 && mnist.n == NDIG && mnist.rows == 28,
	            "the 50 MNIST test digits load (%s)", rc ? err.msg : "ok"))
		return;

	/* The originals: already MNIST, so preprocessing nearly keeps them
	 * (the digit is placed to the sub-pixel, MNIST to the pixel; the
	 * fitted outline is where the ink reaches half its peak). */
	siam_preproc_default(&pre, 1, 28, 28);
	pre.digit = 1;
	{
		double csum = 0, cmin = 1, comerr = 0;
		int sizeok = 1, rangeok = 1;
		for (int k = 0; k < NDIG; k++) {
			const unsigned char *d = mnist.data + (size_t)k * 784;
			siam_image img = { .w = 28, .h = 28, .c = 1, .px = (unsigned char *)d };
			float raw[784], *o = ref + k * 784;
			double cx, cy;
			int bw, bh;
			rc |= siam_preprocess(o, &img, &pre, &err);
			for (int i = 0; i < 784; i++) {
				raw[i] = d[i] / 255.0f;
				rangeok &= o[i] >= 0 && o[i] <= 1;
			}
			double c = corr(o, raw, 784);
			csum += c;
			cmin = c < cmin ? c : cmin;
			moments(o, 28, 28, &cx, &cy, &bw, &bh);
			comerr = fmax(comerr, fmax(fabs(cx - 14), fabs(cy - 14)));
			sizeok &= (bw > bh ? bw : bh) >= 18 && (bw > bh ? bw : bh) <= 21;
		}
		tap_int(rc, 0, "preprocessing the 50 originals succeeds");
		tap_ok(rangeok, "... outputs in [0, 1] (mean 0, std 1)");
		tap_ok(csum / NDIG > 0.95 && cmin > 0.80,
		       "... close to the originals: mean correlation %.4f > "
		       "0.95, min %.4f > 0.80", csum / NDIG, cmin);
		tap_ok(comerr < 0.3,
		       "... centre of mass at (14,14) within 0.3 px (worst %.3f)",
		       comerr);
		tap_ok(sizeok, "... the ink's long side spans 18..21 px of 28");
	}

	/* Photos of the digits, black ink on white paper, 10x larger on a
	 * 400x300 canvas, noise sigma 5: PNG, then JPEG quality 85.
	 * Measured on 300 MNIST test digits when written: mean correlation
	 * 0.997 (median 0.998), min 0.87 (a 1-px-thin faint "7"), mean
	 * |difference| 0.009; the 25 here: mean 0.996, min 0.92. */
	scene sc = {400, 300, 10, 60, 10, 5.0, 235, 40, 0, 1, 0, 0};
	scene_vs_ref("PNG photo 10x, noise 5", sc, 0, 25, ref, 0.80, 0.97,
	             0.03);
	scene_vs_ref("JPEG q85 photo 10x, noise 5", sc, 85, 10, ref, 0.80,
	             0.97, 0.03);
	/* Smaller (4x) in a corner, a gradient of light (paper from 235 on
	 * the left to 175 on the right), noise 8, JPEG. */
	scene sg = {300, 200, 4, 20, 40, 8.0, 235, 40, 60, 1, 0, 0};
	scene_vs_ref("JPEG photo 4x, light gradient, noise 8", sg, 85, 10, ref,
	             0.80, 0.95, 0.04);
	/* A dim photo: the paper is grey 110, the ink 40 (median of the
	 * picture under 127, yet the ink is the dark side). */
	scene sd = {200, 200, 6, 16, 16, 3.0, 110, 40, 0, 1, 0, 0};
	scene_vs_ref("dim photo (paper 110, ink 40)", sd, -1, 8, ref, 0.80,
	             0.95, 0.04);
	/* Light ink on a dark board: no inversion. */
	scene sl = {200, 200, 6, 16, 16, 3.0, 235, 40, 0, 1, 1, 0};
	scene_vs_ref("light ink on dark", sl, -1, 8, ref, 0.80, 0.95, 0.04);
	/* Dust: 3x3 specks in the margins must not stretch the crop. */
	scene ss = {500, 300, 8, 140, 20, 3.0, 235, 40, 0, 1, 0, 6};
	scene_vs_ref("photo with 6 dust specks", ss, -1, 8, ref, 0.80, 0.95,
	             0.04);
	/* Colour, alpha. */
	scene s3 = {300, 300, 8, 40, 40, 4.0, 240, 40, 40, 3, 0, 0};
	scene_vs_ref("RGB photo: blue ink, cream paper, gradient", s3, 90, 8,
	             ref, 0.80, 0.95, 0.04);
	scene s4 = {300, 300, 8, 40, 40, 0.0, 255, 20, 0, 4, 0, 0};
	scene_vs_ref("RGBA drawing, transparent background", s4, 0, 8, ref,
	             0.80, 0.95, 0.04);
	scene s2 = {300, 300, 8, 40, 40, 0.0, 255, 0, 0, 2, 0, 0};
	scene_vs_ref("gray+alpha drawing", s2, 0, 8, ref, 0.80, 0.95, 0.04);

	/* A large photo (over the 4 Mpx working size). */
	{
		scene sb = {2400, 1800, 50, 500, 200, 4.0, 230, 50, 0, 1, 0, 0};
		siam_rng rng;
		float got[784];
		unsigned char *px;
		siam_rng_seed(&rng, 5);
		px = render(mnist.data, &sb, &rng);
		siam_image img = { .w = sb.W, .h = sb.H, .c = 1, .px = px };
		rc = px ? siam_preprocess(got, &img, &pre, &err) : -1;
		tap_ok(rc == 0 && corr(got, ref, 784) > 0.9,
		       "a 2400x1800 photo (4.3 Mpx, 50x): correlation %.4f > 0.9",
		       rc == 0 ? corr(got, ref, 784) : 0.0);
		free(px);
	}

	/* Thin strokes: a "7" drawn with 2-px lines, 300 px tall, would be
	 * a faint hair at 20 px; it must come out with MNIST-like strokes. */
	{
		enum { W = 300, H = 400 };
		static unsigned char px[W * H];
		float got[784];
		long area = 0, perim = 0;
		float mx = 0;
		memset(px, 245, sizeof px);
		for (int x = 80; x < 240; x++)
			for (int t = 0; t < 2; t++)
				px[(50 + t) * W + x] = 30;
		for (int y = 50; y < 350; y++)
			for (int t = 0; t < 2; t++)
				px[y * W + 240 - (y - 50) * 110 / 300 + t] = 30;
		siam_image img = { .w = W, .h = H, .c = 1, .px = px };
		rc = siam_preprocess(got, &img, &pre, &err);
		for (int y = 0; y < 28; y++)
			for (int x = 0; x < 28; x++) {
				float v = got[y * 28 + x];
				mx = v > mx ? v : mx;
				if (v < 0.5f)
					continue;
				area++;
				perim += (x == 0 || got[y * 28 + x - 1] < 0.5f) +
				         (x == 27 || got[y * 28 + x + 1] < 0.5f) +
				         (y == 0 || got[(y - 1) * 28 + x] < 0.5f) +
				         (y == 27 || got[(y + 1) * 28 + x] < 0.5f);
			}
		double width = perim ? 2.0 * area / perim : 0;
		tap_ok(rc == 0 && mx > 0.9 && width >= 1.4,
		       "thin 2-px strokes on 300 px are thickened: stroke %.2f px "
		       "of 20 (MNIST: 2.0 median), peak %.2f", width, mx);
	}

	/* Blank pictures: all background, not an error. */
	{
		static unsigned char px[100 * 80];
		float got[784];
		siam_rng rng;
		siam_image img = { .w = 100, .h = 80, .c = 1, .px = px };
		siam_rng_seed(&rng, 9);
		memset(px, 255, sizeof px);
		pre.mean = 0.1307f;
		pre.std = 0.3081f;
		rc = siam_preprocess(got, &img, &pre, &err);
		ok = rc == 0;
		for (int i = 0; i < 784; i++)
			ok &= fabsf(got[i] - (0 - 0.1307f) / 0.3081f) < 1e-6;
		tap_ok(ok, "a white page -> all background ((0-mean)/std)");
		for (size_t i = 0; i < sizeof px; i++)
			px[i] = clamp8(200 + 4 * siam_rng_normal(&rng));
		rc = siam_preprocess(got, &img, &pre, &err);
		ok = rc == 0;
		for (int i = 0; i < 784; i++)
			ok &= fabsf(got[i] - (0 - 0.1307f) / 0.3081f) < 1e-6;
		tap_ok(ok, "a noisy grey page -> all background");
		memset(px, 0, sizeof px);
		rc = siam_preprocess(got, &img, &pre, &err);
		ok = rc == 0;
		for (int i = 0; i < 784; i++)
			ok &= fabsf(got[i] - (0 - 0.1307f) / 0.3081f) < 1e-6;
		tap_ok(ok, "a black page -> all background");
		unsigned char one = 0;
		siam_image dot = { .w = 1, .h = 1, .c = 1, .px = &one };
		rc = siam_preprocess(got, &dot, &pre, &err);
		tap_int(rc, 0, "a 1x1 image is fine");
		pre.mean = 0;
		pre.std = 1;
	}

	/* Other frame sizes: 56x56 fits the digit in 40x40, centred on
	 * (28,28); 3 channels are three copies. */
	{
		siam_preproc p2 = pre;
		static float big[3 * 56 * 56];
		siam_image img = { .w = 28, .h = 28, .c = 1, .px = mnist.data };
		double cx, cy;
		int bw, bh;
		p2.c = 3;
		p2.h = p2.w = 56;
		rc = siam_preprocess(big, &img, &p2, &err);
		moments(big, 56, 56, &cx, &cy, &bw, &bh);
		tap_ok(rc == 0 && fabs(cx - 28) < 0.3 && fabs(cy - 28) < 0.3 &&
		               (bw > bh ? bw : bh) >= 37 && (bw > bh ? bw : bh) <= 41,
		       "56x56: centred on (28,28) (%.2f,%.2f), long side %d of "
		       "the 40 box", cx, cy, bw > bh ? bw : bh);
		tap_ok(rc == 0 && memcmp(big, big + 56 * 56, 56 * 56 * sizeof *big) == 0 &&
		               memcmp(big, big + 2 * 56 * 56, 56 * 56 * sizeof *big) == 0,
		       "3-channel digit input: three identical planes");
	}
	siam_idx_release(&mnist);
}

/* The fast 8-bit area resize the preprocessing uses against the
 * reference loop: the same floats, bit for bit, down and up, on odd
 * sizes, 1 to 4 channels, rows with padding, noise and flat colour. */
static void test_resize_fast(void)
{
	static const int sizes[][4] = {
		{ 500, 375, 32, 32 }, { 375, 500, 32, 32 }, { 641, 479, 28, 28 },
		{ 4000, 7, 32, 32 },  { 7, 4000, 32, 32 },  { 1, 1, 32, 32 },
		{ 3, 2, 32, 32 },     { 31, 33, 32, 32 },   { 33, 31, 64, 48 },
		{ 32, 32, 32, 32 },   { 97, 61, 13, 17 },   { 2000, 1500, 250, 250 },
	};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int same = 1, runs = 0;
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
		for (int c = 1; c <= 4; c++)
			for (int flat = 0; flat < 2; flat++) {
				int sw = sizes[s][0], sh = sizes[s][1];
				int dw = sizes[s][2], dh = sizes[s][3];
				size_t stride = (size_t)sw * c + 5;
				unsigned char *px = malloc(stride * sh);
				float *a = malloc((size_t)dw * dh * c * sizeof *a);
				float *b = malloc((size_t)dw * dh * c * sizeof *b);
				for (size_t i = 0; i < stride * sh; i++) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					px[i] = flat ? 255 : (unsigned char)x;
				}
				pre_resize_u8(a, dw, dh, px, stride, sw, sh, c, 0);
				pre_resize_u8(b, dw, dh, px, stride, sw, sh, c, 1);
				if (memcmp(a, b, (size_t)dw * dh * c * sizeof *a)) {
					if (same)
						tap_diag("%dx%dx%d -> %dx%d differs",
						         sw, sh, c, dw, dh);
					same = 0;
				}
				runs++;
				free(px);
				free(a);
				free(b);
			}
	tap_ok(same, "fast 8-bit area resize = the reference, bit for bit "
	       "(%d cases)", runs);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/siam-test-image-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	test_formats();
	test_refusals();
	test_files();
	test_resize();
	test_resize_fast();
	test_plain();
	test_digits();

	/* Clean up the temporary directory. */
	const char *names[] = {"a.png", "fifo", "loop", "empty.png",
	                       "secret.png"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlink(tmppath(names[i]));
	rmdir(tmpdir);
	return tap_done();
}
