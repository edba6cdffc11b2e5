/*
 * api.c -- siam serve's JSON API, behind every page (siam-serve(1) is
 * its reference):
 *
 *   POST /api/verify        multipart a, b [, model]  -> {distance,
 *                           threshold, same, verdict, model}
 *   POST /api/search?k=10   multipart image -> the k nearest indexed
 *                           images {results: [{id, distance, match,
 *                           url, path, label}]}
 *   POST /api/preprocess    multipart image [, model] -> PNG: the input
 *                           as the network sees it
 *   GET  /api/duplicates    the groups siam dedup finds (dups.c)
 *   GET  /api/image/ID      a PNG thumbnail of indexed image ID: by
 *                           database id only, never by path, so no file
 *                           outside the index can be read
 *   GET  /api/models        the models of the Compare menu
 *   GET  /api/health        liveness and counters
 *
 * An upload is decoded from memory as siam_verify decodes a file (the
 * default limits, no larger than the model needs) and embedded the same
 * way, so a distance here has the bits `siam verify` prints.  Errors
 * answer JSON {error, status}: 400 for what the client sent (not an
 * image, truncated, over the pixel limit), 404 for what does not exist.
 */
#include "config.h"
#include "serve/serve.h"
#include "siam_nn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define THUMB_MAX 160
#define SEARCH_MAX_K 100

int serve_api_wants_body(const char *method, const char *url)
{
	return !strcmp(method, "POST") &&
	       (!strcmp(url, "/api/verify") || !strcmp(url, "/api/search") ||
	        !strcmp(url, "/api/preprocess"));
}

int serve_api_is_work(const char *method, const char *url)
{
	(void)method;
	return !strcmp(url, "/api/verify") || !strcmp(url, "/api/search") ||
	       !strcmp(url, "/api/preprocess") ||
	       !strcmp(url, "/api/duplicates") ||
	       !strncmp(url, "/api/image/", 11);
}

static const serve_field *field(const serve_req *q, const char *name)
{
	for (int i = 0; i < q->nfields; i++)
		if (!strcmp(q->fields[i].name, name))
			return &q->fields[i];
	return NULL;
}

/* The model named by the form field or ?model=, else the default. */
static const serve_model *pick_model(serve_ctx *ctx, const serve_req *q,
                                     serve_resp *r)
{
	const serve_field *f = field(q, "model");
	const char *name = f ? (const char *)f->data : q->query_model;
	if (!name || !*name)
		return &ctx->models[0];
	for (int i = 0; i < ctx->nmodels; i++)
		if (!strcmp(ctx->models[i].name, name))
			return &ctx->models[i];
	serve_error(r, 404, "no model named '%s' (see /api/models)", name);
	return NULL;
}

/* The status an embedding or decoding error answers with. */
static int status_of(int code)
{
	return code == SIAM_ENOMEM ? 503 :
	       code == SIAM_EDB || code == SIAM_EIO ? 500 : 400;
}

/* Decodes upload f (named what in messages) for model m. */
static int decode(serve_ctx *ctx, const siam_model *m, const serve_field *f,
                  const char *what, siam_image *img, siam_error *err)
{
	siam_image_limits lim;
	siam_image_limits_default(&lim);
	siam_image_limits_want(&lim, &m->pre);
	if (lim.max_bytes > ctx->max_upload)
		lim.max_bytes = ctx->max_upload;
	char name[300];
	snprintf(name, sizeof name, "%s%s%s%s", what,
	         f->filename[0] ? " (" : "", f->filename,
	         f->filename[0] ? ")" : "");
	if (f->len == 0)
		return siam_errorf(err, SIAM_EFORMAT, "%s: empty upload", name);
	return siam_image_decode(img, f->data, f->len, name, &lim, err);
}

typedef struct image_ref {
	char *path;
	int is_url;
} image_ref;

static int on_image(void *arg, const siam_db_image_row *row)
{
	image_ref *ir = arg;
	ir->is_url = row->is_url;
	ir->path = strdup(row->path);
	return ir->path ? 0 : SIAM_ENOMEM;
}

/* Image id of the index, parsed from text (digits only, no sign, no
 * leading zero: one spelling per id): its path in *ir.  Errors:
 * SIAM_EINVAL (bad id, no such image: 400 or 404 by *status). */
