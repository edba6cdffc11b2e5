/*
 * data.c -- data sources for training and evaluation.
 *
 * Every source fills one struct siam_data (see siam_nn.h): a count, labels,
 * class names and a load function that writes one item as network input.
 * The trainer and the evaluator only ever see that struct, so a new kind
 * of source is one more opener here and nothing else.
 *
 *   mnist:DIR    IDX files; the pixels stay as bytes (47 MB for MNIST)
 *                and are normalised on load, which costs nothing next to
 *                the network.
 *   folder:DIR   every image is decoded and preprocessed once, at open,
 *                and kept as floats: decoding a PNG costs more than the
 *                forward pass, and an epoch visits each image many times.
 *   augment:DIR  the same as folder, with every image its own class.
 *   mem          siam_data_from_memory: floats given by the caller.
 */
#define _GNU_SOURCE /* strcasestr */
#include "internal.h"
#include "train/train_internal.h"
#include "siam_nn.h"
#include "threads.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Common parts                                                        */

void siam_data_free(siam_data *d)
{
	if (!d)
		return;
	if (d->release)
		d->release(d);
	if (d->class_names)
		for (int i = 0; i < d->num_classes; i++)
			free(d->class_names[i]);
	free(d->class_names);
	for (int i = 0; i < d->nbad; i++)
		free(d->bad[i]);
	free(d->bad);
	free(d->labels);
	free(d->source);
	free(d);
}

static siam_data *data_new(const char *source)
{
	siam_data *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->source = strdup(source ? source : "");
	if (!d->source) {
		free(d);
		return NULL;
	}
	return d;
}

/* Class names "0".."n-1". */
static int numeric_names(siam_data *d)
{
	d->class_names = calloc(d->num_classes ? d->num_classes : 1,
	                        sizeof *d->class_names);
	if (!d->class_names)
		return -1;
	for (int i = 0; i < d->num_classes; i++) {
		char buf[16];
		snprintf(buf, sizeof buf, "%d", i);
		if (!(d->class_names[i] = strdup(buf)))
			return -1;
	}
	return 0;
}

static int add_bad(siam_data *d, const char *msg)
{
	char **nb = realloc(d->bad, (size_t)(d->nbad + 1) * sizeof *nb);
	if (!nb)
		return -1;
	d->bad = nb;
	if (!(d->bad[d->nbad] = strdup(msg)))
		return -1;
	d->nbad++;
	return 0;
}

void siam_data_suggest_preproc(siam_preproc *pre, const char *spec)
{
	if (!spec || strncmp(spec, "mnist:", 6))
		return;
	/* The usual figures of each training set, so that the network sees
	 * inputs of mean 0 and variance 1 whatever it was trained on. */
	if (strcasestr(spec + 6, "fashion")) {
		pre->mean = 0.2860f;
		pre->std = 0.3530f;
		pre->digit = 0;
	} else {
		pre->mean = 0.1307f;
		pre->std = 0.3081f;
		pre->digit = 1;
	}
}

/* ------------------------------------------------------------------ */
/* In memory                                                           */

typedef struct mem_ctx {
	float *x;
	size_t size; /* floats per item */
} mem_ctx;

static int mem_load(const siam_data *d, int i, float *out, siam_error *err)
{
	const mem_ctx *m = d->ctx;
	if (i < 0 || i >= d->n)
		return siam_errorf(err, SIAM_EINVAL, "%s: no item %d", d->source,
		                   i);
	memcpy(out, m->x + (size_t)i * m->size, m->size * sizeof(float));
	return 0;
}

static void mem_release(siam_data *d)
{
	mem_ctx *m = d->ctx;
	if (m)
		free(m->x);
	free(m);
	d->ctx = NULL;
}

/* Takes ownership of x (n*c*h*w floats) whatever happens. */
static int mem_wrap(siam_data *d, float *x, siam_error *err)
{
	mem_ctx *m = calloc(1, sizeof *m);
	if (!m) {
		free(x);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	}
	m->x = x;
	m->size = (size_t)d->c * d->h * d->w;
	d->ctx = m;
	d->load = mem_load;
	d->release = mem_release;
	return 0;
}

