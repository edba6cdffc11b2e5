/*
 * jpeg_dc.c -- a progressive JPEG at 1/8 of its size from its DC
 * coefficients alone, in memory proportional to the decoded picture.
 *
 * Why: libjpeg decodes a progressive JPEG by keeping every DCT
 * coefficient of the picture until the last scan (2 bytes a stored
 * sample: 150 MB for a 50 Mpx 4:2:0 photo, 300 MB for 4:4:4), whatever
 * the output scale.  At 1/8, which is what a photo gets for a small
 * model, each 8x8 block becomes one pixel and libjpeg's 1x1 inverse DCT
 * reads nothing but the block's DC coefficient: round(DC * q0 / 8) +
 * 128.  A progressive file sends the DC coefficients of every block in
 * scans of their own, before or between the AC scans; so we decode
 * those, step over the AC scans' entropy-coded data without decoding it
 * (its end is the next marker: 0xFF then neither 0x00, a stuffed byte,
 * nor RSTn), and keep 2 bytes a block of each component (2.3 MB for a
 * 50 Mpx 4:2:0 photo) besides the output.
 *
 * What it takes (everything else is declined and libjpeg decodes it,
 * within its coefficient budget, see jpeg.c): SOF2 (progressive,
 * Huffman), 8-bit samples, one component (gray) or three (YCbCr, the
 * caller has ruled out RGB and Adobe transforms from libjpeg's reading
 * of the header) with luma at the largest sampling factors and both
 * chroma components subsampled by 1 or 2 on each axis (4:4:4, 4:2:2,
 * 4:4:0, 4:2:0); DC scans first (Ah = 0) and refinements (Ah > 0, one
 * bit a block), interleaved or not; restart intervals.  A file libjpeg
 * would step over with a warning (a wrong RSTn, a marker inside a scan,
 * a bad Huffman code, a DC coefficient never completed) is declined
 * too: libjpeg decodes it the way it always has.  So is one libjpeg
 * refuses, AC scan headers and tables included though their data is
 * not read: it is the same error at 1/8 as at every other scale.
 * Only data that ends before the picture does (libjpeg's "truncated"
 * case) and too many scans are errors here.
 *
 * How close to libjpeg's own 1/8 decode (tests/test_image_jpeg_dc.c
 * measures it):
 *   - gray, 4:4:4, 4:2:2 and 4:4:0: the same pixels.  libjpeg runs the
 *     1x1 IDCT for every component, replicates chroma samples (its
 *     "fancy" upsampling is off at 1/8, jdsample.c) and converts with
 *     the fixed-point arithmetic of jdcolor.c, written out below.
 *   - 4:2:0: luma the same, chroma not quite.  libjpeg gives chroma a
 *     2x2 IDCT rather than upsampling it (jdmaster.c scales a
 *     subsampled component's IDCT up while that keeps upsampling 1:1),
 *     which reads AC coefficients too.  We replicate each chroma DC
 *     over its 2x2 pixels, which is what that IDCT gives for a block
 *     whose AC coefficients are zero (exactly: jidctred.c's DC-only
 *     shortcut rounds as the 1x1 IDCT does), so each block keeps its
 *     mean and only chroma detail finer than 16 pixels is lost.  The
 *     h2v2 "fancy" interpolation of the DCs was tried too: further
 *     from libjpeg in mean and in embeddings (it blurs block means
 *     into each other), nearer only in the worst pixel.
 *
 * Cost: each DC scan decodes at least one bit a block, and a scan stops
 * at the first bit asked for past its data, so the work is linear in
 * the file's size; an AC scan costs a memchr over its bytes.
 */
#include "image/jpeg_dc.h"

#include <stdint.h>
#include <string.h>

enum { DC_MAXC = 3 };

/* A DC Huffman table, canonical form (JPEG spec F.2.2.3). */
typedef struct dc_huff {
	int defined;
	int32_t mincode[17], maxcode[17]; /* by length; maxcode -1: none */
	int valptr[17];                   /* first symbol of each length */
	unsigned char val[256];
} dc_huff;

