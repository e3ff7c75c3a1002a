//! Replicas: real `policygraph serve` processes over one real 3-member etcd cluster, each taking
//! reads and writes. A write through one is seen on the other, and by a subscriber connected to
//! the other; an etcd member or a replica SIGKILLed in the middle of concurrent writes loses no
//! acknowledged write; a replica whose place in etcd's history was compacted away rebuilds.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::etcd::EtcdCluster;
use crate::common::{free_port, gql_at as gql, mini_seed, next_json, spawn_serve};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::process::Child;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_policygraph");

/// One `policygraph serve` process over the cluster, with its own directory for its index
/// snapshot.
struct Replica {
    child: Child,
    url: String,
    port: u16,
    store: String,
    dir: std::path::PathBuf,
}

impl Replica {
    async fn start(store: &str, dir: &std::path::Path) -> Replica {
        Replica::start_on(store, dir, free_port()).await
    }

    async fn start_on(store: &str, dir: &std::path::Path, port: u16) -> Replica {
        let child = spawn_serve(port, |c| {
            c.args(["--workers", "2", "--store", store, "--seed-dir"])
                .arg(mini_seed())
                .arg("--data")
                .arg(dir)
                // These tests write and read back as fast as they can from one address; the rate
                // limit (its own tests are in `rate_limits`) would refuse a long run's read-back.
                .env("POLICYGRAPH_RATE_LIMIT_POINTS", "0");
        });
        let replica =
            Replica { child, url: format!("http://127.0.0.1:{port}"), port, store: store.into(), dir: dir.into() };
        replica.wait_ready(Duration::from_secs(60)).await;
        replica
    }

    /// Waits until `/healthz` says ready (200).
    async fn wait_ready(&self, within: Duration) {
        crate::common::wait_ready(&self.url, within).await;
    }

    async fn health(&self) -> Value {
        reqwest::get(format!("{}/healthz", self.url)).await.unwrap().json().await.unwrap()
    }

    async fn kill(&mut self) {
        self.child.start_kill().unwrap(); // SIGKILL
        self.child.wait().await.unwrap();
    }

    /// SIGTERM, and wait for the clean stop (which writes the index snapshot).
    async fn stop(mut self) {
        let pid = self.child.id().unwrap() as libc::pid_t;
        // SAFETY: a plain kill(2) of our own child, which has not been waited for.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "a clean stop: {status}");
    }
}

/// An editor token, made with the CLI against the cluster, as an operator would (servers running).
fn token(store: &str, name: &str) -> String {
    let out = std::process::Command::new(BIN)
        .args(["token", "create", "--name", name, "--role", "editor", "--store", store])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string()
}

const CREATE: &str =
    r#"mutation($slug: String!) { createEntity(input: { kind: EVENT, slug: $slug, name: $slug }) { entity { id } } }"#;
const RELATE: &str = r#"mutation($slug: String!) { createRelation(input: { kind: CONCERNS, from: $slug, to: "exo",
    citations: [{ document: "note", quote: "Test note, Geneva." }] }) { relation { id } } }"#;