int siam_data_from_memory(siam_data **out, const float *x,
                          const int *labels, int n, int num_classes, int c,
                          int h, int w, siam_error *err)
{
	*out = NULL;
	if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || num_classes < 0 ||
	    (labels && num_classes <= 0) || (!labels && num_classes))
		return siam_errorf(err, SIAM_EINVAL,
		                   "in-memory data: bad shape or class count");
	size_t size = (size_t)c * h * w;
	siam_data *d = data_new("memory");
	float *copy = siam_xmalloc_n((size_t)n, size * sizeof(float));
	if (!d || !copy) {
		free(copy);
		siam_data_free(d);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	}
	memcpy(copy, x, (size_t)n * size * sizeof(float));
	d->n = n;
	d->c = c;
	d->h = h;
	d->w = w;
	d->num_classes = num_classes;
	int rc;
	if ((rc = mem_wrap(d, copy, err)))
		goto fail;
	if (labels) {
		d->labels = siam_xmalloc_n((size_t)n, sizeof(int));
		if (!d->labels || numeric_names(d))
			goto nomem;
		for (int i = 0; i < n; i++) {
			if (labels[i] < 0 || labels[i] >= num_classes) {
				rc = siam_errorf(err, SIAM_EINVAL,
				                 "in-memory data: label %d of item "
				                 "%d is not in [0, %d)", labels[i],
				                 i, num_classes);
				goto fail;
			}
			d->labels[i] = labels[i];
		}
	}
	*out = d;
	return 0;
nomem:
	rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
fail:
	siam_data_free(d);
	return rc;
}

/* ------------------------------------------------------------------ */
/* mnist:DIR                                                           */

typedef struct mnist_ctx {
	siam_idx images;
	float mean, std;
} mnist_ctx;

static int mnist_load(const siam_data *d, int i, float *out,
                      siam_error *err)
{
	const mnist_ctx *m = d->ctx;
	int r = m->images.rows, c = m->images.cols;
	if (i < 0 || i >= d->n)
		return siam_errorf(err, SIAM_EINVAL, "%s: no item %d", d->source,
		                   i);
	const unsigned char *px = m->images.data + (size_t)i * r * c;
	float scale = 1.0f / (255.0f * m->std), shift = m->mean / m->std;
	size_t plane = (size_t)d->h * d->w;
	if (d->h == r && d->w == c) {
		for (size_t k = 0; k < plane; k++)
			out[k] = px[k] * scale - shift;
	} else {
		/* A network with another input size: resize the digit as
		 * a whole, the way preprocessing scales pictures. */
		float src[r * c];
		for (int k = 0; k < r * c; k++)
			src[k] = px[k];
		siam_resize_area(out, d->w, d->h, src, c, r, 1);
		for (size_t k = 0; k < plane; k++)
			out[k] = out[k] * scale - shift;
	}
	for (int ch = 1; ch < d->c; ch++) /* gray to every channel */
		memcpy(out + ch * plane, out, plane * sizeof(float));
	return 0;
}

static void mnist_release(siam_data *d)
{
	mnist_ctx *m = d->ctx;
	if (m)
		siam_idx_release(&m->images);
	free(m);
	d->ctx = NULL;
}

/* Loads DIR/NAME or DIR/NAME.gz, whichever exists (the plain file
 * first). */
static int idx_find_load(siam_idx *idx, const char *dir, const char *name,
                         siam_error *err)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (stat(path, &st) != 0) {
		char gz[4200];
		snprintf(gz, sizeof gz, "%s.gz", path);
		if (stat(gz, &st) == 0)
			return siam_idx_load(idx, gz, err);
		/* Some copies of MNIST name the files train-images.idx3-ubyte. */
		char alt[4200], *dash;
		snprintf(alt, sizeof alt, "%s", path);
		if ((dash = strstr(alt + strlen(dir), "-idx")) != NULL) {
			*dash = '.';
			if (stat(alt, &st) == 0)
				return siam_idx_load(idx, alt, err);
		}
		return siam_errorf(err, SIAM_EIO,
		                   "%s: no such file (nor %s.gz)", path, name);
	}
	return siam_idx_load(idx, path, err);
}

static const char *const fashion_names[10] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"
};

