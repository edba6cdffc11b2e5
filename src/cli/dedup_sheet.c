/*
 * dedup_sheet.c -- siam dedup --sheet FILE.png: the groups as a contact
 * sheet, because people would rather look than read.  Each group is one
 * row: a title ("group 3: 4 files"), then the keeper in a green frame
 * and its members in grey ones, each with two caption lines -- "keep"
 * (or "keep, reference") or the method and distance to the keeper
 * ("cnn 0.4123", "phash 7 bits", "identical"), and the file's name.
 * The layout is in dedup_sheet.h.
 *
 * Thumbnails are decoded as small as the decoder allows (siam's scaled
 * JPEG decoding: want THUMB pixels a side), then fitted into the box by
 * averaging the source pixels each thumbnail pixel covers (enlarging a
 * small image repeats pixels, so a 28x28 digit stays sharp).  Captions
 * use the 5x7 bitmap font of the photo augmentations (src/train/font.c,
 * compiled into the command too); a sign it lacks is drawn as '?'.  The
 * PNG is encoded in memory by stb_image_write and written with stdio,
 * so that a failure to write names the file and the reason.
 */
#include "dedup_sheet.h"
#include "fileio.h"

#include "train/photo_aug.h"

#include <errno.h>
#include <fcntl.h>
#include <siam.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>

enum {
	CELL = DD_SHEET_THUMB + 2 * DD_SHEET_FRAME,
	PITCH = CELL + DD_SHEET_GAP,
	ROW = DD_SHEET_TITLE + CELL + DD_SHEET_TEXT + DD_SHEET_GAP,
	CHARS = CELL / (AUG_FONT_W + 1), /* caption characters per cell */
};

static const unsigned char keep_rgb[3] = { DD_SHEET_KEEP_RGB };
static const unsigned char member_rgb[3] = { DD_SHEET_MEMBER_RGB };
static const unsigned char black[3] = { 0, 0, 0 };
static const unsigned char box_rgb[3] = { 0xEE, 0xEE, 0xEE };
static const unsigned char cross_rgb[3] = { 0xC0, 0x30, 0x30 };

static void fill(dd_sheet *s, int x0, int y0, int w, int h,
                 const unsigned char *rgb)
{
	for (int y = y0; y < y0 + h && y < s->h; y++)
		for (int x = x0; x < x0 + w && x < s->w; x++)
			memcpy(s->px + ((size_t)y * s->w + x) * 3, rgb, 3);
}

/* Text at (x0, y0), at most max characters: UTF-8 sequences and signs
 * the font lacks become '?'. */
static void text(dd_sheet *s, int x0, int y0, const char *t, int max,
                 const unsigned char *rgb)
{
	for (int i = 0; *t && i < max; i++) {
		int cp = (unsigned char)*t++;
		if (cp >= 0x80) /* skip the rest of a UTF-8 sequence */
			while ((*t & 0xC0) == 0x80)
				t++;
		const unsigned char *g = aug_font_glyph(cp >= 0x80 ? '?' : cp);
		if (!g)
			g = aug_font_glyph('?');
		for (int r = 0; r < AUG_FONT_H; r++)
			for (int c = 0; c < AUG_FONT_W; c++)
				if (g[r] >> (AUG_FONT_W - 1 - c) & 1)
					fill(s, x0 + i * (AUG_FONT_W + 1) + c,
					     y0 + r, 1, 1, rgb);
	}
}

/* The last max characters of a file name (its end is what tells
 * copies apart: "IMG_0001 (2).jpg"). */
static const char *tail(const char *path, int max)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t n = strlen(b);
	return n > (size_t)max ? b + n - max : b;
}

