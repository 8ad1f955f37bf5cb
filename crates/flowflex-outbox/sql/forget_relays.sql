-- Relays not seen for a day: killed without shutting down.
DELETE FROM flowflex_outbox_relays WHERE last_seen < $1
