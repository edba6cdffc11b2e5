#!/usr/bin/python3
"""bench/neardup.py -- the near-duplicate benchmark's helper (python3-pil,
python3-numpy): carves real photographs out of unpacked Debian data
packages, builds the benchmark (originals, edited copies, distractors;
deterministic by seed), splits it into TUNING and REPORT, computes the
dHash siam does not have, and scores each method like imagededup's
benchmark table.  bench/neardup.sh drives it; see there.

  neardup.py carve XDIR OUT [EXCLUDE [GLOB...]]
                                       photos from dpkg -x trees (none
                                       near-identical to EXCLUDE's; only
                                       paths matching a GLOB)
  neardup.py build SRC OUT [SEED]      OUT/{tuning,report,train}, truth.csv
  neardup.py score SPLITDIR DB DEDUP.json...   the table for one split
  neardup.py sweep SPLITDIR DB         thresholds on a split (TUNING only)
  neardup.py holdout BENCH P=EXTRA...  BENCH/tuning-b, a part of TUNING,
                                       and BENCH/train-heldout, the rest of
                                       TUNING's photos and the EXTRA ones
                                       (named P<name>)
  neardup.py set-threshold MODEL T     store near_threshold T in a model
                                       (siam train --near-threshold T does
                                       it at training time)

Split: an original belongs to REPORT when the first byte of the SHA-1 of
its source path (package/path[#offset]) is even, else to TUNING; the
training folder holds TUNING's images only, so REPORT's photos are never
trained on, nor used to choose a threshold, recipe or architecture.

TUNING-B (holdout): the TUNING families whose number (the carve's order)
falls in an odd block of 25, about half of TUNING.  A model trained on
train-heldout has not seen them, so its threshold and recipe can be
chosen on photographs it does not know, as REPORT's will be (a model
trained on all of TUNING and tuned there is tuned on its own training
photographs).  Blocks rather than single numbers keep neighbouring
sources, often pictures of one series, on the same side.
"""
import csv
import fnmatch
import hashlib
import io
import json
import os
import random
import sqlite3
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

EDITS = ['resize50', 'resize25', 'jpeg30', 'crop_centre', 'crop_offcentre',
         'bright', 'contrast', 'rotate', 'flip', 'watermark', 'gray',
         'blur', 'png']
MIN_SIDE = 160           # smaller pictures are icons, not photographs
MAX_SIDE = 800           # originals are scaled down to this (bench speed)


# --- carve ---------------------------------------------------------------

def _open(b):
    try:
        im = Image.open(io.BytesIO(b))
        im.load()
        return im
    except Exception:
        return None


def _photo_like(im):
    """Photographs, not icons, line art or screenshots: big enough and
    with many distinct colours."""
    if im is None or min(im.size) < MIN_SIDE:
        return False
    small = im.convert('RGB').resize((64, 64))
    return len(set(small.getdata())) > 600


def _flatten(im, key):
    """RGBA stamps are composited on a plain background chosen by key."""
    if im.mode in ('RGBA', 'LA', 'P'):
        im = im.convert('RGBA')
        h = hashlib.sha1(key.encode()).digest()
        bg = Image.new('RGBA', im.size, (h[0], h[1], h[2], 255))
        im = Image.alpha_composite(bg, im)
    return im.convert('RGB')


def _carve_blob(d):
    """Images embedded in a file (Qt .rcc resources): WebP, JPEG, PNG."""
    out = []
    i = d.find(b'RIFF')
    while i >= 0:
        if d[i + 8:i + 12] == b'WEBP':
            n = struct.unpack('<I', d[i + 4:i + 8])[0]
            out.append((i, d[i:i + 8 + n]))
        i = d.find(b'RIFF', i + 4)
    i = d.find(b'\xff\xd8\xff')
    while i >= 0:
        out.append((i, d[i:]))      # the decoder stops at its end
        i = d.find(b'\xff\xd8\xff', i + 3)
    i = d.find(b'\x89PNG\r\n\x1a\n')
    while i >= 0:
        j = d.find(b'IEND', i)
        out.append((i, d[i:j + 8] if j > 0 else d[i:]))
        i = d.find(b'\x89PNG\r\n\x1a\n', i + 8)
    return out


