-- newsvault store, schema version 10: what a source read of a feed at its last ingest (a hash of
-- the source's id, its filters and `[fetch] max_items`). The feed's validators and body hash only
-- say the feed is unchanged for the same reading: a feed now read another way (a new source on
-- it, a filter taken away) is fetched whole and read again. NULL (stores from before) is no
-- known reading: such a feed is fetched whole and read once more.
ALTER TABLE feed ADD COLUMN reading TEXT;
