/*
 * siam_nn.h -- the network and training API of libsiam: for programs
 * that build, train or evaluate networks (siam train and eval, the tests,
 * the benchmarks, research code).
 *
 * Deterministic random numbers, the GEMM wrapper, the layers with their
 * forward and backward passes, the losses, Adam, networks built from a
 * spec string, views, the trainer, data sets, augmentation, pair and
 * triplet samplers, verification metrics, the training loop and its
 * checkpoints.  It includes <siam.h>, the application API, whose
 * conventions hold here too.
 */
#ifndef SIAM_NN_H_PUBLIC
#define SIAM_NN_H_PUBLIC

#include "siam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Deterministic random numbers (xoshiro256**, seeded by splitmix64)   */

typedef struct siam_rng {
	uint64_t s[4];
} siam_rng;

void siam_rng_seed(siam_rng *rng, uint64_t seed);
uint64_t siam_rng_u64(siam_rng *rng);
/* Uniform integer in [0, n); n > 0.  Unbiased. */
uint32_t siam_rng_below(siam_rng *rng, uint32_t n);
/* Uniform float in [0, 1). */
float siam_rng_uniform(siam_rng *rng);
/* Standard normal (Box-Muller). */
float siam_rng_normal(siam_rng *rng);

/* ------------------------------------------------------------------ */
/* BLAS: every GEMM in siam goes through here so that tests can swap   */
/* in the naive reference and benchmarks can count FLOPs.              */

/* C = alpha * op(A) op(B) + beta * C, row-major, op = transpose if tX. */
void siam_sgemm(int ta, int tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc);
/* ------------------------------------------------------------------ */
/* Layers (src/nn/).  llm.c style: forward assigns its output, backward */
/* accumulates (+=) into dinp and dparams; the caller zeroes them.     */
/* Shapes are given in the comment of each function.                   */

/* conv2d, stride 1, square kernel K, zero padding pad (0 = valid,
 * K/2 = same).  inp (B,C,H,W), w (OC,C,K,K), b (OC), out (B,OC,OH,OW)
 * with OH = H + 2*pad - K + 1.  The batch runs in chunks of samples, one
 * im2col and one GEMM per chunk; scratch is the workspace for that,
 * siam_conv2d_scratch_size() floats (about 1 MB of im2col plus the
 * chunk's output, whatever B).  Nothing is kept in scratch between calls:
 * backward recomputes the im2col from inp. */
size_t siam_conv2d_scratch_size(int B, int C, int H, int W, int OC, int K,
                                int pad);
void siam_conv2d_forward(float *out, float *scratch, const float *inp,
                         const float *w, const float *b, int B, int C, int H,
                         int W, int OC, int K, int pad);
/* dinp may be NULL (first layer: no input gradient needed).  inp is the
 * forward's input. */
void siam_conv2d_backward(float *dinp, float *dw, float *db, float *scratch,
                          const float *dout, const float *inp,
                          const float *w, int B, int C, int H, int W, int OC,
                          int K, int pad);

/* max-pool P x P, stride P (floor).  inp (B,C,H,W), out (B,C,H/P,W/P),
 * argmax (B,C,H/P,W/P) remembers the winning input index for backward. */
void siam_maxpool_forward(float *out, int *argmax, const float *inp, int B,
                          int C, int H, int W, int P);
void siam_maxpool_backward(float *dinp, const float *dout, const int *argmax,
                           int B, int C, int H, int W, int P);

/* ReLU over n floats.  Backward uses the forward output as its mask. */
void siam_relu_forward(float *out, const float *inp, size_t n);
void siam_relu_backward(float *dinp, const float *dout, const float *out,
                        size_t n);

/* dense: inp (B,IN), w (OUT,IN), b (OUT), out (B,OUT). */
void siam_dense_forward(float *out, const float *inp, const float *w,
                        const float *b, int B, int IN, int OUT);
void siam_dense_backward(float *dinp, float *dw, float *db, const float *dout,
                         const float *inp, const float *w, int B, int IN,
                         int OUT);

/* L2 normalisation of each row: inp (B,D), out (B,D), out = inp/|inp|.
 * norm (B) keeps |inp| for backward.  |inp| is floored at 1e-12. */
void siam_l2norm_forward(float *out, float *norm, const float *inp, int B,
                         int D);
void siam_l2norm_backward(float *dinp, const float *dout, const float *out,
                          const float *norm, int B, int D);

