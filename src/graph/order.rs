//! Sorted and filtered entity lists, and search over names, summaries and quotes.
//!
//! Why it is shaped this way: a page of a sorted list must not sort the graph per request (at 1M
//! entities that is a second), so each order reads an index kept sorted by that order: the
//! slug B-trees of [`GraphIndex`], a name B-tree keyed by (normalized name, slug), a date B-tree
//! keyed by (packed date, slug), and for degree and PageRank a sorted copy of the cached
//! rankings, made on first use after a change as the rankings are. A page walks its order's index
//! from the cursor and stops once it has one entity more than asked; filters that an index cannot
//! answer are checked on the way. Two filters bound the candidates so well that they are read
//! first and only their entities sorted: `relatedTo` (an entity's neighbours) and `namePrefix`
//! (a range of the name B-tree), unless the order itself is by name.
//!
//! **Invariant:** the name and date B-trees hold exactly one entry per live entity, keyed by its
//! current name and date; `place_entity` and `remove_entity` keep them so, and a load builds
//! them from sorted lists. The rank order is `None` whenever the rankings are.
//!
//! Every order is total: ties are broken by slug, and a descending order reverses the whole
//! order (ties included), except that undated entities come last in both directions by date.

use std::cmp::Ordering;
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::sync::Arc;

use foldhash::HashSet;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction as PgDirection;

use super::{normalize, score as name_score, GraphIndex};
use crate::deadline::Ticker;
use crate::domain::{Entity, EntityKind, PartialDate, RelationKind};

/// The most candidates a bounding filter sorts; past it, the order's index is walked instead.
/// (Small under test, so that the unit tests take both ways on a small graph.)
pub const MAX_CANDIDATES: usize = if cfg!(test) { 16 } else { 4_096 };
/// The same for `namePrefix` under another order than the name's. Its range is read straight
/// from the name index, and walking the other order instead is only quick when matches come
/// early in it: slugs are made from names, so a prefix's entities sit together in slug order and
/// a late prefix walked most of the graph (47 ms at 1M entities for a twentieth of them, against
/// a few ms to read and sort them). Past this many, the walk is the lesser cost.
pub const MAX_PREFIX_CANDIDATES: usize = if cfg!(test) { 16 } else { 65_536 };

/// The date key of an entity without a date: after every date.
pub const UNDATED: u32 = u32::MAX;

/// A date as one number that sorts as [`PartialDate`] does: `2024` before `2024-01` before
/// `2024-01-01` (a missing month or day is 0).
pub fn pack_date(d: Option<PartialDate>) -> u32 {
    match d {
        None => UNDATED,
        Some(d) => {
            // A month or day is given exactly when the first and last day the date may mean
            // agree on it; 0 when not given, so that a year sorts before its first month.
            let ((y, m1, d1), (_, m2, d2)) = (d.first_day(), d.last_day());
            let m = if m1 == m2 { u32::from(m1) } else { 0 };
            let day = if m1 == m2 && d1 == d2 { u32::from(d1) } else { 0 };
            ((y as u32) << 16) | (m << 8) | day
        }
    }
}

/// What a sorted list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    Slug,
    Name,
    Date,
    Degree,
    PageRank,
}

/// An entity's place in an order, besides its slug: what a cursor holds.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Slug,
    /// The normalized name.
    Name(Arc<str>),
    /// [`pack_date`] of the entity's date.
    Date(u32),
    Degree(u32),
    PageRank(f64),
}

impl SortKey {
    fn cmp_same(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Name(a), SortKey::Name(b)) => a.cmp(b),
            (SortKey::Date(a), SortKey::Date(b)) => a.cmp(b),
            (SortKey::Degree(a), SortKey::Degree(b)) => a.cmp(b),
            (SortKey::PageRank(a), SortKey::PageRank(b)) => a.total_cmp(b),
            _ => Ordering::Equal,
        }
    }

    pub fn field(&self) -> OrderField {
        match self {
            SortKey::Slug => OrderField::Slug,
            SortKey::Name(_) => OrderField::Name,
            SortKey::Date(_) => OrderField::Date,
            SortKey::Degree(_) => OrderField::Degree,
            SortKey::PageRank(_) => OrderField::PageRank,
        }
    }
}

/// Where a page starts: after this key and slug, in the page's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub key: SortKey,
    pub slug: String,
}

/// How `a` compares with `b` in the order asked (both keys of the same field).
pub fn cmp_in_order(a: (&SortKey, &str), b: (&SortKey, &str), desc: bool) -> Ordering {
    let base = a.0.cmp_same(b.0).then_with(|| a.1.cmp(b.1));
    let base = if desc { base.reverse() } else { base };
    match (a.0, b.0) {
        // Undated last in both directions.
        (SortKey::Date(x), SortKey::Date(y)) => (*x == UNDATED).cmp(&(*y == UNDATED)).then(base),
        _ => base,
    }
}

