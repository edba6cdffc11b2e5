/*
 * siam.h -- the application API of libsiam: for programs that use trained
 * models to compare images and keep them in a database.
 *
 * libsiam is a Siamese convolutional network in plain C.  This header is
 * what an application needs: image decoding and the preprocessing that
 * turns any picture into the network's input, fetching images by URL, a
 * model (load, save, embed an image, its threshold), the database of
 * embeddings and its SQL functions, and the indexer behind `siam index`.
 * Programs that build, train or evaluate networks also include
 * <siam_nn.h>, the network and training API (layers, losses, Adam,
 * samplers, metrics, the training loop).
 *
 * Conventions (they hold for every function below and in siam_nn.h unless
 * it says otherwise):
 *   - Functions that can fail return 0 on success and a negative SIAM_E*
 *     code on failure, and fill *err (which may be NULL) with a message a
 *     program can show as it is, naming the input at fault.
 *   - Library code never prints and never exits.
 *   - xxx_free(NULL) is a no-op.  Whoever receives an object from a
 *     function named *_create, *_load or *_decode owns it and frees it.
 *   - Tensors are float32, row-major, batch first: (B,C,H,W).
 */
#ifndef SIAM_H
#define SIAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIAM_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Errors                                                              */

enum {
	SIAM_OK = 0,
	SIAM_EINVAL = -1,   /* bad argument, bad spec, bad option        */
	SIAM_ENOMEM = -2,   /* allocation failed                         */
	SIAM_EIO = -3,      /* cannot open, read or write a file         */
	SIAM_EFORMAT = -4,  /* data is not what it claims: corrupt file   */
	SIAM_ETOOBIG = -5,  /* input exceeds a configured limit          */
	SIAM_ENET = -6,     /* network fetch failed                      */
	SIAM_EDB = -7,      /* database error                            */
	SIAM_EINTR = -8,    /* interrupted by the user                   */
	SIAM_EDIVERGED = -9 /* training diverged: the loss is not finite */
};

#define SIAM_ERR_MAX 512
typedef struct siam_error {
	int code;
	char msg[SIAM_ERR_MAX];
} siam_error;

/* Fills err (if not NULL) with a printf-style message and returns code,
 * so that a failing function can say `return siam_errorf(err, ...)`. */
