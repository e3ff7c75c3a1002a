//! The service: the store and the in-memory graph index, kept in step.
//!
//! The store is the truth, and the index is a fold of the store's ordered stream of committed
//! batches ([`Store::changes`]): one task (the applier) takes each batch as it becomes durable,
//! applies it under the index's write lock, records its generation and tells subscribers. That
//! is the only way the index changes after a start, whether the batch was written by this
//! process or, over a shared store, by another. Readers hold a read guard on the index for a
//! whole request, so a request sees one consistent graph.
//!
//! Writes: one writer at a time plans an edit against the index and commits it with the
//! generation it planned on as its base, so a commit made elsewhere meanwhile fails it (a
//! conflict) and it is planned again once the index has caught up. The writer lets the next one
//! in as soon as its commit is made, before it is durable, and waits for the applier to apply it
//! (read-your-writes): so one flush covers every edit committed while the previous flush ran
//! (group commit). A new edit is planned against the index, which does not show this process's
//! own commits still on their way through the stream: when the plan read or wrote anything one
//! of them writes (its [`edit::Footprint`]), or when it failed or changed nothing (which a
//! pending edit might have decided), the writer waits for them to be applied and plans again.
//!
//! If the applier loses its place in the stream (it fell behind what the store keeps, or a batch
//! does not fit the index), it rebuilds the index from a fresh read of the store, tells
//! subscribers what they missed from the audit log, and streams on from the read's generation.
//!
//! A clean shutdown ([`Service::close`]) writes the index as a snapshot beside the store; the
//! next open reads it instead of the store when the store is still at the generation it names.
//! The file on disk is always current or absent: a start that does not use it removes it, and
//! so does the first write after a start that did.
//!
//! Document texts (what quotes are checked against) come from two places: the seed directory
//! this process was given, and the store (an import's documents). The store's are read at a
//! start and at a rebuild, and the applier adds those of each batch it applies, before the
//! batch's generation counts as applied: an edit waiting for an import's generation, on any
//! process, can quote the imported documents. For a file in both, the store's text wins.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use futures_util::StreamExt;
use tokio::sync::{broadcast, watch, Mutex, OwnedRwLockReadGuard, RwLock};

use crate::auth::{self, AuthError, Caller};
use crate::domain::{DocumentTexts, Entity};
use crate::edit::{self, Edit, EditError};
use crate::graph::{GraphError, GraphIndex, PreparedRelation, Resolver};
use crate::seed::{self, SeedData, SeedError, SeedReport};
use crate::store::{
    self, AuditEntry, ChangeStream, CommittedBatch, DocumentTextRecord, Generation, KeyRange, Location, OpenOptions,
    Snapshot, Store, StoreError, TargetKind, TokenRecord,
};

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
    #[error("the store kept changing while the write was planned ({0} attempts); try again")]
    Contended(usize),
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

/// How many times an edit is planned again after a conflict before the caller is told to retry.
const MAX_PLANS: usize = 16;

#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    index: Arc<RwLock<GraphIndex>>,
    /// One writer plans and commits at a time, so that generations follow the plans' order.
    writer: Arc<Mutex<Writer>>,
    /// The index's generation, as the applier sets it.
    applied: watch::Receiver<Generation>,
    changes: broadcast::Sender<Arc<Change>>,
    snapshot: Arc<SnapshotFile>,
    /// The index's size and generation, readable without its lock: `/healthz` and the cost
    /// model must answer while a writer waits for a long read to end.
    stats: Arc<Stats>,
    /// The source documents' texts, which every quote an edit writes must be in: those the
    /// store keeps, the seed's this service applied, and any added with
    /// [`Service::add_document_texts`].
    documents: Arc<std::sync::RwLock<Texts>>,
    /// Tokens as last read from the store (see [`Service::authenticate`]).
    tokens: Arc<Mutex<Option<TokensRead>>>,
    /// Stops the applier and the head watcher when the last clone of the service is gone.
    _tasks: Arc<[AbortOnDrop; 2]>,
}

/// The document texts quotes are checked against, by where they come from.
///
/// For a file in both, the store's text wins: it is the one every process over the store holds
/// whatever seed directory each was started with (so a quote accepted by one is accepted by
/// all), and it was written by an import, after the seed.
#[derive(Default)]
struct Texts {
    /// Given to this process: its seed directory's `documents/`, a seed it applied.
    local: DocumentTexts,
    /// Kept by the store, as of the index's generation (or a little past it while the applier
    /// replays batches the read already showed; it converges as they are applied).
    stored: DocumentTexts,
    /// `local` with `stored` over it: what edits and reads use, kept ready.
    all: DocumentTexts,
}

