//! CSV input (`--format csv`, headers in `docs/import.md`): an entities file or a relations
//! file, told apart by the header (`slug` makes an entities file, `from` and `to` a relations
//! file).
//!
//! Rows are read one at a time through the `csv` crate (which handles quoting, cells spanning
//! lines and their positions), so memory stays bounded by one row. The header is checked
//! before any row: an unknown or repeated column refuses the whole file, because a misspelt
//! column would otherwise silently drop that field from every row.
//!
//! Invariants: an empty cell is an absent field; the line of a row is the line its first cell
//! starts on (header = line 1); the reader judges no values except what it must convert
//! (`order` to a number), leaving the rest to validation.

use std::io::{self, BufRead};

use super::read::{Item, Items, Read, Record};
use crate::validate::{DraftCitation, DraftEntity, DraftRelation};

/// How many citations a relations row can carry: `document`/`quote`, then `document_2`/
/// `quote_2` up to this number. More belong in JSON Lines.
pub const MAX_CITATIONS: usize = 9;

/// What separates several aliases in one `aliases` cell: `|` is a character no name needs.
pub const ALIAS_SEPARATOR: char = '|';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntityCol {
    Id,
    Slug,
    Kind,
    Name,
    Type,
    Aliases,
    Summary,
    Date,
    EndDate,
    Url,
    File,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelationCol {
    Id,
    Kind,
    From,
    To,
    Title,
    Order,
    ValidFrom,
    ValidUntil,
    /// The 0-based citation this column belongs to.
    Document(usize),
    Quote(usize),
}

fn entity_col(name: &str) -> Option<EntityCol> {
    use EntityCol::*;
    Some(match name {
        "id" => Id,
        "slug" => Slug,
        "kind" => Kind,
        "name" => Name,
        "type" => Type,
        "aliases" => Aliases,
        "summary" => Summary,
        "date" => Date,
        "end_date" => EndDate,
        "url" => Url,
        "file" => File,
        "text" => Text,
        _ => return None,
    })
}

fn relation_col(name: &str) -> Option<RelationCol> {
    use RelationCol::*;
    let numbered = |base: &str| -> Option<usize> {
        if name == base {
            return Some(0);
        }
        let n: usize = name.strip_prefix(base)?.strip_prefix('_')?.parse().ok()?;
        // `document_1` is not a spelling: the first citation is `document`.
        (2..=MAX_CITATIONS).contains(&n).then_some(n - 1)
    };
    Some(match name {
        "id" => Id,
        "kind" => Kind,
        "from" => From,
        "to" => To,
        "title" => Title,
        "order" => Order,
        "valid_from" => ValidFrom,
        "valid_until" => ValidUntil,
        _ => {
            if let Some(i) = numbered("document") {
                Document(i)
            } else if let Some(i) = numbered("quote") {
                Quote(i)
            } else {
                return None;
            }
        }
    })
}

enum Columns {
    Entities(Vec<EntityCol>),
    Relations(Vec<RelationCol>),
}

/// Reads a CSV file. An I/O error reading the header is the caller's; a header this reader
/// cannot use gives its problems at line 1 and no rows.
pub fn read<R: BufRead + Send + 'static>(reader: R) -> io::Result<Items<'static>> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(reader);
    let header = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => return error_or_bad(e, 1).map(|item| Box::new(std::iter::once(Ok(item))) as Items<'static>),
    };
    let columns = match columns(&header) {
        Ok(c) => c,
        Err(problems) => return Ok(Box::new(problems.into_iter().map(Ok))),
    };
    let width = header.len();
    let mut records = csv.into_records();
    Ok(Box::new(std::iter::from_fn(move || {
        let record = match records.next()? {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Some(error_or_bad(e, line));
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let read = if record.len() != width {
            Read::Bad { field: None, message: format!("{} cells where the header has {width}", record.len()) }
        } else {
            match &columns {
                Columns::Entities(cols) => entity_row(cols, &record),
                Columns::Relations(cols) => relation_row(cols, &record),
            }
        };
        Some(Ok(Item { line, read }))
    })))
}

/// A CSV error is the file's (I/O: the import stops) or the row's (not UTF-8: reported).
fn error_or_bad(e: csv::Error, line: u64) -> io::Result<Item> {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Err(e),
        csv::ErrorKind::Utf8 { err, .. } => Ok(Item {
            line,
            read: Read::Bad { field: None, message: format!("not UTF-8 text (cell {})", err.field() + 1) },
        }),
        other => Ok(Item { line, read: Read::Bad { field: None, message: format!("not CSV: {other:?}") } }),
    }
}

