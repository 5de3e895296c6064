-- newsvault store, schema version 7: the walk index of version 6 also serves search.json, which
-- every run that writes posts rewrites from every post: it gains the post name, tags, categories
-- and summary, so that walk reads it alone too. An index only: no data changes.
DROP INDEX IF EXISTS article_walk;
CREATE INDEX article_walk ON article (
    date_ms DESC, id DESC, source_id, title, link, published_ms, first_seen_ms, versions,
    updated_ms, gone_ms, revision, hidden_ms, post_name, tags, categories, summary
) WHERE hidden_ms IS NULL;
