#!/usr/bin/env python3
"""Makes examples/digits/ from the MNIST test set (run once; the PNGs are
committed).  Standard library only.

    python3 examples/make_examples.py DIR_WITH_t10k_IDX_FILES

For each digit 0-9: the first ten test images of that digit as 28x28 PNGs
(white ink on black, as MNIST has them), named mnist-NNNN.png after their
index in the test set, and one more test digit drawn the way a person
would photograph or scan one: 200x200, dark ink on white paper, off
centre, thickened and slightly blurred (drawn-NNNN.png).  Every image
sits in digits/<label>/, so `siam index` labels it with its digit.
"""
import os
import struct
import sys
import zlib


def read_idx(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    ndim = magic & 0xff
    dims = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def write_png(path, w, h, rows):
    """8-bit grayscale PNG; rows is a list of h bytes objects of w bytes."""
    raw = b''.join(b'\x00' + bytes(r) for r in rows)

    def chunk(tag, body):
        c = struct.pack('>I', len(body)) + tag + body
        return c + struct.pack('>I', zlib.crc32(tag + body) & 0xffffffff)
    png = (b'\x89PNG\r\n\x1a\n' +
           chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) +
           chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))
    with open(path, 'wb') as f:
        f.write(png)


def drawn(px, size=200, scale=5, ox=47, oy=31):
    """A 28x28 MNIST digit as dark ink on white, bilinear-scaled,
    thickened by a 3x3 max, blurred by a 3x3 mean, placed off centre."""
    big = [[0.0] * (28 * scale) for _ in range(28 * scale)]
    for y in range(28 * scale):
        for x in range(28 * scale):
            fy, fx = (y + 0.5) / scale - 0.5, (x + 0.5) / scale - 0.5
            y0, x0 = int(fy // 1), int(fx // 1)
            ty, tx = fy - y0, fx - x0
            v = 0.0
            for dy, wy in ((0, 1 - ty), (1, ty)):
                for dx, wx in ((0, 1 - tx), (1, tx)):
                    yy, xx = y0 + dy, x0 + dx
                    if 0 <= yy < 28 and 0 <= xx < 28:
                        v += wy * wx * px[yy * 28 + xx]
            big[y][x] = v
    n = 28 * scale

    def filt(img, op):
        out = [[0.0] * n for _ in range(n)]
        for y in range(n):
            for x in range(n):
                vals = [img[yy][xx] for yy in range(max(0, y - 1), min(n, y + 2))
                        for xx in range(max(0, x - 1), min(n, x + 2))]
                out[y][x] = op(vals)
        return out
    big = filt(big, max)
    big = filt(big, lambda v: sum(v) / len(v))
    rows = []
    for y in range(size):
        row = bytearray(size)
        for x in range(size):
            yy, xx = y - oy, x - ox
            ink = big[yy][xx] if 0 <= yy < n and 0 <= xx < n else 0.0
            # paper is not pure white; ink is not pure black
            row[x] = int(round(235 - ink * 200 / 255))
        rows.append(row)
    return rows


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else '/tmp/mnist/package/data'
    (n, h, w), pix = read_idx(os.path.join(src, 't10k-images-idx3-ubyte'))
    (_,), lab = read_idx(os.path.join(src, 't10k-labels-idx1-ubyte'))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'digits')
    taken = {d: [] for d in range(10)}
    for i in range(n):
        d = lab[i]
        if len(taken[d]) < 11:
            taken[d].append(i)
        if all(len(v) == 11 for v in taken.values()):
            break
    for d in range(10):
        folder = os.path.join(out, str(d))
        os.makedirs(folder, exist_ok=True)
        for i in taken[d][:10]:
            px = pix[i * 784:(i + 1) * 784]
            write_png(os.path.join(folder, 'mnist-%04d.png' % i), 28, 28,
                      [px[r * 28:(r + 1) * 28] for r in range(28)])
        i = taken[d][10]
        write_png(os.path.join(folder, 'drawn-%04d.png' % i), 200, 200,
                  drawn(pix[i * 784:(i + 1) * 784]))


if __name__ == '__main__':
    main()
