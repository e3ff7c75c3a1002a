//! The model: entities, relations, citations and the validated values they are made of.
//!
//! Everything here is plain data with serde. Values are parsed at the edge (seed files, API
//! inputs) into these types, so an invalid slug or date cannot exist past that point. Nothing in
//! this module knows about sled, petgraph or GraphQL.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An error in a single value, phrased for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in seed files and stored records.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, InvalidValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(InvalidValue(format!(
                        "unknown {} `{}` (expected one of: {})",
                        stringify!($name),
                        s,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

string_enum! {
    /// What sort of thing an entity is. Each kind is one GraphQL object type.
    EntityKind {
        Organization = "organization",
        Office = "office",
        Person = "person",
        Policy = "policy",
        Pillar = "pillar",
        Place = "place",
        Event = "event",
        Document = "document",
    }
}

string_enum! {
    /// What a relation says. The direction is always `from` → `to` as documented in `seed/README.md`.
    RelationKind {
        OfficeOf = "office_of",
        LocatedIn = "located_in",
        PartOf = "part_of",
        HoldsRole = "holds_role",
        MemberOf = "member_of",
        PartnersWith = "partners_with",
        ContactFor = "contact_for",
        Signed = "signed",
        Issued = "issued",
        Launched = "launched",
        CallsFor = "calls_for",
        HasPillar = "has_pillar",
        Implements = "implements",
        Funds = "funds",
        Assists = "assists",
        ParticipatedIn = "participated_in",
        Organized = "organized",
        Consulted = "consulted",
        Terminates = "terminates",
        Concerns = "concerns",
        Authored = "authored",
        Welcomes = "welcomes",
        Supports = "supports",
        Criticizes = "criticizes",
        WarnsAbout = "warns_about",
        Congratulates = "congratulates",
        Mentions = "mentions",
    }
}

/// A human-readable, URL-safe name for an entity: lowercase ASCII letters and digits in words
/// joined by single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if ok {
            Ok(Slug(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "invalid slug `{s}`: use lowercase letters a-z, digits and single hyphens (at most 128 characters)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        Slug::parse(&s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A calendar date known to a year, a month or a day (`1951`, `2023-07`, `2021-02-04`): the
/// sources often give no more than a year, and a made-up day would be a false statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartialDate {
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
}

impl PartialDate {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad =
            || InvalidValue(format!("invalid date `{s}`: expected YYYY, YYYY-MM or YYYY-MM-DD (a real calendar date)"));
        let parts: Vec<&str> = s.split('-').collect();
        let num = |p: &str, len: usize| -> Result<u32, InvalidValue> {
            if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (year, month, day) = match parts.as_slice() {
            [y] => (num(y, 4)?, None, None),
            [y, m] => (num(y, 4)?, Some(num(m, 2)?), None),
            [y, m, d] => (num(y, 4)?, Some(num(m, 2)?), Some(num(d, 2)?)),
            _ => return Err(bad()),
        };
        if let Some(m) = month {
            if !(1..=12).contains(&m) {
                return Err(bad());
            }
        }
        if let (Some(m), Some(d)) = (month, day) {
            chrono::NaiveDate::from_ymd_opt(year as i32, m, d).ok_or_else(bad)?;
        }
        Ok(PartialDate { year: year as i32, month: month.map(|m| m as u8), day: day.map(|d| d as u8) })
    }

    pub fn year(&self) -> i32 {
        self.year
    }
}

impl TryFrom<String> for PartialDate {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        PartialDate::parse(&s)
    }
}

impl From<PartialDate> for String {
    fn from(d: PartialDate) -> String {
        d.to_string()
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

/// Where a statement is written: a source document (by its entity ID) and, where one sentence
/// states it, that sentence verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// A number a source states, with its unit and the words it was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub name: String,
    pub value: f64,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Entity ID of the document the number is read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// A thing in the world: an organization, a person, a policy, a document…
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Stable identifier; never changes, never reused (a renamed slug keeps its ID).
    pub id: String,
    pub slug: Slug,
    pub kind: EntityKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For documents: the file name of the source text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<Quantity>,
    /// Bumped on every change; the basis of optimistic concurrency.
    #[serde(default)]
    pub version: u64,
}

/// A typed, directed, cited statement about two entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    pub id: String,
    pub kind: RelationKind,
    /// Entity ID of the source.
    pub from: String,
    /// Entity ID of the target.
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<Quantity>,
    pub citations: Vec<Citation>,
    #[serde(default)]
    pub version: u64,
}

