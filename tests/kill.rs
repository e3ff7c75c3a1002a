//! The hard way: SIGKILL the server in the middle of a stream of mutations from several clients,
//! restart it, and check that every acknowledged mutation is there and nothing is half there.
//! Several rounds on the same store. Each round ends with a clean stop (SIGTERM), which writes
//! the index snapshot, so the next round starts from it, writes, and is killed: the start after
//! that must not use a snapshot from before the kill.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{free_port, gql_at as gql, mini_seed, spawn_serve, wait_ready};
use serde_json::json;
use tokio::process::Child;

const BIN: &str = env!("CARGO_BIN_EXE_policygraph");

async fn start(data: &std::path::Path) -> (Child, String) {
    let port = free_port();
    let child = spawn_serve(port, |c| {
        // A small store cache, as an operator might set it: durability must not depend on it.
        c.args(["--workers", "2", "--store-cache-mb", "4", "--seed-dir"]).arg(mini_seed()).arg("--data").arg(data);
    });
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url, Duration::from_secs(30)).await;
    (child, url)
}

const CREATE: &str =
    r#"mutation($slug: String!) { createEntity(input: { kind: EVENT, slug: $slug, name: $slug }) { entity { id } } }"#;
const RELATE: &str = r#"mutation($slug: String!) { createRelation(input: { kind: CONCERNS, from: $slug, to: "exo",
    citations: [{ document: "note", quote: "Test note, Geneva." }] }) { relation { id } } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_never_loses_an_acknowledged_mutation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    // The token, made with the CLI the way an operator would (server stopped).
    let out = std::process::Command::new(BIN)
        .args(["token", "create", "--name", "killer", "--role", "editor", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string();
    let acked_entities = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let acked_relations = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let client = reqwest::Client::new();

    let snapshot = data.join("index.snapshot");
    for round in 0..4 {
        let (mut child, url) = start(&data).await;
        // A start that does not read the snapshot removes it: still there means it was read.
        assert_eq!(snapshot.exists(), round > 0, "round {round}: the clean stop's snapshot was not used");
        let mut writers = Vec::new();
        for w in 0..4 {
            let (url, token, client) = (url.clone(), token.clone(), client.clone());
            let (ae, ar) = (acked_entities.clone(), acked_relations.clone());
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let slug = format!("k{round}-{w}-{i}");
                    match gql(&client, &url, Some(&token), CREATE, json!({ "slug": slug })).await {
                        Ok(_) => ae.lock().unwrap().insert(slug.clone()),
                        Err(_) => return,
                    };
                    match gql(&client, &url, Some(&token), RELATE, json!({ "slug": slug })).await {
                        Ok(d) => ar
                            .lock()
                            .unwrap()
                            .insert(d["createRelation"]["relation"]["id"].as_str().unwrap().to_string()),
                        Err(_) => return,
                    };
                }
            }));
        }
        // Kill at a different moment each round, mid-stream.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        tokio::time::sleep(Duration::from_millis(300 + u64::from(nanos % 700))).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        for w in writers {
            w.await.unwrap();
        }

        let (mut child, url) = start(&data).await;
        assert!(!snapshot.exists(), "round {round}: a snapshot outlived the first write after it");
        let acked_e: Vec<String> = acked_entities.lock().unwrap().iter().cloned().collect();
        let acked_r: Vec<String> = acked_relations.lock().unwrap().iter().cloned().collect();
        assert!(!acked_e.is_empty(), "round {round}: no mutation was acknowledged before the kill");
        // Every acknowledged entity and relation is there.
        for chunk in acked_e.chunks(100) {
            let ids: Vec<String> = chunk.iter().map(|s| format!("Event:{s}")).collect();
            let d = gql(&client, &url, None, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids }))
                .await
                .unwrap();
            for (id, got) in ids.iter().zip(d["nodes"].as_array().unwrap()) {
                assert_eq!(&got["id"], id, "round {round}: acknowledged {id} lost");
            }
        }
        for chunk in acked_r.chunks(100) {
            let ids: Vec<String> = chunk.to_vec();
            let d = gql(&client, &url, None, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids }))
                .await
                .unwrap();
            for (id, got) in ids.iter().zip(d["nodes"].as_array().unwrap()) {
                assert_eq!(&got["id"], id, "round {round}: acknowledged {id} lost");
            }
        }
        // Nothing is half there: every event that exists (acknowledged or not) came with its
        // audit entry, in the same transaction; the server started, so no relation dangles.
        let mut after: Option<String> = None;
        let mut events = 0;
        loop {
            let d = gql(
                &client,
                &url,
                None,
                "query($a: String) { entities(kind: EVENT, first: 100, after: $a) { edges { node { slug history { action } } } pageInfo { hasNextPage endCursor } } }",
                json!({ "a": after }),
            )
            .await
            .unwrap();
            for e in d["entities"]["edges"].as_array().unwrap() {
                events += 1;
                let h = e["node"]["history"].as_array().unwrap();
                assert_eq!(
                    h.first().map(|x| &x["action"]),
                    Some(&json!("createEntity")),
                    "round {round}: {} has no audit entry",
                    e["node"]["slug"]
                );
            }
            if d["entities"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = d["entities"]["pageInfo"]["endCursor"].as_str().map(String::from);
        }
        assert!(events >= acked_e.len());
        eprintln!(
            "round {round}: {} entities and {} relations acknowledged so far; {events} events in the store",
            acked_e.len(),
            acked_r.len()
        );
        let pid = child.id().unwrap() as libc::pid_t;
        // SAFETY: a plain kill(2) of our own child, which has not been waited for.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        assert!(child.wait().await.unwrap().success(), "round {round}: the clean stop failed");
        assert!(snapshot.is_file(), "round {round}: a clean stop wrote no snapshot");
    }
}
