//! The GraphQL object types: one per entity kind, the `Entity` and `Node` interfaces, relations,
//! citations and the Relay connections. Resolvers read the request's [`GraphView`]; they never
//! touch the store.

use std::sync::Arc;

use async_graphql::{Context, Enum, ErrorExtensions, Interface, Object, Result, SimpleObject, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::error::ApiError;
use crate::domain;
use crate::graph::{self, GraphIndex};
use crate::service::{GraphView, Service};

/// The largest `first` any list accepts; more is an error, not a silent cut.
pub const MAX_PAGE: usize = 100;
/// The page size when `first` is not given.
pub const DEFAULT_PAGE: usize = 20;

/// The graph this request reads.
///
/// A query gets one view for its whole execution (put in the request data by the HTTP layer),
/// so it sees one consistent graph. A mutation has none (it must not hold a read guard while it
/// writes), nor does a subscription event: those take a fresh view from the service, after the
/// write they report has been applied.
pub async fn view(ctx: &Context<'_>) -> Result<GraphView> {
    if let Some(v) = ctx.data_opt::<GraphView>() {
        return Ok(v.clone());
    }
    match ctx.data_opt::<Service>() {
        Some(s) => Ok(s.read().await),
        None => Err(ApiError::Internal("no graph view or service in the request data".into()).extend()),
    }
}

pub fn page_size(first: Option<i32>) -> Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(ApiError::bad_input("first", format!("must not be negative (got {n})")).extend()),
        Some(n) if n as usize > MAX_PAGE => {
            Err(ApiError::bad_input("first", format!("at most {MAX_PAGE} items per page (got {n})")).extend())
        }
        Some(n) => Ok(n as usize),
    }
}

pub fn encode_cursor(raw: &str) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

pub fn decode_cursor(cursor: &str, argument: &'static str) -> Result<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::bad_input(argument, format!("`{cursor}` is not a cursor this API gave out")).extend())
}

/// What sort of thing an entity is; each kind is one object type implementing `Entity`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::EntityKind")]
pub enum EntityKind {
    /// An organization, government, agency, company, NGO or institute.
    Organization,
    /// An office of an organization (country, regional, global office, administrative centre…).
    Office,
    /// A person.
    Person,
    /// A policy instrument: executive order, strategy, program, protocol, project.
    Policy,
    /// A pillar, line of effort, priority area or cross-cutting theme of a policy.
    Pillar,
    /// A country, territory, region or city.
    Place,
    /// A dated happening or news item.
    Event,
    /// A source document that the graph cites.
    Document,
}

/// What a relation states; direction is always `from` → `to`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::RelationKind")]
pub enum RelationKind {
    /// Office → the organization it belongs to.
    OfficeOf,
    /// Office, event, organization or place → the place it is in.
    LocatedIn,
    /// An entity → a larger whole it is part of.
    PartOf,
    /// Person → office or organization; `title` as worded by the source, with dates when known.
    HoldsRole,
    /// State or organization → the body it is a member of.
    MemberOf,
    /// Organization → an organization it works with.
    PartnersWith,
    /// Person → the document they are the press contact for, and → the office or organization
    /// the text names for them (`title` = that place as worded).
    ContactFor,
    /// Person → the policy they signed.
    Signed,
    /// Organization or person → the policy, decision or document it issued.
    Issued,
    /// Organization, office or person → the policy, program or event it launched.
    Launched,
    /// Policy → a policy it mandates or calls for; stance: who calls for what.
    CallsFor,
    /// Policy → one of its pillars, with `order`.
    HasPillar,
    /// Organization → a policy, program or project it implements.
    Implements,
    /// Funder → what it funds (amounts in `quantities`).
    Funds,
    /// Organization → whom or what it assists.
    Assists,
    /// Person or organization → an event it took part in.
    ParticipatedIn,
    /// Organization → an event it organized or hosted.
    Organized,
    /// Organization → whom it consulted.
    Consulted,
    /// Body → a policy it ends or decided to end.
    Terminates,
    /// Event, policy or document → what it is about.
    Concerns,
    /// Organization or person → a study or document it wrote.
    Authored,
    /// Stance: who welcomes what.
    Welcomes,
    /// Stance: who supports what.
    Supports,
    /// Stance: who criticizes what.
    Criticizes,
    /// Stance: who warns about what.
    WarnsAbout,
    /// Stance: who congratulates whom.
    Congratulates,
    /// A statement with no stance the other kinds name: who said something about what, citing
    /// the sentence. When a person speaks for an organization, `title` is their role as the text
    /// words it.
    States,
    /// Document → an entity it names (provenance).
    Mentions,
}