/* ------------------------------------------------------------------ */
/* Losses.  Each returns the mean loss over the batch and writes (not  */
/* accumulates) the gradients w.r.t. its embedding inputs, already     */
/* divided by the batch size.  Gradient pointers may be NULL.          */

/* Contrastive loss (Hadsell, Chopra, LeCun 2006): a, b (N,D); y (N) is 1
 * for a same pair, 0 for a different pair; d = |a-b|;
 * L = y d^2 + (1-y) max(0, margin - d)^2.  Safe at d = 0. */
float siam_contrastive_loss(float *da, float *db, const float *a,
                            const float *b, const float *y, int N, int D,
                            float margin);
/* Triplet loss: L = max(0, |a-p|^2 - |a-n|^2 + margin). */
float siam_triplet_loss(float *da, float *dp, float *dn, const float *a,
                        const float *p, const float *n, int N, int D,
                        float margin);

/* Supervised contrastive loss (Khosla et al. 2020) over one batch of n
 * embeddings z (n,D) of unit length (end the network with l2); ids[i]
 * names what item i shows.  Every other item of the batch is a
 * negative unless it has the same id; for each i that has a positive,
 * L_i = log sum_{a != i} exp(z_i.z_a / tau)
 *       - mean_{p != i, ids[p] = ids[i]} z_i.z_p / tau,
 * and L is the mean of L_i.  Many negatives per anchor instead of one:
 * the batch itself is the set of classes to tell apart.  dz may be
 * NULL; work is scratch for n doubles. */
float siam_supcon_loss(float *dz, const float *z, const int *ids, int n,
                       int D, float tau, double *work);

/* ------------------------------------------------------------------ */
/* Adam with bias correction and decoupled weight decay (AdamW).       */

typedef struct siam_adam {
	float lr, beta1, beta2, eps, weight_decay;
	long t; /* steps taken so far; siam_adam_step increments it */
} siam_adam;

void siam_adam_defaults(siam_adam *opt, float lr);
void siam_adam_step(siam_adam *opt, float *params, const float *grads,
                    float *m, float *v, size_t n);

/* ------------------------------------------------------------------ */
/* Networks built from an architecture spec string.                    */
/*                                                                     */
/*   "in=1x28x28 conv5x32 relu pool2 conv5x64 relu pool2 fc256 relu fc64" */
/*                                                                     */
/* Tokens: in=CxHxW (first, once), convKxC (valid padding),            */
/* convKxC:same, relu, poolP, flatten (no-op: fc flattens), fcN, l2    */
/* (L2-normalise; last only).                                          */

#define SIAM_DEFAULT_ARCH \
	"in=1x28x28 conv5x32 relu pool2 conv5x64 relu pool2 fc256 relu fc64"

typedef enum siam_layer_kind {
	SIAM_LAYER_CONV,
	SIAM_LAYER_RELU,
	SIAM_LAYER_POOL,
	SIAM_LAYER_FC,
	SIAM_LAYER_L2NORM
} siam_layer_kind;

typedef struct siam_layer {
	siam_layer_kind kind;
	int in_c, in_h, in_w;    /* per-sample input shape  */
	int out_c, out_h, out_w; /* per-sample output shape */
	int k, pad;              /* conv kernel, padding; pool size in k */
	size_t w_off, b_off;     /* offsets of weights and bias in params */
	size_t w_len, b_len;
} siam_layer;

/* Parses spec and builds the network with zeroed parameters.
 * On a bad spec the message names the offending token. */
int siam_net_create(siam_net **out, const char *spec, siam_error *err);
void siam_net_free(siam_net *net);

/* He-normal initialisation of weights, zero biases, from seed. */
void siam_net_init(siam_net *net, uint64_t seed);

const char *siam_net_spec(const siam_net *net); /* canonical spec text */
int siam_net_num_layers(const siam_net *net);
const siam_layer *siam_net_layer(const siam_net *net, int i);
int siam_net_input_c(const siam_net *net);
int siam_net_input_h(const siam_net *net);
int siam_net_input_w(const siam_net *net);
size_t siam_net_input_size(const siam_net *net); /* C*H*W */
int siam_net_embed_dim(const siam_net *net);
size_t siam_net_num_params(const siam_net *net);
float *siam_net_params(siam_net *net); /* one contiguous block */
float *siam_net_grads(siam_net *net);  /* same layout as params */
/* Floating-point operations (2 per multiply-add, conv and fc only) of
 * one sample's forward pass, for GFLOP/s figures. */
double siam_net_forward_flops(const siam_net *net);

