//! `/explore` in a real headless browser, as a journalist checking a story uses it: a search
//! draws nodes, a click expands a node, a click on an edge shows each quote within its paragraph
//! with its document and a link into the document reader, "Copy citation" and "Copy as
//! Markdown" put the expected footnotes on the clipboard (compared with the API's answers), a
//! path is highlighted with its evidence listed, the page's address reproduces the view in
//! another page, broken addresses get a notice, the picture saves as PNG and SVG, and a URL an
//! editor gives a document reaches the evidence and the footnotes. Saves screenshots under
//! `target/screenshots/`: `explore.png` (the end), `explore-evidence.png` (an edge's evidence)
//! and `explore-path.png` (a path and its evidence).

use crate::common::{repo_path, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_draws_a_neighbourhood_and_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let shots = repo_path("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    const SHOTS: [&str; 3] = ["explore.png", "explore-evidence.png", "explore-path.png"];
    // A screenshot left by an earlier run must not pass for this one's.
    for shot in SHOTS {
        let _ = std::fs::remove_file(shots.join(shot));
    }
    // The seed's documents have no URL: the script gives one a URL as an editor, at its end,
    // to check that the evidence and the footnotes carry it.
    let token = s.token("explore-test", policygraph::auth::Role::Editor).await;
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/explore.mjs"))
        .args(["--url", &format!("{}/explore", s.url)])
        .args(["--search", "Klein Solomon"])
        .args(["--from", "ugochi-daniels", "--to", "joe-biden"])
        .arg("--out")
        .arg(shots.join("explore.png"))
        .arg("--shots")
        .arg(&shots)
        .args(["--token", &token])
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs what the browser tests need)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "/explore check failed:\n{log}");
    for shot in SHOTS {
        let len = shots.join(shot).metadata().map(|m| m.len()).unwrap_or(0);
        assert!(len > 10_000, "a real screenshot {shot} ({len} bytes):\n{log}");
    }
    s.stop().await;
}
