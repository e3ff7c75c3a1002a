//! The graph index: a petgraph `StableDiGraph` of entities and relations held in memory, derived
//! from the store and answering every read.
//!
//! **Invariant:** `NodeIndex` and `EdgeIndex` never leave this module. petgraph reuses a freed
//! slot for the next node, so an index is not an identity; callers speak entity and relation IDs
//! and get `Arc`s of the model back.

pub mod algo;
mod edge;
pub mod order;
pub mod snapshot;

use edge::{Documents, EdgeData, EdgeRest};

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::BuildHasher;

// foldhash, not SipHash: the maps are keyed by IDs and slugs, hashed on every look-up and, at
// start, millions of times (SipHash was the top user-space cost of loading a 1M-entity store).
use foldhash::HashMap;
use std::sync::Arc;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction as PgDirection;
use unicode_normalization::UnicodeNormalization;

use crate::domain::{Citation, DateWindow, Entity, EntityKind, PartialDate, Relation, RelationKind, RelationView};

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("relation `{relation}` points at entity `{entity}`, which does not exist")]
    DanglingRelation { relation: String, entity: String },
}

/// Which relations of an entity to list, seen from that entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outgoing,
    Incoming,
    Both,
}

/// A node's weight: the entity, with its kind inline, so that a traversal filtering neighbours by
/// kind reads petgraph's node array instead of one heap allocation per neighbour (at 100k
/// entities, those cache misses were most of a 2-hop neighbourhood's time).
struct Node {
    kind: EntityKind,
    entity: Arc<Entity>,
}

impl std::ops::Deref for Node {
    type Target = Arc<Entity>;
    fn deref(&self) -> &Arc<Entity> {
        &self.entity
    }
}

/// A relation's weight in petgraph: only its kind, so that a traversal walking a hub's tens of
/// thousands of relations reads a dense array (20 bytes per relation with petgraph's links);
/// the rest of the relation is in [`EdgeData`], beside the graph.
struct Edge {
    kind: RelationKind,
}

/// An entity, its search keys and its search words.
type StagedEntity = (Arc<Entity>, Box<[String]>, Vec<String>);

/// Entities on their way into an index, from [`GraphIndex::load_entities`]: `add` each, then
/// `finish`.
pub struct EntityLoader<'g> {
    g: &'g mut GraphIndex,
    /// Each entity with its search keys and words, made as it arrives (the costly part); it gets
    /// its node at `finish`, in ID order, so that node numbering does not depend on the order
    /// the store's readers delivered entities in.
    staged: Vec<StagedEntity>,
    /// The index already had entities: each is upserted as it comes.
    fallback: bool,
}

impl EntityLoader<'_> {
    pub fn add(&mut self, entity: Entity) {
        if self.fallback {
            return self.g.upsert_entity(entity);
        }
        let entity = Arc::new(entity);
        let keys = search_keys(&entity);
        let words = index_words(&keys).into_iter().collect();
        self.staged.push((entity, keys, words));
    }

    /// Gives each entity its node, in ID order, and builds the ordered maps, each from one
    /// sorted list.
    pub fn finish(self) {
        let EntityLoader { g, mut staged, fallback } = self;
        if fallback {
            return;
        }
        staged.sort_unstable_by(|a, b| a.0.id.cmp(&b.0.id));
        let mut slugs: Vec<(Arc<str>, EntityKind, NodeIndex)> = Vec::with_capacity(staged.len());
        let mut words: Vec<(String, NodeIndex)> = Vec::with_capacity(staged.len() * 4);
        for (entity, keys, entity_words) in staged {
            let (node, slug, kind) = g.place_entity(entity, keys);
            slugs.push((slug, kind, node));
            words.extend(entity_words.into_iter().map(|w| (w, node)));
        }
        // Entities come in ID order and slugs mostly equal IDs: this sort is nearly a check.
        slugs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        g.all_by_slug = slugs.iter().map(|(s, _, n)| (s.clone(), *n)).collect();
        // `collect` sorts once and builds each B-tree in bulk.
        g.by_name = slugs.iter().map(|(s, _, n)| ((normalize(&g.graph[*n].name).into(), s.clone()), *n)).collect();
        g.by_date = slugs.iter().map(|(s, _, n)| ((order::pack_date(g.graph[*n].date), s.clone()), *n)).collect();
        for kind in EntityKind::ALL {
            let of_kind: BTreeMap<Arc<str>, NodeIndex> =
                slugs.iter().filter(|(_, k, _)| k == kind).map(|(s, _, n)| (s.clone(), *n)).collect();
            if !of_kind.is_empty() {
                g.by_kind.insert(*kind, of_kind);
            }
        }
        drop(slugs);
        words.sort_unstable();
        let mut map: Vec<(String, Vec<NodeIndex>)> = Vec::new();
        for (w, n) in words {
            match map.last_mut() {
                Some((last, nodes)) if *last == w => nodes.push(n),
                _ => map.push((w, vec![n])),
            }
        }
        g.words = map.into_iter().collect();
    }
}

/// Relations on their way into an index, from [`GraphIndex::load_relations`]: `add` each
/// (prepared by a [`Resolver`], on any thread), then `finish`.
pub struct RelationLoader<'g> {
    g: &'g mut GraphIndex,
    /// (target, source, arrival, kind) of each relation added; its data waits in `edge_data` at
    /// its arrival position.
    order: Vec<(u32, u32, u32, RelationKind)>,
    /// The index already had relations: no layout, each relation is upserted as it comes.
    fallback: bool,
    /// Each node's document number, once one of its relations cited it (`u32::MAX` before).
    document_numbers: Vec<u32>,
    /// The index's entity IDs, lent out for the load (and back in the index when the loader
    /// goes, finished or not).
    resolver: Resolver,
}

/// Entity ID → node, shared with the threads that prepare relations while a load runs.
#[derive(Clone)]
pub struct Resolver {
    by_id: Arc<HashMap<Arc<str>, NodeIndex>>,
}

/// A relation resolved against the index's entities and made compact: the costly part of adding
/// it, done by whichever thread read it. Its document gets its number when it is added (numbering
/// is the index's, on one thread); until then `data` has none.
pub struct PreparedRelation {
    from: NodeIndex,
    to: NodeIndex,
    kind: RelationKind,
    document: Option<Cited>,
    data: EdgeData,
}

/// The document a relation's first citation names.
enum Cited {
    Entity(NodeIndex),
    /// An ID no entity has.
    Other(Box<str>),
}

impl Resolver {
    /// Resolves a stored relation's endpoints and cited document, copying only the strings the
    /// index keeps (its ID and quote).
    pub fn prepare(&self, view: RelationView<'_>) -> Result<PreparedRelation, GraphError> {
        prepare(&self.by_id, view)
    }
}

/// A relation resolved against `by_id` and made compact: what an upsert and a load's readers share.
fn prepare(by_id: &HashMap<Arc<str>, NodeIndex>, view: RelationView<'_>) -> Result<PreparedRelation, GraphError> {
    let endpoint = |id: &str| {
        by_id
            .get(id)
            .copied()
            .ok_or_else(|| GraphError::DanglingRelation { relation: view.id.to_string(), entity: id.to_owned() })
    };
    let (from, to) = (endpoint(&view.from)?, endpoint(&view.to)?);
    let RelationView { id, kind, title, order, valid_from, valid_until, quantities, citations, version, .. } = view;
    let mut citations = citations.into_iter();
    let first = citations.next();
    let document = first.as_ref().map(|c| match by_id.get(&*c.document) {
        Some(&node) => Cited::Entity(node),
        None => Cited::Other(c.document.as_ref().into()),
    });
    let more_citations = citations
        .map(|c| Citation { document: c.document.into_owned(), quote: c.quote.map(Cow::into_owned) })
        .collect();
    let rest = EdgeRest { title, order, valid_from, valid_until, quantities, more_citations }.boxed();
    let quote = first.as_ref().and_then(|c| c.quote.as_deref());
    Ok(PreparedRelation { from, to, kind, document, data: EdgeData::new(&id, version, None, quote, rest) })
}