static int indexed_image(serve_ctx *ctx, const char *ids, image_ref *ir,
                         int *status, siam_error *err)
{
	size_t n = strlen(ids);
	int ok = n > 0 && n <= 18 && ids[0] != '0', found = 0;
	for (size_t i = 0; ok && i < n; i++)
		ok = ids[i] >= '0' && ids[i] <= '9';
	*status = 400;
	if (!ok)
		return siam_errorf(err, SIAM_EINVAL, "bad image id '%.40s': "
		                   "want a database id (a positive whole "
		                   "number)", ids);
	long long id = strtoll(ids, NULL, 10);
	struct sqlite3 *db = serve_db_get(ctx, err);
	if (!db) {
		*status = ctx->dbpath ? 500 : 503;
		return SIAM_EDB;
	}
	int rc = siam_db_get_image(db, id, on_image, ir, &found, err);
	serve_db_put(ctx, db);
	*status = 500;
	if (rc == SIAM_ENOMEM)
		return siam_errorf(err, rc, "out of memory");
	if (rc)
		return rc;
	*status = 404;
	if (!found)
		return siam_errorf(err, SIAM_EINVAL, "no image %lld in the "
		                   "index", id);
	if (ir->is_url)
		/* fetching would make the server a proxy: refused */
		return siam_errorf(err, SIAM_EINVAL, "image %lld is a URL: "
		                   "not read by siam serve", id);
	return 0;
}

/* The picture of form field name: an upload, or with NAME_id an image
 * of the index by id (its file read as siam index read it).  *status is
 * the HTTP status of a failure. */
static int input_image(serve_ctx *ctx, const serve_req *q, const char *name,
                       const char *what, const siam_model *m,
                       siam_image *img, int *status, siam_error *err)
{
	const serve_field *f = field(q, name);
	char idname[40];
	snprintf(idname, sizeof idname, "%s_id", name);
	const serve_field *fid = field(q, idname);
	*status = 400;
	if (f) {
		int rc = decode(ctx, m, f, what, img, err);
		if (rc == SIAM_ENOMEM)
			*status = 503;
		return rc;
	}
	if (!fid)
		return siam_errorf(err, SIAM_EINVAL, "no %s: want the "
		                   "multipart form field '%s' (a file) or "
		                   "'%s' (an indexed image's id)", what, name,
		                   idname);
	image_ref ir = { 0 };
	/* an empty field has no data at all (found by fuzz_serve) */
	int rc = indexed_image(ctx, fid->data ? (const char *)fid->data : "",
	                       &ir, status, err);
	if (!rc) {
		siam_image_limits lim;
		siam_image_limits_default(&lim);
		siam_image_limits_want(&lim, &m->pre);
		if ((rc = siam_image_load(img, ir.path, &lim, err)))
			*status = 404; /* changed or gone since indexed */
	}
	free(ir.path);
	return rc;
}

static int embed(serve_ctx *ctx, const serve_req *q, const char *name,
                 const char *what, siam_model *m, float *out, int *status,
                 siam_error *err)
{
	siam_image img = { 0 };
	int rc = input_image(ctx, q, name, what, m, &img, status, err);
	if (!rc && (rc = siam_model_embed_image(m, &img, out, err)))
		*status = rc == SIAM_ENOMEM ? 503 : 400;
	siam_image_release(&img);
	return rc;
}

static void json_answer(serve_resp *r, jbuf *b)
{
	if (b->oom) {
		jb_free(b);
		serve_error(r, 503, "out of memory");
		return;
	}
	r->status = 200;
	r->type = "application/json";
	r->body = (unsigned char *)b->s;
	r->len = b->n;
	b->s = NULL;
}

static void api_verify(serve_ctx *ctx, const serve_req *q, serve_resp *r)
{
	const serve_model *sm = pick_model(ctx, q, r);
	if (!sm)
		return;
	siam_model *m = sm->m;
	int D = siam_model_embed_dim(m);
	float *ea = malloc((size_t)D * sizeof *ea);
	float *eb = malloc((size_t)D * sizeof *eb);
	siam_error err = { 0, "" };
	int status = 400;
	if (!ea || !eb) {
		serve_error(r, 503, "out of memory");
	} else if (embed(ctx, q, "a", "image a", m, ea, &status, &err) ||
	           embed(ctx, q, "b", "image b", m, eb, &status, &err)) {
		serve_error(r, status, "%s", err.msg);
	} else {
		float d = siam_l2_distance(ea, eb, D);
		int same = d < m->threshold;
		jbuf j = { 0 };
		/* %.9g: a float's exact value, as siam verify computes it */
		jb_printf(&j, "{\"distance\":%.9g,\"threshold\":%.9g,"
		          "\"same\":%s,\"verdict\":\"%s\",\"model\":",
		          (double)d, (double)m->threshold,
		          same ? "true" : "false", same ? "same" : "different");
		jb_str(&j, sm->name);
		jb_puts(&j, "}\n");
		json_answer(r, &j);
	}
	free(ea);
	free(eb);
}

