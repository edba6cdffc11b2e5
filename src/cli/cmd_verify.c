/*
 * cmd_verify.c -- siam verify A B: are these two images the same thing?
 *
 * Both images go through the model's own preprocessing (for digit
 * models: the MNIST convention, so a photo of a digit on paper compares
 * like an MNIST digit), then the network; the Euclidean distance of the
 * two embeddings against the model's calibrated threshold is the
 * verdict.  That is siam_verify (src/verify.c); this file adds the
 * options and the output.  The exit status answers like cmp(1): 0 same, 1 different,
 * 2 trouble.
 */
#include "config.h"
#include "cli.h"

#include <getopt.h>
#include <string.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_verify_entry = {
	"verify", "are two images the same? distance, threshold, verdict",
	"usage: siam verify [--model FILE] [--threshold T] [--json] A B\n"
	"\n"
	"Embeds images A and B with the model and compares their distance\n"
	"with the model's match threshold.  A or B may be a path, '-' for\n"
	"standard input, or an http(s) URL.\n"
	"\n"
	"  -m, --model FILE   the model: a file, or photo, digits,\n"
	"                     digits-0-4, fashion (default: $SIAM_MODEL,\n"
	"                     else digits for two images without colour\n"
	"                     of at most 512 pixels a side, else photo)\n"
	"  -t, --threshold T  call the pair the same below distance T\n"
	"                     instead of the model's calibrated threshold\n"
	"      --json         print one JSON object\n"
	"  -q, --quiet        print nothing; the exit status answers\n"
	"  -h, --help         this help\n"
	"\n"
	"Exit status: 0 same, 1 different, 2 error.\n", run,
	CLI_MODEL
};

static int run(int argc, char **argv, cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "threshold", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 256 },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *model_arg = NULL;
	int json = 0, quiet = 0, have_thr = 0, c;
	double thr = 0;
	while ((c = getopt_long(argc, argv, "m:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model_arg = optarg; break;
		case 't':
			if (cli_parse_float(&cmd_verify_entry, "--threshold",
			                    optarg, 0, 1e30, &thr))
				return SIAM_EXIT_ERROR;
			have_thr = 1;
			break;
		case 256: json = 1; break;
		case 'q': quiet = 1; break;
		case 'h': return cli_help(&cmd_verify_entry);
		default:
			return cli_usage_error(&cmd_verify_entry,
			                       "unknown or incomplete option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(&cmd_verify_entry,
		                       "want two images, got %d", argc - optind);
	const char *a = argv[optind], *b = argv[optind + 1];
	if (!strcmp(a, "-") && !strcmp(b, "-"))
		return cli_usage_error(&cmd_verify_entry,
		                       "only one image can come from standard "
		                       "input");
	const char *ab[2] = { a, b };
	ctx->model_arg = model_arg;
	ctx->images = ab;
	ctx->nimages = 2;
	if (cli_setup(ctx))
		return SIAM_EXIT_ERROR;
	siam_model *m = ctx->model;
	int status = SIAM_EXIT_ERROR, same;
	float d;
	siam_error err = { 0, "" };
	if (siam_verify(m, a, b, &d, &same, &err)) {
		cli_error("verify", "%s", err.msg);
		goto done;
	}
	float t = have_thr ? (float)thr : m->threshold;
	same = d < t;
	status = same ? SIAM_EXIT_OK : SIAM_EXIT_NO;
	if (quiet)
		goto done;
	if (json) {
		printf("{\"a\":");
		cli_json_string(stdout, a);
		printf(",\"b\":");
		cli_json_string(stdout, b);
		printf(",\"model\":");
		cli_json_string(stdout, ctx->model_name);
		printf(",\"distance\":%.6g,\"threshold\":%.6g,\"same\":%s,"
		       "\"verdict\":\"%s\"}\n", (double)d, (double)t,
		       same ? "true" : "false", same ? "same" : "different");
	} else {
		printf("%s: distance %.4f %s threshold %.4f\n",
		       same ? "same" : "different", (double)d,
		       same ? "<" : ">=", (double)t);
	}
done:
	return status;
}
