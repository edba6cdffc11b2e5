/*
 * test_hash.c -- SHA-256 against the FIPS 180-4 examples and against
 * sha256sum(1) at every length around the block boundaries; the
 * perceptual hash against a naive reference (full 32x32 DCT in double)
 * and its expected behaviour on rescaled, inverted and different images.
 */
#include "tap.h"
#include "siam.h"
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static void hex_of(char out[65], const unsigned char d[32])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* sha256sum of len bytes of data, through a temporary file. */
static int sha256sum(char out[65], const void *data, size_t len)
{
	char path[] = "/tmp/siam-hash-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	char cmd[96];
	snprintf(cmd, sizeof cmd, "sha256sum %s", path);
	FILE *p = popen(cmd, "r");
	int ok = p && fscanf(p, "%64s", out) == 1;
	if (p)
		pclose(p);
	unlink(path);
	return ok ? 0 : -1;
}

/* ---- the perceptual-hash reference: the definition, naively ---- */
static uint64_t phash_ref(const unsigned char *gray, int w, int h)
{
	/* w and h are multiples of 32: the area resize is a block mean. */
	int bx = w / 32, by = h / 32;
	double small[32][32], coef[64], sorted[64];
	for (int y = 0; y < 32; y++)
		for (int x = 0; x < 32; x++) {
			double s = 0;
			for (int j = 0; j < by; j++)
				for (int i = 0; i < bx; i++)
					s += gray[(y * by + j) * w + x * bx + i];
			small[y][x] = s / (bx * by);
		}
	for (int u = 0; u < 8; u++)
		for (int v = 0; v < 8; v++) {
			double s = 0;
			for (int y = 0; y < 32; y++)
				for (int x = 0; x < 32; x++)
					s += small[y][x] *
					     cos(M_PI * (y + 0.5) * u / 32) *
					     cos(M_PI * (x + 0.5) * v / 32);
			coef[u * 8 + v] = sorted[u * 8 + v] = s;
		}
	for (int i = 0; i < 64; i++) /* insertion sort */
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			double t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	double med = (sorted[31] + sorted[32]) / 2;
	uint64_t hsh = 0;
	for (int i = 0; i < 64; i++)
		if (coef[i] > med)
			hsh |= 1ull << (63 - i);
	return hsh;
}

/* A smooth picture: two blobs on a gradient, scaled to w x h. */
static void draw(unsigned char *px, int w, int h, int variant)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double u = (x + 0.5) / w, v = (y + 0.5) / h, val;
			if (variant == 0)
				val = 60 * u + 150 * exp(-((u - .3) * (u - .3) +
				                          (v - .4) * (v - .4)) / .02) +
				      80 * exp(-((u - .7) * (u - .7) +
				                 (v - .7) * (v - .7)) / .01);
			else
				val = 200 * v * v +
				      40 * sin(12 * u) * cos(9 * v) + 20;
			if (val > 255)
				val = 255;
			px[y * w + x] = (unsigned char)(val < 0 ? 0 : val);
		}
}

