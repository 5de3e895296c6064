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
//!   them), Latin words lower-cased. Full-width letters, digits and signs (ＣＯＶＩＤ, ２０２２)
//!   are first read as their ASCII forms ([`fold_width`]), here and in `chars`. These fields
//!   rank the results (BM25, the title counting double; equal scores newest first, then by
//!   article id).
//! - `chars` goes through [`CharTokenizer`]: every CJK character is a token, every run of Latin
//!   letters and digits is one lower-cased token, positions kept; a line break (the title's
//!   end, a paragraph's) leaves a position free. A query word must be found here as a phrase,
//!   which is to say as a substring of the title or of a line of the text: a word is found
//!   whatever jieba made of the text around it (a two-character word inside a longer phrase), and
//!   traditional and simplified characters each find their own text, never the other's.
//!
//! A query is words separated by spaces; every word must occur (title or text). (No `-word`
//! exclusion: a phrase query under "must not" trips a debug assertion in tantivy 0.27.) Work per
//! query is bounded: [`MAX_QUERY_CHARS`], [`MAX_TERMS`], [`MAX_LIMIT`] results after at most
//! [`MAX_OFFSET`] skipped (a later page).
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
//!
//! The files follow that: `tokens` (how the index reads text), `text` (an article's plain text),
//! `indexing` (built from scratch or brought up to date, with `pace` and `lock`), `query`
//! (searching, snippets); this one holds the schema and the errors they share.

use std::path::PathBuf;

use tantivy::Index;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{RemoveLongFilter, TextAnalyzer};
use thiserror::Error;

use crate::store::StoreError;

mod indexing;
mod lock;
mod pace;
mod query;
mod text;
mod tokens;

pub use indexing::{
    Building, IndexReport, index_finished, indexed_articles, open_updated, update_index,
};
pub use query::{
    Piece, SearchHit, SearchIndex, SearchRequest, SearchResults, parse_since, snippet_text,
};
pub use text::plain_text;
pub(crate) use text::{HtmlPiece, decode_entity, html_pieces};
use tokens::words_analyzer;
pub use tokens::{
    CharTokenizer, JiebaTokenizer, TokenSpans, WordsTokenizer, char_tokens, fold_width, is_cjk,
    jieba_tokens, warm_up,
};

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words in one query.
pub const MAX_TERMS: usize = 12;
/// Most results one query returns.
pub const MAX_LIMIT: usize = 100;
/// Results when the caller does not say.
pub const DEFAULT_LIMIT: usize = 20;
/// Most results one query skips (`offset`: a later page of results); with [`MAX_LIMIT`], a
/// query ranks at most 1,100 articles.
pub const MAX_OFFSET: usize = 1000;
/// Characters of a snippet.
const SNIPPET_CHARS: usize = 160;
/// Characters of an article's text scanned for the snippet, at most.
const SNIPPET_SCAN: usize = 20_000;
/// The index's memory of what it holds, in the index folder.
const STATE_FILE: &str = "newsvault-index.json";
/// Bump when the schema or the analysis changes: the index is then rebuilt from the store (4:
/// full-width forms folded; 5: no phrase across the title's end or a line break).
const FORMAT: u32 = 5;
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
