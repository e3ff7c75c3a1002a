//! The read side of the schema: look-ups by global ID and slug, paged lists and search.

use async_graphql::{Context, ErrorExtensions, Object, Result, SimpleObject, ID};

use super::error::ApiError;
use super::filters::{
    EntityConnection, EntityEdge, EntityFilter, EntityOrder, SearchField, SearchResultConnection, Total,
};
use super::moved;
use super::types::{
    decode_cursor, encode_cursor, page_size, resolve_node, view, Change, Document, Entity, EntityKind, Event, Node,
    Office, Organization, PageInfo, Person, Pillar, Place, Policy, Relation, MAX_PAGE,
};
use crate::domain;
use crate::service::Service;

#[derive(Default)]
pub struct QueryRoot;

/// An edge of a `ChangeConnection`.
#[derive(SimpleObject)]
pub struct ChangeEdge {
    /// Opaque position; pass it as `after`.
    pub cursor: String,
    /// The change.
    pub node: Change,
}

/// A page of the change feed, oldest first.
#[derive(SimpleObject)]
pub struct ChangeConnection {
    /// The changes of this page.
    pub edges: Vec<ChangeEdge>,
    /// Where this page is.
    pub page_info: PageInfo,
    /// The newest change's `seq` at the time of the request: poll again with `since` set to the
    /// last `seq` you processed.
    pub latest_seq: u64,
}

/// Counts that describe the whole graph.
#[derive(SimpleObject)]
pub struct GraphStats {
    /// Number of entities.
    pub entities: usize,
    /// Number of relations.
    pub relations: usize,
    /// The store generation the graph reflects; it advances with every committed write.
    pub generation: u64,
}

/// A page of `entities` in slug order, with no `where` or `orderBy`.
pub(crate) struct PlainEntities {
    /// Each entity with its cursor.
    pub edges: Vec<(String, std::sync::Arc<domain::Entity>)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub total_count: usize,
}

