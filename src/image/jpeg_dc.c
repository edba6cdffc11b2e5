/*
 * jpeg_dc.c -- a Huffman-coded JPEG at 1/8 of its size, the pixels
 * libjpeg gives at scale 1/8, with less memory (progressive) or less
 * time (sequential) than libjpeg takes for them.
 *
 * At 1/8, which is what a photo gets for a small model, each 8x8 block
 * becomes one pixel and libjpeg's 1x1 inverse DCT reads nothing but the
 * block's DC coefficient: round(DC * q0 / 8) + 128.
 *
 * Progressive (SOF2): libjpeg keeps every DCT coefficient of the
 * picture until the last scan (2 bytes a stored sample: 150 MB for a
 * 50 Mpx 4:2:0 photo, 300 MB for 4:4:4), whatever the output scale.  A
 * progressive file sends the DC coefficients of every block in scans
 * of their own, before or between the AC scans; so we decode those,
 * step over the AC scans' entropy-coded data without decoding it (its
 * end is the next marker: 0xFF then neither 0x00, a stuffed byte, nor
 * RSTn), and keep 2 bytes a block of each component (2.3 MB for a 50
 * Mpx 4:2:0 photo) besides the output.
 *
 * Sequential (SOF0 baseline, SOF1): every block's AC coefficients
 * follow its DC one, and stepping over them means decoding their
 * Huffman codes, which is nearly all the time of a 1/8 decode.
 * jpeg_huff.c does that faster than libjpeg-turbo (one look-up for a
 * code and its value, or for up to three whole symbols); each block
 * becomes its sample at once.  libjpeg gives 4:2:0 chroma a 2x2 IDCT
 * at 1/8 (jdmaster.c scales a subsampled component's IDCT up while
 * that keeps upsampling 1:1), which reads AC coefficients: those blocks
 * are decoded in full and go through the same 2x2 IDCT (jidctred.c),
 * so a sequential file gives libjpeg's pixels in every sampling.
 *
 * What it takes (everything else is declined and libjpeg decodes it,
 * within its coefficient budget, see jpeg.c): SOF0, SOF1 or SOF2
 * (Huffman), 8-bit samples, one component (gray) or three (YCbCr, the
 * caller has ruled out RGB and Adobe transforms from libjpeg's reading
 * of the header) with luma at the largest sampling factors and both
 * chroma components subsampled by 1 or 2 on each axis (4:4:4, 4:2:2,
 * 4:4:0, 4:2:0); interleaved scans or not; restart intervals.
 * Progressive: DC scans first (Ah = 0) and refinements (Ah > 0, one
 * bit a block).  A file libjpeg would step over with a warning (a
 * wrong RSTn, a marker inside a scan, a bad Huffman code, a DC
 * coefficient never completed, a sequential scan that is not 0..63) is
 * declined too: libjpeg decodes it the way it always has.  So is one
 * libjpeg refuses, AC scan headers and tables included though their
 * data is not read: it is the same error at 1/8 as at every other
 * scale.  Only progressive data that ends before the picture does
 * (libjpeg's "truncated" case) and too many scans are errors here; a
 * truncated sequential file goes to libjpeg, which streams it.
 *
 * How close to libjpeg's own 1/8 decode (tests/test_image_jpeg_dc.c
 * measures it):
 *   - sequential, every sampling; progressive gray, 4:4:4, 4:2:2 and
 *     4:4:0: the same pixels.  libjpeg runs the 1x1 IDCT for every
 *     component (2x2 for sequential 4:2:0 chroma, above), replicates
 *     chroma samples (its "fancy" upsampling is off at 1/8,
 *     jdsample.c) and converts with the fixed-point arithmetic of
 *     jdcolor.c, written out below.
 *   - progressive 4:2:0: luma the same, chroma not quite.  Its AC
 *     coefficients are not decoded, so we replicate each chroma DC
 *     over its 2x2 pixels, which is what that IDCT gives for a block
 *     whose AC coefficients are zero (exactly: jidctred.c's DC-only
 *     shortcut rounds as the 1x1 IDCT does), so each block keeps its
 *     mean and only chroma detail finer than 16 pixels is lost.  The
 *     h2v2 "fancy" interpolation of the DCs was tried too: further
 *     from libjpeg in mean and in embeddings (it blurs block means
 *     into each other), nearer only in the worst pixel.
 *
 * Cost: each scan decodes at least one bit a block, and a scan stops
 * at the first MCU that reads past its data, so the work is linear in
 * the file's size; a progressive AC scan costs a memchr over its bytes.
 */
