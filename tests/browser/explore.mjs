#!/usr/bin/env node
// Drives policygraph's graph explorer page (/explore) in headless chromium, the way a journalist
// would: search for an entity and pick the first suggestion, click a node to expand it, click an
// edge to read its evidence (each sentence within its paragraph, the document, the link into the
// document reader) and copy a citation, ask for the path between two entities and copy it as
// Markdown, select an edge of the path, share the view's address and open it in another page,
// save the picture as PNG and SVG, and open addresses that are old-style or broken. What the page
// shows is compared with what the GraphQL API answers for the same question, asked by this
// script. Used by the Rust integration tests; needs `npm ci` here and Debian's chromium
// (scripts/install-test-deps.sh installs both).
//
//   node explore.mjs --url http://127.0.0.1:PORT/explore --search "Klein Solomon" \
//        --from ugochi-daniels --to joe-biden --out /path/shot.png --shots /path/dir
//
// Options:
//   --url URL          the explore page (required)
//   --out FILE.png     screenshot, taken at the end whether or not the checks passed (required)
//   --shots DIR        also save explore-evidence.png (an edge's evidence) and explore-path.png
//                      (a path with its evidence) there
//   --search TEXT      what to type into the search box (default "IOM")
//   --from A --to B    the two ends of the path to find, slugs (default ugochi-daniels, joe-biden)
//   --token TOKEN      an editor's token: at the end, give the copied citation's document a URL
//                      (the seed's documents have none) and check that the footnotes carry it
//   --timeout MS       how long to wait for each step (default 20000)
//   --chromium PATH    browser binary (default $CHROMIUM or /usr/bin/chromium)
//
// The page tells where it is through document.body.dataset.state ('ready' | 'loading' | 'drawn' |
// 'edge' | 'path' | 'error'), dataset.actions (finished actions so far), dataset.restore
// ('running' | 'done' | 'problems' when it opened an address holding a view) and dataset.copies
// (texts put on the clipboard); window.cy is its cytoscape instance. Every request to a host
// other than 127.0.0.1 / localhost / [::1] is blocked and reported: the page must not need the
// internet. Exit 0 when every check passed, 1 when one failed (the page's console errors and the
// side panel's text are printed), 2 on bad usage.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const { DOMParser } = require('@xmldom/xmldom');

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node explore.mjs --url URL --out FILE.png [--shots DIR] [--token TOKEN] [--search TEXT] [--from A --to B] [--timeout MS] [--chromium PATH]');
  process.exit(2);
}

const o = { url: null, out: null, shots: null, token: null, search: 'IOM', from: 'ugochi-daniels', to: 'joe-biden', timeout: 20000, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--url': o.url = next(); break;
    case '--out': o.out = next(); break;
    case '--shots': o.shots = next(); break;
    case '--token': o.token = next(); break;
    case '--search': o.search = next(); break;
    case '--from': o.from = next(); break;
    case '--to': o.to = next(); break;
    case '--timeout': o.timeout = Number(next()); break;
    case '--chromium': o.chromium = next(); break;
    case '-h': case '--help': usage(); break;
    default: usage(`unknown argument ${a}`);
  }
}
if (!o.url || !o.out) usage('--url and --out are required');
try { new URL(o.url); } catch { usage(`--url is not a URL: ${o.url}`); }
if (!o.search.trim()) usage('--search must not be empty');
if (!o.from.trim() || !o.to.trim()) usage('--from and --to must not be empty');
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

// ---------------------------------------------------------------- what the page should show

const pageUrl = new URL(o.url);
const origin = pageUrl.origin;
async function api(query, variables = {}, token = null) {
  const r = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const j = await r.json();
  if (j.errors?.length) throw new Error(`API: ${j.errors.map((e) => e.message).join('; ')}`);
  return j.data;
}
const DOC = 'document { slug title publishedOn url }';
const relationQuery = `query($k: String!) { relation(key: $k) { key kind from { name } to { name }
  citations { quote offset context(chars: 1000) { before quote after } ${DOC} } } }`;
const pathQuery = `query($a: ID!, $b: ID!) { shortestPath(from: $a, to: $b) { length start { slug name }
  steps { entity { slug name } relation { key kind title from { slug name } to { slug name } citations { quote offset ${DOC} } } } } }`;

const relWords = (kind) => String(kind).toLowerCase().replace(/_/g, ' ');
const norm = (s) => String(s).replace(/\s+/g, ' ').trim();
// The footnote format the page documents: “quote”, title, date (or "undated"), URL when there is one.
const footnote = (c) => [c.quote != null ? `“${norm(c.quote)}”` : null, norm(c.document.title), c.document.publishedOn ?? 'undated', c.document.url ?? null]
  .filter((x) => x != null).join(', ') + '.';
