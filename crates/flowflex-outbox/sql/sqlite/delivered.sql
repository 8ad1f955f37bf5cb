-- Marks a turn's delivered events: $1 a JSON array of [id, delivered at].
UPDATE flowflex_outbox_events SET status = $2,
    finished_at = (SELECT json_extract(d.value, '$[1]') FROM json_each($1) AS d
                   WHERE json_extract(d.value, '$[0]') = flowflex_outbox_events.id),
    claimed_until = NULL, last_error = NULL
WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each($1))
