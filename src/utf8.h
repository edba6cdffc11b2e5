/*
 * utf8.h -- is this a well-formed UTF-8 sequence?  Header-only so that
 * both libsiam and the command line can write valid JSON from byte
 * strings (file names, SQL text) that are not always UTF-8.
 */
#ifndef SIAM_UTF8_H
#define SIAM_UTF8_H

#include <stddef.h>

/* The length (1-4) of the well-formed UTF-8 sequence that starts at p,
 * or 0 if the bytes there are not one (stray continuation byte,
 * overlong form, surrogate, beyond U+10FFFF, or cut short by the NUL). */
static inline size_t siam_utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n;
	unsigned lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		n = 2;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		n = 3;
		if (p[0] == 0xE0)
			lo = 0xA0; /* overlong */
		if (p[0] == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		n = 4;
		if (p[0] == 0xF0)
			lo = 0x90; /* overlong */
		if (p[0] == 0xF4)
			hi = 0x8F; /* beyond U+10FFFF */
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

#endif
