-- What every relay reports at its heartbeat (the `metrics` feature),
-- cheap however long the queue: the pending events as the triggers count
-- them, the dead letters ($1) by the due index (status first), the oldest
-- pending event by the pending-age index. That index is partial, and a
-- partial index serves only a query that states its predicate as it is
-- written in the migration: hence 'pending' here, not a parameter (a test
-- holds it to `Status::Pending`).
SELECT (SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT) FROM flowflex_outbox_pending) AS pending,
       (SELECT COUNT(*) FROM flowflex_outbox_events WHERE status = $1) AS dead,
       (SELECT MIN(created_at) FROM flowflex_outbox_events WHERE status = 'pending') AS oldest
