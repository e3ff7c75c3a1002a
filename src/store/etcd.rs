//! The etcd backend: any number of processes over one etcd cluster (3.4 or later).
//!
//! Owns the key layout, the value encoding and the write path over etcd's transactions. Every
//! key starts with the store's prefix (`pg/` unless `etcd://…/<prefix>` names another, so that
//! several stores can share a cluster):
//! - `e/<id>`: an encoded [`Entity`]; `r/<id>`: an encoded [`Relation`].
//! - `s/<slug>`: the ID of the entity holding the slug (a unique index).
//! - `a/<seq>`: an encoded [`AuditEntry`], `<seq>` as 16 lower-case hex digits so that keys sort
//!   by sequence number. Stored with generation 0: its generation is the key's `mod_revision`.
//! - `h/<target id>\0<seq>`: empty; the history index (`<seq>` as in `a/`).
//! - `t/<name>`: an encoded [`TokenRecord`] (only the SHA-256 of the secret).
//! - `d/<id>`: the digest of a record as the seed last wrote it.
//! - `x/<file>`: a document's text, encoded as a JSON string, under its file name (an import's
//!   documents). Written by data commits only, never deleted; a later text replaces the earlier.
//! - `m/head`: written by every data commit (its value is a random nonce naming that commit):
//!   its `mod_revision` is the store's generation, 0 while it is absent.
//! - `m/seq`: the last audit sequence number (u64 BE); `m/format`: the format version (u32 BE);
//!   `m/size_hint`: two u64 BE.
//!
//! Values are one version byte followed by the record, the same encoding as the sled backend's:
//! binary (version 2) when written by this build, JSON (version 1) when written before it and
//! not since; both are read. `m/format` is 2, raised from 1 when this build connects to an
//! older store (`value` says why, and what that asks of a rolling upgrade).
//!
//! **Generations** are etcd revisions: a data commit is one transaction, and every key it writes
//! gets the transaction's revision as its `mod_revision`. They are not consecutive (token writes,
//! size hints and other stores under other prefixes use revisions too).
//!
//! **A commit** reads what it must decide on (the head, the audit sequence, the entities it
//! replaces or deletes, the owners of the slugs it takes), plans the writes, and sends them in
//! one transaction guarded by one compare: `m/head` still has the `mod_revision` that was read.
//! Every data commit writes `m/head`, so that compare fails whenever anything the plan read may
//! have changed, which makes read and write together serializable: slug uniqueness, the audit
//! sequence and the base need no compares of their own. A failed compare is a
//! [`StoreError::Conflict`] for a batch with a base, and a fresh read and plan for one without.
//!
//! **Limits.** etcd refuses a transaction of more than 128 operations (`--max-txn-ops`) or a
//! request over 1.5 MiB (`--max-request-bytes`), and a key written twice in one transaction. A
//! batch writes each key once (its last write wins, as it would applied in order). A batch that
//! does not fit one transaction (only seeding and imports make such batches; an edit writes a few
//! records) is split into transactions that are each whole, each guarded by the head the previous
//! one left: the base is checked by the first, and if another commit slips in between two of
//! them, the rest is not written and the commit fails saying how far it got. Such a batch is
//! not atomic as a whole, and it is several generations on the stream. A batch's texts are
//! written before its records, so that a piece that makes a document visible never comes before
//! the piece holding its text.
//!
//! **Texts** are the largest values: one may take up to [`super::MAX_DOCUMENT_TEXT_BYTES`] as stored
//! (1 MiB), checked for every text of a batch before anything is written. One that big passes
//! [`MAX_TXN_BYTES`] and goes alone in its transaction, with the head and the audit sequence:
//! about 1 MiB and a few hundred bytes of keys, under etcd's 1.5 MiB. Texts count against
//! etcd's database quota (`--quota-backend-bytes`, 2 GiB by default) like everything else, and
//! a watch catching up over more than [`MAX_MESSAGE`] of them in one response fails, so that
//! its reader rebuilds from a fresh read (which reads the texts in small pages).
//!
//! **Durability.** A transaction has returned once a quorum has it in its log on disk: a commit
//! is durable when it returns, and [`Store::make_durable`] has nothing to do.
//!
//! **The stream** is a watch on the prefix from the asked generation + 1. etcd sends whole
//! revisions (this store asks for no fragments), possibly several in one response: events are
//! grouped by `mod_revision`, and a revision that wrote `m/head` is a committed batch (others are
//! token or size-hint writes). A watch that fails (its member died) is made again from the last
//! revision seen + 1 on another member; one cancelled because its start was compacted ends the
//! stream with [`StoreError::Compacted`].
//!
//! **Reads** ([`Store::read`]) are at one revision: every range and get of a view names it, so a
//! view sees one generation however long it is read, unless etcd compacts that revision away
//! meanwhile (the view's reads then fail with etcd's "required revision has been compacted").
//!
//! **Failures.** A member that died or a leader election gives a few seconds of `Unavailable`
//! errors: reads are retried for a while. A commit whose answer was lost is sent again as it was:
//! its compare lets at most one of the two apply, and when the second finds the head moved, the
//! first write to `m/head` after the planned head tells (by its nonce) whether it was this one.
//!
//! The client's futures run on a small runtime the store owns, so that the store works whatever
//! runtime (or none) calls it, and the blocking [`Snapshot`] methods wait on it from any thread.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, GetResponse, KeyValue, KvClient, Txn, TxnOp,
    TxnOpResponse, TxnResponse, WatchClient, WatchOptions,
};
use futures_util::StreamExt;

use super::value::{decode, decode_text, decode_u64, encode, encode_text, opens_format, FORMAT_VERSION};
use super::{
    AuditEntry, ChangeStream, Committed, CommittedBatch, DocumentTextRecord, Generation, KeyRange, Snapshot, Store,
    StoreError, TokenRecord, WriteBatch,
};
use crate::domain::{Entity, Relation, RelationView};

/// The key prefix when the location names none.
pub const DEFAULT_PREFIX: &str = "pg/";

