/*
 * adam.c -- Adam with bias correction and decoupled weight decay
 * (Loshchilov and Hutter's AdamW), one flat loop over the one parameter
 * block: params, grads, m and v share a layout, so no layer is special.
 * Weight decay therefore also touches biases; it is 0 by default.
 */
#include "internal.h"
#include "siam_nn.h"

#include "nn.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void siam_adam_defaults(siam_adam *opt, float lr)
{
	opt->lr = lr;
	opt->beta1 = 0.9f;
	opt->beta2 = 0.999f;
	opt->eps = 1e-8f;
	opt->weight_decay = 0.0f;
	opt->t = 0;
}

/* The constants of step t (already counted). */
typedef struct adam_k {
	float b1, b2, nb1, nb2, lr, eps, c1, c2, decay;
} adam_k;

static adam_k adam_constants(const siam_adam *opt)
{
	adam_k k = { .b1 = opt->beta1, .b2 = opt->beta2, .lr = opt->lr,
	             .eps = opt->eps };
	k.nb1 = 1.0f - k.b1;
	k.nb2 = 1.0f - k.b2;
	/* bias corrections folded into the step size, as in Kingma & Ba */
	k.c1 = (float)(1.0 / (1.0 - pow(k.b1, (double)opt->t)));
	k.c2 = (float)(1.0 / (1.0 - pow(k.b2, (double)opt->t)));
	k.decay = 1.0f - k.lr * opt->weight_decay;
	return k;
}

/* Elements [i, n) one at a time: the definition. */
static void adam_scalar(const adam_k *k, float *params, const float *grads,
                        float *m, float *v, size_t i, size_t n)
{
	for (; i < n; i++) {
		float g = grads[i];
		float mi = k->b1 * m[i] + k->nb1 * g;
		float vi = k->b2 * v[i] + k->nb2 * g * g;
		m[i] = mi;
		v[i] = vi;
		params[i] = params[i] * k->decay -
		            k->lr * (mi * k->c1) / (sqrtf(vi * k->c2) + k->eps);
	}
}

void nn_adam_step_ref(siam_adam *opt, float *params, const float *grads,
                      float *m, float *v, size_t n)
{
	opt->t++;
	adam_k k = adam_constants(opt);
	adam_scalar(&k, params, grads, m, v, 0, n);
}

void siam_adam_step(siam_adam *opt, float *params, const float *grads,
                    float *m, float *v, size_t n)
{
	opt->t++;
	adam_k k = adam_constants(opt);
	size_t i = 0;
#ifdef __SSE2__
	/* Four at a time, with the very operations of adam_scalar in the
	 * same order (IEEE multiply, add, divide and square root, no fused
	 * multiply-add), so the same bits.  GCC leaves the loop scalar by
	 * itself, because sqrtf may set errno, and at batches of a few
	 * images this loop over every parameter is a third of a step. */
	const __m128 b1 = _mm_set1_ps(k.b1), b2 = _mm_set1_ps(k.b2);
	const __m128 nb1 = _mm_set1_ps(k.nb1), nb2 = _mm_set1_ps(k.nb2);
	const __m128 lr = _mm_set1_ps(k.lr), eps = _mm_set1_ps(k.eps);
	const __m128 c1 = _mm_set1_ps(k.c1), c2 = _mm_set1_ps(k.c2);
	const __m128 decay = _mm_set1_ps(k.decay);
	for (; i + 4 <= n; i += 4) {
		__m128 g = _mm_loadu_ps(grads + i);
		__m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + i)),
		                       _mm_mul_ps(nb1, g));
		__m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + i)),
		                       _mm_mul_ps(_mm_mul_ps(nb2, g), g));
		_mm_storeu_ps(m + i, mi);
		_mm_storeu_ps(v + i, vi);
		__m128 num = _mm_mul_ps(lr, _mm_mul_ps(mi, c1));
		__m128 den = _mm_add_ps(_mm_sqrt_ps(_mm_mul_ps(vi, c2)), eps);
		__m128 p = _mm_mul_ps(_mm_loadu_ps(params + i), decay);
		_mm_storeu_ps(params + i, _mm_sub_ps(p, _mm_div_ps(num, den)));
	}
#endif
	adam_scalar(&k, params, grads, m, v, i, n);
}
