/*
 * knn_sidecar.c -- siam_knn's matrix kept in a file beside the database
 * (knn_sidecar.h), so that a new process (every 'siam query') maps it
 * instead of reading every embedding out of SQLite and coding it again:
 * 1.2 s at a million rows before, a few milliseconds after.
 *
 * Why a file and not a table: the int8 pass scans one contiguous array
 * of codes; a BLOB in SQLite would be copied out of the page cache into
 * the heap on every open (the cost we are removing), while a mapping is
 * used in place, shared by every process, and only the pages a query
 * touches count in its memory.  Why the floats are in it too: the
 * exact re-rank reads the float rows of the candidates, and the plain
 * scan (large k) reads them all; reading them from SQLite by id would
 * need an index lookup per candidate.  Cost: 8 + 4 dim + 16 ceil(dim /
 * 16) + 8 bytes per row beside the database (336 bytes at 64 floats).
 *
 * Layout, in the byte order of the machine that wrote it (a file from
 * another byte order is refused, and rebuilt):
 *   header   SIDE_HEADER bytes: magic, version, byte-order mark, the tag
 *            (model id, images_gen, dim), n, dpad, the knn8 scalars
 *   ids      n int64, ascending                 \  each section starts
 *   resid    n double (knn8.resid)               | at a multiple of 64
 *   lo       dim float (knn8.lo)                 | bytes, its offset a
 *   codes    n * dpad bytes (knn8.codes)         | function of n and dim
 *   x        n * dim float, row-major            /  alone
 * What is checked on opening costs nothing per row, so that a cold
 * 'siam query' at ten million rows does not read 160 MB first: the
 * header and lo carry a CRC-32, the size must be exactly what n and dim
 * imply, and the scalars must be finite and equal to what knn8_build
 * would derive.  Every offset into the mapping comes from n and dim
 * alone, never from the rows, so no content can make a reader step out
 * of it; a damaged residual is taken at resid_max by the search
 * (knn.c), and ids out of order would only reorder ties.  The rows
 * (ids, residuals, codes, floats) are not checked against the database,
 * which is the read we are avoiding, nor checksummed, which would read
 * them all: like SQLite's own pages, they are trusted because the file
 * is only ever written whole (a locked temporary, fsync, rename) by siam
 * from the rows it read, and is tagged with images_gen, which changes
 * with every change of images.  (Version 1 checked each row's residual
 * and the order of the ids on every opening: 15-30 ms a million rows
 * on a loaded machine, for two of the five arrays.)
 *
 * Temporaries: "PATH.XXXXXX" (mkstemp), held under flock(2) by their
 * writer from creation to rename.  A writer killed meanwhile (kill -9,
 * a crash) leaves its temporary behind, but its lock dies with it: the
 * next writer removes every temporary of that name it can lock.
 */
#include "knn_sidecar.h"

#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIDE_MAGIC "SIAMKNN"  /* 8 bytes with its NUL */
#define SIDE_VERSION 2u
#define SIDE_BOM 0x01020304u
#define SIDE_HEADER 128
#define SIDE_ALIGN 64

typedef struct side_header {
	char magic[8];
	uint32_t version, bom;
	int64_t model_id, gen, n;
	int32_t dim, dpad;
	double scale, resid_max;
	int32_t qmin, qmax;
	uint32_t crc, zero; /* crc: CRC-32 of the SIDE_HEADER bytes with crc
	                     * 0, then of lo */
} side_header;

typedef struct side_layout {
	size_t ids, resid, lo, codes, x, end;
} side_layout;

/* Appends len bytes at *off, aligned; 0, or -1 on overflow. */
static int side_take(size_t *off, size_t *at, size_t len)
{
	size_t a = (*off + SIDE_ALIGN - 1) / SIDE_ALIGN * SIDE_ALIGN;
	if (a < *off || a + len < a)
		return -1;
	*at = a;
	*off = a + len;
	return 0;
}

/* Where each section lies for n rows of dim (dpad) values; 0, or -1 if
 * that does not fit in a size_t (a hostile n). */
static int side_layout_of(int64_t n, int dim, int dpad, side_layout *l)
{
	size_t un = (size_t)n, b8, bc, bx;
	if (n < 0 || dim < 1 || dpad < dim || (int64_t)un != n ||
	    __builtin_mul_overflow(un, (size_t)8, &b8) ||
	    __builtin_mul_overflow(un, (size_t)dpad, &bc) ||
	    __builtin_mul_overflow(un, (size_t)dim * 4, &bx))
		return -1;
	size_t off = SIDE_HEADER;
	if (side_take(&off, &l->ids, b8) || side_take(&off, &l->resid, b8) ||
	    side_take(&off, &l->lo, (size_t)dim * 4) ||
	    side_take(&off, &l->codes, bc) || side_take(&off, &l->x, bx))
		return -1;
	l->end = off;
	return 0;
}

