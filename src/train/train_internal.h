/*
 * train_internal.h -- helpers shared by the files of src/train/.
 */
#ifndef SIAM_TRAIN_INTERNAL_H
#define SIAM_TRAIN_INTERNAL_H

#include "internal.h"
#include "siam_nn.h"

/* A seed for one purpose of one run: the run's seed hashed with a tag
 * and two counters (epoch, step), so that every random stream can be
 * rebuilt from its position alone.  That is what lets an interrupted
 * run resume to exactly the model an uninterrupted one would make. */
static inline uint64_t siam_train_seed(uint64_t seed, uint64_t tag,
                                       uint64_t a, uint64_t b)
{
	uint64_t x = seed ^ (tag * 0x9e3779b97f4a7c15ULL);
	uint64_t parts[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		x += 0x9e3779b97f4a7c15ULL + parts[i];
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		x ^= x >> 31;
	}
	return x;
}

/* The item of class slot cls (0 <= cls < its class count) at a uniform
 * position; the class count.  For the glyph sampler. */
SIAM_HIDDEN int siam_sampler_item_of(const siam_sampler *s, siam_rng *rng,
                                     int cls);
SIAM_HIDDEN int siam_sampler_num_classes(const siam_sampler *s);

#endif
