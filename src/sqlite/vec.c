/*
 * vec.c -- vectors in SQL: the one parse helper that turns a value (a
 * float32 little-endian BLOB or a JSON array as TEXT) into floats, with
 * the exact error texts of siam-sql(7), and the BLOB and JSON results.
 * Numbers are read and written in the C locale whatever the host's.
 * Compiled twice, like sql.c (see db/sqlite_api.h).
 */
#include "db/sqlite_api.h"

#include "db/db.h"
#include "sqlite/sql.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Numbers as text, independent of the host's locale.                  */
/* A host program may have called setlocale(LC_ALL, "") (GUI database  */
/* browsers do) and then "%g" writes "0,5" and strtof stops at the     */
/* '.'.  uselocale() switches the calling thread only, so it is safe   */
/* inside any host.                                                    */

static pthread_once_t sql_locale_once = PTHREAD_ONCE_INIT;
static locale_t sql_c_locale;

static void sql_locale_init(void)
{
	sql_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Switches this thread to the C locale; returns what to restore. */
static locale_t sql_locale_push(void)
{
	pthread_once(&sql_locale_once, sql_locale_init);
	return sql_c_locale ? uselocale(sql_c_locale) : (locale_t)0;
}

static void sql_locale_pop(locale_t old)
{
	if (old)
		uselocale(old);
}

/* ------------------------------------------------------------------ */
/* Vectors: float32 little-endian BLOBs, or JSON arrays of numbers.    */


void sqlvec_release(sqlvec *x)
{
	free(x->heap);
	x->heap = NULL;
	x->v = NULL;
	x->n = 0;
}

static int sqlvec_reserve(sqlvec *x, int n)
{
	if (n <= SQLVEC_STACK) {
		x->v = x->stack;
		return 0;
	}
	float *p = realloc(x->heap, (size_t)n * sizeof *p);
	if (!p)
		return -1;
	x->heap = x->v = p;
	return 0;
}

static int json_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Length of the JSON number at s (RFC 8259 grammar), 0 if none. */
static size_t json_number_len(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < len && s[i] == '.') {
		size_t j = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == j)
			return 0;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t j = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == j)
			return 0;
	}
	return i;
}

/* Parses "[1, 2.5, -3e-2]" into x.  A number is converted by strtof on a
 * NUL-terminated copy (correctly rounded to float32); one out of float32
 * range is an error, not infinity. */
static int sqlvec_from_json(sqlvec *x, const char *s, size_t len,
                            const char *fn, char **msg)
{
	size_t i = 0;
	int n = 0, cap = SQLVEC_STACK;
	char num[128];
	locale_t old = sql_locale_push();
	int rc = -1;

	while (i < len && json_is_space((unsigned char)s[i]))
		i++;
	if (i >= len || s[i] != '[')
		goto bad_json;
	i++;
	while (i < len && json_is_space((unsigned char)s[i]))
		i++;
	if (i < len && s[i] == ']') {
		i++;
		goto end;
	}
	for (;;) {
		size_t nl = json_number_len(s + i, len - i);
		if (nl == 0)
			goto bad_json;
		if (nl >= sizeof num) {
			*msg = sqlite3_mprintf("%s: number too long at offset %d",
			                       fn, (int)i);
			goto out;
		}
		memcpy(num, s + i, nl);
		num[nl] = '\0';
		errno = 0;
		float f = strtof(num, NULL);
		if (isinf(f)) {
			*msg = sqlite3_mprintf(
				"%s: number out of float32 range at offset %d",
				fn, (int)i);
			goto out;
		}
		if (n == cap) {
			/* grow: from the stack to the heap, then doubling */
			float *p = realloc(x->heap, 2 * (size_t)cap * sizeof *p);
			if (!p)
				goto nomem;
			if (!x->heap)
				memcpy(p, x->stack, (size_t)n * sizeof *p);
			x->heap = x->v = p;
			cap *= 2;
		}
		x->v[n++] = f;
		i += nl;
		while (i < len && json_is_space((unsigned char)s[i]))
			i++;
		if (i < len && s[i] == ',') {
			i++;
			while (i < len && json_is_space((unsigned char)s[i]))
				i++;
			continue;
		}
		if (i < len && s[i] == ']') {
			i++;
			break;
		}
		goto bad_json;
	}
end:
	while (i < len && json_is_space((unsigned char)s[i]))
		i++;
	if (i != len)
		goto bad_json;
	if (n == 0) {
		*msg = sqlite3_mprintf("%s: empty vector", fn);
		goto out;
	}
	x->n = n;
	rc = 0;
	goto out;
nomem:
	*msg = sqlite3_mprintf("%s: out of memory", fn);
	goto out;
bad_json:
	*msg = sqlite3_mprintf("%s: invalid JSON at offset %d", fn, (int)i);
out:
	sql_locale_pop(old);
	return rc;
}