static void api_preprocess(serve_ctx *ctx, const serve_req *q,
                           serve_resp *r)
{
	const serve_model *sm = pick_model(ctx, q, r);
	if (!sm)
		return;
	siam_image img = { 0 };
	siam_error err = { 0, "" };
	unsigned char *png = NULL;
	size_t len = 0;
	int status = 400;
	if (input_image(ctx, q, "image", "image", sm->m, &img, &status,
	                &err)) {
		serve_error(r, status, "%s", err.msg);
	} else if (serve_png_input(sm->m, &img, &png, &len, &err)) {
		serve_error(r, status_of(err.code), "%s", err.msg);
	} else {
		r->status = 200;
		r->type = "image/png";
		r->body = png;
		r->len = len;
	}
	siam_image_release(&img);
}

static void api_search(serve_ctx *ctx, const serve_req *q, serve_resp *r)
{
	long k = 10;
	if (q->query_k) {
		char *end;
		errno = 0;
		k = strtol(q->query_k, &end, 10);
		if (errno || end == q->query_k || *end || k < 1 ||
		    k > SEARCH_MAX_K) {
			serve_error(r, 400, "k=%s: want a whole number from 1 "
			            "to %d", q->query_k, SEARCH_MAX_K);
			return;
		}
	}
	if (!ctx->dbpath || !ctx->db_model || !ctx->db_model_id) {
		serve_error(r, 503, "no index to search: start siam serve "
		            "with --db FILE made by siam index");
		return;
	}
	siam_model *m = ctx->db_model;
	int D = siam_model_embed_dim(m);
	float *e = malloc((size_t)D * sizeof *e);
	siam_error err = { 0, "" };
	siam_db_hit *hits = NULL;
	int n = 0;
	struct sqlite3 *db = NULL;
	if (!e) {
		serve_error(r, 503, "out of memory");
		goto done;
	}
	int status = 400, found = 0;
	if (!(db = serve_db_get(ctx, &err))) {
		serve_error(r, 500, "%s", err.msg);
		goto done;
	}
	/* As siam query: an upload whose bytes were indexed with this model
	 * is searched with its stored embedding (the batch that indexed it
	 * rounds differently from a batch of one), so it comes out first
	 * at distance 0. */
	const serve_field *f = field(q, "image");
	if (f && f->len) {
		char hex[65];
		siam_sha256_hex(hex, f->data, f->len);
		if (siam_db_find_embedding(db, hex, ctx->db_model_id, e, D,
		                           &found, &err)) {
			serve_error(r, 500, "%s", err.msg);
			goto done;
		}
	}
	/* embed() takes a handle of its own for an image by id: holding
	 * this one meanwhile would deadlock a full pool (--threads 1: the
	 * first such search; found by tests/fuzz/fuzz_serve). */
	serve_db_put(ctx, db);
	db = NULL;
	if (!found && embed(ctx, q, "image", "image", m, e, &status, &err)) {
		serve_error(r, status, "%s", err.msg);
		goto done;
	}
	if (!(db = serve_db_get(ctx, &err))) {
		serve_error(r, 500, "%s", err.msg);
		goto done;
	}
	if (siam_db_knn(db, ctx->db_model_id, e, D, (int)k, &hits, &n, &err)) {
		serve_error(r, 500, "%s", err.msg);
		goto done;
	}
	jbuf j = { 0 };
	jb_printf(&j, "{\"k\":%ld,\"threshold\":%.9g,\"results\":[", k,
	          (double)m->threshold);
	for (int i = 0; i < n; i++) {
		/* url: indexed by URL, which this server never fetches
		 * (the page shows a placeholder) */
		jb_printf(&j, "%s{\"id\":%lld,\"distance\":%.9g,\"match\":%s,"
		          "\"url\":%s,\"path\":", i ? "," : "",
		          (long long)hits[i].image_id, hits[i].distance,
		          hits[i].distance < m->threshold ? "true" : "false",
		          siam_is_url(hits[i].path) ? "true" : "false");
		jb_str(&j, hits[i].path);
		jb_puts(&j, ",\"label\":");
		if (hits[i].label)
			jb_str(&j, hits[i].label);
		else
			jb_puts(&j, "null");
		jb_puts(&j, "}");
	}
	jb_puts(&j, "]}\n");
	json_answer(r, &j);
done:
	serve_db_put(ctx, db);
	siam_db_hits_free(hits, n);
	free(e);
}

