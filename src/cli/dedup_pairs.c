/*
 * dedup_pairs.c -- the pairs that siam dedup (cmd_dedup.c) and siam
 * serve's Duplicates page (src/serve/dups.c) group: identical bytes by
 * the SHA-256 stored per image, the model's distance by siam_db_pairs
 * (for the default method, if its pictures look alike), and crops
 * among each image's nearest.  One copy, so the page shows the groups
 * the command finds.
 */
#include "config.h"
#include "dedup_pairs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double dd_model_threshold(const siam_model *m, int *near)
{
	const char *k = m->meta ? strstr(m->meta, "\"near_threshold\"") : NULL;
	if (near)
		*near = 0;
	if (k && (k = strchr(k, ':'))) {
		char *end;
		double t = strtod(k + 1, &end);
		if (end != k + 1 && t > 0) {
			if (near)
				*near = 1;
			return t;
		}
	}
	return m->threshold;
}

void dd_image_of_row(dd_image *im, const siam_db_image_row *r,
                     const char *path)
{
	memset(im, 0, sizeof *im);
	im->path = path;
	snprintf(im->hash, sizeof im->hash, "%s",
	         r->content_hash ? r->content_hash : "");
	im->size = r->size;
	im->mtime_ns = r->mtime_ns;
	im->width = r->width;
	im->height = r->height;
	im->has_phash = r->has_phash;
	im->phash = r->phash;
	if (r->gray32) {
		im->has_gray = 1;
		memcpy(im->gray32, r->gray32, sizeof im->gray32);
	}
}

static int add_edge(dd_edge **e, size_t *ne, size_t *cap, dd_edge x)
{
	if (*ne == *cap) {
		size_t c = *cap ? 2 * *cap : 256;
		dd_edge *p = realloc(*e, c * sizeof *p);
		if (!p)
			return -1;
		*e = p;
		*cap = c;
	}
	(*e)[(*ne)++] = x;
	return 0;
}

typedef struct by_hash {
	const char *hash;
	int i;
} by_hash;

static int cmp_hash(const void *pa, const void *pb)
{
	const by_hash *a = pa, *b = pb;
	int c = strcmp(a->hash, b->hash);
	return c ? c : (a->i > b->i) - (a->i < b->i);
}

