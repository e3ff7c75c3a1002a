//! Mutations: editors change the graph. Each takes an input object, needs a bearer token with
//! the editor role (admin to delete with cascade), and returns a payload with what changed.

use async_graphql::{Context, ErrorExtensions, InputObject, MaybeUndefined, Object, Result, SimpleObject, ID};

use super::error::{code, ApiError};
use super::types::{type_name, view, Change, Entity, EntityKind, Relation, RelationKind};
use crate::auth::{Caller, Role};
use crate::domain;
use crate::edit::{
    Edit, EditError, EntityPatch, NewCitation, NewEntity, NewQuantity, NewRelation, NewSources, RelationPatch,
};
use crate::graph::GraphIndex;
use crate::service::{Applied, Service, ServiceError};
use crate::store::StoreError;

pub struct MutationRoot;

/// Refuses the call unless the caller's token has at least `role`.
pub fn require(ctx: &Context<'_>, role: Role) -> Result<Caller> {
    match ctx.data_opt::<Caller>() {
        None => Err(async_graphql::Error::new(
            "this operation needs `Authorization: Bearer <token>` with the editor or admin role",
        )
        .extend_with(|_, e| e.set("code", code::UNAUTHENTICATED))),
        Some(c) if c.role < role => Err(async_graphql::Error::new(format!(
            "token `{}` has the {} role; this operation needs {}",
            c.name,
            c.role.as_str(),
            role.as_str()
        ))
        .extend_with(|_, e| e.set("code", code::FORBIDDEN))),
        Some(c) => Ok(c.clone()),
    }
}

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Service> {
    ctx.data::<Service>().map_err(|_| ApiError::Internal("no service in the schema data".into()).extend())
}

/// Turns a service error into a client error with a code.
pub fn service_error(e: ServiceError) -> async_graphql::Error {
    let (c, field) = match &e {
        ServiceError::Edit(EditError::NotFound { .. }) => (code::NOT_FOUND, None),
        ServiceError::Edit(EditError::Invalid { field, .. }) => (code::BAD_USER_INPUT, Some(field.clone())),
        ServiceError::Edit(EditError::Value(e)) => (code::BAD_USER_INPUT, Some(e.field.clone())),
        ServiceError::Edit(EditError::VersionConflict { .. } | EditError::HasRelations { .. }) => {
            (code::CONFLICT, None)
        }
        ServiceError::Store(StoreError::SlugTaken { .. }) => (code::BAD_USER_INPUT, Some("slug".into())),
        // Other processes kept writing while this one planned: nothing was written; try again.
        ServiceError::Contended(_) => (code::CONFLICT, None),
        _ => {
            tracing::error!(error = %e, "write failed");
            return ApiError::Internal(e.to_string()).extend();
        }
    };
    async_graphql::Error::new(e.to_string()).extend_with(|_, x| {
        x.set("code", c);
        if let Some(f) = &field {
            x.set("field", f.as_str());
        }
    })
}

/// An entity named by its global ID (`Person:joe-biden`) or its slug (`joe-biden`).
fn entity_ref(g: &GraphIndex, field: &str, r: &str) -> Result<String> {
    let found = match r.split_once(':') {
        Some((ty, key)) => g.entity(key).filter(|e| type_name(e.kind) == ty),
        None => g.entity_by_slug(r),
    };
    found.map(|e| e.id.clone()).ok_or_else(|| {
        async_graphql::Error::new(format!("`{field}`: no entity `{}`", domain::excerpt(r))).extend_with(|_, e| {
            e.set("code", code::NOT_FOUND);
            e.set("field", field);
        })
    })
}

/// A relation named by its global ID (`Relation:<key>`) or its key.
fn relation_ref(r: &str) -> String {
    r.strip_prefix("Relation:").unwrap_or(r).to_string()
}

