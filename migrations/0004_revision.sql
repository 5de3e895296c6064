-- newsvault store, schema version 4: a revision per article, counting the changes to what its
-- pages and its search entry show, so `build` and the search index find what changed without
-- reading every body. Kept by a trigger, so no writer can forget it.
ALTER TABLE article ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER article_revision
AFTER UPDATE OF source_id, title, link, body, published_ms, first_seen_ms, date_ms, versions,
    updated_ms, gone_ms, hidden_ms ON article
WHEN OLD.source_id IS NOT NEW.source_id
    OR OLD.title IS NOT NEW.title
    OR OLD.link IS NOT NEW.link
    OR OLD.body IS NOT NEW.body
    OR OLD.published_ms IS NOT NEW.published_ms
    OR OLD.first_seen_ms IS NOT NEW.first_seen_ms
    OR OLD.date_ms IS NOT NEW.date_ms
    OR OLD.versions IS NOT NEW.versions
    OR OLD.updated_ms IS NOT NEW.updated_ms
    OR OLD.gone_ms IS NOT NEW.gone_ms
    OR OLD.hidden_ms IS NOT NEW.hidden_ms
BEGIN
    UPDATE article SET revision = revision + 1 WHERE id = NEW.id;
END;
