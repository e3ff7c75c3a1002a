#!/usr/bin/env node
// Apollo Client, as an app uses it, against policygraph's API: several queries sent at once go
// through `BatchHttpLink` as one POST holding a JSON array, and each answer comes back to its
// own query. A link in front of the batch link reads each answer's `extensions.cost`; the
// fetch given to Apollo counts the POSTs and keeps the rate-limit headers of the last one.
// Used by tests/apollo.rs, which runs the same queries one by one and compares; needs `npm ci`
// here (scripts/install-test-deps.sh runs it).
//
//   node apollo.mjs --api http://127.0.0.1:PORT/graphql [--token TOKEN]
//
// To check another query, add it to QUERIES: a name (its operation's), the query and its
// variables. The script prints one line `RESULT <json>` with, per query, the data Apollo gave
// and the cost the server reported, how many operations the batch's POST held (`posts`), and
// every POST that went out (`allPosts`: the batch, then the next page of a sorted list). Exit 0 when the checks here passed, 1 when one failed, 2 on bad usage.
import { ApolloClient, ApolloLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { BatchHttpLink } from '@apollo/client/link/batch-http/index.js';

const QUERIES = [
  {
    name: 'Organization',
    query: `query Organization($slug: String!) { entity(slug: $slug) { id slug name kind } }`,
    variables: { slug: 'exo' },
  },
  {
    name: 'Relations',
    query: `query Relations($slug: String!) { entity(slug: $slug) { id name relations(first: 10) { totalCount edges { node { id kind title from { id name } to { id name } } } } } }`,
    variables: { slug: 'exo' },
  },
  {
    name: 'Search',
    query: `query Search($q: String!) { search(query: $q, first: 5) { id slug name } }`,
    variables: { q: 'strategy' },
  },
  // Filtered and sorted lists, as an app pages through them: enums and input objects as
  // variables, the cursor kept for the next page.
  {
    name: 'PoliciesByName',
    query: `query PoliciesByName($where: EntityFilter, $order: EntityOrder) { entities(where: $where, orderBy: $order, first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name type } } } }`,
    variables: { where: { kinds: ['POLICY'] }, order: { field: 'NAME', direction: 'DESC' } },
  },
  {
    name: 'StrategyPillars',
    query: `query StrategyPillars($slug: String!, $where: RelationFilter, $order: RelationOrder) { entity(slug: $slug) { id relations(where: $where, orderBy: $order, first: 10) { totalCount edges { node { id kind to { id name } } } } } }`,
    variables: { slug: 'regional-strategy', where: { kinds: ['HAS_PILLAR'], direction: 'OUTGOING' }, order: { field: 'OTHER_NAME', direction: 'ASC' } },
  },
  {
    name: 'SearchSummaries',
    query: `query SearchSummaries($q: String!) { searchResults(query: $q, in: [NAMES, SUMMARIES], first: 5) { totalCount edges { node { score matchedText field entity { id name } } } } }`,
    variables: { q: 'invented' },
  },
  {
    name: 'Budget',
    query: `query Budget { rateLimit { cost limit remaining used resetAt } }`,
    variables: {},
  },
];

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error('usage: node apollo.mjs --api URL [--token TOKEN]');
  process.exit(2);
}

const o = { api: null, token: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const [k, v] = [argv[i], argv[i + 1]];
  if (v === undefined) usage(`${k} needs a value`);
  if (k === '--api') o.api = v;
  else if (k === '--token') o.token = v;
  else usage(`unknown option ${k}`);
}
if (!o.api) usage('--api is required');

let failed = false;
const check = (ok, what) => {
  console.log(`[${ok ? 'ok   ' : 'FAIL '}] ${what}`);
  if (!ok) failed = true;
};

// What went over the wire: each POST's number of operations, and the last answer's headers.
const posts = [];
let lastHeaders = null;
const countingFetch = async (url, init) => {
  const sent = JSON.parse(init.body);
  posts.push(Array.isArray(sent) ? sent.length : 1);
  const res = await fetch(url, init);
  lastHeaders = Object.fromEntries(res.headers.entries());
  return res;
};

