/*
 * cmd_dedup.c -- siam dedup [PATH...]: index what is new under the
 * folders, then report groups of duplicates and, when asked, act on
 * them (move with a manifest that --undo reverses, hard-link identical
 * copies, delete).
 *
 * The indexing is siam_index_run's (as siam index), the pairs come from
 * dedup_pairs.c (shared with siam serve's Duplicates page), the linkage
 * and the keeper rule from dedup_group.c.  This file chooses, prints and acts.  Safety
 * first: the default changes nothing; a move writes (and fsyncs) its
 * manifest before the first file moves, and moves by rename(2), so that
 * after a crash, even kill -9, every file is whole in one of its two
 * places and --undo puts it back; files under --reference are never
 * touched; --delete and --hardlink check that the bytes on disk are
 * still the indexed ones.
 *
 * Under mpirun (a --with-mpi build) rank 0 is this command as it runs
 * alone -- it walks, writes the database, groups, prints and acts --
 * while the other ranks embed for its indexing (src/mpi/index.c) and
 * share its all-pairs search, a block of rows each
 * (src/mpi/pairs_ring.c): the pairs, and so everything after, are a
 * single process's.
 *
 * Exit status: 0 done; 3 done, but some files were broken or could not
 * be acted on; 2 error.
 */
#include "config.h"
#include "cli_db.h"
#include "dedup_group.h"
#include "dedup_pairs.h"
#include "dedup_sheet.h"
#include "fileio.h"
#include "mpi/pairs_ring.h"
#include "mpi/world.h"
#ifdef SIAM_MPI
#include "mpi/index.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int run(int argc, char **argv, cli_ctx *ctx);

const struct cmd_entry cmd_dedup_entry = {
	"dedup", "find groups of duplicate images and act on them safely",
	"usage: siam dedup [OPTIONS] [PATH...]\n"
	"       siam dedup --undo MANIFEST\n"
	"\n"
	"Indexes what is new under each PATH (as siam index), then lists\n"
	"groups of duplicates among the images under the PATHs (all the\n"
	"database's images when none is given).  Each group has one keeper;\n"
	"every other member is within the threshold of the keeper itself,\n"
	"so groups never chain.  Changes nothing unless told to.\n"
	"\n"
	"  -d, --db FILE          the database (default siam.db; created)\n"
	"  -m, --model FILE       the model (as siam index)\n"
	"      --method M         exact, phash, cnn or all (default all:\n"
	"                         identical bytes, cnn distance (past half\n"
	"                         the threshold only if the grey pictures\n"
	"                         look alike), phash within 6 bits, or a\n"
	"                         crop of one of the 12 nearest; identical\n"
	"                         files are found and labelled so by each)\n"
	"      --threshold T      cnn distance (default: the model's\n"
	"                         near-duplicate threshold, else its match\n"
	"                         threshold)\n"
	"      --phash-bits N     at most N differing bits (default 10 for\n"
	"                         phash, 6 within all)\n"
	"      --min-group N      report groups of at least N files (2)\n"
	"      --keep RULE        largest (pixels, then bytes), oldest,\n"
	"                         newest or shortest-path (default largest)\n"
	"      --reference DIR    files under DIR are always keepers and are\n"
	"                         never touched (repeatable)\n"
	"      --move-to DIR      move the duplicates under DIR, keeping their\n"
	"                         paths; writes DIR/siam-dedup-*.manifest first\n"
	"      --undo MANIFEST    put back every file a --move-to moved\n"
	"      --hardlink         replace byte-identical copies by hard links\n"
	"      --delete --yes     delete the duplicates\n"
	"  -j, --json             one JSON object\n"
	"      --csv              CSV, one row per file\n"
	"      --sheet FILE.png   also draw the groups as a contact sheet: a\n"
	"                         row of thumbnails per group, the keeper\n"
	"                         first in a green frame, distances below\n"
	"  -q, --quiet            no progress, no summary line\n"
	"  -h, --help             this help\n"
	"\n"
	"Under mpirun (a --with-mpi build) the other ranks embed for rank 0\n"
	"and share the cnn pair search; rank 0 alone writes, prints and acts.\n"
	"\n"
	"Exit status: 0 done, 3 done but some files were broken or could not\n"
	"be acted on, 2 error.\n", run,
	CLI_DB | CLI_DB_CREATE | CLI_MODEL | CLI_MPI
};

enum { ACT_NONE, ACT_MOVE, ACT_HARDLINK, ACT_DELETE };

typedef struct dd_run {
	dd_image *im;
	int64_t *ids;       /* images.id of im[i], ascending */
	int n;
	size_t imcap, idcap;
	const char *const *roots;
	int nroots, nref;
	char **paths;       /* every indexed path of the model, sorted */
	size_t npaths, pcap;
	char **broken;      /* "path\treason" */
	size_t nbroken, bcap;
	int failed;
	long kill_after;    /* $SIAM_TEST_KILL_AFTER: moves, then SIGKILL */
	int64_t ncnn;       /* cnn pairs among all the model's images */
	size_t ncrop;       /* pairs the crop check scored */
	size_t nlooked;     /* cnn pairs the look check scored */
	size_t nunlike;     /* of them, those left out */
	/* under mpirun: 1 while the other ranks wait for the pair search
	 * (siam_mpi_pairs or _stop must come, once), and its figures */
	int ring_wait;
	siam_mpi_pairs_stats ring;
} dd_run;

