/*
 * ckpt.c -- the training checkpoint: a run saved mid-way, and resumed.
 *
 * Every random stream of a run is rebuilt from its position (see
 * siam_train_seed), so a checkpoint holds only the position, the
 * history, the weights and the optimiser's state, and a resumed run
 * makes the same model, byte for byte, as one never interrupted.
 *
 * Layout: "SIAMCKPT", u32 version, then little-endian fields (bytes.h):
 * u32 config length and text; i32 epoch, i64 step, f64 loss_sum, i64
 * adam.t; i32 best_epoch and the best epoch's validation figures (f64
 * accuracy, auc, eer, tar, f32 threshold); i32 records and per record
 * f64 loss, accuracy, auc, f32 threshold; i32 item count of the data;
 * u64 model length and the model file (current weights); u64 parameter
 * count and Adam's m, v and the best weights as f32; (version 2) f32
 * the decay of the moving average of the weights and, when it is not
 * 0, the average as f32; u32 CRC-32 of all before.  A version 1
 * checkpoint is of a run without an average.
 */
#include "internal.h"
#include "bytes.h"
#include "fileio.h"
#include "train/run.h"

#include <string.h>

#define CKPT_MAGIC "SIAMCKPT"
#define CKPT_VERSION 2
/* A checkpoint of the default network is about 6 MB. */
#define CKPT_MAX ((size_t)1 << 34)

int train_ckpt_write(train_run *r, siam_model *m, siam_error *err)
{
	const char *path = r->o->checkpoint;
	bytes_out b = { 0 };
	void *blob = NULL;
	size_t bloblen = 0;
	/* The checkpoint's model needs no metadata; an empty object keeps
	 * the saver away from a NULL meta. */
	char *meta = m->meta;
	if (!meta)
		m->meta = "{}";
	int rc = siam_model_save_mem(m, &blob, &bloblen, err);
	m->meta = meta;
	if (rc)
		return rc;
	const char *cfg = r->o->config ? r->o->config : "";
	siam_adam *adam = siam_trainer_adam(r->trainer);
	bytes_put(&b, CKPT_MAGIC, 8);
	bytes_put_u32(&b, CKPT_VERSION);
	bytes_put_u32(&b, (uint32_t)strlen(cfg));
	bytes_put(&b, cfg, strlen(cfg));
	bytes_put_u32(&b, (uint32_t)r->epoch);
	bytes_put_u64(&b, (uint64_t)r->step);
	bytes_put_f64(&b, r->loss_sum);
	bytes_put_u64(&b, (uint64_t)adam->t);
	bytes_put_u32(&b, (uint32_t)r->best_epoch);
	bytes_put_f64(&b, r->best_val.best_accuracy);
	bytes_put_f64(&b, r->best_val.auc);
	bytes_put_f64(&b, r->best_val.eer);
	bytes_put_f64(&b, r->best_val.tar_at_far);
	bytes_put_f32(&b, r->best_val.best_threshold);
	bytes_put_u32(&b, (uint32_t)r->o->epochs);
	for (int e = 0; e < r->o->epochs; e++) {
		bytes_put_f64(&b, r->rec[e].loss);
		bytes_put_f64(&b, r->rec[e].val_acc);
		bytes_put_f64(&b, r->rec[e].val_auc);
		bytes_put_f32(&b, r->rec[e].val_thr);
	}
	bytes_put_u32(&b, (uint32_t)r->d->n);
	bytes_put_u64(&b, bloblen);
	bytes_put(&b, blob, bloblen);
	bytes_put_u64(&b, r->np);
	bytes_put_f32s(&b, r->m, r->np);
	bytes_put_f32s(&b, r->v, r->np);
	bytes_put_f32s(&b, r->best, r->np);
	bytes_put_f32(&b, r->ema ? r->o->ema : 0.0f);
	if (r->ema)
		bytes_put_f32s(&b, r->ema, r->np);
	if (!b.fail)
		bytes_put_u32(&b, siam_crc32(0, b.p, b.len));
	free(blob);
	if (b.fail) {
		free(b.p);
		return siam_errorf(err, SIAM_ENOMEM, "%s: out of memory for "
		                   "the checkpoint", path);
	}
	/* Whole or absent: written beside it, flushed, renamed. */
	rc = siam_write_file(path, b.p, b.len, err);
	free(b.p);
	return rc;
}

/* Reads the whole checkpoint and checks magic, version and CRC. */
static int read_ckpt_file(const char *path, unsigned char **data,
                          size_t *len, uint32_t *version, siam_error *err)
{
	unsigned char *p;
	size_t n;
	*data = NULL;
	int rc = siam_read_file(path, CKPT_MAX, &p, &n, err);
	if (rc)
		return rc;
	if (n < 16 || memcmp(p, CKPT_MAGIC, 8)) {
		free(p);
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a siam training checkpoint", path);
	}
	if (siam_crc32(0, p, n - 4) != bytes_le32(p + n - 4)) {
		free(p);
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: checkpoint is corrupt or truncated "
		                   "(checksum mismatch)", path);
	}
	uint32_t ver = bytes_le32(p + 8);
	if (ver < 1 || ver > CKPT_VERSION) {
		free(p);
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: checkpoint version %u, this siam reads "
		                   "%u", path, ver, CKPT_VERSION);
	}
	*data = p;
	*len = n - 4;
	*version = ver;
	return 0;
}

