//! Questions a journalist asks, answered through the GraphQL API over the real curated seed, and
//! checked against the source documents (every quote must be in the document it cites).

use std::collections::HashMap;

use crate::common::{repo_path, TestServer};
use serde_json::{json, Value};

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    (s, dir)
}

fn documents() -> HashMap<String, String> {
    let mut out = HashMap::new();
    for e in std::fs::read_dir(repo_path("seed/documents")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        out.insert(p.file_name().unwrap().to_string_lossy().into_owned(), text);
    }
    out
}

/// Asserts that each citation's quote is verbatim in the document file it names.
fn assert_cited(rel: &Value, docs: &HashMap<String, String>) {
    let cs = rel["citations"].as_array().expect("citations selected");
    assert!(!cs.is_empty(), "uncited relation {rel}");
    for c in cs {
        let file = c["document"]["file"].as_str().unwrap();
        if let Some(q) = c["quote"].as_str() {
            assert!(docs[file].contains(q), "quote not verbatim in {file}: {q}");
        }
    }
}

const REL: &str = "kind title order validFrom from { slug name } to { slug name } quantities { name value unit quote } citations { quote document { file title publishedOn } }";

async fn relations(s: &TestServer, slug: &str, kinds: &str, direction: &str) -> Vec<Value> {
    let q = format!(
        r#"query($s: String!) {{ entity(slug: $s) {{ relations(kinds: [{kinds}], direction: {direction}, first: 100) {{ edges {{ node {{ {REL} }} }} }} }} }}"#
    );
    let d = s.data(&q, json!({ "s": slug })).await;
    d["entity"]["relations"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

#[tokio::test]
async fn who_holds_which_role_and_since_when() {
    let (s, _d) = server().await;
    let docs = documents();
    // One person, three documents, three titles worded as each document words them.
    let roles = relations(&s, "michele-klein-solomon", "HOLDS_ROLE", "OUTGOING").await;
    let titles: Vec<&str> = roles.iter().map(|r| r["title"].as_str().unwrap()).collect();
    for t in [
        "IOM Regional Director for Central and North America and the Caribbean",
        "Regional Director for North America, Central America and the Caribbean",
    ] {
        assert!(titles.contains(&t), "missing title {t:?} in {titles:?}");
    }
    assert!(roles.len() >= 3, "{titles:?}");
    // No text says when a role began: a role is attested on the date of the document citing it.
    assert!(roles.iter().all(|r| r["validFrom"].is_null()), "{roles:?}");
    let attested: Vec<&str> =
        roles.iter().filter_map(|r| r["citations"][0]["document"]["publishedOn"].as_str()).collect();
    assert!(attested.contains(&"2021-02-04"), "{attested:?}");
    // Document 003 states no publication date (only the day of the launch it reports), so the
    // role it cites has none to be dated by.
    assert!(
        roles.iter().any(|r| r["citations"][0]["document"]["file"] == "003_a1660f60491fcc3a.txt"
            && r["citations"][0]["document"]["publishedOn"].is_null()),
        "{roles:?}"
    );
    for r in &roles {
        assert_cited(r, &docs);
        assert!(docs[r["citations"][0]["document"]["file"].as_str().unwrap()].contains("Klein"));
    }
    // The IOM Deputy Director General, as the report of the 2023 launch names her.
    let roles = relations(&s, "ugochi-daniels", "HOLDS_ROLE", "OUTGOING").await;
    assert!(
        roles.iter().any(|r| r["title"] == "IOM Deputy Director General"
            && r["to"]["slug"] == "iom"
            && r["citations"][0]["document"]["file"] == "003_a1660f60491fcc3a.txt"),
        "{roles:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn spellings_resolve_to_one_entity() {
    let (s, _d) = server().await;
    for q in ["Michele Klein Solomon", "michele klein-solomon", "KLEIN SOLOMON"] {
        let d = s.data("query($q: String!) { search(query: $q, kinds: [PERSON]) { slug } }", json!({ "q": q })).await;
        assert_eq!(d["search"][0]["slug"], "michele-klein-solomon", "{q}");
    }
    // The regional office, spelled two ways across documents, is one entity.
    let d = s
        .data(
            r#"{ search(query: "Regional Office for Central, North America and the Caribbean") { slug } }"#,
            json!({}),
        )
        .await;
    let first = d["search"][0]["slug"].clone();
    let d = s
        .data(
            r#"{ search(query: "Regional Office for Central America, North America, and the Caribbean") { slug } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["search"][0]["slug"], first);
    // Accents do not matter.
    let d = s.data(r#"{ search(query: "cesia chavarria") { slug } }"#, json!({})).await;
    assert_eq!(d["search"][0]["slug"], "cesia-chavarria");
    s.stop().await;
}

#[tokio::test]
async fn a_strategys_pillars_in_order() {
    let (s, _d) = server().await;
    let docs = documents();
    let pillars = relations(&s, "collaborative-migration-management-strategy", "HAS_PILLAR", "OUTGOING").await;
    assert!(pillars.len() >= 4);
    let orders: Vec<i64> = pillars.iter().map(|p| p["order"].as_i64().unwrap()).collect();
    assert_eq!(orders, (1..=orders.len() as i64).collect::<Vec<_>>(), "pillars come in the text's order");
    // The text lists them in this order: each pillar's name appears after the previous one's.
    let text = &docs["004_76cd06e8ef70ecf4.txt"];
    let mut last = 0;
    for p in &pillars {
        assert_cited(p, &docs);
        let quote = p["citations"][0]["quote"].as_str().unwrap();
        let at = text.find(quote).unwrap();
        assert!(at >= last, "pillar {} is out of the text's order", p["to"]["name"]);
        last = at;
    }
    let caribbean = relations(&s, "iom-strategy-for-the-caribbean-2023-2026", "HAS_PILLAR", "OUTGOING").await;
    assert_eq!(caribbean[0]["to"]["slug"], "caribbean-strategy-climate-and-disaster-resilience");
    s.stop().await;
}

#[tokio::test]
async fn who_signed_what_and_who_funded_what() {
    let (s, _d) = server().await;
    let docs = documents();
    let signed = relations(&s, "joe-biden", "SIGNED", "OUTGOING").await;
    assert_eq!(signed.len(), 1);
    assert_eq!(signed[0]["validFrom"], "2021-02-02");
    assert_cited(&signed[0], &docs);
    let funds = relations(&s, "government-of-japan", "FUNDS", "OUTGOING").await;
    let q = &funds[0]["quantities"][0];
    assert_eq!((q["value"].as_f64(), q["unit"].as_str()), (Some(850000.0), Some("USD")));
    assert_cited(&funds[0], &docs);
    s.stop().await;
}

#[tokio::test]
async fn what_iom_said_about_the_migrant_protection_protocols() {
    let (s, _d) = server().await;
    let docs = documents();
    let stances =
        relations(&s, "migrant-protection-protocols", "WELCOMES, SUPPORTS, WARNS_ABOUT, CRITICIZES", "INCOMING").await;
    let warn =
        stances.iter().find(|r| r["kind"] == "WARNS_ABOUT" && r["from"]["slug"] == "iom").expect("IOM warns about MPP");
    assert!(warn["citations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["quote"].as_str().unwrap_or("").contains("can endanger people")));
    for r in &stances {
        assert_cited(r, &docs);
    }
    s.stop().await;
}

const STANCES: &str = "STATES, WELCOMES, SUPPORTS, CALLS_FOR, WARNS_ABOUT, CRITICIZES, CONGRATULATES";

/// Whether one of the relation's citations quotes `words`.
fn quotes(rel: &Value, words: &str) -> bool {
    rel["citations"].as_array().unwrap().iter().any(|c| c["quote"].as_str().unwrap_or("").contains(words))
}

#[tokio::test]
async fn what_did_klein_solomon_say_about_the_migrant_protection_protocols() {
    let (s, _d) = server().await;
    let docs = documents();
    // From the subject: every statement about it, each with its speaker.
    let said = relations(&s, "migrant-protection-protocols", STANCES, "INCOMING").await;
    let hers: Vec<&Value> = said.iter().filter(|r| r["from"]["slug"] == "michele-klein-solomon").collect();
    let kinds: Vec<&str> = hers.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"CRITICIZES") && kinds.contains(&"WARNS_ABOUT"), "{kinds:?}");
    for r in &hers {
        assert_cited(r, &docs);
        // She spoke as IOM's Regional Director, and the relation says so.
        assert_eq!(r["title"], "IOM's Regional Director for Central, North America, and the Caribbean", "{r}");
    }
    assert!(hers
        .iter()
        .any(|r| quotes(r, "\"This situation should not be repeated,\" the IOM Regional Director said.")));
    assert!(hers.iter().any(|r| quotes(r, "The policy puts people at the border")));
    // IOM's own statements about it are there too, without a title.
    assert!(said.iter().any(|r| r["from"]["slug"] == "iom" && r["kind"] == "WARNS_ABOUT" && r["title"].is_null()));

    // From the speaker: her statements in 000, 001 and 003, quotes that run on included.
    let out = relations(&s, "michele-klein-solomon", STANCES, "OUTGOING").await;
    for r in &out {
        assert_cited(r, &docs);
    }
    let about = |slug: &str| out.iter().filter(|r| r["to"]["slug"] == slug).collect::<Vec<_>>();
    assert!(about("dhs-decision-to-terminate-mpp").iter().any(|r| r["kind"] == "SUPPORTS"));
    assert!(about("biden-executive-actions-on-migration")
        .iter()
        .any(|r| r["kind"] == "STATES" && quotes(r, "A comprehensive regional solution")));
    assert!(about("caricom-freedom-of-movement")
        .iter()
        .any(|r| r["kind"] == "WELCOMES" && quotes(r, "We're very excited")));

    // A guest's neutral statement: Andrew Selee on the Caribbean.
    let selee = relations(&s, "caribbean", "STATES", "INCOMING").await;
    assert!(selee.iter().any(|r| r["from"]["slug"] == "andrew-selee"
        && r["title"] == "President of the Migration Policy Institute"
        && quotes(r, "I think the Caribbean just receives far too little attention on migration")));
    s.stop().await;
}

#[tokio::test]
async fn whom_to_call_about_a_press_release() {
    let (s, _d) = server().await;
    let docs = documents();
    let contacts =
        relations(&s, "doc-001-iom-welcomes-end-of-migrant-protection-protocols", "CONTACT_FOR", "INCOMING").await;
    let mut people: Vec<&str> = contacts.iter().map(|r| r["from"]["slug"].as_str().unwrap()).collect();
    people.sort_unstable();
    assert_eq!(people, ["cesia-chavarria", "jorge-gallo"]);
    // Each reaches the office the text names for them, cited.
    for (person, office) in [("cesia-chavarria", "iom-mexico"), ("jorge-gallo", "iom-regional-office-san-jose")] {
        let at = relations(&s, person, "CONTACT_FOR", "OUTGOING").await;
        let r = at.iter().find(|r| r["to"]["slug"] == office).unwrap_or_else(|| panic!("{person} at {office}: {at:?}"));
        assert_cited(r, &docs);
    }
    let liz = relations(&s, "liz-lizama", "CONTACT_FOR", "OUTGOING").await;
    assert!(liz.iter().any(|r| r["to"]["slug"] == "iom-global-office-washington" && r["title"] == "IOM Washington"));
    s.stop().await;
}

#[tokio::test]
async fn every_relation_cites_a_verbatim_sentence_or_document() {
    // Every relation of the seed with its citations, in pages of 100 at about 2,600 points
    // each: no rate limit (see `start_crawler`).
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_crawler(dir.path(), Some(&repo_path("seed"))).await;
    let docs = documents();
    let slugs =
        s.data("{ a: entities(first: 100) { edges { node { slug } } pageInfo { endCursor } } }", json!({})).await;
    let mut all: Vec<String> = slugs["a"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_string())
        .collect();
    let mut after = slugs["a"]["pageInfo"]["endCursor"].clone();
    loop {
        let d = s.data("query($a: String) { entities(first: 100, after: $a) { edges { node { slug } } pageInfo { hasNextPage endCursor } } }", json!({ "a": after })).await;
        all.extend(
            d["entities"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["slug"].as_str().unwrap().to_string()),
        );
        if d["entities"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = d["entities"]["pageInfo"]["endCursor"].clone();
    }
    let mut n = 0;
    for slug in &all {
        let mut after: Option<String> = None;
        loop {
            let q = format!("query($s: String!, $a: String) {{ entity(slug: $s) {{ relations(direction: OUTGOING, first: 100, after: $a) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {REL} }} }} }} }} }}");
            let d = s.data(&q, json!({ "s": slug, "a": after })).await;
            let rels = &d["entity"]["relations"];
            for r in rels["edges"].as_array().unwrap() {
                assert_cited(&r["node"], &docs);
                n += 1;
            }
            if rels["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = rels["pageInfo"]["endCursor"].as_str().map(String::from);
        }
    }
    let stats = s.data("{ stats { relations entities } }", json!({})).await;
    assert_eq!(n, stats["stats"]["relations"].as_i64().unwrap(), "every relation was checked");
    assert_eq!(all.len() as i64, stats["stats"]["entities"].as_i64().unwrap());
    s.stop().await;
}

#[test]
fn policygraph_check_passes_on_the_seed() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_policygraph"))
        .args(["check", "--seed-dir"])
        .arg(repo_path("seed"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
