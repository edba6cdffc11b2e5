/*
 * fuzz_ckpt.c -- libFuzzer target: the training checkpoint reader's
 * envelope (magic, version, CRC-32, the run's configuration text) via
 * siam_checkpoint_config, which siam train --resume reads first.  The
 * harness appends the right CRC-32 so that mutations reach the fields
 * behind it instead of dying at the checksum; an input whose last four
 * bytes are 0xff is written as it is, to test the checksum path too.
 * (The model inside a checkpoint is fuzz_model's.)
 */
#include "fuzz_file.h"
#include "siam.h"
#include "siam_nn.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	siam_error err = { 0, "" };
	char *config = NULL;
	unsigned char *b = malloc(len + 4);
	if (!b)
		abort();
	memcpy(b, data, len);
	size_t n = len;
	if (!(len >= 4 && !memcmp(data + len - 4, "\xff\xff\xff\xff", 4))) {
		uint32_t c = siam_crc32(0, data, len);
		for (int i = 0; i < 4; i++)
			b[len + i] = (unsigned char)(c >> (8 * i));
		n = len + 4;
	}
	if (siam_checkpoint_config(fuzz_file(b, n), &config, &err) == 0)
		free(config);
	free(b);
	return 0;
}