typedef struct dc_comp {
	int id, h, v, tq; /* from the frame header */
	int q0;           /* DC quantizer, latched at the first scan */
	int latched;
	int bw, bh;   /* blocks holding picture */
	int pw, ph;   /* blocks stored: the MCU grid's, dummy ones too */
	int al;       /* lowest DC bit decoded: -1 none yet, 0 all */
	int16_t *dc;  /* pw x ph DC coefficients, row by row */
	int pred;     /* DC prediction within a scan */
	int td;       /* DC table of the current scan */
} dc_comp;

/* The entropy-coded data of one scan, read a bit at a time. */
typedef struct dc_bits {
	const unsigned char *p, *end;
	unsigned acc;
	int n;      /* bits left in acc */
	int marker; /* stopped at a marker: the scan's bytes are over */
	int past;   /* a bit was asked for beyond the scan's bytes */
	int eof;    /* ... and beyond the file's */
} dc_bits;

typedef struct dc_jpeg {
	int w, h, nc, hmax, vmax, mcux, mcuy;
	int rx, ry; /* chroma subsampling on each axis: 1 or 2 */
	int ri;     /* restart interval, MCUs; 0 none */
	int sof, scans;
	int qdef[4], q0[4];
	dc_huff ht[4];
	int acdef[4]; /* AC tables a DHT defined (and we checked) */
	dc_comp c[DC_MAXC];
} dc_jpeg;

/* How a step ends besides success: the file goes to libjpeg, the data
 * ends before the picture does, or there are too many scans. */
enum { DC_OK = 0, DC_NO = 1, DC_EOF = 2, DC_SCANS = 3 };

static unsigned be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static int dc_bit(dc_bits *b)
{
	if (!b->n) {
		unsigned byte = 0;
		if (b->marker || b->p >= b->end) {
			b->past = 1;
			b->eof |= b->p >= b->end;
		} else if (b->p[0] != 0xff) {
			byte = *b->p++;
		} else if (b->p + 1 >= b->end) {
			b->past = b->eof = 1;
		} else if (b->p[1] == 0) {
			byte = 0xff; /* a stuffed 0xFF */
			b->p += 2;
		} else {
			b->marker = b->past = 1;
		}
		b->acc = byte;
		b->n = 8;
	}
	b->n--;
	return (int)(b->acc >> b->n) & 1;
}

static int dc_getbits(dc_bits *b, int s)
{
	int r = 0;
	while (s-- > 0)
		r = r << 1 | dc_bit(b);
	return r;
}

