//! Full-text search over the archive: a tantivy index in `<archive>/.newsvault/index`, built from
//! the store and brought up to date by every `run` ([`update_index`]), queried by
//! `newsvault search` and by `serve`'s `GET /api/search` ([`SearchIndex::search`]).
//!
//! # Chinese text
//!
//! Chinese has no spaces between words, so each article is analysed twice:
//!
//! - `title` and `body` go through [`JiebaTokenizer`]: jieba's search-mode segmentation
//!   (`cut_for_search`, which gives the words and, for long words, the shorter words inside
//!   them), Latin words lower-cased. These fields rank the results (BM25, the title counting
//!   double; equal scores newest first, then by article id).
//! - `chars` goes through [`CharTokenizer`]: every CJK character is a token, every run of Latin
//!   letters and digits is one lower-cased token, positions kept. A query word must be found
//!   here as a phrase, which is to say as a substring of the article: a word is found whatever
//!   jieba made of the text around it (a two-character word inside a longer phrase), and
//!   traditional and simplified characters each find their own text, never the other's.
//!
//! A query is words separated by spaces; every word must occur (title or text). (No `-word`
//! exclusion: a phrase query under "must not" trips a debug assertion in tantivy 0.27.) Work per
//! query is bounded: [`MAX_QUERY_CHARS`], [`MAX_TERMS`], [`MAX_LIMIT`] results.
//!
//! The index can always be rebuilt from the store, and is when it is missing or no longer opens
//! whole (any of its segments). Processes share it: one at a time writes it (`lock`), the others
//! waiting for it; an index already current is found so, and searched, without any lock.
//! Building it, the walk over the store hands documents to tantivy's writer no faster than its
//! threads take them (`search::pace`), so an index built from scratch holds a few dozen documents
//! in memory at a time, not the archive. `search` and `serve` build it with a writer thread per
//! core ([`Building::Fast`]); `run`, whose peak memory it would otherwise set, with one
//! ([`Building::Lean`]): its bodies are then segmented before they reach the writer, by threads
//! of their own, and reach it as their words one per line ([`WordsTokenizer`]), so that two
//! cores still share the work of segmenting (half the work of building the index) while the
//! memory is one writer thread's.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jieba_rs::Jieba;
use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{RemoveLongFilter, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader, TantivyDocument,
    Term,
};
use thiserror::Error;

use crate::store::{ArticleRecord, Store, StoreError};
use lock::IndexLock;
use pace::Pace;

mod lock;
mod pace;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words in one query.
pub const MAX_TERMS: usize = 12;
/// Most results one query returns.
pub const MAX_LIMIT: usize = 100;
/// Results when the caller does not say.
pub const DEFAULT_LIMIT: usize = 20;
/// Characters of a snippet.
const SNIPPET_CHARS: usize = 160;
/// Characters of an article's text scanned for the snippet, at most.
const SNIPPET_SCAN: usize = 20_000;
/// The index's memory of what it holds, in the index folder.
const STATE_FILE: &str = "newsvault-index.json";
/// Bump when the schema or the analysis changes: the index is then rebuilt from the store.
const FORMAT: u32 = 3;
/// Memory each of the index writer's threads may use while indexing (tantivy takes 15 MB or
/// more; at the least, a fast build from scratch made more segments to merge and took about a
/// fifth longer: 1.68 → 1.96 s at 9,531 articles, medians of three on tmpfs).
const WRITER_BUDGET: usize = 16 * 1024 * 1024;

const JIEBA: &str = "jieba";
const WORDS: &str = "words";
const CHARS: &str = "cjk_chars";

#[derive(Debug, Error)]
pub enum SearchError {
    /// The query cannot be run: say why, in words for the person who typed it.
    #[error("{0}")]
    BadQuery(String),
    #[error("no search index at {0}; run `newsvault run` or `newsvault search` to build it")]
    Missing(PathBuf),
    #[error("search index: {0}")]
    Index(tantivy::TantivyError),
    /// The index's state was read, but its segments do not open.
    #[error("the search index in {} does not open: {cause}", .path.display())]
    Damaged {
        path: PathBuf,
        cause: tantivy::TantivyError,
    },
    #[error("cannot build the search index in {}: {cause}", .path.display())]
    Build {
        path: PathBuf,
        cause: tantivy::TantivyError,
    },
    /// Another process wrote the index for longer than this one would wait for it.
    #[error(
        "the search index in {} is being written by another process; gave up waiting after {} s",
        .path.display(),
        .waited.as_secs()
    )]
    Busy {
        path: PathBuf,
        waited: std::time::Duration,
    },
    /// The lock file of the index's writers (see `lock`) cannot be used.
    #[error("cannot lock {} to write the search index: {cause}", .path.display())]
    Lock {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot build the search index in {}: {cause}", .path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

// Like every error of newsvault, the message shows the cause, which is not chained as well.
impl From<tantivy::TantivyError> for SearchError {
    fn from(cause: tantivy::TantivyError) -> SearchError {
        SearchError::Index(cause)
    }
}

/// Loads jieba's dictionary now (a few hundred milliseconds), so that the first query does not
/// wait for it; `serve` calls this on a thread of its own at start.
pub fn warm_up() {
    jieba();
}

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Tokens handed to tantivy one by one from their byte ranges in the text, through one reused
/// [`Token`]: no string is allocated per token (an article has thousands).
pub struct TokenSpans<'a> {
    text: &'a str,
    spans: std::vec::IntoIter<(usize, usize)>,
    token: Token,
}

impl<'a> TokenSpans<'a> {
    fn new(text: &'a str, spans: Vec<(usize, usize)>) -> Self {
        TokenSpans {
            text,
            spans: spans.into_iter(),
            token: Token {
                position: usize::MAX,
                ..Token::default()
            },
        }
    }
}

impl TokenStream for TokenSpans<'_> {
    fn advance(&mut self) -> bool {
        let Some((from, to)) = self.spans.next() else {
            return false;
        };
        let token = &mut self.token;
        token.offset_from = from;
        token.offset_to = to;
        token.position = token.position.wrapping_add(1);
        token.position_length = 1;
        token.text.clear();
        push_lowercase(&mut token.text, &self.text[from..to]);
        true
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// jieba's search-mode words, Latin lower-cased; spaces and punctuation dropped.
#[derive(Debug, Clone, Default)]
pub struct JiebaTokenizer;

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = TokenSpans<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenSpans<'a> {
        TokenSpans::new(text, jieba_spans(text))
    }
}

/// The byte ranges of the words jieba finds in `text` that the index keeps.
fn jieba_spans(text: &str) -> Vec<(usize, usize)> {
    let base = text.as_ptr() as usize;
    jieba()
        .cut_for_search(text, true)
        .into_iter()
        .filter(|t| t.word.chars().any(|c| is_cjk(c) || c.is_alphanumeric()))
        .map(|t| {
            let from = t.word.as_ptr() as usize - base;
            (from, from + t.word.len())
        })
        .collect()
}

