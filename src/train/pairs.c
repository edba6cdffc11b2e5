/*
 * pairs.c -- which images the network compares: training pairs and
 * triplets, and the fixed pairs of the evaluation protocol.
 *
 * Balance matters more than anything else here: with ten classes a
 * uniformly drawn pair is "different" nine times in ten, and a network
 * trained on that learns to call everything different.  Training pairs
 * are therefore half "same" by construction, and the class of a
 * "different" partner is uniform over the other classes, so that no
 * class pair is favoured by the class sizes.
 */
#include "internal.h"
#include "train/train_internal.h"
#include "siam_nn.h"

#include <string.h>

struct siam_sampler {
	int n;          /* items in the pool */
	int *item;      /* pool, grouped by class: item[start[c]..start[c+1]) */
	int ncls;       /* classes present in the pool */
	int *start;     /* ncls + 1 offsets into item */
	int *cls;       /* cls[k]: class slot of item[k] */
	int labelled;   /* 0: each item is its own class */
	int multi;      /* classes with more than one item */
};

void siam_sampler_free(siam_sampler *s)
{
	if (!s)
		return;
	free(s->item);
	free(s->start);
	free(s->cls);
	free(s);
}

int siam_sampler_create(siam_sampler **out, const int *labels,
                        const int *pool, int n, siam_error *err)
{
	*out = NULL;
	if (n < 2)
		return siam_errorf(err, SIAM_EINVAL,
		                   "need at least 2 training images, have %d",
		                   n);
	siam_sampler *s = calloc(1, sizeof *s);
	if (!s)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	s->n = n;
	s->labelled = labels != NULL;
	s->item = siam_xmalloc_n((size_t)n, sizeof(int));
	if (!s->item)
		goto nomem;
	if (!labels) {
		memcpy(s->item, pool, (size_t)n * sizeof(int));
		s->ncls = n;
		*out = s;
		return 0;
	}
	/* Group the pool by label with a counting sort; the order within
	 * a class is the pool's order, so the grouping is deterministic. */
	int maxl = 0;
	for (int i = 0; i < n; i++)
		if (labels[pool[i]] > maxl)
			maxl = labels[pool[i]];
	int *count = calloc((size_t)maxl + 2, sizeof(int));
	int *slot = malloc(((size_t)maxl + 1) * sizeof(int));
	if (!count || !slot) {
		free(count);
		free(slot);
		goto nomem;
	}
	for (int i = 0; i < n; i++)
		count[labels[pool[i]]]++;
	for (int l = 0; l <= maxl; l++)
		slot[l] = count[l] ? s->ncls++ : -1;
	s->start = calloc((size_t)s->ncls + 1, sizeof(int));
	s->cls = malloc((size_t)n * sizeof(int));
	if (!s->start || !s->cls) {
		free(count);
		free(slot);
		goto nomem;
	}
	for (int l = 0; l <= maxl; l++)
		if (count[l]) {
			s->start[slot[l] + 1] = count[l];
			if (count[l] > 1)
				s->multi++;
		}
	for (int c = 0; c < s->ncls; c++)
		s->start[c + 1] += s->start[c];
	int *fill = count; /* reuse as the next free position per slot */
	for (int c = 0; c < s->ncls; c++)
		fill[c] = s->start[c];
	for (int i = 0; i < n; i++) {
		int c = slot[labels[pool[i]]];
		s->cls[fill[c]] = c;
		s->item[fill[c]++] = pool[i];
	}
	free(count);
	free(slot);
	if (s->ncls < 2) {
		siam_sampler_free(s);
		return siam_errorf(err, SIAM_EINVAL,
		                   "the training images hold only one class; "
		                   "pairs need two or more");
	}
	*out = s;
	return 0;
nomem:
	siam_sampler_free(s);
	return siam_errorf(err, SIAM_ENOMEM, "out of memory");
}

/* A partner of the class of item position k, not k itself when the
 * class has more than one item. */
static int same_partner(const siam_sampler *s, siam_rng *rng, int k)
{
	if (!s->labelled)
		return s->item[k];
	int c = s->cls[k], lo = s->start[c], sz = s->start[c + 1] - lo;
	if (sz < 2)
		return s->item[k];
	int j = lo + (int)siam_rng_below(rng, (uint32_t)sz - 1);
	if (j >= k)
		j++;
	return s->item[j];
}

/* A partner from a class other than that of position k: the class
 * uniform over the others, then the item uniform within it. */
