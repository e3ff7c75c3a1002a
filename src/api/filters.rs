//! Filtered and sorted entity lists (`entities(where:, orderBy:)`) and the richer search
//! (`searchResults`).
//!
//! Why it is shaped this way: the inputs follow GitHub's and Hasura's conventions (an input
//! object of conditions that must all hold, an `orderBy` of a field and a direction), and are
//! checked here once, into the graph's own [`graph::order::EntityFilter`], so that every wrong
//! value is named (`where.dateFrom`) before any work starts. The work itself is the graph's
//! (indexes in `graph::order`) and runs off the HTTP worker under the request's time limit.
//!
//! A cursor holds the order, a fingerprint of the filter and the entity's sort key and slug, so
//! a page boundary survives inserts and deletes, and a cursor from another order or filter is
//! refused rather than read as a position in a list it does not belong to.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, ErrorExtensions, InputObject, Result, SimpleObject, ID};

use super::error::ApiError;
use super::types::{decode_cursor, encode_cursor, page_size, view, Entity, EntityKind, PageInfo, RelationKind};
use crate::domain::{self, PartialDate};
use crate::graph::order::{self as gorder, OrderField, Position, SearchField as GField, SortKey};
use crate::graph::{normalize, GraphIndex};

/// Which entities a list holds. Every condition given must hold; a condition left out (or
/// null) holds for every entity.
#[derive(InputObject, Default, Clone)]
pub struct EntityFilter {
    /// Only entities of these kinds.
    pub kinds: Option<Vec<EntityKind>>,
    /// Only entities whose `type` is one of these, compared as search compares (case, accents
    /// and punctuation ignored): `"Country Office"` finds `country office`.
    pub types: Option<Vec<String>>,
    /// Only entities whose name (not an alias) starts with this, compared as search compares:
    /// `"ana nu"` and `"ANA NÚÑ"` find "Ana Núñez-Pérez". Needs a letter or digit.
    pub name_prefix: Option<String>,
    /// Only dated entities whose `date` may fall on or after this day. Dates are `YYYY`,
    /// `YYYY-MM` or `YYYY-MM-DD`; a partial date stands for every day it may mean, so an
    /// entity dated `2021` passes `dateFrom: "2021-06"` (it may be June or later), and
    /// `dateFrom: "2021"` means from 1 January 2021.
    pub date_from: Option<String>,
    /// Only dated entities whose `date` may fall on or before this day; `dateTo: "2021"` means
    /// up to 31 December 2021. Same format and partial-date rule as `dateFrom`.
    pub date_to: Option<String>,
    /// Only entities with a relation to or from this entity (a slug or a global ID).
    pub related_to: Option<ID>,
    /// With `relatedTo`: only by relations of these kinds.
    pub related_by: Option<Vec<RelationKind>>,
}

/// What a list of entities is sorted by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EntityOrderField {
    /// The slug (the default).
    Slug,
    /// The name, compared as search compares (case, accents and punctuation ignored).
    Name,
    /// The entity's `date`; a year sorts before its months and a month before its days
    /// (`2021` < `2021-01` < `2021-01-01`). Undated entities come last in either direction.
    Date,
    /// `degree`: the number of relations, not counting `mentions`.
    Degree,
    /// `pageRank`.
    PageRank,
}

/// Which way a list is sorted (entities and relations alike).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderDirection {
    /// Smallest first (A to Z, oldest, fewest).
    Asc,
    /// Largest first. The whole order is reversed, ties included.
    Desc,
}

/// How a list of entities is sorted. Ties are broken by slug, so the order is total and
/// cursors are stable.
#[derive(InputObject, Clone, Copy)]
pub struct EntityOrder {
    /// What to sort by.
    pub field: EntityOrderField,
    /// Which way; ascending when not given.
    #[graphql(default_with = "OrderDirection::Asc")]
    pub direction: OrderDirection,
}

/// An edge of an `EntityConnection`.
#[derive(SimpleObject)]
pub struct EntityEdge {
    /// Opaque position of this edge; pass it as `after`.
    pub cursor: String,
    /// The entity.
    pub node: Entity,
}

/// How `totalCount` is found: known already, or counted when asked (a filter an index does not
/// answer reads every entity, so only a query that asks pays for it).
#[derive(Clone)]
pub enum Total {
    Known(usize),
    Count(Arc<gorder::EntityFilter>),
}

/// A page of entities, in the order asked (slug order when none is).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct EntityConnection {
    /// The entities of this page.
    pub edges: Vec<EntityEdge>,
    /// Where this page is.
    pub page_info: PageInfo,
    #[graphql(skip)]
    pub total: Total,
}

