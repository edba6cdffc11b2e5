/*
 * test_image_jpeg_dc.c -- JPEGs at 1/8 through src/image/jpeg_dc.c
 * (progressive ones from their DC coefficients; sequential ones with
 * their AC coefficients stepped over by jpeg_huff.c, 4:2:0 chroma
 * through libjpeg's 2x2 IDCT) against libjpeg's own 1/8 decode of the
 * same file, which is the slow reference here.
 *
 * Every file is made here by libjpeg: 4:2:0, 4:4:4, 4:2:2, 4:4:0 and
 * gray; libjpeg's simple progression (an interleaved DC scan at Al = 1,
 * then its refinement) and a script of our own with non-interleaved DC
 * scans at Al = 2 refined twice, AC scans between them; with and
 * without restart intervals; sizes that are not a multiple of the MCU.
 * Then what it must not take or must refuse: other kinds of JPEG,
 * truncations, a wrong restart marker, AC scan headers libjpeg
 * refuses, thousands of scans, and thousands of random mutations (no
 * crash, no leak, a clean answer); and crafted DC quantizers whose
 * products leave the 8-bit range, where libjpeg's IDCT wraps.
 */
#include "tap.h"
#include "siam.h"
#include "siam_nn.h"
#include "image/jpeg_dc.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#include "photo.h"

static size_t find_marker(const unsigned char *d, size_t len, int m, int k);

enum { SIMPLE, NONINT };

/* A progressive JPEG of w x h pixels (c = 1 gray or 3 RGB, YCbCr when
 * ycc; luma sampled hs x vs), libjpeg's simple progression or our
 * non-interleaved script, a restart every ri MCUs (0: none). */
static unsigned char *jpeg_prog_ycc(const unsigned char *px, int w, int h,
                                    int c, int ycc, int hs, int vs,
                                    int script, int ri, size_t *len)
{
	/* DC at Al = 2, one component a scan, refined one component at
	 * a time then all three at once; AC scans in between. */
	static const jpeg_scan_info rgb[] = {
		{ 1, { 0 }, 0, 0, 0, 2 },  { 1, { 1 }, 0, 0, 0, 2 },
		{ 1, { 2 }, 0, 0, 0, 2 },  { 1, { 0 }, 1, 63, 0, 0 },
		{ 1, { 0 }, 0, 0, 2, 1 },  { 1, { 1 }, 0, 0, 2, 1 },
		{ 1, { 2 }, 0, 0, 2, 1 },  { 1, { 1 }, 1, 63, 0, 0 },
		{ 3, { 0, 1, 2 }, 0, 0, 1, 0 },
		{ 1, { 2 }, 1, 63, 0, 0 },
	};
	static const jpeg_scan_info gray[] = {
		{ 1, { 0 }, 0, 0, 0, 2 },  { 1, { 0 }, 1, 5, 0, 0 },
		{ 1, { 0 }, 0, 0, 2, 1 },  { 1, { 0 }, 0, 0, 1, 0 },
		{ 1, { 0 }, 6, 63, 0, 0 },
	};
	jpeg_opts o = { .quality = 90, .ycc = ycc, .hs = hs, .vs = vs,
	                .progressive = 1, .restart = (unsigned)ri };
	if (script != SIMPLE) {
		o.scans = c == 1 ? gray : rgb;
		o.nscans = c == 1 ? 5 : 10;
	}
	return jpeg_write(px, w, h, c, &o, len);
}

/* A sequential JPEG, interleaved or one scan a component (nonint), at
 * the given quality; otherwise as jpeg_prog_ycc. */
static unsigned char *jpeg_seq(const unsigned char *px, int w, int h, int c,
                               int ycc, int hs, int vs, int nonint, int ri,
                               int quality, size_t *len)
{
	static const jpeg_scan_info one[] = {
		{ 1, { 0 }, 0, 63, 0, 0 },
		{ 1, { 1 }, 0, 63, 0, 0 },
		{ 1, { 2 }, 0, 63, 0, 0 },
	};
	jpeg_opts o = { .quality = quality, .ycc = ycc, .hs = hs, .vs = vs,
	                .restart = (unsigned)ri };
	if (nonint) {
		o.scans = one;
		o.nscans = c;
	}
	return jpeg_write(px, w, h, c, &o, len);
}

static unsigned char *jpeg_prog(const unsigned char *px, int w, int h, int c,
                                int hs, int vs, int script, int ri,
                                size_t *len)
{
	return jpeg_prog_ycc(px, w, h, c, 0, hs, vs, script, ri, len);
}

