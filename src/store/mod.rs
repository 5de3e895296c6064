//! SQLite, the system of record. Every SQL statement of newsvault lives in this module: the
//! store's opening, schema and shared reading here, and its parts in the files beside it, one
//! per stage that uses them (feeds, ingest, posts, import, curation, pages, walks).
//!
//! The store keeps sources and their feeds' fetch state, articles with a stable identity
//! (source + key), every distinct version of each article, and events. Outputs (the Jekyll tree)
//! are derived from it and can always be rebuilt from it.
//!
//! One [`Store`] owns one `rusqlite::Connection`; SQLite is synchronous, so the run hands parsed
//! articles to the one task that holds the store instead of sharing the connection. A run wraps
//! its ingest in one transaction ([`Store::begin`] / [`Store::commit`]), so an article is committed
//! before its post is written, and a crash leaves either the old or the new state.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use thiserror::Error;

use crate::content::{is_legacy_version_hash, legacy_version_hash_of};
use crate::fetch::Validators;
use crate::model::Article;

mod curation;
mod feeds;
mod import;
mod ingest;
mod pages;
mod posts;
mod walks;

pub use curation::{ArticleMatch, ExportRow, VersionRecord};
pub use feeds::{FeedHealth, SourceTotals, StoreTotals};
pub use import::{ImportOutcome, ImportedPost, PostImporter};
pub use pages::PageState;
pub use walks::{ArticleRecord, ArticleRow};

/// The schema this build writes; older stores are migrated forward on open.
pub const SCHEMA_VERSION: i64 = 10;

/// Bytes per page of a store newsvault creates. An article (a few kilobytes of body) fits in
/// one page of 16 KiB, where SQLite's default 4 KiB chained it over overflow pages: a first run
/// of 9,531 articles took 8 % less time. A store keeps the page size it was made with.
const PAGE_SIZE: u32 = 16_384;

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_schedule.sql"),
    include_str!("../../migrations/0003_images.sql"),
    include_str!("../../migrations/0004_revision.sql"),
    include_str!("../../migrations/0005_version_body.sql"),
    include_str!("../../migrations/0006_walk_index.sql"),
    include_str!("../../migrations/0007_walk_index_wider.sql"),
    include_str!("../../migrations/0008_post_pending.sql"),
    include_str!("../../migrations/0009_version_shape.sql"),
    include_str!("../../migrations/0010_feed_reading.sql"),
];

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open store {}: {}", .path.display(), open_reason(.cause, .path))]
    Open {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error("cannot create the store's folder {path}: {cause}")]
    Folder {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "store {path} has schema version {found}, newer than this newsvault knows ({SCHEMA_VERSION}); upgrade newsvault"
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("no store at {}: run `newsvault run` (or `newsvault import jekyll`) first", .path.display())]
    Missing { path: PathBuf },
    #[error(
        "store {path} has schema version {found}, older than this newsvault's ({SCHEMA_VERSION}), and this user may only read it; run newsvault once as its owner to migrate it"
    )]
    CannotMigrate { path: PathBuf, found: i64 },
    #[error("cannot read store {}: {why}", .path.display())]
    Unreadable { path: PathBuf, why: String },
    #[error("store: {0}")]
    Sql(rusqlite::Error),
}

// The errors of newsvault show their cause in their message, and `main` prints an error with
// its chain of causes: so they do not also chain it (no `#[source]`), or it would show twice.
impl From<rusqlite::Error> for StoreError {
    fn from(cause: rusqlite::Error) -> StoreError {
        StoreError::Sql(cause)
    }
}

/// What SQLite said about a store it could not open, without the path rusqlite appends to the
/// message of a failed open (the error names the store already).
fn open_reason(cause: &rusqlite::Error, path: &Path) -> String {
    let text = cause.to_string();
    let said = text
        .strip_suffix(&*path.to_string_lossy())
        .map_or(text.as_str(), |rest| rest.trim_end_matches([':', ' ']));
    match cause {
        rusqlite::Error::SqliteFailure(e, _) if said.is_empty() => {
            rusqlite::ffi::code_to_str(e.extended_code).to_string()
        }
        _ => said.to_string(),
    }
}

