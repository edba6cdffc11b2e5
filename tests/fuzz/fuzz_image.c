/*
 * fuzz_image.c -- libFuzzer target: an image from memory, as siam index
 * treats a file: sniff, decode (every built-in format: JPEG, PNG, GIF,
 * BMP, TGA, PNM, PSD, HDR, PIC, WebP, TIFF, HEIC/AVIF; EXIF orientation),
 * the perceptual hash, and the preprocessing of a digit model and of a
 * colour model.  Decoding is asked full-size or scaled by the input's
 * length, so both of libjpeg-turbo's paths run.  Any error is fine; a
 * crash, a leak or undefined behaviour is not.
 */
#include "siam.h"

#include <stdint.h>
#include <stdlib.h>

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
	lim.max_pixels = 4LL << 20; /* bounded work per input */
	if (len % 3 == 1)
		lim.want_w = lim.want_h = 32;
	else if (len % 3 == 2)
		lim.want_w = lim.want_h = 1000;
	if (siam_image_decode(&img, data, len, "fuzz", &lim, &err) == 0) {
		siam_phash(&h, &img, &err);
		siam_preproc_default(&digit, 1, 28, 28);
		digit.digit = 1;
		siam_preprocess(in, &img, &digit, &err);
		siam_preproc_default(&colour, 3, 32, 32);
		siam_preprocess(in, &img, &colour, &err);
	}
	siam_image_release(&img);
	return 0;
}
