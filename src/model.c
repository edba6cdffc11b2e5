/*
 * model.c -- a model is a network plus what is needed to use it: its
 * preprocessing, the calibrated match threshold and training metadata.
 * This file owns the model file format.
 *
 * Layout, all integers little-endian:
 *
 *   offset  size  field
 *   0       8     magic "SIAMMODL"
 *   8       4     format version (SIAM_MODEL_VERSION)
 *   12      4     H: header length
 *   16      H     header: "key=value\n" lines (spec, embed, c, h, w,
 *                 digit, mean, std, threshold, margin)
 *   ..      4     M: metadata length
 *   ..      M     metadata: JSON text (may be empty)
 *   ..      8     P: parameter count
 *   ..      4*P   parameters, float32
 *   ..      4     CRC-32 of every byte before it
 *
 * Why text for the header: it is read once, it stays readable with
 * `strings`, and a new key does not need a new version.  The CRC is
 * checked before anything is parsed, so a damaged file can never reach
 * the parser or the network builder with garbage.
 */
#include "internal.h"
#include "siam_nn.h"
#include "bytes.h"
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define SIAM_MODEL_MAGIC "SIAMMODL"
#define SIAM_MODEL_VERSION 1u
/* A real header is a few hundred bytes; metadata a few KiB. */
#define MAX_HEADER (64u << 10)
#define MAX_META (1u << 20)
/* Fixed part: magic, version, H, M, P, CRC. */
#define MIN_FILE (8 + 4 + 4 + 4 + 8 + 4)
/* The default network is 1.3 MB; 2 GiB is no model siam can train. */
#define MAX_FILE ((size_t)1 << 31)

uint32_t siam_crc32(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	/* zlib takes uInt lengths: feed huge buffers in pieces. */
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		crc = (uint32_t)crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}

int siam_model_create(siam_model **out, const char *spec, siam_error *err)
{
	*out = NULL;
	siam_model *m = calloc(1, sizeof *m);
	if (!m)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	int rc = siam_net_create(&m->net, spec, err);
	if (rc) {
		free(m);
		return rc;
	}
	siam_preproc_default(&m->pre, siam_net_input_c(m->net),
	                     siam_net_input_h(m->net),
	                     siam_net_input_w(m->net));
	m->margin = 1.0f;
	m->threshold = 0.5f;
	m->views = 1;
	*out = m;
	return 0;
}

void siam_model_free(siam_model *m)
{
	if (!m)
		return;
	siam_net_free(m->net);
	free(m->meta);
	free(m);
}

/* ---- serialisation ------------------------------------------------- */

