/*
 * image.h -- the contract between siam_image_decode and the decoders
 * of src/image/; private to libsiam.
 *
 * siam_image_decode (decode.c) checks what every input needs (empty,
 * max_bytes), recognises the format by its first bytes (sniff.c, the
 * same table siam_sniff_image answers from) and calls one decoder.
 * Every decoder:
 *   - reads the dimensions from the header and calls img_check_pixels
 *     before it allocates anything proportional to them;
 *   - fills out->w, h, c (1 or 3), px and full_w, full_h (the stored
 *     size; w, h are smaller only when it scaled, JPEG alone does);
 *   - returns in *orient the EXIF orientation (1..8) to apply, 1 when
 *     the file has none or the library already applied it;
 *   - on failure returns SIAM_EFORMAT/ETOOBIG/ENOMEM with a message
 *     naming `name`, and leaves out empty.
 * Decoders run on many threads at once: no globals, no printing.
 */
#ifndef SIAM_IMAGE_H
#define SIAM_IMAGE_H

#include "internal.h"

typedef enum img_format {
	IMG_NONE = 0, /* no known signature (stb may still take a TGA) */
	IMG_JPEG,
	IMG_PNG,
	IMG_GIF,
	IMG_BMP,
	IMG_WEBP,
	IMG_TIFF,
	IMG_HEIF,     /* HEIC or AVIF: an ISO-BMFF 'ftyp' we know */
	IMG_STB       /* PSD, PIC, PNM, HDR: stb_image's other formats */
} img_format;

/* The format whose signature the first n bytes carry (sniff.c). */
SIAM_HIDDEN img_format img_sniff(const unsigned char *d, size_t n);

/* SIAM_ETOOBIG naming the file when w x h exceeds lim->max_pixels,
 * SIAM_EFORMAT when a side is not positive; else 0. */
SIAM_HIDDEN int img_check_pixels(long long w, long long h, const char *name,
                                 const siam_image_limits *lim,
                                 siam_error *err);

/* Allocates out->px for w x h x c, sets w, h, c and full_w/full_h =
 * w, h; SIAM_ENOMEM naming the file. */
SIAM_HIDDEN int img_alloc(siam_image *out, int w, int h, int c,
                          const char *name, siam_error *err);

/* Writes npx pixels of src (RGBA, 4 bytes a pixel) as RGB over white
 * paper into dst (3 bytes a pixel). */
SIAM_HIDDEN void img_rgba_over_white(unsigned char *dst,
                                     const unsigned char *src, size_t npx);
/* The same for gray + alpha (2 bytes a pixel) into gray. */
SIAM_HIDDEN void img_ga_over_white(unsigned char *dst,
                                   const unsigned char *src, size_t npx);

/* EXIF (exif.c).  The orientation (1..8) stored in a TIFF-structured
 * EXIF block (starting "II*\0" or "MM\0*"; a leading "Exif\0\0" is
 * skipped); 1 when there is none or the block is malformed. */
SIAM_HIDDEN int img_exif_orientation(const unsigned char *d, size_t n);
/* Turns img upright for orientation o (2..8; 1 is a no-op): 5..8 swap
 * w and h (and full_w, full_h).  SIAM_ENOMEM naming the file. */
SIAM_HIDDEN int img_orient(siam_image *img, int o, const char *name,
                           siam_error *err);

/* The decoders.  One that can scale (JPEG) reads lim->want_w, want_h
 * as the size wanted of the upright picture, so it swaps them itself
 * for orientations 5..8. */
typedef int img_decoder(siam_image *out, int *orient,
                        const unsigned char *d, size_t len, const char *name,
                        const siam_image_limits *lim, siam_error *err);
SIAM_HIDDEN img_decoder img_decode_jpeg;
SIAM_HIDDEN img_decoder img_decode_stb;
SIAM_HIDDEN img_decoder img_decode_webp;
SIAM_HIDDEN img_decoder img_decode_tiff;
#ifdef HAVE_LIBHEIF
SIAM_HIDDEN img_decoder img_decode_heif;
#endif

#endif
