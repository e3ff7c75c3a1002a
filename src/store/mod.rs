//! The store: the source of truth, behind one trait so that the rest of the program does not
//! know which engine holds the data.
//!
//! Everything above this module speaks [`Store`] and the neutral types here (a [`WriteBatch`]
//! and what it commits, [`AuditEntry`], [`TokenRecord`], [`Generation`], [`StoreError`]); the
//! engines are in their own modules (`sled`: one process over one directory; `etcd`: any number
//! of processes over one etcd cluster). Nothing outside
//! `store` names an engine, except through [`open`], which turns a `--store` value into one.
//!
//! The contract every backend keeps (and `tests/store_conformance.rs` checks, once per backend):
//! - **Generations.** Every commit gets a generation greater than every earlier one; all records
//!   and audit entries of one commit share it. Generations need not be consecutive.
//! - **Atomic commits with a base.** [`Store::commit`] applies a whole batch or nothing. A batch
//!   with `base: Some(g)` commits only if the store's newest generation is still `g`; otherwise it
//!   fails with [`StoreError::Conflict`], having changed nothing. This is how a plan made against
//!   an index at generation `g` knows that nothing it read has changed since (optimistic
//!   concurrency across processes). Slug uniqueness holds whatever the base.
//! - **Durability.** A committed batch may not be durable yet; [`Store::make_durable`] returns once
//!   it and every earlier one are. Nothing may be acknowledged before that (group commit: one
//!   flush serves every commit made before it started).
//! - **The ordered stream.** [`Store::changes`] yields every committed batch after a generation,
//!   in generation order, once durable, exactly once, then the live ones as they become durable.
//!   It is how the graph index changes, for every backend: the index is a fold of this stream. A
//!   backend that can no longer replay from the asked generation says [`StoreError::Compacted`];
//!   the reader then rebuilds from a fresh [`Store::read`] and streams from its generation.
//! - **Audit.** Each entry gets a `seq`, strictly increasing in commit order (the change feed's
//!   cursor), and its commit's generation.
//! - **Reads.** [`Store::read`] gives a view at one generation; its scans and look-ups block the
//!   calling thread (they are for a start's reader threads and the seed, not for request paths).
//! - **Document texts.** A batch's [`WriteBatch::put_texts`] are written in its commit (a later
//!   text for a file replaces the earlier one; none is ever deleted), read back by
//!   [`Snapshot::document_texts`] and delivered in the [`CommittedBatch`] of the generation that
//!   wrote them. Every backend refuses the same texts ([`DocumentTextRecord::check`]), before
//!   anything of the batch is written, so that what one backend holds another can hold too.

pub mod etcd;
pub mod sled;
mod value;
pub(crate) mod wire;

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::stream::BoxStream;

use crate::domain::{Entity, Relation, RelationView};

/// A store's logical clock: advanced by every commit.
pub type Generation = u64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {target}: {reason}")]
    Open { target: String, reason: String },
    #[error(
        "the store at {target} has format version {found}, but this build of policygraph reads version {expected}; \
         export it with the matching version or start from an empty store"
    )]
    FormatVersion { target: String, found: u32, expected: u32 },
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error("slug `{slug}` is already used by entity `{owner}`")]
    SlugTaken { slug: String, owner: String },
    #[error("a token named `{0}` already exists")]
    TokenExists(String),
    /// The batch was planned against generation `base`, but the store has moved on to `head`.
    #[error("the store changed while the write was planned (planned at generation {base}, now at {head})")]
    Conflict { base: Generation, head: Generation },
    /// The stream cannot start at the asked generation: the history before `available` is gone.
    #[error("the store's history after generation {requested} is no longer kept (it starts at {available})")]
    Compacted { requested: Generation, available: Generation },
    /// The engine failed (I/O, a lost connection, a timeout).
    #[error("storage error: {0}")]
    Backend(String),
    #[error("{0} is not a store this build can open (expected a directory, or etcd://host:port,...)")]
    BadSpec(String),
    /// A document text the store cannot keep (see [`DocumentTextRecord::check`]); the batch
    /// carrying it was not written.
    #[error("the text of document file `{file}` cannot be stored: {reason}")]
    DocumentText { file: String, reason: String },
}

/// What an audit entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Entity,
    Relation,
}

/// A record as an audit entry keeps it: its JSON text, made once from the record and shared by
/// reference count. A bulk import makes an entry per record; as a parsed `serde_json::Value` (a
/// map per record, cloned for the commit's answer and again for its stream, then turned back
/// into text to be stored) the entries took about a sixth of the import's time.
///
/// Invariant: the text is one JSON value (made by `serde_json`, or checked when read).
#[derive(Clone, PartialEq, Eq)]
pub struct RecordJson(Arc<str>);

