/*
 * test_sql.c -- the SQL functions and siam_knn, on connections opened
 * with siam_db_open (the code the loadable module is built from; the
 * module itself is loaded by tests/sql_shell.sh and tests/sql_python.sh).
 *
 * Checks the exact set of registered functions, exact error texts,
 * distances against hand computations, NULL handling, the JSON round
 * trip, and siam_knn against a brute-force reference (ids, distances,
 * ties), its limits, and its refresh after changes.
 */
#include <sqlite3.h>

#include "siam.h"
#include "tap.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char result[4096];

/* The first column of the first row as text ("NULL" for NULL, "" if no
 * row), or "ERROR: message". */
static const char *q(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(result, sizeof result, "ERROR: %s", sqlite3_errmsg(db));
		return result;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		snprintf(result, sizeof result, "%s", t ? t : "NULL");
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			snprintf(result, sizeof result, "ERROR: %s",
			         sqlite3_errmsg(db));
	} else if (rc == SQLITE_DONE) {
		result[0] = '\0';
	} else {
		snprintf(result, sizeof result, "ERROR: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return result;
}

static void is(sqlite3 *db, const char *sql, const char *want)
{
	const char *got = q(db, sql);
	if (!tap_ok(strcmp(got, want) == 0, "%s", sql))
		tap_diag("got  '%s'\n# want '%s'", got, want);
}

static double qd(sqlite3 *db, const char *sql)
{
	const char *t = q(db, sql);
	if (!strncmp(t, "ERROR", 5) || !strcmp(t, "NULL") || !*t) {
		tap_diag("%s: %s", sql, t);
		return NAN;
	}
	return strtod(t, NULL);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		tap_ok(0, "exec %s: %s", sql, msg);
		sqlite3_free(msg);
	}
}

static sqlite3 *open_db(const char *path)
{
	sqlite3 *db = NULL;
	siam_error err = {0};
	if (siam_db_open(&db, path, SIAM_DB_CREATE, &err) < 0) {
		printf("Bail out! siam_db_open %s: %s\n", path, err.msg);
		exit(1);
	}
	return db;
}

/* float32 little-endian BLOB of v (x86: memory order). */
static void bind_vec(sqlite3_stmt *st, int i, const float *v, int n)
{
	sqlite3_bind_blob(st, i, v, n * 4, SQLITE_TRANSIENT);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static float rndf(void) /* uniform in [-1, 1) */
{
	return (float)((double)(rnd() >> 40) / (double)(1 << 23) - 1.0);
}

/* ------------------------------------------------------------------ */

static void test_registration(sqlite3 *db)
{
	is(db, "SELECT group_concat(name || '/' || narg, ' ') FROM"
	       " (SELECT name, narg FROM pragma_function_list"
	       "  WHERE name LIKE 'siam%' ORDER BY name, narg)",
	   "siam_distance/2 siam_embed/1 siam_hamming/2 siam_json/1 "
	   "siam_match/2 siam_match/3 siam_vector/1");
	is(db, "SELECT group_concat(name) FROM (SELECT name FROM"
	       " pragma_module_list WHERE name LIKE 'siam%' ORDER BY name)",
	   "siam_knn,siam_pairs");
	/* Pure ones are deterministic (0x800) and innocuous (0x200000);
	 * siam_embed is direct-only (0x80000). */
	is(db, "SELECT group_concat(name || '/' || narg || ':' ||"
	       " (flags & 0x800 != 0) || (flags & 0x200000 != 0) ||"
	       " (flags & 0x80000 != 0), ' ') FROM (SELECT * FROM"
	       " pragma_function_list WHERE name LIKE 'siam%'"
	       " ORDER BY name, narg)",
	   "siam_distance/2:110 siam_embed/1:001 siam_hamming/2:110 "
	   "siam_json/1:110 "
	   "siam_match/2:010 siam_match/3:110 siam_vector/1:110");
}

static void test_distance(sqlite3 *db)
{
	is(db, "SELECT siam_distance('[0,0]', '[3,4]')", "5.0");
	is(db, "SELECT siam_distance(siam_vector('[1,2,3]'),"
	       " siam_vector('[4,6,3]'))", "5.0");
	is(db, "SELECT siam_distance('[1,2,3]', siam_vector('[1,2,3]'))",
	   "0.0");
	is(db, "SELECT siam_distance('[-1]', '[1]')", "2.0");
	/* 5-12-13 in the tail loop after 16 lanes: 17 dimensions */
	is(db, "SELECT siam_distance("
	       "'[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,5]',"
	       "'[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,12,0]')", "13.0");
	/* sqrt(1^2 + 2^2 + ... + 64^2) = sqrt(89440) against a hand sum */
	{
		char a[2048], b[2048];
		size_t la = 0, lb = 0;
		double ref = 0;
		for (int i = 1; i <= 64; i++) {
			la += (size_t)snprintf(a + la, sizeof a - la, "%s%d",
			                       i > 1 ? "," : "[", i);
			lb += (size_t)snprintf(b + lb, sizeof b - lb, "%s0",
			                       i > 1 ? "," : "[");
			ref += (double)i * i;
		}
		snprintf(a + la, sizeof a - la, "]");
		snprintf(b + lb, sizeof b - lb, "]");
		char sql[5000];
		snprintf(sql, sizeof sql, "SELECT siam_distance('%s', '%s')",
		         a, b);
		tap_near(qd(db, sql), sqrt(ref), 1e-9,
		         "64-d distance = sqrt(89440)");
	}
	/* random 64-d vectors of all sizes against a double reference */
	for (int t = 0; t < 5; t++) {
		float a[100], b[100];
		int n = 1 + (int)(rnd() % 100);
		double ref = 0;
		for (int i = 0; i < n; i++) {
			a[i] = rndf() * 10;
			b[i] = rndf() * 10;
			ref += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		}
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, "SELECT siam_distance(?1, ?2)", -1, &st,
		                   NULL);
		bind_vec(st, 1, a, n);
		bind_vec(st, 2, b, n);
		sqlite3_step(st);
		double got = sqlite3_column_double(st, 0);
		sqlite3_finalize(st);
		tap_near(got, sqrt(ref), 1e-5 * sqrt(ref),
		         "random %d-d distance matches a double reference", n);
	}
	is(db, "SELECT siam_match('[0,0]', '[3,4]', 5)", "0");
	is(db, "SELECT siam_match('[0,0]', '[3,4]', 5.0001)", "1");
	is(db, "SELECT siam_match('[0,0]', '[3,4]', 6)", "1");
	is(db, "SELECT siam_match('[0,0]', '[3,4]', -1)", "0");
}