/*
 * The one parse helper: turns a SQL value into a vector.
 * Returns 0 with x filled, 1 for SQL NULL (x empty), or -1 with *msg set
 * (sqlite3_mprintf'ed, prefixed with fn) for anything that is not a
 * non-empty vector of finite float32 values.  Release x either way.
 */
void sqlvec_init(sqlvec *x)
{
	x->v = x->stack;
	x->n = 0;
	x->heap = NULL;
}

int sqlvec_parse(sqlvec *x, sqlite3_value *val, const char *fn,
                 char **msg)
{
	sqlvec_init(x);
	*msg = NULL;
	switch (sqlite3_value_type(val)) {
	case SQLITE_NULL:
		return 1;
	case SQLITE_INTEGER:
		*msg = sqlite3_mprintf("%s: expected a float32 vector BLOB or "
		                       "a JSON array, found an integer", fn);
		return -1;
	case SQLITE_FLOAT:
		*msg = sqlite3_mprintf("%s: expected a float32 vector BLOB or "
		                       "a JSON array, found a real number", fn);
		return -1;
	case SQLITE_TEXT: {
		const char *s = (const char *)sqlite3_value_text(val);
		int len = sqlite3_value_bytes(val);
		if (!s) {
			*msg = sqlite3_mprintf("%s: out of memory", fn);
			return -1;
		}
		if (sqlvec_from_json(x, s, (size_t)len, fn, msg) < 0)
			return -1;
		return 0;
	}
	default: { /* SQLITE_BLOB */
		const unsigned char *p = sqlite3_value_blob(val);
		int len = sqlite3_value_bytes(val);
		if (len % 4 != 0) {
			*msg = sqlite3_mprintf(
				"%s: invalid float32 vector BLOB length: must be "
				"divisible by 4, found %d", fn, len);
			return -1;
		}
		if (len == 0) {
			*msg = sqlite3_mprintf("%s: empty vector", fn);
			return -1;
		}
		if (sqlvec_reserve(x, len / 4) < 0) {
			*msg = sqlite3_mprintf("%s: out of memory", fn);
			return -1;
		}
		x->n = len / 4;
		for (int i = 0; i < x->n; i++) {
			x->v[i] = db_load_f32(p + 4 * (size_t)i);
			if (!isfinite(x->v[i])) {
				*msg = sqlite3_mprintf(
					"%s: element %d is NaN or infinite",
					fn, i);
				return -1;
			}
		}
		return 0;
	}
	}
}

/* Writes x as a float32 LE BLOB result. */
void sqlvec_result_blob(sqlite3_context *ctx, const float *v, int n)
{
	unsigned char *p = sqlite3_malloc64((sqlite3_uint64)n * 4);
	if (!p) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	for (int i = 0; i < n; i++)
		db_store_f32(p + 4 * (size_t)i, v[i]);
	sqlite3_result_blob64(ctx, p, (sqlite3_uint64)n * 4, sqlite3_free);
}

/* The shortest of "%.6g" .. "%.9g" that reads back as the same float:
 * "0.1", not "0.100000001"; nine digits always suffice for float32. */
static int sql_format_float(char *buf, size_t size, float f)
{
	int len = 0;
	for (int prec = 6; prec <= 9; prec++) {
		len = snprintf(buf, size, "%.*g", prec, (double)f);
		if (strtof(buf, NULL) == f)
			break;
	}
	return len;
}

void sqlvec_result_json(sqlite3_context *ctx, const float *v, int n)
{
	/* "%.9g" of a float is at most 15 characters ("-1.17549435e-38"),
	 * plus a comma each, plus the brackets. */
	size_t cap = (size_t)n * 16 + 3, len = 0;
	char *out = sqlite3_malloc64(cap);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	locale_t old = sql_locale_push();
	out[len++] = '[';
	for (int i = 0; i < n; i++) {
		if (i)
			out[len++] = ',';
		len += (size_t)sql_format_float(out + len, cap - len, v[i]);
	}
	out[len++] = ']';
	out[len] = '\0';
	sql_locale_pop(old);
	sqlite3_result_text64(ctx, out, len, sqlite3_free, SQLITE_UTF8);
}
