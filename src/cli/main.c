/*
 * main.c -- siam's entry point: dispatch to a git-style subcommand.
 */
#include "config.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct cmd_entry *const commands[] = {
	&cmd_train_entry,
	&cmd_eval_entry,
	&cmd_verify_entry,
	&cmd_index_entry,
	&cmd_query_entry,
	&cmd_sql_entry,
	&cmd_info_entry,
	&cmd_selftest_entry,
	&cmd_version_entry,
	NULL
};

static void usage(FILE *f)
{
	fprintf(f, "usage: siam [--help] [--version] COMMAND [ARGS]\n\n"
	           "Image similarity and near-duplicate detection with a "
	           "Siamese CNN.\n\nCommands:\n");
	for (int i = 0; commands[i]; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name,
		        commands[i]->summary);
	fprintf(f, "\n'siam COMMAND --help' and 'man siam-COMMAND' describe "
	           "each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return SIAM_EXIT_ERROR;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") ||
	    !strcmp(name, "help")) {
		if (!strcmp(name, "help") && argc > 2)
			name = argv[2];
		else {
			usage(stdout);
			return SIAM_EXIT_OK;
		}
		for (int i = 0; commands[i]; i++)
			if (!strcmp(commands[i]->name, name))
				return cli_help(commands[i]);
		fprintf(stderr, "siam: no such command: '%s'\n", name);
		return SIAM_EXIT_ERROR;
	}
	if (!strcmp(name, "--version"))
		name = "version";
	for (int i = 0; commands[i]; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i]->run(argc - 1, argv + 1);
	fprintf(stderr, "siam: '%s' is not a siam command; see 'siam --help'\n",
	        name);
	return SIAM_EXIT_ERROR;
}
