/*
 * photo_aug.c -- the edits people make to copies of a photo, as random
 * augmentations: crop, border, mirror, colour, grey, blur, a resize
 * down and up, a caption in a corner, JPEG.
 *
 * A near-duplicate model learns to ignore exactly what its positive
 * pairs differ by, so these are the edits that make real copies
 * (issue 10).  They run on the network input itself (siam_augment_apply
 * is called on the (c,h,w) tensor at the model's size): every training
 * view is then one resampling of the decoded image, and a crop or a
 * JPEG at the input size is what the model sees of a cropped or
 * recompressed copy anyway, since the copy too is shrunk to that size
 * before it is embedded.  What this loses: a crop of a large photo
 * keeps detail that an upscaled crop of the small input has not, so
 * crops look a little blurrier in training than in use (the blur and
 * rescale edits cover that range), and 8x8 JPEG blocks are coarser
 * relative to a 32-pixel input than to a photo (so the quality range
 * errs on the harsh side).
 *
 * Every draw takes the same count of random numbers whatever is
 * switched on, so changing one edit's strength keeps the others' draws.
 */
#include "bytes.h"
#include "train/photo_aug.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_write.h>

int aug_photo_on(const siam_augment *a)
{
	return a->flip > 0 || a->crop > 0 || a->brightness > 0 ||
	       a->saturation > 0 || a->gray > 0 || a->jpeg > 0 ||
	       a->blur > 0 || a->downscale > 0 || a->edge > 0 ||
	       a->overlay > 0 || a->pad > 0;
}

void aug_crop_box(siam_rng *rng, int h, int w, float minarea, float *x,
                  float *y, float *cw, float *ch)
{
	float u[4];
	for (int i = 0; i < 4; i++)
		u[i] = siam_rng_uniform(rng);
	/* area uniform in [minarea, 1], aspect log-uniform in [3/4, 4/3] */
	float area = minarea + u[0] * (1 - minarea);
	float ar = expf(logf(0.75f) + u[1] * 2 * logf(4.0f / 3.0f));
	float bw = w * sqrtf(area * ar), bh = h * sqrtf(area / ar);
	*cw = bw < w ? bw : (float)w;
	*ch = bh < h ? bh : (float)h;
	*x = u[2] * (w - *cw);
	*y = u[3] * (h - *ch);
}

/* Characters of the overlay text: the copyright sign, then A-Z a-z 0-9. */
static int text_char(float u)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "abcdefghijklmnopqrstuvwxyz0123456789";
	int k = (int)(u * (float)sizeof alnum); /* sizeof counts the NUL */
	if (k >= (int)sizeof alnum - 1)
		return AUG_COPYRIGHT;
	return alnum[k];
}

enum { NDRAW = 32 };

void aug_photo_draw(aug_photo *p, const siam_augment *a, siam_rng *rng,
                    int h, int w)
{
	memset(p, 0, sizeof *p);
	float cx, cy, cw, ch;
	aug_crop_box(rng, h, w, a->crop > 0 ? a->crop : 1, &cx, &cy, &cw,
	             &ch);
	float r[NDRAW];
	for (int i = 0; i < NDRAW; i++)
		r[i] = siam_rng_uniform(rng);
	if (a->crop > 0) {
		p->cx = cx;
		p->cy = cy;
		p->cw = cw;
		p->ch = ch;
	}
	p->flip = r[0] < a->flip;
	p->bright = 1 + (2 * r[1] - 1) * a->brightness;
	p->sat = 1 + (2 * r[2] - 1) * a->saturation;
	p->gray = r[3] < a->gray;
	p->quality = r[4] < a->jpeg ? 20 + (int)(r[5] * 76) : 0; /* 20..95 */
	/* Blur, rescale and border come to half the views, at a uniform
	 * strength: a copy is either untouched that way or visibly so. */
	p->sigma = a->blur > 0 && r[6] < 0.5f ? r[7] * a->blur : 0;
	p->down = a->downscale > 0 && r[8] < 0.5f
	        ? a->downscale + r[9] * (1 - a->downscale) : 1;
	p->edge = r[10] < a->edge;
	int room = (w - 2 + 1) / (AUG_FONT_W + 1);
	if (room > AUG_TEXT_MAX)
		room = AUG_TEXT_MAX;
	if (r[11] < a->overlay && room >= 1 && h >= AUG_FONT_H + 2) {
		p->corner = (int)(r[12] * 4) & 3;
		p->ink = r[13] < 0.5f ? 0.0f : 1.0f;
		p->ntext = 1 + (int)(r[14] * room);
		if (p->ntext > room)
			p->ntext = room;
	}
	for (int i = 0; i < AUG_TEXT_MAX; i++)
		p->text[i] = text_char(r[15 + i]);
	if (a->pad > 0 && r[23] < 0.5f) {
		for (int i = 0; i < 4; i++)
			p->pad[i] = (int)(r[24 + i] * a->pad * (i < 2 ? h : w));
		p->padv = r[28] < 0.5f ? 0.0f : 1.0f;
	}
}

