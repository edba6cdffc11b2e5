/*
 * threads.c -- the one thread pool: fork-join, a parallel for into fixed
 * slots, and workers started in the background (see threads.h).
 *
 * Workers sleep on a condition variable and wake for each job (a new
 * generation number).  A job is one of:
 *   RUN    each thread t calls fn(arg, t, T) once;
 *   FOR    threads take indices from a shared counter until n is
 *          reached: the work balances itself, and since every index is
 *          its own slot the result is the same whoever took it;
 *   START  as RUN, without the caller.
 * One job at a time: run_mu is held from the job's start to its end, so
 * two threads sharing a pool take turns instead of mixing their jobs.
 * A thread that is inside one of the pool's jobs and calls the pool
 * again (nesting) would wait for itself; it runs the call inline
 * instead, which it can tell from a thread-local pointer to the pool it
 * is working for.
 */
#include "threads.h"

#include <pthread.h>
#include <stdlib.h>

enum { JOB_RUN, JOB_FOR, JOB_START };

struct thr_pool {
	int n;                   /* threads, the caller's included */
	pthread_t *th;           /* (n - 1) workers */
	pthread_mutex_t run_mu;  /* held for a whole job */
	pthread_mutex_t mu;      /* guards what follows */
	pthread_cond_t work, done;
	unsigned long gen;       /* bumped for each job */
	int pending;             /* workers still in the job */
	int quit;
	int kind;                /* JOB_* */
	void (*fn)(void *, int, int);
	void (*ffn)(void *, size_t, int);
	void *arg;
	size_t count, next;      /* JOB_FOR: indices, the next one free */
	struct thr_worker {
		struct thr_pool *p;
		int t;
	} *w;
};

/* The pool whose job this thread is running, if any: nesting. */
static _Thread_local const thr_pool *thr_current;

/* Takes the next index of a FOR job, or n when none is left. */
static size_t take(thr_pool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t i = p->next < p->count ? p->next++ : p->count;
	pthread_mutex_unlock(&p->mu);
	return i;
}

/* Thread t's part of the current job. */
static void work(thr_pool *p, int t)
{
	const thr_pool *outer = thr_current;
	thr_current = p;
	if (p->kind == JOB_FOR) {
		for (size_t i; (i = take(p)) < p->count;)
			p->ffn(p->arg, i, t);
	} else {
		p->fn(p->arg, t, p->n);
	}
	thr_current = outer;
}

static void *worker_main(void *arg)
{
	struct thr_worker *w = arg;
	thr_pool *p = w->p;
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		work(p, w->t);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void thr_pool_free(thr_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n - 1; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->run_mu);
	free(p->th);
	free(p->w);
	free(p);
}

thr_pool *thr_pool_new(int n)
{
	if (n > THR_MAX)
		n = THR_MAX;
	if (n <= 1)
		return NULL;
	thr_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->th = calloc((size_t)n, sizeof *p->th);
	p->w = calloc((size_t)n, sizeof *p->w);
	if (!p->th || !p->w) {
		free(p->th), free(p->w), free(p);
		return NULL;
	}
	pthread_mutex_init(&p->run_mu, NULL);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 0; i < n - 1; i++) {
		p->w[i].p = p;
		p->w[i].t = i + 1;
		if (pthread_create(&p->th[i], NULL, worker_main, &p->w[i])) {
			p->n = i + 1; /* the ones started, and the caller */
			thr_pool_free(p);
			return NULL;
		}
	}
	p->n = n;
	return p;
}

int thr_pool_size(const thr_pool *p)
{
	return p ? p->n : 1;
}

/* Does this call have to run inline? */
static int inline_only(const thr_pool *p)
{
	return !p || p->n <= 1 || thr_current == p;
}

/* Hands a job to the workers; run_mu is held by the caller. */
static void post(thr_pool *p, int kind)
{
	pthread_mutex_lock(&p->mu);
	p->kind = kind;
	p->pending = p->n - 1;
	p->gen++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static void join(thr_pool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

int thr_pool_run(thr_pool *p, void (*fn)(void *, int, int), void *arg)
{
	if (inline_only(p)) {
		fn(arg, 0, 1);
		return 1;
	}
	pthread_mutex_lock(&p->run_mu);
	p->fn = fn;
	p->arg = arg;
	post(p, JOB_RUN);
	work(p, 0);
	join(p);
	pthread_mutex_unlock(&p->run_mu);
	return p->n;
}

void thr_pool_for(thr_pool *p, size_t n, void (*fn)(void *, size_t, int),
                  void *arg)
{
	if (inline_only(p) || n <= 1) {
		for (size_t i = 0; i < n; i++)
			fn(arg, i, 0);
		return;
	}
	pthread_mutex_lock(&p->run_mu);
	p->ffn = fn;
	p->arg = arg;
	p->count = n;
	p->next = 0;
	post(p, JOB_FOR);
	work(p, 0);
	join(p);
	pthread_mutex_unlock(&p->run_mu);
}

int thr_pool_start(thr_pool *p, void (*fn)(void *, int, int), void *arg)
{
	if (inline_only(p))
		return 0;
	pthread_mutex_lock(&p->run_mu);
	p->fn = fn;
	p->arg = arg;
	post(p, JOB_START);
	return p->n - 1;
}

void thr_pool_wait(thr_pool *p)
{
	if (inline_only(p))
		return;
	join(p);
	pthread_mutex_unlock(&p->run_mu);
}
