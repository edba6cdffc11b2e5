/*
 * adam.c -- Adam with bias correction and decoupled weight decay
 * (Loshchilov and Hutter's AdamW), one flat loop over the one parameter
 * block: params, grads, m and v share a layout, so no layer is special.
 * Weight decay therefore also touches biases; it is 0 by default.
 */
#include "internal.h"
#include "siam_nn.h"

#include <math.h>

void siam_adam_defaults(siam_adam *opt, float lr)
{
	opt->lr = lr;
	opt->beta1 = 0.9f;
	opt->beta2 = 0.999f;
	opt->eps = 1e-8f;
	opt->weight_decay = 0.0f;
	opt->t = 0;
}

void siam_adam_step(siam_adam *opt, float *params, const float *grads,
                    float *m, float *v, size_t n)
{
	opt->t++;
	float b1 = opt->beta1, b2 = opt->beta2, lr = opt->lr, eps = opt->eps;
	/* bias corrections folded into the step size, as in Kingma & Ba */
	float c1 = (float)(1.0 / (1.0 - pow(b1, (double)opt->t)));
	float c2 = (float)(1.0 / (1.0 - pow(b2, (double)opt->t)));
	float decay = 1.0f - lr * opt->weight_decay;
	for (size_t i = 0; i < n; i++) {
		float g = grads[i];
		float mi = b1 * m[i] + (1.0f - b1) * g;
		float vi = b2 * v[i] + (1.0f - b2) * g * g;
		m[i] = mi;
		v[i] = vi;
		params[i] = params[i] * decay -
		            lr * (mi * c1) / (sqrtf(vi * c2) + eps);
	}
}
