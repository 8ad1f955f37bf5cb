SELECT status FROM flowflex_outbox_events WHERE id = $1
