//! The service: the store and the in-memory graph index, kept in step.
//!
//! sled is the truth; the index is derived from it at start and changed only after a write is
//! durable. Readers hold a read guard on the index for a whole request, so a request sees one
//! consistent graph; a writer takes the write lock only to apply already-durable batches.
//!
//! Edits share flushes (group commit). Writers plan and commit one at a time, but each waits for
//! durability after letting the next writer in, so one flush covers every edit committed while
//! the previous flush ran. Edits committed but not yet durable wait in a queue, in commit order;
//! whichever writer's flush finishes first applies every durable one to the index and publishes
//! its changes. A new edit is planned against the index, which does not show the queue: when the
//! plan read or wrote anything a queued edit writes (its [`edit::Footprint`]), or when it failed
//! or changed nothing (which a queued edit might have decided), the writer waits for the queue to
//! drain and plans again. So every edit is planned as if after all the edits before it.
//!
//! A clean shutdown ([`Service::close`]) writes the index as a snapshot beside the store; the
//! next open reads it instead of the store when the store is still at the generation it names.
//! The file on disk is always current or absent: a start that does not use it removes it, and
//! so does the first write after a start that did.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, oneshot, Mutex, OwnedRwLockReadGuard, RwLock};

use crate::auth::{self, AuthError, Caller};
use crate::domain::{DocumentTexts, Entity};
use crate::edit::{self, Edit, EditError};
use crate::graph::{GraphError, GraphIndex, PreparedRelation, Resolver};
use crate::seed::{self, SeedData, SeedError, SeedReport};
use crate::store::{AuditEntry, Committed, KeyRange, Store, StoreError, TargetKind, WriteBatch};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store is inconsistent: {0}")]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the edit was committed in generation {0}, but the graph could not be brought up to date with it")]
    NotApplied(u64),
}

/// One committed change of one record, as subscribers and the change feed see it.
#[derive(Debug, Clone)]
pub struct Change {
    pub entry: AuditEntry,
}

/// The result of an edit: the generation it was committed in and the record to return.
#[derive(Debug, Clone)]
pub struct Applied {
    pub generation: u64,
    pub primary: Option<(TargetKind, String)>,
    pub changes: Vec<Arc<Change>>,
}

/// A consistent view of the graph, held for the length of one request.
pub type GraphView = Arc<OwnedRwLockReadGuard<GraphIndex>>;

#[derive(Clone)]
pub struct Service {
    store: Store,
    index: Arc<RwLock<GraphIndex>>,
    /// Serializes planning and committing, so that generations follow the queue's order.
    writer: Arc<Mutex<()>>,
    /// Edits committed but not yet known durable, oldest first. Drained into the index only by
    /// a holder of the index's write lock, so a holder of a read guard sees it stand still.
    unflushed: Arc<std::sync::Mutex<VecDeque<Unflushed>>>,
    changes: broadcast::Sender<Arc<Change>>,
    snapshot: Arc<Snapshot>,
    /// The index's size and generation, readable without its lock: `/healthz` and the cost
    /// model must answer while a writer waits for a long read to end.
    stats: Arc<Stats>,
    /// The source documents' texts, which every quote an edit writes must be in: those of the
    /// seed this service applied, and any added with [`Service::add_document_texts`].
    documents: Arc<std::sync::RwLock<DocumentTexts>>,
}

/// What [`Service::stats`] reads: set under the index's write lock each time it changes.
#[derive(Default)]
struct Stats {
    entities: AtomicU64,
    relations: AtomicU64,
    generation: AtomicU64,
}

impl Stats {
    fn record(&self, g: &GraphIndex) {
        self.entities.store(g.entity_count() as u64, Ordering::Release);
        self.relations.store(g.relation_count() as u64, Ordering::Release);
        self.generation.store(g.generation(), Ordering::Release);
    }
}

/// The index's size and generation as of its last change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    pub entities: u64,
    pub relations: u64,
    pub generation: u64,
}

/// How to open a [`Service`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Megabytes of store page cache.
    pub cache_mb: u64,
    /// Whether to start from the index snapshot and write one at [`Service::close`].
    pub index_snapshot: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { cache_mb: crate::store::DEFAULT_CACHE_MB, index_snapshot: true }
    }
}

/// The index snapshot's file, beside sled's in the store's directory.
const SNAPSHOT_FILE: &str = "index.snapshot";

