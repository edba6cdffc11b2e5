#!/usr/bin/python3
"""torch_siamese.py -- PyTorch's side of bench/bench_train.sh.

The same Siamese network, loss, optimiser, batch size and thread count as
siam's default (bench/bench_train.c):

  conv 5x5x32 -> ReLU -> maxpool 2 -> conv 5x5x64 -> ReLU -> maxpool 2
  -> dense 256 -> ReLU -> dense 64

contrastive loss  y d^2 + (1 - y) max(0, margin - d)^2  (mean over the
batch), Adam lr 1e-3, both sides of a batch of pairs stacked into one
forward pass as siam does.  Trains one epoch of balanced pairs, then embeds
the 10,000 test images at batch 256 and at batch 1.  Prints the same
"key value" lines as bench_train.

  /usr/bin/python3 bench/torch_siamese.py MNIST_DIR [threads [pairs [batch]]]
"""
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def load_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    n = int.from_bytes(data[4:8], "big")
    if magic == 0x803:
        r = int.from_bytes(data[8:12], "big")
        c = int.from_bytes(data[12:16], "big")
        return np.frombuffer(data, np.uint8, n * r * c, 16).reshape(n, 1, r, c)
    return np.frombuffer(data, np.uint8, n, 8)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
            nn.Linear(256, 64))

    def forward(self, x):
        return self.f(x)


def contrastive(a, b, y, margin=1.0):
    d2 = ((a - b) ** 2).sum(1)
    d = torch.sqrt(d2 + 1e-12)
    return (y * d2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2).mean()


def balanced_pairs(labels, n, rng):
    """Half same-class pairs, half different with the other class uniform,
    as siam samples them."""
    by = [np.flatnonzero(labels == c) for c in range(10)]
    a = rng.integers(0, len(labels), n)
    b = np.empty(n, np.int64)
    y = np.zeros(n, np.float32)
    for k in range(n):
        c = labels[a[k]]
        if k % 2 == 0:
            b[k] = by[c][rng.integers(0, len(by[c]))]
            y[k] = 1
        else:
            o = rng.integers(0, 9)
            o = o + 1 if o >= c else o
            b[k] = by[o][rng.integers(0, len(by[o]))]
    return a, b, y


def main():
    d = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    npairs = int(sys.argv[3]) if len(sys.argv) > 3 else 60000
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    xtr = load_idx(os.path.join(d, "train-images-idx3-ubyte"))
    ytr = load_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    xte = load_idx(os.path.join(d, "t10k-images-idx3-ubyte"))
    norm = lambda x: torch.from_numpy(
        ((x.astype(np.float32) / 255.0) - 0.1307) / 0.3081)
    xtr, xte = norm(xtr), norm(xte)

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    a, b, y = balanced_pairs(ytr, npairs, rng)
    steps = (npairs + batch - 1) // batch
    net.train()
    t0 = time.perf_counter()
    loss_sum = 0.0
    for s in range(steps):
        i = slice(s * batch, min(npairs, (s + 1) * batch))
        n = i.stop - i.start
        x = torch.cat([xtr[a[i]], xtr[b[i]]])   # both sides, one batch
        e = net(x)
        loss = contrastive(e[:n], e[n:], torch.from_numpy(y[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.item()
    secs = time.perf_counter() - t0
    print("torch_version %s" % torch.__version__)
    print("threads %d\nbatch %d\npairs %d" % (threads, batch, npairs))
    print("train_seconds %.3f" % secs)
    print("train_pairs_per_s %.1f" % (npairs / secs))
    print("train_loss %.5f" % (loss_sum / steps))

    net.eval()
    with torch.no_grad():
        for bs in (256, 1):
            net(xte[:bs])  # warm-up
            t0 = time.perf_counter()
            for s in range(0, len(xte), bs):
                net(xte[s:s + bs])
            secs = time.perf_counter() - t0
            print("embed%d_images_per_s %.1f" % (bs, len(xte) / secs))


if __name__ == "__main__":
    main()
