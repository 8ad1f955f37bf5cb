-- Claims up to $5 due events for relay $2 until $1 (wall clock); $3: the
-- outbox's clock now, $4: the wall clock now (lapsed claims). An event
-- with an ordering key waits while an earlier event of its key is pending
-- ($6) or dead ($7). On PostgreSQL the line marked `-- lock` reads
-- `FOR UPDATE SKIP LOCKED`: relays claim side by side without waiting on
-- each other or taking the same row (SQLite runs one writer at a time and
-- needs no lock).
UPDATE flowflex_outbox_events
SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM flowflex_outbox_events e
    WHERE status = $6 AND next_attempt_at <= $3
      AND (claimed_until IS NULL OR claimed_until < $4)
      AND (ordering_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM flowflex_outbox_events o
          WHERE o.ordering_key = e.ordering_key AND o.id < e.id AND o.status IN ($6, $7)))
    ORDER BY next_attempt_at, id LIMIT $5
    -- lock
    )
RETURNING id, event, idempotency_key, body, slots, attempts, created_at, attachments,
    body_format