impl RelationLoader<'_> {
    pub fn reserve(&mut self, relations: usize) {
        if !self.fallback {
            self.order.reserve(relations);
            self.g.edge_data.reserve(relations);
        }
    }

    /// A resolver for the threads that prepare relations.
    pub fn resolver(&self) -> Resolver {
        self.resolver.clone()
    }

    pub fn add(&mut self, relation: PreparedRelation) {
        if self.fallback {
            return self.g.insert_prepared(relation);
        }
        let PreparedRelation { from, to, kind, document, mut data } = relation;
        // Most relations cite a document entity: its number is found by node, once per document.
        let number = match document {
            Some(Cited::Entity(node)) => {
                let cached = &mut self.document_numbers[node.index()];
                if *cached == u32::MAX {
                    *cached = self.g.documents.number(&self.g.graph[node].id);
                }
                Some(*cached)
            }
            Some(Cited::Other(id)) => Some(self.g.documents.number(&id)),
            None => None,
        };
        data.set_document(number);
        self.order.push((to.index() as u32, from.index() as u32, self.order.len() as u32, kind));
        self.g.edge_data.push(Some(data));
    }

    /// Inserts the relations into the graph, by target, and files each one's data and ID.
    pub fn finish(mut self) {
        let order = std::mem::take(&mut self.order);
        if !self.fallback && !order.is_empty() {
            self.g.place_loaded(order);
        }
    }
}

impl Drop for RelationLoader<'_> {
    fn drop(&mut self) {
        let by_id = std::mem::take(&mut self.resolver.by_id);
        // Every clone is normally gone (the readers have finished); if one is not, a copy.
        self.g.by_id = Arc::try_unwrap(by_id).unwrap_or_else(|shared| (*shared).clone());
    }
}

/// A relation of the index, not yet copied out of it: cheap to sort and filter; `get` reads it
/// whole. Tied to the view it came from, so it cannot outlive the graph it points into.
#[derive(Clone, Copy)]
pub struct RelationRef<'g> {
    g: &'g GraphIndex,
    edge: EdgeIndex,
}

impl<'g> RelationRef<'g> {
    pub fn id(&self) -> &'g str {
        self.g.data(self.edge).id()
    }

    pub fn kind(&self) -> RelationKind {
        self.g.graph[self.edge].kind
    }

    pub fn order(&self) -> Option<i32> {
        self.g.data(self.edge).order()
    }

    /// Whether the relation cites `document` (an entity ID).
    pub fn cites(&self, document: &str) -> bool {
        self.g.data(self.edge).documents(&self.g.documents).any(|d| d == document)
    }

    /// How many numbers the relation states, without copying it out.
    pub fn quantity_count(&self) -> usize {
        self.g.data(self.edge).rest.as_ref().map_or(0, |r| r.quantities.len())
    }

    /// How many distinct documents cite the relation.
    pub fn source_count(&self) -> usize {
        let mut docs: Vec<&str> = self.g.data(self.edge).documents(&self.g.documents).collect();
        docs.sort_unstable();
        docs.dedup();
        docs.len()
    }

    pub fn title(&self) -> Option<&'g str> {
        self.g.data(self.edge).title()
    }

    /// `validFrom` and `validUntil`.
    pub fn period(&self) -> (Option<PartialDate>, Option<PartialDate>) {
        self.g.data(self.edge).period()
    }

    pub fn version(&self) -> u64 {
        self.g.data(self.edge).version()
    }

    /// The relation's source and target entities, read from the graph's nodes (no look-up by ID).
    pub fn ends(&self) -> (&'g Arc<Entity>, &'g Arc<Entity>) {
        let (a, b) = self.g.graph.edge_endpoints(self.edge).expect("a live edge has endpoints");
        (&self.g.graph[a].entity, &self.g.graph[b].entity)
    }

    /// The IDs of the relation's source and target entities.
    pub fn endpoints(&self) -> (&'g str, &'g str) {
        let (a, b) = self.g.graph.edge_endpoints(self.edge).expect("a live edge has endpoints");
        (&self.g.graph[a].id, &self.g.graph[b].id)
    }

    /// The whole relation.
    pub fn get(&self) -> Arc<Relation> {
        self.g.relation_at(self.edge)
    }
}

#[derive(Default)]
pub struct GraphIndex {
    graph: StableDiGraph<Node, Edge>,
    // The ID and slug keys are `Arc<str>`: one allocation per entity shared by every map (an
    // entity's slug is a key in three of them, and its ID often equals its slug).
    by_id: HashMap<Arc<str>, NodeIndex>,
    /// Slug → node, only for entities whose slug is not their ID (the others are found through
    /// `by_id`): most IDs are slugs, and a second map of every entity was 50 MB at 1M.
    by_slug: HashMap<Arc<str>, NodeIndex>,
    /// Relation ID → edge, as a table of bare edge indices hashed by the ID the edge holds: at 5M
    /// relations a map with its own key per entry was 200 MB more.
    relations: hashbrown::HashTable<EdgeIndex>,
    hasher: foldhash::fast::RandomState,
    /// The relations' data by edge index (`None` in a freed slot, which petgraph may reuse).
    edge_data: Vec<Option<EdgeData>>,
    /// The documents the relations' first citations name, by the numbers `edge_data` holds.
    documents: Documents,
    /// Per kind, slug → node: the stable order of `entities(kind)` pages.
    by_kind: HashMap<EntityKind, BTreeMap<Arc<str>, NodeIndex>>,
    all_by_slug: BTreeMap<Arc<str>, NodeIndex>,
    /// (normalized name, slug) → node: the order of `entities(orderBy: {field: NAME})` and the
    /// range of a `namePrefix` (see [`order`]).
    by_name: BTreeMap<(Arc<str>, Arc<str>), NodeIndex>,
    /// (packed date, slug) → node, undated entities last: the order of `orderBy: {field: DATE}`.
    by_date: BTreeMap<(u32, Arc<str>), NodeIndex>,
    /// Degree and PageRank orders, made from the rankings on first use after a change.
    rank_order: std::sync::Mutex<Option<Arc<order::RankOrder>>>,
    /// Search keys by node index: name first, then aliases, each normalized (see [`normalize`]).
    /// Beside the graph rather than in its nodes, whose array traversals should stay small.
    keys: Vec<Box<[String]>>,
    /// Each node's entity kind, by node index: one byte each, so that the kinds of a hub's tens of
    /// thousands of neighbours (read by neighbourhood counts and path filters) stay in cache; read
    /// from petgraph's nodes, each was a cache miss (three quarters of a 2-hop neighbourhood at 1M).
    kinds: Vec<EntityKind>,
    /// Every word of every normalized name and alias (and each key without its spaces) →
    /// the entities that have it: `search` looks up candidates by word prefix here instead of
    /// scanning every entity.
    words: BTreeMap<String, Vec<NodeIndex>>,
    generation: u64,
    /// Degree and PageRank, computed on first use after a change (readers share the index
    /// behind a read lock, hence the interior mutability).
    rankings: std::sync::Mutex<Option<Arc<algo::Rankings>>>,
    /// Degree (without `mentions`) by node index, for path costs; computed on first use after a
    /// change, in one pass over the relations.
    degrees: std::sync::Mutex<Option<Arc<Vec<u32>>>>,
}

impl GraphIndex {
    /// Builds the index from complete lists of entities and relations (as read from the store).
    pub fn build(
        entities: impl IntoIterator<Item = Entity>,
        relations: impl IntoIterator<Item = Relation>,
        generation: u64,
    ) -> Result<GraphIndex, GraphError> {
        let mut index = GraphIndex { generation, ..GraphIndex::default() };
        for e in entities {
            index.upsert_entity(e);
        }
        for r in relations {
            index.upsert_relation(r)?;
        }
        Ok(index)
    }

