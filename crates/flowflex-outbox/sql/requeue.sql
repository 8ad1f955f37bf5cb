-- A dead letter back in the queue, due now ($1), its age counted anew.
UPDATE flowflex_outbox_events SET status = $3, attempts = 0, created_at = $1,
    next_attempt_at = $1, finished_at = NULL, claimed_until = NULL, claimed_by = NULL
WHERE id = $2 AND status = $4
