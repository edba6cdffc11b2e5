// tests/serve_browser.js -- the browser half of tests/serve_browser.sh:
// headless chromium through playwright-core, on a running siam serve.
// argv: URL DIGITS SHOTS CHROMIUM SAME_D DIFF_D KBD_D BAD_FILE.  Prints TAP.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, dg, shots, exe, sameD, diffD, kbdD, badFile] = process.argv.slice(2);
let n = 0;
let fails = 0;
function ok(cond, what, detail) {
  n++;
  console.log((cond ? 'ok ' : 'not ok ') + n + ' - ' + what);
  if (!cond) {
    fails++;
    if (detail !== undefined) console.log('# ' + String(detail).split('\n').join('\n# '));
  }
}
const same6 = (a, b) => Number(Number(a).toPrecision(6)) === Number(b);

// Drops a file on a drop zone as a person dragging it from a file manager.
async function drop(page, selector, file) {
  const b64 = fs.readFileSync(file).toString('base64');
  const dt = await page.evaluateHandle(([data, name]) => {
    const bin = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bin], name, { type: 'image/png' }));
    return t;
  }, [b64, path.basename(file)]);
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt });
}

async function verdictAfter(page, prev) {
  await page.waitForFunction((p) => {
    const r = document.getElementById('result');
    return !r.hidden && document.getElementById('distance').dataset.value !== p;
  }, prev, { timeout: 60000 });
  return {
    verdict: (await page.textContent('#verdict')).trim(),
    distance: await page.getAttribute('#distance', 'data-value'),
    shown: (await page.textContent('#distance')).trim(),
  };
}