/// etcd's default `--max-txn-ops`, less the two meta keys every piece of a commit writes.
const MAX_OPS: usize = 126;
/// Below etcd's default `--max-request-bytes` (1.5 MiB), with room for the request's framing.
const MAX_TXN_BYTES: usize = 1024 * 1024;
/// Responses the client accepts. A watch catching up sends up to 1,000 revisions in one, and a
/// revision of an import or a large seed holds up to [`MAX_OPS`] records: this covers records
/// of up to about 2 KiB on average. Past it the stream fails and its reader rebuilds.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// Entities or relations per page of a view's scan.
const PAGE: i64 = 2_000;
/// Document texts per page of a read of them: each may take up to 1 MiB, so a page is at most
/// 32 MiB, far under [`MAX_MESSAGE`].
const TEXTS_PAGE: i64 = 32;
/// Keys per range of a view's scan, at most (see `EtcdSnapshot::ranges`): a page's walk in
/// etcd's index is at most this long.
const RANGE_KEYS: i64 = 8 * PAGE;
/// Pieces a range with too many keys is cut into at a time.
const FAN_OUT: u64 = 16;
/// Counts in flight at once while cutting ranges.
const COUNTS_AT_ONCE: usize = 32;
/// How long a read keeps trying through a member's death or a leader election (etcd elects a
/// new leader in about 1 s with its default timings).
const RETRY_FOR: Duration = Duration::from_secs(15);
/// How long one commit may take before it is sent again (or given up, past [`RETRY_FOR`]). A
/// proposal a follower forwarded to a leader that then died waits for etcd's own request
/// timeout (5 s + two election timeouts, 7 s by default), and this process's one writer with
/// it: measured, the first write after a leader's SIGKILL took 7.1 s without this bound and
/// 1.3-1.5 s (the election) with it. Far above a commit's latency on a healthy cluster (p99
/// about 12 ms on loopback). Commits are safe to resend (see `send`).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(2);

/// One transaction, given up after [`COMMIT_TIMEOUT`] as a transient failure.
async fn txn_within(mut kv: KvClient, txn: Txn) -> Result<TxnResponse, etcd_client::Error> {
    match tokio::time::timeout(COMMIT_TIMEOUT, kv.txn(txn)).await {
        Ok(answer) => answer,
        Err(_) => Err(etcd_client::Error::GRpcStatus(tonic::Status::deadline_exceeded(format!(
            "no answer to a commit within {COMMIT_TIMEOUT:?}"
        )))),
    }
}
/// How many times a commit without a base is planned again when others commit meanwhile.
const MAX_PLANS: usize = 64;

fn backend(what: &str, e: etcd_client::Error) -> StoreError {
    StoreError::Backend(format!("etcd {what}: {e}"))
}

/// Whether an error may pass with time (a member down, an election, a lost connection), as
/// opposed to a request etcd will always refuse.
fn transient(e: &etcd_client::Error) -> bool {
    use tonic::Code;
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            matches!(s.code(), Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded | Code::Unknown)
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        _ => false,
    }
}

/// Runs `f` until it succeeds, fails for good, or has failed transiently for [`RETRY_FOR`]:
/// only for requests that may run twice.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let deadline = Instant::now() + RETRY_FOR;
    let mut delay = Duration::from_millis(20);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) && Instant::now() < deadline => {
                tracing::debug!(error = %e, what, "etcd request failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(backend(what, e)),
        }
    }
}

/// What the store's tasks share: the clients and the key prefix.
struct Inner {
    kv: KvClient,
    watch: WatchClient,
    prefix: Vec<u8>,
}

impl Inner {
    fn key(&self, space: &str, rest: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + space.len() + 1 + rest.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(space.as_bytes());
        k.push(b'/');
        k.extend_from_slice(rest);
        k
    }

    fn kv(&self) -> KvClient {
        self.kv.clone()
    }

