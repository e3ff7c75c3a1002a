//! The store's contract (see `src/store/mod.rs`), written once and run against every backend:
//! each check is a function over `Arc<dyn Store>`, and `conformance!` instantiates all of them
//! for one backend's factory. A new backend passes this suite before anything above the trait
//! may use it.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use policygraph::domain::{Entity, Relation, Slug};
use policygraph::store::{
    AuditEntry, ChangeStream, CommittedBatch, DocumentTextRecord, Store, StoreError, TargetKind, TokenRecord,
    WriteBatch, MAX_DOCUMENT_TEXT_BYTES,
};

/// A few linked records from the synthetic generator: distinct IDs and slugs, valid relations.
fn records() -> (Vec<Entity>, Vec<Relation>) {
    policygraph::synthetic::generate(6, 8, 7)
}

fn audit(target: TargetKind, id: &str, action: &str) -> AuditEntry {
    AuditEntry {
        seq: 0,
        generation: 0,
        at: String::new(),
        actor: "conformance".into(),
        action: action.into(),
        target,
        target_id: id.into(),
        before: None,
        after: Some(serde_json::json!({ "id": id }).into()),
        merged_into: None,
    }
}

/// A batch creating `entities` and `relations`, with one audit entry each.
fn creating(entities: &[Entity], relations: &[Relation]) -> WriteBatch {
    let mut audit_entries: Vec<AuditEntry> =
        entities.iter().map(|e| audit(TargetKind::Entity, &e.id, "create")).collect();
    audit_entries.extend(relations.iter().map(|r| audit(TargetKind::Relation, &r.id, "create")));
    WriteBatch {
        put_entities: entities.to_vec(),
        put_relations: relations.to_vec(),
        audit: audit_entries,
        ..WriteBatch::default()
    }
}

async fn commit(store: &dyn Store, batch: &WriteBatch) -> policygraph::store::Committed {
    store.commit_durable(batch).await.expect("the commit succeeds")
}

async fn next(stream: &mut ChangeStream) -> Arc<CommittedBatch> {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a committed batch arrives on the stream within 10 s")
        .expect("the stream goes on")
        .expect("the stream has no error")
}

/// Reads every entity and relation ID of the store through a fresh view's ranges, checking
/// that the ranges cover each record once.
async fn scan_ids(store: &dyn Store) -> (Vec<String>, Vec<String>) {
    let view = store.read().await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut entities = Vec::new();
        for range in view.entity_ranges().unwrap() {
            view.entities_in(&range, &mut |e| entities.push(e.id)).unwrap();
        }
        let mut relations = Vec::new();
        for range in view.relation_ranges().unwrap() {
            view.relations_in(&range, &mut |r| relations.push(r.id.to_string())).unwrap();
        }
        (entities, relations)
    })
    .await
    .unwrap()
}

pub async fn generations_increase_and_audit_entries_are_numbered(store: Arc<dyn Store>) {
    let (es, rs) = records();
    let start = store.head().await.unwrap();
    let seq = store.last_seq().await.unwrap();
    let a = commit(store.as_ref(), &creating(&es[..3], &[])).await;
    // A field only some entries carry (a merge's survivor) is kept with the entry.
    let mut second = creating(&es[3..], &rs[..2]);
    second.audit[0].merged_into = Some(es[0].id.clone());
    let b = commit(store.as_ref(), &second).await;
    assert_eq!(b.entries[0].merged_into.as_deref(), Some(es[0].id.as_str()));
    assert!(a.generation > start && b.generation > a.generation, "{start} {} {}", a.generation, b.generation);
    assert_eq!(store.head().await.unwrap(), b.generation);
    let seqs: Vec<u64> = a.entries.iter().chain(&b.entries).map(|e| e.seq).collect();
    assert_eq!(seqs, ((seq + 1)..=(seq + 8)).collect::<Vec<_>>(), "one seq per entry, in commit order");
    assert!(a.entries.iter().all(|e| e.generation == a.generation && !e.at.is_empty()));
    assert!(b.entries.iter().all(|e| e.generation == b.generation));
    assert_eq!(store.last_seq().await.unwrap(), seq + 8);
    // The feed and the history give back what was recorded.
    let feed = store.changes_after(seq, 100).await.unwrap();
    assert_eq!(feed, a.entries.iter().chain(&b.entries).cloned().collect::<Vec<_>>());
    assert_eq!(store.changes_after(seq + 2, 3).await.unwrap(), feed[2..5].to_vec());
    let history = store.history(&rs[0].id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "create");
    assert!(store.history("no-such-record").await.unwrap().is_empty());
}

