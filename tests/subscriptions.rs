//! Subscriptions over websocket with a real client, in both protocols: subscribe, mutate over
//! HTTP, receive the event.

use std::time::Duration;

use crate::common::{mini_seed, next_json, TestServer, Ws};
use futures_util::{SinkExt, StreamExt};
use policygraph::auth::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

async fn connect(s: &TestServer, protocol: &str) -> Ws {
    let mut req = format!("{}/graphql", s.url.replace("http://", "ws://")).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (ws, res) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(res.headers().get("sec-websocket-protocol").unwrap(), protocol);
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

const SUB: &str = r#"subscription { relationChanged(entity: "ana-nunez-perez", kinds: [HOLDS_ROLE]) {
    change { action actor target before after } relation { title from { slug } } } }"#;

async fn edit_title(s: &TestServer, token: &str, title: &str) {
    let q = r#"mutation($t: String) { updateRelation(input: { id: "holds_role:ana-nunez-perez:exo", title: $t }) { relation { title } } }"#;
    let body = s.query_as(token, q, json!({ "t": title })).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn graphql_transport_ws_receives_a_mutation() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let editor = s.token("ed", Role::Editor).await;
    let mut ws = connect(&s, "graphql-transport-ws").await;
    send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": SUB } })).await;
    // The protocol has no "subscribed" message; give the server a moment to set up the stream.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A change elsewhere is filtered out; the one we watch arrives.
    let q = r#"mutation { addAlias(input: { id: "exo", alias: "E.X.O." }) { entity { id } } }"#;
    assert!(s.query_as(&editor, q, json!({})).await.get("errors").is_none());
    edit_title(&s, &editor, "Director-General").await;
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["id"], "1");
    let ev = &msg["payload"]["data"]["relationChanged"];
    assert_eq!(ev["change"]["action"], "updateRelation");
    assert_eq!(ev["change"]["actor"], "ed");
    assert_eq!(ev["change"]["before"]["title"], "EXO Director General");
    assert_eq!(ev["relation"]["title"], "Director-General");
    // Ping/pong, then complete.
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    send(&mut ws, json!({ "id": "1", "type": "complete" })).await;
    ws.close(None).await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn legacy_graphql_ws_protocol_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let editor = s.token("ed", Role::Editor).await;
    let mut ws = connect(&s, "graphql-ws").await;
    send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let sub = r#"subscription { entityChanged(slug: "exo") { change { action } entity { aliases } } }"#;
    send(&mut ws, json!({ "id": "a", "type": "start", "payload": { "query": sub } })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let q = r#"mutation { addAlias(input: { id: "exo", alias: "E.X.O." }) { entity { id } } }"#;
    assert!(s.query_as(&editor, q, json!({})).await.get("errors").is_none());
    let mut msg = next_json(&mut ws).await;
    while msg["type"] == "ka" {
        msg = next_json(&mut ws).await;
    }
    assert_eq!(msg["type"], "data", "{msg}");
    assert_eq!(msg["payload"]["data"]["entityChanged"]["entity"]["aliases"], json!(["EXO", "E.X.O."]));
    ws.close(None).await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn private_reads_refuse_an_anonymous_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let service = policygraph::service::Service::open(dir.path()).await.unwrap();
    service.seed(&policygraph::seed::load(&mini_seed()).unwrap()).await.unwrap();
    let reader = policygraph::auth::create_token(service.store(), "r", Role::Reader).await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = policygraph::http::HttpConfig { workers: 1, private_reads: true, ..Default::default() };
    let server = policygraph::http::start(listener, service.clone(), &config).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let q = json!({ "query": "{ stats { entities } }" }).to_string();
    let res = client
        .post(format!("{url}/graphql"))
        .header("content-type", "application/json")
        .body(q.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = client
        .post(format!("{url}/graphql"))
        .header("content-type", "application/json")
        .bearer_auth(&reader)
        .body(q)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // Websocket: connection_init without a token is refused (4403 Forbidden, as
    // graphql-transport-ws has it; the socket used to end with whatever code); with one it is
    // acknowledged.
    let mut req = format!("ws://127.0.0.1:{port}/graphql").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req.clone()).await.unwrap();
    send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap();
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4403),
        other => panic!("expected a close with 4403, got {other:?}"),
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    send(&mut ws, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {reader}") } }))
        .await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    ws.close(None).await.unwrap();
    handle.stop(false).await;
}