/// The words of a text segmented before indexing ([`segmented`]): one token per line.
#[derive(Debug, Clone, Default)]
pub struct WordsTokenizer;

impl Tokenizer for WordsTokenizer {
    type TokenStream<'a> = TokenSpans<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenSpans<'a> {
        let mut spans = Vec::new();
        let mut from = 0;
        for line in text.split('\n') {
            if !line.is_empty() {
                spans.push((from, from + line.len()));
            }
            from += line.len() + 1;
        }
        TokenSpans::new(text, spans)
    }
}

/// The analyser of the fields jieba segments.
fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer)
        .filter(RemoveLongFilter::limit(64))
        .build()
}

/// `text` as `body` is indexed: the words `words` (a [`words_analyzer`]) gives, one per line.
/// A word holds no line break (jieba keeps white space to words of its own, which the index
/// drops), so [`WordsTokenizer`] gives back exactly these words.
fn segmented(text: &str, words: &mut TextAnalyzer) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut stream = words.token_stream(text);
    while stream.advance() {
        out.push_str(&stream.token().text);
        out.push('\n');
    }
    out
}

/// The words jieba finds in `text`, as the index sees them.
pub fn jieba_tokens(text: &str) -> Vec<Token> {
    collect_tokens(TokenSpans::new(text, jieba_spans(text)))
}

fn collect_tokens(mut stream: impl TokenStream) -> Vec<Token> {
    let mut tokens = Vec::new();
    while stream.advance() {
        tokens.push(stream.token().clone());
    }
    tokens
}

/// Appends `text` lower-cased, without Unicode tables for the common cases (ASCII, CJK).
fn push_lowercase(out: &mut String, text: &str) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else if text.chars().all(is_cjk) {
        out.push_str(text);
    } else {
        out.push_str(&text.to_lowercase());
    }
}

/// One token per CJK character, one per run of other letters and digits (lower-cased).
#[derive(Debug, Clone, Default)]
pub struct CharTokenizer;

impl Tokenizer for CharTokenizer {
    type TokenStream<'a> = TokenSpans<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenSpans<'a> {
        TokenSpans::new(text, char_spans(text))
    }
}

/// Chinese, Japanese and Korean characters: each is a token of its own (and a term of its own in
/// the static index, `publish::shards`, so that both searches cut text alike).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // kana
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x3134F) // CJK extensions B–G
}

/// The tokens of the `chars` field.
pub fn char_tokens(text: &str) -> Vec<Token> {
    collect_tokens(TokenSpans::new(text, char_spans(text)))
}

/// The byte ranges of the `chars` tokens of `text`: each CJK character, each run of other
/// letters and digits.
fn char_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::with_capacity(text.len() / 3);
    let mut word: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let cjk = is_cjk(c);
        if cjk || !c.is_alphanumeric() {
            if let Some(start) = word.take() {
                spans.push((start, i));
            }
            if cjk {
                spans.push((i, i + c.len_utf8()));
            }
        } else if word.is_none() {
            word = Some(i);
        }
    }
    if let Some(start) = word {
        spans.push((start, text.len()));
    }
    spans
}

/// The text of an HTML fragment: tags dropped (script and style with their content), the
/// common entities decoded, block ends as line breaks, runs of spaces as one.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    html_pieces(html, |piece| match piece {
        HtmlPiece::Text(text) => push_text(&mut out, text),
        HtmlPiece::Block => {
            if !out.ends_with('\n') && !out.is_empty() {
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push('\n');
            }
        }
    });
    out.trim().to_string()
}

/// A piece of an HTML fragment as [`plain_text`] reads it.
pub(crate) enum HtmlPiece<'a> {
    /// Text between tags, its entities not decoded.
    Text(&'a str),
    /// A block tag, opening or closing: a line break.
    Block,
}

/// Calls `each` with the pieces of `html` in order: the text between tags, and a
/// [`HtmlPiece::Block`] for each of [`BLOCK_TAGS`]; other tags dropped, `script` and `style`
/// with their content. [`plain_text`] and the static index's terms both read HTML this way.
pub(crate) fn html_pieces<'a>(html: &'a str, mut each: impl FnMut(HtmlPiece<'a>)) {
    let mut rest = html;
    loop {
        let lt = rest.find('<');
        each(HtmlPiece::Text(&rest[..lt.unwrap_or(rest.len())]));
        let Some(lt) = lt else { break };
        rest = &rest[lt..];
        // `<` is one byte; a tag without `>` runs to the end (never cut inside a character).
        let (tag, end) = match rest.find('>') {
            Some(at) => (&rest[1..at], at + 1),
            None => (&rest[1..], rest.len()),
        };
        rest = &rest[end..];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = &name[..name.bytes().take_while(u8::is_ascii_alphanumeric).count()];
        if !closing && (name.eq_ignore_ascii_case("script") || name.eq_ignore_ascii_case("style")) {
            rest = &rest[find_closing(rest, name).unwrap_or(rest.len())..];
            continue;
        }
        if BLOCK_TAGS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
            each(HtmlPiece::Block);
        }
    }
}

/// Where `</name` starts in `text`, whatever its case.
fn find_closing(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("</") {
        let start = from + at;
        let after = &bytes[start + 2..];
        if after.len() >= name.len() && after[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
            return Some(start);
        }
        from = start + 2;
    }
    None
}

/// `text` (between tags) onto `out`: entities decoded, each run of white space one space.
fn push_text(out: &mut String, text: &str) {
    // Runs of other characters are copied whole.
    let (mut i, mut run) = (0, 0);
    while i < text.len() {
        let b = text.as_bytes()[i];
        let (c, len) = if b == b'&' {
            decode_entity(&text[i..]).unwrap_or(('&', 1))
        } else if b.is_ascii() {
            (char::from(b), 1)
        } else {
            let c = text[i..].chars().next().expect("not empty");
            (c, c.len_utf8())
        };
        if b == b'&' || c.is_whitespace() {
            out.push_str(&text[run..i]);
            if !c.is_whitespace() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
            run = i + len;
        }
        i += len;
    }
    out.push_str(&text[run..]);
}

/// Tags after which [`plain_text`] breaks the line (lower case).
const BLOCK_TAGS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "blockquote",
    "figcaption",
    "section",
    "article",
];

/// The entity at the start of `text` (`&…;`) and its length, for the common named entities
/// and numeric references.
pub(crate) fn decode_entity(text: &str) -> Option<(char, usize)> {
    // Entities are short; look at the first 12 characters (not bytes: the text is any Unicode).
    let window = text
        .char_indices()
        .nth(12)
        .map_or(text, |(i, _)| &text[..i]);
    let end = window.find(';')?;
    let name = &text[1..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        _ if name.starts_with("#x") || name.starts_with("#X") => {
            char::from_u32(u32::from_str_radix(&name[2..], 16).ok()?)?
        }
        _ if name.starts_with('#') => char::from_u32(name[1..].parse().ok()?)?,
        _ => return None,
    };
    Some((c, end + 1))
}

