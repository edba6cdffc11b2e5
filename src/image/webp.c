/*
 * webp.c -- WebP through libwebp: lossy, lossless, alpha, the first
 * frame of an animation, and the EXIF orientation if the file has an
 * EXIF chunk.
 *
 * The container is taken apart by libwebp's demuxer (which checks every
 * chunk size against the data and refuses a truncated file whole); the
 * first frame's bitstream is then measured (WebPGetFeatures), checked
 * against the limits, and decoded into a buffer we allocated, so
 * libwebp never allocates a picture of a size we did not agree to.
 * Before all that, the size the first chunk declares is read by hand
 * and checked, so that a huge canvas is "too big", not "corrupt".
 */
#include "image/image.h"

#include <stdint.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

static const char *vp8_status(VP8StatusCode s)
{
	switch (s) {
	case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
	case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
	case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
	case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
	case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated";
	default: return "error";
	}
}

/* The canvas a WebP file declares in its first chunk (VP8X: the
 * canvas; VP8L, "VP8 ": the picture), read by hand so that a huge one
 * is refused as too big, by name, before libwebp looks at the rest
 * (its demuxer calls a canvas of 2^32 pixels or more corrupt).  0 when
 * the first chunk is none of those or too short: libwebp then says
 * what is wrong. */
static int webp_canvas(const unsigned char *d, size_t len, long long *w,
                       long long *h)
{
	if (len >= 30 && !memcmp(d + 12, "VP8X", 4)) {
		*w = 1 + (d[24] | d[25] << 8 | (long long)d[26] << 16);
		*h = 1 + (d[27] | d[28] << 8 | (long long)d[29] << 16);
		return 1;
	}
	if (len >= 25 && !memcmp(d + 12, "VP8L", 4) && d[20] == 0x2f) {
		uint32_t b = d[21] | d[22] << 8 | d[23] << 16 |
		             (uint32_t)d[24] << 24;
		*w = 1 + (b & 0x3fff);
		*h = 1 + (b >> 14 & 0x3fff);
		return 1;
	}
	if (len >= 30 && !memcmp(d + 12, "VP8 ", 4) &&
	    !memcmp(d + 23, "\x9d\x01\x2a", 3)) {
		*w = (d[26] | d[27] << 8) & 0x3fff;
		*h = (d[28] | d[29] << 8) & 0x3fff;
		return 1;
	}
	return 0;
}

int img_decode_webp(siam_image *out, int *orient, const unsigned char *d,
                    size_t len, const char *name,
                    const siam_image_limits *lim, siam_error *err)
{
	WebPData wd = { d, len };
	WebPDemuxer *dmx = NULL;
	WebPIterator it;
	WebPChunkIterator ch;
	WebPBitstreamFeatures f;
	VP8StatusCode st;
	unsigned char *rgba = NULL;
	int rc, have_frame = 0;
	size_t npx;

	*orient = 1;
	memset(&it, 0, sizeof it);
	long long cw, chh;
	if (webp_canvas(d, len, &cw, &chh) &&
	    (rc = img_check_pixels(cw, chh, name, lim, err)))
		return rc;
	dmx = WebPDemux(&wd);
	if (!dmx)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a readable WebP file (truncated or "
		                   "corrupt container)", name);
	if ((rc = img_check_pixels(WebPDemuxGetI(dmx, WEBP_FF_CANVAS_WIDTH),
	                           WebPDemuxGetI(dmx, WEBP_FF_CANVAS_HEIGHT),
	                           name, lim, err)))
		goto fail;
	if (!WebPDemuxGetFrame(dmx, 1, &it)) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: WebP file without a "
		                 "picture", name);
		goto fail;
	}
	have_frame = 1;
	if ((st = WebPGetFeatures(it.fragment.bytes, it.fragment.size, &f)) !=
	    VP8_STATUS_OK) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: cannot decode WebP "
		                 "(%s)", name, vp8_status(st));
		goto fail;
	}
	if ((rc = img_check_pixels(f.width, f.height, name, lim, err)))
		goto fail;
	if ((WebPDemuxGetI(dmx, WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG) &&
	    WebPDemuxGetChunk(dmx, "EXIF", 1, &ch)) {
		*orient = img_exif_orientation(ch.chunk.bytes, ch.chunk.size);
		WebPDemuxReleaseChunkIterator(&ch);
	}
	if ((rc = img_alloc(out, f.width, f.height, 3, name, err)))
		goto fail;
	npx = (size_t)f.width * (size_t)f.height;
	if (f.has_alpha) {
		if (!(rgba = siam_xmalloc_n(npx, 4))) {
			rc = siam_errorf(err, SIAM_ENOMEM, "%s: out of memory "
			                 "for %dx%d pixels", name, f.width,
			                 f.height);
			goto fail;
		}
		if (!WebPDecodeRGBAInto(it.fragment.bytes, it.fragment.size,
		                        rgba, npx * 4, f.width * 4))
			goto undecodable;
		img_rgba_over_white(out->px, rgba, npx);
	} else if (!WebPDecodeRGBInto(it.fragment.bytes, it.fragment.size,
	                              out->px, npx * 3, f.width * 3)) {
		goto undecodable;
	}
	free(rgba);
	WebPDemuxReleaseIterator(&it);
	WebPDemuxDelete(dmx);
	return 0;

undecodable:
	rc = siam_errorf(err, SIAM_EFORMAT, "%s: cannot decode WebP (corrupt "
	                 "or truncated bitstream)", name);
fail:
	free(rgba);
	siam_image_release(out);
	if (have_frame)
		WebPDemuxReleaseIterator(&it);
	WebPDemuxDelete(dmx);
	return rc;
}
