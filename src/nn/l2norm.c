/*
 * l2norm.c -- scale each embedding to unit length, so that distances
 * live in [0, 2] and a margin means the same thing for every model.
 */
#include "internal.h"

#include <math.h>

void siam_l2norm_forward(float *out, float *norm, const float *inp, int B,
                         int D)
{
	// inp, out are (B,D); norm is (B)
	for (int i = 0; i < B; i++) {
		const float *x = inp + (size_t)i * D;
		float *o = out + (size_t)i * D;
		double s = 0.0;
		for (int j = 0; j < D; j++)
			s += (double)x[j] * x[j];
		/* the floor keeps a zero vector from dividing by zero */
		float n = (float)sqrt(s);
		if (n < 1e-12f)
			n = 1e-12f;
		norm[i] = n;
		for (int j = 0; j < D; j++)
			o[j] = x[j] / n;
	}
}

void siam_l2norm_backward(float *dinp, const float *dout, const float *out,
                          const float *norm, int B, int D)
{
	// d(x/|x|)/dx = (I - o o^T) / |x|, so dinp += (dout - o (o.dout)) / n
	for (int i = 0; i < B; i++) {
		const float *o = out + (size_t)i * D;
		const float *d = dout + (size_t)i * D;
		float *dx = dinp + (size_t)i * D;
		double dot = 0.0;
		for (int j = 0; j < D; j++)
			dot += (double)o[j] * d[j];
		float inv = 1.0f / norm[i];
		for (int j = 0; j < D; j++)
			dx[j] += (d[j] - o[j] * (float)dot) * inv;
	}
}
