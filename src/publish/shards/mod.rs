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
//! - **Segments.** Numbers are grouped in blocks of [`SEGMENT`], a segment each (the last one
//!   grows as articles come; [`Layout`] can also cut the last block into smaller segments until
//!   it is full, which the tests use). Each segment has its own term shards,
//!   `search/terms/<first>-<size>/<shard>.json` (`first` the segment's first number), where a
//!   term lives in shard `fnv1a32(term as UTF-8) % shards` ([`fnv1a32`]: FNV-1a, 32 bits).
//!   A shard is a JSON object from term to postings: the documents holding the term, then,
//!   after a space when there are any, those holding it in their title. Postings are numbers
//!   within the segment (number − `first`), written with the 64 characters `A–Z a–z 0–9 - _`
//!   (values 0–63) as either gaps (each number minus the one before minus one, the first
//!   counted from −1) in little-endian groups of 5 bits, a character of value ≥ 32 meaning
//!   "more groups follow", or, when that is shorter, `~` and a bitmap of 6 documents per
//!   character (lowest bit first). A segment's shard count is a power of two chosen from its
//!   size, so that shards are near [`TARGET_SHARD_BYTES`]; it changes (the terms cut into
//!   shards again) only when the average shard would leave a quarter to twice that.
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
//! fingerprint of what the index holds of it (title, source, date, gone, and the store's
//! revision of the article, which any change to its text bumps). A build walks the store
//! without the bodies, compares, and reads the bodies of the articles added, edited or hidden
//! only. Their segments are patched: each shard read, the touched articles taken out of every
//! list and put back as they are now (a hidden article's words leave the files), terms left
//! without documents dropped; their document files likewise. A segment is computed again from
//! all its articles (read along a second walk when they are many) only when it is new, a file
//! of it is missing or does not read, or more than an eighth of it changed. When the site build's own fingerprints of its articles are those of the last build
//! ([`write_search_shards`]), nothing is read at all. Every file goes through
//! [`write_atomically`]: a file whose bytes did not change is not touched, so a static host's
//! cache (or a git history of the site) keeps it. Files that no longer belong (a hidden
//! article's last document file, shards beyond a smaller count) are removed. Articles are read on all cores, and a segment is written as soon as its
//! articles are read, so memory holds the segments being read, not the archive.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::publish::site::{SiteError, SiteReport, format_time};
use crate::publish::{TEMP_PREFIX, sweep_temporary_files, write_atomically};
use crate::search::{BLOCK_TAGS, decode_entity, plain_text};
use crate::store::{ArticleRecord, Store};

