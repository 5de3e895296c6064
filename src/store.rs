//! SQLite, the system of record. Every SQL statement of newsvault lives in this file.
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

/// The schema this build writes; older stores are migrated forward on open.
pub const SCHEMA_VERSION: i64 = 10;

/// Bytes per page of a store newsvault creates. An article (a few kilobytes of body) fits in
/// one page of 16 KiB, where SQLite's default 4 KiB chained it over overflow pages: a first run
/// of 9,531 articles took 8 % less time. A store keeps the page size it was made with.
const PAGE_SIZE: u32 = 16_384;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_schedule.sql"),
    include_str!("../migrations/0003_images.sql"),
    include_str!("../migrations/0004_revision.sql"),
    include_str!("../migrations/0005_version_body.sql"),
    include_str!("../migrations/0006_walk_index.sql"),
    include_str!("../migrations/0007_walk_index_wider.sql"),
    include_str!("../migrations/0008_post_pending.sql"),
    include_str!("../migrations/0009_version_shape.sql"),
    include_str!("../migrations/0010_feed_reading.sql"),
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
    /// itself): see [`Store::connect`].
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

    /// Records a source (and its current name).
    pub fn ensure_source(&self, id: &str, name: &str, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO source (id, name, first_seen_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE name <> excluded.name",
            )?
            .execute(params![id, name, now_ms])?;
        Ok(())
    }

    pub fn feed_state(&self, url: &str) -> Result<FeedState> {
        let state = self
            .conn
            .prepare_cached(
                "SELECT etag, last_modified, body_hash, reading FROM feed WHERE url = ?1",
            )?
            .query_row([url], |r| {
                Ok(FeedState {
                    validators: Validators {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                    },
                    body_hash: r.get(2)?,
                    reading: r.get(3)?,
                })
            })
            .optional()?;
        Ok(state.unwrap_or_default())
    }

    /// Records what fetching a feed gave.
    pub fn record_feed(
        &self,
        url: &str,
        source_id: &str,
        result: &FeedResult<'_>,
        now_ms: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO feed (url, source_id, last_attempt_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (url) DO UPDATE SET source_id = excluded.source_id,
                     last_attempt_ms = excluded.last_attempt_ms",
            )?
            .execute(params![url, source_id, now_ms])?;
        match result {
            FeedResult::Fetched {
                status,
                validators,
                body_hash,
                reading,
                moved_to,
            } => {
                self.conn
                    .prepare_cached(
                        "UPDATE feed SET etag = ?2, last_modified = ?3, body_hash = ?4,
                             last_success_ms = ?5, last_status = ?6, failures = 0,
                             last_error = NULL, moved_to = ?7, failing_since_ms = NULL,
                             reading = ?8
                         WHERE url = ?1",
                    )?
                    .execute(params![
                        url,
                        validators.etag,
                        validators.last_modified,
                        body_hash,
                        now_ms,
                        status,
                        moved_to,
                        reading
                    ])?;
            }
            FeedResult::NotModified {
                validators,
                reading,
            } => {
                // A 304 may carry a fresh validator; keep the old one for what it omits. It
                // confirms the reading too (a store from before schema 10 learns it here).
                self.conn
                    .prepare_cached(
                        "UPDATE feed SET etag = coalesce(?2, etag),
                             last_modified = coalesce(?3, last_modified),
                             last_success_ms = ?4, last_status = 304, failures = 0,
                             last_error = NULL, failing_since_ms = NULL, reading = ?5
                         WHERE url = ?1",
                    )?
                    .execute(params![
                        url,
                        validators.etag,
                        validators.last_modified,
                        now_ms,
                        reading
                    ])?;
            }
            FeedResult::Failed { status, error } => {
                self.conn
                    .prepare_cached(
                        "UPDATE feed SET last_status = ?2, failures = failures + 1, last_error = ?3,
                             failing_since_ms = coalesce(failing_since_ms, ?4)
                         WHERE url = ?1",
                    )?
                    .execute(params![url, status, error, now_ms])?;
            }
        }
        Ok(())
    }

    /// Stores an article: new, unchanged or a new version of one already archived.
    ///
    /// A new article takes the first name of `names` (in order of preference) that no other
    /// article holds and that `taken_on_disk` does not report as an existing file (a file the
    /// store does not own is never overwritten). Only a new article draws on `names`, and only as
    /// far as it must.
    pub fn ingest(
        &self,
        source: &SourceMeta,
        article: &Article,
        summary: &str,
        names: impl IntoIterator<Item = String>,
        taken_on_disk: &dyn Fn(&str) -> bool,
        now_ms: i64,
    ) -> Result<Ingested> {
        let existing: Option<(i64, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, version_hash, link FROM article WHERE source_id = ?1 AND key = ?2",
            )?
            .query_row(params![source.id, article.key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let existing = match existing {
            Some(found) => Some(found),
            None => self.adopt_imported(source, article)?,
        };
        let Some((id, hash, link)) = existing else {
            let id = self.insert_article(source, article, summary, names, taken_on_disk, now_ms)?;
            return Ok(Ingested {
                outcome: Ingest::New,
                id,
                moved: false,
            });
        };
        let outcome = if hash == article.version_hash {
            self.conn
                .prepare_cached(
                    "UPDATE version SET last_seen_ms = ?3 WHERE article_id = ?1 AND hash = ?2",
                )?
                .execute(params![id, hash, now_ms])?;
            Ingest::Unchanged
        } else if is_legacy_version_hash(&hash) && hash == legacy_version_hash_of(article) {
            // Hashed before BLAKE3, the same version: its hash is brought up to date.
            self.rehash_version(id, &hash, &article.version_hash, now_ms)?;
            self.conn
                .prepare_cached("UPDATE article SET version_hash = ?2 WHERE id = ?1")?
                .execute(params![id, article.version_hash])?;
            Ingest::Unchanged
        } else {
            self.add_version(id, article, summary, now_ms)?
        };
        let moved = self.follow_link(id, &link, article, now_ms)?;
        Ok(Ingested { outcome, id, moved })
    }

    /// Moves article `id`, known at `link`, to the item's own link when that leads to another
    /// page ([`crate::content::page_address`]: a link that differs only in its parameters is no
    /// move); the `moved` event says `<from> -> <to>`. A link the item does not give (the
    /// feed's, fallen back to) moves nothing, and neither does an address the article had
    /// before: two feeds of a source that spell one article's link differently would otherwise
    /// move it to and fro every run, as they answer in one order or the other.
    fn follow_link(&self, id: i64, link: &str, article: &Article, now_ms: i64) -> Result<bool> {
        use crate::content::page_address;
        let to = page_address(&article.link);
        if !article.link_from_item || article.link.is_empty() || to == page_address(link) {
            return Ok(false);
        }
        let mut moves = self
            .conn
            .prepare_cached("SELECT detail FROM event WHERE article_id = ?1 AND kind = 'moved'")?;
        for detail in moves.query_map([id], |r| r.get::<_, Option<String>>(0))? {
            let detail = detail?.unwrap_or_default();
            if detail.split(MOVE_ARROW).any(|was| page_address(was) == to) {
                return Ok(false);
            }
        }
        self.conn
            .prepare_cached("UPDATE article SET link = ?2 WHERE id = ?1")?
            .execute(params![id, article.link])?;
        let detail = format!("{link}{MOVE_ARROW}{}", article.link);
        self.add_event(id, "moved", now_ms, Some(&detail))?;
        self.mark_pending(id)?;
        Ok(true)
    }

    /// An imported post is known only by its link; a feed may know the same article by a guid.
    /// When an item's guid key is new but its link is an imported article's, they are one
    /// article: the imported one takes the feed's key.
    fn adopt_imported(
        &self,
        source: &SourceMeta,
        article: &Article,
    ) -> Result<Option<(i64, String, String)>> {
        let link_key = crate::content::url_key(&article.link);
        if link_key == article.key
            || !article.key.starts_with("url:") && !article.key.starts_with("guid:")
        {
            return Ok(None);
        }
        let found: Option<(i64, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, version_hash, link FROM article
                 WHERE source_id = ?1 AND key = ?2 AND imported_head IS NOT NULL",
            )?
            .query_row(params![source.id, link_key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        if let Some((id, _, _)) = &found {
            self.conn
                .prepare_cached("UPDATE article SET key = ?2 WHERE id = ?1")?
                .execute(params![id, article.key])?;
        }
        Ok(found)
    }

    fn insert_article(
        &self,
        source: &SourceMeta,
        article: &Article,
        summary: &str,
        names: impl IntoIterator<Item = String>,
        taken_on_disk: &dyn Fn(&str) -> bool,
        now_ms: i64,
    ) -> Result<i64> {
        let published_ms = article.published.map(|d| d.timestamp_millis());
        let date_ms = published_ms.map_or(now_ms, |p| p.min(now_ms));
        let mut name = None;
        for candidate in names {
            let key = candidate.to_lowercase();
            let held: bool = self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM article WHERE post_key = ?1)
                         OR EXISTS (SELECT 1 FROM alias WHERE name_key = ?1)",
                )?
                .query_row([&key], |r| r.get(0))?;
            if !held && !taken_on_disk(&candidate) {
                name = Some((candidate, key));
                break;
            }
        }
        // Every candidate taken is as likely as a hash collision; the article is still stored,
        // and its post waits for a name (never for an overwrite).
        let (post_name, post_key) = name.unzip();
        self.conn
            .prepare_cached(
                "INSERT INTO article (source_id, key, guid, link, title, published_ms,
                     first_seen_ms, last_seen_ms, date_ms, author, tags, categories, body, summary,
                     version_hash, post_name, post_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                source.id,
                article.key,
                article.guid,
                article.link,
                article.title,
                published_ms,
                now_ms,
                date_ms,
                source.name,
                json_list(&source.tags),
                json_list(&source.categories),
                article.body,
                summary,
                article.version_hash,
                post_name,
                post_key,
            ])?;
        let id = self.conn.last_insert_rowid();
        self.mark_pending(id)?;
        self.insert_version(id, article, now_ms)?;
        self.add_event(id, "first_seen", now_ms, None)?;
        Ok(id)
    }

    fn insert_version(&self, article_id: i64, article: &Article, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO version (article_id, hash, title, content, content_is_body,
                     content_shape, first_seen_ms, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT (article_id, hash) DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
            )?
            .execute(params![
                article_id,
                article.version_hash,
                article.title,
                // With a shape, the text is the body (migrations/0009).
                if article.raw_shape.is_some() {
                    ""
                } else {
                    article.raw_content.as_str()
                },
                article.raw_shape.is_some(),
                article.raw_shape,
                now_ms
            ])?;
        Ok(())
    }

    fn add_version(
        &self,
        id: i64,
        article: &Article,
        summary: &str,
        now_ms: i64,
    ) -> Result<Ingest> {
        // A version of before BLAKE3 with this text is this version, under its hash of now.
        if !is_legacy_version_hash(&article.version_hash) {
            let legacy_versions: bool = self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM version
                                    WHERE article_id = ?1 AND substr(hash, 1, 3) != 'b3:')",
                )?
                .query_row([id], |r| r.get(0))?;
            if legacy_versions {
                self.rehash_version(
                    id,
                    &legacy_version_hash_of(article),
                    &article.version_hash,
                    now_ms,
                )?;
            }
        }
        // The body changes before the new version is stored: the change hands the version that
        // was current its text (the trigger of migrations/0005), and the new one may then be the
        // body.
        let (known, seen): (i64, bool) = self
            .conn
            .prepare_cached(
                "SELECT count(*), coalesce(max(hash = ?2), 0) FROM version WHERE article_id = ?1",
            )?
            .query_row(params![id, article.version_hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let versions = known + i64::from(!seen);
        self.conn
            .prepare_cached(
                "UPDATE article SET title = ?2, body = ?3, summary = ?4, version_hash = ?5,
                     versions = ?6, updated_ms = ?7, last_seen_ms = ?7
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                article.title,
                article.body,
                summary,
                article.version_hash,
                versions,
                now_ms
            ])?;
        self.insert_version(id, article, now_ms)?;
        self.mark_pending(id)?;
        self.add_event(id, "changed", now_ms, Some(&article.version_hash))?;
        Ok(Ingest::Changed)
    }

    /// Gives article `id`'s version hashed `from` the hash `to` (none, should it hold a
    /// version hashed `to` already), and sees it at `now_ms`.
    fn rehash_version(&self, id: i64, from: &str, to: &str, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE OR IGNORE version SET hash = ?3, last_seen_ms = ?4
                 WHERE article_id = ?1 AND hash = ?2",
            )?
            .execute(params![id, from, to, now_ms])?;
        Ok(())
    }

    fn add_event(
        &self,
        article_id: i64,
        kind: &str,
        at_ms: i64,
        detail: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO event (article_id, kind, at_ms, detail) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![article_id, kind, at_ms, detail])?;
        Ok(())
    }

    /// Whether a post is waiting to be written: one [`Store::dirty_posts`] would give.
    pub fn has_dirty_posts(&self) -> Result<bool> {
        Ok(!self.dirty_posts(0, 1)?.is_empty())
    }

    /// Posts waiting to be written, in batches: ids above `after`, at most `limit`.
    pub fn dirty_posts(&self, after: i64, limit: usize) -> Result<Vec<PostRecord>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT a.id, a.post_name, a.title, a.link, a.published_ms, a.date_ms, a.author,
                    a.tags, a.categories, a.body, a.versions, a.updated_ms, a.gone_ms,
                    a.imported_head, a.imported_tail
             FROM post_pending p JOIN article a ON a.id = p.article_id
             WHERE p.article_id > ?1 AND a.post_name IS NOT NULL AND a.hidden_ms IS NULL
             ORDER BY p.article_id LIMIT ?2",
        )?;
        let rows = statement.query_map(params![after, limit as i64], |r| {
            Ok(PostRecord {
                id: r.get(0)?,
                post_name: r.get(1)?,
                title: r.get(2)?,
                link: r.get(3)?,
                published_ms: r.get(4)?,
                date_ms: r.get(5)?,
                author: r.get(6)?,
                tags: parse_list(&r.get::<_, String>(7)?),
                categories: parse_list(&r.get::<_, String>(8)?),
                body: text(r, 9)?,
                versions: r.get(10)?,
                updated_ms: r.get(11)?,
                gone_ms: r.get(12)?,
                imported: match (
                    r.get::<_, Option<String>>(13)?,
                    r.get::<_, Option<String>>(14)?,
                ) {
                    (Some(head), Some(tail)) => Some((head, tail)),
                    _ => None,
                },
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Notes that article `id`'s post must be (re)written.
    fn mark_pending(&self, id: i64) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO post_pending (article_id) VALUES (?1)")?
            .execute([id])?;
        Ok(())
    }

    /// Marks posts as written.
    pub fn mark_posted(&self, ids: &[i64]) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut statement =
                tx.prepare_cached("DELETE FROM post_pending WHERE article_id = ?1")?;
            for id in ids {
                statement.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The name a source is shown under.
    pub fn source_name(&self, source_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT name FROM source WHERE id = ?1")?
            .query_row([source_id], |r| r.get(0))
            .optional()?)
    }

    /// A source's latest posts, newest first (those of one moment by name, as in `search.json`).
    pub fn recent_posts(&self, source_id: &str, limit: usize) -> Result<Vec<ListItem>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT title, link, date_ms FROM article
             WHERE source_id = ?1 AND post_name IS NOT NULL AND hidden_ms IS NULL
             ORDER BY date_ms DESC, post_name DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![source_id, limit as i64], |r| {
            Ok(ListItem {
                title: r.get(0)?,
                link: r.get(1)?,
                date_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Calls `each` for every post, newest first, without holding them all in memory. The rows
    /// are lent, not copied: a walk over a large archive would spend more on copying them than
    /// on reading them. Tags and categories, the same for many posts, are parsed once per run
    /// of equal ones.
    pub fn for_each_post(
        &self,
        mut each: impl FnMut(SearchRow) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let mut statement = self.conn.prepare_cached(POSTS_SQL)?;
        let mut rows = statement.query([])?;
        let (mut tags, mut categories) = (ParsedList::default(), ParsedList::default());
        while let Some(r) = rows.next()? {
            let row = SearchRow {
                title: text_ref(r, 0)?,
                source_name: text_ref(r, 1)?,
                tags: tags.of(text_ref(r, 2)?),
                categories: categories.of(text_ref(r, 3)?),
                post_name: text_ref(r, 4)?,
                date_ms: r.get(5)?,
                summary: text_ref(r, 6)?,
            };
            if let Err(e) = each(row) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Number of articles in the store.
    pub fn article_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM article", [], |r| r.get(0))?)
    }

    /// What the fetches of a feed said so far; `None` for a feed never fetched.
    pub fn feed_health(&self, url: &str) -> Result<Option<FeedHealth>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT url, last_attempt_ms, last_success_ms, last_status, failures, last_error,
                        moved_to, failing_since_ms
                 FROM feed WHERE url = ?1",
            )?
            .query_row([url], |r| {
                Ok(FeedHealth {
                    url: r.get(0)?,
                    last_attempt_ms: r.get(1)?,
                    last_success_ms: r.get(2)?,
                    last_status: r.get(3)?,
                    failures: r.get(4)?,
                    last_error: r.get(5)?,
                    moved_to: r.get(6)?,
                    failing_since_ms: r.get(7)?,
                })
            })
            .optional()?)
    }
}

/// A feed's health: the `feed` table's record of its fetches, for `status` and for the run's
/// back-off of feeds that keep failing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHealth {
    pub url: String,
    /// When the feed was last tried, whatever came of it.
    pub last_attempt_ms: Option<i64>,
    /// When it last answered with a feed or a 304.
    pub last_success_ms: Option<i64>,
    /// HTTP status of the last answer; `None` when the last try got no answer.
    pub last_status: Option<u16>,
    /// Consecutive runs in which the feed failed; 0 after a success.
    pub failures: u32,
    /// Why the last try failed, when it did.
    pub last_error: Option<String>,
    /// Where a permanent redirect pointed, the last time the feed answered.
    pub moved_to: Option<String>,
    /// The first failed attempt of the current run of failures; `None` while the feed works.
    pub failing_since_ms: Option<i64>,
}

/// What `status` shows of one source's articles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTotals {
    /// Articles archived under the source.
    pub articles: i64,
    /// When the newest of them was first seen.
    pub last_new_ms: Option<i64>,
}

/// Counts over the whole store, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreTotals {
    pub sources: i64,
    pub feeds: i64,
    pub articles: i64,
    /// Distinct versions over all articles.
    pub versions: i64,
    /// Articles hidden from the outputs.
    pub hidden: i64,
    /// Articles whose page is gone at the source.
    pub gone: i64,
}

