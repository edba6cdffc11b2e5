/*
 * net.c -- a network built from an architecture spec string.
 *
 * The layers are the plain functions of conv.c, pool.c, relu.c, dense.c
 * and l2norm.c; this file parses the spec, lays out the memory and runs
 * them in order.  As in llm.c, all parameters live in one allocation
 * (each layer's weights then its bias, in layer order) and the gradients
 * in a second one with the same layout, so zeroing is one memset and the
 * optimiser is one flat loop.  Activations, their gradients and the
 * layers' caches (pool argmax, conv im2col, l2 norms) are sized for the
 * largest batch seen so far and grow when a larger one comes.
 *
 * "convKxC relu poolP" runs as one fused kernel (see nn.h): the ReLU and
 * the pool happen in the pass that adds the conv's bias, so the largest
 * maps of the net are never written out.  The layers still appear one
 * by one in siam_net_layer(); only their execution is fused.
 *
 * Threads: the batch buffers, the layers' scratch and a thread pool
 * (src/threads.c) form a workspace.  siam_net_forward and backward use
 * the net's own one (training: one thread at a time); siam_net_embed
 * takes a workspace of its own from an idle list under a lock, so one
 * net serves many threads at once, each call with its own buffers.
 * A conv layer's batch is a series of chunks (conv.c), and with T
 * threads (siam_set_threads) thread t runs chunks t, t+T, ... with a
 * single-threaded GEMM each, so that the im2col, pooling and col2im
 * passes run in parallel too.  Each thread accumulates its weight
 * gradient in its own buffer; they are added in thread order, so a run
 * is reproducible for a given T.  An fc layer's forward is one GEMM on
 * the calling thread; its backward's two GEMMs (input gradient, weight
 * gradient) run side by side.  OpenBLAS itself stays at one thread
 * (blas.c): no GEMM's result depends on T, so embeddings do not either.
 *
 * Nor on the batch: an embedding workspace (siam_net_embed) runs each
 * conv as one GEMM per sample (conv.c) and each fc layer as one GEMV
 * per row (dense.c), products of one shape whatever the batch, so that
 * a sample's embedding is the same bits alone, in any batch at any
 * position and on any thread count (tests/test_embed_batch.c; `mpirun
 * siam index` writes what one process writes).  At batch 256 that
 * costs 6-12% of the time per image against the batch-wide GEMMs; at
 * batch 1 nothing, or less time (README, "Speed").  Training
 * (siam_net_forward) keeps its batch-wide GEMMs and its arithmetic.
 */
#include "nn.h"
#include "threads.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Limits that keep every size computation far from overflow and refuse
 * absurd specs before they ask for gigabytes. */
#define MAX_DIM 65536            /* any C, H, W, kernel count, fc width */
#define MAX_KERNEL 63
#define MAX_SAMPLE ((size_t)1 << 26) /* floats in one sample's activation */
#define MAX_PARAMS ((size_t)1 << 30)
/* siam_net_embed runs large inputs in chunks so that memory stays
 * bounded by this batch. */
#define EMBED_CHUNK 256

struct siam_net {
	char *spec;           /* canonical spec */
	int nlayers;
	siam_layer *layers;   /* (nlayers) */
	int in_c, in_h, in_w;
	size_t in_size;       /* in_c * in_h * in_w */
	size_t nparams;
	float *params;        /* (nparams) */
	float *grads;         /* (nparams), same layout */

	/* Fusion: a conv followed by relu (and pool) runs as one kernel
	 * (nn_conv2d_forward); fold[i] is how many layers conv i absorbs,
	 * and -1 marks an absorbed layer.  A group's output lives in the
	 * buffers of its last layer; absorbed layers get none. */
	int *fold;
	size_t nconvp;        /* conv weights and biases, all layers */
	size_t *poff;         /* (nlayers) offset of conv i's in a part */

	/* Training: the workspace of siam_net_forward and backward, and
	 * B, the last forward's batch. */
	struct net_ws *ws;
	int B;
	/* siam_net_embed's workspaces not in use, under mu. */
	pthread_mutex_t mu;
	struct net_ws *idle;
};

/* Batch buffers for up to cap samples, the layers' scratch and the
 * threads that share them: what one forward (and backward) needs. */