#[ComplexObject]
impl EntityConnection {
    /// How many entities match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<usize> {
        match &self.total {
            Total::Known(n) => Ok(*n),
            Total::Count(f) => {
                let f = f.clone();
                let g = view(ctx).await?;
                let n = super::work::off_worker(ctx, g, move |g, d| g.count_matching(&f, &mut d.ticker())).await?;
                n.ok_or_else(|| ApiError::Internal("a count stopped without its deadline passing".into()).extend())
            }
        }
    }
}

impl From<EntityOrderField> for OrderField {
    fn from(f: EntityOrderField) -> Self {
        match f {
            EntityOrderField::Slug => OrderField::Slug,
            EntityOrderField::Name => OrderField::Name,
            EntityOrderField::Date => OrderField::Date,
            EntityOrderField::Degree => OrderField::Degree,
            EntityOrderField::PageRank => OrderField::PageRank,
        }
    }
}

fn date(value: &Option<String>, argument: &'static str) -> Result<Option<PartialDate>> {
    value
        .as_deref()
        .map(|s| PartialDate::parse(s).map_err(|e| ApiError::bad_input(argument, e.to_string()).extend()))
        .transpose()
}

fn normalized_list(values: &Option<Vec<String>>) -> Option<Vec<String>> {
    values.as_ref().map(|ts| ts.iter().map(|t| normalize(t)).collect())
}

/// An entity named by a slug or a global ID, as its entity ID.
fn entity_id(g: &GraphIndex, id: &str, argument: &'static str) -> Result<String> {
    let found = match id.split_once(':') {
        Some((ty, key)) => g.entity(key).filter(|e| super::types::type_name(e.kind) == ty),
        None => g.entity_by_slug(id),
    };
    found
        .map(|e| e.id.clone())
        .ok_or_else(|| ApiError::bad_input(argument, format!("no entity has the slug or global ID `{id}`")).extend())
}

/// Checks a filter (with the list's `kind`, if given) into the graph's form.
fn check_filter(g: &GraphIndex, kind: Option<EntityKind>, w: &EntityFilter) -> Result<gorder::EntityFilter> {
    let mut kinds: Option<Vec<domain::EntityKind>> = w.kinds.as_ref().map(|ks| ks.iter().map(|&k| k.into()).collect());
    if let Some(k) = kind.map(domain::EntityKind::from) {
        kinds = Some(match kinds {
            Some(ks) => ks.into_iter().filter(|x| *x == k).collect(),
            None => vec![k],
        });
    }
    let name_prefix = match &w.name_prefix {
        Some(p) => {
            let p = normalize(p);
            if p.is_empty() {
                return Err(ApiError::bad_input("where.namePrefix", "needs at least one letter or digit").extend());
            }
            Some(p)
        }
        None => None,
    };
    let (date_from, date_to) = (date(&w.date_from, "where.dateFrom")?, date(&w.date_to, "where.dateTo")?);
    if let (Some(a), Some(b)) = (date_from, date_to) {
        if b.last_day() < a.first_day() {
            return Err(ApiError::bad_input("where.dateTo", format!("`{b}` is before `dateFrom` (`{a}`)")).extend());
        }
    }
    if w.related_by.is_some() && w.related_to.is_none() {
        return Err(
            ApiError::bad_input("where.relatedBy", "needs `relatedTo`: the entity the relations are of").extend()
        );
    }
    let related_to = w.related_to.as_ref().map(|id| entity_id(g, id, "where.relatedTo")).transpose()?;
    Ok(gorder::EntityFilter {
        kinds,
        types: normalized_list(&w.types),
        name_prefix,
        date_from,
        date_to,
        related_to,
        related_by: w.related_by.as_ref().map(|ks| ks.iter().map(|&k| k.into()).collect()),
    })
}

/// FNV-1a of a filter's checked form: the same on every server and after restarts (unlike the
/// std hasher), and a cursor only needs to tell filters apart, not resist forgery.
fn fingerprint(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

const SEP: char = '\u{1f}';

fn order_name(f: OrderField) -> &'static str {
    match f {
        OrderField::Slug => "slug",
        OrderField::Name => "name",
        OrderField::Date => "date",
        OrderField::Degree => "degree",
        OrderField::PageRank => "pagerank",
    }
}