    /// A get that owns what it needs, so that it can be made again by [`retry`].
    fn get_req(
        &self,
        key: &[u8],
        options: Option<GetOptions>,
    ) -> impl Future<Output = Result<GetResponse, etcd_client::Error>> + Send + 'static {
        let (mut kv, key) = (self.kv(), key.to_vec());
        async move { kv.get(key, options).await }
    }

    fn txn_req(&self, txn: &Txn) -> impl Future<Output = Result<TxnResponse, etcd_client::Error>> + Send + 'static {
        let (kv, txn) = (self.kv(), txn.clone());
        txn_within(kv, txn)
    }

    /// One key, at `revision` (0: the newest).
    async fn get(&self, key: Vec<u8>, revision: i64) -> Result<Option<KeyValue>, StoreError> {
        let options = (revision > 0).then(|| GetOptions::new().with_revision(revision));
        let mut resp = retry("get", || self.get_req(&key, options.clone())).await?;
        Ok(resp.take_kvs().into_iter().next())
    }

    /// Up to `limit` keys of `[start, end)` in key order, at `revision` (0: the newest).
    async fn range(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: i64,
        revision: i64,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let mut options = GetOptions::new().with_range(end).with_limit(limit);
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let mut resp = retry("range read", || self.get_req(&start, Some(options.clone()))).await?;
        Ok(resp.take_kvs())
    }

    /// How many keys `[start, end)` holds at `revision`.
    async fn count(&self, start: Vec<u8>, end: Vec<u8>, revision: i64) -> Result<i64, StoreError> {
        let options = GetOptions::new().with_range(end).with_count_only().with_revision(revision);
        let resp = retry("count", || self.get_req(&start, Some(options.clone()))).await?;
        Ok(resp.count())
    }

    /// Every key with `prefix`, at `revision`, read in pages of [`PAGE`] keys.
    async fn scan(&self, prefix: Vec<u8>, revision: i64) -> Result<Vec<KeyValue>, StoreError> {
        self.scan_paged(prefix, revision, PAGE).await
    }

    /// Every key with `prefix`, at `revision`, read in pages of `page_keys` keys.
    async fn scan_paged(&self, prefix: Vec<u8>, revision: i64, page_keys: i64) -> Result<Vec<KeyValue>, StoreError> {
        let end = prefix_end(&prefix);
        let mut start = prefix;
        let mut out = Vec::new();
        loop {
            let page = self.range(start.clone(), end.clone(), page_keys, revision).await?;
            let full = page.len() as i64 == page_keys;
            if let Some(last) = page.last() {
                start = successor(last.key());
            }
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// The head: `m/head`'s `mod_revision` (0 when absent), and the revision of the read.
    async fn head(&self) -> Result<(Generation, i64), StoreError> {
        let key = self.key("m", b"head");
        let mut resp = retry("get", || self.get_req(&key, None)).await?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        let head = resp.take_kvs().first().map(|kv| kv.mod_revision()).unwrap_or(0);
        Ok((head as Generation, revision))
    }

    async fn last_seq(&self, revision: i64) -> Result<u64, StoreError> {
        match self.get(self.key("m", b"seq"), revision).await? {
            Some(kv) => decode_u64(kv.value()),
            None => Ok(0),
        }
    }

    /// The values of `keys` (in order), read in transactions of at most 128 gets.
    async fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<KeyValue>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(128) {
            let ops: Vec<TxnOp> = chunk.iter().map(|k| TxnOp::get(k.clone(), None)).collect();
            let resp = retry("read", || self.txn_req(&Txn::new().and_then(ops.clone()))).await?;
            for r in resp.op_responses() {
                match r {
                    TxnOpResponse::Get(mut g) => out.push(g.take_kvs().into_iter().next()),
                    _ => return Err(StoreError::Backend("etcd answered a read with something else".into())),
                }
            }
        }
        Ok(out)
    }

    /// The first value `m/head` took after revision `after`, with its revision; waits for one.
    async fn first_head_after(&self, after: i64) -> Result<(Vec<u8>, i64), StoreError> {
        let key = self.key("m", b"head");
        let watch = async {
            let options = WatchOptions::new().with_start_revision(after + 1);
            let mut stream = retry("watch", || {
                let (mut watch, key, options) = (self.watch.clone(), key.clone(), options.clone());
                async move { watch.watch(key, Some(options)).await }
            })
            .await?;
            loop {
                let resp = stream.message().await.map_err(|e| backend("watch", e))?;
                let Some(resp) = resp else { return Err(StoreError::Backend("etcd ended a watch".into())) };
                if resp.canceled() {
                    return Err(StoreError::Backend(format!("etcd cancelled a watch: {}", resp.cancel_reason())));
                }
                if let Some(kv) = resp.events().first().and_then(|e| e.kv()) {
                    return Ok((kv.value().to_vec(), kv.mod_revision()));
                }
            }
        };
        tokio::time::timeout(RETRY_FOR, watch)
            .await
            .map_err(|_| StoreError::Backend("etcd: no answer while checking a commit's outcome".into()))?
    }

    /// Sends one transaction: `Ok(Some(revision))` when it applied, `Ok(None)` when its compare
    /// on the head failed. A transaction whose answer is lost is sent again as it was (its
    /// compare lets at most one copy apply); when the copy finds the head moved, the first write
    /// of the head after `head` says by its nonce whether the lost one applied.
    async fn send(&self, head: i64, nonce: &[u8], ops: Vec<TxnOp>) -> Result<Option<i64>, StoreError> {
        let compare = Compare::mod_revision(self.key("m", b"head"), CompareOp::Equal, head);
        let txn = Txn::new().when([compare]).and_then(ops);
        let deadline = Instant::now() + RETRY_FOR;
        let mut delay = Duration::from_millis(20);
        let mut uncertain = false;
        loop {
            match txn_within(self.kv(), txn.clone()).await {
                Ok(resp) if resp.succeeded() => return Ok(Some(resp.header().map(|h| h.revision()).unwrap_or(0))),
                Ok(_) if !uncertain => return Ok(None),
                Ok(_) => {
                    let (value, revision) = self.first_head_after(head).await?;
                    return Ok((value == nonce).then_some(revision));
                }
                Err(e) if transient(&e) && Instant::now() < deadline => {
                    tracing::debug!(error = %e, "etcd commit failed; sending it again");
                    uncertain = true;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
                Err(e) if uncertain => {
                    return Err(backend("commit (an earlier attempt whose answer was lost may have applied)", e))
                }
                Err(e) => return Err(backend("commit", e)),
            }
        }
    }
}

/// The key just after every key that starts with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Only 0xff bytes: to the end of the keyspace.
    vec![0]
}

/// The smallest key after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    k.push(0);
    k
}

/// `pieces - 1` keys strictly between `lo` and `hi` (`None`: past every key), evenly spaced in
/// key order, read as base-256 fractions; `None` when the two are too close to cut (then their
/// range is read whole: only keys equal in their first eight bytes past the common prefix can
/// be that close).
fn cut(lo: &[u8], hi: Option<&[u8]>, pieces: u64) -> Option<Vec<Vec<u8>>> {
    let p = hi.map_or(0, |hi| lo.iter().zip(hi).take_while(|(a, b)| a == b).count());
    let window = |key: &[u8]| -> u128 {
        let mut bytes = [0u8; 8];
        let tail = &key[p.min(key.len())..];
        let n = tail.len().min(8);
        bytes[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(bytes) as u128
    };
    let (x, y) = (window(lo), hi.map_or(1u128 << 64, window));
    let mut cuts: Vec<Vec<u8>> = Vec::new();
    let mut last = x;
    for i in 1..pieces as u128 {
        let c = x + (y - x) * i / pieces as u128;
        if c > last && c < y {
            cuts.push([&lo[..p], &(c as u64).to_be_bytes()[..]].concat());
            last = c;
        }
    }
    (!cuts.is_empty()).then_some(cuts)
}

fn seq_hex(seq: u64) -> String {
    format!("{seq:016x}")
}

fn random_nonce() -> Vec<u8> {
    let mut bytes = [0u8; 16];
    // Only the uniqueness of a commit's own nonce matters; a clock fallback is unique enough.
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes.copy_from_slice(&now.as_nanos().to_be_bytes());
    }
    hex::encode(bytes).into_bytes()
}

pub struct EtcdStore {
    endpoints: Vec<String>,
    prefix: String,
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    /// Last: the client's connections and the stream's tasks end with it.
    _runtime: ClientRuntime,
}

