//! Graph algorithms on the index: paths (fewest hops and hub-avoiding), all simple paths,
//! common neighbours, neighbourhoods with cut-off counts, timelines, degree and PageRank.
//!
//! petgraph's single-source algorithms return costs without paths (`dijkstra`), run on the
//! whole graph, or (`page_rank`) misbehave on a `StableGraph` with holes, so the searches here
//! are written once over the index's own adjacency, with the filters the API needs.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};

/// Hash maps keyed by node index, on the hot paths: foldhash rather than SipHash.
type FastMap<K, V> = foldhash::HashMap<K, V>;
use std::sync::Arc;

use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use petgraph::Direction as PgDirection;

use super::GraphIndex;
use crate::deadline::{Deadline, Ticker};
use crate::domain::{DateWindow, Entity, EntityKind, PartialDate, Relation, RelationKind};

/// Which steps a search may take.
#[derive(Debug, Clone, Default)]
pub struct StepFilter {
    /// Only relations of these kinds (all when `None`).
    pub relation_kinds: Option<Vec<RelationKind>>,
    /// Never pass through entities of these kinds (the endpoints themselves are always allowed).
    pub exclude_entity_kinds: Vec<EntityKind>,
    /// Documents and `mentions` are provenance, not connections: left out unless asked for.
    pub include_provenance: bool,
    /// Follow relations only from `from` to `to`.
    pub directed: bool,
    /// Follow only relations that may have held on a day of this window (`validAt`): tested
    /// here, with the kind, as each step is considered, so a dated search makes no extra pass.
    pub valid: Option<DateWindow>,
}

/// How paths are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRanking {
    /// Fewest relations first.
    FewestHops,
    /// Each step into an entity costs `1 + ln(1 + degree)` of that entity, so paths through
    /// specific entities rank before paths through hubs of the same length or shorter.
    AvoidHubs,
}

/// One step of a path: the relation taken and the entity it leads to.
#[derive(Debug, Clone)]
pub struct Step {
    pub relation: Arc<Relation>,
    /// True when the relation points the way the path goes (`from` → `to`).
    pub forward: bool,
    pub entity: Arc<Entity>,
}

#[derive(Debug, Clone)]
pub struct Path {
    pub start: Arc<Entity>,
    pub steps: Vec<Step>,
    pub cost: f64,
}

/// Whether a step may take this relation. The kind (in petgraph's edge) is tested first; the
/// relation's dates are read from its data only when a date is asked for.
fn allowed(g: &GraphIndex, f: &StepFilter, edge: EdgeIndex, kind: RelationKind) -> bool {
    (f.include_provenance || kind != RelationKind::Mentions)
        && f.relation_kinds.as_ref().is_none_or(|ks| ks.contains(&kind))
        && f.valid.as_ref().is_none_or(|w| g.data(edge).valid_in(w))
}

/// The neighbours of a node along allowed relations: (edge, other node, forward).
fn neighbours<'a>(
    g: &'a GraphIndex,
    n: NodeIndex,
    f: &'a StepFilter,
) -> impl Iterator<Item = (EdgeIndex, NodeIndex, bool)> + 'a {
    let allowed = move |edge: EdgeIndex, kind: RelationKind| allowed(g, f, edge, kind);
    // Filtered on the edge reference petgraph hands over, not by looking the edge up again.
    let out = g
        .graph
        .edges_directed(n, PgDirection::Outgoing)
        .filter(move |e| allowed(e.id(), e.weight().kind))
        .map(|e| (e.id(), e.target(), true));
    let inc: Box<dyn Iterator<Item = (EdgeIndex, NodeIndex, bool)>> = if f.directed {
        Box::new(std::iter::empty())
    } else {
        Box::new(
            g.graph
                .edges_directed(n, PgDirection::Incoming)
                .filter(move |e| allowed(e.id(), e.weight().kind))
                .map(|e| (e.id(), e.source(), false)),
        )
    };
    out.chain(inc)
}

/// The steps that arrive at `n` along allowed relations: (edge, the node the step leaves,
/// forward). Along the relation only when the filter is directed, else either way.
fn arriving<'a>(g: &'a GraphIndex, n: NodeIndex, f: &'a StepFilter) -> impl Iterator<Item = Hop> + 'a {
    let along = f.directed.then(|| {
        g.graph
            .edges_directed(n, PgDirection::Incoming)
            .filter(move |e| allowed(g, f, e.id(), e.weight().kind))
            .map(|e| (e.id(), e.source(), true))
    });
    let either = (!f.directed).then(|| neighbours(g, n, f).map(|(e, m, fw)| (e, m, !fw)));
    along.into_iter().flatten().chain(either.into_iter().flatten())
}

/// Whether a path may pass through `n` (endpoints are always allowed).
fn passable(g: &GraphIndex, n: NodeIndex, f: &StepFilter) -> bool {
    let k = g.kind_of(n);
    !f.exclude_entity_kinds.contains(&k) && (f.include_provenance || k != EntityKind::Document)
}

/// The number of relations of an entity, not counting provenance.
pub fn degree_of(g: &GraphIndex, n: NodeIndex) -> usize {
    g.graph
        .edges_directed(n, PgDirection::Outgoing)
        .chain(g.graph.edges_directed(n, PgDirection::Incoming))
        .filter(|e| e.weight().kind != RelationKind::Mentions)
        .count()
}

fn step_cost(degrees: &[u32], into: NodeIndex, target: NodeIndex, ranking: PathRanking) -> f64 {
    match ranking {
        PathRanking::FewestHops => 1.0,
        PathRanking::AvoidHubs if into == target => 1.0,
        PathRanking::AvoidHubs => 1.0 + (1.0 + f64::from(degrees.get(into.index()).copied().unwrap_or(0))).ln(),
    }
}

#[derive(PartialEq)]
struct Queued {
    cost: f64,
    hops: usize,
    node: NodeIndex,
}
impl Eq for Queued {}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> Ordering {
        // Min-heap on cost, then hops.
        o.cost.total_cmp(&self.cost).then(o.hops.cmp(&self.hops)).then(o.node.cmp(&self.node))
    }
}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Relations an `AvoidHubs` search may examine before it gives up on weighing hubs and answers
/// with the fewest-hops path instead: keeps a query on a million-entity graph bounded. Counted in
/// relations, not entities settled: settling one hub of a large graph examines tens of thousands.
///
/// On the synthetic graph of 1M entities and 5M relations (1,000 pairs, at most 6 relations),
/// the two-sided search found a path cheaper than the fewest-hops one for 12 pairs within this
/// bound, at a median of 2.6 ms; unbounded it did for 761, but took 24 ms at the median and
/// 46 ms at the 90th percentile; a bound of 50,000 took 7.7 ms for 30. A curated graph of
/// thousands of entities is always weighed in full.
pub const AVOID_HUBS_BUDGET: usize = 20_000;

