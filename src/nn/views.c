/*
 * views.c -- embedding an input as the mean over a few shifted views.
 *
 * A network trained on one set of classes places an image of a class it
 * never saw less steadily than one it knows: moving the same digit by a
 * pixel moves its embedding by more than it should.  Averaging the
 * embeddings of the image and its one-pixel shifts takes out much of
 * that jitter (on digits 5-9 for a model that saw only 0-4: ROC AUC up
 * by about 0.005 and 5-way one-shot accuracy by about 1 point), at the
 * price of one forward pass per view.
 *
 * With SIAM_VIEWS_FLIP each view is also embedded mirrored, and the two
 * embeddings summed: an image and its mirror then get the same
 * embedding whatever the weights learned (a horizontal flip is the edit
 * a photo model found least reliably from augmentation alone).
 */
#include "internal.h"
#include "siam_nn.h"

#include <math.h>

/* The offsets (dx, dy) of views 0..8: the image, then its shifts by one
 * pixel right, left, down, up, then the four diagonal ones. */
static const int view_dx[SIAM_MAX_VIEWS] = { 0, 1, -1, 0, 0, 1, -1, 1, -1 };
static const int view_dy[SIAM_MAX_VIEWS] = { 0, 0, 0, 1, -1, 1, -1, -1, 1 };

int siam_views_count(int views)
{
	return views & ~SIAM_VIEWS_FLIP;
}

int siam_views_valid(int views)
{
	int n = siam_views_count(views);
	return n == 1 || n == 5 || n == 9;
}

void siam_mirror_input(float *dst, const float *src, int c, int h, int w)
{
	for (size_t r = 0; r < (size_t)c * h; r++)
		for (int x = 0; x < w; x++)
			dst[r * w + x] = src[r * w + (w - 1 - x)];
}

void siam_shift_input(float *dst, const float *src, int c, int h, int w,
                      int dx, int dy)
{
	/* dst(y, x) = src(y - dy, x - dx), clamped to the edge: the edge of
	 * a preprocessed image is its background, so clamping extends the
	 * background rather than inventing a value for it. */
	for (int ch = 0; ch < c; ch++) {
		const float *s = src + (size_t)ch * h * w;
		float *d = dst + (size_t)ch * h * w;
		for (int y = 0; y < h; y++) {
			int sy = SIAM_MIN(SIAM_MAX(y - dy, 0), h - 1);
			for (int x = 0; x < w; x++) {
				int sx = SIAM_MIN(SIAM_MAX(x - dx, 0), w - 1);
				d[(size_t)y * w + x] = s[(size_t)sy * w + sx];
			}
		}
	}
}

int siam_net_embed_views(siam_net *net, const float *inp, int B, int views,
                         float *out, siam_error *err)
{
	if (views == 1)
		return siam_net_embed(net, inp, B, out, err);
	if (!siam_views_valid(views))
		return siam_errorf(err, SIAM_EINVAL,
		                   "views must be 1, 5 or 9, not %d",
		                   siam_views_count(views));
	/* nv embeddings an input: view v's plain one at v * nf, its mirror
	 * at v * nf + 1 */
	int nf = views & SIAM_VIEWS_FLIP ? 2 : 1;
	int nview = siam_views_count(views), nv = nview * nf;
	if (B <= 0)
		return siam_errorf(err, SIAM_EINVAL, "batch size must be "
		                   "positive, got %d", B);
	int c = siam_net_input_c(net), h = siam_net_input_h(net),
	    w = siam_net_input_w(net), L = siam_net_num_layers(net);
	size_t in = siam_net_input_size(net);
	size_t D = (size_t)siam_net_embed_dim(net);
	int unit = siam_net_layer(net, L - 1)->kind == SIAM_LAYER_L2NORM;
	/* Inputs in chunks, each chunk's views as one batch: memory stays
	 * bounded and the GEMMs stay large. */
	const int CHUNK = SIAM_MIN(B, 64);
	float *x = siam_xmalloc_n((size_t)CHUNK * nv, in * sizeof(float));
	float *e = siam_xmalloc_n((size_t)CHUNK * nv, D * sizeof(float));
	int rc = 0;
	if (!x || !e) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	for (int s = 0; s < B && !rc; s += CHUNK) {
		int n = SIAM_MIN(CHUNK, B - s);
		for (int v = 0; v < nview; v++)
			for (int i = 0; i < n; i++) {
				float *xv = x + ((size_t)v * nf * n + i) * in;
				siam_shift_input(xv, inp + (size_t)(s + i) * in,
				                 c, h, w, view_dx[v], view_dy[v]);
				if (nf == 2)
					siam_mirror_input(xv + (size_t)n * in,
					                  xv, c, h, w);
			}
		if ((rc = siam_net_embed(net, x, n * nv, e, err)))
			break;
		for (int i = 0; i < n; i++) {
			float *o = out + (size_t)(s + i) * D;
			double norm = 0;
			for (size_t k = 0; k < D; k++) {
				double sum = 0;
				for (int v = 0; v < nv; v++)
					sum += e[((size_t)v * n + i) * D + k];
				o[k] = (float)(sum / nv);
				norm += (double)o[k] * o[k];
			}
			/* The mean of unit vectors is shorter than one: back
			 * onto the sphere the network's distances live on. */
			if (unit && norm > 0)
				for (size_t k = 0; k < D; k++)
					o[k] = (float)(o[k] / sqrt(norm));
		}
	}
done:
	free(x);
	free(e);
	return rc;
}