/* The thumbnail of img fitted into the box at (x0, y0). */
static void thumb(dd_sheet *s, int x0, int y0, const siam_image *img)
{
	double sc = (double)DD_SHEET_THUMB / (img->w > img->h ? img->w : img->h);
	int tw = (int)(img->w * sc + 0.5), th = (int)(img->h * sc + 0.5);
	tw = tw < 1 ? 1 : tw > DD_SHEET_THUMB ? DD_SHEET_THUMB : tw;
	th = th < 1 ? 1 : th > DD_SHEET_THUMB ? DD_SHEET_THUMB : th;
	x0 += (DD_SHEET_THUMB - tw) / 2;
	y0 += (DD_SHEET_THUMB - th) / 2;
	for (int y = 0; y < th; y++) {
		int sy0 = (int)((double)y * img->h / th);
		int sy1 = (int)((double)(y + 1) * img->h / th);
		sy1 = sy1 > sy0 ? sy1 : sy0 + 1;
		for (int x = 0; x < tw; x++) {
			int sx0 = (int)((double)x * img->w / tw);
			int sx1 = (int)((double)(x + 1) * img->w / tw);
			sx1 = sx1 > sx0 ? sx1 : sx0 + 1;
			unsigned sum[3] = { 0, 0, 0 }, k = 0;
			for (int sy = sy0; sy < sy1 && sy < img->h; sy++)
				for (int sx = sx0; sx < sx1 && sx < img->w;
				     sx++, k++) {
					const unsigned char *p = img->px +
						((size_t)sy * img->w + sx) *
						img->c;
					for (int c = 0; c < 3; c++)
						sum[c] += p[img->c == 3 ? c : 0];
				}
			unsigned char rgb[3];
			for (int c = 0; c < 3; c++)
				rgb[c] = (unsigned char)((sum[c] + k / 2) /
				                         (k ? k : 1));
			fill(s, x0 + x, y0 + y, 1, 1, rgb);
		}
	}
}

/* One cell: frame, thumbnail (or a crossed box), two captions. */
static void cell(dd_sheet *s, int x0, int y0, const dd_image *im)
{
	fill(s, x0, y0, CELL, CELL, im->keeper ? keep_rgb : member_rgb);
	int bx = x0 + DD_SHEET_FRAME, by = y0 + DD_SHEET_FRAME;
	fill(s, bx, by, DD_SHEET_THUMB, DD_SHEET_THUMB, box_rgb);
	siam_image img = { 0 };
	siam_image_limits lim;
	siam_error err = { 0, "" };
	siam_image_limits_default(&lim);
	lim.want_w = lim.want_h = DD_SHEET_THUMB;
	if (siam_image_load(&img, im->path, &lim, &err) == 0 && img.w > 0 &&
	    img.h > 0) {
		thumb(s, bx, by, &img);
	} else {
		for (int i = 0; i < DD_SHEET_THUMB; i++) {
			fill(s, bx + i, by + i, 1, 1, cross_rgb);
			fill(s, bx + DD_SHEET_THUMB - 1 - i, by + i, 1, 1,
			     cross_rgb);
		}
		s->unreadable++;
	}
	siam_image_release(&img);
	char cap[64];
	if (im->keeper)
		snprintf(cap, sizeof cap, "keep%s",
		         im->reference ? ", reference" : "");
	else if (im->method & (DD_CNN | DD_CROP))
		snprintf(cap, sizeof cap, "%s %.4f", dd_method_name(im->method),
		         im->distance);
	else if (im->method == DD_PHASH)
		snprintf(cap, sizeof cap, "phash %d bits", (int)im->distance);
	else
		snprintf(cap, sizeof cap, "identical");
	int ty = y0 + CELL + 3;
	text(s, x0, ty, cap, CHARS, black);
	text(s, x0, ty + AUG_FONT_H + 3, tail(im->path, CHARS), CHARS, black);
}

