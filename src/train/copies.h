/*
 * copies.h -- copies already in an unlabelled training folder
 * (copies.c); private to libsiam.
 */
#ifndef SIAM_TRAIN_COPIES_H
#define SIAM_TRAIN_COPIES_H

#include "internal.h"
#include "siam_nn.h"

/* Sets group[i] (d->n entries) to the item that leads i's group of
 * copies: the first earlier leader whose input is identical to i's or,
 * when maxbits >= 0, whose perceptual hash differs from i's in at most
 * maxbits bits; i itself if none.  *nmerged is the count of items put
 * in an earlier item's group.  Loads every item once.  Errors: those
 * of d->load, SIAM_ENOMEM. */
SIAM_HIDDEN int train_copy_groups(const siam_data *d, int maxbits,
                                  int *group, int *nmerged,
                                  siam_error *err);

#endif
