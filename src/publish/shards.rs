//! Search on a static host: beside its pages, `newsvault build` writes a search index split into
//! small JSON files under `search/`, which `assets/site.js` fetches on demand when the site is
//! served without `newsvault serve` (no `/api/search`: GitHub Pages, any plain file server). The
//! browser has no jieba dictionary, so the index needs none:
//!
//! - **Terms.** Text is read as runs of CJK characters (the ranges of [`is_cjk`]) and runs of
//!   other letters and digits (`char::is_alphanumeric`); everything else separates. A CJK run
//!   gives every character (a unigram) and every pair of neighbours (a bigram); a letter/digit
//!   run is one word, lower-cased, dropped when longer than [`MAX_WORD_BYTES`]. A query is read
//!   the same way, but a CJK run of two or more characters asks only for its bigrams (a single
//!   character asks for itself): 冬奥 is found inside 北京举办冬奥会, `COVID` finds `covid`.
//!   A document matches when it holds every term of the query; a query of three or more CJK
//!   characters can therefore match a text that holds its bigrams apart (北京举 matches 北京 …
//!   京举), which is rare and accepted. Titles and texts are read separately (no bigram across
//!   them), the text being [`plain_text`] of the article's body.
//! - **Documents** are numbered once: the first build numbers every article from the oldest
//!   (`date`) to the newest, later builds give new articles the next numbers (oldest first), a
//!   hidden article's number is never reused. Results are listed by the number of query terms
//!   in their title, then by number (the newest first).
//! - **Segments.** Each full block of [`SEGMENT`] numbers is a segment; the last block, while it
//!   fills, is cut into segments of [`SMALL_SEGMENT`], which become one segment when the block
//!   is full. Each segment has its own term shards, `search/terms/<first>-<size>/<shard>.json`
//!   (`first` the segment's first number), where a term lives in shard
//!   `fnv1a32(term as UTF-8) % shards` ([`fnv1a32`]: FNV-1a, 32 bits). A shard is a JSON object
//!   from term to postings: the documents holding the term, then, after a space when there are
//!   any, those holding it in their title. Postings are numbers within the segment (number −
//!   `first`), written with the 64 characters `A–Z a–z 0–9 - _` (values 0–63) as either gaps
//!   (each number minus the one before minus one, the first counted from −1) in little-endian
//!   groups of 5 bits, a character of value ≥ 32 meaning "more groups follow", or, when that is
//!   shorter, `~` and a bitmap of 6 documents per character (lowest bit first). A segment's
//!   shard count is a power of two chosen from its size, so that shards are near
//!   [`TARGET_SHARD_BYTES`]; it changes only when the average shard would leave a quarter to
//!   twice that.
//! - **Document data** (title, `url` relative to the site's root, source, time, `gone`, an
//!   excerpt of [`EXCERPT_CHARS`] characters) lives in `search/docs/<number / DOC_CHUNK>.json`,
//!   a JSON array indexed by `number % DOC_CHUNK` (`null` for numbers no longer used).
//! - **`search/manifest.json`**: `format`, `hash`, `docs` (articles in the index), `doc_chunk`
//!   and `segments`, each `{first, size, shards, v}`; `v` changes whenever anything of that
//!   segment changes, and `site.js` adds it to the URLs of the segment's shards and document
//!   files (`?v=`), so that a file cached from an older build is never mixed with a newer one.
//!   `site.js` fetches the manifest, for each segment the shards of the query's terms, and the
//!   document files of the results it shows (20 at a time).
//!
//! Incremental: [`STATE_FILE`] in the output folder remembers each article's number and a
//! fingerprint of what the index holds of it (title, text, source, date, gone). A build
//! compares, and computes again only the segments (and document files) where an article was
//! added, edited or hidden, or whose files are missing. New articles land in the last small
//! segment, so a build after a run reads at most [`SMALL_SEGMENT`] articles again (and
//! [`SEGMENT`] once per block), and the other segments' files keep their bytes (and their place
//! in a browser's cache or a git history). Every file goes through [`write_atomically`]: a file
//! whose bytes did not change is not touched. Files that no longer belong (a hidden article's
//! last document file, the small segments of a full block, shards beyond a smaller count) are
//! removed. Articles are read on all cores, and a segment is written as soon as its articles
//! are read, so memory holds the segments being read, not the archive.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::publish::site::{SiteError, SiteReport, format_time};
use crate::publish::{TEMP_PREFIX, sweep_temporary_files, write_atomically};
use crate::search::plain_text;
use crate::store::{ArticleRecord, Store};

/// Bump when the files' format or the analysis changes: the index is then written again whole.
pub const FORMAT: u32 = 1;
/// The index's folder, inside the site.
pub const DIR: &str = "search";
/// The index's memory of what it holds, in the site's folder.
pub const STATE_FILE: &str = ".newsvault-search.json";
/// Document numbers per segment, once a block of them is full.
pub const SEGMENT: u32 = 8192;
/// Document numbers per segment in the last block, while it fills.
pub const SMALL_SEGMENT: u32 = 1024;
/// Documents per document file.
pub const DOC_CHUNK: u32 = 64;
/// The size a term shard aims at.
pub const TARGET_SHARD_BYTES: usize = 32 * 1024;
/// Longer words (in UTF-8 bytes, lower-cased) are not indexed, nor searched for.
pub const MAX_WORD_BYTES: usize = 64;
/// Characters of text kept as a document's excerpt (and `…` when the text goes on).
pub const EXCERPT_CHARS: usize = 140;
/// Characters of a title kept in the document files.
const TITLE_CHARS: usize = 300;
/// The digits of postings.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Chinese, Japanese and Korean characters, each a term of its own (the ranges of
/// `crate::search`'s character tokenizer, so both searches cut text alike).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // kana
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x3134F) // CJK extensions B–G
}

/// `char::is_alphanumeric`, without its Unicode tables for ASCII and the punctuation of Chinese
/// text (which has none).
fn is_word_char(c: char) -> bool {
    match c as u32 {
        0..0x80 => c.is_ascii_alphanumeric(),
        0x2000..=0x206F | 0x3000..=0x3004 | 0x3008..=0x3020 | 0xFF01..=0xFF0F | 0xFF1A..=0xFF20 => {
            false
        }
        _ => c.is_alphanumeric(),
    }
}

/// FNV-1a, 32 bits: which shard holds a term (`site.js` computes the same).
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// A term as found in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term<'a> {
    Char(char),
    Pair(char, char),
    /// Not yet lower-cased.
    Word(&'a str),
}

/// Calls `each` with every term of `text`, in order, repeats included.
fn scan<'a>(text: &'a str, mut each: impl FnMut(Term<'a>)) {
    let mut previous: Option<char> = None;
    let mut word: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if is_cjk(c) {
            if let Some(start) = word.take() {
                each(Term::Word(&text[start..i]));
            }
            each(Term::Char(c));
            if let Some(p) = previous {
                each(Term::Pair(p, c));
            }
            previous = Some(c);
        } else {
            previous = None;
            if is_word_char(c) {
                word.get_or_insert(i);
            } else if let Some(start) = word.take() {
                each(Term::Word(&text[start..i]));
            }
        }
    }
    if let Some(start) = word {
        each(Term::Word(&text[start..]));
    }
}

