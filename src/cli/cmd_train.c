/*
 * cmd_train.c -- siam train: learn a model from labelled or unlabelled
 * images.
 *
 * The work is siam_train() in the library; this file turns options into
 * siam_train_opts, shows progress, and handles Ctrl-C: the first one
 * asks the loop to stop at the next step, which writes a checkpoint that
 * `siam train --resume FILE` continues from (a second Ctrl-C kills).
 * The checkpoint keeps this run's command line, so a resume needs no
 * other option and cannot silently change the run.
 */
#include "config.h"
#include "cli.h"
#include "mpi/world.h"
#include "siam_nn.h"
#ifdef SIAM_MPI
#include "mpi/train_comm.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_train_entry = {
	"train", "train a model on labelled or unlabelled images",
	"usage: siam train --data KIND:PATH [options] [-o FILE]\n"
	"       siam train --resume CHECKPOINT [-o FILE] [--quiet]\n"
	"\n"
	"Trains a Siamese network on balanced pairs, validates every epoch on\n"
	"held-out images, keeps the best epoch, calibrates the match threshold\n"
	"and saves the model.\n"
	"\n"
	"Data:\n"
	"  -d, --data SPEC       mnist:DIR   IDX files (MNIST, Fashion-MNIST,\n"
	"                                    plain or .gz)\n"
	"                        folder:DIR  one sub-folder of images per class\n"
	"                        augment:DIR unlabelled images; positive pairs\n"
	"                                    are two distortions of one image\n"
	"      --copies BITS|off augment: images whose perceptual hashes differ\n"
	"                        in at most BITS of 64 (or that are identical)\n"
	"                        are one class, never each other's negatives\n"
	"                        (default 8; off: every image its own class)\n"
	"  -c, --classes LIST    train on these classes only: 0-4, 0,2,4, names\n"
	"      --val-split F     fraction of images held out for validation\n"
	"                        (default 0.1; 0 = none)\n"
	"      --digit yes|no    preprocess inputs by the MNIST digit convention\n"
	"                        (default: yes for mnist: except Fashion-MNIST)\n"
	"Network and loss:\n"
	"  -a, --arch SPEC       architecture (default: \"" SIAM_DEFAULT_ARCH "\")\n"
	"  -l, --loss NAME       contrastive (default), triplet or supcon\n"
	"                        (supervised contrastive: every other image\n"
	"                        of the batch is a negative; needs an arch\n"
	"                        ending in l2)\n"
	"      --margin M        loss margin (default 1)\n"
	"      --temperature T   supcon temperature (default 0.1)\n"
	"Optimisation:\n"
	"  -e, --epochs N        epochs (default 10)\n"
	"  -b, --batch N         pairs per step (default 64)\n"
	"  -p, --pairs N         pairs per epoch (default: one per training image)\n"
	"      --lr X            Adam learning rate (default 0.001)\n"
	"      --lr-decay        cosine decay of the learning rate to 0\n"
	"      --weight-decay X  decoupled weight decay (default 0)\n"
	"      --ema D           validate and keep a moving average of the\n"
	"                        weights, decay D per step (e.g. 0.98;\n"
	"                        default 0 = off)\n"
	"      --augment[=LIST]  random shifts, rotations and scalings of the\n"
	"                        inputs; LIST sets them: shift=0.1,rotate=12,\n"
	"                        scale=0.1,bright=0,contrast=0,elastic=0,\n"
	"                        sigma=4; and the edits made to copies of\n"
	"                        photos (0 = off): flip=P crop=MINAREA\n"
	"                        brightness=B saturation=S gray=P jpeg=P\n"
	"                        blur=SIGMA downscale=MINFACTOR edge=P\n"
	"                        overlay=P pad=F; the preset 'photo' sets a\n"
	"                        mix for near-duplicate photos (e.g.\n"
	"                        --augment=photo,jpeg=0.2); see siam-train(1)\n"
	"      --instance F      triplet loss: this fraction of each batch are\n"
	"                        instance triplets (an image, a distortion of\n"
	"                        it, another image of its class)\n"
	"      --instance-margin M  their margin (default 0.1)\n"
	"      --views N         the model embeds an image as the mean over N\n"
	"                        views: itself and its 1-pixel shifts (1, 5\n"
	"                        or 9; default 1)\n"
	"      --tta flip        ... and each view also mirrored, the two\n"
	"                        embeddings summed: an image and its mirror\n"
	"                        embed the same (twice the work; default none)\n"
	"      --glyphs F        this fraction of anchors and negatives are\n"
	"                        glyphs: the top of one class's image over the\n"
	"                        bottom of another's (or left beside right),\n"
	"                        cut at 1/3, 1/2 or 2/3, each a class of its\n"
	"                        own; for models meant for unseen classes\n"
	"  -s, --seed N          random seed (default 1)\n"
	"  -j, --threads N       threads for the network (default: cores)\n"
	"Output:\n"
	"  -o, --output FILE     the model file (default model.siam)\n"
	"      --near-threshold T  store T as the model's near-duplicate\n"
	"                        threshold (what siam dedup uses)\n"
	"      --checkpoint FILE where Ctrl-C saves (default FILE.ckpt)\n"
	"      --resume FILE     continue an interrupted run\n"
	"  -q, --quiet           no progress, no per-epoch lines\n"
	"  -h, --help            this help\n"
	"\n"
	"The same seed and thread count give the same model file.\n"
	"Under mpirun (a --with-mpi build), every rank takes its share of\n"
	"each batch; rank 0 validates, checkpoints and saves: siam-train(1).\n",
	run, CLI_MPI /* opens nothing */
};

