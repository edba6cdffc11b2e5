// app.js -- siam serve's page: Compare, Search and Duplicates on the
// JSON API (siam-serve(1)).  Plain JS, no framework, nothing loaded from
// elsewhere.  Every action works from the keyboard: the drop zones are
// labels of file inputs (Tab, then Space or Enter), results are buttons.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { a: null, b: null, q: null, aId: null, bId: null, models: [] };

// ---- pages -----------------------------------------------------------
function show(page) {
  for (const p of ['compare', 'search', 'duplicates']) {
    $(p).hidden = p !== page;
    const nav = $('nav-' + p);
    if (p === page) nav.setAttribute('aria-current', 'page');
    else nav.removeAttribute('aria-current');
  }
  if (page === 'duplicates') loadDuplicates();
}
function route() {
  const h = location.hash.replace('#', '');
  show(['compare', 'search', 'duplicates'].includes(h) ? h : 'compare');
}
window.addEventListener('hashchange', route);

// ---- errors from the API are JSON {error, status} ----------------------
async function apiError(resp) {
  try {
    const j = await resp.json();
    return j.error || resp.statusText;
  } catch (e) {
    return resp.status + ' ' + resp.statusText;
  }
}
function showError(id, msg) {
  const el = $(id);
  el.textContent = msg || '';
  el.hidden = !msg;
}

// ---- drop zones ---------------------------------------------------------
function setSlot(slot, file) {
  state[slot] = file;
  if (slot === 'a') state.aId = null;
  if (slot === 'b') state.bId = null;
  const prev = $('preview-' + slot);
  if (prev.dataset.url) URL.revokeObjectURL(prev.dataset.url);
  if (file) {
    const url = URL.createObjectURL(file);
    prev.src = url;
    prev.dataset.url = url;
    prev.alt = (slot === 'q' ? 'Query' : 'Image ' + slot.toUpperCase()) +
      ': ' + (file.name || 'pasted image');
    prev.hidden = false;
  } else {
    prev.hidden = true;
    prev.removeAttribute('src');
  }
  slotChanged(slot);
}
function setSlotIndexed(slot, id, label) {
  state[slot] = null;
  state[slot + 'Id'] = id;
  const prev = $('preview-' + slot);
  prev.src = '/api/image/' + id;
  prev.alt = 'Image ' + slot.toUpperCase() + ': indexed image ' + label;
  prev.hidden = false;
  slotChanged(slot);
}
function slotChanged(slot) {
  if (slot === 'q') {
    $('search-btn').disabled = !state.q;
    return;
  }
  showSeen(slot);
  const ready = has('a') && has('b');
  $('compare-btn').disabled = !ready;
  $('result').hidden = true;
  showError('compare-error', '');
  if (ready) compare();
}
function has(slot) { return !!(state[slot] || state[slot + 'Id']); }

function wireSlot(slot) {
  const input = $('file-' + slot);
  const zone = $('slot-' + slot).querySelector('.drop');
  input.addEventListener('change', () => {
    if (input.files.length) setSlot(slot, input.files[0]);
  });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const f = e.dataTransfer.files[0];
    if (f) setSlot(slot, f);
  });
}

// Paste: into the focused zone, else the first empty one of the page.
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData || {}).items || []].find((i) => i.kind === 'file');
  if (!item) return;
  const file = item.getAsFile();
  const focused = document.activeElement && document.activeElement.id;
  let slot;
  if (!$('search').hidden) slot = 'q';
  else if (focused === 'file-a' || focused === 'file-b') slot = focused.slice(5);
  else slot = has('a') && !has('b') ? 'b' : 'a';
  setSlot(slot, file);
});

function form(fields) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields))
    if (v !== null && v !== undefined) fd.append(k, v);
  return fd;
}
function model() { return $('model').value || ''; }