void aug_resample(float *out, int h, int w, const float *inp, int c,
                  int ih, int iw, float x, float y, float bw, float bh)
{
	size_t iplane = (size_t)ih * iw, oplane = (size_t)h * w;
	for (int yo = 0; yo < h; yo++) {
		float sy = y + (yo + 0.5f) * bh / h - 0.5f;
		sy = sy < 0 ? 0 : sy > ih - 1 ? (float)(ih - 1) : sy;
		int y0 = (int)sy, y1 = y0 + 1 < ih ? y0 + 1 : y0;
		float fy = sy - y0;
		for (int xo = 0; xo < w; xo++) {
			float sx = x + (xo + 0.5f) * bw / w - 0.5f;
			sx = sx < 0 ? 0 : sx > iw - 1 ? (float)(iw - 1) : sx;
			int x0 = (int)sx, x1 = x0 + 1 < iw ? x0 + 1 : x0;
			float fx = sx - x0;
			for (int k = 0; k < c; k++) {
				const float *s = inp + k * iplane;
				out[k * oplane + (size_t)yo * w + xo] =
					(1 - fy) * ((1 - fx) * s[y0 * iw + x0] +
					            fx * s[y0 * iw + x1]) +
					fy * ((1 - fx) * s[y1 * iw + x0] +
					      fx * s[y1 * iw + x1]);
			}
		}
	}
}

void aug_flip(float *img, int c, int h, int w)
{
	for (int r = 0; r < c * h; r++) {
		float *row = img + (size_t)r * w;
		for (int i = 0, j = w - 1; i < j; i++, j--) {
			float t = row[i];
			row[i] = row[j];
			row[j] = t;
		}
	}
}

/* Rec. 601 luma of pixel i of an RGB input. */
static float luma(const float *img, size_t plane, size_t i)
{
	return 0.299f * img[i] + 0.587f * img[plane + i] +
	       0.114f * img[2 * plane + i];
}

/* Moves every pixel from its luma by factor s: 0 grey, 1 unchanged. */
static void saturate(float *img, int c, int h, int w, float s)
{
	if (c != 3)
		return;
	size_t plane = (size_t)h * w;
	for (size_t i = 0; i < plane; i++) {
		float g = luma(img, plane, i);
		for (int k = 0; k < 3; k++)
			img[k * plane + i] = g + (img[k * plane + i] - g) * s;
	}
}

void aug_gray(float *img, int c, int h, int w)
{
	saturate(img, c, h, w, 0);
}

void aug_blur(float *img, float *tmp, int c, int h, int w, float sigma)
{
	int r = (int)ceilf(3 * sigma);
	if (r > 32)
		r = 32;
	if (r < 1)
		return;
	float k[65];
	for (int i = -r; i <= r; i++)
		k[i + r] = expf(-0.5f * i * i / (sigma * sigma));
	for (int ch = 0; ch < c; ch++) {
		float *f = img + (size_t)ch * h * w;
		/* rows, then columns; each output divides by the weights
		 * that fell inside, so the border neither darkens nor
		 * brightens */
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				float v = 0, s = 0;
				for (int i = -r; i <= r; i++)
					if (x + i >= 0 && x + i < w) {
						v += k[i + r] * f[y * w + x + i];
						s += k[i + r];
					}
				tmp[y * w + x] = v / s;
			}
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				float v = 0, s = 0;
				for (int i = -r; i <= r; i++)
					if (y + i >= 0 && y + i < h) {
						v += k[i + r] *
						     tmp[(y + i) * w + x];
						s += k[i + r];
					}
				f[y * w + x] = v / s;
			}
	}
}

/* Shrinks img (c,h,w) to (c,dh,dw) by averaging the source pixels that
 * fall in each target pixel. */
static void shrink(float *out, int dh, int dw, const float *img, int c,
                   int h, int w)
{
	for (int k = 0; k < c; k++)
		for (int y = 0; y < dh; y++) {
			int ya = y * h / dh, yb = (y + 1) * h / dh;
			for (int x = 0; x < dw; x++) {
				int xa = x * w / dw, xb = (x + 1) * w / dw;
				float s = 0;
				for (int yy = ya; yy < yb; yy++)
					for (int xx = xa; xx < xb; xx++)
						s += img[((size_t)k * h + yy) * w +
						         xx];
				out[((size_t)k * dh + y) * dw + x] =
					s / (float)((yb - ya) * (xb - xa));
			}
		}
}

