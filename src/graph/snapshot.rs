//! The index snapshot: the whole index in one file, written at a clean shutdown and read at the
//! next start instead of the store, when the store has not changed since.
//!
//! A start from the store scans sled and decodes every record, which is most of a start at a
//! million entities. A snapshot holds the same records in the index's own terms: entities in
//! node order, relations in the layout a load gives them (by target), endpoints and cited
//! documents as node numbers rather than IDs to look up. Everything is postcard: entities and a
//! relation's rarer fields in the store's own binary form (`store::wire`, whose layout rules
//! keep it stable), the rest in the structs below. It is cut into blocks, each with its
//! length and a CRC-32, which two threads read and decode while a third builds the index with
//! the same loaders a start from the store uses.
//!
//! A snapshot is a cache, never the truth. It names the store generation it was written at, and
//! the caller uses it only when the store is still at that generation. Anything else wrong with
//! it (another format, a bad checksum, a short file, a number out of range) is an error here,
//! and the caller loads from the store instead.

use std::io::{BufReader, BufWriter, Read, Write};
use std::sync::Mutex;

use petgraph::stable_graph::NodeIndex;
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use serde::{Deserialize, Serialize};

use super::{Cited, EdgeData, EdgeRest, GraphIndex, PreparedRelation};
use crate::domain::{Entity, PartialDate, RelationKind};
use crate::store::wire::{quantities_of, to_quantities, CitationWire, EntityWire, QuantityWire};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("index snapshot: {0}")]
    Io(#[from] std::io::Error),
    #[error("index snapshot: {0}")]
    Invalid(String),
    #[error("index snapshot: written at store generation {found}, the store is at {expected}")]
    Stale { found: u64, expected: u64 },
    #[error("index snapshot: written at store generation {found}, from which the store cannot bring it up to date")]
    Unusable { found: u64 },
}

fn invalid(what: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(what.into())
}

const MAGIC: &[u8; 16] = b"policygraph-idx\n";
/// Bumped whenever the meaning of a block changes. 2: entities and relations' rarer fields in
/// binary (they were JSON in 1); a snapshot of format 1 is refused, and the start reads the store.
const FORMAT: u32 = 2;
/// Records per block: big enough that a block's overhead is nothing, small enough that two
/// decoding threads and the builder stay busy together.
const BLOCK: usize = 4096;
/// A block longer than this is corrupt (a real one is a few MB at most).
const MAX_BLOCK_BYTES: usize = 256 << 20;

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    generation: u64,
    /// Relation kinds by the numbers the relations use: a snapshot written by a build with
    /// another list of kinds is still read right, or refused if it names a kind this one lacks.
    relation_kinds: Vec<String>,
    entities: u64,
    relations: u64,
}

#[derive(Serialize, Deserialize)]
enum Block<'a> {
    /// Each entity in the store's binary form.
    Entities(#[serde(borrow)] Vec<EntityWire<'a>>),
    Relations(#[serde(borrow)] Vec<SnapRelation<'a>>),
}

#[derive(Serialize, Deserialize)]
struct SnapRelation<'a> {
    /// Node numbers: entities are numbered in the order of the `Entities` blocks.
    from: u32,
    to: u32,
    kind: u8,
    id: &'a str,
    version: u64,
    #[serde(borrow)]
    document: Option<Document<'a>>,
    quote: Option<&'a str>,
    /// For the few relations that have any of it.
    #[serde(borrow)]
    rest: Option<RestWire<'a>>,
}

/// [`EdgeRest`], in the store's binary forms of quantities and citations (its own serde form is
/// the model's, which postcard cannot read back: see `store::wire`).
#[derive(Serialize, Deserialize)]
struct RestWire<'a> {
    title: Option<&'a str>,
    order: Option<i32>,
    valid_from: Option<PartialDate>,
    valid_until: Option<PartialDate>,
    #[serde(borrow)]
    quantities: Vec<QuantityWire<'a>>,
    #[serde(borrow)]
    more_citations: Vec<CitationWire<'a>>,
}

