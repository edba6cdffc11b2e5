/*
 * walk.c -- the recursive folder walk behind `siam index`.
 *
 * What it promises, and why:
 *   - It never hangs.  Special files (FIFOs, devices, sockets) are
 *     reported as skipped from their stat() alone and never opened:
 *     opening a FIFO blocks until a writer comes.  Symbolic links are
 *     followed, so a link to a folder of photos works, and every
 *     directory's (st_dev, st_ino) is remembered: a directory reached a
 *     second time (a link to an ancestor, two links to one folder) is
 *     skipped, so a loop ends and no image is walked twice.
 *   - Paths are built from the root exactly as given plus the names read
 *     from the directories, byte for byte: quotes, spaces, newlines and
 *     invalid UTF-8 survive.
 *   - Entries come out in byte order of their names within a directory,
 *     depth first, so two walks of one tree agree.
 *   - Only one directory stream is open at a time (each directory's
 *     names are read, sorted, and the stream closed before descending),
 *     so depth is not limited by open file descriptors.
 *   - A problem with one entry (a dangling link, a link loop, a folder
 *     that cannot be read) is reported through the callback and the walk
 *     goes on.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct dirid {
	dev_t dev;
	ino_t ino;
} dirid;

typedef struct walker {
	siam_walk_cb cb;
	void *arg;
	dirid *seen; /* open-addressing set of visited directories */
	size_t nseen, cap;
	int stopped;
	int depth; /* of the entry being looked at */
} walker;

static size_t dirid_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;
	h ^= h >> 29;
	return (size_t)h;
}

/* Inserts (dev, ino); returns 1 if it was new, 0 if already there,
 * -1 when out of memory. */
static int seen_add(walker *w, dev_t dev, ino_t ino)
{
	if (2 * (w->nseen + 1) > w->cap) {
		size_t ncap = w->cap ? 2 * w->cap : 64;
		dirid *n = calloc(ncap, sizeof *n);
		if (!n)
			return -1;
		for (size_t i = 0; i < w->cap; i++) {
			if (!w->seen[i].ino)
				continue;
			size_t j = dirid_hash(w->seen[i].dev, w->seen[i].ino) &
			           (ncap - 1);
			while (n[j].ino)
				j = (j + 1) & (ncap - 1);
			n[j] = w->seen[i];
		}
		free(w->seen);
		w->seen = n;
		w->cap = ncap;
	}
	/* ino 0 marks an empty slot; no real directory has inode 0, and if
	 * one did it would merely never be recognised as seen twice. */
	size_t j = dirid_hash(dev, ino) & (w->cap - 1);
	while (w->seen[j].ino) {
		if (w->seen[j].ino == ino && w->seen[j].dev == dev)
			return 0;
		j = (j + 1) & (w->cap - 1);
	}
	if (!ino)
		return 1;
	w->seen[j].dev = dev;
	w->seen[j].ino = ino;
	w->nseen++;
	return 1;
}

static int emit(walker *w, const char *path, int kind, const struct stat *st,
                const char *msg)
{
	siam_walk_entry e;
	memset(&e, 0, sizeof e);
	e.path = path;
	e.kind = kind;
	e.msg = msg;
	e.depth = w->depth;
	if (st) {
		e.size = (int64_t)st->st_size;
		e.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
		             st->st_mtim.tv_nsec;
	}
	if (w->cb(w->arg, &e)) {
		w->stopped = 1;
		return 1;
	}
	return 0;
}

static const char *special_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "not a regular file (a FIFO): skipped";
	if (S_ISSOCK(m))
		return "not a regular file (a socket): skipped";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "not a regular file (a device): skipped";
	return "not a regular file: skipped";
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_path(walker *w, const char *path, int depth,
                     siam_error *err);

