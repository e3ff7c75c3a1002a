//! The compiled read path against async-graphql, byte for byte (issue 19's differential tests).
//!
//! Two servers run as processes over copies of one store: one with the compiled read path (the
//! default), one with `--compiled-reads false`, both without the answer cache (every request is
//! answered again) and without the rate limit (the tests send thousands of requests). Every query
//! is sent to the compiled server twice (the first run is async-graphql's, and validates the
//! document; from the second on, a covered document takes the compiled path) and to the other
//! once, and the three answers must be the same bytes with the same status. The compiled server's
//! `/metrics` tells whether the second answer came from the compiled path, so that the tests
//! also fail if the path stops being taken.
//!
//! The queries: every query of the test suite's sources, the README and the GraphiQL examples
//! (with variables made up from their declared types), and generated selections over the
//! covered part of the schema (random subsets of fields, aliases, named and inline fragments,
//! variables, `@skip`/`@include`, missing entities, bad arguments, relation filters and orders
//! as literals, variables or literals of variables, cursors of every order), on the curated
//! graph and on a synthetic one. Relation pages are also walked cursor by cursor in every order,
//! both ways, under a filter of each field, each page required to be the compiled path's; and
//! filters, orders and cursors the field or validation refuses are each required to leave the
//! request to async-graphql.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{copy_dir, free_port, graphiql_examples, readme_queries, repo_path, spawn_serve, wait_ready};
use serde_json::{json, Value};
use tokio::process::Child;

const BIN: &str = env!("CARGO_BIN_EXE_policygraph");

struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(data: &Path, seed_dir: &Path, compiled: bool) -> Server {
        let port = free_port();
        let child = spawn_serve(port, |c| {
            c.args(["--workers", "1", "--answer-cache-mb", "0", "--rate-limit-points", "0"])
                .args(["--compiled-reads", if compiled { "true" } else { "false" }])
                .arg("--data")
                .arg(data)
                .arg("--seed-dir")
                .arg(seed_dir);
        });
        let server = Server { child, url: format!("http://127.0.0.1:{port}") };
        wait_ready(&server.url, Duration::from_secs(60)).await;
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The two servers over copies of one store.
struct Pair {
    compiled: Server,
    reference: Server,
    client: reqwest::Client,
}

/// What a server answered: the status, the content type and the body's bytes.
type Answer = (u16, String, Vec<u8>);

impl Pair {
    /// `store` is a store directory made for the test; it is copied, so each server has its own.
    async fn over(store: &Path, seed_dir: &Path, scratch: &Path) -> Pair {
        let (a, b) = (scratch.join("a"), scratch.join("b"));
        copy_dir(store, &a);
        copy_dir(store, &b);
        let compiled = Server::start(&a, seed_dir, true).await;
        let reference = Server::start(&b, seed_dir, false).await;
        Pair { compiled, reference, client: reqwest::Client::new() }
    }

    async fn post(&self, url: &str, query: &str, variables: &Value, accept: &str) -> Answer {
        let res = self
            .client
            .post(format!("{url}/graphql"))
            .header("content-type", "application/json")
            .header("accept", accept)
            .timeout(Duration::from_secs(30))
            .body(json!({ "query": query, "variables": variables }).to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let ty = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, ty, res.bytes().await.unwrap().to_vec())
    }

    async fn answered_now(&self) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.compiled.url)).await.unwrap().text().await.unwrap();
        text.lines()
            .find(|l| l.starts_with("compiled_reads_total{outcome=\"answered\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .map(|n| n.parse::<f64>().unwrap() as u64)
            .unwrap_or(0)
    }

    /// Sends `first` to validate the document, then `query` with `variables` both ways; fails
    /// the test on any difference. Whether the compiled path answered it.
    async fn compare(&mut self, query: &str, first: &Value, variables: &Value) -> bool {
        let accept = if query.len() % 2 == 0 { "application/json" } else { "application/graphql-response+json" };
        let warm = self.post(&self.compiled.url, query, first, accept).await;
        // Counted around the second request alone: the first may have taken the path too.
        let before = self.answered_now().await;
        let compiled = self.post(&self.compiled.url, query, variables, accept).await;
        let took = self.answered_now().await > before;
        let reference = self.post(&self.reference.url, query, variables, accept).await;
        // An answer that ran into the request time limit depends on the machine's load, not
        // on the path: nothing to compare (neither is the compiled path's, which has no limit
        // to run into).
        let timed_out = |a: &Answer| String::from_utf8_lossy(&a.2).contains("\"REQUEST_TIMEOUT\"");
        if !took && (timed_out(&compiled) || timed_out(&reference) || timed_out(&warm)) {
            return false;
        }
        // What the compiled path answered must be async-graphql's bytes. Where both answers are
        // async-graphql's, they may differ in order only: it collects some validation errors in
        // hash maps, and puts a field that waited for the blocking pool wherever it finished.
        let show = |a: &Answer| {
            let body = if took { String::from_utf8_lossy(&a.2).into_owned() } else { unordered(&a.2) };
            format!("{} {} {body}", a.0, a.1)
        };
        assert_eq!(
            show(&compiled),
            show(&reference),
            "the compiled server and async-graphql differ (compiled path: {took})\nquery: {query}\nvariables: {variables}"
        );
        if first == variables {
            assert_eq!(show(&warm), show(&reference), "the first answer differs\nquery: {query}");
        }
        took
    }
}

/// A body with every object's keys sorted and its `errors` sorted, for comparing answers whose
/// order async-graphql does not fix.
fn unordered(body: &[u8]) -> String {
    fn canonical(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<_> = m.iter().map(|(k, v)| format!("{}:{}", json!(k), canonical(v))).collect();
                entries.sort();
                format!("{{{}}}", entries.join(","))
            }
            Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
            other => other.to_string(),
        }
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else { return String::from_utf8_lossy(body).into_owned() };
    if let Some(errors) = v.get_mut("errors").and_then(Value::as_array_mut) {
        errors.sort_by_key(canonical);
    }
    canonical(&v)
}