/// The runtime the client's futures run on, shut down without waiting when dropped: a runtime
/// dropped the ordinary way from async code panics, and the store is dropped from async code.
struct ClientRuntime(Option<tokio::runtime::Runtime>);

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl EtcdStore {
    /// Connects to the cluster at `endpoints` (`host:port`, or URLs) under `prefix`, checking
    /// that a member answers and that the data under the prefix is in this build's format.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<EtcdStore, StoreError> {
        let target = format!("etcd://{}/{prefix}", endpoints.join(","));
        let open_error = |reason: String| StoreError::Open { target: target.clone(), reason };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("etcd-client")
            .enable_all()
            .build()
            .map_err(|e| open_error(format!("no runtime for the client: {e}")))?;
        let handle = runtime.handle().clone();
        let runtime = ClientRuntime(Some(runtime));
        let urls: Vec<String> =
            endpoints.iter().map(|e| if e.contains("://") { e.clone() } else { format!("http://{e}") }).collect();
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            // Reads of a large store take long: etcd 3.4 walks a range's whole index for every
            // page (measured: at 1M entities a page could pass 2 s). Commits have their own,
            // shorter bound (`COMMIT_TIMEOUT`).
            .with_timeout(Duration::from_secs(30))
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(5))
            // A member cut off from the quorum fails requests and watches instead of serving
            // stale reads or a watch that never moves: the client goes on with another member.
            .with_require_leader(true);
        let connected = handle.spawn(async move { Client::connect(urls, Some(options)).await }).await;
        let client = match connected {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(open_error(e.to_string())),
            Err(e) => return Err(open_error(format!("the client's task stopped: {e}"))),
        };
        let inner = Arc::new(Inner {
            kv: client.kv_client().max_decoding_message_size(MAX_MESSAGE).max_encoding_message_size(MAX_MESSAGE),
            watch: client.watch_client().max_decoding_message_size(MAX_MESSAGE),
            prefix: prefix.as_bytes().to_vec(),
        });
        let store =
            EtcdStore { endpoints: endpoints.to_vec(), prefix: prefix.to_string(), inner, handle, _runtime: runtime };
        store.check_format().await.map_err(|e| match e {
            StoreError::Backend(reason) => open_error(format!("no member answered: {reason}")),
            other => other,
        })?;
        Ok(store)
    }

    /// Runs `f` on the store's runtime.
    async fn run<T, F>(&self, f: impl FnOnce(Arc<Inner>) -> F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = self.handle.spawn(f(self.inner.clone()));
        task.await.map_err(|e| StoreError::Backend(format!("etcd client task stopped: {e}")))?
    }

    /// Writes the format version under an empty prefix, raises an older format this build
    /// reads to its own (see `value`), and refuses data in another format.
    async fn check_format(&self) -> Result<(), StoreError> {
        let target = self.describe();
        self.run(move |inner| async move {
            let key = inner.key("m", b"format");
            // Another process may raise or write the format between our read and our write: each
            // write is guarded by what was read, and a failed guard reads again. Two rounds
            // settle it (after a raise there is nothing left to change); the third is margin.
            for _ in 0..3 {
                let first = tokio::time::timeout(Duration::from_secs(5), inner.get(key.clone(), 0))
                    .await
                    .map_err(|_| StoreError::Backend("timed out".into()))??;
                let txn = match first {
                    Some(kv) => {
                        let found = u32::from_be_bytes(
                            kv.value().try_into().map_err(|_| StoreError::Corrupt("m/format is not 4 bytes".into()))?,
                        );
                        if !opens_format(found) {
                            return Err(StoreError::FormatVersion { target, found, expected: FORMAT_VERSION });
                        }
                        if found == FORMAT_VERSION {
                            return Ok(());
                        }
                        // Raised before this process can write a value in the new format.
                        Txn::new()
                            .when([Compare::value(key.clone(), CompareOp::Equal, kv.value().to_vec())])
                            .and_then([TxnOp::put(key.clone(), FORMAT_VERSION.to_be_bytes(), None)])
                    }
                    None => {
                        // No version: a new prefix, or keys we did not write, which we must not
                        // reinterpret.
                        let prefix = inner.prefix.clone();
                        let any = inner.range(prefix.clone(), prefix_end(&prefix), 1, 0).await?;
                        if !any.is_empty() {
                            return Err(StoreError::FormatVersion { target, found: 0, expected: FORMAT_VERSION });
                        }
                        // Two processes starting on one new prefix both try; one write is enough.
                        Txn::new()
                            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                            .and_then([TxnOp::put(key.clone(), FORMAT_VERSION.to_be_bytes(), None)])
                    }
                };
                if retry("write the format version", || inner.txn_req(&txn)).await?.succeeded() {
                    return Ok(());
                }
            }
            Err(StoreError::Backend("the format version kept changing while it was checked".into()))
        })
        .await
    }
}

/// One planned write of a key.
#[derive(Clone)]
enum Op {
    Put(Vec<u8>),
    Delete,
}

/// A key, its write, and for an audit entry's key the entry's sequence number.
type Write = (Vec<u8>, Op, Option<u64>);

/// A batch's writes in order, each key once (a later write of a key replaces the earlier one
/// and moves to its place in the order: what applying them in order would leave).
#[derive(Default)]
struct Writes {
    ops: Vec<Option<Write>>,
    at: HashMap<Vec<u8>, usize>,
}

impl Writes {
    /// `seq`: the audit entry's sequence number, for an audit entry's key.
    fn push(&mut self, key: Vec<u8>, op: Op, seq: Option<u64>) {
        if let Some(old) = self.at.insert(key.clone(), self.ops.len()) {
            self.ops[old] = None;
        }
        self.ops.push(Some((key, op, seq)));
    }
}

/// What a commit read before planning.
struct ReadState {
    head: i64,
    seq: u64,
    entities: HashMap<String, Option<Entity>>,
    slugs: HashMap<String, Option<String>>,
}

impl Inner {
    async fn read_state(&self, batch: &WriteBatch) -> Result<ReadState, StoreError> {
        let mut ids: Vec<&str> = Vec::new();
        let mut seen = HashSet::new();
        for id in batch.delete_entities.iter().chain(batch.put_entities.iter().map(|e| &e.id)) {
            if seen.insert(id.as_str()) {
                ids.push(id);
            }
        }
        let mut slugs: Vec<&str> = Vec::new();
        let mut seen = HashSet::new();
        for e in &batch.put_entities {
            if seen.insert(e.slug.as_str()) {
                slugs.push(e.slug.as_str());
            }
        }
        let mut keys = vec![self.key("m", b"head"), self.key("m", b"seq")];
        keys.extend(ids.iter().map(|id| self.key("e", id.as_bytes())));
        keys.extend(slugs.iter().map(|s| self.key("s", s.as_bytes())));
        // The head comes first: whatever is read after it and changed since fails the compare.
        let mut values = self.get_many(&keys).await?.into_iter();
        let head = values.next().flatten().map(|kv| kv.mod_revision()).unwrap_or(0);
        let seq = match values.next().flatten() {
            Some(kv) => decode_u64(kv.value())?,
            None => 0,
        };
        let mut entities = HashMap::new();
        for id in ids {
            let old = values.next().flatten().map(|kv| decode::<Entity>(kv.value())).transpose()?;
            entities.insert(id.to_string(), old);
        }
        let mut owners = HashMap::new();
        for slug in slugs {
            let owner = values.next().flatten().map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
            owners.insert(slug.to_string(), owner);
        }
        Ok(ReadState { head, seq, entities, slugs: owners })
    }

