#!/usr/bin/env node
// Drives policygraph's self-hosted GraphiQL page (/graphiql) in headless chromium, the way a person
// would: open the page, check that the Explorer panel is open, put a query into the editor (or
// build one by clicking in the Explorer), press the run button, wait for the result.
// Used by the Rust integration tests; needs `npm ci` here and Debian's chromium
// (scripts/install-test-deps.sh installs both).
//
//   node graphiql.mjs --url http://127.0.0.1:PORT/graphiql --query '{ entity(slug: "iom") { name } }' \
//        --expect 'International Organization for Migration' --out /path/shot.png
//   node graphiql.mjs --url http://127.0.0.1:PORT/graphiql --explore entity --explore 'entity(slug)=iom' \
//        --explore entity.name --explore entity.relations.totalCount --expect-query 'slug: "iom"' \
//        --expect 'International Organization for Migration' --out /path/shot.png
//
// Options:
//   --url URL          the GraphiQL page (required)
//   --out FILE.png     screenshot, taken at the end whether or not the checks passed (required)
//   --query DOC        the query to run (default "{ __typename }"); @FILE reads it from a file
//   --explore STEP     instead of --query, build the query by clicking in the Explorer panel, in a
//                      new tab emptied with Ctrl+A, Delete (repeatable, in order). A STEP is a field
//                      path from the root, `entity` or `entity.relations.totalCount`: its checkbox
//                      is clicked unless the field is ticked already (its parents must be ticked by
//                      earlier steps); or an argument and its value, `entity(slug)=iom`: the
//                      argument is ticked if it has no input yet, and the value typed into its input
//   --expect-query S   after the steps, the query editor must contain S (repeatable)
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
  console.error('usage: node graphiql.mjs --url URL --out FILE.png [--query DOC|@FILE | --explore STEP... [--expect-query STRING]...]');
  console.error('                         [--expect STRING]... [--timeout MS] [--chromium PATH]');
  process.exit(2);
}

const o = { url: null, out: null, query: null, explore: [], expectQuery: [], expect: [], timeout: 20000, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
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
    case '--explore': {
      const v = next();
      const m = /^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(([A-Za-z_]\w*)\)=(.*))?$/s.exec(v);
      if (!m) usage(`--explore ${JSON.stringify(v)} is neither a field path (a.b.c) nor an argument (a.b(arg)=value)`);
      o.explore.push({ text: v, path: m[1].split('.'), arg: m[2] ?? null, value: m[3] ?? null });
      break;
    }
    case '--expect-query': o.expectQuery.push(next()); break;
    case '--expect': o.expect.push(next()); break;
    case '--timeout': o.timeout = Number(next()); break;
    case '--chromium': o.chromium = next(); break;
    case '-h': case '--help': usage(); break;
    default: usage(`unknown argument ${a}`);
  }
}
if (!o.url || !o.out) usage('--url and --out are required');
try { new URL(o.url); } catch { usage(`--url is not a URL: ${o.url}`); }
if (o.query !== null && o.explore.length) usage('--query and --explore exclude each other');
if (o.expectQuery.length && !o.explore.length) usage('--expect-query needs --explore');
if (o.query === null && !o.explore.length) o.query = '{ __typename }';
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

// Marks the Explorer's element for a STEP's field path (the shallowest `[data-field-name]` at each
// level, below the previous level's selected field) with data-pg-target; returns what it found.
function markExplorerField(path) {
  document.querySelectorAll('[data-pg-target]').forEach((e) => e.removeAttribute('data-pg-target'));
  const depth = (el, top) => { let n = 0; for (let e = el; e && e !== top; e = e.parentElement) n++; return n; };
  let scope = document.querySelector('.graphiql-plugin .graphiql-explorer-root');
  let span = null;
  for (let i = 0; i < path.length; i++) {
    if (!scope) return { error: `${path.slice(0, i).join('.')} is not ticked: its fields are not shown` };
    const found = [...scope.querySelectorAll('span[data-field-name]')].filter((e) => e.dataset.fieldName === path[i]);
    if (!found.length) return { error: `no field ${path.slice(0, i + 1).join('.')} in the Explorer` };
    span = found.reduce((a, b) => (depth(b, scope) < depth(a, scope) ? b : a));
    // A ticked field with fields of its own is wrapped: <div> <div.graphiql-explorer-node> <div>children.
    const node = span.parentElement;
    const wrapper = node.parentElement;
    scope = wrapper && !wrapper.classList.contains('graphiql-explorer-node') && wrapper.firstElementChild === node
      && wrapper.classList.contains(`graphiql-explorer-${path[i]}`) ? node.nextElementSibling : null;
  }
  // Ticked: a checked checkbox (its icon has a tick <path>), or shown fields of its own.
  const checkedIcon = [...span.querySelectorAll('svg')].some((svg) => svg.querySelector('circle') && svg.querySelector('path'));
  span.setAttribute('data-pg-target', 'field');
  return { ticked: checkedIcon || !!scope };
}

