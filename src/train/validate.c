/*
 * validate.c -- what a run is measured on, and the epoch it keeps.
 *
 * The chosen classes' images are split once, by a seeded shuffle, into
 * a training pool and a validation pool; fixed pairs of validation
 * images are drawn once.  After every epoch the validation images are
 * embedded (on a copy of the network, over the model's views) and the
 * pairs measured: verification accuracy at the best threshold and ROC
 * AUC.  The epoch with the best accuracy (ties: AUC) is kept, and its
 * threshold becomes the model's.
 */
#include "internal.h"
#include "train/train_internal.h"
#include "train/run.h"

#include <math.h>
#include <string.h>

/* Splits the chosen classes' items into training and validation pools. */
int train_split_pools(train_run *r, siam_error *err)
{
	const siam_data *d = r->d;
	const siam_train_opts *o = r->o;
	unsigned char *mask = NULL;
	int *pool = siam_xmalloc_n((size_t)d->n, sizeof(int)), n = 0, rc = 0;
	if (!pool)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	if (d->labels) {
		if (!(mask = malloc((size_t)d->num_classes))) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto done;
		}
		if ((rc = siam_data_parse_classes(d, o->classes, mask, err)))
			goto done;
		for (int i = 0; i < d->n; i++)
			if (mask[d->labels[i]])
				pool[n++] = i;
	} else {
		if (o->classes && *o->classes) {
			rc = siam_errorf(err, SIAM_EINVAL,
			                 "%s is unlabelled: it has no classes "
			                 "to choose", d->source);
			goto done;
		}
		for (int i = 0; i < d->n; i++)
			pool[n++] = i;
	}
	if (n < 4) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: %d images of the chosen classes; "
		                 "training needs more", d->source, n);
		goto done;
	}
	/* A seeded shuffle; the first nval images are held out. */
	siam_rng rng;
	siam_rng_seed(&rng, siam_train_seed(o->seed, TAG_SPLIT, 0, 0));
	for (int i = n - 1; i > 0; i--) {
		int j = (int)siam_rng_below(&rng, (uint32_t)i + 1);
		int t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
	int nval = (int)lround((double)o->val_split * n);
	if (o->val_split > 0 && nval < 2)
		nval = 2;
	if (nval > n - 2) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "--val-split %g leaves too few training images",
		                 (double)o->val_split);
		goto done;
	}
	r->nval = nval;
	r->ntrain = n - nval;
	r->val = siam_xmalloc_n((size_t)(nval ? nval : 1), sizeof(int));
	r->train = siam_xmalloc_n((size_t)r->ntrain, sizeof(int));
	if (!r->val || !r->train) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(r->val, pool, (size_t)nval * sizeof(int));
	memcpy(r->train, pool + nval, (size_t)r->ntrain * sizeof(int));
done:
	free(pool);
	free(mask);
	return rc;
}

/* The pairs the threshold is calibrated on (and, with a validation set,
 * the pairs measured every epoch).  Without a validation set they are
 * drawn from up to 5000 training images: a biased but usable figure. */
int train_make_val_pairs(train_run *r, siam_error *err)
{
	const siam_data *d = r->d;
	int *pool = r->val, n = r->nval;
	if (n == 0) {
		pool = r->train;
		n = SIAM_MIN(r->ntrain, 5000);
	}
	int rc = siam_eval_pairs(&r->va, &r->vb, &r->vsame, &r->nvp,
	                         d->labels, pool, n,
	                         siam_train_seed(r->o->seed, TAG_VAL, 0, 0),
	                         err);
	if (rc) {
		if (rc == SIAM_EINVAL)
			return siam_errorf(err, rc,
			                   "the validation images hold only one "
			                   "class; raise --val-split");
		return rc;
	}
	if (r->groups) {
		/* a "different" pair of two copies would count a match as
		 * an error: drop it */
		size_t m = 0;
		for (size_t p = 0; p < r->nvp; p++)
			if (r->vsame[p] ||
			    r->groups[r->va[p]] != r->groups[r->vb[p]]) {
				r->va[m] = r->va[p];
				r->vb[m] = r->vb[p];
				r->vsame[m++] = r->vsame[p];
			}
		r->nvp = m;
	}
	r->vrow = siam_xmalloc_n((size_t)d->n, sizeof(int));
	r->vemb = siam_xmalloc_n((size_t)n * r->D, sizeof(float));
	r->vdist = siam_xmalloc_n(r->nvp, sizeof(float));
	if (r->unlabelled)
		r->vemb2 = siam_xmalloc_n((size_t)n * r->D, sizeof(float));
	if (!r->vrow || !r->vemb || !r->vdist ||
	    (r->unlabelled && !r->vemb2))
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	for (int i = 0; i < d->n; i++)
		r->vrow[i] = -1;
	for (int k = 0; k < n; k++)
		r->vrow[pool[k]] = k;
	return 0;
}

