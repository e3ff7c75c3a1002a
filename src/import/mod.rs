//! Bulk import: files of records (JSON Lines, CSV, FollowTheMoney; `read`) checked through
//! the one validation layer (`validate`) and written in chunks.
//!
//! An import reads its files several times rather than holding them, so that memory stays
//! bounded whatever their size (what is held: each entity's ID and line, a 64-bit hash and line
//! per relation ID, the documents' texts, and two spans of records being written):
//! 1. **scan**: every line parsed; the IDs and slugs the import defines (a repeat is a
//!    problem), its documents by file name and their texts (inline, or the named file beside
//!    the import file);
//! 2. **entities**, then 3. **relations**: every record checked through `validate` against what
//!    the scan found and what the store holds; quotes found in their documents many at a time
//!    (one pass over a document's text per 200,000 quotes), on a thread of their own while the
//!    records are read; an entity refused here is no longer an endpoint relations may name;
//! 4. and 5. **write** (unless `--dry-run`, and, without `--skip-invalid`, only when nothing was
//!    refused): entities first and then relations, so that no chunk holds a relation whose end
//!    is not written yet, in chunks of `chunk` records, sorted by ID within spans of up to 64
//!    chunks (so that the store's B-tree is written leaf after leaf, not all over it). Each chunk
//!    is one commit with its audit entries (actor `import:<file name>`), based on the
//!    generation its records were compared
//!    at; a record equal to the stored one is left alone, so re-running an import after a crash
//!    writes only what the crash left out. (Over etcd a commit larger than etcd's transaction
//!    limit is written as several whole transactions; see the store's documentation.) Chunks
//!    are compared and committed one at a time on a thread of their own while the next span is
//!    read and checked, so that the two halves use both cores; at most two spans are held.
//!    When the import is the store's only writer (the command line over sled, which locks its
//!    directory), the reading thread also compares each chunk with the store, through a read
//!    that does not hold off the commits, and hands over batches ready to commit: the
//!    committing thread was the import's bottleneck.
//!
//! The driver is synchronous (parsing and checking are CPU work) and runs on a blocking thread;
//! it reaches the store through a [`Sink`], which the command line gives as the store itself and
//! the server as its service (so that the index and subscribers follow each chunk).

pub mod csv;
pub mod ftm;
pub mod progress;
pub mod read;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;
use std::io::{self, Read as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::domain::{DocumentTexts, Entity, EntityKind, FieldError, Relation};
use crate::store::{
    AuditEntry, DocumentTextRecord, Generation, RecordJson, Snapshot, StoreError, Versioned, WriteBatch,
};
use crate::validate::{self, DocumentRef, DraftEntity, QuoteCheck, Refs, Rules};
pub use read::{Format, Item, Read, Record, Source, Want};

/// At most this many problems are listed in a report (all are counted; the command line also
/// prints each as it is found).
pub const MAX_LISTED: usize = 1000;
/// Quotes waiting for their documents are checked in groups of this many (about 50 MB).
const QUOTES_PER_PASS: usize = 200_000;
/// A check pass reads the store through a view it renews every this many records, so that a
/// long pass does not hold off other writers (a sled view does) or read from an old generation.
const RECORDS_PER_VIEW: u32 = 10_000;
/// A chunk whose commit found the store moved on is compared and committed again, at most this
/// many times.
const MAX_TRIES: usize = 16;
/// The write passes gather up to this many chunks (and at most [`SORT_SPAN`] records, unless a
/// chunk is larger), sort them by ID and commit them in that order. Records in file order land
/// all over the store's key space: at 1M entities with random slugs each chunk of a thousand
/// touched a thousand B-tree leaves, most of them out of sled's page cache, read back from disk
/// by the comparison and again by the transaction. Sorted, a span's chunks walk the leaves in
/// order (measured: the 1M entities were written in 40 s instead of 58).
const CHUNKS_PER_SPAN: usize = 64;
const SORT_SPAN: usize = 65_536;
/// And at most this many bytes of document text, which a span holds with its documents.
const SORT_SPAN_TEXT: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {file}: {source}")]
    Io { file: String, source: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store kept changing under the import: a chunk was compared {0} times and could not be committed")]
    Contended(usize),
    #[error("the import was stopped")]
    Stopped,
}

/// One refused record: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What an import found and did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub files: Vec<String>,
    /// Records read (entities and relations, good or bad).
    pub records: u64,
    pub entities_added: u64,
    pub entities_updated: u64,
    pub relations_added: u64,
    pub relations_updated: u64,
    /// Records equal to what the store already held: not rewritten.
    pub unchanged: u64,
    /// Records read and deliberately not imported, by what they were (FollowTheMoney schemata
    /// with no place in this graph).
    pub left_out: BTreeMap<String, u64>,
    /// Records refused.
    pub invalid: u64,
    /// The first [`MAX_LISTED`] problems, in the order found.
    pub problems: Vec<Problem>,
    /// Commits made.
    pub chunks: u64,
    pub dry_run: bool,
    /// Whether anything was written (false for a dry run and for a refused import).
    pub written: bool,
}