/// Which entities a list holds. Text values are normalized (see [`normalize`]) by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityFilter {
    pub kinds: Option<Vec<EntityKind>>,
    /// Normalized sub-types (`Entity.type`).
    pub types: Option<Vec<String>>,
    /// A normalized prefix of the normalized name; never empty.
    pub name_prefix: Option<String>,
    /// Entities whose date may fall on or after this date's first day.
    pub date_from: Option<PartialDate>,
    /// Entities whose date may fall on or before this date's last day.
    pub date_to: Option<PartialDate>,
    /// An entity ID: only its neighbours (by relations in either direction).
    pub related_to: Option<String>,
    /// With `related_to`: only by these kinds of relation.
    pub related_by: Option<Vec<RelationKind>>,
}

impl EntityFilter {
    fn is_empty(&self) -> bool {
        *self == EntityFilter { kinds: self.kinds.clone(), ..EntityFilter::default() }
    }
}

/// A page of a sorted list: each entity with its sort key.
pub struct SortedPage<'g> {
    pub items: Vec<(SortKey, &'g Arc<Entity>)>,
    pub has_next: bool,
    pub has_previous: bool,
}

/// Degree and PageRank orders, ascending by (value, slug), by node.
#[derive(Default)]
pub struct RankOrder {
    degree: Vec<(u32, NodeIndex)>,
    pagerank: Vec<(f64, NodeIndex)>,
}

/// A filter prepared against one index: the related set resolved.
struct Prepared<'f> {
    f: &'f EntityFilter,
    related: Option<HashSet<NodeIndex>>,
    from: Option<(i32, u8, u8)>,
    to: Option<(i32, u8, u8)>,
}

type Nodes<'a> = Box<dyn Iterator<Item = NodeIndex> + 'a>;

impl GraphIndex {
    /// Adds an entity's entries to the name and date B-trees.
    pub(super) fn index_order(&mut self, node: NodeIndex, slug: &Arc<str>) {
        let e = &self.graph[node].entity;
        let name: Arc<str> = normalize(&e.name).into();
        let date = pack_date(e.date);
        self.by_name.insert((name, slug.clone()), node);
        self.by_date.insert((date, slug.clone()), node);
    }

    /// Takes an entity's entries out of the name and date B-trees.
    pub(super) fn unindex_order(&mut self, e: &Entity) {
        let name: Arc<str> = normalize(&e.name).into();
        let slug: Arc<str> = e.slug.as_str().into();
        self.by_name.remove(&(name, slug.clone()));
        self.by_date.remove(&(pack_date(e.date), slug));
    }

