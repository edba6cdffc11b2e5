#!/bin/sh
# bench/bench_photo.sh -- indexing a folder of camera-sized JPEGs: siam
# side by side with a Python peer doing what Python photo tools do, and
# peak memory for 12- and 50-megapixel pictures against small ones.
#
#   sh bench/bench_photo.sh [N [THREADS]]        (from the build directory;
#                                                 `make bench-photo`)
#
# The pictures: N (default 60) JPEGs of 4000x3000 at quality 90, made
# with Pillow from real photographs (the ones inside Debian's
# gcompris-qt-data, fetched with `apt-get download` into
# $PHOTO_CACHE, default /tmp/siam-photo-corpus; or any folder of photos
# given as $PHOTO_DIR): each enlarged, cropped and mirrored differently,
# with a little sensor-like noise so that the files carry a camera
# picture's detail (and entropy-decoding cost), not a smooth enlargement
# ($NOISE, default 10; NOISE=0 gives smooth enlargements, ~4x cheaper to
# entropy-decode, like the files issue 14 was measured on).
# (Never a wallpaper package: those are kept for independent checks.)
#
# siam: `siam index --threads THREADS` (default 2) with a 3x32x32 model
# made by tests/mkmodel, under /usr/bin/time -v: files/s, peak RSS and
# the time split from --json (read, decode, resize, embed, write).
#
# The Python peer (python3-pil): a multiprocessing pool of THREADS
# processes; per file the same work as siam's decoders: read the bytes,
# SHA-256 them, Image.draft('RGB', (32, 32)) (libjpeg-turbo's DCT
# scaling, as siam), convert, a 32x32 box resize for the model and a
# gray 32x32 one for the perceptual hash, a float array normalised.  It
# does not embed (no network): siam's embedding is counted in its own
# time, so the comparison leans in Python's favour.
#
# The floor: libjpeg-turbo's own decode at 1/8 of the same files (what
# Pillow's draft mode runs; almost all of it entropy decoding), timed by
# bench/bench_jpeg on one thread beside siam's decoder (src/image/
# jpeg_dc.c, which steps over AC coefficients faster than libjpeg and
# gives its pixels), as files/s times THREADS, and the share of it siam
# index reaches (above 100%: faster than libjpeg-turbo could decode);
# CPU model and load average before and after (the machine may be
# shared: compare ratios from the same run).
#
# Memory: folders of 6 JPEGs of 640x480, 4000x3000 and 8660x5774
# (50 Mpx), and of 6 progressive 50 Mpx ones (4:2:0 and 4:4:4, which
# siam decodes at 1/8 from their DC coefficients: libjpeg would keep all
# their coefficients, 150 and 300 MB), are indexed with the same model;
# the peak RSS must not grow with the picture size beyond one decoded
# (scaled) picture per thread.
#
# OPENBLAS_CORETYPE is printed as found: set or unset, it is reported.
set -eu
N=${1:-60}
THREADS=${2:-2}
B=$(pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SIAM=${SIAM:-$B/siam}
PY=${PYTHON:-/usr/bin/python3}
CACHE=${PHOTO_CACHE:-/tmp/siam-photo-corpus}
T=$(mktemp -d /tmp/siam-bench-photo-XXXXXX)
trap 'rm -rf "$T"' EXIT

[ -x "$SIAM" ] || { echo "no siam binary at $SIAM (run from the build directory)"; exit 2; }
"$PY" -c 'import PIL' 2>/dev/null || { echo "no Pillow: apt-get install python3-pil"; exit 2; }
[ -x /usr/bin/time ] || { echo "no /usr/bin/time: apt-get install time"; exit 2; }

# --- the photographs -------------------------------------------------
if [ -z "${PHOTO_DIR:-}" ]; then
	PHOTO_DIR=$CACHE/photos
	if [ ! -d "$PHOTO_DIR" ]; then
		mkdir -p "$CACHE" && (cd "$CACHE" && apt-get download gcompris-qt-data >/dev/null &&
			dpkg -x gcompris-qt-data_*.deb x)
		# The pictures live inside Qt resource files, as WebP and
		# JPEG: carve out every one of at least 400x300.
		"$PY" - "$CACHE/x" "$PHOTO_DIR" <<'PY'
import io, os, struct, sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
n = 0
def keep(b):
    global n
    try:
        im = Image.open(io.BytesIO(b))
        im.load()
        if im.width >= 400 and im.height >= 300:
            im.convert('RGB').save(os.path.join(out, '%03d.png' % n))
            n += 1
    except Exception:
        pass
for root, _, files in os.walk(src):
    for f in sorted(files):
        d = open(os.path.join(root, f), 'rb').read()
        i = d.find(b'RIFF')
        while i >= 0:
            if d[i + 8:i + 12] == b'WEBP':
                keep(d[i:i + 8 + struct.unpack('<I', d[i + 4:i + 8])[0]])
            i = d.find(b'RIFF', i + 4)
        i = d.find(b'\xff\xd8\xff')
        while i >= 0:
            keep(d[i:])
            i = d.find(b'\xff\xd8\xff', i + 3)
print('photos carved:', n)
PY
	fi
fi

# mkjpegs DIR COUNT W H [KIND]: COUNT JPEGs of W x H from the
# photographs; KIND prog420 or prog444 makes progressive ones (Pillow's
# encoder keeps their coefficients: fine here).
mkjpegs() {
	"$PY" - "$PHOTO_DIR" "$1" "$2" "$3" "$4" "${5:-}" <<'PY'
import os, random, sys
from PIL import Image, ImageChops, ImageOps
src, out, n, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
kind = sys.argv[6]
opts = {'prog420': dict(progressive=True, subsampling=2),
        'prog444': dict(progressive=True, subsampling=0)}.get(kind, {})
photos = [os.path.join(src, f) for f in sorted(os.listdir(src))]
if not photos:
    sys.exit('no photographs in ' + src)
os.makedirs(out, exist_ok=True)
rnd = random.Random(14)
sigma = float(os.environ.get('NOISE', '10'))
noise = Image.effect_noise((w, h), sigma).convert('RGB') if sigma > 0 else None
for i in range(n):
    im = Image.open(photos[i % len(photos)]).convert('RGB')
    # a different crop of each, enlarged to w x h
    cw, ch = im.width * rnd.uniform(0.75, 1), im.height * rnd.uniform(0.75, 1)
    x0, y0 = rnd.uniform(0, im.width - cw), rnd.uniform(0, im.height - ch)
    im = im.resize((w, h), Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch))
    if i % 2:
        im = ImageOps.mirror(im)
    if noise:
        im = ImageChops.add(im, noise, 1.0, -128)
    im.save(os.path.join(out, '%04d.jpg' % i), quality=90, **opts)
PY
}