/// `word` lower-cased into `buf`; false when too long to be a term.
fn lower_into(word: &str, buf: &mut String) -> bool {
    buf.clear();
    if word.is_ascii() {
        buf.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        buf.push_str(&word.to_lowercase());
    }
    buf.len() <= MAX_WORD_BYTES
}

/// Every distinct term the index keeps of `text`, in order of first appearance.
pub fn index_terms(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut terms = Vec::new();
    let mut buf = String::new();
    scan(text, |term| {
        let text = match term {
            Term::Char(c) => c.to_string(),
            Term::Pair(a, b) => [a, b].iter().collect(),
            Term::Word(w) => {
                if !lower_into(w, &mut buf) {
                    return;
                }
                buf.clone()
            }
        };
        if seen.insert(text.clone()) {
            terms.push(text);
        }
    });
    terms
}

/// The terms a query asks for (every one must be in a document), distinct, in order: bigrams
/// of CJK runs, single CJK characters standing alone, lower-cased words.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut add = |term: String| {
        if !terms.contains(&term) {
            terms.push(term);
        }
    };
    let mut run: Vec<char> = Vec::new();
    let mut buf = String::new();
    let mut word: Option<usize> = None;
    let end_run = |run: &mut Vec<char>, add: &mut dyn FnMut(String)| {
        if run.len() == 1 {
            add(run[0].to_string());
        }
        for pair in run.windows(2) {
            add(pair.iter().collect());
        }
        run.clear();
    };
    let mut end_word = |word: &str, add: &mut dyn FnMut(String)| {
        if lower_into(word, &mut buf) {
            add(buf.clone());
        }
    };
    for (i, c) in query.char_indices() {
        if is_cjk(c) {
            if let Some(start) = word.take() {
                end_word(&query[start..i], &mut add);
            }
            run.push(c);
        } else {
            end_run(&mut run, &mut add);
            if is_word_char(c) {
                word.get_or_insert(i);
            } else if let Some(start) = word.take() {
                end_word(&query[start..i], &mut add);
            }
        }
    }
    end_run(&mut run, &mut add);
    if let Some(start) = word {
        end_word(&query[start..], &mut add);
    }
    terms
}

/// Writes sorted, distinct `docs` as postings (see the module's documentation): gaps, or a
/// bitmap when that is shorter.
pub fn encode_postings(docs: &[u32], out: &mut String) {
    let start = out.len();
    let mut previous: i64 = -1;
    for &doc in docs {
        let mut gap = (i64::from(doc) - previous - 1) as u64;
        previous = i64::from(doc);
        loop {
            let digit = (gap & 31) as usize;
            gap >>= 5;
            if gap == 0 {
                out.push(char::from(ALPHABET[digit]));
                break;
            }
            out.push(char::from(ALPHABET[digit | 32]));
        }
    }
    let Some(&last) = docs.last() else { return };
    let bitmap_len = 1 + last as usize / 6 + 1;
    if out.len() - start > bitmap_len {
        out.truncate(start);
        let mut bits = vec![0u8; last as usize / 6 + 1];
        for &doc in docs {
            bits[doc as usize / 6] |= 1 << (doc % 6);
        }
        out.push('~');
        out.extend(bits.into_iter().map(|b| char::from(ALPHABET[b as usize])));
    }
}

/// The numbers of postings written by [`encode_postings`]; `None` when they are malformed.
pub fn decode_postings(text: &str) -> Option<Vec<u32>> {
    let digit = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|d| d as u64);
    let mut docs = Vec::new();
    if let Some(bitmap) = text.strip_prefix('~') {
        for (i, c) in bitmap.bytes().enumerate() {
            let bits = digit(c)?;
            for bit in 0..6 {
                if bits & (1 << bit) != 0 {
                    docs.push(u32::try_from(i * 6 + bit).ok()?);
                }
            }
        }
        return Some(docs);
    }
    let (mut previous, mut value, mut shift) = (-1i64, 0u64, 0u32);
    for c in text.bytes() {
        let d = digit(c)?;
        value |= (d & 31).checked_shl(shift)?;
        if d & 32 != 0 {
            shift += 5;
            if shift > 35 {
                return None;
            }
        } else {
            previous += value as i64 + 1;
            docs.push(u32::try_from(previous).ok()?);
            value = 0;
            shift = 0;
        }
    }
    (shift == 0).then_some(docs)
}

/// A fast hash for the builder's maps (the multiply-rotate of rustc's FxHash).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn finish(&self) -> u64 {
        // The product's high bits are the well-mixed ones (as rustc-hash 2 does).
        self.0.rotate_left(26)
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// The documents holding a term, and those holding it in their title.
#[derive(Debug, Default)]
struct Lists {
    all: Vec<u32>,
    title: Vec<u32>,
}

impl Lists {
    fn append(&mut self, mut other: Lists) {
        self.all.append(&mut other.all);
        self.title.append(&mut other.title);
    }
}

/// A term as the builder keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Char(char),
    Pair(char, char),
    Word(Box<str>),
}

/// The postings of documents, each added whole (its terms one after the other), in any order.
/// Terms are numbered as they come: single characters through a table (no hashing: they are
/// half of all terms), pairs and words through hash maps.
#[derive(Default)]
struct Postings {
    /// CJK character → its term's number + 1 (0: not seen yet); empty until the first text.
    char_ids: Vec<u32>,
    /// Pair `(a, b)` as `a << 21 | b` → its term's number.
    pair_ids: FxMap<u64, u32>,
    word_ids: FxMap<Box<str>, u32>,
    /// By term number: the term, its lists, the last document that held it.
    keys: Vec<Key>,
    lists: Vec<Lists>,
    last: Vec<u32>,
    buf: String,
}

/// One past the largest character [`is_cjk`] accepts.
const CJK_END: usize = 0x3_1350;

impl Postings {
    fn term(keys: &mut Vec<Key>, lists: &mut Vec<Lists>, last: &mut Vec<u32>, key: Key) -> u32 {
        keys.push(key);
        lists.push(Lists::default());
        last.push(u32::MAX);
        u32::try_from(keys.len() - 1).expect("fewer than 2^32 terms")
    }

    /// The number of `key`, a new one when it is new.
    fn id(&mut self, key: Key) -> usize {
        let Postings {
            char_ids,
            pair_ids,
            word_ids,
            keys,
            lists,
            last,
            ..
        } = self;
        let id = match key {
            Key::Char(c) => {
                if char_ids.is_empty() {
                    char_ids.resize(CJK_END, 0);
                }
                let slot = &mut char_ids[c as usize];
                if *slot == 0 {
                    *slot = Self::term(keys, lists, last, key) + 1;
                }
                *slot - 1
            }
            Key::Pair(a, b) => *pair_ids
                .entry(u64::from(a) << 21 | u64::from(b))
                .or_insert_with(|| Self::term(keys, lists, last, key)),
            Key::Word(ref word) => match word_ids.get(word) {
                Some(&id) => id,
                None => {
                    let id = Self::term(keys, lists, last, key.clone());
                    word_ids.insert(word.clone(), id);
                    id
                }
            },
        };
        id as usize
    }

