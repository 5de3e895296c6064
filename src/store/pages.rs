//! The articles' pages at the source: `check` (gone or not), `fulltext`, bodies derived again,
//! and images kept locally.

use super::*;

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

    /// Sets an article's derived body and summary (rules re-applied: no version is added); the
    /// post, the lists and search.json are rewritten when either changed. Returns whether one
    /// did.
    pub fn set_body(&self, id: i64, body: &str, summary: &str) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE article SET body = ?2, summary = ?3
                 WHERE id = ?1 AND (body <> ?2 OR summary IS NOT ?3)",
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
