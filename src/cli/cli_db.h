/*
 * cli_db.h -- what the commands that read or write a database share:
 * opening it and choosing the model.  Private to the CLI.
 */
#ifndef SIAM_CLI_DB_H
#define SIAM_CLI_DB_H

#include "cli.h"

#include <sqlite3.h>

/* The database a command uses when --db is not given. */
#define CLI_DEFAULT_DB "siam.db"

/* siam_db_open with the error printed; NULL on failure. */
sqlite3 *cli_db_open(const char *cmd, const char *path, int flags);

/* The model of a command that works on a database, in siam(1)'s order:
 *   given (--model FILE): that file.  With store, it is put into the
 *     models table (once) and becomes the current model; without, it
 *     is looked up there by its SHA-256 and *id is 0 if it never was.
 *   else the database's current model;
 *   else the default model (cli_model_path: $SIAM_MODEL, else the
 *     shipped model cli_model_default picks for images), stored as
 *     above when store is set.
 * *id receives its models.id (0: not in the database), name (may be
 * NULL) where it came from.  Prints the error and returns -1. */
int cli_db_model(const char *cmd, sqlite3 *db, const char *given,
                 const char *const *images, int nimages, int store,
                 siam_model **m, int64_t *id, char *name, size_t len);

/* After a command that changed the images (index, dedup): brings the
 * nearest-neighbour sidecar of model_id up to date now, so that the next
 * 'siam query' does not pay for it, by running one siam_knn query, which
 * maps a fresh sidecar or reads the matrix and writes one under its own
 * rules (a database file in a writable folder, at least 4096 images,
 * SIAM_KNN_SIDECAR not 0 or read; siam-sql(7)).  A cache: nothing is
 * reported, whatever happens. */
void cli_knn_refresh(sqlite3 *db, int64_t model_id);

/* Prints s for a text listing: as is when it has no control bytes,
 * else C-quoted ("a\nb") so that one path stays on one line. */
void cli_text_path(FILE *f, const char *s);

#endif