fn patch<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A new entity.
#[derive(InputObject)]
pub struct CreateEntityInput {
    /// Its kind (the object type it will be).
    pub kind: EntityKind,
    /// Unique key: lowercase letters, digits and single hyphens. Becomes the entity's ID.
    pub slug: String,
    /// The fullest name the sources give.
    pub name: String,
    /// A finer sub-type, e.g. "country office".
    #[graphql(name = "type")]
    pub subtype: Option<String>,
    /// Other spellings.
    pub aliases: Option<Vec<String>>,
    /// One sentence.
    pub summary: Option<String>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Same format as `date`.
    pub end_date: Option<String>,
    /// A URL a source gives.
    pub url: Option<String>,
    /// Where the date, end date, URL, summary and aliases are written.
    pub sources: Option<FactSourcesInput>,
}

/// Citations of an entity's own facts. Each field given replaces that fact's citations; one left
/// out keeps them, unless the update changes the fact's value (then its old citations go: they
/// were the old value's). A fact the entity does not state cannot be cited.
#[derive(InputObject, Default)]
pub struct FactSourcesInput {
    /// Where the date is written.
    pub date: Option<Vec<CitationInput>>,
    /// Where the end date is written.
    pub end_date: Option<Vec<CitationInput>>,
    /// Where the URL is given.
    pub url: Option<Vec<CitationInput>>,
    /// Where what the summary says is written.
    pub summary: Option<Vec<CitationInput>>,
    /// Where each of these aliases is used (an empty list removes an alias's citations).
    pub aliases: Option<Vec<AliasCitationsInput>>,
}

/// Where one alias is used.
#[derive(InputObject)]
pub struct AliasCitationsInput {
    /// The alias, as the entity's `aliases` spell it.
    pub alias: String,
    /// The documents and quotes that use it.
    pub citations: Vec<CitationInput>,
}

/// Changes to an entity. Absent fields stay as they are; `null` clears an optional field.
#[derive(InputObject)]
pub struct UpdateEntityInput {
    /// The entity: global ID or slug.
    pub id: ID,
    /// The `version` you read; the update is refused if the entity changed since.
    pub expected_version: Option<u64>,
    /// A new slug (the global ID does not change).
    pub slug: Option<String>,
    /// A new name.
    pub name: Option<String>,
    /// A new sub-type.
    #[graphql(name = "type")]
    pub subtype: MaybeUndefined<String>,
    /// A new summary.
    pub summary: MaybeUndefined<String>,
    /// A new date.
    pub date: MaybeUndefined<String>,
    /// A new end date.
    pub end_date: MaybeUndefined<String>,
    /// A new URL.
    pub url: MaybeUndefined<String>,
    /// Citations of the entity's facts (see `FactSourcesInput`).
    pub sources: Option<FactSourcesInput>,
}

/// Deletes an entity.
#[derive(InputObject)]
pub struct DeleteEntityInput {
    /// The entity: global ID or slug.
    pub id: ID,
    /// Also delete its relations (admin only). Without it, an entity with relations is kept.
    #[graphql(default = false)]
    pub cascade: bool,
}

/// An alias to add to or remove from an entity.
#[derive(InputObject)]
pub struct AliasInput {
    /// The entity: global ID or slug.
    pub id: ID,
    /// The alias.
    pub alias: String,
    /// Where the alias is used (adding only): documents and quotes.
    pub citations: Option<Vec<CitationInput>>,
}

/// A citation: a document and, where one sentence states the fact, that sentence verbatim.
#[derive(InputObject)]
pub struct CitationInput {
    /// The document: global ID (`Document:<key>`) or slug.
    pub document: ID,
    /// The sentence, verbatim.
    pub quote: Option<String>,
}

/// A number a source states.
#[derive(InputObject)]
pub struct QuantityInput {
    /// What is counted.
    pub name: String,
    /// The number.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// The words it is read from.
    pub quote: Option<String>,
    /// The document (global ID or slug); the relation's first citation when absent.
    pub document: Option<ID>,
}

/// A new relation.
#[derive(InputObject)]
pub struct CreateRelationInput {
    /// What it states.
    pub kind: RelationKind,
    /// The source entity: global ID or slug.
    pub from: ID,
    /// The target entity: global ID or slug.
    pub to: ID,
    /// A role title or label, as worded.
    pub title: Option<String>,
    /// Position among siblings.
    pub order: Option<i32>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub valid_from: Option<String>,
    /// Same format.
    pub valid_until: Option<String>,
    /// Numbers the source states.
    pub quantities: Option<Vec<QuantityInput>>,
    /// At least one.
    pub citations: Vec<CitationInput>,
}

