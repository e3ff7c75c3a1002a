//! Batching: a JSON array of operations in one POST (Apollo Client's `BatchHttpLink` format),
//! answered with an array in the same order, each operation charged to the rate limit and its
//! errors kept in its own answer; a batch past the maximum, or an empty one, is refused. Apollo
//! Client itself is in `tests/apollo.rs`.

use std::time::Duration;

use crate::common::{error_codes, mini_seed, TestServer};
use policygraph::http::{HttpConfig, RateLimitConfig};
use serde_json::{json, Value};

async fn server(max_batch: usize, points: u64) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let rate_limit = RateLimitConfig { points, window: Duration::from_secs(60) };
    let config = HttpConfig { workers: 1, max_batch, rate_limit, ..Default::default() };
    let s = TestServer::start_with(dir.path(), Some(&mini_seed()), config).await;
    (s, dir)
}

/// POSTs `body` as it is; the status, the `X-RateLimit-Used` header, the content type and the body.
async fn post(s: &TestServer, token: Option<&str>, accept: &str, body: &Value) -> (u16, Option<u64>, String, Value) {
    let mut req = s
        .client
        .post(s.graphql_url())
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let used = res.headers().get("x-ratelimit-used").map(|v| v.to_str().unwrap().parse().unwrap());
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    (status, used, ct, res.json().await.unwrap())
}

const JSON: &str = "application/json";
const GQL: &str = "application/graphql-response+json";

#[tokio::test]
async fn a_batch_is_answered_in_order_each_operation_counted_and_its_errors_its_own() {
    let (s, _d) = server(10, 100_000).await;
    let token = s.token("batcher", policygraph::auth::Role::Editor).await;
    let batch = json!([
        { "query": "query A($s: String!) { entity(slug: $s) { name } }", "variables": { "s": "exo" } },
        { "query": "{ entity(slug: \"no-such\") { name } }" },
        { "query": "{ entity(" },
        { "query": "mutation { updateEntity(input: { id: \"exo\", summary: \"Batched.\" }) { entity { summary } } }" },
        { "query": "{ entity(slug: \"exo\") { summary } }", "operationName": null },
        { "variables": {} },
        { "query": "{ rateLimit { used cost } }" },
    ]);
    let (status, used, ct, body) = post(&s, Some(&token), GQL, &batch).await;
    assert_eq!(status, 200, "{body}");
    assert!(ct.starts_with(GQL), "{ct}");
    let answers = body.as_array().unwrap_or_else(|| panic!("an array: {body}"));
    assert_eq!(answers.len(), 7, "{body}");
    assert_eq!(answers[0]["data"]["entity"]["name"], "Example Organization");
    assert_eq!(error_codes(&answers[1]), ["NOT_FOUND"]);
    assert!(answers[1].get("data").is_some(), "executed, with its error: {}", answers[1]);
    assert_eq!(error_codes(&answers[2]), ["GRAPHQL_PARSE_FAILED"]);
    assert_eq!(answers[3]["data"]["updateEntity"]["entity"]["summary"], "Batched.");
    // In order: the read after the mutation sees it.
    assert_eq!(answers[4]["data"]["entity"]["summary"], "Batched.");
    assert_eq!(error_codes(&answers[5]), ["BAD_REQUEST"]);
    // Every operation was charged: its cost (at least 1), or 1 for those refused before running.
    let cost = |a: &Value| a["extensions"]["cost"]["requested"].as_u64().map(|c| c.max(1));
    let spent: u64 = answers[..6].iter().map(|a| cost(a).unwrap_or(1)).sum::<u64>() - 1;
    let last = &answers[6]["data"]["rateLimit"];
    assert_eq!(last["used"], spent + last["cost"].as_u64().unwrap(), "{body}");
    assert_eq!(used, last["used"].as_u64(), "the headers are the last operation's");
    s.stop().await;
}

#[tokio::test]
async fn a_batch_past_the_maximum_or_empty_is_refused_naming_the_size() {
    let (s, _d) = server(3, 100_000).await;
    let one = json!({ "query": "{ __typename }" });
    let (status, _, _, body) = post(&s, None, JSON, &json!([one, one, one, one])).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["BAD_REQUEST"]);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("at most 3") && message.contains("holds 4"), "{message}");
    let (status, _, _, body) = post(&s, None, JSON, &json!([])).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("empty"), "{body}");
    // Nothing of a refused batch ran or was charged.
    let (status, used, ct, body) = post(&s, None, JSON, &json!([one, one, one])).await;
    assert_eq!((status, used), (200, Some(3)), "{body}");
    assert!(ct.starts_with(JSON), "{ct}");
    let one_answer = json!({ "data": { "__typename": "Query" }, "extensions": body[0]["extensions"] });
    assert_eq!(body, json!([one_answer, one_answer, one_answer]));
    s.stop().await;
}

#[tokio::test]
async fn past_the_budget_a_batch_is_refused_operation_by_operation() {
    let q = json!({ "query": "{ entity(slug: \"exo\") { name relations(first: 5) { totalCount } } }" });
    let (s, _d) = server(10, 100_000).await;
    let cost = post(&s, None, JSON, &q).await.3["extensions"]["cost"]["requested"].as_u64().unwrap();
    s.stop().await;
    // A budget for two of them (and change): the third of a batch is refused, alone.
    let (s, _d) = server(10, 2 * cost + 1).await;
    let (status, _, _, body) = post(&s, None, JSON, &json!([q, q, q])).await;
    assert_eq!(status, 200, "{body}");
    assert!(body[0]["data"].is_object() && body[1]["data"].is_object(), "{body}");
    assert_eq!(error_codes(&body[2]), ["RATE_LIMITED"], "{body}");
    // A batch wholly refused is a 429.
    let res = s
        .client
        .post(s.graphql_url())
        .header("content-type", "application/json")
        .body(json!([q, q]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert!(res.headers().get("retry-after").is_some());
    s.stop().await;
}