static int open_mnist(siam_data *d, const char *dir, siam_split split,
                      const siam_preproc *pre, siam_error *err)
{
	const char *pfx = split == SIAM_SPLIT_TEST ? "t10k" : "train";
	char iname[64], lname[64];
	snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", pfx);
	snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", pfx);
	siam_idx lab = { 0 };
	mnist_ctx *m = calloc(1, sizeof *m);
	int rc;
	if (!m)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	d->ctx = m;
	d->release = mnist_release;
	d->load = mnist_load;
	if ((rc = idx_find_load(&m->images, dir, iname, err)))
		goto fail;
	if ((rc = idx_find_load(&lab, dir, lname, err)))
		goto fail;
	if (m->images.rows <= 0 || lab.rows != 0) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: %s must hold images and %s labels", dir,
		                 iname, lname);
		goto fail;
	}
	if (lab.n != m->images.n) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: %d images but %d labels", dir,
		                 m->images.n, lab.n);
		goto fail;
	}
	if (m->images.n <= 0) {
		rc = siam_errorf(err, SIAM_EINVAL, "%s: no images", dir);
		goto fail;
	}
	d->n = m->images.n;
	d->labels = siam_xmalloc_n((size_t)d->n, sizeof(int));
	if (!d->labels)
		goto nomem;
	int maxl = 0;
	for (int i = 0; i < d->n; i++) {
		d->labels[i] = lab.data[i];
		if (lab.data[i] > maxl)
			maxl = lab.data[i];
	}
	d->num_classes = maxl + 1;
	if (strcasestr(dir, "fashion") && d->num_classes == 10) {
		d->class_names = calloc(10, sizeof *d->class_names);
		if (!d->class_names)
			goto nomem;
		for (int i = 0; i < 10; i++)
			if (!(d->class_names[i] = strdup(fashion_names[i])))
				goto nomem;
	} else if (numeric_names(d))
		goto nomem;
	m->mean = pre->mean;
	m->std = pre->std > 0 ? pre->std : 1;
	d->fill = -m->mean / m->std;
	siam_idx_release(&lab);
	return 0;
nomem:
	rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
fail:
	siam_idx_release(&lab);
	return rc;
}

/* ------------------------------------------------------------------ */
/* folder:DIR and augment:DIR                                          */

/* A growing list of strings. */
typedef struct strlist {
	char **v;
	int n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		char **nv = realloc(l->v, (size_t)cap * sizeof *nv);
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(s)))
		return -1;
	l->n++;
	return 0;
}

