/*
 * test_data.c -- data sources on fixtures made here: IDX files (plain
 * and .gz), a folder of PNGs with a broken file, an unlabelled folder,
 * class lists, and the augmentation; what a folder walk cannot use (a
 * link loop, a dangling link, a FIFO, a path longer than PATH_MAX) is
 * reported with its reason, and deep folders are walked whole.
 */
#include "internal.h"
#include "siam_nn.h"
#include "tap.h"

#include <stb_image_write.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Writes an IDX file, gzip'ed when gz. */
static void write_idx(const char *path, int gz, uint32_t magic, int n,
                      int rows, int cols, const unsigned char *data)
{
	unsigned char hdr[16];
	size_t hl = rows ? 16 : 8, len = (size_t)n * (rows ? rows * cols : 1);
	be32(hdr, magic);
	be32(hdr + 4, (uint32_t)n);
	if (rows) {
		be32(hdr + 8, (uint32_t)rows);
		be32(hdr + 12, (uint32_t)cols);
	}
	if (gz) {
		gzFile f = gzopen(path, "wb");
		gzwrite(f, hdr, (unsigned)hl);
		gzwrite(f, data, (unsigned)len);
		gzclose(f);
	} else {
		FILE *f = fopen(path, "wb");
		fwrite(hdr, 1, hl, f);
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

enum { NI = 30 };
static unsigned char px[NI * 784], lab[NI];

static void make_idx(void)
{
	for (int i = 0; i < NI; i++) {
		lab[i] = (unsigned char)(i % 10);
		for (int k = 0; k < 784; k++)
			px[i * 784 + k] = (unsigned char)((i * 31 + k * 7) % 256);
	}
	char p[512];
	snprintf(p, sizeof p, "%s/mnist", tmpdir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/mnist/train-images-idx3-ubyte", tmpdir);
	write_idx(p, 0, 0x803, NI, 28, 28, px);
	snprintf(p, sizeof p, "%s/mnist/train-labels-idx1-ubyte", tmpdir);
	write_idx(p, 0, 0x801, NI, 0, 0, lab);
	/* the test split gzip'ed, 10 items */
	snprintf(p, sizeof p, "%s/mnist/t10k-images-idx3-ubyte.gz", tmpdir);
	write_idx(p, 1, 0x803, 10, 28, 28, px);
	snprintf(p, sizeof p, "%s/mnist/t10k-labels-idx1-ubyte.gz", tmpdir);
	write_idx(p, 1, 0x801, 10, 0, 0, lab);
	/* a broken copy: 30 images, 29 labels */
	snprintf(p, sizeof p, "%s/broken", tmpdir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/broken/train-images-idx3-ubyte", tmpdir);
	write_idx(p, 0, 0x803, NI, 28, 28, px);
	snprintf(p, sizeof p, "%s/broken/train-labels-idx1-ubyte", tmpdir);
	write_idx(p, 0, 0x801, NI - 1, 0, 0, lab);
}

static void test_mnist(void)
{
	siam_preproc pre;
	siam_preproc_default(&pre, 1, 28, 28);
	siam_data_suggest_preproc(&pre, "mnist:/x");
	tap_near(pre.mean, 0.1307, 1e-6, "MNIST mean");
	tap_near(pre.std, 0.3081, 1e-6, "MNIST std");
	tap_int(pre.digit, 1, "MNIST: digit convention");
	siam_preproc fp = pre;
	siam_data_suggest_preproc(&fp, "mnist:/usr/share/datasets/fashion-mnist");
	tap_int(fp.digit, 0, "Fashion-MNIST: no digit convention");

	char spec[512];
	snprintf(spec, sizeof spec, "mnist:%s/mnist", tmpdir);
	siam_data *d = NULL;
	siam_error err = { 0 };
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err), 0,
	        "open mnist train: %s", err.msg);
	if (!d)
		return;
	tap_int(d->n, NI, "30 items");
	tap_int(d->num_classes, 10, "10 classes");
	tap_ok(d->labels && d->labels[13] == 3, "labels read");
	tap_ok(!strcmp(d->class_names[7], "7"), "class names 0..9");
	tap_ok(!strcmp(d->source, spec), "source kept");
	float x[784];
	tap_int(d->load(d, 17, x, &err), 0, "load item 17");
	double maxe = 0;
	for (int k = 0; k < 784; k++) {
		double want = (px[17 * 784 + k] / 255.0 - 0.1307) / 0.3081;
		if (fabs(x[k] - want) > maxe)
			maxe = fabs(x[k] - want);
	}
	tap_near(maxe, 0, 1e-5, "pixels normalised as (p/255-mean)/std");
	tap_near(d->fill, -0.1307 / 0.3081, 1e-6, "fill is a blank pixel");
	tap_int(d->load(d, NI, x, &err), SIAM_EINVAL, "item out of range");

	unsigned char mask[10];
	tap_int(siam_data_parse_classes(d, "0-4", mask, &err), 0, "0-4");
	tap_ok(mask[0] && mask[4] && !mask[5] && !mask[9], "0-4 mask");
	siam_data_parse_classes(d, "1,3,7-8", mask, &err);
	tap_ok(!mask[0] && mask[1] && !mask[2] && mask[3] && mask[7] &&
	       mask[8] && !mask[9], "1,3,7-8 mask");
	siam_data_parse_classes(d, NULL, mask, &err);
	tap_ok(mask[0] && mask[9], "no list: all");
	tap_int(siam_data_parse_classes(d, "3-12", mask, &err), SIAM_EINVAL,
	        "3-12: EINVAL");
	tap_ok(strstr(err.msg, "'3-12'") != NULL, "names the item: %s",
	       err.msg);
	tap_int(siam_data_parse_classes(d, "5-2", mask, &err), SIAM_EINVAL,
	        "5-2: EINVAL");
	tap_int(siam_data_parse_classes(d, "cat", mask, &err), SIAM_EINVAL,
	        "cat: EINVAL");
	siam_data_free(d);

	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TEST, &pre, &err), 0,
	        "open the .gz test split: %s", err.msg);
	if (d) {
		tap_int(d->n, 10, "10 test items");
		siam_data_free(d);
	}

	/* a network of another size: resized */
	siam_preproc big = pre;
	big.h = big.w = 14;
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &big, &err), 0,
	        "open for a 14x14 network");
	if (d) {
		float y[196];
		d->load(d, 0, y, &err);
		/* item 0, pixel (0,0) of the 14x14 is the mean of 2x2 */
		double want = ((px[0] + px[1] + px[28] + px[29]) / 4.0 / 255 -
		               0.1307) / 0.3081;
		tap_near(y[0], want, 1e-4, "14x14: area-averaged");
		siam_data_free(d);
	}

	snprintf(spec, sizeof spec, "mnist:%s/broken", tmpdir);
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err),
	        SIAM_EFORMAT, "images and labels disagree: EFORMAT");
	tap_ok(strstr(err.msg, "29 labels") != NULL, "message: %s", err.msg);
	snprintf(spec, sizeof spec, "mnist:%s/none", tmpdir);
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err),
	        SIAM_EIO, "missing directory: EIO");
	tap_ok(strstr(err.msg, "/none/train-images-idx3-ubyte") != NULL,
	       "message names the file: %s", err.msg);
	tap_int(siam_data_open(&d, "nonsense", SIAM_SPLIT_TRAIN, &pre, &err),
	        SIAM_EINVAL, "no kind: EINVAL");
	tap_int(siam_data_open(&d, "jpeg:/x", SIAM_SPLIT_TRAIN, &pre, &err),
	        SIAM_EINVAL, "unknown kind: EINVAL");
	tap_ok(strstr(err.msg, "'jpeg'") != NULL, "message: %s", err.msg);
}