/// Which relations of an entity to list, seen from the entity.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Direction {
    /// Relations from this entity to others.
    Outgoing,
    /// Relations from others to this entity.
    Incoming,
    /// Both.
    Both,
}

impl From<Direction> for graph::Direction {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Outgoing => graph::Direction::Outgoing,
            Direction::Incoming => graph::Direction::Incoming,
            Direction::Both => graph::Direction::Both,
        }
    }
}

/// Which kind of record a change is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ChangeTarget {
    /// An entity.
    Entity,
    /// A relation.
    Relation,
}

/// One recorded change of one entity or relation: who, when, what, before and after.
pub struct Change(pub crate::store::AuditEntry);

/// One recorded change of one entity or relation: who, when, what, before and after.
#[Object]
impl Change {
    /// Position in the change feed; strictly increasing. Pass it as `changes(since:)`.
    async fn seq(&self) -> u64 {
        self.0.seq
    }
    /// The store generation the change was committed in.
    async fn generation(&self) -> u64 {
        self.0.generation
    }
    /// When it was committed (RFC 3339, UTC).
    async fn at(&self) -> &str {
        &self.0.at
    }
    /// Who made it: the token's name, or `seed`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// The operation: `create`/`update` for seeding, else the mutation's name.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// Whether an entity or a relation changed.
    async fn target(&self) -> ChangeTarget {
        match self.0.target {
            crate::store::TargetKind::Entity => ChangeTarget::Entity,
            crate::store::TargetKind::Relation => ChangeTarget::Relation,
        }
    }
    /// The global ID of what changed (it may no longer exist).
    async fn target_id(&self) -> ID {
        ID(change_global_id(&self.0))
    }
    /// Whether the record was deleted by this change.
    async fn deleted(&self) -> bool {
        self.0.after.is_none()
    }
    /// The record before the change (null when created), as stored.
    async fn before(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.before.as_ref().map(|r| async_graphql::Json(r.value()))
    }
    /// The record after the change (null when deleted), as stored.
    async fn after(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.after.as_ref().map(|r| async_graphql::Json(r.value()))
    }
    /// On an entity deleted by `mergeEntities`: the global ID of the entity it was merged into,
    /// which `node`, `nodes` and `entity` now answer for the old ID. Null otherwise.
    async fn merged_into(&self) -> Option<ID> {
        super::moved::survivor_global_id(&self.0).map(ID)
    }
}

/// The kind string (`person`, `holds_role`) of the record an audit entry is about.
pub fn change_kind(e: &crate::store::AuditEntry) -> Option<String> {
    e.after.as_ref().or(e.before.as_ref()).and_then(|v| v.str_field("kind"))
}

pub fn change_global_id(e: &crate::store::AuditEntry) -> String {
    match e.target {
        crate::store::TargetKind::Relation => format!("Relation:{}", e.target_id),
        crate::store::TargetKind::Entity => {
            let ty =
                change_kind(e).and_then(|k| k.parse::<domain::EntityKind>().ok()).map(type_name).unwrap_or("Entity");
            format!("{ty}:{}", e.target_id)
        }
    }
}

/// The recorded changes of one record, oldest first, at most `first`... newest `first` of them.
pub async fn history_of(ctx: &Context<'_>, id: &str, first: Option<i32>) -> Result<Vec<Change>> {
    let n = page_size(first)?;
    let service =
        ctx.data::<Service>().map_err(|_| ApiError::Internal("no service in the schema data".into()).extend())?;
    let all = service.history(id).await.map_err(|e| ApiError::Internal(e.to_string()).extend())?;
    let skip = all.len().saturating_sub(n);
    Ok(all.into_iter().skip(skip).map(Change).collect())
}

/// Relay's page information.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More items follow this page.
    pub has_next_page: bool,
    /// Items precede this page (always false for forward pagination from the start).
    pub has_previous_page: bool,
    /// Cursor of the first item of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A number a source states, with its unit and the words it was read from.
pub struct Quantity(pub domain::Quantity);

