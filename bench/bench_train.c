/*
 * bench_train.c -- siam's side of bench/bench_train.sh: one epoch of
 * Siamese training on MNIST and the embedding of the test images, timed.
 *
 *   bench/bench_train MNIST_DIR [threads [pairs [batch]]]
 *
 * Trains the default architecture from scratch for one epoch of `pairs`
 * balanced pairs (contrastive loss, Adam, lr 1e-3, batch `batch`) through
 * siam_train -- the same loop and step (siam_trainer_step) that `siam
 * train` runs, without validation -- then embeds the 10,000 test images
 * at batch 256 and at batch 1.
 * Prints "key value" lines that bench_train.sh reads.
 */
#include "siam_nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

typedef struct timing {
	double seconds, loss;
	long pairs;
} timing;

static int on_progress(void *arg, const siam_train_status *st)
{
	timing *t = arg;
	if (st->event == SIAM_TRAIN_STEP) {
		t->seconds = st->seconds;
		t->pairs = st->pairs;
		t->loss = st->loss;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_train MNIST_DIR [threads [pairs "
		        "[batch]]]\n");
		return 2;
	}
	char spec[4096];
	snprintf(spec, sizeof spec, "mnist:%s", argv[1]);
	int threads = argc > 2 ? atoi(argv[2]) : 2;
	long pairs = argc > 3 ? atol(argv[3]) : 60000;
	int batch = argc > 4 ? atoi(argv[4]) : 64;
	siam_error err = { 0 };
	siam_model *m = NULL;
	siam_data *train = NULL, *test = NULL;
	if (siam_model_create(&m, SIAM_DEFAULT_ARCH, &err))
		goto fail;
	siam_data_suggest_preproc(&m->pre, spec);
	if (siam_data_open(&train, spec, SIAM_SPLIT_TRAIN, &m->pre, &err) ||
	    siam_data_open(&test, spec, SIAM_SPLIT_TEST, &m->pre, &err))
		goto fail;
	siam_set_threads(threads);

	timing t = { 0 };
	siam_train_opts o;
	siam_train_opts_default(&o);
	o.epochs = 1;
	o.batch = batch;
	o.pairs = pairs;
	o.threads = threads;
	o.val_split = 0; /* time the training steps alone */
	o.progress = on_progress;
	o.progress_arg = &t;
	if (siam_train(m, train, &o, &err))
		goto fail;
	/* FLOPs (2 per multiply-add) of one sample's forward pass */
	double flops = siam_net_forward_flops(m->net);
	/* forward + backward (about twice the forward) of both sides */
	double train_flops = 2.0 * 3.0 * flops;
	printf("threads %d\nbatch %d\npairs %ld\n", threads, batch, t.pairs);
	printf("train_seconds %.3f\n", t.seconds);
	printf("train_pairs_per_s %.1f\n", t.pairs / t.seconds);
	printf("train_gflops %.1f\n", t.pairs / t.seconds * train_flops * 1e-9);
	printf("train_loss %.5f\n", t.loss);

	int n = test->n, D = siam_net_embed_dim(m->net);
	size_t in = siam_net_input_size(m->net);
	float *x = malloc((size_t)n * in * sizeof(float));
	float *e = malloc((size_t)n * D * sizeof(float));
	if (!x || !e) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (test->load(test, i, x + (size_t)i * in, &err))
			goto fail;
	int bs[2] = { 256, 1 };
	for (int k = 0; k < 2; k++) {
		/* one warm-up batch, then the timed pass over all of them */
		siam_net_embed(m->net, x, bs[k], e, &err);
		double t0 = now();
		for (int i = 0; i < n; i += bs[k]) {
			int b = n - i < bs[k] ? n - i : bs[k];
			if (siam_net_embed(m->net, x + (size_t)i * in, b,
			                   e + (size_t)i * D, &err))
				goto fail;
		}
		double s = now() - t0;
		printf("embed%d_images_per_s %.1f\n", bs[k], n / s);
		if (k == 0)
			printf("embed256_gflops %.1f\n",
			       n / s * flops * 1e-9);
	}
	free(x);
	free(e);
	siam_data_free(train);
	siam_data_free(test);
	siam_model_free(m);
	return 0;
fail:
	fprintf(stderr, "bench_train: %s\n", err.msg);
	return 1;
}
