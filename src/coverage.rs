//! Coverage: which sentences of the source texts the seed has read.
//!
//! The curation promises that every sentence of the five texts was read, and that every
//! statement a text attributes to someone is a cited relation. This module makes that promise
//! checkable: it splits each document into sentences, lays the seed's citations over them, and
//! reports every sentence that nothing cites and that `no-fact.toml` does not list as stating no
//! fact. `policygraph check` prints the report and fails on an uncited statement.
//!
//! **Sentences** ([`sentences`]). A line break always ends a sentence: the texts are web pages
//! whose headings, dates, list items, contact lines and navigation entries stand on lines of
//! their own without a full stop. Within a line, a sentence ends after `.`, `!` or `?` (and any
//! closing quotes or brackets right after it) when whitespace follows and the next word starts
//! with a capital letter, a digit or a quotation mark. A full stop does not end a sentence after
//! an abbreviation: a word with a full stop inside it (`U.S.`, `U.N.`, `e.g.`), a single letter
//! (an initial), a title such as `Dr.` or `Mr.` (see [`ABBREVIATIONS`]), or a number opening its
//! line (a numbered list item, `1.`). Each sentence is trimmed of whitespace (no-break spaces
//! included); a line of whitespace only is no sentence. A sentence that ends in an abbreviation
//! is joined to the next one: none of the texts has one.
//!
//! **Cited** ([`Coverage::report`]). A citation's quote is looked up in its document's text,
//! byte for byte; it covers every sentence its first occurrence overlaps. A `mentions` citation
//! quotes a name, not a statement, so it covers only a sentence that is that name and nothing
//! else (an entry of a list of offices): a document naming IOM does not make every sentence with
//! "IOM" read. A **statement** ([`is_statement`]) is cited only by a relation that gives it a
//! speaker, one of the [`STATEMENT_KINDS`]: a quote that only a `holds_role` cites for the
//! speaker's title has not been read as what it says. The seed's cited spans come from
//! [`seed_spans`]; another source of citations adds its spans there.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;

use crate::domain::{DocumentText, EntityKind, Relation, RelationKind};
use crate::seed::{Problem, SeedData};

/// Words that a full stop follows without ending the sentence (compared without case).
pub const ABBREVIATIONS: &[&str] =
    &["dr", "mr", "mrs", "ms", "prof", "st", "no", "inc", "ltd", "jr", "sr", "vs", "etc"];

/// One sentence of a document: its byte range in the text as read, and its trimmed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence<'a> {
    pub range: Range<usize>,
    pub text: &'a str,
}

/// Splits `text` into sentences by the rule in the module's documentation.
pub fn sentences(text: &str) -> Vec<Sentence<'_>> {
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in text.split('\n') {
        split_line(text, line_start, line, &mut out);
        line_start += line.len() + 1;
    }
    out
}

fn split_line<'a>(text: &'a str, offset: usize, line: &'a str, out: &mut Vec<Sentence<'a>>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut end = i + 1;
            while end < chars.len() && is_closing(chars[end].1) {
                end += 1;
            }
            let mut next = end;
            while next < chars.len() && chars[next].1.is_whitespace() {
                next += 1;
            }
            let starts_sentence = next < chars.len() && next > end && opens_sentence(chars[next].1);
            if starts_sentence && !(c == '.' && is_abbreviation(line, chars[i].0)) {
                let byte_end = chars.get(end).map_or(line.len(), |&(b, _)| b);
                push(text, offset, start, byte_end, out);
                start = chars[next].0;
                i = next;
                continue;
            }
        }
        i += 1;
    }
    push(text, offset, start, line.len(), out);
}

fn push<'a>(text: &'a str, offset: usize, from: usize, to: usize, out: &mut Vec<Sentence<'a>>) {
    let raw = &text[offset + from..offset + to];
    let trimmed = raw.trim_start();
    let lead = raw.len() - trimmed.len();
    let trimmed = trimmed.trim_end();
    if !trimmed.is_empty() {
        let s = offset + from + lead;
        out.push(Sentence { range: s..s + trimmed.len(), text: trimmed });
    }
}

fn is_closing(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']')
}

fn opens_sentence(c: char) -> bool {
    c.is_uppercase() || c.is_ascii_digit() || matches!(c, '"' | '“' | '”' | '‘' | '\'' | '(')
}

