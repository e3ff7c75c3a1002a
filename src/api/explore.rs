//! Exploring connections: paths, common ground, neighbourhoods, timelines and rankings, over
//! the algorithms of `graph::algo`.

use async_graphql::{Context, Enum, ErrorExtensions, Object, Result, SimpleObject, ID};

use super::error::ApiError;
use super::relations::valid_at_arg;
use super::types::{
    decode_cursor, encode_cursor, page_size, view, Entity, EntityKind, PageInfo, Relation, RelationKind, MAX_PAGE,
};
use super::work::off_worker;
use crate::domain::{self, DateWindow, PartialDate};
use crate::graph::algo::{self, PathRanking as AlgoRanking, StepFilter, TimelineItem as AlgoItem};
use crate::graph::GraphIndex;

/// The longest path the API searches for.
pub const MAX_PATH_LENGTH: i32 = 8;
/// Node expansions one `paths` search may make before it stops and says so.
const PATH_BUDGET: usize = 200_000;

#[derive(Default)]
pub struct ExploreQuery;

/// An entity named by its global ID (`Person:joe-biden`) or its slug (`joe-biden`).
pub fn entity_ref(g: &GraphIndex, argument: &'static str, r: &str) -> Result<String> {
    let found = match r.split_once(':') {
        Some((ty, key)) => g.entity(key).filter(|e| super::types::type_name(e.kind) == ty),
        None => g.entity_by_slug(r),
    };
    found.map(|e| e.id.clone()).ok_or_else(|| {
        async_graphql::Error::new(format!("`{argument}`: no entity `{r}`")).extend_with(|_, e| {
            e.set("code", super::error::code::NOT_FOUND);
            e.set("argument", argument);
        })
    })
}

/// How paths are ranked.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum PathRanking {
    /// Fewest relations first.
    FewestHops,
    /// Each step into an entity costs `1 + ln(1 + degree)` (degree not counting `mentions`), so
    /// a path through specific entities ranks before one of similar length through hubs such
    /// as IOM itself. The default. On a very large graph the weighed search is bounded
    /// (20,000 relations examined); past that it answers with the fewest-hops path.
    AvoidHubs,
}

impl From<PathRanking> for AlgoRanking {
    fn from(r: PathRanking) -> Self {
        match r {
            PathRanking::FewestHops => AlgoRanking::FewestHops,
            PathRanking::AvoidHubs => AlgoRanking::AvoidHubs,
        }
    }
}

/// Which way a path step follows its relation.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum StepDirection {
    /// Along the relation, `from` → `to`.
    Forward,
    /// Against it: the path goes from the relation's `to` to its `from`.
    Backward,
}

/// One step of a path: the relation taken (with its citations) and the entity it leads to.
pub struct PathStep(algo::Step);

#[Object]
impl PathStep {
    /// The relation this step follows; its `citations` say where it is written.
    async fn relation(&self) -> Relation {
        Relation(self.0.relation.clone())
    }
    /// Whether the step goes along the relation or against it.
    async fn direction(&self) -> StepDirection {
        if self.0.forward {
            StepDirection::Forward
        } else {
            StepDirection::Backward
        }
    }
    /// The entity the step arrives at.
    async fn entity(&self) -> Entity {
        Entity::from(self.0.entity.clone())
    }
}

/// A path between two entities: where it starts and each step from there.
pub struct Path(algo::Path);

#[Object]
impl Path {
    /// Number of relations.
    async fn length(&self) -> usize {
        self.0.steps.len()
    }
    /// The ranking cost (hops, or hub-weighted hops); lower is better.
    async fn cost(&self) -> f64 {
        self.0.cost
    }
    /// The first entity.
    async fn start(&self) -> Entity {
        Entity::from(self.0.start.clone())
    }
    /// The last entity.
    async fn end(&self) -> Entity {
        Entity::from(self.0.steps.last().map(|s| s.entity.clone()).unwrap_or_else(|| self.0.start.clone()))
    }
    /// The steps in order.
    async fn steps(&self) -> Vec<PathStep> {
        self.0.steps.iter().cloned().map(PathStep).collect()
    }
}

/// Paths between two entities, best first.
#[derive(SimpleObject)]
pub struct PathList {
    /// The paths, best first.
    pub paths: Vec<Path>,
    /// True when the search stopped at its work limit: there may be more or better paths;
    /// ask for a shorter `maxLength` or narrower `kinds`.
    pub truncated: bool,
}

/// An entity two others are both directly related to.
pub struct CommonNeighbor(algo::Common);