#include "image/jpeg_dc.h"
#include "image/jpeg_huff.h"

#include <stdint.h>
#include <string.h>

enum { DC_MAXC = 3 };

typedef struct dc_comp {
	int id, h, v, tq; /* from the frame header */
	int latched;      /* q[] set: at the component's first scan */
	int bw, bh;   /* blocks holding picture */
	int pw, ph;   /* blocks stored: the MCU grid's, dummy ones too */
	int al;       /* lowest DC bit decoded: -1 none yet, 0 all */
	int16_t *dc;  /* progressive: pw x ph DC coefficients, row by row */
	int pred;     /* DC prediction within a scan */
	int td, ta;   /* DC and AC tables of the current scan */
	/* Sequential: the samples, as each block is decoded, in place of
	 * dc[]: a block's 1x1 IDCT, pw x ph; or for a 4:2:0 file's chroma
	 * (idct2) libjpeg's 2x2 IDCT of each block, 2pw x 2ph. */
	int idct2;
	int16_t q[64];     /* the quantizer, natural order, as latched */
	unsigned char *px;
	size_t pxw;        /* px's row length */
} dc_comp;

typedef struct dc_jpeg {
	int w, h, nc, hmax, vmax, mcux, mcuy;
	int rx, ry; /* chroma subsampling on each axis: 1 or 2 */
	int ri;     /* restart interval, MCUs; 0 none */
	int sof, scans;
	int seq;      /* SOF0/SOF1: sequential; else SOF2, progressive */
	int qdef[4];
	uint16_t qt[4][64]; /* quantizers, natural order */
	img_huff ht[4], act[4]; /* DC, AC */
	int htdef[4], acdef[4];
	dc_comp c[DC_MAXC];
} dc_jpeg;

/* How a step ends besides success: the file goes to libjpeg, the data
 * ends before the picture does, or there are too many scans. */
enum { DC_OK = 0, DC_NO = 1, DC_EOF = 2, DC_SCANS = 3 };

static unsigned be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Where the next marker starts at or after i (its 0xFF, fill bytes
 * before it skipped), len if there is none: the end of a scan's data. */
static size_t dc_next_marker(const unsigned char *d, size_t len, size_t i)
{
	while (i < len) {
		const unsigned char *f = memchr(d + i, 0xff, len - i);
		unsigned m;
		if (!f)
			return len;
		i = (size_t)(f - d);
		if (i + 1 >= len)
			return len;
		m = d[i + 1];
		if (m != 0 && m != 0xff && (m < 0xd0 || m > 0xd7))
			return i;
		i += m == 0xff ? 1 : 2;
	}
	return len;
}

/* DHT: every table of the segment, with its look-up tables (AC ones
 * serve a sequential scan; a progressive AC scan only names one, see
 * dc_sos).  As libjpeg (jdhuff.c), more than 256 symbols, a code that
 * does not fit its length, or a DC symbol above 15 is a bad table. */
static int dc_dht(dc_jpeg *j, const unsigned char *s, size_t n)
{
	while (n) {
		unsigned tc, th, total = 0;
		if (n < 17)
			return DC_NO;
		tc = s[0] >> 4;
		th = s[0] & 15;
		if (tc > 1 || th > 3)
			return DC_NO;
		for (int l = 1; l <= 16; l++)
			total += s[l];
		if (total > 256 || n < 17 + total)
			return DC_NO;
		if (tc == 0)
			for (unsigned i = 0; i < total; i++)
				if (s[17 + i] > 15)
					return DC_NO;
		if (img_huff_build(tc ? &j->act[th] : &j->ht[th], s + 1,
		                   s + 17, total, tc))
			return DC_NO;
		if (tc)
			j->acdef[th] = 1;
		else
			j->htdef[th] = 1;
		s += 17 + total;
		n -= 17 + total;
	}
	return DC_OK;
}

