/*
 * bench_knn_sidecar.c -- siam_knn's search at sizes where filling an
 * SQLite table first would take longer than the measurement (10 million
 * rows: about an hour of inserts on a loaded 2-core machine): the
 * sidecar file is written here directly from N random 64-d vectors
 * (normal, seeded), exactly as siam_knn writes it (knn8_build +
 * knn_side_write), and then
 *
 *   cold   a new process per query (this program re-executed with
 *          --query I): map the file (knn_side_open, with its checks) and
 *          answer one k = 10 query (knn8_search), as a cold siam_knn does
 *          after reading images_gen -- without SQLite's own opening;
 *   warm   15 queries on one mapping, median, and the resident memory.
 *
 * Each answer is checked against the plain float scan (knn_scan) over
 * the same mapped rows: same rows, same distances, same order.
 * Beside each wall-clock time, the CPU time it took (the process's for
 * cold, the thread's for warm): on a shared machine the wall clock
 * counts the waits for a core, the CPU time does not (it still counts
 * the memory stalls, and page faults for cold).
 *
 * usage: bench_knn_sidecar [--n N] [--runs R] [--file PATH] [--keep]
 */
#include "knn_sidecar.h"
#include "siam_nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

#define DIM 64
#define K 10

static void query_vec(float *q, int i)
{
	siam_rng rng;
	siam_rng_seed(&rng, 1000 + (uint64_t)i);
	for (int j = 0; j < DIM; j++)
		q[j] = siam_rng_normal(&rng);
}

static long rss_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl))
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

static double cpu_now(clockid_t clk)
{
	struct timespec t;
	clock_gettime(clk, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* One query on a mapping: its time (*cpu: its thread's CPU time); *same
 * is 1 if it equals the scan. */
static double one(const knn_side *s, int i, int check, int *same,
                  double *cpu)
{
	float q[DIM];
	knn_hit a[K], b[K];
	query_vec(q, i);
	double c0 = cpu_now(CLOCK_THREAD_CPUTIME_ID), t0 = now();
	int na = knn8_search(a, K, &s->q8, s->x, q, knn8_rows_best());
	double t = now() - t0;
	*cpu = cpu_now(CLOCK_THREAD_CPUTIME_ID) - c0;
	*same = 1;
	if (check) {
		int nb = knn_scan(b, K, s->x, s->n, DIM, q);
		*same = na == nb;
		for (int j = 0; *same && j < na; j++)
			*same = a[j].row == b[j].row && a[j].ssd == b[j].ssd;
	}
	return t;
}

int main(int argc, char **argv)
{
	int64_t n = 1000000;
	int runs = 7, keep = 0, qi = -1;
	const char *path = "/tmp/siam-bench-knn-sidecar";
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows in a log */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < argc)
			n = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--file") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--query") && i + 1 < argc)
			qi = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--keep"))
			keep = 1;
		else {
			fprintf(stderr, "usage: bench_knn_sidecar [--n N] [--runs"
			        " R] [--file PATH] [--keep]\n");
			return 2;
		}
	}
	knn_side_tag tag = {1, 12345, DIM};
	knn_side s;
	if (qi >= 0) { /* a cold query, in its own process */
		double c0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID), t0 = now();
		if (knn_side_open(&s, path, &tag) < 0)
			return 3;
		int same;
		double cpu;
		one(&s, qi, 0, &same, &cpu);
		printf("%.6f %ld %.6f\n", now() - t0, rss_kb("VmHWM:"),
		       cpu_now(CLOCK_PROCESS_CPUTIME_ID) - c0);
		knn_side_close(&s);
		return 0;
	}
	if (n < 1 || runs < 1 || runs > 100)
		return 2;

	struct stat st;
	if (stat(path, &st) != 0 || knn_side_open(&s, path, &tag) < 0 ||
	    s.n != n) {
		if (s.map)
			knn_side_close(&s);
		printf("making %lld random vectors of %d floats...\n",
		       (long long)n, DIM);
		float *x = malloc((size_t)n * DIM * sizeof *x);
		int64_t *ids = malloc((size_t)n * sizeof *ids);
		knn8 q8;
		if (!x || !ids) {
			fprintf(stderr, "bench_knn_sidecar: out of memory\n");
			return 1;
		}
		siam_rng rng;
		siam_rng_seed(&rng, 42);
		for (size_t i = 0; i < (size_t)n * DIM; i++)
			x[i] = siam_rng_normal(&rng);
		for (int64_t i = 0; i < n; i++)
			ids[i] = i + 1;
		double t0 = now();
		if (knn8_build(&q8, x, n, DIM) < 0)
			return 1;
		double tb = now() - t0;
		t0 = now();
		if (knn_side_write(path, 0644, &tag, ids, x, &q8) < 0) {
			fprintf(stderr, "bench_knn_sidecar: cannot write %s\n",
			        path);
			return 1;
		}
		printf("coding %.2f s, writing the sidecar (fsync included) "
		       "%.2f s\n", tb, now() - t0);
		knn8_free(&q8);
		free(x);
		free(ids);
		if (knn_side_open(&s, path, &tag) < 0)
			return 1;
	}
	stat(path, &st);
	printf("N = %lld, k = %d, sidecar %.0f MB\n", (long long)n, K,
	       st.st_size / 1e6);

	/* cold: a process per query */
	double *t = malloc(16 * sizeof *t), *tc = malloc(16 * sizeof *tc);
	long hwm = 0;
	for (int r = 0; r < runs; r++) {
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "%s --file %s --query %d", argv[0],
		         path, r);
		FILE *p = popen(cmd, "r");
		double in = -1, cpu = -1;
		long h = 0;
		if (!p || fscanf(p, "%lf %ld %lf", &in, &h, &cpu) != 3) {
			fprintf(stderr, "bench_knn_sidecar: %s failed\n", cmd);
			return 1;
		}
		pclose(p);
		t[r] = in;
		tc[r] = cpu;
		hwm = h > hwm ? h : hwm;
	}
	printf("  cold (new process: map, check, one query): median %.1f ms"
	       " of %d (CPU %.1f ms), peak RSS %.0f MB\n",
	       median(t, runs) * 1e3, runs, median(tc, runs) * 1e3,
	       hwm / 1e3);

	int same_all = 1, same;
	double cpu;
	one(&s, 0, 0, &same, &cpu);
	for (int r = 0; r < 15; r++) {
		t[r] = one(&s, r, 0, &same, &cpu);
		tc[r] = cpu;
	}
	long rss = rss_kb("VmRSS:");
	printf("  warm (one mapping): median %.2f ms of 15 (CPU %.2f ms), "
	       "RSS %.0f MB (the codes are %.0f MB, the floats %.0f MB)\n",
	       median(t, 15) * 1e3, median(tc, 15) * 1e3, rss / 1e3,
	       (double)n * 64 / 1e6, (double)n * DIM * 4 / 1e6);
	for (int r = 0; r < 3; r++) {
		one(&s, r, 1, &same, &cpu);
		same_all &= same;
	}
	printf("  3 answers = the plain float scan: %s\n",
	       same_all ? "yes" : "NO");
	knn_side_close(&s);
	if (!keep)
		unlink(path);
	free(t);
	free(tc);
	return same_all ? 0 : 1;
}
