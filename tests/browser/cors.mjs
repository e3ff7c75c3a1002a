#!/usr/bin/env node
// An app on another origin calling policygraph's API from headless chromium, to check the CORS
// policy where it matters: in a browser, which enforces it. Two pages are served by the caller
// (the Rust test) from other loopback ports: one whose origin is in the server's --cors-origins,
// one whose origin is not. Each page's script calls the API with fetch(); this script asks it to
// and checks what the page observes:
//   - from either origin an anonymous query succeeds (any origin may read), and the exposed
//     headers (X-Request-Id, ETag) are readable;
//   - from the listed origin a request with `Authorization: Bearer <editor token>` and
//     credentials runs a mutation, and a second such request needs no new preflight (the
//     preflight's answer is cached; preflights are counted in the server's /metrics);
//   - from the unlisted origin the browser blocks a request with `Authorization` (the mutation
//     does not happen) and a credentialed one (the page sees a network error).
// Used by tests/browser_cors.rs; needs `npm ci` here and Debian's chromium
// (scripts/install-test-deps.sh installs both).
//
//   node cors.mjs --api http://127.0.0.1:PORT/graphql --listed http://127.0.0.1:A/ \
//        --unlisted http://127.0.0.1:B/ --token TOKEN
//
// Options:
//   --api URL          the API's /graphql (required)
//   --listed URL       a page on an origin in --cors-origins (required)
//   --unlisted URL     a page on an origin not in it (required)
//   --token TOKEN      an editor's token (required)
//   --timeout MS       how long to wait for each step (default 20000)
//   --chromium PATH    browser binary (default $CHROMIUM or /usr/bin/chromium)
//
// A page defines window.call(api, { method, query, variables, token, credentials }), which
// resolves to { status, body, requestId, etag } or to { error } when fetch() rejects, and sets
// document.body.dataset.ready when it has. Exit 0 when every check passed, 1 when one failed,
// 2 on bad usage.
import { chromium } from 'playwright-core';

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node cors.mjs --api URL --listed URL --unlisted URL --token TOKEN [--timeout MS] [--chromium PATH]');
  process.exit(2);
}

const o = { api: null, listed: null, unlisted: null, token: null, timeout: 20000, chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--api': o.api = next(); break;
    case '--listed': o.listed = next(); break;
    case '--unlisted': o.unlisted = next(); break;
    case '--token': o.token = next(); break;
    case '--timeout': o.timeout = Number(next()); break;
    case '--chromium': o.chromium = next(); break;
    case '-h': case '--help': usage(); break;
    default: usage(`unknown argument ${a}`);
  }
}
if (!o.api || !o.listed || !o.unlisted || !o.token) usage('--api, --listed, --unlisted and --token are required');
for (const u of [o.api, o.listed, o.unlisted]) {
  try { new URL(u); } catch { usage(`not a URL: ${u}`); }
}
if (new URL(o.listed).origin === new URL(o.unlisted).origin) usage('--listed and --unlisted must be different origins');
if ([o.listed, o.unlisted].some((u) => new URL(u).origin === new URL(o.api).origin)) usage('the pages must be on other origins than the API');
if (!(o.timeout > 0)) usage('--timeout must be a positive number of milliseconds');

let passed = 0; let failed = 0;
function check(ok, text, detail) {
  if (ok) passed++; else failed++;
  console.log(`[${ok ? 'ok   ' : 'error'}] ${text}`);
  if (detail !== undefined) console.log(`        ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
  return ok;
}

const apiOrigin = new URL(o.api).origin;
const entityQuery = '{ entity(slug: "exo") { name summary } }';
const mutation = 'mutation($s: String) { updateEntity(input: { id: "exo", summary: $s }) { entity { summary } } }';

// What the server holds, asked from here (no browser, no CORS).
async function summary() {
  const r = await fetch(o.api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: entityQuery }) });
  return (await r.json()).data?.entity?.summary;
}

// Preflights the server has answered so far: its 204s on /graphql.
async function preflights() {
  const text = await (await fetch(`${apiOrigin}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('http_requests_total{') && line.includes('path="/graphql"') && line.includes('status="204"')) {
      n += Number(line.trim().split(/\s+/).pop());
    }
  }
  return n;
}

