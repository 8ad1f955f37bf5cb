-- Records an upload, so that a later attempt reuses it while it is fresh.
UPDATE flowflex_outbox_attachments SET asset_id = $1, uploaded_at = $2
WHERE event_id = $3 AND idx = $4
