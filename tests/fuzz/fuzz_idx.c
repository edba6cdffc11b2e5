/*
 * fuzz_idx.c -- libFuzzer target: the IDX reader (MNIST's format),
 * plain and gzip.  The first byte chooses: even, the rest is the file;
 * odd, the rest is gzip-compressed first, so that the fuzzer explores
 * IDX headers inside gzip too (and raw mutations of the seed .gz files
 * explore corrupt gzip streams).
 */
#include "fuzz_file.h"
#include "siam.h"
#include "siam_nn.h"

#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* gzip (RFC 1952) of len bytes into a malloc'ed buffer. */
static unsigned char *gzip(const uint8_t *d, size_t len, size_t *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	size_t cap = deflateBound(&z, len) + 32;
	unsigned char *b = malloc(cap);
	if (!b)
		abort();
	z.next_in = (unsigned char *)d;
	z.avail_in = (uInt)len;
	z.next_out = b;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	*out = z.total_out;
	deflateEnd(&z);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	siam_error err = { 0, "" };
	siam_idx idx;
	unsigned char *z = NULL;
	const char *path;

	if (len == 0 || len > (1 << 20))
		return 0;
	if (data[0] & 1) {
		size_t n;
		z = gzip(data + 1, len - 1, &n);
		path = fuzz_file(z, n);
	} else {
		path = fuzz_file(data + 1, len - 1);
	}
	if (siam_idx_load(&idx, path, &err) == 0)
		siam_idx_release(&idx);
	free(z);
	return 0;
}