    /// An empty index with room for about this many entities and relations: at 5M relations,
    /// growing the edge array by doubling left it up to twice the size it needed, and copied it
    /// each time.
    pub fn with_capacity(entities: usize, relations: usize, generation: u64) -> GraphIndex {
        let mut by_id = HashMap::default();
        by_id.reserve(entities);
        GraphIndex {
            graph: StableDiGraph::with_capacity(entities, relations),
            by_id,
            relations: hashbrown::HashTable::with_capacity(relations),
            edge_data: Vec::with_capacity(relations),
            keys: Vec::with_capacity(entities),
            kinds: Vec::with_capacity(entities),
            generation,
            ..GraphIndex::default()
        }
    }

    fn invalidate_rankings(&mut self) {
        *self.rankings.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        *self.degrees.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        *self.rank_order.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Degree of every node (not counting `mentions`), indexed by node index.
    pub fn degrees(&self) -> Arc<Vec<u32>> {
        let mut cached = self.degrees.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .get_or_insert_with(|| {
                let mut d = vec![0u32; petgraph::visit::NodeIndexable::node_bound(&self.graph)];
                for r in self.graph.edge_indices() {
                    if self.graph[r].kind != RelationKind::Mentions {
                        if let Some((a, b)) = self.graph.edge_endpoints(r) {
                            d[a.index()] += 1;
                            d[b.index()] += 1;
                        }
                    }
                }
                Arc::new(d)
            })
            .clone()
    }

    /// Degree and PageRank of every entity, current with the graph.
    pub fn rankings(&self) -> Arc<algo::Rankings> {
        let mut cached = self.rankings.lock().unwrap_or_else(|e| e.into_inner());
        cached.get_or_insert_with(|| Arc::new(algo::rankings(self))).clone()
    }

    /// The node of an entity, for the algorithms.
    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.by_id.get(id).copied()
    }

