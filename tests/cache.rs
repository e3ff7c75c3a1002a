//! The hot path's caches against the real server: no client ever gets a pre-mutation answer
//! after the mutation (many rounds, concurrent readers and a writer), roles never share an
//! answer, answers with errors are re-executed, automatic persisted queries, ETag and 304.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::common::{error_codes, mini_seed, TestServer};
use policygraph::auth::Role;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The cache's metrics are process-wide, and some tests count them exactly: under `cargo test`
/// (one process for the tests of a file, run in parallel) the tests here take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn server() -> (TestServer, tempfile::TempDir, tokio::sync::MutexGuard<'static, ()>) {
    let turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    (s, dir, turn)
}

async fn metric(s: &TestServer, name: &str) -> f64 {
    let text = s.client.get(format!("{}/metrics", s.url)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

const READ: &str = r#"{ entity(slug: "exo") { version aliases } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_answer_from_before_a_write_is_served_after_it() {
    let (s, _d, _turn) = server().await;
    let editor = s.token("ed", Role::Editor).await;
    let s = Arc::new(s);
    let acked = Arc::new(AtomicU64::new(1));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..4 {
        let (s, acked, done) = (s.clone(), acked.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !done.load(Ordering::SeqCst) {
                let floor = acked.load(Ordering::SeqCst);
                // Half the readers use GET (ETag path), half POST.
                let body: Value = if r % 2 == 0 {
                    s.client.get(s.graphql_url()).query(&[("query", READ)]).send().await.unwrap().json().await.unwrap()
                } else {
                    s.query(READ, json!({})).await
                };
                let v = body["data"]["entity"]["version"].as_u64().unwrap();
                assert!(v >= floor, "reader {r} got version {v} after version {floor} was acknowledged");
                assert_eq!(
                    body["data"]["entity"]["aliases"].as_array().unwrap().len() as u64,
                    v,
                    "one alias per version"
                );
                reads += 1;
            }
            reads
        }));
    }
    for i in 0..60 {
        let q = r#"mutation($a: String!) { addAlias(input: { id: "exo", alias: $a }) { entity { version } } }"#;
        let body = s.query_as(&editor, q, json!({ "a": format!("a{i}") })).await;
        let v = body["data"]["addAlias"]["entity"]["version"].as_u64().unwrap_or_else(|| panic!("{body}"));
        acked.store(v, Ordering::SeqCst);
        // Let the readers fill the cache at this generation before the next write.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    done.store(true, Ordering::SeqCst);
    let mut total = 0;
    for r in readers {
        total += r.await.unwrap();
    }
    assert!(total > 100, "{total} reads");
    assert!(metric(&s, "answer_cache_hits_total").await > 0.0, "the cache was used");
}

#[tokio::test]
async fn roles_never_share_an_answer_and_errors_are_not_cached() {
    let (s, _d, _turn) = server().await;
    let editor = s.token("ed", Role::Editor).await;
    s.data(READ, json!({})).await;
    let hits = metric(&s, "answer_cache_hits_total").await;
    s.data(READ, json!({})).await;
    assert_eq!(metric(&s, "answer_cache_hits_total").await, hits + 1.0, "the same anonymous query hits");
    let body = s.query_as(&editor, READ, json!({})).await;
    assert!(body.get("errors").is_none());
    assert_eq!(metric(&s, "answer_cache_hits_total").await, hits + 1.0, "an editor does not get the anonymous answer");
    s.query_as(&editor, READ, json!({})).await;
    assert_eq!(metric(&s, "answer_cache_hits_total").await, hits + 2.0);
    // A query with errors runs again every time.
    let bad = r#"{ entity(slug: "nobody") { name } }"#;
    for _ in 0..3 {
        let body = s.query(bad, json!({})).await;
        assert_eq!(error_codes(&body), ["NOT_FOUND"]);
    }
    assert_eq!(metric(&s, "answer_cache_hits_total").await, hits + 2.0);
    assert!(metric(&s, "answer_cache_bytes").await > 0.0);
    s.stop().await;
}

#[tokio::test]
async fn automatic_persisted_queries_over_post_and_get() {
    let (s, _d, _turn) = server().await;
    let q = r#"query Exo { entity(slug: "exo") { name } }"#;
    let hash = hex::encode(Sha256::digest(q.as_bytes()));
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let post = |body: Value| {
        s.client.post(s.graphql_url()).header("content-type", "application/json").body(body.to_string()).send()
    };
    // Unknown hash: the client is told to send the query.
    let body: Value = post(json!({ "extensions": ext })).await.unwrap().json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(error_codes(&body), ["PERSISTED_QUERY_NOT_FOUND"]);
    // Query and hash: runs and registers.
    let body: Value = post(json!({ "query": q, "extensions": ext })).await.unwrap().json().await.unwrap();
    assert_eq!(body["data"]["entity"]["name"], "Example Organization");
    // The hash alone now works, over POST and GET (what CDNs cache).
    let body: Value = post(json!({ "extensions": ext })).await.unwrap().json().await.unwrap();
    assert_eq!(body["data"]["entity"]["name"], "Example Organization");
    let res = s.client.get(s.graphql_url()).query(&[("extensions", ext.to_string())]).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers().get("etag").is_some());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["entity"]["name"], "Example Organization");
    // A hash that does not match its query is refused.
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "00".repeat(32) } });
    let body: Value = post(json!({ "query": q, "extensions": wrong })).await.unwrap().json().await.unwrap();
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    s.stop().await;
}

#[tokio::test]
async fn etag_and_304_follow_the_graph_generation() {
    let (s, _d, _turn) = server().await;
    let editor = s.token("ed", Role::Editor).await;
    let get = |inm: Option<String>| {
        let mut r = s.client.get(s.graphql_url()).query(&[("query", READ)]);
        if let Some(t) = inm {
            r = r.header("if-none-match", t);
        }
        r.send()
    };
    let res = get(None).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let etag = res.headers().get("etag").unwrap().to_str().unwrap().to_string();
    assert!(res.headers().get("cache-control").unwrap().to_str().unwrap().contains("max-age="));
    let res = get(Some(etag.clone())).await.unwrap();
    assert_eq!(res.status().as_u16(), 304);
    assert_eq!(res.headers().get("etag").unwrap().to_str().unwrap(), etag);
    // After a write the old ETag no longer matches: a fresh answer comes back.
    let body = s
        .query_as(
            &editor,
            r#"mutation { addAlias(input: { id: "exo", alias: "E" }) { entity { version } } }"#,
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let res = get(Some(etag.clone())).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_ne!(res.headers().get("etag").unwrap().to_str().unwrap(), etag);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["entity"]["version"], 2);
    s.stop().await;
}