/// Fewest hops by bidirectional breadth-first search, expanding the smaller frontier a level at
/// a time: on graphs with hubs it touches a tiny fraction of what a one-sided search does.
fn fewest_hops(
    g: &GraphIndex,
    s: NodeIndex,
    t: NodeIndex,
    f: &StepFilter,
    max_len: usize,
    ticker: &mut Ticker,
) -> Option<Vec<Hop>> {
    if s == t {
        return Some(Vec::new());
    }
    // node → (previous node towards s, edge, forward); node → (next node towards t, edge, forward)
    let mut from_s: FastMap<NodeIndex, (NodeIndex, EdgeIndex, bool)> = FastMap::default();
    let mut to_t: FastMap<NodeIndex, (NodeIndex, EdgeIndex, bool)> = FastMap::default();
    let (mut front_s, mut front_t) = (vec![s], vec![t]);
    let (mut depth_s, mut depth_t) = (0usize, 0usize);
    let passable_mid = |n: NodeIndex| n == s || n == t || passable(g, n, f);
    let mut meet: Option<NodeIndex> = None;
    while meet.is_none() && !front_s.is_empty() && !front_t.is_empty() && depth_s + depth_t < max_len {
        if front_s.len() <= front_t.len() {
            let mut next = Vec::new();
            for &n in &front_s {
                if ticker.tick() {
                    return None;
                }
                if n != s && !passable(g, n, f) {
                    continue;
                }
                for (e, m, fw) in neighbours(g, n, f) {
                    if m == s || from_s.contains_key(&m) {
                        continue;
                    }
                    from_s.insert(m, (n, e, fw));
                    if (m == t || to_t.contains_key(&m)) && passable_mid(m) {
                        meet = Some(m);
                        break;
                    }
                    next.push(m);
                }
                if meet.is_some() {
                    break;
                }
            }
            front_s = next;
            depth_s += 1;
        } else {
            let mut next = Vec::new();
            for &n in &front_t {
                if ticker.tick() {
                    return None;
                }
                if n != t && !passable(g, n, f) {
                    continue;
                }
                for (e, m, fw) in arriving(g, n, f) {
                    if m == t || to_t.contains_key(&m) {
                        continue;
                    }
                    to_t.insert(m, (n, e, fw));
                    if (m == s || from_s.contains_key(&m)) && passable_mid(m) {
                        meet = Some(m);
                        break;
                    }
                    next.push(m);
                }
                if meet.is_some() {
                    break;
                }
            }
            front_t = next;
            depth_t += 1;
        }
    }
    let m = meet?;
    let mut first: Vec<Hop> = Vec::new();
    let mut at = m;
    while at != s {
        let (p, e, fw) = from_s[&at];
        first.push((e, at, fw));
        at = p;
    }
    first.reverse();
    let mut at = m;
    while at != t {
        let (n, e, fw) = to_t[&at];
        first.push((e, n, fw));
        at = n;
    }
    (first.len() <= max_len).then_some(first)
}

fn to_path(g: &GraphIndex, s: NodeIndex, hops: Vec<Hop>, cost: f64) -> Path {
    Path {
        start: g.graph[s].clone(),
        steps: hops
            .into_iter()
            .map(|(e, m, forward)| Step { relation: g.relation_at(e), forward, entity: g.graph[m].clone() })
            .collect(),
        cost,
    }
}

/// The best path from `from` to `to` of at most `max_len` relations, or `None` (also when the
/// deadline passed first: the caller tells the two apart by asking the deadline).
pub fn shortest_path(
    g: &GraphIndex,
    from: &str,
    to: &str,
    filter: &StepFilter,
    max_len: usize,
    ranking: PathRanking,
    deadline: &Deadline,
) -> Option<Path> {
    let (&s, &t) = (g.by_id.get(from)?, g.by_id.get(to)?);
    if s == t {
        return Some(Path { start: g.graph[s].clone(), steps: Vec::new(), cost: 0.0 });
    }
    let degrees = g.degrees();
    // No path within the length at all: no need to weigh anything.
    let mut ticker = deadline.ticker();
    let hop_path = fewest_hops(g, s, t, filter, max_len, &mut ticker)?;
    if ranking == PathRanking::FewestHops {
        let cost = hop_path.len() as f64;
        return Some(to_path(g, s, hop_path, cost));
    }
    match avoid_hubs(g, s, t, filter, max_len, &degrees, AVOID_HUBS_BUDGET, &mut ticker) {
        Some((hops, cost)) => Some(to_path(g, s, hops, cost)),
        None => {
            let cost = hop_path.iter().map(|&(_, m, _)| step_cost(&degrees, m, t, ranking)).sum();
            Some(to_path(g, s, hop_path, cost))
        }
    }
}

/// One side of a bidirectional weighed search.
struct Side {
    /// For each node reached: the best (cost, hops) known, and how it was reached: from s's
    /// side, the step into it (edge, the node before, forward); from t's side, the step out of
    /// it (edge, the node after, forward). `None` for the side's own end. One map, not two:
    /// a relaxation is one hash look-up (at 1M the maps' inserts were a quarter of a search).
    best: FastMap<NodeIndex, (f64, usize, Option<Hop>)>,
    heap: BinaryHeap<Queued>,
}

impl Side {
    fn new(n: NodeIndex) -> Side {
        Side {
            best: FastMap::from_iter([(n, (0.0, 0, None))]),
            heap: BinaryHeap::from([Queued { cost: 0.0, hops: 0, node: n }]),
        }
    }

    /// The best (cost, hops) known for `n`.
    fn cost(&self, n: NodeIndex) -> Option<(f64, usize)> {
        self.best.get(&n).map(|&(c, h, _)| (c, h))
    }

    /// The step recorded for `n`, which the search reached from this side's end.
    fn step(&self, n: NodeIndex) -> Hop {
        self.best[&n].2.expect("only a side's own end has no step")
    }

    /// A lower bound of what is left to settle (the queue may hold outdated entries).
    fn top(&self) -> f64 {
        self.heap.peek().map_or(f64::INFINITY, |q| q.cost)
    }

    /// Records `(cost, hops)` for `n` if better than what is known.
    fn relax(&mut self, n: NodeIndex, cost: f64, hops: usize, step: Hop) {
        let better = |&(c, h, _): &(f64, usize, Option<Hop>)| cost < c || (cost == c && hops < h);
        match self.best.entry(n) {
            std::collections::hash_map::Entry::Occupied(mut o) if better(o.get()) => {
                *o.get_mut() = (cost, hops, Some(step));
            }
            std::collections::hash_map::Entry::Occupied(_) => return,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((cost, hops, Some(step)));
            }
        }
        self.heap.push(Queued { cost, hops, node: n });
    }
}

