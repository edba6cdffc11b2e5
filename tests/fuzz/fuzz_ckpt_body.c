/*
 * fuzz_ckpt_body.c -- libFuzzer target: the whole training checkpoint as
 * siam train --resume reads it (train_ckpt_read): position, history,
 * the model inside, Adam's moments, the best weights and the moving
 * average, into a run of a small network (in=1x8x8 fc4 l2, 2 epochs,
 * 10 images).  fuzz_ckpt covers the envelope and the configuration.
 * As there, the harness appends the right CRC-32 so that mutations reach
 * the fields behind it.  The first byte picks the run: odd, one with a
 * moving average (--ema 0.5), so both layouts are read.
 *
 * The seed, corpus/fuzz_ckpt_body/run (a checkpoint of that run without
 * its CRC), is written by this target itself:
 *   SIAM_FUZZ_WRITE_SEED=FILE fuzz_ckpt_body
 */
#include "fuzz_file.h"
#include "siam.h"
#include "siam_nn.h"
#include "train/run.h"

#include <stdint.h>
#include <string.h>

typedef struct run {
	siam_model *m;
	siam_trainer *t;
	siam_train_opts o;
	siam_data d;
	epoch_rec rec[2];
	float *best;
	train_run r;
} run;

static run runs[2];

static void setup(run *x, int ema)
{
	siam_error err = { 0, "" };
	siam_trainer_opts to;
	if (siam_model_create(&x->m, "in=1x8x8 fc4 l2", &err))
		abort();
	siam_trainer_opts_default(&to);
	to.ema = ema ? 0.5f : 0.0f;
	if (siam_trainer_create(&x->t, x->m->net, &to, &err))
		abort();
	siam_train_opts_default(&x->o);
	x->o.epochs = 2;
	x->o.ema = to.ema;
	memset(&x->d, 0, sizeof x->d);
	x->d.source = (char *)"fuzz";
	x->d.n = 10;
	train_run *r = &x->r;
	memset(r, 0, sizeof *r);
	r->o = &x->o;
	r->d = &x->d;
	r->net = x->m->net;
	r->np = siam_net_num_params(r->net);
	r->trainer = x->t;
	siam_trainer_state(x->t, &r->m, &r->v, &r->ema);
	x->best = calloc(r->np, sizeof *x->best);
	if (!x->best)
		abort();
	r->best = x->best;
	r->rec = x->rec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	siam_error err = { 0, "" };
	if (!runs[0].m) {
		setup(&runs[0], 0);
		setup(&runs[1], 1);
		const char *seed = getenv("SIAM_FUZZ_WRITE_SEED");
		if (seed) {
			runs[0].o.checkpoint = seed;
			runs[0].r.epoch = 1;
			runs[0].r.step = 3;
			runs[0].r.best_epoch = 1;
			if (train_ckpt_write(&runs[0].r, runs[0].m, &err)) {
				fprintf(stderr, "%s\n", err.msg);
				abort();
			}
			/* the harness appends the CRC: the seed goes without */
			FILE *f = fopen(seed, "r+");
			if (!f || fseek(f, 0, SEEK_END) ||
			    ftruncate(fileno(f), ftell(f) - 4))
				abort();
			fclose(f);
			exit(0);
		}
	}
	if (len < 1)
		return 0;
	run *x = &runs[data[0] & 1];
	data++;
	len--;
	unsigned char *b = malloc(len + 4);
	if (!b)
		abort();
	memcpy(b, data, len);
	uint32_t c = siam_crc32(0, data, len);
	for (int i = 0; i < 4; i++)
		b[len + i] = (unsigned char)(c >> (8 * i));
	x->o.resume = fuzz_file(b, len + 4);
	train_ckpt_read(&x->r, x->m, &err);
	free(b);
	return 0;
}