/// The files' format, in the manifest: `site.js` reads this one. Bump when the files change
/// (and `STATE_FORMAT` with it).
pub const FORMAT: u32 = 1;
/// The format of [`STATE_FILE`]: bump when the files, the analysis or [`fingerprint`] change,
/// so that the index is written again whole (a state of another format is not trusted).
const STATE_FORMAT: u32 = 2;
/// The index's folder, inside the site.
pub const DIR: &str = "search";
/// The index's memory of what it holds, in the site's folder.
pub const STATE_FILE: &str = ".newsvault-search.json";
/// Document numbers per segment, once a block of them is full.
pub const SEGMENT: u32 = 8192;
/// Document numbers per segment in the last block, while it fills: the block itself, since a
/// segment that grows is patched, and cut into more shards when it needs them.
pub const SMALL_SEGMENT: u32 = SEGMENT;
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
/// The value of each byte as a digit of postings; 255 for bytes that are none.
const DIGITS: [u8; 256] = {
    let mut table = [255u8; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

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
    let digit = |c: u8| Some(u64::from(DIGITS[c as usize])).filter(|&d| d < 64);
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
/// Terms are numbered as they come: single characters through a table, pairs through an
/// open-addressing table of their two characters, words through a hash map; this loop is most
/// of the index's time.
#[derive(Default)]
struct Postings {
    /// CJK character → its term's number + 1 (0: not seen yet); empty until the first text.
    char_ids: Vec<u32>,
    /// Pairs: `(a << 21 | b, term number)`, [`NO_PAIR`] for a free slot; a power of two long,
    /// at most half full.
    pairs: Vec<(u64, u32)>,
    pair_count: usize,
    word_ids: FxMap<Box<str>, u32>,
    /// By term number: the term, its lists, the last document that held it.
    keys: Vec<Key>,
    lists: Vec<Lists>,
    last: Vec<u32>,
    buf: String,
}

/// One past the largest character [`is_cjk`] accepts.
const CJK_END: usize = 0x3_1350;
/// A free slot of [`Postings::pairs`] (no pair of characters is this).
const NO_PAIR: u64 = u64::MAX;

impl Postings {
    fn term(&mut self, key: Key) -> u32 {
        self.keys.push(key);
        self.lists.push(Lists::default());
        self.last.push(u32::MAX);
        u32::try_from(self.keys.len() - 1).expect("fewer than 2^32 terms")
    }

    fn char_id(&mut self, c: char) -> u32 {
        if self.char_ids.is_empty() {
            self.char_ids.resize(CJK_END, 0);
        }
        match self.char_ids[c as usize] {
            0 => {
                let id = self.term(Key::Char(c));
                self.char_ids[c as usize] = id + 1;
                id
            }
            slot => slot - 1,
        }
    }

    fn slot(pairs: &[(u64, u32)], key: u64) -> usize {
        let mask = pairs.len() - 1;
        let mut i = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & mask;
        while pairs[i].0 != key && pairs[i].0 != NO_PAIR {
            i = (i + 1) & mask;
        }
        i
    }

    fn pair_id(&mut self, a: char, b: char) -> u32 {
        if self.pairs.len() < 2 * (self.pair_count + 1) {
            let size = (self.pairs.len() * 2).max(1024);
            let old = std::mem::replace(&mut self.pairs, vec![(NO_PAIR, 0); size]);
            for (key, id) in old.into_iter().filter(|&(key, _)| key != NO_PAIR) {
                let i = Self::slot(&self.pairs, key);
                self.pairs[i] = (key, id);
            }
        }
        let key = u64::from(a) << 21 | u64::from(b);
        let i = Self::slot(&self.pairs, key);
        if self.pairs[i].0 == key {
            return self.pairs[i].1;
        }
        let id = self.term(Key::Pair(a, b));
        self.pairs[i] = (key, id);
        self.pair_count += 1;
        id
    }

    /// The number of word `w` (lower-cased here), none when it is too long to be a term.
    fn word_id(&mut self, w: &str) -> Option<u32> {
        let mut buf = std::mem::take(&mut self.buf);
        let id = lower_into(w, &mut buf).then(|| match self.word_ids.get(buf.as_str()) {
            Some(&id) => id,
            None => {
                let id = self.term(Key::Word(buf.as_str().into()));
                self.word_ids.insert(buf.as_str().into(), id);
                id
            }
        });
        self.buf = buf;
        id
    }

    fn id(&mut self, key: Key) -> usize {
        let id = match key {
            Key::Char(c) => self.char_id(c),
            Key::Pair(a, b) => self.pair_id(a, b),
            Key::Word(word) => self.word_id(&word).expect("a word that was a term"),
        };
        id as usize
    }

    #[inline(always)]
    fn hit(&mut self, id: u32, doc: u32, in_title: bool) {
        let id = id as usize;
        if self.last[id] != doc {
            self.last[id] = doc;
            self.lists[id].all.push(doc);
        }
        if in_title && self.lists[id].title.last() != Some(&doc) {
            self.lists[id].title.push(doc);
        }
    }

    /// Adds the terms of a document: its title, and its body (HTML) read as [`plain_text`]
    /// would give it (the terms of [`index_terms`], found without the text in between).
    fn add(&mut self, doc: u32, title: &str, body: &str) {
        let mut reader = Reader {
            postings: self,
            doc,
            in_title: true,
            previous: None,
            word: String::new(),
        };
        reader.push_str(title);
        reader.separate();
        reader.in_title = false;
        text_runs(body, |run| match run {
            Run::Text(text) => reader.push_str(text),
            Run::Char(c) => reader.push(c),
        });
        reader.separate();
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
        self.into_terms(|_, lists| {
            let mut value = String::new();
            encode_lists(&lists, &mut value);
            value
        })
    }

    /// `(shard hash, term, what `each` makes of the term's lists)` of every term, the lists
    /// sorted; on all cores.
    fn into_terms<T: Send>(self, each: impl Fn(&str, Lists) -> T + Sync) -> Vec<(u32, String, T)> {
        let mut terms: Vec<(Key, Lists)> = self.keys.into_iter().zip(self.lists).collect();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let part = terms.len().div_ceil(threads).max(1);
        let mut parts: Vec<Vec<(Key, Lists)>> = Vec::new();
        while terms.len() > part {
            let rest = terms.split_off(part);
            parts.push(std::mem::replace(&mut terms, rest));
        }
        parts.push(terms);
        let each = &each;
        std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| {
                    scope.spawn(move || {
                        part.into_iter()
                            .map(|(key, mut lists)| {
                                // Threads read articles in turn: each list is sorted here (a
                                // stable sort: the lists are runs of ascending or descending
                                // numbers).
                                lists.all.sort();
                                lists.title.sort();
                                let term = match key {
                                    Key::Char(c) => c.to_string(),
                                    Key::Pair(a, b) => [a, b].iter().collect(),
                                    Key::Word(word) => word.into(),
                                };
                                let made = each(&term, lists);
                                (fnv1a32(term.as_bytes()), term, made)
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| -> Vec<_> { h.join().expect("an encoding thread panicked") })
                .collect()
        })
    }
}

/// A term's postings: all documents, then a space and the title's when there are any.
fn encode_lists(lists: &Lists, out: &mut String) {
    encode_postings(&lists.all, out);
    if !lists.title.is_empty() {
        out.push(' ');
        encode_postings(&lists.title, out);
    }
}

/// Reads a text a character at a time into [`Postings`], as [`scan`] cuts it.
struct Reader<'a> {
    postings: &'a mut Postings,
    doc: u32,
    in_title: bool,
    previous: Option<char>,
    word: String,
}

impl Reader<'_> {
    fn push_str(&mut self, text: &str) {
        for c in text.chars() {
            self.push(c);
        }
    }

    #[inline(always)]
    fn push(&mut self, c: char) {
        if is_cjk(c) {
            self.end_word();
            let id = self.postings.char_id(c);
            self.postings.hit(id, self.doc, self.in_title);
            if let Some(p) = self.previous {
                let id = self.postings.pair_id(p, c);
                self.postings.hit(id, self.doc, self.in_title);
            }
            self.previous = Some(c);
        } else {
            self.previous = None;
            if is_word_char(c) {
                self.word.push(c);
            } else {
                self.end_word();
            }
        }
    }

    fn end_word(&mut self) {
        if !self.word.is_empty() {
            if let Some(id) = self.postings.word_id(&self.word) {
                self.postings.hit(id, self.doc, self.in_title);
            }
            self.word.clear();
        }
    }

    fn separate(&mut self) {
        self.end_word();
        self.previous = None;
    }
}

/// A piece of [`plain_text`]`(html)` as far as terms go: a run of text as it is in the HTML,
/// or one character (a decoded entity, a line break for a block tag).
enum Run<'a> {
    Text(&'a str),
    Char(char),
}

/// Calls `each` with the pieces of [`plain_text`]`(html)` as far as terms go: the same
/// characters between separators (a line break for a block tag, whitespace as it is), without
/// building the text. [`plain_text`]'s rules: tags dropped, `script` and `style` with their
/// content, the common entities decoded.
fn text_runs<'a>(html: &'a str, mut each: impl FnMut(Run<'a>)) {
    let mut rest = html;
    loop {
        let lt = rest.find('<');
        decoded_runs(&rest[..lt.unwrap_or(rest.len())], &mut each);
        let Some(lt) = lt else { break };
        rest = &rest[lt..];
        // `<` is one byte; a tag without `>` runs to the end.
        let (tag, end) = match rest.find('>') {
            Some(at) => (&rest[1..at], at + 1),
            None => (&rest[1..], rest.len()),
        };
        rest = &rest[end..];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = &name[..name.bytes().take_while(u8::is_ascii_alphanumeric).count()];
        if !closing && (name.eq_ignore_ascii_case("script") || name.eq_ignore_ascii_case("style")) {
            let at = find_closing(rest, name).unwrap_or(rest.len());
            rest = &rest[at..];
            continue;
        }
        if BLOCK_TAGS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
            each(Run::Char('\n'));
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

/// The pieces of a run of text between tags, entities decoded.
fn decoded_runs<'a>(text: &'a str, each: &mut impl FnMut(Run<'a>)) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        each(Run::Text(&rest[..amp]));
        rest = &rest[amp..];
        let (c, len) = decode_entity(rest).unwrap_or(('&', 1));
        each(Run::Char(c));
        rest = &rest[len..];
    }
    each(Run::Text(rest));
}

/// A document's excerpt: the start of [`plain_text`] of its body, read from as little of the
/// body as gives it (the end of a cut body may be half an entity: it is left well behind).
fn excerpt(body: &str) -> String {
    let mut prefix = 1024;
    let text = loop {
        let mut cut = body.len().min(prefix);
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = plain_text(&body[..cut]);
        if cut == body.len() || text.chars().nth(EXCERPT_CHARS + 16).is_some() {
            break text;
        }
        prefix *= 4;
    };
    let mut excerpt: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if excerpt.len() < text.len() {
        excerpt.push('…');
    }
    excerpt
}

/// What [`write_search_shards`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardReport {
    /// Articles in the index.
    pub docs: usize,
    /// Segments in the index, those whose postings were computed again, those patched.
    pub segments: usize,
    pub recomputed: usize,
    pub patched: usize,
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
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DocEntry {
    title: String,
    url: String,
    source: String,
    time: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
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

/// What the index needs of the site build's walk of the store: every article's fingerprint,
/// and the articles new or changed since the index was written. Fed by [`SiteWalk::article`]
/// from the site's own walk, it spares the index a walk of its own.
pub struct SiteWalk {
    old: State,
    old_docs: HashMap<i64, (u32, u64)>,
    /// `(id, date, fingerprint)` of every article, in walk order.
    seen: Vec<(i64, i64, u64)>,
    /// The articles new or changed, their bodies left out.
    changed: HashMap<i64, ArticleRecord>,
}

impl SiteWalk {
    /// Before the walk: the state of the index in the site folder `out`.
    pub fn new(out: &Path) -> SiteWalk {
        SiteWalk::with_state(read_state(&out.join(STATE_FILE), Layout::DEFAULT).unwrap_or_default())
    }

    fn with_state(old: State) -> SiteWalk {
        let old_docs = old
            .docs
            .iter()
            .map(|&(id, number, print)| (id, (number, print)))
            .collect();
        SiteWalk {
            old,
            old_docs,
            seen: Vec::new(),
            changed: HashMap::new(),
        }
    }

    /// Every article of the walk (not hidden), newest first as the store walks; the body is
    /// not needed.
    pub fn article(&mut self, record: &ArticleRecord) {
        let print = fingerprint(record);
        self.seen.push((record.id, record.date_ms, print));
        if self
            .old_docs
            .get(&record.id)
            .is_none_or(|&(_, old)| old != print)
        {
            // Without the body, which a full site build's walk carries.
            let meta = ArticleRecord {
                id: record.id,
                source_id: record.source_id.clone(),
                source_name: record.source_name.clone(),
                title: record.title.clone(),
                link: record.link.clone(),
                body: String::new(),
                published_ms: record.published_ms,
                first_seen_ms: record.first_seen_ms,
                date_ms: record.date_ms,
                versions: record.versions,
                updated_ms: record.updated_ms,
                gone_ms: record.gone_ms,
                revision: record.revision,
            };
            self.changed.insert(record.id, meta);
        }
    }
}

/// Writes (or brings up to date) the static search index of `store` in `out/search/`.
///
/// `site` is the site build's fingerprint of each article on it (id → a hash of everything its
/// page shows, which includes everything the index holds): when they are those of the last
/// build and the index's files are all there, nothing is read or written. `walked` is what
/// the site's walk of the store showed ([`SiteWalk`]).
pub fn write_search_shards(
    store: &Store,
    out: &Path,
    site: &HashMap<i64, String>,
    walked: SiteWalk,
) -> Result<ShardReport, SiteError> {
    let mut ids: Vec<(&i64, &String)> = site.iter().collect();
    ids.sort_unstable();
    let mut hash = Sha256::new();
    for (id, print) in ids {
        hash.update(format!("{id} {print}\n").as_bytes());
    }
    let digest = hex::encode(&hash.finalize()[..12]);
    if let Some(report) = unchanged(out, &walked.old, &digest) {
        return Ok(report);
    }
    write_index(store, out, Layout::DEFAULT, Some(digest), Some(walked))
}

fn read_state(path: &Path, layout: Layout) -> Option<State> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<State>(&bytes).ok())
        .filter(|state| state.format == STATE_FORMAT && state.layout == layout)
}

/// The report of a build that has nothing to do: the site's articles are those the index was
/// last written from (`digest`), and its files are all there.
fn unchanged(out: &Path, state: &State, digest: &str) -> Option<ShardReport> {
    if state.format != STATE_FORMAT || state.site.as_deref() != Some(digest) {
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
    walked: Option<SiteWalk>,
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
    // First walk, without the bodies (unless the site's walk was seen): what changed, by the
    // store's revisions.
    let walked = match walked {
        Some(walked) if layout == Layout::DEFAULT => walked,
        _ => {
            let mut walked =
                SiteWalk::with_state(read_state(&state_path, layout).unwrap_or_default());
            articles.walk_without_body(&mut |record| walked.article(&record))?;
            walked
        }
    };
    let SiteWalk {
        old,
        old_docs,
        seen,
        changed: mut metas,
    } = walked;
    let old_segments: HashMap<Segment, u32> = old
        .segments
        .iter()
        .map(|&(first, size, count)| ((first, size), count))
        .collect();
    let walked_in = started.elapsed();

    // Numbers: the old ones kept, new articles after them, oldest first. `touched`: the numbers
    // of articles new, changed or gone.
    let mut numbers: BTreeMap<u32, (i64, u64)> = BTreeMap::new();
    let mut touched: BTreeSet<u32> = BTreeSet::new();
    let mut fresh: Vec<(i64, i64, u64)> = Vec::new();
    for &(id, date_ms, print) in &seen {
        match old_docs.get(&id) {
            Some(&(number, old_print)) => {
                if old_print != print {
                    touched.insert(number);
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
        touched.insert(next);
        next += 1;
    }
    for &(id, number, _) in &old.docs {
        if numbers.get(&number).is_none_or(|&(held, _)| held != id) {
            touched.insert(number); // hidden since
        }
    }

    // What each segment needs: nothing, a patch (its files read, the touched articles taken
    // out and put back as they are now), or to be computed again from all its articles (a new
    // segment, a file missing, or many articles touched).
    let segment_of = |number: u32| layout.segment_of(number, next);
    let live_segments: BTreeSet<Segment> = numbers.keys().map(|&n| segment_of(n)).collect();
    let mut segment_work: BTreeMap<Segment, SegmentWork> = BTreeMap::new();
    for &segment in &live_segments {
        let (first, size) = segment;
        let in_segment = touched.range(first..first.saturating_add(size)).count();
        let whole = old_segments
            .get(&segment)
            .filter(|&&count| (0..count).all(|k| shard_path(&dir, segment, k).exists()));
        match whole {
            None => {
                segment_work.insert(segment, SegmentWork::Compute);
            }
            Some(&count) if in_segment > 0 => {
                let work = if in_segment > (size / 8) as usize {
                    SegmentWork::Compute
                } else {
                    SegmentWork::Patch(count)
                };
                segment_work.insert(segment, work);
            }
            Some(_) => {}
        }
    }
    // Document files: patched from the file when it reads, else written from all their
    // articles.
    let live_chunks: BTreeSet<u32> = numbers.keys().map(|n| n / layout.doc_chunk).collect();
    let mut chunk_work: BTreeMap<u32, Option<Vec<Option<DocEntry>>>> = BTreeMap::new();
    for &chunk in &live_chunks {
        let first = chunk * layout.doc_chunk;
        let is_touched = touched
            .range(first..first + layout.doc_chunk)
            .next()
            .is_some();
        let path = chunk_path(&dir, chunk);
        if is_touched || !path.exists() {
            let old_entries = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Vec<Option<DocEntry>>>(&bytes).ok());
            chunk_work.insert(chunk, old_entries);
        }
    }

    // The articles to read: all of a segment computed again or of a document file written
    // whole; the touched ones of a patch.
    let computes = |number: u32| {
        matches!(
            segment_work.get(&segment_of(number)),
            Some(SegmentWork::Compute)
        )
    };
    let wanted = |number: u32| {
        computes(number)
            || matches!(chunk_work.get(&(number / layout.doc_chunk)), Some(None))
            || touched.contains(&number)
    };
    let mut expected: BTreeMap<Segment, usize> =
        segment_work.keys().map(|&segment| (segment, 0)).collect();
    for &chunk in chunk_work.keys() {
        expected.insert(segment_of(chunk * layout.doc_chunk), 0);
    }
    let mut wanted_ids: HashMap<i64, u32> = HashMap::new();
    for (&number, &(id, _)) in &numbers {
        if wanted(number) {
            *expected.entry(segment_of(number)).or_default() += 1;
            wanted_ids.insert(id, number);
        }
    }
    // The bodies of a few touched articles are read one by one; when more are wanted (a
    // segment or a document file written from all its articles), along a second walk.
    let second_walk =
        wanted_ids.len() > numbers.len() / 4 || wanted_ids.keys().any(|id| !metas.contains_key(id));
    let planned_in = started.elapsed();

    let mut counts = Counts::default();
    let indexer = Indexer {
        dir: &dir,
        layout,
        next,
        old_next: old.next,
        touched: &touched,
        segment_work: &segment_work,
        chunk_work: &chunk_work,
        old_segments: &old_segments,
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
    let recomputed = segment_work
        .values()
        .filter(|w| matches!(w, SegmentWork::Compute))
        .count();
    let patched = segment_work.len() - recomputed;
    for &segment in &live_segments {
        if let Some(&count) = old_segments.get(&segment) {
            shards.entry(segment).or_insert(count);
        }
    }
    let live_segments: BTreeSet<Segment> = numbers.keys().map(|&n| segment_of(n)).collect();
    shards.retain(|segment, &mut count| live_segments.contains(segment) && count > 0);
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
        patched,
        written: counts.written,
        unchanged: counts.unchanged,
        removed,
    };

    let state = State {
        format: STATE_FORMAT,
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
        "static search index: {} articles, {} segments, {} computed again, {} patched, \
         {} articles read{}, {} files written, {} unchanged, {} removed, in {:?} (walk {:?}, \
         plan {:?}, index {:?})",
        report.docs,
        report.segments,
        report.recomputed,
        report.patched,
        read.len(),
        if second_walk {
            " along a second walk"
        } else {
            ""
        },
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

/// What a segment needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegmentWork {
    /// Its shards written from all its articles.
    Compute,
    /// Its shards (this many) read, the touched articles taken out, and put back as they are.
    Patch(u32),
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
/// article, which any change to it bumps. A change here needs a new [`STATE_FORMAT`].
fn fingerprint(record: &ArticleRecord) -> u64 {
    let mut hash = Sha256::new();
    hash.update(record.id.to_le_bytes());
    hash.update(record.date_ms.to_le_bytes());
    hash.update(record.revision.to_le_bytes());
    hash.update([u8::from(record.gone_ms.is_some())]);
    for text in [&record.title, &record.source_name] {
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    u64::from_le_bytes(hash.finalize()[..8].try_into().expect("8 bytes"))
}

/// Work for an analysing thread.
enum Job {
    /// An article to read: its terms when its segment needs them, its entry when its document
    /// file is written.
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
    /// The first number of this build's new articles.
    old_next: u32,
    touched: &'a BTreeSet<u32>,
    segment_work: &'a BTreeMap<Segment, SegmentWork>,
    /// Document files to write: from their old entries, or (`None`) from all their articles.
    chunk_work: &'a BTreeMap<u32, Option<Vec<Option<DocEntry>>>>,
    old_segments: &'a HashMap<Segment, u32>,
}

impl Indexer<'_> {
    /// `walk` calls the function it gets with every article to read; `expected` says how many
    /// each segment to write has. Returns the shard counts of the segments written and the
    /// articles read.
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
            // Segments with nothing to read (articles only hidden) are written first.
            let empty: Vec<Segment> = expected
                .iter()
                .filter(|&(_, &n)| n == 0)
                .map(|(&s, _)| s)
                .collect();
            for segment in empty {
                expected.remove(&segment);
                finish(segment, &mut error);
            }
            let mut feed = |number: u32, text: Text| {
                let segment = self.layout.segment_of(number, self.next);
                read.insert(text.id);
                let terms = match self.segment_work.get(&segment) {
                    Some(SegmentWork::Compute) => true,
                    Some(SegmentWork::Patch(_)) => self.touched.contains(&number),
                    None => false,
                };
                let job = Job::Doc {
                    segment,
                    number,
                    text,
                    terms,
                    entry: self
                        .chunk_work
                        .contains_key(&(number / self.layout.doc_chunk)),
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

    /// Writes what was read of `segment`: its shards, computed or patched, and its document
    /// files that are to be written.
    fn write_segment(
        &self,
        segment: Segment,
        part: Part,
        shards: &mut BTreeMap<Segment, u32>,
        counts: &mut Counts,
    ) -> Result<(), SiteError> {
        let (first, size) = segment;
        let old = self.old_segments.get(&segment).copied();
        match self.segment_work.get(&segment) {
            Some(SegmentWork::Compute) => {
                let count = write_shards(self.dir, segment, part.postings, old, counts)?;
                shards.insert(segment, count);
            }
            Some(&SegmentWork::Patch(count)) => {
                // New numbers were in no list.
                let out: Vec<u32> = self
                    .touched
                    .range(first..first.saturating_add(size).min(self.old_next))
                    .map(|n| n - first)
                    .collect();
                let patched = patch_shards(self.dir, segment, count, &out, part.postings, counts)?;
                // A shard count of 0: left out of this build, computed again by the next.
                shards.insert(segment, patched.unwrap_or(0));
            }
            None => {}
        }
        let mut entries: HashMap<u32, DocEntry> = part.entries.into_iter().collect();
        let chunk_size = self.layout.doc_chunk;
        let chunks = first / chunk_size..first.saturating_add(size).div_ceil(chunk_size);
        for (&chunk, old) in self.chunk_work.range(chunks) {
            let numbers = chunk * chunk_size..(chunk + 1) * chunk_size;
            let mut slots: Vec<Option<DocEntry>> = match old {
                // The old entries, the touched ones as they are now (none: hidden).
                Some(old) => {
                    let mut slots = old.clone();
                    slots.resize_with(chunk_size as usize, || None);
                    for number in self.touched.range(numbers.clone()) {
                        slots[(number - numbers.start) as usize] = entries.remove(number);
                    }
                    slots
                }
                None => numbers.map(|number| entries.remove(&number)).collect(),
            };
            while slots.last().is_some_and(Option::is_none) {
                slots.pop();
            }
            if !slots.is_empty() {
                let bytes = serde_json::to_vec(&slots).expect("document entries serialise");
                counts.write(&chunk_path(self.dir, chunk), &bytes)?;
            }
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
                if terms {
                    part.postings
                        .add(number - segment.0, &text.title, &text.body);
                }
                if entry {
                    part.entries.push((number, doc_entry(&text)));
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

fn doc_entry(doc: &Text) -> DocEntry {
    let mut title: String = doc.title.chars().take(TITLE_CHARS).collect();
    if title.len() < doc.title.len() {
        title.push('…');
    }
    DocEntry {
        title,
        url: format!("a/{}.html", doc.id),
        source: doc.source.clone(),
        time: format_time(doc.date_ms),
        gone: doc.gone,
        excerpt: excerpt(&doc.body),
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
    // Shards are put together and written on all cores.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_thread = buckets.len().div_ceil(threads).max(1);
    let mut numbered: Vec<(u32, Vec<(String, String)>)> = buckets
        .into_iter()
        .enumerate()
        .map(|(shard, bucket)| (shard as u32, bucket))
        .collect();
    let mut parts = Vec::new();
    while numbered.len() > per_thread {
        let rest = numbered.split_off(per_thread);
        parts.push(std::mem::replace(&mut numbered, rest));
    }
    parts.push(numbered);
    let written: Vec<Result<Counts, SiteError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    let mut counts = Counts::default();
                    for (shard, mut bucket) in part {
                        bucket.sort_unstable();
                        let json = shard_json(bucket.iter().map(|(t, v)| (t.as_str(), v.as_str())));
                        counts.write(&shard_path(dir, segment, shard), json.as_bytes())?;
                    }
                    Ok(counts)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a shard writer panicked"))
            .collect()
    });
    for part in written {
        let part = part?;
        counts.written += part.written;
        counts.unchanged += part.unchanged;
    }
    Ok(count)
}

/// Patches a segment's `count` shards: the documents of `out` (numbers within the segment)
/// taken out of every list, those of `postings` (read again) put in, terms left without
/// documents dropped, the terms cut into shards again when the segment's size leaves the
/// bounds of its shard count. Returns the shard count; none (nothing written) when a shard
/// does not read as this module wrote it: the segment is then computed again by the next
/// build.
fn patch_shards(
    dir: &Path,
    segment: Segment,
    count: u32,
    out: &[u32],
    postings: Postings,
    counts: &mut Counts,
) -> Result<Option<u32>, SiteError> {
    let mut added: Vec<Vec<(String, Lists)>> = (0..count).map(|_| Vec::new()).collect();
    for (hash, term, lists) in postings.into_terms(|_, lists| lists) {
        added[(hash % count) as usize].push((term, lists));
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_thread = added.len().div_ceil(threads).max(1);
    let mut numbered: Vec<(u32, Vec<(String, Lists)>)> = added
        .into_iter()
        .enumerate()
        .map(|(shard, terms)| (shard as u32, terms))
        .collect();
    let mut parts = Vec::new();
    while numbered.len() > per_thread {
        let rest = numbered.split_off(per_thread);
        parts.push(std::mem::replace(&mut numbered, rest));
    }
    parts.push(numbered);
    // Read and patch every shard first, write only when all read.
    let patched: Vec<Option<Vec<PatchedShard>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    let mut files = Vec::new();
                    for (shard, terms) in part {
                        let path = shard_path(dir, segment, shard);
                        files.push((shard, patch_shard(&path, out, terms)?));
                    }
                    Some(files)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a shard patcher panicked"))
            .collect()
    });
    let mut shards: Vec<PatchedShard> = Vec::new();
    for part in patched {
        match part {
            Some(part) => shards.extend(part),
            None => {
                tracing::warn!(
                    "static search index: a shard of {} does not read; the next build computes \
                     it again",
                    terms_dir(dir, segment).display()
                );
                return Ok(None);
            }
        }
    }
    // A segment that grew (or shrank) past the bounds of its shard count is cut again.
    let bytes: usize = shards
        .iter()
        .flat_map(|(_, terms)| terms.iter())
        .map(|(t, v)| t.len() + v.len() + 6)
        .sum();
    let new_count = shard_count(bytes, Some(count));
    if new_count != count {
        let mut buckets: Vec<BTreeMap<String, String>> =
            (0..new_count).map(|_| BTreeMap::new()).collect();
        for (term, value) in shards.into_iter().flat_map(|(_, terms)| terms) {
            buckets[(fnv1a32(term.as_bytes()) % new_count) as usize].insert(term, value);
        }
        shards = buckets
            .into_iter()
            .enumerate()
            .map(|(shard, terms)| (shard as u32, terms))
            .collect();
    }
    for (shard, terms) in shards {
        let json = shard_json(terms.iter().map(|(t, v)| (t.as_str(), v.as_str())));
        counts.write(&shard_path(dir, segment, shard), json.as_bytes())?;
    }
    Ok(Some(new_count))
}

/// A shard's number and its terms' postings.
type PatchedShard = (u32, BTreeMap<String, String>);

/// A shard: a JSON object of terms (in order) to postings.
fn shard_json<'a>(terms: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut json = String::with_capacity(TARGET_SHARD_BYTES * 2);
    json.push('{');
    for (term, value) in terms {
        if json.len() > 1 {
            json.push(',');
        }
        json_string(term, &mut json);
        json.push(':');
        json_string(value, &mut json);
    }
    json.push('}');
    json
}

/// One shard patched (see [`patch_shards`]); `None` when it does not read. Terms that
/// hold none of `out` and get nothing new are copied as they are.
fn patch_shard(
    path: &Path,
    out: &[u32],
    added: Vec<(String, Lists)>,
) -> Option<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).ok()?;
    let old: BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    let mut added: BTreeMap<String, Lists> = added.into_iter().collect();
    let mut terms: BTreeMap<String, String> = BTreeMap::new();
    let mut value = String::new();
    for (term, old_value) in old {
        let (all, title) = old_value.split_once(' ').unwrap_or((&old_value, ""));
        let new = added.remove(&term);
        if new.is_none() && !holds_any(all, out)? {
            terms.insert(term, old_value);
            continue;
        }
        let keep = |n: &u32| out.binary_search(n).is_err();
        let mut lists = Lists {
            all: decode_postings(all)?,
            title: decode_postings(title)?,
        };
        lists.all.retain(keep);
        lists.title.retain(keep);
        if let Some(new) = new {
            // Two sorted runs, usually the new numbers after the old: a stable sort merges.
            lists.append(new);
            lists.all.sort();
            lists.title.sort();
        }
        if !lists.all.is_empty() {
            value.clear();
            encode_lists(&lists, &mut value);
            terms.insert(term, value.clone());
        }
    }
    for (term, lists) in added {
        value.clear();
        encode_lists(&lists, &mut value);
        terms.insert(term, value.clone());
    }
    Some(terms)
}

/// Whether postings hold any of `docs` (sorted); `None` when they are malformed.
fn holds_any(postings: &str, docs: &[u32]) -> Option<bool> {
    if docs.is_empty() {
        return Some(false);
    }
    if let Some(bitmap) = postings.strip_prefix('~') {
        let bits = bitmap.as_bytes();
        for &doc in docs {
            if let Some(&c) = bits.get(doc as usize / 6) {
                let digit = Some(DIGITS[c as usize]).filter(|&d| d < 64)?;
                if digit & (1 << (doc % 6)) != 0 {
                    return Some(true);
                }
            }
        }
        return Some(false);
    }
    let list = decode_postings(postings)?;
    Some(docs.iter().any(|d| list.binary_search(d).is_ok()))
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
    fn the_builder_keeps_the_terms_of_index_terms() {
        for text in [
            "冬奧 Beijing-2022年，冬奧",
            "ÉCOLE Straße ① ½ Ⅻ ٣ カタカナ 한국어 𠀀𠀁 İstanbul",
            "中韩外长会谈，韩国支持北京举办冬奥。COVID-19! 冬奥",
            &format!("{} ok 冬", "x".repeat(MAX_WORD_BYTES + 1)),
        ] {
            let mut postings = Postings::default();
            postings.add(3, "标题 Title", text);
            let mut built: Vec<(String, String)> = postings
                .encode()
                .into_iter()
                .map(|(_, term, value)| (term, value))
                .collect();
            built.sort();
            let title = index_terms("标题 Title");
            let mut want: Vec<(String, String)> = index_terms(text)
                .into_iter()
                .chain(title.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|term| {
                    let value = if title.contains(&term) { "D D" } else { "D" };
                    (term, value.to_string())
                })
                .collect();
            want.sort();
            assert_eq!(built, want, "{text}");
        }
    }

    /// The terms [`Postings::add`] finds in `html`, with whether each is in the title.
    fn built_terms(title: &str, html: &str) -> BTreeSet<(String, bool)> {
        let mut postings = Postings::default();
        postings.add(0, title, html);
        postings
            .encode()
            .into_iter()
            .map(|(_, term, value)| (term, value.contains(' ')))
            .collect()
    }

    #[test]
    fn terms_are_read_from_html_as_from_its_plain_text() {
        let pieces = [
            "冬",
            "奥",
            "會",
            "北京",
            "a",
            "B",
            "ö",
            "1",
            " ",
            "\n",
            "，",
            "-",
            "<p>",
            "</p>",
            "<b>",
            "</B>",
            "<br/>",
            "<DIV class=\"x\">",
            "<script>冬奥 x</script>",
            "<STYLE>p{}</style>",
            "<script>",
            "</scripT>",
            "<",
            ">",
            "<!-- 奥 -->",
            "&amp;",
            "&lt;",
            "&#x4E2D;",
            "&#20013;",
            "&nbsp;",
            "&bogus;",
            "&",
            ";",
            "&#;",
            "&#x110000;",
            "<a href=\"&amp;\">",
            "<img alt=\"冬奥\">",
            "&quot;",
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..3000 {
            let html: String = (0..rng.usize(0..24))
                .map(|_| pieces[rng.usize(..pieces.len())])
                .collect();
            let title = "冬奥 T";
            let mut want: BTreeSet<(String, bool)> = BTreeSet::new();
            let title_terms = index_terms(title);
            for term in index_terms(&plain_text(&html))
                .into_iter()
                .chain(title_terms.clone())
            {
                let in_title = title_terms.contains(&term);
                want.insert((term, in_title));
            }
            assert_eq!(built_terms(title, &html), want, "{html:?}");
        }
    }

    #[test]
    fn excerpts_are_the_start_of_the_text() {
        assert_eq!(excerpt("<p>短</p><p>文</p>"), "短 文");
        let long = format!("<p>{}</p>", "长".repeat(EXCERPT_CHARS + 1));
        assert_eq!(excerpt(&long), format!("{}…", "长".repeat(EXCERPT_CHARS)));
        // Text after a long tag at the start is still found.
        let late = format!("<img alt=\"{}\"><p>正文</p>", "x".repeat(20_000));
        assert_eq!(excerpt(&late), "正文");
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
        write_index(&List(articles), out, layout, None, None).unwrap()
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
        let (mut patched, mut recomputed) = (0, 0);
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
            assert_eq!(
                (again.written, again.recomputed, again.patched),
                (0, 0, 0),
                "round {round}"
            );
            patched += report.patched;
            recomputed += report.recomputed;
        }
        assert!(articles.len() > 30, "{}", articles.len());
        assert!(patched > 10 && recomputed > 10, "{patched} {recomputed}");
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
        assert_eq!(
            (report.recomputed, report.patched),
            (0, 1),
            "the first segment patched: {report:?}"
        );
        assert!(found(out.path(), "秘密").is_empty());
        // Nothing of it is left in any file: not its entry, not its words.
        let mut folders = vec![out.path().join("search")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert!(!text.contains('秘') && !text.contains('密'), "{text}");
                }
            }
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

    #[test]
    fn a_shard_that_does_not_read_is_computed_again() {
        let layout = Layout {
            segment: 8,
            small: 4,
            doc_chunk: 2,
        };
        let out = tempfile::tempdir().unwrap();
        let mut articles = BTreeMap::new();
        for id in 1..=10 {
            articles.insert(id, record(id, id * 1000, "标题", "<p>正文</p>", false));
        }
        build(&articles, out.path(), layout);
        for shard in std::fs::read_dir(out.path().join("search/terms/0-8")).unwrap() {
            std::fs::write(shard.unwrap().path(), "{not json").unwrap();
        }
        let edited = articles.get_mut(&2).unwrap();
        edited.body = "<p>新的正文</p>".into();
        edited.revision += 1;
        build(&articles, out.path(), layout);
        build(&articles, out.path(), layout);
        assert_eq!(found(out.path(), "正文").len(), 10);
        assert_eq!(found(out.path(), "新的").len(), 1);
    }

    #[test]
    fn a_growing_segment_is_cut_into_more_shards() {
        // One segment, filled an article at a time: every build patches it.
        let layout = Layout {
            segment: 16,
            small: 16,
            doc_chunk: 4,
        };
        let out = tempfile::tempdir().unwrap();
        let mut rng = fastrand::Rng::with_seed(3);
        let mut articles = BTreeMap::new();
        let mut counts = Vec::new();
        for id in 1..=12 {
            let text: String = (0..3000)
                .map(|_| char::from_u32(rng.u32(0x4E00..0x9FFF)).unwrap())
                .collect();
            articles.insert(id, record(id, id, &format!("第{id}篇"), &text, false));
            let report = build(&articles, out.path(), layout);
            assert_eq!(report.recomputed, usize::from(id == 1), "{report:?}");
            let manifest = read_state(&out.path().join(STATE_FILE), layout).unwrap();
            counts.push(manifest.segments[0].2);
            for shard in std::fs::read_dir(out.path().join("search/terms/0-16")).unwrap() {
                let size = shard.unwrap().metadata().unwrap().len() as usize;
                assert!(
                    size < 3 * TARGET_SHARD_BYTES,
                    "{size} bytes, counts {counts:?}"
                );
            }
        }
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        assert!(counts[11] > counts[0], "{counts:?}");
        for id in [1, 6, 12] {
            let title = format!("第{id}篇");
            let hits = search_files(out.path(), &title).unwrap();
            assert!(hits.iter().any(|h| h.title == title), "{title}");
        }
    }
}