    /// The degree and PageRank orders, current with the graph (made from the cached rankings).
    pub fn rank_order(&self) -> Arc<RankOrder> {
        if let Some(o) = self.rank_order.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return o.clone();
        }
        let r = self.rankings();
        let slug = |n: NodeIndex| self.graph[n].slug.as_str();
        let mut degree: Vec<(u32, NodeIndex)> = self
            .graph
            .node_indices()
            .map(|n| (r.degree.get(&self.graph[n].id).copied().unwrap_or(0) as u32, n))
            .collect();
        degree.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| slug(a.1).cmp(slug(b.1))));
        let mut pagerank: Vec<(f64, NodeIndex)> =
            self.graph.node_indices().map(|n| (r.pagerank.get(&self.graph[n].id).copied().unwrap_or(0.0), n)).collect();
        pagerank.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then_with(|| slug(a.1).cmp(slug(b.1))));
        let order = Arc::new(RankOrder { degree, pagerank });
        let mut cached = self.rank_order.lock().unwrap_or_else(|e| e.into_inner());
        // Only if nothing changed meanwhile: a change takes the write lock, so none can have.
        *cached = Some(order.clone());
        order
    }

    /// An entity's key in an order.
    pub fn sort_key(&self, e: &Entity, order: OrderField) -> SortKey {
        match order {
            OrderField::Slug => SortKey::Slug,
            OrderField::Name => SortKey::Name(normalize(&e.name).into()),
            OrderField::Date => SortKey::Date(pack_date(e.date)),
            OrderField::Degree => SortKey::Degree(self.rankings().degree.get(&e.id).copied().unwrap_or(0) as u32),
            OrderField::PageRank => SortKey::PageRank(self.rankings().pagerank.get(&e.id).copied().unwrap_or(0.0)),
        }
    }

    /// A node's key, with the rankings read once per page rather than once per entity.
    fn node_key(&self, n: NodeIndex, order: OrderField, ranks: Option<&super::algo::Rankings>) -> SortKey {
        let id = &self.graph[n].entity.id;
        match (order, ranks) {
            (OrderField::Degree, Some(r)) => SortKey::Degree(r.degree.get(id).copied().unwrap_or(0) as u32),
            (OrderField::PageRank, Some(r)) => SortKey::PageRank(r.pagerank.get(id).copied().unwrap_or(0.0)),
            _ => self.sort_key(&self.graph[n].entity, order),
        }
    }

    fn prepare<'f>(&self, f: &'f EntityFilter) -> Prepared<'f> {
        let related = f.related_to.as_deref().map(|id| {
            let mut set = HashSet::default();
            if let Some(&node) = self.by_id.get(id) {
                for d in [PgDirection::Outgoing, PgDirection::Incoming] {
                    for e in self.graph.edges_directed(node, d) {
                        if f.related_by.as_ref().is_none_or(|ks| ks.contains(&e.weight().kind)) {
                            set.insert(if d == PgDirection::Outgoing { e.target() } else { e.source() });
                        }
                    }
                }
            }
            set
        });
        Prepared { f, related, from: f.date_from.map(|d| d.first_day()), to: f.date_to.map(|d| d.last_day()) }
    }

    fn matches(&self, n: NodeIndex, p: &Prepared<'_>) -> bool {
        let f = p.f;
        if f.kinds.as_ref().is_some_and(|ks| !ks.contains(&self.kinds[n.index()])) {
            return false;
        }
        if p.related.as_ref().is_some_and(|s| !s.contains(&n)) {
            return false;
        }
        let e = &self.graph[n].entity;
        if let Some(prefix) = &f.name_prefix {
            if !self.keys[n.index()].first().is_some_and(|k| k.starts_with(prefix.as_str())) {
                return false;
            }
        }
        if let Some(types) = &f.types {
            if !e.subtype.as_deref().is_some_and(|t| types.contains(&normalize(t))) {
                return false;
            }
        }
        if p.from.is_some() || p.to.is_some() {
            let Some(d) = e.date else { return false };
            // A partial date stands for every day it may mean: it matches when any of them is in range.
            if p.from.is_some_and(|from| d.last_day() < from) || p.to.is_some_and(|to| d.first_day() > to) {
                return false;
            }
        }
        true
    }

    /// The nodes of an order's index, in the order asked, after `after`, narrowed by what the index can answer; the rest is filtered by the caller.
    fn ordered<'a>(
        &'a self,
        f: &EntityFilter,
        order: OrderField,
        desc: bool,
        after: Option<&Position>,
        ranks: Option<&'a RankOrder>,
    ) -> Nodes<'a> {
        match order {
            OrderField::Slug => {
                let map = match f.kinds.as_deref() {
                    Some([k]) => match self.by_kind.get(k) {
                        Some(m) => m,
                        None => return Box::new(std::iter::empty()),
                    },
                    _ => &self.all_by_slug,
                };
                let at = after.map(|p| Excluded(p.slug.as_str()));
                match (desc, at) {
                    (false, at) => Box::new(map.range::<str, _>((at.unwrap_or(Unbounded), Unbounded)).map(|(_, &n)| n)),
                    (true, at) => {
                        Box::new(map.range::<str, _>((Unbounded, at.unwrap_or(Unbounded))).rev().map(|(_, &n)| n))
                    }
                }
            }
            OrderField::Name => {
                let cursor = after.and_then(|p| match &p.key {
                    SortKey::Name(k) => Some((k.clone(), Arc::<str>::from(p.slug.as_str()))),
                    _ => None,
                });
                let prefix = f.name_prefix.clone();
                let within = move |k: &(Arc<str>, Arc<str>)| prefix.as_deref().is_none_or(|p| k.0.starts_with(p));
                if !desc {
                    let lower = match (cursor, &f.name_prefix) {
                        (Some(c), Some(p)) if *c.0 < **p => Included((Arc::from(p.as_str()), Arc::from(""))),
                        (Some(c), _) => Excluded(c),
                        (None, Some(p)) => Included((Arc::from(p.as_str()), Arc::from(""))),
                        (None, None) => Unbounded,
                    };
                    Box::new(
                        self.by_name.range((lower, Unbounded)).take_while(move |(k, _)| within(k)).map(|(_, &n)| n),
                    )
                } else {
                    // Every name with the prefix sorts before the prefix followed by the last
                    // code point (a noncharacter, never in a normalized name).
                    let end =
                        f.name_prefix.as_ref().map(|p| (Arc::<str>::from(format!("{p}\u{10FFFF}")), Arc::from("")));
                    let upper = match (cursor, end) {
                        (Some(c), Some(e)) if c > e => Excluded(e),
                        (Some(c), _) => Excluded(c),
                        (None, Some(e)) => Excluded(e),
                        (None, None) => Unbounded,
                    };
                    Box::new(
                        self.by_name
                            .range((Unbounded, upper))
                            .rev()
                            .take_while(move |(k, _)| within(k))
                            .map(|(_, &n)| n),
                    )
                }
            }
            OrderField::Date => {
                let cursor = after.and_then(|p| match p.key {
                    SortKey::Date(k) => Some((k, Arc::<str>::from(p.slug.as_str()))),
                    _ => None,
                });
                let dated = f.date_from.is_some() || f.date_to.is_some();
                // Coarse bounds by year; `matches` decides within them.
                let lo = f.date_from.map_or(0, |d| (d.year() as u32) << 16);
                let hi = match (f.date_to, dated) {
                    (Some(d), _) => ((d.year() as u32) + 1) << 16,
                    (None, true) => UNDATED,
                    (None, false) => u32::MAX,
                };
                let in_range = move |k: u32| k >= lo && (k < hi || (!dated && k == UNDATED));
                let undated_start: (u32, Arc<str>) = (UNDATED, Arc::from(""));
                if !desc {
                    let lower = match cursor {
                        Some(c) if c.0 >= lo => Excluded(c),
                        _ => Included((lo, Arc::from(""))),
                    };
                    Box::new(
                        self.by_date.range((lower, Unbounded)).take_while(move |(k, _)| in_range(k.0)).map(|(_, &n)| n),
                    )
                } else {
                    let top = (hi, Arc::<str>::from(""));
                    match cursor {
                        Some(c) if c.0 == UNDATED => {
                            Box::new(self.by_date.range((Included(undated_start), Excluded(c))).rev().map(|(_, &n)| n))
                        }
                        cursor => {
                            let upper = match cursor {
                                Some(c) if c < top => Excluded(c),
                                _ => Excluded(top),
                            };
                            let dated_part = self
                                .by_date
                                .range((Unbounded, upper))
                                .rev()
                                .take_while(move |(k, _)| k.0 >= lo)
                                .map(|(_, &n)| n);
                            let undated: Nodes<'a> = if dated {
                                Box::new(std::iter::empty())
                            } else {
                                Box::new(
                                    self.by_date.range((Included(undated_start), Unbounded)).rev().map(|(_, &n)| n),
                                )
                            };
                            Box::new(dated_part.chain(undated))
                        }
                    }
                }
            }
            OrderField::Degree | OrderField::PageRank => {
                let ranks = ranks.expect("rank order given for a rank field");
                let slug = |n: NodeIndex| self.graph[n].slug.as_str();
                let len = self.graph.node_count();
                // Position of the cursor in the ascending list: the first index past it (or at it).
                let split = |le: bool| -> usize {
                    let Some(p) = after else { return if desc { len } else { 0 } };
                    let past = |key: SortKey, n: NodeIndex| {
                        let c = cmp_in_order((&key, slug(n)), (&p.key, &p.slug), false);
                        if le {
                            c != Ordering::Greater
                        } else {
                            c == Ordering::Less
                        }
                    };
                    match order {
                        OrderField::Degree => ranks.degree.partition_point(|&(d, n)| past(SortKey::Degree(d), n)),
                        _ => ranks.pagerank.partition_point(|&(r, n)| past(SortKey::PageRank(r), n)),
                    }
                };
                // ASC: past every entry at or before the cursor; DESC: the entries before it, backwards.
                let (start, end) = if desc { (0, split(false)) } else { (split(true), len) };
                match (order, desc) {
                    (OrderField::Degree, false) => Box::new(ranks.degree[start..end].iter().map(|&(_, n)| n)),
                    (OrderField::Degree, true) => Box::new(ranks.degree[start..end].iter().rev().map(|&(_, n)| n)),
                    (_, false) => Box::new(ranks.pagerank[start..end].iter().map(|&(_, n)| n)),
                    (_, true) => Box::new(ranks.pagerank[start..end].iter().rev().map(|&(_, n)| n)),
                }
            }
        }
    }

    /// Candidates from a bounding filter, when there is one that the order's index does not
    /// already walk and it holds at most [`MAX_CANDIDATES`]: `relatedTo`'s neighbours, or
    /// `namePrefix`'s range of names (at most [`MAX_PREFIX_CANDIDATES`]). Past that, sorting them would cost more than walking the
    /// order's index and checking each entity, which stops at the page's end: a filter that
    /// many entities pass fills a page early.
    fn bounded_candidates(&self, p: &Prepared<'_>, order: OrderField) -> Option<Vec<NodeIndex>> {
        if let Some(set) = &p.related {
            return (set.len() <= MAX_CANDIDATES).then(|| set.iter().copied().collect());
        }
        match &p.f.name_prefix {
            Some(prefix) if order != OrderField::Name => {
                let found: Vec<NodeIndex> = self
                    .by_name
                    .range((Included((Arc::<str>::from(prefix.as_str()), Arc::<str>::from(""))), Unbounded))
                    .take_while(|(k, _)| k.0.starts_with(prefix.as_str()))
                    .take(MAX_PREFIX_CANDIDATES + 1)
                    .map(|(_, &n)| n)
                    .collect();
                (found.len() <= MAX_PREFIX_CANDIDATES).then_some(found)
            }
            _ => None,
        }
    }

    /// One page of entities matching `f`, in `order`, after `after`; `None` when the ticker
    /// stopped it.
    pub fn entities_sorted(
        &self,
        f: &EntityFilter,
        order: OrderField,
        desc: bool,
        after: Option<&Position>,
        limit: usize,
        ticker: &mut Ticker,
    ) -> Option<SortedPage<'_>> {
        let p = self.prepare(f);
        let rank_order = matches!(order, OrderField::Degree | OrderField::PageRank).then(|| self.rank_order());
        let rankings = rank_order.is_some().then(|| self.rankings());
        let lookup = rankings.as_deref();
        if let Some(cands) = self.bounded_candidates(&p, order) {
            let mut keyed: Vec<(SortKey, NodeIndex)> = Vec::new();
            for n in cands {
                if ticker.tick() {
                    return None;
                }
                if self.matches(n, &p) {
                    keyed.push((self.node_key(n, order, lookup), n));
                }
            }
            let slug = |n: NodeIndex| self.graph[n].slug.as_str();
            keyed.sort_unstable_by(|a, b| cmp_in_order((&a.0, slug(a.1)), (&b.0, slug(b.1)), desc));
            let start = match after {
                Some(c) => keyed.partition_point(|(k, n)| {
                    cmp_in_order((k, slug(*n)), (&c.key, &c.slug), desc) != Ordering::Greater
                }),
                None => 0,
            };
            let has_previous = after.is_some_and(|c| {
                keyed
                    .first()
                    .is_some_and(|(k, n)| cmp_in_order((k, slug(*n)), (&c.key, &c.slug), desc) != Ordering::Greater)
            });
            let rest = &keyed[start..];
            let items = rest.iter().take(limit).map(|(k, n)| (k.clone(), &self.graph[*n].entity)).collect();
            return Some(SortedPage { items, has_next: rest.len() > limit, has_previous });
        }
        let mut items = Vec::with_capacity(limit.min(128));
        let mut has_next = false;
        for n in self.ordered(f, order, desc, after, rank_order.as_deref()) {
            if ticker.tick() {
                return None;
            }
            if !self.matches(n, &p) {
                continue;
            }
            if items.len() == limit {
                has_next = true;
                break;
            }
            items.push((self.node_key(n, order, lookup), &self.graph[n].entity));
        }
        // Something precedes the page when the list's first match sorts at or before the cursor.
        let has_previous = match after {
            None => false,
            Some(c) => {
                let mut first = None;
                for n in self.ordered(f, order, desc, None, rank_order.as_deref()) {
                    if ticker.tick() {
                        return None;
                    }
                    if self.matches(n, &p) {
                        first = Some(n);
                        break;
                    }
                }
                first.is_some_and(|n| {
                    let key = self.node_key(n, order, lookup);
                    cmp_in_order((&key, self.graph[n].slug.as_str()), (&c.key, &c.slug), desc) != Ordering::Greater
                })
            }
        };
        Some(SortedPage { items, has_next, has_previous })
    }

    /// How many entities match `f`; `None` when the ticker stopped it.
    pub fn count_matching(&self, f: &EntityFilter, ticker: &mut Ticker) -> Option<usize> {
        if f.is_empty() {
            return Some(match &f.kinds {
                None => self.count_entities(None),
                Some(ks) => {
                    let mut ks = ks.clone();
                    ks.sort_unstable_by_key(|k| k.as_str());
                    ks.dedup();
                    ks.iter().map(|k| self.count_entities(Some(*k))).sum()
                }
            });
        }
        let p = self.prepare(f);
        // The narrowest index the filter has a range of.
        let order = if f.name_prefix.is_some() {
            OrderField::Name
        } else if f.date_from.is_some() || f.date_to.is_some() {
            OrderField::Date
        } else {
            OrderField::Slug
        };
        let nodes: Nodes<'_> = match self.bounded_candidates(&p, OrderField::Slug) {
            Some(c) => Box::new(c.into_iter()),
            None => self.ordered(f, order, false, None, None),
        };
        let mut count = 0;
        for n in nodes {
            if ticker.tick() {
                return None;
            }
            count += usize::from(self.matches(n, &p));
        }
        Some(count)
    }
}

