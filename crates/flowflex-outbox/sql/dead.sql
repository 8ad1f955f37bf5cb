-- A dead letter since $1, only while the relay that made the last attempt
-- ($4) still holds the claim.
UPDATE flowflex_outbox_events SET status = $6, finished_at = $1, last_error = $2,
    claimed_until = NULL, claimed_by = NULL
WHERE id = $3 AND claimed_by = $4 AND status = $5
