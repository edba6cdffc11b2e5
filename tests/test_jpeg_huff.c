/*
 * test_jpeg_huff.c -- the fast block readers of src/image/jpeg_huff.c
 * (one look-up for a code and its value, runs of up to three symbols,
 * 8 bytes of data at a time) against the bit-by-bit reference of the
 * same file and against what was encoded.
 *
 * Random Huffman tables (1 to 162 symbols, codes of 1 to 16 bits, so
 * both the look-up tables and the long-code path are used), random
 * blocks encoded with them (DC differences of every category, AC runs
 * with ZRL, blocks that end on EOB and blocks that fill all 63
 * coefficients, values of up to 15 bits), the stream byte-stuffed as
 * JPEG wants.  Each block read by img_block_skip, img_block_full and
 * img_block_ref must give back what was encoded, and every reader must
 * end on the same bit.  Then the same streams cut short: the readers
 * must say they ran past the data, never read past the buffer.  And
 * img_bits_restart on hand-made bytes.
 */
#include "tap.h"
#include "image/jpeg_huff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t seed = 7;
static uint32_t rnd(void)
{
	seed = seed * 1664525u + 1013904223u;
	return seed >> 8;
}

/* A random table of nsym of the symbols sym[] (shuffled), valid for
 * libjpeg (its codes never all ones): counts[16], val[], and each
 * symbol's code and length for the encoder. */
typedef struct {
	unsigned char counts[16], val[256];
	unsigned nval;
	unsigned code[256];
	int len[256]; /* by symbol, 0: not in the table */
} table;

static void make_table(table *t, const unsigned char *sym, unsigned nsym)
{
	unsigned char s[256];
	double kraft = 0;
	int lens[256];
	unsigned n = 0;

	memset(t, 0, sizeof *t);
	memcpy(s, sym, nsym);
	for (unsigned i = nsym; i > 1; i--) {
		unsigned j = rnd() % i;
		unsigned char x = s[i - 1];
		s[i - 1] = s[j];
		s[j] = x;
	}
	/* the first symbol given (EOB for AC) always in the table */
	for (unsigned i = 0; i < nsym; i++)
		if (s[i] == sym[0]) {
			s[i] = s[0];
			s[0] = sym[0];
		}
	/* Lengths drawn short first, so that most symbols have short
	 * codes as in real tables; a symbol that no longer fits under
	 * the Kraft bound (kept below 1: no all-ones code) is left out
	 * unless it is needed. */
	for (unsigned i = 0; i < nsym; i++) {
		int l = 1 + (int)(rnd() % (i < 4 ? 4 : i < 20 ? 10 : 16));
		while (l <= 16 && kraft + 1.0 / (1 << l) >= 1.0 - 1.0 / 65536)
			l++;
		if (l > 16)
			break;
		kraft += 1.0 / (1 << l);
		lens[n] = l;
		s[n++] = s[i];
	}
	/* canonical order: by length, then as drawn */
	for (int l = 1; l <= 16; l++)
		for (unsigned i = 0; i < n; i++)
			if (lens[i] == l) {
				t->val[t->nval++] = s[i];
				t->counts[l - 1]++;
			}
	unsigned code = 0, k = 0;
	for (int l = 1; l <= 16; l++) {
		for (int i = 0; i < t->counts[l - 1]; i++, k++) {
			t->code[t->val[k]] = code++;
			t->len[t->val[k]] = l;
		}
		code <<= 1;
	}
}

/* The bit writer, with JPEG's byte stuffing. */
typedef struct {
	unsigned char *d;
	size_t n;
	uint32_t acc;
	int bits;
} writer;

static void put(writer *w, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		w->acc = w->acc << 1 | (v >> i & 1);
		if (++w->bits == 8) {
			w->d[w->n++] = (unsigned char)w->acc;
			if ((w->acc & 255) == 0xff)
				w->d[w->n++] = 0;
			w->acc = 0;
			w->bits = 0;
		}
	}
}

static void flush(writer *w)
{
	while (w->bits)
		put(w, 1, 1);
	w->d[w->n++] = 0xff;
	w->d[w->n++] = 0xd9; /* EOI: a marker ends the data */
}

/* The bits of value v of category s (F.1.2.1). */
static unsigned bits_of(int v, int s)
{
	return v < 0 ? (unsigned)(v + (1 << s) - 1) : (unsigned)v;
}

static int random_value(int s)
{
	int mag = (1 << (s - 1)) + (int)(rnd() % (1u << (s - 1)));
	return rnd() & 1 ? mag : -mag;
}

