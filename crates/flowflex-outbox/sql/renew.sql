-- Extends the holder's claim, or takes a lapsed one up again if no other
-- relay has claimed the event since.
UPDATE flowflex_outbox_events SET claimed_until = $1
WHERE id = $2 AND claimed_by = $3 AND status = $4
