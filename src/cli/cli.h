/*
 * cli.h -- the siam command table and helpers shared by the commands.
 *
 * Each command lives in its own file src/cli/cmd_NAME.c and exports one
 * struct cmd_entry; main.c lists them in a NULL-terminated table.
 */
#ifndef SIAM_CLI_H
#define SIAM_CLI_H

#include "siam.h"

#include <stdio.h>

/* Exit statuses, stable across releases (documented in siam(1)). */
enum {
	SIAM_EXIT_OK = 0,      /* success; for verify: "same"          */
	SIAM_EXIT_NO = 1,      /* a negative answer: verify "different" */
	SIAM_EXIT_ERROR = 2,   /* error: bad usage, bad input, failure  */
	SIAM_EXIT_PARTIAL = 3  /* finished, but some inputs had errors  */
};

/* What a command needs before its work, declared in its table entry as
 * git's run_builtin flags do.  Unlike git's, siam's --db and --model are
 * options of each command, so the command parses its argv first, puts
 * them in its cli_ctx and calls cli_setup(), which opens what the flags
 * ask for; main.c frees all of it after the command returns, on every
 * path, so no command closes a database or frees a model itself. */
enum {
	CLI_DB = 1,          /* the database: --db, else CLI_DEFAULT_DB */
	CLI_DB_CREATE = 2,   /*   created (with its schema) if missing */
	CLI_DB_READONLY = 4, /*   read-only: never created nor migrated */
	CLI_DB_OPTIONAL = 8, /*   only if --db names it or the file exists */
	CLI_MODEL = 16,      /* the model, by cli_db_model's rule with a
	                      * database, by cli_model_path's without */
	CLI_MODEL_STORE = 32, /*   stored in the database as its current
	                      *   model (cli_ctx.store_model overrides) */
	CLI_MPI = 64         /* runs under mpirun with several ranks
	                      * (src/mpi/world.h); main.c refuses the others */
};

struct sqlite3;

typedef struct cli_ctx {
	const struct cmd_entry *cmd; /* set by main.c */
	/* Set by the command from its options before cli_setup(). */
	const char *db_path;   /* --db; NULL: CLI_DEFAULT_DB */
	const char *model_arg; /* --model; NULL: the default rule */
	int store_model;       /* -1: as CLI_MODEL_STORE says; 0 or 1 */
	const char *const *images; /* what the command will read, for the
	                        * default model's rule (cli_model_default) */
	int nimages;
	/* Set by cli_setup(); owned by main.c, freed after run returns. */
	struct sqlite3 *db;    /* NULL when not asked for, or optional and
	                        * absent */
	const char *db_used;   /* the path opened (db_path or the default) */
	siam_model *model;
	int64_t model_id;      /* models.id; 0 when not in the database */
	char model_name[4200]; /* where the model came from, for messages */
} cli_ctx;

struct cmd_entry {
	const char *name;
	const char *summary; /* one line for 'siam --help' */
	const char *usage;   /* full --help text */
	int (*run)(int argc, char **argv, cli_ctx *ctx);
	int flags;           /* CLI_DB, CLI_MODEL, ... */
};

/* Opens what ctx->cmd->flags ask for, from ctx->db_path, model_arg and
 * store_model; on failure prints the error and returns -1 (the command
 * returns SIAM_EXIT_ERROR).  What was opened stays in ctx either way. */
int cli_setup(cli_ctx *ctx);
/* Frees what cli_setup opened (main.c calls it). */
void cli_teardown(cli_ctx *ctx);

extern const struct cmd_entry cmd_version_entry;
extern const struct cmd_entry cmd_selftest_entry;
extern const struct cmd_entry cmd_index_entry;
extern const struct cmd_entry cmd_query_entry;
extern const struct cmd_entry cmd_dedup_entry;
extern const struct cmd_entry cmd_sql_entry;
extern const struct cmd_entry cmd_info_entry;
extern const struct cmd_entry cmd_train_entry;
extern const struct cmd_entry cmd_eval_entry;
extern const struct cmd_entry cmd_verify_entry;
extern const struct cmd_entry cmd_serve_entry;

/* The default model's rule takes pictures without colour up to this
 * many pixels a side for digits (the digits of examples/ are 28 and
 * 200, a scanned digit in tests/fixtures 300), and looks at no more than
 * CLI_DIGIT_LOOK images. */
#define CLI_DIGIT_SIDE 512
#define CLI_DIGIT_LOOK 1000
/* An RGB picture whose channels differ by at most this much on average
 * (0-255) has no colour: a scan of gray content. */
#define CLI_GRAY_SPREAD 8
/* The rule in one sentence, as README and siam(1) state it. */
#define CLI_MODEL_RULE "--model, else the model the database was " \
	"indexed with, else $SIAM_MODEL, else 'digits' for images without " \
	"colour of at most 512 pixels a side and 'photo' for any other"
/* The shipped model a command uses when neither --model, $SIAM_MODEL nor
 * a database names one: "digits" when every image of images (files,
 * folders walked recursively, up to CLI_DIGIT_LOOK images; "mnist:DIR"
 * data counts as digits) is without colour (gray, or RGB within
 * CLI_GRAY_SPREAD) and at most CLI_DIGIT_SIDE pixels a side, else "photo" (also for none, "-" and URLs).  Static string. */
const char *cli_model_default(const char *const *images, int nimages);
/* The file of a shipped model's name (photo, digits, digits-0-4,
 * fashion), e.g. "mnist.siam"; NULL for another name. */
const char *cli_model_file(const char *name);
/* The model file a command uses when no database names one: given
 * (--model: a file, or a shipped model's name when no such file exists),
 * else $SIAM_MODEL (the same), else cli_model_default(images).  A shipped model is looked up in
 * SIAM_MODELDIR, then in models/ of the source tree siam was built from
 * (for an uninstalled siam).  Writes the path into buf and returns 0;
 * -1 after printing an error that lists the places tried. */
int cli_model_path(const char *cmd, const char *given,
                   const char *const *images, int nimages, char *buf,
                   size_t len);
/* cli_model_path, then siam_model_load; prints the error and returns -1
 * on failure.  *path (may be NULL) receives the path used. */
int cli_load_model(const char *cmd, const char *given,
                   const char *const *images, int nimages,
                   siam_model **out, char *path, size_t len);

/* Prints "siam NAME: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints the usage of cmd to stdout (for --help) and returns EXIT_OK. */
int cli_help(const struct cmd_entry *cmd);
/* Prints a short usage hint to stderr and returns EXIT_ERROR. */
int cli_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Strict number parsing for options: the whole string must parse and
 * lie in [lo, hi]; otherwise prints an error naming opt and returns -1. */
int cli_parse_int(const struct cmd_entry *cmd, const char *opt,
                  const char *s, long lo, long hi, long *out);
int cli_parse_float(const struct cmd_entry *cmd, const char *opt,
                    const char *s, double lo, double hi, double *out);

/* Writes s as a JSON string literal (with quotes and escapes). */
void cli_json_string(FILE *f, const char *s);

/* A progress bar on stderr when it is a terminal, silent otherwise.
 * cli_progress_update redraws at most ~10 times a second. */
typedef struct cli_progress {
	const char *label;
	long total;
	double start, last;
	int enabled;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, long total,
                        int quiet);
/* extra: a short text shown after the bar (loss, rate), may be NULL. */
void cli_progress_update(cli_progress *p, long done, const char *extra);
void cli_progress_end(cli_progress *p);
/* Monotonic seconds. */
double cli_now(void);

#endif