/* The symbol of the next code, -1 for a code the table lacks. */
static int dc_decode(dc_bits *b, const dc_huff *t)
{
	int32_t code = dc_bit(b);
	for (int l = 1; l <= 16; l++) {
		if (code <= t->maxcode[l])
			return t->val[t->valptr[l] + code - t->mincode[l]];
		code = code << 1 | dc_bit(b);
	}
	return -1;
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

/* DHT: every table of the segment; the DC ones are kept, the AC ones
 * only checked and noted (an AC scan names one, see dc_sos).  As
 * libjpeg (jdhuff.c), more than 256 symbols, a code that does not fit
 * its length, or a DC symbol above 15 is a bad table. */
static int dc_dht(dc_jpeg *j, const unsigned char *s, size_t n)
{
	while (n) {
		unsigned tc, th, total = 0;
		int32_t code = 0;
		int k = 0, maxlen = 0;
		dc_huff ac, *t;
		if (n < 17)
			return DC_NO;
		tc = s[0] >> 4;
		th = s[0] & 15;
		if (tc > 1 || th > 3)
			return DC_NO;
		for (int l = 1; l <= 16; l++) {
			total += s[l];
			if (s[l])
				maxlen = l;
		}
		if (total > 256 || n < 17 + total)
			return DC_NO;
		t = tc == 0 ? &j->ht[th] : &ac;
		for (int l = 1; l <= 16; l++) {
			t->valptr[l] = k;
			t->mincode[l] = code;
			code += s[l];
			k += s[l];
			if (l <= maxlen && code >= (int32_t)1 << l)
				return DC_NO;
			t->maxcode[l] = s[l] ? code - 1 : -1;
			code <<= 1;
		}
		if (tc == 0) {
			for (unsigned i = 0; i < total; i++)
				if ((t->val[i] = s[17 + i]) > 15)
					return DC_NO;
			t->defined = 1;
		} else {
			j->acdef[th] = 1;
		}
		s += 17 + total;
		n -= 17 + total;
	}
	return DC_OK;
}

/* DQT: the first (DC) entry of each table, 8 or 16 bits. */
static int dc_dqt(dc_jpeg *j, const unsigned char *s, size_t n)
{
	while (n) {
		unsigned pq = s[0] >> 4, tq = s[0] & 15;
		size_t sz = pq ? 129 : 65;
		if (pq > 1 || tq > 3 || n < sz)
			return DC_NO;
		j->q0[tq] = pq ? (int)be16(s + 1) : s[1];
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

/* SOF2: the frame, the sampling factors we take, and the DC arrays. */
static int dc_sof(dc_jpeg *j, const unsigned char *s, size_t n,
                  const char *name, const siam_image_limits *lim,
                  siam_error *err, int *rc)
{
	if (j->sof || n < 6 || s[0] != 8)
		return DC_NO;
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
		c->dc = siam_xcalloc((size_t)c->pw * (size_t)c->ph,
		                     sizeof *c->dc);
		if (!c->dc) {
			*rc = siam_errorf(err, SIAM_ENOMEM,
			                  "%s: out of memory", name);
			return DC_NO;
		}
	}
	j->sof = 1;
	return DC_OK;
}

/* RSTm after an interval: the bits left in the byte are padding, fill
 * bytes may come before the marker. */
static int dc_restart(dc_bits *b, int m)
{
	const unsigned char *p = b->p;
	b->n = 0;
	while (p + 1 < b->end && p[0] == 0xff && p[1] == 0xff)
		p++;
	if (p + 1 >= b->end)
		return DC_EOF;
	if (p[0] != 0xff || p[1] != 0xd0 + m)
		return DC_NO;
	b->p = p + 2;
	b->marker = 0;
	return DC_OK;
}

/* One block of a DC scan: first (ah == 0) or refinement. */
static int dc_block(dc_comp *c, int bx, int by, dc_bits *b, const dc_huff *ht,
                    int ah, int al)
{
	uint16_t *v = (uint16_t *)&c->dc[(size_t)by * c->pw + bx];
	if (ah) {
		if (dc_bit(b))
			*v |= (uint16_t)(1u << al);
		return DC_OK;
	}
	int s = dc_decode(b, &ht[c->td]), diff = 0;
	if (s < 0)
		return DC_NO;
	if (s) {
		diff = dc_getbits(b, s);
		if (diff < 1 << (s - 1))
			diff -= (1 << s) - 1;
	}
	/* libjpeg refuses a prediction that overflows an int. */
	if ((long long)c->pred + diff > INT32_MAX ||
	    (long long)c->pred + diff < INT32_MIN)
		return DC_NO;
	c->pred += diff;
	/* As libjpeg: the shifted value in a 16-bit coefficient. */
	*v = (uint16_t)((uint32_t)c->pred << al);
	return DC_OK;
}

/* The entropy-coded data of a DC scan of the ns components sc[] from
 * d[*pos]; *pos ends at the marker after it. */
static int dc_scan(dc_jpeg *j, dc_comp **sc, int ns, int ah, int al,
                   const unsigned char *d, size_t len, size_t *pos)
{
	dc_bits b = { d + *pos, d + len, 0, 0, 0, 0, 0 };
	int mx, my, nx, ny, left = j->ri, rst = 0, rc;

	if (ns == 1) { /* one block an MCU, only the picture's blocks */
		nx = sc[0]->bw;
		ny = sc[0]->bh;
	} else {
		nx = j->mcux;
		ny = j->mcuy;
	}
	for (int k = 0; k < ns; k++)
		sc[k]->pred = 0;
	for (my = 0; my < ny; my++)
		for (mx = 0; mx < nx; mx++) {
			if (j->ri && !left) {
				if ((rc = dc_restart(&b, rst)))
					return rc;
				rst = (rst + 1) & 7;
				left = j->ri;
				for (int k = 0; k < ns; k++)
					sc[k]->pred = 0;
			}
			left--;
			for (int k = 0; k < ns; k++) {
				dc_comp *c = sc[k];
				int bh = ns == 1 ? 1 : c->v, bw = ns == 1 ? 1 : c->h;
				for (int y = 0; y < bh; y++)
					for (int x = 0; x < bw; x++)
						if ((rc = dc_block(c, mx * bw + x,
						                   my * bh + y, &b,
						                   j->ht, ah, al)))
							return rc;
			}
			/* Stop at the first MCU read past the data: no
			 * more work than the file has bits. */
			if (b.past)
				return b.eof ? DC_EOF : DC_NO;
		}
	*pos = dc_next_marker(d, len, (size_t)(b.p - d));
	return DC_OK;
}

/* SOS: the scan header, then its data, decoded (DC) or stepped over
 * (AC).  *pos is past the header; it ends at the next marker. */
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
		 * scan; a later DQT does not change it. */
		if (!sc[k]->latched) {
			if (!j->qdef[sc[k]->tq])
				return DC_NO;
			sc[k]->q0 = j->q0[sc[k]->tq];
			sc[k]->latched = 1;
		}
	}
	ss = s[1 + 2 * ns];
	se = s[2 + 2 * ns];
	ah = s[3 + 2 * ns] >> 4;
	al = s[3 + 2 * ns] & 15;
	if (al > 13)
		return DC_NO;
	if (ss > 0) { /* AC: one component, its data stepped over */
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
		            !j->ht[sc[k]->td].defined))
			return DC_NO; /* sent twice, or no table */
	}
	int rc = dc_scan(j, sc, ns, ah, al, d, len, pos);
	if (rc)
		return rc;
	for (int k = 0; k < ns; k++)
		sc[k]->al = al;
	return DC_OK;
}

