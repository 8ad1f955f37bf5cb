-- Pending events ($1) held back by a dead letter ($2) of their ordering
-- key: from the dead letters (few, by the status index) to their keys'
-- later events (by the ordering index).
SELECT COUNT(*) FROM flowflex_outbox_events e
JOIN (SELECT ordering_key, MIN(id) AS first_dead FROM flowflex_outbox_events
      WHERE status = $2 AND ordering_key IS NOT NULL GROUP BY ordering_key) d
  ON e.ordering_key = d.ordering_key AND e.id > d.first_dead
WHERE e.status = $1