int siam_model_save_mem(const siam_model *m, void **out, size_t *outlen,
                        siam_error *err)
{
	*out = NULL;
	*outlen = 0;
	char header[2048];
	/* %.9g round-trips a float exactly. */
	int hl = snprintf(header, sizeof header,
	                  "spec=%s\nembed=%d\nc=%d\nh=%d\nw=%d\ndigit=%d\n"
	                  "mean=%.9g\nstd=%.9g\nthreshold=%.9g\nmargin=%.9g\n",
	                  siam_net_spec(m->net), siam_net_embed_dim(m->net),
	                  m->pre.c, m->pre.h, m->pre.w, m->pre.digit,
	                  (double)m->pre.mean, (double)m->pre.std,
	                  (double)m->threshold, (double)m->margin);
	/* Written only when it is not 1: a model without views stays the
	 * same bytes it always was (and older readers, which ignore keys
	 * they do not know, still load it). */
	if (hl >= 0 && (size_t)hl < sizeof header &&
	    siam_views_count(m->views) != 1)
		hl += snprintf(header + hl, sizeof header - (size_t)hl,
		               "views=%d\n", siam_views_count(m->views));
	if (hl >= 0 && (size_t)hl < sizeof header &&
	    (m->views & SIAM_VIEWS_FLIP))
		hl += snprintf(header + hl, sizeof header - (size_t)hl,
		               "tta=flip\n");
	if (hl < 0 || (size_t)hl >= sizeof header)
		return siam_errorf(err, SIAM_EINVAL,
		                   "model header too long (spec of %zu bytes)",
		                   strlen(siam_net_spec(m->net)));
	if (!siam_views_valid(m->views))
		return siam_errorf(err, SIAM_EINVAL,
		                   "views must be 1, 5 or 9, not %d",
		                   siam_views_count(m->views));
	size_t ml = m->meta ? strlen(m->meta) : 0;
	if (ml > MAX_META)
		return siam_errorf(err, SIAM_EINVAL,
		                   "model metadata too long (%zu bytes)", ml);

	bytes_out b = {0};
	bytes_put(&b, SIAM_MODEL_MAGIC, 8);
	bytes_put_u32(&b, SIAM_MODEL_VERSION);
	bytes_put_u32(&b, (uint32_t)hl);
	bytes_put(&b, header, (size_t)hl);
	bytes_put_u32(&b, (uint32_t)ml);
	bytes_put(&b, m->meta, ml);
	size_t np = siam_net_num_params(m->net);
	bytes_put_u64(&b, np);
	/* siam_net_params is not const because training writes through it;
	 * saving only reads. */
	bytes_put_f32s(&b, siam_net_params(m->net), np);
	if (b.fail) {
		free(b.p);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory saving model");
	}
	bytes_put_u32(&b, siam_crc32(0, b.p, b.len));
	if (b.fail) {
		free(b.p);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory saving model");
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

int siam_model_save(const siam_model *m, const char *path, siam_error *err)
{
	void *data;
	size_t len;
	int rc = siam_model_save_mem(m, &data, &len, err);
	if (rc)
		return rc;
	/* Whole or not at all: an interrupted save never leaves half a
	 * model where a good one was. */
	rc = siam_write_file(path, data, len, err);
	free(data);
	return rc;
}

/* Finds "key=" at the start of a line of the header and parses its
 * value.  The header is NUL-terminated by the caller. */
static const char *header_value(const char *hdr, const char *key)
{
	size_t kl = strlen(key);
	for (const char *line = hdr; line && *line;) {
		if (!strncmp(line, key, kl) && line[kl] == '=')
			return line + kl + 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

static int header_num(const char *hdr, const char *key, double *out,
                      const char *name, siam_error *err)
{
	const char *v = header_value(hdr, key);
	char *end;
	if (!v)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: model header lacks '%s'", name, key);
	errno = 0;
	*out = strtod(v, &end);
	if (end == v || (*end != '\n' && *end) || errno)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: model header has a bad '%s'", name, key);
	return 0;
}

int siam_model_load_mem(siam_model **out, const void *data, size_t len,
                        const char *name, siam_error *err)
{
	const unsigned char *p = data;
	char *hdr = NULL, *spec = NULL;
	siam_model *m = NULL;
	int rc;
	*out = NULL;
	if (!name)
		name = "model";

	if (len < 8 || memcmp(p, SIAM_MODEL_MAGIC, 8) != 0)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: not a siam model file", name);
	if (len < MIN_FILE)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: truncated model file (%zu bytes)", name,
		                   len);
	uint32_t version = bytes_le32(p + 8);
	if (version != SIAM_MODEL_VERSION)
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: model format version %u is not supported "
		                   "(this siam reads version %u)",
		                   name, version, SIAM_MODEL_VERSION);
	/* Walk the sections with bounds checks before trusting the CRC, so
	 * a truncated file says "truncated" rather than "corrupt". */
	size_t off = 12;
	uint32_t hl = bytes_le32(p + off);
	off += 4;
	if (hl > MAX_HEADER || off + hl + 4 > len)
		goto truncated;
	size_t hoff = off;
	off += hl;
	uint32_t ml = bytes_le32(p + off);
	off += 4;
	if (ml > MAX_META || off + ml + 8 > len)
		goto truncated;
	size_t moff = off;
	off += ml;
	uint64_t np = bytes_le64(p + off);
	off += 8;
	if (np > (len - off) / 4 || off + np * 4 + 4 > len)
		goto truncated;
	size_t poff = off;
	off += np * 4;
	if (off + 4 != len) {
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: %zu bytes of trailing data after the model",
		                   name, len - off - 4);
	}
	if (siam_crc32(0, p, off) != bytes_le32(p + off))
		return siam_errorf(err, SIAM_EFORMAT,
		                   "%s: model file is corrupt (checksum mismatch)",
		                   name);

	hdr = malloc(hl + 1);
	if (!hdr)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	memcpy(hdr, p + hoff, hl);
	hdr[hl] = 0;
	const char *sv = header_value(hdr, "spec");
	if (!sv) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: model header lacks 'spec'", name);
		goto fail;
	}
	size_t sl = strcspn(sv, "\n");
	spec = strndup(sv, sl);
	if (!spec) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto fail;
	}
	siam_error sub;
	rc = siam_model_create(&m, spec, &sub);
	if (rc) {
		rc = siam_errorf(err, SIAM_EFORMAT, "%s: %s", name, sub.msg);
		goto fail;
	}
	double embed, c, h, w, digit, mean, sd, thr, margin;
	if ((rc = header_num(hdr, "embed", &embed, name, err)) ||
	    (rc = header_num(hdr, "c", &c, name, err)) ||
	    (rc = header_num(hdr, "h", &h, name, err)) ||
	    (rc = header_num(hdr, "w", &w, name, err)) ||
	    (rc = header_num(hdr, "digit", &digit, name, err)) ||
	    (rc = header_num(hdr, "mean", &mean, name, err)) ||
	    (rc = header_num(hdr, "std", &sd, name, err)) ||
	    (rc = header_num(hdr, "threshold", &thr, name, err)) ||
	    (rc = header_num(hdr, "margin", &margin, name, err)))
		goto fail;
	if ((int)embed != siam_net_embed_dim(m->net) ||
	    (int)c != siam_net_input_c(m->net) ||
	    (int)h != siam_net_input_h(m->net) ||
	    (int)w != siam_net_input_w(m->net) || !(sd > 0)) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: model header disagrees with its "
		                 "architecture '%s'", name, spec);
		goto fail;
	}
	if (np != siam_net_num_params(m->net)) {
		rc = siam_errorf(err, SIAM_EFORMAT,
		                 "%s: model has %llu parameters, its architecture "
		                 "needs %zu", name, (unsigned long long)np,
		                 siam_net_num_params(m->net));
		goto fail;
	}
	m->pre.c = (int)c;
	m->pre.h = (int)h;
	m->pre.w = (int)w;
	m->pre.digit = digit != 0;
	m->pre.mean = (float)mean;
	m->pre.std = (float)sd;
	m->threshold = (float)thr;
	m->margin = (float)margin;
	if (header_value(hdr, "views")) {
		double views;
		if ((rc = header_num(hdr, "views", &views, name, err)))
			goto fail;
		if (!siam_views_valid((int)views) || views != (int)views) {
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: model header has a bad 'views'",
			                 name);
			goto fail;
		}
		m->views = (int)views;
	}
	const char *tta = header_value(hdr, "tta");
	if (tta) {
		/* an embedding made otherwise than this reader can is
		 * refused, never silently made without it */
		if (strncmp(tta, "flip", 4) != 0 ||
		    (tta[4] != '\n' && tta[4] != '\0')) {
			rc = siam_errorf(err, SIAM_EFORMAT,
			                 "%s: model header has an unknown 'tta' "
			                 "(this siam knows tta=flip)", name);
			goto fail;
		}
		m->views |= SIAM_VIEWS_FLIP;
	}
	if (ml > 0) {
		m->meta = strndup((const char *)p + moff, ml);
		if (!m->meta) {
			rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
			goto fail;
		}
	}
	float *params = siam_net_params(m->net);
	for (size_t i = 0; i < np; i++) {
		uint32_t u = bytes_le32(p + poff + 4 * i);
		memcpy(&params[i], &u, 4);
	}
	free(hdr);
	free(spec);
	*out = m;
	return 0;

truncated:
	return siam_errorf(err, SIAM_EFORMAT,
	                   "%s: truncated model file (%zu bytes)", name, len);
fail:
	free(hdr);
	free(spec);
	siam_model_free(m);
	return rc;
}

int siam_model_load(siam_model **out, const char *path, siam_error *err)
{
	*out = NULL;
	unsigned char *data;
	size_t len;
	/* Models are a few MiB; refuse anything absurd rather than read a
	 * huge wrong file into memory. */
	int rc = siam_read_file(path, MAX_FILE, &data, &len, err);
	if (rc)
		return rc;
	rc = siam_model_load_mem(out, data, len, path, err);
	free(data);
	return rc;
}

int siam_model_embed_image(siam_model *m, const siam_image *img, float *out,
                           siam_error *err)
{
	size_t n = siam_net_input_size(m->net);
	float *in = siam_xmalloc_n(n, sizeof *in);
	if (!in)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	int rc = siam_preprocess(in, img, &m->pre, err);
	if (!rc)
		rc = siam_net_embed_views(m->net, in, 1, m->views, out, err);
	free(in);
	return rc;
}
