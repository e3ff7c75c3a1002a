#!/usr/bin/env node
// Drives policygraph's document reader (/documents/<slug>) in headless chromium, the way a
// journalist would: open a document, check that every sentence the graph cites is highlighted,
// click one and follow a relation to /explore, open a citation's link (#at=<offset>), and meet
// the 404 page. What the page must show is asked of the GraphQL API first (Document.text,
// Document.passages, Relation.citations), so nothing here is hard-coded beyond the arguments.
// Used by the Rust integration tests; needs `npm ci` here and Debian's chromium
// (scripts/install-test-deps.sh installs both).
//
//   node reader.mjs --base http://127.0.0.1:PORT --doc SLUG --relation KEY --no-text SLUG --out /path/shot.png
//
// Options:
//   --base URL         the server (required)
//   --doc SLUG         the document to read (required)
//   --relation KEY     a relation citing that document, to find under its sentence (required)
//   --no-text SLUG     a document whose text the server does not hold (optional)
//   --astral SLUG      a document whose text has characters beyond U+FFFF before cited sentences,
//                      where UTF-16 indices and the API's offsets part (optional)
//   --out FILE.png     screenshot of the reader with a sentence selected (required)
//   --timeout MS       how long to wait for each step (default 20000)
//   --chromium PATH    browser binary (default $CHROMIUM or /usr/bin/chromium)
//
// The page tells where it is through document.body.dataset.state ('loading' | 'ready' |
// 'selected' | 'list' | 'no-text' | 'not-found' | 'error'), body.dataset.selected (the offset of
// the selected sentence) and body.dataset.passages. Every request to a host other than loopback
// is blocked and reported: the page must not need the internet. Exit 0 when every check passed, 1
// when one failed, 2 on bad usage.
import { chromium } from 'playwright-core';

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node reader.mjs --base URL --doc SLUG --relation KEY --out FILE.png [--no-text SLUG] [--astral SLUG] [--timeout MS] [--chromium PATH]');
  process.exit(2);
}

const o = { base: null, doc: null, relation: null, noText: null, astral: null, out: null, timeout: 20000, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--base': o.base = next().replace(/\/+$/, ''); break;
    case '--doc': o.doc = next(); break;
    case '--relation': o.relation = next(); break;
    case '--no-text': o.noText = next(); break;
    case '--astral': o.astral = next(); break;
    case '--out': o.out = next(); break;
    case '--timeout': o.timeout = Number(next()); break;
    case '--chromium': o.chromium = next(); break;
    case '-h': case '--help': usage(); break;
    default: usage(`unknown argument ${a}`);
  }
}
if (!o.base || !o.doc || !o.relation || !o.out) usage('--base, --doc, --relation and --out are required');
try { new URL(o.base); } catch { usage(`--base is not a URL: ${o.base}`); }
if (!(o.timeout > 0)) usage('--timeout must be a positive number of milliseconds');

const clip = (s, n = 400) => { const t = String(s ?? '').replace(/\s+/g, ' ').trim(); return t.length > n ? `${t.slice(0, n)}… (${t.length} chars)` : t; };
const isLoopback = (u) => {
  try {
    const { protocol, hostname } = new URL(u);
    if (!/^(https?|wss?):$/.test(protocol)) return true; // data:, blob:, about:, chrome-error: ...
    return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\./.test(hostname);
  } catch { return true; }
};

let passed = 0; let failed = 0;
function check(ok, text, detail) {
  if (ok) passed++; else failed++;
  console.log(`[${ok ? 'ok   ' : 'error'}] ${text}`);
  if (detail) console.log(`        ${detail}`);
  return ok;
}

