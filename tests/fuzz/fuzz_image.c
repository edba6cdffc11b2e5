/*
 * fuzz_image.c -- libFuzzer target: an image from memory, as siam index
 * treats a file: sniff, decode (every built-in format: JPEG, PNG, GIF,
 * BMP, TGA, PNM, PSD, HDR, PIC, WebP, TIFF, HEIC/AVIF; EXIF orientation),
 * the perceptual hash, and the preprocessing of a digit model and of a
 * colour model.  The input's length picks the size asked for, so that
 * every JPEG path runs: full size (len % 3 == 0); 32x32 (len % 3 ==
 * 1), which scales a JPEG of at least 249 pixels a side to 1/8, where
 * a progressive one goes to siam's own DC-only decoder (src/image/
 * jpeg_dc.c; the corpus's prog_dc*.jpg are padded to that length) and
 * anything it declines back to libjpeg; 1000x1000 (len % 3 == 2),
 * libjpeg-turbo's scaled IDCT.  Any error is fine; a crash, a leak or
 * undefined behaviour is not.
 */
#include "siam.h"

#include <stdint.h>
#include <stdlib.h>

/* stb_image reserves a PNG's IDAT buffer from the chunk's declared
 * length (up to 1 GiB, doubled: 1.5 GB for a 260-byte file) before it
 * finds the data missing.  Untouched, that costs nothing in a release
 * build, but ASan poisons the shadow of every allocation: 9 s per such
 * input, 70 runs/s in all.  Allocations over 256 MB fail here instead
 * (stb says "outofmem"; siam's own code must cope with a NULL too),
 * which no input within lim.max_pixels below needs. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1:max_allocation_size_mb=256";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static float in[3 * 32 * 32];
	siam_error err = { 0, "" };
	siam_image img = { 0 };
	siam_image_limits lim;
	siam_preproc digit, colour;
	uint64_t h;

	siam_sniff_image(data, len);
	siam_image_limits_default(&lim);
	lim.max_pixels = 1LL << 20; /* bounded work per input */
	if (len % 3 == 1)
		lim.want_w = lim.want_h = 32;
	else if (len % 3 == 2)
		lim.want_w = lim.want_h = 1000;
	if (siam_image_decode(&img, data, len, "fuzz", &lim, &err) == 0) {
		siam_phash(&h, &img, &err);
		/* The digit preprocessing (background fit, stroke width,
		 * dilation) works at full size: ~50 ms for a 300x200
		 * picture under ASan and coverage, more than all the rest.
		 * Pictures above 128x128 get it one time in eight. */
		if ((long long)img.w * img.h <= 128 * 128 || len % 8 == 0) {
			siam_preproc_default(&digit, 1, 28, 28);
			digit.digit = 1;
			siam_preprocess(in, &img, &digit, &err);
		}
		siam_preproc_default(&colour, 3, 32, 32);
		siam_preprocess(in, &img, &colour, &err);
	}
	siam_image_release(&img);
	return 0;
}
