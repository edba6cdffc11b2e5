/*
 * fuzz_file.h -- for the targets whose parser reads a path (IDX,
 * checkpoint): the input as a regular file in memory (memfd), named by
 * /proc/self/fd/N, rewritten for each input.
 */
#ifndef SIAM_FUZZ_FILE_H
#define SIAM_FUZZ_FILE_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The path of a memory file holding len bytes of data. */
static const char *fuzz_file(const void *data, size_t len)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("siam-fuzz", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || (len && pwrite(fd, data, len, 0) != (ssize_t)len))
		abort();
	return path;
}

#endif