/* libjpeg's decode of d at scale 1/8, as libjpeg does it by default
 * (fancy upsampling on, the ISLOW IDCT): the reference.  For any bytes:
 * -1 where libjpeg gives up (a mutated file), else the picture it makes
 * of whatever it steps over, its warnings unprinted. */
typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
} ref_err;

static void ref_exit(j_common_ptr ci)
{
	longjmp(((ref_err *)ci->err)->jb, 1);
}

static void ref_quiet(j_common_ptr ci, int level)
{
	(void)ci;
	(void)level;
}

static int ref_eighth(siam_image *o, const unsigned char *d, size_t len)
{
	struct jpeg_decompress_struct ci;
	ref_err je;
	unsigned char *volatile px = NULL;

	ci.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = ref_exit;
	je.pub.emit_message = ref_quiet;
	jpeg_create_decompress(&ci);
	if (setjmp(je.jb)) {
		jpeg_destroy_decompress(&ci);
		free(px);
		return -1;
	}
	jpeg_mem_src(&ci, d, (unsigned long)len);
	jpeg_read_header(&ci, TRUE);
	ci.scale_num = 1;
	ci.scale_denom = 8;
	ci.out_color_space = ci.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_start_decompress(&ci);
	px = malloc((size_t)ci.output_width * ci.output_height *
	            (size_t)ci.output_components);
	while (ci.output_scanline < ci.output_height) {
		JSAMPROW r = px + (size_t)ci.output_scanline *
		                      ci.output_width * ci.output_components;
		jpeg_read_scanlines(&ci, &r, 1);
	}
	o->w = (int)ci.output_width;
	o->h = (int)ci.output_height;
	o->c = ci.output_components;
	o->px = px;
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
	return 0;
}

/* Largest and mean |a - b| over all samples; -1 when the shapes differ. */
static int diff(const siam_image *a, const siam_image *b, double *mean)
{
	size_t n = (size_t)a->w * a->h * a->c;
	long sum = 0;
	int mx = 0;
	*mean = -1;
	if (!a->px || !b->px || a->w != b->w || a->h != b->h || a->c != b->c)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d = abs(a->px[i] - b->px[i]);
		sum += d;
		if (d > mx)
			mx = d;
	}
	*mean = (double)sum / (double)n;
	return mx;
}

static int contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

static void limits_eighth(siam_image_limits *lim)
{
	siam_image_limits_default(lim);
	lim->want_w = lim->want_h = 32;
}

/* ------------------------------------------------------------------ */
/* The DC path against libjpeg's 1/8                                   */