/// `watch`'s schedule (table `schedule`, migration 0002) and the totals `status` shows.
impl Store {
    /// When `watch` runs each source next: source id → ms since 1970.
    pub fn next_runs(&self) -> Result<std::collections::HashMap<String, i64>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT source_id, next_run_ms FROM schedule")?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that a run of `source_id` started at `ran_ms` and the next is due at `next_ms`.
    pub fn set_next_run(&self, source_id: &str, ran_ms: i64, next_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO schedule (source_id, next_run_ms, last_run_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source_id) DO UPDATE SET next_run_ms = excluded.next_run_ms,
                     last_run_ms = excluded.last_run_ms",
            )?
            .execute(params![source_id, next_ms, ran_ms])?;
        Ok(())
    }

    /// Articles of one source and when the newest was first seen.
    pub fn source_totals(&self, source_id: &str) -> Result<SourceTotals> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*), max(first_seen_ms) FROM article WHERE source_id = ?1",
            )?
            .query_row([source_id], |r| {
                Ok(SourceTotals {
                    articles: r.get(0)?,
                    last_new_ms: r.get(1)?,
                })
            })?)
    }

    /// Counts over the whole store.
    pub fn totals(&self) -> Result<StoreTotals> {
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM source), (SELECT count(*) FROM feed),
                    (SELECT count(*) FROM article), (SELECT count(*) FROM version),
                    (SELECT count(*) FROM article WHERE hidden_ms IS NOT NULL),
                    (SELECT count(*) FROM article WHERE gone_ms IS NOT NULL)",
            [],
            |r| {
                Ok(StoreTotals {
                    sources: r.get(0)?,
                    feeds: r.get(1)?,
                    articles: r.get(2)?,
                    versions: r.get(3)?,
                    hidden: r.get(4)?,
                    gone: r.get(5)?,
                })
            },
        )?)
    }
}

