/*
 * test_idx.c -- IDX files (MNIST's format): round trips, plain and
 * gzipped, recognised by content, and every way a file can be wrong.
 */
#include "tap.h"
#include "siam_nn.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static const char *tmppath(const char *name)
{
	static char buf[4][128];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
	return buf[k];
}

static int contains(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* An IDX file in buf (of `cap` bytes): header (magic, n [, rows, cols])
 * then the data the header announces, `extra` bytes more (or fewer, if
 * negative).  Only what fits is written; returns the full length. */
static size_t make_idx(unsigned char *buf, size_t cap, uint32_t magic,
                       uint32_t n, uint32_t rows, uint32_t cols, long extra)
{
	size_t h = magic == 0x803 ? 16 : 8;
	long long data = (h == 16 ? (long long)n * rows * cols : (long long)n) +
	                 extra;
	put32(buf, magic);
	put32(buf + 4, n);
	if (h == 16) {
		put32(buf + 8, rows);
		put32(buf + 12, cols);
	}
	for (long long i = 0; i < data && h + (size_t)i < cap; i++)
		buf[h + i] = (unsigned char)(i * 7 + 1);
	return h + (size_t)data;
}

static int write_plain(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	if (n && fwrite(p, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static int write_gz(const char *path, const void *p, size_t n)
{
	gzFile gz = gzopen(path, "wb9");
	if (!gz)
		return -1;
	if (n && gzwrite(gz, p, (unsigned)n) != (int)n) {
		gzclose(gz);
		return -1;
	}
	return gzclose(gz) == Z_OK ? 0 : -1;
}

static unsigned char buf[1 << 16];

/* Loads path and expects an error code and a fragment of the message. */
static void expect_error(const char *path, int code, const char *frag,
                         const char *what)
{
	siam_idx idx;
	siam_error err = {0};
	int rc = siam_idx_load(&idx, path, &err);
	tap_ok(rc == code && contains(err.msg, frag) && idx.data == NULL,
	       "%s -> %d: %s", what, code, err.msg);
	if (rc == 0)
		siam_idx_release(&idx);
}

static void test_round_trips(void)
{
	siam_idx idx;
	siam_error err = {0};
	size_t n;
	int rc;

	n = make_idx(buf, sizeof buf, 0x803, 3, 4, 5, 0);
	write_plain(tmppath("img.idx"), buf, n);
	rc = siam_idx_load(&idx, tmppath("img.idx"), &err);
	tap_ok(rc == 0 && idx.n == 3 && idx.rows == 4 && idx.cols == 5 &&
	               memcmp(idx.data, buf + 16, 60) == 0,
	       "plain images: 3 of 4x5, every byte");
	siam_idx_release(&idx);

	write_gz(tmppath("img.idx.gz"), buf, n);
	rc = siam_idx_load(&idx, tmppath("img.idx.gz"), &err);
	tap_ok(rc == 0 && idx.n == 3 && idx.rows == 4 && idx.cols == 5 &&
	               memcmp(idx.data, buf + 16, 60) == 0,
	       "gzipped images: the same");
	siam_idx_release(&idx);

	/* By content, not by name. */
	write_gz(tmppath("gz-without-suffix"), buf, n);
	rc = siam_idx_load(&idx, tmppath("gz-without-suffix"), &err);
	tap_ok(rc == 0 && idx.n == 3 && memcmp(idx.data, buf + 16, 60) == 0,
	       "gzip data without .gz in its name is inflated");
	siam_idx_release(&idx);
	write_plain(tmppath("plain.gz"), buf, n);
	rc = siam_idx_load(&idx, tmppath("plain.gz"), &err);
	tap_ok(rc == 0 && idx.n == 3 && memcmp(idx.data, buf + 16, 60) == 0,
	       "plain data named .gz is read as it is");
	siam_idx_release(&idx);

	n = make_idx(buf, sizeof buf, 0x801, 10, 0, 0, 0);
	write_plain(tmppath("lab.idx"), buf, n);
	rc = siam_idx_load(&idx, tmppath("lab.idx"), &err);
	tap_ok(rc == 0 && idx.n == 10 && idx.rows == 0 && idx.cols == 0 &&
	               memcmp(idx.data, buf + 8, 10) == 0,
	       "plain labels: 10, rows = cols = 0");
	siam_idx_release(&idx);
	write_gz(tmppath("lab.idx.gz"), buf, n);
	rc = siam_idx_load(&idx, tmppath("lab.idx.gz"), &err);
	tap_ok(rc == 0 && idx.n == 10 && memcmp(idx.data, buf + 8, 10) == 0,
	       "gzipped labels");
	siam_idx_release(&idx);

	n = make_idx(buf, sizeof buf, 0x801, 0, 0, 0, 0);
	write_plain(tmppath("none.idx"), buf, n);
	rc = siam_idx_load(&idx, tmppath("none.idx"), &err);
	tap_ok(rc == 0 && idx.n == 0 && idx.data != NULL,
	       "an empty label file is valid (n = 0)");
	siam_idx_release(&idx);

	/* A bigger gzipped file: the buffer grows as it inflates (the
	 * first step is 1 MiB). */
	{
		enum { N = 2000, R = 28 };
		static unsigned char big[16 + N * R * R];
		n = make_idx(big, sizeof big, 0x803, N, R, R, 0);
		write_gz(tmppath("big.gz"), big, n);
		rc = siam_idx_load(&idx, tmppath("big.gz"), &err);
		tap_ok(rc == 0 && idx.n == N &&
		               memcmp(idx.data, big + 16, (size_t)N * R * R) == 0,
		       "gzipped 2000 images of 28x28 (1.5 MiB): every byte");
		siam_idx_release(&idx);
	}

	siam_idx_release(NULL);
	memset(&idx, 0, sizeof idx);
	siam_idx_release(&idx);
	tap_ok(1, "siam_idx_release(NULL) and of an empty idx are no-ops");
}

static void test_errors(void)
{
	size_t n;

	/* The message the brief of this module asks for, verbatim. */
	make_idx(buf, sizeof buf, 0x803, 60000, 28, 28, 0);
	write_plain(tmppath("trunc.idx"), buf, 16 + 1234);
	expect_error(tmppath("trunc.idx"), SIAM_EFORMAT,
	             "truncated IDX file: header says 60000 images of 28x28, "
	             "found 1234 bytes of data",
	             "plain, header says 60000 images, 1234 bytes");
	write_gz(tmppath("trunc.gz"), buf, 16 + 1234);
	expect_error(tmppath("trunc.gz"), SIAM_EFORMAT,
	             "truncated IDX file: header says 60000 images of 28x28, "
	             "found 1234 bytes of data",
	             "gzipped, the same");

	n = make_idx(buf, sizeof buf, 0x801, 100, 0, 0, -1);
	write_plain(tmppath("lab-short"), buf, n);
	expect_error(tmppath("lab-short"), SIAM_EFORMAT,
	             "header says 100 labels, found 99 bytes",
	             "labels one byte short");

	n = make_idx(buf, sizeof buf, 0x803, 3, 4, 5, 7);
	write_plain(tmppath("trail.idx"), buf, n);
	expect_error(tmppath("trail.idx"), SIAM_EFORMAT, "7 bytes after",
	             "plain, 7 bytes of trailing garbage");
	write_gz(tmppath("trail.gz"), buf, n);
	expect_error(tmppath("trail.gz"), SIAM_EFORMAT, "bytes after",
	             "gzipped, trailing garbage");

	/* A gzip stream cut in the middle. */
	{
		enum { N = 50, R = 28 };
		static unsigned char img[16 + N * R * R];
		size_t k;
		FILE *f;
		static unsigned char z[1 << 16];
		n = make_idx(img, sizeof img, 0x803, N, R, R, 0);
		write_gz(tmppath("cut.gz"), img, n);
		f = fopen(tmppath("cut.gz"), "rb");
		k = f ? fread(z, 1, sizeof z, f) : 0;
		if (f)
			fclose(f);
		write_plain(tmppath("cut.gz"), z, k / 2);
		expect_error(tmppath("cut.gz"), SIAM_EFORMAT, tmppath("cut.gz"),
		             "a gzip file cut in half");
		/* Corrupt deflate data. */
		for (size_t i = 20; i < k - 8; i += 3)
			z[i] ^= 0x5a;
		write_plain(tmppath("bad.gz"), z, k);
		expect_error(tmppath("bad.gz"), SIAM_EFORMAT, tmppath("bad.gz"),
		             "corrupt deflate data");
	}

	n = make_idx(buf, sizeof buf, 0x803, 3, 4, 5, 0);
	put32(buf, 0x89504e47); /* a PNG */
	write_plain(tmppath("magic"), buf, n);
	expect_error(tmppath("magic"), SIAM_EFORMAT,
	             "not an IDX file (magic 0x89504e47)", "wrong magic");
	put32(buf, 0x00000d03); /* IDX of floats */
	write_plain(tmppath("float"), buf, n);
	expect_error(tmppath("float"), SIAM_EFORMAT, "unsupported IDX",
	             "an IDX file of floats");

	n = make_idx(buf, sizeof buf, 0x803, 10000001, 1, 1, -10000001);
	write_plain(tmppath("many"), buf, n);
	expect_error(tmppath("many"), SIAM_EFORMAT, "10000001 items",
	             "more than 10 million items");
	n = make_idx(buf, sizeof buf, 0x803, 1, 5000, 2, -10000);
	write_plain(tmppath("tall"), buf, n);
	expect_error(tmppath("tall"), SIAM_EFORMAT, "5000x2",
	             "5000 rows");
	n = make_idx(buf, sizeof buf, 0x803, 1, 0, 28, 0);
	write_plain(tmppath("zero"), buf, n);
	expect_error(tmppath("zero"), SIAM_EFORMAT, "0x28", "0 rows");

	/* A tiny gzip file whose header claims 10 million 4096x4096
	 * images (1.7e14 bytes): the allocation follows the data, not
	 * the header, so this fails at once without asking for it. */
	make_idx(buf, sizeof buf, 0x803, 10000000, 4096, 4096, 0);
	write_gz(tmppath("liar.gz"), buf, 16 + 100);
	expect_error(tmppath("liar.gz"), SIAM_EFORMAT,
	             "found 100 bytes of data", "gzip header claiming 1.7e14 bytes");

	write_plain(tmppath("empty"), "", 0);
	expect_error(tmppath("empty"), SIAM_EFORMAT, "not an IDX file",
	             "empty file");
	write_plain(tmppath("five"), "\0\0\x08\x03\0", 5);
	expect_error(tmppath("five"), SIAM_EFORMAT, "not an IDX file",
	             "5-byte file");
	write_plain(tmppath("hdr12"), "\0\0\x08\x03\0\0\0\1\0\0\0\x1c", 12);
	expect_error(tmppath("hdr12"), SIAM_EFORMAT, "truncated IDX header",
	             "image header cut after 12 bytes");

	expect_error(tmppath("missing"), SIAM_EIO, strerror(ENOENT),
	             "nonexistent file");
	expect_error(tmpdir, SIAM_EIO, "not a regular file", "a directory");
	if (mkfifo(tmppath("fifo"), 0600) == 0)
		expect_error(tmppath("fifo"), SIAM_EIO, "FIFO",
		             "a FIFO, without hanging");
	else
		tap_ok(1, "# SKIP mkfifo: %s", strerror(errno));
}

/* The 50 MNIST test digits committed as a fixture. */
static void test_fixture(void)
{
	siam_idx img, lab;
	siam_error err = {0};
	char p1[1024], p2[1024];
	const char *src = getenv("SIAM_SRCDIR");
	unsigned long sum = 0;
	int rc;

	snprintf(p1, sizeof p1,
	         "%s/tests/fixtures/mnist-t10k-50-images-idx3-ubyte",
	         src ? src : ".");
	snprintf(p2, sizeof p2,
	         "%s/tests/fixtures/mnist-t10k-50-labels-idx1-ubyte",
	         src ? src : ".");
	rc = siam_idx_load(&img, p1, &err);
	tap_ok(rc == 0 && img.n == 50 && img.rows == 28 && img.cols == 28,
	       "fixture: 50 MNIST images of 28x28 (%s)", rc ? err.msg : "ok");
	for (int i = 0; rc == 0 && i < 50 * 784; i++)
		sum += img.data[i];
	tap_int(sum, 1136989, "fixture: pixel sum as committed");
	rc = siam_idx_load(&lab, p2, &err);
	tap_ok(rc == 0 && lab.n == 50 && lab.data[0] == 7 &&
	               lab.data[1] == 2 && lab.data[2] == 1 &&
	               lab.data[3] == 0 && lab.data[4] == 4,
	       "fixture: 50 labels, starting 7 2 1 0 4 like MNIST's test set");
	siam_idx_release(&img);
	siam_idx_release(&lab);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/siam-test-idx-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	test_round_trips();
	test_errors();
	test_fixture();

	const char *names[] = {"img.idx", "img.idx.gz", "gz-without-suffix",
	                       "plain.gz", "lab.idx", "lab.idx.gz", "none.idx",
	                       "big.gz", "trunc.idx", "trunc.gz", "lab-short",
	                       "trail.idx", "trail.gz", "cut.gz", "bad.gz",
	                       "magic", "float", "many", "tall", "zero",
	                       "liar.gz", "empty", "five", "hdr12", "fifo"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlink(tmppath(names[i]));
	rmdir(tmpdir);
	return tap_done();
}
