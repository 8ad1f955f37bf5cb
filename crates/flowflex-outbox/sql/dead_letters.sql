SELECT id, event, idempotency_key, attempts, created_at, finished_at, last_error, ordering_key
FROM flowflex_outbox_events WHERE status = $1 ORDER BY id
