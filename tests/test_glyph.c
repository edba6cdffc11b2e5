/*
 * test_glyph.c -- glyph classes (src/train/glyph.c): the class code
 * covers every (split, a, b) once, pairs and triplets keep "same" and
 * "different" true of the glyph classes, the glyph share is what was
 * asked, and a rendered glyph is exactly its two parts, cut where
 * each of the six splits says.
 */
#include "internal.h"
#include "train/train_internal.h"
#include "train/glyph.h"
#include "tap.h"

#include <string.h>

enum { NCLS = 5, PER = 12, N = NCLS * PER };
static int labels[N], pool[N];

/* What an item number from the glyph sampler stands for: a real class
 * (0..NCLS-1), or NCLS + (split, class of a, class of b) for a glyph.
 * Also checks the glyph's two images are of different classes and
 * match its class number. */
static int identity(const glyph_set *gs, int item, int *bad)
{
	if (item >= 0)
		return labels[item];
	const glyph *g = glyph_at(gs, item);
	int ca = labels[g->a], cb = labels[g->b], sp, wa, wb;
	glyph_class(gs, g->cls, &sp, &wa, &wb);
	if (ca == cb || sp != g->split ||
	    wa != ca || wb != cb)
		(*bad)++;
	return NCLS + (sp * NCLS + ca) * NCLS + cb;
}

static void test_classes(glyph_set *gs)
{
	int seen[GLYPH_SPLITS][NCLS][NCLS] = { { { 0 } } }, bad = 0;
	tap_int(gs->nclass, 6 * NCLS * (NCLS - 1),
	        "five classes: 120 glyph classes");
	for (int gc = 0; gc < gs->nclass; gc++) {
		int sp, ca, cb;
		glyph_class(gs, gc, &sp, &ca, &cb);
		if (sp < 0 || sp >= GLYPH_SPLITS || ca < 0 || ca >= NCLS || cb < 0 ||
		    cb >= NCLS || ca == cb || seen[sp][ca][cb]++)
			bad++;
	}
	tap_int(bad, 0, "each glyph class is a distinct (split, a, b), a != b");
}

static void test_pairs(glyph_set *gs, float frac)
{
	siam_rng rng;
	siam_rng_seed(&rng, 7);
	enum { NP = 20000 };
	int bad = 0, wrong = 0, ganchor = 0, gneg = 0;
	for (int k = 0; k < NP; k++) {
		int a, b, same = k % 2 == 0;
		glyph_set_clear(gs);
		glyph_pair(gs, &rng, same, &a, &b, NULL);
		int ia = identity(gs, a, &bad), ib = identity(gs, b, &bad);
		if ((ia == ib) != same)
			wrong++;
		ganchor += a < 0;
		if (!same)
			gneg += b < 0;
	}
	tap_int(bad, 0, "frac %.1f: every glyph joins two classes", frac);
	tap_int(wrong, 0, "frac %.1f: same pairs share a class, different "
	        "pairs do not", frac);
	tap_near((double)ganchor / NP, frac, 0.015,
	         "frac %.1f: share of glyph anchors", frac);
	tap_near((double)gneg / (NP / 2), frac, 0.02,
	         "frac %.1f: share of glyph negatives", frac);

	int tbad = 0, twrong = 0;
	for (int k = 0; k < NP; k++) {
		int a, p, n;
		glyph_set_clear(gs);
		glyph_triplet(gs, &rng, &a, &p, &n, NULL);
		int ia = identity(gs, a, &tbad), ip = identity(gs, p, &tbad),
		    in = identity(gs, n, &tbad);
		if (ia != ip || ia == in || (a < 0 && a == p))
			twrong++;
	}
	tap_int(tbad + twrong, 0,
	        "frac %.1f: triplets: positive of the anchor's class, "
	        "negative not", frac);
}

/* A 1x6x9 source whose pixel (y, x) of item i is 100 i + 10 y + x. */
static int load_const(const siam_data *d, int i, float *out, siam_error *err)
{
	(void)err;
	for (int y = 0; y < d->h; y++)
		for (int x = 0; x < d->w; x++)
			out[y * d->w + x] = (float)(100 * i + 10 * y + x);
	return 0;
}

static void test_render(void)
{
	siam_data d;
	memset(&d, 0, sizeof d);
	d.c = 1;
	d.h = 6;
	d.w = 9;
	d.load = load_const;
	float dst[54], tmp[54];
	siam_error err = { 0 };
	/* The cuts by hand: rows 2, 3, 4 of 6; columns 3, 4, 6 of 9. */
	const int cut[GLYPH_SPLITS] = { 2, 3, 3, 4, 4, 6 };
	for (int sp = 0; sp < GLYPH_SPLITS; sp++) {
		glyph g = { .split = sp, .a = 1, .b = 2 };
		int bad = glyph_render(&d, &g, dst, tmp, &err) != 0;
		for (int y = 0; y < 6; y++)
			for (int x = 0; x < 9; x++) {
				int fromb = (sp & 1 ? x : y) >= cut[sp];
				bad += dst[y * 9 + x] !=
				       (float)(100 * (fromb ? 2 : 1) + 10 * y + x);
			}
		tap_int(bad, 0, "split %d: a %s, b from %s %d on", sp,
		        sp & 1 ? "left" : "above", sp & 1 ? "column" : "row",
		        cut[sp]);
	}
}