/// The path from `s` to `t` of least cost when each step costs `1 + ln(1 + degree)` of the entity
/// it enters (1 into `t`), by Dijkstra from both ends at once; `None` when more than `budget`
/// relations would have to be examined, or no path of at most `max_len` relations was found.
///
/// From one end only, the search had to settle a hub to get past it, and settling a hub of a
/// million-entity graph examines its tens of thousands of relations. From both ends, the two
/// searches meet on the relation into the hub from either side, and neither settles the hub
/// unless the cheapest path really goes through two of them. With the same bound, one side took
/// three times as long at 1M (a median of 7.6 ms against 2.6 ms) and found 2 cheaper paths.
#[allow(clippy::too_many_arguments)]
fn avoid_hubs(
    g: &GraphIndex,
    s: NodeIndex,
    t: NodeIndex,
    f: &StepFilter,
    max_len: usize,
    degrees: &[u32],
    budget: usize,
    ticker: &mut Ticker,
) -> Option<(Vec<Hop>, f64)> {
    let weight = |n: NodeIndex| step_cost(degrees, n, t, PathRanking::AvoidHubs);
    let may_pass = |n: NodeIndex| n == s || n == t || passable(g, n, f);
    let (mut from_s, mut to_t) = (Side::new(s), Side::new(t));
    // The cheapest path found so far: its cost, and the relation where its halves meet (from the
    // node on s's side, as a step into the node on t's side).
    let mut found: Option<(f64, NodeIndex, Hop)> = None;
    let mut examined = 0usize;
    loop {
        let (top_s, top_t) = (from_s.top(), to_t.top());
        // Every path not yet seen costs at least this much (weights are positive).
        if top_s + top_t >= found.as_ref().map_or(f64::INFINITY, |f| f.0) {
            break;
        }
        let forward = top_s <= top_t;
        let side = if forward { &mut from_s } else { &mut to_t };
        let Some(Queued { cost, hops, node }) = side.heap.pop() else { break };
        if ticker.tick() {
            return None;
        }
        let end = if forward { s } else { t };
        let outdated = side.cost(node).is_some_and(|(c, h)| c < cost || (c == cost && h < hops));
        if outdated || hops >= max_len || (node != end && !passable(g, node, f)) {
            continue;
        }
        // Either side's steps without boxing them: this runs once per settled entity.
        let leaving = forward.then(|| neighbours(g, node, f));
        let entering = (!forward).then(|| arriving(g, node, f));
        for (e, m, fw) in leaving.into_iter().flatten().chain(entering.into_iter().flatten()) {
            examined += 1;
            if examined > budget {
                return None;
            }
            if m == end {
                continue;
            }
            // The step m → node (from t's side) or node → m (from s's side), and its cost.
            let (before, after, c) = if forward { (node, m, cost + weight(m)) } else { (m, node, cost + weight(node)) };
            let other = if forward { &to_t } else { &from_s };
            if let Some((oc, oh)) = other.cost(m) {
                let total = c + oc;
                if may_pass(m) && hops + 1 + oh <= max_len && found.as_ref().is_none_or(|f| total < f.0) {
                    found = Some((total, before, (e, after, fw)));
                }
            }
            let side = if forward { &mut from_s } else { &mut to_t };
            side.relax(m, c, hops + 1, (e, node, fw));
        }
    }
    let (cost, before, meet) = found?;
    let mut hops: Vec<Hop> = Vec::new();
    let mut at = before;
    while at != s {
        let (e, p, fw) = from_s.step(at);
        hops.push((e, at, fw));
        at = p;
    }
    hops.reverse();
    hops.push(meet);
    let mut at = meet.1;
    while at != t {
        let (e, n, fw) = to_t.step(at);
        hops.push((e, n, fw));
        at = n;
    }
    // A half may have been improved (cheaper, with more hops) after the halves met.
    (hops.len() <= max_len).then_some((hops, cost))
}

/// One step taken while searching: the edge, the node it reaches, and whether it goes forward.
type Hop = (EdgeIndex, NodeIndex, bool);

/// Bounds of an all-paths search.
#[derive(Debug, Clone, Copy)]
pub struct PathSearch {
    /// At most this many relations per path.
    pub max_len: usize,
    /// At most this many paths returned.
    pub limit: usize,
    pub ranking: PathRanking,
    /// At most this many node expansions.
    pub budget: usize,
}

/// Hop distances to `t` over the filter (reversed when directed), up to `max`.
fn distances_to(
    g: &GraphIndex,
    t: NodeIndex,
    f: &StepFilter,
    max: usize,
    ticker: &mut Ticker,
) -> FastMap<NodeIndex, usize> {
    let mut dist = FastMap::from_iter([(t, 0usize)]);
    let mut queue = VecDeque::from([t]);
    while let Some(n) = queue.pop_front() {
        if ticker.tick() {
            break;
        }
        let d = dist[&n];
        if d >= max || (n != t && !passable(g, n, f)) {
            continue;
        }
        // Walking backwards: the edges that lead into `n` along the filter.
        let back: Vec<NodeIndex> = if f.directed {
            g.graph
                .edges_directed(n, PgDirection::Incoming)
                .filter(|e| allowed(g, f, e.id(), e.weight().kind))
                .map(|e| e.source())
                .collect()
        } else {
            neighbours(g, n, f).map(|(_, m, _)| m).collect()
        };
        for m in back {
            if let std::collections::hash_map::Entry::Vacant(v) = dist.entry(m) {
                v.insert(d + 1);
                queue.push_back(m);
            }
        }
    }
    dist
}

/// All simple paths of at most `max_len` relations, best first (by the ranking, then length),
/// at most `limit`. Exploration is pruned by the distance to the target and bounded by
/// `budget` expansions; the flag says whether the budget ran out (the list may then miss
/// paths). A passed deadline stops it too (the caller asks the deadline which it was).
pub fn all_paths(
    g: &GraphIndex,
    from: &str,
    to: &str,
    filter: &StepFilter,
    search: PathSearch,
    deadline: &Deadline,
) -> (Vec<Path>, bool) {
    let PathSearch { max_len, limit, ranking, budget } = search;
    let (Some(&s), Some(&t)) = (g.by_id.get(from), g.by_id.get(to)) else { return (Vec::new(), false) };
    if s == t {
        return (vec![Path { start: g.graph[s].clone(), steps: Vec::new(), cost: 0.0 }], false);
    }
    let mut ticker = deadline.ticker();
    let dist = distances_to(g, t, filter, max_len, &mut ticker);
    let degrees = g.degrees();
    let mut found: Vec<(f64, Vec<Hop>)> = Vec::new();
    let mut on_path: HashSet<NodeIndex> = HashSet::from([s]);
    let mut stack: Vec<Hop> = Vec::new();
    let mut expansions = 0usize;
    let mut truncated = false;

    #[allow(clippy::too_many_arguments)]
    fn dfs(
        g: &GraphIndex,
        n: NodeIndex,
        t: NodeIndex,
        f: &StepFilter,
        max_len: usize,
        dist: &FastMap<NodeIndex, usize>,
        on_path: &mut HashSet<NodeIndex>,
        stack: &mut Vec<Hop>,
        found: &mut Vec<(f64, Vec<Hop>)>,
        expansions: &mut usize,
        budget: usize,
        truncated: &mut bool,
        ranking: PathRanking,
        degrees: &[u32],
        ticker: &mut Ticker,
    ) {
        if *expansions >= budget || ticker.tick() {
            *truncated = true;
            return;
        }
        *expansions += 1;
        for (e, m, fw) in neighbours(g, n, f) {
            if on_path.contains(&m) {
                continue;
            }
            let Some(&dm) = dist.get(&m) else { continue };
            if stack.len() + 1 + dm > max_len {
                continue;
            }
            stack.push((e, m, fw));
            if m == t {
                let cost = stack.iter().map(|&(_, x, _)| step_cost(degrees, x, t, ranking)).sum();
                found.push((cost, stack.clone()));
            } else if passable(g, m, f) {
                on_path.insert(m);
                dfs(
                    g, m, t, f, max_len, dist, on_path, stack, found, expansions, budget, truncated, ranking, degrees,
                    ticker,
                );
                on_path.remove(&m);
            }
            stack.pop();
        }
    }
    dfs(
        g,
        s,
        t,
        filter,
        max_len,
        &dist,
        &mut on_path,
        &mut stack,
        &mut found,
        &mut expansions,
        budget,
        &mut truncated,
        ranking,
        &degrees,
        &mut ticker,
    );
    found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.len().cmp(&b.1.len())));
    found.truncate(limit);
    let paths = found
        .into_iter()
        .map(|(cost, steps)| Path {
            start: g.graph[s].clone(),
            steps: steps
                .into_iter()
                .map(|(e, m, forward)| Step { relation: g.relation_at(e), forward, entity: g.graph[m].clone() })
                .collect(),
            cost,
        })
        .collect();
    (paths, truncated)
}

/// An entity both `a` and `b` are directly related to, with the relations on each side.
#[derive(Debug, Clone)]
pub struct Common {
    pub entity: Arc<Entity>,
    pub via_a: Vec<Arc<Relation>>,
    pub via_b: Vec<Arc<Relation>>,
}

