#!/usr/bin/env node
// Drives policygraph's graph explorer page (/explore) in headless chromium, the way a person would:
// search for an entity and pick the first suggestion, click a node to expand it, click an edge to
// read its citations, ask for the path between two entities. Used by the Rust integration tests;
// needs `npm ci` here and Debian's chromium (scripts/install-test-deps.sh installs both).
//
//   node explore.mjs --url http://127.0.0.1:PORT/explore --search "Klein Solomon" \
//        --from ugochi-daniels --to joe-biden --out /path/shot.png
//
// Options:
//   --url URL          the explore page (required)
//   --out FILE.png     screenshot, taken at the end whether or not the checks passed (required)
//   --search TEXT      what to type into the search box (default "IOM")
//   --from A --to B    the two ends of the path to find, slugs or names (default ugochi-daniels, joe-biden)
//   --timeout MS       how long to wait for each step (default 20000)
//   --chromium PATH    browser binary (default $CHROMIUM or /usr/bin/chromium)
//
// The page tells where it is through document.body.dataset.state ('ready' | 'loading' | 'drawn' |
// 'path' | 'error') and document.body.dataset.actions (finished actions so far); window.cy is
// its cytoscape instance. Every request to a host other than 127.0.0.1 / localhost / [::1] is
// blocked and reported: the page must not need the internet. Exit 0 when every check passed, 1
// when one failed (the page's console errors and the side panel's text are printed), 2 on bad usage.
import { chromium } from 'playwright-core';

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node explore.mjs --url URL --out FILE.png [--search TEXT] [--from A --to B] [--timeout MS] [--chromium PATH]');
  process.exit(2);
}

const o = { url: null, out: null, search: 'IOM', from: 'ugochi-daniels', to: 'joe-biden', timeout: 20000, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--url': o.url = next(); break;
    case '--out': o.out = next(); break;
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
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (isLoopback(u)) return route.continue();
    blocked.add(u);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.setDefaultTimeout(o.timeout);
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => { if (!blocked.has(r.url())) consoleErrors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`); });

  const state = () => page.evaluate(() => document.body.dataset.state);
  const actions = () => page.evaluate(() => Number(document.body.dataset.actions || 0));
  const readPanel = async () => { panelText = await page.locator('#panel').innerText().catch(() => panelText); return panelText; };
  // Wait until the page has finished more than `after` actions and is in one of `states`.
  const settle = (after, states) => page.waitForFunction(([n, ss]) => {
    const b = document.body.dataset;
    return Number(b.actions || 0) > n && (ss.includes(b.state) || b.state === 'error');
  }, [after, states], { timeout: o.timeout }).then(() => state(), async () => `timeout (state ${await state().catch(() => '?')})`);
  const counts = () => page.evaluate(() => ({ nodes: window.cy.nodes().length, edges: window.cy.edges().length }));

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

    // 3. Click an edge: its citations' quotes appear in the panel.
    const edge = await page.evaluate(() => {
      const e = window.cy.edges().filter((x) => (x.data('citations') || []).length > 0).first();
      if (e.empty()) return null;
      e.emit('tap');
      return { id: e.id(), quotes: e.data('citations').map((q) => q.quote) };
    });
    if (check(!!edge, 'the graph has an edge with citations')) {
      await page.waitForTimeout(100);
      await readPanel();
      const quoted = edge.quotes.find((q) => panelText.includes(`“${q.trim()}”`) || panelText.includes(`"${q.trim()}"`));
      check(!!quoted, `clicking edge ${JSON.stringify(edge.id)} shows a citation quote in #panel`,
        quoted ? `“${clip(quoted, 160)}”` : `panel: ${clip(panelText, 300)}`);
    }

    // 4. The path form.
    n0 = await actions();
    await page.locator('#path-from').fill(o.from);
    await page.locator('#path-to').fill(o.to);
    await page.locator('#path-go').click();
    st = await settle(n0, ['path']);
    const hl = await page.evaluate(() => ({
      path: window.cy.$('.path').length,
      nodes: window.cy.$('node.path').map((n) => n.id()),
      edges: window.cy.$('edge.path').length,
      dimmed: window.cy.$('.dimmed').length,
    }));
    await readPanel();
    check(st === 'path' && hl.path >= 3, `path ${o.from} → ${o.to} is highlighted (.path elements: ${hl.path})`,
      `state ${st}; nodes ${hl.nodes.join(' → ')}; ${hl.edges} edges; ${hl.dimmed} dimmed`);
    const steps = await page.locator('#panel ol.steps > li').count();
    check(steps >= 1 && steps === hl.edges && /“[^”]+”/.test(panelText), `#panel lists the ${steps} step(s), with citation quotes`, clip(panelText, 400));
    await page.waitForTimeout(200);
  } catch (err) {
    if (err.message !== 'stop') check(false, 'page driven to the end', clip(err.message));
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
