/*
 * jpeg.c -- JPEG through libjpeg-turbo, decoded at the smallest DCT
 * scale that still gives the caller the pixels it asked for.
 *
 * A camera JPEG has 12 to 50 million pixels; a model looks at 32x32 or
 * 64x64 of them and the perceptual hash at 32x32.  libjpeg-turbo can
 * run the inverse DCT at M/8 of the size (M = 1..8), which at 1/8 is
 * the mean of each 8x8 block, straight from its DC coefficient: most of
 * the decoder's work (IDCT, upsampling, colour conversion) and memory
 * shrink by up to 64 times, and only the entropy decoding is left.  So:
 *
 *   - M is the smallest that keeps the decoded picture at least
 *     lim->want_w x want_h (of the upright picture: the EXIF orientation
 *     is read first, and 5..8 swap the two); with no wish (0 x 0) the
 *     picture is decoded whole, as before.  The area resize that
 *     follows (preprocess.c) averages the same pixels either way,
 *     which is why the result stays close to a full decode (the bound
 *     is measured in tests/test_image_jpeg.c).
 *   - Rows go straight into the output buffer, so memory is the scaled
 *     picture plus libjpeg's few rows.
 *   - A multi-scan JPEG (progressive, or sequential with one scan per
 *     component) is the exception: libjpeg keeps every DCT coefficient
 *     of the picture until the last scan, 2 bytes a stored sample
 *     whatever the scale (150 MB for a 50 Mpx 4:2:0 photo, twice that
 *     for 4:4:4).  At 1/8, the usual scale of a photo, a progressive
 *     one goes to jpeg_dc.c instead, which reads the DC coefficients
 *     alone (all a 1/8 decode uses) in 2 bytes a block.  Otherwise its
 *     coefficients are measured from the header and the picture is
 *     refused as too big above PROG_BYTES_PER_PIXEL bytes a pixel of
 *     max_pixels (192 MB with the default 64 Mpx: a 4:2:0 picture of
 *     the largest size accepted), before anything is allocated;
 *     libjpeg is told the same budget (max_memory_to_use), so it fails
 *     rather than exceed it.  Each scan is a pass over all those
 *     coefficients: a file of thousands of tiny scans (a known denial
 *     of service) is refused after MAX_SCANS, as TurboJPEG's scan
 *     limit does.
 *
 * Why the libjpeg API (jpeglib.h, libjpeg62-turbo-dev) and not
 * TurboJPEG's: it hands us the APP1 marker holding the EXIF
 * orientation, lets us pick M from the header before anything is
 * allocated, reports errors through our own handler with libjpeg's
 * message text (TurboJPEG 2.1 keeps its message in a global), and
 * warnings reach us too, so a truncated file is an error rather than a
 * picture with a grey bottom half.  It is the same libjpeg-turbo code
 * (SIMD included) underneath.
 */
#include "image/jpeg_dc.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* The coefficient budget of a multi-scan JPEG, in bytes per pixel of
 * lim->max_pixels: 2 bytes a coefficient, 1.5 samples a pixel (4:2:0). */
#define PROG_BYTES_PER_PIXEL 3
#define MAX_SCANS IMG_JPEG_MAX_SCANS

typedef struct jerr {
	struct jpeg_error_mgr pub; /* first: libjpeg casts to it */
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	int truncated;
	int scans; /* 1: stopped at MAX_SCANS */
} jerr;

/* The progress monitor: called between passes and scans while a
 * multi-scan file is read in; stops one with too many scans. */
typedef struct jprog {
	struct jpeg_progress_mgr pub; /* first: libjpeg casts to it */
	jerr *e;
} jprog;

static void on_progress(j_common_ptr ci)
{
	jprog *p = (jprog *)ci->progress;
	j_decompress_ptr di = (j_decompress_ptr)ci;
	if (!ci->is_decompressor || di->input_scan_number <= MAX_SCANS)
		return;
	p->e->scans = 1;
	longjmp(p->e->jb, 1);
}

/* The bytes libjpeg's coefficient buffer takes for the whole picture
 * (jdcoefct.c: each component's blocks, rounded up to its sampling
 * factors, 64 coefficients of 2 bytes). */
