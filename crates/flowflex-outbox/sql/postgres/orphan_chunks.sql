-- Content no attachment row names, stored before $1: left by an enqueue
-- that failed or crashed between storing it and committing its rows.
DELETE FROM flowflex_outbox_chunks c
WHERE c.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM flowflex_outbox_attachments a WHERE a.blob = c.blob)