pub async fn a_commit_is_whole_and_readable(store: Arc<dyn Store>) {
    assert!(store.is_empty().await.unwrap());
    let (es, rs) = records();
    let mut batch = creating(&es, &rs);
    batch.seeded = vec![(es[0].id.clone(), vec![1, 2, 3])];
    let c = commit(store.as_ref(), &batch).await;
    assert!(!store.is_empty().await.unwrap());
    let view = store.read().await.unwrap();
    assert_eq!(view.generation(), c.generation);
    let (e0, r0, digest, missing) = tokio::task::spawn_blocking({
        let view = view.clone();
        let (e, r) = (es[0].id.clone(), rs[0].id.clone());
        move || {
            (
                view.entity(&e).unwrap(),
                view.relation(&r).unwrap(),
                view.seeded_digest(&e).unwrap(),
                view.entity("nobody").unwrap(),
            )
        }
    })
    .await
    .unwrap();
    drop(view);
    assert_eq!(e0.as_ref(), Some(&es[0]));
    assert_eq!(r0.as_ref(), Some(&rs[0]));
    assert_eq!(digest, Some(vec![1, 2, 3]));
    assert_eq!(missing, None);
    let (mut entity_ids, mut relation_ids) = scan_ids(store.as_ref()).await;
    entity_ids.sort();
    relation_ids.sort();
    let mut want_e: Vec<String> = es.iter().map(|e| e.id.clone()).collect();
    let mut want_r: Vec<String> = rs.iter().map(|r| r.id.clone()).collect();
    want_e.sort();
    want_r.sort();
    assert_eq!(entity_ids, want_e, "every entity once");
    assert_eq!(relation_ids, want_r, "every relation once");
}

pub async fn a_stale_base_changes_nothing(store: Arc<dyn Store>) {
    let (es, _) = records();
    let first = commit(store.as_ref(), &creating(&es[..1], &[])).await;
    let second = commit(store.as_ref(), &creating(&es[1..2], &[])).await;
    let seq = store.last_seq().await.unwrap();
    let mut stale = creating(&es[2..3], &[]);
    stale.base = Some(first.generation);
    match store.commit(&stale).await {
        Err(StoreError::Conflict { base, head }) => {
            assert_eq!((base, head), (first.generation, second.generation));
        }
        other => panic!("a commit on a stale base: {other:?}"),
    }
    assert_eq!(store.head().await.unwrap(), second.generation, "no generation used");
    assert_eq!(store.last_seq().await.unwrap(), seq, "no audit entry");
    let (ids, _) = scan_ids(store.as_ref()).await;
    assert!(!ids.contains(&es[2].id), "nothing of the batch written");
    // On the current base it goes through.
    stale.base = Some(second.generation);
    let third = commit(store.as_ref(), &stale).await;
    assert!(third.generation > second.generation);
}