static void test_null(sqlite3 *db)
{
	is(db, "SELECT siam_distance(NULL, '[1]') IS NULL", "1");
	is(db, "SELECT siam_distance('[1]', NULL) IS NULL", "1");
	is(db, "SELECT siam_distance(NULL, NULL) IS NULL", "1");
	is(db, "SELECT siam_vector(NULL) IS NULL", "1");
	is(db, "SELECT siam_json(NULL) IS NULL", "1");
	is(db, "SELECT siam_match(NULL, '[1]', 1) IS NULL", "1");
	is(db, "SELECT siam_match('[1]', '[1]', NULL) IS NULL", "1");
	is(db, "SELECT siam_match('[1]', NULL) IS NULL", "1");
	is(db, "SELECT siam_embed(NULL) IS NULL", "1");
	/* NULL wins over a malformed partner only if it comes first */
	is(db, "SELECT siam_distance(NULL, x'00')",
	   "ERROR: siam_distance: invalid float32 vector BLOB length: must be "
	   "divisible by 4, found 1");
}

static void test_errors(sqlite3 *db)
{
	static const char *const cases[][2] = {
		{"SELECT siam_distance(x'00000000000000', '[1]')",
		 "siam_distance: invalid float32 vector BLOB length: must be "
		 "divisible by 4, found 7"},
		{"SELECT siam_distance('[1]', x'000000')",
		 "siam_distance: invalid float32 vector BLOB length: must be "
		 "divisible by 4, found 3"},
		{"SELECT siam_distance(zeroblob(256), zeroblob(128))",
		 "siam_distance: vectors differ in size: 64 and 32 dimensions"},
		{"SELECT siam_distance('[1,2]', '[1]')",
		 "siam_distance: vectors differ in size: 2 and 1 dimensions"},
		{"SELECT siam_distance(1, '[1]')",
		 "siam_distance: expected a float32 vector BLOB or a JSON "
		 "array, found an integer"},
		{"SELECT siam_distance('[1]', 1.5)",
		 "siam_distance: expected a float32 vector BLOB or a JSON "
		 "array, found a real number"},
		{"SELECT siam_vector('[1,2,x]')",
		 "siam_vector: invalid JSON at offset 5"},
		{"SELECT siam_vector('[1, 2,, 3]')",
		 "siam_vector: invalid JSON at offset 6"},
		{"SELECT siam_vector('')", "siam_vector: invalid JSON at offset 0"},
		{"SELECT siam_vector('  ')",
		 "siam_vector: invalid JSON at offset 2"},
		{"SELECT siam_vector('[1')", "siam_vector: invalid JSON at offset 2"},
		{"SELECT siam_vector('[1] x')",
		 "siam_vector: invalid JSON at offset 4"},
		{"SELECT siam_vector('[01]')",
		 "siam_vector: invalid JSON at offset 2"},
		{"SELECT siam_vector('[1.]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('[.5]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('[1e]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('[+1]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('[NaN]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('[-Infinity]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('[0x10]')",
		 "siam_vector: invalid JSON at offset 2"},
		{"SELECT siam_vector('[\"1\"]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('[[1]]')",
		 "siam_vector: invalid JSON at offset 1"},
		{"SELECT siam_vector('{\"a\":1}')",
		 "siam_vector: invalid JSON at offset 0"},
		{"SELECT siam_vector('[1e39]')",
		 "siam_vector: number out of float32 range at offset 1"},
		{"SELECT siam_vector('[0, -3.5e38]')",
		 "siam_vector: number out of float32 range at offset 4"},
		{"SELECT siam_vector('[]')", "siam_vector: empty vector"},
		{"SELECT siam_vector(' [ ] ')", "siam_vector: empty vector"},
		{"SELECT siam_vector(x'')", "siam_vector: empty vector"},
		{"SELECT siam_vector(x'0000c07f')",
		 "siam_vector: element 0 is NaN or infinite"},
		{"SELECT siam_vector(x'000000000000807f')",
		 "siam_vector: element 1 is NaN or infinite"},
		{"SELECT siam_json(x'00000000000080ff')",
		 "siam_json: element 1 is NaN or infinite"},
		{"SELECT siam_vector(7)",
		 "siam_vector: expected a float32 vector BLOB or a JSON array, "
		 "found an integer"},
		{"SELECT siam_json('[1,')", "siam_json: invalid JSON at offset 3"},
		{"SELECT siam_match('[1]', '[1]', 'x')",
		 "siam_match: threshold must be a number"},
		{"SELECT siam_match('[1]', '[1,2]', 1)",
		 "siam_match: vectors differ in size: 1 and 2 dimensions"},
		{"SELECT siam_match('[1]', '[2]')",
		 "siam_match: no threshold given and the database has no model"},
		{"SELECT siam_embed(1)",
		 "siam_embed: expected a file name (TEXT) or image bytes "
		 "(BLOB)"},
		{"SELECT siam_embed('x.png')",
		 "siam_embed: the database has no model"},
		{"SELECT * FROM siam_knn('[1]', 3)",
		 "siam_knn: the database has no model"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char want[600];
		snprintf(want, sizeof want, "ERROR: %s", cases[i][1]);
		is(db, cases[i][0], want);
	}
	/* Long vectors: a JSON array longer than the stack buffer */
	{
		char *sql = malloc(20000);
		size_t l = (size_t)snprintf(sql, 20000,
		                            "SELECT length(siam_vector('[");
		for (int i = 0; i < 1000; i++)
			l += (size_t)snprintf(sql + l, 20000 - l, "%s%d",
			                      i ? "," : "", i);
		snprintf(sql + l, 20000 - l, "]'))");
		const char *got = q(db, sql);
		tap_ok(!strcmp(got, "4000"), "a JSON array of 1000 numbers: %s",
		       got);
		free(sql);
	}
	is(db, "SELECT siam_distance(zeroblob(40000), zeroblob(40000))", "0.0");
	is(db, "SELECT hex(siam_vector(' [ 1 , -2 ] '))", "0000803F000000C0");
	is(db, "SELECT hex(siam_vector(x'0000803f'))", "0000803F");
	is(db, "SELECT hex(siam_vector('[1E2,-0,2.5e-1]'))",
	   "0000C842000000800000803E");
}

static void test_json(sqlite3 *db)
{
	is(db, "SELECT siam_json(siam_vector('[0.1,-2,1e30,0.5]'))",
	   "[0.1,-2,1e+30,0.5]");
	is(db, "SELECT siam_json('[ 3 ]')", "[3]");
	/* the fewest digits that read back: not "%.9g" */
	is(db, "SELECT siam_json(x'01000000')", "[1.4013e-45]");
	is(db, "SELECT siam_json(siam_vector('[3.4028235e38]'))",
	   "[3.4028235e+38]");
	is(db, "SELECT siam_json(siam_vector('[0.3,16777217,1.17549435e-38]'))",
	   "[0.3,16777216,1.1754944e-38]");

	/* Round trip of random bit patterns over the whole float range:
	 * siam_vector(siam_json(v)) must give back the same bytes. */
	enum { N = 4096 };
	float *v = malloc(N * sizeof *v);
	for (int i = 0; i < N; i++) {
		float f;
		do {
			uint32_t u = (uint32_t)rnd();
			memcpy(&f, &u, 4);
		} while (!isfinite(f));
		v[i] = f;
	}
	v[0] = 0.0f;
	v[1] = -0.0f;
	v[2] = FLT_MAX;
	v[3] = -FLT_MIN;
	v[4] = 1e-45f;
	v[5] = 0.1f;
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT siam_vector(siam_json(?1)) = ?1,"
	                   " siam_json(siam_vector(siam_json(?1))) ="
	                   " siam_json(?1)", -1, &st, NULL);
	bind_vec(st, 1, v, N);
	int rc = sqlite3_step(st);
	tap_ok(rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1,
	       "siam_vector(siam_json(v)) = v for %d random floats", N);
	tap_ok(rc == SQLITE_ROW && sqlite3_column_int(st, 1) == 1,
	       "siam_json is stable");
	sqlite3_finalize(st);
	free(v);
}