/// The entities both `a` and `b` are directly related to (in either direction), most
/// specific (lowest degree) first.
pub fn common_neighbours(g: &GraphIndex, a: &str, b: &str, filter: &StepFilter) -> Vec<Common> {
    let (Some(&na), Some(&nb)) = (g.by_id.get(a), g.by_id.get(b)) else { return Vec::new() };
    let undirected = StepFilter { directed: false, ..filter.clone() };
    let collect = |n: NodeIndex| {
        let mut m: HashMap<NodeIndex, Vec<Arc<Relation>>> = HashMap::new();
        for (e, other, _) in neighbours(g, n, &undirected) {
            if other != na && other != nb && passable(g, other, filter) {
                m.entry(other).or_default().push(g.relation_at(e));
            }
        }
        m
    };
    let (ma, mut mb) = (collect(na), collect(nb));
    let mut out: Vec<Common> = ma
        .into_iter()
        .filter_map(|(n, via_a)| mb.remove(&n).map(|via_b| Common { entity: g.graph[n].clone(), via_a, via_b }))
        .collect();
    for c in &mut out {
        c.via_a.sort_by(|x, y| x.id.cmp(&y.id));
        c.via_b.sort_by(|x, y| x.id.cmp(&y.id));
    }
    out.sort_by_key(|c| {
        (g.by_id.get(c.entity.id.as_str()).map(|&n| degree_of(g, n)).unwrap_or(0), c.entity.slug.to_string())
    });
    out
}

/// A set of node indices as a bitset; `clear` costs what was inserted, not the whole set.
struct Marks {
    bits: Vec<u64>,
    touched: Vec<usize>,
}

impl Marks {
    fn new(bound: usize) -> Marks {
        Marks { bits: vec![0; bound.div_ceil(64)], touched: Vec::new() }
    }
    /// Adds `n`; true if it was not there yet.
    fn insert(&mut self, n: NodeIndex) -> bool {
        let (w, b) = (n.index() / 64, 1u64 << (n.index() % 64));
        let Some(word) = self.bits.get_mut(w) else { return false };
        if *word & b != 0 {
            return false;
        }
        if *word == 0 {
            self.touched.push(w);
        }
        *word |= b;
        true
    }
    fn contains(&self, n: NodeIndex) -> bool {
        self.bits.get(n.index() / 64).is_some_and(|w| w & (1u64 << (n.index() % 64)) != 0)
    }
    fn clear(&mut self) {
        for w in self.touched.drain(..) {
            self.bits[w] = 0;
        }
    }
}

/// A sub-graph ready to draw.
#[derive(Debug, Clone, Default)]
pub struct Neighbourhood {
    /// Each node with its hop distance from the centre and, when some of its neighbours were
    /// left out by the cap, how many of each kind.
    pub nodes: Vec<(Arc<Entity>, usize, BTreeMap<EntityKind, usize>)>,
    pub edges: Vec<Arc<Relation>>,
}

/// The entities within `depth` relations of `center`, at most `limit` of them (nearest first,
/// then best connected), every allowed relation among them, and, with `count_omitted`, for each
/// node the counts by kind of the neighbours the cap left out.
pub fn neighbourhood(
    g: &GraphIndex,
    center: &str,
    depth: usize,
    limit: usize,
    filter: &StepFilter,
    count_omitted: bool,
    deadline: &Deadline,
) -> Option<Neighbourhood> {
    let &c = g.by_id.get(center)?;
    let mut ticker = deadline.ticker();
    let limit = limit.max(1);
    let undirected = StepFilter { directed: false, ..filter.clone() };
    let degrees = g.degrees();
    let degree = |n: NodeIndex| degrees.get(n.index()).copied().unwrap_or(0);
    // Within a ring, the best-connected first (they lead somewhere: the strategies and people
    // around IOM rather than its 180 country offices), then by slug: stable.
    // A ring through a hub visits tens of thousands of entities: mark them in bitsets over the
    // node indices rather than hash sets (most of the time of a 2-hop neighbourhood at 1M).
    let bound = petgraph::visit::NodeIndexable::node_bound(&g.graph);
    let mut visited = Marks::new(bound);
    visited.insert(c);
    let mut order: Vec<(NodeIndex, usize)> = vec![(c, 0)];
    let mut frontier = vec![c];
    for d in 1..=depth {
        // Enough for the picture: a further ring would only be cut off again.
        if order.len() >= limit {
            break;
        }
        let mut next: Vec<NodeIndex> = Vec::new();
        for &n in &frontier {
            if ticker.tick() {
                return None;
            }
            if n != c && !passable(g, n, filter) {
                continue;
            }
            for (_, m, _) in neighbours(g, n, &undirected) {
                if (m == c || passable(g, m, filter) || d == 1) && visited.insert(m) {
                    next.push(m);
                }
            }
        }
        // Of a ring of thousands the cap keeps a few: pick those in linear time, sort only them.
        // Each degree is read once, into the array being selected, not at every comparison.
        let room = limit - order.len();
        let mut ring: Vec<(u32, NodeIndex)> = next.iter().map(|&n| (degree(n), n)).collect();
        let better = |a: &(u32, NodeIndex), b: &(u32, NodeIndex)| {
            b.0.cmp(&a.0).then_with(|| g.graph[a.1].slug.as_str().cmp(g.graph[b.1].slug.as_str()))
        };
        if ring.len() > room {
            // By degree alone first (no slug read, which is a pointer chase per comparison), then
            // by slug only among the entities tied at the cut.
            ring.select_nth_unstable_by(room - 1, |a, b| b.0.cmp(&a.0));
            let cut = ring[room - 1].0;
            let mut tied: Vec<(u32, NodeIndex)> = ring.iter().copied().filter(|x| x.0 == cut).collect();
            ring.retain(|x| x.0 > cut);
            let wanted = room - ring.len();
            if tied.len() > wanted {
                tied.select_nth_unstable_by(wanted - 1, better);
                tied.truncate(wanted);
            }
            ring.extend(tied);
        }
        ring.sort_unstable_by(better);
        order.extend(ring.iter().map(|&(_, n)| (n, d)));
        frontier = ring.into_iter().map(|(_, n)| n).collect();
    }
    let mut kept = Marks::new(bound);
    for &(n, _) in &order {
        kept.insert(n);
    }
    let mut out = Neighbourhood::default();
    let mut edges: Vec<Arc<Relation>> = Vec::new();
    if !count_omitted {
        // Each relation among kept entities is found once from its source. The kept ring-2
        // entities are the best connected, and most of a hub's relations point at it: reading
        // only outgoing lists skips the hubs' long incoming ones (a second walk through every
        // kept hub's neighbours was a fifth of a 2-hop neighbourhood at 1M).
        for &(n, d) in &order {
            for e in g.graph.edges_directed(n, PgDirection::Outgoing) {
                if allowed(g, filter, e.id(), e.weight().kind) && kept.contains(e.target()) {
                    edges.push(g.relation_at(e.id()));
                }
            }
            out.nodes.push((g.graph[n].clone(), d, BTreeMap::new()));
        }
        edges.sort_by(|a, b| a.id.cmp(&b.id));
        out.edges = edges;
        return Some(out);
    }
    // One pass over each kept entity's relations: those to another kept entity are drawn (each
    // once, from its source side), the others counted, by kind, as what the cap left out.
    let mut seen = Marks::new(bound);
    for &(n, d) in &order {
        // Counted by kind in an array, made a map once per node, not once per neighbour.
        let mut counts = [0usize; EntityKind::ALL.len()];
        seen.clear();
        for (e, m, forward) in neighbours(g, n, &undirected) {
            if kept.contains(m) {
                if forward {
                    edges.push(g.relation_at(e));
                }
            } else if seen.insert(m) {
                counts[g.kind_of(m) as usize] += 1;
            }
        }
        let omitted: BTreeMap<EntityKind, usize> =
            EntityKind::ALL.iter().zip(counts).filter(|&(_, c)| c > 0).map(|(&k, c)| (k, c)).collect();
        out.nodes.push((g.graph[n].clone(), d, omitted));
    }
    edges.sort_by(|a, b| a.id.cmp(&b.id));
    out.edges = edges;
    Some(out)
}