/// Whether the full stop at byte `dot` of `line` closes an abbreviation rather than a sentence.
fn is_abbreviation(line: &str, dot: usize) -> bool {
    let before = &line[..dot];
    let word_start = before.char_indices().rev().find(|(_, c)| c.is_whitespace()).map_or(0, |(i, c)| i + c.len_utf8());
    let word = before[word_start..].trim_start_matches(|c: char| !c.is_alphanumeric());
    if word.is_empty() {
        return false;
    }
    let letters = word.chars().count();
    word.contains('.')
        || (letters == 1 && word.chars().all(char::is_alphabetic))
        || ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(word))
        || (word.chars().all(|c| c.is_ascii_digit()) && line[..word_start].trim().is_empty())
}

/// Where `quote` is in `doc`: its first occurrence, byte for byte, as a byte range. The seed's
/// one-pass check has already located every quote of the seed (`DocumentText::located`
/// remembers them), so this is a look-up, not a search.
pub fn locate(doc: &DocumentText, quote: &str) -> Option<Range<usize>> {
    doc.located(quote).map(|span| span.byte_offset..span.byte_offset + span.byte_length)
}

/// The relation kinds that record a statement: who → what it is about.
pub const STATEMENT_KINDS: &[RelationKind] = &[
    RelationKind::Welcomes,
    RelationKind::Supports,
    RelationKind::CallsFor,
    RelationKind::WarnsAbout,
    RelationKind::Criticizes,
    RelationKind::Congratulates,
    RelationKind::States,
];

/// Words that make a sentence a statement someone makes, compared in lower case.
///
/// Inflected forms only: the bare forms are nouns as often ("a test note", "a call"); and
/// "according" (to IOM, …).
const SPEECH_WORDS: &[&str] = &[
    "according",
    "says",
    "said",
    "saying",
    "welcomes",
    "welcomed",
    "applauds",
    "applauded",
    "calls",
    "called",
    "warns",
    "warned",
    "stresses",
    "stressed",
    "notes",
    "noted",
    "announces",
    "announced",
    "congratulates",
    "congratulated",
    "urges",
    "urged",
    "criticizes",
    "criticized",
    "supports",
    "supported",
];

/// Whether a sentence reports what someone says: it is quoted speech (it opens with a double
/// quotation mark, or ends with one after its full stop, comma, `!` or `?`: the sentences of a
/// quoted paragraph) or holds one of the speech words (`said`, `says`, `welcomes`, `calls`,
/// `warns`, …). A title or a scare quote inside a sentence ("the theme “Migration for …”") does
/// not make it speech; single quotation marks never do (the texts use them for titles, and `’`
/// for apostrophes).
pub fn is_statement(sentence: &str) -> bool {
    const DOUBLE: [char; 3] = ['"', '“', '”'];
    let mut rev = sentence.chars().rev();
    let closes_speech = matches!((rev.next(), rev.next()), (Some(q), Some(p)) if DOUBLE.contains(&q) && matches!(p, '.' | ',' | '!' | '?'));
    sentence.starts_with(DOUBLE)
        || closes_speech
        || sentence
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| SPEECH_WORDS.iter().any(|s| s.eq_ignore_ascii_case(w)))
}

/// A quote the seed cites in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The document's file in `documents/`.
    pub file: String,
    pub quote: String,
    pub cites: Cites,
}

/// What a quote is cited for, which decides what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cites {
    /// A name (`mentions`): covers only a sentence that is exactly the name.
    Name,
    /// A fact: covers the sentences it overlaps, but not as statements.
    Fact,
    /// A statement with its speaker (a relation of one of the [`STATEMENT_KINDS`]): covers the
    /// sentences it overlaps, statements included.
    Statement,
}

/// Every quote a relation cites, with the document it is in (an entity ID) and what it is cited
/// for: its citations' quotes, then its numbers' quotes (a number without a document of its
/// own is read from the relation's first cited document). `check` and the document reader
/// (`Document.passages`) both read a relation's quotes here, so that they agree on what a
/// relation cites.
pub fn relation_quotes(r: &Relation) -> impl Iterator<Item = (&str, &str, Cites)> {
    let cites = match r.kind {
        RelationKind::Mentions => Cites::Name,
        k if STATEMENT_KINDS.contains(&k) => Cites::Statement,
        _ => Cites::Fact,
    };
    let first = r.citations.first().map(|c| c.document.as_str());
    let citations = r.citations.iter().filter_map(move |c| Some((c.document.as_str(), c.quote.as_deref()?, cites)));
    let numbers = r
        .quantities
        .iter()
        .filter_map(move |q| Some((q.document.as_deref().or(first)?, q.quote.as_deref()?, Cites::Fact)));
    citations.chain(numbers)
}