/* ------------------------------------------------------------------ */
/* siam_knn                                                            */

typedef struct ref_hit {
	double d;
	int64_t id;
} ref_hit;

static int ref_cmp(const void *pa, const void *pb)
{
	const ref_hit *a = pa, *b = pb;
	if (a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

/* Runs sql (binding the query vector as ?1 and k as ?2) and compares with
 * the k nearest of (ids, x) computed here in double precision. */
static int knn_check(sqlite3 *db, const char *sql, const float *x,
                     const int64_t *ids, int n, int dim, const float *qv,
                     int k, const char *what)
{
	ref_hit *ref = malloc((size_t)n * sizeof *ref);
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < dim; j++) {
			double d = (double)x[i * dim + j] - qv[j];
			s += d * d;
		}
		ref[i].d = sqrt(s);
		ref[i].id = ids[i];
	}
	qsort(ref, (size_t)n, sizeof *ref, ref_cmp);
	int want = k < n ? k : n;

	sqlite3_stmt *st;
	int ok = 1, got = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		tap_ok(0, "%s: %s", what, sqlite3_errmsg(db));
		free(ref);
		return 0;
	}
	bind_vec(st, 1, qv, dim);
	sqlite3_bind_int(st, 2, k);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		double d = sqlite3_column_double(st, 1);
		if (got < want) {
			/* the same id, unless the reference has a near tie at
			 * this rank (float vs double ordering) */
			int tie = (got > 0 && fabs(ref[got - 1].d - ref[got].d) <
			                      1e-5) ||
			          (got + 1 < n && fabs(ref[got + 1].d -
			                               ref[got].d) < 1e-5);
			if ((id != ref[got].id && !tie) ||
			    fabs(d - ref[got].d) > 1e-5 * (1 + ref[got].d)) {
				if (ok)
					tap_diag("%s: rank %d: got id %lld d %.9g,"
					         " want id %lld d %.9g", what, got,
					         (long long)id, d,
					         (long long)ref[got].id, ref[got].d);
				ok = 0;
			}
		}
		got++;
	}
	if (rc != SQLITE_DONE) {
		tap_diag("%s: %s", what, sqlite3_errmsg(db));
		ok = 0;
	}
	if (got != want) {
		tap_diag("%s: %d rows, want %d", what, got, want);
		ok = 0;
	}
	sqlite3_finalize(st);
	free(ref);
	return tap_ok(ok, "%s", what);
}

