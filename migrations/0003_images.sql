-- newsvault store, schema version 3: images kept in the archive (`images = "download"`).

-- Every image downloaded, by the URL it came from.
CREATE TABLE image (
    url        TEXT PRIMARY KEY,
    file       TEXT NOT NULL,                -- under the archive: assets/images/<sha256>.<ext>
    bytes      INTEGER NOT NULL,
    fetched_ms INTEGER NOT NULL
);

-- Per article: 1 once all its images are local; failed rounds, for the bounded retries.
ALTER TABLE article ADD COLUMN images_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE article ADD COLUMN image_tries INTEGER NOT NULL DEFAULT 0;
