/*
** siam_ext.c -- the siam SQLite extension: image similarity in SQL.
**
** Load it into any SQLite 3 host:
**
**     sqlite> .load ./siam                      -- the sqlite3 shell
**     SELECT load_extension('./siam');          -- SQL, if allowed
**     conn.enable_load_extension(True)          # Python's sqlite3
**     conn.load_extension("./siam")
**
** (the entry point is sqlite3_siam_init).  The siam command registers the
** same functions on its own connections, and so does siam_db_open() for a
** program linking libsiam; 'siam sql "SELECT ..."' runs SQL with them.
**
** A vector is a BLOB of float32 values, little-endian, no header (the
** format of the images.embedding column and of sqlite-vec), or, wherever a
** BLOB is accepted, a JSON array of numbers as TEXT: '[0.5, -1, 2e-3]'.
** Every function returns NULL if an argument is NULL, and raises an SQL
** error naming itself and the problem for a malformed vector:
**
**     siam_distance: invalid float32 vector BLOB length: must be divisible
**         by 4, found 7
**     siam_distance: vectors differ in size: 64 and 32 dimensions
**     siam_vector: invalid JSON at offset 5          (byte offset, from 0)
**     siam_vector: number out of float32 range at offset 1
**     siam_vector: empty vector
**     siam_json: element 3 is NaN or infinite       (element index, from 0)
**     siam_distance: expected a float32 vector BLOB or a JSON array,
**         found an integer
**
** FUNCTIONS
**
**   siam_distance(a, b)  Euclidean distance between two vectors, REAL.
**       SELECT siam_distance('[0,0]', '[3,4]');                  -- 5.0
**
**   siam_match(a, b [, threshold])  1 if siam_distance(a, b) < threshold,
**       else 0.  Without a threshold: the calibrated threshold of the
**       database's current model (table models; an error if there is none).
**       SELECT siam_match(x.embedding, y.embedding) FROM images x, images y
**        WHERE x.id = 1 AND y.id = 2;
**
**   siam_vector(v)  the float32 BLOB of a JSON array (a BLOB is checked
**       and returned as it is).      SELECT hex(siam_vector('[1]'));
**                                                         -- 0000803F
**   siam_json(v)  the JSON text of a vector; each element in the fewest
**       digits that read back to the same float32, so
**       siam_vector(siam_json(v)) = v for every vector.
**       SELECT siam_json(embedding) FROM images WHERE id = 1;
**
**   siam_embed(image)  the embedding of an image, with the database's
**       current model: image is a file name (TEXT) or the encoded bytes of
**       a PNG, JPEG, BMP, GIF... (BLOB).  The model is loaded once per
**       connection and reloaded when the models table changes.
**       SELECT siam_embed('cat.png');
**       SELECT siam_embed(readfile('cat.png'));   -- the shell's readfile
**   siam_embed reads files, so it is SQLITE_DIRECTONLY: usable in queries
**   you type, never from a trigger or a view of a database someone sent
**   you.  The others are innocuous; all but siam_match(a, b) and
**   siam_embed are deterministic.
**
** THE siam_knn TABLE
**
**   Exact k-nearest-neighbour search over images.embedding, ordered by
**   distance (ties: lower image_id first):
**
**     SELECT image_id, distance, path FROM siam_knn
**      WHERE query = siam_embed('cat.png') AND k = 10;
**     SELECT * FROM siam_knn(siam_embed('cat.png'), 10);   -- the same
**     SELECT * FROM siam_knn(:vec, 5, 2);         -- model 2's embeddings
**     SELECT image_id FROM siam_knn WHERE query = :vec LIMIT 3;
**
**   Columns: image_id (images.id), distance (REAL), path (images.path);
**   hidden, given as constraints or as table-valued arguments in this
**   order: query (the vector; required), k (1 to 10000; a LIMIT stands in
**   when k is absent), model_id (whose embeddings; default the database's
**   current model).  A query of the wrong size is an error.  Rows whose
**   embedding is NULL are not searched.
**
**   Speed: on first use the connection reads the model's embeddings into
**   one contiguous float matrix, and from the second query on also a copy
**   coded in one byte per value (N x dim x 5 bytes in all), kept in memory
**   and read again only after the images table changed (the schema's
**   triggers replace meta.images_gen on every change).  A query is then
**   one pass over the coded copy that
**   bounds every distance, and an exact float32 ranking of the few rows
**   that can belong to the answer -- no SQL per row.  Exact, and about a
**   hundred times faster than ORDER BY siam_distance(...) LIMIT k, tens
**   of times faster than sqlite-vec (bench/bench_knn).
**
** THE siam_pairs TABLE
**
**   Every pair of images within a distance (duplicates), each pair once,
**   a < b, ordered by (a, b); a pair is listed when distance <= threshold:
**
**     SELECT a, b, distance FROM siam_pairs WHERE threshold = 0.5;
**     SELECT * FROM siam_pairs(0.5, 2);            -- model 2's embeddings
**
**   Blocked GEMM as a filter with a proven error bound, then the exact
**   float32 distance of siam_distance: the brute-force self-join's
**   answer, without N^2 SQL calls or an N x N matrix (src/pairs.c).
**   siam_hamming(h1, h2): differing bits of two 64-bit perceptual
**   hashes (images.phash).
**
** The code lives in src/sqlite/ and src/db/, compiled for this module with
** -DSIAM_SQLITE_EXTENSION: every SQLite call goes through the host's
** sqlite3_api table (db/sqlite_api.h), and siam.so links no libsqlite3.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include "internal.h"

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_siam_init(sqlite3 *db, char **pzErrMsg,
                      const sqlite3_api_routines *pApi);

int sqlite3_siam_init(sqlite3 *db, char **pzErrMsg,
                      const sqlite3_api_routines *pApi)
{
	siam_error err = {0};
	SQLITE_EXTENSION_INIT2(pApi);
	if (siam_sql_register(db, &err) < 0) {
		if (pzErrMsg)
			*pzErrMsg = sqlite3_mprintf("%s", err.msg);
		return err.code == SIAM_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
	}
	return SQLITE_OK;
}
