//! GraphiQL in a real headless browser (Debian's chromium, driven by playwright-core): the page
//! loads with no outside network, runs a query and shows its result. Saves a screenshot under
//! `target/screenshots/`. `scripts/install-test-deps.sh` installs chromium and the npm package.

mod common;

use common::{repo_path, TestServer};

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
