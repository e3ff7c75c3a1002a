//! Edits: the changes editors make through the API, validated against the current graph and
//! turned into one [`WriteBatch`] each (with its audit entries). Knows the model and the index,
//! not GraphQL and not sled.
//!
//! A plan also records its [`Footprint`]: every record and index entry it read or wrote. The
//! service uses it to plan an edit against a graph that does not yet show the edits still
//! waiting for their flush, when none of them wrote anything this plan looked at.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::domain::{
    self, limits, Citation, DocumentTexts, Entity, EntityKind, FieldError, PartialDate, Quantity, Relation,
    RelationKind, Slug,
};
use crate::graph::{Direction, GraphIndex};
use crate::store::{AuditEntry, TargetKind, WriteBatch};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("field `{field}`: {message}")]
    Invalid { field: String, message: String },
    /// A value the rules of [`domain`] refuse (too long, a control character, a quote that is
    /// not in its document…).
    #[error(transparent)]
    Value(#[from] FieldError),
    #[error("{what} `{id}` is at version {actual}, not {expected}: it changed since you read it; read it again")]
    VersionConflict { what: &'static str, id: String, expected: u64, actual: u64 },
    #[error("entity `{id}` still has {count} relation(s); delete them first or ask for `cascade: true`")]
    HasRelations { id: String, count: usize },
}

fn invalid(field: &str, message: impl Into<String>) -> EditError {
    EditError::Invalid { field: field.into(), message: message.into() }
}

/// A new entity as an editor describes it.
#[derive(Debug, Clone, Default)]
pub struct NewEntity {
    pub kind: Option<EntityKind>,
    pub slug: String,
    pub name: String,
    pub subtype: Option<String>,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub date: Option<String>,
    pub end_date: Option<String>,
    pub url: Option<String>,
    pub sources: NewSources,
}

/// Changes to an entity: `None` leaves a field alone; `Some(None)` clears an optional field.
/// A changed date, end date, URL or summary loses the citations of its old value unless
/// `sources` gives the new value's.
#[derive(Debug, Clone, Default)]
pub struct EntityPatch {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub subtype: Option<Option<String>>,
    pub summary: Option<Option<String>>,
    pub date: Option<Option<String>>,
    pub end_date: Option<Option<String>>,
    pub url: Option<Option<String>>,
    pub sources: NewSources,
}

/// Citations of an entity's own facts as an editor gives them: for each field, `None` leaves its
/// citations alone (or, for a new entity, gives none) and `Some` replaces them.
#[derive(Debug, Clone, Default)]
pub struct NewSources {
    pub date: Option<Vec<NewCitation>>,
    pub end_date: Option<Vec<NewCitation>>,
    pub url: Option<Vec<NewCitation>>,
    pub summary: Option<Vec<NewCitation>>,
    /// (alias, its citations), each replacing that alias's.
    pub aliases: Vec<(String, Vec<NewCitation>)>,
}

/// A citation as an editor gives it: the document's entity ID and the sentence.
#[derive(Debug, Clone)]
pub struct NewCitation {
    pub document: String,
    pub quote: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewQuantity {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub quote: Option<String>,
    pub document: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewRelation {
    pub kind: RelationKind,
    pub from: String,
    pub to: String,
    pub title: Option<String>,
    pub order: Option<i32>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub quantities: Vec<NewQuantity>,
    pub citations: Vec<NewCitation>,
}

#[derive(Debug, Clone, Default)]
pub struct RelationPatch {
    pub title: Option<Option<String>>,
    pub order: Option<Option<i32>>,
    pub valid_from: Option<Option<String>>,
    pub valid_until: Option<Option<String>>,
    pub quantities: Option<Vec<NewQuantity>>,
}

/// One editor action. IDs are entity and relation IDs (not global IDs).
#[derive(Debug, Clone)]
pub enum Edit {
    CreateEntity(NewEntity),
    UpdateEntity { id: String, expected_version: Option<u64>, patch: EntityPatch },
    DeleteEntity { id: String, cascade: bool },
    AddAlias { id: String, alias: String, citations: Vec<NewCitation> },
    RemoveAlias { id: String, alias: String },
    CreateRelation(NewRelation),
    UpdateRelation { id: String, expected_version: Option<u64>, patch: RelationPatch },
    DeleteRelation { id: String },
    AddCitation { id: String, citation: NewCitation },
    RemoveCitation { id: String, document: String, quote: Option<String> },
    MergeEntities { keep: String, remove: String },
}

impl Edit {
    pub fn name(&self) -> &'static str {
        match self {
            Edit::CreateEntity(_) => "createEntity",
            Edit::UpdateEntity { .. } => "updateEntity",
            Edit::DeleteEntity { .. } => "deleteEntity",
            Edit::AddAlias { .. } => "addAlias",
            Edit::RemoveAlias { .. } => "removeAlias",
            Edit::CreateRelation(_) => "createRelation",
            Edit::UpdateRelation { .. } => "updateRelation",
            Edit::DeleteRelation { .. } => "deleteRelation",
            Edit::AddCitation { .. } => "addCitation",
            Edit::RemoveCitation { .. } => "removeCitation",
            Edit::MergeEntities { .. } => "mergeEntities",
        }
    }
}

/// What an edit changed, by ID, for the payload and for subscribers.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub batch: WriteBatch,
    /// The entity or relation the payload returns.
    pub primary: Option<(TargetKind, String)>,
    pub footprint: Footprint,
}

/// One thing a plan can depend on: a record, a slug's owner, an entity's list of relations, or
/// the set of relations citing a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Entity(String),
    Slug(String),
    Relation(String),
    RelationsOf(String),
    CitationsOf(String),
}

