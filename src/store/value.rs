//! The byte format of a stored value, shared by every backend so that a record means the same
//! bytes whichever engine holds it (an export from one and an import into the other, a future
//! migration, a debugging dump all read one format).
//!
//! A value is one version byte, then the record:
//! - **Version 2** (what every record is written in): the record's wire struct (`wire`) in
//!   postcard. A start decodes every record, and JSON was most of that work: a binary record
//!   is smaller and is read without parsing text (its strings are read in place).
//! - **Version 1**: the record as JSON (its model type's serde form). Every build before
//!   version 2 wrote it; it is still read, so a store written then opens and serves with
//!   nothing lost, and each record moves to version 2 when it is next written. Nothing
//!   rewrites a store at once.
//! - **Document texts stay in version 1**, as a JSON string: their size limit
//!   ([`super::MAX_DOCUMENT_TEXT_BYTES`]) is measured on the stored bytes, as JSON (a line
//!   break counts two bytes), and keeping that form keeps the limit's meaning, and which texts
//!   it refuses, the same for every build and every text already stored. A text is read once
//!   per start, so a binary form would buy nothing worth that.
//!
//! An unknown version byte is reported as corruption, never guessed at.
//!
//! **The store's format version** (sled's `meta/format_version`, etcd's `m/format`) says which
//! value versions a store may hold: format 1, version-1 values only; format 2, versions 1 and 2.
//! This build opens formats 1 and 2 and raises a format-1 store to 2 when it opens it, before it
//! can write any version-2 value, so that a build that reads only version 1 refuses the store
//! with a clear format error instead of finding values it cannot read and calling them
//! corruption. The raise happens whether or not anything is written afterwards: no open is
//! read-only (a sled directory is always opened for writing, and an etcd store writes its
//! format when it has none), and one rule for every open is simpler to reason about than one
//! for the first write. Over etcd, every process of a store must run a build that reads
//! version 2 before one that writes it starts: a process already running an older build would
//! read a version-2 value on its stream and stop on it as corruption.

use serde::{Deserialize, Serialize};

use super::wire::{AuditWire, EntityWire, RelationWire, TokenWire};
use super::{AuditEntry, RecordJson, StoreError, TokenRecord};
use crate::domain::{Entity, Relation, RelationView};

/// The record as its model type's JSON.
const VALUE_V1: u8 = 1;
/// The record as its wire struct in postcard.
const VALUE_V2: u8 = 2;

/// The store format this build writes (see the module documentation).
pub(super) const FORMAT_VERSION: u32 = 2;
/// The oldest store format this build opens (raising it to [`FORMAT_VERSION`]).
pub(super) const OLDEST_FORMAT: u32 = 1;

/// Whether this build opens a store of format `found`.
pub(super) fn opens_format(found: u32) -> bool {
    (OLDEST_FORMAT..=FORMAT_VERSION).contains(&found)
}