impl Store {
    /// Records which articles a feed carried in the body just parsed: an article that was in
    /// the feed and is no longer gets a `left_feed` event, one that comes back `back_in_feed`.
    pub fn record_presence(&self, feed_url: &str, present: &[i64], now_ms: i64) -> Result<()> {
        let before: Vec<(i64, bool)> = self
            .conn
            .prepare_cached("SELECT article_id, in_feed FROM presence WHERE feed_url = ?1")?
            .query_map([feed_url], |r| Ok((r.get(0)?, r.get::<_, bool>(1)?)))?
            .collect::<std::result::Result<_, _>>()?;
        let now: std::collections::HashSet<i64> = present.iter().copied().collect();
        let was: std::collections::HashMap<i64, bool> = before.into_iter().collect();
        for (id, in_feed) in &was {
            if *in_feed && !now.contains(id) {
                self.set_presence(feed_url, *id, false)?;
                self.add_event(*id, "left_feed", now_ms, Some(feed_url))?;
            }
        }
        for id in &now {
            match was.get(id) {
                Some(true) => {}
                Some(false) => {
                    self.set_presence(feed_url, *id, true)?;
                    self.add_event(*id, "back_in_feed", now_ms, Some(feed_url))?;
                }
                None => self.set_presence(feed_url, *id, true)?,
            }
        }
        Ok(())
    }

