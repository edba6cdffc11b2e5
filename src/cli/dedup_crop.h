/*
 * dedup_crop.h -- siam dedup's crop check (dedup_crop.c): whether one
 * 32x32 grey picture (images.gray32) is a crop of the other.  No I/O, no
 * database: tests/test_dedup.c drives it directly.
 */
#ifndef SIAM_DEDUP_CROP_H
#define SIAM_DEDUP_CROP_H

#include "dedup_group.h"

/* The constants of the check, chosen on the near-duplicate benchmark's
 * TUNING-B split only (bench/neardup.sh; models/README.md has the
 * figures): each image's DD_CROP_K nearest images within DD_CROP_MAXDIST
 * are checked (5 and 8 nearest, 1.0 and 1.3 gave the same pairs there),
 * and a pair whose score is at least DD_CROP_MIN_SCORE is a crop: every
 * value from 0.92 to 0.94 gave the same pairs on the four held-out
 * models, 0.90 linked different photographs and 0.96 lost crops; 0.93
 * is the middle.  Scales down to DD_CROP_MIN_SIDE / 32 a side: the
 * smallest crop it finds keeps 70% of each side (49% of the picture). */
#define DD_CROP_K 5
#define DD_CROP_MAXDIST 1.0
#define DD_CROP_MIN_SCORE 0.93
#define DD_CROP_MIN_SIDE 23

/* The crop score of two DD_GRAY_N x DD_GRAY_N grey pictures: the best
 * normalised cross-correlation of either one, scaled down, with a
 * window of the other (in [-1, 1]; -1 when neither has texture).
 * Symmetric.  _ref: every window from scratch in double (the tests). */
double dd_crop_score(const unsigned char *a, const unsigned char *b);
double dd_crop_score_ref(const unsigned char *a, const unsigned char *b);

#endif