/// One dated item of a timeline.
#[derive(Debug, Clone)]
pub enum TimelineItem {
    /// An entity's own date (an event, a signed order, a founding).
    Entity { date: PartialDate, entity: Arc<Entity>, end: bool },
    /// A relation's start or end.
    Relation { date: PartialDate, relation: Arc<Relation>, end: bool },
}

impl TimelineItem {
    pub fn date(&self) -> PartialDate {
        match self {
            TimelineItem::Entity { date, .. } | TimelineItem::Relation { date, .. } => *date,
        }
    }
    fn key(&self) -> (PartialDate, u8, String) {
        match self {
            TimelineItem::Entity { date, entity, end } => (*date, u8::from(*end), entity.id.clone()),
            TimelineItem::Relation { date, relation, end } => (*date, 2 + u8::from(*end), relation.id.clone()),
        }
    }
}

/// Dated items in date order: for one entity, its own dates, its dated relations and the dates
/// of the entities it is related to; for the whole graph (`None`), every dated entity and
/// relation. Provenance (documents' dates, `mentions`) is left out unless asked for. With
/// `valid`, only relations that may have held in that window are listed, and (for one entity)
/// only the entities they lead to.
pub fn timeline(
    g: &GraphIndex,
    entity: Option<&str>,
    from: Option<PartialDate>,
    to: Option<PartialDate>,
    include_provenance: bool,
    valid: Option<DateWindow>,
    deadline: &Deadline,
) -> Option<Vec<TimelineItem>> {
    let mut ticker = deadline.ticker();
    let mut items = Vec::new();
    let in_range = |d: PartialDate| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t);
    let add_entity = |items: &mut Vec<TimelineItem>, e: &Arc<Entity>| {
        if !include_provenance && e.kind == EntityKind::Document {
            return;
        }
        if let Some(d) = e.date.filter(|&d| in_range(d)) {
            items.push(TimelineItem::Entity { date: d, entity: e.clone(), end: false });
        }
        if let Some(d) = e.extra.end_date.filter(|&d| in_range(d)) {
            items.push(TimelineItem::Entity { date: d, entity: e.clone(), end: true });
        }
    };
    let add_relation = |items: &mut Vec<TimelineItem>, r: &Arc<Relation>| {
        if !include_provenance && r.kind == RelationKind::Mentions {
            return;
        }
        if let Some(d) = r.valid_from.filter(|&d| in_range(d)) {
            items.push(TimelineItem::Relation { date: d, relation: r.clone(), end: false });
        }
        if let Some(d) = r.valid_until.filter(|&d| in_range(d)) {
            items.push(TimelineItem::Relation { date: d, relation: r.clone(), end: true });
        }
    };
    match entity {
        Some(id) => {
            let &n = g.by_id.get(id)?;
            add_entity(&mut items, &g.graph[n]);
            let f = StepFilter { include_provenance, valid, ..StepFilter::default() };
            let mut seen = HashSet::from([n]);
            for (e, m, _) in neighbours(g, n, &f) {
                add_relation(&mut items, &g.relation_at(e));
                if seen.insert(m) {
                    add_entity(&mut items, &g.graph[m]);
                }
            }
        }
        None => {
            for n in g.graph.node_indices() {
                if ticker.tick() {
                    return None;
                }
                add_entity(&mut items, &g.graph[n]);
            }
            // Only dated relations are copied out of the index.
            for e in g.graph.edge_indices() {
                if ticker.tick() {
                    return None;
                }
                let d = g.data(e);
                let dated = d.rest.as_ref().is_some_and(|r| r.valid_from.is_some() || r.valid_until.is_some());
                if dated && valid.as_ref().is_none_or(|w| d.valid_in(w)) {
                    add_relation(&mut items, &g.relation_at(e));
                }
            }
        }
    }
    items.sort_by_key(|a| a.key());
    Some(items)
}

/// Degree and PageRank of every entity, computed together on a compact copy of the graph.
#[derive(Debug, Clone, Default)]
pub struct Rankings {
    pub degree: HashMap<String, usize>,
    pub pagerank: HashMap<String, f64>,
}