static void test_against_libjpeg(void)
{
	static const struct {
		const char *what;
		int c, hs, vs, script, ri, max;
		double mean;
		int flat; /* YCbCr, chroma flat on each 16x16 block */
		int seq, quality; /* sequential: 1 interleaved, 2 not */
	} cases[] = {
		/* One 1x1 IDCT per block and chroma replicated, in
		 * libjpeg as here: the same pixels. */
		{ "4:4:4 simple", 3, 1, 1, SIMPLE, 0, 0, 0, 0, 0, 0 },
		{ "4:4:4 non-interleaved, restarts", 3, 1, 1, NONINT, 7, 0, 0, 0, 0, 0 },
		{ "4:2:2 simple, restarts", 3, 2, 1, SIMPLE, 5, 0, 0, 0, 0, 0 },
		{ "4:4:0 non-interleaved", 3, 1, 2, NONINT, 0, 0, 0, 0, 0, 0 },
		{ "gray simple", 1, 1, 1, SIMPLE, 0, 0, 0, 0, 0, 0 },
		{ "gray script, restarts", 1, 1, 1, NONINT, 3, 0, 0, 0, 0, 0 },
		/* 4:2:0: libjpeg's 2x2 chroma IDCT reads AC coefficients
		 * we do not; where they are zero, the same pixels.  The
		 * scenes have chroma detail at every scale (noise, edges,
		 * texture), a worst case: measured max 136 and 87, mean
		 * 3.13 and 2.55; bounds with a margin. */
		{ "4:2:0 simple, chroma flat on 16x16 blocks", 3, 2, 2, SIMPLE,
		  0, 0, 0, 1, 0, 0 },
		{ "4:2:0 script, restarts, chroma flat on 16x16 blocks", 3, 2,
		  2, NONINT, 6, 0, 0, 1, 0, 0 },
		{ "4:2:0 simple", 3, 2, 2, SIMPLE, 0, 160, 4.0, 0, 0, 0 },
		{ "4:2:0 non-interleaved, restarts", 3, 2, 2, NONINT, 9, 160,
		  4.0, 0, 0, 0 },
		/* Sequential: the AC coefficients stepped over (luma, and
		 * chroma but in 4:2:0), or decoded for libjpeg's 2x2 IDCT
		 * of 4:2:0 chroma: the same pixels, every sampling.
		 * Quality 98 and 100 for long codes, large values and runs
		 * of zeros (ZRL) in every block. */
		{ "sequential 4:2:0", 3, 2, 2, 0, 0, 0, 0, 0, 1, 90 },
		{ "sequential 4:2:0, q100, restarts", 3, 2, 2, 0, 7, 0, 0, 0, 1, 100 },
		{ "sequential 4:2:0 non-interleaved, restarts", 3, 2, 2, 0, 5,
		  0, 0, 0, 2, 98 },
		{ "sequential 4:2:2", 3, 2, 1, 0, 0, 0, 0, 0, 1, 98 },
		{ "sequential 4:4:0, restarts", 3, 1, 2, 0, 1, 0, 0, 0, 1, 75 },
		{ "sequential 4:4:4, q100", 3, 1, 1, 0, 0, 0, 0, 0, 1, 100 },
		{ "sequential 4:4:4 non-interleaved", 3, 1, 1, 0, 0, 0, 0, 0, 2, 90 },
		{ "sequential gray, restarts", 1, 1, 1, 0, 2, 0, 0, 0, 1, 95 },
		{ "sequential gray, q30", 1, 1, 1, 0, 0, 0, 0, 0, 1, 30 },
	};
	enum { W = 643, H = 477 }; /* neither a multiple of 8 nor 16 */

	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		int c = cases[k].c;
		unsigned char *rgb = scene(W, H, 40 + (uint32_t)k), *px = rgb;
		unsigned char *g = NULL;
		if (c == 1) {
			g = malloc((size_t)W * H);
			for (size_t i = 0; i < (size_t)W * H; i++)
				g[i] = (unsigned char)((rgb[3 * i] * 2 +
				                        rgb[3 * i + 1] * 5 +
				                        rgb[3 * i + 2]) / 8);
			px = g;
		}
		if (cases[k].flat) { /* Y from the scene, Cb Cr per block */
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++) {
					unsigned char *p = rgb + ((size_t)y * W + x) * 3;
					uint32_t b = (uint32_t)(y / 16 * 41 + x / 16);
					p[1] = (unsigned char)(40 + b * 2654435761u % 176);
					p[2] = (unsigned char)(40 + b * 40503u % 176);
				}
		}
		size_t len;
		unsigned char *jpg =
			cases[k].seq ? jpeg_seq(px, W, H, c, 0, cases[k].hs,
			                        cases[k].vs, cases[k].seq == 2,
			                        cases[k].ri, cases[k].quality, &len)
			             : jpeg_prog_ycc(px, W, H, c, cases[k].flat,
			                             cases[k].hs, cases[k].vs,
			                             cases[k].script, cases[k].ri,
			                             &len);
		siam_image ref = { 0 }, dc = { 0 }, via = { 0 };
		siam_error err = { 0, "" };
		siam_image_limits lim;
		double mean = -1, m2;
		int rc, rc2, mx = -1;

		ref_eighth(&ref, jpg, len);
		limits_eighth(&lim);
		rc = img_jpeg_dc(&dc, jpg, len, "dc.jpg", &lim, &err);
		if (rc == 0)
			mx = diff(&dc, &ref, &mean);
		tap_ok(rc == 0 && dc.w == 81 && dc.h == 60 && dc.c == c &&
		       dc.full_w == W && dc.full_h == H && mx >= 0 &&
		       mx <= cases[k].max && mean <= cases[k].mean,
		       "%s, %dx%d: DC decode %dx%dx%d vs libjpeg 1/8: max "
		       "|diff| %d (<= %d), mean %.3f (<= %.1f)%s%s",
		       cases[k].what, W, H, dc.w, dc.h, dc.c, mx,
		       cases[k].max, mean, cases[k].mean, rc ? ": " : "",
		       rc ? err.msg : "");
		/* siam_image_decode takes the same path at 1/8. */
		rc2 = siam_image_decode(&via, jpg, len, "via.jpg", &lim, &err);
		tap_ok(rc2 == 0 && diff(&via, &dc, &m2) == 0,
		       "%s: siam_image_decode at 1/8 gives those pixels (%s)",
		       cases[k].what, rc2 ? err.msg : "ok");
		siam_image_release(&ref);
		siam_image_release(&dc);
		siam_image_release(&via);
		free(jpg);
		free(rgb);
		free(g);
	}
}