fn header_bad(field: Option<&str>, message: impl Into<String>) -> Item {
    Item { line: 1, read: Read::Bad { field: field.map(str::to_owned), message: message.into() } }
}

/// Which file the header makes this and what each column is; every problem of the header
/// otherwise.
fn columns(header: &csv::StringRecord) -> Result<Columns, Vec<Item>> {
    // Spreadsheets often save UTF-8 with a byte order mark, which would glue itself to the
    // first column's name.
    let names: Vec<&str> = header.iter().map(|n| n.trim_start_matches('\u{feff}').trim()).collect();
    let has = |n: &str| names.contains(&n);
    let is_entities = has("slug");
    let is_relations = has("from") || has("to");
    if is_entities == is_relations {
        let message = if is_entities {
            "both `slug` (entities) and `from`/`to` (relations): an entities file and a relations file are separate files"
        } else {
            "neither `slug` (an entities file) nor `from` and `to` (a relations file) in the header"
        };
        return Err(vec![header_bad(None, message)]);
    }
    let mut problems = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            problems.push(header_bad(Some(n), format!("column `{n}` appears twice")));
        }
    }
    let required: &[&str] = if is_entities { &["slug", "kind", "name"] } else { &["kind", "from", "to"] };
    for r in required {
        if !has(r) {
            problems.push(header_bad(Some(r), format!("column `{r}` is required")));
        }
    }
    let result = if is_entities {
        let mut cols = Vec::new();
        for n in &names {
            match entity_col(n) {
                Some(c) => cols.push(c),
                None => problems.push(header_bad(Some(n), format!("unknown column `{n}` in an entities file"))),
            }
        }
        Columns::Entities(cols)
    } else {
        let mut cols = Vec::new();
        for n in &names {
            match relation_col(n) {
                Some(c) => cols.push(c),
                None => problems.push(header_bad(
                    Some(n),
                    format!("unknown column `{n}` in a relations file (citations: `document`, `quote`, then `document_2`… up to `_{MAX_CITATIONS}`)"),
                )),
            }
        }
        // A quote is of a document: `quote_3` alone would cite nothing.
        for c in &cols {
            if let RelationCol::Quote(i) = c {
                if !cols.contains(&RelationCol::Document(*i)) {
                    let n = citation_column("quote", *i);
                    problems
                        .push(header_bad(Some(&n), format!("`{n}` without its `{}`", citation_column("document", *i))));
                }
            }
        }
        Columns::Relations(cols)
    };
    if problems.is_empty() {
        Ok(result)
    } else {
        Err(problems)
    }
}

fn citation_column(base: &str, i: usize) -> String {
    if i == 0 {
        base.to_owned()
    } else {
        format!("{base}_{}", i + 1)
    }
}

