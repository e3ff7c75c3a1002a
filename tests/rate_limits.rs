//! Rate limits per client, on the real server: the `X-RateLimit-*` headers, 429 `RATE_LIMITED`
//! with `Retry-After` past the budget, a fresh budget after the window, tokens and addresses
//! counted apart, `Query.rateLimit`, and websocket operations spending the same budget.

use std::time::Duration;

use crate::common::{error_codes, mini_seed, next_json, TestServer};
use futures_util::SinkExt;
use policygraph::http::{HttpConfig, RateLimitConfig};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const QUERY: &str = r#"{ entity(slug: "exo") { name relations(first: 5) { edges { node { kind to { name } } } } } }"#;

async fn server(points: u64, window: Duration) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = HttpConfig { workers: 1, rate_limit: RateLimitConfig { points, window }, ..Default::default() };
    let s = TestServer::start_with(dir.path(), Some(&mini_seed()), config).await;
    (s, dir)
}

/// The status, the rate-limit headers (limit, remaining, used, reset) and the body of a POST.
async fn post(s: &TestServer, token: Option<&str>, query: &str) -> (u16, [u64; 4], reqwest::header::HeaderMap, Value) {
    let mut req = s
        .client
        .post(s.graphql_url())
        .header("content-type", "application/json")
        .body(json!({ "query": query }).to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let n = |name: &str| -> u64 {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{name} on every answer: {headers:?}"))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let limits = [n("x-ratelimit-limit"), n("x-ratelimit-remaining"), n("x-ratelimit-used"), n("x-ratelimit-reset")];
    (status, limits, headers, res.json().await.unwrap())
}

fn now_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn every_answer_carries_the_budget_and_each_query_spends_its_cost() {
    let (s, _d) = server(100_000, Duration::from_secs(60)).await;
    let (status, [limit, remaining, used, reset], _, body) = post(&s, None, QUERY).await;
    assert_eq!(status, 200, "{body}");
    let cost = body["extensions"]["cost"]["requested"].as_u64().unwrap();
    assert!(cost > 1, "{body}");
    assert_eq!((limit, used, remaining), (100_000, cost, 100_000 - cost));
    assert!(reset > now_epoch() && reset <= now_epoch() + 61, "reset {reset} is the window's end in epoch seconds");
    // The same query again comes from the answer cache: charged all the same.
    let (_, [_, remaining2, used2, reset2], _, body2) = post(&s, None, QUERY).await;
    assert_eq!(body2, body);
    assert_eq!((used2, remaining2, reset2), (2 * cost, 100_000 - 2 * cost, reset));
    // A syntax error is charged one point; its answer carries the headers too.
    let (status, [_, _, used3, _], _, bad) = post(&s, None, "{ entity(").await;
    assert_eq!(error_codes(&bad), ["GRAPHQL_PARSE_FAILED"]);
    assert_eq!((status, used3), (200, 2 * cost + 1));
    // So is a query past the per-query cost limit.
    let big = "{ entities(first: 100) { edges { node { relations(first: 100) { edges { node { kind } } } } } } }";
    let (_, [_, _, used4, _], _, refused) = post(&s, None, big).await;
    assert_eq!(error_codes(&refused), ["QUERY_TOO_COMPLEX"]);
    assert_eq!(used4, 2 * cost + 2);
    // Refusals before anything is read (a wrong content type, a token that is not valid) carry
    // the budget as it stands, and cost nothing.
    let res = s.client.post(s.graphql_url()).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 415);
    assert_eq!(res.headers()["x-ratelimit-used"].to_str().unwrap(), (2 * cost + 2).to_string());
    let res =
        s.client.get(s.graphql_url()).query(&[("query", "{ __typename }")]).bearer_auth("nope").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(res.headers()["x-ratelimit-used"].to_str().unwrap(), (2 * cost + 2).to_string());
    // Mutations count too.
    let token = s.token("writer", policygraph::auth::Role::Editor).await;
    let m = r#"mutation { updateEntity(input: { id: "exo", summary: "Counted." }) { entity { summary } } }"#;
    let (_, [_, _, used5, _], _, body) = post(&s, Some(&token), m).await;
    assert!(body.get("errors").is_none(), "{body}");
    let m_cost = body["extensions"]["cost"]["requested"].as_u64().unwrap().max(1);
    assert_eq!(used5, m_cost, "the token's own budget");
    s.stop().await;
}

#[tokio::test]
async fn past_the_budget_429_rate_limited_with_retry_after_then_a_fresh_window() {
    let (s, _d) = server(40, Duration::from_secs(2)).await;
    let (_, _, _, body) = post(&s, None, QUERY).await;
    let cost = body["extensions"]["cost"]["requested"].as_u64().unwrap();
    assert!(cost < 40 && 40 / cost < 20, "a budget of a few queries: {cost}");
    let mut answers = 1;
    let (status, [_, remaining, used, reset], headers, body) = loop {
        let answer = post(&s, None, QUERY).await;
        if answer.0 != 200 {
            break answer;
        }
        answers += 1;
        assert!(answers < 40, "never refused");
    };
    assert_eq!(answers as u64, 40 / cost, "refused once the budget could not cover the query");
    assert_eq!(status, 429, "{body}");
    assert_eq!(error_codes(&body), ["RATE_LIMITED"]);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("40 cost points every 2 s") && message.contains("whole again in"), "{message}");
    assert_eq!(used, answers as u64 * cost, "a refusal charges nothing");
    assert_eq!(remaining, 40 - used);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(body["errors"][0]["extensions"]["resetAt"].as_str().map(|t| t.ends_with('Z')), Some(true), "{body}");
    assert!(reset >= now_epoch());
    // After the window, the budget is whole again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (status, [_, _, used, _], _, body) = post(&s, None, QUERY).await;
    assert_eq!((status, used), (200, cost), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn tokens_and_addresses_have_budgets_of_their_own() {
    let (s, _d) = server(30, Duration::from_secs(60)).await;
    let (a, b) = (
        s.token("app-a", policygraph::auth::Role::Reader).await,
        s.token("app-b", policygraph::auth::Role::Reader).await,
    );
    // The address spends its budget.
    while post(&s, None, QUERY).await.0 == 200 {}
    assert_eq!(post(&s, None, QUERY).await.0, 429);
    // A token from the same address has its own, and one token's spending is not another's.
    let (status, [_, _, used_a, _], _, _) = post(&s, Some(&a), QUERY).await;
    assert_eq!(status, 200);
    while post(&s, Some(&a), QUERY).await.0 == 200 {}
    let (status, [_, _, used_b, _], _, _) = post(&s, Some(&b), QUERY).await;
    assert_eq!((status, used_b), (200, used_a));
    s.stop().await;
}

#[tokio::test]
async fn rate_limit_field_reports_this_request_and_is_never_cached() {
    let (s, _d) = server(1_000, Duration::from_secs(60)).await;
    let q = "{ rateLimit { cost limit remaining used resetAt } entity(slug: \"exo\") { name } }";
    let (_, [limit, remaining, used, reset], _, first) = post(&s, None, q).await;
    let rl = &first["data"]["rateLimit"];
    assert_eq!(rl["limit"], limit);
    assert_eq!(rl["remaining"], remaining);
    assert_eq!(rl["used"], used);
    assert_eq!(rl["cost"], used, "the first request spent all that is used");
    assert_eq!(rl["cost"], first["extensions"]["cost"]["requested"].as_u64().unwrap().max(1));
    let reset_at = chrono::DateTime::parse_from_rfc3339(rl["resetAt"].as_str().unwrap()).unwrap();
    assert_eq!(reset_at.timestamp() as u64, reset);
    // Asked again: a fresh answer, not the cached one.
    let (_, [_, _, used2, _], headers, second) = post(&s, None, q).await;
    assert_eq!(second["data"]["rateLimit"]["used"], used2);
    assert_eq!(used2, 2 * used);
    assert_eq!(headers["cache-control"], "no-store");
    // Over GET too, and without an ETag to revalidate a changing answer with.
    let res = s.client.get(s.graphql_url()).query(&[("query", q)]).send().await.unwrap();
    assert!(res.headers().get("etag").is_none(), "{:?}", res.headers());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["rateLimit"]["used"], 3 * used);
    s.stop().await;
}

#[tokio::test]
async fn without_a_budget_no_headers_and_no_rate_limit() {
    let (s, _d) = server(0, Duration::from_secs(60)).await;
    let res = s
        .client
        .post(s.graphql_url())
        .header("content-type", "application/json")
        .body(json!({ "query": "{ rateLimit { used } }" }).to_string())
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("x-ratelimit-limit").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({ "data": { "rateLimit": null }, "extensions": body["extensions"] }));
    s.stop().await;
}