/* Forward pass of B samples, inp (B, input_size).  Returns a pointer to
 * the (B, embed_dim) embeddings, owned by the net and valid until the
 * next forward.  Grows activation buffers as needed; NULL on ENOMEM or
 * B <= 0.  inp is copied: the caller may reuse it before backward.
 * Forward and backward use the net's training workspace: one thread at
 * a time per net (siam_net_embed may run beside it in other threads, as
 * long as the parameters do not change; see "Threads" in siam.h). */
const float *siam_net_forward(siam_net *net, const float *inp, int B,
                              siam_error *err);
/* Backward pass for the batch of the last forward: dout (B, embed_dim).
 * Accumulates into siam_net_grads() (so call siam_net_zero_grad first). */
void siam_net_backward(siam_net *net, const float *dout);
void siam_net_zero_grad(siam_net *net);

/* Embeds B inputs into out (B, embed_dim): a forward that copies out.
 * An input's embedding is the same bits alone or in any batch, at any
 * position, on any thread count (its GEMMs have one shape per sample;
 * siam_net_forward's, batch-wide, round differently in the last bits).
 * Thread-safe on a shared net: each call takes a workspace of its own
 * (see "Threads" in siam.h).  Errors: SIAM_EINVAL (B <= 0), SIAM_ENOMEM. */
int siam_net_embed(siam_net *net, const float *inp, int B, float *out,
                   siam_error *err);

/* Views (src/nn/views.c): an input embedded as the mean of the
 * embeddings of `views` copies, the input itself and its one-pixel
 * shifts (5: right, left, down, up; 9: and the diagonals), put back to
 * unit length when the net ends in l2.  views = 1 is siam_net_embed.
 * Less jitter on classes the net never saw, for views times the work. */
#define SIAM_MAX_VIEWS 9
/* views | SIAM_VIEWS_FLIP: each view is embedded as it is and mirrored
 * left to right, and the embeddings of both are summed (then put back
 * to unit length), so an image and its mirror get the same embedding by
 * construction: bit for bit with one view, alone or in a batch (the
 * two sums add the same two floats, and an embedding does not depend
 * on its batch, see siam_net_embed), within rounding over 5 or 9 views.
 * Twice the work. */
#define SIAM_VIEWS_FLIP 0x100
int siam_views_valid(int views); /* 1, 5 or 9, with or without FLIP */
int siam_views_count(int views); /* views without SIAM_VIEWS_FLIP */
int siam_net_embed_views(siam_net *net, const float *inp, int B, int views,
                         float *out, siam_error *err);
/* dst = src (c, h, w) mirrored left to right. */
void siam_mirror_input(float *dst, const float *src, int c, int h, int w);
/* dst = src (c, h, w) moved dx pixels right and dy down, the edge
 * pixels repeated into the gap. */
void siam_shift_input(float *dst, const float *src, int c, int h, int w,
                      int dx, int dy);

/* The losses a trainer (and siam_train) can minimise. */
enum {
	SIAM_LOSS_CONTRASTIVE = 0,
	SIAM_LOSS_TRIPLET = 1,
	SIAM_LOSS_SUPCON = 2  /* siam_supcon_loss; the net must end in l2 */
};

/* A trainer (src/nn/trainer.c): a net's optimiser state and the one
 * training step, which siam_train, selftest and the tests all use. */
typedef struct siam_trainer siam_trainer;

typedef struct siam_trainer_opts {
	int loss;              /* SIAM_LOSS_*; default contrastive */
	float lr;              /* Adam's; default 1e-3 (a schedule sets
	                        * siam_trainer_adam(t)->lr between steps) */
	float weight_decay;    /* decoupled, AdamW; default 0 */
	float margin;          /* contrastive and triplet; default 1 */
	float temperature;     /* supcon; default 0.1 */
	float instance_margin; /* triplet: the instance triplets'; 0.1 */
	/* > 0: keep an exponential moving average of the weights, updated
	 * after every step with this decay (siam_trainer_state). */
	float ema;
} siam_trainer_opts;

void siam_trainer_opts_default(siam_trainer_opts *o);
/* A trainer of net (borrowed: it must outlive the trainer).  SIAM_EINVAL
 * on a bad option, or for supcon when net does not end in l2.  The
 * moving average, if any, starts at net's weights as they are. */
int siam_trainer_create(siam_trainer **out, siam_net *net,
                        const siam_trainer_opts *o, siam_error *err);
