/*
 * jpeg_huff.c -- the Huffman-coded data of a JPEG scan, for a decoder
 * that wants little of it: at 1/8 a block is its DC coefficient alone,
 * and a sequential block's 63 AC coefficients are to be stepped over.
 *
 * Why not libjpeg for that: stepping over an AC coefficient still
 * means decoding its Huffman code, which is what a 1/8 decode of a
 * camera JPEG spends nearly all its time on.  libjpeg looks a code up
 * in 8 bits, then drops the value's bits in a second step.  Here one
 * look-up gives a code and its value's bits together: up to three
 * whole symbols in IMG_HUFF_RUN bits (img_huff.run), else one in
 * IMG_HUFF_FAST bits (img_huff.skip; for a DC table, dcbits and
 * dcdiff); and the bit buffer takes 8 bytes at a time when none of
 * them is 0xFF.  Codes or code + value longer than that take the
 * canonical path (JPEG spec F.2.2.3), the same one img_block_ref runs
 * bit by bit.
 */
#include "image/jpeg_huff.h"

#include <string.h>

const unsigned char img_jpeg_natural[64 + 16] = {
	0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
	63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
};

/* The entry of img_huff.run for the bits v (see jpeg_huff.h). */
static uint16_t run_of(const img_huff *t, unsigned v)
{
	int bits = 0, adv = 0, m = 0;
	while (m < 3 && bits < IMG_HUFF_RUN) {
		int rem = IMG_HUFF_RUN - bits;
		unsigned x = (v << bits) & ((1u << IMG_HUFF_RUN) - 1);
		unsigned e = t->fast[x >> (IMG_HUFF_RUN - IMG_HUFF_FAST)];
		int l = (int)(e >> 8), r = (int)(e >> 4 & 15), s = (int)(e & 15);
		if (!e || l + s > rem)
			break;
		bits += l + s;
		adv += s ? r + 1 : r == 15 ? 16 : 64;
		m++;
		if (!s && r != 15)
			break; /* end of block */
	}
	return m ? (uint16_t)(bits << 8 | adv) : 0;
}

int img_huff_build(img_huff *t, const unsigned char *counts,
                   const unsigned char *val, unsigned nval, int ac)
{
	int32_t code = 0;
	unsigned total = 0, k = 0;
	int maxlen = 0;

	for (int l = 1; l <= 16; l++) {
		total += counts[l - 1];
		if (counts[l - 1])
			maxlen = l;
	}
	if (total > 256 || total != nval)
		return -1;
	for (int l = 1; l <= 16; l++) {
		t->valptr[l] = (int)k;
		t->mincode[l] = code;
		code += counts[l - 1];
		k += counts[l - 1];
		/* As libjpeg (jdhuff.c): codes must fit their length. */
		if (l <= maxlen && code >= (int32_t)1 << l)
			return -1;
		t->maxcode[l] = counts[l - 1] ? code - 1 : -1;
		code <<= 1;
	}
	memcpy(t->val, val, nval);
	memset(t->fast, 0, sizeof t->fast);
	memset(t->skip, 0, sizeof t->skip);
	for (int l = 1; l <= IMG_HUFF_FAST; l++)
		for (int i = 0; i < counts[l - 1]; i++) {
			int sym = val[t->valptr[l] + i];
			int s = sym & 15, r = sym >> 4;
			int lo = (t->mincode[l] + i) << (IMG_HUFF_FAST - l);
			int n = 1 << (IMG_HUFF_FAST - l);
			/* EOB (and, as libjpeg reads a sequential scan, any
			 * run with no value but ZRL) ends the block. */
			int adv = s ? r + 1 : r == 15 ? 16 : 64;
			for (int j = 0; j < n; j++) {
				t->fast[lo + j] = (uint16_t)(l << 8 | sym);
				if (ac && l + s <= IMG_HUFF_FAST)
					t->skip[lo + j] = (uint16_t)(adv << 5 |
					                             (l + s));
			}
		}
	t->runs = 0;
	if (ac)
		return 0;
	for (unsigned v = 0; v < 1u << IMG_HUFF_FAST; v++) {
		unsigned e = t->fast[v];
		int l = (int)(e >> 8), s = (int)(e & 15), d = 0;
		t->dcbits[v] = 0;
		if (!e || (e & 255) > 15 || l + s > IMG_HUFF_FAST)
			continue;
		if (s) {
			d = (int)(v >> (IMG_HUFF_FAST - l - s)) & ((1 << s) - 1);
			if (d < 1 << (s - 1))
				d -= (1 << s) - 1;
		}
		t->dcbits[v] = (unsigned char)(l + s);
		t->dcdiff[v] = (int16_t)d;
	}
	return 0;
}

