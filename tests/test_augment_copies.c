/*
 * test_augment_copies.c -- copies already in an augment: folder
 * (src/train/copies.c): a folder with two identical images, two
 * near-identical ones (one a brighter JPEG of the other) and four
 * others ends with the copies in one class each; a pair sampler built
 * on the groups never makes two copies a negative pair; and a training
 * run records what it merged, or nothing with --copies off.
 */
#include "internal.h"
#include "siam_nn.h"
#include "train/copies.h"
#include "tap.h"

#include <math.h>
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S = 48 };
static char dir[64];

/* A smooth random picture: a few coloured blobs on a tinted ground. */
static void picture(unsigned char *px, uint64_t seed, int add)
{
	siam_rng r;
	siam_rng_seed(&r, seed);
	float bx[4], by[4], br[4], col[4][3], bg[3];
	for (int k = 0; k < 3; k++)
		bg[k] = 255 * siam_rng_uniform(&r);
	for (int b = 0; b < 4; b++) {
		bx[b] = S * siam_rng_uniform(&r);
		by[b] = S * siam_rng_uniform(&r);
		br[b] = 4 + 10 * siam_rng_uniform(&r);
		for (int k = 0; k < 3; k++)
			col[b][k] = 255 * siam_rng_uniform(&r);
	}
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++)
			for (int k = 0; k < 3; k++) {
				float v = bg[k];
				for (int b = 0; b < 4; b++) {
					float d2 = (x - bx[b]) * (x - bx[b]) +
					           (y - by[b]) * (y - by[b]);
					float t = expf(-d2 / (2 * br[b] * br[b]));
					v = v * (1 - t) + col[b][k] * t;
				}
				v += add;
				px[(y * S + x) * 3 + k] =
					(unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
}

static void save(const char *name, uint64_t seed, int add, int jpeg)
{
	unsigned char px[S * S * 3];
	char path[128];
	picture(px, seed, add);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (jpeg)
		stbi_write_jpg(path, S, S, 3, px, 85);
	else
		stbi_write_png(path, S, S, 3, px, S * 3);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/siam-copies-XXXXXX");
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp");
		return tap_done();
	}
	/* sorted order: a0 a1 b0 b1 c d e f */
	save("a0.png", 1, 0, 0);
	save("a1.png", 1, 0, 0);       /* identical to a0 */
	save("b0.png", 2, 0, 0);
	save("b1.jpg", 2, 12, 1);      /* brighter, JPEG: near-identical */
	save("c.png", 3, 0, 0);
	save("d.png", 4, 0, 0);
	save("e.png", 5, 0, 0);
	save("f.png", 6, 0, 0);
	char spec[96];
	snprintf(spec, sizeof spec, "augment:%s", dir);
	siam_preproc pre;
	siam_preproc_default(&pre, 3, 32, 32);
	siam_data *d = NULL;
	siam_error err = { 0 };
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err), 0,
	        "open the folder: %s", err.msg);
	if (!d)
		return tap_done();
	tap_int(d->n, 8, "eight images");
	int g[8], merged = -1;
	tap_int(train_copy_groups(d, 8, g, &merged, &err), 0, "groups");
	int want[8] = { 0, 0, 2, 2, 4, 5, 6, 7 };
	tap_ok(!memcmp(g, want, sizeof g), "groups %d %d %d %d %d %d %d %d: "
	       "the two pairs of copies, the rest alone", g[0], g[1], g[2],
	       g[3], g[4], g[5], g[6], g[7]);
	tap_int(merged, 2, "two images merged");
	tap_int(train_copy_groups(d, -1, g, &merged, &err), 0,
	        "groups, exact only");
	int exact[8] = { 0, 0, 2, 3, 4, 5, 6, 7 };
	tap_ok(!memcmp(g, exact, sizeof g), "exact only: the identical pair "
	       "alone merged (b1 is %d)", g[3]);
	tap_int(train_copy_groups(d, 8, g, &merged, &err), 0, "groups again");

	/* negatives drawn on the groups are never copies */
	int pool[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	siam_sampler *s = NULL;
	tap_int(siam_sampler_create(&s, g, pool, 8, &err), 0, "sampler");
	siam_rng rng;
	siam_rng_seed(&rng, 1);
	int copyneg = 0, copypos = 0;
	for (int i = 0; i < 4000; i++) {
		int a, b;
		siam_sampler_pair(s, &rng, 0, &a, &b);
		copyneg += g[a] == g[b];
		siam_sampler_pair(s, &rng, 1, &a, &b);
		copypos += a != b && g[a] == g[b];
	}
	tap_int(copyneg, 0, "4000 negative pairs: none of two copies");
	tap_ok(copypos > 0, "positives include real copies (%d)", copypos);
	siam_sampler_free(s);

	/* a run records the merge; with copies off it does not */
	const char *arch = "in=3x32x32 conv5x8 relu pool2 fc16 l2";
	for (int off = 0; off < 2; off++) {
		siam_model *m = NULL;
		tap_int(siam_model_create(&m, arch, &err), 0, "model");
		siam_train_opts o;
		siam_train_opts_default(&o);
		o.epochs = 1;
		o.batch = 4;
		o.pairs = 8;
		o.val_split = 0;
		o.loss = SIAM_LOSS_SUPCON;
		o.copies = off ? -1 : 8;
		int rc = siam_train(m, d, &o, &err);
		tap_int(rc, 0, "train, copies %s: %s", off ? "off" : "8",
		        err.msg);
		const char *rec = "\"copies\":{\"max_bits\":8,\"merged\":2}";
		tap_ok(m->meta && (strstr(m->meta, rec) != NULL) == !off,
		       "the model's record %s the merge", off ? "lacks" : "has");
		siam_model_free(m);
	}
	siam_data_free(d);
	const char *names[] = { "a0.png", "a1.png", "b0.png", "b1.jpg",
	                        "c.png", "d.png", "e.png", "f.png" };
	for (int i = 0; i < 8; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	return tap_done();
}
