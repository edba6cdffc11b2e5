/*
 * dups.c -- the Duplicates page: the groups `siam dedup` shows for the
 * database, read-only (nothing here moves or deletes a file).  Pairs
 * come from the same two sources as its default method: identical bytes
 * (the SHA-256 stored per image) and the model's distance (siam_db_pairs,
 * at the model's near-duplicate threshold, else its match threshold);
 * the linkage and the keeper (the largest file) are dedup_group.c's.
 * The answer is kept until the database's counts change, so a large
 * index is grouped once, not on every visit.
 */
#include "config.h"
#include "serve/serve.h"
#include "cli/dedup_group.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS_SHOWN 500

typedef struct dup_list {
	dd_image *im;
	int64_t *ids;
	char **paths;
	int n, cap;
} dup_list;

static int on_row(void *arg, const siam_db_image_row *r)
{
	dup_list *l = arg;
	if (r->is_url)
		return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 256;
		dd_image *im = realloc(l->im, (size_t)cap * sizeof *im);
		if (im)
			l->im = im;
		int64_t *ids = realloc(l->ids, (size_t)cap * sizeof *ids);
		if (ids)
			l->ids = ids;
		char **p = realloc(l->paths, (size_t)cap * sizeof *p);
		if (p)
			l->paths = p;
		if (!im || !ids || !p)
			return SIAM_ENOMEM;
		l->cap = cap;
	}
	char *path = strdup(r->path);
	if (!path)
		return SIAM_ENOMEM;
	dd_image *im = &l->im[l->n];
	memset(im, 0, sizeof *im);
	im->path = path;
	if (r->content_hash)
		snprintf(im->hash, sizeof im->hash, "%s", r->content_hash);
	im->size = r->size;
	im->mtime_ns = r->mtime_ns;
	im->width = r->width;
	im->height = r->height;
	l->paths[l->n] = path;
	l->ids[l->n++] = r->id;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static const dd_image *hash_base;
static int by_hash(const void *a, const void *b)
{
	return strcmp(hash_base[*(const int *)a].hash,
	              hash_base[*(const int *)b].hash);
}

/* "near_threshold" in the model's metadata (calibrated on edited
 * copies), else its match threshold: what siam dedup uses. */
static double near_threshold(const siam_model *m)
{
	const char *k = m->meta ? strstr(m->meta, "\"near_threshold\"") : NULL;
	if (k && (k = strchr(k, ':'))) {
		char *end;
		double t = strtod(k + 1, &end);
		if (end != k + 1 && t > 0)
			return t;
	}
	return m->threshold;
}

static int add_edge(dd_edge **e, size_t *n, size_t *cap, dd_edge x)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 256;
		dd_edge *p = realloc(*e, c * sizeof *p);
		if (!p)
			return -1;
		*e = p;
		*cap = c;
	}
	(*e)[(*n)++] = x;
	return 0;
}

static void member_json(jbuf *b, const dup_list *l, int i)
{
	const dd_image *im = &l->im[i];
	jb_printf(b, "{\"id\":%lld,\"path\":", (long long)l->ids[i]);
	jb_str(b, im->path);
	jb_printf(b, ",\"keeper\":%s", im->keeper ? "true" : "false");
	if (im->width > 0)
		jb_printf(b, ",\"width\":%d,\"height\":%d", im->width,
		          im->height);
	if (im->size >= 0)
		jb_printf(b, ",\"size\":%lld", (long long)im->size);
	if (!im->keeper) {
		jb_puts(b, ",\"method\":");
		jb_str(b, dd_method_name(im->method));
		jb_printf(b, ",\"distance\":%.6g", im->distance);
	}
	jb_puts(b, "}");
}

