//! The sled backend: one process over one directory.
//!
//! Owns the on-disk layout (trees, keys, value encoding, format version) and the write path:
//! every commit is one serializable sled transaction across all the trees it touches, made
//! durable by a flush (one at a time, covering every commit made before it started: group
//! commit). Committed batches wait in a queue until a flush covers them, and are then put on the
//! stream in generation order; the last [`RECENT`] of them are kept for a reader that asks to
//! replay from a little way back.
//!
//! sled has no read snapshots: a [`Store::read`] view holds off commits until it is dropped,
//! which is what makes it a read at one generation. Views are for a start and a rebuild, never
//! held across a commit by the same task.
//!
//! Layout (format version 2; see `value` for what the format version says and how a store of
//! format 1 is opened):
//! - `meta`: `format_version` → u32 BE; `generation` → u64 BE (advanced by every commit);
//!   `audit_seq` → u64 BE; `size_hint` → two u64 BE.
//! - `entities`: entity ID → encoded [`Entity`].
//! - `relations`: relation ID → encoded [`Relation`].
//! - `slugs`: slug → entity ID (a unique index).
//! - `audit`: sequence number (u64 BE) → encoded [`AuditEntry`]; one per changed record.
//! - `audit_by_target`: target ID, 0x00, sequence number (u64 BE) → empty; the history index.
//! - `tokens`: token name → encoded [`TokenRecord`] (only the SHA-256 of the secret).
//! - `seeded`: record ID → SHA-256 of the record as the seed last wrote it; how a re-seed tells
//!   records edited through the API (which it leaves alone) from untouched ones.
//! - `texts`: a document's file name → its text, encoded as a JSON string (an import's
//!   documents). Added after format version 1 was fixed, without a new version: a store
//!   written before has no `texts` tree, which reads as no texts, and nothing else changed
//!   meaning. A new build opening an old store creates the tree empty.
//!
//! Values are one version byte followed by the record: binary (version 2) when written by this
//! build, JSON (version 1) when written before it and not since; both are read (`value`).

use std::collections::VecDeque;
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ::sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use tokio::sync::broadcast;

use super::value::{decode, decode_text, decode_u64, encode, encode_text, opens_format, FORMAT_VERSION};
use super::{
    AuditEntry, ChangeStream, Committed, CommittedBatch, DocumentTextRecord, Generation, KeyRange, Snapshot, Store,
    StoreError, TokenRecord, WriteBatch,
};
use crate::domain::{Entity, Relation, RelationView};

/// sled's page cache, in megabytes, unless asked otherwise. sled's own default is 1 GiB; the
/// graph index holds the hot data, so the cache serves writes and history. Measured at 1M
/// entities: sled held 467 MB after a start's full scan with 128 MB of cache and 273 MB with
/// 16 MB, scanning in the same 9.1 s; a start's peak was 1,915 MiB with 32 MB, 1,978 with 64 and
/// 2,079 with 128, and durable mutations ran at the same rate with each (about 2,300/s).
pub const DEFAULT_CACHE_MB: u64 = 32;

/// How many published batches are kept for a stream that starts a little way back.
const RECENT: usize = 1024;
/// And how many records they may hold together: an import's batches are large (a thousand
/// records each), and a thousand of them kept would hold a gigabyte.
const RECENT_RECORDS: usize = 65_536;

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> StoreError {
        StoreError::Backend(e.to_string())
    }
}

#[derive(Clone)]
struct Trees {
    meta: ::sled::Tree,
    entities: ::sled::Tree,
    relations: ::sled::Tree,
    slugs: ::sled::Tree,
    audit: ::sled::Tree,
    audit_by_target: ::sled::Tree,
    tokens: ::sled::Tree,
    seeded: ::sled::Tree,
    texts: ::sled::Tree,
}

