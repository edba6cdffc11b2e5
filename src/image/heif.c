/*
 * heif.c -- HEIC (HEVC) and AVIF (AV1) through libheif: the primary
 * picture, with its rotation and mirroring (irot/imir) applied by
 * libheif, as the format requires; an EXIF orientation inside a HEIF is
 * informative only and is not applied a second time.
 *
 * Built only when configure finds libheif (it is optional: see
 * configure.ac and README).  Dimensions are checked before decoding, and
 * libheif's own size limit is set from max_pixels so that a hostile grid
 * of tiles cannot make it allocate more either.
 */
#include "image/image.h"

#include <limits.h>
#include <string.h>

#include <libheif/heif.h>

/* libheif's messages may end in a newline: its length without. */
static int msg_len(const char *m)
{
	size_t n = m ? strlen(m) : 0;
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	return (int)SIAM_MIN(n, 200u);
}

int img_decode_heif(siam_image *out, int *orient, const unsigned char *d,
                    size_t len, const char *name,
                    const siam_image_limits *lim, siam_error *err)
{
	struct heif_context *ctx = NULL;
	struct heif_image_handle *hd = NULL;
	struct heif_image *im = NULL;
	struct heif_error he;
	const uint8_t *pl;
	int rc, w, h, alpha, stride, y;

	*orient = 1;
	if (!(ctx = heif_context_alloc()))
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", name);
	/* libheif's limit is on each side (its security check while
	 * parsing); ours, on the product, follows before decoding. */
	heif_context_set_maximum_image_size_limit(
		ctx, (int)SIAM_MIN(lim->max_pixels, INT_MAX));
	he = heif_context_read_from_memory_without_copy(ctx, d, len, NULL);
	if (he.code != heif_error_Ok) {
		rc = siam_errorf(err, he.subcode ==
		                 heif_suberror_Security_limit_exceeded
		                 ? SIAM_ETOOBIG : SIAM_EFORMAT,
		                 "%s: not a readable HEIF (%.*s)", name,
		                 msg_len(he.message), he.message);
		goto fail;
	}
	he = heif_context_get_primary_image_handle(ctx, &hd);
	if (he.code != heif_error_Ok) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: HEIF without a "
		                 "picture (%.*s)", name, msg_len(he.message),
		                 he.message);
		goto fail;
	}
	w = heif_image_handle_get_width(hd);
	h = heif_image_handle_get_height(hd);
	if ((rc = img_check_pixels(w, h, name, lim, err)))
		goto fail;
	alpha = heif_image_handle_has_alpha_channel(hd);
	he = heif_decode_image(hd, &im, heif_colorspace_RGB,
	                       alpha ? heif_chroma_interleaved_RGBA
	                             : heif_chroma_interleaved_RGB, NULL);
	if (he.code != heif_error_Ok) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: cannot decode HEIF "
		                 "(%.*s)", name, msg_len(he.message), he.message);
		goto fail;
	}
	pl = heif_image_get_plane_readonly(im, heif_channel_interleaved,
	                                   &stride);
	/* The decoded size must be what was checked (rotation already
	 * counted in both). */
	if (!pl || heif_image_get_width(im, heif_channel_interleaved) != w ||
	    heif_image_get_height(im, heif_channel_interleaved) != h ||
	    stride < w * (alpha ? 4 : 3)) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: HEIF decoder returned "
		                 "another size than the header said", name);
		goto fail;
	}
	if ((rc = img_alloc(out, w, h, 3, name, err)))
		goto fail;
	for (y = 0; y < h; y++) {
		unsigned char *dst = out->px + (size_t)y * w * 3;
		const uint8_t *src = pl + (size_t)y * stride;
		if (alpha)
			img_rgba_over_white(dst, src, (size_t)w);
		else
			memcpy(dst, src, (size_t)w * 3);
	}
	heif_image_release(im);
	heif_image_handle_release(hd);
	heif_context_free(ctx);
	return 0;

fail:
	siam_image_release(out);
	heif_image_release(im);
	heif_image_handle_release(hd);
	heif_context_free(ctx);
	return rc;
}