    fn set_presence(&self, feed_url: &str, article_id: i64, in_feed: bool) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO presence (feed_url, article_id, in_feed) VALUES (?1, ?2, ?3)
                 ON CONFLICT (feed_url, article_id) DO UPDATE SET in_feed = excluded.in_feed",
            )?
            .execute(params![feed_url, article_id, in_feed])?;
        Ok(())
    }

    /// An article's events, oldest first: (kind, at, detail).
    pub fn events(&self, article_id: i64) -> Result<Vec<(String, i64, Option<String>)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT kind, at_ms, detail FROM event WHERE article_id = ?1 ORDER BY at_ms, id",
            )?
            .query_map([article_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// A post file being imported, with what the article row does not hold.
#[derive(Debug, Clone)]
pub struct ImportedPost<'a> {
    /// Its file name under `_posts/`.
    pub name: &'a str,
    /// `name` lower-cased (`article.post_key`: names unique on any file system).
    pub name_key: &'a str,
    /// Front matter `author:` (may differ from the source).
    pub author: &'a str,
    pub date_ms: i64,
    pub published_ms: Option<i64>,
    pub summary: &'a str,
    /// The file's text before and after the body.
    pub head: &'a str,
    pub tail: &'a str,
}

/// What importing one post file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported,
    /// Already in the store: the same file imported before, or another name of an article the
    /// store holds (recorded as an alias).
    Duplicate,
    /// The file name belongs to a different article in the store.
    NameHeldByOther,
}

impl Store {
    /// Prepares the store for a bulk import, if no other connection has it open: a rollback
    /// journal instead of the write-ahead log, so each page is written once rather than to the
    /// log and again at the checkpoint, with `synchronous = FULL` so that every commit is
    /// durable and a crash leaves the last commit (the next open rolls back the rest). Returns
    /// whether it did; if not, the import goes through the log as usual.
    pub fn begin_bulk_import(&self) -> Result<bool> {
        let mode: String = match self
            .conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        {
            Ok(mode) => mode,
            // Another connection (`serve`, `status`) has the store open.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        if !mode.eq_ignore_ascii_case("delete") {
            return Ok(false);
        }
        self.conn.execute_batch("PRAGMA synchronous = FULL")?;
        Ok(true)
    }

    /// Back to the write-ahead log after [`Store::begin_bulk_import`]. Should another
    /// connection hold the store past the busy timeout, the next [`Store::open`] does it.
    pub fn end_bulk_import(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        match self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What stores imported posts, its statements prepared once for all of them.
    pub fn importer(&self) -> Result<PostImporter<'_>> {
        Ok(PostImporter {
            conn: &self.conn,
            find_key: self
                .conn
                .prepare("SELECT id, post_name FROM article WHERE source_id = ?1 AND key = ?2")?,
            add_alias: self.conn.prepare(
                "INSERT INTO alias (name, name_key, article_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?,
            find_name: self.conn.prepare(
                "SELECT id FROM article WHERE post_key = ?1
                 UNION ALL SELECT article_id FROM alias WHERE name_key = ?1",
            )?,
            add_article: self.conn.prepare(
                "INSERT INTO article (source_id, key, link, title, published_ms, first_seen_ms,
                     last_seen_ms, date_ms, author, tags, categories, body, summary, version_hash,
                     post_name, post_key, imported_head, imported_tail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                     ?15, ?16)",
            )?,
            // The content is usually the body itself: then kept once, in the article (see
            // migrations/0005_version_body.sql).
            add_version: self.conn.prepare(
                "INSERT INTO version (article_id, hash, title, content, content_is_body,
                     first_seen_ms, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            )?,
            add_events: self.conn.prepare(
                "INSERT INTO event (article_id, kind, at_ms, detail)
                 VALUES (?1, 'first_seen', ?2, NULL), (?1, 'imported', ?3, ?4)",
            )?,
        })
    }
}

/// Stores imported posts (from [`Store::importer`]).
pub struct PostImporter<'s> {
    conn: &'s Connection,
    find_key: rusqlite::Statement<'s>,
    add_alias: rusqlite::Statement<'s>,
    find_name: rusqlite::Statement<'s>,
    add_article: rusqlite::Statement<'s>,
    add_version: rusqlite::Statement<'s>,
    add_events: rusqlite::Statement<'s>,
}

