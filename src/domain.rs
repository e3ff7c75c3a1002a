//! The model: entities, relations, citations and the validated values they are made of.
//!
//! Everything here is plain data with serde. Values are parsed at the edge (seed files, API
//! inputs) into these types, so an invalid slug or date cannot exist past that point. Nothing in
//! this module knows about sled, petgraph or GraphQL.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// An error in a single value, phrased for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in seed files and stored records.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, InvalidValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(InvalidValue(format!(
                        "unknown {} `{}` (expected one of: {})",
                        stringify!($name),
                        excerpt(s),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

string_enum! {
    /// What sort of thing an entity is. Each kind is one GraphQL object type.
    EntityKind {
        Organization = "organization",
        Office = "office",
        Person = "person",
        Policy = "policy",
        Pillar = "pillar",
        Place = "place",
        Event = "event",
        Document = "document",
    }
}

string_enum! {
    /// What a relation says. The direction is always `from` → `to` as documented in `seed/README.md`.
    RelationKind {
        OfficeOf = "office_of",
        LocatedIn = "located_in",
        PartOf = "part_of",
        HoldsRole = "holds_role",
        MemberOf = "member_of",
        PartnersWith = "partners_with",
        ContactFor = "contact_for",
        Signed = "signed",
        Issued = "issued",
        Launched = "launched",
        CallsFor = "calls_for",
        HasPillar = "has_pillar",
        Implements = "implements",
        Funds = "funds",
        Assists = "assists",
        ParticipatedIn = "participated_in",
        Organized = "organized",
        Consulted = "consulted",
        Terminates = "terminates",
        Concerns = "concerns",
        Authored = "authored",
        Welcomes = "welcomes",
        Supports = "supports",
        Criticizes = "criticizes",
        WarnsAbout = "warns_about",
        Congratulates = "congratulates",
        States = "states",
        Mentions = "mentions",
    }
}