/// Every entity slug and relation ID a replica serves, with each event's first audit action: what
/// a replica's index holds, to compare replicas with each other and with a fresh read of the store.
async fn dump(client: &reqwest::Client, url: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut entities = BTreeSet::new();
    let mut relations = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let d = gql(
            client,
            url,
            None,
            // Each relation once, from its source (the writers' events have one each).
            "query($a: String) { entities(first: 25, after: $a) { edges { node { slug kind history { action }
               relations(direction: OUTGOING, first: 100) { edges { node { id } } } } } pageInfo { hasNextPage endCursor } } }",
            json!({ "a": after }),
        )
        .await
        .unwrap();
        for e in d["entities"]["edges"].as_array().unwrap() {
            let node = &e["node"];
            let slug = node["slug"].as_str().unwrap().to_string();
            if node["kind"] == "EVENT" && slug.starts_with('w') {
                // Nothing half-written: a written event came with its audit entry, in one commit.
                assert_eq!(node["history"][0]["action"], "createEntity", "{slug} has no audit entry");
            }
            for r in node["relations"]["edges"].as_array().unwrap() {
                relations.insert(r["node"]["id"].as_str().unwrap().to_string());
            }
            entities.insert(slug);
        }
        if d["entities"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = d["entities"]["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    (entities, relations)
}

/// Asserts that `url` serves every slug in `slugs` and every relation in `relation_ids`.
async fn assert_has(client: &reqwest::Client, url: &str, slugs: &[String], relation_ids: &[String]) {
    for chunk in slugs.chunks(100) {
        let ids: Vec<String> = chunk.iter().map(|s| format!("Event:{s}")).collect();
        let d = gql(client, url, None, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids }))
            .await
            .unwrap();
        for (id, got) in ids.iter().zip(d["nodes"].as_array().unwrap()) {
            assert_eq!(&got["id"], id, "{url}: acknowledged {id} lost");
        }
    }
    for chunk in relation_ids.chunks(100) {
        let d = gql(client, url, None, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": chunk }))
            .await
            .unwrap();
        for (id, got) in chunk.iter().zip(d["nodes"].as_array().unwrap()) {
            assert_eq!(&got["id"], id, "{url}: acknowledged {id} lost");
        }
    }
}

#[derive(Default)]
struct Acked {
    entities: Mutex<BTreeSet<String>>,
    relations: Mutex<BTreeSet<String>>,
    failures: Mutex<Vec<String>>,
    /// When each entity was acknowledged.
    times: Mutex<Vec<Instant>>,
}

/// Writers, each creating an event and a relation in a loop through `url` until `stop`; what was
/// acknowledged goes into `acked`. A failed write is counted and the writer goes on (a member's
/// death makes some fail for a moment; none may be lost once acknowledged).
fn writers(
    urls: &[String],
    per_replica: usize,
    token: &str,
    tag: &str,
    acked: Arc<Acked>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut out = Vec::new();
    for (r, url) in urls.iter().enumerate() {
        for w in 0..per_replica {
            let (url, token, acked, stop) = (url.clone(), token.to_string(), acked.clone(), stop.clone());
            let tag = tag.to_string();
            out.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let slug = format!("w{tag}-{r}-{w}-{i}");
                    match gql(&client, &url, Some(&token), CREATE, json!({ "slug": slug })).await {
                        Ok(_) => {
                            acked.times.lock().unwrap().push(Instant::now());
                            acked.entities.lock().unwrap().insert(slug.clone())
                        }
                        Err(e) => {
                            acked.failures.lock().unwrap().push(e);
                            continue;
                        }
                    };
                    match gql(&client, &url, Some(&token), RELATE, json!({ "slug": slug })).await {
                        Ok(d) => acked
                            .relations
                            .lock()
                            .unwrap()
                            .insert(d["createRelation"]["relation"]["id"].as_str().unwrap().to_string()),
                        Err(e) => {
                            acked.failures.lock().unwrap().push(e);
                            continue;
                        }
                    };
                }
            }));
        }
    }
    out
}

