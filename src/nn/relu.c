/*
 * relu.c -- the rectifier.  Backward reads the forward's output as its
 * mask (out > 0 exactly where inp > 0), so no separate mask is kept.
 *
 * The loops run over chunks of 16 with a fixed trip count and restrict
 * pointers: that is what GCC vectorises at -O2 (into compare-and-mask,
 * no branches; a branch per element mispredicts half the time on
 * random signs and was measured 5x slower).
 */
#include "internal.h"

void siam_relu_forward(float *restrict out, const float *restrict inp,
                       size_t n)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		for (int j = 0; j < 16; j++) {
			float x = inp[i + j];
			out[i + j] = x > 0.0f ? x : 0.0f;
		}
	for (; i < n; i++) {
		float x = inp[i];
		out[i] = x > 0.0f ? x : 0.0f;
	}
}

void siam_relu_backward(float *restrict dinp, const float *restrict dout,
                        const float *restrict out, size_t n)
{
	size_t i = 0;
	for (; i + 16 <= n; i += 16)
		for (int j = 0; j < 16; j++) {
			float d = dout[i + j], o = out[i + j];
			float g = o > 0.0f ? d : 0.0f;
			dinp[i + j] = dinp[i + j] + g;
		}
	for (; i < n; i++) {
		float g = out[i] > 0.0f ? dout[i] : 0.0f;
		dinp[i] = dinp[i] + g;
	}
}
