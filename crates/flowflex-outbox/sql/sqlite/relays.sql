-- The relays seen within their lease ($1: the wall clock now).
SELECT holder, name, host, pid, started_at, last_seen, listener
FROM flowflex_outbox_relays WHERE last_seen + lease_ms >= $1 ORDER BY holder
