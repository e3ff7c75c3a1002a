//! The store is the truth: restarts keep everything, the index equals the store, seeding is
//! idempotent, bad seed data is refused whole, and a store of another format is refused.

use crate::common;

use std::fs;
use std::path::Path;

use crate::common::{copy_dir, mini_seed, TestServer};
use policygraph::seed::{self, SeedError};
use policygraph::service::Service;
use policygraph::store::sled::SledStore;
use policygraph::store::{Store, StoreError};
use serde_json::json;

const ALL: &str = "{ stats { entities relations generation } entities(first: 100) { edges { node { slug name relations(first: 20) { edges { node { key title } } } } } } }";

#[tokio::test]
async fn a_restart_keeps_every_entity_and_relation() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let before = s.data(ALL, json!({})).await;
    assert!(s.service.index_matches_store().await.unwrap());
    s.stop().await;

    // No seed directory the second time: everything must come from the store.
    let s = TestServer::start(dir.path(), None).await;
    let after = s.data(ALL, json!({})).await;
    assert_eq!(before, after);
    assert_eq!(after["stats"]["entities"], 11);
    assert!(s.service.index_matches_store().await.unwrap());
    s.stop().await;
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::open(dir.path()).await.unwrap();
    let data = seed::load(&mini_seed()).unwrap();
    let first = service.seed(&data).await.unwrap();
    assert_eq!((first.entities_added, first.relations_added), (11, 10));
    let generation = service.store().head().await.unwrap();
    let second = service.seed(&data).await.unwrap();
    assert!(!second.changed(), "{second}");
    assert_eq!(second.unchanged, 21);
    assert_eq!(service.store().head().await.unwrap(), generation, "no write at all");
}

/// A copy of the mini seed with one file's text replaced.
fn broken_seed(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&mini_seed(), d.path());
    let p = d.path().join(file);
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "fixture changed: {from:?} not in {file}");
    fs::write(&p, text.replacen(from, to, 1)).unwrap();
    d
}

