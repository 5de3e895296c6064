-- newsvault store, schema version 5: a version whose content is its article's body keeps no
-- second copy of it. Imported posts are the case (the content of an imported post is its body):
-- their version rows hold '' with content_is_body = 1, and readers take the article's body.
-- Additive only: rows of earlier versions keep their content and content_is_body = 0.
ALTER TABLE version ADD COLUMN content_is_body INTEGER NOT NULL DEFAULT 0;

-- A body changes later (a new version, full text, local images, rules re-applied): the versions
-- that were that body keep it, whichever writer changes it.
CREATE TRIGGER version_content_kept
AFTER UPDATE OF body ON article
WHEN OLD.body IS NOT NEW.body
BEGIN
    UPDATE version SET content = OLD.body, content_is_body = 0
    WHERE article_id = OLD.id AND content_is_body = 1;
END;