impl Texts {
    fn add_local(&mut self, texts: &DocumentTexts) {
        self.local = self.local.merged(texts);
        self.all = self.local.merged(&self.stored);
    }

    /// Texts a batch committed (newer than any the store held before for their files).
    fn add_stored(&mut self, texts: &DocumentTexts) {
        self.stored = self.stored.merged(texts);
        self.all = self.all.merged(texts);
    }

    /// Every text the store keeps, as a fresh read found them.
    fn set_stored(&mut self, texts: DocumentTexts) {
        self.stored = texts;
        self.all = self.local.merged(&self.stored);
    }
}

/// Texts as the store keeps them, as the service holds them (for one file, the later wins).
fn texts_from(records: impl IntoIterator<Item = DocumentTextRecord>) -> DocumentTexts {
    DocumentTexts::from_texts(records.into_iter().map(|t| (t.file, t.text)))
}

/// The tokens as read from the store, and when.
type TokensRead = (std::time::Instant, Vec<TokenRecord>);

/// How long a read of the tokens is trusted: a token revoked (or created) through the store is
/// seen by every process within this time, and a request costs no store read otherwise.
const TOKENS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// How often the store's head is read, for `/healthz`.
const HEAD_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// How long the index may stay behind a head it has seen before the service says it is not
/// ready: a write in flight puts it behind for a moment, which is not catching up.
const BEHIND_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// The writer's own state, under its lock.
#[derive(Default)]
struct Writer {
    /// This service's commits the index has not applied yet, oldest first, with what they wrote.
    pending: VecDeque<(Generation, edit::Footprint)>,
    /// This service's newest commit.
    last_commit: Generation,
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What [`Service::stats`] reads: set under the index's write lock each time it changes.
#[derive(Default)]
struct Stats {
    entities: AtomicU64,
    relations: AtomicU64,
    generation: AtomicU64,
    /// The store's newest generation as last read.
    store_head: AtomicU64,
    /// When the index was first seen behind the store's head (ms since `started`), 0 if not.
    behind_since: AtomicU64,
    /// The applier is reading the whole store afresh.
    rebuilding: AtomicBool,
    started: std::sync::OnceLock<std::time::Instant>,
}

impl Stats {
    fn now_ms(&self) -> u64 {
        // Never 0, which means "not behind".
        self.started.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64 + 1
    }

    /// Records the store's head as just read.
    fn saw_head(&self, head: Generation) {
        self.store_head.fetch_max(head, Ordering::AcqRel);
        if self.generation.load(Ordering::Acquire) >= head {
            self.behind_since.store(0, Ordering::Release);
        } else if self.behind_since.load(Ordering::Acquire) == 0 {
            self.behind_since.store(self.now_ms(), Ordering::Release);
        }
    }

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

/// Whether this process is in step with the store, for `/healthz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// The generation the index has applied.
    pub applied: Generation,
    /// The store's newest generation, as last read (at most about half a second old).
    pub store: Generation,
    /// False while the index rebuilds, or has stayed behind the store for a while.
    pub ready: bool,
    pub backend: &'static str,
}

/// How to open a [`Service`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Megabytes of store page cache.
    pub cache_mb: u64,
    /// Whether to start from the index snapshot and write one at [`Service::close`].
    pub index_snapshot: bool,
    /// Where this process keeps its index snapshot when the store has no directory of its own
    /// here (etcd); a directory store keeps it beside its files.
    pub snapshot_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options { cache_mb: crate::store::sled::DEFAULT_CACHE_MB, index_snapshot: true, snapshot_dir: None }
    }
}

/// The index snapshot's file, beside the store's own files in its directory.
const SNAPSHOT_FILE: &str = "index.snapshot";

struct SnapshotFile {
    path: Option<PathBuf>,
    enabled: bool,
    /// The file exists and holds the index as it is now.
    current: AtomicBool,
}

