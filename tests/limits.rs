//! Depth, cost and page-size limits: costs that match the work (searches, path searches,
//! look-ups by ID, introspection), on every way in, and that GraphiQL's introspection query and
//! the README's examples pass them.

use crate::common;

use crate::common::{error_codes, mini_seed, next_json, readme_queries, repo_path, TestServer, Ws};
use futures_util::SinkExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The introspection query GraphiQL sends.
const INTROSPECTION: &str = include_str!("fixtures/introspection.graphql");
const MAX_COST: u64 = policygraph::api::limits::MAX_COST;

async fn mini() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    (s, dir)
}

/// `{ a0: <field> a1: <field> … }`
fn aliases(n: usize, field: &str) -> String {
    let mut q = String::from("{");
    for i in 0..n {
        q.push_str(&format!(" a{i}: {field}"));
    }
    q.push_str(" }");
    q
}

/// Asserts a refusal for cost, before execution; returns the cost the server computed.
fn too_complex(body: &Value) -> u64 {
    assert_eq!(error_codes(body), ["QUERY_TOO_COMPLEX"], "{body}");
    assert!(body.get("data").is_none(), "refused before execution: {body}");
    let cost = body["errors"][0]["extensions"]["cost"].as_u64().unwrap();
    assert!(cost > MAX_COST);
    assert_eq!(body["errors"][0]["extensions"]["maxCost"], MAX_COST);
    cost
}

#[tokio::test]
async fn introspection_passes_the_limits() {
    let (s, _d) = mini().await;
    let d = s.data(INTROSPECTION, json!({})).await;
    let types = d["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Entity"));
    s.stop().await;
}