typedef struct net_ws {
	int cap;              /* samples the buffers hold */
	int want;             /* thread count asked for when laid out */
	int nthr;             /* threads the scratch is laid out for */
	int train;            /* 1: also gradient buffers for backward */
	int asked;            /* threads were asked for at this count */
	thr_pool *pool;       /* nthr threads, or NULL when nthr = 1 */
	float *input;         /* (cap, in_size) */
	float *acts;          /* every layer's output, one block */
	float *dacts;         /* their gradients, same layout (train) */
	float *scratch;       /* conv scratch and l2 norms, one block */
	int *argmax;          /* pool caches, one block */
	float **act, **dact, **scr; /* per-layer views into the blocks */
	int **am;
	size_t conv_scr;      /* floats of one thread's conv scratch */
	float *part;          /* (nthr - 1, nconvp) conv gradients (train) */
	struct net_ws *next;  /* the net's idle list */
} net_ws;

static size_t layer_out_size(const siam_layer *l)
{
	return (size_t)l->out_c * l->out_h * l->out_w;
}

static size_t layer_in_size(const siam_layer *l)
{
	return (size_t)l->in_c * l->in_h * l->in_w;
}

/* Floats of the layer's scratch for a batch of B.  The conv scratch is
 * workspace, free again after each call, so the conv layers share one;
 * the l2 norms are kept from forward to backward. */
static size_t layer_scratch_size(const siam_layer *l, int B)
{
	if (l->kind == SIAM_LAYER_CONV)
		return siam_conv2d_scratch_size(B, l->in_c, l->in_h, l->in_w,
		                                l->out_c, l->k, l->pad);
	if (l->kind == SIAM_LAYER_L2NORM)
		return (size_t)B;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The spec parser                                                      */

/* Reads a decimal number of 1..max from *p, advancing it.  Returns -1 if
 * there is no number or it is out of range. */
static int parse_num(const char **p, int max)
{
	const char *s = *p;
	long v = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
		s++;
	}
	if (v < 1)
		return -1;
	*p = s;
	return (int)v;
}

static int appendf(char **buf, size_t *len, size_t *cap, const char *fmt,
                   int a, int b, int c)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof tmp, fmt, a, b, c);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	if (*len + (size_t)n + 2 > *cap) {
		size_t ncap = (*cap ? *cap * 2 : 128) + (size_t)n;
		char *nb = realloc(*buf, ncap);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	if (*len)
		(*buf)[(*len)++] = ' ';
	memcpy(*buf + *len, tmp, (size_t)n + 1);
	*len += (size_t)n;
	return 0;
}

#define SPEC_TOKENS "in=CxHxW, convKxC, convKxC:same, relu, poolP, " \
	"flatten, fcN or l2"

