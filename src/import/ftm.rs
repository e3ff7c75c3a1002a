//! FollowTheMoney input (`--format ftm`, mapping in `docs/import.md`): one FtM entity per JSON
//! line, `{"id": …, "schema": …, "properties": {"name": ["…"], …}}`.
//!
//! Shaped as a pure per-line mapping so that memory stays bounded by one line whatever the
//! file's size: a line is parsed, mapped to a draft and dropped. The one state carried across
//! lines is whether the document standing for the file itself has been emitted yet.
//!
//! Invariants:
//! - The same FtM ID always maps to the same slug ([`slug_of`]), in entities and in relation
//!   endpoints and proofs alike, so a re-run of the same import finds the same records and a
//!   relation finds its endpoints without the reader remembering them.
//! - Every relation cites a document (this graph refuses uncited relations): its FtM `proof`
//!   documents, the document itself for a `Documentation`, or else the file's own document,
//!   emitted just before the first relation that needs it.
//! - The reader judges no values (dates, URLs, lengths): validation does that in one place.
//!   It only reports what it cannot map: bad JSON, a missing `id`/`schema`, a relation
//!   without its endpoints, and (as `Skipped`) a schema this graph has no place for.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::read::{Item, Items, Read, Record};
use crate::domain::limits;
use crate::validate::{DraftCitation, DraftEntity, DraftRelation};

/// One FtM entity line; other top-level keys (caption, datasets, referents, first_seen,
/// last_seen, target…) are metadata of the producing system and are ignored.
#[derive(Deserialize)]
struct FtmLine {
    id: Option<String>,
    schema: Option<String>,
    caption: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, Vec<serde_json::Value>>,
}

