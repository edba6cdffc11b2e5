/*
 * test_threads.c -- the thread pool (src/threads.c): every index of a
 * parallel for is visited exactly once for many sizes and thread
 * counts, fork-join runs each t once with the pool's T, background
 * workers run beside the caller, nested calls run inline instead of
 * deadlocking, and one pool shared by several threads takes their jobs
 * one at a time.
 */
#include "threads.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>

struct visit {
	int *count;    /* (n) times each index was visited */
	int *thread;   /* (n) which thread visited it */
	int T;
};

static void visit_fn(void *arg, size_t i, int t)
{
	struct visit *v = arg;
	v->count[i]++; /* slot i is i's alone: no lock needed */
	v->thread[i] = t;
}

static void test_for(void)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 7, 64, 1000, 100003 };
	static const int threads[] = { 1, 2, 3, 4, 8, 65 };
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
		for (size_t k = 0; k < sizeof threads / sizeof *threads; k++) {
			size_t n = sizes[s];
			thr_pool *p = thr_pool_new(threads[k]);
			int T = thr_pool_size(p);
			struct visit v = { calloc(n + 1, sizeof(int)),
			                   calloc(n + 1, sizeof(int)), T };
			thr_pool_for(p, n, visit_fn, &v);
			size_t once = 0, badt = 0;
			for (size_t i = 0; i < n; i++) {
				once += v.count[i] == 1;
				badt += v.thread[i] < 0 || v.thread[i] >= T;
			}
			tap_ok(once == n && badt == 0 && v.count[n] == 0,
			       "for: %zu indices, %d threads: each visited once "
			       "by a thread in [0, %d)", n, threads[k], T);
			free(v.count);
			free(v.thread);
			thr_pool_free(p);
		}
}

struct runs {
	int seen[THR_MAX];
	int Ts[THR_MAX];
	pthread_t self[THR_MAX];
};

static void run_fn(void *arg, int t, int T)
{
	struct runs *r = arg;
	r->seen[t]++;
	r->Ts[t] = T;
	r->self[t] = pthread_self();
}

static void test_run(void)
{
	static const int threads[] = { 0, 1, 2, 3, 5, 64, 100 };
	for (size_t k = 0; k < sizeof threads / sizeof *threads; k++) {
		thr_pool *p = thr_pool_new(threads[k]);
		int want = threads[k] < 1 ? 1 : threads[k] > THR_MAX ? THR_MAX
		                                                      : threads[k];
		tap_int(thr_pool_size(p), want, "pool of %d has %d threads",
		        threads[k], want);
		for (int rep = 0; rep < 3; rep++) {
			struct runs r;
			memset(&r, 0, sizeof r);
			int T = thr_pool_run(p, run_fn, &r);
			int ok = T == want;
			for (int t = 0; t < THR_MAX; t++)
				ok &= r.seen[t] == (t < T) &&
				      (t >= T || r.Ts[t] == T);
			ok &= pthread_equal(r.self[0], pthread_self());
			for (int t = 1; t < T; t++)
				ok &= !pthread_equal(r.self[t], pthread_self());
			tap_ok(ok, "run %d on %d threads: t = 0..%d once each, "
			       "t = 0 on the caller", rep, threads[k], T - 1);
		}
		thr_pool_free(p);
	}
	thr_pool_free(NULL);
	tap_ok(1, "thr_pool_free(NULL) is a no-op");
}

/* Nesting: a job calls its own pool again. */
struct nest {
	thr_pool *p;
	int inner_T[THR_MAX];
	int inner_for[THR_MAX];
	int started[THR_MAX];
};

static void count_fn(void *arg, size_t i, int t)
{
	int *c = arg;
	(void)i;
	c[0] += t == 0; /* inline: always thread 0 */
	c[1]++;
}

static void nest_fn(void *arg, int t, int T)
{
	struct nest *n = arg;
	struct runs r;
	int c[2] = { 0, 0 };
	(void)T;
	memset(&r, 0, sizeof r);
	n->inner_T[t] = thr_pool_run(n->p, run_fn, &r);
	thr_pool_for(n->p, 10, count_fn, c);
	n->inner_for[t] = c[0] == 10 && c[1] == 10;
	n->started[t] = thr_pool_start(n->p, run_fn, &r);
	thr_pool_wait(n->p);
}

