/*
 * fuzz_model.c -- libFuzzer target: a model file from memory
 * (siam_model_load_mem, as the database's model blob is read).  A model
 * that loads must save to the same bytes' meaning: saved again and
 * loaded again, it gives the same file.
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

	if (siam_model_load_mem(&m, data, len, "fuzz", &err) == 0) {
		if (siam_model_save_mem(m, &a, &na, &err) ||
		    siam_model_load_mem(&m2, a, na, "again", &err) ||
		    siam_model_save_mem(m2, &b, &nb, &err) || na != nb ||
		    memcmp(a, b, na))
			abort(); /* a model that loads must round-trip */
	}
	free(a);
	free(b);
	siam_model_free(m);
	siam_model_free(m2);
	return 0;
}