fn problems(dir: &Path) -> Vec<String> {
    match seed::load(dir) {
        Err(SeedError::Invalid(ps)) => ps.iter().map(|p| p.to_string()).collect(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("bad seed accepted"),
    }
}

#[test]
fn bad_seed_data_is_reported_with_file_record_and_field() {
    let cases = [
        (
            "relations/note.toml",
            r#"to = "open-borders-order""#,
            r#"to = "no-such-thing""#,
            ["relations/note.toml", "exo welcomes no-such-thing", "to", "no-such-thing"],
        ),
        (
            "entities/all.toml",
            r#"kind = "person""#,
            r#"kind = "alien""#,
            ["entities/all.toml", "ana-nunez-perez", "kind", "alien"],
        ),
        (
            "entities/all.toml",
            r#"date = "1951""#,
            r#"date = "04/02/2021""#,
            ["entities/all.toml", "exo", "date", "04/02/2021"],
        ),
        (
            "relations/note.toml",
            "said Ana Núñez-Pérez",
            "said Ana Nunez",
            ["relations/note.toml", "ana-nunez-perez holds_role exo", "quote", "not found"],
        ),
        (
            "entities/all.toml",
            r#"slug = "bo-chen""#,
            r#"slug = "exo""#,
            ["entities/all.toml", "exo", "slug", "duplicate"],
        ),
        (
            "relations/note.toml",
            r#"citations = [{ document = "note.txt", quote = "The Order calls for a Regional Strategy" }]"#,
            "citations = []",
            ["relations/note.toml", "open-borders-order calls_for regional-strategy", "citations", ""],
        ),
        (
            "entities/all.toml",
            r#"name = "Geneva""#,
            "name = \"Geneva\"\ncolour = \"blue\"",
            ["entities/all.toml", "colour", "", ""],
        ),
    ];
    for (file, from, to, expect) in cases {
        let d = broken_seed(file, from, to);
        let ps = problems(d.path());
        let joined = ps.join("\n");
        eprintln!("{to:?} →\n{joined}");
        for e in expect {
            assert!(
                joined.to_lowercase().contains(&e.to_lowercase()),
                "problem for {to:?} should mention {e:?}; got:\n{joined}"
            );
        }
    }
}

/// The value rules the API keeps to hold for seed files too, each problem named by file, record
/// and field, and without the offending value repeated whole.
#[test]
fn values_past_the_rules_are_refused_with_file_record_and_field() {
    let long_quote = format!("Test note, Geneva. {}", "and so on ".repeat(20_000));
    let many_aliases =
        format!("aliases = [{}]", (0..=100).map(|i| format!("\"EXO {i}\"")).collect::<Vec<_>>().join(", "));
    let cases = [
        (
            "entities/all.toml",
            r#"name = "Bo Chen""#,
            format!("name = \"{}\"", "B".repeat(301)),
            vec!["entities/all.toml", "entity #4 `bo-chen`", "field `name`", "301 characters long; at most 300"],
        ),
        (
            "entities/all.toml",
            r#"name = "Geneva""#,
            r#"name = "Gen\u001B[2Jeva""#.to_string(),
            vec!["entities/all.toml", "`geneva`", "field `name`", "U+001B"],
        ),
        (
            "entities/all.toml",
            r#"aliases = ["EXO"]"#,
            r#"aliases = ["EXO", "E\u202EXO"]"#.to_string(),
            vec!["entities/all.toml", "`exo`", "field `aliases[1]`", "U+202E"],
        ),
        (
            "entities/all.toml",
            r#"aliases = ["EXO"]"#,
            many_aliases,
            vec!["entities/all.toml", "`exo`", "field `aliases`", "101 entries; at most 100"],
        ),
        (
            "entities/all.toml",
            r#"summary = "An organization invented for the tests.""#,
            r#"summary = "An organization\u0000 invented for the tests.""#.to_string(),
            vec!["entities/all.toml", "`exo`", "field `summary`", "U+0000"],
        ),
        (
            "relations/note.toml",
            r#"quote = "Test note, Geneva.""#,
            r#"quote = "Test note, Lausanne.""#.to_string(),
            vec![
                "relations/note.toml",
                "(note located_in geneva)",
                "field `citations[0].quote`",
                "not found verbatim in document `note.txt`",
            ],
        ),
        (
            "relations/note.toml",
            r#"quote = "Test note, Geneva.""#,
            format!("quote = \"{long_quote}\""),
            vec!["relations/note.toml", "(note located_in geneva)", "field `citations[0].quote`", "at most 2000"],
        ),
        (
            "relations/note.toml",
            r#"title = "EXO Director General""#,
            r#"title = "EXO Director\u001B[31m General""#.to_string(),
            vec!["relations/note.toml", "(ana-nunez-perez holds_role exo)", "field `title`", "U+001B"],
        ),
        (
            "relations/note.toml",
            r#"quote = "US$ 850K""#,
            r#"quote = "US$ 850M""#.to_string(),
            vec![
                "relations/note.toml",
                "(exo funds shelter-project)",
                "field `quantities[0].quote`",
                "not found verbatim",
            ],
        ),
    ];
    for (file, from, to, expect) in cases {
        let d = broken_seed(file, from, &to);
        let joined = problems(d.path()).join("\n");
        for e in expect {
            assert!(
                joined.contains(e),
                "problem for {:?} should mention {e:?}; got:\n{joined}",
                to.chars().take(60).collect::<String>()
            );
        }
        assert!(joined.len() < 1_000, "the problem repeats the value: {} bytes", joined.len());
    }
}

/// A store seeded before this start knows no document texts until they are added (the server
/// reads them from its seed directory): until then a quote cannot be checked and is refused.
#[tokio::test]
async fn quotes_are_checked_against_the_documents_after_a_restart_too() {
    use policygraph::edit::{Edit, NewCitation};
    let dir = tempfile::tempdir().unwrap();
    let data = seed::load(&mini_seed()).unwrap();
    assert!(data.documents.contains_file("note.txt") && data.documents.len() == 1);
    {
        let service = Service::open(dir.path()).await.unwrap();
        service.seed(&data).await.unwrap();
        service.close().await.unwrap();
    }
    let service = open_service_once_released(dir.path()).await;
    let cite = |quote: &str| Edit::AddCitation {
        id: "signed:bo-chen:open-borders-order".into(),
        citation: NewCitation { document: "note".into(), quote: Some(quote.into()) },
    };
    let err = service.edit("ed", cite("Test note, Geneva.")).await.unwrap_err().to_string();
    assert!(err.contains("text of document `note` is not known"), "{err}");
    service.add_document_texts(&seed::load_document_texts(&mini_seed()).unwrap());
    let err = service.edit("ed", cite("Test note, Lausanne.")).await.unwrap_err().to_string();
    assert!(err.contains("field `quote`: not found verbatim in document `note`"), "{err}");
    service.edit("ed", cite("Test note, Geneva.")).await.unwrap();
    service.close().await.unwrap();
}

/// Opens a store a service of this process has just closed (sled may hold its lock a moment).
async fn open_service_once_released(path: &Path) -> Service {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Service::open(path).await {
            Ok(s) => return s,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("open store: {e}"),
        }
    }
}

