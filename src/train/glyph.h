/*
 * glyph.h -- glyph classes: extra training classes made up from the
 * training classes (src/train/glyph.c).  Private to libsiam.
 *
 * A glyph is the top of an image of class a over the bottom of an
 * image of class b, or a's left beside b's right, with a != b, cut at a
 * third, a half or two thirds: six splits.  Each (split, a, b) is a
 * class of its own, so five digit classes give 120 more.  Training to
 * tell these apart teaches the network shapes the real classes alone
 * never ask for, which is what classes it has never seen need.
 *
 * The sampler speaks in item numbers: an item >= 0 is an image of the
 * data, and the glyphs of the current epoch get numbers of their own.
 * Only this file's functions know which is which: the training loop
 * hands any item to glyph_load (its input) and glyph_id (what it
 * shows), with or without glyphs in the run.
 */
#ifndef SIAM_GLYPH_H
#define SIAM_GLYPH_H

#include "internal.h"
#include "siam_nn.h"

enum { GLYPH_SPLITS = 6 };

/* Where split s cuts an image of `size` rows (even s) or columns (odd):
 * the part of b starts there. */
static inline int glyph_cut(int split, int size)
{
	return size * (split / 2 + 2) / 6;
}

typedef struct glyph {
	int split; /* even: a above b, odd: a left of b; cut: glyph_cut */
	int a, b;  /* items */
	int cls;   /* glyph class: 0 <= cls < glyph_set.nclass */
} glyph;

/* The glyphs of an epoch.  A zeroed glyph_set is a valid empty one: a
 * run without glyphs passes it to glyph_load and glyph_id as well. */
typedef struct glyph_set {
	siam_sampler *s;
	float frac;     /* share of anchors (and of negatives) that are glyphs */
	int nclass;     /* GLYPH_SPLITS * ncls * (ncls - 1) */
	glyph *g;       /* cap entries, n of them this epoch's */
	long n, cap;
} glyph_set;

/* Sets gs up to draw up to cap glyphs per epoch from s's classes;
 * SIAM_EINVAL unless s is labelled with at least two classes (and not
 * so many that the glyph classes overflow an int). */
SIAM_HIDDEN int glyph_set_init(glyph_set *gs, siam_sampler *s, float frac,
                               long cap, siam_error *err);
SIAM_HIDDEN void glyph_set_free(glyph_set *gs);
/* Forgets the epoch's glyphs: call before drawing the next epoch. */
SIAM_HIDDEN void glyph_set_clear(glyph_set *gs);

/* The (split, class of a, class of b) that glyph class gc stands for. */
SIAM_HIDDEN void glyph_class(const glyph_set *gs, int gc, int *split,
                             int *ca, int *cb);

/* Like siam_sampler_pair and siam_sampler_triplet, but with glyphs:
 * the anchor is a glyph with probability frac (then its positive is
 * another glyph of its class, built from other images), and a negative
 * is a glyph with probability frac.  The items drawn go to *a, *b (*p,
 * *n).  A draw makes up to two glyphs (three for a triplet); when the
 * set has no room left for that many it draws nothing and returns
 * SIAM_EINVAL. */
SIAM_HIDDEN int glyph_pair(glyph_set *gs, siam_rng *rng, int same, int *a,
                           int *b, siam_error *err);
SIAM_HIDDEN int glyph_triplet(glyph_set *gs, siam_rng *rng, int *a, int *p,
                              int *n, siam_error *err);

/* The glyph that item stands for, NULL for an item of the data. */
SIAM_HIDDEN const glyph *glyph_at(const glyph_set *gs, int item);
/* Writes item (of d, or a glyph of gs) as network input into dst
 * (d->c * d->h * d->w floats); tmp is scratch of the same size. */
SIAM_HIDDEN int glyph_load(const glyph_set *gs, const siam_data *d, int item,
                           float *dst, float *tmp, siam_error *err);
/* What item shows, for losses that compare every input with every
 * other: its label; a glyph's class after the labels; an item of
 * unlabelled data is a class of its own. */
SIAM_HIDDEN int glyph_id(const glyph_set *gs, const siam_data *d, int item);
/* Writes glyph g as network input into dst; tmp is scratch. */
SIAM_HIDDEN int glyph_render(const siam_data *d, const glyph *g, float *dst,
                             float *tmp, siam_error *err);

#endif
