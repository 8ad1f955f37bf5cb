-- A running relay says it is alive (at start, then with its leases): $5
-- when it started, $8 now (wall clock).
INSERT INTO flowflex_outbox_relays
    (holder, name, host, pid, started_at, last_seen, lease_ms, listener)
VALUES ($1, $2, $3, $4, $5, $8, $6, $7)
ON CONFLICT (holder) DO UPDATE SET last_seen = $8, lease_ms = $6, listener = $7