int siam_net_create(siam_net **out, const char *spec, siam_error *err)
{
	siam_net *net = NULL;
	char *copy = NULL, *canon = NULL;
	size_t clen = 0, ccap = 0;
	int rc = SIAM_ENOMEM, ntok = 0;

	*out = NULL;
	if (!spec)
		spec = SIAM_DEFAULT_ARCH;
	net = calloc(1, sizeof *net);
	if (net)
		pthread_mutex_init(&net->mu, NULL);
	copy = strdup(spec);
	if (!net || !copy)
		goto nomem;
	/* at most one layer per token */
	for (const char *s = spec; *s; s++)
		if (!isspace((unsigned char)*s) &&
		    (s == spec || isspace((unsigned char)s[-1])))
			ntok++;
	if (ntok == 0) {
		rc = siam_errorf(err, SIAM_EINVAL, "empty architecture: expected "
		                 "something like '%s'", SIAM_DEFAULT_ARCH);
		goto fail;
	}
	net->layers = calloc((size_t)ntok, sizeof *net->layers);
	if (!net->layers)
		goto nomem;

	int c = 0, h = 0, w = 0, seen_in = 0;
	size_t np = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, " \t\r\n\f\v", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n\f\v", &save)) {
		const char *p = tok;
		siam_layer l;
		memset(&l, 0, sizeof l);
		l.in_c = c, l.in_h = h, l.in_w = w;
		if (!strncmp(tok, "in=", 3)) {
			if (seen_in) {
				rc = siam_errorf(err, SIAM_EINVAL, "bad layer '%s' in "
				                 "architecture: in= may appear only "
				                 "once, first", tok);
				goto fail;
			}
			p += 3;
			if ((c = parse_num(&p, MAX_DIM)) < 0 || *p++ != 'x' ||
			    (h = parse_num(&p, MAX_DIM)) < 0 || *p++ != 'x' ||
			    (w = parse_num(&p, MAX_DIM)) < 0 || *p) {
				rc = siam_errorf(err, SIAM_EINVAL, "bad input '%s' in "
				                 "architecture: expected in=CxHxW with "
				                 "sizes from 1 to %d", tok, MAX_DIM);
				goto fail;
			}
			if ((size_t)c * h * w > MAX_SAMPLE) {
				rc = siam_errorf(err, SIAM_EINVAL, "input '%s' is too "
				                 "large: at most %zu values", tok,
				                 MAX_SAMPLE);
				goto fail;
			}
			seen_in = 1;
			if (appendf(&canon, &clen, &ccap, "in=%dx%dx%d", c, h, w))
				goto nomem;
			continue;
		}
		if (!seen_in) {
			rc = siam_errorf(err, SIAM_EINVAL, "architecture must start "
			                 "with in=CxHxW, not '%s'", tok);
			goto fail;
		}
		if (net->nlayers > 0 &&
		    net->layers[net->nlayers - 1].kind == SIAM_LAYER_L2NORM) {
			rc = siam_errorf(err, SIAM_EINVAL, "bad layer '%s' in "
			                 "architecture: l2 must be the last layer",
			                 tok);
			goto fail;
		}
		if (!strncmp(tok, "conv", 4)) {
			int k, oc;
			p += 4;
			if ((k = parse_num(&p, MAX_KERNEL)) < 0 || *p++ != 'x' ||
			    (oc = parse_num(&p, MAX_DIM)) < 0 ||
			    (*p && strcmp(p, ":same"))) {
				rc = siam_errorf(err, SIAM_EINVAL, "bad layer '%s' in "
				                 "architecture: expected convKxC or "
				                 "convKxC:same (K from 1 to %d)", tok,
				                 MAX_KERNEL);
				goto fail;
			}
			int same = *p != 0;
			if (same && k % 2 == 0) {
				rc = siam_errorf(err, SIAM_EINVAL, "bad layer '%s' in "
				                 "architecture: same padding needs an "
				                 "odd kernel", tok);
				goto fail;
			}
			l.kind = SIAM_LAYER_CONV;
			l.k = k;
			l.pad = same ? k / 2 : 0;
			l.out_c = oc;
			l.out_h = h + 2 * l.pad - k + 1;
			l.out_w = w + 2 * l.pad - k + 1;
			if (l.out_h < 1 || l.out_w < 1) {
				rc = siam_errorf(err, SIAM_EINVAL, "layer '%s' needs an "
				                 "input of at least %dx%d but gets %dx%d "
				                 "in architecture", tok, k, k, h, w);
				goto fail;
			}
			l.w_len = (size_t)oc * c * k * k;
			l.b_len = (size_t)oc;
			if (appendf(&canon, &clen, &ccap,
			            same ? "conv%dx%d:same" : "conv%dx%d", k, oc, 0))
				goto nomem;
		} else if (!strcmp(tok, "relu")) {
			l.kind = SIAM_LAYER_RELU;
			l.out_c = c, l.out_h = h, l.out_w = w;
			if (appendf(&canon, &clen, &ccap, "relu", 0, 0, 0))
				goto nomem;
		} else if (!strncmp(tok, "pool", 4)) {
			int pz;
			p += 4;
			if ((pz = parse_num(&p, MAX_DIM)) < 0 || *p) {
				rc = siam_errorf(err, SIAM_EINVAL, "bad layer '%s' in "
				                 "architecture: expected poolP", tok);
				goto fail;
			}
			l.kind = SIAM_LAYER_POOL;
			l.k = pz;
			l.out_c = c, l.out_h = h / pz, l.out_w = w / pz;
			if (l.out_h < 1 || l.out_w < 1) {
				rc = siam_errorf(err, SIAM_EINVAL, "layer '%s' would make "
				                 "a %dx%d map from a %dx%d input in "
				                 "architecture", tok, l.out_h, l.out_w,
				                 h, w);
				goto fail;
			}
			if (appendf(&canon, &clen, &ccap, "pool%d", pz, 0, 0))
				goto nomem;
		} else if (!strcmp(tok, "flatten")) {
			/* fc reads its input as (B, C*H*W) anyway */
			continue;
		} else if (!strncmp(tok, "fc", 2)) {
			int n;
			p += 2;
			if ((n = parse_num(&p, MAX_DIM)) < 0 || *p) {
				rc = siam_errorf(err, SIAM_EINVAL, "bad layer '%s' in "
				                 "architecture: expected fcN (N from 1 "
				                 "to %d)", tok, MAX_DIM);
				goto fail;
			}
			l.kind = SIAM_LAYER_FC;
			l.out_c = n, l.out_h = 1, l.out_w = 1;
			l.w_len = (size_t)n * c * h * w;
			l.b_len = (size_t)n;
			if (appendf(&canon, &clen, &ccap, "fc%d", n, 0, 0))
				goto nomem;
		} else if (!strcmp(tok, "l2")) {
			l.kind = SIAM_LAYER_L2NORM;
			l.out_c = c, l.out_h = h, l.out_w = w;
			if (appendf(&canon, &clen, &ccap, "l2", 0, 0, 0))
				goto nomem;
		} else {
			rc = siam_errorf(err, SIAM_EINVAL, "bad layer '%s' in "
			                 "architecture: expected %s", tok,
			                 SPEC_TOKENS);
			goto fail;
		}
		if (layer_out_size(&l) > MAX_SAMPLE ||
		    layer_scratch_size(&l, 1) > MAX_SAMPLE * 64) {
			rc = siam_errorf(err, SIAM_EINVAL, "layer '%s' is too large "
			                 "in architecture", tok);
			goto fail;
		}
		l.w_off = np;
		l.b_off = np + l.w_len;
		np += l.w_len + l.b_len;
		if (np > MAX_PARAMS) {
			rc = siam_errorf(err, SIAM_EINVAL, "architecture has too many "
			                 "parameters at '%s' (at most %zu)", tok,
			                 MAX_PARAMS);
			goto fail;
		}
		c = l.out_c, h = l.out_h, w = l.out_w;
		net->layers[net->nlayers++] = l;
	}
	if (!seen_in) {
		rc = siam_errorf(err, SIAM_EINVAL, "architecture must start with "
		                 "in=CxHxW");
		goto fail;
	}
	if (net->nlayers == 0) {
		rc = siam_errorf(err, SIAM_EINVAL, "architecture '%s' has no "
		                 "layers after its input", spec);
		goto fail;
	}
	const siam_layer *l0 = &net->layers[0];
	net->in_c = l0->in_c, net->in_h = l0->in_h, net->in_w = l0->in_w;
	net->in_size = layer_in_size(l0);
	net->nparams = np;
	net->params = siam_xcalloc(np, sizeof(float));
	net->grads = siam_xcalloc(np, sizeof(float));
	net->fold = calloc((size_t)net->nlayers, sizeof *net->fold);
	net->poff = calloc((size_t)net->nlayers, sizeof *net->poff);
	if (!net->params || !net->grads || !net->fold || !net->poff)
		goto nomem;
	for (int i = 0; i < net->nlayers; i++)
		if (net->layers[i].kind == SIAM_LAYER_CONV) {
			net->poff[i] = net->nconvp;
			net->nconvp += net->layers[i].w_len + net->layers[i].b_len;
		}
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		if (l->kind != SIAM_LAYER_CONV || i + 1 >= net->nlayers ||
		    l[1].kind != SIAM_LAYER_RELU)
			continue;
		net->fold[i] = 1;
		net->fold[i + 1] = -1;
		if (i + 2 < net->nlayers && l[2].kind == SIAM_LAYER_POOL) {
			net->fold[i] = 2;
			net->fold[i + 2] = -1;
		}
	}
	net->spec = canon;
	free(copy);
	*out = net;
	return SIAM_OK;

