//! How sure a fact is: how many documents state it, and where the graph contradicts itself.
//!
//! Only contradictions the graph itself can see are reported, each with the statements involved
//! and where they are written, so a reader can judge them against the texts:
//! - **overlapping roles**: two people hold the same title at the same organization or office
//!   over dates that certainly overlap (a role given only a year overlaps another only where
//!   both certainly held it: "2021" and "2021-03" to "2022" do not, since the handover may
//!   have been in March);
//! - **event dates**: an entity's own date and the date of a relation that dates it (launched,
//!   signed, issued, organized, participated in, from `valid_from`) that cannot both be true
//!   ("2021" and "2021-02-04" can; "2021-02-04" and "2021-02-05" cannot);
//! - **quantities**: one entity, or one relation, stating the same quantity (same name and unit,
//!   compared without case and runs of spaces) with different values.
//!
//! The work grows with the graph (every relation is read), so the API runs it off the HTTP
//! workers and prices it by the graph's size.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::deadline::Deadline;
use crate::domain::{Citation, Entity, PartialDate, Quantity, Relation, RelationKind};
use crate::graph::GraphIndex;

/// What sort of contradiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConflictKind {
    OverlappingRole,
    EventDates,
    Quantity,
}

/// One contradiction: what it is about and the statements that cannot all be true.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub kind: ConflictKind,
    /// The entity the statements are about: the organization or office of a role, the dated
    /// entity, the entity whose (or whose relation's) numbers differ.
    pub subject: Arc<Entity>,
    pub description: String,
    pub claims: Vec<Claim>,
}

/// One statement in a contradiction: what it says, the relation that says it (none for an
/// entity's own fact) and where it is written.
#[derive(Debug, Clone)]
pub struct Claim {
    pub value: String,
    pub relation: Option<Arc<Relation>>,
    pub citations: Vec<Citation>,
}

/// The relation kinds whose `valid_from` is the date of their target: what was launched,
/// signed, issued or organized happened then.
const DATING_KINDS: &[RelationKind] = &[
    RelationKind::Launched,
    RelationKind::Signed,
    RelationKind::Issued,
    RelationKind::Organized,
    RelationKind::ParticipatedIn,
];

/// Every contradiction of the kinds asked for (all when `None`), in a stable order (by kind,
/// then subject, then description). `None` when the deadline passed first.
pub fn conflicts(g: &GraphIndex, kinds: Option<&[ConflictKind]>, deadline: &Deadline) -> Option<Vec<Conflict>> {
    let wanted = |k: ConflictKind| kinds.is_none_or(|ks| ks.contains(&k));
    let mut out = Vec::new();
    let mut roles: BTreeMap<(String, String), Vec<Arc<Relation>>> = BTreeMap::new();
    let mut dated: BTreeMap<String, Vec<Arc<Relation>>> = BTreeMap::new();
    for (i, r) in g.all_relations().enumerate() {
        if i % 4096 == 0 && deadline.expired() {
            return None;
        }
        let kind = r.kind();
        let holds = kind == RelationKind::HoldsRole && wanted(ConflictKind::OverlappingRole);
        let dates = DATING_KINDS.contains(&kind) && wanted(ConflictKind::EventDates);
        // Only a relation with two numbers or more can contradict itself; the rest are not
        // copied out of the index (at millions of relations, copying each is most of the work).
        let numbers = wanted(ConflictKind::Quantity) && r.quantity_count() > 1;
        if !(holds || dates || numbers) {
            continue;
        }
        let rel = r.get();
        if holds {
            if let (Some(title), Some(_)) = (&rel.title, rel.valid_from) {
                roles.entry((rel.to.clone(), fold(title))).or_default().push(rel.clone());
            }
        }
        if dates && rel.valid_from.is_some() {
            dated.entry(rel.to.clone()).or_default().push(rel.clone());
        }
        if numbers {
            if let Some(subject) = g.entity(&rel.from) {
                let what = format!("relation `{}`", rel.id);
                for (a, b) in differing(&rel.quantities) {
                    out.push(quantity_conflict(subject, &what, a, b, Some(&rel)));
                }
            }
        }
    }
    for ((to, _), held) in roles {
        let Some(subject) = g.entity(&to) else { continue };
        for (i, a) in held.iter().enumerate() {
            for b in &held[i + 1..] {
                if a.from != b.from && certainly_overlap(a, b) {
                    let name = |r: &Relation| g.entity(&r.from).map_or(r.from.clone(), |e| e.name.clone());
                    out.push(Conflict {
                        kind: ConflictKind::OverlappingRole,
                        subject: subject.clone(),
                        description: format!(
                            "{} and {} both hold “{}” at {} over overlapping dates",
                            name(a),
                            name(b),
                            a.title.as_deref().unwrap_or_default(),
                            subject.name
                        ),
                        claims: [a, b].map(|r| role_claim(&name(r), r)).to_vec(),
                    });
                }
            }
        }
    }
    for (id, relations) in dated {
        let Some(subject) = g.entity(&id) else { continue };
        let mut claims: Vec<(PartialDate, Claim)> = Vec::new();
        if let Some(d) = subject.date {
            claims.push((
                d,
                Claim { value: d.to_string(), relation: None, citations: subject.extra.sources.date.clone() },
            ));
        }
        for r in relations {
            let d = r.valid_from.expect("only dated relations are kept");
            claims.push((d, Claim { value: d.to_string(), citations: r.citations.clone(), relation: Some(r) }));
        }
        let clash = claims.iter().enumerate().any(|(i, (a, _))| claims[i + 1..].iter().any(|(b, _)| !a.agrees(b)));
        if clash {
            let dates: Vec<String> = claims.iter().map(|(d, _)| d.to_string()).collect();
            out.push(Conflict {
                kind: ConflictKind::EventDates,
                subject: subject.clone(),
                description: format!("{} is dated {}", subject.name, dates.join(", ")),
                claims: claims.into_iter().map(|(_, c)| c).collect(),
            });
        }
    }
    if wanted(ConflictKind::Quantity) {
        for (i, e) in g.entities(None, None).enumerate() {
            if i % 4096 == 0 && deadline.expired() {
                return None;
            }
            for (a, b) in differing(&e.extra.quantities) {
                out.push(quantity_conflict(e, &e.name, a, b, None));
            }
        }
    }
    out.sort_by(|a, b| (a.kind, &a.subject.id, &a.description).cmp(&(b.kind, &b.subject.id, &b.description)));
    Some(out)
}

