/*
 * modeldiff.c -- a test helper, not a test: how far apart the weights
 * of two model files of one architecture are, for tests/mpi_train.sh
 * (a model trained over ranks against one trained in one process).
 *
 *   modeldiff A B    prints "rel R" (|a - b| over |a|, Euclidean
 *                    norms over all the weights), "max M" (the largest
 *                    |a - b| over the largest |a|) and "threshold TA TB";
 *                    exit 2 if the files do not load or the networks
 *                    differ in size
 */
#include "siam_nn.h"

#include <math.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: modeldiff A B\n");
		return 2;
	}
	siam_model *a = NULL, *b = NULL;
	siam_error err = { 0, "" };
	int status = 2;
	if (siam_model_load(&a, argv[1], &err) ||
	    siam_model_load(&b, argv[2], &err)) {
		fprintf(stderr, "modeldiff: %s\n", err.msg);
		goto done;
	}
	size_t n = siam_net_num_params(a->net);
	if (n != siam_net_num_params(b->net)) {
		fprintf(stderr, "modeldiff: %zu parameters against %zu\n", n,
		        siam_net_num_params(b->net));
		goto done;
	}
	const float *pa = siam_net_params(a->net), *pb = siam_net_params(b->net);
	double big = 0, diff = 0, na = 0, nd = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)pa[i] - pb[i];
		big = fmax(big, fabs(pa[i]));
		diff = fmax(diff, fabs(d));
		na += (double)pa[i] * pa[i];
		nd += d * d;
	}
	printf("rel %.3g\nmax %.3g\nthreshold %.6g %.6g\n",
	       na > 0 ? sqrt(nd / na) : sqrt(nd), big > 0 ? diff / big : diff,
	       (double)a->threshold, (double)b->threshold);
	status = 0;
done:
	siam_model_free(a);
	siam_model_free(b);
	return status;
}