/* A progressive JPEG (c = 1 gray, 3 YCbCr 4:4:4, simple progression)
 * whose quantizers are all 1 but the last, 1000: a 16-bit table
 * (Pq = 1, DQT entries of 2 bytes) with a DC quantizer of 1, so the DC
 * coefficients span all of -1024 .. 1016. */
static unsigned char *jpeg_prog_q16(const unsigned char *px, int w, int h,
                                    int c, size_t *len)
{
	unsigned int q[64];
	for (int i = 0; i < 64; i++)
		q[i] = i == 63 ? 1000 : 1;
	jpeg_opts o = { .quant = q, .hs = 1, .vs = 1, .progressive = 1 };
	return jpeg_write(px, w, h, c, &o, len);
}

/* The 1x1 IDCT of a DC times its quantizer beyond what an 8-bit
 * picture holds (a crafted DQT): libjpeg (jidctred.c) takes the
 * quantizer as a short (ISLOW_MULT_TYPE: 32769 is -32767) and looks
 * the result up in its range-limit table through RANGE_MASK, which
 * wraps beyond -512 .. 511 instead of clamping.  The DC path must give
 * its pixels there too: they are what every other scale's IDCT sees,
 * and "the same pixels" is the contract. */
static void test_dc_range(void)
{
	enum { W = 200, H = 136 };
	static const struct {
		const char *what;
		int c, q0;
	} cases[] = {
		{ "gray, DC quantizer 1000", 1, 1000 },
		{ "gray, DC quantizer 32769 (a short: -32767)", 1, 32769 },
		{ "4:4:4, DC quantizers 4000", 3, 4000 },
		{ "4:4:4, DC quantizers 65535 (a short: -1)", 3, 65535 },
	};
	unsigned char *rgb = scene(W, H, 91), *g = malloc((size_t)W * H);

	for (size_t i = 0; i < (size_t)W * H; i++)
		g[i] = rgb[3 * i + 1];
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		size_t len, at;
		int c = cases[k].c, patched = 0, mx = -1;
		unsigned char *jpg = jpeg_prog_q16(c == 1 ? g : rgb, W, H, c,
		                                   &len);
		siam_image ref = { 0 }, dc = { 0 };
		siam_error err = { 0, "" };
		siam_image_limits lim;
		double mean = -1;
		int rc;
		/* each table's DC entry: FF DB, length, Pq/Tq = 0x1t, q0 */
		for (int t = 0; (at = find_marker(jpg, len, 0xdb, t)); t++)
			if (at + 6 < len && jpg[at + 4] >> 4 == 1) {
				jpg[at + 5] = (unsigned char)(cases[k].q0 >> 8);
				jpg[at + 6] = (unsigned char)cases[k].q0;
				patched++;
			}
		ref_eighth(&ref, jpg, len);
		limits_eighth(&lim);
		rc = img_jpeg_dc(&dc, jpg, len, "q.jpg", &lim, &err);
		if (rc == 0)
			mx = diff(&dc, &ref, &mean);
		tap_ok(patched == (c == 1 ? 1 : 2) && rc == 0 && mx == 0,
		       "%s: DC decode vs libjpeg 1/8: max |diff| %d, mean "
		       "%.3f (%d tables patched)%s%s", cases[k].what, mx, mean,
		       patched, rc ? ": " : "", rc ? err.msg : "");
		siam_image_release(&ref);
		siam_image_release(&dc);
		free(jpg);
	}
	free(rgb);
	free(g);
}

/* The embedding of a DC decode against that of libjpeg's 1/8 decode
 * and of a full decode, of camera-sized 4:2:0 scenes (the case that is
 * not exact).  The random 3x64x64 model sees colour, and these scenes
 * have chroma detail at every scale: measured DC vs libjpeg 1/8 2.4%
 * and 3.9% of two scenes' distance, DC vs full 2.5% and 4.8% (libjpeg
 * 1/8 vs full 1.7% and 1.4%); the fashion model (gray) 0.1% of its
 * threshold. */