static int walk_dir(walker *w, const char *path, siam_error *err)
{
	char msg[SIAM_ERR_MAX];
	char **names = NULL;
	size_t n = 0, cap = 0;
	char *child = NULL;
	int rc = 0;
	int cdepth = w->depth + 1;

	DIR *d = opendir(path);
	if (!d) {
		snprintf(msg, sizeof msg, "cannot open directory: %s",
		         strerror(errno));
		return emit(w, path, SIAM_WALK_ERROR, NULL, msg) ? SIAM_EINTR
		                                                 : 0;
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno) {
				snprintf(msg, sizeof msg,
				         "cannot read directory: %s",
				         strerror(errno));
				if (emit(w, path, SIAM_WALK_ERROR, NULL, msg))
					rc = SIAM_EINTR;
			}
			break;
		}
		const char *nm = de->d_name;
		if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 32;
			char **nn = realloc(names, ncap * sizeof *nn);
			if (!nn)
				goto oom;
			names = nn;
			cap = ncap;
		}
		if (!(names[n] = strdup(nm)))
			goto oom;
		n++;
	}
	closedir(d);
	d = NULL;
	if (rc)
		goto done;
	if (n > 1)
		qsort(names, n, sizeof *names, name_cmp);

	size_t plen = strlen(path);
	int slash = plen > 0 && path[plen - 1] == '/';
	for (size_t i = 0; i < n && !rc; i++) {
		size_t len = plen + !slash + strlen(names[i]) + 1;
		char *c = realloc(child, len);
		if (!c)
			goto oom;
		child = c;
		snprintf(child, len, "%s%s%s", path, slash ? "" : "/",
		         names[i]);
		rc = walk_path(w, child, cdepth, err);
	}
	goto done;
oom:
	rc = siam_errorf(err, SIAM_ENOMEM, "out of memory walking %s", path);
done:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(child);
	return rc;
}

static int walk_path(walker *w, const char *path, int depth,
                     siam_error *err)
{
	char msg[SIAM_ERR_MAX];
	struct stat lst, st;

	w->depth = depth;

	if (lstat(path, &lst) != 0) {
		snprintf(msg, sizeof msg, "cannot access: %s", strerror(errno));
		return emit(w, path, SIAM_WALK_ERROR, NULL, msg) ? SIAM_EINTR
		                                                 : 0;
	}
	st = lst;
	if (S_ISLNK(lst.st_mode) && stat(path, &st) != 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(msg, sizeof msg,
			         "dangling symbolic link: its target does "
			         "not exist");
		else if (e == ELOOP)
			snprintf(msg, sizeof msg,
			         "symbolic link loop: too many levels of "
			         "symbolic links");
		else
			snprintf(msg, sizeof msg,
			         "cannot follow symbolic link: %s",
			         strerror(e));
		return emit(w, path, SIAM_WALK_ERROR, NULL, msg) ? SIAM_EINTR
		                                                 : 0;
	}
	if (S_ISREG(st.st_mode))
		return emit(w, path, SIAM_WALK_FILE, &st, NULL) ? SIAM_EINTR : 0;
	if (S_ISDIR(st.st_mode)) {
		int isnew = seen_add(w, st.st_dev, st.st_ino);
		if (isnew < 0)
			return siam_errorf(err, SIAM_ENOMEM,
			                   "out of memory walking %s", path);
		if (!isnew)
			return emit(w, path, SIAM_WALK_SKIPPED, NULL,
			            "directory already visited (a symbolic "
			            "link loop or a second link): skipped")
			               ? SIAM_EINTR
			               : 0;
		return walk_dir(w, path, err);
	}
	return emit(w, path, SIAM_WALK_SKIPPED, &st, special_kind(st.st_mode))
	               ? SIAM_EINTR
	               : 0;
}

int siam_walk(const char *const *roots, int nroots, siam_walk_cb cb,
              void *arg, siam_error *err)
{
	walker w;
	memset(&w, 0, sizeof w);
	w.cb = cb;
	w.arg = arg;
	int rc = 0;
	for (int i = 0; i < nroots && !rc; i++) {
		if (!roots[i][0]) {
			if (emit(&w, roots[i], SIAM_WALK_ERROR, NULL,
			         "cannot access: empty path"))
				rc = SIAM_EINTR;
			continue;
		}
		rc = walk_path(&w, roots[i], 0, err);
	}
	if (rc == SIAM_EINTR)
		siam_errorf(err, SIAM_EINTR, "walk stopped");
	free(w.seen);
	return rc;
}
