/*
 * test_image_paths.c -- every way an image reaches a model decodes it
 * no larger than the model needs, and gets what a full decode would
 * give within the stated bound: siam_embed() with a path and with
 * bytes, the training loader (folder: and augment: data), siam_index_run
 * (what siam index and siam dedup index with) and siam query.
 *
 * One camera-like JPEG (photo.h's scene, 2000x1500, quality 90) and the
 * shipped fashion model (1x28x28: the perceptual hash's 32x32 is the
 * larger want, so the JPEG is decoded at 1/8, 250x188).  For each path
 * two checks:
 *   - it equals the library's scaled decode (siam_image_limits_want):
 *     bit for bit, or, for an embedding computed in a batch (the
 *     indexer), within float rounding (1e-5); so the path did scale;
 *   - it is within the bound README states of a full decode's
 *     embedding: under 5% of the model's threshold.
 */
#include "tap.h"
#include "siam.h"
#include "siam_nn.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "photo.h"

#define W 2000
#define H 1500
#define DIM_MAX 256

static char dir[64];

static const char *tmp(const char *rel)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, rel);
	return buf[k];
}

static int write_file(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(d, 1, n, f) == n;
	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

/* The photo's embeddings by the library: decoded whole (ef) and decoded
 * as the model asks (es); *scaled_w is the scaled decode's width. */
static siam_model *m;
static int dim;
static float ef[DIM_MAX], es[DIM_MAX];
static float *in_s; /* the network input of the scaled decode */
static unsigned char *jpg;
static size_t jlen;

static int reference(int *scaled_w)
{
	siam_image_limits lim;
	siam_image a = { 0 }, b = { 0 };
	siam_error err = { 0, "" };
	int rc = -1;
	siam_image_limits_default(&lim);
	if (siam_image_decode(&a, jpg, jlen, "full", &lim, &err))
		goto out;
	siam_image_limits_want(&lim, &m->pre);
	if (siam_image_decode(&b, jpg, jlen, "scaled", &lim, &err))
		goto out;
	*scaled_w = b.w;
	in_s = malloc((size_t)m->pre.c * m->pre.h * m->pre.w * sizeof *in_s);
	if (!in_s || siam_preprocess(in_s, &b, &m->pre, &err) ||
	    siam_model_embed_image(m, &a, ef, &err) ||
	    siam_model_embed_image(m, &b, es, &err))
		goto out;
	rc = 0;
out:
	if (rc)
		tap_diag("reference: %s", err.msg);
	siam_image_release(&a);
	siam_image_release(&b);
	return rc;
}

/* Both checks for an embedding e that path computed; tol 0 asks for
 * bit equality with the scaled decode's. */
static void check(const char *path, const float *e, double tol)
{
	double ds = l2(e, es, dim), df = l2(e, ef, dim);
	if (tol == 0)
		tap_ok(!memcmp(e, es, (size_t)dim * sizeof *e),
		       "%s: the scaled decode's embedding, bit for bit", path);
	else
		tap_ok(ds <= tol, "%s: the scaled decode's embedding within "
		       "%.0e (%.2e)", path, tol, ds);
	tap_ok(df < 0.05 * m->threshold, "%s: %.5f from the full decode's, "
	       "under 5%% of the threshold %.4f", path, df,
	       (double)m->threshold);
}

static void test_sql(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	const char *path = tmp("tree/photo.jpg");
	int rc = sqlite3_prepare_v2(db, "SELECT siam_embed(?1), siam_embed(?2)",
	                            -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, jpg, (int)jlen, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	int good = rc == SQLITE_ROW &&
	           sqlite3_column_bytes(st, 0) == dim * 4 &&
	           sqlite3_column_bytes(st, 1) == dim * 4;
	tap_ok(good, "siam_embed(path), siam_embed(bytes): %s",
	       good ? "two embeddings" : sqlite3_errmsg(db));
	if (good) {
		float e[DIM_MAX];
		memcpy(e, sqlite3_column_blob(st, 0), (size_t)dim * 4);
		check("siam_embed(path)", e, 0);
		memcpy(e, sqlite3_column_blob(st, 1), (size_t)dim * 4);
		check("siam_embed(bytes)", e, 0);
	}
	sqlite3_finalize(st);
}

static void test_loader(void)
{
	static const char *const specs[] = { "folder:%s/tree", "augment:%s/tree/a" };
	size_t n = (size_t)m->pre.c * m->pre.h * m->pre.w;
	float *x = malloc(n * sizeof *x);
	for (int k = 0; k < 2; k++) {
		char spec[128];
		siam_data *d = NULL;
		siam_error err = { 0, "" };
		snprintf(spec, sizeof spec, specs[k], dir);
		int rc = siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &m->pre,
		                        &err);
		tap_ok(rc == 0 && d->n == 1, "%s opens with one image: %s",
		       spec, rc ? err.msg : "ok");
		if (rc || d->n != 1) {
			siam_data_free(d);
			continue;
		}
		rc = d->load(d, 0, x, &err);
		tap_ok(rc == 0 && !memcmp(x, in_s, n * sizeof *x),
		       "%s: the input of the scaled decode, bit for bit",
		       spec);
		float e[DIM_MAX];
		if (!siam_net_embed_views(m->net, x, 1, m->views, e, &err))
			check(spec, e, 0);
		else
			tap_ok(0, "%s: embed: %s", spec, err.msg);
		siam_data_free(d);
	}
	free(x);
}

/* siam_index_run, which siam index and siam dedup call; then siam query
 * of a copy with other bytes (the stored embedding is not reused). */
static void test_index_query(sqlite3 *db, int64_t model_id)
{
	siam_error err = { 0, "" };
	siam_index_status st;
	const char *root = tmp("tree");
	int rc = siam_index_run(db, m, model_id, &root, 1, NULL, 0, NULL, &st,
	                        &err);
	tap_ok(rc == 0 && st.indexed == 1, "siam_index_run: %ld indexed%s%s",
	       (long)st.indexed, rc ? ": " : "", rc ? err.msg : "");
	char hex[65];
	float e[DIM_MAX];
	int found = 0;
	siam_sha256_hex(hex, jpg, jlen);
	rc = siam_db_find_embedding(db, hex, model_id, e, dim, &found, &err);
	tap_ok(rc == 0 && found, "the indexed embedding is stored");
	if (found)
		check("siam_index_run", e, 1e-5);

	/* The copy: one byte after the end-of-image marker, which decoders
	 * ignore; its hash is not in the database. */
	const char *copy = tmp("copy.jpg");
	unsigned char *c2 = malloc(jlen + 1);
	memcpy(c2, jpg, jlen);
	c2[jlen] = 0;
	rc = write_file(copy, c2, jlen + 1);
	free(c2);
	const char *b = getenv("SIAM_BUILDDIR");
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s/siam' query --db '%s' --json -k 1 '%s'",
	         b ? b : ".", tmp("db.sqlite"), copy);
	FILE *p = rc ? NULL : popen(cmd, "r");
	char out[4096] = "";
	size_t got = p ? fread(out, 1, sizeof out - 1, p) : 0;
	out[got] = 0;
	int status = p ? pclose(p) : -1;
	const char *s = strstr(out, "\"distance\":");
	double dq = s ? strtod(s + 11, NULL) : -1;
	tap_ok(status == 0 && s, "siam query of a copy: %s", s ? "a hit" : out);
	/* The copy decodes to the same pixels: its query embedding is
	 * the scaled decode's, the stored one within rounding of it. */
	double ds = l2(e, es, dim), df = l2(e, ef, dim);
	tap_ok(s && dq <= ds + 1e-5,
	       "siam query: distance %.2e to the stored embedding, as the "
	       "scaled decode's (%.2e), not the full decode's (%.2e)", dq, ds,
	       df);
	tap_ok(s && df > 10 * (ds + 1e-5),
	       "this photo tells them apart: full vs scaled %.2e", df);
	tap_ok(s && dq < 0.05 * m->threshold,
	       "siam query: under 5%% of the threshold");
}

