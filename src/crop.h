/*
 * crop.h -- is one 32x32 grey picture (images.gray32) a crop of the
 * other? (src/crop.c)  The verdict siam dedup's crop check asks for
 * each candidate pair, through siam_crop_check on siam's thread pool.
 * No I/O, no database: tests/test_dedup.c drives the scores directly.
 * Private to libsiam and the tests.
 */
#ifndef SIAM_CROP_H
#define SIAM_CROP_H

#include "internal.h"

/* The side of the pictures (images.gray32: CROP_N * CROP_N bytes). */
#define CROP_N 32

/* The verdict's constants, chosen on the near-duplicate benchmark's
 * TUNING split (bench/neardup.sh; models/README.md has the figures).
 * A pair whose score is at least CROP_MIN_SCORE is a crop: in the
 * prototype (Pillow's grey pictures) every value from 0.92 to 0.94 gave
 * the same pairs on TUNING-B with four held-out models, 0.90 linked
 * different photographs and 0.96 lost crops; with the index's pictures
 * 0.92 finds one crop more on TUNING-B and on TUNING, but the best score
 * of two different photographs among each other's 12 nearest on TUNING
 * (7,226 pairs) is 0.916, so 0.93 keeps the margin.  Scales down to
 * CROP_MIN_SIDE / 32 a side: the smallest crop it finds keeps 70% of
 * each side (49% of the picture). */
#define CROP_MIN_SCORE 0.93
#define CROP_MIN_SIDE 23
/* The fine search (crop_score_fine) for scores from CROP_FINE_FROM up
 * to CROP_MIN_SCORE; at least CROP_FINE_MIN is a crop.  Chosen on
 * TUNING: of the 143 candidate pairs whose whole-pixel score is from
 * 0.80 to 0.93, the 9 pairs of one photograph's copies scored 0.915 to
 * 0.977 finely (7 of them 0.94 or more; their whole-pixel scores from
 * 0.873), the 134 pairs of different photographs at most 0.926 (copies
 * of two near-identical pictures), so 0.94 keeps a margin as 0.93 does
 * above; off-centre crops found on TUNING 0.88 -> 0.93, on TUNING-B
 * 0.95 -> 1.00, no pair of different photographs more. */
#define CROP_FINE_FROM 0.85
#define CROP_FINE_MIN 0.94

/* The crop score of two CROP_N x CROP_N grey pictures: the best
 * normalised cross-correlation of either one, scaled down, with a
 * window of the other (in [-1, 1]; -1 when neither has texture).
 * Symmetric.  _ref: every window from scratch in double (the tests). */
SIAM_HIDDEN double crop_score(const unsigned char *a, const unsigned char *b);
SIAM_HIDDEN double crop_score_ref(const unsigned char *a,
                                  const unsigned char *b);

/* The same question asked more finely, for the pairs crop_score leaves
 * in doubt (CROP_FINE_FROM <= score < CROP_MIN_SCORE): the window's side
 * and place in half pixels (22.5 to 32), sampled bilinearly, against the
 * other picture shrunk to 24 x 24.  About 30 times the cost of
 * crop_score.  Symmetric; -1 when neither has texture. */
SIAM_HIDDEN double crop_score_fine(const unsigned char *a,
                                   const unsigned char *b);

/* The verdict: crop_score at least CROP_MIN_SCORE, or, for a score in
 * doubt, crop_score_fine at least CROP_FINE_MIN.  1 or 0. */
SIAM_HIDDEN int crop_is_crop(const unsigned char *a, const unsigned char *b);

/* The look check: the better of crop_score(a, b) and crop_score of a
 * with b's mirror image.  crop_looks_alike: at least CROP_LOOK_MIN, or
 * -1 (a picture without texture: nothing to judge, so alike).  Chosen
 * on the near-duplicate benchmark's TUNING split with the photo model:
 * among its cnn pairs within 0.5, copies farther apart than 0.2 (half
 * the threshold, DD_LOOK_FREE) scored 0.763 and up; its 21 false pairs
 * within 0.4 scored 0.575-0.646 (11), 0.737-0.738 (2) or 0.908 and up
 * (near-identical pictures, such as one drawing in two colours); every
 * bar from 0.65 to 0.75 gave the same groups at 0.4, 0.70 is their
 * middle. */
#define CROP_LOOK_MIN 0.70
SIAM_HIDDEN double crop_look_score(const unsigned char *a,
                                   const unsigned char *b);
SIAM_HIDDEN int crop_looks_alike(const unsigned char *a,
                                 const unsigned char *b);

#endif
