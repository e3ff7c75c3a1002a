//! `Document.passages`: the sentences of a source text that the graph cites, each with what the
//! graph makes of it. It exists for reading a document beside the graph (the `/documents/<slug>`
//! page): a journalist sees which sentences were turned into relations and facts, and which were
//! not.
//!
//! It agrees with `policygraph check` where the two meet: sentences are cut by
//! [`coverage::sentences`] and a relation's quotes are read by [`coverage::relation_quotes`].
//! It differs in what counts: `check` asks whether a sentence was read, so a name (`mentions`) or
//! a fact quoted inside a statement does not cover it; here the question is what the graph says
//! about the sentence, so every citation whose quote overlaps it is listed. Quotes are located as
//! `Citation.offset` locates them (first occurrence, from the document's memo), so a citation's
//! offset always falls inside a passage that lists it: what `/documents/<slug>#at=<offset>`
//! relies on.
//!
//! Nothing indexes citations by document, so each request reads every relation and every
//! entity, off the HTTP workers and within its time limit; the cost model prices the field like
//! the other whole-graph reads.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Object, Result};

use super::error::ApiError;
use super::types::{document_text, facts_of, page_size, view, Fact, Relation};
use crate::coverage::{self, Sentence};
use crate::deadline::Deadline;
use crate::domain::{self, DocumentText};
use crate::graph::GraphIndex;

/// A sentence of a document that the graph cites, with the relations and entity facts citing it.
pub struct Passage {
    offset: usize,
    length: usize,
    quote: String,
    relations: Vec<Arc<domain::Relation>>,
    facts: Vec<Fact>,
}

/// A sentence of a document that the graph cites, with the relations and entity facts citing it.
#[Object]
impl Passage {
    /// Where the sentence starts in `Document.text`, in characters (Unicode scalar values, not
    /// bytes nor UTF-16 units), as `Citation.offset` counts them.
    async fn offset(&self) -> usize {
        self.offset
    }
    /// The sentence's length in characters (Unicode scalar values): it ends at `offset + length`.
    async fn length(&self) -> usize {
        self.length
    }
    /// The sentence, verbatim: byte for byte the characters of `Document.text` at `offset`.
    async fn quote(&self) -> &str {
        &self.quote
    }
    /// The relations a quote of which overlaps the sentence, in the order their quotes start
    /// (then by key); `mentions` included.
    async fn relations(&self) -> Vec<Relation> {
        self.relations.iter().cloned().map(Relation).collect()
    }
    /// The entity facts (a date, URL, summary, alias or number) a quote of which overlaps the
    /// sentence, in the order their quotes start.
    async fn facts(&self) -> &[Fact] {
        &self.facts
    }
}

/// The resolver of `Document.passages`.
pub async fn of_document(
    ctx: &Context<'_>,
    document: &Arc<domain::Entity>,
    first: Option<i32>,
    after: Option<i32>,
) -> Result<Vec<Passage>> {
    let first = page_size(first)?;
    let Some(text) = document_text(ctx, &document.id).await? else { return Ok(Vec::new()) };
    let g = view(ctx).await?;
    let document = document.clone();
    let found = super::work::off_worker(ctx, g, move |g, deadline| passages(g, &document, &text, deadline)).await?;
    let Some(found) = found else {
        return Err(ApiError::Internal("the passage search stopped at the deadline".into()).extend());
    };
    // Offsets are never negative: any negative `after` is the start.
    let after = after.map_or(-1, i64::from);
    Ok(found.into_iter().filter(|p| p.offset as i64 > after).take(first).collect())
}

