/*
 * test_fetch.c -- images by URL against a small HTTP server that this
 * test runs itself on 127.0.0.1: a good image, a 404, a slow answer, an
 * oversized body, redirects to file:// and in a loop, a non-image.
 */
#include "tap.h"
#include "siam.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int port;

/* A 3x2 gray PGM: enough for stb_image to decode. */
static const unsigned char pgm[] = "P5\n3 2\n255\n\x00\x40\x80\xc0\xe0\xff";

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, const char *status, const char *extra,
                  const void *body, size_t n)
{
	char head[512];
	int hl = snprintf(head, sizeof head,
	                  "HTTP/1.0 %s\r\n%sContent-Length: %zu\r\n"
	                  "Connection: close\r\n\r\n",
	                  status, extra, n);
	send_all(fd, head, (size_t)hl);
	send_all(fd, body, n);
}

static void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[2048];
	ssize_t n = recv(fd, req, sizeof req - 1, 0);
	if (n <= 0)
		goto done;
	req[n] = 0;
	char path[256] = "";
	sscanf(req, "GET %255s", path);
	if (!strcmp(path, "/good.pgm")) {
		reply(fd, "200 OK", "", pgm, sizeof pgm - 1);
	} else if (!strcmp(path, "/slow")) {
		sleep(2);
		reply(fd, "200 OK", "", pgm, sizeof pgm - 1);
	} else if (!strcmp(path, "/big")) {
		/* No Content-Length: the cap must hold while receiving. */
		const char *h = "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n";
		send_all(fd, h, strlen(h));
		static char chunk[65536];
		for (int i = 0; i < 64; i++)
			send_all(fd, chunk, sizeof chunk);
	} else if (!strcmp(path, "/to-file")) {
		reply(fd, "302 Found", "Location: file:///etc/passwd\r\n", "",
		      0);
	} else if (!strcmp(path, "/loop")) {
		reply(fd, "302 Found", "Location: /loop\r\n", "", 0);
	} else if (!strcmp(path, "/to-good")) {
		reply(fd, "301 Moved", "Location: /good.pgm\r\n", "", 0);
	} else if (!strcmp(path, "/text")) {
		reply(fd, "200 OK", "", "hello, not an image", 19);
	} else {
		reply(fd, "404 Not Found", "", "nope", 4);
	}
done:
	close(fd);
	return NULL;
}

static void *server(void *arg)
{
	int ls = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_t t;
		if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
}

static int start_server(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) ||
	    listen(ls, 16) || getsockname(ls, (struct sockaddr *)&a, &al))
		return -1;
	port = ntohs(a.sin_port);
	pthread_t t;
	if (pthread_create(&t, NULL, server, (void *)(intptr_t)ls))
		return -1;
	pthread_detach(t);
	return 0;
}

static char *url(const char *path)
{
	static char u[128];
	snprintf(u, sizeof u, "http://127.0.0.1:%d%s", port, path);
	return u;
}

int main(void)
{
	siam_error err = {0};
	siam_fetch_opts o;
	siam_fetch_opts_default(&o);
	void *data = NULL;
	size_t len = 0;

	tap_ok(siam_is_url("http://x/y") && siam_is_url("https://x") &&
	       siam_is_url("file:///etc") && !siam_is_url("/tmp/a.png") &&
	       !siam_is_url("a.png") && !siam_is_url("-") &&
	       !siam_is_url("://x"),
	       "siam_is_url tells URLs from paths");
	tap_int(siam_fetch("file:///etc/passwd", &o, &data, &len, &err),
	        SIAM_EINVAL, "file:// refused before any transfer");
	tap_ok(strstr(err.msg, "only http and https") != NULL, "%s", err.msg);
	tap_int(siam_fetch("ftp://127.0.0.1/x", &o, &data, &len, &err),
	        SIAM_EINVAL, "ftp:// refused");

	if (!tap_ok(start_server() == 0, "local HTTP server on 127.0.0.1"))
		return tap_done();

	err.msg[0] = 0;
	tap_int(siam_fetch(url("/good.pgm"), &o, &data, &len, &err), 0,
	        "good image fetched%s%s", err.msg[0] ? ": " : "", err.msg);
	tap_ok(len == sizeof pgm - 1 && !memcmp(data, pgm, len),
	       "body is exact (%zu bytes)", len);
	free(data);

	siam_image img = {0};
	err.msg[0] = 0;
	tap_int(siam_image_load_any(&img, url("/to-good"), NULL, &o, &err), 0,
	        "image through a redirect decodes%s%s", err.msg[0] ? ": " : "",
	        err.msg);
	tap_ok(img.w == 3 && img.h == 2 && img.c == 1 && img.px &&
	       img.px[1] == 0x40 && img.px[5] == 0xff,
	       "decoded 3x2 gray pixels");
	siam_image_release(&img);

	tap_int(siam_fetch(url("/missing"), &o, &data, &len, &err), SIAM_ENET,
	        "404 is an error");
	tap_ok(strstr(err.msg, "HTTP status 404") && strstr(err.msg, "/missing"),
	       "names status and URL: %s", err.msg);

	o.timeout_ms = 300;
	tap_int(siam_fetch(url("/slow"), &o, &data, &len, &err), SIAM_ENET,
	        "slow server times out");
	tap_ok(strstr(err.msg, "timed out") != NULL, "%s", err.msg);
	o.timeout_ms = 10000;

	o.max_bytes = 1 << 20;
	tap_int(siam_fetch(url("/big"), &o, &data, &len, &err), SIAM_ETOOBIG,
	        "4 MiB body over a 1 MiB cap is refused");
	tap_ok(strstr(err.msg, "too large") != NULL, "%s", err.msg);
	siam_fetch_opts_default(&o);

	tap_ok(siam_fetch(url("/to-file"), &o, &data, &len, &err) != 0,
	       "redirect to file:// refused");
	tap_ok(strstr(err.msg, "refused protocol") != NULL ||
	       strstr(err.msg, "http") != NULL, "%s", err.msg);

	o.max_redirects = 3;
	tap_int(siam_fetch(url("/loop"), &o, &data, &len, &err), SIAM_ENET,
	        "redirect loop stops");
	tap_ok(strstr(err.msg, "redirects") != NULL, "%s", err.msg);

	tap_int(siam_image_load_any(&img, url("/text"), NULL, &o, &err),
	        SIAM_EFORMAT, "a text body is not an image");
	tap_ok(strstr(err.msg, "/text") != NULL, "names the URL: %s", err.msg);

	o.connect_timeout_ms = 2000;
	tap_int(siam_fetch("http://127.0.0.1:1/x", &o, &data, &len, &err),
	        SIAM_ENET, "connection refused is an error");
	return tap_done();
}
