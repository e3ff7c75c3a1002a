//! GraphiQL in a real headless browser (Debian's chromium, driven by playwright-core): the page
//! loads with no outside network, with the Explorer panel open, runs a query (typed, or built by
//! clicking in the Explorer) and shows its result. Saves screenshots under `target/screenshots/`.
//! `scripts/install-test-deps.sh` installs chromium and the npm package.

use crate::common::{repo_path, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_offline() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let shots = repo_path("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/graphiql.mjs"))
        .args(["--url", &format!("{}/graphiql", s.url)])
        .args(["--query", r#"{ entity(slug: "iom") { name kind } }"#])
        .args(["--expect", "International Organization for Migration"])
        .arg("--out")
        .arg(shots.join("graphiql.png"))
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs what the browser tests need)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "GraphiQL check failed:\n{log}");
    assert!(shots.join("graphiql.png").metadata().unwrap().len() > 10_000, "a real screenshot");
    s.stop().await;
}

/// A query built the way someone who does not know GraphQL would: in a new, empty tab, tick
/// `entity` in the Explorer, type a seed slug into its `slug` argument, tick `name` and a nested
/// field; the editor then holds that query, and the run button shows the entity from the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_explorer_builds_a_query_by_clicking() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let shots = repo_path("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("graphiql-explorer.png");
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/graphiql.mjs"))
        .args(["--url", &format!("{}/graphiql", s.url)])
        .args(["--explore", "entity", "--explore", "entity(slug)=iom", "--explore", "entity.name"])
        .args(["--explore", "entity.relations", "--explore", "entity.relations.totalCount"])
        .args(["--expect-query", r#"entity(slug: "iom")"#, "--expect-query", "name"])
        .args(["--expect-query", "relations", "--expect-query", "totalCount"])
        .args(["--expect", "International Organization for Migration", "--expect", "\"totalCount\""])
        .arg("--out")
        .arg(&shot)
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs what the browser tests need)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "GraphiQL Explorer check failed:\n{log}");
    for line in ["Explorer panel open on load", "Explorer: entity ticked", "editor's query contains"] {
        assert!(log.contains(&format!("[ok   ] {line}")), "no passed check {line:?}:\n{log}");
    }
    assert!(shot.metadata().unwrap().len() > 10_000, "a real screenshot");
    s.stop().await;
}
