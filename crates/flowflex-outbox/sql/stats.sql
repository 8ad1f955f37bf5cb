SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes,
       MIN(created_at) AS oldest
FROM flowflex_outbox_events GROUP BY status