impl<'a> RestWire<'a> {
    fn of(r: &'a EdgeRest) -> RestWire<'a> {
        RestWire {
            title: r.title.as_deref(),
            order: r.order,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            quantities: quantities_of(&r.quantities),
            more_citations: r.more_citations.iter().map(CitationWire::of).collect(),
        }
    }

    fn to_rest(&self) -> EdgeRest {
        EdgeRest {
            title: self.title.map(str::to_owned),
            order: self.order,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            quantities: to_quantities(&self.quantities),
            more_citations: self.more_citations.iter().map(CitationWire::to_citation).collect(),
        }
    }
}

/// The first citation's document: an entity's node number, or an ID no entity has.
#[derive(Serialize, Deserialize)]
enum Document<'a> {
    Entity(u32),
    Other(&'a str),
}

/// A relation decoded from a block, its node numbers not yet checked against the entities read.
struct Decoded {
    from: u32,
    to: u32,
    kind: RelationKind,
    document: Option<Result<u32, Box<str>>>,
    data: EdgeData,
}

enum Chunk {
    Entities(Vec<Entity>),
    Relations(Vec<Decoded>),
}

fn write_block(w: &mut impl Write, value: &impl Serialize) -> Result<(), SnapshotError> {
    let bytes = postcard::to_stdvec(value).map_err(|e| invalid(format!("encoding a block: {e}")))?;
    w.write_all(&(bytes.len() as u32).to_le_bytes())?;
    w.write_all(&crc32fast::hash(&bytes).to_le_bytes())?;
    w.write_all(&bytes)?;
    Ok(())
}

/// The next block's bytes, checked against its CRC; `None` at the end of the file.
fn read_block(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<()>, SnapshotError> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => r.read_exact(&mut head[1..])?,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
    if len > MAX_BLOCK_BYTES {
        return Err(invalid(format!("a block claims {len} bytes")));
    }
    buf.clear();
    buf.resize(len, 0);
    r.read_exact(buf)?;
    if crc32fast::hash(buf) != crc {
        return Err(invalid("a block fails its checksum"));
    }
    Ok(Some(()))
}

impl GraphIndex {
    /// Writes the index as a snapshot (see the module documentation). Entities are numbered in
    /// ID order and relations laid out by target, as a load from the store would, whatever
    /// petgraph's numbering after edits.
    pub fn write_snapshot(&self, w: impl Write) -> Result<(), SnapshotError> {
        let mut w = BufWriter::with_capacity(1 << 20, w);
        w.write_all(MAGIC)?;
        let header = Header {
            format: FORMAT,
            generation: self.generation,
            relation_kinds: RelationKind::ALL.iter().map(|k| k.as_str().to_owned()).collect(),
            entities: self.graph.node_count() as u64,
            relations: self.graph.edge_count() as u64,
        };
        write_block(&mut w, &header)?;
        let mut nodes: Vec<NodeIndex> = self.graph.node_indices().collect();
        nodes.sort_unstable_by(|&a, &b| self.graph[a].id.cmp(&self.graph[b].id));
        let mut number = vec![u32::MAX; petgraph::visit::NodeIndexable::node_bound(&self.graph)];
        for (i, n) in nodes.iter().enumerate() {
            number[n.index()] = i as u32;
        }
        for chunk in nodes.chunks(BLOCK) {
            write_block(
                &mut w,
                &Block::Entities(chunk.iter().map(|&n| EntityWire::of(&self.graph[n].entity)).collect()),
            )?;
        }
        let mut edges: Vec<(u32, u32, &str, petgraph::stable_graph::EdgeIndex)> = (&self.graph)
            .edge_references()
            .map(|e| (number[e.target().index()], number[e.source().index()], self.data(e.id()).id(), e.id()))
            .collect();
        edges.sort_unstable();
        let kind_number =
            |k: RelationKind| RelationKind::ALL.iter().position(|&x| x == k).expect("every kind is listed") as u8;
        for chunk in edges.chunks(BLOCK) {
            let records = chunk
                .iter()
                .map(|&(to, from, id, e)| {
                    let d = self.data(e);
                    SnapRelation {
                        from,
                        to,
                        kind: kind_number(self.graph[e].kind),
                        id,
                        version: d.version(),
                        document: d.document().map(|doc| self.documents.id(doc)).map(|doc| match self.by_id.get(doc) {
                            Some(n) => Document::Entity(number[n.index()]),
                            None => Document::Other(doc),
                        }),
                        quote: d.quote(),
                        rest: d.rest.as_deref().map(RestWire::of),
                    }
                })
                .collect();
            write_block(&mut w, &Block::Relations(records))?;
        }
        w.flush()?;
        Ok(())
    }

    /// Reads a snapshot written at store generation `generation`: [`SnapshotError::Stale`] at
    /// once, before reading further, if it was written at another.
    pub fn read_snapshot(r: impl Read + Send, generation: u64) -> Result<GraphIndex, SnapshotError> {
        GraphIndex::read_snapshot_if(r, |found| found == generation).map_err(|e| match e {
            SnapshotError::Unusable { found } => SnapshotError::Stale { found, expected: generation },
            e => e,
        })
    }

