//! `Document.passages` over the curated seed, through the real server: each cited sentence of a
//! source text, verbatim at its offset, in text order, with the relations and entity facts that
//! cite it; and the `/documents` pages' answers (the reader itself is driven in chromium by
//! `browser_reader`).

use std::collections::{BTreeMap, HashMap};

use crate::common::{error_codes, repo_path, TestServer};
use policygraph::auth::Role;
use serde_json::{json, Value};

async fn curated() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // Its tests read the whole seed: no rate limit (see `start_crawler`).
    let s = TestServer::start_crawler(dir.path(), Some(&repo_path("seed"))).await;
    (s, dir)
}

/// The `n` characters of `text` from character `offset` on.
fn chars_at(text: &str, offset: usize, n: usize) -> String {
    text.chars().skip(offset).take(n).collect()
}

const DOC_001: &str = "doc-001-iom-welcomes-end-of-migrant-protection-protocols";

const PASSAGES: &str = r#"query($slug: String!, $first: Int, $after: Int) { entity(slug: $slug) { ... on Document {
    passages(first: $first, after: $after) { offset length quote
      relations { key from { slug } to { slug } citations { offset length document { slug } } }
      facts { entity { slug } field value citations { offset length document { slug } } } } } } }"#;

/// Every passage of a document, `first` at a time (10 with their readings costs about 5,000).
async fn passages(s: &TestServer, slug: &str, first: usize) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let after = out.last().map_or(Value::Null, |p| p["offset"].clone());
        let d = s.data(PASSAGES, json!({ "slug": slug, "first": first, "after": after })).await;
        let page = d["entity"]["passages"].as_array().unwrap().clone();
        let done = page.len() < first;
        out.extend(page);
        if done {
            return out;
        }
    }
}

/// The seed's documents: slug → text.
async fn documents(s: &TestServer) -> BTreeMap<String, String> {
    let d = s
        .data(
            r#"{ entities(kind: DOCUMENT, first: 10) { edges { node { slug ... on Document { text } } } } }"#,
            json!({}),
        )
        .await;
    d["entities"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["slug"].as_str().unwrap().to_string(), e["node"]["text"].as_str().unwrap().to_string()))
        .collect()
}

/// The passage of `list` holding character `at`.
fn passage_at(list: &[Value], at: usize) -> Option<&Value> {
    list.iter().find(|p| {
        let (o, l) = (p["offset"].as_u64().unwrap() as usize, p["length"].as_u64().unwrap() as usize);
        o <= at && at < o + l
    })
}

/// Whether any of `citations` is in document `slug` and overlaps passage `p`.
fn overlaps(p: &Value, citations: &Value, slug: &str) -> bool {
    let (o, l) = (p["offset"].as_u64().unwrap(), p["length"].as_u64().unwrap());
    citations.as_array().unwrap().iter().any(|c| {
        c["document"]["slug"] == slug
            && c["offset"].as_u64().is_some_and(|co| co < o + l && o < co + c["length"].as_u64().unwrap())
    })
}

/// Each passage of each curated document is byte for byte the text at its offset, whole
/// sentences in text order without overlap, each cited by something that quotes inside it; the
/// pages, however small, add up to the whole list.
#[tokio::test]
async fn passages_are_cited_sentences_verbatim_at_their_offset_in_text_order() {
    let (s, _d) = curated().await;
    let docs = documents(&s).await;
    assert_eq!(docs.len(), 5);
    let mut total = 0;
    let mut past_multibyte = 0;
    for (slug, text) in &docs {
        let list = passages(&s, slug, 10).await;
        assert!(list.len() >= 5, "{slug}: only {} passages", list.len());
        let mut end = 0;
        for p in &list {
            let (offset, length) = (p["offset"].as_u64().unwrap() as usize, p["length"].as_u64().unwrap() as usize);
            let quote = p["quote"].as_str().unwrap();
            assert_eq!(chars_at(text, offset, length), quote, "{slug} at {offset}");
            assert_eq!(length, quote.chars().count());
            assert!(!quote.is_empty() && quote.trim() == quote, "{slug}: a trimmed sentence: {quote:?}");
            assert!(offset >= end, "{slug}: passages in text order, none overlapping ({offset} < {end})");
            end = offset + length;
            let cited = p["relations"].as_array().unwrap().iter().any(|r| overlaps(p, &r["citations"], slug))
                || p["facts"].as_array().unwrap().iter().any(|f| overlaps(p, &f["citations"], slug));
            assert!(cited, "{slug}: nothing quotes inside {p}");
            // Character offsets and byte offsets part after the first multi-byte character.
            let (byte_at, _) = text.char_indices().nth(offset).unwrap();
            if byte_at != offset {
                past_multibyte += 1;
            }
        }
        total += list.len();
        // Small pages, walked with `after`, give the same list.
        assert_eq!(passages(&s, slug, 7).await, list, "{slug}: pages of 7");
    }
    assert!(total > 200, "only {total} passages in the five documents");
    assert!(past_multibyte > 200, "offsets were checked past curly quotes and dashes ({past_multibyte})");
    s.stop().await;
}

