/*
 * cmd_version.c -- siam version: print the version.
 */
#include "config.h"
#include "cli.h"

#include <string.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_version_entry = {
	"version", "print siam's version",
	"usage: siam version\n\nPrints siam's version and exits.\n", run,
	0 /* opens nothing */
};

static int run(int argc, char **argv, cli_ctx *ctx)
{
	(void)ctx; /* needs nothing opened: no CLI_ flags */
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(&cmd_version_entry);
	if (argc > 1)
		return cli_usage_error(&cmd_version_entry,
		                       "unexpected argument '%s'", argv[1]);
	printf("siam %s\n", SIAM_VERSION);
	return SIAM_EXIT_OK;
}
