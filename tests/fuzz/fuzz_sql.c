/*
 * fuzz_sql.c -- libFuzzer target: siam's SQL functions with fuzzer-made
 * arguments, through an in-memory SQLite with siam's schema and a few
 * stored embeddings.  The input picks a call and its arguments: byte 0
 * the statement, then per argument a type byte (NULL, integer, real,
 * text, blob) and a length byte, then that many bytes.  siam_vector and
 * siam_json parse the text as JSON arrays and the blobs as float32
 * vectors; siam_knn and siam_pairs run their plans on the table.
 * siam_embed reads files (DIRECTONLY) and is left out.
 */
#include "siam.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const calls[] = {
	"SELECT siam_vector(?1)",
	"SELECT siam_json(?1)",
	"SELECT siam_distance(?1, ?2)",
	"SELECT siam_match(?1, ?2)",
	"SELECT siam_match(?1, ?2, ?3)",
	"SELECT siam_hamming(?1, ?2)",
	"SELECT image_id, distance FROM siam_knn(?1, ?2)",
	"SELECT image_id, distance FROM siam_knn WHERE query = ?1 AND k = ?2"
	" AND model_id = ?3",
	"SELECT count(*) FROM siam_pairs(?1)",
	"SELECT count(*) FROM siam_pairs(?1, ?2)",
	"SELECT siam_json(siam_vector(?1))",
	"SELECT siam_distance(siam_vector(?1), siam_json(?2))",
};
#define NCALLS (sizeof calls / sizeof *calls)

static sqlite3 *db;

static void setup(void)
{
	siam_error err = { 0, "" };
	siam_model *m = NULL;
	int64_t id;
	if (siam_db_open(&db, ":memory:", SIAM_DB_CREATE, &err) ||
	    siam_model_create(&m, "in=1x8x8 fc4 l2", &err) ||
	    siam_db_put_model(db, m, "fuzz", &id, &err))
		abort();
	for (int i = 0; i < 16; i++) {
		float e[4] = { (float)(i % 4), (float)(i / 4), 0.5f, -1.0f };
		char path[32];
		siam_db_image im;
		memset(&im, 0, sizeof im);
		snprintf(path, sizeof path, "/img/%d.png", i);
		im.path = path;
		im.size = im.mtime_ns = SIAM_DB_UNKNOWN;
		im.model_id = id;
		im.embedding = e;
		im.dim = 4;
		im.has_phash = 1;
		im.phash = (uint64_t)i * 0x9e3779b97f4a7c15ull;
		if (siam_db_put_image(db, &im, NULL, &err))
			abort();
	}
	siam_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	sqlite3_stmt *st;
	size_t p = 1;
	if (!db)
		setup();
	if (len < 1)
		return 0;
	if (sqlite3_prepare_v2(db, calls[data[0] % NCALLS], -1, &st, NULL))
		abort();
	int n = sqlite3_bind_parameter_count(st);
	for (int i = 1; i <= n && p + 2 <= len; i++) {
		int type = data[p] % 5;
		size_t l = data[p + 1];
		p += 2;
		if (l > len - p)
			l = len - p;
		const uint8_t *b = data + p;
		p += l;
		int64_t v = 0;
		double d;
		switch (type) {
		case 0: sqlite3_bind_null(st, i); break;
		case 1:
			memcpy(&v, b, l < 8 ? l : 8);
			/* small k and thresholds often, any value sometimes */
			sqlite3_bind_int64(st, i, l <= 1 ? (int64_t)(int8_t)v : v);
			break;
		case 2:
			memcpy(&d, b, l < 8 ? l : 8);
			if (l < 8)
				d = (double)(int8_t)(l ? b[0] : 0) / 16;
			sqlite3_bind_double(st, i, d);
			break;
		case 3: sqlite3_bind_text(st, i, (const char *)b, (int)l,
		                          SQLITE_TRANSIENT); break;
		default: sqlite3_bind_blob(st, i, b, (int)l, SQLITE_TRANSIENT);
		}
	}
	int steps = 0;
	while (sqlite3_step(st) == SQLITE_ROW && ++steps < 20000)
		;
	sqlite3_finalize(st);
	return 0;
}
