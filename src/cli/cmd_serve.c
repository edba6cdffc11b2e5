/*
 * cmd_serve.c -- siam serve: the web pages (compare two images, search
 * the index by upload, duplicate groups) and their JSON API, on
 * 127.0.0.1 unless told otherwise.  This file is the command: options,
 * loading the models and opening the database (read-only), the signals,
 * and the lines printed; the server is src/serve/.
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread before the
 * server's threads start (they inherit the mask) and taken with
 * sigwait() here, so a stop is an ordinary return on the main thread:
 * the server stops accepting, the requests under way finish, and the
 * command exits 0.
 */
#include "config.h"
#include "cli_db.h"
#include "serve/serve.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(int argc, char **argv, cli_ctx *cctx);

const struct cmd_entry cmd_serve_entry = {
	"serve", "web pages: compare two images, search, duplicates",
	"usage: siam serve [--db FILE] [--model NAME|FILE]... [--listen ADDR]\n"
	"                  [--threads N] [--max-upload SIZE] [--max-requests N]\n"
	"                  [--request-timeout SECONDS]\n"
	"\n"
	"Serves the web pages (Compare two images, Search the index by an\n"
	"upload, Duplicates) and the JSON API behind them (siam-serve(1)),\n"
	"then runs until Ctrl-C or SIGTERM; requests under way finish.\n"
	"Nothing is written: the database is opened read-only and uploads\n"
	"stay in memory.\n"
	"\n"
	"  -d, --db FILE          the index for Search and Duplicates (default\n"
	"                         siam.db when it exists; without one, only\n"
	"                         Compare)\n"
	"  -m, --model NAME|FILE  a model for Compare (repeatable; the first is\n"
	"                         the default); NAME is a model installed\n"
	"                         beside the default one (mnist, fashion, ...).\n"
	"                         Default: the default model and every model\n"
	"                         installed beside it\n"
	"  -l, --listen ADDR      HOST:PORT to listen on (default\n"
	"                         127.0.0.1:8080; port 0 picks a free one;\n"
	"                         [::1]:8080 for IPv6)\n"
	"  -t, --threads N        server threads (default: CPUs online)\n"
	"      --max-upload SIZE  largest request body, e.g. 20M (default),\n"
	"                         512K, 1G; larger uploads get 413\n"
	"      --max-requests N   requests doing work at once before the\n"
	"                         server answers 503 (default 4 per thread)\n"
	"      --request-timeout SECONDS\n"
	"                         longest time to receive one request, body\n"
	"                         included: a slower upload is cut off and\n"
	"                         its place freed (default 60)\n"
	"  -q, --quiet            print only the address line and errors\n"
	"  -h, --help             this help\n"
	"\n"
	"The first line printed is 'siam serve: listening on http://HOST:PORT/'.\n"
	"Exit status: 0 stopped by a signal, 2 error.\n", run,
	/* the models are this command's own (several, for the menu) */
	CLI_DB | CLI_DB_READONLY | CLI_DB_OPTIONAL
};

static void on_log(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "siam serve: %s\n", msg);
}

/* "20M" -> bytes; -1 if malformed. */
static long long parse_size(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double mul = 1;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': mul = 1024; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * mul > 4e9 || v * mul < 1)
		return -1;
	return (long long)(v * mul);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into host and port. */
static int parse_listen(const char *s, char *host, size_t hlen, int *port)
{
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		snprintf(host, hlen, "%.*s", (int)(close - s - 1), s + 1);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(colon - s), s);
		if (!host[0])
			snprintf(host, hlen, "127.0.0.1");
	}
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

/* The menu name of a model file: its base name without ".siam". */
static void model_name(const char *path, char *name, size_t len)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t n = strlen(b);
	if (n > 5 && !strcmp(b + n - 5, ".siam"))
		n -= 5;
	snprintf(name, len, "%.*s", (int)n, b);
}