/* libjpeg's 1x1 IDCT (jidctred.c): DESCALE(DC * q0, 3), then its
 * range-limit table, + 128 and clamped for -512 .. 511.  Beyond that
 * (only a crafted DQT gets there: an 8-bit picture's values are within
 * -128 .. 127) its table is indexed through RANGE_MASK and wraps, and
 * its quantizer is a short (ISLOW_MULT_TYPE, MULTIPLIER in a
 * libjpeg-turbo built WITH_SIMD, as distributions build it: 32769 is
 * -32767); both are copied, so the pixels are libjpeg's whatever the
 * file.  (A build without SIMD multiplies in int: a DC quantizer above
 * 32767, from a 16-bit DQT, is the one case that would differ.) */
static int dc_sample(const dc_comp *c, int bx, int by)
{
	int q = c->q0 > 32767 ? c->q0 - 65536 : c->q0;
	int32_t v = (int32_t)c->dc[(size_t)by * c->pw + bx] * q;
	unsigned i = (unsigned)((v + 4) >> 3) & 1023; /* RANGE_MASK */
	return i < 128 ? (int)i + 128 : i < 512 ? 255 : i < 896 ? 0 :
	       (int)i - 896;
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

static int dc_output(const dc_jpeg *j, siam_image *out, const char *name,
                     siam_error *err)
{
	int w = ceil_div(j->w, 8), h = ceil_div(j->h, 8), rc;
	if ((rc = img_alloc(out, w, h, j->nc, name, err)))
		return rc;
	out->full_w = j->w;
	out->full_h = j->h;
	for (int y = 0; y < h; y++) {
		unsigned char *o = out->px + (size_t)y * w * j->nc;
		for (int x = 0; x < w; x++)
			if (j->nc == 1)
				o[x] = (unsigned char)dc_sample(&j->c[0], x, y);
			else
				dc_rgb(o + 3 * x, dc_sample(&j->c[0], x, y),
				       dc_sample(&j->c[1], x / j->rx, y / j->ry),
				       dc_sample(&j->c[2], x / j->rx, y / j->ry));
	}
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
		case 0xc2:
			r = dc_sof(j, s, n, name, lim, err, rc);
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
	for (int i = 0; i < DC_MAXC; i++)
		free(j->c[i].dc);
	free(j);
	return rc;
}
