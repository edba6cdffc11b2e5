/*
 * test_walk.c -- the folder walk on a temporary tree full of traps: a
 * FIFO, a socket, a link to an ancestor, a self-referencing link, a
 * dangling link, a link to a file, a name full of quotes and newlines;
 * and the content sniffing that decides what is an image.
 */
#include "tap.h"
#include "siam.h"

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXE 64
typedef struct seen {
	int n;
	char *path[MAXE];
	int kind[MAXE];
	char *msg[MAXE];
	int depth[MAXE];
	int64_t size[MAXE], mtime[MAXE];
	int stop_after;
} seen;

static int collect(void *arg, const siam_walk_entry *e)
{
	seen *s = arg;
	if (s->n < MAXE) {
		s->path[s->n] = strdup(e->path);
		s->kind[s->n] = e->kind;
		s->msg[s->n] = e->msg ? strdup(e->msg) : NULL;
		s->depth[s->n] = e->depth;
		s->size[s->n] = e->size;
		s->mtime[s->n] = e->mtime_ns;
		s->n++;
	}
	return s->stop_after && s->n >= s->stop_after;
}

static int find(const seen *s, const char *path)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->path[i], path))
			return i;
	return -1;
}

static void seen_free(seen *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->path[i]);
		free(s->msg[i]);
	}
	memset(s, 0, sizeof *s);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static char root[64];
static char buf[512];

static const char *P(const char *rel)
{
	snprintf(buf, sizeof buf, "%s/%s", root, rel);
	return buf;
}

static int kind_of(const seen *s, const char *rel)
{
	char want[512];
	snprintf(want, sizeof want, "%s/%s", root, rel);
	int i = find(s, want);
	return i < 0 ? -1 : s->kind[i];
}