int dd_identical_pairs(const dd_image *im, int n, dd_edge **e, size_t *ne,
                       size_t *cap)
{
	/* sorted by hash (then index), each run of one hash is a clique */
	by_hash *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
	if (!o)
		return -1;
	int m = 0;
	for (int i = 0; i < n; i++)
		if (im[i].hash[0])
			o[m++] = (by_hash){ im[i].hash, i };
	qsort(o, (size_t)m, sizeof *o, cmp_hash);
	for (int i = 0; i < m; i++)
		for (int j = i + 1; j < m && !strcmp(o[i].hash, o[j].hash);
		     j++)
			if (add_edge(e, ne, cap, (dd_edge){ o[i].i, o[j].i,
			             DD_IDENTICAL, 0, 0 })) {
				free(o);
				return -1;
			}
	free(o);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int dd_pair_edges(const siam_db_pair *p, size_t np, const int64_t *ids,
                  int n, dd_edge **e, size_t *ne, size_t *cap)
{
	for (size_t k = 0; k < np; k++) {
		const int64_t *ia = bsearch(&p[k].a, ids, (size_t)n,
		                            sizeof *ids, cmp_id);
		const int64_t *ib = bsearch(&p[k].b, ids, (size_t)n,
		                            sizeof *ids, cmp_id);
		if (ia && ib && add_edge(e, ne, cap, (dd_edge){
			(int)(ia - ids), (int)(ib - ids), DD_CNN,
			p[k].distance, 0 }))
			return -1;
	}
	return 0;
}

int dd_cnn_pairs(struct sqlite3 *db, int64_t model_id, double t,
                 const int64_t *ids, int n, dd_edge **e, size_t *ne,
                 size_t *cap, siam_error *err)
{
	siam_db_pair *p = NULL;
	size_t np = 0;
	int rc = siam_db_pairs(db, model_id, t, &p, &np, err);
	if (!rc && dd_pair_edges(p, np, ids, n, e, ne, cap))
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
	free(p);
	return rc;
}

int dd_crop_pairs(struct sqlite3 *db, int64_t model_id, double t,
                  const dd_image *im, const int64_t *ids, int n,
                  dd_edge **e, size_t *ne, size_t *cap, size_t *nchecked,
                  siam_error *err)
{
	siam_db_pair *p = NULL;
	size_t np = 0, m = 0;
	int *a = NULL, *b = NULL;
	const unsigned char **ga = NULL, **gb = NULL;
	unsigned char *crop = NULL;
	int rc = siam_db_neighbours(db, model_id, DD_CROP_K, DD_CROP_MAXDIST,
	                            &p, &np, err);
	if (rc)
		goto out;
	a = malloc((np ? np : 1) * sizeof *a);
	b = malloc((np ? np : 1) * sizeof *b);
	ga = malloc((np ? np : 1) * sizeof *ga);
	gb = malloc((np ? np : 1) * sizeof *gb);
	crop = malloc(np ? np : 1);
	if (!a || !b || !ga || !gb || !crop) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto out;
	}
	/* the pairs farther than t, both images listed and with pictures;
	 * p[k] becomes p[m] so that each keeps its distance */
	for (size_t k = 0; k < np; k++) {
		if (p[k].distance <= t)
			continue;
		const int64_t *ia = bsearch(&p[k].a, ids, (size_t)n,
		                            sizeof *ids, cmp_id);
		const int64_t *ib = bsearch(&p[k].b, ids, (size_t)n,
		                            sizeof *ids, cmp_id);
		if (!ia || !ib || !im[ia - ids].has_gray ||
		    !im[ib - ids].has_gray)
			continue;
		a[m] = (int)(ia - ids);
		b[m] = (int)(ib - ids);
		ga[m] = im[a[m]].gray32;
		gb[m] = im[b[m]].gray32;
		p[m++] = p[k];
	}
	siam_crop_check(ga, gb, m, crop);
	for (size_t k = 0; k < m && !rc; k++)
		if (crop[k] && add_edge(e, ne, cap, (dd_edge){ a[k], b[k], DD_CROP,
		                                   p[k].distance, 0 }))
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
out:
	if (nchecked)
		*nchecked = m;
	free(p);
	free(a);
	free(b);
	free(ga);
	free(gb);
	free(crop);
	return rc;
}

int dd_look_pairs(const dd_image *im, double t, dd_edge *e, size_t *ne,
                  size_t *nlooked, size_t *nunlike)
{
	size_t n = *ne, m = 0, w = 0, gone = 0;
	size_t *at = malloc((n ? n : 1) * sizeof *at);
	const unsigned char **ga = calloc(n ? n : 1, sizeof *ga);
	const unsigned char **gb = calloc(n ? n : 1, sizeof *gb);
	unsigned char *alike = malloc(n ? n : 1);
	if (!at || !ga || !gb || !alike) {
		free(at);
		free(ga);
		free(gb);
		free(alike);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		if (e[k].methods == DD_CNN && e[k].cnn > DD_LOOK_FREE * t &&
		    im[e[k].a].has_gray && im[e[k].b].has_gray) {
			at[m] = k;
			ga[m] = im[e[k].a].gray32;
			gb[m++] = im[e[k].b].gray32;
		}
	siam_look_check(ga, gb, m, alike);
	/* at[] is ascending: one pass keeps the edges in order */
	for (size_t k = 0, j = 0; k < n; k++) {
		if (j < m && at[j] == k && !alike[j++]) {
			gone++;
			continue;
		}
		e[w++] = e[k];
	}
	*ne = w;
	if (nlooked)
		*nlooked = m;
	if (nunlike)
		*nunlike = gone;
	free(at);
	free(ga);
	free(gb);
	free(alike);
	return 0;
}