/* DQT: every table, 8 or 16 bits, from zigzag into natural order. */
static int dc_dqt(dc_jpeg *j, const unsigned char *s, size_t n)
{
	while (n) {
		unsigned pq = s[0] >> 4, tq = s[0] & 15;
		size_t sz = pq ? 129 : 65;
		if (pq > 1 || tq > 3 || n < sz)
			return DC_NO;
		for (int i = 0; i < 64; i++)
			j->qt[tq][img_jpeg_natural[i]] =
				(uint16_t)(pq ? be16(s + 1 + 2 * i) : s[1 + i]);
		j->qdef[tq] = 1;
		s += sz;
		n -= sz;
	}
	return DC_OK;
}

static int ceil_div(long long a, long long b)
{
	return (int)((a + b - 1) / b);
}

/* SOF0, SOF1 (seq) or SOF2: the frame, the sampling factors we take,
 * and the DC arrays (progressive) or sample planes (sequential). */
static int dc_sof(dc_jpeg *j, int seq, const unsigned char *s, size_t n,
                  const char *name, const siam_image_limits *lim,
                  siam_error *err, int *rc)
{
	if (j->sof || n < 6 || s[0] != 8)
		return DC_NO;
	j->seq = seq;
	j->h = (int)be16(s + 1);
	j->w = (int)be16(s + 3);
	j->nc = s[5];
	if ((j->nc != 1 && j->nc != 3) || n != 6 + 3 * (size_t)j->nc ||
	    !j->w || !j->h)
		return DC_NO;
	if ((*rc = img_check_pixels(j->w, j->h, name, lim, err)))
		return DC_NO;
	for (int i = 0; i < j->nc; i++) {
		dc_comp *c = &j->c[i];
		c->id = s[6 + 3 * i];
		c->h = s[7 + 3 * i] >> 4;
		c->v = s[7 + 3 * i] & 15;
		c->tq = s[8 + 3 * i];
		c->al = -1;
		if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3)
			return DC_NO;
		j->hmax = SIAM_MAX(j->hmax, c->h);
		j->vmax = SIAM_MAX(j->vmax, c->v);
	}
	j->rx = j->ry = 1;
	if (j->nc == 3) {
		const dc_comp *y = &j->c[0], *cb = &j->c[1], *cr = &j->c[2];
		if (y->h != j->hmax || y->v != j->vmax || cb->h != cr->h ||
		    cb->v != cr->v || y->h % cb->h || y->v % cb->v)
			return DC_NO;
		j->rx = y->h / cb->h;
		j->ry = y->v / cb->v;
		if (j->rx > 2 || j->ry > 2)
			return DC_NO;
	}
	j->mcux = ceil_div(j->w, 8LL * j->hmax);
	j->mcuy = ceil_div(j->h, 8LL * j->vmax);
	for (int i = 0; i < j->nc; i++) {
		dc_comp *c = &j->c[i];
		/* libjpeg's width_in_blocks, height_in_blocks */
		c->bw = ceil_div((long long)j->w * c->h, 8LL * j->hmax);
		c->bh = ceil_div((long long)j->h * c->v, 8LL * j->vmax);
		c->pw = j->mcux * c->h;
		c->ph = j->mcuy * c->v;
		/* libjpeg (jdmaster.c) doubles a component's IDCT size
		 * while that keeps upsampling 1:1; at 1/8 with luma at the
		 * largest factors that is chroma subsampled 2x2 alone. */
		c->idct2 = j->seq && i > 0 && j->rx == 2 && j->ry == 2;
		c->pxw = (size_t)c->pw * (c->idct2 ? 2 : 1);
		if (j->seq)
			c->px = siam_xcalloc(c->pxw * (c->idct2 ? 2 : 1),
			                     (size_t)c->ph);
		else
			c->dc = siam_xcalloc((size_t)c->pw * (size_t)c->ph,
			                     sizeof *c->dc);
		if (!c->dc && !c->px) {
			*rc = siam_errorf(err, SIAM_ENOMEM,
			                  "%s: out of memory", name);
			return DC_NO;
		}
	}
	j->sof = 1;
	return DC_OK;
}

