// policygraph /explore: draw the knowledge graph with cytoscape.js, fed by the GraphQL API at /graphql.
//
// Search draws an entity's neighbourhood; clicking a node expands it (its neighbourhood is merged
// in, no duplicates: node id = entity slug, edge id = relation key); clicking an edge shows the
// relation's evidence (each quote within its paragraph, its document, a link into the document
// reader, a footnote to copy); the Path form finds the shortest connection between two entities,
// highlights it (class `path`) and lists each step's evidence, copyable as Markdown.
//
// The page's address always holds the view (see `viewQuery`), so that it can be shared:
//   /explore?slug=S&expand=A,B&from=X&to=Y&highlight=0&edge=KEY&node=SLUG
// slug: the entity searched (drawn first); expand: the nodes expanded after it, in order;
// from/to: the path's ends (one path at a time); highlight=0: the path is drawn but no longer
// highlighted; edge or node: the selection. Opening such an address replays it (`restoreView`).
//
// For tests: `window.cy` is the cytoscape instance, and `document.body.dataset.state` is one of
// 'ready' (nothing drawn yet), 'loading', 'drawn', 'edge' (an edge's evidence shown), 'path' (a
// path search finished, found or not) or 'error'. `dataset.actions` counts finished actions,
// `dataset.restore` is 'running', 'done' or 'problems' while and after an address is replayed,
// and `dataset.copies` counts texts put on the clipboard.
(function () {
  'use strict';

  var ENDPOINT = '/graphql';
  var NEIGHBOURHOOD_LIMIT = 40;
  // The most the API gives on each side of a quote: a side this long was cut by the window, not
  // by the start or end of the document.
  var CONTEXT_CHARS = 1000;
  // An address asks for one query per expanded node: a shared link must not be able to make the
  // page send hundreds.
  var MAX_EXPAND = 30;

  var KINDS = {
    ORGANIZATION: { color: '#1f77b4', one: 'organization', many: 'organizations' },
    OFFICE: { color: '#6baed6', one: 'office', many: 'offices' },
    PERSON: { color: '#2ca02c', one: 'person', many: 'people' },
    POLICY: { color: '#d62728', one: 'policy', many: 'policies' },
    PILLAR: { color: '#9467bd', one: 'pillar', many: 'pillars' },
    PLACE: { color: '#8c564b', one: 'place', many: 'places' },
    EVENT: { color: '#e377c2', one: 'event', many: 'events' },
    DOCUMENT: { color: '#7f7f7f', one: 'document', many: 'documents' },
  };
  var OTHER_COLOR = '#bcbd22';
  var PATH_COLOR = '#ff7f0e';

  var DOC_FIELDS = 'document{ slug title publishedOn url }';
  var Q_SEARCH = 'query($q:String!){ search(query:$q, first:8){ slug name kind } }';
  var Q_NEIGHBOURHOOD = 'query($s:String!){ neighborhood(slug:$s, depth:1, limit:' + NEIGHBOURHOOD_LIMIT + '){ center{slug} ' +
    'nodes{ entity{ id slug name kind } depth omittedTotal omitted{kind count} } ' +
    'edges{ id key kind title from{slug} to{slug} citations{ quote document{ title slug } } } } }';
  var Q_PATH = 'query($a:ID!,$b:ID!){ shortestPath(from:$a,to:$b){ length ' +
    'steps{ direction entity{ id slug name kind } relation{ id key kind title from{slug name} to{slug name} ' +
    'citations{ quote offset ' + DOC_FIELDS + ' } } } ' +
    'start{ id slug name kind } } }';
  var Q_RELATION = 'query($k:String!){ relation(key:$k){ key kind title validFrom validUntil from{slug name} to{slug name} ' +
    'citations{ quote offset context(chars:' + CONTEXT_CHARS + '){ before quote after } ' + DOC_FIELDS + ' } } }';

  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  var panel = $('panel');
  var statusEl = $('status');
  var helpContent = $('help-text');

  // ---------------------------------------------------------------- small helpers

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'class') e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c == null || c === false) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function kindInfo(kind) {
    return KINDS[kind] || { color: OTHER_COLOR, one: String(kind || 'entity').toLowerCase(), many: String(kind || 'entity').toLowerCase() + 's' };
  }
  function kindWord(kind, n) { var k = kindInfo(kind); return n === 1 ? k.one : k.many; }
  function relWords(kind) { return String(kind || '').toLowerCase().replace(/_/g, ' '); }
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : (many || one + 's')); }
  function oneLine(s) { return String(s == null ? '' : s).replace(/\s+/g, ' ').trim(); }
  // For echoing what an address holds: controls and invisible or direction-changing characters
  // shown as '�', so that a crafted link cannot disguise the message about it.
  function clip(s, n) {
    s = oneLine(s).replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '\ufffd');
    return s.length > n ? s.slice(0, n) + '…' : s;
  }
  // Offsets and window sizes in the API count Unicode scalar values, not UTF-16 units.
  function scalarLength(s) { return Array.from(s).length; }

  var pending = 0;
  var actions = 0;
  var copies = 0;
  function setState(s) { body.dataset.state = s; }
  function begin(msg) {
    pending++;
    setState('loading');
    showStatus(msg || 'Loading…');
  }
  function countAction() {
    pending = Math.max(0, pending - 1);
    actions++;
    body.dataset.actions = String(actions);
  }
  function finish(state) {
    countAction();
    if (pending === 0) { setState(state); hideStatus(); }
    syncUrl();
  }
  function fail(err) {
    countAction();
    setState('error');
    var msg = (err && err.message) || String(err);
    showStatus(msg, true);
    setPanel(el('h2', { text: 'Something went wrong' }), el('p', { class: 'error', text: msg }));
    if (window.console) console.warn('explore:', msg);
    syncUrl();
  }

  var statusTimer = null;
  function showStatus(msg, isError) {
    clearTimeout(statusTimer);
    statusEl.textContent = msg;
    statusEl.className = 'visible' + (isError ? ' error' : '');
    if (isError) statusTimer = setTimeout(hideStatus, 6000);
  }
  function hideStatus() { statusEl.className = ''; }

  // A persistent message over the picture (e.g. what part of a shared address could not be shown).
  function showNotice(title, lines) {
    var box = $('notice-text');
    box.textContent = '';
    box.appendChild(el('strong', { text: title }));
    if (lines && lines.length) box.appendChild(el.apply(null, ['ul', null].concat(lines.map(function (l) { return el('li', { text: l }); }))));
    $('notice').hidden = false;
  }
  function hideNotice() { $('notice').hidden = true; }
  $('notice-close').addEventListener('click', hideNotice);

  function gql(query, variables) {
    return fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (r) {
      return r.text().then(function (t) {
        var json;
        try { json = JSON.parse(t); } catch (e) { throw new Error('HTTP ' + r.status + ' from ' + ENDPOINT + ': ' + t.slice(0, 200)); }
        if (json.errors && json.errors.length) {
          var e = new Error(json.errors.map(function (x) { return x.message; }).join('; '));
          e.graphqlErrors = json.errors;
          e.data = json.data;
          throw e;
        }
        if (!r.ok) throw new Error('HTTP ' + r.status + ' from ' + ENDPOINT);
        return json.data;
      });
    });
  }

  function setPanel() {
    panel.textContent = '';
    for (var i = 0; i < arguments.length; i++) if (arguments[i]) panel.appendChild(arguments[i]);
    panel.scrollTop = 0;
  }
  function showHelp() {
    var copy = helpContent.cloneNode(true);
    copy.removeAttribute('id');
    setPanel(copy);
  }

  // ---------------------------------------------------------------- citations

  // The footnote "Copy citation" gives, one line, in one form whatever the citation:
  //   “<quote>”, <document title>, <date or "undated">, <url>.
  // The comma stays outside the quotation marks so that the quote is never altered (beyond its
  // line breaks, which a one-line footnote cannot keep); the URL is left out when there is none.
  function citationParts(c) {
    var doc = c.document || {};
    return {
      quote: c.quote ? oneLine(c.quote) : null,
      title: doc.title ? oneLine(doc.title) : 'unknown document',
      date: doc.publishedOn || 'undated',
      url: safeUrl(doc.url),
    };
  }
  function citationText(c) {
    var p = citationParts(c);
    return [p.quote != null ? '“' + p.quote + '”' : null, p.title, p.date, p.url].filter(function (x) { return x != null; }).join(', ') + '.';
  }

  // Only web addresses become links: a URL from the graph must not be able to run script.
  function safeUrl(u) {
    if (!u) return null;
    try {
      var parsed = new URL(u);
      return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && !/[\s<>"]/.test(u) ? u : null;
    } catch (e) { return null; }
  }

  function readerHref(c) {
    if (!c.document || !c.document.slug) return null;
    return '/documents/' + encodeURIComponent(c.document.slug) + (typeof c.offset === 'number' ? '#at=' + c.offset : '');
  }

  // The source texts hold one paragraph per line (none is wrapped), so a line break ends a
  // paragraph; cutting at blank lines only would show whole runs of paragraphs.
  var LINE_BREAK = /\r?\n/g;
  // The quote's paragraph from its 1,000-character window: `before` from its last line break,
  // `after` up to its first; a side with no line break goes on past the window when the window
  // is full (cutStart / cutEnd: show an ellipsis), else it reached the document's edge.
  function paragraphOf(ctx) {
    var before = ctx.before || '';
    var after = ctx.after || '';
    var start = -1;
    var m;
    LINE_BREAK.lastIndex = 0;
    while ((m = LINE_BREAK.exec(before))) start = m.index + m[0].length;
    LINE_BREAK.lastIndex = 0;
    var end = LINE_BREAK.exec(after);
    LINE_BREAK.lastIndex = 0;
    return {
      before: start >= 0 ? before.slice(start) : before,
      quote: ctx.quote,
      after: end ? after.slice(0, end.index) : after,
      cutStart: start < 0 && scalarLength(before) >= CONTEXT_CHARS,
      cutEnd: !end && scalarLength(after) >= CONTEXT_CHARS,
    };
  }

  // Put text on the clipboard; when the browser refuses, show it in a box to copy by hand.
  function copyText(text, button, fallbackHost) {
    var label = button.textContent;
    function done() {
      copies++;
      body.dataset.copies = String(copies);
      button.textContent = 'Copied';
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    function refused() {
      var old = fallbackHost.querySelector('.copy-fallback');
      if (old) old.remove();
      var area = el('textarea', { readonly: 'readonly', rows: String(Math.min(12, text.split('\n').length + 1)), 'aria-label': 'Text to copy' });
      area.value = text;
      fallbackHost.appendChild(el('div', { class: 'copy-fallback' },
        el('p', { class: 'muted', text: 'The browser did not allow copying. Select this text and copy it:' }), area));
      area.focus();
      area.select();
    }
    try {
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, refused);
      else refused();
    } catch (e) { refused(); }
  }

  function sourceLine(c) {
    var p = citationParts(c);
    var line = el('p', { class: 'source' }, el('cite', { text: p.title }), ' · ',
      el('time', { text: p.date }));
    if (p.url) line.appendChild(el('span', null, ' · ', el('a', { class: 'doc-url', href: p.url, target: '_blank', rel: 'noopener noreferrer', text: p.url })));
    return line;
  }

  // One citation as evidence: the quote (within its paragraph when `c.context` is there), its
  // document, a link into the document reader and the footnote to copy. `ready` is false while
  // the document's date is not known yet (copying must wait for it).
  function evidenceItem(c, ready) {
    var item = el('li', { class: 'evidence' });
    if (typeof c.offset === 'number') item.dataset.offset = String(c.offset);
    if (c.context) {
      var para = paragraphOf(c.context);
      item.appendChild(el('p', { class: 'context' },
        para.cutStart ? el('span', { class: 'cut', title: 'the paragraph goes on', text: '… ' }) : null,
        el('span', { class: 'before', text: para.before }),
        el('mark', { text: para.quote }),
        el('span', { class: 'after', text: para.after }),
        para.cutEnd ? el('span', { class: 'cut', title: 'the paragraph goes on', text: ' …' }) : null));
    } else if (c.quote) {
      item.appendChild(el('p', { class: 'quote' }, el('q', { text: '“' + c.quote + '”' })));
    } else {
      item.appendChild(el('p', { class: 'muted', text: 'The document states it without a sentence to quote.' }));
    }
    item.appendChild(sourceLine(c));
    var actionsLine = el('p', { class: 'cite-actions' });
    var href = readerHref(c);
    if (href) actionsLine.appendChild(el('a', { class: 'reader', href: href, target: '_blank', rel: 'noopener', text: 'read in the document' }));
    var copy = el('button', { type: 'button', class: 'copy-citation', text: 'Copy citation', title: 'Copy a footnote: “quote”, title, date, URL.' });
    copy.disabled = !ready;
    copy.addEventListener('click', function () { copyText(citationText(c), copy, item); });
    actionsLine.appendChild(copy);
    item.appendChild(actionsLine);
    return item;
  }

  function evidenceList(cites, ready) {
    if (!cites.length) return el('p', { class: 'muted', text: 'No citations.' });
    return el.apply(null, ['ol', { class: 'evidence-list' }].concat(cites.map(function (c) { return evidenceItem(c, ready); })));
  }

  // ---------------------------------------------------------------- cytoscape

  function nodeLabel(d) {
    return d.omittedTotal > 0 ? d.name + '\n+' + d.omittedTotal : d.name;
  }

  var style = [
    {
      selector: 'node',
      style: {
        'background-color': OTHER_COLOR,
        'label': 'data(label)',
        'width': 26, 'height': 26,
        'font-size': 11, 'color': '#1d2330',
        'text-valign': 'bottom', 'text-halign': 'center', 'text-margin-y': 3,
        'text-wrap': 'wrap', 'text-max-width': 130,
        'text-background-color': '#ffffff', 'text-background-opacity': 0.75, 'text-background-padding': 1,
        'border-width': 1.5, 'border-color': '#ffffff',
        'min-zoomed-font-size': 6,
      },
    },
    { selector: 'node[?center]', style: { 'width': 38, 'height': 38, 'font-weight': 'bold', 'font-size': 12 } },
    { selector: 'node[omittedTotal > 0]', style: { 'border-style': 'double', 'border-width': 4, 'border-color': '#4a5263' } },
    {
      selector: 'edge',
      style: {
        'width': 1.4, 'line-color': '#aab1bf', 'curve-style': 'bezier',
        'target-arrow-shape': 'triangle', 'target-arrow-color': '#aab1bf', 'arrow-scale': 0.8,
        'label': 'data(label)', 'font-size': 8, 'color': '#5d6576', 'text-rotation': 'autorotate',
        'text-background-color': '#ffffff', 'text-background-opacity': 0.8, 'text-background-padding': 1,
        'min-zoomed-font-size': 8,
      },
    },
    { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#1d2330', 'border-style': 'solid' } },
    { selector: 'edge:selected', style: { 'width': 3, 'line-color': '#1d2330', 'target-arrow-color': '#1d2330', 'min-zoomed-font-size': 0 } },
    { selector: '.dimmed', style: { 'opacity': 0.18 } },
    { selector: 'node.path', style: { 'border-width': 5, 'border-color': PATH_COLOR, 'border-style': 'solid', 'opacity': 1, 'z-index': 20, 'font-weight': 'bold' } },
    {
      selector: 'edge.path',
      style: {
        'width': 6, 'line-color': PATH_COLOR, 'target-arrow-color': PATH_COLOR, 'arrow-scale': 1.1,
        'opacity': 1, 'z-index': 19, 'font-size': 10, 'color': '#8a3f00', 'min-zoomed-font-size': 0,
      },
    },
    { selector: 'edge.path:selected', style: { 'line-color': '#1d2330', 'target-arrow-color': '#1d2330' } },
  ];
  Object.keys(KINDS).forEach(function (k) {
    style.push({ selector: 'node[kind = "' + k + '"]', style: { 'background-color': KINDS[k].color } });
  });

  var cy = cytoscape({
    container: $('cy'),
    style: style,
    elements: [],
    minZoom: 0.15,
    maxZoom: 3,
    boxSelectionEnabled: false,
    selectionType: 'single',
  });
  window.cy = cy;

  // Legend
  (function () {
    var legend = $('legend');
    Object.keys(KINDS).forEach(function (k) {
      var sw = el('span', { class: 'swatch' });
      sw.style.background = KINDS[k].color;
      legend.appendChild(el('span', { class: 'item', 'data-kind': k }, sw, k.charAt(0) + k.slice(1).toLowerCase()));
    });
    legend.appendChild(el('span', { class: 'item' }, el('span', { class: 'swatch path' }), 'path'));
    var more = el('span', { class: 'swatch' });
    more.style.background = '#fff';
    more.style.border = '3px double #4a5263';
    legend.appendChild(el('span', { class: 'item', title: 'the node has neighbours not drawn' }, more, '+N more'));
  })();

  // Merge one entity into the graph; `info` is a NeighborhoodNode-like object (may be partial).
  // `fromNeighbourhood` marks what a neighbourhood drew: the rest came with the current path and
  // leaves with it.
  function upsertNode(entity, info, near, fromNeighbourhood) {
    var n = cy.getElementById(entity.slug);
    var omitted = info && info.omitted ? info.omitted : null;
    var omittedTotal = info && typeof info.omittedTotal === 'number' ? info.omittedTotal : null;
    if (n.nonempty()) {
      var d = n.data();
      var patch = { name: entity.name || d.name, kind: entity.kind || d.kind, entityId: entity.id || d.entityId };
      // Counts from a fetch centred on this node win over counts seen from a neighbour's fetch.
      if (omittedTotal !== null && (info.depth === 0 || !d.expanded)) {
        patch.omittedTotal = omittedTotal;
        patch.omitted = omitted || [];
      }
      if (info && info.depth === 0) patch.expanded = true;
      if (fromNeighbourhood) patch.nb = true;
      n.data(patch);
      n.data('label', nodeLabel(n.data()));
      return { node: n, added: false };
    }
    var data = {
      id: entity.slug,
      entityId: entity.id,
      name: entity.name || entity.slug,
      kind: entity.kind,
      omittedTotal: omittedTotal || 0,
      omitted: omitted || [],
      expanded: !!(info && info.depth === 0),
      nb: !!fromNeighbourhood,
    };
    data.label = nodeLabel(data);
    var pos;
    if (near && near.nonempty()) {
      var p = near.position();
      pos = { x: p.x + (Math.random() - 0.5) * 120, y: p.y + (Math.random() - 0.5) * 120 };
    }
    return { node: cy.add({ group: 'nodes', data: data, position: pos }), added: true };
  }

  function upsertEdge(rel, fromNeighbourhood) {
    var id = rel.key;
    var e = cy.getElementById(id);
    var data = {
      id: id,
      relationId: rel.id,
      source: rel.from.slug,
      target: rel.to.slug,
      kind: rel.kind,
      title: rel.title || null,
      label: relWords(rel.kind),
      nb: !!fromNeighbourhood,
      citations: (rel.citations || []).map(function (c) {
        return { quote: c.quote, document: c.document ? { title: c.document.title, slug: c.document.slug || null } : null };
      }),
    };
    if (e.nonempty()) {
      // Keep the richer citation list (document slugs come only with neighbourhood fetches).
      if (data.citations.length >= (e.data('citations') || []).length) e.data('citations', data.citations);
      if (data.title && !e.data('title')) e.data('title', data.title);
      if (fromNeighbourhood) e.data('nb', true);
      return { edge: e, added: false };
    }
    if (cy.getElementById(data.source).empty() || cy.getElementById(data.target).empty()) return { edge: null, added: false };
    return { edge: cy.add({ group: 'edges', data: data }), added: true };
  }

  var currentLayout = null;
  function runLayout(randomize) {
    return new Promise(function (resolve) {
      if (currentLayout) { try { currentLayout.stop(); } catch (e) { /* ignore */ } }
      var n = cy.nodes().length;
      var layout = cy.layout({
        name: 'cose',
        animate: false,
        randomize: !!randomize,
        fit: true,
        padding: 60,
        nodeDimensionsIncludeLabels: true,
        idealEdgeLength: function () { return n > 60 ? 90 : 110; },
        nodeRepulsion: function () { return 9000; },
        nodeOverlap: 12,
        edgeElasticity: function () { return 90; },
        gravity: 0.6,
        numIter: 1500,
        componentSpacing: 60,
      });
      currentLayout = layout;
      layout.one('layoutstop', function () { resolve(); });
      layout.run();
    });
  }

  function clearHighlight() {
    cy.elements().removeClass('path dimmed');
  }

  // ---------------------------------------------------------------- the view, in the address

  // What was asked for, in the order that rebuilds the same picture: the elements drawn are the
  // union of the neighbourhoods and of the one path, so only the centre (the last expanded) and
  // the highlight depend on order, and both are written down.
  var view = { slug: null, expand: [], from: null, to: null, pathFound: false };
  var restoring = false;

  function resetView(slug) { view = { slug: slug || null, expand: [], from: null, to: null, pathFound: false }; }
  function noteExpanded(slug) {
    var current = view.expand.length ? view.expand[view.expand.length - 1] : view.slug;
    if (slug === current) return;
    view.expand = view.expand.filter(function (s) { return s !== slug; });
    view.expand.push(slug);
  }

  // Slugs and relation keys never need escaping for `,` and `:`; keeping them readable makes a
  // shared address something a person can read and edit.
  function qs(pairs) {
    return pairs.map(function (p) {
      return p[0] + '=' + encodeURIComponent(p[1]).replace(/%2C/g, ',').replace(/%3A/g, ':');
    }).join('&');
  }
  function viewQuery() {
    var pairs = [];
    if (view.slug) pairs.push(['slug', view.slug]);
    if (view.expand.length) pairs.push(['expand', view.expand.join(',')]);
    if (view.from && view.to) {
      pairs.push(['from', view.from], ['to', view.to]);
      if (view.pathFound && cy.$('.path').empty()) pairs.push(['highlight', '0']);
    }
    // The selection is written only where it differs from what replaying the rest selects.
    var sel = cy.$(':selected').first();
    var def = defaultSelection();
    if (sel.nonempty() && sel.isEdge()) pairs.push(['edge', sel.id()]);
    else if (sel.nonempty() && sel.id() !== def) pairs.push(['node', sel.id()]);
    else if (sel.empty() && def) pairs.push(['node', '']);
    return qs(pairs);
  }
  // What a view selects when its address names no selection: the node drawn last (the centre),
  // or nothing once a path was asked for.
  function defaultSelection() {
    if (view.from && view.to) return null;
    var c = cy.nodes('[?center]').first();
    return c.nonempty() ? c.id() : null;
  }
  function syncUrl() {
    if (restoring || !(window.history && history.replaceState)) return;
    var q = viewQuery();
    var next = window.location.pathname + (q ? '?' + q : '');
    if (next !== window.location.pathname + window.location.search) history.replaceState(null, '', next);
  }

  // ---------------------------------------------------------------- neighbourhoods

  // Draws a neighbourhood; rejects on failure (the callers decide how to show it).
  // opts.replace: start a new picture; opts.layout === false: leave the layout to the caller.
  function loadNeighbourhood(slug, opts) {
    opts = opts || {};
    return gql(Q_NEIGHBOURHOOD, { s: slug }).then(function (data) {
      var nb = data.neighborhood;
      if (!nb) throw new Error('No entity “' + slug + '”');
      if (opts.replace) { cy.elements().remove(); resetView(nb.center.slug); }
      clearHighlight();
      var centerSlug = nb.center.slug;
      var centerBefore = cy.getElementById(centerSlug);
      var added = 0;
      cy.batch(function () {
        cy.nodes().data('center', false);
        nb.nodes.forEach(function (n) {
          if (upsertNode(n.entity, n, centerBefore, true).added) added++;
        });
        nb.edges.forEach(function (r) { if (upsertEdge(r, true).added) added++; });
        cy.getElementById(centerSlug).data('center', true);
      });
      if (!opts.replace) noteExpanded(centerSlug);
      var center = cy.getElementById(centerSlug);
      cy.elements().unselect();
      center.select();
      showNode(center);
      if (opts.layout === false) return center;
      var p = added > 0 || opts.replace ? runLayout(!!opts.replace || cy.nodes().length === nb.nodes.length) : Promise.resolve();
      return p.then(function () { return center; });
    });
  }

  function drawNeighbourhood(slug, opts) {
    begin('Loading ' + slug + '…');
    return loadNeighbourhood(slug, opts).then(function (center) {
      finish('drawn');
      return center;
    }).catch(fail);
  }

  // ---------------------------------------------------------------- side panel

  function entityLink(slug, name) {
    var n = cy.getElementById(slug);
    var label = n.nonempty() ? n.data('name') : (name || slug);
    var a = el('a', { class: 'entity', href: '?slug=' + encodeURIComponent(slug), title: slug, text: label });
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      var node = cy.getElementById(slug);
      if (node.nonempty()) {
        cy.elements().unselect();
        node.select();
        cy.animate({ center: { eles: node }, duration: 250 });
        showNode(node);
        syncUrl();
      } else {
        drawNeighbourhood(slug);
      }
    });
    return a;
  }

  function kindTag(kind) {
    var t = el('span', { class: 'kind-tag', text: String(kind || '').toLowerCase() });
    t.style.background = kindInfo(kind).color;
    return t;
  }

  function omittedLines(omitted) {
    var list = (omitted || []).filter(function (o) { return o.count > 0; })
      .slice().sort(function (a, b) { return b.count - a.count; });
    if (!list.length) return null;
    return el.apply(null, ['ul', { class: 'omitted' }].concat(list.map(function (o) {
      return el('li', { text: 'and ' + o.count + ' more ' + kindWord(o.kind, o.count) });
    })));
  }

  function relationLine(tag, fromSlug, kind, toSlug, fromName, toName) {
    return el(tag, { class: 'relation' },
      entityLink(fromSlug, fromName), ' ', el('span', { class: 'arrow' }, '→ ', el('span', { class: 'rel-kind', text: relWords(kind) }), ' →'), ' ', entityLink(toSlug, toName));
  }

  function showNode(node) {
    var d = node.data();
    var nConnections = node.connectedEdges().length;
    var dl = el('dl', null,
      el('dt', { text: 'kind' }), el('dd', null, kindTag(d.kind)),
      el('dt', { text: 'slug' }), el('dd', null, el('code', { text: d.id })),
      el('dt', { text: 'shown' }), el('dd', { text: plural(nConnections, 'relation') + ' in this view' }));
    var omitted = omittedLines(d.omitted);
    setPanel(
      el('h2', { text: d.name }),
      dl,
      omitted ? el('h3', { text: 'Not drawn' }) : null,
      omitted,
      omitted ? el('p', { class: 'muted', text: plural(d.omittedTotal, 'neighbour') + ' left out of the view' + (d.expanded ? ' (the neighbourhood query stops at ' + NEIGHBOURHOOD_LIMIT + ' nodes)' : '; click the node to expand it') + '.' }) : null,
      el('p', { class: 'hint', text: d.expanded ? 'Click a neighbour to expand it, or an edge to read its sources.' : 'Click the node again to expand it.' })
    );
  }

  function edgePanel(key, kind, title, fromSlug, toSlug, extra, evidence, count) {
    return [
      el('h2', { text: relWords(kind) }),
      relationLine('p', fromSlug, kind, toSlug),
      el.apply(null, ['dl', null,
        el('dt', { text: 'kind' }), el('dd', null, el('code', { text: kind })),
        title ? el('dt', { text: 'title' }) : null, title ? el('dd', { text: title }) : null,
      ].concat(extra || []).concat([el('dt', { text: 'key' }), el('dd', null, el('code', { text: key }))])),
      el('h3', { text: 'Evidence: ' + plural(count, 'citation') }),
      evidence,
    ];
  }

  var edgeSeq = 0;
  // Shows what the cytoscape element knows at once, then the evidence fetched from the API
  // (each quote's paragraph, the documents' dates). Resolves when the evidence is shown.
  function showEdge(edge) {
    var seq = ++edgeSeq;
    var d = edge.data();
    var cites = d.citations || [];
    setPanel.apply(null, edgePanel(d.id, d.kind, d.title, d.source, d.target, null, evidenceList(cites, false), cites.length));
    var loading = el('p', { class: 'muted loading', text: 'Loading each sentence in its paragraph…' });
    panel.appendChild(loading);
    return gql(Q_RELATION, { k: d.id }).then(function (data) {
      if (seq !== edgeSeq) return;
      var r = data.relation;
      if (!r) throw new Error('The relation ' + d.id + ' is no longer in the graph');
      var extra = [];
      if (r.validFrom) extra.push(el('dt', { text: 'from' }), el('dd', { text: r.validFrom }));
      if (r.validUntil) extra.push(el('dt', { text: 'until' }), el('dd', { text: r.validUntil }));
      setPanel.apply(null, edgePanel(r.key, r.kind, r.title, r.from.slug, r.to.slug, extra, evidenceList(r.citations || [], true), (r.citations || []).length));
      // A paragraph taller than its box opens at its highlighted sentence.
      Array.prototype.forEach.call(panel.querySelectorAll('.context'), function (box) {
        var mark = box.querySelector('mark');
        if (mark && box.scrollHeight > box.clientHeight) box.scrollTop = Math.max(0, mark.offsetTop - 24);
      });
    }, function (err) {
      if (seq !== edgeSeq) return;
      loading.className = 'error';
      loading.textContent = 'Could not load the evidence: ' + err.message;
      throw err;
    });
  }

  function selectEdge(edge) {
    cy.elements().unselect();
    edge.select();
    begin('Loading the evidence…');
    return showEdge(edge).then(function () { finish('edge'); }, function (err) {
      countAction();
      setState('error');
      showStatus(err.message, true);
      syncUrl();
    });
  }

  // ---------------------------------------------------------------- interactions

  cy.on('tap', 'node', function (ev) {
    var node = ev.target;
    cy.elements().unselect();
    node.select();
    showNode(node);
    drawNeighbourhood(node.id());
  });
  cy.on('tap', 'edge', function (ev) { selectEdge(ev.target); });
  cy.on('tap', function (ev) {
    if (ev.target === cy) { cy.elements().unselect(); clearHighlight(); syncUrl(); }
  });

  // Search with suggestions
  var searchInput = $('search');
  var sugList = $('suggestions');
  var suggestions = [];
  var activeIdx = -1;
  var searchSeq = 0;
  var searchTimer = null;
  var lastSearchPromise = null;

  function renderSuggestions() {
    sugList.textContent = '';
    if (!suggestions.length) {
      if (searchInput.value.trim()) sugList.appendChild(el('li', { class: 'empty', text: 'No match' }));
    }
    suggestions.forEach(function (s, i) {
      var sw = el('span', { class: 'swatch' });
      sw.style.cssText = 'width:10px;height:10px;border-radius:50%;flex:none;background:' + kindInfo(s.kind).color;
      var li = el('li', { role: 'option', 'data-slug': s.slug, class: i === activeIdx ? 'active' : '' },
        sw, el('span', { class: 'name', text: s.name }), el('span', { class: 'kind', text: s.kind }));
      li.addEventListener('mousedown', function (ev) { ev.preventDefault(); pick(s); });
      sugList.appendChild(li);
    });
    var show = sugList.childNodes.length > 0 && document.activeElement === searchInput;
    sugList.hidden = !show;
    searchInput.setAttribute('aria-expanded', show ? 'true' : 'false');
  }

  function runSearch() {
    var q = searchInput.value.trim();
    var seq = ++searchSeq;
    if (!q) { suggestions = []; activeIdx = -1; renderSuggestions(); return Promise.resolve([]); }
    lastSearchPromise = gql(Q_SEARCH, { q: q }).then(function (data) {
      if (seq !== searchSeq) return suggestions;
      suggestions = data.search || [];
      activeIdx = suggestions.length ? 0 : -1;
      renderSuggestions();
      return suggestions;
    }, function (err) {
      if (seq === searchSeq) showStatus(err.message, true);
      return [];
    });
    return lastSearchPromise;
  }

  function pick(s) {
    suggestions = [];
    activeIdx = -1;
    sugList.hidden = true;
    searchInput.setAttribute('aria-expanded', 'false');
    searchInput.value = s.name;
    hideNotice();
    return drawNeighbourhood(s.slug, { replace: true });
  }

  searchInput.addEventListener('input', function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { searchTimer = null; runSearch(); }, 180);
  });
  searchInput.addEventListener('focus', function () { if (suggestions.length) renderSuggestions(); });
  searchInput.addEventListener('blur', function () { setTimeout(function () { sugList.hidden = true; }, 120); });
  searchInput.addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      if (!suggestions.length) return;
      ev.preventDefault();
      activeIdx = (activeIdx + (ev.key === 'ArrowDown' ? 1 : -1) + suggestions.length) % suggestions.length;
      renderSuggestions();
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      var typed = searchInput.value.trim();
      if (!typed) return;
      // Suggestions may still be on their way: search now (or wait for the search in flight), then
      // take the highlighted one, or the first.
      var ready;
      if (searchTimer !== null) { clearTimeout(searchTimer); searchTimer = null; ready = runSearch(); }
      else ready = lastSearchPromise || runSearch();
      ready.then(function (list) {
        if (list && list.length) pick(list[activeIdx >= 0 && activeIdx < list.length ? activeIdx : 0]);
        else showStatus('No entity matches “' + typed + '”', true);
      });
    } else if (ev.key === 'Escape') {
      sugList.hidden = true;
    }
  });

  // Path
  var SLUG_RE = /^[a-z0-9][a-z0-9_-]*$/;
  function resolveEntity(text) {
    var t = text.trim();
    if (!t) return Promise.reject(new Error('Give both ends of the path'));
    if (SLUG_RE.test(t)) return Promise.resolve(t);
    return resolveBySearch(t);
  }
  function resolveBySearch(text) {
    return gql(Q_SEARCH, { q: text.trim() }).then(function (d) {
      var first = d.search && d.search[0];
      if (!first) throw new Error('No entity matches “' + text.trim() + '”');
      return first.slug;
    });
  }

  var lastPath = null;

  // Finds and draws a path; rejects on failure. opts.layout === false: leave the layout to the caller.
  function loadPath(fromText, toText, opts) {
    opts = opts || {};
    var a, b;
    return Promise.all([resolveEntity(fromText), resolveEntity(toText)]).then(function (ab) {
      a = ab[0]; b = ab[1];
      return gql(Q_PATH, { a: a, b: b }).catch(function (err) {
        // A slug-looking word that is not a slug (e.g. "biden"): resolve it by search and retry once.
        var nf = (err.graphqlErrors || []).filter(function (e) { return e.extensions && e.extensions.code === 'NOT_FOUND'; });
        if (!nf.length) throw err;
        var args = nf.map(function (e) { return e.extensions.argument; });
        return Promise.all([
          args.indexOf('from') >= 0 ? resolveBySearch(fromText) : a,
          args.indexOf('to') >= 0 ? resolveBySearch(toText) : b,
        ]).then(function (ab2) { a = ab2[0]; b = ab2[1]; return gql(Q_PATH, { a: a, b: b }); });
      });
    }).then(function (data) {
      var path = data.shortestPath;
      clearHighlight();
      // One path at a time: what only the previous path brought leaves with it.
      cy.elements().filter(function (e) { return !e.data('nb'); }).remove();
      view.from = a;
      view.to = b;
      view.pathFound = !!path;
      lastPath = path;
      cy.elements().unselect();
      if (!path) {
        setPanel(el('h2', { text: 'Path' }), el('p', { class: 'error', text: 'No connection found' }),
          el('p', { class: 'muted', text: 'between ' + a + ' and ' + b + '.' }));
        return null;
      }
      var added = 0;
      var pathEles = cy.collection();
      var anchor = cy.nodes(':selected').first();
      if (anchor.empty()) anchor = cy.nodes().first();
      cy.batch(function () {
        var r = upsertNode(path.start, null, anchor, false);
        if (r.added) added++;
        pathEles = pathEles.union(r.node);
        var prev = r.node;
        path.steps.forEach(function (st) {
          var rn = upsertNode(st.entity, null, prev, false);
          if (rn.added) added++;
          var re = upsertEdge(st.relation, false);
          if (re.added) added++;
          pathEles = pathEles.union(rn.node);
          if (re.edge) pathEles = pathEles.union(re.edge);
          prev = rn.node;
        });
      });
      var p = added && opts.layout !== false ? runLayout(cy.nodes().length === pathEles.nodes().length) : Promise.resolve();
      return p.then(function () {
        cy.elements().unselect();
        cy.elements().difference(pathEles).addClass('dimmed');
        pathEles.addClass('path');
        if (opts.layout !== false) cy.animate({ fit: { eles: cy.elements(), padding: 40 }, duration: 0 });
        showPath(path);
        return path;
      });
    });
  }

  function findPath(fromText, toText) {
    begin('Finding a path…');
    return loadPath(fromText, toText).then(function (path) {
      finish('path');
      return path;
    }).catch(fail);
  }

  // ---------------------------------------------------------------- a path as Markdown

  // Markdown's special characters in text from the graph, so that a name or a quote cannot turn
  // into emphasis, a link or a footnote marker.
  function md(s) { return String(s).replace(/([\\`*_[\]<>])/g, '\\$1'); }

  // The path as a numbered list, one step per relation as the relation states it (from → kind →
  // to, whichever way the path walks it), with a footnote marker per citation; then the
  // footnotes, each the citation in the "Copy citation" form, its URL as an autolink.
  function pathMarkdown(path) {
    var notes = [];
    var last = path.steps.length ? path.steps[path.steps.length - 1].entity : path.start;
    var lines = ['Path from ' + md(oneLine(path.start.name)) + ' to ' + md(oneLine(last.name)) + ' (' + plural(path.length, 'step') + '):', ''];
    path.steps.forEach(function (st, i) {
      var r = st.relation;
      var marks = (r.citations || []).map(function (c) {
        var p = citationParts(c);
        notes.push('[^' + (notes.length + 1) + ']: ' +
          [p.quote != null ? '“' + md(p.quote) + '”' : null, md(p.title), p.date, p.url ? '<' + p.url + '>' : null]
            .filter(function (x) { return x != null; }).join(', ') + '.');
        return '[^' + notes.length + ']';
      }).join('');
      lines.push((i + 1) + '. ' + md(oneLine(r.from.name)) + ' → *' + md(relWords(r.kind)) + '*' +
        (r.title ? ' (' + md(oneLine(r.title)) + ')' : '') + ' → ' + md(oneLine(r.to.name)) + marks);
    });
    return lines.concat([''], notes).join('\n') + '\n';
  }

  function showPath(path) {
    var last = path.steps.length ? path.steps[path.steps.length - 1].entity : path.start;
    var items = path.steps.map(function (st) {
      var r = st.relation;
      var cites = r.citations || [];
      var li = el('li', { class: 'step', 'data-key': r.key },
        relationLine('div', r.from.slug, r.kind, r.to.slug, r.from.name, r.to.name),
        r.title ? el('div', { class: 'muted', text: r.title }) : null,
        evidenceList(cites, true));
      return li;
    });
    var copy = el('button', { type: 'button', id: 'copy-markdown', text: 'Copy as Markdown', title: 'Copy the path as a Markdown list with footnotes' });
    var head = el('div', { class: 'path-head' },
      el('p', null, entityLink(path.start.slug, path.start.name), ' to ', entityLink(last.slug, last.name), ': ',
        el('strong', { text: plural(path.length, 'step') })),
      copy);
    copy.addEventListener('click', function () { copyText(pathMarkdown(path), copy, head); });
    setPanel(
      el('h2', { text: 'Path' }),
      head,
      el('p', { class: 'hint', text: 'Each step is a relation as its sources state it, with its evidence. Click an edge to read a sentence in its paragraph.' }),
      el.apply(null, ['ol', { class: 'steps' }].concat(items))
    );
  }

  $('path-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    hideNotice();
    findPath($('path-from').value, $('path-to').value);
  });
  $('clear').addEventListener('click', function () {
    cy.elements().remove();
    resetView(null);
    lastPath = null;
    hideNotice();
    setPanel(el('h2', { text: 'Explore the graph' }), el('p', { class: 'muted', text: 'Search for an entity to draw its neighbourhood.' }));
    setState('ready');
    syncUrl();
  });
  $('help').addEventListener('click', showHelp);

  // ---------------------------------------------------------------- saving the picture

  function fileStem() {
    var s = view.from && view.to && view.pathFound ? view.from + '-to-' + view.to : (view.expand[view.expand.length - 1] || view.slug || 'graph');
    return 'policygraph-' + s.replace(/[^a-z0-9_-]/gi, '').slice(0, 80);
  }

  function saveBlob(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = el('a', { href: url, download: name });
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function savePng() {
    if (cy.elements().empty()) { showStatus('Nothing to save yet: search for an entity first', true); return; }
    var bb = cy.elements().boundingBox();
    // Twice the screen's detail for print, but no side over 8,000 pixels (browsers give up on
    // larger canvases).
    var scale = Math.max(0.1, Math.min(2, 8000 / Math.max(bb.w, 1), 8000 / Math.max(bb.h, 1)));
    saveBlob(cy.png({ output: 'blob', full: true, scale: scale, bg: '#ffffff' }), fileStem() + '.png');
  }

  function saveSvg() {
    if (cy.elements().empty()) { showStatus('Nothing to save yet: search for an entity first', true); return; }
    saveBlob(new Blob([toSvg()], { type: 'image/svg+xml' }), fileStem() + '.svg');
  }
  $('save-png').addEventListener('click', savePng);
  $('save-svg').addEventListener('click', saveSvg);

  // The picture as SVG, drawn from cytoscape's public API (positions, endpoints, control points,
  // computed styles) rather than its renderer: circles for nodes, lines or quadratic curves
  // with triangle arrows for edges, labels as text. Each element is a <g> with its class
  // (node/edge, and path/dimmed) and its id in data-id, so the file can be checked and restyled.
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var measureCtx = null;
  function measure(text, font) {
    if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
    measureCtx.font = font;
    return measureCtx.measureText(text).width;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { if (attrs[k] != null) e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function r2(x) { return Math.round(x * 100) / 100; }
  // Cytoscape's own wrapping rule ('text-wrap: wrap'): break at line feeds, then between words
  // when a line would pass text-max-width.
  function wrapLines(label, font, maxWidth) {
    var out = [];
    String(label).split('\n').forEach(function (line) {
      var cur = '';
      line.split(' ').forEach(function (word) {
        var next = cur ? cur + ' ' + word : word;
        if (cur && measure(next, font) > maxWidth) { out.push(cur); cur = word; } else cur = next;
      });
      out.push(cur);
    });
    return out;
  }
  function textStyle(ele) {
    var size = ele.numericStyle('font-size');
    var weight = ele.style('font-weight');
    var family = ele.style('font-family');
    return { size: size, weight: weight, family: family, color: ele.style('color'), font: weight + ' ' + size + 'px ' + family };
  }
  function svgText(x, y, lines, ts, extra) {
    var t = svgEl('text', Object.assign({
      x: r2(x), y: r2(y), 'font-size': ts.size, 'font-family': ts.family, 'font-weight': ts.weight, fill: ts.color,
      'text-anchor': 'middle', stroke: '#ffffff', 'stroke-width': 3, 'stroke-linejoin': 'round', 'paint-order': 'stroke',
    }, extra || {}));
    lines.forEach(function (line, i) {
      var span = svgEl('tspan', { x: r2(x), dy: i === 0 ? 0 : r2(ts.size * 1.2) });
      span.textContent = line;
      t.appendChild(span);
    });
    return t;
  }
  function elementGroup(ele, kind) {
    var cls = [kind].concat(['path', 'dimmed'].filter(function (c) { return ele.hasClass(c); }));
    if (ele.selected()) cls.push('selected');
    return svgEl('g', { class: cls.join(' '), 'data-id': ele.id(), opacity: ele.numericStyle('opacity') });
  }
  function byZ(a, b) { return a.numericStyle('z-index') - b.numericStyle('z-index'); }

  function toSvg() {
    var bb = cy.elements().boundingBox({ includeLabels: true });
    var pad = 20;
    var w = Math.ceil(bb.w + 2 * pad), h = Math.ceil(bb.h + 2 * pad);
    var root = svgEl('svg', { xmlns: SVG_NS, width: w, height: h, viewBox: [r2(bb.x1 - pad), r2(bb.y1 - pad), w, h].join(' ') });
    var title = svgEl('title');
    title.textContent = 'policygraph: ' + (view.pathFound ? 'path from ' + view.from + ' to ' + view.to : (view.slug || 'graph'));
    root.appendChild(title);
    root.appendChild(svgEl('rect', { x: r2(bb.x1 - pad), y: r2(bb.y1 - pad), width: w, height: h, fill: '#ffffff' }));

    cy.edges().sort(byZ).forEach(function (edge) {
      var g = elementGroup(edge, 'edge');
      var s = edge.sourceEndpoint(), t = edge.targetEndpoint();
      var color = edge.style('line-color');
      var width = edge.numericStyle('width');
      // Cytoscape's bezier edges run through quadratic segments: endpoint, control point,
      // midpoint of two control points, control point, ..., endpoint.
      var cps = edge.controlPoints() || [];
      var d = 'M ' + r2(s.x) + ' ' + r2(s.y);
      var lastFrom = s;
      if (cps.length) {
        for (var i = 0; i < cps.length; i++) {
          var end = i + 1 < cps.length ? { x: (cps[i].x + cps[i + 1].x) / 2, y: (cps[i].y + cps[i + 1].y) / 2 } : t;
          d += ' Q ' + r2(cps[i].x) + ' ' + r2(cps[i].y) + ' ' + r2(end.x) + ' ' + r2(end.y);
        }
        lastFrom = cps[cps.length - 1];
      } else {
        d += ' L ' + r2(t.x) + ' ' + r2(t.y);
      }
      g.appendChild(svgEl('path', { d: d, fill: 'none', stroke: color, 'stroke-width': width }));
      if (edge.style('target-arrow-shape') !== 'none') {
        // Cytoscape's triangle: as long as 0.3 and as wide as 0.3 of the arrow size.
        var size = Math.max(Math.pow(width * 13.37, 0.9), 29) * edge.numericStyle('arrow-scale');
        var ang = Math.atan2(t.y - lastFrom.y, t.x - lastFrom.x);
        var bx = t.x - Math.cos(ang) * size * 0.3, by = t.y - Math.sin(ang) * size * 0.3;
        var nx = -Math.sin(ang) * size * 0.15, ny = Math.cos(ang) * size * 0.15;
        g.appendChild(svgEl('polygon', {
          points: [[t.x, t.y], [bx + nx, by + ny], [bx - nx, by - ny]].map(function (p) { return r2(p[0]) + ',' + r2(p[1]); }).join(' '),
          fill: edge.style('target-arrow-color'),
        }));
      }
      var label = edge.data('label');
      if (label) {
        var m = edge.midpoint();
        var deg = Math.atan2(t.y - s.y, t.x - s.x) * 180 / Math.PI;
        if (deg > 90) deg -= 180; else if (deg < -90) deg += 180;
        g.appendChild(svgText(m.x, m.y, [label], textStyle(edge), { 'dominant-baseline': 'central', transform: 'rotate(' + r2(deg) + ' ' + r2(m.x) + ' ' + r2(m.y) + ')' }));
      }
      root.appendChild(g);
    });

    cy.nodes().sort(byZ).forEach(function (node) {
      var g = elementGroup(node, 'node');
      var p = node.position();
      var nw = node.numericStyle('width'), nh = node.numericStyle('height');
      var bw = node.numericStyle('border-width');
      g.appendChild(svgEl('ellipse', {
        cx: r2(p.x), cy: r2(p.y), rx: r2(nw / 2), ry: r2(nh / 2), fill: node.style('background-color'),
        stroke: bw > 0 ? node.style('border-color') : 'none', 'stroke-width': bw,
      }));
      var label = node.data('label');
      if (label) {
        var ts = textStyle(node);
        var lines = wrapLines(label, ts.font, node.numericStyle('text-max-width'));
        var top = p.y + nh / 2 + bw / 2 + node.numericStyle('text-margin-y');
        g.appendChild(svgText(p.x, top + ts.size * 0.9, lines, ts));
      }
      root.appendChild(g);
    });
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(root) + '\n';
  }

  // ---------------------------------------------------------------- opening a shared address

  // Replays an address's view step by step; whatever part cannot be shown (an unknown entity, a
  // relation not in the picture, words that are not slugs) is skipped and named in a notice, and
  // the page stays usable.
  function restoreView(params) {
    var problems = [];
    var slug = (params.get('slug') || '').trim();
    var expandRaw = (params.get('expand') || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    var from = (params.get('from') || '').trim();
    var to = (params.get('to') || '').trim();
    var edgeKey = (params.get('edge') || '').trim();
    var nodeSlug = (params.get('node') || '').trim();
    var highlight = params.get('highlight') !== '0';
    if (from) $('path-from').value = from;
    if (to) $('path-to').value = to;

    function isSlug(s, what) {
      if (SLUG_RE.test(s) && s.length <= 200) return true;
      problems.push(what + ' “' + clip(s, 60) + '” is not an entity’s slug.');
      return false;
    }
    var expand = expandRaw.filter(function (s) { return isSlug(s, 'Expanded node'); });
    if (expand.length > MAX_EXPAND) {
      problems.push('Only the first ' + MAX_EXPAND + ' of the ' + expand.length + ' expanded nodes were drawn.');
      expand = expand.slice(0, MAX_EXPAND);
    }
    if ((from && !to) || (to && !from)) problems.push('A path needs both ends (from and to).');

    restoring = true;
    body.dataset.restore = 'running';
    var steps = Promise.resolve();
    function step(label, fn) {
      steps = steps.then(function () {
        begin(label);
        return fn().then(function () { countAction(); }, function (err) {
          countAction();
          problems.push(err.message);
        });
      });
    }
    function notFound(what, s) {
      return function (err) {
        var nf = (err.graphqlErrors || []).some(function (e) { return e.extensions && e.extensions.code === 'NOT_FOUND'; });
        throw new Error(nf || /^No entity/.test(err.message) ? what + ' “' + s + '” names no entity.' : what + ' “' + s + '”: ' + err.message);
      };
    }
    if (slug && isSlug(slug, 'The centre')) {
      step('Loading ' + slug + '…', function () { return loadNeighbourhood(slug, { replace: true, layout: false }).catch(notFound('The centre', slug)); });
    }
    expand.forEach(function (s) {
      step('Expanding ' + s + '…', function () { return loadNeighbourhood(s, { layout: false }).catch(notFound('Expanded node', s)); });
    });
    if (from && to) {
      step('Finding a path…', function () {
        return loadPath(from, to, { layout: false }).then(function (path) {
          if (path && !highlight) clearHighlight();
        }, function (err) { throw new Error('The path from “' + clip(from, 60) + '” to “' + clip(to, 60) + '”: ' + err.message); });
      });
    }
    var shownEdge = null;
    steps = steps.then(function () {
      if (cy.elements().empty()) return null;
      return runLayout(true).then(function () {
        var lit = cy.$('.path');
        cy.fit(lit.nonempty() ? cy.elements() : undefined, 40);
        cy.elements().unselect();
        var def = defaultSelection();
        var e = edgeKey ? cy.getElementById(edgeKey) : cy.collection();
        if (edgeKey && !(e.nonempty() && e.isEdge())) problems.push('The relation “' + clip(edgeKey, 80) + '” is not in this view.');
        if (e.nonempty() && e.isEdge()) {
          shownEdge = e;
        } else if (nodeSlug || (!params.has('node') && def)) {
          var n = cy.getElementById(nodeSlug || def);
          if (n.nonempty() && n.isNode()) { n.select(); showNode(n); } else problems.push('The entity “' + clip(nodeSlug, 80) + '” is not in this view.');
        } else if (lastPath && lit.nonempty()) {
          showPath(lastPath);
        }
      });
    });
    return steps.then(function () {
      if (shownEdge) return selectEdge(shownEdge);
    }).then(function () {
      restoring = false;
      if (problems.length) {
        showNotice('Part of this link could not be shown:', problems);
        if (cy.elements().empty()) showHelp();
      }
      if (!shownEdge) setState(view.from && view.to ? 'path' : cy.elements().empty() ? 'ready' : 'drawn');
      hideStatus();
      syncUrl();
      body.dataset.restore = problems.length ? 'problems' : 'done';
    });
  }

  window.explore = { draw: drawNeighbourhood, findPath: findPath, search: runSearch, toSvg: toSvg, pathMarkdown: pathMarkdown, citationText: citationText };

  // ---------------------------------------------------------------- start

  var params = new URLSearchParams(window.location.search);
  setState('ready');
  if (['slug', 'expand', 'from', 'to', 'edge', 'node'].some(function (k) { return params.has(k); })) {
    restoreView(params);
  } else {
    searchInput.focus();
  }
})();
