/*
 * cmd_query.c -- siam query IMG: the k nearest indexed images.
 *
 * The query image (a path, '-' or an http(s) URL) is embedded with the
 * model whose embeddings are searched: the database's current model, or
 * the one --model names (which must have indexed something: embeddings
 * of different models are never compared).  The search is the siam_knn
 * virtual table, exact, ordered by distance then image id.
 */
#include "config.h"
#include "cli_db.h"
#include "siam_nn.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_query_entry = {
	"query", "the k nearest indexed images to an image",
	"usage: siam query [OPTIONS] IMG\n"
	"\n"
	"Prints the k indexed images nearest to IMG (a path, '-' for\n"
	"standard input, or an http(s) URL), nearest first, with their\n"
	"distance and whether they match under the model's threshold.\n"
	"\n"
	"  -d, --db FILE          the database (default siam.db)\n"
	"  -m, --model FILE       search the embeddings of this model (it\n"
	"                         must have been used by siam index; default:\n"
	"                         the database's model)\n"
	"  -k, --k N              how many (default 10, at most 10000)\n"
	"  -D, --max-distance D   only images at distance D or less\n"
	"  -t, --threshold T      call a match below T instead of the\n"
	"                         model's calibrated threshold\n"
	"  -j, --json             one JSON object\n"
	"  -h, --help             this help\n"
	"\n"
	"Text output: one line per image: rank, distance, 'match' or '-',\n"
	"image id, label (or '-') and path (C-quoted if it holds control\n"
	"characters).\n"
	"\n"
	"Exit status: 0 some images found, 1 none (empty index or none within\n"
	"--max-distance), 2 error.\n", run,
	CLI_DB | CLI_DB_READONLY | CLI_MODEL
};

/* Reads the query image's bytes: an http(s) URL through siam_fetch,
 * '-' from standard input, else a regular file (a FIFO or device is
 * refused without blocking).  Prints the error and returns -1. */