    /// The batch's writes against what was read, as the sled backend applies a batch; the
    /// audit entries with their sequence numbers (generation still 0).
    fn plan(&self, batch: &WriteBatch, mut state: ReadState) -> Result<(Writes, Vec<AuditEntry>), StoreError> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut w = Writes::default();
        // First: should the batch be split, a text arrives no later than its document (see the
        // module documentation).
        for t in &batch.put_texts {
            w.push(self.key("x", t.file.as_bytes()), Op::Put(encode_text(&t.text)), None);
        }
        for id in &batch.delete_relations {
            w.push(self.key("r", id.as_bytes()), Op::Delete, None);
        }
        for id in &batch.delete_entities {
            if let Some(Some(old)) = state.entities.insert(id.clone(), None) {
                w.push(self.key("s", old.slug.as_str().as_bytes()), Op::Delete, None);
                state.slugs.insert(old.slug.to_string(), None);
            }
            w.push(self.key("e", id.as_bytes()), Op::Delete, None);
        }
        for e in &batch.put_entities {
            if let Some(Some(old)) = state.entities.insert(e.id.clone(), Some(e.clone())) {
                if old.slug != e.slug {
                    w.push(self.key("s", old.slug.as_str().as_bytes()), Op::Delete, None);
                    state.slugs.insert(old.slug.to_string(), None);
                }
            }
            if let Some(Some(owner)) = state.slugs.insert(e.slug.to_string(), Some(e.id.clone())) {
                if owner != e.id {
                    return Err(StoreError::SlugTaken { slug: e.slug.to_string(), owner });
                }
            }
            w.push(self.key("e", e.id.as_bytes()), Op::Put(encode(e)), None);
            w.push(self.key("s", e.slug.as_str().as_bytes()), Op::Put(e.id.as_bytes().to_vec()), None);
        }
        for r in &batch.put_relations {
            w.push(self.key("r", r.id.as_bytes()), Op::Put(encode(r)), None);
        }
        let mut entries = Vec::with_capacity(batch.audit.len());
        let mut seq = state.seq;
        for entry in &batch.audit {
            seq += 1;
            let mut entry = entry.clone();
            entry.seq = seq;
            entry.generation = 0;
            if entry.at.is_empty() {
                entry.at = now.clone();
            }
            let hex = seq_hex(seq);
            w.push(self.key("a", hex.as_bytes()), Op::Put(encode(&entry)), Some(seq));
            let mut history = entry.target_id.as_bytes().to_vec();
            history.push(0);
            history.extend_from_slice(hex.as_bytes());
            w.push(self.key("h", &history), Op::Put(Vec::new()), None);
            entries.push(entry);
        }
        for (id, digest) in &batch.seeded {
            w.push(self.key("d", id.as_bytes()), Op::Put(digest.clone()), None);
        }
        Ok((w, entries))
    }

    /// Splits the writes into transactions that each fit etcd's limits, each with the head
    /// (and, when it holds audit entries, the sequence number of its last one). A write larger
    /// than [`MAX_TXN_BYTES`] (only a text can be) goes alone with those two.
    fn pieces(&self, writes: Writes, nonce: &[u8]) -> Vec<(Vec<TxnOp>, Vec<u64>)> {
        let mut pieces = Vec::new();
        let mut ops = Vec::new();
        let mut seqs = Vec::new();
        let mut bytes = 0;
        let close = |ops: &mut Vec<TxnOp>, seqs: &mut Vec<u64>, pieces: &mut Vec<(Vec<TxnOp>, Vec<u64>)>| {
            ops.push(TxnOp::put(self.key("m", b"head"), nonce.to_vec(), None));
            if let Some(last) = seqs.last() {
                ops.push(TxnOp::put(self.key("m", b"seq"), last.to_be_bytes(), None));
            }
            pieces.push((std::mem::take(ops), std::mem::take(seqs)));
        };
        for (key, op, seq) in writes.ops.into_iter().flatten() {
            let value_len = match &op {
                Op::Put(v) => v.len(),
                Op::Delete => 0,
            };
            // Each operation's framing is a few bytes more than its key and value.
            let size = key.len() + value_len + 16;
            if !ops.is_empty() && (ops.len() == MAX_OPS || bytes + size > MAX_TXN_BYTES) {
                close(&mut ops, &mut seqs, &mut pieces);
                bytes = 0;
            }
            bytes += size;
            ops.push(match op {
                Op::Put(v) => TxnOp::put(key, v, None),
                Op::Delete => TxnOp::delete(key, None),
            });
            seqs.extend(seq);
        }
        if !ops.is_empty() || pieces.is_empty() {
            close(&mut ops, &mut seqs, &mut pieces);
        }
        pieces
    }

    async fn commit(&self, batch: &WriteBatch) -> Result<Committed, StoreError> {
        batch.check_texts()?;
        for _ in 0..MAX_PLANS {
            let state = self.read_state(batch).await?;
            let head = state.head;
            if let Some(base) = batch.base {
                if base != head as Generation {
                    return Err(StoreError::Conflict { base, head: head as Generation });
                }
            }
            let (writes, mut entries) = self.plan(batch, state)?;
            let nonce = random_nonce();
            let pieces = self.pieces(writes, &nonce);
            let count = pieces.len();
            let mut at = head;
            for (i, (ops, seqs)) in pieces.into_iter().enumerate() {
                match self.send(at, &nonce, ops).await? {
                    Some(revision) => {
                        for entry in entries.iter_mut().filter(|e| seqs.contains(&e.seq)) {
                            entry.generation = revision as Generation;
                        }
                        at = revision;
                    }
                    None if i == 0 => break,
                    None => {
                        return Err(StoreError::Backend(format!(
                            "another commit came between the pieces of a batch too large for one etcd \
                             transaction: {i} of {count} pieces were written, up to generation {at}"
                        )))
                    }
                }
            }
            if at != head {
                metrics::counter!("store_commits_total").increment(1);
                return Ok(Committed { generation: at as Generation, entries });
            }
            // Someone else committed between the read and the write.
            if let Some(base) = batch.base {
                let (now, _) = self.head().await?;
                return Err(StoreError::Conflict { base, head: now });
            }
        }
        let (now, _) = self.head().await?;
        Err(StoreError::Conflict { base: now, head: now })
    }
}