#[tokio::test]
async fn bad_seed_writes_nothing() {
    let d = broken_seed("relations/note.toml", r#"to = "open-borders-order""#, r#"to = "no-such-thing""#);
    let store_dir = tempfile::tempdir().unwrap();
    assert!(seed::load(d.path()).is_err());
    // The CLI path: load fails before the store is touched; the store stays empty.
    let service = Service::open(store_dir.path()).await.unwrap();
    assert!(service.store().is_empty().await.unwrap());
}

#[test]
fn check_command_exits_non_zero_and_names_the_problem() {
    let d = broken_seed("entities/all.toml", r#"kind = "person""#, r#"kind = "alien""#);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_policygraph"))
        .args(["check", "--seed-dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("entities/all.toml") && text.contains("alien"), "{text}");
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_policygraph"))
        .args(["check", "--seed-dir"])
        .arg(mini_seed())
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
}

#[test]
fn a_store_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta").unwrap().insert("format_version", &99u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    match open_once_released(dir.path()) {
        Err(e @ StoreError::FormatVersion { found: 99, .. }) => assert!(e.to_string().contains("version 99")),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened a store of another format"),
    }
    // A sled database we did not write (no version, but data) is refused too.
    let other = tempfile::tempdir().unwrap();
    {
        let db = sled::open(other.path()).unwrap();
        db.insert("something", "else").unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(open_once_released(other.path()), Err(StoreError::FormatVersion { found: 0, .. })));
}

/// Opens a store that a `sled::Db` of this process has just dropped: sled's flusher thread can
/// hold the directory's lock for a moment after the drop, which is not what these tests check.
fn open_once_released(path: &std::path::Path) -> Result<SledStore, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match SledStore::open(path) {
            Err(StoreError::Open { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other,
        }
    }
}

/// A store holding a relation whose entity is missing (written around the edit path, which
/// refuses it) is refused at start with the relation and the entity named, whatever its size:
/// 10,000 entities make the store reader run ahead of the index builder when it stops.
#[tokio::test]
async fn a_store_with_a_dangling_relation_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        let (entities, mut relations) = policygraph::synthetic::generate(10_000, 20_000, 3);
        relations[0].to = "nobody-here".into();
        store.import(&entities, &relations).await.unwrap();
        store.flush().await.unwrap();
    }
    match Service::open(dir.path()).await {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("`nobody-here`") && msg.contains("`r0`"), "{msg}");
        }
        Ok(_) => panic!("a store with a dangling relation was loaded"),
    }
}

/// Writes a sled store from `tests/fixtures/store-v1/records.jsonl`: every key and value of a
/// store written by a build from before the binary value format (format version 1, every value
/// JSON), as that build left it after seeding the mini seed, importing a document with its text,
/// creating a token (its secret is [`V1_TOKEN`]), and an update, an added alias and a merge made
/// through the API. Kept as its keys and values rather than as sled's files, so that the fixture
/// reads as text and does not depend on sled's on-disk layout.
fn write_v1_store(dir: &Path) {
    let db = sled::open(dir).unwrap();
    let records = fs::read_to_string(common::repo_path("tests/fixtures/store-v1/records.jsonl")).unwrap();
    let bytes = |line: &serde_json::Value, field: &str| match (line.get(field), line.get(format!("{field}_hex"))) {
        (Some(text), None) => text.as_str().unwrap().as_bytes().to_vec(),
        (None, Some(hex)) => hex::decode(hex.as_str().unwrap()).unwrap(),
        _ => panic!("{field} of {line}"),
    };
    for line in records.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let tree = db.open_tree(line["tree"].as_str().unwrap()).unwrap();
        tree.insert(bytes(&line, "key"), bytes(&line, "value")).unwrap();
    }
    db.flush().unwrap();
}

/// The secret of the token in the version-1 fixture.
const V1_TOKEN: &str = "pg_a524277f10f2bfc38d68386982902bea22bfd60ec31299789d624885f7a4544f";