/// The index's fields.
#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    body: Field,
    chars: Field,
    text: Field,
    source: Field,
    source_name: Field,
    date: Field,
    link: Field,
    gone: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    // Words rank (BM25 wants their frequencies); phrases are matched in `chars`.
    let words = |tokenizer: &str| {
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqs)
    };
    let fields = Fields {
        id: builder.add_i64_field("id", INDEXED | STORED | FAST),
        title: builder.add_text_field(
            "title",
            TextOptions::default()
                .set_indexing_options(words(JIEBA))
                .set_stored(),
        ),
        body: builder.add_text_field(
            "body",
            TextOptions::default().set_indexing_options(words(WORDS)),
        ),
        chars: builder.add_text_field(
            "chars",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(CHARS)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            ),
        ),
        text: builder.add_text_field("text", TextOptions::default().set_stored()),
        source: builder.add_text_field("source", STRING | STORED),
        source_name: builder.add_text_field("source_name", STORED),
        date: builder.add_i64_field("date", INDEXED | STORED | FAST),
        link: builder.add_text_field("link", STORED),
        gone: builder.add_i64_field("gone", STORED),
    };
    (builder.build(), fields)
}

fn register_tokenizers(index: &Index) {
    index.tokenizers().register(JIEBA, words_analyzer());
    // The body's words, when its text is handed to the writer as it is (see `Building`).
    index.tokenizers().register(WORDS, words_analyzer());
    index.tokenizers().register(
        CHARS,
        TextAnalyzer::builder(CharTokenizer)
            .filter(RemoveLongFilter::limit(64))
            .build(),
    );
}

/// The index's memory, [`STATE_FILE`]: what each article looked like when indexed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexState {
    format: u32,
    articles: HashMap<i64, String>,
}

/// What [`update_index`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexReport {
    /// Articles in the index.
    pub articles: usize,
    /// Articles (re)indexed now.
    pub indexed: usize,
    /// Articles removed (hidden since).
    pub removed: usize,
}

/// How an index built from scratch (the whole archive) is written. Bringing one up to date (a
/// few hundred articles) takes one writer thread either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Building {
    /// A writer thread per core, up to two, its segments merged while it writes: for `search`
    /// and `serve`, where someone waits for it.
    Fast,
    /// One writer thread, its segments merged once it is done: for `run`, whose peak memory
    /// this sets. A default first run (its posts, then this) peaks about 40 % lower than with a
    /// fast build beside its posts, and takes about a quarter longer (README, "Performance").
    Lean,
}

/// Brings the index in `dir` up to date with the store: indexes new and changed articles,
/// removes hidden ones. Creates the index, or rebuilds it when its format is older.
///
/// The index is derived from the store: one that no longer opens whole (a damaged `meta.json` or
/// segment file) is built again from scratch, with a warning that names its folder and why.
///
/// Processes share the index (see `lock`): an index already current is found so without
/// tantivy's writer, and without waiting for a process that writes it; one to write waits while
/// another process writes it, up to a minute, then is looked at again, the other having perhaps
/// done the work.
pub fn update_index(
    store: &Store,
    dir: &Path,
    building: Building,
) -> Result<IndexReport, SearchError> {
    update_and_open(store, dir, building, false).map(|(report, _)| report)
}

/// [`update_index`], then the index open for searching as it was found current or left: opened
/// then, not after, when another process may already be writing it again.
pub fn open_updated(
    store: &Store,
    dir: &Path,
    building: Building,
) -> Result<SearchIndex, SearchError> {
    let (_, index) = update_and_open(store, dir, building, true)?;
    index.ok_or_else(|| SearchError::Io {
        path: dir.to_path_buf(),
        cause: std::io::Error::other("the index was not opened"),
    })
}

/// Brings the index up to date and, with `open`, opens it for searching under the same lock. A
/// run does not open it: what opening maps of the segments would only add to its memory.
fn update_and_open(
    store: &Store,
    dir: &Path,
    building: Building,
    open: bool,
) -> Result<(IndexReport, Option<SearchIndex>), SearchError> {
    update_index_paced(store, dir, building, open, &mut Pace::new(PACE_STALL)).map_err(
        |e| match e {
            SearchError::Index(cause) => SearchError::Build {
                path: dir.to_path_buf(),
                cause,
            },
            other => other,
        },
    )
}

/// Whether the building of the index in `dir` finished, whatever its format: its state is
/// written last. A look at one file, whatever the size of the archive.
pub fn index_finished(dir: &Path) -> bool {
    dir.join(STATE_FILE).exists()
}

