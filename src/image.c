/*
 * image.c -- reading an image file (or standard input) whole, through
 * fileio.h, so that a FIFO, a device or a directory can neither hang nor
 * be read; then decoding it (siam_image_decode, src/image/decode.c).
 */
#include "internal.h"
#include "fileio.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What we call standard input in messages. */
#define STDIN_NAME "standard input"

int siam_image_load(siam_image *out, const char *path,
                    const siam_image_limits *lim, siam_error *err)
{
	siam_image_limits deflim;
	unsigned char *buf = NULL;
	const char *name;
	struct stat st;
	size_t len = 0;
	int fd = -1, rc;

	if (!out)
		return siam_errorf(err, SIAM_EINVAL, "siam_image_load: no output");
	memset(out, 0, sizeof *out);
	if (!path || !*path)
		return siam_errorf(err, SIAM_EINVAL, "empty image path");
	if (!lim) {
		siam_image_limits_default(&deflim);
		lim = &deflim;
	}

	if (strcmp(path, "-") == 0) {
		/* Standard input may be a pipe or a terminal: the user
		 * chose it, so we read it as it comes. */
		name = STDIN_NAME;
		if (fstat(STDIN_FILENO, &st) != 0)
			return siam_errorf(err, SIAM_EIO, "%s: %s", name,
			                   strerror(errno));
		if (S_ISDIR(st.st_mode))
			return siam_errorf(err, SIAM_EIO, "%s: is a directory",
			                   name);
		if (S_ISREG(st.st_mode) && st.st_size > 0 &&
		    (unsigned long long)st.st_size > lim->max_bytes)
			return siam_errorf(err, SIAM_ETOOBIG,
			                   "%s: %lld bytes, above the limit of "
			                   "%zu bytes", name,
			                   (long long)st.st_size, lim->max_bytes);
		rc = siam_read_fd(STDIN_FILENO, name,
		                  S_ISREG(st.st_mode) ? (size_t)st.st_size : 0,
		                  lim->max_bytes, &buf, &len, err);
		if (rc)
			return rc;
	} else {
		name = path;
		rc = siam_open_regular(path, &fd, &st, err);
		if (rc)
			return rc;
		if ((unsigned long long)st.st_size > lim->max_bytes) {
			rc = siam_errorf(err, SIAM_ETOOBIG,
			                 "%s: %lld bytes, above the limit of %zu "
			                 "bytes", path, (long long)st.st_size,
			                 lim->max_bytes);
			goto fail;
		}
		rc = siam_read_fd(fd, path, (size_t)st.st_size, lim->max_bytes,
		                  &buf, &len, err);
		if (rc)
			goto fail;
		close(fd);
		fd = -1;
	}

	rc = siam_image_decode(out, buf, len, name, lim, err);
	free(buf);
	return rc;

fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
