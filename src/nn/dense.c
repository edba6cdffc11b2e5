/*
 * dense.c -- the fully connected layer, one GEMM per pass.  Its input is
 * read as (B, IN) whatever its (C,H,W) shape was: that is the flatten.
 */
#include "nn.h"

void siam_dense_forward(float *out, const float *inp, const float *w,
                        const float *b, int B, int IN, int OUT)
{
	// inp is (B,IN), w is (OUT,IN), b is (OUT), out is (B,OUT)
	for (int i = 0; i < B; i++)
		for (int o = 0; o < OUT; o++)
			out[(size_t)i * OUT + o] = b[o];
	// out += inp . w^T
	siam_sgemm(0, 1, B, OUT, IN, 1.0f, inp, IN, w, IN, 1.0f, out, OUT);
}

/* A GEMM's rounding depends on its shape (OpenBLAS picks its kernel by
 * size, and they sum in different orders), so a row's output in a GEMM
 * of B rows differs in its last bits from the same row's alone.  An
 * embedding must not depend on its batch (see the top of conv.c): so
 * each row is one GEMV of the same shape.  A GEMV, not a one-row GEMM:
 * OpenBLAS's Haswell kernels pack all of w for every GEMM call, and one
 * row of the default net's fc256 then took 218 us against 34 us by
 * GEMV (the Cooperlake kernels: both about 30 us, loaded machine). */
void nn_dense_forward_each(float *out, const float *inp, const float *w,
                           const float *b, int B, int IN, int OUT)
{
	// inp is (B,IN), w is (OUT,IN), b is (OUT), out is (B,OUT)
	for (int i = 0; i < B; i++) {
		float *o = out + (size_t)i * OUT;
		for (int k = 0; k < OUT; k++)
			o[k] = b[k];
		nn_sgemv(OUT, IN, 1.0f, w, IN, inp + (size_t)i * IN, 1.0f, o);
	}
}

void nn_dense_backward_input(float *dinp, const float *dout, const float *w,
                             int B, int IN, int OUT)
{
	// dout is (B,OUT); dinp (B,IN) += dout . w
	siam_sgemm(0, 0, B, IN, OUT, 1.0f, dout, OUT, w, IN, 1.0f, dinp, IN);
}

void nn_dense_backward_params(float *dw, float *db, const float *dout,
                              const float *inp, int B, int IN, int OUT)
{
	// dw (OUT,IN) += dout^T . inp; db (OUT) += the column sums of dout
	siam_sgemm(1, 0, OUT, IN, B, 1.0f, dout, OUT, inp, IN, 1.0f, dw, IN);
	for (int i = 0; i < B; i++)
		for (int o = 0; o < OUT; o++)
			db[o] += dout[(size_t)i * OUT + o];
}

void siam_dense_backward(float *dinp, float *dw, float *db, const float *dout,
                         const float *inp, const float *w, int B, int IN,
                         int OUT)
{
	if (dinp)
		nn_dense_backward_input(dinp, dout, w, B, IN, OUT);
	nn_dense_backward_params(dw, db, dout, inp, B, IN, OUT);
}

void nn_dense_forward_ref(float *out, const float *inp, const float *w,
                          const float *b, int B, int IN, int OUT)
{
	for (int i = 0; i < B; i++)
		for (int o = 0; o < OUT; o++) {
			double s = b[o];
			for (int k = 0; k < IN; k++)
				s += (double)inp[(size_t)i * IN + k] *
				     w[(size_t)o * IN + k];
			out[(size_t)i * OUT + o] = (float)s;
		}
}