/// Degree (relations other than `mentions`) and PageRank (damping 0.85, relations taken in both
/// directions, `mentions` left out, dangling rank spread evenly; iterated to a change below
/// 1e-10 or 100 rounds). O(rounds × relations), on a compact index so holes in the stable graph
/// do not skew it.
pub fn rankings(g: &GraphIndex) -> Rankings {
    let nodes: Vec<NodeIndex> = g.graph.node_indices().collect();
    let n = nodes.len();
    if n == 0 {
        return Rankings::default();
    }
    let pos: HashMap<NodeIndex, usize> = nodes.iter().enumerate().map(|(i, &x)| (x, i)).collect();
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in (&g.graph).edge_references() {
        if e.weight().kind == RelationKind::Mentions {
            continue;
        }
        let (a, b) = (pos[&e.source()], pos[&e.target()]);
        adj[a].push(b);
        if a != b {
            adj[b].push(a);
        }
    }
    let d = 0.85;
    let mut rank = vec![1.0 / n as f64; n];
    for _ in 0..100 {
        let dangling: f64 = (0..n).filter(|&i| adj[i].is_empty()).map(|i| rank[i]).sum();
        let base = (1.0 - d) / n as f64 + d * dangling / n as f64;
        let mut next = vec![base; n];
        for i in 0..n {
            if !adj[i].is_empty() {
                let share = d * rank[i] / adj[i].len() as f64;
                for &j in &adj[i] {
                    next[j] += share;
                }
            }
        }
        let delta: f64 = next.iter().zip(&rank).map(|(a, b)| (a - b).abs()).sum();
        rank = next;
        if delta < 1e-10 {
            break;
        }
    }
    let mut out = Rankings::default();
    for (i, &node) in nodes.iter().enumerate() {
        let id = g.graph[node].id.clone();
        out.degree.insert(id.clone(), degree_of(g, node));
        out.pagerank.insert(id, rank[i]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Citation, Slug};

    fn e(slug: &str, kind: EntityKind, date: Option<&str>) -> Entity {
        Entity {
            id: slug.into(),
            slug: Slug::parse(slug).unwrap(),
            kind,
            subtype: None,
            name: slug.into(),
            aliases: vec![],
            summary: None,
            date: date.map(|d| PartialDate::parse(d).unwrap()),
            extra: Default::default(),
            version: 1,
        }
    }

    fn r(kind: RelationKind, from: &str, to: &str) -> Relation {
        Relation {
            id: format!("{}:{from}:{to}", kind.as_str()),
            kind,
            from: from.into(),
            to: to.into(),
            title: None,
            order: None,
            valid_from: None,
            valid_until: None,
            quantities: vec![],
            citations: vec![Citation { document: "doc".into(), quote: None }],
            version: 1,
        }
    }

    /// a — hub — b (the hub also has 40 leaf offices), a — x — y — b, and a document mentioning
    /// a and b.
    ///
    /// Fewest hops: a-hub-b (2). Avoiding hubs: a-x-y-b costs (1+ln 3) + (1+ln 3) + 1 ≈ 5.20
    /// (x and y have two relations each), a-hub-b costs (1+ln 43) + 1 ≈ 5.76, so the longer,
    /// specific path ranks first. With 20 leaves the hub path would cost 5.14 and still win.
    fn graph() -> GraphIndex {
        let mut es = vec![
            e("a", EntityKind::Person, Some("2021-02-04")),
            e("b", EntityKind::Policy, Some("2021-02-02")),
            e("hub", EntityKind::Organization, Some("1951")),
            e("x", EntityKind::Office, None),
            e("y", EntityKind::Event, Some("2023-07-25")),
            e("doc", EntityKind::Document, Some("2021-02-04")),
        ];
        let mut rs = vec![
            r(RelationKind::HoldsRole, "a", "hub"),
            r(RelationKind::Issued, "hub", "b"),
            r(RelationKind::PartOf, "a", "x"),
            r(RelationKind::LocatedIn, "y", "x"),
            r(RelationKind::Concerns, "y", "b"),
            r(RelationKind::Mentions, "doc", "a"),
            r(RelationKind::Mentions, "doc", "b"),
        ];
        for i in 0..40 {
            let leaf = format!("leaf-{i}");
            es.push(e(&leaf, EntityKind::Office, None));
            rs.push(r(RelationKind::OfficeOf, &leaf, "hub"));
        }
        GraphIndex::build(es, rs, 1).unwrap()
    }

    fn slugs(p: &Path) -> Vec<String> {
        std::iter::once(p.start.id.clone()).chain(p.steps.iter().map(|s| s.entity.id.clone())).collect()
    }

    #[test]
    fn fewest_hops_goes_through_the_hub_and_avoid_hubs_does_not() {
        let g = graph();
        let f = StepFilter::default();
        let p = shortest_path(&g, "a", "b", &f, 6, PathRanking::FewestHops, &Deadline::NONE).unwrap();
        assert_eq!(slugs(&p), ["a", "hub", "b"]);
        assert!(p.steps[0].forward && p.steps[1].forward);
        let p = shortest_path(&g, "a", "b", &f, 6, PathRanking::AvoidHubs, &Deadline::NONE).unwrap();
        assert_eq!(slugs(&p), ["a", "x", "y", "b"]);
        assert_eq!((p.steps[0].forward, p.steps[1].forward, p.steps[2].forward), (true, false, true));
        // A length cap that only the hub path fits.
        let p = shortest_path(&g, "a", "b", &f, 2, PathRanking::AvoidHubs, &Deadline::NONE).unwrap();
        assert_eq!(slugs(&p), ["a", "hub", "b"]);
    }

    #[test]
    fn provenance_is_left_out_unless_asked_and_filters_apply() {
        let g = graph();
        let only_mentions = StepFilter { relation_kinds: Some(vec![RelationKind::Mentions]), ..StepFilter::default() };
        assert!(shortest_path(&g, "a", "b", &only_mentions, 6, PathRanking::FewestHops, &Deadline::NONE).is_none());
        let with = StepFilter { include_provenance: true, ..only_mentions };
        assert_eq!(
            slugs(&shortest_path(&g, "a", "b", &with, 6, PathRanking::FewestHops, &Deadline::NONE).unwrap()),
            ["a", "doc", "b"]
        );
        let no_orgs = StepFilter { exclude_entity_kinds: vec![EntityKind::Organization], ..StepFilter::default() };
        assert_eq!(
            slugs(&shortest_path(&g, "a", "b", &no_orgs, 6, PathRanking::FewestHops, &Deadline::NONE).unwrap()),
            ["a", "x", "y", "b"]
        );
        // Directed: a → hub → b exists; b → a does not.
        let directed = StepFilter { directed: true, ..StepFilter::default() };
        assert!(shortest_path(&g, "a", "b", &directed, 6, PathRanking::FewestHops, &Deadline::NONE).is_some());
        assert!(shortest_path(&g, "b", "a", &directed, 6, PathRanking::FewestHops, &Deadline::NONE).is_none());
    }

    /// Dates a relation of the test graph in place.
    fn date(g: &mut GraphIndex, id: &str, from: Option<&str>, until: Option<&str>) {
        let mut rel = (*g.relation(id).unwrap()).clone();
        rel.valid_from = from.map(|d| PartialDate::parse(d).unwrap());
        rel.valid_until = until.map(|d| PartialDate::parse(d).unwrap());
        g.upsert_relation(rel).unwrap();
    }

    #[test]
    fn searches_follow_only_relations_valid_at_the_date() {
        let mut g = graph();
        // a held the role at the hub in 2020-2022 only; a's part in x began in 2024-05.
        date(&mut g, "holds_role:a:hub", Some("2020"), Some("2022-06"));
        date(&mut g, "part_of:a:x", Some("2024-05"), None);
        let at = |d: &str, strict: bool| StepFilter {
            valid: Some(DateWindow::at(PartialDate::parse(d).unwrap(), strict)),
            ..StepFilter::default()
        };
        let path = |f: &StepFilter| {
            shortest_path(&g, "a", "b", f, 6, PathRanking::FewestHops, &Deadline::NONE).map(|p| slugs(&p))
        };
        assert_eq!(path(&at("2021-03-01", false)).unwrap(), ["a", "hub", "b"]);
        // After the role ended, only the later part_of leads on (its start's month counts).
        assert_eq!(path(&at("2024-05-10", false)).unwrap(), ["a", "x", "y", "b"]);
        assert_eq!(path(&at("2024", false)).unwrap(), ["a", "x", "y", "b"]);
        // Before either: none. Strict: the undated steps past them are not taken either.
        assert!(path(&at("2019", false)).is_none());
        assert!(path(&at("2021", true)).is_none());
        // The same filter in the all-paths search, the pruning distances and neighbourhoods.
        let search = PathSearch { max_len: 4, limit: 10, ranking: PathRanking::FewestHops, budget: 10_000 };
        let (paths, _) = all_paths(&g, "a", "b", &at("2021", false), search, &Deadline::NONE);
        assert_eq!(paths.iter().map(slugs).collect::<Vec<_>>(), [["a", "hub", "b"]]);
        let n = neighbourhood(&g, "a", 1, 10, &at("2023", false), false, &Deadline::NONE).unwrap();
        let ids: Vec<&str> = n.nodes.iter().map(|(e, _, _)| e.id.as_str()).collect();
        assert_eq!(ids, ["a"], "neither relation of a held in 2023: {ids:?}");
        // Timelines list only the relations valid then.
        let t = timeline(
            &g,
            Some("a"),
            None,
            None,
            false,
            Some(DateWindow::at(PartialDate::parse("2021").unwrap(), false)),
            &Deadline::NONE,
        )
        .unwrap();
        let relations: Vec<String> = t
            .iter()
            .filter_map(|i| match i {
                TimelineItem::Relation { relation, .. } => Some(relation.id.clone()),
                TimelineItem::Entity { .. } => None,
            })
            .collect();
        assert_eq!(relations, ["holds_role:a:hub", "holds_role:a:hub"]);
    }

    #[test]
    fn all_simple_paths_best_first() {
        let g = graph();
        let (paths, truncated) = all_paths(
            &g,
            "a",
            "b",
            &StepFilter::default(),
            PathSearch { max_len: 4, limit: 10, ranking: PathRanking::FewestHops, budget: 10_000 },
            &Deadline::NONE,
        );
        assert!(!truncated);
        let got: Vec<Vec<String>> = paths.iter().map(slugs).collect();
        assert_eq!(got, vec![vec!["a", "hub", "b"], vec!["a", "x", "y", "b"]]);
        let (paths, _) = all_paths(
            &g,
            "a",
            "b",
            &StepFilter::default(),
            PathSearch { max_len: 4, limit: 10, ranking: PathRanking::AvoidHubs, budget: 10_000 },
            &Deadline::NONE,
        );
        assert_eq!(slugs(&paths[0]), ["a", "x", "y", "b"]);
        let (paths, _) = all_paths(
            &g,
            "a",
            "b",
            &StepFilter::default(),
            PathSearch { max_len: 2, limit: 10, ranking: PathRanking::AvoidHubs, budget: 10_000 },
            &Deadline::NONE,
        );
        assert_eq!(paths.len(), 1);
        let (_, truncated) = all_paths(
            &g,
            "a",
            "b",
            &StepFilter::default(),
            PathSearch { max_len: 4, limit: 10, ranking: PathRanking::AvoidHubs, budget: 1 },
            &Deadline::NONE,
        );
        assert!(truncated);
    }

    #[test]
    fn common_neighbours_and_capped_neighbourhoods() {
        let g = graph();
        let c = common_neighbours(&g, "a", "y", &StepFilter::default());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].entity.id, "x");
        assert_eq!((c[0].via_a[0].id.as_str(), c[0].via_b[0].id.as_str()), ("part_of:a:x", "located_in:y:x"));
        let n = neighbourhood(&g, "hub", 1, 5, &StepFilter::default(), true, &Deadline::NONE).unwrap();
        assert_eq!(n.nodes.len(), 5);
        assert_eq!(n.nodes[0].0.id, "hub");
        // The hub has 42 neighbours; 4 are shown, so 38 are counted as left out.
        let left: usize = n.nodes[0].2.values().sum();
        assert_eq!(left, 38);
        assert!(n.edges.iter().all(|r| r.to == "hub" || r.from == "hub"));
        assert_eq!(n.edges.len(), 4);
    }

    /// The cost of the cheapest path by a plain one-sided Dijkstra, with no bounds.
    fn reference_cost(g: &GraphIndex, s: NodeIndex, t: NodeIndex, f: &StepFilter, degrees: &[u32]) -> Option<f64> {
        let mut best: FastMap<NodeIndex, f64> = FastMap::from_iter([(s, 0.0)]);
        let mut heap = BinaryHeap::from([Queued { cost: 0.0, hops: 0, node: s }]);
        while let Some(Queued { cost, node, .. }) = heap.pop() {
            if node == t {
                return Some(cost);
            }
            if best[&node] < cost || (node != s && !passable(g, node, f)) {
                continue;
            }
            for (_, m, _) in neighbours(g, node, f) {
                let c = cost + step_cost(degrees, m, t, PathRanking::AvoidHubs);
                if best.get(&m).is_none_or(|&b| c < b) {
                    best.insert(m, c);
                    heap.push(Queued { cost: c, hops: 0, node: m });
                }
            }
        }
        None
    }

    #[test]
    fn the_two_sided_weighed_search_finds_the_cheapest_path() {
        let (es, rs) = crate::synthetic::generate(3_000, 9_000, 5);
        let g = GraphIndex::build(es, rs, 1).unwrap();
        let degrees = g.degrees();
        let nodes: Vec<NodeIndex> = g.graph.node_indices().collect();
        let filters = [
            StepFilter::default(),
            StepFilter { directed: true, ..StepFilter::default() },
            StepFilter { exclude_entity_kinds: vec![EntityKind::Organization], ..StepFilter::default() },
            StepFilter { include_provenance: true, ..StepFilter::default() },
        ];
        let (mut found, mut none) = (0, 0);
        for (i, f) in filters.iter().enumerate() {
            for k in 0..60 {
                let (s, t) = (nodes[(k * 37 + i) % nodes.len()], nodes[(k * 1009 + 500) % nodes.len()]);
                if s == t {
                    continue;
                }
                let expected = reference_cost(&g, s, t, f, &degrees);
                let got = avoid_hubs(&g, s, t, f, 100, &degrees, usize::MAX, &mut Deadline::NONE.ticker());
                match (expected, got) {
                    (None, None) => none += 1,
                    (Some(e), Some((hops, cost))) => {
                        found += 1;
                        assert!((e - cost).abs() < 1e-9, "filter {i}, pair {k}: {cost} against {e}");
                        // The steps are a real path from s to t, and they cost what was said.
                        let mut at = s;
                        let mut sum = 0.0;
                        for &(e, m, fw) in &hops {
                            let (a, b) = g.graph.edge_endpoints(e).unwrap();
                            assert_eq!(if fw { (a, b) } else { (b, a) }, (at, m));
                            assert!(!f.directed || fw);
                            assert!(m == t || passable(&g, m, f));
                            sum += step_cost(&degrees, m, t, PathRanking::AvoidHubs);
                            at = m;
                        }
                        assert_eq!(at, t);
                        assert!((sum - cost).abs() < 1e-9);
                    }
                    (e, got) => panic!("filter {i}, pair {k}: expected {e:?}, got {:?}", got.map(|g| g.1)),
                }
            }
        }
        assert!(found > 150 && none > 0, "{found} paths, {none} without one");
    }

    /// A passed deadline stops a search at its next check (every 256 steps), whatever is left
    /// to explore: the searches a request starts give its thread back at its time limit. (A
    /// search that ends within one interval may still answer; the caller asks the deadline.)
    #[test]
    fn a_passed_deadline_stops_every_search() {
        let (es, rs) = crate::synthetic::generate(3_000, 15_000, 17);
        let g = GraphIndex::build(es, rs, 1).unwrap();
        let ids: Vec<String> = g.graph.node_indices().map(|n| g.graph[n].id.clone()).collect();
        let (from, to) = (&ids[3], &ids[ids.len() - 2]);
        let f = StepFilter::default();
        let passed = Deadline::after(std::time::Duration::ZERO);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let search = PathSearch { max_len: 5, limit: 50, ranking: PathRanking::AvoidHubs, budget: 50_000 };
        // Without a deadline, this search expands far more than one ticker interval of nodes...
        let (all, _) = all_paths(&g, from, to, &f, search, &Deadline::NONE);
        assert!(!all.is_empty());
        // ...and stopped by the deadline it gives up at its first check.
        let (cut, _) = all_paths(&g, from, to, &f, search, &passed);
        assert!(cut.len() < all.len(), "{} paths despite a passed deadline", cut.len());
    }

    /// c's ring 1 is a (six relations, one a loop on itself) and b (tied to c twice); ring 2 is
    /// l1 (tied to a and b), l2 and l3 (a's only), of which a cap of 4 keeps the best-connected.
    #[test]
    fn a_cut_ring_keeps_the_best_connected_then_the_first_slugs() {
        // Many ties in degree: the cut must fall by slug among them, as a full sort would.
        let (es, rs) = crate::synthetic::generate(3_000, 6_000, 11);
        let g = GraphIndex::build(es, rs, 1).unwrap();
        let degrees = g.degrees();
        let f = StepFilter::default();
        let mut compared = 0;
        for centre in g.graph.node_indices().step_by(97).take(20) {
            let id = g.graph[centre].id.clone();
            let got = neighbourhood(&g, &id, 2, 40, &f, true, &Deadline::NONE).unwrap();
            // Without the counts (read only outgoing lists): the same nodes and edges, under
            // other filters too.
            for f in [
                f.clone(),
                StepFilter { include_provenance: true, ..f.clone() },
                StepFilter {
                    relation_kinds: Some(vec![RelationKind::OfficeOf, RelationKind::PartOf, RelationKind::Mentions]),
                    ..f.clone()
                },
            ] {
                let (with, without) = (
                    neighbourhood(&g, &id, 2, 40, &f, true, &Deadline::NONE).unwrap(),
                    neighbourhood(&g, &id, 2, 40, &f, false, &Deadline::NONE).unwrap(),
                );
                let nodes = |n: &Neighbourhood| n.nodes.iter().map(|(e, d, _)| (e.id.clone(), *d)).collect::<Vec<_>>();
                let edges = |n: &Neighbourhood| n.edges.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
                assert_eq!(nodes(&with), nodes(&without), "centre {id}");
                assert_eq!(edges(&with), edges(&without), "centre {id}");
                assert!(without.nodes.iter().all(|(_, _, o)| o.is_empty()));
                compared += with.edges.len();
            }
            // The same rings, each fully sorted by (degree desc, slug) and cut.
            let mut expected: Vec<(String, usize)> = vec![(id.clone(), 0)];
            let mut seen = std::collections::HashSet::from([centre]);
            let mut frontier = vec![centre];
            for d in 1..=2 {
                if expected.len() >= 40 {
                    break;
                }
                let mut ring: Vec<NodeIndex> = Vec::new();
                for &n in &frontier {
                    if n != centre && !passable(&g, n, &f) {
                        continue;
                    }
                    for (_, m, _) in neighbours(&g, n, &StepFilter { directed: false, ..f.clone() }) {
                        if (m == centre || passable(&g, m, &f) || d == 1) && seen.insert(m) {
                            ring.push(m);
                        }
                    }
                }
                ring.sort_by(|a, b| {
                    degrees[b.index()]
                        .cmp(&degrees[a.index()])
                        .then_with(|| g.graph[*a].slug.as_str().cmp(g.graph[*b].slug.as_str()))
                });
                ring.truncate(40 - expected.len());
                expected.extend(ring.iter().map(|&n| (g.graph[n].id.clone(), d)));
                frontier = ring;
            }
            let got: Vec<(String, usize)> = got.nodes.iter().map(|(e, d, _)| (e.id.clone(), *d)).collect();
            assert_eq!(got, expected, "centre {id}");
        }
        assert!(compared > 500, "only {compared} edges compared");
    }

    #[test]
    fn two_hop_neighbourhood_cuts_a_ring_and_counts_each_left_out_neighbour_once() {
        let es = ["c", "a", "b"].map(|s| e(s, EntityKind::Organization, None)).into_iter();
        let es = es.chain(["l1", "l2", "l3"].map(|s| e(s, EntityKind::Office, None))).collect::<Vec<_>>();
        let rs = vec![
            r(RelationKind::PartOf, "c", "a"),
            r(RelationKind::Funds, "c", "b"),
            r(RelationKind::Supports, "b", "c"),
            r(RelationKind::PartnersWith, "a", "a"),
            r(RelationKind::OfficeOf, "l1", "a"),
            r(RelationKind::OfficeOf, "l2", "a"),
            r(RelationKind::OfficeOf, "l3", "a"),
            r(RelationKind::OfficeOf, "l1", "b"),
        ];
        let g = GraphIndex::build(es, rs, 1).unwrap();
        let n = neighbourhood(&g, "c", 2, 4, &StepFilter::default(), true, &Deadline::NONE).unwrap();
        let nodes: Vec<(&str, usize, usize)> =
            n.nodes.iter().map(|(e, d, o)| (e.id.as_str(), *d, o.values().sum::<usize>())).collect();
        assert_eq!(nodes, [("c", 0, 0), ("a", 1, 2), ("b", 1, 0), ("l1", 2, 0)]);
        assert_eq!(n.nodes[1].2.get(&EntityKind::Office), Some(&2));
        let edges: Vec<&str> = n.edges.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            edges,
            ["funds:c:b", "office_of:l1:a", "office_of:l1:b", "part_of:c:a", "partners_with:a:a", "supports:b:c"]
        );
    }

    #[test]
    fn timelines_in_date_order() {
        let g = graph();
        let t = timeline(&g, Some("b"), None, None, false, None, &Deadline::NONE).unwrap();
        let dates: Vec<String> = t.iter().map(|i| i.date().to_string()).collect();
        assert_eq!(dates, ["1951", "2021-02-02", "2023-07-25"]);
        let t = timeline(
            &g,
            None,
            Some(PartialDate::parse("2021").unwrap()),
            Some(PartialDate::parse("2022").unwrap()),
            true,
            None,
            &Deadline::NONE,
        )
        .unwrap();
        let dates: Vec<String> = t.iter().map(|i| i.date().to_string()).collect();
        assert_eq!(dates, ["2021-02-02", "2021-02-04", "2021-02-04"]);
    }

    #[test]
    fn pagerank_sums_to_one_and_ranks_the_hub_first() {
        let g = graph();
        let ranks = rankings(&g);
        let total: f64 = ranks.pagerank.values().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let best = ranks.pagerank.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(best, "hub");
        assert_eq!(ranks.degree["hub"], 42);
        assert_eq!(ranks.degree["a"], 2, "mentions do not count");
        // Two nodes joined by one relation share the rank equally.
        let pair = GraphIndex::build(
            vec![e("p", EntityKind::Person, None), e("q", EntityKind::Person, None)],
            vec![r(RelationKind::PartnersWith, "p", "q")],
            1,
        )
        .unwrap();
        let pr = rankings(&pair).pagerank;
        assert!((pr["p"] - 0.5).abs() < 1e-9 && (pr["q"] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn bidirectional_search_agrees_with_a_plain_breadth_first_search() {
        let (es, rs) = crate::synthetic::generate(400, 1200, 3);
        let g = GraphIndex::build(es, rs, 1).unwrap();
        let f = StepFilter { include_provenance: true, ..StepFilter::default() };
        let ids: Vec<String> = g.entities(None, None).map(|e| e.id.clone()).collect();
        let plain = |s: NodeIndex, t: NodeIndex| -> Option<usize> {
            let mut dist = HashMap::from([(s, 0usize)]);
            let mut q = VecDeque::from([s]);
            while let Some(n) = q.pop_front() {
                if n == t {
                    return Some(dist[&n]);
                }
                for (_, m, _) in neighbours(&g, n, &f) {
                    if !dist.contains_key(&m) {
                        dist.insert(m, dist[&n] + 1);
                        q.push_back(m);
                    }
                }
            }
            None
        };
        for k in 0..200 {
            let (a, b) = (&ids[(k * 37) % ids.len()], &ids[(k * 91 + 5) % ids.len()]);
            let (s, t) = (g.node(a).unwrap(), g.node(b).unwrap());
            let got = fewest_hops(&g, s, t, &f, 50, &mut Deadline::NONE.ticker()).map(|p| p.len());
            assert_eq!(got, plain(s, t), "{a} → {b}");
            if let Some(p) = fewest_hops(&g, s, t, &f, 50, &mut Deadline::NONE.ticker()) {
                // The hops chain: each relation joins the previous node and the next.
                let mut at = s;
                for (e, m, fw) in p {
                    let (x, y) = g.graph.edge_endpoints(e).unwrap();
                    assert_eq!(if fw { (x, y) } else { (y, x) }, (at, m));
                    at = m;
                }
                assert_eq!(at, t);
            }
        }
    }
}