impl RecordJson {
    /// The record's JSON text. The records written here (entities, relations) always serialize.
    pub fn of<T: serde::Serialize>(record: &T) -> RecordJson {
        RecordJson(serde_json::to_string(record).unwrap_or_else(|_| "null".to_owned()).into())
    }

    /// Text read back from a store, checked to be one JSON value.
    pub fn parse(text: &str) -> Result<RecordJson, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)?;
        Ok(RecordJson(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parsed, for a client that asked for it (the API's `before` and `after`).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }

    /// A top-level string field (`kind`, `slug`, `from`, `to`), without parsing the rest into
    /// values.
    pub fn str_field(&self, name: &str) -> Option<String> {
        let fields: std::collections::HashMap<&str, &serde_json::value::RawValue> =
            serde_json::from_str(&self.0).ok()?;
        serde_json::from_str(fields.get(name)?.get()).ok()
    }
}

impl std::fmt::Debug for RecordJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<serde_json::Value> for RecordJson {
    fn from(v: serde_json::Value) -> RecordJson {
        RecordJson(v.to_string().into())
    }
}

/// As the JSON value it is (not as a string holding it): the format of version-1 stored entries.
impl serde::Serialize for RecordJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for RecordJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RecordJson, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Ok(RecordJson(raw.get().into()))
    }
}

/// One recorded change of one record: who, when, what, before and after.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the global change feed; assigned at commit, strictly increasing.
    #[serde(default)]
    pub seq: u64,
    /// The store generation the change was committed in (several entries share one).
    #[serde(default)]
    pub generation: Generation,
    /// RFC 3339 UTC time of the commit.
    pub at: String,
    /// The token name of the editor, or `seed`.
    pub actor: String,
    /// `create`, `update` or `delete`, or a mutation name for compound changes.
    pub action: String,
    pub target: TargetKind,
    pub target_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<RecordJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<RecordJson>,
    /// On the deletion of an entity merged into another: the survivor's ID. It is what lets a
    /// client holding the old ID be answered with the survivor (`node`, `nodes`, `entity`), and
    /// what tells a service following the change feed where its record went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

impl AuditEntry {
    /// An entry for a batch, before its commit assigns `seq`, `generation` and `at`.
    pub fn pending(
        actor: impl Into<String>,
        action: impl Into<String>,
        target: TargetKind,
        target_id: impl Into<String>,
        before: Option<RecordJson>,
        after: Option<RecordJson>,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            generation: 0,
            at: String::new(),
            actor: actor.into(),
            action: action.into(),
            target,
            target_id: target_id.into(),
            before,
            after,
            merged_into: None,
        }
    }
}

/// What the seed and an import need of an entity or a relation to compare it with the stored
/// one and write its next version.
pub trait Versioned: Clone + PartialEq + serde::Serialize {
    const TARGET: TargetKind;
    fn id(&self) -> &str;
    fn version(&self) -> u64;
    fn with_version(&self, version: u64) -> Self;
}

impl Versioned for Entity {
    const TARGET: TargetKind = TargetKind::Entity;
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn with_version(&self, version: u64) -> Entity {
        Entity { version, ..self.clone() }
    }
}

impl Versioned for Relation {
    const TARGET: TargetKind = TargetKind::Relation;
    fn id(&self) -> &str {
        &self.id
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn with_version(&self, version: u64) -> Relation {
        Relation { version, ..self.clone() }
    }
}

/// A stored API token: its name, role and the SHA-256 of its secret (never the secret).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub role: String,
    /// Hex SHA-256 of the secret.
    pub sha256: String,
    pub created_at: String,
}

/// A set of changes committed together or not at all.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    /// Commit only if the store is still at this generation (see the module documentation).
    pub base: Option<Generation>,
    pub put_entities: Vec<Entity>,
    pub put_relations: Vec<Relation>,
    pub delete_entities: Vec<String>,
    pub delete_relations: Vec<String>,
    /// Recorded with the changes, in the same commit; `seq` and `generation` are assigned.
    pub audit: Vec<AuditEntry>,
    /// Seed provenance: record ID → digest of the seed's version of it.
    pub seeded: Vec<(String, Vec<u8>)>,
    /// Documents' texts by file name (an import's documents): kept in the store so that every
    /// process checks quotes against them and serves them as `Document.text`.
    pub put_texts: Vec<DocumentTextRecord>,
}

/// A document's text as the store keeps it, under the file name its document entity names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocumentTextRecord {
    pub file: String,
    pub text: String,
}

