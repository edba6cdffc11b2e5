/*
 * test_model.c -- the model file: a round trip is bit-exact, and every
 * kind of damage gives its own clear error.
 */
#include "tap.h"
#include "siam_nn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPEC "in=1x12x12 conv3x4 relu pool2 fc16 relu fc8"

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* Loads a damaged copy from memory; returns the code, message in err. */
static int load_damaged(const unsigned char *data, size_t len,
                        siam_error *err)
{
	siam_model *m = NULL;
	int rc = siam_model_load_mem(&m, data, len, "damaged.siam", err);
	siam_model_free(m);
	return rc;
}

/* Makes a FIFO at path with a peer process at its other end: a writer
 * that sends "garbage" and goes, or a reader that drains it.  A siam
 * that wrongly opens the FIFO then gets an answer (and fails the test)
 * instead of waiting forever; a siam that rightly refuses it leaves the
 * peer waiting in open(), and fifo_done kills it.  No clock involved. */
static pid_t fifo_with_peer(const char *path, int writer)
{
	if (mkfifo(path, 0600) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, writer ? O_WRONLY : O_RDONLY);
		char buf[4096];
		if (fd >= 0 && writer && write(fd, "garbage", 7) != 7)
			_exit(1);
		while (fd >= 0 && !writer && read(fd, buf, sizeof buf) > 0)
			;
		_exit(0);
	}
	return pid;
}

static void fifo_done(pid_t pid, const char *path)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	unlink(path);
}

/* Reading and writing model files through fileio.h: a FIFO is refused
 * at once, a save is whole or absent and leaves no temporary file. */
static void test_files(siam_model *m)
{
	siam_error err = {0};
	siam_model *l = NULL;
	char dir[] = "/tmp/siam-test-modelio-XXXXXX", path[100], tmp[120];
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof path, "%s/fifo.siam", dir);
	pid_t pid = fifo_with_peer(path, 1);
	if (pid > 0) {
		tap_int(siam_model_load(&l, path, &err), SIAM_EIO,
		        "a FIFO as the model: EIO, without waiting for a writer");
		tap_ok(strstr(err.msg, "fifo.siam: not a regular file (a FIFO)")
		       != NULL, "message: %s", err.msg);
		tap_ok(l == NULL, "no model");
	} else
		tap_ok(1, "# SKIP mkfifo: %s", strerror(errno));
	fifo_done(pid, path);

	snprintf(path, sizeof path, "%s/m.siam", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	tap_int(siam_model_save(m, path, &err), 0, "save: %s", err.msg);
	tap_ok(access(tmp, F_OK) != 0, "no temporary file left beside it");
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("an old file", f);
		fclose(f);
	}
	tap_int(siam_model_save(m, path, &err), 0, "save over a file");
	tap_int(siam_model_load(&l, path, &err), 0, "it is the new model: %s",
	        err.msg);
	siam_model_free(l);
	l = NULL;

	/* A FIFO where the temporary file goes: refused, not waited on,
	 * and left alone; the old model stays. */
	pid = fifo_with_peer(tmp, 0);
	if (pid > 0) {
		tap_int(siam_model_save(m, path, &err), SIAM_EIO,
		        "a FIFO at the temporary name: EIO, without waiting "
		        "for a reader");
		tap_ok(strstr(err.msg, "m.siam") != NULL, "message: %s",
		       err.msg);
		struct stat st;
		tap_ok(stat(tmp, &st) == 0 && S_ISFIFO(st.st_mode),
		       "the FIFO is not removed");
		tap_int(siam_model_load(&l, path, &err), 0,
		        "the model is still there");
		siam_model_free(l);
		l = NULL;
	} else
		tap_ok(1, "# SKIP mkfifo: %s", strerror(errno));
	fifo_done(pid, tmp);
	unlink(path);

	/* Names too long for the file system: an error naming the path,
	 * not a temporary file of a shortened name. */
	char *longp = malloc(5000);
	memset(longp, 'a', 4999);
	memcpy(longp, dir, strlen(dir));
	longp[strlen(dir)] = '/';
	longp[4999] = 0;
	tap_int(siam_model_save(m, longp, &err), SIAM_EIO,
	        "a 5000-byte path: EIO");
	free(longp);
	snprintf(path, sizeof path, "%s/none/m.siam", dir);
	tap_int(siam_model_save(m, path, &err), SIAM_EIO,
	        "a missing directory: EIO");
	tap_ok(strstr(err.msg, "none/m.siam") != NULL, "names the path: %s",
	       err.msg);
	tap_ok(rmdir(dir) == 0, "nothing else was left in the directory");
}