/// Reads FtM JSON Lines; blank lines are skipped. `file_name` names the import file, the
/// document cited by relations without a `proof`.
pub fn read<R: BufRead + Send + 'static>(reader: R, file_name: &str) -> Items<'static> {
    let mut lines = super::read::numbered_lines(reader);
    let dataset = dataset_document(file_name);
    let dataset_slug = dataset.slug.clone().unwrap_or_default();
    let mut dataset_pending = Some(dataset);
    // A line can give two items (the file's document, then the relation citing it).
    let mut queued: Option<Item> = None;
    Box::new(std::iter::from_fn(move || {
        if let Some(item) = queued.take() {
            return Some(Ok(item));
        }
        let (line_no, bytes) = match lines.next()? {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        let read = map_line(&bytes, &dataset_slug);
        let cites_dataset = matches!(&read, Read::Record(Record::Relation(r))
            if r.citations.iter().any(|c| c.document == dataset_slug));
        if cites_dataset {
            if let Some(doc) = dataset_pending.take() {
                queued = Some(Item { line: line_no, read });
                return Some(Ok(Item { line: line_no, read: Read::Record(Record::Entity(Box::new(doc))) }));
            }
        }
        Some(Ok(Item { line: line_no, read }))
    }))
}

/// The document standing for the import file: cited, without a quote, by the relations the
/// file states with no proof of their own.
fn dataset_document(file_name: &str) -> DraftEntity {
    DraftEntity {
        slug: Some(slug_with_prefix("ftm-file-", file_name)),
        kind: Some("document".into()),
        name: Some(file_name.to_owned()),
        subtype: Some("followthemoney dataset".into()),
        ..DraftEntity::default()
    }
}

fn bad(field: Option<&str>, message: impl Into<String>) -> Read {
    Read::Bad { field: field.map(str::to_owned), message: message.into() }
}

fn map_line(bytes: &[u8], dataset_slug: &str) -> Read {
    let line: FtmLine = match serde_json::from_slice(bytes) {
        Ok(l) => l,
        Err(e) => return bad(None, format!("not a FollowTheMoney entity: {e}")),
    };
    let id = match line.id.as_deref().map(str::trim) {
        None | Some("") => return bad(Some("id"), "missing: every FollowTheMoney entity has an `id`"),
        Some(id) => id.to_owned(),
    };
    let schema = match line.schema.as_deref().map(str::trim) {
        None | Some("") => return bad(Some("schema"), "missing: every FollowTheMoney entity has a `schema`"),
        Some(s) => s.to_owned(),
    };
    let p = Props(&line.properties);
    let as_entity = |kind: &str, subtype: Option<&str>| {
        Read::Record(Record::Entity(Box::new(entity(&id, kind, subtype, line.caption.as_deref(), &p))))
    };
    match schema.as_str() {
        "Person" => as_entity("person", None),
        "Organization" => as_entity("organization", None),
        "Company" => as_entity("organization", Some("company")),
        "PublicBody" => as_entity("organization", Some("public body")),
        "LegalEntity" => as_entity("organization", Some("legal entity")),
        "Event" => as_entity("event", None),
        "Document" | "PlainText" | "HyperText" | "Pages" | "Article" | "Email" => {
            let subtype = (schema != "Document").then(|| schema.to_lowercase());
            let mut d = entity(&id, "document", subtype.as_deref(), line.caption.as_deref(), &p);
            d.name = p.first("title").or_else(|| p.first("fileName")).or(d.name);
            if let Some(text) = p.all("bodyText") {
                d.file = Some(format!("{}.txt", slug_of(&id)));
                d.text = Some(text.join("\n\n"));
            }
            Read::Record(Record::Entity(Box::new(d)))
        }
        "Membership" => relation(&id, "member_of", ("member", "organization"), None, &p, dataset_slug),
        "Directorship" => relation(&id, "holds_role", ("director", "organization"), Some("director"), &p, dataset_slug),
        "Employment" => relation(&id, "holds_role", ("employee", "employer"), Some("employee"), &p, dataset_slug),
        "Documentation" => {
            let (Some(doc), Some(target)) = (p.first("document"), p.first("entity")) else {
                let field = if p.first("document").is_none() { "properties.document" } else { "properties.entity" };
                return bad(Some(field), "missing: a Documentation links a document to an entity");
            };
            // The mention is what the document itself shows: it is its own citation.
            let doc = slug_of(&doc);
            Read::Record(Record::Relation(Box::new(DraftRelation {
                id: Some(slug_of(&id)),
                kind: Some("mentions".into()),
                from: Some(doc.clone()),
                to: Some(slug_of(&target)),
                title: p.first("role"),
                citations: vec![DraftCitation { document: doc, quote: None }],
                ..DraftRelation::default()
            })))
        }
        other => Read::Skipped { what: other.to_owned() },
    }
}

/// An FtM entity's properties: lists of values, of which only strings are read (a nested
/// entity object, which some exports inline, is not a value this mapping reads).
struct Props<'a>(&'a BTreeMap<String, Vec<serde_json::Value>>);

impl Props<'_> {
    fn values(&self, name: &str) -> impl Iterator<Item = String> + '_ {
        self.0
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    fn first(&self, name: &str) -> Option<String> {
        self.values(name).next()
    }

    fn all(&self, name: &str) -> Option<Vec<String>> {
        let v: Vec<String> = self.values(name).collect();
        (!v.is_empty()).then_some(v)
    }

    fn first_of(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.first(n))
    }
}