fn encode_key(k: &SortKey) -> String {
    match k {
        SortKey::Slug => String::new(),
        SortKey::Name(n) => n.to_string(),
        SortKey::Date(d) | SortKey::Degree(d) => d.to_string(),
        // The bits: exact, so that the cursor compares equal to the key it was made from.
        SortKey::PageRank(r) => format!("{:016x}", r.to_bits()),
    }
}

fn decode_key(field: OrderField, s: &str) -> Option<SortKey> {
    Some(match field {
        OrderField::Slug => SortKey::Slug,
        OrderField::Name => SortKey::Name(s.into()),
        OrderField::Date => SortKey::Date(s.parse().ok()?),
        OrderField::Degree => SortKey::Degree(s.parse().ok()?),
        OrderField::PageRank => SortKey::PageRank(f64::from_bits(u64::from_str_radix(s, 16).ok()?)),
    })
}

/// A sorted list's cursor: `e1`, the order, the direction, the filter's fingerprint, the key,
/// the slug.
fn entity_cursor(shape: &str, key: &SortKey, slug: &str) -> String {
    encode_cursor(&format!("e1{SEP}{shape}{SEP}{}{SEP}{slug}", encode_key(key)))
}

fn read_entity_cursor(cursor: &str, shape: &str, field: OrderField) -> Result<Position> {
    let raw = decode_cursor(cursor, "after")?;
    let foreign = || {
        ApiError::bad_input(
            "after",
            format!("`{cursor}` was made for another order or filter; start again without `after`"),
        )
        .extend()
    };
    let mut parts = raw.split(SEP);
    if parts.next() != Some("e1") {
        return Err(foreign());
    }
    let fields: Vec<&str> = parts.collect();
    // The shape is three parts (order, direction, fingerprint), then the key and the slug.
    let [o, d, fp, key, slug] = fields.as_slice() else { return Err(foreign()) };
    if format!("{o}{SEP}{d}{SEP}{fp}") != shape {
        return Err(foreign());
    }
    let key = decode_key(field, key).ok_or_else(foreign)?;
    Ok(Position { key, slug: slug.to_string() })
}

/// `Query.entities` with `where` or `orderBy`.
pub async fn entities_page(
    ctx: &Context<'_>,
    kind: Option<EntityKind>,
    filter: Option<EntityFilter>,
    order: Option<EntityOrder>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<EntityConnection> {
    let first = page_size(first)?;
    let g = view(ctx).await?;
    let f = check_filter(&g, kind, &filter.unwrap_or_default())?;
    let order = order.unwrap_or(EntityOrder { field: EntityOrderField::Slug, direction: OrderDirection::Asc });
    let field: OrderField = order.field.into();
    let desc = order.direction == OrderDirection::Desc;
    let shape = format!(
        "{}{SEP}{}{SEP}{}",
        order_name(field),
        if desc { "desc" } else { "asc" },
        fingerprint(&format!("{f:?}"))
    );
    let after = after.as_deref().map(|c| read_entity_cursor(c, &shape, field)).transpose()?;
    let filter = Arc::new(f);
    let f = filter.clone();
    let page = super::work::off_worker(ctx, g, move |g, d| {
        g.entities_sorted(&f, field, desc, after.as_ref(), first, &mut d.ticker()).map(|p| {
            let items: Vec<(SortKey, Arc<domain::Entity>)> = p.items.into_iter().map(|(k, e)| (k, e.clone())).collect();
            (items, p.has_next, p.has_previous)
        })
    })
    .await?;
    let Some((items, has_next_page, has_previous_page)) = page else {
        return Err(ApiError::Internal("a page stopped without its deadline passing".into()).extend());
    };
    let edges: Vec<EntityEdge> = items
        .into_iter()
        .map(|(k, e)| EntityEdge { cursor: entity_cursor(&shape, &k, e.slug.as_str()), node: Entity::from(e) })
        .collect();
    Ok(EntityConnection {
        page_info: PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total: Total::Count(filter),
    })
}

/// Where `searchResults` looks.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SearchField {
    /// Names and aliases (through the word index: fast at any size).
    Names,
    /// Entities' summaries (read in full: bounded by the request's time limit).
    Summaries,
    /// The citation quotes of the entity's relations and of its own facts (read in full:
    /// bounded by the request's time limit). A relation's quote finds both its ends.
    Quotes,
}

impl From<SearchField> for GField {
    fn from(f: SearchField) -> Self {
        match f {
            SearchField::Names => GField::Names,
            SearchField::Summaries => GField::Summaries,
            SearchField::Quotes => GField::Quotes,
        }
    }
}

