//! Caches on the hot path: parsed documents by query text, serialized answers keyed by
//! everything that can change them and valid for one graph generation only, and automatic
//! persisted queries by SHA-256.
//!
//! Answers are only ever served for the generation they were computed at: every committed
//! write advances the generation before it is acknowledged, so no answer computed before a
//! write is served after it.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;
use sha2::{Digest, Sha256};

use crate::compiled::Plan;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a cache lock leaves the cache usable (it holds no invariants
    // that a half-done insert can break beyond a byte count, which is recomputed on evict).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A parsed document and, once async-graphql has run it past validation, its compiled plan
/// ([`crate::compiled`]): compiled once, kept as long as the document is.
pub struct Parsed {
    pub doc: ExecutableDocument,
    compiled: OnceLock<Option<Plan>>,
}

impl Parsed {
    pub fn new(doc: ExecutableDocument) -> Arc<Parsed> {
        Arc::new(Parsed { doc, compiled: OnceLock::new() })
    }

    /// The compiled plan: `None` until the document has been validated, and for a document the
    /// compiled path does not cover.
    pub fn plan(&self) -> Option<&Plan> {
        self.compiled.get().and_then(Option::as_ref)
    }

    /// Says that async-graphql validated this document (it began executing it): from now on it
    /// may be compiled. Only then, so that no plan exists for a document validation refuses.
    pub fn validated(&self) {
        self.compiled.get_or_init(|| crate::compiled::compile(&self.doc));
    }
}

impl std::ops::Deref for Parsed {
    type Target = ExecutableDocument;
    fn deref(&self) -> &ExecutableDocument {
        &self.doc
    }
}

/// Parsed documents by query text, so that nothing is parsed twice.
pub struct DocumentCache {
    inner: Mutex<LruCache<String, Arc<Parsed>>>,
}

impl DocumentCache {
    pub fn new(entries: usize) -> Self {
        DocumentCache { inner: Mutex::new(LruCache::new(NonZeroUsize::new(entries.max(1)).expect("max(1)"))) }
    }

    pub fn get(&self, query: &str) -> Option<Arc<Parsed>> {
        lock(&self.inner).get(query).cloned()
    }

    pub fn put(&self, query: &str, doc: Arc<Parsed>) {
        // Huge documents would crowd out the useful ones; they are rare and parse anyway.
        if query.len() <= 16 * 1024 {
            lock(&self.inner).put(query.to_string(), doc);
        }
    }
}

/// What identifies an answer: SHA-256 over everything that can change it.
pub type AnswerKey = [u8; 32];

/// Builds the key of an answer from the query text, operation name, variables (canonical JSON:
/// serde_json's maps are sorted), the caller's role and the response content type.
pub fn answer_key(query: &str, operation: Option<&str>, variables: &str, role: &str, content_type: &str) -> AnswerKey {
    let mut h = Sha256::new();
    for part in [query, operation.unwrap_or(""), variables, role, content_type] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

struct Entry {
    generation: u64,
    body: actix_web::web::Bytes,
    /// The query's cost, kept so that an answer served from here is charged to its client's
    /// rate limit without walking the document again.
    cost: u64,
}

struct Answers {
    lru: LruCache<AnswerKey, Entry>,
    bytes: usize,
}

/// Serialized answers, bounded by bytes.
pub struct AnswerCache {
    inner: Mutex<Answers>,
    capacity: usize,
}

impl AnswerCache {
    /// A cache of at most `capacity` bytes of answers (0 turns it off).
    pub fn new(capacity: usize) -> Self {
        AnswerCache { inner: Mutex::new(Answers { lru: LruCache::unbounded(), bytes: 0 }), capacity }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The answer for `key` and its query's cost, if it was computed at `generation`. An entry
    /// of another generation is dropped on sight.
    pub fn get(&self, key: &AnswerKey, generation: u64) -> Option<(actix_web::web::Bytes, u64)> {
        if !self.enabled() {
            return None;
        }
        let mut a = lock(&self.inner);
        let found = match a.lru.get(key) {
            Some(e) if e.generation == generation => Some((e.body.clone(), e.cost)),
            Some(_) => {
                if let Some(old) = a.lru.pop(key) {
                    a.bytes -= old.body.len();
                }
                None
            }
            None => None,
        };
        drop(a);
        match &found {
            Some(_) => metrics::counter!("answer_cache_hits_total").increment(1),
            None => metrics::counter!("answer_cache_misses_total").increment(1),
        }
        found
    }

    pub fn put(&self, key: AnswerKey, generation: u64, body: actix_web::web::Bytes, cost: u64) {
        // One answer may not take more than an eighth of the cache.
        if !self.enabled() || body.len() > self.capacity / 8 {
            return;
        }
        let mut a = lock(&self.inner);
        a.bytes += body.len();
        if let Some(old) = a.lru.put(key, Entry { generation, body, cost }) {
            a.bytes -= old.body.len();
        }
        let mut evicted = 0u64;
        while a.bytes > self.capacity {
            match a.lru.pop_lru() {
                Some((_, e)) => {
                    a.bytes -= e.body.len();
                    evicted += 1;
                }
                None => break,
            }
        }
        let bytes = a.bytes;
        drop(a);
        if evicted > 0 {
            metrics::counter!("answer_cache_evictions_total").increment(evicted);
        }
        metrics::gauge!("answer_cache_bytes").set(bytes as f64);
    }
}

/// Automatic persisted queries (Apollo's protocol): query text by its SHA-256 (hex).
pub struct PersistedQueries {
    inner: Mutex<LruCache<String, Arc<str>>>,
}

impl PersistedQueries {
    pub fn new(entries: usize) -> Self {
        PersistedQueries { inner: Mutex::new(LruCache::new(NonZeroUsize::new(entries.max(1)).expect("max(1)"))) }
    }

    pub fn get(&self, hash: &str) -> Option<Arc<str>> {
        lock(&self.inner).get(hash).cloned()
    }

    /// Registers `query` under `hash`; `false` if the hash is not the query's SHA-256.
    pub fn register(&self, hash: &str, query: &str) -> bool {
        let actual = hex::encode(Sha256::digest(query.as_bytes()));
        if !actual.eq_ignore_ascii_case(hash) {
            return false;
        }
        lock(&self.inner).put(actual, Arc::from(query));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_bounded_by_bytes_and_by_generation() {
        let c = AnswerCache::new(800);
        let body = |n: usize| actix_web::web::Bytes::from(vec![b'x'; n]);
        let k = |i: u8| [i; 32];
        c.put(k(1), 7, body(100), 42);
        assert_eq!(c.get(&k(1), 7).map(|(_, cost)| cost), Some(42), "the cost is kept with the answer");
        assert!(c.get(&k(1), 8).is_none(), "another generation never hits");
        assert!(c.get(&k(1), 7).is_none(), "and the stale entry is gone");
        for i in 0..20 {
            c.put(k(i), 1, body(100), 1);
        }
        assert!(lock(&c.inner).bytes <= 800);
        assert!(c.get(&k(19), 1).is_some() && c.get(&k(0), 1).is_none(), "least recently used go first");
        c.put(k(99), 1, body(101), 1);
        assert!(c.get(&k(99), 1).is_none(), "an answer larger than an eighth is not kept");
        assert!(AnswerCache::new(0).get(&k(19), 1).is_none());
    }

    #[test]
    fn keys_differ_by_every_part() {
        let base = answer_key("{ a }", None, "{}", "anonymous", "json");
        for other in [
            answer_key("{ b }", None, "{}", "anonymous", "json"),
            answer_key("{ a }", Some("A"), "{}", "anonymous", "json"),
            answer_key("{ a }", None, "{\"x\":1}", "anonymous", "json"),
            answer_key("{ a }", None, "{}", "editor", "json"),
            answer_key("{ a }", None, "{}", "anonymous", "graphql-response+json"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn persisted_queries_check_the_hash() {
        let p = PersistedQueries::new(10);
        let q = "{ __typename }";
        let h = hex::encode(Sha256::digest(q.as_bytes()));
        assert!(!p.register("00", q));
        assert!(p.register(&h, q));
        assert_eq!(p.get(&h).as_deref(), Some(q));
    }
}