/* siam_knn and ORDER BY siam_distance give the same rows, bit for bit:
 * they share the distance kernel, and both break ties by image_id. */
static void knn_same_as_order_by(sqlite3 *db, const float *qv, int dim,
                                 int k, const char *what)
{
	sqlite3_stmt *a, *b;
	sqlite3_prepare_v2(db, "SELECT image_id, distance FROM siam_knn"
	                   " WHERE query = ?1 AND k = ?2", -1, &a, NULL);
	sqlite3_prepare_v2(db, "SELECT id, siam_distance(embedding, ?1) AS d"
	                   " FROM images WHERE model_id = 1 AND embedding"
	                   " IS NOT NULL ORDER BY d, id LIMIT ?2", -1, &b,
	                   NULL);
	bind_vec(a, 1, qv, dim);
	bind_vec(b, 1, qv, dim);
	sqlite3_bind_int(a, 2, k);
	sqlite3_bind_int(b, 2, k);
	int ok = 1, n = 0, ra, rb;
	for (;;) {
		ra = sqlite3_step(a);
		rb = sqlite3_step(b);
		if (ra != rb) {
			ok = 0;
			break;
		}
		if (ra != SQLITE_ROW)
			break;
		n++;
		if (sqlite3_column_int64(a, 0) != sqlite3_column_int64(b, 0) ||
		    sqlite3_column_double(a, 1) != sqlite3_column_double(b, 1)) {
			if (ok)
				tap_diag("row %d: knn %lld %.17g, order by %lld "
				         "%.17g", n, (long long)sqlite3_column_int64(a, 0),
				         sqlite3_column_double(a, 1),
				         (long long)sqlite3_column_int64(b, 0),
				         sqlite3_column_double(b, 1));
			ok = 0;
		}
	}
	tap_ok(ok && ra == SQLITE_DONE && n == k, "%s (%d rows)", what, n);
	sqlite3_finalize(a);
	sqlite3_finalize(b);
}

static void insert_vectors(sqlite3 *db, int64_t model, const float *x,
                           const int64_t *ids, int n, int dim)
{
	sqlite3_stmt *st;
	exec(db, "BEGIN");
	sqlite3_prepare_v2(db, "INSERT INTO images(id, path, model_id,"
	                   " embedding) VALUES (?1, 'img' || ?1, ?2, ?3)",
	                   -1, &st, NULL);
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, model);
		bind_vec(st, 3, x + (size_t)i * dim, dim);
		if (sqlite3_step(st) != SQLITE_DONE)
			tap_diag("insert: %s", sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	exec(db, "COMMIT");
}

