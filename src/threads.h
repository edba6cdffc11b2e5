/*
 * threads.h -- siam's one thread pool (src/threads.c); not installed,
 * not exported from libsiam.
 *
 * A pool is an object its owner creates and frees: there is no pool of
 * the process.  The nets keep one per workspace, the indexer and the
 * folder: loader one per run.  Three ways to use it:
 *
 *   thr_pool_run    fork-join: fn(arg, t, T) for t = 0..T-1, t = 0 on
 *                   the caller; returns when all are done.
 *   thr_pool_for    parallel for: fn(arg, i, t) once for every i in
 *                   [0, n), on whichever thread is free; t names the
 *                   thread (for per-thread scratch).  fn must write its
 *                   result only to slot i, so that the result does not
 *                   depend on which thread took which i.
 *   thr_pool_start  the workers only (t = 1..T-1) run fn while the
 *   thr_pool_wait   caller does something else (the indexer consumes
 *                   the decoders' results); wait joins them.
 *
 * A NULL pool, a pool of one thread and a call made from inside one of
 * the pool's own jobs (nesting) all run inline on the caller, as T = 1:
 * never a deadlock.  Calls on one pool from several threads at once are
 * taken one at a time.
 */
#ifndef SIAM_THREADS_H
#define SIAM_THREADS_H

#include "internal.h"

#include <stddef.h>

typedef struct thr_pool thr_pool;

/* A pool of n threads in all, the caller's included (so n - 1 workers,
 * which sleep between jobs); n is capped at THR_MAX.  Returns NULL when
 * n <= 1 or threads cannot be had: the caller then runs alone, which
 * every function here accepts. */
#define THR_MAX 64
SIAM_HIDDEN thr_pool *thr_pool_new(int n);
SIAM_HIDDEN void thr_pool_free(thr_pool *p); /* NULL is a no-op */
/* Threads a job on p gets: 1 for NULL. */
SIAM_HIDDEN int thr_pool_size(const thr_pool *p);

/* Runs fn(arg, t, T) for t = 0..T-1 and returns T (1 when inline). */
SIAM_HIDDEN int thr_pool_run(thr_pool *p,
                             void (*fn)(void *arg, int t, int T),
                             void *arg);
/* Runs fn(arg, i, t) for every i in [0, n) exactly once. */
SIAM_HIDDEN void thr_pool_for(thr_pool *p, size_t n,
                              void (*fn)(void *arg, size_t i, int t),
                              void *arg);
/* Starts fn(arg, t, T) for t = 1..T-1 on the workers and returns T - 1,
 * the number started; 0 (nothing started) for NULL, a one-thread pool or
 * when nested.  Every start must be followed by thr_pool_wait, which
 * returns when they are all done; the pool takes no other job between
 * the two. */
SIAM_HIDDEN int thr_pool_start(thr_pool *p,
                               void (*fn)(void *arg, int t, int T),
                               void *arg);
SIAM_HIDDEN void thr_pool_wait(thr_pool *p);

#endif
