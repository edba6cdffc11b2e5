/*
 * index.c -- 'mpirun -np N siam index' (see index.h): the farm on rank
 * 0 and the workers on ranks 1..N-1.
 *
 *   worker                               rank 0 (inside siam_index_run)
 *   ------                               ------------------------------
 *   REQ (empty)                    ->    walk, load what is stored
 *                                  <-    WORK: items [first, first + n)
 *   read, decode, embed them
 *   REQ: their results             ->    kept until their turn: results
 *                                        are written in walk order, so
 *                                        row ids are a local run's
 *                                  <-    WORK: the next items, or an
 *                                        empty WORK: stop
 *
 * Work goes out on request, so a rank on a slow disk or with big files
 * takes fewer batches.  Rank 0 hands out at most `window` items past
 * the oldest result it still waits for, so one stalled rank cannot make
 * it hold the results of the whole walk.  Only rank 0 touches the
 * database: a worker killed mid-batch loses nothing committed, and
 * mpirun then ends the run; a rerun skips what was committed.
 */
#include "config.h"
#include "mpi/index.h"
#include "mpi/world.h"

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_REQ = 71, TAG_WORK = 72 };

/* ---- a byte buffer, written and read in order ---------------------- */

typedef struct buf {
	unsigned char *p;
	size_t len, cap, pos;
} buf;

static void put(buf *b, const void *v, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *np = realloc(b->p, cap);
		if (!np)
			siam_mpi_abort(2, "out of memory");
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put_str(buf *b, const char *s)
{
	put(b, s ? s : "", strlen(s ? s : "") + 1);
}

/* A message from another rank is trusted (the same program sent it),
 * but a short one is still not read past its end. */
static void get(buf *b, void *v, size_t n)
{
	if (b->pos + n > b->len)
		siam_mpi_abort(2, "a short message from another rank");
	memcpy(v, b->p + b->pos, n);
	b->pos += n;
}

static const char *get_str(buf *b)
{
	const char *s = (const char *)b->p + b->pos;
	const void *z = memchr(s, 0, b->len - b->pos);
	if (!z)
		siam_mpi_abort(2, "a short message from another rank");
	b->pos += (size_t)((const char *)z - s) + 1;
	return s;
}

/* Receives a message already probed (st) into b. */
static void recv_probed(buf *b, MPI_Status *st, int tag)
{
	int n = 0;
	MPI_Get_count(st, MPI_BYTE, &n);
	b->len = b->pos = 0;
	if ((size_t)n > b->cap) {
		free(b->p);
		if (!(b->p = malloc((size_t)n)))
			siam_mpi_abort(2, "out of memory");
		b->cap = (size_t)n;
	}
	siam_mpi_check(MPI_Recv(b->p, n, MPI_BYTE, st->MPI_SOURCE, tag,
	                        MPI_COMM_WORLD, MPI_STATUS_IGNORE),
	               "receiving from another rank");
	b->len = (size_t)n;
}

/* ---- rank 0 ---------------------------------------------------------- */

typedef struct batch {
	int64_t first;
	int32_t n, done;   /* items, and of them returned by next */
	int dim;
	buf b;             /* the message, read up to item `done` */
	struct batch *next;
} batch;

struct siam_mpi_farm {
	const siam_index_item *items;
	size_t n, handed;  /* items, and handed out so far */
	size_t cursor;     /* the next result next() returns */
	size_t per, window;
	batch *got;        /* results received, not yet returned */
	batch *cur;        /* the one next() reads from */
	int *idle;         /* workers that asked while the window was full */
	int nidle, nworkers, stopped;
	uint64_t bytes;
	buf out;
};

static void send_work(siam_mpi_farm *f, int rank)
{
	size_t first = f->handed, n = f->n - f->handed;
	if (n > f->per)
		n = f->per;
	buf *b = &f->out;
	b->len = 0;
	if (n) {
		int64_t fi = (int64_t)first;
		int32_t nn = (int32_t)n;
		put(b, &fi, sizeof fi);
		put(b, &nn, sizeof nn);
		for (size_t i = first; i < first + n; i++) {
			unsigned char u = (unsigned char)f->items[i].is_url;
			put(b, &u, 1);
			put_str(b, f->items[i].path);
			put_str(b, f->items[i].stored_hash);
		}
	} else {
		f->stopped++; /* an empty WORK: stop */
	}
	f->handed += n;
	f->bytes += b->len;
	siam_mpi_check(MPI_Send(b->p, (int)b->len, MPI_BYTE, rank, TAG_WORK,
	                        MPI_COMM_WORLD), "sending work");
}

/* A worker asks: work if there is some within the window, stop if the
 * walk is all handed out (or there was none: items NULL), else it
 * waits among the idle. */
static void serve(siam_mpi_farm *f, int rank)
{
	if (f->items && f->handed < f->n &&
	    f->handed >= f->cursor + f->window)
		f->idle[f->nidle++] = rank;
	else
		send_work(f, rank);
}

/* Receives one REQ if one is waiting (block: wait for it); keeps its
 * results; answers it.  Returns 1 if one came. */
static int poll_once(siam_mpi_farm *f, int block)
{
	MPI_Status st;
	int flag = 1;
	if (block)
		siam_mpi_check(MPI_Probe(MPI_ANY_SOURCE, TAG_REQ,
		                         MPI_COMM_WORLD, &st), "waiting for ranks");
	else
		siam_mpi_check(MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQ,
		                          MPI_COMM_WORLD, &flag, &st),
		               "waiting for ranks");
	if (!flag)
		return 0;
	batch *bt = calloc(1, sizeof *bt);
	if (!bt)
		siam_mpi_abort(2, "out of memory");
	recv_probed(&bt->b, &st, TAG_REQ);
	f->bytes += bt->b.len;
	if (bt->b.len) {
		get(&bt->b, &bt->first, sizeof bt->first);
		get(&bt->b, &bt->n, sizeof bt->n);
		get(&bt->b, &bt->dim, sizeof bt->dim);
		bt->next = f->got;
		f->got = bt;
	} else {
		free(bt);
	}
	serve(f, st.MPI_SOURCE);
	return 1;
}