int siam_errorf(siam_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Threads and process-wide state                                      */

/*
 * libsiam keeps its state in the objects it hands out, with two
 * exceptions, both process-wide:
 *   - OpenBLAS's own thread count.  The first call that needs BLAS
 *     (an embedding, a training step, siam_sgemm, siam_set_threads)
 *     sets it to one thread for the whole process, once, and nothing
 *     changes it afterwards.  libsiam runs its parallel work on its
 *     own threads instead (one pool per net workspace, per index run,
 *     per folder opened), so no GEMM's result depends on a thread
 *     count.  A program that calls OpenBLAS itself gets one thread
 *     from then on.
 *   - The thread count of siam_set_threads (below).
 *
 * Sharing objects between threads:
 *   - A model (its siam_net) may be used by any number of threads at
 *     once to embed: siam_model_embed_image, siam_net_embed and
 *     siam_net_embed_views take a workspace of their own from the net
 *     (kept for the next call; freed with the net) and only read the
 *     parameters.  Not while any thread changes the model (training,
 *     siam_net_init, writing through siam_net_params).
 *   - siam_net_forward and siam_net_backward use the net's one
 *     training workspace and return pointers into it: one thread at a
 *     time per net, as the training loop and siam_trainer_* do.
 *   - A siam_data's load may be called from several threads at once.
 *   - Any other object (a database handle, a trainer) belongs to one
 *     thread at a time.
 *
 * Determinism: the embedding of an image is the same bits whatever the
 * thread count, however many threads embed at once, and whatever batch
 * (and position in it) it is embedded in; a training run is the same
 * for the same seed and thread count.
 */

/* Threads each net uses for its conv layers (and its fc layers'
 * backward), the caller's included; n <= 0 leaves the count as it is.
 * Default: OPENBLAS_NUM_THREADS, else the number of cores, as read at
 * the first call that needs BLAS.  Process-wide; may be called at any
 * time from any thread: each net reads it at its next batch. */
void siam_set_threads(int n);

/* ------------------------------------------------------------------ */
/* Self-test (src/selftest.c)                                          */

/* One result of siam_selftest: a check, or (detail = 1, only with
 * SIAM_SELFTEST_DETAIL) a line about the check under way. */
typedef struct siam_selftest_check {
	int ok;              /* 1: the check passed */
	const char *what;    /* what was checked; valid during the callback */
	const char *measure; /* what value is: "max err", "error/tolerance" */
	double value;        /* the largest error found */
	int detail;          /* 1: not a check, what is a line of detail */
} siam_selftest_check;
typedef void (*siam_selftest_callback)(void *arg,
                                       const siam_selftest_check *c);
#define SIAM_SELFTEST_DETAIL 1 /* also report each gradient compared */

/* Checks the network core on this machine: every fast kernel (the BLAS
 * GEMM, the im2col convolution, ...) against its naive reference on
 * small random tensors, and the gradients of a Siamese step through
 * SIAM_DEFAULT_ARCH against central finite differences; well under a
 * second.  Each result goes to cb (may be NULL).  Returns the number of
 * failed checks (0: all passed), or SIAM_ENOMEM. */
int siam_selftest(int flags, siam_selftest_callback cb, void *arg,
                  siam_error *err);

/* ------------------------------------------------------------------ */
/* Images and preprocessing                                            */

typedef struct siam_image {
	int w, h, c;       /* c = 1 (gray) or 3 (RGB); alpha is composited */
	unsigned char *px; /* h rows of w*c bytes; owned */
	int full_w, full_h; /* the picture's size as stored (upright); w, h
	                     * are smaller when the decoder scaled it down
	                     * because limits asked for less (want_w/h) */
} siam_image;

typedef struct siam_image_limits {
	long long max_pixels; /* refuse larger images before decoding */
	size_t max_bytes;     /* refuse larger encoded inputs */
	int want_w, want_h;   /* 0: decode full size.  Else the caller needs
	                       * no more than this many pixels a side: a JPEG
	                       * is decoded at the smallest DCT scale M/8
	                       * that still gives at least want_w x want_h
	                       * (never less; a smaller picture stays whole) */
} siam_image_limits;

#define SIAM_DEFAULT_MAX_PIXELS (64LL * 1000 * 1000)
#define SIAM_DEFAULT_MAX_BYTES ((size_t)256 << 20)

/* Defaults: 64 Mpx, 256 MB, full-size decoding (want 0 x 0). */
void siam_image_limits_default(siam_image_limits *lim);
/* Sets lim->want_w/h to what a model with preprocessing pre needs,
 * with the perceptual hash (32x32): its input size, or for a digit
 * model (which crops to the ink) 1000 pixels a side. */
struct siam_preproc;
void siam_image_limits_want(siam_image_limits *lim,
                            const struct siam_preproc *pre);

/* Decodes from memory, recognising the format by content: JPEG
 * (libjpeg-turbo, DCT-scaled when lim asks for less), PNG, GIF (first
 * frame), BMP, TGA, PNM, PSD, HDR, PIC (stb_image), WebP (first frame),
 * TIFF (first page), HEIC and AVIF (when built with libheif).  The EXIF
 * orientation (JPEG, WebP) or TIFF's own is applied: px is upright.
 * name is used in messages only.  lim may be NULL (defaults).
 * Errors: SIAM_EFORMAT (not an image, truncated, corrupt, a format not
 * built in), SIAM_ETOOBIG (checked before any pixel is allocated). */
int siam_image_decode(siam_image *out, const void *data, size_t len,
                      const char *name, const siam_image_limits *lim,
                      siam_error *err);
/* Reads a whole file (or "-" for standard input) and decodes it.
 * Refuses FIFOs, devices and directories with SIAM_EIO. */
int siam_image_load(siam_image *out, const char *path,
                    const siam_image_limits *lim, siam_error *err);
/* The formats this build decodes, one line of text (static storage),
 * e.g. for `siam info`. */
const char *siam_image_formats(void);
void siam_image_release(siam_image *img); /* frees px, zeroes *img */

/* How a model turns an image into its input tensor.  Part of the model
 * file: a model always preprocesses the way it was trained. */
typedef struct siam_preproc {
	int c, h, w;     /* network input shape */
	int digit;       /* 1: MNIST convention (see siam_preprocess) */
	float mean, std; /* input = (pixel/255 - mean) / std */
} siam_preproc;

void siam_preproc_default(siam_preproc *pre, int c, int h, int w);

/* Writes pre->c*h*w floats to out.
 *   digit = 0: convert channels, resize with area averaging, normalise.
 *   digit = 1: the MNIST convention: grayscale; invert if the ink is
 *     dark on light; crop to the ink's bounding box; scale to fit 20x20
 *     keeping the aspect ratio (area averaging); paste into 28x28 (or
 *     h x w scaled alike) centred by centre of mass; normalise.
 * Errors: SIAM_EINVAL on an empty image. */
int siam_preprocess(float *out, const siam_image *img,
                    const siam_preproc *pre, siam_error *err);

/* Area-averaging resize of 8-bit images with c channels (any scale). */
void siam_resize_area(float *dst, int dw, int dh, const float *src, int sw,
                      int sh, int c);

/* ------------------------------------------------------------------ */
/* Fetching images by URL (libcurl): http and https only, also after   */
/* redirects; TLS verification on.                                     */

typedef struct siam_fetch_opts {
	long connect_timeout_ms; /* default 10000 */
	long timeout_ms;         /* whole transfer; default 60000 */
	size_t max_bytes;        /* abort beyond this; default 64 MiB */
	long max_redirects;      /* default 5 */
} siam_fetch_opts;

void siam_fetch_opts_default(siam_fetch_opts *o);
/* 1 if s looks like a URL (has a scheme "xxx://"), else 0. */
int siam_is_url(const char *s);
/* Fetches url into *data (malloc'ed, caller frees), *len bytes.
 * Errors (SIAM_ENET, SIAM_ETOOBIG, SIAM_EINVAL for a refused scheme)
 * name the URL and the reason: HTTP status, timeout, too large... */
int siam_fetch(const char *url, const siam_fetch_opts *o, void **data,
               size_t *len, siam_error *err);
/* Loads an image from a path, "-" (standard input) or an http(s) URL. */
int siam_image_load_any(siam_image *out, const char *what,
                        const siam_image_limits *lim,
                        const siam_fetch_opts *fo, siam_error *err);

/* ------------------------------------------------------------------ */
/* Models: a network plus everything needed to use it                  */

typedef struct siam_net siam_net; /* opaque; the network API is in siam_nn.h */

typedef struct siam_model {
	siam_net *net;     /* owned */
	siam_preproc pre;
	float threshold;   /* distance below which a pair is "same" */
	float margin;      /* the margin it was trained with */
	int views;         /* embed as the mean of this many views (1, 5, 9;
	                    * see siam_net_embed_views); 1 when created */
	char *meta;        /* training metadata as JSON text; owned, may be NULL */
} siam_model;

/* Creates a model around a fresh net built from spec (the grammar and
 * SIAM_DEFAULT_ARCH are in siam_nn.h). */
int siam_model_create(siam_model **out, const char *spec, siam_error *err);
void siam_model_free(siam_model *m);

/* File format (little-endian):
 *   "SIAMMODL" magic, u32 version, u32 header length, header text
 *   (key=value lines: spec, embed, c/h/w, digit, mean, std, threshold,
 *   margin, and views when it is not 1), u32 meta length, meta JSON,
 *   u64 param count, float32 params, u32 CRC-32 of everything before
 *   it.
 * siam_model_save replaces path whole or not at all (PATH.tmp, fsync,
 * rename).  siam_model_load reads only a regular file: a FIFO, device
 * or directory is SIAM_EIO at once, without blocking. */
int siam_model_save(const siam_model *m, const char *path, siam_error *err);
int siam_model_load(siam_model **out, const char *path, siam_error *err);
/* The same, to and from memory (the database stores the model blob).
 * *buf is malloc'ed; the caller frees it. */
int siam_model_save_mem(const siam_model *m, void **buf, size_t *len,
                        siam_error *err);
int siam_model_load_mem(siam_model **out, const void *buf, size_t len,
                        const char *name, siam_error *err);

/* Preprocess and embed one image (over m->views views): out has
 * embed_dim floats. */
int siam_model_embed_image(siam_model *m, const siam_image *img, float *out,
                           siam_error *err);

/* CRC-32 (IEEE), as zlib computes it. */
uint32_t siam_crc32(uint32_t crc, const void *data, size_t len);

/* Euclidean distance between two D-vectors: compare embeddings. */
float siam_l2_distance(const float *a, const float *b, int D);

/* The length of m's embeddings: the floats siam_model_embed_image
 * writes (0 if m is NULL). */
int siam_model_embed_dim(const siam_model *m);

/* Are images a and b the same thing?  Verification in one call, as
 * `siam verify` does it: each image is a path, "-" for standard input
 * (one of the two at most) or an http(s) URL, loaded as
 * siam_image_load_any does with the default limits and fetch options,
 * and embedded as siam_model_embed_image does (the model's
 * preprocessing and views); *distance (may be NULL) receives the
 * Euclidean distance of the two embeddings, *same (may be NULL) 1 if it
 * is below m->threshold and 0 if not.  The distance has the same bits
 * as those calls give.  Errors name the image at fault.  What holds for
 * siam_model_embed_image from several threads holds for this. */
int siam_verify(siam_model *m, const char *a, const char *b,
                float *distance, int *same, siam_error *err);

/* ------------------------------------------------------------------ */
/* Indexing (src/index/): the folder walk, the hashes kept for every   */
/* image, and the pipeline behind `siam index`.                        */

/* SHA-256 (FIPS 180-4) of len bytes: the images' content hash.  The hex
 * form (64 lowercase digits, NUL-terminated) is what `sha256sum`
 * prints and what the database stores. */
void siam_sha256(unsigned char out[32], const void *data, size_t len);
void siam_sha256_hex(char out[65], const void *data, size_t len);

/* 64-bit perceptual hash (DCT "pHash", as imagehash's phash()): gray,
 * area-resize to 32x32, 2-D DCT-II, the 8x8 lowest frequencies, bit
 * 8u+v (most significant first) set when coefficient (u,v) exceeds
 * their median.  Near-identical pictures differ in a few bits.
 * SIAM_EINVAL on an empty image, SIAM_ENOMEM. */
int siam_phash(uint64_t *out, const siam_image *img, siam_error *err);
/* Number of differing bits. */
int siam_hamming64(uint64_t a, uint64_t b);

/* 1 if the first n bytes of a file (n >= 64 advised, the whole file if
 * shorter) start like an image siam_image_decode knows: JPEG, PNG,
 * GIF, BMP, WebP, TIFF, HEIF/AVIF (even when built without libheif:
 * decoding then says so), PSD, PIC, PNM, HDR or TGA.  Decided by
 * content, never by name, with the table the decoder dispatches on; a
 * file that passes may still fail to decode (truncated, corrupt). */
int siam_sniff_image(const void *head, size_t n);

/* The walk: every root, recursively, depth first, names in byte order.
 * Symbolic links are followed; a directory reached twice (a link loop)
 * is skipped; FIFOs, devices and sockets are skipped without being
 * opened.  Paths are the root as given joined with the names read, byte
 * for byte. */
enum {
	SIAM_WALK_FILE = 0,    /* a regular file (size, mtime_ns are set) */
	SIAM_WALK_SKIPPED = 1, /* not a file to index; msg says why */
	SIAM_WALK_ERROR = 2    /* cannot be read or followed; msg says why */
};
typedef struct siam_walk_entry {
	const char *path;  /* valid during the callback only */
	int kind;          /* SIAM_WALK_* */
	int64_t size;      /* bytes */
	int64_t mtime_ns;  /* modification time, ns since 1970 UTC */
	const char *msg;   /* SKIPPED and ERROR: the reason, without the path */
	int depth;         /* 0 for a root, 1 for an entry of a root, ... */
} siam_walk_entry;
/* Returns non-zero to stop the walk. */
typedef int (*siam_walk_cb)(void *arg, const siam_walk_entry *e);
/* Problems with single entries go to the callback, not to the return
 * value: returns 0, SIAM_EINTR when the callback stopped it, or
 * SIAM_ENOMEM. */
int siam_walk(const char *const *roots, int nroots, siam_walk_cb cb,
              void *arg, siam_error *err);

/* The indexer: walks roots and fetches urls, embeds every image that
 * is new or changed with model m (stored as model_id in db) and stores
 * it (see sql/schema.sql).  A file with the stored size and mtime is
 * "unchanged" and is not even opened; one whose bytes hash as stored is
 * "touched" (its row updated, not decoded); an http(s) URL stored with
 * this model is not fetched again.  What is an image is decided by
 * content; other files are counted in not_images.  Unreadable or
 * undecodable files and failed URLs are recorded in the errors table
 * and counted; the run goes on.  The label of a file in a sub-folder of
 * a root is the name of the folder holding it.  Rows are written in
 * transactions of one batch, at least every commit_seconds. */
struct sqlite3; /* from <sqlite3.h> */

typedef struct siam_index_status {
	long found;       /* files (and URLs) to consider so far */
	long done;        /* of them, dealt with */
	/* indexed, touched, errors and pruned count committed rows only:
	 * a transaction that failed to commit (a full disk) adds nothing. */
	long indexed;     /* embedded and stored */
	long unchanged;   /* skipped: same size and mtime (URL: stored) */
	long touched;     /* same content, new mtime: row updated only */
	long not_images;  /* files whose content is not an image */
	long skipped;     /* FIFOs, devices, sockets, directories seen twice */
	long errors;      /* recorded in the errors table */
	long pruned;      /* rows deleted by prune */
	int walking;      /* 1 while still walking (found still grows) */
	double seconds;   /* since the start */
	/* Where the time went, in seconds summed over threads (decoding
	 * runs on several, so these may add up to more than seconds):
	 * reading files (and their SHA-256), decoding, resizing (the
	 * perceptual hash and the model's preprocessing), embedding, and
	 * writing rows and committing. */
	double read_s, decode_s, resize_s, embed_s, write_s;
} siam_index_status;
/* Called from the calling thread, at most ~20 times a second, after
 * every commit and at the end of each phase; returns non-zero to stop:
 * the run commits what is done and returns SIAM_EINTR. */
typedef int (*siam_index_callback)(void *arg, const siam_index_status *st);

typedef struct siam_index_opts {
	int threads;           /* decoding threads; default: CPUs online */
	int batch;             /* images per embedding batch; default 128 */
	double commit_seconds; /* commit at least this often; default 1 */
	int prune;             /* 1: delete rows (any model) and errors of
	                        * files under the roots that are gone */
	siam_image_limits limits;
	siam_fetch_opts fetch;
	siam_index_callback progress; /* may be NULL */
	void *progress_arg;
	/* NULL: files are read, decoded and embedded here, by threads.
	 * Else by whoever the farm hands them to (siam's MPI ranks, with
	 * siam_index_process): the walk, the decisions and every write
	 * stay here, so the database is the one a local run writes. */
	const struct siam_index_farm *farm;
} siam_index_opts;

/* One file (or URL) to read, decode and embed, and what came of it:
 * what siam_index_run does to each file besides writing it. */
typedef struct siam_index_item {
	const char *path;
	int is_url;
	/* The content hash of the stored row when it has an embedding for
	 * this model, else NULL: the same bytes are "touched" (their
	 * embedding holds), not decoded again. */
	const char *stored_hash;
} siam_index_item;

enum {
	SIAM_INDEX_EMBEDDED = 0, /* decoded and embedded */
	SIAM_INDEX_TOUCHED = 1,  /* same bytes as stored: nothing to redo */
	SIAM_INDEX_NOT_IMAGE = 2,
	SIAM_INDEX_ERROR = 3     /* code and msg say what */
};

typedef struct siam_index_result {
	int kind;               /* SIAM_INDEX_* */
	int code;               /* SIAM_INDEX_ERROR: the SIAM_E* code */
	char msg[SIAM_ERR_MAX]; /* SIAM_INDEX_ERROR: naming the file */
	char hash[65];          /* SHA-256 of the bytes, hex (not for
	                         * NOT_IMAGE) */
	int64_t size;           /* bytes */
	int width, height;      /* EMBEDDED: the image's full size */
	uint64_t phash;         /* EMBEDDED: the perceptual hash */
	double read_s, decode_s, resize_s; /* seconds spent */
	/* EMBEDDED: siam_model_embed_dim floats.  Owned by whoever filled
	 * the result (see siam_index_process, siam_index_farm). */
	const float *embedding;
	/* EMBEDDED: the 32x32 grey picture phash is computed from, a byte
	 * a pixel, row-major (images.gray32 of sql/schema.sql), when
	 * has_gray32; without it the row's gray32 stays NULL. */
	int has_gray32;
	unsigned char gray32[1024];
} siam_index_result;

/* Where siam_index_run sends its files when opts->farm is set.  start
 * gets every item once the walk is done, in walk order (the items and
 * their strings stay valid until siam_index_run returns); next gives
 * the result of the next item in that same order, waiting at most
 * wait_s seconds: 0 with *r filled (r->embedding valid until the next
 * call), 1 when nothing came in time (siam_index_run commits what it
 * holds and asks again), or a SIAM_E* code with err set (the run stops;
 * what was committed stays).  embed_s: seconds the farm spent
 * embedding, for siam_index_status. */
typedef struct siam_index_farm {
	void *arg;
	int (*start)(void *arg, const siam_index_item *items, size_t n,
	             siam_error *err);
	int (*next)(void *arg, double wait_s, siam_index_result *r,
	            double *embed_s, siam_error *err);
} siam_index_farm;

/* Reads, decodes and embeds n items as siam_index_run would, on
 * opts->threads threads, the embeddings in one batch: out[i] for
 * items[i], out[i].embedding pointing into emb (n * embed_dim floats,
 * the caller's).  A file's failure is its result (SIAM_INDEX_ERROR);
 * returns 0, or SIAM_ENOMEM / a network error with err set.  *embed_s
 * gets the seconds spent embedding. */
int siam_index_process(siam_model *m, const siam_index_opts *opts,
                       const siam_index_item *items, size_t n,
                       siam_index_result *out, float *emb,
                       double *embed_s, siam_error *err);

void siam_index_opts_default(siam_index_opts *o);
/* st receives the counts (also on failure).  Returns 0 when the run
 * completed, even with per-file errors (st->errors); SIAM_EINTR when the
 * callback stopped it (committed work is kept); SIAM_EDB, SIAM_ENOMEM on
 * a failure that ends the run (the open transaction is rolled back).
 * opts may be NULL for the defaults. */
int siam_index_run(struct sqlite3 *db, siam_model *m, int64_t model_id,
                   const char *const *roots, int nroots,
                   const char *const *urls, int nurls,
                   const siam_index_opts *opts, siam_index_status *st,
                   siam_error *err);

/* ------------------------------------------------------------------ */
/* Database (src/db/) and the SQL interface (src/sqlite/sql.c)         */
/*                                                                     */
/* A siam database is a SQLite file: the model blob, one row per       */
/* image and model with its embedding, and the files that failed.      */
/* sql/schema.sql documents every column; siam-sql(7) the SQL.         */
/* The functions below take the sqlite3 handle itself, so a caller     */
/* mixes them with SQL of its own (include <sqlite3.h> for that):      */
/*                                                                     */
/*   sqlite3 *db;                                                      */
/*   if (siam_db_open(&db, "siam.db", SIAM_DB_CREATE, &err) < 0) ...   */
/*   "SELECT image_id, distance, path FROM siam_knn(?1, ?2)"           */
/*   siam_db_close(db);                                                */
/*                                                                     */
/* Embeddings are float32 little-endian BLOBs without a header.        */

struct sqlite3; /* from <sqlite3.h> */

#define SIAM_DB_VERSION 3                 /* PRAGMA user_version */
#define SIAM_DB_APPLICATION_ID 0x5349414d /* PRAGMA application_id: 'SIAM' */
#define SIAM_DB_BUSY_MS 10000             /* busy timeout of siam_db_open */
#define SIAM_KNN_MAX_K 10000              /* siam_knn refuses larger k */

enum {
	SIAM_DB_CREATE = 1,  /* create the file if it does not exist */
	SIAM_DB_READONLY = 2, /* read-only: never creates nor migrates */
	SIAM_DB_BEGIN = 4    /* return inside a write transaction (below) */
};

/* Opens the database at path (":memory:" works) and makes it ready:
 * WAL journal, synchronous=NORMAL, foreign keys on, a busy timeout of
 * SIAM_DB_BUSY_MS, the schema applied to a new empty database or an
 * older one migrated step by step (in one transaction), and the SQL
 * functions and siam_knn registered (siam_sql_register).  Refuses, without
 * changing the file: a database newer than SIAM_DB_VERSION, an SQLite
 * file that is not a siam database (SIAM_EFORMAT), and with
 * SIAM_DB_READONLY one that would need creating or migrating; a path
 * that is a directory, a FIFO or a device (SIAM_EIO, saying which).
 * SIAM_DB_BEGIN: returns with a write transaction open (BEGIN
 * IMMEDIATE, waiting up to the busy timeout for another writer), a new
 * database's schema created inside it; the caller writes its first rows
 * and commits (siam_db_exec(db, "COMMIT", ...)), so that other
 * connections see the schema together with those rows or not at all
 * (siam index stores its model so).  On failure *out is NULL; on
 * success the caller closes it with siam_db_close(), which rolls back
 * a transaction still open. */
int siam_db_open(struct sqlite3 **out, const char *path, int flags,
                 siam_error *err);
/* sqlite3_close_v2; NULL is a no-op. */
void siam_db_close(struct sqlite3 *db);
/* Runs SQL without results (sqlite3_exec) with the message in err. */
int siam_db_exec(struct sqlite3 *db, const char *sql, siam_error *err);

/* Registers siam_distance, siam_vector, siam_json, siam_match, siam_embed
 * and the siam_knn virtual table on db: the code the loadable extension
 * (siam.so, entry point sqlite3_siam_init) runs, built into libsiam so
 * that programs linking it need not load the module.  siam_db_open calls
 * it; call it yourself on a connection you opened with sqlite3_open. */
int siam_sql_register(struct sqlite3 *db, siam_error *err);

/* Stores m (its siam_model_save_mem blob, spec, embed_dim, threshold,
 * sha256) in the models table under name (NULL: "").  If the identical
 * blob is already stored, nothing is written and *id is that row's id.
 * Does not change the current model. */
int siam_db_put_model(struct sqlite3 *db, const siam_model *m,
                      const char *name, int64_t *id, siam_error *err);
/* Loads model id (0: the current model) into *out, which the caller
 * frees with siam_model_free; *loaded_id (may be NULL) receives its id.
 * SIAM_EINVAL if there is no such model. */
int siam_db_load_model(struct sqlite3 *db, int64_t id, siam_model **out,
                       int64_t *loaded_id, siam_error *err);
/* The database's current model: meta.current_model if it names a model,
 * else the newest model; *id = 0 if the database has none.  The SQL
 * functions and siam_knn use the same rule. */
int siam_db_current_model(struct sqlite3 *db, int64_t *id, siam_error *err);
int siam_db_set_current_model(struct sqlite3 *db, int64_t id,
                              siam_error *err);

#define SIAM_DB_UNKNOWN INT64_MIN /* a size or time that is not known */

/* One row of the images table, for siam_db_put_image. */
typedef struct siam_db_image {
	const char *path;         /* file path or URL, stored exactly */
	int is_url;
	const char *content_hash; /* siam_sha256_hex of the bytes, or NULL */
	int64_t size;             /* bytes, or SIAM_DB_UNKNOWN */
	int64_t mtime_ns;         /* ns since 1970 UTC, or SIAM_DB_UNKNOWN */
	int width, height;        /* decoded size; 0 = unknown */
	int64_t model_id;         /* the model that made embedding */
	const float *embedding;   /* dim floats, or NULL (see below) */
	int dim;                  /* must equal the model's embed_dim */
	int has_phash;
	uint64_t phash;           /* 64-bit perceptual hash if has_phash */
	const char *label;        /* or NULL */
} siam_db_image;

/* Inserts or updates the row for (path, model_id), sets indexed_at, and
 * removes the path's row in errors.  On update, embedding, phash, width
 * and height given as NULL/unknown keep their stored values if the
 * content hash is unchanged and become NULL otherwise; a NULL label keeps
 * the stored label.  *id (may be NULL) receives the row id.  SIAM_EINVAL
 * if dim differs from the model's embed_dim or the model does not exist. */
int siam_db_put_image(struct sqlite3 *db, const siam_db_image *img,
                      int64_t *id, siam_error *err);

/* What is stored for (path, model_id), for incremental indexing. */
typedef struct siam_db_image_info {
	int64_t id;
	int64_t size, mtime_ns;   /* SIAM_DB_UNKNOWN if NULL */
	char content_hash[65];    /* "" if NULL */
	int has_embedding;
} siam_db_image_info;

/* *found = 1 and *info filled if the row exists, else *found = 0. */
int siam_db_find_image(struct sqlite3 *db, const char *path,
                       int64_t model_id, siam_db_image_info *info,
                       int *found, siam_error *err);
int siam_db_delete_image(struct sqlite3 *db, int64_t id, siam_error *err);
/* Records (or replaces) the failure of path: code is a SIAM_E* code. */
int siam_db_put_error(struct sqlite3 *db, const char *path, int code,
                      const char *message, siam_error *err);
/* Lists the messages of errors recorded at or after since (UTC text
 * 'YYYY-MM-DDTHH:MM:SSZ', as the errors.time column), oldest first, at
 * most limit of them; cb returns non-zero to stop (then that value is
 * returned). */
int siam_db_list_errors(struct sqlite3 *db, const char *since, int limit,
                        int (*cb)(void *arg, const char *message),
                        void *arg, siam_error *err);

/* The id of the stored model identical to m (the same model file
 * bytes), or *id = 0 if it was never stored.  Writes nothing. */
int siam_db_find_model(struct sqlite3 *db, const siam_model *m, int64_t *id,
                       siam_error *err);

/* One model of the database, for siam_db_list_models. */
typedef struct siam_db_model_row {
	int64_t id;
	const char *name;   /* valid during the callback only */
	long long images;   /* rows of images with this model */
	int embed_dim;
	double threshold;
} siam_db_model_row;
/* Calls cb for every model, by id; cb returns non-zero to stop (then
 * that value is returned). */
int siam_db_list_models(struct sqlite3 *db,
                        int (*cb)(void *arg, const siam_db_model_row *r),
                        void *arg, siam_error *err);

/* The counts 'siam info' shows. */
typedef struct siam_db_stats {
	long long images;   /* rows of images, all models */
	long long embedded; /* of them, with an embedding */
	long long urls;     /* of them, URLs */
	long long labels;   /* distinct labels */
	long long errors;   /* rows of errors */
	long long models;   /* rows of models */
} siam_db_stats;
int siam_db_get_stats(struct sqlite3 *db, siam_db_stats *st,
                      siam_error *err);

/* The stored embedding (dim floats, into out) of an image whose bytes
 * have this content_hash (siam_sha256_hex), indexed with model_id:
 * *found = 1, or 0 if there is none of that size. */
int siam_db_find_embedding(struct sqlite3 *db, const char *content_hash,
                           int64_t model_id, float *out, int dim,
                           int *found, siam_error *err);

/* One answer of siam_db_knn. */
typedef struct siam_db_hit {
	int64_t image_id;
	double distance;  /* from the stored vector, in double */
	char *path;       /* images.path */
	char *label;      /* images.label, or NULL */
} siam_db_hit;
/* The k (1..SIAM_KNN_MAX_K) images of model_id nearest to q (dim
 * floats), by siam_knn, then sorted by their distance computed in
 * double from the stored vectors (ties: lower image_id), so that an
 * image's own embedding comes out at distance 0 exactly.  *hits (free
 * with siam_db_hits_free) gets *n <= k of them; the connection must have
 * the SQL functions (siam_db_open registers them). */
int siam_db_knn(struct sqlite3 *db, int64_t model_id, const float *q,
                int dim, int k, siam_db_hit **hits, int *n,
                siam_error *err);
/* Frees hits and their strings; NULL is a no-op. */
void siam_db_hits_free(siam_db_hit *hits, int n);

/* One image as siam dedup reads it (siam_db_list_images).  The strings
 * are valid during the callback only. */
typedef struct siam_db_image_row {
	int64_t id;
	const char *path;
	int is_url;
	const char *content_hash; /* or NULL */
	int64_t size, mtime_ns;   /* SIAM_DB_UNKNOWN if NULL */
	int width, height;        /* 0 if unknown */
	int has_phash;
	uint64_t phash;
	int has_embedding;
	/* 1024 bytes (the row's images.gray32), or NULL; valid during the
	 * callback only */
	const unsigned char *gray32;
} siam_db_image_row;
/* Calls cb for every image of model_id, by ascending id; cb returns
 * non-zero to stop (then that value is returned). */
int siam_db_list_images(struct sqlite3 *db, int64_t model_id,
                        int (*cb)(void *arg, const siam_db_image_row *r),
                        void *arg, siam_error *err);

/* Image id (of any model), as siam_db_list_images gives it: cb is
 * called once and *found = 1, or not at all and *found = 0 if there is
 * no such image.  Returns cb's non-zero value, if any. */
int siam_db_get_image(struct sqlite3 *db, int64_t id,
                      int (*cb)(void *arg, const siam_db_image_row *r),
                      void *arg, int *found, siam_error *err);

/* One pair of siam_db_pairs: image ids a < b and their distance. */
typedef struct siam_db_pair {
	int64_t a, b;
	double distance;
} siam_db_pair;
/* Every pair of images of model_id whose embeddings are within
 * threshold (distance <= threshold), by ascending (a, b): what
 * "SELECT a, b, distance FROM siam_pairs(threshold, model_id)" returns,
 * computed by the same kernel (src/pairs.c) without an n by n matrix.
 * *pairs (malloc'ed, the caller frees it; NULL when *n is 0) gets *n of
 * them.  SIAM_EINVAL for a threshold that is negative or not finite. */
int siam_db_pairs(struct sqlite3 *db, int64_t model_id, double threshold,
                  siam_db_pair **pairs, size_t *n, siam_error *err);

/* Each image of model_id with each of its k nearest other images whose
 * embedding is within maxdist (ties to the lower id), as pairs of
 * image ids a < b, each pair once, by ascending (a, b), with their
 * distances (siam_db_pairs's, bit for bit).  k n pairs at most, never
 * an n by n matrix; *pairs as siam_db_pairs.  What siam dedup checks
 * for crops.  SIAM_EINVAL for k < 1 or a bad maxdist. */
int siam_db_neighbours(struct sqlite3 *db, int64_t model_id, int k,
                       double maxdist, siam_db_pair **pairs, size_t *n,
                       siam_error *err);

/* For each of n pairs of 32x32 grey pictures (images.gray32, as
 * siam_db_image_row.gray32 gives them), whether one is a crop of the
 * other, 70% to 100% of each side, at any place and keeping about the
 * aspect ratio (siam-dedup(1), "The crop check"): crop[k] 1 or 0 for
 * a[k] and b[k].  On siam_set_threads's threads; the answer is the same
 * whatever their count. */
void siam_crop_check(const unsigned char *const *a,
                     const unsigned char *const *b, size_t n,
                     unsigned char *crop);

/* For each of n pairs of 32x32 grey pictures, whether they look alike:
 * the best normalised cross-correlation of one, or its mirror image,
 * with the other, over the crop check's scales and places, is at least
 * 0.70 (siam-dedup(1), "The look check"), or a picture has no texture
 * to judge: alike[k] 1 or 0.  What siam dedup's default method asks of
 * the model's pairs that are not well within the threshold.  On
 * siam_set_threads's threads; the same answer whatever their count. */
void siam_look_check(const unsigned char *const *a,
                     const unsigned char *const *b, size_t n,
                     unsigned char *alike);

/* The matrix siam_db_pairs searches: the embeddings of model_id's
 * images by ascending id, *n rows of *dim floats in *x (row-major) and
 * their image ids in *ids (both malloc'ed, the caller frees them; NULL
 * when *n is 0).  What mpirun siam dedup's rank 0 hands out. */
int siam_db_embeddings(struct sqlite3 *db, int64_t model_id, float **x,
                       int64_t **ids, int64_t *n, int *dim, siam_error *err);

/* siam_db_pairs's search on a part of such a matrix: rows a0 ..
 * a0 + na - 1 are at xa, rows b0 .. b0 + nb - 1 at xb, either one block
 * (xb NULL: the pairs a < b within xa) or two with a0 + na <= b0 (every
 * a with every b).  Each pair within threshold is appended to *pairs
 * (grown by realloc: *n used, room for *cap; free it anyway) with a and
 * b its row numbers and the distance siam_db_pairs gives it, bit for
 * bit, in (a, b) order; so blocks that cover the matrix's pairs once
 * give its pairs.  On siam_set_threads's threads.  0, or SIAM_ENOMEM or
 * SIAM_EINVAL (a bad threshold or blocks) with err filled. */
int siam_pairs_between(const float *xa, int64_t a0, int64_t na,
                       const float *xb, int64_t b0, int64_t nb, int dim,
                       double threshold, siam_db_pair **pairs, size_t *n,
                       size_t *cap, siam_error *err);


#ifdef __cplusplus
}
#endif
#endif /* SIAM_H */