fn entity(id: &str, kind: &str, subtype: Option<&str>, caption: Option<&str>, p: &Props<'_>) -> DraftEntity {
    let mut names = p.values("name");
    let name = names.next().or_else(|| caption.map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
    let mut aliases: Vec<String> = names.chain(p.values("alias")).chain(p.values("weakAlias")).collect();
    let mut seen = std::collections::BTreeSet::new();
    aliases.retain(|a| Some(a) != name.as_ref() && seen.insert(a.clone()));
    DraftEntity {
        slug: Some(slug_of(id)),
        kind: Some(kind.to_owned()),
        name,
        subtype: subtype.map(str::to_owned),
        aliases,
        summary: p.first_of(&["summary", "description"]),
        date: p.first_of(&["birthDate", "incorporationDate", "startDate", "date"]).map(date_part),
        end_date: p.first_of(&["deathDate", "dissolutionDate", "endDate"]).map(date_part),
        url: p.first_of(&["website", "sourceUrl"]),
        ..DraftEntity::default()
    }
}

/// An FtM interval (Membership, Directorship, Employment) as a relation `from` → `to`.
fn relation(
    id: &str,
    kind: &str,
    (from, to): (&str, &str),
    default_title: Option<&str>,
    p: &Props<'_>,
    dataset_slug: &str,
) -> Read {
    let Some(from_id) = p.first(from) else {
        return bad(Some(&format!("properties.{from}")), format!("missing: the relation's `{from}`"));
    };
    let Some(to_id) = p.first(to) else {
        return bad(Some(&format!("properties.{to}")), format!("missing: the relation's `{to}`"));
    };
    let mut citations: Vec<DraftCitation> =
        p.values("proof").map(|d| DraftCitation { document: slug_of(&d), quote: None }).collect();
    if citations.is_empty() {
        citations.push(DraftCitation { document: dataset_slug.to_owned(), quote: None });
    }
    Read::Record(Record::Relation(Box::new(DraftRelation {
        id: Some(slug_of(id)),
        kind: Some(kind.to_owned()),
        from: Some(slug_of(&from_id)),
        to: Some(slug_of(&to_id)),
        title: p.first("role").or_else(|| default_title.map(str::to_owned)),
        valid_from: p.first("startDate").map(date_part),
        valid_until: p.first("endDate").map(date_part),
        citations,
        ..DraftRelation::default()
    })))
}

/// FtM dates may carry a time (`2020-01-31T12:00:00`); this graph's dates are days at most.
/// Whatever is left is validation's to judge.
fn date_part(value: String) -> String {
    match value.split_once('T') {
        Some((day, _)) => day.to_owned(),
        None => value,
    }
}

/// The slug an FtM ID maps to: `ftm-` and the ID itself when it already is a slug's words;
/// otherwise its lowercased words and a short hash of the exact ID, so that IDs differing only
/// in case or punctuation (`Q1` and `q1`) stay apart.
pub fn slug_of(ftm_id: &str) -> String {
    slug_with_prefix("ftm-", ftm_id)
}

fn slug_with_prefix(prefix: &str, raw: &str) -> String {
    let mut words = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            words.push(c.to_ascii_lowercase());
        } else if !words.is_empty() && !words.ends_with('-') {
            words.push('-');
        }
    }
    let words = words.trim_end_matches('-');
    if words == raw && prefix.len() + words.len() <= limits::SLUG && !words.is_empty() {
        return format!("{prefix}{words}");
    }
    let digest = Sha256::digest(raw.as_bytes());
    let hash: String = digest[..5].iter().map(|b| format!("{b:02x}")).collect();
    // Room for the prefix, a hyphen and the hash; cut at a character boundary (all ASCII).
    let room = limits::SLUG - prefix.len() - 1 - hash.len();
    let words = words[..words.len().min(room)].trim_end_matches('-');
    if words.is_empty() {
        format!("{prefix}{hash}")
    } else {
        format!("{prefix}{words}-{hash}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io;

    use super::*;
    use crate::domain::Slug;

    /// Checks records as an import would: every one through validation (open rules), against
    /// the entities and documents of the same records, and every quote found verbatim in its
    /// document's text. The fixtures are meant for a real import, so they must pass this.
    pub(crate) fn assert_valid_as_one_import(records: &[&Record]) {
        use crate::validate::{self, DocumentRef, Refs, Rules};

        struct Known<'a>(Vec<&'a DraftEntity>);
        impl Known<'_> {
            fn id(e: &DraftEntity) -> Option<&str> {
                e.id.as_deref().or(e.slug.as_deref())
            }
            fn doc(&self, reference: &str) -> Option<&DraftEntity> {
                self.0.iter().copied().find(|e| {
                    e.kind.as_deref() == Some("document")
                        && (Self::id(e) == Some(reference) || e.file.as_deref() == Some(reference))
                })
            }
        }
        impl Refs for Known<'_> {
            fn document(&self, reference: &str) -> Option<DocumentRef> {
                let d = self.doc(reference)?;
                Some(DocumentRef { id: Self::id(d)?.to_owned(), file: d.file.clone() })
            }
            fn entity_exists(&self, id: &str) -> bool {
                self.0.iter().any(|e| Self::id(e) == Some(id))
            }
        }
        let known = Known(
            records
                .iter()
                .filter_map(|r| match r {
                    Record::Entity(e) => Some(e.as_ref()),
                    Record::Relation(_) => None,
                })
                .collect(),
        );
        for r in records {
            let quotes = match r {
                Record::Entity(e) => validate::entity(e, &known, Rules::OPEN).map(|c| c.quotes),
                Record::Relation(rel) => validate::relation(rel, &known, Rules::OPEN).map(|c| c.quotes),
            };
            let quotes = quotes.unwrap_or_else(|errors| panic!("{r:?} is refused: {errors:?}"));
            for q in quotes {
                let text = known.doc(&q.document.id).and_then(|d| d.text.as_deref()).unwrap_or_default();
                assert!(text.contains(&q.quote), "`{}` is not in {}", q.quote, q.document.id);
            }
        }
    }

    fn items(text: &str) -> Vec<Item> {
        read(io::Cursor::new(text.as_bytes().to_vec()), "sample.jsonl").map(Result::unwrap).collect()
    }

    fn entity_of(item: &Item) -> &DraftEntity {
        match &item.read {
            Read::Record(Record::Entity(e)) => e,
            other => panic!("not an entity: {other:?}"),
        }
    }

    fn relation_of(item: &Item) -> &DraftRelation {
        match &item.read {
            Read::Record(Record::Relation(r)) => r,
            other => panic!("not a relation: {other:?}"),
        }
    }

    #[test]
    fn slugs_are_deterministic_valid_and_keep_distinct_ids_apart() {
        assert_eq!(slug_of("abc-123"), "ftm-abc-123");
        let upper = slug_of("Q7747");
        assert_ne!(upper, slug_of("q7747"));
        assert_eq!(upper, slug_of("Q7747"));
        assert!(upper.starts_with("ftm-q7747-"), "{upper}");
        let long = "x".repeat(300);
        for raw in ["Q7747", "gb-coh--1", "!!!", "", long.as_str(), "ÄÖ.é", "a b/c"] {
            let s = slug_of(raw);
            assert!(Slug::parse(&s).is_ok(), "`{raw}` gave invalid `{s}`");
        }
        assert_eq!(slug_with_prefix("ftm-file-", "sample.jsonl").len(), "ftm-file-sample-jsonl-".len() + 10);
    }

    #[test]
    fn people_and_organizations_map_their_names_dates_and_urls() {
        let text = r#"{"id": "p1", "schema": "Person", "properties": {"name": ["Ana Silva", "Ana S."], "alias": ["A. Silva", "Ana S."], "weakAlias": ["Ana"], "birthDate": ["1970-05-01T00:00:00"], "deathDate": ["2020"], "description": ["A minister."], "website": ["https://example.org/ana"], "nationality": ["pt"]}, "datasets": ["x"], "caption": "Ana Silva"}
{"id": "o1", "schema": "PublicBody", "properties": {"name": ["Ministry"], "incorporationDate": ["1990-01"]}}
{"id": "c1", "schema": "Company", "caption": "From Caption", "properties": {}}"#;
        let items = items(text);
        assert_eq!(items.len(), 3);
        let p = entity_of(&items[0]);
        assert_eq!(p.slug.as_deref(), Some("ftm-p1"));
        assert_eq!(p.kind.as_deref(), Some("person"));
        assert_eq!(p.name.as_deref(), Some("Ana Silva"));
        assert_eq!(p.aliases, ["Ana S.", "A. Silva", "Ana"]);
        assert_eq!(p.date.as_deref(), Some("1970-05-01"));
        assert_eq!(p.end_date.as_deref(), Some("2020"));
        assert_eq!(p.summary.as_deref(), Some("A minister."));
        assert_eq!(p.url.as_deref(), Some("https://example.org/ana"));
        let o = entity_of(&items[1]);
        assert_eq!((o.kind.as_deref(), o.subtype.as_deref()), (Some("organization"), Some("public body")));
        assert_eq!(o.date.as_deref(), Some("1990-01"));
        assert_eq!(entity_of(&items[2]).name.as_deref(), Some("From Caption"));
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn a_document_keeps_its_body_text_under_a_file_name_of_its_own() {
        let items = items(
            r#"{"id": "d1", "schema": "Document", "properties": {"title": ["Report"], "fileName": ["r.pdf"], "bodyText": ["Text."], "sourceUrl": ["https://example.org/r.pdf"]}}"#,
        );
        let d = entity_of(&items[0]);
        assert_eq!(d.kind.as_deref(), Some("document"));
        assert_eq!(d.name.as_deref(), Some("Report"));
        assert_eq!(d.file.as_deref(), Some("ftm-d1.txt"));
        assert_eq!(d.text.as_deref(), Some("Text."));
        assert_eq!(d.url.as_deref(), Some("https://example.org/r.pdf"));
    }

    #[test]
    fn relations_cite_their_proof_or_the_file_document_emitted_once_before_the_first_need() {
        let text = r#"{"id": "m1", "schema": "Membership", "properties": {"member": ["p1"], "organization": ["o1"], "role": ["Chair"], "startDate": ["2019-03-01T10:00"], "endDate": ["2021"]}}
{"id": "dir1", "schema": "Directorship", "properties": {"director": ["p1"], "organization": ["o1"], "proof": ["d1"]}}
{"id": "e1", "schema": "Employment", "properties": {"employee": ["p2"], "employer": ["o1"]}}
{"id": "doc1", "schema": "Documentation", "properties": {"document": ["d1"], "entity": ["p1"]}}"#;
        let items = items(text);
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), [1, 1, 2, 3, 4]);
        let file_doc = entity_of(&items[0]);
        assert_eq!(file_doc.kind.as_deref(), Some("document"));
        assert_eq!(file_doc.name.as_deref(), Some("sample.jsonl"));
        assert!(file_doc.file.is_none() && file_doc.text.is_none());
        let file_slug = file_doc.slug.clone().unwrap();
        assert!(file_slug.starts_with("ftm-file-sample-jsonl-"), "{file_slug}");

        let m = relation_of(&items[1]);
        assert_eq!(
            (m.kind.as_deref(), m.from.as_deref(), m.to.as_deref()),
            (Some("member_of"), Some("ftm-p1"), Some("ftm-o1"))
        );
        assert_eq!(m.title.as_deref(), Some("Chair"));
        assert_eq!((m.valid_from.as_deref(), m.valid_until.as_deref()), (Some("2019-03-01"), Some("2021")));
        assert_eq!(m.citations, [DraftCitation { document: file_slug.clone(), quote: None }]);
        assert_eq!(m.id.as_deref(), Some("ftm-m1"));

        let d = relation_of(&items[2]);
        assert_eq!((d.kind.as_deref(), d.title.as_deref()), (Some("holds_role"), Some("director")));
        assert_eq!(d.citations, [DraftCitation { document: "ftm-d1".into(), quote: None }]);

        let e = relation_of(&items[3]);
        assert_eq!(
            (e.from.as_deref(), e.to.as_deref(), e.title.as_deref()),
            (Some("ftm-p2"), Some("ftm-o1"), Some("employee"))
        );
        assert_eq!(e.citations[0].document, file_slug);

        let m = relation_of(&items[4]);
        assert_eq!(
            (m.kind.as_deref(), m.from.as_deref(), m.to.as_deref()),
            (Some("mentions"), Some("ftm-d1"), Some("ftm-p1"))
        );
        assert_eq!(m.citations[0].document, "ftm-d1");
    }

    #[test]
    fn bad_lines_name_their_field_and_unmapped_schemata_are_skipped() {
        let text = "not json\n{\"schema\": \"Person\"}\n\n{\"id\": \"x\"}\n{\"id\": \"m\", \"schema\": \"Membership\", \"properties\": {\"organization\": [\"o\"]}}\n{\"id\": \"e\", \"schema\": \"Employment\", \"properties\": {\"employee\": [\"p\"]}}\n{\"id\": \"d\", \"schema\": \"Documentation\", \"properties\": {\"document\": [\"d\"]}}\n{\"id\": \"w\", \"schema\": \"Ownership\", \"properties\": {}}\n";
        let items = items(text);
        let got: Vec<(u64, Option<String>)> = items
            .iter()
            .map(|i| match &i.read {
                Read::Bad { field, .. } => (i.line, field.clone()),
                Read::Skipped { what } => (i.line, Some(format!("skipped {what}"))),
                other => panic!("{other:?}"),
            })
            .collect();
        let want = [
            (1, None),
            (2, Some("id")),
            (4, Some("schema")),
            (5, Some("properties.member")),
            (6, Some("properties.employer")),
            (7, Some("properties.entity")),
            (8, Some("skipped Ownership")),
        ];
        assert_eq!(got, want.map(|(l, f)| (l, f.map(str::to_owned))));
    }

    #[test]
    fn the_sample_file_reads_with_only_the_left_out_schemata_skipped() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import/ftm-sample.jsonl");
        let file = std::fs::File::open(path).unwrap();
        let items: Vec<Item> = read(io::BufReader::new(file), "ftm-sample.jsonl").map(Result::unwrap).collect();
        let mut skipped: Vec<&str> = Vec::new();
        let (mut entities, mut relations) = (Vec::new(), Vec::new());
        for i in &items {
            match &i.read {
                Read::Record(Record::Entity(e)) => entities.push(e.as_ref()),
                Read::Record(Record::Relation(r)) => relations.push(r.as_ref()),
                Read::Skipped { what } => skipped.push(what),
                Read::Bad { .. } => panic!("bad line in the sample: {i:?}"),
            }
        }
        skipped.sort_unstable();
        assert_eq!(skipped, ["Address", "Ownership"]);
        let slugs: std::collections::BTreeSet<&str> = entities.iter().filter_map(|e| e.slug.as_deref()).collect();
        // Every endpoint and every cited document is an entity of the same file.
        for r in &relations {
            for end in [&r.from, &r.to] {
                assert!(slugs.contains(end.as_deref().unwrap()), "{r:?}");
            }
            assert!(!r.citations.is_empty());
            for c in &r.citations {
                assert!(slugs.contains(c.document.as_str()), "{r:?}");
            }
        }
        let kinds: std::collections::BTreeSet<&str> = relations.iter().filter_map(|r| r.kind.as_deref()).collect();
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["holds_role", "member_of", "mentions"]);
        assert!(entities.iter().any(|e| e.subtype.as_deref() == Some("public body")));
        assert!(entities.iter().any(|e| e.text.is_some()));
        let records: Vec<&Record> = items
            .iter()
            .filter_map(|i| match &i.read {
                Read::Record(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_valid_as_one_import(&records);
    }
}