/* A 20x20 grey picture with a bright square at (x, y). */
static void write_png(const char *path, int x, int y)
{
	unsigned char img[20 * 20];
	for (int i = 0; i < 400; i++)
		img[i] = 20;
	for (int r = y; r < y + 6; r++)
		for (int c = x; c < x + 6; c++)
			img[r * 20 + c] = 230;
	stbi_write_png(path, 20, 20, 1, img, 20);
}

/* mkdir and write_png for a path under tmpdir. */
static void tmp_mkdir(const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
	mkdir(p, 0755);
}

static void tmp_png(const char *rel, int x, int y)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
	write_png(p, x, y);
}

static void test_folder(void)
{
	char p[512];
	tmp_mkdir("imgs");
	tmp_mkdir("imgs/b_class");
	tmp_mkdir("imgs/a_class");
	tmp_mkdir("imgs/empty");
	tmp_png("imgs/a_class/1.png", 2, 2);
	tmp_png("imgs/a_class/2.png", 4, 3);
	tmp_png("imgs/b_class/1.png", 12, 12);
	/* enough files that decoding is shared out to threads */
	for (int i = 0; i < 40; i++) {
		snprintf(p, sizeof p, "%s/imgs/b_class/x%02d.png", tmpdir, i);
		write_png(p, i % 14, (i * 5) % 14);
	}
	snprintf(p, sizeof p, "%s/imgs/b_class/junk.png", tmpdir);
	FILE *f = fopen(p, "wb");
	fputs("this is not a PNG", f);
	fclose(f);
	snprintf(p, sizeof p, "%s/imgs/b_class/.hidden.png", tmpdir);
	write_png(p, 0, 0);

	siam_preproc pre;
	siam_preproc_default(&pre, 1, 16, 16);
	char spec[512];
	snprintf(spec, sizeof spec, "folder:%s/imgs", tmpdir);
	siam_data *d = NULL;
	siam_error err = { 0 };
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err), 0,
	        "open folder: %s", err.msg);
	if (!d)
		return;
	tap_int(d->n, 43, "43 readable images (dot files skipped)");
	tap_int(d->num_classes, 2, "2 classes (the empty folder is none)");
	tap_ok(!strcmp(d->class_names[0], "a_class") &&
	       !strcmp(d->class_names[1], "b_class"), "classes sorted by name");
	int lab_ok = d->n == 43;
	for (int i = 0; lab_ok && i < 43; i++)
		lab_ok = d->labels[i] == (i < 2 ? 0 : 1);
	tap_ok(lab_ok, "labels by folder");
	tap_int(d->nbad, 1, "one bad file reported");
	tap_ok(d->nbad == 1 && strstr(d->bad[0], "junk.png"),
	       "the report names it: %s", d->nbad ? d->bad[0] : "");
	/* item 1 is a_class/2.png, preprocessed by the model's rules */
	float x[256], want[256];
	siam_image img = { 0 };
	snprintf(p, sizeof p, "%s/imgs/a_class/2.png", tmpdir);
	siam_image_load(&img, p, NULL, &err);
	siam_preprocess(want, &img, &pre, &err);
	siam_image_release(&img);
	d->load(d, 1, x, &err);
	tap_ok(!memcmp(x, want, sizeof x), "item = siam_preprocess of file");
	/* item 2 + 1 + 17 is b_class/x17.png: file order survives threads */
	snprintf(p, sizeof p, "%s/imgs/b_class/x17.png", tmpdir);
	siam_image_load(&img, p, NULL, &err);
	siam_preprocess(want, &img, &pre, &err);
	siam_image_release(&img);
	d->load(d, 20, x, &err);
	tap_ok(!memcmp(x, want, sizeof x), "item 20 = x17.png, in order");
	unsigned char mask[2];
	tap_int(siam_data_parse_classes(d, "b_class", mask, &err), 0,
	        "class list by name");
	tap_ok(!mask[0] && mask[1], "b_class selected");
	siam_data_free(d);

	snprintf(spec, sizeof spec, "augment:%s/imgs", tmpdir);
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err), 0,
	        "open augment: %s", err.msg);
	if (d) {
		tap_int(d->n, 43, "augment: every readable image");
		tap_ok(d->labels == NULL && d->num_classes == 0,
		       "augment: unlabelled");
		tap_int(siam_data_parse_classes(d, "0", mask, &err),
		        SIAM_EINVAL, "unlabelled: no class list");
		siam_data_free(d);
	}
	snprintf(spec, sizeof spec, "folder:%s/imgs/empty", tmpdir);
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err),
	        SIAM_EINVAL, "folder without classes: EINVAL");
	snprintf(spec, sizeof spec, "folder:%s/nothing", tmpdir);
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err),
	        SIAM_EIO, "missing folder: EIO");
}

