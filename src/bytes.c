/*
 * bytes.c -- growable byte buffers and little-endian fields (see
 * bytes.h): what the model file and the training checkpoint are
 * written with and read back by.
 */
#include "bytes.h"

#include <string.h>

/* Room for n more bytes; 0, or -1 with fail set. */
static int reserve(bytes_out *b, size_t n)
{
	if (b->fail)
		return -1;
	if (n <= b->cap - b->len)
		return 0;
	if (n > (size_t)-1 / 2 - b->len) {
		b->fail = 1;
		return -1;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	unsigned char *p = realloc(b->p, cap);
	if (!p) {
		b->fail = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void bytes_put(bytes_out *b, const void *src, size_t n)
{
	/* n == 0: src may be NULL (a model without metadata). */
	if (n == 0 || reserve(b, n))
		return;
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void le_store32(unsigned char *c, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		c[i] = (unsigned char)(v >> (8 * i));
}

void bytes_put_u32(bytes_out *b, uint32_t v)
{
	unsigned char c[4];
	le_store32(c, v);
	bytes_put(b, c, 4);
}

void bytes_put_u64(bytes_out *b, uint64_t v)
{
	bytes_put_u32(b, (uint32_t)v);
	bytes_put_u32(b, (uint32_t)(v >> 32));
}

void bytes_put_f32(bytes_out *b, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	bytes_put_u32(b, u);
}

void bytes_put_f64(bytes_out *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	bytes_put_u64(b, u);
}

void bytes_put_f32s(bytes_out *b, const float *v, size_t n)
{
	/* Millions of weights: one reservation, then a plain loop. */
	if (n > (size_t)-1 / 4 || reserve(b, 4 * n)) {
		b->fail = 1;
		return;
	}
	unsigned char *c = b->p + b->len;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		le_store32(c + 4 * i, u);
	}
	b->len += 4 * n;
}

const void *bytes_get(bytes_in *b, size_t n)
{
	if (b->fail || n > b->len - b->pos) {
		b->fail = 1;
		return NULL;
	}
	const void *p = b->p + b->pos;
	b->pos += n;
	return p;
}

uint32_t bytes_get_u32(bytes_in *b)
{
	const unsigned char *c = bytes_get(b, 4);
	return c ? bytes_le32(c) : 0;
}

uint64_t bytes_get_u64(bytes_in *b)
{
	const unsigned char *c = bytes_get(b, 8);
	return c ? bytes_le64(c) : 0;
}

float bytes_get_f32(bytes_in *b)
{
	uint32_t u = bytes_get_u32(b);
	float v;
	memcpy(&v, &u, 4);
	return v;
}

double bytes_get_f64(bytes_in *b)
{
	uint64_t u = bytes_get_u64(b);
	double v;
	memcpy(&v, &u, 8);
	return v;
}

void bytes_get_f32s(bytes_in *b, float *v, size_t n)
{
	const unsigned char *c =
		n > (size_t)-1 / 4 ? NULL : bytes_get(b, 4 * n);
	if (!c) {
		b->fail = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t u = bytes_le32(c + 4 * i);
		memcpy(&v[i], &u, 4);
	}
}
