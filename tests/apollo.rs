//! Apollo Client, as apps use it, against the real server: `tests/browser/apollo.mjs` sends
//! several queries through `BatchHttpLink`; here the server is held to having seen one POST
//! for them (its own request counter), to the answers being those of the same queries sent one
//! by one, and to having charged each of them to the client's rate limit. Among them, filtered
//! and sorted lists (entities, an entity's relations, search in summaries), paged on by cursor.

use crate::common::{mini_seed, repo_path, TestServer};
use serde_json::{json, Value};

/// The `/graphql` requests the server has counted (in its `/metrics`).
async fn graphql_requests(s: &TestServer) -> u64 {
    let text = s.client.get(format!("{}/metrics", s.url)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("http_requests_total{") && l.contains("path=\"/graphql\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// `value` without the `__typename` fields Apollo adds to every selection.
fn without_typename(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| *k != "__typename").map(|(k, v)| (k.clone(), without_typename(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_typename).collect()),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apollo_batches_queries_into_one_post_and_reads_their_costs() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let token = s.token("apollo-app", policygraph::auth::Role::Reader).await;
    let before = graphql_requests(&s).await;
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/apollo.mjs"))
        .args(["--api", &s.graphql_url(), "--token", &token])
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs what the browser tests need)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{log}");
    assert!(out.status.success(), "the Apollo Client check failed:\n{log}");
    let result: Value = log
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("the script's result line:\n{log}"));
    // One request for the batch, then one for the next page of the sorted list.
    let all_posts = result["allPosts"].as_array().unwrap().len() as u64;
    assert_eq!(all_posts, 2, "{result}");
    assert_eq!(graphql_requests(&s).await - before, all_posts, "the server saw one request for the batch");
    let queries = result["queries"].as_array().unwrap();
    assert!(queries.len() >= 2 && result["posts"] == json!([queries.len()]), "{result}");
    let mut spent = 0;
    for q in queries {
        let name = q["name"].as_str().unwrap();
        let cost = result["costs"][name]["requested"].as_u64().unwrap();
        spent += cost.max(1);
        if name == "Budget" {
            // Charged in order: by the budget's own query, every query before it and itself.
            assert_eq!(result["data"][name]["rateLimit"]["used"], spent, "{result}");
            continue;
        }
        let alone = s.query_as(&token, q["query"].as_str().unwrap(), q["variables"].clone()).await;
        assert_eq!(without_typename(&result["data"][name]), alone["data"], "{name}");
        // Apollo adds `__typename` to each selection, which the cost counts as fields (in a list,
        // once per item): not less than the query alone.
        let alone_cost = alone["extensions"]["cost"]["requested"].as_u64().unwrap();
        assert!(cost >= alone_cost, "{name}: {cost} against {alone_cost} alone");
    }
    assert_eq!(result["headers"]["x-ratelimit-used"], spent.to_string());
    s.stop().await;
}
