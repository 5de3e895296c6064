//! Ingesting: an article new, unchanged or a new version of one already archived, with its
//! name, its versions and its events.

use super::*;

impl Store {
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
            None => match self.find_under_earlier_key(source, article)? {
                Some(found) => Some(found),
                None => self.adopt_imported(source, article)?,
            },
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
        } else if self.is_imported_as(id, article)? {
            // Known only from its post until now, and the post shows this very item: the
            // imported version is this one, under the feed's hash from now on.
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

    /// Whether article `id` is known only from an imported post (its one version) and that post
    /// shows `article`'s title and body. An import hashes the post's body, as that is all it
    /// has; a feed's item is hashed by its content, which differs from the body when the
    /// source's content is cleaned (the white space between paragraphs, a script taken out).
    fn is_imported_as(&self, id: i64, article: &Article) -> Result<bool> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT title = ?2 AND body = ?3 FROM article
                 WHERE id = ?1 AND imported_head IS NOT NULL AND versions = 1",
            )?
            .query_row(params![id, article.title, article.body], |r| r.get(0))
            .optional()?;
        Ok(found.unwrap_or(false))
    }

    /// Moves article `id`, known at `link`, to the item's own link when that leads to another
    /// page ([`crate::content::page_address`]: a link that differs only in its parameters is no
    /// move); the `moved` event says `<from> -> <to>`. A link the item does not give (the
    /// feed's, fallen back to) or a relative one moves nothing, and neither does an address the
    /// article had before: two feeds of a source that spell one article's link differently would
    /// otherwise move it to and fro every run, as they answer in one order or the other.
    fn follow_link(&self, id: i64, link: &str, article: &Article, now_ms: i64) -> Result<bool> {
        use crate::content::page_address;
        let to = page_address(&article.link);
        // A link that stayed relative (a feed read without a web address) leads nowhere sure.
        let relative = url::Url::parse(&article.link).is_err();
        if !article.link_from_item || relative || to == page_address(link) {
            return Ok(false);
        }
        // Stored relative (by a newsvault of before, which did not resolve it), the link is
        // now what it always meant: no move, though the post now shows the whole address.
        if url::Url::parse(link).is_err() {
            self.conn
                .prepare_cached("UPDATE article SET link = ?2 WHERE id = ?1")?
                .execute(params![id, article.link])?;
            self.mark_pending(id)?;
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

    /// The item's article stored under one of its [`Article::earlier_keys`]: the first whose
    /// article's link or guid is the item's own (a key of before may be the key of several
    /// items' articles, and only one of them is there). It takes the item's key when the
    /// earlier key says so.
    fn find_under_earlier_key(
        &self,
        source: &SourceMeta,
        article: &Article,
    ) -> Result<Option<(i64, String, String)>> {
        use crate::content::url_key;
        for earlier in &article.earlier_keys {
            let found: Option<(i64, String, String, Option<String>)> = self
                .conn
                .prepare_cached(
                    "SELECT id, version_hash, link, guid FROM article
                     WHERE source_id = ?1 AND key = ?2",
                )?
                .query_row(params![source.id, earlier.key], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let Some((id, hash, link, guid)) = found else {
                continue;
            };
            let its_own = url_key(&link) == earlier.held_by
                || guid.is_some_and(|guid| url_key(&guid) == earlier.held_by);
            if !its_own {
                continue;
            }
            if earlier.rekey {
                self.conn
                    .prepare_cached("UPDATE article SET key = ?2 WHERE id = ?1")?
                    .execute(params![id, article.key])?;
            }
            return Ok(Some((id, hash, link)));
        }
        Ok(None)
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

    pub(super) fn add_event(
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
}