// Builds the query of the --explore steps in a new, emptied tab, by clicking and typing.
async function buildInExplorer(page, editorText) {
  await page.locator('.graphiql-tab-add').first().click();
  const cmEl = page.locator('.graphiql-query-editor .CodeMirror').first();
  await cmEl.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  const emptied = await editorText();
  if (!check(emptied === '', 'new tab opened and its editor emptied (Ctrl+A, Delete)', emptied === '' ? null : `editor holds: ${clip(emptied)}`)) throw new Error('stop');
  // The Explorer follows the editor: wait until it shows nothing ticked.
  const cleared = await page.waitForFunction(() => {
    const root = document.querySelector('.graphiql-plugin .graphiql-explorer-root');
    return root && root.querySelector('[data-field-name]')
      && ![...root.querySelectorAll('svg')].some((svg) => svg.querySelector('circle') && svg.querySelector('path'))
      && !root.querySelector('.graphiql-explorer-graphql-arguments');
  }, null, { timeout: o.timeout }).then(() => true, () => false);
  if (!check(cleared, 'Explorer shows an empty query (nothing ticked)')) throw new Error('stop');
  const tickedState = async (path) => {
    for (const t0 = Date.now(); ;) {
      const r = await page.evaluate(markExplorerField, path);
      if (r.ticked || Date.now() - t0 > 2000) return r;
      await page.waitForTimeout(100);
    }
  };
  for (const step of o.explore) {
    const found = await page.evaluate(markExplorerField, step.path);
    if (found.error) { check(false, `Explorer step ${step.text}`, found.error); throw new Error('stop'); }
    const field = page.locator('[data-pg-target="field"]');
    if (step.arg === null) {
      if (!found.ticked) await field.click();
      const after = found.ticked ? found : await tickedState(step.path);
      if (!check(after.ticked === true, `Explorer: ${step.path.join('.')} ${found.ticked ? 'was ticked already' : 'ticked'}`,
        after.ticked ? null : after.error || 'still not ticked after the click')) throw new Error('stop');
      continue;
    }
    const arg = field.locator(`xpath=..`).locator(`:scope > .graphiql-explorer-graphql-arguments > [data-arg-name="${step.arg}"]`);
    if (!check(await arg.count() === 1, `Explorer: ${step.path.join('.')} has the argument ${step.arg}`)) throw new Error('stop');
    const input = arg.locator('input').first();
    if (!await input.count()) await arg.locator(':scope > span').first().click();
    await input.click();
    await input.fill(step.value);
    const got = await input.inputValue();
    if (!check(got === step.value, `Explorer: typed ${JSON.stringify(step.value)} into ${step.path.join('.')}(${step.arg})`,
      got === step.value ? null : `the input holds ${JSON.stringify(got)}`)) throw new Error('stop');
  }
  // The Explorer writes to the editor as it goes.
  let text = await editorText();
  for (const t0 = Date.now(); !o.expectQuery.every((s) => text?.includes(s)) && Date.now() - t0 < o.timeout;) {
    await page.waitForTimeout(100);
    text = await editorText();
  }
  console.log(`        editor: ${clip(text, 600)}`);
  for (const s of o.expectQuery) check(!!text?.includes(s), `editor's query contains ${JSON.stringify(s)}`);
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

    // The Explorer plugin is open on load, and lists the schema's fields once GraphiQL has it.
    const explorerOpen = await page.locator('.graphiql-plugin .graphiql-explorer-root [data-field-name]').first()
      .waitFor({ state: 'visible', timeout: o.timeout }).then(() => true, () => false);
    check(explorerOpen, 'Explorer panel open on load, listing fields (.graphiql-explorer-root)');
    if (explorerOpen) {
      // Its argument inputs grab the focus as they appear; on load the page gives it back.
      await page.waitForTimeout(500);
      const at = await page.evaluate(() => ({
        top: document.querySelector('.graphiql-plugin')?.scrollTop,
        focus: !!document.activeElement?.closest('.graphiql-explorer-root'),
      }));
      check(at.top === 0 && !at.focus, 'Explorer panel shows its top and has not taken the focus',
        at.top === 0 && !at.focus ? null : `scrollTop ${at.top}, focus in the Explorer: ${at.focus}`);
    }

    // The query editor is CodeMirror 5 (GraphiQL 3).
    await page.locator('.graphiql-query-editor .CodeMirror').first().waitFor({ state: 'visible', timeout: o.timeout });
    const editorText = () => page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue() ?? null);
    if (o.explore.length) {
      if (!explorerOpen) throw new Error('stop');
      await buildInExplorer(page, editorText);
    } else {
      // Set the editor's value through CodeMirror's own API.
      const inEditor = await page.evaluate((q) => {
        const cm = document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror;
        if (!cm) return null;
        cm.setValue(q);
        cm.focus();
        return cm.getValue();
      }, o.query);
      if (!check(inEditor === o.query, 'query put into the editor', inEditor === o.query ? null : `editor holds: ${clip(inEditor)}`)) throw new Error('stop');
    }

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