int main(void)
{
	/* SHA-256: FIPS 180-4 examples. */
	struct {
		const char *msg, *hex;
	} vec[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		char hex[65];
		siam_sha256_hex(hex, vec[i].msg, strlen(vec[i].msg));
		tap_ok(!strcmp(hex, vec[i].hex), "sha256(\"%.10s...\") = %s",
		       vec[i].msg, hex);
	}
	char *million = malloc(1000000);
	memset(million, 'a', 1000000);
	unsigned char d[32];
	char hex[65], want[65];
	siam_sha256(d, million, 1000000);
	hex_of(hex, d);
	tap_ok(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	       "sha256 of a million 'a'");
	free(million);

	/* The fast block function (SHA-NI where the CPU has it) against the
	 * portable reference, at every length up to four blocks and on a
	 * large buffer of varied bytes; and the reference alone on FIPS. */
	{
		enum { BIG = 1 << 20 };
		unsigned char *buf = malloc(BIG), r[32], f[32];
		uint64_t x = 88172645463325252ULL;
		for (size_t i = 0; i < BIG; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (unsigned char)x;
		}
		int same = 1;
		for (size_t len = 0; len <= 256; len++) {
			siam_sha256(f, buf + len, len);
			index_sha256_ref(r, buf + len, len);
			same &= !memcmp(f, r, 32);
		}
		tap_ok(same, "sha256: fast path = portable reference, lengths 0..256");
		/* Random lengths up to 10000 at every misalignment. */
		same = 1;
		for (int i = 0; i < 300; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t len = (size_t)(x % 10001), off = (size_t)i % 61;
			siam_sha256(f, buf + off, len);
			index_sha256_ref(r, buf + off, len);
			same &= !memcmp(f, r, 32);
		}
		tap_ok(same, "sha256: fast path = portable reference, 300 random "
		       "lengths 0..10000 at offsets 0..60");
		siam_sha256(f, buf, BIG);
		index_sha256_ref(r, buf, BIG);
		tap_ok(!memcmp(f, r, 32), "sha256: fast path = portable reference on 1 MiB");
		index_sha256_ref(r, "abc", 3);
		hex_of(hex, r);
		tap_ok(!strcmp(hex, vec[1].hex), "sha256 portable reference: FIPS \"abc\"");
		free(buf);
	}

	/* Every length across the one- and two-block padding cases. */
	unsigned char data[200];
	for (int i = 0; i < 200; i++)
		data[i] = (unsigned char)(i * 37 + 11);
	int bad = 0, checked = 0;
	for (size_t len = 0; len <= 130; len++) {
		if (sha256sum(want, data, len) != 0)
			continue;
		checked++;
		siam_sha256_hex(hex, data, len);
		if (strcmp(hex, want)) {
			if (!bad)
				tap_diag("len %zu: %s != %s", len, hex, want);
			bad++;
		}
	}
	tap_ok(checked == 131 && bad == 0,
	       "sha256 agrees with sha256sum at lengths 0..130 (%d checked)",
	       checked);

	/* Perceptual hash against the naive definition. */
	int W = 128, H = 96;
	unsigned char *g = malloc((size_t)W * H);
	draw(g, W, H, 0);
	siam_image img = { .w = W, .h = H, .c = 1, .px = g };
	uint64_t h0 = 0;
	siam_error err = { 0, "" };
	tap_int(siam_phash(&h0, &img, &err), 0, "phash of a gray image");
	uint64_t r0 = phash_ref(g, W, H);
	tap_ok(h0 == r0, "phash = the naive reference (%016llx vs %016llx)",
	       (unsigned long long)h0, (unsigned long long)r0);
	int ones = __builtin_popcountll(h0);
	tap_ok(ones >= 28 && ones <= 36, "about half the bits set (%d)", ones);

	/* RGB with R = G = B hashes like the gray image. */
	unsigned char *rgb = malloc((size_t)W * H * 3);
	for (int i = 0; i < W * H; i++)
		rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g[i];
	siam_image cimg = { .w = W, .h = H, .c = 3, .px = rgb };
	uint64_t hc = 0;
	siam_phash(&hc, &cimg, &err);
	tap_int(siam_hamming64(hc, h0), 0, "gray RGB hashes like gray");

	/* The same picture drawn at another size: a few bits at most. */
	int W2 = 301, H2 = 217;
	unsigned char *g2 = malloc((size_t)W2 * H2);
	draw(g2, W2, H2, 0);
	siam_image img2 = { .w = W2, .h = H2, .c = 1, .px = g2 };
	uint64_t h2 = 0;
	siam_phash(&h2, &img2, &err);
	int dsz = siam_hamming64(h0, h2);
	tap_ok(dsz <= 6, "rescaled picture: %d bits apart", dsz);

	/* Inverted: the AC coefficients change sign, most bits flip. */
	for (int i = 0; i < W * H; i++)
		g[i] = 255 - g[i];
	uint64_t hi = 0;
	siam_phash(&hi, &img, &err);
	int dinv = siam_hamming64(h0, hi);
	tap_ok(dinv >= 48, "inverted picture: %d bits apart", dinv);

	/* A different picture: far. */
	draw(g, W, H, 1);
	uint64_t hd = 0;
	siam_phash(&hd, &img, &err);
	int ddiff = siam_hamming64(h0, hd);
	tap_ok(ddiff >= 16, "a different picture: %d bits apart", ddiff);
	tap_ok(hd == phash_ref(g, W, H), "reference agrees on it too");

	/* A tiny image (smaller than 32x32) still hashes, and errors. */
	unsigned char tiny[6] = { 0, 50, 100, 150, 200, 250 };
	siam_image timg = { .w = 3, .h = 2, .c = 1, .px = tiny };
	tap_int(siam_phash(&hd, &timg, &err), 0, "a 3x2 image hashes");
	siam_image empty = { .w = 0, .h = 0, .c = 1, .px = NULL };
	tap_int(siam_phash(&hd, &empty, &err), SIAM_EINVAL,
	        "an empty image is SIAM_EINVAL");
	tap_int(siam_hamming64(0, ~0ull), 64, "hamming of 0 and ~0");
	tap_int(siam_hamming64(0x5ull, 0x6ull), 2, "hamming of 5 and 6");

	/* The row-at-a-time hash against the reference (the picture made
	 * gray whole, then resized): the same bits on odd sizes, gray and
	 * RGB, noise and smooth pictures, wider and taller than 32. */
	{
		static const int sz[][2] = { { 500, 375 }, { 375, 500 },
		                             { 641, 479 }, { 4000, 7 },
		                             { 7, 4000 },  { 1, 1 },
		                             { 31, 33 },   { 32, 32 },
		                             { 33, 31 },   { 97, 61 } };
		uint64_t x = 88172645463325252ULL;
		int same = 1, n = 0;
		for (size_t s = 0; s < sizeof sz / sizeof *sz; s++)
			for (int c = 1; c <= 3; c += 2)
				for (int smooth = 0; smooth < 2; smooth++) {
					int w = sz[s][0], h = sz[s][1];
					unsigned char *px = malloc((size_t)w * h * c);
					for (size_t i = 0; i < (size_t)w * h * c; i++) {
						x ^= x << 13, x ^= x >> 7, x ^= x << 17;
						px[i] = smooth ? (unsigned char)(i * 7 / (size_t)(w * c) + (i % c) * 40)
						               : (unsigned char)x;
					}
					siam_image im = { .w = w, .h = h, .c = c, .px = px };
					uint64_t hf = 1, hr = 2;
					int rf = siam_phash(&hf, &im, &err);
					int rr = index_phash_ref(&hr, &im, &err);
					if (rf || rr || hf != hr) {
						if (same)
							tap_diag("%dx%dx%d: %016llx vs %016llx",
							         w, h, c, (unsigned long long)hf,
							         (unsigned long long)hr);
						same = 0;
					}
					n++;
					free(px);
				}
		tap_ok(same, "phash row at a time = the reference (%d pictures)", n);
	}

	/* The 32x32 picture the indexer stores (images.gray32), against a
	 * hand computation: a 64x64 picture of 2x2 blocks, one colour each,
	 * gives block i's luma 0.299 R + 0.587 G + 0.114 B rounded, halves
	 * up, which in integers is (299 R + 587 G + 114 B + 500) / 1000.
	 * A colour whose luma ends in .5 exactly is nudged off the tie: the
	 * float sum may land either side of it. */
	{
		unsigned char px[64 * 64 * 3], gr[1024], want[1024];
		int bad = -1;
		for (int i = 0; i < 1024; i++) {
			int R = (i * 37 + 5) & 255, G = (i * 91 + 17) & 255;
			int B = (i * 53 + 101) & 255;
			if ((299 * R + 587 * G + 114 * B) % 1000 == 500)
				B ^= 1;
			want[i] = (unsigned char)((299 * R + 587 * G + 114 * B +
			                           500) / 1000);
			int by = i / 32, bx = i % 32;
			for (int y = 2 * by; y < 2 * by + 2; y++)
				for (int x = 2 * bx; x < 2 * bx + 2; x++) {
					unsigned char *p = px + 3 * (64 * y + x);
					p[0] = (unsigned char)R;
					p[1] = (unsigned char)G;
					p[2] = (unsigned char)B;
				}
		}
		siam_image im = { .w = 64, .h = 64, .c = 3, .px = px };
		uint64_t hg = 1, hp = 2;
		tap_int(index_phash_gray(&hg, gr, &im, &err), 0,
		        "index_phash_gray of 2x2 blocks");
		for (int i = 0; i < 1024 && bad < 0; i++)
			if (gr[i] != want[i])
				bad = i;
		if (!tap_ok(bad < 0, "gray32 = each block's rounded luma"))
			tap_diag("block %d: %d, want %d", bad, gr[bad], want[bad]);
		siam_phash(&hp, &im, &err);
		tap_ok(hg == hp, "and its hash is siam_phash's (%016llx)",
		       (unsigned long long)hg);

		/* solid grey 200, as gray and as RGB */
		memset(px, 200, sizeof px);
		int all = 1;
		for (int c = 1; c <= 3; c += 2) {
			siam_image sg = { .w = 64, .h = 64, .c = c, .px = px };
			memset(gr, 0, sizeof gr);
			all &= index_phash_gray(&hg, gr, &sg, &err) == 0;
			for (int i = 0; i < 1024; i++)
				all &= gr[i] == 200;
		}
		tap_ok(all, "solid grey 200 (gray and RGB): 1024 bytes of 200");

		/* white stays 255 (the float luma may pass it by a hair),
		 * and the hash of the drawn picture is siam_phash's too */
		memset(px, 255, sizeof px);
		siam_image wh = { .w = 64, .h = 64, .c = 3, .px = px };
		index_phash_gray(&hg, gr, &wh, &err);
		all = 1;
		for (int i = 0; i < 1024; i++)
			all &= gr[i] == 255;
		tap_ok(all, "white: 1024 bytes of 255");
		draw(g2, W2, H2, 0);
		index_phash_gray(&hg, gr, &img2, &err);
		siam_phash(&hp, &img2, &err);
		tap_ok(hg == hp, "index_phash_gray's hash = siam_phash's on a "
		       "301x217 picture");
		tap_int(index_phash_gray(&hg, gr, &empty, &err), SIAM_EINVAL,
		        "index_phash_gray of an empty image is SIAM_EINVAL");
	}

	free(g);
	free(g2);
	free(rgb);
	return tap_done();
}