// Reads what Apollo otherwise drops: the cost each answer reports.
const costs = {};
const costLink = new ApolloLink((operation, forward) =>
  forward(operation).map((result) => {
    costs[operation.operationName] = result.extensions?.cost ?? null;
    return result;
  }),
);

const client = new ApolloClient({
  link: ApolloLink.from([
    costLink,
    new BatchHttpLink({
      uri: o.api,
      fetch: countingFetch,
      batchMax: 10,
      batchInterval: 20,
      headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
    }),
  ]),
  cache: new InMemoryCache(),
});

const results = await Promise.all(
  QUERIES.map(({ query, variables }) =>
    client.query({ query: gql(query), variables, fetchPolicy: 'network-only' }).catch((e) => ({ error: String(e) })),
  ),
);

const data = {};
QUERIES.forEach(({ name }, i) => {
  const r = results[i];
  check(!r.error && !r.errors && r.data, `${name}: answered without errors${r.error ? `: ${r.error}` : ''}`);
  data[name] = r.data ?? null;
  const cost = costs[name];
  check(cost && Number.isInteger(cost.requested) && cost.limit > 0, `${name}: reports its cost ${JSON.stringify(cost)}`);
});
// The lists as the server sorted and filtered them.
const policies = data.PoliciesByName?.entities;
const names = policies?.edges.map((e) => e.node.name) ?? [];
check(policies?.totalCount === 3 && policies.pageInfo.hasNextPage, `three policies, two on the first page (${JSON.stringify(policies)})`);
check(names.length === 2 && names[0].localeCompare(names[1]) > 0, `policies by name, descending: ${JSON.stringify(names)}`);
const pillars = data.StrategyPillars?.entity?.relations?.edges.map((e) => e.node.to.name) ?? [];
check(JSON.stringify(pillars) === JSON.stringify(['Dignity', 'Order', 'Safety']), `the strategy's pillars by name: ${JSON.stringify(pillars)}`);
const hit = data.SearchSummaries?.searchResults?.edges[0]?.node;
check(hit?.entity?.id === 'Organization:exo' && hit.field === 'SUMMARIES' && hit.score > 0, `a summary's word finds its entity: ${JSON.stringify(hit)}`);
// The next page, through the cursor the first one gave: the rest of the order, no repeats.
const batchPosts = [...posts];
const batchHeaders = lastHeaders;
const sorted = QUERIES.find((q) => q.name === 'PoliciesByName');
if (policies?.pageInfo?.endCursor) {
  const rest = await client
    .query({
      query: gql(`query PoliciesAfter($where: EntityFilter, $order: EntityOrder, $after: String) { entities(where: $where, orderBy: $order, first: 2, after: $after) { pageInfo { hasNextPage } edges { node { name } } } }`),
      variables: { ...sorted.variables, after: policies.pageInfo.endCursor },
      fetchPolicy: 'network-only',
    })
    .catch((e) => ({ error: String(e) }));
  const restNames = rest.data?.entities?.edges.map((e) => e.node.name) ?? [];
  check(
    restNames.length === 1 && names[1].localeCompare(restNames[0]) > 0 && rest.data.entities.pageInfo.hasNextPage === false,
    `the second page goes on in order and ends the list: ${JSON.stringify(rest.error ?? restNames)}`,
  );
}
check(batchPosts.length === 1 && batchPosts[0] === QUERIES.length, `${QUERIES.length} queries went out as one POST (POSTs: ${JSON.stringify(batchPosts)})`);
check(batchHeaders && batchHeaders['x-ratelimit-used'] !== undefined, `the batch's answer carries X-RateLimit-Used (${batchHeaders?.['x-ratelimit-used']})`);

console.log(`RESULT ${JSON.stringify({ queries: QUERIES, data, costs, posts: batchPosts, allPosts: posts, headers: batchHeaders })}`);
process.exit(failed ? 1 : 0);