impl Report {
    /// One line of counts, for the command line and the server's log.
    pub fn summary(&self) -> String {
        let left_out: u64 = self.left_out.values().sum();
        format!(
            "{} records read; entities {} added, {} updated; relations {} added, {} updated; {} unchanged; \
             {} invalid; {} left out; {} commits{}",
            self.records,
            self.entities_added,
            self.entities_updated,
            self.relations_added,
            self.relations_updated,
            self.unchanged,
            self.invalid,
            left_out,
            self.chunks,
            match (self.dry_run, self.written) {
                (true, _) => "; dry run: nothing written",
                (false, false) => "; nothing written",
                _ => "",
            }
        )
    }
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check everything, write nothing.
    pub dry_run: bool,
    /// Write the good records even when some are refused (default: any refusal writes nothing).
    pub skip_invalid: bool,
    /// Records per commit.
    pub chunk: usize,
    /// Texts quotes may already be found in (the seed's documents, those the store keeps).
    pub texts: DocumentTexts,
    /// Whether a document's `file` without an inline `text` is read from beside the import
    /// file (the command line) or refused (a server reads no file a request names).
    pub read_files: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { dry_run: false, skip_invalid: false, chunk: 1000, texts: DocumentTexts::default(), read_files: true }
    }
}

/// Where an import's chunks go.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// A read of the store at its newest generation.
    async fn read(&self) -> Result<Arc<dyn Snapshot>, StoreError>;
    /// Commits a chunk durably (failing with `Conflict` when the store moved past its base).
    async fn commit(&self, batch: WriteBatch) -> Result<Generation, StoreError>;
    /// A read that does not hold off commits, when the import is the store's only writer
    /// ([`crate::store::Store::sole_writer_read`]): then chunks are compared with the store on
    /// the reading thread, while the committing one commits those before.
    fn sole_writer_read(&self) -> Option<Result<Arc<dyn Snapshot>, StoreError>> {
        None
    }
}

/// The store itself, for an import with no server running over it.
pub struct StoreSink(pub Arc<dyn crate::store::Store>);

#[async_trait::async_trait]
impl Sink for StoreSink {
    async fn read(&self) -> Result<Arc<dyn Snapshot>, StoreError> {
        self.0.read().await
    }

    async fn commit(&self, batch: WriteBatch) -> Result<Generation, StoreError> {
        Ok(self.0.commit_durable(&batch).await?.generation)
    }

    /// The command line opened the store for the import alone.
    fn sole_writer_read(&self) -> Option<Result<Arc<dyn Snapshot>, StoreError>> {
        self.0.sole_writer_read()
    }
}

/// What an import tells whoever watches it: a phase over so many bytes, bytes read so far,
/// problems as they are found.
pub trait Progress: Send + Sync {
    fn phase(&self, name: &str, total_bytes: u64);
    fn advance(&self, bytes: u64, records: u64);
    fn problem(&self, problem: &Problem);
    fn finish(&self);
}

/// Watches nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64, _: u64) {}
    fn problem(&self, _: &Problem) {}
    fn finish(&self) {}
}

/// A record's place: which file (index into the sources), which line, and which record of the
/// line (0: the line itself, when it is not a record; 1: an entity; 2: a relation). A line may
/// give two records (a FollowTheMoney relation and, before it, the document standing for its
/// file), and refusing one must not refuse the other.
type Loc = (u32, u64, u8);
/// The import's own tables are looked up millions of times: a fast hash (no adversary picks
/// these keys against the importing process's own memory).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// What the scan learns of the entities an import defines.
struct Defined {
    loc: Loc,
    /// A document's file name, when it has one.
    file: Option<String>,
    document: bool,
}

/// Everything the passes share.
struct Run<'a> {
    sources: &'a [Source],
    options: &'a Options,
    sink: &'a dyn Sink,
    rt: tokio::runtime::Handle,
    progress: &'a dyn Progress,
    stop: &'a AtomicU64,
    report: Report,
    /// Records refused, by place: skipped by every later pass.
    bad: FastSet<Loc>,
    entities: FastMap<String, Defined>,
    /// Slug → the entity ID that has it, where the two differ.
    slugs: FastMap<String, Loc>,
    documents_by_file: FastMap<String, String>,
    texts: DocumentTexts,
    /// Texts this import brings, to be written with their documents.
    /// During the scan, the texts this import brings; then moved into `texts`.
    new_texts: HashMap<String, String>,
    /// The files whose texts this import brings, to be written with their documents.
    new_files: FastSet<String>,
}