    /// The store generation this index reflects.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    pub fn entity_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn relation_count(&self) -> usize {
        self.graph.edge_count()
    }

    pub fn upsert_entity(&mut self, entity: Entity) {
        let entity = Arc::new(entity);
        let keys = search_keys(&entity);
        let words = index_words(&keys);
        let (node, slug, kind) = self.place_entity(entity, keys);
        self.all_by_slug.insert(slug.clone(), node);
        self.index_order(node, &slug);
        self.by_kind.entry(kind).or_default().insert(slug, node);
        for w in words {
            self.words.entry(w).or_default().push(node);
        }
    }

    /// Everything of an upsert but the ordered maps (`all_by_slug`, `by_kind`, `words`, `by_name`,
    /// `by_date`), which a load builds at once from sorted lists: the entity's node, slug and kind.
    fn place_entity(&mut self, entity: Arc<Entity>, keys: Box<[String]>) -> (NodeIndex, Arc<str>, EntityKind) {
        self.invalidate_rankings();
        let weight = Node { kind: entity.kind, entity: entity.clone() };
        let node = match self.by_id.get(entity.id.as_str()) {
            Some(&node) => {
                self.unindex_words(node);
                let old = self.graph[node].clone();
                self.unindex_order(&old);
                self.by_slug.remove(old.slug.as_str());
                self.all_by_slug.remove(old.slug.as_str());
                if let Some(m) = self.by_kind.get_mut(&old.kind) {
                    m.remove(old.slug.as_str());
                }
                self.graph[node] = weight;
                node
            }
            None => {
                let node = self.graph.add_node(weight);
                self.by_id.insert(entity.id.as_str().into(), node);
                node
            }
        };
        let slug: Arc<str> = match self.by_id.get_key_value(entity.id.as_str()) {
            Some((id, _)) if **id == *entity.slug.as_str() => id.clone(),
            _ => {
                let slug: Arc<str> = entity.slug.as_str().into();
                self.by_slug.insert(slug.clone(), node);
                slug
            }
        };
        if self.keys.len() <= node.index() {
            self.keys.resize_with(node.index() + 1, Box::default);
        }
        self.keys[node.index()] = keys;
        if self.kinds.len() <= node.index() {
            self.kinds.resize(node.index() + 1, EntityKind::Organization);
        }
        self.kinds[node.index()] = entity.kind;
        (node, slug, entity.kind)
    }

    /// Loads a store's entities (each ID once) into an index that has none yet: the slug-ordered
    /// maps and the word index are built at the end from sorted lists, not by an ordered insert
    /// per entity (B-tree descents were a fifth of a start's index building at 1M entities).
    pub fn load_entities(&mut self) -> EntityLoader<'_> {
        EntityLoader { fallback: self.graph.node_count() > 0, g: self, staged: Vec::new() }
    }

    /// The kind of a live node's entity.
    fn kind_of(&self, node: NodeIndex) -> EntityKind {
        self.kinds[node.index()]
    }

    /// Takes a node's search keys out of the word index (and off the node).
    fn unindex_words(&mut self, node: NodeIndex) {
        let Some(old) = self.keys.get_mut(node.index()).map(std::mem::take) else { return };
        for w in index_words(&old) {
            if let Some(v) = self.words.get_mut(&w) {
                v.retain(|&n| n != node);
                if v.is_empty() {
                    self.words.remove(&w);
                }
            }
        }
    }

    /// Removes an entity and every relation that touches it.
    pub fn remove_entity(&mut self, id: &str) -> Option<Arc<Entity>> {
        self.invalidate_rankings();
        let node = self.by_id.remove(id)?;
        let edges: Vec<EdgeIndex> = self
            .graph
            .edges_directed(node, PgDirection::Outgoing)
            .chain(self.graph.edges_directed(node, PgDirection::Incoming))
            .map(|e| e.id())
            .collect();
        for e in edges {
            // The ID table reads IDs from the graph: forget the ID while the edge still holds it.
            // (A self-loop is listed twice; the second time it is gone.)
            if let Some(id) = self.edge_data.get(e.index()).and_then(|d| d.as_ref()).map(|d| d.id().to_owned()) {
                self.forget_relation_id(&id);
                self.remove_edge(e);
            }
        }
        self.unindex_words(node);
        let entity = self.graph.remove_node(node)?.entity;
        self.unindex_order(&entity);
        self.by_slug.remove(entity.slug.as_str());
        self.all_by_slug.remove(entity.slug.as_str());
        if let Some(m) = self.by_kind.get_mut(&entity.kind) {
            m.remove(entity.slug.as_str());
        }
        Some(entity)
    }

    pub fn upsert_relation(&mut self, relation: Relation) -> Result<(), GraphError> {
        let prepared = prepare(&self.by_id, relation.into())?;
        self.insert_prepared(prepared);
        Ok(())
    }

    fn insert_prepared(&mut self, PreparedRelation { from, to, kind, document, mut data }: PreparedRelation) {
        self.invalidate_rankings();
        data.set_document(document.map(|d| match d {
            Cited::Entity(node) => self.documents.number(&self.graph[node].id),
            Cited::Other(id) => self.documents.number(&id),
        }));
        let hash = self.hasher.hash_one(data.id_bytes());
        let edge = self.graph.add_edge(from, to, Edge { kind });
        let slot = edge.index();
        if self.edge_data.len() <= slot {
            self.edge_data.resize_with(slot + 1, || None);
        }
        self.edge_data[slot] = Some(data);
        // One hash of the ID, whether the relation is new (the whole of a start) or replaces one.
        let (data, hasher) = (&self.edge_data, &self.hasher);
        let id_of = |e: EdgeIndex| data[e.index()].as_ref().map(EdgeData::id_bytes);
        let replaced = match self.relations.entry(
            hash,
            |&e| e != edge && id_of(e) == id_of(edge),
            |&e| hasher.hash_one(id_of(e).unwrap_or_default()),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut o) => Some(std::mem::replace(o.get_mut(), edge)),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(edge);
                None
            }
        };
        if let Some(old) = replaced {
            self.remove_edge(old);
        }
    }

    /// Inserts loaded relations into the graph in `order` (see [`RelationLoader`]).
    fn place_loaded(&mut self, mut order: Vec<(u32, u32, u32, RelationKind)>) {
        self.invalidate_rankings();
        // By target; between the same two entities, by ID, so that the layout does not depend on
        // the order the store's readers delivered relations in.
        let data = &self.edge_data;
        let id = |arrival: u32| data[arrival as usize].as_ref().map_or(&[][..], EdgeData::id_bytes);
        order.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| id(a.2).cmp(id(b.2))));
        // A fresh edge array numbers edges in insertion order: edge `i` is `order[i]`.
        for &(to, from, _, kind) in &order {
            self.graph.add_edge(NodeIndex::new(from as usize), NodeIndex::new(to as usize), Edge { kind });
        }
        // Move each relation's data from its arrival position to its edge's, in place, one cycle
        // of the permutation at a time (a copy would double the largest array of the index).
        let mut placed = vec![false; order.len()];
        for start in 0..order.len() {
            if placed[start] {
                continue;
            }
            let first = self.edge_data[start].take();
            let mut at = start;
            loop {
                placed[at] = true;
                let from = order[at].2 as usize;
                if from == start {
                    self.edge_data[at] = first;
                    break;
                }
                self.edge_data[at] = self.edge_data[from].take();
                at = from;
            }
        }
        drop(order);
        let (data, hasher) = (&self.edge_data, &self.hasher);
        let hash_of = |e: &EdgeIndex| hasher.hash_one(data[e.index()].as_ref().map_or(&[][..], EdgeData::id_bytes));
        self.relations.reserve(data.len(), hash_of);
        for (i, d) in data.iter().enumerate() {
            if let Some(d) = d {
                // IDs are unique in a store (they are its keys), so none replaces another.
                self.relations.insert_unique(hasher.hash_one(d.id_bytes()), EdgeIndex::new(i), hash_of);
            }
        }
    }

    /// Loads a store's relations (each ID once, as a store holds them) into an index that has
    /// none yet, laid out for traversal: petgraph chains an entity's incoming relations through
    /// its edge array in insertion order, so inserting them by target makes each entity's incoming
    /// list one contiguous run. A hub's tens of thousands of incoming relations are then read in
    /// sequence rather than one cache miss each (most of a 2-hop neighbourhood's time at 1M).
    pub fn load_relations(&mut self) -> RelationLoader<'_> {
        let resolver = Resolver { by_id: Arc::new(std::mem::take(&mut self.by_id)) };
        let fallback = self.graph.edge_count() > 0 || !self.edge_data.is_empty();
        let document_numbers =
            if fallback { Vec::new() } else { vec![u32::MAX; petgraph::visit::NodeIndexable::node_bound(&self.graph)] };
        RelationLoader { fallback, g: self, order: Vec::new(), resolver, document_numbers }
    }

    fn remove_edge(&mut self, edge: EdgeIndex) {
        self.graph.remove_edge(edge);
        if let Some(d) = self.edge_data.get_mut(edge.index()) {
            *d = None;
        }
    }

    /// The data of a live edge.
    fn data(&self, edge: EdgeIndex) -> &EdgeData {
        self.edge_data[edge.index()].as_ref().expect("a live edge has its data")
    }

    fn id_matches(&self, edge: EdgeIndex, id: &str) -> bool {
        self.edge_data.get(edge.index()).and_then(|d| d.as_ref()).is_some_and(|d| d.id_bytes() == id.as_bytes())
    }

    fn find_relation(&self, id: &str) -> Option<EdgeIndex> {
        self.relations.find(self.hasher.hash_one(id.as_bytes()), |&e| self.id_matches(e, id)).copied()
    }

    /// Takes a relation ID out of the ID table (not out of the graph); the edge it named.
    fn forget_relation_id(&mut self, id: &str) -> Option<EdgeIndex> {
        let data = &self.edge_data;
        let matches =
            |e: &EdgeIndex| data.get(e.index()).and_then(|d| d.as_ref()).is_some_and(|d| d.id_bytes() == id.as_bytes());
        let entry = self.relations.find_entry(self.hasher.hash_one(id.as_bytes()), matches).ok()?;
        Some(entry.remove().0)
    }

    /// A relation of the index, rebuilt as the model's `Relation`.
    fn relation_at(&self, edge: EdgeIndex) -> Arc<Relation> {
        let e = self.data(edge);
        let (from, to) = self.graph.edge_endpoints(edge).expect("a live edge has endpoints");
        let rest = e.rest.as_deref();
        let mut citations = Vec::with_capacity(1 + rest.map_or(0, |r| r.more_citations.len()));
        if let Some(document) = e.document() {
            citations.push(Citation {
                document: self.documents.id(document).to_owned(),
                quote: e.quote().map(String::from),
            });
        }
        if let Some(r) = rest {
            citations.extend(r.more_citations.iter().cloned());
        }
        Arc::new(Relation {
            id: e.id().to_owned(),
            kind: self.graph[edge].kind,
            from: self.graph[from].id.clone(),
            to: self.graph[to].id.clone(),
            title: rest.and_then(|r| r.title.clone()),
            order: rest.and_then(|r| r.order),
            valid_from: rest.and_then(|r| r.valid_from),
            valid_until: rest.and_then(|r| r.valid_until),
            quantities: rest.map(|r| r.quantities.clone()).unwrap_or_default(),
            citations,
            version: e.version(),
        })
    }

    pub fn remove_relation(&mut self, id: &str) -> Option<Arc<Relation>> {
        self.invalidate_rankings();
        let edge = self.forget_relation_id(id)?;
        let relation = self.relation_at(edge);
        self.remove_edge(edge);
        Some(relation)
    }

    /// Whether two indexes hold the same entities and relations (by value), whatever their
    /// internal node numbering. Used to prove that the index agrees with the store.
    pub fn same_content(&self, other: &GraphIndex) -> bool {
        self.by_id.len() == other.by_id.len()
            && self.relations.len() == other.relations.len()
            && self.by_id.keys().all(|id| self.entity(id).map(|e| &**e) == other.entity(id).map(|e| &**e))
            && self.relations.iter().all(|&e| {
                let id = self.data(e).id();
                self.relation(id) == other.relation(id)
            })
    }

    /// Every relation, in no particular order, not yet copied out of the index.
    pub fn all_relations(&self) -> impl Iterator<Item = RelationRef<'_>> + '_ {
        self.graph.edge_indices().map(move |edge| RelationRef { g: self, edge })
    }

    pub fn entity(&self, id: &str) -> Option<&Arc<Entity>> {
        self.by_id.get(id).map(|&n| &self.graph[n].entity)
    }

    pub fn entity_by_slug(&self, slug: &str) -> Option<&Arc<Entity>> {
        let node = match self.by_slug.get(slug) {
            Some(&n) => n,
            None => self.by_id.get(slug).copied().filter(|&n| self.graph[n].slug.as_str() == slug)?,
        };
        Some(&self.graph[node].entity)
    }

    pub fn relation(&self, id: &str) -> Option<Arc<Relation>> {
        self.find_relation(id).map(|e| self.relation_at(e))
    }

    /// A relation by its ID, read in place.
    pub fn relation_ref(&self, id: &str) -> Option<RelationRef<'_>> {
        self.find_relation(id).map(|edge| RelationRef { g: self, edge })
    }

    /// Entities in slug order, optionally of one kind, starting after `after` (a slug).
    pub fn entities<'a>(
        &'a self,
        kind: Option<EntityKind>,
        after: Option<&str>,
    ) -> Box<dyn Iterator<Item = &'a Arc<Entity>> + 'a> {
        use std::ops::Bound::{Excluded, Unbounded};
        let map = match kind {
            Some(k) => match self.by_kind.get(&k) {
                Some(m) => m,
                None => return Box::new(std::iter::empty()),
            },
            None => &self.all_by_slug,
        };
        let lower = match after {
            Some(a) => Excluded(a),
            None => Unbounded,
        };
        Box::new(map.range::<str, _>((lower, Unbounded)).map(move |(_, &n)| &self.graph[n].entity))
    }

    pub fn count_entities(&self, kind: Option<EntityKind>) -> usize {
        match kind {
            Some(k) => self.by_kind.get(&k).map_or(0, |m| m.len()),
            None => self.all_by_slug.len(),
        }
    }

    /// The relations of an entity, in a stable order: by `order` (unordered last), then kind
    /// name, then relation ID (the order relation cursors rely on). Empty when the entity does not exist.
    pub fn relations_of(
        &self,
        entity_id: &str,
        direction: Direction,
        kinds: Option<&[RelationKind]>,
    ) -> Vec<RelationRef<'_>> {
        let filter = RelationFilter { kinds: kinds.map(<[RelationKind]>::to_vec), ..RelationFilter::default() };
        let mut out = self.relations_where(entity_id, direction, &filter);
        // The order of relation cursors: `order` (unordered last), then kind name, then ID.
        let key = |r: &RelationRef<'_>| {
            let e = self.data(r.edge);
            (e.order().unwrap_or(i32::MAX), self.graph[r.edge].kind.as_str(), e.id())
        };
        out.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        out
    }

    /// The relations of an entity that pass `filter`, in adjacency order (no order at all: sort
    /// them with [`GraphIndex::sorted_relations`]). Each test reads the compact edge data in
    /// place; no model `Relation` is built for a candidate. Empty when the entity does not exist.
    pub fn relations_where(
        &self,
        entity_id: &str,
        direction: Direction,
        filter: &RelationFilter,
    ) -> Vec<RelationRef<'_>> {
        let Some(&node) = self.by_id.get(entity_id) else { return Vec::new() };
        let dirs: &[PgDirection] = match direction {
            Direction::Outgoing => &[PgDirection::Outgoing],
            Direction::Incoming => &[PgDirection::Incoming],
            Direction::Both => &[PgDirection::Outgoing, PgDirection::Incoming],
        };
        let mut out: Vec<RelationRef<'_>> = Vec::new();
        for &d in dirs {
            for e in self.graph.edges_directed(node, d) {
                // A self-loop shows up in both directions; list it once.
                if direction == Direction::Both && d == PgDirection::Incoming && e.source() == e.target() {
                    continue;
                }
                let other = if d == PgDirection::Outgoing { e.target() } else { e.source() };
                if filter.passes(self, e.id(), e.weight().kind, other) {
                    out.push(RelationRef { g: self, edge: e.id() });
                }
            }
        }
        out
    }

    /// An entity's number of relations, not counting `mentions` (cached; 0 when it does not
    /// exist): what tells a resolver that an entity is a hub.
    pub fn degree_of(&self, entity_id: &str) -> usize {
        let Some(&node) = self.by_id.get(entity_id) else { return 0 };
        self.degrees().get(node.index()).copied().unwrap_or(0) as usize
    }

    /// Whether an entity has at least `n` relations (counting every kind), in at most `n` steps:
    /// how a resolver tells a hub, whose page is worth the trip off the worker, without
    /// counting all of its relations on the worker.
    pub fn has_relations(&self, entity_id: &str, n: usize) -> bool {
        let Some(&node) = self.by_id.get(entity_id) else { return false };
        self.graph
            .edges_directed(node, PgDirection::Outgoing)
            .chain(self.graph.edges_directed(node, PgDirection::Incoming))
            .take(n)
            .count()
            >= n
    }

    /// One page of `relations` (of `entity_id`, as [`GraphIndex::relations_where`] gave them)
    /// in the order `sort`, ascending or `descending`, after the boundary `after` (a key and a
    /// relation ID, from a cursor): the first `first` of them in order, each with its key, and
    /// how many relations come after the boundary in all.
    ///
    /// The order is total (see [`compare_keyed`]: missing keys last in both directions, ties by
    /// relation ID), so a boundary finds its place even after its own relation is gone. Keys are
    /// made once per relation and cheaply: a kind is a static name, a date is copied, the other
    /// end's name is its search key (folded when the index was built), and only titles are
    /// folded here. Only the page is sorted: the relations past the boundary are cut to the
    /// page by a linear-time selection, so a hub's 100,000 relations are not sorted whole.
    pub fn relation_page<'g>(
        &'g self,
        entity_id: &str,
        relations: Vec<RelationRef<'g>>,
        order: (RelationSort, bool),
        after: Option<(Option<&RelationSortKey<'_>>, &str)>,
        first: usize,
    ) -> (Vec<(Option<RelationSortKey<'g>>, RelationRef<'g>)>, usize) {
        let (sort, descending) = order;
        let center = self.by_id.get(entity_id).copied();
        let cmp = |a: &(Option<RelationSortKey<'g>>, RelationRef<'g>),
                   b: &(Option<RelationSortKey<'g>>, RelationRef<'g>)| {
            compare_keyed(a.0.as_ref(), a.1.id(), b.0.as_ref(), b.1.id(), descending)
        };
        let mut keyed: Vec<(Option<RelationSortKey<'g>>, RelationRef<'g>)> =
            relations.into_iter().map(|r| (self.relation_sort_key(r, sort, center), r)).collect();
        if let Some((key, id)) = after {
            keyed.retain(|(k, r)| compare_keyed(k.as_ref(), r.id(), key, id, descending).is_gt());
        }
        let remaining = keyed.len();
        if keyed.len() > first {
            if first == 0 {
                keyed.clear();
            } else {
                keyed.select_nth_unstable_by(first - 1, cmp);
                keyed.truncate(first);
            }
        }
        keyed.sort_unstable_by(cmp);
        (keyed, remaining)
    }

    fn relation_sort_key<'g>(
        &'g self,
        r: RelationRef<'g>,
        sort: RelationSort,
        center: Option<NodeIndex>,
    ) -> Option<RelationSortKey<'g>> {
        let e = self.data(r.edge);
        let kind = self.graph[r.edge].kind;
        match sort {
            RelationSort::Default => Some(RelationSortKey::Default(e.order().unwrap_or(i32::MAX), kind.as_str())),
            RelationSort::Kind => Some(RelationSortKey::Kind(kind.as_str())),
            RelationSort::Date => {
                let (from, until) = e.period();
                from.or(until).map(RelationSortKey::Date)
            }
            RelationSort::Title => e.title().map(|t| RelationSortKey::Text(Cow::Owned(normalize(t)))),
            RelationSort::OtherName => {
                let (a, b) = self.graph.edge_endpoints(r.edge)?;
                let other = if Some(a) == center { b } else { a };
                // The search keys start with the name, folded as `normalize` folds.
                self.keys
                    .get(other.index())
                    .and_then(|k| k.first())
                    .map(|k| RelationSortKey::Text(Cow::Borrowed(k.as_str())))
            }
        }
    }
}

