-- The outbox: one row per event, one per attachment. Times are
-- milliseconds since the Unix epoch: `created_at`, `next_attempt_at` and
-- `uploaded_at` on the outbox's clock, `claimed_until` on the wall clock.
CREATE TABLE IF NOT EXISTS flowflex_outbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    slots TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    claimed_by TEXT,
    last_error TEXT,
    finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS flowflex_outbox_due
    ON flowflex_outbox_events (status, next_attempt_at);

CREATE TABLE IF NOT EXISTS flowflex_outbox_attachments (
    event_id INTEGER NOT NULL REFERENCES flowflex_outbox_events (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    filename TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    used INTEGER NOT NULL,
    -- The spool file holding the content, relative to the spool directory.
    blob TEXT,
    asset_id TEXT,
    uploaded_at INTEGER,
    PRIMARY KEY (event_id, idx)
);
