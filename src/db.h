/*
 * db.h -- private to src/db*.c and the tests: the schema text.
 */
#ifndef SIAM_DB_H
#define SIAM_DB_H

#include "internal.h"

/* The text of sql/schema.sql, byte for byte: src/db_schema_sql.c is
 * generated from it by the Makefile, so the two cannot drift. */
SIAM_HIDDEN extern const char siam_db_schema_sql[];

/* migrations[v] upgrades a database of version v to v + 1 (v >= 1). */
SIAM_HIDDEN extern const char *const siam_db_migrations[SIAM_DB_VERSION];

#endif