/// A number a source states, with its unit and the words it was read from.
#[Object]
impl Quantity {
    /// What is counted, e.g. "asylum seekers".
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The number.
    async fn value(&self) -> f64 {
        self.0.value
    }
    /// The unit, e.g. "people", "families", "USD".
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    /// The words of the source the number is read from, verbatim.
    async fn quote(&self) -> Option<&str> {
        self.0.quote.as_deref()
    }
    /// The document that states the number.
    async fn document(&self, ctx: &Context<'_>) -> Result<Option<Document>> {
        let g = view(ctx).await?;
        Ok(self.0.document.as_deref().and_then(|d| g.entity(d)).map(|e| Document(e.clone())))
    }
    /// Where the number is written, located like any citation (`offset`, `context`): the
    /// document and the words it is read from. Empty for a relation's number given without a
    /// document of its own.
    async fn citations(&self) -> Vec<Citation> {
        quantity_citations(&self.0).into_iter().map(Citation).collect()
    }
}

fn quantity_citations(q: &domain::Quantity) -> Vec<domain::Citation> {
    q.document.iter().map(|d| domain::Citation { document: d.clone(), quote: q.quote.clone() }).collect()
}

/// Which of an entity's own facts a `Fact` is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FactField {
    /// `date`.
    Date,
    /// `endDate`.
    EndDate,
    /// `url`.
    Url,
    /// `summary`.
    Summary,
    /// One of `aliases`.
    Alias,
    /// One of `quantities`.
    Quantity,
}

/// One fact an entity states about itself (its date, end date, URL, summary, an alias or a
/// number) and where it is written.
#[derive(Clone)]
pub struct Fact {
    entity: Arc<domain::Entity>,
    field: FactField,
    value: String,
    quantity: Option<domain::Quantity>,
    pub(super) citations: Vec<domain::Citation>,
}

/// One fact an entity states about itself (its date, end date, URL, summary, an alias or a
/// number) and where it is written.
#[Object]
impl Fact {
    /// The entity whose fact it is.
    async fn entity(&self) -> Entity {
        Entity::from(self.entity.clone())
    }
    /// Which field the fact is.
    async fn field(&self) -> FactField {
        self.field
    }
    /// The value as the entity's field holds it: the date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`),
    /// the URL, the summary, the alias, or a number with its unit (`850000 USD`).
    async fn value(&self) -> &str {
        &self.value
    }
    /// For a number: the quantity itself, typed.
    async fn quantity(&self) -> Option<Quantity> {
        self.quantity.clone().map(Quantity)
    }
    /// Where it is written. Empty for a fact nobody has cited yet (an editor's summary or
    /// alias; the seed refuses a date, end date, URL or number without one).
    async fn citations(&self) -> Vec<Citation> {
        self.citations.iter().cloned().map(Citation).collect()
    }
    /// How many distinct documents state it: 0 uncited, 1 single-sourced.
    async fn source_count(&self) -> usize {
        distinct_documents(&self.citations)
    }
}

fn distinct_documents(cs: &[domain::Citation]) -> usize {
    let mut docs: Vec<&str> = cs.iter().map(|c| c.document.as_str()).collect();
    docs.sort_unstable();
    docs.dedup();
    docs.len()
}

/// The facts an entity states about itself, in field order (aliases and numbers in theirs),
/// only those of `fields` when given.
pub(super) fn facts_of(e: &Arc<domain::Entity>, fields: Option<&[FactField]>) -> Vec<Fact> {
    let wanted = |f: FactField| fields.is_none_or(|fs| fs.contains(&f));
    let s = &e.extra.sources;
    let mut out = Vec::new();
    let mut push = |field: FactField, value: Option<String>, citations: &[domain::Citation]| {
        if let (true, Some(value)) = (wanted(field), value) {
            out.push(Fact { entity: e.clone(), field, value, quantity: None, citations: citations.to_vec() });
        }
    };
    push(FactField::Date, e.date.map(|d| d.to_string()), &s.date);
    push(FactField::EndDate, e.extra.end_date.map(|d| d.to_string()), &s.end_date);
    push(FactField::Url, e.extra.url.clone(), &s.url);
    push(FactField::Summary, e.summary.clone(), &s.summary);
    for a in &e.aliases {
        push(FactField::Alias, Some(a.clone()), s.aliases.get(a).map_or(&[][..], Vec::as_slice));
    }
    if wanted(FactField::Quantity) {
        for q in &e.extra.quantities {
            out.push(Fact {
                entity: e.clone(),
                field: FactField::Quantity,
                value: format!("{} {}", q.value, q.unit),
                quantity: Some(q.clone()),
                citations: quantity_citations(q),
            });
        }
    }
    out
}