/* The query-code bounds knn8_build derives from dpad (see knn.c): they
 * are recomputed, not taken from the file.  0, or -1 if knn8 refuses
 * this dim. */
static int side_qbounds(int dpad, int *qmin, int *qmax)
{
	int m = (int)floor(sqrt(2147483647.0 / dpad));
	if (m > 32767)
		m = 32767;
	if (m < 512)
		return -1;
	*qmin = 255 - m;
	*qmax = m;
	return 0;
}

/* The CRC-32 of a header block (its crc field taken as 0) and of lo. */
static uint32_t side_crc(const void *head, const float *lo, int dim)
{
	unsigned char h[SIDE_HEADER];
	uint32_t zero = 0;
	memcpy(h, head, sizeof h);
	memcpy(h + offsetof(side_header, crc), &zero, sizeof zero);
	uint32_t c = siam_crc32(0, h, sizeof h);
	return siam_crc32(c, lo, (size_t)dim * sizeof *lo);
}

char *knn_side_path(const char *dbfile, int64_t model_id)
{
	if (!dbfile || !*dbfile)
		return NULL;
	size_t len = strlen(dbfile) + 32;
	char *p = malloc(len);
	if (p)
		snprintf(p, len, "%s-knn-%lld", dbfile, (long long)model_id);
	return p;
}

void knn_side_close(knn_side *s)
{
	if (s->map)
		munmap(s->map, s->len);
	memset(s, 0, sizeof *s);
}

int knn_side_open(knn_side *s, const char *path, const knn_side_tag *tag)
{
	side_header h;
	side_layout l;
	struct stat st;
	int qmin, qmax;
	memset(s, 0, sizeof *s);
	/* O_NONBLOCK: a FIFO planted at the name fails instead of waiting
	 * for a writer; fstat then refuses anything but a regular file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		goto fail;
	if (memcmp(h.magic, SIDE_MAGIC, sizeof h.magic) ||
	    h.version != SIDE_VERSION || h.bom != SIDE_BOM ||
	    h.model_id != tag->model_id || h.gen != tag->gen ||
	    h.dim != tag->dim || h.dpad != (h.dim + 15) / 16 * 16 ||
	    side_qbounds(h.dpad, &qmin, &qmax) || h.qmin != qmin ||
	    h.qmax != qmax || !(h.scale > 0) || !isfinite(h.scale) ||
	    !(h.resid_max >= 0) || !isfinite(h.resid_max) ||
	    side_layout_of(h.n, h.dim, h.dpad, &l) ||
	    (uint64_t)st.st_size != (uint64_t)l.end)
		goto fail;
	uint32_t crc = h.crc;
	void *map = mmap(NULL, l.end, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	close(fd);
	fd = -1;
	s->map = map;
	s->len = l.end;
	const unsigned char *b = map;
	s->n = h.n;
	s->dim = h.dim;
	s->ids = (const int64_t *)(const void *)(b + l.ids);
	s->x = (const float *)(const void *)(b + l.x);
	s->q8.dim = h.dim;
	s->q8.dpad = h.dpad;
	s->q8.n = h.n;
	s->q8.codes = (uint8_t *)(b + l.codes);
	s->q8.lo = (float *)(void *)(b + l.lo);
	s->q8.resid = (double *)(void *)(b + l.resid);
	s->q8.scale = h.scale;
	s->q8.resid_max = h.resid_max;
	s->q8.qmin = qmin;
	s->q8.qmax = qmax;
	if (side_crc(b, s->q8.lo, h.dim) != crc)
		goto fail;
	for (int j = 0; j < h.dim; j++)
		if (!isfinite(s->q8.lo[j]))
			goto fail;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	knn_side_close(s);
	return -1;
}

static int side_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes len bytes at offset at of the file being made (*pos is where
 * it stands), zero-filling the gap left for alignment. */
static int side_put(int fd, size_t *pos, size_t at, const void *data,
                    size_t len)
{
	static const char zero[SIDE_ALIGN];
	if (at < *pos || at - *pos > sizeof zero ||
	    side_write_all(fd, zero, at - *pos) ||
	    side_write_all(fd, data, len))
		return -1;
	*pos = at + len;
	return 0;
}

/* Is name "BASE.XXXXXX", a temporary of mkstemp's pattern for base? */
static int side_is_temp(const char *name, const char *base, size_t bl)
{
	if (strncmp(name, base, bl) || name[bl] != '.' ||
	    strlen(name + bl + 1) != 6)
		return 0;
	for (const char *c = name + bl + 1; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9')))
			return 0;
	return 1;
}

/* Removes the temporaries of path's writers that died before their
 * rename: each live writer holds a lock on its own, so a temporary we
 * can lock has no writer.  Best effort: whatever fails is left. */
static void side_sweep(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dl = slash ? (size_t)(slash - path) + 1 : 0, bl = strlen(base);
	char *dir = malloc(dl + 2), *full = malloc(dl + bl + 8);
	DIR *d = NULL;
	if (!dir || !full)
		goto out;
	memcpy(dir, slash ? path : ".", slash ? dl : 1);
	dir[slash ? dl : 1] = 0;
	if (!(d = opendir(dir)))
		goto out;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!side_is_temp(e->d_name, base, bl))
			continue;
		memcpy(full, path, dl);
		memcpy(full + dl, e->d_name, bl + 8);
		int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		                    O_NONBLOCK);
		struct stat st;
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlink(full);
		close(fd);
	}
