/*
 * indexer.c -- the pipeline behind `siam index`: walk, decide, decode,
 * embed, store.
 *
 *   main thread                          decoders (opts->threads workers
 *                                        of a src/threads.c pool)
 *   -----------                          ------------------------------
 *   1. load what the database holds
 *      for this model (path -> size,
 *      mtime, content hash)
 *   2. walk the roots; a file with the
 *      stored size and mtime is
 *      "unchanged" and costs nothing
 *      more; the rest become jobs,
 *      then the URLs
 *   3. consume results in job order  <-  open (never a FIFO), sniff the
 *      (a window of W slots), batch       first bytes, read, SHA-256; same
 *      the inputs, one siam_net_embed     hash as stored: "touched", no
 *      per batch (BLAS), write rows,      decode; else decode, perceptual
 *      COMMIT per batch and at least      hash and its 32x32 grey picture
 *      every commit_seconds               (images.gray32), preprocess into
 *                                         the slot
 *   4. --prune: delete rows of files under the roots that the walk no
 *      longer finds
 *
 * Why this shape:
 *   - Decoding and preprocessing dominate for real photos and are
 *     independent per file, so they run in parallel; the network runs
 *     best on a batch through one GEMM, so it runs in one thread.
 *   - Results are consumed in job order, so row ids follow the walk
 *     order and two runs of one tree give the same database.
 *   - Everything written is in transactions of one batch (or one
 *     second): a kill -9 loses at most the batch in flight, SQLite's
 *     journal keeps the file consistent, and the next run skips what
 *     was committed.  WAL lets queries read meanwhile.
 *   - Library code: no printing; the caller sees progress through a
 *     callback (which can also stop the run) and the totals in status.
 */
#include "internal.h"
#include "db/db.h"
#include "fileio.h"
#include "siam_nn.h"
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SNIFF_BYTES 4096

/* ------------------------------------------------------------------ */
/* What the database already holds, and what this walk found: a hash   */
/* table keyed by path.                                                */

enum { SEEN_NO = 0, SEEN_FILE = 1, SEEN_ERROR = 2 };

typedef struct known {
	char *path;   /* NULL: empty slot */
	int64_t id;   /* row id for this model; 0: no row */
	int64_t size, mtime_ns;
	char *hash;   /* content hash (hex) or NULL */
	int has_emb;
	int has_gray; /* images.gray32 is stored */
	int seen;     /* SEEN_*: what this run's walk said about it */
} known;

typedef struct known_map {
	known *t;
	size_t n, cap;
} known_map;

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static known *map_find(known_map *m, const char *path)
{
	if (!m->cap)
		return NULL;
	size_t j = str_hash(path) & (m->cap - 1);
	while (m->t[j].path) {
		if (!strcmp(m->t[j].path, path))
			return &m->t[j];
		j = (j + 1) & (m->cap - 1);
	}
	return NULL;
}

/* Returns the entry for path, adding an empty one if needed; NULL when
 * out of memory. */
static known *map_get(known_map *m, const char *path)
{
	known *k = map_find(m, path);
	if (k)
		return k;
	if (2 * (m->n + 1) > m->cap) {
		size_t ncap = m->cap ? 2 * m->cap : 1024;
		known *t = calloc(ncap, sizeof *t);
		if (!t)
			return NULL;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->t[i].path)
				continue;
			size_t j = str_hash(m->t[i].path) & (ncap - 1);
			while (t[j].path)
				j = (j + 1) & (ncap - 1);
			t[j] = m->t[i];
		}
		free(m->t);
		m->t = t;
		m->cap = ncap;
	}
	size_t j = str_hash(path) & (m->cap - 1);
	while (m->t[j].path)
		j = (j + 1) & (m->cap - 1);
	if (!(m->t[j].path = strdup(path)))
		return NULL;
	m->n++;
	return &m->t[j];
}

static void map_free(known_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->t[i].path);
		free(m->t[i].hash);
	}
	free(m->t);
	memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ */
/* Jobs and results                                                    */

typedef struct job {
	char *path;
	char *label;     /* the parent folder's name, or NULL */
	int is_url;
	int64_t size, mtime_ns; /* from the walk; SIAM_DB_UNKNOWN for URLs */
	/* What is stored for this path and model (row_id 0: nothing).
	 * Copied, not pointed to: the map moves its entries as it grows;
	 * row_hash is the map's string, which stays put. */
	int64_t row_id;
	const char *row_hash;
	int row_has_emb, row_has_gray;
} job;

/* R_GRAY: same bytes as stored, but the row has no gray32 (indexed
 * before schema version 3): decoded for the perceptual hash and gray32
 * only, its embedding kept. */
enum { R_EMBED, R_TOUCH, R_NOTIMAGE, R_ERROR, R_GRAY };

