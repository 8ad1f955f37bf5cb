-- The relays seen within their lease ($1: the wall clock now) whose
-- listening connection is still open: a relay killed outright drops its
-- connection at once, long before its lease runs out.
SELECT holder, name, host, pid, started_at, last_seen, listener
FROM flowflex_outbox_relays r
WHERE last_seen + lease_ms >= $1
  AND (listener IS NULL OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.listener))
ORDER BY holder
