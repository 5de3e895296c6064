//! What people do to the archive by hand and read back: finding articles, hiding and
//! unhiding them, their versions, export, backups.

use super::*;

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

    /// Marks the post of every shown article with an id above `after` to be written: what an
    /// import from another folder brought in. Returns how many.
    pub fn mark_dirty_after(&self, after: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "INSERT OR IGNORE INTO post_pending (article_id)
             SELECT id FROM article
             WHERE id > ?1 AND post_name IS NOT NULL AND hidden_ms IS NULL",
            [after],
        )?)
    }

    /// The highest article id so far (0 for an empty store): ids only grow.
    pub fn last_article_id(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(id), 0) FROM article", [], |r| r.get(0))?)
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