nomem:
	rc = siam_errorf(err, SIAM_ENOMEM, "out of memory building the network");
fail:
	free(canon);
	free(copy);
	siam_net_free(net);
	return rc;
}

static void ws_free_buffers(net_ws *ws)
{
	free(ws->input); /* one block, see reserve */
	ws->input = ws->acts = ws->dacts = ws->scratch = ws->part = NULL;
	ws->argmax = NULL;
	ws->cap = 0;
}

static void ws_free(net_ws *ws)
{
	if (!ws)
		return;
	ws_free_buffers(ws);
	thr_pool_free(ws->pool);
	free(ws->act); /* act, dact and scr are one block */
	free(ws->am);
	free(ws);
}

static net_ws *ws_new(const siam_net *net, int train)
{
	net_ws *ws = calloc(1, sizeof *ws);
	if (!ws)
		return NULL;
	size_t L = (size_t)net->nlayers;
	ws->train = train;
	ws->nthr = 1;
	ws->act = calloc(3 * L, sizeof *ws->act);
	ws->am = calloc(L, sizeof *ws->am);
	if (!ws->act || !ws->am) {
		ws_free(ws);
		return NULL;
	}
	ws->dact = ws->act + L;
	ws->scr = ws->act + 2 * L;
	return ws;
}