static int add_model(serve_ctx *ctx, int *cap, const char *path)
{
	char name[64];
	model_name(path, name, sizeof name);
	for (int i = 0; i < ctx->nmodels; i++)
		if (!strcmp(ctx->models[i].name, name))
			return 0; /* one per name: the first wins */
	if (ctx->nmodels == *cap) {
		int c = *cap ? 2 * *cap : 8;
		serve_model *p = realloc(ctx->models, (size_t)c * sizeof *p);
		if (!p) {
			cli_error("serve", "out of memory");
			return -1;
		}
		ctx->models = p;
		*cap = c;
	}
	serve_model *sm = &ctx->models[ctx->nmodels];
	memset(sm, 0, sizeof *sm);
	snprintf(sm->name, sizeof sm->name, "%s", name);
	snprintf(sm->path, sizeof sm->path, "%s", path);
	siam_error err = { 0, "" };
	if (siam_model_load(&sm->m, path, &err)) {
		cli_error("serve", "%s", err.msg);
		return -1;
	}
	ctx->nmodels++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every other *.siam in the directory of the default model, by name:
 * the installed models (mnist, fashion, ...) for the menu.  A file that
 * does not load is reported and left out. */
static void add_siblings(serve_ctx *ctx, int *cap, const char *def)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", def);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof dir, ".");
	DIR *d = opendir(dir);
	if (!d)
		return;
	char **names = NULL;
	size_t n = 0, ncap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l <= 5 || strcmp(e->d_name + l - 5, ".siam"))
			continue;
		if (n == ncap) {
			ncap = ncap ? 2 * ncap : 16;
			char **p = realloc(names, ncap * sizeof *p);
			if (!p)
				break;
			names = p;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char path[4096 + 256];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		(void)add_model(ctx, cap, path); /* reported; not fatal */
		free(names[i]);
	}
	free(names);
}

/* --model NAME: a file NAME.siam beside the default model. */
static int resolve_model(const char *arg, char *path, size_t len)
{
	if (strchr(arg, '/') || access(arg, F_OK) == 0) {
		snprintf(path, len, "%s", arg);
		return 0;
	}
	char def[4096];
	if (cli_model_path("serve", NULL, NULL, 0, def, sizeof def))
		return -1;
	char *slash = strrchr(def, '/');
	snprintf(path, len, "%.*s%s%s.siam", slash ? (int)(slash - def) : 0,
	         def, slash ? "/" : "", arg);
	if (access(path, F_OK) != 0) {
		cli_error("serve", "--model %s: no such file, nor %s", arg,
		          path);
		return -1;
	}
	return 0;
}