/* libjpeg's range-limit table (jdmaster.c) after an IDCT: + 128 and
 * clamped for -512 .. 511; beyond that (only a crafted DQT gets there:
 * an 8-bit picture's values are within -128 .. 127) its table is
 * indexed through RANGE_MASK and wraps, copied here too. */
static int range_limit(int64_t v)
{
	/* i < 128: i + 128; < 512: 255; < 896: 0; else i - 896: that is
	 * i as a 10-bit signed number, + 128, clamped. */
	int i = (int)(((unsigned)v & 1023) ^ 512) - 512 + 128;
	return i < 0 ? 0 : i > 255 ? 255 : i;
}

/* libjpeg's 1x1 IDCT (jidctred.c): DESCALE(DC * q0, 3), range-limited;
 * q0 is q[0], a short as libjpeg has it (see dc_sos). */
static int idct_1x1(const dc_comp *c, int16_t dc)
{
	return range_limit(((int32_t)dc * c->q[0] + 4) >> 3);
}

static int dc_sample(const dc_comp *c, int bx, int by)
{
	return idct_1x1(c, c->dc[(size_t)by * c->pw + bx]);
}

/* libjpeg's 2x2 IDCT (jidctred.c, jpeg_idct_2x2: 13-bit constants,
 * columns then rows, only coefficients in rows and columns 0, 1, 3, 5
 * and 7 matter), written out so that the samples are libjpeg's. */
#define I2_DESCALE(x, n) (((x) + ((int64_t)1 << ((n) - 1))) >> (n))
static int64_t i2_odd(int64_t c1, int64_t c3, int64_t c5, int64_t c7)
{
	return c7 * -5906 + c5 * 6967 + c3 * -10426 + c1 * 29692;
}

/* set: the positions of blk[] a block decode wrote (img_block_full),
 * set to 0 again here so that the next block starts from zeros without
 * clearing all 64, and only the columns with a coefficient in an odd
 * row are transformed in full (libjpeg's own shortcut, jidctred.c). */
static void idct_2x2(int16_t *blk, uint64_t set, const int16_t *q,
                     unsigned char *o, size_t stride)
{
	static const int col[5] = { 0, 1, 3, 5, 7 };
	const uint64_t odd_rows = 0xff00ff00ff00ff00ull; /* rows 1, 3, 5, 7 */
	int ws[2][8];
	for (int i = 0; i < 5; i++) {
		int c = col[i];
		const int16_t *in = blk + c;
		const int16_t *qc = q + c;
		int z0 = in[0] * qc[0];
		if (!(set & odd_rows & 0x0101010101010101ull << c)) {
			ws[0][c] = ws[1][c] = (int)((uint64_t)(int64_t)z0 << 2);
			continue;
		}
		int64_t t10 = (int64_t)((uint64_t)(int64_t)z0 << 15);
		int64_t t0 = i2_odd(in[8] * qc[8], in[24] * qc[24],
		                    in[40] * qc[40], in[56] * qc[56]);
		ws[0][c] = (int)I2_DESCALE(t10 + t0, 13);
		ws[1][c] = (int)I2_DESCALE(t10 - t0, 13);
	}
	for (int r = 0; r < 2; r++) {
		const int *w = ws[r];
		int64_t t10 = (int64_t)((uint64_t)(int64_t)w[0] << 15);
		int64_t t0 = i2_odd(w[1], w[3], w[5], w[7]);
		o[r * stride] = (unsigned char)range_limit(
			I2_DESCALE(t10 + t0, 20));
		o[r * stride + 1] = (unsigned char)range_limit(
			I2_DESCALE(t10 - t0, 20));
	}
	blk[0] = 0;
	for (; set; set &= set - 1)
		blk[__builtin_ctzll(set)] = 0;
}