    /// Reads a snapshot if `usable` accepts the store generation it was written at (checked
    /// before reading further; [`SnapshotError::Unusable`] otherwise). A store that can replay
    /// its changes from that generation can bring an older snapshot up to date.
    pub fn read_snapshot_if(
        r: impl Read + Send,
        usable: impl FnOnce(u64) -> bool,
    ) -> Result<GraphIndex, SnapshotError> {
        const DECODERS: usize = 2;
        let mut r = BufReader::with_capacity(1 << 20, r);
        let mut magic = [0u8; 16];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(invalid("not an index snapshot"));
        }
        let mut buf = Vec::new();
        read_block(&mut r, &mut buf)?.ok_or_else(|| invalid("no header"))?;
        let header: Header = postcard::from_bytes(&buf).map_err(|e| invalid(format!("header: {e}")))?;
        if header.format != FORMAT {
            return Err(invalid(format!("format {} (this build reads {FORMAT})", header.format)));
        }
        let generation = header.generation;
        if !usable(generation) {
            return Err(SnapshotError::Unusable { found: generation });
        }
        let kinds: Vec<RelationKind> = header
            .relation_kinds
            .iter()
            .map(|k| k.parse().map_err(|_| invalid(format!("unknown relation kind `{k}`"))))
            .collect::<Result<_, _>>()?;
        let (entities, relations) = (header.entities as usize, header.relations as usize);
        let mut index = GraphIndex::with_capacity(entities, relations, generation);
        let reader = Mutex::new(r);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Chunk, SnapshotError>>(8);
            for _ in 0..DECODERS {
                let (tx, reader, kinds) = (tx.clone(), &reader, &kinds);
                scope.spawn(move || {
                    let mut buf = Vec::new();
                    loop {
                        // The lock is held for the read only: decoding, the costly part, is
                        // done side by side.
                        let next = read_block(&mut *reader.lock().unwrap_or_else(|e| e.into_inner()), &mut buf);
                        let chunk = match next {
                            Ok(None) => return,
                            Ok(Some(())) => decode(&buf, kinds),
                            Err(e) => Err(e),
                        };
                        let failed = chunk.is_err();
                        if tx.send(chunk).is_err() || failed {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            build(&mut index, rx, entities, relations)
        })?;
        Ok(index)
    }
}

/// Decodes one block, on a reader thread: entities and relations' strings.
fn decode(bytes: &[u8], kinds: &[RelationKind]) -> Result<Chunk, SnapshotError> {
    match postcard::from_bytes::<Block<'_>>(bytes).map_err(|e| invalid(format!("a block: {e}")))? {
        Block::Entities(entities) => Ok(Chunk::Entities(
            entities
                .iter()
                .map(|e| e.to_entity().map_err(|e| invalid(format!("an entity: {e}"))))
                .collect::<Result<_, _>>()?,
        )),
        Block::Relations(records) => Ok(Chunk::Relations(
            records
                .into_iter()
                .map(|r| {
                    let kind = *kinds
                        .get(r.kind as usize)
                        .ok_or_else(|| invalid(format!("relation kind number {}", r.kind)))?;
                    let rest = r.rest.and_then(|rest| rest.to_rest().boxed());
                    Ok(Decoded {
                        from: r.from,
                        to: r.to,
                        kind,
                        document: r.document.map(|d| match d {
                            Document::Entity(n) => Ok(n),
                            Document::Other(id) => Err(id.into()),
                        }),
                        data: EdgeData::new(r.id, r.version, None, r.quote, rest),
                    })
                })
                .collect::<Result<_, SnapshotError>>()?,
        )),
    }
}

/// Builds the index from decoded chunks: every entity first (relations that arrive early wait),
/// then the relations, through the loaders a start from the store uses.
fn build(
    index: &mut GraphIndex,
    rx: std::sync::mpsc::Receiver<Result<Chunk, SnapshotError>>,
    entities: usize,
    relations: usize,
) -> Result<(), SnapshotError> {
    let mut rx = rx.into_iter();
    let mut early: Vec<Vec<Decoded>> = Vec::new();
    let mut loader = index.load_entities();
    let mut seen = 0;
    while seen < entities {
        match rx.next().ok_or_else(|| invalid(format!("{seen} of {entities} entities")))?? {
            Chunk::Entities(chunk) => {
                seen += chunk.len();
                chunk.into_iter().for_each(|e| loader.add(e));
            }
            Chunk::Relations(chunk) => early.push(chunk),
        }
    }
    loader.finish();
    if index.graph.node_count() != entities {
        return Err(invalid(format!("{entities} entities announced, {} distinct read", index.graph.node_count())));
    }
    // Entities got their nodes in ID order, which is the order they were written in: a
    // relation's node numbers are node indices.
    let node = |n: u32| {
        ((n as usize) < entities).then(|| NodeIndex::new(n as usize)).ok_or_else(|| invalid(format!("node number {n}")))
    };
    let mut loader = index.load_relations();
    loader.reserve(relations);
    let mut seen = 0;
    let more = rx.map(|chunk| match chunk? {
        Chunk::Relations(chunk) => Ok(chunk),
        Chunk::Entities(_) => Err(invalid("entities after relations")),
    });
    for chunk in early.into_iter().map(Ok).chain(more) {
        for r in chunk? {
            let document = match r.document {
                Some(Ok(n)) => Some(Cited::Entity(node(n)?)),
                Some(Err(other)) => Some(Cited::Other(other)),
                None => None,
            };
            loader.add(PreparedRelation { from: node(r.from)?, to: node(r.to)?, kind: r.kind, document, data: r.data });
            seen += 1;
        }
    }
    if seen != relations {
        return Err(invalid(format!("{relations} relations announced, {seen} read")));
    }
    loader.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Citation, EntityKind, FactSources, PartialDate, Quantity, Relation, Slug};
    use std::path::Path;