    fn add(&mut self, doc: u32, title: &str, text: &str) {
        if self.char_ids.is_empty() {
            self.char_ids.resize(CJK_END, 0);
        }
        let Postings {
            char_ids,
            pair_ids,
            word_ids,
            keys,
            lists,
            last,
            buf,
        } = self;
        for (part, in_title) in [(title, true), (text, false)] {
            scan(part, |term| {
                let id = match term {
                    Term::Char(c) => {
                        let slot = &mut char_ids[c as usize];
                        if *slot == 0 {
                            *slot = Self::term(keys, lists, last, Key::Char(c)) + 1;
                        }
                        *slot - 1
                    }
                    Term::Pair(a, b) => *pair_ids
                        .entry(u64::from(a) << 21 | u64::from(b))
                        .or_insert_with(|| Self::term(keys, lists, last, Key::Pair(a, b))),
                    Term::Word(w) => {
                        if !lower_into(w, buf) {
                            return;
                        }
                        match word_ids.get(buf.as_str()) {
                            Some(&id) => id,
                            None => {
                                let key = Key::Word(buf.as_str().into());
                                let id = Self::term(keys, lists, last, key);
                                word_ids.insert(buf.as_str().into(), id);
                                id
                            }
                        }
                    }
                } as usize;
                if last[id] != doc {
                    last[id] = doc;
                    lists[id].all.push(doc);
                }
                if in_title && lists[id].title.last() != Some(&doc) {
                    lists[id].title.push(doc);
                }
            });
        }
    }

    /// Adds the postings of other documents.
    fn append(&mut self, other: Postings) {
        for (key, lists) in other.keys.into_iter().zip(other.lists) {
            let id = self.id(key);
            self.lists[id].append(lists);
            self.last[id] = u32::MAX;
        }
    }

    /// `(shard hash, term, postings)` of every term.
    fn encode(self) -> Vec<(u32, String, String)> {
        let mut out = Vec::with_capacity(self.keys.len());
        for (key, mut lists) in self.keys.into_iter().zip(self.lists) {
            // Threads read articles in turn: each list is sorted here.
            // (A stable sort: the lists are runs of ascending or descending numbers.)
            lists.all.sort();
            lists.title.sort();
            let mut value = String::new();
            encode_postings(&lists.all, &mut value);
            if !lists.title.is_empty() {
                value.push(' ');
                encode_postings(&lists.title, &mut value);
            }
            let term = match key {
                Key::Char(c) => c.to_string(),
                Key::Pair(a, b) => [a, b].iter().collect(),
                Key::Word(word) => word.into(),
            };
            out.push((fnv1a32(term.as_bytes()), term, value));
        }
        out
    }
}

/// What [`write_search_shards`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardReport {
    /// Articles in the index.
    pub docs: usize,
    /// Segments in the index, and those whose postings were computed again.
    pub segments: usize,
    pub recomputed: usize,
    /// Files whose bytes changed (new or rewritten), files left as they were, files removed.
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

impl ShardReport {
    /// Counts this index's files in the site's report.
    pub fn add_to(&self, site: &mut SiteReport) {
        site.written += self.written;
        site.unchanged += self.unchanged;
        site.removed += self.removed;
    }
}

/// The index's memory, [`STATE_FILE`].
#[derive(Debug, Serialize, Deserialize)]
struct State {
    format: u32,
    layout: Layout,
    /// The number the next new article gets.
    next: u32,
    /// `(article id, number, fingerprint)`, by number.
    docs: Vec<(i64, u32, u64)>,
    /// `(first number, size, shard count)` of every segment.
    segments: Vec<(u32, u32, u32)>,
    /// A digest of the site's fingerprints of its articles when the index was written.
    #[serde(default)]
    site: Option<String>,
}

impl Default for State {
    fn default() -> State {
        State {
            format: 0,
            layout: Layout::DEFAULT,
            next: 0,
            docs: Vec::new(),
            segments: Vec::new(),
            site: None,
        }
    }
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: u32,
    hash: &'static str,
    docs: usize,
    doc_chunk: u32,
    segments: &'a [SegmentInfo],
}

#[derive(Serialize)]
struct SegmentInfo {
    first: u32,
    size: u32,
    shards: u32,
    v: String,
}

/// A segment: its first number and its size.
type Segment = (u32, u32);

/// What the index needs of an article.
struct Text {
    id: i64,
    title: String,
    body: String,
    source: String,
    date_ms: i64,
    gone: bool,
}

/// One entry of a document file.
#[derive(Serialize)]
struct DocEntry {
    title: String,
    url: String,
    source: String,
    time: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    gone: bool,
    excerpt: String,
}

fn terms_dir(dir: &Path, (first, size): Segment) -> PathBuf {
    dir.join("terms").join(format!("{first}-{size}"))
}

fn shard_path(dir: &Path, segment: Segment, shard: u32) -> PathBuf {
    terms_dir(dir, segment).join(format!("{shard}.json"))
}

fn chunk_path(dir: &Path, chunk: u32) -> PathBuf {
    dir.join("docs").join(format!("{chunk}.json"))
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> SiteError + use<> {
    let path = path.to_path_buf();
    move |source| SiteError::Write { path, source }
}

/// How document numbers are grouped: full blocks of `segment` numbers are a segment each; the
/// last block, while it fills, is cut in segments of `small`; document files hold `doc_chunk`
/// numbers. Each divides the one before. [`Layout::DEFAULT`] is the site's; tests use small
/// ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub segment: u32,
    pub small: u32,
    pub doc_chunk: u32,
}

impl Layout {
    pub const DEFAULT: Layout = Layout {
        segment: SEGMENT,
        small: SMALL_SEGMENT,
        doc_chunk: DOC_CHUNK,
    };

    /// The segment of `number` when `next` numbers are given.
    fn segment_of(&self, number: u32, next: u32) -> Segment {
        let block = number / self.segment * self.segment;
        if block.saturating_add(self.segment) <= next {
            (block, self.segment)
        } else {
            (number / self.small * self.small, self.small)
        }
    }
}

impl Default for Layout {
    fn default() -> Layout {
        Layout::DEFAULT
    }
}

