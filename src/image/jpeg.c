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
 *     picture plus libjpeg's few rows (a progressive JPEG also keeps
 *     its coefficients: 2 bytes a sample, within max_pixels).
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
#include "image/image.h"

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct jerr {
	struct jpeg_error_mgr pub; /* first: libjpeg casts to it */
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	int truncated;
} jerr;

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

	*orient = 1;
	memset(&ci, 0, sizeof ci);
	memset(&je, 0, sizeof je);
	ci.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = on_error;
	je.pub.emit_message = on_message;
	if (setjmp(je.jb)) {
		if (je.truncated)
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