/// A store seeded from `seed/`, made with the command line.
fn curated_store(dir: &Path) -> PathBuf {
    let store = dir.join("curated");
    let out = std::process::Command::new(BIN)
        .args(["seed", "--data"])
        .arg(&store)
        .arg("--seed-dir")
        .arg(repo_path("seed"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    store
}

/// A synthetic store (decorated entities with dates and summaries, documents with texts),
/// generated and imported with the command line.
fn synthetic_store(dir: &Path) -> PathBuf {
    let (file, store) = (dir.join("synthetic.jsonl"), dir.join("synthetic"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "gen-synthetic",
        "--entities",
        "1500",
        "--relations",
        "6000",
        "--seed",
        "7",
        "--jsonl",
        file.to_str().unwrap(),
    ]);
    run(&["import", "--data", store.to_str().unwrap(), file.to_str().unwrap()]);
    store
}

/// Values for a document's declared variables, made up from their names and types, so that
/// queries written with variables run with something plausible.
fn made_up_variables(query: &str, slug: &str) -> Value {
    let Ok(doc) = async_graphql::parser::parse_query(query) else { return json!({}) };
    let mut vars = serde_json::Map::new();
    for (_, op) in doc.operations.iter() {
        for v in &op.node.variable_definitions {
            let name = v.node.name.node.to_string();
            let ty = v.node.var_type.node.to_string();
            let value = match ty.trim_end_matches('!') {
                "String" if name.contains("after") || name == "a" => continue,
                "String" if name.contains("query") || name == "q" => json!("migration"),
                "String" if name.contains("date") || name.contains("At") => json!("2021"),
                "String" => json!(slug),
                "ID" => json!(format!("Organization:{slug}")),
                "Int" => json!(3),
                "Boolean" => json!(true),
                "EntityKind" => json!("ORGANIZATION"),
                "Direction" => json!("OUTGOING"),
                _ => continue,
            };
            vars.insert(name, value);
        }
    }
    Value::Object(vars)
}

/// Every string literal of the test sources that parses as a GraphQL query (not a mutation or
/// subscription, which change the graph or never end).
fn test_suite_queries() -> Vec<String> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(repo_path("tests")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let src = std::fs::read_to_string(&path).unwrap();
        for literal in string_literals(&src) {
            let head = literal.trim_start();
            if !(head.starts_with('{') || head.starts_with("query") || head.starts_with("fragment")) {
                continue;
            }
            let Ok(doc) = async_graphql::parser::parse_query(&literal) else { continue };
            let only_queries =
                doc.operations.iter().all(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Query);
            if only_queries && !out.contains(&literal) {
                out.push(literal);
            }
        }
    }
    out
}

/// The string literals of Rust source: raw (`r"…"`, `r#"…"#`) and plain, unescaped.
fn string_literals(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            i = src[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if b[i] == b'\'' {
            // A char literal such as '"' would open a string; a lifetime has no closing quote.
            i += if b.get(i + 2) == Some(&b'\'') {
                3
            } else if b.get(i + 1) == Some(&b'\\') {
                4
            } else {
                1
            };
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) && !is_ident(b, i) {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            let open = i + 1 + hashes;
            if b.get(open) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            match src[open + 1..].find(&close) {
                Some(n) => {
                    out.push(src[open + 1..open + 1 + n].to_string());
                    i = open + 1 + n + close.len();
                }
                None => break,
            }
        } else if b[i] == b'"' {
            let mut s = String::new();
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' && j + 1 < b.len() {
                    match b[j + 1] {
                        b'n' => s.push('\n'),
                        b't' => s.push('\t'),
                        b'\n' => {
                            // A line continuation: the next line's leading blanks are dropped.
                            j += 2;
                            while j < b.len() && (b[j] == b' ' || b[j] == b'\n') {
                                j += 1;
                            }
                            continue;
                        }
                        c => s.push(c as char),
                    }
                    j += 2;
                } else {
                    let ch = src[j..].chars().next().unwrap();
                    s.push(ch);
                    j += ch.len_utf8();
                }
            }
            out.push(s);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// A small deterministic generator (xorshift), so that a failure names a reproducible query.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// What generated queries refer to: real slugs, global IDs and cursors of the graph.
struct Known {
    slugs: Vec<String>,
    /// Words of names, for searches (and one that finds nothing, one with no letter).
    words: Vec<String>,
    ids: Vec<String>,
    /// Relation cursors of every order (`RelationOrder`), so that one is often of another.
    cursors: Vec<String>,
    /// Documents (slugs and global IDs), for `where: { citedDocument }`.
    documents: Vec<String>,
}

/// One generated query: the document, the variables of its first run and of its second.
struct Generated {
    query: String,
    first: Value,
    second: Value,
    /// Whether it asks for relations with `where` or `orderBy`.
    filtered: bool,
    /// Whether it asks for a citation's `context`.
    context: bool,
}

struct Gen<'k> {
    rng: Rng,
    known: &'k Known,
    fragments: Vec<String>,
    /// Declared variables and the values of the two runs.
    decls: Vec<String>,
    first: serde_json::Map<String, Value>,
    second: serde_json::Map<String, Value>,
    n: usize,
    filtered: bool,
    context: bool,
}

const ENTITY_SCALARS: &[&str] =
    &["id", "slug", "name", "kind", "type", "aliases", "summary", "date", "endDate", "url", "version", "__typename"];
const RELATION_SCALARS: &[&str] =
    &["id", "key", "kind", "title", "order", "validFrom", "validUntil", "sourceCount", "version", "__typename"];
/// Fields the compiled path does not cover: a query with one runs through async-graphql.
const UNCOVERED_ENTITY: &[&str] = &["degree", "quantities { name value }", "facts { field value }"];

impl Gen<'_> {
    fn var(&mut self, ty: &str, first: Value, second: Value) -> String {
        self.n += 1;
        let name = format!("v{}", self.n);
        self.decls.push(format!("${name}: {ty}"));
        self.first.insert(name.clone(), first);
        self.second.insert(name.clone(), second);
        format!("${name}")
    }

    fn alias(&mut self, field: &str) -> String {
        if self.rng.chance(15) {
            format!("a{}: {field}", self.rng.below(3))
        } else {
            field.to_string()
        }
    }

    fn directive(&mut self) -> String {
        match self.rng.below(12) {
            0 => " @skip(if: true)".into(),
            1 => " @include(if: false)".into(),
            2 => {
                let b = self.rng.chance(50);
                let v = self.var("Boolean!", json!(true), json!(b));
                format!(" @include(if: {v})")
            }
            3 => {
                let b = self.rng.chance(50);
                let v = self.var("Boolean!", json!(false), json!(b));
                format!(" @skip(if: {v})")
            }
            _ => String::new(),
        }
    }

    fn scalars(&mut self, from: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for f in from {
            if self.rng.chance(35) {
                let f = self.alias(f);
                let d = self.directive();
                out.push(format!("{f}{d}"));
            }
        }
        out
    }

    fn entity(&mut self, depth: usize) -> String {
        let mut parts = self.scalars(ENTITY_SCALARS);
        if depth < 3 && self.rng.chance(45) {
            let rel = self.relations(depth);
            parts.push(rel);
        }
        match self.rng.below(8) {
            0 => parts.push("... on Document { title publishedOn file }".into()),
            1 => parts.push(format!("... on Organization {{ {} }}", self.scalars(ENTITY_SCALARS).join(" "))),
            2 => {
                self.fragments.push("fragment EF on Entity { id name kind }".into());
                parts.push("...EF".into());
            }
            3 => {
                let d = self.directive();
                parts.push(format!("...{d} {{ slug }}"));
            }
            _ => {}
        }
        if self.rng.chance(4) {
            parts.push(self.rng.pick(UNCOVERED_ENTITY).to_string());
        }
        if parts.is_empty() || self.rng.chance(20) {
            // A field selected twice under one key, its selections merged.
            parts.push("id".into());
        }
        parts.join(" ")
    }

    fn relations(&mut self, depth: usize) -> String {
        let mut args = Vec::new();
        match self.rng.below(10) {
            0 => args.push("first: 0".to_string()),
            1 => args.push("first: 1".into()),
            2 => args.push("first: 101".into()),
            3 => args.push("first: -1".into()),
            4 => {
                let n = self.rng.below(6);
                let v = self.var("Int", json!(2), json!(n));
                args.push(format!("first: {v}"));
            }
            5 => args.push("first: 3".into()),
            _ => {}
        }
        const KINDS: &[&str] = &["CONCERNS", "LOCATED_IN", "ASSISTS", "MENTIONS", "FUNDS", "HAS_PILLAR"];
        match self.rng.below(8) {
            0 => args.push(format!("kinds: [{}]", self.rng.pick(KINDS))),
            1 => {
                let ks = vec![*self.rng.pick(KINDS), *self.rng.pick(KINDS)];
                let v = self.var("[RelationKind!]", Value::Null, json!(ks));
                args.push(format!("kinds: {v}"));
            }
            _ => {}
        }
        match self.rng.below(8) {
            0 => args.push("direction: OUTGOING".into()),
            1 => args.push("direction: INCOMING".into()),
            2 => {
                let d = ["OUTGOING", "INCOMING", "BOTH"][self.rng.below(3)];
                let v = self.var("Direction", json!("BOTH"), json!(d));
                args.push(format!("direction: {v}"));
            }
            _ => {}
        }
        match self.rng.below(8) {
            0 => args.push(format!("after: {}", json!(self.rng.pick(&self.known.cursors)))),
            1 => args.push("after: \"bm90IGEgY3Vyc29y\"".into()),
            2 => {
                let c = self.rng.pick(&self.known.cursors).clone();
                let v = self.var("String", Value::Null, json!(c));
                args.push(format!("after: {v}"));
            }
            _ => {}
        }
        if self.rng.chance(45) {
            let w = self.relation_filter();
            args.push(format!("where: {w}"));
            self.filtered = true;
        }
        if self.rng.chance(45) {
            let o = self.relation_order();
            args.push(format!("orderBy: {o}"));
            self.filtered = true;
        }
        let args = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
        let mut conn = Vec::new();
        if self.rng.chance(80) {
            let node = self.relation(depth + 1);
            conn.push(format!("edges {{ {} node {{ {node} }} }}", if self.rng.chance(50) { "cursor" } else { "" }));
        }
        if self.rng.chance(40) {
            conn.push("pageInfo { hasNextPage hasPreviousPage startCursor endCursor }".into());
        }
        if conn.is_empty() || self.rng.chance(40) {
            conn.push("totalCount".into());
        }
        let f = self.alias("relations");
        format!("{f}{args} {{ {} }}", conn.join(" "))
    }

    /// A value of a `RelationFilter` field: mostly ones that select something, sometimes one
    /// the field refuses (then async-graphql answers, with its error).
    fn filter_value(&mut self, field: &str) -> (&'static str, Value) {
        let dates = ["2019", "2021-05", "2023-07-25", "2024", "2030", "2025-13", "yesterday", ""];
        match field {
            "kinds" => {
                const KINDS: &[&str] = &["CONCERNS", "HOLDS_ROLE", "ASSISTS", "MENTIONS", "OFFICE_OF", "PARTNERS_WITH"];
                let ks: Vec<&str> = (0..1 + self.rng.below(2)).map(|_| *self.rng.pick(KINDS)).collect();
                ("[RelationKind!]", json!(ks))
            }
            "direction" => ("Direction", json!(["OUTGOING", "INCOMING", "BOTH"][self.rng.below(3)])),
            "titleContains" => {
                let long = "x".repeat(501);
                let t = ["director", "President", "régional DIRECTOR", "mission", "e", "--", long.as_str(), "zzzqqq"];
                ("String", json!(self.rng.pick(&t)))
            }
            "dateFrom" | "dateTo" | "validAt" => ("String", json!(self.rng.pick(&dates))),
            "strict" => ("Boolean!", json!(self.rng.chance(50))),
            "otherKinds" => {
                const KINDS: &[&str] = &["PERSON", "ORGANIZATION", "DOCUMENT", "PLACE", "OFFICE"];
                let ks: Vec<&str> = (0..1 + self.rng.below(2)).map(|_| *self.rng.pick(KINDS)).collect();
                ("[EntityKind!]", json!(ks))
            }
            _ => {
                let d = match self.rng.below(8) {
                    0 => "no-such-document".to_string(),
                    1 => self.rng.pick(&self.known.slugs).clone(),
                    _ => self.rng.pick(&self.known.documents).clone(),
                };
                ("ID", json!(d))
            }
        }
    }

    /// A `where:` argument: a literal (its fields literals or variables) or one variable.
    fn relation_filter(&mut self) -> String {
        const FIELDS: &[&str] = &[
            "kinds",
            "direction",
            "titleContains",
            "dateFrom",
            "dateTo",
            "validAt",
            "strict",
            "otherKinds",
            "citedDocument",
        ];
        let whole = self.rng.chance(35);
        let mut literal = Vec::new();
        let mut object = serde_json::Map::new();
        for f in FIELDS {
            if !self.rng.chance(25) {
                continue;
            }
            let (ty, v) = self.filter_value(f);
            if whole {
                object.insert(f.to_string(), v);
            } else if self.rng.chance(40) {
                let first = if ty.ends_with('!') { v.clone() } else { Value::Null };
                let name = self.var(ty, first, v);
                literal.push(format!("{f}: {name}"));
            } else {
                // Enum values are written bare, everything else as JSON writes it.
                let text = match (ty, &v) {
                    ("Direction", Value::String(d)) => d.clone(),
                    (_, Value::Array(ks)) if ty != "ID" => {
                        format!("[{}]", ks.iter().map(|k| k.as_str().unwrap()).collect::<Vec<_>>().join(", "))
                    }
                    _ => v.to_string(),
                };
                literal.push(format!("{f}: {text}"));
            }
        }
        if whole {
            // Now and then a value async-graphql refuses: a field the type lacks, a null.
            match self.rng.below(20) {
                0 => {
                    object.insert("nope".into(), json!(1));
                }
                1 => {
                    object.insert("strict".into(), Value::Null);
                }
                _ => {}
            }
            self.var("RelationFilter", json!({}), Value::Object(object))
        } else {
            format!("{{ {} }}", literal.join(", "))
        }
    }

    /// An `orderBy:` argument, as a literal, one variable, or a literal of variables.
    fn relation_order(&mut self) -> String {
        const FIELDS: &[&str] = &["DEFAULT", "DATE", "KIND", "TITLE", "OTHER_NAME"];
        let field = *self.rng.pick(FIELDS);
        let dir = ["ASC", "DESC", ""][self.rng.below(3)];
        match self.rng.below(4) {
            0 => {
                let mut o = json!({ "field": field });
                if !dir.is_empty() {
                    o["direction"] = json!(dir);
                }
                if self.rng.chance(5) {
                    o["field"] = json!("NOPE");
                }
                self.var("RelationOrder", json!({ "field": "DEFAULT" }), o)
            }
            1 => {
                let f = self.var("RelationOrderField!", json!("DEFAULT"), json!(field));
                let d = self.var("OrderDirection", json!("ASC"), if dir.is_empty() { Value::Null } else { json!(dir) });
                format!("{{ field: {f}, direction: {d} }}")
            }
            _ if dir.is_empty() => format!("{{ field: {field} }}"),
            _ => format!("{{ field: {field}, direction: {dir} }}"),
        }
    }

    /// `context` with its argument left out, written, or a variable (sometimes one that is
    /// null, or a number the field refuses), and some of its fields.
    fn context(&mut self) -> String {
        self.context = true;
        const CHARS: &[i64] = &[0, 1, 5, 40, 200, 999, 1000, 1001, 5000, -1];
        let (a, b) = (*self.rng.pick(CHARS), *self.rng.pick(CHARS));
        let args = match self.rng.below(4) {
            0 => String::new(),
            1 => format!("(chars: {a})"),
            2 => format!("(chars: {})", self.var("Int!", json!(a), json!(b))),
            _ => {
                let second = if self.rng.chance(30) { Value::Null } else { json!(b) };
                format!("(chars: {})", self.var("Int", json!(a), second))
            }
        };
        let mut fields = Vec::new();
        for f in ["before", "quote", "after", "__typename"] {
            if self.rng.chance(60) {
                fields.push(self.alias(f));
            }
        }
        if self.rng.chance(15) {
            fields.push("... on QuoteContext { after }".into());
        }
        if fields.is_empty() {
            fields.push("quote".into());
        }
        let field = self.alias("context");
        format!("{field}{args} {{ {} }}", fields.join(" "))
    }

    fn relation(&mut self, depth: usize) -> String {
        let mut parts = self.scalars(RELATION_SCALARS);
        for end in ["from", "to"] {
            if self.rng.chance(40) {
                let e = self.entity(depth + 1);
                let f = self.alias(end);
                parts.push(format!("{f} {{ {e} }}"));
            }
        }
        if self.rng.chance(40) {
            let doc = if self.rng.chance(50) {
                "document { id title file }"
            } else {
                "document { slug ... on Document { publishedOn } }"
            };
            let at = if self.rng.chance(50) { "offset length" } else { "" };
            let context = if self.rng.chance(40) { self.context() } else { String::new() };
            parts.push(format!("citations {{ quote {at} {context} {doc} }}"));
        }
        if self.rng.chance(3) {
            parts.push("quantities { name }".into());
        }
        if self.rng.chance(10) {
            self.fragments.push("fragment RF on Relation { id kind }".into());
            parts.push("...RF".into());
        }
        if parts.is_empty() {
            parts.push("key".into());
        }
        parts.join(" ")
    }

    fn root(&mut self) -> String {
        match self.rng.below(8) {
            7 => {
                let n = self.rng.below(4);
                let mut ids: Vec<String> = (0..n).map(|_| self.rng.pick(&self.known.ids).clone()).collect();
                if self.rng.chance(10) {
                    ids.push("Relation:no-such-relation".into());
                }
                let arg = if self.rng.chance(50) {
                    self.var("[ID!]!", json!([]), json!(ids))
                } else {
                    json!(ids).to_string()
                };
                let e = self.entity(1);
                format!("nodes(ids: {arg}) {{ id ... on Entity {{ {e} }} }}")
            }
            6 => {
                let word = self.rng.pick(&self.known.words).clone();
                let arg = if self.rng.chance(50) {
                    let other = self.rng.pick(&self.known.words).clone();
                    self.var("String!", json!(other), json!(word))
                } else {
                    json!(word).to_string()
                };
                let e = self.entity(2);
                let first = ["", ", first: 3", ", first: 0", ", first: 200"][self.rng.below(4)];
                format!("search(query: {arg}{first}) {{ {e} }}")
            }
            0 | 1 => {
                let slug = if self.rng.chance(8) {
                    "no-such-entity".to_string()
                } else {
                    self.rng.pick(&self.known.slugs).clone()
                };
                let arg = if self.rng.chance(60) {
                    let other = self.rng.pick(&self.known.slugs).clone();
                    self.var("String!", json!(other), json!(slug))
                } else {
                    json!(slug).to_string()
                };
                let e = self.entity(0);
                format!("entity(slug: {arg}) {{ {e} }}")
            }
            2 | 3 => {
                let id = match self.rng.below(10) {
                    0 => "Relation:no-such-relation".to_string(),
                    1 => "Person:iom".to_string(),
                    _ => self.rng.pick(&self.known.ids).clone(),
                };
                let arg = if self.rng.chance(50) {
                    let other = self.rng.pick(&self.known.ids).clone();
                    self.var("ID!", json!(other), json!(id))
                } else {
                    json!(id).to_string()
                };
                let e = self.entity(1);
                let r = self.relation(1);
                format!("node(id: {arg}) {{ id __typename ... on Entity {{ {e} }} ... on Relation {{ {r} }} }}")
            }
            _ => {
                let mut args = vec![format!("first: {}", [1, 3, 5][self.rng.below(3)])];
                if self.rng.chance(40) {
                    let k = ["ORGANIZATION", "PERSON", "DOCUMENT", "PLACE"][self.rng.below(4)];
                    let v = self.var("EntityKind", Value::Null, json!(k));
                    args.push(format!("kind: {v}"));
                }
                if self.rng.chance(30) {
                    let s = self.rng.pick(&self.known.slugs).clone();
                    let cursor = base64_url(&s);
                    args.push(format!("after: {}", json!(cursor)));
                }
                let e = self.entity(1);
                format!(
                    "entities({}) {{ edges {{ cursor node {{ {e} }} }} pageInfo {{ hasNextPage hasPreviousPage endCursor }} totalCount }}",
                    args.join(", ")
                )
            }
        }
    }

    fn query(mut self) -> Generated {
        let mut roots = vec![self.root()];
        if self.rng.chance(25) {
            let r = self.root();
            roots.push(format!("second: {r}"));
        }
        if self.rng.chance(10) {
            roots.push("__typename".into());
        }
        let decls = if self.decls.is_empty() { String::new() } else { format!("({})", self.decls.join(", ")) };
        self.fragments.sort();
        self.fragments.dedup();
        let query = format!("query Q{decls} {{ {} }}\n{}", roots.join(" "), self.fragments.join("\n"));
        Generated {
            query,
            first: Value::Object(self.first),
            second: Value::Object(self.second),
            filtered: self.filtered,
            context: self.context,
        }
    }
}

