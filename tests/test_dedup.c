/*
 * test_dedup.c -- siam dedup's linkage and keeper rule (dedup_group.c):
 * a chain A-B-C with A-C over the threshold never makes one group, the
 * result does not depend on the order of the files, each --keep rule
 * picks its keeper, references stay keepers, --min-group drops.
 */
#include "cli/dedup_group.h"

#include "tap.h"

#include <string.h>

static void img(dd_image *im, const char *path, int w, int h, int64_t size,
                int64_t mtime, const char *hash)
{
	memset(im, 0, sizeof *im);
	im->path = path;
	im->width = w;
	im->height = h;
	im->size = size;
	im->mtime_ns = mtime;
	snprintf(im->hash, sizeof im->hash, "%s", hash);
}

/* The groups as text, "keeper<member,member|keeper<member", members in
 * input order: comparable across permutations once sorted by path. */
static void groups_text(char *out, size_t len, const dd_image *im, int n,
                        int ngroups)
{
	out[0] = 0;
	for (int g = 0; g < ngroups; g++) {
		for (int i = 0; i < n; i++)
			if (im[i].group == g && im[i].keeper)
				snprintf(out + strlen(out), len - strlen(out),
				         "%s%s<", g ? "|" : "", im[i].path);
		/* members by path */
		const char *last = "";
		for (;;) {
			const char *best = NULL;
			for (int i = 0; i < n; i++)
				if (im[i].group == g && !im[i].keeper &&
				    strcmp(im[i].path, last) > 0 &&
				    (!best || strcmp(im[i].path, best) < 0))
					best = im[i].path;
			if (!best)
				break;
			snprintf(out + strlen(out), len - strlen(out), "%s%s",
			         *last ? "," : "", best);
			last = best;
		}
	}
}

int main(void)
{
	char got[256];
	dd_image im[4];
	/* the chain: A-B 0.4, B-C 0.4, A-C over the threshold (no edge);
	 * B is the largest */
	const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
	                         {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	const char *names[3] = {"A", "B", "C"};
	const int sizes[3] = {10, 30, 20};
	for (int keepb = 0; keepb < 2; keepb++) {
		const char *want = keepb ? "B<A,C" : "C<B";
		int same = 1;
		for (int p = 0; p < 6; p++) {
			int pos[3];
			for (int i = 0; i < 3; i++) {
				int k = perms[p][i];
				pos[k] = i;
				/* keepb: B largest; else C largest, A next */
				int px = keepb ? sizes[k] :
				         (int[]){20, 10, 30}[k];
				img(&im[i], names[k], px, 1, 100, 0, names[k]);
			}
			dd_edge e[2] = {
				{pos[0], pos[1], DD_CNN, 0.4, 0},
				{pos[2], pos[1], DD_CNN, 0.4, 0},
			};
			int ng = dd_group(im, 3, e, 2, DD_KEEP_LARGEST, 2);
			groups_text(got, sizeof got, im, 3, ng);
			if (strcmp(got, want)) {
				same = 0;
				tap_diag("order %d%d%d: got %s", perms[p][0],
				         perms[p][1], perms[p][2], got);
			}
		}
		tap_ok(same, "chain A-B-C (A-C over the threshold), %s: %s in "
		       "all 6 file orders", keepb ? "B largest" :
		       "C largest", want);
	}
	/* keeper rules on one group of three, all linked */
	static const struct { int rule; const char *want; } rules[] = {
		{DD_KEEP_LARGEST, "big.png<a/old.png,newer.png"},
		{DD_KEEP_OLDEST, "a/old.png<big.png,newer.png"},
		{DD_KEEP_NEWEST, "newer.png<a/old.png,big.png"},
		{DD_KEEP_SHORTEST, "big.png<a/old.png,newer.png"},
	};
	for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
		img(&im[0], "a/old.png", 10, 10, 500, 1, "h1");
		img(&im[1], "newer.png", 10, 10, 900, 3, "h2");
		img(&im[2], "big.png", 20, 10, 100, 2, "h3");
		dd_edge e[3] = {{0, 1, DD_CNN, 0.1, 0}, {1, 2, DD_CNN, 0.2, 0},
		                {0, 2, DD_PHASH, 0, 4}};
		int ng = dd_group(im, 3, e, 3, rules[r].rule, 2);
		groups_text(got, sizeof got, im, 3, ng);
		if (!tap_ok(!strcmp(got, rules[r].want), "--keep rule %d: %s",
		            rules[r].rule, rules[r].want))
			tap_diag("got %s", got);
	}
	/* largest: same pixels, more bytes wins; methods and distances */
	img(&im[0], "x.jpg", 10, 10, 500, 0, "same");
	img(&im[1], "y.jpg", 10, 10, 900, 0, "other");
	img(&im[2], "z.jpg", 10, 10, 500, 0, "same");
	{
		dd_edge e[4] = {{0, 2, DD_IDENTICAL, 0, 0},
		                {0, 1, DD_CNN, 0.25, 0},
		                {1, 2, DD_CNN, 0.25, 0},
		                {2, 0, DD_CNN, 0, 0}};
		int ng = dd_group(im, 3, e, 4, DD_KEEP_LARGEST, 2);
		groups_text(got, sizeof got, im, 3, ng);
		tap_ok(!strcmp(got, "y.jpg<x.jpg,z.jpg"),
		       "same pixels: more bytes keeps (%s)", got);
		tap_ok(im[0].method == DD_CNN && im[0].distance == 0.25,
		       "a member's method and distance to the keeper");
		ng = dd_group(im, 3, e, 4, DD_KEEP_SHORTEST, 2);
		tap_ok(ng == 1 && im[0].keeper && im[2].method == DD_IDENTICAL &&
		       im[2].distance == 0,
		       "an identical copy of the keeper is labelled identical");
	}
	/* a reference is a keeper, even against a larger file, and never
	 * a member */
	img(&im[0], "ref/a.png", 1, 1, 1, 0, "r");
	im[0].reference = 1;
	img(&im[1], "big.png", 99, 99, 1, 0, "b");
	img(&im[2], "ref/b.png", 1, 1, 1, 0, "r2");
	im[2].reference = 1;
	{
		dd_edge e[3] = {{0, 1, DD_CNN, 0.1, 0}, {1, 2, DD_CNN, 0.1, 0},
		                {0, 2, DD_CNN, 0.1, 0}};
		int ng = dd_group(im, 3, e, 3, DD_KEEP_LARGEST, 2);
		groups_text(got, sizeof got, im, 3, ng);
		tap_ok(!strcmp(got, "ref/a.png<big.png"),
		       "references: keepers, never members (%s)", got);
	}
	/* --min-group 3 drops a pair */
	img(&im[0], "p", 1, 1, 1, 0, "1");
	img(&im[1], "q", 1, 1, 1, 0, "2");
	img(&im[2], "r", 1, 1, 1, 0, "3");
	{
		dd_edge e[1] = {{0, 1, DD_CNN, 0.1, 0}};
		tap_int(dd_group(im, 3, e, 1, DD_KEEP_LARGEST, 3), 0,
		        "--min-group 3: a pair is no group");
		tap_ok(im[0].group < 0 && im[1].group < 0,
		       "and its files are ungrouped");
	}
	return tap_done();
}