/// Every cited sentence of `document`, whose text is `text`, in text order; `None` when the
/// deadline passed first.
fn passages(
    g: &GraphIndex,
    document: &domain::Entity,
    text: &DocumentText,
    deadline: &Deadline,
) -> Option<Vec<Passage>> {
    let sentences = coverage::sentences(text.text());
    // Per sentence: what cites it, with the byte where the citing quote starts and a number
    // telling the citing records apart (a record quoted twice in one sentence is listed once).
    let mut relations: Vec<Vec<(usize, usize, Arc<domain::Relation>)>> = vec![Vec::new(); sentences.len()];
    let mut facts: Vec<Vec<(usize, usize, Fact)>> = vec![Vec::new(); sentences.len()];
    let place = |quote: &str| {
        let span = text.located(quote)?;
        Some((span.byte_offset, overlapped(&sentences, span.byte_offset..span.byte_offset + span.byte_length)))
    };
    let id = document.id.as_str();
    for (n, r) in g.all_relations().enumerate() {
        if n % 4096 == 0 && deadline.expired() {
            return None;
        }
        // A number may name a document its relation cites nowhere else; those are few.
        if !r.cites(id) && r.quantity_count() == 0 {
            continue;
        }
        let rel = r.get();
        for (doc, quote, _) in coverage::relation_quotes(&rel) {
            let Some((start, within)) = (doc == id).then(|| place(quote)).flatten() else { continue };
            for s in within {
                relations[s].push((start, n, rel.clone()));
            }
        }
    }
    let mut count = 0;
    for (n, e) in g.entities(None, None).enumerate() {
        if n % 4096 == 0 && deadline.expired() {
            return None;
        }
        if !crate::edit::entity_documents(e).any(|d| d == id) {
            continue;
        }
        for fact in facts_of(e, None) {
            count += 1;
            for c in fact.citations.iter().filter(|c| c.document == id) {
                let Some((start, within)) = c.quote.as_deref().and_then(place) else { continue };
                for s in within {
                    facts[s].push((start, count, fact.clone()));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        if relations[i].is_empty() && facts[i].is_empty() {
            continue;
        }
        out.push(Passage {
            offset: text.char_offset(s.range.start),
            length: s.text.chars().count(),
            quote: s.text.to_string(),
            relations: in_text_order(std::mem::take(&mut relations[i]), |r| r.id.as_str()),
            facts: in_text_order(std::mem::take(&mut facts[i]), |_| ""),
        });
    }
    Some(out)
}

/// The sentences (indices of `sentences`, which are in text order and disjoint) that the byte
/// range `quote` overlaps.
fn overlapped(sentences: &[Sentence<'_>], quote: Range<usize>) -> Range<usize> {
    let from = sentences.partition_point(|s| s.range.end <= quote.start);
    let to = sentences.partition_point(|s| s.range.start < quote.end);
    from..to.max(from)
}

/// The records citing one sentence, by where their quote starts, then by `key`, each once (at
/// its first quote).
fn in_text_order<T>(mut cited: Vec<(usize, usize, T)>, key: impl Fn(&T) -> &str) -> Vec<T> {
    cited.sort_by(|a, b| (a.0, key(&a.2)).cmp(&(b.0, key(&b.2))));
    let mut seen = HashSet::new();
    cited.into_iter().filter(|(_, n, _)| seen.insert(*n)).map(|(_, _, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_overlaps_the_sentences_it_touches_and_no_other() {
        let text = "One here. Two there.\nThree.";
        let all = coverage::sentences(text);
        assert_eq!(all.len(), 3);
        let at = |q: &str| text.find(q).unwrap()..text.find(q).unwrap() + q.len();
        assert_eq!(overlapped(&all, at("here")), 0..1);
        assert_eq!(overlapped(&all, at("here. Two")), 0..2);
        assert_eq!(overlapped(&all, at("there.\nThree")), 1..3);
        // The space between two sentences belongs to neither.
        assert_eq!(overlapped(&all, 9..10), 1..1);
    }

    #[test]
    fn a_record_quoted_twice_in_a_sentence_is_listed_once_at_its_first_quote() {
        let cited = vec![(30, 1, "b"), (10, 2, "a"), (5, 1, "b"), (10, 3, "c")];
        assert_eq!(in_text_order(cited, |s| s), vec!["b", "a", "c"]);
    }
}