#[tokio::test]
async fn too_deep_is_refused_before_execution() {
    let (s, _d) = mini().await;
    let mut q = String::from(r#"{ entity(slug: "exo") { "#);
    for _ in 0..6 {
        q.push_str("relations(first: 1) { edges { node { to { ");
    }
    q.push_str("name");
    for _ in 0..6 {
        q.push_str(" } } } }");
    }
    q.push_str(" } }");
    let body = s.query(&q, json!({})).await;
    assert!(body.get("data").is_none(), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("nested"), "{body}");
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"]);
    s.stop().await;
}

#[tokio::test]
async fn cost_grows_with_first_even_through_the_interface() {
    let (s, _d) = mini().await;
    // 100 × 100 relations: refused, though each `first` is within the page limit.
    let q =
        "{ entities(first: 100) { edges { node { relations(first: 100) { edges { node { kind to { name } } } } } } } }";
    too_complex(&s.query(q, json!({})).await);
    // The same shape with small pages is fine.
    let q =
        "{ entities(first: 10) { edges { node { relations(first: 10) { edges { node { kind to { name } } } } } } } }";
    s.data(q, json!({})).await;
    // Through a fragment on the interface and a variable, the cost is the same.
    let q = "query($n: Int) { entities(first: $n) { edges { node { ...R } } } } fragment R on Entity { relations(first: $n) { edges { node { kind to { name } } } } }";
    too_complex(&s.query(q, json!({ "n": 100 })).await);
    s.stop().await;
}

#[tokio::test]
async fn a_variable_left_out_is_costed_at_its_default() {
    let (s, _d) = mini().await;
    let q = "query($n: Int = 100) { entities(first: $n) { edges { node { relations(first: $n) { edges { node { kind to { name } } } } } } } }";
    let omitted = too_complex(&s.query(q, json!({})).await);
    let sent = too_complex(&s.query(q, json!({ "n": 100 })).await);
    let literal =
        "{ entities(first: 100) { edges { node { relations(first: 100) { edges { node { kind to { name } } } } } } } }";
    let literal = too_complex(&s.query(literal, json!({})).await);
    assert_eq!((omitted, sent), (literal, literal));
    // A value sent wins over the default.
    let d = s.data(q, json!({ "n": 5 })).await;
    assert!(d["entities"]["edges"].as_array().unwrap().len() <= 5);
    s.stop().await;
}

#[tokio::test]
async fn many_path_searches_in_one_request_are_refused() {
    let (s, _d) = mini().await;
    let one = r#"paths(from: "ana-nunez-perez", to: "geneva", maxLength: 8, first: 1, includeProvenance: true) { truncated }"#;
    // The request of the report: 100 aliases, 2.5 KB.
    let cost = too_complex(&s.query(&aliases(100, one), json!({})).await);
    assert!(cost >= 100 * 1_000, "each search of length 8 costs thousands, not 2: {cost}");
    // Two are already too much; one runs.
    too_complex(&s.query(&aliases(2, one), json!({})).await);
    s.data(&aliases(1, one), json!({})).await;
    // Shortest paths are cheaper, but not free.
    let sp = r#"shortestPath(from: "ana-nunez-perez", to: "geneva", maxLength: 8) { length }"#;
    s.data(&aliases(20, sp), json!({})).await;
    too_complex(&s.query(&aliases(100, sp), json!({})).await);
    s.stop().await;
}

#[tokio::test]
async fn a_thousand_searches_in_one_request_are_refused() {
    let (s, _d) = mini().await;
    for field in
        [r#"search(query: "a", first: 1) { name }"#, "timeline(first: 1) { totalCount }", "ranking(first: 1) { rank }"]
    {
        too_complex(&s.query(&aliases(1_000, field), json!({})).await);
        // A few are fine.
        s.data(&aliases(10, field), json!({})).await;
    }
    // Neighbourhoods cost by depth.
    let nb = |depth: u32| format!(r#"neighborhood(slug: "exo", depth: {depth}, limit: 10) {{ nodes {{ depth }} }}"#);
    s.data(&aliases(40, &nb(1)), json!({})).await;
    too_complex(&s.query(&aliases(40, &nb(3)), json!({})).await);
    s.stop().await;
}

#[tokio::test]
async fn introspection_is_costed_by_the_schema() {
    let (s, _d) = mini().await;
    // 580 aliases of the schema's lists: the 90 KB request of the report.
    let lists = "__schema { types { name kind fields { name args { name type { name kind } } } } }";
    let q = aliases(580, lists);
    assert!(q.len() > 40_000);
    let cost = too_complex(&s.query(&q, json!({})).await);
    assert!(cost > 580 * 500, "{cost}");
    // GraphiQL's introspection query passes (above), but not twice in one request.
    let twice =
        INTROSPECTION.replacen("types { ...FullType }", "types { ...FullType } again: types { ...FullType }", 1);
    too_complex(&s.query(&twice, json!({})).await);
    // A small look is cheap.
    s.data(&aliases(100, "__schema { queryType { name } }"), json!({})).await;
    s.stop().await;
}

#[tokio::test]
async fn more_than_a_hundred_representations_are_refused_naming_the_argument() {
    let (s, _d) = mini().await;
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { name relations(first: 20) { totalCount } } } }";
    let reps = |n: usize| json!(vec![json!({ "__typename": "Organization", "id": "Organization:exo" }); n]);
    // 4,000 of the same organisation, each with a page of relations.
    let body = s.query(q, json!({ "r": reps(4_000) })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["argument"], "representations");
    assert_eq!(body["errors"][0]["path"], json!(["_entities"]));
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("4000"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    // Written out in the query, under an alias, the same.
    let list = vec![r#"{ __typename: "Organization", id: "Organization:exo" }"#; 101].join(", ");
    let body = s.query(&format!("{{ orgs: _entities(representations: [{list}]) {{ __typename }} }}"), json!({})).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["argument"], "representations");
    assert_eq!(body["errors"][0]["path"], json!(["orgs"]));
    // As `nodes` with too many IDs.
    let ids = vec!["Organization:exo"; 101];
    let body = s.query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["argument"], "ids");
    // A hundred are answered.
    let d = s.data(q, json!({ "r": reps(100) })).await;
    let found = d["_entities"].as_array().unwrap();
    assert_eq!(found.len(), 100);
    assert_eq!(found[0]["name"], "Example Organization");
    // Each representation pays for its selection: 100 with a page of 100 relations each is refused.
    let heavy = q.replace("first: 20", "first: 100").replace("totalCount", "edges { node { kind } }");
    too_complex(&s.query(&heavy, json!({ "r": reps(100) })).await);
    s.stop().await;
}

/// A query too costly to run, short enough for a URL.
const COSTLY: &str = r#"{ a: paths(from: "exo", to: "geneva", maxLength: 8, first: 1) { truncated } b: paths(from: "exo", to: "geneva", maxLength: 8, first: 1) { truncated } c: paths(from: "exo", to: "geneva", maxLength: 8, first: 1) { truncated } }"#;

#[tokio::test]
async fn the_same_cost_on_post_get_and_persisted_queries() {
    let (s, _d) = mini().await;
    let post = too_complex(&s.query(COSTLY, json!({})).await);
    let get: Value =
        s.client.get(s.graphql_url()).query(&[("query", COSTLY)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(too_complex(&get), post);
    // An automatic persisted query: with its text, then by its hash alone over GET.
    let hash = hex::encode(Sha256::digest(COSTLY.as_bytes()));
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let res = s
        .client
        .post(s.graphql_url())
        .header("content-type", "application/json")
        .body(json!({ "query": COSTLY, "extensions": ext }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(too_complex(&res.json().await.unwrap()), post);
    let res = s.client.get(s.graphql_url()).query(&[("extensions", ext.to_string())]).send().await.unwrap();
    assert_eq!(too_complex(&res.json().await.unwrap()), post);
    s.stop().await;
}

/// The first answer to the operation `id` (its `complete` aside).
async fn answer(ws: &mut Ws, id: &str) -> Value {
    loop {
        let msg = next_json(ws).await;
        if msg["id"] == id && msg["type"] != "complete" {
            return msg;
        }
    }
}

/// The errors a graphql-transport-ws answer carries, in an `error` or a `next` message.
fn ws_errors(msg: &Value) -> Value {
    match msg["type"].as_str() {
        Some("error") => json!({ "errors": msg["payload"] }),
        Some("next") => msg["payload"].clone(),
        _ => panic!("an error or a next message: {msg}"),
    }
}

#[tokio::test]
async fn the_same_cost_over_websocket() {
    let (s, _d) = mini().await;
    let mut req = s.graphql_url().replace("http://", "ws://").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(json!({ "type": "connection_init", "payload": {} }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    // A query over the socket.
    let subscribe = |id: &str, query: &str| {
        Message::Text(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }).to_string().into())
    };
    ws.send(subscribe("q", COSTLY)).await.unwrap();
    let msg = answer(&mut ws, "q").await;
    let body = ws_errors(&msg);
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{msg}");
    // A subscription whose events would each select 100 × 100 relations.
    let sub = r#"subscription { entityChanged(slug: "exo") { entity { relations(first: 100) { edges { node { from { relations(first: 100) { totalCount } } } } } } } }"#;
    ws.send(subscribe("s", sub)).await.unwrap();
    let msg = answer(&mut ws, "s").await;
    assert_eq!(error_codes(&ws_errors(&msg)), ["QUERY_TOO_COMPLEX"], "{msg}");
    ws.close(None).await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn the_readme_examples_and_the_explore_page_pass() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let queries = readme_queries();
    assert!(queries.len() >= 4, "the README's examples: {queries:?}");
    for q in &queries {
        s.data(q, json!({})).await;
    }
    // The explore page's queries (static/explore/explore.js).
    let search = "query($q:String!){ search(query:$q, first:8){ slug name kind } }";
    s.data(search, json!({ "q": "klein" })).await;
    let neighbourhood = "query($s:String!){ neighborhood(slug:$s, depth:1, limit:40){ center{slug} nodes{ entity{ id slug name kind } depth omittedTotal omitted{kind count} } edges{ id key kind title from{slug} to{slug} citations{ quote document{ title slug } } } } }";
    s.data(neighbourhood, json!({ "s": "iom" })).await;
    let path = "query($a:ID!,$b:ID!){ shortestPath(from:$a,to:$b){ length steps{ direction entity{ id slug name kind } relation{ id key kind title from{slug} to{slug} citations{ quote document{ title } } } } start{ id slug name kind } } }";
    s.data(path, json!({ "a": "ugochi-daniels", "b": "joe-biden" })).await;
    // A page of 100 relations with their citations, as the limit's documentation says.
    let page = r#"{ entity(slug: "iom") { relations(first: 100) { edges { node { kind title to { name } citations { quote document { title } } } } } } }"#;
    s.data(page, json!({})).await;
    s.stop().await;
}

/// Every example tab of the GraphiQL page runs on the curated graph, with its variables, within
/// the limits and without an error: a person's first click must not meet one.
#[tokio::test]
async fn every_graphiql_example_runs_on_the_curated_graph() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let examples = common::graphiql_examples();
    assert!(examples.len() >= 10, "the page's tabs: {}", examples.len());
    for (query, variables) in &examples {
        let body = s.query(query, variables.clone()).await;
        assert!(body.get("errors").is_none(), "{query}\n{body:#}");
        assert!(body["data"].as_object().is_some_and(|d| !d.is_empty()), "{query}\n{body:#}");
    }
    s.stop().await;
}

#[tokio::test]
async fn whole_graph_work_is_priced_by_the_graphs_size() {
    use policygraph::api::limits::{CostModel, SchemaSize};
    use policygraph::service::IndexStats;
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let st = s.data("{ stats { entities relations } }", json!({})).await["stats"].clone();
    let graph = IndexStats {
        entities: st["entities"].as_u64().unwrap(),
        relations: st["relations"].as_u64().unwrap(),
        generation: 0,
    };
    let model = CostModel::for_graph(graph, SchemaSize::default());
    assert!(
        model.timeline
            > CostModel::for_graph(IndexStats { entities: 11, relations: 10, generation: 0 }, SchemaSize::default())
                .timeline
    );
    let body = s.query(&aliases(1_000, "timeline(first: 1) { totalCount }"), json!({})).await;
    assert_eq!(too_complex(&body), 1_000 * (model.timeline + 1));
    s.stop().await;
}

/// An entity's 100 relations with both ends and their citations: an ordinary page.
const ORDINARY_PAGE: &str = r#"{ entity(slug: "exo") { name relations(first: 100) { totalCount edges { node { kind title from { name kind } to { name kind } citations { quote document { title slug } } } } } } }"#;

#[tokio::test]
async fn every_answer_reports_its_cost_and_an_ordinary_page_is_well_inside_the_limit() {
    let (s, _d) = mini().await;
    let body = s.query(ORDINARY_PAGE, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let cost = &body["extensions"]["cost"];
    let requested = cost["requested"].as_u64().unwrap_or_else(|| panic!("a cost: {body}"));
    assert_eq!(cost["limit"], MAX_COST, "{body}");
    assert!(requested > 100 && requested <= MAX_COST / 4, "well inside the limit: {requested}");
    // The same answer again comes from the answer cache, and still says what it cost; so do GET
    // and a persisted query.
    assert_eq!(s.query(ORDINARY_PAGE, json!({})).await["extensions"]["cost"], *cost);
    let get: Value =
        s.client.get(s.graphql_url()).query(&[("query", ORDINARY_PAGE)]).send().await.unwrap().json().await.unwrap();
    assert_eq!(get["extensions"]["cost"], *cost, "{get}");
    let hash = hex::encode(Sha256::digest(ORDINARY_PAGE.as_bytes()));
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let persisted = s
        .client
        .post(s.graphql_url())
        .header("content-type", "application/json")
        .body(json!({ "query": ORDINARY_PAGE, "extensions": ext }).to_string())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(persisted["extensions"]["cost"], *cost, "{persisted}");
    // A smaller query costs less: the figure is the query's, not a constant.
    let small = s.query(r#"{ entity(slug: "exo") { name } }"#, json!({})).await;
    assert!(small["extensions"]["cost"]["requested"].as_u64().unwrap() < requested, "{small}");
    // A page of 100 entities, each with 100 relations with both ends: refused before it runs.
    let big = "{ entities(first: 100) { edges { node { relations(first: 100) { edges { node { from { name } to { name } } } } } } } }";
    too_complex(&s.query(big, json!({})).await);
    s.stop().await;
}

#[tokio::test]
async fn a_websocket_answer_reports_its_cost_too() {
    let (s, _d) = mini().await;
    let expected = s.query(ORDINARY_PAGE, json!({})).await["extensions"]["cost"].clone();
    let mut req = s.graphql_url().replace("http://", "ws://").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(json!({ "type": "connection_init", "payload": {} }).to_string().into())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let msg = json!({ "id": "q", "type": "subscribe", "payload": { "query": ORDINARY_PAGE } });
    ws.send(Message::Text(msg.to_string().into())).await.unwrap();
    let msg = answer(&mut ws, "q").await;
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["payload"]["extensions"]["cost"], expected, "{msg}");
    ws.close(None).await.unwrap();
    s.stop().await;
}