static void strlist_free(strlist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* What the walk of a folder: data set found: the files, and for a
 * labelled set the class of each (the first folder below the root). */
typedef struct folder_walk {
	siam_data *d;
	const char *root;
	size_t rootlen;
	int labelled;
	strlist *files, *classes;
	int *flabel;         /* (files->n) class of each file (labelled) */
	int rc;
	siam_error *err;
} folder_walk;

/* Is any name below the root a dot file (or in a dot folder)?  Those
 * are left out, as `ls` leaves them out. */
static int hidden(const char *path, size_t rootlen)
{
	for (const char *p = path + rootlen; *p; p++)
		if (p[0] == '/' && p[1] == '.')
			return 1;
	return 0;
}

/* The entry's class folder, the first name below the root: its length
 * into *len, NULL for a file directly in the root. */
static const char *class_of(const char *path, size_t rootlen, size_t *len)
{
	const char *p = path + rootlen;
	while (*p == '/')
		p++;
	const char *end = strchr(p, '/');
	if (!end)
		return NULL;
	*len = (size_t)(end - p);
	return p;
}

static int on_file(folder_walk *w, const siam_walk_entry *e)
{
	int label = -1;
	if (w->labelled) {
		size_t len = 0;
		const char *c = class_of(e->path, w->rootlen, &len);
		if (!c)
			return 0; /* a file beside the class folders */
		/* The walk is depth first in name order, so a class's files
		 * come together and the classes come sorted. */
		strlist *cl = w->classes;
		if (!cl->n || strlen(cl->v[cl->n - 1]) != len ||
		    strncmp(cl->v[cl->n - 1], c, len)) {
			char *name = strndup(c, len);
			int bad = !name || strlist_add(cl, name);
			free(name);
			if (bad)
				return -1;
		}
		label = cl->n - 1;
		int *nl = realloc(w->flabel, (size_t)(w->files->n + 1) *
		                  sizeof *nl);
		if (!nl)
			return -1;
		w->flabel = nl;
	}
	if (strlist_add(w->files, e->path))
		return -1;
	if (w->labelled)
		w->flabel[w->files->n - 1] = label;
	return 0;
}

static int on_walk(void *arg, const siam_walk_entry *e)
{
	folder_walk *w = arg;
	if (hidden(e->path, w->rootlen))
		return 0;
	if (e->kind == SIAM_WALK_FILE) {
		if (on_file(w, e) == 0)
			return 0;
	} else {
		/* A special file, a folder seen before (a link loop), a
		 * dangling link, a folder that cannot be read: the caller
		 * hears of each, as the indexer records them. */
		size_t len = strlen(e->path) + strlen(e->msg) + 3;
		char *msg = malloc(len); /* paths may be longer than PATH_MAX */
		int bad = !msg;
		if (msg) {
			snprintf(msg, len, "%s: %s", e->path, e->msg);
			bad = add_bad(w->d, msg);
			free(msg);
		}
		if (!bad)
			return 0;
	}
	w->rc = siam_errorf(w->err, SIAM_ENOMEM, "out of memory");
	return 1;
}

/* Every regular file under the root, in the order of siam_walk (depth
 * first, names in byte order, so that item indices, and so a seeded
 * run, do not depend on readdir's order), dot files left out.  What is
 * not a file it can use goes to d->bad with the reason. */
static int walk_folder(folder_walk *w)
{
	const char *root = w->root;
	int rc = siam_walk(&root, 1, on_walk, w, w->err);
	if (w->rc)
		return w->rc;
	return rc;
}

/* Decoding is the slow part of opening a folder (a PNG costs more than
 * a forward pass), so the files are shared out to the threads of a
 * pool.  Each file's row and message have fixed slots, so the result
 * does not depend on which thread did what. */
static char oom_msg[] = "out of memory";

typedef struct decode_job {
	const strlist *files;
	const siam_preproc *pre;
	float *x;              /* one row per file */
	char **msg;            /* NULL: decoded; else why not */
	size_t size;
} decode_job;

static void decode_one(void *arg, size_t i, int t)
{
	decode_job *j = arg;
	siam_image img = { 0 };
	siam_error e = { 0 };
	siam_image_limits lim;
	(void)t;
	/* Decoded no larger than the model's input needs (a camera JPEG
	 * at a reduced DCT scale), as siam index will decode it. */
	siam_image_limits_default(&lim);
	siam_image_limits_want(&lim, j->pre);
	if (siam_image_load(&img, j->files->v[i], &lim, &e) != 0 ||
	    siam_preprocess(j->x + i * j->size, &img, j->pre, &e) != 0) {
		char buf[SIAM_ERR_MAX + 8];
		if (!strstr(e.msg, j->files->v[i]))
			snprintf(buf, sizeof buf, "%s: %s", j->files->v[i],
			         e.msg);
		else
			snprintf(buf, sizeof buf, "%s", e.msg);
		j->msg[i] = strdup(buf);
		if (!j->msg[i])
			j->msg[i] = oom_msg;
	}
	siam_image_release(&img);
}

/* Decodes and preprocesses every file; unreadable ones go to d->bad.
 * Fills x with the rows of the files that made it, in file order, and
 * keep[i] = 1 for them. */
static int decode_all(siam_data *d, const strlist *files,
                      const siam_preproc *pre, float **xout,
                      unsigned char *keep, int *nok, siam_error *err)
{
	decode_job j = { .files = files, .pre = pre };
	j.size = (size_t)pre->c * pre->h * pre->w;
	j.x = siam_xmalloc_n((size_t)files->n, j.size * sizeof(float));
	j.msg = calloc((size_t)files->n, sizeof *j.msg);
	int rc = 0;
	if (!j.x || !j.msg) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nt = (int)SIAM_MIN(SIAM_MAX(cpus, 1), 8);
	nt = SIAM_MIN(nt, files->n / 16 + 1);
	thr_pool *pool = thr_pool_new(nt); /* NULL: decode here alone */
	thr_pool_for(pool, (size_t)files->n, decode_one, &j);
	thr_pool_free(pool);
	int k = 0;
	for (int i = 0; i < files->n; i++) {
		keep[i] = j.msg[i] == NULL;
		if (keep[i]) {
			if (k != i)
				memmove(j.x + (size_t)k * j.size,
				        j.x + (size_t)i * j.size,
				        j.size * sizeof(float));
			k++;
		} else if (!rc && add_bad(d, j.msg[i])) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		}
	}
	*nok = k;
	if (!rc) {
		*xout = j.x;
		j.x = NULL;
	}
done:
	if (j.msg)
		for (int i = 0; i < files->n; i++)
			if (j.msg[i] != oom_msg)
				free(j.msg[i]);
	free(j.msg);
	free(j.x);
	return rc;
}