/// A relation read in place from its stored bytes: the strings a start only looks up (the
/// endpoints, the cited documents) borrow those bytes instead of being copied. Reads the same
/// serialized form as [`Relation`] (a test checks that the two agree).
#[derive(Debug, Deserialize)]
pub struct RelationView<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub kind: RelationKind,
    #[serde(borrow)]
    pub from: Cow<'a, str>,
    #[serde(borrow)]
    pub to: Cow<'a, str>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub order: Option<i32>,
    #[serde(default)]
    pub valid_from: Option<PartialDate>,
    #[serde(default)]
    pub valid_until: Option<PartialDate>,
    #[serde(default)]
    pub quantities: Vec<Quantity>,
    #[serde(borrow)]
    pub citations: Vec<CitationView<'a>>,
    #[serde(default)]
    pub version: u64,
}

/// A [`Citation`] read in place.
#[derive(Debug, Deserialize)]
pub struct CitationView<'a> {
    #[serde(borrow)]
    pub document: Cow<'a, str>,
    #[serde(default, borrow)]
    pub quote: Option<Cow<'a, str>>,
}

/// A relation already in hand, as a view that owns its strings (nothing is copied).
impl From<Relation> for RelationView<'static> {
    fn from(r: Relation) -> RelationView<'static> {
        RelationView {
            id: Cow::Owned(r.id),
            kind: r.kind,
            from: Cow::Owned(r.from),
            to: Cow::Owned(r.to),
            title: r.title,
            order: r.order,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            quantities: r.quantities,
            citations: r
                .citations
                .into_iter()
                .map(|c| CitationView { document: Cow::Owned(c.document), quote: c.quote.map(Cow::Owned) })
                .collect(),
            version: r.version,
        }
    }
}

impl RelationView<'_> {
    pub fn to_relation(&self) -> Relation {
        Relation {
            id: self.id.to_string(),
            kind: self.kind,
            from: self.from.to_string(),
            to: self.to.to_string(),
            title: self.title.clone(),
            order: self.order,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            quantities: self.quantities.clone(),
            citations: self
                .citations
                .iter()
                .map(|c| Citation { document: c.document.to_string(), quote: c.quote.as_ref().map(|q| q.to_string()) })
                .collect(),
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("iom").is_ok());
        assert!(Slug::parse("michele-klein-solomon").is_ok());
        assert!(Slug::parse("doc-000").is_ok());
        for bad in ["", "IOM", "a--b", "-a", "a-", "a b", "é"] {
            assert!(Slug::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn partial_dates_round_trip_and_reject_impossible_days() {
        for ok in ["1951", "2023-07", "2021-02-04", "2024-02-29"] {
            assert_eq!(PartialDate::parse(ok).unwrap().to_string(), ok);
        }
        for bad in ["", "51", "2021-2-4", "2021-13", "2021-02-30", "2023-02-29", "04/02/2021"] {
            assert!(PartialDate::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(PartialDate::parse("1951").unwrap() < PartialDate::parse("1951-01").unwrap());
    }

    #[test]
    fn kinds_parse_from_their_names() {
        for k in RelationKind::ALL {
            assert_eq!(k.as_str().parse::<RelationKind>().unwrap(), *k);
        }
        let err = "befriends".parse::<RelationKind>().unwrap_err();
        assert!(err.0.contains("befriends") && err.0.contains("holds_role"));
    }

    #[test]
    fn a_relation_view_reads_what_a_relation_writes() {
        let full = Relation {
            id: "r-\"quoted\"".into(),
            kind: RelationKind::HoldsRole,
            from: "a".into(),
            to: "b\\c".into(),
            title: Some("Director".into()),
            order: Some(2),
            valid_from: Some(PartialDate::parse("2021-02").unwrap()),
            valid_until: Some(PartialDate::parse("2024").unwrap()),
            quantities: vec![Quantity {
                name: "n".into(),
                value: 1.5,
                unit: "u".into(),
                quote: None,
                document: Some("d".into()),
            }],
            citations: vec![
                Citation { document: "d".into(), quote: Some("She said \"yes\".\nThen left.".into()) },
                Citation { document: "e".into(), quote: None },
            ],
            version: 9,
        };
        let bare = Relation {
            title: None,
            order: None,
            valid_from: None,
            valid_until: None,
            quantities: vec![],
            citations: vec![],
            ..full.clone()
        };
        for r in [full, bare] {
            let json = serde_json::to_vec(&r).unwrap();
            let view: RelationView<'_> = serde_json::from_slice(&json).unwrap();
            assert_eq!(view.to_relation(), r);
            assert_eq!(RelationView::from(r.clone()).to_relation(), r);
        }
    }
}