/// A store written in format 1 (every value JSON) opens, serves everything it holds (records,
/// a document's text, the change feed with a merge's survivor, a token) and takes a write; the
/// write is in the binary form, the store's format is raised to 2 so that an older build
/// refuses it, and after a restart old and new values read side by side.
#[tokio::test]
async fn a_store_written_in_json_opens_serves_and_takes_a_write() {
    let dir = tempfile::tempdir().unwrap();
    write_v1_store(dir.path());
    let s = TestServer::start(dir.path(), None).await;
    let read = r#"{
        stats { entities relations }
        bo: entity(slug: "bo-chen") { name aliases version }
        exo: entity(slug: "exo") { name aliases date summary }
        report: entity(slug: "annual-report") { ... on Document { text } }
        funds: relation(key: "funds:exo:shelter-project") { quantities { name value unit quote } citations { quote } }
        role: relation(key: "holds_role:ana-nunez-perez:exo") { title validFrom }
        moved: node(id: "Person:ana-ferreira") { id }
    }"#;
    let before = s.data(read, json!({})).await;
    assert_eq!(before["stats"], json!({ "entities": 12, "relations": 11 }));
    assert_eq!(before["bo"], json!({ "name": "Bo Chen Jr", "aliases": ["B. Chen"], "version": 3 }));
    assert_eq!(before["exo"]["date"], "1951");
    assert_eq!(before["report"]["text"], "The agency is led by Ana Ferreira.\nIt \"helps\" people.");
    assert_eq!(
        before["funds"]["quantities"][0],
        json!({ "name": "funding", "value": 850000.0, "unit": "USD", "quote": "US$ 850K" })
    );
    assert_eq!(before["role"], json!({ "title": "EXO Director General", "validFrom": "2021-03-03" }));
    // The merged entity's old ID answers with the survivor, read from a version-1 audit entry.
    assert_eq!(before["moved"]["id"], "Person:ana-nunez-perez");
    let feed = s
        .data("{ changes(since: 0, first: 100) { edges { node { seq action before after mergedInto } } } }", json!({}))
        .await;
    let changes = feed["changes"]["edges"].as_array().unwrap();
    assert_eq!(changes.len(), 29);
    let merged = changes.iter().find(|c| !c["node"]["mergedInto"].is_null()).expect("the merge's deletion");
    assert_eq!(merged["node"]["mergedInto"], "Person:ana-nunez-perez");
    assert_eq!(changes[24]["node"]["before"]["name"], "Bo Chen");
    assert_eq!(changes[24]["node"]["after"]["name"], "Bo Chen Jr");

    // The token stored as JSON authenticates a write.
    let write = r#"mutation { updateEntity(input: { id: "exo", summary: "Rewritten in the new format." }) { entity { summary version } } }"#;
    let answer = s.query_as(V1_TOKEN, write, json!({})).await;
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(answer["data"]["updateEntity"]["entity"]["summary"], "Rewritten in the new format.");
    s.stop().await;

    // After a restart (from the store, not a snapshot) the new value and the old ones read together.
    fs::remove_file(dir.path().join("index.snapshot")).unwrap();
    let s = TestServer::start(dir.path(), None).await;
    let after = s.data(read, json!({})).await;
    assert_eq!(after["exo"]["summary"], "Rewritten in the new format.");
    assert_eq!(after["exo"]["aliases"], before["exo"]["aliases"]);
    for same in ["stats", "bo", "report", "funds", "role", "moved"] {
        assert_eq!(after[same], before[same], "{same}");
    }
    let feed = s.data("{ changes(since: 29) { edges { node { action after } } } }", json!({})).await;
    assert_eq!(feed["changes"]["edges"][0]["node"]["after"]["summary"], "Rewritten in the new format.");
    s.stop().await;

    // On disk: the written entity is binary (version 2), an untouched one still JSON, and the
    // format raised to 2, which a build reading only version 1 refuses.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let db = loop {
        match sled::open(dir.path()) {
            Ok(db) => break db,
            // The stopped service's flusher thread may hold the lock a moment longer.
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("the store does not open again: {e}"),
        }
    };
    assert_eq!(db.open_tree("entities").unwrap().get("exo").unwrap().unwrap()[0], 2);
    assert_eq!(db.open_tree("entities").unwrap().get("geneva").unwrap().unwrap()[0], 1);
    let format = db.open_tree("meta").unwrap().get("format_version").unwrap().unwrap();
    assert_eq!(format.as_ref(), &2u32.to_be_bytes());
}