static const unsigned char natural[64] = {
	0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

enum { NB = 300 };

typedef struct {
	int diff;
	int16_t blk[64];
} truth;

/* Encodes NB random blocks; returns 0 when the tables lack what a
 * block needs (then the caller draws again). */
static int encode(writer *w, const table *dc, const table *ac, truth *tr)
{
	for (int b = 0; b < NB; b++) {
		int s;
		memset(&tr[b], 0, sizeof tr[b]);
		do
			s = (int)(rnd() % 12);
		while (!dc->len[s]);
		tr[b].diff = s ? random_value(s) : 0;
		put(w, dc->code[s], dc->len[s]);
		if (s)
			put(w, bits_of(tr[b].diff, s), s);
		int k = 1, dense = rnd() % 4 == 0;
		while (k < 64) {
			int r, sz, rs, tries = 0;
			if (!dense && rnd() % 5 == 0 && ac->len[0x00]) {
				put(w, ac->code[0x00], ac->len[0x00]); /* EOB */
				break;
			}
			do {
				r = dense ? (int)(rnd() % 3) : (int)(rnd() % 16);
				sz = 1 + (int)(rnd() % (rnd() % 8 ? 10 : 15));
				rs = r << 4 | sz;
				if (k + r > 63 && ac->len[0x00])
					break;
			} while ((!ac->len[rs] || k + r > 63) && ++tries < 50);
			if (k + r > 63 || !ac->len[rs]) {
				if (!ac->len[0x00])
					return 0;
				put(w, ac->code[0x00], ac->len[0x00]);
				break;
			}
			if (r == 15 && rnd() % 3 == 0 && ac->len[0xf0] && k + 16 <= 63) {
				put(w, ac->code[0xf0], ac->len[0xf0]); /* ZRL */
				k += 16;
				continue;
			}
			int v = random_value(sz);
			put(w, ac->code[rs], ac->len[rs]);
			put(w, bits_of(v, sz), sz);
			k += r;
			tr[b].blk[natural[k]] = (int16_t)v;
			k++;
		}
	}
	return 1;
}

/* img_bits_restart on hand-made bytes: after a byte of data whose
 * last bits are padding, the marker RSTm (with fill bytes before it or
 * not) is taken; another RSTn, a whole byte of data left before the
 * marker, or the end of the data are not. */
static void test_restart(void)
{
	static const struct {
		const char *what;
		unsigned char d[6];
		size_t n;
		int want, m;
	} cases[] = {
		{ "RST2 after the data", { 0xa5, 0xff, 0xd2, 0x7e }, 4, 0, 2 },
		{ "RST2 after fill bytes", { 0xa5, 0xff, 0xff, 0xff, 0xd2, 0x7e },
		  6, 0, 2 },
		{ "RST3 where RST2 was due", { 0xa5, 0xff, 0xd3, 0x7e }, 4, -1, 2 },
		{ "a whole byte of data before RST2", { 0xa5, 0x5a, 0xff, 0xd2 },
		  4, -1, 2 },
		{ "the data ends before the marker", { 0xa5, 0xff }, 2, 1, 2 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		const unsigned char *d = cases[k].d;
		img_bits b;
		int next = -1, rc;
		img_bits_init(&b, d, d + cases[k].n);
		img_bits_fill_slow(&b);
		b.acc <<= 3; /* the interval's last block ended 3 bits in */
		b.n -= 3;
		rc = img_bits_restart(&b, cases[k].m);
		if (rc == 0) { /* reading goes on after the marker */
			img_bits_fill_slow(&b);
			next = (int)(b.acc >> 56);
		}
		tap_ok(rc == cases[k].want && (rc || next == 0x7e),
		       "restart: %s: %d (want %d)%s", cases[k].what, rc,
		       cases[k].want, rc ? "" : ", the next byte read is 0x7e");
	}
}

int main(void)
{
	test_restart();
	unsigned char dcsym[12], acsym[162];
	int tables = 0, blocks = 0, wrong_skip = 0, wrong_full = 0,
	    wrong_ref = 0, wrong_end = 0, cut_ok = 0, cuts = 0, long_codes = 0;

	for (int i = 0; i < 12; i++)
		dcsym[i] = (unsigned char)i;
	acsym[0] = 0x00;
	acsym[1] = 0xf0;
	for (int r = 0, n = 2; r < 16; r++)
		for (int s = 1; s <= 10; s++)
			acsym[n++] = (unsigned char)(r << 4 | s);

	for (int iter = 0; iter < 400; iter++) {
		table dct, act;
		img_huff *dc = calloc(1, sizeof *dc), *ac = calloc(1, sizeof *ac);
		truth *tr = calloc(NB, sizeof *tr);
		writer w = { malloc(NB * 64 * 8), 0, 0, 0 };
		/* AC: all 162 symbols of baseline JPEG, or a few; and
		 * values of 11..15 bits now and then (s up to 15). */
		unsigned nac = iter % 3 ? 162 : 8 + rnd() % 40;
		unsigned char ac2[256];
		memcpy(ac2, acsym, 162);
		if (iter % 5 == 0)
			for (int s = 11; s <= 15; s++)
				ac2[2 + (s - 11)] = (unsigned char)(rnd() % 3 << 4 | s);
		make_table(&dct, dcsym, 2 + rnd() % 11);
		make_table(&act, ac2, nac);
		if (img_huff_build(dc, dct.counts, dct.val, dct.nval, 0) ||
		    img_huff_build(ac, act.counts, act.val, act.nval, 1)) {
			tap_ok(0, "table %d refused", iter);
			goto next;
		}
		img_huff_build_runs(ac);
		for (int l = IMG_HUFF_FAST + 1; l <= 16; l++)
			long_codes += act.counts[l - 1];
		if (!encode(&w, &dct, &act, tr))
			goto next;
		flush(&w);
		tables++;

		img_bits fs, fb, ks, kb, rb;
		img_bits_init(&fs, w.d, w.d + w.n);
		fb = fs;
		ks = kb = rb = fs;
		for (int b = 0; b < NB; b++) {
			int16_t full[64] = { 0 }, ref[64] = { 0 };
			int dfull = 99999, dskip = 99999, dref = 99999;
			uint64_t set = 0, want = 0;
			int rf = img_block_full(&fs, &fb, dc, ac, &dfull, full, &set);
			int rk = img_block_skip(&ks, &kb, dc, ac, &dskip);
			int rr = img_block_ref(&rb, dc, ac, &dref, ref);
			for (int z = 1; z < 64; z++)
				if (tr[b].blk[z])
					want |= 1ull << z;
			blocks++;
			wrong_full += rf || dfull != tr[b].diff || set != want ||
			              memcmp(full + 1, tr[b].blk + 1, 63 * 2);
			wrong_skip += rk || dskip != tr[b].diff;
			wrong_ref += rr || dref != tr[b].diff ||
			             memcmp(ref + 1, tr[b].blk + 1, 63 * 2);
		}
		/* all three at the same bit, none past the data */
		wrong_end += (fs.n - fs.pad) % 8 != (ks.n - ks.pad) % 8 ||
		             (rb.n - rb.pad) % 8 != (fs.n - fs.pad) % 8 ||
		             img_bits_past(&fs) || img_bits_past(&ks) ||
		             img_bits_past(&rb);

		/* Cut inside the data: the readers must notice they read
		 * zeros past it, at the same block. */
		if (w.n > 16) {
			size_t cut = w.n / 2 + rnd() % (w.n / 4);
			int pf = -1, pk = -1, pr = -1;
			img_bits_init(&fs, w.d, w.d + cut);
			fb = ks = kb = rb = fs;
			for (int b = 0; b < NB; b++) {
				int16_t x[64] = { 0 };
				int d;
				uint64_t set;
				img_block_full(&fs, &fb, dc, ac, &d, x, &set);
				img_block_skip(&ks, &kb, dc, ac, &d);
				img_block_ref(&rb, dc, ac, &d, x);
				if (pf < 0 && img_bits_past(&fs))
					pf = b;
				if (pk < 0 && img_bits_past(&ks))
					pk = b;
				if (pr < 0 && img_bits_past(&rb))
					pr = b;
			}
			cuts++;
			cut_ok += pf >= 0 && pf == pk && pk == pr;
		}
next:
		free(w.d);
		free(tr);
		free(dc);
		free(ac);
	}
	tap_ok(tables >= 300 && long_codes > 0,
	       "%d random table pairs used (%d AC codes longer than %d bits)",
	       tables, long_codes, IMG_HUFF_FAST);
	tap_ok(wrong_full == 0, "img_block_full: %d of %d blocks as encoded "
	       "(DC difference, coefficients, mask)", blocks - wrong_full, blocks);
	tap_ok(wrong_skip == 0, "img_block_skip: %d of %d blocks' DC "
	       "differences as encoded", blocks - wrong_skip, blocks);
	tap_ok(wrong_ref == 0, "img_block_ref: %d of %d blocks as encoded",
	       blocks - wrong_ref, blocks);
	tap_ok(wrong_end == 0, "the three readers end on the same bit, within "
	       "the data: %d of %d streams", tables - wrong_end, tables);
	tap_ok(cuts > 0 && cut_ok == cuts, "streams cut short: all three "
	       "readers see it at the same block in %d of %d", cut_ok, cuts);
	return tap_done();
}