/* Block (bx, by) of a sequential component: its samples into c->px. */
static void dc_put(dc_comp *c, int bx, int by, int16_t dc, int16_t *blk,
                   uint64_t set)
{
	size_t st = c->pxw;
	if (!c->idct2) {
		c->px[(size_t)by * st + (size_t)bx] = (unsigned char)idct_1x1(c, dc);
		return;
	}
	unsigned char *o = c->px + 2 * (size_t)by * st + 2 * (size_t)bx;
	if (set) {
		blk[0] = dc;
		idct_2x2(blk, set, c->q, o, st);
	} else { /* no AC: the 2x2 IDCT is the 1x1 one, 4 times */
		o[0] = o[1] = o[st] = o[st + 1] =
			(unsigned char)idct_1x1(c, dc);
	}
}

/* How a scan's blocks are read: a progressive DC scan's first pass
 * (the DC difference, shifted left by al) or refinement (one bit, al),
 * or a sequential scan (every coefficient of each block). */
enum { SCAN_DC_FIRST, SCAN_DC_REFINE, SCAN_SEQ };

/* The entropy-coded data of a scan of the ns components sc[] from
 * d[*pos]; *pos ends at the marker after it.  Sequential: each block's
 * DC coefficient kept, its AC coefficients stepped over (jpeg_huff.c),
 * or all of them decoded for a 2x2 IDCT, and anything libjpeg would
 * warn about (a bad code, data ending early, a wrong restart marker)
 * leaves the file to libjpeg.  Progressive: a bad code or a wrong
 * restart marker too; data that ends (the file's, not at a marker)
 * before the picture does is DC_EOF, as libjpeg would need the whole
 * coefficient buffer to go on. */
static int dc_scan(dc_jpeg *j, dc_comp **sc, int ns, int kind, int al,
                   const unsigned char *d, size_t len, size_t *pos)
{
	/* The blocks of an MCU in their order, worked out once. */
	struct {
		dc_comp *c;
		const img_huff *hd, *ha;
		int dx, dy, bw, bh;
	} mb[10];
	img_bits s, b; /* s in registers, b for the slow paths */
	int nx, ny, nb = 0, left = j->ri, rst = 0;
	int16_t blk[64] = { 0 }; /* zeros where idct_2x2 reads */

	img_bits_init(&s, d + *pos, d + len);
	b = s;
	if (ns == 1) { /* one block an MCU, only the picture's blocks */
		nx = sc[0]->bw;
		ny = sc[0]->bh;
	} else {
		nx = j->mcux;
		ny = j->mcuy;
	}
	for (int k = 0; k < ns; k++) {
		dc_comp *c = sc[k];
		int bh = ns == 1 ? 1 : c->v, bw = ns == 1 ? 1 : c->h;
		c->pred = 0;
		for (int y = 0; y < bh; y++)
			for (int x = 0; x < bw; x++, nb++) {
				mb[nb].c = c;
				mb[nb].hd = &j->ht[c->td];
				mb[nb].ha = &j->act[c->ta];
				mb[nb].dx = x;
				mb[nb].dy = y;
				mb[nb].bw = bw;
				mb[nb].bh = bh;
			}
	}
	for (int my = 0; my < ny; my++)
		for (int mx = 0; mx < nx; mx++) {
			if (j->ri && !left) {
				int r;
				b = s;
				if ((r = img_bits_restart(&b, rst)))
					return r > 0 && kind != SCAN_SEQ ? DC_EOF
					                                 : DC_NO;
				s = b;
				rst = (rst + 1) & 7;
				left = j->ri;
				for (int k = 0; k < ns; k++)
					sc[k]->pred = 0;
			}
			left--;
			for (int i = 0; i < nb; i++) {
				dc_comp *c = mb[i].c;
				int bx = mx * mb[i].bw + mb[i].dx,
				    by = my * mb[i].bh + mb[i].dy, diff, r;
				uint64_t set = 0;
				if (kind == SCAN_DC_REFINE) {
					uint16_t *v = (uint16_t *)&c->dc[
						(size_t)by * c->pw + bx];
					img_bits_fill(&s, &b);
					if (s.acc >> 63)
						*v |= (uint16_t)(1u << al);
					img_bits_drop(&s, 1);
					continue;
				}
				if (kind == SCAN_DC_FIRST)
					r = img_dc_diff(&s, &b, mb[i].hd, &diff);
				else if (c->idct2)
					r = img_block_full(&s, &b, mb[i].hd, mb[i].ha,
					                   &diff, blk, &set);
				else
					r = img_block_skip(&s, &b, mb[i].hd, mb[i].ha,
					                   &diff);
				/* libjpeg refuses a prediction that overflows
				 * an int. */
				if (r < 0 || (long long)c->pred + diff > INT32_MAX ||
				    (long long)c->pred + diff < INT32_MIN)
					return DC_NO;
				c->pred += diff;
				/* As libjpeg: the (shifted) value in a 16-bit
				 * coefficient. */
				if (kind == SCAN_DC_FIRST)
					c->dc[(size_t)by * c->pw + bx] = (int16_t)
						(uint16_t)((uint32_t)c->pred << al);
				else
					dc_put(c, bx, by, (int16_t)(uint16_t)c->pred,
					       blk, set);
			}
			/* Stop at the first MCU read past the data: no
			 * more work than the file has bits. */
			if (img_bits_past(&s))
				return s.eof && kind != SCAN_SEQ ? DC_EOF : DC_NO;
		}
	*pos = dc_next_marker(d, len, (size_t)(s.p - d));
	return DC_OK;
}

