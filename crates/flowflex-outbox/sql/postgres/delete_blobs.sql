-- Content stored for events that were not (a repeated idempotency key).
DELETE FROM flowflex_outbox_chunks WHERE blob = ANY($1)
