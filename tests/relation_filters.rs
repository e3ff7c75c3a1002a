//! `Entity.relations(where:, orderBy:)` and `validAt` on the explorations, over HTTP on the
//! curated graph. IOM is the hub (its country offices, roles, mentions: more than two pages of
//! 100). The curated sources date few relations and no role, so each test that asks by date first
//! records two dated roles at IOM the way an editor would (`createRelation` with `validFrom` /
//! `validUntil`), beside the sources' own dated relations (IOM's assistance at the border since
//! 2019).

use std::cmp::Ordering;

use crate::common::{error_codes, repo_path, TestServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    (s, dir)
}

/// Andrew Selee acting at IOM from May 2024 to February 2025, Michele Klein Solomon from
/// 15 February 2025 (made up for the test; cited to a real document without a quote). Returns
/// their keys.
async fn dated_roles(s: &TestServer) -> (String, String) {
    let editor = s.token("ed", policygraph::auth::Role::Editor).await;
    let create = |from: &str, title: &str, valid_from: &str, valid_until: Option<&str>| {
        let until = valid_until.map_or(String::new(), |u| format!(r#", validUntil: "{u}""#));
        format!(
            r#"mutation {{ createRelation(input: {{ kind: HOLDS_ROLE, from: "{from}", to: "iom", title: "{title}",
                validFrom: "{valid_from}"{until}, citations: [{{ document: "doc-003-iom-caribbean-strategy-launched" }}] }})
                {{ relation {{ key }} }} }}"#
        )
    };
    let mut keys = Vec::new();
    for q in [
        create("andrew-selee", "Director General (acting)", "2024-05", Some("2025-02")),
        create("michele-klein-solomon", "Director-General", "2025-02-15", None),
    ] {
        let body = s.query_as(&editor, &q, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        keys.push(body["data"]["createRelation"]["relation"]["key"].as_str().unwrap().to_string());
    }
    (keys[0].clone(), keys[1].clone())
}

const NODE: &str =
    "key kind title validFrom validUntil from { slug name kind } to { slug name kind } citations { document { slug } }";

/// Every relation of IOM under `args` (without `first`/`after`), paging by `first`, checking
/// `totalCount` and `pageInfo` on each page; the relations in the order the pages gave them.
async fn all_pages(s: &TestServer, args: &str, first: usize) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    loop {
        let after_arg = after.as_ref().map_or(String::new(), |c| format!(r#", after: "{c}""#));
        let q = format!(
            r#"{{ entity(slug: "iom") {{ relations({args} first: {first}{after_arg}) {{ totalCount
                pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ {NODE} }} }} }} }} }}"#
        );
        let d = s.data(&q, json!({})).await;
        let c = &d["entity"]["relations"];
        let t = c["totalCount"].as_u64().unwrap() as usize;
        assert_eq!(*total.get_or_insert(t), t, "totalCount is the same on every page");
        let edges = c["edges"].as_array().unwrap();
        assert!(edges.len() <= first);
        assert_eq!(c["pageInfo"]["hasPreviousPage"], after.is_some());
        out.extend(edges.iter().map(|e| e["node"].clone()));
        let more = c["pageInfo"]["hasNextPage"].as_bool().unwrap();
        assert_eq!(more, out.len() < t, "hasNextPage after {} of {t}", out.len());
        if let Some(last) = edges.last() {
            assert_eq!(c["pageInfo"]["endCursor"], last["cursor"]);
            assert_eq!(c["pageInfo"]["startCursor"], edges[0]["cursor"]);
        }
        if !more {
            assert_eq!(out.len(), t);
            return out;
        }
        after = Some(c["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
}

fn keys(rs: &[Value]) -> Vec<String> {
    rs.iter().map(|r| r["key"].as_str().unwrap().to_string()).collect()
}

fn sorted_keys(rs: &[Value]) -> Vec<String> {
    let mut k = keys(rs);
    k.sort();
    k
}

/// Folded as the README says TITLE and OTHER_NAME compare: accents dropped, lower case, every
/// run of other characters one space.
fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let plain: String = s.nfkd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).collect();
    plain.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The other end of an IOM relation.
fn other(r: &Value) -> &Value {
    if r["from"]["slug"] == "iom" {
        &r["to"]
    } else {
        &r["from"]
    }
}

