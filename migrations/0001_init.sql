-- newsvault store, schema version 1.
-- Times are milliseconds since 1970 (UTC). Text lists (tags, categories) are JSON arrays.

-- A configured source, keyed by its config `id` (which defaults to its name).
CREATE TABLE source (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,            -- the config `name` last seen, shown in lists/search
    first_seen_ms INTEGER NOT NULL
);

-- One feed URL and what the last fetches of it said.
CREATE TABLE feed (
    url             TEXT PRIMARY KEY,
    source_id       TEXT NOT NULL REFERENCES source(id),
    etag            TEXT,                   -- ETag of the last 200/304, sent as If-None-Match
    last_modified   TEXT,                   -- Last-Modified, sent as If-Modified-Since
    body_hash       TEXT,                   -- SHA-256 of the last body ingested: same body, no parse
    last_attempt_ms INTEGER,
    last_success_ms INTEGER,
    last_status     INTEGER,                -- HTTP status of the last answer, if any
    failures        INTEGER NOT NULL DEFAULT 0,  -- consecutive failed runs
    last_error      TEXT,
    moved_to        TEXT                    -- target of a permanent redirect
);

-- An article: one identity within a source, whatever feed or run it came from.
CREATE TABLE article (
    id            INTEGER PRIMARY KEY,
    source_id     TEXT NOT NULL REFERENCES source(id),
    key           TEXT NOT NULL,            -- url:… (canonical), guid:… or hash:…
    guid          TEXT,
    link          TEXT NOT NULL,            -- display link (front matter `from:`)
    title         TEXT NOT NULL,            -- current title
    published_ms  INTEGER,                  -- the feed's date, as given (the <!--ms--> line)
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    date_ms       INTEGER NOT NULL,         -- front matter `date:`: min(published, first seen)
    author        TEXT NOT NULL,            -- front matter `author:` (the source name at first sight)
    tags          TEXT NOT NULL,            -- front matter `tags:`
    categories    TEXT NOT NULL,            -- front matter `categories:`
    body          TEXT NOT NULL,            -- the post body, after the source's content rules
    summary       TEXT NOT NULL,            -- plain text, first 100 characters (search.json desc)
    version_hash  TEXT NOT NULL,            -- hash of the current version
    versions      INTEGER NOT NULL DEFAULT 1,
    updated_ms    INTEGER,                  -- when the current version was first seen, if edited
    post_name     TEXT,                     -- file name under _posts/, chosen once
    post_key      TEXT UNIQUE,              -- post_name lower-cased: names unique on any file system
    post_dirty    INTEGER NOT NULL DEFAULT 1,  -- 1: the post must be (re)written
    gone_ms       INTEGER,                  -- since when the page is gone at the source
    checked_ms    INTEGER,                  -- when `check` last fetched the page
    hidden_ms     INTEGER,                  -- hidden from every output since (takedown request)
    hidden_reason TEXT,
    imported_head TEXT,                     -- an imported post's text up to its body, kept as is
    imported_tail TEXT,                     -- and after it, so republishing is byte for byte
    fulltext      TEXT,                     -- the article's page content (`fulltext`), as extracted
    fulltext_tries INTEGER NOT NULL DEFAULT 0,  -- failed attempts to get it
    fulltext_error TEXT,
    UNIQUE (source_id, key)
);
CREATE INDEX article_dirty ON article (id) WHERE post_dirty = 1;
CREATE INDEX article_source_date ON article (source_id, date_ms DESC);
CREATE INDEX article_date ON article (date_ms DESC);

-- Every distinct version of an article: what the source published, as fetched.
CREATE TABLE version (
    id            INTEGER PRIMARY KEY,
    article_id    INTEGER NOT NULL REFERENCES article(id),
    hash          TEXT NOT NULL,            -- of title and line-joined content
    title         TEXT NOT NULL,
    content       TEXT NOT NULL,            -- the feed's content, untouched
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    UNIQUE (article_id, hash)
);

-- What happened to an article, and when.
CREATE TABLE event (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES article(id),
    kind       TEXT NOT NULL,               -- first_seen, changed, …
    at_ms      INTEGER NOT NULL,
    detail     TEXT
);
CREATE INDEX event_article ON event (article_id, at_ms);

-- Which articles each feed carried the last time it was parsed, to notice an article leaving
-- the feed and coming back.
CREATE TABLE presence (
    feed_url   TEXT NOT NULL,
    article_id INTEGER NOT NULL REFERENCES article(id),
    in_feed    INTEGER NOT NULL,
    PRIMARY KEY (feed_url, article_id)
);
CREATE INDEX presence_feed ON presence (feed_url, in_feed);

-- Other file names of an article (an imported archive may hold one article under several
-- names): recorded, reserved, never written.
CREATE TABLE alias (
    name       TEXT PRIMARY KEY,
    name_key   TEXT NOT NULL UNIQUE,        -- name lower-cased, like article.post_key
    article_id INTEGER NOT NULL REFERENCES article(id)
);
