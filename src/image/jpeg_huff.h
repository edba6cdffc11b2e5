/*
 * jpeg_huff.h -- the Huffman-coded data of a JPEG scan, read fast:
 * sequential blocks whose AC coefficients are mostly stepped over, and
 * progressive DC differences (jpeg_huff.c); private to src/image/,
 * used by jpeg_dc.c.
 */
#ifndef SIAM_IMAGE_JPEG_HUFF_H
#define SIAM_IMAGE_JPEG_HUFF_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Codes of up to this many bits are found with one table look-up. */
#define IMG_HUFF_FAST 10
/* ... and runs of up to 3 AC symbols (codes and values) in this many. */
#define IMG_HUFF_RUN 12

/* A Huffman table (JPEG spec C, F.2.2.3) with look-up tables. */
typedef struct img_huff {
	/* (length << 8 | symbol) of the code the next IMG_HUFF_FAST
	 * bits start with; 0 when it is longer. */
	uint16_t fast[1 << IMG_HUFF_FAST];
	/* AC tables: a code and the bits of its value together, when
	 * they fit in IMG_HUFF_FAST bits: (positions it moves on << 5 |
	 * bits), 64 positions for an end of block; 0 otherwise. */
	uint16_t skip[1 << IMG_HUFF_FAST];
	/* AC tables: the whole symbols (1 to 3, code and value, up to
	 * an end of block) the next IMG_HUFF_RUN bits hold: (bits << 8 |
	 * positions moved), 0 when not even one fits.  A run moves at most
	 * 32 positions before its last symbol, so it is safe while fewer
	 * than 32 positions of the block are behind: a block never ends
	 * inside one. */
	uint16_t run[1 << IMG_HUFF_RUN];
	int runs; /* run[] built (img_huff_build_runs) */
	/* DC tables: the bits of a code and its value together, and the
	 * difference they code, when they fit in IMG_HUFF_FAST bits;
	 * dcbits 0 otherwise. */
	unsigned char dcbits[1 << IMG_HUFF_FAST];
	int16_t dcdiff[1 << IMG_HUFF_FAST];
	int32_t maxcode[17]; /* by length; -1: no code of that length */
	int32_t mincode[17];
	int valptr[17];
	unsigned char val[256];
} img_huff;

/* Builds t from a DHT's 16 counts and its symbols (nval of them, as
 * many as the counts add up to).  Returns -1 for a table libjpeg
 * would refuse (more than 256 symbols, a code too long for its
 * length), 0 otherwise.  ac: fill t->skip, else (a DC table, symbols
 * up to 15) t->dcbits and t->dcdiff. */
SIAM_HIDDEN int img_huff_build(img_huff *t, const unsigned char *counts,
                               const unsigned char *val, unsigned nval,
                               int ac);

/* Fills an AC table's t->run, once, before img_block_skip uses it: a
 * tenth of a 640x480 picture's decode, so only for the tables that a
 * skipping scan names. */
SIAM_HIDDEN void img_huff_build_runs(img_huff *t);

/* The entropy-coded bytes of a scan, 64 bits at a time: acc holds n
 * valid bits from its top, zeros below them.  Stuffed 0xFF 0x00 pairs
 * are undone; at a marker or the end of the data, zeros are fed (and
 * counted in pad) so that a decode never reads past the buffer. */
typedef struct img_bits {
	const unsigned char *p, *end;
	uint64_t acc;
	int n;      /* valid bits in acc */
	int pad;    /* how many of them are zeros fed past the data */
	int marker; /* p is at a marker (or the end): no more data */
	int eof;    /* ... the end of the buffer, not a marker */
} img_bits;

SIAM_HIDDEN void img_bits_init(img_bits *b, const unsigned char *p,
                               const unsigned char *end);

/* Whether a decode has used bits beyond the scan's data. */
static inline int img_bits_past(const img_bits *b)
{
	return b->n < b->pad;
}

/* The restart marker RSTm that must come next (after the padding bits
 * of the current byte and fill bytes): 0; 1 when the data ends before
 * it; -1 when something else is there. */
SIAM_HIDDEN int img_bits_restart(img_bits *b, int m);

/* libjpeg's jpeg_natural_order, with its 16 extra entries: a corrupt
 * run past the 63rd coefficient writes the 63rd rather than past the
 * block, and we write where libjpeg writes. */
extern SIAM_HIDDEN const unsigned char img_jpeg_natural[64 + 16];

SIAM_HIDDEN void img_bits_fill_slow(img_bits *b);
SIAM_HIDDEN int img_huff_decode_long(img_bits *b, const img_huff *t);

/* The inline readers below work on s, which the caller keeps in a
 * local that no function outside this header sees, so that the
 * compiler holds it in registers for a whole scan; b is the caller's
 * reader in memory, synced for the slow paths (a byte at a time, a
 * long code).  With the reader itself in memory every bit dropped
 * waited on a store: slower than libjpeg instead of faster. */