static void test_embedding(void)
{
	siam_model *rgb = NULL, *fashion = load_model("fashion.siam");
	siam_error err = { 0, "" };

	if (siam_model_create(&rgb, "in=3x64x64 conv5x8 relu pool2 conv5x16 "
	                      "relu pool2 fc32", &err) == 0)
		siam_net_init(rgb->net, 3);
	tap_ok(rgb && fashion, "models: 3x64x64, fashion");
	if (!rgb || !fashion)
		goto out;
	for (int s = 0; s < 2; s++) {
		int W = s ? 1200 : 1600, H = s ? 1600 : 1200;
		unsigned char *px = scene(W, H, 300 + (uint32_t)s),
		              *px2 = scene(W, H, 400 + (uint32_t)s);
		size_t len, len2;
		unsigned char *jpg = jpeg_prog(px, W, H, 3, 2, 2, SIMPLE, 0,
		                               &len),
		              *jpg2 = jpeg_prog(px2, W, H, 3, 2, 2, SIMPLE, 0,
		                                &len2);
		siam_image ref = { 0 }, dc = { 0 }, other = { 0 }, full = { 0 };
		siam_image_limits lim;
		float er[64], ed[64], eo[64], fr[64], fd[64], ef[64];
		double d_rgb = -1, apart = -1, d_fa = -1, dc_full = -1,
		       ref_full = -1;
		int dim = siam_net_embed_dim(rgb->net),
		    fdim = siam_net_embed_dim(fashion->net);

		limits_eighth(&lim);
		ref_eighth(&ref, jpg, len);
		if (dim <= 64 && fdim <= 64 &&
		    !img_jpeg_dc(&dc, jpg, len, "a", &lim, &err) &&
		    !img_jpeg_dc(&other, jpg2, len2, "b", &lim, &err) &&
		    !siam_model_embed_image(rgb, &ref, er, &err) &&
		    !siam_model_embed_image(rgb, &dc, ed, &err) &&
		    !siam_model_embed_image(rgb, &other, eo, &err) &&
		    !siam_model_embed_image(fashion, &ref, fr, &err) &&
		    !siam_model_embed_image(fashion, &dc, fd, &err) &&
		    !siam_image_decode(&full, jpg, len, "a", NULL, &err) &&
		    !siam_model_embed_image(rgb, &full, ef, &err)) {
			d_rgb = l2(er, ed, dim);
			dc_full = l2(ed, ef, dim);
			ref_full = l2(er, ef, dim);
			apart = l2(ed, eo, dim);
			d_fa = l2(fr, fd, fdim);
		}
		tap_ok(d_rgb >= 0 && d_rgb < 0.05 * apart,
		       "%dx%d 4:2:0, 3x64x64 model: DC vs libjpeg 1/8 %.5f "
		       "(%.1f%%), under 5%% of two scenes' %.4f", W, H, d_rgb,
		       100 * d_rgb / apart, apart);
		tap_ok(dc_full >= 0 && dc_full < 0.06 * apart,
		       "%dx%d 4:2:0, 3x64x64 model: DC vs full decode %.5f "
		       "(%.1f%%; libjpeg 1/8 vs full %.5f, %.1f%%), under 6%% "
		       "of two scenes'", W, H, dc_full, 100 * dc_full / apart,
		       ref_full, 100 * ref_full / apart);
		tap_ok(d_fa >= 0 && d_fa < 0.01 * fashion->threshold,
		       "%dx%d 4:2:0, fashion model: DC vs libjpeg 1/8 %.5f, "
		       "under 1%% of its threshold %.4f", W, H, d_fa,
		       (double)fashion->threshold);
		siam_image_release(&ref);
		siam_image_release(&dc);
		siam_image_release(&other);
		siam_image_release(&full);
		free(jpg);
		free(jpg2);
		free(px);
		free(px2);
	}
out:
	siam_model_free(rgb);
	siam_model_free(fashion);
}

/* ------------------------------------------------------------------ */
/* What it leaves to libjpeg, and what it refuses                      */

/* A JPEG libjpeg writes with the given tweaks: sequential (prog 0),
 * arithmetic-coded, CMYK, or luma sampled hs x vs. */
static unsigned char *jpeg_other(const unsigned char *px, int w, int h,
                                 int prog, int arith, int cmyk, int hs,
                                 size_t *len)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL, *row = malloc((size_t)w * 4);
	unsigned long n = 0;

	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &out, &n);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = cmyk ? 4 : 3;
	ci.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
	jpeg_set_defaults(&ci);
	ci.arith_code = arith ? TRUE : FALSE;
	if (!cmyk)
		ci.comp_info[0].h_samp_factor = hs;
	if (prog)
		jpeg_simple_progression(&ci);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		const unsigned char *s = px + (size_t)ci.next_scanline * w * 3;
		JSAMPROW r = (JSAMPROW)s;
		if (cmyk) {
			for (int x = 0; x < w; x++) {
				memcpy(row + 4 * x, s + 3 * x, 3);
				row[4 * x + 3] = 200;
			}
			r = row;
		}
		jpeg_write_scanlines(&ci, &r, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	free(row);
	*len = n;
	return out;
}