/// Every quote the seed data cites: relation citations, relation and entity quantities.
pub fn seed_spans(data: &SeedData) -> Vec<Span> {
    let files: HashMap<&str, &str> = data
        .entities
        .iter()
        .filter(|e| e.kind == EntityKind::Document)
        .filter_map(|e| Some((e.id.as_str(), e.extra.file.as_deref()?)))
        .collect();
    let file_of = |doc: &str| files.get(doc).map_or(doc, |f| *f).to_string();
    let mut spans = Vec::new();
    for r in &data.relations {
        for (doc, quote, cites) in relation_quotes(r) {
            spans.push(Span { file: file_of(doc), quote: quote.to_string(), cites });
        }
    }
    for e in &data.entities {
        for q in &e.extra.quantities {
            if let (Some(quote), Some(doc)) = (&q.quote, q.document.as_deref()) {
                spans.push(Span { file: file_of(doc), quote: quote.clone(), cites: Cites::Fact });
            }
        }
        let s = &e.extra.sources;
        let facts = [&s.date, &s.end_date, &s.url, &s.summary].into_iter().chain(s.aliases.values());
        for c in facts.flatten() {
            if let Some(quote) = &c.quote {
                spans.push(Span { file: file_of(&c.document), quote: quote.clone(), cites: Cites::Fact });
            }
        }
    }
    spans
}

/// A sentence the seed lists as stating no fact, with the reason (`no-fact.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFact {
    /// The document's file in `documents/`.
    pub document: String,
    /// The sentence, verbatim and whole, as [`sentences`] cuts it.
    pub sentence: String,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFactFile {
    #[serde(default)]
    sentence: Vec<NoFact>,
}

/// The file of the seed directory that lists sentences stating no fact.
pub const NO_FACT_FILE: &str = "no-fact.toml";

/// Reads `no-fact.toml` of the seed directory `dir`; none is an empty list.
pub fn load_no_fact(dir: &Path) -> Result<Vec<NoFact>, Problem> {
    let path = dir.join(NO_FACT_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let problem = |message: String| Problem { file: NO_FACT_FILE.into(), record: None, field: None, message };
    let text = std::fs::read_to_string(&path).map_err(|e| problem(format!("cannot read: {e}")))?;
    let file: NoFactFile = toml::from_str(&text).map_err(|e| problem(e.to_string().trim_end().to_string()))?;
    Ok(file.sentence)
}

/// A sentence nothing cites and `no-fact.toml` does not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncited {
    pub file: String,
    /// Byte offset in the document's text as read.
    pub offset: usize,
    pub sentence: String,
    /// Quoted speech or a said/says/welcomes/calls/warns sentence: `check` fails on it.
    pub statement: bool,
}

/// What [`Coverage::report`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Sentences per document, in document order.
    pub sentences: Vec<(String, usize)>,
    pub uncited: Vec<Uncited>,
    /// Sentences covered by `no-fact.toml` only.
    pub no_fact: usize,
    /// `no-fact.toml` entries that are not a sentence of their document, and quotes not found
    /// byte for byte.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether `check` must fail: an uncited statement, or a problem with the lists.
    pub fn fails(&self) -> bool {
        !self.problems.is_empty() || self.uncited.iter().any(|u| u.statement)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        for (file, _) in &self.sentences {
            let mine: Vec<&Uncited> = self.uncited.iter().filter(|u| &u.file == file).collect();
            if mine.is_empty() {
                continue;
            }
            writeln!(
                f,
                "documents/{file}: {} sentence(s) nothing cites (a statement, by a relation from its speaker):",
                mine.len()
            )?;
            for u in mine {
                let tag = if u.statement { "statement" } else { "sentence" };
                writeln!(f, "  [{tag} at byte {}] {}", u.offset, u.sentence)?;
            }
        }
        let total: usize = self.sentences.iter().map(|(_, n)| n).sum();
        let statements = self.uncited.iter().filter(|u| u.statement).count();
        write!(
            f,
            "coverage: {total} sentence(s) in {} document(s); {} uncited ({statements} statement(s)); {} listed as stating no fact",
            self.sentences.len(),
            self.uncited.len(),
            self.no_fact
        )
    }
}