/// `entities(kind:, first:, after:)` in slug order: shared by the resolver and the compiled read
/// path ([`crate::compiled`]), so that the two answer the same page.
pub(crate) fn plain_entities(
    g: &crate::graph::GraphIndex,
    kind: Option<domain::EntityKind>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<PlainEntities> {
    let first = page_size(first)?;
    let after_slug = after.map(|c| decode_cursor(c, "after")).transpose()?;
    // A sorted or filtered list's cursor is no slug: refuse it rather than start somewhere.
    if after_slug.as_deref().is_some_and(|a| domain::Slug::parse(a).is_err()) {
        return Err(ApiError::bad_input(
            "after",
            "this cursor was made for another order or filter; start again without `after`",
        )
        .extend());
    }
    let total_count = g.count_entities(kind);
    // One more than asked tells whether a next page exists without counting the rest.
    let mut page: Vec<_> = g.entities(kind, after_slug.as_deref()).take(first + 1).collect();
    let has_next_page = page.len() > first;
    page.truncate(first);
    // Something precedes the page when the first entity of the list sorts at or before `after`.
    let has_previous_page = match after_slug.as_deref() {
        Some(a) => g.entities(kind, None).next().is_some_and(|e| e.slug.as_str() <= a),
        None => false,
    };
    let edges = page.into_iter().map(|e| (encode_cursor(e.slug.as_str()), e.clone())).collect();
    Ok(PlainEntities { edges, has_next_page, has_previous_page, total_count })
}

/// The entry points for reading the graph.
#[Object(name = "QueryRoot")]
impl QueryRoot {
    /// Fetches anything by its global ID. An entity merged into another answers the survivor
    /// (its `id` differs from the one asked: update what you stored); a deleted record answers
    /// null with a `DELETED` error; an ID never given out answers null.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID, `<Type>:<key>`.")] id: ID,
    ) -> Result<Option<Node>> {
        let g = view(ctx).await?;
        match resolve_node(&g, &id)? {
            Some(n) => Ok(Some(n)),
            None => moved::node_gone(ctx, &g, &id).await,
        }
    }

    /// Fetches many objects by global ID at once, in the order asked, each answered as `node`
    /// answers it (a deleted one is a null with a `DELETED` error at its index). At most 100 IDs.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() > MAX_PAGE {
            return Err(
                ApiError::bad_input("ids", format!("at most {MAX_PAGE} IDs per request (got {})", ids.len())).extend()
            );
        }
        let g = view(ctx).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let found = match resolve_node(&g, id)? {
                Some(n) => Some(n),
                // A deleted ID is a null in its place with an error at its index; the rest of
                // the list is still answered.
                None => moved::node_gone(ctx, &g, id).await.unwrap_or_else(|e| {
                    let mut e = ctx.set_error_path(e.into_server_error(ctx.item.pos));
                    e.path.push(async_graphql::PathSegment::Index(i));
                    ctx.add_error(e);
                    None
                }),
            };
            out.push(found);
        }
        Ok(out)
    }

    /// An entity by its slug, e.g. `iom` or `michele-klein-solomon`. The slug of an entity merged
    /// into another answers the survivor, and an entity's first slug still finds it after a
    /// rename (compare the answer's `slug`); a deleted entity's is a `DELETED` error, an unknown
    /// slug a `NOT_FOUND` error.
    async fn entity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The entity's slug.")] slug: String,
    ) -> Result<Option<Entity>> {
        let g = view(ctx).await?;
        if let Some(e) = g.entity_by_slug(&slug) {
            return Ok(Some(Entity::from(e.clone())));
        }
        // An entity's ID is its slug at creation: an old slug leads on like an old ID.
        match moved::entity_gone(ctx, &g, &slug).await? {
            moved::Found::Here(e) => Ok(Some(Entity::from(e))),
            moved::Found::Nothing => Err(ApiError::not_found("entity", slug).extend()),
        }
    }

    /// Entities, a page at a time: in slug order, or as `orderBy` asks, narrowed by `where`. A
    /// cursor belongs to its order and filter: pass it back with the same `kind`, `where` and
    /// `orderBy`.
    async fn entities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entities of this kind (with `where.kinds`, both must hold).")] kind: Option<EntityKind>,
        #[graphql(name = "where", desc = "Only entities matching every condition given.")] filter: Option<EntityFilter>,
        #[graphql(desc = "The order; by slug, ascending, when not given.")] order_by: Option<EntityOrder>,
        #[graphql(desc = "Page size, at most 100; 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<EntityConnection> {
        if filter.is_some() || order_by.is_some() {
            return super::filters::entities_page(ctx, kind, filter, order_by, first, after).await;
        }
        let g = view(ctx).await?;
        let page = plain_entities(&g, kind.map(Into::into), first, after.as_deref())?;
        let edges: Vec<EntityEdge> =
            page.edges.into_iter().map(|(cursor, e)| EntityEdge { cursor, node: Entity::from(e) }).collect();
        Ok(EntityConnection {
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                has_previous_page: page.has_previous_page,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total: Total::Known(page.total_count),
        })
    }

    /// Entities matching `query` in their names and aliases, summaries or citation quotes,
    /// best first with a relevance `score` and the text that matched, a page at a time. Names
    /// are found through an index; summaries and quotes are read in full, so on a large graph
    /// that search costs more and may reach the request's time limit (narrow it with `kinds`).
    #[allow(clippy::too_many_arguments)]
    async fn search_results(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Words to look for; matched ignoring case, accents, hyphens and punctuation.")] query: String,
        #[graphql(desc = "Only entities of these kinds.")] kinds: Option<Vec<EntityKind>>,
        #[graphql(desc = "Only entities whose `type` is one of these (compared as search compares).")] types: Option<
            Vec<String>,
        >,
        #[graphql(
            name = "in",
            desc = "Where to look: names and aliases (the default, also when null), summaries, citation quotes; an entity found in several counts once, by its best match.",
            default_with = "Some(vec![SearchField::Names])"
        )]
        fields: Option<Vec<SearchField>>,
        #[graphql(desc = "Page size, at most 100; 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page (of the same search).")] after: Option<String>,
    ) -> Result<SearchResultConnection> {
        super::filters::search_results(
            ctx,
            query,
            kinds,
            types,
            fields.unwrap_or_else(|| vec![SearchField::Names]),
            first,
            after,
        )
        .await
    }

    /// Entities whose name or an alias matches `query`, best first. Matching ignores case,
    /// accents, hyphens and punctuation ("klein solomon" finds "Michele Klein-Solomon"). Ranking:
    /// an exact name or alias, then one that starts with the query, then one whose words start
    /// with the query's words, then one that contains it; names before aliases.
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Words to look for.")] query: String,
        #[graphql(desc = "Only entities of these kinds.")] kinds: Option<Vec<EntityKind>>,
        #[graphql(desc = "How many results, at most 100; 20 when not given.")] first: Option<i32>,
    ) -> Result<Vec<Entity>> {
        let first = page_size(first)?;
        if crate::graph::normalize(&query).is_empty() {
            return Err(ApiError::bad_input("query", "needs at least one letter or digit").extend());
        }
        let kinds: Option<Vec<domain::EntityKind>> = kinds.map(|ks| ks.into_iter().map(Into::into).collect());
        let g = view(ctx).await?;
        let found = super::work::off_worker(ctx, g, move |g, _| {
            g.search(&query, kinds.as_deref(), first).into_iter().cloned().collect::<Vec<_>>()
        })
        .await?;
        Ok(found.into_iter().map(Entity::from).collect())
    }

    /// A relation by its key (the `key` field; e.g. `office_of:iom-washington:iom`). A deleted
    /// relation's key is a `DELETED` error, an unknown key a `NOT_FOUND` error.
    async fn relation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The relation's key.")] key: String,
    ) -> Result<Option<Relation>> {
        if let Some(r) = view(ctx).await?.relation(&key) {
            return Ok(Some(Relation(r.clone())));
        }
        match moved::relation_gone(ctx, &key).await? {
            moved::Found::Here(r) => Ok(Some(r)),
            moved::Found::Nothing => Err(ApiError::not_found("relation", key).extend()),
        }
    }

    /// The change feed: every committed change after `since` (a `seq`; 0 for the beginning), oldest
    /// first, a page at a time. Services follow the graph by polling it with the last `seq` seen.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only changes with a greater `seq`.", default = 0)] since: u64,
        #[graphql(desc = "Page size, at most 100; 20 when not given.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page (overrides `since`).")] after: Option<String>,
    ) -> Result<ChangeConnection> {
        let n = page_size(first)?;
        let start = match after {
            Some(c) => decode_cursor(&c, "after")?
                .parse::<u64>()
                .map_err(|_| ApiError::bad_input("after", format!("`{c}` is not a change cursor")).extend())?,
            None => since,
        };
        let service = ctx.data::<Service>().map_err(|_| ApiError::Internal("no service".into()).extend())?;
        let internal = |e: crate::service::ServiceError| ApiError::Internal(e.to_string()).extend();
        let latest_seq = service.last_seq().await.map_err(internal)?;
        let mut page = service.changes_after(start, n + 1).await.map_err(internal)?;
        let has_next_page = page.len() > n;
        page.truncate(n);
        let edges: Vec<ChangeEdge> = page
            .into_iter()
            .map(|e| ChangeEdge { cursor: encode_cursor(&e.seq.to_string()), node: Change(e) })
            .collect();
        Ok(ChangeConnection {
            page_info: PageInfo {
                has_next_page,
                has_previous_page: start > 0,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            latest_seq,
        })
    }

    /// Counts that describe the whole graph.
    async fn stats(&self, ctx: &Context<'_>) -> Result<GraphStats> {
        let g = view(ctx).await?;
        Ok(GraphStats { entities: g.entity_count(), relations: g.relation_count(), generation: g.generation() })
    }

    /// Federation: resolves a `Organization` representation by its global ID.
    #[graphql(entity)]
    async fn find_organization_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Organization>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Organization(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Office` representation by its global ID.
    #[graphql(entity)]
    async fn find_office_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Office>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Office(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Person` representation by its global ID.
    #[graphql(entity)]
    async fn find_person_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Person>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Person(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Policy` representation by its global ID.
    #[graphql(entity)]
    async fn find_policy_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Policy>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Policy(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Pillar` representation by its global ID.
    #[graphql(entity)]
    async fn find_pillar_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Pillar>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Pillar(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Place` representation by its global ID.
    #[graphql(entity)]
    async fn find_place_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Place>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Place(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Event` representation by its global ID.
    #[graphql(entity)]
    async fn find_event_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Event>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Event(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Document` representation by its global ID.
    #[graphql(entity)]
    async fn find_document_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Document>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Document(x)) => Some(x),
            _ => None,
        })
    }

    /// Federation: resolves a `Relation` representation by its global ID.
    #[graphql(entity)]
    async fn find_relation_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Relation>> {
        let g = view(ctx).await?;
        Ok(match resolve_node(&g, &id)? {
            Some(Node::Relation(x)) => Some(x),
            _ => None,
        })
    }
}