pub async fn of_two_commits_on_one_base_one_wins(store: Arc<dyn Store>) {
    let (es, _) = records();
    let base = commit(store.as_ref(), &creating(&es[..1], &[])).await.generation;
    let mut a = creating(&es[1..2], &[]);
    let mut b = creating(&es[2..3], &[]);
    a.base = Some(base);
    b.base = Some(base);
    let (ra, rb) = tokio::join!(store.commit(&a), store.commit(&b));
    let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{ra:?} {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    assert!(matches!(loser, Err(StoreError::Conflict { .. })), "{loser:?}");
}

pub async fn slugs_are_unique(store: Arc<dyn Store>) {
    let (es, _) = records();
    commit(store.as_ref(), &creating(&es[..1], &[])).await;
    let head = store.head().await.unwrap();
    let thief = Entity { id: "someone-else".into(), ..es[0].clone() };
    match store.commit(&creating(std::slice::from_ref(&thief), &[])).await {
        Err(StoreError::SlugTaken { slug, owner }) => {
            assert_eq!((slug, owner), (es[0].slug.to_string(), es[0].id.clone()))
        }
        other => panic!("a second entity took a slug: {other:?}"),
    }
    assert_eq!(store.head().await.unwrap(), head);
    // Renaming frees the old slug; deleting frees the new one.
    let renamed = Entity { slug: Slug::parse("renamed-entity").unwrap(), version: 2, ..es[0].clone() };
    commit(store.as_ref(), &creating(&[renamed], &[])).await;
    commit(store.as_ref(), &creating(std::slice::from_ref(&thief), &[])).await;
    let taken = Entity { id: "third".into(), slug: Slug::parse("renamed-entity").unwrap(), ..es[1].clone() };
    assert!(matches!(
        store.commit(&creating(std::slice::from_ref(&taken), &[])).await,
        Err(StoreError::SlugTaken { .. })
    ));
    let delete = WriteBatch { delete_entities: vec![es[0].id.clone()], ..WriteBatch::default() };
    commit(store.as_ref(), &delete).await;
    commit(store.as_ref(), &creating(&[taken], &[])).await;
}

pub async fn the_stream_delivers_durable_batches_in_order(store: Arc<dyn Store>) {
    let (es, rs) = records();
    let start = store.head().await.unwrap();
    let mut stream = store.changes(start).unwrap();
    let a = commit(store.as_ref(), &creating(&es, &[])).await;
    let b = commit(store.as_ref(), &creating(&[], &rs)).await;
    let delete = WriteBatch {
        delete_relations: vec![rs[0].id.clone()],
        audit: vec![audit(TargetKind::Relation, &rs[0].id, "delete")],
        ..WriteBatch::default()
    };
    let c = commit(store.as_ref(), &delete).await;
    let got = [next(&mut stream).await, next(&mut stream).await, next(&mut stream).await];
    assert_eq!(got.iter().map(|b| b.generation).collect::<Vec<_>>(), vec![a.generation, b.generation, c.generation]);
    assert_eq!(got[0].put_entities, es);
    assert_eq!(got[1].put_relations, rs);
    assert_eq!(got[2].delete_relations, vec![rs[0].id.clone()]);
    assert_eq!(got[1].entries, b.entries, "the audit entries as stored");
    // A stream from a point in the past replays from there.
    let mut replay = store.changes(a.generation).unwrap();
    assert_eq!(next(&mut replay).await.generation, b.generation);
    assert_eq!(next(&mut replay).await.generation, c.generation);
    // And goes on with what comes next.
    let d = commit(
        store.as_ref(),
        &creating(&[Entity { id: "late".into(), slug: Slug::parse("late").unwrap(), ..es[0].clone() }], &[]),
    )
    .await;
    assert_eq!(next(&mut replay).await.generation, d.generation);
    assert_eq!(next(&mut stream).await.generation, d.generation);
}

pub async fn tokens_are_kept(store: Arc<dyn Store>) {
    let token = |name: &str| TokenRecord {
        name: name.into(),
        role: "editor".into(),
        sha256: "00".repeat(32),
        created_at: "2026-12-02T00:00:00Z".into(),
    };
    store.add_token(&token("ana")).await.unwrap();
    store.add_token(&token("bo")).await.unwrap();
    assert!(matches!(store.add_token(&token("ana")).await, Err(StoreError::TokenExists(n)) if n == "ana"));
    let mut names: Vec<String> = store.tokens().await.unwrap().into_iter().map(|t| t.name).collect();
    names.sort();
    assert_eq!(names, vec!["ana", "bo"]);
    assert!(store.remove_token("ana").await.unwrap());
    assert!(!store.remove_token("ana").await.unwrap());
    assert_eq!(store.tokens().await.unwrap(), vec![token("bo")]);
}

pub async fn an_import_fills_an_empty_store(store: Arc<dyn Store>) {
    let (es, rs) = policygraph::synthetic::generate(500, 2_000, 5);
    let before = store.head().await.unwrap();
    for chunk in es.chunks(128) {
        store.import(chunk, &[]).await.unwrap();
    }
    for chunk in rs.chunks(300) {
        store.import(&[], chunk).await.unwrap();
    }
    store.flush().await.unwrap();
    assert!(store.head().await.unwrap() > before);
    let (entities, relations) = scan_ids(store.as_ref()).await;
    assert_eq!((entities.len(), relations.len()), (500, 2_000));
    store.record_size_hint(500, 2_000).await.unwrap();
    assert_eq!(store.size_hint().await, (500, 2_000));
}

/// A batch larger than any one engine request (a seed's): every record and audit entry is
/// written, the feed and the stream give back what the commit recorded, in order. A backend may
/// deliver it as several batches on the stream (etcd splits it into transactions).
pub async fn a_large_batch_is_written_whole(store: Arc<dyn Store>) {
    let (es, rs) = policygraph::synthetic::generate(400, 600, 11);
    let start = store.head().await.unwrap();
    let mut stream = store.changes(start).unwrap();
    let mut batch = creating(&es, &rs);
    batch.seeded = es.iter().map(|e| (e.id.clone(), vec![7])).collect();
    batch.base = Some(start);
    let c = commit(store.as_ref(), &batch).await;
    assert_eq!(c.entries.len(), 1_000);
    assert_eq!(c.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=1_000).collect::<Vec<_>>());
    assert!(c.entries.iter().all(|e| e.generation > start && e.generation <= c.generation));
    assert_eq!(store.head().await.unwrap(), c.generation);
    assert_eq!(store.changes_after(0, 2_000).await.unwrap(), c.entries);
    let (entities, relations) = scan_ids(store.as_ref()).await;
    assert_eq!((entities.len(), relations.len()), (400, 600));
    let (mut put_entities, mut put_relations, mut entries) = (Vec::new(), Vec::new(), Vec::new());
    while entries.len() < c.entries.len() {
        let b = next(&mut stream).await;
        assert!(b.generation <= c.generation);
        put_entities.extend(b.put_entities.iter().cloned());
        put_relations.extend(b.put_relations.iter().cloned());
        entries.extend(b.entries.iter().cloned());
    }
    assert_eq!(put_entities, es);
    assert_eq!(put_relations, rs);
    assert_eq!(entries, c.entries);
}