typedef struct result {
	int ready;       /* set by the worker under the lock */
	int kind;        /* R_* */
	int code;        /* R_ERROR: the SIAM_E* code */
	char msg[SIAM_ERR_MAX];
	char hash[65];
	int64_t size;
	int width, height;
	uint64_t phash;
	int has_gray;    /* gray: R_EMBED from a farm may lack it */
	unsigned char gray[DB_GRAY32_BYTES]; /* images.gray32 */
	float *input;    /* input_size floats, owned by the slot */
	const float *embedding; /* from a farm (opts->farm): dim floats,
	                 * already embedded; NULL: embed input here */
	double secs[3];  /* seconds reading (+ SHA-256), decoding, resizing */
} result;

typedef struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv_work; /* a window slot was freed, or stop */
	pthread_cond_t cv_done; /* a result became ready */
	job *jobs;
	size_t njobs, next, consumed, window;
	result *ring;
	int stop;
	const siam_model *model;
	size_t input_size;
	const siam_index_opts *o;
} pipeline;

static double now_s(void);

/* A worker's own read buffer, kept from file to file. */
typedef struct wbuf {
	unsigned char *p;
	size_t cap;
} wbuf;

/* Fills r for job jb; runs in a worker thread, touches only r and wb. */
static void process_job(pipeline *p, const job *jb, result *r, wbuf *wb)
{
	double t = now_s(), t1;
	siam_error e = { 0, "" };
	unsigned char *data = NULL;
	size_t len = 0;
	siam_image img = { 0 };
	int fd = -1, rc;

	r->kind = R_ERROR;
	r->code = 0;
	r->msg[0] = 0;
	r->hash[0] = 0;
	r->has_gray = 0;
	r->secs[0] = r->secs[1] = r->secs[2] = 0;
	if (jb->is_url) {
		void *buf = NULL;
		rc = siam_fetch(jb->path, &p->o->fetch, &buf, &len, &e);
		data = buf;
		if (rc)
			goto fail;
		if (!siam_sniff_image(data, SIAM_MIN(len, (size_t)SNIFF_BYTES))) {
			rc = siam_errorf(&e, SIAM_EFORMAT,
			                 "%s: not an image (%zu bytes of "
			                 "something else)", jb->path, len);
			goto fail;
		}
	} else {
		struct stat st;
		unsigned char head[SNIFF_BYTES];
		if ((rc = siam_open_regular(jb->path, &fd, &st, &e)))
			goto fail;
		ssize_t n = pread(fd, head, sizeof head, 0);
		if (n < 0) {
			rc = siam_errorf(&e, SIAM_EIO, "%s: %s", jb->path,
			                 strerror(errno));
			goto fail;
		}
		if (!siam_sniff_image(head, (size_t)n)) {
			r->kind = R_NOTIMAGE;
			goto done;
		}
		rc = siam_read_fd_reuse(fd, jb->path, (size_t)st.st_size,
		                        p->o->limits.max_bytes, &wb->p,
		                        &wb->cap, &len, &e);
		data = wb->p;
		if (rc)
			goto fail;
	}
	r->size = (int64_t)len;
	siam_sha256_hex(r->hash, data, len);
	r->secs[0] = (t1 = now_s()) - t;
	int same = jb->row_id && jb->row_has_emb && jb->row_hash &&
	           !strcmp(jb->row_hash, r->hash);
	if (same && jb->row_has_gray) {
		r->kind = R_TOUCH; /* same bytes: the stored embedding holds */
		goto done;
	}
	/* Decoded no larger than the model and the perceptual hash need
	 * (a camera JPEG at 1/8 of its size), unless the caller said. */
	siam_image_limits lim = p->o->limits;
	if (!lim.want_w && !lim.want_h)
		siam_image_limits_want(&lim, &p->model->pre);
	if ((rc = siam_image_decode(&img, data, len, jb->path, &lim, &e)))
		goto fail;
	r->secs[1] = (t = now_s()) - t1;
	r->width = img.full_w;
	r->height = img.full_h;
	/* The hash and gray32 from one 32x32 picture, computed once. */
	if ((rc = index_phash_gray(&r->phash, r->gray, &img, &e)))
		goto fail;
	r->has_gray = 1;
	if (same) { /* only gray32 was missing: no need to embed again */
		r->kind = R_GRAY;
		r->secs[2] = now_s() - t;
		goto done;
	}
	if ((rc = siam_preprocess(r->input, &img, &p->model->pre, &e))) {
		/* The preprocessor's messages do not know the file. */
		char m[SIAM_ERR_MAX];
		snprintf(m, sizeof m, "%s", e.msg);
		rc = siam_errorf(&e, rc, "%s: %s", jb->path, m);
		goto fail;
	}
	r->kind = R_EMBED;
	r->secs[2] = now_s() - t;
	goto done;
fail:
	r->kind = R_ERROR;
	r->code = rc;
	snprintf(r->msg, sizeof r->msg, "%s", e.msg);
done:
	if (fd >= 0)
		close(fd);
	if (data != wb->p)
		free(data); /* a URL's bytes */
	siam_image_release(&img);
}

/* A decoder: runs on the pool's workers (t = 1..T-1) while the calling
 * thread consumes; takes jobs in order while the window has room. */
