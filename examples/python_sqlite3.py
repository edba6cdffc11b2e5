#!/usr/bin/env python3
"""Use a siam database from Python, with nothing but the standard sqlite3
module and the siam extension.

    siam index examples/
    python3 examples/python_sqlite3.py [DB [EXTENSION [IMAGE]]]

(Debian's /usr/bin/python3 can load extensions; a Python built without
--enable-loadable-sqlite-extensions cannot, and says so.)

DB defaults to siam.db, EXTENSION to $SIAM_EXTENSION or ./siam (the
siam.so built next to the siam binary; an installed one is found as
'siam' in SQLite's usual places), IMAGE to a drawn 3 of the examples.
"""
import json
import os
import sqlite3
import sys

db = sys.argv[1] if len(sys.argv) > 1 else 'siam.db'
ext = sys.argv[2] if len(sys.argv) > 2 else os.environ.get('SIAM_EXTENSION', './siam')
image = sys.argv[3] if len(sys.argv) > 3 else 'examples/digits/3/drawn-0093.png'

if not os.path.exists(db):
    sys.exit(f'{db}: no such database; run "siam index examples/" first')
con = sqlite3.connect(db)
try:
    con.enable_load_extension(True)
    con.load_extension(ext)
    con.enable_load_extension(False)
except (AttributeError, sqlite3.OperationalError) as e:
    sys.exit(f'cannot load the siam extension {ext!r}: {e}')

# The model and what it has indexed.
spec, dim, threshold, n = con.execute(
    'SELECT m.spec, m.embed_dim, m.threshold, count(i.id) FROM models m'
    ' LEFT JOIN images i ON i.model_id = m.id'
    ' WHERE m.id = coalesce((SELECT value FROM meta WHERE key = ?),'
    '                       (SELECT max(id) FROM models))',
    ('current_model',)).fetchone()
print(f'model: {spec}, {dim}-d embeddings, threshold {threshold:.4f}, '
      f'{n} images')

# The 5 nearest neighbours of an image file: siam_embed reads the file and
# embeds it with the database's model; siam_knn searches every embedding.
rows = con.execute(
    'SELECT k.distance, siam_match(q.e, i.embedding), i.label, i.path'
    ' FROM (SELECT siam_embed(?) AS e) AS q,'
    '      siam_knn(q.e, 5) AS k JOIN images AS i ON i.id = k.image_id'
    ' ORDER BY k.distance', (image,)).fetchall()
print(f'nearest to {image}:')
for distance, match, label, path in rows:
    print(f'  {distance:.4f}  {"match" if match else "-    "}  {label}  {path}')

# Encoded image bytes work as well as a path, and siam_json turns an
# embedding into a list of floats for numpy or anything else.
with open(image, 'rb') as f:
    vec = json.loads(con.execute('SELECT siam_json(siam_embed(?))',
                                 (f.read(),)).fetchone()[0])
print(f'its embedding: {len(vec)} floats, first {vec[0]:.4f}')
