//! The one validation layer: a draft entity or relation, as the seed, an import or an editor
//! gives it, becomes a model value or the list of everything wrong with it, each problem naming
//! its field. The seed (`seed::load`), the importer (`import`) and the editors' mutations
//! (`edit::plan`) all go through [`entity`] and [`relation`], so a record is accepted or refused
//! the same way whichever way it comes in.
//!
//! What a check needs from outside the record (is there an entity with this ID, which document
//! does a citation name) comes from a [`Refs`], which each caller answers from what it has: the
//! seed from its own files, an import from its records and the store, an edit from the graph.
//! Quotes are not searched here: each one comes back as a [`QuoteCheck`], so that a caller with
//! many records finds all of a document's quotes in one pass ([`check_quotes`]) and an edit
//! checks its few at once.
//!
//! One rule differs by where a record comes from, on purpose and only through [`Rules`]: the
//! curated seed must cite every date, end date, URL and number it states (the project's promise
//! that every fact cites its document), while editors and imports may state them uncited, as
//! they always could (an import from a register or a spreadsheet has no sentence to cite).
//! Everything else (value limits, forbidden characters, dates, URLs, counts, references,
//! citations on every relation, quotes verbatim in their documents) is the same for all.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::domain::{
    self, limits, Citation, DocumentTexts, Entity, EntityKind, FactSources, FieldError, InvalidValue, PartialDate,
    Quantity, Relation, RelationKind, Slug, ValueError,
};

/// An entity as written in a seed file, an import record or built from an editor's input:
/// every field as given, nothing checked yet. Field names are the seed's (`seed/README.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftEntity {
    /// The stable ID, when it differs from the slug (an entity renamed after its creation
    /// keeps its first slug as ID). Absent: the slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A document's file name: the key its text is known by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A document's text given inline (imports and exports; the seed keeps texts in files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<DraftQuantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<DraftSources>,
}

/// Where each of an entity's own facts is written (`[entity.sources]` in the seed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftSources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub date: Vec<DraftCitation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub end_date: Vec<DraftCitation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url: Vec<DraftCitation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<DraftCitation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<DraftAliasCitation>,
}

impl DraftSources {
    fn is_empty(&self) -> bool {
        self.date.is_empty()
            && self.end_date.is_empty()
            && self.url.is_empty()
            && self.summary.is_empty()
            && self.aliases.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftAliasCitation {
    pub alias: String,
    pub document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// A citation: the document (its file name, or its entity ID) and the sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftCitation {
    pub document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftQuantity {
    pub name: String,
    pub value: f64,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// The document the number is read from; a relation's defaults to its first citation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// A relation as given; see [`DraftEntity`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftRelation {
    /// Absent: `kind:from:to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<DraftQuantity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<DraftCitation>,
}

/// The one rule that depends on where a record comes from (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// A stated date, end date, URL or entity's number must cite where it is written, and a
    /// document must name its file.
    pub curated: bool,
}

impl Rules {
    /// The hand-curated seed.
    pub const CURATED: Rules = Rules { curated: true };
    /// Editors and imports.
    pub const OPEN: Rules = Rules { curated: false };
}

/// A document a citation names, as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    /// The document entity's ID, which the model's citations hold.
    pub id: String,
    /// The file its text is known by, if any.
    pub file: Option<String>,
}

/// What the checks need to know beyond the record itself.
pub trait Refs {
    /// The document entity a citation's `document` names (a file name or an entity ID, as the
    /// caller accepts), or `None` when there is none.
    fn document(&self, reference: &str) -> Option<DocumentRef>;
    /// Whether an entity with this ID exists (or will, in the same load).
    fn entity_exists(&self, id: &str) -> bool;
}

/// A quote to find verbatim in its document, found where `field` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteCheck {
    pub field: String,
    pub document: DocumentRef,
    pub quote: String,
}

/// A checked value and the quotes it still has to have found in their documents.
#[derive(Debug, Clone)]
pub struct Checked<T> {
    pub value: T,
    pub quotes: Vec<QuoteCheck>,
}

