-- newsvault store, schema version 2: when `watch` runs each source next, and since when a
-- failing feed has been failing (for `status`'s flag). Additive only: version 1 stores gain a
-- table and a column, nothing else changes.

-- One row per source that `watch` has run: its next run, chosen after each run as the run's
-- start plus the source's interval, with jitter. `status` shows it as "next scheduled run".
CREATE TABLE schedule (
    source_id   TEXT PRIMARY KEY,           -- config `id` (defaults to the name)
    next_run_ms INTEGER NOT NULL,
    last_run_ms INTEGER NOT NULL            -- when the last run of it started
);

-- The first failed attempt of the feed's current run of failures; NULL while it works.
ALTER TABLE feed ADD COLUMN failing_since_ms INTEGER;
-- Stores from version 1 know only the last success: the failure began after it, or, if the feed
-- never worked, at the latest with the last attempt.
UPDATE feed SET failing_since_ms = coalesce(last_success_ms, last_attempt_ms) WHERE failures > 0;
