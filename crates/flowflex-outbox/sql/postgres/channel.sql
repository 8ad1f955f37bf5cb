-- The outbox's notification channel: one per schema, so that outboxes in
-- other schemas of the database never wake this one's relays.
SELECT 'flowflex_outbox_' || left(md5(current_schema()), 16)