/* Everything the command line says. */
typedef struct train_cfg {
	siam_train_opts o;
	const char *data, *arch, *output, *checkpoint, *resume;
	int digit;    /* -1: as the data suggests */
	int quiet;
	int other;    /* options other than -o/--checkpoint/--quiet/--resume */
} train_cfg;

static volatile sig_atomic_t stop_requested;
#ifdef SIAM_TEST_HOOKS
/* Test hook, compiled into tests/siam-hooked only (Makefile.am), never
 * into the installed siam: SIAM_TEST_STOP_AFTER=N acts as a Ctrl-C
 * after N steps. */
static long stop_after, steps_done;
#endif

static void on_sigint(int sig)
{
	(void)sig;
	stop_requested = 1;
	signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends it at once */
}

enum {
	OPT_VALSPLIT = 256, OPT_DIGIT, OPT_MARGIN, OPT_LR, OPT_LRDECAY,
	OPT_WD, OPT_AUGMENT, OPT_CKPT, OPT_RESUME, OPT_INST, OPT_INSTM,
	OPT_GLYPHS, OPT_TEMP, OPT_EMA, OPT_VIEWS, OPT_COPIES,
	OPT_TTA, OPT_NEAR
};

/* Parses argv into cfg (adding to what is there).  Returns 0, or an
 * exit status after printing the problem. */