// The input as the network sees it (after the model's preprocessing).
async function showSeen(slot) {
  const fig = $('seen-' + slot + '-fig');
  if (!has(slot)) { fig.hidden = true; return; }
  const fields = { model: model() };
  if (state[slot]) fields.image = state[slot];
  else fields.image_id = String(state[slot + 'Id']);
  const resp = await fetch('/api/preprocess', { method: 'POST', body: form(fields) });
  if (!resp.ok) { fig.hidden = true; return; }
  const img = $('seen-' + slot);
  if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
  img.dataset.url = URL.createObjectURL(await resp.blob());
  img.src = img.dataset.url;
  fig.hidden = false;
}

// ---- Compare --------------------------------------------------------------
let compareSeq = 0;
async function compare() {
  const seq = ++compareSeq;
  const fields = { model: model() };
  if (state.a) fields.a = state.a; else fields.a_id = String(state.aId);
  if (state.b) fields.b = state.b; else fields.b_id = String(state.bId);
  $('compare-btn').disabled = true;
  showError('compare-error', '');
  let resp;
  try {
    resp = await fetch('/api/verify', { method: 'POST', body: form(fields) });
  } catch (e) {
    showError('compare-error', 'The server did not answer: ' + e.message);
    $('compare-btn').disabled = false;
    return;
  }
  if (seq !== compareSeq) return;
  $('compare-btn').disabled = !(has('a') && has('b'));
  if (!resp.ok) {
    $('result').hidden = true;
    showError('compare-error', await apiError(resp));
    return;
  }
  const r = await resp.json();
  const v = $('verdict');
  v.textContent = r.same ? 'Similar' : 'Not similar';
  v.className = 'verdict ' + (r.same ? 'same' : 'different');
  $('distance').textContent = r.distance.toFixed(4);
  $('distance').dataset.value = String(r.distance);
  $('threshold').textContent = r.threshold.toFixed(4);
  $('result-model').textContent = r.model;
  // The scale runs from 0 to twice the threshold: the threshold sits in
  // the middle, a distance beyond the end is pinned to it.
  const max = 2 * r.threshold;
  const pos = Math.min(r.distance / max, 1);
  $('scale-mark').style.left = (pos * 100) + '%';
  $('scale-max').textContent = max.toFixed(2) + (r.distance > max ? ' (distance beyond)' : '');
  $('scale').setAttribute('aria-label', 'distance ' + r.distance.toFixed(4) +
    (r.same ? ' is below' : ' is not below') + ' the threshold ' + r.threshold.toFixed(4));
  $('result').hidden = false;
}

// ---- Search -----------------------------------------------------------
async function search() {
  const k = $('k').value || '10';
  showError('search-error', '');
  $('search-status').textContent = 'Searching...';
  $('results').textContent = '';
  const resp = await fetch('/api/search?k=' + encodeURIComponent(k),
    { method: 'POST', body: form({ image: state.q }) });
  if (!resp.ok) {
    $('search-status').textContent = '';
    showError('search-error', await apiError(resp));
    return;
  }
  const r = await resp.json();
  $('search-status').textContent = r.results.length + ' nearest image' +
    (r.results.length === 1 ? '' : 's') + ' (threshold ' + r.threshold.toFixed(4) + ')';
  const ol = $('results');
  r.results.forEach((hit, i) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    if (hit.match) b.className = 'match';
    const name = hit.path.split('/').pop();
    b.setAttribute('aria-label', 'Result ' + (i + 1) + ': ' + name + ', distance ' +
      hit.distance.toFixed(4) + (hit.match ? ', a match' : ', not a match') +
      '. Compare with the query');
    const img = thumb(hit.id, hit.url, '');
    const d = document.createElement('span');
    d.textContent = hit.distance.toFixed(4);
    const m = document.createElement('span');
    m.className = hit.match ? 'mark' : 'nomark';
    m.textContent = hit.match ? '\u2713 match' : 'no match';
    const p = document.createElement('span');
    p.className = 'path';
    p.textContent = (hit.label ? hit.label + ': ' : '') + name;
    b.append(img, d, m, p);
    if (hit.url) {
      // the server never fetches a URL: nothing to compare with
      b.disabled = true;
      b.setAttribute('aria-label', 'Result ' + (i + 1) + ': ' + hit.path + ', distance ' +
        hit.distance.toFixed(4) + (hit.match ? ', a match' : ', not a match') +
        '. Indexed by URL: no preview, not fetched by the server');
    }
    b.addEventListener('click', () => {
      setSlot('a', state.q);
      setSlotIndexed('b', hit.id, name);
      location.hash = '#compare';
    });
    li.append(b);
    ol.append(li);
  });
}

