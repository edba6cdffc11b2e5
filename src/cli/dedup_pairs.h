/*
 * dedup_pairs.h -- the pairs that siam dedup and siam serve's Duplicates
 * page group (dedup_pairs.c): identical bytes, the model's distance
 * from the database, and crops among the nearest, as dd_edge lists for
 * dd_group (dedup_group.h).
 */
#ifndef SIAM_DEDUP_PAIRS_H
#define SIAM_DEDUP_PAIRS_H

#include "siam.h"
#include "dedup_group.h"

struct sqlite3;

/* The phash bits of the default method (all: identical bytes, cnn
 * distance, or phash within this many bits), which siam serve's
 * Duplicates page shows too.  6 is the most at which phash linked no
 * two different photographs of the near-duplicate benchmark's TUNING
 * split (8 linked three pairs); what the default method needs from
 * phash is the grey copies, which it finds at 0-2 bits (it hashes
 * luminance) and the photo model misses on photographs it was not
 * trained on (bench/neardup.sh; models/README.md).  Alone, --method
 * phash takes 10, its own best F1 there. */
#define DD_ALL_PHASH_BITS 6

/* The near-duplicate threshold a model stores ("near_threshold" in its
 * metadata JSON, written by calibration on edited copies), else its
 * match threshold; *near (may be NULL) says which: 1 the former. */
double dd_model_threshold(const siam_model *m, int *near);

/* *im filled from a database row (siam_db_list_images): hash, size,
 * times, dimensions, perceptual hash; path (not owned) given by the
 * caller, the rest zero. */
void dd_image_of_row(dd_image *im, const siam_db_image_row *r,
                     const char *path);

/* Every pair a < b (indices) of images whose SHA-256 is known and equal,
 * appended to *e (*ne edges, room for *cap; grown by realloc, free it
 * anyway) as DD_IDENTICAL edges.  Thread-safe.  0, or -1 if out of
 * memory. */
int dd_identical_pairs(const dd_image *im, int n, dd_edge **e, size_t *ne,
                       size_t *cap);

/* The pairs p (image ids a < b, as siam_db_pairs gives them) between
 * the n images whose database ids are ids[] (ascending), appended to *e
 * as DD_CNN edges with their distances; pairs with an image not in
 * ids[] are left out.  0, or -1 if out of memory. */
int dd_pair_edges(const siam_db_pair *p, size_t np, const int64_t *ids,
                  int n, dd_edge **e, size_t *ne, size_t *cap);

/* The pairs of model_id within distance t (siam_db_pairs) between the
 * n images whose database ids are ids[] (ascending), appended to *e as
 * DD_CNN edges with their distances; pairs with an image not in ids[]
 * are left out.  0, or a SIAM_* code with err filled. */
int dd_cnn_pairs(struct sqlite3 *db, int64_t model_id, double t,
                 const int64_t *ids, int n, dd_edge **e, size_t *ne,
                 size_t *cap, siam_error *err);

/* The candidates of the crop check, chosen on the near-duplicate
 * benchmark's TUNING split (bench/neardup.sh; models/README.md has the
 * figures): each image's DD_CROP_K nearest images within
 * DD_CROP_MAXDIST (on TUNING-B 5, 8 and 12 nearest, 1.0 and 1.3, gave
 * the same pairs with each of four held-out models; on all of TUNING
 * with the shipped model 12 found 0.88 of the off-centre crops, 8 0.86,
 * 5 0.84, at the same precision: an original is sometimes the 6th to
 * 12th nearest of its crop). */
#define DD_CROP_K 12
#define DD_CROP_MAXDIST 1.0

/* The crop pairs: among the DD_CROP_K nearest images of each of the n
 * images whose database ids are ids[] (ascending), within
 * DD_CROP_MAXDIST (siam_db_neighbours), the pairs farther apart than t
 * (nearer ones are cnn pairs already) whose grey pictures are a crop
 * of one another (siam_crop_check), appended to *e as DD_CROP edges
 * with their cnn distances.  Images without a grey picture are not
 * checked.  *nchecked (may be NULL) gets how many pairs were checked.
 * 0, or a SIAM_* code with err filled. */
int dd_crop_pairs(struct sqlite3 *db, int64_t model_id, double t,
                  const dd_image *im, const int64_t *ids, int n,
                  dd_edge **e, size_t *ne, size_t *cap, size_t *nchecked,
                  siam_error *err);

/* The look check of the default method (all): a cnn pair farther
 * apart than DD_LOOK_FREE times the threshold must also look alike in
 * its grey pictures (siam_look_check).  Within it the model is trusted
 * alone: pairs that close were copies on the benchmark's TUNING split,
 * some of them not alike in grey (a watermark on a flat background
 * scored 0.68); every fraction from 0.25 to 0.75 of the threshold gave
 * the same groups there, and 0 lost that copy (models/README.md). */
#define DD_LOOK_FREE 0.5

/* The cnn edges of e[0..*ne) (DD_CNN alone; other methods' edges are
 * left as they are) between images with grey pictures and farther
 * apart than DD_LOOK_FREE * t are looked at (siam_look_check); those
 * that do not look alike are removed, the rest keep their order.
 * *nlooked and *nunlike (may be NULL) get the counts.  0, or -1 if out
 * of memory (e unchanged). */
int dd_look_pairs(const dd_image *im, double t, dd_edge *e, size_t *ne,
                  size_t *nlooked, size_t *nunlike);

#endif
