/*
 * fileio.h -- reading whole files safely; private to libsiam.
 *
 * Every file siam reads may be hostile or simply odd: a FIFO nobody
 * writes to, a device, a directory, a symlink loop, a file that grows
 * while it is read.  These two helpers (in image.c) are the one place
 * that handles it; the image decoder and the IDX reader both use them.
 */
#ifndef SIAM_FILEIO_H
#define SIAM_FILEIO_H

#include "internal.h"

#include <sys/stat.h>

/* Opens path read-only if it is a regular file.  A FIFO, device, socket
 * or directory is refused with SIAM_EIO ("PATH: not a regular file (a
 * FIFO)") without blocking and, for a device, without being opened.
 * On success *fd is open (the caller closes it) and *st describes it. */
SIAM_HIDDEN int siam_open_regular(const char *path, int *fd, struct stat *st,
                                  siam_error *err);

/* Reads fd to its end into *buf (malloc'ed, the caller frees it; *len
 * bytes).  hint is the expected size, 0 if unknown.  More than max bytes
 * is SIAM_ETOOBIG, a read error SIAM_EIO naming `name`. */
SIAM_HIDDEN int siam_read_fd(int fd, const char *name, size_t hint,
                             size_t max, unsigned char **buf, size_t *len,
                             siam_error *err);

#endif
