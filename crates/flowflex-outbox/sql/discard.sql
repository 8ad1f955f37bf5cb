-- Deletes a dead letter (its attachment rows go with it; their content is
-- collected as orphans).
DELETE FROM flowflex_outbox_events WHERE id = $1 AND status = $2