static int diff_partner(const siam_sampler *s, siam_rng *rng, int k)
{
	if (!s->labelled) {
		int j = (int)siam_rng_below(rng, (uint32_t)s->n - 1);
		if (j >= k)
			j++;
		return s->item[j];
	}
	int c = s->cls[k];
	int o = (int)siam_rng_below(rng, (uint32_t)s->ncls - 1);
	if (o >= c)
		o++;
	int lo = s->start[o], sz = s->start[o + 1] - lo;
	return s->item[lo + (int)siam_rng_below(rng, (uint32_t)sz)];
}

void siam_sampler_pair(siam_sampler *s, siam_rng *rng, int same, int *a,
                       int *b)
{
	int k = (int)siam_rng_below(rng, (uint32_t)s->n);
	*a = s->item[k];
	*b = same ? same_partner(s, rng, k) : diff_partner(s, rng, k);
}

void siam_sampler_triplet(siam_sampler *s, siam_rng *rng, int *a, int *p,
                          int *n)
{
	int k = (int)siam_rng_below(rng, (uint32_t)s->n);
	*a = s->item[k];
	*p = same_partner(s, rng, k);
	*n = diff_partner(s, rng, k);
}

void siam_sampler_instance(siam_sampler *s, siam_rng *rng, int *a, int *p,
                           int *n)
{
	int k = (int)siam_rng_below(rng, (uint32_t)s->n);
	*a = *p = s->item[k];
	*n = same_partner(s, rng, k);
}

int siam_sampler_num_classes(const siam_sampler *s)
{
	return s->labelled ? s->ncls : 0;
}

int siam_sampler_item_of(const siam_sampler *s, siam_rng *rng, int cls)
{
	int lo = s->start[cls], sz = s->start[cls + 1] - lo;
	return s->item[lo + (int)siam_rng_below(rng, (uint32_t)sz)];
}

int siam_eval_pairs(int **a, int **b, unsigned char **same, size_t *npairs,
                    const int *labels, const int *pool, int n,
                    uint64_t seed, siam_error *err)
{
	*a = *b = NULL;
	*same = NULL;
	*npairs = 0;
	siam_sampler *s = NULL;
	int *pa = NULL, *pb = NULL, *pos = NULL, *next = NULL;
	unsigned char *ps = NULL;
	int rc = siam_sampler_create(&s, labels, pool, n, err);
	if (rc)
		return rc;
	pa = siam_xmalloc_n((size_t)n * 2, sizeof(int));
	pb = siam_xmalloc_n((size_t)n * 2, sizeof(int));
	ps = malloc((size_t)n * 2);
	pos = siam_xmalloc_n((size_t)n, sizeof(int));
	next = calloc((size_t)s->ncls, sizeof(int));
	if (!pa || !pb || !ps || !pos || !next) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto fail;
	}
	/* Walk the pool in its own order, not the sampler's grouping, so
	 * that the pairs of pool item k come before those of item k + 1.
	 * pos[k] is where pool[k] sits in the grouped list: the sampler
	 * numbers the labels present in increasing order and keeps pool
	 * order within a class, so a per-class counter finds it. */
	for (int k = 0; k < n; k++) {
		if (!labels) {
			pos[k] = k;
			continue;
		}
		int lo = 0, hi = s->ncls - 1, l = labels[pool[k]];
		while (lo < hi) {
			int mid = (lo + hi) / 2;
			if (labels[s->item[s->start[mid]]] < l)
				lo = mid + 1;
			else
				hi = mid;
		}
		pos[k] = s->start[lo] + next[lo]++;
	}
	siam_rng rng;
	siam_rng_seed(&rng, seed);
	size_t m = 0;
	for (int k = 0; k < n; k++) {
		int p = pos[k];
		if (!s->labelled ||
		    s->start[s->cls[p] + 1] - s->start[s->cls[p]] > 1) {
			pa[m] = pool[k];
			pb[m] = same_partner(s, &rng, p);
			ps[m++] = 1;
		}
		pa[m] = pool[k];
		pb[m] = diff_partner(s, &rng, p);
		ps[m++] = 0;
	}
	*a = pa;
	*b = pb;
	*same = ps;
	*npairs = m;
	pa = pb = NULL;
	ps = NULL;
fail:
	free(pa);
	free(pb);
	free(ps);
	free(pos);
	free(next);
	siam_sampler_free(s);
	return rc;
}
