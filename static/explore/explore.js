// policygraph /explore: draw the knowledge graph with cytoscape.js, fed by the GraphQL API at /graphql.
//
// Search draws an entity's neighbourhood; clicking a node expands it (its neighbourhood is merged
// in, no duplicates: node id = entity slug, edge id = relation key); clicking an edge shows the
// relation's citations; the Path form finds the shortest connection between two entities and
// highlights it (class `path`). `?slug=SLUG` draws that neighbourhood on load.
//
// For tests: `window.cy` is the cytoscape instance, and `document.body.dataset.state` is one of
// 'ready' (nothing drawn yet), 'loading', 'drawn', 'path' (a path search finished, found or not)
// or 'error'. `document.body.dataset.actions` counts finished actions.
(function () {
  'use strict';

  var ENDPOINT = '/graphql';
  var NEIGHBOURHOOD_LIMIT = 40;

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

  var Q_SEARCH = 'query($q:String!){ search(query:$q, first:8){ slug name kind } }';
  var Q_NEIGHBOURHOOD = 'query($s:String!){ neighborhood(slug:$s, depth:1, limit:' + NEIGHBOURHOOD_LIMIT + '){ center{slug} ' +
    'nodes{ entity{ id slug name kind } depth omittedTotal omitted{kind count} } ' +
    'edges{ id key kind title from{slug} to{slug} citations{ quote document{ title slug } } } } }';
  var Q_PATH = 'query($a:ID!,$b:ID!){ shortestPath(from:$a,to:$b){ length ' +
    'steps{ direction entity{ id slug name kind } relation{ id key kind title from{slug} to{slug} citations{ quote document{ title } } } } ' +
    'start{ id slug name kind } } }';

  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  var panel = $('panel');
  var statusEl = $('status');

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

  var pending = 0;
  var actions = 0;
  function setState(s) { body.dataset.state = s; }
  function begin(msg) {
    pending++;
    setState('loading');
    showStatus(msg || 'Loading…');
  }
  function finish(state) {
    pending = Math.max(0, pending - 1);
    actions++;
    body.dataset.actions = String(actions);
    if (pending === 0) { setState(state); hideStatus(); }
  }
  function fail(err) {
    pending = Math.max(0, pending - 1);
    actions++;
    body.dataset.actions = String(actions);
    setState('error');
    var msg = (err && err.message) || String(err);
    showStatus(msg, true);
    setPanel(el('h2', { text: 'Something went wrong' }), el('p', { class: 'error', text: msg }));
    if (window.console) console.warn('explore:', msg);
  }

  var statusTimer = null;
  function showStatus(msg, isError) {
    clearTimeout(statusTimer);
    statusEl.textContent = msg;
    statusEl.className = 'visible' + (isError ? ' error' : '');
    if (isError) statusTimer = setTimeout(hideStatus, 6000);
  }
  function hideStatus() { statusEl.className = ''; }

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
  function upsertNode(entity, info, near) {
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
    };
    data.label = nodeLabel(data);
    var pos;
    if (near && near.nonempty()) {
      var p = near.position();
      pos = { x: p.x + (Math.random() - 0.5) * 120, y: p.y + (Math.random() - 0.5) * 120 };
    }
    return { node: cy.add({ group: 'nodes', data: data, position: pos }), added: true };
  }

  function upsertEdge(rel) {
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
      citations: (rel.citations || []).map(function (c) {
        return { quote: c.quote, document: c.document ? { title: c.document.title, slug: c.document.slug || null } : null };
      }),
    };
    if (e.nonempty()) {
      // Keep the richer citation list (document slugs come only with neighbourhood fetches).
      if (data.citations.length >= (e.data('citations') || []).length) e.data('citations', data.citations);
      if (data.title && !e.data('title')) e.data('title', data.title);
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

  // ---------------------------------------------------------------- neighbourhoods

  function drawNeighbourhood(slug, opts) {
    opts = opts || {};
    begin('Loading ' + slug + '…');
    return gql(Q_NEIGHBOURHOOD, { s: slug }).then(function (data) {
      var nb = data.neighborhood;
      if (!nb) throw new Error('No entity “' + slug + '”');
      if (opts.replace) cy.elements().remove();
      clearHighlight();
      var centerSlug = nb.center.slug;
      var centerBefore = cy.getElementById(centerSlug);
      var added = 0;
      cy.batch(function () {
        cy.nodes().data('center', false);
        nb.nodes.forEach(function (n) {
          if (upsertNode(n.entity, n, centerBefore).added) added++;
        });
        nb.edges.forEach(function (r) { if (upsertEdge(r).added) added++; });
        cy.getElementById(centerSlug).data('center', true);
      });
      var center = cy.getElementById(centerSlug);
      cy.elements().unselect();
      center.select();
      showNode(center);
      var p = added > 0 || opts.replace ? runLayout(!!opts.replace || cy.nodes().length === nb.nodes.length) : Promise.resolve();
      return p.then(function () {
        if (opts.replace && window.history && history.replaceState) {
          var u = new URL(window.location.href);
          u.searchParams.set('slug', centerSlug);
          history.replaceState(null, '', u.pathname + u.search + u.hash);
        }
        finish('drawn');
        return center;
      });
    }).catch(fail);
  }

  // ---------------------------------------------------------------- side panel

  function entityLink(slug) {
    var n = cy.getElementById(slug);
    var name = n.nonempty() ? n.data('name') : slug;
    var a = el('a', { class: 'entity', href: '?slug=' + encodeURIComponent(slug), title: slug, text: name });
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      var node = cy.getElementById(slug);
      if (node.nonempty()) {
        cy.elements().unselect();
        node.select();
        cy.animate({ center: { eles: node }, duration: 250 });
        showNode(node);
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

  function citationBlock(c) {
    var docTitle = c.document && c.document.title ? c.document.title : 'unknown document';
    return el('blockquote', { class: 'citation' },
      el('q', { text: '“' + c.quote + '”' }),
      el('span', { class: 'doc', text: '— ' + docTitle }));
  }

  function showNode(node) {
    var d = node.data();
    var nConnections = node.connectedEdges().length;
    var dl = el('dl', null,
      el('dt', { text: 'kind' }), el('dd', null, kindTag(d.kind)),
      el('dt', { text: 'slug' }), el('dd', null, el('code', { text: d.id })),
      el('dt', { text: 'shown' }), el('dd', { text: nConnections + ' relation' + (nConnections === 1 ? '' : 's') + ' in this view' }));
    var omitted = omittedLines(d.omitted);
    setPanel(
      el('h2', { text: d.name }),
      dl,
      omitted ? el('h3', { text: 'Not drawn' }) : null,
      omitted,
      omitted ? el('p', { class: 'muted', text: d.omittedTotal + ' neighbour' + (d.omittedTotal === 1 ? '' : 's') + ' left out of the view' + (d.expanded ? ' (the neighbourhood query stops at ' + NEIGHBOURHOOD_LIMIT + ' nodes)' : '; click the node to expand it') + '.' }) : null,
      el('p', { class: 'hint', text: d.expanded ? 'Click a neighbour to expand it, or an edge to read its sources.' : 'Click the node again to expand it.' })
    );
  }

  function showEdge(edge) {
    var d = edge.data();
    var cites = d.citations || [];
    var rel = el('p', { class: 'relation' },
      entityLink(d.source), ' ', el('span', { class: 'arrow' }, '—', el('span', { class: 'rel-kind', text: relWords(d.kind) }), '→'), ' ', entityLink(d.target));
    setPanel.apply(null, [
      el('h2', { text: relWords(d.kind) }),
      el('dl', null,
        el('dt', { text: 'kind' }), el('dd', null, el('code', { text: d.kind })),
        d.title ? el('dt', { text: 'title' }) : null, d.title ? el('dd', { text: d.title }) : null,
        el('dt', { text: 'key' }), el('dd', null, el('code', { text: d.id }))),
      rel,
      el('h3', { text: cites.length + ' citation' + (cites.length === 1 ? '' : 's') }),
    ].concat(cites.length ? cites.map(citationBlock) : [el('p', { class: 'muted', text: 'No citations.' })]));
  }

  // ---------------------------------------------------------------- interactions

  cy.on('tap', 'node', function (ev) {
    var node = ev.target;
    cy.elements().unselect();
    node.select();
    showNode(node);
    drawNeighbourhood(node.id());
  });
  cy.on('tap', 'edge', function (ev) {
    var edge = ev.target;
    cy.elements().unselect();
    edge.select();
    showEdge(edge);
  });
  cy.on('tap', function (ev) {
    if (ev.target === cy) { cy.elements().unselect(); clearHighlight(); }
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
    return gql(Q_SEARCH, { q: t }).then(function (d) {
      var first = d.search && d.search[0];
      if (!first) throw new Error('No entity matches “' + t + '”');
      return first.slug;
    });
  }
  function resolveBySearch(text) {
    return gql(Q_SEARCH, { q: text.trim() }).then(function (d) {
      var first = d.search && d.search[0];
      if (!first) throw new Error('No entity matches “' + text.trim() + '”');
      return first.slug;
    });
  }

  function findPath(fromText, toText) {
    begin('Finding a path…');
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
      if (!path) {
        setPanel(el('h2', { text: 'Path' }), el('p', { class: 'error', text: 'No connection found' }),
          el('p', { class: 'muted', text: 'between ' + a + ' and ' + b + '.' }));
        finish('path');
        return null;
      }
      var added = 0;
      var pathEles = cy.collection();
      var anchor = cy.nodes(':selected').first();
      if (anchor.empty()) anchor = cy.nodes().first();
      cy.batch(function () {
        var r = upsertNode(path.start, null, anchor);
        if (r.added) added++;
        pathEles = pathEles.union(r.node);
        var prev = r.node;
        path.steps.forEach(function (st) {
          var rn = upsertNode(st.entity, null, prev);
          if (rn.added) added++;
          var re = upsertEdge(st.relation);
          if (re.added) added++;
          pathEles = pathEles.union(rn.node);
          if (re.edge) pathEles = pathEles.union(re.edge);
          prev = rn.node;
        });
      });
      var p = added ? runLayout(cy.nodes().length === pathEles.nodes().length) : Promise.resolve();
      return p.then(function () {
        cy.elements().unselect();
        cy.elements().difference(pathEles).addClass('dimmed');
        pathEles.addClass('path');
        cy.animate({ fit: { eles: cy.elements(), padding: 40 }, duration: 0 });
        showPath(path);
        finish('path');
        return path;
      });
    }).catch(fail);
  }

  function showPath(path) {
    var items = [];
    var prevSlug = path.start.slug;
    path.steps.forEach(function (st) {
      var r = st.relation;
      var relLine = el('div', { class: 'relation' },
        entityLink(r.from.slug), ' ', el('span', { class: 'arrow' }, '—', el('span', { class: 'rel-kind', text: relWords(r.kind) }), '→'), ' ', entityLink(r.to.slug));
      var cites = r.citations || [];
      items.push(el.apply(null, ['li', null, relLine,
        r.title ? el('div', { class: 'muted', text: r.title }) : null,
      ].concat(cites.slice(0, 2).map(citationBlock))
        .concat(cites.length > 2 ? [el('div', { class: 'muted', text: '+' + (cites.length - 2) + ' more citation' + (cites.length - 2 === 1 ? '' : 's') + ' (click the edge)' })] : [])));
      prevSlug = st.entity.slug;
    });
    setPanel(
      el('h2', { text: 'Path' }),
      el('p', null, entityLink(path.start.slug), ' to ', entityLink(prevSlug), ': ',
        el('strong', { text: path.length + ' step' + (path.length === 1 ? '' : 's') })),
      el.apply(null, ['ol', { class: 'steps' }].concat(items))
    );
  }

  $('path-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    findPath($('path-from').value, $('path-to').value);
  });
  $('clear').addEventListener('click', function () {
    cy.elements().remove();
    setPanel(el('h2', { text: 'Explore the graph' }), el('p', { class: 'muted', text: 'Search for an entity to draw its neighbourhood.' }));
    setState('ready');
  });

  window.explore = { draw: drawNeighbourhood, findPath: findPath, search: runSearch };

  // ---------------------------------------------------------------- start

  var params = new URLSearchParams(window.location.search);
  var startSlug = params.get('slug');
  var pFrom = params.get('from');
  var pTo = params.get('to');
  if (pFrom) $('path-from').value = pFrom;
  if (pTo) $('path-to').value = pTo;
  setState('ready');
  if (startSlug) {
    drawNeighbourhood(startSlug, { replace: true }).then(function () {
      if (pFrom && pTo) findPath(pFrom, pTo);
    });
  } else if (pFrom && pTo) {
    findPath(pFrom, pTo);
  } else {
    searchInput.focus();
  }
})();