void siam_net_free(siam_net *net)
{
	if (!net)
		return;
	ws_free(net->ws);
	while (net->idle) {
		net_ws *n = net->idle->next;
		ws_free(net->idle);
		net->idle = n;
	}
	pthread_mutex_destroy(&net->mu);
	free(net->fold);
	free(net->poff);
	free(net->params);
	free(net->grads);
	free(net->layers);
	free(net->spec);
	free(net);
}

/* Does layer i end its group (and so own an output buffer)? */
static int group_end(const siam_net *net, int i)
{
	return i + 1 >= net->nlayers || net->fold[i + 1] != -1;
}

/* The most conv chunks of any layer for a batch of B. */
static int max_chunks(const siam_net *net, int B)
{
	int most = 0;
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		if (l->kind != SIAM_LAYER_CONV)
			continue;
		int c = nn_conv2d_chunks(B, l->in_c, l->in_h, l->in_w, l->k,
		                         l->pad);
		most = c > most ? c : most;
	}
	return most;
}

/* Makes room in ws for B samples.  Buffers are reallocated only when B
 * grows past the capacity (or the thread count changed), so a training
 * loop allocates once. */
static int reserve(const siam_net *net, net_ws *ws, int B, siam_error *err)
{
	/* The thread count may have changed since the last batch; the
	 * conv scratch and gradient parts are per thread. */
	int T = nn_threads();
	T = T > THR_MAX ? THR_MAX : T;
	/* An embedding of small batches never runs a conv in parallel
	 * (one chunk): its workspace gets threads only when a batch could
	 * use them, so that a server embedding one image per call from
	 * many threads does not keep T - 1 idle threads per caller. */
	int need = T > 1 && (ws->train || max_chunks(net, B) >= 2);
	if (T != ws->want || (need && !ws->asked)) {
		thr_pool_free(ws->pool);
		ws->pool = NULL;
		ws->nthr = 1;
		if (need && (ws->pool = thr_pool_new(T)))
			ws->nthr = T;
		ws->want = T;
		ws->asked = need;
		if (ws->cap > B)
			B = ws->cap;
		ws->cap = 0;
	}
	if (B <= ws->cap)
		return SIAM_OK;
	size_t nact = 0, nconv = 0, nnorm = 0, nam = 0;
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		size_t ns = layer_scratch_size(l, B);
		if (group_end(net, i))
			nact += layer_out_size(l);
		if (l->kind == SIAM_LAYER_CONV)
			nconv = ns > nconv ? ns : nconv;
		else
			nnorm += ns;
		if (l->kind == SIAM_LAYER_POOL)
			nam += layer_out_size(l);
	}
	size_t T1 = (size_t)ws->nthr, Bz = (size_t)B;
	ws_free_buffers(ws);
	/* Floats of each part of one block: the input, the activations
	 * (and their gradients), the scratch (T1 conv scratches, then the
	 * l2 norms), the conv gradient parts of threads 1.. and the pool
	 * caches (ints, which are a float's size). */
	_Static_assert(sizeof(int) == sizeof(float), "argmax in the block");
	size_t sz[6], off[6], total = 0;
	int over = __builtin_mul_overflow(Bz, net->in_size, &sz[0]);
	over |= __builtin_mul_overflow(Bz, nact, &sz[1]);
	sz[2] = ws->train ? sz[1] : 0;
	over |= __builtin_mul_overflow(T1, nconv, &sz[3]);
	over |= __builtin_add_overflow(sz[3], nnorm, &sz[3]);
	sz[4] = ws->train ? (T1 - 1) * net->nconvp : 0;
	over |= __builtin_mul_overflow(Bz, nam, &sz[5]);
	for (int k = 0; k < 6; k++) {
		off[k] = total;
		over |= __builtin_add_overflow(total, sz[k], &total);
	}
	float *block = over ? NULL : siam_xmalloc_n(total, sizeof(float));
	if (!block)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory for a batch "
		                   "of %d samples", B);
	ws->input = block + off[0];
	ws->acts = block + off[1];
	ws->dacts = ws->train ? block + off[2] : NULL;
	ws->scratch = block + off[3];
	ws->part = ws->train ? block + off[4] : NULL;
	ws->argmax = (int *)(block + off[5]); /* an int is a float's size */
	ws->conv_scr = nconv;
	size_t oa = 0, os = T1 * nconv, om = 0;
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		int own = group_end(net, i);
		ws->act[i] = own ? ws->acts + oa : NULL;
		ws->dact[i] = own && ws->dacts ? ws->dacts + oa : NULL;
		ws->am[i] = ws->argmax + om;
		if (own)
			oa += (size_t)B * layer_out_size(l);
		if (l->kind == SIAM_LAYER_CONV) {
			ws->scr[i] = ws->scratch; /* thread t: + t * conv_scr */
		} else {
			ws->scr[i] = ws->scratch + os;
			os += layer_scratch_size(l, B);
		}
		if (l->kind == SIAM_LAYER_POOL)
			om += (size_t)B * layer_out_size(l);
	}
	ws->cap = B;
	return SIAM_OK;
}