static void test_nested(void)
{
	struct nest n;
	memset(&n, 0, sizeof n);
	n.p = thr_pool_new(4);
	int T = thr_pool_run(n.p, nest_fn, &n);
	int ok = T == 4;
	for (int t = 0; t < T; t++)
		ok &= n.inner_T[t] == 1 && n.inner_for[t] && n.started[t] == 0;
	tap_ok(ok, "nested run, for and start run inline on the calling "
	       "thread (T = 1), no deadlock");
	/* and the pool still works afterwards */
	struct runs r;
	memset(&r, 0, sizeof r);
	tap_int(thr_pool_run(n.p, run_fn, &r), 4, "pool usable after nesting");
	thr_pool_free(n.p);
}

/* Background workers: they run while the caller waits on them. */
struct bg {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int arrived, go;
	int seen[THR_MAX];
};

static void bg_fn(void *arg, int t, int T)
{
	struct bg *b = arg;
	(void)T;
	pthread_mutex_lock(&b->mu);
	b->seen[t]++;
	b->arrived++;
	pthread_cond_broadcast(&b->cv);
	while (!b->go)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

static void test_start(void)
{
	struct bg b;
	memset(&b, 0, sizeof b);
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	thr_pool *p = thr_pool_new(4);
	int started = thr_pool_start(p, bg_fn, &b);
	/* All three workers are inside fn at once while the caller is
	 * free: they really run in the background. */
	pthread_mutex_lock(&b.mu);
	while (b.arrived < started)
		pthread_cond_wait(&b.cv, &b.mu);
	b.go = 1;
	pthread_cond_broadcast(&b.cv);
	pthread_mutex_unlock(&b.mu);
	thr_pool_wait(p);
	tap_ok(started == 3 && b.seen[0] == 0 && b.seen[1] == 1 &&
	       b.seen[2] == 1 && b.seen[3] == 1,
	       "start: t = 1..3 on the workers, none on the caller");
	tap_int(thr_pool_start(NULL, bg_fn, &b), 0,
	        "start on no pool starts nothing");
	thr_pool_wait(NULL);
	thr_pool_free(p);
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
}

/* One pool shared by several threads: their jobs take turns. */
struct shared {
	thr_pool *p;
	long sum[4];
	int bad;
};

struct sum_job {
	const int *x;
	long *part; /* (n) */
};

static void sum_fn(void *arg, size_t i, int t)
{
	struct sum_job *j = arg;
	(void)t;
	j->part[i] = (long)j->x[i] * j->x[i];
}

static void *shared_main(void *arg)
{
	struct shared *s = arg;
	enum { N = 5000 };
	int *x = malloc(N * sizeof *x);
	long *part = malloc(N * sizeof *part);
	for (int i = 0; i < N; i++)
		x[i] = i % 97;
	for (int rep = 0; rep < 20; rep++) {
		struct sum_job j = { x, part };
		thr_pool_for(s->p, N, sum_fn, &j);
		long sum = 0;
		for (int i = 0; i < N; i++)
			sum += part[i];
		if (rep == 0)
			s->sum[0] = sum;
		else if (sum != s->sum[0])
			s->bad = 1;
	}
	free(part);
	free(x);
	return NULL;
}

static void test_shared(void)
{
	thr_pool *p = thr_pool_new(3);
	struct shared s[4];
	pthread_t th[4];
	for (int k = 0; k < 4; k++) {
		memset(&s[k], 0, sizeof s[k]);
		s[k].p = p;
		pthread_create(&th[k], NULL, shared_main, &s[k]);
	}
	long want = 0;
	for (int i = 0; i < 5000; i++)
		want += (long)(i % 97) * (i % 97);
	int ok = 1;
	for (int k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
		ok &= !s[k].bad && s[k].sum[0] == want;
	}
	tap_ok(ok, "four threads sharing one pool: 20 jobs each, every sum "
	       "right");
	thr_pool_free(p);
}

int main(void)
{
	test_for();
	test_run();
	test_nested();
	test_start();
	test_shared();
	return tap_done();
}
