//! The seed loader: reads and validates `seed/` (format in `seed/README.md`) and applies it to
//! the store.
//!
//! The records are [`validate`]'s drafts, checked by [`validate::entity`] and
//! [`validate::relation`] under [`Rules::CURATED`]: a record is accepted or refused as an edit or
//! an import of it would be, except that the curated seed must cite what it states. What only
//! the seed knows stays here: a citation names its document by file name, document texts are
//! the files of `documents/`, and a slug or relation ID must not be given twice.
//!
//! Loading is all-or-nothing: every problem in every file is collected and reported with its
//! file, record and field, and nothing is written unless there are none. Applying is
//! idempotent: records equal to what the store holds are not rewritten, so a second run commits
//! nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::{self, DocumentTexts, Entity, EntityKind, FieldError, Relation, Slug};
use crate::store::{AuditEntry, Committed, RecordJson, Store, StoreError, Versioned, WriteBatch};
use crate::validate::{self, DocumentRef, DraftEntity, DraftRelation, QuoteCheck, Rules};

/// One thing wrong with the seed data, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub record: Option<String>,
    pub field: Option<String>,
    pub message: String,
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

/// A file of `entities/`: its records are drafts, checked by [`validate::entity`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityFile {
    #[serde(default)]
    entity: Vec<DraftEntity>,
}

/// A file of `relations/`: its records are drafts, checked by [`validate::relation`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationFile {
    #[serde(default)]
    relation: Vec<DraftRelation>,
}

/// A record as read: its file, its place in it (from 1) and its draft.
struct Record<T> {
    file: String,
    n: usize,
    draft: T,
}

/// Where a problem is: a [`Problem`] waiting for its field and message.
#[derive(Debug, Clone)]
struct At {
    file: String,
    record: String,
}

impl At {
    fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            record: Some(self.record.clone()),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn refusal(&self, e: FieldError) -> Problem {
        self.problem(&e.field, e.error.to_string())
    }
}

/// What the seed's records refer to, known once every entity record is read: the slugs, and the
/// document entities by the file their text is in (seed citations name a document by its file).
#[derive(Default)]
struct SeedIndex {
    /// slug → where it was first given (`file, entity #n`).
    slugs: HashMap<String, String>,
    /// file → the document entity's ID.
    documents: HashMap<String, String>,
    /// file → text, as read from `documents/`.
    texts: Vec<(String, String)>,
}

impl validate::Refs for SeedIndex {
    fn document(&self, reference: &str) -> Option<DocumentRef> {
        self.documents.get(reference).map(|id| DocumentRef { id: id.clone(), file: Some(reference.to_string()) })
    }