/// A refusal whose message is not one of [`ValueError`]'s own.
pub fn problem(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    ValueError::Invalid(InvalidValue(message.into())).at(field)
}

/// Collects problems instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, e: FieldError) {
        self.0.push(e);
    }

    fn say(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(problem(field, message));
    }

    /// The value, or `None` with its problem kept.
    fn ok<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }
}

fn date(p: &mut Problems, field: &str, v: Option<&str>) -> Option<PartialDate> {
    let v = v.map(str::trim).filter(|s| !s.is_empty())?;
    p.ok(PartialDate::parse(v).map_err(|e| problem(field, e.0)))
}

/// `until` may not be before `from`.
fn date_order(
    p: &mut Problems,
    until_field: &str,
    from_field: &str,
    from: Option<PartialDate>,
    until: Option<PartialDate>,
) {
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            p.say(until_field, format!("{u} is before {from_field} {f}"));
        }
    }
}

/// Checks a citation; its quote, if any, joins `quotes`.
fn citation(
    p: &mut Problems,
    refs: &dyn Refs,
    field: &str,
    c: &DraftCitation,
    quotes: &mut Vec<QuoteCheck>,
) -> Option<Citation> {
    let quote_field = format!("{field}.quote");
    let quote = p.ok(limits::QUOTE.optional(&quote_field, c.quote.as_deref()));
    let Some(doc) = refs.document(c.document.trim()) else {
        p.say(format!("{field}.document"), format!("no document `{}`", domain::excerpt(&c.document)));
        return None;
    };
    let quote = quote?;
    if let Some(q) = &quote {
        quotes.push(QuoteCheck { field: quote_field, document: doc.clone(), quote: q.clone() });
    }
    Some(Citation { document: doc.id, quote })
}

fn citations(
    p: &mut Problems,
    refs: &dyn Refs,
    field: &str,
    list: &[DraftCitation],
    quotes: &mut Vec<QuoteCheck>,
) -> Vec<Citation> {
    if p.ok(domain::check_count(field, list.len(), limits::CITATIONS)).is_none() {
        return Vec::new();
    }
    list.iter().enumerate().filter_map(|(i, c)| citation(p, refs, &format!("{field}[{i}]"), c, quotes)).collect()
}

/// Checks quantities; `default_doc` is where a number without its own document is read from.
fn quantities(
    p: &mut Problems,
    refs: &dyn Refs,
    rules: Rules,
    field: &str,
    list: &[DraftQuantity],
    default_doc: Option<&str>,
    quotes: &mut Vec<QuoteCheck>,
) -> Vec<Quantity> {
    if p.ok(domain::check_count(field, list.len(), limits::QUANTITIES)).is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, q) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let checked = p.ok(domain::quantity(&f, &q.name, q.value, &q.unit, q.quote.as_deref()));
        let doc = match q.document.as_deref().or(default_doc) {
            None => {
                p.say(format!("{f}.document"), "required: the document the number is read from");
                continue;
            }
            Some(d) => match refs.document(d.trim()) {
                None => {
                    p.say(format!("{f}.document"), format!("no document `{}`", domain::excerpt(d)));
                    continue;
                }
                Some(doc) => doc,
            },
        };
        let Some(mut quantity) = checked else { continue };
        match &quantity.quote {
            Some(quote) => {
                quotes.push(QuoteCheck { field: format!("{f}.quote"), document: doc.clone(), quote: quote.clone() })
            }
            None if rules.curated => p.say(
                format!("{f}.quote"),
                "a stated number needs its source: the words of the document it is read from",
            ),
            None => {}
        }
        quantity.document = Some(doc.id);
        out.push(quantity);
    }
    out
}

/// Aliases without blanks, repeats or the name itself, in first-seen order.
pub fn dedupe_aliases(name: &str, aliases: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    aliases
        .into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && a != name && seen.insert(a.clone()))
        .collect()
}