/// What a page of an entity's relations keeps (all of it must hold).
#[derive(Debug, Clone, Default)]
pub struct RelationFilter {
    /// Only these kinds.
    pub kinds: Option<Vec<RelationKind>>,
    /// The title contains this, both folded by [`normalize`] (case, accents, punctuation).
    pub title_contains: Option<String>,
    /// Valid on some day of each window (see [`DateWindow`]).
    pub dates: Vec<DateWindow>,
    /// The other end is of one of these kinds.
    pub other_kinds: Option<Vec<EntityKind>>,
    /// Cites this document (an entity ID).
    pub cited_document: Option<String>,
}

impl RelationFilter {
    /// Cheapest tests first: the kind is petgraph's, the other end's kind a byte array, the
    /// rest one read of the edge data.
    fn passes(&self, g: &GraphIndex, edge: EdgeIndex, kind: RelationKind, other: NodeIndex) -> bool {
        if self.kinds.as_ref().is_some_and(|ks| !ks.contains(&kind)) {
            return false;
        }
        if self.other_kinds.as_ref().is_some_and(|ks| !ks.contains(&g.kind_of(other))) {
            return false;
        }
        let e = g.data(edge);
        if !self.dates.iter().all(|w| e.valid_in(w)) {
            return false;
        }
        if let Some(needle) = &self.title_contains {
            if !e.title().is_some_and(|t| normalize(t).contains(needle.as_str())) {
                return false;
            }
        }
        self.cited_document.as_deref().is_none_or(|d| e.documents(&g.documents).any(|x| x == d))
    }
}

