//! The index snapshot over restarts of the real server: a clean stop writes it, the next start
//! reads it instead of the store, the first write removes it, and a stale or damaged one is
//! never used (the start reads the store and the answers are the store's).

use crate::common::{mini_seed, TestServer};
use policygraph::auth::Role;
use serde_json::json;

const STATE: &str =
    r#"{ stats { entities relations generation } entity(slug: "exo") { name aliases relations { totalCount } } }"#;

#[tokio::test]
async fn a_clean_stop_writes_the_snapshot_and_only_a_current_one_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.snapshot");
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    assert!(!s.service.snapshot_is_current());
    let seeded = s.data(STATE, json!({})).await;
    s.stop().await;
    assert!(file.is_file(), "a clean stop writes the snapshot");

    // Read back: same answers, and the index is the store's.
    let s = TestServer::start(dir.path(), None).await;
    assert!(s.service.snapshot_is_current(), "the start read the snapshot");
    assert_eq!(s.data(STATE, json!({})).await, seeded);
    assert!(s.service.index_matches_store().await.unwrap());
    let stale = std::fs::read(&file).unwrap();

    // The first write removes it; the next clean stop writes a new one.
    let editor = s.token("ed", Role::Editor).await;
    let body = s
        .query_as(
            &editor,
            r#"mutation { addAlias(input: { id: "exo", alias: "Snapshot Alias" }) { entity { version } } }"#,
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(!file.exists(), "a write removes the snapshot");
    assert!(!s.service.snapshot_is_current());
    let edited = s.data(STATE, json!({})).await;
    assert_ne!(edited, seeded);
    s.stop().await;
    assert!(file.is_file());
    assert_ne!(std::fs::read(&file).unwrap(), stale);

    // An older snapshot put back (the store has moved on) is refused and removed.
    std::fs::write(&file, &stale).unwrap();
    let s = TestServer::start(dir.path(), None).await;
    assert!(!s.service.snapshot_is_current(), "a stale snapshot was read");
    assert!(!file.exists(), "a stale snapshot stays on disk");
    assert_eq!(s.data(STATE, json!({})).await, edited);
    let d = s.data(r#"{ search(query: "snapshot alias") { slug } }"#, json!({})).await;
    assert_eq!(d["search"][0]["slug"], "exo");
    s.stop().await;

    // A damaged one (one flipped bit) is refused too.
    let mut damaged = std::fs::read(&file).unwrap();
    let at = damaged.len() * 2 / 3;
    damaged[at] ^= 0x01;
    std::fs::write(&file, &damaged).unwrap();
    let s = TestServer::start(dir.path(), None).await;
    assert!(!s.service.snapshot_is_current(), "a damaged snapshot was read");
    assert!(!file.exists());
    assert_eq!(s.data(STATE, json!({})).await, edited);
    assert!(s.service.index_matches_store().await.unwrap());
    s.stop().await;

    // Snapshots off: none is read, and a stop writes none.
    let options = policygraph::service::Options { index_snapshot: false, ..Default::default() };
    // (actix's workers may still hold the store's lock for a moment after a stop.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let service = loop {
        match policygraph::service::Service::open_with(dir.path(), &options).await {
            Ok(service) => break service,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("retrying: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(!service.snapshot_is_current());
    assert!(!file.exists(), "a start with snapshots off removes the file it will not keep current");
    service.close().await.unwrap();
    assert!(!file.exists());
}
