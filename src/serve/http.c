/*
 * http.c -- siam serve's HTTP side, on libmicrohttpd: a fixed pool of
 * threads (epoll, MHD_OPTION_THREAD_POOL_SIZE), each request handled
 * start to end on one of them; the limits; multipart bodies parsed into
 * memory; routing to api.c and to the embedded page; the clean stop.
 *
 * Why this shape:
 *   - Uploads never touch the disk: MHD_create_post_processor hands us
 *     the parts as they arrive and we keep them in memory, capped by
 *     max_upload for the whole body (Content-Length checked before the
 *     first byte is read, 413 at once; a chunked body is counted as it
 *     comes and the excess dropped unread into memory).
 *   - Memory stays bounded under load: a request that does work (an
 *     upload, a search, a thumbnail) counts in ctx->in_flight from its
 *     headers to its last byte sent; past max_requests the answer is 503
 *     before any body is read.  So the worst case is about max_requests
 *     times max_upload, plus one decoded picture per server thread.
 *   - Every thread may embed at any time: the models are shared
 *     read-only (siam.h), and the process sets siam_set_threads(1) once
 *     at start (cmd_serve.c), so an embedding runs on the request's own
 *     thread and nothing process-wide changes per request.
 *   - A request is received within ctx->request_timeout seconds of its
 *     headers, body included: an upload that drips in slower (or stops)
 *     is cut off, its connection closed and its place in in_flight
 *     freed.  The check runs on every piece of the body that arrives,
 *     and the connection's idle timeout is kept at the time left, so a
 *     body that stops arriving is cut at the deadline too.  (MHD reads
 *     the headers before we see the request: they are bounded by its
 *     buffer and by the idle timeout alone.)
 *   - A stop (SIGINT, SIGTERM in cmd_serve.c) closes the listening
 *     socket first (MHD_quiesce_daemon), then waits for the requests
 *     under way, their bodies and answers included, then stops.
 */
#include "config.h"
#include "serve/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define POST_BUFFER 65536
#define CONNECTION_TIMEOUT_S 30
#define CONNECTION_LIMIT 512

struct serve_server {
	struct MHD_Daemon *d;
	serve_ctx *ctx;
	long active; /* requests begun and not completed (atomic) */
};

struct serve_dbpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct sqlite3 **db;
	int *busy;
};

/* One request: what it has received so far. */
typedef struct req {
	serve_server *srv;
	struct MHD_PostProcessor *pp;
	serve_req q;
	size_t received;
	int work;      /* counted in ctx->in_flight */
	int fail;      /* an HTTP status to answer with, once the body is in */
	char why[200]; /* its message */
	int answered;
	double deadline; /* serve_now() by which the body must be in */
} req;