/// The orders an entity's relations can be listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationSort {
    /// `order` (unordered last), then kind name: the order relation pages have always had.
    Default,
    /// `validFrom`, or `validUntil` when only that is known (dates ordered as `PartialDate`s: a
    /// year before its months).
    Date,
    /// The kind's name.
    Kind,
    /// The title, folded for comparison (case, accents and punctuation ignored).
    Title,
    /// The other end's name, folded likewise.
    OtherName,
}

/// A relation's sort key under one [`RelationSort`]; only keys of one order are compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RelationSortKey<'g> {
    Default(i32, &'static str),
    Date(PartialDate),
    Kind(&'static str),
    Text(Cow<'g, str>),
}

/// The total order of a sorted relation list: by key (ascending or descending), a missing key
/// after every present one in both directions, then by relation ID in the same direction.
pub fn compare_keyed(
    a_key: Option<&RelationSortKey<'_>>,
    a_id: &str,
    b_key: Option<&RelationSortKey<'_>>,
    b_id: &str,
    descending: bool,
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let turn = |o: Ordering| if descending { o.reverse() } else { o };
    let by_key = match (a_key, b_key) {
        (Some(x), Some(y)) => turn(x.cmp(y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_key.then_with(|| turn(a_id.cmp(b_id)))
}

impl GraphIndex {
    /// The entities a name search looks at, from the word index, each once: those with a word
    /// starting with the query's longest word (the most selective), or whose key without spaces
    /// starts with the query without spaces. `q_words` and `q_compact` are the normalized query's
    /// words and the query without its spaces.
    pub(crate) fn name_candidates(&self, q_words: &[&str], q_compact: &str) -> Vec<NodeIndex> {
        let longest = q_words.iter().copied().max_by_key(|w| w.len()).unwrap_or("");
        let mut candidates: Vec<NodeIndex> = Vec::new();
        for prefix in [longest, q_compact] {
            for (_, nodes) in self.words.range(prefix.to_string()..).take_while(|(w, _)| w.starts_with(prefix)) {
                candidates.extend_from_slice(nodes);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }

    /// Entities whose name or an alias matches `query`, best first.
    ///
    /// Matching ignores case, accents, punctuation and hyphens. Ranking: whole name or alias equal
    /// to the query; then one that starts with it; then one whose words all start with the query's
    /// words; then one that contains it. Ties go to the name (over an alias), then the shorter key,
    /// then the slug.
    pub fn search(&self, query: &str, kinds: Option<&[EntityKind]>, limit: usize) -> Vec<&Arc<Entity>> {
        let q = normalize(query);
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let q_compact: String = q.split(' ').collect();
        let q_words: Vec<&str> = q.split(' ').collect();
        let candidates = self.name_candidates(&q_words, &q_compact);
        let mut hits: Vec<(u32, usize, NodeIndex)> = Vec::new();
        // Reused for every key: a query's thousands of candidates must not cost an allocation each.
        let mut key_compact = String::new();
        for node in candidates {
            let entity = &self.graph[node];
            if kinds.is_some_and(|ks| !ks.contains(&entity.kind)) {
                continue;
            }
            let mut best: Option<(u32, usize)> = None;
            for (i, key) in self.keys[node.index()].iter().enumerate() {
                let score = score(key, &mut key_compact, &q, &q_compact, &q_words);
                if score == 0 {
                    continue;
                }
                // Higher score wins; the name (i == 0) beats an alias at the same score.
                let rank = score * 2 + u32::from(i == 0);
                if best.is_none_or(|(b, _)| rank > b) {
                    best = Some((rank, key.len()));
                }
            }
            if let Some((rank, len)) = best {
                hits.push((rank, len, node));
            }
        }
        // Slugs are unique, so the order is total: select the best `limit`, then sort only them.
        // The slug (behind a pointer) is read only to break a tie.
        let order = |a: &(u32, usize, NodeIndex), b: &(u32, usize, NodeIndex)| {
            b.0.cmp(&a.0)
                .then(a.1.cmp(&b.1))
                .then_with(|| self.graph[a.2].slug.as_str().cmp(self.graph[b.2].slug.as_str()))
        };
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit - 1, order);
            hits.truncate(limit);
        }
        hits.sort_unstable_by(order);
        hits.into_iter().map(|(_, _, n)| &self.graph[n].entity).collect()
    }
}

/// An entity's search keys: its name, then its aliases, each normalized (see [`normalize`]),
/// each once (an alias that differs from the name only in case or accents adds nothing).
fn search_keys(entity: &Entity) -> Box<[String]> {
    let mut keys: Vec<String> = Vec::with_capacity(1 + entity.aliases.len());
    for key in std::iter::once(&entity.name).chain(&entity.aliases).map(|s| normalize(s)) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_boxed_slice()
}

/// The words a set of search keys is found by: each word, and each key without its spaces.
fn index_words(keys: &[String]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for k in keys {
        out.extend(k.split(' ').filter(|w| !w.is_empty()).map(String::from));
        out.insert(k.split(' ').collect());
    }
    out
}

/// How well a normalized key matches the query: 4 exactly, 3 as a prefix, 2 when every query
/// word starts a word of the key, 1 as a substring, 0 not at all. `key_compact` is scratch space.
fn score(key: &str, key_compact: &mut String, q: &str, q_compact: &str, q_words: &[&str]) -> u32 {
    key_compact.clear();
    key_compact.extend(key.split(' '));
    let key_compact = key_compact.as_str();
    if key == q || key_compact == q_compact {
        return 4;
    }
    if key.starts_with(q) || key_compact.starts_with(q_compact) {
        return 3;
    }
    if q_words.iter().all(|qw| key.split(' ').any(|kw| kw.starts_with(qw))) {
        return 2;
    }
    if key.contains(q) || key_compact.contains(q_compact) {
        return 1;
    }
    0
}

/// Folds text for matching: decomposes and drops accents, lowercases, turns every run of
/// non-alphanumeric characters (hyphens, apostrophes, punctuation, spaces) into one space.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Citation, Slug};

    fn entity(slug: &str, kind: EntityKind, name: &str, aliases: &[&str]) -> Entity {
        Entity {
            id: slug.into(),
            slug: Slug::parse(slug).unwrap(),
            kind,
            subtype: None,
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            summary: None,
            date: None,
            extra: Default::default(),
            version: 1,
        }
    }

    fn relation(id: &str, kind: RelationKind, from: &str, to: &str) -> Relation {
        Relation {
            id: id.into(),
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

    fn sample() -> GraphIndex {
        GraphIndex::build(
            vec![
                entity("iom", EntityKind::Organization, "International Organization for Migration", &["IOM"]),
                entity("michele-klein-solomon", EntityKind::Person, "Michele Klein-Solomon", &["Klein Solomon"]),
                entity("cesia-chavarria", EntityKind::Person, "Cesia Chavarría", &[]),
                entity("doc", EntityKind::Document, "A press release", &[]),
            ],
            vec![
                relation("r1", RelationKind::HoldsRole, "michele-klein-solomon", "iom"),
                relation("r2", RelationKind::Mentions, "doc", "iom"),
                relation("r3", RelationKind::Mentions, "doc", "michele-klein-solomon"),
            ],
            1,
        )
        .unwrap()
    }

    #[test]
    fn normalize_folds_case_accents_and_punctuation() {
        assert_eq!(normalize("Cesia Chavarría"), "cesia chavarria");
        assert_eq!(normalize("  Klein-Solomon "), "klein solomon");
        assert_eq!(normalize("Dall’Oglio"), "dall oglio");
        assert_eq!(normalize("Türkiye"), "turkiye");
    }

    #[test]
    fn the_word_index_follows_renames_and_removals() {
        let mut g =
            GraphIndex::build(vec![entity("a", EntityKind::Person, "Ana Perez", &["A. P."])], vec![], 1).unwrap();
        assert_eq!(g.search("perez", None, 5).len(), 1);
        g.upsert_entity(entity("a", EntityKind::Person, "Bo Chen", &[]));
        assert!(g.search("perez", None, 5).is_empty(), "the old name is gone");
        assert_eq!(g.search("chen", None, 5).len(), 1);
        assert_eq!(g.search("bochen", None, 5).len(), 1, "a key without its spaces");
        g.remove_entity("a");
        assert!(g.search("chen", None, 5).is_empty());
        assert!(g.words.is_empty());
    }

    #[test]
    fn search_finds_any_spelling_best_first() {
        let g = sample();
        let slugs = |q: &str| g.search(q, None, 10).iter().map(|e| e.slug.to_string()).collect::<Vec<_>>();
        assert_eq!(slugs("klein solomon"), ["michele-klein-solomon"]);
        assert_eq!(slugs("KLEINSOLOMON"), ["michele-klein-solomon"]);
        assert_eq!(slugs("chavarria"), ["cesia-chavarria"]);
        assert_eq!(slugs("iom")[0], "iom");
        assert!(slugs("nobody").is_empty());
        assert!(g.search("iom", Some(&[EntityKind::Person]), 10).is_empty());
    }

    #[test]
    fn relations_by_direction_and_kind() {
        let g = sample();
        assert_eq!(g.relations_of("iom", Direction::Incoming, None).len(), 2);
        assert_eq!(g.relations_of("iom", Direction::Outgoing, None).len(), 0);
        assert_eq!(g.relations_of("iom", Direction::Both, Some(&[RelationKind::HoldsRole])).len(), 1);
    }

    #[test]
    fn removing_an_entity_removes_its_relations_and_keeps_other_ids_valid() {
        let mut g = sample();
        g.remove_entity("michele-klein-solomon").unwrap();
        assert!(g.relation("r1").is_none() && g.relation("r3").is_none());
        assert_eq!(g.relation("r2").unwrap().to, "iom");
        // The freed slot is reused by the next node; lookups by ID must not be confused by it.
        g.upsert_entity(entity("new", EntityKind::Place, "Somewhere", &[]));
        assert_eq!(g.entity("new").unwrap().name, "Somewhere");
        assert_eq!(g.entity("iom").unwrap().slug.as_str(), "iom");
        assert!(g.entity_by_slug("michele-klein-solomon").is_none());
        assert_eq!(g.count_entities(Some(EntityKind::Person)), 1);
    }

    #[test]
    fn a_relation_comes_out_of_the_index_as_it_went_in() {
        let mut g = sample();
        let full = Relation {
            title: Some("Director General".into()),
            order: Some(3),
            valid_from: Some(PartialDate::parse("2023-10").unwrap()),
            valid_until: Some(PartialDate::parse("2024").unwrap()),
            quantities: vec![crate::domain::Quantity {
                name: "staff".into(),
                value: 12.5,
                unit: "people".into(),
                quote: Some("12.5 people".into()),
                document: Some("doc".into()),
            }],
            citations: vec![
                Citation { document: "doc".into(), quote: Some("She leads IOM.".into()) },
                Citation { document: "not-in-the-graph".into(), quote: None },
            ],
            version: 7,
            ..relation("full", RelationKind::HoldsRole, "michele-klein-solomon", "iom")
        };
        let bare = Relation { citations: vec![], ..relation("bare", RelationKind::Funds, "iom", "iom") };
        g.upsert_relation(full.clone()).unwrap();
        g.upsert_relation(bare.clone()).unwrap();
        assert_eq!(*g.relation("full").unwrap(), full);
        assert_eq!(*g.relation("bare").unwrap(), bare);
        let r1 = g.relations_of("iom", Direction::Both, None);
        let ids: Vec<&str> = r1.iter().map(|r| r.id()).collect();
        assert_eq!(ids, ["full", "bare", "r1", "r2"], "ordered first, then by kind name, then ID");
        assert!(r1[0].cites("not-in-the-graph") && !r1[1].cites("doc"));
        assert_eq!(g.remove_relation("full").as_deref(), Some(&full));
        assert!(g.relation("full").is_none());
        // Removing an entity takes its relations (a self-loop among them) out of the ID table too.
        g.remove_entity("iom").unwrap();
        assert!(g.relation("bare").is_none() && g.relation("r1").is_none() && g.relation("r2").is_none());
        assert_eq!(g.relation_count(), 1);
        assert_eq!(g.relation("r3").unwrap().to, "michele-klein-solomon");
        g.upsert_relation(relation("r3", RelationKind::Concerns, "doc", "doc")).unwrap();
        assert_eq!((g.relation_count(), g.relation("r3").unwrap().kind), (1, RelationKind::Concerns), "replaced");
    }

    #[test]
    fn relations_loaded_by_target_equal_relations_upserted_one_by_one() {
        let (es, rs) = crate::synthetic::generate(300, 1_500, 3);
        let one_by_one = GraphIndex::build(es.clone(), rs.clone(), 1).unwrap();
        let mut loaded = GraphIndex::default();
        let mut entities = loaded.load_entities();
        for e in es.iter().rev().cloned() {
            entities.add(e);
        }
        entities.finish();
        for kind in [None, Some(EntityKind::Office), Some(EntityKind::Document)] {
            let slugs = |g: &GraphIndex| g.entities(kind, None).map(|e| e.slug.to_string()).collect::<Vec<_>>();
            assert_eq!(slugs(&loaded), slugs(&one_by_one));
            assert_eq!(loaded.count_entities(kind), one_by_one.count_entities(kind));
        }
        // The word index names the same entities under the same words (node numbers differ: the
        // entities came in the other order).
        let words = |g: &GraphIndex| {
            g.words
                .iter()
                .map(|(w, ns)| {
                    let mut slugs: Vec<&str> = ns.iter().map(|&n| g.graph[n].slug.as_str()).collect();
                    slugs.sort_unstable();
                    (w.clone(), slugs.join(" "))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(words(&loaded), words(&one_by_one));
        for q in ["ka", "lo mi", "KALO"] {
            let found = |g: &GraphIndex| g.search(q, None, 10).iter().map(|e| e.id.clone()).collect::<Vec<_>>();
            assert_eq!(found(&loaded), found(&one_by_one), "search {q}");
        }
        let mut loader = loaded.load_relations();
        loader.reserve(rs.len());
        let resolver = loader.resolver();
        for r in rs.iter().rev() {
            let stored = serde_json::to_vec(r).unwrap();
            loader.add(resolver.prepare(serde_json::from_slice(&stored).unwrap()).unwrap());
        }
        drop(resolver);
        loader.finish();
        assert!(loaded.same_content(&one_by_one));
        for r in rs.iter().step_by(37) {
            assert_eq!(*loaded.relation(&r.id).unwrap(), *r);
            let listed = |g: &GraphIndex| {
                g.relations_of(&r.to, Direction::Both, None).iter().map(|x| x.id().to_owned()).collect::<Vec<_>>()
            };
            assert_eq!(listed(&loaded), listed(&one_by_one));
        }
        // Incoming relations are laid out by target: each entity's are one run of edge indices.
        for n in loaded.graph.node_indices() {
            let mut idx: Vec<usize> =
                loaded.graph.edges_directed(n, PgDirection::Incoming).map(|e| e.id().index()).collect();
            idx.sort_unstable();
            assert!(idx.windows(2).all(|w| w[1] == w[0] + 1), "incoming edges of {n:?} are not contiguous");
        }
        // Later edits go through the ordinary path.
        let first = rs[0].clone();
        loaded.remove_relation(&first.id).unwrap();
        assert!(loaded.relation(&first.id).is_none());
        loaded.upsert_relation(first.clone()).unwrap();
        assert_eq!(*loaded.relation(&first.id).unwrap(), first);
        assert!(loaded.same_content(&one_by_one));
    }

    #[test]
    fn slugs_that_are_not_ids_and_renames() {
        let with = |id: &str, slug: &str| Entity { id: id.into(), ..entity(slug, EntityKind::Place, "P", &[]) };
        let mut g = GraphIndex::build(vec![with("x", "y"), with("y", "z"), with("w", "w")], vec![], 1).unwrap();
        let found = |g: &GraphIndex, slug: &str| g.entity_by_slug(slug).map(|e| e.id.clone());
        assert_eq!(found(&g, "y").as_deref(), Some("x"));
        assert_eq!(found(&g, "z").as_deref(), Some("y"));
        assert_eq!(found(&g, "w").as_deref(), Some("w"));
        assert_eq!(found(&g, "x"), None, "an ID is not a slug");
        g.upsert_entity(with("x", "x"));
        assert_eq!((found(&g, "x").as_deref(), found(&g, "y").as_deref()), (Some("x"), None));
        g.upsert_entity(with("w", "v"));
        assert_eq!((found(&g, "v").as_deref(), found(&g, "w")), (Some("w"), None));
        g.remove_entity("y");
        assert_eq!(found(&g, "z"), None);
        assert_eq!(g.entities(None, None).map(|e| e.slug.to_string()).collect::<Vec<_>>(), ["v", "x"]);
    }

    #[test]
    fn dangling_relations_are_refused() {
        let mut g = sample();
        assert!(g.upsert_relation(relation("r9", RelationKind::Funds, "iom", "ghost")).is_err());
    }

    #[test]
    fn entities_page_in_slug_order_after_a_cursor() {
        let g = sample();
        let page: Vec<_> = g.entities(None, Some("doc")).map(|e| e.slug.to_string()).collect();
        assert_eq!(page, ["iom", "michele-klein-solomon"]);
    }

    /// iom with five roles and a mention: dated, undated, titled, untitled, to people and an office.
    fn roles() -> GraphIndex {
        let d = |s: &str| Some(PartialDate::parse(s).unwrap());
        let role = |id: &str, from: &str, title: Option<&str>, valid: (Option<PartialDate>, Option<PartialDate>)| {
            let mut r = relation(id, RelationKind::HoldsRole, from, "iom");
            r.title = title.map(String::from);
            (r.valid_from, r.valid_until) = valid;
            r
        };
        let mut cited = relation("r6", RelationKind::OfficeOf, "office", "iom");
        cited.citations = vec![Citation { document: "other-doc".into(), quote: None }];
        GraphIndex::build(
            vec![
                entity("iom", EntityKind::Organization, "International Organization for Migration", &[]),
                entity("ana", EntityKind::Person, "Ána Pérez", &[]),
                entity("bo", EntityKind::Person, "Bo Chen", &[]),
                entity("cy", EntityKind::Person, "Cy Doe", &[]),
                entity("office", EntityKind::Office, "An Office", &[]),
                entity("doc", EntityKind::Document, "A press release", &[]),
                entity("other-doc", EntityKind::Document, "Another", &[]),
            ],
            vec![
                role("r1", "ana", Some("Director-General"), (d("2018-10"), d("2023-09-30"))),
                role("r2", "bo", Some("director general"), (d("2023-10"), None)),
                role("r3", "cy", Some("Deputy Director General"), (None, None)),
                role("r4", "cy", None, (None, d("2019"))),
                cited,
                relation("r5", RelationKind::Mentions, "doc", "iom"),
            ],
            1,
        )
        .unwrap()
    }

    fn ids<'g>(rs: impl IntoIterator<Item = RelationRef<'g>>) -> Vec<&'g str> {
        let mut v: Vec<&str> = rs.into_iter().map(|r| r.id()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn relation_filters_are_tested_on_the_adjacency() {
        let g = roles();
        let d = |s: &str| PartialDate::parse(s).unwrap();
        let with = |f: RelationFilter| ids(g.relations_where("iom", Direction::Both, &f));
        assert_eq!(with(RelationFilter::default()), ["r1", "r2", "r3", "r4", "r5", "r6"]);
        // Who held the role on 1 March 2025: bo (from 2023-10), and cy's undated title unless strict.
        let at = |s: &str, strict: bool| RelationFilter {
            kinds: Some(vec![RelationKind::HoldsRole]),
            dates: vec![DateWindow::at(d(s), strict)],
            ..RelationFilter::default()
        };
        assert_eq!(with(at("2025-03-01", false)), ["r2", "r3"]);
        assert_eq!(with(at("2025-03-01", true)), ["r2"]);
        // A month both held in: each may have held it on some day of it.
        assert_eq!(with(at("2023-09", true)), ["r1"]);
        assert_eq!(with(at("2023", true)), ["r1", "r2"]);
        assert_eq!(with(at("2018", true)), ["r1", "r4"]);
        let title = |t: &str| RelationFilter { title_contains: Some(normalize(t)), ..RelationFilter::default() };
        assert_eq!(with(title("DIRECTOR-general")), ["r1", "r2", "r3"]);
        assert_eq!(with(title("deputy")), ["r3"]);
        let other = RelationFilter { other_kinds: Some(vec![EntityKind::Office]), ..RelationFilter::default() };
        assert_eq!(with(other), ["r6"]);
        let cites = RelationFilter { cited_document: Some("other-doc".into()), ..RelationFilter::default() };
        assert_eq!(with(cites), ["r6"]);
        let range = RelationFilter {
            dates: vec![DateWindow { from: Some(d("2019-06")), to: Some(d("2020")), strict: true }],
            ..RelationFilter::default()
        };
        // r4 held until some day of 2019: it may have held in June 2019.
        assert_eq!(with(range), ["r1", "r4"]);
        assert!(g.relations_where("nobody", Direction::Both, &RelationFilter::default()).is_empty());
        assert!(g.has_relations("iom", 6) && !g.has_relations("iom", 7));
    }

    #[test]
    fn relation_pages_are_ordered_with_missing_keys_last_and_resume_after_a_boundary() {
        let g = roles();
        let all = || g.relations_where("iom", Direction::Both, &RelationFilter::default());
        let page = |sort: RelationSort, desc: bool| -> Vec<&str> {
            g.relation_page("iom", all(), (sort, desc), None, 100).0.iter().map(|(_, r)| r.id()).collect()
        };
        // By date (validFrom, else validUntil): undated last in both directions.
        assert_eq!(page(RelationSort::Date, false), ["r1", "r4", "r2", "r3", "r5", "r6"]);
        assert_eq!(page(RelationSort::Date, true), ["r2", "r4", "r1", "r6", "r5", "r3"]);
        // By title, folded: "director general" twice, tied by ID; untitled last.
        assert_eq!(page(RelationSort::Title, false), ["r3", "r1", "r2", "r4", "r5", "r6"]);
        assert_eq!(page(RelationSort::Title, true), ["r2", "r1", "r3", "r6", "r5", "r4"]);
        assert_eq!(page(RelationSort::Kind, false), ["r1", "r2", "r3", "r4", "r5", "r6"]);
        // The other end's name, folded ("Ána" as "ana").
        assert_eq!(page(RelationSort::OtherName, false), ["r5", "r6", "r1", "r2", "r3", "r4"]);
        // The default order is relations_of's.
        let default: Vec<&str> = g.relations_of("iom", Direction::Both, None).iter().map(|r| r.id()).collect();
        assert_eq!(page(RelationSort::Default, false), default);
        // Paging in twos after each page's last key gives every relation once, in order, and
        // says how many were left after each boundary; a boundary whose relation is gone holds.
        for sort in [
            RelationSort::Default,
            RelationSort::Date,
            RelationSort::Kind,
            RelationSort::Title,
            RelationSort::OtherName,
        ] {
            for desc in [false, true] {
                let whole = page(sort, desc);
                let mut seen: Vec<&str> = Vec::new();
                let mut after: Option<(Option<RelationSortKey<'_>>, &str)> = None;
                loop {
                    let (rows, remaining) =
                        g.relation_page("iom", all(), (sort, desc), after.as_ref().map(|(k, id)| (k.as_ref(), *id)), 2);
                    assert_eq!(remaining, whole.len() - seen.len());
                    let Some(last) = rows.last() else { break };
                    after = Some((last.0.clone(), last.1.id()));
                    seen.extend(rows.iter().map(|(_, r)| r.id()));
                }
                assert_eq!(seen, whole, "{sort:?} desc={desc}");
            }
        }
        let gone = Some(RelationSortKey::Date(PartialDate::parse("2020").unwrap()));
        let (rows, remaining) =
            g.relation_page("iom", all(), (RelationSort::Date, false), Some((gone.as_ref(), "r0")), 1);
        assert_eq!((rows[0].1.id(), remaining), ("r2", 4));
    }
}
