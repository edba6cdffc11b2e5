/*
 * bench_pairs.c -- all pairs under a threshold among N d-dimensional
 * unit vectors (default 100,000 x 64), by pairs_search (siam_pairs and
 * siam dedup's kernel): wall time (median of --runs runs), CPU time,
 * pairs found, peak resident memory.  The vectors (a quarter
 * originals, the rest near copies of earlier rows, so that there are
 * duplicates to find) are seeded and written to --out as raw float32
 * for bench_pairs.sh's NumPy and sqlite-vec peers.  With --check M it
 * also compares the first M rows with the naive twin, at 1 thread and
 * at --threads (M > N/4, or the rows checked are all originals).
 * With --knn K it also times pairs_knn, each row's K nearest within
 * 1.0 (the candidates of siam dedup's crop check), --runs times.
 * Usage: bench_pairs [--n N] [--dim D] [--threshold T] [--threads K]
 * [--runs R] [--out FILE] [--check M] [--knn K]
 */
#include "bench/bench_util.h"
#include "pairs.h"
#include "siam_nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int same_list(const pairs_list *a, const pairs_list *b)
{
	int same = a->n == b->n;
	for (int64_t i = 0; same && i < a->n; i++)
		same = a->v[i].a == b->v[i].a && a->v[i].b == b->v[i].b &&
		       !memcmp(&a->v[i].ssd, &b->v[i].ssd, sizeof(float));
	return same;
}

int main(int argc, char **argv)
{
	long n = 100000, check = 0, knn = 0;
	int dim = 64, runs = 5, threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	double t = 0.5;
	const char *out = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--n"))
			n = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--dim"))
			dim = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threshold"))
			t = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			threads = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--runs"))
			runs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--out"))
			out = argv[i + 1];
		else if (!strcmp(argv[i], "--check"))
			check = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--knn"))
			knn = atol(argv[i + 1]);
	}
	if (runs < 1 || runs > 100 || threads < 1 || n < 1)
		return 2;
	if (check > n)
		check = n;
	siam_rng rng;
	siam_rng_seed(&rng, 42);
	float *x = malloc((size_t)n * dim * sizeof *x);
	if (!x)
		return 1;
	for (long i = 0; i < n; i++) {
		float *r = x + (size_t)i * dim;
		const float *o = i < n / 4 + 1 ? NULL :
		                 x + (size_t)siam_rng_below(&rng, (uint32_t)i) * dim;
		double s = 0;
		for (int j = 0; j < dim; j++) {
			r[j] = o ? o[j] + 0.03f * siam_rng_normal(&rng) :
			           siam_rng_normal(&rng);
			s += (double)r[j] * r[j];
		}
		for (int j = 0; j < dim; j++)
			r[j] = (float)(r[j] / sqrt(s));
	}
	if (out) {
		FILE *f = fopen(out, "wb");
		if (!f || fwrite(x, sizeof *x, (size_t)n * dim, f) !=
		                  (size_t)n * dim || fclose(f))
			return 1;
	}
	double wall[100], cpu[100];
	pairs_list first = {0};
	int rc = 0;
	for (int r = 0; r < runs; r++) {
		pairs_list l = {0};
		double c0 = cpu_seconds(), t0 = now();
		if (pairs_search(&l, x, n, dim, t, threads) < 0)
			return 1;
		wall[r] = now() - t0;
		cpu[r] = cpu_seconds() - c0;
		if (r == 0)
			first = l;
		else if (!same_list(&l, &first)) {
			printf("run %d: a DIFFERENT list from run 1\n", r + 1);
			rc = 1;
		}
		if (r > 0)
			pairs_list_free(&l);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	char all[1024] = "";
	for (int r = 0; r < runs; r++)
		snprintf(all + strlen(all), sizeof all - strlen(all), "%s%.2f",
		         r ? " " : "", wall[r]);
	double mcpu = median(cpu, runs);
	printf("siam pairs_search: n=%ld dim=%d threshold=%g threads=%d: "
	       "%lld pairs in %.2f s (median of %d: %s; CPU %.2f s), peak "
	       "RSS %.0f MB (the vectors: %.0f MB)\n", n, dim, t, threads,
	       (long long)first.n, median(wall, runs), runs, all, mcpu,
	       ru.ru_maxrss / 1024.0, (double)n * dim * 4 / 1e6);
	for (int r = 0; knn > 0 && r < runs; r++) {
		pairs_list l = {0};
		double c0 = cpu_seconds(), t0 = now();
		if (pairs_knn(&l, x, n, dim, (int)knn, 1.0, threads) < 0)
			return 1;
		wall[r] = now() - t0;
		cpu[r] = cpu_seconds() - c0;
		if (r == runs - 1)
			printf("siam pairs_knn: n=%ld dim=%d k=%ld within 1.0 "
			       "threads=%d: %lld pairs in %.2f s (median of %d; "
			       "CPU %.2f s)\n", n, dim, knn, threads,
			       (long long)l.n, median(wall, runs), runs,
			       median(cpu, runs));
		pairs_list_free(&l);
	}
	if (check > 0) {
		pairs_list a = {0}, b = {0}, c = {0};
		pairs_search(&a, x, check, dim, t, 1);
		pairs_search(&c, x, check, dim, t, threads);
		pairs_search_ref(&b, x, check, dim, t);
		int same = same_list(&a, &b) && same_list(&c, &b);
		printf("check on the first %ld rows: %lld pairs at 1 and %d "
		       "threads, %s the naive reference\n", check,
		       (long long)b.n, threads,
		       same ? "equal to" : "DIFFERENT FROM");
		rc |= !same;
		pairs_list_free(&a);
		pairs_list_free(&b);
		pairs_list_free(&c);
	}
	pairs_list_free(&first);
	free(x);
	return rc;
}