struct Snapshot {
    path: PathBuf,
    enabled: bool,
    /// The file exists and holds the index as it is now.
    current: AtomicBool,
}

impl Snapshot {
    /// Removes the file before the store changes: from then on it would be stale. The
    /// generation check would catch that too; this way a stale file never waits on disk.
    fn invalidate(&self) {
        if self.current.swap(false, Ordering::SeqCst) {
            remove_snapshot(&self.path);
        }
    }
}

fn remove_snapshot(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, path = %path.display(), "could not remove the index snapshot"),
    }
}

/// A committed edit waiting for a flush.
struct Unflushed {
    batch: WriteBatch,
    committed: Committed,
    footprint: edit::Footprint,
    /// Where its changes go once it is applied and published.
    done: oneshot::Sender<Vec<Arc<Change>>>,
}

impl Service {
    /// Opens the store in `dir` and builds the index from it (or from its snapshot).
    pub fn open(dir: &Path) -> Result<Service, ServiceError> {
        Service::open_with(dir, &Options::default())
    }

    pub fn open_with(dir: &Path, options: &Options) -> Result<Service, ServiceError> {
        let store = Store::open_with_cache(dir, options.cache_mb)?;
        let path = dir.join(SNAPSHOT_FILE);
        let from_snapshot = if options.index_snapshot { read_snapshot(&store, &path)? } else { None };
        let current = from_snapshot.is_some();
        let index = match from_snapshot {
            Some(index) => index,
            None => {
                // Stale, unreadable or not wanted: gone before anything can write.
                remove_snapshot(&path);
                load_index(&store)?
            }
        };
        let snapshot = Arc::new(Snapshot { path, enabled: options.index_snapshot, current: AtomicBool::new(current) });
        // Subscribers that fall more than this far behind miss events (and are told so).
        let (changes, _) = broadcast::channel(4096);
        let stats = Arc::new(Stats::default());
        stats.record(&index);
        Ok(Service {
            store,
            index: Arc::new(RwLock::new(index)),
            writer: Arc::new(Mutex::new(())),
            unflushed: Arc::default(),
            changes,
            snapshot,
            stats,
            documents: Arc::default(),
        })
    }

    /// Whether the index came from the snapshot and nothing has been written since.
    pub fn snapshot_is_current(&self) -> bool {
        self.snapshot.current.load(Ordering::SeqCst)
    }

