//! Facts a journalist can check, over HTTP against the real server: citations located in their
//! document's text, sources on entity facts, corroboration and conflicts.

mod common;

use common::{error_codes, mini_seed, repo_path, TestServer};
use policygraph::auth::Role;
use serde_json::{json, Value};

async fn curated() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
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
    let token = s.token("ed", Role::Editor);
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
    assert_eq!(entities, 472);
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