void siam_trainer_free(siam_trainer *t);
siam_adam *siam_trainer_adam(siam_trainer *t);
/* Adam's moments and the moving average (NULL without one), each
 * siam_net_num_params floats in the parameters' layout, owned by t;
 * writable so that a checkpoint can restore them.  Any pointer may be
 * NULL. */
void siam_trainer_state(siam_trainer *t, float **m, float **v,
                        float **ema);

/* Data-parallel training: how the ranks of one run (mpirun siam train)
 * talk.  libsiam links no MPI; the program fills this in (src/mpi/).
 * Every function returns 0 or an error filled into err, and all ranks
 * call them in the same order. */
typedef struct siam_train_comm {
	int rank, size;        /* this rank, 0..size-1; rank 0 validates,
	                        * checkpoints and keeps the model */
	/* x[0..n) summed over the ranks, in place; every rank gets the
	 * same bits. */
	int (*sum)(void *arg, float *x, size_t n, siam_error *err);
	/* Rank 0's x[0..bytes) to every rank. */
	int (*bcast)(void *arg, void *x, size_t bytes, siam_error *err);
	/* Whether any rank's flag is non-zero (into *any). */
	int (*any)(void *arg, int flag, int *any, siam_error *err);
	void *arg;
} siam_train_comm;

/* Makes every later step one rank's part of a step over the ranks of
 * c: this rank's n inputs are examples [first, first + n) of the global
 * batch of total.  Its loss and gradients are weighted by its share,
 * n / total, and summed over the ranks (c->sum) between the backward
 * pass and Adam, so every rank takes the same Adam step, that of the
 * global batch.  The supcon loss, which compares every input of the
 * batch with every other, gathers the batch's embeddings first (a sum
 * of 2 * total * embed_dim floats) and needs the global batch's 2 *
 * total ids in siam_batch.ids.  The loss and gradients are checked for
 * finiteness after the sum, so every rank agrees on SIAM_EDIVERGED.
 * c (borrowed) NULL: one process, the step as it always was. */
void siam_trainer_set_comm(siam_trainer *t, const siam_train_comm *c,
                           int first, int total);

/* The input of the next step on n pairs (triplets): *in is a buffer of
 * (k * n, input_size) floats, k = 3 for the triplet loss, else 2, for
 * the caller to fill side by side -- all n first inputs (anchors), then
 * all n second ones, then (triplets) the negatives.  It is the net's own
 * input buffer: valid until the step, or until the net runs another
 * forward.  On error (n < 1, ENOMEM) *in is NULL. */
int siam_trainer_input(siam_trainer *t, int n, float **in,
                       siam_error *err);

/* What a step needs besides the inputs; fields its loss does not use
 * are ignored (b may be NULL for plain triplets). */
typedef struct siam_batch {
	const float *y;   /* contrastive: n labels, 1 = same, 0 = different */
	const int *ids;   /* supcon: 2n ids, what each input shows; every
	                   * other input is a negative unless its id is
	                   * the same (split over ranks: the global
	                   * batch's, siam_trainer_set_comm) */
	int ninst;        /* triplet: the last ninst triplets are instance
	                   * triplets, measured with instance_margin; each
	                   * part's mean loss is weighted by its share */
} siam_batch;

/* One step on the input of the last siam_trainer_input: one forward of
 * all k * n inputs as one batch, the loss (its mean in *loss), one
 * backward -- both (all three) sides' gradients accumulate into the
 * shared weights' -- and, if the loss and every gradient are finite,
 * one Adam update and one update of the moving average.  SIAM_EDIVERGED
 * otherwise: *loss holds the loss and nothing a run keeps changed
 * (weights, moments, Adam's step count, the average).  The same inputs,
 * weights and state give the same bits. */
int siam_trainer_step(siam_trainer *t, const siam_batch *b, float *loss,
                      siam_error *err);

/* ------------------------------------------------------------------ */
/* IDX files (MNIST, Fashion-MNIST), plain or .gz                      */

typedef struct siam_idx {
	int n, rows, cols;     /* rows = cols = 0 for a label file */
	unsigned char *data;   /* n*rows*cols pixels or n labels; owned */
} siam_idx;

/* Reads an IDX file (ubyte images, magic 0x00000803, or labels, 0x801);
 * a path ending in .gz is inflated.  The header is checked against the
 * data size. */
int siam_idx_load(siam_idx *out, const char *path, siam_error *err);
void siam_idx_release(siam_idx *idx);

/* ------------------------------------------------------------------ */
/* Training and evaluation (src/train/)                                */

