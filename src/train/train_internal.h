/*
 * train_internal.h -- helpers shared by the files of src/train/.
 */
#ifndef SIAM_TRAIN_INTERNAL_H
#define SIAM_TRAIN_INTERNAL_H

#include "internal.h"
#include "siam_nn.h"

/* A seed for one purpose of one run: the run's seed hashed with a tag
 * and two counters (epoch, step), so that every random stream can be
 * rebuilt from its position alone.  That is what lets an interrupted
 * run resume to exactly the model an uninterrupted one would make. */
static inline uint64_t siam_train_seed(uint64_t seed, uint64_t tag,
                                       uint64_t a, uint64_t b)
{
	uint64_t x = seed ^ (tag * 0x9e3779b97f4a7c15ULL);
	uint64_t parts[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		x += 0x9e3779b97f4a7c15ULL + parts[i];
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		x ^= x >> 31;
	}
	return x;
}

/* ---- glyphs: classes made up from the training classes (glyph.c) ----
 *
 * A glyph is the top of an image of class a over the bottom of an
 * image of class b, or a's left beside b's right, with a != b, cut at a
 * third, a half or two thirds: six splits.  Each (split, a, b) is a
 * class of its own, so five digit classes give 120 more.  Training to
 * tell these apart teaches the network shapes the real classes alone
 * never ask for, which is what classes it has never seen need. */
enum { SIAM_GLYPH_SPLITS = 6 };

/* Where split s cuts an image of `size` rows (even s) or columns (odd):
 * the part of b starts there. */
static inline int siam_glyph_cut(int split, int size)
{
	return size * (split / 2 + 2) / 6;
}

typedef struct siam_glyph {
	int split; /* even: a above b, odd: a left of b; cut: siam_glyph_cut */
	int a, b;  /* items */
	int cls;   /* glyph class: 0 <= cls < siam_glyphs.nclass */
} siam_glyph;

/* An epoch's glyphs.  Pair and triplet slots hold item numbers >= 0
 * for real items and -1 - k for glyph g[k]. */
typedef struct siam_glyphs {
	siam_sampler *s;
	float frac;     /* share of anchors (and of negatives) that are glyphs */
	int nclass;     /* SIAM_GLYPH_SPLITS * ncls * (ncls - 1) */
	siam_glyph *g;  /* cap entries */
	long n, cap;
} siam_glyphs;

/* The item of class slot cls (0 <= cls < its class count) at a uniform
 * position; the class count.  For the glyph sampler. */
SIAM_HIDDEN int siam_sampler_item_of(const siam_sampler *s, siam_rng *rng,
                                     int cls);
SIAM_HIDDEN int siam_sampler_num_classes(const siam_sampler *s);

/* Sets gs up to draw up to cap glyphs per epoch from s's classes;
 * SIAM_EINVAL unless s is labelled with at least two classes (and not
 * so many that the glyph classes overflow an int). */
SIAM_HIDDEN int siam_glyphs_init(siam_glyphs *gs, siam_sampler *s,
                                 float frac, long cap, siam_error *err);
SIAM_HIDDEN void siam_glyphs_free(siam_glyphs *gs);
/* The (split, class of a, class of b) that glyph class gc stands for. */
SIAM_HIDDEN void siam_glyph_class(const siam_glyphs *gs, int gc, int *split,
                                  int *ca, int *cb);
/* Like siam_sampler_pair and siam_sampler_triplet, but with glyphs:
 * the anchor is a glyph with probability frac (then its positive is
 * another glyph of its class, built from other images), and a negative
 * is a glyph with probability frac.  Forget the epoch's glyphs with
 * gs->n = 0 before drawing the next epoch. */
SIAM_HIDDEN void siam_glyphs_pair(siam_glyphs *gs, siam_rng *rng, int same,
                                  int *a, int *b);
SIAM_HIDDEN void siam_glyphs_triplet(siam_glyphs *gs, siam_rng *rng, int *a,
                                     int *p, int *n);
/* Writes glyph g as network input into dst (d->c * d->h * d->w
 * floats); tmp is scratch of the same size. */
SIAM_HIDDEN int siam_glyph_render(const siam_data *d, const siam_glyph *g,
                                  float *dst, float *tmp, siam_error *err);

#endif
