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

static int run(int argc, char **argv);

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
	"--max-distance), 2 error.\n", run
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

/* 1 and the blob if an image with these bytes is stored for model_id,
 * 0 if not, -1 on a database error (printed). */
static int stored_embedding(sqlite3 *db, const void *data, size_t len,
                            int64_t model_id, int dim, unsigned char *blob)
{
	char hex[65];
	sqlite3_stmt *st = NULL;
	int found = 0;
	siam_sha256_hex(hex, data, len);
	if (sqlite3_prepare_v2(db, "SELECT embedding FROM images WHERE"
	                       " content_hash = ?1 AND model_id = ?2 AND"
	                       " length(embedding) = ?3 LIMIT 1", -1, &st,
	                       NULL) != SQLITE_OK) {
		cli_error("query", "%s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, model_id);
	sqlite3_bind_int(st, 3, dim * 4);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		memcpy(blob, sqlite3_column_blob(st, 0), (size_t)dim * 4);
		found = 1;
	} else if (r != SQLITE_DONE) {
		cli_error("query", "%s", sqlite3_errmsg(db));
		found = -1;
	}
	sqlite3_finalize(st);
	return found;
}

typedef struct hit {
	long long id;
	double d;
	char *path, *label;
} hit;

static int hit_cmp(const void *pa, const void *pb)
{
	const hit *a = pa, *b = pb;
	if (a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static int run(int argc, char **argv)
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
	optind = 0;
	opterr = 0;
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
	sqlite3_stmt *st = NULL;
	siam_model *m = NULL;
	siam_image img = { 0, 0, 0, NULL };
	float *q = NULL;
	unsigned char *blob = NULL, *data = NULL;
	size_t len = 0;
	hit *hits = NULL;
	int nhits = 0;
	int64_t model_id = 0;
	siam_error err = { 0, "" };
	siam_fetch_opts fo;
	siam_fetch_opts_default(&fo);

	if (!(db = cli_db_open("query", dbpath, SIAM_DB_READONLY)))
		goto done;
	if (cli_db_model("query", db, model_arg, 0, &m, &model_id, NULL, 0))
		goto done;
	if (!model_id) {
		cli_error("query", "%s: nothing indexed with this model; run "
		          "'siam index%s%s' first", dbpath,
		          model_arg ? " --model " : "", model_arg ? model_arg : "");
		goto done;
	}
	int dim = siam_net_embed_dim(m->net);
	q = malloc((size_t)dim * sizeof *q);
	blob = malloc((size_t)dim * 4);
	if (!q || !blob) {
		cli_error("query", "out of memory");
		goto done;
	}
	if (load_bytes(qarg, &fo, &data, &len))
		goto done;
	/* An image already indexed with this model (same bytes) is
	 * searched with its stored embedding: the network run on a batch
	 * of one rounds differently from the batch that indexed it, and
	 * the image itself should come out at distance 0, not 1e-7. */
	int found = stored_embedding(db, data, len, model_id, dim, blob);
	if (found < 0)
		goto done;
	if (found) {
		for (int i = 0; i < dim; i++) {
			uint32_t u = (uint32_t)blob[4 * i] |
			             (uint32_t)blob[4 * i + 1] << 8 |
			             (uint32_t)blob[4 * i + 2] << 16 |
			             (uint32_t)blob[4 * i + 3] << 24;
			memcpy(&q[i], &u, 4);
		}
	} else {
		const char *name = strcmp(qarg, "-") ? qarg : "standard input";
		if (siam_image_decode(&img, data, len, name, NULL, &err)) {
			cli_error("query", "%s", err.msg);
			goto done;
		}
		if (siam_model_embed_image(m, &img, q, &err)) {
			cli_error("query", "%s: %s", name, err.msg);
			goto done;
		}
		for (int i = 0; i < dim; i++) { /* float32 little-endian */
			uint32_t u;
			memcpy(&u, &q[i], 4);
			for (int b = 0; b < 4; b++)
				blob[4 * i + b] = (unsigned char)(u >> (8 * b));
		}
	}
	/* siam_knn finds the k nearest; their distances are then computed
	 * again here, directly from the stored vectors: the scan's fast
	 * form (|q|^2 + |x|^2 - 2 q.x) leaves rounding noise of ~1e-7,
	 * and the image itself should come out at distance 0, exactly. */
	if (sqlite3_prepare_v2(db,
		"SELECT k.image_id, i.embedding, i.path, i.label"
		" FROM siam_knn(?1, ?2, ?3) AS k"
		" JOIN images AS i ON i.id = k.image_id"
		" ORDER BY k.distance, k.image_id", -1, &st, NULL) != SQLITE_OK) {
		cli_error("query", "%s", sqlite3_errmsg(db));
		goto done;
	}
	sqlite3_bind_blob(st, 1, blob, dim * 4, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, k);
	sqlite3_bind_int64(st, 3, model_id);
	double t = have_thr ? thr : m->threshold;
	if (!(hits = calloc((size_t)k, sizeof *hits))) {
		cli_error("query", "out of memory");
		goto done;
	}
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW && nhits < k) {
		const unsigned char *e = sqlite3_column_blob(st, 1);
		if (sqlite3_column_bytes(st, 1) != dim * 4 || !e)
			continue;
		double ss = 0;
		for (int i = 0; i < dim; i++) {
			uint32_t u = (uint32_t)e[4 * i] |
			             (uint32_t)e[4 * i + 1] << 8 |
			             (uint32_t)e[4 * i + 2] << 16 |
			             (uint32_t)e[4 * i + 3] << 24;
			float f;
			memcpy(&f, &u, 4);
			double dd = (double)f - q[i];
			ss += dd * dd;
		}
		hit *h = &hits[nhits];
		h->d = sqrt(ss);
		if (h->d > maxd)
			continue;
		h->id = sqlite3_column_int64(st, 0);
		const char *p = (const char *)sqlite3_column_text(st, 2);
		const char *l = (const char *)sqlite3_column_text(st, 3);
		h->path = strdup(p ? p : "");
		h->label = l ? strdup(l) : NULL;
		if (!h->path || (l && !h->label)) {
			free(h->path);
			free(h->label);
			cli_error("query", "out of memory");
			goto done;
		}
		nhits++;
	}
	if (r != SQLITE_DONE && r != SQLITE_ROW) {
		cli_error("query", "%s", sqlite3_errmsg(db));
		goto done;
	}
	qsort(hits, (size_t)nhits, sizeof *hits, hit_cmp);

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
		long long id = hits[i].id;
		double d = hits[i].d;
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
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("query", "cannot write the results");
		goto done;
	}
	status = n ? SIAM_EXIT_OK : SIAM_EXIT_NO;
done:
	sqlite3_finalize(st);
	siam_image_release(&img);
	for (int i = 0; i < nhits; i++) {
		free(hits[i].path);
		free(hits[i].label);
	}
	free(hits);
	free(q);
	free(blob);
	free(data);
	siam_model_free(m);
	siam_db_close(db);
	return status;
}
