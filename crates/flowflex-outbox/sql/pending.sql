-- The pending events and bytes as the triggers keep them: never a read of
-- the queue itself.
SELECT CAST(COALESCE(SUM(events), 0) AS BIGINT) AS n,
       CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS bytes
FROM flowflex_outbox_pending
