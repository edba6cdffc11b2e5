/*
 * bench_jpeg.c -- siam's JPEG decode at 1/8 beside libjpeg-turbo's own
 * 1/8 decode of the same files, one thread, the files in memory.
 *
 *   bench/bench_jpeg [-r RUNS] FILE...
 *
 * libjpeg-turbo at scale 1/8 (what Pillow's draft mode and siam before
 * jpeg_huff.c used) is the floor issue 14 names: nearly all of it is
 * entropy decoding.  siam_image_decode at a 32x32 request takes the
 * same scale, through jpeg_dc.c for Huffman-coded JPEGs.  Per run
 * every file is decoded once by each, alternating; printed: the median
 * over runs of the total time, ms a file, files/s, and the ratio.  The
 * first decode of each file by each is compared: the same size, and how
 * many files get the same pixels (jpeg_dc.c's promise for sequential
 * JPEGs and all but 4:2:0 progressive ones).
 */
#include "siam.h"
#include "bench_util.h"

#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

/* libjpeg-turbo's 1/8 decode of d; the pixels into *keep if not NULL. */
static int libjpeg_eighth(const unsigned char *d, size_t len, int *w, int *h,
                          unsigned char **keep)
{
	struct jpeg_decompress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *row, *all = NULL;

	ci.err = jpeg_std_error(&jerr);
	jpeg_create_decompress(&ci);
	jpeg_mem_src(&ci, d, (unsigned long)len);
	jpeg_read_header(&ci, TRUE);
	ci.scale_num = 1;
	ci.scale_denom = 8;
	ci.out_color_space = ci.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_start_decompress(&ci);
	size_t rl = (size_t)ci.output_width * ci.output_components;
	row = malloc(rl);
	if (keep)
		all = malloc(rl * ci.output_height);
	while (ci.output_scanline < ci.output_height) {
		JSAMPROW r = all ? all + rl * ci.output_scanline : row;
		jpeg_read_scanlines(&ci, &r, 1);
	}
	if (keep)
		*keep = all;
	*w = (int)ci.output_width;
	*h = (int)ci.output_height;
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
	free(row);
	return 0;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *d = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (d = malloc((size_t)n)) &&
	    fread(d, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(d);
		d = NULL;
	}
	fclose(f);
	return d;
}

int main(int argc, char **argv)
{
	int runs = 5, first = 1, nf, same = 0;
	/* BENCH_JPEG_ONLY=libjpeg or siam: one decoder alone (for perf) */
	const char *o = getenv("BENCH_JPEG_ONLY");
	int only = o ? o[0] : 0;
	if (argc > 2 && !strcmp(argv[1], "-r")) {
		runs = atoi(argv[2]);
		first = 3;
	}
	nf = argc - first;
	if (nf < 1 || runs < 1) {
		fprintf(stderr, "usage: bench_jpeg [-r RUNS] FILE...\n");
		return 2;
	}
	unsigned char **d = calloc((size_t)nf, sizeof *d);
	size_t *len = calloc((size_t)nf, sizeof *len), bytes = 0;
	double *tl = calloc((size_t)runs, sizeof *tl),
	       *ts = calloc((size_t)runs, sizeof *ts);
	siam_image_limits lim;

	siam_image_limits_default(&lim);
	lim.want_w = lim.want_h = 32;
	for (int i = 0; i < nf; i++) {
		if (!(d[i] = slurp(argv[first + i], &len[i]))) {
			fprintf(stderr, "bench_jpeg: cannot read %s\n",
			        argv[first + i]);
			return 2;
		}
		bytes += len[i];
	}
	for (int r = 0; r < runs; r++) {
		for (int i = 0; i < nf; i++) {
			siam_image img = { 0 };
			siam_error err = { 0, "" };
			int w, h;
			unsigned char *ref = NULL;
			double t0 = now();
			if (only != 's')
				libjpeg_eighth(d[i], len[i], &w, &h,
				               r == 0 ? &ref : NULL);
			else
				w = h = -1;
			double t1 = now();
			if (only == 'l') {
				free(ref);
				continue;
			}
			if (siam_image_decode(&img, d[i], len[i], argv[first + i],
			                      &lim, &err)) {
				fprintf(stderr, "bench_jpeg: %s\n", err.msg);
				return 1;
			}
			double t2 = now();
			tl[r] += t1 - t0;
			ts[r] += t2 - t1;
			if (r == 0 && w >= 0 && (img.w != w || img.h != h)) {
				fprintf(stderr, "bench_jpeg: %s: siam %dx%d, "
				        "libjpeg %dx%d\n", argv[first + i],
				        img.w, img.h, w, h);
				return 1;
			}
			if (ref && !memcmp(ref, img.px, (size_t)w * h * img.c))
				same++;
			free(ref);
			siam_image_release(&img);
		}
	}
	double ml = median(tl, runs), ms = median(ts, runs);
	printf("%d files, %.0f KiB each on average, %d runs, one thread\n",
	       nf, bytes / 1024.0 / nf, runs);
	printf("| decoder at 1/8 | ms a file (median run) | files/s |\n");
	printf("| --- | --- | --- |\n");
	printf("| libjpeg-turbo (jpeg_read_scanlines) | %.2f | %.1f |\n",
	       1e3 * ml / nf, nf / ml);
	printf("| siam_image_decode | %.2f | %.1f |\n", 1e3 * ms / nf,
	       nf / ms);
	printf("siam / libjpeg-turbo: %.2fx\n", ml / ms);
	if (!only)
		printf("identical pixels: %d of %d files\n", same, nf);
	for (int i = 0; i < nf; i++)
		free(d[i]);
	free(d);
	free(len);
	free(tl);
	free(ts);
	return 0;
}
