-- When the earliest event not yet due becomes due (the due index finds it).
SELECT MIN(next_attempt_at) FROM flowflex_outbox_events
WHERE status = $1 AND next_attempt_at > $2