/// Checks an entity. Its ID is `id` or, absent, its slug; a document's text (`text`) is the
/// caller's to keep, it is only checked here.
pub fn entity(d: &DraftEntity, refs: &dyn Refs, rules: Rules) -> Result<Checked<Entity>, Vec<FieldError>> {
    let mut p = Problems::default();
    let mut quotes = Vec::new();
    let slug = match d.slug.as_deref().map(str::trim) {
        None | Some("") => {
            p.add(ValueError::Empty.at("slug"));
            None
        }
        Some(s) => p.ok(Slug::parse(s).map_err(|e| problem("slug", e.0))),
    };
    let id = match d.id.as_deref().map(str::trim) {
        None => slug.as_ref().map(|s| s.to_string()),
        Some(id) => p.ok(Slug::parse(id).map(|s| s.to_string()).map_err(|e| problem("id", e.0))),
    };
    let kind = match d.kind.as_deref().map(str::trim) {
        None | Some("") => {
            p.add(ValueError::Empty.at("kind"));
            None
        }
        Some(k) => p.ok(k.parse::<EntityKind>().map_err(|e| problem("kind", e.0))),
    };
    let name = p.ok(limits::NAME.required("name", d.name.as_deref().unwrap_or_default()));
    let subtype = p.ok(limits::SUBTYPE.optional("type", d.subtype.as_deref())).flatten();
    let summary = p.ok(limits::SUMMARY.optional("summary", d.summary.as_deref())).flatten();
    let url = p.ok(domain::url("url", d.url.as_deref())).flatten();
    let date_v = date(&mut p, "date", d.date.as_deref());
    let end_v = date(&mut p, "end_date", d.end_date.as_deref());
    date_order(&mut p, "end_date", "date", date_v, end_v);
    let aliases: Vec<String> = match p.ok(domain::check_count("aliases", d.aliases.len(), limits::ALIASES)) {
        None => Vec::new(),
        Some(()) => d
            .aliases
            .iter()
            .enumerate()
            .filter_map(|(i, a)| p.ok(limits::ALIAS.required(&format!("aliases[{i}]"), a)))
            .collect(),
    };
    let aliases = dedupe_aliases(name.as_deref().unwrap_or_default(), aliases);
    let is_document = kind == Some(EntityKind::Document);
    let file = match (&d.file, is_document) {
        (None, true) if rules.curated => {
            p.say("file", "required for a document: the file its text is in");
            None
        }
        (Some(f), true) => p.ok(domain::file_name("file", f)),
        (Some(_), false) if kind.is_some() => {
            p.say("file", "only documents have a file");
            None
        }
        _ => None,
    };
    match (&d.text, is_document, &d.file) {
        (Some(_), false, _) if kind.is_some() => p.say("text", "only documents have a text"),
        (Some(_), true, None) => p.say("file", "a document's text needs the file name it is known by"),
        (Some(t), true, Some(_)) if t.contains('\0') => p.say("text", "contains NUL"),
        _ => {}
    }

    let stated = Stated {
        date: date_v.is_some(),
        end_date: end_v.is_some(),
        url: url.is_some(),
        summary: summary.is_some(),
        aliases: &aliases,
    };
    let sources = sources(&mut p, refs, rules, stated, d.sources.as_ref(), &mut quotes);
    let quantities = if d.quantities.is_empty() {
        Vec::new()
    } else {
        quantities(&mut p, refs, rules, "quantities", &d.quantities, None, &mut quotes)
    };
    match (id, slug, kind, name) {
        (Some(id), Some(slug), Some(kind), Some(name)) if p.0.is_empty() => Ok(Checked {
            value: Entity {
                id,
                slug,
                kind,
                subtype,
                name,
                aliases,
                summary,
                date: date_v,
                extra: crate::domain::EntityExtra { end_date: end_v, url, file, quantities, sources }.into(),
                version: 1,
            },
            quotes,
        }),
        _ => Err(p.0),
    }
}

/// Which of an entity's own facts it states.
struct Stated<'a> {
    date: bool,
    end_date: bool,
    url: bool,
    summary: bool,
    aliases: &'a [String],
}

