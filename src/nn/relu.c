/*
 * relu.c -- the rectifier.  Backward reads the forward's output as its
 * mask (out > 0 exactly where inp > 0), so no separate mask is kept.
 */
#include "internal.h"

void siam_relu_forward(float *out, const float *inp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void siam_relu_backward(float *dinp, const float *dout, const float *out,
                        size_t n)
{
	for (size_t i = 0; i < n; i++)
		dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}
