-- Forgets an event's uploads (FlowFlex said one is gone).
UPDATE flowflex_outbox_attachments SET asset_id = NULL, uploaded_at = NULL
WHERE event_id = $1
