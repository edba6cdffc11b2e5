/*
 * dedup_group.h -- siam dedup's grouping (dedup_group.c): from images
 * and the pairs that link them to groups, each with one keeper.  No I/O,
 * no database: tests/test_dedup.c drives it directly.
 */
#ifndef SIAM_DEDUP_GROUP_H
#define SIAM_DEDUP_GROUP_H

#include <stddef.h>
#include <stdint.h>

/* How a pair was found (bits).  DD_CROP: one picture is a crop of the
 * other (siam_crop_check). */
enum { DD_IDENTICAL = 1, DD_PHASH = 2, DD_CNN = 4, DD_CROP = 8 };

/* The side of the grey pictures the index keeps (images.gray32). */
#define DD_GRAY_N 32

/* The keeper rules of --keep. */
enum { DD_KEEP_LARGEST, DD_KEEP_OLDEST, DD_KEEP_NEWEST, DD_KEEP_SHORTEST };

typedef struct dd_image {
	const char *path;        /* not owned */
	char hash[65];           /* SHA-256 hex, "" if unknown */
	int64_t size, mtime_ns;  /* bytes; ns since 1970 (INT64_MIN: unknown) */
	int width, height;       /* 0: unknown */
	int reference;           /* under --reference: always a keeper */
	int has_phash;
	uint64_t phash;          /* 64-bit perceptual hash if has_phash */
	int has_gray;
	unsigned char gray32[DD_GRAY_N * DD_GRAY_N]; /* if has_gray */
	/* Set by dd_group: */
	int group;               /* group number from 0, or -1 */
	int keeper;              /* 1 for the group's keeper */
	int method;              /* member: DD_* it was linked by */
	double distance;         /* member: cnn distance (cnn, crop), phash
	                          * bits, 0 (identical) */
} dd_image;

/* A pair of images (indices a != b) and what linked them; several
 * edges on one pair are merged. */
typedef struct dd_edge {
	int a, b;
	int methods;  /* DD_* bits */
	double cnn;   /* cnn distance if DD_CNN or DD_CROP */
	int bits;     /* phash Hamming distance if DD_PHASH */
} dd_edge;

/*
 * Groups n images, linked by ne edges (the array is sorted in place).
 * Linkage "star around the keeper": images are visited from the best
 * keeper to the worst by the rule keep (references first, ties broken
 * by path bytes, so file order never matters); an image not yet in a
 * group becomes a keeper and takes every image linked to it directly
 * that is not yet in a group and not a reference.  So every member is
 * within the threshold of its keeper, and a chain A-B-C with A-C over
 * the threshold never ends up in one group.  Groups of fewer than
 * min_group images are dropped (their images stay ungrouped).  Groups
 * are numbered in keeper order.  Returns the number of groups, or -1 if
 * out of memory.
 */
int dd_group(dd_image *im, int n, dd_edge *e, size_t ne, int keep,
             int min_group);

/* The grouped images in print order -- by group, the keeper first, then
 * by path -- into ord (room for n); returns how many, or -1 if out of
 * memory. */
int dd_order(const dd_image *im, int n, int *ord);

/*
 * phash pairs (dedup_phash.c): every pair a < b of the images that have
 * a perceptual hash, whose hashes differ in at most maxbits bits,
 * appended to *e (*ne edges, room for *cap; grown by realloc, free it
 * anyway) as DD_PHASH edges with their bit counts, in (a, b) order.
 * Returns 0, or -1 if out of memory.  dd_phash_pairs uses a multi-index
 * of four 16-bit bands (exact: see dedup_phash.c) or, where that would
 * cost more, the brute force; _mih always the index, _ref always the
 * brute force (for the tests).
 */
int dd_phash_pairs(const dd_image *im, int n, int maxbits, dd_edge **e,
                   size_t *ne, size_t *cap);
int dd_phash_pairs_mih(const dd_image *im, int n, int maxbits, dd_edge **e,
                       size_t *ne, size_t *cap);
int dd_phash_pairs_ref(const dd_image *im, int n, int maxbits, dd_edge **e,
                       size_t *ne, size_t *cap);

/* The name of a method bit: "identical", "phash", "cnn", "crop". */
const char *dd_method_name(int method);

#endif
