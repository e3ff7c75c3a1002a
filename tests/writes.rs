//! Mutations through the real server: auth, validation, optimistic concurrency, merge, audit
//! trail and change feed, persistence across a restart.

use crate::common::{error_codes, mini_seed, TestServer};
use policygraph::auth::Role;
use serde_json::{json, Value};

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    (s, dir)
}

const UPDATE_TITLE: &str = r#"mutation($t: String) { updateRelation(input: { id: "Relation:holds_role:ana-nunez-perez:exo", title: $t }) {
    relation { title version } changes { action actor } } }"#;

async fn generation(s: &TestServer) -> i64 {
    s.data("{ stats { generation } }", json!({})).await["stats"]["generation"].as_i64().unwrap()
}

#[tokio::test]
async fn anonymous_wrong_and_too_small_tokens_change_nothing() {
    let (s, _d) = server().await;
    let before = generation(&s).await;
    // No token: a GraphQL error with a code; nothing written.
    let body = s.query(UPDATE_TITLE, json!({ "t": "Hacked" })).await;
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
    // A wrong token: 401 before anything runs.
    let res = s
        .client
        .post(s.graphql_url())
        .header("content-type", "application/json")
        .bearer_auth("pg_not-a-real-token")
        .body(json!({ "query": UPDATE_TITLE, "variables": { "t": "Hacked" } }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
    // A reader token: forbidden.
    let reader = s.token("reader-1", Role::Reader).await;
    let body = s.query_as(&reader, UPDATE_TITLE, json!({ "t": "Hacked" })).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(generation(&s).await, before);
    let d = s.data(r#"{ relation(key: "holds_role:ana-nunez-perez:exo") { title } }"#, json!({})).await;
    assert_eq!(d["relation"]["title"], "EXO Director General");
    s.stop().await;
}

#[tokio::test]
async fn an_editor_corrects_a_title_with_optimistic_concurrency() {
    let (s, _d) = server().await;
    let editor = s.token("alice", Role::Editor).await;
    let body = s.query_as(&editor, UPDATE_TITLE, json!({ "t": "Director General of EXO" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["updateRelation"]["relation"]["title"], "Director General of EXO");
    assert_eq!(body["data"]["updateRelation"]["relation"]["version"], 2, "seeded records start at version 1");
    assert_eq!(body["data"]["updateRelation"]["changes"][0], json!({ "action": "updateRelation", "actor": "alice" }));
    // A stale version is refused with CONFLICT.
    let q = r#"mutation { updateRelation(input: { id: "holds_role:ana-nunez-perez:exo", expectedVersion: 0, title: "x" }) { relation { title } } }"#;
    let body = s.query_as(&editor, q, json!({})).await;
    assert_eq!(error_codes(&body), ["CONFLICT"], "{body}");
    // History shows seed then edit, with before and after.
    let d = s
        .data(
            r#"{ relation(key: "holds_role:ana-nunez-perez:exo") { history { actor action before after } } }"#,
            json!({}),
        )
        .await;
    let h = d["relation"]["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0]["actor"].as_str(), h[1]["actor"].as_str()), (Some("seed"), Some("alice")));
    assert_eq!(h[1]["before"]["title"], "EXO Director General");
    assert_eq!(h[1]["after"]["title"], "Director General of EXO");
    s.stop().await;
}

#[tokio::test]
async fn inputs_are_validated_with_the_field_at_fault() {
    let (s, _d) = server().await;
    let editor = s.token("ed", Role::Editor).await;
    let cases = [
        (
            r#"mutation { createEntity(input: { kind: PERSON, slug: "Bad Slug", name: "X" }) { entity { id } } }"#,
            "BAD_USER_INPUT",
            Some("slug"),
        ),
        (
            r#"mutation { createEntity(input: { kind: PERSON, slug: "exo", name: "X" }) { entity { id } } }"#,
            "BAD_USER_INPUT",
            Some("slug"),
        ),
        (
            r#"mutation { createEntity(input: { kind: PERSON, slug: "x", name: "X", date: "31/12/2020" }) { entity { id } } }"#,
            "BAD_USER_INPUT",
            Some("date"),
        ),
        (
            r#"mutation { createEntity(input: { kind: PERSON, slug: "x", name: "  " }) { entity { id } } }"#,
            "BAD_USER_INPUT",
            Some("name"),
        ),
        (
            r#"mutation { createRelation(input: { kind: SUPPORTS, from: "exo", to: "nobody", citations: [{ document: "note" }] }) { relation { id } } }"#,
            "NOT_FOUND",
            Some("to"),
        ),
        (
            r#"mutation { createRelation(input: { kind: SUPPORTS, from: "exo", to: "bo-chen", citations: [] }) { relation { id } } }"#,
            "BAD_USER_INPUT",
            Some("citations"),
        ),
        (
            r#"mutation { createRelation(input: { kind: SUPPORTS, from: "exo", to: "bo-chen", citations: [{ document: "geneva" }] }) { relation { id } } }"#,
            "BAD_USER_INPUT",
            Some("citations[0].document"),
        ),
        (r#"mutation { deleteEntity(input: { id: "exo" }) { deletedId } }"#, "CONFLICT", None),
        (
            r#"mutation { updateEntity(input: { id: "Person:nobody", name: "x" }) { entity { id } } }"#,
            "NOT_FOUND",
            Some("id"),
        ),
    ];
    let before = generation(&s).await;
    for (q, code, field) in cases {
        let body = s.query_as(&editor, q, json!({})).await;
        assert_eq!(error_codes(&body), [code], "{q}\n{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"].as_str(), field, "{q}\n{body}");
    }
    // Cascade needs admin.
    let body = s
        .query_as(&editor, r#"mutation { deleteEntity(input: { id: "exo", cascade: true }) { deletedId } }"#, json!({}))
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    assert_eq!(generation(&s).await, before, "no failed mutation wrote anything");
    let admin = s.token("root", Role::Admin).await;
    let body = s.query_as(&admin, r#"mutation { deleteEntity(input: { id: "bo-chen", cascade: true }) { deletedId changes { target deleted } } }"#, json!({})).await;
    assert_eq!(body["data"]["deleteEntity"]["deletedId"], "Person:bo-chen", "{body}");
    assert_eq!(body["data"]["deleteEntity"]["changes"].as_array().unwrap().len(), 2, "the relation and the entity");
    let body = s.query(r#"{ entity(slug: "bo-chen") { id } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["DELETED"], "a deleted entity says so: {body}");
    s.stop().await;
}

/// Writers that share flushes: independent edits are planned side by side, dependent ones (the
/// relations all end at `exo`) wait for the ones before them. Every change reaches a subscriber
/// once, in order, and survives a restart.
#[tokio::test]
async fn concurrent_writers_share_flushes_without_losing_or_reordering_anything() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let editor = s.token("ed", Role::Editor).await;
    let mut feed = s.service.subscribe();
    let first_seq = s.service.last_seq().await.unwrap() + 1;
    let s = std::sync::Arc::new(s);
    let mut tasks = Vec::new();
    const WRITERS: usize = 24;
    for i in 0..WRITERS {
        let (s, editor) = (s.clone(), editor.clone());
        tasks.push(tokio::spawn(async move {
            let slug = format!("writer-{i}");
            let steps = [
                r#"mutation($slug: String!) { createEntity(input: { kind: PERSON, slug: $slug, name: $slug }) { entity { version } } }"#,
                r#"mutation($slug: ID!) { addAlias(input: { id: $slug, alias: "W" }) { entity { version } } }"#,
                r#"mutation($slug: ID!) { createRelation(input: { kind: SUPPORTS, from: $slug, to: "exo", citations: [{ document: "note" }] }) { relation { id } } }"#,
            ];
            for q in steps {
                let body = s.query_as(&editor, q, json!({ "slug": slug })).await;
                assert!(body.get("errors").is_none(), "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut seqs = Vec::new();
    let mut generations = Vec::new();
    while seqs.len() < 3 * WRITERS {
        let change = tokio::time::timeout(std::time::Duration::from_secs(5), feed.recv()).await.unwrap().unwrap();
        seqs.push(change.entry.seq);
        generations.push(change.entry.generation);
    }
    assert_eq!(seqs, (first_seq..first_seq + 3 * WRITERS as u64).collect::<Vec<_>>(), "published once each, in order");
    assert!(generations.windows(2).all(|w| w[0] < w[1]), "one generation per edit, in order: {generations:?}");
    assert!(feed.try_recv().is_err(), "nothing published twice");
    assert!(s.service.index_matches_store().await.unwrap());
    const SUPPORTERS: &str =
        r#"{ entity(slug: "exo") { relations(first: 100, direction: INCOMING, kinds: [SUPPORTS]) { totalCount } } }"#;
    assert_eq!(s.data(SUPPORTERS, json!({})).await["entity"]["relations"]["totalCount"], WRITERS);
    let d = s.data(r#"{ entity(slug: "writer-7") { aliases version } }"#, json!({})).await;
    assert_eq!(d["entity"], json!({ "aliases": ["W"], "version": 2 }));
    std::sync::Arc::into_inner(s).unwrap().stop().await;
    let s = TestServer::start(dir.path(), None).await;
    let after = s.data(SUPPORTERS, json!({})).await;
    assert_eq!(after["entity"]["relations"]["totalCount"], WRITERS, "every acknowledged edit survives a restart");
    s.stop().await;
}

#[tokio::test]
async fn create_merge_and_add_a_cited_relation_then_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let editor = s.token("ed", Role::Editor).await;
    // A duplicate of Ana, with a relation of its own.
    let body = s
        .query_as(
            &editor,
            r#"mutation { createEntity(input: { kind: PERSON, slug: "a-nunez", name: "A. Núñez", aliases: ["Ana N."] }) { entity { id slug version } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["createEntity"]["entity"]["id"], "Person:a-nunez", "{body}");
    let body = s
        .query_as(
            &editor,
            r#"mutation { createRelation(input: { kind: SUPPORTS, from: "a-nunez", to: "Policy:open-borders-order",
                citations: [{ document: "Document:note", quote: "We are glad," }] }) { relation { id kind from { slug } citations { quote document { slug } } } } }"#,
            json!({}),
        )
        .await;
    let rel = &body["data"]["createRelation"]["relation"];
    assert_eq!(rel["id"], "Relation:supports:a-nunez:open-borders-order", "{body}");
    assert_eq!(rel["citations"][0]["document"]["slug"], "note");
    // Merge the duplicate into Ana.
    let body = s
        .query_as(&editor, r#"mutation { mergeEntities(input: { keep: "ana-nunez-perez", remove: "a-nunez" }) { entity { aliases relations { totalCount } } } }"#, json!({}))
        .await;
    let e = &body["data"]["mergeEntities"]["entity"];
    assert_eq!(e["aliases"], json!(["Ana Nunez Perez", "A. Núñez", "Ana N."]), "{body}");
    assert_eq!(e["relations"]["totalCount"], 2);
    // The duplicate's slug now leads to the entity it was merged into (tests/moved_ids.rs).
    let d = s.data(r#"{ entity(slug: "a-nunez") { id } }"#, json!({})).await;
    assert_eq!(d["entity"]["id"], "Person:ana-nunez-perez");
    let d = s.data(r#"{ search(query: "ana n") { slug } }"#, json!({})).await;
    assert_eq!(d["search"][0]["slug"], "ana-nunez-perez");
    // The change feed lists every change after the seed, in order, and pages.
    let seed_seq = 21;
    let d = s.data("query($s: Int!) { changes(since: $s, first: 2) { latestSeq edges { node { seq action actor targetId deleted } } pageInfo { hasNextPage endCursor } } }", json!({ "s": seed_seq })).await;
    let c = &d["changes"];
    assert_eq!(c["edges"][0]["node"]["action"], "createEntity");
    assert_eq!(c["edges"][0]["node"]["targetId"], "Person:a-nunez");
    assert_eq!(c["pageInfo"]["hasNextPage"], true);
    let latest = c["latestSeq"].as_i64().unwrap();
    let after = c["pageInfo"]["endCursor"].clone();
    let d = s
        .data(
            "query($a: String) { changes(after: $a, first: 100) { edges { node { seq action deleted } } } }",
            json!({ "a": after }),
        )
        .await;
    let rest: Vec<&Value> = d["changes"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    assert_eq!(rest.last().unwrap()["seq"].as_i64().unwrap(), latest);
    assert!(rest.iter().any(|n| n["action"] == "mergeEntities" && n["deleted"] == true));
    let before = s.data("{ stats { entities relations generation } entity(slug: \"ana-nunez-perez\") { aliases relations { edges { node { key citations { quote } } } } } }", json!({})).await;
    assert!(s.service.index_matches_store().await.unwrap());
    s.stop().await;

    let s = TestServer::start(dir.path(), None).await;
    let after = s.data("{ stats { entities relations generation } entity(slug: \"ana-nunez-perez\") { aliases relations { edges { node { key citations { quote } } } } } }", json!({})).await;
    assert_eq!(before, after, "every acknowledged mutation survives a restart");
    s.stop().await;
}

#[tokio::test]
async fn reseeding_keeps_edits_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let editor = s.token("ed", Role::Editor).await;
    let body = s.query_as(&editor, UPDATE_TITLE, json!({ "t": "Director General" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = s
        .query_as(
            &editor,
            r#"mutation { deleteRelation(input: { id: "located_in:note:geneva" }) { deletedId } }"#,
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let data = policygraph::seed::load(&mini_seed()).unwrap();
    let report = s.service.seed(&data).await.unwrap();
    assert!(!report.changed(), "{report}");
    assert_eq!((report.kept_edits, report.kept_deletions), (1, 1), "{report}");
    let d = s.data(r#"{ relation(key: "holds_role:ana-nunez-perez:exo") { title } }"#, json!({})).await;
    assert_eq!(d["relation"]["title"], "Director General");
    let body = s.query(r#"{ relation(key: "located_in:note:geneva") { id } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["DELETED"], "still deleted after the reseed: {body}");
    s.stop().await;
}

#[tokio::test]
async fn concurrent_editors_serialize() {
    let (s, _d) = server().await;
    let editor = s.token("ed", Role::Editor).await;
    let s = std::sync::Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = s.clone();
        let editor = editor.clone();
        tasks.push(tokio::spawn(async move {
            let q =
                r#"mutation($id: ID!, $a: String!) { addAlias(input: { id: $id, alias: $a }) { entity { version } } }"#;
            s.query_as(&editor, q, json!({ "id": "exo", "a": format!("alias {i}") })).await
        }));
    }
    for t in tasks {
        let body = t.await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
    }
    let d = s.data(r#"{ entity(slug: "exo") { aliases version history(first: 100) { action } } }"#, json!({})).await;
    assert_eq!(d["entity"]["aliases"].as_array().unwrap().len(), 41, "no lost update");
    assert_eq!(d["entity"]["version"], 41);
    assert_eq!(d["entity"]["history"].as_array().unwrap().len(), 41);
    assert!(s.service.index_matches_store().await.unwrap());
}

/// A token works as soon as it is created, and a revoked one stops working within a second
/// (tokens are cached for that long, so that a request costs no store read).
#[tokio::test]
async fn a_new_token_works_at_once_and_a_revoked_one_stops_within_a_second() {
    let (s, _d) = server().await;
    let ana = s.token("ana", Role::Editor).await;
    let body = s.query_as(&ana, UPDATE_TITLE, json!({ "t": "First" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    // Created after the cache was filled: still found at once.
    let bo = s.token("bo", Role::Editor).await;
    let body = s.query_as(&bo, UPDATE_TITLE, json!({ "t": "Second" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(s.service.store().remove_token("ana").await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let r = s
        .client
        .post(s.graphql_url())
        .bearer_auth(&ana)
        .json(&json!({ "query": UPDATE_TITLE, "variables": { "t": "Third" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a revoked token is refused");
    s.stop().await;
}

/// `/healthz` reports the applied generation and the store's, equal once a write is answered.
#[tokio::test]
async fn healthz_shows_the_applied_and_the_stored_generation() {
    let (s, _d) = server().await;
    let editor = s.token("ed", Role::Editor).await;
    let body = s.query_as(&editor, UPDATE_TITLE, json!({ "t": "Checked" })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let written = generation(&s).await;
    // The head is read every half second.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let r = s.client.get(format!("{}/healthz", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["generation"].as_i64(), Some(written), "{h}");
    assert_eq!(h["storeGeneration"].as_i64(), Some(written), "{h}");
    assert_eq!(h["backend"], "sled", "{h}");
    s.stop().await;
}