pub struct SledStore {
    path: String,
    db: ::sled::Db,
    t: Trees,
    /// Held by every commit, and by a read view for as long as it lives.
    commit_gate: Arc<tokio::sync::Mutex<()>>,
    /// The newest generation committed, durable or not.
    committed: AtomicU64,
    /// The newest generation known durable; its lock lets one flush run at a time.
    durable: tokio::sync::Mutex<Generation>,
    stream: std::sync::Mutex<Published>,
    live: broadcast::Sender<Arc<CommittedBatch>>,
}

/// The stream's side of the store.
struct Published {
    /// Committed, not yet durable, oldest first.
    waiting: VecDeque<Arc<CommittedBatch>>,
    /// The last batches put on the stream, oldest first.
    recent: VecDeque<Arc<CommittedBatch>>,
    /// `recent` holds every published batch after this generation.
    floor: Generation,
    /// Records (puts and deletions) in `recent`.
    recent_records: usize,
}

fn records_of(b: &CommittedBatch) -> usize {
    b.put_entities.len() + b.put_relations.len() + b.delete_entities.len() + b.delete_relations.len()
}

impl SledStore {
    /// Opens (or creates) the store in `dir` with the default page cache, refusing a store
    /// written in another format.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// [`SledStore::open`] with `cache_mb` megabytes of sled page cache.
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<SledStore, StoreError> {
        let path = dir.display().to_string();
        let db = ::sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb * 1024 * 1024)
            .mode(::sled::Mode::HighThroughput)
            .open()
            .map_err(|e| StoreError::Open { target: path.clone(), reason: e.to_string() })?;
        let meta = db.open_tree("meta")?;
        match meta.get("format_version")? {
            Some(v) => {
                let found = u32::from_be_bytes(
                    v.as_ref().try_into().map_err(|_| StoreError::Corrupt("format_version is not 4 bytes".into()))?,
                );
                if !opens_format(found) {
                    return Err(StoreError::FormatVersion { target: path, found, expected: FORMAT_VERSION });
                }
                if found < FORMAT_VERSION {
                    // Raised, durably, before anything can be written in the new format: from
                    // here on an older build refuses the store instead of misreading it.
                    meta.insert("format_version", &FORMAT_VERSION.to_be_bytes())?;
                    db.flush()?;
                }
            }
            None => {
                // No version: either a new directory, or data we did not write (another program's
                // sled database, or a store from before versioning) that we must not reinterpret.
                let mut has_data = !db.is_empty();
                for name in db.tree_names() {
                    if name.as_ref() != b"__sled__default" && name.as_ref() != b"meta" {
                        has_data |= !db.open_tree(name)?.is_empty();
                    }
                }
                if has_data {
                    return Err(StoreError::FormatVersion { target: path, found: 0, expected: FORMAT_VERSION });
                }
                meta.insert("format_version", &FORMAT_VERSION.to_be_bytes())?;
                db.flush()?;
            }
        }
        let generation = match meta.get("generation")? {
            Some(v) => decode_u64(&v)?,
            None => 0,
        };
        let t = Trees {
            entities: db.open_tree("entities")?,
            relations: db.open_tree("relations")?,
            slugs: db.open_tree("slugs")?,
            audit: db.open_tree("audit")?,
            audit_by_target: db.open_tree("audit_by_target")?,
            tokens: db.open_tree("tokens")?,
            seeded: db.open_tree("seeded")?,
            texts: db.open_tree("texts")?,
            meta,
        };
        let (live, _) = broadcast::channel(RECENT);
        Ok(SledStore {
            path,
            db,
            t,
            commit_gate: Arc::default(),
            committed: AtomicU64::new(generation),
            durable: tokio::sync::Mutex::new(generation),
            stream: std::sync::Mutex::new(Published {
                waiting: VecDeque::new(),
                recent: VecDeque::new(),
                recent_records: 0,
                floor: generation,
            }),
            live,
        })
    }

    fn generation(&self) -> Result<Generation, StoreError> {
        Ok(self.t.meta.get("generation")?.map(|v| decode_u64(&v)).transpose()?.unwrap_or(0))
    }

    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }

    fn published(&self) -> std::sync::MutexGuard<'_, Published> {
        self.stream.lock().expect("the stream's lock is never poisoned")
    }

    /// Puts every waiting batch up to `generation` (now durable) on the stream, in order.
    fn publish_until(&self, generation: Generation) {
        let mut p = self.published();
        while p.waiting.front().is_some_and(|b| b.generation <= generation) {
            let Some(batch) = p.waiting.pop_front() else { break };
            p.recent_records += records_of(&batch);
            p.recent.push_back(batch.clone());
            while p.recent.len() > RECENT || (p.recent.len() > 1 && p.recent_records > RECENT_RECORDS) {
                let Some(old) = p.recent.pop_front() else { break };
                p.recent_records -= records_of(&old);
                p.floor = old.generation;
            }
            // No reader is not an error.
            let _ = self.live.send(batch);
        }
    }

    fn transact(&self, batch: &WriteBatch) -> Result<Committed, StoreError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let encoded_entities: Vec<(&Entity, Vec<u8>)> = batch.put_entities.iter().map(|e| (e, encode(e))).collect();
        let encoded_relations: Vec<(&Relation, Vec<u8>)> = batch.put_relations.iter().map(|r| (r, encode(r))).collect();
        // Encoded once, outside the closure sled may run again on a conflict (a text is up to 1 MiB).
        let encoded_texts: Vec<(&str, Vec<u8>)> =
            batch.put_texts.iter().map(|t| (t.file.as_str(), encode_text(&t.text))).collect();
        let t = &self.t;
        let trees = (&t.meta, &t.entities, &t.relations, &t.slugs, &t.audit, &t.audit_by_target, &t.seeded, &t.texts);
        let result = trees.transaction(|(meta, entities, relations, slugs, audit, audit_by_target, seeded, texts)| {
            let head = match meta.get("generation")? {
                Some(v) => decode_u64(&v).map_err(ConflictableTransactionError::Abort)?,
                None => 0,
            };
            if let Some(base) = batch.base {
                if base != head {
                    return Err(ConflictableTransactionError::Abort(StoreError::Conflict { base, head }));
                }
            }
            for id in &batch.delete_relations {
                relations.remove(id.as_bytes())?;
            }
            for id in &batch.delete_entities {
                if let Some(old) = entities.remove(id.as_bytes())? {
                    let old: Entity = decode(&old).map_err(ConflictableTransactionError::Abort)?;
                    slugs.remove(old.slug.as_str().as_bytes())?;
                }
            }
            for (e, bytes) in &encoded_entities {
                if let Some(old) = entities.insert(e.id.as_bytes(), bytes.as_slice())? {
                    let old: Entity = decode(&old).map_err(ConflictableTransactionError::Abort)?;
                    if old.slug != e.slug {
                        slugs.remove(old.slug.as_str().as_bytes())?;
                    }
                }
                if let Some(owner) = slugs.insert(e.slug.as_str().as_bytes(), e.id.as_bytes())? {
                    if owner.as_ref() != e.id.as_bytes() {
                        return Err(ConflictableTransactionError::Abort(StoreError::SlugTaken {
                            slug: e.slug.to_string(),
                            owner: String::from_utf8_lossy(&owner).into_owned(),
                        }));
                    }
                }
            }
            for (r, bytes) in &encoded_relations {
                relations.insert(r.id.as_bytes(), bytes.as_slice())?;
            }
            let generation = head + 1;
            meta.insert("generation", &generation.to_be_bytes())?;
            let mut seq = match meta.get("audit_seq")? {
                Some(v) => decode_u64(&v).map_err(ConflictableTransactionError::Abort)?,
                None => 0,
            };
            let mut entries = Vec::with_capacity(batch.audit.len());
            for entry in &batch.audit {
                seq += 1;
                let mut entry = entry.clone();
                entry.seq = seq;
                entry.generation = generation;
                if entry.at.is_empty() {
                    entry.at = now.clone();
                }
                audit.insert(&seq.to_be_bytes(), encode(&entry))?;
                audit_by_target.insert(history_key(&entry.target_id, seq), &[])?;
                entries.push(entry);
            }
            meta.insert("audit_seq", &seq.to_be_bytes())?;
            for (id, digest) in &batch.seeded {
                seeded.insert(id.as_bytes(), digest.as_slice())?;
            }
            // In batch order: a later text for the same file replaces an earlier one.
            for (file, bytes) in &encoded_texts {
                texts.insert(file.as_bytes(), bytes.as_slice())?;
            }
            Ok(Committed { generation, entries })
        });
        match result {
            Ok(c) => Ok(c),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }
}

