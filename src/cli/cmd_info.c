/*
 * cmd_info.c -- siam info: the model and the database, in numbers.
 *
 * The model shown is the one the other commands would use: --model
 * FILE, else the database's current model, else the default model.
 * A database that does not exist is reported, not created; without
 * --db a missing siam.db is no error (the model is still shown).
 */
#include "config.h"
#include "cli_db.h"
#include "siam_nn.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_info_entry = {
	"info", "facts about the model and the database",
	"usage: siam info [--db FILE] [--model FILE] [--json]\n"
	"\n"
	"Prints the image formats this build decodes, the model\n"
	"(architecture, embedding size, input, match threshold, training\n"
	"metadata) and the database (size, images per model, labels,\n"
	"errors).\n"
	"\n"
	"  -d, --db FILE     the database (default siam.db)\n"
	"  -m, --model FILE  describe this model instead of the database's\n"
	"  -j, --json        one JSON object\n"
	"  -h, --help        this help\n"
	"\n"
	"Exit status: 0 done, 2 error.\n", run,
	CLI_DB | CLI_DB_READONLY | CLI_DB_OPTIONAL | CLI_MODEL
};

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* One line (or JSON object) per model; cur marks the one in use. */
typedef struct model_lister {
	int json, n;
	int64_t cur;
} model_lister;

static int list_model(void *arg, const siam_db_model_row *r)
{
	model_lister *ml = arg;
	if (ml->json) {
		printf("%s{\"id\":%lld,\"name\":", ml->n++ ? "," : "",
		       (long long)r->id);
		cli_json_string(stdout, r->name);
		printf(",\"images\":%lld,\"embed_dim\":%d,\"threshold\":%.6g,"
		       "\"current\":%s}", r->images, r->embed_dim, r->threshold,
		       r->id == ml->cur ? "true" : "false");
	} else {
		printf("  %c %lld  %lld images, %d floats, threshold %.4g  ",
		       r->id == ml->cur ? '*' : ' ', (long long)r->id,
		       r->images, r->embed_dim, r->threshold);
		cli_text_path(stdout, r->name);
		putchar('\n');
	}
	return 0;
}

static void model_text(const siam_model *m, const char *name, int64_t id)
{
	const siam_preproc *p = &m->pre;
	printf("model:       %s\n", name);
	if (id)
		printf("model id:    %lld\n", (long long)id);
	printf("spec:        %s\n", siam_net_spec(m->net));
	printf("embedding:   %d floats\n", siam_net_embed_dim(m->net));
	printf("input:       %dx%dx%d%s, mean %g, std %g\n", p->c, p->h, p->w,
	       p->digit ? " (digit convention)" : "", (double)p->mean,
	       (double)p->std);
	printf("parameters:  %zu\n", siam_net_num_params(m->net));
	if (siam_views_count(m->views) > 1)
		printf("views:       %d (an image embeds as the mean over "
		       "itself and its 1-pixel shifts)\n",
		       siam_views_count(m->views));
	if (m->views & SIAM_VIEWS_FLIP)
		printf("tta:         flip (an image and its mirror embed as "
		       "the sum of both: the same)\n");
	printf("threshold:   %.6g\n", (double)m->threshold);
	/* The supcon loss has a temperature, not a margin; the field
	 * still holds the option's default, which would mislead here.
	 * (The JSON keeps the field as stored.) */
	if (m->meta && strstr(m->meta, "\"loss\":\"supcon\""))
		printf("margin:      none (supcon loss)\n");
	else
		printf("margin:      %.6g\n", (double)m->margin);
	if (m->meta && *m->meta)
		printf("metadata:    %s\n", m->meta);
}