impl From<GField> for SearchField {
    fn from(f: GField) -> Self {
        match f {
            GField::Names => SearchField::Names,
            GField::Summaries => SearchField::Summaries,
            GField::Quotes => SearchField::Quotes,
        }
    }
}

/// One entity found by `searchResults`, with its best match.
#[derive(SimpleObject)]
pub struct SearchResult {
    /// The entity found.
    pub entity: Entity,
    /// Relevance, from 0 (exclusive) to 1, best first: how the text matches (4 the whole text,
    /// 3 its start, 2 every query word starts one of its words, 1 it contains the query; for a
    /// summary or quote only 2 and 1), divided by 4, times where it matched (a name 1.0, an
    /// alias 0.9, a summary 0.5, a quote 0.4). An exact name scores 1.0.
    pub score: f64,
    /// The name, alias, summary or quote that matched, as the graph holds it.
    pub matched_text: String,
    /// Where it matched.
    pub field: SearchField,
}

/// An edge of a `SearchResultConnection`.
#[derive(SimpleObject)]
pub struct SearchResultEdge {
    /// Opaque position of this edge; pass it as `after`.
    pub cursor: String,
    /// The result.
    pub node: SearchResult,
}

/// A page of search results, best first (ties by slug).
#[derive(SimpleObject)]
pub struct SearchResultConnection {
    /// The results of this page.
    pub edges: Vec<SearchResultEdge>,
    /// Where this page is.
    pub page_info: PageInfo,
    /// How many entities match, across all pages.
    pub total_count: usize,
}

/// `Query.searchResults`.
pub async fn search_results(
    ctx: &Context<'_>,
    query: String,
    kinds: Option<Vec<EntityKind>>,
    types: Option<Vec<String>>,
    fields: Vec<SearchField>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<SearchResultConnection> {
    let first = page_size(first)?;
    if normalize(&query).is_empty() {
        return Err(ApiError::bad_input("query", "needs at least one letter or digit").extend());
    }
    if fields.is_empty() {
        return Err(ApiError::bad_input("in", "name at least one field to search").extend());
    }
    let kinds: Option<Vec<domain::EntityKind>> = kinds.map(|ks| ks.into_iter().map(Into::into).collect());
    let types = normalized_list(&types);
    let mut gfields: Vec<GField> = fields.into_iter().map(Into::into).collect();
    gfields.sort_unstable_by_key(|f| *f as u8);
    gfields.dedup();
    let shape = fingerprint(&format!("{}{SEP}{kinds:?}{SEP}{types:?}{SEP}{gfields:?}", normalize(&query)));
    let position = match after.as_deref() {
        None => None,
        Some(c) => {
            let raw = decode_cursor(c, "after")?;
            let parts: Vec<&str> = raw.split(SEP).collect();
            let foreign = || {
                ApiError::bad_input("after", format!("`{c}` was made for another search; start again without `after`"))
                    .extend()
            };
            let ["s1", fp, score, slug] = parts.as_slice() else { return Err(foreign()) };
            if *fp != shape {
                return Err(foreign());
            }
            let score = u64::from_str_radix(score, 16).map(f64::from_bits).map_err(|_| foreign())?;
            Some((score, slug.to_string()))
        }
    };
    let g = view(ctx).await?;
    let found = super::work::off_worker(ctx, g, move |g, d| {
        let hits = g.search_in(&query, &gfields, kinds.as_deref(), types.as_deref(), &mut d.ticker())?;
        let start = match &position {
            Some((score, slug)) => hits.partition_point(|h| {
                h.score > *score || (h.score == *score && h.entity.slug.as_str() <= slug.as_str())
            }),
            None => 0,
        };
        let total = hits.len();
        let page: Vec<_> = hits[start..]
            .iter()
            .take(first)
            .map(|h| (h.entity.clone(), h.score, h.text.clone(), SearchField::from(h.field)))
            .collect();
        Some((page, start, total))
    })
    .await?;
    let Some((page, start, total_count)) = found else {
        return Err(ApiError::Internal("a search stopped without its deadline passing".into()).extend());
    };
    let edges: Vec<SearchResultEdge> = page
        .into_iter()
        .map(|(e, score, text, field)| SearchResultEdge {
            cursor: encode_cursor(&format!("s1{SEP}{shape}{SEP}{:016x}{SEP}{}", score.to_bits(), e.slug)),
            node: SearchResult { entity: Entity::from(e), score, matched_text: text, field },
        })
        .collect();
    Ok(SearchResultConnection {
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
