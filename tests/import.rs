//! Bulk import and export: the `policygraph import` command run as a process over a real sled
//! store (bad records, dry runs, a SIGKILL in the middle and the re-run that completes it), and
//! `POST /import` and `/export/graph.jsonl` on a running server (the round trip of the curated
//! graph, admins only, the report of refused records).

use crate::common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{repo_path, TestServer};
use policygraph::auth::Role;
use policygraph::service::Service;
use serde_json::{json, Value};

fn policygraph() -> Command {
    Command::new(env!("CARGO_BIN_EXE_policygraph"))
}

fn write_lines(path: &Path, lines: &[Value]) {
    let mut f = std::fs::File::create(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Entities and relations in the store at `dir` (the CLI must have exited: sled is one process's).
async fn counts(dir: &Path) -> (usize, usize, u64) {
    let service = Service::open(dir).await.expect("the store opens");
    let g = service.read().await;
    let counts = (g.entity_count(), g.relation_count(), service.last_seq().await.unwrap());
    drop(g);
    service.close().await.unwrap();
    drop(service);
    wait_for_unlock(dir).await;
    counts
}

/// Waits until no handle of this process holds the store's file lock: sled's flusher thread
/// lets go of it a moment after the last handle is dropped, and the next command run over the
/// store is another process that needs it.
async fn wait_for_unlock(dir: &Path) {
    use std::os::fd::AsRawFd as _;
    let file = std::fs::File::open(dir.join("db")).expect("the store's lock file");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // SAFETY: flock on a file descriptor this function owns.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        assert!(std::time::Instant::now() < deadline, "the store stayed locked");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // SAFETY: as above; unlocking a lock this descriptor holds.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
}

fn document(slug: &str, file: &str, text: &str) -> Value {
    json!({ "entity": { "slug": slug, "kind": "document", "name": slug, "file": file, "text": text } })
}

fn person(slug: &str) -> Value {
    json!({ "entity": { "slug": slug, "kind": "person", "name": slug.replace('-', " ") } })
}

#[tokio::test]
async fn every_bad_record_is_named_by_line_and_field_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.jsonl");
    let mut lines = vec![
        document("note", "note.txt", "Ada Lovelace met Charles Babbage in 1833."),
        person("ada-lovelace"),
        person("charles-babbage"),
        json!({ "relation": { "kind": "partners_with", "from": "ada-lovelace", "to": "charles-babbage",
            "citations": [{ "document": "note.txt", "quote": "Ada Lovelace met Charles Babbage" }] } }),
    ];
    std::fs::write(dir.path().join("good.jsonl"), "").unwrap();
    write_lines(&dir.path().join("good.jsonl"), &lines);
    let bad = [
        (r#"{"entity": {"slug": "x", "kind": "person""#.to_string(), None),
        (json!({ "entity": { "slug": "planet-x", "kind": "planet", "name": "X" } }).to_string(), Some("kind")),
        (
            json!({ "relation": { "kind": "funds", "from": "ada-lovelace", "to": "nobody",
            "citations": [{ "document": "note.txt" }] } })
            .to_string(),
            Some("to"),
        ),
        (person("ada-lovelace").to_string(), Some("slug")),
        (
            json!({ "relation": { "kind": "funds", "from": "charles-babbage", "to": "ada-lovelace",
            "citations": [{ "document": "note.txt", "quote": "Babbage funded Lovelace" }] } })
            .to_string(),
            Some("citations[0].quote"),
        ),
        (
            json!({ "entity": { "slug": "late", "kind": "event", "name": "Late", "date": "2021-02-30" } }).to_string(),
            Some("date"),
        ),
    ];
    let mut text = String::new();
    for l in &lines {
        text.push_str(&format!("{l}\n"));
    }
    for (l, _) in &bad {
        text.push_str(&format!("{l}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");

    let out = policygraph().arg("import").arg("--data").arg(&data).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for (i, (_, field)) in bad.iter().enumerate() {
        let line = lines.len() + i + 1;
        let at = match field {
            Some(f) => format!("people.jsonl:{line}: field `{f}`:"),
            None => format!("people.jsonl:{line}: not a JSON record"),
        };
        assert!(stderr.contains(&at), "no `{at}` in:\n{stderr}");
    }
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(counts(&data).await, (0, 0, 0), "a refused import writes nothing");

    // A dry run of the good records checks them and writes nothing either.
    let good = dir.path().join("good.jsonl");
    let out = policygraph().args(["import", "--dry-run", "--data"]).arg(&data).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dry run: nothing written"));
    assert_eq!(counts(&data).await, (0, 0, 0));

    // --skip-invalid writes the good ones, and the run still says records were refused.
    let out = policygraph().args(["import", "--skip-invalid", "--data"]).arg(&data).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (entities, relations, seq) = counts(&data).await;
    assert_eq!((entities, relations), (3, 1));
    assert_eq!(seq, 4, "one audit entry per record written");

    // The same import again changes nothing.
    lines.truncate(4);
    let out = policygraph().args(["import", "--data"]).arg(&data).arg(&good).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 unchanged"), "{stdout}");
    assert_eq!(counts(&data).await, (3, 1, 4));
}

#[tokio::test]
async fn a_killed_import_leaves_whole_chunks_and_running_it_again_completes_it() {
    const PEOPLE: usize = 2_000;
    const RELATIONS: usize = 20_000;
    const CHUNK: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.jsonl");
    let mut lines = vec![document("register", "register.txt", "A register of who knows whom.")];
    lines.extend((0..PEOPLE).map(|i| person(&format!("person-{i}"))));
    lines.extend((0..RELATIONS).map(|j| {
        json!({ "relation": { "id": format!("knows-{j}"), "kind": "partners_with",
            "from": format!("person-{}", j % PEOPLE), "to": format!("person-{}", (j * 7 + 1) % PEOPLE),
            "citations": [{ "document": "register", "quote": "who knows whom" }] } })
    }));
    write_lines(&file, &lines);
    let data = dir.path().join("data");

    let mut child = policygraph()
        .args(["import", "--chunk", &CHUNK.to_string(), "--data"])
        .arg(&data)
        .arg(&file)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Killed a little after it starts writing relations: every entity is in, some relations.
    let stderr = child.stderr.take().unwrap();
    let mut reader = std::io::BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        assert!(n > 0, "the import ended before it wrote relations");
        if line.contains("writing relations") {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (entities, relations, seq) = counts(&data).await;
    assert_eq!(entities, PEOPLE + 1);
    assert!(relations > 0 && relations < RELATIONS, "killed in the middle: {relations} relations");
    assert_eq!(relations % CHUNK, 0, "whole chunks only: {relations} relations");
    assert_eq!(seq as usize, entities + relations, "every record written has its audit entry, and no more");

    let out =
        policygraph().args(["import", "--chunk", &CHUNK.to_string(), "--data"]).arg(&data).arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("relations {} added", RELATIONS - relations)), "{stdout}");
    assert!(stdout.contains(&format!("{} unchanged", entities + relations)), "{stdout}");
    assert_eq!(counts(&data).await, (PEOPLE + 1, RELATIONS, (PEOPLE + 1 + RELATIONS) as u64));
}

async fn export(server: &TestServer) -> Vec<Value> {
    let res = server.client.get(format!("{}/export/graph.jsonl", server.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/x-ndjson"));
    let text = res.text().await.unwrap();
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    lines.sort_by_key(|v| v.to_string());
    lines
}

#[tokio::test]
async fn the_curated_graph_round_trips_through_export_and_an_import_over_http() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let a = TestServer::start(a_dir.path(), Some(&repo_path("seed"))).await;
    let b = TestServer::start(b_dir.path(), None).await;
    let exported = export(&a).await;
    assert!(exported.len() > 1000, "the curated graph has over a thousand records");
    assert!(exported.iter().any(|l| l["entity"]["text"].is_string()), "documents carry their texts");
    let body: String = exported.iter().map(|l| format!("{l}\n")).collect();

    let import = |token: Option<String>, query: &'static str, body: String| {
        let mut req = b.client.post(format!("{}/import{query}", b.url)).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let res = import(None, "", body.clone()).await.unwrap();
    assert_eq!(res.status(), 401);
    let editor = b.token("ed", Role::Editor).await;
    let res = import(Some(editor), "", body.clone()).await.unwrap();
    assert_eq!(res.status(), 403);

    let admin = b.token("adm", Role::Admin).await;
    let res = import(Some(admin.clone()), "?dryRun=true", body.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["written"], false);
    assert_eq!(report["invalid"], 0, "{report}");
    let total = b.data("{ entities(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(total["entities"]["totalCount"], 0, "a dry run writes nothing");

    let res = import(Some(admin.clone()), "?name=curated.jsonl", body.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["written"], true, "{report}");
    assert_eq!(report["records"].as_u64().unwrap() as usize, exported.len());
    let again = export(&b).await;
    assert_eq!(again.len(), exported.len());
    if let Some((x, y)) = again.iter().zip(&exported).find(|(x, y)| x != y) {
        panic!("import(export(graph)) is not the graph: the first difference is\n{x}\nagainst\n{y}");
    }

    // The index follows the import, and the audit log names it.
    let iom =
        b.data(r#"{ entity(slug: "iom") { name } changes(first: 1) { edges { node { actor } } } }"#, json!({})).await;
    assert_eq!(iom["entity"]["name"], "International Organization for Migration");
    assert_eq!(iom["changes"]["edges"][0]["node"]["actor"], "import:curated.jsonl");

    // Refused records: 422 with each one's line and field; nothing written.
    let bad = format!(
        "{}\n{}\n",
        person("new-person"),
        json!({ "entity": { "slug": "Bad Slug", "kind": "person", "name": "B" } })
    );
    let res = import(Some(admin.clone()), "", bad).await.unwrap();
    assert_eq!(res.status(), 422);
    let report: Value = res.json().await.unwrap();
    assert_eq!(report["problems"][0]["line"], 2);
    assert_eq!(report["problems"][0]["field"], "slug");
    let missing = b.query(r#"{ entity(slug: "new-person") { id } }"#, json!({})).await;
    assert_eq!(common::error_codes(&missing), ["NOT_FOUND"], "nothing of a refused import is written");
    let res = import(Some(admin), "?format=xml", String::new()).await.unwrap();
    assert_eq!(res.status(), 400);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn csv_files_and_a_followthemoney_sample_import_into_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), None).await;
    let admin = server.token("adm", Role::Admin).await;
    let post = |query: &'static str, file: &str| {
        let body = std::fs::read(repo_path(&format!("tests/fixtures/import/{file}"))).unwrap();
        server.client.post(format!("{}/import{query}", server.url)).bearer_auth(&admin).body(body).send()
    };

    // CSV: the entities file, then the relations file that names them.
    for file in ["entities.csv", "relations.csv"] {
        let res = post("?format=csv", file).await.unwrap();
        let status = res.status();
        let report: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{file}: {report}");
        assert_eq!(report["invalid"], 0, "{file}: {report}");
    }
    let agency = server
        .data(
            r#"{ entity(slug: "sample-director") { name relations(first: 10) { edges { node { kind title
                 citations { quote document { slug } } } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(agency["entity"]["name"], "Ana Ferreira");
    let edges = agency["entity"]["relations"]["edges"].as_array().unwrap();
    let role = edges.iter().find(|e| e["node"]["kind"] == "HOLDS_ROLE").expect("the role from relations.csv");
    assert_eq!(role["node"]["title"], "Director");
    assert_eq!(role["node"]["citations"][0]["document"]["slug"], "sample-report");

    // FollowTheMoney: people, organizations, a document with its text, the relations between
    // them, and what has no place here counted as left out.
    let res = post("?format=ftm&name=sample.ftm.jsonl", "ftm-sample.jsonl").await.unwrap();
    let status = res.status();
    let report: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["invalid"], 0, "{report}");
    assert!(report["leftOut"]["Ownership"].as_u64() >= Some(1), "{report}");
    assert!(report["leftOut"]["Address"].as_u64() >= Some(1), "{report}");
    let people = server.data(r#"{ entities(kind: PERSON, first: 50) { edges { node { name } } } }"#, json!({})).await;
    let names: Vec<&str> =
        people["entities"]["edges"].as_array().unwrap().iter().filter_map(|e| e["node"]["name"].as_str()).collect();
    assert!(names.contains(&"Maria Lopes"), "{names:?}");
    // The FtM ID `person-maria-lopes` is the slug `ftm-person-maria-lopes`, run after run.
    let lopes = server
        .data(
            r#"{ entity(slug: "ftm-person-maria-lopes") { name aliases date relations(first: 20) { edges { node { kind title } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(lopes["entity"]["name"], "Maria Lopes");
    assert_eq!(lopes["entity"]["date"], "1968-04-12");
    let kinds: Vec<&str> = lopes["entity"]["relations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"HOLDS_ROLE"), "the Directorship is a role: {lopes}");
    server.stop().await;
}

/// A FollowTheMoney line may give two records: the document standing for the file, then the
/// first relation citing it. Refusing that relation must not drop the document the later
/// relations cite.
#[tokio::test]
async fn refusing_one_record_of_a_line_keeps_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.ftm.json");
    write_lines(
        &file,
        &[
            json!({ "id": "a", "schema": "Person", "properties": { "name": ["Ana Silva"] } }),
            json!({ "id": "b", "schema": "Organization", "properties": { "name": ["Harbour Board"] } }),
            json!({ "id": "m1", "schema": "Membership", "properties": { "member": ["nobody"], "organization": ["b"] } }),
            json!({ "id": "m2", "schema": "Membership", "properties": { "member": ["a"], "organization": ["b"] } }),
        ],
    );
    let data = dir.path().join("data");
    let out = policygraph()
        .args(["import", "--format", "ftm", "--skip-invalid", "--data"])
        .arg(&data)
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("people.ftm.json:3: field `from`"), "{stderr}");
    let (entities, relations, _) = counts(&data).await;
    assert_eq!((entities, relations), (3, 1), "the two people, the file's document, and m2 citing it");
}