/// Changes to a relation. Absent fields stay; `null` clears.
#[derive(InputObject)]
pub struct UpdateRelationInput {
    /// The relation: global ID or key.
    pub id: ID,
    /// The `version` you read.
    pub expected_version: Option<u64>,
    /// A new title.
    pub title: MaybeUndefined<String>,
    /// A new position.
    pub order: MaybeUndefined<i32>,
    /// A new start date.
    pub valid_from: MaybeUndefined<String>,
    /// A new end date.
    pub valid_until: MaybeUndefined<String>,
    /// Replaces all quantities.
    pub quantities: Option<Vec<QuantityInput>>,
}

/// Deletes a relation.
#[derive(InputObject)]
pub struct DeleteRelationInput {
    /// The relation: global ID or key.
    pub id: ID,
}

/// A citation to add to or remove from a relation.
#[derive(InputObject)]
pub struct RelationCitationInput {
    /// The relation: global ID or key.
    pub relation: ID,
    /// The document: global ID or slug.
    pub document: ID,
    /// The quote (for removal: only the citation with this quote; all of the document's when absent).
    pub quote: Option<String>,
}

/// Two entities that are one: `remove`'s relations, aliases and numbers move onto `keep`.
#[derive(InputObject)]
pub struct MergeEntitiesInput {
    /// The entity that stays: global ID or slug.
    pub keep: ID,
    /// The duplicate that goes: global ID or slug.
    pub remove: ID,
}

/// The entity a mutation changed, and the recorded changes.
#[derive(SimpleObject)]
pub struct EntityPayload {
    /// The entity after the change.
    pub entity: Option<Entity>,
    /// What was recorded in the audit trail for this mutation.
    pub changes: Vec<Change>,
}

/// The relation a mutation changed, and the recorded changes.
#[derive(SimpleObject)]
pub struct RelationPayload {
    /// The relation after the change.
    pub relation: Option<Relation>,
    /// What was recorded in the audit trail for this mutation.
    pub changes: Vec<Change>,
}

/// What a deletion removed.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The global ID of the deleted entity or relation.
    pub deleted_id: ID,
    /// What was recorded in the audit trail (one entry per deleted record).
    pub changes: Vec<Change>,
}

async fn run(ctx: &Context<'_>, role: Role, edit: Edit) -> Result<Applied> {
    let caller = require(ctx, role)?;
    service(ctx)?.edit(&caller.name, edit).await.map_err(service_error)
}

async fn entity_payload(ctx: &Context<'_>, applied: Applied) -> Result<EntityPayload> {
    let g = view(ctx).await?;
    let entity = applied.primary.and_then(|(_, id)| g.entity(&id).cloned()).map(Entity::from);
    Ok(EntityPayload { entity, changes: applied.changes.iter().map(|c| Change(c.entry.clone())).collect() })
}

async fn relation_payload(ctx: &Context<'_>, applied: Applied) -> Result<RelationPayload> {
    let g = view(ctx).await?;
    let relation = applied.primary.and_then(|(_, id)| g.relation(&id)).map(Relation);
    Ok(RelationPayload { relation, changes: applied.changes.iter().map(|c| Change(c.entry.clone())).collect() })
}

fn citations(g: &GraphIndex, field: &str, cs: Option<Vec<CitationInput>>) -> Result<Vec<NewCitation>> {
    cs.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(NewCitation { document: entity_ref(g, &format!("{field}[{i}].document"), &c.document)?, quote: c.quote })
        })
        .collect()
}

fn sources(g: &GraphIndex, input: Option<FactSourcesInput>) -> Result<NewSources> {
    let input = input.unwrap_or_default();
    let list = |field: &str, cs: Option<Vec<CitationInput>>| -> Result<Option<Vec<NewCitation>>> {
        cs.map(|cs| citations(g, &format!("sources.{field}"), Some(cs))).transpose()
    };
    Ok(NewSources {
        date: list("date", input.date)?,
        end_date: list("endDate", input.end_date)?,
        url: list("url", input.url)?,
        summary: list("summary", input.summary)?,
        aliases: input
            .aliases
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, a)| Ok((a.alias, citations(g, &format!("sources.aliases[{i}].citations"), Some(a.citations))?)))
            .collect::<Result<_>>()?,
    })
}