/// Why a store this user may only read could not be read: SQLite's error, or, for a store in
/// write-ahead-log mode whose shared-memory file is absent, that SQLite would have to create that
/// file in a folder this user cannot write (it reads such a store only with that file).
fn read_only_failure(path: &Path, cause: rusqlite::Error) -> StoreError {
    let shm = StoreFile::SharedMemory.path(path);
    if !shm.exists() && in_wal_mode(path) {
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return StoreError::Unreadable {
            path: path.to_path_buf(),
            why: format!(
                "it is in write-ahead-log mode and this user may not create {} in {} (SQLite said: {cause}); run newsvault as the store's owner, or let this user write that folder",
                shm.display(),
                folder.display()
            ),
        };
    }
    StoreError::Open {
        path: path.to_path_buf(),
        cause,
    }
}

/// Whether the SQLite file at `path` says it is in write-ahead-log mode: its header's read and
/// write format versions (bytes 18 and 19) are 2.
fn in_wal_mode(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .is_ok_and(|()| header[18] == 2 && header[19] == 2)
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The store of one archive.
pub struct Store {
    conn: Connection,
}

/// What [`Store::hide`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hiding {
    /// Hidden now; its post file (if it has one) is to be removed.
    Hidden { post_name: Option<String> },
    /// It was hidden already: nothing changed in the store (its post file, if one is left from
    /// an earlier `hide` that could not remove it, is still to be removed).
    Already { post_name: Option<String> },
}

/// What ingesting one article did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingest {
    /// Never seen before: stored, its post to be written.
    New,
    /// Seen before, same version.
    Unchanged,
    /// Seen before with other content: a version added, its post to be rewritten in place.
    Changed,
}

/// Between the two links of a `moved` event's detail (no link holds a space).
const MOVE_ARROW: &str = " -> ";

/// What [`Store::ingest`] did with one article, and which article it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    pub outcome: Ingest,
    pub id: i64,
    /// A known article the item gave another link of its own (see [`Article::link_from_item`]):
    /// the article now has that link, its post shows it (rewritten in place), and a `moved`
    /// event names it. A move is no new version.
    pub moved: bool,
}

/// Who a source is, for the articles ingested under it.
#[derive(Debug, Clone)]
pub struct SourceMeta {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
}

/// A post to write, with everything its file shows.
#[derive(Debug, Clone)]
pub struct PostRecord {
    pub id: i64,
    pub post_name: String,
    pub title: String,
    pub link: String,
    pub published_ms: Option<i64>,
    pub date_ms: i64,
    pub author: String,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    pub body: String,
    pub versions: i64,
    pub updated_ms: Option<i64>,
    /// Since when the page is gone at the source, if it is.
    pub gone_ms: Option<i64>,
    /// An imported post's own text before and after its body, rewritten as it was.
    pub imported: Option<(String, String)>,
}

/// One line of a source's list page.
#[derive(Debug, Clone)]
pub struct ListItem {
    pub title: String,
    pub link: String,
    pub date_ms: i64,
}

/// One entry of search.json, borrowed from the walk over them ([`Store::for_each_post`]).
#[derive(Debug, Clone, Copy)]
pub struct SearchRow<'a> {
    pub title: &'a str,
    pub source_name: &'a str,
    pub tags: &'a [String],
    pub categories: &'a [String],
    pub post_name: &'a str,
    pub date_ms: i64,
    pub summary: &'a str,
}

/// A feed's remembered state, for the next request.
#[derive(Debug, Clone, Default)]
pub struct FeedState {
    pub validators: Validators,
    /// The BLAKE3 hash of the body last ingested. Older stores hold a SHA-256 one (as the
    /// comment of migrations/0001 still says): it never matches, and the feed is parsed once
    /// more.
    pub body_hash: Option<String>,
    /// How its source read it when its body was last ingested (`None`: not recorded, before
    /// schema 10); the validators and the body hash stand for that reading only.
    pub reading: Option<String>,
}

