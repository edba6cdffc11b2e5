/*
 * test_knn_sidecar.c -- siam_knn's sidecar ("DB-knn-MODEL",
 * src/knn_sidecar.c) never changes an answer: with it, without it,
 * after images are added and deleted (images_gen moves), with a stale,
 * truncated or corrupt file in its place (a header that fails its CRC
 * is refused; damaged residuals are used and answer exactly), for two
 * models, and while another connection holds an uncommitted insert, siam_knn returns
 * exactly what the slow reference returns -- ORDER BY siam_distance,
 * id -- ids, distances and order, ties included (the vectors are drawn
 * from a coarse grid, with duplicates, so ties are many).  Whether the
 * file was used or rebuilt is seen from its mtime: the test sets it to
 * an old time, and a rebuild (rename of a new file) changes it.
 */
#include "knn_sidecar.h"
#include "siam_nn.h"

#include "tap.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#define DIM 8
#define N1 5000 /* above siam_knn's 4096-row threshold for a sidecar */
#define N2 4500

static siam_rng rng;
static char dir[] = "/tmp/siam-test-knnside-XXXXXX";
static char dbpath[128], side1[160], side2[160];

static sqlite3 *open_db(void)
{
	sqlite3 *db = NULL;
	siam_error err = {0};
	if (siam_db_open(&db, dbpath, SIAM_DB_CREATE, &err) < 0) {
		printf("Bail out! siam_db_open %s: %s\n", dbpath, err.msg);
		exit(1);
	}
	return db;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		printf("Bail out! %s: %s\n", sql, msg);
		exit(1);
	}
}

/* A grid value: few distinct, so equal distances are common. */
static void grid_vec(float *v)
{
	for (int j = 0; j < DIM; j++)
		v[j] = (float)((int)(siam_rng_uniform(&rng) * 5) - 2) * 0.5f;
}