/// Every quoted citation of the seed (of a relation, or of an entity's fact) is listed under the
/// passage that holds its `Citation.offset`: what `/documents/<slug>#at=<offset>` relies on.
#[tokio::test]
async fn every_citation_is_listed_under_the_passage_holding_its_offset() {
    let (s, _d) = curated().await;
    let docs = documents(&s).await;
    let mut by_doc: HashMap<String, Vec<Value>> = HashMap::new();
    for slug in docs.keys() {
        by_doc.insert(slug.clone(), passages(&s, slug, 10).await);
    }
    let seed = policygraph::seed::load(&repo_path("seed")).unwrap();
    let ids: Vec<String> = seed.relations.iter().map(|r| format!("Relation:{}", r.id)).collect();
    let mut checked = 0;
    for chunk in ids.chunks(100) {
        let d = s
            .data(
                r#"query($ids: [ID!]!) { nodes(ids: $ids) { ... on Relation { key citations { quote offset document { slug } } } } }"#,
                json!({ "ids": chunk }),
            )
            .await;
        for r in d["nodes"].as_array().unwrap() {
            for c in r["citations"].as_array().unwrap().iter().filter(|c| !c["quote"].is_null()) {
                let slug = c["document"]["slug"].as_str().unwrap();
                let at = c["offset"].as_u64().unwrap() as usize;
                let p = passage_at(&by_doc[slug], at).unwrap_or_else(|| panic!("no passage of {slug} holds {at}: {r}"));
                assert!(
                    p["relations"].as_array().unwrap().iter().any(|x| x["key"] == r["key"]),
                    "{r} is not under {p}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} relation citations checked");
    // Entity facts: those that cite a quote.
    let mut facts = 0;
    let mut after = Value::Null;
    loop {
        let d = s
            .data(
                r#"query($a: String) { entities(first: 40, after: $a) { pageInfo { hasNextPage endCursor }
                    edges { node { slug facts { field value citations { quote offset document { slug } } } } } } }"#,
                json!({ "a": after }),
            )
            .await;
        for e in d["entities"]["edges"].as_array().unwrap() {
            let e = &e["node"];
            for f in e["facts"].as_array().unwrap() {
                for c in f["citations"].as_array().unwrap().iter().filter(|c| !c["quote"].is_null()) {
                    let slug = c["document"]["slug"].as_str().unwrap();
                    let at = c["offset"].as_u64().unwrap() as usize;
                    let p = passage_at(&by_doc[slug], at).unwrap_or_else(|| panic!("no passage of {slug} holds {at}"));
                    let listed = p["facts"].as_array().unwrap().iter().any(|x| {
                        x["entity"]["slug"] == e["slug"] && x["field"] == f["field"] && x["value"] == f["value"]
                    });
                    assert!(listed, "{} {f} is not under {p}", e["slug"]);
                    facts += 1;
                }
            }
        }
        if d["entities"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = d["entities"]["pageInfo"]["endCursor"].clone();
    }
    assert!(facts > 200, "only {facts} fact citations checked");
    s.stop().await;
}

/// Known readings of real sentences: Michele Klein Solomon's title under the sentence that
/// gives it, a document's date under the line that states it.
#[tokio::test]
async fn a_known_relation_and_a_known_fact_appear_under_their_sentences() {
    let (s, _d) = curated().await;
    let list = passages(&s, DOC_001, 10).await;
    let p = list
        .iter()
        .find(|p| p["quote"].as_str().unwrap().contains("said Michele Klein Solomon"))
        .expect("the sentence is cited");
    assert_eq!(
        p["quote"],
        "\"The policy puts people at the border seeking to enter the United States to apply for asylum at risk,” said Michele Klein Solomon, IOM's Regional Director for Central, North America, and the Caribbean."
    );
    let role = p["relations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "holds_role:michele-klein-solomon:001")
        .unwrap_or_else(|| panic!("the role is under its sentence: {p}"));
    assert_eq!(role["from"]["slug"], "michele-klein-solomon");
    assert_eq!(role["to"]["slug"], "iom-regional-office-san-jose");

    let doc4 = "doc-004-white-house-collaborative-migration-management-strategy";
    let list = passages(&s, doc4, 10).await;
    let dated = list
        .iter()
        .find(|p| p["facts"].as_array().unwrap().iter().any(|f| f["entity"]["slug"] == doc4 && f["field"] == "DATE"))
        .expect("the document's date is read from one of its lines");
    assert!(dated["quote"].as_str().unwrap().contains("2021-07-29"), "{dated}");
    let fact = dated["facts"].as_array().unwrap().iter().find(|f| f["field"] == "DATE").unwrap();
    assert_eq!(fact["value"], "2021-07-29");
    s.stop().await;
}

/// A document without a text has no passages; a relation added by an editor shows at once under
/// its sentence (the answer cache does not hand back the answer of the graph before it).
#[tokio::test]
async fn no_text_no_passages_and_an_edit_shows_at_once() {
    let (s, _d) = curated().await;
    let editor = s.token("ed", Role::Editor).await;
    let body = s
        .query_as(
            &editor,
            r#"mutation { createEntity(input: { kind: DOCUMENT, slug: "memo", name: "A memo" }) { entity { slug } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["createEntity"]["entity"]["slug"], "memo", "{body}");
    let d =
        s.data(r#"{ entity(slug: "memo") { ... on Document { text sha256 passages { offset } } } }"#, json!({})).await;
    assert_eq!(d["entity"], json!({ "text": null, "sha256": null, "passages": [] }));

    let before = passages(&s, DOC_001, 10).await;
    let quote = "For more information, please contact:";
    assert!(!before.iter().any(|p| p["quote"] == quote), "the seed does not cite {quote:?}");
    let body = s
        .query_as(
            &editor,
            r#"mutation($q: String) { createRelation(input: { kind: STATES, from: "iom", to: "doc-001-iom-welcomes-end-of-migrant-protection-protocols",
                citations: [{ document: "doc-001-iom-welcomes-end-of-migrant-protection-protocols", quote: $q }] }) { relation { key } } }"#,
            json!({ "q": quote }),
        )
        .await;
    let key = body["data"]["createRelation"]["relation"]["key"].clone();
    assert!(key.is_string(), "{body}");
    let after = passages(&s, DOC_001, 10).await;
    assert_eq!(after.len(), before.len() + 1);
    let p = after.iter().find(|p| p["quote"] == quote).expect("the new passage");
    assert_eq!(p["relations"].as_array().unwrap().iter().map(|r| r["key"].clone()).collect::<Vec<_>>(), [key]);
    s.stop().await;
}

/// `passages` is priced as a read of the whole graph plus its page: a light page of 100 passes,
/// the same page with every passage's relations and facts is refused before it runs.
#[tokio::test]
async fn passages_are_priced_by_their_page() {
    let (s, _d) = curated().await;
    let light = r#"{ entity(slug: "doc-001-iom-welcomes-end-of-migrant-protection-protocols") { ... on Document { passages(first: 100) { offset length quote } } } }"#;
    assert!(!s.data(light, json!({})).await["entity"]["passages"].as_array().unwrap().is_empty());
    let heavy = r#"{ entity(slug: "doc-001-iom-welcomes-end-of-migrant-protection-protocols") { ... on Document { passages(first: 100) {
        relations { key kind from { slug name } to { slug name } } facts { field value entity { slug name } } } } } }"#;
    let body = s.query(heavy, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    let body = s.query(&light.replace("first: 100", "first: 101"), json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    s.stop().await;
}

/// The reader's URLs: a document's page, the list, the assets; a 404 page, in HTML, naming a
/// slug that is no document's (as text, never as markup).
#[tokio::test]
async fn the_reader_answers_a_document_and_404s_anything_else() {
    let (s, _d) = curated().await;
    let get = |path: String| {
        let c = s.client.clone();
        let url = format!("{}{path}", s.url);
        async move {
            let r = c.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            let ty = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            let csp = r.headers().contains_key("content-security-policy");
            (status, ty, csp, r.text().await.unwrap())
        }
    };
    let (status, ty, csp, body) = get(format!("/documents/{DOC_001}")).await;
    assert_eq!((status, ty.as_str(), csp), (200, "text/html; charset=utf-8", true));
    assert!(body.contains("/documents/assets/reader.js"));
    for path in ["/documents", "/documents/"] {
        assert_eq!(get(path.into()).await.0, 200, "{path}");
    }
    let (status, ty, _, _) = get("/documents/assets/reader.js".into()).await;
    assert_eq!((status, ty.as_str()), (200, "text/javascript; charset=utf-8"));
    assert_eq!(get("/documents/assets/nothing.js".into()).await.0, 404);

    let (status, ty, csp, body) = get("/documents/no-such-document".into()).await;
    assert_eq!((status, ty.as_str(), csp), (404, "text/html; charset=utf-8", true));
    assert!(body.contains("No document “no-such-document”"), "{body}");
    let (status, _, _, body) = get("/documents/iom".into()).await;
    assert_eq!(status, 404);
    assert!(body.contains("is an organization, not a document") && body.contains("/explore?slug=iom"), "{body}");
    let (status, _, _, body) = get("/documents/%3Cimg%20src%3Dx%3E".into()).await;
    assert_eq!(status, 404);
    assert!(body.contains("&lt;img src=x&gt;") && !body.contains("<img"), "{body}");
    // HEAD answers like GET, without a body.
    let r = s.client.head(format!("{}/documents/no-such-document", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}