void aug_to_bytes(unsigned char *px, const float *img, int c, int h, int w,
                  float black)
{
	size_t plane = (size_t)h * w;
	for (size_t i = 0; i < plane; i++)
		for (int k = 0; k < c; k++) {
			float v = (img[k * plane + i] - black) * 255.0f;
			v = v < 0 ? 0 : v > 255 ? 255 : v;
			px[i * c + k] = (unsigned char)lrintf(v);
		}
}

/* stb_image_write's writer: append to a bytes_out. */
static void mem_write(void *ctx, void *data, int size)
{
	if (size > 0)
		bytes_put(ctx, data, (size_t)size);
}

int aug_jpeg(float *img, int c, int h, int w, float black, int q)
{
	if (c != 1 && c != 3)
		return 0;
	size_t plane = (size_t)h * w;
	unsigned char *px = malloc(plane * c), *dec = NULL;
	bytes_out m = { 0 };
	int rc = SIAM_ENOMEM;
	if (!px)
		goto fail;
	aug_to_bytes(px, img, c, h, w, black);
	if (!stbi_write_jpg_to_func(mem_write, &m, w, h, c, px, q) || m.fail)
		goto fail;
	int dw, dh, dc;
	dec = stbi_load_from_memory(m.p, (int)m.len, &dw, &dh, &dc, c);
	if (!dec || dw != w || dh != h)
		goto fail;
	for (size_t i = 0; i < plane; i++)
		for (int k = 0; k < c; k++)
			img[k * plane + i] = black + dec[i * c + k] / 255.0f;
	rc = 0;
fail:
	free(px);
	free(m.p);
	stbi_image_free(dec);
	return rc;
}

int aug_photo_apply(float *img, int c, int h, int w, float black,
                    const aug_photo *p)
{
	size_t n = (size_t)c * h * w;
	float *tmp = malloc(2 * n * sizeof(float));
	if (!tmp)
		return SIAM_ENOMEM;
	float *tmp2 = tmp + n;
	if (p->cw > 0) {
		memcpy(tmp, img, n * sizeof(float));
		aug_resample(img, h, w, tmp, c, h, w, p->cx, p->cy, p->cw,
		             p->ch);
	}
	int ih = h - p->pad[0] - p->pad[1], iw = w - p->pad[2] - p->pad[3];
	if ((p->pad[0] || p->pad[1] || p->pad[2] || p->pad[3]) && ih > 0 &&
	    iw > 0) {
		/* the whole picture shrunk into the frame */
		aug_resample(tmp, ih, iw, img, c, h, w, 0, 0, (float)w,
		             (float)h);
		for (size_t i = 0; i < n; i++)
			img[i] = black + p->padv;
		for (int k = 0; k < c; k++)
			for (int y = 0; y < ih; y++)
				memcpy(img + ((size_t)k * h + y + p->pad[0]) * w +
				               p->pad[2],
				       tmp + ((size_t)k * ih + y) * iw,
				       (size_t)iw * sizeof(float));
	}
	if (p->flip)
		aug_flip(img, c, h, w);
	if (p->bright != 1)
		for (size_t i = 0; i < n; i++)
			img[i] = black + (img[i] - black) * p->bright;
	if (p->gray)
		aug_gray(img, c, h, w);
	else if (p->sat != 1)
		saturate(img, c, h, w, p->sat);
	if (p->sigma > 0)
		aug_blur(img, tmp, c, h, w, p->sigma);
	if (p->down < 1) {
		int dh = (int)lrintf(h * p->down), dw = (int)lrintf(w * p->down);
		dh = dh < 1 ? 1 : dh;
		dw = dw < 1 ? 1 : dw;
		shrink(tmp2, dh, dw, img, c, h, w);
		aug_resample(img, h, w, tmp2, c, dh, dw, 0, 0, (float)dw,
		             (float)dh);
	}
	if (p->ntext) {
		int tw = p->ntext * (AUG_FONT_W + 1) - 1;
		int x0 = p->corner & 1 ? w - 1 - tw : 1;
		int y0 = p->corner & 2 ? h - 1 - AUG_FONT_H : 1;
		aug_text_draw(img, c, h, w, x0, y0, p->text, p->ntext,
		              black + p->ink);
	}
	int rc = p->quality ? aug_jpeg(img, c, h, w, black, p->quality) : 0;
	free(tmp);
	return rc;
}
