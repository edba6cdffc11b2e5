/*
 * bench_knn.c -- k-nearest-neighbour latency, side by side, in one
 * SQLite process on the same vectors:
 *
 *   siam_knn   SELECT image_id, distance FROM siam_knn
 *                WHERE query = ? AND k = 10
 *   ORDER BY   SELECT id, siam_distance(embedding, ?) AS d FROM images
 *                WHERE model_id = 1 ORDER BY d LIMIT 10
 *   vec0       SELECT rowid, distance FROM vec
 *                WHERE embedding MATCH ? AND k = 10   (sqlite-vec, exact)
 *
 * N random 64-d vectors (normal, seeded) go into one database file: the
 * images table of a siam database and a vec0 table holding the same
 * vectors under the same rowids.  Each method answers the same R random
 * queries; we report the median latency (the first query of each method
 * runs once before the clock, so siam_knn's one-off load of its matrix
 * is reported apart), the recall against a brute-force top-k computed
 * here in double precision (1.0 = exact), and the ratios.
 *
 * Cold: what a new process pays ('siam query' is one process per
 * query).  Each cold query opens a new connection (siam_db_open, and
 * for vec0 loading vec0.so), prepares, answers one query and closes;
 * the files are in the page cache, as for a shell user's next query.
 * siam_knn cold is measured with its sidecar ("DB-knn-1", which the
 * warm connection's first query wrote) and without it
 * (SIAM_KNN_SIDECAR=0: the matrix read from SQLite, as before).
 *
 * usage: bench_knn [--vec0 PATH/vec0.so] [--n 100000,1000000] [--dim 64]
 *                  [--runs R] [--k 10] [--db FILE]
 * bench/bench_knn.sh fetches sqlite-vec with npm and runs this.
 */
#include <sqlite3.h>

#include "siam_nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

static void die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench_knn: %s: %s\n", what,
	        db ? sqlite3_errmsg(db) : "failed");
	exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "bench_knn: %s: %s\n", sql, msg);
		exit(1);
	}
}

typedef struct hit {
	double d;
	sqlite3_int64 id;
} hit;