impl SnapshotFile {
    /// Removes the file before the store changes: from then on it would be stale. The
    /// generation check would catch that too; this way a stale file never waits on disk.
    fn invalidate(&self) {
        if self.current.swap(false, Ordering::SeqCst) {
            if let Some(path) = &self.path {
                remove_snapshot(path);
            }
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

impl Service {
    /// Opens the store in the directory `dir` and builds the index from it (or from its snapshot).
    pub async fn open(dir: &Path) -> Result<Service, ServiceError> {
        Service::open_with(dir, &Options::default()).await
    }

    pub async fn open_with(dir: &Path, options: &Options) -> Result<Service, ServiceError> {
        Service::open_at(&Location::Dir(dir.to_path_buf()), options).await
    }

    /// Opens the store at `location` and starts the service over it.
    pub async fn open_at(location: &Location, options: &Options) -> Result<Service, ServiceError> {
        let store = store::open(location, &OpenOptions { cache_mb: options.cache_mb }).await?;
        let dir = location.local_dir().or(options.snapshot_dir.as_deref());
        if let (Some(dir), true) = (dir, options.index_snapshot) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(error = %e, dir = %dir.display(), "no directory for the index snapshot");
            }
        }
        Service::start(store, dir.map(|dir| dir.join(SNAPSHOT_FILE)), options.index_snapshot).await
    }

    /// Builds the index from `store` (or from the snapshot at `snapshot_path`, when it is current)
    /// and starts following the store's stream.
    pub async fn start(
        store: Arc<dyn Store>,
        snapshot_path: Option<PathBuf>,
        index_snapshot: bool,
    ) -> Result<Service, ServiceError> {
        let enabled = index_snapshot && snapshot_path.is_some();
        let from_snapshot = match (&snapshot_path, enabled) {
            (Some(path), true) => read_snapshot(store.as_ref(), path).await?,
            _ => None,
        };
        let head = store.head().await?;
        let current = from_snapshot.as_ref().is_some_and(|index| index.generation() == head);
        let (index, stored_texts) = match from_snapshot {
            // The snapshot holds no texts: read at the head, which may be past the snapshot's
            // generation; the batches in between are replayed, texts and all, and the texts
            // end as the head has them.
            Some(index) => (index, read_texts(store.read().await?).await?),
            None => {
                // Stale, unreadable or not wanted: gone before anything can write.
                if let Some(path) = &snapshot_path {
                    remove_snapshot(path);
                }
                load_index(store.as_ref()).await?
            }
        };
        let mut texts = Texts::default();
        texts.set_stored(stored_texts);
        let documents = Arc::new(std::sync::RwLock::new(texts));
        let snapshot = Arc::new(SnapshotFile { path: snapshot_path, enabled, current: AtomicBool::new(current) });
        // Subscribers that fall more than this far behind miss events (and are told so).
        let (changes, _) = broadcast::channel(4096);
        let stats = Arc::new(Stats::default());
        stats.record(&index);
        let generation = index.generation();
        let stream = store.changes(generation)?;
        let (applied_tx, applied) = watch::channel(generation);
        let index = Arc::new(RwLock::new(index));
        let applier = Applier {
            store: Arc::downgrade(&store),
            index: index.clone(),
            stats: stats.clone(),
            changes: changes.clone(),
            applied: applied_tx,
            snapshot: snapshot.clone(),
            documents: documents.clone(),
            published_seq: store.last_seq().await?,
        };
        let applier = tokio::spawn(applier.run(stream));
        stats.saw_head(generation);
        let watcher = tokio::spawn(watch_head(Arc::downgrade(&store), stats.clone()));
        Ok(Service {
            store,
            index,
            writer: Arc::new(Mutex::new(Writer { pending: VecDeque::new(), last_commit: generation })),
            applied,
            changes,
            snapshot,
            stats,
            documents,
            tokens: Arc::default(),
            _tasks: Arc::new([AbortOnDrop(applier.abort_handle()), AbortOnDrop(watcher.abort_handle())]),
        })
    }

    /// Whether the index came from the snapshot and nothing has been written since.
    pub fn snapshot_is_current(&self) -> bool {
        self.snapshot.current.load(Ordering::SeqCst)
    }

    /// A clean shutdown: waits for this service's edits to be applied, flushes the store, and
    /// writes the index snapshot for the next start (unless the one on disk is current, or
    /// snapshots are off). A snapshot that cannot be written is logged and left out: the next
    /// start reads the store.
    pub async fn close(&self) -> Result<(), ServiceError> {
        let writer = self.writer.lock().await;
        self.wait_applied(writer.last_commit).await?;
        self.store.flush().await?;
        let Some(path) = self.snapshot.path.as_ref().filter(|_| self.snapshot.enabled) else { return Ok(()) };
        if self.snapshot.current.load(Ordering::SeqCst) {
            return Ok(());
        }
        let g = self.index.read().await;
        let generation = g.generation();
        // Over a shared store others may have written since: the snapshot is the store as it was
        // at `generation`, and the next start brings it up to date if the store still can.
        let head = self.store.head().await?;
        if generation > head {
            tracing::warn!(index = generation, store = head, "index ahead of the store; no snapshot written");
            return Ok(());
        }
        let started = std::time::Instant::now();
        match write_snapshot(&g, path) {
            Ok(bytes) => {
                self.snapshot.current.store(true, Ordering::SeqCst);
                let elapsed_ms = started.elapsed().as_millis() as u64;
                tracing::info!(generation, bytes, elapsed_ms, "index snapshot written");
            }
            Err(e) => tracing::warn!(error = %e, "index snapshot not written; the next start reads the store"),
        }
        Ok(())
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The document texts that quotes are checked against.
    pub fn document_texts(&self) -> DocumentTexts {
        self.documents.read().expect("the texts' lock is never poisoned").all.clone()
    }

    /// Adds document texts to check quotes against (a text already added is replaced; one the
    /// store keeps for the same file is not: see the module documentation). A server whose
    /// store was seeded before this start reads them from its seed directory
    /// ([`seed::load_document_texts`]); seeding ([`Service::seed`]) adds the seed's own.
    pub fn add_document_texts(&self, texts: &DocumentTexts) {
        self.documents.write().expect("the texts' lock is never poisoned").add_local(texts);
    }

    /// The index's size and generation without waiting for its lock (as of its last change).
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            entities: self.stats.entities.load(Ordering::Acquire),
            relations: self.stats.relations.load(Ordering::Acquire),
            generation: self.stats.generation.load(Ordering::Acquire),
        }
    }

