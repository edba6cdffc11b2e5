/*
 * nn.h -- what src/nn/ shares between its files; not installed, not
 * exported from libsiam.
 */
#ifndef SIAM_NN_H
#define SIAM_NN_H

#include "internal.h"

/* The trainer writes its stacked batch straight into the net's input
 * buffer instead of copying it twice.  nn_net_input grows the net's
 * buffers to B samples and returns the (B, input_size) input buffer, or
 * NULL on ENOMEM; nn_net_forward_input then runs the forward on it. */
SIAM_HIDDEN float *nn_net_input(siam_net *net, int B, siam_error *err);
SIAM_HIDDEN const float *nn_net_forward_input(siam_net *net, int B);

#endif
