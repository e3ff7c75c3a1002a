//! Depth, cost and page-size limits, and that GraphiQL's introspection query passes them.

mod common;

use common::{error_codes, mini_seed, TestServer};
use serde_json::json;

/// The introspection query GraphiQL 3 sends (graphql-js `getIntrospectionQuery` with input
/// value deprecation, as GraphiQL enables it).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}
"#;

#[tokio::test]
async fn introspection_passes_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let d = s.data(INTROSPECTION, json!({})).await;
    let types = d["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Entity"));
    s.stop().await;
}

#[tokio::test]
async fn too_deep_is_refused_before_execution() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
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
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    // 100 × 100 relations: refused, though each `first` is within the page limit.
    let q =
        "{ entities(first: 100) { edges { node { relations(first: 100) { edges { node { kind to { name } } } } } } } }";
    let body = s.query(q, json!({})).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    assert!(body.get("data").is_none());
    // The same shape with small pages is fine.
    let q =
        "{ entities(first: 10) { edges { node { relations(first: 10) { edges { node { kind to { name } } } } } } } }";
    s.data(q, json!({})).await;
    // Through a fragment on the interface and a variable, the cost is the same.
    let q = "query($n: Int) { entities(first: $n) { edges { node { ...R } } } } fragment R on Entity { relations(first: $n) { edges { node { kind to { name } } } } }";
    let body = s.query(q, json!({ "n": 100 })).await;
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"], "{body}");
    s.stop().await;
}
