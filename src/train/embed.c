/*
 * embed.c -- a data set's items through a network, in batches: the
 * embeddings validation measures every epoch and `siam eval` measures
 * with the metrics beside it (metrics.c).
 */
#include "internal.h"
#include "siam_nn.h"

int siam_embed_data(siam_net *net, const siam_data *d, const int *items,
                    int n, int views, float *out, siam_error *err)
{
	enum { B = 256 };
	size_t in = siam_net_input_size(net);
	int D = siam_net_embed_dim(net);
	if (in != (size_t)d->c * d->h * d->w)
		return siam_errorf(err, SIAM_EINVAL,
		                   "%s: items are %dx%dx%d but the network "
		                   "takes %dx%dx%d", d->source, d->c, d->h, d->w,
		                   siam_net_input_c(net), siam_net_input_h(net),
		                   siam_net_input_w(net));
	float *buf = siam_xmalloc_n((size_t)B * in, sizeof(float));
	if (!buf)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	int rc = 0;
	for (int i0 = 0; i0 < n && !rc; i0 += B) {
		int b = SIAM_MIN(B, n - i0);
		for (int i = 0; i < b && !rc; i++)
			rc = d->load(d, items ? items[i0 + i] : i0 + i,
			             buf + (size_t)i * in, err);
		if (!rc)
			rc = siam_net_embed_views(net, buf, b, views,
			                          out + (size_t)i0 * D, err);
	}
	free(buf);
	return rc;
}