static void test_knn(sqlite3 *db)
{
	enum { N = 6000, D = 24 }; /* over KNN8_MIN_ROWS: the int8 pass */
	float *x = malloc((size_t)N * D * sizeof *x);
	int64_t *ids = malloc(N * sizeof *ids);
	float qv[D];

	exec(db, "INSERT INTO models(id, name, blob, spec, embed_dim,"
	         " threshold, sha256) VALUES (1, 'test', x'', 'test', 24, 0.5,"
	         " ''), (2, 'other', x'', 'other', 3, 0.5, '');"
	         " INSERT INTO meta VALUES ('current_model', 1)");
	for (int i = 0; i < N; i++) {
		ids[i] = 10 + 3 * i; /* not dense: ids are not row numbers */
		for (int j = 0; j < D; j++)
			x[i * D + j] = rndf();
	}
	/* ties: rows 100..104 hold the same vector, as do rows 7 and 2000 */
	for (int i = 101; i <= 104; i++)
		memcpy(x + i * D, x + 100 * D, D * sizeof *x);
	memcpy(x + 2000 * D, x + 7 * D, D * sizeof *x);
	insert_vectors(db, 1, x, ids, N, D);
	/* model 2 and NULL embeddings must not show up */
	exec(db, "INSERT INTO images(path, model_id, embedding) VALUES"
	         " ('other', 2, siam_vector('[0,0,0]')),"
	         " ('nothing', 1, NULL)");

	const char *sql = "SELECT image_id, distance FROM siam_knn"
	                  " WHERE query = ?1 AND k = ?2";
	for (int t = 0; t < 4; t++) {
		for (int j = 0; j < D; j++)
			qv[j] = rndf();
		static const int ks[] = {1, 10, 57, 200};
		char what[64];
		snprintf(what, sizeof what, "knn k=%d matches brute force",
		         ks[t]);
		knn_check(db, sql, x, ids, N, D, qv, ks[t], what);
	}
	knn_check(db, "SELECT * FROM siam_knn(?1, ?2)", x, ids, N, D, qv, 5,
	          "table-valued form");
	knn_check(db, "SELECT image_id, distance FROM siam_knn(?1, ?2, 1)", x,
	          ids, N, D, qv, 5, "explicit model_id");
	knn_check(db, "SELECT image_id, distance FROM siam_knn(?1) LIMIT 7",
	          x, ids, N, D, qv, 7, "LIMIT stands in for k");
	knn_check(db, "SELECT image_id, distance FROM siam_knn WHERE"
	          " query = ?1 LIMIT 7", x, ids, N, D, qv, 7,
	          "LIMIT stands in for k, WHERE form");
	knn_check(db, "SELECT image_id, distance FROM siam_knn(?1, ?2)"
	          " ORDER BY distance", x, ids, N, D, qv, 9,
	          "ORDER BY distance");
	knn_check(db, "SELECT image_id, distance FROM siam_knn(?1, 10000)",
	          x, ids, N, D, qv, 10000,
	          "k larger than the table gives every row");
	knn_same_as_order_by(db, qv, D, 50, "knn = ORDER BY siam_distance");

	/* ties come out by image_id, at distance 0 for an exact query */
	memcpy(qv, x + 100 * D, sizeof qv);
	{
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, "SELECT group_concat(image_id || ':' ||"
		                   " distance, ' ') FROM siam_knn(?1, 6)", -1,
		                   &st, NULL);
		bind_vec(st, 1, qv, D);
		sqlite3_step(st);
		char want[200];
		snprintf(want, sizeof want, "%lld:0.0 %lld:0.0 %lld:0.0 "
		         "%lld:0.0 %lld:0.0", (long long)ids[100],
		         (long long)ids[101], (long long)ids[102],
		         (long long)ids[103], (long long)ids[104]);
		const char *got = (const char *)sqlite3_column_text(st, 0);
		tap_ok(got && !strncmp(got, want, strlen(want)) &&
		       got[strlen(want)] == ' ', "ties ordered by image_id");
		if (got && strncmp(got, want, strlen(want)))
			tap_diag("got %s", got);
		sqlite3_finalize(st);
		knn_same_as_order_by(db, qv, D, 8, "ties: knn = ORDER BY");
	}
	memcpy(qv, x + 7 * D, sizeof qv);
	{
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, "SELECT group_concat(image_id, ' ') FROM"
		                   " (SELECT image_id FROM siam_knn(?1, 2))",
		                   -1, &st, NULL);
		bind_vec(st, 1, qv, D);
		sqlite3_step(st);
		char want[64];
		snprintf(want, sizeof want, "%lld %lld", (long long)ids[7],
		         (long long)ids[2000]);
		const char *got = (const char *)sqlite3_column_text(st, 0);
		tap_ok(got && !strcmp(got, want), "a tie far apart: %s", want);
		sqlite3_finalize(st);
	}
	/* JSON text is accepted as the query too */
	is(db, "SELECT image_id FROM siam_knn('[0,0,0]', 1, 2)",
	   q(db, "SELECT id FROM images WHERE path = 'other'"));
	/* A hidden column with an unusable equality and a usable one: here
	 * a.query = b.query cannot feed a when a runs first, the subquery
	 * can (a subquery, so that SQLite does not propagate it into the
	 * other term).  The plan must take the usable one, wherever it
	 * stands, and b gets a's query from the query column. */
	{
		char want[64];
		snprintf(want, sizeof want, "%s:%s",
		         q(db, "SELECT id FROM images WHERE path = 'other'"),
		         q(db, "SELECT id FROM images WHERE path = 'other'"));
		is(db, "SELECT group_concat(a.image_id || ':' || b.image_id, ' ')"
		   " FROM siam_knn AS a, siam_knn AS b WHERE a.query = b.query"
		   " AND a.query = (SELECT '[0,0,0]') AND a.k = 1 AND b.k = 1"
		   " AND a.model_id = 2 AND b.model_id = 2", want);
		is(db, "SELECT typeof(query) || '|' || query || '|' || k || '|' ||"
		   " model_id FROM siam_knn('[0,0,0]', 1, 2)", "text|[0,0,0]|1|2");
	}
	is(db, "SELECT count(*) FROM siam_knn(NULL, 5)", "0");
	is(db, "SELECT count(*) FROM siam_knn('[0,0,0]', NULL, 2)", "0");

	/* errors */
	is(db, "SELECT * FROM siam_knn(zeroblob(96), 10001)",
	   "ERROR: siam_knn: k must be between 1 and 10000, found 10001");
	is(db, "SELECT * FROM siam_knn(zeroblob(96), 0)",
	   "ERROR: siam_knn: k must be between 1 and 10000, found 0");
	is(db, "SELECT * FROM siam_knn(zeroblob(96), 'ten')",
	   "ERROR: siam_knn: k must be an integer");
	is(db, "SELECT * FROM siam_knn(zeroblob(96), 2.5)",
	   "ERROR: siam_knn: k must be an integer");
	is(db, "SELECT count(*) FROM siam_knn(zeroblob(96), 2.0)", "2");
	is(db, "SELECT * FROM siam_knn(zeroblob(64), 10)",
	   "ERROR: siam_knn: the query vector has 16 dimensions, the "
	   "embeddings of model 1 have 24");
	is(db, "SELECT * FROM siam_knn('[1,2]', 10, 2)",
	   "ERROR: siam_knn: the query vector has 2 dimensions, the "
	   "embeddings of model 2 have 3");
	is(db, "SELECT * FROM siam_knn(x'0102', 10)",
	   "ERROR: siam_knn: invalid float32 vector BLOB length: must be "
	   "divisible by 4, found 2");
	is(db, "SELECT * FROM siam_knn('[1,', 10)",
	   "ERROR: siam_knn: invalid JSON at offset 3");
	is(db, "SELECT * FROM siam_knn(zeroblob(96), 3, 99)",
	   "ERROR: siam_knn: no model with id 99");
	is(db, "SELECT * FROM siam_knn WHERE k = 3",
	   "ERROR: siam_knn: a query vector is required: WHERE query = ? AND "
	   "k = 10, or siam_knn(?, 10)");
	is(db, "SELECT * FROM siam_knn WHERE query = zeroblob(96)",
	   "ERROR: siam_knn: k is required: WHERE query = ? AND k = 10, or "
	   "LIMIT 10");
	is(db, "CREATE VIRTUAL TABLE temp.v USING siam_knn",
	   "ERROR: no such module: siam_knn");

	/* The plan consumes ORDER BY distance: no sorter */
	{
		sqlite3_stmt *st;
		int sorter = 0, rows = 0;
		sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT * FROM"
		                   " siam_knn(zeroblob(96), 3) ORDER BY distance,"
		                   " image_id", -1, &st, NULL);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 3);
			rows++;
			if (d && strstr(d, "TEMP B-TREE"))
				sorter = 1;
		}
		sqlite3_finalize(st);
		tap_ok(rows > 0 && !sorter, "ORDER BY distance, image_id needs "
		       "no sorter");
	}
	/* Hidden columns read back; path is the images row's path */
	is(db, "SELECT k || ' ' || model_id || ' ' || (path = 'img' ||"
	       " image_id) FROM siam_knn(zeroblob(96), 3)", "3 1 1");
	/* a join: each image's nearest other image */
	is(db, "SELECT count(*) FROM images AS a, siam_knn AS n"
	       " WHERE a.model_id = 1 AND a.id < 100 AND n.query = a.embedding"
	       " AND n.k = 2 AND n.image_id != a.id", "30");

	/* Refresh: the cached matrix follows inserts, updates, deletes
	 * and rollbacks of this connection. */
	for (int j = 0; j < D; j++)
		qv[j] = 5.0f; /* far from every random row */
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT image_id || ':' || distance FROM"
	                   " siam_knn(?1, 1)", -1, &st, NULL);
