//! How text becomes the terms and postings of the static index (see the [`shards`](super)
//! module's documentation): the terms of a text ([`index_terms`]) and of a query
//! ([`query_terms`]), and how shards are keyed ([`fnv1a32`]); the postings' encoding
//! ([`encode_postings`], [`decode_postings`]); the builder's [`Postings`], which reads a title
//! and an HTML body straight into term lists, the body's terms being those of [`plain_text`]
//! without building that text; and a document's [`excerpt`].

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::{EXCERPT_CHARS, MAX_WORD_BYTES};
use crate::search::{HtmlPiece, decode_entity, fold_width, html_pieces, plain_text};

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

/// Chinese, Japanese and Korean characters, each a term of its own: the ranges of the search
/// index's character tokenizer, so both searches cut text alike.
pub use crate::search::is_cjk;

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

/// `word` folded ([`fold_width`]: ＣＯＶＩＤ is COVID) and lower-cased into `buf`, as the search
/// index's tokens are; false when too long to be a term.
fn lower_into(word: &str, buf: &mut String) -> bool {
    buf.clear();
    if word.is_ascii() {
        buf.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        buf.extend(word.chars().map(fold_width).flat_map(char::to_lowercase));
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

/// Writes sorted, distinct `docs` as postings (see the [`shards`](super) module's
/// documentation): gaps, or a bitmap when that is shorter.
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

/// Whether postings hold any of `docs` (sorted); `None` when they are malformed.
pub(super) fn holds_any(postings: &str, docs: &[u32]) -> Option<bool> {
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
pub(super) struct Lists {
    pub(super) all: Vec<u32>,
    pub(super) title: Vec<u32>,
}

impl Lists {
    pub(super) fn append(&mut self, mut other: Lists) {
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
pub(super) struct Postings {
    /// CJK character → its term's number + 1 (0: not seen yet); empty until the first text.
    char_ids: Vec<u32>,
    /// Pairs: `(a << 21 | b, term number)`, [`NO_PAIR`] for a free slot; a power of two long,
    /// at most half full.
    pairs: Vec<(u64, u32)>,
    pair_count: usize,
    word_ids: FxMap<Box<str>, u32>,
    /// By term number: the term and its lists (the last number of a list is the last document
    /// that held the term: documents are added whole).
    keys: Vec<Key>,
    lists: Vec<Lists>,
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
        let lists = &mut self.lists[id as usize];
        if lists.all.last() != Some(&doc) {
            lists.all.push(doc);
        }
        if in_title && lists.title.last() != Some(&doc) {
            lists.title.push(doc);
        }
    }

    /// Adds the terms of a document: its title, and its body (HTML) read as [`plain_text`]
    /// would give it (the terms of [`index_terms`], found without the text in between).
    pub(super) fn add(&mut self, doc: u32, title: &str, body: &str) {
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
    pub(super) fn append(&mut self, other: Postings) {
        for (key, lists) in other.keys.into_iter().zip(other.lists) {
            let id = self.id(key);
            self.lists[id].append(lists);
        }
    }

    /// `(shard hash, term, postings)` of every term.
    pub(super) fn encode(self) -> Vec<(u32, String, String)> {
        self.into_terms(|_, lists| {
            let mut value = String::new();
            encode_lists(&lists, &mut value);
            value
        })
    }

    /// `(shard hash, term, what `each` makes of the term's lists)` of every term, the lists
    /// sorted; on all cores.
    pub(super) fn into_terms<T: Send>(
        self,
        each: impl Fn(&str, Lists) -> T + Sync,
    ) -> Vec<(u32, String, T)> {
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
pub(super) fn encode_lists(lists: &Lists, out: &mut String) {
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
/// building the text. The HTML is read as [`plain_text`] reads it ([`html_pieces`]).
fn text_runs<'a>(html: &'a str, mut each: impl FnMut(Run<'a>)) {
    html_pieces(html, |piece| match piece {
        HtmlPiece::Text(text) => decoded_runs(text, &mut each),
        HtmlPiece::Block => each(Run::Char('\n')),
    });
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
pub(super) fn excerpt(body: &str) -> String {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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
    fn full_width_letters_and_digits_are_their_ascii_words() {
        assert_eq!(
            index_terms("ＣＯＶＩＤ－１９　Ｏｌｙｍｐｉｃｓ２０２２"),
            ["covid", "19", "olympics2022"]
        );
        assert_eq!(query_terms("ＣＯＶＩＤ"), ["covid"]);
        assert!(contains_all("新冠ＣＯＶＩＤ疫苗", "covid"));
        assert!(contains_all("新冠COVID疫苗", "ＣＯＶＩＤ"));
        assert!(contains_all("北京２０２２年冬奥会", "2022"));
        // The builder reads them so too.
        let built = built_terms("Ｏｌｙｍｐｉｃｓ", "<p>ＣＯＶＩＤ</p>");
        assert!(built.contains(&("olympics".into(), true)), "{built:?}");
        assert!(built.contains(&("covid".into(), false)), "{built:?}");
    }

    #[test]
    fn characters_and_words_are_those_of_the_server_index() {
        // The static search cuts text as `crate::search`'s character field does; it adds pairs.
        for text in [
            "冬奧 Beijing-2022年",
            "ÉCOLE Straße ① ½ Ⅻ ٣ カタカナ 한국어 𠀀𠀁",
            "中韩外长会谈，韩国支持北京举办冬奥。COVID-19!",
            "ＣＯＶＩＤ－１９疫苗　Ｏｌｙｍｐｉｃｓ２０２２，ｘ＋ｙ",
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
}