static int cmp_hit(const void *pa, const void *pb)
{
	const hit *a = pa, *b = pb;
	if (a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

/* The exact top k of x (n by dim) for q, ids 1..n, in double. */
static void brute_force(sqlite3_int64 *out, const float *x, int n, int dim,
                        const float *q, int k, hit *scratch)
{
	for (int i = 0; i < n; i++) {
		double s = 0;
		const float *r = x + (size_t)i * dim;
		for (int j = 0; j < dim; j++) {
			double d = (double)r[j] - q[j];
			s += d * d;
		}
		scratch[i].d = s;
		scratch[i].id = i + 1;
	}
	qsort(scratch, (size_t)n, sizeof *scratch, cmp_hit);
	for (int i = 0; i < k; i++)
		out[i] = scratch[i].id;
}

/* Runs one query; returns its latency and how many of ref it found. */
static double run_query(sqlite3 *db, sqlite3_stmt *st, const float *q,
                        int dim, const sqlite3_int64 *ref, int k, int *hits)
{
	double t0 = now();
	sqlite3_reset(st);
	sqlite3_bind_blob(st, 1, q, dim * 4, SQLITE_STATIC);
	int rc, n = 0;
	sqlite3_int64 got[1024];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (n < 1024)
			got[n++] = sqlite3_column_int64(st, 0);
	double t = now() - t0;
	if (rc != SQLITE_DONE)
		die(db, "query");
	*hits = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			if (got[i] == ref[j]) {
				++*hits;
				break;
			}
	return t;
}

/* One query on a new connection, closed after: its latency, opening
 * included. */
static double run_cold(const char *dbpath, const char *vec0,
                       const char *sql, const float *q, int dim,
                       const sqlite3_int64 *ref, int k, int *hits)
{
	sqlite3 *db = NULL;
	siam_error err = {0};
	sqlite3_stmt *st;
	double t0 = now();
	if (siam_db_open(&db, dbpath, SIAM_DB_READONLY, &err) < 0) {
		fprintf(stderr, "bench_knn: %s\n", err.msg);
		exit(1);
	}
	if (vec0) {
		sqlite3_enable_load_extension(db, 1);
		if (sqlite3_load_extension(db, vec0, NULL, NULL) != SQLITE_OK)
			die(db, vec0);
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die(db, sql);
	run_query(db, st, q, dim, ref, k, hits);
	sqlite3_finalize(st);
	siam_db_close(db);
	return now() - t0;
}

typedef struct method {
	const char *name;
	const char *sql;
	int runs;      /* at most this many timed queries */
	double first;  /* the untimed first query */
	double med;
	double recall;
	int ok;
} method;

static void bench(int n, int dim, int k, int runs, const char *vec0,
                  const char *dbpath)
{
	sqlite3 *db = NULL;
	siam_error err = {0};
	unlink(dbpath);
	char side[1100];
	snprintf(side, sizeof side, "%s-wal", dbpath);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", dbpath);
	unlink(side);
	if (siam_db_open(&db, dbpath, SIAM_DB_CREATE, &err) < 0) {
		fprintf(stderr, "bench_knn: %s\n", err.msg);
		exit(1);
	}
	int have_vec = 0;
	if (vec0) {
		char *msg = NULL;
		sqlite3_enable_load_extension(db, 1);
		if (sqlite3_load_extension(db, vec0, NULL, &msg) != SQLITE_OK) {
			fprintf(stderr, "bench_knn: cannot load %s: %s\n", vec0,
			        msg);
			sqlite3_free(msg);
		} else {
			have_vec = 1;
		}
	}

	/* the vectors: normal, seeded */
	siam_rng rng;
	siam_rng_seed(&rng, 42);
	float *x = malloc((size_t)n * dim * sizeof *x);
	for (size_t i = 0; i < (size_t)n * dim; i++)
		x[i] = siam_rng_normal(&rng);

	double t0 = now();
	char sql[256];
	snprintf(sql, sizeof sql, "INSERT INTO models(id, name, blob, spec,"
	         " embed_dim, threshold, sha256) VALUES (1, 'bench', x'',"
	         " 'random', %d, 1.0, '')", dim);
	exec(db, sql);
	exec(db, "BEGIN");
	sqlite3_stmt *ins;
	if (sqlite3_prepare_v2(db, "INSERT INTO images(id, path, model_id,"
	                       " embedding) VALUES (?1, 'v' || ?1, 1, ?2)", -1,
	                       &ins, NULL) != SQLITE_OK)
		die(db, "prepare insert");
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int64(ins, 1, i + 1);
		sqlite3_bind_blob(ins, 2, x + (size_t)i * dim, dim * 4,
		                  SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die(db, "insert");
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	exec(db, "COMMIT");
	double t_ins = now() - t0, t_vins = 0;
	if (have_vec) {
		t0 = now();
		snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE vec USING"
		         " vec0(embedding float[%d])", dim);
		exec(db, sql);
		exec(db, "BEGIN");
		if (sqlite3_prepare_v2(db, "INSERT INTO vec(rowid, embedding)"
		                       " VALUES (?1, ?2)", -1, &ins, NULL) !=
		    SQLITE_OK)
			die(db, "prepare vec insert");
		for (int i = 0; i < n; i++) {
			sqlite3_bind_int64(ins, 1, i + 1);
			sqlite3_bind_blob(ins, 2, x + (size_t)i * dim, dim * 4,
			                  SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE)
				die(db, "vec insert");
			sqlite3_reset(ins);
		}
		sqlite3_finalize(ins);
		exec(db, "COMMIT");
		t_vins = now() - t0;
	}
	printf("\nN = %d vectors of %d floats, k = %d (insert: images %.1f s",
	       n, dim, k, t_ins);
	if (have_vec)
		printf(", vec0 %.1f s", t_vins);
	printf(")\n");

	char q_knn[160], q_ord[200], q_vec[160];
	snprintf(q_knn, sizeof q_knn, "SELECT image_id, distance FROM siam_knn"
	         " WHERE query = ?1 AND k = %d", k);
	snprintf(q_ord, sizeof q_ord, "SELECT id, siam_distance(embedding, ?1)"
	         " AS d FROM images WHERE model_id = 1 ORDER BY d LIMIT %d", k);
	snprintf(q_vec, sizeof q_vec, "SELECT rowid, distance FROM vec WHERE"
	         " embedding MATCH ?1 AND k = %d", k);
	/* The scalar scan costs about a second per query at a million
	 * rows: fewer runs there. */
	int ord_runs = n >= 500000 ? (runs < 5 ? runs : 5) : runs;
	method m[3] = {
		{"siam_knn", q_knn, runs, 0, 0, 0, 1},
		{"ORDER BY siam_distance", q_ord, ord_runs, 0, 0, 0, 1},
		{"sqlite-vec vec0", q_vec, runs, 0, 0, 0, have_vec},
	};

	int nq = runs + 1;
	float *qs = malloc((size_t)nq * dim * sizeof *qs);
	for (size_t i = 0; i < (size_t)nq * dim; i++)
		qs[i] = siam_rng_normal(&rng);
	sqlite3_int64 *ref = malloc((size_t)nq * k * sizeof *ref);
	hit *scratch = malloc((size_t)n * sizeof *scratch);
	for (int i = 0; i < nq; i++)
		brute_force(ref + (size_t)i * k, x, n, dim, qs + (size_t)i * dim,
		            k, scratch);
	free(scratch);

	double *t = malloc((size_t)nq * sizeof *t);
	/* The warm connection's first siam_knn query writes the sidecar. */
	char sidecar[1100];
	snprintf(sidecar, sizeof sidecar, "%s-knn-1", dbpath);
	unlink(sidecar);
	for (int j = 0; j < 3; j++) {
		if (!m[j].ok)
			continue;
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, m[j].sql, -1, &st, NULL) != SQLITE_OK)
			die(db, m[j].sql);
		int hits, total = 0, found = 0;
		m[j].first = run_query(db, st, qs, dim, ref, k, &hits);
		total += k;
		found += hits;
		for (int i = 1; i <= m[j].runs; i++) {
			t[i - 1] = run_query(db, st, qs + (size_t)i * dim, dim,
			                     ref + (size_t)i * k, k, &hits);
			total += k;
			found += hits;
		}
		sqlite3_finalize(st);
		m[j].med = median(t, m[j].runs);
		m[j].recall = (double)found / total;
	}
	/* cold: siam_knn with and without its sidecar, vec0 */
	struct {
		const char *name, *sql, *vec0;
		int side, ok;
		double med, recall;
	} c[3] = {
		{"siam_knn + sidecar", q_knn, NULL, 1, 1, 0, 0},
		{"siam_knn, no sidecar", q_knn, NULL, 0, 1, 0, 0},
		{"sqlite-vec vec0", q_vec, vec0, 1, have_vec, 0, 0},
	};
	int cold_runs = runs < 7 ? runs : 7;
	struct stat sst;
	int have_side = stat(sidecar, &sst) == 0;
	for (int j = 0; j < 3; j++) {
		if (!c[j].ok)
			continue;
		if (!c[j].side)
			setenv("SIAM_KNN_SIDECAR", "0", 1);
		int hits, found = 0;
		for (int i = 0; i < cold_runs; i++) {
			t[i] = run_cold(dbpath, c[j].vec0, c[j].sql,
			                qs + (size_t)i * dim, dim,
			                ref + (size_t)i * k, k, &hits);
			found += hits;
		}
		unsetenv("SIAM_KNN_SIDECAR");
		c[j].med = median(t, cold_runs);
		c[j].recall = (double)found / ((double)cold_runs * k);
	}
	printf("  %-24s %12s %12s %8s %10s\n", "method", "median ms",
	       "first ms", "recall", "vs knn");
	for (int j = 0; j < 3; j++) {
		if (!m[j].ok) {
			printf("  %-24s %12s\n", m[j].name, "(not loaded)");
			continue;
		}
		printf("  %-24s %12.3f %12.3f %8.3f %9.1fx   (%d queries)\n",
		       m[j].name, m[j].med * 1e3, m[j].first * 1e3, m[j].recall,
		       m[j].med / m[0].med, m[j].runs);
	}
	if (m[2].ok)
		printf("  siam_knn is %.1fx faster than sqlite-vec and %.0fx "
		       "faster than ORDER BY siam_distance\n",
		       m[2].med / m[0].med, m[1].med / m[0].med);
	printf("  siam_knn: %.0f million rows/s; the float32 matrix is %.0f "
	       "MB, its int8 copy %.0f MB\n", n / m[0].med / 1e6,
	       (double)n * dim * 4 / 1e6, (double)n * dim / 1e6);
	printf("  siam_knn's first query (load, code, write the sidecar): "
	       "%.1f ms; sidecar %.0f MB\n", m[0].first * 1e3,
	       have_side ? (double)sst.st_size / 1e6 : 0.0);
	printf("  cold: a new connection per query, median of %d\n",
	       cold_runs);
	printf("  %-24s %12s %8s %10s\n", "method", "cold ms", "recall",
	       "vs knn");
	for (int j = 0; j < 3; j++) {
		if (!c[j].ok) {
			printf("  %-24s %12s\n", c[j].name, "(not loaded)");
			continue;
		}
		printf("  %-24s %12.3f %8.3f %9.1fx\n", c[j].name,
		       c[j].med * 1e3, c[j].recall, c[j].med / c[0].med);
	}
	free(t);
	free(ref);
	free(qs);
	free(x);
	siam_db_close(db);
	unlink(dbpath);
	unlink(sidecar);
	snprintf(side, sizeof side, "%s-wal", dbpath);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", dbpath);
	unlink(side);
}

int main(int argc, char **argv)
{
	const char *vec0 = NULL, *ns = "100000,1000000";
	const char *dbpath = "/tmp/siam-bench-knn.db";
	int dim = 64, runs = 21, k = 10;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vec0") && i + 1 < argc)
			vec0 = argv[++i];
		else if (!strcmp(argv[i], "--n") && i + 1 < argc)
			ns = argv[++i];
		else if (!strcmp(argv[i], "--dim") && i + 1 < argc)
			dim = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--k") && i + 1 < argc)
			k = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--db") && i + 1 < argc)
			dbpath = argv[++i];
		else {
			fprintf(stderr, "usage: bench_knn [--vec0 PATH] [--n "
			        "N1,N2] [--dim D] [--runs R] [--k K] [--db "
			        "FILE]\n");
			return 2;
		}
	}
	if (dim < 1 || runs < 1 || k < 1 || k > 1000) {
		fprintf(stderr, "bench_knn: bad --dim, --runs or --k\n");
		return 2;
	}
	printf("bench_knn: SQLite %s, %s\n", sqlite3_libversion(),
	       vec0 ? vec0 : "no sqlite-vec (--vec0 PATH)");
	for (const char *p = ns; *p;) {
		int n = atoi(p);
		if (n > 0)
			bench(n, dim, k, runs, vec0, dbpath);
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return 0;
}