echo "making $N JPEGs of 4000x3000 (quality 90) from $PHOTO_DIR ..."
mkjpegs "$T/photos" "$N" 4000 3000
BYTES=$(du -sb "$T/photos" | cut -f1)
echo "  $N files, $((BYTES / N / 1024)) KiB each on average"

make -s tests/mkmodel bench/bench_jpeg >/dev/null 2>&1 || true
"$B/tests/mkmodel" "$T/m.siam" "in=3x32x32 conv5x16 relu pool2 conv5x32 relu pool2 fc64"

# rss_of FILE: peak RSS in MB from /usr/bin/time -v output.
rss_of() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }

siam_run() { # siam_run DIR -> json in $T/siam.json, time -v in $T/siam.time
	rm -f "$T/db" "$T/db-wal" "$T/db-shm"
	/usr/bin/time -v "$SIAM" index --db "$T/db" --model "$T/m.siam" \
		--threads "$THREADS" --json --quiet "$1" >"$T/siam.json" 2>"$T/siam.time"
}

cat >"$T/peer.py" <<'PY'
# The Python peer: what a Python photo tool does per file.
import hashlib, io, os, sys, time
from multiprocessing import Pool
import numpy as np
from PIL import Image

SIDE = 32

def work(path):
    with open(path, 'rb') as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    im = Image.open(io.BytesIO(data))
    im.draft('RGB', (SIDE, SIDE))       # DCT scaling in libjpeg-turbo
    im = im.convert('RGB')
    x = np.asarray(im.resize((SIDE, SIDE), Image.BOX), dtype=np.float32)
    x = (x / 255.0 - 0.5) / 0.5         # the model's normalisation
    g = np.asarray(im.convert('L').resize((32, 32), Image.BOX),
                   dtype=np.float32)    # the perceptual hash's input
    return float(x.sum() + g.sum())

if __name__ == '__main__':
    d, threads = sys.argv[1], int(sys.argv[2])
    files = [os.path.join(d, f) for f in sorted(os.listdir(d))]
    t = time.time()
    with Pool(threads) as p:
        p.map(work, files, chunksize=1)
    s = time.time() - t
    print('%d %.3f' % (len(files), s))
PY

printf 'CPU: %s\n' "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p')"
printf 'OPENBLAS_CORETYPE: %s\n' "${OPENBLAS_CORETYPE:-unset}"
printf 'content: photographs enlarged to 4000x3000, noise sigma %s (NOISE)\n' "${NOISE:-10}"
printf 'load before: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'cores online: %s, threads/processes: %s\n' "$(getconf _NPROCESSORS_ONLN)" "$THREADS"

