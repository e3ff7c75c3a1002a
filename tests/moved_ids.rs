//! IDs a service stored before the graph changed, asked of the real server: a merged entity's
//! ID answers the survivor (through a chain of merges, and after a restart), an old slug
//! answers its entity, a deleted record answers null with `DELETED`, an ID never given out
//! stays a plain null.

use crate::common::{error_codes, mini_seed, TestServer};
use policygraph::auth::Role;
use serde_json::{json, Value};

async fn ok(s: &TestServer, token: &str, query: &str) -> Value {
    let body = s.query_as(token, query, json!({})).await;
    assert!(body.get("errors").is_none(), "{query}: {body:#}");
    body["data"].clone()
}

async fn create_person(s: &TestServer, token: &str, slug: &str) {
    ok(s, token, &format!(r#"mutation {{ createEntity(input: {{ kind: PERSON, slug: "{slug}", name: "{slug}" }}) {{ entity {{ id }} }} }}"#)).await;
}

#[tokio::test]
async fn old_ids_lead_to_the_survivor_or_say_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let editor = s.token("editor", Role::Editor).await;
    for slug in ["dup-a", "dup-b", "dup-c", "gone-d", "renamed-e"] {
        create_person(&s, &editor, slug).await;
    }
    // a into b, then b into c: a's ID must follow both merges.
    ok(&s, &editor, r#"mutation { mergeEntities(input: { keep: "dup-b", remove: "dup-a" }) { entity { id } } }"#).await;
    ok(&s, &editor, r#"mutation { mergeEntities(input: { keep: "dup-c", remove: "dup-b" }) { entity { id } } }"#).await;
    ok(&s, &editor, r#"mutation { deleteEntity(input: { id: "gone-d" }) { deletedId } }"#).await;
    ok(&s, &editor, r#"mutation { updateEntity(input: { id: "renamed-e", slug: "renamed-e2" }) { entity { slug } } }"#)
        .await;
    ok(&s, &editor, r#"mutation { deleteRelation(input: { id: "holds_role:ana-nunez-perez:exo" }) { deletedId } }"#)
        .await;

    for round in ["before a restart", "after a restart"] {
        // node: the survivor, whose `id` tells the client that it moved.
        let d = s.data(r#"{ node(id: "Person:dup-a") { id ... on Person { slug name } } }"#, json!({})).await;
        assert_eq!(d["node"]["id"], "Person:dup-c", "{round}: {d}");
        assert_eq!(d["node"]["slug"], "dup-c");

        // entity(slug:): a merged entity's slug, and the slug an entity had before a rename.
        let d =
            s.data(r#"{ a: entity(slug: "dup-b") { id } e: entity(slug: "renamed-e") { id slug } }"#, json!({})).await;
        assert_eq!(d["a"]["id"], "Person:dup-c", "{round}");
        assert_eq!(d["e"], json!({ "id": "Person:renamed-e", "slug": "renamed-e2" }), "{round}");

        // nodes: each ID in its place; a deleted one is a null with an error at its index.
        let body = s
            .query(
                r#"{ nodes(ids: ["Person:dup-a", "Person:gone-d", "Person:never-was", "Person:dup-c"]) { id } }"#,
                json!({}),
            )
            .await;
        assert_eq!(
            body["data"]["nodes"],
            json!([{ "id": "Person:dup-c" }, null, null, { "id": "Person:dup-c" }]),
            "{round}: {body}"
        );
        assert_eq!(error_codes(&body), ["DELETED"], "only the deleted ID is an error: {body}");
        assert_eq!(body["errors"][0]["path"], json!(["nodes", 1]), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("gone-d") && message.contains("deleted"), "{message}");

        // node and entity(slug:) of a deleted entity; relation(key:) and node of a deleted relation.
        for q in [
            r#"{ node(id: "Person:gone-d") { id } }"#,
            r#"{ entity(slug: "gone-d") { id } }"#,
            r#"{ relation(key: "holds_role:ana-nunez-perez:exo") { id } }"#,
            r#"{ node(id: "Relation:holds_role:ana-nunez-perez:exo") { id } }"#,
        ] {
            let body = s.query(q, json!({})).await;
            assert_eq!(error_codes(&body), ["DELETED"], "{round}: {q}: {body}");
            let data = &body["data"];
            assert!(data.is_null() || data.as_object().unwrap().values().all(Value::is_null), "{q}: {body}");
        }

        // Never given out: as before, null for `node`, NOT_FOUND for `entity`.
        let d = s.data(r#"{ node(id: "Person:never-was") { id } }"#, json!({})).await;
        assert!(d["node"].is_null());
        let body = s.query(r#"{ entity(slug: "never-was") { id } }"#, json!({})).await;
        assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");

        // The change feed says where each merged entity went.
        let d = s
            .data(
                r#"{ changes(first: 100) { pageInfo { hasNextPage } edges { node { action targetId deleted mergedInto } } } }"#,
                json!({}),
            )
            .await;
        assert_eq!(d["changes"]["pageInfo"]["hasNextPage"], false, "the whole feed in one page");
        let merges: Vec<&Value> = d["changes"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"])
            .filter(|c| c["action"] == "mergeEntities" && c["deleted"] == true)
            .collect();
        assert_eq!(
            merges.iter().map(|c| (c["targetId"].clone(), c["mergedInto"].clone())).collect::<Vec<_>>(),
            [(json!("Person:dup-a"), json!("Person:dup-b")), (json!("Person:dup-b"), json!("Person:dup-c"))],
            "{d}"
        );
        let plain: Vec<&Value> = d["changes"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["node"])
            .filter(|c| c["action"] != "mergeEntities")
            .collect();
        assert!(plain.iter().all(|c| c["mergedInto"].is_null()), "{d}");

        if round == "before a restart" {
            // The answers come from the store's record, not from the process's memory.
            s.stop().await;
            s = TestServer::start(dir.path(), Some(&mini_seed())).await;
        }
    }
    s.stop().await;
}
