SELECT id FROM flowflex_outbox_events WHERE idempotency_key = $1