# --- side by side, 3 runs each, the median ----------------------------
: >"$T/siam.runs"
: >"$T/py.runs"
for r in 1 2 3; do
	siam_run "$T/photos"
	"$PY" - "$T/siam.json" "$(rss_of "$T/siam.time")" >>"$T/siam.runs" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); t = j['time']
print(j['indexed'] / j['seconds'], sys.argv[2], t['read'], t['decode'],
      t['resize'], t['embed'], t['write'])
PY
	/usr/bin/time -v "$PY" "$T/peer.py" "$T/photos" "$THREADS" >"$T/py.out" 2>"$T/py.time"
	set -- $(cat "$T/py.out")
	echo "$(awk -v n="$1" -v s="$2" 'BEGIN { print n / s }') $(rss_of "$T/py.time")" >>"$T/py.runs"
done

# The decoders alone, one thread, median of 5 runs over the files.
"$B/bench/bench_jpeg" -r 5 "$T"/photos/*.jpg >"$T/dec.out" || { cat "$T/dec.out"; exit 1; }

"$PY" - "$T/siam.runs" "$T/py.runs" "$N" "$THREADS" "$T/dec.out" <<'PY'
import re, sys
def rows(p):
    return [list(map(float, l.split())) for l in open(p) if l.strip()]
s, p = rows(sys.argv[1]), rows(sys.argv[2])
med = lambda v: sorted(v)[len(v) // 2]
sm = sorted(s, key=lambda r: r[0])[len(s) // 2]   # the median run
pm = sorted(p, key=lambda r: r[0])[len(p) // 2]
tot = sum(sm[2:])
print()
print('| | files/s (median of 3) | peak RSS | runs (files/s) |')
print('| --- | --- | --- | --- |')
print('| siam index | %.1f | %.0f MB | %s |' % (sm[0], sm[1], ', '.join('%.1f' % r[0] for r in s)))
print('| Python peer (Pillow draft) | %.1f | %.0f MB (largest process) | %s |' % (pm[0], pm[1], ', '.join('%.1f' % r[0] for r in p)))
print()
print('siam / Python: %.2fx' % (sm[0] / pm[0]))
print()
print('siam time split (median run, seconds summed over threads):')
print('| read + SHA-256 | decode | resize | embed | write | not decoding |')
print('| --- | --- | --- | --- | --- | --- |')
print('| %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %.0f%% |' % (
    sm[2], sm[3], sm[4], sm[5], sm[6], 100 * (tot - sm[3]) / tot))
# The floor: libjpeg-turbo's decoding alone, from bench_jpeg (one
# thread) times THREADS; and siam's decoder in the same run.
n, thr = int(sys.argv[3]), int(sys.argv[4])
dec = open(sys.argv[5]).read()
lj = re.search(r'\| libjpeg-turbo[^|]*\| ([0-9.]+) \| ([0-9.]+) \|', dec)
sd = re.search(r'\| siam_image_decode \| ([0-9.]+) \| ([0-9.]+) \|', dec)
same = re.search(r'identical pixels: (\d+) of (\d+)', dec)
print()
print('decoders alone at 1/8, one thread, the same files (bench/bench_jpeg, '
      'median of 5):')
print('| libjpeg-turbo (the floor) | siam (jpeg_dc.c) | siam / libjpeg-turbo | identical pixels |')
print('| --- | --- | --- | --- |')
print('| %s ms a file | %s ms a file | %.2fx | %s of %s files |' % (
    lj.group(1), sd.group(1), float(lj.group(1)) / float(sd.group(1)),
    same.group(1), same.group(2)))
floor = float(lj.group(2)) * thr
print()
print('the floor on %d threads: %.1f files/s; siam index reaches %.0f%% of '
      'it' % (thr, floor, 100 * sm[0] / floor))
PY
printf 'load after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

# --- memory: small, 12 Mpx and 50 Mpx pictures --------------------------
if [ "${BENCH_PHOTO_MEMORY:-1}" = 1 ]; then
	echo
	echo "peak RSS of siam index over 6 pictures of each size:"
	echo "| pictures | file size | peak RSS | files/s |"
	echo "| --- | --- | --- | --- |"
	for row in 640x480 4000x3000 8660x5774 8660x5774-prog420 \
		8660x5774-prog444; do
		size=${row%%-*}
		kind=${row#"$size"}
		kind=${kind#-}
		w=${size%x*}
		h=${size#*x}
		mkjpegs "$T/mem-$row" 6 "$w" "$h" "$kind"
		siam_run "$T/mem-$row"
		kb=$(du -sk "$T/mem-$row" | cut -f1)
		fps=$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.1f" % (j["indexed"] / j["seconds"]))' "$T/siam.json")
		echo "| $size${kind:+ $kind} | $((kb / 6)) KiB | $(rss_of "$T/siam.time") MB | $fps |"
		rm -rf "$T/mem-$row"
	done
fi
