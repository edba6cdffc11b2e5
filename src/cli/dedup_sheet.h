/*
 * dedup_sheet.h -- siam dedup --sheet (dedup_sheet.c): the groups drawn
 * as a contact sheet, one row of thumbnails per group, the keeper first
 * in a coloured frame, the method and distance written under each.
 */
#ifndef SIAM_DEDUP_SHEET_H
#define SIAM_DEDUP_SHEET_H

#include "dedup_group.h"

#include <stddef.h>

/* The layout, in pixels (the tests compute the sheet's size from it):
 *   a cell is a THUMB x THUMB box for the thumbnail (fitted, centred)
 *   inside a FRAME-wide frame, with TEXT pixels of captions under it;
 *   a row is a TITLE line ("group 3: 4 files") and up to COLS cells,
 *   GAP apart and GAP from the sheet's edges;
 *   width  = GAP + cols * (THUMB + 2 FRAME + GAP), cols the most cells
 *            of a row;
 *   height = GAP + rows * (TITLE + THUMB + 2 FRAME + TEXT + GAP);
 *   with no group at all, one cell wide and 2 GAP + TITLE high, saying
 *   "no groups".
 * A group of more than COLS files shows COLS - 1 and "+N more".  At
 * most GROUPS groups are drawn (a taller PNG is more than viewers
 * open); the rest are counted in dd_sheet.left_out. */
enum {
	DD_SHEET_THUMB = 128,
	DD_SHEET_FRAME = 4,
	DD_SHEET_GAP = 8,
	DD_SHEET_TITLE = 12,
	DD_SHEET_TEXT = 20,
	DD_SHEET_COLS = 8,
	DD_SHEET_GROUPS = 100,
};
/* The keeper's frame (green), the others' (grey), RGB. */
#define DD_SHEET_KEEP_RGB 0x00, 0xA0, 0x00
#define DD_SHEET_MEMBER_RGB 0xB4, 0xB4, 0xB4

typedef struct dd_sheet {
	int w, h;          /* pixels */
	unsigned char *px; /* h rows of w RGB pixels; owned */
	int rows;          /* groups drawn */
	int left_out;      /* groups not drawn (past DD_SHEET_GROUPS) */
	int unreadable;    /* files drawn as a crossed box */
} dd_sheet;

/*
 * Draws the groups of im (after dd_group): ord holds the m grouped
 * images in print order (by group, the keeper first; dd_order).  A
 * file that cannot be read any more is drawn as a crossed box and
 * counted, never an error.  Returns 0, or -1 out of memory (msg says
 * so).  Free with dd_sheet_free.
 */
int dd_sheet_render(dd_sheet *s, const dd_image *im, const int *ord, int m,
                    char *msg, size_t len);
/* Writes s as a PNG to path (stb_image_write); 0, or -1 with a message
 * naming path and the reason. */
int dd_sheet_write(const dd_sheet *s, const char *path, char *msg,
                   size_t len);
void dd_sheet_free(dd_sheet *s); /* NULL and an empty sheet are no-ops */

#endif