/// How many articles the index in `dir` holds, if it is a whole index of this build's format:
/// `None` for none, one of another format, or one whose building was cut short (its state is
/// written last). [`update_index`] brings an index of some articles up to date and builds any
/// other from scratch. Reads the index's state, not its fingerprints.
pub fn indexed_articles(dir: &Path) -> Option<usize> {
    #[derive(Deserialize)]
    struct Probe {
        format: u32,
        articles: HashMap<i64, serde::de::IgnoredAny>,
    }
    std::fs::read(dir.join(STATE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Probe>(&bytes).ok())
        .filter(|state| state.format == FORMAT)
        .map(|state| state.articles.len())
}

/// What the folder of an index holds, as [`look`] finds it.
enum Found {
    /// An index of this format whose segments open and hold one document per article of its
    /// state: it can be brought up to date.
    Whole(Box<SearchIndex>, IndexState),
    /// No index, one of another format, or one whose building was cut short (its state, written
    /// last, is missing).
    Missing,
    /// An index whose state was read but which does not open whole: why, in words.
    Damaged(String),
}

/// Looks at the index in `dir`, opening each of its segments (a damaged file shows here, not at
/// the writer or at the first search).
fn look(dir: &Path) -> Found {
    // No state of this format: nothing to open (a build cut short, or none yet).
    let Some(state) = read_state(dir) else {
        return Found::Missing;
    };
    match SearchIndex::open_segments(dir, ReloadPolicy::Manual) {
        Err(cause) => Found::Damaged(format!("it does not open: {cause}")),
        Ok(index) if index.len() != state.articles.len() as u64 => Found::Damaged(format!(
            "it holds {} documents for {} articles",
            index.len(),
            state.articles.len()
        )),
        Ok(index) => Found::Whole(Box::new(index), state),
    }
}

/// The state of the index in `dir` ([`STATE_FILE`]), if it has one of this build's format.
fn read_state(dir: &Path) -> Option<IndexState> {
    std::fs::read(dir.join(STATE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<IndexState>(&bytes).ok())
        .filter(|state| state.format == FORMAT)
}

/// How long the index writer's threads may count no document, while the walk waits for them,
/// before the walk stops waiting (see `pace`).
const PACE_STALL: std::time::Duration = std::time::Duration::from_secs(10);

fn update_index_paced(
    store: &Store,
    dir: &Path,
    building: Building,
    open: bool,
    pace: &mut Pace,
) -> Result<(IndexReport, Option<SearchIndex>), SearchError> {
    // The lock is taken when it is free, and the index looked at once, under it. When another
    // process holds it, or this one cannot take it (a read-only archive), an index already
    // current is read without it; only one to write waits for it.
    let _lock = match IndexLock::acquire(dir, std::time::Duration::ZERO) {
        Ok(Some(lock)) => lock,
        not_taken => {
            if let Plan::Current(index, report) = plan(store, dir)? {
                return Ok((report, Some(*index)));
            }
            // A lock that cannot be taken at all is an error once the index must be written.
            not_taken?;
            IndexLock::acquire(dir, lock::WAIT)?.ok_or_else(|| SearchError::Busy {
                path: dir.to_path_buf(),
                waited: lock::WAIT,
            })?
        }
    };
    // Under the lock no other process writes the index: an index that does not open now is
    // damaged (not caught between another's commit and its clean-up), and what another process
    // did while this one waited is not done again.
    let report = match plan(store, dir)? {
        Plan::Current(index, report) => return Ok((report, Some(*index))),
        Plan::Update(index, changes) => update_whole(store, dir, index.index, changes, pace)?,
        Plan::Build(damaged) => {
            if let Some(why) = damaged {
                tracing::warn!(
                    "the search index in {} is damaged ({why}); building it again from the store",
                    dir.display()
                );
            }
            build_from_scratch(store, dir, building, pace)?
        }
    };
    let index = open
        .then(|| SearchIndex::open_segments(dir, ReloadPolicy::Manual))
        .transpose()?;
    Ok((report, index))
}

/// What bringing the index in a folder up to date takes, as [`plan`] finds it.
enum Plan {
    /// Nothing: the index is current.
    Current(Box<SearchIndex>, IndexReport),
    /// The index is whole: these changes, on one writer thread.
    Update(Box<SearchIndex>, Changes),
    /// There is no index to update: building one from scratch. `Some`: why the one there is
    /// damaged.
    Build(Option<String>),
}

/// Looks at the index in `dir` ([`look`]) and, when it is whole, at what changed in the store
/// since its state ([`changes`]). An index of no article is built as a new one (the walk with
/// the bodies, on every writer thread), unless the store has none either.
fn plan(store: &Store, dir: &Path) -> Result<Plan, SearchError> {
    Ok(match look(dir) {
        Found::Whole(index, old) => {
            let changes = changes(store, &old)?;
            if changes.changed.is_empty() && changes.removed.is_empty() {
                let report = IndexReport {
                    articles: old.articles.len(),
                    ..IndexReport::default()
                };
                Plan::Current(index, report)
            } else if old.articles.is_empty() {
                Plan::Build(None)
            } else {
                Plan::Update(index, changes)
            }
        }
        Found::Missing => Plan::Build(None),
        Found::Damaged(why) => Plan::Build(Some(why)),
    })
}

/// What the store holds that a whole index does not.
struct Changes {
    /// Articles new or changed since the index's state, without their bodies.
    changed: Vec<ArticleRecord>,
    /// Articles of the index the store no longer shows (hidden since).
    removed: Vec<i64>,
    /// The index's state once these changes are made.
    state: IndexState,
}

/// What changed in the store since `old`, the state of a whole index: a walk over the articles
/// without their bodies, which costs what their metadata costs.
fn changes(store: &Store, old: &IndexState) -> Result<Changes, SearchError> {
    let mut state = IndexState {
        format: FORMAT,
        articles: HashMap::with_capacity(old.articles.len()),
    };
    let mut changed = Vec::new();
    store.for_each_article_without_body(|record| -> Result<(), SearchError> {
        let print = fingerprint(&record);
        let id = record.id;
        if old.articles.get(&id) != Some(&print) {
            changed.push(record);
        }
        state.articles.insert(id, print);
        Ok(())
    })??;
    let removed = old
        .articles
        .keys()
        .filter(|id| !state.articles.contains_key(id))
        .copied()
        .collect();
    Ok(Changes {
        changed,
        removed,
        state,
    })
}

/// Brings the whole `index` in `dir` up to date with `changes`: each changed article's body is
/// read now, its old document deleted and its new one added; removed articles are deleted.
fn update_whole(
    store: &Store,
    dir: &Path,
    index: Index,
    changes: Changes,
    pace: &mut Pace,
) -> Result<IndexReport, SearchError> {
    let (_, fields) = schema();
    count_documents(&index, pace);
    let mut writer: IndexWriter = index.writer_with_num_threads(1, WRITER_BUDGET)?;
    let report = IndexReport {
        articles: changes.state.articles.len(),
        indexed: changes.changed.len(),
        removed: changes.removed.len(),
    };
    for mut record in changes.changed {
        record.body = store.article_body(record.id)?;
        // Deleted before the new document is added, the old one goes and the new one stays.
        writer.delete_term(Term::from_field_i64(fields.id, record.id));
        writer.add_document(document(&fields, &record, None))?;
        pace.handed();
    }
    for id in changes.removed {
        writer.delete_term(Term::from_field_i64(fields.id, id));
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    write_state(dir, &changes.state)?;
    Ok(report)
}

/// Registers for `index` the tokenizer of `chars`, a field every document has once, counting the
/// documents the writer's threads begin for `pace`: the walk that hands them reads articles far
/// faster than the threads segment them, and waits for them instead of queueing the archive.
fn count_documents(index: &Index, pace: &Pace) {
    index.tokenizers().register(
        CHARS,
        TextAnalyzer::builder(pace.counting(CharTokenizer))
            .filter(RemoveLongFilter::limit(64))
            .build(),
    );
}

/// Writes `state` as the index's in `dir`: last, once the index holds what it says.
fn write_state(dir: &Path, state: &IndexState) -> Result<(), SearchError> {
    let bytes = serde_json::to_vec(state).expect("the index state serialises");
    crate::publish::write_atomically(&dir.join(STATE_FILE), &bytes).map_err(|cause| {
        SearchError::Io {
            path: dir.to_path_buf(),
            cause,
        }
    })?;
    Ok(())
}

/// Builds the index in `dir` anew from every article of the store, whatever the folder held.
fn build_from_scratch(
    store: &Store,
    dir: &Path,
    building: Building,
    pace: &mut Pace,
) -> Result<IndexReport, SearchError> {
    let io = |cause| SearchError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    if dir.exists() {
        // The state goes first: an index half removed never looks whole.
        match std::fs::remove_file(dir.join(STATE_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir).map_err(io)?;
    let (schema, fields) = schema();
    let index = Index::create_in_dir(dir, schema)?;
    register_tokenizers(&index);
    count_documents(&index, pace);
    // A lean build's one writer thread would do all the work of segmenting: the bodies are
    // segmented before they reach it (`segmented`), by threads of their own, one per core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let lean = building == Building::Lean;
    // Threads of the writer, and of their own that make documents (none: the walk makes them).
    let (threads, builders) = if lean { (1, cores) } else { (cores, 0) };
    if lean {
        index
            .tokenizers()
            .register(WORDS, TextAnalyzer::from(WordsTokenizer));
    }
    let mut writer: IndexWriter =
        index.writer_with_num_threads(threads, threads * WRITER_BUDGET)?;
    if lean {
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    }
    let mut state = IndexState {
        format: FORMAT,
        articles: HashMap::new(),
    };
    // Documents are made by the walk, or on threads of their own (`builders`) when it has any.
    // The index is new: no document to delete before adding an article's (deleting each id
    // first would only queue one query per article for the commit, 10 MB at 9,531).
    std::thread::scope(|scope| -> Result<(), SearchError> {
        let (to_build, records) = crossbeam_channel::bounded::<ArticleRecord>(4 * builders.max(1));
        let writer = &writer;
        let fields = &fields;
        let threads: Vec<_> = (0..builders)
            .map(|_| {
                let records = records.clone();
                scope.spawn(move || -> Result<(), SearchError> {
                    let mut words = lean.then(words_analyzer);
                    for record in records {
                        writer.add_document(document(fields, &record, words.as_mut()))?;
                    }
                    Ok(())
                })
            })
            .collect();
        drop(records);
        let walked = store.for_each_article(|record| -> Result<(), SearchError> {
            state.articles.insert(record.id, fingerprint(&record));
            if builders == 0 {
                writer.add_document(document(fields, &record, None))?;
            } else if to_build.send(record).is_err() {
                // Closed only when every builder has stopped, on an error its join returns below.
                return Err(SearchError::Index(tantivy::TantivyError::ErrorInThread(
                    "the threads making documents stopped".into(),
                )));
            }
            pace.handed();
            Ok(())
        });
        drop(to_build);
        for thread in threads {
            // An error, not a panic: the run reports a failed index and does not fail with it.
            thread.join().map_err(|_| {
                SearchError::Index(tantivy::TantivyError::ErrorInThread(
                    "a thread making documents panicked".into(),
                ))
            })??;
        }
        walked??;
        Ok(())
    })?;
    writer.commit()?;
    writer.wait_merging_threads()?;
    if lean {
        // What a merge maps of the segments it reads is resident while it runs: a lean build
        // merges them once its writer and the writer's memory are gone.
        crate::malloc::release_freed();
        let segments = index.searchable_segment_ids()?;
        if segments.len() > 1 {
            let mut merger: IndexWriter = index.writer_with_num_threads(1, WRITER_BUDGET)?;
            merger.merge(&segments).wait()?;
            merger.wait_merging_threads()?;
        }
    }
    write_state(dir, &state)?;
    Ok(IndexReport {
        articles: state.articles.len(),
        indexed: state.articles.len(),
        removed: 0,
    })
}

/// What the index holds of an article, hashed; its text is in the store's revision. The hash of
/// `source_id`, `source_name`, `title`, `link`, `date_ms`, `gone_ms` (as `{:?}` spells it) and
/// `revision`, each followed by a line break: an update walks every article and hashes each, so
/// the text pieces go to the hash as they are, without a line made of them first.
fn fingerprint(record: &ArticleRecord) -> String {
    use std::fmt::Write as _;
    let mut hash = Context::new(&SHA256);
    for text in [
        &record.source_id,
        &record.source_name,
        &record.title,
        &record.link,
    ] {
        hash.update(text.as_bytes());
        hash.update(b"\n");
    }
    let mut numbers = String::with_capacity(64);
    let _ = write!(
        numbers,
        "{}\n{:?}\n{}\n",
        record.date_ms, record.gone_ms, record.revision
    );
    hash.update(numbers.as_bytes());
    hex::encode(&hash.finish().as_ref()[..12])
}

/// The article as the index holds it. With `words`, its body comes segmented ([`segmented`]);
/// without, the writer segments it.
fn document(
    fields: &Fields,
    record: &ArticleRecord,
    words: Option<&mut TextAnalyzer>,
) -> TantivyDocument {
    let text = plain_text(&record.body);
    let mut doc = TantivyDocument::default();
    doc.add_i64(fields.id, record.id);
    doc.add_text(fields.title, &record.title);
    match words {
        Some(words) => doc.add_text(fields.body, segmented(&text, words)),
        None => doc.add_text(fields.body, &text),
    }
    doc.add_text(fields.chars, format!("{}\n{}", record.title, text));
    doc.add_text(fields.text, &text);
    doc.add_text(fields.source, &record.source_id);
    if record.source_name != record.source_id {
        doc.add_text(fields.source, &record.source_name);
    }
    doc.add_text(fields.source_name, &record.source_name);
    doc.add_i64(fields.date, record.date_ms);
    doc.add_text(fields.link, &record.link);
    doc.add_i64(fields.gone, record.gone_ms.unwrap_or(0));
    doc
}

/// A search as asked.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    /// Only this source (its id or its name).
    pub source: Option<String>,
    /// Only articles dated at or after this moment (ms since 1970).
    pub since_ms: Option<i64>,
    /// Results wanted (capped at [`MAX_LIMIT`]).
    pub limit: usize,
}

/// A piece of a snippet: `hit` pieces are what the query found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Piece {
    pub text: String,
    pub hit: bool,
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub id: i64,
    pub title: String,
    pub source: String,
    pub source_id: String,
    pub date_ms: i64,
    /// `2021-04-04 08:45 UTC`.
    pub time: String,
    /// The article's page on the site, relative to the site's root.
    pub url: String,
    /// The original article.
    pub link: String,
    pub gone: bool,
    pub score: f32,
    pub snippet: Vec<Piece>,
}

/// What a search found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub query: String,
    /// All matching articles; `hits` holds the best of them.
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

/// An open index, for searching. Cheap to share between threads.
#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl SearchIndex {
    /// Opens the index in `dir`; it follows later commits (a `run` while `serve` serves). One
    /// whose segments do not open is [`SearchError::Damaged`]: [`update_index`] builds it again.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        // An index whose building was cut short (a run stopped while it built it) opens, but
        // holds part of the archive or none of it: it is as good as missing.
        if !dir.join("meta.json").exists() || indexed_articles(dir).is_none() {
            return Err(SearchError::Missing(dir.to_path_buf()));
        }
        Self::open_segments(dir, ReloadPolicy::OnCommitWithDelay).map_err(|cause| {
            SearchError::Damaged {
                path: dir.to_path_buf(),
                cause,
            }
        })
    }

    /// Opens the index in `dir` and every one of its segments, reloading as `reload` says.
    fn open_segments(dir: &Path, reload: ReloadPolicy) -> tantivy::Result<SearchIndex> {
        let index = Index::open_in_dir(dir)?;
        register_tokenizers(&index);
        let (_, fields) = schema();
        let reader = index.reader_builder().reload_policy(reload).try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
        })
    }

    /// Number of articles in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no article.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `request`. A query that cannot be run is [`SearchError::BadQuery`].
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let _ = &self.index;
        let parsed = parse_query(&request.query)?;
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &parsed.include {
            clauses.push((Occur::Must, substring_query(f.chars, term)));
        }
        // Ranking: jieba's words of the query, in the title (counting double) and the text.
        let mut seen = HashSet::new();
        for term in &parsed.include {
            for token in jieba_tokens(term) {
                if !seen.insert(token.text.clone()) {
                    continue;
                }
                for (field, boost) in [(f.title, 2.0), (f.body, 1.0)] {
                    let query = TermQuery::new(
                        Term::from_field_text(field, &token.text),
                        IndexRecordOption::WithFreqs,
                    );
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(query), boost)),
                    ));
                }
            }
        }
        if let Some(source) = &request.source {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.source, source),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(since) = request.since_ms {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.date, since)),
                    Bound::Unbounded,
                )),
            ));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = request.limit.clamp(1, MAX_LIMIT);
        // Equal scores come newest first, then by id: the same order after every rebuild of
        // the index, whose documents land in segments in no fixed order.
        let ranked = TopDocs::with_limit(limit).tweak_score(|segment: &SegmentReader| {
            let column = |name: &str| segment.fast_fields().i64(name).ok();
            let (dates, ids) = (column("date"), column("id"));
            move |doc: DocId, score: Score| {
                let value = |c: &Option<Column<i64>>| c.as_ref().and_then(|c| c.first(doc));
                (score, value(&dates), value(&ids))
            }
        });
        let (top, total) = searcher.search(&query, &(ranked, Count))?;
        let mut highlight: Vec<Vec<char>> = parsed
            .include
            .iter()
            .map(|t| t.chars().flat_map(char::to_lowercase).collect())
            .collect();
        highlight.sort_by_key(|t| std::cmp::Reverse(t.len()));
        let mut hits = Vec::with_capacity(top.len());
        for ((score, _, _), address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let int = |field| doc.get_first(field).and_then(|v| v.as_i64()).unwrap_or(0);
            let id = int(f.id);
            let date_ms = int(f.date);
            hits.push(SearchHit {
                id,
                title: text(f.title),
                source: text(f.source_name),
                source_id: text(f.source),
                date_ms,
                time: crate::publish::dates::format_time(date_ms),
                url: format!("a/{id}.html"),
                link: text(f.link),
                gone: int(f.gone) != 0,
                score,
                snippet: snippet(&text(f.text), &highlight),
            });
        }
        Ok(SearchResults {
            query: request.query.clone(),
            total,
            hits,
        })
    }
}

