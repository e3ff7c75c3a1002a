//! `/documents/<slug>` in a real headless browser, over the curated seed: every cited sentence
//! highlighted (as many as `Document.passages` has, each exactly its characters), a click lists
//! the sentence's relations linking to `/explore`, `#at=<offset>` selects and scrolls to a
//! citation's sentence, a document without text says so, unknown slugs get the 404 page. Saves
//! `target/screenshots/reader.png`.

use crate::common::{repo_path, TestServer};
use policygraph::auth::Role;
use serde_json::json;

/// A one-document seed whose text puts characters beyond U+FFFF (one offset each, two UTF-16
/// units in JavaScript) before its cited sentences: the curated texts have curly quotes and
/// dashes, which JavaScript counts as the API does, so they alone cannot show a page that
/// confuses the two.
fn astral_seed(dir: &std::path::Path) {
    let write = |path: &str, text: &str| {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "documents/astral.txt",
        "The 🌍 Gazette, 𝐍𝐨. 𝟏\n\
         Reported from “Γ𝔞𝔩𝔞𝔵𝔶” 🚀 station — the Lantern Office opened in 2020 🎉.\n\
         Its director, Mira Vale 🧑, said: “We light the way.” Nobody else spoke.\n",
    );
    write(
        "entities/all.toml",
        r#"[[entity]]
slug = "astral-gazette"
kind = "document"
name = "The Gazette"
file = "astral.txt"

[[entity]]
slug = "lantern-office"
kind = "office"
name = "Lantern Office"
date = "2020"

[entity.sources]
date = [{ document = "astral.txt", quote = "the Lantern Office opened in 2020" }]

[[entity]]
slug = "mira-vale"
kind = "person"
name = "Mira Vale"
"#,
    );
    write(
        "relations/all.toml",
        r#"[[relation]]
kind = "holds_role"
from = "mira-vale"
to = "lantern-office"
title = "director"
citations = [{ document = "astral.txt", quote = "Its director, Mira Vale" }]

[[relation]]
kind = "states"
from = "mira-vale"
to = "lantern-office"
citations = [{ document = "astral.txt", quote = "“We light the way.”" }]
"#,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_highlights_cited_sentences_and_opens_a_citation() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&repo_path("seed"))).await;
    let extra = tempfile::tempdir().unwrap();
    astral_seed(extra.path());
    let data = policygraph::seed::load(extra.path()).expect("the astral seed loads");
    s.service.seed(&data).await.expect("the astral seed applies beside the curated one");
    // A document created through the API has no text file.
    let editor = s.token("ed", Role::Editor).await;
    let body = s
        .query_as(
            &editor,
            r#"mutation { createEntity(input: { kind: DOCUMENT, slug: "memo-without-text", name: "A memo" }) { entity { slug } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["createEntity"]["entity"]["slug"], "memo-without-text", "{body}");

    let shots = repo_path("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/reader.mjs"))
        .args(["--base", &s.url])
        .args(["--doc", "doc-001-iom-welcomes-end-of-migrant-protection-protocols"])
        .args(["--relation", "holds_role:michele-klein-solomon:001"])
        .args(["--no-text", "memo-without-text"])
        .args(["--astral", "astral-gazette"])
        .arg("--out")
        .arg(shots.join("reader.png"))
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs what the browser tests need)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "/documents check failed:\n{log}");
    assert!(shots.join("reader.png").metadata().unwrap().len() > 10_000, "a real screenshot");
    s.stop().await;
}