/* A data set: n items, each loadable as the network's input tensor.
 * Every source sits behind this one struct, so the trainer never asks
 * where items come from:
 *   mnist:DIR    IDX files (MNIST, Fashion-MNIST), plain or .gz:
 *                train-images-idx3-ubyte + train-labels-idx1-ubyte, or
 *                t10k-* for the test split
 *   folder:DIR   one sub-folder per class, any image stb_image decodes
 *   augment:DIR  every image under DIR (recursive), unlabelled
 * An unlabelled set (labels == NULL) counts each item as its own class;
 * the trainer makes its positive pairs from two random augmentations of
 * one item. */
typedef struct siam_data siam_data;
struct siam_data {
	char *source;       /* the spec it was opened from */
	int n;              /* number of items */
	int num_classes;    /* labels lie in [0, num_classes); 0: unlabelled */
	int *labels;        /* n labels, or NULL when unlabelled */
	char **class_names; /* num_classes names: "0".."9", folder names */
	int c, h, w;        /* shape of one loaded item */
	float fill;         /* input value of a blank pixel (augment pads) */
	int nbad;           /* files skipped (folder, augment) */
	char **bad;         /* nbad messages "PATH: reason" */
	/* Writes item i (0 <= i < n) as c*h*w floats of network input.
	 * Safe to call from several threads at once. */
	int (*load)(const siam_data *d, int i, float *out, siam_error *err);
	/* Frees ctx; called by siam_data_free. */
	void (*release)(siam_data *d);
	void *ctx;
};

typedef enum siam_split { SIAM_SPLIT_TRAIN, SIAM_SPLIT_TEST } siam_split;

/* Adjusts pre (already holding the network's input shape) to what the
 * source spec calls for: MNIST gets mean 0.1307, std 0.3081 and the
 * digit convention; Fashion-MNIST (a path naming "fashion") its own
 * mean and std without it.  Other sources leave pre as it is. */
void siam_data_suggest_preproc(siam_preproc *pre, const char *spec);

/* Opens "KIND:PATH" (see above) for the split; items come out as pre
 * describes.  In folder and augment sources, what cannot be used is
 * listed in bad[], not fatal: unreadable images, and what the walk
 * (siam_walk, as the indexer's) skips or cannot follow, such as special
 * files, dangling links, links back to a folder already walked (loops)
 * and paths the system refuses as too long.  Dot files are left out.
 * The walk has no depth limit.  A source with no usable item is
 * SIAM_EINVAL.  mnist ignores pre->digit: IDX digits are already in
 * the MNIST convention and are only normalised (and resized if the
 * network's input is not 28x28). */
int siam_data_open(siam_data **out, const char *spec, siam_split split,
                   const siam_preproc *pre, siam_error *err);
/* n items held in memory: x (n, c*h*w) and labels (n, or NULL for
 * unlabelled) are copied.  For tests and for programs with their own
 * loaders. */
int siam_data_from_memory(siam_data **out, const float *x,
                          const int *labels, int n, int num_classes, int c,
                          int h, int w, siam_error *err);
void siam_data_free(siam_data *d);

/* Parses a class list against d's classes into mask (num_classes
 * bytes, 1 = selected): comma-separated numbers, ranges "0-4" or class
 * names.  NULL or "" selects every class.  SIAM_EINVAL names the bad
 * item. */
int siam_data_parse_classes(const siam_data *d, const char *list,
                            unsigned char *mask, siam_error *err);

/* Random small affine distortions, applied to one network input. */
typedef struct siam_augment {
	float shift;     /* max translation, fraction of width/height */
	float rotate;    /* max rotation, degrees */
	float scale;     /* max relative scale change */
	float bright;    /* max brightness change, in input units (0 = off) */
	float contrast;  /* max relative contrast change (0 = off) */
	float elastic;   /* elastic distortion strength alpha, in pixels
	                  * (Simard et al. 2003; 0 = off) */
	float sigma;     /* smoothness of the elastic field, in pixels */
	/* Photo edits, the changes people make to copies (all 0 = off).
	 * They assume inputs whose black is fill and white fill + 1 (the
	 * folder: and augment: preprocessing).  With all of them off no
	 * random number is drawn for them: a run that does not ask for
	 * them is the run it was before they existed. */
	float flip;       /* probability of a left-right mirror */
	float crop;       /* random resized crop: area uniform in [crop, 1]
	                   * of the image, aspect 3:4 to 4:3, anywhere */
	float brightness; /* max relative change of the pixel values */
	float saturation; /* max relative change of the saturation */
	float gray;       /* probability of grayscale */
	float jpeg;       /* probability of a JPEG round trip, quality
	                   * uniform in 20..95 */
	float blur;       /* half the views: Gaussian blur of std uniform
	                   * in [0, blur] pixels */
	float downscale;  /* half the views: shrunk by a factor uniform in
	                   * [downscale, 1] and enlarged back */
	float edge;       /* probability that the rotation fills with the
	                   * nearest edge pixel instead of fill (black) */
	float overlay;    /* probability of a line of text (5x7 font) in a
	                   * corner, black or white */
	float pad;        /* half the views: a black or white border of up
	                   * to pad of the height (width) on each side, the
	                   * picture shrunk inside it */
} siam_augment;

