/*
 * bytes.h -- byte buffers and little-endian fields: the one encoder and
 * decoder under siam's binary files (the model file, src/model.c; the
 * training checkpoint, src/train/ckpt.c) and the buffer the JSON
 * metadata is written into.  Private to libsiam.
 *
 * A bytes_out grows as it is written and remembers a failed allocation,
 * so a writer puts every field unchecked and looks at `fail` once at
 * the end.  A bytes_in never reads past its end and remembers that
 * something tried to, so a parser reads every field and checks once.
 * Floats travel as the little-endian bytes of their IEEE bits: a value
 * read back is the value written, bit for bit.
 */
#ifndef SIAM_BYTES_H
#define SIAM_BYTES_H

#include "internal.h"

#include <stdint.h>

typedef struct bytes_out {
	unsigned char *p; /* malloc'ed; the writer's owner frees it */
	size_t len, cap;
	int fail;         /* an allocation failed: p holds a prefix */
} bytes_out;

SIAM_HIDDEN void bytes_put(bytes_out *b, const void *src, size_t n);
SIAM_HIDDEN void bytes_put_u32(bytes_out *b, uint32_t v);
SIAM_HIDDEN void bytes_put_u64(bytes_out *b, uint64_t v);
SIAM_HIDDEN void bytes_put_f32(bytes_out *b, float v);
SIAM_HIDDEN void bytes_put_f64(bytes_out *b, double v);
SIAM_HIDDEN void bytes_put_f32s(bytes_out *b, const float *v, size_t n);

typedef struct bytes_in {
	const unsigned char *p;
	size_t len, pos;
	int fail;         /* a read went past the end: every later read
	                   * returns 0 (NULL for bytes_get) */
} bytes_in;

/* The next n bytes, or NULL (and fail set) if fewer are left. */
SIAM_HIDDEN const void *bytes_get(bytes_in *b, size_t n);
SIAM_HIDDEN uint32_t bytes_get_u32(bytes_in *b);
SIAM_HIDDEN uint64_t bytes_get_u64(bytes_in *b);
SIAM_HIDDEN float bytes_get_f32(bytes_in *b);
SIAM_HIDDEN double bytes_get_f64(bytes_in *b);
/* Reads n floats into v; on a short buffer v is left as it was. */
SIAM_HIDDEN void bytes_get_f32s(bytes_in *b, float *v, size_t n);

/* The little-endian u32 and u64 at p, for fixed offsets. */
static inline uint32_t bytes_le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t bytes_le64(const unsigned char *p)
{
	return bytes_le32(p) | (uint64_t)bytes_le32(p + 4) << 32;
}

#endif