/// Relations that rest on a single document (of the given kinds; all but `mentions`, which
/// always cite the one document that names the entity, when `None`), in key order after `after`.
pub fn single_sourced<'g>(
    g: &'g GraphIndex,
    kinds: Option<&'g [RelationKind]>,
) -> impl Iterator<Item = crate::graph::RelationRef<'g>> + 'g {
    g.all_relations().filter(move |r| {
        let kind_ok = match kinds {
            Some(ks) => ks.contains(&r.kind()),
            None => r.kind() != RelationKind::Mentions,
        };
        kind_ok && r.source_count() == 1
    })
}

/// A title compared without case and runs of whitespace.
fn fold(s: &str) -> String {
    s.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

/// Pairs of quantities with the same name and unit and different values.
fn differing(qs: &[Quantity]) -> Vec<(&Quantity, &Quantity)> {
    let mut out = Vec::new();
    for (i, a) in qs.iter().enumerate() {
        for b in &qs[i + 1..] {
            if fold(&a.name) == fold(&b.name) && fold(&a.unit) == fold(&b.unit) && a.value != b.value {
                out.push((a, b));
            }
        }
    }
    out
}

fn quantity_citation(q: &Quantity) -> Vec<Citation> {
    q.document.iter().map(|d| Citation { document: d.clone(), quote: q.quote.clone() }).collect()
}

fn quantity_conflict(
    subject: &Arc<Entity>,
    what: &str,
    a: &Quantity,
    b: &Quantity,
    relation: Option<&Arc<Relation>>,
) -> Conflict {
    let claim = |q: &Quantity| Claim {
        value: format!("{} {}", q.value, q.unit),
        relation: relation.cloned(),
        citations: quantity_citation(q),
    };
    Conflict {
        kind: ConflictKind::Quantity,
        subject: subject.clone(),
        description: format!("{what} states “{}” as {} {} and as {} {}", a.name, a.value, a.unit, b.value, b.unit),
        claims: vec![claim(a), claim(b)],
    }
}

fn role_claim(holder: &str, r: &Arc<Relation>) -> Claim {
    let dates = match (r.valid_from, r.valid_until) {
        (Some(a), Some(b)) => format!("from {a} until {b}"),
        (Some(a), None) => format!("from {a}"),
        (None, Some(b)) => format!("until {b}"),
        (None, None) => "undated".into(),
    };
    Claim { value: format!("{holder}, {dates}"), relation: Some(r.clone()), citations: r.citations.clone() }
}

/// Whether there is a day both relations certainly held: the later of their latest possible
/// starts is no later than the earlier of their earliest possible ends (no end: still held).
fn certainly_overlap(a: &Relation, b: &Relation) -> bool {
    let start = |r: &Relation| r.valid_from.map(|d| d.last_day());
    let end = |r: &Relation| r.valid_until.map(|d| d.first_day());
    let (Some(sa), Some(sb)) = (start(a), start(b)) else { return false };
    let latest_start = sa.max(sb);
    match (end(a), end(b)) {
        (None, None) => true,
        (Some(e), None) | (None, Some(e)) => latest_start <= e,
        (Some(ea), Some(eb)) => latest_start <= ea.min(eb),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> PartialDate {
        PartialDate::parse(s).unwrap()
    }

    fn role(from: &str, start: &str, until: Option<&str>) -> Relation {
        Relation {
            id: format!("holds_role:{from}:x"),
            kind: RelationKind::HoldsRole,
            from: from.into(),
            to: "x".into(),
            title: Some("Director".into()),
            order: None,
            valid_from: Some(date(start)),
            valid_until: until.map(date),
            quantities: vec![],
            citations: vec![],
            version: 1,
        }
    }

    #[test]
    fn roles_overlap_only_where_both_were_certainly_held() {
        assert!(certainly_overlap(&role("a", "2020", None), &role("b", "2021-03", None)));
        assert!(certainly_overlap(&role("a", "2020", Some("2022")), &role("b", "2021-03", None)));
        // A handover within a year or a month given only as such is not a contradiction.
        assert!(!certainly_overlap(&role("a", "2020", Some("2021")), &role("b", "2021-03", None)));
        assert!(!certainly_overlap(&role("a", "2020", Some("2021-03")), &role("b", "2021-03-15", None)));
        assert!(!certainly_overlap(&role("a", "2019", Some("2020-12-31")), &role("b", "2021-01-01", None)));
    }

    #[test]
    fn titles_and_quantity_names_compare_without_case_and_spacing() {
        assert_eq!(fold("  Director   General "), fold("director general"));
        let q = |name: &str, value: f64| Quantity {
            name: name.into(),
            value,
            unit: "USD".into(),
            quote: None,
            document: None,
        };
        let qs = [q("Funding", 1.0), q("funding ", 2.0), q("other", 3.0), q("funding", 1.0)];
        let pairs = differing(&qs);
        assert_eq!(pairs.len(), 2, "1 vs 2 twice; the two 1s agree");
    }
}