static int parse(train_cfg *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "classes", required_argument, NULL, 'c' },
		{ "val-split", required_argument, NULL, OPT_VALSPLIT },
		{ "digit", required_argument, NULL, OPT_DIGIT },
		{ "arch", required_argument, NULL, 'a' },
		{ "loss", required_argument, NULL, 'l' },
		{ "margin", required_argument, NULL, OPT_MARGIN },
		{ "epochs", required_argument, NULL, 'e' },
		{ "batch", required_argument, NULL, 'b' },
		{ "pairs", required_argument, NULL, 'p' },
		{ "lr", required_argument, NULL, OPT_LR },
		{ "lr-decay", no_argument, NULL, OPT_LRDECAY },
		{ "weight-decay", required_argument, NULL, OPT_WD },
		{ "augment", optional_argument, NULL, OPT_AUGMENT },
		{ "instance", required_argument, NULL, OPT_INST },
		{ "instance-margin", required_argument, NULL, OPT_INSTM },
		{ "glyphs", required_argument, NULL, OPT_GLYPHS },
		{ "ema", required_argument, NULL, OPT_EMA },
		{ "views", required_argument, NULL, OPT_VIEWS },
		{ "copies", required_argument, NULL, OPT_COPIES },
		{ "tta", required_argument, NULL, OPT_TTA },
		{ "near-threshold", required_argument, NULL, OPT_NEAR },
		{ "temperature", required_argument, NULL, OPT_TEMP },
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "checkpoint", required_argument, NULL, OPT_CKPT },
		{ "resume", required_argument, NULL, OPT_RESUME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *E = &cmd_train_entry;
	siam_train_opts *o = &cfg->o;
	siam_error err = { 0 };
	long l;
	double f;
	int c;
	/* main.c resets getopt once per command; parse runs up to three
	 * times (the probe, a checkpoint's stored command line, this one) */
	optind = 0;
	while ((c = getopt_long(argc, argv, ":d:c:a:l:e:b:p:s:j:o:qh", opts,
	                        NULL)) != -1) {
		if (c != 'o' && c != OPT_CKPT && c != 'q' && c != OPT_RESUME &&
		    c != 'h')
			cfg->other = 1;
		switch (c) {
		case 'd': cfg->data = optarg; break;
		case 'c': o->classes = optarg; break;
		case OPT_VALSPLIT:
			if (cli_parse_float(E, "--val-split", optarg, 0, 0.9, &f))
				return SIAM_EXIT_ERROR;
			o->val_split = (float)f;
			break;
		case OPT_DIGIT:
			if (!strcmp(optarg, "yes"))
				cfg->digit = 1;
			else if (!strcmp(optarg, "no"))
				cfg->digit = 0;
			else
				return cli_usage_error(E, "--digit: want yes or "
				                       "no, not '%s'", optarg);
			break;
		case 'a': cfg->arch = optarg; break;
		case 'l':
			if (!strcmp(optarg, "contrastive"))
				o->loss = SIAM_LOSS_CONTRASTIVE;
			else if (!strcmp(optarg, "triplet"))
				o->loss = SIAM_LOSS_TRIPLET;
			else if (!strcmp(optarg, "supcon"))
				o->loss = SIAM_LOSS_SUPCON;
			else
				return cli_usage_error(E, "--loss: want "
				                       "contrastive, triplet or "
				                       "supcon, not '%s'", optarg);
			break;
		case OPT_MARGIN:
			if (cli_parse_float(E, "--margin", optarg, 1e-6, 1e6, &f))
				return SIAM_EXIT_ERROR;
			o->margin = (float)f;
			break;
		case 'e':
			if (cli_parse_int(E, "--epochs", optarg, 1, 100000, &l))
				return SIAM_EXIT_ERROR;
			o->epochs = (int)l;
			break;
		case 'b':
			if (cli_parse_int(E, "--batch", optarg, 1, 65536, &l))
				return SIAM_EXIT_ERROR;
			o->batch = (int)l;
			break;
		case 'p':
			if (cli_parse_int(E, "--pairs", optarg, 1, 100000000, &l))
				return SIAM_EXIT_ERROR;
			o->pairs = l;
			break;
		case OPT_LR:
			if (cli_parse_float(E, "--lr", optarg, 1e-9, 10, &f))
				return SIAM_EXIT_ERROR;
			o->lr = (float)f;
			break;
		case OPT_LRDECAY: o->lr_decay = 1; break;
		case OPT_WD:
			if (cli_parse_float(E, "--weight-decay", optarg, 0, 10,
			                    &f))
				return SIAM_EXIT_ERROR;
			o->weight_decay = (float)f;
			break;
		case OPT_AUGMENT:
			if (siam_augment_parse(&o->aug, optarg, &err))
				return cli_usage_error(E, "--augment: %s",
				                       err.msg);
			o->augment = 1;
			break;
		case OPT_INST:
			if (cli_parse_float(E, "--instance", optarg, 0, 1, &f))
				return SIAM_EXIT_ERROR;
			o->instance = (float)f;
			break;
		case OPT_INSTM:
			if (cli_parse_float(E, "--instance-margin", optarg, 0,
			                    1e6, &f))
				return SIAM_EXIT_ERROR;
			o->instance_margin = (float)f;
			break;
		case OPT_TEMP:
			if (cli_parse_float(E, "--temperature", optarg, 1e-3,
			                    100, &f))
				return SIAM_EXIT_ERROR;
			o->temperature = (float)f;
			break;
		case OPT_GLYPHS:
			if (cli_parse_float(E, "--glyphs", optarg, 0, 1, &f))
				return SIAM_EXIT_ERROR;
			o->glyphs = (float)f;
			break;
		case OPT_EMA:
			if (cli_parse_float(E, "--ema", optarg, 0, 0.999999,
			                    &f))
				return SIAM_EXIT_ERROR;
			o->ema = (float)f;
			break;
		case OPT_VIEWS:
			if (cli_parse_int(E, "--views", optarg, 1, 9, &l))
				return SIAM_EXIT_ERROR;
			if (!siam_views_valid((int)l))
				return cli_usage_error(E, "--views: 1, 5 or 9, "
				                       "not %ld", l);
			o->views = (int)l | (o->views & SIAM_VIEWS_FLIP);
			break;
		case OPT_TTA:
			if (!strcmp(optarg, "flip"))
				o->views |= SIAM_VIEWS_FLIP;
			else if (!strcmp(optarg, "none"))
				o->views &= ~SIAM_VIEWS_FLIP;
			else
				return cli_usage_error(E, "--tta: flip or none, "
				                       "not '%s'", optarg);
			break;
		case OPT_NEAR:
			if (cli_parse_float(E, "--near-threshold", optarg, 0,
			                    1e5, &f))
				return SIAM_EXIT_ERROR;
			o->near_threshold = f;
			break;
		case OPT_COPIES:
			if (!strcmp(optarg, "off"))
				l = -1;
			else if (cli_parse_int(E, "--copies", optarg, 0, 64, &l))
				return SIAM_EXIT_ERROR;
			o->copies = (int)l;
			break;
		case 's':
			if (cli_parse_int(E, "--seed", optarg, 0, 0x7fffffffL,
			                  &l))
				return SIAM_EXIT_ERROR;
			o->seed = (uint64_t)l;
			break;
		case 'j':
			if (cli_parse_int(E, "--threads", optarg, 0, 256, &l))
				return SIAM_EXIT_ERROR;
			o->threads = (int)l;
			break;
		case 'o': cfg->output = optarg; break;
		case OPT_CKPT: cfg->checkpoint = optarg; break;
		case OPT_RESUME: cfg->resume = optarg; break;
		case 'q': cfg->quiet = 1; break;
		case 'h': return -1;
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
	return 0;
}

/* The options of the run as text: one argument a line. */
static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	for (int i = 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	for (int i = 1; i < argc; i++) {
		size_t n = strlen(argv[i]);
		memcpy(p, argv[i], n);
		p[n] = '\n';
		p += n + 1;
	}
	*p = 0;
	return s;
}

/* Splits join_args' text back into an argv ("train" first) in place. */
static char **split_args(char *s, int *argc)
{
	int n = 1;
	for (char *p = s; *p; p++)
		n += *p == '\n';
	char **v = calloc((size_t)n + 2, sizeof *v);
	if (!v)
		return NULL;
	int k = 0;
	v[k++] = "train";
	for (char *p = s; *p;) {
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = 0;
		v[k++] = p;
		p = nl + 1;
	}
	v[k] = NULL;
	*argc = k;
	return v;
}

typedef struct progress_state {
	cli_progress bar;
	int quiet, tty, epoch;
	int best_epoch;          /* as last reported, and its figures */
	double best_acc, best_auc;
	char label[64];
} progress_state;

static void fmt_time(char *buf, size_t n, double s)
{
	if (s < 0)
		s = 0;
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static int on_progress(void *arg, const siam_train_status *st)
{
	progress_state *ps = arg;
#ifdef SIAM_TEST_HOOKS
	if (st->event == SIAM_TRAIN_STEP && stop_after &&
	    ++steps_done >= stop_after)
		stop_requested = 1;
#endif
	if (!ps->quiet) {
		double rate = st->seconds > 0 ? st->pairs / st->seconds : 0;
		if (st->event == SIAM_TRAIN_STEP) {
			if (st->epoch != ps->epoch) {
				ps->epoch = st->epoch;
				snprintf(ps->label, sizeof ps->label,
				         "epoch %d/%d", st->epoch, st->epochs);
				cli_progress_start(&ps->bar, ps->label,
				                   st->steps, 0);
			}
			/* ETA of the whole run, validation not included. */
			double per_step = st->step ? st->seconds / st->step : 0;
			double left = per_step *
			              ((st->steps - st->step) +
			               (double)(st->epochs - st->epoch) *
			               st->steps);
			char eta[32], extra[128];
			fmt_time(eta, sizeof eta, left);
			snprintf(extra, sizeof extra,
			         "loss %.5f  %.0f pairs/s  run ETA %s",
			         st->loss, rate, eta);
			cli_progress_update(&ps->bar, st->step, extra);
		} else if (st->event == SIAM_TRAIN_VALIDATE) {
			cli_progress_update(&ps->bar, st->steps, "validating");
		} else if (st->event == SIAM_TRAIN_EPOCH) {
			if (st->best_epoch == st->epoch) {
				ps->best_acc = st->val_accuracy;
				ps->best_auc = st->val_auc;
			}
			ps->best_epoch = st->best_epoch;
			cli_progress_end(&ps->bar);
			ps->epoch = 0;
			char t[32];
			fmt_time(t, sizeof t, st->seconds);
			printf("epoch %d/%d  loss %.5f", st->epoch, st->epochs,
			       st->loss);
			if (st->val_accuracy >= 0)
				printf("  val acc %.2f%%  auc %.5f  thr %.4f",
				       100 * st->val_accuracy, st->val_auc,
				       (double)st->val_threshold);
			printf("  %.0f pairs/s  %s%s\n", rate, t,
			       st->best_epoch == st->epoch &&
			       st->val_accuracy >= 0 ? "  *best" : "");
			fflush(stdout);
		}
	}
	return stop_requested != 0;
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	(void)ctx; /* needs nothing opened: no CLI_ flags */
	const struct cmd_entry *E = &cmd_train_entry;
	train_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	siam_train_opts_default(&cfg.o);
	cfg.digit = -1;
	char *stored = NULL, *config = NULL, **sargv = NULL;
	siam_model *m = NULL;
	siam_data *d = NULL;
	siam_error err = { 0 };
	int status = SIAM_EXIT_ERROR, rc;
	/* Under mpirun: rank 0 speaks and saves.  An error every rank
	 * meets at the same point (agreed) ends each rank normally; one
	 * that may be a rank's own ends them all (siam_mpi_abort), since
	 * the others would wait for it for ever. */
	int rank = siam_mpi_rank(), ranks = siam_mpi_size(), agreed = 0;
#ifdef SIAM_MPI
	siam_train_comm comm;
	siam_mpi_train_stats stats = { 0 };
#endif

	/* A first pass only to find --resume and --help. */
	train_cfg probe = cfg;
	if ((rc = parse(&probe, argc, argv)))
		return rc < 0 ? cli_help(E) : rc;
	if (probe.resume) {
		if (probe.other)
			return cli_usage_error(E, "with --resume only -o, "
			                       "--checkpoint and --quiet may be "
			                       "given: the run's other options "
			                       "come from the checkpoint");
		if (siam_checkpoint_config(probe.resume, &stored, &err)) {
			cli_error("train", "%s", err.msg);
			goto done;
		}
		config = strdup(stored);
		int sargc;
		if (!config || !(sargv = split_args(stored, &sargc))) {
			cli_error("train", "out of memory");
			goto done;
		}
		if ((rc = parse(&cfg, sargc, sargv))) {
			cli_error("train", "%s: the checkpoint's options do not "
			          "parse", probe.resume);
			goto done;
		}
		cfg.other = 0;
	} else if (!(config = join_args(argc, argv))) {
		cli_error("train", "out of memory");
		goto done;
	}
	if ((rc = parse(&cfg, argc, argv))) {
		agreed = 1;
		goto done;
	}
	if (rank > 0)
		cfg.quiet = 1;
	if (!cfg.data) {
		agreed = 1;
		status = cli_usage_error(E, "--data is required");
		goto done;
	}
	if (!cfg.output)
		cfg.output = "model.siam";
	char ckpt[4200];
	if (cfg.checkpoint)
		snprintf(ckpt, sizeof ckpt, "%s", cfg.checkpoint);
	else
		snprintf(ckpt, sizeof ckpt, "%s.ckpt", cfg.output);

	if (siam_model_create(&m, cfg.arch ? cfg.arch : SIAM_DEFAULT_ARCH,
	                      &err)) {
		cli_error("train", "--arch: %s", err.msg);
		goto done;
	}
	siam_preproc_default(&m->pre, siam_net_input_c(m->net),
	                     siam_net_input_h(m->net),
	                     siam_net_input_w(m->net));
	siam_data_suggest_preproc(&m->pre, cfg.data);
	if (cfg.digit >= 0)
		m->pre.digit = cfg.digit;
	if (!cfg.quiet) {
		fprintf(stderr, "siam train: loading %s\n", cfg.data);
		fflush(stderr);
	}
	if (siam_data_open(&d, cfg.data, SIAM_SPLIT_TRAIN, &m->pre, &err)) {
		cli_error("train", "%s", err.msg);
		goto done;
	}
	for (int i = 0; i < d->nbad && rank == 0; i++)
		cli_error("train", "skipped %s", d->bad[i]);

	progress_state ps = { .quiet = cfg.quiet };
	ps.tty = isatty(STDERR_FILENO);
	cfg.o.progress = on_progress;
	cfg.o.progress_arg = &ps;
	cfg.o.checkpoint = ckpt;
	cfg.o.resume = cfg.resume;
	cfg.o.config = config;
#ifdef SIAM_MPI
	if (ranks > 1) {
		siam_mpi_train_comm(&comm, &stats);
		cfg.o.comm = &comm;
	}
#endif
	stop_requested = 0;
#ifdef SIAM_TEST_HOOKS
	const char *hook = getenv("SIAM_TEST_STOP_AFTER");
	stop_after = hook ? atol(hook) : 0;
	steps_done = 0;
#endif
	void (*old)(int) = signal(SIGINT, on_sigint);
	rc = siam_train(m, d, &cfg.o, &err);
	signal(SIGINT, old);
	cli_progress_end(&ps.bar);
	/* The options, a divergence and a stop are the same on every rank
	 * (siam_train agrees on the last two). */
	agreed = rc == SIAM_EINTR || rc == SIAM_EDIVERGED || rc == SIAM_EINVAL;
	if (rank > 0) {
		status = rc == SIAM_EINTR ? 130 : rc ? SIAM_EXIT_ERROR : 0;
		if (rc && !agreed)
			cli_error("train", "%s", err.msg);
		goto done;
	}
	if (rc == SIAM_EINTR) {
		cli_error("train", "%s", err.msg);
		if (strstr(err.msg, ckpt))
			fprintf(stderr, "resume with: siam train --resume %s\n",
			        ckpt);
		status = 130; /* 128 + SIGINT, as the shell reports it */
		goto done;
	}
	if (rc) {
		cli_error("train", "%s", err.msg);
		goto done;
	}
	if (siam_model_save(m, cfg.output, &err)) {
		cli_error("train", "%s", err.msg);
		goto done;
	}
	if (cfg.resume || access(ckpt, F_OK) == 0)
		unlink(ckpt); /* the run is complete: the checkpoint is spent */
	if (!cfg.quiet) {
		printf("saved %s  threshold %.4f", cfg.output,
		       (double)m->threshold);
		if (ps.best_epoch > 0 && ps.best_acc >= 0)
			printf("  (epoch %d kept: val acc %.2f%%, auc %.5f)",
			       ps.best_epoch, 100 * ps.best_acc, ps.best_auc);
		printf("\n");
	}
#ifdef SIAM_MPI
	if (ranks > 1 && !cfg.quiet && stats.steps)
		printf("%d ranks: %llu steps, %llu bytes summed per step\n",
		       ranks, stats.steps, stats.summed / stats.steps);
#endif
	status = SIAM_EXIT_OK;
done:
	if (status != SIAM_EXIT_OK && status != 130 && ranks > 1 && !agreed)
		siam_mpi_abort(status, "train: the run stops on every rank");
	siam_data_free(d);
	siam_model_free(m);
	free(sargv);
	free(stored);
	free(config);
	return status;
}
