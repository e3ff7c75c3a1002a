//! Bounded inputs through the real server: values past their limits, control and invisible
//! formatting characters, and quotes that are not in their document are refused with
//! `BAD_USER_INPUT` and the field named, before anything is written; valid values still pass.

use crate::common::{error_codes, mini_seed, TestServer};
use policygraph::auth::Role;
use policygraph::domain::limits;
use serde_json::{json, Value};

async fn server() -> (TestServer, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let editor = s.token("ed", Role::Editor).await;
    (s, editor, dir)
}

const CREATE_ENTITY: &str = r#"mutation($input: CreateEntityInput!) { createEntity(input: $input) { entity { id slug name aliases summary } } }"#;
const CREATE_RELATION: &str = r#"mutation($input: CreateRelationInput!) { createRelation(input: $input) {
    relation { id title citations { quote document { slug } } quantities { name quote } } } }"#;

async fn generation(s: &TestServer) -> i64 {
    s.data("{ stats { generation } }", json!({})).await["stats"]["generation"].as_i64().unwrap()
}

/// Asserts the answer is one `BAD_USER_INPUT` for `field`, whose message names the field and
/// says `says`, and does not repeat the input; returns the message.
fn refused(body: &Value, field: &str, says: &str) -> String {
    assert_eq!(error_codes(body), ["BAD_USER_INPUT"], "{field}: {body:#}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["field"], field, "{body:#}");
    let message = error["message"].as_str().unwrap().to_string();
    assert!(message.contains(&format!("`{field}`")) && message.contains(says), "{field}: {message}");
    assert!(message.len() < 400, "the message repeats the input: {} bytes", message.len());
    message
}

async fn entity_exists(s: &TestServer, slug: &str) -> bool {
    let body = s.query("query($s: String!) { entity(slug: $s) { id } }", json!({ "s": slug })).await;
    match error_codes(&body).as_slice() {
        [] => true,
        [code] if code == "NOT_FOUND" => false,
        _ => panic!("{body}"),
    }
}

fn entity(slug: &str, name: &str) -> Value {
    json!({ "kind": "PERSON", "slug": slug, "name": name })
}

#[tokio::test]
async fn a_250_kb_name_and_10000_aliases_are_refused_and_nothing_is_written() {
    let (s, editor, _d) = server().await;
    let before = generation(&s).await;

    let huge = "x".repeat(250_000);
    let body = s.query_as(&editor, CREATE_ENTITY, json!({ "input": entity("huge-name", &huge) })).await;
    let message = refused(&body, "name", "250000 characters long");
    assert!(message.contains(&format!("at most {}", limits::NAME.max_chars)), "{message}");
    assert!(!entity_exists(&s, "huge-name").await);

    let aliases: Vec<String> = (0..10_000).map(|i| format!("alias {i}")).collect();
    let mut input = entity("many-aliases", "Many Aliases");
    input["aliases"] = json!(aliases);
    let body = s.query_as(&editor, CREATE_ENTITY, json!({ "input": input })).await;
    refused(&body, "aliases", &format!("has 10000 entries; at most {} are allowed", limits::ALIASES));
    assert!(!entity_exists(&s, "many-aliases").await);

    // One alias too long, or one alias too many on an entity that has its fill: the same.
    let mut input = entity("long-alias", "Long Alias");
    input["aliases"] = json!(["fine", "y".repeat(limits::ALIAS.max_chars + 1)]);
    let body = s.query_as(&editor, CREATE_ENTITY, json!({ "input": input })).await;
    refused(&body, "aliases[1]", "characters long");
    assert!(!entity_exists(&s, "long-alias").await);

    // The longest allowed still passes, and is stored whole.
    let longest = "z".repeat(limits::NAME.max_chars);
    let body = s.query_as(&editor, CREATE_ENTITY, json!({ "input": entity("longest-name", &longest) })).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["createEntity"]["entity"]["name"], longest.as_str());

    // A summary past its limit on an update leaves the entity as it was.
    let update = r#"mutation($s: String) { updateEntity(input: { id: "exo", summary: $s }) { entity { summary } } }"#;
    let body = s.query_as(&editor, update, json!({ "s": "s".repeat(limits::SUMMARY.max_chars + 1) })).await;
    refused(&body, "summary", "characters long");
    let d = s.data(r#"{ entity(slug: "exo") { summary version } }"#, json!({})).await;
    assert_eq!(d["entity"], json!({ "summary": "An organization invented for the tests.", "version": 1 }));
    assert_eq!(generation(&s).await, before + 1, "only the valid entity was written");
    assert!(s.service.index_matches_store().await.unwrap());
    s.stop().await;
}

#[tokio::test]
async fn nul_escape_and_bidi_override_characters_are_refused_naming_the_field() {
    let (s, editor, _d) = server().await;
    let before = generation(&s).await;
    let with = |slug: &str, field: &str, value: Value| {
        let mut input = entity(slug, "Plain Name");
        input[field] = value;
        json!({ "input": input })
    };
    let cases = [
        ("nul-name", with("nul-name", "name", json!("Bo\u{0}Chen")), "name", "U+0000"),
        ("ansi-alias", with("ansi-alias", "aliases", json!(["ok", "\u{1b}[31mred\u{1b}[0m"])), "aliases[1]", "U+001B"),
        ("bidi-summary", with("bidi-summary", "summary", json!("evil\u{202e}gpj.exe")), "summary", "U+202E"),
        ("isolate-type", with("isolate-type", "type", json!("a\u{2066}b\u{2069}")), "type", "U+2066"),
        ("zwsp-name", with("zwsp-name", "name", json!("I\u{200b}OM")), "name", "U+200B"),
        ("c1-name", with("c1-name", "name", json!("a\u{9b}31m")), "name", "U+009B"),
        ("newline-name", with("newline-name", "name", json!("Bo\nChen")), "name", "U+000A"),
        ("del-url", with("del-url", "url", json!("https://example.org/\u{7f}")), "url", "U+007F"),
    ];
    for (slug, variables, field, says) in cases {
        let body = s.query_as(&editor, CREATE_ENTITY, variables).await;
        refused(&body, field, says);
        assert!(!entity_exists(&s, slug).await, "{slug} was written");
    }

    // Every other path that writes text: an alias, an update, a relation's title.
    let add_alias = r#"mutation($a: String!) { addAlias(input: { id: "exo", alias: $a }) { entity { aliases } } }"#;
    refused(&s.query_as(&editor, add_alias, json!({ "a": "E\u{1b}]0;owned\u{7}XO" })).await, "alias", "U+001B");
    let rename = r#"mutation($n: String) { updateEntity(input: { id: "bo-chen", name: $n }) { entity { name } } }"#;
    refused(&s.query_as(&editor, rename, json!({ "n": "Bo \u{202e}Chen" })).await, "name", "U+202E");
    let retitle = r#"mutation($t: String) { updateRelation(input: { id: "holds_role:ana-nunez-perez:exo", title: $t }) { relation { title } } }"#;
    refused(&s.query_as(&editor, retitle, json!({ "t": "Director\u{0}" })).await, "title", "U+0000");
    let body = s
        .query_as(
            &editor,
            CREATE_RELATION,
            json!({ "input": { "kind": "SUPPORTS", "from": "bo-chen", "to": "exo", "title": "a\u{202d}b",
                "citations": [{ "document": "note" }] } }),
        )
        .await;
    refused(&body, "title", "U+202D");

    let d = s.data(r#"{ entity(slug: "exo") { aliases } e: entity(slug: "bo-chen") { name } }"#, json!({})).await;
    assert_eq!(d, json!({ "entity": { "aliases": ["EXO"] }, "e": { "name": "Bo Chen" } }));
    assert_eq!(generation(&s).await, before, "nothing was written");
    s.stop().await;
}

#[tokio::test]
async fn quotes_must_be_verbatim_in_their_document_and_bounded() {
    let (s, editor, _d) = server().await;
    let before = generation(&s).await;
    let relation = |citations: Value| json!({ "input": { "kind": "SUPPORTS", "from": "bo-chen", "to": "Policy:regional-strategy", "citations": citations } });

    let body = s
        .query_as(
            &editor,
            CREATE_RELATION,
            relation(json!([{ "document": "note", "quote": "The Order was signed by Joe Biden on 3 March 2021." }])),
        )
        .await;
    refused(&body, "citations[0].quote", "not found verbatim in document `note`");

    let long = format!("The Order calls for a Regional Strategy {}", "and more ".repeat(22_300));
    assert!(long.len() > 200_000);
    let body = s.query_as(&editor, CREATE_RELATION, relation(json!([{ "document": "note", "quote": long }]))).await;
    refused(&body, "citations[0].quote", &format!("at most {} are allowed", limits::QUOTE.max_chars));

    // The second citation is the bad one; the first does not save the relation.
    let body = s
        .query_as(
            &editor,
            CREATE_RELATION,
            relation(json!([
                { "document": "note", "quote": "The Order calls for a Regional Strategy" },
                { "document": "Document:note", "quote": "The Order calls for a Regional Strategy\u{0}" },
            ])),
        )
        .await;
    refused(&body, "citations[1].quote", "U+0000");

    let too_many: Vec<Value> = (0..=limits::CITATIONS).map(|_| json!({ "document": "note" })).collect();
    let body = s.query_as(&editor, CREATE_RELATION, relation(json!(too_many))).await;
    refused(&body, "citations", "entries");

    // A quantity's quote too.
    let mut input = relation(json!([{ "document": "note", "quote": "The Order calls for a Regional Strategy" }]));
    input["input"]["quantities"] = json!([{ "name": "funding", "value": 9.0, "unit": "USD", "quote": "US$ 9M" }]);
    refused(&s.query_as(&editor, CREATE_RELATION, input).await, "quantities[0].quote", "not found verbatim");

    // Adding a citation to a relation that exists: the same rule, in the input's own fields.
    let add = r#"mutation($q: String) { addCitation(input: { relation: "signed:bo-chen:open-borders-order", document: "note", quote: $q }) { relation { citations { quote } } } }"#;
    refused(&s.query_as(&editor, add, json!({ "q": "Bo Chen signed it." })).await, "quote", "not found verbatim");

    // A document made through the API has no text to check a quote against: cited bare only.
    let body = s
        .query_as(&editor, CREATE_ENTITY, json!({ "input": { "kind": "DOCUMENT", "slug": "memo", "name": "A memo" } }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let after_memo = generation(&s).await;
    let body = s
        .query_as(&editor, CREATE_RELATION, relation(json!([{ "document": "memo", "quote": "Anything at all." }])))
        .await;
    refused(&body, "citations[0].quote", "the text of document `memo` is not known");
    assert_eq!(generation(&s).await, after_memo, "nothing was written");
    assert_eq!(after_memo, before + 1);

    let d = s.data(r#"{ entity(slug: "bo-chen") { relations { totalCount } } }"#, json!({})).await;
    assert_eq!(d["entity"]["relations"]["totalCount"], 1, "only the seeded relation");
    let body = s.query_as(&editor, CREATE_RELATION, relation(json!([{ "document": "memo" }]))).await;
    assert!(body.get("errors").is_none(), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn valid_entities_and_relations_with_verbatim_quotes_are_accepted() {
    let (s, editor, _d) = server().await;
    let mut input = entity("carla-diaz", "  Carla Díaz-Ortiz  ");
    input["aliases"] = json!(["C. Díaz", "Carla Diaz"]);
    input["summary"] = json!("A person invented for the tests: “quoted”, with accents – and a dash.");
    input["url"] = json!("https://example.org/carla");
    let body = s.query_as(&editor, CREATE_ENTITY, json!({ "input": input })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let e = &body["data"]["createEntity"]["entity"];
    assert_eq!(e["name"], "Carla Díaz-Ortiz", "trimmed, as before");
    assert_eq!(e["aliases"], json!(["C. Díaz", "Carla Diaz"]));

    // The quote runs across a line break of the document: runs of whitespace count as one.
    let quote = "welcomes the Open Borders Order.\n\"We are glad,\"";
    let body = s
        .query_as(
            &editor,
            CREATE_RELATION,
            json!({ "input": { "kind": "WELCOMES", "from": "carla-diaz", "to": "open-borders-order",
                "title": "Observer",
                "quantities": [{ "name": "funding", "value": 850000.0, "unit": "USD", "quote": "US$ 850K" }],
                "citations": [{ "document": "Document:note", "quote": quote }, { "document": "note" }] } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let r = &body["data"]["createRelation"]["relation"];
    assert_eq!(r["citations"][0], json!({ "quote": quote, "document": { "slug": "note" } }));
    assert_eq!(r["citations"][1]["quote"], Value::Null);
    assert_eq!(r["quantities"][0]["quote"], "US$ 850K");

    let add = r#"mutation { addCitation(input: { relation: "welcomes:carla-diaz:open-borders-order", document: "note",
        quote: "The Order calls for a Regional Strategy" }) { relation { version citations { quote } } } }"#;
    let body = s.query_as(&editor, add, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["addCitation"]["relation"]["citations"].as_array().unwrap().len(), 3);
    assert!(s.service.index_matches_store().await.unwrap());
    s.stop().await;
}
