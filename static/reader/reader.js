// policygraph /documents: read a source document beside what the graph makes of it, fed by the
// GraphQL API at /graphql.
//
// /documents lists the documents. /documents/<slug> shows a document's text with every sentence
// the graph cites (Document.passages) highlighted; clicking one lists the relations and entity
// facts that cite it, each linking to /explore. /documents/<slug>#at=<offset> selects, on load and
// whenever the fragment changes, the cited sentence holding character <offset> of the text, where
// <offset> is a Citation.offset: /explore links citations here, so keep that format.
//
// Offsets from the API count Unicode scalar values (code points); JavaScript strings count UTF-16
// units, and the texts hold characters beyond U+FFFF as well as curly quotes and dashes. So an
// offset is never used as a string index: it is walked to one code point at a time (or cut with
// Array.from). The text is only ever put in the page as text (text nodes, textContent), never as
// markup.
//
// For tests: document.body.dataset.state is 'loading', 'ready' (text and highlights drawn),
// 'selected' (the readings of the sentence whose offset is body.dataset.selected are listed),
// 'list', 'no-text', 'not-found' or 'error'; body.dataset.passages counts the highlighted sentences.
(function () {
  'use strict';

  var ENDPOINT = '/graphql';
  var PAGE = 100;

  var PASSAGE_FIELDS = 'offset length quote';
  var Q_DOCUMENT = 'query($s:String!){ entity(slug:$s){ __typename slug name summary ' +
    '... on Document { title publishedOn url file sha256 text passages(first:' + PAGE + '){ ' + PASSAGE_FIELDS + ' } } } }';
  var Q_MORE = 'query($s:String!,$a:Int){ entity(slug:$s){ ... on Document { passages(first:' + PAGE + ', after:$a){ ' +
    PASSAGE_FIELDS + ' } } } }';
  var CITATIONS = 'citations{ quote offset length document{ slug } }';
  var Q_READINGS = 'query($s:String!,$a:Int){ entity(slug:$s){ ... on Document { passages(first:1, after:$a){ ' + PASSAGE_FIELDS +
    ' relations{ key kind title validFrom validUntil from{ slug name kind } to{ slug name kind } ' + CITATIONS + ' } ' +
    'facts{ entity{ slug name kind } field value ' + CITATIONS + ' } } } } }';
  var Q_LIST = 'query($a:String){ entities(kind: DOCUMENT, first:' + PAGE + ', after:$a){ ' +
    'edges{ node{ slug name summary ... on Document { publishedOn file } } } pageInfo{ hasNextPage endCursor } } }';

  var FIELD_WORDS = { DATE: 'date', END_DATE: 'end date', URL: 'URL', SUMMARY: 'summary', ALIAS: 'alias', QUANTITY: 'number' };

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

  function setState(s) { body.dataset.state = s; }

  var statusTimer = null;
  function showStatus(msg, isError) {
    clearTimeout(statusTimer);
    statusEl.textContent = msg;
    statusEl.className = 'visible' + (isError ? ' error' : '');
    statusTimer = setTimeout(function () { statusEl.className = ''; }, isError ? 6000 : 2500);
  }

  function setPanel() {
    panel.textContent = '';
    for (var i = 0; i < arguments.length; i++) if (arguments[i]) panel.appendChild(arguments[i]);
    panel.scrollTop = 0;
  }

  function fail(err) {
    var msg = (err && err.message) || String(err);
    setState('error');
    showStatus(msg, true);
    setPanel(el('h2', { text: 'Something went wrong' }), el('p', { class: 'error', text: msg }));
    if (window.console) console.warn('reader:', msg);
  }

  function gql(query, variables) {
    return fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (r) {
      return r.text().then(function (t) {
        var json;
        try { json = JSON.parse(t); } catch (e) { throw new Error('HTTP ' + r.status + ' from ' + ENDPOINT + ': ' + t.slice(0, 200)); }
        if (json.errors && json.errors.length) throw new Error(json.errors.map(function (x) { return x.message; }).join('; '));
        if (!r.ok) throw new Error('HTTP ' + r.status + ' from ' + ENDPOINT);
        return json.data;
      });
    });
  }

  function exploreLink(entity) {
    return el('a', { class: 'entity', href: '/explore?slug=' + encodeURIComponent(entity.slug), title: entity.slug, text: entity.name });
  }

  function words(kind) { return String(kind || '').toLowerCase().replace(/_/g, ' '); }

  function dates(from, until) {
    if (from && until) return from + ' – ' + until;
    if (from) return 'from ' + from;
    if (until) return 'until ' + until;
    return '';
  }

  // ---------------------------------------------------------------- the list of documents

  function showList() {
    document.title = 'Documents — policygraph';
    $('title').textContent = 'Source documents';
    $('summary').textContent = 'The texts the graph is read from. Open one to see which of its sentences the graph cites, and what it makes of them.';
    var list = el('ul', { id: 'doc-list' });
    $('text').replaceWith(list);
    setPanel(el('h2', { text: 'Reading a document' }), el('p', { class: 'muted', text: 'Open a document to read its text. The sentences the graph cites are highlighted; click one to see the relations and facts that rest on it, and follow them into the graph.' }));
    function page(after) {
      return gql(Q_LIST, { a: after }).then(function (data) {
        data.entities.edges.forEach(function (edge) {
          var d = edge.node;
          var about = [d.publishedOn, d.file].filter(Boolean).join(' · ');
          list.appendChild(el('li', null,
            el('a', { href: '/documents/' + encodeURIComponent(d.slug), text: d.name }),
            about ? el('div', { class: 'muted', text: about }) : null,
            d.summary ? el('div', { text: d.summary }) : null));
        });
        var info = data.entities.pageInfo;
        return info.hasNextPage ? page(info.endCursor) : null;
      });
    }
    page(null).then(function () {
      if (!list.children.length) list.appendChild(el('li', { class: 'muted', text: 'The graph has no documents.' }));
      $('doc').setAttribute('aria-busy', 'false');
      setState('list');
    }).catch(fail);
  }

  // ---------------------------------------------------------------- one document

  var slug = null;
  var passages = []; // { offset, length, quote, el }, in text order
  var selected = null;
  var request = 0; // the latest readings request; older answers are dropped

  function showDocument(s) {
    slug = s;
    gql(Q_DOCUMENT, { s: slug }).then(function (data) {
      var e = data.entity;
      if (!e || e.__typename !== 'Document') return notADocument(e);
      showMeta(e);
      if (e.text == null) {
        $('text').appendChild(el('p', { class: 'no-text', text: 'This server does not hold the text of this document, so there is nothing to read or highlight here. (A document created through the API has no text file.)' }));
        setPanel(el('h2', { text: 'No text' }), el('p', { class: 'muted', text: 'Without its text, no sentence of this document can be shown.' }));
        $('doc').setAttribute('aria-busy', 'false');
        setState('no-text');
        return null;
      }
      return morePassages(e.passages).then(function (all) {
        drawText(e.text, all);
        $('doc').setAttribute('aria-busy', 'false');
        setState('ready');
        applyFragment();
      });
    }).catch(fail);
  }

  function morePassages(got) {
    if (got.length < PAGE) return Promise.resolve(got);
    return gql(Q_MORE, { s: slug, a: got[got.length - 1].offset }).then(function (data) {
      var next = (data.entity && data.entity.passages) || [];
      return morePassages(next).then(function (rest) { return got.concat(rest); });
    });
  }

  function notADocument(e) {
    var what = e ? '“' + slug + '” is not a document.' : 'No entity of the graph has the slug “' + slug + '”.';
    document.title = 'No document — policygraph';
    $('title').textContent = 'No document “' + slug + '”';
    $('summary').textContent = what;
    if (e) $('facts').appendChild(el('dd', null, exploreLink(e)));
    $('doc').setAttribute('aria-busy', 'false');
    setState('not-found');
  }

  function showMeta(e) {
    document.title = e.title + ' — policygraph';
    $('title').textContent = e.title;
    $('summary').textContent = e.summary || '';
    var facts = $('facts');
    function row(label, value) { facts.appendChild(el('dt', { text: label })); facts.appendChild(el('dd', null, value)); }
    row('Published', e.publishedOn || 'not given');
    if (e.url) {
      row('URL', /^https?:\/\//i.test(e.url) ? el('a', { href: e.url, rel: 'noopener noreferrer', text: e.url }) : e.url);
    }
    if (e.file) row('File', el('code', { text: e.file }));
    if (e.sha256) row('SHA-256', el('code', { text: e.sha256 }));
    row('In the graph', exploreLink({ slug: e.slug, name: e.slug }));
  }

  // The text, with a <mark> per cited sentence. Passages come in text order and do not overlap;
  // their offsets are walked to UTF-16 indices one code point at a time.
  function drawText(text, list) {
    var frag = document.createDocumentFragment();
    var unit = 0;
    var point = 0;
    function to(offset) {
      while (point < offset && unit < text.length) {
        var c = text.charCodeAt(unit);
        unit += c >= 0xd800 && c <= 0xdbff && unit + 1 < text.length ? 2 : 1;
        point++;
      }
      return unit;
    }
    var done = 0; // UTF-16 index up to which the text is in the fragment
    passages = [];
    list.forEach(function (p) {
      var start = to(p.offset);
      if (start < done) return; // overlaps the one before: not expected, never drawn twice
      var end = to(p.offset + p.length);
      if (start > done) frag.appendChild(document.createTextNode(text.slice(done, start)));
      var mark = el('mark', { class: 'passage', tabindex: '0', 'data-offset': String(p.offset), 'data-length': String(p.length) });
      mark.textContent = text.slice(start, end);
      frag.appendChild(mark);
      done = end;
      passages.push({ offset: p.offset, length: p.length, quote: p.quote, el: mark });
    });
    if (done < text.length) frag.appendChild(document.createTextNode(text.slice(done)));
    var box = $('text');
    box.textContent = '';
    box.appendChild(frag);
    body.dataset.passages = String(passages.length);
    var n = passages.length;
    $('meta').appendChild(el('p', { id: 'count', class: 'muted', text: n === 0
      ? 'The graph cites no sentence of this document.'
      : n + ' cited sentence' + (n === 1 ? ' is' : 's are') + ' highlighted. Click one to see what the graph reads in it.' }));
  }

  // The cited sentence holding character `at`, or null.
  function passageAt(at) {
    var lo = 0;
    var hi = passages.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (passages[mid].offset + passages[mid].length <= at) lo = mid + 1; else hi = mid;
    }
    var p = passages[lo];
    return p && p.offset <= at ? p : null;
  }

  function passageOf(mark) {
    var offset = Number(mark.dataset.offset);
    return passageAt(offset);
  }

  function select(p, opts) {
    if (selected && selected !== p) {
      selected.el.classList.remove('selected');
      selected.el.textContent = selected.quote;
    }
    selected = p;
    p.el.classList.add('selected');
    body.dataset.selected = String(p.offset);
    if (opts.scroll) p.el.scrollIntoView({ block: 'center' });
    if (opts.remember && window.history && history.replaceState) {
      history.replaceState(null, '', location.pathname + location.search + '#at=' + p.offset);
    }
    var mine = ++request;
    setState('loading');
    setPanel(el('h2', { text: 'Cited sentence' }), el('blockquote', { class: 'sentence', text: p.quote }), el('p', { class: 'muted', text: 'Loading what the graph reads here…' }));
    gql(Q_READINGS, { s: slug, a: p.offset - 1 }).then(function (data) {
      if (mine !== request) return;
      var got = data.entity && data.entity.passages && data.entity.passages[0];
      if (!got || got.offset !== p.offset || got.length !== p.length) {
        throw new Error('The graph no longer cites this sentence as it did when the page was loaded; reload the page.');
      }
      showReadings(p, got);
      underlineQuotes(p, got);
      setState('selected');
    }).catch(function (err) { if (mine === request) fail(err); });
  }

  // This document's citations in `citations` that overlap passage `p`, as ranges of its characters.
  function quotesIn(p, citations) {
    var out = [];
    (citations || []).forEach(function (c) {
      if (!c.document || c.document.slug !== slug || c.offset == null) return;
      var from = Math.max(c.offset, p.offset) - p.offset;
      var to = Math.min(c.offset + c.length, p.offset + p.length) - p.offset;
      if (to > from) out.push({ from: from, to: to, quote: c.quote });
    });
    return out;
  }

  function quoteLines(p, citations) {
    var seen = {};
    return quotesIn(p, citations).filter(function (q) {
      if (seen[q.quote]) return false;
      seen[q.quote] = true;
      return true;
    }).map(function (q) { return el('div', { class: 'quote', text: '“' + q.quote + '”' }); });
  }

  function showReadings(p, got) {
    var named = got.relations.filter(function (r) { return r.kind === 'MENTIONS'; });
    var relations = got.relations.filter(function (r) { return r.kind !== 'MENTIONS'; });
    var parts = [
      el('h2', { text: 'Cited sentence' }),
      el('blockquote', { class: 'sentence', text: p.quote }),
      el('p', { class: 'where' }, 'Characters ' + p.offset + '–' + (p.offset + p.length) + ' · ',
        el('a', { href: '#at=' + p.offset, title: 'A link to this sentence', text: 'link here' })),
    ];
    if (relations.length) {
      parts.push(el('h3', { text: 'Relations (' + relations.length + ')' }));
      parts.push(el.apply(null, ['ul', { id: 'relations' }].concat(relations.map(function (r) {
        var when = dates(r.validFrom, r.validUntil);
        return el.apply(null, ['li', { class: 'relation', 'data-key': r.key },
          el('div', null, el('span', { class: 'kind', text: words(r.kind) }), r.title ? el('span', { class: 'title', text: r.title }) : null),
          el('div', { class: 'ends' }, exploreLink(r.from), ' → ', exploreLink(r.to)),
          when ? el('div', { class: 'dates', text: when }) : null,
        ].concat(quoteLines(p, r.citations)));
      }))));
    }
    if (got.facts.length) {
      parts.push(el('h3', { text: 'Entity facts (' + got.facts.length + ')' }));
      parts.push(el.apply(null, ['ul', { id: 'entity-facts' }].concat(got.facts.map(function (f) {
        return el.apply(null, ['li', { class: 'fact', 'data-field': f.field },
          el('div', null, exploreLink(f.entity), ': ', el('span', { class: 'kind', text: FIELD_WORDS[f.field] || words(f.field) }), f.value),
        ].concat(quoteLines(p, f.citations)));
      }))));
    }
    if (named.length) {
      var names = el('p', { class: 'names', id: 'names' });
      named.forEach(function (r, i) {
        if (i) names.appendChild(document.createTextNode(', '));
        names.appendChild(exploreLink(r.to));
      });
      parts.push(el('h3', { text: 'Names the document gives here (' + named.length + ')' }), names);
    }
    if (!relations.length && !got.facts.length && !named.length) {
      parts.push(el('p', { class: 'muted', text: 'Nothing cites this sentence any more.' }));
    }
    setPanel.apply(null, parts);
  }

  // Within the selected sentence, underline the very words the relations and facts quote.
  function underlineQuotes(p, got) {
    var ranges = [];
    got.relations.concat(got.facts).forEach(function (x) { ranges = ranges.concat(quotesIn(p, x.citations)); });
    ranges.sort(function (a, b) { return a.from - b.from; });
    var merged = [];
    ranges.forEach(function (r) {
      var last = merged[merged.length - 1];
      if (last && r.from <= last.to) last.to = Math.max(last.to, r.to);
      else merged.push({ from: r.from, to: r.to });
    });
    var chars = Array.from(p.quote);
    var mark = p.el;
    mark.textContent = '';
    var at = 0;
    merged.forEach(function (r) {
      if (r.from > at) mark.appendChild(document.createTextNode(chars.slice(at, r.from).join('')));
      mark.appendChild(el('span', { class: 'quoted', text: chars.slice(r.from, r.to).join('') }));
      at = r.to;
    });
    if (at < chars.length) mark.appendChild(document.createTextNode(chars.slice(at).join('')));
  }

  function fragmentOffset() {
    var m = /^#at=(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  function applyFragment() {
    var at = fragmentOffset();
    if (at == null || !passages.length) return;
    var p = passageAt(at);
    if (!p) {
      showStatus('No cited sentence holds character ' + at + ' of this text.', true);
      return;
    }
    select(p, { scroll: true, remember: false });
  }

  $('text').addEventListener('click', function (ev) {
    var mark = ev.target.closest && ev.target.closest('mark.passage');
    var p = mark && passageOf(mark);
    if (p) select(p, { scroll: false, remember: true });
  });
  $('text').addEventListener('keydown', function (ev) {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    var mark = ev.target.closest && ev.target.closest('mark.passage');
    var p = mark && passageOf(mark);
    if (!p) return;
    ev.preventDefault();
    select(p, { scroll: false, remember: true });
  });
  window.addEventListener('hashchange', applyFragment);

  // ---------------------------------------------------------------- start

  var m = /^\/documents\/([^/]+)\/?$/.exec(location.pathname);
  var wanted = null;
  if (m) {
    try { wanted = decodeURIComponent(m[1]); } catch (e) { wanted = m[1]; }
  }
  setState('loading');
  if (wanted) showDocument(wanted); else showList();
})();