/* 1 if path is root or below it. */
static int under(const char *path, const char *root)
{
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	return !strncmp(path, root, n) &&
	       (path[n] == 0 || path[n] == '/' || root[n - 1] == '/');
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 64;
	void *p = realloc(*v, c * size);
	if (!p)
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

static int on_image(void *arg, const siam_db_image_row *r)
{
	dd_run *d = arg;
	char *p = strdup(r->path);
	if (!p || grow((void **)&d->paths, &d->pcap, d->npaths, sizeof *d->paths))
		goto oom;
	d->paths[d->npaths++] = p;
	if (r->is_url)
		return 0;
	int in = d->nroots == 0 && d->nref == 0, ref = 0;
	for (int i = 0; i < d->nroots + d->nref; i++)
		if (under(r->path, d->roots[i])) {
			in = 1;
			ref |= i >= d->nroots;
		}
	if (!in)
		return 0;
	if (grow((void **)&d->im, &d->imcap, (size_t)d->n, sizeof *d->im) ||
	    grow((void **)&d->ids, &d->idcap, (size_t)d->n, sizeof *d->ids))
		goto oom;
	dd_image *im = &d->im[d->n];
	dd_image_of_row(im, r, p);
	im->reference = ref;
	d->ids[d->n++] = r->id;
	return 0;
oom:
	return SIAM_ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Image files by name: what a broken file's name says it is. */
static int image_name(const char *path)
{
	static const char *const ext[] = {
		"jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff",
		"heic", "heif", "pnm", "ppm", "pgm", "pbm", "tga", "psd",
		"hdr", NULL };
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return 0;
	for (int i = 0; ext[i]; i++)
		if (!strcasecmp(dot + 1, ext[i]))
			return 1;
	return 0;
}

/* The walk for broken files: named as images, not indexed. */
static int on_walk(void *arg, const siam_walk_entry *e)
{
	dd_run *d = arg;
	if (e->kind != SIAM_WALK_FILE || !image_name(e->path))
		return 0;
	const char *key = e->path;
	if (bsearch(&key, d->paths, d->npaths, sizeof *d->paths, cmp_str))
		return 0;
	const char *why = "content is not an image siam can read";
	unsigned char head[64];
	if (e->size == 0) {
		why = "empty file";
	} else {
		/* Through fileio: the walk saw a regular file, but it may
		 * have become a FIFO since, and a FIFO must not block. */
		siam_error err = { 0, "" };
		struct stat st;
		int fd;
		ssize_t got = -1;
		if (siam_open_regular(e->path, &fd, &st, &err) == 0) {
			do
				got = read(fd, head, sizeof head);
			while (got < 0 && errno == EINTR);
			close(fd);
		}
		if (got < 0)
			why = "cannot be read";
		else if (siam_sniff_image(head, (size_t)got))
			why = "cannot be decoded (truncated or corrupt)";
	}
	size_t len = strlen(e->path) + strlen(why) + 2;
	char *s = malloc(len);
	if (!s || grow((void **)&d->broken, &d->bcap, d->nbroken,
	               sizeof *d->broken)) {
		free(s);
		return 1;
	}
	snprintf(s, len, "%s\t%s", e->path, why);
	d->broken[d->nbroken++] = s;
	return 0;
}

/* The near-duplicate threshold of the model (dedup_pairs.c); *from says
 * which. */
static double model_threshold(const siam_model *m, const char **from)
{
	int near;
	double t = dd_model_threshold(m, &near);
	*from = near ? "the model's near-duplicate threshold" :
	               "the model's match threshold";
	return t;
}

/* Reads a whole file and hashes it: 0 and hex, else -1 and err (a
 * FIFO, device or directory is refused by fileio.c without blocking). */
static int file_sha256(const char *path, char hex[65], siam_error *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	if (siam_read_file(path, SIZE_MAX / 2, &buf, &len, err))
		return -1;
	siam_sha256_hex(hex, buf, len);
	free(buf);
	return 0;
}

/* mkdir -p of the directory part of path. */
static int make_parents(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY));
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int fsync_parent(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	char *s = strrchr(p, '/');
	if (s == p)
		s[1] = 0;
	else if (s)
		*s = 0;
	else
		strcpy(p, ".");
	int rc = fsync_path(p, 1);
	free(p);
	return rc;
}

/* Manifest fields: tab-separated, with \\, \t, \n, \r escaped so that
 * any file name fits on one line. */
static void put_field(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '\\': fputs("\\\\", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		default: fputc(*s, f);
		}
}

/* Splits and unescapes a manifest line in place: fields[0..n). */
static int get_fields(char *line, char **fields, int max)
{
	int n = 0;
	char *w = line;
	fields[n++] = w;
	for (char *r = line; *r && *r != '\n'; r++) {
		if (*r == '\t') {
			*w++ = 0;
			if (n == max)
				return -1;
			fields[n++] = w;
		} else if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' :
			       *r == 'r' ? '\r' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
	return n;
}

#define MANIFEST_HEAD "# siam dedup manifest 1"

/* Where a moved file goes: DIR/PATH without leading slashes; NULL for a
 * path with a ".." component (it could land outside DIR). */
static char *move_target(const char *dir, const char *path)
{
	while (*path == '/')
		path++;
	if (!strcmp(path, "..") || !strncmp(path, "../", 3) ||
	    strstr(path, "/../") ||
	    (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")))
		return NULL;
	size_t len = strlen(dir) + strlen(path) + 2;
	char *t = malloc(len);
	if (t)
		snprintf(t, len, "%s/%s", dir, path);
	return t;
}

static int is_dup(const dd_image *im)
{
	return im->group >= 0 && !im->keeper && !im->reference;
}

static int act_move(dd_run *d, const char *dir, char *manifest, size_t mlen,
                    int quiet)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = NULL;
	int fd = -1, done = 0;
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		cli_error("dedup", "%s: %s", dir, strerror(errno));
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 1; fd < 0 && i < 1000; i++) {
		if (i == 1)
			snprintf(manifest, mlen, "%s/siam-dedup-%s.manifest", dir,
			         stamp);
		else
			snprintf(manifest, mlen, "%s/siam-dedup-%s-%d.manifest",
			         dir, stamp, i);
		fd = open(manifest, O_WRONLY | O_CREAT | O_EXCL, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		cli_error("dedup", "cannot write a manifest in %s: %s", dir,
		          strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* The whole plan first, on disk, before anything moves. */
	fprintf(f, MANIFEST_HEAD "\n# undo: siam dedup --undo MANIFEST\n"
	           "# move<TAB>from<TAB>to<TAB>sha256\n");
	for (int i = 0; i < d->n; i++) {
		char *t;
		if (!is_dup(&d->im[i]) || !(t = move_target(dir,
		                                             d->im[i].path)))
			continue;
		fputs("move\t", f);
		put_field(f, d->im[i].path);
		fputc('\t', f);
		put_field(f, t);
		fprintf(f, "\t%s\n", d->im[i].hash);
		free(t);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)) {
		cli_error("dedup", "%s: %s", manifest, strerror(errno));
		fclose(f);
		return -1;
	}
	fclose(f);
	fsync_parent(manifest);
	for (int i = 0; i < d->n; i++) {
		if (!is_dup(&d->im[i]))
			continue;
		const char *src = d->im[i].path;
		char *t = move_target(dir, src);
		struct stat st;
		if (!t) {
			cli_error("dedup", "%s: not moved: the path has a '..'",
			          src);
			d->failed++;
			continue;
		}
		if (lstat(t, &st) == 0) {
			cli_error("dedup", "%s: not moved: %s exists", src, t);
			d->failed++;
		} else if (make_parents(t) < 0 || rename(src, t) < 0) {
			cli_error("dedup", "%s: not moved: %s", src,
			          errno == EXDEV ? "the destination is on "
			          "another file system" : strerror(errno));
			d->failed++;
		} else {
			fsync_parent(t);
			done++;
			if (d->kill_after > 0 && done >= d->kill_after)
				raise(SIGKILL);
		}
		free(t);
	}
	if (!quiet)
		fprintf(stderr, "siam dedup: moved %d file%s; undo with: siam "
		        "dedup --undo %s\n", done, done == 1 ? "" : "s",
		        manifest);
	return done;
}

static int act_undo(const char *manifest, int quiet)
{
	/* Read whole through fileio (a FIFO or a device is refused, never
	 * waited on), then parsed from memory. */
	siam_error err = { 0, "" };
	unsigned char *text = NULL;
	size_t len = 0;
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	int restored = 0, already = 0, failed = 0, lineno = 0;
	if (siam_read_file(manifest, SIZE_MAX / 2, &text, &len, &err)) {
		cli_error("dedup", "%s", err.msg);
		return SIAM_EXIT_ERROR;
	}
	if (len && !(f = fmemopen(text, len, "r"))) {
		cli_error("dedup", "%s: %s", manifest, strerror(errno));
		free(text);
		return SIAM_EXIT_ERROR;
	}
	if (!f || getline(&line, &cap, f) < 0 ||
	    strncmp(line, MANIFEST_HEAD, strlen(MANIFEST_HEAD))) {
		cli_error("dedup", "%s: not a siam dedup manifest", manifest);
		if (f)
			fclose(f);
		free(line);
		free(text);
		return SIAM_EXIT_ERROR;
	}
	lineno = 1;
	while (getline(&line, &cap, f) >= 0) {
		char *fl[5];
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (get_fields(line, fl, 5) != 4 || strcmp(fl[0], "move")) {
			cli_error("dedup", "%s:%d: not a manifest line", manifest,
			          lineno);
			failed++;
			continue;
		}
		struct stat s1, s2;
		int src = lstat(fl[1], &s1) == 0, dst = lstat(fl[2], &s2) == 0;
		if (!src && dst) {
			if (make_parents(fl[1]) < 0 || rename(fl[2], fl[1]) < 0) {
				cli_error("dedup", "%s: not restored: %s", fl[1],
				          strerror(errno));
				failed++;
			} else {
				fsync_parent(fl[1]);
				restored++;
			}
		} else if (src && !dst) {
			already++; /* never moved, or restored before */
		} else if (src && dst) {
			cli_error("dedup", "%s: not restored: both it and %s "
			          "exist", fl[1], fl[2]);
			failed++;
		} else {
			cli_error("dedup", "%s: not restored: %s is gone", fl[1],
			          fl[2]);
			failed++;
		}
	}
	free(line);
	fclose(f);
	free(text);
	if (!quiet)
		printf("%d restored, %d already in place, %d failed\n", restored,
		       already, failed);
	return failed ? SIAM_EXIT_PARTIAL : SIAM_EXIT_OK;
}

/* Replaces path by a hard link to keeper, atomically (link to a
 * temporary name, then rename over). */
static int hardlink_one(const char *keeper, const char *path)
{
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	int rc = -1;
	if (!tmp)
		return -1;
	snprintf(tmp, len, "%s.siam-link-%ld", path, (long)getpid());
	if (link(keeper, tmp) == 0) {
		if (rename(tmp, path) == 0)
			rc = 0;
		else
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

static int act_files(dd_run *d, int act)
{
	int done = 0;
	for (int i = 0; i < d->n; i++) {
		dd_image *im = &d->im[i];
		if (!is_dup(im) || (act == ACT_HARDLINK &&
		                    im->method != DD_IDENTICAL))
			continue;
		const dd_image *k = NULL;
		for (int j = 0; j < d->n && !k; j++)
			if (d->im[j].keeper && d->im[j].group == im->group)
				k = &d->im[j];
		char h[65], hk[65];
		siam_error err = { 0, "" };
		/* Act only on the bytes that were indexed. */
		if (file_sha256(im->path, h, &err) < 0) {
			cli_error("dedup", "%s: left alone: %s", im->path,
			          err.msg);
			d->failed++;
			continue;
		}
		if (strcmp(h, im->hash)) {
			cli_error("dedup", "%s: left alone: it changed since it "
			          "was indexed", im->path);
			d->failed++;
			continue;
		}
		if (act == ACT_HARDLINK) {
			struct stat a, b;
			if (!k || file_sha256(k->path, hk, &err) < 0 ||
			    strcmp(hk, h)) {
				cli_error("dedup", "%s: not linked: its keeper "
				          "changed", im->path);
				d->failed++;
				continue;
			}
			if (stat(k->path, &a) == 0 && stat(im->path, &b) == 0 &&
			    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
				continue; /* already one file */
			if (hardlink_one(k->path, im->path) < 0) {
				cli_error("dedup", "%s: not linked: %s", im->path,
				          strerror(errno));
				d->failed++;
				continue;
			}
		} else if (unlink(im->path) < 0) {
			cli_error("dedup", "%s: not deleted: %s", im->path,
			          strerror(errno));
			d->failed++;
			continue;
		}
		done++;
	}
	return done;
}

static void csv_field(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void print_distance(FILE *f, const dd_image *im)
{
	if (im->method & (DD_CNN | DD_CROP))
		fprintf(f, "%.6g", im->distance);
	else
		fprintf(f, "%d", (int)im->distance);
}

/* --sheet: draws and writes the contact sheet; a failure is reported
 * and counted in d->failed, and the run goes on. */
static void write_sheet(dd_run *d, const char *path, int quiet)
{
	dd_sheet s = { 0 };
	char msg[4200];
	int *ord = malloc((size_t)(d->n ? d->n : 1) * sizeof *ord), m;
	if (!ord || (m = dd_order(d->im, d->n, ord)) < 0) {
		snprintf(msg, sizeof msg, "%s: out of memory", path);
		m = -1;
	} else if (dd_sheet_render(&s, d->im, ord, m, msg, sizeof msg) ||
	           dd_sheet_write(&s, path, msg, sizeof msg)) {
		m = -1;
	}
	if (m < 0) {
		cli_error("dedup", "--sheet %s; the report goes on without it",
		          msg);
		d->failed++;
	} else {
		if (!quiet)
			fprintf(stderr, "siam dedup: contact sheet %s: %d "
			        "group%s, %d x %d pixels%s\n", path, s.rows,
			        s.rows == 1 ? "" : "s", s.w, s.h,
			        s.left_out ? " (the first groups only)" : "");
		if (s.left_out)
			fprintf(stderr, "siam dedup: --sheet: %d more group%s "
			        "not drawn (at most %d)\n", s.left_out,
			        s.left_out == 1 ? "" : "s", DD_SHEET_GROUPS);
		if (s.unreadable)
			fprintf(stderr, "siam dedup: --sheet: %d file%s could "
			        "not be read again (a crossed box)\n",
			        s.unreadable, s.unreadable == 1 ? "" : "s");
	}
	dd_sheet_free(&s);
	free(ord);
}

static void print_results(dd_run *d, int ngroups, int fmt, double t,
                          int bits, const char *method, const char *keep,
                          const char *action, int done,
                          const char *manifest,
                          const siam_mpi_pairs_stats *ms)
{
	int *ord = malloc((size_t)(d->n ? d->n : 1) * sizeof *ord), m;
	int64_t dup_bytes = 0, ndup = 0;
	if (!ord || (m = dd_order(d->im, d->n, ord)) < 0) {
		free(ord);
		cli_error("dedup", "out of memory");
		return;
	}
	for (int i = 0; i < m; i++)
		if (!d->im[ord[i]].keeper) {
			ndup++;
			if (d->im[ord[i]].size > 0)
				dup_bytes += d->im[ord[i]].size;
		}
	if (fmt == 'j') {
		printf("{\"threshold\":%.9g,", t);
		if (bits >= 0) /* the method uses phash */
			printf("\"phash_bits\":%d,", bits);
		printf("\"method\":\"%s\",\"keep\":\"%s\",\"groups\":[", method,
		       keep);
		for (int i = 0; i < m; i++) {
			const dd_image *im = &d->im[ord[i]];
			if (im->keeper)
				printf("%s{\"keeper\":", i ? "]}," : "");
			else
				printf("%s", d->im[ord[i - 1]].keeper ? ",\"members\":[" : ",");
			printf("{\"path\":");
			cli_json_string(stdout, im->path);
			printf(",\"width\":%d,\"height\":%d,\"size\":%lld,"
			       "\"reference\":%s", im->width, im->height,
			       (long long)im->size, im->reference ? "true" :
			       "false");
			if (!im->keeper) {
				printf(",\"method\":\"%s\",\"distance\":",
				       dd_method_name(im->method));
				print_distance(stdout, im);
			}
			printf("}");
		}
		printf("%s],\"broken\":[", m ? "]}" : "");
		for (size_t i = 0; i < d->nbroken; i++) {
			char *tab = strchr(d->broken[i], '\t');
			*tab = 0;
			printf("%s{\"path\":", i ? "," : "");
			cli_json_string(stdout, d->broken[i]);
			printf(",\"reason\":");
			cli_json_string(stdout, tab + 1);
			printf("}");
			*tab = '\t';
		}
		printf("],\"duplicates\":%lld,\"duplicate_bytes\":%lld,"
		       "\"action\":\"%s\",\"done\":%d,\"failed\":%d",
		       (long long)ndup, (long long)dup_bytes, action, done,
		       d->failed);
		if (manifest && *manifest) {
			printf(",\"manifest\":");
			cli_json_string(stdout, manifest);
		}
		/* under mpirun, once the ranks searched: the rows, pairs,
		 * seconds of the search, bytes each rank sent and CPU
		 * seconds each spent */
		if (ms && ms->sent) {
			printf(",\"mpi\":{\"ranks\":%d,\"rows\":%lld,"
			       "\"pairs\":%lld,\"seconds\":%.6f,\"sent\":[",
			       ms->ranks, (long long)ms->rows,
			       (long long)d->ncnn, ms->seconds);
			for (int r = 0; r < ms->ranks; r++)
				printf("%s%llu", r ? "," : "",
				       (unsigned long long)ms->sent[r]);
			printf("],\"cpu\":[");
			for (int r = 0; r < ms->ranks; r++)
				printf("%s%.6f", r ? "," : "", ms->cpu[r]);
			printf("]}");
		}
		printf("}\n");
	} else if (fmt == 'c') {
		printf("group,role,method,distance,width,height,size,path\n");
		for (int i = 0; i < m; i++) {
			const dd_image *im = &d->im[ord[i]];
			printf("%d,%s,%s,", im->group + 1,
			       im->keeper ? "keep" : im->reference ?
			       "reference" : "duplicate",
			       im->keeper ? "" : dd_method_name(im->method));
			if (!im->keeper)
				print_distance(stdout, im);
			printf(",%d,%d,%lld,", im->width, im->height,
			       (long long)im->size);
			csv_field(stdout, im->path);
			printf("\n");
		}
		for (size_t i = 0; i < d->nbroken; i++) {
			char *tab = strchr(d->broken[i], '\t');
			*tab = 0;
			printf(",broken,");
			csv_field(stdout, tab + 1);
			printf(",,,,,");
			csv_field(stdout, d->broken[i]);
			printf("\n");
			*tab = '\t';
		}
	} else {
		for (int i = 0; i < m; i++) {
			const dd_image *im = &d->im[ord[i]];
			if (im->keeper) {
				int size = 1;
				for (int j = i + 1; j < m &&
				     d->im[ord[j]].group == im->group; j++)
					size++;
				printf("%sgroup %d: %d files\n", i ? "\n" : "",
				       im->group + 1, size);
				printf("  keep       ");
			} else {
				printf("  %-10s ", dd_method_name(im->method));
			}
			cli_text_path(stdout, im->path);
			if (im->keeper)
				printf("  (%dx%d, %lld bytes%s)", im->width,
				       im->height, (long long)im->size,
				       im->reference ? ", reference" : "");
			else {
				printf("  %s ", im->method == DD_PHASH ? "bits" :
				       "distance");
				print_distance(stdout, im);
				if (im->reference)
					printf(" (reference, kept)");
			}
			printf("\n");
		}
		for (size_t i = 0; i < d->nbroken; i++) {
			char *tab = strchr(d->broken[i], '\t');
			*tab = 0;
			printf("%sbroken     ", i ? "" : m ? "\n" : "");
			cli_text_path(stdout, d->broken[i]);
			printf(": %s\n", tab + 1);
			*tab = '\t';
		}
		printf("%s%d group%s, %lld duplicate%s (%lld bytes); ",
		       m || d->nbroken ? "\n" : "", ngroups,
		       ngroups == 1 ? "" : "s", (long long)ndup,
		       ndup == 1 ? "" : "s", (long long)dup_bytes);
		if (!strcmp(action, "none"))
			printf("dry run, nothing changed (--move-to DIR, "
			       "--hardlink or --delete --yes act)\n");
		else
			printf("%s: %d done, %d failed\n", action, done,
			       d->failed);
	}
	free(ord);
}

static int parse_method(const char *s)
{
	return !strcmp(s, "exact") ? DD_IDENTICAL :
	       !strcmp(s, "phash") ? DD_PHASH | DD_IDENTICAL :
	       !strcmp(s, "cnn") ? DD_CNN | DD_IDENTICAL :
	       !strcmp(s, "all") ? DD_IDENTICAL | DD_CNN | DD_PHASH | DD_CROP :
	       -1;
}

static int parse_keep(const char *s)
{
	return !strcmp(s, "largest") ? DD_KEEP_LARGEST :
	       !strcmp(s, "oldest") ? DD_KEEP_OLDEST :
	       !strcmp(s, "newest") ? DD_KEEP_NEWEST :
	       !strcmp(s, "shortest-path") ? DD_KEEP_SHORTEST : -1;
}

/* Rank 0 under mpirun: dd_cnn_pairs with the search shared by every
 * rank.  The matrix is siam_db_pairs's, the pairs come back as its
 * row numbers in its order, so mapping them to ids gives its list. */
static int mpi_cnn_pairs(dd_run *d, sqlite3 *db, int64_t model_id,
                         double t, dd_edge **e, size_t *ne, size_t *cap,
                         siam_error *err)
{
	float *x = NULL;
	int64_t *rowid = NULL, n = 0;
	int dim = 0, rc;
	siam_db_pair *p = NULL;
	size_t np = 0;
	if ((rc = siam_db_embeddings(db, model_id, &x, &rowid, &n, &dim, err)))
		return rc; /* the ranks still wait: run() lets them go */
	d->ring_wait = 0;
	if (siam_mpi_pairs(x, n, dim, t, &p, &np, &d->ring)) {
		free(x);
		free(rowid);
		return siam_errorf(err, SIAM_EIO, "the all-pairs search failed "
		                   "on a rank (its message is above)");
	}
	free(x);
	for (size_t k = 0; k < np; k++) {
		p[k].a = rowid[p[k].a];
		p[k].b = rowid[p[k].b];
	}
	d->ncnn = (int64_t)np;
	if (dd_pair_edges(p, np, d->ids, d->n, e, ne, cap))
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
	free(rowid);
	free(p);
	return rc;
}

/* The pairs of the chosen methods, as edges between images. */
static int find_edges(dd_run *d, sqlite3 *db, int64_t model_id,
                      int methods, double t, int bits, dd_edge **out,
                      size_t *nout)
{
	dd_edge *e = NULL;
	size_t ne = 0, cap = 0;
	siam_error err = { 0, "" };
	if ((methods & DD_IDENTICAL) &&
	    dd_identical_pairs(d->im, d->n, &e, &ne, &cap) < 0)
		goto oom;
	if ((methods & DD_PHASH) &&
	    dd_phash_pairs(d->im, d->n, bits, &e, &ne, &cap) < 0)
		goto oom;
	/* d->ids is ascending (listing order); pairs with an image not
	 * under the PATHs are left out */
	if ((methods & DD_CNN) && d->ring_wait) {
		if (mpi_cnn_pairs(d, db, model_id, t, &e, &ne, &cap, &err)) {
			cli_error("dedup", "%s", err.msg);
			free(e);
			return -1;
		}
	} else if ((methods & DD_CNN) &&
	           dd_cnn_pairs(db, model_id, t, d->ids, d->n, &e, &ne, &cap,
	                        &err)) {
		cli_error("dedup", "%s", err.msg);
		free(e);
		return -1;
	}
	/* the default method: the model's pairs not well within the
	 * threshold must look alike too (dedup_pairs.h); the crop pairs
	 * added next have passed a stricter look */
	if ((methods & DD_CROP) && (methods & DD_CNN) &&
	    dd_look_pairs(d->im, t, e, &ne, &d->nlooked, &d->nunlike) < 0)
		goto oom;
	if ((methods & DD_CROP) &&
	    dd_crop_pairs(db, model_id, t, d->im, d->ids, d->n, &e, &ne, &cap,
	                  &d->ncrop, &err)) {
		cli_error("dedup", "%s", err.msg);
		free(e);
		return -1;
	}
	*out = e;
	*nout = ne;
	return 0;
oom:
	cli_error("dedup", "out of memory");
	free(e);
	return -1;
}

/* Ranks 1..N-1 under mpirun: embed for rank 0's indexing when it
 * indexes (index_wait), then take part in its pair search; they open
 * nothing and print nothing but their own failure (a search that
 * fails is said by its rank and ends every rank; running out of memory
 * aborts the run with its message). */
static int worker(int index_wait)
{
#ifdef SIAM_MPI
	if (index_wait) {
		siam_model *wm = NULL;
		siam_index_opts o;
		siam_index_opts_default(&o);
		o.threads = 1; /* one rank a core, as mpirun siam index */
		if (siam_mpi_share_model(&wm))
			return SIAM_EXIT_ERROR; /* rank 0 failed: it said why */
		siam_mpi_index_worker(wm, &o);
		siam_model_free(wm);
	}
#else
	(void)index_wait;
#endif
	return siam_mpi_pairs_worker() ? SIAM_EXIT_ERROR : SIAM_EXIT_OK;
}

static int run(int argc, char **argv, cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "model", required_argument, NULL, 'm' },
		{ "method", required_argument, NULL, 'M' },
		{ "threshold", required_argument, NULL, 'T' },
		{ "phash-bits", required_argument, NULL, 'B' },
		{ "min-group", required_argument, NULL, 'G' },
		{ "keep", required_argument, NULL, 'K' },
		{ "reference", required_argument, NULL, 'R' },
		{ "move-to", required_argument, NULL, 'O' },
		{ "undo", required_argument, NULL, 'U' },
		{ "hardlink", no_argument, NULL, 'L' },
		{ "delete", no_argument, NULL, 'D' },
		{ "yes", no_argument, NULL, 'Y' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'C' },
		{ "sheet", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry *me = &cmd_dedup_entry;
	const char *dbpath = CLI_DEFAULT_DB, *model_arg = NULL;
	const char *method_s = "all", *keep_s = "largest", *move_to = NULL;
	const char *undo = NULL, *sheet = NULL;
	const char **refs = NULL;
	int nrefs = 0, quiet = 0, fmt = 't', del = 0, yes = 0, hard = 0;
	int min_group = 2, bits = -1, c, status = SIAM_EXIT_ERROR;
	double threshold = -1;
	long v;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:m:jqh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dbpath = optarg; break;
		case 'm': model_arg = optarg; break;
		case 'M':
			if (parse_method(optarg) < 0)
				return cli_usage_error(me, "--method: exact, "
				                       "phash, cnn or all, not "
				                       "'%s'", optarg);
			method_s = optarg;
			break;
		case 'T':
			if (cli_parse_float(me, "--threshold", optarg, 0, 1e30,
			                    &threshold))
				return SIAM_EXIT_ERROR;
			break;
		case 'B':
			if (cli_parse_int(me, "--phash-bits", optarg, 0, 64, &v))
				return SIAM_EXIT_ERROR;
			bits = (int)v;
			break;
		case 'G':
			if (cli_parse_int(me, "--min-group", optarg, 2, 1 << 30,
			                  &v))
				return SIAM_EXIT_ERROR;
			min_group = (int)v;
			break;
		case 'K':
			if (parse_keep(optarg) < 0)
				return cli_usage_error(me, "--keep: largest, "
				                       "oldest, newest or "
				                       "shortest-path, not '%s'",
				                       optarg);
			keep_s = optarg;
			break;
		case 'R': {
			const char **r = realloc(refs, (size_t)(nrefs + 1) *
			                                  sizeof *r);
			if (!r) {
				free(refs);
				return SIAM_EXIT_ERROR;
			}
			refs = r;
			refs[nrefs++] = optarg;
			break;
		}
		case 'O': move_to = optarg; break;
		case 'U': undo = optarg; break;
		case 'L': hard = 1; break;
		case 'D': del = 1; break;
		case 'Y': yes = 1; break;
		case 'j': fmt = 'j'; break;
		case 'C': fmt = 'c'; break;
		case 'S': sheet = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': free(refs); return cli_help(me);
		default:
			free(refs);
			return cli_usage_error(me, "unknown or incomplete option "
			                       "'%s'", argv[optind - 1]);
		}
	}
	if (undo) {
		free(refs);
		if (optind < argc || move_to || hard || del)
			return cli_usage_error(me, "--undo takes only the "
			                       "manifest");
		if (siam_mpi_rank() != 0) /* rank 0 puts the files back */
			return SIAM_EXIT_OK;
		return act_undo(undo, quiet);
	}
	if (del && !yes) {
		free(refs);
		return cli_usage_error(me, "--delete deletes files: add --yes "
		                       "to confirm (or look first without it)");
	}
	if ((move_to != NULL) + hard + del > 1) {
		free(refs);
		return cli_usage_error(me, "choose one of --move-to, --hardlink "
		                       "and --delete");
	}
	int act = move_to ? ACT_MOVE : hard ? ACT_HARDLINK :
	          del ? ACT_DELETE : ACT_NONE;
	int nroots = argc - optind;
	/* Under mpirun (one rank too, so its figures can be compared) the
	 * pair search is shared; with several, the indexing too. */
#ifdef SIAM_MPI
	int mpi = siam_mpi_launched() > 0;
#else
	int mpi = 0;
#endif
	int index_wait = mpi && siam_mpi_size() > 1 && nroots + nrefs > 0;
	if (mpi && siam_mpi_rank() != 0) {
		free(refs);
		return worker(index_wait);
	}
	const char **roots = malloc((size_t)(nroots + nrefs + 1) *
	                            sizeof *roots);
	dd_run d;
	memset(&d, 0, sizeof d);
	d.ring_wait = mpi;
	sqlite3 *db = NULL;
	siam_model *m = NULL;
	int64_t model_id = 0;
	dd_edge *edges = NULL;
	size_t nedges = 0;
	char manifest[4096] = "";
	siam_error err = { 0, "" };
	if (!roots)
		goto done;
	for (int i = 0; i < nroots; i++)
		roots[i] = argv[optind + i];
	for (int i = 0; i < nrefs; i++)
		roots[nroots + i] = refs[i];
	d.roots = roots;
	d.nroots = nroots;
	d.nref = nrefs;
#ifdef SIAM_TEST_HOOKS /* tests/siam-hooked only: SIGKILL after N moves */
	const char *ka = getenv("SIAM_TEST_KILL_AFTER");
	d.kill_after = ka ? atol(ka) : 0;
#endif

	ctx->db_path = dbpath;
	ctx->model_arg = model_arg;
	ctx->images = roots;
	ctx->nimages = nroots + nrefs;
	ctx->store_model = nroots + nrefs > 0; /* indexing stores it */
	if (cli_setup(ctx))
		goto done;
	db = ctx->db;
	m = ctx->model;
	model_id = ctx->model_id;
	if (nroots + nrefs > 0) {
		siam_index_opts o;
		siam_index_status st;
		siam_index_opts_default(&o);
#ifdef SIAM_MPI
		/* as mpirun siam index: the others embed, rank 0 writes */
		siam_mpi_farm *farm = NULL;
		siam_index_farm fm;
		if (index_wait) {
			siam_model *sm = m;
			index_wait = 0;
			if (siam_mpi_share_model(&sm)) {
				d.ring_wait = 0; /* the others stopped */
				goto done;
			}
			if (!(farm = siam_mpi_farm_new(&fm, o.batch < 32 ?
			                               o.batch : 32)))
				siam_mpi_abort(SIAM_EXIT_ERROR, "dedup: out of "
				               "memory");
			o.farm = &fm;
		}
#endif
		int rc = siam_index_run(db, m, model_id, roots, nroots + nrefs,
		                        NULL, 0, &o, &st, &err);
#ifdef SIAM_MPI
		if (farm) /* every worker stops, whatever the run returned */
			siam_mpi_farm_end(farm, NULL);
#endif
		if (rc) {
			cli_error("dedup", "indexing: %s", err.msg);
			goto done;
		}
		if (!quiet && fmt == 't' && st.indexed)
			fprintf(stderr, "siam dedup: indexed %ld new image%s\n",
			        st.indexed, st.indexed == 1 ? "" : "s");
		cli_knn_refresh(db, model_id);
	}
	if (model_id == 0) {
		cli_error("dedup", "%s: nothing indexed: give the folders to "
		          "deduplicate", dbpath);
		goto done;
	}
	const char *from = "--threshold";
	if (threshold < 0)
		threshold = model_threshold(m, &from);
	if (siam_db_list_images(db, model_id, on_image, &d, &err)) {
		cli_error("dedup", "%s", err.msg[0] ? err.msg : "out of memory");
		goto done;
	}
	qsort(d.paths, d.npaths, sizeof *d.paths, cmp_str);
	if (nroots + nrefs > 0 &&
	    siam_walk(roots, nroots + nrefs, on_walk, &d, &err)) {
		cli_error("dedup", "%s", err.msg);
		goto done;
	}
	/* The phash bits: --phash-bits, else 10 alone and DD_ALL_PHASH_BITS
	 * within all (why: there); -1, not reported, when phash is unused. */
	int methods = parse_method(method_s);
	if (!(methods & DD_PHASH))
		bits = -1;
	else if (bits < 0)
		bits = methods & DD_CNN ? DD_ALL_PHASH_BITS : 10;
	if (find_edges(&d, db, model_id, methods, threshold,
	               bits, &edges, &nedges))
		goto done;
	if (d.ring_wait) { /* no cnn pairs asked for: the others go */
		siam_mpi_pairs_stop(0);
		d.ring_wait = 0;
	}
	int ngroups = dd_group(d.im, d.n, edges, nedges, parse_keep(keep_s),
	                       min_group);
	if (ngroups < 0) {
		cli_error("dedup", "out of memory");
		goto done;
	}
	char pb[40] = "", cb[240] = "";
	if (bits >= 0)
		snprintf(pb, sizeof pb, ", phash at most %d bits", bits);
	if (methods & DD_CROP) {
		/* rows of an older database have no grey picture until their
		 * folder is indexed again: say so, or crops go missing
		 * without a word */
		int nogray = 0;
		for (int i = 0; i < d.n; i++)
			nogray += !d.im[i].has_gray;
		int k = snprintf(cb, sizeof cb, ", %zu cnn pair%s looked at "
		                 "(%zu unlike, left out), crops checked on %zu "
		                 "pair%s", d.nlooked, d.nlooked == 1 ? "" : "s",
		                 d.nunlike, d.ncrop, d.ncrop == 1 ? "" : "s");
		if (nogray)
			snprintf(cb + k, sizeof cb - (size_t)k, " (%d image%s "
			         "without a grey picture: siam index their "
			         "folders)", nogray, nogray > 1 ? "s" : "");
	}
	if (!quiet && fmt == 't')
		fprintf(stderr, "siam dedup: %d images, method %s, threshold "
		        "%.4g (%s)%s%s, keep %s\n", d.n, method_s, threshold,
		        from, pb, cb, keep_s);
	/* The sheet before any action: its thumbnails are the files where
	 * they are now.  Failing to write it is reported and counted; the
	 * report and the actions still happen. */
	if (sheet)
		write_sheet(&d, sheet, quiet || fmt != 't');
	int ndone = 0;
	if (act == ACT_MOVE)
		ndone = act_move(&d, move_to, manifest, sizeof manifest,
		                 quiet || fmt != 't');
	else if (act != ACT_NONE)
		ndone = act_files(&d, act);
	if (ndone < 0)
		goto done;
	static const char *const act_names[] = { "none", "move", "hardlink",
	                                         "delete" };
	if (!quiet || fmt != 't')
		print_results(&d, ngroups, fmt, threshold, bits, method_s,
		              keep_s, act_names[act], ndone, manifest, &d.ring);
	if (fflush(stdout) != 0 || ferror(stdout))
		goto done;
	status = d.failed || d.nbroken ? SIAM_EXIT_PARTIAL : SIAM_EXIT_OK;
done:
	/* Under mpirun, the other ranks still waiting are let go: rank 0
	 * failed, and said why. */
#ifdef SIAM_MPI
	if (index_wait) {
		siam_model *none = NULL;
		siam_mpi_share_model(&none);
		d.ring_wait = 0;
	}
#endif
	if (d.ring_wait)
		siam_mpi_pairs_stop(1);
	siam_mpi_pairs_stats_free(&d.ring);
	for (size_t i = 0; i < d.npaths; i++)
		free(d.paths[i]);
	for (size_t i = 0; i < d.nbroken; i++)
		free(d.broken[i]);
	free(d.paths);
	free(d.broken);
	free(d.im);
	free(d.ids);
	free(edges);
	free(roots);
	free(refs);
	return status;
}