/// What a plan read and what its batch writes.
#[derive(Debug, Clone, Default)]
pub struct Footprint {
    reads: HashSet<Key>,
    writes: HashSet<Key>,
}

impl Footprint {
    /// Whether this plan could have come out differently had it been made after `earlier` was
    /// applied: `earlier` wrote something this plan read or wrote. When it did not, planning
    /// against the graph without `earlier` gives the same batch as planning after it.
    pub fn depends_on(&self, earlier: &Footprint) -> bool {
        earlier.writes.iter().any(|k| self.reads.contains(k) || self.writes.contains(k))
    }

    fn write_relation(&mut self, r: &Relation) {
        self.writes.insert(Key::Relation(r.id.clone()));
        self.writes.insert(Key::RelationsOf(r.from.clone()));
        self.writes.insert(Key::RelationsOf(r.to.clone()));
        let documents =
            r.citations.iter().map(|c| &c.document).chain(r.quantities.iter().filter_map(|q| q.document.as_ref()));
        for d in documents {
            self.writes.insert(Key::CitationsOf(d.clone()));
        }
    }

    fn write_entity(&mut self, e: &Entity) {
        self.writes.insert(Key::Entity(e.id.clone()));
        self.writes.insert(Key::Slug(e.slug.to_string()));
        for d in entity_documents(e) {
            self.writes.insert(Key::CitationsOf(d.to_string()));
        }
    }
}

/// Every document an entity cites for its own facts and numbers.
pub(crate) fn entity_documents(e: &Entity) -> impl Iterator<Item = &str> {
    let s = &e.sources;
    s.date
        .iter()
        .chain(&s.end_date)
        .chain(&s.url)
        .chain(&s.summary)
        .chain(s.aliases.values().flatten())
        .map(|c| c.document.as_str())
        .chain(e.quantities.iter().filter_map(|q| q.document.as_deref()))
}

/// The graph as a planner sees it: every look-up is recorded in the footprint.
struct Reading<'a> {
    g: &'a GraphIndex,
    reads: RefCell<HashSet<Key>>,
}

impl<'a> Reading<'a> {
    fn read(&self, key: Key) {
        self.reads.borrow_mut().insert(key);
    }

    fn entity(&self, id: &str) -> Option<&'a Arc<Entity>> {
        self.read(Key::Entity(id.into()));
        self.g.entity(id)
    }

    fn entity_by_slug(&self, slug: &str) -> Option<&'a Arc<Entity>> {
        self.read(Key::Slug(slug.into()));
        self.g.entity_by_slug(slug)
    }

    fn relation(&self, id: &str) -> Option<Arc<Relation>> {
        self.read(Key::Relation(id.into()));
        self.g.relation(id)
    }

    /// Every relation with `id` at either end, as owned values.
    fn relations_of(&self, id: &str) -> Vec<Relation> {
        self.read(Key::RelationsOf(id.into()));
        self.g.relations_of(id, Direction::Both, None).into_iter().map(|r| Arc::unwrap_or_clone(r.get())).collect()
    }

    /// How many entities other than `document` cite it for one of their own facts (a date,
    /// an alias, a number…). Entities do not index what they cite: this reads them all, which
    /// only the rare deletion of a document pays.
    fn facts_citing(&self, document: &str) -> usize {
        self.read(Key::CitationsOf(document.into()));
        self.g.entities(None, None).filter(|e| e.id != document && entity_documents(e).any(|d| d == document)).count()
    }

    /// How many relations cite `document` without having it at either end.
    fn cited_elsewhere(&self, document: &str) -> usize {
        self.read(Key::CitationsOf(document.into()));
        self.g
            .all_relations()
            .filter(|r| r.cites(document))
            .filter(|r| r.endpoints().0 != document && r.endpoints().1 != document)
            .count()
    }
}

struct Planner<'a> {
    g: &'a Reading<'a>,
    /// What quotes are checked against.
    texts: &'a DocumentTexts,
    /// Only its writes: the reads are the [`Reading`]'s.
    footprint: Footprint,
    actor: &'a str,
    action: &'static str,
    batch: WriteBatch,
}