/// Waits until `url` serves `slug`; how long that took.
async fn until_visible(client: &reqwest::Client, url: &str, slug: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        // `nodes` answers null for an ID it does not know, without an error.
        let id = format!("Event:{slug}");
        let d = gql(client, url, None, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": [id] }))
            .await
            .unwrap();
        if d["nodes"][0]["id"] == id {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{slug} not visible on {url} after {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_through_one_replica_is_read_and_pushed_on_the_other() {
    let cluster = EtcdCluster::start().await;
    let store = cluster.location("pg");
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Replica::start(&store, da.path()).await;
    let b = Replica::start(&store, db.path()).await;
    let token = token(&store, "ed");
    let client = reqwest::Client::new();

    // A subscriber on B.
    let mut req = format!("ws://127.0.0.1:{}/graphql", b.port).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(json!({ "type": "connection_init", "payload": {} }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let sub = r#"subscription { entityChanged(slug: "exo") { change { action actor } entity { aliases } } }"#;
    ws.send(Message::Text(json!({ "id": "1", "type": "subscribe", "payload": { "query": sub } }).to_string().into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Writes through A, read on B within a second each.
    let mut took = Vec::new();
    for i in 0..20 {
        let slug = format!("seen-{i}");
        gql(&client, &a.url, Some(&token), CREATE, json!({ "slug": slug })).await.unwrap();
        took.push(until_visible(&client, &b.url, &slug, Duration::from_secs(1)).await);
    }
    took.sort();
    eprintln!("visible on the other replica after (min, median, max): {:?} {:?} {:?}", took[0], took[10], took[19]);

    // The subscriber on B hears of a write made through A.
    let q = r#"mutation { addAlias(input: { id: "exo", alias: "E.X.O." }) { entity { id } } }"#;
    gql(&client, &a.url, Some(&token), q, json!({})).await.unwrap();
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    let ev = &msg["payload"]["data"]["entityChanged"];
    assert_eq!(ev["change"]["action"], "addAlias");
    assert_eq!(ev["change"]["actor"], "ed");
    assert_eq!(ev["entity"]["aliases"], json!(["EXO", "E.X.O."]));

    // And the other way round, with the replicas at one generation afterwards.
    gql(&client, &b.url, Some(&token), CREATE, json!({ "slug": "from-b" })).await.unwrap();
    until_visible(&client, &a.url, "from-b", Duration::from_secs(1)).await;
    let (ha, hb) = (a.health().await, b.health().await);
    assert_eq!(ha["generation"], hb["generation"], "{ha} {hb}");
    assert_eq!(dump(&client, &a.url).await, dump(&client, &b.url).await);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_etcd_member_killed_mid_stream_loses_no_acknowledged_write() {
    let mut cluster = EtcdCluster::start().await;
    let store = cluster.location("pg");
    let (da, db, dc) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Replica::start(&store, da.path()).await;
    let b = Replica::start(&store, db.path()).await;
    let token = token(&store, "ed");
    let client = reqwest::Client::new();
    let acked = Arc::new(Acked::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = writers(&[a.url.clone(), b.url.clone()], 2, &token, "m", acked.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(800)).await;
    // The leader: the hardest member to lose.
    let leader = cluster.leader().await;
    let before = acked.entities.lock().unwrap().len();
    let killed = Instant::now();
    cluster.kill(leader);
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in running {
        w.await.unwrap();
    }
    let after = acked.entities.lock().unwrap().len();
    let failures = acked.failures.lock().unwrap().len();
    let mut times: Vec<Instant> = acked.times.lock().unwrap().iter().copied().filter(|t| *t > killed).collect();
    times.sort();
    let first = times.first().map(|t| t.duration_since(killed));
    let gap = times.windows(2).map(|w| w[1] - w[0]).max();
    eprintln!(
        "acknowledged {before} entities before the kill, {after} in all; {failures} writes failed; \
         first write acknowledged {first:?} after the kill, longest gap after that {gap:?}"
    );
    assert!(before > 0, "nothing acknowledged before the kill");
    assert!(after > before + 10, "the cluster kept serving writes with two members ({before} → {after})");

    let slugs: Vec<String> = acked.entities.lock().unwrap().iter().cloned().collect();
    let relations: Vec<String> = acked.relations.lock().unwrap().iter().cloned().collect();
    // Both replicas converge on the same graph, holding every acknowledged write.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ha, hb) = (a.health().await, b.health().await);
        if ha["generation"] == hb["generation"] && ha["generation"] == ha["storeGeneration"] {
            break;
        }
        assert!(Instant::now() < deadline, "the replicas did not converge: {ha} {hb}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_has(&client, &a.url, &slugs, &relations).await;
    assert_has(&client, &b.url, &slugs, &relations).await;
    // Each index equals the store: a third replica, started now, reads the store afresh.
    let c = Replica::start(&store, dc.path()).await;
    let fresh = dump(&client, &c.url).await;
    assert_eq!(dump(&client, &a.url).await, fresh, "replica A's index differs from the store");
    assert_eq!(dump(&client, &b.url).await, fresh, "replica B's index differs from the store");
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_replica_leaves_the_other_serving_and_catches_up_when_restarted() {
    let cluster = EtcdCluster::start().await;
    let store = cluster.location("pg");
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Replica::start(&store, da.path()).await;
    let b = Replica::start(&store, db.path()).await;
    let token = token(&store, "ed");
    let client = reqwest::Client::new();
    let acked = Arc::new(Acked::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = writers(&[a.url.clone(), b.url.clone()], 2, &token, "r", acked.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(800)).await;
    a.kill().await;
    let before = acked.entities.lock().unwrap().len();
    // B goes on taking reads and writes alone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in running {
        w.await.unwrap();
    }
    let after = acked.entities.lock().unwrap().len();
    assert!(after > before + 10, "B kept taking writes ({before} → {after})");
    gql(&client, &b.url, None, "{ stats { entities } }", json!({})).await.unwrap();
    let slugs: Vec<String> = acked.entities.lock().unwrap().iter().cloned().collect();
    let relations: Vec<String> = acked.relations.lock().unwrap().iter().cloned().collect();
    assert_has(&client, &b.url, &slugs, &relations).await;
    // A comes back (on its port, from what it had) and catches up with what B wrote meanwhile.
    let a = Replica::start_on(&a.store.clone(), &a.dir.clone(), a.port).await;
    assert_has(&client, &a.url, &slugs, &relations).await;
    assert_eq!(dump(&client, &a.url).await, dump(&client, &b.url).await);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_behind_a_compaction_rebuilds() {
    let cluster = EtcdCluster::start().await;
    let store = cluster.location("pg");
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Replica::start(&store, da.path()).await;
    let b = Replica::start(&store, db.path()).await;
    let token = token(&store, "ed");
    let client = reqwest::Client::new();
    gql(&client, &b.url, Some(&token), CREATE, json!({ "slug": "before-stop" })).await.unwrap();
    until_visible(&client, &b.url, "before-stop", Duration::from_secs(1)).await;
    // B stops cleanly: its index snapshot names the generation it had reached.
    let (b_store, b_dir, b_port) = (b.store.clone(), b.dir.clone(), b.port);
    b.stop().await;
    assert!(b_dir.join("index.snapshot").exists(), "a clean stop writes the replica's snapshot");
    // Meanwhile A writes, and etcd compacts its history past where B stopped.
    for i in 0..30 {
        gql(&client, &a.url, Some(&token), CREATE, json!({ "slug": format!("while-away-{i}") })).await.unwrap();
    }
    let head = a.health().await["storeGeneration"].as_i64().unwrap();
    let mut etcd =
        etcd_client::Client::connect(cluster.endpoints.iter().map(|e| format!("http://{e}")).collect::<Vec<_>>(), None)
            .await
            .unwrap();
    etcd.compact(head, Some(etcd_client::CompactionOptions::new().with_physical())).await.unwrap();
    // B starts from its snapshot, finds its place compacted away, rebuilds from a fresh read.
    let b = Replica::start_on(&b_store, &b_dir, b_port).await;
    for i in 0..30 {
        until_visible(&client, &b.url, &format!("while-away-{i}"), Duration::from_secs(5)).await;
    }
    let metrics = reqwest::get(format!("{}/metrics", b.url)).await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("index_rebuilds_total") && !l.ends_with(" 0")),
        "B rebuilt its index: {}",
        metrics.lines().filter(|l| l.contains("rebuild")).collect::<Vec<_>>().join("\n")
    );
    assert_eq!(dump(&client, &a.url).await, dump(&client, &b.url).await);
    a.stop().await;
    b.stop().await;
}
