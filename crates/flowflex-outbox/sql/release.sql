-- Gives a relay's claims back at shutdown.
UPDATE flowflex_outbox_events SET claimed_until = NULL, claimed_by = NULL
WHERE claimed_by = $1 AND status = $2
