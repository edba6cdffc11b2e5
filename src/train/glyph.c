/*
 * glyph.c -- extra training classes made from parts of the real ones
 * (see glyph.h for what a glyph is), and the item numbers that name
 * them.
 *
 * Why: a network trained to tell five classes apart learns only
 * what separates those five and maps everything else onto them, so
 * classes it never saw collapse together.  Glyph classes are built
 * from the training images alone (never from the classes held out for
 * testing), and telling 120 of them apart needs features of strokes
 * and their arrangement that carry over to new shapes.
 *
 * Glyph k of the epoch is item -1 - k: negative numbers can never be
 * items of the data, so one int names either.
 */
#include "internal.h"
#include "train/train_internal.h"
#include "siam_nn.h"
#include "train/glyph.h"

#include <string.h>

int glyph_set_init(glyph_set *gs, siam_sampler *s, float frac, long cap,
                   siam_error *err)
{
	memset(gs, 0, sizeof *gs);
	int ncls = siam_sampler_num_classes(s);
	if (ncls < 2)
		return siam_errorf(err, SIAM_EINVAL,
		                   "glyphs need labelled data with at least "
		                   "two classes");
	if ((double)GLYPH_SPLITS * ncls * (ncls - 1) > 1e9)
		return siam_errorf(err, SIAM_EINVAL,
		                   "%d classes are too many for glyphs", ncls);
	if (cap < 0 || cap > 0x7fffffffL)
		return siam_errorf(err, SIAM_EINVAL,
		                   "room for %ld glyphs: not an int", cap);
	gs->s = s;
	gs->frac = frac;
	gs->nclass = GLYPH_SPLITS * ncls * (ncls - 1);
	gs->cap = cap;
	gs->g = siam_xmalloc_n((size_t)cap, sizeof *gs->g);
	if (!gs->g)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	return 0;
}

void glyph_set_free(glyph_set *gs)
{
	free(gs->g);
	memset(gs, 0, sizeof *gs);
}

void glyph_set_clear(glyph_set *gs)
{
	gs->n = 0;
}

void glyph_class(const glyph_set *gs, int gc, int *split, int *ca, int *cb)
{
	int ncls = siam_sampler_num_classes(gs->s), per = ncls * (ncls - 1);
	*split = gc / per;
	*ca = gc % per / (ncls - 1);
	*cb = gc % per % (ncls - 1);
	if (*cb >= *ca)
		*cb += 1; /* a != b: the same class twice is that class */
}

/* Whether the set has room for k more glyphs: checked before a draw,
 * so that a draw makes all its glyphs or none. */
static int room(const glyph_set *gs, long k, siam_error *err)
{
	if (gs->cap - gs->n >= k)
		return 0;
	return siam_errorf(err, SIAM_EINVAL, "no room for %ld more glyphs "
	                   "(%ld of %ld used)", k, gs->n, gs->cap);
}

/* A new glyph of class gc, from images drawn afresh; its item number. */
static int new_glyph(glyph_set *gs, siam_rng *rng, int gc)
{
	int ca, cb;
	glyph *g = &gs->g[gs->n];
	g->cls = gc;
	glyph_class(gs, gc, &g->split, &ca, &cb);
	g->a = siam_sampler_item_of(gs->s, rng, ca);
	g->b = siam_sampler_item_of(gs->s, rng, cb);
	return -1 - (int)gs->n++;
}

static int coin(siam_rng *rng, float p)
{
	return siam_rng_uniform(rng) < p;
}

/* A negative for an anchor of glyph class gc: a glyph of another class
 * with probability frac, else a real item of any class. */
static int negative(glyph_set *gs, siam_rng *rng, int gc)
{
	if (coin(rng, gs->frac)) {
		int o = (int)siam_rng_below(rng, (uint32_t)gs->nclass - 1);
		if (o >= gc)
			o++;
		return new_glyph(gs, rng, o);
	}
	int ncls = siam_sampler_num_classes(gs->s);
	return siam_sampler_item_of(gs->s, rng,
	                            (int)siam_rng_below(rng, (uint32_t)ncls));
}

int glyph_pair(glyph_set *gs, siam_rng *rng, int same, int *a, int *b,
               siam_error *err)
{
	int rc = room(gs, 2, err);
	if (rc)
		return rc;
	if (coin(rng, gs->frac)) {
		int gc = (int)siam_rng_below(rng, (uint32_t)gs->nclass);
		*a = new_glyph(gs, rng, gc);
		*b = same ? new_glyph(gs, rng, gc) : negative(gs, rng, gc);
		return 0;
	}
	siam_sampler_pair(gs->s, rng, same, a, b);
	if (!same && coin(rng, gs->frac))
		*b = new_glyph(gs, rng,
		               (int)siam_rng_below(rng, (uint32_t)gs->nclass));
	return 0;
}

int glyph_triplet(glyph_set *gs, siam_rng *rng, int *a, int *p, int *n,
                  siam_error *err)
{
	int rc = room(gs, 3, err);
	if (rc)
		return rc;
	if (coin(rng, gs->frac)) {
		int gc = (int)siam_rng_below(rng, (uint32_t)gs->nclass);
		*a = new_glyph(gs, rng, gc);
		*p = new_glyph(gs, rng, gc);
		*n = negative(gs, rng, gc);
		return 0;
	}
	siam_sampler_triplet(gs->s, rng, a, p, n);
	if (coin(rng, gs->frac))
		*n = new_glyph(gs, rng,
		               (int)siam_rng_below(rng, (uint32_t)gs->nclass));
	return 0;
}

const glyph *glyph_at(const glyph_set *gs, int item)
{
	if (item >= 0 || -1L - item >= gs->n)
		return NULL;
	return &gs->g[-1L - item];
}

int glyph_load(const glyph_set *gs, const siam_data *d, int item, float *dst,
               float *tmp, siam_error *err)
{
	if (item >= 0)
		return d->load(d, item, dst, err);
	const glyph *g = glyph_at(gs, item);
	if (!g)
		return siam_errorf(err, SIAM_EINVAL, "item %d: no such glyph "
		                   "this epoch", item);
	return glyph_render(d, g, dst, tmp, err);
}

int glyph_id(const glyph_set *gs, const siam_data *d, int item)
{
	const glyph *g = glyph_at(gs, item);
	if (g)
		return d->num_classes + g->cls;
	return d->labels ? d->labels[item] : item;
}

int glyph_render(const siam_data *d, const glyph *g, float *dst, float *tmp,
                 siam_error *err)
{
	int rc = d->load(d, g->a, dst, err);
	if (!rc)
		rc = d->load(d, g->b, tmp, err);
	if (rc)
		return rc;
	int across = g->split & 1;
	int cut = glyph_cut(g->split, across ? d->w : d->h);
	for (int c = 0; c < d->c; c++)
		for (int y = 0; y < d->h; y++) {
			size_t row = ((size_t)c * d->h + y) * d->w;
			int x0 = across ? cut : y < cut ? d->w : 0;
			memcpy(dst + row + x0, tmp + row + x0,
			       (size_t)(d->w - x0) * sizeof(float));
		}
	return 0;
}