/* The index of the first bad message holding both needles, or -1. */
static int find_bad(const siam_data *d, const char *a, const char *b)
{
	for (int i = 0; i < d->nbad; i++)
		if (strstr(d->bad[i], a) && strstr(d->bad[i], b))
			return i;
	return -1;
}

static void test_folder_skips(void)
{
	char p[512], q[600];
	tmp_mkdir("odd");
	tmp_mkdir("odd/c");
	tmp_png("odd/c/1.png", 2, 2);
	tmp_png("odd/c/2.png", 5, 5);
	/* a link back to the root: a loop */
	snprintf(p, sizeof p, "%s/odd/c/loop", tmpdir);
	int ok_setup = symlink("..", p) == 0;
	snprintf(p, sizeof p, "%s/odd/c/dangling.png", tmpdir);
	ok_setup &= symlink("no-such-file", p) == 0;
	snprintf(p, sizeof p, "%s/odd/c/fifo.png", tmpdir);
	ok_setup &= mkfifo(p, 0644) == 0;
	/* 20 folders deep: more than the 16 the walk once stopped at */
	int n = snprintf(p, sizeof p, "%s/odd/d", tmpdir);
	mkdir(p, 0755);
	for (int i = 0; i < 20; i++) {
		n += snprintf(p + n, sizeof p - (size_t)n, "/%d", i);
		mkdir(p, 0755);
	}
	snprintf(q, sizeof q, "%s/deep.png", p);
	write_png(q, 7, 7);
	/* a path of more than 4 KiB: 24 folders of 200-byte names, made
	 * one below the other with mkdirat (mkdir refuses such a path) */
	snprintf(p, sizeof p, "%s/odd/e", tmpdir);
	mkdir(p, 0755);
	int dfd = open(p, O_RDONLY | O_DIRECTORY);
	char name[201];
	memset(name, 'n', 200);
	name[200] = 0;
	for (int i = 0; i < 24 && dfd >= 0; i++) {
		mkdirat(dfd, name, 0755);
		int next = openat(dfd, name, O_RDONLY | O_DIRECTORY);
		close(dfd);
		dfd = next;
	}
	if (dfd >= 0) {
		int fd = openat(dfd, "long.png", O_WRONLY | O_CREAT, 0644);
		ok_setup &= fd >= 0 && write(fd, "x", 1) == 1;
		if (fd >= 0)
			close(fd);
		close(dfd);
	} else {
		ok_setup = 0;
	}
	tap_ok(ok_setup, "odd tree made (links, FIFO, deep and long paths)");

	siam_preproc pre;
	siam_preproc_default(&pre, 1, 16, 16);
	char spec[512];
	snprintf(spec, sizeof spec, "folder:%s/odd", tmpdir);
	siam_data *d = NULL;
	siam_error err = { 0 };
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err), 0,
	        "open a folder with odd entries: %s", err.msg);
	if (!d)
		return;
	for (int i = 0; i < d->nbad; i++)
		tap_diag("skipped: %.200s%s", d->bad[i],
		         strlen(d->bad[i]) > 200 ? "..." : "");
	tap_int(d->n, 3, "3 images: c/1.png, c/2.png and the one 21 "
	        "folders deep");
	tap_ok(d->num_classes == 2 && !strcmp(d->class_names[0], "c") &&
	       !strcmp(d->class_names[1], "d"), "classes c and d (e has "
	       "no readable file)");
	tap_ok(find_bad(d, "odd/c/loop", "already visited") >= 0,
	       "the link loop is reported as such");
	tap_ok(find_bad(d, "dangling.png", "dangling symbolic link") >= 0,
	       "the dangling link is reported");
	tap_ok(find_bad(d, "fifo.png", "FIFO") >= 0,
	       "the FIFO is reported, never opened");
	int lp = find_bad(d, "/nnnn", "too long");
	tap_ok(lp >= 0 && strlen(d->bad[lp]) > 4096,
	       "the path over 4 KiB is reported whole, with its reason");
	siam_data_free(d);

	snprintf(spec, sizeof spec, "augment:%s/odd", tmpdir);
	tap_int(siam_data_open(&d, spec, SIAM_SPLIT_TRAIN, &pre, &err), 0,
	        "augment: on the same folder: %s", err.msg);
	if (d) {
		tap_int(d->n, 3, "augment: the same 3 images");
		tap_ok(find_bad(d, "odd/c/loop", "already visited") >= 0 &&
		       find_bad(d, "fifo.png", "FIFO") >= 0,
		       "augment: the same reports");
		siam_data_free(d);
	}
}