static void worker(void *arg, int t, int T)
{
	pipeline *p = arg;
	wbuf wb = { NULL, 0 };
	(void)t, (void)T;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next < p->njobs &&
		       p->next >= p->consumed + p->window)
			pthread_cond_wait(&p->cv_work, &p->mu);
		if (p->stop || p->next >= p->njobs)
			break;
		size_t j = p->next++;
		pthread_mutex_unlock(&p->mu);
		/* Slot j % window is free: its last job, j - window, has
		 * been consumed, since j < consumed + window. */
		result *r = &p->ring[j % p->window];
		process_job(p, &p->jobs[j], r, &wb);
		pthread_mutex_lock(&p->mu);
		r->ready = 1;
		if (j == p->consumed)
			pthread_cond_signal(&p->cv_done);
	}
	pthread_mutex_unlock(&p->mu);
	free(wb.p);
}

/* ------------------------------------------------------------------ */
/* The main thread's side: transactions, batches, rows.                */

typedef struct pending {
	size_t job;
	char hash[65];
	int64_t size;
	int width, height;
	uint64_t phash;
	int has_gray;
	unsigned char gray[DB_GRAY32_BYTES];
} pending;

typedef struct indexer {
	struct sqlite3 *db;
	siam_model *model;
	int64_t model_id;
	const siam_index_opts *o;
	siam_index_status *st;
	known_map map;
	job *jobs;
	size_t njobs, capjobs;
	int in_txn;
	double txn_start;
	/* Counts of the open transaction, added to *st when it commits:
	 * the summary counts what is saved, not what was tried (a full
	 * disk fails the COMMIT after the rows were written). */
	long t_indexed, t_touched, t_errors, t_pruned;
	int stopped;     /* the callback asked to stop */
	/* the embedding batch */
	int batch, nb, dim;
	size_t input_size;
	float *inputs;   /* (batch, input_size) */
	float *emb;      /* (batch, dim) */
	pending *pend;
	double t0, last_cb;
} indexer;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int progress(indexer *ix, int force)
{
	if (!ix->o->progress || ix->stopped)
		return ix->stopped;
	double t = now_s();
	ix->st->seconds = t - ix->t0;
	/* At most ~20 calls a second: the callback draws on a terminal. */
	if (!force && t - ix->last_cb < 0.05)
		return 0;
	ix->last_cb = t;
	if (ix->o->progress(ix->o->progress_arg, ix->st))
		ix->stopped = 1;
	return ix->stopped;
}

static int txn_begin(indexer *ix, siam_error *err)
{
	if (ix->in_txn)
		return 0;
	int rc = db_begin(ix->db, err);
	if (rc)
		return rc;
	ix->in_txn = 1;
	ix->txn_start = now_s();
	return 0;
}

static void txn_forget(indexer *ix)
{
	ix->in_txn = 0;
	ix->t_indexed = ix->t_touched = ix->t_errors = ix->t_pruned = 0;
}

static void txn_rollback(indexer *ix)
{
	if (ix->in_txn)
		db_rollback(ix->db);
	txn_forget(ix);
}

/* A COMMIT that fails (a full disk) has saved nothing: the transaction
 * is rolled back and its counts dropped. */
static int txn_commit(indexer *ix, siam_error *err)
{
	if (!ix->in_txn)
		return 0;
	int rc = db_commit(ix->db, err);
	if (rc) {
		txn_rollback(ix);
		return rc;
	}
	ix->st->indexed += ix->t_indexed;
	ix->st->touched += ix->t_touched;
	ix->st->errors += ix->t_errors;
	ix->st->pruned += ix->t_pruned;
	txn_forget(ix);
	return 0;
}

static int record_error(indexer *ix, const char *path, int code,
                        const char *msg, siam_error *err)
{
	int rc = txn_begin(ix, err);
	if (!rc)
		rc = siam_db_put_error(ix->db, path, code, msg, err);
	ix->t_errors++;
	return rc;
}

/* Embeds the pending batch, writes its rows and commits. */
static int flush(indexer *ix, siam_error *err)
{
	double t = now_s(), t1 = t;
	int rc = 0;
	if (ix->nb > 0) {
		/* A farm's results come embedded already. */
		if (!ix->o->farm &&
		    (rc = siam_net_embed_views(ix->model->net, ix->inputs,
		                               ix->nb, ix->model->views,
		                               ix->emb, err)))
			return rc;
		ix->st->embed_s += (t1 = now_s()) - t;
		if ((rc = txn_begin(ix, err)))
			return rc;
		for (int i = 0; i < ix->nb; i++) {
			const pending *pd = &ix->pend[i];
			const job *jb = &ix->jobs[pd->job];
			siam_db_image im;
			memset(&im, 0, sizeof im);
			im.path = jb->path;
			im.is_url = jb->is_url;
			im.content_hash = pd->hash;
			im.size = pd->size;
			im.mtime_ns = jb->mtime_ns;
			im.width = pd->width;
			im.height = pd->height;
			im.model_id = ix->model_id;
			im.embedding = ix->emb + (size_t)i * ix->dim;
			im.dim = ix->dim;
			im.has_phash = 1;
			im.phash = pd->phash;
			im.label = jb->label;
			/* A changed file keeps its row (and image id). */
			if ((rc = db_put_image(ix->db, &im, pd->has_gray ?
			                       pd->gray : NULL, NULL, err)))
				return rc;
			ix->t_indexed++;
		}
		ix->nb = 0;
	}
	rc = txn_commit(ix, err);
	ix->st->write_s += now_s() - t1;
	return rc;
}