/// The articles on the site (not hidden), as the index reads them: the store, or a list in
/// tests.
pub trait Articles {
    /// Calls `each` with every article, newest first (`date`, then id), bodies left empty.
    fn walk_without_body(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError>;
    /// The same walk with the bodies.
    fn walk(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError>;
    /// The body of one article.
    fn body(&self, id: i64) -> Result<String, SiteError>;
}

impl Articles for Store {
    fn walk_without_body(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError> {
        let walked = self.for_each_article_without_body(|record| {
            each(record);
            Ok::<(), std::convert::Infallible>(())
        })?;
        let Ok(()) = walked;
        Ok(())
    }

    fn walk(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError> {
        let walked = self.for_each_article(|record| {
            each(record);
            Ok::<(), std::convert::Infallible>(())
        })?;
        let Ok(()) = walked;
        Ok(())
    }

    fn body(&self, id: i64) -> Result<String, SiteError> {
        Ok(self.article_body(id)?)
    }
}

/// Writes (or brings up to date) the static search index of `store` in `out/search/`.
///
/// `site` is the site build's fingerprint of each article on it (id → a hash of everything its
/// page shows, which includes everything the index holds): when they are those of the last
/// build and the index's files are all there, nothing is read or written.
pub fn write_search_shards(
    store: &Store,
    out: &Path,
    site: &HashMap<i64, String>,
) -> Result<ShardReport, SiteError> {
    let mut ids: Vec<(&i64, &String)> = site.iter().collect();
    ids.sort_unstable();
    let mut hash = Sha256::new();
    for (id, print) in ids {
        hash.update(format!("{id} {print}\n").as_bytes());
    }
    let digest = hex::encode(&hash.finalize()[..12]);
    if let Some(report) = unchanged(out, &digest) {
        return Ok(report);
    }
    write_index(store, out, Layout::DEFAULT, Some(digest))
}

fn read_state(path: &Path, layout: Layout) -> Option<State> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<State>(&bytes).ok())
        .filter(|state| state.format == FORMAT && state.layout == layout)
}

/// The report of a build that has nothing to do: the site's articles are those the index was
/// last written from (`digest`), and its files are all there.
fn unchanged(out: &Path, digest: &str) -> Option<ShardReport> {
    let state = read_state(&out.join(STATE_FILE), Layout::DEFAULT)?;
    if state.site.as_deref() != Some(digest) {
        return None;
    }
    let dir = out.join(DIR);
    let mut files = 1;
    if !dir.join("manifest.json").is_file() {
        return None;
    }
    for &(first, size, count) in &state.segments {
        for shard in 0..count {
            if !shard_path(&dir, (first, size), shard).is_file() {
                return None;
            }
        }
        files += count as usize;
    }
    let chunks: BTreeSet<u32> = state
        .docs
        .iter()
        .map(|&(_, number, _)| number / state.layout.doc_chunk)
        .collect();
    for &chunk in &chunks {
        if !chunk_path(&dir, chunk).is_file() {
            return None;
        }
    }
    Some(ShardReport {
        docs: state.docs.len(),
        segments: state.segments.len(),
        unchanged: files + chunks.len(),
        ..ShardReport::default()
    })
}

/// [`write_search_shards`] for `articles`, grouped by `layout`; `site` is kept in the state for
/// the next build to compare.
pub fn write_index(
    articles: &dyn Articles,
    out: &Path,
    layout: Layout,
    site: Option<String>,
) -> Result<ShardReport, SiteError> {
    assert!(
        layout.doc_chunk > 0
            && layout.small.is_multiple_of(layout.doc_chunk)
            && layout.segment.is_multiple_of(layout.small)
    );
    let started = std::time::Instant::now();
    let dir = out.join(DIR);
    for folder in [dir.clone(), dir.join("docs")] {
        std::fs::create_dir_all(&folder).map_err(write_error(&folder))?;
        sweep_temporary_files(&folder).map_err(write_error(&folder))?;
    }
    let state_path = out.join(STATE_FILE);
    let old: State = read_state(&state_path, layout).unwrap_or_default();
    let old_docs: HashMap<i64, (u32, u64)> = old
        .docs
        .iter()
        .map(|&(id, number, print)| (id, (number, print)))
        .collect();
    let old_segments: HashMap<Segment, u32> = old
        .segments
        .iter()
        .map(|&(first, size, count)| ((first, size), count))
        .collect();

    // First walk, without the bodies: what changed, by the store's revisions.
    let mut seen: Vec<(i64, i64, u64)> = Vec::new();
    let mut metas: HashMap<i64, ArticleRecord> = HashMap::new();
    articles.walk_without_body(&mut |record| {
        seen.push((record.id, record.date_ms, fingerprint(&record)));
        metas.insert(record.id, record);
    })?;
    let walked_in = started.elapsed();

    // Numbers: the old ones kept, new articles after them, oldest first.
    let mut numbers: BTreeMap<u32, (i64, u64)> = BTreeMap::new();
    let mut touched: Vec<u32> = Vec::new();
    let mut fresh: Vec<(i64, i64, u64)> = Vec::new();
    for &(id, date_ms, print) in &seen {
        match old_docs.get(&id) {
            Some(&(number, old_print)) => {
                if old_print != print {
                    touched.push(number);
                }
                numbers.insert(number, (id, print));
            }
            None => fresh.push((date_ms, id, print)),
        }
    }
    drop(seen);
    fresh.sort_unstable();
    let mut next = old.next;
    for (_, id, print) in fresh {
        numbers.insert(next, (id, print));
        touched.push(next);
        next += 1;
    }
    for &(id, number, _) in &old.docs {
        if numbers.get(&number).is_none_or(|&(held, _)| held != id) {
            touched.push(number); // hidden since
        }
    }
    let segment_of = |number: u32| layout.segment_of(number, next);
    let mut dirty_segments: BTreeSet<Segment> = BTreeSet::new();
    let mut dirty_chunks: BTreeSet<u32> = BTreeSet::new();
    for number in touched {
        dirty_segments.insert(segment_of(number));
        dirty_chunks.insert(number / layout.doc_chunk);
    }
    // New segments (a block just filled) and files gone from the disk are written again.
    let live_segments: BTreeSet<Segment> = numbers.keys().map(|&n| segment_of(n)).collect();
    for &segment in &live_segments {
        let whole = old_segments
            .get(&segment)
            .is_some_and(|&count| (0..count).all(|k| shard_path(&dir, segment, k).exists()));
        if !whole {
            dirty_segments.insert(segment);
        }
    }
    let live_chunks: BTreeSet<u32> = numbers.keys().map(|n| n / layout.doc_chunk).collect();
    for &chunk in &live_chunks {
        if !chunk_path(&dir, chunk).exists() {
            dirty_chunks.insert(chunk);
        }
    }

    // The articles to read again: every one of a segment or a document file to write again.
    let wanted = |number: u32| {
        dirty_segments.contains(&segment_of(number))
            || dirty_chunks.contains(&(number / layout.doc_chunk))
    };
    let mut expected: BTreeMap<Segment, usize> = BTreeMap::new();
    let mut wanted_ids: HashMap<i64, u32> = HashMap::new();
    for (&number, &(id, _)) in &numbers {
        if wanted(number) {
            *expected.entry(segment_of(number)).or_default() += 1;
            wanted_ids.insert(id, number);
        }
    }
    // A few bodies are read one by one; many, along a second walk.
    let second_walk = wanted_ids.len() > metas.len() / 4;
    let planned_in = started.elapsed();

    let mut counts = Counts::default();
    let indexer = Indexer {
        dir: &dir,
        layout,
        next,
        old_segments: &old_segments,
        dirty_segments: &dirty_segments,
        dirty_chunks: &dirty_chunks,
    };
    let (mut shards, read) = indexer.run(expected, &mut counts, |feed| {
        if second_walk {
            drop(std::mem::take(&mut metas));
            articles.walk(&mut |record| {
                if let Some(&number) = wanted_ids.get(&record.id) {
                    feed(number, Text::from(record));
                }
            })
        } else {
            // Newest first, as a walk would: the threads' lists are then runs.
            let mut order: Vec<(u32, i64)> = wanted_ids.iter().map(|(&i, &n)| (n, i)).collect();
            order.sort_unstable_by(|a, b| b.cmp(a));
            for (number, id) in order {
                if let Some(mut record) = metas.remove(&id) {
                    record.body = articles.body(id)?;
                    feed(number, Text::from(record));
                }
            }
            Ok(())
        }
    })?;
    let indexed_in = started.elapsed();
    // Hidden between the two walks: left out now, added by the next build.
    numbers.retain(|number, (id, _)| !wanted(*number) || read.contains(id));
    let recomputed = shards.len();
    for &segment in &live_segments {
        if let Some(&count) = old_segments.get(&segment) {
            shards.entry(segment).or_insert(count);
        }
    }
    let live_segments: BTreeSet<Segment> = numbers.keys().map(|&n| segment_of(n)).collect();
    shards.retain(|segment, _| live_segments.contains(segment));
    let live_chunks: BTreeSet<u32> = numbers.keys().map(|n| n / layout.doc_chunk).collect();

    let segments: Vec<SegmentInfo> = shards
        .iter()
        .map(|(&(first, size), &count)| {
            let mut hash = Sha256::new();
            hash.update(format!("{FORMAT} {count}\n").as_bytes());
            for (number, (_, print)) in numbers.range(first..first.saturating_add(size)) {
                hash.update(number.to_le_bytes());
                hash.update(print.to_le_bytes());
            }
            SegmentInfo {
                first,
                size,
                shards: count,
                v: hex::encode(&hash.finalize()[..4]),
            }
        })
        .collect();
    let manifest = Manifest {
        format: FORMAT,
        hash: "fnv1a32",
        docs: numbers.len(),
        doc_chunk: layout.doc_chunk,
        segments: &segments,
    };
    let bytes = serde_json::to_vec(&manifest).expect("the manifest serialises");
    counts.write(&dir.join("manifest.json"), &bytes)?;
    let removed = remove_stale(&dir, &shards, &live_chunks).map_err(write_error(&dir))?;
    let report = ShardReport {
        docs: numbers.len(),
        segments: segments.len(),
        recomputed,
        written: counts.written,
        unchanged: counts.unchanged,
        removed,
    };

    let state = State {
        format: FORMAT,
        layout,
        next,
        docs: numbers
            .iter()
            .map(|(&number, &(id, print))| (id, number, print))
            .collect(),
        segments: shards
            .iter()
            .map(|(&(first, size), &count)| (first, size, count))
            .collect(),
        site,
    };
    let bytes = serde_json::to_vec(&state).expect("the search state serialises");
    write_atomically(&state_path, &bytes).map_err(write_error(&state_path))?;
    tracing::debug!(
        "static search index: {} articles, {} of {} segments computed again{}, {} files \
         written, {} unchanged, {} removed, in {:?} (walk {:?}, plan {:?}, index {:?})",
        report.docs,
        report.recomputed,
        report.segments,
        if second_walk { " (second walk)" } else { "" },
        report.written,
        report.unchanged,
        report.removed,
        started.elapsed(),
        walked_in,
        planned_in - walked_in,
        indexed_in - planned_in,
    );
    Ok(report)
}

impl From<ArticleRecord> for Text {
    fn from(record: ArticleRecord) -> Text {
        Text {
            id: record.id,
            title: record.title,
            body: record.body,
            source: record.source_name,
            date_ms: record.date_ms,
            gone: record.gone_ms.is_some(),
        }
    }
}

/// Files written and left alone.
#[derive(Default)]
struct Counts {
    written: usize,
    unchanged: usize,
}

impl Counts {
    fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<(), SiteError> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(write_error(folder))?;
        }
        if write_atomically(path, bytes).map_err(write_error(path))? {
            self.written += 1;
        } else {
            self.unchanged += 1;
        }
        Ok(())
    }
}

