/*
 * test_embed_batch.c -- an input's embedding is the same bits whatever
 * batch it comes in: alone, in batches of 2, 3, 7, 64, 256 or 300, at
 * any position in the batch, on 1 or 2 threads, and through the views
 * (the photo model's tta=flip).  `mpirun siam index` relies on it: the
 * ranks embed different batches than one process would, and the
 * database must hold the same bits (tests/mpi.sh compares them).
 *
 * Every shipped model, on NIN inputs: the fixture digits as each
 * model preprocesses them, then noisy copies of them, so that no two
 * rows are equal.  The reference is each input embedded alone on one
 * thread; every other way must memcmp equal to it.
 */
#include "internal.h"
#include "siam_nn.h"
#include "tap.h"

#include <string.h>

#define NIN 300

static const char *const images[] = {
	"mnist7.png", "one_a.png", "one_b.jpg", "seven_a.png",
	"seven_b.jpg", "two_a.jpg", "zero_a.png",
};
#define NIMG (int)(sizeof images / sizeof *images)

static const int batches[] = { 2, 3, 7, 64, 256, NIN };
#define NBATCH (int)(sizeof batches / sizeof *batches)

/* A small seeded generator of our own: the inputs are the same on
 * every machine. */
static float noise(unsigned long long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (float)((*s >> 40) & 0xffff) / 65536.0f - 0.5f;
}

/* Embeds the NIN inputs in batches of bs, starting at input `off`
 * (wrapping round) so that each input sits at a different position than
 * with another offset; out[i] is input i's embedding.  Returns 0 or an
 * error code. */
static int embed_rotated(siam_net *net, const float *x, int bs, int off,
                         int views, float *out, siam_error *e)
{
	size_t in = siam_net_input_size(net);
	size_t D = (size_t)siam_net_embed_dim(net);
	float *bx = malloc(sizeof(float) * bs * in);
	float *be = malloc(sizeof(float) * bs * D);
	int rc = !bx || !be ? SIAM_ENOMEM : 0;
	for (int s = 0; s < NIN && !rc; s += bs) {
		int n = NIN - s < bs ? NIN - s : bs;
		for (int i = 0; i < n; i++)
			memcpy(bx + (size_t)i * in,
			       x + (size_t)((off + s + i) % NIN) * in,
			       in * sizeof(float));
		rc = siam_net_embed_views(net, bx, n, views, be, e);
		for (int i = 0; i < n && !rc; i++)
			memcpy(out + (size_t)((off + s + i) % NIN) * D,
			       be + (size_t)i * D, D * sizeof(float));
	}
	free(bx);
	free(be);
	return rc;
}

/* The first input whose embedding differs, or -1. */
static int first_diff(const float *a, const float *b, size_t D)
{
	for (int i = 0; i < NIN; i++)
		if (memcmp(a + i * D, b + i * D, D * sizeof(float)))
			return i;
	return -1;
}

static void run_model(const char *srcdir, const char *name)
{
	char path[4096];
	siam_error e = { 0, "" };
	siam_model *m = NULL;
	siam_set_threads(1);
	snprintf(path, sizeof path, "%s/models/%s", srcdir, name);
	if (!tap_ok(siam_model_load(&m, path, &e) == 0, "load %s", name)) {
		tap_diag("%s", e.msg);
		return;
	}
	siam_net *net = m->net;
	size_t in = siam_net_input_size(net);
	size_t D = (size_t)siam_net_embed_dim(net);
	float *x = malloc(sizeof(float) * NIN * in);
	float *want = malloc(sizeof(float) * NIN * D);
	float *got = malloc(sizeof(float) * NIN * D);
	int rc = 0;
	for (int i = 0; i < NIMG && !rc; i++) {
		siam_image img;
		snprintf(path, sizeof path, "%s/tests/fixtures/digits/%s",
		         srcdir, images[i]);
		rc = siam_image_load(&img, path, NULL, &e);
		if (!rc) {
			rc = siam_preprocess(x + (size_t)i * in, &img, &m->pre,
			                     &e);
			siam_image_release(&img);
		}
	}
	unsigned long long seed = 0x9e3779b97f4a7c15ULL;
	for (int i = NIMG; i < NIN && !rc; i++)
		for (size_t k = 0; k < in; k++)
			x[(size_t)i * in + k] = x[(size_t)(i % NIMG) * in + k] +
			                        0.5f * noise(&seed);
	if (!tap_ok(rc == 0, "%s: inputs", name)) {
		tap_diag("%s", e.msg);
		goto done;
	}

	/* views: 1, and the model's own (tta=flip for photo) */
	int vlist[2] = { 1, m->views }, nv = m->views == 1 ? 1 : 2;
	for (int v = 0; v < nv; v++) {
		int views = vlist[v];
		siam_set_threads(1);
		for (int i = 0; i < NIN && !rc; i++)
			rc = siam_net_embed_views(net, x + (size_t)i * in, 1,
			                          views, want + (size_t)i * D, &e);
		if (!tap_ok(rc == 0, "%s views %#x: each input alone", name,
		            views)) {
			tap_diag("%s", e.msg);
			goto done;
		}
		for (int T = 1; T <= 2; T++) {
			siam_set_threads(T);
			for (int b = 0; b < NBATCH; b++) {
				int bs = batches[b];
				/* two offsets: every input at two positions */
				for (int off = 0; off <= bs / 2 + 1; off += bs / 2 + 1) {
					memset(got, 0xff, sizeof(float) * NIN * D);
					rc = embed_rotated(net, x, bs, off, views, got,
					                   &e);
					int d = rc ? -2 : first_diff(got, want, D);
					if (!tap_ok(d == -1, "%s views %#x, %d thread%s, "
					            "batch %d from %d: the bits of each "
					            "input alone", name, views, T,
					            T > 1 ? "s" : "", bs, off)) {
						if (rc)
							tap_diag("%s", e.msg);
						else
							tap_diag("input %d: %.9g, alone %.9g",
							         d, got[d * D], want[d * D]);
						rc = 0;
					}
				}
			}
		}
	}

	/* siam_model_embed_image (what verify, query, siam_embed() and
	 * serve call) on an image equals its row in a batch */
	siam_set_threads(2);
	float *one = malloc(sizeof(float) * D);
	float *all = malloc(sizeof(float) * NIMG * D);
	rc = siam_net_embed_views(net, x, NIMG, m->views, all, &e);
	int same = rc == 0;
	for (int i = 0; i < NIMG && same; i++) {
		siam_image img;
		snprintf(path, sizeof path, "%s/tests/fixtures/digits/%s",
		         srcdir, images[i]);
		if (siam_image_load(&img, path, NULL, &e)) {
			same = 0;
			break;
		}
		same = siam_model_embed_image(m, &img, one, &e) == 0 &&
		       !memcmp(one, all + i * D, D * sizeof(float));
		siam_image_release(&img);
	}
	tap_ok(same, "%s: siam_model_embed_image gives an image's bits in a "
	       "batch of %d", name, NIMG);
	free(one);
	free(all);
done:
	free(x);
	free(want);
	free(got);
	siam_model_free(m);
}

int main(void)
{
	const char *srcdir = getenv("SIAM_SRCDIR");
	if (!srcdir)
		srcdir = ".";
	run_model(srcdir, "mnist.siam");
	run_model(srcdir, "mnist-0-4.siam");
	run_model(srcdir, "fashion.siam");
	run_model(srcdir, "photo.siam");
	return tap_done();
}