/// A query split into words.
#[derive(Debug, Default, PartialEq, Eq)]
struct ParsedQuery {
    include: Vec<String>,
}

fn parse_query(query: &str) -> Result<ParsedQuery, SearchError> {
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::BadQuery(format!(
            "the query is {chars} characters long; at most {MAX_QUERY_CHARS} are searched"
        )));
    }
    let mut parsed = ParsedQuery::default();
    for word in query.split_whitespace() {
        if char_tokens(word).is_empty() {
            continue;
        }
        parsed.include.push(word.to_string());
    }
    if parsed.include.len() > MAX_TERMS {
        return Err(SearchError::BadQuery(format!(
            "too many words in the query; at most {MAX_TERMS}"
        )));
    }
    if parsed.include.is_empty() {
        return Err(SearchError::BadQuery(
            "the query has no word to search for (letters, digits or CJK characters)".into(),
        ));
    }
    Ok(parsed)
}

/// Finds `word` as a sequence of `chars` tokens: a substring of the title or text.
fn substring_query(field: Field, word: &str) -> Box<dyn Query> {
    let terms: Vec<Term> = char_tokens(word)
        .into_iter()
        .map(|t| Term::from_field_text(field, &t.text))
        .collect();
    if terms.len() == 1 {
        Box::new(TermQuery::new(
            terms.into_iter().next().expect("one term"),
            IndexRecordOption::WithFreqs,
        ))
    } else {
        Box::new(PhraseQuery::new(terms))
    }
}

