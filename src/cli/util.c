/*
 * util.c -- what every command shares: errors, number options, JSON
 * strings, the progress bar.
 */
#include "config.h"
#include "cli.h"
#include "utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "siam %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_help(const struct cmd_entry *cmd)
{
	fputs(cmd->usage, stdout);
	return SIAM_EXIT_OK;
}

int cli_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "siam %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'siam %s --help'.\n", cmd->name);
	return SIAM_EXIT_ERROR;
}

int cli_parse_int(const struct cmd_entry *cmd, const char *opt,
                  const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		cli_usage_error(cmd, "%s: '%s' is not an integer in [%ld, %ld]",
		                opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_float(const struct cmd_entry *cmd, const char *opt,
                    const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
		cli_usage_error(cmd, "%s: '%s' is not a number in [%g, %g]",
		                opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

void cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20) {
				fprintf(f, "\\u%04x", *p);
			} else {
				/* JSON is UTF-8: a byte that is not part of
				 * a well-formed sequence (a Latin-1 file
				 * name, say) becomes U+FFFD. */
				size_t len = siam_utf8_len(p);
				if (len == 0) {
					fputs("\\ufffd", f);
				} else {
					fwrite(p, 1, len, f);
					p += len - 1;
				}
			}
		}
	}
	fputc('"', f);
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *label, long total,
                        int quiet)
{
	p->label = label;
	p->total = total;
	p->start = p->last = cli_now();
	p->enabled = !quiet && isatty(STDERR_FILENO);
}

void cli_progress_update(cli_progress *p, long done, const char *extra)
{
	if (!p->enabled)
		return;
	double now = cli_now();
	if (now - p->last < 0.1 && done < p->total)
		return;
	p->last = now;
	double frac = p->total > 0 ? (double)done / p->total : 0;
	if (frac > 1)
		frac = 1;
	int width = 24, fill = (int)(frac * width);
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	double el = now - p->start;
	double eta = done > 0 ? el * (p->total - done) / done : 0;
	fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %ld/%ld ETA %02d:%02d %s",
	        p->label, bar, frac * 100, done, p->total,
	        (int)(eta / 60), (int)eta % 60, extra ? extra : "");
	fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
	if (p->enabled) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}
