//! A relation as the index keeps it, beside petgraph's edge: its ID, version, first citation and
//! rarer fields, packed so that 5M of them fit in a few hundred megabytes.
//!
//! At 5M relations the model's `Relation` (184 bytes, plus an allocation for each of its ID, both
//! endpoint IDs, the citation's document and its quote) was three quarters of the server's
//! memory. Then a 64-byte record with two allocations (the ID and the quote) was half a gigabyte
//! at 1M entities / 5M relations. Now a relation is 24 bytes here plus one allocation holding its
//! ID, version, cited document (a number, see [`Documents`]) and quote; what most relations lack
//! (title, order, dates, quantities, further citations) lives behind one more pointer.
//!
//! A quote's place in its document (`Citation.offset`) is not kept: it is computed when read,
//! from the text the service holds (`domain::DocumentText::located`, memoized), so it is always
//! true of the text served, whichever version of a file a start read; and 16 bytes per citation
//! at 5M relations would be 80 MB for a field most requests never ask for.
//!
//! **Invariant:** the packed bytes are only ever written by [`EdgeData::new`] (and the document
//! number by [`EdgeData::set_document`], in place), so they always parse; the ID and quote in them
//! are whole UTF-8 strings.

use std::sync::Arc;

use foldhash::HashMap;

use crate::domain::{Citation, DateWindow, PartialDate, Quantity};

/// The packed ID, version, first citation's document and quote of a relation, and its rarer fields.
pub(super) struct EdgeData {
    /// `[document: u32 LE, u32::MAX for none][version: varint][ID length: varint][ID]
    /// [quote: varint, 0 for none, else length + 1][quote]`. The document is first and of fixed
    /// width so that a load can number it after the rest was packed on a reader thread.
    packed: Box<[u8]>,
    pub(super) rest: Option<Box<EdgeRest>>,
}

/// The parts of a relation most relations do not have.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct EdgeRest {
    pub(super) title: Option<String>,
    pub(super) order: Option<i32>,
    pub(super) valid_from: Option<PartialDate>,
    pub(super) valid_until: Option<PartialDate>,
    pub(super) quantities: Vec<Quantity>,
    /// Citations after the first.
    pub(super) more_citations: Vec<Citation>,
}

impl EdgeRest {
    /// The rest of a relation, or `None` when it has none of it (most relations).
    pub(super) fn boxed(self) -> Option<Box<EdgeRest>> {
        let empty = self.title.is_none()
            && self.order.is_none()
            && self.valid_from.is_none()
            && self.valid_until.is_none()
            && self.quantities.is_empty()
            && self.more_citations.is_empty();
        (!empty).then(|| Box::new(self))
    }
}