/// The most bytes one document text may take **as stored**: its value (the version byte and
/// the text as a JSON string, so a line break or a quotation mark counts two bytes). The limit
/// is etcd's: one text must fit one etcd transaction, whose request etcd caps at 1.5 MiB
/// (`--max-request-bytes`), beside its key and the commit's own keys; 1 MiB leaves that room
/// with a wide margin. sled could hold more, but every backend refuses the same texts, so that
/// a store can move from one engine to the other. It is measured on the stored bytes, not the
/// text, because the escapes are what etcd sees: a text of line breaks takes twice its size.
pub const MAX_DOCUMENT_TEXT_BYTES: usize = 1024 * 1024;

/// The longest file name a text may be kept under, in bytes: it names a file of the seed's
/// `documents/` directory, and file systems cap a name at 255 bytes. It also keeps an etcd key
/// (the prefix, `x/` and the name) small beside its value.
pub const MAX_DOCUMENT_FILE_BYTES: usize = 255;

impl DocumentTextRecord {
    /// Whether every backend can keep this text: a file name that is not empty and at most
    /// [`MAX_DOCUMENT_FILE_BYTES`], a stored value of at most [`MAX_DOCUMENT_TEXT_BYTES`]. Each
    /// backend checks every text of a batch before writing any of it; an importer may call
    /// this first to name the record at fault.
    pub fn check(&self) -> Result<(), StoreError> {
        let refuse = |reason: String| Err(StoreError::DocumentText { file: self.file.clone(), reason });
        if self.file.is_empty() {
            return refuse("the file name is empty".into());
        }
        if self.file.len() > MAX_DOCUMENT_FILE_BYTES {
            return refuse(format!(
                "the file name takes {} bytes, more than the {MAX_DOCUMENT_FILE_BYTES} a file name may",
                self.file.len()
            ));
        }
        let stored = value::encoded_text_len(&self.text);
        if stored > MAX_DOCUMENT_TEXT_BYTES {
            return refuse(format!(
                "the text takes {stored} bytes as stored (as a JSON string, where a line break or a quotation \
                 mark takes two bytes), more than the limit of {MAX_DOCUMENT_TEXT_BYTES}"
            ));
        }
        Ok(())
    }
}

impl WriteBatch {
    /// Whether committing it would change nothing (the base alone is not a change).
    pub fn is_empty(&self) -> bool {
        self.put_entities.is_empty()
            && self.put_relations.is_empty()
            && self.delete_entities.is_empty()
            && self.delete_relations.is_empty()
            && self.audit.is_empty()
            && self.seeded.is_empty()
            && self.put_texts.is_empty()
    }

    /// Every text of the batch checked ([`DocumentTextRecord::check`]): each backend calls it
    /// before writing anything, so a batch with a text no backend may keep changes nothing.
    fn check_texts(&self) -> Result<(), StoreError> {
        self.put_texts.iter().try_for_each(DocumentTextRecord::check)
    }
}

/// What a commit recorded: its generation and its audit entries as stored.
#[derive(Debug, Clone)]
pub struct Committed {
    pub generation: Generation,
    pub entries: Vec<AuditEntry>,
}

/// One committed batch as the stream delivers it: what the graph index applies, in this order
/// (relation deletions, entity deletions, entity upserts, relation upserts).
#[derive(Debug, Clone, Default)]
pub struct CommittedBatch {
    pub generation: Generation,
    pub put_entities: Vec<Entity>,
    pub put_relations: Vec<Relation>,
    pub delete_entities: Vec<String>,
    pub delete_relations: Vec<String>,
    pub entries: Vec<AuditEntry>,
    /// Document texts written by this batch ([`WriteBatch::put_texts`]).
    pub put_texts: Vec<DocumentTextRecord>,
}

/// The ordered stream of committed batches ([`Store::changes`]).
pub type ChangeStream = BoxStream<'static, Result<Arc<CommittedBatch>, StoreError>>;