/// A human-readable, URL-safe name for an entity: lowercase ASCII letters and digits in words
/// joined by single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = !s.is_empty()
            && s.len() <= limits::SLUG
            && s.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if ok {
            Ok(Slug(s.to_owned()))
        } else {
            Err(InvalidValue(format!(
                "invalid slug `{}`: use lowercase letters a-z, digits and single hyphens (at most {} characters)",
                excerpt(s),
                limits::SLUG
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        Slug::parse(&s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A calendar date known to a year, a month or a day (`1951`, `2023-07`, `2021-02-04`): the
/// sources often give no more than a year, and a made-up day would be a false statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartialDate {
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
}

impl PartialDate {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = || {
            InvalidValue(format!(
                "invalid date `{}`: expected YYYY, YYYY-MM or YYYY-MM-DD (a real calendar date)",
                excerpt(s)
            ))
        };
        let parts: Vec<&str> = s.split('-').collect();
        let num = |p: &str, len: usize| -> Result<u32, InvalidValue> {
            if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (year, month, day) = match parts.as_slice() {
            [y] => (num(y, 4)?, None, None),
            [y, m] => (num(y, 4)?, Some(num(m, 2)?), None),
            [y, m, d] => (num(y, 4)?, Some(num(m, 2)?), Some(num(d, 2)?)),
            _ => return Err(bad()),
        };
        if let Some(m) = month {
            if !(1..=12).contains(&m) {
                return Err(bad());
            }
        }
        if let (Some(m), Some(d)) = (month, day) {
            chrono::NaiveDate::from_ymd_opt(year as i32, m, d).ok_or_else(bad)?;
        }
        Ok(PartialDate { year: year as i32, month: month.map(|m| m as u8), day: day.map(|d| d as u8) })
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    /// The first day the date may mean, as (year, month, day): `2021` → 2021-01-01.
    pub fn first_day(&self) -> (i32, u8, u8) {
        (self.year, self.month.unwrap_or(1), self.day.unwrap_or(1))
    }

    /// The last day the date may mean: `2021` → 2021-12-31 (a day past the month's end still
    /// compares as after every day of it).
    pub fn last_day(&self) -> (i32, u8, u8) {
        (self.year, self.month.unwrap_or(12), self.day.unwrap_or(31))
    }

    /// Whether both can be true of one day: one is the other or a more precise form of it
    /// (`2021` and `2021-02-04` agree; `2021-02-04` and `2021-02-05` do not).
    pub fn agrees(&self, other: &PartialDate) -> bool {
        let same = |a: Option<u8>, b: Option<u8>| a.is_none() || b.is_none() || a == b;
        self.year == other.year
            && same(self.month, other.month)
            && (self.month.is_none() || other.month.is_none() || same(self.day, other.day))
    }
}

/// A span of days that relations are asked about: `validAt` (one date, `from` = `to`) or a
/// date range (`dateFrom`/`dateTo`, either end open).
///
/// **How partial dates compare.** Every partial date stands for the days it may mean: `2024` is
/// 2024-01-01..2024-12-31, `2024-05` is the month. A relation holds from the first day its
/// `validFrom` may mean to the last day its `validUntil` may mean (an absent end is open), and it
/// is admitted when that period and the window share at least one day: a relation "from 2024-05"
/// is valid at `2024-05-10` (the sources date its start to the month, and a made-up day would
/// claim more than they say) and at `2024` (it held during part of that year), but not at
/// `2024-04`. The test is "may have held then", never "certainly held all of the window": a
/// question asked by date must not lose an answer the sources do not rule out. A relation with
/// neither date is admitted unless `strict`; one with a single date is open on the other side
/// whatever `strict` says, since the sources state one end of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    pub from: Option<PartialDate>,
    pub to: Option<PartialDate>,
    /// Leave out relations with neither `validFrom` nor `validUntil`.
    pub strict: bool,
}

impl DateWindow {
    /// The window of one date.
    pub fn at(date: PartialDate, strict: bool) -> DateWindow {
        DateWindow { from: Some(date), to: Some(date), strict }
    }

    /// Whether a relation valid from `valid_from` until `valid_until` may have held on a day of
    /// this window.
    pub fn admits(&self, valid_from: Option<PartialDate>, valid_until: Option<PartialDate>) -> bool {
        if valid_from.is_none() && valid_until.is_none() {
            return !self.strict;
        }
        let starts_in_time = match (valid_from, self.to) {
            (Some(f), Some(t)) => f.first_day() <= t.last_day(),
            _ => true,
        };
        let lasts_long_enough = match (valid_until, self.from) {
            (Some(u), Some(f)) => u.last_day() >= f.first_day(),
            _ => true,
        };
        starts_in_time && lasts_long_enough
    }
}

impl TryFrom<String> for PartialDate {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        PartialDate::parse(&s)
    }
}

impl From<PartialDate> for String {
    fn from(d: PartialDate) -> String {
        d.to_string()
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Value rules: what a free-text field may hold, how many aliases, citations and quantities a
// record may have, and that a quote is in its document. Seed files (`seed::load`) and edits
// (`edit::plan`) both go through these, so a value one accepts the other accepts too.
// ---------------------------------------------------------------------------------------------

/// What a free-text field may hold: at most `max_chars` characters (Unicode scalar values, counted
/// after trimming surrounding whitespace) and no control or invisible formatting character (see
/// [`forbidden_char`]). A multi-line field may also hold line feeds and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub max_chars: usize,
    pub multi_line: bool,
}

/// The limits on record values. The curated seed's longest value of each field is noted for
/// scale: every limit leaves it several times the room.
pub mod limits {
    use super::TextRule;

    /// An entity's name (seed's longest: 139).
    pub const NAME: TextRule = TextRule::single_line(300);
    /// One alias (seed's longest: 68).
    pub const ALIAS: TextRule = TextRule::single_line(300);
    /// An entity's sub-type, `type` (seed's longest: 30).
    pub const SUBTYPE: TextRule = TextRule::single_line(100);
    /// An entity's summary, one sentence (seed's longest: 263).
    pub const SUMMARY: TextRule = TextRule::single_line(2_000);
    /// A URL (seed's longest: 101).
    pub const URL: TextRule = TextRule::single_line(2_000);
    /// A document's file name in `documents/` (seed's longest: 24).
    pub const FILE: TextRule = TextRule::single_line(200);
    /// A relation's title (seed's longest: 108).
    pub const TITLE: TextRule = TextRule::single_line(500);
    /// A quote, of a citation or a quantity (seed's longest: 375). Multi-line: a verbatim quote
    /// may run across a line break of its document.
    pub const QUOTE: TextRule = TextRule::multi_line(2_000);
    /// What a quantity counts (seed's longest: 58).
    pub const QUANTITY_NAME: TextRule = TextRule::single_line(200);
    /// A quantity's unit (seed's longest: 14).
    pub const UNIT: TextRule = TextRule::single_line(100);
    /// A slug, in ASCII characters (seed's longest: 63).
    pub const SLUG: usize = 128;
    /// A relation ID given in a seed file, in ASCII characters (seed's longest: 36).
    pub const RELATION_ID: usize = 200;
    /// Aliases of one entity (seed's most: 4).
    pub const ALIASES: usize = 100;
    /// Citations of one relation (seed's most: 5).
    pub const CITATIONS: usize = 50;
    /// Quantities of one entity or relation (seed's most: 2).
    pub const QUANTITIES: usize = 50;
}

/// Why a value is refused, without the field it is in (see [`FieldError`]). Messages never
/// repeat more than a short excerpt of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("must not be empty")]
    Empty,
    #[error("is {len} characters long; at most {max} are allowed")]
    TooLong { len: usize, max: usize },
    #[error(
        "contains U+{code:04X} ({what}) at character {at}; control characters, bidirectional overrides and \
         invisible formatting characters are not allowed{}",
        if *.multi_line { " (line feeds and tabs are)" } else { "" }
    )]
    Forbidden { code: u32, what: &'static str, at: usize, multi_line: bool },
    #[error("has {count} entries; at most {max} are allowed")]
    TooMany { count: usize, max: usize },
    #[error("must be a finite number")]
    NotFinite,
    #[error("not found verbatim in document `{document}` (quotes are compared byte for byte: a no-break space is not a space)")]
    NotInDocument { document: String },
    #[error(
        "cannot be checked: the text of document `{document}` is not known to this server, and a quote must be \
         verbatim in its document; cite the document without a quote"
    )]
    DocumentTextUnknown { document: String },
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
}

impl ValueError {
    /// This error, in the field at `path` (`name`, `aliases[3]`, `citations[0].quote`).
    pub fn at(self, path: impl Into<String>) -> FieldError {
        FieldError { field: path.into(), error: self }
    }
}

/// A refused value and where it is: the field's path in the record or input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {error}")]
pub struct FieldError {
    pub field: String,
    pub error: ValueError,
}

/// Why `c` may not appear in a free-text field, or `None` when it may. Refused: the C0 controls
/// (a multi-line field allows line feed and tab), DEL, the C1 controls, the bidirectional
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), and the invisible
/// characters that can make one text pass for another or hide text: zero-width space, word
/// joiner and invisible operators, byte order mark, line and paragraph separators, deprecated
/// format characters, interlinear annotations, tags and noncharacters. Left alone: zero-width
/// joiner and non-joiner and the left-to-right and right-to-left marks, which scripts and emoji
/// need, and the soft hyphen.
pub fn forbidden_char(c: char, multi_line: bool) -> Option<&'static str> {
    Some(match c {
        '\n' | '\t' if multi_line => return None,
        '\0' => "NUL",
        '\t' => "a tab",
        '\n' | '\r' => "a line break",
        '\u{1b}' => "an escape character",
        '\u{1}'..='\u{1f}' => "a control character",
        '\u{7f}' => "DEL",
        '\u{80}'..='\u{9f}' => "a C1 control character",
        '\u{202a}'..='\u{202e}' => "a bidirectional embedding or override",
        '\u{2066}'..='\u{2069}' => "a bidirectional isolate",
        '\u{200b}' => "a zero-width space",
        '\u{2028}' | '\u{2029}' => "a line or paragraph separator",
        '\u{2060}'..='\u{2064}' => "a word joiner or invisible operator",
        '\u{206a}'..='\u{206f}' => "a deprecated format character",
        '\u{180e}' => "a Mongolian vowel separator",
        '\u{feff}' => "a byte order mark",
        '\u{fff9}'..='\u{fffb}' => "an interlinear annotation character",
        '\u{e0000}'..='\u{e007f}' => "a tag character",
        c if (c as u32) & 0xfffe == 0xfffe || ('\u{fdd0}'..='\u{fdef}').contains(&c) => "a noncharacter",
        _ => return None,
    })
}

