-- The outbox: one row per event, one per attachment, the attachments'
-- content in chunks so any replica can deliver. Times are milliseconds since
-- the Unix epoch: `created_at`, `next_attempt_at` and `uploaded_at` on the
-- outbox's clock, `claimed_until` on the wall clock.
CREATE TABLE IF NOT EXISTS flowflex_outbox_events (
    id BIGSERIAL PRIMARY KEY,
    event TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    body BYTEA NOT NULL,
    slots TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    claimed_by TEXT,
    last_error TEXT,
    finished_at BIGINT
);
CREATE INDEX IF NOT EXISTS flowflex_outbox_due
    ON flowflex_outbox_events (status, next_attempt_at);

CREATE TABLE IF NOT EXISTS flowflex_outbox_attachments (
    event_id BIGINT NOT NULL REFERENCES flowflex_outbox_events (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    filename TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    used BOOLEAN NOT NULL,
    blob TEXT,
    asset_id TEXT,
    uploaded_at BIGINT,
    PRIMARY KEY (event_id, idx)
);

CREATE TABLE IF NOT EXISTS flowflex_outbox_chunks (
    event_id BIGINT NOT NULL,
    idx INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (event_id, idx, seq),
    FOREIGN KEY (event_id, idx) REFERENCES flowflex_outbox_attachments (event_id, idx) ON DELETE CASCADE
);
