/*
 * serve.h -- siam serve: the web pages and their JSON API (src/serve/),
 * private to the siam program.
 *
 *   http.c     the server on libmicrohttpd: a fixed pool of threads,
 *              the limits (upload cap -> 413, too many requests at once
 *              -> 503, the request timeout), multipart bodies parsed
 *              into memory, routing, the clean stop
 *   api.c      the JSON API: /api/verify, /api/search, /api/preprocess,
 *              /api/duplicates, /api/image/ID, /api/models, /api/health
 *   pics.c     pictures out: thumbnails and the network's input as PNG
 *   dups.c     the duplicate groups of the Duplicates page
 *   jbuf.c     a growing text buffer for JSON answers
 *   www/       the page (HTML, CSS, JS), embedded by www.sh as www.c
 *
 * Threads: every request runs on one of the server's threads from start
 * to end.  The models are shared read-only (siam.h: a model embeds from
 * any number of threads at once, with the same bits); database handles
 * are taken from a small pool, one request at a time each.
 */
#ifndef SIAM_SERVE_H
#define SIAM_SERVE_H

#include "siam.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* ---- jbuf.c: text that grows; a failed allocation sets oom and every
 * later append does nothing, so callers check once at the end. */
typedef struct jbuf {
	char *s;
	size_t n, cap;
	int oom;
} jbuf;
void jb_putn(jbuf *b, const char *s, size_t n);
void jb_puts(jbuf *b, const char *s);
void jb_printf(jbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included.  Bytes that are not
 * valid UTF-8 become U+FFFD, so the answer always parses. */
void jb_str(jbuf *b, const char *s);
void jb_free(jbuf *b);

/* ---- The server's state, set up by cmd_serve.c, read by every
 * request. */
typedef struct serve_model {
	char name[64];     /* menu name: the file name without .siam */
	char path[4096];
	siam_model *m;
} serve_model;

typedef struct serve_dbpool serve_dbpool; /* http.c */

typedef struct serve_ctx {
	serve_model *models; /* models[0] is the default */
	int nmodels;
	/* The database (NULL dbpath: none; search and duplicates answer
	 * 503 "no database").  Its model embeds search queries. */
	const char *dbpath;
	siam_model *db_model; /* owned by the ctx's creator */
	int64_t db_model_id;  /* 0: nothing indexed */
	serve_dbpool *dbs;
	size_t max_upload;    /* bytes of one request body */
	int max_requests;     /* requests doing work at once, else 503 */
	/* Seconds to receive one request, its body included: past it the
	 * connection is closed and its place freed (http.c). */
	int request_timeout;
	int threads;
	/* Listening on a loopback address: only requests whose Host is
	 * 127.0.0.1, localhost or [::1] are served (403 otherwise), so a
	 * web page elsewhere cannot reach this one through a DNS name that
	 * it points at 127.0.0.1 (DNS rebinding). */
	int check_host;
	/* Counters (atomics). */
	long in_flight;       /* work requests under way now */
	long served;          /* requests answered */
	long refused;         /* 503s for being too busy */
	double started;       /* monotonic seconds */
	/* The Duplicates page, computed once per database state (dups.c). */
	pthread_mutex_t dups_lock;
	char *dups_json;
	long long dups_key;
	/* Logging (cmd_serve.c prints); may be NULL. */
	void (*log)(void *arg, const char *msg);
	void *log_arg;
} serve_ctx;

/* ---- http.c */
typedef struct serve_server serve_server;
/* Listens on host:port (port 0: any free port; *bound_port receives the
 * one chosen) and serves ctx on ctx->threads threads.  Returns NULL with
 * err filled. */
serve_server *serve_start(serve_ctx *ctx, const char *host, int port,
                          int *bound_port, siam_error *err);
/* Stops accepting, lets the requests under way finish (waiting at most
 * grace_s seconds), then stops the threads and frees the server. */
void serve_stop(serve_server *s, double grace_s);

/* A database handle from the pool (opened read-only on first use), for
 * one request; NULL with err filled.  serve_db_put gives it back. */
struct sqlite3 *serve_db_get(serve_ctx *ctx, siam_error *err);
void serve_db_put(serve_ctx *ctx, struct sqlite3 *db);
void serve_dbpool_free(serve_dbpool *p);
serve_dbpool *serve_dbpool_new(int n);

double serve_now(void);

/* ---- api.c: one request, once its body is in memory. */
typedef struct serve_field {
	char name[32];
	char filename[256];
	unsigned char *data;
	size_t len;
} serve_field;

#define SERVE_MAX_FIELDS 8

typedef struct serve_req {
	const char *method, *url;
	const char *query_k, *query_model; /* ?k=, ?model=, or NULL */
	serve_field fields[SERVE_MAX_FIELDS];
	int nfields;
} serve_req;

typedef struct serve_resp {
	int status;
	const char *type;  /* Content-Type (static) */
	unsigned char *body; /* malloc'ed, or static when body_static */
	size_t len;
	int body_static;
	int cache;         /* 1: may be cached (thumbnails, the page) */
} serve_resp;

/* 1 if path is an API route that does work (counted against
 * max_requests); 0 for the page, /api/health and unknown paths. */
int serve_api_is_work(const char *method, const char *url);
/* 1 if the route takes a multipart body. */
int serve_api_wants_body(const char *method, const char *url);
/* Answers the request into *r (never fails: errors are JSON answers). */
void serve_api(serve_ctx *ctx, const serve_req *q, serve_resp *r);
/* A JSON error answer {"error": msg, "status": status}. */
void serve_error(serve_resp *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- pics.c */
/* img scaled down to fit max x max (never up), as PNG bytes. */
int serve_png_thumb(const siam_image *img, int max, unsigned char **png,
                    size_t *len, siam_error *err);
/* The network input of img under model m (after its preprocessing,
 * back in 0..255), as PNG bytes. */
int serve_png_input(const siam_model *m, const siam_image *img,
                    unsigned char **png, size_t *len, siam_error *err);

/* ---- dups.c: the JSON of /api/duplicates (malloc'ed) or NULL with
 * err. */
char *serve_dups_json(serve_ctx *ctx, struct sqlite3 *db, siam_error *err);

/* ---- www.c (generated by www.sh from www/) */
typedef struct serve_file {
	const char *path; /* "/index.html" */
	const char *type;
	const unsigned char *data;
	size_t len;
} serve_file;
extern const serve_file serve_files[]; /* ends with path NULL */

#endif
