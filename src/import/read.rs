//! What an import reads: each format's reader turns its file into [`Item`]s, records in the
//! one draft form of `validate` (or the reason a line is not one), each with its line. The
//! importer reads a [`Source`] more than once (checked whole, then written), so a source is
//! something that can be opened again, not a stream.

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use crate::validate::{DraftEntity, DraftRelation};

/// One record in the draft form every way in shares.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Entity(Box<DraftEntity>),
    Relation(Box<DraftRelation>),
}

/// What one line (or row) of an input gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Record(Record),
    /// Read, understood and deliberately not imported (a FollowTheMoney schema with no place in
    /// this graph); the report counts these by what they were.
    Skipped {
        what: String,
    },
    /// Not a record: bad JSON, a missing column, an unknown schema… `field` when one is to blame.
    Bad {
        field: Option<String>,
        message: String,
    },
}

/// A line's reading and where it was: the 1-based line of the file (for CSV, of the row's
/// first line, the header being line 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: u64,
    pub read: Read,
}

/// A reader of one format over one file: an iterator of items in file order. An I/O error ends
/// the whole import (the file is unreadable, not a record bad).
pub type Items<'a> = Box<dyn Iterator<Item = io::Result<Item>> + Send + 'a>;

/// The formats `policygraph import` reads (documented in `docs/import.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON Lines: `{"entity": {...}}` or `{"relation": {...}}` per line.
    Jsonl,
    /// CSV: an entities file or a relations file, told apart by their headers.
    Csv,
    /// FollowTheMoney entities as JSON Lines.
    Ftm,
}

/// A file to import and how to read it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub format: Format,
    /// The name the report and the audit log give it, when not the file's own (an import over
    /// HTTP is spooled to a file whose name means nothing).
    pub label: Option<String>,
}

impl Source {
    /// The file's name, as the audit log's actor (`import:<name>`) and the report name it.
    pub fn name(&self) -> String {
        if let Some(label) = &self.label {
            return label.clone();
        }
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }

    /// The directory a document's `file` is read from when its record has no inline `text`.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Its size in bytes, for the progress bar.
    pub fn size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Reads it from the start.
    pub fn open(&self) -> io::Result<Items<'static>> {
        let file = std::fs::File::open(&self.path)?;
        self.open_reader(io::BufReader::with_capacity(1 << 20, file), None)
    }

    /// Reads `reader`, which holds this source's bytes, in this source's format. With `want`,
    /// a reader may leave out records of the other sort without parsing them (JSON Lines does,
    /// for lines that plainly begin with the other key): a pass over the relations of a 1M
    /// import then parses 5M lines, not 6M.
    pub fn open_reader<R: BufRead + Send + 'static>(
        &self,
        reader: R,
        want: Option<Want>,
    ) -> io::Result<Items<'static>> {
        Ok(match self.format {
            Format::Jsonl => Box::new(jsonl_wanting(reader, want)),
            Format::Csv => super::csv::read(reader)?,
            Format::Ftm => super::ftm::read(reader, &self.name()),
        })
    }
}

/// One JSON Lines record: exactly one of `entity` and `relation`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    entity: Option<DraftEntity>,
    relation: Option<DraftRelation>,
}

/// Which sort of record a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Entities,
    Relations,
}

/// The sort of record a JSON line holds, when its first bytes say so plainly (`{"entity"` or
/// `{"relation"`, as exports and most writers put them); `None` when only parsing can tell.
fn plain_sort(bytes: &[u8]) -> Option<Want> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    if rest.starts_with(b"{\"entity\":") {
        Some(Want::Entities)
    } else if rest.starts_with(b"{\"relation\":") {
        Some(Want::Relations)
    } else {
        None
    }
}

/// Reads JSON Lines; blank lines are skipped (they are not records).
pub fn jsonl<R: BufRead + Send + 'static>(reader: R) -> impl Iterator<Item = io::Result<Item>> + Send {
    jsonl_wanting(reader, None)
}

fn jsonl_wanting<R: BufRead + Send + 'static>(
    reader: R,
    want: Option<Want>,
) -> impl Iterator<Item = io::Result<Item>> + Send {
    numbered_lines(reader).filter_map(move |line| {
        let (line_no, bytes) = match line {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        if let (Some(want), Some(sort)) = (want, plain_sort(&bytes)) {
            if want != sort {
                return None;
            }
        }
        Some(Ok(Item { line: line_no, read: parse_json_line(&bytes) }))
    })
}

/// The lines of a JSON Lines file that are not blank, each with its 1-based number.
pub(super) fn numbered_lines<R: BufRead + Send + 'static>(
    reader: R,
) -> impl Iterator<Item = io::Result<(u64, Vec<u8>)>> + Send {
    reader
        .split(b'\n')
        .enumerate()
        .map(|(i, line)| line.map(|bytes| (i as u64 + 1, bytes)))
        .filter(|line| !matches!(line, Ok((_, bytes)) if bytes.iter().all(u8::is_ascii_whitespace)))
}

fn parse_json_line(bytes: &[u8]) -> Read {
    let bad = |message: String| Read::Bad { field: None, message };
    match serde_json::from_slice::<JsonLine>(bytes) {
        Err(e) => bad(format!("not a JSON record: {e}")),
        Ok(JsonLine { entity: Some(e), relation: None }) => Read::Record(Record::Entity(Box::new(e))),
        Ok(JsonLine { entity: None, relation: Some(r) }) => Read::Record(Record::Relation(Box::new(r))),
        Ok(_) => bad("a record is an object with exactly one of `entity` and `relation`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_give_records_and_name_what_is_wrong_by_line() {
        let text = "{\"entity\": {\"slug\": \"a\", \"kind\": \"person\", \"name\": \"A\"}}\n\n{not json}\n{\"entity\": {\"slug\": \"b\", \"colour\": 1}}\n{}\n";
        let items: Vec<Item> = jsonl(io::Cursor::new(text.as_bytes().to_vec())).map(Result::unwrap).collect();
        assert_eq!(items.len(), 4);
        assert!(matches!(&items[0].read, Read::Record(Record::Entity(e)) if e.slug.as_deref() == Some("a")));
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), [1, 3, 4, 5]);
        let Read::Bad { message, .. } = &items[2].read else { panic!("{:?}", items[2]) };
        assert!(message.contains("colour"), "{message}");
        assert!(matches!(&items[3].read, Read::Bad { message, .. } if message.contains("exactly one")));
    }
}
