#!/usr/bin/env node
// Reads policygraph's graph exports with real parsers of each format, the way a person's tool would:
// GraphML and GEXF with graphology's parsers (graphology-graphml, graphology-gexf, on @xmldom/xmldom),
// Cytoscape.js JSON by loading it into headless cytoscape. Used by the Rust integration tests;
// needs `npm ci` here.
//
//   node exports.mjs --graphml graph.graphml --gexf graph.gexf --cyjs graph.cyjs.json
//
// For each file given: it is well-formed and parses; the graph has nodes and edges; at least one
// edge carries a non-empty `citations` attribute (GraphML: a <key for="edge" attr.name="citations">;
// GEXF: an edge <attribute title="citations">; both hold a JSON array as a string; Cytoscape.js:
// edge data field `citations`, an array of { document, quote, ... }), and every `citations` value
// is such an array. Across the files given: the node counts, node ids and edge counts agree.
// Exit 0 when every check passed, 1 when one failed, 2 on bad usage.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Graph = require('graphology');
const graphml = require('graphology-graphml');
const gexf = require('graphology-gexf');
const { DOMParser } = require('@xmldom/xmldom');
const cytoscape = require('cytoscape');

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node exports.mjs [--graphml FILE] [--gexf FILE] [--cyjs FILE]   (at least one)');
  process.exit(2);
}

const o = { graphml: null, gexf: null, cyjs: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  switch (a) {
    case '--graphml': o.graphml = next(); break;
    case '--gexf': o.gexf = next(); break;
    case '--cyjs': o.cyjs = next(); break;
    case '-h': case '--help': usage(); break;
    default: usage(`unknown argument ${a}`);
  }
}
if (!o.graphml && !o.gexf && !o.cyjs) usage('give at least one of --graphml, --gexf, --cyjs');

const clip = (s, n = 300) => { const t = String(s ?? '').replace(/\s+/g, ' ').trim(); return t.length > n ? `${t.slice(0, n)}… (${t.length} chars)` : t; };
let passed = 0; let failed = 0;
function check(ok, text, detail) {
  if (ok) passed++; else failed++;
  console.log(`[${ok ? 'ok   ' : 'error'}] ${text}`);
  if (detail) console.log(`        ${detail}`);
  return ok;
}

function read(label, file) {
  try {
    const text = readFileSync(file, 'utf8');
    check(true, `${label}: read ${file} (${text.length} chars)`);
    return text;
  } catch (e) {
    check(false, `${label}: read ${file}`, e.message);
    return null;
  }
}

// Strict XML well-formedness: graphology's parsers use xmldom leniently (they would read a broken
// file in part), so parse once more and fail on any error xmldom reports.
function wellFormed(label, text) {
  const problems = [];
  const doc = new DOMParser({
    locator: {},
    errorHandler: {
      warning: () => {},
      error: (m) => problems.push(m),
      fatalError: (m) => problems.push(m),
    },
  }).parseFromString(text, 'application/xml');
  const root = doc && doc.documentElement ? doc.documentElement.nodeName : null;
  check(problems.length === 0 && !!root, `${label}: well-formed XML (root <${root}>)`, problems.length ? clip(problems.slice(0, 3).join(' | ')) : null);
  return root;
}

// A `citations` value: a non-empty JSON array (in a string for the XML formats) of objects
// naming a document; `quote` is a non-empty string where the source has a sentence, else null
// (the data model allows a citation of a whole document).
function citationsOf(v) {
  let arr = v;
  if (typeof v === 'string') {
    try { arr = JSON.parse(v); } catch { return { ok: false, n: 0 }; }
  }
  if (!Array.isArray(arr) || arr.length === 0) return { ok: false, n: 0 };
  const good = arr.filter((c) => c && typeof c === 'object' && c.document
    && (c.quote === null || c.quote === undefined || (typeof c.quote === 'string' && c.quote.trim())));
  return { ok: good.length === arr.length, n: arr.length, sample: good.find((c) => c.quote) };
}

function citationChecks(label, edges /* [{ id, citations }] */, where) {
  let withCites = 0; let bad = 0; let missing = 0; let sample = null; let badId = null;
  for (const e of edges) {
    if (e.citations === undefined || e.citations === null || e.citations === '') { missing++; continue; }
    const c = citationsOf(e.citations);
    if (!c.ok) { bad++; badId = badId || e.id; continue; }
    if (c.n > 0) { withCites++; sample = sample || c.sample; }
  }
  check(withCites > 0, `${label}: ${withCites} of ${edges.length} edges have a non-empty ${where}`,
    sample ? `e.g. “${clip(sample.quote, 120)}” (${sample.document})` : null);
  check(bad === 0, `${label}: every ${where} is a JSON array of { document, quote }`,
    bad ? `${bad} edge(s) hold something else, e.g. ${badId}` : (missing ? `${missing} edge(s) have no citations attribute` : null));
}

const results = []; // { label, nodes, edges, ids }

// Run fn with console.{log,warn,error} captured (xmldom and cytoscape print their complaints there).
function quietly(fn) {
  const said = [];
  const saved = { log: console.log, warn: console.warn, error: console.error };
  for (const k of Object.keys(saved)) console[k] = (...a) => said.push(a.join(' '));
  try { return { value: fn(), said }; } catch (error) { return { error, said }; } finally { Object.assign(console, saved); }
}
const said = (r) => (r.said.length ? ` (parser said: ${clip(r.said.slice(0, 3).join(' | '), 200)})` : '');