static int load_bytes(const char *arg, const siam_fetch_opts *fo,
                      unsigned char **data, size_t *len)
{
	siam_error err = { 0, "" };
	size_t max = SIAM_DEFAULT_MAX_BYTES, cap = 0, n = 0;
	unsigned char *buf = NULL;
	int fd = -1;
	*data = NULL;
	*len = 0;
	if (siam_is_url(arg)) {
		void *p = NULL;
		if (siam_fetch(arg, fo, &p, len, &err)) {
			cli_error("query", "%s", err.msg);
			return -1;
		}
		*data = p;
		return 0;
	}
	if (!strcmp(arg, "-")) {
		fd = STDIN_FILENO;
	} else {
		struct stat st;
		fd = open(arg, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			cli_error("query", "%s: %s", arg, strerror(errno));
			goto fail;
		}
		if (!S_ISREG(st.st_mode)) {
			cli_error("query", "%s: not a regular file", arg);
			goto fail;
		}
	}
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 65536;
			unsigned char *nb = realloc(buf, ncap);
			if (!nb) {
				cli_error("query", "out of memory");
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			cli_error("query", "%s: %s", arg, strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > max) {
			cli_error("query", "%s: more than %zu bytes", arg, max);
			goto fail;
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*data = buf;
	*len = n;
	return 0;
fail:
	if (fd >= 0 && fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return -1;
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "model", required_argument, NULL, 'm' },
		{ "k", required_argument, NULL, 'k' },
		{ "max-distance", required_argument, NULL, 'D' },
		{ "threshold", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *me = &cmd_query_entry;
	const char *dbpath = CLI_DEFAULT_DB, *model_arg = NULL;
	long k = 10;
	double maxd = INFINITY, thr = 0;
	int json = 0, have_thr = 0, c;
	while ((c = getopt_long(argc, argv, "d:m:k:D:t:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dbpath = optarg; break;
		case 'm': model_arg = optarg; break;
		case 'k':
			if (cli_parse_int(me, "-k", optarg, 1, SIAM_KNN_MAX_K, &k))
				return SIAM_EXIT_ERROR;
			break;
		case 'D':
			if (cli_parse_float(me, "--max-distance", optarg, 0, 1e30,
			                    &maxd))
				return SIAM_EXIT_ERROR;
			break;
		case 't':
			if (cli_parse_float(me, "--threshold", optarg, 0, 1e30,
			                    &thr))
				return SIAM_EXIT_ERROR;
			have_thr = 1;
			break;
		case 'j': json = 1; break;
		case 'h': return cli_help(me);
		default:
			return cli_usage_error(me, "unknown or incomplete option "
			                       "'%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(me, "want one query image, got %d",
		                       argc - optind);
	const char *qarg = argv[optind];

	int status = SIAM_EXIT_ERROR;
	sqlite3 *db = NULL;
	siam_model *m = NULL;
	siam_image img = { 0 };
	float *q = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	siam_db_hit *hits = NULL;
	int nhits = 0;
	int64_t model_id = 0;
	siam_error err = { 0, "" };
	siam_fetch_opts fo;
	siam_fetch_opts_default(&fo);

	ctx->db_path = dbpath;
	ctx->model_arg = model_arg;
	ctx->images = &qarg;
	ctx->nimages = 1;
	if (cli_setup(ctx))
		goto done;
	db = ctx->db;
	m = ctx->model;
	model_id = ctx->model_id;
	if (!model_id) {
		cli_error("query", "%s: nothing indexed with this model; run "
		          "'siam index%s%s' first", dbpath,
		          model_arg ? " --model " : "", model_arg ? model_arg : "");
		goto done;
	}
	int dim = siam_net_embed_dim(m->net);
	q = malloc((size_t)dim * sizeof *q);
	if (!q) {
		cli_error("query", "out of memory");
		goto done;
	}
	if (load_bytes(qarg, &fo, &data, &len))
		goto done;
	/* An image already indexed with this model (same bytes) is
	 * searched with its stored embedding: no decode and no network
	 * run, and the image itself comes out at distance 0 even in a
	 * database written before embeddings stopped depending on their
	 * batch (bb61bac; before it, a batch of one rounded differently
	 * from the batch that indexed the image: 1e-7, not 0). */
	char hex[65];
	int found = 0;
	siam_sha256_hex(hex, data, len);
	if (siam_db_find_embedding(db, hex, model_id, q, dim, &found, &err)) {
		cli_error("query", "%s", err.msg);
		goto done;
	}
	if (!found) {
		const char *name = strcmp(qarg, "-") ? qarg : "standard input";
		/* Decoded no larger than the model needs, as siam index
		 * decoded what it stored. */
		siam_image_limits lim;
		siam_image_limits_default(&lim);
		siam_image_limits_want(&lim, &m->pre);
		if (siam_image_decode(&img, data, len, name, &lim, &err)) {
			cli_error("query", "%s", err.msg);
			goto done;
		}
		if (siam_model_embed_image(m, &img, q, &err)) {
			cli_error("query", "%s: %s", name, err.msg);
			goto done;
		}
	}
	/* siam_knn finds the k nearest; siam_db_knn computes their
	 * distances again from the stored vectors, so that the image itself
	 * comes out at distance 0, exactly. */
	double t = have_thr ? thr : m->threshold;
	int nall = 0;
	if (siam_db_knn(db, model_id, q, dim, (int)k, &hits, &nall, &err)) {
		cli_error("query", "%s", err.msg);
		goto done;
	}
	/* --max-distance drops the farther ones; the rest keep their order */
	for (int i = 0; i < nall; i++) {
		if (hits[i].distance > maxd) {
			free(hits[i].path);
			free(hits[i].label);
			continue;
		}
		hits[nhits++] = hits[i];
	}

	if (json) {
		printf("{\"query\":");
		cli_json_string(stdout, qarg);
		printf(",\"database\":");
		cli_json_string(stdout, dbpath);
		printf(",\"model_id\":%lld,\"threshold\":%.6g,\"k\":%ld,"
		       "\"results\":[", (long long)model_id, t, k);
	}
	int n = 0;
	for (int i = 0; i < nhits; i++) {
		long long id = (long long)hits[i].image_id;
		double d = hits[i].distance;
		const char *path = hits[i].path, *label = hits[i].label;
		int match = d < t;
		n++;
		if (json) {
			printf("%s{\"rank\":%d,\"image_id\":%lld,\"distance\":%.6g,"
			       "\"match\":%s,\"label\":", n > 1 ? "," : "", n, id,
			       d, match ? "true" : "false");
			if (label)
				cli_json_string(stdout, label);
			else
				fputs("null", stdout);
			printf(",\"path\":");
			cli_json_string(stdout, path);
			putchar('}');
		} else {
			printf("%3d  %.4f  %-5s  %6lld  ", n, d,
			       match ? "match" : "-", id);
			cli_text_path(stdout, label ? label : "-");
			putchar(' ');
			cli_text_path(stdout, path);
			putchar('\n');
		}
	}
	if (json)
		printf("]}\n");
	else if (n == 0)
		fprintf(stderr, "siam query: no indexed image%s\n",
		        isinf(maxd) ? "" : " within --max-distance");
	status = n ? SIAM_EXIT_OK : SIAM_EXIT_NO;
done:
	siam_image_release(&img);
	siam_db_hits_free(hits, nhits);
	free(q);
	free(data);
	return status;
}
