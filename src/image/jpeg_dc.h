/*
 * jpeg_dc.h -- a progressive JPEG decoded at 1/8 from its DC
 * coefficients alone (jpeg_dc.c); private to src/image/.
 */
#ifndef SIAM_IMAGE_JPEG_DC_H
#define SIAM_IMAGE_JPEG_DC_H

#include "image/image.h"

/* More scans than any encoder writes (libjpeg's progressive script has
 * 10; per-component scripts a few dozen); TurboJPEG's limit.  Both
 * JPEG paths refuse a file of more. */
#define IMG_JPEG_MAX_SCANS 500

/* What img_jpeg_dc returns for a file it does not take: libjpeg is to
 * decode it (nothing was allocated, no message was written). */
#define IMG_DC_DECLINE 1

/* Decodes the progressive (SOF2, Huffman, 8-bit) JPEG d[0..len) of one
 * (gray) or three (YCbCr) components at 1/8 of its size, as libjpeg
 * would at scale 1/8, from the DC coefficients only: out gets
 * ceil(w/8) x ceil(h/8) pixels, c = 1 or 3, and full_w/full_h the
 * stored size.  APPn segments are skipped (the caller reads the EXIF
 * orientation).  Returns 0; IMG_DC_DECLINE for a file it leaves to
 * libjpeg (another kind of JPEG, sampling factors it does not support,
 * anything malformed that libjpeg may still step over), out untouched;
 * SIAM_EFORMAT when the data ends before the picture does or has more
 * than IMG_JPEG_MAX_SCANS scans, SIAM_ETOOBIG above lim->max_pixels,
 * SIAM_ENOMEM; each with a message naming `name`, out left empty.
 * Memory: 2 bytes a block of each component, and the output. */
SIAM_HIDDEN int img_jpeg_dc(siam_image *out, const unsigned char *d,
                            size_t len, const char *name,
                            const siam_image_limits *lim, siam_error *err);

#endif
