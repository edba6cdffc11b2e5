/*
 * sqlite_api.h -- how a file of src/db/ or src/sqlite/ reaches SQLite.
 *
 * These files are compiled twice (Makefile.am):
 *   - into libsiam, as they are: <sqlite3.h>, direct calls into the
 *     libsqlite3 the program links;
 *   - into the loadable module siam.so with -DSIAM_SQLITE_EXTENSION:
 *     <sqlite3ext.h> turns every sqlite3_* call into a call through the
 *     host's sqlite3_api_routines table (set by sqlite3_siam_init in
 *     siam_ext.c, declared here by SQLITE_EXTENSION_INIT3).  The host
 *     (the sqlite3 shell, Python, a program with its own amalgamation)
 *     may carry a different SQLite, statically linked; a direct call
 *     would reach another library with other global state, so siam.so
 *     links no libsqlite3 at all (tests/sql_needed.sh checks).
 * Include this instead of <sqlite3.h>, before anything that could
 * include <sqlite3.h> itself.
 */
#ifndef SIAM_DB_SQLITE_API_H
#define SIAM_DB_SQLITE_API_H

#ifdef SIAM_SQLITE_EXTENSION
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#endif
