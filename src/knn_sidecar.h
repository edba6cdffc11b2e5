/*
 * knn_sidecar.h -- the file beside a database that keeps siam_knn's
 * matrix between processes (src/knn_sidecar.c): the image ids, the
 * float rows and the int8 copy (knn8) of one model's embeddings, as of
 * one meta.images_gen, memory-mapped by the next process instead of
 * being read from SQLite and coded again.  No SQLite here: the virtual
 * table (src/sqlite/knn_vtab.c) decides when to read or write one, the
 * tests call these directly.  Private to libsiam, the module and the
 * tests.
 */
#ifndef SIAM_KNN_SIDECAR_H
#define SIAM_KNN_SIDECAR_H

#include "knn.h"

#include <stddef.h>
#include <stdint.h>

/* What a sidecar must match to be used: the model whose embeddings it
 * holds, their length, and meta.images_gen (a random 64-bit number the
 * schema's triggers replace on every change of images, so it names one
 * state of one database's images). */
typedef struct knn_side_tag {
	int64_t model_id, gen;
	int dim;
} knn_side_tag;

/* An open sidecar: everything points into one read-only mapping. */
typedef struct knn_side {
	void *map;
	size_t len;
	int64_t n;
	int dim;
	const int64_t *ids; /* n, ascending */
	const float *x;     /* n rows of dim floats */
	knn8 q8;            /* its arrays point into the mapping: never
	                     * knn8_free it */
} knn_side;

/* "DBFILE-knn-MODEL" (malloc'ed, the caller frees it), or NULL if
 * dbfile is NULL or empty (an in-memory or temporary database: no
 * sidecar) or out of memory. */
SIAM_HIDDEN char *knn_side_path(const char *dbfile, int64_t model_id);

/* Maps the sidecar at path if it is one (magic, version, byte order),
 * of exactly tag, and self-consistent: its header and offsets pass
 * their CRC-32, its size is exactly what its header implies, its scale
 * and offsets are finite.  The rows are not read (see knn_sidecar.c:
 * the cost is the header's, whatever n).  Returns 0 (s filled; close
 * with knn_side_close), or -1: missing, stale or invalid, s zeroed;
 * the caller then reads the database as if there were no file. */
SIAM_HIDDEN int knn_side_open(knn_side *s, const char *path,
                              const knn_side_tag *tag);
/* Unmaps s and zeroes it; a zeroed s is a no-op. */
SIAM_HIDDEN void knn_side_close(knn_side *s);

/* Replaces path with a sidecar of n rows (ids ascending, x n by dim,
 * q8 the coded copy of x) tagged tag, with permissions mode & 0666
 * (the database's; -1: 0600): written to a unique temporary
 * file beside it ("PATH.XXXXXX", locked while written; those a killed
 * writer left are removed first), flushed (fsync), renamed over path,
 * the directory flushed.  Returns 0, or -1 with path as it was and the temporary
 * removed (no write access, disk full): a sidecar is a cache, and the
 * caller carries on without it. */
SIAM_HIDDEN int knn_side_write(const char *path, int mode,
                               const knn_side_tag *tag, const int64_t *ids,
                               const float *x, const knn8 *q8);

#endif
