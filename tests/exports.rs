//! Exports over HTTP and from the command line, each parsed by a real parser of its format
//! (graphology's GraphML and GEXF parsers, headless cytoscape.js; `tests/browser/exports.mjs`).

use std::path::Path;

use crate::common::{repo_path, TestServer};

async fn fetch(s: &TestServer, path: &str) -> (u16, String, String) {
    let res = s.client.get(format!("{}{path}", s.url)).send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, res.text().await.unwrap())
}

async fn parse_all(dir: &Path, graphml: &str, gexf: &str, cyjs: &str) -> String {
    let files = [("graphml", graphml), ("gexf", gexf), ("cyjs", cyjs)];
    for (ext, body) in files {
        std::fs::write(dir.join(format!("g.{ext}")), body).unwrap();
    }
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/exports.mjs"))
        .arg("--graphml")
        .arg(dir.join("g.graphml"))
        .arg("--gexf")
        .arg(dir.join("g.gexf"))
        .arg("--cyjs")
        .arg(dir.join("g.cyjs"))
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs the parsers)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "an export did not parse:\n{log}");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_parses_with_its_own_parser() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(&dir.path().join("store"), Some(&repo_path("seed"))).await;
    let (st, ct, graphml) = fetch(&s, "/export/graph.graphml").await;
    assert_eq!((st, ct.starts_with("application/graphml+xml")), (200, true));
    let (_, ct, gexf) = fetch(&s, "/export/graph.gexf").await;
    assert!(ct.starts_with("application/gexf+xml"));
    let (_, ct, cyjs) = fetch(&s, "/export/graph.cyjs.json").await;
    assert!(ct.starts_with("application/json"));
    assert!(graphml.contains("attr.name=\"citations\"") && cyjs.contains("\"citations\""));
    parse_all(dir.path(), &graphml, &gexf, &cyjs).await;
    // A neighbourhood, capped.
    let (_, _, graphml) = fetch(&s, "/export/graph.graphml?slug=michele-klein-solomon&depth=2&limit=30").await;
    let (_, _, gexf) = fetch(&s, "/export/graph.gexf?slug=michele-klein-solomon&depth=2&limit=30").await;
    let (_, _, cyjs) = fetch(&s, "/export/graph.cyjs.json?slug=michele-klein-solomon&depth=2&limit=30").await;
    let v: serde_json::Value = serde_json::from_str(&cyjs).unwrap();
    assert!(v["elements"]["nodes"].as_array().unwrap().len() <= 30);
    parse_all(dir.path(), &graphml, &gexf, &cyjs).await;
    // Errors name what is wrong.
    let (st, _, body) = fetch(&s, "/export/graph.graphml?slug=nobody").await;
    assert_eq!(st, 404);
    assert!(body.contains("nobody"));
    let (st, _, body) = fetch(&s, "/export/graph.graphml?slug=iom&depth=9").await;
    assert_eq!(st, 400);
    assert!(body.contains("depth"));
    let (st, _, _) = fetch(&s, "/export/graph.pdf").await;
    assert_eq!(st, 404);
    s.stop().await;

    // The command line writes the same bytes as the server, from the stopped store (retrying
    // while the stopped server's threads still hold the store's lock).
    let mut tries = 0;
    let out = loop {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_policygraph"))
            .args(["export", "--format", "graphml", "--data"])
            .arg(dir.path().join("store"))
            .output()
            .unwrap();
        tries += 1;
        if out.status.success() || tries > 50 || !String::from_utf8_lossy(&out.stderr).contains("lock") {
            break out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = TestServer::start(&dir.path().join("store"), None).await;
    let (_, _, served) = fetch(&s, "/export/graph.graphml").await;
    assert_eq!(String::from_utf8(out.stdout).unwrap(), served);
    s.stop().await;
}