#define NEAREST(want, what)                                              \
	do {                                                             \
		sqlite3_reset(st);                                       \
		bind_vec(st, 1, qv, D);                                  \
		int rc_ = sqlite3_step(st);                              \
		const char *g_ = rc_ == SQLITE_ROW ?                     \
			(const char *)sqlite3_column_text(st, 0) :       \
			sqlite3_errmsg(db);                              \
		if (!tap_ok(!strcmp(g_, want), "%s", what))              \
			tap_diag("got %s, want %s", g_, want);           \
	} while (0)
	char before[64];
	snprintf(before, sizeof before, "%s", q(db, "SELECT image_id FROM"
	         " siam_knn(siam_vector('[5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,"
	         "5,5,5,5,5,5]'), 1)"));
	sqlite3_stmt *ins;
	sqlite3_prepare_v2(db, "INSERT INTO images(id, path, model_id,"
	                   " embedding) VALUES (5, 'new', 1, ?1)", -1, &ins,
	                   NULL);
	bind_vec(ins, 1, qv, D);
	sqlite3_step(ins);
	sqlite3_finalize(ins);
	NEAREST("5:0.0", "an inserted row is found at once");
	exec(db, "UPDATE images SET embedding = (SELECT embedding FROM images"
	         " WHERE id = 10) WHERE id = 5");
	{
		char want[80];
		/* row 5 now equals row 10: it wins the tie if 10 was nearest */
		snprintf(want, sizeof want, "%s:",
		         strcmp(before, "10") ? before : "5");
		sqlite3_reset(st);
		bind_vec(st, 1, qv, D);
		sqlite3_step(st);
		const char *g = (const char *)sqlite3_column_text(st, 0);
		tap_ok(g && !strncmp(g, want, strlen(want)),
		       "an updated embedding is seen (nearest is %s again)",
		       before);
	}
	exec(db, "UPDATE images SET embedding = siam_vector('[5,5,5,5,5,5,5,5,"
	         "5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,4]') WHERE id = 5");
	NEAREST("5:1.0", "a second update is seen");
	exec(db, "DELETE FROM images WHERE id = 5");
	{
		sqlite3_reset(st);
		bind_vec(st, 1, qv, D);
		sqlite3_step(st);
		const char *g = (const char *)sqlite3_column_text(st, 0);
		tap_ok(g && strncmp(g, "5:", 2) != 0, "a deleted row is gone");
	}
	exec(db, "BEGIN");
	exec(db, "INSERT INTO images(id, path, model_id, embedding) VALUES"
	         " (6, 'tx', 1, siam_vector('[5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,"
	         "5,5,5,5,5,5,5,5]'))");
	NEAREST("6:0.0", "a row inserted in a transaction is seen in it");
	exec(db, "ROLLBACK");
	{
		sqlite3_reset(st);
		bind_vec(st, 1, qv, D);
		sqlite3_step(st);
		const char *g = (const char *)sqlite3_column_text(st, 0);
		tap_ok(g && strncmp(g, "6:", 2) != 0,
		       "and gone after ROLLBACK");
	}
	/* INSERT OR REPLACE deletes without a DELETE trigger: the INSERT
	 * trigger still marks the change. */
	exec(db, "INSERT OR REPLACE INTO images(id, path, model_id, embedding)"
	         " VALUES (10, 'img10', 1, siam_vector('[5,5,5,5,5,5,5,5,5,5,5,"
	         "5,5,5,5,5,5,5,5,5,5,5,5,6]'))");
	NEAREST("10:1.0", "INSERT OR REPLACE is seen");
	/* The outer statement's conflict clause overrides a trigger's:
	 * the triggers must still mark the change, and never fail. */
	exec(db, "INSERT OR IGNORE INTO images(id, path, model_id, embedding)"
	         " VALUES (7, 'ig', 1, siam_vector('[5,5,5,5,5,5,5,5,5,5,5,5,5,"
	         "5,5,5,5,5,5,5,5,5,5,5]'))");
	NEAREST("7:0.0", "INSERT OR IGNORE is seen");
	exec(db, "INSERT INTO images(path, model_id, embedding) VALUES ('ig',"
	         " 1, siam_vector('[5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,"
	         "5,4.5]')) ON CONFLICT (path, model_id) DO UPDATE SET"
	         " embedding = excluded.embedding");
	NEAREST("7:0.5", "an UPSERT is seen");
	exec(db, "INSERT OR ROLLBACK INTO images(id, path, model_id, embedding)"
	         " VALUES (8, 'rb', 1, siam_vector('[5,5,5,5,5,5,5,5,5,5,5,5,5,"
	         "5,5,5,5,5,5,5,5,5,5,5.25]'))");
	NEAREST("8:0.25", "INSERT OR ROLLBACK works and is seen");
	exec(db, "DELETE FROM images WHERE id IN (7, 8)");
	/* Without the counter row every query reloads: still right. */
	exec(db, "DELETE FROM meta WHERE key = 'images_gen'");
	exec(db, "INSERT INTO images(id, path, model_id, embedding) VALUES"
	         " (9, 'nogen', 1, siam_vector('[5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,"
	         "5,5,5,5,5,5,5,5,5.125]'))");
	NEAREST("9:0.125", "without meta.images_gen an insert is seen");
	exec(db, "DELETE FROM images WHERE id = 9");
	{
		sqlite3_reset(st);
		bind_vec(st, 1, qv, D);
		sqlite3_step(st);
		const char *g = (const char *)sqlite3_column_text(st, 0);
		tap_ok(g && strncmp(g, "9:", 2) != 0,
		       "and a delete too");
	}
	exec(db, "INSERT INTO meta VALUES ('images_gen', 0)");
	/* a row with a broken embedding is reported, not skipped */
	exec(db, "UPDATE images SET embedding = x'00000000' WHERE id = 13");
	NEAREST("siam_knn: image 13 has an embedding of 4 bytes, but model 1 "
	        "makes 24 dimensions (96 bytes)", "a malformed row is an error");
	exec(db, "DELETE FROM images WHERE id = 13");
	sqlite3_finalize(st);
	free(x);
	free(ids);
}