/// A range of a backend's ordered keys: the unit a start reads on one thread.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A read of the store at one generation.
///
/// Every method may block the calling thread on I/O.
pub trait Snapshot: Send + Sync {
    fn generation(&self) -> Generation;
    fn entity(&self, id: &str) -> Result<Option<Entity>, StoreError>;
    fn relation(&self, id: &str) -> Result<Option<Relation>, StoreError>;
    /// The digest of a record as the seed last wrote it, if the seed ever wrote it.
    fn seeded_digest(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Key ranges that together cover every entity once, each small enough that a few threads
    /// reading them side by side finish at about the same time.
    fn entity_ranges(&self) -> Result<Vec<KeyRange>, StoreError>;
    fn relation_ranges(&self) -> Result<Vec<KeyRange>, StoreError>;
    /// Hands every entity of `range` to `f`, in key order.
    fn entities_in(&self, range: &KeyRange, f: &mut dyn FnMut(Entity)) -> Result<(), StoreError>;
    /// Hands every relation of `range` to `f`, read in place: a start copies no string it only
    /// looks up.
    fn relations_in(&self, range: &KeyRange, f: &mut dyn FnMut(RelationView<'_>)) -> Result<(), StoreError>;
    /// Every document text the store keeps ([`WriteBatch::put_texts`]).
    fn document_texts(&self) -> Result<Vec<DocumentTextRecord>, StoreError>;
}

/// The source of truth (see the module documentation for the contract).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The engine's name, for logs and `/healthz`.
    fn backend(&self) -> &'static str;

    /// Where the store is, for messages (a directory, or the etcd endpoints).
    fn describe(&self) -> String;

    /// A read at the newest generation.
    async fn read(&self) -> Result<Arc<dyn Snapshot>, StoreError>;

    /// A read that does not hold off commits, for the store's only writer reading only records
    /// that no commit in flight touches (an import over a store its process opened alone, whose
    /// chunks hold distinct records): it may see a commit half applied. `None` where other
    /// processes may write (etcd), or where a read holds off nothing anyway.
    fn sole_writer_read(&self) -> Option<Result<Arc<dyn Snapshot>, StoreError>> {
        None
    }

    /// The newest committed generation.
    async fn head(&self) -> Result<Generation, StoreError>;

    /// Whether the store holds no entity and no relation.
    async fn is_empty(&self) -> Result<bool, StoreError>;

    /// Commits `batch` atomically (see the contract): not yet durable.
    async fn commit(&self, batch: &WriteBatch) -> Result<Committed, StoreError>;

    /// Returns once `generation` and every one before it are durable.
    async fn make_durable(&self, generation: Generation) -> Result<(), StoreError>;

    /// [`Store::commit`] and [`Store::make_durable`].
    async fn commit_durable(&self, batch: &WriteBatch) -> Result<Committed, StoreError> {
        let committed = self.commit(batch).await?;
        self.make_durable(committed.generation).await?;
        Ok(committed)
    }

    /// Every committed batch after generation `after`, in order, then the live ones.
    fn changes(&self, after: Generation) -> Result<ChangeStream, StoreError>;

    /// The change feed: audit entries with `seq` greater than `after`, oldest first, at most `limit`.
    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// The last assigned audit sequence number (0 when nothing was recorded).
    async fn last_seq(&self) -> Result<u64, StoreError>;

    /// The changes of one entity or relation, oldest first.
    async fn history(&self, target_id: &str) -> Result<Vec<AuditEntry>, StoreError>;

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Adds a token, durably; refuses a name already in use.
    async fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError>;

    /// Removes a token, durably; `false` if there was none of that name.
    async fn remove_token(&self, name: &str) -> Result<bool, StoreError>;

    /// How many entities and relations the store held when last counted: a hint for sizing
    /// the index, not a fact; `(0, 0)` when never counted.
    async fn size_hint(&self) -> (usize, usize);

    /// Records the counts for [`Store::size_hint`] (a lost hint costs only time).
    async fn record_size_hint(&self, entities: usize, relations: usize) -> Result<(), StoreError>;

    /// Writes many records into an empty store, in pieces that are each whole but not together
    /// atomic, with no audit entries: for generated data only. Where the engine's stream is
    /// shared (etcd) each piece goes on it as a batch; sled keeps no history of an import (it
    /// would hold the whole import in memory), so a reader following its stream from before
    /// one must rebuild (`Compacted`) — with sled that reader can only be in the importing
    /// process, and `gen-synthetic` runs before any server.
    async fn import(&self, entities: &[Entity], relations: &[Relation]) -> Result<(), StoreError>;

    /// Makes everything written so far durable; called at shutdown.
    async fn flush(&self) -> Result<(), StoreError>;
}

/// Where the data lives, as `--store` (or `--data`) names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory of this machine, held by one process.
    Dir(PathBuf),
    /// An etcd cluster (`etcd://host:port,host:port,...[/prefix]`): its members' client
    /// endpoints and the key prefix of this store in it.
    Etcd { endpoints: Vec<String>, prefix: String },
}

impl Location {
    /// Reads a `--store` value: a directory, or `etcd://host:port,host:port,...` with an
    /// optional `/prefix` for the keys (`pg/` when absent).
    pub fn parse(spec: &str) -> Result<Location, StoreError> {
        let bad = || StoreError::BadSpec(spec.to_string());
        if let Some(rest) = spec.strip_prefix("etcd://") {
            let (hosts, prefix) = match rest.split_once('/') {
                Some((hosts, "")) => (hosts, etcd::DEFAULT_PREFIX.to_string()),
                Some((hosts, prefix)) if prefix.ends_with('/') => (hosts, prefix.to_string()),
                Some((hosts, prefix)) => (hosts, format!("{prefix}/")),
                None => (rest, etcd::DEFAULT_PREFIX.to_string()),
            };
            let endpoints: Vec<String> = hosts.split(',').map(str::trim).map(String::from).collect();
            let valid = |e: &String| {
                e.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            };
            if endpoints.is_empty() || !endpoints.iter().all(valid) {
                return Err(bad());
            }
            return Ok(Location::Etcd { endpoints, prefix });
        }
        if spec.is_empty() || spec.contains("://") {
            return Err(bad());
        }
        Ok(Location::Dir(PathBuf::from(spec)))
    }