/// About [`SNIPPET_CHARS`] characters of `text` around the first hit of any of `words`
/// (lower-case), the hits marked. The start of the text when no word is found in it.
fn snippet(text: &str, words: &[Vec<char>]) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().take(SNIPPET_SCAN).collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let mut marked = vec![false; chars.len()];
    let mut first: Option<usize> = None;
    for word in words.iter().filter(|w| !w.is_empty()) {
        let mut i = 0;
        while i + word.len() <= lower.len() {
            if lower[i..i + word.len()] == word[..] {
                marked[i..i + word.len()].fill(true);
                first = Some(first.map_or(i, |f: usize| f.min(i)));
                i += word.len();
            } else {
                i += 1;
            }
        }
    }
    let start = first.map_or(0, |f| f.saturating_sub(SNIPPET_CHARS / 4));
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut pieces: Vec<Piece> = Vec::new();
    if start > 0 {
        pieces.push(Piece {
            text: "…".into(),
            hit: false,
        });
    }
    for i in start..end {
        let c = if chars[i] == '\n' { ' ' } else { chars[i] };
        match pieces.last_mut() {
            Some(piece) if piece.hit == marked[i] && !(i == start && start > 0) => {
                piece.text.push(c)
            }
            _ => pieces.push(Piece {
                text: c.to_string(),
                hit: marked[i],
            }),
        }
    }
    if end < text.chars().count().min(SNIPPET_SCAN) || end < chars.len() {
        pieces.push(Piece {
            text: "…".into(),
            hit: false,
        });
    }
    pieces
}

/// `--since`: a window back from `now_ms` (`30d`, `12h`, `2w`, `90m`) or a day (`2021-04-01`).
/// A window reaching further back than milliseconds since 1970 count is an error naming it (it
/// once saturated, quietly meaning "since ever").
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, SearchError> {
    let text = text.trim();
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis());
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        SearchError::BadQuery(format!(
            "{text:?} is neither a day (2021-04-01) nor a window like 30d, 12h or 2w"
        ))
    };
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    number
        .checked_mul(unit_ms)
        .and_then(|window| now_ms.checked_sub(window))
        .ok_or_else(|| {
            SearchError::BadQuery(format!("{text:?} is too long a time window to count"))
        })
}