function fromGraphology(label, graph, where) {
  const nodes = graph.order; const edges = graph.size;
  check(nodes > 0, `${label}: ${nodes} nodes`);
  check(edges > 0, `${label}: ${edges} edges (graph type ${graph.type}${graph.multi ? ', multi' : ''})`);
  const nodeAttrs = new Set(); const edgeAttrs = new Set();
  graph.forEachNode((_, a) => Object.keys(a).forEach((k) => nodeAttrs.add(k)));
  const list = [];
  graph.forEachEdge((id, a) => { Object.keys(a).forEach((k) => edgeAttrs.add(k)); list.push({ id, citations: a.citations }); });
  console.log(`        node attributes: ${[...nodeAttrs].sort().join(', ') || '-'}; edge attributes: ${[...edgeAttrs].sort().join(', ') || '-'}`);
  check(graph.type !== 'undirected', `${label}: edges are directed`, graph.type === 'undirected' ? `graph type ${graph.type}` : null);
  citationChecks(label, list, where);
  results.push({ label, nodes, edges, ids: new Set(graph.nodes()) });
}

if (o.graphml) {
  const label = 'GraphML';
  const text = read(label, o.graphml);
  if (text !== null) {
    const root = wellFormed(label, text);
    check(root === 'graphml', `${label}: root element is <graphml>`, root === 'graphml' ? null : `root <${root}>`);
    const r = quietly(() => graphml.parse(Graph, text));
    const graph = r.error ? null : r.value;
    if (check(!!graph, `${label}: graphology-graphml parses it`, r.error ? clip(r.error.message) + said(r) : (r.said.length ? said(r).trim() : null))) {
      fromGraphology(label, graph, 'edge attribute `citations` (<key for="edge" attr.name="citations">)');
    }
  }
}

if (o.gexf) {
  const label = 'GEXF';
  const text = read(label, o.gexf);
  if (text !== null) {
    const root = wellFormed(label, text);
    check(root === 'gexf', `${label}: root element is <gexf>`, root === 'gexf' ? null : `root <${root}>`);
    const r = quietly(() => gexf.parse(Graph, text));
    const graph = r.error ? null : r.value;
    if (check(!!graph, `${label}: graphology-gexf parses it`, r.error ? clip(r.error.message) + said(r) : (r.said.length ? said(r).trim() : null))) {
      fromGraphology(label, graph, 'edge attvalue `citations` (<attribute title="citations">)');
    }
  }
}

if (o.cyjs) {
  const label = 'Cytoscape.js JSON';
  const text = read(label, o.cyjs);
  let json = null;
  if (text !== null) {
    try { json = JSON.parse(text); check(true, `${label}: valid JSON`); } catch (e) { check(false, `${label}: valid JSON`, clip(e.message)); }
  }
  if (json) {
    const els = json.elements;
    const given = Array.isArray(els) ? els.length
      : els && typeof els === 'object' ? (els.nodes || []).length + (els.edges || []).length : -1;
    if (check(given >= 0, `${label}: has "elements"`)) {
      const r = quietly(() => cytoscape({ headless: true, styleEnabled: false, elements: els }));
      const cy = r.error ? null : r.value;
      const warnings = r.said;
      if (r.error) check(false, `${label}: headless cytoscape loads it`, clip(r.error.message) + said(r));
      if (cy) {
        const loaded = cy.elements().length;
        check(loaded === given && warnings.length === 0, `${label}: headless cytoscape ${cytoscape.version} loads all ${given} elements`,
          loaded !== given || warnings.length ? `loaded ${loaded}; ${clip(warnings.slice(0, 3).join(' | '))}` : null);
        const nodes = cy.nodes().length; const edges = cy.edges().length;
        check(nodes > 0, `${label}: ${nodes} nodes`);
        check(edges > 0, `${label}: ${edges} edges`);
        const nodeAttrs = new Set(); const edgeAttrs = new Set();
        cy.nodes().forEach((n) => Object.keys(n.data()).forEach((k) => nodeAttrs.add(k)));
        cy.edges().forEach((e) => Object.keys(e.data()).forEach((k) => edgeAttrs.add(k)));
        console.log(`        node data: ${[...nodeAttrs].sort().join(', ')}; edge data: ${[...edgeAttrs].sort().join(', ')}`);
        citationChecks(label, cy.edges().map((e) => ({ id: e.id(), citations: e.data('citations') })), 'edge data field `citations`');
        results.push({ label, nodes, edges, ids: new Set(cy.nodes().map((n) => n.id())) });
        cy.destroy();
      }
    }
  }
}

if (results.length > 1) {
  const [a, ...rest] = results;
  for (const b of rest) {
    check(a.nodes === b.nodes, `node counts agree: ${a.label} ${a.nodes}, ${b.label} ${b.nodes}`);
    const onlyA = [...a.ids].filter((x) => !b.ids.has(x)); const onlyB = [...b.ids].filter((x) => !a.ids.has(x));
    check(!onlyA.length && !onlyB.length, `node ids agree: ${a.label}, ${b.label}`,
      onlyA.length || onlyB.length ? `only in ${a.label}: ${onlyA.slice(0, 5).join(', ') || '-'}; only in ${b.label}: ${onlyB.slice(0, 5).join(', ') || '-'}` : null);
    check(a.edges === b.edges, `edge counts agree: ${a.label} ${a.edges}, ${b.label} ${b.edges}`);
  }
}

console.log(`counts: ${results.map((r) => `${r.label} ${r.nodes} nodes / ${r.edges} edges`).join('; ') || '-'}`);
console.log(`summary: ${passed} checks passed, ${failed} checks failed`);
process.exit(failed ? 1 : 0);