/* The set's capacity is checked where glyphs are written: a draw that
 * might not fit is refused whole, and the loop's errors name it. */
static void test_capacity(siam_sampler *s)
{
	glyph_set gs;
	siam_error err = { 0 };
	siam_rng rng;
	siam_rng_seed(&rng, 11);
	tap_int(glyph_set_init(&gs, s, 1.0f, 2, &err), 0, "room for 2 glyphs");
	int a = 7, p = 7, n = 7;
	tap_int(glyph_triplet(&gs, &rng, &a, &p, &n, &err), SIAM_EINVAL,
	        "a triplet (up to 3 glyphs) is refused");
	tap_ok(strstr(err.msg, "no room for 3 more glyphs (0 of 2 used)") !=
	       NULL, "message: %s", err.msg);
	tap_ok(gs.n == 0 && a == 7 && p == 7 && n == 7,
	       "nothing drawn, nothing written");
	tap_int(glyph_pair(&gs, &rng, 1, &a, &p, &err), 0, "a pair fits");
	tap_ok(gs.n == 2 && a < 0 && p < 0,
	       "frac 1: a same pair is two glyphs (%d %d)", a, p);
	int a2 = 7, p2 = 7;
	tap_int(glyph_pair(&gs, &rng, 0, &a2, &p2, &err), SIAM_EINVAL,
	        "full: the next pair is refused");
	tap_ok(gs.n == 2 && a2 == 7 && p2 == 7, "and writes nothing");

	/* Item numbers: only glyph.c knows which are glyphs. */
	siam_data d;
	memset(&d, 0, sizeof d);
	d.labels = labels;
	d.num_classes = NCLS;
	tap_ok(glyph_at(&gs, 3) == NULL && glyph_at(&gs, -3) == NULL &&
	       glyph_at(&gs, a) == &gs.g[0] && glyph_at(&gs, p) == &gs.g[1],
	       "glyph_at: the epoch's glyphs, NULL for items and unknown "
	       "numbers");
	tap_ok(glyph_id(&gs, &d, 3) == labels[3] &&
	       glyph_id(&gs, &d, a) == NCLS + gs.g[0].cls &&
	       glyph_id(&gs, &d, p) == glyph_id(&gs, &d, a),
	       "glyph_id: labels, then glyph classes after them");
	float x[1];
	tap_int(glyph_load(&gs, &d, -3, x, x, &err), SIAM_EINVAL,
	        "loading an unknown glyph number: EINVAL (%s)", err.msg);
	glyph_set_clear(&gs);
	tap_ok(glyph_at(&gs, a) == NULL, "cleared: the glyphs are gone");
	tap_int(glyph_pair(&gs, &rng, 1, &a, &p, &err), 0,
	        "cleared: room again");
	glyph_set_free(&gs);
}

int main(void)
{
	siam_error err = { 0 };
	for (int i = 0; i < N; i++) {
		labels[i] = i % NCLS;
		pool[i] = i;
	}
	siam_sampler *s = NULL;
	tap_int(siam_sampler_create(&s, labels, pool, N, &err), 0, "sampler");
	glyph_set gs;
	tap_int(glyph_set_init(&gs, s, 0.8f, 3, &err), 0, "glyphs init");
	test_classes(&gs);
	test_pairs(&gs, 0.8f);
	gs.frac = 0.3f;
	test_pairs(&gs, 0.3f);
	gs.frac = 0;
	test_pairs(&gs, 0);
	glyph_set_free(&gs);
	test_capacity(s);
	siam_sampler_free(s);

	/* Glyphs need classes (the sampler itself refuses just one). */
	tap_int(siam_sampler_create(&s, NULL, pool, N, &err), 0,
	        "unlabelled sampler");
	tap_int(glyph_set_init(&gs, s, 0.5f, 3, &err), SIAM_EINVAL,
	        "glyphs of unlabelled data: EINVAL");
	tap_ok(strstr(err.msg, "two classes") != NULL, "message: %s", err.msg);
	siam_sampler_free(s);

	/* 13,000 classes make 6 * 13000 * 12999 > 1e9 glyph classes:
	 * refused before anything overflows an int. */
	enum { BIG = 26000 };
	int *bl = malloc(BIG * sizeof(int)), *bp = malloc(BIG * sizeof(int));
	for (int i = 0; i < BIG; i++) {
		bl[i] = i / 2;
		bp[i] = i;
	}
	tap_int(siam_sampler_create(&s, bl, bp, BIG, &err), 0,
	        "a sampler of 13,000 classes");
	tap_int(glyph_set_init(&gs, s, 0.5f, 3, &err), SIAM_EINVAL,
	        "too many classes for glyphs: EINVAL");
	tap_ok(strstr(err.msg, "13000 classes") != NULL, "message: %s",
	       err.msg);
	siam_sampler_free(s);
	free(bl);
	free(bp);

	test_render();
	return tap_done();
}