/// A short excerpt of a value for an error message, with control and invisible characters
/// shown as U+FFFD: a message never carries all of what a client sent (it may be 250 KB), nor
/// escape sequences a terminal would obey.
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String =
        s.chars().take(MAX).map(|c| if forbidden_char(c, false).is_some() { '\u{fffd}' } else { c }).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

impl TextRule {
    pub const fn single_line(max_chars: usize) -> TextRule {
        TextRule { max_chars, multi_line: false }
    }

    pub const fn multi_line(max_chars: usize) -> TextRule {
        TextRule { max_chars, multi_line: true }
    }

    /// `value` without surrounding whitespace, if it keeps to the rule; a blank value gives `""`.
    pub fn check<'a>(&self, value: &'a str) -> Result<&'a str, ValueError> {
        let v = value.trim();
        // Bytes bound characters from above: count only when the bytes could be too many.
        if v.len() > self.max_chars {
            let len = v.chars().count();
            if len > self.max_chars {
                return Err(ValueError::TooLong { len, max: self.max_chars });
            }
        }
        let bad = v.chars().enumerate().find_map(|(at, c)| forbidden_char(c, self.multi_line).map(|w| (at, c, w)));
        match bad {
            Some((at, c, what)) => Err(ValueError::Forbidden { code: c as u32, what, at, multi_line: self.multi_line }),
            None => Ok(v),
        }
    }

    /// A required field: trimmed, not blank.
    pub fn required(&self, field: &str, value: &str) -> Result<String, FieldError> {
        match self.check(value) {
            Ok("") => Err(ValueError::Empty.at(field)),
            Ok(v) => Ok(v.to_owned()),
            Err(e) => Err(e.at(field)),
        }
    }

    /// An optional field: trimmed; blank is absent.
    pub fn optional(&self, field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
        match value.map(|v| self.check(v)) {
            None | Some(Ok("")) => Ok(None),
            Some(Ok(v)) => Ok(Some(v.to_owned())),
            Some(Err(e)) => Err(e.at(field)),
        }
    }
}

/// At most `max` entries in the list at `field`.
pub fn check_count(field: &str, count: usize, max: usize) -> Result<(), FieldError> {
    if count > max {
        return Err(ValueError::TooMany { count, max }.at(field));
    }
    Ok(())
}

/// An optional URL: a text field that, when present, is an `http://` or `https://` URL
/// without spaces.
pub fn url(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(v) = limits::URL.optional(field, value)? else { return Ok(None) };
    let scheme = |p: &str| v.as_bytes().get(..p.len()).is_some_and(|b| b.eq_ignore_ascii_case(p.as_bytes()));
    if !(scheme("http://") || scheme("https://")) || v.contains(char::is_whitespace) {
        let message = format!("`{}` is not an http(s) URL", excerpt(&v));
        return Err(ValueError::Invalid(InvalidValue(message)).at(field));
    }
    Ok(Some(v))
}

/// A document's file: a plain file name in `documents/` (no directory, not hidden).
pub fn file_name(field: &str, value: &str) -> Result<String, FieldError> {
    let v = limits::FILE.required(field, value)?;
    if v.contains(['/', '\\']) || v.starts_with('.') {
        let message = format!("`{}` must be a plain file name in documents/", excerpt(&v));
        return Err(ValueError::Invalid(InvalidValue(message)).at(field));
    }
    Ok(v)
}

/// A relation ID given by hand: ASCII letters, digits and `- _ : .`.
pub fn relation_id(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= limits::RELATION_ID
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if !ok {
        let message = format!(
            "`{}` is not a valid ID (letters, digits, - _ : . only; at most {} characters)",
            excerpt(value),
            limits::RELATION_ID
        );
        return Err(ValueError::Invalid(InvalidValue(message)).at(field));
    }
    Ok(value.to_owned())
}

/// A quantity's own values: `name` and `unit` required, `value` finite, `quote` optional; its
/// `document` is left for the caller to resolve, and to check the quote against (see
/// [`DocumentTexts`]). `field` is the quantity's path (`quantities[1]`).
pub fn quantity(field: &str, name: &str, value: f64, unit: &str, quote: Option<&str>) -> Result<Quantity, FieldError> {
    let name = limits::QUANTITY_NAME.required(&format!("{field}.name"), name)?;
    if !value.is_finite() {
        return Err(ValueError::NotFinite.at(format!("{field}.value")));
    }
    let unit = limits::UNIT.required(&format!("{field}.unit"), unit)?;
    let quote = limits::QUOTE.optional(&format!("{field}.quote"), quote)?;
    Ok(Quantity { name, value, unit, quote, document: None })
}

/// Where a quote is in its document: `offset` and `length` in characters (Unicode scalar
/// values, as the API and the value limits count them) of the document's text as stored in its
/// file, the first place the quote occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: usize,
    pub length: usize,
    /// The same place in bytes of the UTF-8 text, for slicing it.
    pub byte_offset: usize,
    pub byte_length: usize,
}

/// One document's text, with what turns a byte position into a character position in
/// O(block) rather than O(text): a located quote is a byte range, the API speaks characters.
#[derive(Debug)]
pub struct DocumentText {
    text: String,
    sha256: [u8; 32],
    /// `chars_before[i]`: characters that start before byte `i * CHAR_BLOCK`.
    chars_before: Vec<u32>,
    /// Where the quotes of the graph are: filled by the seed's one-pass check and by
    /// [`DocumentText::located`] at the first read of a quote, so that a page of citations of a
    /// large document does not search its text once per citation per request. Only quotes
    /// that are found go in: those are the graph's own (every stored quote was checked), so
    /// the memo is bounded by them, not by what clients send.
    located: std::sync::RwLock<HashMap<Box<str>, Span>>,
}

