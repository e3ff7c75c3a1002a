//! Facts a journalist can check, over HTTP against the real server: citations located in their
//! document's text, sources on entity facts, corroboration and conflicts.

use crate::common::{error_codes, mini_seed, repo_path, TestServer};
use policygraph::auth::Role;
use serde_json::{json, Value};

async fn curated() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // Its tests read the whole seed: no rate limit (see `start_crawler`).
    let s = TestServer::start_crawler(dir.path(), Some(&repo_path("seed"))).await;
    (s, dir)
}

async fn mini() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    (s, dir)
}

/// The `n` characters of `text` from character `offset` on.
fn chars_at(text: &str, offset: usize, n: usize) -> String {
    text.chars().skip(offset).take(n).collect()
}

const DOCUMENTS: &str =
    r#"{ entities(kind: DOCUMENT, first: 10) { edges { node { slug ... on Document { file text sha256 } } } } }"#;

const CITED: &str = r#"query($slug: String!, $after: String) { entity(slug: $slug) {
    relations(direction: OUTGOING, first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { key
      citations { quote offset length context(chars: 30) { before quote after } document { slug } } } } } } }"#;

/// The citations of a document's own relations (its `mentions`, each citing it), every page.
async fn citations_from(s: &TestServer, slug: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = s.data(CITED, json!({ "slug": slug, "after": after })).await;
        let page = &d["entity"]["relations"];
        for e in page["edges"].as_array().unwrap() {
            out.extend(
                e["node"]["citations"].as_array().unwrap().iter().filter(|c| c["document"]["slug"] == slug).cloned(),
            );
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// Every quote of every relation of the curated documents is found again at its offset in
/// `Document.text`, and the text is the file's, byte for byte.
#[tokio::test]
async fn citations_read_back_are_at_their_offset_in_the_document_text() {
    let (s, _d) = curated().await;
    let d = s.data(DOCUMENTS, json!({})).await;
    let docs = d["entities"]["edges"].as_array().unwrap();
    assert_eq!(docs.len(), 5);
    let mut located = 0;
    for doc in docs {
        let doc = &doc["node"];
        let file = doc["file"].as_str().unwrap();
        let bytes = std::fs::read(repo_path("seed/documents").join(file)).unwrap();
        let text = doc["text"].as_str().unwrap();
        assert_eq!(text.as_bytes(), &bytes[..], "Document.text of {file} is its file");
        use sha2::Digest;
        assert_eq!(doc["sha256"].as_str().unwrap(), hex::encode(sha2::Sha256::digest(&bytes)));
        for c in citations_from(&s, doc["slug"].as_str().unwrap()).await {
            let Some(quote) = c["quote"].as_str() else {
                assert!(c["offset"].is_null() && c["length"].is_null() && c["context"].is_null(), "{c}");
                continue;
            };
            let (offset, length) = (c["offset"].as_u64().unwrap() as usize, c["length"].as_u64().unwrap() as usize);
            assert_eq!(length, quote.chars().count());
            assert_eq!(chars_at(text, offset, length), quote, "{file} at {offset}");
            // The first occurrence: nothing earlier holds the quote.
            let first = text.find(quote).unwrap();
            assert_eq!(text[..first].chars().count(), offset);
            let ctx = &c["context"];
            assert_eq!(ctx["quote"], quote);
            let before = ctx["before"].as_str().unwrap();
            let after = ctx["after"].as_str().unwrap();
            assert_eq!(before.chars().count(), offset.min(30));
            assert!(after.chars().count() <= 30);
            assert_eq!(chars_at(text, offset - before.chars().count(), before.chars().count()), before);
            assert_eq!(chars_at(text, offset + length, after.chars().count()), after);
            located += 1;
        }
    }
    assert!(located > 100, "only {located} quotes located");
    s.stop().await;
}

/// A quote with a multi-byte character before it: offsets count characters, not bytes.
#[tokio::test]
async fn offsets_count_characters_and_context_is_bounded() {
    let (s, _d) = mini().await;
    let q = r#"query($c: Int) { relation(key: "signed:bo-chen:open-borders-order") { sourceCount
        citations { quote offset length context(chars: $c) { before quote after } document { ... on Document { text } } } } }"#;
    let d = s.data(q, json!({ "c": 5 })).await;
    let c = &d["relation"]["citations"][0];
    let text = c["document"]["text"].as_str().unwrap();
    let offset = c["offset"].as_u64().unwrap() as usize;
    let byte_offset = text.find("The Order was signed").unwrap();
    assert!(offset < byte_offset, "the text has multi-byte characters before the quote (ú, é)");
    assert_eq!(offset, text[..byte_offset].chars().count());
    assert_eq!(c["context"]["before"], "ral.\n");
    assert_eq!(d["relation"]["sourceCount"], 1);
    // Past the cap, the context is the cap's; a negative number is refused.
    let big = s.data(q, json!({ "c": 1_000_000 })).await;
    let ctx = &big["relation"]["citations"][0]["context"];
    let whole = format!(
        "{}{}{}",
        ctx["before"].as_str().unwrap(),
        ctx["quote"].as_str().unwrap(),
        ctx["after"].as_str().unwrap()
    );
    assert_eq!(whole, text, "the note is shorter than the cap: all of it");
    let body = s.query(q, json!({ "c": -1 })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    s.stop().await;
}

/// `createRelation` and `addCitation` refuse a quote that is not byte for byte in its document
/// (here: a space where the text has a line break), as `check` does.
#[tokio::test]
async fn edits_refuse_a_quote_that_is_not_verbatim() {
    let (s, _d) = mini().await;
    let token = s.token("ed", Role::Editor).await;
    let create = r#"mutation($q: String) { createRelation(input: { kind: SUPPORTS, from: "bo-chen", to: "regional-strategy",
        citations: [{ document: "note", quote: $q }] }) { relation { key citations { offset length } } } }"#;
    for bad in ["Director General. The Order", "Director General.\u{a0}The Order", "the order was signed"] {
        let body = s.query_as(&token, create, json!({ "q": bad })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{bad:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "citations[0].quote");
    }
    let good = "Director General.\nThe Order";
    let body = s.query_as(&token, create, json!({ "q": good })).await;
    assert!(body.get("errors").is_none(), "{body}");
    let c = &body["data"]["createRelation"]["relation"]["citations"][0];
    assert_eq!(c["length"], good.chars().count());
    let add = r#"mutation($q: String) { addCitation(input: { relation: "supports:bo-chen:regional-strategy", document: "note", quote: $q }) {
        relation { citations { quote } } } }"#;
    let body = s.query_as(&token, add, json!({ "q": "Test note,  Geneva." })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    let body = s.query_as(&token, add, json!({ "q": "Test note, Geneva." })).await;
    assert!(body.get("errors").is_none(), "{body}");
    s.stop().await;
}

