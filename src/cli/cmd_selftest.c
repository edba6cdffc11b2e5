/*
 * cmd_selftest.c -- siam selftest: check the network core on this
 * machine.  The checks are the library's (siam_selftest, src/selftest.c:
 * every fast kernel next to its naive reference, the default
 * architecture's gradients against finite differences); this prints one
 * line per check.
 */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_selftest_entry = {
	"selftest", "check the network layers against references",
	"usage: siam selftest\n\n"
	"Runs each layer of the network core (convolution, max-pool, ReLU,\n"
	"dense, L2 normalisation, the losses) and the matrix product through\n"
	"its fast kernel and its naive reference, and checks the gradients of\n"
	"the default architecture against central finite differences.  Prints\n"
	"one line per check with the largest error found.\n\n"
	"Exit status: 0 if every check passed, 2 otherwise.\n",
	run,
	0 /* opens nothing */
};

static void print_check(void *arg, const siam_selftest_check *c)
{
	(void)arg;
	if (c->detail)
		printf("    %s\n", c->what);
	else
		printf("%s  %s (%s %.2g)\n", c->ok ? "ok" : "FAIL", c->what,
		       c->measure, c->value);
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	(void)ctx; /* needs nothing opened: no CLI_ flags */
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help(&cmd_selftest_entry);
	if (argc > 1)
		return cli_usage_error(&cmd_selftest_entry,
		                       "unexpected argument '%s'", argv[1]);
	siam_error err;
	int failures = siam_selftest(getenv("SIAM_SELFTEST_VERBOSE")
	                             ? SIAM_SELFTEST_DETAIL : 0,
	                             print_check, NULL, &err);
	if (failures < 0) {
		cli_error("selftest", "%s", err.msg);
		return SIAM_EXIT_ERROR;
	}
	if (failures) {
		printf("%d check%s FAILED\n", failures, failures > 1 ? "s" : "");
		return SIAM_EXIT_ERROR;
	}
	printf("all checks passed\n");
	return SIAM_EXIT_OK;
}
