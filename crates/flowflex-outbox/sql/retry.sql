-- Another attempt at $1, only while the relay that made this one ($4)
-- still holds the claim.
UPDATE flowflex_outbox_events SET next_attempt_at = $1, last_error = $2,
    claimed_until = NULL, claimed_by = NULL
WHERE id = $3 AND claimed_by = $4 AND status = $5
