/*
 * verify.c -- are two images the same thing?  A whole program on
 * libsiam's application API (siam.h only): load a model, verify, free.
 *
 *   cc verify.c $(pkg-config --cflags --libs siam) -o verify
 *   ./verify /usr/local/share/siam/models/mnist.siam a.png b.png
 *
 * The images are paths, "-" for standard input or http(s) URLs.  Exit
 * status as siam verify's: 0 same, 1 different, 2 error.
 */
#include <siam.h>

#include <stdio.h>

int main(int argc, char **argv)
{
	siam_model *m = NULL;
	siam_error err;
	float distance;
	int same;

	if (argc != 4) {
		fprintf(stderr, "usage: verify MODEL IMAGE1 IMAGE2\n");
		return 2;
	}
	if (siam_model_load(&m, argv[1], &err) ||
	    siam_verify(m, argv[2], argv[3], &distance, &same, &err)) {
		fprintf(stderr, "verify: %s\n", err.msg);
		siam_model_free(m);
		return 2;
	}
	printf("%s: distance %.4f, threshold %.4f\n",
	       same ? "same" : "different", distance, m->threshold);
	siam_model_free(m);
	return same ? 0 : 1;
}