/// What the index holds of an article, hashed; the text is in the store's revision of the
/// article, which any change to it bumps.
fn fingerprint(record: &ArticleRecord) -> u64 {
    let mut hash = Sha256::new();
    hash.update(
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n",
            record.id,
            record.title,
            record.source_name,
            record.date_ms,
            record.gone_ms.is_some(),
            record.revision,
        )
        .as_bytes(),
    );
    u64::from_le_bytes(hash.finalize()[..8].try_into().expect("8 bytes"))
}

/// Work for an analysing thread.
enum Job {
    /// An article to read: its terms when its segment is written again, its entry when its
    /// document file is.
    Doc {
        segment: Segment,
        number: u32,
        text: Text,
        terms: bool,
        entry: bool,
    },
    /// Hand over what was read of this segment.
    Finish(Segment),
}

/// What a thread read of a segment.
#[derive(Default)]
struct Part {
    postings: Postings,
    entries: Vec<(u32, DocEntry)>,
}

/// Reads articles on all cores as a walk hands them over, and writes each segment (its shards
/// and document files) as soon as its last article is read, so that only the segments being
/// read are in memory.
struct Indexer<'a> {
    dir: &'a Path,
    layout: Layout,
    next: u32,
    old_segments: &'a HashMap<Segment, u32>,
    dirty_segments: &'a BTreeSet<Segment>,
    dirty_chunks: &'a BTreeSet<u32>,
}

impl Indexer<'_> {
    /// `walk` calls the function it gets with every article of `expected` (articles to read by
    /// segment). Returns the shard counts of the segments written again and the articles read.
    fn run(
        &self,
        mut expected: BTreeMap<Segment, usize>,
        counts: &mut Counts,
        walk: impl FnOnce(&mut dyn FnMut(u32, Text)) -> Result<(), SiteError>,
    ) -> Result<(BTreeMap<Segment, u32>, HashSet<i64>), SiteError> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut shards = BTreeMap::new();
        let mut read = HashSet::new();
        let mut error: Option<SiteError> = None;
        std::thread::scope(|scope| -> Result<(), SiteError> {
            let (done, results) = std::sync::mpsc::channel::<Part>();
            let senders: Vec<_> = (0..threads)
                .map(|_| {
                    let (send, jobs) = std::sync::mpsc::sync_channel::<Job>(64);
                    let done = done.clone();
                    scope.spawn(move || analyse(jobs, done));
                    send
                })
                .collect();
            let mut turn = 0;
            let mut finish = |segment: Segment, error: &mut Option<SiteError>| {
                for send in &senders {
                    let _ = send.send(Job::Finish(segment));
                }
                let mut whole = Part::default();
                for _ in 0..threads {
                    let Ok(part) = results.recv() else { break };
                    whole.postings.append(part.postings);
                    whole.entries.extend(part.entries);
                }
                if error.is_none()
                    && let Err(e) = self.write_segment(segment, whole, &mut shards, counts)
                {
                    *error = Some(e);
                }
            };
            let mut feed = |number: u32, text: Text| {
                let segment = self.layout.segment_of(number, self.next);
                read.insert(text.id);
                let job = Job::Doc {
                    segment,
                    number,
                    text,
                    terms: self.dirty_segments.contains(&segment),
                    entry: self
                        .dirty_chunks
                        .contains(&(number / self.layout.doc_chunk)),
                };
                // Runs of numbers to each thread: its lists are then runs too.
                let _ = senders[turn / 64 % threads].send(job);
                turn += 1;
                if let Some(left) = expected.get_mut(&segment) {
                    *left -= 1;
                    if *left == 0 {
                        expected.remove(&segment);
                        finish(segment, &mut error);
                    }
                }
            };
            let walked = walk(&mut feed);
            // Articles hidden since the first walk never came: write their segments as they are.
            for segment in std::mem::take(&mut expected).into_keys() {
                finish(segment, &mut error);
            }
            drop(senders);
            walked
        })?;
        match error {
            Some(error) => Err(error),
            None => Ok((shards, read)),
        }
    }

    /// Writes what was read of `segment`: its shards when it is written again, its document
    /// files that are.
    fn write_segment(
        &self,
        segment: Segment,
        part: Part,
        shards: &mut BTreeMap<Segment, u32>,
        counts: &mut Counts,
    ) -> Result<(), SiteError> {
        if self.dirty_segments.contains(&segment) {
            let count = write_shards(
                self.dir,
                segment,
                part.postings,
                self.old_segments.get(&segment).copied(),
                counts,
            )?;
            shards.insert(segment, count);
        }
        let mut by_chunk: BTreeMap<u32, Vec<Option<DocEntry>>> = BTreeMap::new();
        for (number, entry) in part.entries {
            let slots = by_chunk.entry(number / self.layout.doc_chunk).or_default();
            let at = (number % self.layout.doc_chunk) as usize;
            if slots.len() <= at {
                slots.resize_with(at + 1, || None);
            }
            slots[at] = Some(entry);
        }
        for (chunk, slots) in by_chunk {
            let bytes = serde_json::to_vec(&slots).expect("document entries serialise");
            counts.write(&chunk_path(self.dir, chunk), &bytes)?;
        }
        Ok(())
    }
}

