SELECT id, idempotency_key FROM flowflex_outbox_events WHERE idempotency_key = ANY($1)
