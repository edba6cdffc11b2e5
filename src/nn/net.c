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
 * Threads: a conv layer's batch is a series of chunks (conv.c), and with
 * T threads (siam_set_threads) thread t runs chunks t, t+T, ... with a
 * single-threaded GEMM each, so that the im2col, pooling and col2im
 * passes run in parallel too, not only the GEMMs as inside OpenBLAS.
 * Each thread accumulates its weight gradient in its own buffer; they
 * are added in thread order, so a run is reproducible for a given T.
 * The fc layers keep OpenBLAS's own threads.
 */
#include "nn.h"

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
 * bounded by this batch (or by a larger one already allocated). */
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

	/* Batch buffers, for up to cap samples; B is the last forward's. */
	int cap, B;
	float *input;         /* (cap, in_size) */
	float *acts;          /* every layer's output, one block */
	float *dacts;         /* their gradients, same layout */
	float *scratch;       /* conv scratch and l2 norms, one block */
	int *argmax;          /* pool caches, one block */
	float **act, **dact, **scr; /* per-layer views into the blocks */
	int **am;
	/* Fusion: a conv followed by relu (and pool) runs as one kernel
	 * (nn_conv2d_forward); fold[i] is how many layers conv i absorbs,
	 * and -1 marks an absorbed layer.  A group's output lives in the
	 * buffers of its last layer; absorbed layers get none. */
	int *fold;

	/* Threads for the conv layers: nthr in all, the caller included. */
	int nthr, nthr_want;
	struct pool *pool;    /* nthr - 1 workers, or NULL */
	size_t conv_scr;      /* floats of one thread's conv scratch */
	float *part;          /* (nthr - 1, nconvp) conv gradients of threads */
	size_t nconvp;        /* conv weights and biases, all layers */
	size_t *poff;         /* (nlayers) offset of conv i's in a part */
};

/* ------------------------------------------------------------------ */
/* A fork-join pool: pool_run(p, fn, arg) runs fn(arg, t) for t = 0 on
 * the caller and t = 1..n-1 on the workers, and returns when all are
 * done.  Workers sleep on a condition variable in between. */

struct pool {
	int n;                /* threads, caller included */
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	unsigned long gen;    /* bumped for each job */
	int pending, quit;
	void (*fn)(void *, int);
	void *arg;
	struct pool_worker {
		struct pool *p;
		int t;
	} *w;
};

static void *pool_main(void *arg)
{
	struct pool_worker *w = arg;
	struct pool *p = w->p;
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		p->fn(p->arg, w->t);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n - 1; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p->w);
	free(p);
}

/* NULL if threads cannot be had: the caller then runs alone. */
static struct pool *pool_new(int n)
{
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->th = calloc((size_t)n, sizeof *p->th);
	p->w = calloc((size_t)n, sizeof *p->w);
	if (!p->th || !p->w) {
		free(p->th), free(p->w), free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 0; i < n - 1; i++) {
		p->w[i].p = p;
		p->w[i].t = i + 1;
		if (pthread_create(&p->th[i], NULL, pool_main, &p->w[i])) {
			p->n = i + 1; /* the ones started, and the caller */
			pool_free(p);
			return NULL;
		}
	}
	p->n = n;
	return p;
}

