-- Per-key order: events with one key are delivered one at a time, in id
-- order; a pending or dead event holds back the later events of its key.
-- `body_format` as on PostgreSQL (always 0 here: no SQL enqueue).
ALTER TABLE flowflex_outbox_events ADD COLUMN ordering_key TEXT;
ALTER TABLE flowflex_outbox_events ADD COLUMN body_format INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS flowflex_outbox_ordering
    ON flowflex_outbox_events (ordering_key, id) WHERE ordering_key IS NOT NULL;
