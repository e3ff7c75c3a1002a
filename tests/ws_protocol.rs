//! The websocket endpoint held to graphql-ws's PROTOCOL.md (graphql-transport-ws) with a real
//! client: close codes, `error` before execution, `next` and `complete`, ping and pong, the
//! limits on operations per socket and per client, message size, dead sockets; and the legacy
//! graphql-ws protocol.

use std::time::Duration;

use crate::common::{mini_seed, next_json, TestServer, Ws};
use futures_util::{SinkExt, StreamExt};
use policygraph::auth::Role;
use policygraph::http::HttpConfig;
use policygraph::ws::WsConfig;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const TRANSPORT: &str = "graphql-transport-ws";
const LEGACY: &str = "graphql-ws";
/// A subscription that stays quiet until `exo` changes.
const QUIET_SUB: &str = r#"subscription { entityChanged(slug: "exo") { change { action actor } entity { aliases } } }"#;

async fn start(config: HttpConfig) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), Some(&mini_seed()), config).await;
    (dir, s)
}

async fn start_default() -> (tempfile::TempDir, TestServer) {
    start(HttpConfig { workers: 1, ..Default::default() }).await
}

fn ws_config(ws: WsConfig) -> HttpConfig {
    HttpConfig { workers: 1, ws, ..Default::default() }
}

fn ws_url(s: &TestServer) -> String {
    format!("{}/graphql", s.url.replace("http://", "ws://"))
}

/// Opens a socket asking for `protocol` (none: no `Sec-WebSocket-Protocol`), with a bearer
/// token on the upgrade request if given.
async fn open(s: &TestServer, protocol: Option<&str>, bearer: Option<&str>) -> Ws {
    let mut req = ws_url(s).into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut().insert("sec-websocket-protocol", p.parse().unwrap());
    }
    if let Some(t) = bearer {
        req.headers_mut().insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let (ws, res) = tokio_tungstenite::connect_async(req).await.unwrap();
    let chosen = res.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(chosen.as_deref(), protocol);
    ws
}

/// A socket past `connection_ack`.
async fn acked(s: &TestServer, protocol: &str, payload: Value) -> Ws {
    let mut ws = open(s, Some(protocol), None).await;
    send(&mut ws, json!({ "type": "connection_init", "payload": payload })).await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Reads until the server closes; returns the close code and reason.
async fn close_of(ws: &mut Ws) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a close in time");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => return (u16::from(frame.code), frame.reason.to_string()),
            Some(Ok(Message::Close(None))) => panic!("closed without a code"),
            Some(Ok(_)) => {}
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    }
}

/// Pings with a payload and expects the pong: nothing else was sent before it.
async fn ping_pong(ws: &mut Ws) {
    send(ws, json!({ "type": "ping", "payload": { "n": 7 } })).await;
    let pong = next_json(ws).await;
    assert_eq!(pong, json!({ "type": "pong", "payload": { "n": 7 } }));
}

async fn add_alias(s: &TestServer, token: &str, alias: &str) {
    let q = r#"mutation($a: String!) { addAlias(input: { id: "exo", alias: $a }) { entity { id } } }"#;
    let body = s.query_as(token, q, json!({ "a": alias })).await;
    assert!(body.get("errors").is_none(), "{body}");
}

fn subscribe(id: &str, query: &str) -> Value {
    json!({ "id": id, "type": "subscribe", "payload": { "query": query } })
}