static void pool_run(struct pool *p, void (*fn)(void *, int), void *arg)
{
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->pending = p->n - 1;
	p->gen++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	fn(arg, 0);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

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
	net->act = calloc((size_t)net->nlayers, sizeof *net->act);
	net->dact = calloc((size_t)net->nlayers, sizeof *net->dact);
	net->scr = calloc((size_t)net->nlayers, sizeof *net->scr);
	net->am = calloc((size_t)net->nlayers, sizeof *net->am);
	net->fold = calloc((size_t)net->nlayers, sizeof *net->fold);
	net->poff = calloc((size_t)net->nlayers, sizeof *net->poff);
	if (!net->params || !net->grads || !net->act || !net->dact ||
	    !net->scr || !net->am || !net->fold || !net->poff)
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

static void free_buffers(siam_net *net)
{
	free(net->part);
	net->part = NULL;
	free(net->input);
	free(net->acts);
	free(net->dacts);
	free(net->scratch);
	free(net->argmax);
	net->input = net->acts = net->dacts = net->scratch = NULL;
	net->argmax = NULL;
	net->cap = 0;
}

void siam_net_free(siam_net *net)
{
	if (!net)
		return;
	free_buffers(net);
	free(net->act);
	free(net->dact);
	free(net->scr);
	free(net->am);
	free(net->fold);
	free(net->poff);
	pool_free(net->pool);
	free(net->params);
	free(net->grads);
	free(net->layers);
	free(net->spec);
	free(net);
}

/* Makes room for B samples.  Buffers are reallocated only when B grows
 * past the capacity, so a training loop allocates once. */
/* Does layer i end its group (and so own an output buffer)? */
static int group_end(const siam_net *net, int i)
{
	return i + 1 >= net->nlayers || net->fold[i + 1] != -1;
}

/* Makes room for B samples.  Buffers are reallocated only when B grows
 * past the capacity, so a training loop allocates once. */
static int reserve(siam_net *net, int B, siam_error *err)
{
	/* The thread count may have changed since the last batch; the
	 * conv scratch and gradient parts are per thread. */
	int T = nn_threads();
	T = T > 64 ? 64 : T;
	if (T != net->nthr_want) {
		pool_free(net->pool);
		net->pool = NULL;
		net->nthr = 1;
		if (T > 1 && net->nconvp && (net->pool = pool_new(T)))
			net->nthr = T;
		net->nthr_want = T;
		if (net->cap > B)
			B = net->cap;
		net->cap = 0;
	}
	if (B <= net->cap)
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
	size_t T1 = (size_t)net->nthr;
	free_buffers(net);
	net->input = siam_xmalloc_n((size_t)B * net->in_size, sizeof(float));
	net->acts = siam_xmalloc_n((size_t)B * nact, sizeof(float));
	net->dacts = siam_xmalloc_n((size_t)B * nact, sizeof(float));
	net->scratch = siam_xmalloc_n(T1 * nconv + nnorm, sizeof(float));
	net->argmax = siam_xmalloc_n((size_t)B * nam, sizeof(int));
	net->part = siam_xmalloc_n((T1 - 1) * net->nconvp, sizeof(float));
	if (!net->input || !net->acts || !net->dacts || !net->scratch ||
	    !net->argmax || !net->part) {
		free_buffers(net);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory for a batch "
		                   "of %d samples", B);
	}
	net->conv_scr = nconv;
	size_t oa = 0, os = T1 * nconv, om = 0;
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		int own = group_end(net, i);
		net->act[i] = own ? net->acts + oa : NULL;
		net->dact[i] = own ? net->dacts + oa : NULL;
		net->am[i] = net->argmax + om;
		if (own)
			oa += (size_t)B * layer_out_size(l);
		if (l->kind == SIAM_LAYER_CONV) {
			net->scr[i] = net->scratch; /* thread t: + t * conv_scr */
		} else {
			net->scr[i] = net->scratch + os;
			os += layer_scratch_size(l, B);
		}
		if (l->kind == SIAM_LAYER_POOL)
			om += (size_t)B * layer_out_size(l);
	}
	net->cap = B;
	return SIAM_OK;
}

/* ------------------------------------------------------------------ */
/* Conv layers, run by the net's threads                                */

struct conv_job {
	siam_net *net;
	int i, e, B, backward, T;
	const float *x, *d;
	float *y, *dx;
};

static void conv_task(void *arg, int t)
{
	struct conv_job *j = arg;
	siam_net *net = j->net;
	const siam_layer *l = &net->layers[j->i];
	int f = net->fold[j->i];
	int relu = f >= 1, P = f == 2 ? l[2].k : 0, T = j->T;
	float *scr = net->scr[j->i] + (size_t)t * net->conv_scr;
	const float *p = net->params;
	if (!j->backward) {
		nn_conv2d_forward(j->y, net->am[j->e], scr, j->x, p + l->w_off,
		                  p + l->b_off, j->B, l->in_c, l->in_h, l->in_w,
		                  l->out_c, l->k, l->pad, relu, P, t, T);
		return;
	}
	/* thread 0 adds into the gradients, the others into their parts */
	float *dw = t == 0 ? net->grads + l->w_off
	                   : net->part + (size_t)(t - 1) * net->nconvp +
	                     net->poff[j->i];
	float *db = t == 0 ? net->grads + l->b_off : dw + l->w_len;
	if (t > 0)
		memset(dw, 0, (l->w_len + l->b_len) * sizeof(float));
	nn_conv2d_backward(j->dx, dw, db, scr, j->d, j->x, net->act[j->e],
	                   net->am[j->e], p + l->w_off, j->B, l->in_c, l->in_h,
	                   l->in_w, l->out_c, l->k, l->pad, relu, P, t, T);
}

/* Runs conv layer i (its group ends at layer e) forward or backward on
 * the net's threads when the batch has chunks enough for them. */
static void conv_run(struct conv_job *j)
{
	siam_net *net = j->net;
	const siam_layer *l = &net->layers[j->i];
	int T = net->nthr;
	int chunks = nn_conv2d_chunks(j->B, l->in_c, l->in_h, l->in_w, l->k,
	                              l->pad);
	if (T <= 1 || chunks < 2) {
		j->T = 1;
		conv_task(j, 0);
		return;
	}
	j->T = T;
	/* each thread's GEMMs run on that thread alone */
	int blas = nn_blas_get_threads();
	nn_blas_set_threads(1);
	pool_run(net->pool, conv_task, j);
	nn_blas_set_threads(blas);
	if (!j->backward)
		return;
	size_t n = l->w_len + l->b_len;
	float *g = net->grads + l->w_off; /* bias follows the weights */
	for (int t = 1; t < T; t++) {
		const float *part = net->part + (size_t)(t - 1) * net->nconvp +
		                    net->poff[j->i];
		for (size_t k = 0; k < n; k++)
			g[k] += part[k];
	}
}