    /// The curated graph, then edited so that petgraph's numbering has holes and reused slots,
    /// with an entity that has every optional field, a relation that has every rare field and
    /// one citing a document no entity has.
    fn edited_index() -> GraphIndex {
        let seed = crate::seed::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("seed")).expect("the seed loads");
        let mut g = GraphIndex::build(seed.entities.clone(), seed.relations.clone(), 7).unwrap();
        let gone = &seed.entities[3].id;
        assert!(g.remove_entity(gone).is_some());
        for r in seed.relations.iter().step_by(5) {
            g.remove_relation(&r.id);
        }
        let mut renamed = seed.entities[10].clone();
        renamed.aliases.push("Ünïcode Alias".into());
        g.upsert_entity(renamed);
        let cite =
            |quote: Option<&str>| Citation { document: seed.entities[0].id.clone(), quote: quote.map(Into::into) };
        g.upsert_entity(Entity {
            id: "entity-everything".into(),
            slug: Slug::parse("entity-everything").unwrap(),
            kind: EntityKind::Event,
            subtype: Some("summit".into()),
            name: "Everything \"quoted\"".into(),
            aliases: vec!["Every".into(), "Thing".into()],
            summary: Some("A summary\non two lines.".into()),
            date: Some(PartialDate::parse("2020").unwrap()),
            extra: crate::domain::EntityExtra {
                end_date: Some(PartialDate::parse("2020-11-30").unwrap()),
                url: Some("https://example.org/everything".into()),
                file: Some("everything.md".into()),
                quantities: vec![Quantity {
                    name: "people".into(),
                    value: 3e6,
                    unit: "persons".into(),
                    quote: Some("three million".into()),
                    document: Some(seed.entities[0].id.clone()),
                }],
                sources: FactSources {
                    date: vec![cite(Some("in 2020"))],
                    end_date: vec![cite(None)],
                    url: vec![cite(Some("at example.org"))],
                    summary: vec![cite(Some("a summary"))],
                    aliases: [("Every".to_string(), vec![cite(Some("every"))])].into(),
                },
            }
            .into(),
            version: 12,
        });
        let (a, b) = (&seed.entities[0].id, &seed.entities[1].id);
        g.upsert_relation(Relation {
            id: "rel-everything".into(),
            kind: RelationKind::Funds,
            from: a.clone(),
            to: b.clone(),
            title: Some("a title".into()),
            order: Some(3),
            valid_from: Some(PartialDate::parse("2025-01").unwrap()),
            valid_until: None,
            quantities: vec![Quantity {
                name: "amount".into(),
                value: 1.5,
                unit: "USD".into(),
                quote: Some("one and a half".into()),
                document: None,
            }],
            citations: vec![
                Citation { document: "not-an-entity".into(), quote: Some("said \"so\"".into()) },
                Citation { document: b.clone(), quote: None },
            ],
            version: 4,
        })
        .unwrap();
        g
    }