/// A read of the store at one etcd revision.
struct EtcdSnapshot {
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    generation: Generation,
    revision: i64,
}

impl EtcdSnapshot {
    /// Waits for `f` on the store's runtime from a thread outside any runtime (where the
    /// blocking [`Snapshot`] methods run).
    fn block<T, F>(&self, f: impl FnOnce(Arc<Inner>, i64) -> F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let task = f(self.inner.clone(), self.revision);
        self.handle.spawn(async move {
            let _ = tx.send(task.await);
        });
        rx.recv().map_err(|_| StoreError::Backend("the etcd client's runtime has stopped".into()))?
    }

    fn get(&self, space: &'static str, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let id = id.as_bytes().to_vec();
        self.block(move |inner, revision| async move {
            Ok(inner.get(inner.key(space, &id), revision).await?.map(|kv| kv.into_key_value().1))
        })
    }

    /// Ranges that cover the keys of `space`, each holding at most [`RANGE_KEYS`] of them (or
    /// one that cannot be cut further). etcd 3.4 walks the whole `[start, end)` of a read in its
    /// in-memory index for every page, to count it: paging through one range of 5M keys made
    /// each page take seconds, and a 1M-entity start over etcd did not finish. Small ranges keep
    /// every page's walk small. A range is cut evenly in key space into [`FAN_OUT`] pieces and
    /// each piece counted (a count walks only its piece) until every piece is small: a few
    /// walks of the whole space in all, whatever the shape of the IDs.
    fn ranges(&self, space: &'static str) -> Result<Vec<KeyRange>, StoreError> {
        let pieces = self.block(move |inner, revision| cut_into_ranges(inner, space, revision))?;
        let mut pieces = pieces;
        // `None` sorts first, which is right for a lower bound: the piece from the start.
        pieces.sort_by(|a, b| a.0.cmp(&b.0));
        if pieces.is_empty() {
            return Ok(vec![(Bound::Unbounded, Bound::Unbounded)]);
        }
        Ok(pieces
            .into_iter()
            .map(|(lo, hi)| {
                (lo.map_or(Bound::Unbounded, Bound::Included), hi.map_or(Bound::Unbounded, Bound::Excluded))
            })
            .collect())
    }

    /// Hands the values of `space` in `range` to `f`, a page at a time.
    fn scan(
        &self,
        space: &'static str,
        range: &KeyRange,
        f: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let base = self.inner.key(space, b"");
        let with_base = |rest: &[u8]| [base.as_slice(), rest].concat();
        let mut start = match &range.0 {
            Bound::Included(k) => with_base(k),
            Bound::Excluded(k) => successor(&with_base(k)),
            Bound::Unbounded => base.clone(),
        };
        let end = match &range.1 {
            Bound::Included(k) => successor(&with_base(k)),
            Bound::Excluded(k) => with_base(k),
            Bound::Unbounded => prefix_end(&base),
        };
        loop {
            let (s, e) = (start.clone(), end.clone());
            let page = self.block(move |inner, revision| async move { inner.range(s, e, PAGE, revision).await })?;
            for kv in &page {
                f(kv.value())?;
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => start = successor(last.key()),
                _ => return Ok(()),
            }
        }
    }
}

/// A piece of a space: its first key and the key after its last, relative to the space (`None`:
/// the space's start or end).
type Piece = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The pieces of `space` for `EtcdSnapshot::ranges`, in no particular order.
async fn cut_into_ranges(inner: Arc<Inner>, space: &'static str, revision: i64) -> Result<Vec<Piece>, StoreError> {
    let base = inner.key(space, b"");
    let mut todo: Vec<Piece> = vec![(None, None)];
    let mut done = Vec::new();
    while !todo.is_empty() {
        let bounds: Vec<(Vec<u8>, Vec<u8>)> = todo
            .iter()
            .map(|(lo, hi)| {
                let start = lo.as_ref().map_or_else(|| base.clone(), |rest| [base.as_slice(), rest].concat());
                let end = hi.as_ref().map_or_else(|| prefix_end(&base), |rest| [base.as_slice(), rest].concat());
                (start, end)
            })
            .collect();
        let counts: Vec<Result<i64, StoreError>> =
            futures_util::stream::iter(bounds.into_iter().map(|(start, end)| {
                let inner = inner.clone();
                async move { inner.count(start, end, revision).await }
            }))
            .buffered(COUNTS_AT_ONCE)
            .collect()
            .await;
        let mut next = Vec::new();
        for ((lo, hi), n) in todo.into_iter().zip(counts) {
            let n = n?;
            if n == 0 {
                continue;
            }
            match (n > RANGE_KEYS).then(|| cut(lo.as_deref().unwrap_or(b""), hi.as_deref(), FAN_OUT)).flatten() {
                Some(cuts) => {
                    let mut from = lo;
                    for c in cuts {
                        next.push((from, Some(c.clone())));
                        from = Some(c);
                    }
                    next.push((from, hi));
                }
                None => done.push((lo, hi)),
            }
        }
        todo = next;
    }
    Ok(done)
}

impl Snapshot for EtcdSnapshot {
    /// In file name order (byte order), read in pages of [`TEXTS_PAGE`].
    fn document_texts(&self) -> Result<Vec<DocumentTextRecord>, StoreError> {
        self.block(|inner, revision| async move {
            let base = inner.key("x", b"");
            let kvs = inner.scan_paged(base.clone(), revision, TEXTS_PAGE).await?;
            kvs.iter().map(|kv| text_record(&kv.key()[base.len()..], kv.value())).collect()
        })
    }

    fn generation(&self) -> Generation {
        self.generation
    }

    fn entity(&self, id: &str) -> Result<Option<Entity>, StoreError> {
        self.get("e", id)?.map(|v| decode(&v)).transpose()
    }

    fn relation(&self, id: &str) -> Result<Option<Relation>, StoreError> {
        self.get("r", id)?.map(|v| decode(&v)).transpose()
    }

    fn seeded_digest(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get("d", id)
    }

    fn entity_ranges(&self) -> Result<Vec<KeyRange>, StoreError> {
        self.ranges("e")
    }

    fn relation_ranges(&self) -> Result<Vec<KeyRange>, StoreError> {
        self.ranges("r")
    }

    fn entities_in(&self, range: &KeyRange, f: &mut dyn FnMut(Entity)) -> Result<(), StoreError> {
        self.scan("e", range, &mut |v| {
            f(decode(v)?);
            Ok(())
        })
    }

