//! `import`: posts of an existing Jekyll archive stored as articles, through a rollback journal.

use super::*;

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
    /// A file of that name that the store does not know is where the post would be written.
    NameOnDisk,
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
                "SELECT post_name, link FROM article WHERE post_key = ?1
                 UNION ALL SELECT alias.name, article.link FROM alias
                     JOIN article ON article.id = alias.article_id
                 WHERE alias.name_key = ?1",
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
    /// Stores an imported post as an article whose post is that file, already written. A new
    /// article's name that `taken_on_disk` reports as a file already there (in the archive's
    /// `_posts/`, when the posts are read from elsewhere) is not taken: that file is not the
    /// store's to write over.
    pub fn import_post(
        &mut self,
        source: &SourceMeta,
        article: &Article,
        post: &ImportedPost<'_>,
        taken_on_disk: &dyn Fn(&str) -> bool,
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
        let holder: Option<(Option<String>, String)> = self
            .find_name
            .query_row([post.name_key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match holder {
            // This very file name is an article's post (or other name) already, with the link
            // the post shows: the same article, though read from the post it has another
            // identity (an item without link or guid is known by a hash of the feed's text,
            // which a post does not keep).
            Some((Some(name), link)) if name == post.name && link == article.link => {
                return Ok(ImportOutcome::Duplicate);
            }
            Some(_) => return Ok(ImportOutcome::NameHeldByOther),
            None => {}
        }
        if taken_on_disk(post.name) {
            return Ok(ImportOutcome::NameOnDisk);
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