// A thumbnail of indexed image id, or a placeholder saying why there is
// none: an image indexed by URL (the server never fetches one), or a
// thumbnail that does not load (the file changed or went since).
function thumb(id, isUrl, alt) {
  if (isUrl) return placeholder('URL: not fetched', alt);
  const img = document.createElement('img');
  img.src = '/api/image/' + id;
  img.alt = alt;
  img.addEventListener('error', () => img.replaceWith(placeholder('no preview', alt)),
    { once: true });
  return img;
}
function placeholder(text, alt) {
  const s = document.createElement('span');
  s.className = 'noimg';
  s.setAttribute('role', 'img');
  s.setAttribute('aria-label', (alt ? alt + ': ' : '') + text);
  s.textContent = text;
  return s;
}

// ---- Duplicates ------------------------------------------------------
async function loadDuplicates() {
  $('dup-status').textContent = 'Loading...';
  showError('dup-error', '');
  const resp = await fetch('/api/duplicates');
  if (!resp.ok) {
    $('dup-status').textContent = '';
    showError('dup-error', await apiError(resp));
    return;
  }
  const r = await resp.json();
  $('dup-status').textContent = r.groups + ' group' + (r.groups === 1 ? '' : 's') +
    ' among ' + r.images + ' images (threshold ' + r.threshold.toFixed(4) + ')' +
    (r.shown < r.groups ? ', the first ' + r.shown + ' shown' : '');
  const box = $('groups');
  box.textContent = '';
  r.list.forEach((g, i) => {
    const row = document.createElement('ul');
    row.className = 'group';
    row.setAttribute('aria-label', 'Group ' + (i + 1) + ', ' + g.length + ' images');
    for (const im of g) {
      const li = document.createElement('li');
      li.className = 'thumb' + (im.keeper ? ' keeper' : '');
      const name = im.path.split('/').pop();
      const img = thumb(im.id, false, name);
      const t = document.createElement('span');
      t.className = im.keeper ? 'badge' : '';
      t.textContent = im.keeper ? 'keeper' : im.method + ' ' + im.distance.toFixed(4);
      const p = document.createElement('span');
      p.className = 'path';
      p.textContent = im.path;
      li.append(img, t, p);
      row.append(li);
    }
    box.append(row);
  });
}

// ---- start --------------------------------------------------------------
async function start() {
  for (const s of ['a', 'b', 'q']) wireSlot(s);
  $('compare-btn').addEventListener('click', compare);
  $('clear-btn').addEventListener('click', () => {
    setSlot('a', null);
    setSlot('b', null);
    $('file-a').value = '';
    $('file-b').value = '';
  });
  $('search-btn').addEventListener('click', search);
  $('model').addEventListener('change', () => {
    showSeen('a');
    showSeen('b');
    if (has('a') && has('b')) compare();
  });
  route();
  try {
    const r = await (await fetch('/api/models')).json();
    state.models = r.models;
    const sel = $('model');
    for (const m of r.models) {
      const o = document.createElement('option');
      o.value = m.name;
      o.textContent = m.name + ' (' + m.input + ')';
      sel.append(o);
    }
    $('model-row').hidden = r.models.length < 2;
    if (!r.search) {
      $('search-hint').textContent = 'No index to search: start siam serve with --db FILE (made by siam index).';
    }
  } catch (e) {
    showError('compare-error', 'Cannot reach the server: ' + e.message);
  }
}
start();
