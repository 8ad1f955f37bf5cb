-- An event over the caps, inserted in the caller's transaction, taken
-- back in it (the trigger puts the count back; its attachment rows go
-- with it).
DELETE FROM flowflex_outbox_events WHERE id = $1