/// The documents' texts as read, by file name.
pub struct Coverage<'a> {
    pub texts: Vec<(&'a str, &'a DocumentText)>,
}

impl Coverage<'_> {
    /// Lays `spans` and `no_fact` over every sentence of every text.
    pub fn report(&self, spans: &[Span], no_fact: &[NoFact]) -> Report {
        let mut report = Report::default();
        for &(file, doc) in &self.texts {
            let text = doc.text();
            let all = sentences(text);
            report.sentences.push((file.to_string(), all.len()));
            let statement: Vec<bool> = all.iter().map(|s| is_statement(s.text)).collect();
            let mut cited = vec![false; all.len()];
            for span in spans.iter().filter(|s| s.file == file) {
                let Some(at) = locate(doc, &span.quote) else {
                    report.problems.push(Problem {
                        file: format!("documents/{file}"),
                        record: None,
                        field: None,
                        message: format!("quote not found byte for byte: {}", crate::domain::excerpt(&span.quote)),
                    });
                    continue;
                };
                for (i, s) in all.iter().enumerate() {
                    cited[i] |= match span.cites {
                        Cites::Name => s.text == span.quote.trim(),
                        Cites::Fact => !statement[i] && s.range.start < at.end && at.start < s.range.end,
                        Cites::Statement => s.range.start < at.end && at.start < s.range.end,
                    };
                }
            }
            let mut listed = vec![false; all.len()];
            for (n, entry) in no_fact.iter().enumerate().filter(|(_, e)| e.document == file) {
                let mut found = false;
                for (i, s) in all.iter().enumerate() {
                    if s.text == entry.sentence.trim() {
                        listed[i] = true;
                        found = true;
                    }
                }
                let record = Some(format!("sentence #{}", n + 1));
                if !found {
                    report.problems.push(Problem {
                        file: NO_FACT_FILE.into(),
                        record: record.clone(),
                        field: Some("sentence".into()),
                        message: format!(
                            "not a whole sentence of documents/{file}: {}",
                            crate::domain::excerpt(&entry.sentence)
                        ),
                    });
                }
                if entry.reason.trim().is_empty() {
                    report.problems.push(Problem {
                        file: NO_FACT_FILE.into(),
                        record,
                        field: Some("reason".into()),
                        message: "say why the sentence states no fact".into(),
                    });
                }
            }
            for (i, s) in all.iter().enumerate() {
                if cited[i] && listed[i] {
                    // The list must say only what is true: a cited sentence states a fact.
                    report.problems.push(Problem {
                        file: NO_FACT_FILE.into(),
                        record: None,
                        field: Some("sentence".into()),
                        message: format!(
                            "listed as stating no fact, but the seed cites it (documents/{file}): {}",
                            crate::domain::excerpt(s.text)
                        ),
                    });
                }
                if cited[i] {
                    continue;
                }
                if listed[i] {
                    report.no_fact += 1;
                    continue;
                }
                report.uncited.push(Uncited {
                    file: file.to_string(),
                    offset: s.range.start,
                    sentence: s.text.to_string(),
                    statement: statement[i],
                });
            }
        }
        for (n, entry) in no_fact.iter().enumerate() {
            if !self.texts.iter().any(|(f, _)| *f == entry.document) {
                report.problems.push(Problem {
                    file: NO_FACT_FILE.into(),
                    record: Some(format!("sentence #{}", n + 1)),
                    field: Some("document".into()),
                    message: format!("no document has the file `{}`", crate::domain::excerpt(&entry.document)),
                });
            }
        }
        report
    }
}