#[Object]
impl CommonNeighbor {
    /// The shared entity.
    async fn entity(&self) -> Entity {
        Entity::from(self.0.entity.clone())
    }
    /// The relations between `a` and it.
    async fn via_a(&self) -> Vec<Relation> {
        self.0.via_a.iter().cloned().map(Relation).collect()
    }
    /// The relations between `b` and it.
    async fn via_b(&self) -> Vec<Relation> {
        self.0.via_b.iter().cloned().map(Relation).collect()
    }
}

/// How many neighbours of one kind were left out of a neighbourhood by its cap.
#[derive(SimpleObject)]
pub struct OmittedCount {
    /// Their kind.
    pub kind: EntityKind,
    /// How many.
    pub count: usize,
}

/// A node of a neighbourhood.
#[derive(SimpleObject)]
pub struct NeighborhoodNode {
    /// The entity.
    pub entity: Entity,
    /// Relations between it and the centre.
    pub depth: usize,
    /// Neighbours of this node not in the picture, by kind ("and 140 more offices").
    pub omitted: Vec<OmittedCount>,
    /// The total of `omitted`.
    pub omitted_total: usize,
}

/// A sub-graph around an entity, ready to draw.
#[derive(SimpleObject)]
pub struct Neighborhood {
    /// The entity at the centre.
    pub center: Entity,
    /// The entities in the picture, the centre first, then by distance.
    pub nodes: Vec<NeighborhoodNode>,
    /// Every allowed relation between two entities of the picture.
    pub edges: Vec<Relation>,
}

/// What a timeline item marks.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum TimelineItemKind {
    /// An entity's date: an event happened, an order was signed, a document published.
    EntityDate,
    /// The end of an entity's period.
    EntityEnd,
    /// A relation is known to hold from this date.
    RelationStart,
    /// A relation holds until this date.
    RelationEnd,
}

/// One dated item of a timeline.
pub struct TimelineItem(AlgoItem);

#[Object]
impl TimelineItem {
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    async fn date(&self) -> String {
        self.0.date().to_string()
    }
    /// What the date marks.
    async fn kind(&self) -> TimelineItemKind {
        match &self.0 {
            AlgoItem::Entity { end: false, .. } => TimelineItemKind::EntityDate,
            AlgoItem::Entity { end: true, .. } => TimelineItemKind::EntityEnd,
            AlgoItem::Relation { end: false, .. } => TimelineItemKind::RelationStart,
            AlgoItem::Relation { end: true, .. } => TimelineItemKind::RelationEnd,
        }
    }
    /// The dated entity, for entity items.
    async fn entity(&self) -> Option<Entity> {
        match &self.0 {
            AlgoItem::Entity { entity, .. } => Some(Entity::from(entity.clone())),
            AlgoItem::Relation { .. } => None,
        }
    }
    /// The dated relation, for relation items.
    async fn relation(&self) -> Option<Relation> {
        match &self.0 {
            AlgoItem::Relation { relation, .. } => Some(Relation(relation.clone())),
            AlgoItem::Entity { .. } => None,
        }
    }
}

/// An edge of a `TimelineConnection`.
#[derive(SimpleObject)]
pub struct TimelineEdge {
    /// Opaque position; pass it as `after`.
    pub cursor: String,
    /// The item.
    pub node: TimelineItem,
}

/// Dated items in date order, a page at a time.
#[derive(SimpleObject)]
pub struct TimelineConnection {
    /// The items of this page.
    pub edges: Vec<TimelineEdge>,
    /// Where this page is.
    pub page_info: PageInfo,
    /// How many items, across all pages.
    pub total_count: usize,
}

/// What to rank entities by.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum RankingMeasure {
    /// Number of relations (not counting `mentions`).
    Degree,
    /// PageRank over relations in both directions (not counting `mentions`).
    PageRank,
}

/// An entity with its place in a ranking.
#[derive(SimpleObject)]
pub struct RankedEntity {
    /// 1 for the first.
    pub rank: usize,
    /// The entity.
    pub entity: Entity,
    /// Its number of relations (not counting `mentions`).
    pub degree: usize,
    /// Its PageRank.
    pub page_rank: f64,
}

fn filter(
    kinds: Option<Vec<RelationKind>>,
    exclude: Option<Vec<EntityKind>>,
    include_provenance: bool,
    directed: bool,
    valid: Option<DateWindow>,
) -> StepFilter {
    StepFilter {
        relation_kinds: kinds.map(|ks| ks.into_iter().map(Into::into).collect()),
        exclude_entity_kinds: exclude.unwrap_or_default().into_iter().map(Into::into).collect(),
        include_provenance,
        directed,
        valid,
    }
}

