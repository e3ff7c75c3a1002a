//! GraphQL over HTTP: content negotiation, status codes, methods, body limit, and the
//! operational endpoints (`/healthz`, `/metrics`, request IDs).

use crate::common::{error_codes, mini_seed, TestServer};
use serde_json::{json, Value};

const GQL: &str = "application/graphql-response+json";

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    (s, dir)
}

async fn post(s: &TestServer, accept: Option<&str>, body: &str) -> (u16, String, Value) {
    let mut req = s.client.post(s.graphql_url()).header("content-type", "application/json").body(body.to_string());
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, ct, body)
}

#[tokio::test]
async fn content_type_follows_accept() {
    let (s, _d) = server().await;
    let q = r#"{"query":"{ __typename }"}"#;
    let (st, ct, body) = post(&s, Some(GQL), q).await;
    assert_eq!((st, ct.starts_with(GQL)), (200, true));
    assert_eq!(body["data"]["__typename"], "Query");
    let (st, ct, _) = post(&s, Some("application/json"), q).await;
    assert_eq!((st, ct.starts_with("application/json")), (200, true));
    let (_, ct, _) = post(&s, None, q).await;
    assert!(ct.starts_with("application/json"), "no Accept means application/json, got {ct}");
    let (_, ct, _) = post(&s, Some("application/json;q=0.5, application/graphql-response+json"), q).await;
    assert!(ct.starts_with(GQL));
    let (st, _, _) = post(&s, Some("text/html"), q).await;
    assert_eq!(st, 406);
    s.stop().await;
}

#[tokio::test]
async fn failures_before_execution_are_4xx_with_the_graphql_media_type() {
    let (s, _d) = server().await;
    // Parse error.
    let (st, _, body) = post(&s, Some(GQL), r#"{"query":"{ entity(slug: "}"#).await;
    assert_eq!(st, 400);
    assert!(body.get("data").is_none(), "no data before execution: {body}");
    assert_eq!(error_codes(&body), ["GRAPHQL_PARSE_FAILED"]);
    // The same with application/json is a 200 (the spec's compatibility rule).
    let (st, _, body) = post(&s, Some("application/json"), r#"{"query":"{ entity(slug: "}"#).await;
    assert_eq!(st, 200);
    assert_eq!(error_codes(&body), ["GRAPHQL_PARSE_FAILED"]);
    // Validation error: an unknown field.
    let (st, _, body) = post(&s, Some(GQL), r#"{"query":"{ nonsense }"}"#).await;
    assert_eq!(st, 400);
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"]);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("nonsense"));
    // Variable error: wrong type for a variable.
    let (st, _, body) = post(
        &s,
        Some(GQL),
        r#"{"query":"query($n: Int) { entities(first: $n) { totalCount } }","variables":{"n":"ten"}}"#,
    )
    .await;
    assert_eq!(st, 400, "{body}");
    assert!(body.get("data").is_none());
    // Errors during execution keep 200 and data.
    let (st, _, body) = post(&s, Some(GQL), r#"{"query":"{ entity(slug: \"nobody\") { name } }"}"#).await;
    assert_eq!(st, 200);
    assert!(body.get("data").is_some());
    s.stop().await;
}

#[tokio::test]
async fn malformed_requests() {
    let (s, _d) = server().await;
    let (st, _, _) = post(&s, Some(GQL), "{not json").await;
    assert_eq!(st, 400);
    let (st, _, body) = post(&s, Some(GQL), r#"{"variables":{}}"#).await;
    assert_eq!(st, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("query"));
    let (st, _, _) = post(&s, Some(GQL), r#"{"query":"{ __typename }","variables":[1]}"#).await;
    assert_eq!(st, 400);
    let res = s
        .client
        .post(s.graphql_url())
        .header("content-type", "text/plain")
        .body("{ __typename }")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    let res = s.client.put(s.graphql_url()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 405);
    s.stop().await;
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let (s, _d) = server().await;
    let big = format!(
        r#"{{"query":"{{ __typename }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(policygraph::http::MAX_BODY_BYTES)
    );
    let (st, _, body) = post(&s, Some(GQL), &big).await;
    assert_eq!(st, 413);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("limit"));
    // The server is still fine afterwards.
    let (st, _, _) = post(&s, Some(GQL), r#"{"query":"{ __typename }"}"#).await;
    assert_eq!(st, 200);
    s.stop().await;
}

#[tokio::test]
async fn get_runs_queries_but_not_mutations() {
    let (s, _d) = server().await;
    let res = s
        .client
        .get(s.graphql_url())
        .query(&[("query", "query($s: String!) { entity(slug: $s) { name } }"), ("variables", r#"{"s":"exo"}"#)])
        .header("accept", GQL)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["entity"]["name"], "Example Organization");
    let res = s
        .client
        .get(s.graphql_url())
        .query(&[("query", "mutation { anything }")])
        .header("accept", GQL)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(res.headers().get("allow").unwrap(), "POST");
    s.stop().await;
}

#[tokio::test]
async fn healthz_metrics_and_request_ids() {
    let (s, _d) = server().await;
    let res = s.client.get(format!("{}/healthz", s.url)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers().get("x-request-id").is_some());
    let h: Value = res.json().await.unwrap();
    assert_eq!(
        h,
        json!({ "status": "ok", "entities": 11, "relations": 10, "generation": 1, "storeGeneration": 1, "backend": "sled" })
    );
    // Make one error so that the error counter exists.
    let _ = s.query(r#"{ entity(slug: "nobody") { name } }"#, json!({})).await;
    let text = s.client.get(format!("{}/metrics", s.url)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("http_requests_total{"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket{"), "{text}");
    assert!(text.contains(r#"graphql_errors_total{code="NOT_FOUND"}"#), "{text}");
    s.stop().await;
}
