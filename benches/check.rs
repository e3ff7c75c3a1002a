//! `policygraph check` on a seed with many quotes of one large document: 50,000 relations, each
//! citing a sentence of one 2 MB text (`CHECK_QUOTES` and `CHECK_TEXT_MB` change the sizes).
//!
//! - `check/seed_load`: the whole of `seed::load`, as `policygraph check` runs it (TOML parsing,
//!   value rules, every quote found in one pass per document).
//! - `check/locate_all`: the quote search alone, in one pass.
//! - `check/locate_one_by_one_1000`: 1,000 of the quotes searched one at a time, as every quote
//!   was before the one-pass search; multiply by `CHECK_QUOTES / 1000` for all of them.

use std::fmt::Write as _;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use policygraph::domain::DocumentText;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A deterministic text of about `bytes` bytes, in sentences of made-up words (some with
/// accents, so that characters and bytes differ), and `n` distinct quotes cut from it at word
/// boundaries, 40 to 160 bytes long, from all over the text.
fn text_and_quotes(bytes: usize, n: usize) -> (String, Vec<String>) {
    const WORDS: &[&str] = &[
        "migration",
        "office",
        "regional",
        "strategy",
        "pillar",
        "protection",
        "durable",
        "réfugiés",
        "año",
        "governance",
        "partners",
        "labour",
        "mobility",
        "climate",
        "resilience",
        "border",
        "programme",
        "Genève",
        "assistance",
        "returns",
        "community",
        "diaspora",
        "support",
        "humane",
    ];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut text = String::with_capacity(bytes + 200);
    let mut sentence = 0u64;
    while text.len() < bytes {
        sentence += 1;
        let words = 8 + next() % 20;
        let _ = write!(text, "S{sentence}");
        for _ in 0..words {
            let _ = write!(text, " {}", WORDS[(next() % WORDS.len() as u64) as usize]);
        }
        text.push_str(if sentence % 7 == 0 { ".\n" } else { ". " });
    }
    let mut quotes = std::collections::BTreeSet::new();
    while quotes.len() < n {
        let mut start = (next() as usize) % (text.len() - 200);
        while !text.is_char_boundary(start) || (start > 0 && text.as_bytes()[start - 1] != b' ') {
            start += 1;
        }
        let mut end = start + 40 + (next() as usize) % 120;
        while !text.is_char_boundary(end) {
            end += 1;
        }
        quotes.insert(text[start..end].trim().to_string());
    }
    (text, quotes.into_iter().collect())
}

/// A seed directory: the document, 1,000 organizations, and one `supports` relation per quote.
fn seed_dir(text: &str, quotes: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["documents", "entities", "relations"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    std::fs::write(dir.path().join("documents/big.txt"), text).unwrap();
    let mut entities =
        String::from("[[entity]]\nslug = \"big\"\nkind = \"document\"\nname = \"Big\"\nfile = \"big.txt\"\n");
    for i in 0..1_000 {
        let _ = write!(entities, "\n[[entity]]\nslug = \"org-{i}\"\nkind = \"organization\"\nname = \"Org {i}\"\n");
    }
    std::fs::write(dir.path().join("entities/all.toml"), entities).unwrap();
    let mut relations = String::new();
    for (i, q) in quotes.iter().enumerate() {
        let quote = toml::Value::String(q.clone()).to_string();
        let _ = write!(
            relations,
            "[[relation]]\nid = \"r{i}\"\nkind = \"supports\"\nfrom = \"org-{}\"\nto = \"org-{}\"\ncitations = [{{ document = \"big.txt\", quote = {quote} }}]\n\n",
            i % 1_000,
            (i * 7 + 1) % 1_000
        );
    }
    std::fs::write(dir.path().join("relations/all.toml"), relations).unwrap();
    dir
}

fn benches(c: &mut Criterion) {
    let (n, mb) = (env("CHECK_QUOTES", 50_000), env("CHECK_TEXT_MB", 2));
    let (text, quotes) = text_and_quotes(mb << 20, n);
    let dir = seed_dir(&text, &quotes);
    let refs: Vec<&str> = quotes.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("check");
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(20));
    group.bench_function(format!("seed_load/{n}_quotes_{mb}MB"), |b| {
        b.iter(|| {
            let data = policygraph::seed::load(dir.path()).expect("the generated seed is valid");
            assert_eq!(data.relations.len(), n);
        })
    });
    group.bench_function(format!("locate_all/{n}_quotes_{mb}MB"), |b| {
        b.iter(|| {
            // A fresh text each time: the texts remember what they found.
            let doc = DocumentText::new(text.clone());
            assert!(doc.locate_all(&refs).iter().all(Option::is_some));
        })
    });
    let doc = DocumentText::new(text.clone());
    group.bench_function(format!("locate_one_by_one_1000/{mb}MB"), |b| {
        b.iter(|| assert!(refs.iter().step_by((n / 1_000).max(1)).all(|q| doc.locate(q).is_some())))
    });
    group.finish();
}

criterion_group!(check, benches);
criterion_main!(check);
