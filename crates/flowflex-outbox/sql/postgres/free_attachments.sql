-- Deletes the attachment rows of delivered events ($1) and their content.
WITH gone AS (
    DELETE FROM flowflex_outbox_attachments WHERE event_id = ANY($1) RETURNING blob)
DELETE FROM flowflex_outbox_chunks WHERE blob IN (SELECT blob FROM gone WHERE blob IS NOT NULL)
