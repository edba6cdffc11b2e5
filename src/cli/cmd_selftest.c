/*
 * cmd_selftest.c -- siam selftest: placeholder, filled by the nn core.
 */
#include "config.h"
#include "cli.h"

static int run(int argc, char **argv)
{
	(void)argc; (void)argv;
	return SIAM_EXIT_OK;
}

const struct cmd_entry cmd_selftest_entry = {
	"selftest", "check the network layers against references",
	"usage: siam selftest\n", run
};