static void test_memory_and_augment(void)
{
	float x[2 * 64];
	int labels[2] = { 0, 1 };
	for (int i = 0; i < 128; i++)
		x[i] = (float)i;
	siam_data *d = NULL;
	siam_error err = { 0 };
	tap_int(siam_data_from_memory(&d, x, labels, 2, 2, 1, 8, 8, &err), 0,
	        "from memory");
	float y[64];
	d->load(d, 1, y, &err);
	tap_ok(y[0] == 64 && y[63] == 127, "memory item 1");
	siam_data_free(d);
	int badl[2] = { 0, 2 };
	tap_int(siam_data_from_memory(&d, x, badl, 2, 2, 1, 8, 8, &err),
	        SIAM_EINVAL, "label out of range: EINVAL");

	/* No distortion asked for: the identity. */
	siam_augment a = { 0 };
	siam_rng rng;
	siam_rng_seed(&rng, 1);
	float out[64];
	siam_augment_apply(out, x, 1, 8, 8, -1, &a, &rng);
	tap_ok(!memcmp(out, x, sizeof out), "zero augmentation = identity");
	/* A big shift brings in fill from outside. */
	a.shift = 0.5f;
	float zero[64] = { 0 };
	int nfill = 0;
	for (int t = 0; t < 10; t++) {
		siam_augment_apply(out, zero, 1, 8, 8, -1, &a, &rng);
		for (int i = 0; i < 64; i++)
			nfill += out[i] < -0.5f;
	}
	tap_ok(nfill > 0, "shifts pad with the fill value (%d)", nfill);
	/* Default distortions move a centred blob but keep most of it. */
	siam_augment_default(&a);
	float blob[28 * 28], o2[28 * 28];
	double m0 = 0;
	for (int i = 0; i < 28 * 28; i++) {
		int r = i / 28, c = i % 28;
		blob[i] = (r - 13.5) * (r - 13.5) + (c - 13.5) * (c - 13.5) < 36;
		m0 += blob[i];
	}
	int changed = 0, kept = 1;
	for (int t = 0; t < 20; t++) {
		siam_augment_apply(o2, blob, 1, 28, 28, 0, &a, &rng);
		double m = 0;
		for (int i = 0; i < 28 * 28; i++)
			m += o2[i];
		changed += memcmp(o2, blob, sizeof blob) != 0;
		/* area scales by s^2 in [0.81, 1.21] */
		kept &= m > 0.75 * m0 && m < 1.3 * m0;
	}
	tap_int(changed, 20, "every draw distorts");
	tap_ok(kept, "the blob's mass is kept within the scale range");
	/* Elastic alone, mild: a smooth local warp that keeps the blob's
	 * mass within a third and its centre within a pixel. */
	siam_augment el = { 0 };
	el.elastic = 10;
	el.sigma = 4;
	int warped = 1, near = 1;
	for (int t = 0; t < 10; t++) {
		siam_augment_apply(o2, blob, 1, 28, 28, 0, &el, &rng);
		double m = 0, cx = 0;
		for (int i = 0; i < 28 * 28; i++) {
			m += o2[i];
			cx += o2[i] * (i % 28);
		}
		warped &= memcmp(o2, blob, sizeof blob) != 0;
		near &= m > 0.67 * m0 && m < 1.33 * m0 &&
		        fabs(cx / m - 13.5) < 1;
	}
	tap_ok(warped, "elastic distortion changes the image");
	tap_ok(near, "elastic distortion is local");

	float o3[28 * 28];
	siam_rng_seed(&rng, 5);
	siam_augment_apply(o2, blob, 1, 28, 28, 0, &a, &rng);
	siam_rng_seed(&rng, 5);
	siam_augment_apply(o3, blob, 1, 28, 28, 0, &a, &rng);
	tap_ok(!memcmp(o2, o3, sizeof o2), "same seed, same distortion");
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/siam-test-data-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tap_ok(0, "mkdtemp");
		return tap_done();
	}
	make_idx();
	test_mnist();
	test_folder();
	test_folder_skips();
	test_memory_and_augment();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpdir);
	return tap_done();
}
