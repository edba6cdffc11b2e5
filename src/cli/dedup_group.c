/*
 * dedup_group.c -- siam dedup's linkage and keeper rule (the contract
 * is in dedup_group.h).  Why a star and not connected components: with
 * single linkage, near-duplicates chain (A ~ B ~ C ~ ... ~ Z, each step
 * under the threshold, A and Z nothing alike) and a whole folder of
 * similar photos becomes one group whose copies would be moved.  In a
 * star every member is within the threshold of the file that is kept,
 * which is what the user is asked to trust.  Visiting keepers in the
 * rule's order makes the result a function of the files' attributes and
 * paths only.
 */
#include "dedup_group.h"

#include <stdlib.h>
#include <string.h>

const char *dd_method_name(int method)
{
	return method & DD_IDENTICAL ? "identical" :
	       method & DD_CNN ? "cnn" : method & DD_PHASH ? "phash" : "crop";
}

static int dd_keep_rule;
static const dd_image *dd_images;

/* < 0 if image a makes the better keeper. */
static int dd_rank_cmp(const void *pa, const void *pb)
{
	const dd_image *a = &dd_images[*(const int *)pa];
	const dd_image *b = &dd_images[*(const int *)pb];
	if (a->reference != b->reference)
		return a->reference ? -1 : 1;
	switch (dd_keep_rule) {
	case DD_KEEP_LARGEST: {
		int64_t pa_ = (int64_t)a->width * a->height;
		int64_t pb_ = (int64_t)b->width * b->height;
		if (pa_ != pb_)
			return pa_ > pb_ ? -1 : 1;
		if (a->size != b->size)
			return a->size > b->size ? -1 : 1;
		break;
	}
	case DD_KEEP_OLDEST:
		if (a->mtime_ns != b->mtime_ns)
			return a->mtime_ns < b->mtime_ns ? -1 : 1;
		break;
	case DD_KEEP_NEWEST:
		if (a->mtime_ns != b->mtime_ns)
			return a->mtime_ns > b->mtime_ns ? -1 : 1;
		break;
	default: {
		size_t la = strlen(a->path), lb = strlen(b->path);
		if (la != lb)
			return la < lb ? -1 : 1;
		break;
	}
	}
	return strcmp(a->path, b->path);
}

static int dd_edge_cmp(const void *pa, const void *pb)
{
	const dd_edge *a = pa, *b = pb;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	return (a->b > b->b) - (a->b < b->b);
}

int dd_group(dd_image *im, int n, dd_edge *e, size_t ne, int keep,
             int min_group)
{
	int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	int *start = calloc((size_t)n + 1, sizeof *start);
	int *adj = malloc((2 * ne + 1) * sizeof *adj);
	int *taken = malloc((size_t)(n ? n : 1) * sizeof *taken);
	char *done = calloc((size_t)n + 1, 1);
	int ngroups = -1;
	size_t m = 0;
	if (!order || !start || !adj || !taken || !done)
		goto out;
	for (int i = 0; i < n; i++) {
		order[i] = i;
		im[i].group = -1;
		im[i].keeper = 0;
		im[i].method = 0;
		im[i].distance = 0;
	}
	/* Merge the edges of one pair: (min, max), sorted, combined. */
	for (size_t i = 0; i < ne; i++)
		if (e[i].a > e[i].b) {
			int t = e[i].a;
			e[i].a = e[i].b;
			e[i].b = t;
		}
	if (ne) /* no pairs: e may be NULL, which qsort must not get */
		qsort(e, ne, sizeof *e, dd_edge_cmp);
	for (size_t i = 0; i < ne; i++) {
		if (e[i].a == e[i].b)
			continue;
		if (m && e[m - 1].a == e[i].a && e[m - 1].b == e[i].b) {
			dd_edge *p = &e[m - 1];
			if (e[i].methods & (DD_CNN | DD_CROP))
				p->cnn = e[i].cnn;
			if (e[i].methods & DD_PHASH)
				p->bits = e[i].bits;
			p->methods |= e[i].methods;
			continue;
		}
		e[m++] = e[i];
	}
	/* Adjacency (CSR): the edge indices of each image. */
	for (size_t i = 0; i < m; i++) {
		start[e[i].a + 1]++;
		start[e[i].b + 1]++;
	}
	for (int i = 0; i < n; i++)
		start[i + 1] += start[i];
	memcpy(taken, start, (size_t)n * sizeof *taken);
	for (size_t i = 0; i < m; i++) {
		adj[taken[e[i].a]++] = (int)i;
		adj[taken[e[i].b]++] = (int)i;
	}
	dd_keep_rule = keep;
	dd_images = im;
	qsort(order, (size_t)n, sizeof *order, dd_rank_cmp);
	ngroups = 0;
	for (int r = 0; r < n; r++) {
		int k = order[r], nt = 0;
		done[k] = 1;
		if (im[k].group >= 0)
			continue;
		for (int p = start[k]; p < start[k + 1]; p++) {
			const dd_edge *ed = &e[adj[p]];
			int j = ed->a == k ? ed->b : ed->a;
			if (done[j] || im[j].group >= 0 || im[j].reference)
				continue;
			im[j].group = ngroups;
			im[j].method = ed->methods & DD_IDENTICAL &&
			                       !strcmp(im[j].hash, im[k].hash) &&
			                       im[k].hash[0] ?
			                       DD_IDENTICAL :
			               ed->methods & DD_CNN ? DD_CNN :
			               ed->methods & DD_PHASH ? DD_PHASH : DD_CROP;
			im[j].distance = im[j].method & (DD_CNN | DD_CROP) ?
			                 ed->cnn :
			                 im[j].method == DD_PHASH ? ed->bits : 0;
			taken[nt++] = j;
		}
		if (nt + 1 < min_group || nt == 0) {
			for (int t = 0; t < nt; t++)
				im[taken[t]].group = -1;
			continue;
		}
		im[k].group = ngroups++;
		im[k].keeper = 1;
	}
out:
	free(order);
	free(start);
	free(adj);
	free(taken);
	free(done);
	return ngroups;
}

typedef struct dd_slot {
	int group, keeper, i;
	const char *path;
} dd_slot;

static int dd_slot_cmp(const void *pa, const void *pb)
{
	const dd_slot *a = pa, *b = pb;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->keeper != b->keeper)
		return a->keeper ? -1 : 1;
	return strcmp(a->path, b->path);
}

int dd_order(const dd_image *im, int n, int *ord)
{
	int m = 0;
	dd_slot *s = malloc((size_t)(n ? n : 1) * sizeof *s);
	if (!s)
		return -1;
	for (int i = 0; i < n; i++)
		if (im[i].group >= 0)
			s[m++] = (dd_slot){ im[i].group, im[i].keeper, i,
			                    im[i].path };
	qsort(s, (size_t)m, sizeof *s, dd_slot_cmp);
	for (int i = 0; i < m; i++)
		ord[i] = s[i].i;
	free(s);
	return m;
}