/// A cell's value: absent when empty (or only spaces).
fn cell(record: &csv::StringRecord, i: usize) -> Option<String> {
    record.get(i).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn entity_row(cols: &[EntityCol], record: &csv::StringRecord) -> Read {
    let mut e = DraftEntity::default();
    for (i, col) in cols.iter().enumerate() {
        let Some(v) = cell(record, i) else { continue };
        match col {
            EntityCol::Id => e.id = Some(v),
            EntityCol::Slug => e.slug = Some(v),
            EntityCol::Kind => e.kind = Some(v),
            EntityCol::Name => e.name = Some(v),
            EntityCol::Type => e.subtype = Some(v),
            EntityCol::Aliases => {
                e.aliases =
                    v.split(ALIAS_SEPARATOR).map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect()
            }
            EntityCol::Summary => e.summary = Some(v),
            EntityCol::Date => e.date = Some(v),
            EntityCol::EndDate => e.end_date = Some(v),
            EntityCol::Url => e.url = Some(v),
            EntityCol::File => e.file = Some(v),
            // A text keeps its own spacing: only an all-blank cell is absent.
            EntityCol::Text => e.text = record.get(i).map(str::to_owned),
        }
    }
    Read::Record(Record::Entity(Box::new(e)))
}

fn relation_row(cols: &[RelationCol], record: &csv::StringRecord) -> Read {
    let mut r = DraftRelation::default();
    let mut citations: Vec<(Option<String>, Option<String>)> = vec![(None, None); MAX_CITATIONS];
    for (i, col) in cols.iter().enumerate() {
        let Some(v) = cell(record, i) else { continue };
        match col {
            RelationCol::Id => r.id = Some(v),
            RelationCol::Kind => r.kind = Some(v),
            RelationCol::From => r.from = Some(v),
            RelationCol::To => r.to = Some(v),
            RelationCol::Title => r.title = Some(v),
            RelationCol::Order => match v.parse::<i32>() {
                Ok(n) => r.order = Some(n),
                Err(_) => {
                    return Read::Bad { field: Some("order".into()), message: format!("`{v}` is not a whole number") }
                }
            },
            RelationCol::ValidFrom => r.valid_from = Some(v),
            RelationCol::ValidUntil => r.valid_until = Some(v),
            RelationCol::Document(n) => citations[*n].0 = Some(v),
            // A quote is verbatim: kept as written, spaces and all.
            RelationCol::Quote(n) => citations[*n].1 = record.get(i).map(str::to_owned),
        }
    }
    for (n, c) in citations.into_iter().enumerate() {
        match c {
            (Some(document), quote) => r.citations.push(DraftCitation { document, quote }),
            (None, Some(_)) => {
                return Read::Bad {
                    field: Some(citation_column("quote", n)),
                    message: format!("a quote without its `{}`", citation_column("document", n)),
                }
            }
            (None, None) => {}
        }
    }
    Read::Record(Record::Relation(Box::new(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<Item> {
        read(io::Cursor::new(text.as_bytes().to_vec())).unwrap().map(Result::unwrap).collect()
    }

    fn bads(items: &[Item]) -> Vec<(u64, Option<String>)> {
        items
            .iter()
            .filter_map(|i| match &i.read {
                Read::Bad { field, .. } => Some((i.line, field.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn entity_rows_map_to_drafts_with_empty_cells_absent() {
        let text = "slug,kind,name,type,aliases,summary,date,end_date,url,file,text\n\
                    ana-silva,person,Ana Silva,,A. Silva | Ana S.|,,1970,,https://example.org,,\n\
                    report,document,\"Report, annual\",,,,,,,report.txt,\"One.\nTwo.\"\n";
        let items = items(text);
        assert_eq!(items.len(), 2);
        let Read::Record(Record::Entity(a)) = &items[0].read else { panic!("{items:?}") };
        assert_eq!(a.slug.as_deref(), Some("ana-silva"));
        assert_eq!(a.aliases, ["A. Silva", "Ana S."]);
        assert_eq!(a.date.as_deref(), Some("1970"));
        assert_eq!(
            (a.subtype.as_ref(), a.summary.as_ref(), a.end_date.as_ref(), a.file.as_ref()),
            (None, None, None, None)
        );
        let Read::Record(Record::Entity(d)) = &items[1].read else { panic!("{items:?}") };
        assert_eq!(d.name.as_deref(), Some("Report, annual"));
        assert_eq!(d.text.as_deref(), Some("One.\nTwo."));
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn relation_rows_carry_numbered_citations_and_lines_of_multi_line_cells() {
        let text = "kind,from,to,title,order,valid_from,document,quote,document_2,quote_2\n\
                    holds_role,ana,ministry,\"Minister\nof State\",2,2019,report.txt,\"She was\nappointed.\",,\n\
                    member_of,ministry,council,,,,report.txt,,other.txt,Also.\n";
        let items = items(text);
        // The first row spans lines 2 to 4 (two cells of two lines each).
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), [2, 5]);
        let Read::Record(Record::Relation(r)) = &items[0].read else { panic!("{items:?}") };
        assert_eq!(r.order, Some(2));
        assert_eq!(r.title.as_deref(), Some("Minister\nof State"));
        assert_eq!(
            r.citations,
            [DraftCitation { document: "report.txt".into(), quote: Some("She was\nappointed.".into()) }]
        );
        let Read::Record(Record::Relation(r)) = &items[1].read else { panic!("{items:?}") };
        assert_eq!(
            r.citations,
            [
                DraftCitation { document: "report.txt".into(), quote: None },
                DraftCitation { document: "other.txt".into(), quote: Some("Also.".into()) }
            ]
        );
    }

    #[test]
    fn bad_rows_name_their_line_and_field() {
        let text = "kind,from,to,order,document,quote,document_2,quote_2\n\
                    member_of,a,b,two,d.txt,,,\n\
                    member_of,a,b\n\
                    member_of,a,b,,d.txt,,,Orphan quote.\n\
                    member_of,\"a\nb\",c,1.5,d.txt,,,\n\
                    member_of,a,b,,d.txt,,,\n";
        let items = items(text);
        assert_eq!(
            bads(&items),
            [(2, Some("order".into())), (3, None), (4, Some("quote_2".into())), (5, Some("order".into()))]
        );
        assert_eq!(items.last().unwrap().line, 7);
        assert!(matches!(&items.last().unwrap().read, Read::Record(_)));
    }

    #[test]
    fn a_header_with_unknown_or_missing_columns_refuses_the_file() {
        let got = items("slug,kind,name,colour,nmae\nx,person,X,red,\n");
        assert_eq!(bads(&got), [(1, Some("colour".into())), (1, Some("nmae".into()))]);
        assert_eq!(got.len(), 2, "no row is read under a bad header");
        let got = items("from,to,document_1,document_10,quote_3\n");
        assert_eq!(
            bads(&got),
            [
                (1, Some("kind".into())),
                (1, Some("document_1".into())),
                (1, Some("document_10".into())),
                (1, Some("quote_3".into()))
            ]
        );
        assert_eq!(bads(&items("a,b\n1,2\n")), [(1, None)]);
        assert_eq!(bads(&items("slug,from,to\n")), [(1, None)]);
        assert_eq!(bads(&items("slug,kind,name,slug\n")), [(1, Some("slug".into()))]);
        let with_bom = items("\u{feff}slug,kind,name\nx,person,X\n");
        assert!(matches!(&with_bom[..], [Item { line: 2, read: Read::Record(_) }]), "{with_bom:?}");
    }

    #[test]
    fn the_fixture_pair_reads_without_a_bad_row_and_is_valid_as_one_import() {
        let mut all = Vec::new();
        for (name, entities) in [("entities.csv", true), ("relations.csv", false)] {
            let path = format!("{}/tests/fixtures/import/{name}", env!("CARGO_MANIFEST_DIR"));
            let file = std::fs::File::open(&path).unwrap();
            let items: Vec<Item> = read(io::BufReader::new(file)).unwrap().map(Result::unwrap).collect();
            assert!(items.len() >= 3, "{name}");
            for i in &items {
                match &i.read {
                    Read::Record(Record::Entity(_)) if entities => {}
                    Read::Record(Record::Relation(r)) if !entities => assert!(!r.citations.is_empty(), "{i:?}"),
                    other => panic!("{name} line {}: {other:?}", i.line),
                }
            }
            all.extend(items.into_iter().filter_map(|i| match i.read {
                Read::Record(r) => Some(r),
                _ => None,
            }));
        }
        crate::import::ftm::tests::assert_valid_as_one_import(&all.iter().collect::<Vec<_>>());
    }
}