/* ------------------------------------------------------------------ */
/* Conv layers, run by the workspace's threads                          */

struct conv_job {
	const siam_net *net;
	net_ws *ws;
	int i, e, B, backward;
	const float *x, *d;
	float *y, *dx;
	float *grads;         /* backward: the net's gradients */
};

static void conv_task(void *arg, int t, int T)
{
	struct conv_job *j = arg;
	const siam_net *net = j->net;
	net_ws *ws = j->ws;
	const siam_layer *l = &net->layers[j->i];
	int f = net->fold[j->i];
	int relu = f >= 1, P = f == 2 ? l[2].k : 0;
	float *scr = ws->scr[j->i] + (size_t)t * ws->conv_scr;
	const float *p = net->params;
	if (!j->backward) {
		nn_conv2d_forward(j->y, ws->am[j->e], scr, j->x, p + l->w_off,
		                  p + l->b_off, j->B, l->in_c, l->in_h, l->in_w,
		                  l->out_c, l->k, l->pad, relu, P, t, T,
		                  !ws->train);
		return;
	}
	/* thread 0 adds into the gradients, the others into their parts */
	float *dw = t == 0 ? j->grads + l->w_off
	                   : ws->part + (size_t)(t - 1) * net->nconvp +
	                     net->poff[j->i];
	float *db = t == 0 ? j->grads + l->b_off : dw + l->w_len;
	if (t > 0)
		memset(dw, 0, (l->w_len + l->b_len) * sizeof(float));
	nn_conv2d_backward(j->dx, dw, db, scr, j->d, j->x, ws->act[j->e],
	                   ws->am[j->e], p + l->w_off, j->B, l->in_c, l->in_h,
	                   l->in_w, l->out_c, l->k, l->pad, relu, P, t, T);
}

/* Runs conv layer i (its group ends at layer e) forward or backward on
 * the workspace's threads when the batch has chunks enough for them. */
static void conv_run(struct conv_job *j)
{
	const siam_net *net = j->net;
	const siam_layer *l = &net->layers[j->i];
	int chunks = nn_conv2d_chunks(j->B, l->in_c, l->in_h, l->in_w, l->k,
	                              l->pad);
	if (chunks < 2) {
		conv_task(j, 0, 1);
		return;
	}
	int T = thr_pool_run(j->ws->pool, conv_task, j);
	if (!j->backward)
		return;
	size_t n = l->w_len + l->b_len;
	float *g = j->grads + l->w_off; /* bias follows the weights */
	for (int t = 1; t < T; t++) {
		const float *part = j->ws->part + (size_t)(t - 1) * net->nconvp +
		                    net->poff[j->i];
		for (size_t k = 0; k < n; k++)
			g[k] += part[k];
	}
}

/* An fc layer's backward: the input gradient and the weight gradient
 * are two independent GEMMs, each run whole on one thread, so that the
 * result is the same for any thread count. */
struct fc_job {
	const siam_layer *l;
	float *dx, *g;
	const float *d, *x, *p;
	int B;
};

static void fc_back_task(void *arg, int t, int T)
{
	struct fc_job *j = arg;
	const siam_layer *l = j->l;
	int in = (int)layer_in_size(l);
	if (t == 0 && j->dx)
		nn_dense_backward_input(j->dx, j->d, j->p + l->w_off, j->B, in,
		                        l->out_c);
	if (t == 1 || T == 1)
		nn_dense_backward_params(j->g + l->w_off, j->g + l->b_off, j->d,
		                         j->x, j->B, in, l->out_c);
}