impl PostImporter<'_> {
    /// Stores an imported post as an article whose post is that file, already written.
    pub fn import_post(
        &mut self,
        source: &SourceMeta,
        article: &Article,
        post: &ImportedPost<'_>,
        now_ms: i64,
    ) -> Result<ImportOutcome> {
        let existing: Option<(i64, Option<String>)> = self
            .find_key
            .query_row(params![source.id, article.key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((id, post_name)) = existing {
            if post_name.as_deref() != Some(post.name) {
                self.add_alias
                    .execute(params![post.name, post.name_key, id])?;
            }
            return Ok(ImportOutcome::Duplicate);
        }
        let holder: Option<i64> = self
            .find_name
            .query_row([post.name_key], |r| r.get(0))
            .optional()?;
        if holder.is_some() {
            return Ok(ImportOutcome::NameHeldByOther);
        }
        self.add_article.execute(params![
            source.id,
            article.key,
            article.link,
            article.title,
            post.published_ms,
            post.date_ms,
            post.author,
            json_list(&source.tags),
            json_list(&source.categories),
            article.body,
            post.summary,
            article.version_hash,
            post.name,
            post.name_key,
            post.head,
            post.tail,
        ])?;
        let id = self.conn.last_insert_rowid();
        let content_is_body = article.raw_content == article.body;
        self.add_version.execute(params![
            id,
            article.version_hash,
            article.title,
            if content_is_body {
                ""
            } else {
                &article.raw_content
            },
            content_is_body,
            post.date_ms,
        ])?;
        self.add_events
            .execute(params![id, post.date_ms, now_ms, post.name])?;
        Ok(ImportOutcome::Imported)
    }
}

impl Store {
    /// Every source's id.
    pub fn source_ids(&self) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare("SELECT id FROM source ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Marks every post to be written again (the outputs are rebuilt from the store).
    pub fn mark_all_dirty(&self) -> Result<usize> {
        Ok(self.conn.execute(
            "INSERT OR IGNORE INTO post_pending (article_id)
             SELECT id FROM article WHERE post_name IS NOT NULL",
            [],
        )?)
    }

    /// The articles `what` names, in id order: the one with that id if there is one, else
    /// those with that post file name (or alias) or that link (canonical, any source), or that
    /// had that link before they moved. A link that several sources carry names several
    /// articles.
    pub fn find_articles(&self, what: &str) -> Result<Vec<ArticleMatch>> {
        let matches = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<Vec<ArticleMatch>> {
            Ok(self
                .conn
                .prepare(sql)?
                .query_map(params, |r| {
                    Ok(ArticleMatch {
                        id: r.get(0)?,
                        source: r.get(1)?,
                    })
                })?
                .collect::<std::result::Result<_, _>>()?)
        };
        const FOUND: &str =
            "SELECT a.id, s.name FROM article a JOIN source s ON s.id = a.source_id";
        if let Ok(id) = what.parse::<i64>() {
            let found = matches(&format!("{FOUND} WHERE a.id = ?1"), &[&id])?;
            if !found.is_empty() {
                return Ok(found);
            }
        }
        let key = crate::content::url_key(what);
        matches(
            &format!(
                "{FOUND} WHERE a.id IN (
                     SELECT id FROM article WHERE post_name = ?1 OR key = ?2 OR link = ?1
                     UNION SELECT article_id FROM alias WHERE name = ?1
                     UNION SELECT article_id FROM event
                         WHERE kind = 'moved' AND substr(detail, 1, length(?3)) = ?3)
                 ORDER BY a.id"
            ),
            &[&what, &key, &format!("{what}{MOVE_ARROW}")],
        )
    }

    /// Hides an article from every output, recording when and why; one hidden already keeps
    /// its first reason and gets no second event.
    pub fn hide(&self, id: i64, reason: &str, now_ms: i64) -> Result<Hiding> {
        let post_name: Option<String> =
            self.conn
                .query_row("SELECT post_name FROM article WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
        let hidden = self.conn.execute(
            "UPDATE article SET hidden_ms = ?2, hidden_reason = ?3
             WHERE id = ?1 AND hidden_ms IS NULL",
            params![id, now_ms, reason],
        )?;
        if hidden == 0 {
            return Ok(Hiding::Already { post_name });
        }
        self.add_event(id, "hidden", now_ms, Some(reason))?;
        Ok(Hiding::Hidden { post_name })
    }

    /// The other post file names an article has (an imported archive may hold it under
    /// several), by name.
    pub fn aliases(&self, id: i64) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT name FROM alias WHERE article_id = ?1 ORDER BY name")?
            .query_map([id], |r| r.get(0))?
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Shows a hidden article again (its post is to be written). Returns false, and records
    /// nothing, when the article is not hidden.
    pub fn unhide(&self, id: i64, now_ms: i64) -> Result<bool> {
        let shown = self.conn.execute(
            "UPDATE article SET hidden_ms = NULL, hidden_reason = NULL
             WHERE id = ?1 AND hidden_ms IS NOT NULL",
            [id],
        )?;
        if shown == 0 {
            return Ok(false);
        }
        self.mark_pending(id)?;
        self.add_event(id, "unhidden", now_ms, None)?;
        Ok(true)
    }

    /// The source an article belongs to.
    pub fn article_source(&self, id: i64) -> Result<String> {
        Ok(self
            .conn
            .query_row("SELECT source_id FROM article WHERE id = ?1", [id], |r| {
                r.get(0)
            })?)
    }

    /// An article's versions, oldest first.
    pub fn versions(&self, article_id: i64) -> Result<Vec<VersionRecord>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.hash, v.title, CASE WHEN v.content_is_body THEN a.body ELSE v.content END,
                        v.first_seen_ms, v.last_seen_ms, v.content_shape
                 FROM version v JOIN article a ON a.id = v.article_id
                 WHERE v.article_id = ?1 ORDER BY v.first_seen_ms, v.id",
            )?
            .query_map([article_id], |r| {
                Ok(VersionRecord {
                    hash: r.get(0)?,
                    title: r.get(1)?,
                    content: version_content(r, article_id, 2, 5)?,
                    first_seen_ms: r.get(3)?,
                    last_seen_ms: r.get(4)?,
                })
            })?
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Calls `each` for every version of every article, with its article's identity, without
    /// holding them in memory (for `export jsonl`).
    pub fn for_each_version(
        &self,
        mut each: impl FnMut(&ExportRow) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let mut statement = self.conn.prepare(
            "SELECT a.id, a.source_id, a.key, a.guid, a.link, a.post_name, a.published_ms,
                    v.hash, v.title, CASE WHEN v.content_is_body THEN a.body ELSE v.content END,
                    v.first_seen_ms, v.last_seen_ms, a.gone_ms,
                    a.hidden_ms, v.content_shape
             FROM version v JOIN article a ON a.id = v.article_id ORDER BY a.id, v.id",
        )?;
        let mut rows = statement.query([])?;
        while let Some(r) = rows.next()? {
            let row = ExportRow {
                article_id: r.get(0)?,
                source: r.get(1)?,
                key: r.get(2)?,
                guid: r.get(3)?,
                link: r.get(4)?,
                post_name: r.get(5)?,
                published_ms: r.get(6)?,
                hash: r.get(7)?,
                title: r.get(8)?,
                content: version_content(r, r.get(0)?, 9, 14)?,
                first_seen_ms: r.get(10)?,
                last_seen_ms: r.get(11)?,
                gone_ms: r.get(12)?,
                hidden_ms: r.get(13)?,
            };
            if let Err(e) = each(&row) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}

/// What checking an article's page found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageState {
    /// The page answers.
    Online,
    /// 404, 410, or a redirect to a section or home page: the reason.
    Gone(String),
    /// No answer worth a verdict (timeout, 5xx): nothing recorded but the attempt.
    Unknown,
}

impl Store {
    /// Articles to check, the least recently checked first: (id, link).
    pub fn check_candidates(
        &self,
        since_ms: Option<i64>,
        source_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, link FROM article
                 WHERE hidden_ms IS NULL AND (link LIKE 'http://%' OR link LIKE 'https://%')
                   AND date_ms >= ?1 AND (?2 IS NULL OR source_id = ?2)
                 ORDER BY coalesce(checked_ms, 0), id LIMIT ?3",
            )?
            .query_map(
                params![since_ms.unwrap_or(i64::MIN), source_id, limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Records a check of an article's page; returns whether its state changed (gone, or back).
    pub fn record_check(&self, id: i64, state: &PageState, now_ms: i64) -> Result<bool> {
        let gone: Option<i64> =
            self.conn
                .query_row("SELECT gone_ms FROM article WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
        self.conn.execute(
            "UPDATE article SET checked_ms = ?2 WHERE id = ?1",
            params![id, now_ms],
        )?;
        match (state, gone) {
            (PageState::Gone(reason), None) => {
                self.conn.execute(
                    "UPDATE article SET gone_ms = ?2 WHERE id = ?1",
                    params![id, now_ms],
                )?;
                self.mark_pending(id)?;
                self.add_event(id, "gone", now_ms, Some(reason))?;
                Ok(true)
            }
            (PageState::Online, Some(_)) => {
                self.conn
                    .execute("UPDATE article SET gone_ms = NULL WHERE id = ?1", [id])?;
                self.mark_pending(id)?;
                self.add_event(id, "back", now_ms, None)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl Store {
    /// Articles of a source still waiting for their full text (fewer than `max_tries` failed
    /// attempts), newest first: (id, link).
    pub fn fulltext_pending(
        &self,
        source_id: &str,
        max_tries: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, link FROM article
                 WHERE source_id = ?1 AND fulltext IS NULL AND fulltext_tries < ?2
                   AND imported_head IS NULL AND hidden_ms IS NULL
                   AND (link LIKE 'http://%' OR link LIKE 'https://%')
                 ORDER BY date_ms DESC LIMIT ?3",
            )?
            .query_map(params![source_id, max_tries, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Records an article's full text and the body derived from it; the post is rewritten.
    pub fn set_fulltext(&self, id: i64, fulltext: &str, body: &str, summary: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE article SET fulltext = ?2, body = ?3, summary = ?4, fulltext_error = NULL
                 WHERE id = ?1",
            )?
            .execute(params![id, fulltext, body, summary])?;
        self.mark_pending(id)
    }

    /// Records a failed attempt at an article's full text; it keeps the feed's content.
    pub fn fulltext_failed(&self, id: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE article SET fulltext_tries = fulltext_tries + 1, fulltext_error = ?2
                 WHERE id = ?1",
            )?
            .execute(params![id, error])?;
        Ok(())
    }
}

impl Store {
    /// Calls `each(id, link, content as fetched, full text)` for every article of a source
    /// that was fetched (imported posts keep their archived text), for `reprocess`.
    pub fn for_each_fetched(
        &self,
        source_id: &str,
        mut each: impl FnMut(i64, &str, &str, Option<&str>) -> Result<()>,
    ) -> Result<()> {
        let mut statement = self.conn.prepare(
            "SELECT a.id, a.link, CASE WHEN v.content_is_body THEN a.body ELSE v.content END,
                    a.fulltext, v.content_shape FROM article a
             JOIN version v ON v.article_id = a.id AND v.hash = a.version_hash
             WHERE a.source_id = ?1 AND a.imported_head IS NULL ORDER BY a.id",
        )?;
        let mut rows = statement.query([source_id])?;
        while let Some(r) = rows.next()? {
            let content = version_content(r, r.get(0)?, 2, 4)?;
            let fulltext: Option<String> = r.get(3)?;
            each(
                r.get(0)?,
                &r.get::<_, String>(1)?,
                &content,
                fulltext.as_deref(),
            )?;
        }
        Ok(())
    }

    /// Sets an article's derived body (rules re-applied: no version is added); the post is
    /// rewritten when the body changed. Returns whether it did.
    pub fn set_body(&self, id: i64, body: &str, summary: &str) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE article SET body = ?2, summary = ?3 WHERE id = ?1 AND body <> ?2",
            )?
            .execute(params![id, body, summary])?
            > 0;
        if changed {
            self.mark_pending(id)?;
        }
        Ok(changed)
    }
}

impl Store {
    /// Articles of a source whose images are not all local yet (fewer than `max_tries` failed
    /// rounds), newest first: (id, link, body).
    pub fn images_pending(
        &self,
        source_id: &str,
        max_tries: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String, String)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, link, body FROM article
                 WHERE source_id = ?1 AND images_done = 0 AND image_tries < ?2
                   AND imported_head IS NULL AND hidden_ms IS NULL
                 ORDER BY date_ms DESC LIMIT ?3",
            )?
            .query_map(params![source_id, max_tries, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<std::result::Result<_, _>>()?)
    }

    /// The archive file of an image already downloaded.
    pub fn image_file(&self, url: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT file FROM image WHERE url = ?1")?
            .query_row([url], |r| r.get(0))
            .optional()?)
    }

    pub fn record_image(&self, url: &str, file: &str, bytes: u64, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO image (url, file, bytes, fetched_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (url) DO NOTHING",
            )?
            .execute(params![url, file, bytes as i64, now_ms])?;
        Ok(())
    }

    /// Records a round of image downloads for an article: its body with the local images,
    /// and whether every image is local now.
    pub fn images_round(&self, id: i64, body: &str, all_local: bool) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO post_pending (article_id)
                 SELECT id FROM article WHERE id = ?1 AND body <> ?2",
            )?
            .execute(params![id, body])?;
        self.conn
            .prepare_cached(
                "UPDATE article SET body = ?2, images_done = ?3, image_tries = image_tries + (1 - ?3)
                 WHERE id = ?1",
            )?
            .execute(params![id, body, all_local as i64])?;
        Ok(())
    }
}

/// One version of an article, as stored.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub hash: String,
    pub title: String,
    pub content: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// An article that `hide`, `unhide` or `history` was pointed at, with its source's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleMatch {
    pub id: i64,
    pub source: String,
}

/// One line of `export jsonl`: a version with its article's identity.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportRow {
    pub article_id: i64,
    pub source: String,
    pub key: String,
    pub guid: Option<String>,
    pub link: String,
    pub post_name: Option<String>,
    pub published_ms: Option<i64>,
    pub hash: String,
    pub title: String,
    pub content: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub gone_ms: Option<i64>,
    pub hidden_ms: Option<i64>,
}

/// Copies and checks, for `newsvault backup` and the crash test.
impl Store {
    /// Writes a consistent copy of the store to `dest` with `VACUUM INTO`: the state of the last
    /// commit, read in one read transaction, so a run writing meanwhile (WAL) neither blocks it
    /// nor shows through half done. `dest` must not exist; the copy is compact and needs no WAL.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        self.conn
            .execute("VACUUM INTO ?1", [dest.to_string_lossy()])?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check`: `["ok"]` for a sound file, else the problems found.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut statement = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

/// An article as the HTML site and the search index show it (`publish::site`, `search`).
#[derive(Debug, Clone)]
pub struct ArticleRecord {
    pub id: i64,
    pub source_id: String,
    /// The source's current name (`source.name`), not the name at first sight.
    pub source_name: String,
    pub title: String,
    pub link: String,
    /// The body after the source's content rules; the site sanitises it again.
    pub body: String,
    pub published_ms: Option<i64>,
    pub first_seen_ms: i64,
    /// min(published, first seen): where the article sorts and which day it belongs to.
    pub date_ms: i64,
    pub versions: i64,
    pub updated_ms: Option<i64>,
    pub gone_ms: Option<i64>,
    /// Bumped by the store whenever anything above but the source's name changes.
    pub revision: i64,
}

/// Reading for the HTML site and the search index.
impl Store {
    /// Calls `each` for every article not hidden, newest first, without holding them all in
    /// memory. An error from `each` stops the walk and is returned inside.
    pub fn for_each_article<E>(
        &self,
        each: impl FnMut(ArticleRecord) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        self.walk_articles(true, each)
    }

    /// [`Store::for_each_article`] with every `body` left empty: a walk that decides by
    /// [`ArticleRecord::revision`] which bodies it needs ([`Store::article_body`]) costs what the
    /// articles' metadata costs, not what their text does.
    pub fn for_each_article_without_body<E>(
        &self,
        each: impl FnMut(ArticleRecord) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        self.walk_articles(false, each)
    }

    fn walk_articles<E>(
        &self,
        with_body: bool,
        mut each: impl FnMut(ArticleRecord) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        // A walk with bodies reads every article's row once, in date order: the page cache would
        // only fill with pages the walk does not read again (16 MB of them for a large archive).
        let _cache = if with_body {
            Some(SmallCache::new(&self.conn)?)
        } else {
            None
        };
        let mut statement = self.conn.prepare(&walk_sql(with_body))?;
        let mut rows = statement.query([])?;
        while let Some(r) = rows.next()? {
            let record = ArticleRecord {
                id: r.get(0)?,
                source_id: r.get(1)?,
                source_name: r.get(2)?,
                title: r.get(3)?,
                link: r.get(4)?,
                body: text(r, 5)?,
                published_ms: r.get(6)?,
                first_seen_ms: r.get(7)?,
                date_ms: r.get(8)?,
                versions: r.get(9)?,
                updated_ms: r.get(10)?,
                gone_ms: r.get(11)?,
                revision: r.get(12)?,
            };
            if let Err(e) = each(record) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// The body of article `id` (empty when there is no such article).
    pub fn article_body(&self, id: i64) -> Result<String> {
        Ok(self
            .conn
            .prepare_cached("SELECT body FROM article WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
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

/// A list column (JSON text) parsed, and parsed again only when the text differs from the last.
#[derive(Default)]
struct ParsedList {
    text: String,
    items: Vec<String>,
}

impl ParsedList {
    fn of(&mut self, text: &str) -> &[String] {
        if self.text != text {
            self.text = text.to_owned();
            self.items = parse_list(text);
        }
        &self.items
    }
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

/// A connection's page cache at [`SmallCache::KIB`] until dropped, then as it was.
struct SmallCache<'a> {
    conn: &'a Connection,
    before: i64,
}

impl<'a> SmallCache<'a> {
    const KIB: i64 = 2048;

    fn new(conn: &'a Connection) -> Result<SmallCache<'a>> {
        let before = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        conn.execute_batch(&format!("PRAGMA cache_size = -{}", Self::KIB))?;
        Ok(SmallCache { conn, before })
    }
}

impl Drop for SmallCache<'_> {
    fn drop(&mut self) {
        // Only a size: if it could not be set back, the connection is merely slower.
        let _ = self
            .conn
            .execute_batch(&format!("PRAGMA cache_size = {}", self.before));
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
mod version_body_tests {
    use super::tests::store_at_version;
    use super::*;

    fn article(raw_content: &str, body: &str) -> Article {
        Article {
            key: format!("url:https://e.com/{raw_content}"),
            guid: None,
            link: format!("https://e.com/{raw_content}"),
            link_from_item: true,
            title: "T".into(),
            published: None,
            authors: vec![],
            categories: vec![],
            raw_content: raw_content.into(),
            raw_shape: None,
            body: body.into(),
            version_hash: format!("h-{raw_content}"),
        }
    }

    /// Stores written before version hashes were BLAKE3 hold SHA-256 ones. An article seen
    /// again as it was is unchanged (and its hash brought up to date); one that goes back to a
    /// text it had adds no version.
    #[test]
    fn versions_hashed_before_blake3_are_known_again() {
        use crate::content::{join_lines, legacy_version_hash, version_hash};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let source = test_source(&store);
        let text = |raw: &str, legacy: bool| {
            let mut article = Article {
                key: "guid:g-1".into(),
                ..article(raw, raw)
            };
            let hash = if legacy {
                legacy_version_hash
            } else {
                version_hash
            };
            article.version_hash = hash(&article.title, &join_lines(raw));
            article
        };
        let ingest = |article: &Article, at: i64| {
            store
                .ingest(&source, article, "", ["a.md".to_string()], &|_| false, at)
                .unwrap()
        };
        let stored = |id: i64| -> (String, i64) {
            store
                .conn
                .query_row(
                    "SELECT version_hash, versions FROM article WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap()
        };
        let hashes = |id: i64| -> Vec<String> {
            store
                .versions(id)
                .unwrap()
                .into_iter()
                .map(|v| v.hash)
                .collect()
        };

        // What a store of before held: text A, then B, hashed with SHA-256.
        let id = ingest(&text("<p>A</p>\n", true), 1).id;
        assert_eq!(
            ingest(&text("<p>B</p>\n", true), 2).outcome,
            Ingest::Changed
        );

        let b = text("<p>B</p>\n", false);
        assert_eq!(ingest(&b, 3).outcome, Ingest::Unchanged);
        assert_eq!(stored(id), (b.version_hash.clone(), 2));
        let a_then = text("<p>A</p>\n", true).version_hash;
        assert_eq!(hashes(id), [a_then, b.version_hash.clone()]);
        assert_eq!(store.versions(id).unwrap()[1].last_seen_ms, 3);

        let a = text("<p>A</p>\n", false);
        assert_eq!(ingest(&a, 4).outcome, Ingest::Changed);
        assert_eq!(stored(id), (a.version_hash.clone(), 2));
        assert_eq!(hashes(id), [a.version_hash.clone(), b.version_hash.clone()]);
        assert_eq!(ingest(&a, 5).outcome, Ingest::Unchanged);
        assert_eq!(ingest(&b, 6).outcome, Ingest::Changed);
        assert_eq!(stored(id).1, 2);
    }

    /// An item that stops giving a link of its own shows the feed's link, which is no address
    /// of the article: it moves nothing. One that gives a link again, to another page, moves it.
    #[test]
    fn only_a_link_of_the_items_own_moves_an_article() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let source = test_source(&store);
        let names = || ["a.md".to_string()];
        let first = Article {
            key: "guid:g-1".into(),
            ..article("a", "<p>a</p>")
        };
        let ingest = |article: &Article, at: i64| {
            store
                .ingest(&source, article, "", names(), &|_| false, at)
                .unwrap()
        };
        let id = ingest(&first, 1).id;
        let lent = Article {
            link: "https://e.com/".into(),
            link_from_item: false,
            ..first.clone()
        };
        assert!(!ingest(&lent, 2).moved);
        let moved = Article {
            link: "https://e.com/b".into(),
            ..first.clone()
        };
        let again = ingest(&moved, 3);
        assert_eq!((again.outcome, again.moved), (Ingest::Unchanged, true));
        let events: Vec<(String, Option<String>)> = store
            .events(id)
            .unwrap()
            .into_iter()
            .map(|(kind, _, detail)| (kind, detail))
            .collect();
        assert_eq!(
            events,
            [
                ("first_seen".to_string(), None),
                (
                    "moved".to_string(),
                    Some("https://e.com/a -> https://e.com/b".to_string())
                ),
            ]
        );
    }

    /// Every version's content as `export jsonl` gives it, in its order.
    fn exported_contents(store: &Store) -> Vec<String> {
        let mut all = vec![];
        store
            .for_each_version(|row| {
                all.push(row.content.clone());
                Ok(())
            })
            .unwrap()
            .unwrap();
        all
    }

    fn import(store: &Store, article: &Article, name: &str) -> i64 {
        let source = test_source(store);
        let post = ImportedPost {
            name,
            name_key: name,
            author: "S",
            date_ms: 1,
            published_ms: None,
            summary: "",
            head: "",
            tail: "",
        };
        let outcome = store
            .importer()
            .unwrap()
            .import_post(&source, article, &post, 2)
            .unwrap();
        assert_eq!(outcome, ImportOutcome::Imported);
        store
            .conn
            .query_row("SELECT id FROM article WHERE post_name = ?1", [name], |r| {
                r.get(0)
            })
            .unwrap()
    }

    fn content(store: &Store, id: i64) -> String {
        store.versions(id).unwrap().remove(0).content
    }

    fn stored(store: &Store, id: i64) -> (String, i64) {
        store
            .conn
            .query_row(
                "SELECT content, content_is_body FROM version WHERE article_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    /// A `verbatim` article's feed content is its body with white space and line breaks put
    /// back: the store keeps the text once, with the shape, and gives every version back as the
    /// feed sent it, through edits and changes of the body.
    #[test]
    fn a_verbatim_version_is_kept_as_its_body_and_shape() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let source = test_source(&store);
        let names = || ["v.md".to_string()];
        let sent = |raw: &str, hash: &str| {
            let (body, shape) = crate::content::lines::join_keeping_shape(raw);
            Article {
                key: "url:https://e.com/v".into(),
                link: "https://e.com/v".into(),
                link_from_item: true,
                raw_shape: Some(shape),
                version_hash: hash.into(),
                ..article(raw, &body)
            }
        };
        let first = "<div>\n  <p>一</p>\n</div>\n";
        let edited = "<div>\n\t<p>一，改</p>\r\n</div>";
        let shapes = |id: i64| -> Vec<(String, i64, Option<String>)> {
            store
                .conn
                .prepare(
                    "SELECT content, content_is_body, content_shape FROM version
                          WHERE article_id = ?1 ORDER BY id",
                )
                .unwrap()
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let contents = |id: i64| -> Vec<String> {
            store
                .versions(id)
                .unwrap()
                .into_iter()
                .map(|v| v.content)
                .collect()
        };
        let exported = || exported_contents(&store);
        let fetched = || {
            let mut all = vec![];
            store
                .for_each_fetched("s", |_, _, content, _| {
                    all.push(content.to_string());
                    Ok(())
                })
                .unwrap();
            all
        };

        let Ingested { outcome, id, .. } = store
            .ingest(&source, &sent(first, "h1"), "", names(), &|_| false, 1)
            .unwrap();
        assert_eq!(outcome, Ingest::New);
        let stored = shapes(id);
        assert_eq!(
            (stored[0].0.as_str(), stored[0].1),
            ("", 1),
            "the text twice"
        );
        assert!(stored[0].2.is_some());
        assert_eq!(contents(id), [first]);
        assert_eq!(exported(), [first]);
        assert_eq!(fetched(), [first]);

        let outcome = store
            .ingest(&source, &sent(edited, "h2"), "", names(), &|_| false, 2)
            .unwrap()
            .outcome;
        assert_eq!(outcome, Ingest::Changed);
        assert_eq!(contents(id), [first, edited]);
        assert_eq!(exported(), [first, edited]);
        assert_eq!(fetched(), [edited]);
        let stored = shapes(id);
        assert_eq!(stored[0].0, "<div><p>一</p></div>", "the first body, kept");
        assert_eq!((stored[1].0.as_str(), stored[1].1), ("", 1));

        // The title changes, and only the white space of the text: the body stays, so two
        // versions are that body at once, each with its own shape.
        let retitled = Article {
            title: "T2".into(),
            ..sent(&edited.replace('\t', "  "), "h3")
        };
        let outcome = store
            .ingest(&source, &retitled, "", names(), &|_| false, 3)
            .unwrap()
            .outcome;
        assert_eq!(outcome, Ingest::Changed);
        let respaced = retitled.raw_content.as_str();
        assert_eq!(contents(id), [first, edited, respaced]);
        let bodies = shapes(id)
            .iter()
            .filter(|(_, is_body, _)| *is_body == 1)
            .count();
        assert_eq!(bodies, 2);

        // The body changes under the current versions (rules re-applied), then the source goes
        // back to its first text.
        assert!(store.set_body(id, "<p>cleaned</p>", "c").unwrap());
        assert_eq!(contents(id), [first, edited, respaced]);
        let outcome = store
            .ingest(&source, &sent(first, "h1"), "", names(), &|_| false, 4)
            .unwrap()
            .outcome;
        assert_eq!(outcome, Ingest::Changed);
        assert_eq!(contents(id), [first, edited, respaced]);
        assert_eq!(fetched(), [first]);
        let versions: i64 = store
            .conn
            .query_row("SELECT versions FROM article WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(versions, 3);

        // A shape that does not fit its text (a store edited by hand) is an error, not a guess.
        store
            .conn
            .execute(
                "UPDATE version SET content_shape = '[1]' WHERE article_id = ?1",
                [id],
            )
            .unwrap();
        let error = store.versions(id).unwrap_err().to_string();
        assert!(error.contains("does not fit"), "{error}");
        assert!(error.contains(&format!("article {id}")), "{error}");
    }

    #[test]
    fn a_version_4_store_upgrades_and_keeps_its_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        store_at_version(
            &path,
            4,
            "INSERT INTO version (article_id, hash, title, content, first_seen_ms, last_seen_ms)
             VALUES (1, 'h', 'T', '<p>raw</p>', 1, 1);",
        );
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(content(&store, 1), "<p>raw</p>");
        assert!(store.set_body(1, "<p>c</p>", "c").unwrap());
        assert_eq!(stored(&store, 1), ("<p>raw</p>".into(), 0));
    }

    #[test]
    fn an_imported_body_is_stored_once_and_kept_when_the_body_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let same = import(&store, &article("<p>a</p>", "<p>a</p>"), "a.md");
        assert_eq!(stored(&store, same), (String::new(), 1));
        assert_eq!(content(&store, same), "<p>a</p>");
        assert_eq!(exported_contents(&store), ["<p>a</p>"]);

        // The original's `null` before the body: the content differs, and is stored as is.
        let null = import(&store, &article(" <p>n</p>", "null <p>n</p>"), "n.md");
        assert_eq!(stored(&store, null), (" <p>n</p>".into(), 0));

        // Any writer changing the body (rules re-applied here) leaves the version its text.
        assert!(store.set_body(same, "<p>a, cleaned</p>", "a").unwrap());
        assert_eq!(stored(&store, same), ("<p>a</p>".into(), 0));
        assert_eq!(content(&store, same), "<p>a</p>");
        assert_eq!(stored(&store, null), (" <p>n</p>".into(), 0));

        // A feed brings an edited version of an imported post.
        let again = import(&store, &article("<p>e</p>", "<p>e</p>"), "e.md");
        let mut edited = article("<p>e</p>", "<p>e, edited</p>");
        edited.raw_content = "<p>e, edited</p>".into();
        edited.version_hash = "h-edited".into();
        let source = test_source(&store);
        let names = || ["e.md".to_string()];
        let Ingested { outcome, id, .. } = store
            .ingest(&source, &edited, "", names(), &|_| false, 3)
            .unwrap();
        assert_eq!((outcome, id), (Ingest::Changed, again));
        let versions: Vec<String> = store
            .versions(again)
            .unwrap()
            .into_iter()
            .map(|v| v.content)
            .collect();
        assert_eq!(versions, ["<p>e</p>", "<p>e, edited</p>"]);
    }
}
