/*
 * run.h -- the state of one siam_train run, shared by the files that
 * make up the training loop; private to libsiam.
 *
 *   train.c     the loop: options, initialisation, epochs of steps
 *   validate.c  the training and validation pools, validation every
 *               epoch and the weights of the best epoch
 *   ckpt.c      the checkpoint file: a run saved mid-way and resumed
 *   meta.c      the JSON record of the run stored in the model
 *   par.c       data parallel: the ranks of an mpirun run
 */
#ifndef SIAM_TRAIN_RUN_H
#define SIAM_TRAIN_RUN_H

#include "internal.h"
#include "train/copies.h"
#include "train/glyph.h"

/* Seed tags: one per random stream of a run (see siam_train_seed). */
enum { TAG_SPLIT = 1, TAG_PAIRS, TAG_AUG, TAG_VAL, TAG_VALAUG, TAG_INIT };

typedef struct epoch_rec {
	double loss, val_acc, val_auc;
	float val_thr;
} epoch_rec;

typedef struct train_run {
	const siam_train_opts *o;
	const siam_data *d;
	siam_net *net;
	siam_net *vnet;    /* a copy of net for validation, see siam_train */
	size_t np, in;     /* parameters, floats per input */
	int D;
	siam_trainer *trainer;
	float *m, *v;      /* Adam's moments: the trainer's */
	float *ema;        /* o->ema > 0: the trainer's moving average */
	float *best;       /* weights of the best epoch */
	/* The images: a training pool and a validation pool. */
	int *train, ntrain, *val, nval;
	siam_sampler *sampler;
	/* Validation pairs and the row of each validation item. */
	int *va, *vb;
	unsigned char *vsame;
	size_t nvp;
	int *vrow;         /* d->n entries: row of an item in the val pool */
	float *vemb, *vemb2, *vdist;
	/* Position and history */
	int epoch;         /* 0-based epoch in progress */
	long step;         /* steps done in it */
	double loss_sum;   /* sum of this epoch's step losses */
	int best_epoch;    /* 1-based; 0: none yet */
	siam_verif best_val;
	epoch_rec *rec;    /* o->epochs records */
	/* Step buffers */
	float *y, *tmp;
	int *ia, *ib, *ic; /* this epoch's pairs or triplets */
	long npairs, steps;
	int unlabelled;
	int ninst;         /* instance triplets at the end of each batch */
	glyph_set glyphs;  /* the epoch's glyphs when o->glyphs > 0 */
	float *tmp2;       /* a glyph's second half */
	int *ids;          /* supcon: what each of a step's 2N inputs shows */
	int *groups;       /* unlabelled: d->n leaders of the groups of
	                    * copies (copies.c), or NULL */
	int nmerged;       /* items in an earlier item's group */
} train_run;

/* validate.c */

/* Splits the chosen classes' items into r->train and r->val. */
SIAM_HIDDEN int train_split_pools(train_run *r, siam_error *err);
/* Draws the fixed validation pairs and sizes validation's buffers. */
SIAM_HIDDEN int train_make_val_pairs(train_run *r, siam_error *err);
/* The weights validation measures and the model keeps: the moving
 * average when the run keeps one. */
SIAM_HIDDEN const float *train_kept_weights(train_run *r);
/* Measures the kept weights on the validation pairs. */
SIAM_HIDDEN int train_validate(train_run *r, siam_verif *out,
                               siam_error *err);
/* Validates the epoch just trained, records it in r->rec and keeps its
 * weights in r->best if it is the best so far. */
SIAM_HIDDEN int train_validate_epoch(train_run *r, siam_error *err);

/* ckpt.c */

/* Saves r (and m's preprocessing and current weights) to
 * r->o->checkpoint, whole or not at all. */
SIAM_HIDDEN int train_ckpt_write(train_run *r, siam_model *m,
                                 siam_error *err);
/* Restores r's position, history, optimiser state and weights (and m's
 * preprocessing) from r->o->resume; the run must be the same one. */
SIAM_HIDDEN int train_ckpt_read(train_run *r, siam_model *m,
                                siam_error *err);

/* par.c: all no-ops (rank 0 of 1) without o->comm. */

/* Whether the options can be split over o->comm's ranks. */
SIAM_HIDDEN int train_par_check(const siam_train_opts *o, siam_error *err);
/* This rank's slice [*lo, *hi) of a batch of n. */
SIAM_HIDDEN void train_par_slice(const train_run *r, int n, int *lo,
                                 int *hi);
/* Whether this rank validates, checkpoints and keeps the model. */
SIAM_HIDDEN int train_par_rank0(const train_run *r);
/* Sets the trainer's share and gives every rank rank 0's weights and
 * optimiser state; after initialisation or a resume. */
SIAM_HIDDEN int train_par_start(train_run *r, siam_error *err);
/* *out = whether any rank asks to stop (its stop non-zero). */
SIAM_HIDDEN int train_par_stop(const train_run *r, int stop, int *out,
                               siam_error *err);

/* meta.c */

/* JSON for m->meta: how the model was made and what validation
 * measured; malloc'ed, NULL when out of memory. */
SIAM_HIDDEN char *train_meta_json(const train_run *r, int nvalidated);

#endif