static void api_image(serve_ctx *ctx, const char *ids, serve_resp *r)
{
	siam_error err = { 0, "" };
	image_ref ir = { 0 };
	siam_image img = { 0 };
	unsigned char *png = NULL;
	size_t len = 0;
	int status;
	if (indexed_image(ctx, ids, &ir, &status, &err)) {
		serve_error(r, status, "%s", err.msg);
		free(ir.path);
		return;
	}
	siam_image_limits lim;
	siam_image_limits_default(&lim);
	lim.want_w = lim.want_h = THUMB_MAX;
	if (siam_image_load(&img, ir.path, &lim, &err) ||
	    serve_png_thumb(&img, THUMB_MAX, &png, &len, &err)) {
		/* the file changed or went since it was indexed */
		serve_error(r, 404, "image %s: %s", ids, err.msg);
	} else {
		r->status = 200;
		r->type = "image/png";
		r->body = png;
		r->len = len;
		r->cache = 1;
	}
	siam_image_release(&img);
	free(ir.path);
}

static void api_duplicates(serve_ctx *ctx, serve_resp *r)
{
	siam_error err = { 0, "" };
	if (!ctx->dbpath || !ctx->db_model || !ctx->db_model_id) {
		serve_error(r, 503, "no index: start siam serve with --db "
		            "FILE made by siam index");
		return;
	}
	struct sqlite3 *db = serve_db_get(ctx, &err);
	char *j = db ? serve_dups_json(ctx, db, &err) : NULL;
	serve_db_put(ctx, db);
	if (!j) {
		serve_error(r, status_of(err.code) == 400 ? 500 :
		            status_of(err.code), "%s", err.msg);
		return;
	}
	r->status = 200;
	r->type = "application/json";
	r->body = (unsigned char *)j;
	r->len = strlen(j);
}

static void api_models(serve_ctx *ctx, serve_resp *r)
{
	jbuf j = { 0 };
	jb_puts(&j, "{\"models\":[");
	for (int i = 0; i < ctx->nmodels; i++) {
		const siam_model *m = ctx->models[i].m;
		jb_puts(&j, i ? ",{\"name\":" : "{\"name\":");
		jb_str(&j, ctx->models[i].name);
		jb_printf(&j, ",\"threshold\":%.9g,\"input\":\"%dx%dx%d\","
		          "\"digit\":%s,\"default\":%s}", (double)m->threshold,
		          m->pre.c, m->pre.h, m->pre.w,
		          m->pre.digit ? "true" : "false", i ? "false" : "true");
	}
	jb_puts(&j, "],\"search\":");
	jb_puts(&j, ctx->db_model_id ? "true" : "false");
	jb_puts(&j, "}\n");
	json_answer(r, &j);
}

static void api_health(serve_ctx *ctx, serve_resp *r)
{
	jbuf j = { 0 };
	jb_printf(&j, "{\"ok\":true,\"version\":\"%s\",\"models\":%d,"
	          "\"database\":", SIAM_VERSION, ctx->nmodels);
	if (ctx->dbpath)
		jb_str(&j, ctx->dbpath);
	else
		jb_puts(&j, "null");
	jb_printf(&j, ",\"threads\":%d,\"max_requests\":%d,\"in_flight\":%ld,"
	          "\"served\":%ld,\"refused\":%ld,\"uptime_s\":%.1f}\n",
	          ctx->threads, ctx->max_requests,
	          __atomic_load_n(&ctx->in_flight, __ATOMIC_SEQ_CST),
	          __atomic_load_n(&ctx->served, __ATOMIC_SEQ_CST),
	          __atomic_load_n(&ctx->refused, __ATOMIC_SEQ_CST),
	          serve_now() - ctx->started);
	json_answer(r, &j);
}

void serve_api(serve_ctx *ctx, const serve_req *q, serve_resp *r)
{
	const char *u = q->url;
	int post = !strcmp(q->method, "POST");
	if (!strcmp(u, "/api/verify") || !strcmp(u, "/api/search") ||
	    !strcmp(u, "/api/preprocess")) {
		if (!post)
			serve_error(r, 405, "%s wants POST with a multipart "
			            "body", u);
		else if (!strcmp(u, "/api/verify"))
			api_verify(ctx, q, r);
		else if (!strcmp(u, "/api/search"))
			api_search(ctx, q, r);
		else
			api_preprocess(ctx, q, r);
	} else if (post) {
		serve_error(r, 405, "%s: method POST not allowed", u);
	} else if (!strncmp(u, "/api/image/", 11)) {
		api_image(ctx, u + 11, r);
	} else if (!strcmp(u, "/api/duplicates")) {
		api_duplicates(ctx, r);
	} else if (!strcmp(u, "/api/models")) {
		api_models(ctx, r);
	} else if (!strcmp(u, "/api/health")) {
		api_health(ctx, r);
	} else {
		serve_error(r, 404, "%s: no such page", u);
	}
}
