//! `policygraph check` reads every sentence of the curated seed: run on a copy of `seed/`, it
//! fails when a statement loses its relation, and passes with an empty report on the seed itself.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::common::{copy_dir, repo_path};

/// A copy of the curated seed with `from` replaced by `to` in one file.
fn seed_with(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("seed"), d.path());
    let p = d.path().join(file);
    let text = fs::read_to_string(&p).unwrap();
    assert_eq!(text.matches(from).count(), 1, "seed changed: {from:?} not once in {file}");
    fs::write(&p, text.replacen(from, to, 1)).unwrap();
    d
}

fn check(dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_policygraph"))
        .args(["check", "--seed-dir"])
        .arg(dir)
        .output()
        .unwrap()
}

/// A copy of the curated seed without the relation whose record starts with `header`.
fn seed_without(file: &str, header: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&repo_path("seed"), d.path());
    let p = d.path().join(file);
    let text = fs::read_to_string(&p).unwrap();
    assert_eq!(text.matches(header).count(), 1, "seed changed: {header:?} not once in {file}");
    let start = text.find(header).unwrap();
    let end = start + text[start..].find("\n]\n").unwrap() + 3;
    fs::write(&p, format!("{}{}", &text[..start], &text[end..])).unwrap();
    d
}

#[test]
fn the_curated_seed_leaves_no_sentence_unread() {
    let out = check(&repo_path("seed"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" 0 uncited (0 statement(s))"), "{text}");
    assert!(!text.contains("nothing cites"), "{text}");
}

#[test]
fn check_fails_when_a_statement_loses_its_relation() {
    // Andrew Selee's quote: nothing else cites it.
    let d = seed_without(
        "relations/003.toml",
        "\n[[relation]]\nkind = \"states\"\nfrom = \"andrew-selee\"\nto = \"caribbean\"",
    );
    let out = check(d.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("documents/003_a1660f60491fcc3a.txt: 1 sentence(s) nothing cites"), "{text}");
    assert!(text.contains("[statement at byte") && text.contains("“I think the Caribbean just receives"), "{text}");
    assert!(text.contains("1 uncited statement(s)"), "{text}");

    // Luca Dall'Oglio's quote: its attribution is still cited for his title (`holds_role`),
    // which records who he is, not what he said.
    let d = seed_without(
        "relations/000-press-release.toml",
        "\n[[relation]]\nkind = \"states\"\nfrom = \"luca-dalloglio\"",
    );
    let out = check(d.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("“Those living in conditions of protracted displacement"), "{text}");
    assert!(text.contains("1 uncited statement(s)"), "{text}");
}

#[test]
fn a_no_fact_entry_that_is_no_sentence_fails_and_its_sentence_is_reported() {
    let d = seed_with(
        "no-fact.toml",
        "[[sentence]]\ndocument = \"003_a1660f60491fcc3a.txt\"\nsentence = \"Important cross-cutting themes include\"",
        "[[sentence]]\ndocument = \"003_a1660f60491fcc3a.txt\"\nsentence = \"Important cross-cutting themes include:\"",
    );
    let out = check(d.path());
    let text = String::from_utf8_lossy(&out.stdout);
    // The entry no longer names a sentence: that is a problem of the list, and the sentence is
    // reported as uncited.
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("no-fact.toml: sentence #") && text.contains("not a whole sentence"), "{text}");
    assert!(text.contains("[sentence at byte") && text.contains("Important cross-cutting themes include"), "{text}");
    assert!(text.contains("0 statement(s)"), "{text}");
}