/// The snippet as plain text with hits in `[` `]`, for a terminal or a script.
pub fn snippet_text(pieces: &[Piece], mark: (&str, &str)) -> String {
    pieces
        .iter()
        .map(|p| {
            if p.hit {
                format!("{}{}{}", mark.0, p.text, mark.1)
            } else {
                p.text.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: Vec<Token>) -> Vec<String> {
        tokens.into_iter().map(|t| t.text).collect()
    }

    /// Indexes keep each article's fingerprint in their state: these are the values indexes
    /// written before hold (the hash of the line made of the fields), or an update after an
    /// upgrade would index every article again.
    #[test]
    fn fingerprints_are_the_values_index_states_keep() {
        let record = |gone_ms| ArticleRecord {
            id: 7,
            source_id: "zaobao".into(),
            source_name: "联合早报".into(),
            title: "中韩外长会谈".into(),
            link: "https://www.zaobao.com/a".into(),
            body: "<p>正文</p>".into(),
            published_ms: Some(1),
            first_seen_ms: 2,
            date_ms: 1617525953966,
            versions: 1,
            updated_ms: None,
            gone_ms,
            revision: 3,
        };
        for (gone_ms, line) in [(None, "None"), (Some(1617525953967), "Some(1617525953967)")] {
            let line = format!(
                "zaobao\n联合早报\n中韩外长会谈\nhttps://www.zaobao.com/a\n1617525953966\n{line}\n3\n"
            );
            let digest = ring::digest::digest(&SHA256, line.as_bytes());
            assert_eq!(
                fingerprint(&record(gone_ms)),
                hex::encode(&digest.as_ref()[..12])
            );
        }
        // Computed apart, with Python's hashlib.
        assert_eq!(fingerprint(&record(None)), "b5ab0280b131cbd9c8558b8b");
    }

    #[test]
    fn jieba_tokens_lowercase_latin_and_drop_punctuation() {
        let tokens = texts(jieba_tokens("韩国支持北京举办冬奥，COVID Vaccine!"));
        assert!(tokens.contains(&"冬奥".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"covid".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"vaccine".to_string()), "{tokens:?}");
        assert!(!tokens.iter().any(|t| t == "，" || t == " " || t == "!"));
    }

    #[test]
    fn char_tokens_split_cjk_and_keep_latin_words() {
        assert_eq!(
            texts(char_tokens("冬奧 Beijing-2022年")),
            ["冬", "奧", "beijing", "2022", "年"]
        );
    }

    #[test]
    fn plain_text_drops_tags_scripts_and_decodes_entities() {
        let text =
            plain_text("<p>中韩&amp;外长</p><script>alert(1)</script><p>会谈&#x4E2D;&nbsp;x</p>");
        assert_eq!(text, "中韩&外长\n会谈中 x");
    }

    #[test]
    fn plain_text_takes_any_text() {
        for html in ["<¡", "&¡;", "&#x110000;", "<p", "<>", "&#99999999999;"] {
            plain_text(html);
        }
        assert_eq!(plain_text("a &amp b <c"), "a &amp b");
    }

    #[test]
    fn snippets_mark_every_hit_case_insensitively() {
        let pieces = snippet(
            "The Winter Olympics 冬奥 in Beijing",
            &["冬奥".chars().collect(), "olympics".chars().collect()],
        );
        assert_eq!(
            snippet_text(&pieces, ("[", "]")),
            "The Winter [Olympics] [冬奥] in Beijing"
        );
    }

    #[test]
    fn queries_are_bounded_and_must_have_words() {
        assert!(matches!(
            parse_query("  ，。 "),
            Err(SearchError::BadQuery(_))
        ));
        assert!(matches!(
            parse_query(&"冬".repeat(MAX_QUERY_CHARS + 1)),
            Err(SearchError::BadQuery(_))
        ));
        assert!(matches!(
            parse_query(&"a ".repeat(MAX_TERMS + 1)),
            Err(SearchError::BadQuery(_))
        ));
        let parsed = parse_query("冬奥 ， x").unwrap();
        assert_eq!(parsed.include, ["冬奥", "x"]);
    }

    #[test]
    fn since_takes_windows_and_days() {
        assert_eq!(parse_since("2d", 3 * 86_400_000).unwrap(), 86_400_000);
        assert_eq!(parse_since("1970-01-02", 0).unwrap(), 86_400_000);
        assert!(parse_since("soon", 0).is_err());
    }

    #[test]
    fn a_window_too_long_to_count_is_refused_naming_it() {
        for text in ["20000000000w", "1000000000000000000d"] {
            let error = parse_since(text, 0).unwrap_err().to_string();
            assert!(error.contains(text), "{error}");
        }
        // The longest window that counts reaches back from now without wrapping either.
        let longest = format!("{}m", i64::MAX / 60_000);
        assert!(parse_since(&longest, 1_700_000_000_000).unwrap() < 0);
        assert!(parse_since(&longest, -1_000_000_000_000).is_err());
    }

    #[test]
    fn an_index_built_from_scratch_is_fed_at_the_pace_of_its_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let articles = Pace::AHEAD * 3;
        crate::store::store_articles(
            &store,
            articles,
            |i| format!("冬奥 {i}"),
            |i| format!("<p>韩国支持北京举办冬奥 {i}</p>"),
        );
        // A writer whose threads did not count would leave the walk waiting, and then unpaced.
        // A lean build's walk hands the articles to threads that make the documents first.
        for (building, index) in [(Building::Fast, "fast"), (Building::Lean, "lean")] {
            let mut pace = Pace::new(std::time::Duration::from_secs(30));
            let (report, _) =
                update_index_paced(&store, &dir.path().join(index), building, false, &mut pace)
                    .unwrap();
            assert_eq!(report.indexed, articles, "{building:?}");
            assert!(
                !pace.is_off(),
                "{building:?}: the writer's threads were not counted"
            );
            assert_eq!(pace.begun(), articles, "{building:?}");
        }
    }

    /// The terms of `field` over every segment of the index in `dir`, with their document counts.
    fn terms(dir: &Path, field: &str) -> std::collections::BTreeMap<String, u32> {
        let index = Index::open_in_dir(dir).unwrap();
        let field = index.schema().get_field(field).unwrap();
        let searcher = index.reader().unwrap().searcher();
        let mut terms = std::collections::BTreeMap::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(field).unwrap();
            let mut stream = inverted.terms().stream().unwrap();
            while stream.advance() {
                let term = String::from_utf8(stream.key().to_vec()).unwrap();
                *terms.entry(term).or_default() += stream.value().doc_freq;
            }
        }
        terms
    }

    /// A lean build hands the writer bodies segmented beforehand, a fast one the text: the
    /// index holds the same words either way.
    #[test]
    fn lean_and_fast_builds_index_the_same_words() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(2);
        crate::store::store_articles(
            &store,
            40,
            |i| format!("冬奥 {i} Beijing"),
            |i| {
                format!(
                    "<p>韩国支持北京举办冬奥，COVID Vaccine! {i}</p>\n<p>臺灣 台湾\r\n  {long_word}\
                     </p><p>中华人民共和国国务院 e.com/{i}?q=1&amp;b=2 İstanbul</p>"
                )
            },
        );
        let (lean, fast) = (dir.path().join("lean"), dir.path().join("fast"));
        update_index(&store, &lean, Building::Lean).unwrap();
        update_index(&store, &fast, Building::Fast).unwrap();
        for (field, word) in [("body", "冬奥"), ("title", "冬奥"), ("chars", "冬")] {
            let words = terms(&lean, field);
            assert!(words.contains_key(word), "{field}: {words:?}");
            assert_eq!(words, terms(&fast, field), "{field}");
        }
        assert!(terms(&lean, "body").contains_key("vaccine"));
        assert!(!terms(&lean, "body").contains_key(&long_word.to_lowercase()));
    }

    proptest::proptest! {
        /// What [`segmented`] writes, [`WordsTokenizer`] reads back word for word, whatever the
        /// text: no word holds the line break that ends it.
        #[test]
        fn segmented_words_read_back_as_they_were(text in "[a-zA-Z0-9 \n\r\t,.冬奥北京韩國国臺台湾-]{0,80}|\\PC{0,80}") {
            let mut words = words_analyzer();
            let expected: Vec<String> = texts(collect_tokens(words.token_stream(&text)));
            let joined = segmented(&text, &mut words);
            let read = texts(collect_tokens(WordsTokenizer.token_stream(&joined)));
            proptest::prop_assert_eq!(read, expected);
        }
    }

    /// `run` builds an index from scratch after its posts and updates one beside them: it asks
    /// which it will be. An index whose building was cut short counts as none.
    #[test]
    fn an_index_counts_its_articles_once_built_whole_in_this_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let index = dir.path().join("index");
        assert_eq!(indexed_articles(&index), None);
        update_index(&store, &index, Building::Lean).unwrap();
        assert_eq!(indexed_articles(&index), Some(0), "an index of no article");
        crate::store::store_articles(&store, 3, |i| format!("冬奥 {i}"), |i| format!("{i}"));
        update_index(&store, &index, Building::Lean).unwrap();
        assert_eq!(indexed_articles(&index), Some(3));
        let state = index.join(STATE_FILE);
        let whole = std::fs::read_to_string(&state).unwrap();
        let older = whole.replace(&format!("\"format\":{FORMAT}"), "\"format\":2");
        std::fs::write(&state, older).unwrap();
        assert_eq!(indexed_articles(&index), None, "an index of another format");
        assert!(index_finished(&index));
        // Cut short: the index's files are there, its state is not (written last).
        std::fs::remove_file(&state).unwrap();
        assert_eq!(indexed_articles(&index), None);
        assert!(!index_finished(&index));
        assert!(matches!(
            SearchIndex::open(&index),
            Err(SearchError::Missing(_))
        ));
        assert_eq!(
            update_index(&store, &index, Building::Fast)
                .unwrap()
                .indexed,
            3
        );
        assert_eq!(SearchIndex::open(&index).unwrap().len(), 3);
    }

    /// An index of an empty archive is an index too: damaged, it is built again like any other.
    #[test]
    fn a_damaged_index_of_an_empty_archive_is_built_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let index = dir.path().join("index");
        assert_eq!(
            update_index(&store, &index, Building::Fast)
                .unwrap()
                .articles,
            0
        );
        std::fs::write(index.join("meta.json"), "damaged").unwrap();
        update_index(&store, &index, Building::Fast).unwrap();
        SearchIndex::open(&index).unwrap();
    }

    /// Overwrites one segment file (`*.idx`) of the index in `dir` with junk: `meta.json` still
    /// reads, the segment no longer opens.
    fn damage_a_segment(dir: &Path) {
        let segment = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|e| e == "idx"))
            .expect("a segment");
        // A new file renamed over the segment, not the segment truncated in place: a thread of
        // tantivy's may still have the old one mapped (a reader's reload), and reading a mapped
        // page past a file's new end is SIGBUS (it took the whole test binary down, 1 run in 20).
        let junk = dir.join("junk.tmp");
        std::fs::write(&junk, [0x5a; 100]).unwrap();
        std::fs::rename(junk, segment).unwrap();
    }

    /// An index whose segments no longer open is as good as missing: opened for searching, it is
    /// an error naming its folder; brought up to date, it is built again whole from the store.
    #[test]
    fn an_index_whose_segment_does_not_open_is_built_again_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        crate::store::store_articles(&store, 5, |i| format!("冬奥 {i}"), |i| format!("{i}"));
        let index = dir.path().join("index");
        update_index(&store, &index, Building::Fast).unwrap();
        damage_a_segment(&index);
        match SearchIndex::open(&index) {
            Ok(_) => panic!("a damaged index opened"),
            Err(e) => assert!(e.to_string().contains(&index.display().to_string()), "{e}"),
        }
        for building in [Building::Lean, Building::Fast] {
            let report = update_index(&store, &index, building).unwrap();
            assert_eq!(report.indexed, 5, "{building:?}: {report:?}");
            assert_eq!(SearchIndex::open(&index).unwrap().len(), 5);
            damage_a_segment(&index);
        }
    }

    /// Writers of one index wait for one another: of three started together where there is no
    /// index, one builds it, and the others, once it is built, find it current.
    #[test]
    fn writers_started_together_build_the_index_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let store = Store::open(&path).unwrap();
        crate::store::store_articles(&store, 20, |i| format!("冬奥 {i}"), |i| format!("{i}"));
        let index = dir.path().join("index");
        let reports: Vec<IndexReport> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        let store = Store::open(&path).unwrap();
                        update_index(&store, &index, Building::Fast)
                    })
                })
                .collect();
            writers
                .into_iter()
                .map(|w| w.join().unwrap().unwrap())
                .collect()
        });
        assert_eq!(
            reports.iter().map(|r| r.indexed).sum::<usize>(),
            20,
            "{reports:?}"
        );
        assert!(reports.iter().all(|r| r.articles == 20), "{reports:?}");
        assert_eq!(SearchIndex::open(&index).unwrap().len(), 20);
    }

    /// An index that is current is not written: bringing it up to date takes no writer and no
    /// lock, and so succeeds at once while another holds tantivy's writer lock and the writers'.
    #[test]
    fn a_current_index_is_brought_up_to_date_without_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        crate::store::store_articles(&store, 3, |i| format!("冬奥 {i}"), |i| format!("{i}"));
        let index = dir.path().join("index");
        update_index(&store, &index, Building::Fast).unwrap();
        let held = Index::open_in_dir(&index).unwrap();
        let _writer: IndexWriter = held.writer_with_num_threads(1, WRITER_BUDGET).unwrap();
        let _lock = IndexLock::acquire(&index, std::time::Duration::ZERO)
            .unwrap()
            .expect("no one else holds it");
        assert_eq!(
            open_updated(&store, &index, Building::Fast).unwrap().len(),
            3
        );
        let report = update_index(&store, &index, Building::Fast).unwrap();
        assert_eq!(
            report,
            IndexReport {
                articles: 3,
                indexed: 0,
                removed: 0
            }
        );
    }
}
