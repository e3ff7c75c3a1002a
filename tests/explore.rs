//! Exploring connections over HTTP on the curated graph: the journalist's "how are X and Y
//! connected?" with every step cited, common ground, neighbourhoods, timelines, rankings.

use crate::common::{error_codes, repo_path, TestServer};
use serde_json::json;

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    (s, dir)
}

const PATH: &str = "length cost start { slug } end { slug } steps { direction entity { slug kind } relation { kind from { slug } to { slug } citations { quote document { title } } } }";

#[tokio::test]
async fn how_ugochi_daniels_is_connected_to_joe_biden() {
    let (s, _d) = server().await;
    let q = format!(r#"{{ shortestPath(from: "ugochi-daniels", to: "Person:joe-biden") {{ {PATH} }} }}"#);
    let p = &s.data(&q, json!({})).await["shortestPath"];
    assert_eq!(p["start"]["slug"], "ugochi-daniels");
    assert_eq!(p["end"]["slug"], "joe-biden");
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(p["length"].as_u64().unwrap() as usize, steps.len());
    // Each step follows a real relation between the previous entity and the next, and cites.
    let mut at = "ugochi-daniels".to_string();
    for st in steps {
        let r = &st["relation"];
        let next = st["entity"]["slug"].as_str().unwrap();
        let (from, to) = (r["from"]["slug"].as_str().unwrap(), r["to"]["slug"].as_str().unwrap());
        if st["direction"] == "FORWARD" {
            assert_eq!((from, to), (at.as_str(), next));
        } else {
            assert_eq!((from, to), (next, at.as_str()));
        }
        assert!(r["citations"][0]["quote"].is_string(), "every step cites a sentence: {st}");
        assert_ne!(r["kind"], "MENTIONS", "provenance is left out by default");
        assert_ne!(st["entity"]["kind"], "DOCUMENT");
        at = next.to_string();
    }
    s.stop().await;
}

#[tokio::test]
async fn paths_between_the_two_strategies_best_first() {
    let (s, _d) = server().await;
    let q = format!(
        r#"{{ paths(from: "iom-strategy-for-the-caribbean-2023-2026", to: "collaborative-migration-management-strategy", maxLength: 4, first: 5) {{ truncated paths {{ {PATH} }} }} }}"#
    );
    let d = s.data(&q, json!({})).await;
    let paths = d["paths"]["paths"].as_array().unwrap();
    assert!(!paths.is_empty());
    let costs: Vec<f64> = paths.iter().map(|p| p["cost"].as_f64().unwrap()).collect();
    assert!(costs.windows(2).all(|w| w[0] <= w[1]), "best first: {costs:?}");
    let q = r#"{ shortestPath(from: "iom-strategy-for-the-caribbean-2023-2026", to: "collaborative-migration-management-strategy") { cost } }"#;
    let best = s.data(q, json!({})).await["shortestPath"]["cost"].as_f64().unwrap();
    assert!((best - costs[0]).abs() < 1e-9, "shortestPath is the first of paths");
    // Fewest hops never gives a longer path than the hub-avoiding ranking.
    let q = r#"{ a: shortestPath(from: "ugochi-daniels", to: "joe-biden", ranking: FEWEST_HOPS) { length } b: shortestPath(from: "ugochi-daniels", to: "joe-biden") { length } }"#;
    let d = s.data(q, json!({})).await;
    assert!(d["a"]["length"].as_u64() <= d["b"]["length"].as_u64());
    s.stop().await;
}

#[tokio::test]
async fn path_errors_and_empty_results() {
    let (s, _d) = server().await;
    let body = s.query(r#"{ shortestPath(from: "nobody", to: "iom") { length } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["NOT_FOUND"]);
    assert_eq!(body["errors"][0]["extensions"]["argument"], "from");
    let body = s.query(r#"{ shortestPath(from: "iom", to: "joe-biden", maxLength: 50) { length } }"#, json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    // Nothing connects through `signed` alone: null, not an error.
    let d = s
        .data(r#"{ shortestPath(from: "ugochi-daniels", to: "joe-biden", kinds: [SIGNED]) { length } }"#, json!({}))
        .await;
    assert!(d["shortestPath"].is_null());
    let d = s
        .data(r#"{ paths(from: "ugochi-daniels", to: "joe-biden", kinds: [SIGNED]) { paths { length } } }"#, json!({}))
        .await;
    assert_eq!(d["paths"]["paths"], json!([]));
    s.stop().await;
}

#[tokio::test]
async fn common_ground_neighbourhood_timeline_and_rankings() {
    let (s, _d) = server().await;
    let d = s
        .data(r#"{ connections(a: "michele-klein-solomon", b: "ugochi-daniels") { entity { slug } viaA { kind } viaB { kind } } }"#, json!({}))
        .await;
    let c = d["connections"].as_array().unwrap();
    assert!(!c.is_empty(), "both are tied to something in common");
    for x in c {
        assert!(!x["viaA"].as_array().unwrap().is_empty() && !x["viaB"].as_array().unwrap().is_empty());
    }
    // A readable picture of IOM: capped, with counts of what was left out.
    let d = s
        .data(r#"{ neighborhood(slug: "iom", limit: 15) { center { slug } nodes { entity { slug } depth omittedTotal omitted { kind count } } edges { from { slug } to { slug } } } }"#, json!({}))
        .await;
    let n = &d["neighborhood"];
    assert_eq!(n["center"]["slug"], "iom");
    let nodes = n["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 15);
    let center = &nodes[0];
    assert!(center["omittedTotal"].as_u64().unwrap() > 150, "{center}");
    assert!(center["omitted"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["kind"] == "OFFICE" && o["count"].as_u64().unwrap() > 100));
    let slugs: Vec<&str> = nodes.iter().map(|n| n["entity"]["slug"].as_str().unwrap()).collect();
    for e in n["edges"].as_array().unwrap() {
        assert!(
            slugs.contains(&e["from"]["slug"].as_str().unwrap()) && slugs.contains(&e["to"]["slug"].as_str().unwrap())
        );
    }
    // Counting is skipped when no count is asked for: asked through fragments, the counts are
    // the same; not asked, the picture is the same.
    let frag = s
        .data(r#"query { neighborhood(slug: "iom", limit: 15) { ...N } } fragment N on Neighborhood { nodes { ... on NeighborhoodNode { omittedTotal } } }"#, json!({}))
        .await;
    assert_eq!(frag["neighborhood"]["nodes"][0]["omittedTotal"], center["omittedTotal"]);
    let plain = s
        .data(r#"{ neighborhood(slug: "iom", limit: 15) { nodes { entity { slug } } edges { from { slug } to { slug } } } }"#, json!({}))
        .await;
    assert_eq!(plain["neighborhood"]["edges"], n["edges"]);
    let plain_slugs: Vec<&str> = plain["neighborhood"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["entity"]["slug"].as_str().unwrap())
        .collect();
    assert_eq!(plain_slugs, slugs);
    // Timeline of one person: in date order, with her dated roles.
    let d = s
        .data(r#"{ timeline(entity: "michele-klein-solomon") { totalCount edges { node { date kind relation { title } } } } }"#, json!({}))
        .await;
    let items = d["timeline"]["edges"].as_array().unwrap();
    let dates: Vec<&str> = items.iter().map(|e| e["node"]["date"].as_str().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    // Her roles carry no start date (no text gives one); the episode she took part in is dated.
    assert!(items.iter().any(|e| e["node"]["date"] == "2023-07-25"), "{items:?}");
    let d = s
        .data(r#"{ timeline(from: "2021-07", to: "2021-08") { totalCount edges { node { date } } } }"#, json!({}))
        .await;
    for e in d["timeline"]["edges"].as_array().unwrap() {
        let date = e["node"]["date"].as_str().unwrap();
        assert!(("2021-07"..="2021-08-31").contains(&date), "{date}");
    }
    // Rankings, and the same numbers as fields.
    let d = s
        .data(
            r#"{ ranking(by: PAGE_RANK, first: 3) { rank entity { slug degree pageRank } pageRank degree } }"#,
            json!({}),
        )
        .await;
    let r = d["ranking"].as_array().unwrap();
    assert_eq!(r[0]["entity"]["slug"], "iom");
    assert_eq!(r[0]["pageRank"], r[0]["entity"]["pageRank"]);
    assert!(r[0]["pageRank"].as_f64() >= r[1]["pageRank"].as_f64());
    s.stop().await;
}

#[tokio::test]
async fn rankings_follow_writes() {
    let (s, _d) = server().await;
    let editor = s.token("ed", policygraph::auth::Role::Editor).await;
    let before =
        s.data(r#"{ entity(slug: "andrew-selee") { degree } }"#, json!({})).await["entity"]["degree"].as_u64().unwrap();
    let q = r#"mutation { createRelation(input: { kind: PARTNERS_WITH, from: "andrew-selee", to: "ugochi-daniels",
        citations: [{ document: "doc-003-iom-caribbean-strategy-launched" }] }) { relation { id } } }"#;
    let body = s.query_as(&editor, q, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let after =
        s.data(r#"{ entity(slug: "andrew-selee") { degree } }"#, json!({})).await["entity"]["degree"].as_u64().unwrap();
    assert_eq!(after, before + 1);
    s.stop().await;
}
