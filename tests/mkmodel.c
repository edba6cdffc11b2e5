/*
 * mkmodel.c -- a test helper, not a test: writes a randomly initialised
 * model, so that the index and query tests need no trained model file.
 *
 *   mkmodel OUT [SPEC [SEED [THRESHOLD]]]
 */
#include "siam_nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mkmodel OUT [SPEC [SEED [THRESHOLD]]]\n");
		return 2;
	}
	const char *spec = argc > 2 ? argv[2]
	                            : "in=1x28x28 conv5x4 relu pool2 fc16";
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	siam_model *m = NULL;
	siam_error err = { 0, "" };
	if (siam_model_create(&m, spec, &err)) {
		fprintf(stderr, "mkmodel: %s\n", err.msg);
		return 2;
	}
	siam_net_init(m->net, seed);
	m->threshold = argc > 4 ? strtof(argv[4], NULL) : 0.5f;
	m->meta = strdup("{\"made_by\":\"tests/mkmodel\",\"trained\":false}");
	int rc = siam_model_save(m, argv[1], &err);
	if (rc)
		fprintf(stderr, "mkmodel: %s\n", err.msg);
	siam_model_free(m);
	return rc ? 2 : 0;
}