static void test_declined(void)
{
	enum { W = 640, H = 480 };
	static const struct {
		const char *what;
		int prog, arith, cmyk, hs;
	} cases[] = {
		{ "sequential arithmetic-coded (SOF9)", 0, 1, 0, 2 },
		{ "sequential CMYK", 0, 0, 1, 1 },
		{ "sequential 4:1:1 (luma 4x1)", 0, 0, 0, 4 },
		{ "progressive arithmetic-coded (SOF10)", 1, 1, 0, 2 },
		{ "progressive CMYK", 1, 0, 1, 1 },
		{ "progressive 4:1:1 (luma 4x1)", 1, 0, 0, 4 },
	};
	unsigned char *px = scene(W, H, 77);

	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		size_t len;
		unsigned char *jpg = jpeg_other(px, W, H, cases[k].prog,
		                                cases[k].arith, cases[k].cmyk,
		                                cases[k].hs, &len);
		siam_image img = { 0 };
		siam_error err = { 0, "" };
		siam_image_limits lim;
		int rc, rc2;
		limits_eighth(&lim);
		rc = img_jpeg_dc(&img, jpg, len, "x.jpg", &lim, &err);
		int untouched = !img.px && !err.msg[0];
		rc2 = siam_image_decode(&img, jpg, len, "x.jpg", &lim, &err);
		tap_ok(rc == IMG_DC_DECLINE && untouched && rc2 == 0 &&
		       img.w == W / 8 && img.h == H / 8 && img.c == 3,
		       "%s: declined, libjpeg decodes it %dx%d (%s)",
		       cases[k].what, img.w, img.h, rc2 ? err.msg : "ok");
		siam_image_release(&img);
		free(jpg);
	}

	/* A sequential file with a second scan header after its one
	 * scan, an AC band (Ss = 1) as a progressive file would have:
	 * libjpeg refuses it (a sequential file's scans are 0..63, and
	 * one scan was all it expected), so the reader must not step
	 * over it as a progressive AC scan and give a picture at 1/8
	 * alone: it declines, and 1/8 is the same error as full size. */
	{
		static const unsigned char ac_sos[] = {
			0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00,
			0x01, 0x3f, 0x00, 0x12, 0x34,
		};
		size_t len, n;
		unsigned char *jpg = jpeg_seq(px, W, H, 3, 0, 2, 2, 0, 0, 90, &len);
		unsigned char *g = malloc(len + sizeof ac_sos);
		siam_image img = { 0 };
		siam_error err = { 0, "" };
		siam_image_limits lim;
		int rc, rc8, full;
		/* before the EOI at the end */
		memcpy(g, jpg, len - 2);
		memcpy(g + len - 2, ac_sos, sizeof ac_sos);
		memcpy(g + len - 2 + sizeof ac_sos, jpg + len - 2, 2);
		n = len + sizeof ac_sos;
		limits_eighth(&lim);
		rc = img_jpeg_dc(&img, g, n, "acseq.jpg", &lim, &err);
		rc8 = siam_image_decode(&img, g, n, "acseq.jpg", &lim, &err);
		siam_image_release(&img);
		siam_image_limits_default(&lim);
		full = siam_image_decode(&img, g, n, "acseq.jpg", &lim, &err);
		siam_image_release(&img);
		tap_ok(jpg[len - 2] == 0xff && jpg[len - 1] == 0xd9 &&
		       rc == IMG_DC_DECLINE && rc8 == full,
		       "sequential file, then a scan header with Ss = 1: "
		       "declined (%d); at 1/8 as at full size (%d, %d: %s)",
		       rc, rc8, full, err.msg);
		free(g);
		free(jpg);
	}
	free(px);
}

/* The offset of the k-th (0-based) marker m after the header, or 0. */
static size_t find_marker(const unsigned char *d, size_t len, int m, int k)
{
	for (size_t i = 2; i + 1 < len; i++)
		if (d[i] == 0xff && d[i + 1] == m && k-- == 0)
			return i;
	return 0;
}

/* jpg mutated into g, the t-th time: cut short one time in ten, else
 * 1 to 8 bytes changed at random.  Returns the length to read. */
static size_t mutate(unsigned char *g, const unsigned char *jpg, size_t len,
                     int t)
{
	memcpy(g, jpg, len);
	if (t % 10 == 9)
		return rnd() % len;
	for (int k = 1 + (int)(rnd() % 8); k > 0; k--)
		g[rnd() % len] = (unsigned char)rnd();
	return len;
}