static double coef_bytes(const struct jpeg_decompress_struct *ci)
{
	double n = 0;
	for (int i = 0; i < ci->num_components; i++) {
		const jpeg_component_info *c = &ci->comp_info[i];
		long bw = c->h_samp_factor, bh = c->v_samp_factor;
		n += (double)((c->width_in_blocks + bw - 1) / bw * bw) *
		     (double)((c->height_in_blocks + bh - 1) / bh * bh);
	}
	return n * sizeof(JBLOCK);
}

static void on_error(j_common_ptr ci)
{
	jerr *e = (jerr *)ci->err;
	ci->err->format_message(ci, e->msg);
	longjmp(e->jb, 1);
}

/* Warnings (level -1) are corrupt data libjpeg can step over, as every
 * viewer does, except running out of data: libjpeg would fill the rest
 * with grey and call it a picture.  Trace messages (>= 0) are ignored;
 * nothing is printed. */
static void on_message(j_common_ptr ci, int level)
{
	jerr *e = (jerr *)ci->err;
	if (level < 0 && ci->err->msg_code == JWRN_JPEG_EOF) {
		e->truncated = 1;
		longjmp(e->jb, 1);
	}
}

/* The smallest M (of M/8) whose output covers want x want_h.  libjpeg
 * rounds output sizes up: ceil(side * M / 8). */
static int pick_scale(long long w, long long h, int want_w, int want_h)
{
	int m;
	if (want_w <= 0 && want_h <= 0)
		return 8;
	for (m = 1; m < 8; m++)
		if ((w * m + 7) / 8 >= want_w && (h * m + 7) / 8 >= want_h)
			return m;
	return 8;
}

/* CMYK to RGB.  Adobe writes CMYK JPEGs inverted (255 = no ink), which
 * is what libjpeg hands back; others store ink amounts. */
static void cmyk_row(unsigned char *dst, const unsigned char *src, int w,
                     int inverted)
{
	for (int x = 0; x < w; x++) {
		unsigned c = src[4 * x], m = src[4 * x + 1], y = src[4 * x + 2],
		         k = src[4 * x + 3];
		if (!inverted) {
			c = 255 - c;
			m = 255 - m;
			y = 255 - y;
			k = 255 - k;
		}
		dst[3 * x + 0] = (unsigned char)((c * k + 127) / 255);
		dst[3 * x + 1] = (unsigned char)((m * k + 127) / 255);
		dst[3 * x + 2] = (unsigned char)((y * k + 127) / 255);
	}
}