/// A read view; holds off commits while it lives (see the module documentation).
struct SledSnapshot {
    t: Trees,
    generation: Generation,
    /// `None` for [`Store::sole_writer_read`].
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Snapshot for SledSnapshot {
    /// In file name order (byte order).
    fn document_texts(&self) -> Result<Vec<DocumentTextRecord>, StoreError> {
        let mut out = Vec::with_capacity(self.t.texts.len());
        for r in self.t.texts.iter() {
            let (file, value) = r?;
            let file = String::from_utf8(file.to_vec())
                .map_err(|_| StoreError::Corrupt("a document text's file name is not UTF-8".into()))?;
            out.push(DocumentTextRecord { file, text: decode_text(&value)? });
        }
        Ok(out)
    }

    fn generation(&self) -> Generation {
        self.generation
    }

    fn entity(&self, id: &str) -> Result<Option<Entity>, StoreError> {
        self.t.entities.get(id)?.map(|v| decode(&v)).transpose()
    }

    fn relation(&self, id: &str) -> Result<Option<Relation>, StoreError> {
        self.t.relations.get(id)?.map(|v| decode(&v)).transpose()
    }

    fn seeded_digest(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.t.seeded.get(id.as_bytes())?.map(|v| v.to_vec()))
    }

    fn entity_ranges(&self) -> Result<Vec<KeyRange>, StoreError> {
        key_ranges(&self.t.entities)
    }

