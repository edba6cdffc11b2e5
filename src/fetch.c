/*
 * fetch.c -- images by URL, through libcurl, with limits.
 *
 * Safety decisions, and why:
 *   - Only http and https, for the first request and for every redirect:
 *     a URL list from somewhere else must not make siam read local files
 *     (file://) or talk other protocols (gopher://, dict://, ...).
 *   - A size cap enforced while receiving, not only by Content-Length,
 *     which a server may omit or lie about.
 *   - Connect and total timeouts, a redirect limit: a slow or looping
 *     server costs a bounded time and then becomes an error for that URL.
 *   - TLS peer and host verification stay on.
 */
#include "internal.h"
#include "bytes.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

void siam_fetch_opts_default(siam_fetch_opts *o)
{
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 60000;
	o->max_bytes = (size_t)64 << 20;
	o->max_redirects = 5;
}

int siam_is_url(const char *s)
{
	const char *p = s;
	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	       *p == '.')
		p++;
	return p[0] == ':' && p[1] == '/' && p[2] == '/';
}

static int scheme_allowed(const char *url)
{
	return !strncasecmp(url, "http://", 7) ||
	       !strncasecmp(url, "https://", 8);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct sink {
	bytes_out b;
	size_t max;
	int too_big;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	sink *s = ud;
	size_t n = size * nmemb;
	if (n > s->max - s->b.len) {
		s->too_big = 1;
		return 0; /* makes curl abort with CURLE_WRITE_ERROR */
	}
	bytes_put(&s->b, ptr, n);
	return s->b.fail ? 0 : n;
}

int siam_fetch(const char *url, const siam_fetch_opts *o, void **data,
               size_t *len, siam_error *err)
{
	siam_fetch_opts def;
	*data = NULL;
	*len = 0;
	if (!o) {
		siam_fetch_opts_default(&def);
		o = &def;
	}
	if (!scheme_allowed(url))
		return siam_errorf(err, SIAM_EINVAL,
		                   "%s: only http and https URLs are allowed",
		                   url);
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return siam_errorf(err, SIAM_ENET, "%s: cannot initialise "
		                   "libcurl: %s", url,
		                   curl_easy_strerror(curl_init_rc));
	CURL *c = curl_easy_init();
	if (!c)
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", url);

	sink s = {.max = o->max_bytes};
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, o->max_redirects);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	                 (curl_off_t)o->max_bytes);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	/* Threads: no SIGALRM-based DNS timeouts. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "siam/" SIAM_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);

	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	int ret = 0;
	if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		ret = siam_errorf(err, SIAM_ETOOBIG,
		                  "%s: too large (more than %zu bytes)", url,
		                  o->max_bytes);
	else if (s.b.fail)
		ret = siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", url);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		ret = siam_errorf(err, SIAM_ENET, "%s: timed out after %ld ms",
		                  url, o->timeout_ms);
	else if (rc == CURLE_TOO_MANY_REDIRECTS)
		ret = siam_errorf(err, SIAM_ENET,
		                  "%s: more than %ld redirects", url,
		                  o->max_redirects);
	else if (rc == CURLE_UNSUPPORTED_PROTOCOL)
		ret = siam_errorf(err, SIAM_ENET,
		                  "%s: redirected to a refused protocol (only "
		                  "http and https are allowed)", url);
	else if (rc != CURLE_OK)
		ret = siam_errorf(err, SIAM_ENET, "%s: %s", url,
		                  cerr[0] ? cerr : curl_easy_strerror(rc));
	else if (status >= 400 || status < 200)
		ret = siam_errorf(err, SIAM_ENET, "%s: HTTP status %ld", url,
		                  status);
	curl_easy_cleanup(c);
	if (ret) {
		free(s.b.p);
		return ret;
	}
	*data = s.b.p ? s.b.p : malloc(1);
	*len = s.b.len;
	if (!*data)
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory", url);
	return 0;
}

int siam_image_load_any(siam_image *out, const char *what,
                        const siam_image_limits *lim,
                        const siam_fetch_opts *fo, siam_error *err)
{
	if (!siam_is_url(what))
		return siam_image_load(out, what, lim, err);
	siam_fetch_opts o;
	if (fo)
		o = *fo;
	else
		siam_fetch_opts_default(&o);
	/* The image limit on encoded bytes also caps the download. */
	if (lim && lim->max_bytes && lim->max_bytes < o.max_bytes)
		o.max_bytes = lim->max_bytes;
	void *data;
	size_t len;
	int rc = siam_fetch(what, &o, &data, &len, err);
	if (rc)
		return rc;
	rc = siam_image_decode(out, data, len, what, lim, err);
	free(data);
	return rc;
}
