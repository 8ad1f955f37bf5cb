-- The attachment rows of claimed events ($1), in order.
SELECT event_id, idx, filename, mime, size, used, blob, asset_id, uploaded_at
FROM flowflex_outbox_attachments WHERE event_id = ANY($1) ORDER BY event_id, idx