fn path_length(max_length: i32) -> Result<usize> {
    if !(1..=MAX_PATH_LENGTH).contains(&max_length) {
        return Err(ApiError::bad_input(
            "maxLength",
            format!("must be between 1 and {MAX_PATH_LENGTH} (got {max_length})"),
        )
        .extend());
    }
    Ok(max_length as usize)
}

fn date_arg(argument: &'static str, v: Option<String>) -> Result<Option<PartialDate>> {
    v.map(|s| PartialDate::parse(&s).map_err(|e| ApiError::bad_input(argument, e.0).extend())).transpose()
}

#[Object]
impl ExploreQuery {
    /// The best path between two entities (global IDs or slugs), or null when none is within
    /// `maxLength`. Relation direction is ignored unless `directed`. Documents and `mentions`
    /// are provenance and left out unless `includeProvenance`. Ranked by `ranking`: by default
    /// hub-weighted (see `PathRanking.AVOID_HUBS`), so the first answer is the informative one.
    #[allow(clippy::too_many_arguments)]
    async fn shortest_path(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start: global ID or slug.")] from: ID,
        #[graphql(desc = "End: global ID or slug.")] to: ID,
        #[graphql(desc = "Only relations of these kinds.")] kinds: Option<Vec<RelationKind>>,
        #[graphql(desc = "Never pass through entities of these kinds.")] exclude_kinds: Option<Vec<EntityKind>>,
        #[graphql(desc = "At most this many relations (1-8).", default = 6)] max_length: i32,
        #[graphql(desc = "Follow relations only in their direction.", default = false)] directed: bool,
        #[graphql(desc = "Also pass through documents and `mentions`.", default = false)] include_provenance: bool,
        #[graphql(desc = "How to rank paths.", default_with = "PathRanking::AvoidHubs")] ranking: PathRanking,
        #[graphql(
            desc = "Follow only relations that may have held on this date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a partial date means each of its days, as `Entity.relations(where: { validAt })` explains). Relations with neither `validFrom` nor `validUntil` count as valid unless `strict`."
        )]
        valid_at: Option<String>,
        #[graphql(
            desc = "With `validAt`: leave out relations with neither `validFrom` nor `validUntil`.",
            default = false
        )]
        strict: bool,
    ) -> Result<Option<Path>> {
        let g = view(ctx).await?;
        let (a, b) = (entity_ref(&g, "from", &from)?, entity_ref(&g, "to", &to)?);
        let f = filter(kinds, exclude_kinds, include_provenance, directed, valid_at_arg(valid_at.as_deref(), strict)?);
        let (max_len, ranking) = (path_length(max_length)?, ranking.into());
        let path =
            off_worker(ctx, g, move |g, deadline| algo::shortest_path(g, &a, &b, &f, max_len, ranking, deadline))
                .await?;
        Ok(path.map(Path))
    }

    /// Simple paths (no entity twice) between two entities, best first by `ranking` then length,
    /// at most `first`. Same filters as `shortestPath`.
    #[allow(clippy::too_many_arguments)]
    async fn paths(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start: global ID or slug.")] from: ID,
        #[graphql(desc = "End: global ID or slug.")] to: ID,
        #[graphql(desc = "Only relations of these kinds.")] kinds: Option<Vec<RelationKind>>,
        #[graphql(desc = "Never pass through entities of these kinds.")] exclude_kinds: Option<Vec<EntityKind>>,
        #[graphql(desc = "At most this many relations per path (1-8).", default = 4)] max_length: i32,
        #[graphql(desc = "How many paths, at most 100; 10 when not given.", default = 10)] first: i32,
        #[graphql(desc = "Follow relations only in their direction.", default = false)] directed: bool,
        #[graphql(desc = "Also pass through documents and `mentions`.", default = false)] include_provenance: bool,
        #[graphql(desc = "How to rank paths.", default_with = "PathRanking::AvoidHubs")] ranking: PathRanking,
        #[graphql(
            desc = "Follow only relations that may have held on this date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a partial date means each of its days, as `Entity.relations(where: { validAt })` explains). Relations with neither `validFrom` nor `validUntil` count as valid unless `strict`."
        )]
        valid_at: Option<String>,
        #[graphql(
            desc = "With `validAt`: leave out relations with neither `validFrom` nor `validUntil`.",
            default = false
        )]
        strict: bool,
    ) -> Result<PathList> {
        let n = page_size(Some(first))?;
        let g = view(ctx).await?;
        let (a, b) = (entity_ref(&g, "from", &from)?, entity_ref(&g, "to", &to)?);
        let f = filter(kinds, exclude_kinds, include_provenance, directed, valid_at_arg(valid_at.as_deref(), strict)?);
        let search = algo::PathSearch {
            max_len: path_length(max_length)?,
            limit: n,
            ranking: ranking.into(),
            budget: PATH_BUDGET,
        };
        let (paths, truncated) =
            off_worker(ctx, g, move |g, deadline| algo::all_paths(g, &a, &b, &f, search, deadline)).await?;
        Ok(PathList { paths: paths.into_iter().map(Path).collect(), truncated })
    }

    /// The entities both `a` and `b` are directly related to, with the relations on each side;
    /// most specific (fewest relations) first.
    #[allow(clippy::too_many_arguments)]
    async fn connections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "One entity: global ID or slug.")] a: ID,
        #[graphql(desc = "The other: global ID or slug.")] b: ID,
        #[graphql(desc = "Only relations of these kinds.")] kinds: Option<Vec<RelationKind>>,
        #[graphql(desc = "Also count documents and `mentions`.", default = false)] include_provenance: bool,
        #[graphql(desc = "How many, at most 100; 20 when not given.")] first: Option<i32>,
        #[graphql(
            desc = "Follow only relations that may have held on this date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a partial date means each of its days, as `Entity.relations(where: { validAt })` explains). Relations with neither `validFrom` nor `validUntil` count as valid unless `strict`."
        )]
        valid_at: Option<String>,
        #[graphql(
            desc = "With `validAt`: leave out relations with neither `validFrom` nor `validUntil`.",
            default = false
        )]
        strict: bool,
    ) -> Result<Vec<CommonNeighbor>> {
        let n = page_size(first)?;
        let valid = valid_at_arg(valid_at.as_deref(), strict)?;
        let g = view(ctx).await?;
        let (x, y) = (entity_ref(&g, "a", &a)?, entity_ref(&g, "b", &b)?);
        let f = filter(kinds, None, include_provenance, false, valid);
        let common = off_worker(ctx, g, move |g, _| algo::common_neighbours(g, &x, &y, &f)).await?;
        Ok(common.into_iter().take(n).map(CommonNeighbor).collect())
    }

    /// The sub-graph around an entity as nodes and edges, ready to draw: entities within `depth`
    /// relations, at most `limit` of them (nearest first, then best connected), and for every node
    /// the counts of neighbours the cap left out, by kind.
    #[allow(clippy::too_many_arguments)]
    async fn neighborhood(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The centre: slug or global ID.")] slug: String,
        #[graphql(desc = "How many relations away (1-3).", default = 1)] depth: i32,
        #[graphql(desc = "Only relations of these kinds.")] kinds: Option<Vec<RelationKind>>,
        #[graphql(desc = "At most this many entities (1-100).", default = 40)] limit: i32,
        #[graphql(desc = "Also documents and `mentions`.", default = false)] include_provenance: bool,
        #[graphql(
            desc = "Follow only relations that may have held on this date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a partial date means each of its days, as `Entity.relations(where: { validAt })` explains). Relations with neither `validFrom` nor `validUntil` count as valid unless `strict`."
        )]
        valid_at: Option<String>,
        #[graphql(
            desc = "With `validAt`: leave out relations with neither `validFrom` nor `validUntil`.",
            default = false
        )]
        strict: bool,
    ) -> Result<Neighborhood> {
        if !(1..=3).contains(&depth) {
            return Err(ApiError::bad_input("depth", format!("must be between 1 and 3 (got {depth})")).extend());
        }
        if !(1..=MAX_PAGE as i32).contains(&limit) {
            return Err(
                ApiError::bad_input("limit", format!("must be between 1 and {MAX_PAGE} (got {limit})")).extend()
            );
        }
        let valid = valid_at_arg(valid_at.as_deref(), strict)?;
        let g = view(ctx).await?;
        let id = entity_ref(&g, "slug", &slug)?;
        let f = filter(kinds, None, include_provenance, false, valid);
        // Counting what the cap left out walks every kept hub's neighbours once more: only when
        // asked for.
        let nodes = ctx.look_ahead().field("nodes");
        let count_omitted = nodes.field("omitted").exists() || nodes.field("omittedTotal").exists();
        let (depth, limit) = (depth as usize, limit as usize);
        let n = off_worker(ctx, g, move |g, deadline| {
            algo::neighbourhood(g, &id, depth, limit, &f, count_omitted, deadline)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("entity", slug.clone()).extend())?;
        let center = Entity::from(n.nodes[0].0.clone());
        Ok(Neighborhood {
            center,
            nodes: n
                .nodes
                .into_iter()
                .map(|(e, depth, omitted)| NeighborhoodNode {
                    entity: Entity::from(e),
                    depth,
                    omitted_total: omitted.values().sum(),
                    omitted: omitted.into_iter().map(|(k, count)| OmittedCount { kind: k.into(), count }).collect(),
                })
                .collect(),
            edges: n.edges.into_iter().map(Relation).collect(),
        })
    }

    /// Dated items in date order: for one entity, its own dates, its dated relations and the
    /// dates of entities related to it; without `entity`, the whole graph. `from` and `to`
    /// bound the dates (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a year sorts before its months).
    #[allow(clippy::too_many_arguments)]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ID or slug; the whole graph when absent.")] entity: Option<ID>,
        #[graphql(desc = "Earliest date.")] from: Option<String>,
        #[graphql(desc = "Latest date.")] to: Option<String>,
        #[graphql(desc = "Also documents' dates and `mentions`.", default = false)] include_provenance: bool,
        #[graphql(desc = "Page size, at most 100; 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(
            desc = "List only relations that may have held on this date (and, for one entity, only the entities they lead to); see `validAt` on `neighborhood`."
        )]
        valid_at: Option<String>,
        #[graphql(
            desc = "With `validAt`: leave out relations with neither `validFrom` nor `validUntil`.",
            default = false
        )]
        strict: bool,
    ) -> Result<TimelineConnection> {
        let n = page_size(first)?;
        let (from, to) = (date_arg("from", from)?, date_arg("to", to)?);
        let valid = valid_at_arg(valid_at.as_deref(), strict)?;
        let g = view(ctx).await?;
        let id = entity.map(|e| entity_ref(&g, "entity", &e)).transpose()?;
        let items = off_worker(ctx, g, move |g, deadline| {
            algo::timeline(g, id.as_deref(), from, to, include_provenance, valid, deadline)
        })
        .await?
        .unwrap_or_default();
        let start = match after {
            Some(c) => {
                decode_cursor(&c, "after")?
                    .parse::<usize>()
                    .map_err(|_| ApiError::bad_input("after", format!("`{c}` is not a timeline cursor")).extend())?
                    + 1
            }
            None => 0,
        };
        let total_count = items.len();
        let edges: Vec<TimelineEdge> = items
            .into_iter()
            .enumerate()
            .skip(start)
            .take(n)
            .map(|(i, item)| TimelineEdge { cursor: encode_cursor(&i.to_string()), node: TimelineItem(item) })
            .collect();
        Ok(TimelineConnection {
            page_info: PageInfo {
                has_next_page: start + edges.len() < total_count,
                has_previous_page: start > 0,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count,
        })
    }

    /// Entities ranked by degree or PageRank, optionally of some kinds. Kept current: the
    /// ranking is recomputed after the graph changes.
    async fn ranking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The measure.", default_with = "RankingMeasure::PageRank")] by: RankingMeasure,
        #[graphql(desc = "Only entities of these kinds.")] kinds: Option<Vec<EntityKind>>,
        #[graphql(desc = "How many, at most 100; 20 when not given.")] first: Option<i32>,
    ) -> Result<Vec<RankedEntity>> {
        let n = page_size(first)?;
        let kinds: Option<Vec<domain::EntityKind>> = kinds.map(|ks| ks.into_iter().map(Into::into).collect());
        let g = view(ctx).await?;
        let all = off_worker(ctx, g, move |g, _| ranked(g, kinds.as_deref(), by, n)).await?;
        Ok(all
            .into_iter()
            .enumerate()
            .map(|(i, (e, degree, page_rank))| RankedEntity { rank: i + 1, entity: Entity::from(e), degree, page_rank })
            .collect())
    }
}

/// The first `n` entities by `by`, with their degree and PageRank.
fn ranked(
    g: &GraphIndex,
    kinds: Option<&[domain::EntityKind]>,
    by: RankingMeasure,
    n: usize,
) -> Vec<(std::sync::Arc<domain::Entity>, usize, f64)> {
    let r = g.rankings();
    let mut all: Vec<_> = g
        .entities(None, None)
        .filter(|e| kinds.as_ref().is_none_or(|ks| ks.contains(&e.kind)))
        .map(|e| (e.clone(), r.degree.get(&e.id).copied().unwrap_or(0), r.pagerank.get(&e.id).copied().unwrap_or(0.0)))
        .collect();
    match by {
        RankingMeasure::Degree => all.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2))),
        RankingMeasure::PageRank => all.sort_by(|a, b| b.2.total_cmp(&a.2).then(b.1.cmp(&a.1))),
    }
    all.truncate(n);
    all
}
