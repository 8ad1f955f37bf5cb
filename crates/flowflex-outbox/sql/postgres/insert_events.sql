-- A batch of events, their attachment rows and the notice that wakes the
-- relays, in one statement (one round trip, and its own transaction when
-- not in the caller's). Events whose idempotency key is stored already
-- are skipped; the new ones' ids come back with their keys. The notice,
-- "<first id> <count>", is delivered when the transaction commits (never
-- if it rolls back).
WITH new AS (
    INSERT INTO flowflex_outbox_events
        (event, idempotency_key, body, slots, bytes, attachments, status, attempts,
         created_at, next_attempt_at, ordering_key)
    SELECT e.event, e.key, e.body, e.slots, e.bytes, e.attachments, $8, 0, $7, $7, e.ordering
    FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BYTEA[], $4::TEXT[], $5::BIGINT[], $6::INTEGER[],
                $17::TEXT[])
        AS e(event, key, body, slots, bytes, attachments, ordering)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, idempotency_key
), files AS (
    INSERT INTO flowflex_outbox_attachments (event_id, idx, filename, mime, size, used, blob)
    SELECT new.id, f.idx, f.filename, f.mime, f.size, f.used, f.blob
    FROM UNNEST($9::TEXT[], $10::INTEGER[], $11::TEXT[], $12::TEXT[], $13::BIGINT[],
                $14::BOOLEAN[], $15::TEXT[])
        AS f(key, idx, filename, mime, size, used, blob)
    JOIN new ON new.idempotency_key = f.key
), notice AS (
    SELECT pg_notify($16, MIN(id) || ' ' || COUNT(*)) FROM new HAVING COUNT(*) > 0
)
SELECT new.id, new.idempotency_key, (SELECT COUNT(*) FROM notice) AS notified FROM new