/// The coverage report of the seed directory `dir`, whose validated content is `data`.
pub fn check(dir: &Path, data: &SeedData) -> Report {
    let mut files: Vec<&str> = data
        .entities
        .iter()
        .filter(|e| e.kind == EntityKind::Document)
        .filter_map(|e| e.extra.file.as_deref())
        .collect();
    files.sort_unstable();
    let mut report = Report::default();
    let mut texts = Vec::new();
    for f in files {
        // `seed::load` read every document's text (or reported why it could not).
        match data.documents.get(f) {
            Some(doc) => texts.push((f, doc.as_ref())),
            None => report.problems.push(Problem {
                file: format!("documents/{f}"),
                record: None,
                field: None,
                message: "no text was read for this document".into(),
            }),
        }
    }
    let no_fact = match load_no_fact(dir) {
        Ok(n) => n,
        Err(p) => {
            report.problems.push(p);
            Vec::new()
        }
    };
    let coverage = Coverage { texts };
    let mut found = coverage.report(&seed_spans(data), &no_fact);
    report.problems.append(&mut found.problems);
    found.problems = report.problems;
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(t: &str) -> Vec<&str> {
        sentences(t).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn lines_and_full_stops_end_sentences() {
        let t = "Heading without stop\n\nFirst one. Second one! Third?\n  \u{a0} \nLast line.";
        assert_eq!(texts(t), ["Heading without stop", "First one.", "Second one!", "Third?", "Last line."]);
    }

    #[test]
    fn ranges_point_into_the_text_as_read() {
        let t = "  Alpha beta.  Gamma.\u{a0}\nDelta";
        for s in sentences(t) {
            assert_eq!(&t[s.range.clone()], s.text);
        }
    }

    #[test]
    fn abbreviations_initials_and_list_numbers_do_not_end_a_sentence() {
        let t = "The U.S. Department of Homeland Security met Dr. Smith and J. Doe. U.N. agencies agreed.\n1. Resilience to climate change\n2. Labour mobility";
        assert_eq!(
            texts(t),
            [
                "The U.S. Department of Homeland Security met Dr. Smith and J. Doe.",
                "U.N. agencies agreed.",
                "1. Resilience to climate change",
                "2. Labour mobility"
            ]
        );
    }

    #[test]
    fn closing_quotes_stay_with_their_sentence_and_a_lower_case_word_continues_it() {
        let t = "“It is good.” said Ana. “Next.” - B, Institute.\n\"Risky,” said Cy. ”We agree.\"\nIn 2019. e.g. not a stop.";
        assert_eq!(
            texts(t),
            [
                "“It is good.” said Ana.",
                "“Next.” - B, Institute.",
                "\"Risky,” said Cy.",
                "”We agree.\"",
                "In 2019. e.g. not a stop."
            ]
        );
    }

    #[test]
    fn contact_lines_and_urls_are_one_sentence_each() {
        let t = "For more information, please contact:\nCesia Chavarría at IOM Mexico, Email: cchavarria@iom.int, Tel: +52 1 55\nFull report here: https://example.org/a.pdf";
        assert_eq!(texts(t).len(), 3);
    }

    #[test]
    fn statements_are_quoted_speech_or_speech_words() {
        assert!(is_statement("“We are glad,” the director said."));
        assert!(is_statement("IOM also warns that reinstating it can endanger people."));
        assert!(is_statement("Migration was never \"quarantined\", says IOM study."));
        assert!(is_statement("According to IOM, this policy has endangered thousands of people."));
        assert!(!is_statement("The MPP were initiated in January 2019."));
        assert!(!is_statement("Test note, Geneva."));
        assert!(!is_statement("a competition titled ‘Artworks for Freedom,’ in Jamaica"));
        assert!(!is_statement("launched under the theme “Migration for Sustainable Development”."));
        assert!(!is_statement("Many think of “developed” countries first."));
        assert!(is_statement("We're very excited about what this will mean in practice.\""));
        assert!(is_statement("”IOM supports the announcement.\""));
    }

    fn span(quote: &str, cites: Cites) -> Span {
        Span { file: "a.txt".into(), quote: quote.into(), cites }
    }

    #[test]
    fn the_report_lists_what_nothing_cites_and_flags_statements() {
        let text = "Title\nIOM welcomes the order. The order is long. “Good,” said Ana.\nIOM\nBoilerplate line";
        let doc = DocumentText::new(text.to_string());
        let cov = Coverage { texts: vec![("a.txt", &doc)] };
        let no_fact = vec![NoFact { document: "a.txt".into(), sentence: "Title".into(), reason: "heading".into() }];
        let spans = vec![span("IOM welcomes the order", Cites::Statement), span("IOM", Cites::Name)];
        let r = cov.report(&spans, &no_fact);
        let uncited: Vec<(&str, bool)> = r.uncited.iter().map(|u| (u.sentence.as_str(), u.statement)).collect();
        assert_eq!(uncited, [("The order is long.", false), ("“Good,” said Ana.", true), ("Boilerplate line", false)]);
        assert_eq!(r.no_fact, 1);
        assert!(r.fails() && r.problems.is_empty());
        assert_eq!(r.uncited[1].offset, text.find("“Good").unwrap());

        let spans = vec![
            span("IOM welcomes the order", Cites::Statement),
            span("IOM", Cites::Name),
            span("said Ana", Cites::Statement),
        ];
        let no_fact = [
            no_fact,
            vec![
                NoFact { document: "a.txt".into(), sentence: "The order is long.".into(), reason: "no fact".into() },
                NoFact { document: "a.txt".into(), sentence: "Boilerplate line".into(), reason: "boilerplate".into() },
            ],
        ]
        .concat();
        let r = cov.report(&spans, &no_fact);
        assert!(r.uncited.is_empty() && !r.fails(), "{r}");
    }

    #[test]
    fn a_statement_is_read_only_when_a_relation_gives_it_a_speaker() {
        let text = "“We must act,” said Ana, EXO Director.\nThe Order was signed.";
        let doc = DocumentText::new(text.to_string());
        let cov = Coverage { texts: vec![("a.txt", &doc)] };
        // A title cited from the attribution covers the fact sentence, not the statement.
        let r =
            cov.report(&[span("said Ana, EXO Director", Cites::Fact), span("The Order was signed.", Cites::Fact)], &[]);
        assert_eq!(r.uncited.len(), 1);
        assert!(r.uncited[0].statement && r.fails());
        let r = cov.report(
            &[span("said Ana, EXO Director", Cites::Statement), span("The Order was signed.", Cites::Fact)],
            &[],
        );
        assert!(r.uncited.is_empty() && !r.fails(), "{r}");
    }

    #[test]
    fn a_sentence_listed_as_stating_no_fact_must_not_be_cited() {
        let doc = DocumentText::new("Published 3 March 2021.\nNothing here.".to_string());
        let cov = Coverage { texts: vec![("a.txt", &doc)] };
        let no_fact =
            vec![NoFact { document: "a.txt".into(), sentence: "Published 3 March 2021.".into(), reason: "x".into() }];
        let r = cov.report(&[span("3 March 2021", Cites::Fact), span("Nothing here.", Cites::Fact)], &no_fact);
        assert_eq!(r.problems.len(), 1, "{r}");
        assert!(r.problems[0].to_string().contains("listed as stating no fact, but the seed cites it"), "{r}");
        assert!(r.fails());
        // Not cited: listed is fine.
        let r = cov.report(&[span("Nothing here.", Cites::Fact)], &no_fact);
        assert!(r.problems.is_empty() && !r.fails(), "{r}");
    }

    #[test]
    fn a_name_covers_only_a_sentence_that_is_the_name() {
        let doc = DocumentText::new("IOM said so.\nIOM".to_string());
        let cov = Coverage { texts: vec![("a.txt", &doc)] };
        let r = cov.report(&[span("IOM", Cites::Name)], &[]);
        assert_eq!(r.uncited.len(), 1);
        assert!(r.uncited[0].statement);
    }

    #[test]
    fn a_no_fact_entry_must_be_a_whole_sentence_with_a_reason() {
        let doc = DocumentText::new("One sentence here. Another.".to_string());
        let cov = Coverage { texts: vec![("a.txt", &doc)] };
        let no_fact = vec![
            NoFact { document: "a.txt".into(), sentence: "One sentence".into(), reason: "x".into() },
            NoFact { document: "a.txt".into(), sentence: "Another.".into(), reason: " ".into() },
            NoFact { document: "b.txt".into(), sentence: "Another.".into(), reason: "x".into() },
        ];
        let r = cov.report(&[], &no_fact);
        let fields: Vec<String> = r.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(fields.len(), 3, "{fields:?}");
        assert!(fields[0].contains("sentence #1") && fields[0].contains("not a whole sentence"));
        assert!(fields[1].contains("sentence #2") && fields[1].contains("reason"));
        assert!(fields[2].contains("sentence #3") && fields[2].contains("no document"));
        assert!(r.fails());
    }

    #[test]
    fn a_quote_not_in_the_text_byte_for_byte_is_a_problem() {
        let doc = DocumentText::new("Email:\u{a0}x@iom.int".to_string());
        let cov = Coverage { texts: vec![("a.txt", &doc)] };
        let r = cov.report(&[span("Email: x@iom.int", Cites::Fact), span("Email: x", Cites::Name)], &[]);
        assert_eq!(r.problems.len(), 2, "{r}");
        assert!(r.fails());
    }
}