/// Runs an import of `sources`. Blocking: call it from a blocking thread; `rt` runs the sink's
/// calls. A non-zero `stop` ends it between records (whole chunks stay written).
pub fn run(
    sources: &[Source],
    options: &Options,
    sink: &dyn Sink,
    rt: tokio::runtime::Handle,
    progress: &dyn Progress,
    stop: &AtomicU64,
) -> Result<Report, ImportError> {
    let mut run = Run {
        sources,
        options,
        sink,
        rt,
        progress,
        stop,
        report: Report {
            files: sources.iter().map(Source::name).collect(),
            dry_run: options.dry_run,
            ..Report::default()
        },
        bad: FastSet::default(),
        entities: FastMap::default(),
        slugs: FastMap::default(),
        documents_by_file: FastMap::default(),
        texts: options.texts.clone(),
        new_texts: HashMap::new(),
        new_files: FastSet::default(),
    };
    run.scan()?;
    // Moved, not copied: at 1M entities the texts are a few hundred megabytes.
    let new_texts = std::mem::take(&mut run.new_texts);
    run.new_files = new_texts.keys().cloned().collect();
    run.texts = run.texts.merged(&DocumentTexts::from_texts(new_texts));
    run.check(Pass::Entities)?;
    run.check(Pass::Relations)?;
    let refused = run.report.invalid > 0;
    if !options.dry_run && (!refused || options.skip_invalid) {
        run.write(Pass::Entities)?;
        run.write(Pass::Relations)?;
        run.report.written = run.report.chunks > 0;
    }
    progress.finish();
    Ok(run.report)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Entities,
    Relations,
}

impl Pass {
    fn want(self) -> Want {
        match self {
            Pass::Entities => Want::Entities,
            Pass::Relations => Want::Relations,
        }
    }
}

