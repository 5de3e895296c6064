//! Search on a static host: beside its pages, `newsvault build` writes a search index split into
//! small JSON files under `search/`, which `assets/site.js` fetches on demand when the site is
//! served without `newsvault serve` (no `/api/search`: GitHub Pages, any plain file server). The
//! browser has no jieba dictionary, so the index needs none:
//!
//! - **Terms.** Text is read as runs of CJK characters (the ranges of [`is_cjk`]) and runs of
//!   other letters and digits (`char::is_alphanumeric`); everything else separates. A CJK run
//!   gives every character (a unigram) and every pair of neighbours (a bigram); a letter/digit
//!   run is one word, its full-width forms read as ASCII (ＣＯＶＩＤ as COVID: `fold_width` of
//!   `crate::search`, which `site.js` does too) and lower-cased, dropped when longer than
//!   [`MAX_WORD_BYTES`]. A query is read the same way, but a CJK run of two or more characters
//!   asks only for its bigrams (a single character asks for itself): 冬奥 is found inside
//!   北京举办冬奥会, `COVID` finds `covid`.
//!   A document matches when it holds every term of the query; a query of three or more CJK
//!   characters can therefore match a text that holds its bigrams apart (北京举 matches 北京 …
//!   京举), which is rare and accepted. Titles and texts are read separately (no bigram across
//!   them), the text being [`plain_text`](crate::search::plain_text) of the article's body.
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
//!
//! The code is in three parts: this module writes the index (the constants, the build's plan,
//! the state, the shards and document files, patched or written whole); `terms.rs` turns text
//! into terms and postings (the terms above, read from HTML without building its plain text,
//! the postings' encoding, the excerpts); `read.rs` reads the files as `site.js` does
//! ([`search_files`]).

mod read;
mod terms;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};

use crate::publish::dates::format_time;
use crate::publish::site::{SiteError, SiteReport};
use crate::publish::{TEMP_PREFIX, sweep_temporary_files, write_atomically};
use crate::store::{ArticleRecord, Store};

pub use read::{StaticHit, search_files};
use terms::{Lists, Postings, encode_lists, excerpt, holds_any};
pub use terms::{decode_postings, encode_postings, fnv1a32, index_terms, is_cjk, query_terms};

/// The files' format, in the manifest: `site.js` reads this one. Bump when the files change
/// (and `STATE_FORMAT` with it).
pub const FORMAT: u32 = 1;
/// The format of [`STATE_FILE`]: bump when the files, the analysis or [`fingerprint`] change,
/// so that the index is written again whole (a state of another format is not trusted). 4:
/// full-width forms folded (ＣＯＶＩＤ is the word covid).
const STATE_FORMAT: u32 = 4;
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
    move |cause| SiteError::Write { path, cause }
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

/// Writes (or brings up to date) the static search index of `articles` in `out/search/`.
///
/// `site` is the site build's fingerprint of each article on it (id → a hash of everything its
/// page shows, which includes everything the index holds): when they are those of the last
/// build and the index's files are all there, nothing is read or written. `walked` is what
/// the site's walk of the store showed ([`SiteWalk`]).
pub fn write_search_shards(
    articles: &dyn Articles,
    out: &Path,
    site: &HashMap<i64, String>,
    walked: SiteWalk,
) -> Result<ShardReport, SiteError> {
    let mut ids: Vec<(&i64, &String)> = site.iter().collect();
    ids.sort_unstable();
    let mut hash = Context::new(&SHA256);
    for (id, print) in ids {
        hash.update(format!("{id} {print}\n").as_bytes());
    }
    let digest = hex::encode(&hash.finish().as_ref()[..12]);
    if let Some(report) = unchanged(out, &walked.old, &digest) {
        return Ok(report);
    }
    write_index(articles, out, Layout::DEFAULT, Some(digest), Some(walked))
}

