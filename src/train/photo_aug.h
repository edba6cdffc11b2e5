/*
 * photo_aug.h -- the photo edits of siam_augment_apply (photo_aug.c)
 * and the bitmap font of its text overlays (font.c).
 *
 * Every edit works in place on a (c,h,w) network input whose black is
 * `black` and whose white is black + 1: the inputs of folder: and
 * augment: data (pixel / 255, the default preprocessing).  Each is a
 * plain function of its drawn parameters, so a test can check one edit
 * on a hand-made image without the random draw.
 */
#ifndef SIAM_PHOTO_AUG_H
#define SIAM_PHOTO_AUG_H

#include "internal.h"
#include "siam_nn.h"

enum { AUG_FONT_W = 5, AUG_FONT_H = 7, AUG_TEXT_MAX = 8,
       AUG_COPYRIGHT = 0xA9 /* U+00A9, the copyright sign */ };

/* The 7 rows of the glyph of code point cp (bit 4 = leftmost column),
 * or NULL for a character the font lacks. */
SIAM_HIDDEN const unsigned char *aug_font_glyph(int cp);
/* Sets every channel of the set pixels of text's glyphs to value, the
 * first glyph's top left at (x0, y0), glyphs 6 pixels apart; pixels
 * off the image are skipped. */
SIAM_HIDDEN void aug_text_draw(float *img, int c, int h, int w, int x0,
                               int y0, const int *text, int len,
                               float value);

/* One draw of every photo edit: what aug_photo_apply will do. */
typedef struct aug_photo {
	int flip;                  /* mirror left-right */
	float cx, cy, cw, ch;      /* crop box in pixels; cw = 0: none */
	float bright;              /* pixel factor (1 = none) */
	float contrast;            /* factor about the mean (1 = none) */
	float sat;                 /* saturation factor (1 = none) */
	int gray;
	float sigma;               /* blur std in pixels; 0 = none */
	float down;                /* downscale factor; 1 = none */
	int edge;                  /* rotation fills with the nearest edge */
	int text[AUG_TEXT_MAX], ntext; /* overlay; ntext 0 = none */
	int corner;                /* 0 top left, 1 top right, 2, 3 bottom */
	float ink;                 /* overlay value above black: 0 or 1 */
	int pad[4];                /* border: top, bottom, left, right */
	float padv;                /* border value above black */
	int quality;               /* JPEG quality; 0 = none */
} aug_photo;

/* 1 if a asks for any photo edit (then siam_augment_apply draws them). */
SIAM_HIDDEN int aug_photo_on(const siam_augment *a);
/* Draws p for an (h, w) input: always the same count of random numbers
 * whatever a switches on, so one edit's setting never moves another's
 * draw. */
SIAM_HIDDEN void aug_photo_draw(aug_photo *p, const siam_augment *a,
                                siam_rng *rng, int h, int w);
/* Applies p to img in place, in the order a copy is usually made:
 * crop, border, flip, colour, blur, rescale, overlay, JPEG.  Returns
 * SIAM_ENOMEM (img then holds the edits made so far). */
SIAM_HIDDEN int aug_photo_apply(float *img, int c, int h, int w,
                                float black, const aug_photo *p);

/* The single edits. */
SIAM_HIDDEN void aug_crop_box(siam_rng *rng, int h, int w, float minarea,
                              float *x, float *y, float *cw, float *ch);
/* out (c,h,w) = the box (x, y, bw, bh) of inp (c,ih,iw) stretched over
 * it, bilinear, coordinates clamped to the image. */
SIAM_HIDDEN void aug_resample(float *out, int h, int w, const float *inp,
                              int c, int ih, int iw, float x, float y,
                              float bw, float bh);
SIAM_HIDDEN void aug_flip(float *img, int c, int h, int w);
/* Grayscale by Rec. 601 luma (c == 3; others unchanged). */
SIAM_HIDDEN void aug_gray(float *img, int c, int h, int w);
/* Gaussian blur of std sigma, the kernel renormalised at the border
 * (tmp: h*w floats). */
SIAM_HIDDEN void aug_blur(float *img, float *tmp, int c, int h, int w,
                          float sigma);
/* px (h rows of w*c bytes, interleaved) = img (c,h,w) as 8-bit pixels:
 * black 0, black + 1 255, clamped. */
SIAM_HIDDEN void aug_to_bytes(unsigned char *px, const float *img, int c,
                              int h, int w, float black);
/* JPEG at quality q (1..100) and decoded again; c 1 or 3. */
SIAM_HIDDEN int aug_jpeg(float *img, int c, int h, int w, float black,
                         int q);

#endif
