#!/usr/bin/python3
"""serve_peer.py -- the Python peer of bench/bench_serve.sh: the stack the
original prototype was written in.  A Flask app (Debian's python3-flask),
served by gunicorn with several worker processes, answering POST
/api/verify (multipart fields a and b) with {distance, threshold, same}
from PyTorch (python3-torch) running the same architecture with the same
weights, read from a siam model file:

  conv 5x5x32 -> ReLU -> maxpool 2 -> conv 5x5x64 -> ReLU -> maxpool 2
  -> dense 256 -> ReLU -> dense 64

and the same preprocessing, the MNIST convention (grayscale, ink made
white on black, cropped to the ink, fitted into 20x20 with area
averaging, centred by its centre of mass in 28x28, normalised), written
in NumPy and Pillow as such an app would.

  SIAM_PEER_MODEL=models/mnist.siam gunicorn -w 2 --chdir bench serve_peer:app
  /usr/bin/python3 bench/serve_peer.py MODEL A B   # prints the distance
"""
import io
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

from torch_siamese import Net  # the same network as bench_train's peer

torch.set_num_threads(1)  # one process per core: gunicorn's workers


def load_siam_model(path):
    """The siam model file (siam.h): magic, version, header (key=value
    lines), meta JSON, the float32 parameters (each layer's weights then
    its bias, torch's layouts), CRC-32."""
    data = open(path, "rb").read()
    if data[:8] != b"SIAMMODL":
        raise ValueError(path + ": not a siam model")
    off = 12
    hlen = struct.unpack_from("<I", data, off)[0]
    off += 4
    header = dict(l.split("=", 1) for l in data[off:off + hlen].decode().splitlines() if "=" in l)
    off += hlen
    mlen = struct.unpack_from("<I", data, off)[0]
    off += 4 + mlen
    n = struct.unpack_from("<Q", data, off)[0]
    off += 8
    params = np.frombuffer(data, "<f4", n, off)
    return header, params


def make_net(params):
    net = Net()
    at = 0
    with torch.no_grad():
        for p in net.parameters():
            k = p.numel()
            p.copy_(torch.from_numpy(params[at:at + k].copy()).view_as(p))
            at += k
    if at != len(params):
        raise ValueError("model is not the default architecture")
    return net.eval()


def preprocess(raw, mean, std):
    img = np.asarray(Image.open(io.BytesIO(raw)).convert("L"), np.float32)
    if img.mean() > 127:  # dark ink on light paper
        img = 255 - img
    ys, xs = np.nonzero(img > 0)
    out = np.zeros((28, 28), np.float32)
    if len(xs):
        img = img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        h, w = img.shape
        s = 20.0 / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        small = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BOX), np.float32)
        tot = small.sum()
        cy = (small.sum(1) * np.arange(nh)).sum() / tot if tot else nh / 2
        cx = (small.sum(0) * np.arange(nw)).sum() / tot if tot else nw / 2
        y0 = int(round(14 - cy))
        x0 = int(round(14 - cx))
        y0 = min(max(y0, 0), 28 - nh)
        x0 = min(max(x0, 0), 28 - nw)
        out[y0:y0 + nh, x0:x0 + nw] = small
    return (out / 255.0 - mean) / std


header, params = load_siam_model(os.environ.get("SIAM_PEER_MODEL", "models/mnist.siam"))
NET = make_net(params)
MEAN, STD = float(header.get("mean", 0)), float(header.get("std", 1))
THRESHOLD = float(header["threshold"])


def distance(a, b):
    x = torch.from_numpy(np.stack([preprocess(a, MEAN, STD), preprocess(b, MEAN, STD)])[:, None])
    with torch.no_grad():
        e = NET(x)
    return float(torch.linalg.norm(e[0] - e[1]))


try:
    from flask import Flask, jsonify, request

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 20 << 20

    @app.post("/api/verify")
    def verify():
        a, b = request.files.get("a"), request.files.get("b")
        if a is None or b is None:
            return jsonify(error="want fields a and b"), 400
        try:
            d = distance(a.read(), b.read())
        except Exception as e:  # not an image, truncated...
            return jsonify(error=str(e)), 400
        return jsonify(distance=d, threshold=THRESHOLD, same=d < THRESHOLD)
except ImportError:
    app = None

if __name__ == "__main__":
    if len(sys.argv) == 4:
        header, params = load_siam_model(sys.argv[1])
        NET = make_net(params)
        MEAN, STD = float(header.get("mean", 0)), float(header.get("std", 1))
        print("%.6g" % distance(open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()))
