-- Deletes the attachment rows of delivered events ($1, a JSON array of
-- ids); their spool files are removed once this commits.
DELETE FROM flowflex_outbox_attachments
WHERE event_id IN (SELECT value FROM json_each($1))
RETURNING blob
