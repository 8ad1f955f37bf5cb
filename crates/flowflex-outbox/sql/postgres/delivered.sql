-- Marks a turn's delivered events: ids $1, when each was delivered $2.
UPDATE flowflex_outbox_events e SET status = $3, finished_at = d.at,
    claimed_until = NULL, last_error = NULL
FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS d(id, at)
WHERE e.id = d.id