void img_huff_build_runs(img_huff *t)
{
	if (t->runs)
		return;
	for (unsigned v = 0; v < 1u << IMG_HUFF_RUN; v++)
		t->run[v] = run_of(t, v);
	t->runs = 1;
}

void img_bits_init(img_bits *b, const unsigned char *p,
                   const unsigned char *end)
{
	memset(b, 0, sizeof *b);
	b->p = p;
	b->end = end;
}

/* A byte at a time until more than 56 bits are held. */
void img_bits_fill_slow(img_bits *b)
{
	while (b->n <= 56) {
		unsigned byte = 0;
		const unsigned char *p = b->p;
		if (b->marker || p >= b->end) {
			b->marker = 1;
			b->eof |= p >= b->end;
			b->pad += 8;
		} else if (p[0] != 0xff) {
			byte = p[0];
			b->p++;
		} else if (p + 1 < b->end && p[1] == 0) {
			byte = 0xff; /* stuffed */
			b->p += 2;
		} else {
			b->marker = 1; /* a marker (or fill bytes): data over */
			b->eof |= p + 1 >= b->end;
			b->pad += 8;
		}
		b->acc |= (uint64_t)byte << (56 - b->n);
		b->n += 8;
	}
}

/* A code longer than IMG_HUFF_FAST bits, canonically; -1: none. */
int img_huff_decode_long(img_bits *b, const img_huff *t)
{
	for (int l = IMG_HUFF_FAST + 1; l <= 16; l++) {
		int32_t code = (int32_t)(b->acc >> (64 - l));
		if (code <= t->maxcode[l]) {
			b->acc <<= l;
			b->n -= l;
			return t->val[t->valptr[l] + code - t->mincode[l]];
		}
	}
	return -1;
}

/* The reference: a bit at a time (F.2.2.3's DECODE and RECEIVE). */
static int ref_bit(img_bits *b)
{
	int bit;
	if (!b->n)
		img_bits_fill_slow(b);
	bit = (int)(b->acc >> 63);
	b->acc <<= 1;
	b->n--;
	return bit;
}

static int ref_decode(img_bits *b, const img_huff *t)
{
	int32_t code = ref_bit(b);
	for (int l = 1; l <= 16; l++) {
		if (code <= t->maxcode[l])
			return t->val[t->valptr[l] + code - t->mincode[l]];
		code = code << 1 | ref_bit(b);
	}
	return -1;
}

static int ref_value(img_bits *b, int s)
{
	int v = 0;
	for (int i = 0; i < s; i++)
		v = v << 1 | ref_bit(b);
	return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
}

int img_block_ref(img_bits *b, const img_huff *dc, const img_huff *ac,
                  int *diff, int16_t blk[64])
{
	int s = ref_decode(b, dc);
	if (s < 0)
		return -1;
	*diff = s ? ref_value(b, s & 15) : 0;
	for (int k = 1; k < 64; k++) {
		int rs = ref_decode(b, ac), r;
		if (rs < 0)
			return -1;
		r = rs >> 4;
		if ((s = rs & 15)) {
			k += r;
			blk[img_jpeg_natural[k]] = (int16_t)ref_value(b, s);
		} else if (r == 15) {
			k += 15;
		} else {
			break;
		}
	}
	return 0;
}

int img_bits_restart(img_bits *b, int m)
{
	const unsigned char *p = b->p;
	/* What is held beyond the last block is the current byte's
	 * padding; a whole byte more is data libjpeg would warn about. */
	if (b->n - b->pad >= 8)
		return -1;
	while (p + 1 < b->end && p[0] == 0xff && p[1] == 0xff)
		p++;
	if (p + 1 >= b->end)
		return 1;
	if (p[0] != 0xff || p[1] != 0xd0 + m)
		return -1;
	img_bits_init(b, p + 2, b->end);
	return 0;
}
