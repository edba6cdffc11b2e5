/*
 * dedup_crop.h -- siam dedup's crop check (dedup_crop.c): whether one
 * 32x32 grey picture (images.gray32) is a crop of the other.  No I/O, no
 * database: tests/test_dedup.c drives it directly.
 */
#ifndef SIAM_DEDUP_CROP_H
#define SIAM_DEDUP_CROP_H

#include "dedup_group.h"

/* The constants of the check, chosen on the near-duplicate benchmark's
 * TUNING split (bench/neardup.sh; models/README.md has the figures):
 * each image's DD_CROP_K nearest images within DD_CROP_MAXDIST are
 * checked (on TUNING-B 5, 8 and 12 nearest, 1.0 and 1.3, gave the same
 * pairs with each of four held-out models; on all of TUNING with the
 * shipped model 12 found 0.88 of the off-centre crops, 8 0.86, 5 0.84,
 * at the same precision: an original is sometimes the 6th to 12th
 * nearest of its crop), and a pair whose score is at least
 * DD_CROP_MIN_SCORE is a crop: in the prototype (Pillow's grey
 * pictures) every value from 0.92 to 0.94 gave the same pairs on
 * TUNING-B with the four models, 0.90 linked different photographs and
 * 0.96 lost crops; with the index's pictures 0.92 finds one crop more
 * on TUNING-B and on TUNING, but the best score of two different
 * photographs among the 12 nearest on TUNING (7,226 pairs) is 0.916, so
 * 0.93 keeps the margin.  Scales down to DD_CROP_MIN_SIDE / 32 a side: the
 * smallest crop it finds keeps 70% of each side (49% of the picture). */
#define DD_CROP_K 12
#define DD_CROP_MAXDIST 1.0
#define DD_CROP_MIN_SCORE 0.93
#define DD_CROP_MIN_SIDE 23
/* The fine search (dd_crop_score_fine) for scores from DD_CROP_FINE_FROM
 * up to DD_CROP_MIN_SCORE; at least DD_CROP_FINE_MIN is a crop.  Chosen
 * on TUNING: of the 143 candidate pairs whose whole-pixel score is from
 * 0.80 to 0.93, the 9 pairs of one photograph's copies scored 0.915 to
 * 0.977 finely (7 of them 0.94 or more; their whole-pixel scores from
 * 0.873), the 134 pairs of different photographs at most 0.926 (copies
 * of two near-identical pictures), so 0.94 keeps a margin as 0.93 does
 * above; off-centre crops found on TUNING 0.88 -> 0.93, on TUNING-B
 * 0.95 -> 1.00, no pair of different photographs more. */
#define DD_CROP_FINE_FROM 0.85
#define DD_CROP_FINE_MIN 0.94

/* The crop score of two DD_GRAY_N x DD_GRAY_N grey pictures: the best
 * normalised cross-correlation of either one, scaled down, with a
 * window of the other (in [-1, 1]; -1 when neither has texture).
 * Symmetric.  _ref: every window from scratch in double (the tests). */
double dd_crop_score(const unsigned char *a, const unsigned char *b);
double dd_crop_score_ref(const unsigned char *a, const unsigned char *b);

/* The same question asked more finely, for the pairs dd_crop_score
 * leaves in doubt (DD_CROP_FINE_FROM <= score < DD_CROP_MIN_SCORE): the
 * window's side and place in half pixels (22.5 to 32), sampled
 * bilinearly, against the other picture shrunk to 24 x 24; a pair
 * scoring at least DD_CROP_FINE_MIN is a crop.  About 30 times the cost
 * of dd_crop_score.  Symmetric; -1 when neither has texture. */
double dd_crop_score_fine(const unsigned char *a, const unsigned char *b);

#endif
