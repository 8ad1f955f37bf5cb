-- One event; nothing if its idempotency key is stored already.
INSERT INTO flowflex_outbox_events
    (event, idempotency_key, body, slots, bytes, attachments, status, attempts,
     created_at, next_attempt_at, ordering_key)
VALUES ($1, $2, $3, $4, $5, $6, $8, 0, $7, $7, $9)
ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
