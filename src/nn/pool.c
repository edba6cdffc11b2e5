/*
 * pool.c -- max-pooling P x P with stride P; odd edges are dropped
 * (floor), as in the usual frameworks.
 */
#include "nn.h"

void siam_maxpool_forward(float *out, int *argmax, const float *inp, int B,
                          int C, int H, int W, int P)
{
	// inp is (B,C,H,W), out and argmax are (B,C,H/P,W/P); argmax is
	// the winner's index inside its own (H,W) plane, so it never
	// overflows an int however large the batch.
	int OH = H / P, OW = W / P;
	for (size_t plane = 0; plane < (size_t)B * C; plane++) {
		const float *x = inp + plane * H * W;
		float *o = out + plane * OH * OW;
		int *am = argmax + plane * OH * OW;
		if (P == 2) {
			for (int oh = 0; oh < OH; oh++)
				nn_pool2_row(o + oh * OW, am + oh * OW,
				             x + (size_t)2 * oh * W,
				             x + (size_t)(2 * oh + 1) * W, OW, W,
				             2 * oh * W, 0.0f, 0);
			continue;
		}
		for (int oh = 0; oh < OH; oh++)
			for (int ow = 0; ow < OW; ow++) {
				int best = oh * P * W + ow * P;
				float bv = x[best];
				for (int i = 0; i < P; i++)
					for (int j = 0; j < P; j++) {
						int idx = (oh * P + i) * W + ow * P + j;
						if (x[idx] > bv) {
							bv = x[idx];
							best = idx;
						}
					}
				o[oh * OW + ow] = bv;
				am[oh * OW + ow] = best;
			}
	}
}

void siam_maxpool_backward(float *dinp, const float *dout, const int *argmax,
                           int B, int C, int H, int W, int P)
{
	int OH = H / P, OW = W / P;
	for (size_t plane = 0; plane < (size_t)B * C; plane++) {
		float *dx = dinp + plane * H * W;
		const float *d = dout + plane * OH * OW;
		const int *am = argmax + plane * OH * OW;
		for (int i = 0; i < OH * OW; i++)
			dx[am[i]] += d[i];
	}
}