float *nn_net_input(siam_net *net, int B, siam_error *err)
{
	if (B <= 0) {
		siam_errorf(err, SIAM_EINVAL, "batch size must be positive, "
		            "got %d", B);
		return NULL;
	}
	if (reserve(net, B, err))
		return NULL;
	return net->input;
}

const float *nn_net_forward_input(siam_net *net, int B)
{
	const float *x = net->input;
	float *p = net->params;
	for (int i = 0; i < net->nlayers; i++) {
		const siam_layer *l = &net->layers[i];
		if (net->fold[i] < 0)
			continue;
		int e = i + (net->fold[i] > 0 ? net->fold[i] : 0); /* group end */
		float *y = net->act[e];
		switch (l->kind) {
		case SIAM_LAYER_CONV: {
			struct conv_job j = { net, i, e, B, 0, 1, x, NULL, y, NULL };
			conv_run(&j);
			break;
		}
		case SIAM_LAYER_RELU:
			siam_relu_forward(y, x, (size_t)B * layer_out_size(l));
			break;
		case SIAM_LAYER_POOL:
			siam_maxpool_forward(y, net->am[i], x, B, l->in_c, l->in_h,
			                     l->in_w, l->k);
			break;
		case SIAM_LAYER_FC:
			siam_dense_forward(y, x, p + l->w_off, p + l->b_off, B,
			                   (int)layer_in_size(l), l->out_c);
			break;
		case SIAM_LAYER_L2NORM:
			siam_l2norm_forward(y, net->scr[i], x, B,
			                    (int)layer_out_size(l));
			break;
		}
		x = y;
	}
	net->B = B;
	return x;
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
	if (B <= 0)
		return;
	/* Layers accumulate into their input gradient, and each activation
	 * has one consumer: zero them all (the last is the caller's dout),
	 * then run back to front. */
	/* Each buffer is spaced for net->cap samples, which may exceed B
	 * after a larger batch: zero each one's first B samples. */
	for (int i = 0; i < last; i++)
		if (group_end(net, i))
			memset(net->dact[i], 0,
			       (size_t)B * layer_out_size(&net->layers[i]) *
			               sizeof(float));
	float *p = net->params, *g = net->grads;
	for (int i = last; i >= 0; i--) {
		const siam_layer *l = &net->layers[i];
		if (net->fold[i] < 0)
			continue;
		int e = i + (net->fold[i] > 0 ? net->fold[i] : 0); /* group end */
		const float *d = e == last ? dout : net->dact[e];
		const float *x = i == 0 ? net->input : net->act[i - 1];
		float *dx = i == 0 ? NULL : net->dact[i - 1];
		switch (l->kind) {
		case SIAM_LAYER_CONV: {
			struct conv_job j = { net, i, e, B, 1, 1, x, d, NULL, dx };
			conv_run(&j);
			break;
		}
		case SIAM_LAYER_RELU:
			if (dx)
				siam_relu_backward(dx, d, net->act[i],
				                   (size_t)B * layer_out_size(l));
			break;
		case SIAM_LAYER_POOL:
			if (dx)
				siam_maxpool_backward(dx, d, net->am[i], B, l->in_c,
				                      l->in_h, l->in_w, l->k);
			break;
		case SIAM_LAYER_FC:
			siam_dense_backward(dx, g + l->w_off, g + l->b_off, d, x,
			                    p + l->w_off, B, (int)layer_in_size(l),
			                    l->out_c);
			break;
		case SIAM_LAYER_L2NORM:
			if (dx)
				siam_l2norm_backward(dx, d, net->act[i], net->scr[i],
				                     B, (int)layer_out_size(l));
			break;
		}
	}
}

void siam_net_zero_grad(siam_net *net)
{
	memset(net->grads, 0, net->nparams * sizeof(float));
}

int siam_net_embed(siam_net *net, const float *inp, int B, float *out,
                   siam_error *err)
{
	if (B <= 0)
		return siam_errorf(err, SIAM_EINVAL, "batch size must be "
		                   "positive, got %d", B);
	int chunk = net->cap > EMBED_CHUNK ? net->cap : EMBED_CHUNK;
	size_t D = (size_t)siam_net_embed_dim(net);
	for (int s = 0; s < B; s += chunk) {
		int n = B - s < chunk ? B - s : chunk;
		const float *e = siam_net_forward(net, inp + (size_t)s * net->in_size,
		                                  n, err);
		if (!e)
			return err ? err->code : SIAM_ENOMEM;
		memcpy(out + (size_t)s * D, e, (size_t)n * D * sizeof(float));
	}
	return SIAM_OK;
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