/// The result of one feed fetch, as recorded.
#[derive(Debug, Clone)]
pub enum FeedResult<'a> {
    /// A body was fetched and ingested (or was the same as last time), read as `reading` says.
    Fetched {
        status: u16,
        validators: &'a Validators,
        body_hash: &'a str,
        reading: &'a str,
        moved_to: Option<&'a str>,
    },
    /// 304 (asked only under the reading the validators stand for: `reading`).
    NotModified {
        validators: &'a Validators,
        reading: &'a str,
    },
    Failed {
        status: Option<u16>,
        error: &'a str,
    },
}

/// One of the files SQLite keeps for a store: the store itself, and beside it, under its name
/// with a suffix, the write-ahead log and its shared-memory index (while the store is open) and
/// the rollback journal (during an import). Writing any of them from outside SQLite damages the
/// store, or replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFile {
    Store,
    WriteAheadLog,
    SharedMemory,
    Journal,
}

impl StoreFile {
    pub const ALL: [StoreFile; 4] = [
        StoreFile::Store,
        StoreFile::WriteAheadLog,
        StoreFile::SharedMemory,
        StoreFile::Journal,
    ];

    /// This file's path for the store at `store`.
    pub fn path(self, store: &Path) -> PathBuf {
        let suffix = match self {
            StoreFile::Store => "",
            StoreFile::WriteAheadLog => "-wal",
            StoreFile::SharedMemory => "-shm",
            StoreFile::Journal => "-journal",
        };
        let mut name = store.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    /// What it is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            StoreFile::Store => "the store itself",
            StoreFile::WriteAheadLog => "the store's write-ahead log",
            StoreFile::SharedMemory => "the store's shared-memory index",
            StoreFile::Journal => "the store's rollback journal",
        }
    }

    /// Which file of the store at `store` `candidate` is, if any, whatever it is called: the same
    /// file (device and inode) when both exist, so a link or another spelling of the path is
    /// caught; else the same path once both are made canonical.
    pub fn of(candidate: &Path, store: &Path) -> Option<StoreFile> {
        use std::os::unix::fs::MetadataExt;
        let found = std::fs::metadata(candidate).ok();
        let canonical = canonical_path(candidate);
        StoreFile::ALL.into_iter().find(|file| {
            let path = file.path(store);
            match (&found, std::fs::metadata(&path)) {
                (Some(found), Ok(meta)) => found.dev() == meta.dev() && found.ino() == meta.ino(),
                _ => canonical.is_some() && canonical == canonical_path(&path),
            }
        })
    }
}

/// `path` with links and `.`/`..` resolved; for a file that does not exist, its folder's
/// canonical path joined with its name. `None` when the folder does not exist either.
fn canonical_path(path: &Path) -> Option<PathBuf> {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return Some(canonical);
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = std::fs::canonicalize(folder.unwrap_or(Path::new("."))).ok()?;
    Some(folder.join(path.file_name()?))
}