/* siam_hamming: bits that differ between two 64-bit hashes. */
static void test_hamming(sqlite3 *db)
{
	is(db, "SELECT siam_hamming(1, 2)", "2");
	is(db, "SELECT siam_hamming(-1, 0)", "64");
	is(db, "SELECT siam_hamming(-9223372036854775808, 0)", "1");
	is(db, "SELECT siam_hamming(12345, 12345)", "0");
	is(db, "SELECT siam_hamming(NULL, 1)", "NULL");
	is(db, "SELECT siam_hamming(1, NULL)", "NULL");
	is(db, "SELECT siam_hamming('a', 1)", "ERROR: siam_hamming: argument 1"
	       " must be an integer 64-bit hash (images.phash)");
	is(db, "SELECT siam_hamming(1, 1.5)", "ERROR: siam_hamming: argument 2"
	       " must be an integer 64-bit hash (images.phash)");
}

/* siam_pairs against the brute-force self-join with siam_distance, on
 * model 3: 400 vectors of 5 dimensions with exact duplicates and a
 * threshold exactly on one pair's distance. */
#define PAIRS_DIFF(t)                                                      \
	"SELECT (SELECT count(*) FROM (SELECT a, b, distance FROM"          \
	" siam_pairs(" t ", 3) EXCEPT " BRUTE(t) ")) + (SELECT count(*) FROM" \
	" (" BRUTE(t) " EXCEPT SELECT a, b, distance FROM siam_pairs(" t    \
	", 3)))"
#define BRUTE(t)                                                           \
	"SELECT x.id, y.id, siam_distance(x.embedding, y.embedding) FROM"  \
	" images x JOIN images y ON x.id < y.id WHERE x.model_id = 3 AND"   \
	" y.model_id = 3 AND siam_distance(x.embedding, y.embedding) <= " t

