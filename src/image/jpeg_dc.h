/*
 * jpeg_dc.h -- a JPEG decoded at 1/8 by our own reader (jpeg_dc.c):
 * progressive ones from their DC coefficients alone, sequential ones
 * faster than libjpeg; private to src/image/.
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

/* Decodes the Huffman-coded (SOF0, SOF1, SOF2), 8-bit JPEG d[0..len)
 * of one (gray) or three (YCbCr) components at 1/8 of its size, as
 * libjpeg would at scale 1/8: a progressive one from its DC
 * coefficients only, a sequential one with its AC coefficients stepped
 * over (jpeg_huff.c).  out gets ceil(w/8) x ceil(h/8) pixels, c = 1 or
 * 3, and full_w/full_h the stored size.  APPn segments are skipped
 * (the caller reads the EXIF orientation).  Returns 0; IMG_DC_DECLINE
 * for a file it leaves to libjpeg (another kind of JPEG, sampling
 * factors it does not support, anything malformed that libjpeg may
 * still step over, a sequential file cut short), out untouched;
 * SIAM_EFORMAT when a progressive file's data ends before the picture
 * does or a file has more than IMG_JPEG_MAX_SCANS scans, SIAM_ETOOBIG
 * above lim->max_pixels, SIAM_ENOMEM; each with a message naming
 * `name`, out left empty.  Memory: 2 bytes a block of each component
 * (progressive) or 1 to 4 samples a block (sequential), and the
 * output. */
SIAM_HIDDEN int img_jpeg_dc(siam_image *out, const unsigned char *d,
                            size_t len, const char *name,
                            const siam_image_limits *lim, siam_error *err);

#endif