/* SOS: the scan header, then its data: a sequential scan decoded, a
 * progressive DC scan decoded, a progressive AC scan stepped over.
 * *pos is past the header; it ends at the next marker. */
static int dc_sos(dc_jpeg *j, const unsigned char *s, size_t n,
                  const unsigned char *d, size_t len, size_t *pos)
{
	dc_comp *sc[DC_MAXC];
	int ns, ss, se, ah, al, blocks = 0;

	if (!j->sof || n < 1)
		return DC_NO;
	ns = s[0];
	if (ns < 1 || ns > j->nc || n != 4 + 2 * (size_t)ns)
		return DC_NO;
	for (int k = 0; k < ns; k++) {
		int id = s[1 + 2 * k], i;
		for (i = 0; i < j->nc && j->c[i].id != id; i++)
			;
		if (i == j->nc)
			return DC_NO;
		for (int m = 0; m < k; m++)
			if (sc[m] == &j->c[i])
				return DC_NO;
		sc[k] = &j->c[i];
		sc[k]->td = s[2 + 2 * k] >> 4;
		blocks += sc[k]->h * sc[k]->v;
		/* libjpeg latches a component's quantizer at its first
		 * scan; a later DQT does not change it.  It keeps it as
		 * a short (ISLOW_MULT_TYPE, MULTIPLIER in a libjpeg-turbo
		 * built WITH_SIMD, as distributions build it: 32769 is
		 * -32767); copied, so the pixels are libjpeg's whatever the
		 * file.  (A build without SIMD multiplies in int: a
		 * quantizer above 32767, from a 16-bit DQT, is the one case
		 * that would differ.) */
		if (!sc[k]->latched) {
			if (!j->qdef[sc[k]->tq])
				return DC_NO;
			for (int i = 0; i < 64; i++)
				sc[k]->q[i] = (int16_t)j->qt[sc[k]->tq][i];
			sc[k]->latched = 1;
		}
	}
	ss = s[1 + 2 * ns];
	se = s[2 + 2 * ns];
	ah = s[3 + 2 * ns] >> 4;
	al = s[3 + 2 * ns] & 15;
	if (al > 13)
		return DC_NO;
	/* A sequential file's scans are all 0..63 (anything else is
	 * libjpeg's error or warning): never stepped over as an AC band. */
	if (j->seq) { /* every coefficient of each block, at once */
		int rc;
		if (ss != 0 || se != 63 || ah || al || (ns > 1 && blocks > 10))
			return DC_NO;
		for (int k = 0; k < ns; k++) {
			dc_comp *c = sc[k];
			c->ta = s[2 + 2 * k] & 15;
			if (c->al != -1 || c->td > 3 || !j->htdef[c->td] ||
			    c->ta > 3 || !j->acdef[c->ta])
				return DC_NO; /* sent twice, or no table */
			if (!c->idct2)
				img_huff_build_runs(&j->act[c->ta]);
		}
		if ((rc = dc_scan(j, sc, ns, SCAN_SEQ, 0, d, len, pos)))
			return rc;
		for (int k = 0; k < ns; k++)
			sc[k]->al = 0;
		return DC_OK;
	}
	if (ss > 0) { /* progressive AC: one component, data stepped over */
		int ta = s[2] & 15;
		/* Only the data: a header libjpeg refuses (jdphuff.c: a
		 * refinement with Al != Ah - 1, a table it lacks; it
		 * supplies the standard tables 0 and 1) is declined, so
		 * the file is the error it is at any other scale. */
		if (ns != 1 || se < ss || se > 63 || (ah && al != ah - 1) ||
		    ta > 3 || (ta > 1 && !j->acdef[ta]))
			return DC_NO;
		*pos = dc_next_marker(d, len, *pos);
		return DC_OK;
	}
	if (se != 0 || (ns > 1 && blocks > 10))
		return DC_NO;
	for (int k = 0; k < ns; k++) {
		if (ah && (sc[k]->al != ah || al != ah - 1))
			return DC_NO; /* refines what was not sent */
		if (!ah && (sc[k]->al != -1 || sc[k]->td > 3 ||
		            !j->htdef[sc[k]->td]))
			return DC_NO; /* sent twice, or no table */
	}
	int rc = dc_scan(j, sc, ns, ah ? SCAN_DC_REFINE : SCAN_DC_FIRST, al,
	                 d, len, pos);
	if (rc)
		return rc;
	for (int k = 0; k < ns; k++)
		sc[k]->al = al;
	return DC_OK;
}

