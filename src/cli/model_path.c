/*
 * model_path.c -- which model a command uses when none is named.
 *
 * The rule (README, siam(1)): --model FILE or a shipped model's name
 * (photo, digits, digits-0-4, fashion); else, for the commands that
 * read a database, the model it was indexed with (cli_db.c); else
 * $SIAM_MODEL; else the digit model when every image the command is given is a
 * picture without colour of at most CLI_DIGIT_SIDE pixels a side, and
 * the photo model otherwise.  A shipped model is looked up in SIAM_MODELDIR
 * (where 'make install' puts them), then in models/ of the source tree
 * this siam was built from, so that an uninstalled siam works too.
 */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SIAM_MODELDIR
#define SIAM_MODELDIR "/usr/local/share/siam/models"
#endif

/* The shipped models by name: what --model accepts besides a file. */
static const struct {
	const char *name, *file;
} shipped[] = {
	{ "photo", "photo.siam" },
	{ "digits", "mnist.siam" },
	{ "digits-0-4", "mnist-0-4.siam" },
	{ "fashion", "fashion.siam" },
};

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The file of shipped model file (e.g. "photo.siam"): installed, else
 * the source tree's.  -1 with the places tried in the error. */
static int shipped_path(const char *cmd, const char *file, char *buf,
                        size_t len)
{
	snprintf(buf, len, "%s/%s", SIAM_MODELDIR, file);
	if (is_file(buf))
		return 0;
#ifdef SIAM_SRCDIR
	char src[4096];
	snprintf(src, sizeof src, "%s/models/%s", SIAM_SRCDIR, file);
	if (is_file(src)) {
		snprintf(buf, len, "%s", src);
		return 0;
	}
#else
	const char *src = "(no source tree)";
#endif
	cli_error(cmd, "no model: give --model FILE or set SIAM_MODEL (no "
	          "%s at %s/%s nor %s)", file, SIAM_MODELDIR, file, src);
	return -1;
}

const char *cli_model_file(const char *name)
{
	for (size_t i = 0; i < sizeof shipped / sizeof *shipped; i++)
		if (!strcmp(name, shipped[i].name))
			return shipped[i].file;
	return NULL;
}

/* Walk state: stops at the first image that is not digit-like. */
typedef struct {
	int seen, digit_like, checked;
} look;

/* Gray, or RGB without colour: a scan saved as an RGB JPEG is gray
 * content with a little chroma noise, a photograph is not. */
static int colourless(const siam_image *img)
{
	if (img->c == 1)
		return 1;
	long n = (long)img->w * img->h, sum = 0;
	for (long i = 0; i < n; i++) {
		const unsigned char *p = img->px + i * img->c;
		int lo = p[0], hi = p[0];
		for (int k = 1; k < 3; k++) {
			lo = p[k] < lo ? p[k] : lo;
			hi = p[k] > hi ? p[k] : hi;
		}
		sum += hi - lo;
	}
	return n > 0 && sum <= CLI_GRAY_SPREAD * n;
}

static int look_at(look *l, const char *path)
{
	siam_image img = { 0 };
	siam_image_limits lim;
	siam_error err = { 0, "" };
	siam_image_limits_default(&lim);
	/* the smallest JPEG scale is enough: only c and full size count */
	lim.want_w = lim.want_h = 1;
	if (siam_image_load(&img, path, &lim, &err))
		return 0; /* not an image: says nothing */
	l->seen++;
	if (!colourless(&img) || img.full_w > CLI_DIGIT_SIDE ||
	    img.full_h > CLI_DIGIT_SIDE)
		l->digit_like = 0;
	siam_image_release(&img);
	return !l->digit_like || ++l->checked >= CLI_DIGIT_LOOK;
}

static int walk_cb(void *arg, const siam_walk_entry *e)
{
	return e->kind == SIAM_WALK_FILE ? look_at(arg, e->path) : 0;
}

const char *cli_model_default(const char *const *images, int n)
{
	look l = { 0, 1, 0 };
	siam_error err = { 0, "" };
	for (int i = 0; i < n && l.digit_like && l.checked < CLI_DIGIT_LOOK;
	     i++) {
		const char *p = images[i];
		struct stat st;
		if (!strncmp(p, "mnist:", 6)) { /* IDX: 28x28 grayscale */
			l.seen++;
			continue;
		}
		if (!strncmp(p, "folder:", 7) || !strncmp(p, "augment:", 8))
			p = strchr(p, ':') + 1;
		if (!strcmp(p, "-") || strstr(p, "://") || stat(p, &st)) {
			l.digit_like = 0; /* not to be read twice, or not there */
			break;
		}
		if (S_ISDIR(st.st_mode))
			siam_walk(&p, 1, walk_cb, &l, &err);
		else
			look_at(&l, p);
	}
	return l.seen && l.digit_like ? "digits" : "photo";
}

int cli_model_path(const char *cmd, const char *given,
                   const char *const *images, int nimages, char *buf,
                   size_t len)
{
	if (given && *given) {
		const char *file = cli_model_file(given);
		if (!file || is_file(given)) {
			snprintf(buf, len, "%s", given);
			return 0;
		}
		return shipped_path(cmd, file, buf, len);
	}
	const char *env = getenv("SIAM_MODEL");
	if (env && *env)
		return cli_model_path(cmd, env, NULL, 0, buf, len);
	return shipped_path(cmd, cli_model_file(cli_model_default(images,
	                                                          nimages)),
	                    buf, len);
}

int cli_load_model(const char *cmd, const char *given,
                   const char *const *images, int nimages,
                   siam_model **out, char *path, size_t len)
{
	char tmp[4096];
	if (!path) {
		path = tmp;
		len = sizeof tmp;
	}
	*out = NULL;
	if (cli_model_path(cmd, given, images, nimages, path, len))
		return -1;
	siam_error err = { 0 };
	if (siam_model_load(out, path, &err)) {
		cli_error(cmd, "%s", err.msg);
		return -1;
	}
	return 0;
}
