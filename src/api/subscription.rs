//! Subscriptions: committed changes, live, over websocket (graphql-transport-ws and the legacy
//! graphql-ws protocol, both spoken by [`crate::ws`], which runs these streams).

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Result, SimpleObject, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::error::ApiError;
use super::types::{change_kind, view, Change, Entity, EntityKind, Relation, RelationKind};
use crate::domain;
use crate::service::{self, Service};
use crate::store::{RecordJson, TargetKind};

pub struct SubscriptionRoot;

/// An entity was created, changed or deleted.
#[derive(SimpleObject)]
pub struct EntityChangeEvent {
    /// The recorded change (with `before` and `after`).
    pub change: Change,
    /// The entity as it is now; null if it was deleted.
    pub entity: Option<Entity>,
}

/// A relation was created, changed or deleted.
#[derive(SimpleObject)]
pub struct RelationChangeEvent {
    /// The recorded change (with `before` and `after`).
    pub change: Change,
    /// The relation as it is now; null if it was deleted.
    pub relation: Option<Relation>,
}

/// The committed changes, as a stream; a subscriber that falls too far behind gets an error
/// telling it how many it missed (it can catch up with `changes(since:)`).
fn changes(service: &Service) -> impl Stream<Item = Result<Arc<service::Change>>> {
    let rx = service.subscribe();
    futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(c) => Some((Ok(c), rx)),
            Err(RecvError::Lagged(n)) => {
                let e = async_graphql::Error::new(format!(
                    "this subscription fell behind and missed {n} change(s); catch up with `changes(since:)`"
                ))
                .extend_with(|_, x| x.set("code", "LAGGED"));
                Some((Err(e), rx))
            }
            Err(RecvError::Closed) => None,
        }
    })
}

fn service<'a>(ctx: &Context<'a>) -> Result<&'a Service> {
    ctx.data::<Service>().map_err(|_| ApiError::Internal("no service in the schema data".into()).extend())
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Entities as they change: optionally only of some kinds, or only one entity (by slug, as
    /// it was when the change was made).
    async fn entity_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entities of these kinds.")] kinds: Option<Vec<EntityKind>>,
        #[graphql(desc = "Only the entity with this slug (before or after the change).")] slug: Option<String>,
    ) -> Result<impl Stream<Item = Result<EntityChangeEvent>>> {
        let service = service(ctx)?.clone();
        let kinds: Option<Vec<domain::EntityKind>> = kinds.map(|ks| ks.into_iter().map(Into::into).collect());
        let stream = futures_util::StreamExt::filter_map(changes(&service), move |c| {
            let service = service.clone();
            let kinds = kinds.clone();
            let slug = slug.clone();
            async move {
                let c = match c {
                    Ok(c) => c,
                    Err(e) => return Some(Err(e)),
                };
                let e = &c.entry;
                if e.target != TargetKind::Entity {
                    return None;
                }
                let kind = change_kind(e).and_then(|k| k.parse::<domain::EntityKind>().ok());
                if let Some(ks) = &kinds {
                    if !kind.is_some_and(|k| ks.contains(&k)) {
                        return None;
                    }
                }
                if let Some(s) = &slug {
                    let has = |v: &Option<RecordJson>| {
                        v.as_ref().and_then(|v| v.str_field("slug")).as_deref() == Some(s.as_str())
                    };
                    if !has(&e.before) && !has(&e.after) {
                        return None;
                    }
                }
                let g = service.read().await;
                let entity = g.entity(&e.target_id).cloned().map(Entity::from);
                Some(Ok(EntityChangeEvent { change: Change(e.clone()), entity }))
            }
        });
        Ok(stream)
    }

    /// Relations as they change: optionally only of some kinds, or only those touching one
    /// entity (by slug or global ID).
    async fn relation_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only relations of these kinds.")] kinds: Option<Vec<RelationKind>>,
        #[graphql(desc = "Only relations from or to this entity (slug or global ID).")] entity: Option<String>,
    ) -> Result<impl Stream<Item = Result<RelationChangeEvent>>> {
        let service = service(ctx)?.clone();
        let entity_id = match entity {
            None => None,
            Some(r) => {
                let g = view(ctx).await?;
                let found = match r.split_once(':') {
                    Some((_, key)) => g.entity(key),
                    None => g.entity_by_slug(&r),
                };
                Some(found.map(|e| e.id.clone()).ok_or_else(|| ApiError::not_found("entity", r).extend())?)
            }
        };
        let kinds: Option<Vec<domain::RelationKind>> = kinds.map(|ks| ks.into_iter().map(Into::into).collect());
        let stream = futures_util::StreamExt::filter_map(changes(&service), move |c| {
            let service = service.clone();
            let kinds = kinds.clone();
            let entity_id = entity_id.clone();
            async move {
                let c = match c {
                    Ok(c) => c,
                    Err(e) => return Some(Err(e)),
                };
                let e = &c.entry;
                if e.target != TargetKind::Relation {
                    return None;
                }
                if let Some(ks) = &kinds {
                    let kind = change_kind(e).and_then(|k| k.parse::<domain::RelationKind>().ok());
                    if !kind.is_some_and(|k| ks.contains(&k)) {
                        return None;
                    }
                }
                if let Some(id) = &entity_id {
                    let touches = |v: &Option<RecordJson>| {
                        v.as_ref().is_some_and(|v| {
                            v.str_field("from").as_deref() == Some(id) || v.str_field("to").as_deref() == Some(id)
                        })
                    };
                    if !touches(&e.before) && !touches(&e.after) {
                        return None;
                    }
                }
                let g = service.read().await;
                let relation = g.relation(&e.target_id).map(Relation);
                Some(Ok(RelationChangeEvent { change: Change(e.clone()), relation }))
            }
        });
        Ok(stream)
    }
}
