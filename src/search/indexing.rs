//! Keeping the index in step with the store: built from scratch when there is none (or it is
//! damaged, or of another format), otherwise brought up to date with what changed since its
//! state ([`STATE_FILE`]: a fingerprint of each article as indexed) — one writer at a time,
//! under the index's lock, fed at the pace of its writer's threads.

use std::collections::HashMap;
use std::path::Path;

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{RemoveLongFilter, TextAnalyzer};
use tantivy::{Index, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::store::{ArticleRecord, ArticleRow, Store};

use super::lock::{self, IndexLock};
use super::pace::Pace;
use super::tokens::{segmented, words_analyzer};
use super::{
    CHARS, CharTokenizer, FORMAT, Fields, STATE_FILE, SearchError, SearchIndex, WORDS,
    WRITER_BUDGET, WordsTokenizer, plain_text, register_tokenizers, schema,
};

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
            let was_empty = old.articles.is_empty();
            let changes = changes(store, old)?;
            if changes.changed.is_empty() && changes.removed.is_empty() {
                let report = IndexReport {
                    articles: changes.state.articles.len(),
                    ..IndexReport::default()
                };
                Plan::Current(index, report)
            } else if was_empty {
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
/// without their bodies, which costs what their metadata costs. Each article is lent by the walk
/// and copied only when it changed; an unchanged one keeps the fingerprint `old` has of it.
fn changes(store: &Store, old: IndexState) -> Result<Changes, SearchError> {
    let mut old = old.articles;
    let mut state = IndexState {
        format: FORMAT,
        articles: HashMap::with_capacity(old.len()),
    };
    let mut changed = Vec::new();
    store.for_each_article_row_without_body(|row| -> Result<(), SearchError> {
        let print = fingerprint(row);
        let print = match old.remove(&row.id) {
            Some(was) if was.as_bytes() == print => was,
            _ => {
                changed.push(row.to_record());
                fingerprint_text(&print)
            }
        };
        state.articles.insert(row.id, print);
        Ok(())
    })??;
    // What the walk did not meet is no longer shown.
    let removed = old.into_keys().collect();
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
            state
                .articles
                .insert(record.id, fingerprint_text(&fingerprint(&record.lend())));
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

/// An article's fingerprint as index states keep it: 24 hex digits.
type Fingerprint = [u8; 24];

/// What the index holds of an article, hashed; its text is in the store's revision. The hash of
/// `source_id`, `source_name`, `title`, `link`, `date_ms`, `gone_ms` (as `{:?}` spells it) and
/// `revision`, each followed by a line break: an update walks every article and hashes each, so
/// the pieces go to the hash as they are, without a line made of them first, and the digits
/// are written on the stack.
fn fingerprint(row: &ArticleRow) -> Fingerprint {
    use std::io::Write as _;
    let mut hash = Context::new(&SHA256);
    for text in [row.source_id, row.source_name, row.title, row.link] {
        hash.update(text.as_bytes());
        hash.update(b"\n");
    }
    // Three numbers, each at most 26 bytes spelt (`Some(-9223372036854775808)`).
    let mut numbers = [0u8; 96];
    let mut cursor = std::io::Cursor::new(&mut numbers[..]);
    write!(
        cursor,
        "{}\n{:?}\n{}\n",
        row.date_ms, row.gone_ms, row.revision
    )
    .expect("three numbers fit in 96 bytes");
    let spelt = cursor.position() as usize;
    hash.update(&numbers[..spelt]);
    let mut print = [0u8; 24];
    hex::encode_to_slice(&hash.finish().as_ref()[..12], &mut print)
        .expect("12 bytes are 24 hex digits");
    print
}

/// A fingerprint as text, as the index's state holds it.
fn fingerprint_text(print: &Fingerprint) -> String {
    String::from_utf8(print.to_vec()).expect("hex digits are ASCII")
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
    // The line break leaves a position free (`CharTokenizer`): no phrase across the title's end.
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

#[cfg(test)]
mod tests {
    use super::*;

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
                fingerprint_text(&fingerprint(&record(gone_ms).lend())),
                hex::encode(&digest.as_ref()[..12])
            );
        }
        // Computed apart, with Python's hashlib.
        assert_eq!(
            fingerprint_text(&fingerprint(&record(None).lend())),
            "b5ab0280b131cbd9c8558b8b"
        );
        // The longest numbers a fingerprint spells.
        let mut longest = record(Some(i64::MIN));
        (longest.date_ms, longest.revision) = (i64::MIN, i64::MIN);
        let line = format!(
            "zaobao\n联合早报\n中韩外长会谈\nhttps://www.zaobao.com/a\n{0}\nSome({0})\n{0}\n",
            i64::MIN
        );
        let digest = ring::digest::digest(&SHA256, line.as_bytes());
        assert_eq!(
            fingerprint_text(&fingerprint(&longest.lend())),
            hex::encode(&digest.as_ref()[..12])
        );
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

    /// A phrase does not span the title's end, nor two paragraphs of the text (a line break of
    /// its plain text), as the static search's pairs do not.
    #[test]
    fn no_phrase_spans_the_title_and_the_text_or_two_paragraphs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let index = dir.path().join("index");
        crate::store::store_articles(
            &store,
            1,
            |_| "中韩外长会谈 冬奥".into(),
            |_| "<p>韩国支持</p><p>香港</p><p>澳门</p><p>Beijing 2022</p>".into(),
        );
        update_index(&store, &index, Building::Fast).unwrap();
        let searched = SearchIndex::open(&index).unwrap();
        let total = |query: &str| {
            searched
                .search(&crate::search::SearchRequest {
                    query: query.into(),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap()
                .total
        };
        for query in ["奥韩", "冬奥韩国", "港澳", "支持香港", "香港澳门"] {
            assert_eq!(total(query), 0, "{query}");
        }
        for query in [
            "冬奥",
            "韩国支持",
            "香港",
            "澳门",
            "beijing 2022",
            "会谈冬奥",
        ] {
            assert_eq!(total(query), 1, "{query}");
        }
    }

    /// An index written before full-width forms were folded (format 3) or before line breaks
    /// left a position free (4) is built again by the next update, and then finds ＣＯＶＩＤ as
    /// covid and covid as ＣＯＶＩＤ.
    #[test]
    fn an_index_of_format_3_or_4_is_built_again_and_folds_full_width_forms() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let index = dir.path().join("index");
        crate::store::store_articles(
            &store,
            2,
            |i| format!("ＣＯＶＩＤ疫苗 {i}"),
            |i| format!("<p>Ｏｌｙｍｐｉｃｓ　２０２２ and COVID {i}</p>"),
        );
        update_index(&store, &index, Building::Fast).unwrap();
        let state = index.join(STATE_FILE);
        for older in [3, 4] {
            let whole = std::fs::read_to_string(&state).unwrap();
            let current = format!("\"format\":{FORMAT}");
            assert!(whole.contains(&current));
            std::fs::write(
                &state,
                whole.replace(&current, &format!("\"format\":{older}")),
            )
            .unwrap();
            let report = update_index(&store, &index, Building::Lean).unwrap();
            assert_eq!(report.indexed, 2, "every article indexed again");
        }
        let searched = SearchIndex::open(&index).unwrap();
        let total = |query: &str| {
            searched
                .search(&crate::search::SearchRequest {
                    query: query.into(),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap()
                .total
        };
        for query in [
            "covid",
            "ＣＯＶＩＤ",
            "Covid疫苗",
            "olympics",
            "ＯＬＹＭＰＩＣＳ",
            "2022",
        ] {
            assert_eq!(total(query), 2, "{query}");
        }
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
    /// An index brought up to date holds the state one built from scratch would: each
    /// article's fingerprint, whether it kept the one it had (unchanged), took a new one (new or
    /// changed) or left (hidden).
    #[test]
    fn an_update_leaves_the_state_a_build_from_scratch_would() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        crate::store::store_articles(&store, 4, |i| format!("冬奥 {i}"), |i| format!("{i}"));
        let updated = dir.path().join("updated");
        update_index(&store, &updated, Building::Lean).unwrap();
        let before = read_state(&updated).unwrap().articles;

        // Two new articles, one edited (guid 1), one hidden (guid 2, the third stored).
        crate::store::store_articles(&store, 6, |i| format!("冬奥 {i}"), |i| format!("{i}"));
        let source = crate::store::test_source(&store);
        let edited = crate::model::Article {
            key: "guid:1".into(),
            guid: Some("1".into()),
            link: "https://e.com/1".into(),
            link_from_item: true,
            earlier_keys: vec![],
            title: "冬奥 1, edited".into(),
            published: None,
            authors: vec![],
            categories: vec![],
            raw_content: "1, edited".into(),
            raw_shape: None,
            body: "1, edited".into(),
            version_hash: "h1-edited".into(),
        };
        store
            .ingest(&source, &edited, "", ["x.md".to_string()], &|_| false, 2)
            .unwrap();
        store.hide(3, "asked", 2).unwrap();

        let report = update_index(&store, &updated, Building::Lean).unwrap();
        assert_eq!(
            report,
            IndexReport {
                articles: 5,
                indexed: 3,
                removed: 1
            }
        );
        let after = read_state(&updated).unwrap().articles;
        let scratch = dir.path().join("scratch");
        update_index(&store, &scratch, Building::Lean).unwrap();
        assert_eq!(after, read_state(&scratch).unwrap().articles);
        // The two untouched articles kept their fingerprints; the edited one did not.
        for id in [1, 4] {
            assert_eq!(after[&id], before[&id], "article {id}");
        }
        assert_ne!(after[&2], before[&2]);
        assert!(!after.contains_key(&3));
    }

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