int main(void)
{
	strcpy(root, "/tmp/siam-walk-XXXXXX");
	if (!mkdtemp(root)) {
		tap_ok(0, "mkdtemp");
		return tap_done();
	}
	/* The tree. */
	write_file(P("a.png"), "12345");
	mkdir(P("sub"), 0755);
	write_file(P("sub/b.txt"), "b");
	mkdir(P("sub/deep"), 0755);
	write_file(P("sub/deep/c.bin"), "cc");
	mkdir(P("empty"), 0755);              /* nothing inside: no entry */
	mkfifo(P("fifo"), 0644);
	symlink(".", P("sub/up"));            /* a loop back to sub */
	symlink("../..", P("sub/deep/top"));  /* a loop back to the root */
	symlink("self", P("self"));           /* ELOOP */
	symlink("nowhere", P("dangling"));    /* ENOENT */
	symlink("a.png", P("link.png"));      /* a link to a file */
	const char *weird = "q'\"\n \t$x;`.png";
	write_file(P(weird), "w");
	/* A socket: bind a unix socket there. */
	int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", root);
	int have_sock = sfd >= 0 &&
	                bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0;

	seen s;
	memset(&s, 0, sizeof s);
	siam_error err = { 0, "" };
	const char *roots[] = { root, "/dev/null", "/nonexistent/siam-walk" };
	int rc = siam_walk(roots, 3, collect, &s, &err);
	tap_int(rc, 0, "walk returns 0 despite the traps");

	tap_int(kind_of(&s, "a.png"), SIAM_WALK_FILE, "a regular file");
	tap_int(kind_of(&s, "sub/b.txt"), SIAM_WALK_FILE, "a file in a sub-folder");
	tap_int(kind_of(&s, "sub/deep/c.bin"), SIAM_WALK_FILE,
	        "a file two levels down");
	tap_int(kind_of(&s, "link.png"), SIAM_WALK_FILE,
	        "a link to a file is followed");
	tap_int(kind_of(&s, weird), SIAM_WALK_FILE,
	        "a name with quotes, a newline, tabs is kept byte for byte");
	tap_int(kind_of(&s, "fifo"), SIAM_WALK_SKIPPED, "a FIFO is skipped");
	if (have_sock)
		tap_int(kind_of(&s, "sock"), SIAM_WALK_SKIPPED,
		        "a socket is skipped");
	else
		tap_ok(1, "# SKIP cannot bind a unix socket");
	tap_int(kind_of(&s, "sub/up"), SIAM_WALK_SKIPPED,
	        "a link back to its own folder is not walked again");
	tap_int(kind_of(&s, "sub/deep/top"), SIAM_WALK_SKIPPED,
	        "a link back to the root is not walked again");
	tap_int(kind_of(&s, "self"), SIAM_WALK_ERROR,
	        "a self-referencing link is an error");
	tap_int(kind_of(&s, "dangling"), SIAM_WALK_ERROR,
	        "a dangling link is an error");
	int i = find(&s, P("dangling"));
	tap_ok(i >= 0 && s.msg[i] && strstr(s.msg[i], "dangling"),
	       "the dangling link's message says so: %s",
	       i >= 0 && s.msg[i] ? s.msg[i] : "(none)");
	i = find(&s, P("self"));
	tap_ok(i >= 0 && s.msg[i] && strstr(s.msg[i], "loop"),
	       "the link loop's message says so: %s",
	       i >= 0 && s.msg[i] ? s.msg[i] : "(none)");
	i = find(&s, P("fifo"));
	tap_ok(i >= 0 && s.msg[i] && strstr(s.msg[i], "FIFO"),
	       "the FIFO's message says so");
	i = find(&s, "/dev/null");
	tap_ok(i >= 0 && s.kind[i] == SIAM_WALK_SKIPPED && s.msg[i] &&
	       strstr(s.msg[i], "device"), "a device given as a root is skipped");
	i = find(&s, "/nonexistent/siam-walk");
	tap_ok(i >= 0 && s.kind[i] == SIAM_WALK_ERROR && s.msg[i] &&
	       strstr(s.msg[i], "No such file"),
	       "a missing root is an error naming the reason");

	/* Exactly these entries, each once: nothing walked twice. */
	int nfiles = 0, dup = 0;
	for (int a = 0; a < s.n; a++) {
		nfiles += s.kind[a] == SIAM_WALK_FILE;
		for (int b = a + 1; b < s.n; b++)
			dup += !strcmp(s.path[a], s.path[b]);
	}
	tap_int(nfiles, 5, "five files found");
	tap_int(dup, 0, "no path reported twice");
	tap_int(s.n, 12 + have_sock, "and nothing else");

	/* Order: byte order of names, depth first. */
	int ia = find(&s, P("a.png")), ib = find(&s, P("sub/b.txt")),
	    ic = find(&s, P("sub/deep/c.bin")), il = find(&s, P("link.png"));
	tap_ok(ia >= 0 && ia < il && il < ib && ib < ic,
	       "sorted, depth first (a.png, link.png, sub/b.txt, "
	       "sub/deep/c.bin)");

	/* Sizes, times, depth and top. */
	struct stat st;
	stat(P("sub/deep/c.bin"), &st);
	tap_int(s.size[ic], 2, "size of c.bin");
	tap_int(s.mtime[ic],
	        (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
	        "mtime of c.bin in ns");
	tap_int(s.depth[ia], 1, "a.png is at depth 1");
	tap_int(s.depth[ic], 3, "c.bin is at depth 3");
	tap_int(s.depth[ib], 2, "b.txt is at depth 2");
	seen_free(&s);

	/* A root with a trailing slash is joined without doubling it. */
	char slashed[80];
	snprintf(slashed, sizeof slashed, "%s/sub/", root);
	const char *r2[] = { slashed };
	rc = siam_walk(r2, 1, collect, &s, &err);
	char want[512];
	snprintf(want, sizeof want, "%s/sub/b.txt", root);
	tap_ok(rc == 0 && find(&s, want) >= 0, "trailing slash: %s", want);
	seen_free(&s);

	/* A root that is a file is reported as itself. */
	char a_path[512];
	strcpy(a_path, P("a.png"));
	const char *r3[] = { a_path };
	rc = siam_walk(r3, 1, collect, &s, &err);
	tap_ok(rc == 0 && s.n == 1 && s.kind[0] == SIAM_WALK_FILE &&
	       s.depth[0] == 0 && s.size[0] == 5, "a file as a root");
	seen_free(&s);

	/* The callback can stop the walk. */
	s.stop_after = 2;
	rc = siam_walk(roots, 1, collect, &s, &err);
	tap_int(rc, SIAM_EINTR, "a callback returning non-zero stops it");
	tap_int(s.n, 2, "after exactly two entries");
	seen_free(&s);

	/* Content sniffing. */
	static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
	tap_ok(siam_sniff_image(png, sizeof png - 1), "PNG signature");
	tap_ok(siam_sniff_image("\xff\xd8\xff\xe0", 4), "JPEG signature");
	tap_ok(siam_sniff_image("GIF89a\1\0\1\0", 10), "GIF signature");
	tap_ok(siam_sniff_image("P5\n3 2\n255\n", 11), "PGM (P5)");
	tap_ok(!siam_sniff_image("P1\n3 2\n", 7), "PBM text (P1) is not one "
	       "stb decodes");
	tap_ok(!siam_sniff_image("hello, world\n", 13), "text is not an image");
	tap_ok(!siam_sniff_image("BMW is a car, 12345678901234567890", 34),
	       "text starting with BM is not a BMP");
	unsigned char bmp[54] = { 'B', 'M' };
	bmp[14] = 40; /* BITMAPINFOHEADER */
	tap_ok(siam_sniff_image(bmp, sizeof bmp), "BMP with a DIB header");
	unsigned char tga[18] = { 0 };
	tga[2] = 2;               /* uncompressed true colour */
	tga[12] = 4; tga[14] = 3; /* 4 x 3 */
	tga[16] = 24;             /* bits per pixel */
	tap_ok(siam_sniff_image(tga, sizeof tga), "TGA header (no magic)");
	tap_ok(!siam_sniff_image("", 0), "empty is not an image");
	static const unsigned char elf[] = "\x7f" "ELF\2\1\1\0\0\0\0\0\0\0\0\0"
	                                   "\3\0>\0\1\0\0\0";
	tap_ok(!siam_sniff_image(elf, sizeof elf - 1), "an ELF binary is not");

	if (sfd >= 0)
		close(sfd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", root);
	return tap_done();
}