    /// Whether the index is in step with the store, without waiting for any lock.
    pub fn health(&self) -> Health {
        let s = &self.stats;
        let applied = s.generation.load(Ordering::Acquire);
        let store = s.store_head.load(Ordering::Acquire).max(applied);
        let since = s.behind_since.load(Ordering::Acquire);
        let lagging = applied < store && since != 0 && s.now_ms().saturating_sub(since) > BEHIND_FOR.as_millis() as u64;
        let ready = !s.rebuilding.load(Ordering::Acquire) && !lagging;
        Health { applied, store, ready, backend: self.store.backend() }
    }

    /// A read view of the graph; the applier waits until it is dropped.
    pub async fn read(&self) -> GraphView {
        Arc::new(self.index.clone().read_owned().await)
    }

    /// Returns once the index has applied `generation`.
    async fn wait_applied(&self, generation: Generation) -> Result<(), ServiceError> {
        let mut applied = self.applied.clone();
        applied.wait_for(|g| *g >= generation).await.map(|_| ()).map_err(|_| ServiceError::NotApplied(generation))
    }

    /// Applies validated seed data (adding and correcting, never deleting) and returns once the
    /// index shows it.
    pub async fn seed(&self, data: &SeedData) -> Result<SeedReport, ServiceError> {
        let mut writer = self.writer.lock().await;
        self.wait_applied(writer.last_commit).await?;
        self.snapshot.invalidate();
        for _ in 0..MAX_PLANS {
            match seed::apply(self.store.as_ref(), data).await {
                Ok((report, committed)) => {
                    self.add_document_texts(&data.documents);
                    if let Some(c) = committed {
                        writer.last_commit = writer.last_commit.max(c.generation);
                        self.wait_applied(c.generation).await?;
                    }
                    return Ok(report);
                }
                Err(SeedError::Store(StoreError::Conflict { head, .. })) => self.wait_applied(head).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended(MAX_PLANS))
    }

    /// Validates and commits one edit; once it is durable, it is in the index and subscribers
    /// have been told. See the module documentation for how concurrent edits share a flush.
    pub async fn edit(&self, actor: &str, edit: Edit) -> Result<Applied, ServiceError> {
        let mut writer = self.writer.lock().await;
        let mut plans = 0;
        let (primary, committed) = loop {
            plans += 1;
            if plans > MAX_PLANS {
                return Err(ServiceError::Contended(MAX_PLANS));
            }
            // Read again for each plan: waiting for the index may have brought an import's texts.
            let texts = self.document_texts();
            let g = self.index.read().await;
            let planned = edit::plan(&g, &texts, actor, edit.clone());
            let indexed = g.generation();
            drop(g);
            writer.pending.retain(|(generation, _)| *generation > indexed);
            let must_wait = match &planned {
                _ if writer.pending.is_empty() => false,
                Ok(plan) if !plan.batch.is_empty() => {
                    writer.pending.iter().any(|(_, earlier)| plan.footprint.depends_on(earlier))
                }
                _ => true,
            };
            if must_wait {
                self.wait_applied(writer.last_commit).await?;
                continue;
            }
            let mut plan = planned?;
            if plan.batch.is_empty() {
                return Ok(Applied { generation: indexed, primary: plan.primary, changes: Vec::new() });
            }
            plan.batch.base = Some(indexed.max(writer.last_commit));
            self.snapshot.invalidate();
            match self.store.commit(&plan.batch).await {
                Ok(committed) => {
                    writer.pending.push_back((committed.generation, plan.footprint));
                    writer.last_commit = committed.generation;
                    break (plan.primary, committed);
                }
                // Written elsewhere since the plan's generation: plan again on a caught-up index.
                Err(StoreError::Conflict { head, .. }) => self.wait_applied(head).await?,
                Err(e) => return Err(e.into()),
            }
        };
        drop(writer);
        let generation = committed.generation;
        // On a task of its own: a request dropped halfway (its client went away) must not leave
        // its commit waiting for a flush nobody asks for.
        let store = self.store.clone();
        tokio::spawn(async move { store.make_durable(generation).await })
            .await
            .map_err(|_| ServiceError::NotApplied(generation))??;
        self.wait_applied(generation).await?;
        let changes = committed.entries.into_iter().map(|entry| Arc::new(Change { entry })).collect();
        Ok(Applied { generation, primary, changes })
    }

    /// Commits one chunk of an import (planned against the store at `batch.base`, not against
    /// the index) and returns once it is durable and in the index. It holds the writer's turn
    /// until then, so that an edit planned after it sees it: the chunk has no footprint an
    /// edit's plan could be checked against.
    pub async fn commit_import(&self, batch: crate::store::WriteBatch) -> Result<Generation, ServiceError> {
        let mut writer = self.writer.lock().await;
        self.wait_applied(writer.last_commit).await?;
        self.snapshot.invalidate();
        let committed = self.store.commit(&batch).await?;
        writer.last_commit = writer.last_commit.max(committed.generation);
        self.store.make_durable(committed.generation).await?;
        self.wait_applied(committed.generation).await?;
        Ok(committed.generation)
    }

    /// Every committed change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// The recorded changes of one entity or relation, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(self.store.history(id).await?)
    }