/// An analysing thread: reads the articles it gets into the postings of their segment.
fn analyse(jobs: std::sync::mpsc::Receiver<Job>, done: std::sync::mpsc::Sender<Part>) {
    let mut open: HashMap<Segment, Part> = HashMap::new();
    for job in jobs {
        match job {
            Job::Doc {
                segment,
                number,
                text,
                terms,
                entry,
            } => {
                let part = open.entry(segment).or_default();
                let plain = plain_text(&text.body);
                if terms {
                    part.postings.add(number - segment.0, &text.title, &plain);
                }
                if entry {
                    part.entries.push((number, doc_entry(&text, &plain)));
                }
            }
            Job::Finish(segment) => {
                let part = open.remove(&segment).unwrap_or_default();
                if done.send(part).is_err() {
                    return;
                }
            }
        }
    }
}

fn doc_entry(doc: &Text, text: &str) -> DocEntry {
    let mut title: String = doc.title.chars().take(TITLE_CHARS).collect();
    if title.len() < doc.title.len() {
        title.push('…');
    }
    let mut excerpt: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if excerpt.len() < text.len() {
        excerpt.push('…');
    }
    DocEntry {
        title,
        url: format!("a/{}.html", doc.id),
        source: doc.source.clone(),
        time: format_time(doc.date_ms),
        gone: doc.gone,
        excerpt,
    }
}

/// Writes a segment's shards; returns their count.
fn write_shards(
    dir: &Path,
    segment: Segment,
    postings: Postings,
    previous: Option<u32>,
    counts: &mut Counts,
) -> Result<u32, SiteError> {
    let terms = postings.encode();
    let bytes: usize = terms.iter().map(|(_, t, v)| t.len() + v.len() + 6).sum();
    let count = shard_count(bytes, previous);
    let mut buckets: Vec<Vec<(String, String)>> = (0..count).map(|_| Vec::new()).collect();
    for (hash, term, value) in terms {
        buckets[(hash % count) as usize].push((term, value));
    }
    for (shard, mut bucket) in buckets.into_iter().enumerate() {
        bucket.sort_unstable();
        let mut json = String::with_capacity(TARGET_SHARD_BYTES * 2);
        json.push('{');
        for (i, (term, value)) in bucket.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json_string(term, &mut json);
            json.push(':');
            json_string(value, &mut json);
        }
        json.push('}');
        counts.write(&shard_path(dir, segment, shard as u32), json.as_bytes())?;
    }
    Ok(count)
}

/// A power of two that puts about [`TARGET_SHARD_BYTES`] in each shard; `previous` as long as
/// the average stays between a quarter and twice that.
fn shard_count(bytes: usize, previous: Option<u32>) -> u32 {
    if let Some(previous) = previous.filter(|&p| p > 0) {
        let average = bytes / previous as usize;
        let low = if previous == 1 {
            0
        } else {
            TARGET_SHARD_BYTES / 4
        };
        if (low..=TARGET_SHARD_BYTES * 2).contains(&average) {
            return previous;
        }
    }
    let wanted = bytes.div_ceil(TARGET_SHARD_BYTES).max(1);
    u32::try_from(wanted.next_power_of_two()).unwrap_or(1 << 16)
}

fn json_string(text: &str, out: &mut String) {
    if text
        .chars()
        .any(|c| c == '"' || c == '\\' || (c as u32) < 0x20)
    {
        out.push_str(&serde_json::to_string(text).expect("a string serialises"));
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

/// Removes shards and document files that no longer belong to the index.
fn remove_stale(
    dir: &Path,
    shards: &BTreeMap<Segment, u32>,
    chunks: &BTreeSet<u32>,
) -> std::io::Result<usize> {
    let number = |name: &str| {
        name.strip_suffix(".json")
            .and_then(|n| n.parse::<u32>().ok())
    };
    let files = |folder: &Path, keep: &dyn Fn(u32) -> bool| -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(folder)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) || !entry.file_type()?.is_file() {
                continue;
            }
            if !number(&name).is_some_and(keep) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    };
    let mut removed = files(&dir.join("docs"), &|chunk| chunks.contains(&chunk))?;
    let terms = dir.join("terms");
    if terms.is_dir() {
        for entry in std::fs::read_dir(&terms)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let segment = name
                .split_once('-')
                .and_then(|(first, size)| Some((first.parse().ok()?, size.parse().ok()?)));
            match segment.and_then(|s| shards.get(&s)) {
                Some(&count) => {
                    sweep_temporary_files(&entry.path())?;
                    removed += files(&entry.path(), &|shard| shard < count)?;
                }
                None => {
                    removed += std::fs::read_dir(entry.path())?.count();
                    std::fs::remove_dir_all(entry.path())?;
                }
            }
        }
    }
    Ok(removed)
}

/// A result of [`search_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticHit {
    pub number: u32,
    /// Query terms in the title.
    pub score: u32,
    pub title: String,
    pub url: String,
    pub source: String,
    pub time: String,
    pub gone: bool,
    pub excerpt: String,
}