int main(void)
{
	siam_error err = {0};
	siam_model *m = NULL;
	if (!tap_ok(siam_model_create(&m, SPEC, &err) == 0,
	            "create model: %s", err.msg))
		return tap_done();
	siam_net_init(m->net, 42);
	m->threshold = 0.8125f;
	m->margin = 1.5f;
	m->pre.digit = 1;
	m->pre.mean = 0.1307f;
	m->pre.std = 0.3081f;
	m->meta = strdup("{\"data\":\"mnist:x\",\"epochs\":3}");

	/* An input and its embedding before saving. */
	float in[144], e1[8], e2[8];
	siam_rng rng;
	siam_rng_seed(&rng, 7);
	for (int i = 0; i < 144; i++)
		in[i] = siam_rng_uniform(&rng);
	tap_ok(siam_net_embed(m->net, in, 1, e1, &err) == 0, "embed: %s",
	       err.msg);

	char path[] = "/tmp/siam-test-model-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	tap_ok(siam_model_save(m, path, &err) == 0, "save: %s", err.msg);

	siam_model *l = NULL;
	if (tap_ok(siam_model_load(&l, path, &err) == 0, "load: %s",
	           err.msg)) {
		tap_ok(!strcmp(siam_net_spec(l->net), siam_net_spec(m->net)),
		       "spec survives: %s", siam_net_spec(l->net));
		tap_ok(l->threshold == m->threshold && l->margin == m->margin,
		       "threshold and margin exact");
		tap_ok(l->pre.digit == 1 && l->pre.mean == m->pre.mean &&
		       l->pre.std == m->pre.std && l->pre.c == 1 &&
		       l->pre.h == 12 && l->pre.w == 12,
		       "preprocessing survives");
		tap_ok(l->meta && !strcmp(l->meta, m->meta), "metadata: %s",
		       l->meta ? l->meta : "(null)");
		size_t np = siam_net_num_params(m->net);
		tap_ok(!memcmp(siam_net_params(l->net),
		               siam_net_params(m->net), np * 4),
		       "%zu parameters bit-identical", np);
		tap_ok(siam_net_embed(l->net, in, 1, e2, &err) == 0,
		       "embed with loaded model");
		tap_ok(!memcmp(e1, e2, sizeof e1),
		       "embeddings bit-identical after round trip");
	}
	siam_model_free(l);

	/* Damage, from memory. */
	void *v;
	size_t len;
	tap_ok(siam_model_save_mem(m, &v, &len, &err) == 0, "save to memory");
	unsigned char *good = v, *bad = malloc(len + 16);

	memcpy(bad, good, len);
	tap_int(load_damaged(bad, len, &err), 0, "undamaged copy loads");

	tap_int(load_damaged(bad, len / 2, &err), SIAM_EFORMAT,
	        "truncated at half: EFORMAT");
	tap_ok(strstr(err.msg, "truncated") && strstr(err.msg, "damaged.siam"),
	       "truncated message names file: %s", err.msg);
	tap_int(load_damaged(bad, len - 1, &err), SIAM_EFORMAT,
	        "last byte missing: EFORMAT");
	tap_ok(strstr(err.msg, "truncated") != NULL, "says truncated: %s",
	       err.msg);
	tap_int(load_damaged(bad, 10, &err), SIAM_EFORMAT,
	        "10 bytes: EFORMAT");
	tap_int(load_damaged(bad, 0, &err), SIAM_EFORMAT, "empty: EFORMAT");

	bad[len / 2] ^= 0x10;
	tap_int(load_damaged(bad, len, &err), SIAM_EFORMAT,
	        "one flipped bit in the parameters: EFORMAT");
	tap_ok(strstr(err.msg, "checksum") != NULL, "says checksum: %s",
	       err.msg);
	memcpy(bad, good, len);

	bad[3] = 'X';
	tap_int(load_damaged(bad, len, &err), SIAM_EFORMAT, "bad magic");
	tap_ok(strstr(err.msg, "not a siam model") != NULL,
	       "says not a model: %s", err.msg);
	memcpy(bad, good, len);

	/* A future version with a valid checksum must still be refused. */
	put_u32(bad + 8, 99);
	put_u32(bad + len - 4, siam_crc32(0, bad, len - 4));
	tap_int(load_damaged(bad, len, &err), SIAM_EFORMAT, "version 99");
	tap_ok(strstr(err.msg, "version 99") != NULL, "names the version: %s",
	       err.msg);
	memcpy(bad, good, len);

	memcpy(bad + len, "garbage!", 8);
	tap_int(load_damaged(bad, len + 8, &err), SIAM_EFORMAT,
	        "trailing data");
	tap_ok(strstr(err.msg, "trailing") != NULL, "says trailing: %s",
	       err.msg);

	/* A header claiming an absurd length must not be trusted. */
	memcpy(bad, good, len);
	put_u32(bad + 12, 0xfffffff0u);
	tap_int(load_damaged(bad, len, &err), SIAM_EFORMAT,
	        "huge header length");

	/* A wrong architecture in the header, with a valid checksum. */
	const char *hdr = (const char *)good + 16;
	const char *at = strstr(hdr, "fc8");
	if (tap_ok(at != NULL, "header holds the spec")) {
		memcpy(bad, good, len);
		bad[at - (const char *)good + 2] = '9'; /* fc8 -> fc9 */
		put_u32(bad + len - 4, siam_crc32(0, bad, len - 4));
		tap_int(load_damaged(bad, len, &err), SIAM_EFORMAT,
		        "spec disagreeing with the parameters");
		tap_diag("%s", err.msg);
	}

	tap_int(siam_model_load(&l, "/nonexistent/x.siam", &err), SIAM_EIO,
	        "missing file: EIO");
	tap_ok(strstr(err.msg, "/nonexistent/x.siam") != NULL,
	       "names the path: %s", err.msg);
	tap_int(siam_model_load(&l, "/tmp", &err), SIAM_EIO,
	        "a directory: EIO");
	tap_int(siam_crc32(0, "123456789", 9), 0xCBF43926u,
	        "CRC-32 check value");

	free(bad);
	free(good);
	unlink(path);
	test_files(m);
	/* A model without metadata saves and loads (meta stays NULL). */
	free(m->meta);
	m->meta = NULL;
	tap_ok(siam_model_save_mem(m, &v, &len, &err) == 0,
	       "save without metadata");
	tap_ok(siam_model_load_mem(&l, v, len, "x", &err) == 0 && !l->meta,
	       "load without metadata: %s", err.msg);
	siam_model_free(l);
	free(v);
	siam_model_free(m);
	siam_model_free(NULL);
	return tap_done();
}
