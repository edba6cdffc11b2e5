/*
 * fileio.c -- reading and replacing whole files safely (see fileio.h):
 * no read that can hang on a FIFO or open a device, no write that can
 * leave half a file where a whole one was.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *siam_file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a regular file";
}

/* The body of both readers; spare: a buffer made here gets a quarter
 * more room than the hint, for the next file. */
static int read_into(int fd, const char *name, size_t hint, size_t max,
                     unsigned char **buf, size_t *capp, size_t *len,
                     int spare, siam_error *err)
{
	unsigned char *b = *buf, *nb;
	size_t cap = *capp, n = 0;
	int rc = 0;

	/* One byte more than the hint, so that hitting EOF needs no
	 * second allocation. */
	size_t want = (hint && hint < max) ? hint + 1 : 65536;
	/* A buffer four times too big for this file, kept from a huge
	 * one, is given back rather than held for the rest of the run. */
	if (!b || cap < want || (cap > ((size_t)64 << 20) && cap / 4 > want)) {
		/* Nothing to keep: free first, no copy by realloc.  A kept
		 * buffer gets room to spare, so that a slightly larger next
		 * file does not replace it again. */
		size_t room = spare && hint && want / 4 < max - hint
		                      ? want + want / 4 : want;
		free(b);
		*buf = NULL;
		*capp = 0;
		if (!(b = malloc(room)))
			return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory",
			                   name);
		cap = room;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			size_t ncap;

			if (cap > max) {
				rc = siam_errorf(err, SIAM_ETOOBIG,
				                 "%s: more than %zu bytes, above "
				                 "the limit", name, max);
				break;
			}
			ncap = cap > (size_t)-1 / 2 ? (size_t)-1 : cap * 2;
			if (max < (size_t)-1 && ncap > max + 1)
				ncap = max + 1;
			nb = realloc(b, ncap);
			if (!nb) {
				rc = siam_errorf(err, SIAM_ENOMEM,
				                 "%s: out of memory", name);
				break;
			}
			b = nb;
			cap = ncap;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* A non-blocking pipe inherited as stdin:
				 * wait for data rather than fail. */
				struct pollfd pfd = {fd, POLLIN, 0};
				if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
					continue;
			}
			rc = siam_errorf(err, SIAM_EIO, "%s: %s", name,
			                 strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!rc && n > max)
		rc = siam_errorf(err, SIAM_ETOOBIG,
		                 "%s: more than %zu bytes, above the limit",
		                 name, max);
	*buf = b;
	*capp = cap;
	*len = rc ? 0 : n;
	return rc;
}

int siam_read_fd_reuse(int fd, const char *name, size_t hint, size_t max,
                       unsigned char **buf, size_t *cap, size_t *len,
                       siam_error *err)
{
	return read_into(fd, name, hint, max, buf, cap, len, 1, err);
}

int siam_read_fd(int fd, const char *name, size_t hint, size_t max,
                 unsigned char **buf, size_t *len, siam_error *err)
{
	unsigned char *b = NULL;
	size_t cap = 0;
	int rc = read_into(fd, name, hint, max, &b, &cap, len, 0, err);

	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	return 0;
}

int siam_open_regular(const char *path, int *fd, struct stat *st,
                      siam_error *err)
{
	int f;

	*fd = -1;
	/* stat first so that a device is never even opened (opening some
	 * has side effects); the fstat below is the check that holds if
	 * the name is replaced in between. */
	if (stat(path, st) != 0)
		return siam_errorf(err, SIAM_EIO, "%s: %s", path,
		                   strerror(errno));
	if (!S_ISREG(st->st_mode))
		return siam_errorf(err, SIAM_EIO, "%s: not a regular file (%s)",
		                   path, siam_file_kind(st->st_mode));
	/* O_NONBLOCK: a FIFO swapped in after the stat must not make the
	 * open wait for a writer; for a regular file it changes nothing. */
	f = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (f < 0)
		return siam_errorf(err, SIAM_EIO, "%s: %s", path,
		                   strerror(errno));
	if (fstat(f, st) != 0) {
		int e = errno;
		close(f);
		return siam_errorf(err, SIAM_EIO, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st->st_mode)) {
		close(f);
		return siam_errorf(err, SIAM_EIO, "%s: not a regular file (%s)",
		                   path, siam_file_kind(st->st_mode));
	}
	*fd = f;
	return 0;
}

int siam_read_file(const char *path, size_t max, unsigned char **buf,
                   size_t *len, siam_error *err)
{
	struct stat st;
	int fd, rc;
	*buf = NULL;
	*len = 0;
	if ((rc = siam_open_regular(path, &fd, &st, err)))
		return rc;
	if ((unsigned long long)st.st_size > max)
		rc = siam_errorf(err, SIAM_ETOOBIG, "%s: %lld bytes, above the "
		                 "limit of %zu bytes", path,
		                 (long long)st.st_size, max);
	else
		rc = siam_read_fd(fd, path, (size_t)st.st_size, max, buf, len,
		                  err);
	close(fd);
	return rc;
}

/* Writes all of data to fd, through short writes and signals. */
static int write_all(int fd, const unsigned char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync on path's directory, so that a rename into it is on the disk
 * too.  Best effort: some file systems refuse to sync a directory, and
 * the file itself is whole either way. */
void siam_sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
	                  : strdup(".");
	if (!dir)
		return;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int siam_write_file(const char *path, const void *data, size_t len,
                    siam_error *err)
{
	/* Allocated, not a fixed buffer: any path that names a file has
	 * room for its temporary beside it. */
	size_t pl = strlen(path);
	char *tmp = malloc(pl + sizeof ".tmp");
	int fd = -1, made = 0, rc = 0;
	if (!tmp)
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", path);
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".tmp", sizeof ".tmp");
	/* O_NOFOLLOW: a symlink planted at the temporary name is not
	 * followed; O_NONBLOCK: a FIFO there without a reader fails instead
	 * of waiting for one (it changes nothing for a regular file), and
	 * the fstat refuses one with a reader, or a device. */
	struct stat st;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW |
	          O_NONBLOCK, 0666);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = siam_errorf(err, SIAM_EIO, "%s: cannot write %s: %s", path,
		                 tmp, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = siam_errorf(err, SIAM_EIO, "%s: cannot write %s: not a "
		                 "regular file (%s)", path, tmp,
		                 siam_file_kind(st.st_mode));
		goto fail;
	}
	made = 1;
	/* fsync before the rename: without it a crash can leave the new
	 * name pointing at a file whose data never reached the disk. */
	if (write_all(fd, data, len) || fsync(fd)) {
		rc = siam_errorf(err, SIAM_EIO, "%s: write failed: %s", path,
		                 strerror(errno));
		goto fail;
	}
	int c = close(fd);
	fd = -1;
	if (c) {
		rc = siam_errorf(err, SIAM_EIO, "%s: write failed: %s", path,
		                 strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		rc = siam_errorf(err, SIAM_EIO, "%s: cannot replace: %s", path,
		                 strerror(errno));
		goto fail;
	}
	siam_sync_dir(path);
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (made) /* only what this call created: not a FIFO found there */
		unlink(tmp);
	free(tmp);
	return rc;
}
