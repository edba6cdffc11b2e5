/*
 * fuzz_json.c -- libFuzzer target: the vector parser behind siam_vector,
 * siam_json, siam_distance and siam_knn's query (src/sqlite/vec.c) on
 * raw fuzzer text and blobs.  A vector that parses must print as JSON
 * that parses back to the same floats.
 */
#include "siam.h"

#include <sqlite3.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static sqlite3 *db;
static sqlite3_stmt *text, *blob;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (!db) {
		siam_error err = { 0, "" };
		if (sqlite3_open(":memory:", &db) ||
		    siam_sql_register(db, &err) ||
		    sqlite3_prepare_v2(db, "SELECT siam_vector(?1), "
		                       "siam_vector(siam_json(?1)), siam_json(?1)",
		                       -1, &text, NULL) ||
		    sqlite3_prepare_v2(db, "SELECT siam_json(?1)", -1, &blob,
		                       NULL))
			abort();
	}
	sqlite3_bind_text(text, 1, (const char *)data, (int)len,
	                  SQLITE_STATIC);
	if (sqlite3_step(text) == SQLITE_ROW) {
		int n0 = sqlite3_column_bytes(text, 0);
		const void *a = sqlite3_column_blob(text, 0);
		int n1 = sqlite3_column_bytes(text, 1);
		const void *b = sqlite3_column_blob(text, 1);
		/* JSON out, JSON in: the same float32 bits */
		if (n0 != n1 || (n0 && memcmp(a, b, (size_t)n0)))
			abort();
	}
	sqlite3_reset(text);
	sqlite3_bind_blob(blob, 1, data, (int)len, SQLITE_STATIC);
	sqlite3_step(blob);
	sqlite3_reset(blob);
	return 0;
}
