-- The outbox's notification channel: one per schema ($1, or the search
-- path's first), so that outboxes in other schemas of the database never
-- wake this one's relays.
SELECT 'flowflex_outbox_' || left(md5(COALESCE($1, current_schema())), 16)