/// Where a statement is written: the document and, where one sentence states it, that sentence.
pub struct Citation(pub domain::Citation);

/// Where a statement is written: the document and, where one sentence states it, that sentence.
#[Object]
impl Citation {
    /// The source document.
    async fn document(&self, ctx: &Context<'_>) -> Result<Document> {
        let g = view(ctx).await?;
        g.entity(&self.0.document)
            .map(|e| Document(e.clone()))
            .ok_or_else(|| ApiError::Internal(format!("citation of missing document {}", self.0.document)).extend())
    }
    /// The sentence or clause of the document that states it, verbatim: byte for byte the
    /// characters of `document.text` at `offset`.
    async fn quote(&self) -> Option<&str> {
        self.0.quote.as_deref()
    }
    /// Where the quote starts in `document.text`, in characters (Unicode scalar values, not
    /// bytes nor UTF-16 units) before its first occurrence. Null for a citation without a quote,
    /// or when this server does not hold the document's text.
    async fn offset(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        Ok(located(ctx, &self.0).await?.map(|(_, span)| span.offset as i32))
    }
    /// The quote's length in characters (Unicode scalar values): it ends at `offset + length`.
    /// Null when `offset` is.
    async fn length(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        Ok(located(ctx, &self.0).await?.map(|(_, span)| span.length as i32))
    }
    /// The quote with the text around it in its document: up to `chars` characters (Unicode
    /// scalar values) before and after it, fewer at the start or end of the text. Null when
    /// `offset` is.
    async fn context(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Characters on each side of the quote: 0 to 1,000 (a larger number is taken as 1,000).",
            default_with = "DEFAULT_CONTEXT_CHARS"
        )]
        chars: i32,
    ) -> Result<Option<QuoteContext>> {
        let chars = context_chars(chars).map_err(|e| e.extend())?;
        let Some((text, span)) = located(ctx, &self.0).await? else { return Ok(None) };
        let [before, quote, after] = text.around(span, chars);
        Ok(Some(QuoteContext { before: before.to_string(), quote: quote.to_string(), after: after.to_string() }))
    }
}

/// The characters `Citation.context` gives on each side of a quote unless asked otherwise.
pub const DEFAULT_CONTEXT_CHARS: i32 = 200;

/// The most characters `Citation.context` gives on each side of a quote.
pub const MAX_CONTEXT_CHARS: usize = 1_000;

/// `Citation.context`'s `chars` as the field reads it (the compiled read path too): at most
/// [`MAX_CONTEXT_CHARS`], never negative.
pub(crate) fn context_chars(chars: i32) -> Result<usize, ApiError> {
    if chars < 0 {
        return Err(ApiError::bad_input("chars", format!("must not be negative (got {chars})")));
    }
    Ok((chars as usize).min(MAX_CONTEXT_CHARS))
}

/// A quote in its place: the text just before it, the quote, the text just after it. The three
/// joined are a verbatim extract of the document.
#[derive(SimpleObject)]
pub struct QuoteContext {
    /// The text before the quote (as much as was asked for, less at the start of the document).
    pub before: String,
    /// The quote itself, as the document has it.
    pub quote: String,
    /// The text after the quote (as much as was asked for, less at the end of the document).
    pub after: String,
}

/// The document text a citation's quote is in, and where; `None` without a quote or a text.
///
/// Computed at read time, not stored with the citation: the text is read from its file at every
/// start, so a stored offset could describe another version of it, while one computed from the
/// text in hand is true of the text `Document.text` serves. It is cheap: each document remembers
/// where the graph's quotes are (the seed's check fills that in one pass per document), and a
/// character offset comes from a checkpoint table, not a count from the start.
async fn located(ctx: &Context<'_>, c: &domain::Citation) -> Result<Option<(Arc<domain::DocumentText>, domain::Span)>> {
    let Some(quote) = c.quote.as_deref() else { return Ok(None) };
    let Some(text) = document_text(ctx, &c.document).await? else { return Ok(None) };
    Ok(text.located(quote).map(|span| (text, span)))
}

/// The text of the document with entity ID `id`, when this server holds it.
pub(super) async fn document_text(ctx: &Context<'_>, id: &str) -> Result<Option<Arc<domain::DocumentText>>> {
    let g = view(ctx).await?;
    let Some(file) = g.entity(id).and_then(|e| e.extra.file.clone()) else { return Ok(None) };
    Ok(texts(ctx)?.get(&file).cloned())
}