/// The sort key the README documents for each order, computed from what the API answers.
fn sort_key(field: &str, r: &Value) -> Option<String> {
    let s = |v: &Value| v.as_str().map(String::from);
    match field {
        "DATE" => s(&r["validFrom"]).or_else(|| s(&r["validUntil"])),
        "KIND" => s(&r["kind"]).map(|k| k.to_lowercase()),
        "TITLE" => s(&r["title"]).map(|t| fold(&t)),
        "OTHER_NAME" => s(&other(r)["name"]).map(|n| fold(&n)),
        _ => unreachable!(),
    }
}

fn in_order(field: &str, desc: bool, a: &Value, b: &Value) -> Ordering {
    let turn = |o: Ordering| if desc { o.reverse() } else { o };
    let by_key = match (sort_key(field, a), sort_key(field, b)) {
        (Some(x), Some(y)) => turn(x.cmp(&y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_key.then_with(|| turn(a["key"].as_str().cmp(&b["key"].as_str())))
}

#[tokio::test]
async fn each_order_in_both_directions_pages_through_the_hub_once_in_order() {
    let (s, _d) = server().await;
    dated_roles(&s).await;
    let default = all_pages(&s, "", 100).await;
    assert!(default.len() > 200, "IOM is a hub of more than two pages: {}", default.len());
    let everything = sorted_keys(&default);
    // The same default order, asked for by name, in pages of another size.
    assert_eq!(keys(&all_pages(&s, "orderBy: { field: DEFAULT },", 37).await), keys(&default));
    let reversed = all_pages(&s, "orderBy: { field: DEFAULT, direction: DESC },", 100).await;
    assert_eq!(keys(&reversed), keys(&default).into_iter().rev().collect::<Vec<_>>());
    for field in ["DATE", "KIND", "TITLE", "OTHER_NAME"] {
        for (dir, desc) in [("ASC", false), ("DESC", true)] {
            let got = all_pages(&s, &format!("orderBy: {{ field: {field}, direction: {dir} }},"), 23).await;
            // Each relation once…
            assert_eq!(sorted_keys(&got), everything, "{field} {dir}");
            // …in the documented order: by key, missing keys last either way, ties by key.
            let mut want = got.clone();
            want.sort_by(|a, b| in_order(field, desc, a, b));
            assert_eq!(keys(&got), keys(&want), "{field} {dir}");
            if field == "DATE" {
                // The dated relations first, newest first when descending.
                let first = &got[0]["validFrom"];
                assert_eq!(first, if desc { "2025-02-15" } else { "2019" }, "{dir}");
                assert!(got.last().unwrap()["validFrom"].is_null());
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn cursors_keep_their_order_and_the_default_order_keeps_its_old_cursors() {
    let (s, _d) = server().await;
    let q = |args: &str| {
        format!(
            r#"{{ entity(slug: "iom") {{ relations({args}) {{ edges {{ cursor node {{ key kind order }} }} }} }} }}"#
        )
    };
    let d = s.data(&q("first: 3"), json!({})).await;
    let edges = d["entity"]["relations"]["edges"].as_array().unwrap().clone();
    // The default order's cursors are exactly those the API has always given out, so the ones
    // clients hold still work.
    for e in &edges {
        let n = &e["node"];
        let kind = n["kind"].as_str().unwrap().to_lowercase();
        let order = n["order"].as_i64().unwrap_or(i64::from(i32::MAX));
        let old = URL_SAFE_NO_PAD.encode(format!("{order}\u{1f}{kind}\u{1f}{}", n["key"].as_str().unwrap()));
        assert_eq!(e["cursor"], old.as_str());
    }
    let old = edges[0]["cursor"].as_str().unwrap();
    let d = s.data(&q(&format!(r#"first: 2, after: "{old}""#)), json!({})).await;
    let next: Vec<&Value> = d["entity"]["relations"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    assert_eq!(next, [&edges[1]["node"], &edges[2]["node"]]);
    // A cursor made under one order is refused under another, naming `after`.
    let title = s.data(&q(r#"first: 1, orderBy: { field: TITLE }"#), json!({})).await;
    let title = title["entity"]["relations"]["edges"][0]["cursor"].as_str().unwrap().to_string();
    for (cursor, args) in [
        (title.as_str(), "orderBy: { field: DATE }"),
        (title.as_str(), "orderBy: { field: TITLE, direction: DESC }"),
        (title.as_str(), ""),
        (old, "orderBy: { field: KIND }"),
        (old, "orderBy: { field: DEFAULT, direction: DESC }"),
    ] {
        let body = s.query(&q(&format!(r#"first: 1, {args}, after: "{cursor}""#)), json!({})).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{args}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["argument"], "after");
    }
    let body = s.query(&q(r#"first: 1, after: "bm90IGEgY3Vyc29y""#), json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    s.stop().await;
}

#[tokio::test]
async fn a_boundary_survives_the_deletion_of_its_relation() {
    let (s, _d) = server().await;
    let (acting, dg) = dated_roles(&s).await;
    let q = |after: &str| {
        format!(
            r#"{{ entity(slug: "iom") {{ relations(first: 2, orderBy: {{ field: DATE }}{after}) {{ edges {{ cursor node {{ key }} }} }} }} }}"#
        )
    };
    let d = s.data(&q(""), json!({})).await;
    let edges = d["entity"]["relations"]["edges"].as_array().unwrap().clone();
    // By date: the border assistance (2019), then the acting role (2024-05), then 2025-02-15.
    assert_eq!(edges[1]["node"]["key"], acting.as_str());
    let cursor = edges[1]["cursor"].as_str().unwrap();
    let editor = s.token("ed2", policygraph::auth::Role::Editor).await;
    let del = format!(r#"mutation {{ deleteRelation(input: {{ id: "{acting}" }}) {{ deletedId }} }}"#);
    let body = s.query_as(&editor, &del, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let d = s.data(&q(&format!(r#", after: "{cursor}""#)), json!({})).await;
    // The page goes on after where the deleted relation was: with the role from 2025-02-15.
    assert_eq!(d["entity"]["relations"]["edges"][0]["node"]["key"], dg.as_str());
    s.stop().await;
}

#[tokio::test]
async fn each_filter_keeps_exactly_the_relations_it_describes() {
    let (s, _d) = server().await;
    let (acting, dg) = dated_roles(&s).await;
    let all = all_pages(&s, "", 100).await;
    let filtered = |w: &'static str| {
        let s = &s;
        async move { sorted_keys(&all_pages(s, &format!("where: {w},"), 100).await) }
    };
    let want =
        |keep: &dyn Fn(&Value) -> bool| sorted_keys(&all.iter().filter(|r| keep(r)).cloned().collect::<Vec<_>>());
    assert_eq!(
        filtered("{ kinds: [HOLDS_ROLE, OFFICE_OF] }").await,
        want(&|r| r["kind"] == "HOLDS_ROLE" || r["kind"] == "OFFICE_OF")
    );
    // Both `kinds` must allow a kind; both directions must allow a relation.
    let both = sorted_keys(
        &all_pages(&s, "kinds: [HOLDS_ROLE, MENTIONS], where: { kinds: [HOLDS_ROLE, OFFICE_OF] },", 100).await,
    );
    assert_eq!(both, want(&|r| r["kind"] == "HOLDS_ROLE"));
    assert_eq!(filtered("{ direction: OUTGOING }").await, want(&|r| r["from"]["slug"] == "iom"));
    assert!(all_pages(&s, "direction: OUTGOING, where: { direction: INCOMING },", 10).await.is_empty());
    // Case, accents and punctuation ignored.
    let dg_titles = want(&|r| r["title"].as_str().is_some_and(|t| fold(t).contains("director general")));
    assert!(dg_titles.len() >= 3, "the two dated roles and Ugochi Daniels' deputy title: {dg_titles:?}");
    assert_eq!(filtered(r#"{ titleContains: "DIRECTOR-général" }"#).await, dg_titles);
    assert_eq!(filtered(r#"{ titleContains: "director general" }"#).await, dg_titles);
    assert_eq!(filtered("{ otherKinds: [PERSON] }").await, want(&|r| other(r)["kind"] == "PERSON"));
    let doc = "doc-003-iom-caribbean-strategy-launched";
    let cites = want(&|r| r["citations"].as_array().unwrap().iter().any(|c| c["document"]["slug"] == doc));
    assert!(cites.contains(&acting) && cites.contains(&dg));
    assert_eq!(filtered(r#"{ citedDocument: "doc-003-iom-caribbean-strategy-launched" }"#).await, cites);
    assert_eq!(filtered(r#"{ citedDocument: "Document:doc-003-iom-caribbean-strategy-launched" }"#).await, cites);
    // Dates: undated relations count unless strict.
    let undated = want(&|r| r["validFrom"].is_null() && r["validUntil"].is_null());
    let border = want(&|r| r["to"]["slug"] == "us-mexico-border" && r["kind"] == "ASSISTS");
    let with = |mut a: Vec<String>, b: &[&String]| {
        a.extend(b.iter().map(|k| k.to_string()));
        a.sort();
        a
    };
    assert_eq!(filtered(r#"{ validAt: "2018" }"#).await, undated);
    assert!(filtered(r#"{ validAt: "2018", strict: true }"#).await.is_empty());
    assert_eq!(filtered(r#"{ validAt: "2024-04", strict: true }"#).await, border);
    // A month-precise start is valid on each day of its month, and in its year.
    assert_eq!(filtered(r#"{ validAt: "2024-05-10", strict: true }"#).await, with(border.clone(), &[&acting]));
    assert_eq!(filtered(r#"{ validAt: "2024", strict: true }"#).await, with(border.clone(), &[&acting]));
    // Both held in February 2025 (the acting role to some day of it); on 1 March 2025 only one.
    assert_eq!(filtered(r#"{ validAt: "2025-02-20", strict: true }"#).await, with(border.clone(), &[&acting, &dg]));
    assert_eq!(filtered(r#"{ validAt: "2025-03-01", strict: true }"#).await, with(border.clone(), &[&dg]));
    assert_eq!(
        filtered(r#"{ dateFrom: "2020", dateTo: "2024-06", strict: true }"#).await,
        with(border.clone(), &[&acting])
    );
    assert_eq!(filtered(r#"{ dateTo: "2018", strict: true }"#).await, Vec::<String>::new());
    assert_eq!(filtered(r#"{ dateFrom: "2025-03", strict: true }"#).await, with(border.clone(), &[&dg]));
    s.stop().await;
}

#[tokio::test]
async fn who_held_the_director_general_role_on_1_march_2025() {
    let (s, _d) = server().await;
    let (_, dg) = dated_roles(&s).await;
    let q = |strict: bool| {
        format!(
            r#"{{ entity(slug: "iom") {{ relations(direction: INCOMING, where: {{ kinds: [HOLDS_ROLE], titleContains: "director general",
                validAt: "2025-03-01", strict: {strict} }}, orderBy: {{ field: DATE, direction: DESC }}) {{
                edges {{ node {{ key title validFrom from {{ slug }} }} }} }} }} }}"#
        )
    };
    let d = s.data(&q(true), json!({})).await;
    let e = d["entity"]["relations"]["edges"].as_array().unwrap();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (e[0]["node"]["key"].as_str().unwrap(), &e[0]["node"]["from"]["slug"]),
        (dg.as_str(), &json!("michele-klein-solomon"))
    );
    // Not strict: also the deputy title the sources give undated, after the dated answer.
    let d = s.data(&q(false), json!({})).await;
    let from: Vec<&str> = d["entity"]["relations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["from"]["slug"].as_str().unwrap())
        .collect();
    assert_eq!(from, ["michele-klein-solomon", "ugochi-daniels"]);
    // The README's second question, on the sources alone: Joe Biden, undated; strict, no one.
    let president = |strict: bool| {
        format!(
            r#"{{ entity(slug: "us-government") {{ relations(where: {{ kinds: [HOLDS_ROLE], titleContains: "president",
                validAt: "2025-03-01", strict: {strict} }}) {{ edges {{ node {{ validFrom validUntil from {{ slug }} }} }} }} }} }}"#
        )
    };
    let d = s.data(&president(false), json!({})).await;
    let edges = d["entity"]["relations"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    assert!(edges.iter().all(|e| e["node"]["from"]["slug"] == "joe-biden" && e["node"]["validFrom"].is_null()));
    let d = s.data(&president(true), json!({})).await;
    assert_eq!(d["entity"]["relations"]["edges"], json!([]));
    s.stop().await;
}

#[tokio::test]
async fn explorations_follow_only_relations_valid_at_the_date() {
    let (s, _d) = server().await;
    let (acting, _) = dated_roles(&s).await;
    let steps = |p: &Value| -> Vec<String> {
        p["steps"].as_array().unwrap().iter().map(|s| s["relation"]["key"].as_str().unwrap().to_string()).collect()
    };
    // Andrew Selee → IOM (acting, 2024-05..2025-02) → the border (assisted since 2019).
    let sp = |args: &str| {
        format!(
            r#"{{ shortestPath(from: "andrew-selee", to: "us-mexico-border"{args}) {{ steps {{ relation {{ key }} }} }} }}"#
        )
    };
    let d = s.data(&sp(r#", validAt: "2024-06", strict: true"#), json!({})).await;
    assert_eq!(steps(&d["shortestPath"]), [acting.clone(), "assists:iom:us-mexico-border".to_string()]);
    let d = s.data(&sp(r#", validAt: "2023", strict: true"#), json!({})).await;
    assert!(d["shortestPath"].is_null(), "no dated way in 2023: {d}");
    // Not strict: undated relations lead there, never the role that had not begun.
    let d = s.data(&sp(r#", validAt: "2023""#), json!({})).await;
    assert!(!steps(&d["shortestPath"]).contains(&acting));
    let d = s.data(&sp(r#", validAt: "2024-06", ranking: FEWEST_HOPS, kinds: [HOLDS_ROLE, ASSISTS]"#), json!({})).await;
    assert_eq!(steps(&d["shortestPath"]).len(), 2);

    let paths = |args: &str| {
        format!(
            r#"{{ paths(from: "andrew-selee", to: "us-mexico-border", maxLength: 4{args}) {{ truncated paths {{ steps {{ relation {{ key }} }} }} }} }}"#
        )
    };
    let d = s.data(&paths(r#", validAt: "2024-06", strict: true"#), json!({})).await;
    let got: Vec<Vec<String>> = d["paths"]["paths"].as_array().unwrap().iter().map(steps).collect();
    assert_eq!(got, [vec![acting.clone(), "assists:iom:us-mexico-border".to_string()]]);
    let d = s.data(&paths(r#", validAt: "2026", strict: true"#), json!({})).await;
    assert!(d["paths"]["paths"].as_array().unwrap().is_empty());
    let d = s.data(&paths(""), json!({})).await;
    assert!(d["paths"]["paths"].as_array().unwrap().len() > 1);

    let nb = |args: &str| {
        format!(
            r#"{{ neighborhood(slug: "iom", limit: 100{args}) {{ nodes {{ entity {{ slug }} }} edges {{ key }} }} }}"#
        )
    };
    let d = s.data(&nb(r#", validAt: "2024-06", strict: true"#), json!({})).await;
    let nodes: Vec<&str> =
        d["neighborhood"]["nodes"].as_array().unwrap().iter().map(|n| n["entity"]["slug"].as_str().unwrap()).collect();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert!(nodes.contains(&"andrew-selee") && nodes.contains(&"us-mexico-border") && nodes[0] == "iom");
    let d = s.data(&nb(r#", validAt: "2018", strict: true"#), json!({})).await;
    assert_eq!(d["neighborhood"]["nodes"].as_array().unwrap().len(), 1);
    let lenient = s.data(&nb(r#", validAt: "2018""#), json!({})).await;
    let everything = s.data(&nb(""), json!({})).await;
    let n = |d: &Value| d["neighborhood"]["nodes"].as_array().unwrap().len();
    assert!(n(&lenient) > 3 && n(&lenient) <= n(&everything));
    assert!(!lenient["neighborhood"]["edges"].as_array().unwrap().iter().any(|e| e["key"] == acting.as_str()));

    let conn = |at: &str| {
        format!(
            r#"{{ connections(a: "andrew-selee", b: "us-mexico-border", validAt: "{at}", strict: true) {{ entity {{ slug }} }} }}"#
        )
    };
    let d = s.data(&conn("2024-06"), json!({})).await;
    assert_eq!(d["connections"], json!([{ "entity": { "slug": "iom" } }]));
    let d = s.data(&conn("2023"), json!({})).await;
    assert_eq!(d["connections"], json!([]));

    let tl = |args: &str| {
        format!(
            r#"{{ timeline(entity: "iom", first: 100{args}) {{ edges {{ node {{ kind date relation {{ key }} }} }} }} }}"#
        )
    };
    let relation_keys = |d: &Value| -> Vec<String> {
        d["timeline"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["node"]["relation"]["key"].as_str().map(String::from))
            .collect()
    };
    let all = relation_keys(&s.data(&tl(""), json!({})).await);
    assert!(all.contains(&acting));
    let at = relation_keys(&s.data(&tl(r#", validAt: "2025-03-01""#), json!({})).await);
    assert!(!at.contains(&acting) && at.contains(&"assists:iom:us-mexico-border".to_string()), "{at:?}");
    assert_eq!(at.len(), 2, "the border assistance and the Director-General's start: {at:?}");
    s.stop().await;
}

#[tokio::test]
async fn bad_dates_and_filters_are_refused_naming_the_argument() {
    let (s, _d) = server().await;
    let rel = |w: &str| format!(r#"{{ entity(slug: "iom") {{ relations(where: {w}) {{ totalCount }} }} }}"#);
    for (q, argument) in [
        (rel(r#"{ validAt: "2025-13" }"#), "where.validAt"),
        (rel(r#"{ validAt: "1 March 2025" }"#), "where.validAt"),
        (rel(r#"{ dateFrom: "2025-02-30" }"#), "where.dateFrom"),
        (rel(r#"{ dateTo: "25" }"#), "where.dateTo"),
        (rel(r#"{ dateFrom: "2025", dateTo: "2024" }"#), "where.dateTo"),
        (rel(r#"{ titleContains: " -- " }"#), "where.titleContains"),
        (rel(r#"{ citedDocument: "iom" }"#), "where.citedDocument"),
        (r#"{ neighborhood(slug: "iom", validAt: "yesterday") { center { slug } } }"#.into(), "validAt"),
        (r#"{ shortestPath(from: "iom", to: "joe-biden", validAt: "2025-3-1") { length } }"#.into(), "validAt"),
        (r#"{ paths(from: "iom", to: "joe-biden", validAt: "2025-00") { truncated } }"#.into(), "validAt"),
        (r#"{ timeline(entity: "iom", validAt: "") { totalCount } }"#.into(), "validAt"),
        (r#"{ connections(a: "iom", b: "joe-biden", validAt: "2025-02-29") { entity { slug } } }"#.into(), "validAt"),
    ] {
        let body = s.query(&q, json!({})).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{q}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["argument"], argument, "{q}");
    }
    let body = s.query(&rel(r#"{ citedDocument: "no-such-document" }"#), json!({})).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
    assert_eq!(body["errors"][0]["extensions"]["argument"], "where.citedDocument");
    s.stop().await;
}

/// The GraphiQL tab that shows relation filters and dates runs on the curated graph as written,
/// with its variables, and answers the undated deputy title (not strict).
#[tokio::test]
async fn the_graphiql_example_of_a_dated_relations_page_runs() {
    let (s, _d) = server().await;
    let js = std::fs::read_to_string(repo_path("static/graphiql/init.js")).unwrap();
    let at = js.find("query DirectorsGeneralOn").expect("the example tab");
    let start = js[..at].rfind("query: [").unwrap();
    let end = at + js[at..].find("].join").unwrap();
    // Each line of the query is one single-quoted JS string.
    let query: String = js[start..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix('\'').and_then(|l| l.trim_end_matches(',').strip_suffix('\'')))
        .map(|l| format!("{}\n", l.replace("\\'", "'")))
        .collect();
    let vars = &js[end..];
    let vars = &vars[vars.find("variables: '").unwrap() + "variables: '".len()..];
    let vars: Value = serde_json::from_str(&vars[..vars.find('\'').unwrap()].replace("\\n", "\n")).unwrap();
    assert_eq!(vars, json!({ "day": "2025-03-01" }));
    let d = s.data(&query, vars).await;
    let edges = d["entity"]["relations"]["edges"].as_array().unwrap();
    let from: Vec<&str> = edges.iter().map(|e| e["node"]["from"]["slug"].as_str().unwrap()).collect();
    assert_eq!(from, ["ugochi-daniels"]);
    s.stop().await;
}