/* ------------------------------------------------------------------ */

/* The forward of B samples already in ws->input; returns the output. */
static const float *forward(const siam_net *net, net_ws *ws, int B)
{
	const float *x = ws->input;
	const float *p = net->params;
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		if (net->fold[i] < 0)
			continue;
		int e = i + (net->fold[i] > 0 ? net->fold[i] : 0); /* group end */
		float *y = ws->act[e];
		switch (l->kind) {
		case SIAM_LAYER_CONV: {
			struct conv_job j = { net, ws, i, e, B, 0, x, NULL, y,
			                      NULL, NULL };
			conv_run(&j);
			break;
		}
		case SIAM_LAYER_RELU:
			siam_relu_forward(y, x, (size_t)B * layer_out_size(l));
			break;
		case SIAM_LAYER_POOL:
			siam_maxpool_forward(y, ws->am[i], x, B, l->in_c, l->in_h,
			                     l->in_w, l->k);
			break;
		case SIAM_LAYER_FC:
			/* an embedding row by row, see the top of the file */
			(ws->train ? siam_dense_forward : nn_dense_forward_each)(
				y, x, p + l->w_off, p + l->b_off, B,
				(int)layer_in_size(l), l->out_c);
			break;
		case SIAM_LAYER_L2NORM:
			siam_l2norm_forward(y, ws->scr[i], x, B,
			                    (int)layer_out_size(l));
			break;
		}
		x = y;
	}
	return x;
}

/* The training workspace, made on first use. */
static net_ws *train_ws(siam_net *net, siam_error *err)
{
	if (!net->ws && !(net->ws = ws_new(net, 1)))
		siam_errorf(err, SIAM_ENOMEM, "out of memory building the "
		            "network's buffers");
	return net->ws;
}

float *nn_net_input(siam_net *net, int B, siam_error *err)
{
	if (B <= 0) {
		siam_errorf(err, SIAM_EINVAL, "batch size must be positive, "
		            "got %d", B);
		return NULL;
	}
	net_ws *ws = train_ws(net, err);
	if (!ws || reserve(net, ws, B, err))
		return NULL;
	return ws->input;
}

const float *nn_net_forward_input(siam_net *net, int B)
{
	net->B = B;
	return forward(net, net->ws, B);
}

const float *siam_net_forward(siam_net *net, const float *inp, int B,
                              siam_error *err)
{
	float *buf = nn_net_input(net, B, err);
	if (!buf)
		return NULL;
	/* A private copy: backward must see this batch even if the caller
	 * reuses its buffer in between. */
	memcpy(buf, inp, (size_t)B * net->in_size * sizeof(float));
	return nn_net_forward_input(net, B);
}

void siam_net_backward(siam_net *net, const float *dout)
{
	int B = net->B, last = net->nlayers - 1;
	net_ws *ws = net->ws;
	if (B <= 0 || !ws)
		return;
	/* Layers accumulate into their input gradient, and each activation
	 * has one consumer: zero them all (the last is the caller's dout),
	 * then run back to front. */
	/* Each buffer is spaced for ws->cap samples, which may exceed B
	 * after a larger batch: zero each one's first B samples. */
	for (int i = 0; i < last; i++)
		if (group_end(net, i))
			memset(ws->dact[i], 0,
			       (size_t)B * layer_out_size(&net->layers[i]) *
			               sizeof(float));
	float *p = net->params, *g = net->grads;
	for (int i = last; i >= 0; i--) {
		const siam_layer *l = &net->layers[i];
		if (net->fold[i] < 0)
			continue;
		int e = i + (net->fold[i] > 0 ? net->fold[i] : 0); /* group end */
		const float *d = e == last ? dout : ws->dact[e];
		const float *x = i == 0 ? ws->input : ws->act[i - 1];
		float *dx = i == 0 ? NULL : ws->dact[i - 1];
		switch (l->kind) {
		case SIAM_LAYER_CONV: {
			struct conv_job j = { net, ws, i, e, B, 1, x, d, NULL, dx,
			                      g };
			conv_run(&j);
			break;
		}
		case SIAM_LAYER_RELU:
			if (dx)
				siam_relu_backward(dx, d, ws->act[i],
				                   (size_t)B * layer_out_size(l));
			break;
		case SIAM_LAYER_POOL:
			if (dx)
				siam_maxpool_backward(dx, d, ws->am[i], B, l->in_c,
				                      l->in_h, l->in_w, l->k);
			break;
		case SIAM_LAYER_FC: {
			struct fc_job j = { l, dx, g, d, x, p, B };
			thr_pool_run(ws->pool, fc_back_task, &j);
			break;
		}
		case SIAM_LAYER_L2NORM:
			if (dx)
				siam_l2norm_backward(dx, d, ws->act[i], ws->scr[i],
				                     B, (int)layer_out_size(l));
			break;
		}
	}
}