static void test_hostile(void)
{
	enum { W = 400, H = 300 };
	unsigned char *px = scene(W, H, 55);
	size_t len, rlen;
	unsigned char *jpg = jpeg_prog(px, W, H, 3, 2, 2, SIMPLE, 0, &len),
	              *rj = jpeg_prog(px, W, H, 3, 1, 1, NONINT, 4, &rlen);
	siam_image_limits lim;
	siam_image img = { 0 };
	siam_error err = { 0, "" };
	int rc;

	limits_eighth(&lim);

	/* Cut inside the first (DC) scan, inside the second (AC), and
	 * just before the end marker. */
	size_t cuts[3] = { find_marker(jpg, len, 0xda, 0) + 40,
	                   find_marker(jpg, len, 0xda, 1) + 40, len - 2 };
	for (int k = 0; k < 3; k++) {
		rc = img_jpeg_dc(&img, jpg, cuts[k], "cut.jpg", &lim, &err);
		tap_ok(rc == SIAM_EFORMAT && !img.px &&
		       contains(err.msg, "cut.jpg: truncated JPEG"),
		       "cut at %zu of %zu bytes: %s", cuts[k], len, err.msg);
	}
	rc = siam_image_decode(&img, jpg, cuts[1], "cut.jpg", &lim, &err);
	tap_ok(rc == SIAM_EFORMAT && contains(err.msg, "truncated JPEG"),
	       "the same through siam_image_decode: %s", err.msg);

	/* A wrong restart marker: declined; libjpeg resynchronises (with
	 * a warning, as viewers do) within its budget, and is refused as
	 * too big when the budget is smaller than its coefficients. */
	{
		unsigned char *g = malloc(rlen);
		memcpy(g, rj, rlen);
		size_t r = find_marker(g, rlen, 0xd1, 0);
		g[r + 1] = 0xd5;
		rc = img_jpeg_dc(&img, g, rlen, "rst.jpg", &lim, &err);
		tap_ok(r && rc == IMG_DC_DECLINE && !img.px,
		       "RST1 replaced by RST5: declined (%d)", rc);
		rc = siam_image_decode(&img, g, rlen, "rst.jpg", &lim, &err);
		tap_ok(rc == 0 && img.w == W / 8,
		       "... and libjpeg decodes it (%s)", rc ? err.msg : "ok");
		siam_image_release(&img);
		lim.max_pixels = W * H;
		rc = siam_image_decode(&img, g, rlen, "rst.jpg", &lim, &err);
		tap_ok(rc == SIAM_ETOOBIG && contains(err.msg, "rst.jpg"),
		       "... or refuses it above the coefficient budget: %s",
		       err.msg);
		limits_eighth(&lim);
		free(g);
	}

	/* An AC scan header libjpeg refuses (jdphuff.c: a refinement
	 * with Al != Ah - 1, "Invalid progressive parameters"; an AC
	 * table number above 3, "Huffman table 0x0f was not defined"):
	 * the DC path steps over AC data but not over AC headers, so it
	 * declines, and the file is the error it is at every other
	 * scale, not a picture at 1/8 alone.  The second scan of the
	 * simple progression is Y's first AC band: FF DA, length, Ns,
	 * Cs, Td/Ta at +6, Ss, Se, Ah/Al at +9. */
	{
		static const struct {
			const char *what;
			int at, byte;
		} bad[] = {
			{ "Ah 3, Al 1 (a refinement must have Al = Ah - 1)", 9,
			  0x31 },
			{ "AC table 15", 6, 0x0f },
		};
		size_t s = find_marker(jpg, len, 0xda, 1);
		for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
			unsigned char *g = malloc(len);
			int full;
			memcpy(g, jpg, len);
			g[s + (size_t)bad[k].at] = (unsigned char)bad[k].byte;
			rc = img_jpeg_dc(&img, g, len, "acs.jpg", &lim, &err);
			tap_ok(s && g[s + 4] == 1 && g[s + 7] > 0 &&
			       rc == IMG_DC_DECLINE && !img.px,
			       "AC scan with %s: declined (%d)", bad[k].what, rc);
			siam_image_release(&img);
			rc = siam_image_decode(&img, g, len, "acs.jpg", &lim,
			                       &err);
			siam_image_release(&img);
			siam_image_limits_default(&lim); /* full size */
			full = siam_image_decode(&img, g, len, "acs.jpg", &lim,
			                         &err);
			siam_image_release(&img);
			limits_eighth(&lim);
			tap_ok(rc == SIAM_EFORMAT && full == SIAM_EFORMAT &&
			       contains(err.msg, "acs.jpg: cannot decode JPEG"),
			       "... an error at 1/8 as at full size: %s",
			       err.msg);
			free(g);
		}
	}

	/* 1000 scans: the last one (an AC refinement) repeated. */
	{
		size_t last = 0;
		for (size_t i = 2; i + 1 < len; i++)
			if (jpg[i] == 0xff && jpg[i + 1] == 0xda)
				last = i;
		size_t sl = len - 2 - last, n = last + 1000 * sl + 2;
		unsigned char *g = malloc(n), *q = g;
		memcpy(q, jpg, last);
		q += last;
		for (int k = 0; k < 1000; k++, q += sl)
			memcpy(q, jpg + last, sl);
		q[0] = 0xff;
		q[1] = 0xd9;
		rc = img_jpeg_dc(&img, g, n, "scans.jpg", &lim, &err);
		tap_ok(rc == SIAM_EFORMAT && !img.px &&
		       contains(err.msg, "scans.jpg: JPEG of more than 500 scans"),
		       "1000 scans at 1/8: %s", err.msg);
		free(g);
	}

	/* Random mutations: 1 to 8 bytes changed, or a cut, 3000 times.
	 * Every answer is a picture, a decline with nothing allocated,
	 * or an error with a message; ASan and UBSan watch the rest. */
	{
		int bad = 0, ok = 0, declined = 0, errors = 0;
		unsigned char *g = malloc(len);
		rng_state = 1234;
		for (int t = 0; t < 3000; t++) {
			size_t n = mutate(g, jpg, len, t);
			err.msg[0] = 0;
			rc = img_jpeg_dc(&img, g, n, "m.jpg", &lim, &err);
			if (rc == 0 && img.px)
				ok++;
			else if (rc == IMG_DC_DECLINE && !img.px)
				declined++;
			else if (rc < 0 && !img.px && contains(err.msg, "m.jpg"))
				errors++;
			else
				bad++;
			siam_image_release(&img);
		}
		tap_ok(bad == 0, "3000 mutations: %d decoded, %d declined, %d "
		       "errors, %d other", ok, declined, errors, bad);
		free(g);
	}
	free(jpg);
	free(rj);
	free(px);
}

