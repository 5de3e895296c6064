//! The walks over every article that the HTML site and the search index read.

use super::*;

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

/// An [`ArticleRecord`] as a walk lends it, its texts borrowed from the row: for a walk that
/// keeps few of the articles it reads (the search index's update keeps those that changed).
#[derive(Debug, Clone, Copy)]
pub struct ArticleRow<'r> {
    pub id: i64,
    pub source_id: &'r str,
    pub source_name: &'r str,
    pub title: &'r str,
    pub link: &'r str,
    pub body: &'r str,
    pub published_ms: Option<i64>,
    pub first_seen_ms: i64,
    pub date_ms: i64,
    pub versions: i64,
    pub updated_ms: Option<i64>,
    pub gone_ms: Option<i64>,
    pub revision: i64,
}

impl ArticleRow<'_> {
    pub fn to_record(&self) -> ArticleRecord {
        ArticleRecord {
            id: self.id,
            source_id: self.source_id.to_owned(),
            source_name: self.source_name.to_owned(),
            title: self.title.to_owned(),
            link: self.link.to_owned(),
            body: self.body.to_owned(),
            published_ms: self.published_ms,
            first_seen_ms: self.first_seen_ms,
            date_ms: self.date_ms,
            versions: self.versions,
            updated_ms: self.updated_ms,
            gone_ms: self.gone_ms,
            revision: self.revision,
        }
    }
}

impl ArticleRecord {
    pub fn lend(&self) -> ArticleRow<'_> {
        ArticleRow {
            id: self.id,
            source_id: &self.source_id,
            source_name: &self.source_name,
            title: &self.title,
            link: &self.link,
            body: &self.body,
            published_ms: self.published_ms,
            first_seen_ms: self.first_seen_ms,
            date_ms: self.date_ms,
            versions: self.versions,
            updated_ms: self.updated_ms,
            gone_ms: self.gone_ms,
            revision: self.revision,
        }
    }
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

    /// [`Store::for_each_article_without_body`], each article lent ([`ArticleRow`]) rather than
    /// copied out of the row.
    pub fn for_each_article_row_without_body<E>(
        &self,
        each: impl FnMut(&ArticleRow<'_>) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        self.walk_rows(false, each)
    }

    fn walk_articles<E>(
        &self,
        with_body: bool,
        mut each: impl FnMut(ArticleRecord) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        self.walk_rows(with_body, |row| each(row.to_record()))
    }

    fn walk_rows<E>(
        &self,
        with_body: bool,
        mut each: impl FnMut(&ArticleRow<'_>) -> std::result::Result<(), E>,
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
            let row = ArticleRow {
                id: r.get(0)?,
                source_id: text_ref(r, 1)?,
                source_name: text_ref(r, 2)?,
                title: text_ref(r, 3)?,
                link: text_ref(r, 4)?,
                body: text_ref(r, 5)?,
                published_ms: r.get(6)?,
                first_seen_ms: r.get(7)?,
                date_ms: r.get(8)?,
                versions: r.get(9)?,
                updated_ms: r.get(10)?,
                gone_ms: r.get(11)?,
                revision: r.get(12)?,
            };
            if let Err(e) = each(&row) {
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

/// A connection's page cache at [`SmallCache::KIB`] until dropped, then as it was.
pub(super) struct SmallCache<'a> {
    conn: &'a Connection,
    before: i64,
}

impl<'a> SmallCache<'a> {
    pub(super) const KIB: i64 = 2048;

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