impl Store {
    /// Opens the store at `path`, creating it (and its folder) when absent, and migrates it to
    /// [`SCHEMA_VERSION`]: for the commands that fill a store (`run`, `watch`, `import`, `demo`).
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|cause| StoreError::Folder {
                path: folder.to_path_buf(),
                cause,
            })?;
        }
        Store::connect(path, OpenFlags::default())
    }

    /// Opens the store at `path`, which must exist ([`StoreError::Missing`] otherwise; nothing
    /// is created), and migrates it: for every command that reads or changes an archive without
    /// filling it. A store this user may only read is opened read-only (SQLite does so by
    /// itself): see `Store::connect`.
    pub fn open_existing(path: &Path) -> Result<Store> {
        Store::ensure_exists(path)?;
        Store::connect(path, OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE)
    }

    /// [`StoreError::Missing`] when there is no store at `path`: checked by commands that
    /// would otherwise create something first (the archive's lock file).
    pub fn ensure_exists(path: &Path) -> Result<()> {
        if path.exists() {
            Ok(())
        } else {
            Err(StoreError::Missing {
                path: path.to_path_buf(),
            })
        }
    }

    /// Connects to `path` with `flags`. A connection that SQLite could only open read-only (the
    /// file is not writable by this user) writes nothing: the journal mode is not set (the
    /// store's own stays) and an older schema is not migrated but refused.
    fn connect(path: &Path, flags: OpenFlags) -> Result<Store> {
        let open = |cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        };
        let conn = Connection::open_with_flags(path, flags).map_err(open)?;
        let read_only = conn.is_readonly(rusqlite::MAIN_DB).map_err(open)?;
        let failed = |cause| match read_only {
            true => read_only_failure(path, cause),
            false => open(cause),
        };
        if !read_only {
            // The page size counts only for a new, empty store (see `PAGE_SIZE`).
            conn.execute_batch(&format!(
                "PRAGMA page_size = {PAGE_SIZE}; PRAGMA journal_mode = WAL;"
            ))
            .map_err(failed)?;
        }
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 10000;
             PRAGMA cache_size = -16384;",
        )
        .map_err(failed)?;
        let store = Store { conn };
        store.migrate(path, read_only).map_err(|e| match e {
            StoreError::Sql(cause) => failed(cause),
            other => other,
        })?;
        Ok(store)
    }

    /// Another connection to the same store file, for a reader on another thread (none for a
    /// store in memory).
    pub fn reopen(&self) -> Option<Result<Store>> {
        let path = self.conn.path().filter(|p| !p.is_empty())?;
        Some(Store::open_existing(Path::new(path)))
    }

    /// A number that changes when another connection (another process: a `run`, a `hide`)
    /// commits to the store, as SQLite's `PRAGMA data_version` counts: cheap to ask, for a
    /// reader that keeps something derived from the store current (`serve` and its site).
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Brings the schema to [`SCHEMA_VERSION`]; on a `read_only` connection an older schema is
    /// [`StoreError::CannotMigrate`].
    fn migrate(&self, path: &Path, read_only: bool) -> Result<()> {
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
            });
        }
        if read_only && found < SCHEMA_VERSION {
            return Err(StoreError::CannotMigrate {
                path: path.to_path_buf(),
                found,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Leaves copying the write-ahead log into the store to [`Store::checkpoint`] instead of
    /// doing it inside the commit that fills the log: a run commits tens of megabytes at once
    /// and goes on writing posts while another thread copies (and syncs) them.
    pub fn defer_checkpoints(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        Ok(())
    }

    /// Copies what the write-ahead log holds into the store file, without waiting for readers
    /// or writers (what they hold stays in the log for a later checkpoint).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Starts the run's transaction.
    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Number of articles in the store.
    pub fn article_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM article", [], |r| r.get(0))?)
    }
}

/// Column `index` of `row` as text, checked as UTF-8 with SIMD: the walks and the posts to be
/// written read every body, and rusqlite's own check is a noticeable part of a full site build
/// and of a first run.
fn text(row: &rusqlite::Row, index: usize) -> rusqlite::Result<String> {
    text_ref(row, index).map(str::to_owned)
}

/// [`text`], borrowed from the row.
fn text_ref<'r>(row: &'r rusqlite::Row, index: usize) -> rusqlite::Result<&'r str> {
    let bytes = row.get_ref(index)?.as_bytes()?;
    simdutf8::basic::from_utf8(bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The query of [`Store::for_each_post`], which reads the `article_walk` index alone. Posts of
/// one moment go by name, not by id: ids follow the order feeds answered in, which differs from
/// run to run.
const POSTS_SQL: &str =
    "SELECT a.title, s.name, a.tags, a.categories, a.post_name, a.date_ms, a.summary
     FROM article a JOIN source s ON s.id = a.source_id
     WHERE a.post_name IS NOT NULL AND a.hidden_ms IS NULL
     ORDER BY a.date_ms DESC, a.post_name DESC";

/// The content of a version of article `article` as the feed sent it, from the row's text
/// (column `text`: the article's body while the version is current, see migrations/0005) and its
/// shape (column `shape`, migrations/0009), if it has one.
fn version_content(
    r: &rusqlite::Row<'_>,
    article: i64,
    text: usize,
    shape: usize,
) -> rusqlite::Result<String> {
    let content: String = r.get(text)?;
    match r.get::<_, Option<String>>(shape)? {
        None => Ok(content),
        Some(lines) => crate::content::lines::unjoin(&content, &lines).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                shape,
                rusqlite::types::Type::Text,
                format!("the shape of a version of article {article} does not fit its text").into(),
            )
        }),
    }
}