/// The citations of an entity's facts: every citation must be of a fact the entity states;
/// under curated rules a stated date, end date or URL must have one.
fn sources(
    p: &mut Problems,
    refs: &dyn Refs,
    rules: Rules,
    stated: Stated<'_>,
    given: Option<&DraftSources>,
    quotes: &mut Vec<QuoteCheck>,
) -> FactSources {
    let empty = DraftSources::default();
    let given = given.unwrap_or(&empty);
    let mut field = |name: &str, is_stated: bool, required: bool, list: &[DraftCitation], p: &mut Problems| {
        if !is_stated && !list.is_empty() {
            p.say(format!("sources.{name}"), format!("cites a {name} the entity does not state"));
            return Vec::new();
        }
        if is_stated && required && rules.curated && list.is_empty() {
            p.say(
                name,
                format!(
                    "a stated {name} needs a citation: add `{name} = [{{ document = \"…\", quote = \"…\" }}]` under \
                     [entity.sources], or leave the {name} out if no text says it"
                ),
            );
        }
        citations(p, refs, &format!("sources.{name}"), list, quotes)
    };
    let mut out = FactSources {
        date: field("date", stated.date, true, &given.date, p),
        end_date: field("end_date", stated.end_date, true, &given.end_date, p),
        url: field("url", stated.url, true, &given.url, p),
        summary: field("summary", stated.summary, false, &given.summary, p),
        aliases: BTreeMap::new(),
    };
    if given.is_empty() {
        return out;
    }
    for (i, a) in given.aliases.iter().enumerate() {
        let f = format!("sources.aliases[{i}]");
        let alias = a.alias.trim();
        if !stated.aliases.iter().any(|s| s == alias) {
            p.say(format!("{f}.alias"), format!("`{}` is not one of the entity's aliases", domain::excerpt(alias)));
            continue;
        }
        let c = DraftCitation { document: a.document.clone(), quote: a.quote.clone() };
        if let Some(c) = citation(p, refs, &f, &c, quotes) {
            let list = out.aliases.entry(alias.to_string()).or_default();
            if list.len() == limits::CITATIONS {
                p.add(ValueError::TooMany { count: list.len() + 1, max: limits::CITATIONS }.at(f));
                continue;
            }
            list.push(c);
        }
    }
    out
}

/// Checks a relation. Its ID is `id` or, absent, `kind:from:to`; whether that ID is already
/// taken is the caller's question.
pub fn relation(d: &DraftRelation, refs: &dyn Refs, rules: Rules) -> Result<Checked<Relation>, Vec<FieldError>> {
    let mut p = Problems::default();
    let mut quotes = Vec::new();
    let kind = match d.kind.as_deref().map(str::trim) {
        None | Some("") => {
            p.add(ValueError::Empty.at("kind"));
            None
        }
        Some(k) => p.ok(k.parse::<RelationKind>().map_err(|e| problem("kind", e.0))),
    };
    let mut endpoint = |field: &str, v: Option<&str>| match v.map(str::trim) {
        None | Some("") => {
            p.add(ValueError::Empty.at(field));
            None
        }
        Some(id) if !refs.entity_exists(id) => {
            p.say(field, format!("no entity `{}`", domain::excerpt(id)));
            None
        }
        Some(id) => Some(id.to_string()),
    };
    let from = endpoint("from", d.from.as_deref());
    let to = endpoint("to", d.to.as_deref());
    let title = p.ok(limits::TITLE.optional("title", d.title.as_deref())).flatten();
    let valid_from = date(&mut p, "valid_from", d.valid_from.as_deref());
    let valid_until = date(&mut p, "valid_until", d.valid_until.as_deref());
    date_order(&mut p, "valid_until", "valid_from", valid_from, valid_until);
    let cites = if d.citations.is_empty() {
        p.say("citations", "every relation needs at least one citation");
        Vec::new()
    } else {
        citations(&mut p, refs, "citations", &d.citations, &mut quotes)
    };
    let default_doc = d.citations.first().map(|c| c.document.as_str());
    let quantities = quantities(&mut p, refs, rules, "quantities", &d.quantities, default_doc, &mut quotes);
    let id = match (&d.id, kind, &from, &to) {
        (Some(id), ..) => p.ok(domain::relation_id("id", id.trim())),
        (None, Some(k), Some(f), Some(t)) => Some(format!("{k}:{f}:{t}")),
        _ => None,
    };
    match (id, kind, from, to) {
        (Some(id), Some(kind), Some(from), Some(to)) if p.0.is_empty() => Ok(Checked {
            value: Relation {
                id,
                kind,
                from,
                to,
                title,
                order: d.order,
                valid_from,
                valid_until,
                quantities,
                citations: cites,
                version: 1,
            },
            quotes,
        }),
        _ => Err(p.0),
    }
}