/// A reader that counts the bytes it has given, for the progress bar.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: io::Read> io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Run<'_> {
    /// Calls `f` with every item of every source, in order, with its place.
    fn each(
        &mut self,
        phase: &str,
        want: Option<Want>,
        mut f: impl FnMut(&mut Self, Loc, Read),
    ) -> Result<(), ImportError> {
        let total: u64 = self.sources.iter().map(Source::size).sum();
        self.progress.phase(phase, total);
        let mut before = 0u64;
        for (i, source) in self.sources.iter().enumerate() {
            let count = Arc::new(AtomicU64::new(0));
            let io_err = |source_err: io::Error| ImportError::Io { file: source.name(), source: source_err };
            let file = std::fs::File::open(&source.path).map_err(io_err)?;
            let counted = Counted { inner: file, count: count.clone() };
            let items = source.open_reader(io::BufReader::with_capacity(1 << 20, counted), want).map_err(io_err)?;
            let mut n = 0u64;
            for item in items {
                let item = item.map_err(io_err)?;
                let which = match &item.read {
                    Read::Record(Record::Entity(_)) => 1,
                    Read::Record(Record::Relation(_)) => 2,
                    _ => 0,
                };
                f(self, (i as u32, item.line, which), item.read);
                n += 1;
                if n % 4096 == 0 {
                    if self.stop.load(Ordering::Relaxed) != 0 {
                        return Err(ImportError::Stopped);
                    }
                    self.progress.advance(before + count.load(Ordering::Relaxed), n);
                }
            }
            before += count.load(Ordering::Relaxed);
            self.progress.advance(before, n);
        }
        Ok(())
    }

    fn refuse(&mut self, loc: Loc, field: Option<String>, message: String) {
        let problem = Problem { file: self.report.files[loc.0 as usize].clone(), line: loc.1, field, message };
        self.progress.problem(&problem);
        if self.bad.insert(loc) {
            self.report.invalid += 1;
        }
        if self.report.problems.len() < MAX_LISTED {
            self.report.problems.push(problem);
        }
    }

    fn describe(&self, loc: Loc) -> String {
        format!("line {} of {}", loc.1, self.report.files[loc.0 as usize])
    }

    /// Pass 1: what the import defines.
    fn scan(&mut self) -> Result<(), ImportError> {
        // Relations are counted (and their lines' own faults found) when they are checked.
        self.each("reading", Some(Want::Entities), |run, loc, read| match read {
            Read::Bad { field, message } => {
                run.report.records += 1;
                run.refuse(loc, field, message)
            }
            Read::Skipped { what } => *run.report.left_out.entry(what).or_default() += 1,
            Read::Record(Record::Relation(_)) => {}
            Read::Record(Record::Entity(e)) => {
                run.report.records += 1;
                run.define(loc, &e)
            }
        })
    }

    fn define(&mut self, loc: Loc, e: &DraftEntity) {
        let slug = e.slug.as_deref().map(str::trim).unwrap_or_default().to_string();
        let id = e.id.as_deref().map(str::trim).map(String::from).unwrap_or_else(|| slug.clone());
        if id.is_empty() {
            return; // validation names what is missing
        }
        let field = if e.id.is_some() { "id" } else { "slug" };
        if let Some(first) = self.entities.get(&id) {
            let message = format!("duplicate `{}`: also on {}", crate::domain::excerpt(&id), self.describe(first.loc));
            return self.refuse(loc, Some(field.into()), message);
        }
        if slug != id && !slug.is_empty() {
            if let Some(first) = self.slugs.insert(slug.clone(), loc) {
                let message =
                    format!("duplicate slug `{}`: also on {}", crate::domain::excerpt(&slug), self.describe(first));
                return self.refuse(loc, Some("slug".into()), message);
            }
        }
        let document = e.kind.as_deref().map(str::trim) == Some(EntityKind::Document.as_str());
        let file = e.file.as_deref().map(str::trim).filter(|f| document && !f.is_empty()).map(String::from);
        if let Some(f) = &file {
            if let Some(other) = self.documents_by_file.insert(f.clone(), id.clone()) {
                let message = format!("`{}` is already the file of document `{other}`", crate::domain::excerpt(f));
                return self.refuse(loc, Some("file".into()), message);
            }
            let text = match &e.text {
                Some(t) => Some(t.clone()),
                None if self.options.texts.contains_file(f) => None,
                None if !self.options.read_files => {
                    let message = "the document's text must be inline (`text`): a server reads no file an import names";
                    return self.refuse(loc, Some("text".into()), message.into());
                }
                None => match crate::domain::file_name("file", f) {
                    Err(_) => None, // validation names the bad file name
                    Ok(f) => match read_text(&self.sources[loc.0 as usize].dir().join(&f)) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            let message =
                                format!("the text is neither inline (`text`) nor readable beside the import file: {e}");
                            return self.refuse(loc, Some("file".into()), message);
                        }
                    },
                },
            };
            if let Some(t) = text {
                // The store's limit on a text, met here so that the record is named.
                let record = DocumentTextRecord { file: f.clone(), text: t };
                if let Err(e) = record.check() {
                    return self.refuse(loc, Some("text".into()), e.to_string());
                }
                self.new_texts.insert(record.file, record.text);
            }
        }
        self.entities.insert(id, Defined { loc, file, document });
    }

    /// Passes 2 and 3: every record of one sort checked. Quotes are found in their documents
    /// on a thread of their own, a batch at a time, while the records are read and checked:
    /// a profile of the 1M dry run had finding them at nearly half the checks' time.
    fn check(&mut self, pass: Pass) -> Result<(), ImportError> {
        let view = StoreView::new(self.sink, self.rt.clone());
        let mut quotes: Vec<(Loc, QuoteCheck)> = Vec::new();
        let mut relation_ids: FastMap<u64, Loc> = FastMap::default();
        let hasher = foldhash::fast::FixedState::with_seed(0x1D5);
        let mut store_error = None;
        let phase = if pass == Pass::Entities { "checking entities" } else { "checking relations" };
        let texts = self.texts.clone();
        let refused_quotes = std::thread::scope(|scope| {
            // Handed over when the finder is done with the batch before: two batches at most.
            let (batches, rx) = std::sync::mpsc::sync_channel::<Vec<(Loc, QuoteCheck)>>(0);
            let finder = scope.spawn(move || {
                rx.iter().flat_map(|batch| validate::find_quotes(&texts, &batch, false)).collect::<Vec<_>>()
            });
            // A send fails only when the finder panicked, which its join raises.
            let read = self.each(phase, Some(pass.want()), |run, loc, read| {
                if run.bad.contains(&loc) || store_error.is_some() {
                    return;
                }
                if pass == Pass::Relations {
                    match &read {
                        Read::Record(Record::Relation(_)) => run.report.records += 1,
                        // A line the scan left unread, as it plainly held a relation.
                        Read::Bad { field, message } => {
                            run.report.records += 1;
                            return run.refuse(loc, field.clone(), message.clone());
                        }
                        _ => {}
                    }
                }
                let refs = ImportRefs { run, view: &view };
                let checked = match (&read, pass) {
                    (Read::Record(Record::Entity(e)), Pass::Entities) => {
                        validate::entity(e, &refs, Rules::OPEN).map(|c| (None, c.quotes))
                    }
                    (Read::Record(Record::Relation(r)), Pass::Relations) => {
                        validate::relation(r, &refs, Rules::OPEN).map(|c| (Some(c.value.id), c.quotes))
                    }
                    _ => return,
                };
                if let Some(e) = view.error.borrow_mut().take() {
                    store_error = Some(e);
                    return;
                }
                match checked {
                    Err(problems) => run.refuse_all(loc, problems),
                    Ok((relation_id, qs)) => {
                        if let Some(id) = relation_id {
                            if let Some(first) = relation_ids.insert(hasher.hash_one(&id), loc) {
                                let message = format!(
                                "duplicate relation ID `{id}` (also {}); give each of them an explicit, distinct `id`",
                                run.describe(first)
                            );
                                run.refuse(loc, Some("id".into()), message);
                                return;
                            }
                        }
                        quotes.extend(qs.into_iter().map(|q| (loc, q)));
                        if quotes.len() >= QUOTES_PER_PASS {
                            let _ = batches.send(std::mem::take(&mut quotes));
                        }
                    }
                }
                view.tick();
            });
            if read.is_ok() {
                let _ = batches.send(std::mem::take(&mut quotes));
            }
            // Ends the finder's loop (before the join, or the two would wait for each other).
            drop(batches);
            let refused = finder.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            read.map(|()| refused)
        })?;
        if let Some(e) = store_error {
            return Err(e.into());
        }
        for (loc, e) in refused_quotes {
            self.refuse(loc, Some(e.field), e.error.to_string());
        }
        if pass == Pass::Entities {
            // A refused entity is no endpoint: relations naming it are refused in the next pass.
            let bad = &self.bad;
            self.entities.retain(|_, d| !bad.contains(&d.loc));
            self.documents_by_file.retain(|_, id| self.entities.contains_key(id));
        }
        Ok(())
    }

    fn refuse_all(&mut self, loc: Loc, problems: Vec<FieldError>) {
        for p in problems {
            self.refuse(loc, Some(p.field), p.error.to_string());
        }
    }

    /// Passes 4 and 5: one sort of record written, in chunks. The records are read and checked
    /// here while a thread of its own plans and commits the chunk before (a commit is mostly the
    /// store's work, which the reading overlaps on a second core). Chunks are committed in
    /// order, one at a time, each planned against the store as it is once the one before is
    /// committed; a stop or an error ends the reading, and the chunk being committed is
    /// finished (whole chunks stay written).
    fn write(&mut self, pass: Pass) -> Result<(), ImportError> {
        let actors: Vec<String> = self.report.files.iter().map(|f| format!("import:{f}")).collect();
        let (sink, rt, actors, stop) = (self.sink, self.rt.clone(), &actors, self.stop);
        std::thread::scope(|scope| {
            // A span is handed over only when the committer is done with the one before: one
            // is read while one is committed, and memory stays at two spans.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Handed>(0);
            let committer = scope.spawn(move || {
                let mut counts = Counts::default();
                // A stop ends the reading, and here the span already read.
                let go_on = || match stop.load(Ordering::Relaxed) {
                    0 => Ok(()),
                    _ => Err(ImportError::Stopped),
                };
                for handed in rx {
                    match handed {
                        Handed::Chunks(chunks) => {
                            for chunk in chunks {
                                go_on()?;
                                commit_chunk(sink, &rt, actors, &chunk, &mut counts)?;
                            }
                        }
                        Handed::Planned(batches) => {
                            for (batch, planned) in batches {
                                go_on()?;
                                commit_planned(sink, &rt, batch, &planned, &mut counts)?;
                            }
                        }
                    }
                }
                Ok::<Counts, ImportError>(counts)
            });
            let read = self.read_chunks(pass, actors, tx);
            let committed = committer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            // A failed commit ends the reading too (its chunks have nowhere to go): its error
            // is the one to report.
            let counts = committed?;
            read?;
            let r = &mut self.report;
            r.entities_added += counts.entities_added;
            r.entities_updated += counts.entities_updated;
            r.relations_added += counts.relations_added;
            r.relations_updated += counts.relations_updated;
            r.unchanged += counts.unchanged;
            r.chunks += counts.chunks;
            Ok(())
        })
    }

    /// The reading half of [`Run::write`]: every valid record of the pass, sent in chunks,
    /// sorted by ID within spans of whole chunks (see [`CHUNKS_PER_SPAN`]).
    fn read_chunks(
        &mut self,
        pass: Pass,
        actors: &[String],
        tx: std::sync::mpsc::SyncSender<Handed>,
    ) -> Result<(), ImportError> {
        let view = StoreView::new(self.sink, self.rt.clone());
        let size = self.options.chunk.max(1);
        let span_len = size * (SORT_SPAN / size).clamp(1, CHUNKS_PER_SPAN);
        let mut span = Span::default();
        let mut failed = None;
        let phase = if pass == Pass::Entities { "writing entities" } else { "writing relations" };
        let sink = self.sink;
        // A read view of sled holds off commits: none is held while waiting for the committer,
        // or the two would wait for each other. Whether the committer is still there.
        let send = |view: &StoreView, span: Span| -> Result<bool, StoreError> {
            view.release();
            let chunks = span.sorted_chunks(size);
            let handed = match sink.sole_writer_read() {
                // The chunks hold distinct records, none of them in a commit in flight, and
                // nothing else writes: no base to check.
                Some(read) => {
                    let read = read?;
                    let plan = |c: Chunk| {
                        plan_chunk(&c, read.as_ref(), actors).map(|(b, n)| (WriteBatch { base: None, ..b }, n))
                    };
                    Handed::Planned(chunks.map(plan).collect::<Result<_, _>>()?)
                }
                None => Handed::Chunks(chunks.collect()),
            };
            Ok(tx.send(handed).is_ok())
        };
        self.each(phase, Some(pass.want()), |run, loc, read| {
            if run.bad.contains(&loc) || failed.is_some() {
                return;
            }
            let refs = ImportRefs { run, view: &view };
            match (read, pass) {
                (Read::Record(Record::Entity(e)), Pass::Entities) => {
                    if let Ok(c) = validate::entity(&e, &refs, Rules::OPEN) {
                        let text = c.value.extra.file.as_ref().filter(|f| run.new_files.contains(*f)).and_then(|f| {
                            let text = run.texts.get(f)?.text().to_string();
                            Some(DocumentTextRecord { file: f.clone(), text })
                        });
                        span.text_bytes += text.as_ref().map_or(0, |t| t.text.len());
                        span.chunk.entities.push(Ready::new(c.value, loc.0, text));
                    }
                }
                (Read::Record(Record::Relation(r)), Pass::Relations) => {
                    if let Ok(c) = validate::relation(&r, &refs, Rules::OPEN) {
                        span.chunk.relations.push(Ready::new(c.value, loc.0, None));
                    }
                }
                _ => return,
            }
            if let Some(e) = view.error.borrow_mut().take() {
                failed = Some(ImportError::Store(e));
                return;
            }
            // A send fails only when the committer has stopped on an error, which it reports.
            if span.chunk.len() >= span_len || span.text_bytes >= SORT_SPAN_TEXT {
                match send(&view, std::mem::take(&mut span)) {
                    Ok(true) => {}
                    Ok(false) => failed = Some(ImportError::Stopped),
                    Err(e) => failed = Some(ImportError::Store(e)),
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        send(&view, span)?;
        Ok(())
    }
}

/// Compares a chunk with the store and commits what differs, again if the store moved.
fn commit_chunk(
    sink: &dyn Sink,
    rt: &tokio::runtime::Handle,
    actors: &[String],
    chunk: &Chunk,
    total: &mut Counts,
) -> Result<(), ImportError> {
    for _ in 0..MAX_TRIES {
        let snapshot = rt.block_on(sink.read())?;
        let (batch, counts) = plan_chunk(chunk, snapshot.as_ref(), actors)?;
        drop(snapshot); // a sled view holds off commits while it lives
        match commit_planned(sink, rt, batch, &counts, total) {
            Err(ImportError::Store(StoreError::Conflict { .. })) => continue,
            done => return done,
        }
    }
    Err(ImportError::Contended(MAX_TRIES))
}

/// Commits a planned chunk, unless it changes nothing, and counts it.
fn commit_planned(
    sink: &dyn Sink,
    rt: &tokio::runtime::Handle,
    batch: WriteBatch,
    counts: &Counts,
    total: &mut Counts,
) -> Result<(), ImportError> {
    let written = !(batch.put_entities.is_empty() && batch.put_relations.is_empty());
    if written {
        rt.block_on(sink.commit(batch))?;
    }
    total.entities_added += counts.entities_added;
    total.entities_updated += counts.entities_updated;
    total.relations_added += counts.relations_added;
    total.relations_updated += counts.relations_updated;
    total.unchanged += counts.unchanged;
    total.chunks += u64::from(written);
    Ok(())
}

/// What the reading thread hands the committing one: a span's chunks, or, when the import is
/// the store's only writer, the batches it already planned from them.
enum Handed {
    Chunks(Vec<Chunk>),
    Planned(Vec<(WriteBatch, Counts)>),
}

/// Records waiting to be committed together.
#[derive(Default)]
struct Chunk {
    entities: Vec<Ready<Entity>>,
    relations: Vec<Ready<Relation>>,
}

/// A record read and checked, waiting for its commit.
struct Ready<T> {
    record: T,
    /// The index of its file, for the actor.
    file: u32,
    /// The record's JSON, the `after` of its audit entry when it is new: made on the reading
    /// thread, as the committing one is the import's bottleneck.
    created: RecordJson,
    /// A document's text, when the import brings it.
    text: Option<DocumentTextRecord>,
}

impl<T: serde::Serialize> Ready<T> {
    fn new(record: T, file: u32, text: Option<DocumentTextRecord>) -> Ready<T> {
        Ready { created: RecordJson::of(&record), record, file, text }
    }
}

impl Chunk {
    fn len(&self) -> usize {
        self.entities.len() + self.relations.len()
    }
}

/// Records gathered to be sorted before they are cut into chunks.
#[derive(Default)]
struct Span {
    chunk: Chunk,
    text_bytes: usize,
}

impl Span {
    /// The records in ID order (byte order, the store's key order), in chunks of `size`.
    fn sorted_chunks(mut self, size: usize) -> impl Iterator<Item = Chunk> {
        self.chunk.entities.sort_unstable_by(|a, b| a.record.id.cmp(&b.record.id));
        self.chunk.relations.sort_unstable_by(|a, b| a.record.id.cmp(&b.record.id));
        let mut entities = self.chunk.entities.into_iter();
        let mut relations = self.chunk.relations.into_iter();
        std::iter::from_fn(move || {
            let chunk = Chunk {
                entities: entities.by_ref().take(size).collect(),
                relations: relations.by_ref().take(size).collect(),
            };
            (chunk.len() > 0).then_some(chunk)
        })
    }
}

#[derive(Default)]
struct Counts {
    entities_added: u64,
    entities_updated: u64,
    relations_added: u64,
    relations_updated: u64,
    unchanged: u64,
    chunks: u64,
}

/// The batch that makes the store hold `chunk`: new records created, changed ones updated (the
/// version after the stored one), equal ones left alone. `actors[i]` is the actor of file `i`.
fn plan_chunk(chunk: &Chunk, snapshot: &dyn Snapshot, actors: &[String]) -> Result<(WriteBatch, Counts), StoreError> {
    let mut batch = WriteBatch { base: Some(snapshot.generation()), ..WriteBatch::default() };
    let mut counts = Counts::default();
    for e in &chunk.entities {
        let stored = snapshot.entity(&e.record.id)?;
        match plan_one(e, stored, actors, &mut batch, |e, b| b.put_entities.push(e)) {
            Outcome::Unchanged => counts.unchanged += 1,
            Outcome::Added => counts.entities_added += 1,
            Outcome::Updated => counts.entities_updated += 1,
        }
    }
    for r in &chunk.relations {
        let stored = snapshot.relation(&r.record.id)?;
        match plan_one(r, stored, actors, &mut batch, |r, b| b.put_relations.push(r)) {
            Outcome::Unchanged => counts.unchanged += 1,
            Outcome::Added => counts.relations_added += 1,
            Outcome::Updated => counts.relations_updated += 1,
        }
    }
    Ok((batch, counts))
}

enum Outcome {
    Unchanged,
    Added,
    Updated,
}

/// Adds to `batch` what makes the store hold `ready` where it holds `stored`: nothing when the
/// two are equal but for the version, else the record (put by `put`), its text and its audit
/// entry.
fn plan_one<T: Versioned>(
    ready: &Ready<T>,
    stored: Option<T>,
    actors: &[String],
    batch: &mut WriteBatch,
    put: impl FnOnce(T, &mut WriteBatch),
) -> Outcome {
    let (outcome, action, before, new) = match stored {
        Some(old) if ready.record.with_version(old.version()) == old => return Outcome::Unchanged,
        Some(old) => {
            (Outcome::Updated, "update", Some(RecordJson::of(&old)), ready.record.with_version(old.version() + 1))
        }
        None => (Outcome::Added, "create", None, ready.record.clone()),
    };
    let after = match outcome {
        Outcome::Added => ready.created.clone(),
        _ => RecordJson::of(&new),
    };
    let actor = actors[ready.file as usize].clone();
    batch.audit.push(AuditEntry::pending(actor, action, T::TARGET, new.id(), before, Some(after)));
    batch.put_texts.extend(ready.text.clone());
    put(new, batch);
    outcome
}

/// A document's text from a file: UTF-8, at most 64 MiB.
fn read_text(path: &std::path::Path) -> io::Result<String> {
    const MAX: u64 = 64 << 20;
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "longer than 64 MiB"));
    }
    Ok(text)
}