/// The articles of a full site build, which reads every body once: the walk with bodies is the
/// site's own, its records arriving on `records` while the pages are rendered; a single body is
/// read through `store`, a connection of this thread's own.
pub struct SharedWalk {
    pub records: crossbeam_channel::Receiver<ArticleRecord>,
    pub store: Store,
}

impl Articles for SharedWalk {
    fn walk_without_body(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError> {
        self.store.walk_without_body(each)
    }

    fn walk(&self, each: &mut dyn FnMut(ArticleRecord)) -> Result<(), SiteError> {
        for record in &self.records {
            each(record);
        }
        Ok(())
    }

    fn body(&self, id: i64) -> Result<String, SiteError> {
        self.store.body(id)
    }
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
            let mut hash = Context::new(&SHA256);
            hash.update(format!("{FORMAT} {count}\n").as_bytes());
            for (number, (_, print)) in numbers.range(first..first.saturating_add(size)) {
                hash.update(&number.to_le_bytes());
                hash.update(&print.to_le_bytes());
            }
            SegmentInfo {
                first,
                size,
                shards: count,
                v: hex::encode(&hash.finish().as_ref()[..4]),
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
    let mut hash = Context::new(&SHA256);
    hash.update(&record.id.to_le_bytes());
    hash.update(&record.date_ms.to_le_bytes());
    hash.update(&record.revision.to_le_bytes());
    hash.update(&[u8::from(record.gone_ms.is_some())]);
    for text in [&record.title, &record.source_name] {
        hash.update(&(text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    u64::from_le_bytes(hash.finish().as_ref()[..8].try_into().expect("8 bytes"))
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
    // An article without a title shows the site's placeholder, not an empty link.
    let whole = crate::publish::shown_title(&doc.title);
    let mut title: String = whole.chars().take(TITLE_CHARS).collect();
    if title.len() < whole.len() {
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
    let parts = per_core(buckets);
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
    let parts = per_core(added);
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

/// `shards` numbered from 0 and cut into one run per core, for scoped threads.
fn per_core<T>(shards: Vec<T>) -> Vec<Vec<(u32, T)>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_thread = shards.len().div_ceil(threads).max(1);
    let mut numbered: Vec<(u32, T)> = (0..).zip(shards).collect();
    let mut parts = Vec::new();
    while numbered.len() > per_thread {
        let rest = numbered.split_off(per_thread);
        parts.push(std::mem::replace(&mut numbered, rest));
    }
    parts.push(numbered);
    parts
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::plain_text;

    /// Segments of 8 cut into 4 while they fill, document files of 2: every case in few articles.
    const SMALL: Layout = Layout {
        segment: 8,
        small: 4,
        doc_chunk: 2,
    };

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
        let layout = SMALL;
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
        let layout = SMALL;
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

    /// An index written before full-width forms were folded (state format 3) is written again
    /// whole by the next build, which finds ＣＯＶＩＤ as covid.
    #[test]
    fn an_index_of_state_format_3_is_written_again_whole() {
        let layout = SMALL;
        let out = tempfile::tempdir().unwrap();
        let mut articles = BTreeMap::new();
        for id in 1..=10 {
            articles.insert(
                id,
                record(id, id * 1000, "ＣＯＶＩＤ疫苗", "<p>２０２２</p>", false),
            );
        }
        build(&articles, out.path(), layout);
        let state = out.path().join(STATE_FILE);
        let text = std::fs::read_to_string(&state).unwrap();
        let older = text.replace(&format!("\"format\":{STATE_FORMAT}"), "\"format\":3");
        std::fs::write(&state, older).unwrap();
        let report = build(&articles, out.path(), layout);
        assert_eq!(report.recomputed, report.segments, "{report:?}");
        assert!(report.segments > 0);
        assert_eq!(found(out.path(), "covid").len(), 10);
        assert_eq!(found(out.path(), "ＣＯＶＩＤ 2022").len(), 10);
    }

    #[test]
    fn a_shard_that_does_not_read_is_computed_again() {
        let layout = SMALL;
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