/// Finds every quote in its document, all of one document's in one pass over its text
/// ([`domain::DocumentText::locate_all`]), and gives the refusals, each with its `tag` (where
/// the quote's record is).
pub fn check_quotes<T: Clone>(texts: &DocumentTexts, checks: &[(T, QuoteCheck)]) -> Vec<(T, FieldError)> {
    find_quotes(texts, checks, true)
}

/// [`check_quotes`], remembering where each quote is in its document (for the texts a service
/// keeps) or not (`remember: false`: a bulk import's millions of quotes would outweigh them).
pub fn find_quotes<T: Clone>(
    texts: &DocumentTexts,
    checks: &[(T, QuoteCheck)],
    remember: bool,
) -> Vec<(T, FieldError)> {
    let mut by_file: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (i, (_, q)) in checks.iter().enumerate() {
        by_file.entry(q.document.file.as_deref()).or_default().push(i);
    }
    let mut refused = Vec::new();
    for (file, items) in by_file {
        let text = file.and_then(|f| texts.get(f));
        let found: Vec<bool> = match text {
            None => vec![false; items.len()],
            Some(text) => {
                let quotes: Vec<&str> = items.iter().map(|&i| checks[i].1.quote.as_str()).collect();
                let found = if remember { text.locate_all(&quotes) } else { text.find_all(&quotes) };
                found.iter().map(Option::is_some).collect()
            }
        };
        for (&i, ok) in items.iter().zip(found) {
            if !ok {
                let (tag, q) = &checks[i];
                let document = q.document.file.clone().unwrap_or_else(|| q.document.id.clone());
                let error = match text {
                    None => ValueError::DocumentTextUnknown { document },
                    Some(_) => ValueError::NotInDocument { document },
                };
                refused.push((tag.clone(), error.at(q.field.clone())));
            }
        }
    }
    refused
}

/// A draft of `e` as it stands: what an export writes and an update starts from. Citations
/// name documents by entity ID.
pub fn draft_of_entity(e: &Entity) -> DraftEntity {
    let cites = |cs: &[Citation]| {
        cs.iter().map(|c| DraftCitation { document: c.document.clone(), quote: c.quote.clone() }).collect()
    };
    let s = &e.extra.sources;
    let sources = DraftSources {
        date: cites(&s.date),
        end_date: cites(&s.end_date),
        url: cites(&s.url),
        summary: cites(&s.summary),
        aliases: s
            .aliases
            .iter()
            .flat_map(|(a, cs)| {
                cs.iter().map(move |c| DraftAliasCitation {
                    alias: a.clone(),
                    document: c.document.clone(),
                    quote: c.quote.clone(),
                })
            })
            .collect(),
    };
    DraftEntity {
        id: (e.id != e.slug.as_str()).then(|| e.id.clone()),
        slug: Some(e.slug.to_string()),
        kind: Some(e.kind.as_str().to_string()),
        name: Some(e.name.clone()),
        subtype: e.subtype.clone(),
        aliases: e.aliases.clone(),
        summary: e.summary.clone(),
        date: e.date.map(|d| d.to_string()),
        end_date: e.extra.end_date.map(|d| d.to_string()),
        url: e.extra.url.clone(),
        file: e.extra.file.clone(),
        text: None,
        quantities: e.extra.quantities.iter().map(draft_of_quantity).collect(),
        sources: (!sources.is_empty()).then_some(sources),
    }
}

fn draft_of_quantity(q: &Quantity) -> DraftQuantity {
    DraftQuantity {
        name: q.name.clone(),
        value: q.value,
        unit: q.unit.clone(),
        quote: q.quote.clone(),
        document: q.document.clone(),
    }
}

