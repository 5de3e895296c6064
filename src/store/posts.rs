//! What the Jekyll tree is written from: the posts still to write, the list pages' latest
//! posts, and search.json's walk over every post.

use super::*;

impl Store {
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
    pub(super) fn mark_pending(&self, id: i64) -> Result<()> {
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