int dd_sheet_render(dd_sheet *s, const dd_image *im, const int *ord, int m,
                    char *msg, size_t len)
{
	memset(s, 0, sizeof *s);
	int cols = 1;
	for (int i = 0, size; i < m; i += size) {
		for (size = 1; i + size < m &&
		     im[ord[i + size]].group == im[ord[i]].group; size++)
			;
		if (s->rows == DD_SHEET_GROUPS) {
			s->left_out++;
			continue;
		}
		s->rows++;
		cols = size > cols ? size : cols;
	}
	cols = cols > DD_SHEET_COLS ? DD_SHEET_COLS : cols;
	s->w = DD_SHEET_GAP + cols * PITCH;
	s->h = s->rows ? DD_SHEET_GAP + s->rows * ROW :
	                 2 * DD_SHEET_GAP + DD_SHEET_TITLE;
	s->px = malloc((size_t)s->w * s->h * 3);
	if (!s->px) {
		snprintf(msg, len, "out of memory for a %d x %d sheet", s->w,
		         s->h);
		return -1;
	}
	memset(s->px, 0xFF, (size_t)s->w * s->h * 3);
	if (!s->rows)
		text(s, DD_SHEET_GAP, DD_SHEET_GAP + 1, "no groups", CHARS,
		     black);
	for (int i = 0, size, row = 0; i < m && row < s->rows; i += size) {
		for (size = 1; i + size < m &&
		     im[ord[i + size]].group == im[ord[i]].group; size++)
			;
		int y = DD_SHEET_GAP + row * ROW;
		char title[64];
		snprintf(title, sizeof title, "group %d: %d files",
		         im[ord[i]].group + 1, size);
		text(s, DD_SHEET_GAP, y + 1, title, s->w / (AUG_FONT_W + 1),
		     black);
		y += DD_SHEET_TITLE;
		int shown = size > cols ? cols - 1 : size;
		for (int k = 0; k < shown; k++)
			cell(s, DD_SHEET_GAP + k * PITCH, y, &im[ord[i + k]]);
		if (shown < size) {
			char more[32];
			snprintf(more, sizeof more, "+%d more", size - shown);
			text(s, DD_SHEET_GAP + shown * PITCH + 4,
			     y + CELL / 2, more, CHARS, black);
		}
		row++;
	}
	return 0;
}

typedef struct png_buf {
	unsigned char *p;
	size_t n, cap;
	int fail;
} png_buf;

static void png_out(void *ctx, void *data, int size)
{
	png_buf *b = ctx;
	if (b->fail || size <= 0)
		return;
	if (b->n + (size_t)size > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 1 << 16;
		while (cap < b->n + (size_t)size)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (!q) {
			b->fail = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, (size_t)size);
	b->n += (size_t)size;
}

int dd_sheet_write(const dd_sheet *s, const char *path, char *msg,
                   size_t len)
{
	png_buf b = { 0 };
	if (!stbi_write_png_to_func(png_out, &b, s->w, s->h, 3, s->px,
	                            s->w * 3) || b.fail) {
		free(b.p);
		snprintf(msg, len, "%s: cannot encode the PNG (out of memory)",
		         path);
		return -1;
	}
	/* O_NONBLOCK and the fstat: a FIFO or a device named as the sheet
	 * is refused at once; fopen would wait forever for a FIFO's
	 * reader.  (On a regular file O_NONBLOCK changes nothing.) */
	struct stat st;
	int fd = -1;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		goto not_regular;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK,
	          0666);
	FILE *f = NULL;
	int e = 0;
	if (fd < 0 || fstat(fd, &st) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode)) /* swapped in after the stat */
		goto not_regular;
	else if (!(f = fdopen(fd, "wb")))
		e = errno;
	else if (fwrite(b.p, 1, b.n, f) != b.n)
		e = errno ? errno : EIO;
	if (f && fclose(f) != 0 && !e)
		e = errno;
	else if (!f && fd >= 0)
		close(fd);
	free(b.p);
	if (e) {
		snprintf(msg, len, "%s: %s", path, strerror(e));
		return -1;
	}
	return 0;
not_regular:
	snprintf(msg, len, "%s: cannot write a sheet there (%s)", path,
	         siam_file_kind(st.st_mode));
	if (fd >= 0)
		close(fd);
	free(b.p);
	return -1;
}

void dd_sheet_free(dd_sheet *s)
{
	if (!s)
		return;
	free(s->px);
	memset(s, 0, sizeof *s);
}
