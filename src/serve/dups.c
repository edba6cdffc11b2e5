/*
 * dups.c -- the Duplicates page: the groups `siam dedup` shows for the
 * database, read-only (nothing here moves or deletes a file).  The pairs
 * are its default method's, from dedup_pairs.c: identical bytes, the
 * model's distance at its near-duplicate threshold (else its match
 * threshold; past half of it only if the pair looks alike,
 * dd_look_pairs), phash within DD_ALL_PHASH_BITS bits and crops among
 * the nearest (siam_crop_check); the linkage and the keeper (the
 * largest file) are dedup_group.c's.
 * The answer is kept until the database's counts change, so a large
 * index is grouped once, not on every visit.
 */
#include "config.h"
#include "serve/serve.h"
#include "cli/dedup_pairs.h"

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
	dd_image_of_row(&l->im[l->n], r, path);
	l->paths[l->n] = path;
	l->ids[l->n++] = r->id;
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
	char *out = NULL;
	jbuf b = { 0 };
	double t = dd_model_threshold(ctx->db_model, NULL);
	int rc = siam_db_list_images(db, ctx->db_model_id, on_row, &l, err);
	if (rc == SIAM_ENOMEM)
		siam_errorf(err, rc, "out of memory");
	if (rc)
		goto done;
	if (dd_identical_pairs(l.im, l.n, &e, &ne, &ecap) < 0 ||
	    dd_phash_pairs(l.im, l.n, DD_ALL_PHASH_BITS, &e, &ne, &ecap) < 0)
		goto oom;
	/* l.ids is ascending: the listing's order */
	if ((rc = dd_cnn_pairs(db, ctx->db_model_id, t, l.ids, l.n, &e, &ne,
	                       &ecap, err)))
		goto done;
	if (dd_look_pairs(l.im, t, e, &ne, NULL, NULL) < 0)
		goto oom;
	if ((rc = dd_crop_pairs(db, ctx->db_model_id, t, l.im, l.ids, l.n, &e,
	                        &ne, &ecap, NULL, err)))
		goto done;
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