int main(void)
{
	siam_error err = { 0, "" };
	sqlite3 *db = NULL;
	int64_t id = 0;
	int sw = 0;

	snprintf(dir, sizeof dir, "/tmp/siam-paths-XXXXXX");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	m = load_model("fashion.siam");
	if (!m) {
		printf("Bail out! no fashion model\n");
		return 1;
	}
	dim = siam_net_embed_dim(m->net);
	unsigned char *px = scene(W, H, 7);
	jpg = jpeg_encode(px, W, H, 3, 90, 0, 1, &jlen);
	free(px);
	mkdir(tmp("tree"), 0755);
	mkdir(tmp("tree/a"), 0755);
	int rc = dim <= DIM_MAX && reference(&sw) == 0 &&
	         write_file(tmp("tree/photo.jpg"), jpg, jlen) == 0 &&
	         write_file(tmp("tree/a/photo.jpg"), jpg, jlen) == 0;
	tap_ok(rc && sw == W / 8, "a %dx%d JPEG the model decodes %d wide",
	       W, H, sw);
	if (!rc)
		return tap_done();
	/* The loader's folder: wants DIR/CLASS/IMAGE: tree/a is the class,
	 * tree/photo.jpg beside it is left out; augment: takes tree/a. */
	test_loader();

	if (siam_db_open(&db, tmp("db.sqlite"), SIAM_DB_CREATE, &err) ||
	    siam_db_put_model(db, m, "fashion", &id, &err) ||
	    siam_db_set_current_model(db, id, &err)) {
		printf("Bail out! database: %s\n", err.msg);
		return 1;
	}
	test_sql(db);
	unlink(tmp("tree/a/photo.jpg"));
	rmdir(tmp("tree/a"));
	test_index_query(db, id);
	siam_db_close(db);

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", dir);
	siam_model_free(m);
	free(jpg);
	free(in_s);
	return tap_done();
}
