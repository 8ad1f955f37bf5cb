-- Every running relay's heartbeat: which relays are alive.
CREATE TABLE IF NOT EXISTS flowflex_outbox_relays (
    holder TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    lease_ms INTEGER NOT NULL,
    listener INTEGER
);