/* After a row is queued: flush when the batch is full or the open
 * transaction has run its commit interval, then tell the caller
 * (forced after each commit, whatever the time since the last call,
 * so it knows what is saved).  Returns an error code, or 0; *stop is
 * set when the caller's callback asks to stop. */
static int queued(indexer *ix, int *stop, siam_error *err)
{
	int rc = 0, flushed = 0;
	if (ix->nb == ix->batch ||
	    (ix->in_txn && now_s() - ix->txn_start >= ix->o->commit_seconds)) {
		rc = flush(ix, err);
		flushed = 1;
	}
	*stop = !rc && progress(ix, flushed);
	return rc;
}

/* Handles one worker result for job j, in job order. */
static int consume(indexer *ix, size_t j, result *r, siam_error *err)
{
	job *jb = &ix->jobs[j];
	int rc = 0;
	ix->st->read_s += r->secs[0];
	ix->st->decode_s += r->secs[1];
	ix->st->resize_s += r->secs[2];
	switch (r->kind) {
	case R_EMBED: {
		/* The transaction opens with the batch, so that its start
		 * dates the oldest uncommitted result. */
		if ((rc = txn_begin(ix, err)))
			break;
		pending *pd = &ix->pend[ix->nb];
		pd->job = j;
		memcpy(pd->hash, r->hash, sizeof pd->hash);
		pd->size = r->size;
		pd->width = r->width;
		pd->height = r->height;
		pd->phash = r->phash;
		pd->has_gray = r->has_gray;
		if (r->has_gray)
			memcpy(pd->gray, r->gray, sizeof pd->gray);
		if (r->embedding)
			memcpy(ix->emb + (size_t)ix->nb * ix->dim,
			       r->embedding, (size_t)ix->dim * sizeof(float));
		else
			memcpy(ix->inputs + (size_t)ix->nb * ix->input_size,
			       r->input, ix->input_size * sizeof(float));
		ix->nb++;
		break;
	}
	case R_TOUCH:
		/* Same bytes, new mtime: only size and mtime change, one
		 * UPDATE by row id; the embedding and the siam_knn change
		 * counter are left alone. */
		if (!(rc = txn_begin(ix, err)))
			rc = db_image_touch(ix->db, jb->row_id, r->size,
			                    jb->mtime_ns, err);
		ix->t_touched++;
		break;
	case R_GRAY:
		/* Counted as touched: the bytes and the embedding are the
		 * stored ones, the row only gains what schema version 3
		 * added.  Not the siam_knn counter either (no embedding
		 * changes). */
		if (!(rc = txn_begin(ix, err)))
			rc = db_image_touch_gray(ix->db, jb->row_id, r->size,
			                         jb->mtime_ns, r->phash,
			                         r->gray, err);
		ix->t_touched++;
		break;
	case R_NOTIMAGE:
		/* A file that was an image and is not any more loses its
		 * row: its embedding describes bytes that are gone. */
		if (jb->row_id && !(rc = txn_begin(ix, err)))
			rc = siam_db_delete_image(ix->db, jb->row_id, err);
		ix->st->not_images++;
		break;
	default:
		if (jb->row_id && !jb->is_url && !(rc = txn_begin(ix, err)))
			rc = siam_db_delete_image(ix->db, jb->row_id, err);
		if (!rc)
			rc = record_error(ix, jb->path, r->code, r->msg, err);
		break;
	}
	ix->st->done++;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Step 1: what is stored.                                             */

static int known_row(void *arg, const db_image_row *r)
{
	indexer *ix = arg;
	known *k = map_get(&ix->map, r->path);
	if (!k || (r->content_hash && !(k->hash = strdup(r->content_hash))))
		return SIAM_ENOMEM;
	k->id = r->id;
	k->size = r->size;
	k->mtime_ns = r->mtime_ns;
	k->has_emb = r->has_embedding;
	k->has_gray = r->has_gray32;
	return 0;
}

static int load_known(indexer *ix, siam_error *err)
{
	int rc = db_images_each(ix->db, ix->model_id, known_row, ix, err);
	if (rc == SIAM_ENOMEM)
		siam_errorf(err, rc, "out of memory");
	return rc;
}

/* ------------------------------------------------------------------ */
/* Step 2: the walk and the URL list become jobs.                      */

static int add_job(indexer *ix, const char *path, int is_url,
                   int64_t size, int64_t mtime_ns, const char *label,
                   known *row)
{
	if (ix->njobs == ix->capjobs) {
		job *nj = siam_grow(ix->jobs, &ix->capjobs, sizeof *nj, 256);
		if (!nj)
			return SIAM_ENOMEM;
		ix->jobs = nj;
	}
	job *jb = &ix->jobs[ix->njobs];
	memset(jb, 0, sizeof *jb);
	if (!(jb->path = strdup(path)) ||
	    (label && !(jb->label = strdup(label)))) {
		free(jb->path);
		return SIAM_ENOMEM;
	}
	jb->is_url = is_url;
	jb->size = size;
	jb->mtime_ns = mtime_ns;
	if (row) {
		jb->row_id = row->id;
		jb->row_hash = row->hash;
		jb->row_has_emb = row->has_emb;
		jb->row_has_gray = row->has_gray;
	}
	ix->njobs++;
	return 0;
}

/* The label of a file found below a root: the name of the folder that
 * holds it, when that folder is not the root itself (the
 * one-folder-per-class layout of `siam train --data folder:DIR`). */
static char *parent_name(const char *path, int depth, char *buf,
                         size_t size)
{
	if (depth < 2)
		return NULL;
	const char *end = strrchr(path, '/');
	if (!end || end == path)
		return NULL;
	const char *start = end;
	while (start > path && start[-1] != '/')
		start--;
	size_t n = (size_t)(end - start);
	if (n == 0 || n >= size)
		return NULL;
	memcpy(buf, start, n);
	buf[n] = 0;
	return buf;
}

typedef struct walk_ctx {
	indexer *ix;
	int rc;
	siam_error *err;
} walk_ctx;

static int on_entry(void *arg, const siam_walk_entry *e)
{
	walk_ctx *w = arg;
	indexer *ix = w->ix;
	char label[256], msg[SIAM_ERR_MAX];

	if (e->kind == SIAM_WALK_SKIPPED) {
		ix->st->skipped++;
		return progress(ix, 0);
	}
	known *k = map_get(&ix->map, e->path);
	if (!k) {
		w->rc = siam_errorf(w->err, SIAM_ENOMEM, "out of memory");
		return 1;
	}
	if (e->kind == SIAM_WALK_ERROR) {
		if (k->seen == SEEN_NO)
			k->seen = SEEN_ERROR;
		ix->st->found++;
		ix->st->done++;
		snprintf(msg, sizeof msg, "%s: %s", e->path, e->msg);
		if ((w->rc = record_error(ix, e->path, SIAM_EIO, msg, w->err)))
			return 1;
		return progress(ix, 0);
	}
	if (k->seen == SEEN_FILE) /* the same path given twice */
		return progress(ix, 0);
	k->seen = SEEN_FILE;
	ix->st->found++;
	/* A row without gray32 (indexed before schema version 3) is
	 * decoded again even when the file did not change: siam dedup
	 * needs the picture of every image (process_job, R_GRAY). */
	if (k->id && k->has_emb && k->has_gray && k->size == e->size &&
	    k->mtime_ns == e->mtime_ns) {
		ix->st->unchanged++;
		ix->st->done++;
		return progress(ix, 0);
	}
	if (add_job(ix, e->path, 0, e->size, e->mtime_ns,
	            parent_name(e->path, e->depth, label, sizeof label),
	            k->id ? k : NULL)) {
		w->rc = siam_errorf(w->err, SIAM_ENOMEM, "out of memory");
		return 1;
	}
	return progress(ix, 0);
}

/* ------------------------------------------------------------------ */
/* Step 4: --prune.                                                    */

static int under_root(const char *path, const char *const *roots,
                      int nroots)
{
	for (int i = 0; i < nroots; i++) {
		size_t n = strlen(roots[i]);
		if (!n || strncmp(path, roots[i], n))
			continue;
		if (!path[n] || roots[i][n - 1] == '/' || path[n] == '/')
			return 1;
	}
	return 0;
}

typedef struct prune_ctx {
	indexer *ix;
	const char *const *roots;
	int nroots;
	int errors; /* 1: the errors table */
} prune_ctx;

/* 1: the row of path goes (under a root, and the walk did not find it). */
static int prune_this(void *arg, const char *path)
{
	prune_ctx *p = arg;
	if (!under_root(path, p->roots, p->nroots))
		return 0;
	known *k = map_find(&p->ix->map, path);
	return !(k && (k->seen == SEEN_FILE ||
	               (p->errors && k->seen == SEEN_ERROR)));
}

/* Deletes, for every model, the rows of files under the roots that the
 * walk did not find, and their rows in errors. */
static int prune(indexer *ix, const char *const *roots, int nroots,
                 siam_error *err)
{
	int64_t *ids = NULL;
	size_t n = 0;
	int rc = 0;

	for (int t = 0; t < 2 && !rc; t++) {
		prune_ctx pc = { ix, roots, nroots, t };
		free(ids);
		ids = NULL;
		if ((rc = db_prune_candidates(ix->db, t, prune_this, &pc, &ids,
		                              &n, err)) || !n)
			continue;
		if ((rc = txn_begin(ix, err)) ||
		    (rc = db_delete_rows(ix->db, t, ids, n, err)))
			break;
		if (t == 0)
			ix->t_pruned += (long)n;
	}
	free(ids);
	if (!rc)
		rc = txn_commit(ix, err);
	return rc;
}

/* ------------------------------------------------------------------ */

void siam_index_opts_default(siam_index_opts *o)
{
	memset(o, 0, sizeof *o);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = n > 0 ? (int)SIAM_MIN(n, 64) : 1;
	o->batch = 128;
	o->commit_seconds = 1.0;
	siam_image_limits_default(&o->limits);
	siam_fetch_opts_default(&o->fetch);
}

/* Step 3: the workers and the consumer. */
static int run_jobs(indexer *ix, siam_error *err)
{
	pipeline p;
	thr_pool *pool = NULL;
	int nthreads = 0, rc = 0, locked_init = 0;

	memset(&p, 0, sizeof p);
	if (!ix->njobs)
		return 0;
	p.jobs = ix->jobs;
	p.njobs = ix->njobs;
	p.model = ix->model;
	p.input_size = ix->input_size;
	p.o = ix->o;
	int want = ix->o->threads > 0 ? ix->o->threads : 1;
	if ((size_t)want > ix->njobs)
		want = (int)ix->njobs;
	p.window = (size_t)ix->batch + 4 * (size_t)want;
	p.ring = calloc(p.window, sizeof *p.ring);
	if (!p.ring)
		goto oom;
	for (size_t i = 0; i < p.window; i++)
		if (!(p.ring[i].input = siam_xmalloc_n(ix->input_size,
		                                       sizeof(float))))
			goto oom;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv_work, NULL);
	pthread_cond_init(&p.cv_done, NULL);
	locked_init = 1;
	/* want decoders beside this thread, which consumes */
	pool = thr_pool_new(want + 1);
	nthreads = thr_pool_start(pool, worker, &p);
	if (!nthreads) {
		rc = siam_errorf(err, SIAM_ENOMEM, "cannot start threads");
		goto out;
	}

	while (!rc) {
		pthread_mutex_lock(&p.mu);
		result *r = NULL;
		for (;;) {
			if (p.consumed >= p.njobs)
				break;
			if (p.ring[p.consumed % p.window].ready) {
				r = &p.ring[p.consumed % p.window];
				break;
			}
			if (ix->in_txn) {
				/* Something waits to be committed: wake up
				 * in time to keep the commit interval. */
				double left = ix->o->commit_seconds -
				              (now_s() - ix->txn_start);
				if (left <= 0)
					break;
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				double t = ts.tv_sec + ts.tv_nsec * 1e-9 + left;
				ts.tv_sec = (time_t)t;
				ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
				if (pthread_cond_timedwait(&p.cv_done, &p.mu,
				                           &ts) == ETIMEDOUT)
					break;
			} else {
				pthread_cond_wait(&p.cv_done, &p.mu);
			}
		}
		size_t j = p.consumed;
		pthread_mutex_unlock(&p.mu);
		if (!r) {
			if (p.consumed >= p.njobs)
				break;
			rc = flush(ix, err); /* the commit interval is up */
			continue;
		}
		rc = consume(ix, j, r, err);
		pthread_mutex_lock(&p.mu);
		r->ready = 0;
		p.consumed++;
		pthread_cond_broadcast(&p.cv_work);
		pthread_mutex_unlock(&p.mu);
		if (rc)
			break;
		int stop;
		rc = queued(ix, &stop, err);
		if (rc || stop)
			break;
	}
	if (!rc)
		rc = flush(ix, err);
	goto out;
oom:
	rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
out:
	if (locked_init) {
		pthread_mutex_lock(&p.mu);
		p.stop = 1;
		pthread_cond_broadcast(&p.cv_work);
		pthread_mutex_unlock(&p.mu);
		if (nthreads)
			thr_pool_wait(pool);
		thr_pool_free(pool);
		pthread_mutex_destroy(&p.mu);
		pthread_cond_destroy(&p.cv_work);
		pthread_cond_destroy(&p.cv_done);
	}
	if (p.ring)
		for (size_t i = 0; i < p.window; i++)
			free(p.ring[i].input);
	free(p.ring);
	return rc;
}