(async () => {
  const browser = await chromium.launch({
    executablePath: exe, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // (the 400s the bad upload asks for are logged as failed loads: not
    // script errors)
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: .* 400/.test(m.text()))
        errors.push(m.text());
    });

    // ---- Compare: drop two 3s
    await page.goto(url + '/');
    ok((await page.title()) === 'siam', 'the page loads');
    const labelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select')].every((e) => e.labels && e.labels.length > 0));
    ok(labelled, 'every input and select has a label');
    await drop(page, '#slot-a .drop', path.join(dg, '3/drawn-0093.png'));
    await drop(page, '#slot-b .drop', path.join(dg, '3/mnist-0018.png'));
    let r = await verdictAfter(page, null);
    ok(r.verdict === 'Similar', 'two 3s dropped: "Similar"', r.verdict);
    ok(same6(r.distance, sameD), 'the distance siam verify gives (' + sameD + ')', r.distance);
    ok(r.shown === Number(sameD).toFixed(4), 'shown as ' + r.shown);
    await page.waitForSelector('#seen-a-fig:not([hidden])');
    await page.waitForSelector('#seen-b-fig:not([hidden])');
    await page.waitForFunction(() => document.getElementById('seen-a').naturalWidth > 0 &&
      document.getElementById('seen-b').naturalWidth > 0);
    const seen = await page.evaluate(() => [document.getElementById('seen-a').naturalWidth,
      document.getElementById('seen-a').naturalHeight]);
    ok(seen[0] === 28 && seen[1] === 28, 'the input as the network sees it: 28x28', seen);
    const mark = await page.evaluate(() => parseFloat(document.getElementById('scale-mark').style.left));
    ok(mark >= 0 && mark < 50, 'the scale marks the distance below the threshold (' + mark + '%)');
    await page.screenshot({ path: path.join(shots, 'compare-similar.png'), fullPage: true });

    // ---- a 7 in place of the second 3
    await drop(page, '#slot-b .drop', path.join(dg, '7/drawn-0079.png'));
    r = await verdictAfter(page, r.distance);
    ok(r.verdict === 'Not similar', 'a 3 and a 7: "Not similar"', r.verdict);
    ok(same6(r.distance, diffD), 'the distance siam verify gives (' + diffD + ')', r.distance);
    await page.screenshot({ path: path.join(shots, 'compare-not-similar.png'), fullPage: true });

    // ---- not an image: the error on the page
    await page.setInputFiles('#file-b', badFile);
    await page.waitForSelector('#compare-error:not([hidden])');
    const err = await page.textContent('#compare-error');
    ok(/image b \(not-an-image\.png\)/.test(err), 'a bad upload shows its error', err);
    ok(await page.isHidden('#result'), 'and no verdict');
    await page.screenshot({ path: path.join(shots, 'compare-error.png'), fullPage: true });

    // ---- keyboard only: Tab to the drop zones, Space opens the picker
    const kp = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    kp.on('pageerror', (e) => errors.push(e.message));
    // A 'filechooser' listener turns on Playwright's interception of the
    // native dialog, by a protocol call it does not wait for: installed
    // late, under load a key press could open the dialog before it (then
    // no event ever comes).  Install it now; the goto's round trips make
    // sure it has taken effect before any key is pressed.
    kp.on('filechooser', () => {});
    await kp.goto(url + '/');
    async function tabTo(id) {
      for (let i = 0; i < 30; i++) {
        await kp.keyboard.press('Tab');
        if (await kp.evaluate(() => document.activeElement && document.activeElement.id) === id) return true;
      }
      return false;
    }
    async function pick(id, file) {
      // Space on the focused input opens the picker; pressed again (after
      // focusing the input anew) if no picker came within 20 s.
      let fc = null;
      for (let attempt = 0; attempt < 3 && !fc; attempt++) {
        if (attempt > 0) await kp.focus('#' + id);
        const chooser = kp.waitForEvent('filechooser', { timeout: 20000 });
        await kp.keyboard.press('Space');
        fc = await chooser.catch(() => null);
      }
      if (!fc) throw new Error('no file chooser for #' + id + ' after 3 presses of Space');
      await fc.setFiles(file);
      // the page has taken the file when its preview shows
      await kp.waitForSelector('#preview-' + id.slice(5) + ':not([hidden])');
    }
    ok(await tabTo('file-a'), 'Tab reaches drop zone A');
    await pick('file-a', path.join(dg, '1/drawn-0074.png'));
    ok(await tabTo('file-b'), 'Tab reaches drop zone B');
    await pick('file-b', path.join(dg, '1/mnist-0005.png'));
    r = await verdictAfter(kp, null);
    ok(r.verdict === 'Similar', 'keyboard only, two 1s: "Similar"', r.verdict);
    ok(same6(r.distance, kbdD), 'the distance siam verify gives (' + kbdD + ')', r.distance);
    // to Search with the keyboard: the nav link, then Enter
    await kp.focus('#nav-search');
    await kp.keyboard.press('Enter');
    await kp.waitForSelector('#search:not([hidden])');
    ok(await tabTo('file-q'), 'Tab reaches the query drop zone');
    await pick('file-q', path.join(dg, '7/drawn-0079.png'));
    ok(await tabTo('k'), 'Tab reaches "How many"');
    await kp.keyboard.press('Control+A');
    await kp.keyboard.type('6');
    ok(await tabTo('search-btn'), 'Tab reaches Search');
    await kp.keyboard.press('Enter');
    await kp.waitForFunction(() => document.querySelectorAll('#results li').length > 0);
    ok(await kp.locator('#results li').count() === 6, 'keyboard search: 6 results');
    await kp.screenshot({ path: path.join(shots, 'keyboard-search.png'), fullPage: true });
    await kp.close();

    // ---- Search: k nearest thumbnails, then compare one
    await page.click('#nav-search');
    await page.waitForSelector('#search:not([hidden])');
    await page.setInputFiles('#file-q', path.join(dg, '7/drawn-0079.png'));
    await page.fill('#k', '8');
    await page.click('#search-btn');
    await page.waitForFunction(() => document.querySelectorAll('#results li').length > 0);
    await page.waitForFunction(() => [...document.querySelectorAll('#results img')]
      .every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 60000 });
    const thumbs = await page.locator('#results img').count();
    ok(thumbs === 8, '8 thumbnails', thumbs);
    const matches = await page.locator('#results button.match').count();
    ok(matches >= 6, 'most of a 7\'s nearest are marked matches (' + matches + ')');
    const labels = await page.$$eval('#results .path', (e) => e.map((x) => x.textContent));
    ok(labels[0].startsWith('7: '), 'the nearest is a 7', labels[0]);
    await page.screenshot({ path: path.join(shots, 'search.png'), fullPage: true });
    await page.click('#results li:first-child button');
    await page.waitForSelector('#compare:not([hidden])');
    r = await verdictAfter(page, null);
    ok(r.verdict === 'Similar', 'a result compared with the query: "Similar"', r.verdict);
    await page.screenshot({ path: path.join(shots, 'search-compare.png'), fullPage: true });

    // ---- An image indexed by URL (the answer rewritten here; serve.sh
    // tests the server's side): a placeholder, never a request for it
    const asked = [];
    let urlHit = -1;
    page.on('request', (q) => { if (q.url().includes('/api/image/')) asked.push(q.url()); });
    await page.route('**/api/search*', async (route) => {
      // (route.fetch would resend the form without the file's bytes)
      const resp = await page.request.post(route.request().url(), {
        multipart: { image: { name: 'drawn-0079.png', mimeType: 'image/png',
          buffer: fs.readFileSync(path.join(dg, '7/drawn-0079.png')) } } });
      const j = await resp.json();
      if (!j.results || j.results.length < 2) {
        ok(false, 'a search to rewrite', JSON.stringify(j));
        await route.fulfill({ response: resp, json: j });
        return;
      }
      j.results[1].url = true;
      urlHit = j.results[1].id;
      j.results[1].path = 'https://example.invalid/seven.png';
      await route.fulfill({ response: resp, json: j });
    });
    await page.click('#nav-search');
    await page.waitForSelector('#search:not([hidden])');
    await page.setInputFiles('#file-q', path.join(dg, '7/drawn-0079.png'));
    await page.click('#search-btn');
    await page.waitForFunction(() => document.querySelectorAll('#results .noimg').length > 0);
    const ph = await page.$$eval('#results li', (li) => li.map((x) =>
      [x.querySelector('.noimg') ? x.querySelector('.noimg').textContent : '',
        x.querySelector('button').disabled]));
    ok(ph[1][0] === 'URL: not fetched' && ph[1][1] === true,
      'a result indexed by URL: a placeholder, not comparable', JSON.stringify(ph[1]));
    ok(ph.filter((x) => x[0]).length === 1, 'only that one', JSON.stringify(ph));
    ok(!asked.some((u) => u.endsWith('/api/image/' + urlHit)), 'no thumbnail asked for it',
      asked.join(' '));
    await page.screenshot({ path: path.join(shots, 'search-url.png'), fullPage: true });
    await page.unroute('**/api/search*');

    // ---- Duplicates
    await page.click('#nav-duplicates');
    await page.waitForFunction(() => /group/.test(document.getElementById('dup-status').textContent));
    const groups = await page.locator('#groups .group').count();
    const status = await page.textContent('#dup-status');
    ok(groups > 0 && status.startsWith(groups + ' group'), 'Duplicates: ' + status);
    const keepers = await page.locator('#groups .keeper').count();
    ok(keepers === groups, 'one keeper marked per group (' + keepers + ')');
    await page.screenshot({ path: path.join(shots, 'duplicates.png'), fullPage: true });

    ok(errors.length === 0, 'no script errors on the pages', errors.join('\n'));
  } catch (e) {
    ok(false, 'browser session', e.stack);
  } finally {
    await browser.close();
  }
  console.log('1..' + n);
  process.exit(fails ? 1 : 0);
})();
