/*
 * cmd_index.c -- siam index PATH... [--urls FILE]: embed every image
 * under the folders (and at the URLs) into the database.
 *
 * The work is siam_index_run's (src/index/indexer.c); this file turns
 * options into siam_index_opts, draws the progress bar, turns Ctrl-C
 * into a clean stop (what is done stays committed) and prints the
 * summary.  Exit status: 0 all good, 3 finished with per-file errors
 * (recorded in the errors table), 2 fatal or interrupted.
 */
#include "config.h"
#include "cli_db.h"
#include "mpi/world.h"
#ifdef SIAM_MPI
#include "mpi/index.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_index_entry = {
	"index", "embed the images under folders (and URLs) into the database",
	"usage: siam index [OPTIONS] PATH... [--urls FILE]\n"
	"\n"
	"Walks each PATH recursively and embeds every image into the\n"
	"database: what is an image is decided by its content, not its\n"
	"name.  Incremental: a file with the stored size and modification\n"
	"time is skipped, one with the stored content is not decoded again.\n"
	"Unreadable and undecodable files are recorded in the errors table\n"
	"and the run goes on.  Interrupted (Ctrl-C, kill -9), it keeps what\n"
	"it committed and the next run continues.\n"
	"\n"
	"  -d, --db FILE        the database (default siam.db; created)\n"
	"  -m, --model FILE     embed with this model and make it the\n"
	"                       database's model (default: the database's\n"
	"                       model, else $SIAM_MODEL, else digits when\n"
	"                       the images are without colour and at most\n"
	"                       512 pixels a side, else photo; FILE may be\n"
	"                       photo, digits, digits-0-4 or fashion)\n"
	"  -u, --urls FILE      also index the http(s) URLs listed in FILE,\n"
	"                       one a line ('-': standard input; empty lines\n"
	"                       and lines starting with # are ignored)\n"
	"      --prune          delete the rows of files under PATH that are\n"
	"                       gone\n"
	"  -t, --threads N      decoding threads (default: CPUs online)\n"
	"  -b, --batch N        images per embedding batch (default 128)\n"
	"      --timeout S      total time allowed per URL (default 60)\n"
	"      --max-bytes N    refuse files and downloads above N bytes\n"
	"                       (default 64 MiB for URLs, 256 MiB for files)\n"
	"  -q, --quiet          no progress bar, no summary\n"
	"  -j, --json           the summary as one JSON object\n"
	"  -h, --help           this help\n"
	"\n"
	"Exit status: 0 done, 3 done but some files had errors, 2 error or\n"
	"interrupted.\n", run,
	CLI_DB | CLI_DB_CREATE | CLI_MODEL | CLI_MODEL_STORE | CLI_MPI
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = 1;
	/* A second Ctrl-C ends the process at once. */
	signal(sig, SIG_DFL);
}

typedef struct prog {
	cli_progress bar;
	long kill_after; /* $SIAM_TEST_KILL_AFTER, test only; 0: off */
	int kill_signal; /* $SIAM_TEST_KILL_SIGNAL, default SIGKILL */
} prog;

static int on_progress(void *arg, const siam_index_status *st)
{
	prog *p = arg;
	char extra[96];
	if (st->walking) {
		snprintf(extra, sizeof extra, "walking: %ld found", st->found);
		p->bar.total = st->found > 0 ? st->found : 1;
	} else {
		p->bar.total = st->found;
		double el = st->seconds > 0 ? st->seconds : 1e-9;
		snprintf(extra, sizeof extra, "%.0f files/s, %ld indexed",
		         st->done / el, st->indexed);
	}
	cli_progress_update(&p->bar, st->done, extra);
	/* For the tests of resuming: once this many images are indexed,
	 * die as kill -9 would (or get the signal $SIAM_TEST_KILL_SIGNAL,
	 * e.g. 2 for a Ctrl-C), in the middle of a run. */
	if (p->kill_after > 0 && st->indexed >= p->kill_after) {
		p->kill_after = 0;
		raise(p->kill_signal);
	}
	return interrupted;
}

/* Reads the URL list: one per line, trailing CR/LF and spaces dropped,
 * empty lines and # comments skipped.  Returns the count or -1. */