/// Bytes between two character-count checkpoints: at most this many bytes are counted to turn a
/// byte offset into a character offset (a 2 MB text keeps 2,048 checkpoints).
const CHAR_BLOCK: usize = 1024;

/// Whether a byte starts a character (is not a UTF-8 continuation byte).
fn starts_char(b: u8) -> bool {
    (b as i8) >= -0x40
}

impl DocumentText {
    pub fn new(text: String) -> DocumentText {
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(text.as_bytes()).into();
        let mut chars_before = Vec::with_capacity(text.len() / CHAR_BLOCK + 1);
        let mut count = 0u32;
        for block in text.as_bytes().chunks(CHAR_BLOCK) {
            chars_before.push(count);
            count += block.iter().filter(|b| starts_char(**b)).count() as u32;
        }
        DocumentText { text, sha256, chars_before, located: Default::default() }
    }

    /// [`DocumentText::locate`], remembered: for reading the graph's own quotes.
    pub fn located(&self, quote: &str) -> Option<Span> {
        let memo = self.located.read().unwrap_or_else(|e| e.into_inner());
        if let Some(span) = memo.get(quote) {
            return Some(*span);
        }
        drop(memo);
        let span = self.locate(quote)?;
        self.remember(quote, span);
        Some(span)
    }

    fn remember(&self, quote: &str, span: Span) {
        self.located.write().unwrap_or_else(|e| e.into_inner()).insert(quote.into(), span);
    }

    /// The text just before `span`, the span's own text and the text just after it, up to
    /// `chars` characters (Unicode scalar values) on each side, fewer at the text's ends.
    pub fn around(&self, span: Span, chars: usize) -> [&str; 3] {
        let text = self.text.as_str();
        let (start, end) = (span.byte_offset, span.byte_offset + span.byte_length);
        let before_at = text[..start].char_indices().rev().take(chars).last().map_or(start, |(i, _)| i);
        let after_at = text[end..].char_indices().nth(chars).map_or(text.len(), |(i, _)| end + i);
        [&text[before_at..start], &text[start..end], &text[end..after_at]]
    }

    /// The text, as its file holds it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// SHA-256 of the file's bytes, lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Characters before byte `at` (a character boundary).
    pub fn char_offset(&self, at: usize) -> usize {
        let block = at / CHAR_BLOCK;
        let Some(&before) = self.chars_before.get(block) else { return self.text.chars().count() };
        let tail = &self.text.as_bytes()[block * CHAR_BLOCK..at];
        before as usize + tail.iter().filter(|b| starts_char(**b)).count()
    }

    /// The span of the bytes `start..start + len`, which hold `quote`.
    fn span(&self, start: usize, quote: &str) -> Span {
        Span {
            offset: self.char_offset(start),
            length: quote.chars().count(),
            byte_offset: start,
            byte_length: quote.len(),
        }
    }

    /// Where `quote` first occurs, byte for byte; `None` when it does not (or is empty).
    pub fn locate(&self, quote: &str) -> Option<Span> {
        if quote.is_empty() {
            return None;
        }
        self.text.find(quote).map(|at| self.span(at, quote))
    }

    /// Where each of `quotes` first occurs, in one pass over the text however many there are:
    /// one search per quote is O(quotes × text), minutes for 50,000 quotes of a 2 MB text.
    pub fn locate_all(&self, quotes: &[&str]) -> Vec<Option<Span>> {
        self.locate_all_then(quotes, true)
    }

    /// [`DocumentText::locate_all`] without remembering what it found: for a bulk import's
    /// millions of quotes, whose memo would outweigh the texts it serves.
    pub fn find_all(&self, quotes: &[&str]) -> Vec<Option<Span>> {
        self.locate_all_then(quotes, false)
    }

    fn locate_all_then(&self, quotes: &[&str], remember: bool) -> Vec<Option<Span>> {
        let mut out = vec![None; quotes.len()];
        // The same quote is often cited many times: search for each once.
        let mut distinct: HashMap<&str, usize> = HashMap::new();
        let mut patterns: Vec<&str> = Vec::new();
        let mut which: Vec<usize> = Vec::with_capacity(quotes.len());
        for q in quotes {
            let next = patterns.len();
            let id = *distinct.entry(q).or_insert_with(|| {
                patterns.push(q);
                next
            });
            which.push(id);
        }
        let searchable: Vec<usize> = (0..patterns.len()).filter(|&i| !patterns[i].is_empty()).collect();
        if searchable.len() <= 2 {
            for (i, q) in quotes.iter().enumerate() {
                out[i] = self.locate(q);
            }
            return out;
        }
        let found = first_matches(&self.text, &searchable.iter().map(|&i| patterns[i]).collect::<Vec<_>>());
        let mut by_pattern = vec![None; patterns.len()];
        for (k, start) in found.into_iter().enumerate() {
            let i = searchable[k];
            by_pattern[i] = start.map(|at| self.span(at, patterns[i]));
        }
        for (slot, id) in out.iter_mut().zip(which) {
            *slot = by_pattern[id];
        }
        if remember {
            for (q, span) in patterns.iter().zip(&by_pattern) {
                if let Some(span) = span {
                    self.remember(q, *span);
                }
            }
        }
        out
    }
}

/// The byte offset of the first occurrence of each pattern in `text`, by one Aho-Corasick scan.
/// Overlapping matches are reported, so a quote inside another quote, or overlapping it, is
/// found too; the scan stops once every pattern has been seen.
fn first_matches(text: &str, patterns: &[&str]) -> Vec<Option<usize>> {
    let mut first = vec![None; patterns.len()];
    // One scan per automaton: a DFA (what `new` picks for a few patterns) costs more to build
    // than it saves on one pass over a document; a bulk import builds hundreds of thousands.
    let built =
        aho_corasick::AhoCorasick::builder().kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA)).build(patterns);
    let Ok(ac) = built else {
        // Only a pattern set too large for the automaton's limits fails; search one by one.
        return patterns.iter().map(|p| text.find(p)).collect();
    };
    let mut missing = patterns.len();
    for m in ac.find_overlapping_iter(text) {
        let slot = &mut first[m.pattern().as_usize()];
        if slot.is_none() {
            *slot = Some(m.start());
            missing -= 1;
            if missing == 0 {
                break;
            }
        }
    }
    first
}