/// The URL-safe, unpadded base64 of a slug: an `entities` cursor, as the API writes it.
fn base64_url(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &c)| n | (c as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

async fn known(pair: &Pair) -> Known {
    let q =
        "{ entities(first: 60) { edges { node { slug id name relations(first: 4) { edges { cursor node { id } } } } } } }";
    let (_, _, body) = pair.post(&pair.reference.url, q, &json!({}), "application/json").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    let mut k = Known {
        slugs: Vec::new(),
        words: vec!["zzzqqq".into(), "--".into()],
        ids: Vec::new(),
        cursors: Vec::new(),
        documents: Vec::new(),
    };
    for e in body["data"]["entities"]["edges"].as_array().unwrap() {
        k.slugs.push(e["node"]["slug"].as_str().unwrap().into());
        k.words.extend(e["node"]["name"].as_str().unwrap().split_whitespace().take(2).map(String::from));
        k.ids.push(e["node"]["id"].as_str().unwrap().into());
        for r in e["node"]["relations"]["edges"].as_array().unwrap() {
            k.cursors.push(r["cursor"].as_str().unwrap().into());
            k.ids.push(r["node"]["id"].as_str().unwrap().into());
        }
    }
    // Cursors of the other orders, from the entities with the most relations.
    let q =
        "query($o: RelationOrder) { entities(first: 8, orderBy: { field: DEGREE, direction: DESC }) { edges { node {
        relations(first: 3, orderBy: $o) { edges { cursor } } } } } }";
    for field in ["DEFAULT", "DATE", "KIND", "TITLE", "OTHER_NAME"] {
        for direction in ["ASC", "DESC"] {
            let o = json!({ "o": { "field": field, "direction": direction } });
            let (_, _, body) = pair.post(&pair.reference.url, q, &o, "application/json").await;
            let body: Value = serde_json::from_slice(&body).unwrap();
            for e in body["data"]["entities"]["edges"].as_array().unwrap() {
                for r in e["node"]["relations"]["edges"].as_array().unwrap() {
                    k.cursors.push(r["cursor"].as_str().unwrap().into());
                }
            }
        }
    }
    let q = "{ entities(first: 6, kind: DOCUMENT) { edges { node { slug id } } } }";
    let (_, _, body) = pair.post(&pair.reference.url, q, &json!({}), "application/json").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    for e in body["data"]["entities"]["edges"].as_array().unwrap() {
        k.documents.push(e["node"]["slug"].as_str().unwrap().into());
        k.documents.push(e["node"]["id"].as_str().unwrap().into());
    }
    assert!(k.slugs.len() >= 50 && k.cursors.len() >= 60, "too small a graph to generate queries over");
    assert!(!k.documents.is_empty(), "no documents to cite");
    k
}