def _dhash(im):
    g = np.asarray(im.convert('L').resize((9, 8), Image.BILINEAR),
                   dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return int(''.join('1' if b else '0' for b in bits), 2)


def _signature(im):
    """What two pictures must differ by to both be kept: dHash and a
    16x16 normalised thumbnail."""
    tiny = np.asarray(im.convert('L').resize((16, 16)),
                      dtype=np.float32).flatten()
    return _dhash(im), (tiny - tiny.mean()) / (tiny.std() + 1e-3)


def _near_any(sig, hashes):
    dh, tiny = sig
    return any(bin(dh ^ h).count('1') <= 6 or
               float(np.mean(np.abs(tiny - t))) < 0.25 for h, t in hashes)


def carve(xdir, out, exclude=None, only=()):
    """Every photograph of the unpacked packages, once: exact and
    near-identical pictures (the same image in two resource files) are
    kept only the first time, so no two sources are duplicates.  With
    exclude (a carved folder, the benchmark's), a picture near-identical
    to one of its photographs is dropped too: extra training photographs
    must not be copies of a REPORT photograph.  With only (fnmatch
    patterns), a file is read only when its path under xdir matches one."""
    os.makedirs(out, exist_ok=True)
    seen, hashes, rows = set(), [], []
    if exclude:
        with open(os.path.join(exclude, 'sources.csv')) as fh:
            for r in csv.DictReader(fh):
                im = Image.open(os.path.join(exclude, r['file']))
                im = im.convert('RGB')
                seen.add(hashlib.sha1(im.tobytes()).hexdigest())
                hashes.append(_signature(im))
    skip = ('/doc/', '/icons/', '/qml/', 'wallpaper')
    for root, dirs, files in os.walk(xdir):
        dirs.sort()
        if any(s in root + '/' for s in skip):
            continue
        for f in sorted(files):
            p = os.path.join(root, f)
            rel = os.path.relpath(p, xdir)
            low = f.lower()
            if only and not any(fnmatch.fnmatch(rel, g) for g in only):
                continue
            if low.endswith('.rcc'):
                items = _carve_blob(open(p, 'rb').read())
            elif low.endswith(('.png', '.jpg', '.jpeg', '.webp')):
                items = [(None, open(p, 'rb').read())]
            else:
                continue
            for off, b in items:
                im = _open(b)
                if not _photo_like(im):
                    continue
                key = rel if off is None else '%s#%d' % (rel, off)
                im = _flatten(im, key)
                if max(im.size) > MAX_SIDE:
                    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
                digest = hashlib.sha1(im.tobytes()).hexdigest()
                if digest in seen:
                    continue
                sig = _signature(im)
                if _near_any(sig, hashes):
                    continue
                seen.add(digest)
                hashes.append(sig)
                name = '%05d.png' % len(rows)
                im.save(os.path.join(out, name))
                rows.append((name, key))
    with open(os.path.join(out, 'sources.csv'), 'w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['file', 'source'])
        w.writerows(rows)
    print('carved %d photographs into %s' % (len(rows), out))


# --- build ---------------------------------------------------------------

def split_of(source):
    return 'report' if hashlib.sha1(source.encode()).digest()[0] % 2 == 0 \
        else 'tuning'


_FONT = None


def _font(size):
    for f in ('/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',):
        if os.path.exists(f):
            return ImageFont.truetype(f, size)
    return ImageFont.load_default()


def edit(im, name, rng):
    """One edited copy: (image, format, JPEG quality)."""
    w, h = im.size
    if name == 'resize50':
        return im.resize((max(1, w // 2), max(1, h // 2)), Image.LANCZOS), 'jpg', 90
    if name == 'resize25':
        return im.resize((max(1, w // 4), max(1, h // 4)), Image.LANCZOS), 'jpg', 90
    if name == 'jpeg30':
        return im, 'jpg', 30
    if name == 'crop_centre':
        f = rng.uniform(0.80, 0.95)
        cw, ch = int(w * f), int(h * f)
        x, y = (w - cw) // 2, (h - ch) // 2
        return im.crop((x, y, x + cw, y + ch)), 'jpg', 90
    if name == 'crop_offcentre':
        f = rng.uniform(0.75, 0.90)
        cw, ch = int(w * f), int(h * f)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        return im.crop((x, y, x + cw, y + ch)), 'jpg', 90
    if name == 'bright':
        s = rng.uniform(0.10, 0.20) * rng.choice((-1, 1))
        return ImageEnhance.Brightness(im).enhance(1 + s), 'jpg', 90
    if name == 'contrast':
        s = rng.uniform(0.10, 0.20) * rng.choice((-1, 1))
        return ImageEnhance.Contrast(im).enhance(1 + s), 'jpg', 90
    if name == 'rotate':
        a = rng.uniform(2, 5) * rng.choice((-1, 1))
        return im.rotate(a, resample=Image.BILINEAR, fillcolor=(0, 0, 0)), 'jpg', 90
    if name == 'flip':
        return ImageOps.mirror(im), 'jpg', 90
    if name == 'watermark':
        out = im.copy()
        d = ImageDraw.Draw(out)
        size = max(10, h // 12)
        text = rng.choice(('(c) siam 2026', 'SAMPLE', 'photo.example.org',
                           'Holiday 2019', '@someone'))
        font = _font(size)
        tw = d.textlength(text, font=font)
        x = rng.choice((size // 2, max(0, int(w - tw - size // 2))))
        y = rng.choice((size // 2, max(0, h - 2 * size)))
        col = rng.choice(((255, 255, 255), (0, 0, 0), (255, 255, 0)))
        d.text((x, y), text, fill=col, font=font)
        return out, 'jpg', 90
    if name == 'gray':
        return ImageOps.grayscale(im).convert('RGB'), 'jpg', 90
    if name == 'blur':
        return im.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 3.0))), 'jpg', 90
    if name == 'png':
        return im, 'png', 0
    raise ValueError(name)


def _save(im, path, fmt, q):
    if fmt == 'jpg':
        im.save(path, 'JPEG', quality=q)
    else:
        im.save(path, 'PNG')


def build(src, out, seed=1):
    """OUT/tuning and OUT/report: per original 'o-' file (JPEG q92) and
    1-3 copies with distinct edits; distractors alone; file names are
    random so that nothing in a name tells the family.  OUT/train: the
    TUNING split's photographs (originals and distractors, not the
    copies), the training folder for augment:.  truth.csv per split."""
    with open(os.path.join(src, 'sources.csv')) as fh:
        rows = list(csv.DictReader(fh))
    for s in ('tuning', 'report', 'train'):
        os.makedirs(os.path.join(out, s), exist_ok=True)
    truth = {'tuning': [], 'report': []}
    cycle = {'tuning': [], 'report': []}
    counts = {}
    for r in rows:
        split = split_of(r['source'])
        rng = random.Random('%d:%s' % (seed, r['source']))
        im = Image.open(os.path.join(src, r['file'])).convert('RGB')
        fam = r['file'][:-4]
        name = lambda: '%016x' % rng.getrandbits(64)
        d = os.path.join(out, split)
        if split == 'tuning':
            tim = im.copy()
            tim.thumbnail((256, 256), Image.LANCZOS)
            tim.save(os.path.join(out, 'train', fam + '.png'))
        if rng.random() < 0.22:
            f = name() + '.jpg'
            _save(im, os.path.join(d, f), 'jpg', 92)
            truth[split].append((f, fam, 'distractor', r['source']))
            continue
        f = name() + '.jpg'
        _save(im, os.path.join(d, f), 'jpg', 92)
        truth[split].append((f, fam, 'original', r['source']))
        k = rng.choice((1, 2, 2, 3))
        picked = []
        while len(picked) < k:
            # every edit equally often: a shuffled deck per split
            if not cycle[split]:
                deck = EDITS[:]
                random.Random('%d:%s:%d' % (seed, split, len(truth[split]))).shuffle(deck)
                cycle[split] = deck
            e = cycle[split].pop()
            if e in picked:
                cycle[split].insert(0, e)
                if len(set(cycle[split]) - set(picked)) == 0:
                    break
                continue
            picked.append(e)
        for e in picked:
            cim, fmt, q = edit(im, e, rng)
            f = name() + '.' + fmt
            _save(cim, os.path.join(d, f), fmt, q)
            truth[split].append((f, fam, e, r['source']))
            counts[(split, e)] = counts.get((split, e), 0) + 1
    for s in truth:
        with open(os.path.join(out, s, 'truth.csv'), 'w', newline='') as fh:
            w = csv.writer(fh)
            w.writerow(['file', 'family', 'role', 'source'])
            w.writerows(sorted(truth[s]))
        t = truth[s]
        print('%s: %d originals, %d copies, %d distractors (%d files)' % (
            s.upper(), sum(1 for x in t if x[2] == 'original'),
            sum(1 for x in t if x[2] not in ('original', 'distractor')),
            sum(1 for x in t if x[2] == 'distractor'), len(t)))
    print('train: %d photographs (TUNING split only)' %
          len(os.listdir(os.path.join(out, 'train'))))


# --- score ---------------------------------------------------------------

def load_truth(split):
    with open(os.path.join(split, 'truth.csv')) as fh:
        return list(csv.DictReader(fh))


def load_db(db, split):
    """path -> (pixels, bytes, content_hash, phash, embedding) of the
    files of this split in a siam database."""
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    cur = con.execute("SELECT value FROM meta WHERE key='current_model'")
    row = cur.fetchone()
    q = ("SELECT path, width, height, size, content_hash, phash, embedding "
         "FROM images WHERE embedding IS NOT NULL")
    args = ()
    if row and row[0] is not None:
        q += " AND model_id = ?"
        args = (row[0],)
    out = {}
    for p, w, h, size, ch, ph, emb in con.execute(q, args):
        f = os.path.basename(p)
        out[f] = dict(path=p, pixels=(w or 0) * (h or 0), size=size or 0,
                      hash=ch, phash=(ph or 0) & (2**64 - 1),
                      emb=np.frombuffer(emb, dtype='<f4'))
    return out


def star_groups(files, info, linked):
    """siam dedup's linkage (keep largest: pixels, then bytes): visit
    from the best keeper down; a file not yet grouped keeps every
    ungrouped file linked to it directly."""
    order = sorted(files, key=lambda f: (-info[f]['pixels'], -info[f]['size'],
                                         info[f]['path']))
    group = {}
    for f in order:
        if f in group:
            continue
        members = [g for g in linked.get(f, ()) if g not in group]
        if members:
            group[f] = f
            for g in members:
                group[g] = f
    return group


def pairs_from_groups(group):
    by = {}
    for f, k in group.items():
        by.setdefault(k, []).append(f)
    out = set()
    for m in by.values():
        m.sort()
        for i in range(len(m)):
            for j in range(i + 1, len(m)):
                out.add((m[i], m[j]))
    return out


def score(truth, pred):
    """Pair precision, recall, F1, and per edit the recall of the
    (original, copy) pair."""
    fam = {}
    for r in truth:
        fam.setdefault(r['family'], []).append(r)
    true_pairs = set()
    for rs in fam.values():
        fs = sorted(r['file'] for r in rs)
        for i in range(len(fs)):
            for j in range(i + 1, len(fs)):
                true_pairs.add((fs[i], fs[j]))
    tp = len(true_pairs & pred)
    p = tp / len(pred) if pred else 1.0
    rc = tp / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    per = {}
    for rs in fam.values():
        o = [r['file'] for r in rs if r['role'] == 'original']
        for r in rs:
            if r['role'] in ('original', 'distractor'):
                continue
            pair = tuple(sorted((o[0], r['file'])))
            hit, n = per.get(r['role'], (0, 0))
            per[r['role']] = (hit + (pair in pred), n + 1)
    return dict(precision=p, recall=rc, f1=f1, pred=len(pred),
                true=len(true_pairs), per={e: h / n for e, (h, n) in per.items()},
                per_n={e: n for e, (h, n) in per.items()})


def groups_of_json(d):
    """file -> its keeper, for the groups of a siam dedup --json object."""
    group = {}
    for g in d['groups']:
        k = os.path.basename(g['keeper']['path'])
        group[k] = k
        for m in g.get('members', []):
            group[os.path.basename(m['path'])] = k
    return group


def dedup_pairs(path):
    """The pairs a siam dedup --json output declares: its groups."""
    with open(path) as fh:
        d = json.load(fh)
    return (pairs_from_groups(groups_of_json(d)), d.get('threshold'),
            d.get('phash_bits'))


def linked_hamming(files, hashes, bits):
    fs = sorted(files)
    h = np.array([hashes[f] for f in fs], dtype=np.uint64)
    linked = {}
    for i, f in enumerate(fs):
        x = h[i] ^ h
        c = np.zeros(len(fs), dtype=np.int32)
        for s in range(0, 64, 8):
            c += np.array([bin(v).count('1') for v in range(256)],
                          dtype=np.int32)[((x >> np.uint64(s)) & np.uint64(255)).astype(np.int64)]
        linked[f] = [fs[j] for j in np.nonzero(c <= bits)[0] if j != i]
    return linked


def cnn_dist(files, info):
    fs = sorted(files)
    e = np.stack([info[f]['emb'] for f in fs]).astype(np.float64)
    sq = (e * e).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * e @ e.T, 0)
    return fs, np.sqrt(d2)


def linked_cnn(fs, dist, t):
    linked = {}
    for i, f in enumerate(fs):
        linked[f] = [fs[j] for j in np.nonzero(dist[i] < t)[0] if j != i]
    return linked


def dhashes(split, files):
    out = {}
    for f in files:
        with Image.open(os.path.join(split, f)) as im:
            out[f] = _dhash(im)
    return out


def print_table(title, rows):
    edits = [e for e in EDITS if any(e in r[1]['per'] for r in rows)]
    print('\n%s' % title)
    print('| method | threshold | precision | recall | F1 | ' +
          ' | '.join(edits) + ' |')
    print('| --- ' * (4 + len(edits) + 1) + '|')
    for name, s, t in rows:
        print('| %s | %s | %.3f | %.3f | %.3f | ' % (name, t, s['precision'],
                                                      s['recall'], s['f1']) +
              ' | '.join('%.2f' % s['per'].get(e, float('nan')) for e in edits) + ' |')
    if rows:
        s = rows[0][1]
        print('(%d true pairs; copies per edit: %s)' % (
            s['true'], ', '.join('%s %d' % (e, s['per_n'][e]) for e in edits)))


def cmd_score(split, db, dedups, dhash_bits=None):
    """Rows for exact/phash/cnn/all from siam dedup --json outputs
    (named METHOD=FILE), and dhash computed here with the same linkage
    at dhash_bits (chosen on TUNING)."""
    truth = load_truth(split)
    info = load_db(db, split)
    files = [r['file'] for r in truth if r['file'] in info]
    rows = []
    for spec in dedups:
        name, path = spec.split('=', 1)
        pred, t, bits = dedup_pairs(path)
        label = ('0' if name == 'exact' else '%.4g' % t if name == 'cnn' else
                 '%d bits' % bits if name == 'phash' else '%.4g, %d bits' % (t, bits))
        rows.append((name, score(truth, pred), label))
    if dhash_bits is not None:
        dh = dhashes(split, files)
        g = star_groups(files, info, linked_hamming(files, dh, dhash_bits))
        rows.insert(2 if len(rows) >= 2 else len(rows),
                    ('dhash', score(truth, pairs_from_groups(g)), '%d bits' % dhash_bits))
    missing = len(truth) - len(files)
    title = '%s (%d files%s)' % (os.path.basename(split.rstrip('/')).upper(),
                                len(truth), ', %d not indexed' % missing if missing else '')
    print_table(title, rows)


def cmd_sweep(split, db):
    """Thresholds on TUNING: the F1 of phash and dhash by bits, and of
    the cnn distance, with siam dedup's linkage; the best F1 of each."""
    truth = load_truth(split)
    info = load_db(db, split)
    files = [r['file'] for r in truth if r['file'] in info]
    rows = []
    ph = {f: info[f]['phash'] for f in files}
    dh = dhashes(split, files)
    best = {}
    for name, hs in (('phash', ph), ('dhash', dh)):
        for bits in (4, 6, 8, 10, 12, 14, 16, 20):
            s = score(truth, pairs_from_groups(star_groups(files, info,
                                                           linked_hamming(files, hs, bits))))
            rows.append((name, s, '%d bits' % bits))
            if s['f1'] > best.get(name, (0, 0))[0]:
                best[name] = (s['f1'], bits)
    fs, dist = cnn_dist(files, info)
    ts = [round(x, 3) for x in np.arange(0.2, 1.21, 0.025)]
    for t in ts:
        s = score(truth, pairs_from_groups(star_groups(
            files, info, linked_cnn(fs, dist, t))))
        rows.append(('cnn', s, '%.3f' % t))
        if s['f1'] > best.get('cnn', (0, 0))[0]:
            best['cnn'] = (s['f1'], t)
    # all, siam dedup's default (cnn, phash within its 6 bits or the
    # crop check, which needs the pictures): siam dedup itself at each
    # threshold ($SIAM, as neardup.sh runs it)
    for t in ts:
        out = subprocess.run(
            [os.environ.get('SIAM', 'siam'), 'dedup', '-q', '--db', db,
             '--method', 'all', '--threshold', '%g' % t, '--json', split],
            stdout=subprocess.PIPE, check=False).stdout
        pred = pairs_from_groups(groups_of_json(json.loads(out)))
        s = score(truth, pred)
        rows.append(('all', s, '%.3f' % t))
        if s['f1'] > best.get('all', (0, 0))[0]:
            best['all'] = (s['f1'], t)
    print_table('sweep on %s' % split, rows)
    print('\nbest: phash %d bits, dhash %d bits, cnn %.3f, all %.3f' % (
        best['phash'][1], best['dhash'][1], best['cnn'][1], best['all'][1]))
    return best


# --- the model's threshold ------------------------------------------------

def holdout(bench, extras):
    """BENCH/tuning-b (hard links and truth.csv) and BENCH/train-heldout
    (train/'s photographs of the other families, then each extra
    folder's PNGs, extras being PREFIX=DIR: DIR/n.png becomes
    PREFIXn.png)."""
    tun, tb, th = (os.path.join(bench, d) for d in ('tuning', 'tuning-b',
                                                     'train-heldout'))
    held = lambda fam: (int(fam) // 25) % 2 == 1
    rows = [r for r in load_truth(tun) if held(r['family'])]
    for d in (tb, th):
        if os.path.isdir(d):
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(tb, 'truth.csv'), 'w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        os.link(os.path.join(tun, r['file']), os.path.join(tb, r['file']))
    n = 0
    train = os.path.join(bench, 'train')
    for f in sorted(os.listdir(train)):
        if not held(f.split('.')[0]):
            os.link(os.path.join(train, f), os.path.join(th, f))
            n += 1
    for spec in extras:
        pre, d = spec.split('=', 1)
        for f in sorted(os.listdir(d)):
            if f.endswith('.png'):
                os.link(os.path.join(d, f), os.path.join(th, pre + f))
                n += 1
    print('%s: %d files (%d originals); %s: %d photographs' % (
        tb, len(rows), sum(r['role'] == 'original' for r in rows), th, n))


def set_threshold(path, t):
    """Stores "near_threshold":T in a model file's metadata JSON (what
    siam dedup reads), keeping everything else, with a new CRC-32."""
    b = open(path, 'rb').read()
    assert b[:8] == b'SIAMMODL', 'not a siam model: %s' % path
    hl = struct.unpack('<I', b[12:16])[0]
    p = 16 + hl
    ml = struct.unpack('<I', b[p:p + 4])[0]
    meta = json.loads(b[p + 4:p + 4 + ml].decode() or '{}')
    meta['near_threshold'] = float('%.4f' % t)
    m = json.dumps(meta, separators=(',', ':')).encode()
    body = b[:p] + struct.pack('<I', len(m)) + m + b[p + 4 + ml:-4]
    with open(path + '.tmp', 'wb') as fh:
        fh.write(body + struct.pack('<I', zlib.crc32(body) & 0xffffffff))
    os.replace(path + '.tmp', path)
    print('%s: near_threshold %.4f' % (path, t))


def main(a):
    if len(a) >= 3 and a[0] == 'carve':
        carve(a[1], a[2], a[3] if len(a) >= 4 and a[3] else None, a[4:])
    elif len(a) >= 3 and a[0] == 'build':
        build(a[1], a[2], int(a[3]) if len(a) > 3 else 1)
    elif len(a) >= 3 and a[0] == 'score':
        bits = os.environ.get('DHASH_BITS')
        cmd_score(a[1], a[2], a[3:], int(bits) if bits else None)
    elif len(a) == 3 and a[0] == 'sweep':
        cmd_sweep(a[1], a[2])
    elif len(a) >= 2 and a[0] == 'holdout':
        holdout(a[1], a[2:])
    elif len(a) == 3 and a[0] == 'set-threshold':
        set_threshold(a[1], float(a[2]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