let browser;
try {
  browser = await chromium.launch({
    executablePath: o.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  check(true, `chromium started (${browser.version()}, ${o.chromium})`);
  // No request interception: a routed request would not go through the browser's own CORS
  // checks the way an app's does.
  const context = await browser.newContext();
  const open = async (url) => {
    const page = await context.newPage();
    page.setDefaultTimeout(o.timeout);
    page.on('pageerror', (e) => check(false, `no script error on ${url}`, e.message));
    await page.goto(url);
    await page.waitForFunction(() => document.body?.dataset.ready === 'yes');
    return page;
  };
  const call = (page, options) => page.evaluate(([api, opts]) => window.call(api, opts), [o.api, options]);

  // ------------------------------------------------------------------ the listed origin
  const listed = await open(o.listed);
  const listedOrigin = new URL(o.listed).origin;
  let r = await call(listed, { query: entityQuery });
  check(r.status === 200 && r.body?.data?.entity?.name === 'Example Organization', `${listedOrigin}: an anonymous query is answered`, r);
  check(typeof r.requestId === 'string' && r.requestId.length > 0, `${listedOrigin}: the page can read X-Request-Id`, r.requestId);
  r = await call(listed, { method: 'GET', query: entityQuery });
  check(r.status === 200 && /^W\/"/.test(r.etag ?? ''), `${listedOrigin}: the page can read a GET answer's ETag`, r);

  const before = await preflights();
  const first = `Set from ${listedOrigin}, first.`;
  r = await call(listed, { query: mutation, variables: { s: first }, token: o.token, credentials: 'include' });
  check(r.status === 200 && r.body?.data?.updateEntity?.entity?.summary === first, `${listedOrigin}: a mutation with Authorization and credentials runs`, r);
  const afterFirst = await preflights();
  check(afterFirst > before, `${listedOrigin}: the request with Authorization was preflighted`, `${before} -> ${afterFirst}`);
  const second = `Set from ${listedOrigin}, second.`;
  r = await call(listed, { query: mutation, variables: { s: second }, token: o.token, credentials: 'include' });
  check(r.status === 200 && r.body?.data?.updateEntity?.entity?.summary === second, `${listedOrigin}: a second mutation runs`, r);
  const afterSecond = await preflights();
  check(afterSecond === afterFirst, `${listedOrigin}: the second needed no new preflight (the answer was cached)`, `${afterFirst} -> ${afterSecond}`);

  // ------------------------------------------------------------------ an unlisted origin
  const unlisted = await open(o.unlisted);
  const unlistedOrigin = new URL(o.unlisted).origin;
  r = await call(unlisted, { query: entityQuery });
  check(r.status === 200 && r.body?.data?.entity?.summary === second, `${unlistedOrigin}: an anonymous query is answered`, r);
  const refused = `Set from ${unlistedOrigin}.`;
  r = await call(unlisted, { query: mutation, variables: { s: refused }, token: o.token });
  check(typeof r.error === 'string' && r.status === undefined, `${unlistedOrigin}: the browser blocks a request with Authorization`, r);
  const held = await summary();
  check(held === second, `${unlistedOrigin}: the blocked mutation did not happen`, held);
  r = await call(unlisted, { query: entityQuery, credentials: 'include' });
  check(typeof r.error === 'string' && r.status === undefined, `${unlistedOrigin}: the browser blocks a credentialed request`, r);
  r = await call(unlisted, { query: entityQuery });
  check(r.status === 200, `${unlistedOrigin}: and still answers its anonymous one`, r);
} catch (e) {
  check(false, 'the run finished', e.stack ?? String(e));
} finally {
  await browser?.close();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