const readerHref = (c) => `/documents/${c.document.slug}#at=${c.offset}`;
// The paragraph rule, written out here (the page uses a regular expression): the source texts
// hold one paragraph per line, so `before` keeps what follows its last line break, `after` what
// precedes its first; a side without one that fills the 1,000-character window was cut.
function paragraph(ctx) {
  const b = ctx.before.split('\n');
  const start = b.length > 1 ? b.length - 2 : -1;
  const a = ctx.after.split('\n');
  const end = a.length > 1 ? 1 : -1;
  return {
    before: start >= 0 ? b[b.length - 1] : ctx.before,
    after: end >= 0 ? a[0].replace(/\r$/, '') : ctx.after,
    cutStart: start < 0 && [...ctx.before].length >= 1000,
    cutEnd: end < 0 && [...ctx.after].length >= 1000,
    lineCut: start >= 0 || end >= 0,
    windowCut: (start < 0 && [...ctx.before].length >= 1000) || (end < 0 && [...ctx.after].length >= 1000),
    docEdge: (start < 0 && [...ctx.before].length < 1000) || (end < 0 && [...ctx.after].length < 1000),
  };
}
// xmldom's node lists are not iterable.
const all = (node, tag) => { const nl = node.getElementsByTagName(tag); return Array.from({ length: nl.length }, (_, i) => nl.item(i)); };
const mdUnescape = (s) => s.replace(/\\([\\`*_[\]<>])/g, '$1');

// ---------------------------------------------------------------- the browser

const blocked = new Set();
const consoleErrors = [];
let panelText = '';
let browser;
try {
  browser = await chromium.launch({
    executablePath: o.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  check(true, `chromium started (${browser.version()}, ${o.chromium})`);
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (isLoopback(u)) return route.continue();
    blocked.add(u);
    return route.abort('blockedbyclient');
  });
  const watch = (p) => {
    p.setDefaultTimeout(o.timeout);
    p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    p.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    p.on('requestfailed', (r) => { if (!blocked.has(r.url())) consoleErrors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`); });
    return p;
  };
  const page = watch(await context.newPage());

  const state = (p = page) => p.evaluate(() => document.body.dataset.state);
  const actions = (p = page) => p.evaluate(() => Number(document.body.dataset.actions || 0));
  const readPanel = async () => { panelText = await page.locator('#panel').innerText().catch(() => panelText); return panelText; };
  // Wait until the page has finished more than `after` actions and is in one of `states`.
  const settle = (after, states, p = page) => p.waitForFunction(([n, ss]) => {
    const b = document.body.dataset;
    return Number(b.actions || 0) > n && (ss.includes(b.state) || b.state === 'error');
  }, [after, states], { timeout: o.timeout }).then(() => state(p), async () => `timeout (state ${await state(p).catch(() => '?')})`);
  const restored = (p) => p.waitForFunction(() => ['done', 'problems'].includes(document.body.dataset.restore), null, { timeout: o.timeout })
    .then(() => p.evaluate(() => document.body.dataset.restore), () => 'timeout');
  const counts = () => page.evaluate(() => ({ nodes: window.cy.nodes().length, edges: window.cy.edges().length }));
  // Everything that makes the picture: which elements, which are selected, highlighted, dimmed, centred.
  const snapshot = (p) => p.evaluate(() => {
    const cy = window.cy;
    const ids = (c) => c.map((e) => e.id()).sort();
    return {
      nodes: ids(cy.nodes()), edges: ids(cy.edges()), selected: ids(cy.$(':selected')),
      path: ids(cy.$('.path')), dimmed: ids(cy.$('.dimmed')), center: ids(cy.nodes('[?center]')),
    };
  });
  const sameSnapshot = (a, b) => Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  const copied = (p, n) => p.waitForFunction((k) => Number(document.body.dataset.copies || 0) > k, n, { timeout: o.timeout }).then(() => true, () => false);
  const copies = (p = page) => p.evaluate(() => Number(document.body.dataset.copies || 0));
  const shot = async (name) => {
    if (!o.shots) return;
    const file = join(o.shots, name);
    await page.screenshot({ path: file }).then(() => check(true, `screenshot saved to ${file}`), (err) => check(false, `screenshot saved to ${file}`, clip(err.message)));
  };

  try {
    const resp = await page.goto(o.url, { waitUntil: 'load', timeout: o.timeout });
    check(resp && resp.ok(), `page loaded: ${o.url} (HTTP ${resp?.status()})`);
    const csp = resp?.headers()['content-security-policy'] ?? '';
    check(/script-src 'self'(;|$)/.test(csp), 'served under a Content-Security-Policy that allows only its own scripts', csp || 'no CSP header');
    const ready = await page.waitForFunction(() => window.cy && document.body.dataset.state === 'ready', null, { timeout: o.timeout })
      .then(() => true, () => false);
    if (!check(ready, 'explorer ready (window.cy exists, body[data-state=ready])',
      ready ? null : `state: ${await state().catch(() => '?')}; page text: ${clip(await page.locator('body').innerText().catch(() => ''), 200)}`)) throw new Error('stop');
    console.log(`        title: ${JSON.stringify(await page.title())}`);
    const help = await page.locator('#panel').innerText();
    check(help.includes('“quote”, Document title, date, URL.'), 'the page\'s help gives the citation format', clip(help, 200));

    // 1. Search and pick the first suggestion.
    let n0 = await actions();
    await page.locator('#search').click();
    await page.locator('#search').pressSequentially(o.search, { delay: 30 });
    const first = page.locator('#suggestions li[data-slug]').first();
    const suggested = await first.waitFor({ state: 'visible', timeout: o.timeout }).then(() => true, () => false);
    const sugText = suggested ? clip(await page.locator('#suggestions').innerText(), 300) : '';
    if (!check(suggested, `search ${JSON.stringify(o.search)} shows suggestions`, suggested ? sugText : `panel: ${clip(await readPanel(), 200)}`)) throw new Error('stop');
    const firstSlug = await first.getAttribute('data-slug');
    await first.click();
    let st = await settle(n0, ['drawn']);
    let c = await counts();
    if (!check(st === 'drawn' && c.nodes > 1, `picking the first suggestion (${firstSlug}) draws its neighbourhood`,
      `state ${st}; ${c.nodes} nodes, ${c.edges} edges`)) throw new Error('stop');
    check(await page.evaluate((s) => window.cy.$id(s).nonempty(), firstSlug), `the graph has a node with id ${JSON.stringify(firstSlug)}`);
    check(new URL(page.url()).searchParams.get('slug') === firstSlug, `the address names the entity searched (?slug=${firstSlug})`, page.url());

    // 2. Click a node (a neighbour, not the centre): it expands.
    const target = await page.evaluate((s) => {
      const cy = window.cy;
      const others = cy.nodes().filter((n) => n.id() !== s);
      const pick = others.filter((n) => n.data('omittedTotal') > 0).first();
      return (pick.nonempty() ? pick : others.first()).id();
    }, firstSlug);
    n0 = await actions();
    await page.evaluate((id) => { window.cy.$id(id).emit('tap'); }, target); // (return nothing: an element does not serialise)
    st = await settle(n0, ['drawn']);
    const c2 = await counts();
    await readPanel();
    check(st === 'drawn' && c2.nodes >= c.nodes, `clicking node ${JSON.stringify(target)} expands it`,
      `state ${st}; nodes ${c.nodes} -> ${c2.nodes}, edges ${c.edges} -> ${c2.edges}`);
    const name = await page.evaluate((id) => window.cy.$id(id).data('name'), target);
    check(panelText.includes(name) && panelText.includes(target), 'the side panel shows the node\'s name and slug', clip(panelText, 300));
    check((new URL(page.url()).searchParams.get('expand') || '').split(',').includes(target), `the address lists the expanded node (expand=…${target})`, page.url());

    // "Copy as Markdown": a numbered step per relation with its footnote markers, then the
    // footnotes, compared with the API's `path`.
    async function checksMarkdown(path, label) {
      const k0 = await copies();
      await page.locator('#copy-markdown').click();
      const didCopy = await copied(page, k0);
      const mdText = didCopy ? await clipboard().catch(() => '') : '';
      const mdLines = mdText.split('\n');
      let n = 0;
      const wantNotes = [];
      path.steps.forEach((s, i) => {
        const r = s.relation;
        const marks = r.citations.map((q) => { n++; wantNotes.push(`[^${n}]: ${footnote(q)}`); return `[^${n}]`; }).join('');
        const line = mdLines.find((l) => l.startsWith(`${i + 1}. `));
        const plain = line ? mdUnescape(line) : '';
        check(!!line && plain.includes(`${r.from.name} → *${relWords(r.kind)}*`) && plain.includes(`→ ${r.to.name}`) && line.endsWith(marks),
          `Markdown${label} step ${i + 1}: "${r.from.name} → ${relWords(r.kind)} → ${r.to.name}" with markers ${marks}`, clip(line, 300));
      });
      // A URL is an autolink, <URL>, and nothing in it may be escaped.
      const gotNotes = mdLines.filter((l) => /^\[\^\d+\]: /.test(l)).map((l) => {
        const m = l.match(/^(.*), <(https?:[^<>\s]+)>\.$/);
        return m ? `${mdUnescape(m[1])}, ${m[2]}.` : mdUnescape(l);
      });
      check(didCopy && JSON.stringify(gotNotes) === JSON.stringify(wantNotes), `Markdown${label} footnotes: one per citation (${wantNotes.length}), each the citation with quote, document, date, URL`,
        gotNotes.length === wantNotes.length ? wantNotes.map((w, i) => (w === gotNotes[i] ? null : `got ${gotNotes[i]} / want ${w}`)).filter(Boolean).join(' | ') || null : `got ${gotNotes.length}: ${clip(mdText, 400)}`);
      return wantNotes;
    }
    // "Copy citation" on the first citation of the edge shown: the footnote the API's data make.
    async function checksCopiedCitation(rel, label) {
      const k0 = await copies();
      await page.locator('#panel li.evidence button.copy-citation').first().click();
      const didCopy = await copied(page, k0);
      const got = didCopy ? await clipboard().catch((e) => `clipboard unreadable: ${e.message}`) : null;
      const want = footnote(rel.citations[0]);
      check(didCopy && got === want, `"Copy citation" puts the footnote on the clipboard${label}`, `clipboard ${JSON.stringify(got)}; expected ${JSON.stringify(want)}`);
      return want;
    }

    // 3. Click an edge: each citation's sentence within its paragraph, its document, the reader link.
    // A paragraph ends at a line break inside the window, or runs past the window (an ellipsis),
    // or stops at the document's start or end (none): the API says which drawn edges show each
    // case, and one edge of each is clicked, the line-break one last (it is screenshot and copied).
    // The seed's paragraphs are all under 1,000 characters, so the window's cut shows only where
    // a graph has longer ones; every case the drawn edges hold is checked.
    const drawnEdges = await page.evaluate(() => window.cy.edges().filter((x) => (x.data('citations') || []).some((q) => q.quote)).map((x) => x.id()));
    const cases = { windowCut: null, docEdge: null, lineCut: null };
    for (const key of drawnEdges) {
      const rel = (await api(relationQuery, { k: key })).relation;
      const located = rel.citations.filter((q) => q.context).map((q) => paragraph(q.context));
      for (const k of Object.keys(cases)) if (!cases[k] && located.some((p) => p[k])) cases[k] = rel;
      if (Object.values(cases).every(Boolean)) break;
    }
    const chosen = cases.lineCut;
    // Clicks `rel`'s edge and compares each citation shown with the API's.
    const seen = { lineCut: false, windowCut: false, docEdge: false };
    async function showsEvidence(rel) {
      const n = await actions();
      await page.evaluate((k) => { window.cy.$id(k).emit('tap'); }, rel.key);
      const st = await settle(n, ['edge']);
      await readPanel();
      check(st === 'edge', `clicking edge ${JSON.stringify(rel.key)} shows its evidence (state ${st})`);
      const quoted = rel.citations.find((q) => q.quote && panelText.includes(q.quote.trim()));
      check(!!quoted, `clicking edge ${JSON.stringify(rel.key)} shows a citation quote in #panel`,
        quoted ? `“${clip(quoted.quote, 160)}”` : `panel: ${clip(panelText, 300)}`);
      const shown = await page.locator('#panel li.evidence').evaluateAll((items) => items.map((li) => ({
        before: li.querySelector('.context .before')?.textContent ?? null,
        mark: li.querySelector('.context mark')?.textContent ?? null,
        after: li.querySelector('.context .after')?.textContent ?? null,
        cutStart: !!li.querySelector('.context > .cut:first-child'),
        cutEnd: !!li.querySelector('.context > .cut:last-child'),
        href: li.querySelector('a.reader')?.getAttribute('href') ?? null,
        source: li.querySelector('.source')?.textContent ?? '',
      })));
      check(shown.length === rel.citations.length, `#panel lists the edge's ${rel.citations.length} citation(s)`, `${shown.length} shown`);
      rel.citations.forEach((q, i) => {
        const s = shown[i] || {};
        if (!q.context) { check(s.mark === null, `citation ${i + 1}: no located quote, no paragraph`); return; }
        const want = paragraph(q.context);
        for (const k of Object.keys(seen)) seen[k] ||= want[k];
        check(s.mark === q.context.quote && s.mark === q.quote, `citation ${i + 1}: the quote is highlighted (<mark>)`, clip(s.mark, 160));
        check(s.before === want.before && s.after === want.after,
          `citation ${i + 1}: the quote sits within its paragraph (${[...want.before].length} characters before, ${[...want.after].length} after${want.lineCut ? ', cut at a line break' : ''})`,
          s.before === want.before && s.after === want.after ? null : `shown before ${JSON.stringify(clip(s.before, 120))} after ${JSON.stringify(clip(s.after, 120))}; expected before ${JSON.stringify(clip(want.before, 120))} after ${JSON.stringify(clip(want.after, 120))}`);
        check(s.cutStart === want.cutStart && s.cutEnd === want.cutEnd, `citation ${i + 1}: an ellipsis exactly where the window cut the paragraph (start ${want.cutStart}, end ${want.cutEnd})`,
          `shown: start ${s.cutStart}, end ${s.cutEnd}`);
        check(s.href === readerHref(q), `citation ${i + 1}: "read in the document" links to ${readerHref(q)}`, `href ${s.href}`);
        check(s.source.includes(norm(q.document.title)) && s.source.includes(q.document.publishedOn ?? 'undated') && (!q.document.url || s.source.includes(q.document.url)),
          `citation ${i + 1}: the document's title, date and URL are shown`, clip(s.source, 200));
      });
    }
    for (const rel of new Set([cases.windowCut, cases.docEdge].filter((r) => r && r !== chosen))) await showsEvidence(rel);
    if (check(!!chosen, 'the graph has an edge whose quote\'s paragraph ends at a line break', `${drawnEdges.length} edges with quotes drawn`)) {
      await showsEvidence(chosen);
      check(Object.keys(cases).every((k) => !cases[k] || seen[k]), 'every paragraph case the drawn edges hold was shown and checked (line break, window, document edge)', JSON.stringify({ seen, present: Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, !!v])) }));
      await shot('explore-evidence.png');

      // 4. Copy citation: the footnote on the clipboard, as the API's data make it.
      const want = await checksCopiedCitation(chosen, '');

      // ... and where the clipboard is refused, the same text to select by hand.
      const refusing = watch(await context.newPage());
      await refusing.addInitScript(() => {
        navigator.clipboard.writeText = () => Promise.reject(new DOMException('refused for the test', 'NotAllowedError'));
      });
      await refusing.goto(page.url(), { waitUntil: 'load' });
      const r1 = await restored(refusing);
      await refusing.locator('#panel li.evidence button.copy-citation:not([disabled])').first().click().catch(() => {});
      const box = refusing.locator('#panel li.evidence .copy-fallback textarea').first();
      const boxShown = await box.waitFor({ state: 'visible', timeout: o.timeout }).then(() => true, () => false);
      const boxText = boxShown ? await box.inputValue() : null;
      const selectedText = boxShown ? await refusing.evaluate(() => { const t = document.activeElement; return t && t.tagName === 'TEXTAREA' ? t.value.slice(t.selectionStart, t.selectionEnd) : null; }) : null;
      check(r1 === 'done' && boxText === want && selectedText === want, 'when the clipboard is refused, the footnote is shown selected in a text box',
        `restore ${r1}; box ${JSON.stringify(boxText)}; selected ${JSON.stringify(selectedText)}`);
      await refusing.close();
    }

    // 5. The path form: highlighted, each step's evidence listed, copyable as Markdown.
    n0 = await actions();
    await page.locator('#path-from').fill(o.from);
    await page.locator('#path-to').fill(o.to);
    await page.locator('#path-go').click();
    st = await settle(n0, ['path']);
    const hl = await page.evaluate(() => ({
      path: window.cy.$('.path').length,
      nodes: window.cy.$('node.path').map((n) => n.id()),
      edges: window.cy.$('edge.path').map((e) => e.id()),
      dimmed: window.cy.$('.dimmed').length,
    }));
    await readPanel();
    check(st === 'path' && hl.path >= 3, `path ${o.from} → ${o.to} is highlighted (.path elements: ${hl.path})`,
      `state ${st}; nodes ${hl.nodes.join(' → ')}; ${hl.edges.length} edges; ${hl.dimmed} dimmed`);
    const steps = await page.locator('#panel ol.steps > li').count();
    check(steps >= 1 && steps === hl.edges.length && /“[^”]+”/.test(panelText), `#panel lists the ${steps} step(s), with citation quotes`, clip(panelText, 400));
    const path = (await api(pathQuery, { a: o.from, b: o.to })).shortestPath;
    if (check(!!path && path.steps.length === steps, `the API's path has the same ${steps} step(s)`, path ? path.steps.map((s) => s.relation.key).join(' | ') : 'no path')) {
      check(JSON.stringify(path.steps.map((s) => s.relation.key).sort()) === JSON.stringify([...hl.edges].sort()), 'the highlighted edges are the path\'s relations');
      const listed = await page.locator('#panel ol.steps > li').evaluateAll((items) => items.map((li) => ({
        key: li.dataset.key,
        relation: li.querySelector('.relation')?.textContent ?? '',
        marks: [...li.querySelectorAll('li.evidence')].map((e) => (e.querySelector('q')?.textContent ?? '')),
        sources: [...li.querySelectorAll('li.evidence .source')].map((e) => e.textContent),
        hrefs: [...li.querySelectorAll('li.evidence a.reader')].map((a) => a.getAttribute('href')),
      })));
      path.steps.forEach((s, i) => {
        const r = s.relation;
        const l = listed[i] || { relation: '', marks: [], sources: [], hrefs: [] };
        check(l.key === r.key && l.relation.replace(/\s+/g, ' ').includes(`${r.from.name} → ${relWords(r.kind)} → ${r.to.name}`),
          `step ${i + 1} reads "${r.from.name} → ${relWords(r.kind)} → ${r.to.name}"`, clip(l.relation, 200));
        const everyCitation = r.citations.length === l.marks.length && r.citations.every((q, j) =>
          (q.quote == null || l.marks[j] === `“${q.quote}”`) && l.sources[j].includes(norm(q.document.title)) && l.sources[j].includes(q.document.publishedOn ?? 'undated') && l.hrefs[j] === readerHref(q));
        check(everyCitation, `step ${i + 1} shows its ${r.citations.length} citation(s): quote, document, date, reader link`, clip(JSON.stringify(l), 300));
      });
      await shot('explore-path.png');

      await checksMarkdown(path, '');
    }

    // 6. Select an edge of the path: the highlight stays, and the address now holds the whole view.
    const pathEdge = hl.edges[0];
    if (pathEdge) {
      n0 = await actions();
      await page.evaluate((k) => { window.cy.$id(k).emit('tap'); }, pathEdge);
      st = await settle(n0, ['edge']);
      const still = await page.evaluate(() => window.cy.$('.path').length);
      check(st === 'edge' && still === hl.path, `selecting path edge ${JSON.stringify(pathEdge)} shows its evidence and keeps the path highlighted`, `state ${st}; .path ${still}`);
    }
    const shared = page.url();
    const sp = new URL(shared).searchParams;
    check(sp.get('slug') === firstSlug && (sp.get('expand') || '').split(',').includes(target) && sp.get('from') === o.from && sp.get('to') === o.to && sp.get('edge') === pathEdge,
      'the address holds the view: slug, expand, from, to, edge', shared);

    // 7. The permalink, opened in another page, shows the same picture.
    const before = await snapshot(page);
    const other = watch(await context.newPage());
    await other.goto(shared, { waitUntil: 'load' });
    const r2 = await restored(other);
    const after = await snapshot(other);
    const diff = sameSnapshot(before, after);
    check(r2 === 'done' && diff.length === 0, `the shared address reproduces the view (${after.nodes.length} nodes, ${after.edges.length} edges, selection ${after.selected.join(',')}, ${after.path.length} highlighted, centre ${after.center.join(',')})`,
      `restore ${r2}; differs in: ${diff.join(', ') || 'nothing'}${diff.length ? `; e.g. ${diff[0]}: ${clip(JSON.stringify(before[diff[0]]), 150)} vs ${clip(JSON.stringify(after[diff[0]]), 150)}` : ''}`);
    const otherMarks = await other.locator('#panel li.evidence mark').allTextContents();
    const mainMarks = await page.locator('#panel li.evidence mark').allTextContents();
    check(otherMarks.length > 0 && JSON.stringify(otherMarks) === JSON.stringify(mainMarks), 'and the same edge\'s evidence in the panel', `${otherMarks.length} vs ${mainMarks.length} quotes`);
    check(other.url() === shared, 'the restored page keeps the same address', other.url());

    // A path drawn but no longer highlighted stays so: click the background, share, reopen.
    await other.evaluate(() => { window.cy.emit('tap'); });
    const unlit = other.url();
    const third = watch(await context.newPage());
    await third.goto(unlit, { waitUntil: 'load' });
    const r3 = await restored(third);
    const s2 = await snapshot(other);
    const s3 = await snapshot(third);
    const diff3 = sameSnapshot(s2, s3);
    check(new URL(unlit).searchParams.get('highlight') === '0' && s3.path.length === 0 && r3 === 'done' && diff3.length === 0 && s3.nodes.length === after.nodes.length,
      'a path no longer highlighted is shared as such (highlight=0): same elements, nothing highlighted', `${unlit}; restore ${r3}; differs in: ${diff3.join(', ') || 'nothing'}`);
    await third.close();
    await other.close();

    // 8. Save the picture: a real PNG, an SVG that parses and holds the nodes.
    const [png] = await Promise.all([page.waitForEvent('download'), page.locator('#save-png').click()]);
    const pngBytes = readFileSync(await png.path());
    const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    const isPng = sig.every((b, i) => pngBytes[i] === b) && pngBytes.toString('latin1', 12, 16) === 'IHDR';
    const pw = isPng ? pngBytes.readUInt32BE(16) : 0; const ph = isPng ? pngBytes.readUInt32BE(20) : 0;
    check(isPng && pw > 100 && ph > 100 && pngBytes.length > 5000 && png.suggestedFilename().endsWith('.png'),
      `"Save PNG" downloads a PNG (${png.suggestedFilename()}, ${pw}×${ph}, ${pngBytes.length} bytes)`);
    const [svg] = await Promise.all([page.waitForEvent('download'), page.locator('#save-svg').click()]);
    const svgText = readFileSync(await svg.path(), 'utf8');
    const problems = [];
    const doc = new DOMParser({ errorHandler: { warning: () => {}, error: (m) => problems.push(m), fatalError: (m) => problems.push(m) } })
      .parseFromString(svgText, 'image/svg+xml');
    const root = doc?.documentElement;
    check(problems.length === 0 && root?.localName === 'svg' && root.namespaceURI === 'http://www.w3.org/2000/svg' && svg.suggestedFilename().endsWith('.svg'),
      `"Save SVG" downloads well-formed SVG (${svg.suggestedFilename()}, ${svgText.length} bytes)`, problems.length ? clip(problems.join(' | ')) : null);
    if (root) {
      const groups = all(root, 'g');
      const of = (kind) => groups.filter((g) => (g.getAttribute('class') || '').split(' ').includes(kind));
      const now = await snapshot(page);
      const names = await page.evaluate(() => Object.fromEntries(window.cy.nodes().map((n) => [n.id(), n.data('label')])));
      const svgNodes = of('node').map((g) => g.getAttribute('data-id')).sort();
      const svgEdges = of('edge').map((g) => g.getAttribute('data-id')).sort();
      const svgPath = groups.filter((g) => (g.getAttribute('class') || '').split(' ').includes('path')).map((g) => g.getAttribute('data-id')).sort();
      check(JSON.stringify(svgNodes) === JSON.stringify(now.nodes) && JSON.stringify(svgEdges) === JSON.stringify(now.edges) && JSON.stringify(svgPath) === JSON.stringify(now.path),
        `the SVG has every node (${svgNodes.length}) and edge (${svgEdges.length}) of the picture, the path marked (${svgPath.length})`,
        `svg ${svgNodes.length} nodes/${svgEdges.length} edges/${svgPath.length} path; page ${now.nodes.length}/${now.edges.length}/${now.path.length}`);
      const badLabels = of('node').filter((g) => {
        const t = all(g, 'text')[0];
        const lines = t ? all(t, 'tspan').map((s) => s.textContent).join(' ') : null;
        return !t || norm(lines) !== norm(names[g.getAttribute('data-id')]);
      }).map((g) => g.getAttribute('data-id'));
      check(badLabels.length === 0, 'each SVG node carries its label as text', badLabels.length ? `wrong: ${badLabels.slice(0, 5).join(', ')}` : null);
      const shapes = of('node').every((g) => all(g, 'ellipse').length === 1) && of('edge').every((g) => all(g, 'path').length === 1);
      check(shapes, 'each SVG node is drawn (an ellipse) and each edge (a path)');
    }

    // 9. The old address form, ?slug=SLUG, still draws that neighbourhood.
    const old = watch(await context.newPage());
    await old.goto(`${o.url}?slug=${encodeURIComponent(o.from)}`, { waitUntil: 'load' });
    const r4 = await restored(old);
    const s4 = await snapshot(old);
    check(r4 === 'done' && (await state(old)) === 'drawn' && s4.center.join() === o.from && s4.selected.join() === o.from && s4.nodes.length > 1,
      `?slug=${o.from} draws its neighbourhood, centred and selected`, `restore ${r4}; ${s4.nodes.length} nodes; centre ${s4.center}`);
    // A selected node other than the centre, and no selection at all, are part of a view too.
    const neighbour = s4.nodes.find((id) => id !== o.from);
    const neighbourName = await old.evaluate((id) => window.cy.$id(id).data('name'), neighbour);
    const withNode = `${o.url}?slug=${o.from}&node=${neighbour}`;
    await old.goto(withNode, { waitUntil: 'load' });
    const r7 = await restored(old);
    const s7 = await snapshot(old);
    const h2 = await old.locator('#panel h2').first().innerText();
    check(r7 === 'done' && s7.selected.join() === neighbour && h2 === neighbourName && old.url() === withNode,
      `?slug=${o.from}&node=${neighbour} selects that node and shows it`, `restore ${r7}; selected ${s7.selected}; panel ${h2}; ${old.url()}`);
    await old.evaluate(() => { window.cy.emit('tap'); });
    const none = old.url();
    await old.goto(none, { waitUntil: 'load' });
    const r8 = await restored(old);
    const s8 = await snapshot(old);
    check(new URL(none).searchParams.get('node') === '' && r8 === 'done' && s8.selected.length === 0 && s8.nodes.length === s7.nodes.length,
      'nothing selected is shared as such (node= empty)', `${none}; restore ${r8}; selected ${s8.selected}`);
    await old.close();

    // 10. Broken addresses: a clear message naming what could not be shown, and a usable page.
    const broken = watch(await context.newPage());
    await broken.goto(`${o.url}?slug=no-such-entity-zz&expand=Not%20A%20Slug,${encodeURIComponent(o.to)}&edge=nope:x:y`, { waitUntil: 'load' });
    const r5 = await restored(broken);
    const notice = await broken.locator('#notice').isVisible() ? await broken.locator('#notice').innerText() : '';
    const s5 = await snapshot(broken);
    check(r5 === 'problems' && notice.includes('no-such-entity-zz') && notice.includes('Not A Slug') && notice.includes('nope:x:y'),
      'an address naming an unknown entity, a non-slug and an unknown relation: a notice names each', clip(notice, 300));
    check(s5.center.join() === o.to && (await state(broken)) === 'drawn', `the rest of that address is drawn (${o.to})`, `centre ${s5.center}; state ${await state(broken)}`);
    check(!new URL(broken.url()).search.includes('no-such-entity-zz'), 'the address is rewritten to the view actually shown', broken.url());
    await broken.goto(`${o.url}?slug=%00%FF%3Cscript%3E&node=%E2%80%AE&from=&to=x`, { waitUntil: 'load' });
    const r6 = await restored(broken);
    const notice6 = await broken.locator('#notice').isVisible() ? await broken.locator('#notice').innerText() : '';
    check(r6 === 'problems' && notice6.length > 0 && (await state(broken)) === 'ready', 'an address of garbage: a notice, and the page ready', `restore ${r6}; state ${await state(broken)}; ${clip(notice6, 200)}`);
    const n6 = await actions(broken);
    await broken.locator('#search').click();
    await broken.locator('#search').pressSequentially(o.search, { delay: 20 });
    const sug = broken.locator('#suggestions li[data-slug]').first();
    const usable = await sug.waitFor({ state: 'visible', timeout: o.timeout }).then(() => true, () => false);
    if (usable) await sug.click();
    const st6 = usable ? await settle(n6, ['drawn'], broken) : 'no suggestions';
    check(st6 === 'drawn' && (await broken.locator('#notice').isHidden()), 'after it, a search still draws (and the notice goes away)', `state ${st6}`);
    await broken.close();
    await page.bringToFront();

    // 11. A document with a URL: the evidence links it, the footnotes end with it.
    if (o.token && chosen) {
      const url = 'https://example.org/explore-test/press_release?id=2021&lang=en';
      const docSlug = chosen.citations[0].document.slug;
      await api('mutation($id: ID!, $u: String) { updateEntity(input: { id: $id, url: $u }) { entity { slug } } }', { id: docSlug, u: url }, o.token);
      const rel = (await api(relationQuery, { k: chosen.key })).relation;
      check(rel.citations[0].document.url === url, `an editor gives ${docSlug} a URL through the API`, rel.citations[0].document.url);
      n0 = await actions();
      await page.evaluate((k) => { window.cy.$id(k).emit('tap'); }, chosen.key);
      st = await settle(n0, ['edge']);
      const href = await page.locator('#panel li.evidence a.doc-url').first().getAttribute('href').catch(() => null);
      check(st === 'edge' && href === url, 'the evidence links the document\'s URL', `state ${st}; href ${href}`);
      const withUrl = await checksCopiedCitation(rel, ' (with the document\'s URL)');
      check(withUrl.endsWith(`, ${url}.`), 'the copied footnote ends with the URL', withUrl);
      n0 = await actions();
      await page.locator('#path-go').click();
      st = await settle(n0, ['path']);
      const again = (await api(pathQuery, { a: o.from, b: o.to })).shortestPath;
      const notes = st === 'path' && again ? await checksMarkdown(again, ' (with a URL)') : [];
      check(notes.some((f) => f.endsWith(`, ${url}.`)), 'a Markdown footnote carries the URL', `state ${st}; ${notes.length} footnotes`);
    }
    await page.waitForTimeout(200);
    await readPanel();
  } catch (err) {
    if (err.message !== 'stop') check(false, 'page driven to the end', clip(err.stack || err.message, 600));
  } finally {
    await page.screenshot({ path: o.out }).then(
      () => check(true, `screenshot saved to ${o.out}`),
      (err) => check(false, `screenshot saved to ${o.out}`, clip(err.message)),
    );
  }
} catch (err) {
  check(false, `chromium started from ${o.chromium}`, clip(err.message));
} finally {
  if (browser) await browser.close().catch(() => {});
}
const pageErrors = consoleErrors.filter((e) => e.startsWith('pageerror: '));
check(pageErrors.length === 0, 'no uncaught JavaScript error on the page', pageErrors.length ? clip(pageErrors[0], 300) : null);
const violations = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
check(violations.length === 0, 'no Content-Security-Policy violation', violations.length ? clip(violations[0], 300) : null);
check(blocked.size === 0, 'no request left loopback', blocked.size ? `blocked: ${[...blocked].slice(0, 5).join(', ')}` : null);

console.log(`panel text: ${panelText ? clip(panelText, 1500) : '<none>'}`);
if (blocked.size) {
  console.log(`blocked ${blocked.size} request(s) to hosts other than loopback:`);
  for (const u of blocked) console.log(`  ${u}`);
}
if (consoleErrors.length) {
  console.log(`console errors (${consoleErrors.length}):`);
  for (const e of consoleErrors.slice(0, 20)) console.log(`  ${clip(e, 500)}`);
}
console.log(`summary: ${passed} checks passed, ${failed} checks failed`);
process.exit(failed ? 1 : 0);
