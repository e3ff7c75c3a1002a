//! The real server over a 3-member etcd cluster: seeded, edited over HTTP, read back, and seen by
//! a second service over the same cluster.

use std::time::Duration;

use crate::common::etcd::EtcdCluster;
use crate::common::{mini_seed, TestServer};
use policygraph::auth::Role;
use policygraph::store::{self, Location, OpenOptions};
use serde_json::json;

const UPDATE_TITLE: &str = r#"mutation($t: String) { updateRelation(input: { id: "Relation:holds_role:ana-nunez-perez:exo", title: $t }) {
    relation { title version } changes { action actor } } }"#;
const READ_TITLE: &str =
    r#"{ relation(key: "holds_role:ana-nunez-perez:exo") { title version history { actor action } } }"#;

async fn open(cluster: &EtcdCluster) -> std::sync::Arc<dyn store::Store> {
    let location = Location::parse(&cluster.location("pg")).unwrap();
    store::open(&location, &OpenOptions::default()).await.expect("the store opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_over_http_is_stored_in_etcd_and_read_back() {
    let cluster = EtcdCluster::start().await;
    let s = TestServer::start_over(open(&cluster).await, Some(&mini_seed())).await;
    let seeded = s.data("{ stats { generation entities } }", json!({})).await;
    assert!(seeded["stats"]["entities"].as_i64().unwrap() > 0, "{seeded}");

    let editor = s.token("alice", Role::Editor).await;
    let body = s.query_as(&editor, UPDATE_TITLE, json!({ "t": "Director General of EXO" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["updateRelation"]["relation"]["version"], 2);
    // Read-your-writes: the answer came after this service's index applied the commit.
    let d = s.data(READ_TITLE, json!({})).await;
    assert_eq!(d["relation"]["title"], "Director General of EXO");
    let actors: Vec<&str> =
        d["relation"]["history"].as_array().unwrap().iter().map(|h| h["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, ["seed", "alice"]);
    let after = s.data("{ stats { generation } }", json!({})).await["stats"]["generation"].as_i64().unwrap();
    assert!(after > seeded["stats"]["generation"].as_i64().unwrap());

    // Another service over the same cluster (another process, in production) reads the store
    // as it now is, and follows what the first one writes next.
    let other = TestServer::start_over(open(&cluster).await, None).await;
    assert_eq!(other.data(READ_TITLE, json!({})).await["relation"]["title"], "Director General of EXO");
    let body = s.query_as(&editor, UPDATE_TITLE, json!({ "t": "EXO's Director General" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let title = other.data(READ_TITLE, json!({})).await["relation"]["title"].clone();
        if title == "EXO's Director General" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the second service still shows {title}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.service.index_matches_store().await.unwrap());
    assert!(other.service.index_matches_store().await.unwrap());
    // Both have applied what the store holds, and say so.
    for server in [&s, &other] {
        let health: serde_json::Value =
            server.client.get(format!("{}/healthz", server.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["backend"], "etcd", "{health}");
        assert_eq!(health["generation"], health["storeGeneration"], "{health}");
    }
    other.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_a_clear_open_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let location = Location::parse(&format!("etcd://127.0.0.1:{port}")).unwrap();
    let started = std::time::Instant::now();
    match store::open(&location, &OpenOptions::default()).await {
        Err(e @ store::StoreError::Open { .. }) => assert!(e.to_string().contains("no member answered"), "{e}"),
        Err(e) => panic!("not an open error: {e}"),
        Ok(_) => panic!("opened a store with no cluster"),
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

fn entity(i: usize) -> policygraph::domain::Entity {
    let (es, _) = policygraph::synthetic::generate(1, 0, 1);
    let id = format!("e-{i}");
    policygraph::domain::Entity { slug: policygraph::domain::Slug::parse(&id).unwrap(), id, ..es[0].clone() }
}

fn creating(e: policygraph::domain::Entity) -> store::WriteBatch {
    store::WriteBatch { put_entities: vec![e], ..store::WriteBatch::default() }
}

async fn next(stream: &mut store::ChangeStream) -> std::sync::Arc<store::CommittedBatch> {
    use futures_util::StreamExt;
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("a batch within 20 s")
        .expect("the stream goes on")
        .expect("no error on the stream")
}

/// A member's death costs retries, not commits, and the stream goes on from where it was.
async fn commits_and_the_stream_go_on_when(victim: impl AsyncFnOnce(&EtcdCluster) -> usize) {
    let mut cluster = EtcdCluster::start().await;
    let store = open(&cluster).await;
    let first = store.commit_durable(&creating(entity(0))).await.unwrap();
    let mut stream = store.changes(first.generation).unwrap();
    let mut generations = Vec::new();
    let victim = victim(&cluster).await;
    for i in 1..=30 {
        if i == 10 {
            cluster.kill(victim);
        }
        generations
            .push(store.commit_durable(&creating(entity(i))).await.expect("a commit with two members").generation);
    }
    for (i, want) in generations.iter().enumerate() {
        let got = next(&mut stream).await;
        assert_eq!(got.generation, *want);
        assert_eq!(got.put_entities[0].id, format!("e-{}", i + 1));
    }
    let view = store.read().await.unwrap();
    let count = tokio::task::spawn_blocking(move || {
        let mut n = 0;
        for range in view.entity_ranges().unwrap() {
            view.entities_in(&range, &mut |_| n += 1).unwrap();
        }
        n
    })
    .await
    .unwrap();
    assert_eq!(count, 31);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_the_stream_go_on_when_a_follower_dies() {
    commits_and_the_stream_go_on_when(async |cluster: &EtcdCluster| (cluster.leader().await + 1) % 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_the_stream_go_on_when_the_leader_dies() {
    commits_and_the_stream_go_on_when(async |cluster: &EtcdCluster| cluster.leader().await).await;
}

/// A stream asked to start before etcd's compacted revision says so, so that its reader rebuilds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_from_before_a_compaction_says_compacted() {
    use futures_util::StreamExt;
    let cluster = EtcdCluster::start().await;
    let store = open(&cluster).await;
    let a = store.commit_durable(&creating(entity(1))).await.unwrap();
    let b = store.commit_durable(&creating(entity(2))).await.unwrap();
    let mut client = etcd_client::Client::connect([format!("http://{}", cluster.endpoints[0])], None).await.unwrap();
    client.compact(b.generation as i64, None).await.unwrap();
    let mut stream = store.changes(a.generation - 1).unwrap();
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an answer") {
        Some(Err(store::StoreError::Compacted { available, .. })) => assert_eq!(available, b.generation),
        other => panic!("not Compacted: {other:?}"),
    }
    // From the compacted revision on, it streams.
    let mut stream = store.changes(b.generation).unwrap();
    let c = store.commit_durable(&creating(entity(3))).await.unwrap();
    assert_eq!(next(&mut stream).await.generation, c.generation);
}

/// An import over HTTP into one service over etcd: its chunks (more operations than one etcd
/// transaction takes) reach a second service through the stream, document texts with them, so
/// the second one serves the text and checks an editor's quote against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_reaches_every_service_over_the_cluster_with_its_texts() {
    let cluster = EtcdCluster::start().await;
    let a = TestServer::start_over(open(&cluster).await, None).await;
    let b = TestServer::start_over(open(&cluster).await, None).await;
    let admin = a.token("importer", Role::Admin).await;
    let text = "A register of who knows whom, kept by the town.";
    let mut body = format!(
        "{}\n",
        json!({ "entity": { "slug": "register", "kind": "document", "name": "Register", "file": "register.txt", "text": text } })
    );
    for i in 0..150 {
        body.push_str(&format!(
            "{}\n",
            json!({ "entity": { "slug": format!("person-{i}"), "kind": "person", "name": format!("Person {i}") } })
        ));
    }
    for i in 0..150 {
        let relation = json!({ "relation": { "kind": "partners_with", "from": format!("person-{i}"),
            "to": format!("person-{}", (i + 1) % 150), "citations": [{ "document": "register", "quote": "who knows whom" }] } });
        body.push_str(&format!("{relation}\n"));
    }
    let res = a
        .client
        .post(format!("{}/import?chunk=100&name=register.jsonl", a.url))
        .bearer_auth(&admin)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let report: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["entitiesAdded"], 151, "{report}");
    assert_eq!(report["relationsAdded"], 150, "{report}");

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = b.data(r#"{ stats { entities relations } }"#, json!({})).await;
        if d["stats"]["relations"] == 150 && d["stats"]["entities"] == 151 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the second service shows {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let doc = b.data(r#"{ entity(slug: "register") { ... on Document { text } } }"#, json!({})).await;
    assert_eq!(doc["entity"]["text"], text);
    let editor = b.token("ed", Role::Editor).await;
    let made = b
        .query_as(
            &editor,
            r#"mutation { createRelation(input: { kind: SUPPORTS, from: "person-1", to: "person-7",
                citations: [{ document: "register", quote: "kept by the town" }] }) { relation { id } } }"#,
            json!({}),
        )
        .await;
    assert!(made.get("errors").is_none(), "the imported text is known to the other service: {made}");
    b.stop().await;
    a.stop().await;
}