/// The query of [`Store::for_each_article`] and of its walk without bodies (every body `''`),
/// which reads the `article_walk` index alone (migrations/0006 and 0007).
fn walk_sql(with_body: bool) -> String {
    let body = if with_body { "a.body" } else { "''" };
    format!(
        "SELECT a.id, a.source_id, s.name, a.title, a.link, {body}, a.published_ms,
                a.first_seen_ms, a.date_ms, a.versions, a.updated_ms, a.gone_ms, a.revision
         FROM article a JOIN source s ON s.id = a.source_id
         WHERE a.hidden_ms IS NULL
         ORDER BY a.date_ms DESC, a.id DESC"
    )
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("a list of strings serialises")
}

fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Test help: the source `s` ("S"), recorded in `store`.
#[cfg(test)]
pub(crate) fn test_source(store: &Store) -> SourceMeta {
    store.ensure_source("s", "S", 0).unwrap();
    SourceMeta {
        id: "s".into(),
        name: "S".into(),
        tags: vec![],
        categories: vec![],
    }
}

/// Test help: stores `count` new articles of [`test_source`], the `i`th titled `title(i)` with
/// `body(i)` as its feed content and body, each under a post name of its own.
#[cfg(test)]
pub(crate) fn store_articles(
    store: &Store,
    count: usize,
    title: impl Fn(usize) -> String,
    body: impl Fn(usize) -> String,
) {
    let source = test_source(store);
    for i in 0..count {
        let article = Article {
            key: format!("guid:{i}"),
            guid: Some(i.to_string()),
            link: format!("https://e.com/{i}"),
            link_from_item: true,
            earlier_keys: vec![],
            title: title(i),
            published: None,
            authors: vec![],
            categories: vec![],
            raw_content: body(i),
            raw_shape: None,
            body: body(i),
            version_hash: format!("h{i}"),
        };
        let names = || [format!("2021-04-04-{i}.md")];
        store
            .ingest(&source, &article, "", names(), &|_| false, 1)
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::walks::SmallCache;
    use super::*;

    /// A store at schema `version` (its first migrations only) with one article in it, and
    /// `extra` SQL run after.
    pub(super) fn store_at_version(path: &Path, version: usize, extra: &str) {
        let conn = Connection::open(path).unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = {version};
             INSERT INTO source (id, name, first_seen_ms) VALUES ('s', 'S', 0);
             INSERT INTO article (source_id, key, link, title, first_seen_ms, last_seen_ms,
                 date_ms, author, tags, categories, body, summary, version_hash)
             VALUES ('s', 'url:a', 'https://e.com/a', 'T', 1, 1, 1, 'S', '[]', '[]', '<p>b</p>',
                 'b', 'h');
             {extra}"
        ))
        .unwrap();
    }

    fn revision(store: &Store) -> i64 {
        store
            .conn
            .query_row("SELECT revision FROM article", [], |r| r.get(0))
            .unwrap()
    }

    /// The value of the connection's `PRAGMA name`.
    fn pragma(store: &Store, name: &str) -> i64 {
        store
            .conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    }

    fn cache_size(store: &Store) -> i64 {
        pragma(store, "cache_size")
    }

    #[test]
    fn a_walk_with_bodies_reads_through_a_small_page_cache_and_puts_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        store_at_version(&path, MIGRATIONS.len(), "");
        let store = Store::open(&path).unwrap();
        let before = cache_size(&store);
        assert!(
            before < -SmallCache::KIB,
            "the store's own cache is the larger: {before}"
        );
        let mut during = vec![];
        let walked = store.for_each_article(|_| {
            during.push(cache_size(&store));
            Err("stop")
        });
        assert_eq!(walked.unwrap(), Err("stop"));
        assert_eq!(during, [-SmallCache::KIB]);
        assert_eq!(
            cache_size(&store),
            before,
            "put back after a walk that stopped"
        );
        // The walk without bodies reads an index that later walks read again: cache untouched.
        store
            .for_each_article_without_body(|_| {
                during.push(cache_size(&store));
                Ok::<(), ()>(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(during, [-SmallCache::KIB, before]);
    }

    #[test]
    fn a_version_3_store_gains_revisions_that_follow_what_pages_show() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        store_at_version(&path, 3, "");
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(revision(&store), 0);

        // What no page shows leaves the revision alone, and so does writing the same body.
        store
            .conn
            .execute_batch(
                "UPDATE article SET last_seen_ms = 9, checked_ms = 9;
                 DELETE FROM post_pending;
                 UPDATE article SET body = '<p>b</p>';",
            )
            .unwrap();
        assert_eq!(revision(&store), 0);

        // A new body (a reprocess, the full text, local images), a gone mark: each counts.
        store
            .conn
            .execute_batch("UPDATE article SET body = '<p>c</p>'")
            .unwrap();
        assert_eq!(revision(&store), 1);
        store
            .conn
            .execute_batch("UPDATE article SET gone_ms = 5")
            .unwrap();
        assert_eq!(revision(&store), 2);

        // The walk without bodies sees the revision, and the body is there on demand.
        let mut seen = Vec::new();
        store
            .for_each_article_without_body(|r| -> std::result::Result<(), ()> {
                seen.push((r.id, r.body, r.revision));
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(seen, vec![(1, String::new(), 2)]);
        assert_eq!(store.article_body(1).unwrap(), "<p>c</p>");
    }

    #[test]
    fn a_version_7_store_keeps_its_unwritten_posts_unwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        // The article of `store_at_version` has its post written; a second one has not.
        store_at_version(
            &path,
            7,
            "UPDATE article SET post_name = 'a.md', post_key = 'a.md', post_dirty = 0;
             INSERT INTO article (source_id, key, link, title, first_seen_ms, last_seen_ms,
                 date_ms, author, tags, categories, body, summary, version_hash, post_name,
                 post_key)
             VALUES ('s', 'url:b', 'https://e.com/b', 'U', 2, 2, 2, 'S', '[]', '[]', '<p>c</p>',
                 'c', 'h2', 'b.md', 'b.md');",
        );
        let store = Store::open(&path).unwrap();
        let pending: Vec<String> = store
            .dirty_posts(0, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.post_name)
            .collect();
        assert_eq!(pending, ["b.md"]);
        let columns: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('article') WHERE name = 'post_dirty'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(columns, 0, "the flag is gone from the article rows");
    }

    #[test]
    fn marking_posts_written_leaves_the_article_rows_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        store.begin().unwrap();
        let articles = 200;
        let body = "<p>一篇报道的正文。</p>".repeat(100);
        store_articles(&store, articles, |i| format!("T{i}"), |_| body.clone());
        store.commit().unwrap();
        store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let ids: Vec<i64> = store
            .dirty_posts(0, articles)
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids.len(), articles);
        store.mark_posted(&ids).unwrap();
        assert!(store.dirty_posts(0, articles).unwrap().is_empty());
        // Pages the marking wrote to the log: a few, not one per article (each article's row,
        // with its body, fills a page of its own).
        let (_, logged): (i64, i64) = store
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(logged < articles as i64 / 10, "{logged} pages logged");
    }

    #[test]
    fn stores_of_versions_5_and_6_gain_an_index_the_walks_without_bodies_read_alone() {
        // Version 6 had the index without what search.json reads; 7 widens it.
        for from in [5, 6] {
            walks_read_the_index_alone_after_migrating_from(from);
        }
    }

    fn walks_read_the_index_alone_after_migrating_from(version: usize) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        // A second article, newer, and a third, hidden.
        store_at_version(
            &path,
            version,
            "INSERT INTO article (source_id, key, link, title, first_seen_ms, last_seen_ms,
                 date_ms, author, tags, categories, body, summary, version_hash, hidden_ms)
             VALUES ('s', 'url:b', 'https://e.com/b', 'U', 2, 2, 2, 'S', '[]', '[]', '<p>u</p>',
                 'u', 'h', NULL),
                 ('s', 'url:c', 'https://e.com/c', 'V', 3, 3, 3, 'S', '[]', '[]', '<p>v</p>',
                 'v', 'h', 3);",
        );
        let store = Store::open(&path).unwrap();
        // The site's walk and search.json's read the index alone.
        for sql in [walk_sql(false), POSTS_SQL.to_string()] {
            let plan: Vec<String> = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                plan.iter()
                    .any(|step| step.contains("COVERING INDEX article_walk")),
                "{plan:?}"
            );
        }
        let walk = |with_body: bool| {
            let mut seen = Vec::new();
            let each = |r: ArticleRecord| -> std::result::Result<(), ()> {
                seen.push((r.id, r.title, r.body));
                Ok(())
            };
            if with_body {
                store.for_each_article(each)
            } else {
                store.for_each_article_without_body(each)
            }
            .unwrap()
            .unwrap();
            seen
        };
        // Newest first, the hidden one left out, with and without the bodies.
        assert_eq!(
            walk(true),
            [
                (2, "U".into(), "<p>u</p>".into()),
                (1, "T".into(), "<p>b</p>".into())
            ]
        );
        assert_eq!(
            walk(false),
            [
                (2, "U".into(), String::new()),
                (1, "T".into(), String::new())
            ]
        );
    }

    /// Pages of 16 KiB hold a whole article (body and all) where 4 KiB pages chained overflow
    /// pages: a first run of 9,531 articles stored them 8 % faster. A store made before keeps
    /// its pages (changing them means rewriting the file) and works as it did.
    #[test]
    fn a_new_store_is_made_of_16_kib_pages_and_an_older_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = Store::open(&dir.path().join("fresh.sqlite")).unwrap();
        assert_eq!(pragma(&fresh, "page_size"), 16_384);

        let old = dir.path().join("old.sqlite");
        store_at_version(&old, 4, "");
        let store = Store::open(&old).unwrap();
        assert_eq!(pragma(&store, "page_size"), 4_096);
        assert_eq!(store.article_count().unwrap(), 1);
        store_articles(&store, 3, |i| format!("T{i}"), |i| format!("<p>{i}</p>"));
        assert_eq!(store.article_count().unwrap(), 4);
    }

    #[test]
    fn opening_a_missing_store_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive/.newsvault/store.sqlite");
        let error = Store::open_existing(&path).err().unwrap();
        assert!(matches!(error, StoreError::Missing { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("no store at {}: ", path.display())),
            "{error}"
        );
        assert!(!dir.path().join("archive").exists());
    }

    /// A store SQLite opens read-only (this user may not write it) is read as it is: its
    /// journal mode is not set (that is a write), and an older schema is refused, not migrated.
    #[test]
    fn a_store_opened_read_only_is_read_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        // As an import that could not switch back to the write-ahead log leaves it.
        store_at_version(
            &path,
            SCHEMA_VERSION as usize,
            "PRAGMA journal_mode = DELETE;",
        );
        let before = std::fs::read(&path).unwrap();
        let store = Store::connect(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        assert_eq!(store.article_count().unwrap(), 1);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        drop(store);
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let old = dir.path().join("old.sqlite");
        store_at_version(&old, 8, "");
        let error = Store::connect(&old, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .err()
            .unwrap();
        assert!(
            matches!(error, StoreError::CannotMigrate { found: 8, .. }),
            "{error}"
        );
    }
}

#[cfg(test)]
mod version_body_tests;
