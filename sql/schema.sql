-- sql/schema.sql -- the siam database, schema version 3.
--
-- A siam database is an ordinary SQLite file.  It holds the model that made
-- its embeddings (so the file is self-contained), one row per indexed image
-- and model, and the files that could not be indexed.  libsiam compiles this
-- very text into itself (src/db/schema_sql.c is generated from it at build
-- time) and runs it on a new database; `sqlite3 new.db < sql/schema.sql`
-- creates the same database by hand.
--
-- Conventions
--   * Times are UTC text 'YYYY-MM-DDTHH:MM:SSZ' (ISO 8601), so they sort and
--     read as they are: datetime(indexed_at) works.
--   * An embedding is a BLOB of float32 values, little-endian, 4 bytes each,
--     no header: the format of siam_vector(), siam_distance() and sqlite-vec.
--   * Content hashes are the SHA-256 of the file's bytes as 64 lowercase hex
--     digits, exactly what `sha256sum FILE` prints.
--   * Paths and URLs are stored exactly as given, as TEXT bound through a
--     parameter: any bytes (not only UTF-8), quotes, spaces, newlines.
--
-- Versions (PRAGMA user_version; src/db/open.c migrates step by step and refuses
-- a database newer than it knows):
--   1  models, images (without phash and label) and errors.
--   2  adds images.phash, images.label, the meta table and the triggers that
--      let siam_knn notice changes to the images.
--   3  adds images.gray32.
-- PRAGMA application_id is 0x5349414D ('SIAM'), so that file(1) and siam can
-- tell a siam database from any other SQLite file.

PRAGMA application_id = 1397309773;

-- One row per model.  A model is stored once: putting an identical model
-- file again returns the existing row (same sha256 and same bytes).
CREATE TABLE models (
  id         INTEGER PRIMARY KEY,   -- referenced by images.model_id
  name       TEXT NOT NULL,         -- where it came from, e.g. 'models/mnist.siam'
  blob       BLOB NOT NULL,         -- the whole model file (siam_model_save_mem)
  spec       TEXT NOT NULL,         -- architecture spec string, canonical form
  embed_dim  INTEGER NOT NULL CHECK (embed_dim > 0),  -- floats per embedding
  threshold  REAL NOT NULL,         -- calibrated distance below which a pair matches
  sha256     TEXT NOT NULL,         -- SHA-256 of blob, 64 lowercase hex digits
  created    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX models_sha256 ON models(sha256);

-- One row per (image, model).  The same file indexed with two models has two
-- rows; queries always pick one model and never compare across models.
CREATE TABLE images (
  id           INTEGER PRIMARY KEY, -- the image_id siam_knn returns
  path         TEXT NOT NULL,       -- file path or URL, exactly as given
  is_url       INTEGER NOT NULL DEFAULT 0 CHECK (is_url IN (0, 1)),  -- 1: path is an http(s) URL
  content_hash TEXT,                -- SHA-256 of the encoded bytes (hex); exact duplicates share it
  size         INTEGER,             -- size of the encoded image in bytes
  mtime_ns     INTEGER,             -- modification time, nanoseconds since 1970 UTC; NULL for URLs
  width        INTEGER,             -- decoded width in pixels
  height       INTEGER,             -- decoded height in pixels
  model_id     INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,  -- the model of embedding
  embedding    BLOB CHECK (embedding IS NULL OR length(embedding) % 4 = 0),  -- float32 LE, models.embed_dim values; NULL: not embedded yet
  indexed_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),  -- when this row was last written
  phash        INTEGER,             -- 64-bit perceptual hash as a signed integer; NULL until computed
  label        TEXT,                -- optional class label, e.g. the sub-folder name
  -- gray32: the 32x32 luma picture the perceptual hash is computed from
  -- (Y = 0.299 R + 0.587 G + 0.114 B, area-averaged), each value rounded to
  -- the nearest integer 0..255 (halves up), row-major, one byte each; NULL
  -- until computed.  Kept so that images can be compared (one a crop of
  -- another) without decoding their files again.  The last column because
  -- version 3 added it with ALTER TABLE, which appends.
  gray32       BLOB CHECK (gray32 IS NULL OR length(gray32) = 1024),
  UNIQUE (path, model_id)
);
CREATE INDEX images_model ON images(model_id);
CREATE INDEX images_content_hash ON images(content_hash);

-- Files and URLs that could not be indexed: one row per path, the latest
-- failure.  Indexing the path successfully removes its row.
CREATE TABLE errors (
  id       INTEGER PRIMARY KEY,
  path     TEXT NOT NULL UNIQUE,    -- as given, like images.path
  code     INTEGER,                 -- the SIAM_E* code (negative), NULL if unknown
  message  TEXT NOT NULL,           -- the complete message, naming the file and the reason
  time     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- Database-wide settings and change counters.  Keys:
--   current_model  models.id of the database's model: the one siam_embed(),
--                  siam_match() and siam_knn use.  Without it, the newest.
--   images_gen     a random number replaced on every change to images, so a
--                  connection that caches the embeddings (siam_knn) knows when
--                  to reload them; random, not a counter, so that a rolled
--                  back change can never make an old value current again.
--   models_gen     the same for models (siam_embed caches the loaded model).
-- The triggers UPDATE these rows, never INSERT OR REPLACE: a trigger's
-- conflict clause gives way to the outer statement's, so under an
-- INSERT OR IGNORE into images the replace would be skipped, and under
-- INSERT OR ABORT it would fail the user's insert.  If a row is missing,
-- siam_knn reloads the embeddings on every query and siam_embed the model.
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('images_gen', 0), ('models_gen', 0);

CREATE TRIGGER images_gen_insert AFTER INSERT ON images BEGIN
  UPDATE meta SET value = random() WHERE key = 'images_gen';
END;
CREATE TRIGGER images_gen_delete AFTER DELETE ON images BEGIN
  UPDATE meta SET value = random() WHERE key = 'images_gen';
END;
CREATE TRIGGER images_gen_update AFTER UPDATE OF id, model_id, embedding ON images BEGIN
  UPDATE meta SET value = random() WHERE key = 'images_gen';
END;
CREATE TRIGGER models_gen_insert AFTER INSERT ON models BEGIN
  UPDATE meta SET value = random() WHERE key = 'models_gen';
END;
CREATE TRIGGER models_gen_delete AFTER DELETE ON models BEGIN
  UPDATE meta SET value = random() WHERE key = 'models_gen';
  DELETE FROM meta WHERE key = 'current_model' AND value = old.id;
END;
CREATE TRIGGER models_gen_update AFTER UPDATE ON models BEGIN
  UPDATE meta SET value = random() WHERE key = 'models_gen';
END;

PRAGMA user_version = 3;
