/*
 * model_path.c -- which model a command uses when none is named.
 *
 * The order is the one siam(1) documents: --model FILE, then the
 * SIAM_MODEL environment variable, then the model 'make install' put in
 * SIAM_MODELDIR, then models/mnist.siam of the source tree this siam was
 * built from, so that a freshly built, uninstalled siam works too.  The
 * commands that also read a database (query, dedup) put "the model
 * stored in the database" between --model and these defaults.
 */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SIAM_MODELDIR
#define SIAM_MODELDIR "/usr/local/share/siam/models"
#endif

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_model_path(const char *cmd, const char *given, char *buf,
                   size_t len)
{
	if (given && *given) {
		snprintf(buf, len, "%s", given);
		return 0;
	}
	const char *env = getenv("SIAM_MODEL");
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	const char *installed = SIAM_MODELDIR "/mnist.siam";
	if (is_file(installed)) {
		snprintf(buf, len, "%s", installed);
		return 0;
	}
#ifdef SIAM_SRCDIR
	const char *src = SIAM_SRCDIR "/models/mnist.siam";
	if (is_file(src)) {
		snprintf(buf, len, "%s", src);
		return 0;
	}
#else
	const char *src = "(no source tree)";
#endif
	cli_error(cmd, "no model: give --model FILE or set SIAM_MODEL (no "
	          "default model at %s nor %s)", installed, src);
	return -1;
}

int cli_load_model(const char *cmd, const char *given, siam_model **out,
                   char *path, size_t len)
{
	char tmp[4096];
	if (!path) {
		path = tmp;
		len = sizeof tmp;
	}
	*out = NULL;
	if (cli_model_path(cmd, given, path, len))
		return -1;
	siam_error err = { 0 };
	if (siam_model_load(out, path, &err)) {
		cli_error(cmd, "%s", err.msg);
		return -1;
	}
	return 0;
}