int siam_checkpoint_config(const char *path, char **config,
                           siam_error *err)
{
	*config = NULL;
	unsigned char *data;
	size_t len;
	uint32_t ver;
	int rc = read_ckpt_file(path, &data, &len, &ver, err);
	if (rc)
		return rc;
	bytes_in b = { data, len, 12, 0 };
	uint32_t n = bytes_get_u32(&b);
	const char *s = bytes_get(&b, n);
	if (!s) {
		free(data);
		return siam_errorf(err, SIAM_EFORMAT, "%s: bad checkpoint",
		                   path);
	}
	*config = malloc((size_t)n + 1);
	if (!*config) {
		free(data);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	}
	memcpy(*config, s, n);
	(*config)[n] = 0;
	free(data);
	return 0;
}

int train_ckpt_read(train_run *r, siam_model *m, siam_error *err)
{
	const char *path = r->o->resume;
	unsigned char *data;
	size_t len;
	siam_model *saved = NULL;
	uint32_t ver;
	int rc = read_ckpt_file(path, &data, &len, &ver, err);
	if (rc)
		return rc;
	siam_adam *adam = siam_trainer_adam(r->trainer);
	bytes_in b = { data, len, 12, 0 };
	uint32_t cl = bytes_get_u32(&b);
	bytes_get(&b, cl);
	r->epoch = (int)bytes_get_u32(&b);
	r->step = (long)bytes_get_u64(&b);
	r->loss_sum = bytes_get_f64(&b);
	adam->t = (long)bytes_get_u64(&b);
	r->best_epoch = (int)bytes_get_u32(&b);
	r->best_val.best_accuracy = bytes_get_f64(&b);
	r->best_val.auc = bytes_get_f64(&b);
	r->best_val.eer = bytes_get_f64(&b);
	r->best_val.tar_at_far = bytes_get_f64(&b);
	r->best_val.best_threshold = bytes_get_f32(&b);
	uint32_t ne = bytes_get_u32(&b);
	if (!b.fail && (int)ne != r->o->epochs) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: the checkpoint is of a run of %u epochs, "
		                 "not %d", path, ne, r->o->epochs);
		goto done;
	}
	for (uint32_t e = 0; e < ne && !b.fail; e++) {
		r->rec[e].loss = bytes_get_f64(&b);
		r->rec[e].val_acc = bytes_get_f64(&b);
		r->rec[e].val_auc = bytes_get_f64(&b);
		r->rec[e].val_thr = bytes_get_f32(&b);
	}
	uint32_t nitems = bytes_get_u32(&b);
	uint64_t bl = bytes_get_u64(&b);
	const void *blob = b.fail || bl > len ? NULL
	                                      : bytes_get(&b, (size_t)bl);
	if (!blob)
		goto corrupt;
	if (nitems != (uint32_t)r->d->n) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: the checkpoint was made on %u images, "
		                 "%s has %d", path, nitems, r->d->source,
		                 r->d->n);
		goto done;
	}
	if ((rc = siam_model_load_mem(&saved, blob, (size_t)bl, path, err)))
		goto done;
	if (strcmp(siam_net_spec(saved->net), siam_net_spec(r->net)) ||
	    siam_net_num_params(saved->net) != r->np) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%s: the checkpoint's network (%s) is not "
		                 "this run's (%s)", path,
		                 siam_net_spec(saved->net),
		                 siam_net_spec(r->net));
		goto done;
	}
	if (bytes_get_u64(&b) != r->np)
		goto corrupt;
	bytes_get_f32s(&b, r->m, r->np);
	bytes_get_f32s(&b, r->v, r->np);
	bytes_get_f32s(&b, r->best, r->np);
	float decay = ver >= 2 ? bytes_get_f32(&b) : 0.0f;
	if (!b.fail && decay != (r->ema ? r->o->ema : 0.0f)) {
		rc = siam_errorf(err, SIAM_EINVAL, "%s: the checkpoint is of a "
		                 "run with --ema %g, not %g", path,
		                 (double)decay,
		                 (double)(r->ema ? r->o->ema : 0.0f));
		goto done;
	}
	if (r->ema)
		bytes_get_f32s(&b, r->ema, r->np);
	if (b.fail || r->epoch < 0 || r->epoch > r->o->epochs ||
	    r->step < 0 || r->best_epoch < 0 || r->best_epoch > r->o->epochs)
		goto corrupt;
	memcpy(siam_net_params(r->net), siam_net_params(saved->net),
	       r->np * sizeof(float));
	m->pre = saved->pre;
	goto done;
corrupt:
	rc = siam_errorf(err, SIAM_EFORMAT, "%s: bad checkpoint", path);
done:
	siam_model_free(saved);
	free(data);
	return rc;
}
