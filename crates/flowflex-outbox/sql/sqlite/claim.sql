-- Claims up to $5 due events for relay $2 until $1 (wall clock); $3: the
-- outbox's clock now, $4: the wall clock now (lapsed claims). SQLite runs
-- one writer at a time: no SKIP LOCKED needed.
UPDATE flowflex_outbox_events
SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM flowflex_outbox_events
    WHERE status = $6 AND next_attempt_at <= $3
      AND (claimed_until IS NULL OR claimed_until < $4)
    ORDER BY next_attempt_at, id LIMIT $5)
RETURNING id, event, idempotency_key, body, slots, attempts, created_at, attachments
