//! The service: the store and the in-memory graph index, kept in step.
//!
//! sled is the truth; the index is derived from it at start and changed only after a write has
//! committed. Readers hold a read guard on the index for a whole request, so a request sees one
//! consistent graph; a writer takes the write lock only to apply an already-committed batch.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, Mutex, OwnedRwLockReadGuard, RwLock};

use crate::auth::{self, AuthError, Caller};
use crate::domain::Entity;
use crate::edit::{self, Edit, EditError};
use crate::graph::{GraphError, GraphIndex, PreparedRelation, Resolver};
use crate::seed::{self, SeedData, SeedError, SeedReport};
use crate::store::{AuditEntry, KeyRange, Store, StoreError, TargetKind, WriteBatch};

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
    /// Serializes writers so that the index applies batches in commit order.
    writer: Arc<Mutex<()>>,
    changes: broadcast::Sender<Arc<Change>>,
}

impl Service {
    /// Opens the store in `dir` and builds the index from it.
    pub fn open(dir: &Path) -> Result<Service, ServiceError> {
        Service::open_with_cache(dir, crate::store::DEFAULT_CACHE_MB)
    }

    /// [`Service::open`] with `cache_mb` megabytes of store page cache.
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Service, ServiceError> {
        let store = Store::open_with_cache(dir, cache_mb)?;
        let index = load_index(&store)?;
        // Subscribers that fall more than this far behind miss events (and are told so).
        let (changes, _) = broadcast::channel(4096);
        Ok(Service { store, index: Arc::new(RwLock::new(index)), writer: Arc::new(Mutex::new(())), changes })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A read view of the graph; writes wait until it is dropped.
    pub async fn read(&self) -> GraphView {
        Arc::new(self.index.clone().read_owned().await)
    }

    /// Applies validated seed data (adding and correcting, never deleting), then brings the index
    /// up to date with what was committed.
    pub async fn seed(&self, data: &SeedData) -> Result<SeedReport, ServiceError> {
        let _writer = self.writer.lock().await;
        let seq_before = self.store.last_seq()?;
        let report = seed::apply(&self.store, data).await?;
        if report.changed() {
            // A seed touches many records at once; rebuilding is simpler than replaying and it
            // happens once at start or on an explicit `seed`.
            let fresh = load_index(&self.store)?;
            *self.index.write().await = fresh;
            self.publish_since(seq_before)?;
        }
        Ok(report)
    }

    /// Validates and commits one edit, then applies it to the index and tells subscribers.
    ///
    /// Writers are serialized; the plan is made against the index, which equals the store while
    /// the writer lock is held. The index changes only after the commit is durable, under its
    /// write lock, so a reader sees the graph before or after an edit, never half of it.
    pub async fn edit(&self, actor: &str, edit: Edit) -> Result<Applied, ServiceError> {
        let _writer = self.writer.lock().await;
        let plan = {
            let g = self.index.read().await;
            edit::plan(&g, actor, edit)?
        };
        if plan.batch.is_empty() {
            let generation = self.index.read().await.generation();
            return Ok(Applied { generation, primary: plan.primary, changes: Vec::new() });
        }
        let seq_before = self.store.last_seq()?;
        let generation = self.store.commit(&plan.batch).await?;
        {
            let mut g = self.index.write().await;
            if let Err(e) = apply_batch(&mut g, &plan.batch) {
                // Cannot happen for a batch planned against this index; if it does, the store
                // (already committed) is the truth and the index is rebuilt from it.
                tracing::error!(error = %e, "index disagreed with a committed batch; rebuilding it");
                *g = load_index(&self.store)?;
            }
            g.set_generation(generation);
        }
        let changes = self.publish_since(seq_before)?;
        Ok(Applied { generation, primary: plan.primary, changes })
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