static void model_json(const siam_model *m, const char *name, int64_t id)
{
	const siam_preproc *p = &m->pre;
	printf("\"model\":{\"source\":");
	cli_json_string(stdout, name);
	printf(",\"id\":%lld,\"spec\":", (long long)id);
	cli_json_string(stdout, siam_net_spec(m->net));
	printf(",\"embed_dim\":%d,\"input\":[%d,%d,%d],\"digit\":%s,"
	       "\"mean\":%.6g,\"std\":%.6g,\"parameters\":%zu,"
	       "\"views\":%d,\"threshold\":%.6g,\"margin\":%.6g",
	       siam_net_embed_dim(m->net), p->c, p->h, p->w,
	       p->digit ? "true" : "false", (double)p->mean, (double)p->std,
	       siam_net_num_params(m->net), siam_views_count(m->views),
	       (double)m->threshold, (double)m->margin);
	if (m->views & SIAM_VIEWS_FLIP)
		printf(",\"tta\":\"flip\"");
	printf(",\"meta\":");
	/* meta is JSON text already; an empty one is null. */
	if (m->meta && *m->meta)
		fputs(m->meta, stdout);
	else
		fputs("null", stdout);
	putchar('}');
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "model", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *me = &cmd_info_entry;
	const char *dbpath = NULL, *model_arg = NULL;
	int json = 0, c;
	while ((c = getopt_long(argc, argv, "d:m:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dbpath = optarg; break;
		case 'm': model_arg = optarg; break;
		case 'j': json = 1; break;
		case 'h': return cli_help(me);
		default:
			return cli_usage_error(me, "unknown or incomplete option "
			                       "'%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 0)
		return cli_usage_error(me, "unexpected argument '%s'",
		                       argv[optind]);

	int status = SIAM_EXIT_ERROR;
	ctx->db_path = dbpath;
	ctx->model_arg = model_arg;
	if (cli_setup(ctx))
		return SIAM_EXIT_ERROR;
	sqlite3 *db = ctx->db;
	siam_model *m = ctx->model;
	int64_t model_id = ctx->model_id;
	const char *name = ctx->model_name, *path = ctx->db_used;
	int have_db = db != NULL;

	siam_db_stats s = { -1, -1, -1, -1, -1, -1 };
	long long size = -1, wal = -1;
	siam_error err = { 0, "" };
	if (have_db) {
		if (siam_db_get_stats(db, &s, &err)) {
			cli_error("info", "%s", err.msg);
			goto done;
		}
		size = file_size(path);
		char walp[4200];
		snprintf(walp, sizeof walp, "%s-wal", path);
		wal = file_size(walp);
	}
	model_lister ml = { json, 0, model_id };

	if (json) {
		putchar('{');
		model_json(m, name, model_id);
		if (have_db) {
			printf(",\"database\":{\"path\":");
			cli_json_string(stdout, path);
			printf(",\"bytes\":%lld,\"wal_bytes\":%lld,\"images\":%lld,"
			       "\"embedded\":%lld,\"urls\":%lld,\"labels\":%lld,"
			       "\"errors\":%lld,\"models\":[",
			       size, wal < 0 ? 0 : wal, s.images, s.embedded,
			       s.urls, s.labels, s.errors);
			if (siam_db_list_models(db, list_model, &ml, &err)) {
				cli_error("info", "%s", err.msg);
				goto done;
			}
			printf("]}");
		} else {
			printf(",\"database\":null");
		}
		printf(",\"default_model\":");
		cli_json_string(stdout, CLI_MODEL_RULE);
		printf(",\"image_formats\":");
		cli_json_string(stdout, siam_image_formats());
		printf("}\n");
	} else {
		printf("formats:     %s\n", siam_image_formats());
		printf("default:     %s\n", CLI_MODEL_RULE);
		model_text(m, name, model_id);
		if (have_db) {
			printf("\ndatabase:    ");
			cli_text_path(stdout, path);
			printf("\nsize:        %lld bytes", size);
			if (wal > 0)
				printf(" (+ %lld bytes of write-ahead log)", wal);
			printf("\nimages:      %lld (%lld embedded, %lld URLs, "
			       "%lld labels)\n", s.images, s.embedded, s.urls,
			       s.labels);
			printf("errors:      %lld\n", s.errors);
			printf("models:      %lld\n", s.models);
			if (siam_db_list_models(db, list_model, &ml, &err)) {
				cli_error("info", "%s", err.msg);
				goto done;
			}
		} else {
			printf("\ndatabase:    %s (none yet; 'siam index' "
			       "creates it)\n", path);
		}
	}
	status = SIAM_EXIT_OK;
done:
	return status;
}