static int open_folder(siam_data *d, const char *dir, int labelled,
                       const siam_preproc *pre, siam_error *err)
{
	strlist classes = { 0 }, files = { 0 };
	int rc = 0;
	unsigned char *keep = NULL;
	float *x = NULL;
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return siam_errorf(err, SIAM_EIO, "%s: not a directory", dir);
	folder_walk w = { d, dir, strlen(dir), labelled, &files, &classes,
	                  NULL, 0, err };
	if ((rc = walk_folder(&w)))
		goto done;
	if (labelled && classes.n == 0) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: no class sub-folders with files "
		                 "(folder: wants DIR/CLASS/IMAGE)", dir);
		goto done;
	}
	if (files.n == 0) {
		rc = siam_errorf(err, SIAM_EINVAL, "%s: no files", dir);
		goto done;
	}
	if (!(keep = malloc((size_t)files.n))) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	int nok = 0;
	if ((rc = decode_all(d, &files, pre, &x, keep, &nok, err)))
		goto done;
	if (nok == 0) {
		rc = siam_errorf(err, SIAM_EINVAL, "%s: none of its %d files "
		                 "is a readable image", dir, files.n);
		goto done;
	}
	d->n = nok;
	d->c = pre->c;
	d->h = pre->h;
	d->w = pre->w;
	/* A blank pixel: black ink-space for digits, mid-grey otherwise,
	 * which after normalisation is near 0 either way. */
	d->fill = pre->digit ? -pre->mean / (pre->std > 0 ? pre->std : 1) :
	          (0.5f - pre->mean) / (pre->std > 0 ? pre->std : 1);
	if (labelled) {
		d->labels = siam_xmalloc_n((size_t)nok, sizeof(int));
		d->class_names = calloc((size_t)classes.n, sizeof(char *));
		if (!d->labels || !d->class_names) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto done;
		}
		for (int i = 0, k = 0; i < files.n; i++)
			if (keep[i])
				d->labels[k++] = w.flabel[i];
		d->num_classes = classes.n;
		for (int i = 0; i < classes.n; i++) {
			d->class_names[i] = classes.v[i];
			classes.v[i] = NULL;
		}
	}
	rc = mem_wrap(d, x, err);
	x = NULL;
done:
	free(x);
	free(keep);
	free(w.flabel);
	strlist_free(&files);
	strlist_free(&classes);
	return rc;
}

/* ------------------------------------------------------------------ */

int siam_data_open(siam_data **out, const char *spec, siam_split split,
                   const siam_preproc *pre, siam_error *err)
{
	*out = NULL;
	if (!spec || !pre || pre->c <= 0 || pre->h <= 0 || pre->w <= 0)
		return siam_errorf(err, SIAM_EINVAL, "no data spec");
	const char *colon = strchr(spec, ':');
	if (!colon || !colon[1])
		return siam_errorf(err, SIAM_EINVAL,
		                   "'%s': a data spec is KIND:PATH with KIND "
		                   "mnist, folder or augment", spec);
	size_t kl = (size_t)(colon - spec);
	const char *path = colon + 1;
	siam_data *d = data_new(spec);
	if (!d)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	d->c = pre->c;
	d->h = pre->h;
	d->w = pre->w;
	int rc;
	if (kl == 5 && !strncmp(spec, "mnist", 5))
		rc = open_mnist(d, path, split, pre, err);
	else if (kl == 6 && !strncmp(spec, "folder", 6))
		rc = open_folder(d, path, 1, pre, err);
	else if (kl == 7 && !strncmp(spec, "augment", 7))
		rc = open_folder(d, path, 0, pre, err);
	else
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "'%.*s': unknown kind of data (want mnist, "
		                 "folder or augment)", (int)kl, spec);
	if (rc) {
		siam_data_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* ------------------------------------------------------------------ */

static int parse_num(const char *s, size_t len, int *v)
{
	if (len == 0 || len > 9)
		return -1;
	int x = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

int siam_data_parse_classes(const siam_data *d, const char *list,
                            unsigned char *mask, siam_error *err)
{
	int nc = d->num_classes;
	if (!list || !*list) {
		memset(mask, 1, (size_t)nc);
		return 0;
	}
	if (nc <= 0)
		return siam_errorf(err, SIAM_EINVAL,
		                   "%s: unlabelled data has no classes to "
		                   "choose from", d->source);
	memset(mask, 0, (size_t)nc);
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int lo, hi, found = 0;
		/* A class name first: names like "T-shirt/top" hold dashes. */
		for (int i = 0; d->class_names && i < nc; i++)
			if (d->class_names[i] &&
			    strlen(d->class_names[i]) == len &&
			    !strncmp(d->class_names[i], p, len)) {
				mask[i] = 1;
				found = 1;
			}
		if (!found) {
			const char *dash = memchr(p, '-', len);
			int ok = dash ? !parse_num(p, (size_t)(dash - p), &lo) &&
			                !parse_num(dash + 1,
			                           len - (size_t)(dash - p) - 1,
			                           &hi)
			              : !parse_num(p, len, &lo);
			if (!dash)
				hi = lo;
			if (!ok || lo > hi || hi >= nc)
				return siam_errorf(err, SIAM_EINVAL,
				                   "class list '%s': '%.*s' is not "
				                   "a class, nor a range of classes "
				                   "in 0-%d", list, (int)len, p,
				                   nc - 1);
			for (int i = lo; i <= hi; i++)
				mask[i] = 1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}