/// What `searchResults` looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchField {
    Names,
    Summaries,
    Quotes,
}

/// One entity found by [`GraphIndex::search_in`]: its best match.
#[derive(Debug, Clone)]
pub struct SearchHit<'g> {
    pub entity: &'g Arc<Entity>,
    pub score: f64,
    pub field: SearchField,
    /// The name, alias, summary or quote that matched, as the graph holds it.
    pub text: String,
}

/// The score of a match: by how it matches (4 whole, 3 prefix, 2 every word starts a word, 1
/// contained; see `score` in the graph module), scaled by where: a name 1.0, an alias 0.9, a
/// summary 0.5, a quote 0.4. So a whole name scores 1.0, and a name match always outranks a
/// summary or quote match of the same kind.
pub fn hit_score(level: u32, field: SearchField, alias: bool) -> f64 {
    let weight = match (field, alias) {
        (SearchField::Names, false) => 1.0,
        (SearchField::Names, true) => 0.9,
        (SearchField::Summaries, _) => 0.5,
        (SearchField::Quotes, _) => 0.4,
    };
    weight * f64::from(level) / 4.0
}

impl GraphIndex {
    /// Entities matching `query` in the fields asked, each once with its best match, best
    /// first (ties by slug). Names are found through the word index; summaries and quotes are
    /// read in full, so their search is bounded only by the ticker: `None` when it stopped it.
    pub fn search_in(
        &self,
        query: &str,
        fields: &[SearchField],
        kinds: Option<&[EntityKind]>,
        types: Option<&[String]>,
        ticker: &mut Ticker,
    ) -> Option<Vec<SearchHit<'_>>> {
        let q = normalize(query);
        if q.is_empty() {
            return Some(Vec::new());
        }
        let q_compact: String = q.split(' ').collect();
        let q_words: Vec<&str> = q.split(' ').collect();
        let mut best: foldhash::HashMap<NodeIndex, (f64, SearchField, String)> = Default::default();
        let wanted = |n: NodeIndex| {
            kinds.is_none_or(|ks| ks.contains(&self.kinds[n.index()]))
                && types.is_none_or(|ts| {
                    self.graph[n].entity.subtype.as_deref().is_some_and(|t| ts.contains(&normalize(t)))
                })
        };
        let offer = |best: &mut foldhash::HashMap<NodeIndex, (f64, SearchField, String)>,
                     n: NodeIndex,
                     score: f64,
                     field: SearchField,
                     text: &str| {
            let e = best.entry(n).or_insert((f64::MIN, field, String::new()));
            if score > e.0 {
                *e = (score, field, text.to_owned());
            }
        };
        let mut scratch = String::new();
        if fields.contains(&SearchField::Names) {
            for n in self.name_candidates(&q_words, &q_compact) {
                if ticker.tick() {
                    return None;
                }
                if !wanted(n) {
                    continue;
                }
                let e = &self.graph[n].entity;
                for text in std::iter::once(&e.name).chain(&e.aliases) {
                    let level = name_score(&normalize(text), &mut scratch, &q, &q_compact, &q_words);
                    if level > 0 {
                        let alias = !std::ptr::eq(text, &e.name);
                        offer(&mut best, n, hit_score(level, SearchField::Names, alias), SearchField::Names, text);
                    }
                }
            }
        }
        if fields.contains(&SearchField::Summaries) {
            for n in self.graph.node_indices() {
                if ticker.tick() {
                    return None;
                }
                let Some(summary) = self.graph[n].entity.summary.as_deref() else { continue };
                if !wanted(n) {
                    continue;
                }
                let level = text_level(&normalize(summary), &q, &q_words);
                if level > 0 {
                    offer(
                        &mut best,
                        n,
                        hit_score(level, SearchField::Summaries, false),
                        SearchField::Summaries,
                        summary,
                    );
                }
            }
        }
        if fields.contains(&SearchField::Quotes) {
            // The entities' own facts' quotes, then each relation's, for both its ends.
            for n in self.graph.node_indices() {
                if ticker.tick() {
                    return None;
                }
                if !wanted(n) {
                    continue;
                }
                let s = &self.graph[n].entity.extra.sources;
                let quotes = [&s.date, &s.end_date, &s.url, &s.summary]
                    .into_iter()
                    .flatten()
                    .chain(s.aliases.values().flatten())
                    .filter_map(|c| c.quote.as_deref());
                for quote in quotes {
                    let level = text_level(&normalize(quote), &q, &q_words);
                    if level > 0 {
                        offer(&mut best, n, hit_score(level, SearchField::Quotes, false), SearchField::Quotes, quote);
                    }
                }
            }
            for edge in self.graph.edge_indices() {
                if ticker.tick() {
                    return None;
                }
                let d = self.data(edge);
                let Some((a, b)) = self.graph.edge_endpoints(edge) else { continue };
                if !wanted(a) && !wanted(b) {
                    continue;
                }
                for quote in d.quotes() {
                    let level = text_level(&normalize(quote), &q, &q_words);
                    if level == 0 {
                        continue;
                    }
                    for n in [a, b] {
                        if wanted(n) {
                            offer(
                                &mut best,
                                n,
                                hit_score(level, SearchField::Quotes, false),
                                SearchField::Quotes,
                                quote,
                            );
                        }
                    }
                }
            }
        }
        let mut hits: Vec<SearchHit<'_>> = best
            .into_iter()
            .map(|(n, (score, field, text))| SearchHit { entity: &self.graph[n].entity, score, field, text })
            .collect();
        hits.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.entity.slug.cmp(&b.entity.slug)));
        Some(hits)
    }
}

