/*
 * cmd_eval.c -- siam eval: how well a model verifies, retrieves and
 * one-shot classifies, by a fixed protocol (man siam-eval):
 *
 *   verification  every test image with one partner of its class and
 *                 one of another class (seeded): accuracy at the model's
 *                 threshold, ROC AUC, EER, TAR at FAR 1e-3
 *   retrieval     1-NN accuracy of the test images against the training
 *                 images as gallery
 *   one-shot      N-way trials: one support image per class, one query
 *
 * --classes restricts all three to some classes: the unseen-class test
 * of a model trained on others.
 */
#include "config.h"
#include "cli.h"
#include "siam_nn.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_eval_entry = {
	"eval", "measure a model: verification, 1-NN, one-shot accuracy",
	"usage: siam eval --data KIND:PATH [options]\n"
	"\n"
	"Measures the model on the test split of the data: pair verification\n"
	"(accuracy at the model's threshold, ROC AUC, EER, TAR at FAR 1e-3),\n"
	"1-NN accuracy against the training images, and N-way one-shot\n"
	"accuracy.  See siam-eval(1) for the protocol.\n"
	"\n"
	"  -m, --model FILE     the model (default: $SIAM_MODEL, else by the\n"
	"                       data's images as siam verify: digits for\n"
	"                       mnist: data)\n"
	"  -d, --data SPEC      mnist:DIR (test split t10k-*, gallery train-*)\n"
	"                       or folder:DIR (gallery: the same images,\n"
	"                       leave-one-out)\n"
	"  -g, --gallery SPEC   the 1-NN gallery instead (its training split)\n"
	"      --no-gallery     skip 1-NN\n"
	"  -c, --classes LIST   only these classes (e.g. 5-9) everywhere\n"
	"  -w, --way N          classes per one-shot trial (default 5, or all\n"
	"                       classes when fewer)\n"
	"  -n, --trials N       one-shot trials (default 2000)\n"
	"  -l, --limit N        use only the first N test images\n"
	"  -s, --seed N         seed of pairs and trials (default 1)\n"
	"  -t, --threshold T    measure accuracy at T, not the model's\n"
	"  -j, --threads N      threads for the network\n"
	"      --json           print one JSON object\n"
	"  -q, --quiet          no progress messages\n"
	"  -h, --help           this help\n", run,
	CLI_MODEL
};

enum { OPT_JSON = 256, OPT_NOGAL };

/* Items of d whose class is in mask, at most limit (0: all). */
static int *select_items(const siam_data *d, const unsigned char *mask,
                         int limit, int *n)
{
	int *v = malloc((size_t)(d->n ? d->n : 1) * sizeof(int)), k = 0;
	if (!v)
		return NULL;
	for (int i = 0; i < d->n && (!limit || k < limit); i++)
		if (mask[d->labels[i]])
			v[k++] = i;
	*n = k;
	return v;
}

