INSERT INTO flowflex_outbox_attachments (event_id, idx, filename, mime, size, used, blob)
VALUES ($1, $2, $3, $4, $5, $6, $7)
