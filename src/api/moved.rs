//! IDs that no longer name a record in the graph: what `node`, `nodes`, `entity` and
//! `relation` answer for them.
//!
//! A service that stored an ID has no way to learn that its entity was merged into another
//! unless the API tells it, so a look-up that misses the graph asks the audit log what became
//! of the ID (one store read, only on a miss):
//! - merged into another entity (the deletion entry carries `merged_into`): the survivor is
//!   answered, followed through later merges; the client sees the move because the answer's
//!   `id` (and `slug`) differ from the one it asked for, and `history` shows the merge;
//! - deleted: `null`, with an error whose code is `DELETED`, saying when;
//! - still alive under another slug (an entity's ID is its slug at creation, so an old slug is
//!   an ID): the entity is answered, as for a merge;
//! - never recorded: `null` as before (`NOT_FOUND` where the look-up already said so).
//!
//! The audit log, not the index, is asked because it is the store's own record of what
//! happened, kept on every backend and by every replica alike; the index holds only what is.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Result};

use super::error::ApiError;
use super::types::{type_name, Entity, Node, Relation};
use crate::domain;
use crate::graph::GraphIndex;
use crate::service::Service;
use crate::store::{AuditEntry, TargetKind};

/// A chain of merges longer than this is cut (each hop is one store read); real chains are a
/// few links long.
const MAX_HOPS: usize = 16;

/// What the audit log says became of an ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Nothing was ever recorded under it.
    Unknown,
    /// It exists (as far as the log knows).
    Alive,
    /// Merged into the entity with this ID.
    MergedInto(String),
    /// Deleted by the change with this `seq`, at this time.
    Deleted { seq: u64, at: String },
}

/// What the look-up of an ID that the graph does not hold comes to.
pub enum Found<T> {
    /// The record the ID now leads to.
    Here(T),
    /// Nothing: the ID was never given out (or leads nowhere the graph holds yet).
    Nothing,
}

fn service<'a>(ctx: &'a Context<'_>) -> Result<&'a Service> {
    ctx.data::<Service>().map_err(|_| ApiError::Internal("no service in the schema data".into()).extend())
}

/// What became of the record of `target` kind with ID `id`, by its last audit entry.
pub async fn fate(service: &Service, target: TargetKind, id: &str) -> Result<Fate> {
    let internal = |e: crate::service::ServiceError| ApiError::Internal(e.to_string()).extend();
    let history = service.history(id).await.map_err(internal)?;
    let Some(last) = history.into_iter().rev().find(|e| e.target == target) else {
        return Ok(Fate::Unknown);
    };
    if last.after.is_some() {
        return Ok(Fate::Alive);
    }
    if let Some(survivor) = last.merged_into {
        return Ok(Fate::MergedInto(survivor));
    }
    if last.action == "mergeEntities" && last.seq > 1 {
        // Merges recorded before deletions carried `merged_into`: the survivor's update is the
        // entry just before the deletion, in the same commit (`edit::plan` writes them so).
        let before = service.changes_after(last.seq - 2, 1).await.map_err(internal)?;
        if let Some(kept) = before.into_iter().find(|e| is_survivor_of(e, &last)) {
            return Ok(Fate::MergedInto(kept.target_id));
        }
    }
    Ok(Fate::Deleted { seq: last.seq, at: last.at })
}

fn is_survivor_of(e: &AuditEntry, gone: &AuditEntry) -> bool {
    e.seq + 1 == gone.seq
        && e.generation == gone.generation
        && e.action == "mergeEntities"
        && e.target == TargetKind::Entity
        && e.after.is_some()
}

/// The entity an entity ID leads to when the graph does not hold it: through merges (and an
/// old slug's entity), or a `DELETED` error.
pub async fn entity_gone(ctx: &Context<'_>, g: &GraphIndex, id: &str) -> Result<Found<Arc<domain::Entity>>> {
    let service = service(ctx)?;
    let mut id = id.to_string();
    for _ in 0..MAX_HOPS {
        match fate(service, TargetKind::Entity, &id).await? {
            Fate::Unknown => return Ok(Found::Nothing),
            Fate::Alive => {
                return Ok(match g.entity(&id) {
                    Some(e) => Found::Here(e.clone()),
                    None => Found::Nothing,
                })
            }
            Fate::MergedInto(survivor) => {
                if let Some(e) = g.entity(&survivor) {
                    return Ok(Found::Here(e.clone()));
                }
                id = survivor;
            }
            Fate::Deleted { seq, at } => return Err(deleted("entity", &id, seq, &at)),
        }
    }
    Ok(Found::Nothing)
}

/// A relation's key that the graph does not hold: `DELETED` if it was deleted, else nothing.
/// (Merges move relations under their own keys, so a relation never moves.)
pub async fn relation_gone(ctx: &Context<'_>, key: &str) -> Result<Found<Relation>> {
    match fate(service(ctx)?, TargetKind::Relation, key).await? {
        Fate::Deleted { seq, at } => Err(deleted("relation", key, seq, &at)),
        _ => Ok(Found::Nothing),
    }
}

/// A global ID the graph does not hold (its form already checked by `resolve_node`).
pub async fn node_gone(ctx: &Context<'_>, g: &GraphIndex, id: &str) -> Result<Option<Node>> {
    let Some((ty, key)) = id.split_once(':') else {
        return Ok(None);
    };
    let found = if ty == "Relation" {
        match relation_gone(ctx, key).await? {
            Found::Here(r) => Some(Node::Relation(r)),
            Found::Nothing => None,
        }
    } else {
        // The type in an ID is part of it: the record it leads to must be of that type (a
        // merge joins entities of one kind only), or the ID is not one we gave out.
        match entity_gone(ctx, g, key).await? {
            Found::Here(e) if type_name(e.kind) == ty => Some(Node::from(Entity::from(e))),
            Found::Here(_) => None,
            Found::Nothing => None,
        }
    };
    Ok(found)
}

fn deleted(what: &'static str, key: &str, seq: u64, at: &str) -> async_graphql::Error {
    ApiError::Deleted { what, key: key.to_string(), seq, at: at.to_string() }.extend()
}

/// The global ID an entity deleted by a merge now answers to (for `Change.mergedInto`).
pub fn survivor_global_id(entry: &AuditEntry) -> Option<String> {
    let survivor = entry.merged_into.as_deref()?;
    let ty = super::types::change_kind(entry)
        .and_then(|k| k.parse::<domain::EntityKind>().ok())
        .map(type_name)
        .unwrap_or("Entity");
    Some(format!("{ty}:{survivor}"))
}