static int read_urls(const char *path, char ***out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char **v = NULL, *line = NULL;
	size_t cap = 0, n = 0, lcap = 0;
	ssize_t len;
	*out = NULL;
	if (!f) {
		cli_error("index", "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &lcap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		                   line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = 0;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char **nv = realloc(v, ncap * sizeof *nv);
			if (!nv)
				goto oom;
			v = nv;
			cap = ncap;
		}
		if (!(v[n] = strdup(s)))
			goto oom;
		n++;
	}
	if (ferror(f)) {
		cli_error("index", "%s: %s", path, strerror(errno));
		goto fail;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	*out = v;
	return (int)n;
oom:
	cli_error("index", "out of memory reading %s", path);
fail:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	free(line);
	if (f != stdin)
		fclose(f);
	return -1;
}

static int show_error(void *arg, const char *message)
{
	(void)arg;
	fputs("  ", stderr);
	cli_text_path(stderr, message);
	fputc('\n', stderr);
	return 0;
}

/* The errors of this run, the first few of them, for the terminal. */
static void show_errors(sqlite3 *db, const char *since, long total)
{
	siam_error err = { 0, "" };
	siam_db_list_errors(db, since, 10, show_error, NULL, &err);
	if (total > 10)
		fprintf(stderr, "  ... and %ld more\n", total - 10);
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "model", required_argument, NULL, 'm' },
		{ "urls", required_argument, NULL, 'u' },
		{ "prune", no_argument, NULL, 'P' },
		{ "threads", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-bytes", required_argument, NULL, 'M' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *me = &cmd_index_entry;
	const char *dbpath = CLI_DEFAULT_DB, *model_arg = NULL, *urls_arg = NULL;
	int quiet = 0, json = 0, threads_set = 0, c;
	long v;
	double dv;
	siam_index_opts o;
	siam_index_opts_default(&o);
	(void)threads_set; /* read by MPI builds only */
	while ((c = getopt_long(argc, argv, "d:m:u:t:b:qjh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dbpath = optarg; break;
		case 'm': model_arg = optarg; break;
		case 'u': urls_arg = optarg; break;
		case 'P': o.prune = 1; break;
		case 't':
			if (cli_parse_int(me, "--threads", optarg, 1, 256, &v))
				return SIAM_EXIT_ERROR;
			o.threads = (int)v;
			threads_set = 1;
			break;
		case 'b':
			if (cli_parse_int(me, "--batch", optarg, 1, 4096, &v))
				return SIAM_EXIT_ERROR;
			o.batch = (int)v;
			break;
		case 'T':
			if (cli_parse_float(me, "--timeout", optarg, 0.001, 86400,
			                    &dv))
				return SIAM_EXIT_ERROR;
			o.fetch.timeout_ms = (long)(dv * 1000);
			if (o.fetch.connect_timeout_ms > o.fetch.timeout_ms)
				o.fetch.connect_timeout_ms = o.fetch.timeout_ms;
			break;
		case 'M':
			if (cli_parse_int(me, "--max-bytes", optarg, 1,
			                  (long)1 << 40, &v))
				return SIAM_EXIT_ERROR;
			o.fetch.max_bytes = (size_t)v;
			o.limits.max_bytes = (size_t)v;
			break;
		case 'q': quiet = 1; break;
		case 'j': json = 1; break;
		case 'h': return cli_help(me);
		default:
			return cli_usage_error(me, "unknown or incomplete option "
			                       "'%s'", argv[optind - 1]);
		}
	}
	int nroots = argc - optind;
	if (nroots == 0 && !urls_arg)
		return cli_usage_error(me, "nothing to index: give folders, "
		                       "files or --urls FILE");

	int status = SIAM_EXIT_ERROR, nurls = 0;
	char **urls = NULL;
	sqlite3 *db = NULL;
	siam_model *m = NULL;
	int64_t model_id = 0;
	char since[32];
	ctx->db_path = dbpath;
	ctx->model_arg = model_arg;
	ctx->images = (const char *const *)argv + optind;
	ctx->nimages = nroots;
#ifdef SIAM_MPI
	/* Under mpirun (src/mpi/index.c): ranks 1..N-1 read, decode and
	 * embed for rank 0, one rank a core by default, and never open
	 * the database; rank 0 is the run that follows. */
	int mpi = siam_mpi_size() > 1;
	siam_mpi_farm *farm = NULL;
	siam_index_farm fm;
	uint64_t mpi_bytes = 0;
	if (mpi && siam_mpi_rank() != 0) {
		siam_model *wm = NULL;
		if (!threads_set)
			o.threads = 1;
		if (siam_mpi_share_model(&wm))
			return SIAM_EXIT_ERROR;
		siam_mpi_index_worker(wm, &o);
		siam_model_free(wm);
		return SIAM_EXIT_OK;
	}
#endif
	int setup = -1;
	if (!urls_arg || (nurls = read_urls(urls_arg, &urls)) >= 0)
		setup = cli_setup(ctx);
#ifdef SIAM_MPI
	if (mpi) { /* the workers wait for the model, or for NULL */
		siam_model *sm = setup ? NULL : ctx->model;
		if (siam_mpi_share_model(&sm))
			goto done;
		if (!(farm = siam_mpi_farm_new(&fm, o.batch < 32 ? o.batch : 32))) {
			cli_error("index", "out of memory");
			siam_mpi_abort(SIAM_EXIT_ERROR, "out of memory");
		}
		o.farm = &fm;
	}
#endif
	if (setup)
		goto done;
	db = ctx->db;
	m = ctx->model;
	model_id = ctx->model_id;
	{ /* the clock errors.time is written with (SQLite's 'now' is
	   * the system clock), for "the errors of this run" */
		time_t now = time(NULL);
		struct tm tm;
		since[0] = 0;
		if (gmtime_r(&now, &tm))
			strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}

	prog p;
	memset(&p, 0, sizeof p);
	cli_progress_start(&p.bar, "index", 1, quiet || json);
#ifdef SIAM_TEST_HOOKS /* tests/siam-hooked only (Makefile.am) */
	const char *ka = getenv("SIAM_TEST_KILL_AFTER");
	const char *ks = getenv("SIAM_TEST_KILL_SIGNAL");
	p.kill_after = ka ? atol(ka) : 0;
	p.kill_signal = ks && atoi(ks) > 0 ? atoi(ks) : SIGKILL;
#endif
	o.progress = on_progress;
	o.progress_arg = &p;
	interrupted = 0;
	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	siam_index_status st;
	siam_error err = { 0, "" };
	int rc = siam_index_run(db, m, model_id, (const char *const *)argv + optind,
	                        nroots, (const char *const *)urls, nurls, &o,
	                        &st, &err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
#ifdef SIAM_MPI
	if (farm) /* every worker stops, whatever the run returned */
		siam_mpi_farm_end(farm, &mpi_bytes);
	farm = NULL;
#endif
	cli_progress_end(&p.bar);

	if (rc == SIAM_EINTR) {
		cli_error("index", "interrupted: %ld images indexed and saved; "
		          "run the same command again to continue", st.indexed);
	} else if (rc) {
		cli_error("index", "%s", err.msg);
	}
	double rate = st.seconds > 0 ? st.done / st.seconds : 0;
	if (json) {
		printf("{\"database\":");
		cli_json_string(stdout, dbpath);
		printf(",\"model_id\":%lld,\"found\":%ld,\"indexed\":%ld,"
		       "\"unchanged\":%ld,\"touched\":%ld,\"not_images\":%ld,"
		       "\"skipped\":%ld,\"errors\":%ld,\"pruned\":%ld,"
		       "\"seconds\":%.3f,\"files_per_second\":%.1f,"
		       "\"complete\":%s,\"time\":{\"read\":%.3f,"
		       "\"decode\":%.3f,\"resize\":%.3f,\"embed\":%.3f,"
		       "\"write\":%.3f}",
		       (long long)model_id, st.found, st.indexed, st.unchanged,
		       st.touched, st.not_images, st.skipped, st.errors,
		       st.pruned, st.seconds, rate, rc ? "false" : "true",
		       st.read_s, st.decode_s, st.resize_s, st.embed_s,
		       st.write_s);
#ifdef SIAM_MPI
		/* Under mpirun: the ranks, and the bytes rank 0 sent and
		 * received (the paths out, the results and embeddings back). */
		if (mpi)
			printf(",\"mpi\":{\"ranks\":%d,\"bytes\":%llu}",
			       siam_mpi_size(), (unsigned long long)mpi_bytes);
#endif
		printf("}\n");
	} else if (!quiet) {
		printf("%ld indexed, %ld unchanged", st.indexed, st.unchanged);
		if (st.touched)
			printf(", %ld touched (same content)", st.touched);
		printf(", %ld not images, %ld skipped, %ld errors", st.not_images,
		       st.skipped, st.errors);
		if (o.prune)
			printf(", %ld pruned", st.pruned);
		printf(" in %.1f s (%.0f files/s)\n", st.seconds, rate);
	}
	if (!quiet && st.errors > 0) {
		fprintf(stderr, "siam index: %ld file%s could not be indexed "
		        "(recorded in the errors table):\n", st.errors,
		        st.errors == 1 ? "" : "s");
		show_errors(db, since, st.errors);
	}
	if (!rc) {
		cli_knn_refresh(db, model_id);
		status = st.errors ? SIAM_EXIT_PARTIAL : SIAM_EXIT_OK;
	}
done:
#ifdef SIAM_MPI
	if (farm)
		siam_mpi_farm_end(farm, NULL);
#endif
	for (int i = 0; i < nurls; i++)
		free(urls[i]);
	free(urls);
	return status;
}
