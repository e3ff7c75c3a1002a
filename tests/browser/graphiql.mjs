#!/usr/bin/env node
// Drives policygraph's self-hosted GraphiQL page (/graphiql) in headless chromium, the way a person
// would: open the page, put a query into the editor, press the run button, wait for the result.
// Used by the Rust integration tests; needs `npm ci` here and Debian's chromium
// (scripts/install-test-deps.sh installs both).
//
//   node graphiql.mjs --url http://127.0.0.1:PORT/graphiql --query '{ entity(slug: "iom") { name } }' \
//        --expect 'International Organization for Migration' --out /path/shot.png
//
// Options:
//   --url URL          the GraphiQL page (required)
//   --out FILE.png     screenshot, taken at the end whether or not the checks passed (required)
//   --query DOC        the query to run (default "{ __typename }"); @FILE reads it from a file
//   --expect STRING    the result pane must contain STRING (repeatable; default: "data")
//   --timeout MS       how long to wait for each step (default 20000)
//   --chromium PATH    browser binary (default $CHROMIUM or /usr/bin/chromium)
//
// Every request to a host other than 127.0.0.1 / localhost / [::1] is blocked and reported: the
// page must not need the internet. Exit 0 when every check passed, 1 when one failed (the page's
// console errors and the result text are printed), 2 on bad usage.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error("usage: node graphiql.mjs --url URL --out FILE.png [--query DOC|@FILE] [--expect STRING]... [--timeout MS] [--chromium PATH]");
  process.exit(2);
}

const o = { url: null, out: null, query: '{ __typename }', expect: [], timeout: 20000, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--url': o.url = next(); break;
    case '--out': o.out = next(); break;
    case '--query': {
      const v = next();
      try { o.query = v.startsWith('@') ? readFileSync(v.slice(1), 'utf8').trim() : v; } catch (e) { usage(`cannot read ${v.slice(1)}: ${e.message}`); }
      break;
    }
    case '--expect': o.expect.push(next()); break;
    case '--timeout': o.timeout = Number(next()); break;
    case '--chromium': o.chromium = next(); break;
    case '-h': case '--help': usage(); break;
    default: usage(`unknown argument ${a}`);
  }
}
if (!o.url || !o.out) usage('--url and --out are required');
try { new URL(o.url); } catch { usage(`--url is not a URL: ${o.url}`); }
if (!o.expect.length) o.expect.push('data');
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
let resultText = '';
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

  try {
    const resp = await page.goto(o.url, { waitUntil: 'load', timeout: o.timeout });
    check(resp && resp.ok(), `page loaded: ${o.url} (HTTP ${resp?.status()})`);
    const csp = resp?.headers()['content-security-policy'] ?? '';
    check(/script-src 'self'(;|$)/.test(csp), 'served under a Content-Security-Policy that allows only its own scripts', csp || 'no CSP header');

    const rendered = await page.locator('.graphiql-container').first()
      .waitFor({ state: 'visible', timeout: o.timeout }).then(() => true, () => false);
    if (!check(rendered, 'GraphiQL rendered (.graphiql-container visible)',
      rendered ? null : `page text: ${clip(await page.locator('body').innerText().catch(() => ''), 200)}`)) throw new Error('stop');
    console.log(`        title: ${JSON.stringify(await page.title())}`);

    // The query editor is CodeMirror 5 (GraphiQL 3): set its value through its own API.
    await page.locator('.graphiql-query-editor .CodeMirror').first().waitFor({ state: 'visible', timeout: o.timeout });
    const inEditor = await page.evaluate((q) => {
      const cm = document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror;
      if (!cm) return null;
      cm.setValue(q);
      cm.focus();
      return cm.getValue();
    }, o.query);
    if (!check(inEditor === o.query, 'query put into the editor', inEditor === o.query ? null : `editor holds: ${clip(inEditor)}`)) throw new Error('stop');

    // GraphiQL reads the operation name from the editor after a debounce; clicking before it has
    // seen the new text would send the previous tab's operation name.
    await page.waitForTimeout(700);
    await page.locator('.graphiql-execute-button').first().click();
    check(true, 'run button clicked (.graphiql-execute-button)');

    // Wait for the result pane to hold every expected string.
    const readResult = () => page.evaluate(() => {
      const cm = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror;
      if (cm) return cm.getValue();
      const el = document.querySelector('.graphiql-response .result-window') || document.querySelector('.result-window') || document.querySelector('.graphiql-response');
      return el ? el.innerText : '';
    });
    const t0 = Date.now();
    for (;;) {
      resultText = await readResult().catch(() => resultText);
      if (o.expect.every((s) => resultText.includes(s))) break;
      if (Date.now() - t0 > o.timeout) break;
      await page.waitForTimeout(150);
    }
    check(/"(data|errors)"/.test(resultText), 'result pane shows a GraphQL response');
    for (const s of o.expect) check(resultText.includes(s), `result contains ${JSON.stringify(s)}`);
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
const violations = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
check(violations.length === 0, 'no Content-Security-Policy violation', violations.length ? clip(violations[0], 300) : null);
check(blocked.size === 0, 'no request left loopback', blocked.size ? `blocked: ${[...blocked].slice(0, 5).join(', ')}` : null);

console.log(`result text: ${resultText ? clip(resultText, 2000) : '<none>'}`);
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
