/*
 * fileio.h -- reading and replacing whole files safely; private to
 * libsiam.
 *
 * Every file siam reads may be hostile or simply odd: a FIFO nobody
 * writes to, a device, a directory, a symlink loop, a file that grows
 * while it is read.  Every file siam writes whole (a model, a training
 * checkpoint) must be either the old file or the new one after a crash,
 * never half of one.  fileio.c is the one place that handles both: the
 * image decoder, the IDX reader, the indexer, the model file and the
 * checkpoint all go through it.
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

/* siam_read_fd into a buffer kept between calls: *buf (NULL at first)
 * of *cap bytes is reused when the file fits, else replaced; it stays
 * the caller's, to free once, even on an error (then *len is 0).  For a
 * worker that reads file after file: no fresh pages (page faults, and
 * an munmap with its TLB flush) for every file. */
SIAM_HIDDEN int siam_read_fd_reuse(int fd, const char *name, size_t hint,
                                   size_t max, unsigned char **buf,
                                   size_t *cap, size_t *len,
                                   siam_error *err);

/* What a file of mode m is, for "PATH: not a regular file (KIND)": "a
 * directory", "a FIFO", "a socket", "a character device", "a block
 * device", else "not a regular file". */
SIAM_HIDDEN const char *siam_file_kind(mode_t m);

/* siam_open_regular, then siam_read_fd: the whole regular file at path
 * in *buf (malloc'ed, the caller frees it; *len bytes).  A file of more
 * than max bytes is refused with SIAM_ETOOBIG before it is read. */
SIAM_HIDDEN int siam_read_file(const char *path, size_t max,
                               unsigned char **buf, size_t *len,
                               siam_error *err);

/* Replaces path with the len bytes at data, whole or not at all: they
 * are written to "PATH.tmp", flushed to the disk (fsync), renamed over
 * path, and the directory is flushed so that the rename is too.  On
 * failure path is as it was, the temporary file is removed, and the
 * error is SIAM_EIO (SIAM_ENOMEM) naming path. */
SIAM_HIDDEN int siam_write_file(const char *path, const void *data,
                                size_t len, siam_error *err);

/* fsync on path's directory, so that a rename into it is on the disk
 * too (best effort: some file systems refuse).  knn_sidecar.c, which
 * streams its file instead of using siam_write_file, shares it. */
SIAM_HIDDEN void siam_sync_dir(const char *path);

#endif
