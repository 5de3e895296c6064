//! Sources and their feeds: what a fetch left for the next one, the health `status` shows and
//! the run backs off by, which articles each feed carried, `watch`'s schedule and the totals.

use super::*;

impl Store {
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