/* At least 33 bits held afterwards: a code (16) and its value (15). */
static inline void img_bits_fill(img_bits *s, img_bits *b)
{
	if (s->n > 32)
		return;
	if (!s->marker && s->end - s->p >= 8) {
		const unsigned char *p = s->p;
		uint64_t w = (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
		             (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
		             (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
		             (uint64_t)p[6] << 8 | p[7];
		uint64_t v = ~w; /* a zero byte of v: a 0xFF of w */
		if (!((v - 0x0101010101010101ull) & ~v &
		      0x8080808080808080ull)) {
			int k = (63 - s->n) >> 3; /* whole bytes that fit */
			s->acc |= (w & ~0ull << (64 - 8 * k)) >> s->n;
			s->n += 8 * k;
			s->p += k;
			return;
		}
	}
	*b = *s;
	img_bits_fill_slow(b);
	*s = *b;
}

static inline void img_bits_drop(img_bits *s, int n)
{
	s->acc <<= n;
	s->n -= n;
}

/* The next n bits (1..15) as the signed value they code (F.2.2.1). */
static inline int img_bits_value(img_bits *s, int n)
{
	int v = (int)(s->acc >> (64 - n));
	img_bits_drop(s, n);
	return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
}

/* The symbol of the next code; -1 for a code the table lacks. */
static inline int img_huff_decode(img_bits *s, img_bits *b,
                                  const img_huff *t)
{
	unsigned e = t->fast[s->acc >> (64 - IMG_HUFF_FAST)];
	int r;
	if (e) {
		img_bits_drop(s, (int)(e >> 8));
		return (int)(e & 255);
	}
	*b = *s;
	r = img_huff_decode_long(b, t);
	*s = *b;
	return r;
}

/* A DC difference (F.2.2.1): one look-up for its code and value. */
static inline int img_dc_diff(img_bits *s, img_bits *b, const img_huff *t,
                              int *diff)
{
	int r;
	unsigned i;
	img_bits_fill(s, b);
	i = (unsigned)(s->acc >> (64 - IMG_HUFF_FAST));
	if (t->dcbits[i]) {
		*diff = t->dcdiff[i];
		img_bits_drop(s, t->dcbits[i]);
		return 0;
	}
	if ((r = img_huff_decode(s, b, t)) < 0)
		return -1;
	*diff = r ? img_bits_value(s, r & 15) : 0;
	return 0;
}

/* One block of a sequential scan: its DC difference into *diff, its AC
 * coefficients stepped over (skip) or stored in blk[] in natural order,
 * *set the mask of the positions written (full; blk[] zeroed by the
 * caller, blk[0] left to it; as libjpeg, a run past the 63rd
 * coefficient writes the 63rd).  They return -1 for a code the table
 * lacks (libjpeg warns and goes on; our caller leaves the file to it),
 * else 0. */
static inline int img_block_skip(img_bits *s, img_bits *b,
                                 const img_huff *dc, const img_huff *ac,
                                 int *diff)
{
	if (img_dc_diff(s, b, dc, diff))
		return -1;
	for (int k = 1; k < 64;) {
		unsigned e;
		int rs;
		img_bits_fill(s, b);
		if (k < 32 && (e = ac->run[s->acc >> (64 - IMG_HUFF_RUN)])) {
			img_bits_drop(s, (int)(e >> 8));
			k += (int)(e & 255);
			/* a second run on the same fill: 33 bits were held,
			 * a run takes at most IMG_HUFF_RUN */
			if (k < 32 &&
			    (e = ac->run[s->acc >> (64 - IMG_HUFF_RUN)])) {
				img_bits_drop(s, (int)(e >> 8));
				k += (int)(e & 255);
			}
			continue;
		}
		e = ac->skip[s->acc >> (64 - IMG_HUFF_FAST)];
		if (e) {
			img_bits_drop(s, (int)(e & 31));
			k += (int)(e >> 5);
			continue;
		}
		if ((rs = img_huff_decode(s, b, ac)) < 0)
			return -1;
		if (rs & 15) {
			img_bits_drop(s, rs & 15);
			k += (rs >> 4) + 1;
		} else if (rs >> 4 == 15) {
			k += 16;
		} else {
			break;
		}
	}
	return 0;
}

static inline int img_block_full(img_bits *s, img_bits *b,
                                 const img_huff *dc, const img_huff *ac,
                                 int *diff, int16_t blk[64],
                                 uint64_t *set)
{
	uint64_t m = 0;
	if (img_dc_diff(s, b, dc, diff))
		return -1;
	for (int k = 1; k < 64; k++) {
		int rs;
		img_bits_fill(s, b);
		if ((rs = img_huff_decode(s, b, ac)) < 0)
			return -1;
		if (rs & 15) {
			int z;
			k += rs >> 4;
			z = img_jpeg_natural[k];
			blk[z] = (int16_t)img_bits_value(s, rs & 15);
			m |= 1ull << z;
		} else if (rs >> 4 == 15) {
			k += 15;
		} else {
			break;
		}
	}
	*set = m;
	return 0;
}

/* The same from one bit at a time and the canonical tables alone: the
 * slow reference the tests hold the fast path to. */
SIAM_HIDDEN int img_block_ref(img_bits *b, const img_huff *dc,
                              const img_huff *ac, int *diff,
                              int16_t blk[64]);

#endif