    fn entity_exists(&self, id: &str) -> bool {
        self.slugs.contains_key(id)
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
    let mut problems = Vec::new();
    let entity_records = read_records(dir, "entities", |f: EntityFile| f.entity, &mut problems)?;
    let relation_records = read_records(dir, "relations", |f: RelationFile| f.relation, &mut problems)?;
    // Documents and slugs first: citations and endpoints resolve against them.
    let index = index_records(dir, &entity_records, &mut problems);
    let mut quotes = Vec::new();
    let entities = check_entities(entity_records, &index, &mut quotes, &mut problems);
    let relations = check_relations(relation_records, &index, &mut quotes, &mut problems);
    let texts = DocumentTexts::from_texts(index.texts);
    // All of one document's quotes in one pass over its text: one scan per document, not per quote.
    problems.extend(validate::check_quotes(&texts, &quotes).into_iter().map(|(at, e)| at.refusal(e)));
    if problems.is_empty() {
        Ok(SeedData { entities, relations, documents: texts })
    } else {
        Err(SeedError::Invalid(problems))
    }
}

/// Every record of the TOML files in `dir/sub`, in file order; a file that does not parse is a
/// problem of its own.
fn read_records<F: serde::de::DeserializeOwned, T>(
    dir: &Path,
    sub: &str,
    records: impl Fn(F) -> Vec<T>,
    problems: &mut Vec<Problem>,
) -> Result<Vec<Record<T>>, SeedError> {
    let mut out = Vec::new();
    for path in toml_files(&dir.join(sub))? {
        let file = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        match read_toml::<F>(&path) {
            Ok(f) => out.extend(records(f).into_iter().enumerate().map(|(i, draft)| Record {
                file: file.clone(),
                n: i + 1,
                draft,
            })),
            Err(message) => problems.push(Problem { file, record: None, field: None, message }),
        }
    }
    Ok(out)
}

fn entity_at(r: &Record<DraftEntity>) -> At {
    let slug = r.draft.slug.as_deref().map(|s| format!(" `{}`", domain::excerpt(s))).unwrap_or_default();
    At { file: r.file.clone(), record: format!("entity #{}{slug}", r.n) }
}

fn relation_at(r: &Record<DraftRelation>) -> At {
    let d = &r.draft;
    let what = match (&d.id, &d.kind, &d.from, &d.to) {
        (Some(id), ..) => format!(" `{}`", domain::excerpt(id)),
        (None, Some(k), Some(f), Some(t)) => {
            format!(" ({} {} {})", domain::excerpt(f), domain::excerpt(k), domain::excerpt(t))
        }
        _ => String::new(),
    };
    At { file: r.file.clone(), record: format!("relation #{}{what}", r.n) }
}

/// The slugs (each once: a second use is a problem) and the documents with their texts, read
/// from `documents/`. A record's other faults are left to [`check_entities`]: only what the
/// other records need to resolve their references is taken here.
fn index_records(dir: &Path, records: &[Record<DraftEntity>], problems: &mut Vec<Problem>) -> SeedIndex {
    let mut index = SeedIndex::default();
    for r in records {
        let at = entity_at(r);
        let Some(slug) = r.draft.slug.as_deref().and_then(|s| Slug::parse(s.trim()).ok()) else { continue };
        if let Some(first) = index.slugs.insert(slug.to_string(), format!("{}, entity #{}", r.file, r.n)) {
            problems.push(at.problem("slug", format!("duplicate slug `{slug}` (first used in {first})")));
        }
        let is_document = r.draft.kind.as_deref().map(str::trim) == Some(EntityKind::Document.as_str());
        let Some(file) = r.draft.file.as_deref().filter(|_| is_document) else { continue };
        let Ok(file) = domain::file_name("file", file) else { continue };
        match std::fs::read_to_string(dir.join("documents").join(&file)) {
            Ok(text) => {
                if index.documents.insert(file.clone(), slug.to_string()).is_some() {
                    problems.push(at.problem("file", format!("`{file}` is already the file of another document")));
                }
                index.texts.push((file, text));
            }
            Err(e) => problems.push(at.problem("file", format!("cannot read documents/{file}: {e}"))),
        }
    }
    index
}

/// Each entity record checked by the one validation layer under the curated rules.
fn check_entities(
    records: Vec<Record<DraftEntity>>,
    index: &SeedIndex,
    quotes: &mut Vec<(At, QuoteCheck)>,
    problems: &mut Vec<Problem>,
) -> Vec<Entity> {
    let mut entities = Vec::new();
    for r in records {
        let at = entity_at(&r);
        let mut draft = r.draft;
        // The importer's fields: a seed entity's ID is its slug, a document's text its file.
        if draft.id.take().is_some() {
            problems.push(at.problem("id", "not in the seed: an entity's ID is its slug"));
        }
        if draft.text.take().is_some() {
            problems.push(at.problem("text", "not in the seed: a document's text is its file in documents/"));
        }
        match validate::entity(&draft, index, Rules::CURATED) {
            Ok(checked) => {
                quotes.extend(checked.quotes.into_iter().map(|q| (at.clone(), q)));
                entities.push(checked.value);
            }
            Err(errors) => problems.extend(errors.into_iter().map(|e| at.refusal(e))),
        }
    }
    entities
}

/// Each relation record checked by the one validation layer, and no relation ID given twice.
fn check_relations(
    records: Vec<Record<DraftRelation>>,
    index: &SeedIndex,
    quotes: &mut Vec<(At, QuoteCheck)>,
    problems: &mut Vec<Problem>,
) -> Vec<Relation> {
    let mut relations = Vec::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    for r in records {
        let at = relation_at(&r);
        match validate::relation(&r.draft, index, Rules::CURATED) {
            Ok(checked) => {
                let id = &checked.value.id;
                if let Some(first) = ids.insert(id.clone(), format!("{}, relation #{}", r.file, r.n)) {
                    let message = format!(
                        "duplicate relation ID `{id}` (also {first}); give each of them an explicit, distinct `id`"
                    );
                    problems.push(at.problem("id", message));
                    continue;
                }
                quotes.extend(checked.quotes.into_iter().map(|q| (at.clone(), q)));
                relations.push(checked.value);
            }
            Err(errors) => problems.extend(errors.into_iter().map(|e| at.refusal(e))),
        }
    }
    relations
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

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    toml::from_str(&text).map_err(|e| e.to_string().trim_end().replace('\n', "\n    "))
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
    for e in &data.entities {
        let (stored, last_seeded) = (snapshot.entity(&e.id)?, snapshot.seeded_digest(&e.id)?);
        match seed_one(e, stored, last_seeded, &mut batch, |e, b| b.put_entities.push(e)) {
            Seeded::Added => report.entities_added += 1,
            Seeded::Updated => report.entities_updated += 1,
            Seeded::Unchanged => report.unchanged += 1,
            Seeded::KeptEdit => report.kept_edits += 1,
            Seeded::KeptDeletion => report.kept_deletions += 1,
        }
    }
    for r in &data.relations {
        let (stored, last_seeded) = (snapshot.relation(&r.id)?, snapshot.seeded_digest(&r.id)?);
        match seed_one(r, stored, last_seeded, &mut batch, |r, b| b.put_relations.push(r)) {
            Seeded::Added => report.relations_added += 1,
            Seeded::Updated => report.relations_updated += 1,
            Seeded::Unchanged => report.unchanged += 1,
            Seeded::KeptEdit => report.kept_edits += 1,
            Seeded::KeptDeletion => report.kept_deletions += 1,
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

/// SHA-256 of a record's JSON: what "the same content" means for provenance.
/// What the seed does with one of its records.
enum Seeded {
    Added,
    Updated,
    Unchanged,
    KeptEdit,
    KeptDeletion,
}

/// Adds to `batch` what the seed writes of `record`, given the stored record and the digest of
/// what the seed last wrote under its ID (see [`apply`]); `put` puts the record in the batch.
fn seed_one<T: Versioned>(
    record: &T,
    stored: Option<T>,
    last_seeded: Option<Vec<u8>>,
    batch: &mut WriteBatch,
    put: impl FnOnce(T, &mut WriteBatch),
) -> Seeded {
    let new_digest = digest(&record.with_version(0));
    let audit =
        |action: &str, before, after| AuditEntry::pending("seed", action, T::TARGET, record.id(), before, Some(after));
    match (stored, last_seeded) {
        (None, None) => {
            batch.audit.push(audit("create", None, RecordJson::of(record)));
            put(record.clone(), batch);
            batch.seeded.push((record.id().to_string(), new_digest));
            Seeded::Added
        }
        (None, Some(_)) => Seeded::KeptDeletion,
        (Some(old), last_seeded) => {
            let current = digest(&old.with_version(0));
            if current == new_digest {
                if last_seeded.as_deref() != Some(&new_digest[..]) {
                    batch.seeded.push((record.id().to_string(), new_digest));
                }
                Seeded::Unchanged
            } else if last_seeded.as_deref() == Some(&current[..]) {
                let new = record.with_version(old.version() + 1);
                batch.audit.push(audit("update", Some(RecordJson::of(&old)), RecordJson::of(&new)));
                put(new, batch);
                batch.seeded.push((record.id().to_string(), new_digest));
                Seeded::Updated
            } else {
                Seeded::KeptEdit
            }
        }
    }
}

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