/* The weights validation measures and the model keeps: the moving
 * average when the run keeps one. */
const float *train_kept_weights(train_run *r)
{
	return r->ema ? r->ema : siam_net_params(r->net);
}

/* Embeds the validation images and measures the validation pairs. */
int train_validate(train_run *r, siam_verif *out, siam_error *err)
{
	const siam_data *d = r->d;
	int *pool = r->nval ? r->val : r->train;
	int n = r->nval ? r->nval : SIAM_MIN(r->ntrain, 5000);
	memcpy(siam_net_params(r->vnet), train_kept_weights(r),
	       r->np * sizeof(float));
	int rc = siam_embed_data(r->vnet, d, pool, n, r->o->views, r->vemb,
	                         err);
	if (rc)
		return rc;
	const float *e2 = r->vemb;
	if (r->unlabelled) {
		/* Unlabelled: "same" is an image against a fixed distortion
		 * of itself, "different" against a distortion of another. */
		enum { B = 256 };
		float *in = siam_xmalloc_n((size_t)B, r->in * sizeof(float));
		if (!in)
			return siam_errorf(err, SIAM_ENOMEM, "out of memory");
		for (int k0 = 0; k0 < n && !rc; k0 += B) {
			int b = SIAM_MIN(B, n - k0);
			for (int k = k0; k < k0 + b && !rc; k++) {
				siam_rng rng;
				siam_rng_seed(&rng, siam_train_seed(
					r->o->seed, TAG_VALAUG, 0, (uint64_t)k));
				rc = d->load(d, pool[k], r->tmp, err);
				if (!rc)
					siam_augment_apply(
						in + (size_t)(k - k0) * r->in,
						r->tmp, d->c, d->h, d->w, d->fill,
						&r->o->aug, &rng);
			}
			if (!rc)
				rc = siam_net_embed_views(
					r->vnet, in, b, r->o->views,
					r->vemb2 + (size_t)k0 * r->D, err);
		}
		free(in);
		if (rc)
			return rc;
		e2 = r->vemb2;
	}
	for (size_t p = 0; p < r->nvp; p++)
		r->vdist[p] = siam_l2_distance(
			r->vemb + (size_t)r->vrow[r->va[p]] * r->D,
			e2 + (size_t)r->vrow[r->vb[p]] * r->D, r->D);
	return siam_verif_compute(out, r->vdist, r->vsame, r->nvp, 0, err);
}

/* Scales the last weighted layer of a freshly initialised net so that
 * two random training images start about half a margin apart.  He
 * initialisation keeps activations at the scale of the input through
 * every layer, which leaves unnormalised embeddings several margins
 * apart: the first thousand steps would then only shrink the whole
 * embedding before any pair could be told apart.  (PyTorch's default
 * init is some 30 times smaller at the output of this architecture.) */

int train_validate_epoch(train_run *r, siam_error *err)
{
	epoch_rec *rec = &r->rec[r->epoch];
	siam_verif v;
	int rc = train_validate(r, &v, err);
	if (rc)
		return rc;
	rec->val_acc = v.best_accuracy;
	rec->val_auc = v.auc;
	rec->val_thr = v.best_threshold;
	if (!r->best_epoch || v.best_accuracy > r->best_val.best_accuracy ||
	    (v.best_accuracy == r->best_val.best_accuracy &&
	     v.auc > r->best_val.auc)) {
		r->best_epoch = r->epoch + 1;
		r->best_val = v;
		memcpy(r->best, train_kept_weights(r), r->np * sizeof(float));
	}
	return 0;
}
