-- A batch of events in one statement; those whose idempotency key is
-- stored already (or repeated in the batch) are skipped. Returns the new
-- rows' ids with their keys.
INSERT INTO flowflex_outbox_events
    (event, idempotency_key, body, slots, bytes, attachments, status, attempts,
     created_at, next_attempt_at)
SELECT e.event, e.key, e.body, e.slots, e.bytes, e.attachments, $8, 0, $7, $7
FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BYTEA[], $4::TEXT[], $5::BIGINT[], $6::INTEGER[])
    AS e(event, key, body, slots, bytes, attachments)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, idempotency_key
