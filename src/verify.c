/*
 * verify.c -- what an application does with a model in one call: are
 * these two images the same thing (siam_verify), and how long is an
 * embedding (siam_model_embed_dim).  The verdict is the one `siam
 * verify` gives: both images through the model's own preprocessing and
 * views, the Euclidean distance of the embeddings against the model's
 * calibrated threshold.
 */
#include "internal.h"
#include "siam_nn.h"

#include <stdio.h>
#include <string.h>

int siam_model_embed_dim(const siam_model *m)
{
	return m && m->net ? siam_net_embed_dim(m->net) : 0;
}

/* Loads and embeds one image into out.  Errors name the image: the
 * loader's do already; the network's get the name put in front. */
static int embed(siam_model *m, const char *what, float *out,
                 siam_error *err)
{
	siam_image img = { 0 };
	siam_image_limits lim;
	const char *name = strcmp(what, "-") ? what : "standard input";
	/* Decoded no larger than the model needs, as `siam index` does (a
	 * camera JPEG at a reduced DCT scale). */
	siam_image_limits_default(&lim);
	siam_image_limits_want(&lim, &m->pre);
	int rc = siam_image_load_any(&img, what, &lim, NULL, err);
	if (rc)
		return rc;
	rc = siam_model_embed_image(m, &img, out, err);
	siam_image_release(&img);
	if (rc && strncmp(err->msg, what, strlen(what))) {
		char msg[SIAM_ERR_MAX];
		snprintf(msg, sizeof msg, "%s", err->msg);
		siam_errorf(err, rc, "%s: %s", name, msg);
	}
	return rc;
}

int siam_verify(siam_model *m, const char *a, const char *b, float *distance,
                int *same, siam_error *err)
{
	siam_error local;
	float *ea = NULL, *eb = NULL;
	int rc;
	if (!err)
		err = &local;
	if (!m || !m->net || !a || !b)
		return siam_errorf(err, SIAM_EINVAL, "verify: no model or no "
		                   "image given");
	if (!strcmp(a, "-") && !strcmp(b, "-"))
		return siam_errorf(err, SIAM_EINVAL, "verify: only one image "
		                   "can come from standard input");
	int D = siam_net_embed_dim(m->net);
	ea = siam_xmalloc_n((size_t)D, sizeof *ea);
	eb = siam_xmalloc_n((size_t)D, sizeof *eb);
	if (!ea || !eb) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = embed(m, a, ea, err)) || (rc = embed(m, b, eb, err)))
		goto fail;
	float d = siam_l2_distance(ea, eb, D);
	if (distance)
		*distance = d;
	if (same)
		*same = d < m->threshold;
fail:
	free(ea);
	free(eb);
	return rc;
}
