/*
 * error.c -- the one way libsiam reports failures: a code and a message.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

int siam_errorf(siam_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}