/* Mutations of sequential files (4:2:0 with restarts, 4:4:4 without):
 * jpeg_dc.c takes a sequential file only when nothing in it is what
 * libjpeg would warn about or step over, so every picture it gives must
 * be libjpeg's own 1/8 decode of the same bytes, to the last sample.
 * The rest is declined (libjpeg decodes it) or an error with a
 * message; ASan and UBSan watch for the rest. */
static void test_seq_mutations(void)
{
	enum { W = 300, H = 200 };
	unsigned char *px = scene(W, H, 61);
	siam_image_limits lim;

	limits_eighth(&lim);
	for (int f = 0; f < 2; f++) {
		size_t len;
		unsigned char *jpg = f ? jpeg_seq(px, W, H, 3, 0, 1, 1, 0, 0, 95, &len)
		                       : jpeg_seq(px, W, H, 3, 0, 2, 2, 0, 3, 90, &len);
		unsigned char *g = malloc(len);
		int same = 0, differ = 0, declined = 0, errors = 0, bad = 0,
		    ref_fails = 0;
		rng_state = 4321 + (uint32_t)f;
		for (int t = 0; t < 3000; t++) {
			siam_image img = { 0 }, ref = { 0 };
			siam_error err = { 0, "" };
			size_t n = mutate(g, jpg, len, t);
			int rc;
			double mean;
			rc = img_jpeg_dc(&img, g, n, "m.jpg", &lim, &err);
			if (rc == 0 && img.px) {
				if (ref_eighth(&ref, g, n))
					ref_fails++;
				else if (diff(&img, &ref, &mean) == 0)
					same++;
				else
					differ++;
			} else if (rc == IMG_DC_DECLINE && !img.px) {
				declined++;
			} else if (rc < 0 && !img.px && contains(err.msg, "m.jpg")) {
				errors++;
			} else {
				bad++;
			}
			siam_image_release(&img);
			siam_image_release(&ref);
		}
		tap_ok(bad == 0 && differ == 0 && ref_fails == 0 && same > 0,
		       "sequential %s, 3000 mutations: %d decoded (each "
		       "libjpeg's pixels: %d; different %d; libjpeg refused "
		       "%d), %d declined, %d errors, %d other",
		       f ? "4:4:4" : "4:2:0 with restarts", same + differ +
		       ref_fails, same, differ, ref_fails, declined, errors, bad);
		free(g);
		free(jpg);
	}
	free(px);
}

int main(void)
{
	test_against_libjpeg();
	test_embedding();
	test_declined();
	test_hostile();
	test_dc_range();
	test_seq_mutations();
	return tap_done();
}