/* shift 0.1, rotate 12, scale 0.1, no photometric or elastic change
 * (sigma 4 for when elastic is set), no photo edit. */
void siam_augment_default(siam_augment *a);
/* Parses a comma-separated list of NAME=VALUE items (the fields above:
 * shift, rotate, scale, bright, contrast, elastic, sigma, flip, crop,
 * brightness, saturation, gray, jpeg, blur, downscale, edge, overlay,
 * pad) and presets ("photo": the mix for near-duplicate photos, see
 * siam_augment_photo) into a, starting from siam_augment_default.
 * Items apply left to right, so "photo,jpeg=0" is the preset without
 * JPEG.  NULL or "" gives the default.  SIAM_EINVAL names the bad item
 * (unknown name, value not a number, out of range: probabilities and
 * crop/downscale in [0, 1], pad in [0, 0.4], others in [0, 1000]). */
int siam_augment_parse(siam_augment *a, const char *list, siam_error *err);
/* The "photo" preset: no shift or scale (the crop does both), rotation
 * up to 5 degrees (edge fill half the time), flip 0.5, crop 0.5,
 * brightness, contrast 0.2, saturation 0.3, gray 0.1, jpeg 0.4, blur 1,
 * downscale 0.4, overlay 0.15, pad 0.12. */
void siam_augment_photo(siam_augment *a);
/* out = a random distortion of inp, both (c,h,w): the affine change
 * (bilinear, pixels from outside the image are fill, or the nearest
 * edge), brightness and contrast, then the photo edits.  out and inp
 * must differ.  Should memory run out, the elastic field or the photo
 * edits are skipped for this image.  out NULL: only the random numbers
 * are drawn, the same as for an image (inp is not read), so that a
 * rank of a data-parallel run keeps the stream of the inputs it skips. */
void siam_augment_apply(float *out, const float *inp, int c, int h, int w,
                        float fill, const siam_augment *a, siam_rng *rng);

/* Pair and triplet sampling from a pool of items (indices into a data
 * set) with their labels.  Unlabelled items (labels NULL) are each
 * their own class: a "same" pair is an item with itself. */
typedef struct siam_sampler siam_sampler;

/* labels may be NULL; pool lists the n usable items.  Fails with
 * SIAM_EINVAL if the pool has fewer than two classes. */
int siam_sampler_create(siam_sampler **out, const int *labels,
                        const int *pool, int n, siam_error *err);
void siam_sampler_free(siam_sampler *s);
/* One pair.  same = 1: an anchor uniform over the pool and a partner of
 * its class (another item when the class has one); same = 0: an anchor
 * uniform over the pool and a partner from another class chosen
 * uniformly over the other classes, its item uniform in that class. */
void siam_sampler_pair(siam_sampler *s, siam_rng *rng, int same, int *a,
                       int *b);
/* One triplet: anchor, positive of its class, negative of another. */
void siam_sampler_triplet(siam_sampler *s, siam_rng *rng, int *a, int *p,
                          int *n);
/* An instance triplet: an anchor, itself as the positive (to be seen
 * through another distortion) and another item of its class as the
 * negative (the anchor itself when its class has one item). */
void siam_sampler_instance(siam_sampler *s, siam_rng *rng, int *a, int *p,
                           int *n);

/* The evaluation protocol's pairs: every pool item in turn with one
 * partner of its class and one of another class (drawn as above), from
 * a generator seeded by seed: 2n pairs, half of them "same".  Items of
 * a class with a single member get no same pair.  *a, *b and *same are
 * malloc'ed; the caller frees them. */
int siam_eval_pairs(int **a, int **b, unsigned char **same, size_t *npairs,
                    const int *labels, const int *pool, int n,
                    uint64_t seed, siam_error *err);

/* Verification figures for n distances with their truth (same[i] = 1:
 * the pair belongs together).  A pair is called "same" when its
 * distance is below the threshold. */