/// The store as the checks see it: a view renewed every [`RECORDS_PER_VIEW`] records, and the
/// store's documents by file name, read once when a citation first needs them.
struct StoreView<'a> {
    sink: &'a dyn Sink,
    rt: tokio::runtime::Handle,
    snapshot: RefCell<Option<Arc<dyn Snapshot>>>,
    uses: std::cell::Cell<u32>,
    documents_by_file: RefCell<Option<HashMap<String, String>>>,
    /// The first store error met (a check cannot fail, so it is kept here and raised after).
    error: RefCell<Option<StoreError>>,
}

impl<'a> StoreView<'a> {
    fn new(sink: &'a dyn Sink, rt: tokio::runtime::Handle) -> StoreView<'a> {
        StoreView {
            sink,
            rt,
            snapshot: RefCell::new(None),
            uses: std::cell::Cell::new(0),
            documents_by_file: RefCell::new(None),
            error: RefCell::new(None),
        }
    }

    /// Lets go of the read view (the next look-up takes a new one).
    fn release(&self) {
        self.uses.set(0);
        self.snapshot.borrow_mut().take();
    }

    fn tick(&self) {
        self.uses.set(self.uses.get() + 1);
        if self.uses.get() >= RECORDS_PER_VIEW {
            self.uses.set(0);
            self.snapshot.borrow_mut().take();
        }
    }

    fn with<T>(&self, f: impl FnOnce(&dyn Snapshot) -> Result<T, StoreError>) -> Option<T> {
        let mut slot = self.snapshot.borrow_mut();
        if slot.is_none() {
            match self.rt.block_on(self.sink.read()) {
                Ok(s) => *slot = Some(s),
                Err(e) => {
                    self.error.borrow_mut().get_or_insert(e);
                    return None;
                }
            }
        }
        let snapshot = slot.as_ref().expect("just read");
        f(snapshot.as_ref()).map_err(|e| self.error.borrow_mut().get_or_insert(e).to_string()).ok()
    }

    fn entity(&self, id: &str) -> Option<Entity> {
        self.with(|s| s.entity(id)).flatten()
    }

    /// The stored document whose file is `file`. Reads every stored entity the first time (a
    /// citation by file name of a document this import does not define is rare).
    fn document_by_file(&self, file: &str) -> Option<String> {
        if self.documents_by_file.borrow().is_none() {
            let map = self
                .with(|s| {
                    let mut map = HashMap::new();
                    for range in s.entity_ranges()? {
                        s.entities_in(&range, &mut |e| {
                            if let (EntityKind::Document, Some(f)) = (e.kind, &e.extra.file) {
                                map.insert(f.clone(), e.id.clone());
                            }
                        })?;
                    }
                    Ok(map)
                })
                .unwrap_or_default();
            *self.documents_by_file.borrow_mut() = Some(map);
        }
        self.documents_by_file.borrow().as_ref().and_then(|m| m.get(file).cloned())
    }
}

/// What `validate` asks, answered from the import first and then from the store.
struct ImportRefs<'r, 'a> {
    run: &'r Run<'a>,
    view: &'r StoreView<'r>,
}

impl Refs for ImportRefs<'_, '_> {
    fn document(&self, reference: &str) -> Option<DocumentRef> {
        if let Some(id) = self.run.documents_by_file.get(reference) {
            return Some(DocumentRef { id: id.clone(), file: Some(reference.to_string()) });
        }
        if let Some(d) = self.run.entities.get(reference) {
            return d.document.then(|| DocumentRef { id: reference.to_string(), file: d.file.clone() });
        }
        if let Some(e) = self.view.entity(reference) {
            return (e.kind == EntityKind::Document).then(|| DocumentRef { id: e.id, file: e.extra.file.clone() });
        }
        let id = self.view.document_by_file(reference)?;
        Some(DocumentRef { id, file: Some(reference.to_string()) })
    }

    fn entity_exists(&self, id: &str) -> bool {
        self.run.entities.contains_key(id) || self.view.entity(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(id: &str) -> Ready<Entity> {
        let json = serde_json::json!({ "id": id, "slug": "s", "kind": "person", "name": id });
        Ready::new(serde_json::from_value(json).unwrap(), 0, None)
    }

    /// A span's records come out in the store's key order (bytes, so `é` after `z`), in whole
    /// chunks but the last, each record once, and each with the JSON of what it holds.
    #[test]
    fn a_span_is_cut_into_chunks_in_key_order() {
        let mut span = Span::default();
        for id in ["m", "b", "zz", "a", "\u{e9}", "ab", "z"] {
            span.chunk.entities.push(ready(id));
        }
        let chunks: Vec<Vec<String>> = span
            .sorted_chunks(3)
            .map(|c| {
                c.entities
                    .into_iter()
                    .map(|r| {
                        assert_eq!(r.created.str_field("id").as_deref(), Some(r.record.id.as_str()));
                        r.record.id
                    })
                    .collect()
            })
            .collect();
        assert_eq!(chunks, [vec!["a", "ab", "b"], vec!["m", "z", "zz"], vec!["\u{e9}"]]);
    }
}
