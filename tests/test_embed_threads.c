/*
 * test_embed_threads.c -- one loaded model shared by several threads:
 * four threads embed every fixture image at once, one by one through
 * siam_model_embed_image and as one batch through siam_net_embed (large
 * enough for the conv layers to run on the pool's threads), and get the
 * same bits as the same embeddings made serially.  Also: the thread
 * count does not change an embedding (OpenBLAS stays at one thread, and
 * siam's own threads split only whole samples).
 */
#include "internal.h"
#include "siam_nn.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>

#define NTHREADS 4
#define BATCH 48 /* conv chunks >= 2 for the shipped nets */

static const char *const images[] = {
	"mnist7.png", "one_a.png", "one_b.jpg", "seven_a.png",
	"seven_b.jpg", "two_a.jpg", "zero_a.png",
};
#define NIMG (int)(sizeof images / sizeof *images)

typedef struct shared {
	siam_model *m;
	siam_image img[NIMG];
	const float *batch;  /* (BATCH, input_size) */
	int D;
	float *want_one;     /* (NIMG, D) serial siam_model_embed_image */
	float *want_batch;   /* (BATCH, D) serial siam_net_embed */
} shared;

typedef struct result {
	const shared *s;
	int rounds;
	int same_one, same_batch, rc;
} result;

static int embed_all(const shared *s, float *one, float *batch,
                     siam_error *err)
{
	int rc = 0;
	for (int i = 0; i < NIMG && !rc; i++)
		rc = siam_model_embed_image(s->m, &s->img[i],
		                            one + (size_t)i * s->D, err);
	if (!rc)
		rc = siam_net_embed(s->m->net, s->batch, BATCH, batch, err);
	return rc;
}

static void *thread_main(void *arg)
{
	result *r = arg;
	const shared *s = r->s;
	siam_error e = { 0, "" };
	float *one = malloc(sizeof(float) * NIMG * s->D);
	float *batch = malloc(sizeof(float) * BATCH * s->D);
	r->same_one = r->same_batch = 1;
	for (int k = 0; k < r->rounds && !r->rc; k++) {
		memset(one, 0, sizeof(float) * NIMG * s->D);
		memset(batch, 0, sizeof(float) * BATCH * s->D);
		r->rc = embed_all(s, one, batch, &e);
		r->same_one &= !memcmp(one, s->want_one,
		                       sizeof(float) * NIMG * s->D);
		r->same_batch &= !memcmp(batch, s->want_batch,
		                         sizeof(float) * BATCH * s->D);
	}
	free(one);
	free(batch);
	return NULL;
}

static void run_model(const char *srcdir, const char *name, int threads)
{
	char path[4096];
	siam_error e = { 0, "" };
	shared s;
	memset(&s, 0, sizeof s);
	siam_set_threads(threads);
	snprintf(path, sizeof path, "%s/models/%s", srcdir, name);
	if (!tap_ok(siam_model_load(&s.m, path, &e) == 0, "load %s", name)) {
		tap_diag("%s", e.msg);
		return;
	}
	s.D = siam_net_embed_dim(s.m->net);
	size_t in = siam_net_input_size(s.m->net);
	float *batch = malloc(sizeof(float) * BATCH * in);
	int rc = 0;
	for (int i = 0; i < NIMG && !rc; i++) {
		snprintf(path, sizeof path, "%s/tests/fixtures/digits/%s",
		         srcdir, images[i]);
		rc = siam_image_load(&s.img[i], path, NULL, &e);
	}
	/* The batch: the images' inputs, each repeated with a small
	 * change so that no two rows are equal. */
	for (int i = 0; i < NIMG && !rc; i++)
		rc = siam_preprocess(batch + (size_t)i * in, &s.img[i],
		                     &s.m->pre, &e);
	for (int i = NIMG; i < BATCH; i++)
		for (size_t k = 0; k < in; k++)
			batch[(size_t)i * in + k] =
				batch[(size_t)(i % NIMG) * in + k] +
				0.01f * (float)(i / NIMG);
	s.batch = batch;
	s.want_one = malloc(sizeof(float) * NIMG * s.D);
	s.want_batch = malloc(sizeof(float) * BATCH * s.D);
	if (!rc)
		rc = embed_all(&s, s.want_one, s.want_batch, &e);
	if (!tap_ok(rc == 0, "%s: serial embeddings", name))
		tap_diag("%s", e.msg);

	pthread_t th[NTHREADS];
	result r[NTHREADS];
	for (int t = 0; t < NTHREADS; t++) {
		memset(&r[t], 0, sizeof r[t]);
		r[t].s = &s;
		r[t].rounds = 3;
		pthread_create(&th[t], NULL, thread_main, &r[t]);
	}
	int ok_rc = 1, ok_one = 1, ok_batch = 1;
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		ok_rc &= r[t].rc == 0;
		ok_one &= r[t].same_one;
		ok_batch &= r[t].same_batch;
	}
	tap_ok(ok_rc, "%s, %d threads of siam: %d callers at once succeed",
	       name, threads, NTHREADS);
	tap_ok(ok_one, "%s, %d threads: %d callers of siam_model_embed_image "
	       "on one model get the serial bits", name, threads, NTHREADS);
	tap_ok(ok_batch, "%s, %d threads: %d callers of siam_net_embed (batch "
	       "of %d) on one model get the serial bits", name, threads,
	       NTHREADS, BATCH);

	/* The thread count does not change an embedding. */
	float *other = malloc(sizeof(float) * BATCH * s.D);
	siam_set_threads(threads == 1 ? 3 : 1);
	rc = siam_net_embed(s.m->net, batch, BATCH, other, &e);
	tap_ok(rc == 0 && !memcmp(other, s.want_batch,
	                          sizeof(float) * BATCH * s.D),
	       "%s: the same bits with %d threads as with %d", name,
	       threads == 1 ? 3 : 1, threads);
	free(other);

	for (int i = 0; i < NIMG; i++)
		siam_image_release(&s.img[i]);
	free(batch);
	free(s.want_one);
	free(s.want_batch);
	siam_model_free(s.m);
}

int main(void)
{
	const char *srcdir = getenv("SIAM_SRCDIR");
	if (!srcdir)
		srcdir = ".";
	run_model(srcdir, "mnist.siam", 2);
	run_model(srcdir, "mnist-0-4.siam", 1);
	run_model(srcdir, "fashion.siam", 3);
	return tap_done();
}