impl Planner<'_> {
    fn record(
        &mut self,
        target: TargetKind,
        id: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        self.batch.audit.push(AuditEntry {
            seq: 0,
            generation: 0,
            at: String::new(),
            actor: self.actor.into(),
            action: self.action.into(),
            target,
            target_id: id.into(),
            before,
            after,
            merged_into: None,
        });
    }

    fn put_entity(&mut self, before: Option<&Entity>, after: Entity) {
        // The slug the entity had is freed as much as the new one is taken.
        before.into_iter().chain([&after]).for_each(|e| self.footprint.write_entity(e));
        self.record(TargetKind::Entity, &after.id, before.map(json), Some(json(&after)));
        self.batch.put_entities.push(after);
    }

    fn put_relation(&mut self, before: Option<&Relation>, after: Relation) {
        before.into_iter().chain([&after]).for_each(|r| self.footprint.write_relation(r));
        self.record(TargetKind::Relation, &after.id, before.map(json), Some(json(&after)));
        self.batch.put_relations.push(after);
    }

    fn delete_relation(&mut self, r: &Relation) {
        self.footprint.write_relation(r);
        self.record(TargetKind::Relation, &r.id, Some(json(r)), None);
        self.batch.delete_relations.push(r.id.clone());
    }

    fn delete_entity(&mut self, e: &Entity) {
        self.footprint.write_entity(e);
        self.record(TargetKind::Entity, &e.id, Some(json(e)), None);
        self.batch.delete_entities.push(e.id.clone());
    }

    fn entity(&self, id: &str) -> Result<Entity, EditError> {
        self.g.entity(id).map(|e| (**e).clone()).ok_or_else(|| EditError::NotFound { what: "entity", id: id.into() })
    }

    fn relation(&self, id: &str) -> Result<Relation, EditError> {
        self.g
            .relation(id)
            .map(Arc::unwrap_or_clone)
            .ok_or_else(|| EditError::NotFound { what: "relation", id: id.into() })
    }

    /// A citation whose document and quote are the input fields `doc_field` and `quote_field`.
    fn citation(&self, doc_field: &str, quote_field: &str, c: NewCitation) -> Result<Citation, EditError> {
        let doc =
            self.g.entity(&c.document).ok_or_else(|| invalid(doc_field, format!("no document `{}`", c.document)))?;
        if doc.kind != EntityKind::Document {
            return Err(invalid(doc_field, format!("`{}` is a {}, not a document", c.document, doc.kind)));
        }
        let quote = limits::QUOTE.optional(quote_field, c.quote.as_deref())?;
        if let Some(q) = &quote {
            self.texts.check_quote(&c.document, doc.file.as_deref(), q).map_err(|e| e.at(quote_field))?;
        }
        Ok(Citation { document: c.document, quote })
    }

    /// Citations of a list field (`sources.date`), each checked as a relation's are.
    fn citations(&self, field: &str, cs: Vec<NewCitation>) -> Result<Vec<Citation>, EditError> {
        domain::check_count(field, cs.len(), limits::CITATIONS)?;
        cs.into_iter()
            .enumerate()
            .map(|(i, c)| self.citation(&format!("{field}[{i}].document"), &format!("{field}[{i}].quote"), c))
            .collect()
    }

    /// `e` with the citations `given` put on its facts: each field given replaces its
    /// citations; a field whose value changed from `old` and is not given loses them (they were
    /// the old value's); citations of a fact the entity does not state are refused.
    fn apply_sources(&self, e: &mut Entity, old: Option<&Entity>, given: NewSources) -> Result<(), EditError> {
        let put = |name: &str, stated: bool, changed: bool, slot: &mut Vec<Citation>, new: Option<Vec<NewCitation>>| {
            match new {
                Some(cs) if !cs.is_empty() && !stated => {
                    Err(invalid(&format!("sources.{name}"), format!("cites a {name} the entity does not state")))
                }
                Some(cs) => {
                    *slot = self.citations(&format!("sources.{name}"), cs)?;
                    Ok(())
                }
                None => {
                    if changed || !stated {
                        slot.clear();
                    }
                    Ok(())
                }
            }
        };
        let (d, ed, u, sm) = (
            old.is_none_or(|o| o.date != e.date),
            old.is_none_or(|o| o.end_date != e.end_date),
            old.is_none_or(|o| o.url != e.url),
            old.is_none_or(|o| o.summary != e.summary),
        );
        let mut sources = std::mem::take(&mut e.sources);
        put("date", e.date.is_some(), d, &mut sources.date, given.date)?;
        put("endDate", e.end_date.is_some(), ed, &mut sources.end_date, given.end_date)?;
        put("url", e.url.is_some(), u, &mut sources.url, given.url)?;
        put("summary", e.summary.is_some(), sm, &mut sources.summary, given.summary)?;
        for (i, (alias, cs)) in given.aliases.into_iter().enumerate() {
            let alias = alias.trim().to_string();
            if !e.aliases.contains(&alias) {
                let message = format!("`{}` is not an alias of the entity", domain::excerpt(&alias));
                return Err(invalid(&format!("sources.aliases[{i}].alias"), message));
            }
            let cs = self.citations(&format!("sources.aliases[{i}].citations"), cs)?;
            if cs.is_empty() {
                sources.aliases.remove(&alias);
            } else {
                sources.aliases.insert(alias, cs);
            }
        }
        sources.aliases.retain(|a, _| e.aliases.contains(a));
        e.sources = sources;
        Ok(())
    }

    fn quantities(
        &self,
        field: &str,
        qs: Vec<NewQuantity>,
        default_doc: Option<&str>,
    ) -> Result<Vec<Quantity>, EditError> {
        domain::check_count(field, qs.len(), limits::QUANTITIES)?;
        qs.into_iter()
            .enumerate()
            .map(|(i, q)| {
                let f = format!("{field}[{i}]");
                let mut quantity = domain::quantity(&f, &q.name, q.value, &q.unit, q.quote.as_deref())?;
                let document = q.document.or_else(|| default_doc.map(String::from));
                let doc = match &document {
                    None => None,
                    Some(d) => match self.g.entity(d).filter(|e| e.kind == EntityKind::Document) {
                        None => return Err(invalid(&format!("{f}.document"), format!("no document `{d}`"))),
                        doc => doc,
                    },
                };
                if let Some(quote) = &quantity.quote {
                    let Some(d) = doc else {
                        return Err(invalid(&format!("{f}.quote"), "a quote needs a document to be found in"));
                    };
                    self.texts.check_quote(&d.id, d.file.as_deref(), quote).map_err(|e| e.at(format!("{f}.quote")))?;
                }
                quantity.document = document;
                Ok(quantity)
            })
            .collect()
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn date(field: &str, v: Option<String>) -> Result<Option<PartialDate>, EditError> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| PartialDate::parse(s.trim()).map_err(|e| invalid(field, e.0)))
        .transpose()
}