/// The source documents' texts by file name (a document entity's `file`): what every quote is
/// checked against and located in. Loaded from the seed directory's `documents/`; cheap to clone.
///
/// A quote is accepted when it is a substring of its document's text **byte for byte**: a no-break
/// space is not a space, curly and straight quotes differ, and a quote running over a line break
/// holds that line break. The only change ever made to a quote is the trimming of its ends that
/// every value gets. So its offset is where those very characters are, and anyone can check it
/// with a plain search of the file. A quote from a document whose text is not known (one made
/// through the API, which has no file, or a server started without its seed directory) cannot be
/// checked and is refused; the document can still be cited without a quote.
#[derive(Debug, Clone, Default)]
pub struct DocumentTexts(Arc<HashMap<String, Arc<DocumentText>>>);

impl DocumentTexts {
    /// From `(file name, text)` pairs, the texts as read.
    pub fn from_texts(texts: impl IntoIterator<Item = (String, String)>) -> DocumentTexts {
        DocumentTexts(Arc::new(texts.into_iter().map(|(f, t)| (f, Arc::new(DocumentText::new(t)))).collect()))
    }

    /// These texts with `other`'s added (`other`'s text wins for a file in both).
    pub fn merged(&self, other: &DocumentTexts) -> DocumentTexts {
        if self.is_empty() {
            return other.clone();
        }
        let mut all = (*self.0).clone();
        all.extend(other.0.iter().map(|(f, t)| (f.clone(), t.clone())));
        DocumentTexts(Arc::new(all))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains_file(&self, file: &str) -> bool {
        self.0.contains_key(file)
    }

    /// The text of the document whose file is `file`.
    pub fn get(&self, file: &str) -> Option<&Arc<DocumentText>> {
        self.0.get(file)
    }

    /// Where `quote` is in the text of `file`; `None` when it is not there or the text is unknown.
    pub fn locate(&self, file: &str, quote: &str) -> Option<Span> {
        self.0.get(file)?.locate(quote)
    }

    /// Whether `quote` is in the text of the document whose file is `file`; `document` names the
    /// document in the error.
    pub fn check_quote(&self, document: &str, file: Option<&str>, quote: &str) -> Result<Span, ValueError> {
        let Some(text) = file.and_then(|f| self.0.get(f)) else {
            return Err(ValueError::DocumentTextUnknown { document: document.into() });
        };
        text.locate(quote).ok_or_else(|| ValueError::NotInDocument { document: document.into() })
    }
}

/// Where a statement is written: a source document (by its entity ID) and, where one sentence
/// states it, that sentence verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// A number a source states, with its unit and the words it was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub name: String,
    pub value: f64,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Entity ID of the document the number is read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// A thing in the world: an organization, a person, a policy, a document…
///
/// Its JSON form is flat, in this field order (the seed's digests are of these bytes): `extra`'s
/// fields sit between `date` and `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Stable identifier; never changes, never reused (a renamed slug keeps its ID).
    pub id: String,
    pub slug: Slug,
    pub kind: EntityKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<PartialDate>,
    /// What most entities lack, behind one pointer: see [`Extra`].
    #[serde(flatten)]
    pub extra: Extra,
    /// Bumped on every change; the basis of optimistic concurrency.
    #[serde(default)]
    pub version: u64,
}

/// The fields of an entity that most entities do not have.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For documents: the file name of the source text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<Quantity>,
    /// Where its date, end date, URL, summary and aliases are written (its quantities carry
    /// their own). Records stored before facts had sources read as having none.
    #[serde(default, skip_serializing_if = "FactSources::is_empty")]
    pub sources: FactSources,
}

impl EntityExtra {
    const EMPTY: EntityExtra = EntityExtra {
        end_date: None,
        url: None,
        file: None,
        quantities: Vec::new(),
        sources: FactSources {
            date: Vec::new(),
            end_date: Vec::new(),
            url: Vec::new(),
            summary: Vec::new(),
            aliases: BTreeMap::new(),
        },
    };

    fn is_empty(&self) -> bool {
        self.end_date.is_none()
            && self.url.is_none()
            && self.file.is_none()
            && self.quantities.is_empty()
            && self.sources.is_empty()
    }
}

static NO_EXTRA: EntityExtra = EntityExtra::EMPTY;

/// An entity's [`EntityExtra`], kept behind a pointer only when it has any of it: the index
/// holds a million entities, and these fields inline made each 368 bytes (a 384-byte allocation)
/// where most need under 200. It reads as the fields (an absent one as empty) and allocates
/// when written to; equality and serde are the fields'.
#[derive(Clone, Default)]
pub struct Extra(Option<Box<EntityExtra>>);

impl From<EntityExtra> for Extra {
    fn from(extra: EntityExtra) -> Extra {
        Extra((!extra.is_empty()).then(|| Box::new(extra)))
    }
}

impl std::ops::Deref for Extra {
    type Target = EntityExtra;
    fn deref(&self) -> &EntityExtra {
        self.0.as_deref().unwrap_or(&NO_EXTRA)
    }
}