#[tokio::test]
async fn a_subscription_gets_next_after_a_mutation_and_nothing_after_complete() {
    let (_dir, s) = start_default().await;
    let editor = s.token("ed", Role::Editor).await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    send(&mut ws, subscribe("s1", QUIET_SUB)).await;
    // The protocol has no "subscribed" message; give the server a moment to set up the stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    add_alias(&s, &editor, "E.X.O.").await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["id"], "s1");
    assert_eq!(msg["payload"]["data"]["entityChanged"]["change"]["actor"], "ed");
    assert_eq!(msg["payload"]["data"]["entityChanged"]["entity"]["aliases"], json!(["EXO", "E.X.O."]));
    // The client completes: the stream stops, and the server sends nothing more for it.
    send(&mut ws, json!({ "id": "s1", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    add_alias(&s, &editor, "EXO2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ping_pong(&mut ws).await;
    // The ID is free again.
    send(&mut ws, subscribe("s1", QUIET_SUB)).await;
    ping_pong(&mut ws).await;
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn queries_and_mutations_get_next_then_complete() {
    let (_dir, s) = start_default().await;
    let editor = s.token("ed", Role::Editor).await;
    let mut ws = acked(&s, TRANSPORT, json!({ "Authorization": format!("bearer {editor}") })).await;
    send(&mut ws, subscribe("q", r#"{ entity(slug: "exo") { name aliases } }"#)).await;
    let next = next_json(&mut ws).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["id"], "q");
    assert_eq!(next["payload"]["data"]["entity"]["aliases"], json!(["EXO"]));
    assert_eq!(next_json(&mut ws).await, json!({ "id": "q", "type": "complete" }));
    // A mutation runs as the token's caller.
    let m = r#"mutation { addAlias(input: { id: "exo", alias: "E.X.O." }) { entity { aliases } } }"#;
    send(&mut ws, subscribe("m", m)).await;
    let next = next_json(&mut ws).await;
    assert_eq!(next["payload"]["data"]["addAlias"]["entity"]["aliases"], json!(["EXO", "E.X.O."]), "{next}");
    assert_eq!(next_json(&mut ws).await, json!({ "id": "m", "type": "complete" }));
    // An error in execution is a `next` with errors, not an `error`.
    send(&mut ws, subscribe("nf", r#"{ entity(slug: "no-such-thing") { name } }"#)).await;
    let next = next_json(&mut ws).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{next}");
    assert_eq!(next_json(&mut ws).await, json!({ "id": "nf", "type": "complete" }));
    // Without a token a mutation is refused, as over HTTP.
    let mut anon = acked(&s, TRANSPORT, json!({})).await;
    send(&mut anon, subscribe("m", m)).await;
    let next = next_json(&mut anon).await;
    assert!(next["payload"]["errors"].is_array(), "{next}");
    drop((ws, anon));
    s.stop().await;
}

#[tokio::test]
async fn a_query_over_the_socket_gets_the_request_time_limit_and_a_subscription_none() {
    let (_dir, s) = start(HttpConfig { workers: 1, request_timeout: Duration::ZERO, ..Default::default() }).await;
    let editor = s.token("ed", Role::Editor).await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    send(&mut ws, subscribe("q", r#"{ search(query: "exo") { slug } }"#)).await;
    let next = next_json(&mut ws).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["payload"]["errors"][0]["extensions"]["code"], "REQUEST_TIMEOUT", "{next}");
    assert_eq!(next_json(&mut ws).await, json!({ "id": "q", "type": "complete" }));
    send(&mut ws, subscribe("s", QUIET_SUB)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    add_alias(&s, &editor, "E.X.O.").await;
    let next = next_json(&mut ws).await;
    assert_eq!(next["payload"]["data"]["entityChanged"]["change"]["action"], "addAlias", "{next}");
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn failures_before_execution_get_an_error_message_and_no_complete() {
    let (_dir, s) = start_default().await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    let cases = [
        ("validation", "subscription { noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("parse", "subscription { entityChanged(", "GRAPHQL_PARSE_FAILED"),
        ("query-validation", "{ entity(slug: 1) { name } }", "GRAPHQL_VALIDATION_FAILED"),
        ("cost", "{ entities(first: 100) { edges { node { relations(first: 100) { edges { node { title from { relations(first: 100) { totalCount } } } } } } } } }", "QUERY_TOO_COMPLEX"),
    ];
    for (id, query, code) in cases {
        send(&mut ws, subscribe(id, query)).await;
        let msg = next_json(&mut ws).await;
        assert_eq!(msg["type"], "error", "{id}: {msg}");
        assert_eq!(msg["id"], id);
        let errors = msg["payload"].as_array().expect("an array of errors");
        assert_eq!(errors[0]["extensions"]["code"], code, "{id}: {msg}");
        // No `complete` follows an `error`.
        ping_pong(&mut ws).await;
    }
    // A subscription whose own resolver fails ran: `next` with the error, then `complete`.
    send(
        &mut ws,
        subscribe("nf", r#"subscription { relationChanged(entity: "no-such-thing") { change { action } } }"#),
    )
    .await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{msg}");
    assert_eq!(next_json(&mut ws).await, json!({ "id": "nf", "type": "complete" }));
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn ping_gets_pong_before_and_after_the_ack() {
    let (_dir, s) = start_default().await;
    let mut ws = open(&s, Some(TRANSPORT), None).await;
    ping_pong(&mut ws).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next_json(&mut ws).await, json!({ "type": "pong" }));
    // A pong is fine at any time and gets no answer.
    send(&mut ws, json!({ "type": "pong" })).await;
    ping_pong(&mut ws).await;
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn a_socket_without_a_known_subprotocol_is_closed_4406() {
    let (_dir, s) = start_default().await;
    let mut ws = open(&s, None, None).await;
    assert_eq!(close_of(&mut ws).await, (4406, "Subprotocol not acceptable".into()));
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn subscribe_before_the_ack_is_closed_4401() {
    let (_dir, s) = start_default().await;
    let mut ws = open(&s, Some(TRANSPORT), None).await;
    send(&mut ws, subscribe("1", QUIET_SUB)).await;
    assert_eq!(close_of(&mut ws).await, (4401, "Unauthorized".into()));
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn no_connection_init_in_time_is_closed_4408() {
    let config = ws_config(WsConfig { init_timeout: Duration::from_millis(300), ..Default::default() });
    let (_dir, s) = start(config).await;
    let started = std::time::Instant::now();
    let mut ws = open(&s, Some(TRANSPORT), None).await;
    // Pings do not count as initialisation.
    ping_pong(&mut ws).await;
    assert_eq!(close_of(&mut ws).await, (4408, "Connection initialisation timeout".into()));
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A socket that did initialise stays open past the timeout.
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ping_pong(&mut ws).await;
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn a_second_connection_init_is_closed_4429() {
    let (_dir, s) = start_default().await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(close_of(&mut ws).await, (4429, "Too many initialisation requests".into()));
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn a_duplicate_subscription_id_is_closed_4409() {
    let (_dir, s) = start_default().await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    send(&mut ws, subscribe("dup", QUIET_SUB)).await;
    send(&mut ws, subscribe("dup", QUIET_SUB)).await;
    assert_eq!(close_of(&mut ws).await, (4409, "Subscriber for dup already exists".into()));
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn messages_outside_the_protocol_are_closed_4400() {
    let (_dir, s) = start_default().await;
    let bad: Vec<Value> = vec![
        Value::String("{not json".into()),
        json!(["a", "list"]),
        json!({ "payload": {} }),
        json!({ "type": "next", "id": "1", "payload": {} }),
        json!({ "type": "start", "id": "1", "payload": { "query": "{ stats { entities } }" } }),
        json!({ "type": "connection_init", "payload": "a string" }),
        json!({ "type": "subscribe", "payload": { "query": "{ stats { entities } }" } }),
        json!({ "type": "subscribe", "id": "", "payload": { "query": "{ stats { entities } }" } }),
        json!({ "type": "subscribe", "id": "1", "payload": { "variables": {} } }),
        json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ stats { entities } }", "variables": [1] } }),
        json!({ "type": "complete" }),
    ];
    for msg in bad {
        let mut ws = acked(&s, TRANSPORT, json!({})).await;
        let text = match &msg {
            Value::String(raw) => raw.clone(),
            other => other.to_string(),
        };
        ws.send(Message::Text(text.into())).await.unwrap();
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 4400, "{msg}: {reason}");
        assert!(!reason.is_empty());
    }
    s.stop().await;
}

#[tokio::test]
async fn tokens_in_connection_init_are_checked_4403() {
    let dir = tempfile::tempdir().unwrap();
    let config = HttpConfig { workers: 1, private_reads: true, ..Default::default() };
    let s = TestServer::start_with(dir.path(), Some(&mini_seed()), config).await;
    let reader = s.token("r", Role::Reader).await;
    // Reads are private: no token is refused, so is an unknown one or one without the scheme.
    for payload in
        [json!({}), json!({ "Authorization": "Bearer pg_not_a_token" }), json!({ "Authorization": reader.clone() })]
    {
        let mut ws = open(&s, Some(TRANSPORT), None).await;
        send(&mut ws, json!({ "type": "connection_init", "payload": payload })).await;
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 4403, "{payload}: {reason}");
        assert!(reason.starts_with("Forbidden"), "{reason}");
    }
    // A good token in the payload (any case of the scheme), or on the upgrade request.
    let ws = acked(&s, TRANSPORT, json!({ "Authorization": format!("BEARER {reader}") })).await;
    drop(ws);
    let mut ws = open(&s, Some(TRANSPORT), Some(&reader)).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    send(&mut ws, subscribe("q", "{ stats { entities } }")).await;
    assert_eq!(next_json(&mut ws).await["type"], "next");
    // A bad token on the upgrade request gets no socket.
    let mut req = ws_url(&s).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", TRANSPORT.parse().unwrap());
    req.headers_mut().insert("authorization", "Bearer pg_nope".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status().as_u16(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
    drop(ws);
    s.stop().await;
    // With public reads, a bad token is refused too, rather than taken as anonymous.
    let (_dir, s) = start_default().await;
    let mut ws = open(&s, Some(TRANSPORT), None).await;
    send(&mut ws, json!({ "type": "connection_init", "payload": { "Authorization": "Bearer pg_nope" } })).await;
    assert_eq!(close_of(&mut ws).await.0, 4403);
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn the_101st_operation_on_a_socket_is_refused() {
    let (_dir, s) = start_default().await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    for i in 1..=100 {
        send(&mut ws, subscribe(&i.to_string(), QUIET_SUB)).await;
    }
    send(&mut ws, subscribe("101", QUIET_SUB)).await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "error", "{msg}");
    assert_eq!(msg["id"], "101");
    assert_eq!(msg["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS", "{msg}");
    // A query is an operation too.
    send(&mut ws, subscribe("q", "{ stats { entities } }")).await;
    assert_eq!(next_json(&mut ws).await["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS");
    // The socket stays open; completing one makes room for another.
    send(&mut ws, json!({ "id": "1", "type": "complete" })).await;
    send(&mut ws, subscribe("101", QUIET_SUB)).await;
    ping_pong(&mut ws).await;
    send(&mut ws, subscribe("102", QUIET_SUB)).await;
    assert_eq!(next_json(&mut ws).await["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS");
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn a_client_has_a_limit_over_all_its_sockets() {
    let config = ws_config(WsConfig { max_subscriptions_per_client: 3, ..Default::default() });
    let (_dir, s) = start(config).await;
    let reader = s.token("r", Role::Reader).await;
    let mut a = acked(&s, TRANSPORT, json!({})).await;
    let mut b = acked(&s, TRANSPORT, json!({})).await;
    for id in ["1", "2"] {
        send(&mut a, subscribe(id, QUIET_SUB)).await;
    }
    send(&mut b, subscribe("1", QUIET_SUB)).await;
    ping_pong(&mut b).await;
    send(&mut b, subscribe("2", QUIET_SUB)).await;
    let msg = next_json(&mut b).await;
    assert_eq!(msg["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS", "{msg}");
    // A token is a client of its own.
    let mut t = acked(&s, TRANSPORT, json!({ "Authorization": format!("Bearer {reader}") })).await;
    send(&mut t, subscribe("1", QUIET_SUB)).await;
    ping_pong(&mut t).await;
    // Closing a socket gives its places back.
    a.close(None).await.unwrap();
    let mut n = 0;
    loop {
        n += 1;
        send(&mut b, subscribe(&format!("retry{n}"), QUIET_SUB)).await;
        send(&mut b, json!({ "type": "ping" })).await;
        let msg = next_json(&mut b).await;
        if msg["type"] == "pong" {
            break;
        }
        assert_eq!(msg["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS", "{msg}");
        assert_eq!(next_json(&mut b).await["type"], "pong");
        assert!(n < 50, "the closed socket's places did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((a, b, t));
    s.stop().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_closed_1009() {
    let (_dir, s) = start_default().await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    let big = format!("{{ {} }}", "__typename ".repeat(30_000));
    assert!(big.len() > 256 * 1024);
    send(&mut ws, subscribe("big", &big)).await;
    assert_eq!(close_of(&mut ws).await.0, 1009);
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn a_socket_that_does_not_answer_pings_is_closed() {
    let config = ws_config(WsConfig { ping_interval: Duration::from_millis(200), ..Default::default() });
    let (_dir, s) = start(config).await;
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    // Not reading means not answering the server's pings.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut pings = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap() {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            other => panic!("{other:?}"),
        }
    };
    assert!(pings >= 1);
    assert_eq!(code, 1001);
    // A socket that reads (and so answers) stays open.
    let mut ws = acked(&s, TRANSPORT, json!({})).await;
    let until = tokio::time::Instant::now() + Duration::from_millis(1000);
    while let Ok(msg) = tokio::time::timeout_at(until, ws.next()).await {
        assert!(matches!(msg, Some(Ok(Message::Ping(_)))), "{msg:?}");
    }
    ping_pong(&mut ws).await;
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn the_legacy_protocol_still_works() {
    let (_dir, s) = start_default().await;
    let editor = s.token("ed", Role::Editor).await;
    let mut ws = open(&s, Some(LEGACY), None).await;
    send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    send(&mut ws, json!({ "id": "a", "type": "start", "payload": { "query": QUIET_SUB } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    add_alias(&s, &editor, "E.X.O.").await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "data", "{msg}");
    assert_eq!(msg["id"], "a");
    assert_eq!(msg["payload"]["data"]["entityChanged"]["entity"]["aliases"], json!(["EXO", "E.X.O."]));
    // `stop` is confirmed with `complete`.
    send(&mut ws, json!({ "id": "a", "type": "stop" })).await;
    assert_eq!(next_json(&mut ws).await, json!({ "id": "a", "type": "complete" }));
    // A query: `data`, then `complete`.
    send(&mut ws, json!({ "id": "q", "type": "start", "payload": { "query": "{ stats { entities } }" } })).await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "data", "{msg}");
    assert!(msg["payload"]["data"]["stats"]["entities"].as_i64().unwrap() > 0);
    assert_eq!(next_json(&mut ws).await, json!({ "id": "q", "type": "complete" }));
    // Validation errors: `error`, one error object.
    send(&mut ws, json!({ "id": "v", "type": "start", "payload": { "query": "subscription { nope }" } })).await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "error", "{msg}");
    assert_eq!(msg["payload"]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{msg}");
    // `connection_terminate` closes the socket.
    send(&mut ws, json!({ "type": "connection_terminate" })).await;
    assert_eq!(close_of(&mut ws).await.0, 1000);
    drop(ws);
    s.stop().await;
}

#[tokio::test]
async fn the_legacy_protocol_sends_keep_alives_and_says_why_it_closes() {
    let config = ws_config(WsConfig { ping_interval: Duration::from_millis(200), ..Default::default() });
    let (_dir, s) = start(config).await;
    let mut ws = open(&s, Some(LEGACY), None).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    let mut kas = 0;
    let mut acked = false;
    while kas < 3 {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                match v["type"].as_str().unwrap() {
                    "connection_ack" => acked = true,
                    "ka" => kas += 1,
                    other => panic!("{other}"),
                }
            }
            Message::Ping(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(acked);
    // A fatal error: `connection_error` with the reason, then the close code.
    send(&mut ws, json!({ "type": "connection_init" })).await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "connection_error", "{msg}");
    assert_eq!(msg["payload"]["message"], "Too many initialisation requests");
    assert_eq!(close_of(&mut ws).await.0, 4429);
    drop(ws);
    s.stop().await;
}