/* Step 3 with a farm (opts->farm): the files go to the farm, their
 * results come back in job order and are written as run_jobs writes
 * its own; nothing is decoded or embedded here. */
static int run_farm(indexer *ix, siam_error *err)
{
	const siam_index_farm *f = ix->o->farm;
	siam_index_item *items = NULL;
	int rc = 0;
	if (!ix->njobs)
		return 0;
	if (!(items = calloc(ix->njobs, sizeof *items)))
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	for (size_t j = 0; j < ix->njobs; j++) {
		const job *jb = &ix->jobs[j];
		items[j].path = jb->path;
		items[j].is_url = jb->is_url;
		/* A row without gray32 is not offered as touchable: the
		 * farm's contract has no "decode but do not embed", so
		 * such a file is embedded again, once, to store its
		 * gray32 (same bytes, same model: the same embedding). */
		items[j].stored_hash = jb->row_id && jb->row_has_emb &&
		                       jb->row_has_gray ? jb->row_hash : NULL;
	}
	if ((rc = f->start(f->arg, items, ix->njobs, err)))
		goto out;
	static const int kinds[] = { R_EMBED, R_TOUCH, R_NOTIMAGE, R_ERROR };
	for (size_t j = 0; j < ix->njobs && !rc;) {
		double wait = 0.25;
		if (ix->in_txn) {
			wait = ix->o->commit_seconds - (now_s() - ix->txn_start);
			if (wait < 0)
				wait = 0;
		}
		siam_index_result fr;
		double embed_s = 0;
		rc = f->next(f->arg, wait, &fr, &embed_s, err);
		ix->st->embed_s += embed_s;
		if (rc == 1) { /* nothing in time: keep the commit interval */
			rc = ix->in_txn ? flush(ix, err) : 0;
			if (!rc && progress(ix, 0))
				break;
			continue;
		}
		if (rc)
			break;
		result r;
		memset(&r, 0, sizeof r);
		r.kind = fr.kind >= 0 && fr.kind <= 3 ? kinds[fr.kind] : R_ERROR;
		r.code = fr.code;
		snprintf(r.msg, sizeof r.msg, "%s", fr.msg);
		memcpy(r.hash, fr.hash, sizeof r.hash);
		r.hash[64] = 0;
		r.size = fr.size;
		r.width = fr.width;
		r.height = fr.height;
		r.phash = fr.phash;
		r.has_gray = fr.has_gray32;
		if (fr.has_gray32)
			memcpy(r.gray, fr.gray32, sizeof r.gray);
		r.secs[0] = fr.read_s;
		r.secs[1] = fr.decode_s;
		r.secs[2] = fr.resize_s;
		r.embedding = fr.embedding;
		if (r.kind == R_EMBED && !r.embedding) {
			rc = siam_errorf(err, SIAM_EINVAL, "%s: embedded, but "
			                 "no embedding came back", items[j].path);
			break;
		}
		if ((rc = consume(ix, j, &r, err)))
			break;
		j++;
		int stop;
		rc = queued(ix, &stop, err);
		if (rc || stop)
			break;
	}
	if (!rc)
		rc = flush(ix, err);
out:
	free(items);
	return rc;
}

