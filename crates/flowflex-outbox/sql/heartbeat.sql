-- A running relay says it is alive (at start, then with its leases).
INSERT INTO flowflex_outbox_relays
    (holder, name, host, pid, started_at, last_seen, lease_ms, listener)
VALUES ($1, $2, $3, $4, $5, $5, $6, $7)
ON CONFLICT (holder) DO UPDATE SET last_seen = $5, lease_ms = $6, listener = $7