fn check_version(what: &'static str, id: &str, expected: Option<u64>, actual: u64) -> Result<(), EditError> {
    match expected {
        Some(e) if e != actual => Err(EditError::VersionConflict { what, id: id.into(), expected: e, actual }),
        _ => Ok(()),
    }
}

fn check_dates(from_field: &str, from: Option<PartialDate>, until: Option<PartialDate>) -> Result<(), EditError> {
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            return Err(invalid(from_field, format!("{f} is after the end date {u}")));
        }
    }
    Ok(())
}

/// Validates `edit` against the graph `g` and the value rules of [`domain`] (quotes against
/// `texts`), and plans the write. Nothing is written here.
pub fn plan(g: &GraphIndex, texts: &DocumentTexts, actor: &str, edit: Edit) -> Result<Plan, EditError> {
    let g = &Reading { g, reads: RefCell::default() };
    let mut p =
        Planner { g, texts, footprint: Footprint::default(), actor, action: edit.name(), batch: WriteBatch::default() };
    let primary = match edit {
        Edit::CreateEntity(n) => {
            let kind = n.kind.ok_or_else(|| invalid("kind", "required"))?;
            let slug = Slug::parse(n.slug.trim()).map_err(|e| invalid("slug", e.0))?;
            if let Some(owner) = g.entity_by_slug(slug.as_str()) {
                return Err(invalid("slug", format!("`{slug}` is already the slug of entity `{}`", owner.id)));
            }
            // The ID is the slug at creation; it stays when the slug changes later.
            let id = slug.to_string();
            if g.entity(&id).is_some() {
                return Err(invalid(
                    "slug",
                    format!("`{slug}` is the ID of an existing entity (slugs are never reused)"),
                ));
            }
            let name = limits::NAME.required("name", &n.name)?;
            let subtype = limits::SUBTYPE.optional("type", n.subtype.as_deref())?;
            domain::check_count("aliases", n.aliases.len(), limits::ALIASES)?;
            let aliases = n
                .aliases
                .iter()
                .enumerate()
                .map(|(i, a)| limits::ALIAS.required(&format!("aliases[{i}]"), a))
                .collect::<Result<Vec<_>, _>>()?;
            let summary = limits::SUMMARY.optional("summary", n.summary.as_deref())?;
            let url = domain::url("url", n.url.as_deref())?;
            let (date_v, end_v) = (date("date", n.date)?, date("endDate", n.end_date)?);
            check_dates("date", date_v, end_v)?;
            let e = Entity {
                id: id.clone(),
                slug,
                kind,
                subtype,
                aliases: dedupe_aliases(&name, aliases),
                name,
                summary,
                date: date_v,
                end_date: end_v,
                url,
                file: None,
                quantities: Vec::new(),
                sources: Default::default(),
                version: 1,
            };
            let mut e = e;
            p.apply_sources(&mut e, None, n.sources)?;
            p.put_entity(None, e);
            (TargetKind::Entity, id)
        }
        Edit::UpdateEntity { id, expected_version, patch } => {
            let old = p.entity(&id)?;
            check_version("entity", &id, expected_version, old.version)?;
            let mut e = old.clone();
            if let Some(s) = patch.slug {
                let slug = Slug::parse(s.trim()).map_err(|e| invalid("slug", e.0))?;
                if let Some(owner) = g.entity_by_slug(slug.as_str()).filter(|o| o.id != id) {
                    return Err(invalid("slug", format!("`{slug}` is already the slug of entity `{}`", owner.id)));
                }
                e.slug = slug;
            }
            if let Some(n) = patch.name {
                e.name = limits::NAME.required("name", &n)?;
            }
            if let Some(v) = patch.subtype {
                e.subtype = limits::SUBTYPE.optional("type", v.as_deref())?;
            }
            if let Some(v) = patch.summary {
                e.summary = limits::SUMMARY.optional("summary", v.as_deref())?;
            }
            if let Some(v) = patch.date {
                e.date = date("date", v)?;
            }
            if let Some(v) = patch.end_date {
                e.end_date = date("endDate", v)?;
            }
            check_dates("date", e.date, e.end_date)?;
            if let Some(v) = patch.url {
                e.url = domain::url("url", v.as_deref())?;
            }
            e.aliases = dedupe_aliases(&e.name, e.aliases);
            p.apply_sources(&mut e, Some(&old), patch.sources)?;
            if e != old {
                e.version = old.version + 1;
                p.put_entity(Some(&old), e);
            }
            (TargetKind::Entity, id)
        }
        Edit::DeleteEntity { id, cascade } => {
            let old = p.entity(&id)?;
            let rels = g.relations_of(&id);
            if !rels.is_empty() && !cascade {
                return Err(EditError::HasRelations { id, count: rels.len() });
            }
            // A document that other relations cite cannot go: their citations would dangle.
            if old.kind == EntityKind::Document {
                let citing = g.cited_elsewhere(&id) + g.facts_citing(&id);
                if citing > 0 {
                    return Err(invalid(
                        "id",
                        format!("document `{id}` is cited by {citing} relation(s) of other entities"),
                    ));
                }
            }
            for r in &rels {
                p.delete_relation(r);
            }
            p.delete_entity(&old);
            (TargetKind::Entity, id)
        }
        Edit::AddAlias { id, alias, citations } => {
            let old = p.entity(&id)?;
            let alias = limits::ALIAS.required("alias", &alias)?;
            let mut e = old.clone();
            e.aliases.push(alias.clone());
            e.aliases = dedupe_aliases(&e.name, e.aliases);
            if !citations.is_empty() {
                if !e.aliases.contains(&alias) {
                    return Err(invalid(
                        "alias",
                        format!("`{}` is the entity's name, not an alias", domain::excerpt(&alias)),
                    ));
                }
                let cs = p.citations("citations", citations)?;
                e.sources.aliases.insert(alias, cs);
            }
            if e != old && e.aliases.len() > limits::ALIASES {
                return Err(invalid(
                    "alias",
                    format!("`{id}` already has {} aliases, the most an entity may have", old.aliases.len()),
                ));
            }
            if e != old {
                e.version += 1;
                p.put_entity(Some(&old), e);
            }
            (TargetKind::Entity, id)
        }
        Edit::RemoveAlias { id, alias } => {
            let old = p.entity(&id)?;
            let mut e = old.clone();
            e.aliases.retain(|a| a != alias.trim());
            e.sources.aliases.remove(alias.trim());
            if e == old {
                return Err(invalid("alias", format!("`{alias}` is not an alias of `{id}`")));
            }
            e.version += 1;
            p.put_entity(Some(&old), e);
            (TargetKind::Entity, id)
        }
        Edit::CreateRelation(n) => {
            for (field, id) in [("from", &n.from), ("to", &n.to)] {
                if g.entity(id).is_none() {
                    return Err(invalid(field, format!("no entity `{id}`")));
                }
            }
            if n.citations.is_empty() {
                return Err(invalid("citations", "every relation needs at least one citation"));
            }
            domain::check_count("citations", n.citations.len(), limits::CITATIONS)?;
            let title = limits::TITLE.optional("title", n.title.as_deref())?;
            let citations = n
                .citations
                .into_iter()
                .enumerate()
                .map(|(i, c)| p.citation(&format!("citations[{i}].document"), &format!("citations[{i}].quote"), c))
                .collect::<Result<Vec<_>, _>>()?;
            let quantities = p.quantities("quantities", n.quantities, Some(&citations[0].document))?;
            let (vf, vu) = (date("validFrom", n.valid_from)?, date("validUntil", n.valid_until)?);
            check_dates("validFrom", vf, vu)?;
            let base = format!("{}:{}:{}", n.kind.as_str(), n.from, n.to);
            let id = (1..)
                .map(|i| if i == 1 { base.clone() } else { format!("{base}:{i}") })
                .find(|id| g.relation(id).is_none())
                .expect("some suffix is free");
            let r = Relation {
                id: id.clone(),
                kind: n.kind,
                from: n.from,
                to: n.to,
                title,
                order: n.order,
                valid_from: vf,
                valid_until: vu,
                quantities,
                citations,
                version: 1,
            };
            p.put_relation(None, r);
            (TargetKind::Relation, id)
        }
        Edit::UpdateRelation { id, expected_version, patch } => {
            let old = p.relation(&id)?;
            check_version("relation", &id, expected_version, old.version)?;
            let mut r = old.clone();
            if let Some(v) = patch.title {
                r.title = limits::TITLE.optional("title", v.as_deref())?;
            }
            if let Some(v) = patch.order {
                r.order = v;
            }
            if let Some(v) = patch.valid_from {
                r.valid_from = date("validFrom", v)?;
            }
            if let Some(v) = patch.valid_until {
                r.valid_until = date("validUntil", v)?;
            }
            check_dates("validFrom", r.valid_from, r.valid_until)?;
            if let Some(qs) = patch.quantities {
                let doc = r.citations.first().map(|c| c.document.clone());
                r.quantities = p.quantities("quantities", qs, doc.as_deref())?;
            }
            if r != old {
                r.version = old.version + 1;
                p.put_relation(Some(&old), r);
            }
            (TargetKind::Relation, id)
        }
        Edit::DeleteRelation { id } => {
            let old = p.relation(&id)?;
            p.delete_relation(&old);
            (TargetKind::Relation, id)
        }
        Edit::AddCitation { id, citation } => {
            let old = p.relation(&id)?;
            let c = p.citation("document", "quote", citation)?;
            let mut r = old.clone();
            if !r.citations.contains(&c) && r.citations.len() >= limits::CITATIONS {
                return Err(invalid(
                    "document",
                    format!(
                        "relation `{id}` already has {} citations, the most a relation may have",
                        r.citations.len()
                    ),
                ));
            }
            if !r.citations.contains(&c) {
                r.citations.push(c);
                r.version += 1;
                p.put_relation(Some(&old), r);
            }
            (TargetKind::Relation, id)
        }
        Edit::RemoveCitation { id, document, quote } => {
            let old = p.relation(&id)?;
            let mut r = old.clone();
            let quote = quote.map(|q| q.trim().to_string()).filter(|q| !q.is_empty());
            r.citations.retain(|c| !(c.document == document && (quote.is_none() || c.quote == quote)));
            if r.citations.len() == old.citations.len() {
                return Err(invalid("document", format!("relation `{id}` has no such citation of `{document}`")));
            }
            if r.citations.is_empty() {
                return Err(invalid(
                    "document",
                    "a relation must keep at least one citation; delete the relation instead",
                ));
            }
            r.version += 1;
            p.put_relation(Some(&old), r);
            (TargetKind::Relation, id)
        }
        Edit::MergeEntities { keep, remove } => {
            if keep == remove {
                return Err(invalid("remove", "cannot merge an entity into itself"));
            }
            let kept = p.entity(&keep)?;
            let removed = p.entity(&remove)?;
            if kept.kind != removed.kind {
                return Err(invalid(
                    "remove",
                    format!(
                        "`{remove}` is a {} and `{keep}` a {}; only entities of one kind merge",
                        removed.kind, kept.kind
                    ),
                ));
            }
            let mut e = kept.clone();
            e.aliases.push(removed.name.clone());
            e.aliases.extend(removed.aliases.iter().cloned());
            e.aliases = dedupe_aliases(&e.name, e.aliases);
            // The duplicate's spellings keep their sources; its other facts do not move.
            for (alias, cs) in &removed.sources.aliases {
                if e.aliases.contains(alias) {
                    let mine = e.sources.aliases.entry(alias.clone()).or_default();
                    mine.extend(cs.iter().filter(|c| !mine.contains(c)).cloned().collect::<Vec<_>>());
                }
            }
            for q in &removed.quantities {
                if !e.quantities.contains(q) {
                    e.quantities.push(q.clone());
                }
            }
            for (what, count, max) in
                [("aliases", e.aliases.len(), limits::ALIASES), ("quantities", e.quantities.len(), limits::QUANTITIES)]
            {
                if count > max {
                    return Err(invalid(
                        "remove",
                        format!("`{keep}` would have {count} {what} after the merge; at most {max} are allowed"),
                    ));
                }
            }
            e.version += 1;
            // Relations of `keep` by (kind, from, to, title): a moved relation that duplicates one
            // of them adds its citations to it instead of standing twice.
            let mut existing = g.relations_of(&keep);
            for old in g.relations_of(&remove) {
                let mut moved = old.clone();
                if moved.from == remove {
                    moved.from = keep.clone();
                }
                if moved.to == remove {
                    moved.to = keep.clone();
                }
                if moved.from == moved.to && old.from != old.to {
                    // A relation between the two duplicates says nothing once they are one.
                    p.delete_relation(&old);
                    continue;
                }
                let same = |x: &Relation| {
                    x.kind == moved.kind && x.from == moved.from && x.to == moved.to && x.title == moved.title
                };
                if let Some(target) = existing.iter_mut().find(|x| same(x)) {
                    let before = target.clone();
                    for c in &moved.citations {
                        if !target.citations.contains(c) {
                            target.citations.push(c.clone());
                        }
                    }
                    if target.citations.len() > limits::CITATIONS {
                        return Err(invalid(
                            "remove",
                            format!(
                                "relation `{}` would have {} citations after the merge; at most {} are allowed",
                                target.id,
                                target.citations.len(),
                                limits::CITATIONS
                            ),
                        ));
                    }
                    p.delete_relation(&old);
                    if *target != before {
                        target.version += 1;
                        let after = target.clone();
                        // Several moved relations may fold into one: keep only its last state.
                        p.batch.put_relations.retain(|x| x.id != after.id);
                        p.put_relation(Some(&before), after);
                    }
                } else {
                    // The moved relation keeps its ID: IDs are keys, not descriptions.
                    moved.version += 1;
                    existing.push(moved.clone());
                    p.put_relation(Some(&old), moved);
                }
            }
            p.put_entity(Some(&kept), e);
            p.delete_entity(&removed);
            if let Some(gone) = p.batch.audit.last_mut() {
                gone.merged_into = Some(keep.clone());
            }
            (TargetKind::Entity, keep)
        }
    };
    let footprint = Footprint { reads: g.reads.take(), writes: p.footprint.writes };
    Ok(Plan { batch: p.batch, primary: Some(primary), footprint })
}