/// Generated selections: `n` queries from `seed`; fails on any difference and when fewer than
/// `min_compiled` of them took the compiled path, or fewer than `min_filtered` of those that
/// ask for relations with `where` or `orderBy`.
async fn generated(pair: &mut Pair, seed: u64, n: usize, min_compiled: usize, min_filtered: usize, min_context: usize) {
    let known = known(pair).await;
    let mut rng = Rng(seed);
    for _ in 0..16 {
        rng.next();
    }
    let (mut compiled, mut filtered, mut filtered_compiled) = (0, 0, 0);
    let (mut context, mut context_compiled) = (0, 0);
    for _ in 0..n {
        let g = Gen {
            rng: {
                let mut r = Rng(rng.next() | 1);
                (0..16).for_each(|_| {
                    r.next();
                });
                r
            },
            known: &known,
            fragments: Vec::new(),
            decls: Vec::new(),
            first: Default::default(),
            second: Default::default(),
            n: 0,
            filtered: false,
            context: false,
        }
        .query();
        filtered += usize::from(g.filtered);
        context += usize::from(g.context);
        if pair.compare(&g.query, &g.first, &g.second).await {
            compiled += 1;
            filtered_compiled += usize::from(g.filtered);
            context_compiled += usize::from(g.context);
        } else if std::env::var_os("SHOW_UNCOMPILED").is_some() {
            let (_, _, body) = pair.post(&pair.reference.url, &g.query, &g.second, "application/json").await;
            eprintln!("not compiled: {}\n{}\n{}\n", g.query, g.second, String::from_utf8_lossy(&body));
        }
    }
    eprintln!("{compiled} of {n} generated queries took the compiled path");
    eprintln!("{filtered_compiled} of the {filtered} with `where` or `orderBy` did");
    eprintln!("{context_compiled} of the {context} with a citation's `context` did");
    assert!(compiled >= min_compiled, "only {compiled} of {n} generated queries took the compiled path");
    assert!(
        filtered_compiled >= min_filtered,
        "only {filtered_compiled} of {filtered} generated queries with `where` or `orderBy` took the compiled path"
    );
    assert!(
        context_compiled >= min_context,
        "only {context_compiled} of {context} generated queries with a citation's `context` took the compiled path"
    );
}

