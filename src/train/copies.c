/*
 * copies.c -- the copies already in an unlabelled folder, found before
 * training so that they are not taught to be different.
 *
 * With augment:DIR every image is its own class: a photo and its resized
 * copy lying side by side in the folder would be each other's negatives,
 * and the loss would push apart exactly the pairs the model is meant to
 * find.  So before training, images whose inputs are identical, or whose
 * perceptual hashes (siam_phash, on the input the network sees) differ
 * in at most `maxbits` of 64, are made one class: pairs never use one as
 * the other's negative, supcon counts them as positives, and validation
 * drops "different" pairs between them.
 *
 * Groups are formed by leaders in item order: an image joins the group
 * of the first earlier leader it matches, else leads a new one.  Unlike
 * joining whatever it matches (single linkage), that cannot chain a run
 * of slightly different images into one class; and the order is the
 * data set's sorted order, so the groups do not depend on readdir.
 */
#include "internal.h"
#include "train/copies.h"
#include "train/photo_aug.h"

#include <stdlib.h>
#include <string.h>

int train_copy_groups(const siam_data *d, int maxbits, int *group,
                      int *nmerged, siam_error *err)
{
	*nmerged = 0;
	size_t in = (size_t)d->c * d->h * d->w;
	float *x = siam_xmalloc_n(in, sizeof(float));
	unsigned char *px = malloc(in), (*sha)[32] = NULL;
	uint64_t *ph = siam_xmalloc_n((size_t)d->n, sizeof(uint64_t));
	int *lead = siam_xmalloc_n((size_t)d->n, sizeof(int)), nlead = 0;
	int rc = 0;
	if (d->n > 0)
		sha = malloc((size_t)d->n * sizeof *sha);
	if (!x || !px || !ph || !lead || (d->n > 0 && !sha)) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto fail;
	}
	siam_image img = { .w = d->w, .h = d->h, .c = d->c == 3 ? 3 : 1,
	                    .px = px };
	for (int i = 0; i < d->n; i++) {
		if ((rc = d->load(d, i, x, err)))
			goto fail;
		siam_sha256(sha[i], x, in * sizeof(float));
		ph[i] = 0;
		if (d->c == 1 || d->c == 3) {
			aug_to_bytes(px, x, d->c, d->h, d->w, d->fill);
			if ((rc = siam_phash(&ph[i], &img, err)))
				goto fail;
		}
		group[i] = i;
		for (int l = 0; l < nlead; l++) {
			int j = lead[l];
			if (!memcmp(sha[i], sha[j], 32) ||
			    (maxbits >= 0 && (d->c == 1 || d->c == 3) &&
			     siam_hamming64(ph[i], ph[j]) <= maxbits)) {
				group[i] = j;
				(*nmerged)++;
				break;
			}
		}
		if (group[i] == i)
			lead[nlead++] = i;
	}
fail:
	free(x);
	free(px);
	free(sha);
	free(ph);
	free(lead);
	return rc;
}