/* siam_index_process's threads: one item each, into its slot. */
typedef struct proc_ctx {
	pipeline *p;
	const job *jobs;
	result *res;
} proc_ctx;

static void proc_one(void *arg, size_t i, int t)
{
	proc_ctx *c = arg;
	wbuf wb = { NULL, 0 }; /* one item: nothing to keep it for */
	(void)t;
	process_job(c->p, &c->jobs[i], &c->res[i], &wb);
	free(wb.p);
}

int siam_index_process(siam_model *m, const siam_index_opts *opts,
                       const siam_index_item *items, size_t n,
                       siam_index_result *out, float *emb,
                       double *embed_s, siam_error *err)
{
	siam_index_opts defo;
	pipeline p;
	job *jobs = NULL;
	result *res = NULL;
	float *inputs = NULL;
	thr_pool *pool = NULL;
	int rc = 0;
	*embed_s = 0;
	if (!opts) {
		siam_index_opts_default(&defo);
		opts = &defo;
	}
	if (!m || !m->net)
		return siam_errorf(err, SIAM_EINVAL,
		                   "siam_index_process: no model");
	if (!n)
		return 0;
	memset(&p, 0, sizeof p);
	p.model = m;
	p.o = opts;
	p.input_size = siam_net_input_size(m->net);
	int dim = siam_net_embed_dim(m->net);
	jobs = calloc(n, sizeof *jobs);
	res = calloc(n, sizeof *res);
	inputs = siam_xmalloc_n(n * p.input_size, sizeof(float));
	if (!jobs || !res || !inputs) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		jobs[i].path = (char *)items[i].path;
		jobs[i].is_url = items[i].is_url;
		jobs[i].row_id = items[i].stored_hash ? 1 : 0;
		jobs[i].row_hash = items[i].stored_hash;
		jobs[i].row_has_emb = items[i].stored_hash != NULL;
		/* stored_hash says the row is complete: touched, never
		 * R_GRAY */
		jobs[i].row_has_gray = jobs[i].row_has_emb;
		res[i].input = inputs + i * p.input_size;
	}
	int want = opts->threads > 0 ? opts->threads : 1;
	if ((size_t)want > n)
		want = (int)n;
	pool = thr_pool_new(want);
	proc_ctx c = { &p, jobs, res };
	thr_pool_for(pool, n, proc_one, &c);
	/* The embedded ones, packed, through the net in one batch. */
	size_t ne = 0;
	for (size_t i = 0; i < n; i++)
		if (res[i].kind == R_EMBED) {
			if (ne != i)
				memcpy(inputs + ne * p.input_size, res[i].input,
				       p.input_size * sizeof(float));
			ne++;
		}
	double t = now_s();
	if (ne && (rc = siam_net_embed_views(m->net, inputs, (int)ne,
	                                     m->views, emb, err)))
		goto out;
	*embed_s = now_s() - t;
	static const int kinds[] = { SIAM_INDEX_EMBEDDED, SIAM_INDEX_TOUCHED,
	                             SIAM_INDEX_NOT_IMAGE, SIAM_INDEX_ERROR,
	                             SIAM_INDEX_TOUCHED /* R_GRAY: never */ };
	ne = 0;
	for (size_t i = 0; i < n; i++) {
		siam_index_result *o = &out[i];
		const result *r = &res[i];
		memset(o, 0, sizeof *o);
		o->kind = kinds[r->kind];
		o->code = r->code;
		snprintf(o->msg, sizeof o->msg, "%s", r->msg);
		memcpy(o->hash, r->hash, sizeof o->hash);
		o->size = r->size;
		o->width = r->width;
		o->height = r->height;
		o->phash = r->phash;
		o->has_gray32 = r->has_gray;
		if (r->has_gray)
			memcpy(o->gray32, r->gray, sizeof o->gray32);
		o->read_s = r->secs[0];
		o->decode_s = r->secs[1];
		o->resize_s = r->secs[2];
		if (r->kind == R_EMBED)
			o->embedding = emb + ne++ * (size_t)dim;
	}
