/*
 * fuzz_serve.c -- libFuzzer target: siam serve's request handling, end
 * to end.  A server (src/serve/, on libmicrohttpd) listens on a loopback
 * port of this process, with a small model and a database of a few
 * images; each input is sent to it as one HTTP request over a new
 * connection and the answer read to its end.  That runs MHD's request
 * line, header and multipart parsing and siam's own: the Host check,
 * the form fields (on_field), ?k= and ?model=, /api/image/ID, the
 * uploads decoded and embedded, search and verify.
 *
 * The input is the request as text, split at its first blank line into
 * head and body; the harness drops any Content-Length, Transfer-Encoding
 * and Connection header of the head and writes the right length and
 * "Connection: close" itself, so that every request is whole (a wrong
 * length would only make the server wait for bytes that never come).
 * Any answer is fine; a crash, a leak, undefined behaviour or no answer
 * within 10 s (abort) is not.
 */
#include "serve/serve.h"
#include "siam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static serve_ctx ctx;
static serve_model model;
static int port;

/* An 8x8 grey PNG (stb writes none here: these bytes are one). */
static const unsigned char png8[] = {
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
	0x00, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0xe1, 0x64, 0xe1, 0x57,
	0x00, 0x00, 0x00, 0x0f, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63,
	0x60, 0xc0, 0x0b, 0x18, 0xf0, 0x01, 0x00, 0x0c, 0x40, 0x00, 0x41,
	0x77, 0x9e, 0x16, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
	0x44, 0xae, 0x42, 0x60, 0x82,
};

static char dir[] = "/tmp/siam-fuzz-serve-XXXXXX";

/* At exit (libFuzzer's normal end, -runs=N, -max_total_time) the
 * temporary folder goes (it is flat: the database and a few images);
 * a campaign starts the target many times and each left one behind. */
static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[sizeof dir + 260];
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void setup(void)
{
	siam_error err = { 0, "" };
	sqlite3 *db = NULL;
	int64_t id;
	static char dbpath[64];
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	snprintf(dbpath, sizeof dbpath, "%s/db", dir);
	if (siam_model_create(&model.m, "in=1x8x8 fc4 l2", &err) ||
	    siam_db_open(&db, dbpath, SIAM_DB_CREATE, &err) ||
	    siam_db_put_model(db, model.m, "fuzz", &id, &err))
		abort();
	snprintf(model.name, sizeof model.name, "fuzz");
	for (int i = 0; i < 8; i++) {
		float e[4] = { (float)(i % 4), (float)(i / 4), 0.5f, -1.0f };
		char path[96];
		siam_db_image im;
		snprintf(path, sizeof path, "%s/%d.png", dir, i);
		if (i < 4) { /* the others are gone since they were indexed */
			FILE *f = fopen(path, "wb");
			if (!f || fwrite(png8, 1, sizeof png8, f) != sizeof png8)
				abort();
			fclose(f);
		}
		memset(&im, 0, sizeof im);
		im.path = path;
		im.size = im.mtime_ns = SIAM_DB_UNKNOWN;
		im.model_id = id;
		im.embedding = e;
		im.dim = 4;
		im.has_phash = 1;
		im.phash = (uint64_t)(i / 2) * 0x9e3779b97f4a7c15ull;
		if (siam_db_put_image(db, &im, NULL, &err))
			abort();
	}
	sqlite3_close(db);
	ctx.models = &model;
	ctx.nmodels = 1;
	ctx.dbpath = dbpath;
	if (siam_db_open(&db, dbpath, 0, &err) ||
	    siam_db_load_model(db, id, &ctx.db_model, &ctx.db_model_id, &err))
		abort();
	sqlite3_close(db);
	ctx.threads = 1;
	ctx.max_requests = 4;
	ctx.max_upload = 1 << 20;
	ctx.check_host = 1;
	ctx.started = serve_now();
	pthread_mutex_init(&ctx.dups_lock, NULL);
	if (!(ctx.dbs = serve_dbpool_new(ctx.threads)) ||
	    !serve_start(&ctx, "127.0.0.1", 0, &port, &err)) {
		fprintf(stderr, "fuzz_serve: %s\n", err.msg);
		abort();
	}
}

/* 1 if line (up to its end) starts with header name h: (any case). */
static int is_header(const uint8_t *line, size_t n, const char *h)
{
	size_t k = strlen(h);
	return n >= k && !strncasecmp((const char *)line, h, k);
}

/* The request: the head without length, encoding and connection
 * headers, then ours, then the body.  malloc'ed, *out bytes. */
static char *request(const uint8_t *d, size_t len, size_t *out)
{
	size_t hl = len, bs = len;
	for (size_t i = 0; i + 4 <= len; i++)
		if (!memcmp(d + i, "\r\n\r\n", 4)) {
			hl = i;
			bs = i + 4;
			break;
		}
	size_t bl = len - bs;
	char *r = malloc(hl + bl + 96);
	size_t n = 0;
	if (!r)
		abort();
	for (size_t i = 0; i < hl;) {
		size_t e = i;
		while (e < hl && d[e] != '\n')
			e++;
		if (e < hl)
			e++; /* with its \n */
		if (!is_header(d + i, e - i, "content-length:") &&
		    !is_header(d + i, e - i, "transfer-encoding:") &&
		    !is_header(d + i, e - i, "connection:")) {
			memcpy(r + n, d + i, e - i);
			n += e - i;
		}
		i = e;
	}
	if (n && r[n - 1] != '\n') {
		r[n++] = '\r';
		r[n++] = '\n';
	}
	n += (size_t)sprintf(r + n, "Content-Length: %zu\r\n"
	                     "Connection: close\r\n\r\n", bl);
	memcpy(r + n, d + bs, bl);
	*out = n + bl;
	return r;
}

/* A new connection to the server.  Thousands a second leave the
 * server's ends in TIME_WAIT, and on loopback those hold the client's
 * ephemeral ports too (a campaign ran out of them: EADDRNOTAVAIL; the
 * reset of close() below frees them, a short wait covers the rest), and
 * libFuzzer's timer signal can interrupt connect (EINTR; the connection
 * then goes on in the background, so the socket is dropped and made
 * again).  Any other failure is a server that stopped listening. */
static int connect_server(void)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0;; tries++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			perror("fuzz_serve: socket");
			abort();
		}
		if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
			return s;
		int e = errno;
		close(s);
		if ((e != EADDRNOTAVAIL && e != EINTR) || tries == 10000) {
			errno = e;
			perror("fuzz_serve: connect");
			abort();
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char buf[1 << 16];
	size_t n, off = 0;
	if (!ctx.models)
		setup();
	if (len > (1 << 18))
		return 0;
	char *req = request(data, len, &n);
	int s = connect_server();
	/* The server may answer (and close) before reading it all: a
	 * failed send is fine, the answer is what counts. */
	while (off < n) {
		ssize_t k = send(s, req + off, n - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue; /* libFuzzer's timer, not the server */
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	free(req);
	for (;;) {
		struct pollfd p = { s, POLLIN, 0 };
		int r = poll(&p, 1, 10000);
		if (r == 0) {
			fprintf(stderr, "fuzz_serve: no answer in 10 s\n");
			abort();
		}
		ssize_t k = recv(s, buf, sizeof buf, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
	}
	/* Close with a reset (linger 0): it ends the server's TIME_WAIT
	 * for this pair of ports at once, so the ports are free again. */
	setsockopt(s, SOL_SOCKET, SO_LINGER,
	           &(struct linger){ .l_onoff = 1, .l_linger = 0 },
	           sizeof(struct linger));
	close(s);
	return 0;
}