/// A JSON value as a GraphQL literal: object keys bare, and the strings of `enums` (fields of
/// enum type, or lists of them) bare too.
fn literal(v: &Value, enums: &[&str]) -> String {
    fn write(v: &Value, enums: &[&str], bare: bool) -> String {
        match v {
            Value::Object(m) => format!(
                "{{ {} }}",
                m.iter()
                    .map(|(k, v)| format!("{k}: {}", write(v, enums, enums.contains(&k.as_str()))))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Array(a) => format!("[{}]", a.iter().map(|v| write(v, enums, bare)).collect::<Vec<_>>().join(", ")),
            Value::String(s) if bare => s.clone(),
            other => other.to_string(),
        }
    }
    write(v, enums, false)
}

const ORDER_FIELDS: &[&str] = &["DEFAULT", "DATE", "KIND", "TITLE", "OTHER_NAME"];
const ENUM_FIELDS: &[&str] = &["kinds", "direction", "otherKinds", "field"];

/// A filter of every field `RelationFilter` has, alone and together.
fn every_filter(document: &str) -> Vec<Value> {
    vec![
        json!({}),
        json!({ "kinds": ["HOLDS_ROLE", "OFFICE_OF", "ASSISTS"] }),
        json!({ "direction": "INCOMING" }),
        json!({ "titleContains": "régional DIRECTOR" }),
        json!({ "dateFrom": "2019", "dateTo": "2022-06" }),
        json!({ "validAt": "2021", "strict": true }),
        json!({ "dateFrom": "2023-07-25", "strict": false }),
        json!({ "otherKinds": ["PERSON", "OFFICE"] }),
        json!({ "citedDocument": document }),
        json!({ "direction": "OUTGOING", "validAt": "2024", "otherKinds": ["ORGANIZATION", "PLACE"], "kinds": ["CONCERNS", "ASSISTS", "MENTIONS"] }),
    ]
}

/// Every order of `RelationOrder` both ways under every filter of [`every_filter`], page after
/// page by each page's `endCursor`: each page must be the compiled path's, in async-graphql's
/// bytes; once with variables, and on the second page once more with every argument a literal.
async fn every_order_page_by_page(pair: &mut Pair, slug: &str, document: &str, first: usize) {
    let q = "query($s: String!, $w: RelationFilter, $o: RelationOrder, $a: String, $n: Int) { entity(slug: $s) {
        relations(where: $w, orderBy: $o, first: $n, after: $a) { totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { key kind title validFrom validUntil from { slug } to { slug name } } } } } }";
    let (mut pages, mut nonempty) = (0, 0);
    for field in ORDER_FIELDS {
        for direction in ["ASC", "DESC"] {
            for w in every_filter(document) {
                let o = json!({ "field": field, "direction": direction });
                let mut after = Value::Null;
                loop {
                    let vars = json!({ "s": slug, "w": w, "o": o, "a": after, "n": first });
                    assert!(pair.compare(q, &vars, &vars).await, "not compiled: {vars}");
                    let (_, _, body) = pair.post(&pair.reference.url, q, &vars, "application/json").await;
                    let page: Value = serde_json::from_slice(&body).unwrap();
                    let c = &page["data"]["entity"]["relations"];
                    pages += 1;
                    nonempty += usize::from(c["totalCount"].as_u64().unwrap() > 0);
                    if !after.is_null() {
                        // The same page asked with literals only.
                        let lq = format!(
                            "{{ entity(slug: {}) {{ relations(where: {}, orderBy: {}, first: {first}, after: {}) {{ totalCount edges {{ cursor node {{ key title }} }} }} }} }}",
                            json!(slug),
                            literal(&w, ENUM_FIELDS),
                            literal(&o, ENUM_FIELDS),
                            after
                        );
                        assert!(pair.compare(&lq, &json!({}), &json!({})).await, "not compiled: {lq}");
                    }
                    if c["pageInfo"]["hasNextPage"] != json!(true) {
                        break;
                    }
                    after = c["pageInfo"]["endCursor"].clone();
                }
            }
        }
    }
    eprintln!("{slug}: {pages} pages, {nonempty} of them of a filter that selects something");
    assert!(nonempty * 2 > pages, "most filters select nothing at {slug}: not a test of them");
}

