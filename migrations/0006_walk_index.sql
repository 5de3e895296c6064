-- newsvault store, schema version 6: the walk of `build` and of the search index (every shown
-- article, newest first, without its body) reads this index alone instead of every article row,
-- each of which holds a body several kilobytes long. `hidden_ms` is in it, always NULL, so that
-- the index covers the walk's condition too. Additive only.
CREATE INDEX article_walk ON article (
    date_ms DESC, id DESC, source_id, title, link, published_ms, first_seen_ms, versions,
    updated_ms, gone_ms, revision, hidden_ms
) WHERE hidden_ms IS NULL;
