-- examples/queries.sql -- SQL on a siam database.
--
-- After indexing the examples from the top of the source tree,
--     siam index examples/
-- run every query here with
--     siam sql < examples/queries.sql
-- or in the stock sqlite3 shell, with the extension loaded:
--     sqlite3 siam.db '.load ./siam' '.read examples/queries.sql'
--
-- Embeddings belong to the model that made them: each query below looks
-- only at the database's current model (meta.current_model, else the
-- newest model), the one siam_knn, siam_embed and siam_match use.

-- 1. What is in the index: images per label (the folder each is in).
SELECT label, count(*) AS images, sum(width * height > 784) AS large
FROM images
WHERE model_id = coalesce((SELECT value FROM meta WHERE key = 'current_model'),
                          (SELECT max(id) FROM models))
GROUP BY label ORDER BY label;

-- 2. Nearest neighbours: the 5 images closest to a file, which siam_embed
--    reads and embeds on the fly (a BLOB of encoded bytes works too).
--    siam_knn scans all embeddings at once, exactly.
SELECT k.image_id, round(k.distance, 4) AS distance, i.label, i.path
FROM siam_knn(siam_embed('examples/digits/3/drawn-0093.png'), 5) AS k
JOIN images AS i ON i.id = k.image_id
ORDER BY k.distance;

-- 3. Matches above a threshold: pairs of indexed images that the model
--    calls the same (distance below its calibrated threshold), closest
--    first, and whether their labels agree.  siam_match(a, b, 0.5) would
--    use a threshold of 0.5 instead.
WITH cur(id) AS (
  SELECT coalesce((SELECT value FROM meta WHERE key = 'current_model'),
                  (SELECT max(id) FROM models)))
SELECT a.label AS label_a, b.label AS label_b,
       round(siam_distance(a.embedding, b.embedding), 4) AS distance,
       a.path AS a, b.path AS b
FROM images AS a JOIN images AS b ON a.id < b.id, cur
WHERE a.model_id = cur.id AND b.model_id = cur.id
  AND siam_match(a.embedding, b.embedding)
ORDER BY distance LIMIT 10;

-- 4. Per-label statistics: for each label, the mean distance between two
--    images of that label (same_label), the mean distance to images of
--    other labels (others),
--    and the share of its images whose nearest other image (found with
--    siam_knn, k = 2, the first hit being the image itself) has the same
--    label: the 1-NN accuracy.
WITH cur(id) AS (
  SELECT coalesce((SELECT value FROM meta WHERE key = 'current_model'),
                  (SELECT max(id) FROM models))),
img AS (SELECT images.* FROM images, cur WHERE model_id = cur.id),
pairs AS (
  SELECT a.label AS label, a.label = b.label AS same,
         siam_distance(a.embedding, b.embedding) AS d
  FROM img AS a JOIN img AS b ON a.id <> b.id),
nn AS (
  SELECT i.label AS label, n.label = i.label AS right
  FROM img AS i, cur,
       siam_knn(i.embedding, 2, cur.id) AS k
  JOIN images AS n ON n.id = k.image_id
  WHERE k.image_id <> i.id)
SELECT p.label,
       round(avg(CASE WHEN p.same THEN p.d END), 4) AS same_label,
       round(avg(CASE WHEN NOT p.same THEN p.d END), 4) AS others,
       (SELECT round(avg(right), 3) FROM nn WHERE nn.label = p.label) AS nn1
FROM pairs AS p GROUP BY p.label ORDER BY p.label;

-- 5. Exact duplicates (same bytes) and near-duplicates by perceptual hash
--    are plain SQL too:
SELECT content_hash, count(*) AS copies, group_concat(path, ' | ') AS paths
FROM images GROUP BY content_hash, model_id HAVING count(*) > 1;
