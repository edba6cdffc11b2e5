"""tests/sql_python.py -- the built module (siam.so) in Python's sqlite3.

Run by tests/sql_python.sh with the interpreter of the system
(/usr/bin/python3).  Prints TAP.  Loads the module the way a user does
(enable_load_extension + load_extension with the path without suffix),
then checks the functions, the error texts as Python exceptions, and
siam_knn against a brute force computed here.
"""
import math
import os
import random
import sqlite3
import struct
import sys
import tempfile

n = 0
failed = 0


def ok(cond, what, diag=None):
    global n, failed
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what))
    if not cond:
        failed += 1
        if diag is not None:
            print("# " + str(diag).replace("\n", "\n# "))
    sys.stdout.flush()


def is_(got, want, what):
    ok(got == want, what, "got  %r\nwant %r" % (got, want))


def error_of(conn, sql, args=()):
    try:
        conn.execute(sql, args).fetchall()
    except sqlite3.Error as e:
        return str(e)
    return None


def vec(xs):
    return struct.pack("<%df" % len(xs), *xs)


def unvec(b):
    return list(struct.unpack("<%df" % (len(b) // 4), b))


def main():
    builddir = os.environ.get("SIAM_BUILDDIR", ".")
    srcdir = os.environ.get("SIAM_SRCDIR", ".")
    mod = os.path.join(builddir, "siam")
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        print("1..0 # SKIP this Python's sqlite3 cannot load extensions")
        return 0

    conn = sqlite3.connect(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(mod)
    conn.enable_load_extension(False)
    ok(True, "load_extension(%r)" % mod)

    names = conn.execute(
        "SELECT name, narg FROM pragma_function_list"
        " WHERE name LIKE 'siam%' ORDER BY name, narg").fetchall()
    is_(names, [("siam_distance", 2), ("siam_embed", 1), ("siam_hamming", 2),
                ("siam_json", 1),
                ("siam_match", 2), ("siam_match", 3), ("siam_vector", 1)],
        "the registered functions")

    q = lambda sql, *a: conn.execute(sql, a).fetchone()[0]
    is_(q("SELECT siam_distance(?, ?)", vec([0, 0]), vec([3, 4])), 5.0,
        "3-4-5 from Python bytes")
    is_(q("SELECT siam_distance(?, '[4,6,3]')", vec([1, 2, 3])), 5.0,
        "BLOB against JSON text")
    is_(q("SELECT siam_distance(?, ?)", None, vec([1])), None, "None in, None out")
    is_(q("SELECT siam_vector('[0.5, -2]')"), vec([0.5, -2]), "siam_vector")
    is_(q("SELECT siam_json(?)", vec([0.1, 3])), "[0.1,3]", "siam_json")
    r = random.Random(7)
    xs = [r.uniform(-1e6, 1e6) * 10 ** r.randint(-30, 0) for _ in range(500)]
    b = vec(xs)
    is_(q("SELECT siam_vector(siam_json(?))", b), b, "JSON round trip")

    is_(error_of(conn, "SELECT siam_distance(?, ?)", (b"\0" * 7, vec([1]))),
        "siam_distance: invalid float32 vector BLOB length: must be "
        "divisible by 4, found 7", "error text: BLOB length")
    is_(error_of(conn, "SELECT siam_distance(?, ?)",
                 (vec([0] * 64), vec([0] * 32))),
        "siam_distance: vectors differ in size: 64 and 32 dimensions",
        "error text: sizes differ")
    is_(error_of(conn, "SELECT siam_vector('[1,2,x]')"),
        "siam_vector: invalid JSON at offset 5", "error text: JSON")
    is_(error_of(conn, "SELECT siam_vector(?)", (struct.pack("<f", math.nan),)),
        "siam_vector: element 0 is NaN or infinite", "error text: NaN")
    is_(error_of(conn, "SELECT siam_distance(?, '[1]')", (3,)),
        "siam_distance: expected a float32 vector BLOB or a JSON array, "
        "found an integer", "error text: an integer")
    conn.close()

    # siam_knn on a file database made from sql/schema.sql
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "py.db")
        conn = sqlite3.connect(path)
        conn.enable_load_extension(True)
        conn.load_extension(mod)
        with open(os.path.join(srcdir, "sql", "schema.sql")) as f:
            conn.executescript(f.read())
        is_(q("PRAGMA user_version"), 3, "schema version 3")
        dim = 8
        conn.execute("INSERT INTO models(name, blob, spec, embed_dim,"
                     " threshold, sha256) VALUES ('m', x'', 's', ?, 0.5, '')",
                     (dim,))
        rows = []
        for i in range(400):
            v = [r.gauss(0, 1) for _ in range(dim)]
            v = unvec(vec(v))  # as float32
            rows.append((i + 1, "img %d 'q'\n.png" % i, v))
        conn.executemany("INSERT INTO images(id, path, model_id, embedding)"
                         " VALUES (?, ?, 1, ?)",
                         [(i, p, vec(v)) for i, p, v in rows])
        conn.commit()
        good = True
        for t in range(5):
            qv = unvec(vec([r.gauss(0, 1) for _ in range(dim)]))
            ref = sorted((math.sqrt(sum((a - b) ** 2 for a, b in zip(v, qv))), i)
                         for i, _, v in rows)[:10]
            got = conn.execute("SELECT image_id, distance FROM siam_knn"
                               " WHERE query = ? AND k = 10",
                               (vec(qv),)).fetchall()
            if [i for _, i in ref] != [i for i, _ in got] or any(
                    abs(d - rd) > 1e-5 for (_, d), (rd, _) in zip(got, ref)):
                good = False
                print("# got %r\n# want %r" % (got, ref))
        ok(good, "siam_knn = brute force in Python (5 queries, k = 10)")
        p = conn.execute("SELECT path FROM siam_knn(?, 1)",
                         (vec(rows[17][2]),)).fetchone()[0]
        is_(p, rows[17][1], "path column: quotes and newline intact")
        conn.execute("DELETE FROM images WHERE id = 18")
        p = conn.execute("SELECT image_id FROM siam_knn(?, 1)",
                         (vec(rows[17][2]),)).fetchone()[0]
        ok(p != 18, "a deleted row is gone from siam_knn")
        is_(error_of(conn, "SELECT * FROM siam_knn(?, 10)", (vec([1, 2]),)),
            "siam_knn: the query vector has 2 dimensions, the embeddings of "
            "model 1 have 8", "siam_knn: wrong query size")
        is_(error_of(conn, "SELECT * FROM siam_knn(?, 20000)", (vec([0] * 8),)),
            "siam_knn: k must be between 1 and 10000, found 20000",
            "siam_knn: k cap")
        conn.close()

    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