out:
	thr_pool_free(pool);
	free(jobs);
	free(res);
	free(inputs);
	return rc;
}

int siam_index_run(struct sqlite3 *db, siam_model *m, int64_t model_id,
                   const char *const *roots, int nroots,
                   const char *const *urls, int nurls,
                   const siam_index_opts *opts, siam_index_status *st,
                   siam_error *err)
{
	siam_index_opts defo;
	indexer ix;
	int rc = 0;

	memset(st, 0, sizeof *st);
	memset(&ix, 0, sizeof ix);
	if (!opts) {
		siam_index_opts_default(&defo);
		opts = &defo;
	}
	if (!db || !m || !m->net || model_id <= 0)
		return siam_errorf(err, SIAM_EINVAL,
		                   "siam_index_run: no database or model");
	ix.db = db;
	ix.model = m;
	ix.model_id = model_id;
	ix.o = opts;
	ix.st = st;
	ix.t0 = now_s();
	ix.dim = siam_net_embed_dim(m->net);
	ix.input_size = siam_net_input_size(m->net);
	/* A batch of inputs costs batch * input_size floats in the batch
	 * and as many again in the window: keep both near 64 MiB for
	 * large inputs. */
	ix.batch = opts->batch > 0 ? opts->batch : 128;
	size_t cap = ((size_t)16 << 20) / (ix.input_size ? ix.input_size : 1);
	if ((size_t)ix.batch > cap)
		ix.batch = cap > 1 ? (int)cap : 1;
	ix.inputs = siam_xmalloc_n((size_t)ix.batch * ix.input_size,
	                           sizeof(float));
	ix.emb = siam_xmalloc_n((size_t)ix.batch * ix.dim, sizeof(float));
	ix.pend = calloc((size_t)ix.batch, sizeof *ix.pend);
	if (!ix.inputs || !ix.emb || !ix.pend) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = load_known(&ix, err)))
		goto out;

	st->walking = 1;
	walk_ctx wc = { &ix, 0, err };
	rc = siam_walk(roots, nroots, on_entry, &wc, err);
	if (wc.rc)
		rc = wc.rc;
	else if (rc == SIAM_EINTR && ix.stopped)
		goto stopped;
	if (rc)
		goto out;
	for (int i = 0; i < nurls; i++) {
		known *k = map_get(&ix.map, urls[i]);
		if (!k) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto out;
		}
		if (k->seen == SEEN_FILE)
			continue;
		k->seen = SEEN_FILE;
		st->found++;
		/* A URL cannot be stat'ed: once embedded with this model it
		 * counts as unchanged (but fetched again once for a gray32
		 * it lacks, as on_entry does with files). */
		if (k->id && k->has_emb && k->has_gray) {
			st->unchanged++;
			st->done++;
			continue;
		}
		if (add_job(&ix, urls[i], 1, SIAM_DB_UNKNOWN, SIAM_DB_UNKNOWN,
		            NULL, k->id ? k : NULL)) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto out;
		}
	}
	st->walking = 0;
	if ((rc = txn_commit(&ix, err))) /* the walk's error rows */
		goto out;
	if (progress(&ix, 1))
		goto stopped;
	if ((rc = opts->farm ? run_farm(&ix, err) : run_jobs(&ix, err)))
		goto out;
	if (ix.stopped)
		goto stopped;
	if (opts->prune && (rc = prune(&ix, roots, nroots, err)))
		goto out;
	progress(&ix, 1);
	goto out;
stopped:
	rc = txn_commit(&ix, err);
	if (!rc)
		rc = siam_errorf(err, SIAM_EINTR,
		                 "interrupted; what was done is saved");
out:
	if (rc && rc != SIAM_EINTR)
		txn_rollback(&ix);
	st->walking = 0;
	st->seconds = now_s() - ix.t0;
	for (size_t i = 0; i < ix.njobs; i++) {
		free(ix.jobs[i].path);
		free(ix.jobs[i].label);
	}
	free(ix.jobs);
	map_free(&ix.map);
	free(ix.inputs);
	free(ix.emb);
	free(ix.pend);
	return rc;
}