static int farm_start(void *arg, const siam_index_item *items, size_t n,
                      siam_error *err)
{
	siam_mpi_farm *f = arg;
	(void)err;
	f->items = items;
	f->n = n;
	/* The workers that asked before the walk ended get work now. */
	int nidle = f->nidle;
	f->nidle = 0;
	for (int i = 0; i < nidle; i++)
		serve(f, f->idle[i]);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void free_batch(batch *b)
{
	if (b) {
		free(b->b.p);
		free(b);
	}
}

static int farm_next(void *arg, double wait_s, siam_index_result *r,
                     double *embed_s, siam_error *err)
{
	siam_mpi_farm *f = arg;
	(void)err;
	*embed_s = 0;
	if (f->cur && f->cur->done == f->cur->n) {
		free_batch(f->cur);
		f->cur = NULL;
		/* The window moved: the idle get work. */
		int nidle = f->nidle;
		f->nidle = 0;
		for (int i = 0; i < nidle; i++)
			serve(f, f->idle[i]);
	}
	double t0 = now_s();
	while (!f->cur) {
		for (batch **pp = &f->got; *pp; pp = &(*pp)->next)
			if ((size_t)(*pp)->first == f->cursor) {
				f->cur = *pp;
				*pp = f->cur->next;
				double es;
				get(&f->cur->b, &es, sizeof es);
				*embed_s = es;
				break;
			}
		if (f->cur)
			break;
		if (!poll_once(f, 0)) {
			if (now_s() - t0 >= wait_s)
				return 1;
			struct timespec ts = { 0, 200000 }; /* 0.2 ms */
			nanosleep(&ts, NULL);
		}
	}
	batch *bt = f->cur;
	buf *b = &bt->b;
	int32_t kind, code, w, h;
	memset(r, 0, sizeof *r);
	get(b, &kind, sizeof kind);
	get(b, &code, sizeof code);
	get(b, &r->size, sizeof r->size);
	get(b, &w, sizeof w);
	get(b, &h, sizeof h);
	get(b, &r->phash, sizeof r->phash);
	unsigned char g;
	get(b, &g, 1);
	r->has_gray32 = g;
	if (g)
		get(b, r->gray32, sizeof r->gray32);
	get(b, &r->read_s, sizeof r->read_s);
	get(b, &r->decode_s, sizeof r->decode_s);
	get(b, &r->resize_s, sizeof r->resize_s);
	snprintf(r->hash, sizeof r->hash, "%s", get_str(b));
	snprintf(r->msg, sizeof r->msg, "%s", get_str(b));
	r->kind = kind;
	r->code = code;
	r->width = w;
	r->height = h;
	if (kind == SIAM_INDEX_EMBEDDED) {
		b->pos += (4 - b->pos % 4) % 4; /* the worker's pad */
		size_t nb = (size_t)bt->dim * sizeof(float);
		if (b->pos + nb > b->len)
			siam_mpi_abort(2, "a short message from another rank");
		/* Aligned for floats: the message is malloc'ed and every
		 * embedding starts at a multiple of 4 (see pad in the
		 * worker). */
		r->embedding = (const float *)(b->p + b->pos);
		b->pos += nb;
	}
	bt->done++;
	f->cursor++;
	return 0;
}

siam_mpi_farm *siam_mpi_farm_new(siam_index_farm *fm, int per)
{
	siam_mpi_farm *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->nworkers = siam_mpi_size() - 1;
	f->idle = calloc((size_t)f->nworkers + 1, sizeof *f->idle);
	if (!f->idle) {
		free(f);
		return NULL;
	}
	f->per = per > 0 ? (size_t)per : 32;
	/* Room for every worker to be several batches ahead of the oldest
	 * result still awaited. */
	f->window = f->per * (size_t)f->nworkers * 4;
	fm->arg = f;
	fm->start = farm_start;
	fm->next = farm_next;
	return f;
}

void siam_mpi_farm_end(siam_mpi_farm *f, uint64_t *bytes)
{
	/* Whatever happened, every worker stops: those idle now, then each
	 * as it comes back for more (its results are dropped: the run is
	 * over, or failed). */
	f->items = NULL;
	f->n = f->handed;
	int nidle = f->nidle;
	f->nidle = 0;
	for (int i = 0; i < nidle; i++)
		send_work(f, f->idle[i]);
	while (f->stopped < f->nworkers)
		poll_once(f, 1);
	if (bytes)
		*bytes = f->bytes;
	while (f->got) {
		batch *b = f->got;
		f->got = b->next;
		free_batch(b);
	}
	free_batch(f->cur);
	free(f->out.p);
	free(f->idle);
	free(f);
}

/* ---- ranks 1..N-1 ------------------------------------------------------ */

int siam_mpi_index_worker(siam_model *m, const siam_index_opts *opts)
{
	buf in = { 0 }, out = { 0 };
	siam_index_item *items = NULL;
	siam_index_result *res = NULL;
	float *emb = NULL;
	size_t cap = 0;
	int dim = siam_model_embed_dim(m);
#ifdef SIAM_TEST_HOOKS /* tests/siam-hooked: a worker killed mid-run */
	const char *kr = getenv("SIAM_TEST_MPI_KILL_RANK");
	const char *kb = getenv("SIAM_TEST_MPI_KILL_BATCHES");
	long kill_batches = kr && atoi(kr) == siam_mpi_rank() && kb ?
	                    atol(kb) : 0;
#endif
	/* The first request carries no results. */
	siam_mpi_check(MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_REQ,
	                        MPI_COMM_WORLD), "asking rank 0 for work");
	for (;;) {
		MPI_Status st;
		siam_mpi_check(MPI_Probe(0, TAG_WORK, MPI_COMM_WORLD, &st),
		               "waiting for rank 0");
		recv_probed(&in, &st, TAG_WORK);
		if (!in.len)
			break;
		int64_t first;
		int32_t n;
		get(&in, &first, sizeof first);
		get(&in, &n, sizeof n);
		if (n <= 0)
			siam_mpi_abort(2, "rank 0 sent %d items", (int)n);
		if ((size_t)n > cap) {
			free(items);
			free(res);
			free(emb);
			cap = (size_t)n;
			items = calloc(cap, sizeof *items);
			res = calloc(cap, sizeof *res);
			emb = calloc(cap * (size_t)dim, sizeof *emb);
			if (!items || !res || !emb)
				siam_mpi_abort(2, "out of memory");
		}
		for (int32_t i = 0; i < n; i++) {
			unsigned char u;
			get(&in, &u, 1);
			items[i].is_url = u;
			items[i].path = get_str(&in);
			const char *h = get_str(&in);
			items[i].stored_hash = *h ? h : NULL;
		}
		double embed_s = 0;
		siam_error err = { 0, "" };
		if (siam_index_process(m, opts, items, (size_t)n, res, emb,
		                       &embed_s, &err))
			siam_mpi_abort(2, "%s", err.msg);
		out.len = 0;
		put(&out, &first, sizeof first);
		put(&out, &n, sizeof n);
		put(&out, &dim, sizeof dim);
		put(&out, &embed_s, sizeof embed_s);
		for (int32_t i = 0; i < n; i++) {
			const siam_index_result *r = &res[i];
			int32_t kind = r->kind, code = r->code;
			int32_t w = r->width, h = r->height;
			put(&out, &kind, sizeof kind);
			put(&out, &code, sizeof code);
			put(&out, &r->size, sizeof r->size);
			put(&out, &w, sizeof w);
			put(&out, &h, sizeof h);
			put(&out, &r->phash, sizeof r->phash);
			/* the flag, then images.gray32 when there is one */
			unsigned char g = r->has_gray32 != 0;
			put(&out, &g, 1);
			if (g)
				put(&out, r->gray32, sizeof r->gray32);
			put(&out, &r->read_s, sizeof r->read_s);
			put(&out, &r->decode_s, sizeof r->decode_s);
			put(&out, &r->resize_s, sizeof r->resize_s);
			put_str(&out, r->hash);
			put_str(&out, r->msg);
			if (r->kind == SIAM_INDEX_EMBEDDED) {
				/* pad to a multiple of 4 (rank 0 reads the floats
				 * in place) */
				static const char zero[4];
				put(&out, zero, (4 - out.len % 4) % 4);
				put(&out, r->embedding,
				    (size_t)dim * sizeof(float));
			}
		}
#ifdef SIAM_TEST_HOOKS
		if (kill_batches > 0 && --kill_batches == 0)
			raise(SIGKILL);
#endif
		siam_mpi_check(MPI_Send(out.p, (int)out.len, MPI_BYTE, 0,
		                        TAG_REQ, MPI_COMM_WORLD),
		               "sending results to rank 0");
	}
	free(in.p);
	free(out.p);
	free(items);
	free(res);
	free(emb);
	return 0;
}