impl std::ops::DerefMut for Extra {
    fn deref_mut(&mut self) -> &mut EntityExtra {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for Extra {
    fn eq(&self, other: &Extra) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Extra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for Extra {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Extra, D::Error> {
        EntityExtra::deserialize(d).map(Extra::from)
    }
}

/// The citations of an entity's own facts, field by field. The seed must cite a stated date,
/// end date or URL (`seed::load` refuses one without); an editor may, and may cite a summary or
/// an alias, so that an editor's uncited fact shows as such (`sourceCount` 0) instead of being
/// refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FactSources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub date: Vec<Citation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub end_date: Vec<Citation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url: Vec<Citation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<Citation>,
    /// By alias, as the alias is spelled in `aliases`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Vec<Citation>>,
}

impl FactSources {
    pub fn is_empty(&self) -> bool {
        self.date.is_empty()
            && self.end_date.is_empty()
            && self.url.is_empty()
            && self.summary.is_empty()
            && self.aliases.is_empty()
    }
}

/// A typed, directed, cited statement about two entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    pub id: String,
    pub kind: RelationKind,
    /// Entity ID of the source.
    pub from: String,
    /// Entity ID of the target.
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<PartialDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantities: Vec<Quantity>,
    pub citations: Vec<Citation>,
    #[serde(default)]
    pub version: u64,
}

impl Relation {
    /// How many distinct documents cite it.
    pub fn source_count(&self) -> usize {
        let mut docs: Vec<&str> = self.citations.iter().map(|c| c.document.as_str()).collect();
        docs.sort_unstable();
        docs.dedup();
        docs.len()
    }
}

/// A relation read in place from its stored bytes: the strings a start only looks up (the
/// endpoints, the cited documents) borrow those bytes instead of being copied. Reads the same
/// serialized form as [`Relation`] (a test checks that the two agree).
#[derive(Debug, Deserialize)]
pub struct RelationView<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub kind: RelationKind,
    #[serde(borrow)]
    pub from: Cow<'a, str>,
    #[serde(borrow)]
    pub to: Cow<'a, str>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub order: Option<i32>,
    #[serde(default)]
    pub valid_from: Option<PartialDate>,
    #[serde(default)]
    pub valid_until: Option<PartialDate>,
    #[serde(default)]
    pub quantities: Vec<Quantity>,
    #[serde(borrow)]
    pub citations: Vec<CitationView<'a>>,
    #[serde(default)]
    pub version: u64,
}

/// A [`Citation`] read in place.
#[derive(Debug, Deserialize)]
pub struct CitationView<'a> {
    #[serde(borrow)]
    pub document: Cow<'a, str>,
    #[serde(default, borrow)]
    pub quote: Option<Cow<'a, str>>,
}

/// A relation already in hand, as a view that owns its strings (nothing is copied).
impl From<Relation> for RelationView<'static> {
    fn from(r: Relation) -> RelationView<'static> {
        RelationView {
            id: Cow::Owned(r.id),
            kind: r.kind,
            from: Cow::Owned(r.from),
            to: Cow::Owned(r.to),
            title: r.title,
            order: r.order,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            quantities: r.quantities,
            citations: r
                .citations
                .into_iter()
                .map(|c| CitationView { document: Cow::Owned(c.document), quote: c.quote.map(Cow::Owned) })
                .collect(),
            version: r.version,
        }
    }
}