static void test_pairs(sqlite3 *db)
{
	enum { N = 400, D = 5 };
	float *x = malloc((size_t)N * D * sizeof *x);
	int64_t *ids = malloc(N * sizeof *ids);
	exec(db, "INSERT INTO models(id, name, blob, spec, embed_dim,"
	         " threshold, sha256) VALUES (3, 'pairs', x'', 'pairs', 5, 0.5,"
	         " '')");
	for (int i = 0; i < N; i++) {
		ids[i] = 100000 + 7 * (N - i); /* descending: ids order rows */
		for (int j = 0; j < D; j++)
			x[i * D + j] = rndf();
	}
	memcpy(x + 10 * D, x + 20 * D, D * sizeof *x);
	memcpy(x + 30 * D, x + 20 * D, D * sizeof *x);
	insert_vectors(db, 3, x, ids, N, D);
	is(db, "SELECT count(*) FROM siam_pairs(0, 3)", "3");
	is(db, "SELECT group_concat(a || '-' || b || ':' || distance, ' ')"
	       " FROM siam_pairs WHERE threshold = 0 AND model_id = 3",
	   "102590-102660:0.0 102590-102730:0.0 102660-102730:0.0");
	is(db, PAIRS_DIFF("0.3"), "0");
	is(db, PAIRS_DIFF("0.6"), "0");
	int64_t n6 = (int64_t)qd(db, "SELECT count(*) FROM siam_pairs(0.6, 3)");
	tap_ok(n6 > 50, "threshold 0.6 finds pairs (%lld)", (long long)n6);
	/* a threshold exactly on a distance includes that pair */
	char sql[1024];
	const char *d = q(db, "SELECT printf('%!.17g', siam_distance("
	                      "x.embedding, y.embedding)) FROM images x JOIN"
	                      " images y ON x.id < y.id WHERE x.model_id = 3"
	                      " AND y.model_id = 3 ORDER BY 1 LIMIT 1 OFFSET"
	                      " 40");
	char t[64];
	snprintf(t, sizeof t, "%s", d);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM siam_pairs(%s, 3)", t);
	is(db, sql, "41");
	snprintf(sql, sizeof sql, "SELECT count(*) FROM images x JOIN images y"
	         " ON x.id < y.id WHERE x.model_id = 3 AND y.model_id = 3 AND"
	         " siam_distance(x.embedding, y.embedding) <= %s", t);
	is(db, sql, "41");
	/* ordered by (a, b), and the hidden columns read back */
	is(db, "SELECT count(*) FROM (SELECT a, b, lag(a) OVER () AS pa,"
	       " lag(b) OVER () AS pb FROM siam_pairs(0.6, 3)) WHERE pa > a"
	       " OR (pa = a AND pb >= b) OR a >= b", "0");
	is(db, "SELECT DISTINCT threshold || ',' || model_id FROM"
	       " siam_pairs(0.6, 3)", "0.6,3");
	/* the current model (1) is the default: its ties, 10 + 1 pairs */
	is(db, "SELECT count(*) FROM siam_pairs(0)", "11");
	/* errors */
	is(db, "SELECT * FROM siam_pairs", "ERROR: siam_pairs: a threshold is"
	       " required: WHERE threshold = 0.5, or siam_pairs(0.5)");
	is(db, "SELECT * FROM siam_pairs('x')",
	   "ERROR: siam_pairs: threshold must be a number");
	is(db, "SELECT * FROM siam_pairs(-1)", "ERROR: siam_pairs: threshold"
	       " must be a finite number >= 0, found -1");
	is(db, "SELECT * FROM siam_pairs(9e999)", "ERROR: siam_pairs: "
	       "threshold must be a finite number >= 0, found Inf");
	is(db, "SELECT count(*) FROM siam_pairs(NULL)", "0");
	is(db, "SELECT * FROM siam_pairs(0.5, 99)",
	   "ERROR: siam_pairs: no model with id 99");
	is(db, "SELECT * FROM siam_pairs(0.5, 'a')",
	   "ERROR: siam_pairs: model_id must be an integer");
	exec(db, "UPDATE images SET embedding = x'00000000' WHERE id = 100007");
	is(db, "SELECT * FROM siam_pairs(0.5, 3)", "ERROR: siam_pairs: image "
	       "100007 has an embedding of 4 bytes, but model 3 makes 5 "
	       "dimensions (20 bytes)");
	exec(db, "DELETE FROM images WHERE model_id = 3");
	sqlite3 *empty = open_db(":memory:");
	is(empty, "SELECT * FROM siam_pairs(0.5)",
	   "ERROR: siam_pairs: the database has no model");
	siam_db_close(empty);
	free(x);
	free(ids);
}

/* Changes made through another connection are seen too. */
static void test_knn_two_connections(void)
{
	char path[] = "/tmp/siam-test-sql-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		tap_ok(0, "mkstemp");
		return;
	}
	close(fd);
	unlink(path);
	sqlite3 *a = open_db(path), *b = open_db(path);
	exec(a, "INSERT INTO models(name, blob, spec, embed_dim, threshold,"
	        " sha256) VALUES ('m', x'', 's', 2, 1.5, '');"
	        " INSERT INTO images(path, model_id, embedding) VALUES"
	        " ('p', 1, siam_vector('[0,0]'))");
	is(b, "SELECT path || distance FROM siam_knn('[3,4]', 1)", "p5.0");
	exec(a, "INSERT INTO images(path, model_id, embedding) VALUES"
	        " ('it''s\nnew', 1, siam_vector('[3,3]'))");
	is(b, "SELECT path || distance FROM siam_knn('[3,4]', 1)",
	   "it's\nnew1.0");
	exec(a, "DELETE FROM images WHERE path = 'p'");
	is(b, "SELECT count(*) FROM siam_knn('[3,4]', 5)", "1");
	/* siam_match's default threshold follows the current model */
	is(b, "SELECT siam_match('[0]', '[1.4]')", "1");
	exec(a, "INSERT INTO models(name, blob, spec, embed_dim, threshold,"
	        " sha256) VALUES ('m2', x'01', 's', 2, 1.0, '')");
	is(b, "SELECT siam_match('[0]', '[1.4]')", "0");
	exec(a, "INSERT OR REPLACE INTO meta VALUES ('current_model', 1)");
	is(b, "SELECT siam_match('[0]', '[1.4]')", "1");
	is(b, "SELECT count(*) FROM siam_knn('[3,4]', 5)", "1");
	exec(a, "DELETE FROM models WHERE id = 1");
	is(b, "SELECT siam_match('[0]', '[1.4]')", "0");
	is(b, "SELECT count(*) FROM siam_knn('[3,4]', 5)", "0");
	siam_db_close(a);
	siam_db_close(b);
	unlink(path);
	char side[sizeof path + 8];
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

int main(void)
{
	sqlite3 *db = open_db(":memory:");
	test_registration(db);
	test_distance(db);
	test_null(db);
	test_errors(db);
	test_json(db);
	test_knn(db);
	test_hamming(db);
	test_pairs(db);
	siam_db_close(db);
	test_knn_two_connections();
	siam_db_close(NULL);
	return tap_done();
}
