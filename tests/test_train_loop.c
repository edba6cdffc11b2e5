/*
 * test_train_loop.c -- siam_train on the mini MNIST fixture (600 training
 * digits): the loss falls and verification beats a bound, the same seed
 * gives the same model bytes, an interrupted run resumes to exactly the
 * uninterrupted model, and bad settings fail with clear errors.
 *
 * A small network keeps it fast under the sanitizers; the default
 * architecture's pieces are tested in test_net.
 */
#include "internal.h"
#include "siam_nn.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ARCH "in=1x28x28 conv5x8 relu pool2 conv5x16 relu pool2 fc64 relu fc32"

static char spec[1024];

typedef struct hook {
	long stop_at;      /* stop after this many steps in total (0: never) */
	int stop_epoch;    /* stop at the end of this epoch (0: never) */
	long steps;
	int epochs_seen;
	double first_loss, last_loss;
	double last_acc;
	/* When ema > 0: a moving average of the weights kept from the
	 * steps' reports, by hand, to check the trainer's against. */
	float ema;
	float *avg;
	size_t n;
} hook;

static int on_progress(void *arg, const siam_train_status *st)
{
	hook *h = arg;
	if (st->event == SIAM_TRAIN_STEP) {
		h->steps++;
		if (h->ema > 0) {
			if (!h->avg) {
				/* The initial weights are not reported: start
				 * from zero, their share decays as ema^steps. */
				h->n = st->nweights;
				h->avg = calloc(h->n, sizeof(float));
			}
			for (size_t i = 0; h->avg && i < h->n; i++)
				h->avg[i] = h->ema * h->avg[i] +
				            (1 - h->ema) * st->weights[i];
		}
		return h->stop_at && h->steps >= h->stop_at;
	}
	if (st->event == SIAM_TRAIN_EPOCH) {
		if (!h->epochs_seen++)
			h->first_loss = st->loss;
		h->last_loss = st->loss;
		h->last_acc = st->val_accuracy;
		return h->stop_epoch && st->epoch == h->stop_epoch;
	}
	return 0;
}

static void base_opts(siam_train_opts *o, hook *h)
{
	siam_train_opts_default(o);
	o->epochs = 4;
	o->batch = 32;
	o->pairs = 1024;
	o->val_split = 0.2f;
	o->seed = 3;
	o->threads = 1;
	o->progress = on_progress;
	o->progress_arg = h;
}

static siam_data *open_data(void)
{
	siam_preproc pre;
	siam_preproc_default(&pre, 1, 28, 28);
	siam_data_suggest_preproc(&pre, spec);
	siam_data *d = NULL;
	siam_error err = { 0 };
	if (siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err))
		tap_diag("open %s: %s", spec, err.msg);
	return d;
}

/* Trains a fresh model; returns its file bytes (malloc'ed) or NULL. */
static unsigned char *train(const siam_data *d, siam_train_opts *o,
                            size_t *len, int *rc, siam_model **keep)
{
	siam_model *m = NULL;
	siam_error err = { 0 };
	void *buf = NULL;
	*len = 0;
	if (siam_model_create(&m, ARCH, &err)) {
		tap_diag("model: %s", err.msg);
		*rc = err.code;
		return NULL;
	}
	m->pre.mean = 0.1307f;
	m->pre.std = 0.3081f;
	m->pre.digit = 1;
	*rc = siam_train(m, d, o, &err);
	if (*rc && *rc != SIAM_EINTR)
		tap_diag("train: %s", err.msg);
	if (!*rc)
		siam_model_save_mem(m, &buf, len, &err);
	if (keep)
		*keep = m;
	else
		siam_model_free(m);
	return buf;
}