impl RelationView<'_> {
    pub fn to_relation(&self) -> Relation {
        Relation {
            id: self.id.to_string(),
            kind: self.kind,
            from: self.from.to_string(),
            to: self.to.to_string(),
            title: self.title.clone(),
            order: self.order,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            quantities: self.quantities.clone(),
            citations: self
                .citations
                .iter()
                .map(|c| Citation { document: c.document.to_string(), quote: c.quote.as_ref().map(|q| q.to_string()) })
                .collect(),
            version: self.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity_json(extra: EntityExtra) -> Entity {
        Entity {
            id: "e".into(),
            slug: Slug::parse("e").unwrap(),
            kind: EntityKind::Document,
            subtype: Some("report".into()),
            name: "E".into(),
            aliases: vec!["Eh".into()],
            summary: Some("s".into()),
            date: Some(PartialDate::parse("2020").unwrap()),
            extra: extra.into(),
            version: 3,
        }
    }

    /// The seed keeps a digest of each record's JSON, so the fields moved behind `extra` must
    /// still come out in their old places, and an entity without them must not hold a box.
    #[test]
    fn an_entity_is_flat_json_in_its_old_field_order() {
        let cite = || vec![Citation { document: "d".into(), quote: Some("q".into()) }];
        let full = entity_json(EntityExtra {
            end_date: Some(PartialDate::parse("2021-02").unwrap()),
            url: Some("https://example.org".into()),
            file: Some("e.md".into()),
            quantities: vec![Quantity { name: "n".into(), value: 1.0, unit: "u".into(), quote: None, document: None }],
            sources: FactSources { url: cite(), ..FactSources::default() },
        });
        let json = serde_json::to_string(&full).unwrap();
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Value>(&json).unwrap().as_object().unwrap().keys().cloned().collect();
        let order = ["id", "slug", "kind", "subtype", "name", "aliases", "summary", "date", "end_date", "url"];
        let order = order.iter().chain(&["file", "quantities", "sources", "version"]);
        let positions: Vec<usize> = order.map(|k| json.find(&format!("\"{k}\":")).expect(k)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert_eq!(keys.len(), 14);
        assert_eq!(serde_json::from_str::<Entity>(&json).unwrap(), full);

        let bare = entity_json(EntityExtra::default());
        assert!(bare.extra.0.is_none());
        let back: Entity = serde_json::from_str(&serde_json::to_string(&bare).unwrap()).unwrap();
        assert!(back.extra.0.is_none(), "an entity without extra fields reads back without a box");
        assert_eq!(back, bare);
        // A box left empty by an edit equals no box.
        let mut emptied = bare.clone();
        emptied.extra.url = None;
        assert!(emptied.extra.0.is_some());
        assert_eq!(emptied, bare);
    }

    #[test]
    fn slugs() {
        assert!(Slug::parse("iom").is_ok());
        assert!(Slug::parse("michele-klein-solomon").is_ok());
        assert!(Slug::parse("doc-000").is_ok());
        for bad in ["", "IOM", "a--b", "-a", "a-", "a b", "é"] {
            assert!(Slug::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn partial_dates_round_trip_and_reject_impossible_days() {
        for ok in ["1951", "2023-07", "2021-02-04", "2024-02-29"] {
            assert_eq!(PartialDate::parse(ok).unwrap().to_string(), ok);
        }
        for bad in ["", "51", "2021-2-4", "2021-13", "2021-02-30", "2023-02-29", "04/02/2021"] {
            assert!(PartialDate::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(PartialDate::parse("1951").unwrap() < PartialDate::parse("1951-01").unwrap());
    }

    #[test]
    fn date_windows_compare_partial_dates_by_the_days_they_may_mean() {
        let d = |s: &str| Some(PartialDate::parse(s).unwrap());
        let at = |s: &str| DateWindow::at(d(s).unwrap(), false);
        // A start known to the month is valid on any day of that month, and in its year.
        assert!(at("2024-05-10").admits(d("2024-05"), None));
        assert!(at("2024-05-01").admits(d("2024-05"), None));
        assert!(at("2024").admits(d("2024-05"), None));
        assert!(!at("2024-04").admits(d("2024-05"), None));
        assert!(!at("2024-04-30").admits(d("2024-05"), None));
        assert!(!at("2023").admits(d("2024-05"), None));
        // An end known to the year holds until that year's last day, not past it.
        assert!(at("2025-12-31").admits(d("2021-02"), d("2025")));
        assert!(!at("2026-01-01").admits(d("2021-02"), d("2025")));
        assert!(at("2025-02-28").admits(None, d("2025-02")));
        assert!(!at("2025-03-01").admits(None, d("2025-02")));
        // A year asked about a relation that ended in its first month: it held then.
        assert!(at("2025").admits(d("2020"), d("2025-01-15")));
        // Undated: valid unless strict; one date known: the other side is open even when strict.
        assert!(at("1999").admits(None, None));
        assert!(!DateWindow::at(d("1999").unwrap(), true).admits(None, None));
        assert!(DateWindow::at(d("2030").unwrap(), true).admits(d("2024"), None));
        // A range overlaps: either end may be open.
        let range = |f: Option<PartialDate>, t: Option<PartialDate>| DateWindow { from: f, to: t, strict: false };
        assert!(range(d("2023-07"), d("2023-08")).admits(d("2023-07-25"), None));
        assert!(!range(None, d("2023-06")).admits(d("2023-07-25"), None));
        assert!(range(d("2030"), None).admits(d("2023-07-25"), None));
        assert!(!range(d("2030"), None).admits(d("2020"), d("2029-12")));
    }

    #[test]
    fn kinds_parse_from_their_names() {
        for k in RelationKind::ALL {
            assert_eq!(k.as_str().parse::<RelationKind>().unwrap(), *k);
        }
        let err = "befriends".parse::<RelationKind>().unwrap_err();
        assert!(err.0.contains("befriends") && err.0.contains("holds_role"));
    }

    #[test]
    fn a_relation_view_reads_what_a_relation_writes() {
        let full = Relation {
            id: "r-\"quoted\"".into(),
            kind: RelationKind::HoldsRole,
            from: "a".into(),
            to: "b\\c".into(),
            title: Some("Director".into()),
            order: Some(2),
            valid_from: Some(PartialDate::parse("2021-02").unwrap()),
            valid_until: Some(PartialDate::parse("2024").unwrap()),
            quantities: vec![Quantity {
                name: "n".into(),
                value: 1.5,
                unit: "u".into(),
                quote: None,
                document: Some("d".into()),
            }],
            citations: vec![
                Citation { document: "d".into(), quote: Some("She said \"yes\".\nThen left.".into()) },
                Citation { document: "e".into(), quote: None },
            ],
            version: 9,
        };
        let bare = Relation {
            title: None,
            order: None,
            valid_from: None,
            valid_until: None,
            quantities: vec![],
            citations: vec![],
            ..full.clone()
        };
        for r in [full, bare] {
            let json = serde_json::to_vec(&r).unwrap();
            let view: RelationView<'_> = serde_json::from_slice(&json).unwrap();
            assert_eq!(view.to_relation(), r);
            assert_eq!(RelationView::from(r.clone()).to_relation(), r);
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded_in_characters() {
        let rule = TextRule::single_line(5);
        assert_eq!(rule.check("  héllo \n"), Ok("héllo"), "five characters, six bytes, trimmed");
        assert_eq!(rule.check("hello!"), Err(ValueError::TooLong { len: 6, max: 5 }));
        assert_eq!(rule.required("name", " "), Err(ValueError::Empty.at("name")));
        assert_eq!(rule.optional("summary", Some(" \t")), Ok(None));
        assert_eq!(rule.optional("summary", None), Ok(None));
        let long = "x".repeat(250_000);
        let e = limits::NAME.required("name", &long).unwrap_err();
        assert_eq!(e, ValueError::TooLong { len: 250_000, max: limits::NAME.max_chars }.at("name"));
        assert!(e.to_string().len() < 200, "the message does not carry the value: {e}");
        assert!(e.to_string().starts_with("field `name`: is 250000 characters long"), "{e}");
    }

    #[test]
    fn control_and_invisible_characters_are_refused_with_where_they_are() {
        let single = TextRule::single_line(100);
        for (text, code) in [
            ("a\0b", 0x0),
            ("\u{1b}[31mred", 0x1b),
            ("a\tb", 0x9),
            ("a\nb", 0xa),
            ("a\rb", 0xd),
            ("a\u{7f}", 0x7f),
            ("a\u{85}b", 0x85),
            ("a\u{9b}31m", 0x9b),
            ("evil\u{202e}txt.exe", 0x202e),
            ("a\u{202a}b", 0x202a),
            ("a\u{2066}b\u{2069}", 0x2066),
            ("I\u{200b}OM", 0x200b),
            ("a\u{2060}b", 0x2060),
            ("a\u{feff}b", 0xfeff),
            ("a\u{2028}b", 0x2028),
            ("a\u{e0041}", 0xe0041),
            ("a\u{ffff}", 0xffff),
        ] {
            match single.check(text) {
                Err(ValueError::Forbidden { code: c, .. }) => assert_eq!(c, code, "{text:?}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
        let e = single.required("aliases[3]", "ab\u{1b}c").unwrap_err();
        assert_eq!(e.field, "aliases[3]");
        assert!(e.to_string().contains("U+001B") && e.to_string().contains("character 2"), "{e}");
        // Line feeds and tabs only where text may run over lines; the rest never.
        let multi = TextRule::multi_line(100);
        assert_eq!(multi.check("one\n\ttwo"), Ok("one\n\ttwo"));
        for text in ["a\rb", "a\0b", "a\u{202e}b", "a\u{1b}b"] {
            assert!(multi.check(text).is_err(), "{text:?}");
        }
        // Text that scripts and emoji need stays: joiners, marks, accents, no-break spaces.
        for text in [
            "Ana Núñez-Pérez",
            "क्\u{200d}ष",
            "a\u{200c}b",
            "\u{200f}שלום",
            "São\u{a0}Paulo",
            "👩\u{200d}🔬",
            "“quoted” – dash",
        ] {
            assert!(single.check(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn counts_urls_file_names_and_quantities() {
        assert!(check_count("aliases", limits::ALIASES, limits::ALIASES).is_ok());
        let e = check_count("aliases", 10_000, limits::ALIASES).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.error),
            ("aliases", ValueError::TooMany { count: 10_000, max: limits::ALIASES })
        );
        assert_eq!(url("url", Some(" https://example.org/a?b ")), Ok(Some("https://example.org/a?b".into())));
        assert_eq!(url("url", Some("HTTP://example.org")), Ok(Some("HTTP://example.org".into())));
        assert_eq!(url("url", Some("")), Ok(None));
        for bad in ["javascript:alert(1)", "example.org", "https://exa mple.org", "http://a\u{1b}b"] {
            assert_eq!(url("url", Some(bad)).unwrap_err().field, "url", "{bad:?}");
        }
        assert!(file_name("file", "000_9cbd7760c31c9283.txt").is_ok());
        for bad in ["../x.txt", "a/b.txt", ".hidden", "a\\b", ""] {
            assert!(file_name("file", bad).is_err(), "{bad:?}");
        }
        assert!(relation_id("id", "holds_role:a-b:001").is_ok());
        assert!(relation_id("id", "a b").is_err() && relation_id("id", &"x".repeat(201)).is_err());
        let q = quantity("quantities[0]", " funding ", 1.5, "USD", Some(" US$ 1.5 ")).unwrap();
        assert_eq!((q.name.as_str(), q.unit.as_str(), q.quote.as_deref()), ("funding", "USD", Some("US$ 1.5")));
        assert_eq!(quantity("quantities[1]", "n", f64::NAN, "u", None).unwrap_err().field, "quantities[1].value");
        assert_eq!(quantity("quantities[1]", "n", 1.0, " ", None).unwrap_err().field, "quantities[1].unit");
        let long = "q".repeat(limits::QUOTE.max_chars + 1);
        assert_eq!(quantity("quantities[1]", "n", 1.0, "u", Some(&long)).unwrap_err().field, "quantities[1].quote");
    }

    #[test]
    fn quotes_are_found_byte_for_byte_and_located_in_characters() {
        let texts = DocumentTexts::from_texts([(
            "note.txt".to_string(),
            "Geneva\u{a0}– The Order\ncalls for   a Strategy.\n\n“Quoted.”".to_string(),
        )]);
        for ok in ["Geneva\u{a0}– The", "The Order\ncalls for   a Strategy.", "“Quoted.”"] {
            assert!(texts.check_quote("note", Some("note.txt"), ok).is_ok(), "{ok:?}");
        }
        // A no-break space is not a space, a line break is not a space, runs are not collapsed.
        for missing in ["Geneva – The", "The Order calls", "calls for a Strategy", "the order", "\"Quoted.\"", ""] {
            assert_eq!(
                texts.check_quote("note", Some("note.txt"), missing),
                Err(ValueError::NotInDocument { document: "note".into() }),
                "{missing:?}"
            );
        }
        // Offsets count characters: "Geneva", a no-break space (2 bytes), "– " (4 bytes).
        let span = texts.locate("note.txt", "The Order").unwrap();
        assert_eq!((span.offset, span.length, span.byte_offset, span.byte_length), (9, 9, 12, 9));
        let text = texts.get("note.txt").unwrap().text();
        assert_eq!(text.chars().skip(span.offset).take(span.length).collect::<String>(), "The Order");
        let unknown = Err(ValueError::DocumentTextUnknown { document: "other".into() });
        assert_eq!(texts.check_quote("other", Some("other.txt"), "Geneva"), unknown);
        assert_eq!(texts.check_quote("other", None, "Geneva"), unknown);
        let more = DocumentTexts::from_texts([("other.txt".to_string(), "Geneva".to_string())]);
        let both = texts.merged(&more);
        assert_eq!(both.len(), 2);
        assert!(both.check_quote("other", Some("other.txt"), "Geneva").is_ok());
    }

    #[test]
    fn every_quote_is_located_in_one_pass_as_one_by_one() {
        // Multi-byte characters across checkpoint blocks, quotes inside and overlapping others,
        // repeated quotes and quotes that are not there.
        let mut text = String::new();
        for i in 0..3_000 {
            text.push_str(&format!("Satz {i}: “Über” Migration — café {}. ", i * 7));
        }
        let doc = DocumentText::new(text.clone());
        let mut quotes: Vec<String> = (0..3_000).step_by(37).map(|i| format!("Satz {i}: “Über”")).collect();
        quotes.extend(
            ["café 7", "Über” Migration — café 14. Satz 3", "Satz 3", "Satz 3", "nicht da", "", "é"].map(String::from),
        );
        let refs: Vec<&str> = quotes.iter().map(String::as_str).collect();
        let bulk = doc.locate_all(&refs);
        for (q, got) in refs.iter().zip(&bulk) {
            assert_eq!(*got, doc.locate(q), "{q:?}");
            let expected = text.find(q).filter(|_| !q.is_empty()).map(|b| text[..b].chars().count());
            assert_eq!(got.map(|s| s.offset), expected, "{q:?}");
        }
        assert!(bulk.iter().filter(|s| s.is_none()).count() == 2);
        assert_eq!(doc.sha256_hex().len(), 64);
    }

    #[test]
    fn excerpts_are_short_and_inert() {
        assert_eq!(excerpt("short"), "short");
        let e = excerpt(&format!("\u{1b}[2J{}", "y".repeat(1000)));
        assert!(e.starts_with('\u{fffd}') && e.ends_with('…') && e.chars().count() == 81, "{e}");
        let slug = Slug::parse(&"A".repeat(250_000)).unwrap_err();
        assert!(slug.0.len() < 300, "{}", slug.0);
    }
}
