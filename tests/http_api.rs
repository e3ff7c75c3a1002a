//! The read API over HTTP against the real server: look-ups, global IDs, pagination, search,
//! errors with codes.

use crate::common::{error_codes, mini_seed, TestServer};
use serde_json::{json, Value};

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    (s, dir)
}

#[tokio::test]
async fn entity_by_slug_with_cited_relations() {
    let (s, _d) = server().await;
    let data = s
        .data(
            r#"{ entity(slug: "ana-nunez-perez") { __typename id slug name kind aliases
                 relations(kinds: [HOLDS_ROLE], direction: OUTGOING) { totalCount edges { node {
                   kind title validFrom to { slug name } citations { quote document { slug title publishedOn file } } } } } } }"#,
            json!({}),
        )
        .await;
    let e = &data["entity"];
    assert_eq!(e["__typename"], "Person");
    assert_eq!(e["id"], "Person:ana-nunez-perez");
    assert_eq!(e["kind"], "PERSON");
    assert_eq!(e["aliases"], json!(["Ana Nunez Perez"]));
    let rels = &e["relations"];
    assert_eq!(rels["totalCount"], 1);
    let r = &rels["edges"][0]["node"];
    assert_eq!(r["title"], "EXO Director General");
    assert_eq!(r["validFrom"], "2021-03-03");
    assert_eq!(r["to"]["slug"], "exo");
    assert_eq!(r["citations"][0]["quote"], "said Ana Núñez-Pérez, EXO Director General");
    assert_eq!(r["citations"][0]["document"]["file"], "note.txt");
    assert_eq!(r["citations"][0]["document"]["publishedOn"], "2021-03-03");
    s.stop().await;
}

#[tokio::test]
async fn node_and_nodes_round_trip_every_id() {
    let (s, _d) = server().await;
    let data = s.data("{ entities(first: 100) { totalCount edges { node { id slug __typename } } } }", json!({})).await;
    let edges = data["entities"]["edges"].as_array().unwrap();
    assert_eq!(data["entities"]["totalCount"], 11);
    let ids: Vec<Value> = edges.iter().map(|e| e["node"]["id"].clone()).collect();
    for e in edges {
        let n = &e["node"];
        let got = s
            .data(
                "query($id: ID!) { node(id: $id) { __typename id ... on Entity { slug } } }",
                json!({ "id": n["id"] }),
            )
            .await;
        assert_eq!(got["node"]["__typename"], n["__typename"]);
        assert_eq!(got["node"]["slug"], n["slug"]);
    }
    let mut asked = ids.clone();
    asked.insert(1, json!("Person:nobody"));
    let got = s.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": asked })).await;
    let got = got["nodes"].as_array().unwrap();
    assert_eq!(got.len(), ids.len() + 1);
    assert_eq!(got[0]["id"], ids[0]);
    assert_eq!(got[1], Value::Null, "unknown IDs give null in place");
    assert_eq!(got[2]["id"], ids[1]);
    // A relation is a node too.
    let rel = s.data(r#"{ entity(slug: "bo-chen") { relations { edges { node { id } } } } }"#, json!({})).await;
    let rid = rel["entity"]["relations"]["edges"][0]["node"]["id"].clone();
    let got = s
        .data(
            "query($id: ID!) { node(id: $id) { __typename ... on Relation { kind from { slug } } } }",
            json!({ "id": rid }),
        )
        .await;
    assert_eq!(got["node"]["__typename"], "Relation");
    assert_eq!(got["node"]["kind"], "SIGNED");
    // An ID whose type disagrees with the entity names nothing.
    let got = s.data(r#"{ node(id: "Office:exo") { id } }"#, json!({})).await;
    assert_eq!(got["node"], Value::Null);
    s.stop().await;
}

#[tokio::test]
async fn entities_pages_cover_everything_once() {
    let (s, _d) = server().await;
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let d = s
            .data(
                "query($after: String) { entities(first: 3, after: $after) { totalCount edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let c = &d["entities"];
        assert_eq!(c["pageInfo"]["hasPreviousPage"], after.is_some());
        for e in c["edges"].as_array().unwrap() {
            seen.push(e["node"]["slug"].as_str().unwrap().to_string());
        }
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = Some(c["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "pages come in slug order with no repeats");
    assert_eq!(seen.len(), 11);
    let pillars = s.data("{ entities(kind: PILLAR) { totalCount edges { node { kind } } } }", json!({})).await;
    assert_eq!(pillars["entities"]["totalCount"], 3);
    s.stop().await;
}

#[tokio::test]
async fn relations_paginate_in_order_and_pillars_keep_their_order() {
    let (s, _d) = server().await;
    let q = r#"query($after: String) { entity(slug: "regional-strategy") { relations(first: 1, after: $after, kinds: [HAS_PILLAR]) {
        totalCount edges { node { order to { name } } } pageInfo { hasNextPage endCursor } } } }"#;
    let mut after: Option<String> = None;
    let mut names = Vec::new();
    loop {
        let d = s.data(q, json!({ "after": after })).await;
        let c = &d["entity"]["relations"];
        assert_eq!(c["totalCount"], 3);
        names.push(c["edges"][0]["node"]["to"]["name"].as_str().unwrap().to_string());
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = c["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    assert_eq!(names, ["Safety", "Dignity", "Order"]);
    s.stop().await;
}

#[tokio::test]
async fn search_ignores_case_accents_and_hyphens() {
    let (s, _d) = server().await;
    for q in ["Ana Núñez-Pérez", "ana nunez perez", "NUNEZ-PEREZ", "núñez"] {
        let d = s.data("query($q: String!) { search(query: $q) { slug } }", json!({ "q": q })).await;
        assert_eq!(d["search"][0]["slug"], "ana-nunez-perez", "query {q:?}");
    }
    // By alias, and an exact name ranks first.
    let d = s.data(r#"{ search(query: "exo") { slug } }"#, json!({})).await;
    assert_eq!(d["search"][0]["slug"], "exo");
    let d = s.data(r#"{ search(query: "order", kinds: [PILLAR]) { slug kind } }"#, json!({})).await;
    assert_eq!(d["search"].as_array().unwrap().len(), 1);
    assert_eq!(d["search"][0]["slug"], "order-pillar");
    let body = s.query(r#"{ search(query: " -- ") { slug } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    s.stop().await;
}

#[tokio::test]
async fn errors_carry_codes() {
    let (s, _d) = server().await;
    let body = s.query(r#"{ entity(slug: "nobody") { name } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("nobody"));
    let body = s.query(r#"{ node(id: "no-colon") { id } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let body = s.query(r#"{ node(id: "Spaceship:x") { id } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let body = s.query(r#"{ entities(first: 101) { totalCount } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("100"));
    let body = s.query(r#"{ entities(after: "%%%") { totalCount } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let body = s.query(r#"{ relation(key: "nope") { id } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
    s.stop().await;
}

#[tokio::test]
async fn quantities_are_typed_and_cited() {
    let (s, _d) = server().await;
    let d = s
        .data(r#"{ relation(key: "funds:exo:shelter-project") { kind quantities { name value unit quote document { slug } } } }"#, json!({}))
        .await;
    let q = &d["relation"]["quantities"];
    assert_eq!(
        q[0],
        json!({ "name": "funding", "value": 850000.0, "unit": "USD", "quote": "US$ 850K", "document": { "slug": "note" } })
    );
    assert_eq!(q[1]["value"], 280.0);
    s.stop().await;
}
