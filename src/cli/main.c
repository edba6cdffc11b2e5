/*
 * main.c -- siam's entry point: dispatch to a git-style subcommand, and
 * do what every command needs around it (as git's run_builtin does):
 * reset getopt before it parses its options, free the database and model
 * its table flags had opened (cli_setup), and check after it that
 * everything it printed reached standard output.
 */
#include "config.h"
#include "cli.h"
#include "mpi/world.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const struct cmd_entry *const commands[] = {
	&cmd_train_entry,
	&cmd_eval_entry,
	&cmd_verify_entry,
	&cmd_index_entry,
	&cmd_query_entry,
	&cmd_dedup_entry,
	&cmd_sql_entry,
	&cmd_serve_entry,
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

/* A result that did not reach its reader is no result: a full disk or
 * a failed device shows only when the buffer is flushed or the stream
 * closed, so a command that printed "same" there must not exit 0. */
static int check_stdout(const char *name, int status)
{
	const char *why = NULL;
	if (fflush(stdout) != 0)
		why = strerror(errno);
	else if (ferror(stdout))
		why = "an earlier write failed";
	else if (fclose(stdout) != 0)
		why = strerror(errno);
	if (!why)
		return status;
	cli_error(name, "cannot write to standard output: %s", why);
	return SIAM_EXIT_ERROR;
}

static int run_command(const struct cmd_entry *cmd, int argc, char **argv)
{
	/* Every command parses its own argv with getopt_long.  optind = 0
	 * makes glibc start over completely (its place inside a cluster of
	 * short options too), whatever ran before; opterr = 0 because each
	 * command names a bad option in its own usage message. */
	optind = 0;
	opterr = 0;
	/* Under mpirun only the commands written for it run: N copies of
	 * any other would each do the whole work (and write one database
	 * N times). */
	if (siam_mpi_size() > 1 && !(cmd->flags & CLI_MPI)) {
		if (siam_mpi_rank() == 0)
			cli_error(cmd->name, "does not run under mpirun with "
			          "more than one process (index, dedup and "
			          "train do)");
		return SIAM_EXIT_ERROR;
	}
	cli_ctx ctx = { .cmd = cmd, .store_model = -1 };
	int status = cmd->run(argc, argv, &ctx);
	cli_teardown(&ctx);
	return check_stdout(cmd->name, status);
}

/* The command, between starting MPI (when mpirun started siam; see
 * src/mpi/world.h) and stopping it. */
static int run_mpi(const struct cmd_entry *cmd, int argc, char **argv)
{
	char err[256];
	if (siam_mpi_start(&argc, &argv, err, sizeof err) != 0) {
		cli_error(cmd->name, "%s", err);
		return SIAM_EXIT_ERROR;
	}
	int status = run_command(cmd, argc - 1, argv + 1);
	siam_mpi_stop();
	return status;
}

int main(int argc, char **argv)
{
	/* BLAS set to one thread first thing: OpenBLAS's idle workers
	 * stop spinning on the other core (src/nn/blas.c). */
	siam_set_threads(0);
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
			return check_stdout("help", SIAM_EXIT_OK);
		}
		for (int i = 0; commands[i]; i++)
			if (!strcmp(commands[i]->name, name))
				return check_stdout(name, cli_help(commands[i]));
		fprintf(stderr, "siam: no such command: '%s'\n", name);
		return SIAM_EXIT_ERROR;
	}
	if (!strcmp(name, "--version"))
		name = "version";
	for (int i = 0; commands[i]; i++)
		if (!strcmp(commands[i]->name, name))
			return run_mpi(commands[i], argc, argv);
	fprintf(stderr, "siam: '%s' is not a siam command; see 'siam --help'\n",
	        name);
	return SIAM_EXIT_ERROR;
}
