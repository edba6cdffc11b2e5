/*
 * bench_nn.c -- how fast is the network core on this machine?
 *
 * First the ceiling: cblas_sgemm on large square matrices, in GFLOP/s.
 * Then the default architecture (SIAM_DEFAULT_ARCH) at batches of 1, 64
 * and 256 images:
 *   - forward: siam_net_forward of B images, the training forward;
 *   - embed: siam_net_embed of B images (what 'siam index', verify
 *     and serve do), whose GEMMs keep one shape whatever the batch;
 *   - train: one Siamese pair step of B/2 pairs, i.e. B images through
 *     one forward, the contrastive loss, one backward and Adam (what
 *     'siam train' does).  A batch of 1 is one pair (2 images).
 * Each figure is the median of several runs, in images/s and in the
 * GFLOP/s achieved, counting 2 FLOPs per multiply-add of conv and fc
 * (siam_net_forward_flops) and a training step as 3 forwards (forward,
 * plus backward's two GEMMs per layer).
 *
 * usage: bench_nn [--threads N] [--runs R] [--size N]
 */
#include "config.h"
#include "siam_nn.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

static float *randv(size_t n, siam_rng *r)
{
	float *x = malloc(sizeof(float) * n);
	if (!x) {
		fprintf(stderr, "bench_nn: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		x[i] = 2.0f * siam_rng_uniform(r) - 1.0f;
	return x;
}

/* One training step (siam_trainer_step) on the N pairs stacked in x
 * (len floats), labels y: what a step of 'siam train' does. */
static void pair_step(siam_trainer *tr, const float *x, size_t len,
                      const float *y, int N)
{
	float *in, loss;
	siam_batch b = { .y = y };
	if (!siam_trainer_input(tr, N, &in, NULL)) {
		memcpy(in, x, len * sizeof(float));
		siam_trainer_step(tr, &b, &loss, NULL);
	}
}

int main(int argc, char **argv)
{
	int threads = 0, runs = 7, size = 1536;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_nn [--threads N] [--runs R] "
			                "[--size N]\n");
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	if (runs > 101)
		runs = 101;
	/* The ceiling is OpenBLAS's own, on its own threads, so it is
	 * measured before siam's first call: that sets OpenBLAS to one
	 * thread for good (siam shares the work out itself, blas.c). */
	if (threads > 0)
		openblas_set_num_threads(threads);
	const char *ct = getenv("OPENBLAS_CORETYPE");
	printf("OpenBLAS %s, core %s, %d threads; OPENBLAS_CORETYPE %s%s\n",
	       openblas_get_config(), openblas_get_corename(),
	       openblas_get_num_threads(), ct ? "= " : "is not set",
	       ct ? ct : "");

	siam_rng r;
	siam_rng_seed(&r, 1);
	double t[101];

	/* the ceiling */
	double peak;
	{
		int n = size;
		float *a = randv((size_t)n * n, &r), *b = randv((size_t)n * n, &r);
		float *c = randv((size_t)n * n, &r);
		for (int i = -1; i < runs; i++) { /* -1: warm-up */
			double t0 = now();
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n,
			            n, n, 1.0f, a, n, b, n, 0.0f, c, n);
			if (i >= 0)
				t[i] = now() - t0;
		}
		peak = 2.0 * n * n * n / median(t, runs) * 1e-9;
		printf("sgemm %dx%dx%d: %.1f GFLOP/s (median of %d)\n", n, n, n,
		       peak, runs);
		free(a), free(b), free(c);
	}
	if (threads > 0)
		siam_set_threads(threads);

	siam_net *net = NULL;
	siam_trainer *tr = NULL;
	siam_error err;
	siam_trainer_opts to;
	siam_trainer_opts_default(&to);
	to.lr = 1e-4f;
	if (siam_net_create(&net, SIAM_DEFAULT_ARCH, &err) ||
	    siam_trainer_create(&tr, net, &to, &err)) {
		fprintf(stderr, "bench_nn: %s\n", err.msg);
		return 1;
	}
	siam_net_init(net, 1);
	double flops = siam_net_forward_flops(net);
	size_t isz = siam_net_input_size(net);
	printf("%s\n%.2f MFLOP per image forward\n\n", SIAM_DEFAULT_ARCH,
	       flops * 1e-6);
	printf("%-6s %-22s %12s %10s %9s\n", "batch", "step", "images/s",
	       "GFLOP/s", "of sgemm");
	static const int batches[] = { 1, 64, 256 };
	double pairs256 = 0.0, gf256 = 0.0;
	for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
		int B = batches[bi];
		int N = B / 2 > 0 ? B / 2 : 1, imgs = 2 * N;
		float *x = randv((size_t)imgs * isz, &r);
		float *y = malloc(sizeof(float) * N);
		for (int i = 0; i < N; i++)
			y[i] = (float)(i % 2);
		/* reps per run so that a run lasts long enough to time */
		int reps = B == 1 ? 50 : B == 64 ? 4 : 1;

		siam_net_forward(net, x, B, &err); /* warm-up, allocation */
		for (int i = 0; i < runs; i++) {
			double t0 = now();
			for (int k = 0; k < reps; k++)
				siam_net_forward(net, x, B, &err);
			t[i] = (now() - t0) / reps;
		}
		double s = median(t, runs), gf = B * flops / s * 1e-9;
		printf("%-6d %-22s %12.0f %10.1f %8.0f%%\n", B, "forward (training)",
		       B / s, gf, 100 * gf / peak);

		/* siam_net_embed: what index, verify and serve call; its
		 * GEMMs have the same shapes whatever the batch (net.c) */
		float *e = malloc(sizeof(float) * B * siam_net_embed_dim(net));
		siam_net_embed(net, x, B, e, &err); /* warm-up */
		for (int i = 0; i < runs; i++) {
			double t0 = now();
			for (int k = 0; k < reps; k++)
				siam_net_embed(net, x, B, e, &err);
			t[i] = (now() - t0) / reps;
		}
		free(e);
		s = median(t, runs), gf = B * flops / s * 1e-9;
		printf("%-6d %-22s %12.0f %10.1f %8.0f%%\n", B, "embed (siam_net_embed)",
		       B / s, gf, 100 * gf / peak);

		pair_step(tr, x, (size_t)imgs * isz, y, N);
		for (int i = 0; i < runs; i++) {
			double t0 = now();
			for (int k = 0; k < reps; k++)
				pair_step(tr, x, (size_t)imgs * isz, y, N);
			t[i] = (now() - t0) / reps;
		}
		s = median(t, runs);
		gf = 3.0 * imgs * flops / s * 1e-9;
		char what[32];
		snprintf(what, sizeof what, "train (%d pair%s)", N,
		         N > 1 ? "s" : "");
		printf("%-6d %-22s %12.0f %10.1f %8.0f%%\n", imgs, what,
		       imgs / s, gf, 100 * gf / peak);
		if (B == 256)
			pairs256 = N / s, gf256 = gf;
		free(x), free(y);
	}
	printf("\ntraining, 128 pairs a step: %.0f pairs/s, %.1f GFLOP/s = %.0f%% "
	       "of sgemm\nreference: PyTorch on this machine trains the same "
	       "net at about 43 GFLOP/s (900 pairs/s)\n", pairs256, gf256,
	       100 * gf256 / peak);
	siam_trainer_free(tr);
	siam_net_free(net);
	return 0;
}
