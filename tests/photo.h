/*
 * photo.h -- test helpers that make camera-like JPEGs: a seeded scene
 * (gradients, discs, texture, noise), libjpeg encoding with an optional
 * EXIF orientation, the L2 distance of two embeddings and the shipped
 * models.  Shared by the image tests (test_image_jpeg, test_image_paths);
 * include after tap.h, siam.h and jpeglib.h.  Everything is static inline
 * so that a test using part of it builds without warnings.
 */
#ifndef SIAM_TESTS_PHOTO_H
#define SIAM_TESTS_PHOTO_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Making JPEGs                                                        */

/* A seeded LCG, so the scenes are the same on every run. */
static uint32_t rng_state;
static inline uint32_t rnd(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return rng_state >> 8;
}

/* A w x h RGB scene for seed. */
static inline unsigned char *scene(int w, int h, uint32_t seed)
{
	unsigned char *p = malloc((size_t)w * h * 3);
	struct { double x, y, r; int col[3]; } disc[12];
	rng_state = seed;
	for (int k = 0; k < 12; k++) {
		disc[k].x = rnd() % 1000 / 1000.0;
		disc[k].y = rnd() % 1000 / 1000.0;
		disc[k].r = 0.04 + rnd() % 200 / 1000.0;
		for (int j = 0; j < 3; j++)
			disc[k].col[j] = (int)(rnd() % 256);
	}
	double fx = 3 + rnd() % 40, fy = 3 + rnd() % 40;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double u = (double)x / w, v = (double)y / h;
			int c[3] = { (int)(60 + 150 * v), (int)(90 + 100 * u),
			             (int)(200 - 120 * v) };
			for (int k = 0; k < 12; k++) {
				double dx = (u - disc[k].x) * w / h,
				       dy = v - disc[k].y;
				if (dx * dx + dy * dy < disc[k].r * disc[k].r)
					for (int j = 0; j < 3; j++)
						c[j] = disc[k].col[j];
			}
			double t = 18 * sin(6.2832 * (fx * u + fy * v * v));
			for (int j = 0; j < 3; j++) {
				int q = c[j] + (int)t + (int)(rnd() % 17) - 8;
				p[((size_t)y * w + x) * 3 + j] =
					(unsigned char)(q < 0 ? 0 : q > 255 ? 255 : q);
			}
		}
	return p;
}

/* The EXIF APP1 payload with one IFD0 entry, Orientation = o; le picks
 * the byte order ("II" or "MM").  Returns its length (34). */
static inline size_t exif_block(unsigned char *b, int o, int le)
{
	static const unsigned char ii[] = {
		'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
		1, 0,                        /* one entry */
		0x12, 0x01, 3, 0, 1, 0, 0, 0, /* 0x0112, SHORT, count 1 */
		0, 0, 0, 0,                   /* value, set below */
		0, 0, 0, 0                    /* no next IFD */
	};
	static const unsigned char mm[] = {
		'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
		0, 1,
		0x01, 0x12, 0, 3, 0, 0, 0, 1,
		0, 0, 0, 0,
		0, 0, 0, 0
	};
	memcpy(b, le ? ii : mm, sizeof ii);
	b[le ? 24 : 25] = (unsigned char)o;
	return sizeof ii;
}

/* How jpeg_write encodes; a zero field keeps libjpeg's default. */
typedef struct {
	int quality;                 /* jpeg_set_quality, unless quant   */
	const unsigned int *quant;   /* 64 quantizers, tables 0 and 1    */
	int ycc;                     /* the pixels are YCbCr already     */
	int hs, vs;                  /* luma sampling, 3 components      */
	int progressive;             /* libjpeg's simple progression...  */
	const jpeg_scan_info *scans; /* ... or this scan script          */
	int nscans;
	unsigned int restart;        /* MCUs between restart markers     */
	int orientation, le;         /* an EXIF segment when orientation */
} jpeg_opts;

/* Encodes w x h x c pixels (c = 1 grey, 3 RGB or YCbCr) as o says.
 * *len bytes, malloc'ed. */
static inline unsigned char *jpeg_write(const unsigned char *px, int w, int h,
                                        int c, const jpeg_opts *o, size_t *len)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL;
	unsigned long n = 0;

	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &out, &n);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = c;
	ci.in_color_space = c == 1 ? JCS_GRAYSCALE : o->ycc ? JCS_YCbCr : JCS_RGB;
	jpeg_set_defaults(&ci);
	if (o->quant) {
		jpeg_add_quant_table(&ci, 0, o->quant, 100, FALSE);
		jpeg_add_quant_table(&ci, 1, o->quant, 100, FALSE);
	} else {
		jpeg_set_quality(&ci, o->quality, TRUE);
	}
	if (c == 3 && o->hs) {
		ci.comp_info[0].h_samp_factor = o->hs;
		ci.comp_info[0].v_samp_factor = o->vs;
	}
	if (o->scans) {
		ci.scan_info = o->scans;
		ci.num_scans = o->nscans;
	} else if (o->progressive) {
		jpeg_simple_progression(&ci);
	}
	ci.restart_interval = o->restart;
	jpeg_start_compress(&ci, TRUE);
	if (o->orientation > 0) {
		unsigned char b[64];
		size_t bl = exif_block(b, o->orientation, o->le);
		jpeg_write_marker(&ci, JPEG_APP0 + 1, b, (unsigned)bl);
	}
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	*len = n;
	return out;
}

/* A baseline JPEG at quality q; with an EXIF orientation segment when
 * o > 0 (little-endian when le). */
static inline unsigned char *jpeg_encode(const unsigned char *px, int w, int h,
                                         int c, int q, int o, int le, size_t *len)
{
	jpeg_opts opts = { .quality = q, .orientation = o, .le = le };
	return jpeg_write(px, w, h, c, &opts, len);
}

/* ------------------------------------------------------------------ */
/* Embeddings and models                                               */

static inline double l2(const float *a, const float *b, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return sqrt(s);
}

static inline siam_model *load_model(const char *file)
{
	const char *src = getenv("SIAM_SRCDIR");
	char path[4096];
	siam_model *m = NULL;
	siam_error err = { 0, "" };
	snprintf(path, sizeof path, "%s/models/%s", src ? src : "..", file);
	if (siam_model_load(&m, path, &err))
		tap_diag("%s: %s", path, err.msg);
	return m;
}

#endif