const FACTS: &str = r#"query($after: String) { entities(first: 25, after: $after) { pageInfo { hasNextPage endCursor }
    edges { node { slug date endDate url quantities { value }
      facts { field value sourceCount quantity { value unit }
        citations { quote offset length document { slug ... on Document { file } } } } } } } }"#;

/// Every date, end date, URL and number of the curated entities has a citation whose quote is
/// at its offset in the document's text, and `facts` lists exactly the entity's facts.
#[tokio::test]
async fn every_curated_date_url_and_number_is_cited_where_it_is_written() {
    let (s, _d) = curated().await;
    let texts: std::collections::HashMap<String, String> = std::fs::read_dir(repo_path("seed/documents"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    let (mut after, mut checked, mut entities) = (Value::Null, 0, 0);
    loop {
        let d = s.data(FACTS, json!({ "after": after })).await;
        for e in d["entities"]["edges"].as_array().unwrap() {
            entities += 1;
            let e = &e["node"];
            let facts = e["facts"].as_array().unwrap();
            let of = |field: &str| facts.iter().filter(|f| f["field"] == field).collect::<Vec<_>>();
            for (field, value) in [("DATE", &e["date"]), ("END_DATE", &e["endDate"]), ("URL", &e["url"])] {
                let found = of(field);
                if value.is_null() {
                    assert!(found.is_empty(), "{}: {field} {found:?}", e["slug"]);
                    continue;
                }
                assert_eq!(found.len(), 1);
                assert_eq!(&found[0]["value"], value);
                assert!(found[0]["sourceCount"].as_u64().unwrap() >= 1, "{}: {field} uncited", e["slug"]);
            }
            assert_eq!(of("QUANTITY").len(), e["quantities"].as_array().unwrap().len());
            for f in facts {
                let mut docs = std::collections::HashSet::new();
                for c in f["citations"].as_array().unwrap() {
                    docs.insert(c["document"]["slug"].as_str().unwrap().to_string());
                    let text = &texts[c["document"]["file"].as_str().unwrap()];
                    let quote = c["quote"].as_str().expect("entity facts are cited with a quote");
                    let (offset, length) =
                        (c["offset"].as_u64().unwrap() as usize, c["length"].as_u64().unwrap() as usize);
                    assert_eq!(chars_at(text, offset, length), quote);
                    checked += 1;
                }
                assert_eq!(f["sourceCount"].as_u64().unwrap() as usize, docs.len());
                if f["field"] == "QUANTITY" {
                    assert!(!f["citations"].as_array().unwrap().is_empty(), "{}: uncited number", e["slug"]);
                    let (value, unit) =
                        (f["quantity"]["value"].as_f64().unwrap(), f["quantity"]["unit"].as_str().unwrap());
                    assert_eq!(f["value"], format!("{value} {unit}"));
                }
            }
        }
        let page = &d["entities"]["pageInfo"];
        if page["hasNextPage"] != true {
            break;
        }
        after = page["endCursor"].clone();
    }
    let curated = policygraph::seed::load(std::path::Path::new("seed")).unwrap().entities.len();
    assert_eq!(entities, curated, "every curated entity was read");
    assert!(checked >= 30, "only {checked} fact citations");
    s.stop().await;
}

/// A copy of the mini seed with `from` replaced by `to` in `file`.
fn mini_with(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["documents", "entities", "relations"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(mini_seed().join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).unwrap();
        }
    }
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in {file}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    dir
}

fn problems(dir: &std::path::Path) -> Vec<String> {
    match policygraph::seed::load(dir) {
        Ok(_) => vec![],
        Err(policygraph::seed::SeedError::Invalid(ps)) => ps.iter().map(|p| p.to_string()).collect(),
        Err(e) => panic!("{e}"),
    }
}

/// `check` refuses a stated date, URL or number without a citation, naming file, record and
/// field, and a citation of a fact the entity does not state.
#[test]
fn check_refuses_an_uncited_date_url_or_number() {
    assert!(problems(&mini_seed()).is_empty());
    let cases = [
        (r#"date = [{ document = "note.txt", quote = "founded in 1951" }]"#, "", "`exo`: field `date`: a stated date needs a citation"),
        (r#"name = "Regional Strategy""#, "name = \"Regional Strategy\"\nurl = \"https://example.org/strategy\"", "`regional-strategy`: field `url`: a stated url needs a citation"),
        (r#"name = "Bo Chen""#, "name = \"Bo Chen\"\nend_date = \"2022\"", "`bo-chen`: field `end_date`: a stated end_date needs a citation"),
        (r#"name = "Shelter Project""#, "name = \"Shelter Project\"\nquantities = [{ name = \"families\", value = 280, unit = \"families\", document = \"note.txt\" }]", "`shelter-project`: field `quantities[0].quote`: a stated number needs its source"),
        (r#"quote = "founded in 1951""#, r#"quote = "founded in 1952""#, "`exo`: field `sources.date[0].quote`: not found verbatim"),
        (r#"alias = "EXO""#, r#"alias = "XO""#, "`exo`: field `sources.aliases[0].alias`: `XO` is not one of the entity's aliases"),
        (r#"name = "Geneva""#, "name = \"Geneva\"\n\n[entity.sources]\ndate = [{ document = \"note.txt\", quote = \"Geneva\" }]", "`geneva`: field `sources.date`: cites a date the entity does not state"),
    ];
    for (from, to, expected) in cases {
        let dir = mini_with("entities/all.toml", from, to);
        let found = problems(dir.path());
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with("entities/all.toml: entity #"), "{}", found[0]);
        assert!(found[0].contains(expected), "{} should say {expected}", found[0]);
    }
}

const CONFLICTS: &str = r#"query($kinds: [ConflictKind!]) { conflicts(kinds: $kinds, first: 100) { kind description subject { slug }
    claims { value relation { key } citations { quote document { slug } } } } }"#;

/// On the curated graph: `conflicts` finds none of any kind (the mutations test below shows
/// each kind is found when it is there). A contradiction a curation brings in fails this test
/// until it is resolved against the texts.
#[tokio::test]
async fn the_curated_graph_has_no_contradiction_it_can_see() {
    let (s, _d) = curated().await;
    let d = s.data(CONFLICTS, json!({ "kinds": null })).await;
    assert_eq!(d["conflicts"], json!([]), "{:#}", d["conflicts"]);
    let d = s.data(CONFLICTS, json!({ "kinds": ["OVERLAPPING_ROLE", "EVENT_DATES", "QUANTITY"] })).await;
    assert_eq!(d["conflicts"], json!([]));
    s.stop().await;
}

/// Each kind of contradiction, made through mutations on the mini graph (which has none), is
/// found with the relations and citations involved, and goes when it is corrected.
#[tokio::test]
async fn each_kind_of_conflict_made_by_mutations_is_found() {
    let (s, _d) = mini().await;
    let token = s.token("ed", Role::Editor).await;
    let kinds = |d: &Value| -> Vec<String> {
        d["conflicts"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap().to_string()).collect()
    };
    assert!(kinds(&s.data(CONFLICTS, json!({})).await).is_empty(), "the mini graph has no contradiction");
    let edit = |q: &'static str, v: Value| {
        let (s, token) = (&s, &token);
        async move {
            let body = s.query_as(token, q, v).await;
            assert!(body.get("errors").is_none(), "{body}");
        }
    };
    // Bo Chen given Ana Núñez-Pérez's title at EXO while she holds it.
    edit(
        r#"mutation { createRelation(input: { kind: HOLDS_ROLE, from: "bo-chen", to: "exo", title: "EXO director  general",
            validFrom: "2022-01", citations: [{ document: "note", quote: "Bo Chen" }] }) { relation { key } } }"#,
        json!({}),
    )
    .await;
    // The Order dated 3 March 2021 on its own, signed a month later by its `signed` relation.
    edit(
        r#"mutation { updateRelation(input: { id: "signed:bo-chen:open-borders-order", validFrom: "2021-04-03" }) { relation { key } } }"#,
        json!({}),
    )
    .await;
    // The funding stated twice with two amounts.
    edit(
        r#"mutation { updateRelation(input: { id: "funds:exo:shelter-project", quantities: [
            { name: "funding", value: 850000, unit: "USD", quote: "US$ 850K" },
            { name: "Funding", value: 580000, unit: "usd", quote: "US$ 850K" }] }) { relation { key } } }"#,
        json!({}),
    )
    .await;
    let d = s.data(CONFLICTS, json!({})).await;
    assert_eq!(kinds(&d), ["OVERLAPPING_ROLE", "EVENT_DATES", "QUANTITY"], "{d:#}");
    let [role, dates, number] = [0, 1, 2].map(|i| d["conflicts"][i].clone());
    assert_eq!(role["subject"]["slug"], "exo");
    let keys: Vec<&str> =
        role["claims"].as_array().unwrap().iter().map(|c| c["relation"]["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&"holds_role:ana-nunez-perez:exo") && keys.contains(&"holds_role:bo-chen:exo"), "{keys:?}");
    assert_eq!(role["claims"][0]["citations"][0]["document"]["slug"], "note");
    assert_eq!(dates["subject"]["slug"], "open-borders-order");
    let values: Vec<&str> = dates["claims"].as_array().unwrap().iter().map(|c| c["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["2021-03-03", "2021-04-03"]);
    assert!(dates["claims"][0]["relation"].is_null(), "the entity's own date");
    assert_eq!(dates["claims"][0]["citations"][0]["quote"], "The Order was signed by Bo Chen on 3 March 2021.");
    assert_eq!(dates["claims"][1]["relation"]["key"], "signed:bo-chen:open-borders-order");
    assert_eq!(number["claims"][0]["relation"]["key"], "funds:exo:shelter-project");
    assert_eq!(number["claims"][1]["citations"][0]["quote"], "US$ 850K");
    // Only the kinds asked for; and a date that only says less is no contradiction.
    let only = s.data(CONFLICTS, json!({ "kinds": ["QUANTITY"] })).await;
    assert_eq!(kinds(&only), ["QUANTITY"]);
    edit(
        r#"mutation { updateRelation(input: { id: "signed:bo-chen:open-borders-order", validFrom: "2021-03" }) { relation { key } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(kinds(&s.data(CONFLICTS, json!({})).await), ["OVERLAPPING_ROLE", "QUANTITY"]);
    s.stop().await;
}

const SINGLE: &str = r#"query($first: Int, $after: String, $kinds: [RelationKind!]) { singleSourced(first: $first, after: $after, kinds: $kinds) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { key sourceCount } } } }"#;

/// `singleSourced` lists the relations citing one document, a page at a time; a relation a
/// second document cites leaves it.
#[tokio::test]
async fn single_sourced_relations_and_their_corroboration() {
    let (s, _d) = mini().await;
    let token = s.token("ed", Role::Editor).await;
    let all = |d: &Value| -> Vec<String> {
        d["singleSourced"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["key"].as_str().unwrap().to_string())
            .collect()
    };
    let d = s.data(SINGLE, json!({ "first": 100 })).await;
    assert_eq!(d["singleSourced"]["totalCount"], 9, "every relation but `mentions` cites only the note");
    let keys = all(&d);
    assert!(!keys.iter().any(|k| k.starts_with("mentions:")));
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "in key order");
    // Pages of 4 give the same list.
    let (mut paged, mut after) = (Vec::new(), Value::Null);
    loop {
        let d = s.data(SINGLE, json!({ "first": 4, "after": after })).await;
        paged.extend(all(&d));
        if d["singleSourced"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = d["singleSourced"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(paged, keys);
    let mentions = s.data(SINGLE, json!({ "kinds": ["MENTIONS"] })).await;
    assert_eq!(mentions["singleSourced"]["totalCount"], 1);
    // A second document (an editor's, without a text: cited without a quote) corroborates one.
    let body = s
        .query_as(
            &token,
            r#"mutation { createEntity(input: { kind: DOCUMENT, slug: "memo", name: "Memo" }) { entity { id } } }"#,
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = s
        .query_as(
            &token,
            r#"mutation { addCitation(input: { relation: "calls_for:open-borders-order:regional-strategy", document: "memo" }) {
                relation { sourceCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["addCitation"]["relation"]["sourceCount"], 2, "{body}");
    let d = s.data(SINGLE, json!({ "first": 100 })).await;
    assert_eq!(d["singleSourced"]["totalCount"], 8);
    assert!(!all(&d).contains(&"calls_for:open-borders-order:regional-strategy".to_string()));
    assert!(d["singleSourced"]["edges"].as_array().unwrap().iter().all(|e| e["node"]["sourceCount"] == 1));
    s.stop().await;
}

const ENTITY_FACTS: &str = r#"query($slug: String!) { entity(slug: $slug) { version date url aliases
    facts { field value sourceCount citations { quote offset document { slug } } } } }"#;

/// Editors cite an entity's facts; a changed value loses its old value's citations; a quote
/// that is not verbatim, or a citation of a fact the entity does not state, is refused.
#[tokio::test]
async fn editors_cite_entity_facts() {
    let (s, _d) = mini().await;
    let token = s.token("ed", Role::Editor).await;
    let run = |q: &'static str| {
        let (s, token) = (&s, &token);
        async move { s.query_as(token, q, json!({})).await }
    };
    let fact = |d: &Value, field: &str| -> Value {
        d["entity"]["facts"].as_array().unwrap().iter().find(|f| f["field"] == field).cloned().unwrap_or(Value::Null)
    };
    let body = run(r#"mutation { createEntity(input: { kind: EVENT, slug: "signing", name: "Signing", date: "2021-03-03",
        aliases: ["the signing"], sources: { date: [{ document: "note", quote: "on 3 March 2021" }] } }) { entity { id } } }"#)
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let d = s.data(ENTITY_FACTS, json!({ "slug": "signing" })).await;
    let date = fact(&d, "DATE");
    assert_eq!((date["value"].as_str(), date["sourceCount"].as_u64()), (Some("2021-03-03"), Some(1)));
    assert_eq!(date["citations"][0]["quote"], "on 3 March 2021");
    assert!(date["citations"][0]["offset"].as_u64().is_some());
    assert_eq!(fact(&d, "ALIAS")["sourceCount"], 0);
    // Refused: a quote not verbatim; a URL the entity does not have; an alias it does not have.
    for (q, field) in [
        (
            r#"mutation { updateEntity(input: { id: "signing", sources: { date: [{ document: "note", quote: "on 3 march 2021" }] } }) { entity { id } } }"#,
            "sources.date[0].quote",
        ),
        (
            r#"mutation { updateEntity(input: { id: "signing", sources: { url: [{ document: "note", quote: "Test note" }] } }) { entity { id } } }"#,
            "sources.url",
        ),
        (
            r#"mutation { updateEntity(input: { id: "signing", sources: { aliases: [{ alias: "the Signing", citations: [{ document: "note" }] }] } }) { entity { id } } }"#,
            "sources.aliases[0].alias",
        ),
    ] {
        let body = run(q).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // An alias added with its citation; a changed date without new citations loses the old.
    let body = run(r#"mutation { addAlias(input: { id: "open-borders-order", alias: "the Order", citations: [{ document: "note", quote: "The Order calls for" }] }) { entity { id } } }"#).await;
    assert!(body.get("errors").is_none(), "{body}");
    let d = s.data(ENTITY_FACTS, json!({ "slug": "open-borders-order" })).await;
    assert_eq!(fact(&d, "ALIAS")["citations"][0]["quote"], "The Order calls for");
    let body = run(r#"mutation { updateEntity(input: { id: "signing", date: "2021-03" }) { entity { id } } }"#).await;
    assert!(body.get("errors").is_none(), "{body}");
    let d = s.data(ENTITY_FACTS, json!({ "slug": "signing" })).await;
    assert_eq!(fact(&d, "DATE")["sourceCount"], 0, "the old date's citation is not the new date's");
    s.stop().await;
}