fn texts(ctx: &Context<'_>) -> Result<domain::DocumentTexts> {
    let service =
        ctx.data::<Service>().map_err(|_| ApiError::Internal("no service in the schema data".into()).extend())?;
    Ok(service.document_texts())
}

/// A typed, directed, cited statement about two entities.
pub struct Relation(pub Arc<domain::Relation>);

/// A typed, directed, cited statement about two entities.
#[Object]
impl Relation {
    /// Global ID (`Relation:<relation id>`), usable with `node(id:)`.
    async fn id(&self) -> ID {
        ID(format!("Relation:{}", self.0.id))
    }
    /// The relation's own stable key (unique among relations).
    async fn key(&self) -> &str {
        &self.0.id
    }
    /// What the relation states.
    async fn kind(&self) -> RelationKind {
        self.0.kind.into()
    }
    /// The entity the relation goes from.
    async fn from(&self, ctx: &Context<'_>) -> Result<Entity> {
        let g = view(ctx).await?;
        entity_by_id(&g, &self.0.from)
    }
    /// The entity the relation goes to.
    async fn to(&self, ctx: &Context<'_>) -> Result<Entity> {
        let g = view(ctx).await?;
        entity_by_id(&g, &self.0.to)
    }
    /// A role title or label, worded as the source words it. On a statement (`STATES`, a
    /// stance) by a person, the role they spoke in: the organization they spoke for.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Position among its siblings (e.g. a strategy's pillars in the order the text gives).
    async fn order(&self) -> Option<i32> {
        self.0.order
    }
    /// The date the relation is known to hold from: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    async fn valid_from(&self) -> Option<String> {
        self.0.valid_from.map(|d| d.to_string())
    }
    /// The date the relation holds until, same format.
    async fn valid_until(&self) -> Option<String> {
        self.0.valid_until.map(|d| d.to_string())
    }
    /// Numbers the source states about this relation.
    async fn quantities(&self) -> Vec<Quantity> {
        self.0.quantities.iter().cloned().map(Quantity).collect()
    }
    /// Where it is written: at least one document, with the sentence where there is one.
    async fn citations(&self) -> Vec<Citation> {
        self.0.citations.iter().cloned().map(Citation).collect()
    }
    /// How many distinct documents cite this relation: 1 means it rests on a single source.
    async fn source_count(&self) -> usize {
        self.0.source_count()
    }
    /// Incremented on every change.
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// The recorded changes of this relation, oldest first (the last `first`, 20 by default).
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many of the latest changes, at most 100.")] first: Option<i32>,
    ) -> Result<Vec<Change>> {
        history_of(ctx, &self.0.id, first).await
    }
}

/// An edge of a `RelationConnection`.
pub struct RelationEdge {
    pub cursor: String,
    pub node: Relation,
}

/// An edge of a `RelationConnection`.
#[Object]
impl RelationEdge {
    /// Opaque position of this edge; pass it as `after`.
    async fn cursor(&self) -> &str {
        &self.cursor
    }
    /// The relation.
    async fn node(&self) -> &Relation {
        &self.node
    }
}

/// A page of an entity's relations.
pub struct RelationConnection {
    pub edges: Vec<RelationEdge>,
    pub page_info: PageInfo,
    pub total_count: usize,
}

/// A page of an entity's relations.
#[Object]
impl RelationConnection {
    /// The relations of this page, in the order asked for (`orderBy`).
    async fn edges(&self) -> &[RelationEdge] {
        &self.edges
    }
    /// Where this page is.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// How many relations match, across all pages.
    async fn total_count(&self) -> usize {
        self.total_count
    }
}

pub fn entity_by_id(g: &GraphIndex, id: &str) -> Result<Entity> {
    g.entity(id)
        .map(|e| Entity::from(e.clone()))
        .ok_or_else(|| ApiError::Internal(format!("relation endpoint {id} missing from the index")).extend())
}