int main(void)
{
	const char *src = getenv("SIAM_SRCDIR");
	snprintf(spec, sizeof spec, "mnist:%s/tests/fixtures/mnist-mini",
	         src ? src : "..");
	siam_data *d = open_data();
	tap_ok(d != NULL, "open the mini MNIST fixture");
	if (!d)
		return tap_done();
	tap_int(d->n, 600, "600 training digits");

	/* 1. It learns. */
	hook h = { 0 };
	siam_train_opts o;
	base_opts(&o, &h);
	size_t len1, len2;
	int rc;
	siam_model *m = NULL;
	unsigned char *b1 = train(d, &o, &len1, &rc, &m);
	tap_int(rc, 0, "train 4 epochs");
	tap_int(h.epochs_seen, 4, "4 epoch reports");
	tap_int(h.steps, 4 * 32, "32 steps an epoch");
	tap_ok(h.last_loss < 0.7 * h.first_loss,
	       "loss falls: %.4f -> %.4f", h.first_loss, h.last_loss);
	tap_ok(h.last_acc > 0.8, "validation accuracy %.3f > 0.8 (chance 0.5)",
	       h.last_acc);
	if (m) {
		tap_ok(m->threshold > 0 && m->threshold < 10,
		       "threshold calibrated: %g", (double)m->threshold);
		tap_near(m->margin, 1.0, 0, "margin stored");
		tap_ok(m->meta && strstr(m->meta, "\"best_epoch\":") &&
		       strstr(m->meta, "\"data\":\"mnist:") &&
		       strstr(m->meta, "\"seed\":3") &&
		       strstr(m->meta, "\"history\":[{\"epoch\":1"),
		       "metadata JSON describes the run");
		if (m->meta)
			tap_diag("%.300s", m->meta);

		/* The model verifies held-out test digits. */
		siam_preproc pre = m->pre;
		siam_data *t = NULL;
		siam_error err = { 0 };
		siam_data_open(&t, spec, SIAM_SPLIT_TEST, &pre, &err);
		if (t) {
			int D = siam_net_embed_dim(m->net);
			float *e = malloc((size_t)t->n * D * sizeof(float));
			int *items = malloc((size_t)t->n * sizeof(int)), *pa,
			    *pb;
			unsigned char *same;
			size_t np;
			for (int i = 0; i < t->n; i++)
				items[i] = i;
			siam_embed_data(m->net, t, NULL, t->n, 1, e, &err);
			siam_eval_pairs(&pa, &pb, &same, &np, t->labels, items,
			                t->n, 1, &err);
			float *dist = malloc(np * sizeof(float));
			for (size_t p = 0; p < np; p++)
				dist[p] = siam_l2_distance(e + pa[p] * D,
				                           e + pb[p] * D, D);
			siam_verif v;
			siam_verif_compute(&v, dist, same, np, m->threshold,
			                   &err);
			tap_ok(v.accuracy > 0.8 && v.auc > 0.9,
			       "test pairs: accuracy %.3f > 0.8, AUC %.3f > "
			       "0.9", v.accuracy, v.auc);
			free(e);
			free(items);
			free(pa);
			free(pb);
			free(same);
			free(dist);
			siam_data_free(t);
		}
		siam_model_free(m);
	}

	/* 2. Deterministic. */
	hook h2 = { 0 };
	base_opts(&o, &h2);
	unsigned char *b2 = train(d, &o, &len2, &rc, NULL);
	tap_ok(b1 && b2 && len1 == len2 && !memcmp(b1, b2, len1),
	       "same seed, same model bytes (%zu)", len1);
	free(b2);
	hook h3 = { 0 };
	base_opts(&o, &h3);
	o.seed = 4;
	b2 = train(d, &o, &len2, &rc, NULL);
	tap_ok(b1 && b2 && (len1 != len2 || memcmp(b1, b2, len1)),
	       "another seed, another model");
	free(b2);

	/* 3. Interrupted mid-epoch, resumed: the same model. */
	char ckpt[64];
	snprintf(ckpt, sizeof ckpt, "/tmp/siam-test-ckpt-%d", (int)getpid());
	hook hi = { .stop_at = 45 };
	base_opts(&o, &hi);
	o.checkpoint = ckpt;
	o.config = "--data\nmnist:x\n";
	b2 = train(d, &o, &len2, &rc, NULL);
	tap_int(rc, SIAM_EINTR, "stop after 45 steps: EINTR");
	tap_ok(access(ckpt, F_OK) == 0, "checkpoint written");
	char *cfg = NULL;
	siam_error err = { 0 };
	tap_int(siam_checkpoint_config(ckpt, &cfg, &err), 0,
	        "read the checkpoint's config");
	tap_ok(cfg && !strcmp(cfg, "--data\nmnist:x\n"), "config kept");
	free(cfg);
	hook hr = { 0 };
	base_opts(&o, &hr);
	o.resume = ckpt;
	b2 = train(d, &o, &len2, &rc, NULL);
	tap_int(rc, 0, "resume");
	tap_int(hr.steps, 4 * 32 - 45, "resumed at step 46");
	tap_ok(b1 && b2 && len1 == len2 && !memcmp(b1, b2, len1),
	       "resumed model = uninterrupted model, byte for byte");
	free(b2);
	/* The same checkpoint as version 1 wrote it (no moving-average
	 * field before the CRC) still resumes a run without --ema. */
	FILE *cf = fopen(ckpt, "rb");
	unsigned char *ck = malloc(1 << 24);
	size_t cn = cf && ck ? fread(ck, 1, 1 << 24, cf) : 0;
	if (cf)
		fclose(cf);
	if (cn > 20) {
		cn -= 8; /* drop the f32 decay (0) and the old CRC */
		ck[8] = 1;
		uint32_t crc = siam_crc32(0, ck, cn);
		for (int k = 0; k < 4; k++)
			ck[cn++] = (unsigned char)(crc >> (8 * k));
		cf = fopen(ckpt, "wb");
		if (cf) {
			fwrite(ck, 1, cn, cf);
			fclose(cf);
		}
	}
	free(ck);
	hook hv1 = { 0 };
	base_opts(&o, &hv1);
	o.resume = ckpt;
	b2 = train(d, &o, &len2, &rc, NULL);
	tap_int(rc, 0, "resume a version 1 checkpoint");
	tap_ok(b1 && b2 && len1 == len2 && !memcmp(b1, b2, len1),
	       "version 1 checkpoint: the same model");
	free(b2);

	/* 4. Interrupted at an epoch's end. */
	hook he = { .stop_epoch = 2 };
	base_opts(&o, &he);
	o.checkpoint = ckpt;
	train(d, &o, &len2, &rc, NULL);
	tap_int(rc, SIAM_EINTR, "stop after epoch 2");
	hook hr2 = { 0 };
	base_opts(&o, &hr2);
	o.resume = ckpt;
	b2 = train(d, &o, &len2, &rc, NULL);
	tap_int(hr2.epochs_seen, 2, "resumed for epochs 3 and 4");
	tap_ok(b1 && b2 && len1 == len2 && !memcmp(b1, b2, len1),
	       "epoch-boundary resume: the same model");
	free(b2);

	/* A damaged checkpoint is refused. */
	FILE *f = fopen(ckpt, "r+b");
	if (f) {
		fseek(f, 100, SEEK_SET);
		int ch = fgetc(f);
		fseek(f, 100, SEEK_SET);
		fputc(ch ^ 0x55, f);
		fclose(f);
	}
	hook hx = { 0 };
	base_opts(&o, &hx);
	o.resume = ckpt;
	siam_model *mx = NULL;
	siam_model_create(&mx, ARCH, &err);
	tap_int(siam_train(mx, d, &o, &err), SIAM_EFORMAT,
	        "corrupt checkpoint: EFORMAT");
	tap_ok(strstr(err.msg, "checksum") != NULL, "message: %s", err.msg);
	/* A checkpoint of another run length is refused. */
	siam_model_free(mx);
	unlink(ckpt);

	/* 5. Triplets and unlabelled (augmented) data also train. */
	hook ht = { 0 };
	base_opts(&o, &ht);
	o.loss = SIAM_LOSS_TRIPLET;
	o.epochs = 3;
	free(train(d, &o, &len2, &rc, NULL));
	tap_int(rc, 0, "triplet loss trains");
	tap_ok(ht.last_acc > 0.75, "triplet: validation accuracy %.3f > 0.75",
	       ht.last_acc);

	hook hn = { 0 };
	base_opts(&o, &hn);
	o.loss = SIAM_LOSS_TRIPLET;
	o.instance = 0.25f;
	o.epochs = 2;
	siam_model *mi = NULL;
	free(train(d, &o, &len2, &rc, &mi));
	tap_int(rc, 0, "triplets with instance triplets train");
	tap_ok(mi && mi->meta &&
	       strstr(mi->meta, "\"instance\":0.25,\"instance_margin\":0.1") &&
	       strstr(mi->meta, "\"augment\":{"),
	       "instance fraction, margin and distortions in the metadata");
	tap_ok(hn.last_acc > 0.7, "instance: validation accuracy %.3f > 0.7",
	       hn.last_acc);
	siam_model_free(mi);

	/* Glyph classes (parts of two classes' images) beside the real
	 * ones; validation stays on real images only. */
	hook hg = { 0 };
	base_opts(&o, &hg);
	o.glyphs = 0.5f;
	o.augment = 1;
	o.epochs = 2;
	siam_model *mg = NULL;
	unsigned char *g1 = train(d, &o, &len1, &rc, &mg);
	tap_int(rc, 0, "glyphs: contrastive trains");
	tap_ok(mg && mg->meta && strstr(mg->meta, "\"glyphs\":0.5,"),
	       "glyph fraction in the metadata");
	tap_ok(hg.last_acc > 0.65, "glyphs: validation accuracy %.3f > 0.65",
	       hg.last_acc);
	siam_model_free(mg);
	unsigned char *g2 = train(d, &o, &len2, &rc, NULL);
	tap_ok(g1 && g2 && len1 == len2 && !memcmp(g1, g2, len1),
	       "glyphs: the same seed gives the same model file");
	free(g1);
	free(g2);
	hook hgt = { 0 };
	base_opts(&o, &hgt);
	o.glyphs = 0.5f;
	o.loss = SIAM_LOSS_TRIPLET;
	o.epochs = 2;
	free(train(d, &o, &len2, &rc, NULL));
	tap_int(rc, 0, "glyphs: triplet trains");
	tap_ok(hgt.last_acc > 0.7,
	       "glyphs, triplet: validation accuracy %.3f > 0.7", hgt.last_acc);

	/* A moving average of the weights: the model keeps the average,
	 * equal to one kept by hand from every step's weights (the initial
	 * weights' share, 0.5^32, is below float precision), not the last
	 * step's weights. */
	hook hm = { .ema = 0.5f };
	base_opts(&o, &hm);
	o.ema = 0.5f;
	o.epochs = 1;
	o.val_split = 0;
	siam_model *mm = NULL;
	free(train(d, &o, &len2, &rc, &mm));
	tap_int(rc, 0, "--ema trains");
	if (mm && hm.avg) {
		const float *w = siam_net_params(mm->net);
		double maxd = 0, lastd = 0;
		siam_model *ml = NULL;
		hook hl = { 0 };
		base_opts(&o, &hl);
		o.epochs = 1;
		o.val_split = 0;
		free(train(d, &o, &len2, &rc, &ml));
		for (size_t i = 0; i < hm.n; i++) {
			double e = fabs(w[i] - hm.avg[i]);
			maxd = e > maxd ? e : maxd;
			if (ml) {
				e = fabs(w[i] - siam_net_params(ml->net)[i]);
				lastd = e > lastd ? e : lastd;
			}
		}
		tap_ok(hm.n == siam_net_num_params(mm->net) && maxd < 1e-5,
		       "the model is the moving average (max |diff| %.2g)",
		       maxd);
		tap_ok(lastd > 1e-4 && lastd > 100 * maxd,
		       "not the last step's weights (max |diff| %.2g)", lastd);
		tap_ok(mm->meta && strstr(mm->meta, "\"ema\":0.5,"),
		       "decay in the metadata");
		siam_model_free(ml);
	}
	siam_model_free(mm);
	free(hm.avg);
	/* Interrupted and resumed with an average: the same bytes. */
	hook hm1 = { 0 }, hm2 = { .stop_at = 40 }, hm3 = { 0 };
	base_opts(&o, &hm1);
	o.ema = 0.9f;
	o.epochs = 2;
	unsigned char *e1 = train(d, &o, &len1, &rc, NULL);
	base_opts(&o, &hm2);
	o.ema = 0.9f;
	o.epochs = 2;
	o.checkpoint = ckpt;
	free(train(d, &o, &len2, &rc, NULL));
	tap_int(rc, SIAM_EINTR, "--ema: stopped after 40 steps");
	base_opts(&o, &hm3);
	o.ema = 0.9f;
	o.epochs = 2;
	o.resume = ckpt;
	unsigned char *e2 = train(d, &o, &len2, &rc, NULL);
	tap_ok(e1 && e2 && len1 == len2 && !memcmp(e1, e2, len1),
	       "--ema: resumed model = uninterrupted model");
	free(e1);
	free(e2);
	base_opts(&o, &hm3);
	o.epochs = 2;
	o.resume = ckpt;
	train(d, &o, &len2, &rc, NULL);
	tap_int(rc, SIAM_EINVAL, "an --ema checkpoint resumed without --ema: "
	        "EINVAL");
	unlink(ckpt);

	/* supcon needs unit-length embeddings, then learns with glyphs. */
	hook hs = { 0 };
	base_opts(&o, &hs);
	o.loss = SIAM_LOSS_SUPCON;
	siam_model *ms = NULL;
	siam_model_create(&ms, ARCH, &err);
	tap_int(siam_train(ms, d, &o, &err), SIAM_EINVAL,
	        "supcon without l2 at the end: EINVAL");
	tap_ok(strstr(err.msg, "l2") != NULL, "message: %s", err.msg);
	siam_model_free(ms);
	ms = NULL;
	siam_model_create(&ms, ARCH " l2", &err);
	o.glyphs = 0.5f;
	o.epochs = 3;
	tap_int(siam_train(ms, d, &o, &err), 0, "supcon with glyphs trains");
	tap_ok(hs.last_loss < hs.first_loss,
	       "supcon: the loss falls (%.3f -> %.3f)", hs.first_loss,
	       hs.last_loss);
	tap_ok(hs.last_acc > 0.75, "supcon: validation accuracy %.3f > 0.75",
	       hs.last_acc);
	tap_ok(ms->meta && strstr(ms->meta, "\"loss\":\"supcon\"") &&
	       strstr(ms->meta, "\"temperature\":0.1"),
	       "loss and temperature in the metadata");
	siam_model_free(ms);

	hook ha = { 0 };
	base_opts(&o, &ha);
	o.augment = 1;
	o.epochs = 2;
	free(train(d, &o, &len2, &rc, NULL));
	tap_int(rc, 0, "labelled with augmentation trains");

	/* Unlabelled: the images in memory without labels. */
	float *x = malloc((size_t)200 * 784 * sizeof(float));
	for (int i = 0; i < 200; i++)
		d->load(d, i, x + (size_t)i * 784, &err);
	siam_data *u = NULL;
	tap_int(siam_data_from_memory(&u, x, NULL, 200, 0, 1, 28, 28, &err),
	        0, "unlabelled data");
	free(x);
	siam_model *mgu = NULL;
	siam_model_create(&mgu, ARCH, &err);
	hook hgu = { 0 };
	base_opts(&o, &hgu);
	o.glyphs = 0.5f;
	tap_int(siam_train(mgu, u, &o, &err), SIAM_EINVAL,
	        "glyphs of unlabelled data: EINVAL");
	tap_ok(strstr(err.msg, "labelled") != NULL, "message: %s", err.msg);
	siam_model_free(mgu);
	hook hu = { 0 };
	base_opts(&o, &hu);
	o.epochs = 2;
	o.pairs = 256;
	free(train(u, &o, &len2, &rc, NULL));
	tap_int(rc, 0, "unlabelled data trains (positives by augmentation)");
	tap_ok(hu.last_acc > 0.6,
	       "unlabelled: distortion-vs-other accuracy %.3f > 0.6",
	       hu.last_acc);
	siam_data_free(u);

	/* 6. Errors. */
	siam_model *me = NULL;
	siam_model_create(&me, ARCH, &err);
	hook hz = { 0 };
	base_opts(&o, &hz);
	o.epochs = 0;
	tap_int(siam_train(me, d, &o, &err), SIAM_EINVAL, "0 epochs: EINVAL");
	base_opts(&o, &hz);
	o.classes = "3";
	tap_int(siam_train(me, d, &o, &err), SIAM_EINVAL,
	        "one class: EINVAL");
	tap_ok(strstr(err.msg, "one class") != NULL, "message: %s", err.msg);
	base_opts(&o, &hz);
	o.glyphs = 1.5f;
	tap_int(siam_train(me, d, &o, &err), SIAM_EINVAL,
	        "glyph fraction 1.5: EINVAL");
	base_opts(&o, &hz);
	o.glyphs = 0.5f;
	o.loss = SIAM_LOSS_TRIPLET;
	o.instance = 0.25f;
	tap_int(siam_train(me, d, &o, &err), SIAM_EINVAL,
	        "glyphs with instance triplets: EINVAL");
	base_opts(&o, &hz);
	o.classes = "3-11";
	tap_int(siam_train(me, d, &o, &err), SIAM_EINVAL,
	        "bad class list: EINVAL");
	base_opts(&o, &hz);
	o.resume = "/nonexistent/ckpt";
	tap_int(siam_train(me, d, &o, &err), SIAM_EIO,
	        "missing checkpoint: EIO");
	siam_model_free(me);
	siam_model_create(&me, "in=1x16x16 fc8", &err);
	base_opts(&o, &hz);
	tap_int(siam_train(me, d, &o, &err), SIAM_EINVAL,
	        "input shape mismatch: EINVAL");
	tap_ok(strstr(err.msg, "1x28x28") && strstr(err.msg, "1x16x16"),
	       "message: %s", err.msg);
	siam_model_free(me);

	/* --classes: training on 0-4 only touches those digits. */
	hook hc = { 0 };
	base_opts(&o, &hc);
	o.classes = "0-4";
	o.epochs = 1;
	siam_model *mc = NULL;
	free(train(d, &o, &len2, &rc, &mc));
	tap_int(rc, 0, "train on classes 0-4");
	tap_ok(mc && mc->meta && strstr(mc->meta, "\"classes\":\"0-4\""),
	       "classes in the metadata");
	siam_model_free(mc);

	free(b1);
	siam_data_free(d);
	return tap_done();
}