    /// The directory beside the store where this process may keep files of its own (the index
    /// snapshot), if there is one. None for etcd: a snapshot there would have to name an etcd
    /// revision still inside etcd's history, which is for later.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        match self {
            Location::Dir(dir) => Some(dir),
            Location::Etcd { .. } => None,
        }
    }
}

/// Options every backend understands.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Megabytes of page cache, where the engine has one.
    pub cache_mb: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Dir(dir) => write!(f, "{}", dir.display()),
            Location::Etcd { endpoints, prefix } => write!(f, "etcd://{}/{prefix}", endpoints.join(",")),
        }
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions { cache_mb: sled::DEFAULT_CACHE_MB }
    }
}

/// Opens the store at `location`.
pub async fn open(location: &Location, options: &OpenOptions) -> Result<Arc<dyn Store>, StoreError> {
    match location {
        Location::Dir(dir) => Ok(Arc::new(sled::SledStore::open_with_cache(dir, options.cache_mb)?)),
        Location::Etcd { endpoints, prefix } => Ok(Arc::new(etcd::EtcdStore::connect(endpoints, prefix).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_spec_is_a_directory_or_an_etcd_cluster() {
        assert_eq!(Location::parse("./data").unwrap(), Location::Dir("./data".into()));
        let etcd = |endpoints: &[&str], prefix: &str| Location::Etcd {
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            prefix: prefix.into(),
        };
        assert_eq!(Location::parse("etcd://10.0.0.1:2379").unwrap(), etcd(&["10.0.0.1:2379"], "pg/"));
        assert_eq!(
            Location::parse("etcd://a:2379,b:2379,c:2379/").unwrap(),
            etcd(&["a:2379", "b:2379", "c:2379"], "pg/")
        );
        assert_eq!(Location::parse("etcd://a:1,b:2/tenant-7").unwrap(), etcd(&["a:1", "b:2"], "tenant-7/"));
        assert_eq!(Location::parse("etcd://a:1/x/").unwrap().to_string(), "etcd://a:1/x/");
        for bad in ["", "etcd://", "etcd://a", "etcd://a:1,", "etcd://:1", "etcd://a:port", "http://a:1", "s3://b"] {
            assert!(matches!(Location::parse(bad), Err(StoreError::BadSpec(_))), "{bad}");
        }
    }

    #[test]
    fn a_text_is_refused_by_its_stored_size_and_its_file_name() {
        let record = |file: &str, text: String| DocumentTextRecord { file: file.into(), text };
        let refused = |r: &DocumentTextRecord, what: &str| match r.check() {
            Err(StoreError::DocumentText { file, reason }) => {
                assert_eq!(file, r.file);
                assert!(reason.contains(what), "{reason}");
            }
            other => panic!("{} ({} bytes): {other:?}", r.file, r.text.len()),
        };
        // The version byte and the two quotation marks around a text with nothing to escape.
        let at_limit = "a".repeat(MAX_DOCUMENT_TEXT_BYTES - 3);
        record("doc.md", at_limit.clone()).check().unwrap();
        refused(&record("doc.md", format!("{at_limit}a")), "more than the limit");
        // Half the limit in line breaks is over it: each is stored as two bytes.
        refused(&record("doc.md", "\n".repeat(MAX_DOCUMENT_TEXT_BYTES / 2)), "as stored");
        record(&"f".repeat(MAX_DOCUMENT_FILE_BYTES), String::new()).check().unwrap();
        refused(&record(&"f".repeat(MAX_DOCUMENT_FILE_BYTES + 1), String::new()), "file name takes");
        refused(&record("", "text".into()), "empty");
    }
}