static void json_num(const char *key, double v, int comma)
{
	printf("\"%s\":%.6g%s", key, v, comma ? "," : "");
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "data", required_argument, NULL, 'd' },
		{ "gallery", required_argument, NULL, 'g' },
		{ "no-gallery", no_argument, NULL, OPT_NOGAL },
		{ "classes", required_argument, NULL, 'c' },
		{ "way", required_argument, NULL, 'w' },
		{ "trials", required_argument, NULL, 'n' },
		{ "limit", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "threshold", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *E = &cmd_eval_entry;
	const char *model_arg = NULL, *data = NULL, *gallery = NULL;
	const char *classes = NULL;
	long way = 0, trials = 2000, limit = 0, seed = 1, threads = 0;
	double thr = 0;
	int have_thr = 0, json = 0, quiet = 0, nogal = 0, c;
	while ((c = getopt_long(argc, argv, ":m:d:g:c:w:n:l:s:t:j:qh", opts,
	                        NULL)) != -1) {
		switch (c) {
		case 'm': model_arg = optarg; break;
		case 'd': data = optarg; break;
		case 'g': gallery = optarg; break;
		case OPT_NOGAL: nogal = 1; break;
		case 'c': classes = optarg; break;
		case 'w':
			if (cli_parse_int(E, "--way", optarg, 2, 100000, &way))
				return SIAM_EXIT_ERROR;
			break;
		case 'n':
			if (cli_parse_int(E, "--trials", optarg, 1, 100000000,
			                  &trials))
				return SIAM_EXIT_ERROR;
			break;
		case 'l':
			if (cli_parse_int(E, "--limit", optarg, 1, 1L << 30,
			                  &limit))
				return SIAM_EXIT_ERROR;
			break;
		case 's':
			if (cli_parse_int(E, "--seed", optarg, 0, 0x7fffffffL,
			                  &seed))
				return SIAM_EXIT_ERROR;
			break;
		case 't':
			if (cli_parse_float(E, "--threshold", optarg, 0, 1e30,
			                    &thr))
				return SIAM_EXIT_ERROR;
			have_thr = 1;
			break;
		case 'j':
			if (cli_parse_int(E, "--threads", optarg, 0, 256,
			                  &threads))
				return SIAM_EXIT_ERROR;
			break;
		case OPT_JSON: json = 1; break;
		case 'q': quiet = 1; break;
		case 'h': return cli_help(E);
		case ':':
			return cli_usage_error(E, "option '%s' needs a value",
			                       argv[optind - 1]);
		default:
			return cli_usage_error(E, "unknown option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(E, "unexpected argument '%s'",
		                       argv[optind]);
	if (!data)
		return cli_usage_error(E, "--data is required");
	if (threads > 0)
		siam_set_threads((int)threads);

	int status = SIAM_EXIT_ERROR, D, n = 0, ng = 0, ncls = 0;
	siam_model *m = NULL;
	siam_data *test = NULL, *gal = NULL;
	siam_error err = { 0 };
	unsigned char *mask = NULL, *gmask = NULL, *same = NULL;
	int *items = NULL, *gitems = NULL, *labels = NULL, *glabels = NULL;
	int *pa = NULL, *pb = NULL, *clist = NULL, *row = NULL;
	float *emb = NULL, *gemb = NULL, *dist = NULL;
	size_t np = 0;
	const char *path = ctx->model_name;
	double nn1 = -1, oneshot = -1, t0, embed_s;
	siam_verif v;

	ctx->model_arg = model_arg;
	ctx->images = &data;
	ctx->nimages = 1;
	if (cli_setup(ctx))
		return SIAM_EXIT_ERROR;
	m = ctx->model;
	D = siam_net_embed_dim(m->net);
	if (siam_data_open(&test, data, SIAM_SPLIT_TEST, &m->pre, &err)) {
		cli_error("eval", "%s", err.msg);
		goto done;
	}
	if (!test->labels) {
		cli_error("eval", "%s: evaluation needs labelled data "
		          "(mnist: or folder:)", data);
		goto done;
	}
	for (int i = 0; i < test->nbad; i++)
		cli_error("eval", "skipped %s", test->bad[i]);
	if (!(mask = malloc((size_t)test->num_classes)))
		goto nomem;
	if (siam_data_parse_classes(test, classes, mask, &err)) {
		cli_error("eval", "--classes: %s", err.msg);
		goto done;
	}
	if (!(items = select_items(test, mask, (int)limit, &n)))
		goto nomem;
	if (n < 2) {
		cli_error("eval", "%s: %d test images of the chosen classes; "
		          "need 2 or more", data, n);
		goto done;
	}
	emb = malloc((size_t)n * D * sizeof(float));
	labels = malloc((size_t)n * sizeof(int));
	row = malloc((size_t)test->n * sizeof(int));
	if (!emb || !labels || !row)
		goto nomem;
	for (int k = 0; k < n; k++) {
		labels[k] = test->labels[items[k]];
		row[items[k]] = k;
	}
	if (!quiet)
		fprintf(stderr, "siam eval: embedding %d test images\n", n);
	t0 = cli_now();
	if (siam_embed_data(m->net, test, items, n, m->views, emb, &err)) {
		cli_error("eval", "%s", err.msg);
		goto done;
	}
	embed_s = cli_now() - t0;

	/* Verification */
	if (siam_eval_pairs(&pa, &pb, &same, &np, test->labels, items, n,
	                    (uint64_t)seed, &err)) {
		cli_error("eval", "%s", err.msg);
		goto done;
	}
	if (!(dist = malloc(np * sizeof(float))))
		goto nomem;
	for (size_t p = 0; p < np; p++)
		dist[p] = siam_l2_distance(emb + (size_t)row[pa[p]] * D,
		                           emb + (size_t)row[pb[p]] * D, D);
	float thr_used = have_thr ? (float)thr : m->threshold;
	if (siam_verif_compute(&v, dist, same, np, thr_used, &err)) {
		cli_error("eval", "%s", err.msg);
		goto done;
	}

	/* Retrieval: 1-NN against the gallery. */
	const char *gsrc = gallery;
	if (!gsrc && !strncmp(data, "mnist:", 6))
		gsrc = data; /* its training split */
	if (!nogal && gsrc) {
		if (siam_data_open(&gal, gsrc, SIAM_SPLIT_TRAIN, &m->pre,
		                   &err)) {
			cli_error("eval", "gallery: %s", err.msg);
			goto done;
		}
		if (!gal->labels || gal->num_classes != test->num_classes) {
			cli_error("eval", "gallery %s: its classes are not the "
			          "test data's", gsrc);
			goto done;
		}
		if (!(gmask = malloc((size_t)gal->num_classes)))
			goto nomem;
		if (siam_data_parse_classes(gal, classes, gmask, &err)) {
			cli_error("eval", "gallery: %s", err.msg);
			goto done;
		}
		if (!(gitems = select_items(gal, gmask, 0, &ng)))
			goto nomem;
		gemb = malloc((size_t)(ng ? ng : 1) * D * sizeof(float));
		glabels = malloc((size_t)(ng ? ng : 1) * sizeof(int));
		if (!gemb || !glabels)
			goto nomem;
		for (int k = 0; k < ng; k++)
			glabels[k] = gal->labels[gitems[k]];
		if (!quiet)
			fprintf(stderr, "siam eval: embedding %d gallery "
			        "images\n", ng);
		if (siam_embed_data(m->net, gal, gitems, ng, m->views, gemb,
		                    &err) ||
		    siam_nn1_accuracy(&nn1, emb, labels, n, gemb, glabels, ng,
		                      D, 0, &err)) {
			cli_error("eval", "1-NN: %s", err.msg);
			goto done;
		}
	} else if (!nogal) {
		ng = n;
		if (siam_nn1_accuracy(&nn1, emb, labels, n, emb, labels, n, D,
		                      1, &err)) {
			cli_error("eval", "1-NN: %s", err.msg);
			goto done;
		}
	}

	/* One-shot over the chosen classes with two or more test images
	 * (a support and a different query). */
	if (!(clist = calloc((size_t)test->num_classes, sizeof(int))))
		goto nomem;
	for (int i = 0; i < n; i++)
		clist[labels[i]]++;
	for (int k = 0; k < test->num_classes; k++)
		if (mask[k] && clist[k] >= 2)
			clist[ncls++] = k;
	if (!way)
		way = ncls < 5 ? ncls : 5;
	if (ncls >= 2 && way >= 2 && way <= ncls) {
		if (siam_oneshot_accuracy(&oneshot, emb, labels, n, D, clist,
		                          ncls, (int)way, (int)trials,
		                          (uint64_t)seed, &err)) {
			cli_error("eval", "one-shot: %s", err.msg);
			goto done;
		}
	} else if (way > ncls) {
		cli_error("eval", "--way %ld: only %d classes have two or "
		          "more test images", way, ncls);
		goto done;
	}

	const char *cls = classes && *classes ? classes : "all";
	if (json) {
		printf("{\"model\":");
		cli_json_string(stdout, path);
		printf(",\"data\":");
		cli_json_string(stdout, data);
		printf(",\"classes\":");
		cli_json_string(stdout, cls);
		printf(",\"images\":%d,\"seed\":%ld,", n, seed);
		printf("\"verification\":{\"pairs\":%zu,", v.pairs);
		json_num("threshold", v.threshold, 1);
		json_num("accuracy", v.accuracy, 1);
		json_num("auc", v.auc, 1);
		json_num("eer", v.eer, 1);
		json_num("eer_threshold", v.eer_threshold, 1);
		json_num("tar_at_far_1e-3", v.tar_at_far, 1);
		json_num("best_threshold", v.best_threshold, 1);
		json_num("best_accuracy", v.best_accuracy, 0);
		printf("},\"nn1\":");
		if (nn1 >= 0) {
			printf("{\"accuracy\":%.6g,\"queries\":%d,"
			       "\"gallery\":%d,\"gallery_source\":", nn1, n, ng);
			if (gal)
				cli_json_string(stdout, gsrc);
			else
				printf("\"test images, leave-one-out\"");
			printf("}");
		} else
			printf("null");
		printf(",\"oneshot\":");
		if (oneshot >= 0)
			printf("{\"way\":%ld,\"trials\":%ld,\"accuracy\":%.6g}",
			       way, trials, oneshot);
		else
			printf("null");
		printf(",\"embed_images_per_s\":%.6g}\n",
		       embed_s > 0 ? n / embed_s : 0);
	} else {
		printf("model          %s (threshold %.4f)\n", path,
		       (double)m->threshold);
		printf("test data      %s: %d images, classes %s\n", data, n,
		       cls);
		printf("verification   %zu pairs, seed %ld\n", v.pairs, seed);
		printf("  accuracy     %.2f%% at threshold %.4f\n",
		       100 * v.accuracy, (double)v.threshold);
		printf("  ROC AUC      %.5f\n", v.auc);
		printf("  EER          %.2f%% at threshold %.4f\n",
		       100 * v.eer, (double)v.eer_threshold);
		printf("  TAR@FAR1e-3  %.2f%%\n", 100 * v.tar_at_far);
		printf("  best         %.2f%% at threshold %.4f\n",
		       100 * v.best_accuracy, (double)v.best_threshold);
		if (nn1 >= 0)
			printf("1-NN accuracy  %.2f%% (%d queries, gallery: %d "
			       "%s)\n", 100 * nn1, n, ng,
			       gal ? "training images" :
			       "test images, leave-one-out");
		if (oneshot >= 0)
			printf("one-shot       %ld-way %.2f%% (%ld trials)\n",
			       way, 100 * oneshot, trials);
	}
	status = SIAM_EXIT_OK;
	goto done;
nomem:
	cli_error("eval", "out of memory");
done:
	free(mask);
	free(gmask);
	free(same);
	free(items);
	free(gitems);
	free(labels);
	free(glabels);
	free(pa);
	free(pb);
	free(clist);
	free(row);
	free(emb);
	free(gemb);
	free(dist);
	siam_data_free(test);
	siam_data_free(gal);
	return status;
}