async function gql(query, variables = {}) {
  const r = await fetch(`${o.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const json = await r.json();
  if (json.errors) throw new Error(`GraphQL: ${JSON.stringify(json.errors).slice(0, 500)}`);
  return json.data;
}

// What the page must show, from the API.
const DOC = 'query($s:String!){ entity(slug:$s){ ... on Document { title text sha256 } } }';
const PASSAGES = 'query($s:String!,$a:Int){ entity(slug:$s){ ... on Document { passages(first:100, after:$a){ offset length quote } } } }';
const READINGS = 'query($s:String!,$a:Int){ entity(slug:$s){ ... on Document { passages(first:1, after:$a){ offset length ' +
  'relations{ key kind from{ slug } to{ slug } citations{ offset document{ slug } } } facts{ field entity{ slug } } } } } }';
const RELATION = 'query($k:String!){ relation(key:$k){ key from{ slug } to{ slug } citations{ offset document{ slug } } } }';
const DOCUMENTS = '{ entities(kind: DOCUMENT, first: 100){ totalCount edges{ node{ slug } } } }';

async function allPassages(slug) {
  const out = [];
  for (;;) {
    const d = await gql(PASSAGES, { s: slug, a: out.length ? out[out.length - 1].offset : null });
    const page = d.entity.passages;
    out.push(...page);
    if (page.length < 100) return out;
  }
}
const holding = (list, at) => list.find((p) => p.offset <= at && at < p.offset + p.length);
const readings = async (p) => (await gql(READINGS, { s: o.doc, a: p.offset - 1 })).entity.passages[0];

const blocked = new Set();
const consoleErrors = [];
let panelText = '';
let browser;
let shot = false;
try {
  const doc = (await gql(DOC, { s: o.doc })).entity;
  if (!check(doc && typeof doc.text === 'string', `the API gives the text of ${o.doc}`)) throw new Error('stop');
  const passages = await allPassages(o.doc);
  const rel = (await gql(RELATION, { k: o.relation })).relation;
  const cited = rel && rel.citations.find((c) => c.document.slug === o.doc && c.offset != null);
  if (!check(passages.length > 0 && cited, `the API gives ${passages.length} passages and relation ${o.relation} cites the document`,
    cited ? `at character ${cited.offset}` : JSON.stringify(rel))) throw new Error('stop');
  const relPassage = holding(passages, cited.offset);
  check(!!relPassage, `a passage holds the relation's citation (character ${cited.offset})`);
  // For #at=: a citation of the document's last cited sentence, far enough down to need a scroll.
  const last = passages[passages.length - 1];
  const lastReadings = await readings(last);
  const lastCitation = lastReadings.relations.flatMap((r) => r.citations)
    .filter((c) => c.document.slug === o.doc && c.offset >= last.offset && c.offset < last.offset + last.length)
    .sort((a, b) => b.offset - a.offset)[0];

  browser = await chromium.launch({
    executablePath: o.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  check(true, `chromium started (${browser.version()}, ${o.chromium})`);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (isLoopback(u)) return route.continue();
    blocked.add(u);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.setDefaultTimeout(o.timeout);
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 404/.test(m.text())) consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => { if (!blocked.has(r.url())) consoleErrors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`); });

  const state = () => page.evaluate(() => document.body.dataset.state);
  const readPanel = async () => { panelText = await page.locator('#panel').innerText().catch(() => panelText); return panelText; };
  const waitState = (states, selected) => page.waitForFunction(([ss, sel]) => {
    const b = document.body.dataset;
    return b.state === 'error' || (ss.includes(b.state) && (sel == null || b.selected === String(sel)));
  }, [states, selected], { timeout: o.timeout }).then(() => state(), async () => `timeout (state ${await state().catch(() => '?')})`);
  const docUrl = `${o.base}/documents/${encodeURIComponent(o.doc)}`;
  // The page drawn for `doc` (its text and passages as the API gives them) shows the text whole
  // and one highlight per passage, at its offset, holding exactly its characters.
  const highlights = async (doc, passages, slug) => {
    const drawn = await page.evaluate(() => ({
      title: document.getElementById('title').textContent,
      meta: document.getElementById('meta').innerText,
      text: document.getElementById('text').textContent,
      marks: Array.from(document.querySelectorAll('#text mark.passage')).map((m) => ({ offset: Number(m.dataset.offset), text: m.textContent })),
      count: Number(document.body.dataset.passages),
    }));
    check(drawn.text === doc.text, `${slug}: the text is the document's, every character (${Array.from(doc.text).length} characters)`,
      drawn.text === doc.text ? null : `first difference at UTF-16 index ${[...drawn.text].findIndex((c, i) => c !== doc.text[i])}`);
    check(drawn.marks.length === passages.length && drawn.count === passages.length,
      `${slug}: every cited sentence is highlighted: ${drawn.marks.length} highlights, ${passages.length} passages`);
    const wrong = passages.filter((p, i) => !drawn.marks[i] || drawn.marks[i].offset !== p.offset || drawn.marks[i].text !== p.quote);
    check(wrong.length === 0, `${slug}: each highlight is exactly its passage (same offset, same characters)`,
      wrong.length ? `${wrong.length} differ, first at ${wrong[0].offset}: ${JSON.stringify(wrong[0].quote)} vs ${JSON.stringify(drawn.marks[passages.indexOf(wrong[0])])}` : null);
    return drawn;
  };

  try {
    // 1. The document, its text, its highlights.
    const resp = await page.goto(docUrl, { waitUntil: 'load', timeout: o.timeout });
    check(resp && resp.status() === 200, `page loaded: ${docUrl} (HTTP ${resp?.status()})`);
    const csp = resp?.headers()['content-security-policy'] ?? '';
    check(/script-src 'self'(;|$)/.test(csp), 'served under a Content-Security-Policy that allows only its own scripts', csp || 'no CSP header');
    let st = await waitState(['ready']);
    if (!check(st === 'ready', 'the reader drew the document (body[data-state=ready])', `state ${st}; ${clip(await readPanel(), 200)}`)) throw new Error('stop');
    const drawn = await highlights(doc, passages, o.doc);
    check(drawn.title === doc.title, `the title is the document's: ${JSON.stringify(doc.title)}`, drawn.title);
    check(drawn.meta.includes(doc.sha256), 'the SHA-256 of the text is shown', clip(drawn.meta, 300));

    // 2. Click the relation's sentence: its readings are listed, linking to /explore.
    const expected = await readings(relPassage);
    await page.locator(`#text mark.passage[data-offset="${relPassage.offset}"]`).click();
    st = await waitState(['selected'], relPassage.offset);
    await readPanel();
    check(st === 'selected', `clicking the sentence at ${relPassage.offset} lists its readings`, `state ${st}`);
    const listed = await page.evaluate(() => ({
      relations: Array.from(document.querySelectorAll('#panel li.relation')).map((li) => ({
        key: li.dataset.key,
        links: Array.from(li.querySelectorAll('a.entity')).map((a) => a.getAttribute('href')),
      })),
      names: document.querySelectorAll('#panel #names a.entity').length,
      facts: document.querySelectorAll('#panel li.fact').length,
      hash: location.hash,
      selected: Array.from(document.querySelectorAll('#text mark.passage.selected')).map((m) => Number(m.dataset.offset)),
      quoted: document.querySelectorAll('#text mark.passage.selected .quoted').length,
    }));
    const apiRelations = expected.relations.filter((r) => r.kind !== 'MENTIONS');
    const apiNames = expected.relations.length - apiRelations.length;
    check(listed.relations.length === apiRelations.length && listed.names === apiNames && listed.facts === expected.facts.length,
      `the panel lists what the API says cites the sentence: ${listed.relations.length} relations, ${listed.names} names, ${listed.facts} facts`,
      `API: ${apiRelations.length} relations, ${apiNames} names, ${expected.facts.length} facts; panel: ${clip(panelText, 300)}`);
    const mine = listed.relations.find((r) => r.key === o.relation);
    const want = [`/explore?slug=${encodeURIComponent(rel.from.slug)}`, `/explore?slug=${encodeURIComponent(rel.to.slug)}`];
    check(!!mine && want.every((h) => mine.links.includes(h)), `relation ${o.relation} is listed, linking to ${want.join(' and ')}`,
      JSON.stringify(mine || listed.relations.map((r) => r.key)));
    check(listed.relations.every((r) => r.links.length >= 2 && r.links.every((h) => h.startsWith('/explore?slug='))),
      'every listed relation links both its ends to /explore');
    check(listed.selected.length === 1 && listed.selected[0] === relPassage.offset, 'exactly the clicked sentence is selected', JSON.stringify(listed.selected));
    check(listed.hash === `#at=${relPassage.offset}`, `the address now says #at=${relPassage.offset}`, listed.hash);
    check(listed.quoted > 0, 'the words the graph quotes are marked inside the sentence');

    // 3. Follow a link to /explore.
    const link = page.locator(`#panel li.relation[data-key="${o.relation}"] a.entity`).first();
    const href = await link.getAttribute('href');
    await Promise.all([page.waitForURL((u) => u.pathname === '/explore', { timeout: o.timeout }), link.click()]);
    const explored = new URL(page.url());
    check(explored.pathname === '/explore' && `/explore${explored.search}` === href, `the link opens ${href}`, page.url());

    // 4. A citation's link: #at=<Citation.offset> selects the sentence holding it, scrolled into view.
    if (check(!!lastCitation, `the last cited sentence (at ${last.offset}) has a relation citation to open with #at=`)) {
      const atUrl = `${docUrl}#at=${lastCitation.offset}`;
      await page.goto(atUrl, { waitUntil: 'load' });
      st = await waitState(['selected'], last.offset);
      const view = await page.evaluate(() => {
        const m = document.querySelector('#text mark.passage.selected');
        if (!m) return null;
        const r = m.getBoundingClientRect();
        return { offset: Number(m.dataset.offset), top: r.top, bottom: r.bottom, height: window.innerHeight, scrollY: window.scrollY };
      });
      check(st === 'selected' && view && view.offset === last.offset,
        `opening ${atUrl.slice(o.base.length)} selects the sentence at ${last.offset}`, `state ${st}; ${JSON.stringify(view)}`);
      check(view && view.scrollY > 0 && view.top >= 0 && view.bottom <= view.height, 'and scrolls it into view', JSON.stringify(view));
      await readPanel();
      check(panelText.includes(last.quote.slice(0, 40)), 'the panel shows that sentence', clip(panelText, 200));

      // The fragment changed in place (as a link within the page does) selects again.
      await page.evaluate((at) => { location.hash = `#at=${at}`; }, cited.offset);
      st = await waitState(['selected'], relPassage.offset);
      check(st === 'selected', `changing the fragment to #at=${cited.offset} selects the sentence at ${relPassage.offset}`, `state ${st}`);
      await page.waitForTimeout(200);
      await page.screenshot({ path: o.out, fullPage: false });
      shot = true;
      check(true, `screenshot saved to ${o.out}`);
    }

    // 5. Characters beyond U+FFFF (two UTF-16 units, one offset): highlights still exact.
    if (o.astral) {
      const adoc = (await gql(DOC, { s: o.astral })).entity;
      const apassages = await allPassages(o.astral);
      const after = apassages.filter((p) => Array.from(adoc.text).slice(0, p.offset).join('').length !== p.offset).length;
      check(after > 0, `${o.astral}: ${after} of ${apassages.length} passages follow characters beyond U+FFFF`);
      await page.goto(`${o.base}/documents/${encodeURIComponent(o.astral)}`, { waitUntil: 'load' });
      st = await waitState(['ready']);
      if (check(st === 'ready', `${o.astral} drawn`, `state ${st}`)) await highlights(adoc, apassages, o.astral);
    }

    // 6. Every other document with a text, one of them with more passages than one page holds.
    const docs = (await gql(DOCUMENTS)).entities.edges.map((e) => e.node.slug).filter((x) => x !== o.doc && x !== o.astral && x !== o.noText);
    let most = 0;
    for (const slug of docs) {
      const d = (await gql(DOC, { s: slug })).entity;
      const ps = await allPassages(slug);
      most = Math.max(most, ps.length);
      await page.goto(`${o.base}/documents/${encodeURIComponent(slug)}`, { waitUntil: 'load' });
      st = await waitState(['ready']);
      if (check(st === 'ready', `${slug} drawn`, `state ${st}`)) await highlights(d, ps, slug);
    }
    check(most > 100, `one document has ${most} passages, more than the page's first request takes (100)`);

    // 7. A document without text says so.
    if (o.noText) {
      const r = await page.goto(`${o.base}/documents/${encodeURIComponent(o.noText)}`, { waitUntil: 'load' });
      st = await waitState(['no-text']);
      const t = await page.locator('#doc').innerText();
      check(r.status() === 200 && st === 'no-text' && /does not hold the text/.test(t), `a document without text (${o.noText}) says so`, `HTTP ${r.status()}, state ${st}: ${clip(t, 200)}`);
    }

    // 8. The 404 pages.
    for (const [slug, says] of [['no-such-document-here', /No entity of the graph has the slug “no-such-document-here”/], [rel.from.slug, /is an? \w+, not a document/]]) {
      const r = await page.goto(`${o.base}/documents/${encodeURIComponent(slug)}`, { waitUntil: 'load' });
      const t = await page.locator('body').innerText();
      check(r.status() === 404 && says.test(t) && t.includes(slug), `/documents/${slug} is a 404 page naming it`, `HTTP ${r.status()}: ${clip(t, 200)}`);
    }

    // 9. The list of documents.
    const all = (await gql(DOCUMENTS)).entities;
    await page.goto(`${o.base}/documents`, { waitUntil: 'load' });
    st = await waitState(['list']);
    const hrefs = await page.evaluate(() => Array.from(document.querySelectorAll('#doc-list a')).map((a) => a.getAttribute('href')));
    const wantHrefs = all.edges.map((e) => `/documents/${encodeURIComponent(e.node.slug)}`);
    check(st === 'list' && hrefs.length === all.totalCount && wantHrefs.every((h) => hrefs.includes(h)),
      `/documents links every document (${hrefs.length} of ${all.totalCount})`, JSON.stringify(hrefs));
  } catch (err) {
    if (err.message !== 'stop') check(false, 'page driven to the end', clip(err.message));
  } finally {
    if (!shot) {
      await page.screenshot({ path: o.out }).then(
        () => check(true, `screenshot saved to ${o.out} (at the point of failure)`),
        (err) => check(false, `screenshot saved to ${o.out}`, clip(err.message)),
      );
    }
  }
} catch (err) {
  if (err.message !== 'stop') check(false, 'reader checks ran', clip(err.message));
} finally {
  if (browser) await browser.close().catch(() => {});
}
const pageErrors = consoleErrors.filter((e) => e.startsWith('pageerror: '));
check(pageErrors.length === 0, 'no uncaught JavaScript error on the page', pageErrors.length ? clip(pageErrors[0], 300) : null);
const violations = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
check(violations.length === 0, 'no Content-Security-Policy violation', violations.length ? clip(violations[0], 300) : null);
check(blocked.size === 0, 'no request left loopback', blocked.size ? `blocked: ${[...blocked].slice(0, 5).join(', ')}` : null);

console.log(`panel text: ${panelText ? clip(panelText, 1500) : '<none>'}`);
if (consoleErrors.length) {
  console.log(`console errors (${consoleErrors.length}):`);
  for (const e of consoleErrors.slice(0, 20)) console.log(`  ${clip(e, 500)}`);
}
console.log(`summary: ${passed} checks passed, ${failed} checks failed`);
process.exit(failed ? 1 : 0);