    fn relations_in(&self, range: &KeyRange, f: &mut dyn FnMut(RelationView<'_>)) -> Result<(), StoreError> {
        self.scan("r", range, &mut |v| {
            f(decode(v)?);
            Ok(())
        })
    }
}

/// The committed batch of one revision's events, if the revision was a data commit.
fn batch_of(
    inner: &Inner,
    revision: i64,
    events: &[(EventType, KeyValue)],
) -> Result<Option<CommittedBatch>, StoreError> {
    let mut batch = CommittedBatch { generation: revision as Generation, ..CommittedBatch::default() };
    let mut data = false;
    let p = inner.prefix.len();
    for (kind, kv) in events {
        let key = &kv.key()[p..];
        let (space, rest) = match key.iter().position(|&b| b == b'/') {
            Some(i) => (&key[..i], &key[i + 1..]),
            None => continue,
        };
        let id = || String::from_utf8_lossy(rest).into_owned();
        match (space, kind) {
            (b"m", _) if rest == b"head" => data = true,
            (b"e", EventType::Put) => batch.put_entities.push(decode(kv.value())?),
            (b"e", EventType::Delete) => batch.delete_entities.push(id()),
            (b"r", EventType::Put) => batch.put_relations.push(decode(kv.value())?),
            (b"r", EventType::Delete) => batch.delete_relations.push(id()),
            (b"a", EventType::Put) => {
                let mut entry: AuditEntry = decode(kv.value())?;
                entry.generation = revision as Generation;
                batch.entries.push(entry);
            }
            (b"x", EventType::Put) => batch.put_texts.push(text_record(rest, kv.value())?),
            _ => {}
        }
    }
    Ok(data.then_some(batch))
}

/// Follows the watch from `after` + 1, sending each committed batch to `tx` until the receiver
/// is gone or the history is compacted.
async fn follow(
    inner: Arc<Inner>,
    after: Generation,
    tx: tokio::sync::mpsc::Sender<Result<Arc<CommittedBatch>, StoreError>>,
) {
    let mut next = after as i64 + 1;
    let mut delay = Duration::from_millis(20);
    let send_err = |e: StoreError| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Err(e)).await;
        }
    };
    loop {
        let options = WatchOptions::new().with_prefix().with_start_revision(next);
        let mut stream = match inner.watch.clone().watch(inner.prefix.clone(), Some(options)).await {
            Ok(stream) => stream,
            Err(e) if transient(&e) => {
                tracing::warn!(error = %e, "etcd watch could not start; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = tx.closed() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(1));
                continue;
            }
            Err(e) => return send_err(backend("watch", e)).await,
        };
        loop {
            let message = tokio::select! {
                m = stream.message() => m,
                _ = tx.closed() => return,
            };
            let resp = match message {
                Ok(Some(resp)) => resp,
                Ok(None) => break,
                Err(e) if transient(&e) => {
                    tracing::warn!(error = %e, from = next, "etcd watch failed; watching again");
                    break;
                }
                // Watching again from the same revision would fail the same way (a response over
                // the size limit, say): the reader rebuilds from a fresh read instead.
                Err(e) => return send_err(backend("watch", e)).await,
            };
            delay = Duration::from_millis(20);
            if resp.canceled() {
                if resp.compact_revision() > 0 {
                    let available = resp.compact_revision() as Generation;
                    return send_err(StoreError::Compacted { requested: (next - 1) as Generation, available }).await;
                }
                return send_err(StoreError::Backend(format!("etcd cancelled the watch: {}", resp.cancel_reason())))
                    .await;
            }
            // Whole revisions, in order (no fragments were asked for): group by revision.
            let mut group: Vec<(EventType, KeyValue)> = Vec::new();
            let mut all = Vec::with_capacity(resp.events().len());
            for e in resp.events() {
                if let Some(kv) = e.kv() {
                    all.push((e.event_type(), kv.clone()));
                }
            }
            let mut events = all.into_iter().peekable();
            while let Some(event) = events.next() {
                let revision = event.1.mod_revision();
                group.push(event);
                if events.peek().is_some_and(|(_, kv)| kv.mod_revision() == revision) {
                    continue;
                }
                match batch_of(&inner, revision, &group) {
                    Ok(Some(batch)) => {
                        if tx.send(Ok(Arc::new(batch))).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => return send_err(e).await,
                }
                group.clear();
                next = revision + 1;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = tx.closed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    fn backend(&self) -> &'static str {
        "etcd"
    }

    fn describe(&self) -> String {
        format!("etcd://{}/{}", self.endpoints.join(","), self.prefix)
    }

    async fn read(&self) -> Result<Arc<dyn Snapshot>, StoreError> {
        let (generation, revision) = self.run(|inner| async move { inner.head().await }).await?;
        Ok(Arc::new(EtcdSnapshot { inner: self.inner.clone(), handle: self.handle.clone(), generation, revision }))
    }

    async fn head(&self) -> Result<Generation, StoreError> {
        self.run(|inner| async move { Ok(inner.head().await?.0) }).await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.run(|inner| async move {
            for space in ["e", "r"] {
                let start = inner.key(space, b"");
                if !inner.range(start.clone(), prefix_end(&start), 1, 0).await?.is_empty() {
                    return Ok(false);
                }
            }
            Ok(true)
        })
        .await
    }

    async fn commit(&self, batch: &WriteBatch) -> Result<Committed, StoreError> {
        let batch = batch.clone();
        self.run(|inner| async move { inner.commit(&batch).await }).await
    }

    /// A commit is durable when etcd answers it (see the module documentation).
    async fn make_durable(&self, _generation: Generation) -> Result<(), StoreError> {
        Ok(())
    }

    fn changes(&self, after: Generation) -> Result<ChangeStream, StoreError> {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        self.handle.spawn(follow(self.inner.clone(), after, tx));
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
        Ok(stream.boxed())
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.run(move |inner| async move {
            let start = inner.key("a", seq_hex(after.saturating_add(1)).as_bytes());
            let end = prefix_end(&inner.key("a", b""));
            let kvs = inner.range(start, end, limit.min(i64::MAX as usize) as i64, 0).await?;
            kvs.iter().map(audit_entry).collect()
        })
        .await
    }

    async fn last_seq(&self) -> Result<u64, StoreError> {
        self.run(|inner| async move { inner.last_seq(0).await }).await
    }

    async fn history(&self, target_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let mut prefix = target_id.as_bytes().to_vec();
        prefix.push(0);
        self.run(move |inner| async move {
            let index = inner.scan(inner.key("h", &prefix), 0).await?;
            let keys: Vec<Vec<u8>> =
                index.iter().map(|kv| inner.key("a", &kv.key()[inner.key("h", &prefix).len()..])).collect();
            inner.get_many(&keys).await?.into_iter().flatten().map(|kv| audit_entry(&kv)).collect()
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.run(|inner| async move {
            inner.scan(inner.key("t", b""), 0).await?.iter().map(|kv| decode(kv.value())).collect()
        })
        .await
    }

    async fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let token = token.clone();
        self.run(move |inner| async move {
            let key = inner.key("t", token.name.as_bytes());
            let txn = Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key, encode(&token), None)]);
            // Sent again after a lost answer, a token that is then found was most likely this
            // one: compare what is stored.
            let mut sent_before = false;
            let deadline = Instant::now() + RETRY_FOR;
            loop {
                match txn_within(inner.kv(), txn.clone()).await {
                    Ok(resp) if resp.succeeded() => return Ok(()),
                    Ok(_) => {
                        if sent_before {
                            let stored = inner.get(inner.key("t", token.name.as_bytes()), 0).await?;
                            if stored.is_some_and(|kv| kv.value() == encode(&token).as_slice()) {
                                return Ok(());
                            }
                        }
                        return Err(StoreError::TokenExists(token.name.clone()));
                    }
                    Err(e) if transient(&e) && Instant::now() < deadline => {
                        sent_before = true;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => return Err(backend("add a token", e)),
                }
            }
        })
        .await
    }

    async fn remove_token(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.run(move |inner| async move {
            let key = inner.key("t", name.as_bytes());
            let resp = retry("remove a token", || {
                let (mut kv, key) = (inner.kv(), key.clone());
                async move { kv.delete(key, None).await }
            })
            .await?;
            Ok(resp.deleted() > 0)
        })
        .await
    }

    async fn size_hint(&self) -> (usize, usize) {
        let hint = self.run(|inner| async move { inner.get(inner.key("m", b"size_hint"), 0).await }).await;
        match hint {
            Ok(Some(kv)) if kv.value().len() == 16 => {
                let (a, b) = kv.value().split_at(8);
                let n = |x: &[u8]| u64::from_be_bytes(x.try_into().unwrap_or_default()) as usize;
                (n(a), n(b))
            }
            _ => (0, 0),
        }
    }

    async fn record_size_hint(&self, entities: usize, relations: usize) -> Result<(), StoreError> {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&(entities as u64).to_be_bytes());
        v[8..].copy_from_slice(&(relations as u64).to_be_bytes());
        self.run(move |inner| async move {
            let key = inner.key("m", b"size_hint");
            retry("record the size hint", || {
                let (mut kv, key) = (inner.kv(), key.clone());
                async move { kv.put(key, v, None).await }
            })
            .await?;
            Ok(())
        })
        .await
    }

    /// Transactions of at most [`MAX_OPS`] records, each with the head, so that every piece is
    /// a generation of its own and a reader streaming meanwhile receives it as a batch (with no
    /// audit entries); a reader from before it replays it, as far as etcd keeps history.
    async fn import(&self, entities: &[Entity], relations: &[Relation]) -> Result<(), StoreError> {
        let batch =
            WriteBatch { put_entities: entities.to_vec(), put_relations: relations.to_vec(), ..WriteBatch::default() };
        let hint_before = self.size_hint().await;
        self.run(move |inner| async move {
            let state = inner.read_state(&WriteBatch::default()).await?;
            let mut w = Writes::default();
            for e in &batch.put_entities {
                w.push(inner.key("e", e.id.as_bytes()), Op::Put(encode(e)), None);
                w.push(inner.key("s", e.slug.as_str().as_bytes()), Op::Put(e.id.as_bytes().to_vec()), None);
            }
            for r in &batch.put_relations {
                w.push(inner.key("r", r.id.as_bytes()), Op::Put(encode(r)), None);
            }
            let nonce = random_nonce();
            let mut at = state.head;
            for (ops, _) in inner.pieces(w, &nonce) {
                at = inner.send(at, &nonce, ops).await?.ok_or_else(|| {
                    StoreError::Backend("the store was written to while an import ran into it".into())
                })?;
            }
            Ok(())
        })
        .await?;
        let (e, r) = hint_before;
        self.record_size_hint(e + entities.len(), r + relations.len()).await
    }

    /// Nothing to flush: etcd made every commit durable before answering it.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A text from its key (past `x/`) and value.
fn text_record(file: &[u8], value: &[u8]) -> Result<DocumentTextRecord, StoreError> {
    let file = String::from_utf8(file.to_vec())
        .map_err(|_| StoreError::Corrupt("a document text's file name is not UTF-8".into()))?;
    Ok(DocumentTextRecord { file, text: decode_text(value)? })
}

fn audit_entry(kv: &KeyValue) -> Result<AuditEntry, StoreError> {
    let mut entry: AuditEntry = decode(kv.value())?;
    entry.generation = kv.mod_revision() as Generation;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_lie_strictly_between_their_bounds_in_order() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"", None),
            (b"r1", Some(b"r2")),
            (b"r1000000", Some(b"r2")),
            (b"p\x10", Some(b"\x80")),
            (b"abc", Some(b"abd")),
            (b"a", Some(b"a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01")),
            (b"\xff\xff", None),
        ];
        for &(lo, hi) in cases {
            let Some(cuts) = cut(lo, hi, 16) else {
                assert_eq!(lo, b"a", "only keys equal in eight bytes past their common prefix are uncuttable");
                continue;
            };
            let mut prev = lo.to_vec();
            for c in &cuts {
                assert!(c.as_slice() > prev.as_slice(), "{c:?} after {prev:?}");
                prev = c.clone();
            }
            if let Some(hi) = hi {
                assert!(prev.as_slice() < hi, "{prev:?} before {hi:?}");
            }
        }
        assert_eq!(cut(b"", None, 16).unwrap().len(), 15);
    }

    #[test]
    fn prefix_ends_bound_their_prefix() {
        assert_eq!(prefix_end(b"pg/e/"), b"pg/e0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
        assert!(seq_hex(9) < seq_hex(10) && seq_hex(255) < seq_hex(256));
    }
}