/// Generates one object type per entity kind, all with the common `Entity` fields.
macro_rules! entity_objects {
    ($( $(#[$doc:meta])* $ty:ident { $($extra:tt)* } )+) => {
        $(
            $(#[$doc])*
            pub struct $ty(pub Arc<domain::Entity>);

            $(#[$doc])*
            #[Object]
            impl $ty {
                /// Global ID (`<Type>:<entity id>`), usable with `node(id:)`.
                async fn id(&self) -> ID {
                    ID(format!("{}:{}", stringify!($ty), self.0.id))
                }
                /// Human-readable unique key, e.g. `michele-klein-solomon`; use with `entity(slug:)`.
                async fn slug(&self) -> String {
                    self.0.slug.to_string()
                }
                /// The fullest name the sources give.
                async fn name(&self) -> String {
                    self.0.name.clone()
                }
                /// The entity's kind (the same as its type name).
                async fn kind(&self) -> EntityKind {
                    self.0.kind.into()
                }
                /// A finer sub-type, e.g. "country office", "executive order", "line of effort".
                #[graphql(name = "type")]
                async fn subtype(&self) -> Option<String> {
                    self.0.subtype.clone()
                }
                /// Every other spelling the sources use; `search` finds the entity by any of them.
                async fn aliases(&self) -> Vec<String> {
                    self.0.aliases.clone()
                }
                /// One sentence, in the sources' own terms.
                async fn summary(&self) -> Option<String> {
                    self.0.summary.clone()
                }
                /// The entity's date (founded, signed, dated, published): `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
                async fn date(&self) -> Option<String> {
                    self.0.date.map(|d| d.to_string())
                }
                /// Where a period ends (e.g. a strategy's last year), same format as `date`.
                async fn end_date(&self) -> Option<String> {
                    self.0.extra.end_date.map(|d| d.to_string())
                }
                /// A URL, only where a source gives one.
                async fn url(&self) -> Option<String> {
                    self.0.extra.url.clone()
                }
                /// Numbers the sources state about the entity.
                async fn quantities(&self) -> Vec<Quantity> {
                    self.0.extra.quantities.iter().cloned().map(Quantity).collect()
                }
                /// Each fact the entity states about itself (date, end date, URL, summary, each
                /// alias, each number) with where it is written: the way to ask "where does this
                /// date come from?" or to find facts resting on one document (`sourceCount`).
                async fn facts(
                    &self,
                    #[graphql(desc = "Only these fields (all when not given).")] fields: Option<Vec<FactField>>,
                ) -> Vec<Fact> {
                    facts_of(&self.0, fields.as_deref())
                }
                /// Incremented on every change.
                async fn version(&self) -> u64 {
                    self.0.version
                }
                /// The entity's relations, a page at a time, filtered by `where` and in the
                /// order `orderBy` (by default: `order`, then kind, then key).
                #[allow(clippy::too_many_arguments)]
                async fn relations(
                    &self,
                    ctx: &Context<'_>,
                    #[graphql(desc = "Outgoing, incoming or both (the default).", default_with = "Direction::Both")]
                    direction: Direction,
                    #[graphql(desc = "Only these kinds of relation.")] kinds: Option<Vec<RelationKind>>,
                    #[graphql(name = "where", desc = "Which relations to list: every condition given must hold.")]
                    filter: Option<super::relations::RelationFilterInput>,
                    #[graphql(desc = "The order of the list; a cursor only continues the order it was made in.")]
                    order_by: Option<super::relations::RelationOrder>,
                    #[graphql(desc = "Page size, at most 100; 20 when not given.")] first: Option<i32>,
                    #[graphql(desc = "The `endCursor` of the previous page, made with the same `orderBy`.")] after: Option<String>,
                ) -> Result<RelationConnection> {
                    super::relations::relations_field(ctx, &self.0.id, direction, kinds, filter, order_by, first, after).await
                }
                /// Number of relations, not counting `mentions` (provenance).
                async fn degree(&self, ctx: &Context<'_>) -> Result<usize> {
                    let g = view(ctx).await?;
                    Ok(g.rankings().degree.get(&self.0.id).copied().unwrap_or(0))
                }
                /// PageRank over relations in both directions, not counting `mentions`; all
                /// entities' ranks sum to 1.
                async fn page_rank(&self, ctx: &Context<'_>) -> Result<f64> {
                    let g = view(ctx).await?;
                    Ok(g.rankings().pagerank.get(&self.0.id).copied().unwrap_or(0.0))
                }
                /// The recorded changes of this entity, oldest first (the last `first`, 20 by default).
                async fn history(&self, ctx: &Context<'_>, #[graphql(desc = "How many of the latest changes, at most 100.")] first: Option<i32>) -> Result<Vec<Change>> {
                    history_of(ctx, &self.0.id, first).await
                }
                $($extra)*
            }
        )+
    };
}

entity_objects! {
    /// An organization, government, agency, company, NGO or institute.
    Organization {}
    /// An office of an organization.
    Office {}
    /// A person.
    Person {}
    /// A policy instrument: executive order, strategy, program, protocol, project.
    Policy {}
    /// A pillar, line of effort, priority area or cross-cutting theme of a policy.
    Pillar {}
    /// A country, territory, region or city.
    Place {}
    /// A dated happening or news item.
    Event {}
    /// A source text that the graph cites.
    Document {
        /// The document's title (the same as `name`).
        async fn title(&self) -> String {
            self.0.name.clone()
        }
        /// The publication date, where known.
        async fn published_on(&self) -> Option<String> {
            self.0.date.map(|d| d.to_string())
        }
        /// The file name of the source text in the project's `seed/documents/`.
        async fn file(&self) -> Option<String> {
            self.0.extra.file.clone()
        }
        /// The document's full text, exactly as its file holds it: what every quote is found
        /// in, and what `Citation.offset` counts characters of. Null when this server does not
        /// hold it (a document created through the API has no file).
        async fn text(&self, ctx: &Context<'_>) -> Result<Option<String>> {
            Ok(document_text(ctx, &self.0.id).await?.map(|t| t.text().to_string()))
        }
        /// SHA-256 of the text file's bytes, lowercase hex: compare it with a copy of the file
        /// to know that offsets and quotes refer to the same text. Null when `text` is.
        async fn sha256(&self, ctx: &Context<'_>) -> Result<Option<String>> {
            Ok(document_text(ctx, &self.0.id).await?.map(|t| t.sha256_hex()))
        }
        /// The sentences of `text` that the graph cites, in text order, each with the relations
        /// and entity facts citing it: a quote of theirs overlaps it. Sentences are cut as
        /// `policygraph check` cuts them. A page at a time: a page shorter than `first` is the
        /// last. Empty when `text` is null. Reads every relation, so it is priced like
        /// `conflicts`.
        async fn passages(
            &self,
            ctx: &Context<'_>,
            #[graphql(desc = "Page size, at most 100; 20 when not given.")] first: Option<i32>,
            #[graphql(desc = "Only passages that start after this character offset: the last `offset` of the previous page.")]
            after: Option<i32>,
        ) -> Result<Vec<super::passages::Passage>> {
            super::passages::of_document(ctx, &self.0, first, after).await
        }
    }
}

/// Anything in the graph: organizations, offices, people, policies, pillars, places, events and
/// documents. Each kind is its own object type.
// The lint mistakes repeated `ty = "..."` values of different fields for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(Interface)]
#[graphql(
    field(name = "id", ty = "ID", desc = "Global ID, usable with `node(id:)`."),
    field(name = "slug", ty = "String", desc = "Human-readable unique key; use with `entity(slug:)`."),
    field(name = "name", ty = "String", desc = "The fullest name the sources give."),
    field(name = "kind", ty = "EntityKind", desc = "The entity's kind."),
    field(
        name = "type",
        method = "subtype",
        ty = "Option<String>",
        desc = "A finer sub-type, e.g. \"country office\"."
    ),
    field(name = "aliases", ty = "Vec<String>", desc = "Every other spelling the sources use."),
    field(name = "summary", ty = "Option<String>", desc = "One sentence, in the sources' own terms."),
    field(name = "date", ty = "Option<String>", desc = "The entity's date: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`."),
    field(name = "end_date", ty = "Option<String>", desc = "Where a period ends, same format as `date`."),
    field(name = "url", ty = "Option<String>", desc = "A URL, only where a source gives one."),
    field(name = "quantities", ty = "Vec<Quantity>", desc = "Numbers the sources state about the entity."),
    field(
        name = "facts",
        ty = "Vec<Fact>",
        desc = "Each fact the entity states about itself, with where it is written.",
        arg(name = "fields", ty = "Option<Vec<FactField>>", desc = "Only these fields (all when not given)."),
    ),
    field(name = "version", ty = "u64", desc = "Incremented on every change."),
    field(
        name = "relations",
        ty = "RelationConnection",
        desc = "The entity's relations, a page at a time, filtered by `where` and in the order `orderBy`.",
        arg(
            name = "direction",
            ty = "Direction",
            default_with = "Direction::Both",
            desc = "Outgoing, incoming or both (the default)."
        ),
        arg(name = "kinds", ty = "Option<Vec<RelationKind>>", desc = "Only these kinds of relation."),
        arg(
            name = "where",
            ty = "Option<super::relations::RelationFilterInput>",
            desc = "Which relations to list: every condition given must hold."
        ),
        arg(
            name = "order_by",
            ty = "Option<super::relations::RelationOrder>",
            desc = "The order of the list; a cursor only continues the order it was made in."
        ),
        arg(name = "first", ty = "Option<i32>", desc = "Page size, at most 100; 20 when not given."),
        arg(
            name = "after",
            ty = "Option<String>",
            desc = "The `endCursor` of the previous page, made with the same `orderBy`."
        ),
    ),
    field(name = "degree", ty = "usize", desc = "Number of relations, not counting `mentions`."),
    field(
        name = "page_rank",
        ty = "f64",
        desc = "PageRank over relations in both directions, not counting `mentions`."
    ),
    field(
        name = "history",
        ty = "Vec<Change>",
        desc = "The recorded changes of this entity, oldest first.",
        arg(name = "first", ty = "Option<i32>", desc = "How many of the latest changes, at most 100."),
    )
)]
pub enum Entity {
    Organization(Organization),
    Office(Office),
    Person(Person),
    Policy(Policy),
    Pillar(Pillar),
    Place(Place),
    Event(Event),
    Document(Document),
}

impl From<Arc<domain::Entity>> for Entity {
    fn from(e: Arc<domain::Entity>) -> Self {
        match e.kind {
            domain::EntityKind::Organization => Entity::Organization(Organization(e)),
            domain::EntityKind::Office => Entity::Office(Office(e)),
            domain::EntityKind::Person => Entity::Person(Person(e)),
            domain::EntityKind::Policy => Entity::Policy(Policy(e)),
            domain::EntityKind::Pillar => Entity::Pillar(Pillar(e)),
            domain::EntityKind::Place => Entity::Place(Place(e)),
            domain::EntityKind::Event => Entity::Event(Event(e)),
            domain::EntityKind::Document => Entity::Document(Document(e)),
        }
    }
}

/// Relay's object identification: anything with a global ID. Every concrete type is listed so
/// that each one implements `Node` (an interface inside an interface would not).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global ID: `<Type>:<key>`."))]
pub enum Node {
    Organization(Organization),
    Office(Office),
    Person(Person),
    Policy(Policy),
    Pillar(Pillar),
    Place(Place),
    Event(Event),
    Document(Document),
    Relation(Relation),
}

impl From<Entity> for Node {
    fn from(e: Entity) -> Self {
        match e {
            Entity::Organization(x) => Node::Organization(x),
            Entity::Office(x) => Node::Office(x),
            Entity::Person(x) => Node::Person(x),
            Entity::Policy(x) => Node::Policy(x),
            Entity::Pillar(x) => Node::Pillar(x),
            Entity::Place(x) => Node::Place(x),
            Entity::Event(x) => Node::Event(x),
            Entity::Document(x) => Node::Document(x),
        }
    }
}

/// The type name a global ID of this entity starts with.
pub fn type_name(kind: domain::EntityKind) -> &'static str {
    match kind {
        domain::EntityKind::Organization => "Organization",
        domain::EntityKind::Office => "Office",
        domain::EntityKind::Person => "Person",
        domain::EntityKind::Policy => "Policy",
        domain::EntityKind::Pillar => "Pillar",
        domain::EntityKind::Place => "Place",
        domain::EntityKind::Event => "Event",
        domain::EntityKind::Document => "Document",
    }
}

/// Resolves a global ID; `Ok(None)` when it is well-formed but names nothing.
pub fn resolve_node(g: &GraphIndex, id: &str) -> Result<Option<Node>> {
    let Some((ty, key)) = id.split_once(':') else {
        return Err(ApiError::bad_input("id", format!("`{id}` is not a global ID (expected `<Type>:<key>`)")).extend());
    };
    if ty == "Relation" {
        return Ok(g.relation(key).map(|r| Node::Relation(Relation(r.clone()))));
    }
    let known = domain::EntityKind::ALL.iter().any(|k| type_name(*k) == ty);
    if !known {
        return Err(ApiError::bad_input("id", format!("`{id}` names an unknown type `{ty}`")).extend());
    }
    // The type in the ID must agree with the entity's kind, or the ID is not one we gave out.
    Ok(g.entity(key).filter(|e| type_name(e.kind) == ty).map(|e| Node::from(Entity::from(e.clone()))))
}
