/*
 * jbuf.c -- a growing text buffer for the server's JSON answers.  An
 * allocation failure is remembered (oom) and later appends are dropped,
 * so a handler builds its whole answer and checks once.
 */
#include "config.h"
#include "serve/serve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(jbuf *b, size_t more)
{
	if (b->oom)
		return -1;
	if (b->n + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->oom = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void jb_putn(jbuf *b, const char *s, size_t n)
{
	if (reserve(b, n))
		return;
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

void jb_puts(jbuf *b, const char *s)
{
	jb_putn(b, s, strlen(s));
}

void jb_printf(jbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		jb_putn(b, tmp, (size_t)n);
		return;
	}
	if (reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static int utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	int n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000;
	else
		return 0;
	unsigned v = c & (0x3f >> (n - 1));
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

void jb_str(jbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	jb_putn(b, "\"", 1);
	while (*p) {
		int n = utf8_len(p);
		if (n == 0) {
			jb_puts(b, "\\ufffd");
			p++;
		} else if (*p == '"' || *p == '\\') {
			char e[2] = { '\\', (char)*p };
			jb_putn(b, e, 2);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			jb_printf(b, "\\u%04x", *p);
			p++;
		} else if (*p == '<') {
			/* never "</script>" in an answer a page might inline */
			jb_puts(b, "\\u003c");
			p++;
		} else {
			jb_putn(b, (const char *)p, (size_t)n);
			p += n;
		}
	}
	jb_putn(b, "\"", 1);
}

void jb_free(jbuf *b)
{
	if (!b)
		return;
	free(b->s);
	memset(b, 0, sizeof *b);
}