    /// A clean shutdown: waits for queued edits, flushes the store, and writes the index
    /// snapshot for the next start (unless the one on disk is current, or snapshots are off).
    /// A snapshot that cannot be written is logged and left out: the next start reads the store.
    pub async fn close(&self) -> Result<(), ServiceError> {
        let _writer = self.writer.lock().await;
        self.settle().await?;
        self.store.flush()?;
        if !self.snapshot.enabled || self.snapshot.current.load(Ordering::SeqCst) {
            return Ok(());
        }
        let g = self.index.read().await;
        let generation = self.store.generation()?;
        if g.generation() != generation {
            tracing::warn!(index = g.generation(), store = generation, "index behind the store; no snapshot written");
            return Ok(());
        }
        let started = std::time::Instant::now();
        match write_snapshot(&g, &self.snapshot.path) {
            Ok(bytes) => {
                self.snapshot.current.store(true, Ordering::SeqCst);
                let elapsed_ms = started.elapsed().as_millis() as u64;
                tracing::info!(generation, bytes, elapsed_ms, "index snapshot written");
            }
            Err(e) => tracing::warn!(error = %e, "index snapshot not written; the next start reads the store"),
        }
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The document texts that quotes are checked against.
    pub fn document_texts(&self) -> DocumentTexts {
        self.documents.read().expect("the texts' lock is never poisoned").clone()
    }

    /// Adds document texts to check quotes against (a text already there is replaced). A server
    /// whose store was seeded before this start reads them from its seed directory
    /// ([`seed::load_document_texts`]); seeding ([`Service::seed`]) adds the seed's own.
    pub fn add_document_texts(&self, texts: &DocumentTexts) {
        let mut documents = self.documents.write().expect("the texts' lock is never poisoned");
        *documents = documents.merged(texts);
    }

    /// The index's size and generation without waiting for its lock (as of its last change).
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            entities: self.stats.entities.load(Ordering::Acquire),
            relations: self.stats.relations.load(Ordering::Acquire),
            generation: self.stats.generation.load(Ordering::Acquire),
        }
    }

    /// A read view of the graph; writes wait until it is dropped.
    pub async fn read(&self) -> GraphView {
        Arc::new(self.index.clone().read_owned().await)
    }

    /// Applies validated seed data (adding and correcting, never deleting), then brings the index
    /// up to date with what was committed.
    pub async fn seed(&self, data: &SeedData) -> Result<SeedReport, ServiceError> {
        let _writer = self.writer.lock().await;
        self.settle().await?;
        let seq_before = self.store.last_seq()?;
        self.snapshot.invalidate();
        let report = seed::apply(&self.store, data).await?;
        self.add_document_texts(&data.documents);
        if report.changed() {
            // A seed touches many records at once; rebuilding is simpler than replaying and it
            // happens once at start or on an explicit `seed`.
            let fresh = load_index(&self.store)?;
            let mut g = self.index.write().await;
            *g = fresh;
            self.stats.record(&g);
            drop(g);
            self.publish_since(seq_before)?;
        }
        Ok(report)
    }

    /// Validates and commits one edit; once it is durable, it is in the index and subscribers
    /// have been told. See the module documentation for how concurrent edits share a flush.
    pub async fn edit(&self, actor: &str, edit: Edit) -> Result<Applied, ServiceError> {
        let writer = self.writer.lock().await;
        let texts = self.document_texts();
        let plan = loop {
            let g = self.index.read().await;
            let planned = edit::plan(&g, &texts, actor, edit.clone());
            // Read under the index's read guard, so the queue is the one the plan did not see.
            let must_wait = {
                let waiting = self.unflushed.lock().expect("the queue's lock is never poisoned");
                match &planned {
                    _ if waiting.is_empty() => false,
                    Ok(plan) if !plan.batch.is_empty() => {
                        waiting.iter().any(|u| plan.footprint.depends_on(&u.footprint))
                    }
                    _ => true,
                }
            };
            drop(g);
            if !must_wait {
                break planned?;
            }
            // Nothing can join the queue while the writer lock is held: once drained, it stays so.
            self.settle().await?;
        };
        if plan.batch.is_empty() {
            let generation = self.index.read().await.generation();
            return Ok(Applied { generation, primary: plan.primary, changes: Vec::new() });
        }
        self.snapshot.invalidate();
        let committed = self.store.commit_unflushed(&plan.batch)?;
        let generation = committed.generation;
        let (done, applied) = oneshot::channel();
        self.unflushed.lock().expect("the queue's lock is never poisoned").push_back(Unflushed {
            batch: plan.batch,
            committed,
            footprint: plan.footprint,
            done,
        });
        drop(writer);
        // On a task of its own: a request dropped halfway (its client went away) must not leave
        // its committed edit in the queue, out of the index until some later write.
        let service = self.clone();
        tokio::spawn(async move {
            service.store.make_durable(generation).await?;
            service.catch_up(generation).await
        })
        .await
        .map_err(|_| ServiceError::NotApplied(generation))??;
        // `catch_up` has applied every queued edit up to this one, by this writer or another.
        let changes = applied.await.map_err(|_| ServiceError::NotApplied(generation))?;
        Ok(Applied { generation, primary: plan.primary, changes })
    }

    /// Applies every queued edit up to `generation`, which the caller knows to be durable, to the
    /// index, in order, and publishes their changes.
    async fn catch_up(&self, generation: u64) -> Result<(), ServiceError> {
        let mut g = self.index.write().await;
        let mut queue = self.unflushed.lock().expect("the queue's lock is never poisoned");
        while queue.front().is_some_and(|u| u.committed.generation <= generation) {
            let Some(u) = queue.pop_front() else { break };
            if let Err(e) = apply_batch(&mut g, &u.batch) {
                // Cannot happen for a batch planned against this index; if it does, the store
                // is the truth and the index is rebuilt from it, with every queued edit.
                tracing::error!(error = %e, "index disagreed with a committed batch; rebuilding it");
                self.store.flush()?;
                *g = load_index(&self.store)?;
                self.stats.record(&g);
                for u in std::iter::once(u).chain(queue.drain(..)) {
                    self.publish(u);
                }
                return Ok(());
            }
            g.set_generation(u.committed.generation);
            self.stats.record(&g);
            self.publish(u);
        }
        Ok(())
    }

    fn publish(&self, u: Unflushed) {
        let changes: Vec<Arc<Change>> =
            u.committed.entries.into_iter().map(|entry| Arc::new(Change { entry })).collect();
        for change in &changes {
            // No subscriber is not an error.
            let _ = self.changes.send(change.clone());
        }
        // The writer may have given up (its flush failed); the change stands all the same.
        let _ = u.done.send(changes);
    }

    /// Waits until every queued edit is durable and applied. Called with the writer lock held.
    async fn settle(&self) -> Result<(), ServiceError> {
        let last =
            self.unflushed.lock().expect("the queue's lock is never poisoned").back().map(|u| u.committed.generation);
        if let Some(last) = last {
            self.store.make_durable(last).await?;
            self.catch_up(last).await?;
        }
        Ok(())
    }

    fn publish_since(&self, seq_before: u64) -> Result<Vec<Arc<Change>>, ServiceError> {
        let mut out = Vec::new();
        let mut after = seq_before;
        loop {
            let page = self.store.changes_after(after, 1024)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in page {
                let change = Arc::new(Change { entry });
                // No subscriber is not an error.
                let _ = self.changes.send(change.clone());
                out.push(change);
            }
        }
        Ok(out)
    }

    /// Every committed change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// The recorded changes of one entity or relation, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(self.store.history(id)?)
    }

    /// The change feed after `seq`, oldest first.
    pub fn changes_after(&self, seq: u64, limit: usize) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(self.store.changes_after(seq, limit)?)
    }

    /// The newest change's `seq`.
    pub fn last_seq(&self) -> Result<u64, ServiceError> {
        Ok(self.store.last_seq()?)
    }

    /// The caller a bearer token belongs to.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Caller>, ServiceError> {
        Ok(auth::authenticate(&self.store, secret)?)
    }

    /// Whether the index holds exactly what the store holds (used by tests and `check --store`).
    pub async fn index_matches_store(&self) -> Result<bool, ServiceError> {
        let fresh = load_index(&self.store)?;
        let index = self.index.read().await;
        Ok(fresh.same_content(&index))
    }

    pub fn flush(&self) -> Result<(), ServiceError> {
        self.store.flush()?;
        Ok(())
    }
}