/// More records than one range of a view holds (an etcd view cuts its key space into ranges of
/// at most 16,000 keys): the ranges together give every record once, in key order.
pub async fn a_view_of_many_records_reads_each_once_in_order(store: Arc<dyn Store>) {
    let (es, rs) = policygraph::synthetic::generate(20_000, 40_000, 3);
    for chunk in es.chunks(500) {
        store.import(chunk, &[]).await.unwrap();
    }
    for chunk in rs.chunks(500) {
        store.import(&[], chunk).await.unwrap();
    }
    store.flush().await.unwrap();
    let (entities, relations) = scan_ids(store.as_ref()).await;
    let mut want_entities: Vec<String> = es.into_iter().map(|e| e.id).collect();
    want_entities.sort();
    let mut want_relations: Vec<String> = rs.into_iter().map(|r| r.id).collect();
    want_relations.sort();
    assert!(entities == want_entities, "entities read: {} of {}, or out of order", entities.len(), want_entities.len());
    assert!(
        relations == want_relations,
        "relations read: {} of {}, or out of order",
        relations.len(),
        want_relations.len()
    );
}

async fn texts_of(store: &dyn Store) -> Vec<DocumentTextRecord> {
    let view = store.read().await.unwrap();
    tokio::task::spawn_blocking(move || view.document_texts().unwrap()).await.unwrap()
}

