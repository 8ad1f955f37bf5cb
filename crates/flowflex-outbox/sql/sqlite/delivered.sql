-- Marks a turn's delivered events: $1 a JSON array of [id, delivered at]
-- (joined by primary key, one lookup per event).
UPDATE flowflex_outbox_events SET status = $2, finished_at = d.at,
    claimed_until = NULL, last_error = NULL
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS at
      FROM json_each($1)) AS d
WHERE flowflex_outbox_events.id = d.id