static int run(int argc, char **argv, cli_ctx *cctx)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "model", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-upload", required_argument, NULL, 256 },
		{ "max-requests", required_argument, NULL, 257 },
		{ "request-timeout", required_argument, NULL, 258 },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *me = &cmd_serve_entry;
	const char *dbpath = NULL, *listen = "127.0.0.1:8080";
	const char **model_args = NULL;
	int nmodel_args = 0, quiet = 0, c;
	long threads = 0, max_req = 0, req_timeout = 60;
	long long max_upload = 20LL << 20;
	serve_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	if (!(model_args = calloc((size_t)argc + 1, sizeof *model_args))) {
		cli_error("serve", "out of memory");
		return SIAM_EXIT_ERROR;
	}
	int status = SIAM_EXIT_ERROR;
	while ((c = getopt_long(argc, argv, "d:m:l:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dbpath = optarg; break;
		case 'm': model_args[nmodel_args++] = optarg; break;
		case 'l': listen = optarg; break;
		case 't':
			if (cli_parse_int(me, "--threads", optarg, 1, 256,
			                  &threads))
				goto done;
			break;
		case 256:
			if ((max_upload = parse_size(optarg)) < 0) {
				cli_usage_error(me, "--max-upload %s: want a "
				                "size such as 20M, 512K or 1G",
				                optarg);
				goto done;
			}
			break;
		case 257:
			if (cli_parse_int(me, "--max-requests", optarg, 1,
			                  100000, &max_req))
				goto done;
			break;
		case 258:
			if (cli_parse_int(me, "--request-timeout", optarg, 1,
			                  86400, &req_timeout))
				goto done;
			break;
		case 'q': quiet = 1; break;
		case 'h':
			status = cli_help(me);
			goto done;
		default:
			cli_usage_error(me, "unknown or incomplete option '%s'",
			                argv[optind - 1]);
			goto done;
		}
	}
	if (optind != argc) {
		cli_usage_error(me, "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	char host[256];
	int port;
	if (parse_listen(listen, host, sizeof host, &port)) {
		cli_usage_error(me, "--listen %s: want HOST:PORT, e.g. "
		                "127.0.0.1:8080", listen);
		goto done;
	}
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? n : 1;
	}
	/* Each request embeds on its own server thread: one thread per
	 * net workspace, set once for the process. */
	siam_set_threads(1);
	ctx.threads = (int)threads;
	ctx.max_requests = max_req ? (int)max_req : 4 * (int)threads;
	ctx.max_upload = (size_t)max_upload;
	ctx.request_timeout = (int)req_timeout;
	ctx.log = on_log;
	pthread_mutex_init(&ctx.dups_lock, NULL);

	/* Models: the ones named, else the default and its siblings. */
	int mcap = 0;
	if (nmodel_args) {
		for (int i = 0; i < nmodel_args; i++) {
			char path[4096];
			if (resolve_model(model_args[i], path, sizeof path) ||
			    add_model(&ctx, &mcap, path))
				goto done;
		}
	} else {
		char def[4096];
		if (cli_model_path("serve", NULL, NULL, 0, def, sizeof def) ||
		    add_model(&ctx, &mcap, def))
			goto done;
		add_siblings(&ctx, &mcap, def);
	}

	/* The database (cli_setup: read-only; siam.db only when it
	 * exists).  Its current model embeds search queries; the requests
	 * open connections of their own (serve_db_get). */
	cctx->db_path = dbpath;
	if (cli_setup(cctx))
		goto done;
	/* Writes nothing, not even siam_knn's sidecar (it maps one that
	 * siam index left; SIAM_KNN_SIDECAR in siam-sql(7)).  Before any
	 * thread: setenv is not thread-safe. */
	setenv("SIAM_KNN_SIDECAR", "read", 0);
	if (cctx->db) {
		siam_error err = { 0, "" };
		int64_t cur = 0;
		if (siam_db_current_model(cctx->db, &cur, &err) ||
		    (cur && siam_db_load_model(cctx->db, cur, &ctx.db_model,
		                               &ctx.db_model_id, &err))) {
			cli_error("serve", "%s", err.msg);
			goto done;
		}
		ctx.dbpath = cctx->db_used;
		if (!(ctx.dbs = serve_dbpool_new((int)threads))) {
			cli_error("serve", "out of memory");
			goto done;
		}
		if (!cur && !quiet)
			fprintf(stderr, "siam serve: %s has no model yet: "
			        "Search and Duplicates are empty until siam "
			        "index runs\n", ctx.dbpath);
	}

	/* Signals: blocked here, so every server thread inherits the mask,
	 * and taken by sigwait below. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	siam_error err = { 0, "" };
	int bound = 0;
	serve_server *srv = serve_start(&ctx, host, port, &bound, &err);
	if (!srv) {
		cli_error("serve", "%s", err.msg);
		goto done;
	}
	int v6 = strchr(host, ':') != NULL;
	printf("siam serve: listening on http://%s%s%s:%d/\n", v6 ? "[" : "",
	       host, v6 ? "]" : "", bound);
	fflush(stdout);
	if (!quiet) {
		fprintf(stderr, "siam serve: %d model%s (", ctx.nmodels,
		        ctx.nmodels == 1 ? "" : "s");
		for (int i = 0; i < ctx.nmodels; i++)
			fprintf(stderr, "%s%s", i ? ", " : "",
			        ctx.models[i].name);
		fprintf(stderr, "), %s%s, %d threads, uploads up to %lld "
		        "bytes; Ctrl-C stops\n", ctx.dbpath ? "database " :
		        "no database", ctx.dbpath ? ctx.dbpath : "",
		        ctx.threads, max_upload);
	}
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
		fprintf(stderr, "siam serve: warning: listening on all "
		        "interfaces: anyone who can reach this machine can "
		        "use the pages and see the indexed paths and images\n");
	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	if (!quiet)
		fprintf(stderr, "siam serve: %s: stopping after the requests "
		        "under way\n", sig == SIGINT ? "interrupt" : "SIGTERM");
	serve_stop(srv, 60);
	status = SIAM_EXIT_OK;
done:
	for (int i = 0; i < ctx.nmodels; i++)
		siam_model_free(ctx.models[i].m);
	free(ctx.models);
	siam_model_free(ctx.db_model);
	serve_dbpool_free(ctx.dbs);
	free(ctx.dups_json);
	free(model_args);
	return status;
}
