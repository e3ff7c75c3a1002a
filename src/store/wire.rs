//! The binary form of the model's records: what a version-2 stored value holds (see `value`),
//! and what the index snapshot keeps its entities and relations' rarer fields in.
//!
//! Why structs of their own rather than the model's serde: the binary encoding is postcard,
//! which is not self-describing (a field is known by its place, not its name), so it cannot
//! leave a field out (`skip_serializing_if`), fill one in that is missing (`default`), or read
//! `flatten` or `untagged`. The model types use those for their JSON, which stays the form of
//! exports, the API, the seed and version-1 values. Here every field is always written, an
//! absent one as `None` or empty, in the order the struct declares it.
//!
//! Strings are borrowed both ways: written from the model's own strings, read in place from the
//! stored bytes. A relation read as a [`RelationView`] keeps them borrowed (a start copies no
//! string it only looks up); a model record copies each once, as JSON decoding did.
//!
//! **Invariants**, which make a stored byte mean the same thing to every later build:
//! - No field of a struct here is ever reordered, removed, retyped or added: a change of layout
//!   is a new value version, read beside this one (as version 1 is read beside 2).
//! - Enums ([`EntityKind`], [`RelationKind`], [`TargetKind`]) are written as their variant's
//!   number in declaration order, so variants are only ever appended, never reordered or
//!   removed; a test pins the numbers.
//! - Dates are written as their text (`2021-03`), which is how [`PartialDate`] serializes and
//!   what its parsing checks on the way back in; a slug is checked the same way.
//! - An audit entry's `before` and `after` are JSON text: they are any JSON value, which only a
//!   self-describing format can hold.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{AuditEntry, RecordJson, TargetKind, TokenRecord};
use crate::domain::{
    Citation, CitationView, Entity, EntityKind, FactSources, PartialDate, Quantity, Relation, RelationKind,
    RelationView, Slug,
};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct CitationWire<'a> {
    pub document: &'a str,
    pub quote: Option<&'a str>,
}

impl<'a> CitationWire<'a> {
    pub fn of(c: &'a Citation) -> CitationWire<'a> {
        CitationWire { document: &c.document, quote: c.quote.as_deref() }
    }

    pub fn to_citation(&self) -> Citation {
        Citation { document: self.document.to_owned(), quote: self.quote.map(str::to_owned) }
    }
}

fn citations_of(cs: &[Citation]) -> Vec<CitationWire<'_>> {
    cs.iter().map(CitationWire::of).collect()
}

