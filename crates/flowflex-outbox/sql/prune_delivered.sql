-- Up to $2 delivered events that finished before $1, oldest first. (A
-- delivered event's next_attempt_at is at most its finished_at: the
-- redundant bound lets the due index find them.)
DELETE FROM flowflex_outbox_events WHERE id IN (
    SELECT id FROM flowflex_outbox_events
    WHERE status = $3 AND next_attempt_at < $1 AND finished_at < $1
    ORDER BY next_attempt_at LIMIT $2)