    /// The change feed after `seq`, oldest first.
    pub async fn changes_after(&self, seq: u64, limit: usize) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(self.store.changes_after(seq, limit).await?)
    }

    /// The newest change's `seq`.
    pub async fn last_seq(&self) -> Result<u64, ServiceError> {
        Ok(self.store.last_seq().await?)
    }

    /// The caller a bearer token belongs to. The tokens are read from the store at most once
    /// per [`TOKENS_FRESH_FOR`] for tokens that match, so a revocation takes effect within that
    /// time on every process; a secret that matches none is looked up afresh, so a token just
    /// created works at once.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Caller>, ServiceError> {
        let mut cached = self.tokens.lock().await;
        if let Some((at, tokens)) = cached.as_ref() {
            if at.elapsed() < TOKENS_FRESH_FOR {
                if let Some(caller) = auth::authenticate(tokens, secret) {
                    return Ok(Some(caller));
                }
            }
        }
        let tokens = self.store.tokens().await?;
        let caller = auth::authenticate(&tokens, secret);
        *cached = Some((std::time::Instant::now(), tokens));
        Ok(caller)
    }

    /// Whether the index holds exactly what the store holds (used by tests and `check --store`).
    pub async fn index_matches_store(&self) -> Result<bool, ServiceError> {
        let (fresh, _) = load_index(self.store.as_ref()).await?;
        let index = self.index.read().await;
        Ok(fresh.same_content(&index))
    }

    pub async fn flush(&self) -> Result<(), ServiceError> {
        self.store.flush().await?;
        Ok(())
    }
}

