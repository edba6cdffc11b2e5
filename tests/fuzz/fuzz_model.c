/*
 * fuzz_model.c -- libFuzzer target: a model file from memory
 * (siam_model_load_mem, as the database's model blob is read).  A model
 * that loads must save to the same bytes' meaning: saved again and
 * loaded again, it gives the same file.  The harness rewrites the last
 * four bytes with the right CRC-32 so that mutations reach the header
 * text, the spec parser and the parameters instead of dying at the
 * checksum; an input ending in four 0xff bytes is read as it is, to
 * test the checksum path too.
 */
#include "siam.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	siam_error err = { 0, "" };
	siam_model *m = NULL, *m2 = NULL;
	void *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;

	unsigned char *in = malloc(len ? len : 1);
	if (!in)
		abort();
	memcpy(in, data, len);
	if (len >= 4 && memcmp(data + len - 4, "\xff\xff\xff\xff", 4)) {
		uint32_t c = siam_crc32(0, data, len - 4);
		for (int i = 0; i < 4; i++)
			in[len - 4 + i] = (unsigned char)(c >> (8 * i));
	}
	if (siam_model_load_mem(&m, in, len, "fuzz", &err) == 0) {
		if (siam_model_save_mem(m, &a, &na, &err) ||
		    siam_model_load_mem(&m2, a, na, "again", &err) ||
		    siam_model_save_mem(m2, &b, &nb, &err) || na != nb ||
		    memcmp(a, b, na))
			abort(); /* a model that loads must round-trip */
	}
	free(in);
	free(a);
	free(b);
	siam_model_free(m);
	siam_model_free(m2);
	return 0;
}