double serve_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void logf_(serve_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(serve_ctx *ctx, const char *fmt, ...)
{
	if (!ctx->log)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ctx->log(ctx->log_arg, msg);
}

/* ------------------------------------------------------------------ */
/* Database handles: one per server thread at most, opened read-only on
 * first use and kept (siam_knn keeps its matrix per connection). */

serve_dbpool *serve_dbpool_new(int n)
{
	serve_dbpool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->n = n < 1 ? 1 : n;
	p->db = calloc((size_t)p->n, sizeof *p->db);
	p->busy = calloc((size_t)p->n, sizeof *p->busy);
	if (!p->db || !p->busy) {
		free(p->db);
		free(p->busy);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	return p;
}

void serve_dbpool_free(serve_dbpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		siam_db_close(p->db[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->db);
	free(p->busy);
	free(p);
}

struct sqlite3 *serve_db_get(serve_ctx *ctx, siam_error *err)
{
	serve_dbpool *p = ctx->dbs;
	if (!ctx->dbpath || !p) {
		siam_errorf(err, SIAM_EINVAL, "no database: start siam serve "
		            "with --db FILE (made by siam index)");
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	int i;
	for (;;) {
		for (i = 0; i < p->n && p->busy[i]; i++)
			;
		if (i < p->n)
			break;
		pthread_cond_wait(&p->cond, &p->lock);
	}
	p->busy[i] = 1;
	pthread_mutex_unlock(&p->lock);
	if (!p->db[i] &&
	    siam_db_open(&p->db[i], ctx->dbpath, SIAM_DB_READONLY, err)) {
		p->db[i] = NULL;
		pthread_mutex_lock(&p->lock);
		p->busy[i] = 0;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	return p->db[i];
}

void serve_db_put(serve_ctx *ctx, struct sqlite3 *db)
{
	serve_dbpool *p = ctx->dbs;
	if (!p || !db)
		return;
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->n; i++)
		if (p->db[i] == db) {
			p->busy[i] = 0;
			break;
		}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------------ */
/* Answers */

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "";
	}
}

void serve_error(serve_resp *r, int status, const char *fmt, ...)
{
	char msg[SIAM_ERR_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	jbuf b = { 0 };
	jb_puts(&b, "{\"error\":");
	jb_str(&b, msg);
	jb_printf(&b, ",\"status\":%d,\"reason\":", status);
	jb_str(&b, status_text(status));
	jb_puts(&b, "}\n");
	r->status = status;
	r->type = "application/json";
	r->cache = 0;
	if (b.oom) {
		jb_free(&b);
		static const char oom[] = "{\"error\":\"out of memory\","
		                          "\"status\":500}\n";
		r->status = 500;
		r->body = (unsigned char *)oom;
		r->len = sizeof oom - 1;
		r->body_static = 1;
		return;
	}
	r->body = (unsigned char *)b.s;
	r->len = b.n;
	r->body_static = 0;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, serve_resp *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		r->len, r->body,
		r->body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		if (!r->body_static)
			free(r->body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r->type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	/* The page loads nothing from elsewhere: no CDN, no inline script. */
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        "default-src 'self'; img-src 'self' blob: "
	                        "data:; frame-ancestors 'none'");
	MHD_add_response_header(resp, "Cache-Control",
	                        r->cache ? "max-age=300" : "no-store");
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status,
                                  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, int status,
                                  const char *fmt, ...)
{
	char msg[SIAM_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	serve_resp r = { 0 };
	serve_error(&r, status, "%s", msg);
	return send_resp(c, &r);
}

/* The embedded page: "/" is /index.html. */
static int static_file(const char *url, serve_resp *r)
{
	if (!strcmp(url, "/"))
		url = "/index.html";
	for (const serve_file *f = serve_files; f->path; f++)
		if (!strcmp(f->path, url)) {
			r->status = 200;
			r->type = f->type;
			r->body = (unsigned char *)f->data;
			r->len = f->len;
			r->body_static = 1;
			r->cache = 0; /* a new siam may bring a new page */
			return 1;
		}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Multipart bodies into memory */

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind,
                                const char *key, const char *filename,
                                const char *content_type,
                                const char *transfer_encoding,
                                const char *data, uint64_t off, size_t size)
{
	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	req *r = cls;
	serve_req *q = &r->q;
	serve_field *f = q->nfields ? &q->fields[q->nfields - 1] : NULL;
	/* A part arrives in pieces: off is where this piece goes.  off 0
	 * starts a new part (unless the last part of this name is still
	 * empty: MHD may announce a part before its first byte). */
	if (!f || strcmp(f->name, key ? key : "") ||
	    (off == 0 && f->len > 0)) {
		if (q->nfields == SERVE_MAX_FIELDS) {
			r->fail = 400;
			snprintf(r->why, sizeof r->why, "more than %d form "
			         "fields", SERVE_MAX_FIELDS);
			return MHD_NO;
		}
		f = &q->fields[q->nfields++];
		snprintf(f->name, sizeof f->name, "%s", key ? key : "");
		snprintf(f->filename, sizeof f->filename, "%s",
		         filename ? filename : "");
	}
	if (off != f->len) {
		r->fail = 400;
		snprintf(r->why, sizeof r->why, "malformed multipart body");
		return MHD_NO;
	}
	if (size == 0)
		return MHD_YES;
	/* r->received already caps the total; realloc per piece keeps
	 * the copy at the size of the upload. */
	unsigned char *p = realloc(f->data, f->len + size + 1);
	if (!p) {
		r->fail = 503;
		snprintf(r->why, sizeof r->why, "out of memory");
		return MHD_NO;
	}
	memcpy(p + f->len, data, size);
	f->data = p;
	f->len += size;
	f->data[f->len] = 0;
	return MHD_YES;
}

/* ------------------------------------------------------------------ */
/* Requests */

/* The idle timeout of a connection: CONNECTION_TIMEOUT_S, or the
 * request timeout when that is shorter. */
static unsigned idle_base(const serve_ctx *ctx)
{
	return ctx->request_timeout < CONNECTION_TIMEOUT_S ?
	       (unsigned)ctx->request_timeout : CONNECTION_TIMEOUT_S;
}

/* Sets c's idle timeout: the usual one, or less when a request's
 * deadline, left seconds away (< 0: none), comes sooner (whole
 * seconds, at least 1). */
static void idle_timeout(const serve_ctx *ctx, struct MHD_Connection *c,
                         double left)
{
	unsigned t = idle_base(ctx);
	if (left >= 0 && left < t)
		t = left < 1 ? 1 : (unsigned)(left + 0.999);
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, t);
}

/* 1 if the Host header names this machine's loopback: 127.0.0.1,
 * localhost or [::1], with or without a port. */
static int loopback_host(const char *h)
{
	if (!h)
		return 0;
	size_t n;
	if (h[0] == '[') {
		const char *e = strchr(h, ']');
		if (!e || strncmp(h, "[::1]", 5))
			return 0;
		n = 5;
	} else {
		n = strcspn(h, ":");
		if (!((n == 9 && !strncasecmp(h, "localhost", 9)) ||
		      (n == 9 && !strncmp(h, "127.0.0.1", 9))))
			return 0;
	}
	if (!h[n])
		return 1;
	if (h[n] != ':' || !h[n + 1])
		return 0;
	for (const char *p = h + n + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload, size_t *upload_size,
                                  void **con_cls)
{
	(void)version;
	serve_server *srv = cls;
	serve_ctx *ctx = srv->ctx;
	req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		r->srv = srv;
		r->deadline = serve_now() + ctx->request_timeout;
		idle_timeout(ctx, c, ctx->request_timeout);
		__atomic_add_fetch(&srv->active, 1, __ATOMIC_SEQ_CST);
		r->q.method = method;
		r->q.url = url;
		r->q.query_k = MHD_lookup_connection_value(
			c, MHD_GET_ARGUMENT_KIND, "k");
		r->q.query_model = MHD_lookup_connection_value(
			c, MHD_GET_ARGUMENT_KIND, "model");
		int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
		int post = !strcmp(method, "POST");
		if (ctx->check_host &&
		    !loopback_host(MHD_lookup_connection_value(
			    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))) {
			r->answered = 1;
			return send_error(c, 403, "Host not allowed: siam serve "
			                  "listens on a loopback address and "
			                  "answers to 127.0.0.1, localhost or "
			                  "[::1] only");
		}
		if (!get && !post) {
			r->answered = 1;
			return send_error(c, 405, "%s: method %s not allowed",
			                  url, method);
		}
		if (serve_api_is_work(method, url)) {
			r->work = 1;
			long now = __atomic_add_fetch(&ctx->in_flight, 1,
			                              __ATOMIC_SEQ_CST);
			if (now > ctx->max_requests) {
				__atomic_add_fetch(&ctx->refused, 1,
				                   __ATOMIC_SEQ_CST);
				r->answered = 1;
				return send_error(c, 503, "busy: %d requests "
				                  "under way already; try again",
				                  ctx->max_requests);
			}
		}
		if (!serve_api_wants_body(method, url))
			return MHD_YES; /* answered below, with no body */
		const char *cl = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno || end == cl || *end ||
			    n > (unsigned long long)ctx->max_upload) {
				r->answered = 1;
				return send_error(c, 413, "upload of %s bytes "
				                  "is over the limit of %zu "
				                  "bytes (--max-upload)", cl,
				                  ctx->max_upload);
			}
		}
		r->pp = MHD_create_post_processor(c, POST_BUFFER, on_field, r);
		if (!r->pp) {
			r->answered = 1;
			return send_error(c, 400, "%s wants a multipart/form-"
			                  "data body (form fields with the "
			                  "images)", url);
		}
		return MHD_YES;
	}
	if (r->answered) {
		*upload_size = 0; /* MHD closes the connection after */
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		double left = r->deadline - serve_now();
		if (left < 0) {
			/* Too slow: close the connection (MHD cannot answer
			 * before the body is in); on_completed frees its
			 * place. */
			logf_(ctx, "%s %s: request timeout: the body was not "
			      "in after %d s (--request-timeout); connection "
			      "closed", method, url, ctx->request_timeout);
			return MHD_NO;
		}
		idle_timeout(ctx, c, left);
		if (r->fail)
			return MHD_YES;
		r->received += n;
		if (r->received > ctx->max_upload) {
			r->fail = 413;
			snprintf(r->why, sizeof r->why, "upload over the limit "
			         "of %zu bytes (--max-upload)", ctx->max_upload);
			/* Free what came so far: the rest is dropped unread. */
			for (int i = 0; i < r->q.nfields; i++) {
				free(r->q.fields[i].data);
				r->q.fields[i].data = NULL;
			}
			r->q.nfields = 0;
			return MHD_YES;
		}
		if (r->pp && MHD_post_process(r->pp, upload, n) != MHD_YES &&
		    !r->fail) {
			r->fail = 400;
			snprintf(r->why, sizeof r->why, "malformed multipart "
			         "body");
		}
		return MHD_YES;
	}
	/* The whole request is in. */
	r->answered = 1;
	idle_timeout(ctx, c, -1);
	if (r->fail)
		return send_error(c, r->fail, "%s", r->why);
	serve_resp resp = { 0 };
	if (!strncmp(url, "/api/", 5))
		serve_api(ctx, &r->q, &resp);
	else if (!strcmp(method, "POST"))
		serve_error(&resp, 405, "%s: method POST not allowed", url);
	else if (!static_file(url, &resp))
		serve_error(&resp, 404, "%s: no such page", url);
	if (resp.status >= 500)
		logf_(ctx, "%s %s: %d %.*s", method, url, resp.status,
		      resp.type && !strcmp(resp.type, "application/json") ?
		      (int)resp.len : 0, resp.body ? (char *)resp.body : "");
	return send_resp(c, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	serve_server *srv = cls;
	req *r = *con_cls;
	if (!r)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	for (int i = 0; i < r->q.nfields; i++)
		free(r->q.fields[i].data);
	if (r->work)
		__atomic_sub_fetch(&srv->ctx->in_flight, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&srv->ctx->served, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&srv->active, 1, __ATOMIC_SEQ_CST);
	free(r);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	serve_ctx *ctx = cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	if (ctx->log)
		ctx->log(ctx->log_arg, msg);
}

serve_server *serve_start(serve_ctx *ctx, const char *host, int port,
                          int *bound_port, siam_error *err)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	memset(&a4, 0, sizeof a4);
	memset(&a6, 0, sizeof a6);
	if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
		ctx->check_host = (ntohl(a4.sin_addr.s_addr) >> 24) == 127;
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)port);
		sa = (struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
		ctx->check_host = IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr);
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)port);
		sa = (struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		siam_errorf(err, SIAM_EINVAL, "%s: not an IP address (give "
		            "e.g. 127.0.0.1 or ::1)", host);
		return NULL;
	}
	serve_server *s = calloc(1, sizeof *s);
	if (!s) {
		siam_errorf(err, SIAM_ENOMEM, "out of memory");
		return NULL;
	}
	s->ctx = ctx;
	if (ctx->request_timeout <= 0)
		ctx->request_timeout = 60;
	ctx->started = serve_now();
	s->d = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, ctx, /* first */
		MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ctx->threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, idle_base(ctx),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_END);
	if (!s->d) {
		int e = errno;
		siam_errorf(err, SIAM_EIO, "cannot listen on %s port %d: %s",
		            host, port, e ? strerror(e) : "libmicrohttpd "
		            "refused to start");
		free(s);
		return NULL;
	}
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	if (bound_port)
		*bound_port = info ? info->port : port;
	return s;
}

void serve_stop(serve_server *s, double grace_s)
{
	if (!s)
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	double until = serve_now() + grace_s;
	while (__atomic_load_n(&s->active, __ATOMIC_SEQ_CST) > 0 &&
	       serve_now() < until) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(s->d);
	free(s);
}