#[tokio::test]
async fn websocket_operations_spend_the_same_budget() {
    let (s, _d) = server(60, Duration::from_secs(60)).await;
    let (_, [_, _, used, _], _, body) = post(&s, None, QUERY).await;
    let cost = body["extensions"]["cost"]["requested"].as_u64().unwrap();
    assert_eq!(used, cost);
    let mut req = s.graphql_url().replace("http://", "ws://").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(json!({ "type": "connection_init", "payload": {} }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let subscribe = |id: &str, query: &str| {
        Message::Text(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }).to_string().into())
    };
    // Over the socket: the rateLimit field sees the budget the HTTP request spent.
    ws.send(subscribe("q", "{ rateLimit { used cost } }")).await.unwrap();
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    let ws_cost = msg["payload"]["data"]["rateLimit"]["cost"].as_u64().unwrap();
    assert_eq!(msg["payload"]["data"]["rateLimit"]["used"], cost + ws_cost);
    assert_eq!(next_json(&mut ws).await["type"], "complete");
    // Spend the rest over the socket, then an operation is refused with RATE_LIMITED.
    let mut refused = None;
    for i in 0..60 {
        ws.send(subscribe(&format!("r{i}"), QUERY)).await.unwrap();
        let msg = next_json(&mut ws).await;
        if msg["type"] == "error" {
            refused = Some(msg);
            break;
        }
        assert_eq!(next_json(&mut ws).await["type"], "complete");
    }
    let refused = refused.expect("refused once the budget is spent");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{refused}");
    // And HTTP sees the spent budget.
    assert_eq!(post(&s, None, QUERY).await.0, 429);
    ws.close(None).await.unwrap();
    s.stop().await;
}
