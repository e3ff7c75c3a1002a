//! The seed loader: reads and validates `seed/` (format in `seed/README.md`) and applies it to
//! the store.
//!
//! Loading is all-or-nothing: every problem in every file is collected and reported with its
//! file, record and field, and nothing is written unless there are none. Applying is
//! idempotent: records equal to what the store holds are not rewritten, so a second run commits
//! nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::{
    self, limits, Citation, DocumentTexts, Entity, EntityKind, FieldError, PartialDate, Quantity, Relation,
    RelationKind, Slug,
};
use crate::store::{AuditEntry, Committed, Store, StoreError, TargetKind, WriteBatch};

/// One thing wrong with the seed data, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub record: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

/// What reports a problem with one field of one record: `p("name", message)`.
fn report_to<'a>(problems: &'a mut Vec<Problem>, file: &'a str, record: &'a str) -> impl FnMut(&str, String) + 'a {
    move |field, message| {
        problems.push(Problem {
            file: file.to_string(),
            record: Some(record.to_string()),
            field: Some(field.into()),
            message,
        })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(r) = &self.record {
            write!(f, ": {r}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed data has {} problem(s); nothing was written:\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    #[error("cannot read the seed directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validated seed content, ready to apply.
#[derive(Debug, Clone)]
pub struct SeedData {
    pub entities: Vec<Entity>,
    pub relations: Vec<Relation>,
    /// The texts of the documents' files, which the quotes were checked against: a service
    /// seeded with this data checks editors' quotes against them too.
    pub documents: DocumentTexts,
}

/// What applying a seed changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub entities_added: usize,
    pub entities_updated: usize,
    pub relations_added: usize,
    pub relations_updated: usize,
    pub unchanged: usize,
    /// Records edited through the API since the seed wrote them: left as the editor left them.
    pub kept_edits: usize,
    /// Records the seed wrote and an editor deleted: not brought back.
    pub kept_deletions: usize,
}

impl SeedReport {
    pub fn changed(&self) -> bool {
        self.entities_added + self.entities_updated + self.relations_added + self.relations_updated > 0
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entities added, {} updated; {} relations added, {} updated; {} records unchanged; \
             {} edited and {} deleted through the API left as they are",
            self.entities_added,
            self.entities_updated,
            self.relations_added,
            self.relations_updated,
            self.unchanged,
            self.kept_edits,
            self.kept_deletions
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityFile {
    #[serde(default)]
    entity: Vec<EntityRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationFile {
    #[serde(default)]
    relation: Vec<RelationRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityRecord {
    slug: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    subtype: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    summary: Option<String>,
    date: Option<String>,
    end_date: Option<String>,
    url: Option<String>,
    file: Option<String>,
    #[serde(default)]
    quantities: Vec<QuantityRecord>,
    sources: Option<SourcesRecord>,
}

/// `[entity.sources]`: where each of the entity's own facts is written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SourcesRecord {
    #[serde(default)]
    date: Vec<CitationRecord>,
    #[serde(default)]
    end_date: Vec<CitationRecord>,
    #[serde(default)]
    url: Vec<CitationRecord>,
    #[serde(default)]
    summary: Vec<CitationRecord>,
    #[serde(default)]
    aliases: Vec<AliasCitationRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasCitationRecord {
    alias: String,
    document: String,
    quote: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationRecord {
    id: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    title: Option<String>,
    order: Option<i32>,
    valid_from: Option<String>,
    valid_until: Option<String>,
    #[serde(default)]
    quantities: Vec<QuantityRecord>,
    #[serde(default)]
    citations: Vec<CitationRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantityRecord {
    name: String,
    value: f64,
    unit: String,
    quote: Option<String>,
    document: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CitationRecord {
    document: String,
    quote: Option<String>,
}

/// Quotes waiting to be found in their documents: all of one document's are located in one
/// pass once every record is read ([`domain::DocumentText::locate_all`]), so that checking a
/// seed costs one scan per document rather than one per quote.
#[derive(Default)]
struct QuoteChecks {
    /// (document file, quote, where it was given: file, record, field)
    pending: Vec<(String, String, Problem)>,
}

impl QuoteChecks {
    fn add(&mut self, doc_file: &str, quote: &str, file: &str, record: &str, field: String) {
        let at = Problem { file: file.into(), record: Some(record.into()), field: Some(field), message: String::new() };
        self.pending.push((doc_file.into(), quote.into(), at));
    }

    /// A problem for every quote not found verbatim in its document.
    fn finish(self, texts: &DocumentTexts, problems: &mut Vec<Problem>) {
        let mut by_doc: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, (doc, ..)) in self.pending.iter().enumerate() {
            by_doc.entry(doc.as_str()).or_default().push(i);
        }
        for (doc, items) in by_doc {
            let found: Vec<bool> = match texts.get(doc) {
                None => vec![false; items.len()],
                Some(text) => {
                    let quotes: Vec<&str> = items.iter().map(|&i| self.pending[i].1.as_str()).collect();
                    text.locate_all(&quotes).iter().map(Option::is_some).collect()
                }
            };
            for (&i, ok) in items.iter().zip(found) {
                if !ok {
                    let error = match texts.get(doc) {
                        None => domain::ValueError::DocumentTextUnknown { document: doc.into() },
                        Some(_) => domain::ValueError::NotInDocument { document: doc.into() },
                    };
                    problems.push(Problem { message: error.to_string(), ..self.pending[i].2.clone() });
                }
            }
        }
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, SeedError> {
    let io = |source| SeedError::Io { path: dir.display().to_string(), source };
    let mut files = Vec::new();
    if !dir.exists() {
        return Ok(files);
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads and validates the seed directory. Returns every problem found, not just the first.
pub fn load(dir: &Path) -> Result<SeedData, SeedError> {
    if !dir.is_dir() {
        return Err(SeedError::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).display().to_string();
    let mut problems = Vec::new();

    let mut entity_records: Vec<(String, usize, EntityRecord)> = Vec::new();
    for path in toml_files(&dir.join("entities"))? {
        let file = rel(&path);
        match read_toml::<EntityFile>(&path) {
            Ok(f) => entity_records.extend(f.entity.into_iter().enumerate().map(|(i, r)| (file.clone(), i + 1, r))),
            Err(message) => problems.push(Problem { file, record: None, field: None, message }),
        }
    }
    let mut relation_records: Vec<(String, usize, RelationRecord)> = Vec::new();
    for path in toml_files(&dir.join("relations"))? {
        let file = rel(&path);
        match read_toml::<RelationFile>(&path) {
            Ok(f) => relation_records.extend(f.relation.into_iter().enumerate().map(|(i, r)| (file.clone(), i + 1, r))),
            Err(message) => problems.push(Problem { file, record: None, field: None, message }),
        }
    }

    // Documents first: citations resolve file names to document entities.
    let mut documents: HashMap<String, String> = HashMap::new(); // file → document entity ID
    let mut texts: Vec<(String, String)> = Vec::new(); // file → text as read
    let mut entities = Vec::new();
    let mut slugs_seen: HashMap<String, String> = HashMap::new();
    let mut pending_quantities: Vec<(usize, String, String, Vec<QuantityRecord>)> = Vec::new();
    let mut pending_sources: Vec<(usize, String, String, Stated, SourcesRecord)> = Vec::new();

    for (file, n, r) in entity_records {
        let record = format!(
            "entity #{n}{}",
            r.slug.as_deref().map(|s| format!(" `{}`", domain::excerpt(s))).unwrap_or_default()
        );
        let mut p = report_to(&mut problems, &file, &record);
        let slug = match r.slug.as_deref().map(Slug::parse) {
            None => {
                p("slug", "missing".into());
                None
            }
            Some(Err(e)) => {
                p("slug", e.0);
                None
            }
            Some(Ok(s)) => {
                if let Some(first) = slugs_seen.insert(s.to_string(), format!("{file}, entity #{n}")) {
                    p("slug", format!("duplicate slug `{s}` (first used in {first})"));
                }
                Some(s)
            }
        };
        let kind = match r.kind.as_deref().map(str::parse::<EntityKind>) {
            None => {
                p("kind", "missing".into());
                None
            }
            Some(Err(e)) => {
                p("kind", e.0);
                None
            }
            Some(Ok(k)) => Some(k),
        };
        let name = ok(limits::NAME.required("name", r.name.as_deref().unwrap_or_default()), &mut p);
        let subtype = ok(limits::SUBTYPE.optional("type", r.subtype.as_deref()), &mut p).flatten();
        let summary = ok(limits::SUMMARY.optional("summary", r.summary.as_deref()), &mut p).flatten();
        let url = ok(domain::url("url", r.url.as_deref()), &mut p).flatten();
        let date = parse_date(r.date.as_deref(), "date", &mut p);
        let end_date = parse_date(r.end_date.as_deref(), "end_date", &mut p);
        let aliases = match domain::check_count("aliases", r.aliases.len(), limits::ALIASES) {
            Err(e) => {
                p(&e.field, e.error.to_string());
                Vec::new()
            }
            Ok(()) => r
                .aliases
                .iter()
                .enumerate()
                .filter_map(|(i, a)| ok(limits::ALIAS.required(&format!("aliases[{i}]"), a), &mut p))
                .collect(),
        };
        let doc_file = match (kind, &r.file) {
            (Some(EntityKind::Document), None) => {
                p("file", "required for a document: the file in documents/".into());
                None
            }
            (Some(EntityKind::Document), Some(f)) => ok(domain::file_name("file", f), &mut p),
            (Some(_), Some(_)) => {
                p("file", "only documents have a file".into());
                None
            }
            _ => None,
        };
        if let Some(f) = &doc_file {
            match std::fs::read_to_string(dir.join("documents").join(f)) {
                Ok(text) => {
                    if let Some(slug) = &slug {
                        if documents.insert(f.clone(), slug.to_string()).is_some() {
                            p("file", format!("`{f}` is already the file of another document"));
                        }
                        texts.push((f.clone(), text));
                    }
                }
                Err(e) => p("file", format!("cannot read documents/{f}: {e}")),
            }
        }
        if let (Some(slug), Some(kind), Some(name)) = (slug, kind, name) {
            let idx = entities.len();
            if !r.quantities.is_empty() {
                pending_quantities.push((idx, file.clone(), record.clone(), r.quantities));
            }
            let stated = Stated {
                date: date.is_some(),
                end_date: end_date.is_some(),
                url: url.is_some(),
                summary: summary.is_some(),
                aliases: aliases.clone(),
            };
            pending_sources.push((idx, file.clone(), record.clone(), stated, r.sources.unwrap_or_default()));
            entities.push(Entity {
                id: slug.to_string(),
                slug,
                kind,
                subtype,
                name,
                aliases,
                summary,
                date,
                end_date,
                url,
                file: doc_file,
                quantities: Vec::new(),
                sources: Default::default(),
                version: 1,
            });
        }
    }
    let texts = DocumentTexts::from_texts(texts);
    let mut quotes = QuoteChecks::default();

    for (idx, file, record, stated, sources) in pending_sources {
        let mut p = report_to(&mut problems, &file, &record);
        entities[idx].sources = check_sources(stated, sources, &documents, &mut quotes, &file, &record, &mut p);
    }

    for (idx, file, record, quantities) in pending_quantities {
        let mut p = report_to(&mut problems, &file, &record);
        if let Err(e) = domain::check_count("quantities", quantities.len(), limits::QUANTITIES) {
            p(&e.field, e.error.to_string());
            continue;
        }
        let mut out = Vec::new();
        for (i, q) in quantities.into_iter().enumerate() {
            let field = format!("quantities[{i}]");
            match q.document.clone() {
                None => p(
                    &format!("{field}.document"),
                    "required for an entity's quantities: the file the number is read from".into(),
                ),
                Some(doc) => {
                    if let Some(q) = check_quantity(q, &doc, &documents, &field, &mut p) {
                        match &q.quote {
                            Some(quote) => quotes.add(&doc, quote, &file, &record, format!("{field}.quote")),
                            None => p(
                                &format!("{field}.quote"),
                                "a stated number needs its source: the words of the document it is read from".into(),
                            ),
                        }
                        out.push(q);
                    }
                }
            }
        }
        entities[idx].quantities = out;
    }

    let mut relations = Vec::new();
    let mut relation_ids: HashMap<String, String> = HashMap::new();
    for (file, n, r) in relation_records {
        let record = format!(
            "relation #{n}{}",
            match (&r.id, &r.kind, &r.from, &r.to) {
                (Some(id), ..) => format!(" `{}`", domain::excerpt(id)),
                (None, Some(k), Some(f), Some(t)) =>
                    format!(" ({} {} {})", domain::excerpt(f), domain::excerpt(k), domain::excerpt(t)),
                _ => String::new(),
            }
        );
        let mut local = Vec::new();
        let mut p = report_to(&mut local, &file, &record);
        let kind = match r.kind.as_deref().map(str::parse::<RelationKind>) {
            None => {
                p("kind", "missing".into());
                None
            }
            Some(Err(e)) => {
                p("kind", e.0);
                None
            }
            Some(Ok(k)) => Some(k),
        };
        let mut endpoint = |field: &str, value: &Option<String>| match value {
            None => {
                p(field, "missing".into());
                None
            }
            Some(s) if !slugs_seen.contains_key(s) => {
                p(field, format!("no entity has the slug `{}`", domain::excerpt(s)));
                None
            }
            Some(s) => Some(s.clone()),
        };
        let from = endpoint("from", &r.from);
        let to = endpoint("to", &r.to);
        let title = ok(limits::TITLE.optional("title", r.title.as_deref()), &mut p).flatten();
        let valid_from = parse_date(r.valid_from.as_deref(), "valid_from", &mut p);
        let valid_until = parse_date(r.valid_until.as_deref(), "valid_until", &mut p);
        if let (Some(a), Some(b)) = (valid_from, valid_until) {
            if b < a {
                p("valid_until", format!("{b} is before valid_from {a}"));
            }
        }
        let mut citations = Vec::new();
        if r.citations.is_empty() {
            p("citations", "every relation needs at least one citation".into());
        } else if let Err(e) = domain::check_count("citations", r.citations.len(), limits::CITATIONS) {
            p(&e.field, e.error.to_string());
        } else {
            for (i, c) in r.citations.iter().enumerate() {
                let field = format!("citations[{i}]");
                let Some(doc_id) = documents.get(&c.document) else {
                    let message = format!("no document entity has the file `{}`", domain::excerpt(&c.document));
                    p(&format!("{field}.document"), message);
                    continue;
                };
                let quote = ok(limits::QUOTE.optional(&format!("{field}.quote"), c.quote.as_deref()), &mut p);
                if let Some(Some(q)) = &quote {
                    quotes.add(&c.document, q, &file, &record, format!("{field}.quote"));
                }
                citations.push(Citation { document: doc_id.clone(), quote: quote.flatten() });
            }
        }
        let id = match (&r.id, kind, &from, &to) {
            (Some(id), ..) => ok(domain::relation_id("id", id), &mut p),
            (None, Some(k), Some(f), Some(t)) => Some(format!("{k}:{f}:{t}")),
            _ => None,
        };
        if let Some(id) = &id {
            if let Some(first) = relation_ids.insert(id.clone(), format!("{file}, relation #{n}")) {
                p(
                    "id",
                    format!(
                        "duplicate relation ID `{id}` (also {first}); give each of them an explicit, distinct `id`"
                    ),
                );
            }
        }
        let default_doc = r.citations.first().map(|c| c.document.clone());
        let mut quantities = Vec::new();
        if let Err(e) = domain::check_count("quantities", r.quantities.len(), limits::QUANTITIES) {
            p(&e.field, e.error.to_string());
        } else {
            for (i, q) in r.quantities.into_iter().enumerate() {
                let field = format!("quantities[{i}]");
                let doc = q.document.clone().or_else(|| default_doc.clone()).unwrap_or_default();
                if let Some(q) = check_quantity(q, &doc, &documents, &field, &mut p) {
                    if let Some(quote) = &q.quote {
                        quotes.add(&doc, quote, &file, &record, format!("{field}.quote"));
                    }
                    quantities.push(q);
                }
            }
        }
        drop(p);
        let clean = local.is_empty();
        problems.extend(local);
        if let (true, Some(id), Some(kind), Some(from), Some(to)) = (clean, id, kind, from, to) {
            relations.push(Relation {
                id,
                kind,
                from,
                to,
                title,
                order: r.order,
                valid_from,
                valid_until,
                quantities,
                citations,
                version: 1,
            });
        }
    }

    quotes.finish(&texts, &mut problems);
    if problems.is_empty() {
        Ok(SeedData { entities, relations, documents: texts })
    } else {
        Err(SeedError::Invalid(problems))
    }
}

/// The texts of every file in `documents/` of the seed directory `dir`, for a server whose store
/// was seeded earlier: the quotes editors give are checked against them. No `documents/`, no
/// texts.
pub fn load_document_texts(dir: &Path) -> Result<DocumentTexts, SeedError> {
    let docs = dir.join("documents");
    let io = |source| SeedError::Io { path: docs.display().to_string(), source };
    let mut texts = Vec::new();
    if !docs.is_dir() {
        return Ok(DocumentTexts::default());
    }
    for entry in std::fs::read_dir(&docs).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .map_err(|source| SeedError::Io { path: entry.path().display().to_string(), source })?;
        texts.push((name, text));
    }
    Ok(DocumentTexts::from_texts(texts))
}

/// Which of an entity's own facts it states, for [`check_sources`].
struct Stated {
    date: bool,
    end_date: bool,
    url: bool,
    summary: bool,
    aliases: Vec<String>,
}

/// The citations of an entity's facts, checked: a stated date, end date or URL must have one,
/// every citation must be of a fact the entity states, name a document and (its quote, once
/// all are read) be verbatim in it.
fn check_sources(
    stated: Stated,
    sources: SourcesRecord,
    documents: &HashMap<String, String>,
    quotes: &mut QuoteChecks,
    file: &str,
    record: &str,
    p: &mut impl FnMut(&str, String),
) -> domain::FactSources {
    let mut cite = |field: String, c: &CitationRecord, p: &mut dyn FnMut(&str, String)| -> Option<Citation> {
        let Some(doc_id) = documents.get(&c.document) else {
            let message = format!("no document entity has the file `{}`", domain::excerpt(&c.document));
            p(&format!("{field}.document"), message);
            return None;
        };
        let quote = match limits::QUOTE.optional(&format!("{field}.quote"), c.quote.as_deref()) {
            Ok(q) => q,
            Err(e) => {
                p(&e.field, e.error.to_string());
                return None;
            }
        };
        if let Some(q) = &quote {
            quotes.add(&c.document, q, file, record, format!("{field}.quote"));
        }
        Some(Citation { document: doc_id.clone(), quote })
    };
    let mut field =
        |name: &str, is_stated: bool, required: bool, list: &[CitationRecord], p: &mut dyn FnMut(&str, String)| {
            if list.len() > limits::CITATIONS {
                p(
                    &format!("sources.{name}"),
                    domain::ValueError::TooMany { count: list.len(), max: limits::CITATIONS }.to_string(),
                );
                return Vec::new();
            }
            if !is_stated && !list.is_empty() {
                p(&format!("sources.{name}"), format!("cites a {name} the entity does not state"));
                return Vec::new();
            }
            if is_stated && required && list.is_empty() {
                p(
                    name,
                    format!(
                    "a stated {name} needs a citation: add `{name} = [{{ document = \"…\", quote = \"…\" }}]` under \
                     [entity.sources], or leave the {name} out if no text says it"
                ),
                );
            }
            list.iter().enumerate().filter_map(|(i, c)| cite(format!("sources.{name}[{i}]"), c, &mut *p)).collect()
        };
    let mut out = domain::FactSources {
        date: field("date", stated.date, true, &sources.date, p),
        end_date: field("end_date", stated.end_date, true, &sources.end_date, p),
        url: field("url", stated.url, true, &sources.url, p),
        summary: field("summary", stated.summary, false, &sources.summary, p),
        aliases: BTreeMap::new(),
    };
    for (i, a) in sources.aliases.iter().enumerate() {
        let f = format!("sources.aliases[{i}]");
        let alias = a.alias.trim();
        if !stated.aliases.iter().any(|s| s == alias) {
            p(&format!("{f}.alias"), format!("`{}` is not one of the entity's aliases", domain::excerpt(alias)));
            continue;
        }
        let c = CitationRecord { document: a.document.clone(), quote: a.quote.clone() };
        if let Some(c) = cite(f, &c, &mut *p) {
            out.aliases.entry(alias.to_string()).or_default().push(c);
        }
    }
    out
}

/// The value, or `None` with its problem reported.
fn ok<T>(result: Result<T, FieldError>, p: &mut impl FnMut(&str, String)) -> Option<T> {
    result.map_err(|e| p(&e.field, e.error.to_string())).ok()
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    toml::from_str(&text).map_err(|e| e.to_string().trim_end().replace('\n', "\n    "))
}

fn parse_date(value: Option<&str>, field: &str, p: &mut impl FnMut(&str, String)) -> Option<PartialDate> {
    match value.map(PartialDate::parse) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            p(field, e.0);
            None
        }
    }
}

/// A quantity read from the document with file `doc`, its values checked (its quote is left to
/// [`QuoteChecks`]).
fn check_quantity(
    q: QuantityRecord,
    doc: &str,
    documents: &HashMap<String, String>,
    field: &str,
    p: &mut impl FnMut(&str, String),
) -> Option<Quantity> {
    let checked = ok(domain::quantity(field, &q.name, q.value, &q.unit, q.quote.as_deref()), p);
    let Some(doc_id) = documents.get(doc) else {
        p(&format!("{field}.document"), format!("no document entity has the file `{}`", domain::excerpt(doc)));
        return None;
    };
    let mut quantity = checked?;
    quantity.document = Some(doc_id.clone());
    Some(quantity)
}

/// Writes the seed into the store, touching only records that differ from what it holds.
///
/// The seed adds and corrects; it never deletes, and it never overrides an editor. For every
/// record it remembers the digest of what it wrote (the `seeded` tree), so on a later run:
/// - a record the store lacks and the seed never wrote is added;
/// - a record the seed wrote and that still is exactly what it wrote is updated to the new seed;
/// - a record whose content differs from what the seed last wrote was edited through the API and
///   is left alone, and so is a record the seed wrote that an editor deleted (or merged away).
///
/// The batch is based on the generation it was compared at: if the store moved on meanwhile (a
/// write elsewhere), the commit fails with a conflict and nothing is written.
pub async fn apply(store: &dyn Store, data: &SeedData) -> Result<(SeedReport, Option<Committed>), SeedError> {
    let mut report = SeedReport::default();
    let snapshot = store.read().await?;
    let mut batch = WriteBatch { base: Some(snapshot.generation()), ..WriteBatch::default() };
    let audit =
        |target: TargetKind, id: &str, action: &str, before: Option<serde_json::Value>, after: serde_json::Value| {
            AuditEntry {
                seq: 0,
                generation: 0,
                at: String::new(),
                actor: "seed".into(),
                action: action.into(),
                target,
                target_id: id.into(),
                before,
                after: Some(after),
                merged_into: None,
            }
        };
    for e in &data.entities {
        let new_digest = digest(&Entity { version: 0, ..e.clone() });
        match (snapshot.entity(&e.id)?, snapshot.seeded_digest(&e.id)?) {
            (None, None) => {
                report.entities_added += 1;
                batch.audit.push(audit(TargetKind::Entity, &e.id, "create", None, to_json(e)));
                batch.put_entities.push(e.clone());
                batch.seeded.push((e.id.clone(), new_digest));
            }
            (None, Some(_)) => report.kept_deletions += 1,
            (Some(old), last_seeded) => {
                let current = digest(&Entity { version: 0, ..old.clone() });
                if current == new_digest {
                    report.unchanged += 1;
                    if last_seeded.as_deref() != Some(&new_digest[..]) {
                        batch.seeded.push((e.id.clone(), new_digest));
                    }
                } else if last_seeded.as_deref() == Some(&current[..]) {
                    report.entities_updated += 1;
                    let new = Entity { version: old.version + 1, ..e.clone() };
                    batch.audit.push(audit(TargetKind::Entity, &e.id, "update", Some(to_json(&old)), to_json(&new)));
                    batch.put_entities.push(new);
                    batch.seeded.push((e.id.clone(), new_digest));
                } else {
                    report.kept_edits += 1;
                }
            }
        }
    }
    for r in &data.relations {
        let new_digest = digest(&Relation { version: 0, ..r.clone() });
        match (snapshot.relation(&r.id)?, snapshot.seeded_digest(&r.id)?) {
            (None, None) => {
                report.relations_added += 1;
                batch.audit.push(audit(TargetKind::Relation, &r.id, "create", None, to_json(r)));
                batch.put_relations.push(r.clone());
                batch.seeded.push((r.id.clone(), new_digest));
            }
            (None, Some(_)) => report.kept_deletions += 1,
            (Some(old), last_seeded) => {
                let current = digest(&Relation { version: 0, ..old.clone() });
                if current == new_digest {
                    report.unchanged += 1;
                    if last_seeded.as_deref() != Some(&new_digest[..]) {
                        batch.seeded.push((r.id.clone(), new_digest));
                    }
                } else if last_seeded.as_deref() == Some(&current[..]) {
                    report.relations_updated += 1;
                    let new = Relation { version: old.version + 1, ..r.clone() };
                    batch.audit.push(audit(TargetKind::Relation, &r.id, "update", Some(to_json(&old)), to_json(&new)));
                    batch.put_relations.push(new);
                    batch.seeded.push((r.id.clone(), new_digest));
                } else {
                    report.kept_edits += 1;
                }
            }
        }
    }
    // A relation whose endpoint an editor deleted cannot be added back without it.
    let will_exist = |id: &str| -> Result<bool, StoreError> {
        Ok(snapshot.entity(id)?.is_some() || batch.put_entities.iter().any(|e| e.id == id))
    };
    let mut dropped = Vec::new();
    for (i, r) in batch.put_relations.iter().enumerate() {
        if !will_exist(&r.from)? || !will_exist(&r.to)? {
            dropped.push(i);
        }
    }
    for i in dropped.into_iter().rev() {
        let r = batch.put_relations.remove(i);
        batch.audit.retain(|a| a.target_id != r.id);
        batch.seeded.retain(|(id, _)| id != &r.id);
        report.relations_added = report.relations_added.saturating_sub(1);
        report.kept_deletions += 1;
    }
    // A read view may hold off commits (sled's does): gone before this one.
    drop(snapshot);
    let committed = if batch.is_empty() { None } else { Some(store.commit_durable(&batch).await?) };
    Ok((report, committed))
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// SHA-256 of a record's JSON: what "the same content" means for provenance.
pub fn digest<T: serde::Serialize>(v: &T) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(serde_json::to_vec(v).unwrap_or_default()).to_vec()
}

/// Counts of entities per kind and relations per kind, for `check`'s summary.
pub fn summary(data: &SeedData) -> String {
    let mut ek: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &data.entities {
        *ek.entry(e.kind.as_str()).or_default() += 1;
    }
    let mut rk: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &data.relations {
        *rk.entry(r.kind.as_str()).or_default() += 1;
    }
    let fmt = |m: BTreeMap<&str, usize>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let docs: HashSet<&str> =
        data.relations.iter().flat_map(|r| r.citations.iter().map(|c| c.document.as_str())).collect();
    format!(
        "{} entities ({}); {} relations ({}); citing {} documents",
        data.entities.len(),
        fmt(ek),
        data.relations.len(),
        fmt(rk),
        docs.len()
    )
}