void siam_net_zero_grad(siam_net *net)
{
	memset(net->grads, 0, net->nparams * sizeof(float));
}

/* An embedding workspace: an idle one, else a new one.  NULL when out
 * of memory. */
static net_ws *embed_ws_take(siam_net *net)
{
	pthread_mutex_lock(&net->mu);
	net_ws *ws = net->idle;
	if (ws)
		net->idle = ws->next;
	pthread_mutex_unlock(&net->mu);
	return ws ? ws : ws_new(net, 0);
}

static void embed_ws_give(siam_net *net, net_ws *ws)
{
	pthread_mutex_lock(&net->mu);
	ws->next = net->idle;
	net->idle = ws;
	pthread_mutex_unlock(&net->mu);
}

int siam_net_embed(siam_net *net, const float *inp, int B, float *out,
                   siam_error *err)
{
	if (B <= 0)
		return siam_errorf(err, SIAM_EINVAL, "batch size must be "
		                   "positive, got %d", B);
	net_ws *ws = embed_ws_take(net);
	if (!ws)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory for a batch "
		                   "of %d samples", B);
	/* The chunk only bounds memory: a sample's embedding is the same
	 * in any batch (see the top of the file). */
	int chunk = EMBED_CHUNK;
	size_t D = (size_t)siam_net_embed_dim(net);
	int rc = SIAM_OK;
	for (int s = 0; s < B && !rc; s += chunk) {
		int n = B - s < chunk ? B - s : chunk;
		if ((rc = reserve(net, ws, n, err)))
			break;
		memcpy(ws->input, inp + (size_t)s * net->in_size,
		       (size_t)n * net->in_size * sizeof(float));
		const float *e = forward(net, ws, n);
		memcpy(out + (size_t)s * D, e, (size_t)n * D * sizeof(float));
	}
	embed_ws_give(net, ws);
	return rc;
}

void siam_net_init(siam_net *net, uint64_t seed)
{
	siam_rng rng;
	siam_rng_seed(&rng, seed);
	memset(net->params, 0, net->nparams * sizeof(float));
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		if (!l->w_len)
			continue;
		/* He et al. 2015: keeps the activations' variance through ReLUs */
		size_t fan_in = l->w_len / (size_t)l->out_c;
		float std = sqrtf(2.0f / (float)fan_in);
		float *w = net->params + l->w_off;
		for (size_t j = 0; j < l->w_len; j++)
			w[j] = std * siam_rng_normal(&rng);
	}
}

const char *siam_net_spec(const siam_net *net) { return net->spec; }
int siam_net_num_layers(const siam_net *net) { return net->nlayers; }

const siam_layer *siam_net_layer(const siam_net *net, int i)
{
	return i >= 0 && i < net->nlayers ? &net->layers[i] : NULL;
}

int siam_net_input_c(const siam_net *net) { return net->in_c; }
int siam_net_input_h(const siam_net *net) { return net->in_h; }
int siam_net_input_w(const siam_net *net) { return net->in_w; }
size_t siam_net_input_size(const siam_net *net) { return net->in_size; }

int siam_net_embed_dim(const siam_net *net)
{
	return (int)layer_out_size(&net->layers[net->nlayers - 1]);
}

size_t siam_net_num_params(const siam_net *net) { return net->nparams; }
float *siam_net_params(siam_net *net) { return net->params; }
float *siam_net_grads(siam_net *net) { return net->grads; }

double siam_net_forward_flops(const siam_net *net)
{
	double macs = 0.0;
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		if (l->kind == SIAM_LAYER_CONV)
			macs += (double)l->w_len * l->out_h * l->out_w;
		else if (l->kind == SIAM_LAYER_FC)
			macs += (double)l->w_len;
	}
	return 2.0 * macs;
}