    fn snapshot_of(g: &GraphIndex) -> Vec<u8> {
        let mut bytes = Vec::new();
        g.write_snapshot(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn an_edited_index_reads_back_the_same() {
        let g = edited_index();
        let back = GraphIndex::read_snapshot(&snapshot_of(&g)[..], 7).unwrap();
        assert!(back.same_content(&g));
        assert_eq!((back.entity_count(), back.relation_count()), (g.entity_count(), g.relation_count()));
        assert_eq!(back.generation(), 7);
        // What the loaders derive (slug maps, search words) is rebuilt too.
        for e in g.entities(None, None) {
            assert_eq!(back.entity_by_slug(e.slug.as_str()).map(|x| &x.id), Some(&e.id));
        }
        assert_eq!(
            back.search("unicode alias", None, 5).first().map(|e| &e.id),
            g.search("unicode alias", None, 5).first().map(|e| &e.id)
        );
        assert!(!back.search("unicode alias", None, 5).is_empty());
        let r = back.relation("rel-everything").unwrap();
        assert_eq!(r.title.as_deref(), Some("a title"));
        assert_eq!(r.citations[0].document, "not-an-entity");
        assert_eq!(r.citations.len(), 2);
        assert_eq!(r, g.relation("rel-everything").unwrap());
        assert_eq!(back.entity("entity-everything"), g.entity("entity-everything"));
    }

    /// A snapshot of format 1 (entities as JSON) is refused by name, not misread: the start
    /// then reads the store, as for any snapshot error.
    #[test]
    fn a_snapshot_of_the_json_format_is_refused() {
        let mut bytes = snapshot_of(&edited_index());
        // The header block: its length and CRC, then the header, whose first field (the format,
        // a one-byte varint) is what an older build wrote as 1.
        let len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
        assert_eq!(bytes[24], FORMAT as u8);
        bytes[24] = 1;
        let crc = crc32fast::hash(&bytes[24..24 + len]);
        bytes[20..24].copy_from_slice(&crc.to_le_bytes());
        let err = GraphIndex::read_snapshot(&bytes[..], 7).err().expect("format 1 is refused");
        assert!(err.to_string().contains("format 1 (this build reads 2)"), "{err}");
    }

    /// Whatever a block holds (a bug in a writer, damage that its checksum missed), decoding it
    /// is an error or records, never a panic.
    #[test]
    fn damaged_blocks_that_pass_their_checksum_decode_without_panic() {
        let bytes = snapshot_of(&edited_index());
        let mut r = &bytes[16..];
        let mut blocks = Vec::new();
        let mut buf = Vec::new();
        while read_block(&mut r, &mut buf).unwrap().is_some() {
            blocks.push(buf.clone());
        }
        let kinds = RelationKind::ALL.to_vec();
        // The header, then an entities block and the relations block.
        assert!(blocks.len() >= 3 && matches!(decode(&blocks[1], &kinds), Ok(Chunk::Entities(_))));
        assert!(matches!(decode(blocks.last().unwrap(), &kinds), Ok(Chunk::Relations(_))));
        for block in [&blocks[1], blocks.last().unwrap()] {
            for cut in (0..block.len()).step_by(block.len() / 50 + 1) {
                assert!(decode(&block[..cut], &kinds).is_err(), "cut at {cut}");
            }
            for at in (0..block.len()).step_by(block.len() / 300 + 1) {
                for flip in [0x01u8, 0x80] {
                    let mut damaged = block.clone();
                    damaged[at] ^= flip;
                    // Some flips still decode (a letter of a name changed); none may panic.
                    let _ = decode(&damaged, &kinds);
                }
            }
        }
    }

    #[test]
    fn a_stale_damaged_or_short_snapshot_is_refused() {
        let bytes = snapshot_of(&edited_index());
        assert!(matches!(
            GraphIndex::read_snapshot(&bytes[..], 8),
            Err(SnapshotError::Stale { found: 7, expected: 8 })
        ));
        let mut damaged = bytes.clone();
        let at = damaged.len() / 2;
        damaged[at] ^= 0x40;
        let err = GraphIndex::read_snapshot(&damaged[..], 7).err().expect("a flipped bit is caught");
        assert!(err.to_string().contains("checksum"), "{err}");
        for cut in [10, 40, bytes.len() / 3, bytes.len() - 1] {
            assert!(GraphIndex::read_snapshot(&bytes[..cut], 7).is_err(), "cut at {cut}");
        }
        assert!(GraphIndex::read_snapshot(&b"not a snapshot at all"[..], 7).is_err());
    }
}
