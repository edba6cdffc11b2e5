/*
 * idx.c -- IDX files, the format of MNIST and Fashion-MNIST.
 *
 * An IDX file is a big-endian header, then raw bytes:
 *   00 00 08 03  n  rows  cols   pixels (n*rows*cols)   images
 *   00 00 08 01  n               labels (n)             labels
 * (0x08 = unsigned byte; the last byte is the number of dimensions.)
 *
 * Files are read through zlib's gzread, which inflates gzip data and
 * passes anything else through unchanged, so a file is recognised by its
 * content (gzip magic 1f 8b), whatever its name.  The header is checked
 * against the data actually present: a truncated download or trailing
 * bytes are errors, not silently short or shifted data sets.  The header
 * is never trusted for an allocation: a plain file is checked against
 * its size first, and compressed data grows the buffer as it inflates.
 */
#include "internal.h"
#include "fileio.h"
#include "siam_nn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_N 10000000
#define IDX_MAX_SIDE 4096

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads up to len bytes into buf, *got of them (fewer only at the end of
 * the data).  Returns 0, or an error code with the message in err. */
static int gz_read_full(gzFile gz, void *buf, size_t len, size_t *got,
                        const char *path, siam_error *err)
{
	*got = 0;
	while (*got < len) {
		unsigned chunk = (unsigned)SIAM_MIN(len - *got, (size_t)1 << 30);
		int r = gzread(gz, (unsigned char *)buf + *got, chunk), zerr;
		const char *msg = gzerror(gz, &zerr);

		/* gzerror names the file "<fd:N>": we name it ourselves. */
		if (strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": "))
			msg = strstr(msg, ": ") + 2;
		if (r < 0 && zerr == Z_ERRNO)
			return siam_errorf(err, SIAM_EIO, "%s: %s", path,
			                   strerror(errno));
		/* A stream that stops mid-way is Z_BUF_ERROR, reported
		 * with the data before it (r >= 0) or alone (r < 0). */
		if (zerr == Z_BUF_ERROR)
			return siam_errorf(err, SIAM_EFORMAT,
			                   "%s: truncated gzip data (%s)", path,
			                   msg);
		if (r < 0)
			return siam_errorf(err, SIAM_EFORMAT,
			                   "%s: corrupt gzip data: %s", path, msg);
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

static void describe(char *buf, size_t len, int images, long n, long rows,
                     long cols)
{
	if (images)
		snprintf(buf, len, "%ld images of %ldx%ld", n, rows, cols);
	else
		snprintf(buf, len, "%ld labels", n);
}

int siam_idx_load(siam_idx *out, const char *path, siam_error *err)
{
	unsigned char hdr[16], *data = NULL, *nd, extra;
	gzFile gz = NULL;
	struct stat st;
	size_t hlen, want, cap, got = 0;
	size_t r;
	uint32_t magic, n, rows = 0, cols = 0;
	char what[96];
	int fd = -1, rc, images, compressed;

	if (!out)
		return siam_errorf(err, SIAM_EINVAL, "siam_idx_load: no output");
	memset(out, 0, sizeof *out);
	if (!path || !*path)
		return siam_errorf(err, SIAM_EINVAL, "empty IDX path");

	/* Same rules as images: no hanging on a FIFO, no directories. */
	rc = siam_open_regular(path, &fd, &st, err);
	if (rc)
		return rc;
	/* Sniff the gzip magic ourselves: gzread would tell us only after
	 * the fact, and the size check below is for plain files only. */
	{
		unsigned char m2[2];
		ssize_t k;
		do
			k = pread(fd, m2, 2, 0);
		while (k < 0 && errno == EINTR);
		if (k < 0) {
			rc = siam_errorf(err, SIAM_EIO, "%s: %s", path,
			                 strerror(errno));
			goto fail;
		}
		compressed = k == 2 && m2[0] == 0x1f && m2[1] == 0x8b;
	}
	gz = gzdopen(fd, "rb");
	if (!gz) {
		rc = siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	fd = -1; /* gzclose closes it */
	gzbuffer(gz, 1 << 17);

	rc = gz_read_full(gz, hdr, 8, &r, path, err);
	if (rc)
		goto fail;
	if (r < 8) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: not an IDX file (only %zu bytes%s)", path,
		                 r, compressed ? " after decompression" : "");
		goto fail;
	}
	magic = be32(hdr);
	if (magic != IDX_MAGIC_IMAGES && magic != IDX_MAGIC_LABELS) {
		if ((magic >> 16) == 0 && (magic & 0xff) >= 1 &&
		    (magic & 0xff) <= 4)
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: unsupported IDX file (magic 0x%08x):"
			                 " only unsigned-byte images (0x00000803)"
			                 " and labels (0x00000801) are read",
			                 path, (unsigned)magic);
		else
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: not an IDX file (magic 0x%08x)", path,
			                 (unsigned)magic);
		goto fail;
	}
	images = magic == IDX_MAGIC_IMAGES;
	n = be32(hdr + 4);
	hlen = 8;
	if (images) {
		rc = gz_read_full(gz, hdr + 8, 8, &r, path, err);
		if (rc)
			goto fail;
		if (r < 8) {
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: truncated IDX header", path);
			goto fail;
		}
		rows = be32(hdr + 8);
		cols = be32(hdr + 12);
		hlen = 16;
	}
	if (n > IDX_MAX_N) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: IDX header says %lu items, more than %d",
		                 path, (unsigned long)n, IDX_MAX_N);
		goto fail;
	}
	if (images && (rows < 1 || cols < 1 || rows > IDX_MAX_SIDE ||
	               cols > IDX_MAX_SIDE)) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: IDX header says images of %lux%lu; rows "
		                 "and columns must be 1..%d",
		                 path, (unsigned long)rows, (unsigned long)cols,
		                 IDX_MAX_SIDE);
		goto fail;
	}
	describe(what, sizeof what, images, (long)n, (long)rows, (long)cols);
	/* At most 1e7 * 4096 * 4096 < 2^58: no overflow in 64 bits. */
	want = images ? (size_t)n * rows * cols : (size_t)n;

	if (!compressed) {
		unsigned long long have = st.st_size > (off_t)hlen
		                        ? (unsigned long long)st.st_size - hlen
		                        : 0;
		if (have < want) {
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: truncated IDX file: header says %s, "
			                 "found %llu bytes of data", path, what,
			                 have);
			goto fail;
		}
		if (have > want) {
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: IDX file has %llu bytes after the %zu "
			                 "its header (%s) announces",
			                 path, have - want, want, what);
			goto fail;
		}
	}

	/* Plain data is known to be there; compressed data may not be, so
	 * the buffer grows as it inflates rather than trusting the header. */
	cap = compressed ? SIAM_MIN(want, (size_t)1 << 20) : want;
	data = malloc(cap ? cap : 1);
	if (!data) {
		rc = siam_errorf(err, SIAM_ENOMEM,
		                 "%s: out of memory for %s", path, what);
		goto fail;
	}
	while (got < want) {
		if (got == cap) {
			size_t ncap = SIAM_MIN(want, cap * 2);
			nd = realloc(data, ncap);
			if (!nd) {
				rc = siam_errorf(err, SIAM_ENOMEM,
				                 "%s: out of memory for %s", path,
				                 what);
				goto fail;
			}
			data = nd;
			cap = ncap;
		}
		rc = gz_read_full(gz, data + got, cap - got, &r, path, err);
		if (rc)
			goto fail;
		got += r;
		if (got < cap)
			break; /* end of data */
	}
	if (got < want) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: truncated IDX file: header says %s, found "
		                 "%zu bytes of data", path, what, got);
		goto fail;
	}
	rc = gz_read_full(gz, &extra, 1, &r, path, err);
	if (rc)
		goto fail;
	if (r > 0) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: IDX file has bytes after the %zu its header "
		                 "(%s) announces", path, want, what);
		goto fail;
	}
	gzclose(gz);

	out->n = (int)n;
	out->rows = (int)rows;
	out->cols = (int)cols;
	out->data = data;
	return 0;

fail:
	if (gz)
		gzclose(gz);
	if (fd >= 0)
		close(fd);
	free(data);
	return rc;
}

void siam_idx_release(siam_idx *idx)
{
	if (!idx)
		return;
	free(idx->data);
	memset(idx, 0, sizeof *idx);
}