static void insert(sqlite3 *db, int64_t id, int64_t model, const float *v)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "INSERT INTO images(id, path, model_id, "
	                   "embedding) VALUES (?1, 'p' || ?1, ?2, ?3)", -1,
	                   &st, NULL);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, model);
	sqlite3_bind_blob(st, 3, v, DIM * 4, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		printf("Bail out! insert: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_finalize(st);
}

/* Rows of one query: ids and distances, at most 1000. */
typedef struct rows {
	int n;
	int64_t id[1000];
	double d[1000];
} rows;

static void run(sqlite3 *db, const char *sql, const float *q, int k,
                int64_t model, rows *r)
{
	sqlite3_stmt *st;
	r->n = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		printf("Bail out! %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_bind_blob(st, 1, q, DIM * 4, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, k);
	sqlite3_bind_int64(st, 3, model);
	while (sqlite3_step(st) == SQLITE_ROW && r->n < 1000) {
		r->id[r->n] = sqlite3_column_int64(st, 0);
		r->d[r->n] = sqlite3_column_double(st, 1);
		r->n++;
	}
	sqlite3_finalize(st);
}

/* siam_knn equals the reference on 12 queries (grid points, copies of
 * stored rows, far points) at k = 1, 10, 100 and 900 (the last above
 * n / 8, the plain scan over the mapped floats). */
static void agree(sqlite3 *db, int64_t model, const char *what)
{
	static const int ks[] = {1, 10, 100, 900};
	float q[DIM];
	rows a, b;
	int ok = 1;
	for (int t = 0; t < 12 && ok; t++) {
		grid_vec(q);
		if (t % 3 == 1)
			for (int j = 0; j < DIM; j++)
				q[j] += 0.25f;
		if (t % 3 == 2)
			q[t % DIM] = 40;
		for (int i = 0; i < 4 && ok; i++) {
			run(db, "SELECT image_id, distance FROM siam_knn WHERE "
			    "query = ?1 AND k = ?2 AND model_id = ?3", q, ks[i],
			    model, &a);
			run(db, "SELECT id, siam_distance(embedding, ?1) AS d "
			    "FROM images WHERE model_id = ?3 ORDER BY d, id "
			    "LIMIT ?2", q, ks[i], model, &b);
			ok = a.n == b.n && a.n > 0;
			for (int j = 0; ok && j < a.n; j++)
				ok = a.id[j] == b.id[j] && a.d[j] == b.d[j];
			if (!ok)
				tap_diag("query %d, k %d: %d rows vs %d", t,
				         ks[i], a.n, b.n);
		}
	}
	tap_ok(ok, "%s: siam_knn (model %lld) equals ORDER BY siam_distance",
	       what, (long long)model);
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Marks the file old; was_used() then tells whether it is still the
 * same (used) or was replaced (rebuilt). */
static void mark(const char *p)
{
	struct utimbuf u = {1000000, 1000000};
	utime(p, &u);
}

static int still_marked(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && st.st_mtime == 1000000;
}

static size_t file_size(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

static unsigned char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	*len = file_size(p);
	unsigned char *b = malloc(*len ? *len : 1);
	if (!f || fread(b, 1, *len, f) != *len) {
		printf("Bail out! read %s\n", p);
		exit(1);
	}
	fclose(f);
	return b;
}

static void spill(const char *p, const void *b, size_t len)
{
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(b, 1, len, f) != len || fclose(f)) {
		printf("Bail out! write %s\n", p);
		exit(1);
	}
}

/* A child process that creates path and holds its lock, as a writer
 * does while it writes; returns once it holds it. */
static pid_t hold(const char *path)
{
	int p[2];
	char c;
	if (pipe(p) != 0) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CREAT, 0600);
		if (fd >= 0 && flock(fd, LOCK_EX) == 0)
			(void)!write(p[1], "1", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		printf("Bail out! hold %s\n", path);
		exit(1);
	}
	close(p[0]);
	return pid;
}

/* A fresh connection answers right; 1 if it used the marked file. */
static int fresh(const char *what, const char *side)
{
	sqlite3 *db = open_db();
	mark(side);
	agree(db, 1, what);
	int used = still_marked(side);
	siam_db_close(db);
	return used;
}

int main(void)
{
	siam_rng_seed(&rng, 7);
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(dbpath, sizeof dbpath, "%s/t.db", dir);
	snprintf(side1, sizeof side1, "%s-knn-1", dbpath);
	snprintf(side2, sizeof side2, "%s-knn-2", dbpath);

	sqlite3 *db = open_db();
	exec(db, "INSERT INTO models(id, name, blob, spec, embed_dim, "
	     "threshold, sha256) VALUES (1, 'a', x'', 'x', 8, 1, ''), "
	     "(2, 'b', x'', 'x', 8, 1, '')");
	exec(db, "BEGIN");
	float v[DIM];
	for (int i = 0; i < N1 + N2; i++) {
		if (i % 10 != 3) /* else a duplicate of the previous row */
			grid_vec(v);
		insert(db, i + 1, i % 2 && i < 2 * N2 ? 2 : 1, v);
	}
	exec(db, "COMMIT");

	/* 1. The first connection loads, writes, and answers right. */
	tap_ok(!exists(side1), "no sidecar before a query");
	agree(db, 1, "first load");
	tap_ok(exists(side1), "the first query wrote %s", side1);
	agree(db, 2, "second model");
	tap_ok(exists(side2), "a second model has its own sidecar");
	agree(db, 1, "back to model 1 on the same connection");
	siam_db_close(db);

	/* 2. A new connection maps it. */
	tap_ok(fresh("mapped", side1), "a new connection used the sidecar");

	/* 3. Images change: the generation moves, the old file is stale. */
	size_t slen;
	unsigned char *stale = slurp(side1, &slen);
	db = open_db();
	agree(db, 1, "mapped, before the change");
	mark(side1);
	exec(db, "DELETE FROM images WHERE id % 97 = 5");
	for (int i = 0; i < 30; i++) {
		grid_vec(v);
		insert(db, N1 + N2 + 100 + i, 1, v);
	}
	agree(db, 1, "after deletes and inserts, same connection");
	tap_ok(!still_marked(side1), "the change rewrote the sidecar");
	siam_db_close(db);
	tap_ok(fresh("after the change", side1), "the new one is used");

	spill(side1, stale, slen);
	tap_ok(!fresh("stale sidecar", side1), "a stale sidecar is not used");
	free(stale);

	/* 4. Truncated, corrupt header, hostile residual: rebuilt. */
	size_t full = file_size(side1);
	if (truncate(side1, (off_t)(full / 2)) != 0)
		printf("Bail out! truncate\n");
	tap_ok(!fresh("truncated sidecar", side1), "a truncated sidecar is "
	       "not used");
	tap_ok(file_size(side1) == full, "and is rebuilt whole");

	unsigned char *b = slurp(side1, &slen);
	b[32] ^= 0x40; /* n */
	spill(side1, b, slen);
	tap_ok(!fresh("corrupt n", side1), "a sidecar whose n lies is not "
	       "used");
	free(b);

	/* The header and lo carry a CRC: a change that leaves every field
	 * plausible (the last bit of scale, of lo[0], a reserved byte) is
	 * refused. */
	static const char *const what[] = {"scale", "lo[0]", "reserved"};
	int64_t n;
	b = slurp(side1, &slen);
	memcpy(&n, b + 32, 8);
	size_t resid = (128 + (size_t)n * 8 + 63) / 64 * 64;
	size_t lo = (resid + (size_t)n * 8 + 63) / 64 * 64;
	size_t at[] = {48, lo, 100};
	free(b);
	for (int i = 0; i < 3; i++) {
		b = slurp(side1, &slen);
		b[at[i]] ^= 1;
		spill(side1, b, slen);
		tap_ok(!fresh(what[i], side1), "a sidecar whose %s changed by "
		       "one bit fails its CRC and is rebuilt", what[i]);
		free(b);
	}

	/* The rows are not read on opening: residuals out of range (huge,
	 * NaN, negative) are taken at resid_max by the search, which stays
	 * exact and in bounds. */
	b = slurp(side1, &slen);
	double bad[] = {1e300, NAN, -1, INFINITY};
	for (int i = 0; i < 4; i++)
		for (int64_t r = i; r < n; r += 7)
			memcpy(b + resid + (size_t)r * 8, &bad[i], 8);
	spill(side1, b, slen);
	tap_ok(fresh("residuals out of range", side1),
	       "a sidecar with residuals out of range is used, and answers "
	       "exactly");
	b[0] = 'X';
	spill(side1, b, slen);
	tap_ok(!fresh("bad magic", side1), "a bad magic is refused");
	free(b);

	/* 5. SIAM_KNN_SIDECAR=0: none written, same answers. */
	unlink(side1);
	setenv("SIAM_KNN_SIDECAR", "0", 1);
	db = open_db();
	agree(db, 1, "SIAM_KNN_SIDECAR=0");
	tap_ok(!exists(side1), "SIAM_KNN_SIDECAR=0 writes no sidecar");
	siam_db_close(db);

	/* SIAM_KNN_SIDECAR=read (siam serve): none written, a fresh one
	 * used. */
	setenv("SIAM_KNN_SIDECAR", "read", 1);
	db = open_db();
	agree(db, 1, "SIAM_KNN_SIDECAR=read");
	tap_ok(!exists(side1), "SIAM_KNN_SIDECAR=read writes no sidecar");
	siam_db_close(db);
	unsetenv("SIAM_KNN_SIDECAR");
	db = open_db();
	agree(db, 1, "rewritten");
	siam_db_close(db);
	setenv("SIAM_KNN_SIDECAR", "read", 1);
	tap_ok(fresh("SIAM_KNN_SIDECAR=read, file there", side1),
	       "SIAM_KNN_SIDECAR=read maps a fresh sidecar");
	unsetenv("SIAM_KNN_SIDECAR");

	/* 6. A writer's uncommitted insert: the writer sees it, a reader
	 * opening meanwhile does not, and neither is misled by the
	 * sidecar the other wrote. */
	sqlite3 *w = open_db(), *r;
	exec(w, "BEGIN");
	for (int i = 0; i < 50; i++) {
		grid_vec(v);
		insert(w, N1 + N2 + 1000 + i, 1, v);
	}
	agree(w, 1, "writer, uncommitted");
	r = open_db();
	agree(r, 1, "reader during the write");
	exec(w, "ROLLBACK");
	agree(r, 1, "reader after the rollback");
	agree(w, 1, "writer after the rollback");
	siam_db_close(r);
	siam_db_close(w);
	tap_ok(fresh("after the rollback", side1), "after the rollback, the "
	       "committed state's sidecar serves");

	/* 7. The file layer alone: missing, a FIFO (no wait), a directory. */
	knn_side s;
	knn_side_tag tag = {1, 0, DIM};
	char p[200];
	snprintf(p, sizeof p, "%s/fifo", dir);
	tap_ok(knn_side_open(&s, p, &tag) < 0 && !s.map, "missing: -1");
	tap_ok(mkfifo(p, 0600) == 0 && knn_side_open(&s, p, &tag) < 0,
	       "a FIFO is refused without waiting");
	tap_ok(knn_side_open(&s, dir, &tag) < 0, "a directory is refused");
	tap_ok(knn_side_path("", 1) == NULL && knn_side_path(NULL, 1) == NULL,
	       "no sidecar for an in-memory database");

	/* 8. Temporaries: a writer killed with -9 leaves its temporary; the
	 * next writer removes it, and every other one no live writer holds
	 * (a lock), but not a live writer's, nor other names. */
	char t_dead[200], t_kill[200], t_live[200], t_keep[200], t_long[200];
	snprintf(t_dead, sizeof t_dead, "%s.Dead01", side1);
	snprintf(t_kill, sizeof t_kill, "%s.Kill02", side1);
	snprintf(t_live, sizeof t_live, "%s.Live03", side1);
	snprintf(t_keep, sizeof t_keep, "%s.keep", side1);
	snprintf(t_long, sizeof t_long, "%s.Dead01x", side1);
	spill(t_dead, "x", 1);
	spill(t_keep, "x", 1);
	spill(t_long, "x", 1);
	pid_t kid_kill = hold(t_kill), kid_live = hold(t_live);
	kill(kid_kill, SIGKILL);
	waitpid(kid_kill, NULL, 0);
	tap_ok(exists(t_kill), "a writer killed with -9 leaves its temporary");
	unlink(side1);
	db = open_db();
	agree(db, 1, "beside stale temporaries");
	siam_db_close(db);
	tap_ok(exists(side1), "the sidecar is written");
	tap_ok(!exists(t_dead) && !exists(t_kill), "the next writer removed "
	       "the temporaries no writer holds");
	tap_ok(exists(t_live), "but not a live writer's");
	tap_ok(exists(t_keep) && exists(t_long), "nor other names");
	kill(kid_live, SIGKILL);
	waitpid(kid_live, NULL, 0);
	unlink(t_live);
	unlink(t_keep);
	unlink(t_long);

	/* 9. An in-memory database answers the same, with no file. */
	sqlite3 *m = NULL;
	siam_error err = {0};
	if (siam_db_open(&m, ":memory:", SIAM_DB_CREATE, &err) == 0) {
		exec(m, "INSERT INTO models(id, name, blob, spec, embed_dim, "
		     "threshold, sha256) VALUES (1, 'a', x'', 'x', 8, 1, '')");
		exec(m, "BEGIN");
		for (int i = 0; i < N1; i++) {
			grid_vec(v);
			insert(m, i + 1, 1, v);
		}
		exec(m, "COMMIT");
		agree(m, 1, ":memory:");
		siam_db_close(m);
	} else {
		tap_ok(0, ":memory: opens: %s", err.msg);
	}

	unlink(p);
	unlink(side1);
	unlink(side2);
	unlink(dbpath);
	char aux[200];
	snprintf(aux, sizeof aux, "%s-wal", dbpath);
	unlink(aux);
	snprintf(aux, sizeof aux, "%s-shm", dbpath);
	unlink(aux);
	rmdir(dir);
	return tap_done();
}