typedef struct siam_verif {
	size_t pairs, positives;
	float threshold;       /* the threshold accuracy was measured at */
	double accuracy;       /* at threshold */
	double auc;            /* ROC AUC, exact: Mann-Whitney, ties 1/2 */
	double eer;            /* equal error rate */
	float eer_threshold;
	double tar_at_far;     /* true accept rate at FAR <= 1e-3 */
	float best_threshold;  /* the threshold that maximises accuracy */
	double best_accuracy;
} siam_verif;

int siam_verif_compute(siam_verif *out, const float *dist,
                       const unsigned char *same, size_t n, float threshold,
                       siam_error *err);
/* The single figures, for callers that need one (each sorts a copy;
 * they return a negative value when they cannot allocate). */
double siam_accuracy_at(const float *dist, const unsigned char *same,
                        size_t n, float threshold);
double siam_roc_auc(const float *dist, const unsigned char *same, size_t n);
/* EER: the error where FAR (different pairs accepted) and FRR (same
 * pairs rejected) meet; at the threshold where |FAR - FRR| is least it
 * is (FAR + FRR) / 2.  thr (may be NULL) receives that threshold. */
double siam_eer(const float *dist, const unsigned char *same, size_t n,
                float *thr);
/* The largest fraction of same pairs accepted by a threshold that
 * accepts at most far of the different pairs. */
double siam_tar_at_far(const float *dist, const unsigned char *same,
                       size_t n, double far);
/* The threshold (midway between two neighbouring distances) that
 * maximises accuracy; *acc (may be NULL) receives that accuracy. */
float siam_best_threshold(const float *dist, const unsigned char *same,
                          size_t n, double *acc);

/* 1-nearest-neighbour accuracy of nq queries (nq, D) against ng gallery
 * vectors (ng, D) under Euclidean distance, distances by siam_sgemm in
 * blocks.  self = 1 when the queries are the gallery: a query then
 * never matches itself. */
int siam_nn1_accuracy(double *acc, const float *q, const int *qlabels,
                      int nq, const float *g, const int *glabels, int ng,
                      int D, int self, siam_error *err);
/* N-way one-shot accuracy: each of trials draws way distinct classes
 * from classes[0..nclasses), one support item per class and one query
 * from one of them (not its support); correct when the query's nearest
 * support is of its class.  Seeded; SIAM_EINVAL if fewer than way
 * classes have two items. */
int siam_oneshot_accuracy(double *acc, const float *emb, const int *labels,
                          int n, int D, const int *classes, int nclasses,
                          int way, int trials, uint64_t seed,
                          siam_error *err);

/* Embeds items[0..n) of d (all of d if items is NULL) into out (n, D),
 * in batches, each over `views` views (1: the items as they are; see
 * siam_net_embed_views). */
int siam_embed_data(siam_net *net, const siam_data *d, const int *items,
                    int n, int views, float *out, siam_error *err);

/* The training loop (src/train/train.c): epochs of siam_trainer_step.
 * The loss is one of SIAM_LOSS_* (see the trainer). */
enum { SIAM_TRAIN_STEP = 0, SIAM_TRAIN_EPOCH = 1, SIAM_TRAIN_VALIDATE = 2 };

typedef struct siam_train_status {
	int event;          /* SIAM_TRAIN_STEP after every step,
	                     * SIAM_TRAIN_VALIDATE before validating,
	                     * SIAM_TRAIN_EPOCH after each epoch */
	int epoch, epochs;  /* 1-based */
	long step, steps;   /* steps done in this epoch, steps per epoch */
	long pairs;         /* pairs (or triplets) done in this epoch */
	double loss;        /* mean loss over this epoch's steps so far */
	double seconds;     /* training time in this epoch so far */
	/* SIAM_TRAIN_EPOCH only (-1 when there is no validation): */
	double val_accuracy; /* at the best threshold on validation pairs */
	double val_auc;
	float val_threshold;
	int best_epoch;      /* the epoch kept so far */
	/* SIAM_TRAIN_STEP only: the weights the step left (not the moving
	 * average), read-only, valid during the call. */
	const float *weights;
	size_t nweights;
} siam_train_status;

/* Returns non-zero to stop: the loop saves a checkpoint (if opts say
 * where) and returns SIAM_EINTR. */
typedef int (*siam_train_callback)(void *arg, const siam_train_status *st);

#define SIAM_COPIES_DEFAULT 8