static char *compute(serve_ctx *ctx, struct sqlite3 *db, siam_error *err)
{
	dup_list l = { 0 };
	dd_edge *e = NULL;
	size_t ne = 0, ecap = 0;
	siam_db_pair *p = NULL;
	size_t np = 0;
	int *ord = NULL;
	char *out = NULL;
	jbuf b = { 0 };
	double t = near_threshold(ctx->db_model);
	int rc = siam_db_list_images(db, ctx->db_model_id, on_row, &l, err);
	if (rc == SIAM_ENOMEM)
		siam_errorf(err, rc, "out of memory");
	if (rc)
		goto done;
	/* identical bytes: every pair within a run of one hash */
	if (!(ord = malloc((size_t)(l.n ? l.n : 1) * sizeof *ord)))
		goto oom;
	for (int i = 0; i < l.n; i++)
		ord[i] = i;
	hash_base = l.im; /* under ctx->dups_lock */
	qsort(ord, (size_t)l.n, sizeof *ord, by_hash);
	for (int i = 0; i < l.n; i++)
		for (int j = i + 1; j < l.n && l.im[ord[i]].hash[0] &&
		     !strcmp(l.im[ord[i]].hash, l.im[ord[j]].hash); j++)
			if (add_edge(&e, &ne, &ecap, (dd_edge){ ord[i], ord[j],
			             DD_IDENTICAL, 0, 0 }))
				goto oom;
	/* the model's distance */
	if ((rc = siam_db_pairs(db, ctx->db_model_id, t, &p, &np, err)))
		goto done;
	for (size_t k = 0; k < np; k++) {
		int64_t *a = bsearch(&p[k].a, l.ids, (size_t)l.n, sizeof *l.ids,
		                     by_id);
		int64_t *bb = bsearch(&p[k].b, l.ids, (size_t)l.n,
		                      sizeof *l.ids, by_id);
		if (a && bb && add_edge(&e, &ne, &ecap, (dd_edge){
			(int)(a - l.ids), (int)(bb - l.ids), DD_CNN,
			p[k].distance, 0 }))
			goto oom;
	}
	int ng = dd_group(l.im, l.n, e, ne, DD_KEEP_LARGEST, 2);
	if (ng < 0)
		goto oom;
	jb_puts(&b, "{\"model_id\":");
	jb_printf(&b, "%lld,\"threshold\":%.6g,\"images\":%d,\"groups\":%d,"
	          "\"shown\":%d,\"list\":[", (long long)ctx->db_model_id, t,
	          l.n, ng, ng < MAX_GROUPS_SHOWN ? ng : MAX_GROUPS_SHOWN);
	for (int g = 0; g < ng && g < MAX_GROUPS_SHOWN; g++) {
		jb_puts(&b, g ? ",[" : "[");
		int first = 1;
		for (int pass = 0; pass < 2; pass++) /* the keeper first */
			for (int i = 0; i < l.n; i++)
				if (l.im[i].group == g &&
				    l.im[i].keeper == (pass == 0)) {
					if (!first)
						jb_puts(&b, ",");
					first = 0;
					member_json(&b, &l, i);
				}
		jb_puts(&b, "]");
	}
	jb_puts(&b, "]}\n");
	if (b.oom)
		goto oom;
	out = b.s;
	b.s = NULL;
	goto done;
oom:
	siam_errorf(err, SIAM_ENOMEM, "out of memory");
done:
	for (int i = 0; i < l.n; i++)
		free(l.paths[i]);
	free(l.paths);
	free(l.im);
	free(l.ids);
	free(e);
	free(p);
	free(ord);
	jb_free(&b);
	return out;
}

char *serve_dups_json(serve_ctx *ctx, struct sqlite3 *db, siam_error *err)
{
	siam_db_stats st;
	if (siam_db_get_stats(db, &st, err))
		return NULL;
	long long key = st.images * 1000003LL + st.embedded * 31 + st.models;
	char *copy = NULL;
	pthread_mutex_lock(&ctx->dups_lock);
	if (!ctx->dups_json || ctx->dups_key != key) {
		char *j = compute(ctx, db, err);
		if (j) {
			free(ctx->dups_json);
			ctx->dups_json = j;
			ctx->dups_key = key;
		}
	}
	if (ctx->dups_json && ctx->dups_key == key &&
	    !(copy = strdup(ctx->dups_json)))
		siam_errorf(err, SIAM_ENOMEM, "out of memory");
	pthread_mutex_unlock(&ctx->dups_lock);
	return copy;
}