fn apply_batch(g: &mut GraphIndex, batch: &WriteBatch) -> Result<(), GraphError> {
    for id in &batch.delete_relations {
        g.remove_relation(id);
    }
    for id in &batch.delete_entities {
        g.remove_entity(id);
    }
    for e in &batch.put_entities {
        g.upsert_entity(e.clone());
    }
    for r in &batch.put_relations {
        g.upsert_relation(r.clone())?;
    }
    Ok(())
}

/// The index from the snapshot at `path`, if there is one and the store is at its generation.
fn read_snapshot(store: &Store, path: &Path) -> Result<Option<GraphIndex>, ServiceError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "index snapshot not readable; loading from the store");
            return Ok(None);
        }
    };
    let started = std::time::Instant::now();
    match GraphIndex::read_snapshot(file, store.generation()?) {
        Ok(index) => {
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let (entities, relations) = (index.entity_count(), index.relation_count());
            tracing::info!(entities, relations, elapsed_ms, "index loaded from its snapshot");
            Ok(Some(index))
        }
        Err(e) => {
            tracing::warn!(error = %e, "index snapshot not used; loading from the store");
            Ok(None)
        }
    }
}

/// Writes the snapshot to a temporary file, makes it durable, then renames it into place, so
/// that `path` only ever holds a whole snapshot. The size in bytes.
fn write_snapshot(g: &GraphIndex, path: &Path) -> std::io::Result<u64> {
    let tmp = path.with_extension("partial");
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        g.write_snapshot(&mut file).map_err(std::io::Error::other)?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(bytes)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn load_index(store: &Store) -> Result<GraphIndex, ServiceError> {
    // Reading the store (sled's scan and JSON decoding) is two thirds of a start, so two threads
    // read it, each taking the next key range as it finishes one, while a third builds the
    // index. Records stream through short queues in chunks, never as a list of everything,
    // which would double the peak memory of a start at 1M entities. Entities and relations have
    // a queue each: every entity is in place before the first relation is resolved against them.
    // The index does not depend on the order records arrive in (the loaders sort).
    const READERS: usize = 2;
    const CHUNK: usize = 4096;
    type Sender<T> = std::sync::mpsc::SyncSender<Result<Vec<T>, ServiceError>>;
    /// Sends `records` in chunks; `None` once the reader should stop: after passing on an
    /// error, or when the builder has hung up (it stopped on an error of its own).
    fn send_chunks<T>(records: impl Iterator<Item = Result<T, ServiceError>>, tx: &Sender<T>) -> Option<()> {
        let mut chunk = Vec::with_capacity(CHUNK);
        for record in records {
            match record {
                Ok(record) => chunk.push(record),
                Err(err) => {
                    let _ = tx.send(Err(err));
                    return None;
                }
            }
            if chunk.len() == CHUNK {
                tx.send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))).ok()?;
            }
        }
        tx.send(Ok(chunk)).ok()
    }
    /// Reads ranges, the next one not yet taken each time, until none is left.
    fn read_ranges<T, I: Iterator<Item = Result<T, ServiceError>>>(
        ranges: &[KeyRange],
        next: &AtomicUsize,
        read: impl Fn(&KeyRange) -> I,
        tx: Sender<T>,
    ) -> Option<()> {
        loop {
            let Some(range) = ranges.get(next.fetch_add(1, Ordering::Relaxed)) else { return Some(()) };
            send_chunks(read(range), &tx)?;
        }
    }
    let started = std::time::Instant::now();
    let (entities, relations) = store.size_hint();
    let mut index = GraphIndex::with_capacity(entities, relations, store.generation()?);
    let (entity_ranges, relation_ranges) = (store.entity_ranges()?, store.relation_ranges()?);
    let (next_entities, next_relations) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        let (tx_e, rx_e) = std::sync::mpsc::sync_channel::<Result<Vec<Entity>, ServiceError>>(8);
        let (tx_r, rx_r) = std::sync::mpsc::sync_channel::<Result<Vec<PreparedRelation>, ServiceError>>(8);
        let mut resolvers = Vec::new();
        let mut readers = Vec::new();
        for _ in 0..READERS {
            let (tx_e, tx_r) = (tx_e.clone(), tx_r.clone());
            let (entity_ranges, relation_ranges) = (&entity_ranges, &relation_ranges);
            let (next_entities, next_relations) = (&next_entities, &next_relations);
            // A relation is resolved against the entities: a reader gets the resolver once every
            // entity is in.
            let (tx_resolver, rx_resolver) = std::sync::mpsc::sync_channel::<Resolver>(1);
            resolvers.push(tx_resolver);
            readers.push(scope.spawn(move || {
                let entities_in = |r: &KeyRange| store.entities_in(r).map(|e| e.map_err(ServiceError::from));
                read_ranges(entity_ranges, next_entities, entities_in, tx_e)?;
                let resolver = rx_resolver.recv().ok()?;
                let relations_in = |r: &KeyRange| store.relations_in(r, |view| resolver.prepare(view)).map(|p| Ok(p??));
                read_ranges(relation_ranges, next_relations, relations_in, tx_r)
            }));
        }
        // Only the readers' copies: each queue closes when the last reader is done with it.
        drop((tx_e, tx_r));
        let mut loader = index.load_entities();
        for chunk in rx_e {
            chunk?.into_iter().for_each(|e| loader.add(e));
        }
        loader.finish();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(entities = index.entity_count(), elapsed_ms, "entities loaded");
        let mut loader = index.load_relations();
        loader.reserve(relations);
        for tx in resolvers {
            // A reader that stopped on an error has hung up; its error is in the queue.
            let _ = tx.send(loader.resolver());
        }
        for chunk in rx_r {
            chunk?.into_iter().for_each(|r| loader.add(r));
        }
        // The readers have finished (the queues are closed); a panic there is a bug, not bad
        // data. Joined before `finish`, so that their resolvers are gone.
        for reader in readers {
            reader.join().expect("a store reader thread panicked");
        }
        loader.finish();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(relations = index.relation_count(), elapsed_ms, "relations loaded");
        Ok::<(), ServiceError>(())
    })?;
    if (index.entity_count(), index.relation_count()) != (entities, relations) {
        store.record_size_hint(index.entity_count(), index.relation_count())?;
    }
    Ok(index)
}