fn to_citations(cs: &[CitationWire<'_>]) -> Vec<Citation> {
    cs.iter().map(CitationWire::to_citation).collect()
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct QuantityWire<'a> {
    pub name: &'a str,
    pub value: f64,
    pub unit: &'a str,
    pub quote: Option<&'a str>,
    pub document: Option<&'a str>,
}

impl<'a> QuantityWire<'a> {
    pub fn of(q: &'a Quantity) -> QuantityWire<'a> {
        QuantityWire {
            name: &q.name,
            value: q.value,
            unit: &q.unit,
            quote: q.quote.as_deref(),
            document: q.document.as_deref(),
        }
    }

    pub fn to_quantity(&self) -> Quantity {
        Quantity {
            name: self.name.to_owned(),
            value: self.value,
            unit: self.unit.to_owned(),
            quote: self.quote.map(str::to_owned),
            document: self.document.map(str::to_owned),
        }
    }
}

pub(crate) fn quantities_of(qs: &[Quantity]) -> Vec<QuantityWire<'_>> {
    qs.iter().map(QuantityWire::of).collect()
}

pub(crate) fn to_quantities(qs: &[QuantityWire<'_>]) -> Vec<Quantity> {
    qs.iter().map(QuantityWire::to_quantity).collect()
}

/// [`FactSources`]; the aliases' map as (alias, citations) pairs in the map's order.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SourcesWire<'a> {
    #[serde(borrow)]
    date: Vec<CitationWire<'a>>,
    #[serde(borrow)]
    end_date: Vec<CitationWire<'a>>,
    #[serde(borrow)]
    url: Vec<CitationWire<'a>>,
    #[serde(borrow)]
    summary: Vec<CitationWire<'a>>,
    #[serde(borrow)]
    aliases: Vec<(&'a str, Vec<CitationWire<'a>>)>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EntityWire<'a> {
    id: &'a str,
    slug: &'a str,
    kind: EntityKind,
    subtype: Option<&'a str>,
    name: &'a str,
    aliases: Vec<&'a str>,
    summary: Option<&'a str>,
    date: Option<PartialDate>,
    end_date: Option<PartialDate>,
    url: Option<&'a str>,
    file: Option<&'a str>,
    #[serde(borrow)]
    quantities: Vec<QuantityWire<'a>>,
    #[serde(borrow)]
    sources: SourcesWire<'a>,
    version: u64,
}

impl<'a> EntityWire<'a> {
    pub fn of(e: &'a Entity) -> EntityWire<'a> {
        let s = &e.extra.sources;
        EntityWire {
            id: &e.id,
            slug: e.slug.as_str(),
            kind: e.kind,
            subtype: e.subtype.as_deref(),
            name: &e.name,
            aliases: e.aliases.iter().map(String::as_str).collect(),
            summary: e.summary.as_deref(),
            date: e.date,
            end_date: e.extra.end_date,
            url: e.extra.url.as_deref(),
            file: e.extra.file.as_deref(),
            quantities: quantities_of(&e.extra.quantities),
            sources: SourcesWire {
                date: citations_of(&s.date),
                end_date: citations_of(&s.end_date),
                url: citations_of(&s.url),
                summary: citations_of(&s.summary),
                aliases: s.aliases.iter().map(|(a, cs)| (a.as_str(), citations_of(cs))).collect(),
            },
            version: e.version,
        }
    }

    /// The model's entity; an invalid slug is an error (the JSON form checks it too).
    pub fn to_entity(&self) -> Result<Entity, String> {
        let s = &self.sources;
        Ok(Entity {
            id: self.id.to_owned(),
            slug: Slug::parse(self.slug).map_err(|e| format!("entity `{}`: {e}", self.id))?,
            kind: self.kind,
            subtype: self.subtype.map(str::to_owned),
            name: self.name.to_owned(),
            aliases: self.aliases.iter().map(|&a| a.to_owned()).collect(),
            summary: self.summary.map(str::to_owned),
            date: self.date,
            extra: crate::domain::EntityExtra {
                end_date: self.end_date,
                url: self.url.map(str::to_owned),
                file: self.file.map(str::to_owned),
                quantities: to_quantities(&self.quantities),
                sources: FactSources {
                    date: to_citations(&s.date),
                    end_date: to_citations(&s.end_date),
                    url: to_citations(&s.url),
                    summary: to_citations(&s.summary),
                    aliases: s.aliases.iter().map(|(a, cs)| ((*a).to_owned(), to_citations(cs))).collect(),
                },
            }
            .into(),
            version: self.version,
        })
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RelationWire<'a> {
    id: &'a str,
    kind: RelationKind,
    from: &'a str,
    to: &'a str,
    title: Option<&'a str>,
    order: Option<i32>,
    valid_from: Option<PartialDate>,
    valid_until: Option<PartialDate>,
    #[serde(borrow)]
    quantities: Vec<QuantityWire<'a>>,
    #[serde(borrow)]
    citations: Vec<CitationWire<'a>>,
    version: u64,
}

impl<'a> RelationWire<'a> {
    pub fn of(r: &'a Relation) -> RelationWire<'a> {
        RelationWire {
            id: &r.id,
            kind: r.kind,
            from: &r.from,
            to: &r.to,
            title: r.title.as_deref(),
            order: r.order,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            quantities: quantities_of(&r.quantities),
            citations: citations_of(&r.citations),
            version: r.version,
        }
    }

    pub fn to_relation(&self) -> Relation {
        Relation {
            id: self.id.to_owned(),
            kind: self.kind,
            from: self.from.to_owned(),
            to: self.to.to_owned(),
            title: self.title.map(str::to_owned),
            order: self.order,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            quantities: to_quantities(&self.quantities),
            citations: to_citations(&self.citations),
            version: self.version,
        }
    }

    /// The relation read in place: its IDs and citations borrow the bytes it was read from.
    pub fn into_view(self) -> RelationView<'a> {
        RelationView {
            id: Cow::Borrowed(self.id),
            kind: self.kind,
            from: Cow::Borrowed(self.from),
            to: Cow::Borrowed(self.to),
            title: self.title.map(str::to_owned),
            order: self.order,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            quantities: to_quantities(&self.quantities),
            citations: self
                .citations
                .into_iter()
                .map(|c| CitationView { document: Cow::Borrowed(c.document), quote: c.quote.map(Cow::Borrowed) })
                .collect(),
            version: self.version,
        }
    }
}

/// An [`AuditEntry`]; `before` and `after` as JSON text (see the module documentation).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct AuditWire<'a> {
    pub seq: u64,
    pub generation: u64,
    pub at: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: TargetKind,
    pub target_id: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub merged_into: Option<&'a str>,
}

impl AuditWire<'_> {
    pub fn to_entry(&self) -> Result<AuditEntry, String> {
        let json = |text: Option<&str>, what: &str| {
            text.map(RecordJson::parse)
                .transpose()
                .map_err(|e| format!("audit entry {}: `{what}` is not JSON: {e}", self.seq))
        };
        Ok(AuditEntry {
            seq: self.seq,
            generation: self.generation,
            at: self.at.to_owned(),
            actor: self.actor.to_owned(),
            action: self.action.to_owned(),
            target: self.target,
            target_id: self.target_id.to_owned(),
            before: json(self.before, "before")?,
            after: json(self.after, "after")?,
            merged_into: self.merged_into.map(str::to_owned),
        })
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct TokenWire<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub sha256: &'a str,
    pub created_at: &'a str,
}

impl<'a> TokenWire<'a> {
    pub fn of(t: &'a TokenRecord) -> TokenWire<'a> {
        TokenWire { name: &t.name, role: &t.role, sha256: &t.sha256, created_at: &t.created_at }
    }

    pub fn to_token(&self) -> TokenRecord {
        TokenRecord {
            name: self.name.to_owned(),
            role: self.role.to_owned(),
            sha256: self.sha256.to_owned(),
            created_at: self.created_at.to_owned(),
        }
    }
}
