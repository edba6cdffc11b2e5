/*
 * meta.c -- the JSON record of a run that a trained model carries
 * (m->meta, shown by `siam info`): the data, the architecture, every
 * setting of the run, and what validation measured, epoch by epoch.
 */
#include "internal.h"
#include "bytes.h"
#include "utf8.h"
#include "train/photo_aug.h"
#include "train/run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_str(bytes_out *b, const char *s)
{
	bytes_put(b, s, strlen(s));
}

static void put_fmt(bytes_out *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put_fmt(bytes_out *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		bytes_put(b, tmp, (size_t)SIAM_MIN(n, (int)sizeof tmp - 1));
}

static void put_json_str(bytes_out *b, const char *s)
{
	put_str(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; p && *p;
	     p++) {
		if (*p == '"' || *p == '\\')
			put_fmt(b, "\\%c", *p);
		else if (*p < 0x20)
			put_fmt(b, "\\u%04x", *p);
		else if (siam_utf8_len(p) == 0)
			put_str(b, "\\ufffd"); /* not UTF-8: see utf8.h */
		else {
			size_t len = siam_utf8_len(p);
			bytes_put(b, p, len);
			p += len - 1;
		}
	}
	put_str(b, "\"");
}

/* The shortest decimal that reads back as x, with ".0" on a whole
 * number: what Python's json writes for a float, so a model whose
 * threshold bench/neardup.py once stored keeps its bytes. */
static void put_short(bytes_out *b, double x)
{
	char s[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, x);
		if (strtod(s, NULL) == x)
			break;
	}
	put_str(b, s);
	if (!strpbrk(s, ".en"))
		put_str(b, ".0");
}

static const char *loss_name(int loss)
{
	return loss == SIAM_LOSS_TRIPLET ? "triplet"
	       : loss == SIAM_LOSS_SUPCON ? "supcon"
	                                  : "contrastive";
}

/* Nothing time-dependent goes in, so a rerun writes the same bytes. */
char *train_meta_json(const train_run *r, int nvalidated)
{
	const siam_train_opts *o = r->o;
	bytes_out b = { 0 };
	put_str(&b, "{\"trainer\":\"siam train\",\"data\":");
	put_json_str(&b, r->d->source);
	put_str(&b, ",\"classes\":");
	if (o->classes && *o->classes)
		put_json_str(&b, o->classes);
	else
		put_str(&b, "null");
	put_str(&b, ",\"arch\":");
	put_json_str(&b, siam_net_spec(r->net));
	put_fmt(&b, ",\"loss\":\"%s\",\"epochs\":%d,\"batch\":%d,"
	        "\"pairs_per_epoch\":%ld,\"lr\":%.9g,\"lr_decay\":%s,"
	        "\"margin\":%.9g,\"weight_decay\":%.9g,\"seed\":%llu,"
	        "\"threads\":%d,\"val_split\":%.9g,",
	        loss_name(o->loss),
	        o->epochs, o->batch, r->npairs, (double)o->lr,
	        o->lr_decay ? "true" : "false", (double)o->margin,
	        (double)o->weight_decay, (unsigned long long)o->seed,
	        o->threads, (double)o->val_split);
	if (o->loss == SIAM_LOSS_SUPCON)
		put_fmt(&b, "\"temperature\":%.9g,", (double)o->temperature);
	if (r->ninst)
		put_fmt(&b, "\"instance\":%.9g,\"instance_margin\":%.9g,",
		        (double)o->instance, (double)o->instance_margin);
	if (o->glyphs > 0)
		put_fmt(&b, "\"glyphs\":%.9g,", (double)o->glyphs);
	if (o->ema > 0)
		put_fmt(&b, "\"ema\":%.9g,", (double)o->ema);
	if (siam_views_count(o->views) != 1)
		put_fmt(&b, "\"views\":%d,", siam_views_count(o->views));
	if (o->views & SIAM_VIEWS_FLIP)
		put_str(&b, "\"tta\":\"flip\",");
	if (r->groups)
		put_fmt(&b, "\"copies\":{\"max_bits\":%d,\"merged\":%d},",
		        o->copies, r->nmerged);
	if (o->augment || r->unlabelled || r->ninst) {
		const siam_augment *a = &o->aug;
		put_fmt(&b, "\"augment\":{\"shift\":%.9g,\"rotate\":%.9g,"
		        "\"scale\":%.9g,\"bright\":%.9g,\"contrast\":%.9g,"
		        "\"elastic\":%.9g,\"sigma\":%.9g",
		        (double)a->shift, (double)a->rotate,
		        (double)a->scale, (double)a->bright,
		        (double)a->contrast, (double)a->elastic,
		        (double)a->sigma);
		/* only when used, so older runs keep their bytes */
		if (aug_photo_on(a))
			put_fmt(&b, ",\"flip\":%.9g,\"crop\":%.9g,"
			        "\"brightness\":%.9g,\"saturation\":%.9g,"
			        "\"gray\":%.9g,\"jpeg\":%.9g,\"blur\":%.9g,"
			        "\"downscale\":%.9g,\"edge\":%.9g,"
			        "\"overlay\":%.9g,\"pad\":%.9g",
			        (double)a->flip, (double)a->crop,
			        (double)a->brightness, (double)a->saturation,
			        (double)a->gray, (double)a->jpeg,
			        (double)a->blur, (double)a->downscale,
			        (double)a->edge, (double)a->overlay,
			        (double)a->pad);
		put_str(&b, "},");
	} else
		put_str(&b, "\"augment\":null,");
	put_fmt(&b, "\"train_images\":%d,\"val_images\":%d,", r->ntrain,
	        r->nval);
	put_fmt(&b, "\"validation\":{\"pairs\":%zu,\"best_epoch\":%d,"
	        "\"accuracy\":%.9g,\"auc\":%.9g,\"eer\":%.9g,"
	        "\"tar_at_far_1e-3\":%.9g,\"threshold\":%.9g,"
	        "\"held_out\":%s},",
	        r->nvp, r->best_epoch, r->best_val.best_accuracy,
	        r->best_val.auc, r->best_val.eer, r->best_val.tar_at_far,
	        (double)r->best_val.best_threshold,
	        r->nval ? "true" : "false");
	put_str(&b, "\"history\":[");
	for (int e = 0; e < o->epochs; e++) {
		put_fmt(&b, "%s{\"epoch\":%d,\"loss\":%.9g", e ? "," : "",
		        e + 1, r->rec[e].loss);
		if (nvalidated)
			put_fmt(&b, ",\"val_accuracy\":%.9g,\"val_auc\":%.9g",
			        r->rec[e].val_acc, r->rec[e].val_auc);
		put_str(&b, "}");
	}
	put_str(&b, "]");
	/* last, where bench/neardup.py set-threshold used to add it */
	if (o->near_threshold > 0) {
		put_str(&b, ",\"near_threshold\":");
		put_short(&b, o->near_threshold);
	}
	put_str(&b, "}");
	bytes_put(&b, "", 1);
	if (b.fail) {
		free(b.p);
		return NULL;
	}
	return (char *)b.p;
}