/// A draft of `r` as it stands; see [`draft_of_entity`].
pub fn draft_of_relation(r: &Relation) -> DraftRelation {
    DraftRelation {
        id: Some(r.id.clone()),
        kind: Some(r.kind.as_str().to_string()),
        from: Some(r.from.clone()),
        to: Some(r.to.clone()),
        title: r.title.clone(),
        order: r.order,
        valid_from: r.valid_from.map(|d| d.to_string()),
        valid_until: r.valid_until.map(|d| d.to_string()),
        quantities: r.quantities.iter().map(draft_of_quantity).collect(),
        citations: r
            .citations
            .iter()
            .map(|c| DraftCitation { document: c.document.clone(), quote: c.quote.clone() })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Known;

    impl Refs for Known {
        fn document(&self, reference: &str) -> Option<DocumentRef> {
            (reference == "doc.md" || reference == "doc")
                .then(|| DocumentRef { id: "doc".into(), file: Some("doc.md".into()) })
        }
        fn entity_exists(&self, id: &str) -> bool {
            ["a", "b", "doc"].contains(&id)
        }
    }

    fn fields(r: Result<Checked<impl std::fmt::Debug>, Vec<FieldError>>) -> Vec<String> {
        r.expect_err("refused").into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_problem_of_an_entity_is_named_by_its_field() {
        let d = DraftEntity {
            slug: Some("Bad Slug".into()),
            kind: Some("planet".into()),
            name: Some(" ".into()),
            url: Some("ftp://x".into()),
            aliases: vec!["".into()],
            date: Some("2020-13".into()),
            ..DraftEntity::default()
        };
        assert_eq!(fields(entity(&d, &Known, Rules::OPEN)), ["slug", "kind", "name", "url", "date", "aliases[0]"]);
    }

    #[test]
    fn the_seed_alone_must_cite_a_stated_date() {
        let d = DraftEntity {
            slug: Some("x".into()),
            kind: Some("person".into()),
            name: Some("X".into()),
            date: Some("2020".into()),
            ..DraftEntity::default()
        };
        assert!(entity(&d, &Known, Rules::OPEN).is_ok());
        assert_eq!(fields(entity(&d, &Known, Rules::CURATED)), ["date"]);
    }

    #[test]
    fn a_relation_needs_known_ends_a_citation_and_ordered_dates() {
        let d = DraftRelation {
            kind: Some("funds".into()),
            from: Some("a".into()),
            to: Some("nobody".into()),
            valid_from: Some("2021".into()),
            valid_until: Some("2020".into()),
            ..DraftRelation::default()
        };
        assert_eq!(fields(relation(&d, &Known, Rules::OPEN)), ["to", "valid_until", "citations"]);
        let d = DraftRelation {
            kind: Some("funds".into()),
            from: Some("a".into()),
            to: Some("b".into()),
            citations: vec![DraftCitation { document: "doc.md".into(), quote: Some("words".into()) }],
            ..DraftRelation::default()
        };
        let ok = relation(&d, &Known, Rules::OPEN).expect("valid");
        assert_eq!(ok.value.id, "funds:a:b");
        assert_eq!(ok.value.citations[0].document, "doc");
        let texts = DocumentTexts::from_texts([("doc.md".to_string(), "some words here".to_string())]);
        assert!(check_quotes(&texts, &[((), ok.quotes[0].clone())]).is_empty());
        let texts = DocumentTexts::from_texts([("doc.md".to_string(), "other text".to_string())]);
        assert_eq!(check_quotes(&texts, &[(7, ok.quotes[0].clone())])[0].1.field, "citations[0].quote");
    }

    #[test]
    fn a_draft_of_a_model_value_checks_back_to_it() {
        let d = DraftRelation {
            kind: Some("funds".into()),
            from: Some("a".into()),
            to: Some("b".into()),
            title: Some("t".into()),
            valid_from: Some("2020-02".into()),
            citations: vec![DraftCitation { document: "doc".into(), quote: None }],
            ..DraftRelation::default()
        };
        let r = relation(&d, &Known, Rules::OPEN).expect("valid").value;
        assert_eq!(relation(&draft_of_relation(&r), &Known, Rules::OPEN).expect("valid").value, r);
    }
}