/// Arguments of `relations(where:, orderBy:, after:)` that the field refuses, or that
/// async-graphql refuses before it: the plan, compiled and taken with good ones, gives each of
/// them up to async-graphql, whose error answer both servers give.
async fn refused_filters_and_orders_fall_back(pair: &mut Pair, slug: &str, not_a_document: &str) {
    let q = "query($s: String!, $w: RelationFilter, $o: RelationOrder, $a: String) { entity(slug: $s) {
        relations(where: $w, orderBy: $o, first: 3, after: $a) { totalCount edges { cursor node { key } } } } }";
    let good = json!({ "s": slug, "w": { "validAt": "2021" }, "o": { "field": "DATE" } });
    assert!(pair.compare(q, &good, &good).await);
    let cursor = |vars: Value| {
        let pair = &*pair;
        async move {
            let (_, _, body) = pair.post(&pair.reference.url, q, &vars, "application/json").await;
            let page: Value = serde_json::from_slice(&body).unwrap();
            page["data"]["entity"]["relations"]["edges"][0]["cursor"].as_str().unwrap().to_string()
        }
    };
    let default_cursor = cursor(json!({ "s": slug })).await;
    let date_asc_cursor = cursor(json!({ "s": slug, "o": { "field": "DATE" } })).await;
    // Each good with one thing wrong.
    let mut bad = Vec::new();
    for w in [
        json!({ "validAt": "2025-13" }),
        json!({ "validAt": 2021 }),
        json!({ "dateFrom": "2025", "dateTo": "2024" }),
        json!({ "dateTo": "yesterday" }),
        json!({ "titleContains": "--" }),
        json!({ "titleContains": "x".repeat(501) }),
        json!({ "citedDocument": "no-such-document" }),
        json!({ "citedDocument": not_a_document }),
        json!({ "kinds": ["NOPE"] }),
        json!({ "otherKinds": "PERSON", "direction": "UP" }),
        json!({ "nope": true }),
        json!({ "strict": null }),
        json!({ "validAt": "2021", "strict": "yes" }),
        json!("validAt"),
    ] {
        bad.push(json!({ "s": slug, "w": w, "o": { "field": "DATE" } }));
    }
    for o in [
        json!({ "field": "NOPE" }),
        json!({}),
        json!({ "field": "DATE", "direction": null }),
        json!({ "field": "DATE", "direction": "SIDEWAYS" }),
        json!({ "field": "DATE", "extra": 1 }),
        json!(["DATE"]),
    ] {
        bad.push(json!({ "s": slug, "w": { "validAt": "2021" }, "o": o }));
    }
    // Cursors made under another order, or none at all.
    bad.push(json!({ "s": slug, "o": { "field": "DATE" }, "a": default_cursor }));
    bad.push(json!({ "s": slug, "o": { "field": "DATE", "direction": "DESC" }, "a": date_asc_cursor }));
    bad.push(json!({ "s": slug, "a": date_asc_cursor }));
    bad.push(json!({ "s": slug, "o": { "field": "KIND" }, "a": "bm90IGEgY3Vyc29y" }));
    for vars in &bad {
        assert!(!pair.compare(q, &good, vars).await, "compiled, with {vars}");
    }
    // The same one cursor, with its own order: compiled.
    let own = json!({ "s": slug, "o": { "field": "DATE" }, "a": date_asc_cursor });
    assert!(pair.compare(q, &good, &own).await);

    // A literal with variables among its fields: made whole at run time; a variable not sent is
    // null, as async-graphql reads it.
    let q = "query($s: String!, $d: String, $k: [EntityKind!], $f: RelationOrderField!, $x: OrderDirection) {
        entity(slug: $s) { relations(where: { validAt: $d, otherKinds: $k }, orderBy: { field: $f, direction: $x }, first: 4) {
        totalCount edges { cursor node { key } } } } }";
    let good = json!({ "s": slug, "d": "2021", "k": ["PERSON"], "f": "TITLE", "x": "DESC" });
    assert!(pair.compare(q, &good, &good).await);
    assert!(pair.compare(q, &good, &json!({ "s": slug, "f": "OTHER_NAME", "x": "ASC" })).await);
    for vars in [
        json!({ "s": slug, "d": "yesterday", "f": "TITLE", "x": "ASC" }),
        // A non-null field of the order, from a variable not sent: null.
        json!({ "s": slug, "f": "TITLE" }),
        json!({ "s": slug, "f": "TITLE", "x": null }),
        json!({ "s": slug, "f": "NOPE" }),
        json!({ "s": slug }),
    ] {
        assert!(!pair.compare(q, &good, &vars).await, "compiled, with {vars}");
    }
    // `direction:` given by a variable that was not sent: async-graphql reads it as null.
    let q =
        "query($s: String!, $d: Direction) { entity(slug: $s) { relations(direction: $d, first: 2) { totalCount } } }";
    let good = json!({ "s": slug, "d": "INCOMING" });
    assert!(pair.compare(q, &good, &good).await);
    pair.compare(q, &good, &json!({ "s": slug })).await;
}