static unsigned char clamp255(int v)
{
	return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* jdcolor.c's YCbCr to RGB, its 16-bit fixed point and rounding. */
#define DC_FIX(x) ((int32_t)((x) * 65536.0 + 0.5))
static void dc_rgb(unsigned char *o, int y, int cb, int cr)
{
	int32_t b = cb - 128, r = cr - 128, half = 1 << 15;
	o[0] = clamp255(y + ((DC_FIX(1.40200) * r + half) >> 16));
	o[1] = clamp255(y + ((-DC_FIX(0.34414) * b + half -
	                      DC_FIX(0.71414) * r) >> 16));
	o[2] = clamp255(y + ((DC_FIX(1.77200) * b + half) >> 16));
}

/* Row y of the output's samples of component c: its 2x2 IDCT's, or
 * its blocks' 1x1 IDCTs, each over rx x ry pixels (libjpeg's plain
 * upsampling; rx, ry are 1 or 2). */
static void dc_row(const dc_comp *c, int y, int w, int rx, int ry,
                   unsigned char *o)
{
	int sx = rx == 2, by = ry == 2 ? y >> 1 : y;
	if (c->idct2) {
		memcpy(o, c->px + (size_t)y * c->pxw, (size_t)w);
	} else if (c->px) {
		const unsigned char *p = c->px + (size_t)by * c->pxw;
		for (int x = 0; x < w; x++)
			o[x] = p[x >> sx];
	} else {
		for (int x = 0; x < w; x++)
			o[x] = (unsigned char)dc_sample(c, x >> sx, by);
	}
}

static int dc_output(const dc_jpeg *j, siam_image *out, const char *name,
                     siam_error *err)
{
	int w = ceil_div(j->w, 8), h = ceil_div(j->h, 8), rc;
	unsigned char *row;
	if ((rc = img_alloc(out, w, h, j->nc, name, err)))
		return rc;
	if (!(row = siam_xmalloc_n((size_t)w, 3))) {
		siam_image_release(out);
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", name);
	}
	out->full_w = j->w;
	out->full_h = j->h;
	for (int y = 0; y < h; y++) {
		unsigned char *o = out->px + (size_t)y * w * j->nc;
		if (j->nc == 1) {
			dc_row(&j->c[0], y, w, 1, 1, o);
			continue;
		}
		dc_row(&j->c[0], y, w, 1, 1, row);
		dc_row(&j->c[1], y, w, j->rx, j->ry, row + w);
		dc_row(&j->c[2], y, w, j->rx, j->ry, row + 2 * (size_t)w);
		for (int x = 0; x < w; x++)
			dc_rgb(o + 3 * x, row[x], row[w + x], row[2 * w + x]);
	}
	free(row);
	return 0;
}

/* The markers from SOI to EOI. */
static int dc_parse(dc_jpeg *j, const unsigned char *d, size_t len,
                    const char *name, const siam_image_limits *lim,
                    siam_error *err, int *rc)
{
	size_t pos = 2;
	int r;

	if (len < 2 || d[0] != 0xff || d[1] != 0xd8)
		return DC_NO;
	for (;;) {
		unsigned m;
		size_t seg;
		if (pos >= len)
			return DC_EOF;
		if (d[pos] != 0xff)
			return DC_NO;
		while (pos + 1 < len && d[pos + 1] == 0xff)
			pos++;
		if (pos + 1 >= len)
			return DC_EOF;
		m = d[pos + 1];
		pos += 2;
		if (m == 0xd9) /* EOI */
			break;
		if (m == 0xd8 || m == 0x01 || m == 0 || (m >= 0xd0 && m <= 0xd7))
			return DC_NO;
		if (pos + 2 > len)
			return DC_EOF;
		seg = be16(d + pos);
		if (seg < 2)
			return DC_NO;
		if (pos + seg > len)
			return DC_EOF;
		const unsigned char *s = d + pos + 2;
		size_t n = seg - 2;
		pos += seg;
		switch (m) {
		case 0xc0: /* baseline */
		case 0xc1: /* extended sequential, Huffman */
		case 0xc2: /* progressive, Huffman */
			r = dc_sof(j, m != 0xc2, s, n, name, lim, err, rc);
			break;
		case 0xc4:
			r = dc_dht(j, s, n);
			break;
		case 0xdb:
			r = dc_dqt(j, s, n);
			break;
		case 0xdd:
			r = n == 2 ? (j->ri = (int)be16(s), DC_OK) : DC_NO;
			break;
		case 0xda:
			if (++j->scans > IMG_JPEG_MAX_SCANS)
				return DC_SCANS;
			r = dc_sos(j, s, n, d, len, &pos);
			break;
		case 0xfe: /* COM */
			r = DC_OK;
			break;
		default: /* APPn: skipped; any other frame or marker: no */
			r = m >= 0xe0 && m <= 0xef ? DC_OK : DC_NO;
			break;
		}
		if (r)
			return r;
	}
	/* Every component's DC complete, else libjpeg does what it does
	 * with a partial picture (it smooths it). */
	if (!j->sof)
		return DC_NO;
	for (int i = 0; i < j->nc; i++)
		if (j->c[i].al != 0)
			return DC_NO;
	return DC_OK;
}

int img_jpeg_dc(siam_image *out, const unsigned char *d, size_t len,
                const char *name, const siam_image_limits *lim,
                siam_error *err)
{
	dc_jpeg *j = siam_xcalloc(1, sizeof *j);
	int rc = 0, r;

	if (!j)
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", name);
	r = dc_parse(j, d, len, name, lim, err, &rc);
	if (rc) /* an error with its message: too big, out of memory */
		;
	else if (r == DC_EOF)
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: truncated JPEG (the data ends before "
		                 "the picture does)", name);
	else if (r == DC_SCANS)
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: JPEG of more than %d scans (no encoder "
		                 "writes that many: a hostile file)", name,
		                 IMG_JPEG_MAX_SCANS);
	else if (r == DC_NO)
		rc = IMG_DC_DECLINE;
	else
		rc = dc_output(j, out, name, err);
	for (int i = 0; i < DC_MAXC; i++) {
		free(j->c[i].dc);
		free(j->c[i].px);
	}
	free(j);
	return rc;
}