out:
	if (d)
		closedir(d);
	free(dir);
	free(full);
}

/* Streamed, not siam_write_file (fileio.c): the file can be gigabytes,
 * which we would rather not copy into one buffer first; and mkstemp
 * gives every writer its own temporary, so two processes rebuilding at
 * once cannot interleave their bytes (the last rename wins, and both
 * files are whole and correct).  The temporary is locked from its
 * creation until after its rename, so that side_sweep, in another
 * writer, never takes a live one for a dead one's. */
int knn_side_write(const char *path, int mode, const knn_side_tag *tag,
                   const int64_t *ids, const float *x, const knn8 *q8)
{
	side_header h;
	side_layout l;
	size_t pl = strlen(path), pos = 0;
	char *tmp = malloc(pl + sizeof ".XXXXXX");
	int fd = -1, rc = -1, made = 0;
	if (!tmp || q8->dim != tag->dim ||
	    side_layout_of(q8->n, q8->dim, q8->dpad, &l))
		goto out;
	side_sweep(path);
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".XXXXXX", sizeof ".XXXXXX");
	fd = mkstemp(tmp);
	if (fd < 0)
		goto out;
	made = 1;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Not ours if a sweeper locked it in the instant since mkstemp: it
	 * is being removed, so give up (a cache; the next writer makes it). */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		goto out;
	/* mkstemp makes it 0600: give it the database's permissions, so
	 * that whoever may read the database may read its sidecar, and no
	 * one else. */
	if (mode >= 0 && fchmod(fd, (mode_t)mode & 0666) != 0)
		goto out;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, SIDE_MAGIC, sizeof h.magic);
	h.version = SIDE_VERSION;
	h.bom = SIDE_BOM;
	h.model_id = tag->model_id;
	h.gen = tag->gen;
	h.n = q8->n;
	h.dim = q8->dim;
	h.dpad = q8->dpad;
	h.scale = q8->scale;
	h.resid_max = q8->resid_max;
	h.qmin = q8->qmin;
	h.qmax = q8->qmax;
	char head[SIDE_HEADER] = {0};
	memcpy(head, &h, sizeof h);
	h.crc = side_crc(head, q8->lo, q8->dim);
	memcpy(head, &h, sizeof h);
	size_t n = (size_t)q8->n, dim = (size_t)q8->dim;
	if (side_put(fd, &pos, 0, head, sizeof head) ||
	    side_put(fd, &pos, l.ids, ids, n * 8) ||
	    side_put(fd, &pos, l.resid, q8->resid, n * 8) ||
	    side_put(fd, &pos, l.lo, q8->lo, dim * 4) ||
	    side_put(fd, &pos, l.codes, q8->codes, n * (size_t)q8->dpad) ||
	    side_put(fd, &pos, l.x, x, n * dim * 4) || pos != l.end)
		goto out;
	/* fsync before the rename: else a crash can leave the name on a
	 * file whose blocks never reached the disk, with a valid header.
	 * Renamed before it is closed, so still locked (see above). */
	if (fsync(fd) != 0 || rename(tmp, path) != 0)
		goto out;
	made = 0;
	int c = close(fd);
	fd = -1;
	if (c != 0)
		goto out;
	siam_sync_dir(path);
	rc = 0;
out:
	if (made)
		unlink(tmp);
	if (fd >= 0)
		close(fd);
	free(tmp);
	return rc;
}