const NO_DOCUMENT: u32 = u32::MAX;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*at` and moves past it. Only our own packing is read (see the invariant).
fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("packed strings are whole UTF-8 (see the module's invariant)")
}

impl EdgeData {
    pub(super) fn new(
        id: &str,
        version: u64,
        document: Option<u32>,
        quote: Option<&str>,
        rest: Option<Box<EdgeRest>>,
    ) -> EdgeData {
        let mut out = Vec::with_capacity(4 + 10 + 2 + id.len() + 2 + quote.map_or(0, str::len));
        out.extend_from_slice(&document.unwrap_or(NO_DOCUMENT).to_le_bytes());
        put_varint(&mut out, version);
        put_varint(&mut out, id.len() as u64);
        out.extend_from_slice(id.as_bytes());
        put_varint(&mut out, quote.map_or(0, |q| q.len() as u64 + 1));
        out.extend_from_slice(quote.unwrap_or_default().as_bytes());
        EdgeData { packed: out.into_boxed_slice(), rest }
    }

    /// The first citation's document number (see [`Documents`]); `None` only for a relation
    /// without citations.
    pub(super) fn document(&self) -> Option<u32> {
        let n = u32::from_le_bytes(self.packed[..4].try_into().expect("four bytes"));
        (n != NO_DOCUMENT).then_some(n)
    }

    pub(super) fn set_document(&mut self, document: Option<u32>) {
        self.packed[..4].copy_from_slice(&document.unwrap_or(NO_DOCUMENT).to_le_bytes());
    }

    pub(super) fn version(&self) -> u64 {
        varint(&self.packed, &mut 4)
    }

    /// Where the ID's bytes are.
    fn id_range(&self) -> std::ops::Range<usize> {
        let mut at = 4;
        varint(&self.packed, &mut at);
        let len = varint(&self.packed, &mut at) as usize;
        at..at + len
    }

    /// The ID's bytes, for hashing and comparing without a UTF-8 check.
    pub(super) fn id_bytes(&self) -> &[u8] {
        &self.packed[self.id_range()]
    }

    pub(super) fn id(&self) -> &str {
        text(self.id_bytes())
    }

    /// The first citation's quote.
    pub(super) fn quote(&self) -> Option<&str> {
        let mut at = self.id_range().end;
        match varint(&self.packed, &mut at) as usize {
            0 => None,
            n => Some(text(&self.packed[at..at + n - 1])),
        }
    }

    pub(super) fn order(&self) -> Option<i32> {
        self.rest.as_ref().and_then(|r| r.order)
    }

    pub(super) fn title(&self) -> Option<&str> {
        self.rest.as_ref().and_then(|r| r.title.as_deref())
    }

    /// `validFrom` and `validUntil`.
    pub(super) fn period(&self) -> (Option<PartialDate>, Option<PartialDate>) {
        self.rest.as_ref().map_or((None, None), |r| (r.valid_from, r.valid_until))
    }

    /// Whether the relation may have held on a day of `window` (see [`DateWindow`]).
    pub(super) fn valid_in(&self, window: &DateWindow) -> bool {
        let (from, until) = self.period();
        window.admits(from, until)
    }

    /// Every document the relation cites.
    pub(super) fn documents<'a>(&'a self, numbers: &'a Documents) -> impl Iterator<Item = &'a str> {
        self.document()
            .map(|n| numbers.id(n))
            .into_iter()
            .chain(self.rest.iter().flat_map(|r| r.more_citations.iter().map(|c| c.document.as_str())))
    }

    /// The quotes of every citation.
    pub(super) fn quotes(&self) -> impl Iterator<Item = &str> {
        self.quote()
            .into_iter()
            .chain(self.rest.iter().flat_map(|r| r.more_citations.iter().filter_map(|c| c.quote.as_deref())))
    }
}

/// The documents relations cite, numbered in the order they were first cited: a relation keeps
/// its first citation's document as a number (4 bytes in its packed record) instead of a
/// pointer to a shared ID (16 bytes beside it), 60 MB at 5M relations. Numbers are never
/// reused or taken back while the index lives, so a number in a record always names the same
/// document; a document no longer cited stays listed until the next start (there are far fewer
/// documents than relations).
#[derive(Default)]
pub(super) struct Documents {
    ids: Vec<Arc<str>>,
    numbers: HashMap<Arc<str>, u32>,
}

impl Documents {
    pub(super) fn number(&mut self, id: &str) -> u32 {
        if let Some(&n) = self.numbers.get(id) {
            return n;
        }
        let n = u32::try_from(self.ids.len()).expect("fewer than 4 billion cited documents");
        let id: Arc<str> = id.into();
        self.ids.push(id.clone());
        self.numbers.insert(id, n);
        n
    }

    pub(super) fn id(&self, n: u32) -> &str {
        &self.ids[n as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_fields_read_back() {
        let long = "q".repeat(300);
        for (id, version, document, quote) in [
            ("r1", 1, Some(0), Some("A quote.")),
            ("", 0, None, None),
            ("ünïcode-id", u64::MAX, Some(NO_DOCUMENT - 1), Some("")),
            ("x", 300, Some(7), Some(long.as_str())),
        ] {
            let mut d = EdgeData::new(id, version, document, quote, None);
            assert_eq!((d.id(), d.version(), d.document(), d.quote()), (id, version, document, quote));
            d.set_document(Some(42));
            assert_eq!((d.id(), d.version(), d.document(), d.quote()), (id, version, Some(42), quote));
            d.set_document(None);
            assert_eq!(d.document(), None);
        }
    }

    #[test]
    fn a_document_keeps_its_number() {
        let mut docs = Documents::default();
        let (a, b) = (docs.number("doc-a"), docs.number("doc-b"));
        assert_ne!(a, b);
        assert_eq!(docs.number("doc-a"), a);
        assert_eq!((docs.id(a), docs.id(b)), ("doc-a", "doc-b"));
    }
}