fn quantities(g: &GraphIndex, qs: Option<Vec<QuantityInput>>) -> Result<Vec<NewQuantity>> {
    qs.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            Ok(NewQuantity {
                name: q.name,
                value: q.value,
                unit: q.unit,
                quote: q.quote,
                document: q.document.map(|d| entity_ref(g, &format!("quantities[{i}].document"), &d)).transpose()?,
            })
        })
        .collect()
}

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Creates an entity. Needs the editor role.
    async fn create_entity(&self, ctx: &Context<'_>, input: CreateEntityInput) -> Result<EntityPayload> {
        require(ctx, Role::Editor)?;
        let sources = {
            let g = view(ctx).await?;
            sources(&g, input.sources)?
        };
        let edit = Edit::CreateEntity(NewEntity {
            kind: Some(domain::EntityKind::from(input.kind)),
            slug: input.slug,
            name: input.name,
            subtype: input.subtype,
            aliases: input.aliases.unwrap_or_default(),
            summary: input.summary,
            date: input.date,
            end_date: input.end_date,
            url: input.url,
            sources,
        });
        let applied = run(ctx, Role::Editor, edit).await?;
        entity_payload(ctx, applied).await
    }

    /// Changes an entity's fields (optimistic concurrency with `expectedVersion`). Editor.
    async fn update_entity(&self, ctx: &Context<'_>, input: UpdateEntityInput) -> Result<EntityPayload> {
        require(ctx, Role::Editor)?;
        let (id, sources) = {
            let g = view(ctx).await?;
            (entity_ref(&g, "id", &input.id)?, sources(&g, input.sources)?)
        };
        let edit = Edit::UpdateEntity {
            id,
            expected_version: input.expected_version,
            patch: EntityPatch {
                slug: input.slug,
                name: input.name,
                subtype: patch(input.subtype),
                summary: patch(input.summary),
                date: patch(input.date),
                end_date: patch(input.end_date),
                url: patch(input.url),
                sources,
            },
        };
        let applied = run(ctx, Role::Editor, edit).await?;
        entity_payload(ctx, applied).await
    }

    /// Deletes an entity. One with relations is refused unless `cascade` (admin only).
    async fn delete_entity(&self, ctx: &Context<'_>, input: DeleteEntityInput) -> Result<DeletePayload> {
        require(ctx, Role::Editor)?;
        let g = view(ctx).await?;
        let id = entity_ref(&g, "id", &input.id)?;
        let kind = g.entity(&id).map(|e| e.kind).unwrap_or(domain::EntityKind::Organization);
        drop(g);
        let role = if input.cascade { Role::Admin } else { Role::Editor };
        let applied = run(ctx, role, Edit::DeleteEntity { id: id.clone(), cascade: input.cascade }).await?;
        Ok(DeletePayload {
            deleted_id: ID(format!("{}:{id}", type_name(kind))),
            changes: applied.changes.iter().map(|c| Change(c.entry.clone())).collect(),
        })
    }

    /// Adds an alias to an entity. Editor.
    async fn add_alias(&self, ctx: &Context<'_>, input: AliasInput) -> Result<EntityPayload> {
        require(ctx, Role::Editor)?;
        let (id, citations) = {
            let g = view(ctx).await?;
            (entity_ref(&g, "id", &input.id)?, citations(&g, "citations", input.citations)?)
        };
        let applied = run(ctx, Role::Editor, Edit::AddAlias { id, alias: input.alias, citations }).await?;
        entity_payload(ctx, applied).await
    }

    /// Removes an alias from an entity. Editor.
    async fn remove_alias(&self, ctx: &Context<'_>, input: AliasInput) -> Result<EntityPayload> {
        require(ctx, Role::Editor)?;
        let id = {
            let g = view(ctx).await?;
            entity_ref(&g, "id", &input.id)?
        };
        let applied = run(ctx, Role::Editor, Edit::RemoveAlias { id, alias: input.alias }).await?;
        entity_payload(ctx, applied).await
    }

    /// Creates a cited relation. Editor.
    async fn create_relation(&self, ctx: &Context<'_>, input: CreateRelationInput) -> Result<RelationPayload> {
        require(ctx, Role::Editor)?;
        let edit = {
            let g = view(ctx).await?;
            let citations = input
                .citations
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let document = entity_ref(&g, &format!("citations[{i}].document"), &c.document)?;
                    Ok(NewCitation { document, quote: c.quote })
                })
                .collect::<Result<Vec<_>>>()?;
            Edit::CreateRelation(NewRelation {
                kind: input.kind.into(),
                from: entity_ref(&g, "from", &input.from)?,
                to: entity_ref(&g, "to", &input.to)?,
                title: input.title,
                order: input.order,
                valid_from: input.valid_from,
                valid_until: input.valid_until,
                quantities: quantities(&g, input.quantities)?,
                citations,
            })
        };
        let applied = run(ctx, Role::Editor, edit).await?;
        relation_payload(ctx, applied).await
    }

    /// Changes a relation's properties (optimistic concurrency with `expectedVersion`). Editor.
    async fn update_relation(&self, ctx: &Context<'_>, input: UpdateRelationInput) -> Result<RelationPayload> {
        require(ctx, Role::Editor)?;
        let qs = match input.quantities {
            Some(q) => {
                let g = view(ctx).await?;
                Some(quantities(&g, Some(q))?)
            }
            None => None,
        };
        let edit = Edit::UpdateRelation {
            id: relation_ref(&input.id),
            expected_version: input.expected_version,
            patch: RelationPatch {
                title: patch(input.title),
                order: patch(input.order),
                valid_from: patch(input.valid_from),
                valid_until: patch(input.valid_until),
                quantities: qs,
            },
        };
        let applied = run(ctx, Role::Editor, edit).await?;
        relation_payload(ctx, applied).await
    }

    /// Deletes a relation. Editor.
    async fn delete_relation(&self, ctx: &Context<'_>, input: DeleteRelationInput) -> Result<DeletePayload> {
        let id = relation_ref(&input.id);
        let applied = run(ctx, Role::Editor, Edit::DeleteRelation { id: id.clone() }).await?;
        Ok(DeletePayload {
            deleted_id: ID(format!("Relation:{id}")),
            changes: applied.changes.iter().map(|c| Change(c.entry.clone())).collect(),
        })
    }

    /// Adds a citation to a relation. Editor.
    async fn add_citation(&self, ctx: &Context<'_>, input: RelationCitationInput) -> Result<RelationPayload> {
        require(ctx, Role::Editor)?;
        let document = {
            let g = view(ctx).await?;
            entity_ref(&g, "document", &input.document)?
        };
        let edit = Edit::AddCitation {
            id: relation_ref(&input.relation),
            citation: NewCitation { document, quote: input.quote },
        };
        let applied = run(ctx, Role::Editor, edit).await?;
        relation_payload(ctx, applied).await
    }

    /// Removes a citation from a relation (a relation keeps at least one). Editor.
    async fn remove_citation(&self, ctx: &Context<'_>, input: RelationCitationInput) -> Result<RelationPayload> {
        require(ctx, Role::Editor)?;
        let document = {
            let g = view(ctx).await?;
            entity_ref(&g, "document", &input.document)?
        };
        let edit = Edit::RemoveCitation { id: relation_ref(&input.relation), document, quote: input.quote };
        let applied = run(ctx, Role::Editor, edit).await?;
        relation_payload(ctx, applied).await
    }

    /// Merges a duplicate into the entity that stays: relations, aliases (with the duplicate's
    /// name) and numbers move over; relations that become identical fold together with all
    /// their citations; the duplicate is deleted. Editor.
    async fn merge_entities(&self, ctx: &Context<'_>, input: MergeEntitiesInput) -> Result<EntityPayload> {
        require(ctx, Role::Editor)?;
        let (keep, remove) = {
            let g = view(ctx).await?;
            (entity_ref(&g, "keep", &input.keep)?, entity_ref(&g, "remove", &input.remove)?)
        };
        let applied = run(ctx, Role::Editor, Edit::MergeEntities { keep, remove }).await?;
        entity_payload(ctx, applied).await
    }
}