/// Document texts: kept with their batch, read back by a view in file name order, delivered on
/// the stream in the batch that wrote them; a later text for a file replaces it. A text as large
/// as the limit is written (on etcd, alone in a transaction near etcd's request limit), one
/// past it is refused before anything of its batch is written.
pub async fn document_texts_are_kept_and_streamed(store: Arc<dyn Store>) {
    let (es, _) = records();
    let text = |file: &str, text: &str| DocumentTextRecord { file: file.into(), text: text.into() };
    assert!(texts_of(store.as_ref()).await.is_empty());
    let start = store.head().await.unwrap();
    let mut stream = store.changes(start).unwrap();
    // Line breaks, quotation marks and non-ASCII letters come back byte for byte.
    let first = vec![text("b.md", "Second.\n\"Quoted\" \u{e9}t\u{e9}\t\u{1}"), text("a.md", "First.")];
    let mut batch = creating(&es[..1], &[]);
    batch.put_texts = first.clone();
    let a = commit(store.as_ref(), &batch).await;
    assert_eq!(texts_of(store.as_ref()).await, vec![first[1].clone(), first[0].clone()], "every text, by file name");
    let got = next(&mut stream).await;
    assert_eq!(got.generation, a.generation);
    assert_eq!(got.put_entities, es[..1].to_vec(), "the batch's records with its texts");
    let mut streamed = got.put_texts.clone();
    streamed.sort_by(|x, y| x.file.cmp(&y.file));
    assert_eq!(streamed, vec![first[1].clone(), first[0].clone()]);
    // A batch of texts alone; its later text for a file is the one kept, as applied in order.
    let replacing = WriteBatch {
        put_texts: vec![text("a.md", "First, overwritten."), text("a.md", "First, revised.")],
        ..WriteBatch::default()
    };
    let b = commit(store.as_ref(), &replacing).await;
    assert!(b.generation > a.generation);
    assert_eq!(texts_of(store.as_ref()).await, vec![text("a.md", "First, revised."), first[0].clone()]);
    let got = next(&mut stream).await;
    assert_eq!(got.generation, b.generation);
    assert_eq!(got.put_texts.last(), Some(&text("a.md", "First, revised.")), "{:?}", got.put_texts);
    // The largest text there may be: stored, it takes the limit exactly (a version byte and
    // two quotation marks). With entities beside it, a backend that splits must still fit it.
    let largest = text("large.md", &"w".repeat(MAX_DOCUMENT_TEXT_BYTES - 3));
    let mut batch = creating(&es[1..], &[]);
    batch.put_texts = vec![largest.clone()];
    let c = commit(store.as_ref(), &batch).await;
    let mut streamed = Vec::new();
    loop {
        let got = next(&mut stream).await;
        streamed.extend(got.put_texts.iter().cloned());
        if got.generation == c.generation {
            break;
        }
    }
    assert_eq!(streamed, vec![largest.clone()]);
    assert_eq!(texts_of(store.as_ref()).await.iter().find(|t| t.file == "large.md"), Some(&largest));
    // One byte more is refused, and nothing of its batch is written.
    let head = store.head().await.unwrap();
    let seq = store.last_seq().await.unwrap();
    let entity = Entity { id: "not-written".into(), slug: Slug::parse("not-written").unwrap(), ..es[0].clone() };
    let mut batch = creating(&[entity], &[]);
    batch.put_texts = vec![text("fine.md", "fine"), text("huge.md", &"w".repeat(MAX_DOCUMENT_TEXT_BYTES - 2))];
    match store.commit(&batch).await {
        Err(StoreError::DocumentText { file, reason }) => {
            assert_eq!(file, "huge.md");
            assert!(reason.contains(&MAX_DOCUMENT_TEXT_BYTES.to_string()), "{reason}");
        }
        other => panic!("a text over the limit: {:?}", other.map(|c| c.generation)),
    }
    assert_eq!((store.head().await.unwrap(), store.last_seq().await.unwrap()), (head, seq), "nothing committed");
    let files: Vec<String> = texts_of(store.as_ref()).await.into_iter().map(|t| t.file).collect();
    assert_eq!(files, vec!["a.md", "b.md", "large.md"]);
    let (ids, _) = scan_ids(store.as_ref()).await;
    assert!(!ids.contains(&"not-written".to_string()));
}

/// Instantiates every check for one backend: `$make` is an async expression giving a
/// `(Arc<dyn Store>, guard)` over an empty store; the guard lives as long as the test.
#[macro_export]
macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            conformance!(@each $make;
                generations_increase_and_audit_entries_are_numbered,
                a_commit_is_whole_and_readable,
                a_stale_base_changes_nothing,
                of_two_commits_on_one_base_one_wins,
                slugs_are_unique,
                the_stream_delivers_durable_batches_in_order,
                tokens_are_kept,
                an_import_fills_an_empty_store,
                a_large_batch_is_written_whole,
                a_view_of_many_records_reads_each_once_in_order,
                document_texts_are_kept_and_streamed,
            );
        }
    };
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _guard) = $make.await;
                super::$check(store).await;
            }
        )*
    };
}

async fn sled_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = policygraph::store::sled::SledStore::open(dir.path()).unwrap();
    (Arc::new(store), dir)
}

conformance!(sled, sled_store());

async fn etcd_store() -> (Arc<dyn Store>, common::etcd::EtcdCluster) {
    let cluster = common::etcd::EtcdCluster::start().await;
    let store = policygraph::store::etcd::EtcdStore::connect(&cluster.endpoints, "pg/").await.unwrap();
    (Arc::new(store), cluster)
}

conformance!(etcd, etcd_store());
