//! How sure a fact is, for the API: relations resting on a single document, and the
//! contradictions the graph can see (the work is in [`crate::facts`]).

use async_graphql::{Context, Enum, ErrorExtensions, Object, Result};

use super::error::ApiError;
use super::types::{
    decode_cursor, encode_cursor, page_size, view, Citation, Entity, PageInfo, Relation, RelationConnection,
    RelationEdge, RelationKind,
};
use crate::domain;
use crate::facts;

/// What sort of contradiction a `Conflict` is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::facts::ConflictKind")]
pub enum ConflictKind {
    /// Two people hold the same title at the same organization or office over dates that
    /// certainly overlap.
    OverlappingRole,
    /// An entity's date and the date of a relation that dates it (launched, signed, issued,
    /// organized, participated in) cannot both be true.
    EventDates,
    /// One entity, or one relation, states the same quantity (same name and unit) with
    /// different values.
    Quantity,
}

/// A contradiction the graph can see: statements about one subject that cannot all be true,
/// each with where it is written.
pub struct Conflict(facts::Conflict);

/// A contradiction the graph can see: statements about one subject that cannot all be true,
/// each with where it is written.
#[Object]
impl Conflict {
    /// What sort of contradiction.
    async fn kind(&self) -> ConflictKind {
        self.0.kind.into()
    }
    /// What contradicts what, in one sentence.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The entity the statements are about: the organization or office of a role, the dated
    /// entity, the entity whose numbers (or whose relation's numbers) differ.
    async fn subject(&self) -> Entity {
        Entity::from(self.0.subject.clone())
    }
    /// The statements, each with what it says and where it is written.
    async fn claims(&self) -> Vec<Claim> {
        self.0.claims.iter().cloned().map(Claim).collect()
    }
}

/// One statement of a contradiction.
pub struct Claim(facts::Claim);

/// One statement of a contradiction.
#[Object]
impl Claim {
    /// What it says: a holder and dates, a date, a number with its unit.
    async fn value(&self) -> &str {
        &self.0.value
    }
    /// The relation that says it; null for an entity's own fact.
    async fn relation(&self) -> Option<Relation> {
        self.0.relation.clone().map(Relation)
    }
    /// Where it is written (empty for an entity's fact nobody has cited).
    async fn citations(&self) -> Vec<Citation> {
        self.0.citations.iter().cloned().map(Citation).collect()
    }
}

#[derive(Default)]
pub struct FactsQuery;

#[Object]
impl FactsQuery {
    /// Relations that rest on a single document (`sourceCount` 1), in key order, a page at a
    /// time: the statements to corroborate first. `mentions` are left out unless asked for by
    /// `kinds` (each cites the one document that names the entity). An entity's own facts tell
    /// their `sourceCount` in `facts`.
    async fn single_sourced(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these kinds of relation (all but `MENTIONS` when not given).")] kinds: Option<
            Vec<RelationKind>,
        >,
        #[graphql(desc = "Page size, at most 100; 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<RelationConnection> {
        let first = page_size(first)?;
        let after = after.as_deref().map(|c| decode_cursor(c, "after")).transpose()?;
        let kinds: Option<Vec<domain::RelationKind>> = kinds.map(|ks| ks.into_iter().map(Into::into).collect());
        let g = view(ctx).await?;
        let (page, total_count, has_previous_page) = super::work::off_worker(ctx, g, move |g, _| {
            let mut keys: Vec<(String, std::sync::Arc<domain::Relation>)> = Vec::new();
            let mut total = 0;
            let mut before = false;
            let mut all: Vec<_> = facts::single_sourced(g, kinds.as_deref()).collect();
            all.sort_unstable_by_key(|r| r.id());
            for r in &all {
                total += 1;
                match &after {
                    Some(a) if r.id() <= a.as_str() => before = true,
                    _ if keys.len() <= first => keys.push((r.id().to_string(), r.get())),
                    _ => {}
                }
            }
            (keys, total, before)
        })
        .await?;
        let has_next_page = page.len() > first;
        let edges: Vec<RelationEdge> = page
            .into_iter()
            .take(first)
            .map(|(key, r)| RelationEdge { cursor: encode_cursor(&key), node: Relation(r) })
            .collect();
        Ok(RelationConnection {
            page_info: PageInfo {
                has_next_page,
                has_previous_page,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count,
        })
    }

    /// Contradictions the graph can see, each with the statements involved and where they are
    /// written: the same title held by two people over overlapping dates, an entity dated
    /// differently by itself and by a relation, the same quantity stated with different values.
    /// In a stable order (kind, then subject); at most `first`.
    async fn conflicts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these kinds (all when not given).")] kinds: Option<Vec<ConflictKind>>,
        #[graphql(desc = "How many, at most 100; 20 when not given.")] first: Option<i32>,
    ) -> Result<Vec<Conflict>> {
        let first = page_size(first)?;
        let kinds: Option<Vec<facts::ConflictKind>> = kinds.map(|ks| ks.into_iter().map(Into::into).collect());
        let g = view(ctx).await?;
        let found =
            super::work::off_worker(ctx, g, move |g, deadline| facts::conflicts(g, kinds.as_deref(), deadline)).await?;
        let Some(found) = found else {
            return Err(ApiError::Internal("the conflict search stopped at the deadline".into()).extend());
        };
        Ok(found.into_iter().take(first).map(Conflict).collect())
    }
}