int img_decode_jpeg(siam_image *out, int *orient, const unsigned char *d,
                    size_t len, const char *name,
                    const siam_image_limits *lim, siam_error *err)
{
	struct jpeg_decompress_struct ci;
	jerr je;
	/* volatile: set after setjmp and read after its longjmp */
	unsigned char *volatile row = NULL; /* CMYK: a row of 4-byte pixels */
	volatile int created = 0;
	int rc, want_w, want_h;
	volatile int c, cmyk = 0;
	jpeg_saved_marker_ptr mk;
	jprog prog;

	*orient = 1;
	memset(&ci, 0, sizeof ci);
	memset(&je, 0, sizeof je);
	memset(&prog, 0, sizeof prog);
	ci.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = on_error;
	je.pub.emit_message = on_message;
	prog.pub.progress_monitor = on_progress;
	prog.e = &je;
	if (setjmp(je.jb)) {
		if (je.scans)
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: JPEG of more than %d scans "
			                 "(no encoder writes that many: a "
			                 "hostile file)", name, MAX_SCANS);
		else if (je.truncated)
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: truncated JPEG (the data ends "
			                 "before the picture does)", name);
		else
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: cannot decode JPEG (%s)", name,
			                 je.msg);
		goto fail;
	}
	jpeg_create_decompress(&ci);
	created = 1;
	ci.progress = &prog.pub;
	jpeg_mem_src(&ci, d, (unsigned long)len);
	jpeg_save_markers(&ci, JPEG_APP0 + 1, 0xffff);
	jpeg_read_header(&ci, TRUE);

	/* The header alone: dimensions before any allocation. */
	if ((rc = img_check_pixels(ci.image_width, ci.image_height, name,
	                           lim, err)))
		goto fail;
	for (mk = ci.marker_list; mk; mk = mk->next)
		if (mk->marker == JPEG_APP0 + 1 && mk->data_length >= 6 &&
		    !memcmp(mk->data, "Exif\0\0", 6)) {
			*orient = img_exif_orientation(mk->data,
			                               mk->data_length);
			break;
		}

	switch (ci.jpeg_color_space) {
	case JCS_GRAYSCALE:
		ci.out_color_space = JCS_GRAYSCALE;
		c = 1;
		break;
	case JCS_CMYK:
	case JCS_YCCK:
		ci.out_color_space = JCS_CMYK;
		c = 3;
		cmyk = 1;
		break;
	default:
		ci.out_color_space = JCS_RGB;
		c = 3;
		break;
	}
	want_w = *orient >= 5 ? lim->want_h : lim->want_w;
	want_h = *orient >= 5 ? lim->want_w : lim->want_h;
	ci.scale_num = (unsigned)pick_scale(ci.image_width, ci.image_height,
	                                    want_w, want_h);
	ci.scale_denom = 8;
	/* A picture decoded at 1/8 needs its DC coefficients only (and
	 * 4:2:0 chroma a few more): jpeg_dc.c reads a progressive one in
	 * a few MB, where libjpeg would keep every coefficient, and steps
	 * over a sequential one's AC coefficients faster than libjpeg.
	 * What it declines comes back here. */
	if (ci.scale_num == 1 && !ci.arith_code &&
	    ci.data_precision == 8 &&
	    ((ci.jpeg_color_space == JCS_GRAYSCALE &&
	      ci.num_components == 1) ||
	     (ci.jpeg_color_space == JCS_YCbCr && ci.num_components == 3))) {
		rc = img_jpeg_dc(out, d, len, name, lim, err);
		if (rc != IMG_DC_DECLINE) {
			jpeg_destroy_decompress(&ci);
			return rc;
		}
	}
	if (jpeg_has_multiple_scans(&ci)) {
		double need = coef_bytes(&ci),
		       cap = (double)lim->max_pixels * PROG_BYTES_PER_PIXEL;
		if (need > cap) {
			rc = siam_errorf(err, SIAM_ETOOBIG,
			                 "%s: progressive JPEG of %ux%u pixels "
			                 "needs %.0f MB for its coefficients "
			                 "(libjpeg keeps them all until the "
			                 "last scan), above the limit of %.0f "
			                 "MB (%d bytes a pixel of %.1f Mpx)",
			                 name, ci.image_width, ci.image_height,
			                 need / 1e6, cap / 1e6,
			                 PROG_BYTES_PER_PIXEL,
			                 lim->max_pixels / 1e6);
			goto fail;
		}
		/* The same budget, and a little for the rest, as libjpeg's
		 * own ceiling: its virtual arrays fail beyond it (there is
		 * no backing store) instead of growing. */
		ci.mem->max_memory_to_use = (long)SIAM_MIN(cap + (4 << 20),
		                                           (double)LONG_MAX / 2);
	}
	jpeg_calc_output_dimensions(&ci);
	if (ci.output_components != (cmyk ? 4 : c)) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: JPEG of %d components, cannot convert",
		                 name, ci.output_components);
		goto fail;
	}
	if ((rc = img_alloc(out, (int)ci.output_width, (int)ci.output_height,
	                    c, name, err)))
		goto fail;
	out->full_w = (int)ci.image_width;
	out->full_h = (int)ci.image_height;
	if (cmyk && !(row = siam_xmalloc_n(ci.output_width, 4))) {
		rc = siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", name);
		goto fail;
	}

	jpeg_start_decompress(&ci);
	while (ci.output_scanline < ci.output_height) {
		unsigned char *dst = out->px + (size_t)ci.output_scanline *
		                                   ci.output_width * c;
		JSAMPROW rp = cmyk ? row : dst;
		if (jpeg_read_scanlines(&ci, &rp, 1) != 1) {
			/* Only a suspending source returns no row; ours
			 * holds all the data, so this is not expected. */
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: JPEG decoder returned no row", name);
			goto fail;
		}
		if (cmyk)
			cmyk_row(dst, row, (int)ci.output_width,
			         ci.saw_Adobe_marker);
	}
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
	free(row);
	return 0;

fail:
	if (created)
		jpeg_destroy_decompress(&ci);
	free(row);
	siam_image_release(out);
	return rc;
}