/// Aliases without duplicates, blanks or the name itself, in first-seen order.
fn dedupe_aliases(name: &str, aliases: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    aliases
        .into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && a != name && seen.insert(a.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_entity(kind: EntityKind, slug: &str) -> Edit {
        Edit::CreateEntity(NewEntity { kind: Some(kind), slug: slug.into(), name: slug.into(), ..Default::default() })
    }

    fn create_relation(from: &str, to: &str, document: &str) -> Edit {
        Edit::CreateRelation(NewRelation {
            kind: RelationKind::PartOf,
            from: from.into(),
            to: to.into(),
            title: None,
            order: None,
            valid_from: None,
            valid_until: None,
            quantities: Vec::new(),
            citations: vec![NewCitation { document: document.into(), quote: Some("It says so.".into()) }],
        })
    }

    fn alias(id: &str, alias: &str) -> Edit {
        Edit::AddAlias { id: id.into(), alias: alias.into(), citations: Vec::new() }
    }

    fn apply(g: &mut GraphIndex, batch: &WriteBatch) {
        batch.delete_relations.iter().for_each(|id| drop(g.remove_relation(id)));
        batch.delete_entities.iter().for_each(|id| drop(g.remove_entity(id)));
        batch.put_entities.iter().for_each(|e| g.upsert_entity(e.clone()));
        batch.put_relations.iter().for_each(|r| g.upsert_relation(r.clone()).unwrap());
    }

    /// The texts of `doc.txt` and `spare.txt`.
    fn texts() -> DocumentTexts {
        DocumentTexts::from_texts([
            ("doc.txt".to_string(), "It says so. And more.".to_string()),
            ("spare.txt".to_string(), "It says so.".to_string()),
        ])
    }

    fn plan(g: &GraphIndex, actor: &str, edit: Edit) -> Result<Plan, EditError> {
        super::plan(g, &texts(), actor, edit)
    }

    /// Organizations a, b, c and d; documents doc and spare (with their texts) and bare (an
    /// editor's, with no file); a → b citing doc.
    fn graph() -> GraphIndex {
        let mut g = GraphIndex::default();
        for edit in [
            create_entity(EntityKind::Organization, "a"),
            create_entity(EntityKind::Organization, "b"),
            create_entity(EntityKind::Organization, "c"),
            create_entity(EntityKind::Organization, "d"),
            create_entity(EntityKind::Document, "doc"),
            create_entity(EntityKind::Document, "spare"),
            create_entity(EntityKind::Document, "bare"),
        ] {
            let plan = plan(&g, "test", edit).unwrap();
            apply(&mut g, &plan.batch);
        }
        for doc in ["doc", "spare"] {
            let mut e = (**g.entity(doc).unwrap()).clone();
            e.file = Some(format!("{doc}.txt"));
            g.upsert_entity(e);
        }
        let plan = plan(&g, "test", create_relation("a", "b", "doc")).unwrap();
        apply(&mut g, &plan.batch);
        g
    }

    /// A spread of edits over the graph above: some touch the same records, most do not.
    fn edits() -> Vec<Edit> {
        let relation = "part_of:a:b".to_string();
        vec![
            alias("a", "first"),
            alias("a", "second"),
            alias("c", "third"),
            create_entity(EntityKind::Organization, "e"),
            create_entity(EntityKind::Person, "e"),
            create_entity(EntityKind::Organization, "f"),
            Edit::UpdateEntity {
                id: "d".into(),
                expected_version: Some(1),
                patch: EntityPatch { slug: Some("e".into()), ..Default::default() },
            },
            Edit::UpdateEntity {
                id: "c".into(),
                expected_version: None,
                patch: EntityPatch { name: Some("C".into()), ..Default::default() },
            },
            create_relation("a", "b", "doc"),
            create_relation("c", "d", "spare"),
            create_relation("b", "c", "doc"),
            Edit::DeleteRelation { id: relation.clone() },
            Edit::AddCitation { id: relation.clone(), citation: NewCitation { document: "spare".into(), quote: None } },
            Edit::DeleteEntity { id: "spare".into(), cascade: false },
            Edit::DeleteEntity { id: "d".into(), cascade: true },
            Edit::DeleteEntity { id: "b".into(), cascade: true },
            Edit::MergeEntities { keep: "c".into(), remove: "d".into() },
            Edit::MergeEntities { keep: "a".into(), remove: "b".into() },
        ]
    }

    /// What a plan would write, without the commit-time fields.
    fn written(plan: &Result<Plan, EditError>) -> String {
        match plan {
            Ok(p) => format!("{:?} {:?}", p.batch, p.primary),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn a_plan_that_does_not_depend_on_an_earlier_edit_is_the_same_after_it() {
        let base = graph();
        let (mut independent, mut dependent) = (0, 0);
        for (i, first) in edits().into_iter().enumerate() {
            let Ok(earlier) = plan(&base, "test", first) else { continue };
            let mut after = graph();
            apply(&mut after, &earlier.batch);
            for (j, second) in edits().into_iter().enumerate() {
                let alone = plan(&base, "test", second.clone());
                let Ok(p) = &alone else { continue };
                if p.footprint.depends_on(&earlier.footprint) {
                    dependent += 1;
                    continue;
                }
                independent += 1;
                let sequential = plan(&after, "test", second);
                assert_eq!(written(&alone), written(&sequential), "edit {j} planned without and after edit {i}");
            }
        }
        // The spread has both kinds, so the check above is not vacuous.
        assert!(independent > 100 && dependent > 50, "{independent} independent, {dependent} dependent pairs");
    }

    #[test]
    fn edits_that_share_a_record_or_an_index_entry_depend_on_each_other() {
        let g = graph();
        let footprint = |edit| plan(&g, "test", edit).unwrap().footprint;
        let pairs = [
            ("aliases of one entity", alias("a", "x"), alias("a", "y")),
            (
                "one slug taken twice",
                create_entity(EntityKind::Person, "e"),
                Edit::UpdateEntity {
                    id: "d".into(),
                    expected_version: None,
                    patch: EntityPatch { slug: Some("e".into()), ..Default::default() },
                },
            ),
            (
                "a relation to a deleted entity",
                create_relation("c", "d", "doc"),
                Edit::DeleteEntity { id: "d".into(), cascade: true },
            ),
            (
                "a citation of a deleted document",
                create_relation("c", "d", "spare"),
                Edit::DeleteEntity { id: "spare".into(), cascade: false },
            ),
            (
                "a relation ID freed and reused",
                create_relation("a", "b", "doc"),
                Edit::DeleteRelation { id: "part_of:a:b".into() },
            ),
        ];
        for (what, one, other) in pairs {
            let (one, other) = (footprint(one), footprint(other));
            assert!(one.depends_on(&other) && other.depends_on(&one), "{what}");
        }
        assert!(!footprint(alias("a", "x")).depends_on(&footprint(alias("c", "y"))));
        assert!(!footprint(create_relation("c", "d", "doc")).depends_on(&footprint(alias("a", "y"))));
    }

    #[test]
    fn quotes_must_be_in_their_document_and_values_keep_to_the_rules() {
        let g = graph();
        let field = |edit| match plan(&g, "test", edit) {
            Err(EditError::Value(e)) => e.field,
            Err(EditError::Invalid { field, .. }) => field,
            other => panic!("accepted or the wrong error: {}", written(&other)),
        };
        let cite = |document: &str, quote: &str| Edit::AddCitation {
            id: "part_of:a:b".into(),
            citation: NewCitation { document: document.into(), quote: Some(quote.into()) },
        };
        // Byte for byte: only the ends are trimmed, as every value's are.
        assert!(plan(&g, "test", cite("spare", "  It says so.\n")).is_ok());
        assert!(plan(&g, "test", cite("doc", "It says so. And")).is_ok());
        assert_eq!(field(cite("doc", "It says no.")), "quote");
        assert_eq!(field(cite("doc", "It   says\nso.")), "quote");
        assert_eq!(field(cite("doc", "It\u{a0}says so.")), "quote");
        // A document with no known text: no quote can be checked, so none is taken.
        assert_eq!(field(cite("bare", "It says so.")), "quote");
        assert!(plan(
            &g,
            "test",
            Edit::AddCitation {
                id: "part_of:a:b".into(),
                citation: NewCitation { document: "bare".into(), quote: None },
            }
        )
        .is_ok());
        let mut relation = match create_relation("c", "d", "doc") {
            Edit::CreateRelation(r) => r,
            _ => unreachable!(),
        };
        relation.citations.push(NewCitation { document: "spare".into(), quote: Some("It says\u{202e}so.".into()) });
        assert_eq!(field(Edit::CreateRelation(relation.clone())), "citations[1].quote");
        relation.citations = vec![NewCitation { document: "doc".into(), quote: None }; limits::CITATIONS + 1];
        assert_eq!(field(Edit::CreateRelation(relation)), "citations");
        let entity = |aliases: Vec<String>| {
            Edit::CreateEntity(NewEntity {
                kind: Some(EntityKind::Person),
                slug: "p".into(),
                name: "P".into(),
                aliases,
                ..Default::default()
            })
        };
        assert_eq!(field(entity(vec!["x".into(), "y\u{1b}[31m".into()])), "aliases[1]");
        assert_eq!(field(entity(vec![" ".into()])), "aliases[0]");
        assert_eq!(field(entity((0..=limits::ALIASES).map(|i| format!("a{i}")).collect())), "aliases");
        assert!(plan(&g, "test", entity((0..limits::ALIASES).map(|i| format!("a{i}")).collect())).is_ok());
    }
}