/// The task that folds the store's stream into the index.
struct Applier {
    /// Weak, so that the store closes when the last service over it is gone, which ends the
    /// stream and this task.
    store: Weak<dyn Store>,
    index: Arc<RwLock<GraphIndex>>,
    stats: Arc<Stats>,
    changes: broadcast::Sender<Arc<Change>>,
    applied: watch::Sender<Generation>,
    snapshot: Arc<SnapshotFile>,
    /// The service's texts: the applier adds those of each batch it applies.
    documents: Arc<std::sync::RwLock<Texts>>,
    /// The newest audit entry subscribers have been told about.
    published_seq: u64,
}

impl Applier {
    async fn run(mut self, mut stream: ChangeStream) {
        loop {
            let lost = match self.follow(stream).await {
                Ok(()) => return,
                Err(lost) => lost,
            };
            tracing::warn!(reason = %lost, "the index lost its place in the store's stream; rebuilding it");
            metrics::counter!("index_rebuilds_total").increment(1);
            self.stats.rebuilding.store(true, Ordering::Release);
            stream = loop {
                let Some(store) = self.store.upgrade() else { return };
                match self.rebuild(store.as_ref()).await {
                    Ok(stream) => {
                        self.stats.rebuilding.store(false, Ordering::Release);
                        break stream;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not rebuild the index; trying again in a second");
                        drop(store);
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            };
        }
    }

    /// Applies the stream until it ends (`Ok`: the store is gone) or breaks (`Err`: why).
    async fn follow(&mut self, stream: ChangeStream) -> Result<(), String> {
        // Every batch that is ready is applied under one write lock: a flush publishes several.
        let mut ready = stream.ready_chunks(256);
        while let Some(items) = ready.next().await {
            let mut batches = Vec::with_capacity(items.len());
            let mut broken = None;
            for item in items {
                match item {
                    Ok(batch) => batches.push(batch),
                    Err(e) => {
                        broken = Some(e.to_string());
                        break;
                    }
                }
            }
            self.apply(&batches).await.map_err(|e| format!("a committed batch does not fit the index: {e}"))?;
            if let Some(broken) = broken {
                return Err(broken);
            }
        }
        Ok(())
    }

    async fn apply(&mut self, batches: &[Arc<CommittedBatch>]) -> Result<(), GraphError> {
        let mut g = self.index.write().await;
        let mut applied = Vec::with_capacity(batches.len());
        for batch in batches {
            // Already in the index (a rebuild read it).
            if batch.generation <= g.generation() {
                continue;
            }
            self.snapshot.invalidate();
            apply_batch(&mut g, batch)?;
            g.set_generation(batch.generation);
            applied.push(batch);
        }
        // Before the index's lock is let go: whoever sees the batch's documents sees their texts.
        let texts: Vec<DocumentTextRecord> = applied.iter().flat_map(|b| b.put_texts.iter().cloned()).collect();
        if !texts.is_empty() {
            self.documents.write().expect("the texts' lock is never poisoned").add_stored(&texts_from(texts));
        }
        self.stats.record(&g);
        let generation = g.generation();
        drop(g);
        for batch in applied {
            for entry in &batch.entries {
                self.publish(entry.clone());
            }
        }
        self.applied.send_replace(generation);
        Ok(())
    }

    fn publish(&mut self, entry: AuditEntry) {
        if entry.seq <= self.published_seq {
            return;
        }
        self.published_seq = entry.seq;
        // No subscriber is not an error.
        let _ = self.changes.send(Arc::new(Change { entry }));
    }

    /// Reads the whole store afresh, tells subscribers what the audit log holds that they were
    /// not told, and returns the stream from the read's generation.
    async fn rebuild(&mut self, store: &dyn Store) -> Result<ChangeStream, ServiceError> {
        let (fresh, texts) = load_index(store).await?;
        let generation = fresh.generation();
        let stream = store.changes(generation)?;
        let mut g = self.index.write().await;
        self.snapshot.invalidate();
        *g = fresh;
        self.documents.write().expect("the texts' lock is never poisoned").set_stored(texts);
        self.stats.record(&g);
        drop(g);
        'pages: loop {
            let page = store.changes_after(self.published_seq, 1024).await?;
            if page.is_empty() {
                break;
            }
            for entry in page {
                // Only what the rebuilt index shows; later entries come through the stream.
                if entry.generation > generation {
                    break 'pages;
                }
                self.publish(entry);
            }
        }
        self.applied.send_replace(generation);
        Ok(stream)
    }
}

/// Reads the store's head every [`HEAD_EVERY`], for [`Service::health`]; ends with the store.
async fn watch_head(store: Weak<dyn Store>, stats: Arc<Stats>) {
    loop {
        tokio::time::sleep(HEAD_EVERY).await;
        let Some(store) = store.upgrade() else { return };
        match tokio::time::timeout(HEAD_EVERY, store.head()).await {
            Ok(Ok(head)) => stats.saw_head(head),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not read the store's head"),
            Err(_) => tracing::warn!("the store's head did not come within {HEAD_EVERY:?}"),
        }
    }
}

fn apply_batch(g: &mut GraphIndex, batch: &CommittedBatch) -> Result<(), GraphError> {
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

/// The index from the snapshot at `path`, if there is one and the store can bring it up to date:
/// it was written at the store's generation, or at an older one the store's stream still
/// replays from (etcd keeps a window of history; sled only its present).
async fn read_snapshot(store: &dyn Store, path: &Path) -> Result<Option<GraphIndex>, ServiceError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "index snapshot not readable; loading from the store");
            return Ok(None);
        }
    };
    let started = std::time::Instant::now();
    let head = store.head().await?;
    let usable = |found: Generation| found <= head && store.changes(found).is_ok();
    match GraphIndex::read_snapshot_if(file, usable) {
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

/// Builds the index from a fresh read of the store, on threads of their own, with the texts the
/// store keeps from the same read (so at the index's generation).
async fn load_index(store: &dyn Store) -> Result<(GraphIndex, DocumentTexts), ServiceError> {
    let snapshot = store.read().await?;
    let hint = store.size_hint().await;
    let (index, texts) = tokio::task::spawn_blocking(move || {
        let texts = snapshot.document_texts()?;
        Ok::<_, ServiceError>((build_index(snapshot.as_ref(), hint)?, texts))
    })
    .await
    .map_err(|e| StoreError::Backend(format!("the index build stopped: {e}")))??;
    if (index.entity_count(), index.relation_count()) != hint {
        store.record_size_hint(index.entity_count(), index.relation_count()).await?;
    }
    Ok((index, texts_from(texts)))
}

/// The texts the store keeps, as `snapshot` reads them (off the async threads: its reads block).
async fn read_texts(snapshot: Arc<dyn Snapshot>) -> Result<DocumentTexts, ServiceError> {
    let texts = tokio::task::spawn_blocking(move || snapshot.document_texts())
        .await
        .map_err(|e| StoreError::Backend(format!("the read of the document texts stopped: {e}")))??;
    Ok(texts_from(texts))
}

fn build_index(store: &dyn Snapshot, (entities, relations): (usize, usize)) -> Result<GraphIndex, ServiceError> {
    // Reading the store (its scan and JSON decoding) is two thirds of a start, so two threads
    // read it, each taking the next key range as it finishes one, while a third builds the
    // index. Records stream through short queues in chunks, never as a list of everything,
    // which would double the peak memory of a start at 1M entities. Entities and relations have
    // a queue each: every entity is in place before the first relation is resolved against them.
    // The index does not depend on the order records arrive in (the loaders sort).
    const READERS: usize = 2;
    const CHUNK: usize = 4096;
    type Sender<T> = std::sync::mpsc::SyncSender<Result<Vec<T>, ServiceError>>;
    /// Reads ranges, the next one not yet taken each time, until none is left, sending what
    /// `scan` hands over in chunks. `None` once the reader should stop: after passing on an
    /// error, or when the builder has hung up (it stopped on an error of its own).
    fn read_ranges<T>(
        ranges: &[KeyRange],
        next: &AtomicUsize,
        scan: impl Fn(&KeyRange, &mut dyn FnMut(T)) -> Result<(), ServiceError>,
        tx: Sender<T>,
    ) -> Option<()> {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut hung_up = false;
        while let Some(range) = ranges.get(next.fetch_add(1, Ordering::Relaxed)) {
            let scanned = scan(range, &mut |record| {
                chunk.push(record);
                if chunk.len() == CHUNK && !hung_up {
                    hung_up = tx.send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))).is_err();
                }
                if hung_up {
                    chunk.clear();
                }
            });
            if let Err(e) = scanned {
                let _ = tx.send(Err(e));
                return None;
            }
            if hung_up {
                return None;
            }
        }
        tx.send(Ok(chunk)).ok()
    }
    let started = std::time::Instant::now();
    let mut index = GraphIndex::with_capacity(entities, relations, store.generation());
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
                let entities_in = |r: &KeyRange, f: &mut dyn FnMut(Entity)| Ok(store.entities_in(r, f)?);
                read_ranges(entity_ranges, next_entities, entities_in, tx_e)?;
                let resolver = rx_resolver.recv().ok()?;
                let relations_in = |r: &KeyRange, f: &mut dyn FnMut(PreparedRelation)| {
                    let mut failed = None;
                    store.relations_in(r, &mut |view| match resolver.prepare(view) {
                        Ok(prepared) => f(prepared),
                        Err(e) => {
                            failed.get_or_insert(e);
                        }
                    })?;
                    failed.map_or(Ok(()), |e| Err(ServiceError::Graph(e)))
                };
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
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteBatch;

    fn local(pairs: &[(&str, &str)]) -> DocumentTexts {
        DocumentTexts::from_texts(pairs.iter().map(|(f, t)| (f.to_string(), t.to_string())))
    }

    fn text_of(texts: &DocumentTexts, file: &str) -> Option<String> {
        texts.get(file).map(|t| t.text().to_string())
    }

    #[test]
    fn the_stores_text_wins_whatever_the_order_texts_come_in() {
        let mut texts = Texts::default();
        texts.add_local(&local(&[("a.md", "seed a"), ("b.md", "seed b")]));
        texts.add_stored(&local(&[("a.md", "stored a"), ("c.md", "stored c")]));
        texts.add_local(&local(&[("a.md", "seed a again"), ("b.md", "seed b again")]));
        assert_eq!(text_of(&texts.all, "a.md").as_deref(), Some("stored a"));
        assert_eq!(text_of(&texts.all, "b.md").as_deref(), Some("seed b again"));
        texts.add_stored(&local(&[("a.md", "stored a, later")]));
        assert_eq!(text_of(&texts.all, "a.md").as_deref(), Some("stored a, later"));
        // A fresh read replaces what the store was thought to keep; the local texts stay.
        texts.set_stored(local(&[("c.md", "stored c, reread")]));
        assert_eq!(text_of(&texts.all, "a.md").as_deref(), Some("seed a again"));
        assert_eq!(text_of(&texts.all, "c.md").as_deref(), Some("stored c, reread"));
        assert_eq!(texts.all.len(), 3);
        // For one file in one batch, the later text.
        let batch = texts_from([
            DocumentTextRecord { file: "d.md".into(), text: "first".into() },
            DocumentTextRecord { file: "d.md".into(), text: "second".into() },
        ]);
        assert_eq!(text_of(&batch, "d.md").as_deref(), Some("second"));
    }

    /// Opens the service over `dir`, retrying while the store's lock is still held by a service
    /// just closed.
    async fn open(dir: &Path, options: &Options) -> Service {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Service::open_with(dir, options).await {
                Ok(service) => return service,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("open the store: {e}"),
            }
        }
    }

    /// The texts a batch commits are held once its generation is applied, and after a restart,
    /// from the store or from the index snapshot alike.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn texts_the_store_keeps_are_held_as_applied_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let service = open(dir.path(), &Options::default()).await;
        service.add_document_texts(&local(&[("a.md", "from the seed directory"), ("b.md", "only here")]));
        let batch = WriteBatch {
            put_texts: vec![
                DocumentTextRecord { file: "a.md".into(), text: "imported".into() },
                DocumentTextRecord { file: "c.md".into(), text: "imported too".into() },
            ],
            ..WriteBatch::default()
        };
        let committed = service.store().commit_durable(&batch).await.unwrap();
        service.wait_applied(committed.generation).await.unwrap();
        let texts = service.document_texts();
        assert_eq!(text_of(&texts, "a.md").as_deref(), Some("imported"));
        assert_eq!(text_of(&texts, "b.md").as_deref(), Some("only here"));
        assert_eq!(text_of(&texts, "c.md").as_deref(), Some("imported too"));
        service.close().await.unwrap();
        drop(service);
        for index_snapshot in [true, false] {
            let service = open(dir.path(), &Options { index_snapshot, ..Options::default() }).await;
            assert_eq!(service.snapshot_is_current(), index_snapshot, "the start read the snapshot, or not");
            service.add_document_texts(&local(&[("a.md", "from the seed directory")]));
            let texts = service.document_texts();
            assert_eq!(text_of(&texts, "a.md").as_deref(), Some("imported"), "snapshot: {index_snapshot}");
            assert_eq!(text_of(&texts, "c.md").as_deref(), Some("imported too"), "snapshot: {index_snapshot}");
            assert_eq!(texts.len(), 2);
            service.close().await.unwrap();
        }
    }
}