/// Searches the index of the site in `site` as `assets/site.js` does, best first (most query
/// terms in the title, then the newest): for tests, and to check a built site.
pub fn search_files(site: &Path, query: &str) -> std::io::Result<Vec<StaticHit>> {
    use serde_json::Value;
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let read = |path: PathBuf| -> std::io::Result<Value> {
        let bytes = std::fs::read(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))
    };
    let dir = site.join(DIR);
    let manifest = read(dir.join("manifest.json"))?;
    let number = |value: &Value, key: &str| {
        value[key]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad(format!("no {key} in {value}")))
    };
    if manifest["format"].as_u64() != Some(u64::from(FORMAT)) {
        return Err(bad(format!("format {}", manifest["format"])));
    }
    let chunk_size = number(&manifest, "doc_chunk")?;
    let terms = query_terms(query);
    let mut hits: Vec<(u32, u32)> = Vec::new();
    let segments = manifest["segments"].as_array().cloned().unwrap_or_default();
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    'segments: for segment in &segments {
        let first = number(segment, "first")?;
        let size = number(segment, "size")?;
        let count = number(segment, "shards")?;
        let mut lists: Vec<Vec<u32>> = Vec::new();
        let mut titles: Vec<Vec<u32>> = Vec::new();
        for term in &terms {
            let shard = read(shard_path(
                &dir,
                (first, size),
                fnv1a32(term.as_bytes()) % count,
            ))?;
            let Some(value) = shard.get(term.as_str()).and_then(Value::as_str) else {
                continue 'segments;
            };
            let mut parts = value.split(' ');
            let decode = |text: Option<&str>| {
                decode_postings(text.unwrap_or("")).ok_or_else(|| bad(format!("{term}: {value}")))
            };
            lists.push(decode(parts.next())?);
            titles.push(decode(parts.next())?);
        }
        lists.sort_by_key(Vec::len);
        let mut docs = lists[0].clone();
        for list in &lists[1..] {
            docs.retain(|d| list.binary_search(d).is_ok());
        }
        for doc in docs {
            let score = titles
                .iter()
                .filter(|t| t.binary_search(&doc).is_ok())
                .count();
            hits.push((score as u32, first + doc));
        }
    }
    hits.sort_by(|a, b| b.cmp(a));
    let mut out = Vec::new();
    for (score, number) in hits {
        let chunk = read(chunk_path(&dir, number / chunk_size))?;
        let entry = &chunk[(number % chunk_size) as usize];
        let text = |key: &str| entry[key].as_str().unwrap_or_default().to_string();
        if entry.is_null() {
            return Err(bad(format!("no entry for document {number}")));
        }
        out.push(StaticHit {
            number,
            score,
            title: text("title"),
            url: text("url"),
            source: text("source"),
            time: text("time"),
            gone: entry["gone"].as_bool().unwrap_or(false),
            excerpt: text("excerpt"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::char_tokens;

    fn contains_all(text: &str, query: &str) -> bool {
        let terms = index_terms(text);
        let wanted = query_terms(query);
        !wanted.is_empty() && wanted.iter().all(|t| terms.contains(t))
    }

    #[test]
    fn text_gives_characters_pairs_and_lowercased_words() {
        assert_eq!(
            index_terms("冬奧 Beijing-2022年，冬奧"),
            ["冬", "奧", "冬奧", "beijing", "2022", "年"]
        );
        assert_eq!(index_terms("ÉCOLE Straße"), ["école", "straße"]);
        assert!(index_terms(" ，。!? ").is_empty());
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        assert!(index_terms(&format!("{long} ok")) == ["ok"]);
    }

    #[test]
    fn queries_ask_for_pairs_and_lone_characters() {
        assert_eq!(query_terms("北京冬奥"), ["北京", "京冬", "冬奥"]);
        assert_eq!(query_terms("冬"), ["冬"]);
        assert_eq!(query_terms("冬奥 韩国 冬奥"), ["冬奥", "韩国"]);
        assert_eq!(query_terms("A股 COVID-19"), ["a", "股", "covid", "19"]);
        assert!(query_terms(" ，。 ").is_empty());
        assert!(query_terms(&"y".repeat(MAX_WORD_BYTES + 1)).is_empty());
    }

    #[test]
    fn a_two_character_word_is_found_inside_a_longer_phrase() {
        assert!(contains_all("中韩外长会谈 韩国支持北京举办冬奥会", "冬奥"));
        assert!(contains_all(
            "中韩外长会谈 韩国支持北京举办冬奥会",
            "举办 韩国"
        ));
        assert!(contains_all("韩国支持北京举办冬奥会", "办"));
        assert!(!contains_all("韩国支持北京举办冬奥会", "冬残奥"));
        // Characters split by a space or punctuation are not a pair.
        assert!(!contains_all("北京 冬天，奥运", "冬奥"));
    }

    #[test]
    fn traditional_and_simplified_find_their_own_text() {
        assert!(contains_all("北京冬奧會", "冬奧"));
        assert!(!contains_all("北京冬奧會", "冬奥"));
        assert!(!contains_all("北京冬奥会", "冬奧"));
    }

    #[test]
    fn latin_words_are_case_insensitive_and_whole() {
        assert!(contains_all(
            "The Winter Olympics in BEIJING",
            "olympics beijing"
        ));
        assert!(contains_all("covid vaccine", "COVID"));
        assert!(!contains_all("The Winter Olympics", "olympic"));
    }

    #[test]
    fn characters_and_words_are_those_of_the_server_index() {
        // The static search cuts text as `crate::search`'s character field does; it adds pairs.
        for text in [
            "冬奧 Beijing-2022年",
            "ÉCOLE Straße ① ½ Ⅻ ٣ カタカナ 한국어 𠀀𠀁",
            "中韩外长会谈，韩国支持北京举办冬奥。COVID-19!",
        ] {
            let mut server: Vec<String> = Vec::new();
            for token in char_tokens(text) {
                if !server.contains(&token.text) {
                    server.push(token.text);
                }
            }
            let ours: Vec<String> = index_terms(text)
                .into_iter()
                .filter(|t| !(t.chars().count() == 2 && t.chars().all(is_cjk)))
                .collect();
            assert_eq!(ours, server, "{text}");
        }
    }

    #[test]
    fn word_characters_are_the_alphanumeric_ones() {
        for c in (0..0x11_0000).filter_map(char::from_u32) {
            assert_eq!(is_word_char(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    #[test]
    fn fnv1a32_matches_the_published_vectors() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
        // site.js hashes the UTF-8 bytes of a term; this pins the value it must find.
        assert_eq!(fnv1a32("冬奥".as_bytes()), 0x2197_f9c7);
    }

    #[test]
    fn postings_round_trip_as_gaps_or_bitmaps() {
        let cases: Vec<Vec<u32>> = vec![
            vec![],
            vec![0],
            vec![5],
            vec![0, 1, 2, 3],
            vec![31, 32, 1023, 1024, 8191],
            (0..8192).collect(),
            (0..8192).step_by(3).collect(),
            (0..8192).step_by(97).collect(),
        ];
        for docs in cases {
            let mut text = String::new();
            encode_postings(&docs, &mut text);
            assert!(text.bytes().all(|b| ALPHABET.contains(&b) || b == b'~'));
            assert_eq!(decode_postings(&text).as_deref(), Some(&docs[..]), "{text}");
        }
        let mut dense = String::new();
        encode_postings(&(0..600).collect::<Vec<_>>(), &mut dense);
        assert!(dense.starts_with('~') && dense.len() == 101, "{dense}");
        let mut sparse = String::new();
        encode_postings(&[3, 40, 41], &mut sparse);
        // Gaps 3, 36 (4 + more, then 1), 0.
        assert_eq!(sparse, "DkBA");
        assert_eq!(decode_postings("g"), None, "a group that never ends");
        assert_eq!(decode_postings("!"), None);
    }

    #[test]
    fn shard_counts_are_powers_of_two_that_do_not_flap() {
        assert_eq!(shard_count(0, None), 1);
        assert_eq!(shard_count(10_000, None), 1);
        assert_eq!(shard_count(TARGET_SHARD_BYTES * 100, None), 128);
        // Within a quarter to twice the target, the count stays.
        assert_eq!(shard_count(TARGET_SHARD_BYTES * 100, Some(64)), 64);
        assert_eq!(shard_count(TARGET_SHARD_BYTES * 100, Some(128)), 128);
        assert_eq!(shard_count(TARGET_SHARD_BYTES * 300, Some(64)), 512);
        assert_eq!(shard_count(TARGET_SHARD_BYTES, Some(64)), 1);
    }

    fn record(id: i64, date_ms: i64, title: &str, body: &str, gone: bool) -> ArticleRecord {
        ArticleRecord {
            id,
            source_id: "s".into(),
            source_name: "来源".into(),
            title: title.into(),
            link: format!("https://e.com/{id}"),
            body: body.into(),
            published_ms: Some(date_ms),
            first_seen_ms: date_ms,
            date_ms,
            versions: 1,
            updated_ms: None,
            gone_ms: gone.then_some(date_ms),
            revision: 0,
        }
    }

    /// Articles in memory, walked as the store walks them (newest first).
    struct List<'a>(&'a BTreeMap<i64, ArticleRecord>);

    impl Articles for List<'_> {
        fn walk_without_body(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError> {
            self.walk(&mut |mut record| {
                record.body.clear();
                each(record)
            })
        }

        fn walk(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError> {
            let mut all: Vec<&ArticleRecord> = self.0.values().collect();
            all.sort_by_key(|r| std::cmp::Reverse((r.date_ms, r.id)));
            for record in all {
                each(record.clone());
            }
            Ok(())
        }

        fn body(&self, id: i64) -> Result<String, SiteError> {
            Ok(self.0.get(&id).map(|r| r.body.clone()).unwrap_or_default())
        }
    }

    fn build(articles: &BTreeMap<i64, ArticleRecord>, out: &Path, layout: Layout) -> ShardReport {
        write_index(&List(articles), out, layout, None).unwrap()
    }

    /// What a search must find: the articles holding every term, with their title's count.
    fn expected(articles: &BTreeMap<i64, ArticleRecord>, query: &str) -> BTreeSet<(String, u32)> {
        let terms = query_terms(query);
        articles
            .values()
            .filter_map(|r| {
                let title = index_terms(&r.title);
                let text = index_terms(&plain_text(&r.body));
                let all = terms.iter().all(|t| title.contains(t) || text.contains(t));
                let score = terms.iter().filter(|t| title.contains(t)).count() as u32;
                (all && !terms.is_empty()).then(|| (format!("a/{}.html", r.id), score))
            })
            .collect()
    }

    fn found(out: &Path, query: &str) -> BTreeSet<(String, u32)> {
        search_files(out, query)
            .unwrap()
            .into_iter()
            .map(|hit| (hit.url, hit.score))
            .collect()
    }

    #[test]
    fn incremental_builds_find_what_the_articles_hold() {
        let layout = Layout {
            segment: 8,
            small: 4,
            doc_chunk: 2,
        };
        let words = [
            "北京", "冬奥", "韩国", "会谈", "COVID", "Vaccine", "上海", "经济", "冬", "奥运",
        ];
        let queries = [
            "冬奥",
            "北京冬奥",
            "covid",
            "VACCINE 经济",
            "冬",
            "韩国 会谈",
            "奥",
            "上海经济",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        let text = |rng: &mut fastrand::Rng, n: usize| -> String {
            (0..n)
                .map(|_| words[rng.usize(..words.len())])
                .collect::<Vec<_>>()
                .join(["", " ", "，", "</p><p>"][rng.usize(..4)])
        };
        let incremental = tempfile::tempdir().unwrap();
        let mut articles: BTreeMap<i64, ArticleRecord> = BTreeMap::new();
        let mut next_id = 1;
        for round in 0..25 {
            for _ in 0..rng.usize(0..6) {
                let date = rng.i64(0..1_000_000_000);
                let title = text(&mut rng, 3);
                let body = format!("<p>{}</p>", text(&mut rng, 12));
                articles.insert(next_id, record(next_id, date, &title, &body, false));
                next_id += 1;
            }
            let ids: Vec<i64> = articles.keys().copied().collect();
            if !ids.is_empty() && rng.bool() {
                let id = ids[rng.usize(..ids.len())];
                let body = format!("<p>{}</p>", text(&mut rng, 12));
                let article = articles.get_mut(&id).unwrap();
                article.body = body;
                article.gone_ms = rng.bool().then_some(1);
                article.revision += 1; // as the store's trigger does
            }
            if ids.len() > 3 && rng.usize(..4) == 0 {
                articles.remove(&ids[rng.usize(..ids.len())]); // hidden
            }
            if round % 8 == 7 {
                let _ = std::fs::remove_dir_all(incremental.path().join("search/terms/0"));
                let _ = std::fs::remove_file(incremental.path().join("search/docs/1.json"));
            }
            let report = build(&articles, incremental.path(), layout);
            assert_eq!(report.docs, articles.len());
            let scratch = tempfile::tempdir().unwrap();
            build(&articles, scratch.path(), layout);
            for query in queries {
                let want = expected(&articles, query);
                assert_eq!(
                    found(incremental.path(), query),
                    want,
                    "round {round}: {query}"
                );
                assert_eq!(found(scratch.path(), query), want, "round {round}: {query}");
            }
            // A second build changes nothing.
            let again = build(&articles, incremental.path(), layout);
            assert_eq!((again.written, again.recomputed), (0, 0), "round {round}");
        }
        assert!(articles.len() > 30, "{}", articles.len());
        let hit = &search_files(incremental.path(), "冬奥").unwrap()[0];
        let article = &articles[&hit.url[2..hit.url.len() - 5].parse::<i64>().unwrap()];
        assert_eq!(hit.title, article.title);
        assert_eq!(hit.gone, article.gone_ms.is_some());
        assert_eq!(hit.source, "来源");
    }

    #[test]
    fn hidden_articles_leave_the_document_files() {
        let layout = Layout {
            segment: 8,
            small: 4,
            doc_chunk: 2,
        };
        let out = tempfile::tempdir().unwrap();
        let mut articles = BTreeMap::new();
        for id in 1..=10 {
            let title = if id == 3 { "秘密的标题" } else { "标题" };
            articles.insert(id, record(id, id * 1000, title, "<p>正文</p>", false));
        }
        build(&articles, out.path(), layout);
        assert_eq!(found(out.path(), "秘密").len(), 1);
        articles.remove(&3);
        let report = build(&articles, out.path(), layout);
        assert_eq!(report.recomputed, 1, "only the first segment: {report:?}");
        assert!(found(out.path(), "秘密").is_empty());
        for entry in std::fs::read_dir(out.path().join("search/docs")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("秘密"), "{text}");
        }
        // Every article hidden: no segment, no document file left.
        articles.clear();
        build(&articles, out.path(), layout);
        assert!(
            std::fs::read_dir(out.path().join("search/docs"))
                .unwrap()
                .next()
                .is_none()
        );
        assert!(
            std::fs::read_dir(out.path().join("search/terms"))
                .unwrap()
                .next()
                .is_none()
        );
    }
}
