// The GraphiQL page's start-up: example tabs, the fetcher and the Explorer (a panel, open on
// load, where a query is built by ticking fields and filling in arguments, no GraphQL needed).
// A file of its own, not inline, so that the page's Content-Security-Policy can forbid inline
// scripts.
(function () {
  'use strict';

  // Example questions, one per tab. Each query runs as it is: press ▶ (or Ctrl+Enter).
  var EXAMPLES = [
    {
      query: [
        '# Who holds which role at IOM?',
        '# People, their titles, and the documents that say so.',
        'query IOMRoles {',
        '  entity(slug: "iom") {',
        '    name',
        '    summary',
        '    ... on Organization {',
        '      roles: relations(',
        '        kinds: [HOLDS_ROLE]',
        '        direction: INCOMING',
        '        first: 50',
        '      ) {',
        '        totalCount',
        '        edges {',
        '          node {',
        '            title',
        '            validFrom',
        '            validUntil',
        '            from { name slug }',
        '            citations {',
        '              document { title publishedOn url }',
        '              quote',
        '            }',
        '          }',
        '        }',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# Who held a Director General title at IOM',
        '# on 1 March 2025? Latest start first.',
        '# validAt keeps relations that may have held',
        '# that day; the sources date few roles, so',
        '# undated ones count unless strict: true.',
        'query DirectorsGeneralOn($day: String) {',
        '  entity(slug: "iom") {',
        '    name',
        '    relations(',
        '      direction: INCOMING',
        '      where: {',
        '        kinds: [HOLDS_ROLE]',
        '        titleContains: "director general"',
        '        validAt: $day',
        '        strict: false',
        '      }',
        '      orderBy: { field: DATE, direction: DESC }',
        '      first: 20',
        '    ) {',
        '      totalCount',
        '      edges {',
        '        node {',
        '          title',
        '          validFrom',
        '          validUntil',
        '          from { name slug }',
        '          citations { quote document { title } }',
        '        }',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n'),
      variables: '{\n  "day": "2025-03-01"\n}\n'
    },
    {
      query: [
        '# Who is "Klein Solomon"?',
        '# search finds any entity by a name or alias.',
        'query SearchByName {',
        '  search(query: "klein solomon") {',
        '    name',
        '    kind',
        '    slug',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# Which roles has Michele Klein Solomon held?',
        '# Where is it written, and on what date (publishedOn)?',
        'query KleinSolomonRoles {',
        '  entity(slug: "michele-klein-solomon") {',
        '    name',
        '    relations(kinds: [HOLDS_ROLE], direction: OUTGOING) {',
        '      totalCount',
        '      edges {',
        '        node {',
        '          title',
        '          validFrom',
        '          validUntil',
        '          to { name }',
        '          citations { document { title publishedOn } quote }',
        '        }',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# What does IOM welcome, support, criticize,',
        '# warn about or state, in the words of the sources?',
        'query IOMStances {',
        '  entity(slug: "iom") {',
        '    name',
        '    relations(',
        '      kinds: [WELCOMES, SUPPORTS, WARNS_ABOUT, CRITICIZES, STATES]',
        '      direction: OUTGOING',
        '      first: 50',
        '    ) {',
        '      totalCount',
        '      edges {',
        '        node {',
        '          kind',
        '          to { name kind }',
        '          validFrom',
        '          citations {',
        '            document { title publishedOn url }',
        '            quote',
        '          }',
        '        }',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# What did Michele Klein-Solomon say about',
        '# the Migrant Protection Protocols?',
        '# Everyone\'s statements about an entity are its',
        '# incoming stance relations: pick the speaker in',
        '# "from". "title" is the role they spoke in.',
        'query WhatDidXSayAboutY {',
        '  entity(slug: "migrant-protection-protocols") {',
        '    name',
        '    said: relations(',
        '      kinds: [STATES, WELCOMES, SUPPORTS, CALLS_FOR,',
        '              WARNS_ABOUT, CRITICIZES, CONGRATULATES]',
        '      direction: INCOMING',
        '      first: 50',
        '    ) {',
        '      edges {',
        '        node {',
        '          kind',
        '          from { slug name }',
        '          title',
        '          citations {',
        '            quote',
        '            document { title publishedOn }',
        '          }',
        '        }',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# Whom do I call about this press release?',
        '# Its press contacts, and the office the text',
        '# names for each of them.',
        'query WhomDoICall {',
        '  entity(slug: "doc-001-iom-welcomes-end-of-migrant-protection-protocols") {',
        '    name',
        '    contacts: relations(kinds: [CONTACT_FOR], direction: INCOMING, first: 10) {',
        '      edges {',
        '        node {',
        '          from {',
        '            name',
        '            at: relations(kinds: [CONTACT_FOR], direction: OUTGOING, first: 10) {',
        '              edges { node { to { name kind } citations { quote } } }',
        '            }',
        '          }',
        '          citations { quote }',
        '        }',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# Show me where this is written: a relation by its',
        '# key (kind:from:to), the sentence it cites',
        '# verbatim, where it is in the document (offset and',
        '# length in characters of Document.text), the text',
        '# around it, and the document it is in.',
        'query WhereIsItWritten {',
        '  relation(key: "warns_about:iom:migrant-protection-protocols") {',
        '    kind',
        '    from { name }',
        '    to { name }',
        '    sourceCount',
        '    citations {',
        '      quote',
        '      offset',
        '      length',
        '      context(chars: 150) { before quote after }',
        '      document { title publishedOn url file sha256 }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# What are the first 10 offices?',
        '# For the next 10, copy pageInfo.endCursor',
        '# into "after" under Variables.',
        'query Offices($after: String) {',
        '  entities(kind: OFFICE, first: 10, after: $after) {',
        '    totalCount',
        '    pageInfo { hasNextPage endCursor }',
        '    edges {',
        '      cursor',
        '      node { name slug summary }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n'),
      variables: '{\n  "after": null\n}\n'
    },
    {
      query: [
        '# Which offices are tied to IOM, A to Z, and what',
        '# do names, summaries and quotes say about asylum?',
        '# where narrows a list (kinds, types, namePrefix,',
        '# dateFrom/dateTo, relatedTo/relatedBy); orderBy',
        '# sorts it (SLUG, NAME, DATE, DEGREE, PAGE_RANK).',
        'query FilterSortSearch($after: String) {',
        '  entities(',
        '    where: { kinds: [OFFICE], relatedTo: "iom" }',
        '    orderBy: { field: NAME, direction: ASC }',
        '    first: 10',
        '    after: $after',
        '  ) {',
        '    totalCount',
        '    pageInfo { hasNextPage endCursor }',
        '    edges { node { name slug date } }',
        '  }',
        '  searchResults(',
        '    query: "asylum"',
        '    in: [NAMES, SUMMARIES, QUOTES]',
        '    first: 5',
        '  ) {',
        '    totalCount',
        '    edges {',
        '      node {',
        '        entity { name slug }',
        '        score',
        '        field',
        '        matchedText',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n'),
      variables: '{\n  "after": null\n}\n'
    },
    {
      query: [
        '# What did Joe Biden sign or issue,',
        '# and what do those documents call for?',
        'query BidenDocuments {',
        '  entity(slug: "joe-biden") {',
        '    name',
        '    relations(kinds: [SIGNED, ISSUED], direction: OUTGOING) {',
        '      edges {',
        '        node {',
        '          kind',
        '          validFrom',
        '          to {',
        '            name',
        '            date',
        '            callsFor: relations(',
        '              kinds: [CALLS_FOR]',
        '              direction: OUTGOING',
        '              first: 10',
        '            ) {',
        '              edges {',
        '                node { to { name } citations { quote } }',
        '              }',
        '            }',
        '          }',
        '        }',
        '      }',
        '    }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# What does a query cost, and how much of this',
        '# client\'s budget is left? (The answer\'s',
        '# extensions.cost and the X-RateLimit-* headers',
        '# say the same.)',
        'query MyRateLimit {',
        '  rateLimit {',
        '    cost',
        '    limit',
        '    remaining',
        '    used',
        '    resetAt',
        '  }',
        '  entity(slug: "iom") {',
        '    name',
        '    relations(first: 100) { totalCount }',
        '  }',
        '}',
        ''
      ].join('\n')
    },
    {
      query: [
        '# A service checks the IDs it stored, in one',
        '# request. An entity merged into another answers',
        '# the survivor (its id differs from the one asked:',
        '# store the new one); a deleted one is null with a',
        '# DELETED error; an unknown one is null. The change',
        '# feed says the same: mergedInto on a merge.',
        'query StoredIds {',
        '  nodes(ids: ["Organization:iom", "Person:michele-klein-solomon", "Person:no-such-person"]) {',
        '    id',
        '    ... on Entity { slug name }',
        '  }',
        '  changes(first: 5) {',
        '    latestSeq',
        '    edges { node { seq action targetId deleted mergedInto } }',
        '  }',
        '}',
        ''
      ].join('\n')
    }
  ];

  var DEFAULT_QUERY = [
    '# policygraph: who does what in migration policy,',
    '# with the sources that say so.',
    '# Start from an entity by its slug, or find one',
    '# with search(query: "..."). The tabs above hold',
    '# more examples.',
    '# Or build one by clicking in the Explorer on the',
    '# left: tick a field, fill in its arguments, then',
    '# press ▶. Ctrl+Space completes names; the Docs',
    '# button (top left) lists every field.',
    '{',
    '  entity(slug: "iom") {',
    '    name',
    '    kind',
    '    summary',
    '  }',
    '}',
    ''
  ].join('\n');

  var root = document.getElementById('graphiql');
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    root.textContent = 'GraphiQL could not load its scripts from /graphiql/assets/. Send GraphQL requests (POST, JSON) to /graphql instead.';
    return;
  }

  var wsScheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  var fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: wsScheme + window.location.host + '/graphql'
  });

  // The Explorer plugin (@graphiql/plugin-explorer): the schema as a tree of checkboxes. Made once,
  // here, not on each render: GraphiQL re-opens `visiblePlugin` whenever its plugin list changes.
  // Without its script GraphiQL still works, only without the panel.
  var plugins = [];
  var explorer = null;
  if (window.GraphiQLPluginExplorer && typeof GraphiQLPluginExplorer.explorerPlugin === 'function') {
    explorer = GraphiQLPluginExplorer.explorerPlugin();
    plugins.push(explorer);
  }

  // The Explorer's argument inputs take the focus when they appear. That is right when a person
  // ticks an argument (they can type at once), not when a whole query appears by other means: on
  // load, on a switch of tab or after Prettify, the panel would jump to the query's last argument
  // (`first: 50` in the first example) with its text selected, and keys meant for the page would
  // go into it. So such a focus is given back unless the person's last click or key was in the
  // Explorer (or was Tab), and the panel scrolled back: to its top for a new query (load, tabs),
  // else to where it was.
  var lastInput = null; // { inExplorer, newQuery, scrollTop } of the last pointerdown or keydown
  function noteInput(e) {
    var t = e.target && e.target.closest ? e.target : null;
    var panel = document.querySelector('.graphiql-plugin');
    lastInput = {
      inExplorer: !!(t && t.closest('.graphiql-explorer-root')) || (e.type === 'keydown' && e.key === 'Tab'),
      newQuery: !!(t && t.closest('.graphiql-tab-button, .graphiql-tab-add, .graphiql-tab-close')),
      scrollTop: panel ? panel.scrollTop : 0
    };
  }
  document.addEventListener('pointerdown', noteInput, true);
  document.addEventListener('keydown', noteInput, true);
  document.addEventListener('focusin', function (e) {
    var t = e.target;
    if (!t.matches || !t.matches('.graphiql-explorer-root input') || (lastInput && lastInput.inExplorer)) return;
    t.blur();
    var panel = t.closest('.graphiql-plugin');
    if (panel) panel.scrollTop = !lastInput || lastInput.newQuery ? 0 : lastInput.scrollTop;
  });

  ReactDOM.createRoot(root).render(
    React.createElement(
      GraphiQL,
      {
        fetcher: fetcher,
        defaultQuery: DEFAULT_QUERY,
        defaultTabs: EXAMPLES,
        shouldPersistHeaders: false,
        plugins: plugins,
        // Open on load, so that a query can be built by clicking straight away.
        visiblePlugin: explorer || undefined
      },
      React.createElement(GraphiQL.Logo, null, 'policygraph')
    )
  );
})();
