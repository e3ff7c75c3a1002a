//! Filtered and sorted entity lists and `searchResults` against the real server over the mini
//! fixture: each filter, each order both ways paged through with cursors, cursors refused under
//! another order or filter, wrong inputs named, and sorted lists that follow edits.

use crate::common;

use crate::common::{error_codes, mini_seed, TestServer};
use policygraph::auth::Role;
use serde_json::{json, Value};

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    (s, dir)
}

const PAGE: &str = r#"query($where: EntityFilter, $orderBy: EntityOrder, $after: String, $first: Int) {
  entities(where: $where, orderBy: $orderBy, first: $first, after: $after) {
    totalCount edges { cursor node { slug } } pageInfo { hasNextPage hasPreviousPage endCursor } } }"#;

/// Every slug of a list, read `first` at a time through `endCursor`, checking `pageInfo` and
/// `totalCount` on the way.
async fn read_all(s: &TestServer, filter: Value, order: Value, first: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    for _ in 0..50 {
        let d = s.data(PAGE, json!({ "where": filter, "orderBy": order, "after": after, "first": first })).await;
        let c = &d["entities"];
        total = Some(c["totalCount"].as_u64().unwrap() as usize);
        assert_eq!(c["pageInfo"]["hasPreviousPage"], after.is_some() && !out.is_empty(), "{c}");
        let edges = c["edges"].as_array().unwrap();
        out.extend(edges.iter().map(|e| e["node"]["slug"].as_str().unwrap().to_string()));
        if c["pageInfo"]["hasNextPage"] != true {
            break;
        }
        assert_eq!(edges.len(), first);
        after = Some(c["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
    assert_eq!(total, Some(out.len()), "totalCount is the whole list's length");
    let mut unique = out.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), out.len(), "each entity once: {out:?}");
    out
}

async fn slugs(s: &TestServer, filter: Value, order: Value) -> Vec<String> {
    read_all(s, filter, order, 100).await
}

/// Lowercase without the fixture's accents and punctuation: how the server compares names.
fn fold(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|c| match c {
            'ú' | 'Ú' => 'u',
            'ñ' | 'Ñ' => 'n',
            'é' | 'É' => 'e',
            c if c.is_alphanumeric() => c.to_ascii_lowercase(),
            _ => ' ',
        })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn argument(body: &Value) -> Value {
    body["errors"][0]["extensions"]["argument"].clone()
}

#[tokio::test]
async fn every_order_both_ways_pages_through_the_whole_list() {
    let (s, _d) = server().await;
    let all = s.data("{ entities(first: 100) { edges { node { slug name date degree pageRank } } } }", json!({})).await;
    let rows: Vec<Value> = all["entities"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert_eq!(rows.len(), 11);
    let slug = |r: &Value| r["slug"].as_str().unwrap().to_string();
    // The expected orders, computed here from the entities' own fields.
    let mut by_name = rows.clone();
    by_name.sort_by(|a, b| {
        fold(a["name"].as_str().unwrap()).cmp(&fold(b["name"].as_str().unwrap())).then(slug(a).cmp(&slug(b)))
    });
    let mut by_degree = rows.clone();
    by_degree.sort_by(|a, b| a["degree"].as_u64().cmp(&b["degree"].as_u64()).then(slug(a).cmp(&slug(b))));
    let mut by_rank = rows.clone();
    by_rank.sort_by(|a, b| {
        a["pageRank"].as_f64().unwrap().total_cmp(&b["pageRank"].as_f64().unwrap()).then(slug(a).cmp(&slug(b)))
    });
    let mut by_slug = rows.clone();
    by_slug.sort_by_key(slug);
    for (field, sorted) in [("SLUG", by_slug), ("NAME", by_name), ("DEGREE", by_degree), ("PAGE_RANK", by_rank)] {
        let want: Vec<String> = sorted.iter().map(slug).collect();
        let asc = read_all(&s, json!(null), json!({ "field": field }), 3).await;
        assert_eq!(asc, want, "{field} ascending");
        let desc = read_all(&s, json!(null), json!({ "field": field, "direction": "DESC" }), 4).await;
        let mut reversed = want.clone();
        reversed.reverse();
        assert_eq!(desc, reversed, "{field} descending");
    }
    // By date: 1951, then 2021-03-03 twice (by slug), then the undated, by slug, last both ways.
    let mut undated: Vec<String> = rows.iter().filter(|r| r["date"].is_null()).map(slug).collect();
    undated.sort();
    let asc = read_all(&s, json!(null), json!({ "field": "DATE" }), 2).await;
    let mut want = vec!["exo".to_string(), "note".into(), "open-borders-order".into()];
    want.extend(undated.iter().cloned());
    assert_eq!(asc, want);
    let desc = read_all(&s, json!(null), json!({ "field": "DATE", "direction": "DESC" }), 2).await;
    let mut want = vec!["open-borders-order".to_string(), "note".into(), "exo".into()];
    want.extend(undated.iter().rev().cloned());
    assert_eq!(desc, want, "undated last when descending too");
    s.stop().await;
}

#[tokio::test]
async fn each_filter_narrows_the_list() {
    let (s, _d) = server().await;
    let name = json!({ "field": "NAME" });
    assert_eq!(slugs(&s, json!({ "kinds": ["PILLAR"] }), name.clone()).await, ["dignity", "order-pillar", "safety"]);
    assert_eq!(
        slugs(&s, json!({ "kinds": ["PILLAR", "PLACE"] }), json!(null)).await,
        ["dignity", "geneva", "order-pillar", "safety"]
    );
    assert_eq!(
        slugs(&s, json!({ "types": ["Executive Order", "CITY"] }), json!(null)).await,
        ["geneva", "open-borders-order"]
    );
    // The name's prefix as search compares it: case, accents and hyphens ignored; not an alias.
    assert_eq!(slugs(&s, json!({ "namePrefix": "ANA NÚÑ" }), json!(null)).await, ["ana-nunez-perez"]);
    assert_eq!(slugs(&s, json!({ "namePrefix": "o" }), name.clone()).await, ["open-borders-order", "order-pillar"]);
    assert!(slugs(&s, json!({ "namePrefix": "exo" }), json!(null)).await.is_empty(), "EXO is an alias");
    // Partial dates stand for every day they may mean.
    assert_eq!(slugs(&s, json!({ "dateFrom": "2021-03" }), json!(null)).await, ["note", "open-borders-order"]);
    assert_eq!(slugs(&s, json!({ "dateTo": "1999" }), json!(null)).await, ["exo"]);
    assert_eq!(slugs(&s, json!({ "dateFrom": "1951-06", "dateTo": "1951-06" }), json!(null)).await, ["exo"]);
    assert!(slugs(&s, json!({ "dateFrom": "2021-03-04" }), json!(null)).await.is_empty());
    // Related to an entity, by slug or global ID, optionally by relation kind.
    let related = ["dignity", "open-borders-order", "order-pillar", "safety"];
    assert_eq!(slugs(&s, json!({ "relatedTo": "regional-strategy" }), json!(null)).await, related);
    assert_eq!(slugs(&s, json!({ "relatedTo": "Policy:regional-strategy" }), json!(null)).await, related);
    assert_eq!(
        slugs(
            &s,
            json!({ "relatedTo": "regional-strategy", "relatedBy": ["HAS_PILLAR"] }),
            json!({ "field": "NAME", "direction": "DESC" })
        )
        .await,
        ["safety", "order-pillar", "dignity"]
    );
    // Conditions combine, and `kind` still works beside `where`.
    assert_eq!(
        slugs(&s, json!({ "kinds": ["POLICY"], "dateFrom": "2000" }), json!({ "field": "DATE" })).await,
        ["open-borders-order"]
    );
    let d = s
        .data(
            r#"{ entities(kind: PILLAR, where: { namePrefix: "d" }) { totalCount edges { node { slug } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(d["entities"]["totalCount"], 1);
    assert_eq!(d["entities"]["edges"][0]["node"]["slug"], "dignity");
    s.stop().await;
}

#[tokio::test]
async fn a_cursor_belongs_to_its_order_and_filter() {
    let (s, _d) = server().await;
    let page = |filter: Value, order: Value| {
        let s = &s;
        async move {
            let d = s.data(PAGE, json!({ "where": filter, "orderBy": order, "first": 2 })).await;
            d["entities"]["pageInfo"]["endCursor"].as_str().unwrap().to_string()
        }
    };
    let by_name = page(json!(null), json!({ "field": "NAME" })).await;
    let plain = s.data("{ entities(first: 2) { pageInfo { endCursor } } }", json!({})).await["entities"]["pageInfo"]
        ["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = [
        (json!(null), json!({ "field": "DATE" }), by_name.clone()),
        (json!(null), json!({ "field": "NAME", "direction": "DESC" }), by_name.clone()),
        (json!({ "kinds": ["PERSON"] }), json!({ "field": "NAME" }), by_name.clone()),
        (json!(null), json!({ "field": "NAME" }), plain.clone()),
        (json!(null), json!({ "field": "NAME" }), "bm90IGEgY3Vyc29y".to_string()),
    ];
    for (filter, order, after) in refused {
        let body = s.query(PAGE, json!({ "where": filter, "orderBy": order, "after": after })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(argument(&body), "after", "{body}");
    }
    // A sorted list's cursor is not a plain list's either.
    let body = s.query("query($a: String) { entities(after: $a) { totalCount } }", json!({ "a": by_name })).await;
    assert_eq!((error_codes(&body), argument(&body)), (vec!["BAD_USER_INPUT".to_string()], json!("after")), "{body}");
    // The same order and filter accept it.
    let body = s.query(PAGE, json!({ "orderBy": { "field": "NAME" }, "after": by_name })).await;
    assert!(body["errors"].is_null(), "{body}");
    s.stop().await;
}

#[tokio::test]
async fn wrong_inputs_are_named() {
    let (s, _d) = server().await;
    let cases = [
        (json!({ "namePrefix": " -- " }), "where.namePrefix"),
        (json!({ "dateFrom": "2021-13" }), "where.dateFrom"),
        (json!({ "dateTo": "3 March" }), "where.dateTo"),
        (json!({ "dateFrom": "2021-03", "dateTo": "2021-02-28" }), "where.dateTo"),
        (json!({ "relatedTo": "nobody" }), "where.relatedTo"),
        (json!({ "relatedTo": "Person:exo" }), "where.relatedTo"),
        (json!({ "relatedBy": ["FUNDS"] }), "where.relatedBy"),
    ];
    for (filter, arg) in cases {
        let body = s.query(PAGE, json!({ "where": filter })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        assert_eq!(argument(&body), arg, "{body}");
    }
    let body = s.query(PAGE, json!({ "orderBy": { "field": "HEIGHT" } })).await;
    assert!(!error_codes(&body).is_empty(), "an unknown order field is refused: {body}");
    let body = s.query(PAGE, json!({ "orderBy": { "field": "NAME" }, "first": 101 })).await;
    assert_eq!(argument(&body), "first");
    let body = s.query(r#"{ searchResults(query: "exo", in: []) { totalCount } }"#, json!({})).await;
    assert_eq!((error_codes(&body), argument(&body)), (vec!["BAD_USER_INPUT".to_string()], json!("in")));
    let body = s.query(r#"{ searchResults(query: " - ") { totalCount } }"#, json!({})).await;
    assert_eq!(argument(&body), "query");
    s.stop().await;
}

#[tokio::test]
async fn sorted_lists_follow_edits() {
    let (s, _d) = server().await;
    let editor = s.token("ed", Role::Admin).await;
    let edit = |q: &'static str| {
        let (s, editor) = (&s, editor.clone());
        async move {
            let body = s.query_as(&editor, q, json!({})).await;
            assert!(body["errors"].is_null(), "{q}: {body}");
        }
    };
    let by_name = json!({ "field": "NAME" });
    let by_date = json!({ "field": "DATE" });
    // A page boundary survives the deletion of the entity its cursor names.
    let first = s.data(PAGE, json!({ "orderBy": by_name, "first": 3 })).await;
    let edges = first["entities"]["edges"].as_array().unwrap().clone();
    let third = edges[2]["node"]["slug"].as_str().unwrap().to_string();
    assert_eq!(third, "dignity");
    edit(r#"mutation { deleteEntity(input: { id: "dignity", cascade: true }) { deletedId } }"#).await;
    let after = first["entities"]["pageInfo"]["endCursor"].clone();
    let next = s.data(PAGE, json!({ "orderBy": by_name, "first": 1, "after": after })).await;
    assert_eq!(next["entities"]["edges"][0]["node"]["slug"], "exo");
    // Created: first by name and by date.
    edit(r#"mutation { createEntity(input: { kind: PERSON, slug: "aaron-zed", name: "Aaron Zed", date: "1900-05" }) { entity { id } } }"#)
        .await;
    assert_eq!(slugs(&s, json!(null), by_name.clone()).await[0], "aaron-zed");
    assert_eq!(slugs(&s, json!(null), by_date.clone()).await[0], "aaron-zed");
    assert_eq!(slugs(&s, json!({ "namePrefix": "aar" }), json!(null)).await, ["aaron-zed"]);
    // Renamed, re-dated and re-slugged: moves in every order, the old keys gone.
    edit(r#"mutation { updateEntity(input: { id: "aaron-zed", slug: "zoe-zed", name: "Zoe Zed", date: "2030" }) { entity { id } } }"#)
        .await;
    let names = slugs(&s, json!(null), by_name.clone()).await;
    assert_eq!(names.last().map(String::as_str), Some("zoe-zed"));
    assert!(!names.contains(&"aaron-zed".to_string()));
    assert!(slugs(&s, json!({ "namePrefix": "aar" }), json!(null)).await.is_empty());
    let dates = slugs(&s, json!({ "dateFrom": "2022" }), by_date.clone()).await;
    assert_eq!(dates, ["zoe-zed"]);
    // Merged away: gone from the orders; the survivor keeps its place.
    edit(r#"mutation { mergeEntities(input: { keep: "bo-chen", remove: "zoe-zed" }) { entity { id } } }"#).await;
    let names = slugs(&s, json!(null), by_name.clone()).await;
    assert!(!names.contains(&"zoe-zed".to_string()) && names.contains(&"bo-chen".to_string()), "{names:?}");
    assert!(slugs(&s, json!({ "dateFrom": "2022" }), by_date).await.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn search_results_in_names_summaries_and_quotes() {
    let (s, _d) = server().await;
    let q = r#"query($q: String!, $in: [SearchField!], $after: String, $first: Int, $kinds: [EntityKind!]) {
      searchResults(query: $q, in: $in, after: $after, first: $first, kinds: $kinds) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { entity { slug } score matchedText field } } } }"#;
    let d = s.data(q, json!({ "q": "exo" })).await;
    let r = &d["searchResults"];
    assert_eq!(r["totalCount"], 1);
    assert_eq!(
        r["edges"][0]["node"],
        json!({ "entity": { "slug": "exo" }, "score": 0.9, "matchedText": "EXO", "field": "NAMES" })
    );
    let d = s.data(q, json!({ "q": "example organization" })).await;
    assert_eq!(d["searchResults"]["edges"][0]["node"]["score"], 1.0);
    // A summary's words.
    let d = s.data(q, json!({ "q": "invented tests", "in": ["SUMMARIES"] })).await;
    let n = &d["searchResults"]["edges"][0]["node"];
    assert_eq!(n["entity"]["slug"], "exo");
    assert_eq!(n["matchedText"], "An organization invented for the tests.");
    assert_eq!((n["field"].as_str(), n["score"].as_f64()), (Some("SUMMARIES"), Some(0.25)));
    assert!(s.data(q, json!({ "q": "invented" })).await["searchResults"]["totalCount"] == 0, "names only by default");
    // A relation's quote finds both its ends; an entity's own fact quote finds it.
    let d = s.data(q, json!({ "q": "director general", "in": ["QUOTES"] })).await;
    let mut found: Vec<&str> = d["searchResults"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["entity"]["slug"].as_str().unwrap())
        .collect();
    found.sort();
    assert_eq!(found, ["ana-nunez-perez", "exo"]);
    assert_eq!(d["searchResults"]["edges"][0]["node"]["matchedText"], "said Ana Núñez-Pérez, EXO Director General");
    let d = s.data(q, json!({ "q": "director general", "in": ["QUOTES"], "kinds": ["PERSON"] })).await;
    assert_eq!(d["searchResults"]["totalCount"], 1);
    let d = s.data(q, json!({ "q": "founded 1951", "in": ["QUOTES"] })).await;
    assert_eq!(d["searchResults"]["edges"][0]["node"]["entity"]["slug"], "exo");
    // Paged one at a time, best first, each once.
    let all = s.data(q, json!({ "q": "order", "in": ["NAMES", "SUMMARIES", "QUOTES"] })).await;
    let want: Vec<Value> =
        all["searchResults"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert!(want.len() >= 2, "{want:?}");
    assert!(want.windows(2).all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()));
    let mut got = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = s
            .data(q, json!({ "q": "order", "in": ["NAMES", "SUMMARIES", "QUOTES"], "first": 1, "after": after }))
            .await;
        let r = &d["searchResults"];
        got.extend(r["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
        if r["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = r["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    assert_eq!(got, want);
    // Another search's cursor is refused.
    let body = s.query(q, json!({ "q": "exo", "after": after })).await;
    assert_eq!((error_codes(&body), argument(&body)), (vec!["BAD_USER_INPUT".to_string()], json!("after")));
    // The old `search` is unchanged.
    let d = s.data(r#"{ search(query: "exo") { slug } }"#, json!({})).await;
    assert_eq!(d["search"][0]["slug"], "exo");
    s.stop().await;
}

/// The README's and GraphiQL's examples answer on the curated graph.
#[tokio::test]
async fn the_documented_examples_answer_on_the_curated_graph() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&common::repo_path("seed"))).await;
    let d = s
        .data(
            r#"{ entities(where: { kinds: [OFFICE], relatedTo: "iom" }, orderBy: { field: NAME, direction: ASC }, first: 10) {
                   totalCount edges { node { name slug date } } }
                 searchResults(query: "asylum", in: [NAMES, SUMMARIES, QUOTES], first: 5) {
                   totalCount edges { node { entity { name slug } score field matchedText } } } }"#,
            json!({}),
        )
        .await;
    let offices = d["entities"]["edges"].as_array().unwrap();
    assert!(!offices.is_empty(), "{d}");
    let names: Vec<String> = offices.iter().map(|e| fold(e["node"]["name"].as_str().unwrap())).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    let hits = d["searchResults"]["edges"].as_array().unwrap();
    assert!(!hits.is_empty(), "{d}");
    for h in hits {
        assert!(fold(h["node"]["matchedText"].as_str().unwrap()).contains("asylum"), "{h}");
    }
    let d = s
        .data(
            r#"{ entities(where: { kinds: [EVENT, POLICY], dateFrom: "2021", dateTo: "2024-06" }, orderBy: { field: DATE, direction: DESC }, first: 20) {
                   totalCount edges { node { name slug date } } } }"#,
            json!({}),
        )
        .await;
    assert!(d["entities"]["totalCount"].as_u64() > Some(0), "{d}");
    s.stop().await;
}