    fn relation_ranges(&self) -> Result<Vec<KeyRange>, StoreError> {
        key_ranges(&self.t.relations)
    }

    fn entities_in(&self, range: &KeyRange, f: &mut dyn FnMut(Entity)) -> Result<(), StoreError> {
        for r in self.t.entities.range(range.clone()) {
            f(decode(&r?.1)?);
        }
        Ok(())
    }

    fn relations_in(&self, range: &KeyRange, f: &mut dyn FnMut(RelationView<'_>)) -> Result<(), StoreError> {
        for r in self.t.relations.range(range.clone()) {
            let (_, value) = r?;
            f(decode(&value)?);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for SledStore {
    fn backend(&self) -> &'static str {
        "sled"
    }

    fn describe(&self) -> String {
        self.path.clone()
    }

    async fn read(&self) -> Result<Arc<dyn Snapshot>, StoreError> {
        let gate = self.commit_gate.clone().lock_owned().await;
        Ok(Arc::new(SledSnapshot { t: self.t.clone(), generation: self.generation()?, _gate: Some(gate) }))
    }

    /// sled locks its directory: the process that opened the store is its only writer.
    fn sole_writer_read(&self) -> Option<Result<Arc<dyn Snapshot>, StoreError>> {
        let snapshot = self.generation().map(|generation| SledSnapshot { t: self.t.clone(), generation, _gate: None });
        Some(snapshot.map(|s| Arc::new(s) as Arc<dyn Snapshot>))
    }

    async fn head(&self) -> Result<Generation, StoreError> {
        self.generation()
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.t.entities.is_empty() && self.t.relations.is_empty())
    }

    /// Slug uniqueness and the base are checked inside the transaction, so two concurrent
    /// writers cannot both take a slug or both build on one generation. The flush happens in
    /// [`Store::make_durable`] (sled deadlocks if a transaction flushes).
    async fn commit(&self, batch: &WriteBatch) -> Result<Committed, StoreError> {
        batch.check_texts()?;
        let _gate = self.commit_gate.lock().await;
        let committed = self.transact(batch)?;
        let queued = Arc::new(CommittedBatch {
            generation: committed.generation,
            put_entities: batch.put_entities.clone(),
            put_relations: batch.put_relations.clone(),
            put_texts: batch.put_texts.clone(),
            delete_entities: batch.delete_entities.clone(),
            delete_relations: batch.delete_relations.clone(),
            entries: committed.entries.clone(),
        });
        // Queued before the generation is announced: a flush that covers the generation finds
        // the batch waiting and publishes it.
        self.published().waiting.push_back(queued);
        self.committed.fetch_max(committed.generation, Ordering::AcqRel);
        metrics::counter!("store_commits_total").increment(1);
        Ok(committed)
    }

    /// One flush runs at a time, and it covers every commit made before it started: writers
    /// that waited behind it usually find their commit already durable and return without a
    /// flush of their own. One at a time also matters for sled itself: its flushes hold a lock
    /// a transaction must wait for while they wait for a write on sled's small thread pool, so
    /// a pool filled with waiting flushes never writes anything (a deadlock, seen with 16).
    async fn make_durable(&self, generation: Generation) -> Result<(), StoreError> {
        let mut durable = self.durable.lock().await;
        if *durable >= generation {
            return Ok(());
        }
        let target = self.committed.load(Ordering::Acquire);
        let started = std::time::Instant::now();
        self.db.flush_async().await?;
        // Commits over flushes is how many writers a flush served.
        metrics::counter!("store_flushes_total").increment(1);
        metrics::histogram!("store_flush_seconds").record(started.elapsed().as_secs_f64());
        *durable = target;
        self.publish_until(target);
        Ok(())
    }

    fn changes(&self, after: Generation) -> Result<ChangeStream, StoreError> {
        let p = self.published();
        if after < p.floor {
            return Err(StoreError::Compacted { requested: after, available: p.floor });
        }
        let replay: Vec<Arc<CommittedBatch>> = p.recent.iter().filter(|b| b.generation > after).cloned().collect();
        // Subscribed under the same lock as publishing: nothing falls between the two.
        let rx = self.live.subscribe();
        drop(p);
        let last = replay.last().map(|b| b.generation).unwrap_or(after);
        let live = futures_util::stream::unfold(Some((rx, last)), |state| async move {
            let (mut rx, last) = state?;
            loop {
                match rx.recv().await {
                    // Already replayed.
                    Ok(b) if b.generation <= last => continue,
                    Ok(b) => {
                        let g = b.generation;
                        return Some((Ok(b), Some((rx, g))));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // The reader fell too far behind: it rebuilds and starts again.
                        let err = StoreError::Compacted { requested: last, available: last + 1 };
                        return Some((Err(err), None));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        use futures_util::StreamExt;
        Ok(futures_util::stream::iter(replay.into_iter().map(Ok)).chain(live).boxed())
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let start = after.saturating_add(1).to_be_bytes();
        self.t.audit.range(start..).take(limit).map(|r| decode(&r?.1)).collect()
    }

    async fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self.t.meta.get("audit_seq")?.map(|v| decode_u64(&v)).transpose()?.unwrap_or(0))
    }

    async fn history(&self, target_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let mut prefix = target_id.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for key in self.t.audit_by_target.scan_prefix(&prefix).keys() {
            let key = key?;
            let seq = &key[prefix.len()..];
            if let Some(v) = self.t.audit.get(seq)? {
                out.push(decode(&v)?);
            }
        }
        Ok(out)
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.t.tokens.iter().map(|r| decode(&r?.1)).collect()
    }

    async fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let done = self.t.tokens.compare_and_swap(token.name.as_bytes(), None as Option<&[u8]>, Some(encode(token)))?;
        if done.is_err() {
            return Err(StoreError::TokenExists(token.name.clone()));
        }
        self.db.flush_async().await?;
        Ok(())
    }

    async fn remove_token(&self, name: &str) -> Result<bool, StoreError> {
        let existed = self.t.tokens.remove(name.as_bytes())?.is_some();
        self.db.flush_async().await?;
        Ok(existed)
    }

    async fn size_hint(&self) -> (usize, usize) {
        match self.t.meta.get("size_hint").ok().flatten() {
            Some(v) if v.len() == 16 => {
                let (a, b) = v.split_at(8);
                let n = |x: &[u8]| u64::from_be_bytes(x.try_into().unwrap_or_default()) as usize;
                (n(a), n(b))
            }
            _ => (0, 0),
        }
    }

    async fn record_size_hint(&self, entities: usize, relations: usize) -> Result<(), StoreError> {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&(entities as u64).to_be_bytes());
        v[8..].copy_from_slice(&(relations as u64).to_be_bytes());
        self.t.meta.insert("size_hint", &v)?;
        Ok(())
    }

    /// Plain inserts, not `apply_batch`: measured on 200k entities / 1M relations, sled 0.34's
    /// batches peaked at 4.3 GB of RSS against 0.8 GB for inserts, and took twice as long.
    async fn import(&self, entities: &[Entity], relations: &[Relation]) -> Result<(), StoreError> {
        let _gate = self.commit_gate.lock().await;
        for x in entities {
            self.t.entities.insert(x.id.as_bytes(), encode(x))?;
            self.t.slugs.insert(x.slug.as_str().as_bytes(), x.id.as_bytes())?;
        }
        for x in relations {
            self.t.relations.insert(x.id.as_bytes(), encode(x))?;
        }
        let (e, r) = self.size_hint().await;
        self.record_size_hint(e + entities.len(), r + relations.len()).await?;
        let generation = self.generation()? + 1;
        self.t.meta.insert("generation", &generation.to_be_bytes())?;
        self.committed.fetch_max(generation, Ordering::AcqRel);
        // Nothing of an import goes on the stream: a reader from before it must rebuild.
        {
            let mut p = self.published();
            p.recent.clear();
            p.recent_records = 0;
            p.floor = generation;
        }
        // Flushed as it goes, so that sled's dirty pages do not pile up in memory.
        self.db.flush_async().await?;
        *self.durable.lock().await = generation;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}

/// Splits a tree's keys into ranges by the byte after the common prefix of each range's first
/// and last keys, again within each range until there are enough of them. Only the ends of
/// ranges are read (a B-tree descent each), not the keys in between. The split is by key
/// spelling, not by count, so ranges differ in size; there are enough of them to even out.
fn key_ranges(tree: &::sled::Tree) -> Result<Vec<KeyRange>, StoreError> {
    const ENOUGH: usize = 16;
    let mut ranges: Vec<KeyRange> = vec![(Unbounded, Unbounded)];
    for _ in 0..3 {
        if ranges.len() >= ENOUGH {
            break;
        }
        let mut finer = Vec::with_capacity(ranges.len() * 10);
        for range in ranges {
            let mut keys = tree.range(range.clone()).keys();
            let (Some(first), Some(last)) = (keys.next().transpose()?, keys.next_back().transpose()?) else {
                // Empty, or a single key: nothing to split.
                finer.push(range);
                continue;
            };
            let p = first.iter().zip(last.iter()).take_while(|(a, b)| a == b).count();
            // `first` < `last`, so `last` has a byte at `p`; `first` may have ended there.
            let (lo, hi) = (first.get(p).copied().unwrap_or(0), last[p]);
            let mut start = range.0;
            for c in lo.saturating_add(1)..=hi {
                let mut split = last[..p].to_vec();
                split.push(c);
                finer.push((start, Excluded(split.clone())));
                start = Included(split);
            }
            finer.push((start, range.1));
        }
        ranges = finer;
    }
    Ok(ranges)
}

fn history_key(target_id: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(target_id.len() + 9);
    k.extend_from_slice(target_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store written before texts were kept has no `texts` tree: it opens as it is, in the
    /// same format version, with no texts, and keeps the ones committed from then on.
    #[test]
    fn a_store_from_before_texts_opens_and_keeps_texts() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = ::sled::Config::new().path(dir.path()).open().unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert("format_version", &1u32.to_be_bytes()).unwrap();
            meta.insert("generation", &7u64.to_be_bytes()).unwrap();
            db.open_tree("entities").unwrap().insert("x", b"\x01\"not read here\"".as_slice()).unwrap();
            db.flush().unwrap();
            assert!(!db.tree_names().iter().any(|n| n.as_ref() == b"texts"));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            // sled's flusher thread lets go of the first handle's file lock a moment after it
            // is dropped: wait for it, as a restarting server would.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let store = loop {
                match SledStore::open(dir.path()) {
                    Ok(s) => break s,
                    Err(e) if e.to_string().contains("lock") && std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => panic!("the old store does not open: {e}"),
                }
            };
            assert_eq!(store.read().await.unwrap().document_texts().unwrap(), vec![]);
            let text = DocumentTextRecord { file: "a.md".into(), text: "kept".into() };
            let batch = WriteBatch { put_texts: vec![text.clone()], ..WriteBatch::default() };
            let committed = store.commit_durable(&batch).await.unwrap();
            assert_eq!(committed.generation, 8);
            assert_eq!(store.read().await.unwrap().document_texts().unwrap(), vec![text]);
            // Opening it raised its format: a build that reads only version-1 values refuses it.
            let format = store.t.meta.get("format_version").unwrap().unwrap();
            assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
        });
    }

    /// The import's read beside its own commits: a gated view alive here would make the
    /// commit wait forever.
    #[test]
    fn a_sole_writer_read_does_not_hold_off_commits() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let store = SledStore::open(dir.path()).unwrap();
            let read = store.sole_writer_read().expect("sled has one").unwrap();
            let text = DocumentTextRecord { file: "a.md".into(), text: "kept".into() };
            let batch = WriteBatch { put_texts: vec![text.clone()], ..WriteBatch::default() };
            let wait = std::time::Duration::from_secs(10);
            let committed = tokio::time::timeout(wait, store.commit_durable(&batch)).await;
            let committed = committed.expect("the commit waited for the read").unwrap();
            assert_eq!(committed.generation, read.generation() + 1);
            // It reads the store as it is, not at its generation.
            assert_eq!(read.document_texts().unwrap(), vec![text]);
        });
    }

    #[test]
    fn key_ranges_cover_every_key_once_in_order() {
        let db = ::sled::Config::new().temporary(true).open().unwrap();
        let cases: Vec<Vec<String>> = vec![
            vec![],
            vec!["only".into()],
            vec!["a".into(), "ab".into()],
            (0..5_000).map(|i| format!("r{i}")).collect(),
            (0..3_000).map(|i| format!("{:x}", i * 7919 % 65_521)).collect(),
            vec!["iom".into(), "iom-geneva".into(), "joe-biden".into(), "\u{e9}t\u{e9}".into(), "z".into()],
        ];
        for keys in cases {
            let tree = db.open_tree("t").unwrap();
            tree.clear().unwrap();
            for k in &keys {
                tree.insert(k.as_bytes(), k.as_bytes()).unwrap();
            }
            let ranges = key_ranges(&tree).unwrap();
            let mut seen: Vec<Vec<u8>> = Vec::new();
            for r in &ranges {
                seen.extend(tree.range(r.clone()).keys().map(|k| k.unwrap().to_vec()));
            }
            let all: Vec<Vec<u8>> = tree.iter().keys().map(|k| k.unwrap().to_vec()).collect();
            assert_eq!(seen, all, "ranges {ranges:?}");
            if keys.len() >= 3_000 {
                assert!(ranges.len() >= 16, "{} ranges", ranges.len());
                let largest = ranges.iter().map(|r| tree.range(r.clone()).count()).max().unwrap();
                assert!(largest <= keys.len() / 8, "largest range {largest} of {}", keys.len());
            }
        }
    }
}