typedef struct siam_train_opts {
	int epochs;            /* default 10 */
	int batch;             /* pairs (triplets) per step; default 64 */
	long pairs;            /* per epoch; 0 = one per training image */
	float lr;              /* Adam learning rate; default 1e-3 */
	float margin;          /* default 1 */
	float temperature;     /* supcon only; default 0.1 */
	float weight_decay;    /* decoupled, AdamW; default 0 */
	int loss;              /* SIAM_LOSS_*; default contrastive */
	uint64_t seed;         /* default 1 */
	int threads;           /* siam_set_threads(threads); 0 = leave as is */
	float val_split;       /* fraction of images held out; default 0.1 */
	const char *classes;   /* train on these classes only; NULL = all */
	int augment;           /* 1: distort inputs with aug */
	siam_augment aug;
	int lr_decay;          /* 1: cosine decay of lr to 0 over the run */
	/* > 0: validate, keep and save an exponential moving average of
	 * the weights, updated after every step with this decay (e.g.
	 * 0.98), instead of the weights themselves.  The average is
	 * smoother than any single step's weights: the epoch-to-epoch
	 * jitter of what a model does on classes it never saw drops. */
	float ema;
	/* Validate, and have the model embed, over this many views (1, 5
	 * or 9, each also mirrored with SIAM_VIEWS_FLIP; see
	 * siam_net_embed_views), so that the threshold is
	 * calibrated on the distances the model will measure.  Training
	 * steps see single views.  Default 1. */
	int views;
	/* Triplet loss only: this fraction of each batch are instance
	 * triplets (siam_sampler_instance) with their own margin, so that
	 * images of one class stay apart by their shapes instead of
	 * collapsing to a point: detail the known classes do not need but
	 * unseen classes do.  Implies augmentation. */
	float instance;
	float instance_margin;
	/* This fraction of anchors (and of negatives) are glyphs: parts of
	 * images of two training classes joined (top over bottom or left
	 * beside right), each combination a class of its own (see
	 * src/train/glyph.c).  Extra classes for a model that must work on
	 * classes it never saw.  Labelled data only; not with instance. */
	float glyphs;
	/* Unlabelled data only: images whose inputs are identical, or whose
	 * perceptual hashes (siam_phash of the input) differ in at most
	 * this many of 64 bits, are one class, so copies already in the
	 * folder are never each other's negatives (src/train/copies.c).
	 * -1: every image its own class.  Default SIAM_COPIES_DEFAULT. */
	int copies;
	const char *checkpoint; /* where an interrupted run saves; NULL: none */
	const char *resume;     /* a checkpoint to continue from; NULL: none */
	const char *config;     /* text stored in checkpoints verbatim (the
	                         * command line), see siam_checkpoint_config */
	siam_train_callback progress; /* may be NULL */
	void *progress_arg;
	/* > 0: stored as "near_threshold" in the model's metadata, the
	 * distance under which siam dedup calls two images near-duplicates
	 * (chosen by the caller, e.g. on a benchmark's tuning split);
	 * 0: none stored.  Default 0. */
	double near_threshold;
	/* Data parallel (mpirun): the ranks of the run, each of which calls
	 * siam_train with the same options and data; each takes its slice
	 * of every batch.  Rank 0 alone validates, writes the checkpoint
	 * (also at the end of every epoch) and holds the model to save;
	 * the others' m is not the model.  The batch must be at least the
	 * rank count.  NULL: one process. */
	const siam_train_comm *comm;
} siam_train_opts;

void siam_train_opts_default(siam_train_opts *o);

/* Trains m->net on d as opts say: samples balanced pairs (or triplets)
 * from the training classes every epoch, holds out val_split of the
 * images for validation every epoch, keeps the epoch with the best
 * validation accuracy (ties: AUC), then sets m->threshold to the
 * distance that maximises validation accuracy, m->margin, and m->meta
 * to JSON describing the run and its validation figures.  The caller
 * saves the model.  The same seed and thread count give the same model,
 * resumed or not.  On SIAM_EINTR the model holds the current (not the
 * best) weights.  Every step is siam_trainer_step; on SIAM_EDIVERGED
 * (a loss or gradient not finite) the model holds the weights before
 * that step, and the message names the epoch and step. */
int siam_train(siam_model *m, const siam_data *d, const siam_train_opts *o,
               siam_error *err);

/* Reads the config text stored in a checkpoint; *config is malloc'ed. */
int siam_checkpoint_config(const char *path, char **config,
                           siam_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SIAM_NN_H_PUBLIC */
