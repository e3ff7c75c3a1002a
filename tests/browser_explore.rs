//! `/explore` in a real headless browser: a search draws nodes, a click expands a node, a click
//! on an edge shows its citation, a path is highlighted. Saves a screenshot under
//! `target/screenshots/`.

mod common;

use common::{repo_path, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_draws_a_neighbourhood_and_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let shots = repo_path("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/explore.mjs"))
        .args(["--url", &format!("{}/explore", s.url)])
        .args(["--search", "Klein Solomon"])
        .args(["--from", "ugochi-daniels", "--to", "joe-biden"])
        .arg("--out")
        .arg(shots.join("explore.png"))
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs what the browser tests need)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "/explore check failed:\n{log}");
    assert!(shots.join("explore.png").metadata().unwrap().len() > 10_000, "a real screenshot");
    s.stop().await;
}