/// A record the store keeps, with its two forms.
pub(super) trait Record<'a>: Sized {
    /// The version-2 bytes after the version byte.
    fn write_binary(&self, out: Vec<u8>) -> Vec<u8>;
    fn read_binary(body: &'a [u8]) -> Result<Self, String>;
    fn read_json(body: &'a [u8]) -> Result<Self, String>;
}

/// `wire` in postcard after `out`. Our wire structs always serialize (no map or sequence of
/// unknown length, no custom error), and writing to a `Vec` cannot fail.
fn postcard_after(wire: &impl Serialize, out: Vec<u8>) -> Vec<u8> {
    postcard::to_extend(wire, out).expect("wire records serialize")
}

/// A whole body in postcard: trailing bytes are as wrong as missing ones.
fn postcard_whole<'a, W: Deserialize<'a>>(body: &'a [u8]) -> Result<W, String> {
    match postcard::take_from_bytes(body) {
        Ok((wire, [])) => Ok(wire),
        Ok((_, rest)) => Err(format!("{} bytes after the record", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}

fn json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

impl<'a> Record<'a> for Entity {
    fn write_binary(&self, out: Vec<u8>) -> Vec<u8> {
        postcard_after(&EntityWire::of(self), out)
    }
    fn read_binary(body: &'a [u8]) -> Result<Self, String> {
        postcard_whole::<EntityWire>(body)?.to_entity()
    }
    fn read_json(body: &'a [u8]) -> Result<Self, String> {
        json(body)
    }
}

impl<'a> Record<'a> for Relation {
    fn write_binary(&self, out: Vec<u8>) -> Vec<u8> {
        postcard_after(&RelationWire::of(self), out)
    }
    fn read_binary(body: &'a [u8]) -> Result<Self, String> {
        Ok(postcard_whole::<RelationWire>(body)?.to_relation())
    }
    fn read_json(body: &'a [u8]) -> Result<Self, String> {
        json(body)
    }
}

/// A relation read in place; written as a [`Relation`].
impl<'a> Record<'a> for RelationView<'a> {
    fn write_binary(&self, out: Vec<u8>) -> Vec<u8> {
        self.to_relation().write_binary(out)
    }
    fn read_binary(body: &'a [u8]) -> Result<Self, String> {
        Ok(postcard_whole::<RelationWire>(body)?.into_view())
    }
    fn read_json(body: &'a [u8]) -> Result<Self, String> {
        json(body)
    }
}

impl<'a> Record<'a> for AuditEntry {
    fn write_binary(&self, out: Vec<u8>) -> Vec<u8> {
        let wire = AuditWire {
            seq: self.seq,
            generation: self.generation,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            target: self.target,
            target_id: &self.target_id,
            before: self.before.as_ref().map(RecordJson::as_str),
            after: self.after.as_ref().map(RecordJson::as_str),
            merged_into: self.merged_into.as_deref(),
        };
        postcard_after(&wire, out)
    }
    fn read_binary(body: &'a [u8]) -> Result<Self, String> {
        postcard_whole::<AuditWire>(body)?.to_entry()
    }
    fn read_json(body: &'a [u8]) -> Result<Self, String> {
        json(body)
    }
}

impl<'a> Record<'a> for TokenRecord {
    fn write_binary(&self, out: Vec<u8>) -> Vec<u8> {
        postcard_after(&TokenWire::of(self), out)
    }
    fn read_binary(body: &'a [u8]) -> Result<Self, String> {
        Ok(postcard_whole::<TokenWire>(body)?.to_token())
    }
    fn read_json(body: &'a [u8]) -> Result<Self, String> {
        json(body)
    }
}

/// A record's stored value, in version 2.
pub(super) fn encode<'a, T: Record<'a>>(value: &T) -> Vec<u8> {
    value.write_binary(vec![VALUE_V2])
}

pub(super) fn decode<'a, T: Record<'a>>(bytes: &'a [u8]) -> Result<T, StoreError> {
    let decoded = match bytes.split_first() {
        Some((&VALUE_V2, body)) => T::read_binary(body),
        Some((&VALUE_V1, body)) => T::read_json(body),
        Some((v, _)) => return Err(StoreError::Corrupt(format!("record in unknown value version {v}"))),
        None => return Err(StoreError::Corrupt("empty record".into())),
    };
    decoded.map_err(|e| StoreError::Corrupt(format!("undecodable record: {e}")))
}

/// A document text's stored value: version 1, a JSON string (see the module documentation).
pub(super) fn encode_text(text: &str) -> Vec<u8> {
    let mut out = vec![VALUE_V1];
    // A string serializes, and writing to a `Vec` cannot fail.
    serde_json::to_writer(&mut out, text).expect("a string serializes");
    out
}

/// `encode_text(text).len()` without building the bytes: how the size limit on texts is checked
/// before anything is encoded for a write.
pub(super) fn encoded_text_len(text: &str) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // The version byte.
    let mut count = Count(1);
    // As in `encode_text`: a string serializes, and counting cannot fail.
    serde_json::to_writer(&mut count, text).expect("a string serializes");
    count.0
}

/// A document text's stored value: only ever version 1.
pub(super) fn decode_text(bytes: &[u8]) -> Result<String, StoreError> {
    match bytes.split_first() {
        Some((&VALUE_V1, body)) => {
            serde_json::from_slice(body).map_err(|e| StoreError::Corrupt(format!("undecodable text: {e}")))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!("text in value version {v}, where texts are version 1"))),
        None => Err(StoreError::Corrupt("empty text".into())),
    }
}

/// Counters (the audit sequence, the format version) are 8 big-endian bytes, so that they sort
/// as numbers where they are part of a key.
pub(super) fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| StoreError::Corrupt("counter is not 8 bytes".into()))?))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::{Citation, EntityKind, FactSources, PartialDate, Quantity, RelationKind, Slug};
    use crate::store::TargetKind;

    fn cite(doc: &str, quote: Option<&str>) -> Citation {
        Citation { document: doc.into(), quote: quote.map(Into::into) }
    }

    fn date(s: &str) -> Option<PartialDate> {
        Some(PartialDate::parse(s).unwrap())
    }

    /// Every optional field set, strings that JSON would escape, and a number that is not whole.
    fn full_entity() -> Entity {
        Entity {
            id: "e-1".into(),
            slug: Slug::parse("full-entity").unwrap(),
            kind: EntityKind::Document,
            subtype: Some("report".into()),
            name: "Ünïcode \"quoted\"\nname".into(),
            aliases: vec!["A".into(), "B b".into()],
            summary: Some("a summary".into()),
            date: date("2021"),
            extra: crate::domain::EntityExtra {
                end_date: date("2023-07-04"),
                url: Some("https://example.org/x".into()),
                file: Some("doc.md".into()),
                quantities: vec![
                    Quantity {
                        name: "funding".into(),
                        value: 1.25e-3,
                        unit: "USD".into(),
                        quote: Some("q".into()),
                        document: Some("d".into()),
                    },
                    Quantity { name: "n".into(), value: -7.0, unit: "".into(), quote: None, document: None },
                ],
                sources: FactSources {
                    date: vec![cite("d", Some("founded"))],
                    end_date: vec![cite("d", None)],
                    url: vec![cite("d", Some("u")), cite("e", None)],
                    summary: vec![cite("s", Some("sum"))],
                    aliases: BTreeMap::from([("A".into(), vec![cite("d", None)]), ("B b".into(), vec![])]),
                },
            }
            .into(),
            version: u64::MAX,
        }
    }

    /// Every optional field unset.
    fn bare_entity() -> Entity {
        Entity {
            id: "e".into(),
            slug: Slug::parse("e").unwrap(),
            kind: EntityKind::Person,
            subtype: None,
            name: String::new(),
            aliases: vec![],
            summary: None,
            date: None,
            extra: Default::default(),
            version: 0,
        }
    }

    fn full_relation() -> Relation {
        Relation {
            id: "funds:a:b".into(),
            kind: RelationKind::Mentions,
            from: "a".into(),
            to: "b".into(),
            title: Some("Director \u{e9}".into()),
            order: Some(-3),
            valid_from: date("2020-02"),
            valid_until: date("2024-02-29"),
            quantities: full_entity().extra.quantities.clone(),
            citations: vec![cite("doc", Some("said \"so\"")), cite("other", None)],
            version: 9,
        }
    }

    fn bare_relation() -> Relation {
        Relation {
            id: "r".into(),
            kind: RelationKind::OfficeOf,
            from: "a".into(),
            to: "b".into(),
            title: None,
            order: None,
            valid_from: None,
            valid_until: None,
            quantities: vec![],
            citations: vec![],
            version: 0,
        }
    }

    fn full_audit() -> AuditEntry {
        AuditEntry {
            seq: 12,
            generation: 40,
            at: "2026-01-01T00:00:00.000Z".into(),
            actor: "editor".into(),
            action: "mergeEntities".into(),
            target: TargetKind::Relation,
            target_id: "x".into(),
            before: Some(serde_json::json!({"a": [1, 2.5, null, "s"], "b": {"c": true}}).into()),
            after: Some(serde_json::json!("plain").into()),
            merged_into: Some("survivor".into()),
        }
    }

    fn bare_audit() -> AuditEntry {
        AuditEntry::pending("seed", "create", TargetKind::Entity, "e", None, None)
    }

    fn token() -> TokenRecord {
        TokenRecord { name: "t".into(), role: "admin".into(), sha256: "ab".repeat(32), created_at: "now".into() }
    }

    /// The bytes a build before version 2 wrote: the version byte and the model's JSON.
    fn v1<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = vec![VALUE_V1];
        out.extend(serde_json::to_vec(value).unwrap());
        out
    }

    fn view_as_relation(bytes: &[u8]) -> Relation {
        decode::<RelationView>(bytes).unwrap().to_relation()
    }

    #[test]
    fn every_record_round_trips_in_version_2_and_still_reads_from_version_1() {
        for e in [full_entity(), bare_entity()] {
            let bytes = encode(&e);
            assert_eq!(bytes[0], VALUE_V2);
            assert_eq!(decode::<Entity>(&bytes).unwrap(), e);
            assert_eq!(decode::<Entity>(&v1(&e)).unwrap(), e);
            assert!(bytes.len() < v1(&e).len(), "binary is the smaller");
        }
        for r in [full_relation(), bare_relation()] {
            let bytes = encode(&r);
            assert_eq!(bytes[0], VALUE_V2);
            assert_eq!(decode::<Relation>(&bytes).unwrap(), r);
            assert_eq!(decode::<Relation>(&v1(&r)).unwrap(), r);
            assert_eq!(view_as_relation(&bytes), r);
            assert_eq!(view_as_relation(&v1(&r)), r);
        }
        for a in [full_audit(), bare_audit()] {
            assert_eq!(decode::<AuditEntry>(&encode(&a)).unwrap(), a);
            assert_eq!(decode::<AuditEntry>(&v1(&a)).unwrap(), a);
        }
        let t = token();
        assert_eq!(decode::<TokenRecord>(&encode(&t)).unwrap(), t);
        assert_eq!(decode::<TokenRecord>(&v1(&t)).unwrap(), t);
    }

    /// A relation's view borrows its strings from the stored bytes rather than copying them.
    #[test]
    fn a_relation_view_reads_its_strings_in_place() {
        let bytes = encode(&full_relation());
        let view = decode::<RelationView>(&bytes).unwrap();
        let inside = |s: &str| bytes.as_ptr_range().contains(&s.as_ptr());
        assert!(matches!(view.id, std::borrow::Cow::Borrowed(_)) && inside(&view.id));
        assert!(inside(&view.from) && inside(&view.to));
        assert!(view.citations.iter().all(|c| inside(&c.document)));
        assert!(inside(view.citations[0].quote.as_deref().unwrap()));
    }

    /// The variant numbers are what the binary form stores: they must never move.
    #[test]
    fn stored_kind_numbers_never_move() {
        let entity_kinds = ["organization", "office", "person", "policy", "pillar", "place", "event", "document"];
        for (i, name) in entity_kinds.iter().enumerate() {
            let kind: EntityKind = name.parse().unwrap();
            assert_eq!(postcard::to_stdvec(&kind).unwrap(), vec![i as u8], "{name}");
        }
        assert_eq!(EntityKind::ALL.len(), entity_kinds.len(), "a new kind goes at the end and here");
        let relation_kinds = [
            "office_of",
            "located_in",
            "part_of",
            "holds_role",
            "member_of",
            "partners_with",
            "contact_for",
            "signed",
            "issued",
            "launched",
            "calls_for",
            "has_pillar",
            "implements",
            "funds",
            "assists",
            "participated_in",
            "organized",
            "consulted",
            "terminates",
            "concerns",
            "authored",
            "welcomes",
            "supports",
            "criticizes",
            "warns_about",
            "congratulates",
            "states",
            "mentions",
        ];
        for (i, name) in relation_kinds.iter().enumerate() {
            let kind: RelationKind = name.parse().unwrap();
            assert_eq!(postcard::to_stdvec(&kind).unwrap(), vec![i as u8], "{name}");
        }
        assert_eq!(RelationKind::ALL.len(), relation_kinds.len(), "a new kind goes at the end and here");
        assert_eq!(postcard::to_stdvec(&TargetKind::Entity).unwrap(), vec![0]);
        assert_eq!(postcard::to_stdvec(&TargetKind::Relation).unwrap(), vec![1]);
    }

    #[test]
    fn bad_bytes_are_corruption_never_a_panic() {
        let corrupt = |bytes: &[u8]| {
            let results = [
                decode::<Entity>(bytes).err(),
                decode::<Relation>(bytes).err(),
                decode::<RelationView>(bytes).err(),
                decode::<AuditEntry>(bytes).err(),
                decode::<TokenRecord>(bytes).err(),
            ];
            results.iter().all(|r| matches!(r, Some(StoreError::Corrupt(_))))
        };
        assert!(corrupt(&[]));
        assert!(corrupt(&[VALUE_V1, b'{']));
        assert!(corrupt(&[VALUE_V2]));
        assert!(matches!(decode::<Entity>(&[9, 0]), Err(StoreError::Corrupt(m)) if m.contains("version 9")));
        // Every cut of a whole record, and trailing bytes after one.
        for bytes in [encode(&full_entity()), encode(&full_relation()), encode(&full_audit()), encode(&token())] {
            for cut in 0..bytes.len() {
                assert!(corrupt(&bytes[..cut]), "cut at {cut} of {}", bytes.len());
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(corrupt(&longer));
        }
        // Garbage: a deterministic spread of bytes after the version byte, including lengths
        // that claim far more than is there.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..200 {
            let mut bytes = vec![VALUE_V2];
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8);
            }
            // Garbage may happen to decode; it must never panic, and a failure is corruption.
            let errors = [decode::<Entity>(&bytes).err(), decode::<RelationView>(&bytes).err()];
            for e in errors.into_iter().flatten() {
                assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
            }
        }
        // A record whose slug or date does not parse is corrupt, as it is in JSON.
        let mut bad_slug = encode(&bare_entity());
        // The ID and the slug are both `e`: the second one is the slug.
        let at = bad_slug.iter().rposition(|&b| b == b'e').unwrap();
        bad_slug[at] = b'E';
        assert!(matches!(decode::<Entity>(&bad_slug), Err(StoreError::Corrupt(m)) if m.contains("slug")));
    }

    #[test]
    fn texts_stay_json_strings_and_their_length_is_exact() {
        for text in ["", "plain", "two\nlines \"quoted\"", "\u{1}control", "\u{e9}t\u{e9}"] {
            let bytes = encode_text(text);
            assert_eq!(bytes[0], VALUE_V1);
            assert_eq!(encoded_text_len(text), bytes.len(), "{text:?}");
            assert_eq!(decode_text(&bytes).unwrap(), text);
        }
        assert!(matches!(decode_text(&[]), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode_text(&[VALUE_V2, 0]), Err(StoreError::Corrupt(m)) if m.contains("version 2")));
        assert!(matches!(decode_text(&[VALUE_V1, b'"']), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn counters_and_format_versions() {
        assert_eq!(decode_u64(&7u64.to_be_bytes()).unwrap(), 7);
        assert!(decode_u64(&[1, 2]).is_err());
        assert!(!opens_format(0) && opens_format(1) && opens_format(2) && !opens_format(3));
    }
}
