-- newsvault store, schema version 9: a version whose content is its article's body with the
-- lines stripped and joined (`verbatim`) keeps no second copy of the text either, only what the
-- joining took out: `content_shape` (see src/content/lines.rs), with content '' and
-- content_is_body = 1 while it is the current version. When the body changes, the trigger of
-- version 5 copies the old body into `content`, which the shape then applies to. The feed's
-- content is the body (or `content`) put back in shape; a version without a shape is as before.
-- Additive only: earlier rows keep their content.
ALTER TABLE version ADD COLUMN content_shape TEXT;