/// The benchmark's query (`bench/http.sh`), which the compiled path exists for.
const BENCH_QUERY: &str =
    "query($s:String!){ entity(slug:$s){ id name relations(first:20){ edges{ node{ kind to{ id name } from{ id name } } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_curated_graph_both_paths_answer_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = curated_store(dir.path());
    let mut pair = Pair::over(&store, &repo_path("seed"), dir.path()).await;

    // The benchmark's query, an entity after another: the compiled path answers each, but not
    // a missing entity (an error) nor IOM: a hub, whose relations page async-graphql makes on
    // the blocking pool and places among its siblings wherever it finishes.
    let known = known(&pair).await;
    for slug in known.slugs.iter().take(20) {
        assert!(pair.compare(BENCH_QUERY, &json!({ "s": "iom" }), &json!({ "s": slug, "n": 1 })).await, "{slug}");
    }
    for slug in ["iom", "no-such-entity"] {
        assert!(!pair.compare(BENCH_QUERY, &json!({ "s": "iom" }), &json!({ "s": slug })).await, "{slug}");
    }
    // A hub's page or a search alone in its object has one place: compiled.
    let q = "query($s: String!) { entity(slug: $s) { relations(first: 2) { totalCount edges { node { key } } } } }";
    assert!(pair.compare(q, &json!({ "s": "iom" }), &json!({ "s": "iom" })).await);
    let q = "query($q: String!) { search(query: $q, first: 5) { id name } }";
    assert!(pair.compare(q, &json!({ "q": "migration" }), &json!({ "q": "office" })).await);
    // Where each quote is in its document: the journalist's question, from the texts.
    let q = "query($s: String!) { entity(slug: $s) { relations(first: 5) { edges { node { citations { quote offset length document { slug } } } } } } }";
    assert!(pair.compare(q, &json!({ "s": "joe-biden" }), &json!({ "s": "joe-biden" })).await);
    // And the text around it, cut at widths from none to past the field's most.
    let q = "query($s: String!, $c: Int!) { entity(slug: $s) { relations(first: 5) { edges { node { citations { offset c: context(chars: $c) { before quote after __typename } d: context { after } } } } } } }";
    for chars in [0, 1, 7, 200, 1000, 1001] {
        let v = json!({ "s": "joe-biden", "c": chars });
        assert!(pair.compare(q, &v, &v).await, "chars: {chars}");
        let (_, _, body) = pair.post(&pair.reference.url, q, &v, "application/json").await;
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("\"c\":{\"before\":\""), "no located quote to compare: {body}");
    }
    // A negative width is the field's error: async-graphql answers it.
    let v = json!({ "s": "joe-biden", "c": -1 });
    assert!(!pair.compare(q, &v, &v).await);

    let mut queries: Vec<(String, Value)> = Vec::new();
    for q in test_suite_queries() {
        let v = made_up_variables(&q, "iom");
        queries.push((q, v));
    }
    let from_tests = queries.len();
    assert!(from_tests > 100, "only {from_tests} queries found in the test sources");
    for q in readme_queries() {
        let v = made_up_variables(&q, "iom");
        queries.push((q, v));
    }
    queries.extend(graphiql_examples());
    let mut compiled = 0;
    for (q, v) in &queries {
        if pair.compare(q, v, v).await {
            compiled += 1;
        }
    }
    eprintln!("{compiled} of {} queries of the tests, the README and GraphiQL took the compiled path", queries.len());
    assert!(compiled >= 20, "only {compiled} of the suite's queries took the compiled path");

    every_order_page_by_page(&mut pair, "iom", "doc-003-iom-caribbean-strategy-launched", 40).await;
    refused_filters_and_orders_fall_back(&mut pair, "iom", "andrew-selee").await;

    generated(&mut pair, 0x5eed_0001, 400, 100, 20, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_synthetic_graph_both_paths_answer_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = synthetic_store(dir.path());
    let empty_seed = dir.path().join("no-seed");
    std::fs::create_dir_all(&empty_seed).unwrap();
    let mut pair = Pair::over(&store, &empty_seed, dir.path()).await;
    let known = known(&pair).await;
    for slug in known.slugs.iter().take(20) {
        assert!(pair.compare(BENCH_QUERY, &json!({ "s": known.slugs[0] }), &json!({ "s": slug })).await, "{slug}");
    }
    let first_slug = |q: &'static str| {
        let pair = &pair;
        async move {
            let (_, _, body) = pair.post(&pair.reference.url, q, &json!({}), "application/json").await;
            let body = serde_json::from_slice::<Value>(&body).unwrap();
            body["data"]["entities"]["edges"][0]["node"]["slug"].as_str().unwrap().to_string()
        }
    };
    let hub =
        first_slug("{ entities(first: 1, orderBy: { field: DEGREE, direction: DESC }) { edges { node { slug } } } }")
            .await;
    let person = first_slug("{ entities(first: 1, kind: PERSON) { edges { node { slug } } } }").await;
    every_order_page_by_page(&mut pair, &hub, &known.documents[0], 60).await;
    refused_filters_and_orders_fall_back(&mut pair, &hub, &person).await;
    generated(&mut pair, 0x5eed_0002, 400, 150, 20, 5).await;
}