/// How a long normalized text matches the query: 2 when every query word starts a word of it
/// (in any order), 1 when it contains the query, 0 not at all. (A whole or prefix match of a
/// sentence is no better a sign than its words.)
fn text_level(text: &str, q: &str, q_words: &[&str]) -> u32 {
    if q_words.iter().all(|qw| text.split(' ').any(|w| w.starts_with(qw))) {
        2
    } else if text.contains(q) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::Deadline;
    use crate::domain::Relation;

    fn graph(n: usize) -> (GraphIndex, Vec<Entity>, Vec<Relation>) {
        let (mut es, rs) = crate::synthetic::generate(n, n * 4, 11);
        crate::synthetic::decorate(&mut es, 11);
        // A load (sorted lists), not upserts: the path a start takes.
        let mut g = GraphIndex::default();
        let mut loader = g.load_entities();
        for e in es.iter().cloned() {
            loader.add(e);
        }
        loader.finish();
        for r in rs.iter().cloned() {
            g.upsert_relation(r).unwrap();
        }
        (g, es, rs)
    }

    /// The whole list as a sort of every entity would give it: what the indexes must agree with.
    fn brute(g: &GraphIndex, f: &EntityFilter, order: OrderField, desc: bool) -> Vec<String> {
        let p = g.prepare(f);
        let mut all: Vec<(SortKey, String)> = g
            .graph
            .node_indices()
            .filter(|&n| g.matches(n, &p))
            .map(|n| (g.sort_key(&g.graph[n].entity, order), g.graph[n].slug.to_string()))
            .collect();
        all.sort_by(|a, b| cmp_in_order((&a.0, &a.1), (&b.0, &b.1), desc));
        all.into_iter().map(|(_, s)| s).collect()
    }

    /// The whole list read a page at a time through cursors.
    fn paged(g: &GraphIndex, f: &EntityFilter, order: OrderField, desc: bool, size: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut after: Option<Position> = None;
        loop {
            let page = g.entities_sorted(f, order, desc, after.as_ref(), size, &mut Deadline::NONE.ticker()).unwrap();
            assert_eq!(page.has_previous, after.is_some() && !out.is_empty(), "{order:?} {desc} {f:?}");
            let Some((k, e)) = page.items.last() else { break };
            after = Some(Position { key: k.clone(), slug: e.slug.to_string() });
            out.extend(page.items.iter().map(|(_, e)| e.slug.to_string()));
            if !page.has_next {
                break;
            }
        }
        out
    }

    fn filters(g: &GraphIndex) -> Vec<EntityFilter> {
        let hub = g.graph[g.rank_order().degree.last().unwrap().1].id.clone();
        vec![
            EntityFilter::default(),
            EntityFilter { kinds: Some(vec![EntityKind::Place]), ..Default::default() },
            EntityFilter { kinds: Some(vec![EntityKind::Place, EntityKind::Person]), ..Default::default() },
            EntityFilter { types: Some(vec!["city".into()]), ..Default::default() },
            EntityFilter { name_prefix: Some("ka".into()), ..Default::default() },
            EntityFilter {
                date_from: Some(PartialDate::parse("1990-06").unwrap()),
                date_to: Some(PartialDate::parse("2001").unwrap()),
                ..Default::default()
            },
            EntityFilter { date_from: Some(PartialDate::parse("2020").unwrap()), ..Default::default() },
            EntityFilter { related_to: Some(hub.clone()), ..Default::default() },
            EntityFilter {
                related_to: Some(hub),
                related_by: Some(vec![RelationKind::Funds]),
                kinds: Some(vec![EntityKind::Office]),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn every_order_and_filter_pages_like_a_full_sort() {
        let (g, _, _) = graph(400);
        for f in filters(&g) {
            for order in
                [OrderField::Slug, OrderField::Name, OrderField::Date, OrderField::Degree, OrderField::PageRank]
            {
                for desc in [false, true] {
                    let want = brute(&g, &f, order, desc);
                    assert_eq!(paged(&g, &f, order, desc, 7), want, "{order:?} desc={desc} {f:?}");
                    assert_eq!(g.count_matching(&f, &mut Deadline::NONE.ticker()), Some(want.len()), "{f:?}");
                }
            }
        }
    }

    #[test]
    fn undated_entities_come_last_both_ways() {
        let (g, _, _) = graph(200);
        for desc in [false, true] {
            let list = brute(&g, &EntityFilter::default(), OrderField::Date, desc);
            let dated: Vec<bool> = list.iter().map(|s| g.entity_by_slug(s).unwrap().date.is_some()).collect();
            let first_undated = dated.iter().position(|d| !d).unwrap();
            assert!(dated[..first_undated].iter().all(|d| *d) && dated[first_undated..].iter().all(|d| !d));
        }
        assert!(pack_date(PartialDate::parse("2024").ok()) < pack_date(PartialDate::parse("2024-01").ok()));
        assert!(pack_date(PartialDate::parse("2024-01").ok()) < pack_date(PartialDate::parse("2024-01-01").ok()));
        assert!(pack_date(PartialDate::parse("2024-12-31").ok()) < pack_date(PartialDate::parse("2025").ok()));
    }

    #[test]
    fn the_indexes_follow_edits() {
        let (mut g, es, rs) = graph(300);
        let check = |g: &GraphIndex| {
            assert_eq!(g.by_name.len(), g.entity_count());
            assert_eq!(g.by_date.len(), g.entity_count());
            for f in filters(g).into_iter().take(6) {
                for order in [OrderField::Name, OrderField::Date, OrderField::Degree] {
                    assert_eq!(paged(g, &f, order, false, 9), brute(g, &f, order, false), "{order:?} {f:?}");
                }
            }
        };
        // Rename, re-date and re-slug some, delete others, add new ones, drop relations.
        for (i, e) in es.iter().enumerate().step_by(7) {
            let mut e = e.clone();
            e.name = format!("Zed {i}");
            e.date = PartialDate::parse("1999-09").ok();
            if i % 2 == 0 {
                e.slug = crate::domain::Slug::parse(&format!("moved-{i}")).unwrap();
            }
            g.upsert_entity(e);
        }
        for e in es.iter().skip(3).step_by(11) {
            g.remove_entity(&e.id);
        }
        let mut added = es[5].clone();
        added.id = "brand-new".into();
        added.slug = crate::domain::Slug::parse("brand-new").unwrap();
        added.name = "Ángel Ka".into();
        added.date = None;
        g.upsert_entity(added);
        for r in rs.iter().step_by(5) {
            g.remove_relation(&r.id);
        }
        check(&g);
        let page = g
            .entities_sorted(
                &EntityFilter { name_prefix: Some("angel".into()), ..Default::default() },
                OrderField::Name,
                false,
                None,
                5,
                &mut Deadline::NONE.ticker(),
            )
            .unwrap();
        assert_eq!(page.items.iter().map(|(_, e)| e.slug.as_str()).collect::<Vec<_>>(), ["brand-new"]);
    }

    #[test]
    fn search_in_summaries_and_quotes_scores_names_first() {
        let (g, es, _) = graph(200);
        let with_summary = es.iter().find(|e| e.summary.is_some()).unwrap();
        let word = with_summary.summary.as_deref().unwrap().split(' ').nth(3).unwrap().trim_end_matches('.');
        let t = &mut Deadline::NONE.ticker();
        let hits = g.search_in(word, &[SearchField::Summaries], None, None, t).unwrap();
        assert!(hits.iter().any(|h| h.entity.id == with_summary.id && h.field == SearchField::Summaries));
        assert!(hits.iter().all(|h| h.text.contains(word) || normalize(&h.text).contains(&normalize(word))));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let name = &es[10].name;
        let hits = g.search_in(name, &[SearchField::Names, SearchField::Summaries], None, None, t).unwrap();
        assert_eq!((hits[0].score, hits[0].field), (1.0, SearchField::Names), "{name}: {hits:?}");
        let quotes = g.search_in("synthetic", &[SearchField::Quotes], None, None, t);
        assert!(quotes.is_some());
    }
}
